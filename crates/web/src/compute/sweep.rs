//! `/api/sweep`: the stability map, computed by `gradsheet_diagnose::sweep` as
//! `gradsheet sweep` computes it (one native kernel per kind of rule, cells in parallel),
//! in the command line's vocabulary of settings.

use std::time::Instant;

use gradsheet_diagnose::sweep::{sweep_until, Axis, Setting};
use gradsheet_train::{Record, TrainConfig, Trainer};

use super::{dataset, group, init_values, model, optimizer, trainer};
use crate::dto::*;
use crate::work::{Deadline, Lane, Work};
use crate::{ApiError, Limits};

impl Work for SweepSpec {
    /// Maps run many training runs: heavy, however small this one is.
    fn lane(&self, _: &Limits) -> Lane {
        Lane::Heavy
    }
}

/// The answer of `/api/sweep`: the final error of a run at each cell of a grid of settings.
pub fn sweep(spec: &SweepSpec, lim: &Limits, dl: &Deadline) -> Result<SweepOut, ApiError> {
    let t0 = Instant::now();
    let data = dataset(&spec.data, lim)?;
    let m = model(spec.model_ref(), &data, lim)?;
    let init = init_values(&m, &spec.init)?;
    let trainer = trainer(&m, &data)?;
    if spec.epochs == 0 {
        return Err(ApiError::bad("epochs must be at least 1", "epochs"));
    }
    let mut base = TrainConfig::new(optimizer(&spec.optimizer, &spec.hyper)?, spec.epochs);
    // What `diagnose::sweep` records of each run (it judges runs by their epochs).
    base.record = Record::Epochs;
    let x = axis(&spec.x, "x", lim)?;
    // A map of one row: a y axis that changes nothing (every initial value times 1).
    let y = match &spec.y {
        Some(a) => axis(a, "y", lim)?,
        None => Axis {
            setting: Setting::InitScale,
            values: vec![1.0],
        },
    };
    check_budget(&trainer, &init, &base, &x, &y, lim)?;
    let stop = || dl.passed();
    let map = sweep_until(&trainer, &init, &base, &x, &y, &stop).map_err(|e| {
        if dl.passed() {
            dl.exceeded()
        } else {
            ApiError::bad(e, "sweep")
        }
    })?;
    // Row by row, `[j][i]` at `(x[i], y[j])`.
    let nx = x.values.len();
    let lines = map.cells.chunks(nx);
    let z = lines
        .clone()
        .map(|r| {
            r.iter()
                .map(|c| match c.diverged_at {
                    Some(_) => Num(f64::INFINITY),
                    None => Num(c.final_error),
                })
                .collect()
        })
        .collect();
    let diverged = lines
        .clone()
        .map(|r| r.iter().map(|c| c.diverged_at.unwrap_or(0)).collect())
        .collect();
    let class = lines
        .map(|r| r.iter().map(|c| c.class.name()).collect())
        .collect();
    let mut ws = trainer.compiled.workspace();
    Ok(SweepOut {
        x_name: spec.x.name.clone(),
        z,
        diverged,
        class,
        x: x.values,
        y_name: spec.y.as_ref().map(|a| a.name.clone()),
        y: if spec.y.is_some() {
            y.values
        } else {
            vec![0.0]
        },
        initial_error: Num(trainer.mean_error(&mut ws, &init)),
        compute_ms: t0.elapsed().as_secs_f64() * 1e3,
    })
}

/// An axis of the request as the command line's `--x-axis` text would give it
/// (`lr=1e-6..0.01:48:log`), so that the values are exactly `gradsheet sweep`'s.
fn axis(a: &AxisSpec, field: &str, lim: &Limits) -> Result<Axis, ApiError> {
    if a.n == 0 || a.n > lim.max_sweep_axis {
        return Err(ApiError::bad(
            format!(
                "an axis has 1 to {} values, not {}",
                lim.max_sweep_axis, a.n
            ),
            field,
        ));
    }
    if !(a.lo.is_finite() && a.hi.is_finite()) {
        return Err(ApiError::bad(
            format!("the range {}..{} of {} is not finite", a.lo, a.hi, a.name),
            field,
        ));
    }
    // `{:?}` writes the shortest text that reads back as the same f64.
    let spacing = if a.log { "log" } else { "lin" };
    let text = format!("{}={:?}..{:?}:{}:{spacing}", a.name, a.lo, a.hi, a.n);
    Axis::parse(&text).map_err(|e| ApiError::bad(e, field))
}

/// Refuses a map beyond the step budget before anything runs (a larger one when every
/// cell runs on native code), and a setting an axis gives a value the optimizer refuses,
/// naming that axis.
fn check_budget(
    trainer: &Trainer,
    init: &[f64],
    base: &TrainConfig,
    x: &Axis,
    y: &Axis,
    lim: &Limits,
) -> Result<(), ApiError> {
    let n = trainer.n_rows;
    let (mut total, mut native) = (0usize, true);
    for &vy in &y.values {
        for &vx in &x.values {
            let mut cfg = base.clone();
            let mut p = init.to_vec();
            // In `diagnose::sweep`'s order: y, then x.
            for (axis, v, field) in [(y, vy, "y"), (x, vx, "x")] {
                axis.setting
                    .apply(v, &mut cfg, &mut p)
                    .map_err(|e| ApiError::bad(e, field))?;
                cfg.optimizer
                    .validate()
                    .map_err(|e| ApiError::bad(e.to_string(), field))?;
            }
            let steps_per_epoch = n.div_ceil(cfg.batch_size.clamp(1, n.max(1)));
            total = total.saturating_add(cfg.epochs.saturating_mul(steps_per_epoch));
            native &= gradsheet_jit::unsupported(trainer, &cfg).is_none();
        }
    }
    let max = if native {
        lim.max_native_steps
    } else {
        lim.max_steps
    };
    if total > max {
        return Err(ApiError::bad(
            format!(
                "a map of {} runs would take {} steps; the web app runs at most {} per request (`gradsheet sweep` has no such limit)",
                x.values.len() * y.values.len(),
                group(total),
                group(max)
            ),
            "epochs",
        ));
    }
    Ok(())
}

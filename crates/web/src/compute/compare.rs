//! `/api/compare`: several optimizers from one start, their error curves and paths.

use std::time::Instant;

use gradsheet_train::{Record, TrainConfig};

use super::{
    check_steps, contours::contours, dataset, init_values, model, optimizer, rows_of, run_lane,
    stop_out, thin, train_until, trainer, MAX_POINTS,
};
use crate::dto::*;
use crate::work::{Deadline, Lane, Work};
use crate::{ApiError, Limits};

impl Work for CompareSpec {
    fn lane(&self, _: &Limits) -> Lane {
        let rows = rows_of(&self.data);
        let steps = self
            .epochs
            .saturating_mul(rows)
            .saturating_mul(self.runs.len());
        run_lane(self.model_ref(), steps, rows, self.contours.as_ref())
    }
}

/// The answer of `/api/compare`: each optimizer's error curve and path from one start.
pub fn compare(spec: &CompareSpec, lim: &Limits, dl: &Deadline) -> Result<CompareOut, ApiError> {
    let t0 = Instant::now();
    if spec.runs.is_empty() || spec.runs.len() > lim.max_runs {
        return Err(ApiError::bad(
            format!("compare 1 to {} optimizers", lim.max_runs),
            "runs",
        ));
    }
    let data = dataset(&spec.data, lim)?;
    let m = model(spec.model_ref(), &data, lim)?;
    let init = init_values(&m, &spec.init)?;
    let trainer = trainer(&m, &data)?;
    check_steps(spec.epochs, trainer.n_rows, spec.runs.len(), lim)?;
    // Every optimizer first: a bad hyperparameter is answered before anything runs.
    let opts = spec
        .runs
        .iter()
        .map(|r| optimizer(&r.optimizer, &r.hyper))
        .collect::<Result<Vec<_>, _>>()?;
    let mut runs = Vec::new();
    let mut paths = Vec::new();
    let mut ws = trainer.compiled.workspace();
    for opt in opts {
        let mut cfg = TrainConfig::new(opt, spec.epochs);
        cfg.record = Record::Epochs;
        let trace = train_until(&trainer, &init, &cfg, dl)?;
        let mut path = vec![init.clone()];
        path.extend(thin(trace.epochs.len(), MAX_POINTS).map(|i| trace.epochs[i].params.clone()));
        let curve = thin(trace.epochs.len(), MAX_POINTS)
            .map(|i| Num(trace.epochs[i].mean_error))
            .collect();
        runs.push(CompareRun {
            label: cfg.optimizer.to_string(),
            curve,
            path: path.iter().map(|p| nums(p)).collect(),
            stop: stop_out(&trace.stop, trainer.n_rows),
            final_params: nums(&trace.final_params),
            final_error: Num(trainer.mean_error(&mut ws, &trace.final_params)),
        });
        paths.push((path, trace.final_params));
    }
    dl.check()?;
    let contours = match &spec.contours {
        Some(c) if m.params.len() >= 2 => {
            let refs: Vec<&[Vec<f64>]> = paths.iter().map(|(p, _)| p.as_slice()).collect();
            let at = paths
                .first()
                .map(|(_, f)| f.clone())
                .unwrap_or(init.clone());
            Some(contours(&trainer, c, &refs, &at, lim)?)
        }
        _ => None,
    };
    Ok(CompareOut {
        params: m.params.clone(),
        runs,
        contours,
        compute_ms: t0.elapsed().as_secs_f64() * 1e3,
    })
}

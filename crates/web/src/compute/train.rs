//! `/api/train`: a run's step rows, path, epoch summaries, how it stopped, the diagnosis
//! of a run that went wrong, and the error surface around its path.

use std::time::Instant;

use gradsheet_engine::{Dataset, Scheme};
use gradsheet_train::{Record, Stop, Trace, TrainConfig, Trainer};

use super::{
    check_steps, contours::contours, dataset, derivatives, group, init_values, model, optimizer,
    rows_of, run_lane, stop_out, thin, train_until, trainer, MAX_POINTS,
};
use crate::dto::*;
use crate::work::{Deadline, Lane, Work};
use crate::{ApiError, Limits};

/// Runs up to this many steps record every step (a graddesc-size run is 2,900); longer
/// runs record epoch summaries and replay only the epoch shown.
pub(super) const RECORD_STEPS_LIMIT: usize = 200_000;

/// A run's inputs, checked: what `/api/train` and the downloads start from.
pub(super) struct Prepared {
    pub data: Dataset,
    pub trainer: Trainer,
    pub init: Vec<f64>,
    /// The optimizer, the epochs, the batch and the finite differences asked for; what is
    /// recorded is left to the caller.
    pub cfg: TrainConfig,
    pub steps_per_epoch: usize,
    /// Steps of the whole run.
    pub total: usize,
}

impl Prepared {
    pub fn new(spec: &TrainSpec, lim: &Limits) -> Result<Prepared, ApiError> {
        let data = dataset(&spec.data, lim)?;
        let m = model(spec.model_ref(), &data, lim)?;
        let init = init_values(&m, &spec.init)?;
        let opt = optimizer(&spec.optimizer, &spec.hyper)?;
        let trainer = trainer(&m, &data)?;
        let n = trainer.n_rows;
        let batch = if spec.batch == 0 || spec.batch > n {
            n
        } else {
            spec.batch
        };
        let steps_per_epoch = n.div_ceil(batch);
        let total = check_steps(spec.epochs, steps_per_epoch, 1, lim)?;
        let mut cfg = TrainConfig::new(opt, spec.epochs);
        cfg.batch_size = batch;
        if spec.show_fd {
            cfg.show_fd = Some((Scheme::Forward, 0.01));
        }
        Ok(Prepared {
            data,
            trainer,
            init,
            cfg,
            steps_per_epoch,
            total,
        })
    }
}

impl Work for TrainSpec {
    fn lane(&self, _: &Limits) -> Lane {
        let rows = rows_of(&self.data);
        let batch = if self.batch == 0 || self.batch > rows {
            rows
        } else {
            self.batch
        };
        let steps = self.epochs.saturating_mul(rows.div_ceil(batch.max(1)));
        run_lane(self.model_ref(), steps, rows, self.contours.as_ref())
    }
}

/// The answer of `/api/train`.
pub fn train(spec: &TrainSpec, lim: &Limits, dl: &Deadline) -> Result<TrainOut, ApiError> {
    let t0 = Instant::now();
    let p = Prepared::new(spec, lim)?;
    let mut cfg = p.cfg.clone();
    let record_all = p.total <= RECORD_STEPS_LIMIT;
    cfg.record = if record_all {
        Record::Steps
    } else {
        Record::Epochs
    };
    let trainer = &p.trainer;
    let trace = train_until(trainer, &p.init, &cfg, dl)?;
    let stop = stop_out(&trace.stop, p.steps_per_epoch);
    let epochs_run = trace.epochs.len() + usize::from(matches!(trace.stop, Stop::Diverged { .. }));
    // The epoch whose rows the table shows: asked for, else where the run went wrong, else the first.
    let view = spec
        .view_epoch
        .unwrap_or_else(|| stop.epoch.unwrap_or(1))
        .clamp(1, epochs_run.max(1));
    let steps = if record_all {
        steps_of(&trace, view, p.steps_per_epoch, lim)
    } else {
        replayed_steps(&p, &cfg, &trace, view, lim, dl)?
    };
    let (path, path_steps) = path_of(&trace, &p.init, record_all);
    let mut ws = trainer.compiled.workspace();
    let final_error = trainer.mean_error(&mut ws, &trace.final_params);
    let initial_error = trainer.mean_error(&mut ws, &p.init);
    dl.check()?;
    // A one-parameter model has no surface to draw: the chart says so, the run still runs.
    let contours = match &spec.contours {
        Some(c) if trainer.model.params.len() >= 2 => {
            Some(contours(trainer, c, &[&path], &trace.final_params, lim)?)
        }
        _ => None,
    };
    dl.check()?;
    let diagnosis = super::diagnosis::diagnosis(trainer, &p.init, &cfg, &trace, &stop, dl);
    let m = &trainer.model;
    Ok(TrainOut {
        params: m.params.clone(),
        columns: m.columns.clone(),
        state_vars: trace.layout.state_vars.clone(),
        optimizer: cfg.optimizer.to_string(),
        derivatives: derivatives(m, lim, dl)?,
        steps,
        path: path.iter().map(|p| nums(p)).collect(),
        path_steps,
        epochs: epochs_out(&trace),
        epochs_run,
        stop,
        diagnosis,
        final_params: nums(&trace.final_params),
        final_error: Num(final_error),
        initial_error: Num(initial_error),
        steps_taken: trace.steps_taken,
        n_rows: trainer.n_rows,
        steps_per_epoch: p.steps_per_epoch,
        compute_ms: t0.elapsed().as_secs_f64() * 1e3,
        contours,
    })
}

/// The rows of epoch `view` of a run too long to record every step: runs are
/// deterministic, so replaying the first `view` epochs reproduces them, when that is
/// short enough.
fn replayed_steps(
    p: &Prepared,
    cfg: &TrainConfig,
    trace: &Trace,
    view: usize,
    lim: &Limits,
    dl: &Deadline,
) -> Result<StepsOut, ApiError> {
    let spe = p.steps_per_epoch;
    if view.saturating_mul(spe) <= RECORD_STEPS_LIMIT {
        let mut c = cfg.clone();
        c.epochs = view;
        c.record = Record::Steps;
        let replay = train_until(&p.trainer, &p.init, &c, dl)?;
        return Ok(steps_of(&replay, view, spe, lim));
    }
    Ok(StepsOut {
        epoch: 0,
        first_step: 0,
        headers: trace.layout.headers(),
        rows: Vec::new(),
        data_rows: Vec::new(),
        truncated: false,
        note: Some(format!(
            "the rows of epoch {view} are not shown: that would replay {} steps",
            group(view.saturating_mul(spe))
        )),
    })
}

/// The recorded step rows of epoch `view`.
fn steps_of(trace: &Trace, view: usize, spe: usize, lim: &Limits) -> StepsOut {
    let first = (view - 1) * spe;
    let last = (first + spe).min(trace.len());
    let shown = last.saturating_sub(first).min(lim.max_rows_shown);
    let mut rows = Vec::with_capacity(shown);
    let mut data_rows = Vec::with_capacity(shown);
    let w = trace.layout.width();
    for i in first..first + shown {
        rows.push(nums(&trace.values[i * w..(i + 1) * w]));
        data_rows.push(trace.meta[i].1 as usize + 1);
    }
    StepsOut {
        epoch: view,
        first_step: first + 1,
        headers: trace.layout.headers(),
        rows,
        data_rows,
        truncated: last.saturating_sub(first) > shown,
        note: None,
    }
}

/// The parameters along the run (before each step and at the end, or at each epoch's
/// end when steps were not recorded), thinned, and each point's step and error.
fn path_of(trace: &Trace, init: &[f64], record_all: bool) -> (Vec<Vec<f64>>, Vec<(usize, Num)>) {
    let mut path_steps = Vec::new();
    if record_all {
        let mut p = Vec::new();
        for i in thin(trace.len(), MAX_POINTS) {
            let s = trace.step(i);
            p.push(s.params.to_vec());
            path_steps.push((s.step, Num(s.error)));
        }
        p.push(trace.final_params.clone());
        (p, path_steps)
    } else {
        let mut p = vec![init.to_vec()];
        p.extend(thin(trace.epochs.len(), MAX_POINTS).map(|i| trace.epochs[i].params.clone()));
        (p, path_steps)
    }
}

/// The epoch summaries, thinned.
fn epochs_out(trace: &Trace) -> Vec<EpochOut> {
    thin(trace.epochs.len(), MAX_POINTS)
        .map(|i| {
            let e = &trace.epochs[i];
            EpochOut {
                epoch: e.epoch,
                mean_error: Num(e.mean_error),
                sheet_rmse: Num(e.sheet_rmse),
                params: nums(&e.params),
                grad_norms: nums(&e.grad_norms),
                lr: Num(e.lr),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn run(spec: &TrainSpec) -> Result<TrainOut, ApiError> {
        train(
            spec,
            &Limits::default(),
            &Deadline::after(Duration::from_secs(60)),
        )
    }

    #[test]
    fn graddesc_run_has_sheet_rows_and_contours() {
        let spec = TrainSpec {
            epochs: 100,
            hyper: HyperSpec::default().with("lr", 1e-4),
            contours: Some(ContourSpec::default()),
            ..TrainSpec::default()
        };
        let out = run(&spec).unwrap();
        assert_eq!(out.steps.rows.len(), 29);
        assert_eq!(out.steps_taken, 2900);
        assert_eq!(out.path.len(), 2901);
        let c = out.contours.unwrap();
        assert_eq!(c.z.len(), 48);
        assert_eq!(out.stop.kind, "completed");
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        let big = TrainSpec {
            epochs: 1_000_000_000_000,
            ..TrainSpec::default()
        };
        assert_eq!(run(&big).unwrap_err().body.field.as_deref(), Some("epochs"));
        let neg = TrainSpec {
            hyper: HyperSpec::default().with("lr", -1.0),
            ..TrainSpec::default()
        };
        let e = run(&neg).unwrap_err();
        assert_eq!(e.body.field.as_deref(), Some("lr"));
        let broken = TrainSpec {
            model: "a*x+".into(),
            ..TrainSpec::default()
        };
        let e = run(&broken).unwrap_err();
        assert_eq!(e.body.span, Some([4, 4]));
        assert!(e.body.caret.unwrap().contains('^'));
    }

    #[test]
    fn divergence_is_reported_with_its_epoch() {
        let spec = TrainSpec {
            epochs: 20,
            hyper: HyperSpec::default().with("lr", 1e-2),
            ..TrainSpec::default()
        };
        let out = run(&spec).unwrap();
        assert_eq!(out.stop.kind, "diverged");
        assert!(out.diagnosis.is_some());
        assert_eq!(Some(out.steps.epoch), out.stop.epoch);
    }
}

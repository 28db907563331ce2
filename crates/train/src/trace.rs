//! The trace of a run: one row per step, one summary per epoch. Plain data; the terminal
//! table, CSV, JSON, xlsx, charts and the web app are all views of it.

/// How much of a run to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Record {
    /// Every step and every epoch (the sheet's rows).
    #[default]
    Steps,
    /// Epoch summaries only.
    Epochs,
    /// The final summary only (for benchmarks, sweeps and `--quiet`).
    Final,
}

/// The column layout of a [`Trace`]'s step rows.
///
/// A step row is, in order: the data values of the row (`columns`), the parameters
/// before the update, the prediction, the error, the gradient used for the update, the
/// finite-difference estimates (when requested), the optimizer state after the update,
/// and the parameters after it.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Layout {
    /// Data column names.
    pub columns: Vec<String>,
    /// Parameter names.
    pub params: Vec<String>,
    /// Optimizer state variable names (`m`, `s`, ...), each with one value per parameter.
    pub state_vars: Vec<String>,
    /// Whether rows carry finite-difference estimates.
    pub has_fd: bool,
}

impl Layout {
    /// Values per step row.
    pub fn width(&self) -> usize {
        let (c, p, s) = (self.columns.len(), self.params.len(), self.state_vars.len());
        c + p + 2 + p + if self.has_fd { p } else { 0 } + s * p + p
    }

    /// The header of every value of a step row, e.g. `x, y, a, b, pred, err, de/da, ...`.
    pub fn headers(&self) -> Vec<String> {
        let mut h: Vec<String> = self.columns.clone();
        h.extend(self.params.iter().cloned());
        h.push("pred".into());
        h.push("err".into());
        h.extend(self.params.iter().map(|p| format!("de/d{p}")));
        if self.has_fd {
            h.extend(self.params.iter().map(|p| format!("fd de/d{p}")));
        }
        for s in &self.state_vars {
            h.extend(self.params.iter().map(|p| format!("{s}_{p}")));
        }
        h.extend(self.params.iter().map(|p| format!("new {p}")));
        h
    }
}

/// One step, borrowed from a [`Trace`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepView<'a> {
    /// Step number, from 1.
    pub step: usize,
    /// Epoch number, from 1.
    pub epoch: usize,
    /// The data row (0-based) of this step, or the first row of its mini-batch.
    pub row: usize,
    /// The learning rate used.
    pub lr: f64,
    /// Data values of the row (for a mini-batch: of its first row).
    pub inputs: &'a [f64],
    /// Parameters before the update.
    pub params: &'a [f64],
    /// The prediction (for a mini-batch: of its first row).
    pub pred: f64,
    /// The error (for a mini-batch: the mean over the batch).
    pub error: f64,
    /// The gradient the update used.
    pub grads: &'a [f64],
    /// Finite-difference estimates, when recorded.
    pub fd: Option<&'a [f64]>,
    /// Optimizer state after the update (variable-major: all of `m`, then all of `s`).
    pub state: &'a [f64],
    /// Parameters after the update.
    pub new_params: &'a [f64],
}

/// The summary of one epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochSummary {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Sum of the per-step errors, each at the parameters of its step.
    pub sum_error: f64,
    /// Mean of the per-step errors.
    pub mean_error: f64,
    /// The sheets' "rmse": the square root of the **sum** of squared errors (not of the
    /// mean) — `SQRT(SUM(F4:F32))` in graddesc.
    pub sheet_rmse: f64,
    /// The true root mean squared error, sqrt(mean error), for a squared-error loss.
    pub rmse: f64,
    /// Per parameter: sqrt(Σ g²) over the epoch's steps (the sheets' `histgrad`).
    pub grad_norms: Vec<f64>,
    /// Parameters at the end of the epoch.
    pub params: Vec<f64>,
    /// Learning rate at the end of the epoch.
    pub lr: f64,
}

/// Why a run stopped.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Stop {
    /// All epochs ran.
    #[default]
    Completed,
    /// A value became infinite or NaN, or the error grew beyond the divergence threshold.
    Diverged {
        /// The first bad step (1-based).
        step: usize,
        /// Its data row (0-based).
        row: usize,
        /// What was bad (in words, as it displays).
        reason: crate::train::Reason,
    },
    /// The caller asked to stop (Ctrl-C); everything computed so far is kept.
    Interrupted {
        /// Steps completed.
        steps: usize,
    },
}

/// A run: step rows (flat), epoch summaries, and how it ended. The sink that keeps
/// everything ([`crate::Sink`]); `Trace::default()` is empty, ready to be filled.
/// [`Thinned`] keeps an evenly spaced sample instead (every `stride`-th step).
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// The layout of each step row.
    pub layout: Layout,
    /// Step rows, `layout.width()` values each.
    pub values: Vec<f64>,
    /// Per step: (epoch, row, lr).
    pub meta: Vec<(u32, u32, f64)>,
    /// Epoch summaries.
    pub epochs: Vec<EpochSummary>,
    /// How the run ended.
    pub stop: Stop,
    /// Parameters at the end (the last finite ones if the run diverged).
    pub final_params: Vec<f64>,
    /// The final optimizer state.
    pub final_state: Vec<f64>,
    /// Total steps taken (also when steps were not recorded).
    pub steps_taken: usize,
    /// One step in `stride` is kept: steps 1, 1 + stride, 1 + 2·stride, ... (1: every
    /// step, as the training loop records them).
    pub stride: usize,
}

impl Default for Trace {
    fn default() -> Trace {
        Trace {
            layout: Layout::default(),
            values: Vec::new(),
            meta: Vec::new(),
            epochs: Vec::new(),
            stop: Stop::Completed,
            final_params: Vec::new(),
            final_state: Vec::new(),
            steps_taken: 0,
            stride: 1,
        }
    }
}

impl Trace {
    /// The number of recorded steps.
    pub fn len(&self) -> usize {
        self.meta.len()
    }

    /// Whether no step was recorded.
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// Step `i` (0-based index into the recorded steps; step number `i·stride + 1`).
    pub fn step(&self, i: usize) -> StepView<'_> {
        let l = &self.layout;
        let w = l.width();
        let r = &self.values[i * w..(i + 1) * w];
        let (c, p, s) = (l.columns.len(), l.params.len(), l.state_vars.len());
        let mut o = 0;
        let mut take = |n: usize| {
            let out = &r[o..o + n];
            o += n;
            out
        };
        let inputs = take(c);
        let params = take(p);
        let pe = take(2);
        let grads = take(p);
        let fd = if l.has_fd { Some(take(p)) } else { None };
        let state = take(s * p);
        let new_params = take(p);
        let (epoch, row, lr) = self.meta[i];
        StepView {
            step: i * self.stride.max(1) + 1,
            epoch: epoch as usize,
            row: row as usize,
            lr,
            inputs,
            params,
            pred: pe[0],
            error: pe[1],
            grads,
            fd,
            state,
            new_params,
        }
    }

    /// All recorded steps.
    pub fn steps(&self) -> impl Iterator<Item = StepView<'_>> + '_ {
        (0..self.len()).map(move |i| self.step(i))
    }

    /// The first diverging step (1-based), if the run diverged.
    pub fn first_bad_step(&self) -> Option<usize> {
        match self.stop {
            Stop::Diverged { step, .. } => Some(step),
            _ => None,
        }
    }

    /// The last epoch's summary.
    pub fn last_epoch(&self) -> Option<&EpochSummary> {
        self.epochs.last()
    }
}

/// A keeper of an evenly spaced sample of a run, for charts of runs too long to keep:
/// at most `cap` steps and `cap` epochs (every `stride`-th of each, the stride doubling
/// whenever the sample fills), so that its memory is bounded whatever the run's length.
#[derive(Clone, Debug)]
pub struct Thinned {
    /// The sample: steps 1, 1 + stride, ...; epochs 1, 1 + `epoch_stride`, ....
    pub trace: Trace,
    /// One epoch in `epoch_stride` is kept.
    pub epoch_stride: usize,
    cap: usize,
}

impl Thinned {
    /// A keeper of at most `cap` (at least 2) steps and epochs.
    pub fn new(cap: usize) -> Thinned {
        Thinned {
            trace: Trace::default(),
            epoch_stride: 1,
            cap: cap.max(2),
        }
    }
}

impl crate::Sink for Thinned {
    fn start(&mut self, plan: &crate::Plan) {
        let t = &mut self.trace;
        *t = Trace::default();
        t.layout = plan.layout.clone();
    }

    fn step(&mut self, s: &StepView<'_>) -> std::ops::ControlFlow<()> {
        let t = &mut self.trace;
        if (s.step - 1).is_multiple_of(t.stride) {
            if t.len() == self.cap {
                // Keep every other step: the ones at even indices are steps 1, 1 + 2·stride, ...
                let w = t.layout.width();
                let kept = t.len().div_ceil(2);
                for k in 0..kept {
                    t.values.copy_within(2 * k * w..(2 * k + 1) * w, k * w);
                    t.meta[k] = t.meta[2 * k];
                }
                t.values.truncate(kept * w);
                t.meta.truncate(kept);
                t.stride *= 2;
                if !(s.step - 1).is_multiple_of(t.stride) {
                    return std::ops::ControlFlow::Continue(());
                }
            }
            crate::Sink::step(t, s)?;
        }
        std::ops::ControlFlow::Continue(())
    }

    fn epoch(&mut self, e: &EpochSummary) -> std::ops::ControlFlow<()> {
        if (e.epoch - 1).is_multiple_of(self.epoch_stride) {
            let es = &mut self.trace.epochs;
            if es.len() == self.cap {
                let kept = es.len().div_ceil(2);
                for k in 0..kept {
                    es.swap(k, 2 * k);
                }
                es.truncate(kept);
                self.epoch_stride *= 2;
                if !(e.epoch - 1).is_multiple_of(self.epoch_stride) {
                    return std::ops::ControlFlow::Continue(());
                }
            }
            es.push(e.clone());
        }
        std::ops::ControlFlow::Continue(())
    }

    fn finish(&mut self, end: &crate::RunEnd) {
        crate::Sink::finish(&mut self.trace, end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Hooks, Optimizer, TrainConfig, Trainer};
    use gradsheet_engine::{Dataset, Model, Roles};

    /// A thinned run keeps every stride-th step of the full run, exactly, within its cap.
    #[test]
    fn a_thinned_run_is_an_even_sample_of_the_full_one() {
        let model = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
        let t = Trainer::new(&model, &Dataset::graddesc()).unwrap();
        let cfg = TrainConfig::new(Optimizer::sgd(1e-4), 40);
        let full = t.run(&[1.0, 1.0], &cfg, &mut Hooks::none()).unwrap();
        let mut thin = Thinned::new(100);
        t.run_into(&[1.0, 1.0], &cfg, &mut Hooks::none(), &mut thin)
            .unwrap();
        let s = &thin.trace;
        assert!(s.len() <= 100 && s.len() >= 50, "{}", s.len());
        assert_eq!(s.stride, 16);
        for (i, step) in s.steps().enumerate() {
            assert_eq!(step, full.step(i * s.stride));
        }
        assert_eq!(s.epochs.len(), 40);
        assert_eq!(s.final_params, full.final_params);
        let mut few = Thinned::new(16);
        t.run_into(&[1.0, 1.0], &cfg, &mut Hooks::none(), &mut few)
            .unwrap();
        assert_eq!(few.epoch_stride, 4);
        assert!(few.trace.epochs.iter().all(|e| (e.epoch - 1) % 4 == 0));
        assert_eq!(few.trace.epochs.len(), 10);
    }
}

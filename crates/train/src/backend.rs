//! The ways of taking a run's steps. The training loop ([`Trainer::run_on`]) is written
//! once: it orders the rows, keeps the best error, decides when to stop, builds the epoch
//! summaries and hands everything to the sinks; a [`Backend`] only takes the steps of an
//! epoch. [`Interpreter`] is the reference, on the engine's tape; gradsheet-jit's native
//! kernel is the other, bit for bit the same.

use std::ops::ControlFlow;

use gradsheet_engine::Workspace;

use crate::optim::{Optimizer, State};
use crate::sink::Sink;
use crate::trace::{Record, StepView};
use crate::train::{divergence, TrainConfig, Trainer};

/// One epoch's work, handed by the loop to a backend: where the run stands, and room for
/// what the epoch adds up.
pub struct Epoch<'a> {
    /// The epoch's number, from 1.
    pub number: usize,
    /// The data rows in this epoch's order (per-sample steps take one each; a mini-batch
    /// takes the next `batch`).
    pub order: &'a [u32],
    /// The parameters, updated in place.
    pub params: &'a mut [f64],
    /// The optimizer's state, updated in place (its step count too).
    pub state: &'a mut State,
    /// Steps taken before this epoch.
    pub steps_before: usize,
    /// The error a step is judged against: `divergence_factor ×` this is the largest
    /// error that is not a divergence (the best epoch mean so far, floored; see
    /// [`TrainConfig::divergence_factor`]).
    pub best: f64,
    /// Where each step goes, when the run records steps ([`Record::Steps`]).
    pub sink: Option<&'a mut dyn Sink>,
    /// Polled now and then within a long epoch (Ctrl-C).
    pub should_stop: &'a dyn Fn() -> bool,
    /// Out: the sum of the steps' errors.
    pub sum_error: f64,
    /// Out: per parameter, the sum of the squared gradients (zeroed by the loop).
    pub sumsq: &'a mut [f64],
    /// Out: the steps taken in this epoch.
    pub steps: usize,
}

/// How an epoch ended.
#[derive(Clone, Debug, PartialEq)]
pub enum EpochEnd {
    /// Every step was taken.
    Completed,
    /// A step diverged (it was taken and counted in [`Epoch::steps`]); the parameters are
    /// the last finite ones.
    Diverged {
        /// Its data row (0-based; for a mini-batch, the batch's first row).
        row: usize,
        /// What was bad (in words, as it displays).
        reason: crate::train::Reason,
    },
    /// The caller or a sink asked to stop.
    Stopped,
}

/// A way of taking the steps of an epoch.
pub trait Backend {
    /// Takes the steps of one epoch, each as [`Optimizer::step`] would, and stops at the
    /// first step that diverges (see [`divergence`]).
    fn epoch(&mut self, ep: &mut Epoch<'_>) -> EpochEnd;

    /// The mean error over all rows at `params` (where the divergence test starts).
    fn mean_error(&mut self, params: &[f64]) -> f64;

    /// How many epochs [`Backend::epochs`] may run in one go (1: it cannot), asked
    /// before each span: a backend may offer a longer first span (one that trained it
    /// ahead, side by side with other runs).
    fn span(&self) -> usize {
        1
    }

    /// Runs up to `span` epochs in data order without looking between them, for runs
    /// that keep nothing per epoch, judging every step against the fixed error `limit`.
    /// Returns how many epochs it took — all of the span, or a first part of it whose
    /// every step was finite and within `limit`, with `params` and `state` where that
    /// part ended — and each of those epochs' `(sum of errors, largest error)` in
    /// `records`. 0 (the default: this backend has no spans) if it took none; then
    /// `params` and `state` are not to be trusted (the loop restores them and goes
    /// epoch by epoch).
    fn epochs(
        &mut self,
        _params: &mut [f64],
        _state: &mut State,
        _span: usize,
        _limit: f64,
        _records: &mut Vec<(f64, f64)>,
    ) -> usize {
        0
    }
}

/// Whether an epoch's record from [`Backend::epochs`] — its sum of errors and its
/// largest error — passes a backend's test against the fixed `limit`: a NaN or
/// infinite error makes the sum non-finite, and no error may be above the limit. (A
/// branch-free `&`: callers fold it over a span's hundred epochs.)
#[inline]
pub fn record_within(&(sum, largest): &(f64, f64), limit: f64) -> bool {
    sum.is_finite() & (largest <= limit)
}

/// The interpreter: every step on the engine's tape. The reference for every other way
/// of running, and the only one for step rows.
pub struct Interpreter<'t> {
    trainer: &'t Trainer,
    cfg: &'t TrainConfig,
    ws: Workspace,
    before: Vec<f64>,
    grad: Vec<f64>,
    g_row: Vec<f64>,
    fd: Vec<f64>,
    scratch: Vec<f64>,
}

impl<'t> Interpreter<'t> {
    /// The interpreter for runs of `cfg` on `trainer`.
    pub fn new(trainer: &'t Trainer, cfg: &'t TrainConfig) -> Interpreter<'t> {
        let np = trainer.compiled.n_params;
        Interpreter {
            trainer,
            cfg,
            ws: trainer.compiled.workspace(),
            before: vec![0.0; np],
            grad: vec![0.0; np],
            g_row: vec![0.0; np],
            fd: vec![0.0; np],
            scratch: vec![0.0; np],
        }
    }
}

/// How often (in steps) a long epoch polls [`Epoch::should_stop`].
pub const POLL_STEPS: usize = 4096;

impl Backend for Interpreter<'_> {
    fn mean_error(&mut self, params: &[f64]) -> f64 {
        self.trainer.mean_error(&mut self.ws, params)
    }

    fn epoch(&mut self, ep: &mut Epoch<'_>) -> EpochEnd {
        // Everything the loop touches as locals (the buffers, the epoch's sums), so that
        // the compiler keeps them in registers rather than reading them through `self`
        // and `ep` at every step.
        let Interpreter {
            trainer: t,
            cfg,
            ws,
            before,
            grad,
            g_row,
            fd,
            scratch,
        } = self;
        let (t, cfg) = (*t, *cfg);
        let opt: &Optimizer = &cfg.optimizer;
        let order = ep.order;
        let n = order.len();
        let batch = cfg.batch_rows(n);
        let steps = cfg.steps_per_epoch(n);
        let (number, steps_before, best) = (ep.number, ep.steps_before, ep.best);
        let should_stop = ep.should_stop;
        let params = &mut *ep.params;
        let state = &mut *ep.state;
        let sumsq = &mut *ep.sumsq;
        let mut sink = if cfg.record == Record::Steps {
            ep.sink.as_deref_mut()
        } else {
            None
        };
        let (mut sum, mut taken) = (0.0, 0usize);
        let end = 'steps: {
            for b in 0..steps {
                let rows = &order[b * batch..((b + 1) * batch).min(n)];
                before.copy_from_slice(params);
                let (pred, err) =
                    t.batch_gradient(ws, rows, params, cfg.gradient, grad, g_row, scratch);
                if let Some((scheme, h)) = cfg.show_fd {
                    t.batch_fd(ws, rows, params, scheme, h, fd, g_row, scratch);
                }
                opt.step(params, grad, state);
                taken += 1;
                let step_no = steps_before + taken;
                sum += err;
                for (s, g) in sumsq.iter_mut().zip(grad.iter()) {
                    *s += g * g;
                }
                let first_row = rows[0] as usize;
                if let Some(sink) = sink.as_deref_mut() {
                    let view = StepView {
                        step: step_no,
                        epoch: number,
                        row: first_row,
                        lr: opt.lr(),
                        inputs: t.row(first_row),
                        params: before,
                        pred,
                        error: err,
                        grads: grad,
                        fd: cfg.show_fd.map(|_| fd.as_slice()),
                        state: &state.values,
                        new_params: params,
                    };
                    if sink.step(&view) == ControlFlow::Break(()) {
                        break 'steps EpochEnd::Stopped;
                    }
                }
                let bad = divergence(
                    &t.model.params,
                    err,
                    grad,
                    params,
                    cfg.divergence_factor,
                    best,
                );
                if let Some(reason) = bad {
                    // Keep the last finite parameters as the result.
                    if params.iter().any(|p| !p.is_finite()) {
                        params.copy_from_slice(before);
                    }
                    break 'steps EpochEnd::Diverged {
                        row: first_row,
                        reason,
                    };
                }
                if step_no.is_multiple_of(POLL_STEPS) && should_stop() {
                    break 'steps EpochEnd::Stopped;
                }
            }
            EpochEnd::Completed
        };
        ep.sum_error += sum;
        ep.steps += taken;
        end
    }
}

impl TrainConfig {
    /// Rows per step over `n` rows: the batch size, or all of them for 0 (or more than
    /// there are).
    pub fn batch_rows(&self, n: usize) -> usize {
        if self.batch_size == 0 || self.batch_size > n {
            n
        } else {
            self.batch_size
        }
    }

    /// Steps per epoch over `n` rows: one per batch of [`TrainConfig::batch_rows`], the
    /// last maybe short.
    ///
    /// ```
    /// use gradsheet_train::{Optimizer, TrainConfig};
    /// let mut cfg = TrainConfig::new(Optimizer::sgd(0.1), 1);
    /// assert_eq!(cfg.steps_per_epoch(30), 30);
    /// cfg.batch_size = 8;
    /// assert_eq!(cfg.steps_per_epoch(30), 4);
    /// cfg.batch_size = 0;
    /// assert_eq!(cfg.steps_per_epoch(30), 1);
    /// ```
    #[inline]
    pub fn steps_per_epoch(&self, n: usize) -> usize {
        // (Per-sample without a division: a map asks it of each of its thousands of runs.)
        match self.batch_rows(n) {
            1 => n,
            batch => n.div_ceil(batch),
        }
    }
}

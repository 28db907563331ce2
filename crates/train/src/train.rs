//! The training loop over any formula model.

use gradsheet_engine::{CompiledModel, Dataset, Model, Scheme, Workspace};

use std::ops::ControlFlow;

use crate::backend::{record_within, Backend, Epoch, EpochEnd, Interpreter};
use crate::optim::{Optimizer, State};
use crate::orders::Orders;
use crate::sink::{EpochSums, Extremes, Plan, Records, RunEnd, Sink};
use crate::trace::{EpochSummary, Layout, Record, Stop, Trace};

/// Which derivative drives the updates.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Gradient {
    /// The exact gradient by reverse mode (the default).
    #[default]
    Auto,
    /// A finite difference of the error with step `h`.
    Fd {
        /// Forward, backward or central.
        scheme: Scheme,
        /// The step.
        h: f64,
    },
}

/// The default divergence factor: a run has diverged when a step's error exceeds this
/// many times its best (see [`TrainConfig::divergence_factor`]).
pub const DIVERGENCE_FACTOR: f64 = 1e6;

/// How to train.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// The update rule.
    pub optimizer: Optimizer,
    /// Passes over the data.
    pub epochs: usize,
    /// Rows per update: 1 is per-sample (as the sheets), 0 means the whole data.
    pub batch_size: usize,
    /// Shuffle the rows each epoch with ChaCha8 seeded by this value; `None` keeps the
    /// data's order (as the sheets).
    pub shuffle: Option<u64>,
    /// The derivative used for the updates.
    pub gradient: Gradient,
    /// Record finite-difference estimates beside the gradient (shown, not used).
    pub show_fd: Option<(Scheme, f64)>,
    /// How much to keep.
    pub record: Record,
    /// A step whose error exceeds `divergence_factor × best` stops the run as diverged,
    /// where `best` is the smallest epoch-mean error so far (before the first epoch ends:
    /// the mean error at the initial parameters), floored at 10⁻³ of that initial mean so
    /// that a perfect fit does not make every later wobble look like an explosion. A NaN
    /// or infinite error, gradient or parameter always stops the run.
    pub divergence_factor: f64,
}

impl TrainConfig {
    /// Per-sample training with this optimizer for `epochs` epochs, in the data's order.
    pub fn new(optimizer: Optimizer, epochs: usize) -> TrainConfig {
        TrainConfig {
            optimizer,
            epochs,
            batch_size: 1,
            shuffle: None,
            gradient: Gradient::Auto,
            show_fd: None,
            record: Record::Steps,
            divergence_factor: DIVERGENCE_FACTOR,
        }
    }
}

/// Callbacks of a long run: `should_stop` is polled between steps (every few thousand)
/// and at each epoch's end; `progress` hears `(epochs done, epochs in all)`.
pub struct Hooks<'a> {
    /// Return true to stop (Ctrl-C); the trace keeps what was computed.
    pub should_stop: &'a dyn Fn() -> bool,
    /// Called after each epoch, or after a span of epochs run in one go (with the last).
    pub progress: &'a mut dyn FnMut(usize, usize),
}

impl Hooks<'_> {
    /// Runs to the end, silently.
    pub fn none() -> Hooks<'static> {
        fn never() -> bool {
            false
        }
        fn quiet(_: usize, _: usize) {}
        // A `&mut` to a zero-sized fn item is free to leak: it owns nothing.
        Hooks {
            should_stop: &never,
            progress: Box::leak(Box::new(quiet)),
        }
    }
}

/// An error setting up a run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TrainError {
    /// The data lacks a column the model uses.
    #[error("the data has no column '{0}' (its columns are {1})")]
    MissingColumn(String, String),
    /// No rows.
    #[error("the data has no rows")]
    NoData,
    /// Initial values of the wrong length.
    #[error("expected {expected} initial parameter values, got {found}")]
    InitLength {
        /// How many parameters.
        expected: usize,
        /// How many values.
        found: usize,
    },
    /// A setting out of range.
    #[error("{0}")]
    Invalid(String),
}

/// A model compiled against a dataset, ready to train many times (a sweep compiles once).
///
/// # Examples
///
/// ```
/// use gradsheet_engine::{Dataset, Model, Roles};
/// use gradsheet_train::{Hooks, Optimizer, TrainConfig, Trainer};
/// let model = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
/// let t = Trainer::new(&model, &Dataset::graddesc()).unwrap();
/// let trace = t.run(&[1.0, 1.0], &TrainConfig::new(Optimizer::sgd(1e-4), 5), &mut Hooks::none()).unwrap();
/// assert_eq!(trace.len(), 5 * 29);
/// assert!(trace.epochs[4].sheet_rmse < trace.epochs[0].sheet_rmse);
/// ```
#[derive(Clone, Debug)]
pub struct Trainer {
    /// The model.
    pub model: Model,
    /// Its compiled tape.
    pub compiled: CompiledModel,
    /// The data rows projected on the model's columns, flat.
    pub rows: Vec<f64>,
    /// The number of rows.
    pub n_rows: usize,
}

impl Trainer {
    /// Compiles `model` and projects `data` on its columns.
    ///
    /// # Errors
    ///
    /// [`TrainError::MissingColumn`] or [`TrainError::NoData`].
    pub fn new(model: &Model, data: &Dataset) -> Result<Trainer, TrainError> {
        let rows = data
            .project(&model.columns)
            .map_err(|c| TrainError::MissingColumn(c, data.columns.join(", ")))?;
        if data.is_empty() {
            return Err(TrainError::NoData);
        }
        Ok(Trainer {
            model: model.clone(),
            compiled: model.compile(),
            rows,
            n_rows: data.len(),
        })
    }

    /// The values of row `i` (the model's columns).
    pub fn row(&self, i: usize) -> &[f64] {
        let w = self.compiled.n_cols;
        &self.rows[i * w..(i + 1) * w]
    }

    /// The mean error over all rows at `params`.
    pub fn mean_error(&self, ws: &mut Workspace, params: &[f64]) -> f64 {
        let mut s = 0.0;
        for i in 0..self.n_rows {
            s += self.compiled.row(ws, self.row(i), params).1;
        }
        s / self.n_rows as f64
    }

    /// Checks a run's settings: the number of initial values, the optimizer's
    /// hyperparameters and the finite-difference step. Every way of running (this
    /// interpreter, the native code of gradsheet-jit) starts with it.
    ///
    /// # Errors
    ///
    /// [`TrainError::InitLength`] or [`TrainError::Invalid`], naming the fault.
    pub fn validate(&self, init: &[f64], cfg: &TrainConfig) -> Result<(), TrainError> {
        let np = self.compiled.n_params;
        if init.len() != np {
            return Err(TrainError::InitLength {
                expected: np,
                found: init.len(),
            });
        }
        cfg.optimizer
            .validate()
            .map_err(|e| TrainError::Invalid(e.to_string()))?;
        if let Gradient::Fd { h, .. } = cfg.gradient {
            if !(h.is_finite() && h > 0.0) {
                return Err(TrainError::Invalid(format!(
                    "the finite-difference step h = {h} must be > 0"
                )));
            }
        }
        Ok(())
    }

    /// The layout of the step rows of a run of `cfg`.
    pub fn layout(&self, cfg: &TrainConfig) -> Layout {
        Layout {
            columns: self.model.columns.clone(),
            params: self.model.params.clone(),
            state_vars: cfg
                .optimizer
                .state_vars()
                .iter()
                .map(|s| s.to_string())
                .collect(),
            has_fd: cfg.show_fd.is_some(),
        }
    }

    /// What a run of `cfg` will do, as its sinks hear it first.
    pub fn plan(&self, cfg: &TrainConfig) -> Plan {
        Plan {
            layout: self.layout(cfg),
            ..self.plan_only(cfg)
        }
    }

    /// [`Trainer::plan`] without the layout's names.
    fn plan_only(&self, cfg: &TrainConfig) -> Plan {
        Plan {
            layout: Layout::default(),
            record: cfg.record,
            epochs: cfg.epochs,
            steps_per_epoch: cfg.steps_per_epoch(self.n_rows),
        }
    }

    /// Trains from `init` on the interpreter and keeps everything `cfg.record` asks for.
    ///
    /// Every finite step is kept; the first step with a NaN or infinite value (or an error
    /// past the divergence threshold) is recorded too and ends the run, marked in
    /// [`Trace::stop`].
    ///
    /// # Errors
    ///
    /// [`TrainError`] for initial values of the wrong length or invalid settings.
    pub fn run(
        &self,
        init: &[f64],
        cfg: &TrainConfig,
        hooks: &mut Hooks<'_>,
    ) -> Result<Trace, TrainError> {
        let mut trace = Trace::default();
        self.run_into(init, cfg, hooks, &mut trace)?;
        Ok(trace)
    }

    /// Trains from `init` on the interpreter, handing each step and epoch to `sink` as it
    /// is computed (what `cfg.record` asks for) and keeping nothing itself.
    ///
    /// # Errors
    ///
    /// As [`Trainer::run`].
    pub fn run_into(
        &self,
        init: &[f64],
        cfg: &TrainConfig,
        hooks: &mut Hooks<'_>,
        sink: &mut dyn Sink,
    ) -> Result<RunEnd, TrainError> {
        self.run_on(&mut Interpreter::new(self, cfg), init, cfg, hooks, sink)
    }

    /// The training loop, over any way of taking the steps (`backend`): it orders the
    /// rows (shuffled each epoch with ChaCha8 if asked), keeps the best epoch mean for
    /// the divergence test, sums each epoch into its summary, polls `hooks`, and hands
    /// steps, epochs and the end to `sink`. Every way of running goes through it, so they
    /// stop alike and summarise alike.
    ///
    /// # Errors
    ///
    /// As [`Trainer::run`].
    pub fn run_on(
        &self,
        backend: &mut dyn Backend,
        init: &[f64],
        cfg: &TrainConfig,
        hooks: &mut Hooks<'_>,
        sink: &mut dyn Sink,
    ) -> Result<RunEnd, TrainError> {
        self.validate(init, cfg)?;
        let np = self.compiled.n_params;
        let n = self.n_rows;
        let plan = if sink.reads_layout() {
            self.plan(cfg)
        } else {
            Plan {
                layout: Layout::default(),
                ..self.plan_only(cfg)
            }
        };
        let spe = plan.steps_per_epoch;
        sink.start(&plan);

        let opt = &cfg.optimizer;
        let mut st = State::new(opt, np);
        let mut params = init.to_vec();
        // The rows' order and the epoch's Σg², made at the first epoch run on its own,
        // and the summary, made only if epochs are kept: a stability map's runs go
        // through in spans of epochs and keep none, and each allocation counted in its
        // thousands of short runs.
        let mut by_epoch: Option<(Orders, Vec<f64>)> = None;
        // A shuffled run draws its orders on another core when one is free: not inside
        // a pool of runs (a stability map's), which fills them already.
        let ahead = cfg.shuffle.is_some()
            && rayon::current_thread_index().is_none()
            && crate::orders::cores() > 1;
        let kept = if cfg.record == Record::Final { 0 } else { np };
        let mut summary = EpochSummary {
            epoch: 0,
            sum_error: 0.0,
            mean_error: 0.0,
            sheet_rmse: 0.0,
            rmse: 0.0,
            grad_norms: vec![0.0; kept],
            params: vec![0.0; kept],
            lr: opt.lr(),
        };

        let initial_mean = backend.mean_error(&params);
        let (floor, limit) = limits(cfg.divergence_factor, initial_mean);
        let mut best = initial_mean.abs();
        // Several epochs per call where nothing is kept per epoch and the rows stay in
        // order, with the threshold of the first: thresholds only fall as the best error
        // falls, so the backend stops at every step the loop would stop at, and a few
        // more. Each epoch's largest error then tells exactly whether the loop would
        // have stopped; if so, or if the backend stopped, the span is redone epoch by
        // epoch.
        // (The backend's span is asked before each: a first one may be longer.)
        let spanned = cfg.record == Record::Final && cfg.shuffle.is_none();
        let span = |backend: &dyn Backend| if spanned { backend.span() } else { 1 };
        // (Room for spans only where there are spans: a map runs thousands of short
        // runs, and each takes the room its thread's last run left; see `SPAN_ROOM`.)
        let first = span(backend);
        let (mut records, mut saved) = if first > 1 {
            SPAN_ROOM.take()
        } else {
            (Vec::new(), Vec::new())
        };
        records.reserve(if first > 1 { first } else { 0 });
        // (`saved`: where a span starts, the parameters, then the state's values.)

        let mut stop = Stop::Completed;
        let mut step_no = 0usize;
        let mut epoch = 0usize;
        // Where a span's records showed an epoch above its limit: the span's epochs
        // before it (within theirs), to be redone in one span, then that epoch alone.
        let mut closer: Option<usize> = None;
        'epochs: while epoch < cfg.epochs {
            let many = match closer.take() {
                None => span(backend),
                Some(0) => 1,
                Some(good) => {
                    // (No more than the backend's span, which its room is made for.)
                    let part = span(backend).min(good);
                    closer = Some(good - part);
                    part
                }
            }
            .min(cfg.epochs - epoch);
            if many > 1 {
                saved.clear();
                saved.extend_from_slice(&params);
                saved.extend_from_slice(&st.values);
                let saved_t = st.t;
                records.clear();
                // (A backend may take the span's first part only: the rest is asked of
                // it again at the next turn.)
                let taken = backend
                    .epochs(&mut params, &mut st, many, limit(best), &mut records)
                    .min(many)
                    .min(records.len());
                let mut good = None;
                if taken > 0 {
                    let sums = EpochSums::new(&records[..taken], spe);
                    let (within, b) = span_within(sums, best, limit);
                    if within < taken {
                        good = Some(within);
                    } else {
                        best = b;
                        step_no += taken * spe;
                        // To the sinks in one call, not one per epoch.
                        sink.epoch_sums(epoch + 1, sums);
                        for _ in 0..taken {
                            opt.end_epoch(&mut st, n);
                        }
                        epoch += taken;
                        (hooks.progress)(epoch, cfg.epochs);
                        if (hooks.should_stop)() && epoch < cfg.epochs {
                            stop = Stop::Interrupted { steps: step_no };
                            break 'epochs;
                        }
                        continue;
                    }
                }
                params.copy_from_slice(&saved[..np]);
                st.values.copy_from_slice(&saved[np..]);
                st.t = saved_t;
                // The epochs before the first above its limit are redone in one span,
                // then that one alone (a stability map's runs that go bad late).
                if good.is_some() {
                    closer = good;
                    continue;
                }
            }
            for _ in 0..many {
                epoch += 1;
                let (orders, sumsq) = by_epoch.get_or_insert_with(|| {
                    let left = cfg.epochs - (epoch - 1);
                    (Orders::new(n, cfg.shuffle, left, ahead), vec![0.0; np])
                });
                let order = orders.next();
                sumsq.iter_mut().for_each(|v| *v = 0.0);
                let mut ep = Epoch {
                    number: epoch,
                    order,
                    params: &mut params,
                    state: &mut st,
                    steps_before: step_no,
                    best: best.max(floor),
                    sink: (cfg.record == Record::Steps).then_some(&mut *sink),
                    should_stop: hooks.should_stop,
                    sum_error: 0.0,
                    sumsq,
                    steps: 0,
                };
                let end = backend.epoch(&mut ep);
                let (sum_err, steps) = (ep.sum_error, ep.steps);
                step_no += steps;
                match end {
                    EpochEnd::Completed => {}
                    EpochEnd::Diverged { row, reason } => {
                        stop = Stop::Diverged {
                            step: step_no,
                            row,
                            reason,
                        };
                        epoch -= 1;
                        break 'epochs;
                    }
                    EpochEnd::Stopped => {
                        stop = Stop::Interrupted { steps: step_no };
                        epoch -= 1;
                        break 'epochs;
                    }
                }
                opt.end_epoch(&mut st, n);
                let mean = sum_err / spe as f64;
                if mean.is_finite() {
                    best = best.min(mean.abs());
                }
                sink.epoch_mean(epoch, mean);
                if cfg.record != Record::Final {
                    summary.epoch = epoch;
                    summary.sum_error = sum_err;
                    summary.mean_error = mean;
                    summary.sheet_rmse = sum_err.sqrt();
                    summary.rmse = mean.sqrt();
                    for (g, s) in summary.grad_norms.iter_mut().zip(sumsq.iter()) {
                        *g = s.sqrt();
                    }
                    summary.params.copy_from_slice(&params);
                    summary.lr = opt.lr();
                    if sink.epoch(&summary) == ControlFlow::Break(()) {
                        stop = Stop::Interrupted { steps: step_no };
                        break 'epochs;
                    }
                }
                (hooks.progress)(epoch, cfg.epochs);
                if (hooks.should_stop)() && epoch < cfg.epochs {
                    stop = Stop::Interrupted { steps: step_no };
                    break 'epochs;
                }
            }
        }
        let kept = [records.capacity(), saved.capacity()];
        if first > 1 && kept.iter().all(|&c| c <= SPAN_ROOM_KEPT) {
            SPAN_ROOM.set((records, saved));
        }
        let end = RunEnd {
            stop,
            steps_taken: step_no,
            epochs_done: epoch,
            final_params: params,
            final_state: st.values,
            initial_error: initial_mean,
        };
        sink.finish(&end);
        Ok(end)
    }

    /// The end of a run whose every epoch was trained in one span by a backend that
    /// trains many runs at once (a stability map's, side by side in SIMD lanes), judged
    /// as [`Trainer::run_on`] judges a span a backend hands it: `Some` — the end, after
    /// handing `sink` the plan, every epoch's mean error and the end — where the loop
    /// would have taken the whole run from the span; `None`, with nothing handed to
    /// `sink`, where it would have stopped or looked closer (a step that was not
    /// finite or crossed its limit), or the run is not of one span (the loop then runs
    /// it, redoing what it must).
    ///
    /// `trained` holds the mean error at the initial values, each epoch's
    /// `(sum of errors, largest error)` and the parameters and optimizer state after
    /// the last: what the run's own backend would have handed the loop for these
    /// epochs in one go ([`Backend::epochs`], which a backend offers only for rules that
    /// do nothing between epochs), as the caller vouches.
    pub fn run_trained(
        &self,
        cfg: &TrainConfig,
        trained: Trained<'_>,
        sink: &mut dyn Sink,
    ) -> Option<RunEnd> {
        let Trained {
            initial_error,
            records,
            extremes,
            params,
            state,
        } = trained;
        let np = self.compiled.n_params;
        let ns = cfg.optimizer.state_vars().len() * np;
        if params.len() != np || state.len() != ns || self.validate(&params, cfg).is_err() {
            return None;
        }
        let values = params.iter().chain(&state).copied();
        let sums = self.takes_whole(cfg, initial_error, records, extremes, values)?;
        let plan = self.plan_only(cfg);
        let spe = plan.steps_per_epoch;
        let mut st = State {
            vars: cfg.optimizer.state_vars(),
            values: state,
            n: np,
            t: (cfg.epochs * spe) as u64,
        };
        for _ in 0..cfg.epochs {
            cfg.optimizer.end_epoch(&mut st, self.n_rows);
        }
        sink.start(&plan);
        sink.epoch_sums(1, sums);
        let end = RunEnd {
            stop: Stop::Completed,
            steps_taken: cfg.epochs * spe,
            epochs_done: cfg.epochs,
            final_params: params,
            final_state: st.values,
            initial_error,
        };
        sink.finish(&end);
        Some(end)
    }

    /// Whether the loop would take the whole run of `cfg` from a backend that trained
    /// it in one span (see [`Trainer::run_trained`], whose test this is): `Some` — the
    /// epochs' sums, as the loop would hand them to its sink — where it would; `None`
    /// where it would stop or look closer, or the run is not of one span.
    ///
    /// `initial_error`, `records` and `extremes` are as in [`Trained`]; `values` are the
    /// parameters and then the optimizer's state values after the last epoch. `cfg` is
    /// one that [`Trainer::validate`] accepts, and the values as many as the model's
    /// parameters and the rule's state, as the caller vouches. For a caller that reads
    /// no more of the run than its epochs (a stability map's verdict on each of its
    /// runs): nothing is allocated.
    pub fn takes_whole<'r>(
        &self,
        cfg: &TrainConfig,
        initial_error: f64,
        records: Records<'r>,
        extremes: Extremes,
        mut values: impl Iterator<Item = f64>,
    ) -> Option<EpochSums<'r>> {
        // Runs the loop hands a backend in spans, each epoch trained: its first span.
        let spanned = cfg.record == Record::Final && cfg.shuffle.is_none();
        if !spanned || cfg.epochs == 0 || records.len() != cfg.epochs {
            return None;
        }
        let (_, limit) = limits(cfg.divergence_factor, initial_error);
        let best = initial_error.abs();
        // A backend's test against the first limit (see `Backend::epochs`), then the
        // loop's own against each epoch's.
        let first = limit(best);
        let sound = extremes.within(first) && values.all(f64::is_finite);
        if !sound {
            return None;
        }
        let spe = self.plan_only(cfg).steps_per_epoch;
        let sums = EpochSums::with_extremes(records, spe, extremes);
        let (within, _) = span_within(sums, best, limit);
        (within == sums.len()).then_some(sums)
    }

    /// The batch's mean error and mean gradient (into `grad`), and the first row's
    /// prediction: one step's gradient, as every way of running computes it (the native
    /// kernel of gradsheet-jit replays a step it cannot judge with this). `g_row` and
    /// `scratch` are room for one row's gradient, as long as `grad`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn batch_gradient(
        &self,
        ws: &mut Workspace,
        rows: &[u32],
        params: &[f64],
        how: Gradient,
        grad: &mut [f64],
        g_row: &mut [f64],
        scratch: &mut [f64],
    ) -> (f64, f64) {
        if rows.len() == 1 {
            let row = self.row(rows[0] as usize);
            return match how {
                Gradient::Auto => self.compiled.row_grad(ws, row, params, grad),
                Gradient::Fd { scheme, h } => {
                    self.row_fd(ws, row, params, scheme, h, grad, scratch)
                }
            };
        }
        grad.iter_mut().for_each(|g| *g = 0.0);
        let mut err_sum = 0.0;
        let mut first_pred = f64::NAN;
        for (k, &r) in rows.iter().enumerate() {
            let row = self.row(r as usize);
            let (pred, err) = match how {
                Gradient::Auto => self.compiled.row_grad(ws, row, params, g_row),
                Gradient::Fd { scheme, h } => {
                    self.row_fd(ws, row, params, scheme, h, g_row, scratch)
                }
            };
            if k == 0 {
                first_pred = pred;
            }
            err_sum += err;
            for (g, gr) in grad.iter_mut().zip(g_row.iter()) {
                *g += gr;
            }
        }
        let m = rows.len() as f64;
        grad.iter_mut().for_each(|g| *g /= m);
        (first_pred, err_sum / m)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn batch_fd(
        &self,
        ws: &mut Workspace,
        rows: &[u32],
        params: &[f64],
        scheme: Scheme,
        h: f64,
        out: &mut [f64],
        g_row: &mut [f64],
        scratch: &mut [f64],
    ) {
        out.iter_mut().for_each(|g| *g = 0.0);
        for &r in rows {
            self.row_fd(ws, self.row(r as usize), params, scheme, h, g_row, scratch);
            for (g, gr) in out.iter_mut().zip(g_row.iter()) {
                *g += gr;
            }
        }
        let m = rows.len() as f64;
        out.iter_mut().for_each(|g| *g /= m);
    }

    /// Finite-difference gradient of one row's error, with the prediction and error at `params`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn row_fd(
        &self,
        ws: &mut Workspace,
        row: &[f64],
        params: &[f64],
        scheme: Scheme,
        h: f64,
        out: &mut [f64],
        scratch: &mut [f64],
    ) -> (f64, f64) {
        let (pred, f0) = self.compiled.row(ws, row, params);
        scratch.copy_from_slice(params);
        for i in 0..params.len() {
            let p = params[i];
            let at = |v: f64, ws: &mut Workspace, scratch: &mut [f64]| {
                scratch[i] = v;
                let e = self.compiled.row(ws, row, scratch).1;
                scratch[i] = p;
                e
            };
            out[i] = match scheme {
                Scheme::Forward => (at(p + h, ws, scratch) - f0) / h,
                Scheme::Backward => (f0 - at(p - h, ws, scratch)) / h,
                Scheme::Central => (at(p + h, ws, scratch) - at(p - h, ws, scratch)) / (2.0 * h),
            };
        }
        (pred, f0)
    }
}

/// The divergence test of a step, in words: `Some(reason)` when the error, a gradient or
/// a parameter is NaN or infinite, or the error exceeds `factor × best` (see
/// [`TrainConfig::divergence_factor`]). Every training path (the interpreter here and the
/// native code of gradsheet-jit) calls this one function, so they stop alike.
pub fn divergence(
    names: &[String],
    err: f64,
    grad: &[f64],
    params: &[f64],
    factor: f64,
    best: f64,
) -> Option<Reason> {
    if !err.is_finite() {
        Some(Reason::Error(err))
    } else if let Some(i) = grad.iter().position(|g| !g.is_finite()) {
        Some(Reason::Gradient {
            param: names[i].clone(),
            value: grad[i],
        })
    } else if let Some(i) = params.iter().position(|p| !p.is_finite()) {
        Some(Reason::Param {
            param: names[i].clone(),
            value: params[i],
        })
    } else if err > factor * best && err > 0.0 {
        Some(Reason::Grew {
            error: err,
            factor,
            best,
        })
    } else {
        None
    }
}

/// Why a step diverged ([`divergence`]): kept as numbers, and put into words (its
/// `Display`) only when shown — a stability map judges its diverging runs by the
/// thousand and shows none of their reasons.
///
/// ```
/// use gradsheet_train::train::Reason;
/// let r = Reason::Grew { error: 3.591e16, factor: 1e4, best: 5655.0 };
/// assert_eq!(
///     r.to_string(),
///     "the error 3.591e16 is more than 10000 times the best epoch mean so far (5655)"
/// );
/// assert_eq!(Reason::Error(f64::NAN).to_string(), "the error is NaN");
/// ```
#[derive(Clone, Debug)]
pub enum Reason {
    /// The step's error was not finite.
    Error(f64),
    /// A parameter's gradient was not finite.
    Gradient {
        /// The parameter.
        param: String,
        /// Its gradient.
        value: f64,
    },
    /// A parameter's new value was not finite.
    Param {
        /// The parameter.
        param: String,
        /// Its value.
        value: f64,
    },
    /// The error grew past `factor` times the best epoch mean so far.
    Grew {
        /// The step's error.
        error: f64,
        /// The divergence factor ([`TrainConfig::divergence_factor`]).
        factor: f64,
        /// The best epoch mean so far (floored).
        best: f64,
    },
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Error(e) => write!(f, "the error is {}", describe(*e)),
            Reason::Gradient { param, value } => {
                write!(f, "the gradient of {param} is {}", describe(*value))
            }
            Reason::Param { param, value } => write!(f, "{param} became {}", describe(*value)),
            Reason::Grew {
                error,
                factor,
                best,
            } => write!(
                f,
                "the error {} is more than {} times the best epoch mean so far ({})",
                short(*error),
                short(*factor),
                short(*best)
            ),
        }
    }
}

/// Two reasons are the same when they read the same (a NaN in each is one value).
impl PartialEq for Reason {
    fn eq(&self, other: &Reason) -> bool {
        self.to_string() == other.to_string()
    }
}

/// Four significant digits, for messages about sizes (`3.591e16`, `5655`).
fn short(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e7 || v.abs() < 1e-4) {
        let s = format!("{v:.3e}");
        match s.split_once('e') {
            Some((m, e)) => format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.')),
            None => s,
        }
    } else {
        let s = format!("{v:.4}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        s
    }
}

fn describe(v: f64) -> &'static str {
    if v.is_nan() {
        "NaN"
    } else if v > 0.0 {
        "+infinity"
    } else {
        "-infinity"
    }
}

/// What a backend that trains many runs at once trained of one run: see
/// [`Trainer::run_trained`].
#[derive(Clone, Debug)]
pub struct Trained<'a> {
    /// The mean error at the initial values.
    pub initial_error: f64,
    /// Each epoch's sum of errors and largest error, where the backend holds them.
    pub records: Records<'a>,
    /// Their extremes ([`Extremes::of`] the records, or the same folded as the backend
    /// wrote them).
    pub extremes: Extremes,
    /// The parameters after the last epoch.
    pub params: Vec<f64>,
    /// The optimizer's state values after the last epoch ([`State::values`]).
    pub state: Vec<f64>,
}

/// The divergence test's floor for a run whose initial mean error is `initial`, and
/// its limit on a step's error given the best epoch mean so far: the kernel's form of
/// the test `err > factor·max(best, floor) && err > 0`, one comparison against a
/// number (a NaN limit never trips).
fn limits(factor: f64, initial: f64) -> (f64, impl Fn(f64) -> f64 + Copy) {
    let floor = 1e-3 * initial.abs();
    let limit = move |best: f64| {
        let l = factor * best.max(floor);
        if l.is_nan() {
            f64::INFINITY
        } else {
            l.max(0.0)
        }
    };
    (floor, limit)
}

/// The limit on a step's error that the loop hands its backend with a run's first span
/// of epochs ([`Backend::epochs`]), for a run whose initial mean error is `initial`:
/// what a backend that trains many runs at once tests each run's epochs against, to
/// know where the loop will look closer.
///
/// # Examples
///
/// ```
/// // A factor of 5 over an initial error of 2 (the floor, 0.002, is below it).
/// assert_eq!(gradsheet_train::first_limit(5.0, 2.0), 10.0);
/// // A NaN limit never trips.
/// assert_eq!(gradsheet_train::first_limit(5.0, f64::NAN), f64::INFINITY);
/// ```
pub fn first_limit(factor: f64, initial: f64) -> f64 {
    let (_, limit) = limits(factor, initial);
    limit(initial.abs())
}

/// How many of a span's first epochs (`sums`: each epoch's sum of errors and largest
/// error) had no error above its limit — `limit` of the best epoch mean before it,
/// starting from `best` — all of them where none had, and the best mean after the span.
/// Apart from the loop, so that the chain of bests stays in a register (a map's runs
/// read a hundred epochs each).
#[inline(never)]
fn span_within(sums: EpochSums<'_>, best: f64, limit: impl Fn(f64) -> f64) -> (usize, f64) {
    // The best mean after the span and the span's largest error (never NaN: a NaN error
    // stops the backend): if that error is within the limit of that best, the lowest of
    // the limits, every epoch was within its own (the usual case, and two short chains
    // instead of one long one).
    let b = best.min(sums.least_finite_size());
    if sums.largest() <= limit(b) {
        return (sums.len(), b);
    }
    // (Neither is NaN: a NaN error stops the backend, and limits are numbers.)
    walk_within(sums, best, limit, |(_, largest), l| largest <= l)
}

/// How many of the first epochs of `sums` passed `within` against their limit —
/// `limit` of the best epoch mean before each, starting from `best` — and the best mean
/// after them: the loop's walk through a span's epochs.
#[inline(always)]
fn walk_within(
    sums: EpochSums<'_>,
    best: f64,
    limit: impl Fn(f64) -> f64,
    within: impl Fn((f64, f64), f64) -> bool,
) -> (usize, f64) {
    let mut b = best;
    for (k, record) in sums.records().iter().enumerate() {
        if !within(record, limit(b)) {
            return (k, b);
        }
        let mean = sums.mean_of(record.0);
        if mean.is_finite() && mean.abs() < b {
            b = mean.abs();
        }
    }
    (sums.len(), b)
}

/// How many of a run's first epochs the training loop would take, as they stand, from a
/// backend that trained them in its first span but did not stop where a step went bad
/// (one that trains many runs at once: a stability map's, side by side in SIMD lanes):
/// those before the first epoch whose record is not within its limit — not
/// [`record_within`] the loop's limit of the best epoch mean before it, starting from
/// the run's initial mean error `initial` with a divergence factor of `factor` (see
/// [`first_limit`]). Such a backend hands the loop those epochs and then the run from
/// the start of that one, which the loop takes on its own ([`Backend::epochs`]).
///
/// # Examples
///
/// ```
/// use gradsheet_train::{first_span_within, EpochSums};
/// // From an initial mean error of 1 with a factor of 5, an epoch of 10 steps whose
/// // mean falls to 0.1 lowers the limit to 0.5: the third epoch's largest error, 0.6,
/// // is beyond it, though within the first epoch's limit (5).
/// let records = [(10.0, 2.0), (1.0, 0.3), (3.0, 0.6), (1.0, 0.2)];
/// assert_eq!(first_span_within(EpochSums::new(&records, 10), 5.0, 1.0), 2);
/// // A sum that is not finite is beyond any limit.
/// let records = [(10.0, 2.0), (f64::INFINITY, 0.3)];
/// assert_eq!(first_span_within(EpochSums::new(&records, 10), 5.0, 1.0), 1);
/// ```
pub fn first_span_within(sums: EpochSums<'_>, factor: f64, initial: f64) -> usize {
    let (_, limit) = limits(factor, initial);
    let within = |r: (f64, f64), l: f64| record_within(&r, l);
    walk_within(sums, initial.abs(), limit, within).0
}

thread_local! {
    /// The span records and the saved start of the last run on this thread, kept for
    /// the next one: a stability map runs thousands of short runs on each thread, and
    /// allocating them for each was a few percent of a run.
    static SPAN_ROOM: std::cell::Cell<SpanRoom> =
        const { std::cell::Cell::new((Vec::new(), Vec::new())) };
}

/// A span's records and its saved start (see `SPAN_ROOM`).
type SpanRoom = (Vec<(f64, f64)>, Vec<f64>);

/// The most of either a thread keeps between runs (64 KB of records).
const SPAN_ROOM_KEPT: usize = 4096;

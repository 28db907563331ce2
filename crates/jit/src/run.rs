//! The native kernel as a [`Backend`] of the training loop ([`Trainer::run_on`]): the
//! same run, bit for bit, for the runs the kernel supports (per-sample or by
//! mini-batches, exact or finite-difference gradients, epoch summaries or the final
//! summary only), and [`train_into`], the one place where the way of running
//! is chosen.

use gradsheet_engine::Workspace;
use gradsheet_train::{
    divergence, Backend, Epoch, EpochEnd, Hooks, Record, RunEnd, Sink, State, Trace, TrainConfig,
    TrainError, Trainer,
};

use crate::epoch::{EpochKernel, OptKind, IO_MAX, IO_SQ, IO_SUM, IO_THR};
use crate::side::Ahead;

/// Why a run is left to the interpreter, or `None` if the kernel can run it.
///
/// (The trainer is not consulted today: every model and batch size is compiled.)
pub fn unsupported(_trainer: &Trainer, cfg: &TrainConfig) -> Option<String> {
    if cfg.record == Record::Steps {
        return Some("step rows are recorded (the kernel keeps epoch summaries only)".into());
    }
    if OptKind::of(&cfg.optimizer).is_none() {
        return Some(format!(
            "the {} optimizer is not compiled",
            cfg.optimizer.name()
        ));
    }
    None
}

/// Trains `trainer` from `init`, handing steps, epochs and the end to `sink`: on native
/// code when the run allows it ([`unsupported`] says when not) — with `kernel` if it was
/// compiled for this model and kind of rule, else with one compiled now — and on the
/// interpreter otherwise, or if compiling fails. Every command, the web app and the
/// stability maps train through here; the results are the same either way, bit for bit.
///
/// # Errors
///
/// Those of [`Trainer::run`].
pub fn train_into(
    trainer: &Trainer,
    init: &[f64],
    cfg: &TrainConfig,
    hooks: &mut Hooks<'_>,
    sink: &mut dyn Sink,
    kernel: Option<&EpochKernel>,
) -> Result<RunEnd, TrainError> {
    trainer.validate(init, cfg)?;
    if unsupported(trainer, cfg).is_none() {
        let compiled;
        let chosen = match kernel.filter(|k| k.fits(trainer, cfg)) {
            Some(k) => Some(k),
            None => {
                compiled = EpochKernel::compile_for(trainer, cfg).ok();
                compiled.as_ref()
            }
        };
        if let Some(k) = chosen {
            return k.run_into(trainer, init, cfg, hooks, sink);
        }
    }
    trainer.run_into(init, cfg, hooks, sink)
}

/// [`train_into`] keeping everything `cfg.record` asks for.
///
/// # Errors
///
/// Those of [`Trainer::run`].
pub fn train(
    trainer: &Trainer,
    init: &[f64],
    cfg: &TrainConfig,
    hooks: &mut Hooks<'_>,
    kernel: Option<&EpochKernel>,
) -> Result<Trace, TrainError> {
    let mut trace = Trace::default();
    train_into(trainer, init, cfg, hooks, &mut trace, kernel)?;
    Ok(trace)
}

impl EpochKernel {
    /// Trains as [`Trainer::run`] would, on native code, and returns the same trace.
    ///
    /// Differences, none of which shows in a trace: `hooks.should_stop` is polled at
    /// the end of each epoch (or span of epochs) only (the interpreter also polls every
    /// 4096 steps).
    ///
    /// # Errors
    ///
    /// [`TrainError`] as [`Trainer::run`] (wrong initial length, invalid settings), and
    /// [`TrainError::Invalid`] when the kernel was compiled for another model or rule or
    /// cannot run this configuration (see [`unsupported`]).
    pub fn run(
        &self,
        trainer: &Trainer,
        init: &[f64],
        cfg: &TrainConfig,
        hooks: &mut Hooks<'_>,
    ) -> Result<Trace, TrainError> {
        let mut trace = Trace::default();
        self.run_into(trainer, init, cfg, hooks, &mut trace)?;
        Ok(trace)
    }

    /// As [`EpochKernel::run`], handing epochs and the end to `sink` and keeping nothing.
    ///
    /// # Errors
    ///
    /// As [`EpochKernel::run`].
    pub fn run_into(
        &self,
        trainer: &Trainer,
        init: &[f64],
        cfg: &TrainConfig,
        hooks: &mut Hooks<'_>,
        sink: &mut dyn Sink,
    ) -> Result<RunEnd, TrainError> {
        self.run_from(trainer, init, cfg, hooks, sink, None)
    }

    /// [`EpochKernel::run_into`], or [`EpochKernel::run_ahead`] with `ahead`.
    fn run_from(
        &self,
        trainer: &Trainer,
        init: &[f64],
        cfg: &TrainConfig,
        hooks: &mut Hooks<'_>,
        sink: &mut dyn Sink,
        ahead: Option<Ahead<'_>>,
    ) -> Result<RunEnd, TrainError> {
        // (The loop checks the settings themselves first: `Trainer::validate`.)
        // A rate of 0 on a kernel whose products are fused (`Row::times`, which may give
        // a zero the other sign) is left to the interpreter: nothing moves anyway.
        if cfg.optimizer.lr() == 0.0 && self.is_fused() {
            return trainer.run_into(init, cfg, hooks, sink);
        }
        // The compiled SGD step assumes no parameter is −0 (see `emit_step`): one that
        // starts there is rare enough to leave to the interpreter.
        if self.kind() == OptKind::Sgd && init.iter().any(|p| *p == 0.0 && p.is_sign_negative()) {
            return trainer.run_into(init, cfg, hooks, sink);
        }
        if let Some(why) = unsupported(trainer, cfg) {
            return Err(TrainError::Invalid(format!("not compiled: {why}")));
        }
        if cfg.record != Record::Final && !self.has_grad_norms() {
            return Err(TrainError::Invalid(
                "the kernel was compiled for final summaries only".into(),
            ));
        }
        if !self.fits(trainer, cfg) {
            return Err(TrainError::Invalid(
                "the kernel was compiled for another model, optimizer or batch size".into(),
            ));
        }
        let mut native = Native::new(self, trainer, cfg);
        match ahead {
            None => trainer.run_on(&mut native, init, cfg, hooks, sink),
            Some(ahead) => {
                let mut primed = Primed {
                    native,
                    initial: Some(ahead.initial_error()),
                    ahead: Some(ahead),
                    bad_next: false,
                };
                trainer.run_on(&mut primed, init, cfg, hooks, sink)
            }
        }
    }
}

/// The kernel's side of a run: its `io` block (see [`EpochKernel`]), the records of the
/// epochs of a call, and (built on first use) what running epoch by epoch needs.
struct Native<'a> {
    kernel: &'a EpochKernel,
    trainer: &'a Trainer,
    cfg: &'a TrainConfig,
    io: Vec<f64>,
    records: Vec<f64>,
    /// Built at the first [`Backend::epoch`]: a run that keeps no epoch, in order, goes
    /// through in spans of epochs and never needs it (a map's thousands of short runs,
    /// for which its nine allocations were a few percent of each run).
    slow: Option<Slow>,
    span: usize,
    /// Rows per step.
    batch: usize,
}

/// What [`Backend::epoch`] needs besides `io` and the records: what a bad step needs
/// restored, room for the interpreter's replay of it, and the shuffled rows.
#[derive(Default)]
struct Slow {
    saved_p: Vec<f64>,
    saved_s: Vec<f64>,
    saved_io: Vec<f64>,
    before: Vec<f64>,
    grad: Vec<f64>,
    /// The rows in an epoch's shuffled order, when the run shuffles.
    shuffled: Option<Vec<f64>>,
    g_row: Vec<f64>,
    scratch: Vec<f64>,
    ws: Workspace,
}

impl Slow {
    /// The room for a run of `cfg` on `trainer`, in the memory of the last run's on
    /// this thread where there was one (every buffer is made anew, zeros and the
    /// model's constants, whatever run it served): a stability map's diverging runs go
    /// epoch by epoch, and their nine allocations were a fifth of such a run.
    fn new(trainer: &Trainer, cfg: &TrainConfig) -> Slow {
        let np = trainer.compiled.n_params;
        let zeros = |mut v: Vec<f64>, n: usize| {
            v.clear();
            v.resize(n, 0.0);
            v
        };
        let Slow {
            saved_p,
            saved_s,
            saved_io,
            before,
            grad,
            shuffled,
            g_row,
            scratch,
            mut ws,
        } = SLOW.take().unwrap_or_default();
        trainer.compiled.reset_workspace(&mut ws);
        Slow {
            saved_p: zeros(saved_p, np),
            saved_s: zeros(saved_s, cfg.optimizer.state_vars().len() * np),
            saved_io: zeros(saved_io, IO_SQ + np),
            before: zeros(before, np),
            grad: zeros(grad, np),
            g_row: zeros(g_row, np),
            scratch: zeros(scratch, np),
            shuffled: cfg
                .shuffle
                .map(|_| zeros(shuffled.unwrap_or_default(), trainer.rows.len())),
            ws,
        }
    }

    /// The values it holds (to keep it for the thread's next run only if small).
    fn len(&self) -> usize {
        self.ws.vals.len() + self.shuffled.as_ref().map_or(0, Vec::len)
    }
}

thread_local! {
    /// The room of the last run on this thread that went epoch by epoch (see
    /// [`Slow::new`]), and the `io` block of the last run's native calls.
    static SLOW: std::cell::Cell<Option<Slow>> = const { std::cell::Cell::new(None) };
    static IO: std::cell::Cell<Vec<f64>> = const { std::cell::Cell::new(Vec::new()) };
}

thread_local! {
    /// The records of the last run on this thread, kept for the next one: a span's
    /// records are a few kilobytes, past what the allocator keeps at hand, and
    /// allocating them cost each of a map's runs (a few thousand steps) 1 to 2% more
    /// (perf: `malloc_consolidate`, `_int_malloc`).
    /// (At most [`ROOM_KEPT`] values: a big model's records are not kept alive.)
    static ROOM: std::cell::Cell<Vec<f64>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The most values of records a thread keeps between runs (64 KB).
const ROOM_KEPT: usize = 8192;

impl Drop for Native<'_> {
    fn drop(&mut self) {
        if self.records.capacity() <= ROOM_KEPT {
            ROOM.set(std::mem::take(&mut self.records));
        }
        if self.io.capacity() <= ROOM_KEPT {
            IO.set(std::mem::take(&mut self.io));
        }
        if let Some(slow) = self.slow.take().filter(|s| s.len() <= ROOM_KEPT) {
            SLOW.set(Some(slow));
        }
    }
}

impl<'a> Native<'a> {
    fn new(kernel: &'a EpochKernel, trainer: &'a Trainer, cfg: &'a TrainConfig) -> Native<'a> {
        let n = trainer.n_rows;
        // About as many steps per call as the interpreter takes between two polls, for
        // the runs the loop hands spans of epochs (those that keep no epoch, in order).
        // (Not the workbook's adagrad: the loop sets its rates between epochs.)
        let batch = cfg.batch_rows(n);
        let span = span_of(kernel.kind(), cfg, n);
        // (The room for the calls is made at the first: see `room`.)
        let records = ROOM.take();
        Native {
            kernel,
            trainer,
            cfg,
            records,
            io: Vec::new(),
            slow: None,
            span,
            batch,
        }
    }

    /// The divergence threshold of the kernel for the floored best error `best`: the
    /// loop's test `err > factor·best && err > 0` as one comparison (a NaN limit never
    /// trips).
    fn limit(&self, best: f64) -> f64 {
        let l = self.cfg.divergence_factor * best;
        if l.is_nan() {
            f64::INFINITY
        } else {
            l.max(0.0)
        }
    }

    /// Room for a call's records (see [`EpochKernel::call`]) and the `io` block, made
    /// at the first call: a run whose span was trained side by side may never call the
    /// kernel.
    fn room(&mut self) {
        let len = self.span * self.kernel.record_len();
        if self.records.len() != len {
            self.records.clear();
            self.records.resize(len, 0.0);
        }
        if self.io.is_empty() {
            let np = self.trainer.compiled.n_params;
            // (In the memory of the thread's last run: see `IO`.)
            self.io = IO.take();
            self.io.clear();
            self.io.resize(self.kernel.io_len(), 0.0);
            let hypers = OptKind::hypers(&self.cfg.optimizer);
            self.io[IO_SQ + np..IO_SQ + np + hypers.len()].copy_from_slice(&hypers);
        }
    }

    /// Starts an epoch's sums from zero.
    fn reset(io: &mut [f64], np: usize) {
        io[IO_SUM] = 0.0;
        io[IO_MAX] = f64::NEG_INFINITY;
        io[IO_SQ..IO_SQ + np].iter_mut().for_each(|v| *v = 0.0);
    }
}

impl Backend for Native<'_> {
    fn mean_error(&mut self, params: &[f64]) -> f64 {
        // (`run_into` checked that the kernel is the model's.)
        self.kernel
            .mean_error_of(&self.trainer.rows, self.trainer.n_rows, params)
    }

    fn epoch(&mut self, ep: &mut Epoch<'_>) -> EpochEnd {
        self.room();
        let t = self.trainer;
        let (n, nc, np) = (t.n_rows, t.compiled.n_cols, t.compiled.n_params);
        let rl = self.kernel.record_len();
        let limit = self.limit(ep.best);
        let Native {
            kernel,
            io,
            records,
            slow,
            cfg,
            batch,
            ..
        } = self;
        let Slow {
            saved_p,
            saved_s,
            saved_io,
            before,
            grad,
            g_row,
            scratch,
            shuffled,
            ws,
        } = slow.get_or_insert_with(|| Slow::new(t, cfg));
        let batch = *batch;
        let rows: &[f64] = match shuffled.as_mut() {
            Some(buf) => {
                gather(buf, &t.rows, nc, ep.order);
                buf
            }
            None => &t.rows,
        };
        io[IO_THR] = limit;
        Native::reset(io, np);
        let st = &mut *ep.state;
        // `start` is the first row of a step: a multiple of `batch`.
        let mut start = 0;
        // One call of the kernel over `n_rows` rows from `rows`, one epoch.
        let call = |rows: &[f64],
                    n_rows: usize,
                    params: &mut [f64],
                    st: &mut State,
                    io: &mut [f64],
                    records: &mut [f64]| {
            kernel.call(
                rows,
                n_rows,
                params,
                &mut st.values,
                io,
                st.t,
                1,
                records,
                batch,
            )
        };
        while start < n {
            // What a bad step needs restored: the kernel has written its state and sums
            // before testing it.
            // (The rest of `io`, the rule's numbers, the kernel rewrites the same at entry.)
            saved_p.copy_from_slice(ep.params);
            saved_s.copy_from_slice(&st.values);
            saved_io.copy_from_slice(&io[..IO_SQ + np]);
            let rest = &rows[start * nc..];
            let bad = call(rest, n - start, ep.params, st, io, records);
            let Some(k) = bad else {
                let steps = (n - start).div_ceil(batch);
                ep.steps += steps;
                st.t += steps as u64;
                break;
            };
            // Redo the k good steps natively (their epoch record holds the running
            // sums), then replay the bad one with the interpreter's arithmetic, which
            // words the reason as the loop does.
            ep.params.copy_from_slice(saved_p);
            st.values.copy_from_slice(saved_s);
            io[..IO_SQ + np].copy_from_slice(saved_io);
            if k > 0 {
                let redo = call(rest, k * batch, ep.params, st, io, records);
                debug_assert!(redo.is_none(), "the good steps are good again");
                io[IO_SUM..rl].copy_from_slice(&records[IO_SUM..rl]);
            }
            ep.steps += k;
            st.t += k as u64;
            let pos = start + k * batch;
            let step_rows = &ep.order[pos..(pos + batch).min(n)];
            let first_row = step_rows[0] as usize;
            before.copy_from_slice(ep.params);
            let (_, err) =
                t.batch_gradient(ws, step_rows, ep.params, cfg.gradient, grad, g_row, scratch);
            cfg.optimizer.step(ep.params, grad, st);
            ep.steps += 1;
            io[IO_SUM] += err;
            for (s, g) in io[IO_SQ..IO_SQ + np].iter_mut().zip(grad.iter()) {
                *s += g * g;
            }
            let bad = divergence(
                &t.model.params,
                err,
                grad,
                ep.params,
                cfg.divergence_factor,
                ep.best,
            );
            if let Some(reason) = bad {
                if ep.params.iter().any(|p| !p.is_finite()) {
                    ep.params.copy_from_slice(before);
                }
                return EpochEnd::Diverged {
                    row: first_row,
                    reason,
                };
            }
            // A false alarm (finite values whose sum overflowed): the step was good, and
            // the interpreter's arithmetic has just taken it. The sums go on.
            records[IO_SUM..rl].copy_from_slice(&io[IO_SUM..rl]);
            start = pos + batch;
        }
        ep.sum_error = records[IO_SUM];
        ep.sumsq.copy_from_slice(&records[IO_SQ..IO_SQ + np]);
        EpochEnd::Completed
    }

    fn span(&self) -> usize {
        self.span
    }

    fn epochs(
        &mut self,
        params: &mut [f64],
        state: &mut State,
        span: usize,
        limit: f64,
        out: &mut Vec<(f64, f64)>,
    ) -> usize {
        self.room();
        let t = self.trainer;
        let (n, np) = (t.n_rows, t.compiled.n_params);
        self.io[IO_THR] = limit;
        Native::reset(&mut self.io, np);
        let stopped = self.kernel.call(
            &t.rows,
            n,
            params,
            &mut state.values,
            &mut self.io,
            state.t,
            span,
            &mut self.records,
            self.batch,
        );
        if stopped.is_some() {
            return 0;
        }
        let rl = self.kernel.record_len();
        out.extend(
            self.records
                .chunks_exact(rl)
                .take(span)
                .map(|rec| (rec[IO_SUM], rec[IO_MAX])),
        );
        state.t += (span * self.cfg.steps_per_epoch(n)) as u64;
        span
    }
}

/// Epochs per call of a native backend over `n` rows: about as many steps as the
/// interpreter takes between two polls, for the runs the loop hands spans of epochs
/// (those that keep no epoch, in order); one otherwise, and for the workbook's adagrad,
/// whose rates the loop sets between epochs.
pub(crate) fn span_of(kind: OptKind, cfg: &TrainConfig, n: usize) -> usize {
    if cfg.record == Record::Final && cfg.shuffle.is_none() && kind != OptKind::Adagrad {
        (gradsheet_train::backend::POLL_STEPS / n.max(1)).max(1)
    } else {
        1
    }
}

impl EpochKernel {
    /// As [`EpochKernel::run_into`], for a run whose first span of epochs was trained
    /// side by side with others ([`crate::SideKernel::train`]): the loop takes that
    /// span from `ahead` when it is sound and no step crossed the run's divergence
    /// limit, and otherwise redoes it on this kernel, as it redoes any span. The same
    /// run, bit for bit, as [`EpochKernel::run_into`] (and the interpreter).
    ///
    /// # Errors
    ///
    /// As [`EpochKernel::run_into`].
    pub fn run_ahead(
        &self,
        trainer: &Trainer,
        init: &[f64],
        cfg: &TrainConfig,
        hooks: &mut Hooks<'_>,
        sink: &mut dyn Sink,
        ahead: Ahead<'_>,
    ) -> Result<RunEnd, TrainError> {
        // (The runs `run_into` leaves to the interpreter, or refuses, go there as ever.)
        self.run_from(trainer, init, cfg, hooks, sink, Some(ahead))
    }
}

/// A run's backend whose first span was trained side by side: that span from `ahead`,
/// everything else on the run's own kernel.
struct Primed<'a> {
    native: Native<'a>,
    /// The mean error at the initial values, until the loop asks for it.
    initial: Option<f64>,
    ahead: Option<Ahead<'a>>,
    /// Whether the lanes handed the loop only their span's part before an epoch in
    /// which the run went beyond the loop's limit (or the one before it), until the loop
    /// takes its next epoch: that epoch is better taken alone than in a span that stops
    /// within it and is then redone epoch by epoch.
    bad_next: bool,
}

impl Backend for Primed<'_> {
    fn mean_error(&mut self, params: &[f64]) -> f64 {
        // The loop asks first at the initial values, which the lanes' group knew.
        match self.initial.take() {
            Some(e) => e,
            None => self.native.mean_error(params),
        }
    }

    fn epoch(&mut self, ep: &mut Epoch<'_>) -> EpochEnd {
        self.bad_next = false;
        self.native.epoch(ep)
    }

    fn span(&self) -> usize {
        // The lanes' span first (`SideKernel::span`: it may be longer than the
        // kernel's), then one epoch where the lanes saw the run go bad, then the
        // kernel's.
        match &self.ahead {
            Some(a) => a.epochs(),
            None if self.bad_next => 1,
            None => self.native.span(),
        }
    }

    fn epochs(
        &mut self,
        params: &mut [f64],
        state: &mut State,
        span: usize,
        limit: f64,
        out: &mut Vec<(f64, f64)>,
    ) -> usize {
        // The loop's first span starts from the initial values, as the lanes did, and
        // has the lanes' length (`SideKernel::span`); any other goes to the kernel.
        let Some(ahead) = self.ahead.take().filter(|a| a.epochs() == span) else {
            return self.native.epochs(params, state, span, limit, out);
        };
        // The kernel's own test, on the records (see `Ahead::take`): the whole span, or
        // the part the loop would take as it stands (by its own walk through them), up
        // to where the run goes on alone.
        let native = &self.native;
        let spe = native.cfg.steps_per_epoch(native.trainer.n_rows);
        let factor = native.cfg.divergence_factor;
        let taken = ahead.take(limit, factor, spe, params, &mut state.values, out);
        state.t += (taken * spe) as u64;
        self.bad_next = taken < span;
        taken
    }
}

/// The rows of `rows` (`nc` numbers each) in the order `order`, into `buf`: a shuffled
/// epoch's rows, side by side for the kernel. A row is a few numbers: copied at a width
/// known when compiling for the usual 1 to 4 columns (a copy of a length known only at
/// run time is a call of `memcpy` per row, which cost more than a step of W1; value by
/// value through `Trainer::row`, which was not inlined, 2.8 ns a row of the 16 a
/// shuffled step of W1 took).
fn gather(buf: &mut [f64], rows: &[f64], nc: usize, order: &[u32]) {
    fn at<const C: usize>(buf: &mut [f64], rows: &[f64], order: &[u32]) {
        for (dst, &r) in buf.chunks_exact_mut(C).zip(order) {
            let r = r as usize * C;
            dst.copy_from_slice(&rows[r..r + C]);
        }
    }
    match nc {
        1 => at::<1>(buf, rows, order),
        2 => at::<2>(buf, rows, order),
        3 => at::<3>(buf, rows, order),
        4 => at::<4>(buf, rows, order),
        _ => {
            for (dst, &r) in buf.chunks_exact_mut(nc.max(1)).zip(order) {
                let r = r as usize * nc;
                for (d, s) in dst.iter_mut().zip(&rows[r..r + nc]) {
                    *d = *s;
                }
            }
        }
    }
}

//! Many runs of one model trained side by side, each in a SIMD lane of its own: a
//! stability map's cells, which differ only in their settings (and perhaps their
//! initial values), trained together row by row as a person vectorising the map by
//! hand — or `jax.vmap` over the settings — would train them.
//!
//! A [`SideKernel`] (AVX-512 machine code from `crate::wide`) trains a group of runs
//! for their first span of epochs — the whole run, up to [`MOST_EPOCHS`] or the span
//! the training loop would hand a native backend in one go, whichever is more (see
//! [`gradsheet_train::Backend::epochs`]) — and hands each run's result ([`Ahead`]) to
//! that run's own pass through the training loop ([`EpochKernel::run_ahead`]), whose
//! backend offers the loop that span first.
//! The loop stays the one place that judges a run: it reads the span's records as it
//! reads any backend's, accepts them when no step crossed its divergence limit, and
//! otherwise redoes the span on the run's own kernel, step by step as ever. So a lane
//! whose run diverges costs its group nothing but its lane, and its verdict, diverging
//! step and reason are those of a run on its own.
//!
//! Each lane performs the interpreter's operations in the interpreter's order (the
//! reverse pass is `emit`'s, the update [`Optimizer::workbook_update`]), so an accepted
//! span is the interpreter's bit for bit (tested against it in `tests/it`).
//!
//! [`Optimizer::workbook_update`]: gradsheet_train::Optimizer::workbook_update

use std::sync::Arc;

use gradsheet_train::backend::record_within;
use gradsheet_train::optim::WORKBOOK_HYPERS;
use gradsheet_train::{
    Gradient, LaneExtremes, Record, RunEnd, Sink, State, TrainConfig, Trained, Trainer,
};

use crate::epoch::EpochKernel;
use crate::lanes::{LaneKernel, LaneRows, Width};
use crate::native::Native;
use crate::CompileError;

/// A model and a workbook rule compiled to train [`SideKernel::width`] runs side by
/// side (see the module docs).
///
/// Cloning is cheap and the kernel may be used from many threads at once.
#[derive(Clone)]
pub struct SideKernel {
    native: Arc<Native>,
    /// The runs' own kernel: it decides which runs fit, and takes over where the lanes
    /// stop.
    kernel: EpochKernel,
    width: usize,
    groups: usize,
    n_cols: usize,
    n_params: usize,
    n_state: usize,
    n_hypers: usize,
    /// The mean error over the rows at each run's final parameters, side by side too.
    finals: LaneKernel,
}

impl std::fmt::Debug for SideKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SideKernel")
            .field("lanes", &self.width)
            .field("kernel", &self.kernel)
            .finish()
    }
}

/// One run's first span of epochs (see [`SideKernel::span`]), trained side by side
/// with others ([`SideKernel::train`]), for its pass through the training loop
/// ([`EpochKernel::run_ahead`]).
#[derive(Clone, Debug)]
pub struct Ahead {
    group: Arc<Group>,
    lane: usize,
}

/// What a group's call of [`SideKernel::train`] left, shared by its runs' [`Ahead`]s
/// (a run reads its lane of it, so nothing is copied out per run).
#[derive(Debug)]
struct Group {
    /// The epochs of the span.
    epochs: usize,
    /// The epochs recorded: fewer than `epochs` when the group stopped early, every
    /// run in it having gone bad.
    done: usize,
    /// Lanes.
    width: usize,
    n_params: usize,
    /// Each lane's epochs' sums of errors and largest errors, lane after lane
    /// (`epochs` each, of which `done` are filled).
    records: Vec<(f64, f64)>,
    /// Each lane's records' extremes, folded as they were put in place.
    extremes: LaneExtremes,
    /// Each lane's parameters and state at the end of the records.
    runs: Vec<f64>,
    /// Epochs between two snapshots.
    snap_every: usize,
    /// The block of every lane's parameters and state after every `snap_every` epochs
    /// recorded (as `runs`, one after another): where a run that went bad later takes
    /// up its span alone, rather than from its start.
    snaps: Vec<f64>,
    /// Each lane's mean error at its initial values.
    initial: Vec<f64>,
    /// Each lane's mean error at its final values (the end of the records).
    finals: Vec<f64>,
}

impl Ahead {
    /// The span's length.
    pub(crate) fn epochs(&self) -> usize {
        self.group.epochs
    }

    /// The mean error at the run's initial values.
    pub(crate) fn initial_error(&self) -> f64 {
        self.group.initial[self.lane]
    }

    /// Each recorded epoch's sum of errors and largest error.
    fn records(&self) -> &[(f64, f64)] {
        let g = &*self.group;
        &g.records[self.lane * g.epochs..][..g.done]
    }

    /// The run's parameters (then its state values) at the end of the records.
    fn values(&self) -> impl Iterator<Item = f64> + '_ {
        let g = &*self.group;
        g.runs.iter().skip(self.lane).step_by(g.width).copied()
    }

    /// Hands the span's records to `out` and its parameters and state values to
    /// `params` and `state`, if the span is whole, every number in it finite, and no
    /// error above `limit`: the span the loop would have taken on the run's own kernel.
    /// (A step is bad when its error is not finite or above the limit — a NaN error or
    /// an infinite one makes its epoch's sum non-finite — or a parameter is not finite,
    /// which then stays so.) Otherwise the span's part up to the last snapshot before
    /// its first bad epoch, if that part is sound. Returns the epochs handed over: 0
    /// when none, and then nothing is written.
    pub(crate) fn take(
        &self,
        limit: f64,
        params: &mut [f64],
        state: &mut [f64],
        out: &mut Vec<(f64, f64)>,
    ) -> usize {
        let g = &*self.group;
        let records = self.records();
        let sound = g.extremes.lane(self.lane).within(limit);
        let (epochs, block) = if sound && g.done == g.epochs && self.values().all(f64::is_finite) {
            (g.epochs, &g.runs[..])
        } else {
            // The epochs before the first bad one, and the last snapshot among them
            // whose values are all finite.
            let good = records
                .iter()
                .position(|r| !record_within(r, limit))
                .unwrap_or(g.done);
            let n_run = g.runs.len();
            let snap = (1..=good / g.snap_every).rev().find_map(|k| {
                let block = &g.snaps[(k - 1) * n_run..k * n_run];
                let mut values = block.iter().skip(self.lane).step_by(g.width);
                values
                    .all(|v| v.is_finite())
                    .then_some((k * g.snap_every, block))
            });
            snap.unwrap_or((0, &[]))
        };
        out.extend_from_slice(&records[..epochs]);
        let np = g.n_params;
        for (k, &v) in block.iter().skip(self.lane).step_by(g.width).enumerate() {
            if k < np {
                params[k] = v;
            } else {
                state[k - np] = v;
            }
        }
        epochs
    }

    /// The whole run, where it is this span and the training loop would take it from
    /// the lanes as it stands: [`Trainer::run_trained`] on the lane's records and
    /// values (handing `sink` what the loop would). `None`, with nothing handed to
    /// `sink`, otherwise: the run then goes through the loop
    /// ([`EpochKernel::run_ahead`]), which takes what it can of the span.
    ///
    /// [`EpochKernel::run_ahead`]: crate::EpochKernel::run_ahead
    pub fn whole_run(
        &self,
        trainer: &Trainer,
        cfg: &TrainConfig,
        sink: &mut dyn Sink,
    ) -> Option<RunEnd> {
        let g = &*self.group;
        if g.done != g.epochs || g.epochs != cfg.epochs {
            return None;
        }
        let (params, state): (Vec<f64>, Vec<f64>) = {
            let mut values = self.values();
            (values.by_ref().take(g.n_params).collect(), values.collect())
        };
        let trained = Trained {
            initial_error: self.initial_error(),
            records: self.records(),
            extremes: g.extremes.lane(self.lane),
            params,
            state,
        };
        trainer.run_trained(cfg, trained, sink)
    }

    /// The mean error at `params` if they are the run's values at the end of the span
    /// (bit for bit), as [`EpochKernel::mean_error`] would compute it.
    pub fn final_error_at(&self, params: &[f64]) -> Option<f64> {
        let same = params.len() == self.group.n_params
            && self
                .values()
                .zip(params)
                .all(|(a, b)| a.to_bits() == b.to_bits());
        same.then(|| self.group.finals[self.lane])
    }
}

/// Epochs per call of the native code: a group whose runs have all gone bad stops
/// within this many epochs.
const CALL_EPOCHS: usize = 8;

/// The most epochs a group trains side by side where the loop's own span is shorter
/// (data of more than a few rows): a group keeps each lane's records, 16 bytes a lane
/// and epoch (256 KB for 32 lanes), so a longer run goes on alone after them.
pub const MOST_EPOCHS: usize = 512;

/// The most snapshots a group keeps: a run that goes bad takes up its span alone from
/// the last one before its first bad epoch, within a sixteenth of the span (or
/// [`CALL_EPOCHS`]) of it.
const SNAPSHOTS: usize = 16;

impl SideKernel {
    /// Compiles the runs of `kernel` (compiled for `cfg` on `trainer`) side by side, at
    /// the machine's full width.
    ///
    /// # Errors
    ///
    /// [`CompileError::Unsupported`] where the processor lacks AVX-512, for a run that
    /// is not [`SideKernel::fits`]'s kind (a rule other than the workbook's SGD,
    /// momentum, RMSProp and Adam; mini-batches; shuffled rows; finite differences; kept
    /// epochs), a tape that calls a Rust function, or a model too large for the
    /// registers.
    pub fn compile(
        trainer: &Trainer,
        cfg: &TrainConfig,
        kernel: &EpochKernel,
    ) -> Result<SideKernel, CompileError> {
        if !crate::wide::available() {
            return Err(CompileError::Unsupported(
                "runs side by side need AVX-512".into(),
            ));
        }
        if !Self::fits_run(trainer, cfg) || !kernel.fits(trainer, cfg) {
            return Err(CompileError::Unsupported(
                "runs side by side are per-sample, in order, exact and keep no epoch".into(),
            ));
        }
        let model = &trainer.compiled;
        let w = crate::wide::compile_train(model, &cfg.optimizer, usize::MAX)?;
        let mut h = [0.0; WORKBOOK_HYPERS];
        let n_hypers = cfg.optimizer.workbook_hypers(&mut h).unwrap_or(0);
        let width = w.groups * crate::wide::LANES;
        let params: Vec<u32> = (model.n_cols..model.n_cols + model.n_params)
            .map(|s| s as u32)
            .collect();
        let finals =
            LaneKernel::compile_at(&model.tape, model.n_cols, 1, &params, Width::Holding(width))?;
        Ok(SideKernel {
            finals,
            native: Arc::new(w.native),
            kernel: kernel.clone(),
            width,
            groups: w.groups,
            n_cols: model.n_cols,
            n_params: model.n_params,
            n_state: cfg.optimizer.state_vars().len(),
            n_hypers,
        })
    }

    /// The runs a kernel side by side can train: per-sample, in data order, with exact
    /// gradients, keeping no epoch, by a workbook rule.
    fn fits_run(trainer: &Trainer, cfg: &TrainConfig) -> bool {
        let mut h = [0.0; WORKBOOK_HYPERS];
        cfg.record == Record::Final
            && cfg.shuffle.is_none()
            && cfg.show_fd.is_none()
            && cfg.gradient == Gradient::Auto
            && cfg.batch_rows(trainer.n_rows) == 1
            && cfg.optimizer.workbook_hypers(&mut h).is_some()
    }

    /// Runs per call of [`SideKernel::train`].
    pub fn width(&self) -> usize {
        self.width
    }

    /// The runs' own kernel.
    pub fn kernel(&self) -> &EpochKernel {
        &self.kernel
    }

    /// Whether this kernel trains `cfg` on `trainer` (the model and rule it was
    /// compiled for, and a run of the kind [`SideKernel::compile`] takes).
    pub fn fits(&self, trainer: &Trainer, cfg: &TrainConfig) -> bool {
        Self::fits_run(trainer, cfg) && self.kernel.fits(trainer, cfg)
    }

    /// Whether the lanes would save anything on `cfg`: [`SideKernel::fits`], and its
    /// span is more than one epoch (the loop takes a run of one epoch step by step).
    pub fn helps(&self, trainer: &Trainer, cfg: &TrainConfig) -> bool {
        self.serves(trainer) && self.helps_served(trainer, cfg)
    }

    /// Whether the kernel is for `trainer`'s model: the first thing
    /// [`SideKernel::helps`] checks, which a caller with many runs checks once.
    pub fn serves(&self, trainer: &Trainer) -> bool {
        self.kernel.matches(&trainer.compiled)
    }

    /// [`SideKernel::helps`] for a trainer the kernel [`SideKernel::serves`].
    pub fn helps_served(&self, trainer: &Trainer, cfg: &TrainConfig) -> bool {
        Self::fits_run(trainer, cfg)
            && self.kernel.fits_config(trainer, cfg)
            && self.span(trainer, cfg) > 1
    }

    /// The epochs [`SideKernel::train`] runs for `cfg` (which runs of a group must
    /// share): the whole run, up to [`MOST_EPOCHS`] or the training loop's own span,
    /// whichever is more.
    pub fn span(&self, trainer: &Trainer, cfg: &TrainConfig) -> usize {
        crate::run::span_of(self.kernel.kind(), cfg, trainer.n_rows)
            .max(MOST_EPOCHS)
            .min(cfg.epochs)
    }

    /// Trains `runs` (each a configuration [`SideKernel::fits`] and its initial values;
    /// at most [`SideKernel::width`] of them, all of one [`SideKernel::span`]) side by
    /// side for that span, and returns each run's [`Ahead`] in order. Stops early when
    /// every run has gone bad.
    ///
    /// # Panics
    ///
    /// If there are more runs than lanes, if their spans differ, if a run does not fit
    /// (its initial values of another length), or if its settings are out of their
    /// rule's range (a β of 1; [`gradsheet_train::Optimizer::validate`] refuses them).
    pub fn train(&self, trainer: &Trainer, runs: &[(&TrainConfig, &[f64])]) -> Vec<Ahead> {
        assert!(runs.len() <= self.width, "more runs than lanes");
        let Some(&(first, _)) = runs.first() else {
            return Vec::new();
        };
        let epochs = self.span(trainer, first);
        assert!(self.kernel.matches(&trainer.compiled), "the kernel's model");
        let (np, ns, w) = (self.n_params, self.n_state, self.width);
        let n_run = np * (1 + ns);
        let mut block = vec![0.0; n_run * w];
        let mut settings = vec![0.0; self.n_hypers * w];
        let mut state = vec![0.0; ns * np];
        for lane in 0..w {
            // Spare lanes repeat the last run; their results are dropped.
            let (cfg, init) = runs[lane.min(runs.len() - 1)];
            // (The model was checked once, above.)
            assert!(
                Self::fits_run(trainer, cfg)
                    && self.kernel.fits_config(trainer, cfg)
                    && self.span(trainer, cfg) == epochs,
                "every run fits, with one span"
            );
            assert_eq!(init.len(), np, "one initial value per parameter");
            State::start(&cfg.optimizer, np, &mut state);
            for (j, &v) in init.iter().chain(&state).enumerate() {
                block[j * w + lane] = v;
            }
            let mut h = [0.0; WORKBOOK_HYPERS];
            cfg.optimizer.workbook_hypers(&mut h);
            // The kernel multiplies the exact gradient by these in one multiply-add,
            // exact only for positive factors: what the rule's ranges make them.
            let positive = cfg.optimizer.workbook_positive();
            assert!(
                h.iter().zip(positive).all(|(&v, p)| !p || v > 0.0),
                "a run's settings out of their rule's range"
            );
            for (k, &v) in h.iter().take(self.n_hypers).enumerate() {
                settings[k * w + lane] = v;
            }
        }
        let n = trainer.n_rows;
        assert!(trainer.rows.len() >= n * self.n_cols, "rows too short");
        // Runs that start alike start from one mean error.
        let mut initial = Vec::with_capacity(runs.len());
        for (k, &(_, init)) in runs.iter().enumerate() {
            let same = k > 0 && runs[k - 1].1 == init;
            initial.push(if same {
                initial[k - 1]
            } else {
                self.kernel.mean_error_of(&trainer.rows, n, init)
            });
        }
        let per_epoch = self.groups * 16;
        // One call's records as the kernel writes them: for each epoch, for each
        // register of eight lanes its eight sums, then its eight largest errors.
        let mut records = vec![0.0; CALL_EPOCHS * per_epoch];
        let mut by_lane = vec![(0.0, 0.0); w * epochs];
        let mut extremes = LaneExtremes::new(w);
        let mut done = 0;
        // A snapshot after every few calls, at most `SNAPSHOTS` of them.
        let snap_every = CALL_EPOCHS * epochs.div_ceil(CALL_EPOCHS * SNAPSHOTS).max(1);
        let mut snaps = Vec::with_capacity((epochs / snap_every) * block.len());
        while done < epochs {
            let c = CALL_EPOCHS.min(epochs - done);
            let out = &mut records[..c * per_epoch];
            // SAFETY: `entry` is a `TrainFn` (System V) compiled by `compile_train` for
            // `self.groups` groups and this model, and kept alive by `self.native`; a
            // kernel exists only where the processor has AVX-512F (`compile`). It reads
            // `n · n_cols` values of the rows (checked above), `n_run · width` of
            // `block` and `n_hypers · width` of `settings` (their lengths), and writes
            // `block` and `c · groups · 16` values of `out` (its length).
            #[cfg(target_arch = "x86_64")]
            unsafe {
                let f = std::mem::transmute::<*const u8, crate::wide::TrainFn>(self.native.entry);
                f(
                    trainer.rows.as_ptr(),
                    n as i64,
                    block.as_mut_ptr(),
                    settings.as_ptr(),
                    out.as_mut_ptr(),
                    c as i64,
                );
            }
            // Each lane's records into its extremes, epoch after epoch (a group's sums,
            // then its largest errors, eight lanes each: lanes side by side, no chain).
            for epoch in out.chunks_exact(per_epoch) {
                for (g, group) in epoch.chunks_exact(16).enumerate() {
                    let (sums, maxes) = group.split_at(8);
                    extremes.fold(8 * g, sums, maxes);
                }
            }
            // Each lane's records to its own row of `by_lane`, while the call's are in
            // the cache (each run then reads its own in a row).
            for (lane, row) in by_lane.chunks_exact_mut(epochs).enumerate() {
                let at = (lane / 8) * 16 + lane % 8;
                for (r, epoch) in row[done..done + c]
                    .iter_mut()
                    .zip(out.chunks_exact(per_epoch))
                {
                    *r = (epoch[at], epoch[at + 8]);
                }
            }
            done += c;
            if done % snap_every == 0 {
                snaps.extend_from_slice(&block);
            }
            // A run gone bad has an epoch with a non-finite sum (or NaN for a largest
            // error): stop when every run has one.
            if (0..runs.len()).all(|lane| !extremes.lane(lane).finite()) {
                break;
            }
        }
        let finals = self.final_errors(trainer, &block);
        let group = Arc::new(Group {
            finals,
            epochs,
            done,
            width: w,
            n_params: np,
            records: by_lane,
            extremes,
            runs: block,
            snap_every,
            snaps,
            initial,
        });
        (0..runs.len())
            .map(|lane| Ahead {
                group: Arc::clone(&group),
                lane,
            })
            .collect()
    }

    /// Each lane's mean error over the rows at its parameters in `block` (laid out as
    /// [`SideKernel::train`] keeps them), side by side (`lanes::LaneKernel`, the
    /// interpreter's bits).
    fn final_errors(&self, trainer: &Trainer, block: &[f64]) -> Vec<f64> {
        let (n, nc, np, w) = (trainer.n_rows, self.n_cols, self.n_params, self.width);
        let rows = LaneRows::new(&trainer.rows[..n * nc], nc);
        let tape = &trainer.compiled.tape;
        let mut uniform = vec![0.0; tape.n_vars()];
        for (j, &c) in trainer.compiled.constants.iter().enumerate() {
            if let Some(u) = uniform.get_mut(nc + np + j) {
                *u = c;
            }
        }
        let lw = self.finals.width();
        let mut lanes = vec![0.0; np * lw];
        let mut sums = vec![0.0; lw];
        let mut out = Vec::with_capacity(w);
        for start in (0..w).step_by(lw) {
            for j in 0..np {
                for k in 0..lw {
                    lanes[j * lw + k] = block[j * w + (start + k).min(w - 1)];
                }
            }
            self.finals.sum(&rows, &lanes, &uniform, &mut sums);
            out.extend(sums.iter().take(w - start).map(|s| s / n as f64));
        }
        out
    }
}

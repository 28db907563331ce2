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

use gradsheet_train::optim::WORKBOOK_HYPERS;
use gradsheet_train::{
    first_limit, first_span_within, EpochSums, Gradient, LaneExtremes, Record, Records, RunEnd,
    Sink, State, TrainConfig, Trained, Trainer,
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
/// ([`EpochKernel::run_ahead`]): a view of its lane of the group's [`SideRuns`].
#[derive(Clone, Copy, Debug)]
pub struct Ahead<'g> {
    group: &'g SideRuns,
    lane: usize,
}

/// What a group's call of [`SideKernel::train`] left: each run's span, which each run
/// reads in its lane ([`SideRuns::ahead`]), so that nothing is copied out per run.
#[derive(Debug)]
pub struct SideRuns {
    /// The runs trained (the lanes past them repeat the last).
    count: usize,
    /// The epochs of the span.
    epochs: usize,
    /// The epochs recorded: fewer than `epochs` when the group stopped early, every
    /// run in it having gone bad.
    done: usize,
    /// Lanes.
    width: usize,
    n_params: usize,
    /// The epochs' records as the kernel wrote them, `done` epochs of `per_epoch`
    /// doubles (see [`crate::wide::compile_train`]): for each register of eight lanes
    /// its eight sums of errors, then its eight largest errors; then every lane's
    /// parameters and state at the epoch's end. A run reads its own in place
    /// ([`Records::strided`]).
    records: Vec<f64>,
    per_epoch: usize,
    /// Each lane's records' extremes, folded as they were put in place.
    extremes: LaneExtremes,
    /// Each lane's parameters and state at the end of the records.
    runs: Vec<f64>,
    /// Each lane's mean error at its initial values.
    initial: Vec<f64>,
    /// Each lane's mean error at its final values (the end of the records).
    finals: Vec<f64>,
}

impl SideRuns {
    /// The number of runs.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Run `k`'s span.
    ///
    /// # Panics
    ///
    /// If there is no run `k`.
    pub fn ahead(&self, k: usize) -> Ahead<'_> {
        assert!(k < self.count, "no run {k} of {}", self.count);
        Ahead {
            group: self,
            lane: k,
        }
    }

    /// Each run's span, in order.
    pub fn aheads(&self) -> impl Iterator<Item = Ahead<'_>> + '_ {
        (0..self.count).map(|k| self.ahead(k))
    }
}

impl<'g> Ahead<'g> {
    /// The span's length.
    pub(crate) fn epochs(&self) -> usize {
        self.group.epochs
    }

    /// The mean error at the run's initial values.
    pub(crate) fn initial_error(&self) -> f64 {
        self.group.initial[self.lane]
    }

    /// Each recorded epoch's sum of errors and largest error.
    fn records(&self) -> Records<'g> {
        let g = self.group;
        let at = 16 * (self.lane / 8) + self.lane % 8;
        Records::strided(&g.records[at..], g.done, g.per_epoch, 8)
    }

    /// The run's parameters (then its state values) at the end of the records.
    fn values(&self) -> impl Iterator<Item = f64> + 'g {
        let g = self.group;
        g.runs.iter().skip(self.lane).step_by(g.width).copied()
    }

    /// The run's parameters (then its state values) at the start of epoch `k` of the
    /// span, for `k` from 1 to the epochs recorded: the end of the record of the epoch
    /// before (see [`crate::wide::compile_train`]).
    fn values_at(&self, k: usize) -> impl Iterator<Item = f64> + 'g {
        let g = self.group;
        let end = k * g.per_epoch;
        g.records[end - g.runs.len()..end]
            .iter()
            .skip(self.lane)
            .step_by(g.width)
            .copied()
    }

    /// Hands to `out` the span's records that the training loop would take as they
    /// stand, and to `params` and `state` the run's parameters and state values after
    /// them: where the run takes up its training alone. Those are the epochs before the
    /// first whose record is not within the loop's limit ([`first_span_within`]: a
    /// step's error not finite or above the limit, which falls from `limit`, the first,
    /// as the run's best epoch mean does, for a run of divergence factor `factor` and
    /// `steps_per_epoch` steps an epoch) — the whole span where there is none — or one
    /// fewer, where the values after them are not all finite. (A parameter that is not
    /// finite stays so; the loop then takes the next epoch alone.) Returns the epochs
    /// handed over: 0 when none (a run that goes bad in its first epoch), and then
    /// nothing is written. So the loop takes all it is handed, and where the run went bad
    /// takes that epoch alone: it redoes none of the span on the run's own kernel.
    ///
    /// # Panics
    ///
    /// If `params` or `state` are shorter than the run's parameters and state values.
    pub fn take(
        &self,
        limit: f64,
        factor: f64,
        steps_per_epoch: usize,
        params: &mut [f64],
        state: &mut [f64],
        out: &mut Vec<(f64, f64)>,
    ) -> usize {
        let records = self.records();
        debug_assert_eq!(
            limit.to_bits(),
            first_limit(factor, self.initial_error()).to_bits(),
            "the first span's limit"
        );
        // (The loop's own walk through the records; the lanes stopped no later than the
        // first beyond the first limit, so the records recorded hold the first beyond
        // any, or are the whole span.)
        let extremes = self.group.extremes.lane(self.lane);
        let sums = EpochSums::with_extremes(records, steps_per_epoch, extremes);
        let good = first_span_within(sums, factor, self.initial_error());
        let Some(at) = [good, good.saturating_sub(1)]
            .into_iter()
            .find(|&at| at > 0 && self.values_at(at).all(f64::is_finite))
        else {
            return 0;
        };
        out.extend(records.first(at).iter());
        let np = self.group.n_params;
        for (k, v) in self.values_at(at).enumerate() {
            if k < np {
                params[k] = v;
            } else {
                state[k - np] = v;
            }
        }
        at
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
        let g = self.group;
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

    /// Where the training loop would take the whole run from the lanes as it stands
    /// (what [`Ahead::whole_run`] would hand it, tested by the loop's own test,
    /// [`Trainer::takes_whole`]): the epochs' sums the loop's sink would hear, and the
    /// mean errors at the run's initial and final values. For a verdict that reads no
    /// more of the run: nothing is handed to the loop, nor allocated. `cfg` is one that
    /// [`Trainer::validate`] accepts, as the caller vouches.
    pub fn whole_sums(
        &self,
        trainer: &Trainer,
        cfg: &TrainConfig,
    ) -> Option<(EpochSums<'g>, f64, f64)> {
        let g = self.group;
        if g.done != g.epochs || g.epochs != cfg.epochs {
            return None;
        }
        let extremes = g.extremes.lane(self.lane);
        let initial = self.initial_error();
        let sums = trainer.takes_whole(cfg, initial, self.records(), extremes, self.values())?;
        Some((sums, initial, g.finals[self.lane]))
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

/// The records of one call of a training kernel (see [`crate::wide::compile_train`]):
/// `per_epoch` doubles an epoch, each group's eight sums and eight largest errors first.
struct Rows<'a> {
    out: &'a [f64],
    per_epoch: usize,
}

impl Rows<'_> {
    /// Each lane's records into its extremes, and each lane that went beyond its limit
    /// (`limits`: past [`record_within`]) into `gone` (eight lanes a byte). Eight lanes a
    /// register, without a branch.
    ///
    /// [`record_within`]: gradsheet_train::backend::record_within
    ///
    /// # Panics
    ///
    /// If the lanes (eight for each byte of `gone`) are more than the limits or the
    /// extremes' lanes.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn scan(&self, extremes: &mut LaneExtremes, limits: &[f64], gone: &mut [u8]) {
        use std::arch::x86_64::*;
        let lanes = 8 * gone.len();
        assert!(limits.len() >= lanes, "lanes");
        let inf = _mm512_set1_pd(f64::INFINITY);
        let epochs = self.out.len() / self.per_epoch;
        // Group by group, each's extremes and lanes gone in registers across the epochs.
        for (g, gone) in gone.iter_mut().enumerate() {
            extremes.fold8_block(8 * g, &self.out[16 * g..], epochs, self.per_epoch);
            // SAFETY: a load of eight doubles from a slice of eight.
            let limit = unsafe { _mm512_loadu_pd(limits[8 * g..][..8].as_ptr()) };
            let mut was = *gone;
            for record in self.out.chunks_exact(self.per_epoch) {
                let (sums, maxes) = (&record[16 * g..][..8], &record[16 * g + 8..][..8]);
                // SAFETY: loads of eight doubles from slices of eight.
                let (s, m) = unsafe {
                    (
                        _mm512_loadu_pd(sums.as_ptr()),
                        _mm512_loadu_pd(maxes.as_ptr()),
                    )
                };
                // `record_within`: a finite sum (|sum| < ∞, false for NaN), and the
                // largest error at most the limit (false for NaN).
                let within = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(_mm512_abs_pd(s), inf)
                    & _mm512_cmp_pd_mask::<_CMP_LE_OQ>(m, limit);
                was |= !within;
            }
            *gone = was;
        }
    }
}

/// The most epochs a group trains side by side where the loop's own span is shorter
/// (data of more than a few rows): a group keeps each lane's records and values after
/// each epoch, 16 bytes a lane and epoch and 8 more for each parameter and state value
/// (768 KB for 32 lanes of `a*x+b` with momentum), so a longer run goes on alone after
/// them.
pub const MOST_EPOCHS: usize = 512;

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
        Self::run_settings(trainer, cfg, &mut [0.0; WORKBOOK_HYPERS])
    }

    /// [`SideKernel::fits_run`], with the run's rule's numbers put in `h` where it fits
    /// (`Optimizer::workbook_hypers`): a group's lanes are checked and set in one pass.
    fn run_settings(trainer: &Trainer, cfg: &TrainConfig, h: &mut [f64; WORKBOOK_HYPERS]) -> bool {
        cfg.record == Record::Final
            && cfg.shuffle.is_none()
            && cfg.show_fd.is_none()
            && cfg.gradient == Gradient::Auto
            && cfg.batch_rows(trainer.n_rows) == 1
            && cfg.optimizer.workbook_hypers(h).is_some()
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

    /// Whether the lanes would save anything on `cfg`: [`SideKernel::fits`], and it
    /// has an epoch to train. (A run of one epoch, which the loop takes epoch by epoch
    /// rather than in spans, is judged from its lanes as a span of one
    /// ([`Ahead::whole_sums`], [`Ahead::whole_run`]): the same end, bit for bit, as the
    /// loop's test of each step against the first epoch's limit is the span's.)
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
        // (A span is at least an epoch where the run has one: `SideKernel::span` cuts
        // at least `MOST_EPOCHS` at the run's epochs.)
        Self::fits_run(trainer, cfg) && self.kernel.fits_config(trainer, cfg) && cfg.epochs > 0
    }

    /// The epochs [`SideKernel::train`] runs for `cfg` (which runs of a group must
    /// share): the whole run, up to [`MOST_EPOCHS`] or the training loop's own span,
    /// whichever is more.
    pub fn span(&self, trainer: &Trainer, cfg: &TrainConfig) -> usize {
        self.longest_span(trainer, cfg).min(cfg.epochs)
    }

    /// [`SideKernel::span`] before the cut at the run's epochs.
    fn longest_span(&self, trainer: &Trainer, cfg: &TrainConfig) -> usize {
        crate::run::span_of(self.kernel.kind(), cfg, trainer.n_rows).max(MOST_EPOCHS)
    }

    /// Trains `runs` (each a configuration [`SideKernel::fits`] and its initial values;
    /// at most [`SideKernel::width`] of them, all of one [`SideKernel::span`]) side by
    /// side for that span, and returns what the group left, each run's [`Ahead`] in
    /// order ([`SideRuns::ahead`]). Stops early when
    /// every run has gone bad.
    ///
    /// # Panics
    ///
    /// If there are more runs than lanes, if their spans differ, if a run does not fit
    /// (its initial values of another length), or if its settings are out of their
    /// rule's range (a β of 1; [`gradsheet_train::Optimizer::validate`] refuses them).
    pub fn train(&self, trainer: &Trainer, runs: &[(&TrainConfig, &[f64])]) -> SideRuns {
        assert!(runs.len() <= self.width, "more runs than lanes");
        let Some(&(first, _)) = runs.first() else {
            return SideRuns {
                count: 0,
                epochs: 0,
                done: 0,
                width: self.width,
                n_params: self.n_params,
                records: Vec::new(),
                per_epoch: 1,
                extremes: LaneExtremes::new(0),
                runs: Vec::new(),
                initial: Vec::new(),
                finals: Vec::new(),
            };
        };
        // Every run fits, with one span: `SideKernel::span` is the same for every run that
        // fits (what `span_of` reads, fitting fixes) but for the cut at its epochs.
        let longest = self.longest_span(trainer, first);
        let epochs = longest.min(first.epochs);
        assert!(self.kernel.matches(&trainer.compiled), "the kernel's model");
        let (np, ns, w) = (self.n_params, self.n_state, self.width);
        let n_run = np * (1 + ns);
        let mut block = vec![0.0; n_run * w];
        let mut settings = vec![0.0; self.n_hypers * w];
        let mut state = vec![0.0; ns * np];
        for lane in 0..w {
            // Spare lanes repeat the last run; their results are dropped.
            let (cfg, init) = runs[lane.min(runs.len() - 1)];
            let mut h = [0.0; WORKBOOK_HYPERS];
            // (The model was checked once, above.)
            assert!(
                Self::run_settings(trainer, cfg, &mut h)
                    && self.kernel.fits_config(trainer, cfg)
                    && cfg.epochs.min(longest) == epochs,
                "every run fits, with one span"
            );
            assert_eq!(init.len(), np, "one initial value per parameter");
            State::start(&cfg.optimizer, np, &mut state);
            for (j, &v) in init.iter().chain(&state).enumerate() {
                block[j * w + lane] = v;
            }
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
        let per_epoch = crate::wide::train_record_len(self.groups, n_run);
        // The span's records as the kernel writes them, epoch after epoch, kept where
        // it wrote them (a run reads its own in place): for each register of eight
        // lanes its eight sums, then its eight largest errors; then every lane's
        // parameters and state at the epoch's end, laid out as `block` — where a lane
        // that goes bad takes up its run alone. (Written by the kernel: not zeroed
        // first, nor copied out of a smaller room after each call.)
        let mut records: Vec<f64> = Vec::with_capacity(epochs * per_epoch);
        let mut extremes = LaneExtremes::new(w);
        // Each lane's first limit, the loop's for the run's first span: where a run
        // first goes beyond it, it will take up its training alone.
        let limits: Vec<f64> = (0..w)
            .map(|lane| {
                let k = lane.min(runs.len() - 1);
                first_limit(runs[k].0.divergence_factor, initial[k])
            })
            .collect();
        // The lanes that went beyond, eight a byte.
        let mut gone = vec![0u8; self.groups];
        let went = |gone: &[u8], lane: usize| gone[lane / 8] >> (lane % 8) & 1 == 1;
        let mut done = 0;
        while done < epochs {
            let c = CALL_EPOCHS.min(epochs - done);
            let out = &mut records.spare_capacity_mut()[..c * per_epoch];
            // SAFETY: `entry` is a `TrainFn` (System V) compiled by `compile_train` for
            // `self.groups` groups and this model, and kept alive by `self.native`; a
            // kernel exists only where the processor has AVX-512F (`compile`). It reads
            // `n · n_cols` values of the rows (checked above), `n_run · width` of
            // `block` and `n_hypers · width` of `settings` (their lengths), and writes
            // `block` and `c · train_record_len` values of `out` (its length: room the
            // records have, for `epochs` epochs), every one of them: the records' length
            // then takes them in.
            #[cfg(target_arch = "x86_64")]
            unsafe {
                let f = std::mem::transmute::<*const u8, crate::wide::TrainFn>(self.native.entry);
                f(
                    trainer.rows.as_ptr(),
                    n as i64,
                    block.as_mut_ptr(),
                    settings.as_ptr(),
                    out.as_mut_ptr().cast::<f64>(),
                    c as i64,
                );
                records.set_len((done + c) * per_epoch);
            }
            // The call's records each lane's into its extremes, and the lanes that
            // went beyond their first limit.
            let rows = Rows {
                out: &records[done * per_epoch..],
                per_epoch,
            };
            // SAFETY: a kernel exists only where the processor has AVX-512F (`compile`).
            #[cfg(target_arch = "x86_64")]
            unsafe {
                rows.scan(&mut extremes, &limits, &mut gone)
            };
            done += c;
            // A run that went beyond its first limit is taken up alone no later than
            // where it did (see `Ahead::take`): stop when every run has.
            if (0..runs.len()).all(|lane| went(&gone, lane)) {
                break;
            }
        }
        let finals = self.final_errors(trainer, &block);
        SideRuns {
            count: runs.len(),
            finals,
            epochs,
            done,
            width: w,
            n_params: np,
            records,
            per_epoch,
            extremes,
            runs: block,
            initial,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use gradsheet_train::backend::record_within;
    use gradsheet_train::Extremes;
    use proptest::prelude::*;

    /// A record's number as the lanes may write one: any size, zeros of both signs,
    /// infinities, NaN.
    fn number() -> impl Strategy<Value = f64> {
        gradsheet_testkit::with_ieee_edges(0.0f64..10.0)
    }

    proptest! {
        /// The scan of a call's records, eight lanes a register, is the records read
        /// lane by lane: each lane's records read in place, its extremes
        /// (`Extremes::of`), and whether it went beyond its limit (`record_within`) in
        /// the call or before.
        #[test]
        fn a_calls_records_scanned_are_each_lanes(
            numbers in prop::collection::vec(number(), 2 * 16 * 8),
            limits in prop::collection::vec(prop_oneof![Just(0.0), Just(f64::INFINITY), 0.0f64..10.0], 16),
            extra in 0usize..3,
            // (Eight, a call's usual, or fewer: the last call of a span.)
            epochs_in_call in prop_oneof![Just(8usize), 1usize..8],
        ) {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") {
                let groups = 2;
                // Each epoch's record: the groups' sums and largest errors, then
                // `extra` numbers (the runs' values, which the scan passes over).
                let per_epoch = 16 * groups + extra;
                let mut out = vec![0.0; per_epoch * epochs_in_call];
                for (e, chunk) in numbers.chunks(16 * groups).take(epochs_in_call).enumerate() {
                    out[e * per_epoch..][..16 * groups].copy_from_slice(chunk);
                }
                let rows = Rows { out: &out, per_epoch };
                let lanes = 8 * groups;
                let mut extremes = LaneExtremes::new(lanes);
                let mut gone = vec![0u8; groups];
                gone[1] = 0b0000_0101; // lanes 8 and 10 went beyond before
                // SAFETY: the processor has AVX-512F (just checked).
                unsafe { rows.scan(&mut extremes, &limits, &mut gone) };
                for (lane, &limit) in limits.iter().enumerate().take(lanes) {
                    let (g, k) = (lane / 8, lane % 8);
                    let own: Vec<(f64, f64)> = (0..epochs_in_call)
                        .map(|e| (out[e * per_epoch + 16 * g + k], out[e * per_epoch + 16 * g + 8 + k]))
                        .collect();
                    // Read in place as a run reads its own.
                    let read = Records::strided(&out[16 * g + k..], epochs_in_call, per_epoch, 8);
                    let key = |r: (f64, f64)| (r.0.to_bits(), r.1.to_bits());
                    prop_assert!(read.iter().map(key).eq(own.iter().copied().map(key)));
                    let (a, b) = (extremes.lane(lane), Extremes::of(&own));
                    prop_assert_eq!(
                        (a.least().to_bits(), a.largest().to_bits(), a.finite()),
                        (b.least().to_bits(), b.largest().to_bits(), b.finite())
                    );
                    let before = lane == 8 || lane == 10;
                    let beyond = own.iter().any(|r| !record_within(r, limit));
                    prop_assert_eq!(gone[g] >> k & 1 == 1, before || beyond, "lane {}", lane);
                }
            }
        }
    }
}

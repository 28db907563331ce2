//! gradsheet's native compiler (BENCHMARKS.md): a model's tape and an update rule compiled by
//! Cranelift into one machine-code loop that trains over the rows (one by one or by
//! mini-batches), with the parameters in registers (in memory, the update a loop over
//! them, for models of a few dozen parameters and more) and the update done two
//! parameters at a time where the rule has square roots and divisions. The interpreter ([`gradsheet_engine::Tape`],
//! [`gradsheet_train::Trainer::run`]) stays the reference: the compiled code performs
//! the same IEEE operations in the same order and calls the same Rust functions for
//! transcendentals, so its traces are bit for bit the interpreter's (see [`emit`]'s
//! docs for the argument, and `tests/it` for the random formulas that check it).
//!
//! ```
//! use gradsheet_engine::{Dataset, Model, Roles};
//! use gradsheet_train::{Hooks, Optimizer, Record, TrainConfig, Trainer};
//!
//! let model = Model::new("c*MAX(a*x+b,0)+d", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
//! let trainer = Trainer::new(&model, &Dataset::graddesc()).unwrap();
//! let mut cfg = TrainConfig::new(Optimizer::torch_adam(0.1), 50);
//! cfg.record = Record::Epochs;
//! let fast = gradsheet_jit::run_fast(&trainer, &[1.0; 4], &cfg).unwrap().unwrap();
//! let slow = trainer.run(&[1.0; 4], &cfg, &mut Hooks::none()).unwrap();
//! assert_eq!(fast, slow); // every epoch summary, bit for bit
//! ```
//!
//! A stability map's runs, which differ only in their settings, train side by side in
//! SIMD lanes ([`SideKernel`], AVX-512 where the processor has it), each run still
//! judged by the one training loop (see `side`'s docs).
//!
//! Like the engine, the crate does no IO. Its `unsafe` is confined to calling the code
//! it generated (`EpochKernel::call`, `GradKernel::call`) and freeing it
//! (`native::Native`), each with the argument for its soundness.

pub mod best;
pub mod collab;
pub mod emit;
pub mod epoch;
pub mod grad;
pub mod lanes;
mod native;
mod pages;
pub mod run;
pub mod side;
pub mod surface;
mod wide;
pub mod workloads;

pub use epoch::{EpochKernel, OptKind};
pub use grad::GradKernel;
pub use lanes::{LaneKernel, LaneRows, Width};
pub use run::{train, train_into, unsupported};
pub use side::{Ahead, SideKernel, SideRuns, MOST_EPOCHS};

/// The rayon this crate runs its parallel workloads on (for callers that build their own
/// thread pools, such as `gradsheet bench`'s 1-versus-2-threads measurement).
pub use rayon;

use gradsheet_train::{Hooks, Trace, TrainConfig, TrainError, Trainer};
use rayon::prelude::*;

/// Why a model or rule was not compiled.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CompileError {
    /// The interpreter handles this case (an update rule the compiler does not know).
    #[error("not compiled: {0}")]
    Unsupported(String),
    /// The request itself is wrong (an axis that is not a parameter, ...), in words.
    #[error("{0}")]
    Invalid(String),
    /// Cranelift failed (an internal error).
    #[error("native code generation failed: {0}")]
    Backend(String),
}

/// Native kernels for many runs of one model (a sweep, a stability map): one per shape
/// of run among them, compiled once; hyperparameters are read at run time.
#[derive(Clone, Debug, Default)]
pub struct Kernels {
    shaped: Vec<EpochKernel>,
}

impl Kernels {
    /// Compiles a kernel for each shape of run among `cfgs` on `trainer` (kind of rule,
    /// per-sample or by mini-batches, gradient, a rate of 0: see [`EpochKernel::fits`]),
    /// with the gradient norms only if a run keeps epoch summaries (a stability map's
    /// keep only their final summaries and epoch means). Runs the compiler leaves to the
    /// interpreter get none. Find a run's kernel with [`Kernels::fitting`].
    pub fn for_configs(trainer: &Trainer, cfgs: &[TrainConfig]) -> Kernels {
        let mut kernels = Kernels::default();
        kernels.add_for(trainer, cfgs);
        kernels
    }

    /// Compiles a kernel for each shape of run among `cfgs` on `trainer` that none of
    /// these kernels fits (as [`Kernels::for_configs`]): a caller may compile the first
    /// run's kernel while it makes the others' settings, then add the rest.
    pub fn add_for(&mut self, trainer: &Trainer, cfgs: &[TrainConfig]) {
        // (The model compared once: every kernel added here is this model's.)
        let mut ours: Vec<bool> = self
            .shaped
            .iter()
            .map(|k| k.matches(&trainer.compiled))
            .collect();
        // The runs in order, each that no kernel fits given one: the next such run found
        // in parallel (a map's cells are many, and mostly of one shape or two), a block of
        // runs at a time (one at a time, rayon's search cost three times the test).
        const BLOCK: usize = 256;
        let mut from = 0;
        loop {
            let (shaped, ours_now) = (&self.shaped, &ours);
            let unfit = |cfg: &TrainConfig| {
                let fits =
                    (shaped.iter().zip(ours_now)).any(|(k, &o)| o && k.fits_config(trainer, cfg));
                !fits && unsupported(trainer, cfg).is_none()
            };
            let rest = &cfgs[from..];
            let next = rest
                .par_chunks(BLOCK)
                .position_first(|block| block.iter().any(unfit))
                .and_then(|b| {
                    let i = rest[b * BLOCK..].iter().position(unfit)?;
                    Some(b * BLOCK + i)
                });
            let Some(i) = next else {
                break;
            };
            if let Ok(kernel) = EpochKernel::compile_for(trainer, &cfgs[from + i]) {
                self.shaped.push(kernel);
                ours.push(true);
            }
            from += i + 1;
        }
    }

    /// The kernel that runs `cfg` on `trainer`, if [`Kernels::for_configs`] compiled one.
    pub fn fitting(&self, trainer: &Trainer, cfg: &TrainConfig) -> Option<&EpochKernel> {
        self.shaped.iter().find(|k| k.fits(trainer, cfg))
    }

    /// [`Kernels::fitting`] for each of `cfgs`, in order, comparing the model with each
    /// kernel's once for all of them rather than once for each run (a map's ten
    /// thousand).
    pub fn fitting_each(
        &self,
        trainer: &Trainer,
        cfgs: &[TrainConfig],
    ) -> Vec<Option<&EpochKernel>> {
        let ours: Vec<&EpochKernel> = self
            .shaped
            .iter()
            .filter(|k| k.matches(&trainer.compiled))
            .collect();
        // (In parallel: a map's cells are many.)
        cfgs.par_iter()
            .map(|cfg| ours.iter().copied().find(|k| k.fits_config(trainer, cfg)))
            .collect()
    }

    /// Trains natively when a kernel fits and the run is one the compiler supports, on
    /// the interpreter otherwise: the same trace either way (see [`train_into`]).
    ///
    /// # Errors
    ///
    /// Those of [`Trainer::run`].
    pub fn run(
        &self,
        trainer: &Trainer,
        init: &[f64],
        cfg: &TrainConfig,
    ) -> Result<Trace, TrainError> {
        train(
            trainer,
            init,
            cfg,
            &mut Hooks::none(),
            self.fitting(trainer, cfg),
        )
    }
}

/// Trains on native code when the run is one the compiler supports: per-sample or by
/// mini-batches, exact or finite-difference gradients,
/// [`gradsheet_train::Record::Final`] or `Epochs`, and one of the rules of [`OptKind`]. Returns `None` otherwise (call [`Trainer::run`]; or call
/// [`train`], which chooses). If compiling fails, the interpreter runs it.
///
/// The trace equals [`Trainer::run`]'s bit for bit. For many runs of one model and one
/// kind of rule (a sweep), compile once with [`EpochKernel::compile`] and call
/// [`EpochKernel::run`] for each: hyperparameters are read at run time.
///
/// # Errors
///
/// Those of [`Trainer::run`].
pub fn run_fast(
    trainer: &Trainer,
    init: &[f64],
    cfg: &TrainConfig,
) -> Option<Result<Trace, TrainError>> {
    run_fast_with(trainer, init, cfg, &mut Hooks::none())
}

/// As [`run_fast`], with `hooks` polled as [`Trainer::run`] polls them (progress after
/// each epoch or chunk of epochs, a stop request between them).
///
/// # Errors
///
/// Those of [`Trainer::run`].
pub fn run_fast_with(
    trainer: &Trainer,
    init: &[f64],
    cfg: &TrainConfig,
    hooks: &mut Hooks<'_>,
) -> Option<Result<Trace, TrainError>> {
    if unsupported(trainer, cfg).is_some() {
        return None;
    }
    Some(train(trainer, init, cfg, hooks, None))
}

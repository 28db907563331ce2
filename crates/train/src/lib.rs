//! gradsheet's training: optimizers in the workbooks' and PyTorch's conventions, the
//! training loop over any formula model, its trace, and synthetic data.
//!
//! Pure like the engine: no files, terminal or network; deterministic for a seed.
//!
//! ```
//! use gradsheet_engine::{Dataset, Model, Roles};
//! use gradsheet_train::{Hooks, Optimizer, TrainConfig, Trainer};
//!
//! let model = Model::new("c*MAX(a*x+b,0)+d", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
//! let trainer = Trainer::new(&model, &Dataset::graddesc()).unwrap();
//! let cfg = TrainConfig::new(Optimizer::torch_adam(0.1), 3);
//! let trace = trainer.run(&[1.0; 4], &cfg, &mut Hooks::none()).unwrap();
//! assert_eq!(trace.len(), 3 * 29);
//! let first = trace.step(0);
//! assert_eq!(first.inputs, &[14.0, 58.0]);
//! assert_eq!(first.pred, 16.0); // 1*MAX(1*14+1,0)+1
//! ```

pub mod backend;
pub mod gen;
pub mod graddesc;
pub mod optim;
mod orders;
pub mod rng;
pub mod rules;
pub mod sink;
pub mod trace;
pub mod train;

pub use backend::{Backend, Epoch, EpochEnd, Interpreter};
pub use gen::{GenError, Generator};
pub use optim::{Convention, HyperValues, Optimizer, State};
pub use rules::{Hyper, HyperDef, OptimizerError, Range, Rule, Value, RULES};
pub use sink::{EpochSums, Extremes, Fanout, LaneExtremes, Plan, Records, RunEnd, Sink};
pub use trace::{EpochSummary, Layout, Record, StepView, Stop, Thinned, Trace};
pub use train::{
    divergence, first_limit, first_span_within, Gradient, Hooks, Reason, TrainConfig, TrainError,
    Trained, Trainer, DIVERGENCE_FACTOR,
};

/// Formats a number for messages: the shortest text that reads back the same.
pub fn fmt_num(v: f64) -> String {
    gradsheet_engine::format_number(v)
}

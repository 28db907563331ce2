//! gradsheet's diagnosis of training runs: why a run diverges or stalls, in numbers.
//!
//! - [`hessian`]: the exact Hessian of a row's error (symbolic second derivatives
//!   compiled once) and a Jacobi eigen-solver for small symmetric matrices.
//! - [`mod@explain`]: the first bad step, the curvature and SGD's stability bound there, the
//!   rows and parameters that drive it, and remedies verified by re-running.
//! - [`collapse`]: models that are reparametrisations of simpler ones, and the on/off
//!   history of ReLU units.
//! - [`mod@sweep`]: stability maps over a grid of two settings, in parallel.
//!
//! Pure like the engine and the training: no IO, deterministic.
//!
//! ```
//! use gradsheet_engine::{Dataset, Model, Roles};
//! use gradsheet_train::{Optimizer, TrainConfig, Trainer};
//! use gradsheet_diagnose::explain::{explain, ExplainOptions};
//!
//! let model = Model::new("c*(a*x+b)+d", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
//! let trainer = Trainer::new(&model, &Dataset::graddesc()).unwrap();
//! let cfg = TrainConfig::new(Optimizer::sgd(1e-4), 1);
//! let opts = ExplainOptions { remedies: false, ..ExplainOptions::default() };
//! let d = explain(&trainer, &[1.0; 4], &cfg, &opts).unwrap();
//! assert_eq!(d.divergence.unwrap().step, 28);
//! ```

pub mod collapse;
pub mod explain;
pub mod fmt;
pub mod hessian;
pub mod minimum;
pub mod summary;
pub mod sweep;

pub use explain::{explain, Diagnosis, ExplainOptions};
pub use sweep::{sweep, Axis, Class, Map, Setting};

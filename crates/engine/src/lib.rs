//! gradsheet's engine: formulas in spreadsheet syntax, their derivatives three ways
//! (symbolic, automatic, finite differences), and the compiled tape everything else
//! runs on.
//!
//! The crate is pure: no files, no terminal, no network, no clock. Everything is `f64`
//! and deterministic (random points come from a seeded ChaCha generator).
//!
//! # A worked example
//!
//! The 2-neuron ReLU model of a fast.ai learner, `c*MAX(a*x+b,0)+d`, fitted by hand to
//! the first graddesc row for three steps of plain SGD:
//!
//! ```
//! use gradsheet_engine::{Dataset, Model, Roles};
//!
//! let model = Model::new("c*MAX(a*x+b,0)+d", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
//! assert_eq!(model.params, ["c", "a", "b", "d"]);
//! // The symbolic derivative, printed as an Excel formula and in mathematics:
//! assert_eq!(model.derivative("a").to_string(), "2*(c*MAX(a*x+b,0)+d-y)*c*IF(a*x+b>=0,x,0)");
//! assert_eq!(model.derivative("a").to_math(), "2·(c·max(a·x + b, 0) + d − y)·c·(x if a·x + b ≥ 0 else 0)");
//!
//! // The automatic derivative: one forward and one backward pass on the compiled tape.
//! let compiled = model.compile();
//! let mut ws = compiled.workspace();
//! let data = Dataset::graddesc();
//! let row = data.project(&model.columns).unwrap();
//! let mut p = [1.0, 1.0, 1.0, 1.0];
//! let mut g = [0.0; 4];
//! for _ in 0..3 {
//!     compiled.row_grad(&mut ws, &row[0..2], &p, &mut g);
//!     for (pi, gi) in p.iter_mut().zip(&g) {
//!         *pi -= 1e-4 * gi;
//!     }
//! }
//! let (pred, err) = compiled.row(&mut ws, &row[0..2], &p);
//! assert!(err < 1849.0); // (1*(1*14+1)+1 - 58)^2 = 1764 before the first step... and less after
//! assert!(pred > 16.0);
//! ```

pub mod arith;
pub mod batch;
pub mod check;
pub mod data;
pub mod diff;
pub mod error;
pub mod eval;
pub mod expr;
pub mod fd;
pub mod gradcheck;
pub mod graph;
pub mod linalg;
pub mod model;
pub mod op;
pub mod parse;
pub mod simplify;
pub mod tape;

pub use check::{check_derivative, CheckOptions, CheckPoint, DerivativeCheck, Finding};
pub use data::Dataset;
pub use diff::derivative;
pub use error::{ErrorKind, FormulaError, Span};
pub use eval::UnknownName;
pub use expr::{format_number, format_sig, Expr, Notation};
pub use fd::Scheme;
pub use model::{loss_formula, CompiledModel, Model, Role, Roles, LOSSES, PRED};
pub use op::{Binary, Cmp, Fold, Op, Unary};
pub use parse::parse;
pub use simplify::simplify;
pub use tape::{Code, Instr, Operand, Tape, TapeBuilder, Workspace};

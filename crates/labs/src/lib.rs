//! gradsheet's labs: one module per fast.ai teaching workbook, recomputing every cell
//! of its sheets from the sheet's *inputs* (typed constants, pasted random numbers,
//! pasted records) with Excel's arithmetic, so that each number a learner sees in the
//! workbook can be shown, explained and varied.
//!
//! The crate is pure: no files, no terminal, no clock. The workbook inputs are embedded
//! (`data/*.csv`, extracted once by `data/extract.py` from the golden grids, which
//! documents every range). Formula outputs are never embedded: the tests compare what
//! the labs compute against the cached values Excel saved.
//!
//! Each lab returns plain data (structs of public fields, `Vec<Vec<f64>>` grids) so that
//! a terminal table, an xlsx export and a web page can all be views of the same result.
//!
//! # Excel arithmetic
//!
//! Reproducing Excel bit for bit needs its evaluation rules (docs/workbooks.md §0.3), collected in
//! [`excel`]: sums accumulate left to right (row-major for 2-D ranges), `x^n` is
//! [`f64::powi`], `LOG` is base 10 and `ROUND` rounds halves away from zero.
//!
//! # A worked example
//!
//! The softmax sheet of `entropy_example.xlsx` and the first cross-entropy row:
//!
//! ```
//! use gradsheet_labs::entropy;
//!
//! let sheet = entropy::course_v3_softmax();
//! assert_eq!(sheet.image1.sum_exp, 12.698085405662953);
//! // Softmax is shift-invariant; the sigmoids of the same logits are not.
//! assert!((sheet.image1.probs[0] - sheet.image2.probs[0]).abs() < 1e-15);
//! assert!(sheet.sigmoid1[0] != sheet.sigmoid2[0]);
//! // Binary cross-entropy in log10, as the sheet computes it.
//! assert_eq!(entropy::binary_ce_log10(1.0, 0.5), 0.3010299956639812);
//! ```

#![warn(missing_docs)]

pub mod collab;
pub mod conv;
mod data;
pub mod entropy;
pub mod error;
pub mod excel;
pub mod layers;
pub mod mom_bias;
pub mod optim;
pub mod small;
pub mod titanic;

pub use error::LabError;
pub use optim::{lbfgs, AdamConfig, AdamState, LbfgsConfig, LbfgsResult};

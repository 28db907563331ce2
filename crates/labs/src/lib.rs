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
//! # One kind of lab
//!
//! [`lab`] describes every lab, this crate's and `gradsheet-concepts`'s alike: a
//! [`Lab`] has parameters with bounds and one set of defaults ([`ParamSpec`]), a pure
//! `run`, and an [`Output`] of notes, tables and figures as data ([`figure`]).
//! [`workbooks`] holds the workbook labs ([`WORKBOOKS`]); the concept labs join them in
//! `gradsheet_report::labs::all`, where their workbooks and files are made.
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
pub mod figure;
pub mod lab;
pub mod layers;
pub mod material;
pub mod mom_bias;
pub mod optim;
pub mod small;
pub mod titanic;
pub mod workbooks;

pub use error::LabError;
pub use figure::Figure;
pub use lab::{Group, Image, Kind, Lab, Output, ParamSpec, Params, Table, Value};
pub use optim::{lbfgs, AdamConfig, AdamState, LbfgsConfig, LbfgsResult};
pub use workbooks::WORKBOOKS;

/// A number as a table or a note shows it: up to `sig` significant digits with trailing
/// zeros dropped, an exponent for very large or small values, NaN and infinities spelled
/// out. The terminal tables, the labs' notes and the web app's tables all use it.
///
/// # Examples
///
/// ```
/// assert_eq!(gradsheet_labs::cell(103.99322533093216, 6), "103.993");
/// assert_eq!(gradsheet_labs::cell(1e-7, 4), "1.000e-7");
/// ```
pub fn cell(v: f64, sig: usize) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return "0".into();
    }
    let mag = v.abs().log10().floor() as i32;
    if !(-4..=9).contains(&mag) {
        return format!("{:.*e}", sig.saturating_sub(1), v);
    }
    let decimals = (sig as i32 - 1 - mag).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

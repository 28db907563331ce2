//! gradsheet's reports: views of a run turned into bytes.
//!
//! - [`xlsx`]: a workbook whose every number is a live formula mirroring the engine's
//!   computation, with the engine's values as the formulas' cached results.
//! - [`chart`]: charts as SVG and PNG.
//! - [`concepts`]: the concept labs (`gradsheet-concepts`) as workbooks with live formulas.
//!
//! The crate never touches the filesystem: every function returns bytes or a string, and
//! the app writes them.

pub mod chart;
pub mod concepts;
pub mod graddesc;
pub mod labs;
pub mod xlsx;

pub use chart::{ChartError, Series};
pub use xlsx::{run_workbook, RunSpec, XlsxError, XlsxOptions};

/// A number as a table shows it: up to `sig` significant digits with trailing zeros
/// dropped, an exponent for very large or small values, NaN and infinities spelled out.
/// The terminal tables and the web app's lab tables both use it.
///
/// # Examples
///
/// ```
/// assert_eq!(gradsheet_report::cell(103.99322533093216, 6), "103.993");
/// assert_eq!(gradsheet_report::cell(1e-7, 4), "1.000e-7");
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

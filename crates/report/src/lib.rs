//! gradsheet's reports: views of a run turned into bytes.
//!
//! - [`xlsx`]: a workbook whose every number is a live formula mirroring the engine's
//!   computation, with the engine's values as the formulas' cached results.
//! - [`chart`]: charts as SVG and PNG: a run's charts and the labs' figures.
//! - [`labs`]: every lab by name (workbook and concept labs), its workbook of live
//!   formulas and its files; [`concepts`]: the concept labs' workbooks.
//!
//! The crate never touches the filesystem: every function returns bytes or a string, and
//! the app writes them.

pub mod book;
pub mod chart;
pub mod concepts;
pub mod graddesc;
pub mod labs;
pub mod net;
pub mod xlsx;

pub use chart::{ChartError, Series};
pub use xlsx::{run_workbook, RunSpec, XlsxError, XlsxOptions};

/// A count with its thousands grouped: `2000000` → `2,000,000`.
///
/// # Examples
///
/// ```
/// assert_eq!(gradsheet_report::grouped(2_000_000), "2,000,000");
/// assert_eq!(gradsheet_report::grouped(999), "999");
/// ```
pub fn grouped(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A number as a table shows it (see [`gradsheet_labs::cell`]): the terminal tables and
/// the web app's lab tables both use it.
pub use gradsheet_labs::cell;

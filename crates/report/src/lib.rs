//! gradsheet's reports: views of a run turned into bytes.
//!
//! - [`xlsx`]: a workbook whose every number is a live formula mirroring the engine's
//!   computation, with the engine's values as the formulas' cached results.
//! - [`chart`]: charts as SVG and PNG.
//! - [`concepts`]: the concept labs (issue 9) as workbooks with live formulas.
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

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

pub mod chart;
pub mod concepts;
pub mod graddesc;
pub mod labs;
pub mod xlsx;

pub use chart::{ChartError, Series};
pub use xlsx::{run_workbook, RunSpec, XlsxError, XlsxOptions};

/// A number as a table shows it (see [`gradsheet_labs::cell`]): the terminal tables and
/// the web app's lab tables both use it.
pub use gradsheet_labs::cell;

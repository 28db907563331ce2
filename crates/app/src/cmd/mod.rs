//! One module per subcommand, plus the flags they share.

pub mod bench;
pub mod check;
pub mod collab;
pub mod common;
pub mod diff;
pub mod eval;
pub mod explain;
pub mod export;
pub mod graddesc;
pub mod lab;
pub mod run;
pub mod serve;
pub mod surface;
pub mod sweep;
pub mod train;

pub use crate::error::{usage, UsageError};

/// A formula error, rendered with the caret under the fault.
pub fn formula_error(what: &str, e: &gradsheet_engine::FormulaError) -> anyhow::Error {
    usage(format!("in the {what}:\n{}", indent(&e.render())))
}

/// Indents every line by two spaces.
pub fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

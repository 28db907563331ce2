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

use std::fmt;

/// An error in what the user typed (a formula, a flag, a file's content): printed
/// without a chain and answered with exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A usage error from anything printable.
pub fn usage(msg: impl fmt::Display) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.to_string()))
}

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

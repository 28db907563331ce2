//! One module per subcommand, plus the flags they share.

pub mod bench;
mod bench_native;
pub mod book;
pub mod check;
pub mod collab;
pub mod common;
pub mod diff;
pub mod eval;
pub mod explain;
pub mod export;
pub mod graddesc;
pub mod lab;
pub mod net;
pub mod run;
pub mod serve;
pub mod surface;
pub mod sweep;
pub mod train;

use std::fmt;

pub use crate::error::{usage, UsageError};

/// A run stopped by Ctrl-C after writing what it computed: printed as it is, answered
/// with the shell's code for SIGINT, 130.
#[derive(Debug)]
pub struct Interrupted(pub String);

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Interrupted {}

/// The error of a run stopped by Ctrl-C: where it stopped, and the files that hold it.
pub fn interrupted(end: &gradsheet_train::RunEnd, written: &[std::path::PathBuf]) -> anyhow::Error {
    let files = if written.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        format!("; written whole up to there: {}", names.join(", "))
    };
    anyhow::Error::new(Interrupted(format!(
        "interrupted by Ctrl-C after step {} (epoch {} complete){files}",
        end.steps_taken, end.epochs_done
    )))
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

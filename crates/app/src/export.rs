//! Writing a run's outputs (`--csv`, `--json`, `--xlsx`, `--plot`).

use anyhow::Result;
use gradsheet_engine::{Dataset, Model};
use gradsheet_train::{Optimizer, Trace};

use crate::cmd::common::OutputArgs;
use crate::cmd::usage;

/// Everything an output may need about a run.
pub struct RunOutputs<'a> {
    /// The model.
    pub model: &'a Model,
    /// The data.
    pub data: &'a Dataset,
    /// The optimizer.
    pub optimizer: &'a Optimizer,
    /// The initial parameters.
    pub init: &'a [f64],
    /// The trace.
    pub trace: &'a Trace,
}

/// Writes every output the flags ask for, each atomically.
pub fn write_outputs(out: &OutputArgs, run: &RunOutputs<'_>) -> Result<()> {
    if let Some(path) = &out.csv {
        crate::output::write_atomic(path, crate::cmd::train::trace_csv(run.trace).as_bytes())?;
    }
    if out.json.is_some() || out.xlsx.is_some() || out.plot.is_some() {
        return Err(usage("--json, --xlsx and --plot are not available yet"));
    }
    Ok(())
}

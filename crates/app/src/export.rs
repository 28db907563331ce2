//! Writing a run's outputs (`--csv`, `--json`, `--xlsx`, `--plot`).

use anyhow::{Context, Result};
use gradsheet_engine::{Dataset, Model, Scheme};
use gradsheet_report::chart::{self, Format};
use gradsheet_report::{run_workbook, RunSpec, XlsxOptions};
use gradsheet_train::{Optimizer, Trace, TrainConfig};

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
    /// The training configuration (batch size, shuffle, gradient, finite differences),
    /// when the caller has it; otherwise the xlsx export assumes per-sample steps on the
    /// exact gradient, as [`RunOutputs::config_or_default`] says.
    pub config: Option<&'a TrainConfig>,
}

impl RunOutputs<'_> {
    /// The run's configuration, or one rebuilt from the trace: the optimizer, the epochs
    /// run, the batch size that gives the first epoch's number of steps, the exact
    /// gradient, and forward differences with h = 0.01 if the trace shows estimates.
    pub fn config_or_default(&self) -> TrainConfig {
        if let Some(c) = self.config {
            return c.clone();
        }
        let epochs = self.trace.meta.last().map(|m| m.0 as usize).unwrap_or(0);
        let mut cfg = TrainConfig::new(self.optimizer.clone(), epochs);
        let first_epoch = self
            .trace
            .meta
            .iter()
            .take_while(|m| m.0 == 1)
            .count()
            .max(1);
        cfg.batch_size = self.data.len().div_ceil(first_epoch);
        if self.trace.layout.has_fd {
            cfg.show_fd = Some((Scheme::Forward, 0.01));
        }
        cfg
    }
}

/// Writes every output the flags ask for, each atomically.
pub fn write_outputs(out: &OutputArgs, run: &RunOutputs<'_>) -> Result<()> {
    if let Some(path) = &out.csv {
        crate::output::write_atomic(path, crate::trace_io::csv(run.trace).as_bytes())?;
    }
    if let Some(path) = &out.json {
        crate::output::write_atomic(path, crate::trace_io::json_text(run).as_bytes())?;
    }
    if let Some(path) = &out.xlsx {
        write_xlsx(path, run)?;
    }
    if let Some(dir) = &out.plot {
        write_plots(dir, run)?;
    }
    Ok(())
}

/// Writes the run's workbook (live formulas, the engine's values cached).
pub fn write_xlsx(path: &std::path::Path, run: &RunOutputs<'_>) -> Result<()> {
    let cfg = run.config_or_default();
    let spec = RunSpec {
        model: run.model,
        data: run.data,
        config: &cfg,
        init: run.init,
        trace: run.trace,
    };
    let bytes = run_workbook(&spec, &XlsxOptions::default()).map_err(|e| match e {
        gradsheet_report::XlsxError::Writer(_) => anyhow::Error::new(e),
        other => usage(format!("--xlsx {}: {other}", path.display())),
    })?;
    crate::output::write_atomic(path, &bytes)
}

/// Draws the run's charts into `dir` as SVG and PNG: error by epoch, parameters over
/// steps, the fit against the data, and the path on the error contours (two-parameter
/// models) or on 2-D slices (more parameters). Returns the files written.
pub fn write_plots(dir: &std::path::Path, run: &RunOutputs<'_>) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the folder {}", dir.display()))?;
    let mut written = Vec::new();
    for (name, c) in chart::run_charts(run.model, run.data, run.optimizer.name(), run.trace) {
        for format in [Format::Svg, Format::Png] {
            let path = dir.join(format!("{name}.{}", format.ext()));
            let bytes = chart::render(&c, format).with_context(|| format!("chart {name}"))?;
            crate::output::write_atomic(&path, &bytes)?;
            written.push(path);
        }
    }
    Ok(written)
}

/// Writes graddesc sheet replays as a workbook in the sheets' own layout (columns A–N,
/// data rows 4–32, the row formulas live; see `gradsheet_report::graddesc`).
pub fn write_graddesc_xlsx(
    path: &std::path::Path,
    views: &[&gradsheet_train::graddesc::SheetView],
) -> Result<()> {
    let bytes = gradsheet_report::graddesc::graddesc_workbook(views, false)
        .map_err(|e| usage(format!("--xlsx {}: {e}", path.display())))?;
    crate::output::write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use gradsheet_engine::Roles;
    use gradsheet_train::{Hooks, Trainer};

    use super::*;

    #[test]
    fn xlsx_and_charts_are_written() {
        let data = Dataset::graddesc();
        let model = Model::new("a*x+b", "squared", &Roles::with_columns(&data.columns)).unwrap();
        let cfg = TrainConfig::new(Optimizer::sgd(1e-4), 2);
        let trace = Trainer::new(&model, &data)
            .unwrap()
            .run(&[1.0, 1.0], &cfg, &mut Hooks::none())
            .unwrap();
        let run = RunOutputs {
            model: &model,
            data: &data,
            optimizer: &cfg.optimizer,
            init: &[1.0, 1.0],
            trace: &trace,
            config: None,
        };
        assert_eq!(run.config_or_default().batch_size, 1);
        let dir = tempfile::tempdir().unwrap();
        let x = dir.path().join("run.xlsx");
        write_xlsx(&x, &run).unwrap();
        assert_eq!(&std::fs::read(&x).unwrap()[..2], b"PK");
        let files = write_plots(&dir.path().join("charts"), &run).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for n in ["error_by_epoch", "params_over_steps", "fit", "contours"] {
            assert!(
                names.contains(&format!("{n}.svg")) && names.contains(&format!("{n}.png")),
                "{names:?}"
            );
        }
    }
}

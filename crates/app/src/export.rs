//! A run's outputs (`--csv`, `--json`, `--xlsx`, `--plot`), written as the run goes:
//! [`Outputs`] is a sink of the training loop that hands each step and epoch to the files
//! asked for. Each file is written to a temporary file beside its path and renamed once
//! complete, so a failed run never leaves half a file under the name asked for, and an
//! interrupted one leaves every file whole. Memory is what the sinks keep — a line, one
//! row of the workbook, a thinned sample for the charts — never the run's length.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use gradsheet_engine::{Dataset, Model};
use gradsheet_report::chart::{self, Format};
use gradsheet_report::xlsx::{RunSetup, WorkbookSink};
use gradsheet_report::{XlsxError, XlsxOptions};
use gradsheet_train::{EpochSummary, Layout, Plan, RunEnd, Sink, StepView, Thinned, Trace};

use crate::cmd::common::OutputArgs;
use crate::cmd::usage;
use crate::output::AtomicFile;
use crate::trace_io::{self, RunInfo};

/// Steps (and epochs) the charts of a run keep at most: an evenly spaced sample beyond.
const PLOT_SAMPLE: usize = 20_000;

/// A scratch file beside an output (`.NAME.gradsheet-PID.PART`), read back before it is
/// removed on drop: the JSON's epochs, which follow its steps, and the workbook, whose zip
/// writer seeks.
struct SideFile {
    path: PathBuf,
    file: BufWriter<File>,
}

impl SideFile {
    fn beside(path: &Path, part: &str) -> Result<SideFile> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let side = dir.join(format!(".{name}.gradsheet-{}.{part}", std::process::id()));
        let _ = std::fs::remove_file(&side);
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&side)
            .with_context(|| format!("cannot create {}", side.display()))?;
        Ok(SideFile {
            path: side,
            file: BufWriter::with_capacity(1 << 16, file),
        })
    }

    /// The file from its start, for reading (what was buffered written out first).
    fn contents(&mut self) -> std::io::Result<&mut File> {
        self.file.seek(SeekFrom::Start(0))?;
        Ok(self.file.get_mut())
    }
}

impl Drop for SideFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Keeps the first write error, and stops the run on it.
fn kept(err: &mut Option<std::io::Error>, r: std::io::Result<()>) -> ControlFlow<()> {
    match r {
        Ok(()) => ControlFlow::Continue(()),
        Err(e) => {
            err.get_or_insert(e);
            ControlFlow::Break(())
        }
    }
}

/// The step rows as CSV, line by line.
struct CsvOut {
    path: PathBuf,
    file: AtomicFile,
    line: String,
    err: Option<std::io::Error>,
}

impl Sink for CsvOut {
    fn start(&mut self, plan: &Plan) {
        let head = trace_io::csv_header(&plan.layout);
        let r = self.file.write_all(head.as_bytes());
        let _ = kept(&mut self.err, r);
    }

    fn step(&mut self, s: &StepView<'_>) -> ControlFlow<()> {
        self.line.clear();
        trace_io::push_csv_line(&mut self.line, s);
        let r = self.file.write_all(self.line.as_bytes());
        kept(&mut self.err, r)
    }
}

/// The JSON trace: its head, then the steps as they come; the epochs go to a file of
/// their own beside it (their field follows the steps') and are copied in at the end.
struct JsonOut<'a> {
    path: PathBuf,
    file: AtomicFile,
    epochs: SideFile,
    info: RunInfo<'a>,
    layout: Layout,
    steps: usize,
    n_epochs: usize,
    end: RunEnd,
    err: Option<std::io::Error>,
}

/// `"key": value` lines of an object's fields, each after a comma but the first.
fn json_fields(
    w: &mut impl Write,
    fields: &[(&str, serde_json::Value)],
    first: bool,
) -> std::io::Result<()> {
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 || !first {
            w.write_all(b",\n")?;
        }
        write!(w, "  \"{k}\": {v}")?;
    }
    Ok(())
}

impl Sink for JsonOut<'_> {
    fn start(&mut self, plan: &Plan) {
        self.layout = plan.layout.clone();
        let head = trace_io::json_head(&self.info, &self.layout);
        let w = &mut self.file;
        let r = w
            .write_all(b"{\n")
            .and_then(|()| json_fields(w, &head, true))
            .and_then(|()| w.write_all(b",\n  \"steps\": ["));
        let _ = kept(&mut self.err, r);
    }

    fn step(&mut self, s: &StepView<'_>) -> ControlFlow<()> {
        let sep: &[u8] = if self.steps == 0 {
            b"\n    "
        } else {
            b",\n    "
        };
        self.steps += 1;
        let v = trace_io::step_json(s);
        let w = &mut self.file;
        let r = w.write_all(sep).and_then(|()| write!(w, "{v}"));
        kept(&mut self.err, r)
    }

    fn epoch(&mut self, e: &EpochSummary) -> ControlFlow<()> {
        let sep: &[u8] = if self.n_epochs == 0 {
            b"\n    "
        } else {
            b",\n    "
        };
        self.n_epochs += 1;
        let v = trace_io::epoch_json(e, &self.layout.params);
        let w = &mut self.epochs.file;
        let r = w.write_all(sep).and_then(|()| write!(w, "{v}"));
        kept(&mut self.err, r)
    }

    fn finish(&mut self, end: &RunEnd) {
        self.end = end.clone();
    }
}

impl JsonOut<'_> {
    fn commit(mut self) -> Result<()> {
        if let Some(e) = self.err.take() {
            return Err(e).with_context(|| format!("cannot write {}", self.path.display()));
        }
        let path = self.path.clone();
        let tail = trace_io::json_tail(
            &self.layout,
            &self.end.stop,
            self.end.steps_taken,
            &self.end.final_params,
            &self.end.final_state,
        );
        let close = |n: usize| if n == 0 { "]" } else { "\n  ]" };
        let r = (|| -> std::io::Result<()> {
            let mut epochs = self.epochs.contents()?;
            let w = &mut self.file;
            write!(w, "{},\n  \"epochs\": [", close(self.steps))?;
            std::io::copy(&mut epochs, w)?;
            w.write_all(close(self.n_epochs).as_bytes())?;
            json_fields(w, &tail, false)?;
            w.write_all(b"\n}\n")
        })();
        r.with_context(|| format!("cannot write {}", path.display()))?;
        self.file.commit()
    }
}

/// The workbook, row by row, saved at the end.
struct XlsxOut<'a> {
    path: PathBuf,
    sink: WorkbookSink<'a>,
}

/// An xlsx error as the user reads it: a usage error for what the run asked (too many
/// rows), a failure for the writer's own.
fn xlsx_error(path: &Path, e: XlsxError) -> anyhow::Error {
    match e {
        XlsxError::Writer(_) => anyhow::Error::new(e),
        other => usage(format!("--xlsx {}: {other}", path.display())),
    }
}

/// The files asked for by `--csv`, `--json`, `--xlsx` and `--plot`, as one sink.
pub struct Outputs<'a> {
    csv: Option<CsvOut>,
    json: Option<JsonOut<'a>>,
    xlsx: Option<XlsxOut<'a>>,
    plot: Option<(PathBuf, Thinned)>,
    model: &'a Model,
    data: &'a Dataset,
    optimizer: &'a str,
}

impl<'a> Outputs<'a> {
    /// Opens every output `out` asks for a run of `plan` (which must record steps if any
    /// is asked for). The workbook is refused here, before the run, past its row limit.
    ///
    /// # Errors
    ///
    /// A usage error for a workbook past the row limit; a failure for a file that cannot
    /// be created.
    pub fn open(out: &OutputArgs, setup: RunSetup<'a>, plan: &Plan) -> Result<Outputs<'a>> {
        let xlsx = match &out.xlsx {
            Some(path) => Some(XlsxOut {
                path: path.clone(),
                sink: WorkbookSink::new(setup, plan, &XlsxOptions::default())
                    .map_err(|e| xlsx_error(path, e))?,
            }),
            None => None,
        };
        let csv = match &out.csv {
            Some(path) => Some(CsvOut {
                path: path.clone(),
                file: AtomicFile::create(path)?,
                line: String::new(),
                err: None,
            }),
            None => None,
        };
        let json = match &out.json {
            Some(path) => Some(JsonOut {
                path: path.clone(),
                file: AtomicFile::create(path)?,
                epochs: SideFile::beside(path, "epochs")?,
                info: RunInfo {
                    model: setup.model,
                    data_rows: setup.data.len(),
                    optimizer: &setup.config.optimizer,
                    init: setup.init,
                },
                layout: plan.layout.clone(),
                steps: 0,
                n_epochs: 0,
                end: RunEnd::default(),
                err: None,
            }),
            None => None,
        };
        Ok(Outputs {
            csv,
            json,
            xlsx,
            plot: out.plot.clone().map(|d| (d, Thinned::new(PLOT_SAMPLE))),
            model: setup.model,
            data: setup.data,
            optimizer: setup.config.optimizer.name(),
        })
    }

    /// Completes every file (whole, also after Ctrl-C) and returns their paths.
    ///
    /// # Errors
    ///
    /// The first output that cannot be written.
    pub fn commit(self) -> Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        if let Some(mut c) = self.csv {
            let path = c.path.clone();
            if let Some(e) = c.err.take() {
                return Err(e).with_context(|| format!("cannot write {}", path.display()));
            }
            c.file.commit()?;
            written.push(path);
        }
        if let Some(j) = self.json {
            let path = j.path.clone();
            j.commit()?;
            written.push(path);
        }
        if let Some(x) = self.xlsx {
            // The zip writer seeks: the workbook goes to a file of its own, then through
            // the atomic writer to whatever the path names (a file, a link, a device).
            let mut side = SideFile::beside(&x.path, "xlsx")?;
            x.sink
                .save_to(&mut side.file)
                .map_err(|e| xlsx_error(&x.path, e))?;
            let mut file = AtomicFile::create(&x.path)?;
            std::io::copy(&mut side.contents()?, &mut file)
                .with_context(|| format!("cannot write {}", x.path.display()))?;
            file.commit()?;
            written.push(x.path);
        }
        if let Some((dir, keep)) = self.plot {
            write_plots(&dir, self.model, self.data, self.optimizer, &keep.trace)?;
            written.push(dir);
        }
        Ok(written)
    }

    fn each(&mut self) -> impl Iterator<Item = &mut dyn Sink> + '_ {
        let csv = self.csv.as_mut().map(|s| s as &mut dyn Sink);
        let json = self.json.as_mut().map(|s| s as &mut dyn Sink);
        let xlsx = self.xlsx.as_mut().map(|s| &mut s.sink as &mut dyn Sink);
        let plot = self.plot.as_mut().map(|(_, s)| s as &mut dyn Sink);
        [csv, json, xlsx, plot].into_iter().flatten()
    }
}

impl Sink for Outputs<'_> {
    fn start(&mut self, plan: &Plan) {
        self.each().for_each(|s| s.start(plan));
    }
    fn step(&mut self, step: &StepView<'_>) -> ControlFlow<()> {
        self.each().try_for_each(|s| s.step(step))
    }
    fn epoch(&mut self, epoch: &EpochSummary) -> ControlFlow<()> {
        self.each().try_for_each(|s| s.epoch(epoch))
    }
    fn finish(&mut self, end: &RunEnd) {
        self.each().for_each(|s| s.finish(end));
    }
}

/// Draws the run's charts into `dir` as SVG and PNG: error by epoch, parameters over
/// steps, the fit against the data, and the path on the error contours (two-parameter
/// models) or on 2-D slices (more parameters). Returns the files written.
pub fn write_plots(
    dir: &Path,
    model: &Model,
    data: &Dataset,
    optimizer: &str,
    trace: &Trace,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the folder {}", dir.display()))?;
    let mut written = Vec::new();
    for (name, c) in chart::run_charts(model, data, optimizer, trace) {
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
    use gradsheet_train::{Hooks, Optimizer, TrainConfig, Trainer};

    use super::*;

    /// The files written as the run goes are the ones written from its whole trace.
    #[test]
    fn streamed_files_are_the_whole_traces() {
        let data = Dataset::graddesc();
        let model = Model::new("a*x+b", "squared", &Roles::with_columns(&data.columns)).unwrap();
        let cfg = TrainConfig::new(Optimizer::sgd(1e-4), 2);
        let init = [1.0, 1.0];
        let trainer = Trainer::new(&model, &data).unwrap();
        let trace = trainer.run(&init, &cfg, &mut Hooks::none()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = OutputArgs {
            csv: Some(dir.path().join("run.csv")),
            json: Some(dir.path().join("run.json")),
            xlsx: Some(dir.path().join("run.xlsx")),
            plot: Some(dir.path().join("charts")),
        };
        let setup = RunSetup {
            model: &model,
            data: &data,
            config: &cfg,
            init: &init,
        };
        let mut outs = Outputs::open(&out, setup, &trainer.plan(&cfg)).unwrap();
        trainer
            .run_into(&init, &cfg, &mut Hooks::none(), &mut outs)
            .unwrap();
        let written = outs.commit().unwrap();
        assert_eq!(written.len(), 4);
        let csv = std::fs::read_to_string(dir.path().join("run.csv")).unwrap();
        assert_eq!(csv, trace_io::csv(&trace));
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("run.json")).unwrap())
                .unwrap();
        let info = RunInfo {
            model: &model,
            data_rows: data.len(),
            optimizer: &cfg.optimizer,
            init: &init,
        };
        // (Both through the same text parser, whose last bits are its own.)
        let want: serde_json::Value =
            serde_json::from_str(&trace_io::json(&info, &trace).to_string()).unwrap();
        assert_eq!(json, want);
        let x = std::fs::read(dir.path().join("run.xlsx")).unwrap();
        assert_eq!(&x[..2], b"PK");
        let names: Vec<String> = std::fs::read_dir(dir.path().join("charts"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        for n in ["error_by_epoch", "params_over_steps", "fit", "contours"] {
            assert!(names.contains(&format!("{n}.svg")), "{names:?}");
        }
        // Nothing else is left in the folder: no temporary file.
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 4);
    }
}

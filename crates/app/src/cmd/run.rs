//! `gradsheet run recipe.toml`: an experiment as a file — data, model, loss, initial
//! values, one or more optimizers, epochs, batch and seed — replayed the same way every
//! time. Several optimizers run side by side and are summarised in one table.
//!
//! The format is `gradsheet_recipe::Recipe`'s (documented there).

use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use anyhow::Result;
use gradsheet_engine::{Dataset, Model, Roles, Scheme};
use gradsheet_recipe::{line_column, Recipe};
use gradsheet_train::{
    EpochSummary, Generator, Gradient, Optimizer, Plan, Record, RunEnd, Sink, StepView, Stop,
    TrainConfig, Trainer,
};

use super::common::{interrupted, page, run_live};
use super::usage;
use crate::output::AtomicFile;
use crate::output::{cell, table};
use crate::shown::{self, Ends};
use crate::trace_io;

/// Epochs the rmse table shows at each end of a long run.
const SHOWN: usize = 50;

/// Run an experiment recipe (TOML): data, model, loss, optimizers, epochs, seed.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  gradsheet run examples/recipes/optimizers.toml\n  \
gradsheet run examples/recipes/relu.toml --csv-dir out/"
)]
pub struct Args {
    /// The recipe file.
    pub recipe: PathBuf,
    /// Write each optimizer's step trace as `<label>.csv` and the epoch summaries of all of
    /// them as `epochs.csv` into this folder.
    #[arg(long, value_name = "DIR")]
    pub csv_dir: Option<PathBuf>,
    /// Print the per-epoch table of every optimizer's rmse (default: when there are at most 50 epochs).
    #[arg(long)]
    pub epochs: bool,
}

/// An error at a key of the recipe.
fn key_error(
    path: &Path,
    src: &str,
    span: std::ops::Range<usize>,
    key: &str,
    msg: impl std::fmt::Display,
) -> anyhow::Error {
    if span.is_empty() && span.start == 0 {
        usage(format!("{}: {key}: {msg}", path.display()))
    } else {
        usage(format!(
            "{}: {key} ({}): {msg}",
            path.display(),
            line_column(src, span)
        ))
    }
}

/// One optimizer's run, as the tables need it: the ends of its epochs and its end.
struct Entry {
    label: String,
    optimizer: Optimizer,
    epochs: Ends<EpochSummary>,
    end: RunEnd,
}

impl Sink for Ends<EpochSummary> {
    fn epoch(&mut self, e: &EpochSummary) -> ControlFlow<()> {
        self.push_with(e, EpochSummary::clone, |t, e| t.clone_from(e));
        ControlFlow::Continue(())
    }
}

/// `--csv-dir`: each optimizer's steps as `<label>.csv`, and every epoch of all of them
/// in `epochs.csv`, written as the runs go.
struct CsvDir {
    dir: PathBuf,
    epochs: AtomicFile,
    label: String,
    steps: Option<AtomicFile>,
    line: String,
    err: Option<std::io::Error>,
    written: Vec<PathBuf>,
}

impl CsvDir {
    fn open(dir: &Path, params: &[String]) -> Result<CsvDir> {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        let mut epochs = AtomicFile::create(&dir.join("epochs.csv"))?;
        use std::io::Write;
        write!(epochs, "label,{}", trace_io::epochs_csv_header(params))?;
        Ok(CsvDir {
            dir: dir.to_path_buf(),
            epochs,
            label: String::new(),
            steps: None,
            line: String::new(),
            err: None,
            written: Vec::new(),
        })
    }

    /// The next optimizer's file.
    fn begin(&mut self, label: &str) -> Result<()> {
        let safe: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.steps = Some(AtomicFile::create(&self.dir.join(format!("{safe}.csv")))?);
        self.label = safe;
        Ok(())
    }

    /// Completes the current optimizer's file.
    fn end(&mut self) -> Result<()> {
        if let Some(e) = self.err.take() {
            return Err(e.into());
        }
        if let Some(f) = self.steps.take() {
            let path = self.dir.join(format!("{}.csv", self.label));
            f.commit()?;
            self.written.push(path);
        }
        Ok(())
    }

    fn commit(mut self) -> Result<Vec<PathBuf>> {
        self.end()?;
        self.epochs.commit()?;
        self.written.push(self.dir.join("epochs.csv"));
        Ok(self.written)
    }

    fn write(&mut self, to_steps: bool) -> ControlFlow<()> {
        use std::io::Write;
        let w: &mut AtomicFile = if to_steps {
            match self.steps.as_mut() {
                Some(f) => f,
                None => return ControlFlow::Continue(()),
            }
        } else {
            &mut self.epochs
        };
        match w.write_all(self.line.as_bytes()) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                self.err.get_or_insert(e);
                ControlFlow::Break(())
            }
        }
    }
}

impl Sink for CsvDir {
    fn start(&mut self, plan: &Plan) {
        self.line = trace_io::csv_header(&plan.layout);
        let _ = self.write(true);
    }
    fn step(&mut self, s: &StepView<'_>) -> ControlFlow<()> {
        self.line.clear();
        trace_io::push_csv_line(&mut self.line, s);
        self.write(true)
    }
    fn epoch(&mut self, e: &EpochSummary) -> ControlFlow<()> {
        self.line = format!("{},{}", self.label, trace_io::epoch_csv_line(e));
        self.write(false)
    }
}

/// Runs the command.
pub fn run(a: Args) -> Result<()> {
    let src = super::common::read_to_string(&a.recipe)?;
    let recipe = Recipe::parse(&src).map_err(|e| usage(format!("{}: {e}", a.recipe.display())))?;
    let dir = a.recipe.parent().unwrap_or(Path::new("."));
    let p = &a.recipe;
    if recipe.optimizers.is_empty() {
        return Err(usage(format!(
            "{}: the recipe needs at least one [[optimizer]]",
            p.display()
        )));
    }
    let data = dataset(&recipe, dir, p, &src)?;
    let roles = Roles {
        data: data.columns.clone(),
        constants: recipe
            .model
            .constants
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
        params: recipe.model.params.clone(),
    };
    let model = Model::new(
        recipe.model.formula.get_ref(),
        recipe.model.loss.get_ref(),
        &roles,
    )
    .map_err(|e| {
        let (key, span) = if e.source == *recipe.model.formula.get_ref() {
            ("model.formula", recipe.model.formula.span())
        } else {
            ("model.loss", recipe.model.loss.span())
        };
        key_error(
            p,
            &src,
            span,
            key,
            format!("\n{}", super::indent(&e.render())),
        )
    })?;
    let mut init = vec![1.0; model.params.len()];
    for (k, v) in &recipe.model.init {
        let i = model.params.iter().position(|q| q == k).ok_or_else(|| {
            key_error(
                p,
                &src,
                v.span(),
                &format!("model.init.{k}"),
                format!(
                    "'{k}' is not a parameter (the parameters are {})",
                    model.params.join(", ")
                ),
            )
        })?;
        init[i] = *v.get_ref();
    }
    let gradient = match &recipe.gradient {
        None => Gradient::Auto,
        Some(g) if matches!(g.get_ref().as_str(), "auto" | "exact") => Gradient::Auto,
        Some(g) => Gradient::Fd {
            scheme: g
                .get_ref()
                .parse::<Scheme>()
                .map_err(|e| key_error(p, &src, g.span(), "gradient", e))?,
            h: recipe.h.unwrap_or(0.01),
        },
    };
    let trainer =
        Trainer::new(&model, &data).map_err(|e| usage(format!("{}: {e}", p.display())))?;
    let record = if a.csv_dir.is_some() {
        Record::Steps
    } else {
        Record::Epochs
    };
    // Every optimizer is checked before any runs.
    let mut runs = Vec::new();
    for (i, o) in recipe.optimizers.iter().enumerate() {
        let optimizer = o.optimizer().map_err(|e| {
            key_error(
                p,
                &src,
                e.span.clone(),
                &format!("optimizer[{i}].{}", e.key),
                &e,
            )
        })?;
        let mut cfg = TrainConfig::new(optimizer.clone(), o.epochs.unwrap_or(recipe.epochs));
        cfg.batch_size = recipe.batch;
        cfg.shuffle = recipe.shuffle.then_some(recipe.seed);
        cfg.gradient = gradient;
        cfg.record = record;
        let label = o
            .label
            .clone()
            .unwrap_or_else(|| optimizer.name().to_string());
        runs.push((i, label, cfg));
    }
    let mut csv = match &a.csv_dir {
        Some(d) => Some(CsvDir::open(d, &model.params)?),
        None => None,
    };
    let mut entries = Vec::new();
    for (i, label, cfg) in runs {
        if interrupted() {
            break;
        }
        let mut epochs = Ends::new(SHOWN);
        if let Some(c) = csv.as_mut() {
            c.begin(&label)?;
        }
        let end = match csv.as_mut() {
            Some(c) => run_live(
                &trainer,
                &init,
                &cfg,
                &label,
                &mut gradsheet_train::Fanout(vec![&mut epochs, c]),
            ),
            None => run_live(&trainer, &init, &cfg, &label, &mut epochs),
        }
        .map_err(|e| {
            let o = &recipe.optimizers[i];
            key_error(p, &src, o.name.span(), &format!("optimizer[{i}]"), e)
        })?;
        if let Some(c) = csv.as_mut() {
            c.end()?;
        }
        entries.push(Entry {
            label,
            optimizer: cfg.optimizer,
            epochs,
            end,
        });
    }
    let written = match csv {
        Some(c) => c.commit()?,
        None => Vec::new(),
    };
    let mut out = String::new();
    let title = recipe
        .name
        .clone()
        .unwrap_or_else(|| a.recipe.display().to_string());
    let _ = writeln!(
        out,
        "{title}: {} on {} rows, loss {}, init {}",
        model.prediction_src,
        data.len(),
        model.loss_src,
        model
            .params
            .iter()
            .zip(&init)
            .map(|(n, v)| format!("{n}={}", cell(*v, 6)))
            .collect::<Vec<_>>()
            .join(",")
    );
    out.push('\n');
    let max_epochs = entries.iter().map(|e| e.epochs.seen()).max().unwrap_or(0);
    if a.epochs || max_epochs <= 50 {
        out.push_str(&epoch_table(&entries));
        out.push('\n');
    }
    out.push_str(&summary_table(&model, &entries));
    out.push_str("(sheet rmse = the workbooks' SQRT(SUM(err)), the square root of the sum; rmse = sqrt(mean err))\n");
    page(&out);
    if let Some(e) = entries
        .iter()
        .find(|e| matches!(e.end.stop, Stop::Interrupted { .. }))
    {
        if interrupted() {
            return Err(super::interrupted(&e.end, &written));
        }
    }
    Ok(())
}

fn dataset(r: &Recipe, dir: &Path, p: &Path, src: &str) -> Result<Dataset> {
    let d = &r.data;
    let given = [d.source.is_some(), d.file.is_some(), d.generate.is_some()]
        .iter()
        .filter(|x| **x)
        .count();
    if given > 1 {
        return Err(usage(format!(
            "{}: [data] takes one of source, file or generate",
            p.display()
        )));
    }
    if let Some(f) = &d.file {
        let path = dir.join(f.get_ref());
        return crate::output::read_csv(&path)
            .map_err(|e| key_error(p, src, f.span(), "data.file", format!("{e:#}")));
    }
    if let Some(g) = &d.generate {
        let (lo, hi) = super::common::parse_range(g.x.get_ref())
            .map_err(|e| key_error(p, src, g.x.span(), "data.generate.x", e))?;
        let gen = Generator {
            target: g.target.get_ref().clone(),
            x_lo: lo,
            x_hi: hi,
            integer_x: super::common::whole_range(g.x.get_ref(), lo, hi),
            n: g.n,
            seed: r.seed,
            noise: g.noise,
        };
        return gen
            .generate()
            .map_err(|e| key_error(p, src, g.target.span(), "data.generate.target", e));
    }
    match &d.source {
        None => Ok(Dataset::graddesc()),
        Some(s) if s.get_ref() == "graddesc" => Ok(Dataset::graddesc()),
        Some(s) => Err(key_error(
            p,
            src,
            s.span(),
            "data.source",
            format!(
                "unknown source '{}': use \"graddesc\", or file = \"...\"",
                s.get_ref()
            ),
        )),
    }
}

/// Every optimizer's rmse by epoch: the epochs each kept (the first and last), with a
/// row of `…` where some are left out.
fn epoch_table(entries: &[Entry]) -> String {
    let mut headers = vec!["epoch".to_string()];
    headers.extend(entries.iter().map(|e| format!("{} rmse", e.label)));
    let mut shown: Vec<usize> = entries
        .iter()
        .flat_map(|e| {
            e.epochs
                .head()
                .iter()
                .chain(e.epochs.tail())
                .map(|x| x.epoch)
        })
        .collect();
    shown.sort_unstable();
    shown.dedup();
    let find = |e: &Entry, n: usize| {
        e.epochs
            .head()
            .iter()
            .chain(e.epochs.tail())
            .find(|x| x.epoch == n)
            .map(|x| cell(x.rmse, 7))
            .unwrap_or_default()
    };
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut prev = 0;
    for n in shown {
        if n > prev + 1 {
            let mut gap = vec![String::new(); headers.len()];
            gap[0] = "…".into();
            rows.push(gap);
        }
        let mut v = vec![n.to_string()];
        v.extend(entries.iter().map(|e| find(e, n)));
        rows.push(v);
        prev = n;
    }
    let mut s = format!("rmse by epoch:\n{}", table(&headers, &rows));
    let skipped: usize = entries
        .iter()
        .map(|e| e.epochs.skipped())
        .max()
        .unwrap_or(0);
    if skipped > 0 {
        let _ = writeln!(
            s,
            "({} epochs of each run not shown: --csv-dir DIR writes every epoch)",
            shown::grouped(skipped)
        );
    }
    s
}

fn summary_table(model: &Model, entries: &[Entry]) -> String {
    let mut headers: Vec<String> = ["label", "optimizer", "steps", "sheet rmse", "rmse"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    headers.extend(model.params.iter().cloned());
    headers.push("end".into());
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let last = e.epochs.last();
            let mut v = vec![
                e.label.clone(),
                e.optimizer.to_string(),
                e.end.steps_taken.to_string(),
                last.map(|x| cell(x.sheet_rmse, 7)).unwrap_or_default(),
                last.map(|x| cell(x.rmse, 7)).unwrap_or_default(),
            ];
            v.extend(e.end.final_params.iter().map(|x| cell(*x, 7)));
            v.push(match &e.end.stop {
                Stop::Completed => "completed".into(),
                Stop::Diverged { step, .. } => format!("diverged at step {step}"),
                Stop::Interrupted { steps } => format!("interrupted after {steps} steps"),
            });
            v
        })
        .collect();
    table(&headers, &rows)
}

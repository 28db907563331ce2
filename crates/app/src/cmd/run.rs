//! `gradsheet run recipe.toml`: an experiment as a file — data, model, loss, initial
//! values, one or more optimizers, epochs, batch and seed — replayed the same way every
//! time. Several optimizers run side by side and are summarised in one table.
//!
//! The format (every key but `model.formula` and `[[optimizer]]` is optional):
//!
//! ```toml
//! name = "momentum vs adam"
//! epochs = 5          # passes over the data (an optimizer may override it)
//! batch = 1           # rows per update: 1 = per sample, as the sheets; 0 = full batch
//! seed = 7            # for generated data and shuffling
//! shuffle = false
//! gradient = "auto"   # or forward, backward, central (with h = 0.01)
//!
//! [data]
//! source = "graddesc" # or file = "points.csv" (relative to the recipe), or
//!                     # generate = { target = "2*x+30", x = "1..100", n = 29, noise = 0 }
//! [model]
//! formula = "a*x+b"
//! loss = "squared"
//! init = { a = 1, b = 1 }
//!
//! [[optimizer]]
//! name = "momentum"
//! lr = 1e-4
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use gradsheet_engine::{Dataset, Model, Roles, Scheme};
use gradsheet_train::{
    Generator, Gradient, Hyper, Optimizer, Record, Stop, Trace, TrainConfig, Trainer,
};
use serde::Deserialize;
use toml::Spanned;

use super::common::{interrupted, page, run_live};
use super::usage;
use crate::output::{cell, table};

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

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Recipe {
    name: Option<String>,
    #[serde(default = "one")]
    epochs: usize,
    #[serde(default = "one")]
    batch: usize,
    #[serde(default = "seven")]
    seed: u64,
    #[serde(default)]
    shuffle: bool,
    gradient: Option<Spanned<String>>,
    h: Option<f64>,
    #[serde(default)]
    data: Data,
    model: ModelSpec,
    optimizer: Vec<OptSpec>,
}

fn one() -> usize {
    1
}
fn seven() -> u64 {
    7
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct Data {
    source: Option<Spanned<String>>,
    file: Option<Spanned<String>>,
    generate: Option<Generate>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Generate {
    target: Spanned<String>,
    #[serde(default = "default_x")]
    x: Spanned<String>,
    #[serde(default = "n29")]
    n: usize,
    #[serde(default)]
    noise: f64,
}

fn default_x() -> Spanned<String> {
    Spanned::new(0..0, "1..100".to_string())
}
fn n29() -> usize {
    29
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct ModelSpec {
    formula: Spanned<String>,
    #[serde(default = "squared")]
    loss: Spanned<String>,
    #[serde(default)]
    init: BTreeMap<String, Spanned<f64>>,
    #[serde(default)]
    constants: BTreeMap<String, f64>,
    #[serde(default)]
    params: Vec<String>,
}

fn squared() -> Spanned<String> {
    Spanned::new(0..0, "squared".to_string())
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct OptSpec {
    name: Spanned<String>,
    label: Option<String>,
    epochs: Option<usize>,
    lr: Option<f64>,
    beta: Option<f64>,
    beta1: Option<f64>,
    beta2: Option<f64>,
    eps: Option<f64>,
    momentum: Option<f64>,
    dampening: Option<f64>,
    weight_decay: Option<f64>,
    nesterov: Option<bool>,
    alpha: Option<f64>,
    centered: Option<bool>,
    amsgrad: Option<bool>,
    lr_decay: Option<f64>,
    initial: Option<f64>,
}

/// Where a span starts, as "line L, column C" of `src`.
fn at(src: &str, span: std::ops::Range<usize>) -> String {
    let before = &src[..span.start.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    format!("line {line}, column {col}")
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
            at(src, span)
        ))
    }
}

struct Entry {
    label: String,
    optimizer: Optimizer,
    trace: Trace,
}

/// Runs the command.
pub fn run(a: Args) -> Result<()> {
    let src = super::common::read_to_string(&a.recipe)?;
    let recipe: Recipe =
        toml::from_str(&src).map_err(|e| usage(format!("{}: {e}", a.recipe.display())))?;
    let dir = a.recipe.parent().unwrap_or(Path::new("."));
    let p = &a.recipe;
    if recipe.optimizer.is_empty() {
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
    let mut entries = Vec::new();
    for (i, o) in recipe.optimizer.iter().enumerate() {
        let key = format!("optimizer[{i}]");
        let mut h = Hyper::new();
        for (k, v) in [
            ("lr", o.lr),
            ("beta", o.beta),
            ("beta1", o.beta1),
            ("beta2", o.beta2),
            ("eps", o.eps),
            ("momentum", o.momentum),
            ("dampening", o.dampening),
            ("weight_decay", o.weight_decay),
            ("alpha", o.alpha),
            ("lr_decay", o.lr_decay),
            ("initial", o.initial),
        ] {
            if let Some(v) = v {
                h.set(k, v);
            }
        }
        for (k, v) in [
            ("nesterov", o.nesterov),
            ("centered", o.centered),
            ("amsgrad", o.amsgrad),
        ] {
            if let Some(v) = v {
                h.set(k, v);
            }
        }
        let optimizer = Optimizer::from_name(o.name.get_ref(), &h)
            .map_err(|e| key_error(p, &src, o.name.span(), &format!("{key}.name"), e))?;
        let mut cfg = TrainConfig::new(optimizer.clone(), o.epochs.unwrap_or(recipe.epochs));
        cfg.batch_size = recipe.batch;
        cfg.shuffle = recipe.shuffle.then_some(recipe.seed);
        cfg.gradient = gradient;
        cfg.record = record;
        let label = o
            .label
            .clone()
            .unwrap_or_else(|| optimizer.name().to_string());
        if interrupted() {
            break;
        }
        let trace = run_live(&trainer, &init, &cfg, &label)
            .map_err(|e| key_error(p, &src, o.name.span(), &key, e))?;
        entries.push(Entry {
            label,
            optimizer,
            trace,
        });
    }
    if let Some(d) = &a.csv_dir {
        write_csvs(d, &entries)?;
    }
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
    let max_epochs = entries
        .iter()
        .map(|e| e.trace.epochs.len())
        .max()
        .unwrap_or(0);
    if a.epochs || max_epochs <= 50 {
        out.push_str(&epoch_table(&entries, max_epochs));
        out.push('\n');
    }
    out.push_str(&summary_table(&model, &entries));
    out.push_str("(sheet rmse = the workbooks' SQRT(SUM(err)), the square root of the sum; rmse = sqrt(mean err))\n");
    page(&out);
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
            integer_x: lo.fract() == 0.0 && hi.fract() == 0.0 && !g.x.get_ref().contains('.'),
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

fn epoch_table(entries: &[Entry], n: usize) -> String {
    let mut headers = vec!["epoch".to_string()];
    headers.extend(entries.iter().map(|e| format!("{} rmse", e.label)));
    let rows: Vec<Vec<String>> = (0..n)
        .map(|i| {
            let mut v = vec![(i + 1).to_string()];
            v.extend(entries.iter().map(|e| {
                e.trace
                    .epochs
                    .get(i)
                    .map(|x| cell(x.rmse, 7))
                    .unwrap_or_default()
            }));
            v
        })
        .collect();
    format!("rmse by epoch:\n{}", table(&headers, &rows))
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
            let last = e.trace.last_epoch();
            let mut v = vec![
                e.label.clone(),
                e.optimizer.to_string(),
                e.trace.steps_taken.to_string(),
                last.map(|x| cell(x.sheet_rmse, 7)).unwrap_or_default(),
                last.map(|x| cell(x.rmse, 7)).unwrap_or_default(),
            ];
            v.extend(e.trace.final_params.iter().map(|x| cell(*x, 7)));
            v.push(match &e.trace.stop {
                Stop::Completed => "completed".into(),
                Stop::Diverged { step, .. } => format!("diverged at step {step}"),
                Stop::Interrupted { steps } => format!("interrupted after {steps} steps"),
            });
            v
        })
        .collect();
    table(&headers, &rows)
}

fn write_csvs(dir: &Path, entries: &[Entry]) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let mut all = String::new();
    for (i, e) in entries.iter().enumerate() {
        let safe: String = e
            .label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        crate::output::write_atomic(
            &dir.join(format!("{safe}.csv")),
            crate::trace_io::csv(&e.trace).as_bytes(),
        )?;
        let ep = crate::trace_io::epochs_csv(&e.trace);
        for (k, line) in ep.lines().enumerate() {
            if k == 0 {
                if i == 0 {
                    let _ = writeln!(all, "label,{line}");
                }
            } else {
                let _ = writeln!(all, "{safe},{line}");
            }
        }
    }
    crate::output::write_atomic(&dir.join("epochs.csv"), all.as_bytes())
}

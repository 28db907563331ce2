//! `gradsheet net`: a network of neurons on a 2-D dataset, every neuron a named cell —
//! the shorthand expanded, trained through the one training loop, measured on train and
//! test rows each epoch, explained layer by layer.

use std::io::Write as _;
use std::ops::ControlFlow;
use std::path::PathBuf;

use anyhow::Result;
use gradsheet_engine::{format_number, Notation};
use gradsheet_net::cells::{parse_cells, Cell};
use gradsheet_net::data::{self, DataSpec, Kind};
use gradsheet_net::dropout::{unmasked, with_masks, DropoutBackend, MAX_P};
use gradsheet_net::explain::{divergence_at, explain, short, Explanation};
use gradsheet_net::init::{initial, Scheme};
use gradsheet_net::network::{Network, Reg};
use gradsheet_net::record::{step_header, step_row, EpochMetrics, EpochRow};
use gradsheet_net::remedy::{outcome_of, try_remedies, RunSetup, Tried};
use gradsheet_net::spec::{Loss, NetSpec};
use gradsheet_net::NetError;
use gradsheet_train::{Backend, EpochSummary, Optimizer, Record, RunEnd, Sink, Stop, TrainConfig};

use super::common::{interrupted, number, run_live_on, HyperArgs};
use super::{indent, usage};
use crate::output::{table, AtomicFile};
use crate::shown::{self, Ends};

/// A network on a 2-D dataset.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  gradsheet net                                          2-8-8-1 tanh on the circle, 50 epochs
  gradsheet net --dataset xor --print                    the network as named cells, to edit and paste back
  gradsheet net --dataset spiral --features x1,x2,sinx1,sinx2 --net 4-8-8-8-1 --epochs 200
  gradsheet net --model-file mine.txt --dataset moons    your own cells (h1 = TANH(...); pred = SIGMOID(...))
  gradsheet net --net 2-8-8-1 --activation linear --loss squared   linear layers collapse into one matrix
  gradsheet net --csv steps.csv --epochs 2               every neuron's value and adjoint, step by step
  gradsheet net --xlsx net.xlsx                          the trained network as live formulas, backprop columns included")]
pub struct Args {
    /// The dataset: circle, xor, gauss, spiral, moons (classes), plane, sine (regression).
    #[arg(long, default_value = "circle", conflicts_with = "data")]
    pub dataset: String,
    /// Your own rows instead: a CSV file or a workbook whose column y is the target (0/1
    /// for classes) and whose other columns are the features.
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// The sheet of an xlsx --data file (default: the first).
    #[arg(long, value_name = "NAME", requires = "data")]
    pub sheet: Option<String>,
    /// The --data columns to use, e.g. x1,x2,y or x1=Size,x2=Age,y=C.
    #[arg(long, value_name = "NAME[=SOURCE],...", requires = "data")]
    pub columns: Option<String>,
    /// How many points (train and test together).
    #[arg(long, default_value_t = 500)]
    pub n: usize,
    /// Noise from 0 to 1.
    #[arg(long, default_value_t = 0.0, value_parser = number)]
    pub noise: f64,
    /// The share of points held out for testing.
    #[arg(long, default_value_t = 0.5, value_parser = number)]
    pub test_fraction: f64,
    /// Seed of the data, the initial weights and the shuffle.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Feature columns of a built-in dataset: x1, x2, x1sq, x2sq, x1x2, sinx1, sinx2.
    #[arg(long, default_value = "x1,x2", conflicts_with = "data")]
    pub features: String,
    /// Layers: inputs, hidden layers, outputs (default: the features, 8, 8, and one output,
    /// or one score per class with --loss softmax: 2-8-8-1, 2-8-8-3).
    #[arg(long)]
    pub net: Option<String>,
    /// Classes of spiral or gauss: 2, or up to 10 (trained with the softmax loss).
    #[arg(long, default_value_t = 2, conflicts_with = "data")]
    pub classes: usize,
    /// Activation: one for every hidden layer, or one per layer (relu,relu,sigmoid).
    #[arg(long, default_value = "tanh")]
    pub activation: String,
    /// The loss: logistic (classes; the default) or squared (the default for regression).
    #[arg(long)]
    pub loss: Option<String>,
    /// A model text of named cells instead of --net: `h1 = TANH(...); pred = SIGMOID(z)`.
    #[arg(long, conflicts_with_all = ["net", "model_file"])]
    pub model: Option<String>,
    /// Read the model text from a file.
    #[arg(long, value_name = "FILE", conflicts_with = "net")]
    pub model_file: Option<PathBuf>,
    /// Initial weights: xavier, he, uniform:A, normal:SD (biases start at 0).
    #[arg(long, default_value = "xavier")]
    pub init_scheme: String,
    /// L1 strength on the weights.
    #[arg(long, default_value_t = 0.0, value_parser = number)]
    pub l1: f64,
    /// L2 strength on the weights.
    #[arg(long, default_value_t = 0.0, value_parser = number)]
    pub l2: f64,
    /// Dropout: the probability of dropping each hidden unit at each training step (0 to
    /// 0.95). Each unit gets a mask column (m1_3), 0 or 1/(1-p) in training, 1 otherwise.
    #[arg(long, default_value_t = 0.0, value_parser = number)]
    pub dropout: f64,
    /// The optimizer (as `gradsheet train`; the learning rate defaults to 0.03 here).
    #[arg(long, default_value = "sgd")]
    pub optimizer: String,
    #[command(flatten)]
    pub hyper: HyperArgs,
    /// Epochs (passes over the training rows, shuffled each epoch with the seed).
    #[arg(long, default_value_t = 50)]
    pub epochs: usize,
    /// Rows per update: 1 = per sample, 0 = the whole training set.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Print the network as a model text of named cells and stop.
    #[arg(long)]
    pub print: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Write the step table (every neuron's value and adjoint, per step) as CSV.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Write the trained network as a workbook of live formulas: its weights as named
    /// cells, and for each training row every neuron, the loss and every backprop column
    /// (up to 100,000 rows and about 8,000 cells).
    #[arg(long, value_name = "FILE")]
    pub xlsx: Option<PathBuf>,
}

/// The learning rate of TensorFlow Playground's start, for networks.
const DEFAULT_LR: f64 = 0.03;

fn setting(e: NetError) -> anyhow::Error {
    match e.field() {
        Some(f) => usage(format!("--{}: {e}", f.replace('_', "-"))),
        None => usage(e),
    }
}

/// Everything a run needs, from the flags.
struct Setup {
    /// The dataset's name, or the file's.
    name: String,
    /// How many classes the labels are (0 for regression).
    classes: usize,
    split: data::Split,
    cells: Vec<Cell>,
    text: String,
    loss: Loss,
    described: String,
}

fn setup(a: &Args) -> Result<Setup> {
    let (name, classes, split, columns) = match &a.data {
        Some(path) => {
            let opts = crate::output::DataOptions {
                sheet: a.sheet.clone(),
                columns: a.columns.clone(),
                skip_rows: 0,
            };
            let data = crate::output::read_data(path, &opts)?;
            let split = data::split(&data, a.test_fraction, a.seed)
                .map_err(|e| usage(format!("{}: {e}", path.display())))?;
            let ys = split.train.column("y").unwrap_or_default();
            let classes = data::class_count(&ys);
            let columns = split.train.columns.clone();
            (path.display().to_string(), classes, Some(split), columns)
        }
        None => {
            let kind = Kind::from_name(&a.dataset).map_err(setting)?;
            let spec = builtin(a)?;
            spec.validate().map_err(setting)?;
            (
                kind.name().to_string(),
                if kind.is_classification() {
                    a.classes
                } else {
                    0
                },
                None,
                spec.columns(),
            )
        }
    };
    let loss = match &a.loss {
        Some(l) => Loss::from_name(l).map_err(setting)?,
        // A file's labels 0, 1, 2, … may as well be counts or ratings: they are classes
        // when the learner says so.
        None if classes > 2 && a.data.is_none() => Loss::Softmax,
        None if classes == 2 => Loss::Logistic,
        None if classes > 2 => Loss::Squared,
        None => Loss::Squared,
    };
    if loss == Loss::Logistic && classes != 2 {
        return Err(usage(if classes == 0 {
            format!("--loss logistic needs classes 0 and 1, but {name} is regression data: use --loss squared")
        } else {
            format!("--loss logistic separates two classes, but {name} has {classes}: use --loss softmax")
        }));
    }
    if loss == Loss::Softmax && classes == 0 {
        return Err(usage(format!(
            "--loss softmax needs classes 0, 1, 2, … as y, but {name} is regression data: use --loss squared"
        )));
    }
    let inputs: Vec<String> = columns[..columns.len() - 1].to_vec();
    let (text, described) = match (&a.model, &a.model_file) {
        (Some(t), _) => (t.clone(), "the model text given".to_string()),
        (None, Some(f)) => (
            super::common::read_to_string(f)?,
            format!("the model text of {}", f.display()),
        ),
        (None, None) => {
            let outputs = if loss == Loss::Softmax { classes } else { 1 };
            let layers = a
                .net
                .clone()
                .unwrap_or_else(|| format!("{}-8-8-{outputs}", inputs.len()));
            let net = NetSpec::parse(&layers, &a.activation, loss, &inputs).map_err(setting)?;
            if loss == Loss::Softmax && net.outputs != classes {
                return Err(usage(format!(
                    "--net {layers} ends with {} scores, but {name} has {classes} classes: end it with {classes}",
                    net.outputs
                )));
            }
            let acts: Vec<&str> = net.activations.iter().map(|x| x.name()).collect();
            let mut acts_shown = acts.clone();
            acts_shown.dedup();
            (
                net.text(),
                format!("{layers} {} → {}", acts_shown.join(","), net.output.name()),
            )
        }
    };
    let reserved: Vec<&str> = columns.iter().map(String::as_str).collect();
    let cells =
        parse_cells(&text, &reserved).map_err(|e| super::formula_error("model text", &e))?;
    // Data last: drawing a million points is the slow part, after every cheap check.
    let split = match split {
        Some(s) => s,
        None => builtin(a)?.draw().map_err(setting)?,
    };
    Ok(Setup {
        name,
        classes,
        split,
        cells,
        text,
        loss,
        described,
    })
}

/// The built-in dataset the flags describe.
fn builtin(a: &Args) -> Result<DataSpec> {
    Ok(DataSpec {
        kind: Kind::from_name(&a.dataset).map_err(setting)?,
        n: a.n,
        noise: a.noise,
        test_fraction: a.test_fraction,
        seed: a.seed,
        features: data::features(&a.features).map_err(setting)?,
        classes: a.classes,
    })
}

/// Runs the command.
pub fn run(a: Args) -> Result<()> {
    let mut s = setup(&a)?;
    if a.print {
        print!("{}", s.text);
        return Ok(());
    }
    // Dropout after --print: the masks are an option of training, not of the model a
    // learner edits and pastes back.
    let masks = if a.dropout > 0.0 {
        let cols: Vec<&str> = s.split.train.columns.iter().map(String::as_str).collect();
        let (cells, masks) = with_masks(&s.cells, a.dropout, &cols).map_err(setting)?;
        s.cells = cells;
        s.split.train = unmasked(&s.split.train, &masks);
        s.split.test = unmasked(&s.split.test, &masks);
        masks
    } else if a.dropout == 0.0 {
        Vec::new()
    } else {
        return Err(usage(format!(
            "--dropout {}: the probability of dropping a unit is between 0 and {MAX_P}",
            a.dropout
        )));
    };
    let reg = Reg { l1: a.l1, l2: a.l2 };
    if !(reg.l1.is_finite() && reg.l1 >= 0.0 && reg.l2.is_finite() && reg.l2 >= 0.0) {
        return Err(usage("--l1 and --l2 must be numbers ≥ 0"));
    }
    let net = Network::new(s.cells.clone(), s.loss, reg, &s.split.train).map_err(usage)?;
    let scheme = Scheme::parse(&a.init_scheme).map_err(setting)?;
    let init = initial(net.params(), scheme, a.seed);
    let mut hyper = a.hyper.0.clone();
    if hyper.get("lr").is_none() {
        hyper.set("lr", DEFAULT_LR);
    }
    let optimizer = Optimizer::from_name(&a.optimizer, &hyper).map_err(usage)?;
    let record = if a.csv.is_some() {
        Record::Steps
    } else {
        Record::Epochs
    };
    let cfg = TrainConfig {
        batch_size: a.batch,
        shuffle: Some(a.seed),
        record,
        ..TrainConfig::new(optimizer, a.epochs)
    };
    let mut csv = match &a.csv {
        Some(p) => {
            let mut f = AtomicFile::create(p)?;
            writeln!(f, "{}", step_header(&net).join(","))?;
            Some(f)
        }
        None => None,
    };
    let metrics = EpochMetrics::new(&net, &s.split.train, &s.split.test);
    let mut sink = NetSink {
        metrics: &metrics,
        net: &net,
        all: a.json.then(Vec::new),
        ends: Ends::new(10),
        csv: csv.as_mut(),
        failed: None,
    };
    let mut dropout = if masks.is_empty() {
        None
    } else {
        Some(DropoutBackend::new(&net.trainer, &cfg, &masks, a.dropout, a.seed).map_err(usage)?)
    };
    let end = run_live_on(
        &net.trainer,
        &init,
        &cfg,
        "net",
        &mut sink,
        dropout.as_mut().map(|d| d as &mut dyn Backend),
    )
    .map_err(usage)?;
    if let Some(e) = sink.failed.take() {
        return Err(e);
    }
    let (all, ends) = (sink.all.take(), sink.ends.clone());
    if let Some(f) = csv {
        f.commit()?;
    }
    let epochs_for_explain: Vec<EpochRow> = all
        .clone()
        .unwrap_or_else(|| ends.head().iter().chain(ends.tail()).cloned().collect());
    let ex = explain(&net, &end.final_params, &s.split.train, &epochs_for_explain);
    let remedies = if masks.is_empty() {
        remedies(&s, &net, &end, &ex, reg, &init_scheme_of(&a)?, a.seed, &cfg)
    } else {
        Remedies {
            tried: Vec::new(),
            skipped: (!ex.findings.is_empty())
                .then(|| "(the remedies are not re-run with dropout)".to_string()),
        }
    };
    let told = Explained { ex, remedies };
    if let Some(path) = &a.xlsx {
        let book = gradsheet_report::net::workbook(&net, &end.final_params, &s.split.train)
            .map_err(|e| usage(format!("--xlsx: {e}")))?;
        let bytes = book
            .to_xlsx(false)
            .map_err(|e| anyhow::anyhow!("cannot write the workbook: {e}"))?;
        crate::output::write_atomic(path, &bytes)?;
    }
    if a.json {
        print_json(&a, &s, &net, &init, &end, &all.unwrap_or_default(), &told)?;
    } else {
        print_text(&a, &s, &net, &end, &ends, &told);
    }
    if matches!(end.stop, Stop::Interrupted { .. }) && interrupted() {
        let written: Vec<PathBuf> = a.csv.iter().chain(&a.xlsx).cloned().collect();
        return Err(super::interrupted(&end, &written));
    }
    Ok(())
}

/// The run's sink: epoch rows kept (all for JSON, the ends for the terminal) and the step
/// table streamed to CSV.
struct NetSink<'a, 'b> {
    metrics: &'a EpochMetrics<'a>,
    net: &'a Network,
    all: Option<Vec<EpochRow>>,
    ends: Ends<EpochRow>,
    csv: Option<&'b mut AtomicFile>,
    failed: Option<anyhow::Error>,
}

impl Sink for NetSink<'_, '_> {
    fn step(&mut self, s: &gradsheet_train::StepView<'_>) -> ControlFlow<()> {
        if let Some(f) = self.csv.as_mut() {
            let row = step_row(self.net, s);
            let line: Vec<String> = row.iter().map(|v| format!("{v}")).collect();
            if let Err(e) = writeln!(f, "{}", line.join(",")) {
                self.failed = Some(e.into());
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }

    fn epoch(&mut self, e: &EpochSummary) -> ControlFlow<()> {
        let row = self.metrics.row(e.epoch, &e.params, &e.grad_norms);
        self.ends
            .push_with(&row, Clone::clone, |old, new| *old = new.clone());
        if let Some(all) = self.all.as_mut() {
            all.push(row);
        }
        ControlFlow::Continue(())
    }
}

fn acc(v: Option<f64>) -> String {
    v.map_or("—".into(), |a| format!("{a:.3}"))
}

fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        format_number(v)
    }
}

fn print_text(
    a: &Args,
    s: &Setup,
    net: &Network,
    end: &RunEnd,
    ends: &Ends<EpochRow>,
    told: &Explained,
) {
    let (ex, remedies) = (&told.ex, &told.remedies);
    let noise = if a.data.is_none() {
        format!(", noise {}", format_number(a.noise))
    } else {
        String::new()
    };
    println!(
        "{}: {} points ({} train, {} test){noise}, seed {}, features {}",
        s.name,
        s.split.train.len() + s.split.test.len(),
        s.split.train.len(),
        s.split.test.len(),
        a.seed,
        net.columns()[..net.columns().len() - 1].join(", ")
    );
    println!(
        "network: {}, {} loss; {} cells, {} parameters ({}, seed {}); `--print` shows the cells",
        s.described,
        s.loss.name(),
        net.cells.len(),
        net.params().len(),
        a.init_scheme,
        a.seed
    );
    let layers: Vec<usize> = ends
        .head()
        .first()
        .map(|r| r.grad_norms.iter().map(|g| g.0).collect())
        .unwrap_or_default();
    let mut headers: Vec<String> = ["epoch", "train loss", "train acc", "test loss", "test acc"]
        .map(String::from)
        .to_vec();
    headers.extend(layers.iter().map(|l| format!("|∇| layer {l}")));
    let width = headers.len();
    let rows = shown::rows(ends, width, |r: &EpochRow| {
        let mut v = vec![
            r.epoch.to_string(),
            num(r.train.loss),
            acc(r.train.accuracy),
            num(r.test.loss),
            acc(r.test.accuracy),
        ];
        v.extend(r.grad_norms.iter().map(|g| short(g.1)));
        v
    });
    print!("{}", table(&headers, &rows));
    match &end.stop {
        Stop::Completed | Stop::Interrupted { .. } => {}
        Stop::Diverged { step, row, reason } => {
            println!(
                "diverged at step {step} (data row {}): {reason}; a smaller --lr keeps it finite",
                row + 1
            );
            if let Some(w) = divergence_at(net, &end.final_params, net.trainer.row(*row)) {
                println!("{}", indent(&w).trim_start());
            }
        }
    }
    if let Some(last) = ends.last() {
        println!(
            "after {} epochs ({} steps): train accuracy {}, test accuracy {}; train loss {}, test loss {}",
            end.epochs_done,
            end.steps_taken,
            acc(last.train.accuracy),
            acc(last.test.accuracy),
            num(last.train.loss),
            num(last.test.loss)
        );
    }
    for (i, f) in ex.findings.iter().enumerate() {
        println!("{}", indent(f).trim_start());
        for t in remedies.tried.iter().filter(|t| t.finding == i) {
            println!("{}", indent(&format!("  tried {}", t.words)).trim_end());
        }
    }
    for t in remedies.tried.iter().filter(|t| t.finding == usize::MAX) {
        println!("{}", indent(&format!("tried {}", t.words)).trim_start());
    }
    if let Some(why) = &remedies.skipped {
        println!("{}", indent(why).trim_start());
    }
}

/// What the run's explanation found and what its remedies did.
struct Explained {
    ex: Explanation,
    remedies: Remedies,
}

/// The remedies tried for a run's findings.
struct Remedies {
    tried: Vec<Tried>,
    /// Why none was re-run, when there were findings.
    skipped: Option<String>,
}

/// The most steps a remedy is re-run for (about a second on the interpreter for a
/// 2-8-8-1 network): past it the findings keep their advice, untried.
const REMEDY_BUDGET: usize = 500_000;

fn init_scheme_of(a: &Args) -> Result<Scheme> {
    Scheme::parse(&a.init_scheme).map_err(setting)
}

/// Each finding's remedy re-run with the same data, seed and settings (see
/// `gradsheet_net::remedy`), when the run is small enough to repeat.
#[allow(clippy::too_many_arguments)]
fn remedies(
    s: &Setup,
    net: &Network,
    end: &RunEnd,
    ex: &Explanation,
    reg: Reg,
    scheme: &Scheme,
    seed: u64,
    cfg: &TrainConfig,
) -> Remedies {
    let diverged = matches!(end.stop, Stop::Diverged { .. });
    let none = Remedies {
        tried: Vec::new(),
        skipped: None,
    };
    if ex.findings.is_empty() && !diverged {
        return none;
    }
    let steps = cfg.epochs.saturating_mul(s.split.train.len());
    if steps > REMEDY_BUDGET {
        return Remedies {
            tried: Vec::new(),
            skipped: Some(format!(
                "(the remedies were not re-run: {steps} steps is past the {REMEDY_BUDGET} a remedy is tried for)"
            )),
        };
    }
    let Ok(before) = outcome_of(net, &end.final_params, &s.split, diverged) else {
        return none;
    };
    let setup = RunSetup {
        cells: s.cells.clone(),
        loss: s.loss,
        reg,
        scheme: *scheme,
        seed,
        cfg: cfg.clone(),
    };
    Remedies {
        tried: try_remedies(&setup, &s.split, ex, &before, REMEDY_BUDGET),
        skipped: None,
    }
}

fn print_json(
    a: &Args,
    s: &Setup,
    net: &Network,
    init: &[f64],
    end: &RunEnd,
    epochs: &[EpochRow],
    told: &Explained,
) -> Result<()> {
    let (ex, remedies) = (&told.ex, &told.remedies);
    use super::diff::json_num as j;
    let params = net.params();
    let value_of = |v: &[f64]| {
        let m: std::collections::HashMap<&str, f64> = params
            .iter()
            .map(String::as_str)
            .zip(v.iter().copied())
            .collect();
        m
    };
    let trained = value_of(&end.final_params);
    let metrics = |m: &gradsheet_net::network::Metrics| serde_json::json!({"loss": j(m.loss), "accuracy": m.accuracy.map(j), "rows": m.rows});
    let out = serde_json::json!({
        "dataset": {
            "name": s.name, "classes": s.classes, "n": s.split.train.len() + s.split.test.len(), "noise": a.noise, "test_fraction": a.test_fraction,
            "seed": a.seed, "train_rows": s.split.train.len(), "test_rows": s.split.test.len(),
            "columns": s.split.train.columns,
        },
        "network": {
            "text": s.text,
            "loss": s.loss.name(),
            "init_scheme": a.init_scheme,
            "cells": net.cells.iter().map(|c| serde_json::json!({
                "name": c.name,
                "formula": c.formula.to_string(),
                "trained": c.formula.render(Notation::Formula, &|n: &str| {
                    trained.get(n).map_or(n.to_string(), |v| format_number(*v))
                }),
            })).collect::<Vec<_>>(),
            "params": params,
            "init": init.iter().map(|v| j(*v)).collect::<Vec<_>>(),
            "final": end.final_params.iter().map(|v| j(*v)).collect::<Vec<_>>(),
        },
        "epochs": epochs.iter().map(|r| serde_json::json!({
            "epoch": r.epoch,
            "train": metrics(&r.train),
            "test": metrics(&r.test),
            "grad_norms": r.grad_norms.iter().map(|g| serde_json::json!({"layer": g.0, "norm": j(g.1)})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "stop": match &end.stop {
            Stop::Completed => serde_json::json!("completed"),
            Stop::Diverged { step, row, reason } => serde_json::json!({"diverged": {"step": step, "row": row + 1, "reason": reason.to_string(), "where": divergence_at(net, &end.final_params, net.trainer.row(*row))}}),
            Stop::Interrupted { steps } => serde_json::json!({"interrupted": {"steps": steps}}),
        },
        "steps": end.steps_taken,
        "explain": {
            "layers": ex.layers.iter().map(|u| serde_json::json!({
                "layer": u.layer,
                "activation": u.activation,
                "dead": u.dead(),
                "off_share": u.units.iter().map(|(n, s)| serde_json::json!({"unit": n, "off": j(*s)})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "collapses": ex.collapses.iter().map(|c| serde_json::json!({
                "layers": [c.layers.0, c.layers.1],
                "weights": c.weights,
                "matrix": c.matrix,
            })).collect::<Vec<_>>(),
            "findings": ex.findings,
            "remedies": remedies.tried.iter().map(|t| serde_json::json!({
                "finding": (t.finding != usize::MAX).then_some(t.finding),
                "change": t.change,
                "helps": t.helps,
                "words": t.words,
                "after": {
                    "diverged": t.outcome.diverged,
                    "accuracy": t.outcome.accuracy.map(j),
                    "loss": j(t.outcome.loss),
                    "dead_units": t.outcome.dead,
                },
            })).collect::<Vec<_>>(),
            "remedies_skipped": remedies.skipped,
        },
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

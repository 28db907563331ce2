//! The networks page's endpoint, `POST /api/net`: a network of neurons on a 2-D dataset,
//! trained as `gradsheet net` trains it, answered as frames the page plays — each a
//! snapshot of the weights with every neuron's picture over the plane.
//!
//! A picture is `grid`×`grid` values quantised to 64 levels between the neuron's lowest
//! and highest value in that frame, one character each (`0-9A-Za-z-_`), so that 18
//! neurons × 40×40 × 60 frames is under 2 MB and the page draws every frame without
//! asking again.

use gradsheet_net::cells::parse_cells;
use gradsheet_net::data::{self, DataSpec, Kind};
use gradsheet_net::explain::explain;
use gradsheet_net::init::{initial, Scheme};
use gradsheet_net::network::{Network, Reg};
use gradsheet_net::record::{cell_grad_norms, EpochMetrics, EpochRow};
use gradsheet_net::spec::{Loss, NetSpec};
use gradsheet_net::NetError;
use gradsheet_train::{EpochSummary, Hooks, Hyper, Optimizer, Record, Sink, Stop, TrainConfig};
use serde::{Deserialize, Serialize};

use crate::dto::{nums, Num};
use crate::work::{Deadline, Lane, Work};
use crate::{ApiError, Limits};

/// The most points drawn for the page.
pub const MAX_POINTS: usize = 2_000;
/// The most squares per side of a neuron's picture.
pub const MAX_GRID: usize = 60;
/// The most frames sent.
pub const MAX_FRAMES: usize = 200;
/// The most picture values sent in all (cells × grid² × frames).
pub const MAX_PICTURE: usize = 6_000_000;
/// The most cells (neurons) a page's network has.
pub const MAX_CELLS: usize = 200;

/// `POST /api/net`: the dataset, the network and the training.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NetRequest {
    /// circle, xor, gauss, spiral, moons, plane, sine.
    pub dataset: String,
    /// Points in all.
    pub n: usize,
    /// Noise from 0 to 1.
    pub noise: f64,
    /// The share held out for testing.
    pub test_fraction: f64,
    /// Seed of the data, the weights and the shuffle.
    pub seed: u64,
    /// Feature columns (`x1`, `x2`, `x1sq`, `x2sq`, `x1x2`, `sinx1`, `sinx2`).
    pub features: Vec<String>,
    /// Neurons of each hidden layer.
    pub hidden: Vec<usize>,
    /// One activation for every hidden layer, or one per hidden layer.
    pub activation: Vec<String>,
    /// `logistic` or `squared` (default: by the dataset).
    pub loss: Option<String>,
    /// A model text of cells instead of `hidden` and `activation`.
    pub model: Option<String>,
    /// xavier, he, uniform:A, normal:SD.
    pub init: String,
    /// L1 strength.
    pub l1: f64,
    /// L2 strength.
    pub l2: f64,
    /// The optimizer's name.
    pub optimizer: String,
    /// Its learning rate.
    pub lr: f64,
    /// Rows per update (1: per sample; 0: all).
    pub batch: usize,
    /// Epochs.
    pub epochs: usize,
    /// Squares per side of the pictures.
    pub grid: usize,
    /// Frames to send (epoch 0 and evenly spaced epochs up to the last).
    pub frames: usize,
}

impl Default for NetRequest {
    fn default() -> Self {
        NetRequest {
            dataset: "circle".into(),
            n: 500,
            noise: 0.0,
            test_fraction: 0.5,
            seed: 1,
            features: vec!["x1".into(), "x2".into()],
            hidden: vec![8, 8],
            activation: vec!["tanh".into()],
            loss: None,
            model: None,
            init: "xavier".into(),
            l1: 0.0,
            l2: 0.0,
            optimizer: "sgd".into(),
            lr: 0.03,
            batch: 1,
            epochs: 50,
            grid: 40,
            frames: 50,
        }
    }
}

impl Work for NetRequest {
    fn lane(&self, lim: &Limits) -> Lane {
        let steps = self.epochs.saturating_mul(self.n);
        Lane::light_if(steps <= lim.max_steps / 20 && self.hidden.iter().sum::<usize>() <= 32)
    }
}

/// A cell of the network.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CellOut {
    /// Its name (`h1_3`, `z`, `pred`).
    pub name: String,
    /// Its layer (the output's is the last).
    pub layer: usize,
    /// Its formula.
    pub formula: String,
}

/// One epoch's numbers.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct EpochOut {
    /// From 1.
    pub epoch: usize,
    /// Mean data loss on the training rows.
    pub train_loss: Num,
    /// Accuracy on them (classes only).
    pub train_accuracy: Option<Num>,
    /// Mean data loss on the test rows.
    pub test_loss: Num,
    /// Accuracy on them.
    pub test_accuracy: Option<Num>,
    /// √(Σ g²) per layer.
    pub grad_norms: Vec<Num>,
}

/// A snapshot the page draws.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FrameOut {
    /// The epoch it shows the end of (0: the initial weights).
    pub epoch: usize,
    /// The parameters.
    pub params: Vec<Num>,
    /// Each cell's formula with the weights in place.
    pub formulas: Vec<String>,
    /// Each cell's gradient size over the epoch (0 at epoch 0).
    pub grads: Vec<Num>,
    /// Each cell's picture: its lowest and highest value and the quantised grid.
    pub pictures: Vec<PictureOut>,
}

/// A neuron's values over the plane.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PictureOut {
    /// The lowest value.
    pub lo: Num,
    /// The highest value.
    pub hi: Num,
    /// `grid²` characters, row by row from the top left, each a level 0–63 of
    /// `0-9A-Za-z-_` (`~` for a value that is not finite).
    pub levels: String,
}

/// The answer.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct NetOut {
    /// The model text of the cells (what `gradsheet net --print` prints).
    pub text: String,
    /// The cells.
    pub cells: Vec<CellOut>,
    /// The parameters' names.
    pub params: Vec<String>,
    /// The training points: x1, x2, label.
    pub train: Vec<[Num; 3]>,
    /// The test points.
    pub test: Vec<[Num; 3]>,
    /// Whether the labels are classes.
    pub classes: bool,
    /// Each epoch.
    pub epochs: Vec<EpochOut>,
    /// The snapshots.
    pub frames: Vec<FrameOut>,
    /// The pictures' squares per side.
    pub grid: usize,
    /// `completed`, or why it stopped.
    pub stop: String,
    /// What the run shows, in words (dead units, collapse, vanishing gradients).
    pub findings: Vec<String>,
    /// The server's time for the request, in milliseconds.
    pub ms: f64,
}

const LEVELS: &[u8; 64] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";

fn picture(values: &[f64]) -> PictureOut {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let lo = finite.clone().fold(f64::INFINITY, f64::min);
    let hi = finite.fold(f64::NEG_INFINITY, f64::max);
    let span = hi - lo;
    let levels = values
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                '~'
            } else if span > 0.0 {
                let k = ((v - lo) / span * 63.0).round().clamp(0.0, 63.0) as usize;
                LEVELS[k] as char
            } else {
                LEVELS[32] as char
            }
        })
        .collect();
    PictureOut {
        lo: Num(lo),
        hi: Num(hi),
        levels,
    }
}

fn bad(e: NetError) -> ApiError {
    let field = match &e {
        NetError::Data(_) => "dataset",
        _ => e.field().unwrap_or("model"),
    };
    let field = match field {
        "net" => "hidden",
        "init" => "init",
        other => other,
    };
    ApiError::bad(e.to_string(), field)
}

/// The trained network of `q` as a workbook of live formulas at its final weights over
/// the training rows (`gradsheet net --xlsx`).
///
/// # Errors
///
/// As [`net`], and a 400 when the network does not fit a sheet.
pub fn xlsx(q: &NetRequest, lim: &Limits, dl: &Deadline) -> Result<Vec<u8>, ApiError> {
    let r = trained(q, lim, dl)?;
    let book = gradsheet_report::net::workbook(&r.network, &r.end.final_params, &r.split.train)
        .map_err(|e| ApiError::bad(e.to_string(), "hidden"))?;
    book.to_xlsx(false).map_err(|e| {
        ApiError::status(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot write the workbook: {e}"),
        )
    })
}

/// A request's run: its data, network, frames and end.
struct Trained {
    text: String,
    kind: Kind,
    spec: DataSpec,
    split: data::Split,
    network: Network,
    rows: Vec<EpochRow>,
    snaps: Vec<(usize, Vec<f64>, Vec<f64>)>,
    end: gradsheet_train::RunEnd,
}

/// Runs the request.
///
/// # Errors
///
/// A 400 naming the field at fault (a layer of 0 neurons, too many, an unknown
/// activation or dataset, a dataset with one class, a model text that does not parse,
/// too many steps or picture values); a 503 past the deadline.
pub fn net(q: &NetRequest, lim: &Limits, dl: &Deadline) -> Result<NetOut, ApiError> {
    let t0 = std::time::Instant::now();
    let Trained {
        text,
        kind,
        spec,
        split,
        network,
        rows,
        snaps,
        end,
    } = trained(q, lim, dl)?;
    let grid = data::grid(&spec.features, q.grid);
    let mut frames_out = Vec::with_capacity(snaps.len());
    for (epoch, params, grads) in &snaps {
        dl.check()?;
        let values = network.cell_values(params, &grid);
        let names = network.params();
        let filled = |n: &str| {
            names
                .iter()
                .position(|p| p == n)
                .map_or(n.to_string(), |k| {
                    gradsheet_engine::format_number(params[k])
                })
        };
        frames_out.push(FrameOut {
            epoch: *epoch,
            params: nums(params),
            formulas: network
                .cells
                .iter()
                .map(|c| {
                    c.formula
                        .render(gradsheet_engine::Notation::Formula, &filled)
                })
                .collect(),
            grads: nums(&cell_grad_norms(&network, grads)),
            pictures: values.iter().map(|v| picture(v)).collect(),
        });
    }
    let ex = explain(&network, &end.final_params, &split.train, &rows);
    let out_layer = network
        .cells
        .iter()
        .filter_map(|c| unit_layer(&c.name))
        .max()
        .unwrap_or(0)
        + 1;
    let points = |d: &gradsheet_engine::Dataset, pts: &[[f64; 2]]| -> Vec<[Num; 3]> {
        let ys = d.column("y").unwrap_or_default();
        pts.iter()
            .zip(ys)
            .map(|(p, y)| [Num(p[0]), Num(p[1]), Num(y)])
            .collect()
    };
    Ok(NetOut {
        text,
        cells: network
            .cells
            .iter()
            .map(|c| CellOut {
                name: c.name.clone(),
                layer: unit_layer(&c.name).unwrap_or(out_layer),
                formula: c.formula.to_string(),
            })
            .collect(),
        params: network.params().to_vec(),
        train: points(&split.train, &split.train_points),
        test: points(&split.test, &split.test_points),
        classes: kind.is_classification(),
        epochs: rows
            .iter()
            .map(|r| EpochOut {
                epoch: r.epoch,
                train_loss: Num(r.train.loss),
                train_accuracy: r.train.accuracy.map(Num),
                test_loss: Num(r.test.loss),
                test_accuracy: r.test.accuracy.map(Num),
                grad_norms: r.grad_norms.iter().map(|g| Num(g.1)).collect(),
            })
            .collect(),
        frames: frames_out,
        grid: q.grid,
        stop: match &end.stop {
            Stop::Completed => "completed".into(),
            Stop::Diverged { step, reason, .. } => format!("diverged at step {step}: {reason}"),
            Stop::Interrupted { .. } => "interrupted".into(),
        },
        findings: ex.findings,
        ms: t0.elapsed().as_secs_f64() * 1e3,
    })
}

fn trained(q: &NetRequest, lim: &Limits, dl: &Deadline) -> Result<Trained, ApiError> {
    if q.n > MAX_POINTS {
        return Err(ApiError::bad(
            format!(
                "n = {}: the page draws at most {MAX_POINTS} points (the command line takes more)",
                q.n
            ),
            "n",
        ));
    }
    if !(2..=MAX_GRID).contains(&q.grid) {
        return Err(ApiError::bad(
            format!("grid = {}: between 2 and {MAX_GRID}", q.grid),
            "grid",
        ));
    }
    let steps = q.epochs.saturating_mul(q.n);
    if q.epochs == 0 || steps > lim.max_steps {
        return Err(ApiError::bad(
            format!(
                "{} epochs of up to {} rows: between 1 epoch and {} steps per request",
                q.epochs, q.n, lim.max_steps
            ),
            "epochs",
        ));
    }
    let kind = Kind::from_name(&q.dataset).map_err(bad)?;
    let features = data::features(&q.features.join(",")).map_err(bad)?;
    let spec = DataSpec {
        kind,
        n: q.n,
        noise: q.noise,
        test_fraction: q.test_fraction,
        seed: q.seed,
        features,
        classes: 2,
    };
    spec.validate().map_err(bad)?;
    let loss = match &q.loss {
        Some(l) => Loss::from_name(l).map_err(bad)?,
        None if kind.is_classification() => Loss::Logistic,
        None => Loss::Squared,
    };
    if loss == Loss::Softmax {
        // The page colours the plane by one output, the probability of class 1.
        return Err(ApiError::bad(
            "the networks page draws two classes with the logistic loss; \
             several classes with the softmax loss are for `gradsheet net --classes K`",
            "loss",
        ));
    }
    if loss == Loss::Logistic && !kind.is_classification() {
        return Err(ApiError::bad(
            format!(
                "{} is a regression dataset: the logistic loss needs classes",
                kind.name()
            ),
            "loss",
        ));
    }
    let columns = spec.columns();
    let inputs = &columns[..columns.len() - 1];
    let text = match &q.model {
        Some(t) => t.clone(),
        None => {
            if q.hidden.len() > gradsheet_net::spec::MAX_LAYERS {
                return Err(ApiError::bad(
                    format!(
                        "{} hidden layers; at most {}",
                        q.hidden.len(),
                        gradsheet_net::spec::MAX_LAYERS
                    ),
                    "hidden",
                ));
            }
            let mut layers: Vec<String> = vec![inputs.len().to_string()];
            layers.extend(q.hidden.iter().map(usize::to_string));
            layers.push("1".into());
            NetSpec::parse(&layers.join("-"), &q.activation.join(","), loss, inputs)
                .map_err(bad)?
                .text()
        }
    };
    let reserved: Vec<&str> = columns.iter().map(String::as_str).collect();
    let cells = parse_cells(&text, &reserved).map_err(|e| ApiError::formula("model", &e))?;
    if cells.len() > MAX_CELLS {
        return Err(ApiError::bad(
            format!("{} cells: the page shows at most {MAX_CELLS}", cells.len()),
            "hidden",
        ));
    }
    let frames = q.frames.clamp(1, MAX_FRAMES).min(q.epochs);
    let picture_values = cells.len() * q.grid * q.grid * (frames + 1);
    if picture_values > MAX_PICTURE {
        return Err(ApiError::bad(
            format!(
                "{} cells × {}² squares × {} frames is {picture_values} values; the page takes {MAX_PICTURE}: fewer frames or a coarser grid",
                cells.len(), q.grid, frames + 1
            ),
            "frames",
        ));
    }
    let split = spec.draw().map_err(bad)?;
    let reg = Reg { l1: q.l1, l2: q.l2 };
    if !(reg.l1.is_finite() && reg.l1 >= 0.0) {
        return Err(ApiError::bad("l1 must be a number ≥ 0", "l1"));
    }
    if !(reg.l2.is_finite() && reg.l2 >= 0.0) {
        return Err(ApiError::bad("l2 must be a number ≥ 0", "l2"));
    }
    let network = Network::new(cells, loss, reg, &split.train).map_err(bad)?;
    let scheme = Scheme::parse(&q.init).map_err(bad)?;
    let init = initial(network.params(), scheme, q.seed);
    let optimizer = Optimizer::from_name(&q.optimizer, &Hyper::new().with("lr", q.lr))?;
    let cfg = TrainConfig {
        batch_size: q.batch,
        shuffle: Some(q.seed),
        record: Record::Epochs,
        ..TrainConfig::new(optimizer, q.epochs)
    };
    // Frames at epoch 0 and at `frames` evenly spaced epochs ending with the last.
    let at: Vec<usize> = (1..=frames)
        .map(|k| (k * q.epochs).div_ceil(frames))
        .collect();
    let metrics = EpochMetrics::new(&network, &split.train, &split.test);
    let mut sink = Frames {
        metrics: &metrics,
        at: &at,
        rows: Vec::new(),
        snaps: vec![(0, init.clone(), vec![0.0; network.params().len()])],
    };
    let stop = || dl.passed();
    let mut hooks = Hooks {
        should_stop: &stop,
        progress: &mut |_, _| {},
    };
    let end =
        gradsheet_jit::train_into(&network.trainer, &init, &cfg, &mut hooks, &mut sink, None)?;
    if matches!(end.stop, Stop::Interrupted { .. }) {
        return Err(dl.exceeded());
    }
    let Frames { rows, snaps, .. } = sink;
    Ok(Trained {
        text,
        kind,
        spec,
        split,
        network,
        rows,
        snaps,
        end,
    })
}

/// `h{l}_{j}`'s layer.
fn unit_layer(name: &str) -> Option<usize> {
    name.strip_prefix('h')?.split_once('_')?.0.parse().ok()
}

/// The run's sink: each epoch's metrics, and the weights and gradient norms of the epochs
/// that are frames.
struct Frames<'a> {
    metrics: &'a EpochMetrics<'a>,
    at: &'a [usize],
    rows: Vec<EpochRow>,
    snaps: Vec<(usize, Vec<f64>, Vec<f64>)>,
}

impl Sink for Frames<'_> {
    fn epoch(&mut self, e: &EpochSummary) -> std::ops::ControlFlow<()> {
        self.rows
            .push(self.metrics.row(e.epoch, &e.params, &e.grad_norms));
        if self.at.contains(&e.epoch) {
            self.snaps
                .push((e.epoch, e.params.clone(), e.grad_norms.clone()));
        }
        std::ops::ControlFlow::Continue(())
    }
}

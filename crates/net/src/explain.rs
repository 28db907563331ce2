//! What a trained network did, layer by layer: dead ReLU units, consecutive linear layers
//! that collapse into one matrix, and gradient norms that vanish or explode from the
//! output back to the first layer.
//!
//! The structure is read from the cells' names and formulas (`h2_3` is layer 2's neuron 3,
//! `w2_3_1` its weight on input 1; the activation is the formula's outermost function),
//! so a model text pasted back is explained like the shorthand it came from.

use gradsheet_engine::{Binary, Dataset, Expr, Fold, Op, Unary};

use crate::init::weight_index;
use crate::network::Network;
use crate::record::EpochRow;

/// A layer's units and how many of them are dead.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerUnits {
    /// The layer, from 1.
    pub layer: usize,
    /// Its activation's name (`relu`, `tanh`, …, `linear`).
    pub activation: &'static str,
    /// Its units, each with the share of training rows on which it is off (value ≤ 0
    /// for a ReLU, no slope), 0 for other activations.
    pub units: Vec<(String, f64)>,
}

impl LayerUnits {
    /// The units off on every row.
    pub fn dead(&self) -> Vec<&str> {
        self.units
            .iter()
            .filter(|(_, off)| *off >= 1.0)
            .map(|(n, _)| n.as_str())
            .collect()
    }
}

/// Consecutive linear layers and the one matrix they amount to.
#[derive(Clone, Debug, PartialEq)]
pub struct Collapse {
    /// The first and last of the layers.
    pub layers: (usize, usize),
    /// How many weights they have.
    pub weights: usize,
    /// The product of their weight matrices (outputs × inputs), at the trained weights.
    pub matrix: Vec<Vec<f64>>,
}

/// A network's run explained.
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    /// Each hidden layer's units.
    pub layers: Vec<LayerUnits>,
    /// Runs of two or more linear layers.
    pub collapses: Vec<Collapse>,
    /// Per epoch, the first layer's gradient norm over the last layer's (None without
    /// epochs or with a zero last-layer norm).
    pub gradient_ratio: Vec<f64>,
    /// Findings in words, most important first.
    pub findings: Vec<String>,
}

/// The activation a cell's formula applies last.
pub fn activation_of(e: &Expr) -> &'static str {
    match e {
        // A dropout mask (`TANH(…)*m2_3`) leaves the unit's activation as it is.
        Expr::Apply(Op::Binary(Binary::Mul), args) if matches!(&args[1], Expr::Var(m) if crate::dropout::is_mask(m)) => {
            activation_of(&args[0])
        }
        Expr::Apply(Op::Unary(Unary::Relu), _) => "relu",
        Expr::Apply(Op::Unary(Unary::Tanh), _) => "tanh",
        Expr::Apply(Op::Unary(Unary::Sigmoid), _) => "sigmoid",
        Expr::Apply(Op::Unary(Unary::Softplus), _) => "softplus",
        Expr::Apply(Op::Fold(Fold::Max), args)
            if args.len() == 2 && matches!(&args[1], Expr::Apply(Op::Binary(Binary::Mul), _)) =>
        {
            "leaky_relu"
        }
        Expr::Apply(Op::Fold(Fold::Max), args) if args.len() == 2 && args[1] == Expr::Num(0.0) => {
            "relu"
        }
        _ => "linear",
    }
}

/// `h{l}_{j}` as (l, j).
fn unit_index(name: &str) -> Option<(usize, usize)> {
    let (l, j) = name.strip_prefix('h')?.split_once('_')?;
    Some((l.parse().ok()?, j.parse().ok()?))
}

/// Explains a run of `net` that ended at `params`, with its epochs' rows.
pub fn explain(net: &Network, params: &[f64], train: &Dataset, epochs: &[EpochRow]) -> Explanation {
    // Hidden layers from the names; the output (z, pred) is the layer after the last.
    let mut layers: Vec<LayerUnits> = Vec::new();
    for c in &net.cells {
        if let Some((l, _)) = unit_index(&c.name) {
            let act = activation_of(&c.formula);
            match layers.iter_mut().find(|u| u.layer == l) {
                Some(u) => u.units.push((c.name.clone(), 0.0)),
                None => layers.push(LayerUnits {
                    layer: l,
                    activation: act,
                    units: vec![(c.name.clone(), 0.0)],
                }),
            }
        }
    }
    layers.sort_by_key(|u| u.layer);
    // Off shares of the ReLU units over the training rows.
    let cols = net.columns();
    let rows: Vec<Vec<f64>> = match train.project(cols) {
        Ok(flat) => flat
            .chunks(cols.len().max(1))
            .map(<[f64]>::to_vec)
            .collect(),
        Err(_) => Vec::new(),
    };
    let values = net.cell_values(params, &rows);
    for u in &mut layers {
        if u.activation != "relu" {
            continue;
        }
        for (name, off) in &mut u.units {
            if let Some(ci) = net.cells.iter().position(|c| &c.name == name) {
                let n = values[ci].len().max(1);
                *off = values[ci].iter().filter(|v| **v <= 0.0).count() as f64 / n as f64;
            }
        }
    }
    let mut findings = Vec::new();
    for u in &layers {
        let dead = u.dead();
        if !dead.is_empty() {
            findings.push(format!(
                "layer {}: {} of {} ReLU units are dead (off on every one of the {} training rows): {}. Nothing flows back through them, so their weights no longer learn; a smaller learning rate, He initialisation or leaky_relu keeps units alive.",
                u.layer,
                dead.len(),
                u.units.len(),
                rows.len(),
                dead.join(", ")
            ));
        }
    }
    let collapses = collapses(net, params, &layers);
    for c in &collapses {
        let (a, b) = c.layers;
        let (rows, cols) = (c.matrix.len(), c.matrix.first().map_or(0, Vec::len));
        findings.push(format!(
            "layers {a}–{b} are linear: their {} weights act as {} numbers (one {rows}×{cols} matrix){}. Stacking linear layers adds no power; a nonlinear activation between them does.",
            c.weights,
            rows * cols,
            if rows * cols <= 4 {
                format!(
                    ": {}",
                    c.matrix
                        .iter()
                        .flatten()
                        .map(|v| gradsheet_engine::format_number(significant(*v, 4)))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                String::new()
            }
        ));
    }
    let gradient_ratio: Vec<f64> = epochs
        .iter()
        .map(|e| {
            let first = e.grad_norms.first().map_or(f64::NAN, |g| g.1);
            let last = e.grad_norms.last().map_or(f64::NAN, |g| g.1);
            first / last
        })
        .collect();
    if let (Some(e), Some(&r)) = (epochs.first(), gradient_ratio.first()) {
        if e.grad_norms.len() >= 2 {
            let (l0, lz) = (e.grad_norms[0].0, e.grad_norms[e.grad_norms.len() - 1].0);
            if r.is_finite() && r < 1e-2 {
                findings.push(format!(
                    "vanishing gradients: in epoch 1, layer {l0}'s gradient is {} of layer {lz}'s, so the first layer barely learns; tanh or ReLU instead of sigmoid, or fewer layers, let the gradient through.",
                    ratio_words(r)
                ));
            } else if r.is_finite() && r > 1e2 {
                findings.push(format!(
                    "exploding gradients: in epoch 1, layer {l0}'s gradient is {} times layer {lz}'s; a smaller initialisation (xavier) or learning rate tames it.",
                    gradsheet_engine::format_number(r)
                ));
            } else if !r.is_finite() && e.grad_norms.iter().any(|g| !g.1.is_finite()) {
                findings.push(
                    "the gradient became infinite or NaN in epoch 1: the run diverged; a smaller learning rate keeps it finite.".into(),
                );
            }
        }
    }
    // A ratio that only collapses later: saturated units stop passing the gradient back.
    let flagged = findings
        .iter()
        .any(|f| f.starts_with("vanishing gradients"));
    if !flagged {
        if let Some((e, r)) = epochs
            .iter()
            .zip(&gradient_ratio)
            .skip(1)
            .find(|(_, r)| r.is_finite() && **r < 1e-2)
        {
            let (l0, lz) = (e.grad_norms[0].0, e.grad_norms[e.grad_norms.len() - 1].0);
            findings.push(format!(
                "vanishing gradients from epoch {}: layer {l0}'s gradient is {} of layer {lz}'s; its units are saturated (tanh or sigmoid near ±1, where the slope is 0), most often from steps too large for the network.",
                e.epoch,
                ratio_words(*r)
            ));
        }
    }
    if let (Some(f), Some(l)) = (epochs.first(), epochs.last()) {
        if l.epoch > f.epoch
            && f.train.loss.is_finite()
            && l.train.loss.is_finite()
            && l.train.loss > 1.5 * f.train.loss
        {
            findings.push(format!(
                "the training loss ended at {} after epoch {}, worse than the {} of epoch {}: the steps overshoot; a smaller learning rate settles it.",
                short(l.train.loss),
                l.epoch,
                short(f.train.loss),
                f.epoch
            ));
        }
    }
    Explanation {
        layers,
        collapses,
        gradient_ratio,
        findings,
    }
}

/// `v` rounded to `digits` significant digits, for a sentence.
fn significant(v: f64, digits: i32) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let p = 10f64.powi(digits - 1 - v.abs().log10().floor() as i32);
    (v * p).round() / p
}

fn ratio_words(r: f64) -> String {
    if r > 0.0 {
        format!("1/{}", short((1.0 / r).round()))
    } else {
        "0".into()
    }
}

/// The weight matrix of layer `l` (neurons × inputs) from the parameter names.
fn matrix(net: &Network, params: &[f64], l: usize) -> Vec<Vec<f64>> {
    let mut m: Vec<Vec<f64>> = Vec::new();
    for (name, v) in net.params().iter().zip(params) {
        if let Some((ll, j, k)) = weight_index(name) {
            if ll == l && j >= 1 && k >= 1 {
                if m.len() < j {
                    m.resize(j, Vec::new());
                }
                if m[j - 1].len() < k {
                    m[j - 1].resize(k, 0.0);
                }
                m[j - 1][k - 1] = *v;
            }
        }
    }
    let width = m.iter().map(Vec::len).max().unwrap_or(0);
    for r in &mut m {
        r.resize(width, 0.0);
    }
    m
}

fn product(a: &[Vec<f64>], b: &[Vec<f64>]) -> Vec<Vec<f64>> {
    a.iter()
        .map(|row| {
            (0..b.first().map_or(0, Vec::len))
                .map(|k| {
                    row.iter()
                        .zip(b)
                        .map(|(x, brow)| x * brow.get(k).copied().unwrap_or(0.0))
                        .sum()
                })
                .collect()
        })
        .collect()
}

/// Runs of two or more consecutive linear layers (the output counts when `pred = z`).
fn collapses(net: &Network, params: &[f64], layers: &[LayerUnits]) -> Vec<Collapse> {
    let out_layer = layers.last().map_or(1, |u| u.layer + 1);
    let pred_linear = net
        .cells
        .last()
        .is_some_and(|c| activation_of(&c.formula) == "linear");
    let mut linear: Vec<usize> = layers
        .iter()
        .filter(|u| u.activation == "linear")
        .map(|u| u.layer)
        .collect();
    if pred_linear {
        linear.push(out_layer);
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < linear.len() {
        let mut j = i;
        while j + 1 < linear.len() && linear[j + 1] == linear[j] + 1 {
            j += 1;
        }
        if j > i {
            let (a, b) = (linear[i], linear[j]);
            let mut m = matrix(net, params, a);
            let mut weights = m.iter().map(Vec::len).sum::<usize>();
            for l in a + 1..=b {
                let w = matrix(net, params, l);
                weights += w.iter().map(Vec::len).sum::<usize>();
                m = product(&w, &m);
            }
            out.push(Collapse {
                layers: (a, b),
                weights,
                matrix: m,
            });
        }
        i = j + 1;
    }
    out
}

/// Where a diverging step starts: on the data `row` of the step that diverged, at the
/// parameters the run reached, the cell through which the largest gradient flows back
/// (its adjoint ∂err/∂cell), by layer. `None` when the parameters are no longer finite.
pub fn divergence_at(net: &Network, params: &[f64], row: &[f64]) -> Option<String> {
    if !params.iter().all(|p| p.is_finite()) {
        return None;
    }
    let cells = net.neurons(params, row);
    let out_layer = net
        .cells
        .iter()
        .filter_map(|c| unit_index(&c.name))
        .map(|(l, _)| l)
        .max()
        .unwrap_or(0)
        + 1;
    // Hidden units by their layer; the output's cells (z, z_k) as the layer after.
    let layer = |name: &str| {
        unit_index(name)
            .map(|(l, _)| l)
            .or_else(|| (name == "z" || name.starts_with("z_")).then_some(out_layer))
    };
    let mut by_layer: Vec<(usize, &str, f64)> = Vec::new();
    for c in &cells {
        let Some(l) = layer(&c.name) else { continue };
        let a = c.adjoint.abs();
        match by_layer.iter_mut().find(|x| x.0 == l) {
            Some(x) if a > x.2 || !a.is_finite() => {
                x.1 = &c.name;
                x.2 = a;
            }
            Some(_) => {}
            None => by_layer.push((l, &c.name, a)),
        }
    }
    by_layer.sort_by_key(|x| x.0);
    let top = by_layer
        .iter()
        .copied()
        .max_by(|a, b| a.2.total_cmp(&b.2))?;
    let per_layer: Vec<String> = by_layer
        .iter()
        .map(|(l, n, a)| format!("layer {l} {n} {}", short(*a)))
        .collect();
    Some(format!(
        "where it starts: on that row the largest gradient flows back through {} (layer {}), |∂err/∂{}| = {} (the largest per layer: {}).",
        top.1,
        top.0,
        top.1,
        short(top.2),
        per_layer.join(", ")
    ))
}

/// `v` to 3 significant digits as a person reads it: `0.0123`, `4.56`, `9.68e8`,
/// `2.26e-47` (powers of ten past a million or below 10⁻⁴).
///
/// ```
/// use gradsheet_net::explain::short;
/// assert_eq!(short(968_012_345.0), "9.68e8");
/// assert_eq!(short(2.2649999e-47), "2.26e-47");
/// assert_eq!(short(0.012345), "0.0123");
/// ```
pub fn short(v: f64) -> String {
    let a = v.abs();
    if v != 0.0 && a.is_finite() && !(1e-4..1e6).contains(&a) {
        format!("{v:.2e}")
    } else {
        gradsheet_engine::format_number(significant(v, 3))
    }
}

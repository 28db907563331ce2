//! What a network's run shows: train and test loss and accuracy after every epoch,
//! gradient norms per layer, and the step table with every neuron's value and adjoint.

use std::ops::ControlFlow;

use gradsheet_engine::Dataset;
use gradsheet_train::{EpochSummary, Sink, StepView};

use crate::network::{Metrics, Network};

/// The layer a parameter belongs to, read from its name (`w2_3_1`, `b2_3` → 2).
pub fn layer_of(name: &str) -> Option<usize> {
    let rest = name.strip_prefix('w').or_else(|| name.strip_prefix('b'))?;
    let first = rest.split('_').next()?;
    let parts = rest.split('_').count();
    let expected = if name.starts_with('w') { 3 } else { 2 };
    (parts == expected && rest.split('_').all(|p| p.parse::<usize>().is_ok()))
        .then(|| first.parse().ok())
        .flatten()
}

/// The layers of `params` in order, each with the indices of its parameters.
pub fn layers(params: &[String]) -> Vec<(usize, Vec<usize>)> {
    let mut out: Vec<(usize, Vec<usize>)> = Vec::new();
    for (k, p) in params.iter().enumerate() {
        if let Some(l) = layer_of(p) {
            match out.iter_mut().find(|(m, _)| *m == l) {
                Some((_, v)) => v.push(k),
                None => out.push((l, vec![k])),
            }
        }
    }
    out.sort_by_key(|(l, _)| *l);
    out
}

/// One epoch of a network's run.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochRow {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// On the training rows, at the epoch's end.
    pub train: Metrics,
    /// On the test rows, at the epoch's end (`rows` 0 when there are none).
    pub test: Metrics,
    /// Per layer: √(Σ g²) over the epoch's steps and the layer's parameters.
    pub grad_norms: Vec<(usize, f64)>,
}

/// A sink keeping one [`EpochRow`] per epoch (a few numbers each, whatever the data's size).
pub struct EpochMetrics<'a> {
    net: &'a Network,
    train: &'a Dataset,
    test: &'a Dataset,
    layers: Vec<(usize, Vec<usize>)>,
    /// The rows so far.
    pub rows: Vec<EpochRow>,
}

impl<'a> EpochMetrics<'a> {
    /// Measures `net` on `train` and `test` after each epoch.
    pub fn new(net: &'a Network, train: &'a Dataset, test: &'a Dataset) -> EpochMetrics<'a> {
        EpochMetrics {
            net,
            train,
            test,
            layers: layers(net.params()),
            rows: Vec::new(),
        }
    }

    /// The metrics at `params` and the epoch's gradient norms by layer.
    pub fn row(&self, epoch: usize, params: &[f64], grad_norms: &[f64]) -> EpochRow {
        let empty = Metrics {
            loss: f64::NAN,
            accuracy: None,
            rows: 0,
        };
        let m = |d: &Dataset| {
            if d.is_empty() {
                empty
            } else {
                self.net.metrics(params, d).unwrap_or(empty)
            }
        };
        EpochRow {
            epoch,
            train: m(self.train),
            test: m(self.test),
            grad_norms: self
                .layers
                .iter()
                .map(|(l, ks)| {
                    let s: f64 = ks
                        .iter()
                        .map(|&k| grad_norms.get(k).copied().unwrap_or(0.0).powi(2))
                        .sum();
                    (*l, s.sqrt())
                })
                .collect(),
        }
    }
}

impl Sink for EpochMetrics<'_> {
    fn epoch(&mut self, e: &EpochSummary) -> ControlFlow<()> {
        let row = self.row(e.epoch, &e.params, &e.grad_norms);
        self.rows.push(row);
        ControlFlow::Continue(())
    }
}

/// The step table's header: step, epoch, row, the data columns, then each cell's value
/// and each cell's adjoint (`∂err/∂h1_1`), then the error.
pub fn step_header(net: &Network) -> Vec<String> {
    let mut h: Vec<String> = vec!["step".into(), "epoch".into(), "row".into()];
    h.extend(net.columns().iter().cloned());
    h.extend(net.cells.iter().map(|c| c.name.clone()));
    h.extend(net.cells.iter().map(|c| format!("d_{}", c.name)));
    h.push("err".into());
    h
}

/// One step's row of the step table (see [`step_header`]): each cell's value and adjoint
/// at the step's parameters, before its update.
pub fn step_row(net: &Network, s: &StepView<'_>) -> Vec<f64> {
    let mut r = vec![s.step as f64, s.epoch as f64, (s.row + 1) as f64];
    r.extend_from_slice(s.inputs);
    let ns = net.neurons(s.params, s.inputs);
    r.extend(ns.iter().map(|n| n.value));
    r.extend(ns.iter().map(|n| n.adjoint));
    r.push(s.error);
    r
}

/// Each cell's gradient size in an epoch: √(Σ g²) over the weights and bias coming into
/// it (`h2_3` ← `w2_3_*`, `b2_3`; `z` ← the output layer's), from the epoch's per-parameter
/// norms; 0 for a cell without parameters of its own (`pred`).
pub fn cell_grad_norms(net: &Network, grad_norms: &[f64]) -> Vec<f64> {
    let out_layer = layers(net.params()).last().map_or(0, |l| l.0);
    let own = |cell: &str| -> Option<(usize, usize)> {
        if cell == "z" {
            return Some((out_layer, 1));
        }
        let (l, j) = cell.strip_prefix('h')?.split_once('_')?;
        Some((l.parse().ok()?, j.parse().ok()?))
    };
    net.cells
        .iter()
        .map(|c| {
            let Some((l, j)) = own(&c.name) else {
                return 0.0;
            };
            let prefix_w = format!("w{l}_{j}_");
            let bias = format!("b{l}_{j}");
            net.params()
                .iter()
                .zip(grad_norms)
                .filter(|(p, _)| p.starts_with(&prefix_w) || **p == bias)
                .map(|(_, g)| g * g)
                .sum::<f64>()
                .sqrt()
        })
        .collect()
}

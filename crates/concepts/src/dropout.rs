//! Dropout (Srivastava et al., 2014): during training, each hidden unit is deleted with
//! probability `p` — a fresh random mask every step — and the survivors are scaled by
//! `1/(1-p)` so that each unit's expected value is what the full network will see at
//! inference. Without the scaling the full network's activations are `1/(1-p)` times
//! larger than anything it was trained on. Averaging many masked networks (an ensemble
//! sharing weights) gives about the full network's prediction: exactly, in expectation,
//! when the masked layer feeds a linear output.
//!
//! The toy is a 1-D regression, `y = sin(1.5x) + noise` on a few training points, fitted by
//! a small ReLU MLP (`1 → H → H → 1`) big enough to overfit them. Forward and backward
//! passes are plain matrix code (checked against finite differences in the tests), the
//! updates are [`gradsheet_train::Optimizer`]'s Adam, and every mask is drawn from ChaCha8
//! with the lab's seed.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::la::{self, Mat};
use gradsheet_labs::figure::{colour, ColorMap, Figure, Heatmap, Lines, Series, Style};
use gradsheet_labs::{Image, Kind, LabError, Output, ParamSpec, Params, Table};
use gradsheet_train::{rng, Optimizer, State};
use rayon::prelude::*;

/// The lab's parameters.
pub const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "p",
        default: "0.5",
        kind: Kind::Number {
            min: 0.0,
            max: 0.95,
        },
        help: "drop probability shown in detail",
        web_max: None,
    },
    ParamSpec {
        name: "ps",
        default: "0,0.1,0.2,0.3,0.5,0.7",
        kind: Kind::List {
            min: 0.0,
            max: 0.95,
        },
        help: "drop probabilities compared",
        web_max: None,
    },
    ParamSpec {
        name: "hidden",
        default: "32",
        kind: Kind::Integer { min: 1, max: 256 },
        help: "units per hidden layer",
        web_max: Some(32.0),
    },
    ParamSpec {
        name: "layers",
        default: "2",
        kind: Kind::Integer { min: 1, max: 2 },
        help: "hidden layers (dropout after each)",
        web_max: None,
    },
    ParamSpec {
        name: "train",
        default: "24",
        kind: Kind::Integer { min: 2, max: 1000 },
        help: "training points",
        web_max: Some(48.0),
    },
    ParamSpec {
        name: "steps",
        default: "500",
        kind: Kind::Integer {
            min: 1,
            max: 100000,
        },
        help: "full-batch Adam steps",
        web_max: Some(500.0),
    },
    ParamSpec {
        name: "lr",
        default: "0.01",
        kind: Kind::Number {
            min: 1e-6,
            max: 1.0,
        },
        help: "Adam's learning rate",
        web_max: None,
    },
    ParamSpec {
        name: "noise",
        default: "0.3",
        kind: Kind::Number {
            min: 0.0,
            max: 10.0,
        },
        help: "noise on the targets",
        web_max: None,
    },
    ParamSpec {
        name: "ensemble",
        default: "200",
        kind: Kind::Integer {
            min: 1,
            max: 100000,
        },
        help: "masked nets averaged (largest)",
        web_max: Some(1000.0),
    },
    ParamSpec {
        name: "seed",
        default: "9",
        kind: Kind::Integer {
            min: 0,
            max: u64::MAX,
        },
        help: "seed of data, weights and masks",
        web_max: Some(1_000_000.0),
    },
];

/// The target function.
pub fn truth(x: f64) -> f64 {
    (1.5 * x).sin()
}

/// A ReLU MLP `1 → H (→ H) → 1` with its parameters in one flat vector (the optimizer's
/// view): for each layer its weights (row-major, inputs × outputs) then its biases.
#[derive(Clone, Debug, PartialEq)]
pub struct Net {
    /// Layer widths, input first: `[1, H, 1]` or `[1, H, H, 1]`.
    pub sizes: Vec<usize>,
    /// The parameters.
    pub params: Vec<f64>,
}

/// What one forward pass keeps for the backward pass.
#[derive(Clone, Debug, PartialEq)]
pub struct Forward {
    /// The inputs, then each hidden layer after dropout, as fed to the next layer.
    pub inputs: Vec<Mat>,
    /// Each hidden layer's activations before dropout.
    pub acts: Vec<Mat>,
    /// Each hidden layer's pre-activations.
    pub pre: Vec<Mat>,
    /// The outputs (batch × 1).
    pub out: Mat,
}

/// Dropout masks, one per hidden layer (batch × H, entries 0 or 1), and the factor kept
/// units are multiplied by (`1/(1-p)` with scaling, 1 without).
#[derive(Clone, Debug, PartialEq)]
pub struct Masks {
    /// One mask per hidden layer.
    pub masks: Vec<Mat>,
    /// The factor for kept units.
    pub scale: f64,
}

/// The buffers of [`Net::loss_grad_into`], kept from one training step to the next.
#[derive(Default)]
struct Scratch {
    /// Each layer's input (the batch, then each hidden layer after dropout).
    inputs: Vec<Vec<f64>>,
    /// Each hidden layer's pre-activations.
    pre: Vec<Vec<f64>>,
    /// The outputs.
    out: Vec<f64>,
    /// The gradient with respect to the layer's outputs being back-propagated.
    g: Vec<f64>,
    /// The gradient with respect to its inputs, before the mask and the ReLU.
    gin: Vec<f64>,
    /// A layer's weights transposed.
    wt: Vec<f64>,
    /// The gradient with respect to every parameter, laid out as they are.
    grads: Vec<f64>,
}

impl Masks {
    /// Draws new masks into these, with [`Masks::draw`]'s numbers from `rng` in its order.
    fn redraw(&mut self, p: f64, rng: &mut ChaCha8Rng) {
        for m in &mut self.masks {
            for v in &mut m.data {
                *v = if rng::unit(rng) < p { 0.0 } else { 1.0 };
            }
        }
    }

    /// Draws masks: each entry is 0 with probability `p`.
    pub fn draw(
        sizes: &[usize],
        batch: usize,
        p: f64,
        scaled: bool,
        rng: &mut ChaCha8Rng,
    ) -> Masks {
        let masks = sizes[1..sizes.len() - 1]
            .iter()
            .map(|&h| Mat::from_fn(batch, h, |_, _| if rng::unit(rng) < p { 0.0 } else { 1.0 }))
            .collect();
        Masks {
            masks,
            scale: if scaled && p < 1.0 {
                1.0 / (1.0 - p)
            } else {
                1.0
            },
        }
    }
}

impl Net {
    /// Kaiming-initialised weights, zero biases.
    pub fn new(sizes: &[usize], rng: &mut ChaCha8Rng) -> Net {
        let mut params = Vec::new();
        for w in sizes.windows(2) {
            let std = (2.0 / w[0] as f64).sqrt();
            params.extend((0..w[0] * w[1]).map(|_| std * rng::normal(rng)));
            params.extend(std::iter::repeat_n(0.0, w[1]));
        }
        Net {
            sizes: sizes.to_vec(),
            params,
        }
    }

    /// The weights and biases of layer `l` (0-based), copied out of the flat vector.
    pub fn layer(&self, l: usize) -> (Mat, &[f64]) {
        let mut off = 0;
        for w in self.sizes.windows(2).take(l) {
            off += w[0] * w[1] + w[1];
        }
        let (n_in, n_out) = (self.sizes[l], self.sizes[l + 1]);
        let w = Mat {
            rows: n_in,
            cols: n_out,
            data: self.params[off..off + n_in * n_out].to_vec(),
        };
        (
            w,
            &self.params[off + n_in * n_out..off + n_in * n_out + n_out],
        )
    }

    /// The forward pass of the column of inputs `x`, with dropout masks or without
    /// (`None`: the full network, as at inference).
    pub fn forward(&self, x: &[f64], masks: Option<&Masks>) -> Forward {
        let n_layers = self.sizes.len() - 1;
        let mut inputs = vec![Mat {
            rows: x.len(),
            cols: 1,
            data: x.to_vec(),
        }];
        let (mut acts, mut pre) = (Vec::new(), Vec::new());
        let mut out = Mat::zeros(x.len(), 1);
        for l in 0..n_layers {
            let (w, b) = self.layer(l);
            let mut z = inputs[l].matmul(&w);
            for r in 0..z.rows {
                for (v, bi) in z.data[r * z.cols..(r + 1) * z.cols].iter_mut().zip(b) {
                    *v += bi;
                }
            }
            if l + 1 == n_layers {
                out = z;
                break;
            }
            // (Rows and columns named, not `..z.clone()`: that copied the whole matrix
            // to take two numbers from it.)
            let (rows, cols) = (z.rows, z.cols);
            let a = Mat {
                rows,
                cols,
                data: z.data.iter().map(|v| v.max(0.0)).collect(),
            };
            let fed = match masks {
                Some(m) => Mat {
                    rows,
                    cols,
                    data: a
                        .data
                        .iter()
                        .zip(&m.masks[l].data)
                        .map(|(v, k)| v * k * m.scale)
                        .collect(),
                },
                None => a.clone(),
            };
            pre.push(z);
            acts.push(a);
            inputs.push(fed);
        }
        Forward {
            inputs,
            acts,
            pre,
            out,
        }
    }

    /// The outputs of the network thinned by `one`'s masks (one row each, the same units
    /// dropped for every input): [`Net::forward`]'s arithmetic, keeping nothing but the
    /// layer being computed.
    fn thinned(&self, x: &[f64], one: &Masks) -> Vec<f64> {
        let n_layers = self.sizes.len() - 1;
        let mut fed = Mat {
            rows: x.len(),
            cols: 1,
            data: x.to_vec(),
        };
        for l in 0..n_layers {
            let (w, b) = self.layer(l);
            let mut z = fed.matmul(&w);
            for r in 0..z.rows {
                for (v, bi) in z.data[r * z.cols..(r + 1) * z.cols].iter_mut().zip(b) {
                    *v += bi;
                }
            }
            if l + 1 == n_layers {
                return z.data;
            }
            // As forward's `v * k * scale`, with k the row's mask entry of the column.
            let keep = &one.masks[l].data;
            for r in 0..z.rows {
                for (v, k) in z.data[r * z.cols..(r + 1) * z.cols].iter_mut().zip(keep) {
                    *v = v.max(0.0) * k * one.scale;
                }
            }
            fed = z;
        }
        fed.data
    }

    /// The mean squared error on `(x, y)` and its gradient with respect to every parameter.
    pub fn loss_grad(&self, x: &[f64], y: &[f64], masks: Option<&Masks>) -> (f64, Vec<f64>) {
        let mut s = Scratch::default();
        let loss = self.loss_grad_into(x, y, masks, &mut s);
        (loss, s.grads)
    }

    /// [`Net::loss_grad`] with its passes in `s`'s buffers (the gradient in `s.grads`),
    /// kept from one training step to the next rather than allocated at every step:
    /// [`Net::forward`]'s and the backward pass's operations in the same order, the weights
    /// read in place from the flat parameters.
    fn loss_grad_into(&self, x: &[f64], y: &[f64], masks: Option<&Masks>, s: &mut Scratch) -> f64 {
        let n_layers = self.sizes.len() - 1;
        let batch = x.len();
        let offsets = self.offsets();
        s.inputs.resize_with(n_layers, Vec::new);
        s.pre.resize_with(n_layers.saturating_sub(1), Vec::new);
        s.inputs[0].clear();
        s.inputs[0].extend_from_slice(x);
        for (l, &off) in offsets.iter().enumerate() {
            let (n_in, n_out) = (self.sizes[l], self.sizes[l + 1]);
            let w = &self.params[off..off + n_in * n_out];
            let b = &self.params[off + n_in * n_out..off + n_in * n_out + n_out];
            let z = if l + 1 == n_layers {
                &mut s.out
            } else {
                &mut s.pre[l]
            };
            z.resize(batch * n_out, 0.0);
            la::matmul_into(&s.inputs[l], w, n_in, n_out, z);
            for row in z.chunks_exact_mut(n_out) {
                for (v, bi) in row.iter_mut().zip(b) {
                    *v += bi;
                }
            }
            if l + 1 == n_layers {
                break;
            }
            // The next layer's input: forward's `fed`, `max(v, 0)` then `· k · scale`.
            let (z, fed) = (&s.pre[l], &mut s.inputs[l + 1]);
            fed.clear();
            match masks {
                Some(m) => fed.extend(
                    z.iter()
                        .zip(&m.masks[l].data)
                        .map(|(v, k)| v.max(0.0) * k * m.scale),
                ),
                None => fed.extend(z.iter().map(|v| v.max(0.0))),
            }
        }
        let n = batch as f64;
        let loss = s
            .out
            .iter()
            .zip(y)
            .map(|(o, t)| (o - t) * (o - t))
            .sum::<f64>()
            / n;
        // ∂loss/∂out = 2(out − y)/n; then back through each layer.
        s.g.clear();
        s.g.extend(s.out.iter().zip(y).map(|(o, t)| 2.0 * (o - t) / n));
        s.grads.resize(self.params.len(), 0.0);
        for l in (0..n_layers).rev() {
            let (n_in, n_out, off) = (self.sizes[l], self.sizes[l + 1], offsets[l]);
            let (gw, rest) = s.grads[off..].split_at_mut(n_in * n_out);
            la::t_matmul_into(&s.inputs[l], &s.g, n_in, n_out, gw);
            for (c, gb) in rest[..n_out].iter_mut().enumerate() {
                *gb = (0..batch).map(|r| s.g[r * n_out + c]).sum();
            }
            if l == 0 {
                break;
            }
            // ∂/∂(fed input) → through the mask and scale → through the ReLU (slope 1 at 0,
            // the engine's rule). `wt` is layer l's weights transposed (outputs × inputs).
            let w = &self.params[off..off + n_in * n_out];
            s.wt.resize(n_out * n_in, 0.0);
            for (r, row) in s.wt.chunks_exact_mut(n_in).enumerate() {
                for (c, v) in row.iter_mut().enumerate() {
                    *v = w[c * n_out + r];
                }
            }
            s.gin.resize(batch * n_in, 0.0);
            la::matmul_t_into(&s.g, &s.wt, n_out, n_in, &mut s.gin);
            // Both sides of the ReLU's choice computed and one selected: the signs of the
            // pre-activations come at random, and a branch on them is mispredicted often.
            let z = &s.pre[l - 1];
            s.g.resize(s.gin.len(), 0.0);
            match masks {
                Some(m) => {
                    let (k, sc) = (&m.masks[l - 1].data, m.scale);
                    for (((g, &v), &z), &k) in s.g.iter_mut().zip(&s.gin).zip(z).zip(k) {
                        let t = v * (k * sc);
                        *g = if z >= 0.0 { t } else { 0.0 };
                    }
                }
                None => {
                    for ((g, &v), &z) in s.g.iter_mut().zip(&s.gin).zip(z) {
                        // (No mask: `keep` is 1, and `v · 1` is `v`.)
                        *g = if z >= 0.0 { v } else { 0.0 };
                    }
                }
            }
        }
        loss
    }

    /// Where each layer's weights start in the flat parameters.
    fn offsets(&self) -> Vec<usize> {
        let mut off = 0;
        self.sizes
            .windows(2)
            .map(|w| {
                let at = off;
                off += w[0] * w[1] + w[1];
                at
            })
            .collect()
    }

    /// The full network's mean squared error.
    pub fn mse(&self, x: &[f64], y: &[f64]) -> f64 {
        let f = self.forward(x, None);
        f.out
            .data
            .iter()
            .zip(y)
            .map(|(o, t)| (o - t) * (o - t))
            .sum::<f64>()
            / x.len() as f64
    }
}

/// How a network was trained.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainSpec {
    /// Drop probability.
    pub p: f64,
    /// Scale kept units by `1/(1-p)`.
    pub scaled: bool,
    /// Adam steps on the full training set.
    pub steps: usize,
    /// Learning rate.
    pub lr: f64,
    /// Seed of the weights and the masks.
    pub seed: u64,
}

/// Trains a fresh network; returns it and the training loss (with dropout) per step.
pub fn train(sizes: &[usize], x: &[f64], y: &[f64], t: &TrainSpec) -> (Net, Vec<f64>) {
    let mut wrng = ChaCha8Rng::seed_from_u64(t.seed);
    let mut net = Net::new(sizes, &mut wrng);
    let mut mrng = ChaCha8Rng::seed_from_u64(t.seed ^ 0x6d61_736b);
    let opt = Optimizer::torch_adam(t.lr);
    let mut st = State::new(&opt, net.params.len());
    let mut losses = Vec::with_capacity(t.steps);
    // The masks redrawn into their room and the passes into buffers kept across the steps.
    let mut masks = (t.p > 0.0).then(|| Masks::draw(sizes, x.len(), t.p, t.scaled, &mut mrng));
    let mut scratch = Scratch::default();
    for step in 0..t.steps {
        if let (Some(m), true) = (&mut masks, step > 0) {
            m.redraw(t.p, &mut mrng);
        }
        let loss = net.loss_grad_into(x, y, masks.as_ref(), &mut scratch);
        opt.step(&mut net.params, &scratch.grads, &mut st);
        losses.push(loss);
    }
    (net, losses)
}

/// The mean of `a·mask·scale` over `m` masks that drop with probability `p`: about `a`
/// with scaling, `(1-p)·a` without.
pub fn mask_mean(a: f64, p: f64, m: usize, scaled: bool, rng: &mut ChaCha8Rng) -> f64 {
    let scale = if scaled { 1.0 / (1.0 - p) } else { 1.0 };
    (0..m)
        .map(|_| if rng::unit(rng) < p { 0.0 } else { a * scale })
        .sum::<f64>()
        / m as f64
}

/// The average prediction of `m` masked networks: each net is one mask, the same for
/// every input.
pub fn ensemble(net: &Net, x: &[f64], p: f64, m: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    // The masks drawn in order from the one stream, the thinned nets run on rayon's
    // threads, their outputs added in the same order: the numbers of the serial loop.
    let ones: Vec<Masks> = (0..m)
        .map(|_| Masks::draw(&net.sizes, 1, p, true, rng))
        .collect();
    let outs: Vec<Vec<f64>> = ones.par_iter().map(|one| net.thinned(x, one)).collect();
    let mut acc = vec![0.0; x.len()];
    for out in &outs {
        for (a, o) in acc.iter_mut().zip(out) {
            *a += o;
        }
    }
    acc.iter().map(|a| a / m as f64).collect()
}

/// One drop probability's results.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SweepRow {
    /// Drop probability.
    pub p: f64,
    /// Training MSE of the full network, trained with scaling.
    pub train: f64,
    /// Validation MSE of the same.
    pub val: f64,
    /// Training MSE of the full network trained without scaling.
    pub train_unscaled: f64,
    /// Validation MSE of the same.
    pub val_unscaled: f64,
}

/// One step of the detailed view: layer 1 of the first training point.
#[derive(Clone, Debug, PartialEq)]
pub struct MaskStep {
    /// Step (1-based).
    pub step: usize,
    /// Activations before dropout.
    pub before: Vec<f64>,
    /// The mask.
    pub mask: Vec<f64>,
}

/// The whole lab's result.
#[derive(Clone, Debug, PartialEq)]
pub struct Dropout {
    /// Drop probability of the detailed view.
    pub p: f64,
    /// Training points.
    pub train: Vec<(f64, f64)>,
    /// Validation points.
    pub val: Vec<(f64, f64)>,
    /// Error across drop probabilities.
    pub sweep: Vec<SweepRow>,
    /// The first steps' masks (layer 1, first training point) while training with `p`.
    pub steps: Vec<MaskStep>,
    /// Per unit of layer 1 at the first training point, for the trained net:
    /// `(before, mean scaled, mean unscaled)` over many masks.
    pub expectation: Vec<(f64, f64, f64)>,
    /// Masks averaged for [`Dropout::expectation`].
    pub expectation_masks: usize,
    /// `(m, validation MSE of the m-net average, RMS gap to the full net)`.
    pub ensemble: Vec<(usize, f64, f64)>,
    /// Validation MSE of the full net trained with `p`.
    pub full_val: f64,
    /// Curves on a grid: `(x, truth, net without dropout, full dropout net, ensemble mean)`.
    pub curves: Vec<(f64, f64, f64, f64, f64)>,
    /// A few single masked nets on the grid.
    pub samples: Vec<Vec<f64>>,
    /// Hidden layers (1 or 2).
    pub hidden_layers: usize,
}

/// The lab's settings, read once from its parameters.
struct Setup {
    sizes: Vec<usize>,
    steps: usize,
    lr: f64,
    p: f64,
    seed: u64,
    train: Vec<(f64, f64)>,
    val: Vec<(f64, f64)>,
}

impl Setup {
    fn new(pp: &Params) -> Setup {
        let seed = pp.u64("seed");
        let (h, n_train, noise) = (pp.int("hidden"), pp.int("train"), pp.num("noise"));
        let sizes: Vec<usize> = if pp.int("layers") == 1 {
            vec![1, h, 1]
        } else {
            vec![1, h, h, 1]
        };
        // Every random stream derives from the one seed, XORed with an ASCII tag ("mask",
        // "exp", "ens") so that the streams are independent and each replays alone.
        let mut drng = ChaCha8Rng::seed_from_u64(seed);
        let mut point = |x: f64| (x, truth(x) + noise * rng::normal(&mut drng));
        let train = (0..n_train)
            .map(|i| point(-3.0 + 6.0 * (i as f64 + 0.5) / n_train as f64))
            .collect();
        let val = (0..200)
            .map(|i| point(-3.0 + 6.0 * (i as f64 + 0.5) / 200.0))
            .collect();
        Setup {
            sizes,
            steps: pp.int("steps"),
            lr: pp.num("lr"),
            p: pp.num("p"),
            seed,
            train,
            val,
        }
    }

    fn spec(&self, p: f64, scaled: bool) -> TrainSpec {
        TrainSpec {
            p,
            scaled,
            steps: self.steps,
            lr: self.lr,
            seed: self.seed,
        }
    }

    /// Trains a fresh net on the training points.
    fn train(&self, p: f64, scaled: bool) -> Net {
        let (tx, ty): (Vec<f64>, Vec<f64>) = self.train.iter().copied().unzip();
        train(&self.sizes, &tx, &ty, &self.spec(p, scaled)).0
    }

    /// Every network the lab trains — each p of the sweep with and without the scaling,
    /// the p shown, and none — once each, on rayon's threads: each training draws from
    /// its own seeded streams, so the order they run in changes no number.
    fn trained(&self, ps: &[f64]) -> Trained {
        let mut keys: Vec<(f64, bool)> = Vec::new();
        let mut want = |q: f64, scaled: bool| {
            if !keys
                .iter()
                .any(|k| k.0.to_bits() == q.to_bits() && k.1 == scaled)
            {
                keys.push((q, scaled));
            }
        };
        for &q in ps {
            want(q, true);
            if q > 0.0 {
                want(q, false);
            }
        }
        want(self.p, true);
        want(0.0, true);
        let nets = keys
            .par_iter()
            .map(|&(q, scaled)| self.train(q, scaled))
            .collect();
        Trained { keys, nets }
    }

    /// The error across drop probabilities, with and without the scaling.
    fn sweep(&self, ps: &[f64], nets: &Trained) -> Vec<SweepRow> {
        let (tx, ty): (Vec<f64>, Vec<f64>) = self.train.iter().copied().unzip();
        let (vx, vy): (Vec<f64>, Vec<f64>) = self.val.iter().copied().unzip();
        ps.iter()
            .map(|&q| {
                let a = nets.get(q, true);
                let b = if q > 0.0 { nets.get(q, false) } else { a };
                SweepRow {
                    p: q,
                    train: a.mse(&tx, &ty),
                    val: a.mse(&vx, &vy),
                    train_unscaled: b.mse(&tx, &ty),
                    val_unscaled: b.mse(&vx, &vy),
                }
            })
            .collect()
    }

    /// The first steps of training with p, replayed with the training's own mask stream:
    /// layer 1 at the first training point before dropout, and its mask.
    fn first_steps(&self) -> Vec<MaskStep> {
        let (tx, ty): (Vec<f64>, Vec<f64>) = self.train.iter().copied().unzip();
        let mut mrng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x6d61_736b);
        let mut wrng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut net = Net::new(&self.sizes, &mut wrng);
        let opt = Optimizer::torch_adam(self.lr);
        let mut st = State::new(&opt, net.params.len());
        let mut out = Vec::new();
        for s in 1..=self.steps.min(20) {
            let masks = Masks::draw(&self.sizes, tx.len(), self.p, true, &mut mrng);
            let f = net.forward(&tx, None);
            out.push(MaskStep {
                step: s,
                before: f.acts[0].row(0).to_vec(),
                mask: masks.masks[0].row(0).to_vec(),
            });
            let (_, g) = net.loss_grad(&tx, &ty, (self.p > 0.0).then_some(&masks));
            opt.step(&mut net.params, &g, &mut st);
        }
        out
    }

    /// Each layer-1 unit of `net` at the first training point: its value, and its mean
    /// after dropout with and without the scaling over `m` masks.
    fn expectation(&self, net: &Net, m: usize) -> Vec<(f64, f64, f64)> {
        let before = net.forward(&[self.train[0].0], None).acts[0]
            .row(0)
            .to_vec();
        let mut erng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x0065_7870);
        before
            .iter()
            .map(|&a| {
                (
                    a,
                    mask_mean(a, self.p, m, true, &mut erng),
                    mask_mean(a, self.p, m, false, &mut erng),
                )
            })
            .collect()
    }
}

/// Averages of 1, 2, 5, 10, 20, 50, … masked nets up to `biggest`: `(m, validation MSE of
/// the average, RMS gap to the full net)` for each, and the largest average itself.
fn ensembles(
    net: &Net,
    val: &[(f64, f64)],
    p: f64,
    biggest: usize,
    ensrng: &mut ChaCha8Rng,
) -> (Vec<(usize, f64, f64)>, Vec<f64>) {
    let (vx, vy): (Vec<f64>, Vec<f64>) = val.iter().copied().unzip();
    let full = net.forward(&vx, None).out.data;
    let rms = |a: &[f64], b: &[f64]| {
        a.iter().zip(b).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() / a.len() as f64
    };
    let mut out = Vec::new();
    let mut m = 1;
    let mut last = Vec::new();
    while m <= biggest {
        let avg = ensemble(net, &vx, p, m, ensrng);
        out.push((m, rms(&avg, &vy), rms(&avg, &full).sqrt()));
        last = avg;
        if m == biggest {
            break;
        }
        let next = if format!("{m}").starts_with('2') {
            m / 2 * 5
        } else {
            m * 2
        };
        m = next.min(biggest);
    }
    (out, last)
}

/// The networks a run trains, by (p, scaled).
struct Trained {
    keys: Vec<(f64, bool)>,
    nets: Vec<Net>,
}

impl Trained {
    fn get(&self, p: f64, scaled: bool) -> &Net {
        let i = self
            .keys
            .iter()
            .position(|k| k.0.to_bits() == p.to_bits() && k.1 == scaled)
            .unwrap_or(0);
        &self.nets[i]
    }
}

/// Runs the lab.
///
/// # Errors
///
/// None in practice (parameters are checked when parsed).
pub fn run(pp: &Params) -> Result<Dropout, LabError> {
    let setup = Setup::new(pp);
    let p = setup.p;
    let ps = pp.list("ps");
    let (nets, steps) = rayon::join(|| setup.trained(&ps), || setup.first_steps());
    let sweep = setup.sweep(&ps, &nets);
    let net = nets.get(p, true).clone();
    let plain = nets.get(0.0, true).clone();
    let em = 10_000;
    let expectation = setup.expectation(&net, em);
    let mut ensrng = ChaCha8Rng::seed_from_u64(setup.seed ^ 0x0065_6e73);
    let (ensemble_rows, last) = ensembles(&net, &setup.val, p, pp.int("ensemble"), &mut ensrng);
    let (vx, vy): (Vec<f64>, Vec<f64>) = setup.val.iter().copied().unzip();
    let full_val = net.forward(&vx, None).out.data;
    let plain_val = plain.forward(&vx, None).out.data;
    let curves = (0..vx.len())
        .map(|i| (vx[i], truth(vx[i]), plain_val[i], full_val[i], last[i]))
        .collect();
    let samples = (0..5)
        .map(|_| ensemble(&net, &vx, p, 1, &mut ensrng))
        .collect();
    Ok(Dropout {
        p,
        full_val: net.mse(&vx, &vy),
        hidden_layers: setup.sizes.len() - 2,
        train: setup.train,
        val: setup.val,
        sweep,
        steps,
        expectation,
        expectation_masks: em,
        ensemble: ensemble_rows,
        curves,
        samples,
    })
}

/// The registry's entry point.
///
/// # Errors
///
/// As [`run`].
pub fn run_lab(p: &Params, _image: Option<&Image>) -> Result<Output, LabError> {
    Ok(run(p)?.output())
}

impl Dropout {
    /// Tables, figures and notes.
    pub fn output(&self) -> Output {
        Output {
            lab: "dropout".into(),
            notes: self.notes(),
            tables: vec![
                self.sweep_table(),
                self.masks_table(),
                self.expectation_table(),
                self.ensemble_table(),
            ],
            figures: vec![
                self.fit_figure(),
                self.masks_figure(),
                self.ensemble_figure(),
            ],
            images: vec![],
        }
    }

    fn sweep_table(&self) -> Table {
        let mut sweep = Table::new(
            "sweep",
            "mean squared error of the full network after training with dropout p",
            &[
                "p",
                "train",
                "validation",
                "train (no 1/(1-p))",
                "validation (no 1/(1-p))",
            ],
        );
        for r in &self.sweep {
            sweep.push_nums(&[r.p, r.train, r.val, r.train_unscaled, r.val_unscaled]);
        }
        sweep
    }

    fn masks_table(&self) -> Table {
        let scale = 1.0 / (1.0 - self.p);
        let mut steps = Table::new(
            "masks",
            &format!(
                "the first steps with p = {}: layer 1 at the first training point, units 0–7",
                self.p
            ),
            &[
                "step",
                "unit",
                "before",
                "mask",
                "after ×1/(1-p)",
                "after, unscaled",
            ],
        );
        for s in &self.steps {
            for u in 0..s.before.len().min(8) {
                let (a, m) = (s.before[u], s.mask[u]);
                steps.push_nums(&[s.step as f64, u as f64, a, m, a * m * scale, a * m]);
            }
        }
        steps
    }

    fn expectation_table(&self) -> Table {
        let mut expect = Table::new(
            "expectation",
            &format!("mean over {} masks of each layer-1 unit after dropout (trained net, first training point)", self.expectation_masks),
            &["unit", "before", "mean ×1/(1-p)", "mean unscaled", "(1-p)·before"],
        );
        for (u, e) in self.expectation.iter().enumerate() {
            expect.push_nums(&[u as f64, e.0, e.1, e.2, (1.0 - self.p) * e.0]);
        }
        expect
    }

    fn ensemble_table(&self) -> Table {
        let mut ens = Table::new(
            "ensemble",
            "averaging masked networks against the full network (validation set)",
            &["masked nets", "validation MSE", "RMS gap to full net"],
        );
        for e in &self.ensemble {
            ens.push_nums(&[e.0 as f64, e.1, e.2]);
        }
        ens
    }

    fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(best) = self.sweep.iter().min_by(|a, b| a.val.total_cmp(&b.val)) {
            notes.push(format!(
                "lowest validation error at p = {} ({:.4}); p = 0 gives {:.4}",
                best.p,
                best.val,
                self.sweep
                    .iter()
                    .find(|r| r.p == 0.0)
                    .map_or(f64::NAN, |r| r.val)
            ));
        }
        if let Some(r) = self.sweep.iter().rev().find(|r| r.p > 0.0) {
            notes.push(format!(
                "without the 1/(1-p) scaling, p = {} ends at validation error {:.4} instead of {:.4}: at inference the full network sees activations 1/(1-p) times larger than in training",
                r.p, r.val_unscaled, r.val
            ));
        }
        if let (Some(first), Some(last)) = (self.ensemble.first(), self.ensemble.last()) {
            notes.push(format!(
                "averaging {} masked nets lands {:.4} (RMS) from the full net; one masked net is {:.4} away{}",
                last.0,
                last.2,
                first.2,
                if self.hidden_layers > 1 {
                    " (with two masked layers the ReLU between them makes the full net only an approximation of the average)"
                } else {
                    " (one masked layer before a linear output: the average converges to the full net exactly)"
                }
            ));
        }
        notes
    }

    /// The fits with and without dropout, and the error across p.
    fn fit_figure(&self) -> Figure {
        let mut fit = Lines::new(format!("fits: no dropout against p = {}", self.p), "x", "y");
        let curve = |f: fn(&(f64, f64, f64, f64, f64)) -> f64| -> Vec<(f64, f64)> {
            self.curves.iter().map(|c| (c.0, f(c))).collect()
        };
        for (k, s) in self.samples.iter().enumerate() {
            let name = if k == 0 { "single masked nets" } else { "" };
            let pts = self.curves.iter().zip(s).map(|(c, v)| (c.0, *v)).collect();
            fit.series
                .push(Series::new(name, pts, Style::Faint, colour::SKY));
        }
        fit.series.push(Series::new(
            "sin(1.5x)",
            curve(|c| c.1),
            Style::Dashed,
            colour::BLACK,
        ));
        fit.series.push(Series::new(
            "no dropout",
            curve(|c| c.2),
            Style::Line,
            colour::VERMILLION,
        ));
        fit.series.push(Series::new(
            format!("dropout p={}", self.p),
            curve(|c| c.3),
            Style::Line,
            colour::BLUE,
        ));
        if let Some(e) = self.ensemble.last() {
            fit.series.push(Series::new(
                format!("mean of {} masked", e.0),
                curve(|c| c.4),
                Style::Dashed,
                colour::GREEN,
            ));
        }
        fit.series.push(Series::new(
            "training points",
            self.train.clone(),
            Style::Points,
            colour::BLACK,
        ));
        fit.y_range = Some((-2.5, 2.5));

        let mut err = Lines::new("error across p", "drop probability p", "mean squared error");
        let col = |f: fn(&SweepRow) -> f64| self.sweep.iter().map(|r| (r.p, f(r))).collect();
        err.series.push(Series::new(
            "train",
            col(|r| r.train),
            Style::LinePoints,
            colour::BLUE,
        ));
        err.series.push(Series::new(
            "validation",
            col(|r| r.val),
            Style::LinePoints,
            colour::VERMILLION,
        ));
        err.series.push(Series::new(
            "train, no 1/(1-p)",
            col(|r| r.train_unscaled),
            Style::Dashed,
            colour::BLUE,
        ));
        err.series.push(Series::new(
            "validation, no 1/(1-p)",
            col(|r| r.val_unscaled),
            Style::Dashed,
            colour::VERMILLION,
        ));
        err.log_y = true;
        Figure::lines("fit", "fits with and without dropout", vec![fit, err])
    }

    /// Layer 1 before dropout, the masks and the scaled result, step by step.
    fn masks_figure(&self) -> Figure {
        let units = self.steps.first().map_or(0, |s| s.before.len());
        let scale = 1.0 / (1.0 - self.p);
        let grid = |f: &dyn Fn(&MaskStep) -> Vec<f64>| -> Vec<f64> {
            self.steps.iter().flat_map(f).collect()
        };
        let before = grid(&|s| s.before.clone());
        let masks = grid(&|s| s.mask.clone());
        let after = grid(&|s| {
            s.before
                .iter()
                .zip(&s.mask)
                .map(|(a, m)| a * m * scale)
                .collect()
        });
        let hi = after.iter().copied().fold(0.0, f64::max);
        let shape = (self.steps.len(), units);
        let map = |title: String, values: Vec<f64>, range: (f64, f64)| Heatmap {
            range: Some(range),
            labels: ("unit".into(), "step".into()),
            ..Heatmap::new(title, shape, values, ColorMap::Blues)
        };
        Figure::heatmaps(
            "masks",
            "Dropout masks, step by step (first training point, layer 1)",
            vec![
                map("layer 1 before dropout".into(), before, (0.0, hi)),
                map(format!("masks, p = {}", self.p), masks, (0.0, 1.0)),
                map("after, ×1/(1-p)".into(), after, (0.0, hi)),
            ],
            3,
        )
    }

    /// The average of more and more masked nets against the full net.
    fn ensemble_figure(&self) -> Figure {
        let mut ens = Lines::new(
            "averaging masked nets against the full net",
            "log10 of the number of masked nets averaged",
            "validation set",
        );
        let lx = |m: usize| (m as f64).log10();
        ens.series.push(Series::new(
            "RMS gap to the full net",
            self.ensemble.iter().map(|e| (lx(e.0), e.2)).collect(),
            Style::LinePoints,
            colour::BLUE,
        ));
        ens.series.push(Series::new(
            "MSE of the average",
            self.ensemble.iter().map(|e| (lx(e.0), e.1)).collect(),
            Style::LinePoints,
            colour::VERMILLION,
        ));
        if let (Some(a), Some(b)) = (self.ensemble.first(), self.ensemble.last()) {
            ens.series.push(Series::new(
                "MSE of the full net",
                vec![(lx(a.0), self.full_val), (lx(b.0), self.full_val)],
                Style::Dashed,
                colour::VERMILLION,
            ));
        }
        let top = self
            .ensemble
            .iter()
            .map(|e| e.1.max(e.2))
            .fold(self.full_val, f64::max);
        ens.y_range = Some((0.0, top * 1.05));
        Figure::lines("ensemble", "the ensemble view", vec![ens])
    }
}

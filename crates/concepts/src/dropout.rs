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

use crate::la::Mat;
use crate::params::{Kind, ParamSpec, Params};
use crate::svg::{compose, Chart, ColorMap, Heatmap, Panel, Series, Style};
use crate::{Figure, LabError, LabOutput, Table};
use gradsheet_train::{rng, Optimizer, State};

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
    },
    ParamSpec {
        name: "ps",
        default: "0,0.1,0.2,0.3,0.5,0.7",
        kind: Kind::List {
            min: 0.0,
            max: 0.95,
        },
        help: "drop probabilities compared",
    },
    ParamSpec {
        name: "hidden",
        default: "32",
        kind: Kind::Integer { min: 1, max: 256 },
        help: "units per hidden layer",
    },
    ParamSpec {
        name: "layers",
        default: "2",
        kind: Kind::Integer { min: 1, max: 2 },
        help: "hidden layers (dropout after each)",
    },
    ParamSpec {
        name: "train",
        default: "24",
        kind: Kind::Integer { min: 2, max: 1000 },
        help: "training points",
    },
    ParamSpec {
        name: "steps",
        default: "2000",
        kind: Kind::Integer {
            min: 1,
            max: 100000,
        },
        help: "full-batch Adam steps",
    },
    ParamSpec {
        name: "lr",
        default: "0.01",
        kind: Kind::Number {
            min: 1e-6,
            max: 1.0,
        },
        help: "Adam's learning rate",
    },
    ParamSpec {
        name: "noise",
        default: "0.3",
        kind: Kind::Number {
            min: 0.0,
            max: 10.0,
        },
        help: "noise on the targets",
    },
    ParamSpec {
        name: "ensemble",
        default: "1000",
        kind: Kind::Integer {
            min: 1,
            max: 100000,
        },
        help: "masked nets averaged (largest)",
    },
    ParamSpec {
        name: "seed",
        default: "9",
        kind: Kind::Integer {
            min: 0,
            max: u64::MAX,
        },
        help: "seed of data, weights and masks",
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

impl Masks {
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
            let a = Mat {
                data: z.data.iter().map(|v| v.max(0.0)).collect(),
                ..z.clone()
            };
            let fed = match masks {
                Some(m) => Mat {
                    data: a
                        .data
                        .iter()
                        .zip(&m.masks[l].data)
                        .map(|(v, k)| v * k * m.scale)
                        .collect(),
                    ..a.clone()
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

    /// The mean squared error on `(x, y)` and its gradient with respect to every parameter.
    pub fn loss_grad(&self, x: &[f64], y: &[f64], masks: Option<&Masks>) -> (f64, Vec<f64>) {
        let f = self.forward(x, masks);
        let n = x.len() as f64;
        let loss = f
            .out
            .data
            .iter()
            .zip(y)
            .map(|(o, t)| (o - t) * (o - t))
            .sum::<f64>()
            / n;
        // ∂loss/∂out = 2(out − y)/n; then back through each layer.
        let mut g = Mat {
            rows: x.len(),
            cols: 1,
            data: f
                .out
                .data
                .iter()
                .zip(y)
                .map(|(o, t)| 2.0 * (o - t) / n)
                .collect(),
        };
        let n_layers = self.sizes.len() - 1;
        let mut grads: Vec<Vec<f64>> = vec![Vec::new(); n_layers];
        for l in (0..n_layers).rev() {
            let (w, _) = self.layer(l);
            let gw = f.inputs[l].t_matmul(&g);
            let gb: Vec<f64> = (0..g.cols)
                .map(|c| (0..g.rows).map(|r| g.at(r, c)).sum())
                .collect();
            let mut gl = gw.data;
            gl.extend(gb);
            grads[l] = gl;
            if l == 0 {
                break;
            }
            // ∂/∂(fed input) → through the mask and scale → through the ReLU (slope 1 at 0,
            // the engine's rule).
            let gin = g.matmul_t(&w);
            let (z, k) = (&f.pre[l - 1], masks.map(|m| (&m.masks[l - 1], m.scale)));
            g = Mat {
                data: gin
                    .data
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let keep = k.map_or(1.0, |(m, s)| m.data[i] * s);
                        if z.data[i] >= 0.0 {
                            v * keep
                        } else {
                            0.0
                        }
                    })
                    .collect(),
                ..gin
            };
        }
        (loss, grads.concat())
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
    for _ in 0..t.steps {
        let masks = (t.p > 0.0).then(|| Masks::draw(sizes, x.len(), t.p, t.scaled, &mut mrng));
        let (loss, g) = net.loss_grad(x, y, masks.as_ref());
        opt.step(&mut net.params, &g, &mut st);
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
    let mut acc = vec![0.0; x.len()];
    for _ in 0..m {
        let one = Masks::draw(&net.sizes, 1, p, true, rng);
        let masks = Masks {
            masks: one
                .masks
                .iter()
                .map(|k| Mat::from_fn(x.len(), k.cols, |_, c| k.at(0, c)))
                .collect(),
            scale: one.scale,
        };
        let f = net.forward(x, Some(&masks));
        for (a, o) in acc.iter_mut().zip(&f.out.data) {
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

/// Runs the lab.
///
/// # Errors
///
/// None in practice (parameters are checked when parsed).
pub fn run(pp: &Params) -> Result<Dropout, LabError> {
    let seed = pp.u64("seed");
    let (h, n_train, steps, lr, noise) = (
        pp.int("hidden"),
        pp.int("train"),
        pp.int("steps"),
        pp.num("lr"),
        pp.num("noise"),
    );
    let p = pp.num("p");
    let sizes: Vec<usize> = if pp.int("layers") == 1 {
        vec![1, h, 1]
    } else {
        vec![1, h, h, 1]
    };
    // Every random stream derives from the one seed, XORed with an ASCII tag ("mask",
    // "exp", "ens") so that the streams are independent and each replays alone.
    let mut drng = ChaCha8Rng::seed_from_u64(seed);
    let mut point = |x: f64| (x, truth(x) + noise * rng::normal(&mut drng));
    let train_pts: Vec<(f64, f64)> = (0..n_train)
        .map(|i| point(-3.0 + 6.0 * (i as f64 + 0.5) / n_train as f64))
        .collect();
    let val_pts: Vec<(f64, f64)> = (0..200)
        .map(|i| point(-3.0 + 6.0 * (i as f64 + 0.5) / 200.0))
        .collect();
    let (tx, ty): (Vec<f64>, Vec<f64>) = train_pts.iter().copied().unzip();
    let (vx, vy): (Vec<f64>, Vec<f64>) = val_pts.iter().copied().unzip();

    let spec = |p: f64, scaled: bool| TrainSpec {
        p,
        scaled,
        steps,
        lr,
        seed,
    };
    let mut sweep = Vec::new();
    for &q in &pp.list("ps") {
        let (a, _) = train(&sizes, &tx, &ty, &spec(q, true));
        let (b, _) = if q > 0.0 {
            train(&sizes, &tx, &ty, &spec(q, false))
        } else {
            (a.clone(), vec![])
        };
        sweep.push(SweepRow {
            p: q,
            train: a.mse(&tx, &ty),
            val: a.mse(&vx, &vy),
            train_unscaled: b.mse(&tx, &ty),
            val_unscaled: b.mse(&vx, &vy),
        });
    }

    // The first steps of training with p, replayed with the training's own mask stream.
    let mut mrng = ChaCha8Rng::seed_from_u64(seed ^ 0x6d61_736b);
    let mut step_view = Vec::new();
    {
        let mut wrng = ChaCha8Rng::seed_from_u64(seed);
        let mut net = Net::new(&sizes, &mut wrng);
        let opt = Optimizer::torch_adam(lr);
        let mut st = State::new(&opt, net.params.len());
        for s in 1..=steps.min(20) {
            let masks = Masks::draw(&sizes, tx.len(), p, true, &mut mrng);
            let f = net.forward(&tx, None);
            step_view.push(MaskStep {
                step: s,
                before: f.acts[0].row(0).to_vec(),
                mask: masks.masks[0].row(0).to_vec(),
            });
            let (_, g) = net.loss_grad(&tx, &ty, (p > 0.0).then_some(&masks));
            opt.step(&mut net.params, &g, &mut st);
        }
    }

    let (net, _) = train(&sizes, &tx, &ty, &spec(p, true));
    let (plain, _) = train(&sizes, &tx, &ty, &spec(0.0, true));
    let before = net.forward(&tx[..1], None).acts[0].row(0).to_vec();
    let em = 10_000;
    let mut erng = ChaCha8Rng::seed_from_u64(seed ^ 0x0065_7870);
    let expectation = before
        .iter()
        .map(|&a| {
            (
                a,
                mask_mean(a, p, em, true, &mut erng),
                mask_mean(a, p, em, false, &mut erng),
            )
        })
        .collect();

    let full_val = net.forward(&vx, None).out.data;
    let mut ens = Vec::new();
    let mut ensrng = ChaCha8Rng::seed_from_u64(seed ^ 0x0065_6e73);
    let biggest = pp.int("ensemble");
    let mut m = 1;
    let mut last = Vec::new();
    while m <= biggest {
        let avg = ensemble(&net, &vx, p, m, &mut ensrng);
        let val = avg
            .iter()
            .zip(&vy)
            .map(|(a, t)| (a - t) * (a - t))
            .sum::<f64>()
            / vx.len() as f64;
        let gap = (avg
            .iter()
            .zip(&full_val)
            .map(|(a, f)| (a - f) * (a - f))
            .sum::<f64>()
            / vx.len() as f64)
            .sqrt();
        ens.push((m, val, gap));
        last = avg;
        if m == biggest {
            break;
        }
        // 1, 2, 5, 10, 20, 50, ...
        let next = if format!("{m}").starts_with('2') {
            m / 2 * 5
        } else {
            m * 2
        };
        m = next.min(biggest);
    }
    let plain_val = plain.forward(&vx, None).out.data;
    let curves = (0..vx.len())
        .map(|i| (vx[i], truth(vx[i]), plain_val[i], full_val[i], last[i]))
        .collect();
    let samples = (0..5)
        .map(|_| ensemble(&net, &vx, p, 1, &mut ensrng))
        .collect();
    Ok(Dropout {
        p,
        train: train_pts,
        val: val_pts,
        sweep,
        steps: step_view,
        expectation,
        expectation_masks: em,
        ensemble: ens,
        curves,
        samples,
        full_val: net.mse(&vx, &vy),
        hidden_layers: sizes.len() - 2,
    })
}

/// The registry's entry point.
///
/// # Errors
///
/// As [`run`].
pub fn run_lab(p: &Params, _image: Option<&crate::Image>) -> Result<LabOutput, LabError> {
    Ok(run(p)?.output())
}

impl Dropout {
    /// Tables, figures and notes.
    pub fn output(&self) -> LabOutput {
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
            sweep.push(vec![
                r.p.into(),
                r.train.into(),
                r.val.into(),
                r.train_unscaled.into(),
                r.val_unscaled.into(),
            ]);
        }
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
                steps.push(vec![
                    s.step.into(),
                    u.into(),
                    s.before[u].into(),
                    s.mask[u].into(),
                    (s.before[u] * s.mask[u] * scale).into(),
                    (s.before[u] * s.mask[u]).into(),
                ]);
            }
        }
        let mut expect = Table::new(
            "expectation",
            &format!("mean over {} masks of each layer-1 unit after dropout (trained net, first training point)", self.expectation_masks),
            &["unit", "before", "mean ×1/(1-p)", "mean unscaled", "(1-p)·before"],
        );
        for (u, e) in self.expectation.iter().enumerate() {
            expect.push(vec![
                u.into(),
                e.0.into(),
                e.1.into(),
                e.2.into(),
                ((1.0 - self.p) * e.0).into(),
            ]);
        }
        let mut ens = Table::new(
            "ensemble",
            "averaging masked networks against the full network (validation set)",
            &["masked nets", "validation MSE", "RMS gap to full net"],
        );
        for e in &self.ensemble {
            ens.push(vec![e.0.into(), e.1.into(), e.2.into()]);
        }
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
        LabOutput {
            lab: "dropout".into(),
            notes,
            tables: vec![sweep, steps, expect, ens],
            figures: self.figures(),
            images: vec![],
        }
    }

    fn figures(&self) -> Vec<Figure> {
        let mut fit = Chart::new(format!("fits: no dropout against p = {}", self.p), "x", "y");
        for (k, s) in self.samples.iter().enumerate() {
            let name = if k == 0 { "single masked nets" } else { "" };
            fit.series.push(Series::new(
                name,
                self.curves.iter().zip(s).map(|(c, v)| (c.0, *v)).collect(),
                Style::Faint,
                5,
            ));
        }
        fit.series.push(Series::new(
            "sin(1.5x)",
            self.curves.iter().map(|c| (c.0, c.1)).collect(),
            Style::Dashed,
            6,
        ));
        fit.series.push(Series::new(
            "no dropout",
            self.curves.iter().map(|c| (c.0, c.2)).collect(),
            Style::Line,
            1,
        ));
        fit.series.push(Series::new(
            format!("dropout p={}", self.p),
            self.curves.iter().map(|c| (c.0, c.3)).collect(),
            Style::Line,
            0,
        ));
        if let Some(e) = self.ensemble.last() {
            fit.series.push(Series::new(
                format!("mean of {} masked", e.0),
                self.curves.iter().map(|c| (c.0, c.4)).collect(),
                Style::Dashed,
                2,
            ));
        }
        fit.series.push(Series::new(
            "training points",
            self.train.clone(),
            Style::Points,
            6,
        ));
        fit.y_range = Some((-2.5, 2.5));

        let mut err = Chart::new("error across p", "drop probability p", "mean squared error");
        let col = |f: &dyn Fn(&SweepRow) -> f64| {
            self.sweep.iter().map(|r| (r.p, f(r))).collect::<Vec<_>>()
        };
        err.series.push(Series::new(
            "train",
            col(&|r| r.train),
            Style::LinePoints,
            0,
        ));
        err.series.push(Series::new(
            "validation",
            col(&|r| r.val),
            Style::LinePoints,
            1,
        ));
        err.series.push(Series::new(
            "train, no 1/(1-p)",
            col(&|r| r.train_unscaled),
            Style::Dashed,
            0,
        ));
        err.series.push(Series::new(
            "validation, no 1/(1-p)",
            col(&|r| r.val_unscaled),
            Style::Dashed,
            1,
        ));
        err.log_y = true;

        let units = self.steps.first().map_or(0, |s| s.before.len());
        let mut before = Heatmap::new(
            "layer 1 before dropout",
            units,
            self.steps.len(),
            vec![],
            ColorMap::Blues,
        );
        let mut masks = Heatmap::new(
            format!("masks, p = {}", self.p),
            units,
            self.steps.len(),
            vec![],
            ColorMap::Blues,
        );
        let mut after = Heatmap::new(
            "after, ×1/(1-p)",
            units,
            self.steps.len(),
            vec![],
            ColorMap::Blues,
        );
        let scale = 1.0 / (1.0 - self.p);
        for s in &self.steps {
            before.values.extend(&s.before);
            masks.values.extend(&s.mask);
            after
                .values
                .extend(s.before.iter().zip(&s.mask).map(|(a, m)| a * m * scale));
        }
        let hi = after.values.iter().copied().fold(0.0, f64::max);
        before.range = Some((0.0, hi));
        after.range = Some((0.0, hi));
        masks.range = Some((0.0, 1.0));
        for hm in [&mut before, &mut masks, &mut after] {
            hm.labels = ("unit".into(), "step".into());
        }

        let mut ens = Chart::new(
            "averaging masked nets against the full net",
            "log10 of the number of masked nets averaged",
            "validation set",
        );
        let lx = |m: usize| (m as f64).log10();
        ens.series.push(Series::new(
            "RMS gap to the full net",
            self.ensemble.iter().map(|e| (lx(e.0), e.2)).collect(),
            Style::LinePoints,
            0,
        ));
        ens.series.push(Series::new(
            "MSE of the average",
            self.ensemble.iter().map(|e| (lx(e.0), e.1)).collect(),
            Style::LinePoints,
            1,
        ));
        if let (Some(a), Some(b)) = (self.ensemble.first(), self.ensemble.last()) {
            ens.series.push(Series::new(
                "MSE of the full net",
                vec![(lx(a.0), self.full_val), (lx(b.0), self.full_val)],
                Style::Dashed,
                1,
            ));
        }
        let top = self
            .ensemble
            .iter()
            .map(|e| e.1.max(e.2))
            .fold(self.full_val, f64::max);
        ens.y_range = Some((0.0, top * 1.05));
        vec![
            Figure {
                name: "fit".into(),
                title: "fits with and without dropout".into(),
                svg: compose("", vec![Panel::Chart(fit), Panel::Chart(err)], 2),
            },
            Figure {
                name: "masks".into(),
                title: "masks drawn per step".into(),
                svg: compose(
                    "Dropout masks, step by step (first training point, layer 1)",
                    vec![
                        Panel::Heatmap(before),
                        Panel::Heatmap(masks),
                        Panel::Heatmap(after),
                    ],
                    3,
                ),
            },
            Figure {
                name: "ensemble".into(),
                title: "the ensemble view".into(),
                svg: compose("", vec![Panel::Chart(ens)], 1),
            },
        ]
    }
}

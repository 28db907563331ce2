//! The benchmark workloads of BENCHMARKS.md through the general engine (their hand-written
//! yardsticks are in [`crate::best`], W6's here beside its network). Timing is the
//! caller's business (`gradsheet bench`): this module, like the rest of the crate, does no
//! IO and reads no clock.

use gradsheet_engine::batch::Lanes;
use gradsheet_engine::{Dataset, Model, Roles};
use gradsheet_train::{Hooks, Optimizer, Record, Trace, TrainConfig, Trainer};
use rayon::prelude::*;

use crate::{surface, CompileError, EpochKernel};

/// A per-sample training workload (W1, W2, W6): a trainer, its configuration and the
/// compiled kernel.
#[derive(Clone, Debug)]
pub struct PerSample {
    /// The model compiled against the data.
    pub trainer: Trainer,
    /// Optimizer, epochs, `Record::Final`.
    pub cfg: TrainConfig,
    /// Initial parameters.
    pub init: Vec<f64>,
    /// The native kernel.
    pub kernel: EpochKernel,
}

impl PerSample {
    /// `formula` (squared error) on the graddesc data with `opt` for `epochs` epochs.
    ///
    /// # Errors
    ///
    /// [`CompileError`] if the model does not parse or compile.
    pub fn graddesc(
        formula: &str,
        opt: Optimizer,
        epochs: usize,
        init: &[f64],
    ) -> Result<PerSample, CompileError> {
        let model = Model::new(formula, "squared", &Roles::with_columns(&["x", "y"]))
            .map_err(|e| CompileError::Unsupported(e.to_string()))?;
        let trainer = Trainer::new(&model, &Dataset::graddesc())
            .map_err(|e| CompileError::Unsupported(e.to_string()))?;
        let mut cfg = TrainConfig::new(opt, epochs);
        cfg.record = Record::Final;
        let kernel = EpochKernel::compile_with(&trainer.compiled, &cfg.optimizer, false)?;
        Ok(PerSample {
            trainer,
            cfg,
            init: init.to_vec(),
            kernel,
        })
    }

    /// W1: per-sample SGD on `a*x+b`, lr 1e-4, from (1, 1).
    ///
    /// # Errors
    ///
    /// As [`PerSample::graddesc`].
    pub fn w1(epochs: usize) -> Result<PerSample, CompileError> {
        PerSample::graddesc("a*x+b", Optimizer::sgd(1e-4), epochs, &[1.0, 1.0])
    }

    /// W2: per-sample workbook Adam on `c*MAX(a*x+b,0)+d`, lr 0.01, β1 0.9, β2 0.99,
    /// from (1, 1, 1, 1).
    ///
    /// # Errors
    ///
    /// As [`PerSample::graddesc`].
    pub fn w2(epochs: usize) -> Result<PerSample, CompileError> {
        let opt = Optimizer::Adam {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.99,
        };
        PerSample::graddesc("c*MAX(a*x+b,0)+d", opt, epochs, &[1.0; 4])
    }

    /// The run on the native kernel.
    ///
    /// # Errors
    ///
    /// Those of [`EpochKernel::run`].
    pub fn engine(&self) -> Result<Trace, gradsheet_train::TrainError> {
        self.kernel
            .run(&self.trainer, &self.init, &self.cfg, &mut Hooks::none())
    }

    /// The run on the interpreter ([`Trainer::run`]), for `epochs` epochs.
    ///
    /// # Errors
    ///
    /// Those of [`Trainer::run`].
    pub fn interpreter(&self, epochs: usize) -> Result<Trace, gradsheet_train::TrainError> {
        let mut cfg = self.cfg.clone();
        cfg.epochs = epochs;
        self.trainer.run(&self.init, &cfg, &mut Hooks::none())
    }
}

/// W4's grid: `a` and `b` values, `n` each, over `[-4, 4] × [-40, 80]`.
pub fn w4_grid(n: usize) -> (Vec<f64>, Vec<f64>) {
    let step = |lo: f64, hi: f64, i: usize| lo + (hi - lo) * i as f64 / (n.max(2) - 1) as f64;
    (
        (0..n).map(|i| step(-4.0, 4.0, i)).collect(),
        (0..n).map(|i| step(-40.0, 80.0, i)).collect(),
    )
}

/// W4's data: `n` points of `y = 2x + 30` plus a fixed wiggle, x in [0, 100).
pub fn w4_data(n: usize) -> Dataset {
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let x = (i as f64 * 0.618_033_988_749_895).fract() * 100.0;
            vec![x, 2.0 * x + 30.0 + ((i % 7) as f64 - 3.0)]
        })
        .collect();
    Dataset::from_rows(vec!["x".into(), "y".into()], &rows).unwrap_or_else(|_| Dataset::graddesc())
}

/// W4 through the engine: the mean error of `model` over `data` at every `(a, b)` of
/// the grid, as `mse[i * bs.len() + j]` for `a = as_[i]`, `b = bs[j]`: the general
/// [`surface::mean_error_grid`] (the compiled tape with one SIMD lane per `b`, all cores
/// over the `a`s), as the web app's and the CLI's error landscapes run. Each lane sums
/// its errors row by row, exactly as [`Trainer::mean_error`].
///
/// # Errors
///
/// [`CompileError`] if the model does not have exactly the parameters `a` and `b`.
pub fn w4_engine(
    model: &Model,
    data: &Dataset,
    as_: &[f64],
    bs: &[f64],
) -> Result<Vec<f64>, CompileError> {
    if model.params != ["a", "b"] {
        return Err(CompileError::Unsupported("W4 sweeps a and b".into()));
    }
    let rows = data
        .project(&model.columns)
        .map_err(CompileError::Unsupported)?;
    let axes = surface::Axes {
        x: (1, bs),
        y: (0, as_),
    };
    surface::mean_error_grid(&model.compile(), &rows, &[0.0, 0.0], axes)
}

/// W4 on the interpreter's lanes ([`Lanes`]): the same sums, instruction by
/// instruction over arrays of lanes (slower than [`w4_engine`]; the reference the
/// compiled lanes are tested against).
///
/// # Panics
///
/// If the model does not have exactly the parameters `a` and `b`.
pub fn w4_lanes(model: &Model, data: &Dataset, as_: &[f64], bs: &[f64]) -> Vec<f64> {
    assert_eq!(model.params, ["a", "b"], "W4 sweeps a and b");
    let c = model.compile();
    let rows = data.project(&model.columns).unwrap_or_default();
    let nc = c.n_cols;
    let n_rows = rows.len() / nc.max(1);
    let (sa, sb) = (nc as u32, nc as u32 + 1);
    let err = c.tape.output(1);
    let lanes = bs.len();
    let mut out = vec![0.0; as_.len() * lanes];
    out.par_chunks_mut(lanes).zip(as_.par_iter()).for_each_init(
        || {
            let mut l = Lanes::new(&c.tape, lanes);
            for (k, v) in c.constants.iter().enumerate() {
                l.set_uniform((nc + 2 + k) as u32, *v);
            }
            l
        },
        |l, (acc, &a)| {
            l.set_uniform(sa, a);
            l.set_lanes(sb, bs);
            acc.iter_mut().for_each(|v| *v = 0.0);
            for r in rows.chunks_exact(nc) {
                for (j, v) in r.iter().enumerate() {
                    l.set_uniform(j as u32, *v);
                }
                l.forward(&c.tape);
                l.accumulate(err, acc);
            }
            acc.iter_mut().for_each(|v| *v /= n_rows as f64);
        },
    );
    out
}

/// The hidden width of W6's network.
pub const NET_WIDTH: usize = 8;

/// W6's parameters laid out for the hand-written loop: `w1[j] = [w1_j_1, w1_j_2]`,
/// `w2[k][j] = w2_k_j`, `w3[k] = w3_1_k`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Net2881 {
    w1: [[f64; 2]; NET_WIDTH],
    b1: [f64; NET_WIDTH],
    w2: [[f64; NET_WIDTH]; NET_WIDTH],
    b2: [f64; NET_WIDTH],
    w3: [f64; NET_WIDTH],
    b3: f64,
}

impl Net2881 {
    /// From the parameters in the order `gradsheet net --net 2-8-8-1` names them (order
    /// of first use: each neuron's weights then its bias, layer by layer).
    fn from_params(p: &[f64]) -> Net2881 {
        let mut it = p.iter().copied();
        let mut next = || it.next().unwrap_or(f64::NAN);
        let mut n = Net2881 {
            w1: [[0.0; 2]; NET_WIDTH],
            b1: [0.0; NET_WIDTH],
            w2: [[0.0; NET_WIDTH]; NET_WIDTH],
            b2: [0.0; NET_WIDTH],
            w3: [0.0; NET_WIDTH],
            b3: 0.0,
        };
        for j in 0..NET_WIDTH {
            n.w1[j] = [next(), next()];
            n.b1[j] = next();
        }
        for k in 0..NET_WIDTH {
            for j in 0..NET_WIDTH {
                n.w2[k][j] = next();
            }
            n.b2[k] = next();
        }
        for k in 0..NET_WIDTH {
            n.w3[k] = next();
        }
        n.b3 = next();
        n
    }

    fn to_params(self) -> Vec<f64> {
        let mut p = Vec::with_capacity(NET_PARAMS);
        for j in 0..NET_WIDTH {
            p.extend_from_slice(&self.w1[j]);
            p.push(self.b1[j]);
        }
        for k in 0..NET_WIDTH {
            p.extend_from_slice(&self.w2[k]);
            p.push(self.b2[k]);
        }
        p.extend_from_slice(&self.w3);
        p.push(self.b3);
        p
    }
}

/// The number of weights and biases of a 2-8-8-1 network.
pub const NET_PARAMS: usize = NET_WIDTH * 3 + NET_WIDTH * (NET_WIDTH + 1) + NET_WIDTH + 1;

/// W6 hand-written: per-sample SGD on a 2-8-8-1 network (tanh hidden layers, a sigmoid
/// output with the logistic loss `softplus(z) − z·y`), rows `(x1, x2, y)`, `params` in
/// the order [`NET_PARAMS`] describes. The arithmetic is the tape's, operation for
/// operation: sums left to right, `tanh' = 1 − h·h`, `∂loss/∂z = σ(z) − y`, and each
/// first-layer neuron's adjoint gathered from the second layer's neurons last to first,
/// as the reverse sweep visits them — so equal results are equal bits. Returns the final
/// parameters and the last epoch's sum of losses.
///
/// Written as a person tuning it would: fixed-size arrays the compiler unrolls, every
/// row's forward and backward pass in registers and L1, no allocation in the loop.
pub fn net_reference(rows: &[f64], params: &[f64], lr: f64, epochs: usize) -> (Vec<f64>, f64) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the host has AVX2 (checked just above); the function is the
            // portable one compiled again with the host's wider vectors allowed.
            return unsafe { net_reference_avx2(rows, params, lr, epochs) };
        }
    }
    net_reference_portable(rows, params, lr, epochs)
}

/// [`net_reference`] compiled with AVX2 enabled (no FMA: Rust never fuses on its own,
/// so the bits are the portable version's). Not AVX-512, where the host has it: built
/// so, this loop ran slower on the Xeon (2.2–2.5 against 2.5–2.7 M steps/s, three runs of
/// `gradsheet bench --only W6` each, alternated), and the yardstick is the fastest code.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn net_reference_avx2(
    rows: &[f64],
    params: &[f64],
    lr: f64,
    epochs: usize,
) -> (Vec<f64>, f64) {
    net_reference_portable(rows, params, lr, epochs)
}

// Indices, not iterators: `w2[k][j]` reads as the neuron names `w2_k_j` do, and the
// order of every sum is then plain to see.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
fn net_reference_portable(rows: &[f64], params: &[f64], lr: f64, epochs: usize) -> (Vec<f64>, f64) {
    use gradsheet_engine::op::{sigmoid, softplus};
    const W: usize = NET_WIDTH;
    let mut n = Net2881::from_params(params);
    let mut sum = 0.0;
    for _ in 0..epochs {
        sum = 0.0;
        for r in rows.chunks_exact(3) {
            let (x1, x2, y) = (r[0], r[1], r[2]);
            let mut h1 = [0.0; W];
            for j in 0..W {
                h1[j] = (n.w1[j][0] * x1 + n.w1[j][1] * x2 + n.b1[j]).tanh();
            }
            let mut h2 = [0.0; W];
            for k in 0..W {
                let mut u = n.w2[k][0] * h1[0];
                for j in 1..W {
                    u += n.w2[k][j] * h1[j];
                }
                h2[k] = (u + n.b2[k]).tanh();
            }
            let mut z = n.w3[0] * h2[0];
            for k in 1..W {
                z += n.w3[k] * h2[k];
            }
            z += n.b3;
            sum += softplus(z) - z * y;
            let dz = sigmoid(z) - y;
            let mut du2 = [0.0; W];
            for k in 0..W {
                du2[k] = dz * n.w3[k] * (1.0 - h2[k] * h2[k]);
            }
            let mut dh1 = [0.0; W];
            for k in (0..W).rev() {
                for j in 0..W {
                    dh1[j] += du2[k] * n.w2[k][j];
                }
            }
            for k in 0..W {
                n.w3[k] -= dz * h2[k] * lr;
                for j in 0..W {
                    n.w2[k][j] -= du2[k] * h1[j] * lr;
                }
                n.b2[k] -= du2[k] * lr;
            }
            n.b3 -= dz * lr;
            for j in 0..W {
                let du1 = dh1[j] * (1.0 - h1[j] * h1[j]);
                n.w1[j][0] -= du1 * x1 * lr;
                n.w1[j][1] -= du1 * x2 * lr;
                n.b1[j] -= du1 * lr;
            }
        }
    }
    (n.to_params(), sum)
}

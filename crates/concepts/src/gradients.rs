//! Exploding and vanishing gradients through a deep stack of layers.
//!
//! `h₀ = x`, `zₗ = hₗ₋₁·Wₗ`, `hₗ = act(zₗ)` for `l = 1..depth`, every layer `width`
//! wide and without bias. A gradient `g = ∂L/∂h_depth` of unit size arrives at the top and
//! is carried down by the chain rule, `∂L/∂zₗ = ∂L/∂hₗ ⊙ act'(zₗ)`,
//! `∂L/∂Wₗ = hₗ₋₁ᵀ·∂L/∂zₗ`, `∂L/∂hₗ₋₁ = ∂L/∂zₗ·Wₗᵀ`. Each layer multiplies the sizes
//! of the activations (going up) and the gradients (going down) by about the same
//! factor, so over many layers they explode or vanish geometrically unless that factor is
//! 1: Kaiming's `std = √(2/fan_in)` makes it 1 for ReLU (which zeroes half the signal),
//! Xavier's `√(2/(fan_in+fan_out))` for linear and tanh layers near 0.
//!
//! The backprop is hand-written matrix code; the tests check it against the engine's
//! reverse mode on a tiny stack written as a formula.

use std::sync::OnceLock;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::la::Mat;
use gradsheet_labs::figure::{Figure, Lines, Series, Style};
use gradsheet_labs::{Image, Kind, LabError, Output, ParamSpec, Params, Table, Value};
use gradsheet_train::rng;

/// The lab's parameters.
pub const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "depth",
        default: "50",
        kind: Kind::Integer { min: 1, max: 500 },
        help: "layers",
        web_max: Some(100.0),
    },
    ParamSpec {
        name: "width",
        default: "128",
        kind: Kind::Integer { min: 1, max: 512 },
        help: "units per layer",
        web_max: Some(128.0),
    },
    ParamSpec {
        name: "batch",
        default: "64",
        kind: Kind::Integer { min: 1, max: 1024 },
        help: "inputs pushed through together",
        web_max: Some(128.0),
    },
    ParamSpec {
        name: "activation",
        default: "relu",
        kind: Kind::Choice(&["relu", "tanh", "sigmoid", "linear"]),
        help: "the activation after every layer",
        web_max: None,
    },
    ParamSpec {
        name: "init",
        default: "xavier",
        kind: Kind::Choice(&["kaiming", "xavier", "orthogonal", "identity"]),
        help: "the initialisation of the weights",
        web_max: None,
    },
    ParamSpec {
        name: "gain",
        default: "1",
        kind: Kind::Number {
            min: 0.0,
            max: 100.0,
        },
        help: "a multiplier on the initialisation's scale",
        web_max: None,
    },
    ParamSpec {
        name: "seed",
        default: "9",
        kind: Kind::Integer {
            min: 0,
            max: u64::MAX,
        },
        help: "seed of weights, inputs and gradient",
        web_max: Some(1_000_000.0),
    },
];

/// The activation after each layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `MAX(z, 0)`, slope 1 at 0 (the engine's rule).
    Relu,
    /// `TANH(z)`.
    Tanh,
    /// `SIGMOID(z)`.
    Sigmoid,
    /// The identity.
    Linear,
}

impl Activation {
    /// From its name (`relu`, `tanh`, `sigmoid`, `linear`).
    pub fn from_name(s: &str) -> Option<Activation> {
        Some(match s {
            "relu" => Activation::Relu,
            "tanh" => Activation::Tanh,
            "sigmoid" => Activation::Sigmoid,
            "linear" => Activation::Linear,
            _ => return None,
        })
    }

    /// The name (`relu`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Linear => "linear",
        }
    }

    /// `act(z)`.
    pub fn apply(self, z: f64) -> f64 {
        match self {
            Activation::Relu => z.max(0.0),
            Activation::Tanh => z.tanh(),
            Activation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
            Activation::Linear => z,
        }
    }

    /// `act'(z)`, given `h = act(z)`.
    pub fn slope(self, z: f64, h: f64) -> f64 {
        match self {
            Activation::Relu => {
                if z >= 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Tanh => 1.0 - h * h,
            Activation::Sigmoid => h * (1.0 - h),
            Activation::Linear => 1.0,
        }
    }
}

/// How the weights start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Normal with std `gain·√(2/fan_in)` (He et al., 2015).
    Kaiming(f64),
    /// Normal with std `gain·√(2/(fan_in+fan_out))` (Glorot and Bengio, 2010).
    Xavier(f64),
    /// `gain` times a random orthogonal matrix (Saxe et al., 2014).
    Orthogonal(f64),
    /// `gain` times the identity.
    Identity(f64),
}

impl Init {
    /// From its name and gain.
    pub fn from_name(s: &str, gain: f64) -> Option<Init> {
        Some(match s {
            "kaiming" => Init::Kaiming(gain),
            "xavier" => Init::Xavier(gain),
            "orthogonal" => Init::Orthogonal(gain),
            "identity" => Init::Identity(gain),
            _ => return None,
        })
    }

    /// The name and gain, for labels (`kaiming ×1`).
    pub fn label(self) -> String {
        let (n, g) = match self {
            Init::Kaiming(g) => ("kaiming", g),
            Init::Xavier(g) => ("xavier", g),
            Init::Orthogonal(g) => ("orthogonal", g),
            Init::Identity(g) => ("identity", g),
        };
        if g == 1.0 {
            n.to_string()
        } else {
            format!("{n} ×{}", gradsheet_engine::format_number(g))
        }
    }

    /// A `n × n` weight matrix.
    pub fn weights(self, n: usize, rng: &mut ChaCha8Rng) -> Mat {
        match self {
            Init::Kaiming(g) => normal_mat(n, n, g * (2.0 / n as f64).sqrt(), rng),
            Init::Xavier(g) => normal_mat(n, n, g * (2.0 / (2 * n) as f64).sqrt(), rng),
            Init::Orthogonal(g) => {
                let mut q = orthogonal(n, rng);
                q.data.iter_mut().for_each(|v| *v *= g);
                q
            }
            Init::Identity(g) => identity(n, g),
        }
    }
}

/// `g` times the `n × n` identity.
fn identity(n: usize, g: f64) -> Mat {
    Mat::from_fn(n, n, |r, c| if r == c { g } else { 0.0 })
}

/// A matrix of independent normal draws with this std.
pub fn normal_mat(rows: usize, cols: usize, std: f64, rng: &mut ChaCha8Rng) -> Mat {
    Mat::from_fn(rows, cols, |_, _| std * rng::normal(rng))
}

/// A random orthogonal matrix: Gram–Schmidt (done twice, for accuracy) on the rows of a
/// normal matrix.
pub fn orthogonal(n: usize, rng: &mut ChaCha8Rng) -> Mat {
    let mut m = [normal_mat(n, n, 1.0, rng)];
    orthonormalize(&mut m);
    let [q] = m;
    q
}

/// Matrices orthonormalised in lockstep: the gradients lab needs one per layer.
const LANES: usize = 8;

/// Gram–Schmidt, done twice, on the rows of each square matrix, in place.
///
/// Each dot product is a chain of additions that must stay in its order (the lab's
/// numbers are kept bit for bit), so one matrix at a time waits on every addition.
/// [`LANES`] matrices are interleaved instead, value by value, and each step is taken
/// for all of them at once: the same operations in the same order for each matrix, as
/// independent chains that pipeline and vectorise. Groups of them run on rayon's threads.
fn orthonormalize(ms: &mut [Mat]) {
    ms.par_chunks_mut(LANES).for_each(|group| {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx") {
            // SAFETY: the processor has AVX, checked just above: the only requirement of
            // calling a function compiled for it.
            return unsafe { orthonormalize_lanes_avx(group) };
        }
        orthonormalize_lanes(group)
    });
}

/// [`orthonormalize_lanes`] compiled for 256-bit vectors. AVX computes each addition,
/// multiplication, division and square root exactly as SSE2 does (and Rust never fuses a
/// multiply and an add), so the numbers are the same bits, four lanes to an instruction.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn orthonormalize_lanes_avx(ms: &mut [Mat]) {
    orthonormalize_lanes(ms)
}

/// [`orthonormalize`] of up to [`LANES`] matrices of one size.
#[inline(always)]
fn orthonormalize_lanes(ms: &mut [Mat]) {
    let Some(n) = ms.first().map(|m| m.rows) else {
        return;
    };
    debug_assert!(ms.iter().all(|m| m.rows == n && m.cols == n));
    // Lanes with no matrix hold zeros; their 0/0 rows are never read back.
    let mut b = vec![[0.0f64; LANES]; n * n];
    for (q, m) in ms.iter().enumerate() {
        for (e, v) in b.iter_mut().zip(&m.data) {
            e[q] = *v;
        }
    }
    // From −0, as `Iterator::sum` starts.
    let dot = |b: &[[f64; LANES]], i: usize, j: usize| {
        let mut d = [-0.0f64; LANES];
        for (x, y) in b[i * n..(i + 1) * n].iter().zip(&b[j * n..(j + 1) * n]) {
            for q in 0..LANES {
                d[q] += x[q] * y[q];
            }
        }
        d
    };
    for i in 0..n {
        for _ in 0..2 {
            for j in 0..i {
                let d = dot(&b, i, j);
                let (head, tail) = b.split_at_mut(i * n);
                for (x, y) in tail[..n].iter_mut().zip(&head[j * n..(j + 1) * n]) {
                    for q in 0..LANES {
                        x[q] -= d[q] * y[q];
                    }
                }
            }
        }
        let norm = dot(&b, i, i).map(f64::sqrt);
        for x in &mut b[i * n..(i + 1) * n] {
            for q in 0..LANES {
                x[q] /= norm[q];
            }
        }
    }
    for (q, m) in ms.iter_mut().enumerate() {
        for (v, e) in m.data.iter_mut().zip(&b) {
            *v = e[q];
        }
    }
}

/// Everything a forward and a backward pass computed.
#[derive(Clone, Debug, PartialEq)]
pub struct Pass {
    /// `h₀ … h_depth`.
    pub acts: Vec<Mat>,
    /// `∂L/∂h₀ … ∂L/∂h_depth` (the last is the given top gradient).
    pub grads_h: Vec<Mat>,
    /// `∂L/∂W₁ … ∂L/∂W_depth`.
    pub grads_w: Vec<Mat>,
}

/// The forward pass of `x` through `weights`, then the backward pass of `top`
/// (`∂L/∂h_depth`), i.e. of the loss `L = Σ top ⊙ h_depth`.
pub fn forward_backward(x: &Mat, weights: &[Mat], act: Activation, top: &Mat) -> Pass {
    let mut acts = vec![x.clone()];
    let mut pre = Vec::with_capacity(weights.len());
    for w in weights {
        let z = acts.last().unwrap_or(x).matmul(w);
        let h = Mat {
            rows: z.rows,
            cols: z.cols,
            data: z.data.iter().map(|&v| act.apply(v)).collect(),
        };
        pre.push(z);
        acts.push(h);
    }
    let mut grads_h = vec![top.clone()];
    let mut grads_w = Vec::with_capacity(weights.len());
    for l in (0..weights.len()).rev() {
        let g = grads_h.last().unwrap_or(top);
        let (z, h) = (&pre[l], &acts[l + 1]);
        let dz = Mat {
            rows: g.rows,
            cols: g.cols,
            data: g
                .data
                .iter()
                .zip(&z.data)
                .zip(&h.data)
                .map(|((g, &z), &h)| g * act.slope(z, h))
                .collect(),
        };
        grads_w.push(acts[l].t_matmul(&dz));
        grads_h.push(dz.matmul_t(&weights[l]));
    }
    grads_h.reverse();
    grads_w.reverse();
    Pass {
        acts,
        grads_h,
        grads_w,
    }
}

/// One layer's sizes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerStats {
    /// 0 is the input.
    pub layer: usize,
    /// RMS of `hₗ`.
    pub act_rms: f64,
    /// RMS of `∂L/∂hₗ`.
    pub grad_rms: f64,
    /// RMS of `∂L/∂Wₗ` (NaN for the input).
    pub weight_grad_rms: f64,
}

/// One initialisation's run.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// The initialisation.
    pub init: Init,
    /// Per layer, from the input up.
    pub layers: Vec<LayerStats>,
}

impl Run {
    /// `act_rms` at the top over at the input.
    pub fn act_ratio(&self) -> f64 {
        self.layers.last().map_or(f64::NAN, |l| l.act_rms) / self.layers[0].act_rms
    }
    /// `grad_rms` at the input over at the top.
    pub fn grad_ratio(&self) -> f64 {
        self.layers[0].grad_rms / self.layers.last().map_or(f64::NAN, |l| l.grad_rms)
    }
}

/// The stack's shape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stack {
    /// Layers.
    pub depth: usize,
    /// Units per layer.
    pub width: usize,
    /// Inputs.
    pub batch: usize,
    /// Activation.
    pub act: Activation,
    /// Seed: the same inputs and top gradient for every initialisation.
    pub seed: u64,
}

/// What every initialisation of a stack shares: the inputs, the top gradient, and the
/// standard normal draws the weights are scaled (or orthonormalised) from. Every
/// initialisation but the identity draws the same `depth` matrices from the stream seeded
/// with `seed + 1`, so they are drawn once; the orthonormalised ones too, when asked.
struct Draws {
    x: Mat,
    top: Mat,
    normals: Vec<Mat>,
    orthonormal: OnceLock<Vec<Mat>>,
}

impl Draws {
    fn new(s: &Stack) -> Draws {
        let mut rng = ChaCha8Rng::seed_from_u64(s.seed);
        let x = normal_mat(s.batch, s.width, 1.0, &mut rng);
        let top = normal_mat(s.batch, s.width, 1.0, &mut rng);
        // A normal draw takes two `u64`s, four words of the stream: layer l's matrix
        // starts at word 4·l·width², so the layers are drawn in parallel, each from its
        // own position, with the numbers a single pass would draw.
        let n = s.width;
        let normals = (0..s.depth)
            .into_par_iter()
            .map(|l| {
                let mut r = ChaCha8Rng::seed_from_u64(s.seed.wrapping_add(1));
                r.set_word_pos(4 * (l * n * n) as u128);
                normal_mat(n, n, 1.0, &mut r)
            })
            .collect();
        Draws {
            x,
            top,
            normals,
            orthonormal: OnceLock::new(),
        }
    }

    /// The weights `init` gives every layer, as [`Init::weights`] draws them one after
    /// the other.
    fn weights(&self, init: Init, n: usize) -> Vec<Mat> {
        let scaled = |ms: &[Mat], k: f64| -> Vec<Mat> {
            ms.iter()
                .map(|m| Mat {
                    data: m.data.iter().map(|z| k * z).collect(),
                    ..m.clone()
                })
                .collect()
        };
        match init {
            Init::Kaiming(g) => scaled(&self.normals, g * (2.0 / n as f64).sqrt()),
            Init::Xavier(g) => scaled(&self.normals, g * (2.0 / (2 * n) as f64).sqrt()),
            Init::Orthogonal(g) => scaled(self.orthonormal(), g),
            Init::Identity(g) => (0..self.normals.len()).map(|_| identity(n, g)).collect(),
        }
    }

    /// The normal draws orthonormalised, made on first use.
    fn orthonormal(&self) -> &[Mat] {
        self.orthonormal.get_or_init(|| {
            let mut q = self.normals.clone();
            orthonormalize(&mut q);
            q
        })
    }
}

/// Runs the stack with one initialisation.
pub fn run_stack(s: &Stack, init: Init) -> Run {
    run_with(s, &Draws::new(s), init)
}

fn run_with(s: &Stack, d: &Draws, init: Init) -> Run {
    let weights = d.weights(init, s.width);
    let pass = forward_backward(&d.x, &weights, s.act, &d.top);
    let layers = (0..=s.depth)
        .map(|l| LayerStats {
            layer: l,
            act_rms: pass.acts[l].rms(),
            grad_rms: pass.grads_h[l].rms(),
            weight_grad_rms: if l == 0 {
                f64::NAN
            } else {
                pass.grads_w[l - 1].rms()
            },
        })
        .collect();
    Run { init, layers }
}

/// The whole lab's result.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradients {
    /// The shape.
    pub stack: Stack,
    /// The user's initialisation first, then the others at gain 1.
    pub runs: Vec<Run>,
}

/// Runs the lab.
///
/// # Errors
///
/// None in practice (parameters are checked when parsed); kept for the registry's shape.
pub fn run(p: &Params) -> Result<Gradients, LabError> {
    let act = Activation::from_name(&p.text("activation"))
        .ok_or_else(|| LabError::Invalid("unknown activation".into()))?;
    let chosen = Init::from_name(&p.text("init"), p.num("gain"))
        .ok_or_else(|| LabError::Invalid("unknown init".into()))?;
    let stack = Stack {
        depth: p.int("depth"),
        width: p.int("width"),
        batch: p.int("batch"),
        act,
        seed: p.u64("seed"),
    };
    let mut inits = vec![chosen];
    for init in [Init::Kaiming(1.0), Init::Xavier(1.0), Init::Orthogonal(1.0)] {
        if init != chosen {
            inits.push(init);
        }
    }
    // The orthonormal matrices, when needed, are made first: they take longest, and
    // their groups share the threads; then the initialisations run side by side.
    let draws = Draws::new(&stack);
    if inits.iter().any(|i| matches!(i, Init::Orthogonal(_))) {
        draws.orthonormal();
    }
    let runs = inits
        .par_iter()
        .map(|&i| run_with(&stack, &draws, i))
        .collect();
    Ok(Gradients { stack, runs })
}

/// The registry's entry point.
///
/// # Errors
///
/// As [`run`].
pub fn run_lab(p: &Params, _image: Option<&Image>) -> Result<Output, LabError> {
    Ok(run(p)?.output())
}

fn verdict(r: f64) -> &'static str {
    if !r.is_finite() {
        "overflow"
    } else if r > 10.0 {
        "explodes"
    } else if r < 0.1 {
        "vanishes"
    } else {
        "steady"
    }
}

impl Gradients {
    /// Tables, figures and notes.
    pub fn output(&self) -> Output {
        let main = &self.runs[0];
        let mut per_layer = Table::new(
            "layers",
            &format!(
                "per layer, {} init: RMS of activations and gradients",
                main.init.label()
            ),
            &["layer", "activation RMS", "∂L/∂h RMS", "∂L/∂W RMS"],
        );
        for l in &main.layers {
            per_layer.push(vec![
                l.layer.into(),
                l.act_rms.into(),
                l.grad_rms.into(),
                // Layer 0 is the input: no weights feed it, so the cell says so rather
                // than show a NaN.
                if l.layer == 0 {
                    Value::Text("(the input: no weights)".into())
                } else {
                    l.weight_grad_rms.into()
                },
            ]);
        }
        let mut summary = Table::new(
            "inits",
            "initialisations compared: top over input for activations, input over top for gradients",
            &["init", "activation ratio", "activations", "gradient ratio", "gradients"],
        );
        for r in &self.runs {
            summary.push(vec![
                r.init.label().into(),
                r.act_ratio().into(),
                Value::Text(verdict(r.act_ratio()).into()),
                r.grad_ratio().into(),
                Value::Text(verdict(r.grad_ratio()).into()),
            ]);
        }
        let s = &self.stack;
        let mut notes = vec![format!(
            "{} layers of width {}, {} activation, batch {}: a unit-variance gradient enters at the top",
            s.depth,
            s.width,
            s.act.name(),
            s.batch
        )];
        for r in &self.runs {
            notes.push(format!(
                "{}: activations ×{:.3e} from input to top ({}), gradients ×{:.3e} from top to input ({})",
                r.init.label(),
                r.act_ratio(),
                verdict(r.act_ratio()),
                r.grad_ratio(),
                verdict(r.grad_ratio())
            ));
        }
        Output {
            lab: "gradients".into(),
            notes,
            tables: vec![per_layer, summary],
            figures: self.figures(),
            images: vec![],
        }
    }

    fn figures(&self) -> Vec<Figure> {
        let mut acts = Lines::new("activation RMS per layer", "layer", "RMS of hₗ (log)");
        let mut grads = Lines::new("gradient RMS per layer", "layer", "RMS of ∂L/∂hₗ (log)");
        for (k, r) in self.runs.iter().enumerate() {
            let style = if k == 0 {
                Style::LinePoints
            } else {
                Style::Dashed
            };
            acts.series.push(Series::new(
                r.init.label(),
                r.layers
                    .iter()
                    .map(|l| (l.layer as f64, l.act_rms))
                    .collect(),
                style,
                k,
            ));
            grads.series.push(Series::new(
                r.init.label(),
                r.layers
                    .iter()
                    .map(|l| (l.layer as f64, l.grad_rms))
                    .collect(),
                style,
                k,
            ));
        }
        acts.log_y = true;
        grads.log_y = true;
        let s = &self.stack;
        vec![Figure::lines(
            "norms",
            &format!(
                "{} layers × {} units, {}: where the signal explodes or vanishes",
                s.depth,
                s.width,
                s.act.name()
            ),
            vec![acts, grads],
        )]
    }
}

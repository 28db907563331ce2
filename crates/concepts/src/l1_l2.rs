//! L1 against L2: `ABS(pred-y)` and `(pred-y)^2`.
//!
//! Three views of one difference. The gradient of L1 has the same size for every error,
//! the gradient of L2 grows with it; so a few far-off points (outliers) pull an L2 fit
//! hard and an L1 fit hardly at all — the constant that minimises L1 is the median, the
//! one that minimises L2 the mean. The GAN-critic view: between two 1-D distributions, the
//! Wasserstein-1 distance (an L1 between sorted samples, WGAN's critic) keeps a gradient
//! of constant size however far apart they are, the squared version grows with the
//! distance, and the Jensen–Shannon divergence of the original GAN saturates at ln 2 and
//! its gradient vanishes.
//!
//! Both losses are engine formulas: their derivatives come from the engine, and the line
//! fits are trained by [`gradsheet_train::Trainer`].

use std::collections::HashMap;

use gradsheet_engine::{derivative, parse, Dataset, Expr, Model, Roles, Tape, TapeBuilder};
use gradsheet_train::{Hooks, Optimizer, Record, TrainConfig, Trainer};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use gradsheet_labs::figure::{colour, Figure, Lines, Series, Style};
use gradsheet_labs::{Image, Kind, LabError, Output, ParamSpec, Params, Table, Value};

/// The two losses, by the engine's names and formulas.
pub const LOSSES: [(&str, &str); 2] = [("L1", "ABS(pred-y)"), ("L2", "(pred-y)^2")];

/// The lab's parameters.
pub const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "points",
        default: "21",
        kind: Kind::Integer { min: 4, max: 500 },
        help: "points on the line y = 0.5x + 2 (x = 0, 1, 2, …), with noise",
        web_max: None,
    },
    ParamSpec {
        name: "outliers",
        default: "3",
        kind: Kind::Integer { min: 0, max: 100 },
        help: "how many of the last points are moved off the line",
        web_max: None,
    },
    ParamSpec {
        name: "offset",
        default: "-15",
        kind: Kind::Number {
            min: -1000.0,
            max: 1000.0,
        },
        help: "how far the outliers are moved in y",
        web_max: None,
    },
    ParamSpec {
        name: "noise",
        default: "0.5",
        kind: Kind::Number {
            min: 0.0,
            max: 100.0,
        },
        help: "standard deviation of the noise on the line",
        web_max: None,
    },
    ParamSpec {
        name: "samples",
        default: "200",
        kind: Kind::Integer {
            min: 2,
            max: 100000,
        },
        help: "samples of each distribution in the GAN-critic view",
        web_max: Some(2000.0),
    },
    ParamSpec {
        name: "seed",
        default: "9",
        kind: Kind::Integer {
            min: 0,
            max: u64::MAX,
        },
        help: "seed of the noise and the samples",
        web_max: Some(1_000_000.0),
    },
];

/// A loss of the error `pred - y` and its engine derivative in `pred`, on one tape.
#[derive(Clone, Debug)]
pub struct PairLoss {
    /// The loss formula.
    pub loss: Expr,
    /// Its symbolic derivative in `pred`.
    pub slope: Expr,
    tape: Tape,
}

impl PairLoss {
    /// Parses and differentiates a loss in `pred` and `y`.
    ///
    /// # Errors
    ///
    /// [`LabError::Invalid`] for a formula error or a name other than `pred`, `y`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gradsheet_concepts::l1_l2::PairLoss;
    /// let l1 = PairLoss::new("ABS(pred-y)").unwrap();
    /// assert_eq!(l1.slope.to_string(), "SIGN(pred-y)");
    /// assert_eq!(l1.eval(3.0, 5.0), (2.0, -1.0));
    /// ```
    pub fn new(formula: &str) -> Result<PairLoss, LabError> {
        let loss = parse(formula).map_err(|e| LabError::Invalid(e.to_string()))?;
        let slope = derivative(&loss, "pred");
        let names = vec!["pred".to_string(), "y".to_string()];
        let mut b = TapeBuilder::new(&names);
        let none = HashMap::new();
        let o0 = b
            .add(&loss, &none)
            .map_err(|e| LabError::Invalid(e.to_string()))?;
        let o1 = b
            .add(&slope, &none)
            .map_err(|e| LabError::Invalid(e.to_string()))?;
        Ok(PairLoss {
            loss,
            slope,
            tape: b.finish(vec![o0, o1]),
        })
    }

    /// `(loss, dloss/dpred)` at one pair.
    pub fn eval(&self, pred: f64, y: f64) -> (f64, f64) {
        (self.tape.eval(&[pred, y], 0), self.tape.eval(&[pred, y], 1))
    }

    /// The mean loss between two equally long samples paired in sorted order, and its
    /// derivative when every `fake` sample moves by the same shift (the mean slope).
    ///
    /// With `ABS(pred-y)` this is the Wasserstein-1 distance of the two empirical
    /// distributions: in one dimension the optimal transport pairs the i-th smallest with
    /// the i-th smallest.
    pub fn sorted_mean(&self, fake: &[f64], real: &[f64]) -> (f64, f64) {
        let mut f = fake.to_vec();
        let mut r = real.to_vec();
        f.sort_by(f64::total_cmp);
        r.sort_by(f64::total_cmp);
        let n = f.len().min(r.len()).max(1) as f64;
        let (mut l, mut s) = (0.0, 0.0);
        for (a, b) in f.iter().zip(&r) {
            let (li, si) = self.eval(*a, *b);
            l += li;
            s += si;
        }
        (l / n, s / n)
    }
}

/// A trained fit of `a*x+b` (or of the constant `b`).
#[derive(Clone, Debug, PartialEq)]
pub struct LineFit {
    /// `L1` or `L2`.
    pub loss: String,
    /// Slope (0 for the constant).
    pub a: f64,
    /// Intercept.
    pub b: f64,
    /// Mean loss at the fit.
    pub mean_loss: f64,
    /// The exact minimiser `(a, b)`, computed without training (see [`exact_l1_line`],
    /// [`exact_l2_line`]).
    pub exact: (f64, f64),
}

/// One shift of the GAN-critic view.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CriticRow {
    /// How far the fake samples are shifted from the real ones.
    pub shift: f64,
    /// Wasserstein-1 of the samples: mean `ABS` of sorted pairs.
    pub w1: f64,
    /// Its derivative in the shift.
    pub w1_slope: f64,
    /// Mean squared difference of sorted pairs (W2²).
    pub sq: f64,
    /// Its derivative in the shift.
    pub sq_slope: f64,
    /// Jensen–Shannon divergence of N(0,1) and N(shift,1) (natural log, at most ln 2).
    pub js: f64,
    /// Its derivative in the shift (central difference).
    pub js_slope: f64,
}

/// The whole lab's result.
#[derive(Clone, Debug, PartialEq)]
pub struct L1L2 {
    /// Error values of the loss curves.
    pub errors: Vec<f64>,
    /// `[(L1, dL1), (L2, dL2)]` at each error.
    pub curves: Vec<[(f64, f64); 2]>,
    /// The derivatives as Excel formulas.
    pub slopes_excel: [String; 2],
    /// The data: `(x, y, is_outlier)`.
    pub data: Vec<(f64, f64, bool)>,
    /// L1 then L2 line fits.
    pub lines: Vec<LineFit>,
    /// L1 then L2 constant fits (the median and the mean).
    pub constants: Vec<LineFit>,
    /// The GAN-critic view.
    pub critic: Vec<CriticRow>,
}

/// The least-squares line through the points: `a = cov(x,y)/var(x)`, `b = ȳ − a·x̄`.
pub fn exact_l2_line(pts: &[(f64, f64)]) -> (f64, f64) {
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    let a = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    (a, my - a * mx)
}

/// The least-absolute-deviations line, exactly: some optimal line passes through two of
/// the points (the L1 objective is piecewise linear in `(a, b)`, so a minimum sits on a
/// vertex), so trying every pair finds it. O(n³): fine for a lab's few hundred points.
pub fn exact_l1_line(pts: &[(f64, f64)]) -> (f64, f64) {
    let cost = |a: f64, b: f64| pts.iter().map(|p| (a * p.0 + b - p.1).abs()).sum::<f64>();
    let mut best = (0.0, median(&pts.iter().map(|p| p.1).collect::<Vec<_>>()));
    let mut best_cost = cost(best.0, best.1);
    for i in 0..pts.len() {
        for j in i + 1..pts.len() {
            let dx = pts[j].0 - pts[i].0;
            if dx == 0.0 {
                continue;
            }
            let a = (pts[j].1 - pts[i].1) / dx;
            let b = pts[i].1 - a * pts[i].0;
            let c = cost(a, b);
            if c < best_cost {
                best = (a, b);
                best_cost = c;
            }
        }
    }
    best
}

/// The median (the mean of the middle two for an even count).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

/// The data: `y = 0.5x + 2 + noise` at x = 0, 1, …, with the last `outliers` points moved
/// by `offset` in y.
pub fn line_data(
    points: usize,
    outliers: usize,
    offset: f64,
    noise: f64,
    seed: u64,
) -> Vec<(f64, f64, bool)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..points)
        .map(|i| {
            let x = i as f64;
            let out = i + outliers.min(points) >= points;
            let y = 0.5 * x
                + 2.0
                + noise * gradsheet_train::rng::normal(&mut rng)
                + if out { offset } else { 0.0 };
            (x, y, out)
        })
        .collect()
}

/// Trains `model` (`a*x+b` or `b`) under `loss` with full-batch Adam, annealing the
/// learning rate in three stages so that L1's constant-size steps settle.
///
/// # Errors
///
/// [`LabError::Invalid`] if the trainer rejects the setup.
pub fn fit(model: &str, loss: &str, pts: &[(f64, f64)]) -> Result<(Vec<f64>, f64), LabError> {
    let m = Model::new(model, loss, &Roles::with_columns(&["x", "y"]))
        .map_err(|e| LabError::Invalid(e.to_string()))?;
    let ds = Dataset::new(
        vec!["x".into(), "y".into()],
        pts.iter().flat_map(|p| [p.0, p.1]).collect(),
    );
    let t = Trainer::new(&m, &ds).map_err(|e| LabError::Invalid(e.to_string()))?;
    let scale = pts.iter().map(|p| p.1.abs()).fold(1.0, f64::max);
    let mut params = vec![0.0; m.params.len()];
    let stages = [
        (0.05 * scale, 1500),
        (0.005 * scale, 1500),
        (0.0005 * scale, 1000),
        (0.00005 * scale, 500),
    ]
    .map(|(lr, epochs)| {
        let mut cfg = TrainConfig::new(Optimizer::torch_adam(lr), epochs);
        cfg.batch_size = 0;
        cfg.record = Record::Final;
        cfg
    });
    // One native kernel for the four stages (the rate is read at run time): the same
    // runs as the interpreter's, bit for bit, several times quicker.
    let kernel = gradsheet_jit::EpochKernel::compile_for(&t, &stages[0]).ok();
    for cfg in &stages {
        let tr = gradsheet_jit::train(&t, &params, cfg, &mut Hooks::none(), kernel.as_ref())
            .map_err(|e| LabError::Invalid(e.to_string()))?;
        params = tr.final_params;
    }
    let mut ws = t.compiled.workspace();
    let mean = t.mean_error(&mut ws, &params);
    Ok((params, mean))
}

fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// The Jensen–Shannon divergence (natural log) of N(0,1) and N(shift,1), by the midpoint
/// rule on [-12, 12 + |shift|] with step 0.005.
pub fn js_gaussians(shift: f64) -> f64 {
    let (lo, hi) = (-12.0 - shift.abs(), 12.0 + shift.abs());
    let h = 0.005;
    let n = ((hi - lo) / h) as usize;
    let mut s = 0.0;
    for i in 0..n {
        let x = lo + (i as f64 + 0.5) * h;
        let (p, q) = (normal_pdf(x), normal_pdf(x - shift));
        let m = 0.5 * (p + q);
        if p > 0.0 {
            s += 0.5 * p * (p / m).ln();
        }
        if q > 0.0 {
            s += 0.5 * q * (q / m).ln();
        }
    }
    s * h
}

/// Runs the lab.
///
/// # Errors
///
/// [`LabError::Invalid`] if training is rejected.
pub fn run(p: &Params) -> Result<L1L2, LabError> {
    let losses = [PairLoss::new(LOSSES[0].1)?, PairLoss::new(LOSSES[1].1)?];
    let errors: Vec<f64> = (-60..=60).map(|i| i as f64 / 20.0).collect();
    let curves = errors
        .iter()
        .map(|&e| [losses[0].eval(e, 0.0), losses[1].eval(e, 0.0)])
        .collect();

    let data = line_data(
        p.int("points"),
        p.int("outliers"),
        p.num("offset"),
        p.num("noise"),
        p.u64("seed"),
    );
    let pts: Vec<(f64, f64)> = data.iter().map(|d| (d.0, d.1)).collect();
    let ys: Vec<f64> = pts.iter().map(|p| p.1).collect();
    let mut lines = Vec::new();
    let mut constants = Vec::new();
    for (name, formula) in LOSSES {
        let (w, mean_loss) = fit("a*x+b", formula, &pts)?;
        let exact = if name == "L1" {
            exact_l1_line(&pts)
        } else {
            exact_l2_line(&pts)
        };
        lines.push(LineFit {
            loss: name.into(),
            a: w[0],
            b: w[1],
            mean_loss,
            exact,
        });
        let (c, mean_loss) = fit("b", formula, &pts)?;
        let exact = if name == "L1" {
            median(&ys)
        } else {
            ys.iter().sum::<f64>() / ys.len() as f64
        };
        constants.push(LineFit {
            loss: name.into(),
            a: 0.0,
            b: c[0],
            mean_loss,
            exact: (0.0, exact),
        });
    }

    let mut rng = ChaCha8Rng::seed_from_u64(p.u64("seed") ^ 0x0067_616e);
    let n = p.int("samples");
    let real: Vec<f64> = (0..n)
        .map(|_| gradsheet_train::rng::normal(&mut rng))
        .collect();
    let base: Vec<f64> = (0..n)
        .map(|_| gradsheet_train::rng::normal(&mut rng))
        .collect();
    // (The rows on rayon's threads: each is its own sums, the divergence's thousands of
    // logarithms most of the lab's time.)
    let critic = (-60..=60)
        .into_par_iter()
        .map(|i| {
            let shift = i as f64 / 10.0;
            let fake: Vec<f64> = base.iter().map(|b| b + shift).collect();
            let (w1, w1_slope) = losses[0].sorted_mean(&fake, &real);
            let (sq, sq_slope) = losses[1].sorted_mean(&fake, &real);
            let h = 1e-3;
            CriticRow {
                shift,
                w1,
                w1_slope,
                sq,
                sq_slope,
                js: js_gaussians(shift),
                js_slope: (js_gaussians(shift + h) - js_gaussians(shift - h)) / (2.0 * h),
            }
        })
        .collect();
    Ok(L1L2 {
        errors,
        curves,
        slopes_excel: [losses[0].slope.to_excel(), losses[1].slope.to_excel()],
        data,
        lines,
        constants,
        critic,
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

impl L1L2 {
    /// Tables, figures and notes.
    pub fn output(&self) -> Output {
        Output {
            lab: "l1-l2".into(),
            notes: self.notes(),
            tables: vec![
                self.fits_table(),
                self.losses_table(),
                self.data_table(),
                self.critic_table(),
            ],
            figures: vec![
                self.losses_figure(),
                self.fit_figure(),
                self.critic_figure(),
            ],
            images: vec![],
        }
    }

    fn losses_table(&self) -> Table {
        let mut curves = Table::new(
            "losses",
            "the losses and their gradients against the error pred − y",
            &["error", "L1", "dL1/dpred", "L2", "dL2/dpred"],
        );
        for (e, c) in self.errors.iter().zip(&self.curves) {
            curves.push_nums(&[*e, c[0].0, c[0].1, c[1].0, c[1].1]);
        }
        curves
    }

    fn fits_table(&self) -> Table {
        let mut fits = Table::new(
            "fits",
            "fits trained by the engine, beside the exact minimisers",
            &["model", "loss", "a", "b", "mean loss", "exact a", "exact b"],
        );
        for f in &self.lines {
            fits.push(vec![
                "a*x+b".into(),
                f.loss.as_str().into(),
                f.a.into(),
                f.b.into(),
                f.mean_loss.into(),
                f.exact.0.into(),
                f.exact.1.into(),
            ]);
        }
        for f in &self.constants {
            let what = if f.loss == "L1" {
                "b (median)"
            } else {
                "b (mean)"
            };
            fits.push(vec![
                what.into(),
                f.loss.as_str().into(),
                Value::Num(0.0),
                f.b.into(),
                f.mean_loss.into(),
                Value::Num(0.0),
                f.exact.1.into(),
            ]);
        }
        fits
    }

    fn data_table(&self) -> Table {
        let mut data = Table::new(
            "data",
            "the points (the last ones moved are outliers)",
            &["x", "y", "outlier"],
        );
        for d in &self.data {
            data.push_nums(&[d.0, d.1, if d.2 { 1.0 } else { 0.0 }]);
        }
        data
    }

    fn critic_table(&self) -> Table {
        let mut critic = Table::new(
            "critic",
            "two 1-D distributions pulled apart: W1 (L1 of sorted samples), W2² (L2), Jensen–Shannon",
            &["shift", "W1", "dW1/dshift", "W2²", "dW2²/dshift", "JS", "dJS/dshift"],
        );
        for r in &self.critic {
            critic.push_nums(&[
                r.shift, r.w1, r.w1_slope, r.sq, r.sq_slope, r.js, r.js_slope,
            ]);
        }
        critic
    }

    fn notes(&self) -> Vec<String> {
        let mut notes = vec![format!(
            "dL1/dpred = {}, dL2/dpred = {}   (the engine's derivatives)",
            self.slopes_excel[0], self.slopes_excel[1]
        )];
        if let [l1, l2] = &self.lines[..] {
            notes.push(format!(
                "line through the outliers: L1 fits y = {:.3}x + {:.3}, L2 fits y = {:.3}x + {:.3} (the points lie on y = 0.5x + 2)",
                l1.a, l1.b, l2.a, l2.b
            ));
        }
        if let [c1, c2] = &self.constants[..] {
            notes.push(format!("best constant: L1 gives {:.4} (the median is {:.4}), L2 gives {:.4} (the mean is {:.4})", c1.b, c1.exact.1, c2.b, c2.exact.1));
        }
        if let (Some(near), Some(far)) = (
            self.critic.iter().find(|r| r.shift == 1.0),
            self.critic.last(),
        ) {
            notes.push(format!(
                "critic view: at shift {} the gradients are W1 {:.3}, W2² {:.3}, JS {:.2e}; at shift {} they are W1 {:.3}, W2² {:.3}, JS {:.2e}",
                near.shift, near.w1_slope, near.sq_slope, near.js_slope, far.shift, far.w1_slope, far.sq_slope, far.js_slope
            ));
        }
        notes
    }

    /// The two losses and their gradients against the error.
    fn losses_figure(&self) -> Figure {
        let col = |k: usize, d: usize| -> Vec<(f64, f64)> {
            self.errors
                .iter()
                .zip(&self.curves)
                .map(|(e, c)| (*e, if d == 0 { c[k].0 } else { c[k].1 }))
                .collect()
        };
        let mut loss = Lines::new("the losses", "error pred − y", "loss")
            .with(Series::new(
                "L1 = |e|",
                col(0, 0),
                Style::Line,
                colour::BLUE,
            ))
            .with(Series::new(
                "L2 = e²",
                col(1, 0),
                Style::Line,
                colour::VERMILLION,
            ));
        loss.y_range = Some((0.0, 4.0));
        let mut grad = Lines::new(
            "their gradients (from the engine)",
            "error pred − y",
            "dloss/dpred",
        )
        .with(Series::new(
            "dL1 = SIGN(e)",
            col(0, 1),
            Style::Line,
            colour::BLUE,
        ))
        .with(Series::new(
            "dL2 = 2e",
            col(1, 1),
            Style::Line,
            colour::VERMILLION,
        ));
        grad.y_range = Some((-4.0, 4.0));
        Figure::lines("losses", "L1 against L2", vec![loss, grad])
    }

    /// The points, the outliers, the true line and the two fits.
    fn fit_figure(&self) -> Figure {
        let mut line = Lines::new("a line through outliers", "x", "y");
        let pts = |outlier: bool| -> Vec<(f64, f64)> {
            self.data
                .iter()
                .filter(|d| d.2 == outlier)
                .map(|d| (d.0, d.1))
                .collect()
        };
        line.series.push(Series::new(
            "points",
            pts(false),
            Style::Points,
            colour::BLACK,
        ));
        let out = pts(true);
        if !out.is_empty() {
            line.series
                .push(Series::new("outliers", out, Style::Rings, colour::PURPLE));
        }
        let (lo, hi) = self
            .data
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |a, d| {
                (a.0.min(d.0), a.1.max(d.0))
            });
        line.series.push(Series::new(
            "true line",
            vec![(lo, 0.5 * lo + 2.0), (hi, 0.5 * hi + 2.0)],
            Style::Dashed,
            colour::BLACK,
        ));
        for (k, f) in self.lines.iter().enumerate() {
            line.series.push(Series::new(
                format!("{} fit", f.loss),
                vec![(lo, f.a * lo + f.b), (hi, f.a * hi + f.b)],
                Style::Line,
                k,
            ));
        }
        Figure::lines("fit", "a line fitted through outliers", vec![line])
    }

    /// W1, W2² and JS between a real and a shifted fake distribution, and their slopes.
    fn critic_figure(&self) -> Figure {
        let pick = |f: &dyn Fn(&CriticRow) -> f64| -> Vec<(f64, f64)> {
            self.critic.iter().map(|r| (r.shift, f(r))).collect()
        };
        let mut dist = Lines::new(
            "distance between real and shifted fake",
            "shift of the fake distribution",
            "distance",
        )
        .with(Series::new(
            "W1 (L1, WGAN)",
            pick(&|r| r.w1),
            Style::Line,
            colour::BLUE,
        ))
        .with(Series::new(
            "W2² (L2)",
            pick(&|r| r.sq),
            Style::Line,
            colour::VERMILLION,
        ))
        .with(Series::new(
            "JS (original GAN)",
            pick(&|r| r.js),
            Style::Line,
            colour::GREEN,
        ));
        dist.y_range = Some((0.0, 6.0));
        let mut dgrad = Lines::new(
            "the gradient the generator gets",
            "shift of the fake distribution",
            "d distance / d shift",
        )
        .with(Series::new(
            "dW1",
            pick(&|r| r.w1_slope),
            Style::Line,
            colour::BLUE,
        ))
        .with(Series::new(
            "dW2²",
            pick(&|r| r.sq_slope),
            Style::Line,
            colour::VERMILLION,
        ))
        .with(Series::new(
            "dJS",
            pick(&|r| r.js_slope),
            Style::Line,
            colour::GREEN,
        ));
        dgrad.y_range = Some((-3.0, 3.0));
        Figure::lines(
            "critic",
            "The GAN-critic view: N(0,1) against N(shift,1), sampled",
            vec![dist, dgrad],
        )
    }
}

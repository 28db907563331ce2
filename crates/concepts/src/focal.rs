//! Focal loss (Lin et al., 2017) against cross-entropy.
//!
//! `FL(p) = -α(1-p)^γ ln(p)`, where `p` is the probability the model gives the true
//! class. With γ = 0 (and α = 1) it is cross-entropy; a larger γ shrinks the loss of
//! well-classified examples (`p` near 1) so that the rare, hard ones dominate training.
//! The loss is an engine formula, and its derivative is the engine's symbolic derivative,
//! printed as an Excel formula and evaluated on the same tape as the loss.
//!
//! The toy: one feature, many negatives and few positives, a logistic regression
//! `SIGMOID(w*x+b)` trained with [`gradsheet_train::Trainer`] under both losses.

use std::collections::HashMap;

use gradsheet_engine::{derivative, parse, Dataset, Expr, Model, Roles, Tape, TapeBuilder};
use gradsheet_train::{Hooks, Optimizer, Record, TrainConfig, Trainer};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use gradsheet_labs::figure::{colour, Figure, Lines, Series, Style};
use gradsheet_labs::{Image, Kind, LabError, Output, ParamSpec, Params, Table, Value};

/// The focal loss of the probability of the true class, as a formula.
pub const FOCAL: &str = "-alpha*(1-p)^gamma*LN(p)";
/// Cross-entropy of the probability of the true class.
pub const CROSS_ENTROPY: &str = "-LN(p)";
/// Binary focal loss of a prediction `pred` for a label `y` (0 or 1): `α` weighs the
/// positives and `1-α` the negatives, as in the paper's α-balanced form.
pub const BINARY_FOCAL: &str =
    "-(alpha*y*(1-pred)^gamma*LN(pred)+(1-alpha)*(1-y)*pred^gamma*LN(1-pred))";
/// Binary cross-entropy, weighted the same way (α = 0.5 halves plain cross-entropy,
/// which moves no optimum).
pub const BINARY_CE: &str = "-(alpha*y*LN(pred)+(1-alpha)*(1-y)*LN(1-pred))";
/// The toy's model.
pub const MODEL: &str = "SIGMOID(w*x+b)";

/// The lab's parameters.
pub const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "gammas",
        default: "0,0.5,1,2,5",
        kind: Kind::List {
            min: 0.0,
            max: 10.0,
        },
        help: "the γ values of the curves (the paper's figure uses 0, 0.5, 1, 2, 5)",
        web_max: None,
    },
    ParamSpec {
        name: "alpha",
        default: "1",
        kind: Kind::Number {
            min: 0.01,
            max: 1.0,
        },
        help: "α of the curves (1: the paper's figure)",
        web_max: None,
    },
    ParamSpec {
        name: "gamma",
        default: "2",
        kind: Kind::Number {
            min: 0.0,
            max: 10.0,
        },
        help: "γ of the focal loss the toy is trained with",
        web_max: None,
    },
    ParamSpec {
        name: "train_alpha",
        default: "0.5",
        kind: Kind::Number {
            min: 0.01,
            max: 0.99,
        },
        help: "α of the toy (weight of the positives; 0.5 isolates the effect of γ)",
        web_max: None,
    },
    ParamSpec {
        name: "negatives",
        default: "2000",
        kind: Kind::Integer {
            min: 10,
            max: 20000,
        },
        help: "negatives in the toy, drawn around x = -1",
        web_max: Some(5000.0),
    },
    ParamSpec {
        name: "positives",
        default: "25",
        kind: Kind::Integer { min: 2, max: 20000 },
        help: "positives in the toy, drawn around x = 1.5",
        web_max: Some(1000.0),
    },
    ParamSpec {
        name: "epochs",
        default: "200",
        kind: Kind::Integer { min: 1, max: 20000 },
        help: "full-batch Adam steps",
        web_max: Some(500.0),
    },
    ParamSpec {
        name: "lr",
        default: "0.05",
        kind: Kind::Number {
            min: 1e-6,
            max: 10.0,
        },
        help: "Adam's learning rate",
        web_max: None,
    },
    ParamSpec {
        name: "seed",
        default: "9",
        kind: Kind::Integer {
            min: 0,
            max: u64::MAX,
        },
        help: "seed of the toy's data",
        web_max: Some(1_000_000.0),
    },
];

/// The focal loss and its derivative in `p`, compiled once.
///
/// # Examples
///
/// ```
/// use gradsheet_concepts::focal::FocalFormula;
/// let f = FocalFormula::new();
/// assert_eq!(f.derivative.to_string(), "alpha*gamma*(1-p)^(gamma-1)*LN(p)-alpha*(1-p)^gamma/p");
/// let (loss, slope) = f.eval(0.5, 0.25, 2.0);
/// assert!((loss - 0.25 * 0.25 * 2f64.ln()).abs() < 1e-15);
/// assert!(slope < 0.0);
/// ```
#[derive(Clone, Debug)]
pub struct FocalFormula {
    /// `FL(p)` as parsed.
    pub loss: Expr,
    /// `dFL/dp`, the engine's symbolic derivative.
    pub derivative: Expr,
    tape: Tape,
}

impl Default for FocalFormula {
    fn default() -> Self {
        FocalFormula::new()
    }
}

impl FocalFormula {
    /// Parses [`FOCAL`], differentiates it, and compiles both into one tape over
    /// `p, alpha, gamma`.
    pub fn new() -> FocalFormula {
        // The formula is a constant of this crate; the tests parse it, so this cannot fail.
        let loss = parse(FOCAL).expect("FOCAL parses");
        let d = derivative(&loss, "p");
        let names: Vec<String> = ["p", "alpha", "gamma"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut b = TapeBuilder::new(&names);
        let none = HashMap::new();
        let o0 = b.add(&loss, &none).expect("names are p, alpha, gamma");
        let o1 = b.add(&d, &none).expect("names are p, alpha, gamma");
        FocalFormula {
            loss,
            derivative: d,
            tape: b.finish(vec![o0, o1]),
        }
    }

    /// `(FL(p), dFL/dp)` from the tape.
    pub fn eval(&self, p: f64, alpha: f64, gamma: f64) -> (f64, f64) {
        let vars = [p, alpha, gamma];
        (self.tape.eval(&vars, 0), self.tape.eval(&vars, 1))
    }

    /// `dFL/dp` by reverse mode on the same tape (the automatic derivative), for checking
    /// the symbolic one.
    pub fn auto_slope(&self, p: f64, alpha: f64, gamma: f64) -> f64 {
        self.tape.eval_grad(&[p, alpha, gamma], 0).1[0]
    }
}

/// The curves of the paper's figure 1: loss and derivative against `p` for each γ.
#[derive(Clone, Debug, PartialEq)]
pub struct Curves {
    /// The probabilities of the true class (0.01 to 0.99).
    pub p: Vec<f64>,
    /// The γ values; γ = 0 with α = 1 is cross-entropy.
    pub gammas: Vec<f64>,
    /// α.
    pub alpha: f64,
    /// `loss[g][i]` = `FL(p[i])` with `γ = gammas[g]`.
    pub loss: Vec<Vec<f64>>,
    /// `slope[g][i]` = `dFL/dp` at `p[i]`.
    pub slope: Vec<Vec<f64>>,
    /// The derivative as an Excel formula.
    pub derivative_excel: String,
    /// The derivative in mathematical notation.
    pub derivative_math: String,
}

/// One trained toy classifier.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    /// `cross-entropy` or `focal`.
    pub loss: String,
    /// The loss formula trained.
    pub formula: String,
    /// The learned weight.
    pub w: f64,
    /// The learned bias.
    pub b: f64,
    /// Where the prediction crosses 0.5: `-b/w`.
    pub boundary: f64,
    /// Fraction of positives predicted positive (p ≥ 0.5).
    pub recall_pos: f64,
    /// Fraction of negatives predicted negative.
    pub recall_neg: f64,
    /// Fraction of predicted positives that are positive.
    pub precision: f64,
    /// Fraction of all rows right.
    pub accuracy: f64,
    /// The share of this fit's own loss that comes from easy rows (probability of the
    /// true class above 0.9).
    pub easy_share: f64,
    /// The mean loss after each epoch.
    pub curve: Vec<f64>,
    /// The boundary `-b/w` after each epoch.
    pub boundary_curve: Vec<f64>,
}

/// The whole lab's result.
#[derive(Clone, Debug, PartialEq)]
pub struct Focal {
    /// The figure's curves.
    pub curves: Curves,
    /// The toy's rows: `(x, y)`.
    pub data: Vec<(f64, f64)>,
    /// Cross-entropy's fit, then focal loss's.
    pub fits: Vec<Fit>,
    /// γ and α of the toy.
    pub train_gamma: f64,
    /// α of the toy.
    pub train_alpha: f64,
}

/// The curves over p = 0.01, 0.02, …, 0.99.
pub fn curves(gammas: &[f64], alpha: f64) -> Curves {
    let f = FocalFormula::new();
    let p: Vec<f64> = (1..100).map(|i| i as f64 / 100.0).collect();
    let mut loss = Vec::new();
    let mut slope = Vec::new();
    for &g in gammas {
        let (l, s): (Vec<f64>, Vec<f64>) = p.iter().map(|&p| f.eval(p, alpha, g)).unzip();
        loss.push(l);
        slope.push(s);
    }
    Curves {
        p,
        gammas: gammas.to_vec(),
        alpha,
        loss,
        slope,
        derivative_excel: f.derivative.to_excel(),
        derivative_math: f.derivative.to_math(),
    }
}

/// The toy data: `negatives` rows around x = -1 and `positives` around x = 1.5, both with
/// unit spread, labels 0 and 1.
pub fn toy_data(negatives: usize, positives: usize, seed: u64) -> Vec<(f64, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows = Vec::with_capacity(negatives + positives);
    for _ in 0..negatives {
        rows.push((-1.0 + gradsheet_train::rng::normal(&mut rng), 0.0));
    }
    for _ in 0..positives {
        rows.push((1.5 + gradsheet_train::rng::normal(&mut rng), 1.0));
    }
    rows
}

/// Trains `SIGMOID(w*x+b)` from w = b = 0 with full-batch Adam under `loss` (a formula in
/// `pred`, `y`, `alpha`, `gamma`).
///
/// # Errors
///
/// [`LabError::Invalid`] if the formula or the training setup is rejected.
pub fn train(
    name: &str,
    loss: &str,
    data: &[(f64, f64)],
    alpha: f64,
    gamma: f64,
    epochs: usize,
    lr: f64,
) -> Result<Fit, LabError> {
    let roles = Roles {
        data: vec!["x".into(), "y".into()],
        constants: vec![("alpha".into(), alpha), ("gamma".into(), gamma)],
        params: vec![],
    };
    let model = Model::new(MODEL, loss, &roles).map_err(|e| LabError::Invalid(e.to_string()))?;
    let rows: Vec<f64> = data.iter().flat_map(|&(x, y)| [x, y]).collect();
    let ds = Dataset::new(vec!["x".into(), "y".into()], rows);
    let trainer = Trainer::new(&model, &ds).map_err(|e| LabError::Invalid(e.to_string()))?;
    let mut cfg = TrainConfig::new(Optimizer::torch_adam(lr), epochs);
    cfg.batch_size = 0;
    cfg.record = Record::Epochs;
    // Natively: the same run as the interpreter's, bit for bit.
    let trace = gradsheet_jit::train(&trainer, &[0.0, 0.0], &cfg, &mut Hooks::none(), None)
        .map_err(|e| LabError::Invalid(e.to_string()))?;
    let (w, b) = (trace.final_params[0], trace.final_params[1]);
    let curve = trace.epochs.iter().map(|e| e.mean_error).collect();
    let boundary_curve = trace
        .epochs
        .iter()
        .map(|e| -e.params[1] / e.params[0])
        .collect();

    let mut ws = trainer.compiled.workspace();
    let (mut tp, mut fp, mut tn, mut fneg) = (0usize, 0usize, 0usize, 0usize);
    let (mut total, mut easy) = (0.0, 0.0);
    for &(x, y) in data {
        let (pred, err) = trainer.compiled.row(&mut ws, &[x, y], &[w, b]);
        match (pred >= 0.5, y == 1.0) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, false) => tn += 1,
            (false, true) => fneg += 1,
        }
        let pt = if y == 1.0 { pred } else { 1.0 - pred };
        total += err;
        if pt > 0.9 {
            easy += err;
        }
    }
    let ratio = |a: usize, b: usize| {
        if a + b == 0 {
            f64::NAN
        } else {
            a as f64 / (a + b) as f64
        }
    };
    Ok(Fit {
        loss: name.into(),
        formula: loss.into(),
        w,
        b,
        boundary: -b / w,
        recall_pos: ratio(tp, fneg),
        recall_neg: ratio(tn, fp),
        precision: ratio(tp, fp),
        accuracy: (tp + tn) as f64 / data.len() as f64,
        easy_share: easy / total,
        curve,
        boundary_curve,
    })
}

/// Runs the lab.
///
/// # Errors
///
/// [`LabError::Invalid`] if training is rejected.
pub fn run(p: &Params) -> Result<Focal, LabError> {
    let gammas = p.list("gammas");
    let data = toy_data(p.int("negatives"), p.int("positives"), p.u64("seed"));
    let (ta, tg) = (p.num("train_alpha"), p.num("gamma"));
    let (epochs, lr) = (p.int("epochs"), p.num("lr"));
    // The two fits are independent (each its own trainer from w = b = 0): on rayon's
    // threads, with the curves, they compute the same numbers as one after the other.
    let (c, (ce, focal)) = rayon::join(
        || curves(&gammas, p.num("alpha")),
        || {
            rayon::join(
                || train("cross-entropy", BINARY_CE, &data, ta, tg, epochs, lr),
                || train("focal", BINARY_FOCAL, &data, ta, tg, epochs, lr),
            )
        },
    );
    let fits = vec![ce?, focal?];
    Ok(Focal {
        curves: c,
        data,
        fits,
        train_gamma: tg,
        train_alpha: ta,
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

impl Focal {
    /// Tables, figures and notes.
    pub fn output(&self) -> Output {
        let c = &self.curves;
        let mut headers = vec!["p".to_string()];
        headers.extend(c.gammas.iter().map(|g| format!("FL γ={g}")));
        headers.extend(c.gammas.iter().map(|g| format!("dFL/dp γ={g}")));
        let mut curves = Table {
            name: "curves".into(),
            title: format!(
                "focal loss FL(p) = -α(1-p)^γ·ln(p), α = {}, and its derivative",
                c.alpha
            ),
            headers,
            rows: vec![],
        };
        for (i, &p) in c.p.iter().enumerate() {
            let mut row: Vec<Value> = vec![p.into()];
            row.extend(c.loss.iter().map(|l| Value::Num(l[i])));
            row.extend(c.slope.iter().map(|s| Value::Num(s[i])));
            curves.push(row);
        }
        let mut fits = Table::new(
            "toy",
            "the imbalanced toy trained both ways (threshold 0.5)",
            &[
                "loss",
                "w",
                "b",
                "boundary x",
                "recall +",
                "recall −",
                "precision",
                "accuracy",
                "easy share of loss",
                "final loss",
            ],
        );
        for f in &self.fits {
            fits.push(vec![
                f.loss.as_str().into(),
                f.w.into(),
                f.b.into(),
                f.boundary.into(),
                f.recall_pos.into(),
                f.recall_neg.into(),
                f.precision.into(),
                f.accuracy.into(),
                f.easy_share.into(),
                f.curve.last().copied().unwrap_or(f64::NAN).into(),
            ]);
        }
        let npos = self.data.iter().filter(|r| r.1 == 1.0).count();
        let mut notes = vec![
            format!(
                "dFL/dp = {}   (the engine's symbolic derivative, as an Excel formula)",
                c.derivative_excel
            ),
            format!(
                "toy: {} negatives, {npos} positives; focal loss with γ = {}, α = {}",
                self.data.len() - npos,
                self.train_gamma,
                self.train_alpha
            ),
        ];
        if let [ce, fl] = &self.fits[..] {
            notes.push(format!(
                "after {} epochs: recall of the positives {:.3} with cross-entropy, {:.3} with focal loss; the boundary is at x = {:.3} and {:.3}",
                ce.curve.len(),
                ce.recall_pos,
                fl.recall_pos,
                ce.boundary,
                fl.boundary
            ));
            notes.push(
                "cross-entropy's gradient is dominated by the many easy negatives (they make w grow), so its boundary settles slowly; focal loss ignores them and its boundary settles sooner (see the boundary per epoch); trained long enough, both end near the same boundary in this 1-D toy"
                    .to_string(),
            );
            notes.push(format!(
                "easy rows (p of the true class > 0.9) carry {:.1}% of the cross-entropy but {:.1}% of the focal loss",
                100.0 * ce.easy_share,
                100.0 * fl.easy_share
            ));
        }
        Output {
            lab: "focal".into(),
            notes,
            tables: vec![curves, fits],
            figures: self.figures(),
            images: vec![],
        }
    }

    fn figures(&self) -> Vec<Figure> {
        vec![self.curves_figure(), self.toy_figure()]
    }

    /// The focal loss and its derivative over p, one line per γ.
    fn curves_figure(&self) -> Figure {
        let c = &self.curves;
        let label = |g: f64| {
            if g == 0.0 && c.alpha == 1.0 {
                "γ = 0 (cross-entropy)".to_string()
            } else {
                format!("γ = {g}")
            }
        };
        let mut loss = Lines::new(
            format!("focal loss, α = {}", c.alpha),
            "probability of the true class p",
            "loss",
        );
        let mut slope = Lines::new(
            "its derivative dFL/dp (from the engine)",
            "probability of the true class p",
            "dFL/dp",
        );
        for (g, &gamma) in c.gammas.iter().enumerate() {
            let pts = c.p.iter().copied().zip(c.loss[g].iter().copied()).collect();
            loss.series
                .push(Series::new(label(gamma), pts, Style::Line, g));
            let pts =
                c.p.iter()
                    .copied()
                    .zip(c.slope[g].iter().copied())
                    .collect();
            slope
                .series
                .push(Series::new(label(gamma), pts, Style::Line, g));
        }
        loss.x_range = Some((0.0, 1.0));
        loss.y_range = Some((0.0, 5.0));
        slope.x_range = Some((0.0, 1.0));
        slope.y_range = Some((-10.0, 0.5));
        Figure::lines(
            "curves",
            "Focal loss FL(p) = −α(1−p)^γ ln p",
            vec![loss, slope],
        )
    }

    /// The imbalanced toy: the data and both fits, the boundary and the loss per epoch.
    fn toy_figure(&self) -> Figure {
        let mut toy = Lines::new(
            "the imbalanced toy: data and the two fits",
            "x",
            "P(positive)",
        );
        let neg: Vec<(f64, f64)> = self
            .data
            .iter()
            .filter(|r| r.1 == 0.0)
            .map(|r| (r.0, -0.04))
            .collect();
        let pos: Vec<(f64, f64)> = self
            .data
            .iter()
            .filter(|r| r.1 == 1.0)
            .map(|r| (r.0, 1.04))
            .collect();
        toy.series.push(Series::new(
            "negatives (y=0)",
            neg,
            Style::Points,
            colour::SKY,
        ));
        toy.series.push(Series::new(
            "positives (y=1)",
            pos,
            Style::Points,
            colour::VERMILLION,
        ));
        let (lo, hi) = self
            .data
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |a, r| {
                (a.0.min(r.0), a.1.max(r.0))
            });
        for (k, f) in self.fits.iter().enumerate() {
            let pts = (0..=200)
                .map(|i| {
                    let x = lo + (hi - lo) * i as f64 / 200.0;
                    (x, 1.0 / (1.0 + (-(f.w * x + f.b)).exp()))
                })
                .collect();
            let style = if k == 0 { Style::Dashed } else { Style::Line };
            toy.series.push(Series::new(
                format!("{} fit", f.loss),
                pts,
                style,
                if k == 0 { colour::BLACK } else { colour::GREEN },
            ));
        }
        toy.y_range = Some((-0.1, 1.1));
        let mut train = Lines::new("training: mean loss per epoch", "epoch", "mean loss");
        for (k, f) in self.fits.iter().enumerate() {
            let pts = f
                .curve
                .iter()
                .enumerate()
                .map(|(i, &v)| ((i + 1) as f64, v))
                .collect();
            train.series.push(Series::new(
                f.loss.clone(),
                pts,
                if k == 0 { Style::Dashed } else { Style::Line },
                if k == 0 { colour::BLACK } else { colour::GREEN },
            ));
        }
        train.log_y = true;
        let mut bound = Lines::new(
            "the boundary −b/w per epoch",
            "epoch",
            "x where P(positive) = 0.5",
        );
        for (k, f) in self.fits.iter().enumerate() {
            let pts = f
                .boundary_curve
                .iter()
                .enumerate()
                .map(|(i, &v)| ((i + 1) as f64, v))
                .collect();
            bound.series.push(Series::new(
                f.loss.clone(),
                pts,
                if k == 0 { Style::Dashed } else { Style::Line },
                if k == 0 { colour::BLACK } else { colour::GREEN },
            ));
        }
        bound.y_range = Some((0.0, 5.0));
        Figure {
            columns: 2,
            ..Figure::lines(
                "toy",
                "Imbalanced classification: cross-entropy vs focal loss",
                vec![toy, bound, train],
            )
        }
    }
}

//! Checking a derivative someone typed: is it right, and if not, what is it?

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data::Dataset;
use crate::diff::derivative;
use crate::expr::Expr;
use crate::fd::Scheme;
use crate::model::Model;

/// One point of a check: where it was evaluated and the two values.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckPoint {
    /// The data row (0-based), or `None` for a random point.
    pub row: Option<usize>,
    /// The values of every name used (data columns, then parameters).
    pub at: Vec<(String, f64)>,
    /// The typed formula's value.
    pub claimed: f64,
    /// The exact derivative's value.
    pub exact: f64,
    /// What the recognised method predicts for `claimed - exact` (finite differences only).
    pub predicted_error: Option<f64>,
}

impl CheckPoint {
    /// `claimed - exact`.
    pub fn diff(&self) -> f64 {
        self.claimed - self.exact
    }
}

/// What the typed formula turned out to be.
#[derive(Clone, Debug, PartialEq)]
pub enum Finding {
    /// The exact derivative (to rounding), at every point.
    Exact,
    /// A finite difference of the error: the `error` formula is its expected deviation
    /// from the exact derivative (h/2·∂²e/∂p² one-sided, h²/6·∂³e/∂p³ central).
    FiniteDifference {
        /// Which difference.
        scheme: Scheme,
        /// Its step.
        h: f64,
        /// Its expected error as a formula.
        error: Expr,
    },
    /// A constant multiple of the exact derivative (a lost factor 2, a flipped sign).
    Scaled(f64),
    /// The derivative with respect to another name.
    OtherName(String),
    /// The derivative of the prediction, without the loss's factor ∂e/∂pred.
    PredictionOnly,
    /// None of the above.
    Unknown,
}

/// The result of [`check_derivative`].
#[derive(Clone, Debug, PartialEq)]
pub struct DerivativeCheck {
    /// The parameter.
    pub param: String,
    /// The typed formula.
    pub claimed: Expr,
    /// The exact derivative of the error.
    pub exact: Expr,
    /// What the typed formula is.
    pub finding: Finding,
    /// The data rows at the given parameter values.
    pub rows: Vec<CheckPoint>,
    /// Random points (parameters drawn around the given values), which catch formulas
    /// that happen to agree at one point (at a = b = 1 many wrong ones do).
    pub random: Vec<CheckPoint>,
}

impl DerivativeCheck {
    /// Whether the typed formula equals the exact derivative everywhere checked.
    pub fn is_exact(&self) -> bool {
        self.finding == Finding::Exact
    }

    /// The data row where `|claimed - exact|` is largest.
    pub fn worst_row(&self) -> Option<&CheckPoint> {
        self.rows
            .iter()
            .max_by(|a, b| a.diff().abs().total_cmp(&b.diff().abs()))
    }

    /// A sentence saying what the formula is, with the numbers.
    pub fn summary(&self) -> String {
        let p = &self.param;
        let worst = self.worst_row();
        let at = |c: &CheckPoint| {
            c.at.iter()
                .filter(|(n, _)| n != p)
                .map(|(n, v)| format!("{n} = {}", crate::format_number(*v)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match &self.finding {
            Finding::Exact => format!("the formula for ∂e/∂{p} is the exact derivative"),
            Finding::FiniteDifference { scheme, h, error } => {
                if *error == Expr::Num(0.0) {
                    return format!(
                        "the formula for ∂e/∂{p} is a {scheme} difference of the error with h = {}; \
                         its truncation error is 0 for this error (its third derivative in {p} is 0), \
                         so it equals the exact derivative up to rounding",
                        crate::format_number(*h)
                    );
                }
                let mut s = format!(
                    "the formula for ∂e/∂{p} is a {scheme} difference of the error with h = {}; \
                     its error is {}",
                    crate::format_number(*h),
                    error.to_math()
                );
                if let Some(w) = worst {
                    s.push_str(&format!(
                        ", {} at row {} ({})",
                        fmt_sig(w.diff()),
                        w.row.map(|r| r + 1).unwrap_or(0),
                        at(w)
                    ));
                }
                s
            }
            Finding::Scaled(k) => format!(
                "the formula for ∂e/∂{p} is {} times the exact derivative",
                crate::format_number(*k)
            ),
            Finding::OtherName(n) => {
                format!("the formula for ∂e/∂{p} is the derivative with respect to {n}, not {p}")
            }
            Finding::PredictionOnly => format!(
                "the formula for ∂e/∂{p} is ∂pred/∂{p}: it lacks the loss's factor ∂e/∂pred"
            ),
            Finding::Unknown => match worst {
                Some(w) => format!(
                    "the formula for ∂e/∂{p} is wrong: at row {} ({}) it gives {} where the exact \
                     derivative is {}",
                    w.row.map(|r| r + 1).unwrap_or(0),
                    at(w),
                    fmt_sig(w.claimed),
                    fmt_sig(w.exact)
                ),
                None => format!("the formula for ∂e/∂{p} does not match the exact derivative"),
            },
        }
    }
}

fn fmt_sig(v: f64) -> String {
    if v == 0.0 || (1e-4..1e7).contains(&v.abs()) {
        let s = format!("{v:.6}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        format!("{v:.4e}")
    }
}

/// Options of [`check_derivative`].
#[derive(Clone, Debug, PartialEq)]
pub struct CheckOptions {
    /// Seed of the random points (ChaCha8).
    pub seed: u64,
    /// How many random points.
    pub random_points: usize,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            seed: 7,
            random_points: 16,
        }
    }
}

/// An error in the inputs of a check.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CheckError {
    /// The parameter is not one of the model's.
    #[error("{0} is not a parameter of the model (its parameters are {1})")]
    NotAParam(String, String),
    /// The typed formula uses a name with no value.
    #[error(
        "the formula for ∂e/∂{param} uses {name}, which is not a parameter, column or constant"
    )]
    UnknownName {
        /// The parameter checked.
        param: String,
        /// The unknown name.
        name: String,
    },
    /// A column the model needs is not in the data.
    #[error("the data has no column {0}")]
    MissingColumn(String),
    /// A wrong number of parameter values.
    #[error("expected {expected} parameter values, got {found}")]
    ParamCount {
        /// How many the model has.
        expected: usize,
        /// How many were given.
        found: usize,
    },
}

/// Compares a typed formula for ∂e/∂`param` with the exact derivative on every data row
/// (at the parameter values `params`) and at random points, and says what it is.
///
/// # Errors
///
/// [`CheckError`] when the parameter, a name of the formula or a data column is unknown.
///
/// # Examples
///
/// ```
/// use gradsheet_engine::{check_derivative, parse, CheckOptions, Dataset, Finding, Model, Roles};
/// let m = Model::new("c*(a*x+b)+d", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
/// let typed = parse("((((a+0.01)*x+b)*c+d-y)^2-((a*x+b)*c+d-y)^2)/0.01").unwrap();
/// let r = check_derivative(&m, &Dataset::graddesc(), &[1.0; 4], "a", &typed, &CheckOptions::default()).unwrap();
/// assert!(matches!(r.finding, Finding::FiniteDifference { h, .. } if h == 0.01));
/// // x = 86 on row 2: the forward difference is off by h·c²·x² = 73.96.
/// assert!((r.rows[1].diff() - 73.96).abs() < 1e-6);
/// ```
pub fn check_derivative(
    model: &Model,
    data: &Dataset,
    params: &[f64],
    param: &str,
    claimed: &Expr,
    opts: &CheckOptions,
) -> Result<DerivativeCheck, CheckError> {
    if !model.params.iter().any(|p| p == param) {
        return Err(CheckError::NotAParam(
            param.to_string(),
            model.params.join(", "),
        ));
    }
    if params.len() != model.params.len() {
        return Err(CheckError::ParamCount {
            expected: model.params.len(),
            found: params.len(),
        });
    }
    let rows = data
        .project(&model.columns)
        .map_err(CheckError::MissingColumn)?;
    let known = |n: &str| model.role(n).is_some() || data.column_index(n).is_some();
    if let Some(bad) = claimed.names().into_iter().find(|n| !known(n)) {
        return Err(CheckError::UnknownName {
            param: param.to_string(),
            name: bad,
        });
    }

    let exact = model.derivative(param);
    let points = sample_points(model, &rows, params, opts);

    let env_of = |at: &[(String, f64)], shift: f64| {
        let at = at.to_vec();
        let param = param.to_string();
        move |n: &str| {
            at.iter()
                .find(|(k, _)| k == n)
                .map(|(k, v)| if *k == param { v + shift } else { *v })
        }
    };
    let value =
        |e: &Expr, at: &[(String, f64)], shift: f64| e.eval(&env_of(at, shift)).unwrap_or(f64::NAN);
    let claimed_vals: Vec<f64> = points
        .iter()
        .map(|(_, at)| value(claimed, at, 0.0))
        .collect();
    let exact_vals: Vec<f64> = points
        .iter()
        .map(|(_, at)| value(&exact, at, 0.0))
        .collect();
    let f_vals: Vec<f64> = points
        .iter()
        .map(|(_, at)| value(&model.error, at, 0.0))
        .collect();

    let close = |a: f64, b: f64, f: f64, h: f64| {
        let tol = 1e-9 * a.abs().max(b.abs()).max(1.0) + 256.0 * f64::EPSILON * f.abs() / h;
        (a - b).abs() <= tol || (a.is_nan() && b.is_nan())
    };
    let all_close = |other: &[f64], h: f64| {
        claimed_vals
            .iter()
            .zip(other)
            .zip(&f_vals)
            .all(|((a, b), f)| close(*a, *b, *f, h))
    };

    let mut predicted: Option<Expr> = None;
    let error_at = |at: &[(String, f64)], s: f64| value(&model.error, at, s);
    // A step written in the formula is tried before exactness: a central difference of an
    // error quadratic in the parameter is exact up to rounding, and is still a difference.
    let own_steps = steps_in(claimed);
    let fd = recognise_fd(
        &own_steps,
        &points,
        &claimed_vals,
        &f_vals,
        &error_at,
        &close,
    )
    .or_else(|| {
        if all_close(&exact_vals, 1.0) {
            None
        } else {
            recognise_fd(
                &DEFAULT_STEPS,
                &points,
                &claimed_vals,
                &f_vals,
                &error_at,
                &close,
            )
        }
    });
    let prediction_only = {
        let d = model.prediction_derivative(param);
        let vals: Vec<f64> = points.iter().map(|(_, at)| value(&d, at, 0.0)).collect();
        all_close(&vals, 1.0)
    };
    let finding = if let Some((scheme, h)) = fd {
        let error = match scheme {
            Scheme::Forward | Scheme::Backward => {
                let sign = if scheme == Scheme::Forward { 0.5 } else { -0.5 };
                let second = derivative(&derivative(&model.error, param), param);
                crate::simplify(&Expr::bin(crate::Binary::Mul, Expr::Num(sign * h), second))
            }
            Scheme::Central => {
                let third = derivative(&derivative(&derivative(&model.error, param), param), param);
                crate::simplify(&Expr::bin(
                    crate::Binary::Mul,
                    Expr::Num(h * h / 6.0),
                    third,
                ))
            }
        };
        predicted = Some(error.clone());
        Finding::FiniteDifference { scheme, h, error }
    } else if all_close(&exact_vals, 1.0) {
        Finding::Exact
    } else if let Some(k) = constant_ratio(&claimed_vals, &exact_vals) {
        Finding::Scaled(k)
    } else if let Some(n) = model.params.iter().filter(|n| *n != param).find(|n| {
        let d = model.derivative(n);
        let vals: Vec<f64> = points.iter().map(|(_, at)| value(&d, at, 0.0)).collect();
        all_close(&vals, 1.0)
    }) {
        Finding::OtherName(n.clone())
    } else if prediction_only {
        Finding::PredictionOnly
    } else {
        Finding::Unknown
    };

    let mut rows_out = Vec::new();
    let mut random_out = Vec::new();
    for (k, (row, at)) in points.into_iter().enumerate() {
        let predicted_error = predicted.as_ref().map(|e| value(e, &at, 0.0));
        let cp = CheckPoint {
            row,
            at,
            claimed: claimed_vals[k],
            exact: exact_vals[k],
            predicted_error,
        };
        if cp.row.is_some() {
            rows_out.push(cp);
        } else {
            random_out.push(cp);
        }
    }
    Ok(DerivativeCheck {
        param: param.to_string(),
        claimed: claimed.clone(),
        exact,
        finding,
        rows: rows_out,
        random: random_out,
    })
}

type Point = (Option<usize>, Vec<(String, f64)>);

/// The error evaluated at a point with the parameter shifted by a step.
type ErrorAt<'a> = &'a dyn Fn(&[(String, f64)], f64) -> f64;

/// The data rows at `params`, then random points: each parameter drawn uniformly within
/// max(1, |p|) of its value, on data rows taken in turn.
fn sample_points(model: &Model, rows: &[f64], params: &[f64], opts: &CheckOptions) -> Vec<Point> {
    let w = model.columns.len();
    let n_rows = rows.len().checked_div(w).unwrap_or(1);
    let bind = |r: usize, p: &[f64]| {
        let mut at: Vec<(String, f64)> = Vec::new();
        if w > 0 {
            at.extend(
                model
                    .columns
                    .iter()
                    .cloned()
                    .zip(rows[r * w..(r + 1) * w].iter().copied()),
            );
        }
        at.extend(model.params.iter().cloned().zip(p.iter().copied()));
        at.extend(model.constants.iter().cloned());
        at
    };
    let mut out: Vec<Point> = (0..n_rows).map(|r| (Some(r), bind(r, params))).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    for k in 0..opts.random_points {
        let p: Vec<f64> = params
            .iter()
            .map(|&v| v + rng.gen_range(-1.0..1.0) * v.abs().max(1.0))
            .collect();
        out.push((None, bind(k % n_rows.max(1), &p)));
    }
    out
}

/// The usual finite-difference steps, tried when the formula's own numbers do not match.
const DEFAULT_STEPS: [f64; 8] = [0.1, 0.01, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8];

/// The numbers in (0, 1) written in the formula: candidate steps.
fn steps_in(claimed: &Expr) -> Vec<f64> {
    let mut hs: Vec<f64> = Vec::new();
    claimed.visit(&mut |e| {
        if let Expr::Num(v) = e {
            let v = v.abs();
            if v > 0.0 && v < 1.0 && !hs.contains(&v) {
                hs.push(v);
            }
        }
    });
    hs
}

/// Finds a scheme and step among `hs` for which the typed values equal the finite
/// difference of the error at every point.
fn recognise_fd(
    hs: &[f64],
    points: &[Point],
    claimed_vals: &[f64],
    f_vals: &[f64],
    error_at: ErrorAt<'_>,
    close: &dyn Fn(f64, f64, f64, f64) -> bool,
) -> Option<(Scheme, f64)> {
    for &h in hs {
        for scheme in Scheme::ALL {
            let ok = points.iter().enumerate().all(|(k, (_, at))| {
                let f0 = f_vals[k];
                let est = match scheme {
                    Scheme::Forward => (error_at(at, h) - f0) / h,
                    Scheme::Backward => (f0 - error_at(at, -h)) / h,
                    Scheme::Central => (error_at(at, h) - error_at(at, -h)) / (2.0 * h),
                };
                close(claimed_vals[k], est, f0, h)
            });
            if ok {
                return Some((scheme, h));
            }
        }
    }
    None
}

/// `k` when `claimed = k·exact` at every point with a non-negligible exact value.
fn constant_ratio(claimed: &[f64], exact: &[f64]) -> Option<f64> {
    let mut k: Option<f64> = None;
    for (c, e) in claimed.iter().zip(exact) {
        if e.abs() < 1e-12 {
            if c.abs() > 1e-9 {
                return None;
            }
            continue;
        }
        let r = c / e;
        match k {
            None => k = Some(r),
            Some(k0) if (r - k0).abs() <= 1e-9 * k0.abs().max(1.0) => {}
            Some(_) => return None,
        }
    }
    let k = k?;
    let rounded = (k * 1e6).round() / 1e6;
    (rounded != 1.0 && rounded != 0.0).then_some(rounded)
}

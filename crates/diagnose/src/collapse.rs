//! Recognising a model that is a reparametrisation of a simpler one, and the on/off
//! history of its ReLU units.
//!
//! A prediction is *linear in the data* when, for every data column `x` it uses, the
//! symbolic `∂pred/∂x` mentions no data column: then `pred = Σ sₓ·x + t` exactly, with the
//! effective slope `sₓ = ∂pred/∂x` and the effective intercept `t = pred` at every `x = 0`,
//! both formulas in the parameters. `c*(a*x+b)+d` gives `sₓ = a·c` and `t = b·c + d`: four
//! parameters that can only ever express the two of `a*x+b`. Such a model is
//! *reparametrised* when it has more parameters than effective coefficients, or a
//! coefficient is not a single parameter.
//!
//! A *unit* is a `MAX(u, v)` or `RELU(u)` in the prediction; it is *on* for a row when its
//! first argument wins (`u ≥ v`, the engine's tie rule), and only then do the parameters
//! inside `u` get a gradient from that row.

use gradsheet_engine::{
    derivative, simplify, Binary, Expr, Fold, Model, Op, Tape, Unary, Workspace,
};
use gradsheet_train::Trace;

/// The linear form of a prediction: effective slopes and intercept as formulas.
#[derive(Clone, Debug, PartialEq)]
pub struct Linear {
    /// The data columns the prediction uses.
    pub inputs: Vec<String>,
    /// The effective slope of each input, `∂pred/∂x`.
    pub slopes: Vec<Expr>,
    /// The effective intercept, `pred` at every input 0.
    pub intercept: Expr,
    /// More parameters than coefficients, or a coefficient that is not one parameter.
    pub reparametrised: bool,
    /// Per parameter, the error's second derivative `∂²e/∂p²` (symbolic).
    pub curvature: Vec<(String, Expr)>,
}

/// The linear form of the model's prediction, if it is linear in its data columns.
///
/// # Examples
///
/// ```
/// use gradsheet_engine::{Model, Roles};
/// use gradsheet_diagnose::collapse::linear_form;
/// let m = Model::new("c*(a*x+b)+d", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
/// let lin = linear_form(&m, &m.prediction).unwrap();
/// assert_eq!(lin.slopes[0].to_string(), "c*a");
/// assert_eq!(lin.intercept.to_string(), "c*b+d");
/// assert!(lin.reparametrised);
/// ```
pub fn linear_form(model: &Model, pred: &Expr) -> Option<Linear> {
    let inputs: Vec<String> = model
        .columns
        .iter()
        .filter(|c| pred.mentions(c))
        .cloned()
        .collect();
    let mut slopes = Vec::new();
    for x in &inputs {
        let s = derivative(pred, x);
        if inputs.iter().any(|c| s.mentions(c)) || model.columns.iter().any(|c| s.mentions(c)) {
            return None;
        }
        slopes.push(s);
    }
    let mut intercept = pred.clone();
    for x in &inputs {
        intercept = intercept.substitute(x, &Expr::Num(0.0));
    }
    let intercept = simplify(&intercept);
    let used: Vec<&String> = model.params.iter().filter(|p| pred.mentions(p)).collect();
    let single = |e: &Expr| matches!(e, Expr::Var(n) if model.params.contains(n));
    let reparametrised =
        used.len() > inputs.len() + 1 || !slopes.iter().all(single) || !single(&intercept);
    // The curvature is that of the model's own error, with the given prediction put in.
    let error = model.loss.substitute(gradsheet_engine::PRED, pred);
    let curvature = model
        .params
        .iter()
        .filter(|p| pred.mentions(p))
        .map(|p| (p.clone(), derivative(&derivative(&error, p), p)))
        .collect();
    Some(Linear {
        inputs,
        slopes,
        intercept,
        reparametrised,
        curvature,
    })
}

impl Linear {
    /// The effective slopes and intercept at these parameter values.
    pub fn values(&self, model: &Model, params: &[f64]) -> (Vec<f64>, f64) {
        let env = |n: &str| lookup(model, params, n);
        let slopes = self
            .slopes
            .iter()
            .map(|s| s.eval(&env).unwrap_or(f64::NAN))
            .collect();
        (slopes, self.intercept.eval(&env).unwrap_or(f64::NAN))
    }

    /// The simpler model this one collapses to, as formula text in fresh parameter
    /// names: `w_x*x+w0`.
    pub fn simple_formula(&self) -> String {
        let mut s: Vec<String> = self.inputs.iter().map(|x| format!("w_{x}*{x}")).collect();
        s.push("w0".into());
        s.join("+")
    }
}

fn lookup(model: &Model, params: &[f64], n: &str) -> Option<f64> {
    if let Some(i) = model.params.iter().position(|p| p == n) {
        return params.get(i).copied();
    }
    model
        .constants
        .iter()
        .find(|(c, _)| c == n)
        .map(|(_, v)| *v)
}

/// A ReLU-like unit of a prediction: `MAX(u, v)` or `RELU(u)` (`v` = 0).
#[derive(Clone, Debug, PartialEq)]
pub struct Unit {
    /// The whole unit, e.g. `MAX(a*x+b,0)`.
    pub expr: Expr,
    /// The argument that must win for the unit to be on, `u`.
    pub arg: Expr,
    /// What it is compared with, `v`.
    pub other: Expr,
}

/// The units of a prediction, outermost first.
pub fn units(pred: &Expr) -> Vec<Unit> {
    let mut out = Vec::new();
    pred.visit(&mut |e| match e {
        Expr::Apply(Op::Fold(Fold::Max), args) if args.len() == 2 => out.push(Unit {
            expr: e.clone(),
            arg: args[0].clone(),
            other: args[1].clone(),
        }),
        Expr::Apply(Op::Unary(Unary::Relu), args) => out.push(Unit {
            expr: e.clone(),
            arg: args[0].clone(),
            other: Expr::Num(0.0),
        }),
        _ => {}
    });
    out
}

/// The prediction with every unit replaced by its argument (every unit on) or by what it
/// is compared with (every unit off).
pub fn with_units(pred: &Expr, on: bool) -> Expr {
    match pred {
        Expr::Apply(Op::Fold(Fold::Max), args) if args.len() == 2 => {
            with_units(if on { &args[0] } else { &args[1] }, on)
        }
        Expr::Apply(Op::Unary(Unary::Relu), args) => {
            if on {
                with_units(&args[0], on)
            } else {
                Expr::Num(0.0)
            }
        }
        Expr::Apply(op, args) => Expr::Apply(*op, args.iter().map(|a| with_units(a, on)).collect()),
        _ => pred.clone(),
    }
}

/// The on/off history of one unit over a run.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitHistory {
    /// The unit, as formula text.
    pub unit: String,
    /// Its argument, as formula text.
    pub arg: String,
    /// Per data row: on at the initial parameters.
    pub on_at_init: Vec<bool>,
    /// Per recorded step: on how many data rows the unit is on at that step's parameters
    /// (before its update).
    pub rows_on: Vec<usize>,
    /// Per recorded step: whether it is on for the step's own row.
    pub on_own_row: Vec<bool>,
    /// The first step (1-based) from which the unit is off on every row until the end of
    /// the trace, with the parameters it had then; `None` if it never dies for good.
    pub dead_from: Option<usize>,
    /// The parameters whose gradient is exactly 0 on every step from `dead_from` on.
    pub frozen: Vec<String>,
    /// The parameters that still get a gradient from `dead_from` on.
    pub learning: Vec<String>,
    /// Per data row, the first step at whose parameters the unit is off for that row
    /// (`None` if never).
    pub first_off: Vec<Option<usize>>,
}

/// Evaluates each unit on every data row at every recorded step of `trace`.
///
/// `rows` are the data rows projected on the model's columns (flat), as in
/// [`gradsheet_train::Trainer::rows`].
pub fn unit_histories(
    model: &Model,
    rows: &[f64],
    trace: &Trace,
    init: &[f64],
) -> Vec<UnitHistory> {
    let names = model.var_names();
    let (nc, np) = (model.columns.len(), model.params.len());
    let n_rows = rows.len().checked_div(nc).unwrap_or(0);
    let mut out = Vec::new();
    for u in units(&model.prediction) {
        let margin = Expr::bin(Binary::Sub, u.arg.clone(), u.other.clone());
        let Ok(tape) = Tape::compile(&margin, &names) else {
            continue;
        };
        let mut ws = tape.workspace();
        for (k, (_, v)) in model.constants.iter().enumerate() {
            ws.vals[nc + np + k] = *v;
        }
        let on = |ws: &mut Workspace, row: &[f64], p: &[f64]| {
            ws.vals[..nc].copy_from_slice(&row[..nc]);
            ws.vals[nc..nc + np].copy_from_slice(&p[..np]);
            tape.forward(&mut ws.vals);
            ws.vals[tape.output(0) as usize] >= 0.0
        };
        let on_at_init: Vec<bool> = (0..n_rows)
            .map(|i| on(&mut ws, &rows[i * nc..(i + 1) * nc], init))
            .collect();
        let mut rows_on = Vec::with_capacity(trace.len());
        let mut on_own_row = Vec::with_capacity(trace.len());
        let mut first_off = vec![None; n_rows];
        for s in trace.steps() {
            let mut count = 0;
            for (i, fo) in first_off.iter_mut().enumerate() {
                if on(&mut ws, &rows[i * nc..(i + 1) * nc], s.params) {
                    count += 1;
                } else if fo.is_none() {
                    *fo = Some(s.step);
                }
            }
            rows_on.push(count);
            on_own_row.push(on(&mut ws, s.inputs, s.params));
        }
        let dead_from = match rows_on.iter().rposition(|&c| c > 0) {
            Some(last) if last + 1 < rows_on.len() => Some(last + 2),
            Some(_) => None,
            None if !rows_on.is_empty() => Some(1),
            None => None,
        };
        let (mut frozen, mut learning) = (Vec::new(), Vec::new());
        if let Some(d) = dead_from {
            for (j, p) in model.params.iter().enumerate() {
                if trace.steps().skip(d - 1).all(|s| s.grads[j] == 0.0) {
                    frozen.push(p.clone());
                } else {
                    learning.push(p.clone());
                }
            }
        }
        out.push(UnitHistory {
            unit: u.expr.to_string(),
            arg: u.arg.to_string(),
            on_at_init,
            rows_on,
            on_own_row,
            dead_from,
            frozen,
            learning,
            first_off,
        });
    }
    out
}

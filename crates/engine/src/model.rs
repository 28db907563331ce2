//! A model: a prediction formula, a loss formula, and the role of every name.

use std::collections::HashMap;

use crate::error::{ErrorKind, FormulaError, Span};
use crate::expr::Expr;
use crate::parse::parse;
use crate::tape::{Tape, TapeBuilder, Workspace};

/// The name by which a loss formula refers to the model's prediction.
pub const PRED: &str = "pred";

/// The losses gradsheet knows by name, as formulas in `pred` and the target `y`.
///
/// Each entry is `(name, formula, description)`. Huber's `delta` is a constant (1 unless
/// set).
pub const LOSSES: &[(&str, &str, &str)] = &[
    (
        "squared",
        "(pred-y)^2",
        "squared error, as in fast.ai's sheets",
    ),
    ("absolute", "ABS(pred-y)", "absolute error (L1)"),
    (
        "huber",
        "IF(ABS(pred-y)<=delta,0.5*(pred-y)^2,delta*(ABS(pred-y)-0.5*delta))",
        "Huber loss: squared near 0, absolute beyond delta",
    ),
    (
        "bce",
        "-(y*LN(pred)+(1-y)*LN(1-pred))",
        "binary cross-entropy, natural log",
    ),
    (
        "bce10",
        "-(y*LOG(pred)+(1-y)*LOG(1-pred))",
        "binary cross-entropy with Excel's LOG (base 10), as fast.ai's entropy sheet",
    ),
];

/// The constants of the built-in losses, with their defaults: a loss's own constants
/// are never trained (an explicit `--const`/`--param` for the name overrides this).
pub const LOSS_CONSTANTS: &[(&str, &[(&str, f64)])] = &[("huber", &[("delta", 1.0)])];

/// The data column every built-in loss compares the prediction with.
pub const TARGET: &str = "y";

/// The built-in loss `name` stands for (`mse` → `squared`), if it is one.
fn builtin_loss(name: &str) -> Option<&'static str> {
    let key = name.trim().to_ascii_lowercase();
    let key = match key.as_str() {
        "mse" | "l2" | "se" => "squared",
        "mae" | "l1" => "absolute",
        other => other,
    };
    LOSSES
        .iter()
        .find(|(n, _, _)| *n == key)
        .map(|(n, _, _)| *n)
}

/// The formula of a loss given by name or as a formula.
///
/// # Examples
///
/// ```
/// assert_eq!(gradsheet_engine::loss_formula("squared"), "(pred-y)^2");
/// assert_eq!(gradsheet_engine::loss_formula("(pred-y)^4"), "(pred-y)^4");
/// ```
pub fn loss_formula(name_or_formula: &str) -> &str {
    builtin_loss(name_or_formula)
        .and_then(|b| LOSSES.iter().find(|(n, _, _)| *n == b))
        .map(|(_, f, _)| *f)
        .unwrap_or(name_or_formula)
}

/// What a name stands for.
#[derive(Clone, Debug, PartialEq)]
pub enum Role {
    /// A column of the data (`x`, `y`, ...): takes each row's value in turn.
    Data,
    /// A parameter the training learns.
    Param,
    /// A fixed value.
    Const(f64),
}

/// How to assign roles: everything not listed as data or constant is a parameter.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Roles {
    /// The columns of the data, in the data's order.
    pub data: Vec<String>,
    /// Names with fixed values.
    pub constants: Vec<(String, f64)>,
    /// Names forced to be parameters even if a data column has that name.
    pub params: Vec<String>,
}

impl Roles {
    /// Roles for data with these columns and no constants.
    pub fn with_columns<S: AsRef<str>>(columns: &[S]) -> Roles {
        Roles {
            data: columns.iter().map(|c| c.as_ref().to_string()).collect(),
            ..Roles::default()
        }
    }

    /// Whether the caller chose this name's role (a forced parameter or a constant).
    fn explicit(&self, name: &str) -> bool {
        self.params.iter().any(|p| p == name) || self.constants.iter().any(|(n, _)| n == name)
    }

    fn role_of(&self, name: &str) -> Role {
        if self.params.iter().any(|p| p == name) {
            Role::Param
        } else if let Some((_, v)) = self.constants.iter().find(|(n, _)| n == name) {
            Role::Const(*v)
        } else if self.data.iter().any(|d| d == name) {
            Role::Data
        } else {
            Role::Param
        }
    }
}

/// A model and its loss, with the role of every name.
///
/// The per-row *error* is the loss with `pred` replaced by the prediction formula; every
/// derivative gradsheet shows is of that error.
///
/// # Examples
///
/// ```
/// use gradsheet_engine::{Model, Roles};
/// let m = Model::new("c*MAX(a*x+b,0)+d", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
/// assert_eq!(m.params, ["c", "a", "b", "d"]);
/// assert_eq!(m.columns, ["x", "y"]);
/// assert_eq!(m.error.to_string(), "(c*MAX(a*x+b,0)+d-y)^2");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// The prediction formula.
    pub prediction: Expr,
    /// The loss formula, in terms of `pred` and data columns.
    pub loss: Expr,
    /// The per-row error: the loss with `pred` replaced by the prediction.
    pub error: Expr,
    /// The data columns used by the model or the loss, in the data's order.
    pub columns: Vec<String>,
    /// The parameters, in order of first appearance in the model, then the loss.
    pub params: Vec<String>,
    /// The constants used, with their values.
    pub constants: Vec<(String, f64)>,
    /// The prediction's source text.
    pub prediction_src: String,
    /// The loss's source text.
    pub loss_src: String,
}

impl Model {
    /// Parses the prediction and the loss (a name from [`LOSSES`] or a formula in `pred`)
    /// and assigns roles.
    ///
    /// A built-in loss's own constants ([`LOSS_CONSTANTS`], huber's `delta`) take their
    /// defaults unless given, and its target [`TARGET`] must be a data column.
    ///
    /// # Errors
    ///
    /// A [`FormulaError`] from either formula, or when the model uses `pred` itself, or
    /// when the loss does not mention `pred`, or when a built-in loss's target is not a
    /// column of the data.
    pub fn new(prediction: &str, loss: &str, roles: &Roles) -> Result<Model, FormulaError> {
        let builtin = builtin_loss(loss);
        let defaults: &[(&str, f64)] = builtin
            .and_then(|b| LOSS_CONSTANTS.iter().find(|(l, _)| *l == b))
            .map_or(&[], |(_, c)| c);
        let loss_src = loss_formula(loss).to_string();
        let pred_expr = parse(prediction)?;
        let loss_expr = parse(&loss_src)?;
        if let Some(pos) = find_name(prediction, PRED) {
            return Err(FormulaError::new(
                ErrorKind::Role(format!(
                    "`{PRED}` is the prediction itself; the model cannot use it"
                )),
                Span::new(pos, pos + PRED.len()),
                prediction,
            ));
        }
        if !loss_expr.mentions(PRED) {
            return Err(FormulaError::new(
                ErrorKind::Role(format!(
                    "the loss must use `{PRED}`, the model's prediction"
                )),
                Span::new(0, loss_src.len()),
                &loss_src,
            ));
        }
        let error = loss_expr.substitute(PRED, &pred_expr);
        let mut params = Vec::new();
        let mut constants = Vec::new();
        let mut used = pred_expr.names_in_order();
        for n in loss_expr.names_in_order() {
            if n != PRED && !used.contains(&n) {
                used.push(n);
            }
        }
        for n in &used {
            let role = match defaults.iter().find(|(c, _)| c == n) {
                Some((_, v)) if !roles.explicit(n) => Role::Const(*v),
                _ => roles.role_of(n),
            };
            if builtin.is_some() && n == TARGET && role == Role::Param && !roles.explicit(n) {
                let pos = find_name(&loss_src, TARGET).unwrap_or(0);
                let found = if roles.data.is_empty() {
                    "it has no columns".to_string()
                } else {
                    format!("its columns are {}", roles.data.join(", "))
                };
                return Err(FormulaError::new(
                    ErrorKind::Role(format!(
                        "the data has no column `{TARGET}`, which the {} loss compares the prediction with ({found})",
                        builtin.unwrap_or_default()
                    )),
                    Span::new(pos, pos + TARGET.len()),
                    &loss_src,
                ));
            }
            match role {
                Role::Param => params.push(n.clone()),
                Role::Const(v) => constants.push((n.clone(), v)),
                Role::Data => {}
            }
        }
        let columns = roles
            .data
            .iter()
            .filter(|c| used.contains(c))
            .cloned()
            .collect();
        Ok(Model {
            prediction: pred_expr,
            loss: loss_expr,
            error,
            columns,
            params,
            constants,
            prediction_src: prediction.to_string(),
            loss_src,
        })
    }

    /// The variable names in slot order: data columns, then parameters, then constants.
    pub fn var_names(&self) -> Vec<String> {
        let mut v = self.columns.clone();
        v.extend(self.params.iter().cloned());
        v.extend(self.constants.iter().map(|(n, _)| n.clone()));
        v
    }

    /// The role of a name the model uses.
    pub fn role(&self, name: &str) -> Option<Role> {
        if self.columns.iter().any(|c| c == name) {
            Some(Role::Data)
        } else if self.params.iter().any(|p| p == name) {
            Some(Role::Param)
        } else {
            self.constants
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| Role::Const(*v))
        }
    }

    /// The symbolic derivative of the per-row error with respect to `name`.
    pub fn derivative(&self, name: &str) -> Expr {
        crate::diff::derivative(&self.error, name)
    }

    /// The symbolic derivative of the per-row error with respect to `name`, or `None`
    /// when it grows past `max_nodes` nodes ([`crate::diff::derivative_within`]).
    pub fn derivative_within(&self, name: &str, max_nodes: usize) -> Option<Expr> {
        crate::diff::derivative_within(&self.error, name, max_nodes)
    }

    /// The symbolic derivative of the prediction with respect to `name`, or `None` when
    /// it grows past `max_nodes` nodes.
    pub fn prediction_derivative_within(&self, name: &str, max_nodes: usize) -> Option<Expr> {
        crate::diff::derivative_within(&self.prediction, name, max_nodes)
    }

    /// The symbolic derivative of the loss with respect to the prediction (`∂e/∂pred`).
    pub fn loss_derivative(&self) -> Expr {
        crate::diff::derivative(&self.loss, PRED)
    }

    /// The symbolic derivative of the prediction with respect to `name`.
    pub fn prediction_derivative(&self, name: &str) -> Expr {
        crate::diff::derivative(&self.prediction, name)
    }

    /// Compiles the prediction and the error into one tape.
    pub fn compile(&self) -> CompiledModel {
        let names = self.var_names();
        let mut b = TapeBuilder::new(&names);
        let none = HashMap::new();
        // `Model::new` gave every name of both formulas a role, and `names` lists them all.
        const NAMED: &str = "every name of the model is a column, constant or parameter";
        let pred = b.add(&self.prediction, &none).expect(NAMED);
        let bound = HashMap::from([(PRED.to_string(), pred)]);
        let err = b.add(&self.loss, &bound).expect(NAMED);
        let tape = b.finish(vec![pred, err]);
        CompiledModel {
            tape,
            n_cols: self.columns.len(),
            n_params: self.params.len(),
            constants: self.constants.iter().map(|(_, v)| *v).collect(),
        }
    }
}

/// The byte position of `name` used as a whole word in `src`, if any.
fn find_name(src: &str, name: &str) -> Option<usize> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '.';
    src.match_indices(name).map(|(i, _)| i).find(|&i| {
        let before = src[..i].chars().next_back().is_none_or(|c| !is_word(c));
        let after = src[i + name.len()..]
            .chars()
            .next()
            .is_none_or(|c| !is_word(c) && c != '(');
        before && after
    })
}

/// A model compiled to a [`Tape`] with two outputs: the prediction (0) and the error (1).
///
/// Slots: data columns, then parameters, then constants.
///
/// # Examples
///
/// ```
/// use gradsheet_engine::{Model, Roles};
/// let m = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
/// let c = m.compile();
/// let mut ws = c.workspace();
/// let mut grad = [0.0; 2];
/// let (pred, err) = c.row_grad(&mut ws, &[14.0, 58.0], &[1.0, 1.0], &mut grad);
/// assert_eq!((pred, err), (15.0, 1849.0));
/// assert_eq!(grad, [-1204.0, -86.0]);
/// ```
#[derive(Clone, Debug)]
pub struct CompiledModel {
    /// The tape; output 0 is the prediction, output 1 the error.
    pub tape: Tape,
    /// How many data columns lead the slots.
    pub n_cols: usize,
    /// How many parameters follow them.
    pub n_params: usize,
    /// The constants' values, in slot order after the parameters.
    pub constants: Vec<f64>,
}

impl CompiledModel {
    /// A workspace with the constants set.
    pub fn workspace(&self) -> Workspace {
        let mut ws = Workspace::default();
        self.reset_workspace(&mut ws);
        ws
    }

    /// Makes `ws` what [`CompiledModel::workspace`] makes, whatever model it served
    /// before, in its memory where that is large enough.
    pub fn reset_workspace(&self, ws: &mut Workspace) {
        self.tape.reset_workspace(ws);
        let off = self.n_cols + self.n_params;
        ws.vals[off..off + self.constants.len()].copy_from_slice(&self.constants);
    }

    #[inline]
    fn load(&self, ws: &mut Workspace, row: &[f64], params: &[f64]) {
        ws.vals[..self.n_cols].copy_from_slice(&row[..self.n_cols]);
        ws.vals[self.n_cols..self.n_cols + self.n_params].copy_from_slice(&params[..self.n_params]);
    }

    /// The prediction and the error on one row (values of [`Model::columns`]).
    #[inline]
    pub fn row(&self, ws: &mut Workspace, row: &[f64], params: &[f64]) -> (f64, f64) {
        self.load(ws, row, params);
        self.tape.forward(&mut ws.vals);
        (
            ws.vals[self.tape.output(0) as usize],
            ws.vals[self.tape.output(1) as usize],
        )
    }

    /// The prediction and the error on one row, and the error's gradient with respect to
    /// the parameters written to `grad`.
    #[inline]
    pub fn row_grad(
        &self,
        ws: &mut Workspace,
        row: &[f64],
        params: &[f64],
        grad: &mut [f64],
    ) -> (f64, f64) {
        let out = self.row(ws, row, params);
        self.tape.backward(ws, 1);
        grad[..self.n_params].copy_from_slice(&ws.adj[self.n_cols..self.n_cols + self.n_params]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Huber's `delta` is the loss's own constant, 1 unless given: never a parameter.
    #[test]
    fn a_builtin_loss_keeps_its_constants() {
        let m = Model::new("a*x+b", "huber", &Roles::with_columns(&["x", "y"])).unwrap();
        assert_eq!(m.params, ["a", "b"]);
        assert_eq!(m.constants, [("delta".to_string(), 1.0)]);
        let roles = Roles {
            constants: vec![("delta".into(), 2.5)],
            ..Roles::with_columns(&["x", "y"])
        };
        let m = Model::new("a*x+b", "huber", &roles).unwrap();
        assert_eq!(m.constants, [("delta".to_string(), 2.5)]);
        // A loss written out is the user's own: its names follow the usual roles.
        let m = Model::new(
            "a*x+b",
            "(pred-y)^2*delta",
            &Roles::with_columns(&["x", "y"]),
        );
        assert_eq!(m.unwrap().params, ["a", "b", "delta"]);
    }

    /// Data without the target the loss compares with is an error naming what was found.
    #[test]
    fn a_builtin_loss_needs_its_target_column() {
        let e = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "t"])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the data has no column `y`, which the squared loss compares the prediction with \
             (its columns are x, t) (at column 7 of `(pred-y)^2`)"
        );
        assert_eq!(e.span, Span::new(6, 7));
        // Forced a parameter, it is one.
        let roles = Roles {
            params: vec!["y".into()],
            ..Roles::with_columns(&["x"])
        };
        assert!(Model::new("a*x+b", "squared", &roles).is_ok());
    }
}

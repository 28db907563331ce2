//! The gradient check: on each data row, the symbolic derivative evaluated, the automatic
//! (reverse-mode) one and a central difference, side by side, and how far the first and
//! the last stray from the automatic one.
//!
//! A value that is not finite on either side is never agreement: the gap of a row where
//! reverse mode gives −∞ (`SQRT(c-1)` at c = 1) and the symbolic formula gives −∞ too is
//! not 0, and a NaN is not "no gap". [`Gap::NotFinite`] says which side is not finite,
//! where, and the likely reason.
//!
//! # Example
//!
//! ```
//! use gradsheet_engine::gradcheck::{GradientChecker, Gap};
//! use gradsheet_engine::{Dataset, Model, Roles};
//!
//! let data = Dataset::graddesc();
//! let m = Model::new("SQRT(c-1)+b", "squared", &Roles::with_columns(&data.columns)).unwrap();
//! let mut g = GradientChecker::new(&m, &[1.0, 1.0], 1e-5);
//! let rows = data.project(&m.columns).unwrap();
//! for (i, row) in rows.chunks(m.columns.len()).enumerate() {
//!     g.row(i, row);
//! }
//! match g.symbolic_gap() {
//!     Gap::NotFinite(n) => assert_eq!((n.row, n.param.as_str(), n.value), (0, "c", f64::NEG_INFINITY)),
//!     other => panic!("{other:?}"),
//! }
//! ```

use crate::expr::Expr;
use crate::fd::{self, Scheme};
use crate::model::{CompiledModel, Model};
use crate::tape::Workspace;

/// Which derivative of a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The symbolic derivative, evaluated.
    Symbolic,
    /// Reverse mode.
    Automatic,
    /// The central difference.
    Central,
}

impl Side {
    /// `symbolic`, `automatic` or `central`.
    pub fn name(self) -> &'static str {
        match self {
            Side::Symbolic => "symbolic",
            Side::Automatic => "automatic",
            Side::Central => "central",
        }
    }

    /// The derivative in words: `the symbolic derivative`, ….
    pub fn noun(self) -> &'static str {
        match self {
            Side::Symbolic => "the symbolic derivative",
            Side::Automatic => "the automatic (reverse-mode) derivative",
            Side::Central => "the central difference",
        }
    }
}

/// The first place where one side of a comparison is not finite.
#[derive(Clone, Debug, PartialEq)]
pub struct NotFinite {
    /// The data row (0-based).
    pub row: usize,
    /// The parameter.
    pub param: String,
    /// The side that is not finite.
    pub side: Side,
    /// Its value (±∞ or NaN).
    pub value: f64,
}

impl NotFinite {
    /// Why a derivative is not finite there, as far as its value tells.
    pub fn why(&self) -> &'static str {
        match (self.side, self.value.is_nan()) {
            (Side::Automatic, false) => {
                "the slope is infinite here: a pole, or the edge of a function's domain (SQRT or LN at 0)"
            }
            (Side::Automatic, true) => {
                "the derivative is undefined here: 0·∞, or a function outside its domain"
            }
            (Side::Symbolic, _) => {
                "the derivative's formula divides by 0 or multiplies 0 by ∞ at this point, though reverse mode does not"
            }
            (Side::Central, _) => {
                "the error is not finite within h of this point: a pole or the edge of a function's domain is near"
            }
        }
    }

    /// A sentence: which side, where, and why.
    pub fn sentence(&self) -> String {
        format!(
            "{} of e with respect to {} is {} on row {}: {}",
            self.side.noun(),
            self.param,
            self.value,
            self.row + 1,
            self.why()
        )
    }
}

/// How far one derivative strays from the automatic one over the rows seen.
#[derive(Clone, Debug, PartialEq)]
pub enum Gap {
    /// Every value on both sides finite: the largest relative gap.
    Finite(f64),
    /// A value not finite on one side (the first such).
    NotFinite(NotFinite),
}

impl Gap {
    /// The largest relative gap, or `None` when the comparison failed.
    pub fn max_rel(&self) -> Option<f64> {
        match self {
            Gap::Finite(g) => Some(*g),
            Gap::NotFinite(_) => None,
        }
    }

    fn add(&mut self, row: usize, param: &str, auto: f64, other: f64, side: Side) {
        if matches!(self, Gap::NotFinite(_)) {
            return;
        }
        let bad = if !auto.is_finite() {
            Some((Side::Automatic, auto))
        } else if !other.is_finite() {
            Some((side, other))
        } else {
            None
        };
        match (bad, &mut *self) {
            (Some((side, value)), _) => {
                *self = Gap::NotFinite(NotFinite {
                    row,
                    param: param.to_string(),
                    side,
                    value,
                })
            }
            (None, Gap::Finite(g)) => *g = g.max(rel(auto, other)),
            (None, Gap::NotFinite(_)) => {}
        }
    }
}

fn rel(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / a.abs().max(b.abs()).max(1e-300)
    }
}

/// One row of the check, per parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct GradientRow {
    /// The symbolic derivative evaluated.
    pub symbolic: Vec<f64>,
    /// Reverse mode.
    pub automatic: Vec<f64>,
    /// The central difference with the checker's h.
    pub central: Vec<f64>,
}

/// Checks a model's gradient row by row at fixed parameters (so that a caller can stop,
/// keep some rows and show the rest as it likes), keeping the gaps.
pub struct GradientChecker<'m> {
    model: &'m Model,
    compiled: CompiledModel,
    symbolic: Vec<Expr>,
    params: Vec<f64>,
    h: f64,
    ws: Workspace,
    fd_ws: Workspace,
    grad: Vec<f64>,
    scratch: Vec<f64>,
    symbolic_gap: Gap,
    central_gap: Gap,
}

impl<'m> GradientChecker<'m> {
    /// A checker of `model` at `params` (in the model's parameter order) with central
    /// differences of step `h`.
    pub fn new(model: &'m Model, params: &[f64], h: f64) -> GradientChecker<'m> {
        let compiled = model.compile();
        let ws = compiled.workspace();
        let fd_ws = compiled.workspace();
        GradientChecker {
            model,
            symbolic: model.params.iter().map(|p| model.derivative(p)).collect(),
            compiled,
            params: params.to_vec(),
            h,
            ws,
            fd_ws,
            grad: vec![0.0; params.len()],
            scratch: vec![0.0; params.len()],
            symbolic_gap: Gap::Finite(0.0),
            central_gap: Gap::Finite(0.0),
        }
    }

    /// The three derivatives on data row `i` (`row`: the model's columns, in order).
    pub fn row(&mut self, i: usize, row: &[f64]) -> GradientRow {
        let m = self.model;
        let params = &self.params;
        self.compiled
            .row_grad(&mut self.ws, row, params, &mut self.grad);
        let env = |n: &str| {
            m.columns
                .iter()
                .position(|c| c == n)
                .and_then(|j| row.get(j).copied())
                .or_else(|| m.params.iter().position(|p| p == n).map(|j| params[j]))
                .or_else(|| m.constants.iter().find(|(c, _)| c == n).map(|(_, v)| *v))
        };
        let mut out = GradientRow {
            symbolic: Vec::with_capacity(params.len()),
            automatic: self.grad.clone(),
            central: Vec::with_capacity(params.len()),
        };
        for (k, s) in self.symbolic.iter().enumerate() {
            let sv = s.eval(&env).unwrap_or(f64::NAN);
            let (compiled, fd_ws) = (&self.compiled, &mut self.fd_ws);
            let mut f = |p: &[f64]| compiled.row(fd_ws, row, p).1;
            let c = fd::estimate(
                &mut f,
                params,
                k,
                self.h,
                Scheme::Central,
                &mut self.scratch,
            );
            let name = &m.params[k];
            self.symbolic_gap
                .add(i, name, self.grad[k], sv, Side::Symbolic);
            self.central_gap
                .add(i, name, self.grad[k], c, Side::Central);
            out.symbolic.push(sv);
            out.central.push(c);
        }
        out
    }

    /// The symbolic derivative against the automatic one, over the rows seen.
    pub fn symbolic_gap(&self) -> &Gap {
        &self.symbolic_gap
    }

    /// The central difference against the automatic derivative, over the rows seen.
    pub fn central_gap(&self) -> &Gap {
        &self.central_gap
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dataset;

    fn check(model: &str, params: &[f64]) -> (Gap, Gap) {
        let data = Dataset::graddesc();
        let m = Model::new(model, "squared", &crate::Roles::with_columns(&data.columns)).unwrap();
        let mut g = GradientChecker::new(&m, params, 1e-5);
        let rows = data.project(&m.columns).unwrap();
        for (i, row) in rows.chunks(m.columns.len()).enumerate() {
            g.row(i, row);
        }
        (g.symbolic_gap().clone(), g.central_gap().clone())
    }

    #[test]
    fn finite_derivatives_agree() {
        let (s, c) = check("a*x+b", &[1.0, 1.0]);
        assert_eq!(s, Gap::Finite(0.0));
        assert!(c.max_rel().is_some_and(|g| g < 1e-6), "{c:?}");
    }

    #[test]
    fn an_infinite_slope_is_not_agreement() {
        // SQRT(c-1) at c = 1: reverse mode and the formula both give -inf, which once
        // counted as a gap of 0.
        let (s, c) = check("SQRT(c-1)+b", &[1.0, 1.0]);
        for g in [s, c] {
            let Gap::NotFinite(n) = g else {
                panic!("{g:?}")
            };
            assert_eq!((n.row, n.param.as_str(), n.side), (0, "c", Side::Automatic));
            assert_eq!(n.value, f64::NEG_INFINITY);
            assert!(
                n.sentence().contains("slope is infinite"),
                "{}",
                n.sentence()
            );
        }
    }

    #[test]
    fn a_central_difference_across_a_domain_edge_is_named() {
        // Just inside SQRT's domain: the slope is finite, but c - h leaves the domain.
        let (s, c) = check("SQRT(c-1)+b", &[1.0 + 1e-6, 1.0]);
        assert!(s.max_rel().is_some(), "{s:?}");
        let Gap::NotFinite(n) = c else {
            panic!("{c:?}")
        };
        assert_eq!((n.side, n.param.as_str()), (Side::Central, "c"));
        assert!(n.value.is_nan());
        assert!(n.why().contains("within h"));
    }
}

//! `/api/check`: symbolic, reverse-mode and central-difference derivatives on every
//! row, and what a typed derivative is (exact, a finite difference, a lost factor...).

use gradsheet_engine::{
    check_derivative, fd, parse, CheckOptions, Dataset, Finding, Model, Scheme,
};

use super::{dataset, init_values, light_formulas, model, rows_of, trainer, LIGHT_FORMULA_CHARS};
use crate::dto::*;
use crate::work::{Deadline, Lane, Work};
use crate::{ApiError, Limits};

/// A check of at most this many rows is light (see [`crate::work`]).
const LIGHT_ROWS: usize = 1000;

impl Work for CheckSpec {
    fn lane(&self, _: &Limits) -> Lane {
        let claimed = self.claimed.as_ref().map_or(0, |(_, t)| t.chars().count());
        Lane::light_if(
            light_formulas(self.model_ref())
                && claimed <= LIGHT_FORMULA_CHARS
                && rows_of(&self.data) <= LIGHT_ROWS,
        )
    }
}

fn rel(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / a.abs().max(b.abs()).max(1e-300)
    }
}

/// The answer of `/api/check`: symbolic, automatic and central-difference derivatives on
/// every row, and what a typed derivative is.
pub fn check(spec: &CheckSpec, lim: &Limits, dl: &Deadline) -> Result<CheckOut, ApiError> {
    let data = dataset(&spec.data, lim)?;
    let m = model(spec.model_ref(), &data, lim)?;
    let params = init_values(&m, &spec.at)?;
    if !(spec.h.is_finite() && spec.h > 0.0) {
        return Err(ApiError::bad(
            format!("h = {} must be a number > 0", spec.h),
            "h",
        ));
    }
    let trainer = trainer(&m, &data)?;
    let symbolic: Vec<_> = m.params.iter().map(|p| m.derivative(p)).collect();
    let mut ws = trainer.compiled.workspace();
    let mut grad = vec![0.0; params.len()];
    let mut scratch = vec![0.0; params.len()];
    let (mut max_s, mut max_c) = (0.0f64, 0.0f64);
    let mut rows = Vec::new();
    for i in 0..trainer.n_rows {
        dl.check()?;
        let row = trainer.row(i).to_vec();
        trainer.compiled.row_grad(&mut ws, &row, &params, &mut grad);
        let env = |name: &str| {
            m.columns
                .iter()
                .position(|c| c == name)
                .map(|j| row[j])
                .or_else(|| m.params.iter().position(|p| p == name).map(|j| params[j]))
                .or_else(|| m.constants.iter().find(|(c, _)| c == name).map(|(_, v)| *v))
        };
        let mut out = CheckRow {
            inputs: nums(&row),
            symbolic: Vec::new(),
            automatic: Vec::new(),
            central: Vec::new(),
        };
        for (k, s) in symbolic.iter().enumerate() {
            let sv = s.eval(&env).unwrap_or(f64::NAN);
            let mut ws2 = trainer.compiled.workspace();
            let mut f = |p: &[f64]| trainer.compiled.row(&mut ws2, &row, p).1;
            let c = fd::estimate(&mut f, &params, k, spec.h, Scheme::Central, &mut scratch);
            max_s = max_s.max(rel(sv, grad[k]));
            max_c = max_c.max(rel(c, grad[k]));
            out.symbolic.push(Num(sv));
            out.automatic.push(Num(grad[k]));
            out.central.push(Num(c));
        }
        if rows.len() < lim.max_rows_shown {
            rows.push(out);
        }
    }
    let (claimed, claimed_kind) = match &spec.claimed {
        Some((param, text)) if !text.trim().is_empty() => {
            let (sentence, kind) = verdict(&m, &data, &params, param, text, lim)?;
            (Some(sentence), Some(kind))
        }
        _ => (None, None),
    };
    Ok(CheckOut {
        params: m.params.clone(),
        columns: m.columns.clone(),
        h: spec.h,
        rows,
        max_rel_symbolic: Num(max_s),
        max_rel_central: Num(max_c),
        claimed,
        claimed_kind,
    })
}

/// The kind of a finding, as the page colours it: the exact derivative, an approximation
/// of it (a finite difference: right up to its truncation error), or not the derivative.
fn kind(f: &Finding) -> VerdictKind {
    match f {
        Finding::Exact => VerdictKind::Exact,
        Finding::FiniteDifference { .. } => VerdictKind::Approximation,
        Finding::Scaled(_) | Finding::OtherName(_) | Finding::PredictionOnly | Finding::Unknown => {
            VerdictKind::Wrong
        }
    }
}

/// What a typed derivative of the error with respect to `param` is, in a sentence (with
/// the exact derivative when it is not that), and its kind.
fn verdict(
    m: &Model,
    data: &Dataset,
    params: &[f64],
    param: &str,
    text: &str,
    lim: &Limits,
) -> Result<(String, VerdictKind), ApiError> {
    if text.chars().count() > lim.max_formula_len {
        return Err(ApiError::bad("the typed derivative is too long", "claimed"));
    }
    let e = parse(text).map_err(|e| ApiError::formula("claimed", &e))?;
    let c = check_derivative(m, data, params, param, &e, &CheckOptions::default())
        .map_err(|e| ApiError::bad(e.to_string(), "claimed"))?;
    let mut s = c.summary();
    if !matches!(c.finding, Finding::Exact) {
        s.push_str(&format!(
            "; the exact derivative is ={}",
            c.exact.to_excel()
        ));
    }
    Ok((s, kind(&c.finding)))
}

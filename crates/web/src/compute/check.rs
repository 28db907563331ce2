//! `/api/check`: symbolic, reverse-mode and central-difference derivatives on every
//! row, and what a typed derivative is (exact, a finite difference, a lost factor...).

use gradsheet_engine::gradcheck::{Gap, GradientChecker};
use gradsheet_engine::{check_derivative, parse, CheckOptions, Dataset, Finding, Model};

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
    let mut checker = GradientChecker::new(&m, &params, spec.h);
    let mut rows = Vec::new();
    for i in 0..trainer.n_rows {
        dl.check()?;
        let row = trainer.row(i).to_vec();
        let r = checker.row(i, &row);
        if rows.len() < lim.max_rows_shown {
            rows.push(CheckRow {
                inputs: nums(&row),
                symbolic: nums(&r.symbolic),
                automatic: nums(&r.automatic),
                central: nums(&r.central),
            });
        }
    }
    // A side that is not finite is never agreement: the gap is NaN and a sentence says
    // which side, where and why.
    let gap = |g: &Gap| match g {
        Gap::Finite(v) => (Num(*v), None),
        Gap::NotFinite(n) => (Num(f64::NAN), Some(n.sentence())),
    };
    let (max_rel_symbolic, symbolic_not_finite) = gap(checker.symbolic_gap());
    let (max_rel_central, central_not_finite) = gap(checker.central_gap());
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
        max_rel_symbolic,
        symbolic_not_finite,
        max_rel_central,
        central_not_finite,
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

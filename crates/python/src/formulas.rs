//! `gs.eval`, `gs.diff` and `gs.check`: the formula commands, answering with the fields
//! of their `--json` output (docs in each command's `--help`).

use gradsheet_engine::{check_derivative, parse, CheckOptions, DerivativeCheck, Finding};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::errors;
use crate::setup::Setup;

/// The value of `formula` with the names given in `values`.
#[pyfunction]
pub fn eval(formula: &str, values: Vec<(String, f64)>) -> PyResult<f64> {
    let e = parse(formula).map_err(|e| errors::formula("formula", &e))?;
    let missing: Vec<String> = e
        .names()
        .into_iter()
        .filter(|n| !values.iter().any(|(k, _)| k == n))
        .collect();
    if let Some(first) = missing.first() {
        return Err(errors::setting(
            first,
            format!(
                "the formula uses {} without a value; give {}, e.g. {}",
                missing.join(", "),
                if missing.len() == 1 { "it" } else { "them" },
                missing
                    .iter()
                    .map(|m| format!("{m}=1"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let env = |n: &str| values.iter().find(|(k, _)| k == n).map(|(_, v)| *v);
    e.eval(&env).map_err(|e| errors::setting("formula", e))
}

/// The derivatives of the per-row error by each name of `wrt` (every parameter when
/// empty), as `gradsheet diff --json`: per name the formula, Excel's spelling and the
/// mathematics, with the model's parts.
#[pyfunction]
pub fn diff<'py>(py: Python<'py>, setup: &Setup, wrt: Vec<String>) -> PyResult<Bound<'py, PyDict>> {
    let m = &setup.model;
    let names = if wrt.is_empty() {
        m.params.clone()
    } else {
        wrt
    };
    let ds = PyList::empty(py);
    for n in &names {
        if m.role(n).is_none() {
            return Err(errors::setting(
                "wrt",
                format!(
                    "wrt '{n}': the model does not use {n} (its names are {})",
                    m.var_names().join(", ")
                ),
            ));
        }
        let one = PyDict::new(py);
        one.set_item("wrt", n)?;
        // Past a spreadsheet formula's length a derivative is said to be too large (as
        // `gradsheet diff --json` says), found in bounded time.
        match gradsheet_engine::diff::shown_derivative(&m.error, n) {
            Ok(d) => {
                one.set_item("formula", d.to_string())?;
                one.set_item("excel", format!("={}", d.to_excel()))?;
                one.set_item("math", d.to_math())?;
                let dp = gradsheet_engine::diff::shown_derivative(&m.prediction, n);
                one.set_item("prediction_derivative", dp.map(|d| d.to_math()).ok())?;
            }
            Err(e) => {
                for k in ["formula", "excel", "math", "prediction_derivative"] {
                    one.set_item(k, py.None())?;
                }
                one.set_item("too_large", e.to_string())?;
            }
        }
        ds.append(one)?;
    }
    let out = PyDict::new(py);
    out.set_item("model", m.prediction.to_string())?;
    out.set_item("loss", m.loss.to_string())?;
    out.set_item("error", m.error.to_string())?;
    out.set_item("error_math", m.error.to_math())?;
    out.set_item("parameters", m.params.clone())?;
    out.set_item("data_columns", m.columns.clone())?;
    out.set_item("loss_derivative", m.loss_derivative().to_math())?;
    out.set_item("derivatives", ds)?;
    Ok(out)
}

/// A typed derivative's check as `gradsheet check --json` writes it.
fn check_dict<'py>(py: Python<'py>, c: &DerivativeCheck) -> PyResult<Bound<'py, PyDict>> {
    let finding = PyDict::new(py);
    match &c.finding {
        Finding::Exact => finding.set_item("kind", "exact")?,
        Finding::FiniteDifference { scheme, h, error } => {
            finding.set_item("kind", "finite_difference")?;
            finding.set_item("scheme", scheme.name())?;
            finding.set_item("h", h)?;
            finding.set_item("error", error.to_string())?;
            finding.set_item("error_math", error.to_math())?;
        }
        Finding::Scaled(k) => {
            finding.set_item("kind", "scaled")?;
            finding.set_item("factor", k)?;
        }
        Finding::OtherName(n) => {
            finding.set_item("kind", "other_name")?;
            finding.set_item("name", n)?;
        }
        Finding::PredictionOnly => finding.set_item("kind", "prediction_only")?,
        Finding::Unknown => finding.set_item("kind", "unknown")?,
    }
    let rows = PyList::empty(py);
    for r in &c.rows {
        let d = PyDict::new(py);
        d.set_item("row", r.row.map(|x| x + 1))?;
        d.set_item("claimed", r.claimed)?;
        d.set_item("exact", r.exact)?;
        d.set_item("diff", r.diff())?;
        d.set_item("predicted_error", r.predicted_error)?;
        rows.append(d)?;
    }
    let agree = c
        .random
        .iter()
        .filter(|r| (r.claimed - r.exact).abs() <= 1e-9 * r.exact.abs().max(1.0))
        .count();
    let out = PyDict::new(py);
    out.set_item("param", &c.param)?;
    out.set_item("claimed", c.claimed.to_string())?;
    out.set_item("exact", c.exact.to_string())?;
    out.set_item("exact_excel", format!("={}", c.exact.to_excel()))?;
    out.set_item("exact_math", c.exact.to_math())?;
    out.set_item("is_exact", c.is_exact())?;
    out.set_item("finding", finding)?;
    out.set_item("summary", c.summary())?;
    out.set_item("rows", rows)?;
    out.set_item("random_points", c.random.len())?;
    out.set_item("random_points_agree", agree)?;
    Ok(out)
}

/// Checks typed derivatives `(param, formula)` against the exact ones on every data row
/// at the setup's initial values and at random points: what each formula is (exact, a
/// finite difference with its error, a lost factor, ...), as `gradsheet check`.
#[pyfunction]
#[pyo3(signature = (setup, derivatives, seed))]
pub fn check<'py>(
    py: Python<'py>,
    setup: &Setup,
    derivatives: Vec<(String, String)>,
    seed: u64,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let opts = CheckOptions {
        seed,
        ..CheckOptions::default()
    };
    let mut out = Vec::new();
    for (p, f) in &derivatives {
        let claimed = parse(f).map_err(|e| errors::formula(&format!("derivative for {p}"), &e))?;
        let c = check_derivative(&setup.model, &setup.data, &setup.init, p, &claimed, &opts)
            .map_err(|e| errors::setting(p, e))?;
        out.push(check_dict(py, &c)?);
    }
    Ok(out)
}

//! `gs.graddesc` and `gs.lab`: fast.ai's graddesc sheets replayed, and the labs, as the
//! commands of the same names give them (tables, notes, figures as SVG, workbooks as
//! bytes).

use gradsheet_labs::lab::Value;
use gradsheet_report::chart::{self, Format};
use gradsheet_train::graddesc::{self as sheets, Settings, Sheet, SheetView, Workbook};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::block::Block;
use crate::errors;

/// The most Runs one call presses, as `gradsheet graddesc --runs`.
const MAX_RUNS: usize = 10_000;

/// A sheet's view: its tab name, the row table (headers, the column letters, the first
/// row's number, the rows as a `(columns, rows)` block), the cells outside the rows
/// (address, label, value), the column meanings and the notes.
fn view<'py>(py: Python<'py>, v: &SheetView) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", v.name)?;
    d.set_item(
        "headers",
        v.columns.iter().map(|c| c.header).collect::<Vec<_>>(),
    )?;
    d.set_item(
        "letters",
        v.columns.iter().map(|c| c.letter).collect::<Vec<_>>(),
    )?;
    d.set_item(
        "meanings",
        v.columns
            .iter()
            .map(|c| (c.letter, c.meaning, c.formula))
            .collect::<Vec<_>>(),
    )?;
    d.set_item("first_row", v.first_row)?;
    let (w, n) = (v.columns.len(), v.rows.len());
    let mut cols = Vec::with_capacity(w * n);
    for k in 0..w {
        cols.extend(v.rows.iter().map(|r| r[k]));
    }
    d.set_item("rows", Block::new(cols, w, n))?;
    d.set_item(
        "cells",
        v.cells
            .iter()
            .map(|c| (c.addr.clone(), c.label, c.value))
            .collect::<Vec<_>>(),
    )?;
    d.set_item("notes", v.notes.clone())?;
    Ok(d)
}

/// A graddesc sheet replayed by its macros (Reset, Run), as saved or with the cells a
/// learner types (`lr`, `beta1`, `beta2`, `a`, `b`), then `runs` more Runs; with `clean`,
/// the clean version beside it (every update applied, state from zero) and how the two
/// differ. Also the sheet as an xlsx workbook in its own layout (bytes).
#[pyfunction]
#[pyo3(signature = (sheet, workbook, lr, beta1, beta2, a, b, runs, clean))]
#[allow(clippy::too_many_arguments)]
pub fn graddesc<'py>(
    py: Python<'py>,
    sheet: &str,
    workbook: &str,
    lr: Option<f64>,
    beta1: Option<f64>,
    beta2: Option<f64>,
    a: Option<f64>,
    b: Option<f64>,
    runs: usize,
    clean: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let sh: Sheet = sheet
        .parse()
        .map_err(|e: String| errors::setting("sheet", e))?;
    let wb: Workbook = workbook
        .parse()
        .map_err(|e: String| errors::setting("workbook", e))?;
    if runs > MAX_RUNS {
        return Err(errors::setting(
            "runs",
            format!("runs={runs}: at most {MAX_RUNS}"),
        ));
    }
    let typed = Settings {
        lr,
        beta1,
        beta2,
        a,
        b,
    };
    let r = sheets::replay_with(wb, sh, &typed, runs).map_err(|e| errors::setting(e.field, &e))?;
    let out = PyDict::new(py);
    out.set_item("workbook", wb.year())?;
    out.set_item("sheet", sh.key())?;
    out.set_item(
        "actions",
        r.actions.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
    )?;
    out.set_item("view", view(py, &r.view)?)?;
    let epochs = PyList::empty(py);
    for e in &r.epochs {
        epochs.append((
            e.epoch,
            e.after.clone(),
            e.b,
            e.a,
            e.lr,
            e.sheet_rmse,
            e.state.clone(),
        ))?;
    }
    out.set_item("epochs", epochs)?;
    out.set_item("state_names", sh.state_names().to_vec())?;
    if clean {
        let c = sheets::clean(&r);
        let k = sheets::compare(&r, &c);
        let cd = PyDict::new(py);
        cd.set_item("view", view(py, &c.view)?)?;
        cd.set_item("notes", c.notes.clone())?;
        cd.set_item(
            "comparison",
            k.epochs.iter().map(|e| e.to_vec()).collect::<Vec<_>>(),
        )?;
        cd.set_item("comparison_notes", k.notes.clone())?;
        cd.set_item("max_param_gap", k.max_param_gap)?;
        out.set_item("clean", cd)?;
    }
    let xlsx = gradsheet_report::graddesc::graddesc_workbook(&[&r.view], false)
        .map_err(|e| errors::setting("xlsx", e))?;
    out.set_item("xlsx", PyBytes::new(py, &xlsx))?;
    Ok(out)
}

/// Every lab: `(name, group, one line, [(parameter, default, kind, help)])`.
#[pyfunction]
#[allow(clippy::type_complexity)]
pub fn labs() -> Vec<(
    &'static str,
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str, String, &'static str)>,
)> {
    gradsheet_report::labs::all()
        .into_iter()
        .map(|l| {
            let params = l
                .params
                .iter()
                .map(|p| (p.name, p.default, p.kind.describe(), p.help))
                .collect();
            (l.name, l.group.name(), l.about, params)
        })
        .collect()
}

/// Runs the lab `name` with the settings `NAME=VALUE`: its notes, its tables (name,
/// title, headers, rows of numbers and labels), its figures as SVG (name, title, svg) and
/// its workbook of live formulas (bytes).
#[pyfunction]
pub fn lab<'py>(
    py: Python<'py>,
    name: &str,
    settings: Vec<String>,
) -> PyResult<Bound<'py, PyDict>> {
    let lab = gradsheet_report::labs::find(name).map_err(|e| errors::setting("name", e))?;
    let params = lab
        .params(&settings)
        .map_err(|e| errors::setting(e.field().unwrap_or("settings"), &e))?;
    let (output, book) = py
        .detach(|| {
            let out = (lab.run)(&params, None)?;
            let book = gradsheet_report::labs::workbook(lab, &params, None)?;
            Ok::<_, gradsheet_labs::LabError>((out, book))
        })
        .map_err(|e| errors::setting(e.field().unwrap_or("settings"), &e))?;
    let d = PyDict::new(py);
    d.set_item("name", lab.name)?;
    d.set_item("about", lab.about)?;
    d.set_item("settings", params.pairs().to_vec())?;
    d.set_item("notes", output.notes.clone())?;
    let tables = PyList::empty(py);
    for t in &output.tables {
        let rows = PyList::empty(py);
        for r in &t.rows {
            let row = PyList::empty(py);
            for v in r {
                match v {
                    Value::Num(x) => row.append(*x)?,
                    Value::Text(s) => row.append(s)?,
                }
            }
            rows.append(row)?;
        }
        tables.append((t.name.clone(), t.title.clone(), t.headers.clone(), rows))?;
    }
    d.set_item("tables", tables)?;
    let mut figures = Vec::new();
    for f in &output.figures {
        let svg = chart::figure(f, Format::Svg).map_err(|e| errors::setting("figure", e))?;
        figures.push((
            f.stem(&output.lab),
            f.title.clone(),
            String::from_utf8_lossy(&svg).into_owned(),
        ));
    }
    d.set_item("figures", figures)?;
    let xlsx = book
        .to_xlsx(false)
        .map_err(|e| errors::setting("xlsx", e))?;
    d.set_item("xlsx", PyBytes::new(py, &xlsx))?;
    Ok(d)
}

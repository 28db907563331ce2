//! `gs.explain`, `gs.sweep` and `gs.surface`: the diagnosis of a run, stability maps and
//! error landscapes, as the commands of the same names compute them.

use std::sync::atomic::Ordering;

use gradsheet_diagnose::explain::{explain as diagnose, Diagnosis, ExplainOptions, RemedyKind};
use gradsheet_diagnose::sweep::{sweep_until, Axis, STOPPED};
use gradsheet_jit::surface::{mean_error_grid_with, Axes};
use gradsheet_report::chart::{self, Chart, Format, Grid};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::block::Block;
use crate::errors;
use crate::run::{interruptible, stop_dict, Config};
use crate::setup::Setup;

/// The diagnosis's remedies, each as a dictionary: what it changes, its verdict, and
/// its sentence.
fn remedy_list<'py>(py: Python<'py>, d: &Diagnosis) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for r in &d.remedies {
        let one = PyDict::new(py);
        match &r.kind {
            RemedyKind::LearningRate { lr, .. } => {
                one.set_item("kind", "learning_rate")?;
                one.set_item("lr", lr)?;
            }
            RemedyKind::RescaleInputs {
                columns, factor, ..
            } => {
                one.set_item("kind", "rescale_inputs")?;
                one.set_item("columns", columns.clone())?;
                one.set_item("factor", factor)?;
            }
            RemedyKind::Init { values } => {
                one.set_item("kind", "init")?;
                one.set_item("values", values.clone())?;
            }
            RemedyKind::Optimizer { optimizer, lr } => {
                one.set_item("kind", "optimizer")?;
                one.set_item("optimizer", optimizer)?;
                one.set_item("lr", lr)?;
            }
        }
        one.set_item("class", r.verdict.class.name())?;
        one.set_item("final_error", r.verdict.final_error)?;
        one.set_item("epochs", r.epochs)?;
        one.set_item("text", &r.text)?;
        out.append(one)?;
    }
    Ok(out)
}

/// `gs.explain`'s native half: runs the setup with `config` and explains it, as
/// `gradsheet explain --json`'s main fields: how the run ended, the stability bound, the
/// first bad step, the verdict over `verify_epochs`, the remedies (each verified by a
/// re-run), and the text in sections.
#[pyfunction]
pub fn explain_run<'py>(
    py: Python<'py>,
    setup: &Setup,
    config: &Config,
    verify_epochs: usize,
    remedies: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let (cfg, try_remedies) = (&config.0, remedies);
    let trainer = setup.trainer()?;
    let opts = ExplainOptions {
        verify_epochs,
        remedies: try_remedies,
        ..ExplainOptions::default()
    };
    // The diagnosis has no stop hook: it runs to its end (its re-runs are bounded by
    // verify_epochs), with the GIL released.
    let d = py
        .detach(|| diagnose(&trainer, &setup.init, cfg, &opts))
        .map_err(|e| errors::train(&e))?;
    let out = PyDict::new(py);
    out.set_item("model", &d.model)?;
    out.set_item("params", d.params.clone())?;
    out.set_item("optimizer", &d.optimizer)?;
    out.set_item("lr", d.lr)?;
    out.set_item("stop", stop_dict(py, &d.stop)?)?;
    out.set_item("steps", d.steps)?;
    let stability = PyDict::new(py);
    stability.set_item("k", d.k)?;
    stability.set_item("limit", d.limit)?;
    stability.set_item("applies", d.bound_applies)?;
    out.set_item("stability", stability)?;
    if let Some(v) = &d.divergence {
        let div = PyDict::new(py);
        div.set_item("step", v.step)?;
        div.set_item("row", v.row + 1)?;
        div.set_item("reason", &v.reason)?;
        div.set_item("cause", &v.cause)?;
        div.set_item("lambda_max", v.onset.as_ref().map(|c| c.lambda_max()))?;
        out.set_item("divergence", div)?;
    } else {
        out.set_item("divergence", py.None())?;
    }
    let verdict = PyDict::new(py);
    verdict.set_item("class", d.verdict.class.name())?;
    verdict.set_item("epochs", d.verify_epochs)?;
    verdict.set_item("initial_error", d.verdict.initial_error)?;
    verdict.set_item("final_error", d.verdict.final_error)?;
    out.set_item("verdict", verdict)?;
    out.set_item("remedies", remedy_list(py, &d)?)?;
    out.set_item(
        "collapse",
        d.collapse.as_ref().map(|c| {
            (
                c.linear
                    .slopes
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>(),
                c.linear.intercept.to_string(),
            )
        }),
    )?;
    out.set_item("sections", d.sections.clone())?;
    out.set_item("text", d.text())?;
    Ok(out)
}

/// A stability map as Python receives it: the x and y axes (setting, values), each
/// cell's class name, the final errors as a `(len(y), len(x))` block, each cell's
/// diverging step (0: none), and the map drawn as SVG.
pub type MapParts = (
    (String, Vec<f64>),
    (String, Vec<f64>),
    Vec<&'static str>,
    Block,
    Vec<usize>,
    String,
);

/// `gs.sweep`'s native half: a stability map over the axes `x` and `y`
/// (`NAME=LO..HI:N[:log]` or `NAME=V1,V2,...`, as `gradsheet sweep`), every cell a run of
/// `config` judged; stops at the notebook's stop button.
#[pyfunction]
pub fn sweep_map(
    py: Python<'_>,
    setup: &Setup,
    config: &Config,
    x: &str,
    y: &str,
) -> PyResult<MapParts> {
    let cfg = &config.0;
    let ax = Axis::parse(x).map_err(|e| errors::setting("x", e))?;
    let ay = Axis::parse(y).map_err(|e| errors::setting("y", e))?;
    let trainer = setup.trainer()?;
    let (map, stopped) = interruptible(py, |stop| {
        let halt = || stop.load(Ordering::Relaxed);
        sweep_until(&trainer, &setup.init, cfg, &ax, &ay, &halt)
    });
    let map = match map {
        Err(e) if stopped && e == STOPPED => {
            return Err(pyo3::exceptions::PyKeyboardInterrupt::new_err(
                "the sweep was stopped before its last cell",
            ))
        }
        other => other.map_err(|e| errors::setting("sweep", e))?,
    };
    let classes = map.cells.iter().map(|c| c.class.name()).collect();
    let errors_: Vec<f64> = map.cells.iter().map(|c| c.final_error).collect();
    let diverged = map
        .cells
        .iter()
        .map(|c| c.diverged_at.unwrap_or(0))
        .collect();
    let (nx, ny) = (ax.values.len(), ay.values.len());
    let (mx, my) = (&map.x, &map.y);
    let ch = chart::stability_map(
        mx.setting.name(),
        my.setting.name(),
        mx.values.clone(),
        my.values.clone(),
        map.drawn_errors(),
    );
    let svg = svg(&ch)?;
    Ok((
        (map.x.setting.name().to_string(), ax.values),
        (map.y.setting.name().to_string(), ay.values),
        classes,
        Block::new(errors_, ny, nx),
        diverged,
        svg,
    ))
}

/// A chart as SVG text.
pub fn svg(c: &Chart) -> PyResult<String> {
    let bytes = chart::render(c, Format::Svg).map_err(|e| errors::setting("plot", e))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The most points on an axis of a surface, as `gradsheet surface`: 4096² points is 16.8 M
/// mean errors, a few seconds natively.
const MAX_POINTS: usize = 4096;

/// The exact mean error over the data on the grid `xs` × `ys` of the parameters `px` and
/// `py_` (the others at the setup's initial values): a `(len(ys), len(xs))` block, and
/// the contours as SVG when `draw` (titled `title`).
#[pyfunction]
#[pyo3(signature = (setup, px, xs, py_, ys, at, draw, title))]
#[allow(clippy::too_many_arguments)]
pub fn surface(
    py: Python<'_>,
    setup: &Setup,
    px: &str,
    xs: Vec<f64>,
    py_: &str,
    ys: Vec<f64>,
    at: Option<Vec<f64>>,
    draw: bool,
    title: &str,
) -> PyResult<(Block, Option<String>)> {
    let m = &setup.model;
    let index = |name: &str, field: &str| {
        m.params.iter().position(|p| p == name).ok_or_else(|| {
            errors::setting(
                field,
                format!(
                    "{field}= names '{name}', which is not a parameter (the parameters are {})",
                    m.params.join(", ")
                ),
            )
        })
    };
    let (ix, iy) = (index(px, "x")?, index(py_, "y")?);
    let at = at.unwrap_or_else(|| setup.init.clone());
    if at.len() != m.params.len() {
        return Err(errors::setting(
            "at",
            format!("{} values for {} parameters", at.len(), m.params.len()),
        ));
    }
    let rows = setup
        .data
        .project(&m.columns)
        .map_err(|c| errors::setting("data", format!("the data has no column '{c}'")))?;
    for (field, n) in [("x", xs.len()), ("y", ys.len())] {
        if !(2..=MAX_POINTS).contains(&n) {
            return Err(errors::setting(
                field,
                format!("{field}= has {n} points: an axis has 2 to {MAX_POINTS}"),
            ));
        }
    }
    let compiled = m.compile();
    // A grid is bounded (MAX_POINTS² points, a few seconds natively): it runs to its end
    // with the GIL released.
    let values = py.detach(|| {
        let axes = Axes {
            x: (ix, &xs),
            y: (iy, &ys),
        };
        mean_error_grid_with(&compiled, &rows, &at, axes, &|| {})
    });
    let values = values.map_err(|e| errors::setting("surface", e))?;
    let drawn = if draw {
        Some(svg(&Chart::Contours {
            title: title.to_string(),
            x_label: px.to_string(),
            y_label: py_.to_string(),
            grid: Grid {
                xs: xs.clone(),
                ys: ys.clone(),
                values: values.clone(),
            },
            paths: vec![],
        })?)
    } else {
        None
    };
    Ok((Block::new(values, ys.len(), xs.len()), drawn))
}

//! The charts of a run: error by epoch, parameters over steps, the fit, paths on the
//! error contours; and charts that compare runs.

use gradsheet_engine::{Dataset, Model};
use gradsheet_jit::surface;
use gradsheet_train::Trace;

use super::{span, tick, Chart, Grid, Series};

/// The mean error of each epoch, one line per run (named).
pub fn error_by_epoch(runs: &[(&str, &Trace)]) -> Chart {
    Chart::Lines {
        title: "Error by epoch".into(),
        x_label: "epoch".into(),
        y_label: "mean error".into(),
        log_x: false,
        log_y: true,
        series: runs
            .iter()
            .map(|(name, t)| {
                Series::line(
                    *name,
                    t.epochs
                        .iter()
                        .map(|e| (e.epoch as f64, e.mean_error))
                        .collect(),
                )
            })
            .collect(),
    }
}

/// Several runs (optimizers) on one chart: the error by epoch of each.
pub fn compare_runs(runs: &[(&str, &Trace)]) -> Chart {
    match error_by_epoch(runs) {
        Chart::Lines {
            x_label,
            y_label,
            log_x,
            log_y,
            series,
            ..
        } => Chart::Lines {
            title: "Optimizers compared: error by epoch".into(),
            x_label,
            y_label,
            log_x,
            log_y,
            series,
        },
        other => other,
    }
}

/// Each parameter after each step (recorded steps only).
pub fn params_over_steps(trace: &Trace) -> Chart {
    let series = trace
        .layout
        .params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Series::line(
                p.as_str(),
                trace
                    .steps()
                    .map(|s| (s.step as f64, s.new_params[i]))
                    .collect(),
            )
        })
        .collect();
    Chart::Lines {
        title: "Parameters over steps".into(),
        x_label: "step".into(),
        y_label: "value after the step".into(),
        log_x: false,
        log_y: false,
        series,
    }
}

/// The data and the model's prediction at `params`, against the first input column the
/// prediction uses; `None` when the data has no `y` column or the model no input.
pub fn fit(model: &Model, data: &Dataset, params: &[f64]) -> Option<Chart> {
    let yi = data.column_index("y")?;
    let xname = model
        .columns
        .iter()
        .find(|c| c.as_str() != "y" && model.prediction.mentions(c))?;
    let xi = data.column_index(xname)?;
    let compiled = model.compile();
    let mut ws = compiled.workspace();
    let proj = data.project(&model.columns).ok()?;
    let nc = model.columns.len();
    let mut pts = Vec::new();
    let mut pred = Vec::new();
    for r in 0..data.len() {
        let row = data.row(r);
        pts.push((row[xi], row[yi]));
        let (p, _) = compiled.row(&mut ws, &proj[r * nc..(r + 1) * nc], params);
        pred.push((row[xi], p));
    }
    pred.sort_by(|a, b| a.0.total_cmp(&b.0));
    let single_input = model.columns.iter().filter(|c| c.as_str() != "y").count() == 1;
    let fitted = if single_input {
        Series::line("prediction at the final parameters", pred)
    } else {
        Series::points("prediction at the final parameters", pred)
    };
    Some(Chart::Lines {
        title: "Fit against data".into(),
        x_label: xname.clone(),
        y_label: "y".into(),
        log_x: false,
        log_y: false,
        series: vec![Series::points("data", pts), fitted],
    })
}

/// The exact mean error over the data on a `n`×`n` grid of parameters `i` and `j`, the
/// others held at `at`, over the given ranges.
pub fn error_surface(
    model: &Model,
    data: &Dataset,
    at: &[f64],
    (i, j): (usize, usize),
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    n: usize,
) -> Grid {
    let proj = data.project(&model.columns).unwrap_or_default();
    let lin = |a: f64, b: f64, k: usize| a + (b - a) * k as f64 / (n - 1).max(1) as f64;
    let xs: Vec<f64> = (0..n).map(|k| lin(x0, x1, k)).collect();
    let ys: Vec<f64> = (0..n).map(|k| lin(y0, y1, k)).collect();
    let axes = surface::Axes {
        x: (i, &xs),
        y: (j, &ys),
    };
    // (Invalid axes draw an empty surface: the callers pass two different parameters.)
    let values = surface::mean_error_grid(&model.compile(), &proj, at, axes)
        .unwrap_or_else(|_| vec![f64::NAN; n * n]);
    Grid { xs, ys, values }
}

/// The path of parameters `i` and `j` over the steps of each run, on the contours of the
/// exact mean error (the other parameters held at the first run's final values: a 2-D
/// slice when the model has more than two parameters).
pub fn contours(
    model: &Model,
    data: &Dataset,
    runs: &[(&str, &Trace)],
    (i, j): (usize, usize),
) -> Option<Chart> {
    let (_, first) = runs.first()?;
    let at = first.final_params.clone();
    let mut paths = Vec::new();
    for (name, t) in runs {
        let mut p = vec![(t.step(0).params[i], t.step(0).params[j])];
        p.extend(t.steps().map(|s| (s.new_params[i], s.new_params[j])));
        paths.push(Series::line(format!("path of {name}"), p));
    }
    let all = || {
        paths
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    };
    let (mut x0, mut x1) = span(all().map(|p| p.0))?;
    let (mut y0, mut y1) = span(all().map(|p| p.1))?;
    let (dx, dy) = ((x1 - x0) * 0.15, (y1 - y0) * 0.15);
    x0 -= dx;
    x1 += dx;
    y0 -= dy;
    y1 += dy;
    let grid = error_surface(model, data, &at, (i, j), (x0, x1), (y0, y1), 80);
    let names = &model.params;
    let slice = if names.len() > 2 {
        let others: Vec<String> = names
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != i && *k != j)
            .map(|(k, n)| format!("{n} = {}", tick(at[k])))
            .collect();
        format!(" (slice at {})", others.join(", "))
    } else {
        String::new()
    };
    Some(Chart::Contours {
        title: format!("Path on the error contours{slice}"),
        x_label: names[i].clone(),
        y_label: names[j].clone(),
        grid,
        paths,
    })
}

/// The error of a finite-difference estimate against its step `h`, one line per scheme
/// (log-log): the points are `(h, |estimate - exact|)`.
pub fn fd_error_vs_h(series: Vec<Series>) -> Chart {
    Chart::Lines {
        title: "Finite-difference error against h".into(),
        x_label: "h".into(),
        y_label: "|estimate − exact derivative|".into(),
        log_x: true,
        log_y: true,
        series,
    }
}

/// A stability map over two settings (see [`Chart::Stability`]).
pub fn stability_map(
    x_label: &str,
    y_label: &str,
    x: Vec<f64>,
    y: Vec<f64>,
    cells: Vec<Option<f64>>,
) -> Chart {
    Chart::Stability {
        title: "Stability map".into(),
        x_label: x_label.into(),
        y_label: y_label.into(),
        x,
        y,
        cells,
    }
}

/// The charts of one run, each as a file name (without extension) and a chart: the error
/// by epoch, the parameters over steps, the fit against the data, and the path on the
/// error contours (for a two-parameter model; 2-D slices of adjacent parameter pairs for
/// more).
pub fn run_charts(
    model: &Model,
    data: &Dataset,
    name: &str,
    trace: &Trace,
) -> Vec<(String, Chart)> {
    let mut out = Vec::new();
    if !trace.epochs.is_empty() {
        out.push((
            "error_by_epoch".to_string(),
            error_by_epoch(&[(name, trace)]),
        ));
    }
    if trace.is_empty() {
        return out;
    }
    out.push(("params_over_steps".into(), params_over_steps(trace)));
    let last = trace.step(trace.len() - 1).new_params.to_vec();
    let final_params = if last.iter().all(|v| v.is_finite()) {
        last
    } else {
        trace.final_params.clone()
    };
    if let Some(c) = fit(model, data, &final_params) {
        out.push(("fit".into(), c));
    }
    let np = model.params.len();
    for k in 0..np.saturating_sub(1) {
        if let Some(c) = contours(model, data, &[(name, trace)], (k, k + 1)) {
            let file = if np == 2 {
                "contours".to_string()
            } else {
                format!("contours_{}_{}", model.params[k], model.params[k + 1])
            };
            out.push((file, c));
        }
    }
    out
}

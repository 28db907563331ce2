//! The error surface of two parameters around a run's path, for the contour charts (on
//! `jit::surface`, native code across the cores).

use gradsheet_diagnose::minimum::minimum_2d;
use gradsheet_jit::surface;
use gradsheet_train::Trainer;

use crate::dto::*;
use crate::{ApiError, Limits};

/// The mean error on a grid of two parameters around the given paths (or in the ranges asked).
pub(super) fn contours(
    trainer: &Trainer,
    spec: &ContourSpec,
    paths: &[&[Vec<f64>]],
    at: &[f64],
    lim: &Limits,
) -> Result<ContoursOut, ApiError> {
    let m = &trainer.model;
    if m.params.len() < 2 {
        return Err(ApiError::bad(
            "the error surface needs a model with at least two parameters",
            "contours",
        ));
    }
    let names = spec
        .params
        .clone()
        .unwrap_or_else(|| [m.params[0].clone(), m.params[1].clone()]);
    let (ix, iy) = axes_of(&m.params, &names)?;
    // Keep the grid's total work (points × rows) within the budget by coarsening it.
    let mut n = spec.n.clamp(8, lim.max_grid);
    while n > 8 && n * n * trainer.n_rows > lim.max_surface {
        n -= 1;
    }
    // The bottom of the valley, searched from where the run ended (the other parameters
    // held there): the window grows to show it when it is near enough to be drawn with
    // the path, as the learner needs to see where the path is heading.
    let minimum = if super::second_derivatives_are_cheap(m) {
        minimum_2d(trainer, at, (ix, iy), [at[ix], at[iy]]).filter(|m| m.converged)
    } else {
        None
    };
    let [x0, x1] = reach(window(paths, ix, spec.x), spec.x, minimum.map(|m| m.at[0]));
    let [y0, y1] = reach(window(paths, iy, spec.y), spec.y, minimum.map(|m| m.at[1]));
    let xs: Vec<f64> = (0..n)
        .map(|i| x0 + (x1 - x0) * i as f64 / (n - 1) as f64)
        .collect();
    let ys: Vec<f64> = (0..n)
        .map(|j| y0 + (y1 - y0) * j as f64 / (n - 1) as f64)
        .collect();
    let axes = surface::Axes {
        x: (ix, &xs),
        y: (iy, &ys),
    };
    let values = surface::mean_error_grid(&trainer.compiled, &trainer.rows, at, axes)
        .map_err(|e| ApiError::bad(e.to_string(), "contours"))?;
    let mut best = (f64::INFINITY, [xs[0], ys[0]]);
    let mut z = Vec::with_capacity(n);
    for (line, &y) in values.chunks_exact(n).zip(&ys) {
        for (&e, &x) in line.iter().zip(&xs) {
            if e < best.0 {
                best = (e, [x, y]);
            }
        }
        z.push(line.iter().map(|&e| Num(e)).collect());
    }
    let fixed = m
        .params
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != ix && *i != iy)
        .map(|(i, name)| (name.clone(), Num(at[i])))
        .collect();
    Ok(ContoursOut {
        params: names,
        x: xs,
        y: ys,
        z,
        fixed,
        min: best.1,
        minimum: minimum.map(|m| MinimumOut {
            at: m.at,
            error: Num(m.error),
        }),
    })
}

/// How far beyond the path's window the minimum may lie and still be brought into view,
/// in widths of that window: farther, the path would shrink to a few pixels, and the
/// chart points at the minimum from the edge instead.
const REACH: f64 = 10.0;

/// The window `[lo, hi]`, grown to include `target` (with a margin) when the range was
/// not given and the target is within [`REACH`] widths of it.
fn reach([lo, hi]: [f64; 2], given: Option<[f64; 2]>, target: Option<f64>) -> [f64; 2] {
    let (Some(t), None) = (target, given) else {
        return [lo, hi];
    };
    let w = hi - lo;
    if !t.is_finite() || (t >= lo && t <= hi) || t < lo - REACH * w || t > hi + REACH * w {
        return [lo, hi];
    }
    let (nlo, nhi) = (lo.min(t), hi.max(t));
    let m = 0.08 * (nhi - nlo);
    [
        if t < lo { nlo - m } else { lo },
        if t > hi { nhi + m } else { hi },
    ]
}

/// The indices of the two parameters on the axes.
fn axes_of(params: &[String], names: &[String; 2]) -> Result<(usize, usize), ApiError> {
    let idx = |name: &str| {
        params.iter().position(|p| p == name).ok_or_else(|| {
            ApiError::bad(
                format!("{name} is not a parameter (they are {})", params.join(", ")),
                "contours",
            )
        })
    };
    let (ix, iy) = (idx(&names[0])?, idx(&names[1])?);
    if ix == iy {
        return Err(ApiError::bad(
            "the two axes of the error surface must be different parameters",
            "contours",
        ));
    }
    Ok((ix, iy))
}

/// The range of parameter `i` on its axis: the one asked for, else the paths' values
/// with a margin.
fn window(paths: &[&[Vec<f64>]], i: usize, given: Option<[f64; 2]>) -> [f64; 2] {
    if let Some([a, b]) = given {
        if a.is_finite() && b.is_finite() && a < b {
            return [a, b];
        }
    }
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for p in paths.iter().flat_map(|p| p.iter()) {
        let v = p[i];
        if v.is_finite() && v.abs() < 1e12 {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if !lo.is_finite() {
        return [-1.0, 1.0];
    }
    // A path that barely moves (or diverges at its first step) still gets a window
    // wide enough to show the surface's shape around it.
    let span = (hi - lo).max(0.2 * lo.abs().max(hi.abs()).max(1.0));
    [lo - 0.15 * span, hi + 0.15 * span]
}

//! Error landscapes: the mean error of a model at every point of a grid over two of its
//! parameters, the others held fixed — the contour charts of the web app and of
//! `gradsheet export`, and `gradsheet surface`.
//!
//! The grid runs on a [`LaneKernel`]: up to 64 points of a grid row share each pass over
//! the data (the x-axis parameter is a SIMD lane), the grid's rows run in parallel with
//! rayon. Every value is bit for bit [`gradsheet_train::Trainer::mean_error`]'s: each
//! lane sums the rows' errors in row order with the interpreter's operations.

use gradsheet_engine::CompiledModel;
use rayon::prelude::*;

use crate::{CompileError, LaneKernel, LaneRows, Width};

/// Where a grid's axes are and what they hold.
#[derive(Clone, Copy, Debug)]
pub struct Axes<'a> {
    /// The parameter along x (its index in the model's parameters) and its values.
    pub x: (usize, &'a [f64]),
    /// The parameter along y and its values.
    pub y: (usize, &'a [f64]),
}

/// The mean error at every point of the grid `axes`, every other parameter at its value
/// in `at`, over `rows` (the model's columns, row after row):
/// `values[k * nx + j]` is the error at `x = xs[j]`, `y = ys[k]`.
///
/// Runs natively when the model compiles (it always should) and on the interpreter
/// otherwise; the values are the same bits either way.
///
/// # Errors
///
/// [`CompileError::Invalid`] if an axis is not a parameter, both axes are the same
/// parameter, or `at` does not hold one value per parameter.
///
/// # Examples
///
/// ```
/// use gradsheet_engine::{Dataset, Model, Roles};
/// use gradsheet_jit::surface::{mean_error_grid, Axes};
///
/// let model = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
/// let data = Dataset::graddesc();
/// let rows = data.project(&model.columns).unwrap();
/// let (a, b) = ([1.0, 2.0, 3.0], [20.0, 30.0]);
/// let grid = mean_error_grid(&model.compile(), &rows, &[0.0, 0.0], Axes { x: (0, &a), y: (1, &b) }).unwrap();
/// assert_eq!(grid.len(), 6);
/// // The data are y = 2x + 30 exactly: no error at a = 2, b = 30.
/// assert_eq!(grid[1 * 3 + 1], 0.0);
/// ```
pub fn mean_error_grid(
    model: &CompiledModel,
    rows: &[f64],
    at: &[f64],
    axes: Axes<'_>,
) -> Result<Vec<f64>, CompileError> {
    mean_error_grid_with(model, rows, at, axes, &|| {})
}

/// As [`mean_error_grid`], calling `line_done` (from any thread) after each line of the
/// grid (one y value), to show progress on long work.
///
/// # Errors
///
/// As [`mean_error_grid`].
pub fn mean_error_grid_with(
    model: &CompiledModel,
    rows: &[f64],
    at: &[f64],
    axes: Axes<'_>,
    line_done: &(dyn Fn() + Sync),
) -> Result<Vec<f64>, CompileError> {
    let np = model.n_params;
    let (ix, xs) = axes.x;
    let (iy, ys) = axes.y;
    if ix >= np || iy >= np {
        return Err(CompileError::Invalid(format!(
            "the model has {np} parameters: there is no parameter {}",
            ix.max(iy) + 1
        )));
    }
    if ix == iy {
        return Err(CompileError::Invalid(
            "the two axes must be different parameters".into(),
        ));
    }
    if at.len() != np {
        return Err(CompileError::Invalid(format!(
            "expected {np} parameter values, got {}",
            at.len()
        )));
    }
    let nc = model.n_cols;
    let n_rows = rows.len().checked_div(nc).unwrap_or(0);
    let rows = &rows[..n_rows * nc];
    let mut out = vec![0.0; xs.len() * ys.len()];
    if xs.is_empty() {
        return Ok(out);
    }
    // The uniform variables: every parameter at `at`, then the constants.
    let mut uniform = vec![0.0; model.tape.n_vars()];
    uniform[nc..nc + np].copy_from_slice(at);
    let c0 = nc + np;
    uniform[c0..c0 + model.constants.len()].copy_from_slice(&model.constants);
    let lanes = [(nc + ix) as u32];
    let kernel = match nc {
        0 => None,
        _ => LaneKernel::compile(&model.tape, nc, 1, &lanes)
            .ok()
            .map(|k| {
                // A line's last block, when it is short, on a kernel no wider than it
                // needs (80 points: 64 + 16 lanes rather than 2 × 64).
                let short = xs.len() % k.width();
                let tail = (short > 0)
                    .then(|| {
                        LaneKernel::compile_at(&model.tape, nc, 1, &lanes, Width::Holding(short))
                    })
                    .and_then(Result::ok)
                    .filter(|t| (short..k.width()).contains(&t.width()));
                (k, tail, LaneRows::new(rows, nc))
            }),
    };
    out.par_chunks_mut(xs.len())
        .zip(ys.par_iter())
        .for_each(|(line, &y)| {
            let mut u = uniform.clone();
            u[nc + iy] = y;
            match &kernel {
                Some((k, tail, wide)) => {
                    let w = k.width();
                    let mut sums = vec![0.0; w];
                    let mut block = vec![0.0; w];
                    for (j0, dst) in (0..xs.len()).step_by(w).zip(line.chunks_mut(w)) {
                        let k = match tail {
                            Some(t) if dst.len() < w => t,
                            _ => k,
                        };
                        // A short last block repeats its last point in the spare lanes.
                        for (l, b) in block.iter_mut().take(k.width()).enumerate() {
                            *b = xs[(j0 + l).min(xs.len() - 1)];
                        }
                        k.sum(wide, &block, &u, &mut sums);
                        for (d, s) in dst.iter_mut().zip(&sums) {
                            *d = s / n_rows as f64;
                        }
                    }
                }
                None => {
                    let mut ws = model.workspace();
                    let mut p = at.to_vec();
                    p[iy] = y;
                    for (d, &x) in line.iter_mut().zip(xs) {
                        p[ix] = x;
                        let mut s = 0.0;
                        for r in rows.chunks_exact(nc.max(1)).take(n_rows) {
                            s += model.row(&mut ws, r, &p).1;
                        }
                        *d = s / n_rows as f64;
                    }
                }
            }
            line_done();
        });
    Ok(out)
}

//! The minimum of a model's mean error over two of its parameters, the others held: the
//! point an error-surface chart marks as the bottom of the valley (for the graddesc data
//! and `a*x+b`, exactly (2, 30)), found rather than read off the grid the chart draws.
//!
//! Newton's method on the two coordinates with the exact gradient and Hessian of the
//! mean error (the rows' second derivatives, [`crate::hessian`]), each step shortened
//! until the error falls, and a gradient step where the Hessian is not positive definite.
//! A quadratic error (a model linear in the two parameters with a squared loss) is
//! solved by the first step; other errors converge quadratically near a minimum. The
//! result says whether it converged to a point where the gradient vanishes and the
//! Hessian is positive definite: a minimum the chart may call one.

use gradsheet_train::Trainer;

use crate::hessian::HessianModel;

/// A minimum of the mean error over two parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Minimum {
    /// The two parameters' values there.
    pub at: [f64; 2],
    /// The mean error there.
    pub error: f64,
    /// Whether the search converged to a point whose gradient vanishes (to rounding) and
    /// whose Hessian is positive definite; otherwise `at` is the best point it reached.
    pub converged: bool,
}

/// Steps of Newton's method at most.
const MAX_STEPS: usize = 100;

/// The mean error, its gradient and its Hessian over the two coordinates.
struct Local {
    error: f64,
    g: [f64; 2],
    h: [f64; 3],
}

/// Searches for the minimum of the mean error over parameters `axes.0` and `axes.1`,
/// starting from `start`, with the other parameters at their values in `params`.
///
/// `None` when the error is not finite at the start.
///
/// # Examples
///
/// ```
/// use gradsheet_engine::{Dataset, Model, Roles};
/// use gradsheet_train::Trainer;
/// use gradsheet_diagnose::minimum::minimum_2d;
///
/// let m = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
/// let t = Trainer::new(&m, &Dataset::graddesc()).unwrap();
/// let min = minimum_2d(&t, &[1.0, 1.0], (0, 1), [1.0, 1.0]).unwrap();
/// assert!(min.converged);
/// // The graddesc data are y = 2x + 30 exactly.
/// assert!((min.at[0] - 2.0).abs() < 1e-9 && (min.at[1] - 30.0).abs() < 1e-7);
/// ```
pub fn minimum_2d(
    trainer: &Trainer,
    params: &[f64],
    axes: (usize, usize),
    start: [f64; 2],
) -> Option<Minimum> {
    let hm = HessianModel::new(&trainer.model);
    let n = hm.n_params();
    let mut ws = hm.workspace();
    let (mut grad, mut hess) = (vec![0.0; n], vec![0.0; n * n]);
    let mut p = params.to_vec();
    let (ix, iy) = axes;
    let mut local = |xy: [f64; 2], p: &mut Vec<f64>| -> Local {
        p[ix] = xy[0];
        p[iy] = xy[1];
        let mut l = Local {
            error: 0.0,
            g: [0.0; 2],
            h: [0.0; 3],
        };
        for i in 0..trainer.n_rows {
            let (_, e) = hm.eval(&mut ws, trainer.row(i), p, &mut grad, &mut hess);
            l.error += e;
            l.g[0] += grad[ix];
            l.g[1] += grad[iy];
            l.h[0] += hess[ix * n + ix];
            l.h[1] += hess[ix * n + iy];
            l.h[2] += hess[iy * n + iy];
        }
        let k = 1.0 / trainer.n_rows as f64;
        l.error *= k;
        l.g.iter_mut().for_each(|v| *v *= k);
        l.h.iter_mut().for_each(|v| *v *= k);
        l
    };
    let mut xy = start;
    let mut cur = local(xy, &mut p);
    if !cur.error.is_finite() {
        return None;
    }
    for _ in 0..MAX_STEPS {
        let [a, b, c] = cur.h;
        let det = a * c - b * b;
        let pd = a > 0.0 && det > 0.0 && det.is_finite();
        // Newton's step solves H·d = −g; without a positive definite H, a gradient step
        // scaled by the curvature's size (or 1) goes downhill instead.
        let d = if pd {
            [
                -(c * cur.g[0] - b * cur.g[1]) / det,
                -(a * cur.g[1] - b * cur.g[0]) / det,
            ]
        } else {
            let s = (a.abs() + c.abs()).max(1e-300);
            let s = if s.is_finite() { 1.0 / s } else { 1.0 };
            [-s * cur.g[0], -s * cur.g[1]]
        };
        if tiny(d, xy) {
            return Some(Minimum {
                at: xy,
                error: cur.error,
                converged: pd,
            });
        }
        // Shorten the step until the error does not rise (rounding may leave it equal at
        // the bottom of the valley).
        let mut t = 1.0;
        let mut next = None;
        for _ in 0..40 {
            let trial = [xy[0] + t * d[0], xy[1] + t * d[1]];
            let l = local(trial, &mut p);
            if l.error.is_finite() && l.error <= cur.error {
                next = Some((trial, l));
                break;
            }
            t *= 0.5;
        }
        let Some((trial, l)) = next else {
            // No step lowers the error: the start is a minimum to rounding if the
            // Hessian says so.
            return Some(Minimum {
                at: xy,
                error: cur.error,
                converged: pd && tiny([t * d[0], t * d[1]], xy),
            });
        };
        let moved = [trial[0] - xy[0], trial[1] - xy[1]];
        xy = trial;
        cur = l;
        if tiny(moved, xy) {
            let [a, b, c] = cur.h;
            return Some(Minimum {
                at: xy,
                error: cur.error,
                converged: a > 0.0 && a * c - b * b > 0.0,
            });
        }
    }
    Some(Minimum {
        at: xy,
        error: cur.error,
        converged: false,
    })
}

/// Whether a step `d` from `xy` is below rounding's reach.
fn tiny(d: [f64; 2], xy: [f64; 2]) -> bool {
    d[0].abs() <= 1e-12 * (1.0 + xy[0].abs()) && d[1].abs() <= 1e-12 * (1.0 + xy[1].abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradsheet_engine::{Dataset, Model, Roles};

    fn trainer(formula: &str) -> Trainer {
        let m = Model::new(formula, "squared", &Roles::with_columns(&["x", "y"])).unwrap();
        Trainer::new(&m, &Dataset::graddesc()).unwrap()
    }

    #[test]
    fn the_graddesc_line_has_its_minimum_at_2_30_from_anywhere() {
        let t = trainer("a*x+b");
        for start in [[1.0, 1.0], [-8.0, 70.0], [2.5, 6.2]] {
            let m = minimum_2d(&t, &[1.0, 1.0], (0, 1), start).unwrap();
            assert!(m.converged, "{start:?}: {m:?}");
            assert!((m.at[0] - 2.0).abs() < 1e-10, "{m:?}");
            assert!((m.at[1] - 30.0).abs() < 1e-8, "{m:?}");
            assert!(m.error < 1e-15, "the data lie on the line: {m:?}");
        }
        // With b and a in the sheet's order, the axes follow the indices.
        let t = trainer("b+a*x");
        let m = minimum_2d(&t, &[1.0, 1.0], (1, 0), [1.0, 1.0]).unwrap();
        assert!((m.at[0] - 2.0).abs() < 1e-10 && (m.at[1] - 30.0).abs() < 1e-8);
    }

    #[test]
    fn other_parameters_stay_where_they_are() {
        // c*(a*x+b)+d with c = 2, d = 4 held: the best a, b make 2(a x + b) + 4 = 2x + 30.
        let t = trainer("c*(a*x+b)+d");
        let m = minimum_2d(&t, &[2.0, 1.0, 1.0, 4.0], (1, 2), [1.0, 1.0]).unwrap();
        assert!(m.converged);
        assert!(
            (m.at[0] - 1.0).abs() < 1e-10 && (m.at[1] - 13.0).abs() < 1e-8,
            "{m:?}"
        );
    }

    #[test]
    fn a_flat_valley_is_descended_to_its_floor() {
        // a*b*x + c: only the product a·b matters, so the Hessian over (a, b) is singular
        // along the valley's floor; the search still reaches the floor, a·b = 2.
        let t = trainer("a*b*x+c");
        let m = minimum_2d(&t, &[1.0, 1.0, 30.0], (0, 1), [1.0, 1.0]).unwrap();
        assert!((m.at[0] * m.at[1] - 2.0).abs() < 1e-6, "{m:?}");
        assert!(m.error < 1e-9, "{m:?}");
    }

    #[test]
    fn a_start_where_the_error_is_not_finite_gives_none() {
        let m = Model::new("LN(a)*x+b", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
        let t = Trainer::new(&m, &Dataset::graddesc()).unwrap();
        assert_eq!(minimum_2d(&t, &[1.0, 1.0], (0, 1), [-1.0, 1.0]), None);
    }
}

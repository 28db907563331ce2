//! Optimizers shared by the labs' training functions: Adam (first order) and L-BFGS,
//! the stand-in for Excel Solver's second-order "GRG Nonlinear" engine.
//!
//! Both are generic over an objective `FnMut(&[f64]) -> (f64, Vec<f64>)` returning the
//! loss and its gradient, so any lab (collab, titanic) can hand over its hand-derived
//! gradient.

/// Adam's hyper-parameters (Kingma & Ba): `m ← β1·m + (1−β1)·g`,
/// `v ← β2·v + (1−β2)·g²`, `p ← p − lr·m̂/(√v̂ + ε)` with the bias corrections
/// `m̂ = m/(1−β1ᵗ)`, `v̂ = v/(1−β2ᵗ)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    /// Learning rate (default 0.01).
    pub lr: f64,
    /// Momentum decay (default 0.9).
    pub beta1: f64,
    /// Mean-square decay (default 0.999).
    pub beta2: f64,
    /// Added to √v̂ (default 1e-8).
    pub eps: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// Adam's state: visible plain data so a trace can show it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AdamState {
    /// First moment per parameter.
    pub m: Vec<f64>,
    /// Second moment per parameter.
    pub v: Vec<f64>,
    /// Steps taken so far.
    pub t: i32,
}

impl AdamState {
    /// A zero state for `n` parameters.
    pub fn new(n: usize) -> Self {
        AdamState {
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }

    /// One Adam step on `params` with gradient `grad` (same length as the state).
    ///
    /// # Examples
    ///
    /// ```
    /// use gradsheet_labs::{AdamConfig, AdamState};
    /// let mut p = vec![1.0];
    /// let mut s = AdamState::new(1);
    /// s.step(&AdamConfig { lr: 0.1, ..Default::default() }, &mut p, &[2.0]);
    /// // The first bias-corrected step has size lr whatever the gradient's scale.
    /// assert!((p[0] - 0.9).abs() < 1e-6);
    /// ```
    pub fn step(&mut self, cfg: &AdamConfig, params: &mut [f64], grad: &[f64]) {
        self.t += 1;
        let c1 = 1.0 - cfg.beta1.powi(self.t);
        let c2 = 1.0 - cfg.beta2.powi(self.t);
        // A state made for fewer parameters grows (new moments start at 0).
        if self.m.len() < params.len() {
            self.m.resize(params.len(), 0.0);
            self.v.resize(params.len(), 0.0);
        }
        for (((p, g), m), v) in params
            .iter_mut()
            .zip(grad)
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            *m = cfg.beta1 * *m + (1.0 - cfg.beta1) * g;
            *v = cfg.beta2 * *v + (1.0 - cfg.beta2) * g * g;
            *p -= cfg.lr * (*m / c1) / ((*v / c2).sqrt() + cfg.eps);
        }
    }
}

/// L-BFGS settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LbfgsConfig {
    /// Number of (s, y) pairs kept (default 10).
    pub memory: usize,
    /// Maximum iterations (default 500).
    pub max_iter: usize,
    /// Stop when the gradient's max-norm falls below this (default 1e-10).
    pub grad_tol: f64,
    /// Stop when the relative decrease of the loss in an iteration falls below this
    /// (default 1e-15).
    pub f_tol: f64,
}

impl Default for LbfgsConfig {
    fn default() -> Self {
        LbfgsConfig {
            memory: 10,
            max_iter: 500,
            grad_tol: 1e-10,
            f_tol: 1e-15,
        }
    }
}

/// What [`lbfgs`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct LbfgsResult {
    /// The final parameters.
    pub x: Vec<f64>,
    /// The loss there.
    pub f: f64,
    /// The loss after each iteration (index 0 = the start).
    pub history: Vec<f64>,
    /// Objective evaluations used.
    pub evals: usize,
}

/// Minimises `f` from `x0` with limited-memory BFGS (two-loop recursion) and a
/// backtracking Armijo line search; the curvature pair is skipped when `sᵀy ≤ 0`, which
/// keeps the inverse-Hessian estimate positive definite on non-convex losses (ReLU nets).
///
/// This plays the part of Excel Solver (GRG Nonlinear) in the workbooks: a
/// quasi-Newton method that needs only the loss and its gradient.
///
/// # Examples
///
/// ```
/// use gradsheet_labs::{lbfgs, LbfgsConfig};
/// // Rosenbrock's banana: minimum 0 at (1, 1).
/// let rosen = |x: &[f64]| {
///     let (a, b) = (x[0], x[1]);
///     let f = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
///     let g = vec![-2.0 * (1.0 - a) - 400.0 * a * (b - a * a), 200.0 * (b - a * a)];
///     (f, g)
/// };
/// let r = lbfgs(rosen, &[-1.2, 1.0], &LbfgsConfig::default());
/// assert!(r.f < 1e-12);
/// ```
pub fn lbfgs<F>(mut f: F, x0: &[f64], cfg: &LbfgsConfig) -> LbfgsResult
where
    F: FnMut(&[f64]) -> (f64, Vec<f64>),
{
    let n = x0.len();
    let mut x = x0.to_vec();
    let (mut fx, mut g) = f(&x);
    let mut evals = 1;
    let mut history = vec![fx];
    let mut mem: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)> = Default::default();
    for _ in 0..cfg.max_iter {
        if !fx.is_finite() || g.iter().fold(0.0f64, |m, v| m.max(v.abs())) < cfg.grad_tol {
            break;
        }
        // Two-loop recursion: d = -H·g.
        let mut q = g.clone();
        let mut alphas = Vec::with_capacity(mem.len());
        for (s, y, rho) in mem.iter().rev() {
            let a = rho * dot(s, &q);
            axpy(&mut q, -a, y);
            alphas.push(a);
        }
        if let Some((s, y, _)) = mem.back() {
            let gamma = dot(s, y) / dot(y, y);
            q.iter_mut().for_each(|v| *v *= gamma);
        } else {
            // First step: a unit-length move along the steepest descent.
            let gn = dot(&g, &g).sqrt().max(1e-300);
            q.iter_mut().for_each(|v| *v /= gn);
        }
        for ((s, y, rho), a) in mem.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(y, &q);
            axpy(&mut q, a - b, s);
        }
        let mut d: Vec<f64> = q.iter().map(|v| -v).collect();
        let mut slope = dot(&g, &d);
        if slope >= 0.0 {
            // Not a descent direction: restart from steepest descent.
            mem.clear();
            d = g.iter().map(|v| -v).collect();
            slope = dot(&g, &d);
        }
        // Backtracking line search (Armijo, c = 1e-4).
        let mut t = 1.0;
        let mut accepted = None;
        for _ in 0..60 {
            let xn: Vec<f64> = x.iter().zip(&d).map(|(xi, di)| xi + t * di).collect();
            let (fnew, gnew) = f(&xn);
            evals += 1;
            if fnew.is_finite() && fnew <= fx + 1e-4 * t * slope {
                accepted = Some((xn, fnew, gnew));
                break;
            }
            t *= 0.5;
        }
        let Some((xn, fnew, gnew)) = accepted else {
            break;
        };
        let s: Vec<f64> = xn.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = gnew.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-300 {
            if mem.len() == cfg.memory.max(1) {
                mem.pop_front();
            }
            mem.push_back((s, y, 1.0 / sy));
        }
        let decrease = fx - fnew;
        x = xn;
        fx = fnew;
        g = gnew;
        history.push(fx);
        if decrease <= cfg.f_tol * fx.abs().max(1e-300) {
            break;
        }
    }
    debug_assert_eq!(x.len(), n);
    LbfgsResult {
        x,
        f: fx,
        history,
        evals,
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn axpy(y: &mut [f64], a: f64, x: &[f64]) {
    y.iter_mut().zip(x).for_each(|(yi, xi)| *yi += a * xi);
}

//! The exact Hessian of a row's error with respect to the parameters, and the
//! eigenvalues of a small symmetric matrix.
//!
//! The second derivatives are symbolic: each `∂e/∂p_i` from the engine is differentiated
//! again with respect to every `p_j` (`j ≥ i`), and the gradient and the upper triangle are
//! compiled once into one hash-consed [`Tape`], so a row costs one forward pass and no
//! allocation. Kinks follow the engine's rules (`MAX` ties go to the first argument), so
//! the Hessian is the derivative of exactly the gradient the training uses.

use std::collections::HashMap;

use gradsheet_engine::{derivative, Model, Tape, TapeBuilder, Workspace};

/// A model's gradient and Hessian compiled to one tape.
///
/// Slots are the model's: data columns, then parameters, then constants. Outputs: the
/// prediction, the error, the `n` gradient entries, then the `n(n+1)/2` entries of the
/// upper triangle row by row.
///
/// # Examples
///
/// ```
/// use gradsheet_engine::{Model, Roles};
/// use gradsheet_diagnose::hessian::HessianModel;
/// let m = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
/// let h = HessianModel::new(&m);
/// let mut ws = h.workspace();
/// let (mut g, mut hess) = ([0.0; 2], [0.0; 4]);
/// h.eval(&mut ws, &[3.0, 10.0], &[1.0, 1.0], &mut g, &mut hess);
/// // e = (a*x+b-y)^2: ∂²e/∂a² = 2x², ∂²e/∂a∂b = 2x, ∂²e/∂b² = 2.
/// assert_eq!(hess, [18.0, 6.0, 6.0, 2.0]);
/// ```
#[derive(Clone, Debug)]
pub struct HessianModel {
    tape: Tape,
    n_cols: usize,
    n_params: usize,
    constants: Vec<f64>,
}

impl HessianModel {
    /// Differentiates the model's error twice and compiles the result.
    pub fn new(model: &Model) -> HessianModel {
        let names = model.var_names();
        let n = model.params.len();
        let mut b = TapeBuilder::new(&names);
        let none = HashMap::new();
        // Every name of these formulas (and of their derivatives) is one of `names`.
        const NAMED: &str = "every name of the model is a column, constant or parameter";
        let mut outs = vec![
            b.add(&model.prediction, &none).expect(NAMED),
            b.add(&model.error, &none).expect(NAMED),
        ];
        let grads: Vec<_> = model
            .params
            .iter()
            .map(|p| derivative(&model.error, p))
            .collect();
        for g in &grads {
            outs.push(b.add(g, &none).expect(NAMED));
        }
        for (i, g) in grads.iter().enumerate() {
            for q in &model.params[i..] {
                outs.push(b.add(&derivative(g, q), &none).expect(NAMED));
            }
        }
        HessianModel {
            tape: b.finish(outs),
            n_cols: model.columns.len(),
            n_params: n,
            constants: model.constants.iter().map(|(_, v)| *v).collect(),
        }
    }

    /// The number of parameters.
    pub fn n_params(&self) -> usize {
        self.n_params
    }

    /// A workspace with the constants set; reuse it for every row.
    pub fn workspace(&self) -> Workspace {
        let mut ws = self.tape.workspace();
        let off = self.n_cols + self.n_params;
        ws.vals[off..off + self.constants.len()].copy_from_slice(&self.constants);
        ws
    }

    /// The prediction and the error on one row; the gradient into `grad` (`n` values) and
    /// the full symmetric Hessian into `hess` (`n × n`, row-major).
    pub fn eval(
        &self,
        ws: &mut Workspace,
        row: &[f64],
        params: &[f64],
        grad: &mut [f64],
        hess: &mut [f64],
    ) -> (f64, f64) {
        let (c, n) = (self.n_cols, self.n_params);
        ws.vals[..c].copy_from_slice(&row[..c]);
        ws.vals[c..c + n].copy_from_slice(&params[..n]);
        self.tape.forward(&mut ws.vals);
        let out = |k: usize| ws.vals[self.tape.output(k) as usize];
        for (i, g) in grad.iter_mut().enumerate().take(n) {
            *g = out(2 + i);
        }
        let mut k = 2 + n;
        for i in 0..n {
            for j in i..n {
                let v = out(k);
                hess[i * n + j] = v;
                hess[j * n + i] = v;
                k += 1;
            }
        }
        (out(0), out(1))
    }
}

/// The eigenvalues and eigenvectors of a symmetric `n × n` matrix, by the cyclic Jacobi
/// method: rotate away the largest off-diagonal entries until the matrix is diagonal.
///
/// Returns eigenvalues in decreasing order and the eigenvectors as rows (`vecs[k*n..]` is
/// the unit vector of eigenvalue `k`). A matrix with a NaN or infinite entry gives NaN
/// eigenvalues.
///
/// # Examples
///
/// ```
/// use gradsheet_diagnose::hessian::symmetric_eigen;
/// let (vals, vecs) = symmetric_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
/// assert!((vals[0] - 3.0).abs() < 1e-12 && (vals[1] - 1.0).abs() < 1e-12);
/// assert!((vecs[0].abs() - 0.5f64.sqrt()).abs() < 1e-12);
/// ```
pub fn symmetric_eigen(m: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    if m.iter().take(n * n).any(|v| !v.is_finite()) {
        return (vec![f64::NAN; n], vec![f64::NAN; n * n]);
    }
    let mut a = m[..n * n].to_vec();
    // v holds the accumulated rotations; its columns become the eigenvectors.
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum::<f64>()
            .sqrt();
        if off <= 1e-15 * scale || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                // The rotation angle that zeroes a[p][q]: tan(2θ) = 2a_pq / (a_qq − a_pp),
                // with t = tan θ taken as the smaller root for stability.
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[j * n + j].total_cmp(&a[i * n + i]));
    let vals = order.iter().map(|&i| a[i * n + i]).collect();
    let mut vecs = vec![0.0; n * n];
    for (k, &i) in order.iter().enumerate() {
        for r in 0..n {
            vecs[k * n + r] = v[r * n + i];
        }
    }
    (vals, vecs)
}

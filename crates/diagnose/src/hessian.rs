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

pub use gradsheet_engine::linalg::symmetric_eigen;

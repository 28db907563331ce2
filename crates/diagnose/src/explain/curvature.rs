//! Curvature: the Hessian of a step's error averaged over its rows, its eigenvalues, and
//! the stability bound of every data row.

use gradsheet_train::{TrainConfig, Trainer};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{RowBound, StepCurvature};
use crate::hessian::{symmetric_eigen, HessianModel};

/// The rows of every step of a run, replaying its order (and shuffle).
pub(super) fn step_rows(n: usize, cfg: &TrainConfig, steps: usize) -> Vec<Vec<u32>> {
    let batch = cfg.batch_rows(n);
    let per_epoch = cfg.steps_per_epoch(n);
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut rng = cfg.shuffle.map(ChaCha8Rng::seed_from_u64);
    let mut out = Vec::with_capacity(steps);
    while out.len() < steps {
        if let Some(r) = rng.as_mut() {
            gradsheet_train::rng::shuffle(r, &mut order);
        }
        for b in 0..per_epoch {
            if out.len() == steps {
                break;
            }
            out.push(order[b * batch..((b + 1) * batch).min(n)].to_vec());
        }
    }
    out
}

/// Evaluates a mean Hessian over `rows` and its eigen-decomposition.
pub(super) struct Curv<'a> {
    h: HessianModel,
    trainer: &'a Trainer,
    ws: gradsheet_engine::Workspace,
    g: Vec<f64>,
    hs: Vec<f64>,
    acc: Vec<f64>,
}

impl<'a> Curv<'a> {
    pub(super) fn new(trainer: &'a Trainer) -> Curv<'a> {
        let h = HessianModel::new(&trainer.model);
        let n = h.n_params();
        Curv {
            ws: h.workspace(),
            h,
            trainer,
            g: vec![0.0; n],
            hs: vec![0.0; n * n],
            acc: vec![0.0; n * n],
        }
    }

    pub(super) fn eigen(&mut self, rows: &[u32], params: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let n = self.h.n_params();
        if n == 0 {
            return (vec![0.0], Vec::new());
        }
        self.acc.iter_mut().for_each(|v| *v = 0.0);
        for &r in rows {
            self.h.eval(
                &mut self.ws,
                self.trainer.row(r as usize),
                params,
                &mut self.g,
                &mut self.hs,
            );
            for (a, h) in self.acc.iter_mut().zip(&self.hs) {
                *a += h;
            }
        }
        let m = rows.len().max(1) as f64;
        self.acc.iter_mut().for_each(|v| *v /= m);
        let (vals, vecs) = symmetric_eigen(&self.acc, n);
        (vals, vecs[..n].to_vec())
    }
}

/// The bound of every data row at `params`; `(k, limit)` as [`super::stability`].
pub(super) fn row_bounds(
    trainer: &Trainer,
    params: &[f64],
    curv: &mut Curv,
    (k, limit): (f64, f64),
) -> Vec<RowBound> {
    (0..trainer.n_rows)
        .map(|r| {
            let (vals, _) = curv.eigen(&[r as u32], params);
            RowBound {
                row: r,
                inputs: trainer.row(r).to_vec(),
                lambda_max: vals[0],
                max_lr: limit / (k * vals[0]),
            }
        })
        .collect()
}

/// The curvature of step `i` (0-based) of `trace`, whose rows are `rows`.
pub(super) fn at_step(
    curv: &mut Curv,
    trace: &gradsheet_train::Trace,
    i: usize,
    rows: &[u32],
    k: f64,
) -> StepCurvature {
    let s = trace.step(i);
    let (vals, dir) = curv.eigen(rows, s.params);
    StepCurvature {
        step: s.step,
        epoch: s.epoch,
        row: s.row,
        inputs: s.inputs.to_vec(),
        params: s.params.to_vec(),
        error: s.error,
        lr_lambda: k * s.lr * vals[0],
        eigenvalues: vals,
        direction: dir,
    }
}

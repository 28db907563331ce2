//! The collapse of a reparametrised model: its effective slopes and intercept along the
//! run, and the curvature at a fit for the model and for the simple model it collapses to.

use gradsheet_engine::{Model, Roles};
use gradsheet_train::{Trace, Trainer};

use super::curvature::Curv;
use super::{Collapse, FitCurvature, Remedy, RemedyKind};
use crate::collapse::{linear_form, units, with_units, Linear};
use crate::hessian::{symmetric_eigen, HessianModel};

/// The collapse of the model (with every unit on, for a model with units), when it is a
/// reparametrisation: effective parameters at the start and along the first `max_steps`
/// steps, and the curvature at the closest fit a verified remedy reaches.
pub(super) fn collapse(
    trainer: &Trainer,
    init: &[f64],
    trace: &Trace,
    max_steps: usize,
    remedies: &[Remedy],
    curv: &mut Curv,
) -> Option<Collapse> {
    let model = &trainer.model;
    let on_pred = with_units(&model.prediction, true);
    let linear = linear_form(model, &on_pred).filter(|l| l.reparametrised)?;
    let at_init = linear.values(model, init);
    let along = trace
        .steps()
        .take(max_steps)
        .map(|s| {
            let (sl, t) = linear.values(model, s.params);
            (s.step, sl, t)
        })
        .collect();
    let fit = remedies
        .iter()
        .filter(|r| !matches!(r.kind, RemedyKind::RescaleInputs { .. }))
        .min_by(|a, b| a.verdict.final_error.total_cmp(&b.verdict.final_error));
    let at_fit = fit.and_then(|r| {
        fit_curvature(
            trainer,
            &linear,
            &r.verdict.final_params,
            r.verdict.final_error,
            curv,
        )
    });
    Some(Collapse {
        linear,
        while_units_on: !units(&model.prediction).is_empty(),
        at_init,
        along,
        at_fit,
    })
}

fn fit_curvature(
    trainer: &Trainer,
    linear: &Linear,
    params: &[f64],
    error: f64,
    curv: &mut Curv,
) -> Option<FitCurvature> {
    let model = &trainer.model;
    // The row with the largest inputs (by squared norm) has the largest curvature.
    let idx: Vec<usize> = linear
        .inputs
        .iter()
        .filter_map(|x| model.columns.iter().position(|c| c == x))
        .collect();
    let norm = |r: usize| idx.iter().map(|&j| trainer.row(r)[j].powi(2)).sum::<f64>();
    let row = (0..trainer.n_rows).max_by(|&a, &b| norm(a).total_cmp(&norm(b)))?;
    let (vals, _) = curv.eigen(&[row as u32], params);
    let effective = linear.values(model, params);
    let roles = Roles::with_columns(&model.columns);
    let simple = Model::new(&linear.simple_formula(), &model.loss_src, &roles).ok()?;
    let hs = HessianModel::new(&simple);
    let mut ws = hs.workspace();
    let n = hs.n_params();
    let (mut g, mut h) = (vec![0.0; n], vec![0.0; n * n]);
    // The simple model's parameters are named w_x..., w0: fill them by name.
    let sp: Vec<f64> = simple
        .params
        .iter()
        .map(|p| match p.strip_prefix("w_") {
            Some(x) => linear
                .inputs
                .iter()
                .position(|i| i == x)
                .map(|i| effective.0[i])
                .unwrap_or(0.0),
            None => effective.1,
        })
        .collect();
    let simple_row: Vec<f64> = simple
        .columns
        .iter()
        .map(|c| {
            model
                .columns
                .iter()
                .position(|m| m == c)
                .map(|j| trainer.row(row)[j])
                .unwrap_or(0.0)
        })
        .collect();
    hs.eval(&mut ws, &simple_row, &sp, &mut g, &mut h);
    let (sv, _) = symmetric_eigen(&h, n);
    Some(FitCurvature {
        row,
        inputs: trainer.row(row).to_vec(),
        params: params.to_vec(),
        effective,
        error,
        lambda_model: vals[0],
        lambda_simple: sv[0],
    })
}

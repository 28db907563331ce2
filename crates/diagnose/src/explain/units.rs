//! What the ReLU units of a model did: their on/off histories, the step that switched
//! each off for good, the same run without them, and what is left learning.

use gradsheet_engine::{Dataset, Expr, Model, Roles};
use gradsheet_train::{Hooks, Record, Trace, TrainConfig, TrainError, Trainer};

use super::curvature::Curv;
use super::{stability, KillingStep, OnSpan, StepCurvature, UnitStory, UnitsReport};
use crate::collapse::{linear_form, unit_histories, units, with_units, UnitHistory};
use crate::sweep::judge;

/// Whether the model's prediction has MAX or RELU units.
pub(super) fn has_units(model: &Model) -> bool {
    !units(&model.prediction).is_empty()
}

/// The units' report. `cfgs` are the run's configuration and its verification horizon;
/// `growth` the divergence's growing steps, if it diverged.
pub(super) fn report(
    trainer: &Trainer,
    init: &[f64],
    (cfg, vcfg): (&TrainConfig, &TrainConfig),
    trace: &Trace,
    growth: &[StepCurvature],
    curv: &mut Curv,
) -> Result<UnitsReport, TrainError> {
    let model = &trainer.model;
    let histories = unit_histories(model, &trainer.rows, trace, init);
    let (k, _, _) = stability(&cfg.optimizer);
    let stories = histories
        .iter()
        .map(|h| UnitStory {
            first_epoch: first_epoch_spans(trace, h),
            killed_by: killing_step(trace, h, growth, curv, k),
        })
        .collect();
    let data = Dataset::new(model.columns.clone(), trainer.rows.clone());
    let off = gradsheet_engine::simplify(&with_units(&model.prediction, false));
    let live_curvature = histories
        .iter()
        .find_map(|h| h.dead_from)
        .and_then(|_| live_curvature(trainer, trace, curv, k));
    Ok(UnitsReport {
        twin: twin(model, &data, init, cfg)?,
        best_when_off: best_when_off(trainer, &off),
        off_prediction: off.to_string(),
        simple_error: simple_error(model, &data, vcfg),
        live_curvature,
        histories,
        stories,
    })
}

/// The first epoch's steps cut where the count of rows the unit is on changes.
fn first_epoch_spans(trace: &Trace, h: &UnitHistory) -> Vec<OnSpan> {
    let mut spans: Vec<OnSpan> = Vec::new();
    for (st, &c) in trace.steps().zip(&h.rows_on) {
        if st.epoch != 1 {
            break;
        }
        match spans.last_mut() {
            Some(s) if s.rows_on == c => s.to = st.step,
            _ => spans.push(OnSpan {
                from: st.step,
                to: st.step,
                rows_on: c,
            }),
        }
    }
    spans
}

/// The step before the unit died for good, with its curvature: taken from the
/// divergence's growing steps when it is one of them, else computed on its own row.
fn killing_step(
    trace: &Trace,
    h: &UnitHistory,
    growth: &[StepCurvature],
    curv: &mut Curv,
    k: f64,
) -> Option<KillingStep> {
    let dead = h.dead_from.filter(|&d| d >= 2)?;
    let (p, st) = (trace.step(dead - 2), trace.step(dead - 1));
    let grown = growth.iter().find(|g| g.step == p.step);
    let lr_lambda = match grown {
        Some(c) => c.lr_lambda,
        None => k * p.lr * curv.eigen(&[p.row as u32], p.params).0[0],
    };
    Some(KillingStep {
        step: p.step,
        inputs: p.inputs.to_vec(),
        before: p.params.to_vec(),
        after: st.params.to_vec(),
        lr_lambda,
        in_growth: grown.is_some(),
    })
}

/// The model with every unit on (`None` when its parameters differ), and the step where
/// the same run of it diverges.
fn twin(
    model: &Model,
    data: &Dataset,
    init: &[f64],
    cfg: &TrainConfig,
) -> Result<Option<(String, Option<usize>)>, TrainError> {
    let roles = Roles {
        data: model.columns.clone(),
        constants: model.constants.clone(),
        params: model.params.clone(),
    };
    let on_src = with_units(&model.prediction, true).to_string();
    match Model::new(&on_src, &model.loss_src, &roles) {
        Ok(m) if m.params == model.params => {
            let t = Trainer::new(&m, data)?;
            let mut c = cfg.clone();
            c.record = Record::Final;
            let tr = t.run(init, &c, &mut Hooks::none())?;
            Ok(Some((on_src, tr.first_bad_step())))
        }
        _ => Ok(None),
    }
}

/// For a prediction that is one parameter with every unit off, under a squared loss:
/// the variance of the target, the best mean error a constant reaches.
fn best_when_off(trainer: &Trainer, off: &Expr) -> Option<f64> {
    let model = &trainer.model;
    let target: Vec<usize> = (0..model.columns.len())
        .filter(|&j| !model.prediction.mentions(&model.columns[j]))
        .collect();
    match (off, target.as_slice()) {
        (Expr::Var(p), [j]) if model.params.contains(p) && model.loss_src == "(pred-y)^2" => {
            let ys: Vec<f64> = (0..trainer.n_rows).map(|r| trainer.row(r)[*j]).collect();
            let mean = ys.iter().sum::<f64>() / ys.len() as f64;
            Some(ys.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / ys.len() as f64)
        }
        _ => None,
    }
}

/// The mean error of the one-neuron model the unit-free prediction collapses to, after
/// the verification run.
fn simple_error(model: &Model, data: &Dataset, vcfg: &TrainConfig) -> Option<f64> {
    let lin = linear_form(model, &with_units(&model.prediction, true))?;
    let m = Model::new(
        &lin.simple_formula(),
        &model.loss_src,
        &Roles::with_columns(&model.columns),
    )
    .ok()?;
    let t = Trainer::new(&m, data).ok()?;
    let v = judge(&t, &vec![1.0; m.params.len()], vcfg).ok()?;
    Some(v.final_error)
}

/// λ of what still learns on the last step, and the half-life (in epochs) of its
/// distance to its optimum at this lr: `|1 − k·lr·λ|` per step, `n` steps per epoch.
fn live_curvature(trainer: &Trainer, trace: &Trace, curv: &mut Curv, k: f64) -> Option<(f64, f64)> {
    let s = trace.step(trace.len().checked_sub(1)?);
    let (vals, _) = curv.eigen(&[s.row as u32], s.params);
    let shrink = (1.0 - k * s.lr * vals[0]).abs();
    let half_life = if shrink < 1.0 && shrink > 0.0 {
        std::f64::consts::LN_2 / (-(shrink.ln()) * trainer.n_rows as f64)
    } else {
        f64::NAN
    };
    Some((vals[0], half_life))
}

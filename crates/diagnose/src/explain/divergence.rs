//! Where a run diverged: the curvature of every step up to the bad one, the onset of the
//! unstable stretch that ends in it, and a division by a zero optimizer state.

use gradsheet_train::{Optimizer, StepView, Stop, Trace, TrainConfig, Trainer};

use super::curvature::{self, step_rows, Curv};
use super::{words, Divergence, StepCurvature, ZeroState, ZeroStateRule};

/// The divergence of `trace`, if it diverged: every step up to the bad one (at most
/// `analysed`) gets its curvature; `(k, limit)` as [`super::stability`].
pub(super) fn analyse(
    trainer: &Trainer,
    cfg: &TrainConfig,
    trace: &Trace,
    analysed: usize,
    curv: &mut Curv,
    (k, limit): (f64, f64),
) -> Option<Divergence> {
    let Stop::Diverged { step, row, reason } = &trace.stop else {
        return None;
    };
    let rows = step_rows(trainer.n_rows, cfg, analysed);
    let bad = (*step).min(analysed);
    let all: Vec<StepCurvature> = (0..bad)
        .map(|i| curvature::at_step(curv, trace, i, &rows[i], k))
        .collect();
    let unstable = |c: &StepCurvature| c.lr_lambda > limit;
    let first_unstable = all.iter().find(|c| unstable(c)).cloned();
    // The onset: walk back from the bad step (or the last unstable step before it) while
    // the steps stay unstable.
    let onset_idx = all.iter().rposition(unstable).map(|mut i| {
        while i > 0 && unstable(&all[i - 1]) {
            i -= 1;
        }
        i
    });
    let growth = match onset_idx {
        Some(i) => all[i.saturating_sub(1)..].to_vec(),
        None => all[all.len().saturating_sub(4)..].to_vec(),
    };
    let unstable_steps = all[..all.len().saturating_sub(1)]
        .iter()
        .filter(|c| unstable(c))
        .count();
    let at = trace.step(step - 1);
    let zero_state = zero_state(&cfg.optimizer, trace, &trainer.model.params, *step);
    Some(Divergence {
        cause: zero_state.as_ref().map(words::zero_state),
        zero_state,
        step: *step,
        row: *row,
        epoch: at.epoch,
        inputs: at.inputs.to_vec(),
        reason: reason.to_string(),
        finite_steps: step - 1,
        first_unstable,
        onset: onset_idx.map(|i| all[i].clone()),
        growth,
        unstable_steps,
    })
}

/// Whether step `step` (1-based) made a parameter infinite or NaN by dividing by a state
/// of exactly zero (see [`zero_divisor`]).
pub(super) fn zero_state(
    opt: &Optimizer,
    trace: &Trace,
    names: &[String],
    step: usize,
) -> Option<ZeroState> {
    if step == 0 || step > trace.len() {
        return None;
    }
    let before = (step >= 2).then(|| trace.step(step - 2));
    zero_state_at(opt, &trace.step(step - 1), before.as_ref(), names, step)
}

/// [`zero_state`] from the bad step itself and the one before it (if any), for a run that
/// did not keep its steps.
fn zero_state_at(
    opt: &Optimizer,
    bad: &StepView<'_>,
    previous: Option<&StepView<'_>>,
    names: &[String],
    step: usize,
) -> Option<ZeroState> {
    let n = names.len();
    let i = (0..n).find(|&i| {
        !bad.new_params[i].is_finite() && bad.params[i].is_finite() && bad.grads[i].is_finite()
    })?;
    let rule = match opt {
        Optimizer::Rmsprop { .. } => {
            let before = previous.map_or(0.0, |p| p.state[i]);
            (before == 0.0).then_some(ZeroStateRule::Rmsprop)
        }
        Optimizer::Adam { .. } => (bad.state[n + i] == 0.0).then_some(ZeroStateRule::Adam),
        _ => None,
    }?;
    Some(ZeroState {
        step,
        param: names[i].clone(),
        rule,
    })
}

/// Why a step's update was infinite or NaN, in words, when the cause is a division by a
/// state of exactly zero, not the step size: the workbook rules have no ε. `step` is
/// 1-based; the state before step 1 is the optimizer's initial zeros.
///
/// - RMSProp divides by `√s` *before* the step adds `g²` to `s`, so its first step
///   divides by `√0` whatever the learning rate.
/// - Adam divides by `√s` after adding `(1-β2)·g²`: zero while the parameter's gradient
///   has been exactly zero at every step (a dead unit), and `m·lr/√0` is `0/0`.
pub fn zero_divisor(
    opt: &Optimizer,
    trace: &Trace,
    names: &[String],
    step: usize,
) -> Option<String> {
    zero_state(opt, trace, names, step)
        .as_ref()
        .map(words::zero_state)
}

/// [`zero_divisor`] from the bad step itself and the one before it (if any), for a run
/// that did not keep its steps (the streaming command line).
pub fn zero_divisor_at(
    opt: &Optimizer,
    bad: &StepView<'_>,
    previous: Option<&StepView<'_>>,
    names: &[String],
    step: usize,
) -> Option<String> {
    zero_state_at(opt, bad, previous, names, step)
        .as_ref()
        .map(words::zero_state)
}

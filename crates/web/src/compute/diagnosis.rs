//! The diagnosis of a run that went wrong (it diverged, a unit died, it ended worse than
//! it started or stalled) or whose parameters collapse: gradsheet-diagnose's findings in
//! plain words first, its remedies as settings the page applies, then its sections with
//! the numbers.

use std::collections::BTreeMap;

use gradsheet_diagnose::explain::{explain, Diagnosis, ExplainOptions, RemedyKind};
use gradsheet_diagnose::summary::{findings, optimizer_name, remedy_label, FindingKind};
use gradsheet_train::{Stop, Trace, TrainConfig, Trainer};

use crate::dto::*;
use crate::work::Deadline;

/// Steps of a run that did not diverge up to which it is analysed on every request: the
/// analysis evaluates the Hessian at each step and re-runs the remedies, so a slider's
/// requests stay in milliseconds (the graddesc lab's default run is 2,900 steps).
const ANALYSED_STEPS: usize = 20_000;

/// The diagnosis of a run, when there is something to say; for a diverged run always
/// (the stop reason alone when the analysis cannot run).
pub(super) fn diagnosis(
    trainer: &Trainer,
    init: &[f64],
    cfg: &TrainConfig,
    trace: &Trace,
    stop: &StopOut,
    dl: &Deadline,
) -> Option<DiagnosisOut> {
    let diverged = matches!(trace.stop, Stop::Diverged { .. });
    let cheap = super::second_derivatives_are_cheap(&trainer.model);
    if !diverged && (!cheap || trace.steps_taken > ANALYSED_STEPS || dl.passed()) {
        return None;
    }
    let headline = match (stop.step, stop.epoch) {
        (Some(step), Some(epoch)) if diverged => {
            format!("The run diverged at step {step} (epoch {epoch}).")
        }
        _ => format!("The run completed its {} steps.", trace.steps_taken),
    };
    // The analysis evaluates the Hessian at every step up to the bad one and verifies each
    // remedy by re-running (a bisection is a dozen re-runs): bound both so that a request's
    // work stays within the same order as the run's.
    let verify = (200_000 / trainer.n_rows.max(1))
        .clamp(1, 100)
        .min(cfg.epochs.max(1));
    let opts = ExplainOptions {
        verify_epochs: verify,
        max_steps: ANALYSED_STEPS,
        remedies: true,
    };
    let analysis = if cheap {
        explain(trainer, init, cfg, &opts).ok()
    } else {
        None
    };
    match analysis {
        Some(d) => {
            let found = findings(&d, &trainer.model);
            if found.is_empty() && !diverged {
                return None;
            }
            let kind = found.first().map_or(FindingKind::Diverged, |f| f.kind);
            let mut summary: Vec<String> = found.into_iter().map(|f| f.sentence).collect();
            if summary.is_empty() {
                summary.push(headline.clone());
            }
            Some(DiagnosisOut {
                kind: kind_name(kind).into(),
                summary,
                headline,
                remedies: remedies(&d),
                sections: d
                    .sections
                    .into_iter()
                    .map(|(title, lines)| SectionOut { title, lines })
                    .collect(),
                source: "diagnose".into(),
            })
        }
        None if diverged => Some(DiagnosisOut {
            kind: "diverged".into(),
            summary: vec![format!(
                "The run blew up at step {}: {}.",
                stop.step.unwrap_or(0),
                stop.reason
                    .as_deref()
                    .unwrap_or("a value stopped being finite")
                    .trim_end_matches('.')
            )],
            headline,
            remedies: Vec::new(),
            sections: vec![SectionOut {
                title: "What happened".into(),
                lines: vec![if cheap {
                    "the detailed analysis could not run for this model".into()
                } else {
                    "the detailed analysis (curvature, stability bound, remedies) is skipped for a formula this large; \
                     `gradsheet explain` runs it"
                        .into()
                }],
            }],
            source: "trace".into(),
        }),
        None => None,
    }
}

fn kind_name(k: FindingKind) -> &'static str {
    match k {
        FindingKind::Diverged => "diverged",
        FindingKind::DeadUnit => "dead_unit",
        FindingKind::WorseThanStart => "worse_than_start",
        FindingKind::Stalled => "stalled",
        FindingKind::Collapse => "collapse",
    }
}

/// Each verified remedy: its sentence, and the settings that apply it (none for a change
/// of the data, which the page cannot make).
fn remedies(d: &Diagnosis) -> Vec<RemedyOut> {
    d.remedies
        .iter()
        .map(|r| {
            let mut apply = ApplyOut::default();
            match &r.kind {
                RemedyKind::LearningRate { lr, .. } => apply.lr = Some(*lr),
                RemedyKind::Init { values } => {
                    apply.init = values.iter().cloned().collect::<BTreeMap<_, _>>()
                }
                RemedyKind::Optimizer { optimizer, lr } => {
                    apply.optimizer = Some(optimizer_name(optimizer).to_string());
                    apply.lr = Some(*lr);
                }
                RemedyKind::RescaleInputs { .. } => {}
            }
            RemedyOut {
                label: remedy_label(r),
                text: r.text.clone(),
                apply,
            }
        })
        .collect()
}

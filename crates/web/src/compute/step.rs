//! `/api/step`: one step of a run as formulas with its numbers filled in: the prediction,
//! the error, each derivative and the update, each as its formula, the same formula with
//! the step's values in place of the names, and the value the run computed.

use std::time::Instant;

use gradsheet_diagnose::fmt::sig;
use gradsheet_engine::{Expr, Notation};
use gradsheet_train::{Record, StepView};

use super::train::Prepared;
use super::{group, train_until};
use crate::dto::*;
use crate::work::{Deadline, Lane, Work};
use crate::{ApiError, Limits};

impl Work for StepSpec {
    fn lane(&self, l: &Limits) -> Lane {
        self.run.lane(l)
    }
}

/// Significant digits of the numbers put into a formula: as a spreadsheet column shows them.
const DIGITS: usize = 7;

/// A number as it goes into a formula: rounded as a person reads it, in parentheses when
/// negative (so that `a·x` with a = −3 reads `(−3)·14`).
fn filled(v: f64) -> String {
    let s = sig(v, DIGITS).replace('-', "−");
    if v < 0.0 {
        format!("({s})")
    } else {
        s
    }
}

/// A line of the answer: `name = formula = formula with numbers = value`.
fn line(name: String, e: &Expr, value: f64, env: &dyn Fn(&str) -> Option<f64>) -> FormulaLine {
    FormulaLine {
        name,
        formula: e.to_math(),
        filled: Some(e.render(Notation::Math, &|n: &str| {
            env(n).map(filled).unwrap_or_else(|| n.to_string())
        })),
        value: Num(value),
        note: None,
    }
}

/// The answer of `/api/step`.
pub fn step(spec: &StepSpec, lim: &Limits, dl: &Deadline) -> Result<StepOut, ApiError> {
    let t0 = Instant::now();
    let p = Prepared::new(&spec.run, lim)?;
    if p.cfg.batch_size != 1 {
        return Err(ApiError::bad(
            "a step's formulas are shown for runs of one row per step (batch 1)",
            "batch",
        ));
    }
    if spec.step == 0 || spec.step > p.total {
        return Err(ApiError::bad(
            format!(
                "step {} is not in the run: its steps are 1 to {}",
                spec.step,
                group(p.total)
            ),
            "step",
        ));
    }
    // Runs are deterministic: the run up to the end of the step's epoch holds the step.
    let epoch = (spec.step - 1) / p.steps_per_epoch + 1;
    let mut cfg = p.cfg.clone();
    cfg.epochs = epoch;
    cfg.record = Record::Steps;
    let trace = train_until(&p.trainer, &p.init, &cfg, dl)?;
    if spec.step > trace.len() {
        return Err(ApiError::bad(
            format!(
                "the run stopped at step {} ({}), before step {}",
                trace.len(),
                match &trace.stop {
                    gradsheet_train::Stop::Diverged { reason, .. } => reason.to_string(),
                    _ => "interrupted".to_string(),
                },
                spec.step
            ),
            "step",
        ));
    }
    let s = trace.step(spec.step - 1);
    let m = &p.trainer.model;
    let sections = vec![model_lines(m, &s), derivative_lines(m, &s)];
    Ok(StepOut {
        step: s.step,
        epoch: s.epoch,
        row: s.row + 1,
        inputs: m
            .columns
            .iter()
            .zip(s.inputs)
            .map(|(c, v)| (c.clone(), Num(*v)))
            .collect(),
        sections,
        compute_ms: t0.elapsed().as_secs_f64() * 1e3,
    })
}

/// The names of a step's row and parameters (before the update), with their values.
fn env<'a>(
    m: &'a gradsheet_engine::Model,
    s: &'a StepView<'_>,
) -> impl Fn(&str) -> Option<f64> + 'a {
    let (inputs, params) = (s.inputs.to_vec(), s.params.to_vec());
    move |name: &str| {
        m.columns
            .iter()
            .position(|c| c == name)
            .map(|j| inputs[j])
            .or_else(|| m.params.iter().position(|p| p == name).map(|j| params[j]))
            .or_else(|| m.constants.iter().find(|(c, _)| c == name).map(|(_, v)| *v))
    }
}

/// The prediction and the error of the step's row.
fn model_lines(m: &gradsheet_engine::Model, s: &StepView<'_>) -> FormulaSection {
    let env = env(m, s);
    FormulaSection {
        title: "the prediction and the error of this row".into(),
        lines: vec![
            line("pred".into(), &m.prediction, s.pred, &env),
            line("e".into(), &m.error, s.error, &env),
        ],
    }
}

/// Each parameter's derivative of the row's error, at the parameters before the update.
fn derivative_lines(m: &gradsheet_engine::Model, s: &StepView<'_>) -> FormulaSection {
    let env = env(m, s);
    FormulaSection {
        title: "the derivatives (at the parameters before the update)".into(),
        lines: m
            .params
            .iter()
            .zip(s.grads)
            .map(|(p, g)| line(format!("∂e/∂{p}"), &m.derivative(p), *g, &env))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn run(spec: &StepSpec) -> Result<StepOut, ApiError> {
        step(
            spec,
            &Limits::default(),
            &Deadline::after(Duration::from_secs(60)),
        )
    }

    fn graddesc(step: usize) -> StepSpec {
        StepSpec {
            run: TrainSpec {
                model: "b+a*x".into(),
                epochs: 3,
                hyper: HyperSpec::default().with("lr", 1e-4),
                ..TrainSpec::default()
            },
            step,
        }
    }

    #[test]
    fn the_first_step_of_the_basic_sheet() {
        let d = run(&graddesc(1)).unwrap();
        assert_eq!((d.step, d.epoch, d.row), (1, 1, 1));
        assert_eq!(
            d.inputs,
            vec![("x".into(), Num(14.0)), ("y".into(), Num(58.0))]
        );
        let l = &d.sections[0].lines;
        assert_eq!(l[0].formula, "b + a·x");
        assert_eq!(l[0].filled.as_deref(), Some("1 + 1·14"));
        assert_eq!(l[0].value, Num(15.0));
        assert_eq!(l[1].filled.as_deref(), Some("(1 + 1·14 − 58)²"));
        assert_eq!(l[1].value, Num(1849.0));
        let g = &d.sections[1].lines;
        assert_eq!(g[0].name, "∂e/∂b");
        assert_eq!(g[0].value, Num(-86.0));
        assert_eq!(g[1].name, "∂e/∂a");
        assert_eq!(g[1].value, Num(-1204.0));
    }

    #[test]
    fn a_later_step_reads_its_own_row_and_parameters() {
        // Step 31 is epoch 2's second step: row 2 (x = 86), parameters after 30 updates.
        let d = run(&graddesc(31)).unwrap();
        assert_eq!((d.epoch, d.row), (2, 2));
        assert_eq!(d.inputs[0], ("x".into(), Num(86.0)));
    }

    #[test]
    fn steps_outside_the_run_are_refused_by_name() {
        for n in [0, 88] {
            assert_eq!(
                run(&graddesc(n)).unwrap_err().body.field.as_deref(),
                Some("step")
            );
        }
    }
}

//! What a diagnosis found, in plain words first: one sentence per finding, of the kind a
//! teacher says before showing any number ("row x = 99 is too steep for this learning
//! rate: every step there overshoots"), then the remedies as changes a page can apply.
//! The analysis behind them (curvatures, bounds, unit histories, re-runs) is
//! [`crate::explain::Diagnosis`]; its sections say the same with the numbers.
//!
//! A run gets findings when it diverged, when a ReLU unit died (off on every row to the
//! end), when it ended worse than it started, when it stalled (stable, but its error did
//! not fall tenfold), and when its parameters collapse to fewer numbers (a model such as
//! `c*(a*x+b)+d`, whose four parameters act as a slope and an intercept).

use gradsheet_engine::Model;
use gradsheet_train::Stop;

use crate::explain::{Diagnosis, Remedy, RemedyKind};
use crate::fmt::sig;
use crate::sweep::Class;

/// What a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FindingKind {
    /// The run blew up.
    Diverged,
    /// A ReLU unit is off on every row until the end: its parameters stopped learning.
    DeadUnit,
    /// The mean error ended higher than it started.
    WorseThanStart,
    /// Stable, but the error did not fall tenfold.
    Stalled,
    /// The parameters act through fewer numbers than there are parameters.
    Collapse,
}

impl FindingKind {
    /// Whether the finding is a failure of the run (the others inform).
    pub fn is_failure(self) -> bool {
        !matches!(self, FindingKind::Collapse)
    }
}

/// One finding in plain words.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// What it is about.
    pub kind: FindingKind,
    /// What happened, in a sentence without symbols a learner has not met yet.
    pub sentence: String,
}

/// The findings of a diagnosis, most important first: the divergence or the dead unit
/// (what happened), then what it did to the error, then the collapse (why it matters).
/// Empty when the run went well and the model does not collapse.
///
/// # Examples
///
/// ```
/// use gradsheet_engine::{Dataset, Model, Roles};
/// use gradsheet_train::{Optimizer, TrainConfig, Trainer};
/// use gradsheet_diagnose::explain::{explain, ExplainOptions};
/// use gradsheet_diagnose::summary::{findings, FindingKind};
///
/// let model = Model::new("c*(a*x+b)+d", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
/// let trainer = Trainer::new(&model, &Dataset::graddesc()).unwrap();
/// let cfg = TrainConfig::new(Optimizer::sgd(1e-4), 1);
/// let opts = ExplainOptions { remedies: false, ..ExplainOptions::default() };
/// let d = explain(&trainer, &[1.0; 4], &cfg, &opts).unwrap();
/// let f = findings(&d, &model);
/// assert_eq!(f[0].kind, FindingKind::Diverged);
/// assert!(f[0].sentence.starts_with("Row x = 99 is too steep for this learning rate"));
/// ```
pub fn findings(d: &Diagnosis, model: &Model) -> Vec<Finding> {
    let mut out = Vec::new();
    let row = |inputs: &[f64]| describe_row(model, inputs);
    if let Stop::Diverged { step, reason, .. } = &d.stop {
        out.push(Finding {
            kind: FindingKind::Diverged,
            sentence: diverged(d, *step, &reason.to_string(), &row),
        });
    }
    if let Some(u) = &d.units {
        for h in &u.histories {
            let Some(from) = h.dead_from else { continue };
            let unit = pretty(&h.unit);
            let frozen = list(&h.frozen);
            let still = if h.learning.is_empty() {
                "nothing learns any more".to_string()
            } else {
                format!(
                    "only {} still {}",
                    list(&h.learning),
                    verb(h.learning.len(), "learns", "learn")
                )
            };
            out.push(Finding {
                kind: FindingKind::DeadUnit,
                sentence: format!(
                    "The unit {unit} is off on every row from step {from} on: {frozen} get no gradient through it and stop learning, and {still}."
                ),
            });
        }
    }
    let v = &d.verdict;
    if !matches!(d.stop, Stop::Diverged { .. }) {
        if v.final_error > v.initial_error {
            out.push(Finding {
                kind: FindingKind::WorseThanStart,
                sentence: format!(
                    "The mean error ended worse than it started: {} → {} after {} epochs.",
                    sig(v.initial_error, 4),
                    sig(v.final_error, 4),
                    d.verify_epochs
                ),
            });
        } else if v.class == Class::Slow {
            out.push(Finding {
                kind: FindingKind::Stalled,
                sentence: format!(
                    "The run stalls: after {} epochs the mean error has fallen only from {} to {}, not even tenfold.",
                    d.verify_epochs,
                    sig(v.initial_error, 4),
                    sig(v.final_error, 4)
                ),
            });
        }
    }
    if let Some(c) = &d.collapse {
        let n = d.params.len();
        let k = c.linear.slopes.len() + 1;
        if c.linear.reparametrised && n > k {
            let slopes: Vec<String> = c
                .linear
                .inputs
                .iter()
                .zip(&c.linear.slopes)
                .map(|(x, s)| format!("{} for {x}", s.to_math()))
                .collect();
            out.push(Finding {
                kind: FindingKind::Collapse,
                sentence: format!(
                    "{}{} is a straight line: its {n} parameters only ever act as {k} numbers, the slope {} and the intercept {}, so the extra ones add curvature but no power.",
                    if c.while_units_on { "While its unit is on, " } else { "" },
                    pretty(&d.model),
                    slopes.join(", "),
                    c.linear.intercept.to_math()
                ),
            });
        }
    }
    out
}

/// The divergence in plain words: the steepest row's overshoot when a row is past the
/// stability bound, else the cause found, else the stop reason.
fn diverged(d: &Diagnosis, step: usize, reason: &str, row: &dyn Fn(&[f64]) -> String) -> String {
    let div = d.divergence.as_ref();
    if let Some(cause) = div.and_then(|v| v.cause.as_ref()) {
        return format!("{}.", capital(cause.trim_end_matches('.')));
    }
    // The steepest row at the start, if it is past the bound: the row a learner can see.
    let steep = d
        .at_init
        .iter()
        .filter(|r| r.max_lr.is_finite() && d.lr > r.max_lr)
        .min_by(|a, b| a.max_lr.total_cmp(&b.max_lr));
    let onset = div.and_then(|v| v.onset.as_ref().or(v.first_unstable.as_ref()));
    match (steep, onset) {
        (Some(r), _) if d.bound_applies => format!(
            "{} is too steep for this learning rate: every step there overshoots, each overshoot is bigger than the last, and at step {step} the numbers blow up.",
            capital(&row(&r.inputs))
        ),
        (None, Some(o)) if d.bound_applies => format!(
            "From step {}, {} is too steep for the parameters the run has reached: every step there overshoots, and at step {step} the numbers blow up.",
            o.step,
            row(&o.inputs)
        ),
        _ => format!("The run blew up at step {step}: {}.", reason.trim_end_matches('.')),
    }
}

/// A row as a learner names it: its input values (`row x = 99`), the target left out.
fn describe_row(model: &Model, inputs: &[f64]) -> String {
    let used = model.prediction.names();
    let vals: Vec<String> = model
        .columns
        .iter()
        .zip(inputs)
        .filter(|(c, _)| used.contains(*c))
        .map(|(c, v)| format!("{c} = {}", sig(*v, 6)))
        .collect();
    if vals.is_empty() {
        "one row".into()
    } else {
        format!("row {}", vals.join(", "))
    }
}

/// A formula as a person writes it (`MAX(a·x + b, 0)`), from gradsheet's text.
fn pretty(formula: &str) -> String {
    gradsheet_engine::parse(formula)
        .map(|e| e.to_math())
        .unwrap_or_else(|_| formula.to_string())
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// `a`, `a and b`, `a, b and c`.
fn list(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn verb(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// A remedy as the label of a button that applies it (`lr = 4.1e-5`), or `None` when
/// the page cannot apply it (rescaling the data's columns).
pub fn remedy_label(r: &Remedy) -> Option<String> {
    match &r.kind {
        RemedyKind::LearningRate { lr, .. } => Some(format!("use lr = {}", sig(*lr, 3))),
        RemedyKind::Init { values } => Some(format!(
            "start from {}",
            values
                .iter()
                .map(|(p, v)| format!("{p} = {}", sig(*v, 3)))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        RemedyKind::Optimizer { optimizer, lr } => Some(format!(
            "use {} with lr = {}",
            optimizer_name(optimizer),
            sig(*lr, 3)
        )),
        RemedyKind::RescaleInputs { .. } => None,
    }
}

/// The optimizer's name from how it prints (`torch-adam (lr 0.01, ...)` → `torch-adam`).
pub fn optimizer_name(printed: &str) -> &str {
    printed.split_whitespace().next().unwrap_or(printed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::{explain, ExplainOptions};
    use gradsheet_engine::{Dataset, Roles};
    use gradsheet_train::{Optimizer, TrainConfig, Trainer};

    fn diagnose(formula: &str, opt: Optimizer, epochs: usize) -> (Diagnosis, Model) {
        let model = Model::new(formula, "squared", &Roles::with_columns(&["x", "y"])).unwrap();
        let trainer = Trainer::new(&model, &Dataset::graddesc()).unwrap();
        let n = model.params.len();
        let mut cfg = TrainConfig::new(opt, epochs);
        cfg.batch_size = 1;
        let opts = ExplainOptions {
            verify_epochs: epochs,
            max_steps: 20_000,
            remedies: true,
        };
        (
            explain(&trainer, &vec![1.0; n], &cfg, &opts).unwrap(),
            model,
        )
    }

    #[test]
    fn the_forum_models_divergence_opens_with_the_steep_row() {
        let (d, m) = diagnose("c*(a*x+b)+d", Optimizer::sgd(1e-4), 30);
        let f = findings(&d, &m);
        assert_eq!(f[0].kind, FindingKind::Diverged);
        assert_eq!(
            f[0].sentence,
            "Row x = 99 is too steep for this learning rate: every step there overshoots, each overshoot is bigger than the last, and at step 28 the numbers blow up."
        );
        // The collapse is said too, after the failure.
        assert_eq!(f.last().map(|f| f.kind), Some(FindingKind::Collapse));
        assert!(
            f.last()
                .unwrap()
                .sentence
                .contains("the slope c·a for x and the intercept c·b + d"),
            "{f:?}"
        );
        // A remedy that lowers the learning rate is a button.
        let lr = d
            .remedies
            .iter()
            .find(|r| matches!(r.kind, RemedyKind::LearningRate { .. }))
            .expect("a learning-rate remedy");
        assert_eq!(remedy_label(lr).as_deref(), Some("use lr = 3.4e-5"));
    }

    #[test]
    fn a_relu_that_dies_is_found_although_the_run_completes() {
        let (d, m) = diagnose("c*MAX(a*x+b,0)+d", Optimizer::sgd(1e-4), 30);
        assert!(matches!(d.stop, Stop::Completed));
        let f = findings(&d, &m);
        let kinds: Vec<_> = f.iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds,
            [
                FindingKind::DeadUnit,
                FindingKind::WorseThanStart,
                FindingKind::Collapse
            ],
            "{f:?}"
        );
        assert_eq!(
            f[0].sentence,
            "The unit max(a·x + b, 0) is off on every row from step 27 on: c, a and b get no gradient through it and stop learning, and only d still learns."
        );
        assert!(
            f[1].sentence
                .starts_with("The mean error ended worse than it started: 5655 → 1"),
            "{}",
            f[1].sentence
        );
    }

    #[test]
    fn a_good_run_of_a_simple_model_has_nothing_to_say() {
        let (d, m) = diagnose("a*x+b", Optimizer::torch_adam(0.5), 30);
        assert_eq!(findings(&d, &m), []);
    }

    #[test]
    fn a_slow_run_stalls() {
        let (d, m) = diagnose("a*x+b", Optimizer::sgd(1e-6), 5);
        let f = findings(&d, &m);
        assert_eq!(
            f.iter().map(|f| f.kind).collect::<Vec<_>>(),
            [FindingKind::Stalled],
            "{f:?}"
        );
    }
}

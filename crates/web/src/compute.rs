//! The work behind each endpoint: request DTOs in, answer DTOs out, every input checked
//! against [`Limits`] before any work starts. Synchronous and CPU-bound: the handlers run
//! these on the blocking pool (see [`crate::work`]), each with a [`Deadline`] it polls.
//!
//! This module holds what every endpoint shares (the data, the model, initial values,
//! the optimizer, the step budget); each endpoint has a module of its own.

use std::collections::BTreeMap;

use gradsheet_engine::{Dataset, Model, Roles};
use gradsheet_recipe::{Generate, OptSpec, Recipe, Spanned};
pub(crate) use gradsheet_report::grouped as group;
use gradsheet_train::{Generator, Hooks, Hyper, Optimizer, Stop, Trace, TrainConfig, Trainer};

use crate::dto::*;
use crate::work::{Deadline, Lane, Work};
use crate::{ApiError, Limits};

mod check;
mod compare;
mod contours;
mod diagnosis;
mod export;
mod sheet;
mod step;
mod sweep;
mod train;

pub use check::check;
pub use compare::compare;
pub use export::{csv, svg, xlsx};
pub use sheet::sheet;
pub use step::step;
pub use sweep::sweep;
pub use train::train;

/// Points kept of a path or an error curve: enough for any chart, small enough to send
/// on every slider move.
const MAX_POINTS: usize = 3000;

/// A request is light (see [`crate::work`]) when its formulas together are at most this
/// many characters: the derivatives of short formulas take microseconds, while some long
/// ones (a 255-fold power tower, 509 characters) took seconds.
const LIGHT_FORMULA_CHARS: usize = 200;
/// ... and it trains at most this many steps (the graddesc lab at 500 epochs: 14,500)...
const LIGHT_STEPS: usize = 100_000;
/// ... and its error surface has at most this many grid points × rows (48² × 29: 66,816).
const LIGHT_SURFACE: usize = 1_000_000;

/// The data a spec names.
pub fn dataset(spec: &DataSpec, lim: &Limits) -> Result<Dataset, ApiError> {
    match spec.source.as_str() {
        "" | "graddesc" => Ok(Dataset::graddesc()),
        "target" => {
            if spec.target.len() > lim.max_formula_len {
                return Err(ApiError::bad(
                    format!(
                        "the target formula is longer than {} characters",
                        lim.max_formula_len
                    ),
                    "target",
                ));
            }
            if spec.n == 0 || spec.n > lim.max_rows {
                return Err(ApiError::bad(
                    format!(
                        "the number of rows must be between 1 and {}, not {}",
                        lim.max_rows, spec.n
                    ),
                    "n",
                ));
            }
            let integer_x = spec.x_lo.fract() == 0.0 && spec.x_hi.fract() == 0.0;
            let g = Generator {
                target: spec.target.clone(),
                x_lo: spec.x_lo,
                x_hi: spec.x_hi,
                integer_x,
                n: spec.n,
                seed: spec.seed,
                noise: spec.noise,
            };
            g.generate()
                .map_err(|e| ApiError::bad(e.to_string(), "target"))
        }
        other => Err(ApiError::bad(
            format!("unknown data source '{other}' (graddesc or target)"),
            "data",
        )),
    }
}

/// The number of rows of the data a spec names, known before any is generated.
fn rows_of(spec: &DataSpec) -> usize {
    match spec.source.as_str() {
        "target" => spec.n,
        _ => gradsheet_train::graddesc::N_ROWS,
    }
}

/// Whether a request's formulas are short enough for the light lane.
fn light_formulas(m: ModelRef<'_>) -> bool {
    let target = if m.data.source == "target" {
        m.data.target.chars().count()
    } else {
        0
    };
    m.model.chars().count() + m.loss.chars().count() + target <= LIGHT_FORMULA_CHARS
}

/// Whether an error surface is small enough for the light lane.
fn light_surface(c: Option<&ContourSpec>, rows: usize) -> bool {
    c.is_none_or(|c| c.n.saturating_mul(c.n).saturating_mul(rows) <= LIGHT_SURFACE)
}

/// The lane of a request that trains `steps` steps on `rows` rows, with an error surface
/// if `contours` asks for one.
fn run_lane(m: ModelRef<'_>, steps: usize, rows: usize, contours: Option<&ContourSpec>) -> Lane {
    Lane::light_if(light_formulas(m) && steps <= LIGHT_STEPS && light_surface(contours, rows))
}

/// The largest per-row error formula, and sum of its derivatives, in tree nodes, whose
/// second derivatives are computed (`c*MAX(a*x+b,0)+d` with a squared error: 14 and 70).
const MAX_SECOND_DERIVATIVES_SIZE: usize = 400;

/// Whether the model's second derivatives (the diagnosis's Hessians, the error surface's
/// minimum) are cheap: they are symbolic, and for a large formula, or one whose
/// derivatives grow large (nested EXPs, long products), differentiating twice alone
/// takes seconds to minutes. The size of the first derivatives predicts the second's.
fn second_derivatives_are_cheap(m: &Model) -> bool {
    let mut left = MAX_SECOND_DERIVATIVES_SIZE;
    m.params.len() <= 12
        && m.error.size() <= MAX_SECOND_DERIVATIVES_SIZE
        && m.params.iter().all(|p| match m.derivative_within(p, left) {
            Some(d) => {
                left -= d.size();
                true
            }
            None => false,
        })
}

/// Parses the model and loss against the data's columns, with formula errors located.
pub fn model(spec: ModelRef<'_>, data: &Dataset, lim: &Limits) -> Result<Model, ApiError> {
    for (what, text) in [("model", spec.model), ("loss", spec.loss)] {
        let n = text.chars().count();
        if n > lim.max_formula_len {
            return Err(ApiError::bad(
                format!(
                    "the {what} is {n} characters long; the limit is {}",
                    lim.max_formula_len
                ),
                what,
            ));
        }
    }
    let roles = Roles {
        data: data.columns.clone(),
        constants: spec
            .constants
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
        params: Vec::new(),
    };
    Model::new(spec.model, spec.loss, &roles).map_err(|e| {
        // The error is about the text it carries: the prediction's, or the loss's (a
        // loss name resolved to its formula).
        let field = if e.source == spec.model {
            "model"
        } else {
            "loss"
        };
        ApiError::formula(field, &e)
    })
}

/// The model compiled against the data.
fn trainer(m: &Model, data: &Dataset) -> Result<Trainer, ApiError> {
    Ok(Trainer::new(m, data)?)
}

impl Work for FormulaSpec {
    fn lane(&self, _: &Limits) -> Lane {
        Lane::light_if(light_formulas(self.model_ref()))
    }
}

/// The answer of `/api/formula`.
pub fn formula(spec: &FormulaSpec, lim: &Limits, dl: &Deadline) -> Result<FormulaOut, ApiError> {
    let data = dataset(&spec.data, lim)?;
    let m = model(spec.model_ref(), &data, lim)?;
    dl.check()?;
    let row_error = show(&m.error, lim);
    let loss_derivative = show(&m.loss_derivative(), lim);
    Ok(FormulaOut {
        params: m.params.clone(),
        columns: m.columns.clone(),
        constants: m
            .constants
            .iter()
            .map(|(n, v)| (n.clone(), Num(*v)))
            .collect(),
        loss: m.loss_src.clone(),
        row_error,
        loss_derivative,
        derivatives: derivatives(&m, lim, dl)?,
    })
}

/// ∂e/∂p for each parameter, the deadline polled before each. In parallel: each is its
/// own differentiation and printing, and a wide model's 130 took 21–29 ms one after the
/// other on one core, past the 20 ms a formula edit's answer is given.
fn derivatives(m: &Model, lim: &Limits, dl: &Deadline) -> Result<Vec<DerivativeOut>, ApiError> {
    use gradsheet_jit::rayon::prelude::*;
    m.params
        .par_iter()
        .map(|p| {
            dl.check()?;
            // Past a spreadsheet formula's length a derivative is said to be too large,
            // found in bounded time, rather than built whole and cut.
            let formula = match gradsheet_engine::diff::shown_derivative(&m.error, p) {
                Ok(d) => show(&d, lim),
                Err(e) => Formula {
                    excel: e.to_string(),
                    math: e.to_string(),
                },
            };
            Ok(DerivativeOut {
                param: p.clone(),
                formula,
            })
        })
        .collect()
}

/// A formula in both notations, cut short if a derivative grew unreadably long.
fn show(e: &gradsheet_engine::Expr, lim: &Limits) -> Formula {
    let cut = |mut s: String| {
        if s.len() > lim.max_shown_formula {
            let mut i = lim.max_shown_formula;
            while !s.is_char_boundary(i) {
                i -= 1;
            }
            s.truncate(i);
            s.push_str(" …");
        }
        s
    };
    Formula {
        excel: cut(format!("={}", e.to_excel())),
        math: cut(e.to_math()),
    }
}

/// Initial values: 1 for each parameter unless given.
fn init_values(m: &Model, given: &BTreeMap<String, f64>) -> Result<Vec<f64>, ApiError> {
    let mut init = vec![1.0; m.params.len()];
    for (k, v) in given {
        let Some(i) = m.params.iter().position(|p| p == k) else {
            // The page keeps initial values of parameters a formula edit removed; they are
            // harmless, so they are ignored rather than refused.
            continue;
        };
        if !v.is_finite() {
            return Err(ApiError::bad(
                format!("the initial value of {k} must be a finite number"),
                k,
            ));
        }
        init[i] = *v;
    }
    Ok(init)
}

/// The optimizer of a request, checked against the optimizer table; an error's field is
/// the setting by the name the request gave it.
fn optimizer(name: &str, h: &HyperSpec) -> Result<Optimizer, ApiError> {
    let mut hyper = Hyper::new();
    for (k, v) in &h.0 {
        match v {
            Some(HyperValue::Number(x)) => hyper.set(k, *x),
            Some(HyperValue::Switch(b)) => hyper.set(k, *b),
            None => {}
        }
    }
    Ok(Optimizer::from_name(name, &hyper)?)
}

/// The answer of `/api/optimizers`: the optimizer table as the page reads it.
pub fn optimizers() -> Vec<OptimizerOut> {
    let bound = |v: f64| v.is_finite().then_some(v);
    gradsheet_train::RULES
        .iter()
        .map(|r| OptimizerOut {
            name: r.name.into(),
            label: r.label.into(),
            convention: match r.convention {
                gradsheet_train::Convention::Workbook => "workbook",
                gradsheet_train::Convention::Torch => "torch",
            }
            .into(),
            summary: r.summary.into(),
            hypers: r
                .hypers
                .iter()
                .map(|h| HyperOut {
                    key: h.key.into(),
                    aliases: h.aliases.iter().map(|a| a.to_string()).collect(),
                    symbol: h.symbol.into(),
                    meaning: h.meaning.into(),
                    default: h.default,
                    min: bound(h.range.min),
                    max: bound(h.range.max),
                    max_included: h.range.max_included,
                    switch: h.switch,
                    slot: h.slot,
                })
                .collect(),
            state: r
                .state
                .iter()
                .map(|s| (s.name.to_string(), s.meaning.to_string()))
                .collect(),
        })
        .collect()
}

/// Refuses runs beyond the step budget before any work starts.
fn check_steps(
    epochs: usize,
    steps_per_epoch: usize,
    runs: usize,
    lim: &Limits,
) -> Result<usize, ApiError> {
    if epochs == 0 {
        return Err(ApiError::bad("epochs must be at least 1", "epochs"));
    }
    let total = epochs
        .saturating_mul(steps_per_epoch)
        .saturating_mul(runs.max(1));
    if total > lim.max_steps {
        return Err(ApiError::bad(
            format!(
                "{} would take {} steps; the web app runs at most {} per request (use the command line for longer runs)",
                if runs > 1 { format!("{runs} runs of {epochs} epochs") } else { format!("{epochs} epochs") },
                group(total),
                group(lim.max_steps)
            ),
            "epochs",
        ));
    }
    Ok(total)
}

/// Trains, polling the deadline: past it, the run stops and the answer is the 503 of
/// [`Deadline::exceeded`].
fn train_until(
    trainer: &Trainer,
    init: &[f64],
    cfg: &TrainConfig,
    dl: &Deadline,
) -> Result<Trace, ApiError> {
    let stop = || dl.passed();
    let mut hooks = Hooks {
        should_stop: &stop,
        progress: &mut |_, _| {},
    };
    let trace = gradsheet_jit::train(trainer, init, cfg, &mut hooks, None)?;
    if matches!(trace.stop, Stop::Interrupted { .. }) {
        return Err(dl.exceeded());
    }
    Ok(trace)
}

fn stop_out(stop: &Stop, steps_per_epoch: usize) -> StopOut {
    match stop {
        Stop::Completed => StopOut {
            kind: "completed".into(),
            step: None,
            epoch: None,
            row: None,
            reason: None,
        },
        Stop::Diverged { step, row, reason } => StopOut {
            kind: "diverged".into(),
            step: Some(*step),
            epoch: Some((step - 1) / steps_per_epoch.max(1) + 1),
            row: Some(row + 1),
            reason: Some(reason.to_string()),
        },
        Stop::Interrupted { steps } => StopOut {
            kind: "interrupted".into(),
            step: Some(*steps),
            epoch: None,
            row: None,
            reason: Some("stopped before the last epoch".into()),
        },
    }
}

/// Every `k`-th index of `0..n` and the last, at most about `max` of them.
fn thin(n: usize, max: usize) -> impl Iterator<Item = usize> {
    let k = n.div_ceil(max.max(1)).max(1);
    (0..n).filter(move |i| i % k == 0 || *i + 1 == n)
}

/// The run as an experiment recipe (TOML) in the format of `gradsheet run`: the one
/// [`Recipe`] type that command reads.
pub fn recipe(spec: &TrainSpec, lim: &Limits, _: &Deadline) -> Result<String, ApiError> {
    // Validate first, so that a recipe is only offered for a run that works.
    let data = dataset(&spec.data, lim)?;
    let m = model(spec.model_ref(), &data, lim)?;
    let opt = optimizer(&spec.optimizer, &spec.hyper)?;
    let init = init_values(&m, &spec.init)?;
    let mut hyper = Hyper::new().with("lr", opt.lr());
    for (k, v) in spec.hyper.0.iter().filter(|(k, _)| *k != "lr") {
        match v {
            Some(HyperValue::Number(x)) => hyper.set(k, *x),
            Some(HyperValue::Switch(b)) => hyper.set(k, *b),
            None => {}
        }
    }
    let spanned = |v| Spanned::new(0..0, v);
    let mut r = Recipe::new(
        &spec.model,
        &spec.loss,
        vec![OptSpec::new(opt.name(), &hyper)],
    );
    r.name = Some(match &spec.sheet {
        Some(sheet) => format!("graddesc lab: {sheet}"),
        None => format!("{} with {}", spec.model, opt.name()),
    });
    r.epochs = spec.epochs;
    r.batch = spec.batch;
    let d = &spec.data;
    if d.source == "target" {
        r.seed = d.seed;
        r.data.generate = Some(Generate {
            target: spanned(d.target.clone()),
            x: spanned(format!("{}..{}", d.x_lo, d.x_hi)),
            n: d.n,
            noise: d.noise,
        });
    } else {
        r.data.source = Some(spanned("graddesc".into()));
    }
    r.model.init = m
        .params
        .iter()
        .zip(&init)
        .map(|(k, v)| (k.clone(), Spanned::new(0..0, *v)))
        .collect();
    r.model.constants = spec.constants.clone();
    Ok(format!(
        "# an experiment saved from gradsheet's web app; run it with `gradsheet run recipe.toml`\n{}",
        r.to_toml()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping() {
        assert_eq!(group(2_000_000), "2,000,000");
        assert_eq!(group(999), "999");
    }

    #[test]
    fn thin_keeps_first_and_last() {
        let v: Vec<usize> = thin(10, 3).collect();
        assert_eq!(v, [0, 4, 8, 9]);
        assert_eq!(thin(3, 3000).count(), 3);
    }

    /// Training polls the deadline: a run of a trillion epochs ends at the first poll
    /// past it (this test would not end otherwise) with the budget's 503.
    #[test]
    fn training_stops_at_the_deadline() {
        let lim = Limits::default();
        let data = Dataset::graddesc();
        let m = model(FormulaSpec::default().model_ref(), &data, &lim).unwrap();
        let t = trainer(&m, &data).unwrap();
        let mut cfg = TrainConfig::new(Optimizer::sgd(1e-5), 1_000_000_000_000);
        cfg.record = gradsheet_train::Record::Final;
        let dl = Deadline::after(std::time::Duration::ZERO);
        let e = train_until(&t, &[1.0, 1.0], &cfg, &dl).unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            e.body.error.contains("took longer than"),
            "{}",
            e.body.error
        );
    }

    /// The field of an optimizer's error is the hyperparameter the form sent, read from
    /// the error's type (torch SGD's momentum was "optimizer" when it was read from the
    /// message, which names no β).
    #[test]
    fn optimizer_errors_name_their_hyperparameter() {
        let field = |name: &str, h: HyperSpec| optimizer(name, &h).unwrap_err().body.field;
        let f = |s: &str| Some(s.to_string());
        assert_eq!(field("sgd", HyperSpec::default().with("lr", -1.0)), f("lr"));
        assert_eq!(
            field("momentum", HyperSpec::default().with("beta1", 1.0)),
            f("beta1")
        );
        assert_eq!(
            field("adam", HyperSpec::default().with("beta2", 2.0)),
            f("beta2")
        );
        assert_eq!(
            field("torch-sgd", HyperSpec::default().with("momentum", -0.5)),
            f("momentum")
        );
        assert_eq!(
            field("torch-rmsprop", HyperSpec::default().with("alpha", 1.5)),
            f("alpha")
        );
        assert_eq!(
            field("torch-adam", HyperSpec::default().with("eps", -1.0)),
            f("eps")
        );
        assert_eq!(field("adma", HyperSpec::default()), f("optimizer"));
    }
}

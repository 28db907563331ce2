//! The work behind each endpoint: request DTOs in, answer DTOs out, every input checked
//! against [`Limits`] before any work starts. Synchronous and CPU-bound: the handlers run
//! these on the blocking pool (see [`crate::work`]), each with a [`Deadline`] it polls.
//!
//! This module holds what every endpoint shares (the data, the model, initial values,
//! the optimizer, the step budget); each endpoint has a module of its own.

use std::collections::BTreeMap;

use gradsheet_engine::{Dataset, Model, Roles};
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
    m.params.len() <= 12
        && m.error.size() <= MAX_SECOND_DERIVATIVES_SIZE
        && m.params
            .iter()
            .map(|p| m.derivative(p).size())
            .sum::<usize>()
            <= MAX_SECOND_DERIVATIVES_SIZE
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

/// ∂e/∂p for each parameter, the deadline polled between them.
fn derivatives(m: &Model, lim: &Limits, dl: &Deadline) -> Result<Vec<DerivativeOut>, ApiError> {
    m.params
        .iter()
        .map(|p| {
            dl.check()?;
            Ok(DerivativeOut {
                param: p.clone(),
                formula: show(&m.derivative(p), lim),
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

fn optimizer(name: &str, h: &HyperSpec) -> Result<Optimizer, ApiError> {
    let hyper = Hyper {
        lr: h.lr,
        beta1: h.beta1,
        beta2: h.beta2,
        eps: h.eps,
        momentum: h.momentum,
        weight_decay: h.weight_decay,
        nesterov: h.nesterov,
        alpha: h.alpha,
        centered: h.centered,
        amsgrad: h.amsgrad,
        ..Hyper::default()
    };
    Ok(Optimizer::from_name(name, &hyper)?)
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
    let trace = trainer.run(init, cfg, &mut hooks)?;
    if matches!(trace.stop, Stop::Interrupted { .. }) {
        return Err(dl.exceeded());
    }
    Ok(trace)
}

/// `2000000` → `2,000,000`.
fn group(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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
            reason: Some(reason.clone()),
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

/// The run as an experiment recipe (TOML) in the format of `gradsheet run`.
pub fn recipe(spec: &TrainSpec, lim: &Limits, _: &Deadline) -> Result<String, ApiError> {
    // Validate first, so that a recipe is only offered for a run that works.
    let data = dataset(&spec.data, lim)?;
    let m = model(spec.model_ref(), &data, lim)?;
    let opt = optimizer(&spec.optimizer, &spec.hyper)?;
    let init = init_values(&m, &spec.init)?;
    let q = toml_str;
    let d = &spec.data;
    let mut s = String::from(
        "# an experiment saved from gradsheet's web app; run it with `gradsheet run recipe.toml`\n",
    );
    let name = match &spec.sheet {
        Some(sheet) => format!("graddesc lab: {sheet}"),
        None => format!("{} with {}", spec.model, opt.name()),
    };
    s.push_str(&format!(
        "name = {}\nepochs = {}\nbatch = {}\n",
        q(&name),
        spec.epochs,
        spec.batch
    ));
    if d.source == "target" {
        s.push_str(&format!("seed = {}\n\n[data]\n", d.seed));
        s.push_str(&format!(
            "generate = {{ target = {}, x = {}, n = {}, noise = {} }}\n",
            q(&d.target),
            q(&format!("{}..{}", d.x_lo, d.x_hi)),
            d.n,
            toml_num(d.noise)
        ));
    } else {
        s.push_str("\n[data]\nsource = \"graddesc\"\n");
    }
    s.push_str(&format!(
        "\n[model]\nformula = {}\nloss = {}\n",
        q(&spec.model),
        q(&spec.loss)
    ));
    let table = |pairs: Vec<(String, f64)>| {
        let items: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{} = {}", q(k), toml_num(*v)))
            .collect();
        format!("{{ {} }}", items.join(", "))
    };
    s.push_str(&format!(
        "init = {}\n",
        table(m.params.iter().cloned().zip(init.iter().copied()).collect())
    ));
    if !spec.constants.is_empty() {
        s.push_str(&format!(
            "constants = {}\n",
            table(
                spec.constants
                    .iter()
                    .map(|(k, v)| (k.clone(), *v))
                    .collect()
            )
        ));
    }
    s.push_str(&format!("\n[[optimizer]]\nname = {}\n", q(opt.name())));
    let h = &spec.hyper;
    for (k, v) in [
        ("lr", Some(opt.lr())),
        ("beta1", h.beta1),
        ("beta2", h.beta2),
        ("eps", h.eps),
        ("momentum", h.momentum),
        ("weight_decay", h.weight_decay),
        ("alpha", h.alpha),
    ] {
        if let Some(v) = v {
            s.push_str(&format!("{k} = {}\n", toml_num(v)));
        }
    }
    for (k, v) in [
        ("nesterov", h.nesterov),
        ("centered", h.centered),
        ("amsgrad", h.amsgrad),
    ] {
        if let Some(v) = v {
            s.push_str(&format!("{k} = {v}\n"));
        }
    }
    Ok(s)
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML float that reads back the same (always with a `.` or an exponent).
fn toml_num(v: f64) -> String {
    let s = format!("{v:?}");
    if s.contains(['.', 'e', 'E', 'n', 'i']) {
        s
    } else {
        format!("{s}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_and_toml_numbers() {
        assert_eq!(group(2_000_000), "2,000,000");
        assert_eq!(group(999), "999");
        assert_eq!(toml_num(1.0), "1.0");
        assert_eq!(toml_num(1e-4), "0.0001");
        assert_eq!(toml_str("a\"b\\"), "\"a\\\"b\\\\\"");
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
        assert_eq!(
            field(
                "sgd",
                HyperSpec {
                    lr: Some(-1.0),
                    ..HyperSpec::default()
                }
            ),
            f("lr")
        );
        assert_eq!(
            field(
                "momentum",
                HyperSpec {
                    beta1: Some(1.0),
                    ..HyperSpec::default()
                }
            ),
            f("beta1")
        );
        assert_eq!(
            field(
                "adam",
                HyperSpec {
                    beta2: Some(2.0),
                    ..HyperSpec::default()
                }
            ),
            f("beta2")
        );
        assert_eq!(
            field(
                "torch-sgd",
                HyperSpec {
                    momentum: Some(-0.5),
                    ..HyperSpec::default()
                }
            ),
            f("momentum")
        );
        assert_eq!(
            field(
                "torch-rmsprop",
                HyperSpec {
                    alpha: Some(1.5),
                    ..HyperSpec::default()
                }
            ),
            f("alpha")
        );
        assert_eq!(
            field(
                "torch-adam",
                HyperSpec {
                    eps: Some(-1.0),
                    ..HyperSpec::default()
                }
            ),
            f("eps")
        );
        assert_eq!(field("adma", HyperSpec::default()), f("optimizer"));
    }
}

//! Why a run diverges, or why its error stays high: the curvature at the step where it
//! starts, the stability bound of SGD, the parameters and data rows that drive it, and
//! remedies verified by re-running.
//!
//! # The stability bound
//!
//! Near a step's parameters, one row's error is a quadratic with Hessian `H`. A plain SGD
//! step `p ← p − lr·∇e` multiplies the distance to that quadratic's minimum, along the
//! eigenvector of eigenvalue `λ`, by `1 − lr·λ`: it shrinks only while `lr·λ < 2`. A step
//! with `lr·λ_max > 2` overshoots, and the row's error grows by about `(lr·λ_max − 1)²`.
//! Momentum with β (the workbook's EMA form `m ← β·m + (1−β)·g`) is stable while
//! `lr·(1−β)·λ < 2·(1+β)`, torch-sgd's momentum μ while `lr·(1−τ)·λ < 2·(1+μ)`; adaptive
//! optimizers have no fixed bound, and their diagnosis quotes the plain-SGD numbers.
//!
//! # Remedies
//!
//! Each remedy is re-run for [`ExplainOptions::verify_epochs`] epochs (or the run's own,
//! if more) and shown only if that re-run converges in the sense of
//! [`crate::sweep::Class::Converged`]. They are tried in order of how little they change:
//! the learning rate (the largest that converges, by bisection over re-runs), the scale of
//! the input columns, the initial values, and finally the optimizer. Every number a remedy
//! states is one that was re-run: the learning rate proposed converges, and the one said
//! not to converge was run and does not (printed with as many digits as that takes).
//!
//! # Analysis and words
//!
//! [`explain`] computes a [`Diagnosis`]: plain data (steps, curvatures, re-runs, unit
//! histories), found by the modules `divergence`, `fit`, `units` and `remedies`. The
//! sentences are then written from that data alone by `words`, so that the page, the
//! terminal and the JSON can show the same findings in their own ways.

use gradsheet_train::{Hooks, Optimizer, Record, Stop, TrainConfig, TrainError, Trainer};

use crate::collapse::{Linear, UnitHistory};
use crate::sweep::{judge, Class, Verdict};
use curvature::Curv;

mod curvature;
mod divergence;
mod fit;
mod remedies;
mod units;
mod words;

pub use divergence::{zero_divisor, zero_divisor_at};

/// How thorough to be.
#[derive(Clone, Debug, PartialEq)]
pub struct ExplainOptions {
    /// Epochs of every verifying re-run (at least the run's own).
    pub verify_epochs: usize,
    /// Steps of the run analysed at most (the Hessian is evaluated at each).
    pub max_steps: usize,
    /// Try remedies (each is one or more re-runs).
    pub remedies: bool,
}

impl Default for ExplainOptions {
    fn default() -> Self {
        ExplainOptions {
            verify_epochs: 100,
            max_steps: 200_000,
            remedies: true,
        }
    }
}

/// The curvature of one step's error.
#[derive(Clone, Debug, PartialEq)]
pub struct StepCurvature {
    /// Step (1-based).
    pub step: usize,
    /// Epoch (1-based).
    pub epoch: usize,
    /// Data row (0-based; the first of a mini-batch).
    pub row: usize,
    /// The row's values (the model's columns).
    pub inputs: Vec<f64>,
    /// Parameters before the step.
    pub params: Vec<f64>,
    /// The step's error.
    pub error: f64,
    /// Eigenvalues of the Hessian of the step's error, largest first.
    pub eigenvalues: Vec<f64>,
    /// The unit eigenvector of the largest eigenvalue, one entry per parameter.
    pub direction: Vec<f64>,
    /// `lr·λ_max` scaled for the optimizer (see the module docs): unstable above `limit`.
    pub lr_lambda: f64,
}

impl StepCurvature {
    /// The largest eigenvalue.
    pub fn lambda_max(&self) -> f64 {
        self.eigenvalues.first().copied().unwrap_or(f64::NAN)
    }
}

/// The bound of one data row at given parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct RowBound {
    /// Data row (0-based).
    pub row: usize,
    /// Its values.
    pub inputs: Vec<f64>,
    /// λ_max of its error's Hessian.
    pub lambda_max: f64,
    /// The largest stable learning rate for this row, `limit / (k·λ_max)`.
    pub max_lr: f64,
}

/// Where and how a run diverged.
#[derive(Clone, Debug, PartialEq)]
pub struct Divergence {
    /// The first bad step (1-based).
    pub step: usize,
    /// Its data row (0-based).
    pub row: usize,
    /// Its epoch (1-based).
    pub epoch: usize,
    /// The values of its row (the model's columns).
    pub inputs: Vec<f64>,
    /// What was bad.
    pub reason: String,
    /// How many finite steps the trace keeps before it.
    pub finite_steps: usize,
    /// The first step whose `lr·λ_max` passed the limit.
    pub first_unstable: Option<StepCurvature>,
    /// The start of the unbroken run of unstable steps that ends in the divergence.
    pub onset: Option<StepCurvature>,
    /// The steps from just before the onset to the bad step.
    pub growth: Vec<StepCurvature>,
    /// How many analysed steps before the bad one were unstable.
    pub unstable_steps: usize,
    /// A cause no learning rate explains: an update that divided by a state of exactly
    /// zero.
    pub zero_state: Option<ZeroState>,
    /// That cause in words (see [`zero_divisor`]).
    pub cause: Option<String>,
}

/// An update that divided by an optimizer state of exactly zero (see [`zero_divisor`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ZeroState {
    /// The step (1-based).
    pub step: usize,
    /// The parameter whose update it was.
    pub param: String,
    /// Which rule divided by zero.
    pub rule: ZeroStateRule,
}

/// The rules whose update divides by a state with no ε added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZeroStateRule {
    /// The workbook's RMSProp: `s` starts at 0 and is divided by before it grows.
    Rmsprop,
    /// The workbook's Adam: `s` stays 0 while the parameter's gradient is exactly 0.
    Adam,
}

/// A remedy and the re-run that verified it.
#[derive(Clone, Debug, PartialEq)]
pub enum RemedyKind {
    /// The largest learning rate whose re-run converges.
    LearningRate {
        /// The learning rate proposed (rounded down and itself verified).
        lr: f64,
        /// The boundary bisection found: this converges ...
        converges: f64,
        /// ... and this does not.
        fails: f64,
        /// The failing rate as the text says it: `fails` rounded up to the fewest
        /// significant digits whose re-run also fails (a rounding that converged would
        /// make the sentence false).
        fails_shown: f64,
    },
    /// Divide the input columns by a factor.
    RescaleInputs {
        /// The columns divided.
        columns: Vec<String>,
        /// The divisor.
        factor: f64,
        /// Effective slopes and intercept after training, in the original units, when the
        /// model is linear in its inputs.
        effective: Option<(Vec<f64>, f64)>,
    },
    /// Other initial values.
    Init {
        /// The initial values.
        values: Vec<(String, f64)>,
    },
    /// Another optimizer.
    Optimizer {
        /// The optimizer, as it prints.
        optimizer: String,
        /// Its learning rate.
        lr: f64,
    },
}

/// A verified remedy.
#[derive(Clone, Debug, PartialEq)]
pub struct Remedy {
    /// What to change.
    pub kind: RemedyKind,
    /// The verifying re-run.
    pub verdict: Verdict,
    /// Epochs of that re-run.
    pub epochs: usize,
    /// The remedy in one sentence with its numbers (written by `words`).
    pub text: String,
}

/// The collapse of a reparametrised model.
#[derive(Clone, Debug, PartialEq)]
pub struct Collapse {
    /// The linear form (for a model with units: with every unit on).
    pub linear: Linear,
    /// Whether the form holds only while every unit is on.
    pub while_units_on: bool,
    /// Effective slopes and intercept at the initial parameters.
    pub at_init: (Vec<f64>, f64),
    /// Per recorded step: (step, effective slopes, intercept) before the step.
    pub along: Vec<(usize, Vec<f64>, f64)>,
    /// At a fit (the parameters of the verified lower-lr re-run, if any): the row with the
    /// largest inputs, λ_max of this model there and of the simple model at the same
    /// effective parameters.
    pub at_fit: Option<FitCurvature>,
}

/// Curvature at a fit, for the model and for the simple model it collapses to.
#[derive(Clone, Debug, PartialEq)]
pub struct FitCurvature {
    /// The data row (0-based).
    pub row: usize,
    /// Its values.
    pub inputs: Vec<f64>,
    /// The model's parameters at the fit.
    pub params: Vec<f64>,
    /// Effective slopes and intercept there.
    pub effective: (Vec<f64>, f64),
    /// The mean error over the data there.
    pub error: f64,
    /// λ_max of the model's error on that row.
    pub lambda_model: f64,
    /// λ_max of the simple model's error on that row at the same effective parameters.
    pub lambda_simple: f64,
}

/// A stretch of steps over which a unit is on for the same number of rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OnSpan {
    /// The first step (1-based).
    pub from: usize,
    /// The last step.
    pub to: usize,
    /// On for how many rows.
    pub rows_on: usize,
}

/// The step before a unit died for good: what it did to the parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct KillingStep {
    /// The step (1-based).
    pub step: usize,
    /// Its row's values.
    pub inputs: Vec<f64>,
    /// The parameters before it ...
    pub before: Vec<f64>,
    /// ... and after it.
    pub after: Vec<f64>,
    /// `k·lr·λ_max` of that step.
    pub lr_lambda: f64,
    /// Whether it is one of the divergence's growing steps.
    pub in_growth: bool,
}

/// What one unit did over the run, beside its [`UnitHistory`].
#[derive(Clone, Debug, PartialEq)]
pub struct UnitStory {
    /// The first epoch cut where the count of rows the unit is on changes.
    pub first_epoch: Vec<OnSpan>,
    /// The step that switched it off for good, when it died after step 1.
    pub killed_by: Option<KillingStep>,
}

/// What the ReLU units did.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitsReport {
    /// One history per unit.
    pub histories: Vec<UnitHistory>,
    /// One story per unit, in the order of `histories`.
    pub stories: Vec<UnitStory>,
    /// The model with every unit on, as formula text, and where the same run of it
    /// diverges (`None` if it does not).
    pub twin: Option<(String, Option<usize>)>,
    /// The prediction with every unit off, as formula text.
    pub off_prediction: String,
    /// For a prediction that is one parameter when every unit is off and a squared
    /// loss: the best mean error it can reach (the variance of the target).
    pub best_when_off: Option<f64>,
    /// The simple (one-neuron) model's mean error after the same run, for comparison.
    pub simple_error: Option<f64>,
    /// λ of the parameters still learning, on the last analysed step, and the
    /// half-life (in epochs) of their distance to their optimum at this lr.
    pub live_curvature: Option<(f64, f64)>,
}

/// The whole diagnosis: plain data plus the sentences built from it.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnosis {
    /// The prediction formula.
    pub model: String,
    /// The parameters' names.
    pub params: Vec<String>,
    /// The model's data columns (the names of a row's values).
    pub columns: Vec<String>,
    /// Data rows.
    pub rows: usize,
    /// The initial parameter values.
    pub init: Vec<f64>,
    /// The optimizer, as it prints.
    pub optimizer: String,
    /// The learning rate.
    pub lr: f64,
    /// The stability limit: a step is unstable when `k·lr·λ_max > limit`.
    pub limit: f64,
    /// The factor `k` of the optimizer (1 for SGD, 1−β for the workbook's momentum).
    pub k: f64,
    /// Whether the optimizer has a fixed bound (plain SGD or momentum).
    pub bound_applies: bool,
    /// How the run ended.
    pub stop: Stop,
    /// Steps taken.
    pub steps: usize,
    /// Per data row: the bound at the initial parameters.
    pub at_init: Vec<RowBound>,
    /// Where it diverged, if it did.
    pub divergence: Option<Divergence>,
    /// The same run over the verification horizon.
    pub verdict: Verdict,
    /// Epochs of that horizon.
    pub verify_epochs: usize,
    /// Remedies, each verified.
    pub remedies: Vec<Remedy>,
    /// The collapse, for a reparametrised model.
    pub collapse: Option<Collapse>,
    /// The units, for a model with MAX or RELU.
    pub units: Option<UnitsReport>,
    /// The explanation: sections of a title and sentences (written by `words` from the
    /// fields above).
    pub sections: Vec<(String, Vec<String>)>,
}

impl Diagnosis {
    /// The explanation as plain text.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (title, lines) in &self.sections {
            out.push_str(title);
            out.push('\n');
            for l in lines {
                out.push_str("  ");
                out.push_str(l);
                out.push('\n');
            }
            out.push('\n');
        }
        out
    }
}

/// The stability factor `k` and limit of an optimizer: unstable when `k·lr·λ > limit`.
pub fn stability(opt: &Optimizer) -> (f64, f64, bool) {
    match *opt {
        Optimizer::Sgd { .. } => (1.0, 2.0, true),
        Optimizer::Momentum { beta, .. } => (1.0 - beta, 2.0 * (1.0 + beta), true),
        Optimizer::TorchSgd {
            momentum,
            dampening,
            ..
        } => {
            if momentum == 0.0 {
                (1.0, 2.0, true)
            } else {
                (1.0 - dampening, 2.0 * (1.0 + momentum), true)
            }
        }
        _ => (1.0, 2.0, false),
    }
}

/// Runs the configuration and explains it.
///
/// # Errors
///
/// [`TrainError`] for invalid settings or initial values.
pub fn explain(
    trainer: &Trainer,
    init: &[f64],
    cfg: &TrainConfig,
    opts: &ExplainOptions,
) -> Result<Diagnosis, TrainError> {
    let model = &trainer.model;
    let mut run_cfg = cfg.clone();
    run_cfg.record = Record::Steps;
    let trace = trainer.run(init, &run_cfg, &mut Hooks::none())?;
    let (k, limit, bound_applies) = stability(&cfg.optimizer);
    let mut curv = Curv::new(trainer);
    let at_init = curvature::row_bounds(trainer, init, &mut curv, (k, limit));
    let analysed = trace.len().min(opts.max_steps);
    let divergence = divergence::analyse(trainer, cfg, &trace, analysed, &mut curv, (k, limit));

    let verify_epochs = opts.verify_epochs.max(cfg.epochs);
    let mut vcfg = cfg.clone();
    vcfg.epochs = verify_epochs;
    let verdict = judge(trainer, init, &vcfg)?;
    let remedies = if opts.remedies && verdict.class != Class::Converged {
        remedies::find(trainer, init, &vcfg, divergence.as_ref())?
    } else {
        Vec::new()
    };
    let collapse = fit::collapse(trainer, init, &trace, opts.max_steps, &remedies, &mut curv);
    let units = if units::has_units(model) {
        let growth = divergence.as_ref().map_or(&[][..], |d| &d.growth[..]);
        Some(units::report(
            trainer,
            init,
            (cfg, &vcfg),
            &trace,
            growth,
            &mut curv,
        )?)
    } else {
        None
    };

    let mut d = Diagnosis {
        model: model.prediction_src.clone(),
        params: model.params.clone(),
        columns: model.columns.clone(),
        rows: trainer.n_rows,
        init: init.to_vec(),
        optimizer: cfg.optimizer.to_string(),
        lr: cfg.optimizer.lr(),
        limit,
        k,
        bound_applies,
        stop: trace.stop.clone(),
        steps: trace.steps_taken,
        at_init,
        divergence,
        verdict,
        verify_epochs,
        remedies,
        collapse,
        units,
        sections: Vec::new(),
    };
    words::write(&mut d);
    Ok(d)
}

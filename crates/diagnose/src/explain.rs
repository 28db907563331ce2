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
//! the input columns, the initial values, and finally the optimizer.

use gradsheet_engine::{Dataset, Model, Roles};
use gradsheet_train::{Hooks, Optimizer, Record, Stop, Trace, TrainConfig, TrainError, Trainer};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::collapse::{linear_form, unit_histories, units, with_units, Linear, UnitHistory};
use crate::fmt::{floor_sig, sig};
use crate::hessian::{symmetric_eigen, HessianModel};
use crate::sweep::{judge, Class, Verdict};

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
    /// A cause no learning rate explains, in words: an update that divided by a state
    /// of exactly zero (see [`zero_divisor`]).
    pub cause: Option<String>,
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
    /// The remedy in one sentence with its numbers.
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

/// What the ReLU units did.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitsReport {
    /// One history per unit.
    pub histories: Vec<UnitHistory>,
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
    /// The explanation: sections of a title and sentences.
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

/// The rows of every step of a run, replaying its order (and shuffle).
fn step_rows(n: usize, cfg: &TrainConfig, steps: usize) -> Vec<Vec<u32>> {
    let batch = if cfg.batch_size == 0 || cfg.batch_size > n {
        n
    } else {
        cfg.batch_size
    };
    let per_epoch = n.div_ceil(batch);
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
struct Curv<'a> {
    h: HessianModel,
    trainer: &'a Trainer,
    ws: gradsheet_engine::Workspace,
    g: Vec<f64>,
    hs: Vec<f64>,
    acc: Vec<f64>,
}

impl<'a> Curv<'a> {
    fn new(trainer: &'a Trainer) -> Curv<'a> {
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

    fn eigen(&mut self, rows: &[u32], params: &[f64]) -> (Vec<f64>, Vec<f64>) {
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
    let lr = cfg.optimizer.lr();
    let (k, limit, bound_applies) = stability(&cfg.optimizer);
    let mut curv = Curv::new(trainer);

    // The bound of every row at the initial parameters.
    let at_init: Vec<RowBound> = (0..trainer.n_rows)
        .map(|r| {
            let (vals, _) = curv.eigen(&[r as u32], init);
            RowBound {
                row: r,
                inputs: trainer.row(r).to_vec(),
                lambda_max: vals[0],
                max_lr: limit / (k * vals[0]),
            }
        })
        .collect();

    let analysed = trace.len().min(opts.max_steps);
    let rows = step_rows(trainer.n_rows, cfg, analysed);
    let curvature_at = |curv: &mut Curv, i: usize| -> StepCurvature {
        let s = trace.step(i);
        let (vals, dir) = curv.eigen(&rows[i], s.params);
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
    };

    let divergence = match &trace.stop {
        Stop::Diverged { step, row, reason } => {
            let bad = (*step).min(analysed);
            let all: Vec<StepCurvature> = (0..bad).map(|i| curvature_at(&mut curv, i)).collect();
            let unstable = |c: &StepCurvature| c.lr_lambda > limit;
            let first_unstable = all.iter().find(|c| unstable(c)).cloned();
            // The onset: walk back from the bad step (or the last unstable step before it)
            // while the steps stay unstable.
            let onset_idx = all.iter().rposition(unstable).map(|mut i| {
                while i > 0 && unstable(&all[i - 1]) {
                    i -= 1;
                }
                i
            });
            let onset = onset_idx.map(|i| all[i].clone());
            let growth = match onset_idx {
                Some(i) => all[i.saturating_sub(1)..].to_vec(),
                None => all[all.len().saturating_sub(4)..].to_vec(),
            };
            let unstable_steps = all[..all.len().saturating_sub(1)]
                .iter()
                .filter(|c| unstable(c))
                .count();
            Some(Divergence {
                cause: zero_divisor(&cfg.optimizer, &trace, &model.params, *step),
                step: *step,
                row: *row,
                reason: reason.clone(),
                finite_steps: step - 1,
                first_unstable,
                onset,
                growth,
                unstable_steps,
            })
        }
        _ => None,
    };

    let verify_epochs = opts.verify_epochs.max(cfg.epochs);
    let mut vcfg = cfg.clone();
    vcfg.epochs = verify_epochs;
    let verdict = judge(trainer, init, &vcfg)?;

    let mut remedies = Vec::new();
    if opts.remedies && verdict.class != Class::Converged {
        remedies = find_remedies(trainer, init, &vcfg, divergence.as_ref())?;
    }

    // Collapse: the model itself, or the model with every unit on.
    let has_units = !units(&model.prediction).is_empty();
    let on_pred = with_units(&model.prediction, true);
    let collapse = linear_form(model, &on_pred)
        .filter(|l| l.reparametrised)
        .map(|linear| {
            let at_init = linear.values(model, init);
            let along = trace
                .steps()
                .take(opts.max_steps)
                .map(|s| {
                    let (sl, t) = linear.values(model, s.params);
                    (s.step, sl, t)
                })
                .collect();
            // The closest fit a verified remedy reaches on the same data.
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
                    &mut curv,
                )
            });
            Collapse {
                linear,
                while_units_on: has_units,
                at_init,
                along,
                at_fit,
            }
        });

    let units_report = if has_units {
        Some(units_report(trainer, init, cfg, &vcfg, &trace, &mut curv)?)
    } else {
        None
    };

    let mut d = Diagnosis {
        model: model.prediction_src.clone(),
        params: model.params.clone(),
        init: init.to_vec(),
        optimizer: cfg.optimizer.to_string(),
        lr,
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
        units: units_report,
        sections: Vec::new(),
    };
    d.sections = write_sections(&d, trainer, &trace);
    Ok(d)
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

fn units_report(
    trainer: &Trainer,
    init: &[f64],
    cfg: &TrainConfig,
    vcfg: &TrainConfig,
    trace: &Trace,
    curv: &mut Curv,
) -> Result<UnitsReport, TrainError> {
    let model = &trainer.model;
    let histories = unit_histories(model, &trainer.rows, trace, init);
    let data = Dataset::new(model.columns.clone(), trainer.rows.clone());
    let roles = Roles {
        data: model.columns.clone(),
        constants: model.constants.clone(),
        params: model.params.clone(),
    };
    let on_src = with_units(&model.prediction, true).to_string();
    let twin = match Model::new(&on_src, &model.loss_src, &roles) {
        Ok(m) if m.params == model.params => {
            let t = Trainer::new(&m, &data)?;
            let mut c = cfg.clone();
            c.record = Record::Final;
            let tr = t.run(init, &c, &mut Hooks::none())?;
            Some((on_src, tr.first_bad_step()))
        }
        _ => None,
    };
    let off = gradsheet_engine::simplify(&with_units(&model.prediction, false));
    let target: Vec<usize> = (0..model.columns.len())
        .filter(|&j| !model.prediction.mentions(&model.columns[j]))
        .collect();
    let best_when_off = match (&off, target.as_slice()) {
        (gradsheet_engine::Expr::Var(p), [j])
            if model.params.contains(p) && model.loss_src == "(pred-y)^2" =>
        {
            let ys: Vec<f64> = (0..trainer.n_rows).map(|r| trainer.row(r)[*j]).collect();
            let mean = ys.iter().sum::<f64>() / ys.len() as f64;
            Some(ys.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / ys.len() as f64)
        }
        _ => None,
    };
    let simple_error = linear_form(model, &with_units(&model.prediction, true)).and_then(|lin| {
        let m = Model::new(
            &lin.simple_formula(),
            &model.loss_src,
            &Roles::with_columns(&model.columns),
        )
        .ok()?;
        let t = Trainer::new(&m, &data).ok()?;
        let v = judge(&t, &vec![1.0; m.params.len()], vcfg).ok()?;
        Some(v.final_error)
    });
    let live_curvature = histories.iter().find_map(|h| h.dead_from).and_then(|_| {
        let last = trace.len().checked_sub(1)?;
        let s = trace.step(last);
        let (vals, _) = curv.eigen(&[s.row as u32], s.params);
        let (k, _, _) = stability(&cfg.optimizer);
        let shrink = (1.0 - k * s.lr * vals[0]).abs();
        let half_life = if shrink < 1.0 && shrink > 0.0 {
            std::f64::consts::LN_2 / (-(shrink.ln()) * trainer.n_rows as f64)
        } else {
            f64::NAN
        };
        Some((vals[0], half_life))
    });
    Ok(UnitsReport {
        histories,
        twin,
        off_prediction: off.to_string(),
        best_when_off,
        simple_error,
        live_curvature,
    })
}

fn find_remedies(
    trainer: &Trainer,
    init: &[f64],
    vcfg: &TrainConfig,
    div: Option<&Divergence>,
) -> Result<Vec<Remedy>, TrainError> {
    let model = &trainer.model;
    let mut out = Vec::new();
    let epochs = vcfg.epochs;
    let converges = |cfg: &TrainConfig, init: &[f64]| -> Result<Option<Verdict>, TrainError> {
        let v = judge(trainer, init, cfg)?;
        Ok((v.class == Class::Converged).then_some(v))
    };
    let lr0 = vcfg.optimizer.lr();

    // 1. The largest learning rate that converges: halve until one does, then bisect
    //    (geometrically) between it and the smallest failing one.
    if lr0 > 0.0 {
        let with_lr = |lr: f64| {
            let mut c = vcfg.clone();
            c.optimizer.set_lr(lr);
            c
        };
        let mut hi = lr0;
        let mut lo = None;
        for _ in 0..40 {
            let cand = hi / 2.0;
            if converges(&with_lr(cand), init)?.is_some() {
                lo = Some(cand);
                break;
            }
            hi = cand;
        }
        if let Some(mut lo) = lo {
            for _ in 0..14 {
                let mid = (lo * hi).sqrt();
                if converges(&with_lr(mid), init)?.is_some() {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let mut proposal = floor_sig(lo, 2);
            let verdict = match converges(&with_lr(proposal), init)? {
                Some(v) => Some(v),
                None => {
                    proposal = lo;
                    converges(&with_lr(lo), init)?
                }
            };
            if let Some(v) = verdict {
                let text = format!(
                    "lower the learning rate to {} (from {}): the re-run converges, mean error {} → {} in {} epochs; \
                     {} does not converge",
                    sig(proposal, 3),
                    sig(lr0, 3),
                    sig(v.initial_error, 4),
                    sig(v.final_error, 4),
                    epochs,
                    sig(hi, 3)
                );
                out.push(Remedy {
                    kind: RemedyKind::LearningRate {
                        lr: proposal,
                        converges: lo,
                        fails: hi,
                    },
                    verdict: v,
                    epochs,
                    text,
                });
            }
        }
    }

    // 2. Rescale the inputs (the columns the prediction reads): the smallest divisor
    //    that makes the same run converge.
    let inputs: Vec<usize> = (0..model.columns.len())
        .filter(|&j| model.prediction.mentions(&model.columns[j]))
        .collect();
    if !inputs.is_empty() {
        let max_abs = (0..trainer.n_rows)
            .flat_map(|r| inputs.iter().map(move |&j| trainer.row(r)[j].abs()))
            .fold(0.0, f64::max);
        let mut factors: Vec<f64> = [2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 1000.0]
            .into_iter()
            .filter(|f| *f <= 10.0 * max_abs)
            .collect();
        if max_abs > 1.0 && !factors.contains(&max_abs) {
            factors.push(max_abs);
            factors.sort_by(f64::total_cmp);
        }
        for f in factors {
            let mut rows = trainer.rows.clone();
            let w = model.columns.len();
            for r in 0..trainer.n_rows {
                for &j in &inputs {
                    rows[r * w + j] /= f;
                }
            }
            let t = Trainer::new(model, &Dataset::new(model.columns.clone(), rows))?;
            let v = judge(&t, init, vcfg)?;
            if v.class == Class::Converged {
                let lin = linear_form(model, &model.prediction);
                let effective = lin.map(|l| {
                    let (s, b) = l.values(model, &v.final_params);
                    (s.iter().map(|s| s / f).collect::<Vec<_>>(), b)
                });
                let names: Vec<String> = inputs.iter().map(|&j| model.columns[j].clone()).collect();
                let mut text = format!(
                    "divide {} by {} (keep lr {}): the re-run converges, mean error {} in {} epochs",
                    names.join(", "),
                    sig(f, 4),
                    sig(lr0, 3),
                    sig(v.final_error, 4),
                    epochs
                );
                if let Some((s, b)) = &effective {
                    let ss: Vec<String> = names
                        .iter()
                        .zip(s)
                        .map(|(n, s)| format!("slope on {n} {}", sig(*s, 4)))
                        .collect();
                    text.push_str(&format!(
                        "; in the original units the fit is {}, intercept {}",
                        ss.join(", "),
                        sig(*b, 4)
                    ));
                }
                out.push(Remedy {
                    kind: RemedyKind::RescaleInputs {
                        columns: names,
                        factor: f,
                        effective,
                    },
                    verdict: v,
                    epochs,
                    text,
                });
                break;
            }
        }
    }

    // 3. Other initial values: first only the parameters that drive the instability,
    //    then all, scaled down.
    let drivers: Vec<usize> = div
        .and_then(|d| d.onset.as_ref().or(d.first_unstable.as_ref()))
        .map(|c| dominant(&c.direction))
        .unwrap_or_default();
    'init: for only_drivers in [true, false] {
        if only_drivers && drivers.is_empty() {
            continue;
        }
        for s in [0.5, 0.2, 0.1, 0.05, 0.02, 0.01] {
            let p: Vec<f64> = init
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    if !only_drivers || drivers.contains(&i) {
                        v * s
                    } else {
                        *v
                    }
                })
                .collect();
            if let Some(v) = converges(vcfg, &p)? {
                let values: Vec<(String, f64)> = model
                    .params
                    .iter()
                    .cloned()
                    .zip(p.iter().copied())
                    .collect();
                let changed: Vec<String> = values
                    .iter()
                    .zip(init)
                    .filter(|((_, a), b)| *a != **b)
                    .map(|((n, a), _)| format!("{n} = {}", sig(*a, 3)))
                    .collect();
                let text = format!(
                    "start from {} (keep lr {}): the re-run converges, mean error {} → {} in {} epochs",
                    changed.join(", "),
                    sig(lr0, 3),
                    sig(v.initial_error, 4),
                    sig(v.final_error, 4),
                    epochs
                );
                out.push(Remedy {
                    kind: RemedyKind::Init { values },
                    verdict: v,
                    epochs,
                    text,
                });
                break 'init;
            }
        }
    }

    // 4. An adaptive optimizer: torch.optim.Adam, the learning rate with the lowest
    //    final error among a few that converge.
    let mut best: Option<(f64, Verdict)> = None;
    for lr in [0.001, 0.003, 0.01, 0.03, 0.1, 0.3] {
        let mut c = vcfg.clone();
        c.optimizer = Optimizer::torch_adam(lr);
        if let Some(v) = converges(&c, init)? {
            if best
                .as_ref()
                .is_none_or(|(_, b)| v.final_error < b.final_error)
            {
                best = Some((lr, v));
            }
        }
    }
    if let Some((lr, v)) = best {
        let opt = Optimizer::torch_adam(lr);
        let text = format!(
            "use torch-adam with lr {} (PyTorch's other defaults; same data and start): the re-run converges, mean error {} → {} in {} epochs; \
             Adam divides each step by the running size of the gradient, so a steep row cannot throw the parameters far",
            sig(lr, 3),
            sig(v.initial_error, 4),
            sig(v.final_error, 4),
            epochs
        );
        out.push(Remedy {
            kind: RemedyKind::Optimizer {
                optimizer: opt.to_string(),
                lr,
            },
            verdict: v,
            epochs,
            text,
        });
    }
    Ok(out)
}

/// The parameters that make up most of a unit direction (|component| ≥ 0.3), largest first.
fn dominant(dir: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..dir.len()).filter(|&i| dir[i].abs() >= 0.3).collect();
    idx.sort_by(|&a, &b| dir[b].abs().total_cmp(&dir[a].abs()));
    idx
}

fn describe_row(model: &Model, inputs: &[f64]) -> String {
    model
        .columns
        .iter()
        .zip(inputs)
        .map(|(c, v)| format!("{c} = {}", sig(*v, 6)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_params(names: &[String], vals: &[f64]) -> String {
    names
        .iter()
        .zip(vals)
        .map(|(n, v)| format!("{n} = {}", sig(*v, 4)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn direction_text(names: &[String], dir: &[f64]) -> String {
    dominant(dir)
        .iter()
        .map(|&i| format!("{} {}", names[i], sig(dir[i], 2)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a step's update was infinite or NaN when the cause is a division by a state of
/// exactly zero, not the step size: the workbook rules have no ε. `step` is 1-based;
/// the state before step 1 is the optimizer's initial zeros.
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
    if step == 0 || step > trace.len() {
        return None;
    }
    let before = (step >= 2).then(|| trace.step(step - 2));
    zero_divisor_at(opt, &trace.step(step - 1), before.as_ref(), names, step)
}

/// [`zero_divisor`] from the bad step itself and the one before it (if any), for a run
/// that did not keep its steps.
pub fn zero_divisor_at(
    opt: &Optimizer,
    bad: &gradsheet_train::StepView<'_>,
    previous: Option<&gradsheet_train::StepView<'_>>,
    names: &[String],
    step: usize,
) -> Option<String> {
    let n = names.len();
    let i = (0..n).find(|&i| {
        !bad.new_params[i].is_finite() && bad.params[i].is_finite() && bad.grads[i].is_finite()
    })?;
    let name = &names[i];
    match opt {
        Optimizer::Rmsprop { .. } => {
            let before = previous.map_or(0.0, |p| p.state[i]);
            (before == 0.0).then(|| {
                format!(
                    "Step {step} divided {name}'s update by √s, and s (the running mean of {name}'s squared \
                     gradient, which starts at 0, as the formula says) was still 0: g·lr/√0 is infinite, whatever \
                     the learning rate. The workbook's Reset starts s at 10000 and runs two passes before the \
                     first step (`gradsheet graddesc --sheet rmsprop` replays it); torch-rmsprop adds ε to √s."
                )
            })
        }
        Optimizer::Adam { .. } => (bad.state[n + i] == 0.0).then(|| {
            format!(
                "Step {step} divided {name}'s update by √s, and s (the running mean of {name}'s squared gradient) \
                 is 0: {name}'s gradient has been exactly 0 at every step so far, so the update is m·lr/√0 = 0/0, \
                 not a number. No learning rate avoids this; torch-adam adds ε to √s."
            )
        }),
        _ => None,
    }
}

fn write_sections(d: &Diagnosis, trainer: &Trainer, trace: &Trace) -> Vec<(String, Vec<String>)> {
    let model = &trainer.model;
    let names = &model.params;
    let mut sections = Vec::new();
    let lim = sig(d.limit, 3);
    let klr = if d.k == 1.0 {
        "lr·λ_max".to_string()
    } else {
        format!("{}·lr·λ_max", sig(d.k, 3))
    };

    // What happened.
    let mut s = Vec::new();
    s.push(format!(
        "{} with {}, {} rows, {} steps taken.",
        d.model, d.optimizer, trainer.n_rows, d.steps
    ));
    match (&d.stop, &d.divergence) {
        (Stop::Diverged { .. }, Some(dv)) => {
            let at = trace.step(dv.step - 1);
            s.push(format!(
                "DIVERGED at step {} (epoch {}, data row {}: {}): {}.",
                dv.step,
                at.epoch,
                dv.row + 1,
                describe_row(model, at.inputs),
                dv.reason
            ));
            s.push(format!(
                "The trace keeps the {} finite steps before it; step {} is recorded and marked as the first bad one.",
                dv.finite_steps, dv.step
            ));
            if let Some(c) = &dv.cause {
                s.push(c.clone());
            }
        }
        (Stop::Completed, _) => s.push(format!(
            "It did not diverge. Over {} epochs the mean error goes {} → {} ({}).",
            d.verify_epochs,
            sig(d.verdict.initial_error, 4),
            sig(d.verdict.final_error, 4),
            d.verdict.class.name()
        )),
        _ => {}
    }
    sections.push(("What happened".to_string(), s));

    // The bound.
    let mut s = Vec::new();
    s.push(
        "Plain SGD on one row is stable only while lr·λ_max < 2, where λ_max is the largest eigenvalue of the Hessian \
         of that row's error (its curvature in the steepest direction); past it each step overshoots the row's minimum \
         and its error grows by about (lr·λ_max − 1)². Rows past the bound push the run apart and rows under it pull it \
         back: a run diverges when the steep rows win."
            .to_string(),
    );
    if !d.bound_applies {
        s.push(format!("{} adapts its step to the gradient, so the bound below is plain SGD's at the same lr, a guide rather than a rule.", d.optimizer));
    } else if d.k != 1.0 || d.limit != 2.0 {
        s.push(format!(
            "For {} the bound is {} < {}.",
            d.optimizer, klr, lim
        ));
    }
    let unstable_init: Vec<&RowBound> = d
        .at_init
        .iter()
        .filter(|b| d.k * d.lr * b.lambda_max > d.limit)
        .collect();
    if let Some(worst) = d
        .at_init
        .iter()
        .max_by(|a, b| a.lambda_max.total_cmp(&b.lambda_max))
    {
        s.push(format!(
            "At the initial values ({}), {} of {} rows are past the bound; the steepest is {}: λ_max = {}; {} = {} {} {} \
             (stable only for lr < {}).",
            describe_params(names, &d.init),
            unstable_init.len(),
            d.at_init.len(),
            describe_row(model, &worst.inputs),
            sig(worst.lambda_max, 5),
            klr,
            sig(d.k * d.lr * worst.lambda_max, 3),
            if d.k * d.lr * worst.lambda_max > d.limit { ">" } else { "<" },
            lim,
            sig(worst.max_lr, 3)
        ));
    }
    sections.push(("The stability bound".to_string(), s));

    if let Some(dv) = &d.divergence {
        let mut s = Vec::new();
        if let Some(o) = &dv.onset {
            s.push(format!(
                "From step {} on (epoch {}, data row {}: {}) every step is past the bound: λ_max = {}; {} = {} > {}. \
                 The steep direction is mostly {}.",
                o.step,
                o.epoch,
                o.row + 1,
                describe_row(model, &o.inputs),
                sig(o.lambda_max(), 5),
                klr,
                sig(o.lr_lambda, 3),
                lim,
                direction_text(names, &o.direction)
            ));
        }
        for c in &dv.growth {
            s.push(format!(
                "step {:>4}  {}: err {}, λ_max = {}; {} = {}{}   ({})",
                c.step,
                describe_row(model, &c.inputs),
                sig(c.error, 4),
                sig(c.lambda_max(), 5),
                klr,
                sig(c.lr_lambda, 3),
                if c.lr_lambda > d.limit {
                    format!(" > {lim}")
                } else {
                    String::new()
                },
                describe_params(names, &c.params)
            ));
        }
        if let Some(f) = &dv.first_unstable {
            s.push(format!(
                "The first step past the bound was step {} ({}, {} = {}); {} of the {} steps before the divergence were past it.",
                f.step,
                describe_row(model, &f.inputs),
                klr,
                sig(f.lr_lambda, 3),
                dv.unstable_steps,
                dv.finite_steps
            ));
        } else {
            s.push("No step before it was past the bound: the run failed by a NaN or an infinite value, not by overshooting.".into());
        }
        sections.push(("Where it starts".to_string(), s));
    }

    if let Some(c) = &d.collapse {
        let lin = &c.linear;
        let mut s = Vec::new();
        let slopes: Vec<String> = lin
            .inputs
            .iter()
            .zip(&lin.slopes)
            .map(|(x, e)| format!("({})·{x}", e.to_math()))
            .collect();
        s.push(format!(
            "{}{} is {} + ({}): the {} parameters {} only ever act through {} numbers, the effective {}.",
            if c.while_units_on { "While every unit is on, " } else { "" },
            d.model,
            slopes.join(" + "),
            lin.intercept.to_math(),
            names.len(),
            names.join(", "),
            lin.inputs.len() + 1,
            if lin.inputs.len() == 1 { "slope and intercept" } else { "slopes and intercept" }
        ));
        let fmt_eff = |(sl, t): &(Vec<f64>, f64)| {
            let v: Vec<String> = lin
                .slopes
                .iter()
                .zip(sl)
                .map(|(e, v)| format!("{} = {}", e.to_math(), sig(*v, 4)))
                .collect();
            format!(
                "{}, {} = {}",
                v.join(", "),
                lin.intercept.to_math(),
                sig(*t, 4)
            )
        };
        s.push(format!("At the start: {}.", fmt_eff(&c.at_init)));
        let pick: Vec<usize> = match &d.divergence {
            Some(dv) => {
                let mut v: Vec<usize> = dv.growth.iter().map(|g| g.step).collect();
                v.dedup();
                v
            }
            None => {
                let n = c.along.len();
                [n / 4, n / 2, n.saturating_sub(1)]
                    .into_iter()
                    .filter(|&i| i < n)
                    .map(|i| c.along[i].0)
                    .collect()
            }
        };
        for st in pick {
            if let Some((_, sl, t)) = c.along.iter().find(|(k, _, _)| *k == st) {
                s.push(format!("before step {st}: {}", fmt_eff(&(sl.clone(), *t))));
            }
        }
        let curv: Vec<String> = lin
            .curvature
            .iter()
            .map(|(p, e)| format!("∂²e/∂{p}² = {}", e.to_math()))
            .collect();
        s.push(format!(
            "The extra parameters multiply each other in the gradient, so the curvature grows with them: {}. \
             In the simple model {} the curvature along the slope is just 2·x² (for a squared error).",
            curv.join(", "),
            lin.simple_formula()
        ));
        if let Some(f) = &c.at_fit {
            s.push(format!(
                "At a fit (where the best remedy below ends, mean error {}: {}; effective {}), the row {} has λ_max = {} in \
                 this model but {} in {} at the same effective parameters: the reparametrised model tolerates lr < {}, the \
                 simple one lr < {}.",
                sig(f.error, 4),
                describe_params(names, &f.params),
                fmt_eff(&f.effective),
                describe_row(model, &f.inputs),
                sig(f.lambda_model, 5),
                sig(f.lambda_simple, 5),
                lin.simple_formula(),
                sig(d.limit / (d.k * f.lambda_model), 3),
                sig(d.limit / (d.k * f.lambda_simple), 3)
            ));
        }
        sections.push(("The collapse".to_string(), s));
    }

    if let Some(u) = &d.units {
        let mut s = Vec::new();
        for h in &u.histories {
            let n = h.on_at_init.len();
            let on0 = h.on_at_init.iter().filter(|b| **b).count();
            s.push(format!("Unit {} is on where {} ≥ 0 (the engine's tie rule); at the start it is on for {} of {} rows.", h.unit, h.arg, on0, n));
            // Segments of the first epoch where the count of rows on stays the same.
            let first_epoch: Vec<(usize, usize)> = trace
                .steps()
                .zip(&h.rows_on)
                .take_while(|(st, _)| st.epoch == 1)
                .map(|(st, &c)| (st.step, c))
                .collect();
            let mut i = 0;
            while i < first_epoch.len() {
                let mut j = i;
                while j + 1 < first_epoch.len() && first_epoch[j + 1].1 == first_epoch[i].1 {
                    j += 1;
                }
                s.push(format!(
                    "epoch 1, steps {}–{}: on for {} of {} rows",
                    first_epoch[i].0, first_epoch[j].0, first_epoch[i].1, n
                ));
                i = j + 1;
            }
            if let Some(dead) = h.dead_from {
                let st = trace.step(dead - 1);
                let prev = (dead >= 2).then(|| trace.step(dead - 2));
                let mut line = format!(
                    "From step {dead} on the unit is off on every row, to the end of the run",
                );
                if let Some(p) = prev {
                    line.push_str(&format!(
                        ": step {} ({}) moved the parameters from {} to {}",
                        p.step,
                        describe_row(model, p.inputs),
                        describe_params(names, p.params),
                        describe_params(names, st.params)
                    ));
                    if let Some(c) = d
                        .divergence
                        .as_ref()
                        .and_then(|dv| dv.growth.iter().find(|g| g.step == p.step))
                    {
                        line.push_str(&format!(
                            " (a step past the bound: {} = {})",
                            klr,
                            sig(c.lr_lambda, 3)
                        ));
                    } else {
                        let (vals, _) = Curv::new(trainer).eigen(&[p.row as u32], p.params);
                        line.push_str(&format!(
                            " ({} = {} on that row)",
                            klr,
                            sig(d.k * p.lr * vals[0], 3)
                        ));
                    }
                }
                line.push('.');
                s.push(line);
                s.push(format!(
                    "While it is off, {} {} exactly zero gradient (the MAX passes nothing back); only {} still {}.",
                    h.frozen.join(", "),
                    if h.frozen.len() == 1 { "gets" } else { "get" },
                    if h.learning.is_empty() { "nothing".to_string() } else { h.learning.join(", ") },
                    if h.learning.len() == 1 { "learns" } else { "learn" }
                ));
            } else {
                let offs = h.first_off.iter().filter(|f| f.is_some()).count();
                s.push(format!(
                    "It never dies for good; {offs} of {n} rows saw it off at some step."
                ));
            }
        }
        if let Some((twin, bad)) = &u.twin {
            s.push(match bad {
                Some(b) => format!("Without the unit, {twin} diverges in the same run at step {b}: the unit switching off is what stops the explosion."),
                None => format!("Without the unit, {twin} does not diverge in the same run."),
            });
        }
        if u.histories.iter().any(|h| h.dead_from.is_some()) {
            let mut line = format!("With every unit off the prediction is {}", u.off_prediction);
            if let Some(b) = u.best_when_off {
                line.push_str(&format!(
                    ": a constant, whose best mean error is the variance of the target, {}",
                    sig(b, 4)
                ));
            }
            line.push('.');
            s.push(line);
            if let Some((lam, half)) = u.live_curvature {
                if half.is_finite() {
                    s.push(format!(
                        "What still learns has curvature {} per row, so at lr {} it closes half its distance to its optimum only every {} epochs.",
                        sig(lam, 3),
                        sig(d.lr, 3),
                        sig(half, 3)
                    ));
                }
            }
            let mut line = format!(
                "That is why the error stays high: after {} epochs the mean error is {}",
                d.verify_epochs,
                sig(d.verdict.final_error, 4)
            );
            if let Some(se) = u.simple_error {
                line.push_str(&format!(
                    ", while the one-neuron model reaches {} in the same run",
                    sig(se, 4)
                ));
            }
            line.push('.');
            s.push(line);
        }
        sections.push(("The ReLU units".to_string(), s));
    }

    let mut s = Vec::new();
    if d.verdict.class == Class::Converged {
        s.push(format!(
            "None needed: over {} epochs the run converges.",
            d.verify_epochs
        ));
    } else if d.remedies.is_empty() {
        s.push(format!(
            "No remedy tried converged within {} epochs.",
            d.verify_epochs
        ));
    }
    for (i, r) in d.remedies.iter().enumerate() {
        s.push(format!("{}. {}.", i + 1, r.text));
    }
    if !d
        .remedies
        .iter()
        .any(|r| matches!(r.kind, RemedyKind::Init { .. }))
        && !d.remedies.is_empty()
    {
        let past_at_fit = d
            .collapse
            .as_ref()
            .and_then(|c| c.at_fit.as_ref())
            .filter(|f| d.k * d.lr * f.lambda_model > d.limit);
        s.push(match past_at_fit {
            Some(f) => format!(
                "(No smaller initialisation converged at this lr: at the fit itself the row {} is past the bound, \
                 {} = {} > {}, wherever training starts.)",
                describe_row(model, &f.inputs),
                klr,
                sig(d.k * d.lr * f.lambda_model, 3),
                lim
            ),
            None => "(No smaller initialisation converged at this lr.)".to_string(),
        });
    }
    sections.push((
        format!(
            "Remedies (each verified by a re-run of {} epochs)",
            d.verify_epochs
        ),
        s,
    ));
    sections
}

//! The work behind each endpoint: request DTOs in, answer DTOs out, every input checked
//! against [`Limits`] before any work starts. Synchronous and CPU-bound; the handlers
//! run these on tokio's blocking pool.

use std::time::Instant;

use gradsheet_diagnose::{explain, ExplainOptions};
use gradsheet_engine::{
    check_derivative, fd, parse, CheckOptions, Dataset, Finding, FormulaError, Model, Roles, Scheme,
};
use gradsheet_jit::rayon::prelude::*;
use gradsheet_jit::{surface, Kernels};
use gradsheet_train::{
    Generator, Hooks, Hyper, Optimizer, Record, Stop, Trace, TrainConfig, Trainer,
};

use crate::dto::*;
use crate::{ApiError, Limits};

/// Points kept of a path or an error curve: enough for any chart, small enough to send
/// on every slider move.
const MAX_POINTS: usize = 3000;

/// The largest per-row error formula, and sum of its derivatives, in tree nodes, whose
/// divergence gets the full analysis (`c*MAX(a*x+b,0)+d` with a squared error: 14 and 70).
const MAX_DIAGNOSED_SIZE: usize = 400;

/// Runs up to this many steps record every step (a graddesc-size run is 2,900); longer
/// runs record epoch summaries and replay only the epoch shown.
const RECORD_STEPS_LIMIT: usize = 200_000;

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

/// Parses the model and loss against the data's columns, with formula errors located.
pub fn model(spec: &ModelSpec, data: &Dataset, lim: &Limits) -> Result<Model, ApiError> {
    for (what, text) in [("model", &spec.model), ("loss", &spec.loss)] {
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
    Model::new(&spec.model, &spec.loss, &roles).map_err(|e| {
        let field = if e.source == spec.model {
            "model"
        } else {
            "loss"
        };
        ApiError::formula(field, &e)
    })
}

/// The answer of `/api/formula`.
pub fn formula(spec: &FormulaSpec, lim: &Limits) -> Result<FormulaOut, ApiError> {
    let data = dataset(&spec.model.data, lim)?;
    let m = model(&spec.model, &data, lim)?;
    Ok(FormulaOut {
        params: m.params.clone(),
        columns: m.columns.clone(),
        constants: m
            .constants
            .iter()
            .map(|(n, v)| (n.clone(), Num(*v)))
            .collect(),
        loss: m.loss_src.clone(),
        row_error: show(&m.error, lim),
        loss_derivative: show(&m.loss_derivative(), lim),
        derivatives: derivatives(&m, lim),
    })
}

fn derivatives(m: &Model, lim: &Limits) -> Vec<DerivativeOut> {
    m.params
        .iter()
        .map(|p| DerivativeOut {
            param: p.clone(),
            formula: show(&m.derivative(p), lim),
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
fn init_values(
    m: &Model,
    given: &std::collections::BTreeMap<String, f64>,
) -> Result<Vec<f64>, ApiError> {
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
    Optimizer::from_name(name, &hyper).map_err(|e| {
        let msg = e.to_string();
        let field = if msg.contains("learning rate") {
            "lr"
        } else if msg.contains("β1") {
            "beta1"
        } else if msg.contains("β2") {
            "beta2"
        } else if msg.contains('β') {
            "beta1"
        } else {
            "optimizer"
        };
        ApiError::bad(msg, field)
    })
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

/// Why a diverged run went wrong: gradsheet-diagnose's explanation (the curvature at the
/// bad step, the stability bound, remedies verified by re-running), or the trace's stop
/// reason alone if the analysis cannot run.
fn diagnosis(
    trainer: &Trainer,
    init: &[f64],
    cfg: &TrainConfig,
    stop: &StopOut,
) -> Option<DiagnosisOut> {
    if stop.kind != "diverged" {
        return None;
    }
    let headline = format!(
        "the run diverged at step {} (epoch {}, data row {})",
        stop.step.unwrap_or(0),
        stop.epoch.unwrap_or(0),
        stop.row.unwrap_or(0)
    );
    // The analysis evaluates the Hessian at every step up to the bad one and verifies each
    // remedy by re-running (a bisection is a dozen re-runs): bound both so that a request's
    // work stays within the same order as the run's.
    let verify = (200_000 / trainer.n_rows.max(1))
        .clamp(1, 100)
        .min(cfg.epochs.max(1));
    let opts = ExplainOptions {
        verify_epochs: verify,
        max_steps: 20_000,
        remedies: true,
    };
    // The analysis differentiates the error twice symbolically and evaluates the Hessian
    // at every step; for a large formula, or one whose derivatives grow large (nested
    // EXPs, long products), that alone takes seconds to minutes. Such models get the stop
    // reason only; the size of the first derivatives predicts the second's.
    let m = &trainer.model;
    let small = m.params.len() <= 12
        && m.error.size() <= MAX_DIAGNOSED_SIZE
        && m.params
            .iter()
            .map(|p| m.derivative(p).size())
            .sum::<usize>()
            <= MAX_DIAGNOSED_SIZE;
    let analysis = if small {
        explain(trainer, init, cfg, &opts).ok()
    } else {
        None
    };
    match analysis {
        Some(d) if !d.sections.is_empty() => Some(DiagnosisOut {
            headline,
            sections: d
                .sections
                .into_iter()
                .map(|(title, lines)| SectionOut { title, lines })
                .collect(),
            source: "diagnose".into(),
        }),
        _ => Some(DiagnosisOut {
            headline,
            sections: vec![SectionOut {
                title: "What happened".into(),
                lines: vec![
                    stop.reason
                        .clone()
                        .unwrap_or_else(|| "a value stopped being finite".into()),
                    if small {
                        "the detailed analysis could not run for this model".into()
                    } else {
                        "the detailed analysis (curvature, stability bound, remedies) is skipped for a formula this large; \
                         `gradsheet explain` runs it"
                            .into()
                    },
                ],
            }],
            source: "trace".into(),
        }),
    }
}

/// Every `k`-th index of `0..n` and the last, at most about `max` of them.
fn thin(n: usize, max: usize) -> impl Iterator<Item = usize> {
    let k = n.div_ceil(max.max(1)).max(1);
    (0..n).filter(move |i| i % k == 0 || *i + 1 == n)
}

/// The answer of `/api/train`.
pub fn train(spec: &TrainSpec, lim: &Limits) -> Result<TrainOut, ApiError> {
    let t0 = Instant::now();
    let data = dataset(&spec.model.data, lim)?;
    let m = model(&spec.model, &data, lim)?;
    let init = init_values(&m, &spec.init)?;
    let opt = optimizer(&spec.optimizer, &spec.hyper)?;
    let trainer = Trainer::new(&m, &data).map_err(|e| ApiError::bad(e.to_string(), "data"))?;
    let n = trainer.n_rows;
    let batch = if spec.batch == 0 || spec.batch > n {
        n
    } else {
        spec.batch
    };
    let spe = n.div_ceil(batch);
    let total = check_steps(spec.epochs, spe, 1, lim)?;

    let mut cfg = TrainConfig::new(opt.clone(), spec.epochs);
    cfg.batch_size = batch;
    if spec.show_fd {
        cfg.show_fd = Some((Scheme::Forward, 0.01));
    }
    let record_all = total <= RECORD_STEPS_LIMIT;
    cfg.record = if record_all {
        Record::Steps
    } else {
        Record::Epochs
    };
    let run = |cfg: &TrainConfig| {
        trainer
            .run(&init, cfg, &mut Hooks::none())
            .map_err(|e| ApiError::bad(e.to_string(), "init"))
    };
    let trace = run(&cfg)?;
    let stop = stop_out(&trace.stop, spe);

    // The epoch whose rows the table shows: asked for, else where the run went wrong, else the first.
    let epochs_run = trace.epochs.len() + usize::from(matches!(trace.stop, Stop::Diverged { .. }));
    let view = spec
        .view_epoch
        .unwrap_or_else(|| stop.epoch.unwrap_or(1))
        .clamp(1, epochs_run.max(1));
    let steps = if record_all {
        steps_of(&trace, view, spe, lim)
    } else if view.saturating_mul(spe) <= RECORD_STEPS_LIMIT {
        // Runs are deterministic, so replaying the first `view` epochs reproduces them.
        let mut c = cfg.clone();
        c.epochs = view;
        c.record = Record::Steps;
        steps_of(&run(&c)?, view, spe, lim)
    } else {
        StepsOut {
            epoch: 0,
            first_step: 0,
            headers: trace.layout.headers(),
            rows: Vec::new(),
            data_rows: Vec::new(),
            truncated: false,
            note: Some(format!(
                "the rows of epoch {view} are not shown: that would replay {} steps",
                group(view.saturating_mul(spe))
            )),
        }
    };

    let mut path_steps = Vec::new();
    let path: Vec<Vec<f64>> = if record_all {
        let mut p = Vec::new();
        for i in thin(trace.len(), MAX_POINTS) {
            let s = trace.step(i);
            p.push(s.params.to_vec());
            path_steps.push((s.step, Num(s.error)));
        }
        p.push(trace.final_params.clone());
        p
    } else {
        let mut p = vec![init.clone()];
        p.extend(thin(trace.epochs.len(), MAX_POINTS).map(|i| trace.epochs[i].params.clone()));
        p
    };
    let epochs = thin(trace.epochs.len(), MAX_POINTS)
        .map(|i| {
            let e = &trace.epochs[i];
            EpochOut {
                epoch: e.epoch,
                mean_error: Num(e.mean_error),
                sheet_rmse: Num(e.sheet_rmse),
                params: nums(&e.params),
                grad_norms: nums(&e.grad_norms),
                lr: Num(e.lr),
            }
        })
        .collect();
    let mut ws = trainer.compiled.workspace();
    let final_error = trainer.mean_error(&mut ws, &trace.final_params);
    let initial_error = trainer.mean_error(&mut ws, &init);
    // A one-parameter model has no surface to draw: the chart says so, the run still runs.
    let contours = match &spec.contours {
        Some(c) if m.params.len() >= 2 => {
            Some(contours(&trainer, c, &[&path], &trace.final_params, lim)?)
        }
        _ => None,
    };
    let diag = diagnosis(&trainer, &init, &cfg, &stop);
    Ok(TrainOut {
        params: m.params.clone(),
        columns: m.columns.clone(),
        state_vars: trace.layout.state_vars.clone(),
        optimizer: opt.to_string(),
        derivatives: derivatives(&m, lim),
        steps,
        path: path.iter().map(|p| nums(p)).collect(),
        path_steps,
        epochs,
        epochs_run,
        stop,
        diagnosis: diag,
        final_params: nums(&trace.final_params),
        final_error: Num(final_error),
        initial_error: Num(initial_error),
        steps_taken: trace.steps_taken,
        n_rows: n,
        steps_per_epoch: spe,
        compute_ms: t0.elapsed().as_secs_f64() * 1e3,
        contours,
    })
}

/// The recorded step rows of epoch `view`.
fn steps_of(trace: &Trace, view: usize, spe: usize, lim: &Limits) -> StepsOut {
    let first = (view - 1) * spe;
    let last = (first + spe).min(trace.len());
    let shown = last.saturating_sub(first).min(lim.max_rows_shown);
    let mut rows = Vec::with_capacity(shown);
    let mut data_rows = Vec::with_capacity(shown);
    let w = trace.layout.width();
    for i in first..first + shown {
        rows.push(nums(&trace.values[i * w..(i + 1) * w]));
        data_rows.push(trace.meta[i].1 as usize + 1);
    }
    StepsOut {
        epoch: view,
        first_step: first + 1,
        headers: trace.layout.headers(),
        rows,
        data_rows,
        truncated: last.saturating_sub(first) > shown,
        note: None,
    }
}

/// The mean error on a grid of two parameters around the given paths (or in the ranges asked).
fn contours(
    trainer: &Trainer,
    spec: &ContourSpec,
    paths: &[&[Vec<f64>]],
    at: &[f64],
    lim: &Limits,
) -> Result<ContoursOut, ApiError> {
    let m = &trainer.model;
    if m.params.len() < 2 {
        return Err(ApiError::bad(
            "the error surface needs a model with at least two parameters",
            "contours",
        ));
    }
    let names = spec
        .params
        .clone()
        .unwrap_or_else(|| [m.params[0].clone(), m.params[1].clone()]);
    let idx = |name: &str| {
        m.params.iter().position(|p| p == name).ok_or_else(|| {
            ApiError::bad(
                format!(
                    "{name} is not a parameter (they are {})",
                    m.params.join(", ")
                ),
                "contours",
            )
        })
    };
    let (ix, iy) = (idx(&names[0])?, idx(&names[1])?);
    if ix == iy {
        return Err(ApiError::bad(
            "the two axes of the error surface must be different parameters",
            "contours",
        ));
    }
    // Keep the grid's total work (points × rows) within the budget by coarsening it.
    let mut n = spec.n.clamp(8, lim.max_grid);
    while n > 8 && n * n * trainer.n_rows > lim.max_surface {
        n -= 1;
    }
    let range = |i: usize, given: Option<[f64; 2]>| -> [f64; 2] {
        if let Some([a, b]) = given {
            if a.is_finite() && b.is_finite() && a < b {
                return [a, b];
            }
        }
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for p in paths.iter().flat_map(|p| p.iter()) {
            let v = p[i];
            if v.is_finite() && v.abs() < 1e12 {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        if !lo.is_finite() {
            return [-1.0, 1.0];
        }
        // A path that barely moves (or diverges at its first step) still gets a window
        // wide enough to show the surface's shape around it.
        let span = (hi - lo).max(0.2 * lo.abs().max(hi.abs()).max(1.0));
        [lo - 0.15 * span, hi + 0.15 * span]
    };
    let [x0, x1] = range(ix, spec.x);
    let [y0, y1] = range(iy, spec.y);
    let xs: Vec<f64> = (0..n)
        .map(|i| x0 + (x1 - x0) * i as f64 / (n - 1) as f64)
        .collect();
    let ys: Vec<f64> = (0..n)
        .map(|j| y0 + (y1 - y0) * j as f64 / (n - 1) as f64)
        .collect();
    let axes = surface::Axes {
        x: (ix, &xs),
        y: (iy, &ys),
    };
    let values = surface::mean_error_grid(&trainer.compiled, &trainer.rows, at, axes)
        .map_err(|e| ApiError::bad(e.to_string(), "contours"))?;
    let mut best = (f64::INFINITY, [xs[0], ys[0]]);
    let mut z = Vec::with_capacity(n);
    for (line, &y) in values.chunks_exact(n).zip(&ys) {
        for (&e, &x) in line.iter().zip(&xs) {
            if e < best.0 {
                best = (e, [x, y]);
            }
        }
        z.push(line.iter().map(|&e| Num(e)).collect());
    }
    let fixed = m
        .params
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != ix && *i != iy)
        .map(|(i, name)| (name.clone(), Num(at[i])))
        .collect();
    Ok(ContoursOut {
        params: names,
        x: xs,
        y: ys,
        z,
        fixed,
        min: best.1,
    })
}

fn rel(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / a.abs().max(b.abs()).max(1e-300)
    }
}

/// The answer of `/api/check`: symbolic, automatic and central-difference derivatives on
/// every row, and what a typed derivative is.
pub fn check(spec: &CheckSpec, lim: &Limits) -> Result<CheckOut, ApiError> {
    let data = dataset(&spec.model.data, lim)?;
    let m = model(&spec.model, &data, lim)?;
    let params = init_values(&m, &spec.at)?;
    if !(spec.h.is_finite() && spec.h > 0.0) {
        return Err(ApiError::bad(
            format!("h = {} must be a number > 0", spec.h),
            "h",
        ));
    }
    let trainer = Trainer::new(&m, &data).map_err(|e| ApiError::bad(e.to_string(), "data"))?;
    let symbolic: Vec<_> = m.params.iter().map(|p| m.derivative(p)).collect();
    let mut ws = trainer.compiled.workspace();
    let mut grad = vec![0.0; params.len()];
    let mut scratch = vec![0.0; params.len()];
    let (mut max_s, mut max_c) = (0.0f64, 0.0f64);
    let mut rows = Vec::new();
    for i in 0..trainer.n_rows {
        let row = trainer.row(i).to_vec();
        trainer.compiled.row_grad(&mut ws, &row, &params, &mut grad);
        let env = |name: &str| {
            m.columns
                .iter()
                .position(|c| c == name)
                .map(|j| row[j])
                .or_else(|| m.params.iter().position(|p| p == name).map(|j| params[j]))
                .or_else(|| m.constants.iter().find(|(c, _)| c == name).map(|(_, v)| *v))
        };
        let mut out = CheckRow {
            inputs: nums(&row),
            symbolic: Vec::new(),
            automatic: Vec::new(),
            central: Vec::new(),
        };
        for (k, s) in symbolic.iter().enumerate() {
            let sv = s.eval(&env).unwrap_or(f64::NAN);
            let mut ws2 = trainer.compiled.workspace();
            let mut f = |p: &[f64]| trainer.compiled.row(&mut ws2, &row, p).1;
            let c = fd::estimate(&mut f, &params, k, spec.h, Scheme::Central, &mut scratch);
            max_s = max_s.max(rel(sv, grad[k]));
            max_c = max_c.max(rel(c, grad[k]));
            out.symbolic.push(Num(sv));
            out.automatic.push(Num(grad[k]));
            out.central.push(Num(c));
        }
        if rows.len() < lim.max_rows_shown {
            rows.push(out);
        }
    }
    let claimed = match &spec.claimed {
        Some((param, text)) if !text.trim().is_empty() => {
            if text.chars().count() > lim.max_formula_len {
                return Err(ApiError::bad("the typed derivative is too long", "claimed"));
            }
            let e = parse(text).map_err(|e| ApiError::formula("claimed", &e))?;
            let c = check_derivative(&m, &data, &params, param, &e, &CheckOptions::default())
                .map_err(|e| ApiError::bad(e.to_string(), "claimed"))?;
            let mut s = c.summary();
            if !matches!(c.finding, Finding::Exact) {
                s.push_str(&format!(
                    "; the exact derivative is ={}",
                    c.exact.to_excel()
                ));
            }
            Some(s)
        }
        _ => None,
    };
    Ok(CheckOut {
        params: m.params.clone(),
        columns: m.columns.clone(),
        h: spec.h,
        rows,
        max_rel_symbolic: Num(max_s),
        max_rel_central: Num(max_c),
        claimed,
    })
}

/// The answer of `/api/compare`: each optimizer's error curve and path from one start.
pub fn compare(spec: &CompareSpec, lim: &Limits) -> Result<CompareOut, ApiError> {
    let t0 = Instant::now();
    if spec.runs.is_empty() || spec.runs.len() > lim.max_runs {
        return Err(ApiError::bad(
            format!("compare 1 to {} optimizers", lim.max_runs),
            "runs",
        ));
    }
    let data = dataset(&spec.model.data, lim)?;
    let m = model(&spec.model, &data, lim)?;
    let init = init_values(&m, &spec.init)?;
    let trainer = Trainer::new(&m, &data).map_err(|e| ApiError::bad(e.to_string(), "data"))?;
    check_steps(spec.epochs, trainer.n_rows, spec.runs.len(), lim)?;
    let mut runs = Vec::new();
    let mut paths = Vec::new();
    let mut ws = trainer.compiled.workspace();
    for r in &spec.runs {
        let opt = optimizer(&r.optimizer, &r.hyper)?;
        let mut cfg = TrainConfig::new(opt.clone(), spec.epochs);
        cfg.record = Record::Epochs;
        let trace = trainer
            .run(&init, &cfg, &mut Hooks::none())
            .map_err(|e| ApiError::bad(e.to_string(), "init"))?;
        let mut path = vec![init.clone()];
        path.extend(thin(trace.epochs.len(), MAX_POINTS).map(|i| trace.epochs[i].params.clone()));
        let curve = thin(trace.epochs.len(), MAX_POINTS)
            .map(|i| Num(trace.epochs[i].mean_error))
            .collect();
        runs.push(CompareRun {
            label: opt.to_string(),
            curve,
            path: path.iter().map(|p| nums(p)).collect(),
            stop: stop_out(&trace.stop, trainer.n_rows),
            final_params: nums(&trace.final_params),
            final_error: Num(trainer.mean_error(&mut ws, &trace.final_params)),
        });
        paths.push((path, trace.final_params));
    }
    let contours = match &spec.contours {
        Some(c) if m.params.len() >= 2 => {
            let refs: Vec<&[Vec<f64>]> = paths.iter().map(|(p, _)| p.as_slice()).collect();
            let at = paths
                .first()
                .map(|(_, f)| f.clone())
                .unwrap_or(init.clone());
            Some(contours(&trainer, c, &refs, &at, lim)?)
        }
        _ => None,
    };
    Ok(CompareOut {
        params: m.params.clone(),
        runs,
        contours,
        compute_ms: t0.elapsed().as_secs_f64() * 1e3,
    })
}

fn axis_values(a: &AxisSpec, lim: &Limits) -> Result<Vec<f64>, ApiError> {
    if a.n == 0 || a.n > lim.max_sweep_axis {
        return Err(ApiError::bad(
            format!(
                "an axis has 1 to {} values, not {}",
                lim.max_sweep_axis, a.n
            ),
            "sweep",
        ));
    }
    if !(a.lo.is_finite() && a.hi.is_finite()) || (a.log && (a.lo <= 0.0 || a.hi <= 0.0)) {
        return Err(ApiError::bad(
            format!(
                "the range {}..{} of {} is invalid (a log axis needs values > 0)",
                a.lo, a.hi, a.name
            ),
            "sweep",
        ));
    }
    let t = |i: usize| {
        if a.n == 1 {
            0.0
        } else {
            i as f64 / (a.n - 1) as f64
        }
    };
    Ok((0..a.n)
        .map(|i| {
            if a.log {
                (a.lo.ln() + (a.hi.ln() - a.lo.ln()) * t(i)).exp()
            } else {
                a.lo + (a.hi - a.lo) * t(i)
            }
        })
        .collect())
}

fn set_hyper(h: &mut HyperSpec, name: &str, v: f64) -> Result<(), ApiError> {
    let slot = match name {
        "lr" => &mut h.lr,
        "beta1" | "beta" => &mut h.beta1,
        "beta2" => &mut h.beta2,
        "momentum" => &mut h.momentum,
        "eps" => &mut h.eps,
        "weight_decay" => &mut h.weight_decay,
        "alpha" => &mut h.alpha,
        other => {
            return Err(ApiError::bad(
                format!(
                    "cannot sweep '{other}' (lr, beta1, beta2, momentum, eps, weight_decay, alpha)"
                ),
                "sweep",
            ))
        }
    };
    *slot = Some(v);
    Ok(())
}

/// The answer of `/api/sweep`: the final error of a run at each cell of a grid of settings.
pub fn sweep(spec: &SweepSpec, lim: &Limits) -> Result<SweepOut, ApiError> {
    let t0 = Instant::now();
    let data = dataset(&spec.model.data, lim)?;
    let m = model(&spec.model, &data, lim)?;
    let init = init_values(&m, &spec.init)?;
    let trainer = Trainer::new(&m, &data).map_err(|e| ApiError::bad(e.to_string(), "data"))?;
    let xs = axis_values(&spec.x, lim)?;
    let ys = match &spec.y {
        Some(a) => axis_values(a, lim)?,
        None => vec![f64::NAN],
    };
    // Every cell's optimizer first: a bad hyperparameter is answered before anything runs.
    let mut cfgs = Vec::with_capacity(xs.len() * ys.len());
    for &y in &ys {
        for &x in &xs {
            let mut h = spec.hyper.clone();
            set_hyper(&mut h, &spec.x.name, x)?;
            if let Some(a) = &spec.y {
                set_hyper(&mut h, &a.name, y)?;
            }
            let mut cfg = TrainConfig::new(optimizer(&spec.optimizer, &h)?, spec.epochs);
            cfg.record = Record::Final;
            cfgs.push(cfg);
        }
    }
    // Native code (one kernel per kind of rule in the map) takes a larger budget.
    let kernels = Kernels::for_runs(&trainer.compiled, cfgs.iter().map(|c| &c.optimizer));
    let native = cfgs.iter().all(|c| {
        kernels.get(&c.optimizer).is_some() && gradsheet_jit::unsupported(&trainer, c).is_none()
    });
    let budget = Limits {
        max_steps: if native {
            lim.max_native_steps
        } else {
            lim.max_steps
        },
        ..lim.clone()
    };
    check_steps(spec.epochs, trainer.n_rows, cfgs.len(), &budget)?;
    let cells = cfgs
        .par_iter()
        .map_init(
            || trainer.compiled.workspace(),
            |ws, cfg| {
                let trace = kernels
                    .run(&trainer, &init, cfg)
                    .map_err(|e| ApiError::bad(e.to_string(), "init"))?;
                Ok(match trace.stop {
                    Stop::Diverged { step, .. } => (f64::INFINITY, step),
                    _ => (trainer.mean_error(ws, &trace.final_params), 0),
                })
            },
        )
        .collect::<Result<Vec<(f64, usize)>, ApiError>>()?;
    let mut ws = trainer.compiled.workspace();
    let z = cells
        .chunks(xs.len())
        .map(|line| line.iter().map(|&(e, _)| Num(e)).collect())
        .collect();
    let div = cells
        .chunks(xs.len())
        .map(|line| line.iter().map(|&(_, d)| d).collect())
        .collect();
    Ok(SweepOut {
        x_name: spec.x.name.clone(),
        x: xs,
        y_name: spec.y.as_ref().map(|a| a.name.clone()),
        y: if spec.y.is_some() { ys } else { vec![0.0] },
        z,
        diverged: div,
        initial_error: Num(trainer.mean_error(&mut ws, &init)),
        compute_ms: t0.elapsed().as_secs_f64() * 1e3,
    })
}

/// A run recorded step by step, for the downloads.
struct Recorded {
    data: Dataset,
    model: Model,
    init: Vec<f64>,
    cfg: TrainConfig,
    trace: Trace,
}

/// Runs `spec` recording every step, refusing runs of more than `max` steps (a download
/// of every step of a longer run belongs to the command line).
fn recorded(spec: &TrainSpec, lim: &Limits, what: &str, max: usize) -> Result<Recorded, ApiError> {
    let data = dataset(&spec.model.data, lim)?;
    let model = model(&spec.model, &data, lim)?;
    let init = init_values(&model, &spec.init)?;
    let opt = optimizer(&spec.optimizer, &spec.hyper)?;
    let trainer = Trainer::new(&model, &data).map_err(|e| ApiError::bad(e.to_string(), "data"))?;
    let n = trainer.n_rows;
    let batch = if spec.batch == 0 || spec.batch > n {
        n
    } else {
        spec.batch
    };
    let total = check_steps(spec.epochs, n.div_ceil(batch), 1, lim)?;
    if total > max {
        return Err(ApiError::bad(
            format!(
                "{what} of {} steps is too large to download here (the limit is {}); use the command line",
                group(total),
                group(max)
            ),
            "epochs",
        ));
    }
    let mut cfg = TrainConfig::new(opt, spec.epochs);
    cfg.batch_size = batch;
    if spec.show_fd {
        cfg.show_fd = Some((Scheme::Forward, 0.01));
    }
    let trace = trainer
        .run(&init, &cfg, &mut Hooks::none())
        .map_err(|e| ApiError::bad(e.to_string(), "init"))?;
    Ok(Recorded {
        data,
        model,
        init,
        cfg,
        trace,
    })
}

/// A run's every step as CSV (the trace's columns, preceded by step, epoch and row).
pub fn csv(spec: &TrainSpec, lim: &Limits) -> Result<String, ApiError> {
    let trace = recorded(spec, lim, "a CSV", RECORD_STEPS_LIMIT)?.trace;
    let mut out = String::from("step,epoch,row,lr");
    for h in trace.layout.headers() {
        out.push(',');
        out.push_str(&csv_field(&h));
    }
    out.push('\n');
    let w = trace.layout.width();
    for s in trace.steps() {
        out.push_str(&format!("{},{},{},{}", s.step, s.epoch, s.row + 1, s.lr));
        let i = s.step - 1;
        for v in &trace.values[i * w..(i + 1) * w] {
            out.push(',');
            out.push_str(&v.to_string());
        }
        out.push('\n');
    }
    Ok(out)
}

/// A run as an xlsx workbook whose every number is a live formula (gradsheet-report).
pub fn xlsx(spec: &TrainSpec, lim: &Limits) -> Result<Vec<u8>, ApiError> {
    let r = recorded(spec, lim, "a workbook", lim.max_xlsx_steps)?;
    let run = gradsheet_report::xlsx::RunSpec {
        model: &r.model,
        data: &r.data,
        config: &r.cfg,
        init: &r.init,
        trace: &r.trace,
    };
    gradsheet_report::xlsx::run_workbook(&run, &gradsheet_report::xlsx::XlsxOptions::default())
        .map_err(|e| ApiError::bad(e.to_string(), "epochs"))
}

/// The path on the error surface (or, for a one-parameter model, the error by epoch) as
/// SVG, drawn by gradsheet-report like the command line's charts.
pub fn svg(spec: &TrainSpec, lim: &Limits) -> Result<Vec<u8>, ApiError> {
    use gradsheet_report::chart;
    let r = recorded(spec, lim, "a chart", RECORD_STEPS_LIMIT)?;
    let runs = [(r.cfg.optimizer.name(), &r.trace)];
    let c = chart::contours(&r.model, &r.data, &runs, (0, 1))
        .unwrap_or_else(|| chart::error_by_epoch(&runs));
    chart::render(&c, chart::Format::Svg)
        .map_err(|e| ApiError::status(axum::http::StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The run as an experiment recipe (TOML) in the format of `gradsheet run`.
pub fn recipe(spec: &TrainSpec, lim: &Limits) -> Result<String, ApiError> {
    // Validate first, so that a recipe is only offered for a run that works.
    let data = dataset(&spec.model.data, lim)?;
    let m = model(&spec.model, &data, lim)?;
    let opt = optimizer(&spec.optimizer, &spec.hyper)?;
    let init = init_values(&m, &spec.init)?;
    let q = toml_str;
    let d = &spec.model.data;
    let mut s = String::from(
        "# an experiment saved from gradsheet's web app; run it with `gradsheet run recipe.toml`\n",
    );
    let name = match &spec.sheet {
        Some(sheet) => format!("graddesc lab: {sheet}"),
        None => format!("{} with {}", spec.model.model, opt.name()),
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
        q(&spec.model.model),
        q(&spec.model.loss)
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
    if !spec.model.constants.is_empty() {
        s.push_str(&format!(
            "constants = {}\n",
            table(
                spec.model
                    .constants
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

impl ApiError {
    /// A formula error, with the span turned into character positions for the page.
    pub fn formula(field: &str, e: &FormulaError) -> ApiError {
        let floor = |mut i: usize| {
            i = i.min(e.source.len());
            while !e.source.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let start = e.source[..floor(e.span.start)].chars().count();
        let end = e.source[..floor(e.span.end.max(e.span.start))]
            .chars()
            .count();
        ApiError {
            status: axum::http::StatusCode::BAD_REQUEST,
            body: ErrorBody {
                error: format!("in the {field}: {}", e.kind),
                field: Some(field.to_string()),
                span: Some([start, end]),
                caret: Some(e.render()),
            },
        }
    }
}

/// The answer of `/api/sheet`: a graddesc sheet replayed with its macros, cell for cell.
pub fn sheet(spec: &SheetSpec, lim: &Limits) -> Result<SheetOut, ApiError> {
    use gradsheet_train::graddesc::{self, Action, Sheet, Workbook};
    let t0 = Instant::now();
    let wb: Workbook = spec
        .workbook
        .parse()
        .map_err(|e: String| ApiError::bad(e, "workbook"))?;
    let sh: Sheet = spec
        .sheet
        .parse()
        .map_err(|e: String| ApiError::bad(e, "sheet"))?;
    if spec.onesteps.saturating_mul(graddesc::N_ROWS) > lim.max_steps {
        return Err(ApiError::bad(
            format!(
                "{} onesteps would take more than {} steps",
                spec.onesteps,
                group(lim.max_steps)
            ),
            "epochs",
        ));
    }
    let typed = graddesc::Settings {
        lr: spec.lr,
        beta1: spec.beta1,
        beta2: spec.beta2,
        a: spec.a,
        b: spec.b,
    };
    typed
        .check(sh)
        .map_err(|e| ApiError::bad(e.message, e.field))?;
    let bad_sheet = |e: graddesc::NoSuchSheet| ApiError::bad(e.to_string(), "sheet");
    // The β's typed before Reset (which keeps them), then Reset, then the cells a learner
    // types, then one onestep per epoch.
    let mut start = graddesc::initial(wb, sh);
    typed.before_reset(&mut start);
    let reset = graddesc::replay_actions(wb, sh, start, &[Action::Reset]).map_err(bad_sheet)?;
    let mut st = reset.state.clone();
    if let Some(v) = spec.lr {
        st.lr = v;
    }
    if let Some(v) = spec.a {
        st.a = v;
    }
    if let Some(v) = spec.b {
        st.b = v;
    }
    let mut epochs = reset.epochs.clone();
    let view = if spec.onesteps == 0 {
        graddesc::view(wb, sh, &st).map_err(bad_sheet)?
    } else {
        let r = graddesc::replay_actions(wb, sh, st, &vec![Action::Onestep; spec.onesteps])
            .map_err(bad_sheet)?;
        epochs.extend(r.epochs);
        r.view
    };
    let contours = match &spec.contours {
        Some(c) => {
            let m = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"]))
                .map_err(|e| ApiError::formula("model", &e))?;
            let trainer = Trainer::new(&m, &Dataset::graddesc())
                .map_err(|e| ApiError::bad(e.to_string(), "data"))?;
            let path: Vec<Vec<f64>> = epochs.iter().map(|e| vec![e.a, e.b]).collect();
            let at = path.last().cloned().unwrap_or_else(|| vec![1.0, 1.0]);
            Some(contours(&trainer, c, &[&path], &at, lim)?)
        }
        None => None,
    };
    Ok(SheetOut {
        contours,
        name: view.name.to_string(),
        columns: view
            .columns
            .iter()
            .map(|c| SheetColumn {
                letter: c.letter.into(),
                header: c.header.into(),
                meaning: c.meaning.into(),
                formula: c.formula.into(),
            })
            .collect(),
        first_row: view.first_row,
        rows: view.rows.iter().map(|r| nums(r)).collect(),
        cells: view
            .cells
            .iter()
            .map(|c| (c.addr.clone(), c.label.to_string(), Num(c.value)))
            .collect(),
        notes: view.notes.clone(),
        epochs: epochs
            .iter()
            .enumerate()
            .map(|(i, e)| SheetEpoch {
                epoch: i + 1,
                after: e.after.clone(),
                a: Num(e.a),
                b: Num(e.b),
                lr: Num(e.lr),
                sheet_rmse: Num(e.sheet_rmse),
            })
            .collect(),
        compute_ms: t0.elapsed().as_secs_f64() * 1e3,
    })
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

    #[test]
    fn graddesc_run_has_sheet_rows_and_contours() {
        let spec = TrainSpec {
            epochs: 100,
            hyper: HyperSpec {
                lr: Some(1e-4),
                ..HyperSpec::default()
            },
            contours: Some(ContourSpec::default()),
            ..TrainSpec::default()
        };
        let out = train(&spec, &Limits::default()).unwrap();
        assert_eq!(out.steps.rows.len(), 29);
        assert_eq!(out.steps_taken, 2900);
        assert_eq!(out.path.len(), 2901);
        let c = out.contours.unwrap();
        assert_eq!(c.z.len(), 48);
        assert_eq!(out.stop.kind, "completed");
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        let lim = Limits::default();
        let big = TrainSpec {
            epochs: 1_000_000_000_000,
            ..TrainSpec::default()
        };
        assert_eq!(
            train(&big, &lim).unwrap_err().body.field.as_deref(),
            Some("epochs")
        );
        let neg = TrainSpec {
            hyper: HyperSpec {
                lr: Some(-1.0),
                ..HyperSpec::default()
            },
            ..TrainSpec::default()
        };
        let e = train(&neg, &lim).unwrap_err();
        assert_eq!(e.body.field.as_deref(), Some("lr"));
        let mut broken = TrainSpec::default();
        broken.model.model = "a*x+".into();
        let e = train(&broken, &lim).unwrap_err();
        assert_eq!(e.body.span, Some([4, 4]));
        assert!(e.body.caret.unwrap().contains('^'));
    }

    #[test]
    fn divergence_is_reported_with_its_epoch() {
        let spec = TrainSpec {
            epochs: 20,
            hyper: HyperSpec {
                lr: Some(1e-2),
                ..HyperSpec::default()
            },
            ..TrainSpec::default()
        };
        let out = train(&spec, &Limits::default()).unwrap();
        assert_eq!(out.stop.kind, "diverged");
        assert!(out.diagnosis.is_some());
        assert_eq!(Some(out.steps.epoch), out.stop.epoch);
    }
}

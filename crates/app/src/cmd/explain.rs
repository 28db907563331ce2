//! `gradsheet explain "<model>" [--optimizer ...] [--lr ...]`: why a run diverges or why
//! its error stays high, in plain words with the numbers.

use anyhow::Result;
use gradsheet_diagnose::explain::{
    explain, Collapse, Diagnosis, Divergence, ExplainOptions, Remedy, RemedyKind, StepCurvature,
    UnitsReport,
};
use gradsheet_train::{Record, Stop, Trainer};
use serde_json::{json, Value};

use super::common::{ModelArgs, TrainArgs};
use super::usage;

/// Explain why a run diverges (or why its error stays high).
#[derive(clap::Args, Debug)]
#[command(after_help = "Example:\n  gradsheet explain \"c*(a*x+b)+d\" --optimizer sgd --lr 1e-4")]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub train: TrainArgs,
    /// Epochs of every re-run that verifies a remedy (at least --epochs).
    #[arg(long, default_value_t = 100)]
    pub verify_epochs: usize,
    /// Skip the remedies (no re-runs).
    #[arg(long)]
    pub no_remedies: bool,
    /// Print the diagnosis as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(a: Args) -> Result<()> {
    let data = a.model.dataset()?;
    let model = a.model.model(&data)?;
    let init = a.model.init(&model)?;
    let cfg = a.train.config(a.model.seed, Record::Steps)?;
    let trainer = Trainer::new(&model, &data).map_err(usage)?;
    let opts = ExplainOptions {
        verify_epochs: a.verify_epochs,
        remedies: !a.no_remedies,
        ..ExplainOptions::default()
    };
    let d = explain(&trainer, &init, &cfg, &opts).map_err(usage)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&to_json(&d))?);
    } else {
        print!("{}", d.text());
    }
    Ok(())
}

fn curvature_json(c: &StepCurvature) -> Value {
    json!({
        "step": c.step,
        "epoch": c.epoch,
        "row": c.row + 1,
        "inputs": c.inputs,
        "params": c.params,
        "error": c.error,
        "lambda_max": c.lambda_max(),
        "eigenvalues": c.eigenvalues,
        "direction": c.direction,
        "lr_lambda": c.lr_lambda,
    })
}

/// The diagnosis as JSON (rows counted from 1, as in the text).
fn to_json(d: &Diagnosis) -> Value {
    let stop = match &d.stop {
        Stop::Completed => json!({ "kind": "completed" }),
        Stop::Diverged { step, row, reason } => {
            json!({ "kind": "diverged", "step": step, "row": row + 1, "reason": reason.to_string() })
        }
        Stop::Interrupted { steps } => json!({ "kind": "interrupted", "steps": steps }),
    };
    json!({
        "model": d.model,
        "params": d.params,
        "optimizer": d.optimizer,
        "lr": d.lr,
        "stability": { "k": d.k, "limit": d.limit, "applies": d.bound_applies },
        "stop": stop,
        "steps": d.steps,
        "at_init": d.at_init.iter().map(|b| json!({
            "row": b.row + 1, "inputs": b.inputs, "lambda_max": b.lambda_max, "max_lr": b.max_lr,
        })).collect::<Vec<_>>(),
        "divergence": d.divergence.as_ref().map(divergence_json),
        "verdict": {
            "class": d.verdict.class.name(),
            "epochs": d.verify_epochs,
            "initial_error": d.verdict.initial_error,
            "final_error": d.verdict.final_error,
        },
        "remedies": d.remedies.iter().map(remedy_json).collect::<Vec<_>>(),
        "collapse": d.collapse.as_ref().map(collapse_json),
        "units": d.units.as_ref().map(units_json),
        "text": d.sections.iter().map(|(t, l)| json!({ "title": t, "lines": l })).collect::<Vec<_>>(),
    })
}

fn divergence_json(v: &Divergence) -> Value {
    json!({
        "step": v.step,
        "row": v.row + 1,
        "reason": v.reason,
        "finite_steps": v.finite_steps,
        "cause": v.cause,
        "unstable_steps": v.unstable_steps,
        "first_unstable": v.first_unstable.as_ref().map(curvature_json),
        "onset": v.onset.as_ref().map(curvature_json),
        "growth": v.growth.iter().map(curvature_json).collect::<Vec<_>>(),
    })
}

fn remedy_json(r: &Remedy) -> Value {
    let kind = match &r.kind {
        RemedyKind::LearningRate {
            lr,
            converges,
            fails,
            fails_shown,
        } => json!({
            "kind": "learning_rate", "lr": lr, "converges": converges, "fails": fails,
            "fails_shown": fails_shown,
        }),
        RemedyKind::RescaleInputs {
            columns,
            factor,
            effective,
        } => json!({
            "kind": "rescale_inputs", "columns": columns, "factor": factor,
            "effective": effective.as_ref().map(|(s, b)| json!({ "slopes": s, "intercept": b })),
        }),
        RemedyKind::Init { values } => json!({
            "kind": "init",
            "values": values.iter().map(|(n, v)| json!({ "name": n, "value": v })).collect::<Vec<_>>(),
        }),
        RemedyKind::Optimizer { optimizer, lr } => {
            json!({ "kind": "optimizer", "optimizer": optimizer, "lr": lr })
        }
    };
    json!({
        "change": kind,
        "class": r.verdict.class.name(),
        "initial_error": r.verdict.initial_error,
        "final_error": r.verdict.final_error,
        "final_params": r.verdict.final_params,
        "epochs": r.epochs,
        "text": r.text,
    })
}

fn collapse_json(c: &Collapse) -> Value {
    json!({
        "slopes": c.linear.slopes.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        "intercept": c.linear.intercept.to_string(),
        "inputs": c.linear.inputs,
        "while_units_on": c.while_units_on,
        "at_init": { "slopes": c.at_init.0, "intercept": c.at_init.1 },
        "along": c.along.iter().map(|(s, sl, t)| json!({ "step": s, "slopes": sl, "intercept": t })).collect::<Vec<_>>(),
        "curvature": c.linear.curvature.iter().map(|(p, e)| json!({ "param": p, "d2e": e.to_string() })).collect::<Vec<_>>(),
        "at_fit": c.at_fit.as_ref().map(|f| json!({
            "row": f.row + 1, "params": f.params, "error": f.error,
            "lambda_model": f.lambda_model, "lambda_simple": f.lambda_simple,
        })),
    })
}

fn units_json(u: &UnitsReport) -> Value {
    json!({
        "units": u.histories.iter().map(|h| json!({
            "unit": h.unit,
            "arg": h.arg,
            "on_at_init": h.on_at_init,
            "rows_on": h.rows_on,
            "dead_from": h.dead_from,
            "frozen": h.frozen,
            "learning": h.learning,
        })).collect::<Vec<_>>(),
        "twin": u.twin.as_ref().map(|(f, s)| json!({ "model": f, "diverges_at": s })),
        "off_prediction": u.off_prediction,
        "best_when_off": u.best_when_off,
        "simple_error": u.simple_error,
    })
}

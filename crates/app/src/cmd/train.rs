//! `gradsheet train "<model>" [--optimizer ...] [--lr ...] [--epochs N]`

use std::fmt::Write as _;

use anyhow::Result;
use gradsheet_engine::Scheme;
use gradsheet_train::{Gradient, Record, Stop, Trace, Trainer};

use gradsheet_diagnose::explain::zero_divisor;

use super::common::{page, run_live, ModelArgs, OutputArgs, TrainArgs};
use super::usage;
use crate::output::{cell, table};

/// Train a model and print its trace.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub train: TrainArgs,
    /// Also train with a finite-difference gradient (forward, backward or central, step
    /// --h) and show how far that run drifts from the one above, epoch by epoch.
    #[arg(long, value_name = "SCHEME")]
    pub compare_gradient: Option<String>,
    /// Print only the final summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print only the per-epoch summaries.
    #[arg(long)]
    pub epochs_only: bool,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// Runs the command.
pub fn run(a: Args) -> Result<()> {
    let data = a.model.dataset()?;
    let model = a.model.model(&data)?;
    let init = a.model.init(&model)?;
    let compare = match &a.compare_gradient {
        Some(s) => Some(
            s.parse::<Scheme>()
                .map_err(|e| usage(format!("--compare-gradient: {e}")))?,
        ),
        None => None,
    };
    let wants_steps =
        a.out.csv.is_some() || a.out.json.is_some() || a.out.xlsx.is_some() || a.out.plot.is_some();
    let record = if wants_steps || !(a.quiet || a.epochs_only) {
        Record::Steps
    } else if a.quiet && compare.is_none() {
        Record::Final
    } else {
        Record::Epochs
    };
    let cfg = a.train.config(a.model.seed, record)?;
    let trainer = Trainer::new(&model, &data).map_err(usage)?;
    let trace = run_live(&trainer, &init, &cfg, "training").map_err(usage)?;
    let outputs = crate::export::RunOutputs {
        model: &model,
        data: &data,
        optimizer: &cfg.optimizer,
        init: &init,
        trace: &trace,
        config: Some(&cfg),
    };
    // Written even after Ctrl-C: the trace holds every step computed before it.
    crate::export::write_outputs(&a.out, &outputs)?;
    let mut text = String::new();
    if !a.quiet && !a.epochs_only {
        text.push_str(&steps_table(&trace));
        text.push('\n');
    }
    if !a.quiet {
        text.push_str(&epochs_table(&trace));
        text.push('\n');
    }
    text.push_str(&final_summary(&trace, &cfg.optimizer));
    if let Some(scheme) = compare {
        let mut fd_cfg = cfg.clone();
        fd_cfg.gradient = Gradient::Fd {
            scheme,
            h: a.train.h,
        };
        fd_cfg.record = Record::Epochs;
        let fd = run_live(&trainer, &init, &fd_cfg, "fd run").map_err(usage)?;
        text.push('\n');
        text.push_str(&drift_table(
            &trace,
            &fd,
            &format!("{scheme} differences, h = {}", a.train.h),
        ));
    }
    page(&text);
    Ok(())
}

/// The trace as CSV (kept for callers of the first version; see [`crate::trace_io::csv`]).
#[allow(dead_code)]
pub fn trace_csv(trace: &Trace) -> String {
    crate::trace_io::csv(trace)
}

fn steps_table(trace: &Trace) -> String {
    let l = &trace.layout;
    let mut headers = vec!["step".to_string()];
    headers.extend(l.columns.iter().cloned());
    headers.extend(l.params.iter().cloned());
    headers.push("pred".into());
    headers.push("err".into());
    headers.extend(l.params.iter().map(|p| format!("de/d{p}")));
    let rows: Vec<Vec<String>> = trace
        .steps()
        .map(|s| {
            let mut v = vec![s.step.to_string()];
            v.extend(s.inputs.iter().map(|x| cell(*x, 6)));
            v.extend(s.params.iter().map(|x| cell(*x, 7)));
            v.push(cell(s.pred, 7));
            v.push(cell(s.error, 7));
            v.extend(s.grads.iter().map(|x| cell(*x, 6)));
            v
        })
        .collect();
    table(&headers, &rows)
}

fn epochs_table(trace: &Trace) -> String {
    let mut headers = vec![
        "epoch".to_string(),
        "sheet rmse".into(),
        "rmse".into(),
        "mean err".into(),
    ];
    headers.extend(trace.layout.params.iter().cloned());
    headers.extend(trace.layout.params.iter().map(|p| format!("|g_{p}|")));
    let rows: Vec<Vec<String>> = trace
        .epochs
        .iter()
        .map(|e| {
            let mut v = vec![
                e.epoch.to_string(),
                cell(e.sheet_rmse, 7),
                cell(e.rmse, 7),
                cell(e.mean_error, 7),
            ];
            v.extend(e.params.iter().map(|x| cell(*x, 7)));
            v.extend(e.grad_norms.iter().map(|x| cell(*x, 5)));
            v
        })
        .collect();
    let mut s = table(&headers, &rows);
    s.push_str(
        "(sheet rmse is the workbooks' SQRT(SUM(err)): the square root of the sum, not the mean; \
         rmse is the true one, sqrt(mean err); |g_p| = sqrt(Σg²) over the epoch)\n",
    );
    s
}

fn final_summary(trace: &Trace, optimizer: &gradsheet_train::Optimizer) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "optimizer   {optimizer}");
    let _ = writeln!(s, "steps       {}", trace.steps_taken);
    let _ = writeln!(
        s,
        "parameters  {}",
        params_text(&trace.layout.params, &trace.final_params)
    );
    if let Some(e) = trace.last_epoch() {
        let _ = writeln!(
            s,
            "last epoch  mean err {}, rmse {}",
            cell(e.mean_error, 8),
            cell(e.rmse, 8)
        );
    }
    match &trace.stop {
        Stop::Completed => {}
        Stop::Diverged { step, row, reason } => {
            let _ = writeln!(
                s,
                "DIVERGED    at step {step} (data row {}): {reason}",
                row + 1
            );
            // (Only a trace that kept its steps can say; `gradsheet explain` always can.)
            let names = &trace.layout.params;
            if let Some(cause) = zero_divisor(optimizer, trace, names, *step) {
                let _ = writeln!(s, "            {cause}");
            }
        }
        Stop::Interrupted { steps } => {
            let _ = writeln!(
                s,
                "interrupted after {steps} steps (Ctrl-C); the outputs hold every step computed"
            );
        }
    }
    s
}

fn params_text(names: &[String], values: &[f64]) -> String {
    names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n} = {}", gradsheet_engine::format_number(*v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The exact-gradient run beside a finite-difference one: parameters per epoch and the
/// largest parameter gap.
pub fn drift_table(exact: &Trace, fd: &Trace, what: &str) -> String {
    let ps = &exact.layout.params;
    let mut headers = vec!["epoch".to_string()];
    headers.extend(ps.iter().map(|p| format!("{p} exact")));
    headers.extend(ps.iter().map(|p| format!("{p} fd")));
    headers.push("max |gap|".into());
    headers.push("rmse exact".into());
    headers.push("rmse fd".into());
    let mut worst: f64 = 0.0;
    let rows: Vec<Vec<String>> = exact
        .epochs
        .iter()
        .zip(&fd.epochs)
        .map(|(e, f)| {
            let gap = e
                .params
                .iter()
                .zip(&f.params)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max);
            worst = worst.max(gap);
            let mut v = vec![e.epoch.to_string()];
            v.extend(e.params.iter().map(|x| cell(*x, 7)));
            v.extend(f.params.iter().map(|x| cell(*x, 7)));
            v.push(cell(gap, 3));
            v.push(cell(e.rmse, 6));
            v.push(cell(f.rmse, 6));
            v
        })
        .collect();
    let mut s = format!("Exact gradient vs {what}:\n");
    s.push_str(&table(&headers, &rows));
    let _ = writeln!(
        s,
        "final, exact gradient: {}",
        params_text(ps, &exact.final_params)
    );
    let _ = writeln!(s, "final, {what}: {}", params_text(ps, &fd.final_params));
    let _ = writeln!(
        s,
        "the runs drift apart by at most {} in a parameter",
        cell(worst, 4)
    );
    if let Stop::Diverged { step, reason, .. } = &fd.stop {
        let _ = writeln!(
            s,
            "the finite-difference run diverged at step {step}: {reason}"
        );
    }
    s
}

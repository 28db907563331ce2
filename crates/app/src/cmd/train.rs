//! `gradsheet train "<model>" [--optimizer ...] [--lr ...] [--epochs N]`

use anyhow::Result;
use gradsheet_train::{Hooks, Record, Stop, Trace, Trainer};

use super::common::{ModelArgs, OutputArgs, TrainArgs};
use super::usage;
use crate::output::{cell, table};

/// Train a model and print its trace.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub train: TrainArgs,
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
    let record = if a.quiet {
        Record::Final
    } else if a.epochs_only && a.out.csv.is_none() && a.out.xlsx.is_none() {
        Record::Epochs
    } else {
        Record::Steps
    };
    let cfg = a.train.config(a.model.seed, record)?;
    let trainer = Trainer::new(&model, &data).map_err(usage)?;
    let trace = trainer.run(&init, &cfg, &mut Hooks::none()).map_err(usage)?;
    let outputs = crate::export::RunOutputs {
        model: &model,
        data: &data,
        optimizer: &cfg.optimizer,
        init: &init,
        trace: &trace,
    };
    crate::export::write_outputs(&a.out, &outputs)?;
    if !a.quiet && !a.epochs_only {
        print_steps(&trace);
        println!();
    }
    if !a.quiet {
        print_epochs(&trace);
        println!();
    }
    print_final(&trace, &cfg.optimizer.to_string());
    Ok(())
}

/// The trace as CSV: one row per step, columns as [`gradsheet_train::Layout::headers`].
pub fn trace_csv(trace: &Trace) -> String {
    let mut out = String::from("step,epoch,row,lr,");
    out.push_str(&trace.layout.headers().join(","));
    out.push('\n');
    let w = trace.layout.width();
    for (i, s) in trace.steps().enumerate() {
        out.push_str(&format!("{},{},{},{}", s.step, s.epoch, s.row + 1, s.lr));
        for v in &trace.values[i * w..(i + 1) * w] {
            out.push(',');
            out.push_str(&gradsheet_engine::format_number(*v));
        }
        out.push('\n');
    }
    out
}

fn print_steps(trace: &Trace) {
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
    print!("{}", table(&headers, &rows));
}

fn print_epochs(trace: &Trace) {
    let mut headers = vec!["epoch".to_string(), "sheet rmse".into(), "rmse".into(), "mean err".into()];
    headers.extend(trace.layout.params.iter().cloned());
    let rows: Vec<Vec<String>> = trace
        .epochs
        .iter()
        .map(|e| {
            let mut v = vec![e.epoch.to_string(), cell(e.sheet_rmse, 7), cell(e.rmse, 7), cell(e.mean_error, 7)];
            v.extend(e.params.iter().map(|x| cell(*x, 7)));
            v
        })
        .collect();
    print!("{}", table(&headers, &rows));
    println!("(sheet rmse is the workbooks' SQRT(SUM(err)): the square root of the sum, not the mean)");
}

fn print_final(trace: &Trace, optimizer: &str) {
    println!("optimizer   {optimizer}");
    println!("steps       {}", trace.steps_taken);
    let ps: Vec<String> = trace
        .layout
        .params
        .iter()
        .zip(&trace.final_params)
        .map(|(n, v)| format!("{n} = {}", gradsheet_engine::format_number(*v)))
        .collect();
    println!("parameters  {}", ps.join(", "));
    if let Some(e) = trace.last_epoch() {
        println!("last epoch  mean err {}, rmse {}", cell(e.mean_error, 8), cell(e.rmse, 8));
    }
    match &trace.stop {
        Stop::Completed => {}
        Stop::Diverged { step, row, reason } => {
            println!("DIVERGED    at step {step} (data row {}): {reason}", row + 1);
        }
        Stop::Interrupted { steps } => println!("interrupted after {steps} steps"),
    }
}

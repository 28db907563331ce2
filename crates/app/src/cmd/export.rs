//! `gradsheet export "<model>" [training flags] --xlsx FILE --plot DIR --csv FILE --json FILE`
//!
//! Trains exactly as `gradsheet train` does (the same flags) and writes the outputs
//! asked for, printing what it wrote instead of the trace.

use anyhow::{Context, Result};
use gradsheet_report::xlsx::RunSetup;
use gradsheet_train::{Record, Stop, Trainer};

use super::common::{interrupted, run_live, ModelArgs, OutputArgs, TrainArgs};
use super::usage;

/// Export a run as xlsx (live formulas), CSV, JSON or charts.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  gradsheet export \"a*x+b\" --epochs 5 --xlsx run.xlsx
  gradsheet export \"c*MAX(a*x+b,0)+d\" --optimizer torch-adam --lr 0.1 --epochs 5 --show-fd forward --xlsx relu.xlsx --plot charts/
  gradsheet export \"a*x+b\" --data measurements.xlsx --sheet data --columns x=Size,y=Price --csv run.csv")]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub train: TrainArgs,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// Runs the command.
pub fn run(a: Args) -> Result<()> {
    let o = &a.out;
    if o.xlsx.is_none() && o.csv.is_none() && o.json.is_none() && o.plot.is_none() {
        return Err(usage(
            "nothing to export: give --xlsx FILE, --csv FILE, --json FILE or --plot DIR",
        ));
    }
    let data = a.model.dataset()?;
    let model = a.model.model(&data)?;
    let init = a.model.init(&model)?;
    let cfg = a.train.config(a.model.seed, Record::Steps)?;
    let trainer = Trainer::new(&model, &data).map_err(usage)?;
    let setup = RunSetup {
        model: &model,
        data: &data,
        config: &cfg,
        init: &init,
    };
    let mut outs = crate::export::Outputs::open(o, setup, &trainer.plan(&cfg))?;
    let trace = run_live(&trainer, &init, &cfg, "training", &mut outs).map_err(usage)?;
    let written = outs.commit().context("cannot export the run")?;
    if matches!(trace.stop, Stop::Interrupted { .. }) && interrupted() {
        return Err(super::interrupted(&trace, &written));
    }
    println!("{} steps of {}", trace.steps_taken, cfg.optimizer);
    if let Stop::Diverged { step, reason, .. } = &trace.stop {
        println!("the run diverged at step {step}: {reason}");
    }
    for (what, p) in [("workbook", &o.xlsx), ("CSV", &o.csv), ("JSON", &o.json)] {
        if let Some(p) = p {
            println!("wrote the {what} {}", p.display());
        }
    }
    if let Some(dir) = &o.plot {
        println!("drew the charts in {}", dir.display());
    }
    Ok(())
}

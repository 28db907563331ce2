//! `gradsheet train "<model>" [--optimizer ...] [--lr ...] [--epochs N]`

use std::fmt::Write as _;

use std::ops::ControlFlow;

use anyhow::Result;
use gradsheet_engine::Scheme;
use gradsheet_report::xlsx::RunSetup;
use gradsheet_train::{
    EpochSummary, Fanout, Gradient, Hooks, Layout, Plan, Record, RunEnd, Sink, StepView, Stop,
    Trace, Trainer,
};

use gradsheet_diagnose::explain::zero_divisor_at;

use super::common::{interrupted, page, run_live, ModelArgs, OutputArgs, TrainArgs};
use super::usage;
use crate::output::{cell, table};
use crate::shown::{self, Ends};

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

/// Step rows and epoch rows the terminal shows at each end of a long run.
const SHOWN: usize = 25;

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
    let files =
        a.out.csv.is_some() || a.out.json.is_some() || a.out.xlsx.is_some() || a.out.plot.is_some();
    let show_steps = !(a.quiet || a.epochs_only);
    let record = if files || show_steps {
        Record::Steps
    } else if a.quiet && compare.is_none() {
        Record::Final
    } else {
        Record::Epochs
    };
    let cfg = a.train.config(a.model.seed, record)?;
    let trainer = Trainer::new(&model, &data).map_err(usage)?;
    let plan = trainer.plan(&cfg);
    let setup = RunSetup {
        model: &model,
        data: &data,
        config: &cfg,
        init: &init,
    };
    let mut outs = crate::export::Outputs::open(&a.out, setup, &plan)?;
    let mut steps = StepsShown::new(&plan.layout);
    let mut epochs = EpochsShown::new();
    let fd_cfg = compare.map(|scheme| {
        let mut c = cfg.clone();
        c.gradient = Gradient::Fd {
            scheme,
            h: a.train.h,
        };
        c.record = Record::Epochs;
        c
    });
    let (end, fd) = std::thread::scope(|scope| {
        // The finite-difference run goes alongside, epoch for epoch (see `Drift`).
        let (tx, rx) = std::sync::mpsc::sync_channel::<EpochSummary>(256);
        let fd_run = fd_cfg.as_ref().map(|c| {
            let trainer = &trainer;
            let init = &init;
            scope.spawn(move || {
                let mut send = Forward(tx);
                let mut quiet = |_: usize, _: usize| {};
                let mut hooks = Hooks {
                    should_stop: &interrupted,
                    progress: &mut quiet,
                };
                gradsheet_jit::train_into(trainer, init, c, &mut hooks, &mut send, None)
            })
        });
        let mut drift = fd_run.is_some().then(|| Drift::new(rx));
        let mut sinks: Vec<&mut dyn Sink> = vec![&mut outs, &mut epochs];
        if show_steps || record == Record::Steps {
            sinks.push(&mut steps);
        }
        if let Some(d) = drift.as_mut() {
            sinks.push(d);
        }
        let end = run_live(&trainer, &init, &cfg, "training", &mut Fanout(sinks));
        // The other run stops at its next epoch if this one stopped first.
        drop(drift.as_mut().map(|d| d.rx.take()));
        let fd = fd_run.map(|h| {
            h.join()
                .map_err(|_| anyhow::anyhow!("the finite-difference run failed"))
        });
        (end, fd.map(|r| (r, drift)))
    });
    let end = end.map_err(usage)?;
    // Written even after Ctrl-C: every step computed before it, whole.
    let written = outs.commit()?;
    let mut text = String::new();
    if show_steps {
        text.push_str(&steps.table());
        text.push('\n');
    }
    if !a.quiet {
        text.push_str(&epochs.table(&plan.layout.params));
        text.push('\n');
    }
    text.push_str(&final_summary(
        &trainer,
        &end,
        &epochs,
        &steps,
        &cfg.optimizer,
    ));
    if let (Some((fd, Some(drift))), Some(scheme)) = (fd, compare) {
        let fd = fd?.map_err(usage)?;
        text.push('\n');
        text.push_str(&drift.table(
            &plan.layout.params,
            &end,
            &fd,
            &format!("{scheme} differences, h = {}", a.train.h),
        ));
    }
    page(&text);
    if matches!(end.stop, Stop::Interrupted { .. }) && super::common::interrupted() {
        return Err(super::interrupted(&end, &written));
    }
    Ok(())
}

/// The step rows the terminal shows: the first and last [`SHOWN`] (step, inputs,
/// parameters, prediction, error, gradient), and the last two steps whole, which explain
/// a divergence.
struct StepsShown {
    headers: Vec<String>,
    rows: Ends<Vec<f64>>,
    last_two: Trace,
}

impl StepsShown {
    fn new(layout: &Layout) -> StepsShown {
        let (nc, np) = (layout.columns.len(), layout.params.len());
        let mut headers = vec!["step".to_string()];
        headers.extend(layout.headers().into_iter().take(nc + 2 * np + 2));
        StepsShown {
            headers,
            rows: Ends::new(SHOWN),
            last_two: Trace::default(),
        }
    }

    fn table(&self) -> String {
        let (np, nc) = (
            self.last_two.layout.params.len(),
            self.last_two.layout.columns.len(),
        );
        let rows = shown::rows(&self.rows, self.headers.len(), |v| {
            let mut r = vec![(v[0] as u64).to_string()];
            r.extend(v[1..1 + nc].iter().map(|x| cell(*x, 6)));
            r.extend(v[1 + nc..1 + nc + np + 2].iter().map(|x| cell(*x, 7)));
            r.extend(v[1 + nc + np + 2..].iter().map(|x| cell(*x, 6)));
            r
        });
        let mut s = table(&self.headers, &rows);
        if self.rows.skipped() > 0 {
            s.push_str(&format!(
                "({} of {} steps not shown: --csv FILE or --json FILE writes every step)\n",
                shown::grouped(self.rows.skipped()),
                shown::grouped(self.rows.seen())
            ));
        }
        s
    }
}

impl Sink for StepsShown {
    fn start(&mut self, plan: &Plan) {
        Sink::start(&mut self.last_two, plan);
    }

    fn step(&mut self, s: &StepView<'_>) -> ControlFlow<()> {
        let fill = |v: &mut Vec<f64>, s: &StepView<'_>| {
            v.clear();
            v.push(s.step as f64);
            v.extend_from_slice(s.inputs);
            v.extend_from_slice(s.params);
            v.push(s.pred);
            v.push(s.error);
            v.extend_from_slice(s.grads);
        };
        self.rows.push_with(
            s,
            |s| {
                let mut v = Vec::new();
                fill(&mut v, s);
                v
            },
            fill,
        );
        let t = &mut self.last_two;
        if t.len() == 2 {
            let w = t.layout.width();
            t.values.drain(..w);
            t.meta.remove(0);
        }
        Sink::step(t, s)
    }
}

/// The epoch rows the terminal shows: the first and last [`SHOWN`].
struct EpochsShown {
    rows: Ends<EpochSummary>,
}

impl EpochsShown {
    fn new() -> EpochsShown {
        EpochsShown {
            rows: Ends::new(SHOWN),
        }
    }

    fn table(&self, params: &[String]) -> String {
        let mut headers = vec![
            "epoch".to_string(),
            "sheet rmse".into(),
            "rmse".into(),
            "mean err".into(),
        ];
        headers.extend(params.iter().cloned());
        headers.extend(params.iter().map(|p| format!("|g_{p}|")));
        let rows = shown::rows(&self.rows, headers.len(), |e| {
            let mut v = vec![
                e.epoch.to_string(),
                cell(e.sheet_rmse, 7),
                cell(e.rmse, 7),
                cell(e.mean_error, 7),
            ];
            v.extend(e.params.iter().map(|x| cell(*x, 7)));
            v.extend(e.grad_norms.iter().map(|x| cell(*x, 5)));
            v
        });
        let mut s = table(&headers, &rows);
        if self.rows.skipped() > 0 {
            s.push_str(&format!(
                "({} of {} epochs not shown: --json FILE writes every epoch)\n",
                shown::grouped(self.rows.skipped()),
                shown::grouped(self.rows.seen())
            ));
        }
        s.push_str(
            "(sheet rmse is the workbooks' SQRT(SUM(err)): the square root of the sum, not the mean; \
             rmse is the true one, sqrt(mean err); |g_p| = sqrt(Σg²) over the epoch)\n",
        );
        s
    }
}

impl Sink for EpochsShown {
    fn epoch(&mut self, e: &EpochSummary) -> ControlFlow<()> {
        self.rows
            .push_with(e, EpochSummary::clone, |t, e| t.clone_from(e));
        ControlFlow::Continue(())
    }
}

/// Hands each epoch of the finite-difference run to the exact run's [`Drift`]; stops
/// when that one is gone.
struct Forward(std::sync::mpsc::SyncSender<EpochSummary>);

impl Sink for Forward {
    fn epoch(&mut self, e: &EpochSummary) -> ControlFlow<()> {
        match self.0.send(e.clone()) {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        }
    }
}

/// The exact run beside the finite-difference one, epoch for epoch: the two run at
/// once, the exact run's epoch waiting for the other's, so that neither keeps more than
/// the rows shown.
struct Drift {
    rx: Option<std::sync::mpsc::Receiver<EpochSummary>>,
    rows: Ends<(EpochSummary, EpochSummary, f64)>,
    worst: f64,
}

impl Drift {
    fn new(rx: std::sync::mpsc::Receiver<EpochSummary>) -> Drift {
        Drift {
            rx: Some(rx),
            rows: Ends::new(SHOWN),
            worst: 0.0,
        }
    }

    fn table(&self, ps: &[String], exact: &RunEnd, fd: &RunEnd, what: &str) -> String {
        let mut headers = vec!["epoch".to_string()];
        headers.extend(ps.iter().map(|p| format!("{p} exact")));
        headers.extend(ps.iter().map(|p| format!("{p} fd")));
        headers.push("max |gap|".into());
        headers.push("rmse exact".into());
        headers.push("rmse fd".into());
        let rows = shown::rows(&self.rows, headers.len(), |(e, f, gap)| {
            let mut v = vec![e.epoch.to_string()];
            v.extend(e.params.iter().map(|x| cell(*x, 7)));
            v.extend(f.params.iter().map(|x| cell(*x, 7)));
            v.push(cell(*gap, 3));
            v.push(cell(e.rmse, 6));
            v.push(cell(f.rmse, 6));
            v
        });
        let mut s = format!("Exact gradient vs {what}:\n");
        s.push_str(&table(&headers, &rows));
        if self.rows.skipped() > 0 {
            s.push_str(&format!(
                "({} of {} epochs not shown)\n",
                shown::grouped(self.rows.skipped()),
                shown::grouped(self.rows.seen())
            ));
        }
        let _ = writeln!(
            s,
            "final, exact gradient: {}",
            params_text(ps, &exact.final_params)
        );
        let _ = writeln!(s, "final, {what}: {}", params_text(ps, &fd.final_params));
        let _ = writeln!(
            s,
            "the runs drift apart by at most {} in a parameter",
            cell(self.worst, 4)
        );
        if let Stop::Diverged { step, reason, .. } = &fd.stop {
            let _ = writeln!(
                s,
                "the finite-difference run diverged at step {step}: {reason}"
            );
        }
        s
    }
}

impl Sink for Drift {
    fn epoch(&mut self, e: &EpochSummary) -> ControlFlow<()> {
        let Some(f) = self.rx.as_ref().and_then(|rx| rx.recv().ok()) else {
            return ControlFlow::Continue(());
        };
        let gap = e
            .params
            .iter()
            .zip(&f.params)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        self.worst = self.worst.max(gap);
        let row = (e.clone(), f, gap);
        self.rows
            .push_with(&row, Clone::clone, |t, v| t.clone_from(v));
        ControlFlow::Continue(())
    }
}

fn final_summary(
    trainer: &Trainer,
    end: &RunEnd,
    epochs: &EpochsShown,
    steps: &StepsShown,
    optimizer: &gradsheet_train::Optimizer,
) -> String {
    let names = &trainer.model.params;
    let mut s = String::new();
    let _ = writeln!(s, "optimizer   {optimizer}");
    let _ = writeln!(s, "steps       {}", end.steps_taken);
    let _ = writeln!(s, "parameters  {}", params_text(names, &end.final_params));
    match epochs.rows.last() {
        Some(e) => {
            let _ = writeln!(
                s,
                "last epoch  mean err {}, rmse {}",
                cell(e.mean_error, 8),
                cell(e.rmse, 8)
            );
        }
        None => {
            // No epoch kept (--quiet): the mean error over the data at the end.
            let mut ws = trainer.compiled.workspace();
            let e = trainer.mean_error(&mut ws, &end.final_params);
            let _ = writeln!(
                s,
                "final error mean err {} over the data at these parameters, rmse {}",
                cell(e, 8),
                cell(e.sqrt(), 8)
            );
        }
    }
    match &end.stop {
        Stop::Completed => {}
        Stop::Diverged { step, row, reason } => {
            let _ = writeln!(
                s,
                "DIVERGED    at step {step} (data row {}): {reason}",
                row + 1
            );
            // (Only a run that shows its steps can say; `gradsheet explain` always can.)
            let t = &steps.last_two;
            if let Some(bad) = (!t.is_empty()).then(|| t.step(t.len() - 1)) {
                let before = (t.len() == 2 && *step > 1).then(|| t.step(0));
                if let Some(cause) = zero_divisor_at(optimizer, &bad, before.as_ref(), names, *step)
                {
                    let _ = writeln!(s, "            {cause}");
                }
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

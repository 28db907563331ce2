//! `gs.train`: one call into Rust per run. The run goes through `jit::train_into` (native
//! code where the run allows it, the interpreter otherwise: the command line's way),
//! on a thread of its own while the caller's thread, holding no GIL, watches for the
//! notebook's stop button; its steps and epochs are kept column by column for numpy.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gradsheet_engine::Scheme;
use gradsheet_report::chart::{self, Format};
use gradsheet_report::xlsx::{RunSetup, WorkbookSink, XlsxOptions};
use gradsheet_train::{
    EpochSummary, Fanout, Gradient, Hooks, Hyper, Optimizer, Plan, Record, RunEnd, Sink, StepView,
    Stop, Thinned, Trace, TrainConfig,
};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict};

use crate::block::{Block, Columns};
use crate::errors;
use crate::setup::Setup;

/// How often the waiting thread looks for a pending KeyboardInterrupt.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Runs `work` on a thread of its own with the GIL released, while this thread checks
/// for Python signals (the notebook's stop button is a SIGINT, which Python handles only
/// on the main thread) every 50 ms; a pending KeyboardInterrupt sets the flag
/// `work` polls. Returns what `work` returned, and whether it was asked to stop.
pub fn interruptible<T, F>(py: Python<'_>, work: F) -> (T, bool)
where
    T: Send,
    F: FnOnce(&AtomicBool) -> T + Send,
{
    let stop = AtomicBool::new(false);
    let out = py.detach(|| {
        std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let stop = &stop;
            let worker = s.spawn(move || {
                let out = work(stop);
                let _ = tx.send(());
                out
            });
            // The sender goes when the work ends (also by a panic), which ends the wait.
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(SIGNAL_POLL)
            {
                if !stop.load(Ordering::Relaxed) && Python::attach(|py| py.check_signals()).is_err()
                {
                    stop.store(true, Ordering::Relaxed);
                }
            }
            worker.join()
        })
    });
    match out {
        Ok(v) => (v, stop.load(Ordering::Relaxed)),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// The optimizer named `name` with the hyperparameters of `hyper` (numbers, or booleans
/// for switches such as `nesterov`).
pub fn optimizer(name: &str, hyper: &Bound<'_, PyDict>) -> PyResult<Optimizer> {
    let mut h = Hyper::new();
    for (k, v) in hyper.iter() {
        let key: String = k.extract()?;
        if let Ok(b) = v.cast::<PyBool>() {
            h.set(&key, b.is_true());
        } else {
            let x: f64 = v
                .extract()
                .map_err(|_| errors::setting(&key, format!("{key} must be a number, not {v}")))?;
            h.set(&key, x);
        }
    }
    Optimizer::from_name(name, &h).map_err(|e| errors::optimizer(&e))
}

/// How much of a run to keep, by name.
fn record(s: &str) -> PyResult<Record> {
    match s {
        "steps" => Ok(Record::Steps),
        "epochs" => Ok(Record::Epochs),
        "final" => Ok(Record::Final),
        other => Err(errors::setting(
            "record",
            format!("record='{other}': 'steps' (every step), 'epochs' (epoch summaries) or 'final' (the end only)"),
        )),
    }
}

/// A finite-difference scheme by name, for the setting `field`.
fn scheme(field: &str, s: &str) -> PyResult<Scheme> {
    s.parse::<Scheme>()
        .map_err(|e| errors::setting(field, format!("{field}='{s}': {e}")))
}

/// The training configuration from `gs.train`'s settings (those of `gradsheet train`).
#[allow(clippy::too_many_arguments)]
pub fn config(
    opt: Optimizer,
    epochs: usize,
    batch: usize,
    shuffle: Option<u64>,
    gradient: &str,
    h: f64,
    show_fd: Option<&str>,
    rec: &str,
) -> PyResult<TrainConfig> {
    if !(h.is_finite() && h > 0.0) {
        return Err(errors::setting("h", format!("h={h} must be a number > 0")));
    }
    let mut cfg = TrainConfig::new(opt, epochs);
    cfg.batch_size = batch;
    cfg.shuffle = shuffle;
    cfg.gradient = match gradient {
        "auto" | "exact" => Gradient::Auto,
        other => Gradient::Fd {
            scheme: scheme("gradient", other)?,
            h,
        },
    };
    cfg.show_fd = show_fd
        .map(|s| scheme("show_fd", s))
        .transpose()?
        .map(|s| (s, h));
    cfg.record = record(rec)?;
    Ok(cfg)
}

/// Rows reserved up front for a run's steps: the whole run up to this, grown by doubling
/// past it. The reservation is zeroed memory, which the system hands out as pages are
/// first written, so a run that stops early does not pay for the rest.
const RESERVE_ROWS: usize = 1 << 22;

/// Steps kept in the sample the run's pictures are drawn from.
const CHART_SAMPLE: usize = 2000;

/// The sink of a run in Python: steps and epochs column by column, and an evenly spaced
/// sample for the pictures.
struct Keep {
    /// step, epoch, row (from 1).
    steps_i: Columns<i64>,
    /// lr, then the trace's columns (docs/trace-format.md).
    steps_f: Columns<f64>,
    /// epoch.
    epochs_i: Columns<i64>,
    /// sum_error, mean_error, sheet_rmse, rmse, lr, grad_norm_<p>..., <p>...
    epochs_f: Columns<f64>,
    /// The step being kept, as a trace lays out a row (its one row, cleared each step).
    row: Trace,
    sample: Thinned,
}

impl Keep {
    fn new(plan: &Plan) -> Keep {
        let np = plan.layout.params.len();
        let steps = if plan.record == Record::Steps {
            plan.total_steps().min(RESERVE_ROWS)
        } else {
            0
        };
        let epochs = if plan.record == Record::Final {
            0
        } else {
            plan.epochs.min(RESERVE_ROWS)
        };
        Keep {
            steps_i: Columns::new(3, steps),
            steps_f: Columns::new(1 + plan.layout.width(), steps),
            epochs_i: Columns::new(1, epochs),
            epochs_f: Columns::new(5 + 2 * np, epochs),
            row: Trace::default(),
            sample: Thinned::new(CHART_SAMPLE),
        }
    }
}

impl Sink for Keep {
    fn start(&mut self, plan: &Plan) {
        self.row.layout = plan.layout.clone();
        self.sample.start(plan);
    }

    fn step(&mut self, s: &StepView<'_>) -> ControlFlow<()> {
        self.steps_i
            .push([s.step as i64, s.epoch as i64, s.row as i64 + 1]);
        let r = &mut self.row;
        r.values.clear();
        r.meta.clear();
        Sink::step(r, s)?;
        self.steps_f
            .push(std::iter::once(s.lr).chain(r.values.iter().copied()));
        self.sample.step(s)
    }

    fn epoch(&mut self, e: &EpochSummary) -> ControlFlow<()> {
        self.epochs_i.push([e.epoch as i64]);
        let summary = [e.sum_error, e.mean_error, e.sheet_rmse, e.rmse, e.lr];
        self.epochs_f.push(
            summary
                .into_iter()
                .chain(e.grad_norms.iter().copied())
                .chain(e.params.iter().copied()),
        );
        self.sample.epoch(e)
    }

    fn finish(&mut self, end: &RunEnd) {
        self.sample.finish(end);
    }
}

/// A sink that stops a run after `steps` steps: the replay of an interrupted run.
struct StopAfter(usize);

impl Sink for StopAfter {
    fn step(&mut self, s: &StepView<'_>) -> ControlFlow<()> {
        if s.step >= self.0 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

/// A table as numpy will see it: integer columns and float columns.
type Table = (Vec<String>, Py<Block>, Vec<String>, Py<Block>);

/// A finished run (`gradsheet._gradsheet.Run`): how it ended, its steps and epochs as
/// column blocks, and what it needs to be drawn or written as a workbook.
#[pyclass(frozen, module = "gradsheet._gradsheet")]
pub struct Run {
    setup: Setup,
    cfg: TrainConfig,
    end: RunEnd,
    interrupted: bool,
    state_vars: Vec<String>,
    steps: Table,
    epochs: Table,
    sample: Trace,
    final_error: f64,
}

/// `gs.train`: trains `setup`'s model with `cfg`, interruptible, keeping what `cfg.record`
/// asks for.
pub fn train(py: Python<'_>, setup: &Setup, cfg: TrainConfig) -> PyResult<Run> {
    let trainer = setup.trainer()?;
    trainer
        .validate(&setup.init, &cfg)
        .map_err(|e| errors::train(&e))?;
    let plan = trainer.plan(&cfg);
    let mut keep = Keep::new(&plan);
    let (end, interrupted) = interruptible(py, |stop| {
        let should_stop = || stop.load(Ordering::Relaxed);
        let mut hooks = Hooks {
            should_stop: &should_stop,
            progress: &mut |_, _| {},
        };
        gradsheet_jit::train_into(&trainer, &setup.init, &cfg, &mut hooks, &mut keep, None)
    });
    let end = end.map_err(|e| errors::train(&e))?;
    let mut ws = trainer.compiled.workspace();
    let final_error = trainer.mean_error(&mut ws, &end.final_params);
    let layout = &plan.layout;
    let mut step_names = vec!["lr".to_string()];
    step_names.extend(layout.headers());
    let params = &layout.params;
    let mut epoch_names: Vec<String> = ["sum_error", "mean_error", "sheet_rmse", "rmse", "lr"]
        .map(String::from)
        .to_vec();
    epoch_names.extend(params.iter().map(|p| format!("grad_norm_{p}")));
    epoch_names.extend(params.iter().cloned());
    let names = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let Keep {
        steps_i,
        steps_f,
        epochs_i,
        epochs_f,
        sample,
        ..
    } = keep;
    Ok(Run {
        setup: setup.clone(),
        state_vars: layout.state_vars.clone(),
        cfg,
        end,
        interrupted,
        steps: (
            names(&["step", "epoch", "row"]),
            Py::new(py, Block::from_columns(steps_i))?,
            step_names,
            Py::new(py, Block::from_columns(steps_f))?,
        ),
        epochs: (
            names(&["epoch"]),
            Py::new(py, Block::from_columns(epochs_i))?,
            epoch_names,
            Py::new(py, Block::from_columns(epochs_f))?,
        ),
        sample: sample.trace,
        final_error,
    })
}

/// How a run ended, as a dictionary: `kind` is `completed`, `diverged` (with `step`,
/// `row` from 1 and `reason`) or `interrupted` (with `steps`), as in the trace's JSON.
pub fn stop_dict<'py>(py: Python<'py>, stop: &Stop) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    match stop {
        Stop::Completed => d.set_item("kind", "completed")?,
        Stop::Diverged { step, row, reason } => {
            d.set_item("kind", "diverged")?;
            d.set_item("step", step)?;
            d.set_item("row", row + 1)?;
            d.set_item("reason", reason.to_string())?;
        }
        Stop::Interrupted { steps } => {
            d.set_item("kind", "interrupted")?;
            d.set_item("steps", steps)?;
        }
    }
    Ok(d)
}

#[pymethods]
impl Run {
    /// The parameters' names.
    #[getter]
    fn param_names(&self) -> Vec<String> {
        self.setup.model.params.clone()
    }

    /// The parameters at the end (the last finite ones if the run diverged).
    #[getter]
    fn final_params(&self) -> Vec<f64> {
        self.end.final_params.clone()
    }

    /// The optimizer's state at the end: per state variable, one value per parameter.
    #[getter]
    fn final_state(&self) -> Vec<(String, Vec<f64>)> {
        let np = self.setup.model.params.len();
        self.state_vars
            .iter()
            .zip(self.end.final_state.chunks(np.max(1)))
            .map(|(n, v)| (n.clone(), v.to_vec()))
            .collect()
    }

    /// The mean error over the data at the final parameters.
    #[getter]
    fn final_error(&self) -> f64 {
        self.final_error
    }

    /// How the run ended (see the trace format's `stop`).
    #[getter]
    fn stop<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        stop_dict(py, &self.end.stop)
    }

    /// Whether the caller's KeyboardInterrupt stopped the run.
    #[getter]
    fn interrupted(&self) -> bool {
        self.interrupted
    }

    /// Steps taken (also when steps were not kept).
    #[getter]
    fn steps_taken(&self) -> usize {
        self.end.steps_taken
    }

    /// Epochs completed.
    #[getter]
    fn epochs_done(&self) -> usize {
        self.end.epochs_done
    }

    /// The optimizer as it prints, e.g. `momentum (lr 0.0001, β 0.9)`.
    #[getter]
    fn optimizer(&self) -> String {
        self.cfg.optimizer.to_string()
    }

    /// The steps: integer column names and block, float column names and block.
    #[getter]
    fn step_table(&self, py: Python<'_>) -> Table {
        clone_table(py, &self.steps)
    }

    /// The epochs, as `step_table`.
    #[getter]
    fn epoch_table(&self, py: Python<'_>) -> Table {
        clone_table(py, &self.epochs)
    }

    /// The run's pictures as SVG, `(name, svg)`: error by epoch, parameters over steps,
    /// the fit, paths on the error contours (from a sample of at most 2000 steps).
    fn charts(&self) -> PyResult<Vec<(String, String)>> {
        let charts = chart::run_charts(&self.setup.model, &self.setup.data, "run", &self.sample);
        charts
            .into_iter()
            .map(|(name, c)| {
                let svg = chart::render(&c, Format::Svg).map_err(|e| errors::setting("plot", e))?;
                Ok((name, String::from_utf8_lossy(&svg).into_owned()))
            })
            .collect()
    }

    /// The run as an xlsx workbook with live formulas (the bytes of the file). The run is
    /// replayed with every step recorded (the same numbers, bit for bit), up to where it
    /// stopped.
    fn xlsx<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let trainer = self.setup.trainer()?;
        let mut cfg = self.cfg.clone();
        cfg.record = Record::Steps;
        cfg.epochs = self.end.epochs_done + usize::from(self.interrupted_mid_epoch());
        let plan = trainer.plan(&cfg);
        let run = RunSetup {
            model: &self.setup.model,
            data: &self.setup.data,
            config: &cfg,
            init: &self.setup.init,
        };
        let bytes = py.detach(|| {
            let mut wb = WorkbookSink::new(run, &plan, &XlsxOptions::default())?;
            // A diverged run diverges again at the same step; an interrupted one is cut
            // where it stopped.
            let mut cut = StopAfter(match self.end.stop {
                Stop::Interrupted { steps } => steps,
                _ => usize::MAX,
            });
            let mut quiet = Hooks::none();
            let mut sinks = Fanout(vec![&mut wb, &mut cut]);
            gradsheet_jit::train_into(
                &trainer,
                &self.setup.init,
                &cfg,
                &mut quiet,
                &mut sinks,
                None,
            )
            .map_err(|e| gradsheet_report::XlsxError::Mismatch(e.to_string()))?;
            wb.into_bytes()
        });
        let bytes = bytes.map_err(|e| errors::setting("xlsx", e))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// The setup the run trained (model, data, initial values).
    #[getter]
    fn setup(&self) -> Setup {
        self.setup.clone()
    }
}

impl Run {
    /// Whether the run stopped inside an epoch (its last epoch has steps but no summary).
    fn interrupted_mid_epoch(&self) -> bool {
        !matches!(self.end.stop, Stop::Completed)
    }
}

fn clone_table(py: Python<'_>, t: &Table) -> Table {
    (
        t.0.clone(),
        t.1.clone_ref(py),
        t.2.clone(),
        t.3.clone_ref(py),
    )
}

/// A training configuration (`gradsheet._gradsheet.Config`): the optimizer and its
/// settings, the schedule, the gradient, what to keep, as `gradsheet train`'s flags.
#[pyclass(frozen, module = "gradsheet._gradsheet")]
pub struct Config(pub TrainConfig);

#[pymethods]
impl Config {
    /// Checks and builds the configuration.
    #[new]
    #[pyo3(signature = (optimizer, hyper, epochs, batch, shuffle, seed, gradient, h, show_fd, record))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        optimizer: &str,
        hyper: &Bound<'_, PyDict>,
        epochs: usize,
        batch: usize,
        shuffle: bool,
        seed: u64,
        gradient: &str,
        h: f64,
        show_fd: Option<&str>,
        record: &str,
    ) -> PyResult<Config> {
        let opt = self::optimizer(optimizer, hyper)?;
        let cfg = config(
            opt,
            epochs,
            batch,
            shuffle.then_some(seed),
            gradient,
            h,
            show_fd,
            record,
        )?;
        Ok(Config(cfg))
    }

    /// The optimizer as it prints, e.g. `momentum (lr 0.0001, β 0.9)`.
    #[getter]
    fn optimizer(&self) -> String {
        self.0.optimizer.to_string()
    }
}

/// `gs.train`'s native half: one run of `setup` with `config`.
#[pyfunction]
pub fn train_run(py: Python<'_>, setup: &Setup, config: &Config) -> PyResult<Run> {
    train(py, setup, config.0.clone())
}

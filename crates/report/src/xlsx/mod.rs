//! A run as an xlsx workbook whose numbers are live formulas.
//!
//! The workbook has four sheets:
//!
//! - **Settings** — the inputs: the model and loss as text, the optimizer's
//!   hyperparameters, the initial parameters, the model's constants and the
//!   finite-difference steps, each value a named cell (`lr`, `beta1`, `init_a`, ...).
//! - **Data** — the data rows, and a column of the prediction at the final parameters.
//! - **Steps** — one row per step, each referring to the row before: the data row, the
//!   parameters used, the prediction, the error, the derivatives (the symbolic derivative
//!   written as an Excel formula, or a finite difference when the run was trained on one),
//!   the finite-difference estimates shown beside them, the optimizer's state and the
//!   updated parameters. Row 2 ("start") holds the initial parameters and state.
//! - **Epochs** — one summary row per epoch (sum and mean of the errors, the sheets'
//!   "rmse" = `SQRT(SUM(err))`, the true rmse, gradient norms, parameters), with a chart of
//!   the error by epoch.
//!
//! Mini-batch runs get a fifth sheet, **Rows**, with one row per data row of each batch;
//! the Steps sheet then averages its errors and derivatives, so the workbook stays live.
//!
//! Every update rule is written in the same operation order as
//! [`gradsheet_train::Optimizer::step`], so a spreadsheet that recalculates in IEEE double
//! precision reproduces the engine's numbers to the last bit wherever it evaluates the
//! same operations (the derivative columns are the symbolic derivative, whose operation
//! order differs from the reverse-mode tape's, so they agree to a few ulps). The engine's
//! values are also written as each formula's cached result, so that viewers that do not
//! recalculate show the same numbers.

//! The workbook is written as the run goes ([`WorkbookSink`], a [`Sink`]): the Steps,
//! Epochs and Rows sheets in rust_xlsxwriter's constant-memory mode (one row in memory,
//! the rest spilled to a temporary file), the small Settings and Data sheets at the end.
//! The files are `settings.rs`, `data.rs`, `steps.rs` and `epochs.rs`, over one layout of
//! cell addresses (`layout.rs`).

use std::ops::ControlFlow;

use gradsheet_engine::{Dataset, Model};
use gradsheet_train::{
    EpochSummary, Plan, Record, RunEnd, Sink, StepView, Stop, Trace, TrainConfig,
};
use rust_xlsxwriter::utility::column_number_to_name;
use rust_xlsxwriter::Workbook;

mod data;
mod epochs;
mod layout;
mod settings;
mod steps;

use epochs::EpochsWriter;
use layout::{abs, Cells, Formats};
use settings::Settings;
use steps::StepsWriter;

/// Excel's (and LibreOffice's) last row: 1,048,576.
pub const MAX_ROWS: usize = 1_048_576;

/// Everything the workbook needs about a run that is over.
#[derive(Clone, Copy, Debug)]
pub struct RunSpec<'a> {
    /// The model.
    pub model: &'a Model,
    /// The data the run trained on.
    pub data: &'a Dataset,
    /// The training configuration (optimizer, batch size, gradient, finite differences).
    pub config: &'a TrainConfig,
    /// The initial parameters.
    pub init: &'a [f64],
    /// The trace, with every step recorded.
    pub trace: &'a Trace,
}

/// Options of [`run_workbook`].
#[derive(Clone, Debug)]
pub struct XlsxOptions {
    /// Add native Excel charts (error by epoch, fit against data).
    pub charts: bool,
    /// Write 0 as every formula's cached result instead of the engine's value. Only for
    /// tests that prove a spreadsheet recalculated rather than showed the cached values.
    #[doc(hidden)]
    pub zero_cached_results: bool,
}

impl Default for XlsxOptions {
    fn default() -> Self {
        XlsxOptions {
            charts: true,
            zero_cached_results: false,
        }
    }
}

/// Why a run cannot be written as a workbook.
#[derive(Debug, thiserror::Error)]
pub enum XlsxError {
    /// The trace kept no steps.
    #[error("the run kept no steps (it was recorded by epoch or final result only); a workbook needs every step")]
    NoSteps,
    /// A sheet would pass Excel's row limit.
    #[error(
        "the workbook's {sheet} sheet would need {rows} rows, past Excel's limit of 1,048,576; \
         export at most {max_epochs} epochs of this run"
    )]
    TooManyRows {
        /// The sheet.
        sheet: &'static str,
        /// Rows it would need.
        rows: usize,
        /// The most epochs that fit.
        max_epochs: usize,
    },
    /// The trace does not match the configuration (a different batch order or size).
    #[error("the trace does not match the run's settings: {0}")]
    Mismatch(String),
    /// An exact derivative too large for a spreadsheet formula.
    #[error(
        "the derivative ∂e/∂{param} is {reason}, so the workbook cannot hold it as a live \
         formula; export a run with finite-difference gradients, or a smaller model"
    )]
    DerivativeTooLarge {
        /// The parameter.
        param: String,
        /// How large it is.
        reason: gradsheet_engine::diff::TooLarge,
    },
    /// The xlsx writer failed.
    #[error("cannot write the workbook: {0}")]
    Writer(#[from] rust_xlsxwriter::XlsxError),
}

/// Everything the workbook needs about a run before it starts.
#[derive(Clone, Copy, Debug)]
pub struct RunSetup<'a> {
    /// The model.
    pub model: &'a Model,
    /// The data the run trains on.
    pub data: &'a Dataset,
    /// The training configuration (optimizer, batch size, gradient, finite differences).
    pub config: &'a TrainConfig,
    /// The initial parameters.
    pub init: &'a [f64],
}

/// A run's workbook, written as the run goes: hand it to the training loop as a
/// [`Sink`] (the run must record steps), then take the file with
/// [`WorkbookSink::into_bytes`] or [`WorkbookSink::save_to`]. Its memory does not grow
/// with the run: each step row is written and flushed as it arrives.
pub struct WorkbookSink<'a> {
    run: RunSetup<'a>,
    opts: XlsxOptions,
    wb: Workbook,
    f: Formats,
    cells: Cells,
    settings: Settings,
    steps: StepsWriter,
    epochs: EpochsWriter,
    /// The Steps row of the current epoch's first step.
    epoch_first: usize,
    stop: Stop,
    error: Option<XlsxError>,
}

impl<'a> WorkbookSink<'a> {
    /// The workbook of a run of `plan`, refused before the run starts if its sheets would
    /// pass the row limit.
    ///
    /// # Errors
    ///
    /// [`XlsxError::NoSteps`] when the run does not record steps, [`XlsxError::TooManyRows`]
    /// past Excel's row limit, [`XlsxError::Writer`] if the xlsx writer fails.
    pub fn new(
        run: RunSetup<'a>,
        plan: &Plan,
        opts: &XlsxOptions,
    ) -> Result<WorkbookSink<'a>, XlsxError> {
        if plan.record != Record::Steps {
            return Err(XlsxError::NoSteps);
        }
        let n_data = run.data.len();
        let spe = plan.steps_per_epoch.max(1);
        let steps = plan.total_steps();
        if steps.saturating_add(2) > MAX_ROWS {
            return Err(XlsxError::TooManyRows {
                sheet: "Steps",
                rows: steps.saturating_add(2),
                max_epochs: (MAX_ROWS - 2) / spe,
            });
        }
        if run.config.batch_rows(n_data) > 1 {
            let rows = plan.epochs.saturating_mul(n_data).saturating_add(1);
            if rows > MAX_ROWS {
                return Err(XlsxError::TooManyRows {
                    sheet: "Rows",
                    rows,
                    max_epochs: (MAX_ROWS - 1) / n_data.max(1),
                });
            }
        }
        let f = Formats::new();
        let cells = Cells {
            zero: opts.zero_cached_results,
        };
        let mut wb = Workbook::new();
        let settings = Settings::write(&run, &f)?;
        let steps = StepsWriter::new(&run, &mut wb, &plan.layout, &settings.init_refs, &cells, &f)?;
        let epochs = EpochsWriter::new(&mut wb, &run.model.params, &f)?;
        Ok(WorkbookSink {
            run,
            opts: opts.clone(),
            wb,
            f,
            cells,
            settings,
            steps,
            epochs,
            epoch_first: 2,
            stop: Stop::Completed,
            error: None,
        })
    }

    /// Keeps the first error, and stops the run on it.
    fn keep(&mut self, r: Result<(), XlsxError>) -> ControlFlow<()> {
        match r {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                self.error.get_or_insert(e);
                ControlFlow::Break(())
            }
        }
    }

    /// Assembles the workbook (the Settings and Data sheets, the charts, the names).
    fn assemble(&mut self) -> Result<(), XlsxError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if self.steps.written == 0 {
            return Err(XlsxError::NoSteps);
        }
        self.settings.finish(self.steps.written, &self.stop)?;
        let data = data::write(
            &self.run,
            &self.settings.consts,
            &self.steps.cols,
            1 + self.steps.written,
            &self.steps.last_new_params,
            &self.cells,
            &self.f,
            self.opts.charts,
        )?;
        if self.opts.charts {
            self.epochs.chart()?;
        }
        let blank = || rust_xlsxwriter::Worksheet::new();
        self.wb
            .push_worksheet(std::mem::replace(&mut self.settings.ws, blank()));
        self.wb.push_worksheet(data);
        self.wb
            .push_worksheet(std::mem::replace(&mut self.steps.steps, blank()));
        self.wb
            .push_worksheet(std::mem::replace(&mut self.epochs.ws, blank()));
        if let Some(rows) = self.steps.rows.take() {
            self.wb.push_worksheet(rows);
        }
        for (n, r) in &self.settings.names {
            self.wb
                .define_name(n, &format!("={}", abs("Settings", *r, 1)))?;
        }
        Ok(())
    }

    /// The finished workbook as the bytes of an xlsx file.
    ///
    /// # Errors
    ///
    /// The first error met while writing ([`XlsxError::Mismatch`] when the steps were not
    /// made with the configuration given, [`XlsxError::Writer`]), or
    /// [`XlsxError::NoSteps`] if no step came.
    pub fn into_bytes(mut self) -> Result<Vec<u8>, XlsxError> {
        self.assemble()?;
        Ok(self.wb.save_to_buffer()?)
    }

    /// Writes the finished workbook to `w` (a file), without holding it in memory.
    ///
    /// # Errors
    ///
    /// As [`WorkbookSink::into_bytes`].
    pub fn save_to<W: std::io::Write + std::io::Seek + Send>(
        mut self,
        w: W,
    ) -> Result<(), XlsxError> {
        self.assemble()?;
        Ok(self.wb.save_to_writer(w)?)
    }
}

impl Sink for WorkbookSink<'_> {
    fn step(&mut self, s: &StepView<'_>) -> ControlFlow<()> {
        if self.error.is_some() {
            return ControlFlow::Break(());
        }
        let r = self
            .steps
            .step(&self.run, &self.settings.consts, &self.cells, &self.f, s);
        self.keep(r)
    }

    fn epoch(&mut self, e: &EpochSummary) -> ControlFlow<()> {
        if self.error.is_some() || self.steps.written == 0 {
            return ControlFlow::Continue(());
        }
        let last = 1 + self.steps.written;
        let rows = (self.epoch_first, last);
        self.epoch_first = last + 1;
        let r = self
            .epochs
            .epoch(e, rows, &self.steps.cols, &self.cells, &self.f);
        self.keep(r)
    }

    fn finish(&mut self, end: &RunEnd) {
        self.stop = end.stop.clone();
    }
}

/// The workbook of a run that is over, as the bytes of an xlsx file.
///
/// # Errors
///
/// [`XlsxError::NoSteps`] when the trace kept no steps, [`XlsxError::TooManyRows`] past
/// Excel's row limit, [`XlsxError::Mismatch`] when the trace was not made with
/// `run.config`, and [`XlsxError::Writer`] if the xlsx writer fails.
///
/// # Examples
///
/// ```
/// use gradsheet_engine::{Dataset, Model, Roles};
/// use gradsheet_train::{Hooks, Optimizer, TrainConfig, Trainer};
/// use gradsheet_report::{run_workbook, RunSpec, XlsxOptions};
///
/// let data = Dataset::graddesc();
/// let model = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
/// let cfg = TrainConfig::new(Optimizer::sgd(1e-4), 2);
/// let trace = Trainer::new(&model, &data).unwrap().run(&[1.0, 1.0], &cfg, &mut Hooks::none()).unwrap();
/// let run = RunSpec { model: &model, data: &data, config: &cfg, init: &[1.0, 1.0], trace: &trace };
/// let bytes = run_workbook(&run, &XlsxOptions::default()).unwrap();
/// assert_eq!(&bytes[..2], b"PK"); // an xlsx file is a zip archive
/// ```
pub fn run_workbook(run: &RunSpec<'_>, opts: &XlsxOptions) -> Result<Vec<u8>, XlsxError> {
    let trace: &Trace = run.trace;
    if trace.is_empty() {
        return Err(XlsxError::NoSteps);
    }
    let n_data = run.data.len();
    let epochs_run = trace.meta.last().map(|m| m.0 as usize).unwrap_or(1).max(1);
    let rows_needed = 2 + trace.len();
    if rows_needed > MAX_ROWS {
        return Err(XlsxError::TooManyRows {
            sheet: "Steps",
            rows: rows_needed,
            max_epochs: (MAX_ROWS - 2) / trace.len().div_ceil(epochs_run).max(1),
        });
    }
    let batch = run.config.batch_rows(n_data);
    if batch > 1 {
        let per_epoch = n_data.div_ceil(batch);
        let (full, rest) = (trace.len() / per_epoch, trace.len() % per_epoch);
        let rows = 1 + full * n_data + rest * batch;
        if rows > MAX_ROWS {
            return Err(XlsxError::TooManyRows {
                sheet: "Rows",
                rows,
                max_epochs: (MAX_ROWS - 1) / n_data.max(1),
            });
        }
    }
    // The rows are checked above: the plan is the run as it went, one span of steps.
    let plan = Plan {
        layout: trace.layout.clone(),
        record: Record::Steps,
        epochs: 1,
        steps_per_epoch: trace.len(),
    };
    let setup = RunSetup {
        model: run.model,
        data: run.data,
        config: run.config,
        init: run.init,
    };
    let mut sink = WorkbookSink::new(setup, &plan, opts).or_else(|e| match e {
        // (A mini-batch plan of one epoch of every step over-counts the Rows sheet.)
        XlsxError::TooManyRows { .. } => WorkbookSink::new(
            setup,
            &Plan {
                steps_per_epoch: 1,
                ..plan.clone()
            },
            opts,
        ),
        e => Err(e),
    })?;
    // Each epoch's summary after its steps, as the training loop hands them on.
    let mut next = 0;
    for s in trace.steps() {
        while next < trace.epochs.len() && trace.epochs[next].epoch < s.epoch {
            let _ = sink.epoch(&trace.epochs[next]);
            next += 1;
        }
        if sink.step(&s).is_break() {
            break;
        }
    }
    for e in &trace.epochs[next..] {
        let _ = sink.epoch(e);
    }
    sink.finish(&RunEnd {
        stop: trace.stop.clone(),
        ..RunEnd::default()
    });
    sink.into_bytes()
}

/// The Excel name of a 0-based column (0 → A).
pub fn column_name(col: usize) -> String {
    column_number_to_name(col as u16)
}

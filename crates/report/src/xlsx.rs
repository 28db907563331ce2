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

use std::collections::HashMap;

use gradsheet_engine::{Dataset, Model, Notation, Scheme};
use gradsheet_train::{rng, Gradient, Optimizer, State, Trace, TrainConfig, Trainer};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rust_xlsxwriter::utility::{column_number_to_name, row_col_to_cell, row_col_to_cell_absolute};
use rust_xlsxwriter::{
    Chart, ChartType, Color, Format, FormatBorder, Formula, Workbook, Worksheet,
};

/// Excel's (and LibreOffice's) last row: 1,048,576.
pub const MAX_ROWS: usize = 1_048_576;

/// Everything the workbook needs about a run.
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
    /// The xlsx writer failed.
    #[error("cannot write the workbook: {0}")]
    Writer(#[from] rust_xlsxwriter::XlsxError),
}

/// The cached result of a formula: the shortest text that reads back to the same double,
/// or `#NUM!` for NaN and infinities (which a spreadsheet cannot hold).
fn result_text(v: f64) -> String {
    if v.is_finite() {
        let a = v.abs();
        if a != 0.0 && !(1e-5..1e16).contains(&a) {
            format!("{v:e}")
        } else {
            format!("{v}")
        }
    } else {
        "#NUM!".into()
    }
}

/// Writes formulas with their cached results.
struct Cells {
    zero: bool,
}

impl Cells {
    fn formula(
        &self,
        ws: &mut Worksheet,
        row: usize,
        col: usize,
        f: &str,
        v: f64,
        fmt: &Format,
    ) -> Result<(), XlsxError> {
        let res = if self.zero {
            "0".to_string()
        } else {
            result_text(v)
        };
        ws.write_formula_with_format(row as u32, col as u16, Formula::new(f).set_result(res), fmt)?;
        Ok(())
    }
}

fn a1(row: usize, col: usize) -> String {
    row_col_to_cell(row as u32, col as u16)
}

fn abs(sheet: &str, row: usize, col: usize) -> String {
    format!(
        "{sheet}!{}",
        row_col_to_cell_absolute(row as u32, col as u16)
    )
}

/// An Excel-style defined name for `prefix_name`, when `name` is plain enough to be one.
fn defined_name(prefix: &str, name: &str) -> Option<String> {
    let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    ok.then(|| format!("{prefix}_{name}"))
}

/// The optimizer's hyperparameters as (defined name, value, description).
fn hyperparameters(opt: &Optimizer) -> Vec<(&'static str, f64, &'static str)> {
    match *opt {
        Optimizer::Sgd { lr } => vec![("lr", lr, "learning rate")],
        Optimizer::Momentum { lr, beta } | Optimizer::Rmsprop { lr, beta } => {
            vec![
                ("lr", lr, "learning rate"),
                ("beta", beta, "β, the weight of the old average"),
            ]
        }
        Optimizer::Adam { lr, beta1, beta2 } => vec![
            ("lr", lr, "learning rate"),
            ("beta1", beta1, "β1, momentum"),
            ("beta2", beta2, "β2, mean square"),
        ],
        Optimizer::Adagrad { lr, r0 } => {
            vec![
                ("lr", lr, "learning rate"),
                ("r0", r0, "the starting r (and sum of squares)"),
            ]
        }
        Optimizer::TorchSgd {
            lr,
            momentum,
            dampening,
            weight_decay,
            ..
        } => vec![
            ("lr", lr, "learning rate"),
            ("momentum", momentum, "momentum factor μ"),
            ("dampening", dampening, "dampening τ"),
            ("weight_decay", weight_decay, "L2 penalty λ"),
        ],
        Optimizer::TorchAdagrad {
            lr,
            lr_decay,
            weight_decay,
            initial_accumulator_value,
            eps,
        } => vec![
            ("lr", lr, "learning rate"),
            ("lr_decay", lr_decay, "learning-rate decay"),
            ("weight_decay", weight_decay, "L2 penalty λ"),
            (
                "initial_accumulator_value",
                initial_accumulator_value,
                "the sum of squares starts here",
            ),
            ("eps", eps, "ε"),
        ],
        Optimizer::TorchRmsprop {
            lr,
            alpha,
            eps,
            weight_decay,
            momentum,
            ..
        } => vec![
            ("lr", lr, "learning rate"),
            ("alpha", alpha, "α, smoothing constant"),
            ("eps", eps, "ε"),
            ("weight_decay", weight_decay, "L2 penalty λ"),
            ("momentum", momentum, "momentum factor"),
        ],
        Optimizer::TorchAdam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            ..
        } => vec![
            ("lr", lr, "learning rate"),
            ("beta1", beta1, "β1"),
            ("beta2", beta2, "β2"),
            ("eps", eps, "ε"),
            ("weight_decay", weight_decay, "weight decay λ"),
        ],
    }
}

/// The cells one step's update reads and writes, for one parameter.
struct UpdateCells<'a> {
    /// The parameter before the update.
    p: &'a str,
    /// Its gradient.
    g: &'a str,
    /// The step number `t`.
    t: &'a str,
    /// Each state variable of the previous row.
    prev: Vec<String>,
    /// Each state variable of this row.
    cur: Vec<String>,
    /// Whether this step is the first of an epoch after the first (the workbook adagrad's
    /// rates change there).
    new_epoch: bool,
}

/// `lerp(a, b, w)` as ATen computes it, with `w` given as a formula whose value's
/// magnitude decides the branch.
fn lerp_formula(a: &str, b: &str, w: &str, w_value: f64) -> String {
    if w_value.abs() < 0.5 {
        format!("{a}+{w}*({b}-{a})")
    } else {
        format!("{b}-({b}-{a})*(1-{w})")
    }
}

/// The state formulas (storage order) and the new parameter's formula for one parameter,
/// in the same operation order as [`Optimizer::step`].
fn update_formulas(opt: &Optimizer, c: &UpdateCells<'_>) -> (Vec<String>, String) {
    let (p, g, t) = (c.p, c.g, c.t);
    let prev = |k: usize| c.prev[k].as_str();
    let cur = |k: usize| c.cur[k].as_str();
    let l2 = |wd: f64| {
        if wd != 0.0 {
            format!("({g}+weight_decay*{p})")
        } else {
            g.to_string()
        }
    };
    match *opt {
        Optimizer::Sgd { .. } => (vec![], format!("={p}-{g}*lr")),
        Optimizer::Momentum { .. } => (
            vec![format!("={}*beta+(1-beta)*{g}", prev(0))],
            format!("={p}-{}*lr", cur(0)),
        ),
        Optimizer::Rmsprop { .. } => (
            vec![format!("={}*beta+(1-beta)*{g}^2", prev(0))],
            format!("={p}-{g}*lr/SQRT({})", prev(0)),
        ),
        Optimizer::Adam { .. } => (
            vec![
                format!("={}*beta1+(1-beta1)*{g}", prev(0)),
                format!("={}*beta2+(1-beta2)*{g}^2", prev(1)),
            ],
            format!("={p}-{}*lr/SQRT({})", cur(0), cur(1)),
        ),
        Optimizer::Adagrad { .. } => {
            let (r, sq) = if c.new_epoch {
                (format!("=SQRT({})/n_rows", prev(1)), format!("={g}^2"))
            } else {
                (format!("={}", prev(0)), format!("={}+{g}^2", prev(1)))
            };
            (vec![r, sq], format!("={p}-{g}*(lr/{})", cur(0)))
        }
        Optimizer::TorchSgd {
            momentum,
            weight_decay,
            nesterov,
            ..
        } => {
            let d = l2(weight_decay);
            if momentum != 0.0 {
                let buf = format!("=IF({t}=1,{d},{}*momentum+(1-dampening)*{d})", prev(0));
                let step = if nesterov {
                    format!("({d}+momentum*{})", cur(0))
                } else {
                    cur(0).to_string()
                };
                (vec![buf], format!("={p}+-lr*{step}"))
            } else {
                (vec![], format!("={p}+-lr*{d}"))
            }
        }
        Optimizer::TorchAdagrad { weight_decay, .. } => {
            let g2 = l2(weight_decay);
            (
                vec![format!("={}+{g2}*{g2}", prev(0))],
                format!(
                    "={p}+-(lr/(1+({t}-1)*lr_decay))*{g2}/(SQRT({})+eps)",
                    cur(0)
                ),
            )
        }
        Optimizer::TorchRmsprop {
            alpha,
            weight_decay,
            momentum,
            centered,
            ..
        } => {
            let g2 = l2(weight_decay);
            let mut states = vec![format!("={}*alpha+(1-alpha)*{g2}*{g2}", prev(0))];
            let sq = cur(0);
            let has_buf = momentum > 0.0;
            let ga_k = if has_buf { 2 } else { 1 };
            let avg = if centered {
                format!("(SQRT({sq}-{ga}*{ga})+eps)", ga = cur(ga_k))
            } else {
                format!("(SQRT({sq})+eps)")
            };
            let new = if has_buf {
                states.push(format!("={}*momentum+{g2}/{avg}", prev(1)));
                format!("={p}+-lr*{}", cur(1))
            } else {
                format!("={p}+-lr*{g2}/{avg}")
            };
            if centered {
                states.push(format!(
                    "={}",
                    lerp_formula(prev(ga_k), &g2, "(1-alpha)", 1.0 - alpha)
                ));
            }
            (states, new)
        }
        Optimizer::TorchAdam {
            beta1,
            weight_decay,
            amsgrad,
            decoupled,
            ..
        } => {
            let g2 = if decoupled {
                g.to_string()
            } else {
                l2(weight_decay)
            };
            let mut states = vec![
                format!("={}", lerp_formula(prev(0), &g2, "(1-beta1)", 1.0 - beta1)),
                format!("={}*beta2+(1-beta2)*{g2}*{g2}", prev(1)),
            ];
            let v_used = if amsgrad {
                states.push(format!("=MAX({},{})", prev(2), cur(1)));
                cur(2)
            } else {
                cur(1)
            };
            let base = if decoupled {
                format!("{p}*(1-lr*weight_decay)")
            } else {
                p.to_string()
            };
            let new = format!(
                "={base}+-(lr/(1-beta1^{t}))*{}/(SQRT({v_used})/SQRT(1-beta2^{t})+eps)",
                cur(0)
            );
            (states, new)
        }
    }
}

/// The formula of the initial value of state variable `k` (row "start"), and its value.
fn initial_state(opt: &Optimizer, k: usize, value: f64) -> String {
    // Where the state starts at a hyperparameter, refer to its named cell so that the
    // workbook stays live; other state starts at a number (usually 0).
    match *opt {
        Optimizer::Adagrad { r0, .. } if k == 0 && value == r0 => "=r0".into(),
        Optimizer::TorchAdagrad {
            initial_accumulator_value: v0,
            ..
        } if k == 0 && value == v0 => "=initial_accumulator_value".into(),
        _ => format!("={}", result_text(value)),
    }
}

/// A finite difference of the error with respect to `param`, with step named `h`, as an
/// Excel formula in the order [`Trainer::row_fd`] computes it.
fn fd_formula(
    model: &Model,
    param: &str,
    scheme: Scheme,
    h: &str,
    err_cell: &str,
    name: &dyn Fn(&str) -> String,
) -> String {
    let shifted = |sign: char| {
        let p = name(param);
        model.error.render(Notation::Excel, &|n: &str| {
            if n == param {
                format!("({p}{sign}{h})")
            } else {
                name(n)
            }
        })
    };
    match scheme {
        Scheme::Forward => format!("=({}-{err_cell})/{h}", shifted('+')),
        Scheme::Backward => format!("=({err_cell}-{})/{h}", shifted('-')),
        Scheme::Central => format!("=({}-{})/(2*{h})", shifted('+'), shifted('-')),
    }
}

/// The formats of the workbook.
struct Formats {
    header: Format,
    int: Format,
    value: Format,
    param: Format,
    small: Format,
    bold: Format,
    note: Format,
}

impl Formats {
    fn new() -> Formats {
        Formats {
            header: Format::new()
                .set_bold()
                .set_background_color(Color::RGB(0xE8EEF7))
                .set_border_bottom(FormatBorder::Thin),
            int: Format::new().set_num_format("0"),
            value: Format::new().set_num_format("0.0000"),
            param: Format::new().set_num_format("0.000000"),
            small: Format::new().set_num_format("0.000E+00"),
            bold: Format::new().set_bold(),
            note: Format::new()
                .set_italic()
                .set_font_color(Color::RGB(0x555555)),
        }
    }
}

/// Column positions of one row that evaluates the model (a step row, or a data row of a
/// mini-batch).
#[derive(Clone, Copy)]
struct EvalCols {
    inputs: usize,
    params: usize,
    pred: usize,
    err: usize,
    grads: usize,
    fd: usize,
}

/// The values of one evaluated row.
struct EvalValues<'v> {
    pred: f64,
    err: f64,
    grads: &'v [f64],
    fd: Option<&'v [f64]>,
}

/// Writes the prediction, the error, the gradient and the finite-difference estimates of
/// the row `r`, whose inputs and parameters are already in `cols.inputs..` and `cols.params..`.
#[allow(clippy::too_many_arguments)]
fn write_eval(
    ws: &mut Worksheet,
    cells: &Cells,
    f: &Formats,
    run: &RunSpec<'_>,
    consts: &HashMap<String, String>,
    r: usize,
    cols: EvalCols,
    v: &EvalValues<'_>,
) -> Result<(), XlsxError> {
    let model = run.model;
    let pred_cell = a1(r, cols.pred);
    let err_cell = a1(r, cols.err);
    let name = |n: &str| -> String {
        if let Some(i) = model.columns.iter().position(|c| c == n) {
            a1(r, cols.inputs + i)
        } else if let Some(i) = model.params.iter().position(|p| p == n) {
            a1(r, cols.params + i)
        } else if let Some(c) = consts.get(n) {
            c.clone()
        } else if n == gradsheet_engine::PRED {
            pred_cell.clone()
        } else {
            n.to_string()
        }
    };
    let pred_f = format!("={}", model.prediction.render(Notation::Excel, &name));
    cells.formula(ws, r, cols.pred, &pred_f, v.pred, &f.value)?;
    let err_f = format!("={}", model.loss.render(Notation::Excel, &name));
    cells.formula(ws, r, cols.err, &err_f, v.err, &f.value)?;
    for (i, p) in model.params.iter().enumerate() {
        let gf = match run.config.gradient {
            Gradient::Auto => format!("={}", model.derivative(p).render(Notation::Excel, &name)),
            Gradient::Fd { scheme, .. } => fd_formula(model, p, scheme, "grad_h", &err_cell, &name),
        };
        cells.formula(ws, r, cols.grads + i, &gf, v.grads[i], &f.value)?;
    }
    if let (Some((scheme, _)), Some(fd)) = (run.config.show_fd, v.fd) {
        for (i, p) in model.params.iter().enumerate() {
            let ff = fd_formula(model, p, scheme, "fd_h", &err_cell, &name);
            cells.formula(ws, r, cols.fd + i, &ff, fd[i], &f.value)?;
        }
    }
    Ok(())
}

/// The data rows of every step, in order (from the configuration's batch size and
/// shuffle, checked against the trace's first row of each step).
fn batches(run: &RunSpec<'_>) -> Result<Vec<Vec<u32>>, XlsxError> {
    let n = run.data.len();
    let cfg = run.config;
    let batch = if cfg.batch_size == 0 || cfg.batch_size > n {
        n
    } else {
        cfg.batch_size
    };
    let per_epoch = n.div_ceil(batch);
    if batch == 1 {
        // Per-sample steps: the trace names each step's row, shuffled or not.
        return Ok(run.trace.meta.iter().map(|m| vec![m.1]).collect());
    }
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut rng = cfg.shuffle.map(ChaCha8Rng::seed_from_u64);
    let mut out = Vec::with_capacity(run.trace.len());
    let mut epoch = 0;
    while out.len() < run.trace.len() {
        epoch += 1;
        if let Some(r) = rng.as_mut() {
            rng::shuffle(r, &mut order);
        }
        for b in 0..per_epoch {
            if out.len() == run.trace.len() {
                break;
            }
            let rows = order[b * batch..((b + 1) * batch).min(n)].to_vec();
            let (e, first, _) = run.trace.meta[out.len()];
            if e as usize != epoch || first != rows[0] {
                return Err(XlsxError::Mismatch(format!(
                    "step {} is data row {} of epoch {e}, expected row {} of epoch {epoch}",
                    out.len() + 1,
                    first + 1,
                    rows[0] + 1
                )));
            }
            out.push(rows);
        }
    }
    Ok(out)
}

/// The workbook of a run, as the bytes of an xlsx file.
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
    let trace = run.trace;
    if trace.is_empty() {
        return Err(XlsxError::NoSteps);
    }
    let model = run.model;
    let n_data = run.data.len();
    let batches = batches(run)?;
    let mini = batches.iter().any(|b| b.len() > 1);
    let epochs_run = trace.meta.last().map(|m| m.0 as usize).unwrap_or(1).max(1);
    let rows_needed = 2 + trace.len();
    let rows_per_epoch = trace.len().div_ceil(epochs_run);
    if rows_needed > MAX_ROWS {
        return Err(XlsxError::TooManyRows {
            sheet: "Steps",
            rows: rows_needed,
            max_epochs: (MAX_ROWS - 2) / rows_per_epoch.max(1),
        });
    }
    if mini {
        let rows: usize = 1 + batches.iter().map(Vec::len).sum::<usize>();
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
    let np = model.params.len();
    let nc = model.columns.len();

    // ---- Settings ----
    let mut consts: HashMap<String, String> = HashMap::new();
    let mut init_refs: Vec<String> = Vec::new();
    {
        let ws = wb.add_worksheet().set_name("Settings")?;
        ws.set_column_width(0, 28)?;
        ws.set_column_width(1, 24)?;
        ws.set_column_width(2, 60)?;
        ws.write_string_with_format(0, 0, "gradsheet run", &f.bold)?;
        let gradient = match run.config.gradient {
            Gradient::Auto => "exact (the symbolic derivative)".to_string(),
            Gradient::Fd { scheme, h } => format!(
                "{scheme:?} finite difference, h = {}",
                gradsheet_engine::format_number(h)
            ),
        };
        let batch = if run.config.batch_size == 0 {
            n_data
        } else {
            run.config.batch_size.min(n_data)
        };
        let info: Vec<(&str, String)> = vec![
            ("model", model.prediction_src.clone()),
            ("loss", model.loss_src.clone()),
            ("optimizer", run.config.optimizer.to_string()),
            ("epochs", run.config.epochs.to_string()),
            ("batch size", batch.to_string()),
            ("gradient", gradient),
            ("steps", trace.len().to_string()),
            ("how the run ended", format!("{:?}", trace.stop)),
        ];
        for (i, (k, v)) in info.iter().enumerate() {
            ws.write_string(2 + i as u32, 0, *k)?;
            ws.write_string(2 + i as u32, 1, v)?;
        }
        let mut row = 3 + info.len();
        let mut names: Vec<(String, usize)> = Vec::new();
        ws.write_string_with_format(row as u32, 0, "setting", &f.header)?;
        ws.write_string_with_format(row as u32, 1, "value", &f.header)?;
        ws.write_string_with_format(
            row as u32,
            2,
            "meaning (a named cell: formulas use the name)",
            &f.header,
        )?;
        row += 1;
        let mut hyper = hyperparameters(&run.config.optimizer);
        hyper.push((
            "n_rows",
            n_data as f64,
            "rows of data (the workbook adagrad divides by it)",
        ));
        if let Gradient::Fd { h, .. } = run.config.gradient {
            hyper.push((
                "grad_h",
                h,
                "the finite-difference step of the gradient used for updates",
            ));
        }
        if let Some((_, h)) = run.config.show_fd {
            hyper.push((
                "fd_h",
                h,
                "the finite-difference step of the estimates shown",
            ));
        }
        for (name, v, what) in hyper {
            ws.write_string(row as u32, 0, name)?;
            ws.write_number(row as u32, 1, v)?;
            ws.write_string(row as u32, 2, what)?;
            names.push((name.to_string(), row));
            row += 1;
        }
        row += 1;
        ws.write_string_with_format(row as u32, 0, "initial parameter", &f.header)?;
        ws.write_string_with_format(row as u32, 1, "value", &f.header)?;
        ws.write_string_with_format(row as u32, 2, "", &f.header)?;
        row += 1;
        for (i, p) in model.params.iter().enumerate() {
            ws.write_string(row as u32, 0, p)?;
            ws.write_number(row as u32, 1, run.init[i])?;
            match defined_name("init", p) {
                Some(n) => {
                    ws.write_string(row as u32, 2, format!("named {n}"))?;
                    init_refs.push(n.clone());
                    names.push((n, row));
                }
                None => init_refs.push(abs("Settings", row, 1)),
            }
            row += 1;
        }
        if !model.constants.is_empty() {
            row += 1;
            ws.write_string_with_format(row as u32, 0, "constant", &f.header)?;
            ws.write_string_with_format(row as u32, 1, "value", &f.header)?;
            ws.write_string_with_format(row as u32, 2, "", &f.header)?;
            row += 1;
            for (c, v) in &model.constants {
                ws.write_string(row as u32, 0, c)?;
                ws.write_number(row as u32, 1, *v)?;
                consts.insert(c.clone(), abs("Settings", row, 1));
                if let Some(n) = defined_name("const", c) {
                    ws.write_string(row as u32, 2, format!("named {n}"))?;
                    names.push((n, row));
                }
                row += 1;
            }
        }
        row += 1;
        let notes = [
            "Every number on the Steps, Epochs and Rows sheets is a live formula: change a setting above and the run recalculates.",
            "Each Steps row uses the parameters and optimizer state of the row above; row 2 (start) holds the initial ones.",
            "The derivative columns are the symbolic derivative of the error, written as an Excel formula.",
        ];
        for n in notes {
            ws.write_string_with_format(row as u32, 0, n, &f.note)?;
            row += 1;
        }
        for (n, r) in names {
            wb.define_name(n, &format!("={}", abs("Settings", r, 1)))?;
        }
    }

    // ---- Data ----
    let data_cols: Vec<usize> = model
        .columns
        .iter()
        .map(|c| run.data.column_index(c).unwrap_or(0))
        .collect();
    let ndc = run.data.columns.len();
    let fit_col = ndc;
    let last_step_row = 1 + trace.len();
    let cols = StepCols::new(nc, np, trace.layout.state_vars.len(), trace.layout.has_fd);
    {
        let ws = wb.add_worksheet().set_name("Data")?;
        for (j, c) in run.data.columns.iter().enumerate() {
            ws.write_string_with_format(0, j as u16, c, &f.header)?;
        }
        ws.write_string_with_format(
            0,
            fit_col as u16,
            "prediction at the final parameters",
            &f.header,
        )?;
        ws.set_column_width(fit_col as u16, 32)?;
        ws.set_freeze_panes(1, 0)?;
        let final_params = trace.step(trace.len() - 1).new_params.to_vec();
        let compiled = model.compile();
        let mut wsp = compiled.workspace();
        let proj = run.data.project(&model.columns).unwrap_or_default();
        for i in 0..n_data {
            let r = i + 1;
            for (j, v) in run.data.row(i).iter().enumerate() {
                ws.write_number(r as u32, j as u16, *v)?;
            }
            let name = |n: &str| -> String {
                if let Some(k) = model.columns.iter().position(|c| c == n) {
                    a1(r, data_cols[k])
                } else if let Some(k) = model.params.iter().position(|p| p == n) {
                    abs("Steps", last_step_row, cols.new + k)
                } else if let Some(c) = consts.get(n) {
                    c.clone()
                } else {
                    n.to_string()
                }
            };
            let (pred, _) = compiled.row(&mut wsp, &proj[i * nc..(i + 1) * nc], &final_params);
            let pf = format!("={}", model.prediction.render(Notation::Excel, &name));
            cells.formula(ws, r, fit_col, &pf, pred, &f.value)?;
        }
        if opts.charts {
            if let Some((xc, yc)) = fit_axes(model, run.data) {
                let mut chart = Chart::new(ChartType::Scatter);
                chart
                    .add_series()
                    .set_name("data")
                    .set_categories(("Data", 1, xc as u16, n_data as u32, xc as u16))
                    .set_values(("Data", 1, yc as u16, n_data as u32, yc as u16));
                chart
                    .add_series()
                    .set_name("prediction at the final parameters")
                    .set_categories(("Data", 1, xc as u16, n_data as u32, xc as u16))
                    .set_values(("Data", 1, fit_col as u16, n_data as u32, fit_col as u16));
                chart.title().set_name("Fit against data");
                chart.x_axis().set_name(run.data.columns[xc].as_str());
                chart.y_axis().set_name(run.data.columns[yc].as_str());
                ws.insert_chart(1, fit_col as u16 + 2, &chart)?;
            }
        }
    }

    // ---- Steps (and Rows for mini-batches) ----
    let trainer = if mini {
        Some(Trainer::new(model, run.data).map_err(|e| XlsxError::Mismatch(e.to_string()))?)
    } else {
        None
    };
    let mut rows_ws = Worksheet::new();
    let rcols = EvalCols {
        inputs: 2,
        params: 2 + nc,
        pred: 2 + nc + np,
        err: 3 + nc + np,
        grads: 4 + nc + np,
        fd: 4 + nc + 2 * np,
    };
    if mini {
        rows_ws.set_name("Rows")?;
        let mut h: Vec<String> = vec!["step".into(), "data row".into()];
        h.extend(model.columns.iter().cloned());
        h.extend(model.params.iter().cloned());
        h.push("pred".into());
        h.push("err".into());
        h.extend(model.params.iter().map(|p| format!("de/d{p}")));
        if trace.layout.has_fd {
            h.extend(model.params.iter().map(|p| format!("fd de/d{p}")));
        }
        for (j, s) in h.iter().enumerate() {
            rows_ws.write_string_with_format(0, j as u16, s, &f.header)?;
        }
        rows_ws.set_freeze_panes(1, 2)?;
    }
    let mut steps_ws = Worksheet::new();
    steps_ws.set_name("Steps")?;
    {
        let ws = &mut steps_ws;
        let mut h: Vec<String> = vec!["step".into(), "epoch".into(), "data row".into()];
        h.extend(trace.layout.headers());
        for (j, s) in h.iter().enumerate() {
            ws.write_string_with_format(0, j as u16, s, &f.header)?;
        }
        ws.set_freeze_panes(1, 3)?;
        ws.set_column_width(0, 7)?;
        ws.set_column_width(1, 7)?;
        ws.set_column_width(2, 9)?;
        ws.set_column_range_width(3, (cols.new + np) as u16, 12)?;
        // The start row: the initial parameters and optimizer state.
        ws.write_string(1, 0, "start")?;
        let st0 = State::new(&run.config.optimizer, np);
        for (i, (r, v)) in init_refs.iter().zip(run.init).enumerate() {
            cells.formula(ws, 1, cols.new + i, &format!("={r}"), *v, &f.param)?;
        }
        for k in 0..st0.vars.len() {
            for i in 0..np {
                let v = st0.values[k * np + i];
                cells.formula(
                    ws,
                    1,
                    cols.state + k * np + i,
                    &initial_state(&run.config.optimizer, k, v),
                    v,
                    &f.small,
                )?;
            }
        }
        let nv = trace.layout.state_vars.len();
        let mut rows_r = 1usize;
        let mut wsp = trainer.as_ref().map(|t| t.compiled.workspace());
        let mut g_row = vec![0.0; np];
        let mut fd_row = vec![0.0; np];
        let mut scratch = vec![0.0; np];
        for (si, s) in trace.steps().enumerate() {
            let r = si + 2;
            ws.write_number_with_format(r as u32, 0, s.step as f64, &f.int)?;
            ws.write_number_with_format(r as u32, 1, s.epoch as f64, &f.int)?;
            ws.write_number_with_format(r as u32, 2, s.row as f64 + 1.0, &f.int)?;
            for i in 0..np {
                cells.formula(
                    ws,
                    r,
                    cols.params + i,
                    &format!("={}", a1(r - 1, cols.new + i)),
                    s.params[i],
                    &f.param,
                )?;
            }
            let batch = &batches[si];
            if !mini {
                for (k, &dc) in data_cols.iter().enumerate() {
                    cells.formula(
                        ws,
                        r,
                        cols.inputs + k,
                        &format!("=Data!{}", a1(s.row + 1, dc)),
                        s.inputs[k],
                        &f.value,
                    )?;
                }
                let v = EvalValues {
                    pred: s.pred,
                    err: s.error,
                    grads: s.grads,
                    fd: s.fd,
                };
                write_eval(ws, &cells, &f, run, &consts, r, cols.eval(), &v)?;
            } else {
                let t = trainer
                    .as_ref()
                    .ok_or_else(|| XlsxError::Mismatch("no trainer".into()))?;
                let wsp = wsp
                    .as_mut()
                    .ok_or_else(|| XlsxError::Mismatch("no workspace".into()))?;
                let first = rows_r;
                for &dr in batch {
                    let rr = rows_r;
                    rows_ws.write_number_with_format(rr as u32, 0, s.step as f64, &f.int)?;
                    rows_ws.write_number_with_format(rr as u32, 1, dr as f64 + 1.0, &f.int)?;
                    let xrow = t.row(dr as usize);
                    for (k, &dc) in data_cols.iter().enumerate() {
                        cells.formula(
                            &mut rows_ws,
                            rr,
                            rcols.inputs + k,
                            &format!("=Data!{}", a1(dr as usize + 1, dc)),
                            xrow[k],
                            &f.value,
                        )?;
                    }
                    for i in 0..np {
                        let pf = format!(
                            "=Steps!{}",
                            row_col_to_cell_absolute(r as u32, (cols.params + i) as u16)
                        );
                        cells.formula(
                            &mut rows_ws,
                            rr,
                            rcols.params + i,
                            &pf,
                            s.params[i],
                            &f.param,
                        )?;
                    }
                    let (pred, err) = match run.config.gradient {
                        Gradient::Auto => t.compiled.row_grad(wsp, xrow, s.params, &mut g_row),
                        Gradient::Fd { scheme, h } => {
                            t.row_fd(wsp, xrow, s.params, scheme, h, &mut g_row, &mut scratch)
                        }
                    };
                    let fd = match run.config.show_fd {
                        Some((scheme, h)) => {
                            t.row_fd(wsp, xrow, s.params, scheme, h, &mut fd_row, &mut scratch);
                            Some(fd_row.as_slice())
                        }
                        None => None,
                    };
                    let v = EvalValues {
                        pred,
                        err,
                        grads: &g_row,
                        fd,
                    };
                    write_eval(&mut rows_ws, &cells, &f, run, &consts, rr, rcols, &v)?;
                    rows_r += 1;
                }
                let last = rows_r - 1;
                let m = batch.len();
                let mean = |c: usize| format!("=SUM(Rows!{}:{})/{m}", a1(first, c), a1(last, c));
                for k in 0..nc {
                    cells.formula(
                        ws,
                        r,
                        cols.inputs + k,
                        &format!("=Rows!{}", a1(first, rcols.inputs + k)),
                        s.inputs[k],
                        &f.value,
                    )?;
                }
                cells.formula(
                    ws,
                    r,
                    cols.pred,
                    &format!("=Rows!{}", a1(first, rcols.pred)),
                    s.pred,
                    &f.value,
                )?;
                cells.formula(ws, r, cols.err, &mean(rcols.err), s.error, &f.value)?;
                for i in 0..np {
                    cells.formula(
                        ws,
                        r,
                        cols.grads + i,
                        &mean(rcols.grads + i),
                        s.grads[i],
                        &f.value,
                    )?;
                }
                if let Some(fd) = s.fd {
                    for (i, v) in fd.iter().enumerate() {
                        cells.formula(ws, r, cols.fd + i, &mean(rcols.fd + i), *v, &f.value)?;
                    }
                }
            }
            // The optimizer's update.
            let new_epoch = si > 0 && trace.meta[si - 1].0 != trace.meta[si].0;
            let t_cell = a1(r, 0);
            for i in 0..np {
                let p = a1(r, cols.params + i);
                let g = a1(r, cols.grads + i);
                let uc = UpdateCells {
                    p: &p,
                    g: &g,
                    t: &t_cell,
                    prev: (0..nv)
                        .map(|k| a1(r - 1, cols.state + k * np + i))
                        .collect(),
                    cur: (0..nv).map(|k| a1(r, cols.state + k * np + i)).collect(),
                    new_epoch,
                };
                let (states, new) = update_formulas(&run.config.optimizer, &uc);
                for (k, sf) in states.iter().enumerate() {
                    cells.formula(
                        ws,
                        r,
                        cols.state + k * np + i,
                        sf,
                        s.state[k * np + i],
                        &f.small,
                    )?;
                }
                cells.formula(ws, r, cols.new + i, &new, s.new_params[i], &f.param)?;
            }
        }
    }

    // ---- Epochs ----
    let mut epochs_ws = Worksheet::new();
    epochs_ws.set_name("Epochs")?;
    {
        let ws = &mut epochs_ws;
        let mut h: Vec<String> = vec![
            "epoch".into(),
            "steps".into(),
            "sum err".into(),
            "mean err".into(),
            "sheet rmse".into(),
            "rmse".into(),
        ];
        h.extend(model.params.iter().map(|p| format!("|de/d{p}|")));
        h.extend(model.params.iter().cloned());
        h.push("lr".into());
        for (j, s) in h.iter().enumerate() {
            ws.write_string_with_format(0, j as u16, s, &f.header)?;
        }
        ws.set_freeze_panes(1, 1)?;
        ws.set_column_range_width(0, (6 + 2 * np) as u16, 12)?;
        let mut first = 0usize;
        for (ei, e) in trace.epochs.iter().enumerate() {
            let r = ei + 1;
            let mut last = first;
            while last + 1 < trace.len() && trace.meta[last + 1].0 as usize == e.epoch {
                last += 1;
            }
            let (a, b) = (first + 2, last + 2);
            let count = last + 1 - first;
            ws.write_number_with_format(r as u32, 0, e.epoch as f64, &f.int)?;
            ws.write_number_with_format(r as u32, 1, count as f64, &f.int)?;
            let range = |c: usize| format!("Steps!{}:{}", a1(a, c), a1(b, c));
            cells.formula(
                ws,
                r,
                2,
                &format!("=SUM({})", range(cols.err)),
                e.sum_error,
                &f.value,
            )?;
            cells.formula(
                ws,
                r,
                3,
                &format!("={}/{}", a1(r, 2), a1(r, 1)),
                e.mean_error,
                &f.value,
            )?;
            cells.formula(
                ws,
                r,
                4,
                &format!("=SQRT({})", a1(r, 2)),
                e.sheet_rmse,
                &f.value,
            )?;
            cells.formula(ws, r, 5, &format!("=SQRT({})", a1(r, 3)), e.rmse, &f.value)?;
            for i in 0..np {
                cells.formula(
                    ws,
                    r,
                    6 + i,
                    &format!("=SQRT(SUMSQ({}))", range(cols.grads + i)),
                    e.grad_norms[i],
                    &f.value,
                )?;
                cells.formula(
                    ws,
                    r,
                    6 + np + i,
                    &format!("=Steps!{}", a1(b, cols.new + i)),
                    e.params[i],
                    &f.param,
                )?;
            }
            cells.formula(ws, r, 6 + 2 * np, "=lr", e.lr, &f.small)?;
            first = last + 1;
        }
        let ne = trace.epochs.len();
        if opts.charts && ne > 0 {
            let mut chart = Chart::new(ChartType::Line);
            chart
                .add_series()
                .set_name("mean error")
                .set_categories(("Epochs", 1, 0, ne as u32, 0))
                .set_values(("Epochs", 1, 3, ne as u32, 3));
            chart.title().set_name("Error by epoch");
            chart.x_axis().set_name("epoch");
            chart
                .y_axis()
                .set_name("mean error (log scale)")
                .set_log_base(10);
            ws.insert_chart(1, (8 + 2 * np) as u16, &chart)?;
        }
    }

    wb.push_worksheet(steps_ws);
    wb.push_worksheet(epochs_ws);
    if mini {
        wb.push_worksheet(rows_ws);
    }
    Ok(wb.save_to_buffer()?)
}

/// The data column to plot across (the first model input that is not `y`) and the target
/// (`y`), by index into the data's columns.
fn fit_axes(model: &Model, data: &Dataset) -> Option<(usize, usize)> {
    let y = data.column_index("y")?;
    let x = model
        .columns
        .iter()
        .filter(|c| c.as_str() != "y" && model.prediction.mentions(c))
        .find_map(|c| data.column_index(c))?;
    Some((x, y))
}

/// Column positions of the Steps sheet.
struct StepCols {
    inputs: usize,
    params: usize,
    pred: usize,
    err: usize,
    grads: usize,
    fd: usize,
    state: usize,
    new: usize,
}

impl StepCols {
    fn new(nc: usize, np: usize, nv: usize, has_fd: bool) -> StepCols {
        let inputs = 3;
        let params = inputs + nc;
        let pred = params + np;
        let err = pred + 1;
        let grads = err + 1;
        let fd = grads + np;
        let state = fd + if has_fd { np } else { 0 };
        let new = state + nv * np;
        StepCols {
            inputs,
            params,
            pred,
            err,
            grads,
            fd,
            state,
            new,
        }
    }

    fn eval(&self) -> EvalCols {
        EvalCols {
            inputs: self.inputs,
            params: self.params,
            pred: self.pred,
            err: self.err,
            grads: self.grads,
            fd: self.fd,
        }
    }
}

/// The Excel name of a 0-based column (0 → A).
pub fn column_name(col: usize) -> String {
    column_number_to_name(col as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_read_back_exactly() {
        for v in [
            0.1,
            1e-7,
            123456.789,
            -3.0e20,
            5e-324,
            0.0,
            -18.33392669020789,
        ] {
            assert_eq!(result_text(v).parse::<f64>().unwrap(), v);
        }
        assert_eq!(result_text(f64::NAN), "#NUM!");
    }

    #[test]
    fn lerp_branches() {
        assert_eq!(
            lerp_formula("A1", "B1", "(1-beta1)", 0.1),
            "A1+(1-beta1)*(B1-A1)"
        );
        assert_eq!(
            lerp_formula("A1", "B1", "(1-alpha)", 0.7),
            "B1-(B1-A1)*(1-(1-alpha))"
        );
    }
}

//! Flags shared by the commands that run a model: the model, its loss, the data, roles,
//! initial values, the optimizer and the schedule.

use anyhow::Result;
use gradsheet_engine::{Dataset, Model, Roles, Scheme};
use gradsheet_train::{
    rules, Generator, Gradient, Hyper, Optimizer, OptimizerError, Record, TrainConfig, RULES,
};

use super::{formula_error, usage};

/// The model, its loss and its data.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// The model, in spreadsheet syntax, e.g. "c*MAX(a*x+b,0)+d".
    #[arg(allow_hyphen_values = true)]
    pub model: String,
    /// The loss: squared, absolute, huber, bce, bce10, or a formula in `pred` and the data columns.
    #[arg(long, default_value = "squared", allow_hyphen_values = true)]
    pub loss: String,
    /// Data from a CSV file or a workbook (.xlsx) with a header row (default: fast.ai's graddesc data, y = 2x + 30).
    #[arg(long, value_name = "FILE")]
    pub data: Option<std::path::PathBuf>,
    /// The sheet of an xlsx --data file (default: the first).
    #[arg(long, value_name = "NAME", requires = "data")]
    pub sheet: Option<String>,
    /// The data columns to use, e.g. x,y or x=Size,y=C (a header or a column letter, renamed).
    #[arg(long, value_name = "NAME[=SOURCE],...", requires = "data")]
    pub columns: Option<String>,
    /// Rows to skip above the header row of the --data file.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "data")]
    pub skip_rows: usize,
    /// Generate the data: y = TARGET(x), e.g. "2*x+30".
    #[arg(long, value_name = "FORMULA", allow_hyphen_values = true)]
    pub target: Option<String>,
    /// Range of generated x, e.g. 1..100 or -5..5 (whole numbers when both ends are).
    #[arg(
        long,
        value_name = "LO..HI",
        default_value = "1..100",
        allow_hyphen_values = true
    )]
    pub x: String,
    /// Number of generated rows.
    #[arg(long, default_value_t = 29)]
    pub n: usize,
    /// Seed for generated data and shuffling.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Standard deviation of noise added to generated y.
    #[arg(long, default_value_t = 0.0, value_parser = number)]
    pub noise: f64,
    /// A constant, e.g. --const delta=1 (repeatable).
    #[arg(long = "const", value_name = "NAME=VALUE")]
    pub constants: Vec<String>,
    /// Force a name to be a parameter even if a data column has that name (repeatable).
    #[arg(long = "param", value_name = "NAME")]
    pub params: Vec<String>,
    /// Initial parameter values, e.g. a=1,b=1 (default: 1 for every parameter, as the sheets).
    #[arg(long, value_name = "NAME=VALUE,...")]
    pub init: Option<String>,
}

/// How to train.
#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    /// The optimizer (see --help for each one's settings and defaults).
    #[arg(long, default_value = "sgd", long_help = optimizer_help())]
    pub optimizer: String,
    #[command(flatten)]
    pub hyper: HyperArgs,
    /// Epochs (passes over the data).
    #[arg(long, default_value_t = 1)]
    pub epochs: usize,
    /// Rows per update: 1 = per-sample as the sheets, 0 = full batch.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Shuffle rows each epoch (seeded by --seed).
    #[arg(long)]
    pub shuffle: bool,
    /// The derivative used for the updates: auto, forward, backward or central.
    #[arg(long, default_value = "auto")]
    pub gradient: String,
    /// Step of finite differences.
    #[arg(long, default_value_t = 0.01, value_parser = number, allow_negative_numbers = true)]
    pub h: f64,
    /// Also show finite-difference estimates (forward, backward or central) beside the gradient.
    #[arg(long, value_name = "SCHEME")]
    pub show_fd: Option<String>,
}

/// The optimizers' settings as flags: one per name in the optimizer table
/// ([`gradsheet_train::rules`]), `--lr`, `--beta1`, `--weight-decay`, `--nesterov`, ...;
/// each is checked against the chosen optimizer when it is built.
#[derive(Debug, Clone, Default)]
pub struct HyperArgs(pub Hyper);

/// A flag's name for a table key: `weight_decay` → `weight-decay`, made `'static` for
/// clap once per process (the table's names are a fixed handful).
fn flag_name(key: &'static str) -> &'static str {
    if key.contains('_') {
        Box::leak(key.replace('_', "-").into_boxed_str())
    } else {
        key
    }
}

/// The help of a setting's flag: what it means for each rule that has it.
fn hyper_help(name: &str) -> String {
    let mut parts: Vec<(String, Vec<&str>)> = Vec::new();
    for r in RULES {
        if let Some(h) = r.hyper(name) {
            let what = h.meaning.to_string();
            match parts.iter_mut().find(|(w, _)| *w == what) {
                Some((_, rules)) => rules.push(r.name),
                None => parts.push((what, vec![r.name])),
            }
        }
    }
    if let [(what, rules)] = parts.as_slice() {
        if rules.len() == RULES.len() {
            return format!("The {what} (every optimizer; defaults under --optimizer)");
        }
    }
    parts
        .iter()
        .map(|(w, rules)| format!("{w} ({})", rules.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A default as the help shows it: `1e-8` rather than `0.00000001`.
fn short(v: f64) -> String {
    if v != 0.0 && !(1e-3..1e5).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        gradsheet_train::fmt_num(v)
    }
}

/// `--optimizer`'s long help: every rule of the table with its settings.
fn optimizer_help() -> String {
    let mut s = String::from("The optimizer, in the workbooks' conventions or PyTorch's:\n");
    for r in RULES {
        let settings: Vec<String> = r
            .hypers
            .iter()
            .map(|h| {
                if h.switch {
                    format!("--{}", flag_name(h.key))
                } else {
                    format!("--{} {}", flag_name(h.key), short(h.default))
                }
            })
            .collect();
        s.push_str(&format!(
            "\n  {}: {}\n      {}",
            r.name,
            r.summary,
            settings.join(", ")
        ));
    }
    s
}

impl clap::FromArgMatches for HyperArgs {
    fn from_arg_matches(m: &clap::ArgMatches) -> std::result::Result<Self, clap::Error> {
        let mut h = HyperArgs::default();
        h.update_from_arg_matches(m)?;
        Ok(h)
    }

    fn update_from_arg_matches(
        &mut self,
        m: &clap::ArgMatches,
    ) -> std::result::Result<(), clap::Error> {
        for name in rules::hyper_names() {
            if rules::is_switch(name) {
                if m.get_flag(name) {
                    self.0.set(name, true);
                }
            } else if let Some(v) = m.get_one::<f64>(name) {
                self.0.set(name, *v);
            }
        }
        Ok(())
    }
}

impl clap::Args for HyperArgs {
    fn augment_args(mut cmd: clap::Command) -> clap::Command {
        for name in rules::hyper_names() {
            let arg = clap::Arg::new(name)
                .long(flag_name(name))
                .help(hyper_help(name));
            let arg = if rules::is_switch(name) {
                arg.action(clap::ArgAction::SetTrue)
            } else {
                arg.value_name("NUMBER")
                    .value_parser(number)
                    .allow_negative_numbers(true)
            };
            cmd = cmd.arg(arg);
        }
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

/// A number as typed: a finite decimal that does not round to infinity (`1e400`) or,
/// being nonzero, to zero (`1e-400`); `inf` and `NaN` spelled out are numbers too, for
/// the checks that follow to refuse with their own reason.
///
/// # Errors
///
/// A message naming the text and what is wrong with it.
pub fn number(s: &str) -> std::result::Result<f64, String> {
    let t = s.trim();
    let v: f64 = t.parse().map_err(|_| format!("'{t}' is not a number"))?;
    let spelled = |w: &[&str]| {
        w.iter()
            .any(|x| t.trim_start_matches(['+', '-']).eq_ignore_ascii_case(x))
    };
    if v.is_infinite() && !spelled(&["inf", "infinity"]) {
        return Err(format!(
            "'{t}' is too large: the largest number is about 1.8e308"
        ));
    }
    let mantissa = t.split(['e', 'E']).next().unwrap_or("");
    if v == 0.0 && mantissa.chars().any(|c| ('1'..='9').contains(&c)) {
        return Err(format!(
            "'{t}' is too small: it would be 0 (the smallest number is about 5e-324)"
        ));
    }
    Ok(v)
}

/// Splits `a=1,b=2` (or repeated `a=1`) into pairs, with errors that name the fault.
pub fn parse_assignments(items: &[String], what: &str) -> Result<Vec<(String, f64)>> {
    let mut out = Vec::new();
    for item in items.iter().flat_map(|s| s.split(',')) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some((k, v)) = item.split_once('=') else {
            return Err(usage(format!("{what} '{item}' must look like name=value")));
        };
        let v = number(v).map_err(|e| usage(format!("{what} '{item}': {e}")))?;
        out.push((k.trim().to_string(), v));
    }
    Ok(out)
}

impl ModelArgs {
    /// Loads or generates the data.
    pub fn dataset(&self) -> Result<Dataset> {
        if let Some(path) = &self.data {
            let opts = crate::output::DataOptions {
                sheet: self.sheet.clone(),
                columns: self.columns.clone(),
                skip_rows: self.skip_rows,
            };
            return crate::output::read_data(path, &opts);
        }
        if let Some(target) = &self.target {
            // Generated rows (x and y) obey the bound of a data file's cells.
            let most = crate::output::import::MAX_CELLS / 2;
            if self.n > most {
                return Err(usage(format!(
                    "--n {}: at most {most} generated rows (the bound of a data table's cells, 2 per row)",
                    self.n
                )));
            }
            let (lo, hi) = parse_range(&self.x)?;
            let integer_x = whole_range(&self.x, lo, hi);
            let g = Generator {
                target: target.clone(),
                x_lo: lo,
                x_hi: hi,
                integer_x,
                n: self.n,
                seed: self.seed,
                noise: self.noise,
            };
            return g.generate().map_err(usage);
        }
        Ok(Dataset::graddesc())
    }

    /// Parses the model and loss against the data's columns.
    pub fn model(&self, data: &Dataset) -> Result<Model> {
        let roles = Roles {
            data: data.columns.clone(),
            constants: parse_assignments(&self.constants, "--const")?,
            params: self.params.clone(),
        };
        Model::new(&self.model, &self.loss, &roles).map_err(|e| {
            let what = if e.source == self.model {
                "model"
            } else {
                "loss"
            };
            formula_error(what, &e)
        })
    }

    /// Initial parameter values: 1 for each unless --init says otherwise.
    pub fn init(&self, model: &Model) -> Result<Vec<f64>> {
        let mut init = vec![1.0; model.params.len()];
        if let Some(s) = &self.init {
            for (k, v) in parse_assignments(std::slice::from_ref(s), "--init")? {
                let i = model.params.iter().position(|p| *p == k).ok_or_else(|| {
                    usage(format!(
                        "--init sets '{k}', which is not a parameter (the parameters are {})",
                        model.params.join(", ")
                    ))
                })?;
                init[i] = v;
            }
        }
        Ok(init)
    }
}

/// Parses `lo..hi`.
pub fn parse_range(s: &str) -> Result<(f64, f64)> {
    let (a, b) = s.split_once("..").ok_or_else(|| {
        usage(format!(
            "the range '{s}' must look like LO..HI, e.g. 1..100"
        ))
    })?;
    let p = |t: &str| number(t).map_err(|e| usage(format!("in the range '{s}', {e}")));
    Ok((p(a)?, p(b)?))
}

/// Whether a `LO..HI` range draws whole numbers (as the workbooks' `RANDBETWEEN(1,100)`):
/// both ends whole and written without a decimal point (`1.0..100` draws reals). The
/// `..` between the ends is not a decimal point.
pub fn whole_range(s: &str, lo: f64, hi: f64) -> bool {
    let ends_whole = s
        .split_once("..")
        .is_some_and(|(a, b)| !a.contains('.') && !b.contains('.'));
    lo.fract() == 0.0 && hi.fract() == 0.0 && ends_whole
}

impl TrainArgs {
    /// The optimizer named by the flags.
    pub fn optimizer(&self) -> Result<Optimizer> {
        Optimizer::from_name(&self.optimizer, &self.hyper.0).map_err(|e| match &e {
            // Named as typed: `--weight-decay`, not `weight_decay`.
            OptimizerError::NotApplicable { setting, .. } => usage(e.to_string().replacen(
                setting.as_str(),
                &format!("--{}", setting.replace('_', "-")),
                1,
            )),
            _ => usage(e),
        })
    }

    /// The training configuration.
    pub fn config(&self, seed: u64, record: Record) -> Result<TrainConfig> {
        let gradient = match self.gradient.to_ascii_lowercase().as_str() {
            "auto" | "exact" | "analytic" => Gradient::Auto,
            other => Gradient::Fd {
                scheme: other.parse::<Scheme>().map_err(usage)?,
                h: self.h,
            },
        };
        if !(self.h.is_finite() && self.h > 0.0) {
            return Err(usage(format!("--h {} must be a number > 0", self.h)));
        }
        let show_fd = match &self.show_fd {
            Some(s) => Some((s.parse::<Scheme>().map_err(usage)?, self.h)),
            None => None,
        };
        let mut cfg = TrainConfig::new(self.optimizer()?, self.epochs);
        cfg.batch_size = self.batch;
        cfg.shuffle = self.shuffle.then_some(seed);
        cfg.gradient = gradient;
        cfg.show_fd = show_fd;
        cfg.record = record;
        Ok(cfg)
    }
}

pub use crate::output::read_to_string;

/// Where to write a run's results (every command that produces a run takes these).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct OutputArgs {
    /// Write the step trace as CSV.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<std::path::PathBuf>,
    /// Write the run (trace, epochs, settings) as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<std::path::PathBuf>,
    /// Write the run as an xlsx workbook with live formulas.
    #[arg(long, value_name = "FILE")]
    pub xlsx: Option<std::path::PathBuf>,
    /// Draw the run's charts (SVG and PNG) into this folder.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<std::path::PathBuf>,
}

/// Set by Ctrl-C while a run is in progress: the training loop polls it through
/// [`gradsheet_train::Hooks::should_stop`] and stops cleanly, keeping what it computed.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether Ctrl-C was pressed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Installs the Ctrl-C handler once: the first Ctrl-C asks the run to stop (its outputs
/// are still written); a second one exits at once with the shell's code for SIGINT.
pub fn install_ctrlc() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            if INTERRUPTED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                std::process::exit(130);
            }
            eprintln!("\nstopping after this step; the outputs will hold every step computed (Ctrl-C again to quit at once)");
        });
    });
}

/// A progress bar on stderr of `len` ticks drawn with indicatif's `template`, or `None`
/// when stderr is not a terminal (a pipe or a file gets no bar).
pub fn progress_bar(len: u64, template: &str) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(len);
        if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
            b.set_style(style.progress_chars("=> "));
        }
        b
    })
}

/// Runs `trainer` with Ctrl-C handling and, for long runs on a terminal, a progress bar
/// on stderr (one tick per epoch), handing the run to `sink` as it goes. The way of
/// running (native or interpreted: the same numbers, bit for bit) is chosen by
/// [`gradsheet_jit::train_into`].
///
/// # Errors
///
/// Those of [`gradsheet_train::Trainer::run`].
pub fn run_live(
    trainer: &gradsheet_train::Trainer,
    init: &[f64],
    cfg: &TrainConfig,
    label: &str,
    sink: &mut dyn gradsheet_train::Sink,
) -> std::result::Result<gradsheet_train::RunEnd, gradsheet_train::TrainError> {
    run_live_on(trainer, init, cfg, label, sink, None)
}

/// [`run_live`] on `backend` when one is given (dropout's, which draws its masks before
/// each epoch), else as [`run_live`] chooses.
pub fn run_live_on(
    trainer: &gradsheet_train::Trainer,
    init: &[f64],
    cfg: &TrainConfig,
    label: &str,
    sink: &mut dyn gradsheet_train::Sink,
    backend: Option<&mut dyn gradsheet_train::Backend>,
) -> std::result::Result<gradsheet_train::RunEnd, gradsheet_train::TrainError> {
    install_ctrlc();
    let long = cfg.epochs.saturating_mul(trainer.n_rows) >= 50_000 && cfg.epochs > 1;
    let bar = long
        .then(|| {
            progress_bar(
                cfg.epochs as u64,
                &format!("{label} [{{bar:40}}] epoch {{pos}}/{{len}} ({{eta}} left)"),
            )
        })
        .flatten();
    let mut progress = |done: usize, _total: usize| {
        if let Some(b) = &bar {
            b.set_position(done as u64);
        }
    };
    let mut hooks = gradsheet_train::Hooks {
        should_stop: &interrupted,
        progress: &mut progress,
    };
    let result = match backend {
        Some(b) => trainer.run_on(b, init, cfg, &mut hooks, sink),
        None => gradsheet_jit::train_into(trainer, init, cfg, &mut hooks, sink, None),
    };
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    result
}

/// Prints `text` to stdout, through `less -FRSX` when stdout is a terminal and the text
/// is long (less quits at once if it fits on one screen); plain printing otherwise or if
/// less cannot be started. Write errors (a closed pipe) are ignored.
pub fn page(text: &str) {
    use std::io::{IsTerminal, Write};
    if std::io::stdout().is_terminal() && text.lines().count() > 40 {
        let child = std::process::Command::new("less")
            .arg("-FRSX")
            .stdin(std::process::Stdio::piped())
            .spawn();
        if let Ok(mut child) = child {
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(text.as_bytes());
            }
            let _ = child.wait();
            return;
        }
    }
    let _ = std::io::stdout().write_all(text.as_bytes());
}

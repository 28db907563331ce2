//! The JSON shapes of the API: requests the pages send and answers they read.
//!
//! These types are the only place where gradsheet's numbers meet serde: the pure crates
//! stay free of it (see ARCHITECTURE.md). Every request field has a default, so a page
//! sends only what it changes; a field a request type does not have is refused, named
//! (a misspelt `bta1` would otherwise silently leave β1 at its default).
//!
//! The model's four fields (`model`, `loss`, `data`, `constants`) are written out in each
//! request that has them rather than flattened from one struct, because serde cannot
//! refuse unknown fields around a flattened one; [`ModelRef`] gathers them again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};

/// A number as JSON: finite values as numbers, NaN and infinities as the strings `"NaN"`,
/// `"Infinity"` and `"-Infinity"` (JSON has no such numbers, and a diverging run is
/// exactly where a learner needs to see them).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Num(pub f64);

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.is_finite() {
            s.serialize_f64(v)
        } else if v.is_nan() {
            s.serialize_str("NaN")
        } else if v > 0.0 {
            s.serialize_str("Infinity")
        } else {
            s.serialize_str("-Infinity")
        }
    }
}

/// Wraps every value of a slice as a [`Num`].
pub fn nums(v: &[f64]) -> Vec<Num> {
    v.iter().copied().map(Num).collect()
}

/// Where the data comes from.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DataSpec {
    /// `"graddesc"` (fast.ai's 29 rows, y = 2x + 30) or `"target"` (generated from `target`).
    pub source: String,
    /// The generating formula in `x`, e.g. `2*x+30` (for `source = "target"`).
    pub target: String,
    /// Rows to generate.
    pub n: usize,
    /// Smallest x.
    pub x_lo: f64,
    /// Largest x.
    pub x_hi: f64,
    /// Seed of the generator.
    pub seed: u64,
    /// Standard deviation of the noise added to y.
    pub noise: f64,
}

impl Default for DataSpec {
    fn default() -> Self {
        DataSpec {
            source: "graddesc".into(),
            target: "2*x+30".into(),
            n: 29,
            x_lo: 1.0,
            x_hi: 100.0,
            seed: 7,
            noise: 0.0,
        }
    }
}

/// A model, its loss, its data and its constants: what every endpoint that computes
/// starts from, borrowed from the request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelRef<'a> {
    /// The prediction formula, e.g. `a*x+b`.
    pub model: &'a str,
    /// A loss name (`squared`, `absolute`, `huber`, `bce`, `bce10`) or a formula in `pred`.
    pub loss: &'a str,
    /// The data.
    pub data: &'a DataSpec,
    /// Names with fixed values (e.g. Huber's `delta`).
    pub constants: &'a BTreeMap<String, f64>,
}

/// The request of the formula playground (`/api/formula`): parse a model and its loss,
/// find the parameters, differentiate.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FormulaSpec {
    /// The prediction formula, e.g. `a*x+b`.
    pub model: String,
    /// A loss name (`squared`, `absolute`, `huber`, `bce`, `bce10`) or a formula in `pred`.
    pub loss: String,
    /// The data.
    pub data: DataSpec,
    /// Names with fixed values (e.g. Huber's `delta`).
    pub constants: BTreeMap<String, f64>,
}

impl Default for FormulaSpec {
    fn default() -> Self {
        FormulaSpec {
            model: "a*x+b".into(),
            loss: "squared".into(),
            data: DataSpec::default(),
            constants: BTreeMap::new(),
        }
    }
}

/// `model_ref()` for the requests with a model's four fields.
macro_rules! model_ref {
    ($($t:ty),*) => {$(
        impl $t {
            /// The model, loss, data and constants of the request.
            pub fn model_ref(&self) -> ModelRef<'_> {
                ModelRef {
                    model: &self.model,
                    loss: &self.loss,
                    data: &self.data,
                    constants: &self.constants,
                }
            }
        }
    )*};
}

model_ref!(FormulaSpec, TrainSpec, CheckSpec, CompareSpec, SweepSpec);

/// Hyperparameters by name, the names of the optimizer table (`GET /api/optimizers`):
/// `{"lr": 0.01, "beta1": 0.9, "nesterov": true}`. Unset (or `null`) ones take the
/// optimizer's defaults. A name no optimizer has is refused as an unknown field (at
/// `hyper.NAME`); one the chosen optimizer lacks, when it is built.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
#[serde(transparent)]
pub struct HyperSpec(pub BTreeMap<String, Option<HyperValue>>);

impl<'de> Deserialize<'de> for HyperSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<HyperSpec, D::Error> {
        use serde::de::{DeserializeSeed, MapAccess, Visitor};
        /// Every name of the optimizer table, for serde's "expected one of".
        fn names() -> &'static [&'static str] {
            static NAMES: std::sync::OnceLock<&'static [&'static str]> = std::sync::OnceLock::new();
            NAMES.get_or_init(|| gradsheet_train::rules::hyper_names().leak())
        }
        /// Refuses the value of an unknown name, so that the error is located at it.
        struct Unknown<'a>(&'a str);
        impl<'de> DeserializeSeed<'de> for Unknown<'_> {
            type Value = ();
            fn deserialize<D: serde::Deserializer<'de>>(self, _: D) -> Result<(), D::Error> {
                Err(serde::de::Error::unknown_field(self.0, names()))
            }
        }
        struct Map;
        impl<'de> Visitor<'de> for Map {
            type Value = HyperSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("hyperparameters by name")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<HyperSpec, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(k) = m.next_key::<String>()? {
                    if names().contains(&k.as_str()) {
                        let v = m.next_value::<Option<HyperValue>>()?;
                        out.insert(k, v);
                    } else {
                        m.next_value_seed(Unknown(&k))?;
                    }
                }
                Ok(HyperSpec(out))
            }
        }
        d.deserialize_map(Map)
    }
}

impl HyperSpec {
    /// With `name` set to `v`.
    pub fn with(mut self, name: &str, v: impl Into<HyperValue>) -> HyperSpec {
        self.0.insert(name.to_string(), Some(v.into()));
        self
    }
}

/// A hyperparameter's value: a number, or a switch.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum HyperValue {
    /// A number.
    Number(f64),
    /// On or off.
    Switch(bool),
}

impl From<f64> for HyperValue {
    fn from(v: f64) -> HyperValue {
        HyperValue::Number(v)
    }
}

impl From<bool> for HyperValue {
    fn from(v: bool) -> HyperValue {
        HyperValue::Switch(v)
    }
}

/// An optimizer rule as the page lists it (`GET /api/optimizers`), from the optimizer
/// table: the page holds no copy of its own.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct OptimizerOut {
    /// The name requests use (`torch-adam`).
    pub name: String,
    /// The label of menus (`torch Adam`).
    pub label: String,
    /// `workbook` or `torch`.
    pub convention: String,
    /// One line on what it does.
    pub summary: String,
    /// Its settings, the learning rate first.
    pub hypers: Vec<HyperOut>,
    /// Its state variables: (name, meaning).
    pub state: Vec<(String, String)>,
}

/// A setting of an optimizer rule.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct HyperOut {
    /// Its name in requests (`beta1`, `weight_decay`).
    pub key: String,
    /// Other names it answers to.
    pub aliases: Vec<String>,
    /// How a person reads it (`β1`, `α`).
    pub symbol: String,
    /// What it does.
    pub meaning: String,
    /// The rule's default (0 or 1 for a switch).
    pub default: f64,
    /// The smallest value allowed (none: no bound).
    pub min: Option<f64>,
    /// The largest value allowed (none: no bound).
    pub max: Option<f64>,
    /// Whether `max` itself is allowed.
    pub max_included: bool,
    /// A switch (`true`/`false`) rather than a number.
    pub switch: bool,
    /// Which of the page's two β sliders sets it (1 or 2), if one does.
    pub slot: Option<u8>,
}

/// A training run: model, optimizer, schedule, and what to send back.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TrainSpec {
    /// The prediction formula (see [`FormulaSpec::model`]).
    pub model: String,
    /// The loss, a name or a formula in `pred`.
    pub loss: String,
    /// The data.
    pub data: DataSpec,
    /// Names with fixed values.
    pub constants: BTreeMap<String, f64>,
    /// The graddesc sheet this run mirrors (`basic`, `momentum`, ...), when it comes from
    /// the graddesc lab; informational until the faithful replay is wired in.
    pub sheet: Option<String>,
    /// The optimizer's name (see `gradsheet_train::RULES`).
    pub optimizer: String,
    /// Its hyperparameters.
    pub hyper: HyperSpec,
    /// Passes over the data.
    pub epochs: usize,
    /// Rows per update (1 = per sample as the sheets, 0 = the whole data).
    pub batch: usize,
    /// Initial parameter values by name (1 for any not given, as the sheets).
    pub init: BTreeMap<String, f64>,
    /// Record forward differences (h = 0.01, as the basic sheet) beside the gradient.
    pub show_fd: bool,
    /// Which epoch's step rows to send (1-based); default: the first, or the one where the
    /// run diverged.
    pub view_epoch: Option<usize>,
    /// Compute the error surface around the path (for the contour chart).
    pub contours: Option<ContourSpec>,
}

impl Default for TrainSpec {
    fn default() -> Self {
        let m = FormulaSpec::default();
        TrainSpec {
            model: m.model,
            loss: m.loss,
            data: m.data,
            constants: m.constants,
            sheet: None,
            optimizer: "sgd".into(),
            hyper: HyperSpec::default(),
            epochs: 1,
            batch: 1,
            init: BTreeMap::new(),
            show_fd: false,
            view_epoch: None,
            contours: None,
        }
    }
}

/// The error surface of two parameters on a grid.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ContourSpec {
    /// The two parameters on the axes (default: the model's first two).
    pub params: Option<[String; 2]>,
    /// Grid points per axis.
    pub n: usize,
    /// The x range; default: around the path.
    pub x: Option<[f64; 2]>,
    /// The y range; default: around the path.
    pub y: Option<[f64; 2]>,
}

impl Default for ContourSpec {
    fn default() -> Self {
        ContourSpec {
            params: None,
            n: 48,
            x: None,
            y: None,
        }
    }
}

/// A gradient check: the three derivatives on every row, and optionally a typed one.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CheckSpec {
    /// The prediction formula (see [`FormulaSpec::model`]).
    pub model: String,
    /// The loss, a name or a formula in `pred`.
    pub loss: String,
    /// The data.
    pub data: DataSpec,
    /// Names with fixed values.
    pub constants: BTreeMap<String, f64>,
    /// Parameter values (1 for any not given).
    pub at: BTreeMap<String, f64>,
    /// The finite-difference step.
    pub h: f64,
    /// A typed derivative to recognise: `(parameter, formula)`.
    pub claimed: Option<(String, String)>,
}

impl Default for CheckSpec {
    fn default() -> Self {
        let m = FormulaSpec::default();
        CheckSpec {
            model: m.model,
            loss: m.loss,
            data: m.data,
            constants: m.constants,
            at: BTreeMap::new(),
            h: 1e-3,
            claimed: None,
        }
    }
}

/// One optimizer of a comparison.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RunSpec {
    /// The optimizer's name.
    pub optimizer: String,
    /// Its hyperparameters.
    pub hyper: HyperSpec,
}

/// Several optimizers on one model, from the same start.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CompareSpec {
    /// The prediction formula (see [`FormulaSpec::model`]).
    pub model: String,
    /// The loss, a name or a formula in `pred`.
    pub loss: String,
    /// The data.
    pub data: DataSpec,
    /// Names with fixed values.
    pub constants: BTreeMap<String, f64>,
    /// Initial values by name.
    pub init: BTreeMap<String, f64>,
    /// Epochs for each.
    pub epochs: usize,
    /// The optimizers.
    pub runs: Vec<RunSpec>,
    /// Compute the error surface for the paths.
    pub contours: Option<ContourSpec>,
}

impl Default for CompareSpec {
    fn default() -> Self {
        let m = FormulaSpec::default();
        CompareSpec {
            model: m.model,
            loss: m.loss,
            data: m.data,
            constants: m.constants,
            init: BTreeMap::new(),
            epochs: 10,
            runs: Vec::new(),
            contours: None,
        }
    }
}

/// One axis of a stability map.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AxisSpec {
    /// The setting, in the command line's words (`gradsheet sweep --x-axis`): `lr`,
    /// `beta1` (also `beta`, `momentum`), `beta2` (also `alpha`), `init` (a factor on
    /// every initial value), `batch` or `epochs`.
    pub name: String,
    /// First value.
    pub lo: f64,
    /// Last value.
    pub hi: f64,
    /// Number of values.
    pub n: usize,
    /// Space the values geometrically.
    pub log: bool,
}

impl Default for AxisSpec {
    fn default() -> Self {
        AxisSpec {
            name: "lr".into(),
            lo: 1e-5,
            hi: 1e-3,
            n: 12,
            log: true,
        }
    }
}

/// A grid of two settings, each cell one training run.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SweepSpec {
    /// The prediction formula (see [`FormulaSpec::model`]).
    pub model: String,
    /// The loss, a name or a formula in `pred`.
    pub loss: String,
    /// The data.
    pub data: DataSpec,
    /// Names with fixed values.
    pub constants: BTreeMap<String, f64>,
    /// The optimizer and the hyperparameters not swept.
    pub optimizer: String,
    /// Hyperparameters not swept.
    pub hyper: HyperSpec,
    /// Initial values by name.
    pub init: BTreeMap<String, f64>,
    /// Epochs per cell.
    pub epochs: usize,
    /// The horizontal axis.
    pub x: AxisSpec,
    /// The vertical axis; `None` for a single row.
    pub y: Option<AxisSpec>,
}

impl Default for SweepSpec {
    fn default() -> Self {
        let m = FormulaSpec::default();
        SweepSpec {
            model: m.model,
            loss: m.loss,
            data: m.data,
            constants: m.constants,
            optimizer: "sgd".into(),
            hyper: HyperSpec::default(),
            init: BTreeMap::new(),
            epochs: 5,
            x: AxisSpec::default(),
            y: None,
        }
    }
}

/// An error answer: what went wrong and, for a formula, where.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ErrorBody {
    /// The message, lowercase, no trailing period.
    pub error: String,
    /// Which input is at fault (`model`, `loss`, `lr`, `epochs`, ...), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For a formula: the fault as character positions `[start, end)` of the text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<[usize; 2]>,
    /// For a formula: the text with a caret line under the fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caret: Option<String>,
}

/// A formula and its mathematical reading.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Formula {
    /// Excel syntax, with a leading `=`.
    pub excel: String,
    /// Mathematical notation.
    pub math: String,
}

/// The derivative of the per-row error with respect to one parameter.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DerivativeOut {
    /// The parameter.
    pub param: String,
    /// ∂e/∂param.
    #[serde(flatten)]
    pub formula: Formula,
}

/// The answer of `/api/formula`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FormulaOut {
    /// The parameters, in order of first appearance.
    pub params: Vec<String>,
    /// The data columns used.
    pub columns: Vec<String>,
    /// The constants used.
    pub constants: Vec<(String, Num)>,
    /// The loss formula (a name resolved).
    pub loss: String,
    /// The per-row error: the loss with `pred` replaced by the model.
    pub row_error: Formula,
    /// ∂e/∂pred.
    pub loss_derivative: Formula,
    /// ∂e/∂p for each parameter.
    pub derivatives: Vec<DerivativeOut>,
}

/// How a run ended.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StopOut {
    /// `completed`, `diverged` or `interrupted`.
    pub kind: String,
    /// The first bad step (1-based), for a diverged run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// Its epoch (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch: Option<usize>,
    /// Its data row (1-based, as a learner counts rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<usize>,
    /// What went wrong, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An explanation of a run that went wrong, or of a model whose parameters collapse.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DiagnosisOut {
    /// What the first finding is about: `diverged`, `dead_unit`, `worse_than_start`,
    /// `stalled` or `collapse` (the last informs; the others are failures).
    pub kind: String,
    /// What happened in plain words, one sentence per finding, the most important first.
    pub summary: Vec<String>,
    /// How the run ended, in a line.
    pub headline: String,
    /// The remedies, each verified by a re-run.
    pub remedies: Vec<RemedyOut>,
    /// The explanation with its numbers: sections of a title and sentences.
    pub sections: Vec<SectionOut>,
    /// Where it came from: `diagnose` (gradsheet-diagnose), or `trace` (the stop reason
    /// alone, when the analysis itself could not run).
    pub source: String,
}

/// A remedy verified by a re-run.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RemedyOut {
    /// The label of the button that applies it (`use lr = 3.4e-5`); `None` when the page
    /// cannot apply it (a change of the data).
    pub label: Option<String>,
    /// The remedy and its re-run, in a sentence.
    pub text: String,
    /// The settings that apply it.
    pub apply: ApplyOut,
}

/// Settings a remedy changes; those not given stay.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct ApplyOut {
    /// The learning rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// The optimizer's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optimizer: Option<String>,
    /// Initial values by parameter.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub init: BTreeMap<String, f64>,
}

/// A section of a diagnosis.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SectionOut {
    /// Its title.
    pub title: String,
    /// Its sentences.
    pub lines: Vec<String>,
}

/// One epoch's summary.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct EpochOut {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean of the per-step errors.
    pub mean_error: Num,
    /// The sheets' rmse: sqrt of the sum of the errors.
    pub sheet_rmse: Num,
    /// Parameters at the end of the epoch.
    pub params: Vec<Num>,
    /// Per parameter: sqrt(Σg²) over the epoch.
    pub grad_norms: Vec<Num>,
    /// Learning rate at the end of the epoch.
    pub lr: Num,
}

/// Step rows of one epoch, as the sheet lays them out.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StepsOut {
    /// The epoch shown (1-based); 0 when no rows are available.
    pub epoch: usize,
    /// The number of the first row's step (1-based).
    pub first_step: usize,
    /// Column headers of `rows` after `step` and `row`.
    pub headers: Vec<String>,
    /// One array per step, `headers.len()` values each.
    pub rows: Vec<Vec<Num>>,
    /// Per step: the data row (1-based).
    pub data_rows: Vec<usize>,
    /// Whether the epoch had more rows than were sent.
    pub truncated: bool,
    /// Why no rows were sent, when none were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The error surface of two parameters.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ContoursOut {
    /// The parameters on the x and y axes.
    pub params: [String; 2],
    /// Grid x values.
    pub x: Vec<f64>,
    /// Grid y values.
    pub y: Vec<f64>,
    /// Mean error, `z[j][i]` at `(x[i], y[j])`.
    pub z: Vec<Vec<Num>>,
    /// The other parameters' values (held at the run's final values).
    pub fixed: Vec<(String, Num)>,
    /// Where the mean error is smallest on the grid.
    pub min: [f64; 2],
    /// The bottom of the valley: the minimum of the mean error over the two parameters
    /// (the others held), found by Newton's method from where the run ended, when it
    /// converged to one. It may lie outside the grid.
    pub minimum: Option<MinimumOut>,
}

/// A minimum of the mean error over the two parameters of an error surface.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct MinimumOut {
    /// The two parameters' values there.
    pub at: [f64; 2],
    /// The mean error there.
    pub error: Num,
}

/// The answer of `/api/train`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TrainOut {
    /// Parameter names.
    pub params: Vec<String>,
    /// Data column names.
    pub columns: Vec<String>,
    /// Optimizer state variables (`m`, `s`, ...).
    pub state_vars: Vec<String>,
    /// The optimizer as configured (with its defaults filled in).
    pub optimizer: String,
    /// The derivatives used, one per parameter.
    pub derivatives: Vec<DerivativeOut>,
    /// The step rows of one epoch.
    pub steps: StepsOut,
    /// Parameters along the run: before each step and at the end (thinned to a few
    /// thousand points for long runs, keeping the first and the last).
    pub path: Vec<Vec<Num>>,
    /// For each point of `path` but the last: its step (1-based) and the error of that
    /// step, for the chart of the error by step.
    pub path_steps: Vec<(usize, Num)>,
    /// Epoch summaries (thinned for long runs, keeping the last).
    pub epochs: Vec<EpochOut>,
    /// Epochs run in all.
    pub epochs_run: usize,
    /// How the run ended.
    pub stop: StopOut,
    /// Why it went wrong, when it did.
    pub diagnosis: Option<DiagnosisOut>,
    /// Parameters at the end.
    pub final_params: Vec<Num>,
    /// Mean error over the data at the final parameters.
    pub final_error: Num,
    /// Mean error at the initial parameters.
    pub initial_error: Num,
    /// Steps taken.
    pub steps_taken: usize,
    /// Data rows.
    pub n_rows: usize,
    /// Steps (updates) per epoch.
    pub steps_per_epoch: usize,
    /// Server-side compute time in milliseconds.
    pub compute_ms: f64,
    /// The error surface, when asked for.
    pub contours: Option<ContoursOut>,
}

/// One step of a run, asked for as formulas with its numbers (`/api/step`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StepSpec {
    /// The run, as `/api/train` takes it (its `view_epoch` and `contours` are not used).
    pub run: TrainSpec,
    /// The step (1-based, counted from the start of the run).
    pub step: usize,
}

/// A formula of a step: `name = formula = filled = value`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FormulaLine {
    /// What it computes (`pred`, `∂e/∂a`, `new a`).
    pub name: String,
    /// The formula in mathematical notation.
    pub formula: String,
    /// The same formula with the step's numbers in place of the names (rounded as a
    /// person reads them; `value` is exact).
    pub filled: Option<String>,
    /// The value the run computed.
    pub value: Num,
    /// A remark, when the line needs one.
    pub note: Option<String>,
}

/// A group of a step's formulas.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FormulaSection {
    /// Its title.
    pub title: String,
    /// Its formulas.
    pub lines: Vec<FormulaLine>,
}

/// The answer of `/api/step`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StepOut {
    /// The step (1-based).
    pub step: usize,
    /// Its epoch (1-based).
    pub epoch: usize,
    /// Its data row (1-based).
    pub row: usize,
    /// The row's values, by column.
    pub inputs: Vec<(String, Num)>,
    /// The prediction and error, the derivatives, the update.
    pub sections: Vec<FormulaSection>,
    /// Server-side compute time in milliseconds.
    pub compute_ms: f64,
}

/// One row of a gradient check.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CheckRow {
    /// Data values.
    pub inputs: Vec<Num>,
    /// Symbolic derivative evaluated, per parameter.
    pub symbolic: Vec<Num>,
    /// Reverse-mode derivative, per parameter.
    pub automatic: Vec<Num>,
    /// Central difference, per parameter.
    pub central: Vec<Num>,
}

/// The answer of `/api/check`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CheckOut {
    /// Parameter names.
    pub params: Vec<String>,
    /// Data column names.
    pub columns: Vec<String>,
    /// The finite-difference step.
    pub h: f64,
    /// Per row (the first few hundred).
    pub rows: Vec<CheckRow>,
    /// Largest relative gap between symbolic and automatic (NaN when a side is not
    /// finite somewhere).
    pub max_rel_symbolic: Num,
    /// Where and why the symbolic or the automatic derivative is not finite, if it is not.
    pub symbolic_not_finite: Option<String>,
    /// Largest relative gap between central differences and automatic (NaN when a side
    /// is not finite somewhere).
    pub max_rel_central: Num,
    /// Where and why the central difference or the automatic derivative is not finite.
    pub central_not_finite: Option<String>,
    /// What the typed derivative is, when one was given.
    pub claimed: Option<String>,
    /// Its kind, when one was given.
    pub claimed_kind: Option<VerdictKind>,
}

/// What a typed derivative is, in the three kinds the page shows in three colours.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    /// The exact derivative (to rounding).
    Exact,
    /// An approximation of it: a finite difference, right up to its truncation error.
    Approximation,
    /// Not the derivative: a lost factor, another parameter's, the prediction's alone, or
    /// none of these.
    Wrong,
}

/// One run of a comparison.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CompareRun {
    /// The optimizer as configured.
    pub label: String,
    /// Mean error per epoch.
    pub curve: Vec<Num>,
    /// Parameters along the run, at each epoch's end (from the start).
    pub path: Vec<Vec<Num>>,
    /// How it ended.
    pub stop: StopOut,
    /// Final parameters.
    pub final_params: Vec<Num>,
    /// Mean error at the final parameters.
    pub final_error: Num,
}

/// The answer of `/api/compare`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CompareOut {
    /// Parameter names.
    pub params: Vec<String>,
    /// The runs, in the order asked.
    pub runs: Vec<CompareRun>,
    /// The error surface, when asked for.
    pub contours: Option<ContoursOut>,
    /// Server-side compute time in milliseconds.
    pub compute_ms: f64,
}

/// The answer of `/api/sweep`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SweepOut {
    /// The x setting's name and values.
    pub x_name: String,
    /// x values.
    pub x: Vec<f64>,
    /// The y setting's name, if any.
    pub y_name: Option<String>,
    /// y values (one `NaN`-free value when there is no y axis).
    pub y: Vec<f64>,
    /// Mean error at the end of each run, `z[j][i]` at `(x[i], y[j])`.
    pub z: Vec<Vec<Num>>,
    /// The diverging step of each run (0 when it completed).
    pub diverged: Vec<Vec<usize>>,
    /// Each run's verdict, as `gradsheet sweep` gives it: `converged` (the error fell
    /// tenfold), `slow`, `oscillating` (the epoch error rose again) or `diverged`.
    pub class: Vec<Vec<&'static str>>,
    /// Mean error at the start (the same for every cell).
    pub initial_error: Num,
    /// Server-side compute time in milliseconds.
    pub compute_ms: f64,
}

/// A faithful replay of a graddesc workbook sheet: Reset, the typed cells, then one
/// `onestep` macro per epoch, computed as Excel computes it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SheetSpec {
    /// `2018` (course-v3) or `2016` (courses).
    pub workbook: String,
    /// The sheet: basic, momentum, rmsprop, adam, adam_ann (and 2016's adagrad,
    /// adagrad_ann, eve).
    pub sheet: String,
    /// The learning rate typed into its cell after Reset (default: the sheet's).
    pub lr: Option<f64>,
    /// β1 (momentum's and rmsprop's β) typed before Reset, which keeps it (default: the
    /// sheet's).
    pub beta1: Option<f64>,
    /// β2 of adam, adam_ann and eve, typed before Reset (default: the sheet's).
    pub beta2: Option<f64>,
    /// The slope typed into C2 after Reset (Reset writes 1).
    pub a: Option<f64>,
    /// The intercept typed into C1 after Reset (Reset writes 1).
    pub b: Option<f64>,
    /// How many times `onestep` runs after Reset (each is one epoch).
    pub onesteps: usize,
    /// After how many of those onesteps the sheet is shown (default: all of them; 0 shows
    /// the sheet as Reset and the typed cells leave it).
    pub view: Option<usize>,
    /// Compute the error surface of `a*x+b` around the passes' parameters.
    pub contours: Option<ContourSpec>,
}

impl Default for SheetSpec {
    fn default() -> Self {
        SheetSpec {
            workbook: "2018".into(),
            sheet: "basic".into(),
            lr: None,
            beta1: None,
            beta2: None,
            a: None,
            b: None,
            onesteps: 5,
            view: None,
            contours: None,
        }
    }
}

/// A column of a replayed sheet.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SheetColumn {
    /// Its letter.
    pub letter: String,
    /// The header in row 3.
    pub header: String,
    /// What it is, in words.
    pub meaning: String,
    /// Its formula in row 5.
    pub formula: String,
}

/// A displayed pass of a replay.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SheetEpoch {
    /// The onesteps before it: 0 for the sheet as Reset leaves it.
    pub epoch: usize,
    /// What led to it (`Reset`, `onestep 3`).
    pub after: String,
    /// a of the first row.
    pub a: Num,
    /// b of the first row.
    pub b: Num,
    /// The learning rate of the pass.
    pub lr: Num,
    /// The sheets' rmse: sqrt of the sum of squared errors.
    pub sheet_rmse: Num,
}

/// The answer of `/api/sheet`: the last pass as the sheet shows it, and every pass.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SheetOut {
    /// The tab name.
    pub name: String,
    /// The columns, from A.
    pub columns: Vec<SheetColumn>,
    /// Excel row number of the first row.
    pub first_row: u32,
    /// The onesteps after which the sheet is shown (0: as Reset leaves it).
    pub view: usize,
    /// The rows, one value per column.
    pub rows: Vec<Vec<Num>>,
    /// Inputs and summaries: (address, label, value).
    pub cells: Vec<(String, String, Num)>,
    /// The quirks that matter here, in sentences.
    pub notes: Vec<String>,
    /// Every displayed pass: as Reset leaves the sheet, then after each onestep.
    pub epochs: Vec<SheetEpoch>,
    /// The error surface of `a*x+b` (parameters `a`, `b`) around the passes.
    pub contours: Option<ContoursOut>,
    /// Server-side compute time in milliseconds.
    pub compute_ms: f64,
}

//! The optimizer rules as one table: for each rule its name, label, convention and
//! summary, its hyperparameters (name, symbol, meaning, default, range) and its state
//! variables. Everything that lists, names or checks a rule reads this table: the
//! command line's flags, the recipe format, the xlsx Settings sheet, the sweep axes and
//! the web page (served as JSON), so a rule is described once.
//!
//! A rule's update lives beside its configuration in [`Optimizer`] (`optim.rs`), where
//! [`Optimizer::step`] computes it and [`Optimizer::hyper_values`] names its numbers;
//! [`Rule::build`] turns named values back into the configuration.
//!
//! Adding a rule: a variant of [`Optimizer`] with its `step`, `state_vars`,
//! `hyper_values` and `rule` arms, and an entry in [`RULES`] (this file and `optim.rs`);
//! its xlsx formulas in `gradsheet-report` (the compiler refuses to build until that
//! match has an arm); and, if it should run natively, an `OptKind` in `gradsheet-jit`.

use crate::optim::{Convention, Optimizer};

/// The values a hyperparameter may take: finite numbers from `min` (included) to `max`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    /// The smallest value (included); `-∞` for none.
    pub min: f64,
    /// The largest value; `+∞` for none.
    pub max: f64,
    /// Whether `max` itself is allowed.
    pub max_included: bool,
}

impl Range {
    /// Any finite number.
    pub const FINITE: Range = Range {
        min: f64::NEG_INFINITY,
        max: f64::INFINITY,
        max_included: false,
    };
    /// A finite number ≥ 0.
    pub const NON_NEGATIVE: Range = Range {
        min: 0.0,
        max: f64::INFINITY,
        max_included: false,
    };
    /// [0, 1): the weights of running averages, where 1 would never move.
    pub const UNIT: Range = Range {
        min: 0.0,
        max: 1.0,
        max_included: false,
    };
    /// [0, 1].
    pub const UNIT_CLOSED: Range = Range {
        min: 0.0,
        max: 1.0,
        max_included: true,
    };

    /// Whether `v` is in the range (never NaN or infinite).
    pub fn contains(&self, v: f64) -> bool {
        v.is_finite() && v >= self.min && (v < self.max || (self.max_included && v == self.max))
    }

    /// The range in words, for messages: `a finite number >= 0`, `in [0, 1)`.
    pub fn describe(&self) -> String {
        let g = crate::fmt_num;
        match (self.min.is_finite(), self.max.is_finite()) {
            (false, false) => "a finite number".into(),
            (true, false) => format!("a finite number >= {}", g(self.min)),
            (false, true) => format!(
                "a number {} {}",
                if self.max_included { "<=" } else { "<" },
                g(self.max)
            ),
            (true, true) => format!(
                "in [{}, {}{}",
                g(self.min),
                g(self.max),
                if self.max_included { "]" } else { ")" }
            ),
        }
    }
}

/// A hyperparameter of a rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HyperDef {
    /// Its name in flags (`--weight-decay`, with `-` for `_`), recipes, JSON and the
    /// workbook's named cells.
    pub key: &'static str,
    /// Other names accepted for it (`beta1` for workbook momentum's `beta`).
    pub aliases: &'static [&'static str],
    /// How a person reads it: `β1`, `α`, `learning rate`.
    pub symbol: &'static str,
    /// What it does, in a few words.
    pub meaning: &'static str,
    /// The rule's default (0 or 1 for a switch).
    pub default: f64,
    /// The values it may take (a switch is 0 or 1).
    pub range: Range,
    /// Whether it is a switch (`--nesterov`) rather than a number.
    pub switch: bool,
    /// Which of the two "β" settings it is (1 or 2), if any: the page's two sliders and
    /// the sweep's `beta1`/`beta2` axes vary it whatever the rule calls it.
    pub slot: Option<u8>,
}

impl HyperDef {
    /// Whether `name` names this hyperparameter (its key, an alias, `-` for `_`).
    pub fn answers_to(&self, name: &str) -> bool {
        // `normalise(name) == k`, byte by byte without building the normalised name:
        // settings are looked up by name many times per run of a stability map (each
        // cell's settings are made and checked), where the two strings of `normalise`
        // were a few percent of a map. Both changes keep every byte's length.
        let name = name.trim();
        let is = |k: &str| {
            k.len() == name.len()
                && k.bytes().zip(name.bytes()).all(|(k, c)| {
                    k == match c.to_ascii_lowercase() {
                        b'-' => b'_',
                        c => c,
                    }
                })
        };
        is(self.key) || self.aliases.iter().any(|a| is(a))
    }
}

/// A state variable of a rule: one value per parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateDef {
    /// Its name in traces (`m`, `exp_avg`).
    pub name: &'static str,
    /// What it holds.
    pub meaning: &'static str,
}

/// How a rule's configuration is made from its values, looked up by key.
type Build = fn(&dyn Fn(&str) -> f64) -> Optimizer;

/// An update rule: what it is called and what it takes.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// The canonical name (`torch-adam`).
    pub name: &'static str,
    /// Other names accepted for it (`basic` for `sgd`).
    pub aliases: &'static [&'static str],
    /// A short label for menus (`torch Adam`).
    pub label: &'static str,
    /// Whose conventions it follows.
    pub convention: Convention,
    /// One line on what it does.
    pub summary: &'static str,
    /// Its hyperparameters, the learning rate first.
    pub hypers: &'static [HyperDef],
    /// Every state variable it may keep (some only with a setting on, such as torch's
    /// momentum buffer), in storage order.
    pub state: &'static [StateDef],
    /// The configuration from named values (every key of `hypers` is asked for).
    build: Build,
}

impl PartialEq for Rule {
    fn eq(&self, other: &Rule) -> bool {
        self.name == other.name
    }
}

impl Rule {
    /// The hyperparameter `name` answers to (key or alias), if the rule has it.
    pub fn hyper(&self, name: &str) -> Option<&'static HyperDef> {
        // A key as the table spells it first (the engine's own lookups, many per cell
        // of a stability map), then the names a person may type.
        (self.hypers.iter().find(|h| h.key == name))
            .or_else(|| self.hypers.iter().find(|h| h.answers_to(name)))
    }

    /// The hyperparameter in β slot `slot` (1 or 2), if any.
    pub fn slot(&self, slot: u8) -> Option<&'static HyperDef> {
        self.hypers.iter().find(|h| h.slot == Some(slot))
    }

    /// The rule with every hyperparameter at its default.
    pub fn defaults(&self) -> Optimizer {
        (self.build)(&|k| self.hyper(k).map_or(f64::NAN, |h| h.default))
    }

    /// The rule with these values by key (missing ones at their defaults), unchecked: for
    /// a caller that validates later ([`Optimizer::validate`]).
    pub fn rebuild(&self, values: &[(&str, f64)]) -> Optimizer {
        (self.build)(&|k| {
            values.iter().find(|(key, _)| *key == k).map_or_else(
                || self.hyper(k).map_or(f64::NAN, |h| h.default),
                |(_, v)| *v,
            )
        })
    }

    /// The rule with these values (by key; the rest at their defaults), checked.
    ///
    /// # Errors
    ///
    /// As [`Optimizer::from_name`].
    pub fn build(&self, given: &Hyper) -> Result<Optimizer, OptimizerError> {
        let mut values: Vec<f64> = self.hypers.iter().map(|h| h.default).collect();
        let mut by: Vec<Option<&str>> = vec![None; self.hypers.len()];
        for (name, v) in &given.values {
            let Some(i) = self.hypers.iter().position(|h| h.answers_to(name)) else {
                return Err(OptimizerError::NotApplicable {
                    setting: normalise(name),
                    rule: self.name,
                    rules: rules_with(name),
                });
            };
            let h = &self.hypers[i];
            if let Some(first) = by[i] {
                return Err(OptimizerError::Invalid {
                    key: h.key,
                    field: name.to_string(),
                    message: format!("{first} and {name} both set {} of {}", h.symbol, self.name),
                });
            }
            by[i] = Some(name);
            values[i] = match (*v, h.switch) {
                (Value::Number(x), false) => x,
                (Value::Switch(b), true) => f64::from(u8::from(b)),
                (Value::Number(x), true) if x == 0.0 || x == 1.0 => x,
                (Value::Number(x), true) => {
                    return Err(OptimizerError::Invalid {
                        key: h.key,
                        field: name.to_string(),
                        message: format!(
                            "{} is a switch (true or false), not {}",
                            h.key,
                            crate::fmt_num(x)
                        ),
                    })
                }
                (Value::Switch(b), false) => {
                    return Err(OptimizerError::Invalid {
                        key: h.key,
                        field: name.to_string(),
                        message: format!("{} is a number, not {b}", h.key),
                    })
                }
            };
        }
        let opt = (self.build)(&|k| {
            self.hypers
                .iter()
                .position(|h| h.key == k)
                .map_or(f64::NAN, |i| values[i])
        });
        opt.validate().map_err(|e| match e {
            // Named as given.
            OptimizerError::Invalid { key, message, .. } => {
                let given = self
                    .hypers
                    .iter()
                    .position(|h| h.key == key)
                    .and_then(|i| by[i]);
                OptimizerError::Invalid {
                    key,
                    field: given.unwrap_or(key).to_string(),
                    message,
                }
            }
            other => other,
        })?;
        Ok(opt)
    }
}

/// A hyperparameter's value as given: a number, or a switch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// A number.
    Number(f64),
    /// On or off.
    Switch(bool),
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Number(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Switch(v)
    }
}

/// Hyperparameter values by name, as given by flags, a recipe or a request; each is
/// checked against the chosen rule's table when the optimizer is built (a name the rule
/// does not have is an error naming the rules that have it).
///
/// # Examples
///
/// ```
/// use gradsheet_train::{Hyper, Optimizer};
/// let h = Hyper::new().with("lr", 0.1).with("beta1", 0.5);
/// assert_eq!(Optimizer::from_name("momentum", &h).unwrap(), Optimizer::Momentum { lr: 0.1, beta: 0.5 });
/// let e = Optimizer::from_name("adam", &Hyper::new().with("nesterov", true)).unwrap_err();
/// assert_eq!(e.to_string(), "nesterov does not apply to adam (it applies to torch-sgd)");
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Hyper {
    values: Vec<(String, Value)>,
}

impl Hyper {
    /// No values: every hyperparameter at the rule's default.
    pub fn new() -> Hyper {
        Hyper::default()
    }

    /// With `name` set to `v` (replacing an earlier value of that very name).
    pub fn with(mut self, name: &str, v: impl Into<Value>) -> Hyper {
        self.set(name, v);
        self
    }

    /// Sets `name` to `v` (replacing an earlier value of that very name).
    pub fn set(&mut self, name: &str, v: impl Into<Value>) {
        let v = v.into();
        match self.values.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = v,
            None => self.values.push((name.to_string(), v)),
        }
    }

    /// The value given for `name`, if any.
    pub fn get(&self, name: &str) -> Option<Value> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// The values given, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Value)> + '_ {
        self.values.iter().map(|(n, v)| (n.as_str(), *v))
    }

    /// Whether nothing was given.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// An unknown optimizer, a setting it does not have, or a value out of range.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum OptimizerError {
    /// The name is not in [`RULES`].
    #[error("unknown optimizer '{name}'{}", near.map(|n| format!(" (did you mean {n}?)")).unwrap_or_default())]
    Unknown {
        /// The name given.
        name: String,
        /// The nearest known name, if one is close.
        near: Option<&'static str>,
    },
    /// A setting the rule does not have.
    #[error("{setting} does not apply to {rule} ({})", applies(rules))]
    NotApplicable {
        /// The setting's name, as given.
        setting: String,
        /// The rule chosen.
        rule: &'static str,
        /// The rules that have it (none if no rule does).
        rules: Vec<&'static str>,
    },
    /// A value out of its range, or of the wrong kind.
    #[error("{message}")]
    Invalid {
        /// The hyperparameter at fault (its key).
        key: &'static str,
        /// The name it was given by (an alias such as `beta1` for workbook momentum's
        /// `beta`, or the key), so that a form marks the input it came from.
        field: String,
        /// What is wrong, in words.
        message: String,
    },
}

impl OptimizerError {
    /// The hyperparameter (key) or setting at fault, if the error is about one.
    pub fn setting(&self) -> Option<&str> {
        match self {
            OptimizerError::Unknown { .. } => None,
            OptimizerError::NotApplicable { setting, .. } => Some(setting),
            OptimizerError::Invalid { key, .. } => Some(key),
        }
    }

    /// The form field at fault: `optimizer` for an unknown name, else the setting by the
    /// name it was given (`beta1` for workbook momentum's β when given so), so that a
    /// form marks the input at fault without reading the message.
    ///
    /// # Examples
    ///
    /// ```
    /// use gradsheet_train::{Hyper, Optimizer};
    /// let field = |name: &str, h: Hyper| Optimizer::from_name(name, &h).unwrap_err().field().to_string();
    /// assert_eq!(field("adam", Hyper::new().with("beta2", 1.5)), "beta2");
    /// assert_eq!(field("torch-sgd", Hyper::new().with("momentum", -1.0)), "momentum");
    /// assert_eq!(field("torch-rmsprop", Hyper::new().with("eps", -1.0)), "eps");
    /// assert_eq!(field("momentum", Hyper::new().with("lr", -1.0)), "lr");
    /// assert_eq!(field("momentum", Hyper::new().with("beta1", 1.0)), "beta1");
    /// assert_eq!(field("momentum", Hyper::new().with("beta", 1.0)), "beta");
    /// assert_eq!(field("adma", Hyper::new()), "optimizer");
    /// ```
    pub fn field(&self) -> &str {
        match self {
            OptimizerError::Unknown { .. } => "optimizer",
            OptimizerError::NotApplicable { setting, .. } => setting,
            OptimizerError::Invalid { field, .. } => field,
        }
    }
}

fn applies(rules: &[&str]) -> String {
    match rules {
        [] => "no optimizer has it".into(),
        [one] => format!("it applies to {one}"),
        more => format!("it applies to {}", more.join(", ")),
    }
}

/// The names of the rules that have a hyperparameter called `name`.
pub fn rules_with(name: &str) -> Vec<&'static str> {
    RULES
        .iter()
        .filter(|r| r.hyper(name).is_some())
        .map(|r| r.name)
        .collect()
}

/// Every distinct hyperparameter name (keys and aliases) of the table, in table order:
/// the flags of the command line and the keys of a recipe's `[[optimizer]]`.
pub fn hyper_names() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in RULES {
        for h in r.hypers {
            for n in std::iter::once(&h.key).chain(h.aliases) {
                if !out.contains(n) {
                    out.push(n);
                }
            }
        }
    }
    out
}

/// Whether the hyperparameter `name` is a switch wherever it appears.
pub fn is_switch(name: &str) -> bool {
    RULES.iter().filter_map(|r| r.hyper(name)).any(|h| h.switch)
}

/// `Weight-Decay` → `weight_decay`.
fn normalise(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace('-', "_")
}

/// The rule called `name` (or one of its aliases; `_` for `-` and case do not matter).
pub fn rule(name: &str) -> Option<&'static Rule> {
    let key = name.trim().to_ascii_lowercase().replace('_', "-");
    RULES
        .iter()
        .find(|r| r.name == key || r.aliases.contains(&key.as_str()))
        .copied()
}

/// The rule called `name`, or the error naming the nearest one.
///
/// # Errors
///
/// [`OptimizerError::Unknown`].
pub fn find(name: &str) -> Result<&'static Rule, OptimizerError> {
    rule(name).ok_or_else(|| {
        let key = name.trim().to_ascii_lowercase().replace('_', "-");
        let near = RULES
            .iter()
            .map(|r| r.name)
            .min_by_key(|n| strsim(n, &key))
            .filter(|n| strsim(n, &key) <= 3);
        OptimizerError::Unknown {
            name: name.to_string(),
            near,
        }
    })
}

fn strsim(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

// ───────────── the table ─────────────

const fn lr(default: f64) -> HyperDef {
    HyperDef {
        key: "lr",
        aliases: &[],
        symbol: "learning rate",
        meaning: "learning rate",
        default,
        range: Range::NON_NEGATIVE,
        switch: false,
        slot: None,
    }
}

const fn num(
    key: &'static str,
    aliases: &'static [&'static str],
    symbol: &'static str,
    meaning: &'static str,
    default: f64,
    range: Range,
    slot: Option<u8>,
) -> HyperDef {
    HyperDef {
        key,
        aliases,
        symbol,
        meaning,
        default,
        range,
        switch: false,
        slot,
    }
}

const fn switch(key: &'static str, meaning: &'static str) -> HyperDef {
    HyperDef {
        key,
        aliases: &[],
        symbol: key,
        meaning,
        default: 0.0,
        range: Range::UNIT_CLOSED,
        switch: true,
        slot: None,
    }
}

const fn state(name: &'static str, meaning: &'static str) -> StateDef {
    StateDef { name, meaning }
}

/// The workbooks' β of momentum and RMSProp (the page's first slider; `beta1` too).
const WORKBOOK_BETA: HyperDef = num(
    "beta",
    &["beta1"],
    "β",
    "β, the weight of the old average",
    0.9,
    Range::UNIT,
    Some(1),
);
const WEIGHT_DECAY: HyperDef = num(
    "weight_decay",
    &[],
    "weight_decay",
    "L2 penalty λ",
    0.0,
    Range::NON_NEGATIVE,
    None,
);
const fn torch_adam_hypers(weight_decay: f64, meaning: &'static str) -> [HyperDef; 6] {
    [
        lr(1e-3),
        num("beta1", &["beta"], "β1", "β1", 0.9, Range::UNIT, Some(1)),
        num("beta2", &[], "β2", "β2", 0.999, Range::UNIT, Some(2)),
        num("eps", &[], "eps", "ε", 1e-8, Range::NON_NEGATIVE, None),
        num(
            "weight_decay",
            &[],
            "weight_decay",
            meaning,
            weight_decay,
            Range::NON_NEGATIVE,
            None,
        ),
        switch("amsgrad", "AMSGrad: divide by the largest v so far"),
    ]
}
const TORCH_ADAM_STATE: &[StateDef] = &[
    state("exp_avg", "the running average of g (m)"),
    state("exp_avg_sq", "the running average of g² (v)"),
    state("max_exp_avg_sq", "the largest v so far (AMSGrad only)"),
];
fn torch_adam(v: &dyn Fn(&str) -> f64, decoupled: bool) -> Optimizer {
    Optimizer::TorchAdam {
        lr: v("lr"),
        beta1: v("beta1"),
        beta2: v("beta2"),
        eps: v("eps"),
        weight_decay: v("weight_decay"),
        amsgrad: v("amsgrad") != 0.0,
        decoupled,
    }
}

/// The workbooks' SGD (sheet `basic`).
pub static SGD: Rule = Rule {
    name: "sgd",
    aliases: &["basic"],
    label: "SGD (workbook)",
    convention: Convention::Workbook,
    summary: "workbook SGD: p - g*lr",
    hypers: &[lr(1e-4)],
    state: &[],
    build: |v| Optimizer::Sgd { lr: v("lr") },
};

/// The workbooks' momentum (sheet `momentum`).
pub static MOMENTUM: Rule = Rule {
    name: "momentum",
    aliases: &[],
    label: "momentum (workbook)",
    convention: Convention::Workbook,
    summary: "workbook momentum: m = β·m + (1-β)·g; p - m*lr",
    hypers: &[lr(1e-4), WORKBOOK_BETA],
    state: &[state("m", "the running average of g")],
    build: |v| Optimizer::Momentum {
        lr: v("lr"),
        beta: v("beta"),
    },
};

/// The workbooks' RMSProp (sheet `rmsprop`).
pub static RMSPROP: Rule = Rule {
    name: "rmsprop",
    aliases: &[],
    label: "RMSProp (workbook)",
    convention: Convention::Workbook,
    summary: "workbook RMSProp: divides by the previous row's mean square, no ε",
    hypers: &[lr(0.02), WORKBOOK_BETA],
    state: &[state("s", "the running average of g²")],
    build: |v| Optimizer::Rmsprop {
        lr: v("lr"),
        beta: v("beta"),
    },
};

/// The workbooks' Adam (sheets `adam`, `adam_ann`).
pub static ADAM: Rule = Rule {
    name: "adam",
    aliases: &["adam-ann"],
    label: "Adam (workbook)",
    convention: Convention::Workbook,
    summary: "workbook Adam: no bias correction, no ε",
    hypers: &[
        lr(0.1),
        num(
            "beta1",
            &["beta"],
            "β1",
            "β1, momentum",
            0.9,
            Range::UNIT,
            Some(1),
        ),
        num(
            "beta2",
            &[],
            "β2",
            "β2, mean square",
            0.9,
            Range::UNIT,
            Some(2),
        ),
    ],
    state: &[
        state("m", "the running average of g"),
        state("s", "the running average of g²"),
    ],
    build: |v| Optimizer::Adam {
        lr: v("lr"),
        beta1: v("beta1"),
        beta2: v("beta2"),
    },
};

/// The workbook "adagrad" of 2016.
pub static ADAGRAD: Rule = Rule {
    name: "adagrad",
    aliases: &["adagrad-ann"],
    label: "adagrad (workbook, 2016)",
    convention: Convention::Workbook,
    summary: "workbook (2016) adagrad: per-epoch rates lr / (√Σg²/n)",
    hypers: &[
        lr(1e-3),
        num(
            "r0",
            &["initial"],
            "r0",
            "the starting r (and sum of squares)",
            1e4,
            Range::FINITE,
            None,
        ),
    ],
    state: &[
        state("r", "this epoch's rate divisor, √Σg²/n of the last epoch"),
        state("sq", "Σg² of this epoch so far"),
    ],
    build: |v| Optimizer::Adagrad {
        lr: v("lr"),
        r0: v("r0"),
    },
};

/// `torch.optim.SGD`.
pub static TORCH_SGD: Rule = Rule {
    name: "torch-sgd",
    aliases: &[],
    label: "torch SGD",
    convention: Convention::Torch,
    summary: "torch.optim.SGD (momentum, dampening, nesterov, weight_decay)",
    hypers: &[
        lr(1e-3),
        num(
            "momentum",
            &["beta1"],
            "momentum",
            "momentum factor μ",
            0.0,
            Range::NON_NEGATIVE,
            Some(1),
        ),
        num(
            "dampening",
            &[],
            "dampening",
            "dampening τ",
            0.0,
            Range::FINITE,
            None,
        ),
        WEIGHT_DECAY,
        switch("nesterov", "Nesterov momentum"),
    ],
    state: &[state("buf", "the momentum buffer (with momentum only)")],
    build: |v| Optimizer::TorchSgd {
        lr: v("lr"),
        momentum: v("momentum"),
        dampening: v("dampening"),
        weight_decay: v("weight_decay"),
        nesterov: v("nesterov") != 0.0,
    },
};

/// `torch.optim.Adagrad`.
pub static TORCH_ADAGRAD: Rule = Rule {
    name: "torch-adagrad",
    aliases: &[],
    label: "torch Adagrad",
    convention: Convention::Torch,
    summary: "torch.optim.Adagrad",
    hypers: &[
        lr(1e-2),
        num(
            "lr_decay",
            &[],
            "lr_decay",
            "learning-rate decay",
            0.0,
            Range::NON_NEGATIVE,
            None,
        ),
        WEIGHT_DECAY,
        num(
            "initial_accumulator_value",
            &["initial"],
            "initial_accumulator_value",
            "the sum of squares starts here",
            0.0,
            Range::NON_NEGATIVE,
            None,
        ),
        num("eps", &[], "eps", "ε", 1e-10, Range::NON_NEGATIVE, None),
    ],
    state: &[state("sum", "Σg² so far")],
    build: |v| Optimizer::TorchAdagrad {
        lr: v("lr"),
        lr_decay: v("lr_decay"),
        weight_decay: v("weight_decay"),
        initial_accumulator_value: v("initial_accumulator_value"),
        eps: v("eps"),
    },
};

/// `torch.optim.RMSprop`.
pub static TORCH_RMSPROP: Rule = Rule {
    name: "torch-rmsprop",
    aliases: &[],
    label: "torch RMSprop",
    convention: Convention::Torch,
    summary: "torch.optim.RMSprop (alpha, eps, centered, momentum)",
    hypers: &[
        lr(1e-2),
        num(
            "alpha",
            &["beta2"],
            "α",
            "α, smoothing constant",
            0.99,
            Range::UNIT_CLOSED,
            Some(2),
        ),
        num("eps", &[], "eps", "ε", 1e-8, Range::NON_NEGATIVE, None),
        WEIGHT_DECAY,
        num(
            "momentum",
            &["beta1"],
            "momentum",
            "momentum factor",
            0.0,
            Range::NON_NEGATIVE,
            Some(1),
        ),
        switch(
            "centered",
            "divide by the estimated variance, not the mean square",
        ),
    ],
    state: &[
        state("square_avg", "the running average of g²"),
        state("buf", "the momentum buffer (with momentum only)"),
        state("grad_avg", "the running average of g (centered only)"),
    ],
    build: |v| Optimizer::TorchRmsprop {
        lr: v("lr"),
        alpha: v("alpha"),
        eps: v("eps"),
        weight_decay: v("weight_decay"),
        momentum: v("momentum"),
        centered: v("centered") != 0.0,
    },
};

/// `torch.optim.Adam`.
pub static TORCH_ADAM: Rule = Rule {
    name: "torch-adam",
    aliases: &[],
    label: "torch Adam",
    convention: Convention::Torch,
    summary: "torch.optim.Adam (bias correction, eps, amsgrad)",
    hypers: &torch_adam_hypers(0.0, "weight decay λ (L2, added to the gradient)"),
    state: TORCH_ADAM_STATE,
    build: |v| torch_adam(v, false),
};

/// `torch.optim.AdamW`.
pub static TORCH_ADAMW: Rule = Rule {
    name: "torch-adamw",
    aliases: &[],
    label: "torch AdamW",
    convention: Convention::Torch,
    summary: "torch.optim.AdamW (decoupled weight decay)",
    hypers: &torch_adam_hypers(1e-2, "weight decay λ (decoupled: p·(1 - lr·λ))"),
    state: TORCH_ADAM_STATE,
    build: |v| torch_adam(v, true),
};

/// Every rule, workbooks' first.
pub static RULES: &[&Rule] = &[
    &SGD,
    &MOMENTUM,
    &RMSPROP,
    &ADAM,
    &ADAGRAD,
    &TORCH_SGD,
    &TORCH_ADAGRAD,
    &TORCH_RMSPROP,
    &TORCH_ADAM,
    &TORCH_ADAMW,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::State;

    /// A hyperparameter answers to its key and aliases whatever their case, with `-`
    /// for `_` and space around them, exactly as the normalised name compared did, and
    /// to nothing else (not a prefix, not a longer name).
    #[test]
    fn hyperparameters_answer_to_their_names_in_any_case() {
        let old = |h: &HyperDef, name: &str| {
            let n = normalise(name);
            h.key == n || h.aliases.contains(&n.as_str())
        };
        let mut names = 0;
        for rule in RULES {
            for h in rule.hypers {
                for name in std::iter::once(&h.key).chain(h.aliases) {
                    names += 1;
                    let loud = format!(" {} ", name.to_ascii_uppercase().replace('_', "-"));
                    assert!(h.answers_to(name) && h.answers_to(&loud), "{loud}");
                    let probes = [
                        name[..name.len() - 1].to_string(),
                        format!("{name}s"),
                        name.replace('_', " "),
                        format!("{name}\u{e9}"),
                    ];
                    for other in rule.hypers {
                        for probe in probes.iter().map(String::as_str).chain([*name]) {
                            assert_eq!(
                                other.answers_to(probe),
                                old(other, probe),
                                "{} {probe}",
                                other.key
                            );
                        }
                    }
                }
            }
        }
        assert!(names > 20);
        let wd = TORCH_ADAM.hyper("Weight-Decay").unwrap();
        assert_eq!(wd.key, "weight_decay");
        assert!(!wd.answers_to("weight decay"));
        assert!(!wd.answers_to("weight__decay"));
    }

    /// Each rule's table entry and its `Optimizer` variant name the same numbers: the
    /// defaults build, name themselves, read back and validate.
    #[test]
    fn the_table_and_the_variants_agree() {
        for rule in RULES {
            let opt = rule.defaults();
            assert_eq!(opt.rule(), *rule);
            assert_eq!(opt.validate(), Ok(()), "{}", rule.name);
            let keys: Vec<&str> = opt.hyper_values().iter().map(|(k, _)| *k).collect();
            let table: Vec<&str> = rule.hypers.iter().map(|h| h.key).collect();
            assert_eq!(keys, table, "{}", rule.name);
            assert!(table.len() <= crate::HyperValues::MAX, "{}", rule.name);
            for (k, v) in opt.hyper_values() {
                assert_eq!(rule.hyper(k).unwrap().default, v, "{} {k}", rule.name);
            }
            assert_eq!(rule.hypers[0].key, "lr");
            // Every number is set in place by its key, and only it; a switch is not.
            for (i, d) in rule.hypers.iter().enumerate() {
                let mut set = opt.clone();
                match set.hyper_mut(d.key) {
                    Some(v) => *v = 0.125,
                    None => {
                        assert!(d.switch, "{}: {} not set in place", rule.name, d.key);
                        continue;
                    }
                }
                assert!(
                    !d.switch,
                    "{}: the switch {} set as a number",
                    rule.name, d.key
                );
                for (j, ((k, v), (_, was))) in set
                    .hyper_values()
                    .into_iter()
                    .zip(opt.hyper_values())
                    .enumerate()
                {
                    let want = if j == i { 0.125 } else { was };
                    assert_eq!(
                        v.to_bits(),
                        want.to_bits(),
                        "{}: {} set, {k} read",
                        rule.name,
                        d.key
                    );
                }
            }
            // With every switch on and every number at 0.5, the state the rule keeps is
            // among the table's, in the table's order.
            let mut h = Hyper::new();
            for d in rule.hypers {
                if d.switch {
                    h.set(d.key, true);
                } else if d.key != "dampening" {
                    h.set(d.key, 0.5);
                }
            }
            let on = rule.build(&h).unwrap();
            let vars = State::new(&on, 1).vars;
            let names: Vec<&str> = rule.state.iter().map(|s| s.name).collect();
            let mut at = 0;
            for v in vars {
                at += names[at..].iter().position(|n| n == v).unwrap_or_else(|| {
                    panic!("{}: state {v} is not in the table {names:?}", rule.name)
                }) + 1;
            }
            assert_eq!(vars.len(), names.len(), "{}: {vars:?}", rule.name);
        }
    }

    #[test]
    fn names_are_checked_against_the_rule() {
        let e = Optimizer::from_name("adam", &Hyper::new().with("nesterov", true)).unwrap_err();
        assert_eq!(e.setting(), Some("nesterov"));
        assert_eq!(
            e.to_string(),
            "nesterov does not apply to adam (it applies to torch-sgd)"
        );
        let e = Optimizer::from_name("sgd", &Hyper::new().with("eps", 1e-8)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "eps does not apply to sgd (it applies to torch-adagrad, torch-rmsprop, torch-adam, torch-adamw)"
        );
        // Aliases reach the rule's own name, and two names for one setting are refused.
        let m = Optimizer::from_name("momentum", &Hyper::new().with("beta1", 0.5)).unwrap();
        assert_eq!(m.get("beta"), Some(0.5));
        let both = Hyper::new().with("beta", 0.5).with("beta1", 0.6);
        assert!(Optimizer::from_name("momentum", &both).is_err());
        let e = Optimizer::from_name("sgd", &Hyper::new().with("lr", -1.0)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "learning rate = -1 is invalid: it must be a finite number >= 0"
        );
        assert_eq!(e.setting(), Some("lr"));
        let e = Optimizer::from_name("torch-adam", &Hyper::new().with("amsgrad", 0.5)).unwrap_err();
        assert!(e.to_string().contains("switch"), "{e}");
        assert_eq!(
            Optimizer::from_name("torch-sgd", &Hyper::new().with("momentum", 0.9))
                .unwrap()
                .with("beta1", 0.5)
                .unwrap()
                .get("momentum"),
            Some(0.5)
        );
    }

    #[test]
    fn ranges_read_as_words() {
        assert_eq!(Range::UNIT.describe(), "in [0, 1)");
        assert_eq!(Range::UNIT_CLOSED.describe(), "in [0, 1]");
        assert_eq!(Range::NON_NEGATIVE.describe(), "a finite number >= 0");
        assert!(!Range::NON_NEGATIVE.contains(f64::INFINITY));
        assert!(Range::UNIT_CLOSED.contains(1.0) && !Range::UNIT.contains(1.0));
    }
}

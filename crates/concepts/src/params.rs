//! Lab parameters: a declared list of names with defaults and ranges, and the values a
//! user typed as `name=value`, checked against it.
//!
//! The same declaration lists the parameters on the command line and gives the web page
//! its sliders and menus.

use crate::LabError;

/// What values a parameter takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// A number in `min..=max`.
    Number {
        /// The smallest value.
        min: f64,
        /// The largest value.
        max: f64,
    },
    /// A whole number in `min..=max`.
    Integer {
        /// The smallest value.
        min: u64,
        /// The largest value.
        max: u64,
    },
    /// One of these words.
    Choice(&'static [&'static str]),
    /// A comma-separated list of numbers, each in `min..=max`.
    List {
        /// The smallest value.
        min: f64,
        /// The largest value.
        max: f64,
    },
}

/// A parameter of a lab.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamSpec {
    /// The name typed as `name=value`.
    pub name: &'static str,
    /// The default, as text.
    pub default: &'static str,
    /// Its values.
    pub kind: Kind,
    /// One line about it.
    pub help: &'static str,
}

/// Checked parameter values of one lab: every declared name has a value (its default
/// unless given).
///
/// # Examples
///
/// ```
/// use gradsheet_concepts::{Kind, ParamSpec, Params};
/// const SPECS: &[ParamSpec] = &[ParamSpec {
///     name: "p", default: "0.5", kind: Kind::Number { min: 0.0, max: 0.95 }, help: "drop rate",
/// }];
/// let p = Params::parse(SPECS, &["p=0.2"]).unwrap();
/// assert_eq!(p.num("p"), 0.2);
/// assert!(Params::parse(SPECS, &["p=2"]).is_err());
/// assert!(Params::parse(SPECS, &["q=1"]).is_err());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    values: Vec<(&'static str, String)>,
    specs: &'static [ParamSpec],
}

impl Params {
    /// The defaults.
    pub fn defaults(specs: &'static [ParamSpec]) -> Params {
        Params {
            values: specs
                .iter()
                .map(|s| (s.name, s.default.to_string()))
                .collect(),
            specs,
        }
    }

    /// Reads `name=value` items over the defaults and checks every value.
    ///
    /// # Errors
    ///
    /// [`LabError::UnknownParam`] for a name not declared, [`LabError::BadValue`] for a
    /// value out of range or of the wrong kind, [`LabError::Invalid`] for an item
    /// without `=`.
    pub fn parse<S: AsRef<str>>(
        specs: &'static [ParamSpec],
        items: &[S],
    ) -> Result<Params, LabError> {
        let mut p = Params::defaults(specs);
        for item in items {
            let item = item.as_ref();
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| LabError::Invalid(format!("expected name=value, got '{item}'")))?;
            p.set(k.trim(), v.trim())?;
        }
        for s in specs {
            check(s, &p.text(s.name))?;
        }
        Ok(p)
    }

    /// Sets one value (checked).
    ///
    /// # Errors
    ///
    /// As [`Params::parse`].
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), LabError> {
        let spec = self.specs.iter().find(|s| s.name == name).ok_or_else(|| {
            LabError::UnknownParam(
                name.to_string(),
                self.specs
                    .iter()
                    .map(|s| s.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })?;
        check(spec, value)?;
        if let Some(slot) = self.values.iter_mut().find(|(n, _)| *n == name) {
            slot.1 = value.to_string();
        }
        Ok(())
    }

    /// The value as typed.
    pub fn text(&self, name: &str) -> String {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// A number (NaN for an undeclared name: values were checked when parsed).
    pub fn num(&self, name: &str) -> f64 {
        self.text(name).parse().unwrap_or(f64::NAN)
    }

    /// A whole number (0 for an undeclared name).
    pub fn int(&self, name: &str) -> usize {
        self.text(name).parse().unwrap_or(0)
    }

    /// A whole number as `u64` (seeds: every value up to `u64::MAX` exactly).
    pub fn u64(&self, name: &str) -> u64 {
        self.text(name).parse().unwrap_or(0)
    }

    /// A list of numbers.
    pub fn list(&self, name: &str) -> Vec<f64> {
        parse_list(&self.text(name)).unwrap_or_default()
    }

    /// Every `(name, value)` pair, in declaration order.
    pub fn pairs(&self) -> &[(&'static str, String)] {
        &self.values
    }
}

fn parse_list(v: &str) -> Option<Vec<f64>> {
    v.split(',').map(|t| t.trim().parse::<f64>().ok()).collect()
}

fn check(spec: &ParamSpec, v: &str) -> Result<(), LabError> {
    let bad = |message: String| LabError::BadValue {
        name: spec.name.to_string(),
        message,
    };
    let in_range = |x: f64, min: f64, max: f64| x.is_finite() && x >= min && x <= max;
    match spec.kind {
        Kind::Number { min, max } => {
            let x: f64 = v
                .parse()
                .map_err(|_| bad(format!("'{v}' is not a number")))?;
            if !in_range(x, min, max) {
                return Err(bad(format!("{v} is outside {min}..{max}")));
            }
        }
        Kind::Integer { min, max } => {
            let x: u64 = v
                .parse()
                .map_err(|_| bad(format!("'{v}' is not a whole number")))?;
            if x < min || x > max {
                return Err(bad(format!("{v} is outside {min}..{max}")));
            }
        }
        Kind::Choice(words) => {
            if !words.contains(&v) {
                return Err(bad(format!("'{v}' is not one of {}", words.join(", "))));
            }
        }
        Kind::List { min, max } => {
            let xs = parse_list(v)
                .ok_or_else(|| bad(format!("'{v}' is not a comma-separated list of numbers")))?;
            if xs.is_empty() || xs.len() > 12 {
                return Err(bad("give 1 to 12 values".into()));
            }
            if let Some(x) = xs.iter().find(|&&x| !in_range(x, min, max)) {
                return Err(bad(format!("{x} is outside {min}..{max}")));
            }
        }
    }
    Ok(())
}

impl Kind {
    /// The range or choices, for listings (`0..0.95`, `relu|tanh`).
    pub fn describe(&self) -> String {
        match self {
            Kind::Number { min, max } | Kind::List { min, max } => format!("{min}..{max}"),
            Kind::Integer { min, max } => format!("{min}..{max}"),
            Kind::Choice(w) => w.join("|"),
        }
    }
}

//! An experiment as a file: the recipe format of `gradsheet run` (TOML) as one type,
//! [`Recipe`], that the command line reads (with the place of every value, for errors
//! that point at a line and column) and the web app writes (its "recipe" download), so
//! the two cannot drift apart.
//!
//! The format (every key but `model.formula` and `[[optimizer]]` is optional):
//!
//! ```toml
//! name = "momentum vs adam"
//! epochs = 5          # passes over the data (an optimizer may override it)
//! batch = 1           # rows per update: 1 = per sample, as the sheets; 0 = full batch
//! seed = 7            # for generated data and shuffling
//! shuffle = false
//! gradient = "auto"   # or forward, backward, central (with h = 0.01)
//!
//! [data]
//! source = "graddesc" # or file = "points.csv" (relative to the recipe), or
//!                     # generate = { target = "2*x+30", x = "1..100", n = 29, noise = 0 }
//! [model]
//! formula = "a*x+b"
//! loss = "squared"
//! init = { a = 1, b = 1 }
//!
//! [[optimizer]]
//! name = "momentum"   # any optimizer of the table (gradsheet_train::rules)
//! lr = 1e-4           # and any of its settings, by the table's names
//! ```
//!
//! # Examples
//!
//! ```
//! use gradsheet_recipe::Recipe;
//! let r = Recipe::parse("[model]\nformula = \"a*x+b\"\n[[optimizer]]\nname = \"adam\"\nbeta1 = 0.5\n").unwrap();
//! assert_eq!(r.epochs, 1);
//! let opt = r.optimizers[0].optimizer().unwrap();
//! assert_eq!(opt.get("beta1"), Some(0.5));
//! let again = Recipe::parse(&r.to_toml()).unwrap();
//! assert_eq!(again, r);
//! ```

use std::collections::BTreeMap;
use std::fmt;

use gradsheet_train::{Hyper, Optimizer, OptimizerError, Value};
use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
pub use toml::Spanned;

/// A recipe: data, model, loss, initial values, one or more optimizers, schedule, seed.
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// A title for the summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Passes over the data (an optimizer may override it).
    #[serde(default = "one")]
    pub epochs: usize,
    /// Rows per update: 1 per sample, 0 the whole data.
    #[serde(default = "one")]
    pub batch: usize,
    /// Seed of generated data and shuffling.
    #[serde(default = "seven")]
    pub seed: u64,
    /// Shuffle the rows each epoch.
    #[serde(default, skip_serializing_if = "is_false")]
    pub shuffle: bool,
    /// `auto` (the exact gradient), or `forward`, `backward`, `central` differences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gradient: Option<Spanned<String>>,
    /// The step of finite differences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h: Option<f64>,
    /// The data.
    #[serde(default)]
    pub data: Data,
    /// The model and its loss.
    pub model: ModelSpec,
    /// The optimizers, each run from the same start.
    #[serde(rename = "optimizer")]
    pub optimizers: Vec<OptSpec>,
}

fn one() -> usize {
    1
}
fn seven() -> u64 {
    7
}
fn is_false(b: &bool) -> bool {
    !*b
}

/// Where the data comes from: one of a named source, a file, or a generator.
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Data {
    /// `graddesc`, fast.ai's data (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Spanned<String>>,
    /// A CSV file, relative to the recipe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<Spanned<String>>,
    /// Generated data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate: Option<Generate>,
}

/// Generated data: `y = target(x)` at `n` values of x in a range, plus noise.
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Generate {
    /// The formula of y in x.
    pub target: Spanned<String>,
    /// The range of x, `lo..hi`.
    #[serde(default = "default_x")]
    pub x: Spanned<String>,
    /// Rows.
    #[serde(default = "n29")]
    pub n: usize,
    /// The standard deviation of the noise added to y.
    #[serde(default)]
    pub noise: f64,
}

fn default_x() -> Spanned<String> {
    Spanned::new(0..0, "1..100".to_string())
}
fn n29() -> usize {
    29
}

/// The model, its loss, and the roles and starting values of its names.
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// The prediction formula.
    pub formula: Spanned<String>,
    /// A loss by name, or a formula in `pred`.
    #[serde(default = "squared")]
    pub loss: Spanned<String>,
    /// Initial values of parameters (1 for any not given).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub init: BTreeMap<String, Spanned<f64>>,
    /// Names with fixed values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub constants: BTreeMap<String, f64>,
    /// Names forced to be parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<String>,
}

fn squared() -> Spanned<String> {
    Spanned::new(0..0, "squared".to_string())
}

/// One optimizer of a recipe: a rule of the optimizer table by name, and any of its
/// settings by the table's names (checked when [`OptSpec::optimizer`] builds it).
#[derive(Debug, Clone, PartialEq)]
pub struct OptSpec {
    /// The rule's name.
    pub name: Spanned<String>,
    /// The name in tables and files (default: the rule's).
    pub label: Option<String>,
    /// Epochs of this run, if not the recipe's.
    pub epochs: Option<usize>,
    /// Its settings, by name, with where they are.
    pub hyper: Vec<(String, Spanned<Value>)>,
}

/// Why an optimizer of a recipe cannot be built: the key at fault, where it is, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct OptError {
    /// The key (`name`, or a setting's name).
    pub key: String,
    /// Where its value is in the recipe's text (empty if not known).
    pub span: std::ops::Range<usize>,
    /// What is wrong.
    pub error: OptimizerError,
}

impl fmt::Display for OptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for OptError {}

impl OptSpec {
    /// An optimizer entry for `opt` with the values given by name (the rest take the
    /// rule's defaults when read back).
    pub fn new(name: &str, hyper: &Hyper) -> OptSpec {
        OptSpec {
            name: Spanned::new(0..0, name.to_string()),
            label: None,
            epochs: None,
            hyper: hyper
                .iter()
                .map(|(k, v)| (k.to_string(), Spanned::new(0..0, v)))
                .collect(),
        }
    }

    /// The settings as named values.
    pub fn hyper(&self) -> Hyper {
        let mut h = Hyper::new();
        for (k, v) in &self.hyper {
            h.set(k, *v.get_ref());
        }
        h
    }

    /// The optimizer, checked against the optimizer table.
    ///
    /// # Errors
    ///
    /// [`OptError`] naming the key at fault (`name` for an unknown rule) and its place.
    pub fn optimizer(&self) -> Result<Optimizer, OptError> {
        Optimizer::from_name(self.name.get_ref(), &self.hyper()).map_err(|error| {
            // The error names the setting as it was given here (an alias too).
            let s = error.field();
            let at = self
                .hyper
                .iter()
                .find(|(k, _)| k.replace('-', "_") == s || k == s);
            match at {
                Some((k, v)) => OptError {
                    key: k.clone(),
                    span: v.span(),
                    error,
                },
                None => OptError {
                    key: "name".into(),
                    span: self.name.span(),
                    error,
                },
            }
        })
    }
}

impl<'de> Deserialize<'de> for OptSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<OptSpec, D::Error> {
        /// A setting's value as written: a number (an integer too) or a switch.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Int(i64),
            Float(f64),
            Text(String),
        }
        let mut map: BTreeMap<String, Spanned<Raw>> = BTreeMap::deserialize(d)?;
        let text = |m: &mut BTreeMap<String, Spanned<Raw>>,
                    k: &str|
         -> Result<Option<Spanned<String>>, D::Error> {
            match m.remove(k) {
                None => Ok(None),
                Some(v) => {
                    let span = v.span();
                    match v.into_inner() {
                        Raw::Text(s) => Ok(Some(Spanned::new(span, s))),
                        _ => Err(D::Error::custom(format!("optimizer.{k} must be text"))),
                    }
                }
            }
        };
        let name = text(&mut map, "name")?
            .ok_or_else(|| D::Error::custom("an [[optimizer]] needs a name"))?;
        let label = text(&mut map, "label")?.map(Spanned::into_inner);
        let epochs = match map.remove("epochs").map(Spanned::into_inner) {
            None => None,
            Some(Raw::Int(n)) if n >= 0 => Some(n as usize),
            Some(_) => {
                return Err(D::Error::custom(
                    "optimizer.epochs must be a whole number >= 0",
                ))
            }
        };
        let mut hyper = Vec::new();
        for (k, v) in map {
            let span = v.span();
            let value = match v.into_inner() {
                Raw::Bool(b) => Value::Switch(b),
                Raw::Int(i) => Value::Number(i as f64),
                Raw::Float(x) => Value::Number(x),
                Raw::Text(_) => {
                    return Err(D::Error::custom(format!(
                        "optimizer.{k} must be a number or true/false"
                    )))
                }
            };
            hyper.push((k, Spanned::new(span, value)));
        }
        Ok(OptSpec {
            name,
            label,
            epochs,
            hyper,
        })
    }
}

impl Serialize for OptSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("name", self.name.get_ref())?;
        if let Some(l) = &self.label {
            m.serialize_entry("label", l)?;
        }
        if let Some(e) = self.epochs {
            m.serialize_entry("epochs", &e)?;
        }
        for (k, v) in &self.hyper {
            match *v.get_ref() {
                Value::Number(x) => m.serialize_entry(k, &x)?,
                Value::Switch(b) => m.serialize_entry(k, &b)?,
            }
        }
        m.end()
    }
}

impl Recipe {
    /// Reads a recipe.
    ///
    /// # Errors
    ///
    /// TOML's error, with the line and column of the fault.
    pub fn parse(text: &str) -> Result<Recipe, toml::de::Error> {
        toml::from_str(text)
    }

    /// The recipe as TOML text.
    pub fn to_toml(&self) -> String {
        // Every field is a string, number, boolean, table or array: nothing toml cannot write.
        toml::to_string(self).unwrap_or_default()
    }

    /// A recipe of one model and these optimizers on fast.ai's data, every other key at
    /// its default.
    pub fn new(formula: &str, loss: &str, optimizers: Vec<OptSpec>) -> Recipe {
        Recipe {
            name: None,
            epochs: 1,
            batch: 1,
            seed: 7,
            shuffle: false,
            gradient: None,
            h: None,
            data: Data::default(),
            model: ModelSpec {
                formula: Spanned::new(0..0, formula.to_string()),
                loss: Spanned::new(0..0, loss.to_string()),
                init: BTreeMap::new(),
                constants: BTreeMap::new(),
                params: Vec::new(),
            },
            optimizers,
        }
    }
}

/// Where a span starts in `src`, as "line L, column C".
pub fn line_column(src: &str, span: std::ops::Range<usize>) -> String {
    let before = &src[..span.start.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    format!("line {line}, column {col}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The web's recipes read back as written, and the command line's examples parse.
    #[test]
    fn recipes_round_trip() {
        let mut r = Recipe::new(
            "c*MAX(a*x+b,0)+d",
            "huber",
            vec![OptSpec::new(
                "torch-sgd",
                &Hyper::new()
                    .with("lr", 1e-4)
                    .with("momentum", 0.9)
                    .with("nesterov", true),
            )],
        );
        r.name = Some("a \"quoted\" name".into());
        r.epochs = 20;
        r.model.init.insert("a".into(), Spanned::new(0..0, -0.5));
        r.model.constants.insert("delta".into(), 2.0);
        r.data.generate = Some(Generate {
            target: Spanned::new(0..0, "2*x+30".into()),
            x: Spanned::new(0..0, "-5..5".into()),
            n: 10,
            noise: 0.25,
        });
        let text = r.to_toml();
        let back = Recipe::parse(&text).unwrap();
        assert_eq!(back.to_toml(), text);
        assert_eq!(
            back.optimizers[0].optimizer().unwrap(),
            r.optimizers[0].optimizer().unwrap()
        );
        assert_eq!(*back.model.init["a"].get_ref(), -0.5);
        for f in ["optimizers.toml", "relu.toml", "torch.toml"] {
            let p = format!("{}/../../examples/recipes/{f}", env!("CARGO_MANIFEST_DIR"));
            let r = Recipe::parse(&std::fs::read_to_string(p).unwrap()).unwrap();
            for o in &r.optimizers {
                o.optimizer().unwrap();
            }
        }
    }

    /// A setting the rule lacks is refused at its own key and place.
    #[test]
    fn errors_point_at_the_key() {
        let src = "[model]\nformula = \"a*x+b\"\n[[optimizer]]\nname = \"adam\"\nnesterov = true\n";
        let r = Recipe::parse(src).unwrap();
        let e = r.optimizers[0].optimizer().unwrap_err();
        assert_eq!(e.key, "nesterov");
        assert_eq!(line_column(src, e.span.clone()), "line 5, column 12");
        assert_eq!(
            e.to_string(),
            "nesterov does not apply to adam (it applies to torch-sgd)"
        );
        let bad =
            Recipe::parse("[model]\nformula = \"a\"\n[[optimizer]]\nname = \"sgd\"\nlr = \"x\"\n");
        assert!(bad
            .unwrap_err()
            .to_string()
            .contains("optimizer.lr must be a number"));
        // An alias out of range is found where it was written.
        let src = "[model]\nformula = \"a\"\n[[optimizer]]\nname = \"momentum\"\nbeta1 = 1.5\n";
        let e = Recipe::parse(src).unwrap().optimizers[0]
            .optimizer()
            .unwrap_err();
        assert_eq!(e.key, "beta1");
        assert_eq!(line_column(src, e.span), "line 5, column 9");
    }
}

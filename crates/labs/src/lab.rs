//! One description of a lab, whichever kind: its parameters with bounds and defaults, a
//! pure function that runs it, and what it shows as plain data: notes, tables, figures
//! ([`crate::figure`]) and grayscale images.
//!
//! The fast.ai workbook labs ([`crate::WORKBOOKS`]) and the concept labs
//! (`gradsheet_concepts::LABS`) are both [`Lab`]s: the command line, the web page, the
//! xlsx export and the charts are views of the same [`Output`], and a lab has one set of
//! defaults wherever it runs.
//!
//! # Example
//!
//! ```
//! use gradsheet_labs::{Params, WORKBOOKS};
//!
//! let lab = WORKBOOKS.iter().find(|l| l.name == "mom_bias").unwrap();
//! let out = (lab.run)(&Params::defaults(lab.params), None).unwrap();
//! assert_eq!(out.tables[0].name, "bias");
//! assert_eq!(out.figures[0].name, "ema");
//! ```

use crate::figure::Figure;
use crate::LabError;

/// Which family a lab belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// An idea of a deep-learning paper rebuilt as a spreadsheet would (dropout, focal
    /// loss, …): `gradsheet-concepts`.
    Concept,
    /// One of fast.ai's teaching workbooks, cell for cell: this crate.
    Workbook,
}

impl Group {
    /// `concept` or `workbook`.
    pub fn name(self) -> &'static str {
        match self {
            Group::Concept => "concept",
            Group::Workbook => "workbook",
        }
    }
}

/// A lab.
#[derive(Clone, Copy, Debug)]
pub struct Lab {
    /// The name typed on the command line and sent by the page.
    pub name: &'static str,
    /// Its family.
    pub group: Group,
    /// One line about it.
    pub about: &'static str,
    /// Its parameters, with defaults and ranges (the page's sliders and menus).
    pub params: &'static [ParamSpec],
    /// Whether it takes a user's picture (`--image`, an upload).
    pub takes_image: bool,
    /// Runs it with checked parameters; the image is the user's picture, for a lab that
    /// takes one.
    pub run: fn(&Params, Option<&Image>) -> Result<Output, LabError>,
}

impl Lab {
    /// Its parameters: the defaults with `name=value` items over them, checked.
    ///
    /// # Errors
    ///
    /// As [`Params::parse`].
    pub fn params<S: AsRef<str>>(&self, items: &[S]) -> Result<Params, LabError> {
        Params::parse(self.params, items)
    }
}

/// The lab named `name` among `labs`.
///
/// # Errors
///
/// [`LabError::UnknownLab`], listing the names.
pub fn find<'a>(labs: &[&'a Lab], name: &str) -> Result<&'a Lab, LabError> {
    labs.iter()
        .copied()
        .find(|l| l.name == name)
        .ok_or_else(|| {
            LabError::UnknownLab(
                name.to_string(),
                labs.iter().map(|l| l.name).collect::<Vec<_>>().join(", "),
            )
        })
}

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

impl Kind {
    /// The range or choices, for listings (`0..0.95`, `relu|tanh`).
    pub fn describe(&self) -> String {
        match self {
            Kind::Number { min, max } | Kind::List { min, max } => format!("{min}..{max}"),
            Kind::Integer { min, max } => format!("{min}..{max}"),
            Kind::Choice(w) => w.join("|"),
        }
    }

    /// `number`, `integer`, `choice` or `list`.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Number { .. } => "number",
            Kind::Integer { .. } => "integer",
            Kind::Choice(_) => "choice",
            Kind::List { .. } => "list",
        }
    }
}

/// A parameter of a lab.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamSpec {
    /// The name typed as `name=value`.
    pub name: &'static str,
    /// The default, as text: the same on the command line and on the page.
    pub default: &'static str,
    /// Its values.
    pub kind: Kind,
    /// One line about it.
    pub help: &'static str,
    /// The largest value the web page takes, when below the kind's: a page answers
    /// within about a second, while the command line may run as long as asked.
    pub web_max: Option<f64>,
}

impl ParamSpec {
    /// A parameter the page takes in full.
    pub const fn new(
        name: &'static str,
        default: &'static str,
        kind: Kind,
        help: &'static str,
    ) -> ParamSpec {
        ParamSpec {
            name,
            default,
            kind,
            help,
            web_max: None,
        }
    }

    /// The same with a bound for the page.
    pub const fn web_max(self, max: f64) -> ParamSpec {
        ParamSpec {
            web_max: Some(max),
            ..self
        }
    }
}

/// Checked parameter values of one lab: every declared name has a value (its default
/// unless given).
///
/// # Examples
///
/// ```
/// use gradsheet_labs::{Kind, ParamSpec, Params};
/// const SPECS: &[ParamSpec] = &[ParamSpec::new(
///     "p", "0.5", Kind::Number { min: 0.0, max: 0.95 }, "drop rate",
/// )];
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
        let spec = self.spec(name)?;
        check(spec, value)?;
        if let Some(slot) = self.values.iter_mut().find(|(n, _)| *n == name) {
            slot.1 = value.to_string();
        }
        Ok(())
    }

    /// The declaration of `name`.
    ///
    /// # Errors
    ///
    /// [`LabError::UnknownParam`], listing the lab's parameters.
    pub fn spec(&self, name: &str) -> Result<&'static ParamSpec, LabError> {
        self.specs.iter().find(|s| s.name == name).ok_or_else(|| {
            let names: Vec<&str> = self.specs.iter().map(|s| s.name).collect();
            LabError::UnknownParam(
                name.to_string(),
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                },
            )
        })
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

/// `a, b or c`.
fn one_of(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
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
                return Err(bad(format!(
                    "unknown {} '{v}' (use {})",
                    spec.name,
                    one_of(words)
                )));
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

/// One cell of a [`Table`].
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A number (NaN and infinities included: they are values).
    Num(f64),
    /// A label.
    Text(String),
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Num(v)
    }
}
impl From<usize> for Value {
    fn from(v: usize) -> Value {
        Value::Num(v as f64)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}
impl From<Option<f64>> for Value {
    /// A number, or a blank cell.
    fn from(v: Option<f64>) -> Value {
        v.map_or(Value::Text(String::new()), Value::Num)
    }
}

/// A table of numbers and labels, one row per spreadsheet row.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// A short machine name (`curves`, `per_layer`): file names and JSON keys.
    pub name: String,
    /// A human title.
    pub title: String,
    /// Column headers.
    pub headers: Vec<String>,
    /// Rows, each as long as `headers`.
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    /// An empty table with these headers.
    pub fn new(name: &str, title: &str, headers: &[&str]) -> Table {
        Table {
            name: name.into(),
            title: title.into(),
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// A grid as a table: a first column numbering the rows from 1, then one column per
    /// cell.
    pub fn grid(name: &str, title: &str, g: &[Vec<f64>]) -> Table {
        let w = g.iter().map(Vec::len).max().unwrap_or(0);
        let mut headers = vec!["row".to_string()];
        headers.extend((1..=w).map(|j| j.to_string()));
        let rows = g
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut out = vec![Value::Num((i + 1) as f64)];
                out.extend(r.iter().map(|x| Value::Num(*x)));
                out
            })
            .collect();
        Table {
            name: name.into(),
            title: title.into(),
            headers,
            rows,
        }
    }

    /// Appends a row.
    pub fn push(&mut self, row: Vec<Value>) {
        debug_assert_eq!(row.len(), self.headers.len());
        self.rows.push(row);
    }

    /// Appends a row of numbers.
    pub fn push_nums(&mut self, row: &[f64]) {
        self.push(row.iter().map(|x| Value::Num(*x)).collect());
    }

    /// The numbers of column `c` (labels as NaN).
    pub fn column(&self, c: usize) -> Vec<f64> {
        self.rows
            .iter()
            .map(|r| match &r[c] {
                Value::Num(v) => *v,
                Value::Text(_) => f64::NAN,
            })
            .collect()
    }
}

/// A grayscale image, values nominally in [0, 1].
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// `height × width` values, row after row.
    pub pixels: Vec<f64>,
}

impl Image {
    /// An image from its pixels.
    ///
    /// # Errors
    ///
    /// [`LabError::Invalid`] if the sizes disagree, a side is 0, or a pixel is not finite.
    pub fn new(width: usize, height: usize, pixels: Vec<f64>) -> Result<Image, LabError> {
        if width == 0 || height == 0 || pixels.len() != width * height {
            return Err(LabError::Invalid(format!(
                "an image of {width}×{height} needs {} pixels, got {}",
                width * height,
                pixels.len()
            )));
        }
        if pixels.iter().any(|p| !p.is_finite()) {
            return Err(LabError::Invalid("an image's pixels must be finite".into()));
        }
        Ok(Image {
            width,
            height,
            pixels,
        })
    }

    /// Every pixel `v`.
    pub fn constant(width: usize, height: usize, v: f64) -> Image {
        Image {
            width,
            height,
            pixels: vec![v; width * height],
        }
    }

    /// The pixel at column `x`, row `y`.
    #[inline]
    pub fn at(&self, x: usize, y: usize) -> f64 {
        self.pixels[y * self.width + x]
    }

    /// The pixels as 8-bit gray, scaled from `min(0, lowest)` to the highest value.
    pub fn to_gray8(&self) -> Vec<u8> {
        let lo = self.pixels.iter().copied().fold(0.0, f64::min);
        let hi = self.pixels.iter().copied().fold(lo, f64::max);
        self.pixels
            .iter()
            .map(|&v| {
                if hi > lo {
                    ((v - lo) / (hi - lo) * 255.0).round() as u8
                } else {
                    128
                }
            })
            .collect()
    }
}

/// Everything a lab shows.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Output {
    /// The lab's name.
    pub lab: String,
    /// Sentences that say what the numbers mean, computed from them.
    pub notes: Vec<String>,
    /// The tables; the first is the main one.
    pub tables: Vec<Table>,
    /// The figures, as data (drawn by `gradsheet_report::chart` for files and by the
    /// page in the browser).
    pub figures: Vec<Figure>,
    /// Grayscale images (the upsampling lab's results), written as PNG.
    pub images: Vec<(String, Image)>,
}

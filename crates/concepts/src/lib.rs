//! gradsheet's concept labs: the ideas of deep-learning papers that visual
//! learners rebuild in spreadsheets, computed exactly and laid out as tables and pictures.
//!
//! | lab | module | what it shows |
//! |---|---|---|
//! | `dropout` | [`dropout`] | masks per step, the 1/(1-p) scaling, train/validation error across p, the ensemble view |
//! | `focal` | [`focal`] | focal loss against cross-entropy over p, derivatives, an imbalanced toy trained both ways |
//! | `l1-l2` | [`l1_l2`] | the two losses and their gradients, a line fitted through outliers, the GAN-critic view |
//! | `upsampling` | [`upsampling`] | nearest, bilinear, transposed convolution; the checkerboard and the resize-then-convolve fix |
//! | `gradients` | [`gradients`] | activation and gradient norms through a deep stack, for several initialisations |
//!
//! Losses and per-element functions are engine formulas, so their derivatives come from
//! [`gradsheet_engine::derivative`] and the tape; the small networks (dropout's MLP, the
//! deep stack) are plain matrix code with hand-derived backprop, checked against finite
//! differences and the engine in the tests.
//!
//! The crate is pure: no files, terminal or clock. Randomness is ChaCha8 with an explicit
//! seed through [`gradsheet_train::rng`]. Every lab returns plain data (structs of public
//! fields), and [`LabOutput`] is the common view of them — tables, SVG figures and
//! grayscale images — from which the terminal, CSV/JSON, xlsx and web views are built.
//!
//! # Example
//!
//! ```
//! use gradsheet_concepts::{find, Params};
//!
//! let lab = find("focal").unwrap();
//! let params = Params::parse(lab.params, &["gammas=0,2"]).unwrap();
//! let out = (lab.run)(&params, None).unwrap();
//! assert_eq!(out.tables[0].name, "curves");
//! assert!(out.figures.iter().any(|f| f.svg.starts_with("<svg")));
//! ```

#![warn(missing_docs)]

pub mod dropout;
pub mod focal;
pub mod gradients;
pub mod l1_l2;
pub mod la;
pub mod params;
pub mod svg;
pub mod upsampling;

pub use params::{Kind, ParamSpec, Params};
pub use upsampling::Image;

/// An error in a lab's settings or input.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LabError {
    /// No lab has this name.
    #[error("no lab named '{0}' (the labs are {1})")]
    UnknownLab(String, String),
    /// A parameter the lab does not take.
    #[error("the lab has no parameter '{0}' (its parameters are {1})")]
    UnknownParam(String, String),
    /// A parameter value that cannot be used.
    #[error("{name}: {message}")]
    BadValue {
        /// The parameter.
        name: String,
        /// What is wrong with its value.
        message: String,
    },
    /// A setting combination or input that cannot be used.
    #[error("{0}")]
    Invalid(String),
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

    /// Appends a row.
    pub fn push(&mut self, row: Vec<Value>) {
        debug_assert_eq!(row.len(), self.headers.len());
        self.rows.push(row);
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

/// A picture: an SVG document.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// A short machine name, used for file names (`curves` → `focal-curves.svg`).
    pub name: String,
    /// A human title.
    pub title: String,
    /// The SVG document.
    pub svg: String,
}

/// Everything a lab shows: the common view of every lab's result.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct LabOutput {
    /// The lab's name.
    pub lab: String,
    /// Sentences that say what the numbers mean, computed from them.
    pub notes: Vec<String>,
    /// The tables; the first is the main one.
    pub tables: Vec<Table>,
    /// The pictures.
    pub figures: Vec<Figure>,
    /// Grayscale images (upsampling results), to be written as PNG by the app.
    pub images: Vec<(String, Image)>,
}

/// A lab in the registry.
#[derive(Clone, Copy, Debug)]
pub struct LabInfo {
    /// The name typed on the command line.
    pub name: &'static str,
    /// One line about it.
    pub about: &'static str,
    /// Its parameters, with defaults and ranges (the web page's sliders).
    pub params: &'static [ParamSpec],
    /// Whether it takes a user's picture (`--image`, an upload).
    pub takes_image: bool,
    /// Runs it. The image is the user's picture, for labs that take one.
    pub run: fn(&Params, Option<&Image>) -> Result<LabOutput, LabError>,
}

/// Every concept lab, in the order the labs listing shows them.
pub const LABS: &[LabInfo] = &[
    LabInfo {
        name: "dropout",
        about: "dropout: masks per step, 1/(1-p) scaling, error across p, the ensemble view",
        params: dropout::PARAMS,
        takes_image: false,
        run: dropout::run_lab,
    },
    LabInfo {
        name: "focal",
        about: "focal loss against cross-entropy, derivatives, an imbalanced toy trained both ways",
        params: focal::PARAMS,
        takes_image: false,
        run: focal::run_lab,
    },
    LabInfo {
        name: "l1-l2",
        about: "L1 against L2: losses, gradients, a line through outliers, the GAN-critic view",
        params: l1_l2::PARAMS,
        takes_image: false,
        run: l1_l2::run_lab,
    },
    LabInfo {
        name: "upsampling",
        about:
            "nearest, bilinear and transposed convolution; checkerboards and the resize-conv fix",
        params: upsampling::PARAMS,
        takes_image: true,
        run: upsampling::run_lab,
    },
    LabInfo {
        name: "gradients",
        about: "exploding and vanishing gradients through a deep stack, per initialisation",
        params: gradients::PARAMS,
        takes_image: false,
        run: gradients::run_lab,
    },
];

/// The lab with this name.
///
/// # Errors
///
/// [`LabError::UnknownLab`], listing the names.
pub fn find(name: &str) -> Result<&'static LabInfo, LabError> {
    LABS.iter().find(|l| l.name == name).ok_or_else(|| {
        LabError::UnknownLab(
            name.to_string(),
            LABS.iter().map(|l| l.name).collect::<Vec<_>>().join(", "),
        )
    })
}

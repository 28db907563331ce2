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
//! fields), and each is a [`gradsheet_labs::Lab`] like the workbook labs: its parameters
//! with one set of defaults, and an [`Output`] of notes, tables, figures as data and
//! grayscale images, from which the terminal, CSV/JSON, xlsx, chart files and the page
//! are built.
//!
//! # Example
//!
//! ```
//! use gradsheet_concepts::{find, Params};
//! use gradsheet_labs::figure::Panel;
//!
//! let lab = find("focal").unwrap();
//! let params = Params::parse(lab.params, &["gammas=0,2"]).unwrap();
//! let out = (lab.run)(&params, None).unwrap();
//! assert_eq!(out.tables[0].name, "curves");
//! assert!(matches!(out.figures[0].panels[0], Panel::Lines(_)));
//! ```

#![warn(missing_docs)]

pub mod dropout;
pub mod focal;
pub mod gradients;
pub mod l1_l2;
pub mod la;
pub mod upsampling;

pub use gradsheet_labs::{Image, Kind, Lab, LabError, Output, ParamSpec, Params, Table, Value};

use gradsheet_labs::Group;

/// A concept lab.
const fn concept(
    name: &'static str,
    about: &'static str,
    params: &'static [ParamSpec],
    run: fn(&Params, Option<&Image>) -> Result<Output, LabError>,
) -> Lab {
    Lab {
        name,
        group: Group::Concept,
        about,
        params,
        takes_image: false,
        run,
    }
}

/// Every concept lab, in the order they are listed.
pub const LABS: &[Lab] = &[
    concept(
        "dropout",
        "dropout: masks per step, 1/(1-p) scaling, error across p, the ensemble view",
        dropout::PARAMS,
        dropout::run_lab,
    ),
    concept(
        "focal",
        "focal loss against cross-entropy, derivatives, an imbalanced toy trained both ways",
        focal::PARAMS,
        focal::run_lab,
    ),
    concept(
        "l1-l2",
        "L1 against L2: losses, gradients, a line through outliers, the GAN-critic view",
        l1_l2::PARAMS,
        l1_l2::run_lab,
    ),
    Lab {
        takes_image: true,
        ..concept(
            "upsampling",
            "nearest, bilinear and transposed convolution; checkerboards and the resize-conv fix",
            upsampling::PARAMS,
            upsampling::run_lab,
        )
    },
    concept(
        "gradients",
        "exploding and vanishing gradients through a deep stack, per initialisation",
        gradients::PARAMS,
        gradients::run_lab,
    ),
];

/// The concept lab with this name.
///
/// # Errors
///
/// [`LabError::UnknownLab`], listing the names.
pub fn find(name: &str) -> Result<&'static Lab, LabError> {
    let all: Vec<&Lab> = LABS.iter().collect();
    gradsheet_labs::lab::find(&all, name)
}

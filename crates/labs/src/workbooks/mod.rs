//! The workbook labs as [`Lab`]s: each sheet's numbers as tables, notes that say what
//! they mean, and figures as data. The same functions serve `gradsheet lab <workbook>`
//! and the web page's labs.
//!
//! ```
//! use gradsheet_labs::{workbooks, Params};
//!
//! let lab = workbooks::find("collab").unwrap();
//! let p = lab.params(&["train=lbfgs", "epochs=20"]).unwrap();
//! let out = (lab.run)(&p, None).unwrap();
//! assert!(out.notes[2].starts_with("lbfgs from seed 0"));
//! assert_eq!(out.figures[0].name, "training");
//! ```

use crate::collab::Version;
use crate::figure::{Figure, Lines, Series};
use crate::lab::{Group, Image, Kind, Lab, Output, ParamSpec, Params, Table, Value};
use crate::LabError;

mod collab;
mod conv;
mod entropy;
mod layers;
mod mom_bias;
mod small;
mod titanic;

/// Every workbook lab, in the order they are listed.
pub const WORKBOOKS: &[Lab] = &[
    entropy::LAB,
    mom_bias::LAB,
    conv::LAB,
    collab::LAB,
    titanic::LAB,
    layers::LAB,
    small::BROADCASTING,
    small::STYLE_LOSS,
    small::EMB_SIZING,
    small::EMB_RESULTS,
];

/// The workbook lab named `name`.
///
/// # Errors
///
/// [`LabError::UnknownLab`], listing the workbook labs.
pub fn find(name: &str) -> Result<&'static Lab, LabError> {
    let all: Vec<&Lab> = WORKBOOKS.iter().collect();
    crate::lab::find(&all, name)
}

/// A workbook lab with no settings: its numbers are the sheet's.
const fn fixed(
    name: &'static str,
    about: &'static str,
    run: fn(&Params, Option<&Image>) -> Result<Output, LabError>,
) -> Lab {
    Lab {
        name,
        group: Group::Workbook,
        about,
        params: &[],
        takes_image: false,
        run,
    }
}

/// Which copy of a workbook (entropy, conv, collab).
const VERSION: ParamSpec = ParamSpec::new(
    "version",
    "course-v3",
    Kind::Choice(&["course-v3", "courses", "course22"]),
    "which copy of the workbook",
);

/// The seed of a random start (collab, titanic).
const SEED: ParamSpec = ParamSpec::new(
    "seed",
    "0",
    Kind::Integer {
        min: 0,
        max: u64::MAX,
    },
    "the seed of the random start",
)
.web_max(1000.0);

/// Epochs, or the most iterations (collab, titanic).
const EPOCHS: ParamSpec = ParamSpec::new(
    "epochs",
    "200",
    Kind::Integer {
        min: 1,
        max: 100_000,
    },
    "epochs, or the most iterations",
)
.web_max(500.0);

/// The version a lab's parameters name.
fn version(p: &Params) -> Version {
    match p.text("version").as_str() {
        "courses" => Version::Courses,
        "course22" => Version::Course22,
        _ => Version::CourseV3,
    }
}

/// The version's name, as the parameter spells it.
fn version_name(v: Version) -> &'static str {
    match v {
        Version::CourseV3 => "course-v3",
        Version::Courses => "courses",
        Version::Course22 => "course22",
    }
}

/// A row of numbers as table cells.
fn nums(xs: &[f64]) -> Vec<Value> {
    xs.iter().map(|x| Value::Num(*x)).collect()
}

/// A text cell.
fn t(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

/// Points `(1, xs[0]), (2, xs[1]), …`.
fn one_based(xs: &[f64]) -> Vec<(f64, f64)> {
    xs.iter()
        .enumerate()
        .map(|(i, y)| ((i + 1) as f64, *y))
        .collect()
}

/// A table's columns after the first, each as a line against the first column (the
/// training tables of collab and titanic), on a log y axis.
fn training_figure(tab: &Table, y_label: &str) -> Figure {
    let mut chart = Lines::new(tab.title.clone(), "iteration", y_label);
    chart.log_y = true;
    for (k, h) in tab.headers.iter().enumerate().skip(1) {
        let pts = tab
            .rows
            .iter()
            .filter_map(|r| match (&r[0], &r[k]) {
                (Value::Num(x), Value::Num(y)) => Some((*x, *y)),
                _ => None,
            })
            .collect();
        chart.series.push(Series::line(h.clone(), pts));
    }
    Figure::lines("training", &tab.title, vec![chart])
}

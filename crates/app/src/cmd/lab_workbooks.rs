//! `gradsheet lab <workbook>`: the fast.ai teaching workbooks of `gradsheet-labs`
//! (entropy, mom_bias, conv, collab, titanic, layers and the small sheets), as terminal
//! tables, CSV, xlsx with live formulas, and pictures.
//!
//! `cmd/lab.rs` owns the command; it hands a name it finds here to [`run`]. Every number
//! and table comes from [`gradsheet_report::labs::view`] (shared with the web app); this
//! file only prints them and writes files.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use gradsheet_report::labs as books;
use gradsheet_report::labs::view::{self, Tab, ViewError, V};

pub use gradsheet_report::labs::view::names;

use crate::cmd::usage;
use crate::output::{cell, table, write_atomic};

/// The options only the workbook labs take (flattened into `gradsheet lab`'s arguments).
#[derive(clap::Args, Debug, Default, Clone)]
pub struct Flags {
    /// Write the lab as an xlsx workbook with live formulas (workbook and concept labs).
    #[arg(long, value_name = "FILE")]
    pub xlsx: Option<PathBuf>,
    /// Workbook labs: which copy of the workbook (course-v3, courses, course22).
    #[arg(long = "version", value_name = "VERSION")]
    pub sheet_version: Option<String>,
    /// collab: how to train the factors from a random start (adam, lbfgs, sgd).
    #[arg(long, value_name = "METHOD")]
    pub train: Option<String>,
    /// titanic: how to fit the models from a random start (lbfgs, gd).
    #[arg(long, value_name = "METHOD")]
    pub fit: Option<String>,
    /// collab, titanic: the seed of the random start.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// collab, titanic: epochs (Adam, SGD, gd) or the most iterations (L-BFGS).
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,
}

impl Flags {
    /// Whether any workbook-only option was given (the other labs refuse them).
    pub fn any(&self) -> bool {
        self.xlsx.is_some()
            || self.sheet_version.is_some()
            || self.train.is_some()
            || self.fit.is_some()
            || self.seed.is_some()
            || self.epochs.is_some()
    }
}

/// Runs the workbook lab `name`; `Ok(false)` when `name` is not one of them.
///
/// # Errors
///
/// A usage error for a bad option; a failure when a file cannot be written.
pub fn run(
    name: &str,
    settings: &[String],
    csv: Option<&Path>,
    plot: Option<&Path>,
    all: bool,
    flags: &Flags,
) -> Result<bool> {
    let Some((_, about)) = names().iter().find(|(n, _)| *n == name) else {
        return Ok(false);
    };
    if let Some(s) = settings.first() {
        return Err(usage(format!(
            "the {name} lab takes options (--version, --train, --fit, --seed, --epochs), not settings like '{s}'"
        )));
    }
    let opts = view::Options {
        train: flags.train.clone(),
        fit: flags.fit.clone(),
        seed: flags.seed,
        epochs: flags.epochs,
        png: true,
    };
    let version = view::parse_version(name, flags.sheet_version.as_deref()).map_err(cli_error)?;
    let shown = view::compute(name, version, &opts, plot.is_some()).map_err(cli_error)?;
    if flags.xlsx.is_some() && shown.book.is_none() {
        return Err(usage(format!("the {name} lab has no xlsx export yet")));
    }
    println!("lab {name}: {about}");
    for n in &shown.notes {
        println!("{n}");
    }
    for tab in &shown.tables {
        println!("\n{}:", tab.title);
        print!("{}", render(tab, all));
    }
    if let Some(path) = csv {
        for (i, tab) in shown.tables.iter().enumerate() {
            let p = if i == 0 {
                path.to_path_buf()
            } else {
                let stem = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| name.to_string());
                path.with_file_name(format!("{stem}-{}.csv", tab.name))
            };
            write_atomic(&p, &csv_bytes(tab)?)?;
            println!("wrote {}", p.display());
        }
    }
    if let Some(path) = &flags.xlsx {
        if let Some(book) = &shown.book {
            let bytes = books::to_xlsx(book, false)
                .map_err(|e| anyhow::anyhow!("cannot write the workbook: {e}"))?;
            write_atomic(path, &bytes)?;
            println!("wrote {}", path.display());
        }
    }
    if let Some(dir) = plot {
        if shown.pictures.is_empty() {
            return Err(usage(format!("the {name} lab has no pictures yet")));
        }
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (file, bytes) in &shown.pictures {
            let p = dir.join(file);
            write_atomic(&p, bytes)?;
            println!("wrote {}", p.display());
        }
    }
    Ok(true)
}

/// A usage error stays one (exit status 2); a failure is an ordinary error.
fn cli_error(e: ViewError) -> anyhow::Error {
    match e {
        ViewError::Usage(m) => usage(m),
        ViewError::Failed(m) => anyhow::anyhow!(m),
    }
}

fn render(tab: &Tab, all: bool) -> String {
    let limit = if all { usize::MAX } else { 20 };
    let rows: Vec<Vec<String>> = tab
        .rows
        .iter()
        .take(limit)
        .map(|r| {
            r.iter()
                .map(|v| match v {
                    V::N(x) => cell(*x, 6),
                    V::T(s) => s.clone(),
                })
                .collect()
        })
        .collect();
    let mut s = table(&tab.headers, &rows);
    if tab.rows.len() > limit {
        s.push_str(&format!(
            "… {} more rows (--all, or --csv for every number)\n",
            tab.rows.len() - limit
        ));
    }
    s
}

fn csv_bytes(tab: &Tab) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&tab.headers)?;
    for r in &tab.rows {
        // Numbers as the shortest text that reads back the same: CSV keeps every digit.
        w.write_record(r.iter().map(|v| match v {
            V::N(x) => gradsheet_engine::format_number(*x),
            V::T(s) => s.clone(),
        }))?;
    }
    w.into_inner()
        .map_err(|e| anyhow::anyhow!("cannot write CSV: {e}"))
}

/// The workbook labs as `gradsheet lab` lists them, under the other labs.
pub fn listing() -> String {
    let mut s = String::from(
        "\nworkbook labs (gradsheet lab NAME [--version V] [--xlsx FILE] [--csv FILE] [--plot DIR]):\n",
    );
    for (n, about) in names() {
        s.push_str(&format!("\n  {n:<12} {about}\n"));
    }
    s.push_str("\n  versions (entropy, conv, collab): course-v3 (default), courses, course22\n");
    s.push_str("  collab: --train adam|lbfgs|sgd --seed N --epochs N; titanic: --fit lbfgs|gd --seed N --epochs N\n");
    s
}

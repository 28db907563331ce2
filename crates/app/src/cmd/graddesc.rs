//! `gradsheet graddesc --sheet momentum [--workbook 2018|2016] [--lr LR] [--beta1 B]
//! [--beta2 B] [--init a=A,b=B] [--runs N] [--clean] [--json]`: a sheet of fast.ai's
//! graddesc workbook as the sheet shows it, replayed by its macros, as saved or with the
//! cells a learner types.

use std::fmt::Write as _;

use anyhow::Result;
use gradsheet_train::graddesc::{
    self, Action, Clean, Comparison, Replay, Settings, Sheet, SheetView, Workbook,
};
use serde_json::{json, Value};

use super::common::{page, parse_assignments};
use super::usage;
use crate::output::term::{item, para, readable};
use crate::output::{cell, fitted, table, Cell, Column};
use crate::trace_io::json_number;

/// Replay a sheet of fast.ai's graddesc workbook, as the sheet shows it.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Sheets: basic, momentum, rmsprop, adam, adam_ann (both workbooks); \
adagrad, adagrad_ann, eve (2016 only).\n\nExamples:\n  gradsheet graddesc --sheet momentum\n  \
gradsheet graddesc --sheet adam_ann --workbook 2016 --clean\n  gradsheet graddesc --sheet rmsprop --runs 2\n  \
gradsheet graddesc --sheet momentum --beta1 0.5 --lr 2e-4 --init a=2,b=25 --runs 1\n\n\
With --lr, --beta1, --beta2 or --init the sheet is replayed as a learner would: the β's \
typed in (Reset keeps them), Reset pressed, then the learning rate and the initial a and \
b typed in; each defaults to the sheet's own value. Without them, the sheet as saved.",
    allow_negative_numbers = true
)]
pub struct Args {
    /// The sheet: basic, momentum, rmsprop, adam, adam_ann, adagrad, adagrad_ann or eve.
    #[arg(long, value_parser = parse_sheet)]
    pub sheet: Sheet,
    /// Which workbook: 2018 (course-v3) or 2016 (courses/deeplearning1).
    #[arg(long, default_value = "2018", value_parser = parse_workbook)]
    pub workbook: Workbook,
    /// Also show the clean version (every update applied, state starting at zero) and how
    /// the two differ.
    #[arg(long)]
    pub clean: bool,
    /// Press Run this many more times after the saved state, or after the settings (each
    /// Run is 5 epochs; at most 10000).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub runs: usize,
    /// The learning rate, typed after Reset (default: the sheet's own).
    #[arg(long, value_name = "LR")]
    pub lr: Option<f64>,
    /// β1, typed before Reset: momentum's and rmsprop's β, adam's, adam_ann's and eve's β1
    /// (default: the sheet's own).
    #[arg(long, alias = "beta", value_name = "B")]
    pub beta1: Option<f64>,
    /// β2 of adam, adam_ann and eve, typed before Reset (default: the sheet's own).
    #[arg(long, value_name = "B")]
    pub beta2: Option<f64>,
    /// The initial a and b, typed after Reset, e.g. a=2,b=25 (default: Reset's 1 and 1).
    #[arg(long, value_name = "a=A,b=B")]
    pub init: Option<String>,
    /// Show every epoch of the replay (Reset, each onestep).
    #[arg(long)]
    pub history: bool,
    /// Print JSON instead of tables (cells keep their addresses).
    #[arg(long)]
    pub json: bool,
    /// Also write the sheet as an xlsx workbook in its own layout, row formulas live.
    #[arg(long, value_name = "FILE")]
    pub xlsx: Option<std::path::PathBuf>,
}

fn parse_sheet(s: &str) -> std::result::Result<Sheet, String> {
    s.parse()
}

fn parse_workbook(s: &str) -> std::result::Result<Workbook, String> {
    s.parse()
}

/// The most Runs one command presses: 50,000 epochs, every one of them kept for the
/// history and the clean comparison.
const MAX_RUNS: usize = 10_000;

/// The cells typed by the flags.
fn settings(a: &Args) -> Result<Settings> {
    let mut s = Settings {
        lr: a.lr,
        beta1: a.beta1,
        beta2: a.beta2,
        ..Settings::default()
    };
    if let Some(init) = &a.init {
        for (k, v) in parse_assignments(std::slice::from_ref(init), "--init")? {
            match k.as_str() {
                "a" => s.a = Some(v),
                "b" => s.b = Some(v),
                _ => {
                    return Err(usage(format!(
                        "--init sets '{k}': the sheets start from a (the slope, C2) and b (the intercept, C1)"
                    )))
                }
            }
        }
    }
    Ok(s)
}

/// Runs the command.
pub fn run(a: Args) -> Result<()> {
    let (wb, sheet) = (a.workbook, a.sheet);
    if a.runs > MAX_RUNS {
        return Err(usage(format!("--runs {}: at most {MAX_RUNS}", a.runs)));
    }
    let typed = settings(&a)?;
    let r = graddesc::replay_with(wb, sheet, &typed, a.runs).map_err(usage)?;
    if let Some(path) = &a.xlsx {
        crate::export::write_graddesc_xlsx(path, &[&r.view])?;
    }
    let clean = a.clean.then(|| graddesc::clean(&r));
    let cmp = clean.as_ref().map(|c| graddesc::compare(&r, c));
    if a.json {
        let v = json!({
            "workbook": wb.year(),
            "sheet": sheet.key(),
            "settings": {
                "lr": typed.lr, "beta1": typed.beta1, "beta2": typed.beta2, "a": typed.a, "b": typed.b,
            },
            "replay": replay_json(&r),
            "clean": clean.as_ref().map(clean_json),
            "comparison": cmp.as_ref().map(comparison_json),
        });
        let mut s = serde_json::to_string_pretty(&v)?;
        s.push('\n');
        page(&s);
        return Ok(());
    }
    let mut out = String::new();
    let saved = if a.runs > 0 {
        format!(" + {} more Run(s)", a.runs)
    } else {
        String::new()
    };
    // The Runs asked for are the last actions; the rest is how the sheet was reached.
    let reached = &r.actions[..r.actions.len() - a.runs];
    let how = if reached.is_empty() {
        format!("the saved state (not replayable from scratch){saved}")
    } else if typed.is_default() {
        format!("replayed: {}{saved}", describe_actions(reached))
    } else {
        format!(
            "replayed with typed cells: {}{saved}",
            describe_actions(reached)
        )
    };
    let title = format!(
        "graddesc.xlsm ({}), sheet '{}' — {how}",
        wb.year(),
        r.view.name
    );
    let _ = writeln!(out, "{}", para(&title, ""));
    out.push('\n');
    out.push_str(&sheet_text(&r.view));
    out.push_str("\nWhat to notice:\n");
    for n in &r.view.notes {
        let _ = writeln!(out, "{}", item(n));
    }
    if a.history {
        out.push('\n');
        out.push_str(&history_text(&r));
    }
    match (&clean, &cmp) {
        (Some(c), Some(k)) => {
            out.push('\n');
            out.push_str(&clean_text(c, k));
        }
        _ => {
            out.push('\n');
            out.push_str(&para("(--clean shows the clean version beside it: every update applied, state starting at zero)", ""));
            out.push('\n');
        }
    }
    page(&out);
    Ok(())
}

fn describe_actions(actions: &[Action]) -> String {
    // Collapse runs of identical actions ("Run ×3"); the Run steps of adam_ann read as Runs.
    let mut parts: Vec<(String, usize)> = Vec::new();
    for a in actions {
        let s = a.to_string();
        match parts.last_mut() {
            Some((p, n)) if *p == s => *n += 1,
            _ => parts.push((s, 1)),
        }
    }
    parts
        .into_iter()
        .map(|(s, n)| if n > 1 { format!("{s} ×{n}") } else { s })
        .collect::<Vec<_>>()
        .join(", ")
}

/// How much a sheet's column matters when the terminal is too narrow for all of them:
/// the updated b and a reappear as the next row's, and pred and err² follow from a row's
/// other cells; the data, the parameters, the derivatives and the first state (J:K)
/// always show, a second state (Adam's squares, L:M) when it fits. `state` counts the
/// state columns before this one.
fn rank(header: &str, state: usize) -> u8 {
    match header {
        h if h.starts_with("new ") => 3,
        "pred" => 2,
        h if h.starts_with("err") => 1,
        h if h.len() == 1 && state >= 2 => 1,
        _ => 0,
    }
}

/// The sheet as a table: input cells, row 3's carried state, rows 4–32, the summaries.
pub fn sheet_text(v: &SheetView) -> String {
    let mut out = String::new();
    let inputs: Vec<String> = v
        .cells
        .iter()
        .filter(|c| row_of(&c.addr) < 3)
        .map(|c| format!("{} {} = {}", c.addr, c.label, number(c.value)))
        .collect();
    let _ = writeln!(
        out,
        "{}",
        para(&format!("inputs: {}", inputs.join(", ")), "")
    );
    // The cell of a summary row (row 3's carried state, rows 33 and 34) in column `letter`.
    let at = |letter: &str, row: u32| -> Option<f64> {
        v.cells
            .iter()
            .find(|x| x.addr == format!("{letter}{row}"))
            .map(|x| x.value)
    };
    let extra: Vec<u32> = [3u32, 33, 34]
        .into_iter()
        .filter(|&r| v.columns.iter().any(|c| at(c.letter, r).is_some()))
        .collect();
    let cell_of = |x: Option<f64>| x.map_or(Cell::Text(String::new()), Cell::Num);
    let mut row_numbers: Vec<Cell> = Vec::new();
    let top = extra.iter().filter(|&&r| r == 3).count();
    row_numbers.extend((0..top).map(|_| Cell::from("3")));
    row_numbers.extend((0..v.rows.len()).map(|i| Cell::from(v.first_row as usize + i)));
    row_numbers.extend(
        extra
            .iter()
            .filter(|&&r| r > 3)
            .map(|r| Cell::from(r.to_string())),
    );
    let mut columns = vec![Column::new("row", 0, row_numbers)];
    let mut states = 0;
    for (k, c) in v.columns.iter().enumerate() {
        let rank = rank(c.header, states);
        if c.header == c.letter {
            states += 1;
        }
        let mut cells: Vec<Cell> = Vec::new();
        if top > 0 {
            cells.push(cell_of(at(c.letter, 3)));
        }
        cells.extend(v.rows.iter().map(|r| Cell::Num(r[k])));
        cells.extend(
            extra
                .iter()
                .filter(|&&r| r > 3)
                .map(|&r| cell_of(at(c.letter, r))),
        );
        columns.push(Column::new(c.header, rank, cells));
    }
    out.push_str(&fitted(&columns));
    let legend: Vec<String> = v
        .columns
        .iter()
        .filter(|c| c.header == c.letter)
        .map(|c| format!("{} = {}", c.letter, c.meaning))
        .collect();
    if !legend.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            para(&format!("state columns: {}", legend.join("; ")), "")
        );
    }
    let summary: Vec<String> = v
        .cells
        .iter()
        .filter(|c| row_of(&c.addr) >= 33 && !c.label.starts_with("state"))
        .map(|c| {
            let label = if c.label.is_empty() {
                String::new()
            } else {
                format!(" {}", c.label)
            };
            format!("{}{label} = {}", c.addr, number(c.value))
        })
        .collect();
    if !summary.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            para(&format!("summary cells: {}", summary.join(", ")), "")
        );
    }
    out
}

/// A cell's value in a sentence: rounded as a person reads it (`--json` has it exact).
fn number(v: f64) -> String {
    readable(&gradsheet_engine::format_number(v))
}

/// The row of a view's cell address (`F33` → 33): the views write every address as
/// letters then a row number.
fn row_of(addr: &str) -> u32 {
    addr.trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .parse()
        .expect("a cell address ends in its row number")
}

fn history_text(r: &Replay) -> String {
    let mut columns = vec![
        Column::new(
            "epoch",
            0,
            r.epochs.iter().map(|e| Cell::from(e.epoch)).collect(),
        ),
        Column::new(
            "after",
            3,
            r.epochs
                .iter()
                .map(|e| Cell::from(e.after.clone()))
                .collect(),
        ),
        Column::new("b", 0, r.epochs.iter().map(|e| Cell::Num(e.b)).collect()),
        Column::new("a", 0, r.epochs.iter().map(|e| Cell::Num(e.a)).collect()),
        Column::new("lr", 0, r.epochs.iter().map(|e| Cell::Num(e.lr)).collect()),
        Column::new(
            "sqrt(Σerr²)",
            0,
            r.epochs.iter().map(|e| Cell::Num(e.sheet_rmse)).collect(),
        ),
    ];
    for (k, name) in r.view.sheet.state_names().iter().enumerate() {
        columns.push(Column::new(
            *name,
            2,
            r.epochs
                .iter()
                .map(|e| e.state.get(k).map_or(Cell::from(""), |v| Cell::Num(*v)))
                .collect(),
        ));
    }
    format!(
        "{}\n{}",
        para(
            "The replay, epoch by epoch (each row is the start of a displayed pass):",
            ""
        ),
        fitted(&columns)
    )
}

fn clean_text(c: &Clean, k: &Comparison) -> String {
    let mut out = para(
        "The clean version: every update applied, state starting at zero, same learning rates:",
        "",
    );
    out.push('\n');
    for n in &c.notes {
        let _ = writeln!(out, "{}", item(n));
    }
    out.push('\n');
    out.push_str(&sheet_text(&c.view));
    out.push('\n');
    out.push_str(&para(
        "Faithful replay vs clean version, epoch by epoch (b and a at the start of each pass):",
        "",
    ));
    out.push('\n');
    let headers: Vec<String> = [
        "epoch",
        "sheet b",
        "sheet a",
        "clean b",
        "clean a",
        "sheet rmse",
        "clean rmse",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let rows: Vec<Vec<String>> = k
        .epochs
        .iter()
        .map(|e| {
            let mut v = vec![(e[0] as usize).to_string()];
            v.extend(e[1..].iter().map(|x| cell(*x, 8)));
            v
        })
        .collect();
    out.push_str(&table(&headers, &rows));
    for n in &k.notes {
        let _ = writeln!(out, "{}", item(n));
    }
    out
}

fn view_json(v: &SheetView) -> Value {
    json!({
        "workbook": v.workbook.year(),
        "sheet": v.sheet.key(),
        "name": v.name,
        "first_row": v.first_row,
        "columns": v.columns.iter().map(|c| json!({
            "letter": c.letter, "header": c.header, "meaning": c.meaning, "formula": c.formula,
        })).collect::<Vec<_>>(),
        "rows": v.rows.iter().map(|r| r.iter().map(|x| json_number(*x)).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "cells": v.cells.iter().map(|c| json!({"addr": c.addr, "label": c.label, "value": json_number(c.value)})).collect::<Vec<_>>(),
        "notes": v.notes,
    })
}

fn epochs_json(es: &[graddesc::Epoch]) -> Value {
    Value::Array(
        es.iter()
            .map(|e| {
                json!({
                    "epoch": e.epoch, "after": e.after, "b": json_number(e.b), "a": json_number(e.a),
                    "lr": json_number(e.lr), "sheet_rmse": json_number(e.sheet_rmse),
                    "state": e.state.iter().map(|x| json_number(*x)).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

fn replay_json(r: &Replay) -> Value {
    json!({
        "actions": r.actions.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "epochs": epochs_json(&r.epochs),
        "view": view_json(&r.view),
    })
}

fn clean_json(c: &Clean) -> Value {
    json!({ "epochs": epochs_json(&c.epochs), "view": view_json(&c.view), "notes": c.notes })
}

fn comparison_json(k: &Comparison) -> Value {
    json!({
        "epochs": k.epochs.iter().map(|e| json!({
            "epoch": e[0] as usize, "sheet_b": json_number(e[1]), "sheet_a": json_number(e[2]),
            "clean_b": json_number(e[3]), "clean_a": json_number(e[4]),
            "sheet_rmse": json_number(e[5]), "clean_rmse": json_number(e[6]),
        })).collect::<Vec<_>>(),
        "max_param_gap": json_number(k.max_param_gap),
        "notes": k.notes,
    })
}

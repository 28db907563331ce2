//! `gradsheet book`: the learner's own workbook, opened — every formula cell recalculated
//! and compared with what Excel saved, and any cell differentiated exactly.

use std::path::PathBuf;

use anyhow::Result;
use gradsheet_book::Book;

use super::usage;
use crate::output::import::read_bounded;

/// The workbook, its recalculation and its derivatives.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  gradsheet book graddesc.xlsm                      sheets, and how many formula cells recalculate to Excel's values
  gradsheet book graddesc.xlsm --grad basic!F33     the exact derivative of a cell with respect to every number it depends on
  gradsheet book mine.xlsx --grad \"'basic SGD 2 neurons'!H33\" --json
  gradsheet book graddesc.xlsm --sheet adam --run 20 --reset   Reset, then the Run button's loop 20 times, replayed from the sheet's own VBA
  gradsheet book mine.xlsm --sheet basic --run 50 --explain    the loop, then why it explodes: the rows too steep for the learning rate
  gradsheet book collab_filter.xlsx --sheet dotprod --run 100  the sheet's Excel Solver problem: 100 L-BFGS iterations on the exact gradient
  gradsheet book mine.xlsx --run 100 --copy basic!D32=basic!C2 --copy basic!C32=basic!C1 --watch basic!F33   a loop without a macro")]
pub struct Args {
    /// The workbook (.xlsx, .xlsm or .ods).
    pub file: PathBuf,
    /// A cell to differentiate, as Excel writes it: Sheet!A1, or 'Sheet name'!A1.
    #[arg(long, value_name = "CELL")]
    pub grad: Option<String>,
    /// Run the sheet's loop this many epochs (its Run button): the --sheet's own VBA macro
    /// (its loop body once per epoch), or, given --copy, copy each FROM's values to TO and
    /// recalculate; print what changes and the --watch cells.
    #[arg(long, value_name = "EPOCHS")]
    pub run: Option<usize>,
    /// The sheet whose loop --run plays: its Run macro, or its Excel Solver problem.
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,
    /// Press the sheet's Reset button (its `reset` macro) before --run.
    #[arg(long, requires = "sheet")]
    pub reset: bool,
    /// On a Solver sheet, Adam at this learning rate instead of L-BFGS.
    #[arg(
        long,
        value_name = "LR",
        requires = "sheet",
        allow_negative_numbers = true
    )]
    pub adam: Option<f64>,
    /// Explain the --sheet's rows: which are too steep for the learning rate the sheet
    /// applies there (lr·λ past 2: every step overshoots), and which parameters a row
    /// cannot move (a ReLU that is off). With --run: at the epoch the run explodes, or
    /// after its last.
    #[arg(long, requires = "sheet")]
    pub explain: bool,
    /// What the loop copies back each epoch, FROM=TO, e.g. basic!D32=basic!C2 (repeatable).
    #[arg(long, value_name = "FROM=TO")]
    pub copy: Vec<String>,
    /// A cell to print each epoch of --run, e.g. basic!F33 (repeatable).
    #[arg(long, value_name = "CELL")]
    pub watch: Vec<String>,
    /// Write the workbook again with, beside each typed derivative column, the exact
    /// derivative as live formulas in the sheet's own cells, and a sheet of the verdicts
    /// (an .xlsx: formatting, charts and macros are not carried over).
    #[arg(long, value_name = "OUT")]
    pub xlsx: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// How many cells that differ or are not recalculated to list (text output).
    #[arg(long, default_value_t = 10)]
    pub list: usize,
}

/// Runs the command.
pub fn run(a: Args) -> Result<()> {
    let bytes = read_bounded(&a.file)?;
    let book = Book::open(&bytes).map_err(|e| usage(format!("{}: {e}", a.file.display())))?;
    if let Some(epochs) = a.run {
        return run_loop(&book, &a, epochs);
    }
    if let (true, Some(sheet)) = (a.explain, &a.sheet) {
        let x = book.explain_sheet(sheet, &[]).map_err(usage)?;
        return print_explanation(&x, "as the sheet was saved", None, a.json);
    }
    if let Some(cell) = &a.grad {
        let g = book.gradient(cell).map_err(usage)?;
        if a.json {
            let ds: serde_json::Map<String, serde_json::Value> = g
                .derivatives
                .iter()
                .map(|(c, v)| (c.clone(), super::diff::json_num(*v)))
                .collect();
            let out = serde_json::json!({"cell": g.cell, "value": super::diff::json_num(g.value), "derivatives": ds});
            println!("{}", serde_json::to_string_pretty(&out)?);
            return Ok(());
        }
        println!("{} = {}", g.cell, gradsheet_engine::format_number(g.value));
        println!(
            "exact derivatives with respect to the {} numbers it depends on (reverse mode through every cell between):",
            g.derivatives.len()
        );
        let rows: Vec<Vec<String>> = g
            .derivatives
            .iter()
            .map(|(c, v)| vec![c.clone(), gradsheet_engine::format_number(*v)])
            .collect();
        print!(
            "{}",
            crate::output::table(&["input".to_string(), format!("∂{}/∂input", g.cell)], &rows)
        );
        return Ok(());
    }
    let r = book.recalculate();
    let cols = book.derivative_columns();
    let wb = book.workbook();
    if let Some(out) = &a.xlsx {
        let bytes = gradsheet_report::book::with_exact_columns(&book, &cols)
            .to_xlsx(false)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
        crate::output::write_atomic(out, &bytes)?;
        if !a.json {
            println!(
                "wrote {}: {} exact derivative columns beside the typed ones, and the sheet \"{}\"",
                out.display(),
                cols.len(),
                gradsheet_report::book::VERDICTS
            );
        }
    }
    // `--sheet NAME` alone: that sheet's part of the summary.
    let (r, cols, loops, inputs) = {
        let (mut r, mut cols, mut loops) = (r, cols, book.loops());
        let mut inputs = book.inputs().len();
        if let Some(name) = &a.sheet {
            let s = book.sheet_index(name).map_err(usage)?;
            let name = &wb.sheets[s].name;
            let on = |addr: &str| {
                addr.rsplit_once('!')
                    .is_some_and(|(x, _)| x.trim_matches('\'').replace("''", "'") == *name)
            };
            r.differ.retain(|d| on(&d.cell));
            r.skipped.retain(|d| on(&d.cell));
            r.formula_cells = wb.sheets[s]
                .cells
                .iter()
                .filter(|c| c.formula.is_some() || book.in_array(s, c.row, c.col))
                .count();
            r.agree = r
                .formula_cells
                .saturating_sub(r.differ.len() + r.skipped.len());
            cols.retain(|c| c.sheet == *name);
            loops.retain(|l| l.sheet == *name);
            inputs = book.inputs().iter().filter(|k| k.0 == s).count();
        }
        (r, cols, loops, inputs)
    };
    if a.json {
        let out = serde_json::json!({
            "sheets": wb.sheets.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
            "macros": wb.has_macros,
            "inputs": inputs,
            "recalculation": {
                "formula_cells": r.formula_cells,
                "agree": r.agree,
                "differ": r.differ.iter().map(|d| serde_json::json!({
                    "cell": d.cell,
                    "cached": super::diff::json_num(d.cached),
                    "computed": super::diff::json_num(d.computed),
                })).collect::<Vec<_>>(),
                "not_recalculated": r.skipped.iter().map(|s| serde_json::json!({
                    "cell": s.cell, "reason": s.reason,
                })).collect::<Vec<_>>(),
            },
            "loops": loops.iter().map(|l| serde_json::json!({
                "sheet": l.sheet,
                "source": l.source,
                "what": l.what,
                "copies": l.copies,
                "unknown": l.unknown.iter().map(|u| serde_json::json!({
                    "module": u.module, "line": u.line, "text": u.text,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "derivative_columns": cols.iter().map(|c| serde_json::json!({
                "sheet": c.sheet,
                "range": c.range,
                "header": c.header,
                "of": c.of,
                "wrt": c.wrt,
                "verdict": c.verdict,
                "h": c.h,
                "max_abs_error": super::diff::json_num(c.max_abs_error),
                "note": c.note,
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("{}", a.file.display());
    for s in wb.sheets.iter().filter(|s| {
        a.sheet
            .as_ref()
            .is_none_or(|n| s.name.eq_ignore_ascii_case(n))
    }) {
        let formulas = s.cells.iter().filter(|c| c.formula.is_some()).count();
        println!(
            "  sheet {:?}: {} cells, {formulas} formulas",
            s.name,
            s.cells.len()
        );
    }
    for l in &loops {
        let what = if l.source == "macro" {
            format!("Run macro {} copies {}", l.what, l.copies.join(", "))
        } else {
            format!("Excel Solver: {}, changing {}", l.what, l.copies.join(", "))
        };
        println!("  loop of {:?}: {what}", l.sheet);
        for u in &l.unknown {
            println!("    not replayed: {} line {}: {}", u.module, u.line, u.text);
        }
    }
    println!("  inputs: {inputs} numbers typed in that the formulas read");
    println!();
    let width = crate::output::term::width();
    let recalc = format!(
        "recalculation: {} formula cells; {} recalculate to the value {} saved, {} differ, {} not recalculated",
        r.formula_cells,
        r.agree,
        if wb.saved_digits.is_some() { "the .ods" } else { "Excel" },
        r.differ.len(),
        r.skipped.len()
    );
    println!(
        "{}",
        crate::output::term::wrap_with(&recalc, width, "", "  ")
    );
    if let Some(d) = wb.saved_digits {
        let note = format!(
            "(an .ods keeps its values in {d} digits, as the program that saved it computed them: \
             they agree when equal to those digits)"
        );
        println!(
            "{}",
            crate::output::term::wrap_with(&note, width, "  ", "  ")
        );
    }
    for d in r.differ.iter().take(a.list) {
        println!(
            "  differs  {}: saved {}, computed {}",
            d.cell,
            gradsheet_engine::format_number(d.cached),
            gradsheet_engine::format_number(d.computed)
        );
    }
    for s in r.skipped.iter().take(a.list) {
        println!("  not recalculated  {}: {}", s.cell, s.reason);
    }
    let more = r.differ.len().saturating_sub(a.list) + r.skipped.len().saturating_sub(a.list);
    if more > 0 {
        println!("  … {more} more (--list N, or --json for all)");
    }
    if !cols.is_empty() {
        println!();
        println!("typed derivative columns:");
    }
    for c in &cols {
        let verdict = match c.h {
            Some(h) => format!("{} (h = {h})", c.verdict),
            None => c.verdict.to_string(),
        };
        println!("  {}!{} {:?}: {verdict}", c.sheet, c.range, c.header);
        println!(
            "{}",
            crate::output::term::wrap_with(
                &c.note,
                crate::output::term::width(),
                "      ",
                "      "
            )
        );
    }
    Ok(())
}

/// The most epochs `--run` plays.
const MAX_EPOCHS: usize = 10_000_000;

/// `--run`: the loop, one line (or JSON object) per epoch, streamed.
fn run_loop(book: &Book, a: &Args, epochs: usize) -> Result<()> {
    if epochs > MAX_EPOCHS {
        return Err(usage(format!(
            "--run {epochs}: at most {MAX_EPOCHS} epochs"
        )));
    }
    let copies: Vec<(String, String)> = a
        .copy
        .iter()
        .map(|c| {
            c.split_once('=')
                .map(|(f, t)| (f.trim().to_string(), t.trim().to_string()))
                .ok_or_else(|| {
                    usage(format!(
                        "--copy {c}: write FROM=TO, e.g. basic!D32=basic!C2"
                    ))
                })
        })
        .collect::<Result<_>>()?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    use std::io::Write;
    let mut failed = None;
    // For --explain: the state before the first epoch whose numbers explode, or the last.
    let mut watch = gradsheet_book::explain::RunWatch::default();
    let mut visit = |e: &gradsheet_book::Epoch| {
        if a.explain {
            watch.see(e);
        }
        if failed.is_some() {
            return;
        }
        let line = if a.json {
            let mut m = serde_json::Map::new();
            m.insert("epoch".into(), e.epoch.into());
            for (c, v) in e.copied.iter().chain(&e.watched) {
                m.insert(c.clone(), super::diff::json_num(*v));
            }
            serde_json::Value::Object(m).to_string()
        } else {
            let cells: Vec<String> = e
                .copied
                .iter()
                .chain(&e.watched)
                .map(|(c, v)| format!("{c} = {}", gradsheet_engine::format_number(*v)))
                .collect();
            format!("epoch {}: {}", e.epoch, cells.join(", "))
        };
        if let Err(err) = writeln!(out, "{line}") {
            failed = Some(err);
        }
    };
    // A sheet whose loop is Excel Solver's: solved, one row an iteration.
    if let (Some(sheet), true) = (&a.sheet, copies.is_empty()) {
        let s = book.sheet_index(sheet).map_err(usage)?;
        if book.solver(s).is_some()
            && !book
                .loops()
                .iter()
                .any(|l| l.sheet == book.workbook().sheets[s].name && l.source == "macro")
        {
            return solve(book, a, s, epochs);
        }
    }
    match (&a.sheet, copies.is_empty()) {
        (Some(sheet), true) => book
            .run_macro(sheet, epochs, a.reset, &a.watch, &mut visit)
            .map_err(usage)?,
        (_, false) => book.run(&copies, &a.watch, epochs, &mut visit).map_err(usage)?,
        (None, true) => {
            return Err(usage(
                "--run needs --sheet NAME (to play that sheet's Run macro) or --copy FROM=TO (what the loop copies back)",
            ))
        }
    }
    if let Some(e) = failed {
        return Err(e.into());
    }
    out.flush()?;
    drop(out);
    if let (true, Some(sheet)) = (a.explain, &a.sheet) {
        let x = book.explain_run(sheet, &watch).map_err(usage)?;
        print_explanation(&x, &watch.when(), watch.exploded_at(), a.json)?;
    }
    Ok(())
}

/// `--run N` on a Solver sheet: N iterations, a row each, then the changing cells.
fn solve(book: &Book, a: &Args, s: usize, iterations: usize) -> Result<()> {
    use std::io::Write;
    let method = match a.adam {
        Some(lr) if lr > 0.0 && lr.is_finite() => gradsheet_book::solver::Method::Adam(lr),
        Some(lr) => {
            return Err(usage(format!(
                "--adam {lr}: the learning rate is a positive number"
            )))
        }
        None => gradsheet_book::solver::Method::Lbfgs,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut failed = None;
    let json = a.json;
    let solved = book
        .solve(s, iterations, method, |st| {
            let line = if json {
                serde_json::json!({
                    "iteration": st.iteration,
                    "objective": super::diff::json_num(st.objective),
                    "gradient_max": super::diff::json_num(st.gradient_max),
                })
                .to_string()
            } else {
                format!(
                    "iteration {}: {} (largest |∂/∂changing cell| {})",
                    st.iteration,
                    gradsheet_engine::format_number(st.objective),
                    gradsheet_engine::format_sig(st.gradient_max, 4)
                )
            };
            if failed.is_none() {
                if let Err(e) = writeln!(out, "{line}") {
                    failed = Some(e);
                }
            }
        })
        .map_err(usage)?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    let sv = &solved.solver;
    if json {
        let cells: serde_json::Map<String, serde_json::Value> = solved
            .changing
            .iter()
            .map(|(c, v)| (c.clone(), super::diff::json_num(*v)))
            .collect();
        writeln!(
            out,
            "{}",
            serde_json::json!({"solved": {
                "objective": sv.objective_text,
                "saved": sv.saved.map(super::diff::json_num),
                "method": match method { gradsheet_book::solver::Method::Lbfgs => "lbfgs", gradsheet_book::solver::Method::Adam(_) => "adam" },
                "evaluations": solved.evaluations,
                "changing": cells,
            }})
        )?;
    } else {
        writeln!(
            out,
            "{} changing cells ({}), {} evaluations of the workbook with its exact gradient{}",
            solved.changing.len(),
            sv.changing_text,
            solved.evaluations,
            sv.saved
                .map(|v| format!(
                    "; the workbook saved {} = {}",
                    sv.objective_text,
                    gradsheet_engine::format_number(v)
                ))
                .unwrap_or_default()
        )?;
        for (c, v) in solved.changing.iter().take(8) {
            writeln!(out, "  {c} = {}", gradsheet_engine::format_number(*v))?;
        }
        if solved.changing.len() > 8 {
            writeln!(
                out,
                "  … {} more (--json for all)",
                solved.changing.len() - 8
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

/// `--explain`'s answer, `when` it was taken (`as the sheet was saved`, `after epoch 9`).
fn print_explanation(
    x: &gradsheet_book::explain::SheetExplanation,
    when: &str,
    exploded_at: Option<usize>,
    json: bool,
) -> Result<()> {
    if json {
        let out = serde_json::json!({"explanation": {
            "sheet": x.sheet,
            "when": when,
            "exploded_at": exploded_at,
            "findings": x.findings,
            "rows": x.rows,
            "steepest": x.steepest.as_ref().map(|(r, v, _)| serde_json::json!({"row": r, "lr_lambda": super::diff::json_num(*v)})),
            "steep_rows": x.steep.iter().map(|w| serde_json::json!({
                "row": w.row,
                "lr_lambda": super::diff::json_num(w.lr_lambda),
                "data": w.data.iter().map(|(c, v)| (c.clone(), super::diff::json_num(*v))).collect::<serde_json::Map<_, _>>(),
                "rates": w.rates.iter().map(|(c, v)| (c.clone(), super::diff::json_num(*v))).collect::<serde_json::Map<_, _>>(),
            })).collect::<Vec<_>>(),
            "flat": x.flat.iter().map(|(c, k)| serde_json::json!({"column": c, "rows": k})).collect::<Vec<_>>(),
            "collapse": x.collapse.as_ref().map(|(k, cols, r)| serde_json::json!({"parameters": k, "columns": cols, "independent": r})),
        }});
        println!("{out}");
        return Ok(());
    }
    println!();
    println!("'{}', {when}:", x.sheet);
    let width = crate::output::term::width();
    for f in &x.findings {
        println!("{}", crate::output::term::wrap_with(f, width, "  ", "  "));
    }
    Ok(())
}

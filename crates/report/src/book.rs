//! A learner's workbook written back with, beside each derivative column he typed, a
//! column of the exact derivative as live formulas in the sheet's own cells, and a sheet
//! of the verdicts — what `gradsheet book FILE --xlsx OUT` writes.
//!
//! The workbook is rewritten from what was read: every sheet's numbers, text and
//! formulas (with the values Excel saved), array formulas over their ranges, its defined
//! names. Formatting, charts and macros are not carried over (the output is an .xlsx); a
//! formula gradsheet cannot write back as a formula (a structured table reference)
//! keeps its saved value, as a number.

use gradsheet_book::{cell_name, Book, ColumnVerdict, Value};

use crate::labs::{Book as Out, Cell, Sheet};

/// The name of the sheet of verdicts.
pub const VERDICTS: &str = "gradsheet verdicts";

/// `book` with an exact column beside each of `verdicts`' typed columns (placed right
/// of its sheet's last used column, headed on the typed column's header row) and the
/// verdicts' sheet.
pub fn with_exact_columns(book: &Book, verdicts: &[ColumnVerdict]) -> Out {
    let wb = book.workbook();
    let mut sheets: Vec<Sheet> = Vec::with_capacity(wb.sheets.len() + 1);
    for (s, sh) in wb.sheets.iter().enumerate() {
        let mut cells: Vec<(u32, u16, Cell)> = Vec::with_capacity(sh.cells.len());
        // The array formulas written back as array formulas: at their first cell, over
        // their range, the writer filling the rest (a structured reference cannot be
        // written back, so such an array keeps its values).
        let arrays: Vec<((u32, u32), (u32, u32))> = sh
            .cells
            .iter()
            .filter(|c| c.formula.as_deref().is_some_and(|f| !f.contains('[')))
            .filter_map(|c| book.array_range(s, c.row, c.col))
            .collect();
        let written = |r: u32, c: u32| {
            arrays
                .iter()
                .any(|(a, b)| (a.0..=b.0).contains(&r) && (a.1..=b.1).contains(&c))
        };
        for c in &sh.cells {
            let Ok(col) = u16::try_from(c.col) else {
                continue;
            };
            let array = book.array_range(s, c.row, c.col);
            let cell = match (&c.formula, &c.value) {
                (Some(f), Value::Num(v)) if !f.contains('[') && array.is_some() => {
                    let (_, (r1, c1)) = array.unwrap_or_default();
                    let Ok(c1) = u16::try_from(c1) else { continue };
                    Cell::Array(format!("={f}"), r1, c1, *v)
                }
                _ if written(c.row, c.col) => continue,
                (Some(f), Value::Num(v)) if !f.contains('[') && !book.in_array(s, c.row, c.col) => {
                    Cell::Formula(format!("={f}"), *v)
                }
                (_, Value::Num(v)) => Cell::Num(*v),
                (_, Value::Bool(b)) => Cell::Num(f64::from(u8::from(*b))),
                (_, Value::Text(t)) => Cell::Text(t.clone()),
                (_, Value::Error(e)) => Cell::Text(e.clone()),
                (_, Value::Empty) => continue,
            };
            cells.push((c.row, col, cell));
        }
        sheets.push(Sheet {
            name: sh.name.clone(),
            cells,
        });
    }
    let mut table: Vec<(u32, u16, Cell)> = Vec::new();
    let heads = [
        "sheet",
        "typed column",
        "header",
        "derivative of",
        "with respect to",
        "verdict",
        "h",
        "largest |typed − exact|",
        "note",
        "exact column",
    ];
    for (c, h) in heads.iter().enumerate() {
        table.push((0, c as u16, Cell::Text(h.to_string())));
    }
    for (i, v) in verdicts.iter().enumerate() {
        let Some(s) = wb.sheets.iter().position(|x| x.name == v.sheet) else {
            continue;
        };
        // Right of everything on the sheet, one column per judged column.
        let right = sheets[s].cells.iter().map(|c| c.1).max().unwrap_or(0);
        let col = right.saturating_add(2);
        let exact = book.exact_column(v);
        let first = exact.first().map_or(1, |e| e.row);
        sheets[s].cells.push((
            first.saturating_sub(1),
            col,
            Cell::Text(format!(
                "exact ∂{}/∂{} ({}: {})",
                v.of, v.wrt, v.header, v.verdict
            )),
        ));
        for e in &exact {
            let cell = match &e.formula {
                Some(f) => Cell::Formula(format!("={f}"), e.value),
                None => Cell::Num(e.value),
            };
            sheets[s].cells.push((e.row, col, cell));
        }
        let r = i as u32 + 1;
        let last = exact.last().map_or(first, |e| e.row);
        let row = [
            Cell::Text(v.sheet.clone()),
            Cell::Text(v.range.clone()),
            Cell::Text(v.header.clone()),
            Cell::Text(v.of.clone()),
            Cell::Text(v.wrt.clone()),
            Cell::Text(v.verdict.to_string()),
            v.h.map_or(Cell::Text(String::new()), Cell::Num),
            Cell::Num(v.max_abs_error),
            Cell::Text(v.note.clone()),
            Cell::Text(format!(
                "{}:{}",
                cell_name(first, u32::from(col)),
                cell_name(last, u32::from(col))
            )),
        ];
        for (c, cell) in row.into_iter().enumerate() {
            table.push((r, c as u16, cell));
        }
    }
    sheets.push(Sheet {
        name: VERDICTS.to_string(),
        cells: table,
    });
    let mut out = Out::new("book", sheets);
    // Names of cells and ranges (a name of a formula or an error is left out). A name
    // several sheets define is each sheet's own (`'momentum'!lr`), as in the original.
    let names: Vec<&(String, String)> = wb
        .names
        .iter()
        .filter(|(n, t)| !n.starts_with('_') && t.contains('!') && !t.contains("#REF"))
        .collect();
    for (n, t) in &names {
        let t = t.trim_start_matches('=');
        let shared = names
            .iter()
            .filter(|(m, _)| m.eq_ignore_ascii_case(n))
            .count()
            > 1;
        let name = match t.rsplit_once('!') {
            Some((sheet, _)) if shared => format!("{sheet}!{n}"),
            _ => n.clone(),
        };
        if !out.names.iter().any(|(m, _)| m.eq_ignore_ascii_case(&name)) {
            out.names.push((name, format!("={t}")));
        }
    }
    out
}

//! An OpenDocument spreadsheet (.ods, LibreOffice's own format) read into the same
//! [`Workbook`] an .xlsx gives: calamine reads its cells and formulas; the formulas,
//! written in OpenFormula (`of:=[.C4]+[.D4]*[.A4]`, `SUM([.F4:.F32])`,
//! `[$basic.$F$1]`, `;` between arguments), are rewritten as Excel writes them, and its
//! named ranges are read from `content.xml`.
//!
//! calamine holds an .ods's sheets in memory once opened (it has no cell-by-cell reader
//! for them); the container was checked first (see [`crate::read::check_container`]), so
//! that memory is bounded by [`crate::read::MAX_UNPACKED`].

use std::io::Read as _;

use calamine::{Data, Reader};
use quick_xml::events::Event;

use crate::read::{Cell, Sheet, Value, Workbook, MAX_CELLS, MAX_FORMULA_CHARS};
use crate::BookError;

/// The `mimetype` part of a spreadsheet in OpenDocument format.
const MIMETYPE: &[u8] = b"application/vnd.oasis.opendocument.spreadsheet";

/// Whether the zip `bytes` hold an OpenDocument spreadsheet (its `mimetype` part says so).
pub fn is_ods(bytes: &[u8]) -> bool {
    let Ok(mut zip) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else {
        return false;
    };
    let Ok(f) = zip.by_name("mimetype") else {
        return false;
    };
    let mut head = Vec::with_capacity(64);
    f.take(MIMETYPE.len() as u64 + 8)
        .read_to_end(&mut head)
        .is_ok()
        && head.starts_with(MIMETYPE)
}

/// Reads an .ods whose container has been checked.
///
/// # Errors
///
/// [`BookError::Read`] when calamine cannot read it; [`BookError::TooLarge`] past
/// [`MAX_CELLS`] cells or a formula past [`MAX_FORMULA_CHARS`] characters.
pub fn read(bytes: &[u8]) -> Result<Workbook, BookError> {
    let mut o: calamine::Ods<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes))
        .map_err(|e| BookError::Read(format!("not an .ods spreadsheet: {e}")))?;
    let mut sheets = Vec::new();
    let mut total = 0usize;
    for name in o.sheet_names() {
        let unreadable =
            |e: &dyn std::fmt::Display| BookError::Read(format!("cannot read sheet '{name}': {e}"));
        let values = o.worksheet_range(&name).map_err(|e| unreadable(&e))?;
        let formulas = o.worksheet_formula(&name).map_err(|e| unreadable(&e))?;
        let (vr, vc) = values.start().unwrap_or((0, 0));
        let (fr, fc) = formulas.start().unwrap_or((0, 0));
        let mut cells: Vec<Cell> = values
            .used_cells()
            .map(|(r, c, d)| Cell {
                row: vr + r as u32,
                col: vc + c as u32,
                value: value(d),
                formula: None,
            })
            .filter(|c| c.value != Value::Empty)
            .collect();
        let mut at: std::collections::HashMap<(u32, u32), usize> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| ((c.row, c.col), i))
            .collect();
        for (r, c, f) in formulas.used_cells() {
            if f.is_empty() {
                continue;
            }
            let (row, col) = (fr + r as u32, fc + c as u32);
            if f.chars().count() > MAX_FORMULA_CHARS {
                return Err(BookError::TooLarge(format!(
                    "'{name}'!{}: a formula of {} characters, past Excel's {MAX_FORMULA_CHARS}",
                    crate::cell_name(row, col),
                    f.chars().count()
                )));
            }
            let formula = Some(to_excel(f));
            match at.get(&(row, col)) {
                Some(&i) => cells[i].formula = formula,
                None => {
                    at.insert((row, col), cells.len());
                    cells.push(Cell {
                        row,
                        col,
                        value: Value::Empty,
                        formula,
                    });
                }
            }
        }
        total += cells.len();
        if total > MAX_CELLS {
            return Err(BookError::TooLarge(format!(
                "more than {MAX_CELLS} cells (the most gradsheet reads from a workbook)"
            )));
        }
        // Row by row, as the other reader gives them.
        cells.sort_by_key(|c| (c.row, c.col));
        sheets.push(Sheet { name, cells });
    }
    Ok(Workbook {
        sheets,
        names: named_ranges(bytes),
        has_macros: false,
        saved_digits: Some(15),
    })
}

fn value(d: &Data) -> Value {
    match d {
        Data::Int(i) => Value::Num(*i as f64),
        Data::Float(f) => Value::Num(*f),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Value::Text(s.clone()),
        Data::Bool(b) => Value::Bool(*b),
        Data::DateTime(d) => Value::Num(d.as_f64()),
        Data::Error(e) => Value::Error(format!("{e:?}")),
        Data::Empty => Value::Empty,
    }
}

/// The named ranges of `content.xml` (`lr` → `basic!$F$1`), as an .xlsx's defined
/// names read. Names of expressions (not ranges) are left out.
fn named_ranges(bytes: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(mut zip) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else {
        return out;
    };
    let Ok(f) = zip.by_name("content.xml") else {
        return out;
    };
    let mut r = quick_xml::Reader::from_reader(std::io::BufReader::new(f));
    let mut buf = Vec::new();
    loop {
        match r.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) if e.name().as_ref() == "table:named-range" => {
                let get = |k: &str| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == k)
                        .map(|a| crate::structure::unescape(&a.value))
                };
                if let (Some(n), Some(range)) = (get("table:name"), get("table:cell-range-address"))
                {
                    let target = reference(&range);
                    if target.contains('!') {
                        out.push((n, target));
                    }
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        buf.clear();
    }
    out
}

/// An OpenFormula formula as Excel writes it, without its `=`: `of:=[.C4]+[.D4]*[.A4]`
/// → `C4+D4*A4`, `SUM([.F4:.F32])` → `SUM(F4:F32)`, `[$basic.$F$1]` → `basic!$F$1`,
/// `;` between arguments → `,`, `COM.MICROSOFT.CEILING.MATH` → `CEILING.MATH`.
pub fn to_excel(f: &str) -> String {
    let f = f.strip_prefix("of:").unwrap_or(f);
    let f = f.strip_prefix('=').unwrap_or(f);
    let cs: Vec<char> = f.chars().collect();
    let mut out = String::with_capacity(f.len());
    let mut i = 0;
    while i < cs.len() {
        match cs[i] {
            '"' => {
                // A string, with "" for a quote inside it.
                out.push('"');
                i += 1;
                while i < cs.len() {
                    out.push(cs[i]);
                    if cs[i] == '"' {
                        if cs.get(i + 1) == Some(&'"') {
                            out.push('"');
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            '[' => {
                // A reference, up to its `]` (a quoted sheet name may hold one).
                let mut j = i + 1;
                let mut quoted = false;
                while j < cs.len() && (quoted || cs[j] != ']') {
                    if cs[j] == '\'' {
                        quoted = !quoted;
                    }
                    j += 1;
                }
                let inner: String = cs[i + 1..j.min(cs.len())].iter().collect();
                out.push_str(&reference(&inner));
                i = j + 1;
            }
            ';' => {
                out.push(',');
                i += 1;
            }
            _ => {
                let rest: String = cs[i..].iter().take(14).collect();
                if rest.eq_ignore_ascii_case("COM.MICROSOFT.") {
                    i += 14;
                } else {
                    out.push(cs[i]);
                    i += 1;
                }
            }
        }
    }
    out
}

/// The inside of an OpenFormula reference as Excel writes it: `.C4` → `C4`,
/// `$basic.$F$1` → `basic!$F$1`, `.F4:.F32` → `F4:F32`, `'my sheet'.A1` →
/// `'my sheet'!A1`.
fn reference(r: &str) -> String {
    // The parts either side of a `:` outside quotes.
    let mut parts = Vec::new();
    let (mut quoted, mut start) = (false, 0);
    for (k, ch) in r.char_indices() {
        match ch {
            '\'' => quoted = !quoted,
            ':' if !quoted => {
                parts.push(&r[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    parts.push(&r[start..]);
    let split = |p: &str| -> (Option<String>, String) {
        // The sheet is everything before the last `.` outside quotes.
        let mut quoted = false;
        let mut dot = None;
        for (k, ch) in p.char_indices() {
            match ch {
                '\'' => quoted = !quoted,
                '.' if !quoted => dot = Some(k),
                _ => {}
            }
        }
        match dot {
            Some(0) => (None, p[1..].to_string()),
            Some(d) => {
                let sheet = p[..d].trim_start_matches('$');
                let sheet = if sheet.starts_with('\'')
                    || sheet.chars().all(|c| c.is_alphanumeric() || c == '_')
                {
                    sheet.to_string()
                } else {
                    format!("'{}'", sheet.replace('\'', "''"))
                };
                (Some(sheet), p[d + 1..].to_string())
            }
            None => (None, p.to_string()),
        }
    };
    let mut out = String::new();
    let mut first_sheet = None;
    for (n, p) in parts.iter().enumerate() {
        let (sheet, cell) = split(p);
        if n == 0 {
            if let Some(s) = &sheet {
                out.push_str(s);
                out.push('!');
            }
            first_sheet = sheet;
        } else {
            out.push(':');
            // A range over sheets (`Sheet1.A1:Sheet2.A1`) is kept for the translation
            // to name as unsupported.
            if sheet.is_some() && sheet != first_sheet {
                out.push_str(&sheet.unwrap_or_default());
                out.push('!');
            }
        }
        out.push_str(&cell);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::to_excel;

    #[test]
    fn openformula_reads_as_excel_writes_it() {
        for (of, xl) in [
            ("of:=[.C4]+[.D4]*[.A4]", "C4+D4*A4"),
            ("of:=SQRT(SUM([.F4:.F32]))", "SQRT(SUM(F4:F32))"),
            ("of:=[.$C$1]+[.B5]*[.$C$2]", "$C$1+B5*$C$2"),
            ("of:=RANDBETWEEN(1;100)", "RANDBETWEEN(1,100)"),
            ("of:=[$basic.$F$1]*2", "basic!$F$1*2"),
            ("of:=SUM(['my sheet'.A1:.B2])", "SUM('my sheet'!A1:B2)"),
            ("of:=[$'it''s'.A1]", "'it''s'!A1"),
            ("of:=IF([.H2]=\"a;b\";1;2)", "IF(H2=\"a;b\",1,2)"),
            (
                "of:=COM.MICROSOFT.CEILING.MATH(([.A4]-3)/10)",
                "CEILING.MATH((A4-3)/10)",
            ),
            ("of:=[$Sheet 1.A1]", "'Sheet 1'!A1"),
        ] {
            assert_eq!(to_excel(of), xl, "{of}");
        }
    }
}

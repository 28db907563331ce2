//! What a workbook's cells do not say about themselves and calamine's cell reader does not
//! give: its tables (Excel's structured references, `Table13[[#This Row],[Age]]`, name
//! their columns) and the ranges of its array formulas (`{=MMULT(G4:P715,S4:T13)}` filling
//! V4:W715 is written once, at V4, with the range it fills).
//!
//! Tables come from calamine; array ranges from the worksheets' XML itself (the `ref` of
//! each `<f t="array">`), read as a stream, element by element.

use std::io::{Cursor, Read};

use calamine::Xlsx;
use quick_xml::events::Event;

/// A cell, (row, column), 0-based.
pub type Pos = (u32, u32);
/// A block of cells: top-left and bottom-right.
pub type Area = (Pos, Pos);

/// An Excel table: its columns over a block of rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Its name (`Table13`), as formulas write it.
    pub name: String,
    /// The sheet it is on.
    pub sheet: String,
    /// The first and last data rows (0-based), below the header row.
    pub rows: (u32, u32),
    /// The first column (0-based).
    pub first_col: u32,
    /// The columns' names, left to right.
    pub columns: Vec<String>,
}

/// An array formula: the range it fills, anchored at its top-left cell.
#[derive(Clone, Debug, PartialEq)]
pub struct ArrayFormula {
    /// The sheet it is on.
    pub sheet: String,
    /// Top-left and bottom-right cells, (row, column), 0-based.
    pub range: ((u32, u32), (u32, u32)),
}

/// The tables of a workbook (none when it cannot be read for them: a workbook without
/// tables reads as it did).
pub fn tables(bytes: &[u8]) -> Vec<Table> {
    let Ok(mut x) = calamine::open_workbook_from_rs::<Xlsx<_>, _>(Cursor::new(bytes)) else {
        return Vec::new();
    };
    if x.load_tables().is_err() {
        return Vec::new();
    }
    let names: Vec<String> = x.table_names().into_iter().cloned().collect();
    let mut out = Vec::new();
    for name in names {
        let Ok(t) = x.table_by_name(&name) else {
            continue;
        };
        let data = t.data();
        let (Some(start), Some(end)) = (data.start(), data.end()) else {
            continue;
        };
        out.push(Table {
            name: t.name().to_string(),
            sheet: t.sheet_name().to_string(),
            rows: (start.0, end.0),
            first_col: start.1,
            columns: t.columns().to_vec(),
        });
    }
    out
}

/// `B9:E9` → ((8, 1), (8, 4)); one cell `B9` is a range of one.
fn parse_ref(r: &str) -> Option<Area> {
    let (a, b) = r.split_once(':').unwrap_or((r, r));
    Some((crate::parse_a1(a)?, crate::parse_a1(b)?))
}

/// The most bytes of one worksheet's XML scanned for array formulas.
const MAX_SHEET_XML: u64 = 512 << 20;

/// A formula cell whose formula calamine gives wrongly, with the right one.
///
/// A shared formula is written once, at its master cell, with the range it covers; the
/// other cells say only "shared formula N". Its references are relative to the master
/// cell, which need not be the range's top-left: graddesc.xlsm (2016) writes
/// `K4*$J$1+$K$1*G5` at K5 for the range J5:K20, and J6 is then `J5*$J$1+$K$1*F6`.
/// calamine shifts from the range's corner instead, so each such group's cells are
/// given again here, shifted from the master.
#[derive(Clone, Debug, PartialEq)]
pub struct Corrected {
    /// The sheet.
    pub sheet: String,
    /// The cell, (row, column), 0-based.
    pub cell: (u32, u32),
    /// Its formula (without `=`).
    pub formula: String,
}

/// What the worksheets' XML says that calamine does not: the ranges of array formulas,
/// and the shared formulas whose master is not their range's corner.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scan {
    /// Array formulas filling more than one cell.
    pub arrays: Vec<ArrayFormula>,
    /// Cells of shared formulas calamine shifts from the wrong cell.
    pub corrected: Vec<Corrected>,
}

/// The array formulas of a workbook that fill more than one cell.
pub fn array_formulas(bytes: &[u8]) -> Vec<ArrayFormula> {
    scan(bytes).arrays
}

/// Reads the worksheets' XML for [`Scan`].
pub fn scan(bytes: &[u8]) -> Scan {
    let mut out = Scan::default();
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return out;
    };
    let read = |zip: &mut zip::ZipArchive<Cursor<&[u8]>>, path: &str| -> Option<String> {
        let f = zip.by_name(path).ok()?;
        let mut s = String::new();
        f.take(MAX_SHEET_XML).read_to_string(&mut s).ok()?;
        Some(s)
    };
    // Sheet names to their parts: workbook.xml's <sheet name r:id>, its rels' Target.
    let (Some(book), Some(rels)) = (
        read(&mut zip, "xl/workbook.xml"),
        read(&mut zip, "xl/_rels/workbook.xml.rels"),
    ) else {
        return out;
    };
    let targets = attributes(&rels, "Relationship", &["Id", "Target"]);
    let sheets = attributes(&book, "sheet", &["name", "r:id"]);
    for s in sheets {
        let (name, id) = (&s[0], &s[1]);
        let Some(target) = targets.iter().find(|t| &t[0] == id).map(|t| &t[1]) else {
            continue;
        };
        let path = match target.strip_prefix('/') {
            Some(abs) => abs.to_string(),
            None => format!("xl/{target}"),
        };
        let Some(xml) = read(&mut zip, &path) else {
            continue;
        };
        let mut r = quick_xml::Reader::from_str(&xml);
        // The cell being read, and the shared groups: index → (master, text, range),
        // and the cells that use each.
        let mut cell: Option<(u32, u32)> = None;
        let mut masters: Vec<(String, Pos, String, Area)> = Vec::new();
        let mut users: Vec<(String, (u32, u32))> = Vec::new();
        // An `<f>` being read: (shared index, its range).
        let mut open_f: Option<(Option<String>, Option<Area>)> = None;
        let mut text = String::new();
        loop {
            match r.read_event() {
                Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == "c" => {
                    cell = e
                        .attributes()
                        .flatten()
                        .find(|a| a.key.local_name().as_ref() == "r")
                        .and_then(|a| parse_ref(&unescape(&a.value)))
                        .map(|r| r.0);
                }
                Ok(ev @ (Event::Start(_) | Event::Empty(_))) => {
                    let (e, empty) = match &ev {
                        Event::Start(e) => (e, false),
                        Event::Empty(e) => (e, true),
                        _ => continue,
                    };
                    if e.local_name().as_ref() != "f" {
                        continue;
                    }
                    let (mut kind, mut range, mut si) = (String::new(), None, None);
                    for a in e.attributes().flatten() {
                        let v = unescape(&a.value);
                        match a.key.local_name().as_ref() {
                            "t" => kind = v,
                            "ref" => range = parse_ref(&v),
                            "si" => si = Some(v),
                            _ => {}
                        }
                    }
                    if kind == "array" {
                        if let Some(range) = range.filter(|r| r.0 != r.1) {
                            out.arrays.push(ArrayFormula {
                                sheet: name.clone(),
                                range,
                            });
                        }
                    } else if kind == "shared" {
                        match (&si, range, empty, cell) {
                            (Some(i), Some(rg), false, Some(_)) => {
                                open_f = Some((Some(i.clone()), Some(rg)));
                            }
                            (Some(i), _, _, Some(c)) => users.push((i.clone(), c)),
                            _ => {}
                        }
                    }
                }
                Ok(Event::Text(t)) if open_f.is_some() => text.push_str(&unescape(t.as_ref())),
                Ok(Event::GeneralRef(g)) if open_f.is_some() => {
                    // `&lt;` and friends arrive apart from the text around them.
                    text.push_str(&unescape(&format!("&{};", g.as_ref() as &str)));
                }
                Ok(Event::End(e)) if e.local_name().as_ref() == "f" => {
                    if let (Some((Some(i), Some(rg))), Some(c)) = (open_f.take(), cell) {
                        masters.push((i, c, std::mem::take(&mut text), rg));
                    }
                    text.clear();
                }
                Ok(Event::Eof) | Err(_) => break,
                _ => {}
            }
        }
        for (i, master, text, rg) in &masters {
            if *master == rg.0 {
                continue;
            }
            for (j, c) in &users {
                if j != i {
                    continue;
                }
                let (dr, dc) = (
                    i64::from(c.0) - i64::from(master.0),
                    i64::from(c.1) - i64::from(master.1),
                );
                if let Some(formula) = shift(text, dr, dc) {
                    out.corrected.push(Corrected {
                        sheet: name.clone(),
                        cell: *c,
                        formula,
                    });
                }
            }
        }
    }
    out
}

/// `formula` with its relative references moved by `dr` rows and `dc` columns (`$`
/// parts stay), strings, sheet names and function names untouched; `None` when a
/// reference would leave the sheet.
pub fn shift(formula: &str, dr: i64, dc: i64) -> Option<String> {
    let cs: Vec<char> = formula.chars().collect();
    let mut out = String::with_capacity(formula.len());
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if c == '"' || c == '\'' || c == '[' {
            // A string, a quoted sheet name or a structured reference: copied as is.
            let close = if c == '[' { ']' } else { c };
            let mut depth = 0;
            let start = i;
            loop {
                if i >= cs.len() {
                    break;
                }
                let ch = cs[i];
                if c == '[' && ch == '[' {
                    depth += 1;
                } else if ch == close && (c != '[' || depth == 1) && i > start {
                    i += 1;
                    break;
                } else if c == '[' && ch == ']' {
                    depth -= 1;
                }
                i += 1;
            }
            out.extend(&cs[start..i]);
            continue;
        }
        if c.is_ascii_alphabetic() || c == '$' || c == '_' {
            let start = i;
            while i < cs.len()
                && (cs[i].is_ascii_alphanumeric() || matches!(cs[i], '$' | '_' | '.'))
            {
                i += 1;
            }
            let word: String = cs[start..i].iter().collect();
            let before_paren = cs.get(i) == Some(&'(');
            let before_bang = cs.get(i) == Some(&'!');
            match (before_paren || before_bang, moved(&word, dr, dc)) {
                (false, Some(Some(m))) => out.push_str(&m),
                (false, Some(None)) => return None,
                _ => out.push_str(&word),
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
    Some(out)
}

/// `word` as an A1 reference moved (`Some(Some(..))`), off the sheet (`Some(None)`), or
/// not a reference (`None`).
fn moved(word: &str, dr: i64, dc: i64) -> Option<Option<String>> {
    let b = word.as_bytes();
    let mut k = 0;
    let col_abs = b.first() == Some(&b'$');
    if col_abs {
        k += 1;
    }
    let l0 = k;
    while k < b.len() && b[k].is_ascii_uppercase() {
        k += 1;
    }
    let letters = &word[l0..k];
    if letters.is_empty() || letters.len() > 3 {
        return None;
    }
    let row_abs = b.get(k) == Some(&b'$');
    if row_abs {
        k += 1;
    }
    let digits = &word[k..];
    if digits.is_empty() || !digits.bytes().all(|d| d.is_ascii_digit()) {
        return None;
    }
    let col = letters
        .bytes()
        .fold(0i64, |n, x| n * 26 + i64::from(x - b'A' + 1))
        - 1;
    let row: i64 = digits.parse().ok()?;
    let (col, row) = (
        if col_abs { col } else { col + dc },
        if row_abs { row } else { row + dr },
    );
    if !(0..16_384).contains(&col) || !(1..=1_048_576).contains(&row) {
        return Some(None);
    }
    let mut name = String::new();
    let mut n = col + 1;
    while n > 0 {
        let r = ((n - 1) % 26) as u8;
        name.insert(0, (b'A' + r) as char);
        n = (n - 1) / 26;
    }
    Some(Some(format!(
        "{}{name}{}{row}",
        if col_abs { "$" } else { "" },
        if row_abs { "$" } else { "" }
    )))
}

/// The values of `keys` on every element named `element` of `xml`, in order.
fn attributes(xml: &str, element: &str, keys: &[&str]) -> Vec<Vec<String>> {
    let mut r = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    loop {
        match r.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == element => {
                let mut vals = vec![String::new(); keys.len()];
                for a in e.attributes().flatten() {
                    let k: &str = a.key.as_ref();
                    if let Some(i) = keys.iter().position(|x| *x == k) {
                        vals[i] = unescape(&a.value);
                    }
                }
                out.push(vals);
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    out
}

/// The defined names of an .xlsx with their scope, which calamine's list leaves out:
/// (name, the index of the sheet it belongs to — `None` for the workbook's —, what it
/// refers to). Several sheets of one workbook each have their own `solver_typ`.
pub fn scoped_names(bytes: &[u8]) -> Vec<(String, Option<usize>, String)> {
    let mut out = Vec::new();
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return out;
    };
    let Ok(f) = zip.by_name("xl/workbook.xml") else {
        return out;
    };
    let mut xml = String::new();
    if f.take(MAX_SHEET_XML).read_to_string(&mut xml).is_err() {
        return out;
    }
    let mut r = quick_xml::Reader::from_str(&xml);
    let mut open: Option<(String, Option<usize>)> = None;
    let mut text = String::new();
    loop {
        match r.read_event() {
            Ok(Event::Start(e)) if e.local_name().as_ref() == "definedName" => {
                let (mut name, mut scope) = (String::new(), None);
                for a in e.attributes().flatten() {
                    match a.key.as_ref() {
                        "name" => name = unescape(&a.value),
                        "localSheetId" => scope = a.value.parse().ok(),
                        _ => {}
                    }
                }
                open = Some((name, scope));
                text.clear();
            }
            Ok(Event::Text(t)) if open.is_some() => text.push_str(&unescape(t.as_ref())),
            Ok(Event::GeneralRef(g)) if open.is_some() => {
                text.push_str(&unescape(&format!("&{};", g.as_ref() as &str)));
            }
            Ok(Event::End(e)) if e.local_name().as_ref() == "definedName" => {
                if let Some((n, scope)) = open.take() {
                    out.push((n, scope, text.clone()));
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    out
}

/// An attribute's text with XML's five entities replaced (`&amp;` in a sheet's name).
pub(crate) fn unescape(v: &str) -> String {
    v.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::shift;

    #[test]
    fn shared_formulas_shift_from_their_master() {
        // graddesc (2016) momentum: K5's formula, read at J6.
        assert_eq!(shift("K4*$J$1+$K$1*G5", 1, -1).unwrap(), "J5*$J$1+$K$1*F6");
        // Function names, sheet names, strings and structured references stay.
        assert_eq!(
            shift(
                "LOG10(A1)+'My Sheet'!B2+data!$C3&\"A1\"+T[[#This Row],[A1]]",
                1,
                1
            )
            .unwrap(),
            "LOG10(B2)+'My Sheet'!C3+data!$C4&\"A1\"+T[[#This Row],[A1]]"
        );
        assert_eq!(shift("SUM(A1:B2)", 2, 0).unwrap(), "SUM(A3:B4)");
        assert_eq!(shift("A1+1", -1, 0), None);
    }
}

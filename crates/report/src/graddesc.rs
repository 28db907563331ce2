//! A replay of fast.ai's graddesc sheets as a workbook in the sheets' own layout: the
//! same columns and rows (data in rows 4–32), each row's formulas as the sheet writes
//! them, and the input, carried-state and summary cells at their addresses.
//!
//! The row formulas are live; the inputs, the carried state (row 3) and the summaries
//! (row 33 and below) are written as the values the replay computed (in Excel the
//! macros type them in). Row 4 reads the parameters from `C1` and `C2`, as the sheets do.

use gradsheet_train::graddesc::SheetView;
use rust_xlsxwriter::{Color, Format, FormatBorder, Formula, Workbook};

use crate::xlsx::XlsxError;

/// `(row, col)`, 0-based, of an address such as `F33`.
fn parse_addr(addr: &str) -> Option<(u32, u16)> {
    let split = addr.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = addr.split_at(split);
    if letters.is_empty() || !letters.chars().all(|c| c.is_ascii_uppercase()) {
        return None;
    }
    let col = letters
        .bytes()
        .fold(0u32, |a, b| a * 26 + (b - b'A' + 1) as u32)
        - 1;
    let row: u32 = digits.parse().ok()?;
    Some((row.checked_sub(1)?, col as u16))
}

/// The formula of row 5 moved to another row: every relative row number shifts by
/// `offset`; `$`-anchored rows stay.
pub fn shift_rows(formula: &str, offset: i64) -> String {
    let b = formula.as_bytes();
    let mut out = String::with_capacity(formula.len() + 4);
    let mut i = 0;
    while i < b.len() {
        let starts_ref = (b[i] == b'$' || b[i].is_ascii_uppercase())
            && (i == 0
                || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_' || b[i - 1] == b'$'));
        if starts_ref {
            let mut j = i;
            if b[j] == b'$' {
                j += 1;
            }
            let l0 = j;
            while j < b.len() && b[j].is_ascii_uppercase() {
                j += 1;
            }
            let letters = j - l0;
            let abs_row = j < b.len() && b[j] == b'$';
            let d0 = if abs_row { j + 1 } else { j };
            let mut d = d0;
            while d < b.len() && b[d].is_ascii_digit() {
                d += 1;
            }
            let is_ref = (1..=3).contains(&letters)
                && d > d0
                && !(d < b.len() && (b[d] == b'(' || b[d].is_ascii_alphabetic()));
            if is_ref {
                out.push_str(&formula[i..d0]);
                let row: i64 = formula[d0..d].parse().unwrap_or(0);
                if abs_row {
                    out.push_str(&formula[d0..d]);
                } else {
                    out.push_str(&(row + offset).to_string());
                }
                i = d;
                continue;
            }
            out.push_str(&formula[i..j.max(i + 1)]);
            i = j.max(i + 1);
            continue;
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

/// A workbook of graddesc sheet views, one worksheet per view, in the sheets' layout.
///
/// # Errors
///
/// [`XlsxError::Writer`] if the xlsx writer fails (for example two views with one tab
/// name), [`XlsxError::Mismatch`] for a view whose rows do not match its columns.
///
/// # Examples
///
/// ```
/// use gradsheet_train::graddesc::{replay, Sheet, Workbook};
/// let r = replay(Workbook::Y2018, Sheet::Momentum).unwrap();
/// let bytes = gradsheet_report::graddesc::graddesc_workbook(&[&r.view], false).unwrap();
/// assert_eq!(&bytes[..2], b"PK");
/// ```
pub fn graddesc_workbook(
    views: &[&SheetView],
    zero_cached_results: bool,
) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let header = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xE8EEF7))
        .set_border_bottom(FormatBorder::Thin);
    let input = Format::new().set_background_color(Color::RGB(0xFFF4CC));
    for view in views {
        let ws = wb.add_worksheet().set_name(view.name)?;
        let first = view.first_row; // 4
        let last = first + view.rows.len() as u32 - 1;
        let mut col_of = Vec::new();
        for c in &view.columns {
            let (_, col) = parse_addr(&format!("{}1", c.letter))
                .ok_or_else(|| XlsxError::Mismatch(format!("column {}", c.letter)))?;
            col_of.push(col);
        }
        for cell in &view.cells {
            let Some((r, c)) = parse_addr(&cell.addr) else {
                continue;
            };
            let in_rows = (first - 1..last).contains(&r) && col_of.contains(&c);
            if !in_rows && cell.value.is_finite() {
                ws.write_number_with_format(r, c, cell.value, &input)?;
            }
        }
        for (c, col) in view.columns.iter().zip(&col_of) {
            if view
                .cells
                .iter()
                .all(|x| x.addr != format!("{}3", c.letter))
            {
                ws.write_string_with_format(first - 2, *col, c.header, &header)?;
            }
            ws.set_column_width(*col, 13)?;
        }
        ws.set_freeze_panes(first - 1, 0)?;
        for (i, row) in view.rows.iter().enumerate() {
            let r = first + i as u32; // Excel row number
            if row.len() != view.columns.len() {
                return Err(XlsxError::Mismatch(format!(
                    "{} row {r} has {} values for {} columns",
                    view.name,
                    row.len(),
                    view.columns.len()
                )));
            }
            for ((c, col), v) in view.columns.iter().zip(&col_of).zip(row) {
                let f = if c.formula.is_empty() || c.formula.contains('!') {
                    None
                } else if r == first && (c.letter == "C" || c.letter == "D") {
                    Some(if c.letter == "C" {
                        "=C1".to_string()
                    } else {
                        "=C2".to_string()
                    })
                } else {
                    Some(shift_rows(c.formula, r as i64 - 5))
                };
                match f {
                    Some(f) => {
                        let res = if zero_cached_results {
                            "0".to_string()
                        } else if v.is_finite() {
                            format!("{v}")
                        } else {
                            "#NUM!".into()
                        };
                        ws.write_formula(r - 1, *col, Formula::new(f).set_result(res))?;
                    }
                    None if v.is_finite() => {
                        ws.write_number(r - 1, *col, *v)?;
                    }
                    None => {}
                }
            }
        }
        for (note_row, n) in (last + 6..).zip(view.notes.iter()) {
            ws.write_string(note_row, 0, n)?;
        }
    }
    Ok(wb.save_to_buffer()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_shift_but_anchors_stay() {
        assert_eq!(
            shift_rows("=C5-J5*$D$2/SQRT(J4)", -1),
            "=C4-J4*$D$2/SQRT(J3)"
        );
        assert_eq!(shift_rows("=J4*$J$1+$K$1*F5^2", 10), "=J14*$J$1+$K$1*F15^2");
        assert_eq!(
            shift_rows("=D5-K5*$D$2/SQRT(M5)/$F$38", 2),
            "=D7-K7*$D$2/SQRT(M7)/$F$38"
        );
        assert_eq!(
            shift_rows("=(((C5+0.01)+A5*D5)-B5)^2", 1),
            "=(((C6+0.01)+A6*D6)-B6)^2"
        );
        assert_eq!(parse_addr("F33"), Some((32, 5)));
    }
}

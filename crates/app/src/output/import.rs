//! Data files read in: CSV and workbooks (xlsx, xlsm, xls, ods), with errors that name
//! the sheet, row and column of a bad cell as a spreadsheet user finds it.

use std::path::Path;

use anyhow::{Context, Result};
use gradsheet_engine::Dataset;

use crate::error::usage;

/// How to read a data file: which sheet (xlsx), which columns under which names, and
/// how many rows to skip above the header row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DataOptions {
    /// The sheet of a workbook (default: the first).
    pub sheet: Option<String>,
    /// The columns to keep, comma-separated: `x,y` keeps the columns with those headers;
    /// `x=Size,y=C` names the column headed `Size` and column `C` (a letter) `x` and `y`.
    pub columns: Option<String>,
    /// Rows to skip above the header row (titles, notes).
    pub skip_rows: usize,
}

/// Reads a CSV file with a header row of column names and numeric cells.
///
/// A bad cell is reported by row and column, as a spreadsheet user finds it: the row
/// number counts the header as row 1. Workbooks (`.xlsx`, `.xlsm`, `.xls`, `.ods`) are
/// read from their first sheet.
pub fn read_csv(path: &Path) -> Result<Dataset> {
    read_data(path, &DataOptions::default())
}

/// Reads data from a CSV file or a workbook (by its extension), with the options.
///
/// # Errors
///
/// A usage error naming the file and, for a bad cell, its sheet, row and column.
pub fn read_data(path: &Path, opts: &DataOptions) -> Result<Dataset> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let parsed = if matches!(ext.as_str(), "xlsx" | "xlsm" | "xlsb" | "xls" | "ods") {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        parse_workbook(&bytes, opts)
    } else {
        if opts.sheet.is_some() {
            return Err(usage(format!(
                "{}: --sheet applies to workbooks (.xlsx), not to CSV files",
                path.display()
            )));
        }
        let text = read_to_string(path)?;
        parse_csv_with(&text, opts)
    };
    parsed.map_err(|e| usage(format!("{}: {e}", path.display())))
}

/// Parses CSV text with a header row and every column (see [`read_csv`]).
#[cfg(test)]
pub fn parse_csv(text: &str) -> std::result::Result<Dataset, String> {
    parse_csv_with(text, &DataOptions::default())
}

/// A cell of a table being imported.
enum Cell {
    Num(f64),
    Text(String),
    Empty,
    Other(String),
}

/// Parses CSV text with the options.
pub fn parse_csv_with(text: &str, opts: &DataOptions) -> std::result::Result<Dataset, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows: Vec<(usize, Vec<Cell>)> = Vec::new();
    for (r, rec) in rdr.records().enumerate() {
        let line = r + 1;
        let rec = rec.map_err(|e| format!("row {line}: {e}"))?;
        let cells = rec
            .iter()
            .map(|c| {
                let c = c.trim();
                if c.is_empty() {
                    Cell::Empty
                } else {
                    Cell::Text(c.to_string())
                }
            })
            .collect();
        rows.push((line, cells));
    }
    let table = Table { sheet: None, rows };
    table.dataset(opts, true)
}

/// Parses a workbook's bytes with the options.
pub fn parse_workbook(bytes: &[u8], opts: &DataOptions) -> std::result::Result<Dataset, String> {
    use calamine::{Data, Reader};
    let mut wb = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes))
        .map_err(|e| format!("cannot read the workbook: {e}"))?;
    let names = wb.sheet_names();
    let sheet = match &opts.sheet {
        Some(s) => names
            .iter()
            .find(|n| *n == s)
            .or_else(|| names.iter().find(|n| n.eq_ignore_ascii_case(s)))
            .cloned()
            .ok_or_else(|| {
                format!(
                    "the workbook has no sheet '{s}' (its sheets are {})",
                    quoted(&names)
                )
            })?,
        None => names.first().cloned().ok_or("the workbook has no sheets")?,
    };
    let range = wb
        .worksheet_range(&sheet)
        .map_err(|e| format!("cannot read sheet '{sheet}': {e}"))?;
    let (r0, c0) = range.start().unwrap_or((0, 0));
    let mut rows = Vec::new();
    for (i, row) in range.rows().enumerate() {
        // Cells left of the used range are empty: pad so that columns keep their letters.
        let mut cells: Vec<Cell> = (0..c0).map(|_| Cell::Empty).collect();
        cells.extend(row.iter().map(|d| match d {
            Data::Float(v) => Cell::Num(*v),
            Data::Int(v) => Cell::Num(*v as f64),
            Data::String(t) if t.trim().is_empty() => Cell::Empty,
            Data::String(t) => Cell::Text(t.trim().to_string()),
            Data::Empty => Cell::Empty,
            Data::Bool(b) => Cell::Other(format!(
                "the logical value {}",
                if *b { "TRUE" } else { "FALSE" }
            )),
            Data::Error(e) => Cell::Other(format!("the error {e}")),
            other => Cell::Other(format!("a date or duration ({other})")),
        }));
        rows.push((r0 as usize + i + 1, cells));
    }
    if rows.is_empty() {
        return Err(format!("sheet '{sheet}' is empty"));
    }
    Table {
        sheet: Some(sheet),
        rows,
    }
    .dataset(opts, false)
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows of cells with their 1-based row numbers, from a CSV file or a sheet.
struct Table {
    sheet: Option<String>,
    rows: Vec<(usize, Vec<Cell>)>,
}

impl Table {
    /// Where a cell is, for messages.
    fn at(&self, row: usize, col: usize, header: &str) -> String {
        match &self.sheet {
            Some(s) => format!(
                "sheet '{s}', cell {}{row} (column {header})",
                col_letter(col)
            ),
            None => format!("row {row}, column {} ({header})", col_letter(col)),
        }
    }

    fn dataset(
        self,
        opts: &DataOptions,
        strict_width: bool,
    ) -> std::result::Result<Dataset, String> {
        let whole = |r: &[Cell]| r.iter().all(|c| matches!(c, Cell::Empty));
        let mut rows = self
            .rows
            .iter()
            .skip(opts.skip_rows)
            .skip_while(|(_, r)| whole(r));
        let where_ = self
            .sheet
            .as_ref()
            .map(|s| format!("sheet '{s}'"))
            .unwrap_or_else(|| "the file".into());
        let Some((hline, header)) = rows.next() else {
            return Err(if opts.skip_rows > 0 {
                format!(
                    "{where_} has no header row after the {} skipped rows",
                    opts.skip_rows
                )
            } else if self.sheet.is_some() {
                format!("{where_} is empty")
            } else {
                "the file has no header row of column names".into()
            });
        };
        let headers: Vec<String> = header
            .iter()
            .map(|c| match c {
                Cell::Text(t) => t.clone(),
                Cell::Num(v) => gradsheet_engine::format_number(*v),
                _ => String::new(),
            })
            .collect();
        let last = headers
            .iter()
            .rposition(|h| !h.is_empty())
            .map(|i| i + 1)
            .unwrap_or(0);
        let headers = &headers[..last];
        if headers.is_empty() {
            return Err(format!(
                "{where_} has no header row of column names (row {hline} is empty)"
            ));
        }
        // Which columns to read, under which names.
        let chosen: Vec<(String, usize)> = match &opts.columns {
            None => {
                if let Some(i) = headers.iter().position(|h| h.is_empty()) {
                    return Err(format!(
                        "column {} has an empty name in the header row",
                        col_letter(i)
                    ));
                }
                headers
                    .iter()
                    .cloned()
                    .enumerate()
                    .map(|(i, h)| (h, i))
                    .collect()
            }
            Some(spec) => {
                let mut out = Vec::new();
                for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let (name, source) = item
                        .split_once('=')
                        .map(|(a, b)| (a.trim(), b.trim()))
                        .unwrap_or((item, item));
                    let idx = headers
                        .iter()
                        .position(|h| h == source)
                        .or_else(|| headers.iter().position(|h| h.eq_ignore_ascii_case(source)))
                        .or_else(|| letter_index(source))
                        .ok_or_else(|| {
                            format!(
                                "--columns: {where_} has no column '{source}' (its columns are {})",
                                headers
                                    .iter()
                                    .filter(|h| !h.is_empty())
                                    .cloned()
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        })?;
                    out.push((name.to_string(), idx));
                }
                if out.is_empty() {
                    return Err("--columns names no column".into());
                }
                out
            }
        };
        let mut values = Vec::new();
        for (line, rec) in rows {
            if whole(rec) {
                continue;
            }
            if strict_width && rec.len() != header.len() {
                return Err(format!(
                    "row {line} has {} cells but the header has {}",
                    rec.len(),
                    header.len()
                ));
            }
            for (name, c) in &chosen {
                let head = headers.get(*c).filter(|h| !h.is_empty()).unwrap_or(name);
                let v = match rec.get(*c).unwrap_or(&Cell::Empty) {
                    Cell::Num(v) => *v,
                    Cell::Text(t) => t.parse::<f64>().map_err(|_| {
                        if self.sheet.is_some() {
                            format!("{}: '{t}' is text, not a number", self.at(*line, *c, head))
                        } else {
                            format!("{}: '{t}' is not a number", self.at(*line, *c, head))
                        }
                    })?,
                    Cell::Empty => return Err(format!("{} is empty", self.at(*line, *c, head))),
                    Cell::Other(what) => {
                        return Err(format!(
                            "{} holds {what}, not a number",
                            self.at(*line, *c, head)
                        ))
                    }
                };
                values.push(v);
            }
        }
        if values.is_empty() {
            return Err(format!("{where_} has a header but no rows of data"));
        }
        let names: Vec<String> = chosen.into_iter().map(|(n, _)| n).collect();
        Ok(Dataset::new(names, values))
    }
}

/// The 0-based index of an Excel column letter (`A` → 0, `AA` → 26), if it is one.
fn letter_index(s: &str) -> Option<usize> {
    if s.is_empty() || s.len() > 3 || !s.chars().all(|c| c.is_ascii_uppercase()) {
        return None;
    }
    Some(
        s.bytes()
            .fold(0usize, |acc, b| acc * 26 + (b - b'A' + 1) as usize)
            - 1,
    )
}

/// Excel's column letter for a 0-based index (0 → A, 26 → AA).
pub fn col_letter(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// Reads a whole file, with its path in the error.
pub fn read_to_string(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_errors_name_row_and_column() {
        let e = parse_csv("x,y\n1,2\n3,oops\n").unwrap_err();
        assert_eq!(e, "row 3, column B (y): 'oops' is not a number");
        let e = parse_csv("x,y\n1,2,3\n").unwrap_err();
        assert_eq!(e, "row 2 has 3 cells but the header has 2");
        assert_eq!(
            parse_csv("x,y\n").unwrap_err(),
            "the file has a header but no rows of data"
        );
        let d = parse_csv("x, y\n1,2\n\n3,4\n").unwrap();
        assert_eq!(d.columns, ["x", "y"]);
        assert_eq!(d.values, [1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn letters() {
        assert_eq!(col_letter(0), "A");
        assert_eq!(col_letter(25), "Z");
        assert_eq!(col_letter(26), "AA");
    }
}

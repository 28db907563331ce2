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

/// The largest data file read (CSV or workbook), and the largest text file (a recipe):
/// 256 MiB. A larger file, or a stream that does not end (`/dev/zero`), is refused once
/// this much is read.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// The most cells holding a value that a table (a CSV file, a sheet) may have: 10 million,
/// e.g. a million rows of ten columns. Reading keeps only the cells that exist, so a sheet
/// whose one cell is at XFD1048576 costs one cell, not Excel's whole grid.
pub const MAX_CELLS: usize = 10_000_000;

/// The longest row of a CSV file: 1 MiB.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Reads data from a CSV file or a workbook (by its extension), with the options.
///
/// # Errors
///
/// A usage error naming the file and, for a bad cell, its sheet, row and column; or the
/// limit ([`MAX_FILE_BYTES`], [`MAX_CELLS`], [`MAX_LINE_BYTES`]) the file goes past.
pub fn read_data(path: &Path, opts: &DataOptions) -> Result<Dataset> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let parsed = if matches!(ext.as_str(), "xlsx" | "xlsm" | "xlsb" | "xls" | "ods") {
        let bytes = read_bounded(path)?;
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

/// Reads a whole file of at most [`MAX_FILE_BYTES`], with its path in the error.
fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut bytes = Vec::new();
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(usage(format!(
            "{} is larger than {} MiB, the most gradsheet reads from a file",
            path.display(),
            MAX_FILE_BYTES >> 20
        )));
    }
    Ok(bytes)
}

/// Reads a whole text file of at most [`MAX_FILE_BYTES`], with its path in the error.
///
/// # Errors
///
/// The file cannot be read, is past the limit, or is not UTF-8.
pub fn read_to_string(path: &Path) -> Result<String> {
    let bytes = read_bounded(path)?;
    String::from_utf8(bytes).map_err(|e| {
        usage(format!(
            "{} is not UTF-8 text (byte {} is not valid)",
            path.display(),
            e.utf8_error().valid_up_to() + 1
        ))
    })
}

/// Parses CSV text with a header row and every column (see [`read_csv`]).
#[cfg(test)]
pub fn parse_csv(text: &str) -> std::result::Result<Dataset, String> {
    parse_csv_with(text, &DataOptions::default())
}

/// A cell of a table being imported (empty cells are not kept).
enum Cell {
    Num(f64),
    Text(String),
    Other(String),
}

/// A row of a table: its cells that hold something, by 0-based column, in column order.
struct Row {
    /// 1-based: the CSV record, or the sheet's row number.
    line: usize,
    /// How many fields the CSV record has (its width, for the check against the header).
    width: usize,
    cells: Vec<(usize, Cell)>,
}

impl Row {
    fn get(&self, col: usize) -> Option<&Cell> {
        self.cells
            .binary_search_by_key(&col, |(c, _)| *c)
            .ok()
            .map(|i| &self.cells[i].1)
    }
}

/// Parses CSV text with the options.
pub fn parse_csv_with(text: &str, opts: &DataOptions) -> std::result::Result<Dataset, String> {
    parse_csv_within(text, opts, MAX_CELLS)
}

/// As [`parse_csv_with`], keeping at most `max_cells` cells.
fn parse_csv_within(
    text: &str,
    opts: &DataOptions,
    max_cells: usize,
) -> std::result::Result<Dataset, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut n_cells = 0;
    let mut rec = csv::StringRecord::new();
    let mut start = 0;
    let mut line = 0;
    loop {
        match rdr.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(format!("row {}: {e}", line + 1)),
        }
        line += 1;
        let end = rdr.position().byte() as usize;
        if end - start > MAX_LINE_BYTES {
            return Err(format!(
                "row {line} is longer than {} MiB, the most gradsheet reads in one row",
                MAX_LINE_BYTES >> 20
            ));
        }
        start = end;
        let cells: Vec<(usize, Cell)> = rec
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let c = c.trim();
                (!c.is_empty()).then(|| (i, Cell::Text(c.to_string())))
            })
            .collect();
        n_cells += cells.len();
        if n_cells > max_cells {
            return Err(too_many_cells(max_cells));
        }
        rows.push(Row {
            line,
            width: rec.len(),
            cells,
        });
    }
    let table = Table {
        sheet: None,
        first_line: 1,
        rows,
    };
    table.dataset(opts, true)
}

/// A cell of a workbook as the import sees it (`None`: empty, or only spaces).
fn workbook_cell(d: &calamine::Data) -> Option<Cell> {
    use calamine::Data;
    Some(match d {
        Data::Float(v) => Cell::Num(*v),
        Data::Int(v) => Cell::Num(*v as f64),
        Data::String(t) if t.trim().is_empty() => return None,
        Data::String(t) => Cell::Text(t.trim().to_string()),
        Data::Empty => return None,
        Data::Bool(b) => Cell::Other(format!(
            "the logical value {}",
            if *b { "TRUE" } else { "FALSE" }
        )),
        Data::Error(e) => Cell::Other(format!("the error {e}")),
        other => Cell::Other(format!("a date or duration ({other})")),
    })
}

/// The cells of a sheet that hold something, with their (row, column), 0-based, and the
/// first row of its used range (which `--skip-rows` counts from).
struct SheetCells {
    first_row: Option<u32>,
    cells: Vec<((u32, u32), Cell)>,
}

impl SheetCells {
    /// Keeps a cell that calamine read. A cell holding only spaces is not data but, as for
    /// calamine's own ranges, still bounds the used range.
    fn keep(&mut self, pos: (u32, u32), d: &calamine::Data) -> std::result::Result<(), String> {
        if calamine::DataType::is_empty(d) {
            return Ok(());
        }
        self.first_row = Some(self.first_row.map_or(pos.0, |r| r.min(pos.0)));
        if let Some(c) = workbook_cell(d) {
            if self.cells.len() >= MAX_CELLS {
                return Err(too_many_cells(MAX_CELLS));
            }
            self.cells.push((pos, c));
        }
        Ok(())
    }
}

fn too_many_cells(max: usize) -> String {
    format!("it holds more than {max} cells, the most gradsheet reads from a table")
}

/// Reads the cells of `sheet` that exist. xlsx, xlsm and xlsb are read one cell at a
/// time, so memory follows the cells the sheet holds, not its bounding box. calamine
/// reads xls and ods sheets whole, into their bounding box: xls's is at most 65,536 × 256
/// cells by its format, and calamine refuses an ods sheet past 100 million.
fn sheet_cells(
    wb: &mut calamine::Sheets<std::io::Cursor<&[u8]>>,
    sheet: &str,
) -> std::result::Result<SheetCells, String> {
    use calamine::{Data, DataType, Reader, Sheets};
    let cant = |e: &dyn std::fmt::Display| format!("cannot read sheet '{sheet}': {e}");
    let mut out = SheetCells {
        first_row: None,
        cells: Vec::new(),
    };
    match wb {
        Sheets::Xlsx(x) => {
            let mut r = x.worksheet_cells_reader(sheet).map_err(|e| cant(&e))?;
            while let Some(c) = r.next_cell().map_err(|e| cant(&e))? {
                if !c.get_value().is_empty() {
                    out.keep(c.get_position(), &Data::from(c.get_value().clone()))?;
                }
            }
        }
        Sheets::Xlsb(x) => {
            let mut r = x.worksheet_cells_reader(sheet).map_err(|e| cant(&e))?;
            while let Some(c) = r.next_cell().map_err(|e| cant(&e))? {
                if !c.get_value().is_empty() {
                    out.keep(c.get_position(), &Data::from(c.get_value().clone()))?;
                }
            }
        }
        Sheets::Xls(_) | Sheets::Ods(_) => {
            let range = wb.worksheet_range(sheet).map_err(|e| cant(&e))?;
            let (r0, c0) = range.start().unwrap_or((0, 0));
            for (r, c, d) in range.used_cells() {
                out.keep((r0 + r as u32, c0 + c as u32), d)?;
            }
        }
    }
    Ok(out)
}

/// Parses a workbook's bytes with the options.
pub fn parse_workbook(bytes: &[u8], opts: &DataOptions) -> std::result::Result<Dataset, String> {
    use calamine::Reader;
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
    let SheetCells {
        first_row,
        mut cells,
    } = sheet_cells(&mut wb, &sheet)?;
    let Some(first_row) = first_row else {
        return Err(format!("sheet '{sheet}' is empty"));
    };
    // Row by row, left to right (a sheet's XML need not be in order).
    cells.sort_by_key(|(pos, _)| *pos);
    let mut rows: Vec<Row> = Vec::new();
    for ((r, c), cell) in cells {
        let line = r as usize + 1;
        if rows.last().is_none_or(|row| row.line != line) {
            rows.push(Row {
                line,
                width: 0,
                cells: Vec::new(),
            });
        }
        let row = rows.last_mut().expect("a row was pushed for this line");
        row.width = c as usize + 1;
        row.cells.push((c as usize, cell));
    }
    Table {
        sheet: Some(sheet),
        first_line: first_row as usize + 1,
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
    /// The first row of the used range: `--skip-rows` counts from it, blank rows included.
    first_line: usize,
    /// The rows holding a cell, in order.
    rows: Vec<Row>,
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
        let skip_to = self.first_line.saturating_add(opts.skip_rows);
        let mut rows = self
            .rows
            .iter()
            .filter(|r| r.line >= skip_to && !r.cells.is_empty());
        let where_ = self
            .sheet
            .as_ref()
            .map(|s| format!("sheet '{s}'"))
            .unwrap_or_else(|| "the file".into());
        let Some(header) = rows.next() else {
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
        let hline = header.line;
        let mut headers = vec![String::new(); header.cells.last().map_or(0, |(c, _)| c + 1)];
        for (c, cell) in &header.cells {
            headers[*c] = match cell {
                Cell::Text(t) => t.clone(),
                Cell::Num(v) => gradsheet_engine::format_number(*v),
                Cell::Other(_) => String::new(),
            };
        }
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
        for rec in rows {
            let line = &rec.line;
            if strict_width && rec.width != header.width {
                return Err(format!(
                    "row {line} has {} cells but the header has {}",
                    rec.width, header.width
                ));
            }
            for (name, c) in &chosen {
                let head = headers.get(*c).filter(|h| !h.is_empty()).unwrap_or(name);
                let v = match rec.get(*c) {
                    Some(Cell::Num(v)) => *v,
                    Some(Cell::Text(t)) => t.parse::<f64>().map_err(|_| {
                        if self.sheet.is_some() {
                            format!("{}: '{t}' is text, not a number", self.at(*line, *c, head))
                        } else {
                            format!("{}: '{t}' is not a number", self.at(*line, *c, head))
                        }
                    })?,
                    None => return Err(format!("{} is empty", self.at(*line, *c, head))),
                    Some(Cell::Other(what)) => {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_past_the_limits_is_refused_naming_the_limit() {
        let text = "x,y\n1,2\n3,4\n";
        assert!(parse_csv_within(text, &DataOptions::default(), 6).is_ok());
        assert_eq!(
            parse_csv_within(text, &DataOptions::default(), 5).unwrap_err(),
            "it holds more than 5 cells, the most gradsheet reads from a table"
        );
        let long = format!("x,y\n1,{}\n", "2".repeat(MAX_LINE_BYTES));
        assert_eq!(
            parse_csv(&long).unwrap_err(),
            "row 2 is longer than 1 MiB, the most gradsheet reads in one row"
        );
    }

    /// Excel-written workbooks (shared strings, styles, formulas with cached values) read
    /// cell by cell give the values Excel saved: the graddesc `data` sheets against their
    /// golden row tables. The workbooks are outside the repository (testkit's rule).
    #[test]
    fn fast_ai_workbooks_read_as_excel_saved_them() {
        let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/../train/tests/data/golden");
        for (file, tag, skip) in [
            ("graddesc-2018.xlsm", "course-v3", 2),
            ("graddesc-2016.xlsm", "courses", 3),
        ] {
            let Some(path) = gradsheet_testkit::shared(&format!("workbooks/{file}")) else {
                return;
            };
            let opts = DataOptions {
                sheet: Some("data".into()),
                columns: Some("x=B,y=C".into()),
                skip_rows: skip,
            };
            let d = read_data(&path, &opts).unwrap();
            let table =
                std::fs::read_to_string(format!("{golden}/{tag}__graddesc__data.csv")).unwrap();
            let want: Vec<f64> = table
                .lines()
                .skip(1)
                .flat_map(|l| l.split(',').skip(1).map(|v| v.parse::<f64>().unwrap()))
                .collect();
            assert_eq!(d.columns, ["x", "y"], "{file}");
            assert_eq!(d.values, want, "{file}");
        }
    }

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

//! Reading a workbook's cells from its bytes: every sheet's values (typed or as Excel
//! last saved them) and formulas, and the defined names.
//!
//! The reader streams cell by cell, so a file's memory is bounded by the cells that
//! exist (a 3 KB file with one cell at XFD1048576 is one cell), and refuses past
//! [`MAX_CELLS`] cells or a formula longer than Excel's 8,192 characters.

use calamine::{DataRef, Reader, Xlsx};

use crate::BookError;

/// The most cells read from one workbook.
pub const MAX_CELLS: usize = 2_000_000;

/// The longest formula Excel writes, in characters.
pub const MAX_FORMULA_CHARS: usize = 8192;

/// A cell's value as saved: a number, text, a truth value, an error, or nothing.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A number.
    Num(f64),
    /// Text.
    Text(String),
    /// TRUE or FALSE.
    Bool(bool),
    /// An error value (`#DIV/0!`, `#NUM!`, …).
    Error(String),
    /// No value.
    Empty,
}

/// One cell: where it is, what it holds, and its formula if it has one.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// Zero-based row.
    pub row: u32,
    /// Zero-based column.
    pub col: u32,
    /// The value typed, or the formula's value as Excel saved it.
    pub value: Value,
    /// The formula, without its `=`.
    pub formula: Option<String>,
}

/// A sheet: its name and cells, in the order the file holds them (row by row).
#[derive(Clone, Debug, PartialEq)]
pub struct Sheet {
    /// Its name.
    pub name: String,
    /// Its cells.
    pub cells: Vec<Cell>,
}

/// A workbook: its sheets and defined names (`name`, `refers to`).
#[derive(Clone, Debug, PartialEq)]
pub struct Workbook {
    /// The sheets, in order.
    pub sheets: Vec<Sheet>,
    /// The defined names and what each refers to (`basic!$F$1`, a constant, a formula).
    pub names: Vec<(String, String)>,
    /// Whether the file has VBA macros (an .xlsm).
    pub has_macros: bool,
}

impl Workbook {
    /// Reads an .xlsx or .xlsm from its bytes.
    ///
    /// # Errors
    ///
    /// [`BookError::Read`] when the bytes are not a workbook (or are encrypted);
    /// [`BookError::TooLarge`] past [`MAX_CELLS`] cells or a formula past
    /// [`MAX_FORMULA_CHARS`] characters.
    pub fn from_bytes(bytes: &[u8]) -> Result<Workbook, BookError> {
        let mut x: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes))
            .map_err(|e| BookError::Read(format!("not an .xlsx or .xlsm workbook: {e}")))?;
        let names: Vec<(String, String)> = x.defined_names().to_vec();
        let has_macros = x.vba_project().is_ok_and(|v| v.is_some());
        let mut sheets = Vec::new();
        let mut total = 0usize;
        for name in x.sheet_names() {
            let mut cells = Vec::new();
            let mut r = x
                .worksheet_cells_reader(&name)
                .map_err(|e| BookError::Read(format!("cannot read sheet '{name}': {e}")))?;
            while let Some(c) = r
                .next_cell_with_formula()
                .map_err(|e| BookError::Read(format!("cannot read sheet '{name}': {e}")))?
            {
                let value = value(&c.value);
                let formula = c.formula.filter(|f| !f.is_empty());
                if value == Value::Empty && formula.is_none() {
                    continue;
                }
                if let Some(f) = &formula {
                    if f.chars().count() > MAX_FORMULA_CHARS {
                        return Err(BookError::TooLarge(format!(
                            "'{name}'!{}: a formula of {} characters, past Excel's {MAX_FORMULA_CHARS}",
                            crate::cell_name(c.pos.0, c.pos.1),
                            f.chars().count()
                        )));
                    }
                }
                total += 1;
                if total > MAX_CELLS {
                    return Err(BookError::TooLarge(format!(
                        "more than {MAX_CELLS} cells (the most gradsheet reads from a workbook)"
                    )));
                }
                cells.push(Cell {
                    row: c.pos.0,
                    col: c.pos.1,
                    value,
                    formula,
                });
            }
            sheets.push(Sheet { name, cells });
        }
        Ok(Workbook {
            sheets,
            names,
            has_macros,
        })
    }
}

fn value(d: &DataRef<'_>) -> Value {
    match d {
        DataRef::Int(i) => Value::Num(*i as f64),
        DataRef::Float(f) => Value::Num(*f),
        DataRef::String(s) => Value::Text(s.clone()),
        DataRef::SharedString(s) => Value::Text(s.to_string()),
        DataRef::Bool(b) => Value::Bool(*b),
        DataRef::DateTime(d) => Value::Num(d.as_f64()),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Value::Text(s.clone()),
        DataRef::Error(e) => Value::Error(e.to_string()),
        DataRef::Empty => Value::Empty,
    }
}

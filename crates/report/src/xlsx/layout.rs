//! The one layout of the workbook's cells: where each value of a step row goes, how a
//! cell is addressed, and how values and formulas are written with their cached results.

use rust_xlsxwriter::utility::{row_col_to_cell, row_col_to_cell_absolute};
use rust_xlsxwriter::{Color, Format, FormatBorder, Formula, Worksheet};

use super::XlsxError;

/// The cached result of a formula: the shortest text that reads back to the same double,
/// or `#NUM!` for NaN and infinities (which a spreadsheet cannot hold).
pub(crate) fn result_text(v: f64) -> String {
    if v.is_finite() {
        let a = v.abs();
        if a != 0.0 && !(1e-5..1e16).contains(&a) {
            format!("{v:e}")
        } else {
            format!("{v}")
        }
    } else {
        "#NUM!".into()
    }
}

/// Writes formulas with their cached results.
pub(crate) struct Cells {
    /// Cache 0 instead of the engine's value (see `XlsxOptions::zero_cached_results`).
    pub zero: bool,
}

impl Cells {
    /// The formula `f` at (`row`, `col`), with `v` as its cached result.
    pub fn formula(
        &self,
        ws: &mut Worksheet,
        row: usize,
        col: usize,
        f: &str,
        v: f64,
        fmt: &Format,
    ) -> Result<(), XlsxError> {
        let res = if self.zero {
            "0".to_string()
        } else {
            result_text(v)
        };
        ws.write_formula_with_format(row as u32, col as u16, Formula::new(f).set_result(res), fmt)?;
        Ok(())
    }
}

/// A relative A1 address (`C7`).
pub(crate) fn a1(row: usize, col: usize) -> String {
    row_col_to_cell(row as u32, col as u16)
}

/// An absolute address on another sheet (`Settings!$B$7`).
pub(crate) fn abs(sheet: &str, row: usize, col: usize) -> String {
    format!(
        "{sheet}!{}",
        row_col_to_cell_absolute(row as u32, col as u16)
    )
}

/// An Excel-style defined name for `prefix_name`, when `name` is plain enough to be one.
pub(crate) fn defined_name(prefix: &str, name: &str) -> Option<String> {
    let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    ok.then(|| format!("{prefix}_{name}"))
}

/// Writes a header row of `names` from column `first`.
pub(crate) fn header_row(
    ws: &mut Worksheet,
    first: usize,
    names: &[String],
    f: &Formats,
) -> Result<(), XlsxError> {
    for (j, s) in names.iter().enumerate() {
        ws.write_string_with_format(0, (first + j) as u16, s, &f.header)?;
    }
    Ok(())
}

/// The formats of the workbook.
pub(crate) struct Formats {
    pub header: Format,
    pub int: Format,
    pub value: Format,
    pub param: Format,
    pub small: Format,
    pub bold: Format,
    pub note: Format,
}

impl Formats {
    pub fn new() -> Formats {
        Formats {
            header: Format::new()
                .set_bold()
                .set_background_color(Color::RGB(0xE8EEF7))
                .set_border_bottom(FormatBorder::Thin),
            int: Format::new().set_num_format("0"),
            value: Format::new().set_num_format("0.0000"),
            param: Format::new().set_num_format("0.000000"),
            small: Format::new().set_num_format("0.000E+00"),
            bold: Format::new().set_bold(),
            note: Format::new()
                .set_italic()
                .set_font_color(Color::RGB(0x555555)),
        }
    }
}

/// Column positions of one row that evaluates the model (a step row, or a data row of a
/// mini-batch).
#[derive(Clone, Copy)]
pub(crate) struct EvalCols {
    pub inputs: usize,
    pub params: usize,
    pub pred: usize,
    pub err: usize,
    pub grads: usize,
    pub fd: usize,
}

impl EvalCols {
    /// A Rows-sheet row: step, data row, then the evaluation.
    pub fn rows_sheet(nc: usize, np: usize) -> EvalCols {
        EvalCols {
            inputs: 2,
            params: 2 + nc,
            pred: 2 + nc + np,
            err: 3 + nc + np,
            grads: 4 + nc + np,
            fd: 4 + nc + 2 * np,
        }
    }
}

/// Column positions of the Steps sheet: step, epoch, data row, then the values of
/// [`gradsheet_train::Layout::headers`] in their order: the evaluation (as a Rows-sheet
/// row has it), the optimizer's state, the new parameters.
#[derive(Clone, Copy)]
pub(crate) struct StepCols {
    pub eval: EvalCols,
    pub state: usize,
    pub new: usize,
}

impl std::ops::Deref for StepCols {
    type Target = EvalCols;
    fn deref(&self) -> &EvalCols {
        &self.eval
    }
}

impl StepCols {
    pub fn new(nc: usize, np: usize, nv: usize, has_fd: bool) -> StepCols {
        let inputs = 3;
        let params = inputs + nc;
        let pred = params + np;
        let err = pred + 1;
        let grads = err + 1;
        let fd = grads + np;
        let state = fd + if has_fd { np } else { 0 };
        StepCols {
            eval: EvalCols {
                inputs,
                params,
                pred,
                err,
                grads,
                fd,
            },
            state,
            new: state + nv * np,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_read_back_exactly() {
        for v in [
            0.1,
            1e-7,
            123456.789,
            -3.0e20,
            5e-324,
            0.0,
            -18.33392669020789,
        ] {
            assert_eq!(result_text(v).parse::<f64>().unwrap(), v);
        }
        assert_eq!(result_text(f64::NAN), "#NUM!");
    }
}

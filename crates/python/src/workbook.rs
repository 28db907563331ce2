//! `gs.book(path)`: a learner's own workbook, as `gradsheet book` opens it — the
//! recalculation against Excel's saved values, exact derivatives of any cell, the typed
//! derivative columns judged, the sheet's loop. The Python side reads the file; this
//! module takes its bytes.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::errors;

/// An opened workbook.
#[pyclass(module = "gradsheet._gradsheet")]
pub struct Book {
    book: gradsheet_book::Book,
}

#[pymethods]
impl Book {
    /// Opens a workbook from its bytes.
    #[new]
    fn new(py: Python<'_>, bytes: Vec<u8>) -> PyResult<Book> {
        let book = py
            .detach(|| gradsheet_book::Book::open(&bytes))
            .map_err(|e| errors::setting("path", e))?;
        Ok(Book { book })
    }

    /// The sheets' names.
    fn sheets(&self) -> Vec<String> {
        self.book
            .workbook()
            .sheets
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }

    /// The recalculation: {formula_cells, agree, differ: [(cell, cached, computed)],
    /// not_recalculated: [(cell, reason)]}.
    fn recalculation<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let r = self.book.recalculate();
        let d = PyDict::new(py);
        d.set_item("formula_cells", r.formula_cells)?;
        d.set_item("agree", r.agree)?;
        let differ: Vec<(String, f64, f64)> = r
            .differ
            .into_iter()
            .map(|x| (x.cell, x.cached, x.computed))
            .collect();
        d.set_item("differ", differ)?;
        let skipped: Vec<(String, String)> =
            r.skipped.into_iter().map(|x| (x.cell, x.reason)).collect();
        d.set_item("not_recalculated", skipped)?;
        Ok(d)
    }

    /// The typed derivative columns judged, one dict each.
    fn derivative_columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for c in py.detach(|| self.book.derivative_columns()) {
            let d = PyDict::new(py);
            d.set_item("sheet", c.sheet)?;
            d.set_item("range", c.range)?;
            d.set_item("header", c.header)?;
            d.set_item("of", c.of)?;
            d.set_item("wrt", c.wrt)?;
            d.set_item("verdict", c.verdict)?;
            d.set_item("h", c.h)?;
            d.set_item("max_abs_error", c.max_abs_error)?;
            d.set_item("note", c.note)?;
            out.append(d)?;
        }
        Ok(out)
    }

    /// (value, {input cell: derivative}) of the cell at `cell`.
    fn grad<'py>(&self, py: Python<'py>, cell: &str) -> PyResult<(f64, Bound<'py, PyDict>)> {
        let g = self
            .book
            .gradient(cell)
            .map_err(|e| errors::setting("cell", e))?;
        let d = PyDict::new(py);
        for (c, v) in g.derivatives {
            d.set_item(c, v)?;
        }
        Ok((g.value, d))
    }

    /// The sheet's loop: one dict per epoch, {epoch, copied cells, watched cells}.
    fn run<'py>(
        &self,
        py: Python<'py>,
        copies: Vec<(String, String)>,
        watch: Vec<String>,
        epochs: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut rows: Vec<Vec<(String, f64)>> = Vec::new();
        self.book
            .run(&copies, &watch, epochs, |e| {
                let mut row = vec![("epoch".to_string(), e.epoch as f64)];
                row.extend(e.copied.iter().chain(&e.watched).cloned());
                rows.push(row);
            })
            .map_err(|e| errors::setting("copy", e))?;
        rows_to_list(py, rows)
    }

    /// The sheet's own Run macro, `epochs` times round its loop (after its Reset when
    /// `reset`): one dict per epoch, {epoch, the cells the macro wrote, watched cells}.
    fn run_macro<'py>(
        &self,
        py: Python<'py>,
        sheet: &str,
        epochs: usize,
        reset: bool,
        watch: Vec<String>,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut rows: Vec<Vec<(String, f64)>> = Vec::new();
        self.book
            .run_macro(sheet, epochs, reset, &watch, |e| {
                let mut row = vec![("epoch".to_string(), e.epoch as f64)];
                row.extend(e.copied.iter().chain(&e.watched).cloned());
                rows.push(row);
            })
            .map_err(|e| errors::setting("sheet", e))?;
        rows_to_list(py, rows)
    }

    /// The sheet's Excel Solver problem: (one dict per iteration {iteration, objective,
    /// gradient_max}, {changing cell: value}, evaluations). `adam`: Adam at that rate
    /// instead of L-BFGS.
    #[allow(clippy::type_complexity)]
    fn solve<'py>(
        &self,
        py: Python<'py>,
        sheet: &str,
        iterations: usize,
        adam: Option<f64>,
    ) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyDict>, usize)> {
        let s = self
            .book
            .sheet_index(sheet)
            .map_err(|e| errors::setting("sheet", e))?;
        let method = match adam {
            None => gradsheet_book::solver::Method::Lbfgs,
            Some(lr) if lr > 0.0 && lr.is_finite() => gradsheet_book::solver::Method::Adam(lr),
            Some(lr) => {
                return Err(errors::setting(
                    "adam",
                    format!("{lr}: the learning rate is a positive number"),
                ))
            }
        };
        let mut steps = Vec::new();
        let solved = py
            .detach(|| self.book.solve(s, iterations, method, |st| steps.push(*st)))
            .map_err(|e| errors::setting("sheet", e))?;
        let rows = steps
            .iter()
            .map(|st| {
                vec![
                    ("iteration".to_string(), st.iteration as f64),
                    ("objective".to_string(), st.objective),
                    ("gradient_max".to_string(), st.gradient_max),
                ]
            })
            .collect();
        let cells = PyDict::new(py);
        for (c, v) in &solved.changing {
            cells.set_item(c, v)?;
        }
        Ok((rows_to_list(py, rows)?, cells, solved.evaluations))
    }

    /// The sheet's rows explained (`gradsheet book --explain`): {findings, steep_rows:
    /// [{row, lr_lambda, data}], steepest: (row, lr_lambda) or None, flat: [(column,
    /// rows)], collapse: (parameters, columns, independent ways) or None, rows}.
    fn explain<'py>(&self, py: Python<'py>, sheet: &str) -> PyResult<Bound<'py, PyDict>> {
        let x = py
            .detach(|| self.book.explain_sheet(sheet, &[]))
            .map_err(|e| errors::setting("sheet", e))?;
        let d = PyDict::new(py);
        d.set_item("findings", x.findings)?;
        let steep = PyList::empty(py);
        for w in x.steep {
            let r = PyDict::new(py);
            r.set_item("row", w.row)?;
            r.set_item("lr_lambda", w.lr_lambda)?;
            r.set_item("data", w.data)?;
            steep.append(r)?;
        }
        d.set_item("steep_rows", steep)?;
        d.set_item("steepest", x.steepest.map(|(r, v, _)| (r, v)))?;
        d.set_item("flat", x.flat)?;
        d.set_item("collapse", x.collapse)?;
        d.set_item("rows", x.rows)?;
        Ok(d)
    }
}

/// Rows of (name, value) as a list of dicts.
fn rows_to_list(py: Python<'_>, rows: Vec<Vec<(String, f64)>>) -> PyResult<Bound<'_, PyList>> {
    let out = PyList::empty(py);
    for r in rows {
        let d = PyDict::new(py);
        for (k, v) in r {
            d.set_item(k, v)?;
        }
        out.append(d)?;
    }
    Ok(out)
}

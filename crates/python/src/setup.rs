//! What every call that runs a model starts from: the model and its loss parsed against
//! the data's columns, the data, and the initial values, as the command line's shared
//! flags give them (`--loss`, `--data`, `--const`, `--param`, `--init`).

use std::sync::Arc;

use gradsheet_engine::{Dataset, Model, Roles};
use gradsheet_train::{Generator, Trainer};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::block::Block;
use crate::errors;

/// A model, its data and its initial values, checked (`gradsheet._gradsheet.Setup`).
#[pyclass(frozen, module = "gradsheet._gradsheet")]
#[derive(Clone)]
pub struct Setup {
    /// The model and its loss.
    pub model: Arc<Model>,
    /// The data.
    pub data: Arc<Dataset>,
    /// The initial values, one per parameter of the model.
    pub init: Vec<f64>,
}

impl Setup {
    /// The model compiled against the data.
    pub fn trainer(&self) -> PyResult<Trainer> {
        Trainer::new(&self.model, &self.data).map_err(|e| errors::train(&e))
    }
}

/// The data from columns of float64 values (little-endian bytes, as numpy's `tobytes`
/// gives them), all of one length.
fn dataset(columns: Vec<String>, values: &[Bound<'_, PyBytes>]) -> PyResult<Dataset> {
    if columns.len() != values.len() {
        return Err(errors::setting(
            "data",
            format!(
                "{} column names for {} columns",
                columns.len(),
                values.len()
            ),
        ));
    }
    let cols: Vec<&[u8]> = values.iter().map(|b| b.as_bytes()).collect();
    let n = cols.first().map_or(0, |c| c.len() / 8);
    for (name, c) in columns.iter().zip(&cols) {
        if c.len() != n * 8 {
            return Err(errors::setting(
                "data",
                format!(
                    "the column '{name}' has {} values where '{}' has {n}: every column needs one value per row",
                    c.len() / 8,
                    columns[0]
                ),
            ));
        }
    }
    let mut flat = Vec::with_capacity(n * cols.len());
    for i in 0..n {
        for c in &cols {
            let b: [u8; 8] = c[i * 8..i * 8 + 8].try_into().expect("8 bytes per value");
            flat.push(f64::from_le_bytes(b));
        }
    }
    Ok(Dataset::new(columns, flat))
}

#[pymethods]
impl Setup {
    /// Parses `model` and `loss` against the data (the graddesc data when `columns` is
    /// None) with the constants and forced parameters given, and sets the initial values
    /// (1 for every parameter not named in `init`).
    #[new]
    #[pyo3(signature = (model, loss, columns, values, consts, params, init))]
    fn new(
        model: &str,
        loss: &str,
        columns: Option<Vec<String>>,
        values: Vec<Bound<'_, PyBytes>>,
        consts: Vec<(String, f64)>,
        params: Vec<String>,
        init: Vec<(String, f64)>,
    ) -> PyResult<Setup> {
        let data = match columns {
            Some(c) => dataset(c, &values)?,
            None => Dataset::graddesc(),
        };
        let roles = Roles {
            data: data.columns.clone(),
            constants: consts,
            params,
        };
        let m = Model::new(model, loss, &roles).map_err(|e| {
            let what = if e.source == model { "model" } else { "loss" };
            errors::formula(what, &e)
        })?;
        let mut values = vec![1.0; m.params.len()];
        for (name, v) in init {
            let Some(i) = m.params.iter().position(|p| *p == name) else {
                return Err(errors::setting(
                    "init",
                    format!(
                        "init sets '{name}', which is not a parameter (the parameters are {})",
                        m.params.join(", ")
                    ),
                ));
            };
            values[i] = v;
        }
        Ok(Setup {
            model: Arc::new(m),
            data: Arc::new(data),
            init: values,
        })
    }

    /// The parameters, in the order the model first names them.
    #[getter]
    fn params(&self) -> Vec<String> {
        self.model.params.clone()
    }

    /// The data columns the model uses.
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.model.columns.clone()
    }

    /// The initial values, in the order of `params`.
    #[getter]
    fn init(&self) -> Vec<f64> {
        self.init.clone()
    }

    /// The per-row error (the loss with `pred` replaced by the model), as a formula.
    #[getter]
    fn error(&self) -> String {
        self.model.error.to_string()
    }

    /// Rows of data.
    #[getter]
    fn rows(&self) -> usize {
        self.data.len()
    }

    /// The data's column names and its values as one `(columns, rows)` block.
    fn data(&self) -> (Vec<String>, Block) {
        by_column(&self.data)
    }
}

/// A dataset's column names, and its values as one `(columns, rows)` block.
fn by_column(d: &Dataset) -> (Vec<String>, Block) {
    let (w, n) = (d.columns.len(), d.len());
    let mut cols = Vec::with_capacity(w * n);
    for k in 0..w {
        cols.extend((0..n).map(|i| d.values[i * w + k]));
    }
    (d.columns.clone(), Block::new(cols, w, n))
}

/// Synthetic data, y = target(x) plus Gaussian noise, as `gradsheet train --target`
/// draws it: `(["x", "y"], block)`.
#[pyfunction]
#[pyo3(signature = (target, lo, hi, integer_x, n, seed, noise))]
pub fn generate(
    target: &str,
    lo: f64,
    hi: f64,
    integer_x: bool,
    n: usize,
    seed: u64,
    noise: f64,
) -> PyResult<(Vec<String>, Block)> {
    let g = Generator {
        target: target.to_string(),
        x_lo: lo,
        x_hi: hi,
        integer_x,
        n,
        seed,
        noise,
    };
    let d = g.generate().map_err(|e| match e {
        gradsheet_train::GenError::Formula(f) => errors::formula("target", &f),
        other => errors::setting("target", other),
    })?;
    Ok(by_column(&d))
}

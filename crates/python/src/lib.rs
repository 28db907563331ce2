//! gradsheet's native Python module, `gradsheet._gradsheet`: a front end over the pure
//! crates, as `app` and `web` are. The `gradsheet` package (`python/gradsheet`) wraps it
//! in the API a notebook uses (`gs.train`, `gs.diff`, ...), with DataFrames and plots.
//!
//! The rules (ARCHITECTURE.md): a call crosses into Rust once, not once per step; long
//! work runs with the GIL released and stops on the notebook's stop button
//! ([`run::interruptible`]); columns of numbers are built in Rust and lent to numpy
//! without a copy ([`block::Block`]); every error is a Python exception carrying the
//! engine's message ([`errors`]), never a panic. Files are the Python side's business:
//! this module takes and returns bytes.

use pyo3::prelude::*;

pub mod block;
pub mod diagnosis;
pub mod errors;
pub mod formulas;
pub mod run;
pub mod setup;
pub mod sheets;
pub mod workbook;

/// The module's contents.
#[pymodule]
fn _gradsheet(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // course22's numbers are not shipped (gradsheet_labs::material): the labs read them
    // from the folder GRADSHEET_COURSE22 names, as the command line does.
    if let Some(dir) = std::env::var_os("GRADSHEET_COURSE22").filter(|d| !d.is_empty()) {
        let dir = std::path::PathBuf::from(dir);
        gradsheet_labs::material::install(gradsheet_labs::material::Material::from_folder(|rel| {
            std::fs::read(dir.join(rel)).ok()
        }));
    }
    m.add_class::<block::Block>()?;
    m.add_class::<setup::Setup>()?;
    m.add_class::<run::Run>()?;
    m.add_class::<run::Config>()?;
    m.add_class::<workbook::Book>()?;
    m.add_function(wrap_pyfunction!(setup::generate, m)?)?;
    m.add_function(wrap_pyfunction!(run::train_run, m)?)?;
    m.add_function(wrap_pyfunction!(diagnosis::explain_run, m)?)?;
    m.add_function(wrap_pyfunction!(diagnosis::sweep_map, m)?)?;
    m.add_function(wrap_pyfunction!(diagnosis::surface, m)?)?;
    m.add_function(wrap_pyfunction!(formulas::eval, m)?)?;
    m.add_function(wrap_pyfunction!(formulas::diff, m)?)?;
    m.add_function(wrap_pyfunction!(formulas::check, m)?)?;
    m.add_function(wrap_pyfunction!(sheets::graddesc, m)?)?;
    m.add_function(wrap_pyfunction!(sheets::labs, m)?)?;
    m.add_function(wrap_pyfunction!(sheets::lab, m)?)?;
    Ok(())
}

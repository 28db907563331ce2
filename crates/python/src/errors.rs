//! The engine's errors as Python exceptions: the classes live in `gradsheet/_errors.py`
//! (so that they carry attributes and docstrings like any Python class), and are raised
//! from here with the engine's own message.

use gradsheet_engine::FormulaError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// The exception class `name` of `gradsheet._errors`.
fn class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let m = MODULE.get_or_try_init(py, || py.import("gradsheet._errors").map(Bound::unbind))?;
    Ok(m.bind(py).getattr(name)?.cast_into::<PyType>()?)
}

/// An exception of class `name` made from `args`, or the error met making it.
fn raise<A>(name: &str, args: A) -> PyErr
where
    A: for<'py> pyo3::call::PyCallArgs<'py>,
{
    Python::attach(|py| match class(py, name).and_then(|c| c.call1(args)) {
        Ok(e) => PyErr::from_value(e),
        Err(e) => e,
    })
}

/// A `FormulaError`: the message with the formula and a caret under the fault, the span
/// in characters of the formula (Python indexes strings by character), the formula, and
/// which formula it is (`model`, `loss`, `derivative for a`, ...).
pub fn formula(what: &str, e: &FormulaError) -> PyErr {
    let chars = |b: usize| e.source.get(..b).map_or(b, |s| s.chars().count());
    let span = (chars(e.span.start), chars(e.span.end));
    let message = format!("in the {what}:\n{}", e.render());
    raise(
        "FormulaError",
        (message, span, e.source.clone(), what.to_string()),
    )
}

/// A `SettingError`: a setting the caller gave is wrong; `field` names it as the caller
/// wrote it (`lr`, `optimizer`, `init`, `data`, ...).
pub fn setting(field: &str, message: impl std::fmt::Display) -> PyErr {
    raise("SettingError", (message.to_string(), field.to_string()))
}

/// A `TrainError` of the training loop as the setting at fault.
pub fn train(e: &gradsheet_train::TrainError) -> PyErr {
    use gradsheet_train::TrainError as E;
    let field = match e {
        E::MissingColumn(..) | E::NoData => "data",
        E::InitLength { .. } => "init",
        E::Invalid(_) => "settings",
    };
    setting(field, e)
}

/// An optimizer error, naming the hyperparameter as given (or `optimizer`).
pub fn optimizer(e: &gradsheet_train::OptimizerError) -> PyErr {
    setting(e.field(), e)
}

//! The labs' error type.

/// What went wrong in a lab's public API. Messages are lowercase, without a trailing
/// period.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LabError {
    /// A text input (e.g. MovieLens `u.data`) could not be read: 1-based line and field.
    #[error("line {line}, field {field} ({name}): {message}")]
    Parse {
        /// 1-based line number.
        line: usize,
        /// 1-based field number within the line.
        field: usize,
        /// The field's name (e.g. `rating`).
        name: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// Arrays whose shapes must agree do not.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A numeric argument is out of its domain.
    #[error("invalid argument: {0}")]
    Invalid(String),
}

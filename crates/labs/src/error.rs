//! The labs' error type, shared by every lab (workbook and concept) and by their
//! parameters.

/// What went wrong in a lab: a setting the user can fix, or input it cannot read, or a
/// computation on arrays whose shapes disagree. Messages are lowercase, without a
/// trailing period.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LabError {
    /// No lab has this name: the name and the list of names.
    #[error("no lab named '{0}' (the labs are {1})")]
    UnknownLab(String, String),
    /// A parameter the lab does not take: the name and the lab's parameters.
    #[error("the lab has no parameter '{0}' (its parameters are {1})")]
    UnknownParam(String, String),
    /// A parameter value that cannot be used.
    #[error("{name}: {message}")]
    BadValue {
        /// The parameter.
        name: String,
        /// What is wrong with its value.
        message: String,
    },
    /// A setting, argument or input that cannot be used.
    #[error("{0}")]
    Invalid(String),
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
    /// Material gradsheet does not ship and this run was not given
    /// ([`crate::material`]): what is missing and where to get it.
    #[error("{what} is not available: {hint}")]
    Missing {
        /// The workbook and sheet (and why it could not be read, when it was there).
        what: String,
        /// Where the user gets it.
        hint: &'static str,
    },
    /// Arrays whose shapes must agree do not.
    #[error("shape mismatch: {0}")]
    Shape(String),
}

impl LabError {
    /// Whether the user can fix it (a usage error: exit status 2, HTTP 400) rather than
    /// a computation that failed.
    pub fn is_usage(&self) -> bool {
        !matches!(self, LabError::Shape(_))
    }

    /// The parameter (or `name` for the lab's name) at fault, when there is one: the
    /// field a form marks.
    pub fn field(&self) -> Option<&str> {
        match self {
            LabError::UnknownLab(..) => Some("name"),
            LabError::UnknownParam(name, _) | LabError::BadValue { name, .. } => Some(name),
            _ => None,
        }
    }
}

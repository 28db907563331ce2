//! The error that tells the user they typed something wrong, apart from the commands so
//! that every module (the data import, the file writers) can raise it without depending
//! on the commands that call it.

use std::fmt;

/// An error in what the user typed (a formula, a flag, a file's content): printed
/// without a chain and answered with exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A usage error from anything printable.
pub fn usage(msg: impl fmt::Display) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.to_string()))
}

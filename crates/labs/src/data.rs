//! The embedded workbook inputs (see `data/extract.py` for the range of each file).
//!
//! The files are part of the crate and checked by the tests, so a malformed one is a
//! build defect, not user input: the readers here fall back to blank cells rather than
//! panic.

/// Splits an embedded CSV range into rows of cell texts (no quoting is used in them).
pub(crate) fn cells(src: &str) -> Vec<Vec<&str>> {
    src.lines().map(|l| l.split(',').collect()).collect()
}

/// A numeric range: blank (or non-numeric) cells are `None`.
pub(crate) fn opt_matrix(src: &str) -> Vec<Vec<Option<f64>>> {
    cells(src)
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|c| c.trim().parse::<f64>().ok())
                .collect()
        })
        .collect()
}

/// A numeric range with blanks read as 0, as Excel arithmetic does.
pub(crate) fn matrix(src: &str) -> Vec<Vec<f64>> {
    opt_matrix(src)
        .into_iter()
        .map(|r| r.into_iter().map(|c| c.unwrap_or(0.0)).collect())
        .collect()
}

/// Rows `from..to` of a numeric range.
pub(crate) fn rows(m: &[Vec<f64>], from: usize, to: usize) -> Vec<Vec<f64>> {
    m.get(from..to.min(m.len())).unwrap_or(&[]).to_vec()
}

macro_rules! embed {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/", $name, ".csv"))
    };
}
pub(crate) use embed;

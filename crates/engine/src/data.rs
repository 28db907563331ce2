//! Tables of numbers with named columns, and the graddesc dataset.

/// A table of numbers: named columns, rows stored one after another.
///
/// # Examples
///
/// ```
/// use gradsheet_engine::Dataset;
/// let d = Dataset::graddesc();
/// assert_eq!(d.len(), 29);
/// assert_eq!(d.row(1), &[86.0, 202.0]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Column names.
    pub columns: Vec<String>,
    /// The values, row after row (`columns.len()` per row).
    pub values: Vec<f64>,
}

/// The x values of fast.ai's graddesc workbooks (both the 2016 and 2018 versions): a
/// pasted draw of `RANDBETWEEN(1,100)`; y is exactly 2x + 30.
pub const GRADDESC_X: [f64; 29] = [
    14.0, 86.0, 28.0, 51.0, 28.0, 29.0, 72.0, 62.0, 84.0, 15.0, 42.0, 62.0, 47.0, 35.0, 9.0, 38.0,
    44.0, 99.0, 13.0, 21.0, 28.0, 20.0, 8.0, 64.0, 99.0, 70.0, 27.0, 17.0, 8.0,
];

impl Dataset {
    /// A dataset from columns and row-major values.
    ///
    /// # Panics
    ///
    /// Never; a ragged last row is dropped (use [`Dataset::from_rows`] to be told).
    pub fn new(columns: Vec<String>, mut values: Vec<f64>) -> Dataset {
        let w = columns.len().max(1);
        values.truncate(values.len() / w * w);
        Dataset { columns, values }
    }

    /// A dataset from rows, each as long as `columns`.
    ///
    /// # Errors
    ///
    /// The index of the first row with the wrong length.
    pub fn from_rows(columns: Vec<String>, rows: &[Vec<f64>]) -> Result<Dataset, usize> {
        let mut values = Vec::with_capacity(rows.len() * columns.len());
        for (i, r) in rows.iter().enumerate() {
            if r.len() != columns.len() {
                return Err(i);
            }
            values.extend_from_slice(r);
        }
        Ok(Dataset { columns, values })
    }

    /// The 29 rows of fast.ai's graddesc workbooks: y = 2x + 30.
    pub fn graddesc() -> Dataset {
        let mut values = Vec::with_capacity(58);
        for x in GRADDESC_X {
            values.push(x);
            values.push(2.0 * x + 30.0);
        }
        Dataset {
            columns: vec!["x".into(), "y".into()],
            values,
        }
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        if self.columns.is_empty() {
            0
        } else {
            self.values.len() / self.columns.len()
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        let w = self.columns.len();
        &self.values[i * w..(i + 1) * w]
    }

    /// The index of a column.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The values of one column.
    pub fn column(&self, name: &str) -> Option<Vec<f64>> {
        let j = self.column_index(name)?;
        Some((0..self.len()).map(|i| self.row(i)[j]).collect())
    }

    /// The rows restricted to `names`, in that order, flattened (`names.len()` per row):
    /// the layout a [`crate::CompiledModel`] reads.
    ///
    /// # Errors
    ///
    /// The first name that is not a column.
    pub fn project(&self, names: &[String]) -> Result<Vec<f64>, String> {
        let idx: Vec<usize> = names
            .iter()
            .map(|n| self.column_index(n).ok_or_else(|| n.clone()))
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(self.len() * idx.len());
        for i in 0..self.len() {
            let r = self.row(i);
            out.extend(idx.iter().map(|&j| r[j]));
        }
        Ok(out)
    }
}

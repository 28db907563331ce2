//! Tables for the terminal: right-aligned columns under a header and a rule, fitted to
//! the terminal's width (fewer digits, then fewer columns, each command saying which
//! columns matter most); `--wide` keeps them all.

pub use gradsheet_report::cell;

/// Right-aligned columns with a header row and a rule under it.
pub fn table(headers: &[String], rows: &[Vec<String>]) -> String {
    let n = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(n) {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{:>w$}", c, w = widths[i]))
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = line(headers);
    out.push('\n');
    out.push_str(
        &widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  "),
    );
    out.push('\n');
    for r in rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}

/// A value of a table's cell: text, or a number the table rounds to fit.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// Shown as it is.
    Text(String),
    /// Shown with as many significant digits as the width allows (at most 8).
    Num(f64),
}

impl From<f64> for Cell {
    fn from(v: f64) -> Cell {
        Cell::Num(v)
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }
}

impl From<usize> for Cell {
    fn from(n: usize) -> Cell {
        Cell::Text(n.to_string())
    }
}

/// A column: its header, its cells, and how much it matters (0: always shown; larger
/// numbers are left out first when the table does not fit).
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// The header.
    pub header: String,
    /// The cells, one per row (a short column is padded with empty cells).
    pub cells: Vec<Cell>,
    /// 0 for a column always shown; columns of the largest rank go first.
    pub rank: u8,
}

impl Column {
    /// A column of rank `rank`.
    pub fn new(header: impl Into<String>, rank: u8, cells: Vec<Cell>) -> Column {
        Column {
            header: header.into(),
            cells,
            rank,
        }
    }
}

/// The significant digits tried, most first: a column of numbers narrows by dropping
/// digits before any column is dropped, down to 6; past that, columns go; only the
/// columns that always show narrow further.
const DIGITS: [usize; 5] = [8, 7, 6, 5, 4];

/// A table fitted to `width` (`None`: every column, 8 digits): the text, and the headers
/// of the columns left out.
pub fn fit(columns: &[Column], width: Option<usize>) -> (String, Vec<String>) {
    let render = |cols: &[&Column], digits: usize| {
        let headers: Vec<String> = cols.iter().map(|c| c.header.clone()).collect();
        let n = cols.iter().map(|c| c.cells.len()).max().unwrap_or(0);
        let rows: Vec<Vec<String>> = (0..n)
            .map(|i| {
                cols.iter()
                    .map(|c| match c.cells.get(i) {
                        Some(Cell::Text(s)) => s.clone(),
                        Some(Cell::Num(v)) => cell(*v, digits),
                        None => String::new(),
                    })
                    .collect()
            })
            .collect();
        table(&headers, &rows)
    };
    let widest = |t: &str| t.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    let mut shown: Vec<&Column> = columns.iter().collect();
    let Some(w) = width else {
        return (render(&shown, DIGITS[0]), Vec::new());
    };
    let mut left_out = Vec::new();
    let mut digits = 0;
    loop {
        let t = render(&shown, DIGITS[digits]);
        if widest(&t) <= w {
            return (t, left_out);
        }
        // Fewer digits first (down to 6), then the least important column, then fewer
        // digits again once only the columns that always show are left.
        let droppable = shown
            .iter()
            .enumerate()
            .filter(|(_, c)| c.rank > 0)
            .max_by_key(|(i, c)| (c.rank, *i));
        if DIGITS[digits] > 6 {
            digits += 1;
        } else if let Some((i, _)) = droppable {
            left_out.push(shown.remove(i).header.clone());
        } else if digits + 1 < DIGITS.len() {
            digits += 1;
        } else {
            return (t, left_out);
        }
    }
}

/// [`fit`] to the terminal (`--wide`: everything), with a line naming the columns left out.
pub fn fitted(columns: &[Column]) -> String {
    let (mut t, left_out) = fit(columns, super::term::table_width());
    if !left_out.is_empty() {
        // The columns in their table order.
        let names: Vec<&str> = columns
            .iter()
            .filter(|c| left_out.contains(&c.header))
            .map(|c| c.header.as_str())
            .collect();
        t.push_str(&super::term::wrap_with(
            &format!(
                "({} left out to fit {} columns; --wide shows every column)",
                names.join(", "),
                super::term::width()
            ),
            super::term::width(),
            "",
            " ",
        ));
        t.push('\n');
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_narrows_its_digits_then_leaves_out_its_least_columns() {
        let cols = vec![
            Column::new("row", 0, vec![4usize.into(), 5usize.into()]),
            Column::new("b", 0, vec![1.0025100534021187.into(), 1.2.into()]),
            Column::new("pred", 2, vec![87.277527123.into(), 15.0.into()]),
            Column::new("new b", 1, vec![1.0070636.into(), 1.1.into()]),
        ];
        let (all, out) = fit(&cols, None);
        assert!(out.is_empty());
        assert!(all.contains("1.0025101"), "{all}");
        // 6 digits fit 30 columns.
        let (t, out) = fit(&cols, Some(30));
        assert!(
            out.is_empty() && t.contains("1.00251 ") && t.lines().all(|l| l.chars().count() <= 30),
            "{t}"
        );
        // At 21, "pred" (rank 2) goes before "new b" (rank 1).
        let (t, out) = fit(&cols, Some(21));
        assert_eq!(out, ["pred"], "{t}");
        assert!(t.lines().all(|l| l.chars().count() <= 21), "{t}");
        // Too narrow for the columns that always show: they lose digits, never go.
        let (t, out) = fit(&cols, Some(8));
        assert_eq!(out, ["pred", "new b"]);
        assert!(t.starts_with("row"), "{t}");
    }

    #[test]
    fn cells() {
        assert_eq!(cell(103.99322533093216, 6), "103.993");
        assert_eq!(cell(1e-7, 4), "1.000e-7");
        assert_eq!(cell(f64::NAN, 4), "NaN");
        assert_eq!(cell(-18.33392669020789, 5), "-18.334");
    }
}

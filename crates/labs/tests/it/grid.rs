//! Golden grid files and a cell-coverage checker.
//!
//! The golden values of course-v3 and courses (Apache-2.0) are in the repository
//! (`tests/data/golden`, see its README.md); course22's stay outside it (fastai/course22
//! has no licence file), in `golden/` of the shared folder beside the repository
//! ([`gradsheet_testkit::shared`]): a test of a course22 sheet skips loudly without it,
//! and fails in CI.
//!
//! A [`Sheet`] loads `grid/<name>.csv`. Tests `check` computed values against cells and
//! declare `input` ranges (typed constants, pasted randoms); [`Sheet::finish`] then fails
//! if any numeric or boolean cell of the sheet was neither checked nor declared, so
//! "every cell" is enforced rather than hoped for. Text cells are labels and skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// The golden values kept in the repository.
pub const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden");

/// Whether `name` (`<tag>__<workbook>__<sheet>[__<part>]`) is course22's, kept outside.
fn external(name: &str) -> bool {
    name.starts_with("course22__")
}

/// The file of `rel` (`grid/<name>.csv` or `<name>.csv`) for the sheet `name`, or `None`
/// after a loud skip (a failure in CI) when it is course22's and the shared folder is
/// absent.
fn golden_file(name: &str, rel: &str) -> Option<PathBuf> {
    if external(name) {
        gradsheet_testkit::shared(&format!("golden/{rel}"))
    } else {
        Some(PathBuf::from(format!("{GOLDEN}/{rel}")))
    }
}

/// Gives the labs course22's numbers (which gradsheet does not ship:
/// `gradsheet_labs::material`) from the shared golden grids, once per test binary;
/// `false` after a loud skip (a failure in CI) when they are not there.
pub fn course22() -> bool {
    static INSTALLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *INSTALLED.get_or_init(|| {
        let Some(dir) = gradsheet_testkit::course22() else {
            return false;
        };
        let m = gradsheet_labs::material::Material::from_folder(|rel| {
            std::fs::read(dir.join(rel)).ok()
        });
        assert_eq!(m.len(), gradsheet_labs::material::COURSE22.len(), "{m:?}");
        gradsheet_labs::material::install(m);
        true
    })
}

/// The tolerance of the golden README: a few ulps.
pub fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

pub fn col_index(c: &str) -> u32 {
    c.bytes().fold(0, |n, b| n * 26 + (b - b'A' + 1) as u32)
}

pub fn col_name(mut n: u32) -> String {
    let mut s = Vec::new();
    while n > 0 {
        let r = (n - 1) % 26;
        s.push(b'A' + r as u8);
        n = (n - 1) / 26;
    }
    s.reverse();
    String::from_utf8(s).unwrap()
}

/// Parses one CSV line with optional double quotes.
pub fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

pub struct Sheet {
    pub name: String,
    pub cells: BTreeMap<(u32, u32), String>,
    checked: BTreeSet<(u32, u32)>,
    failures: Vec<String>,
}

impl Sheet {
    /// A sheet whose golden values are in the repository.
    pub fn load(name: &str) -> Sheet {
        assert!(
            !external(name),
            "{name} is outside the repository: use Sheet::open"
        );
        Self::open(name).expect("in the repository")
    }

    /// Any sheet: `None` (after a loud skip, a failure in CI) for a course22 sheet when
    /// the shared folder is absent.
    pub fn open(name: &str) -> Option<Sheet> {
        let path = golden_file(name, &format!("grid/{name}.csv"))?;
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut lines = text.lines();
        let hdr = split_csv(lines.next().unwrap());
        let cols: Vec<u32> = hdr[1..].iter().map(|c| col_index(c)).collect();
        let mut cells = BTreeMap::new();
        for line in lines {
            let f = split_csv(line);
            let row: u32 = f[0].parse().unwrap();
            for (c, v) in cols.iter().zip(&f[1..]) {
                if !v.is_empty() {
                    cells.insert((*c, row), v.clone());
                }
            }
        }
        Some(Sheet {
            name: name.to_string(),
            cells,
            checked: BTreeSet::new(),
            failures: Vec::new(),
        })
    }

    pub fn raw(&self, col: &str, row: u32) -> Option<&str> {
        self.cells.get(&(col_index(col), row)).map(|s| s.as_str())
    }

    pub fn num(&self, col: &str, row: u32) -> f64 {
        let v = self
            .raw(col, row)
            .unwrap_or_else(|| panic!("{}!{col}{row} is blank", self.name));
        v.parse()
            .unwrap_or_else(|_| panic!("{}!{col}{row} = {v:?} is not a number", self.name))
    }

    /// Compares a computed value with a cell (blank counts as 0 only if `v == 0`).
    pub fn check(&mut self, col: &str, row: u32, v: f64) {
        self.check_at(col_index(col), row, v)
    }

    pub fn check_at(&mut self, c: u32, row: u32, v: f64) {
        self.checked.insert((c, row));
        match self.cells.get(&(c, row)) {
            None if v == 0.0 => {}
            None => self
                .failures
                .push(format!("{}{row}: blank, computed {v:?}", col_name(c))),
            Some(s) => match s.parse::<f64>() {
                Ok(g) if close(v, g) => {}
                Ok(g) => self.failures.push(format!(
                    "{}{row}: golden {g:?}, computed {v:?} (diff {:e})",
                    col_name(c),
                    v - g
                )),
                Err(_) => self.failures.push(format!(
                    "{}{row}: golden {s:?}, computed {v:?}",
                    col_name(c)
                )),
            },
        }
    }

    /// Checks a blank cell (or one holding `want` text).
    pub fn check_text(&mut self, col: &str, row: u32, want: &str) {
        let c = col_index(col);
        self.checked.insert((c, row));
        let got = self.cells.get(&(c, row)).map(|s| s.as_str()).unwrap_or("");
        if got != want {
            self.failures
                .push(format!("{col}{row}: golden {got:?}, computed {want:?}"));
        }
    }

    /// Checks a 2-D block whose top-left cell is `col``row`, stepping `step` cells.
    pub fn check_grid(&mut self, col: &str, row: u32, step: u32, m: &[Vec<f64>]) {
        let c0 = col_index(col);
        for (i, r) in m.iter().enumerate() {
            for (j, v) in r.iter().enumerate() {
                self.check_at(c0 + step * j as u32, row + step * i as u32, *v);
            }
        }
    }

    /// Checks a row of values going right from `col``row`.
    pub fn check_row(&mut self, col: &str, row: u32, vs: &[f64]) {
        let c0 = col_index(col);
        for (j, v) in vs.iter().enumerate() {
            self.check_at(c0 + j as u32, row, *v);
        }
    }

    /// Checks a column of values going down from `col``row`.
    pub fn check_col(&mut self, col: &str, row: u32, vs: &[f64]) {
        for (i, v) in vs.iter().enumerate() {
            self.check(col, row + i as u32, *v);
        }
    }

    /// Declares a range (e.g. "A2:AB29") as inputs.
    pub fn input(&mut self, range: &str) {
        let (a, b) = range.split_once(':').unwrap_or((range, range));
        let split = |s: &str| {
            let i = s.find(|c: char| c.is_ascii_digit()).unwrap();
            (col_index(&s[..i]), s[i..].parse::<u32>().unwrap())
        };
        let ((c0, r0), (c1, r1)) = (split(a), split(b));
        for c in c0.min(c1)..=c0.max(c1) {
            for r in r0.min(r1)..=r0.max(r1) {
                self.checked.insert((c, r));
            }
        }
    }

    /// Fails with every mismatch and every numeric cell neither checked nor declared.
    pub fn finish(self) {
        let mut errs = self.failures;
        let mut unchecked = Vec::new();
        for ((c, r), v) in &self.cells {
            let numeric = v.parse::<f64>().is_ok() || v == "TRUE" || v == "FALSE";
            if numeric && !self.checked.contains(&(*c, *r)) {
                unchecked.push(format!("{}{r}", col_name(*c)));
            }
        }
        if !unchecked.is_empty() {
            errs.push(format!(
                "{} cells not covered: {}",
                unchecked.len(),
                unchecked
                    .iter()
                    .take(40)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        assert!(
            errs.is_empty(),
            "{}: {} problems:\n{}",
            self.name,
            errs.len(),
            errs.join("\n")
        );
    }
}

/// A row table (`<tag>__<workbook>__<sheet>[__<part>].csv`) is a view of its sheet's
/// grid: every value in table row r must appear in grid row r. Comparing the grid
/// cell by cell then covers the row table too. Skipped loudly (failed in CI) for
/// course22's when the shared folder is absent.
pub fn table_within_grid(table: &str, grid: &str) {
    let Some(path) = golden_file(table, &format!("{table}.csv")) else {
        return;
    };
    let text = std::fs::read_to_string(&path).unwrap();
    let Some(g) = Sheet::open(grid) else {
        return;
    };
    let mut lines = text.lines();
    lines.next();
    let mut n = 0;
    for line in lines {
        let f = split_csv(line);
        let row: u32 = f[0].parse().unwrap();
        let in_row: Vec<&String> = g
            .cells
            .iter()
            .filter(|((_, r), _)| *r == row)
            .map(|(_, v)| v)
            .collect();
        for v in f[1..].iter().filter(|v| !v.is_empty()) {
            assert!(
                in_row.contains(&v),
                "{table}: row {row} value {v} not in grid {grid}"
            );
            n += 1;
        }
    }
    assert!(n > 0, "{table} is empty");
}

//! Numbers gradsheet may not ship: fast.ai's course22 workbooks.
//!
//! The repository fastai/course22 carries no licence, so the inputs its workbooks hold
//! (titanic's Kaggle rows and Solver parameters, conv-example's course22 filters and
//! dense weights and the dropout sheet's pasted randoms, collab_filter's course22 random
//! factors) are not part of gradsheet. The labs that replay them read the same ranges at
//! run time from the user's own copy: the program hands this crate the text of each
//! sheet ([`Material::from_sheets`]) once, at start-up ([`install`]), and a lab that
//! needs a range it was not given says where to get it ([`LabError::Missing`]).
//!
//! Every range is a block of *input* cells (typed constants, pasted randoms, records),
//! never a formula's output: the labs recompute every formula themselves.
//!
//! Why a set-once global rather than an argument: the material is a property of the
//! installation (like a font folder), not of a run, and threading it through every
//! lab's signature would give thirty labs an argument three of them read. It is read-only
//! once set, so runs stay deterministic for their inputs.
//!
//! # Example
//!
//! ```
//! use gradsheet_labs::material::{Material, Sheet};
//!
//! // A sheet as a grid of cells: the first row names columns, each later row starts with
//! // its Excel row number (the format of the golden values' `grid` folder).
//! let grid = "row,R,S,T\n4,0.5,-1,2\n";
//! let m = Material::from_sheets(|sheet: &Sheet| {
//!     (sheet.grid == "course22__titanic__linear").then(|| grid.to_string())
//! });
//! assert_eq!(m.range("titanic_linear_params").unwrap(), "0.5,-1,2,,,,,,,\n");
//! assert!(m.range("titanic_all_rows").is_err());
//! ```

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::LabError;

/// Where the user gets the material, for the error that asks for it.
pub const HINT: &str = "fast.ai's course22 workbooks carry no licence, so gradsheet does not \
ship their numbers: clone https://github.com/fastai/course22 and set GRADSHEET_COURSE22 to \
that folder (gradsheet reads xl/*.xlsx there)";

/// One sheet of a course22 workbook that a lab reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sheet {
    /// The workbook's file name in course22's `xl` folder.
    pub workbook: &'static str,
    /// The sheet's name in the workbook.
    pub name: &'static str,
    /// The sheet's name among the golden values (`grid/<grid>.csv`).
    pub grid: &'static str,
}

/// One input range a lab reads: its key, its sheet and its blocks (stacked top to
/// bottom, each `A1:B2`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// The name the labs ask for.
    pub key: &'static str,
    /// The sheet holding it.
    pub sheet: Sheet,
    /// Its blocks, stacked.
    pub blocks: &'static [&'static str],
}

const TITANIC_ROWS: Sheet = Sheet {
    workbook: "titanic.xlsx",
    name: "all_rows",
    grid: "course22__titanic__all_rows",
};
const TITANIC_LINEAR: Sheet = Sheet {
    workbook: "titanic.xlsx",
    name: "linear",
    grid: "course22__titanic__linear",
};
const TITANIC_NNET: Sheet = Sheet {
    workbook: "titanic.xlsx",
    name: "nnet",
    grid: "course22__titanic__nnet",
};
const TITANIC_MMULT: Sheet = Sheet {
    workbook: "titanic.xlsx",
    name: "mmult",
    grid: "course22__titanic__mmult",
};
const CONV: Sheet = Sheet {
    workbook: "conv-example.xlsx",
    name: "conv-example",
    grid: "course22__conv-example__conv-example",
};
const DROPOUT: Sheet = Sheet {
    workbook: "conv-example.xlsx",
    name: "conv-example (dropout)",
    grid: "course22__conv-example__conv-example_dropout",
};
const DOTPROD: Sheet = Sheet {
    workbook: "collab_filter.xlsx",
    name: "dotprod",
    grid: "course22__collab_filter__dotprod",
};
const BIAS: Sheet = Sheet {
    workbook: "collab_filter.xlsx",
    name: "bias",
    grid: "course22__collab_filter__bias",
};
const EMB: Sheet = Sheet {
    workbook: "collab_filter.xlsx",
    name: "movielens_emb",
    grid: "course22__collab_filter__movielens_emb",
};
const WORD: Sheet = Sheet {
    workbook: "collab_filter.xlsx",
    name: "word_emb",
    grid: "course22__collab_filter__word_emb",
};

const fn range(key: &'static str, sheet: Sheet, blocks: &'static [&'static str]) -> Range {
    Range { key, sheet, blocks }
}

/// Every range the course22 labs read (docs/workbooks.md describes each sheet).
pub const COURSE22: &[Range] = &[
    // titanic: the raw Kaggle rows and the saved Solver parameters.
    range("titanic_all_rows", TITANIC_ROWS, &["A2:H892"]),
    range("titanic_linear_params", TITANIC_LINEAR, &["R4:AA4"]),
    range("titanic_nnet_params", TITANIC_NNET, &["R4:AA5"]),
    range("titanic_mmult_params", TITANIC_MMULT, &["S4:T13"]),
    // conv-example: six 3x3 filter blocks (1/1, 2/1, 1/2 on ch1, 1/2 on ch2, 2/2 on ch1,
    // 2/2 on ch2), then the dense weights of the two channels.
    range(
        "conv_c22_filters",
        CONV,
        &[
            "AD11:AF13",
            "AD38:AF40",
            "BI11:BK13",
            "BI15:BK17",
            "BI38:BK40",
            "BI42:BK44",
        ],
    ),
    range("conv_c22_dense", CONV, &["DN4:EL26", "DN33:EL55"]),
    range(
        "conv_drop_filters",
        DROPOUT,
        &[
            "AD11:AF13",
            "AD42:AF44",
            "BK11:BM13",
            "BK15:BM17",
            "BK42:BM44",
            "BK46:BM48",
        ],
    ),
    range("conv_drop_dense", DROPOUT, &["HI4:IG26", "HI37:IG59"]),
    // The cached RAND() values of the dropout "filter" are inputs of the mask formulas.
    range("conv_drop_rand", DROPOUT, &["CU4:DS27", "CU37:DS60"]),
    range("collab_c22_ratings", DOTPROD, &["G1:V16"]),
    range("collab_c22_dotprod_movies", DOTPROD, &["H19:V23"]),
    range("collab_c22_dotprod_users", DOTPROD, &["B25:F39"]),
    range("collab_c22_bias_movies", BIAS, &["H19:V24"]),
    range("collab_c22_bias_users", BIAS, &["A26:F40"]),
    range("collab_c22_emb_records", EMB, &["I3:K208"]),
    range("collab_c22_emb_users", EMB, &["B4:G18"]),
    range("collab_c22_emb_movies", EMB, &["B22:G36"]),
    // course22 moved the vocabulary up one row (B3:G16; the older copies: B4:G17).
    range("collab_c22_word_vocab", WORD, &["B3:G16"]),
    range("collab_c22_word_text", WORD, &["I3:I50"]),
];

/// The sheets [`COURSE22`] reads, each once, in order.
pub fn sheets() -> Vec<Sheet> {
    let mut out: Vec<Sheet> = Vec::new();
    for r in COURSE22 {
        if !out.contains(&r.sheet) {
            out.push(r.sheet);
        }
    }
    out
}

/// The course22 ranges this run has: key → the range as plain CSV (one sheet row per
/// line, a blank cell empty), the form the labs' own data files take.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Material {
    ranges: BTreeMap<&'static str, String>,
    missing: Vec<String>,
}

impl Material {
    /// Reads every range of [`COURSE22`] from its sheet's grid text, given by `sheet`
    /// (`None` for a sheet the user does not have). A grid's first row names the columns
    /// (`row,A,B,…`); each later row starts with its Excel row number. A sheet that is
    /// absent or unreadable leaves its ranges out and is remembered for the error
    /// message.
    pub fn from_sheets(mut sheet: impl FnMut(&Sheet) -> Option<String>) -> Material {
        Material::from_sources(|s| sheet(s).map(Ok))
    }

    /// As [`Material::from_sheets`], with a message for a sheet that is there but could
    /// not be read.
    fn from_sources(mut sheet: impl FnMut(&Sheet) -> Option<Result<String, String>>) -> Material {
        let mut m = Material::default();
        for s in sheets() {
            let grid = match sheet(&s).map(|t| t.and_then(|t| Grid::parse(&t))) {
                Some(Ok(g)) => g,
                Some(Err(e)) => {
                    m.missing.push(format!("{} ({}): {e}", s.workbook, s.name));
                    continue;
                }
                None => {
                    m.missing.push(format!("{} ({})", s.workbook, s.name));
                    continue;
                }
            };
            for r in COURSE22.iter().filter(|r| r.sheet == s) {
                match grid.blocks(r.blocks) {
                    Ok(text) => {
                        m.ranges.insert(r.key, text);
                    }
                    Err(e) => m.missing.push(format!("{} ({}): {e}", s.workbook, s.name)),
                }
            }
        }
        m
    }

    /// Reads the material from a folder through `read`, the caller's file access (a path
    /// relative to the folder → its bytes, `None` when absent): each sheet from
    /// `<grid>.csv` (a folder of golden grids) or else from `xl/<workbook>` (a clone of
    /// fastai/course22, whose workbooks keep the values Excel saved).
    pub fn from_folder(mut read: impl FnMut(&str) -> Option<Vec<u8>>) -> Material {
        Material::from_sources(|s| {
            if let Some(b) = read(&format!("{}.csv", s.grid)) {
                return Some(Ok(String::from_utf8_lossy(&b).into_owned()));
            }
            let book = read(&format!("xl/{}", s.workbook))?;
            Some(grid_from_xlsx(&book, s.name))
        })
    }

    /// The range `key` as CSV text.
    ///
    /// # Errors
    ///
    /// [`LabError::Missing`] when it was not given.
    pub fn range(&self, key: &str) -> Result<&str, LabError> {
        if let Some(t) = self.ranges.get(key) {
            return Ok(t);
        }
        let sheet = COURSE22
            .iter()
            .find(|r| r.key == key)
            .map(|r| format!("{} ({})", r.sheet.workbook, r.sheet.name))
            .unwrap_or_else(|| key.to_string());
        let why = self
            .missing
            .iter()
            .find(|m| m.starts_with(&sheet) && m.len() > sheet.len())
            .map(|m| format!(" ({})", &m[sheet.len() + 2..]))
            .unwrap_or_default();
        Err(LabError::Missing {
            what: format!("course22's {sheet}{why}"),
            hint: HINT,
        })
    }

    /// How many ranges it holds.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

static INSTALLED: OnceLock<Material> = OnceLock::new();

/// Hands the labs their course22 material, once per process; `false` when some was
/// already installed (the first stays).
pub fn install(m: Material) -> bool {
    INSTALLED.set(m).is_ok()
}

/// The installed range `key`.
pub(crate) fn get(key: &str) -> Result<&'static str, LabError> {
    match INSTALLED.get() {
        Some(m) => m.range(key),
        None => Material::default().range(key).map(|_| ""),
    }
}

/// The sheet `name` of an .xlsx (its bytes) as grid text: the values Excel saved, numbers
/// in Rust's shortest round-trip form.
///
/// # Errors
///
/// A message when the bytes are not a workbook or it has no such sheet.
pub fn grid_from_xlsx(bytes: &[u8], name: &str) -> Result<String, String> {
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes))
        .map_err(|e| format!("not a workbook: {e}"))?;
    let range = book
        .worksheet_range(name)
        .map_err(|e| format!("no sheet '{name}': {e}"))?;
    let Some((r0, c0)) = range.start() else {
        return Ok("row\n".into());
    };
    let (_, width) = range.get_size();
    let mut out = String::from("row");
    for c in 0..width as u32 {
        out.push(',');
        out.push_str(&column_name(c0 + c + 1));
    }
    out.push('\n');
    for (i, row) in range.rows().enumerate() {
        out.push_str(&(r0 as usize + i + 1).to_string());
        for cell in row {
            out.push(',');
            let text = match cell {
                Data::Float(f) => f.to_string(),
                Data::Int(n) => n.to_string(),
                Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
                Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
                Data::DateTime(d) => d.as_f64().to_string(),
                Data::Error(_) | Data::Empty => String::new(),
            };
            // A grid cell is one CSV field: quote what would split it.
            if text.contains([',', '"', '\n']) {
                out.push('"');
                out.push_str(&text.replace('"', "\"\""));
                out.push('"');
            } else {
                out.push_str(&text);
            }
        }
        out.push('\n');
    }
    Ok(out)
}

/// 28 → `AB`.
fn column_name(mut n: u32) -> String {
    let mut s = Vec::new();
    while n > 0 {
        let r = (n - 1) % 26;
        s.push(b'A' + r as u8);
        n = (n - 1) / 26;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// A sheet's cells by (column, row), both 1-based.
struct Grid {
    cells: BTreeMap<(u32, u32), String>,
}

impl Grid {
    fn parse(text: &str) -> Result<Grid, String> {
        let mut rd = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut records = rd.records();
        let head = match records.next() {
            Some(Ok(h)) => h,
            Some(Err(e)) => return Err(format!("line 1: {e}")),
            None => return Err("empty".into()),
        };
        let cols: Vec<u32> = head
            .iter()
            .skip(1)
            .enumerate()
            .map(|(i, c)| {
                column(c).ok_or(format!("line 1, field {}: '{c}' is not a column", i + 2))
            })
            .collect::<Result<_, _>>()?;
        let mut cells = BTreeMap::new();
        for (i, rec) in records.enumerate() {
            let rec = rec.map_err(|e| format!("line {}: {e}", i + 2))?;
            let row: u32 = rec
                .get(0)
                .and_then(|r| r.trim().parse().ok())
                .ok_or(format!("line {}, field 1: not a row number", i + 2))?;
            for (c, v) in cols.iter().zip(rec.iter().skip(1)) {
                if !v.is_empty() {
                    cells.insert((*c, row), v.to_string());
                }
            }
        }
        Ok(Grid { cells })
    }

    /// The blocks stacked, as CSV text.
    fn blocks(&self, blocks: &[&str]) -> Result<String, String> {
        let mut out = String::new();
        for b in blocks {
            let ((c0, r0), (c1, r1)) = block(b).ok_or(format!("bad range {b}"))?;
            for r in r0..=r1 {
                let row: Vec<&str> = (c0..=c1)
                    .map(|c| self.cells.get(&(c, r)).map_or("", String::as_str))
                    .collect();
                out.push_str(&row.join(","));
                out.push('\n');
            }
        }
        Ok(out)
    }
}

/// `AB` → 28.
fn column(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    Some(s.bytes().fold(0, |n, b| n * 26 + u32::from(b - b'A' + 1)))
}

/// `AD11:AF13` → ((30, 11), (32, 13)).
fn block(a1: &str) -> Option<((u32, u32), (u32, u32))> {
    let cell = |s: &str| {
        let split = s.find(|c: char| c.is_ascii_digit())?;
        Some((column(&s[..split])?, s[split..].parse().ok()?))
    };
    let (a, b) = a1.split_once(':')?;
    Some((cell(a)?, cell(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_and_blocks() {
        assert_eq!(column("A"), Some(1));
        assert_eq!(column("AB"), Some(28));
        assert_eq!(column("IG"), Some(241));
        assert_eq!(column("a"), None);
        for n in [1, 26, 27, 28, 241, 702, 703] {
            assert_eq!(column(&column_name(n)), Some(n));
        }
        assert_eq!(block("AD11:AF13"), Some(((30, 11), (32, 13))));
        assert_eq!(block("AD11"), None);
    }

    #[test]
    fn a_range_stacks_its_blocks_and_keeps_blanks() {
        let g = Grid::parse("row,A,B\n1,1,\n2,\"x\",3\n").unwrap();
        assert_eq!(g.blocks(&["A1:B1", "A2:B2"]).unwrap(), "1,\nx,3\n");
    }

    #[test]
    fn a_missing_sheet_is_named_with_where_to_get_it() {
        let m = Material::from_sheets(|_| None);
        assert!(m.is_empty());
        let e = m.range("conv_drop_rand").unwrap_err().to_string();
        assert!(
            e.contains("conv-example.xlsx (conv-example (dropout))") && e.contains("course22"),
            "{e}"
        );
        let m = Material::from_sheets(|s| (s.name == "all_rows").then(|| "row,A\nx,1\n".into()));
        let e = m.range("titanic_all_rows").unwrap_err().to_string();
        assert!(e.contains("line 2, field 1: not a row number"), "{e}");
    }
}

//! Every lab (`gradsheet-labs`'s workbook labs and `gradsheet-concepts`'s concept labs)
//! in one registry, and what a lab becomes as files: an xlsx workbook whose cells are
//! live formulas like the original sheets (the labs' values cached), and its figures
//! drawn by [`crate::chart`].
//!
//! A workbook is first built as a [`Book`]: plain cells (inputs as values, outputs as
//! formula text with the lab's value) and the defined names its formulas use.
//! [`to_xlsx`] turns it into bytes; tests walk the same [`Book`] to compare every
//! formula a spreadsheet recalculates with the lab's value. Formulas use only functions
//! Excel and LibreOffice evaluate alike (`EXP`, `LOG`, `SUM`, `SUMPRODUCT`, `MMULT` of a
//! row by a column, `MAX`, `ROUND`, `MIN`, `IF`) and nothing volatile.
//!
//! ```
//! use gradsheet_report::labs;
//! let book = labs::mom_bias();
//! let (_, _, _, f, v) = book.formulas().next().unwrap();
//! assert!(f.starts_with('='));
//! assert!(v.is_finite());
//! let bytes = labs::to_xlsx(&book, false).unwrap();
//! assert_eq!(&bytes[..2], b"PK");
//!
//! // Any lab by name: its output, its workbook, its files.
//! let lab = labs::find("focal").unwrap();
//! let params = lab.params(&["gammas=0,2", "epochs=5", "negatives=50"]).unwrap();
//! let out = (lab.run)(&params, None).unwrap();
//! let files = labs::files(&out, false).unwrap();
//! assert!(files.iter().any(|(name, _)| name == "focal-curves.svg"));
//! assert!(labs::workbook(lab, &params, None).unwrap().formulas().count() > 0);
//! ```

use gradsheet_labs::collab::Version;
use gradsheet_labs::figure::Panel;
use gradsheet_labs::{Group, Image, Lab, LabError, Output, Params};
use rust_xlsxwriter::utility::column_number_to_name;
use rust_xlsxwriter::{Format, Formula, Workbook};

/// The labs crate, re-exported so that the app reaches the labs through the report crate
/// it already depends on.
pub use gradsheet_labs;

use crate::chart::{self, ChartError};

mod collab;
mod conv;
mod entropy;
mod layers;
mod mom_bias;
mod small;
mod titanic;

pub use collab::collab;
pub use conv::conv;
pub use entropy::entropy;
pub use layers::layers;
pub use mom_bias::mom_bias;
pub use small::{broadcasting, emb_results, emb_sizing, style_loss};
pub use titanic::titanic;

/// Every lab: the concept labs, then the workbook labs.
pub fn all() -> Vec<&'static Lab> {
    gradsheet_concepts::LABS
        .iter()
        .chain(gradsheet_labs::WORKBOOKS)
        .collect()
}

/// The lab named `name`.
///
/// # Errors
///
/// [`LabError::UnknownLab`], listing every lab.
pub fn find(name: &str) -> Result<&'static Lab, LabError> {
    gradsheet_labs::lab::find(&all(), name)
}

/// The lab as a workbook of live formulas, with these (checked) parameters; `image` is
/// the user's picture for a lab that takes one.
///
/// # Errors
///
/// The lab's own errors (a shape error from a workbook's arrays, a setting a concept
/// workbook cannot lay out).
pub fn workbook(lab: &Lab, p: &Params, image: Option<&Image>) -> Result<Book, LabError> {
    if lab.group == Group::Concept {
        return crate::concepts::workbook(lab.name, p, image);
    }
    let v = match p.text("version").as_str() {
        "courses" => Version::Courses,
        "course22" => Version::Course22,
        _ => Version::CourseV3,
    };
    Ok(match lab.name {
        "entropy" => entropy(v),
        "mom_bias" => mom_bias(),
        "conv" => conv(v)?,
        "collab" => collab(v)?,
        "titanic" => titanic()?,
        "layers" => layers(),
        "broadcasting" => broadcasting(),
        "style_loss" => style_loss(),
        "emb_sizing" => emb_sizing(),
        "emb_results" => emb_results(),
        other => {
            return Err(LabError::UnknownLab(
                other.to_string(),
                all().iter().map(|l| l.name).collect::<Vec<_>>().join(", "),
            ))
        }
    })
}

/// A lab's table as CSV, every row: numbers as the shortest text that reads back the
/// same (so no digit is lost), text quoted where it holds a comma, a quote or a line break.
///
/// # Examples
///
/// ```
/// use gradsheet_report::labs::{gradsheet_labs::{Table, Value}, table_csv};
/// let t = Table {
///     name: "t".into(),
///     title: "t".into(),
///     headers: vec!["x".into(), "note".into()],
///     rows: vec![vec![Value::Num(0.1), Value::Text("a, b".into())]],
/// };
/// assert_eq!(String::from_utf8(table_csv(&t)).unwrap(), "x,note\n0.1,\"a, b\"\n");
/// ```
pub fn table_csv(t: &gradsheet_labs::Table) -> Vec<u8> {
    fn field(s: &str) -> String {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<String>, out: &mut String| {
        out.push_str(&cells.join(","));
        out.push('\n');
    };
    line(t.headers.iter().map(|h| field(h)).collect(), &mut out);
    for r in &t.rows {
        let cells = r
            .iter()
            .map(|v| match v {
                gradsheet_labs::Value::Num(x) => gradsheet_engine::format_number(*x),
                gradsheet_labs::Value::Text(s) => field(s),
            })
            .collect();
        line(cells, &mut out);
    }
    out.into_bytes()
}

/// A lab's pictures as files `(name, bytes)`: each figure as `<lab>-<figure>.svg` (see
/// [`gradsheet_labs::Figure::stem`]) and, with `png`, as `<lab>-<figure>.png` too, with
/// each heatmap panel also alone at its own resolution (`<lab>-<figure>-<panel>.png`, a
/// block of pixels per cell); each image as `<lab>-<image>.png`.
///
/// # Errors
///
/// [`ChartError`] when a figure cannot be drawn (no finite point, a range wider than an
/// `f64`).
pub fn files(out: &Output, png: bool) -> Result<Vec<(String, Vec<u8>)>, ChartError> {
    let mut files = Vec::new();
    for f in &out.figures {
        let stem = f.stem(&out.lab);
        files.push((format!("{stem}.svg"), chart::figure(f, chart::Format::Svg)?));
        if !png {
            continue;
        }
        files.push((format!("{stem}.png"), chart::figure(f, chart::Format::Png)?));
        for p in &f.panels {
            if let Panel::Heatmap(h) = p {
                files.push((
                    format!("{stem}-{}.png", chart::file_part(&h.title)),
                    chart::heatmap_png_of(h)?,
                ));
            }
        }
    }
    for (name, img) in &out.images {
        files.push((format!("{}-{name}.png", out.lab), chart::image_png(img)?));
    }
    Ok(files)
}

/// A cell of a lab workbook.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// An input, typed as a number.
    Num(f64),
    /// A label.
    Text(String),
    /// A live formula (with its leading `=`) and the lab's value of it.
    Formula(String, f64),
    /// An array formula (with its leading `=`) filling the range from this cell to
    /// (last row, last column), and its value here (the range's other cells are its).
    Array(String, u32, u16, f64),
}

/// One sheet: cells at 0-based (row, column).
#[derive(Clone, Debug, PartialEq)]
pub struct Sheet {
    /// The sheet's name.
    pub name: String,
    /// The cells, in the order they were laid out.
    pub cells: Vec<(u32, u16, Cell)>,
}

/// A lab as a workbook.
#[derive(Clone, Debug, PartialEq)]
pub struct Book {
    /// The lab's name.
    pub lab: String,
    /// The sheets.
    pub sheets: Vec<Sheet>,
    /// Workbook-wide names as `(name, target)`, for example `("alpha", "=focal!$B$1")`,
    /// so that formulas can name their inputs (`=-alpha*…`).
    pub names: Vec<(String, String)>,
}

impl Book {
    /// A workbook of these sheets, without defined names.
    pub fn new(lab: &str, sheets: Vec<Sheet>) -> Book {
        Book {
            lab: lab.to_string(),
            sheets,
            names: Vec::new(),
        }
    }

    /// The workbook's bytes (see [`to_xlsx`]).
    ///
    /// # Errors
    ///
    /// When the xlsx writer fails (a name Excel rejects included).
    pub fn to_xlsx(
        &self,
        zero_cached_results: bool,
    ) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
        to_xlsx(self, zero_cached_results)
    }

    /// Every formula cell: (sheet, row, column, formula, the lab's value).
    pub fn formulas(&self) -> impl Iterator<Item = (&str, u32, u16, &str, f64)> {
        self.sheets.iter().flat_map(|s| {
            s.cells.iter().filter_map(move |(r, c, cell)| match cell {
                Cell::Formula(f, v) | Cell::Array(f, _, _, v) => {
                    Some((s.name.as_str(), *r, *c, f.as_str(), *v))
                }
                _ => None,
            })
        })
    }
}

/// The A1 name of a 0-based cell.
pub(crate) fn a1(row: u32, col: u16) -> String {
    format!("{}{}", column_number_to_name(col), row + 1)
}

/// The absolute ($A$1) name of a 0-based cell.
pub(crate) fn abs(row: u32, col: u16) -> String {
    format!("${}${}", column_number_to_name(col), row + 1)
}

/// The absolute range of a `h`×`w` block at (r0, c0).
pub(crate) fn abs_block(r0: u32, c0: u16, h: usize, w: usize) -> String {
    format!(
        "{}:{}",
        abs(r0, c0),
        abs(r0 + h as u32 - 1, c0 + w as u16 - 1)
    )
}

/// A `h`×`w` window range at (r0, c0).
pub(crate) fn block(r0: u32, c0: u16, h: usize, w: usize) -> String {
    range(r0, c0, r0 + h as u32 - 1, c0 + w as u16 - 1)
}

/// The letters of a 0-based column.
pub(crate) fn column_name(col: usize) -> String {
    column_number_to_name(col as u16)
}

/// A range `A1:B2` between two 0-based cells.
pub(crate) fn range(r0: u32, c0: u16, r1: u32, c1: u16) -> String {
    format!("{}:{}", a1(r0, c0), a1(r1, c1))
}

/// Builds a sheet cell by cell.
pub(crate) struct Builder {
    sheet: Sheet,
}

impl Builder {
    pub(crate) fn new(name: &str) -> Builder {
        Builder {
            sheet: Sheet {
                name: name.to_string(),
                cells: Vec::new(),
            },
        }
    }
    pub(crate) fn num(&mut self, r: u32, c: u16, v: f64) {
        self.sheet.cells.push((r, c, Cell::Num(v)));
    }
    pub(crate) fn text(&mut self, r: u32, c: u16, s: &str) {
        self.sheet.cells.push((r, c, Cell::Text(s.to_string())));
    }
    pub(crate) fn f(&mut self, r: u32, c: u16, f: String, v: f64) {
        self.sheet.cells.push((r, c, Cell::Formula(f, v)));
    }
    pub(crate) fn headers(&mut self, r: u32, c0: u16, hs: &[&str]) {
        for (i, h) in hs.iter().enumerate() {
            self.text(r, c0 + i as u16, h);
        }
    }
    pub(crate) fn done(self) -> Sheet {
        self.sheet
    }
}

/// The cached result as the xlsx stores it: the shortest text that reads back to the
/// same double (`{:e}` beyond the plain range keeps it short and exact).
fn result_text(v: f64) -> String {
    if !v.is_finite() {
        return "#NUM!".into();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-5..1e16).contains(&a) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// The workbook's bytes, with its defined names. `zero_cached_results` caches 0 for every
/// formula instead of the lab's value: only for tests that prove a spreadsheet
/// recalculated.
///
/// # Errors
///
/// When the xlsx writer fails (a name Excel rejects included).
pub fn to_xlsx(
    book: &Book,
    zero_cached_results: bool,
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    for s in &book.sheets {
        let ws = wb.add_worksheet();
        ws.set_name(&s.name)?;
        for (r, c, cell) in &s.cells {
            match cell {
                Cell::Num(v) => {
                    ws.write_number(*r, *c, *v)?;
                }
                Cell::Text(t) => {
                    ws.write_string_with_format(*r, *c, t, &bold)?;
                }
                Cell::Formula(f, v) => {
                    let res = if zero_cached_results {
                        "0".to_string()
                    } else {
                        result_text(*v)
                    };
                    ws.write_formula(*r, *c, Formula::new(f).set_result(res))?;
                }
                Cell::Array(f, last_row, last_col, v) => {
                    let res = if zero_cached_results {
                        "0".to_string()
                    } else {
                        result_text(*v)
                    };
                    ws.write_array_formula(
                        *r,
                        *c,
                        *last_row,
                        *last_col,
                        Formula::new(f).set_result(res),
                    )?;
                }
            }
        }
    }
    for (name, target) in &book.names {
        wb.define_name(name, target)?;
    }
    wb.save_to_buffer()
}

/// Writes a row vector at (r, c0..) as values.
pub(crate) fn row_values(b: &mut Builder, r: u32, c0: u16, xs: &[f64]) {
    for (j, x) in xs.iter().enumerate() {
        b.num(r, c0 + j as u16, *x);
    }
}

/// Writes a matrix at (r0, c0) as values; returns the row below it.
pub(crate) fn matrix_values(b: &mut Builder, r0: u32, c0: u16, m: &[Vec<f64>]) -> u32 {
    for (i, row) in m.iter().enumerate() {
        row_values(b, r0 + i as u32, c0, row);
    }
    r0 + m.len() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(a1(0, 0), "A1");
        assert_eq!(abs(7, 2), "$C$8");
        assert_eq!(range(1, 1, 5, 1), "B2:B6");
    }

    #[test]
    fn every_book_writes() {
        let books = [
            entropy(Version::CourseV3),
            entropy(Version::Courses),
            entropy(Version::Course22),
            mom_bias(),
            layers(),
            broadcasting(),
            style_loss(),
            emb_sizing(),
            conv(Version::CourseV3).unwrap(),
            collab(Version::CourseV3).unwrap(),
            collab(Version::Courses).unwrap(),
            emb_results(),
        ];
        // course22's numbers are not shipped; without them (no test here installs them:
        // tests/it/labs_libreoffice.rs does) each of its books says where to get them.
        for e in [
            conv(Version::Course22).unwrap_err(),
            collab(Version::Course22).unwrap_err(),
            titanic().unwrap_err(),
        ] {
            assert!(e.to_string().contains("GRADSHEET_COURSE22"), "{e}");
        }
        for b in &books {
            assert!(b.formulas().count() > 0, "{}", b.lab);
            assert!(b.formulas().all(|f| f.4.is_finite()), "{}", b.lab);
            to_xlsx(b, false).unwrap();
        }
    }
}

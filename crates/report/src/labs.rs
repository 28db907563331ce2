//! The fast.ai workbook labs (`gradsheet-labs`) as xlsx workbooks whose cells are live
//! formulas like the original sheets, with the labs' values as cached results.
//!
//! A workbook is first built as a [`Book`]: plain cells (inputs as values, outputs as
//! formula text with the lab's value). [`to_xlsx`] turns it into bytes; tests walk the
//! same [`Book`] to compare every formula a spreadsheet recalculates with the lab's value.
//! Formulas use only functions Excel and LibreOffice evaluate alike (`EXP`, `LOG`,
//! `SUM`, `SUMPRODUCT`, `MMULT` of a row by a column, `MAX`, `ROUND`, `MIN`, `IF`) and
//! nothing volatile.
//!
//! ```
//! use gradsheet_report::labs;
//! let book = labs::mom_bias();
//! let (_, _, _, f, v) = book.formulas().next().unwrap();
//! assert!(f.starts_with('='));
//! assert!(v.is_finite());
//! let bytes = labs::to_xlsx(&book, false).unwrap();
//! assert_eq!(&bytes[..2], b"PK");
//! ```

use gradsheet_labs::collab::Version;
use gradsheet_labs::{collab, conv, entropy, layers, mom_bias, small, titanic};
use rust_xlsxwriter::{Format, Formula, Workbook};

/// The labs crate, re-exported so that the app reaches the workbook labs through the
/// report crate it already depends on.
pub use gradsheet_labs;

use crate::xlsx::column_name;

/// A cell of a lab workbook.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// An input, typed as a number.
    Num(f64),
    /// A label.
    Text(String),
    /// A live formula (with its leading `=`) and the lab's value of it.
    Formula(String, f64),
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
}

impl Book {
    /// Every formula cell: (sheet, row, column, formula, the lab's value).
    pub fn formulas(&self) -> impl Iterator<Item = (&str, u32, u16, &str, f64)> {
        self.sheets.iter().flat_map(|s| {
            s.cells.iter().filter_map(move |(r, c, cell)| match cell {
                Cell::Formula(f, v) => Some((s.name.as_str(), *r, *c, f.as_str(), *v)),
                _ => None,
            })
        })
    }
}

/// The A1 name of a 0-based cell.
pub(crate) fn a1(row: u32, col: u16) -> String {
    format!("{}{}", column_name(col as usize), row + 1)
}

/// The absolute ($A$1) name of a 0-based cell.
pub(crate) fn abs(row: u32, col: u16) -> String {
    format!("${}${}", column_name(col as usize), row + 1)
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

/// The workbook's bytes. `zero_cached_results` caches 0 for every formula instead of the
/// lab's value: only for tests that prove a spreadsheet recalculated.
///
/// # Errors
///
/// When the xlsx writer fails.
pub fn to_xlsx(
    book: &Book,
    zero_cached_results: bool,
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    to_xlsx_with_names(book, &[], zero_cached_results)
}

/// [`to_xlsx`] with workbook-wide defined names, each `(name, target)` such as
/// `("alpha", "=focal!$B$1")`, so that formulas can name their inputs (`=-alpha*…`).
///
/// # Errors
///
/// When the xlsx writer fails (a name Excel rejects included).
pub fn to_xlsx_with_names(
    book: &Book,
    names: &[(String, String)],
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
            }
        }
    }
    for (name, target) in names {
        wb.define_name(name, target)?;
    }
    wb.save_to_buffer()
}

/// A softmax block at (r0, c0): class, logit, `=EXP`, `=exp/sum`, and optionally the
/// sigmoid `=exp/(1+exp)`; a total row with `=SUM`. Returns the row of the totals.
fn softmax_block(
    b: &mut Builder,
    r0: u32,
    c0: u16,
    st: &entropy::SoftmaxTable,
    sigmoid: Option<&[f64]>,
) -> u32 {
    let mut hs = vec!["class", "output", "exp", "softmax"];
    if sigmoid.is_some() {
        hs.push("sigmoid");
    }
    b.headers(r0, c0, &hs);
    let n = st.logits.len() as u32;
    let total = r0 + 1 + n;
    for i in 0..n {
        let r = r0 + 1 + i;
        let k = i as usize;
        b.text(r, c0, entropy::CLASSES.get(k).copied().unwrap_or(""));
        b.num(r, c0 + 1, st.logits[k]);
        b.f(r, c0 + 2, format!("=EXP({})", a1(r, c0 + 1)), st.exps[k]);
        b.f(
            r,
            c0 + 3,
            format!("={}/{}", a1(r, c0 + 2), abs(total, c0 + 2)),
            st.probs[k],
        );
        if let Some(sg) = sigmoid {
            b.f(r, c0 + 4, format!("={0}/(1+{0})", a1(r, c0 + 2)), sg[k]);
        }
    }
    b.text(total, c0, "total");
    b.f(
        total,
        c0 + 2,
        format!("=SUM({})", range(r0 + 1, c0 + 2, total - 1, c0 + 2)),
        st.sum_exp,
    );
    b.f(
        total,
        c0 + 3,
        format!("=SUM({})", range(r0 + 1, c0 + 3, total - 1, c0 + 3)),
        st.sum_probs,
    );
    total
}

/// The binary cross-entropy rows (log10), columns A:J from row `r0`.
fn bce_block(b: &mut Builder, r0: u32) {
    b.headers(
        r0,
        0,
        &[
            "is cat",
            "is dog",
            "pred",
            "bce",
            "bce (IF)",
            "log cat",
            "log dog",
            "nll",
            "index",
            "log p[index]",
        ],
    );
    for (i, row) in entropy::entropy_rows(&entropy::IS_CAT, &entropy::PREDS)
        .iter()
        .enumerate()
    {
        let r = r0 + 1 + i as u32;
        let c = |col: u16| a1(r, col);
        b.num(r, 0, row.is_cat);
        b.f(r, 1, format!("=1-{}", c(0)), row.is_dog);
        b.num(r, 2, row.pred);
        b.f(
            r,
            3,
            format!("=-{0}*LOG({1})-(1-{0})*LOG(1-{1})", c(0), c(2)),
            row.bce,
        );
        b.f(
            r,
            4,
            format!("=-IF({0}=1,LOG({1}),LOG(1-{1}))", c(0), c(2)),
            row.bce_if,
        );
        b.f(r, 5, format!("=LOG({})", c(2)), row.log_cat);
        b.f(r, 6, format!("=LOG(1-{})", c(2)), row.log_dog);
        b.f(
            r,
            7,
            format!("=-{}*{}-{}*{}", c(0), c(5), c(1), c(6)),
            row.nll,
        );
        b.f(r, 8, format!("=IF({}=1,1,2)", c(0)), row.idx as f64);
        b.f(
            r,
            9,
            format!("=IF({}=1,{},{})", c(8), c(5), c(6)),
            row.idx_pred,
        );
    }
}

/// entropy_example.xlsx of a version: softmax (and sigmoid) with `=EXP`, `=C3/$C$8`,
/// and binary cross-entropy `=-A2*LOG(C2)-(1-A2)*LOG(1-C2)`.
pub fn entropy(v: Version) -> Book {
    let mut sm = Builder::new("softmax");
    let mut bce = Builder::new("entropy");
    match v {
        Version::CourseV3 => {
            let s = entropy::course_v3_softmax();
            sm.text(0, 0, "image 1");
            softmax_block(&mut sm, 1, 0, &s.image1, Some(&s.sigmoid1));
            sm.text(0, 6, "image 2");
            softmax_block(&mut sm, 1, 6, &s.image2, Some(&s.sigmoid2));
            bce_block(&mut bce, 0);
        }
        Version::Courses => {
            let st = entropy::softmax_table(&entropy::COURSES_LOGITS);
            softmax_block(&mut sm, 0, 0, &st, None);
            bce_block(&mut bce, 0);
        }
        Version::Course22 => {
            let c = entropy::course22();
            let total = softmax_block(&mut sm, 0, 0, &c.softmax, None);
            sm.headers(0, 4, &["actual", "y*log(p)"]);
            for i in 0..c.terms.len() as u32 {
                let r = 1 + i;
                sm.num(r, 4, entropy::C22_ACTUALS[i as usize]);
                sm.f(
                    r,
                    5,
                    format!("={}*LOG({})", a1(r, 4), a1(r, 3)),
                    c.terms[i as usize],
                );
            }
            sm.text(total + 1, 4, "xent");
            sm.f(
                total + 1,
                5,
                format!("=-SUM({})", range(1, 5, total - 1, 5)),
                c.xent,
            );
            bce.headers(0, 0, &["is cat", "pred", "1-pred", "bce", "bce (IF)"]);
            for i in 0..entropy::PREDS.len() {
                let r = 1 + i as u32;
                let x = |col: u16| a1(r, col);
                bce.num(r, 0, entropy::IS_CAT[i]);
                bce.num(r, 1, entropy::PREDS[i]);
                bce.f(r, 2, format!("=1-{}", x(1)), c.pred_not_cat[i]);
                bce.f(
                    r,
                    3,
                    format!("=-{0}*LOG({1})-(1-{0})*LOG({2})", x(0), x(1), x(2)),
                    c.bce[i],
                );
                bce.f(
                    r,
                    4,
                    format!("=-IF({0}=1,LOG({1}),LOG({2}))", x(0), x(1), x(2)),
                    c.bce_if[i],
                );
            }
        }
    }
    Book {
        lab: "entropy".into(),
        sheets: vec![sm.done(), bce.done()],
    }
}

/// mom_bias.xlsx: Sheet1's EMA from 0 and its bias correction (`=C2*0.9+B2*0.1`,
/// `=1-0.9^A2`, `=C2/D2`), and Sheet1 (2)'s exponentially weighted mean and variance.
pub fn mom_bias() -> Book {
    let s = mom_bias::sheet1();
    let mut b = Builder::new("bias");
    b.headers(
        0,
        0,
        &[
            "t",
            "value",
            "ema",
            "1-beta^t",
            "debiased",
            "1-beta^t (recursive)",
            "4-step average",
        ],
    );
    b.text(0, 8, "beta");
    b.num(0, 9, 0.9);
    b.text(1, 8, "1-beta");
    b.num(1, 9, 0.1);
    let (beta, omb) = (abs(0, 9), abs(1, 9));
    for (i, row) in s.rows.iter().enumerate() {
        let r = 1 + i as u32;
        b.num(r, 0, row.t as f64);
        b.num(r, 1, row.value);
        let prev = if i == 0 {
            "0".to_string()
        } else {
            a1(r - 1, 2)
        };
        b.f(r, 2, format!("={prev}*{beta}+{}*{omb}", a1(r, 1)), row.ema);
        b.f(r, 3, format!("=1-{beta}^{}", a1(r, 0)), row.correction);
        b.f(r, 4, format!("={}/{}", a1(r, 2), a1(r, 3)), row.debiased);
        if let Some(cr) = row.correction_recursive {
            b.f(r, 5, format!("={omb}+{}*{beta}", a1(r - 1, 3)), cr);
        }
        if let Some(m) = row.moving_avg4 {
            b.f(r, 6, format!("=AVERAGE({})", range(r - 3, 1, r, 1)), m);
        }
    }
    b.text(3, 8, "0.99^8");
    b.f(3, 9, "=0.99^8".into(), s.j2);

    let rows = mom_bias::sheet1_2();
    let mut e = Builder::new("ew variance");
    e.headers(
        0,
        0,
        &[
            "x", "ma", "x^2", "ma x^2", "delta", "ma^2", "ew var", "var (10)",
        ],
    );
    e.text(0, 9, "old weight");
    e.num(0, 10, 0.1);
    e.text(1, 9, "new weight");
    e.f(1, 10, format!("=1-{}", abs(0, 10)), 1.0 - 0.1);
    let (ow, nw) = (abs(0, 10), abs(1, 10));
    for (i, row) in rows.iter().enumerate() {
        let r = 1 + i as u32;
        let c = |col: u16| a1(r, col);
        let p = |col: u16| a1(r - 1, col);
        e.num(r, 0, row.x);
        e.f(r, 2, format!("={}^2", c(0)), row.x2);
        if i == 0 {
            e.f(r, 1, format!("={}", c(0)), row.ma);
            e.f(r, 3, format!("={}", c(2)), row.ma_x2);
            e.num(r, 6, row.emv);
            continue;
        }
        e.f(r, 1, format!("={}*{ow}+{}*{nw}", p(1), c(0)), row.ma);
        e.f(r, 3, format!("={}*{ow}+{}*{nw}", p(3), c(2)), row.ma_x2);
        if let Some(d) = row.delta {
            e.f(r, 4, format!("={}-{}", c(0), p(1)), d);
        }
        if let Some(m2) = row.ma2 {
            e.f(r, 5, format!("={}+{}*{nw}", p(1), c(4)), m2);
        }
        let emv = if i == 1 {
            format!("=VARP({})", range(r - 1, 0, r, 0))
        } else {
            format!("={ow}*({}+{}^2*{nw})", p(6), c(4))
        };
        e.f(r, 6, emv, row.emv);
        if let Some(v10) = row.var10 {
            e.f(r, 7, format!("=VARP({})", range(r - 9, 0, r, 0)), v10);
        }
    }
    Book {
        lab: "mom_bias".into(),
        sheets: vec![b.done(), e.done(), batchnorm_sheet()],
    }
}

/// Sheet1 (3): the records (group, x, x²) in A:C, each group's statistics with
/// `AVERAGEIF`/`COUNTIF`, and the running (momentum 0.2) batch-norm statistics.
fn batchnorm_sheet() -> Sheet {
    let recs = mom_bias::pivot_records();
    let bn = mom_bias::sheet1_3();
    let mut b = Builder::new("batchnorm");
    b.headers(0, 0, &["group", "x", "x^2"]);
    for (i, (g, x, x2)) in recs.iter().enumerate() {
        row_values(&mut b, 1 + i as u32, 0, &[*g, *x, *x2]);
    }
    let n = recs.len() as u32;
    let col = |c: u16| abs_block(1, c, n as usize, 1);
    let (gs, xs, x2s) = (col(0), col(1), col(2));
    b.headers(
        0,
        4,
        &[
            "group", "mean", "var", "mean x^2", "bn mv", "count", "m count", "s", "m s", "ma",
            "ma2", "ss", "m ss", "mv",
        ],
    );
    b.text(0, 19, "mom");
    b.num(0, 20, 0.2);
    let mom = abs(0, 20);
    for (i, g) in bn.groups.iter().enumerate() {
        let r = 1 + i as u32;
        let c = |k: u16| a1(r, 4 + k);
        let p = |k: u16| a1(r - 1, 4 + k);
        b.num(r, 4, g.group);
        b.f(r, 5, format!("=AVERAGEIF({gs},{},{xs})", c(0)), g.mean);
        b.f(
            r,
            6,
            format!(
                "=SUMPRODUCT(({gs}={0})*({xs}-{1})^2)/COUNTIF({gs},{0})",
                c(0),
                c(1)
            ),
            g.var,
        );
        b.f(r, 7, format!("=AVERAGEIF({gs},{},{x2s})", c(0)), g.mean_x2);
        b.num(r, 9, g.count);
        b.f(r, 11, format!("={}*{}", c(5), c(1)), g.s);
        b.f(r, 15, format!("={}*{}", c(5), c(3)), g.ss);
        if i == 0 {
            b.f(r, 8, format!("={}", c(2)), g.bn_mv);
            b.f(r, 10, format!("={}", c(5)), g.m_count);
            b.f(r, 12, format!("={}", c(7)), g.m_s);
            b.f(r, 13, format!("={}/{}", c(7), c(5)), g.ma);
            b.f(r, 14, format!("={}", c(1)), g.ma2);
            b.f(r, 16, format!("={}", c(11)), g.m_ss);
            b.f(
                r,
                17,
                format!("={0}/{1}-({2}/{1})*({2}/{1})", c(11), c(5), c(7)),
                g.mv,
            );
            continue;
        }
        b.f(r, 8, format!("={}*(1-{mom})+{mom}*{}", p(4), c(2)), g.bn_mv);
        let lerp = |prev: String, cur: String| format!("={prev}+({cur}-{prev})*{mom}");
        b.f(r, 10, lerp(p(6), c(5)), g.m_count);
        b.f(r, 12, lerp(p(8), c(7)), g.m_s);
        b.f(r, 13, format!("={}/{}", c(8), c(6)), g.ma);
        b.f(r, 14, lerp(p(10), c(1)), g.ma2);
        b.f(r, 16, lerp(p(12), c(11)), g.m_ss);
        b.f(r, 17, format!("={}/{}-{2}*{2}", c(12), c(6), c(9)), g.mv);
    }
    let tr = 1 + bn.groups.len() as u32;
    b.text(tr, 4, "total");
    b.f(tr, 5, format!("=AVERAGE({xs})"), bn.total.0);
    b.f(tr, 6, format!("=VARP({xs})"), bn.total.1);
    b.f(tr, 7, format!("=AVERAGE({x2s})"), bn.total.2);
    b.done()
}

/// Writes a row vector at (r, c0..) as values.
fn row_values(b: &mut Builder, r: u32, c0: u16, xs: &[f64]) {
    for (j, x) in xs.iter().enumerate() {
        b.num(r, c0 + j as u16, *x);
    }
}

/// Writes a matrix at (r0, c0) as values; returns the row below it.
fn matrix_values(b: &mut Builder, r0: u32, c0: u16, m: &[Vec<f64>]) -> u32 {
    for (i, row) in m.iter().enumerate() {
        row_values(b, r0 + i as u32, c0, row);
    }
    r0 + m.len() as u32
}

/// `row · W` into row `r` from column `c0`: `=MMULT(row, W column)` per output, a 1×1
/// product that Excel and LibreOffice both return as a plain value.
fn mmult_row_cells(
    b: &mut Builder,
    r: u32,
    c0: u16,
    x: (u32, u16, usize),
    w: (u32, u16, usize),
    out: &[f64],
) {
    let (xr, xc, n) = x;
    let (wr, wc, _) = w;
    for (j, v) in out.iter().enumerate() {
        let col = wc + j as u16;
        b.f(
            r,
            c0 + j as u16,
            format!(
                "=MMULT({},{})",
                abs_block(xr, xc, 1, n),
                range(wr, col, wr + n as u32 - 1, col)
            ),
            *v,
        );
    }
}

/// A layer of the forward pass: its pre-activation name and values, and the activation
/// after it (none for the output layer).
type Layer<'a> = (&'a str, &'a [f64], Option<(&'a str, &'a [f64])>);

/// Where the forward pass of a layers sheet put things (0-based rows; vectors start in
/// column B).
struct MlpCells {
    /// The row of activations 2.
    a2_row: u32,
    /// The first row of w3.
    w3_row: u32,
    /// The row of the softmax.
    p_row: u32,
    /// The first free row below.
    next: u32,
}

/// The output layer from a2 at row `a2_row` (`n` wide) through the weights at
/// `w3_row`: `=MMULT`, `=EXP`, `=SUM`, the softmax and `-LOG(p)*y` (y in row 2).
/// Returns (softmax row, next free row).
fn head_cells(
    b: &mut Builder,
    mut r: u32,
    (a2_row, n): (u32, usize),
    w3_row: u32,
    (o, sum_exp, p, terms, loss): (&[f64], f64, &[f64], &[f64], f64),
) -> (u32, u32) {
    let m = o.len() as u16;
    b.text(r, 0, "out");
    mmult_row_cells(b, r, 1, (a2_row, 1, n), (w3_row, 1, n), o);
    let o_row = r;
    r += 1;
    b.text(r, 0, "exp");
    for (j, x) in o.iter().enumerate() {
        let c = 1 + j as u16;
        b.f(r, c, format!("=EXP({})", a1(o_row, c)), x.exp());
    }
    let exp_row = r;
    b.text(exp_row, m + 2, "sum");
    b.f(
        exp_row,
        m + 3,
        format!("=SUM({})", range(exp_row, 1, exp_row, m)),
        sum_exp,
    );
    r += 1;
    b.text(r, 0, "softmax");
    for (j, v) in p.iter().enumerate() {
        let c = 1 + j as u16;
        b.f(
            r,
            c,
            format!("={}/{}", a1(exp_row, c), abs(exp_row, m + 3)),
            *v,
        );
    }
    let p_row = r;
    r += 1;
    b.text(r, 0, "loss terms");
    for (j, v) in terms.iter().enumerate() {
        let c = 1 + j as u16;
        b.f(r, c, format!("=-LOG({})*{}", a1(p_row, c), a1(1, c)), *v);
    }
    b.text(r, m + 2, "loss");
    b.f(r, m + 3, format!("=SUM({})", range(r, 1, r, m)), loss);
    (p_row, r + 2)
}

/// The inputs, weights and forward pass of a layers sheet: `MMULT`, `MAX(0,…)` and the
/// softmax head.
fn mlp_cells(b: &mut Builder, mlp: &layers::Mlp, f: &layers::Forward) -> MlpCells {
    b.text(0, 0, "x");
    row_values(b, 0, 1, &mlp.x);
    b.text(1, 0, "y");
    row_values(b, 1, 1, &mlp.y);
    // Weights below, one block under another, each labelled.
    let mut r = 3;
    let mut blocks = Vec::new();
    for (name, w) in [("w1", &mlp.w1), ("w2", &mlp.w2), ("w3", &mlp.w3)] {
        b.text(r, 0, name);
        let end = matrix_values(b, r, 1, w);
        blocks.push((r, w.len()));
        r = end + 1;
    }
    let mut prev = (0u32, 1u16, mlp.x.len());
    let hidden: [Layer<'_>; 2] = [
        ("z1", &f.z1, Some(("a1", &f.a1))),
        ("z2", &f.z2, Some(("a2", &f.a2))),
    ];
    for (k, (zname, z, act)) in hidden.iter().enumerate() {
        let (wr, wn) = blocks[k];
        b.text(r, 0, zname);
        mmult_row_cells(b, r, 1, prev, (wr, 1, wn), z);
        r += 1;
        if let Some((aname, a)) = act {
            b.text(r, 0, aname);
            for (j, v) in a.iter().enumerate() {
                let c = 1 + j as u16;
                b.f(r, c, format!("=MAX(0,{})", a1(r - 1, c)), *v);
            }
            prev = (r, 1, a.len());
            r += 1;
        }
    }
    let a2_row = prev.0;
    let w3_row = blocks[2].0;
    let (p_row, next) = head_cells(
        b,
        r,
        (a2_row, f.a2.len()),
        w3_row,
        (&f.o, f.sum_exp, &f.p, &f.loss_terms, f.loss),
    );
    MlpCells {
        a2_row,
        w3_row,
        p_row,
        next,
    }
}

/// layers_example.xlsx: the fixed sheet (forward pass with `MMULT`, `MAX(0,…)`, `EXP`,
/// softmax and log10 loss; dL/dout `=p-y`, dL/dw3 `=a2·dL/dout`, one step
/// `=w3-dL/dw3*delta` and the forward pass after it) and the random sheet (its forward
/// pass, `=SQRT(SUMXMY2(p,y))` and its dL/dw3 as the sheet computes it, from the weights).
pub fn layers() -> Book {
    let fx = layers::fixed();
    let mut b = Builder::new("fixed");
    let at = mlp_cells(&mut b, &fx.mlp, &fx.forward);
    let m = fx.dl_dout.len();
    let n2 = fx.forward.a2.len();
    let mut r = at.next;
    b.text(r, 0, "dL/dout");
    for (j, v) in fx.dl_dout.iter().enumerate() {
        let c = 1 + j as u16;
        b.f(r, c, format!("={}-{}", a1(at.p_row, c), a1(1, c)), *v);
    }
    let d_row = r;
    b.text(r, m as u16 + 2, "delta");
    b.num(r, m as u16 + 3, fx.delta);
    let delta = abs(r, m as u16 + 3);
    r += 2;
    b.text(r, 0, "dL/dw3");
    let g_row = r;
    for (i, row) in fx.dl_dw3.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            let c = 1 + j as u16;
            b.f(
                g_row + i as u32,
                c,
                format!(
                    "={}*{}",
                    abs(at.a2_row, 1 + i as u16),
                    format_args!("{}${}", column_name(c as usize), d_row + 1)
                ),
                *v,
            );
        }
    }
    r = g_row + n2 as u32 + 1;
    b.text(r, 0, "new w3");
    let w3n_row = r;
    for (i, row) in fx.w3_new.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            let c = 1 + j as u16;
            b.f(
                w3n_row + i as u32,
                c,
                format!(
                    "={}-{}*{delta}",
                    a1(at.w3_row + i as u32, c),
                    a1(g_row + i as u32, c)
                ),
                *v,
            );
        }
    }
    r = w3n_row + n2 as u32 + 1;
    b.text(r, 0, "after the step");
    let a = &fx.after;
    head_cells(
        &mut b,
        r + 1,
        (at.a2_row, n2),
        w3n_row,
        (&a.0, a.1, &a.2, &a.3, a.4),
    );

    let rnd = layers::random();
    let mut rb = Builder::new("random");
    let at = mlp_cells(&mut rb, &rnd.mlp, &rnd.forward);
    let m = rnd.dl_dout.len() as u16;
    let r = at.next;
    rb.text(r, 0, "rmse");
    rb.f(
        r,
        1,
        format!(
            "=SQRT(SUMXMY2({},{}))",
            range(at.p_row, 1, at.p_row, m),
            range(1, 1, 1, m)
        ),
        rnd.rmse,
    );
    rb.text(r + 1, 0, "dL/dout");
    for (j, v) in rnd.dl_dout.iter().enumerate() {
        let c = 1 + j as u16;
        rb.f(r + 1, c, format!("={}-{}", a1(at.p_row, c), a1(1, c)), *v);
    }
    rb.text(r + 3, 0, "dL/dw3 (the sheet's: w3·dL/dout)");
    for (i, row) in rnd.dl_dw3_buggy.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            let c = 1 + j as u16;
            rb.f(
                r + 4 + i as u32,
                c,
                format!(
                    "={}*{}${}",
                    a1(at.w3_row + i as u32, c),
                    column_name(c as usize),
                    r + 2
                ),
                *v,
            );
        }
    }
    Book {
        lab: "layers".into(),
        sheets: vec![b.done(), rb.done()],
    }
}

/// broadcasting.xlsx: c + m with c broadcast down the rows (`=D$2+D12`), along the
/// columns (`=$B5+D12`), and the outer product.
pub fn broadcasting() -> Book {
    let s = small::broadcasting_sheet();
    let mut b = Builder::new("broadcasting");
    let n = s.c.len() as u16;
    b.text(0, 0, "c");
    row_values(&mut b, 0, 1, &s.c);
    b.text(1, 0, "c as a column");
    for (i, x) in s.c.iter().enumerate() {
        b.num(2 + i as u32, 0, *x);
    }
    b.text(1, 2, "m");
    matrix_values(&mut b, 2, 2, &s.m);
    let blocks: [(&str, u16, &[Vec<f64>]); 3] = [
        ("c + m", 3 + n, &s.c_plus_m),
        ("c[:,None] + m", 4 + 2 * n, &s.ccol_plus_m),
        ("c * c[:,None]", 5 + 3 * n, &s.outer),
    ];
    for (k, (title, c0, vals)) in blocks.iter().enumerate() {
        b.text(1, *c0, title);
        for (i, row) in vals.iter().enumerate() {
            let r = 2 + i as u32;
            for (j, v) in row.iter().enumerate() {
                let cj = j as u16;
                let c_row = format!("{}$1", column_name(1 + j));
                let c_col = format!("$A{}", r + 1);
                let f = match k {
                    0 => format!("={c_row}+{}", a1(r, 2 + cj)),
                    1 => format!("={c_col}+{}", a1(r, 2 + cj)),
                    _ => format!("={c_row}*{c_col}"),
                };
                b.f(r, c0 + cj, f, *v);
            }
        }
    }
    Book {
        lab: "broadcasting".into(),
        sheets: vec![b.done()],
    }
}

/// style_loss.xlsx: each 2×2 filter over the 4×4 image as `=SUMPRODUCT(window, filter)`,
/// and the Gram matrix `=SUMPRODUCT(output i, output j)`.
pub fn style_loss() -> Book {
    let s = small::style_loss();
    let mut b = Builder::new("style loss");
    b.text(0, 0, "image");
    for (i, row) in small::STYLE_IMAGE.iter().enumerate() {
        row_values(&mut b, 1 + i as u32, 0, row);
    }
    let mut outs = Vec::new();
    for (k, f) in small::STYLE_FILTERS.iter().enumerate() {
        let fc = 5 + 4 * k as u16;
        b.text(0, fc, &format!("filter {}", k + 1));
        for (i, row) in f.iter().enumerate() {
            row_values(&mut b, 1 + i as u32, fc, row);
        }
        b.text(5, fc, &format!("output {}", k + 1));
        for (i, row) in s.outputs[k].iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                let (r, c) = (6 + i as u32, fc + j as u16);
                let win = range(1 + i as u32, j as u16, 2 + i as u32, j as u16 + 1);
                let filt = format!("{}:{}", abs(1, fc), abs(2, fc + 1));
                b.f(r, c, format!("=SUMPRODUCT({win},{filt})"), *v);
            }
        }
        outs.push(format!("{}:{}", abs(6, fc), abs(8, fc + 2)));
    }
    b.text(10, 0, "gram");
    for i in 0..2 {
        for j in 0..2 {
            b.f(
                11 + i as u32,
                j as u16,
                format!("=SUMPRODUCT({},{})", outs[i], outs[j]),
                s.gram[i][j],
            );
        }
    }
    Book {
        lab: "style_loss".into(),
        sheets: vec![b.done()],
    }
}

/// emb_sizing.xlsx: cardinality `=2^A`, the wanted size, and the rule of thumb
/// `=MIN(600,ROUND(1.6*B^0.56,0))`.
pub fn emb_sizing() -> Book {
    let mut b = Builder::new("emb sizing");
    b.headers(0, 0, &["i", "cardinality", "wanted", "rule"]);
    for (i, (n, want, rule)) in small::emb_sizing_sheet().into_iter().enumerate() {
        let r = 1 + i as u32;
        b.num(r, 0, i as f64);
        b.f(r, 1, format!("=2^{}", a1(r, 0)), n);
        b.num(r, 2, want);
        b.f(
            r,
            3,
            format!("=MIN(600,ROUND(1.6*{}^0.56,0))", a1(r, 1)),
            rule,
        );
    }
    Book {
        lab: "emb_sizing".into(),
        sheets: vec![b.done()],
    }
}

/// The absolute range of a `h`×`w` block at (r0, c0).
fn abs_block(r0: u32, c0: u16, h: usize, w: usize) -> String {
    format!(
        "{}:{}",
        abs(r0, c0),
        abs(r0 + h as u32 - 1, c0 + w as u16 - 1)
    )
}

/// A `h`×`w` window range at (r0, c0).
fn block(r0: u32, c0: u16, h: usize, w: usize) -> String {
    range(r0, c0, r0 + h as u32 - 1, c0 + w as u16 - 1)
}

/// conv-example.xlsx of a version (course-v3 = courses, or course22): the digit, the
/// filters, each conv layer as `=SUMPRODUCT(window, $filter$)` (two channels summed
/// in conv2, `MAX(0,…)` where the version has a ReLU), the 2×2 max pool `=MAX(…)` and
/// the dense unit `=SUMPRODUCT(pool, weights)`.
///
/// The blocks sit 28 columns apart so that the sheet's partial windows (conv2 is 25
/// wide, the pool 13) read blank cells beyond a layer, as the original ranges do.
///
/// # Errors
///
/// A shape error from the lab when its arrays are too small.
pub fn conv(v: Version) -> Result<Book, gradsheet_labs::LabError> {
    let net = match v {
        Version::Course22 => conv::course22(),
        _ => conv::course_v3(),
    };
    let f = net.forward()?;
    let mut b = Builder::new("conv");
    let relu = |x: String| {
        if net.relu {
            format!("=MAX(0,{x})")
        } else {
            format!("={x}")
        }
    };
    // Input at A1.
    matrix_values(&mut b, 0, 0, &net.input);
    // Filters: conv1's two at row 31, conv2's four at row 35.
    let (f1_row, f2_row) = (30u32, 34u32);
    for (c, g) in net.filters1.iter().enumerate() {
        b.text(f1_row - 1, 4 * c as u16, &format!("conv1 filter {}", c + 1));
        matrix_values(&mut b, f1_row, 4 * c as u16, g);
    }
    for o in 0..2 {
        for i in 0..2 {
            let c0 = 4 * (2 * o + i) as u16;
            b.text(f2_row - 1, c0, &format!("conv2 out {} in {}", o + 1, i + 1));
            matrix_values(&mut b, f2_row, c0, &net.filters2[o][i]);
        }
    }
    let f1 = |c: usize| abs_block(f1_row, 4 * c as u16, 3, 3);
    let f2 = |o: usize, i: usize| abs_block(f2_row, 4 * (2 * o + i) as u16, 3, 3);
    let (c1_row, c2_row, pool_row, dense_row, out_row) = (40u32, 70u32, 98u32, 114u32, 130u32);
    let col0 = |c: usize| 28 * c as u16;
    for c in 0..2 {
        b.text(c1_row - 1, col0(c), &format!("conv1 channel {}", c + 1));
        for (i, row) in f.conv1[c].iter().enumerate() {
            for (j, val) in row.iter().enumerate() {
                let win = block(i as u32, j as u16, 3, 3);
                b.f(
                    c1_row + i as u32,
                    col0(c) + j as u16,
                    relu(format!("SUMPRODUCT({win},{})", f1(c))),
                    *val,
                );
            }
        }
    }
    for o in 0..2 {
        b.text(c2_row - 1, col0(o), &format!("conv2 channel {}", o + 1));
        for (i, row) in f.conv2[o].iter().enumerate() {
            for (j, val) in row.iter().enumerate() {
                let win = |ch: usize| block(c1_row + i as u32, col0(ch) + j as u16, 3, 3);
                b.f(
                    c2_row + i as u32,
                    col0(o) + j as u16,
                    relu(format!(
                        "SUMPRODUCT({},{})+SUMPRODUCT({},{})",
                        win(0),
                        f2(o, 0),
                        win(1),
                        f2(o, 1)
                    )),
                    *val,
                );
            }
        }
    }
    for c in 0..2 {
        b.text(pool_row - 1, col0(c), &format!("maxpool channel {}", c + 1));
        for (i, row) in f.pool[c].iter().enumerate() {
            for (j, val) in row.iter().enumerate() {
                let win = block(c2_row + 2 * i as u32, col0(c) + 2 * j as u16, 2, 2);
                b.f(
                    pool_row + i as u32,
                    col0(c) + j as u16,
                    format!("=MAX({win})"),
                    *val,
                );
            }
        }
        b.text(dense_row - 1, col0(c), &format!("dense weights {}", c + 1));
        matrix_values(&mut b, dense_row, col0(c), &net.dense[c]);
    }
    b.text(out_row, 0, "dense");
    let (ph, pw) = (f.pool[0].len(), f.pool[0].first().map_or(0, Vec::len));
    for c in 0..2 {
        b.f(
            out_row,
            1 + c as u16,
            format!(
                "=SUMPRODUCT({},{})",
                block(pool_row, col0(c), ph, pw),
                block(dense_row, col0(c), ph, pw)
            ),
            f.dense_terms[c],
        );
    }
    b.text(out_row, 4, "output");
    b.f(
        out_row,
        5,
        format!("={}+{}", a1(out_row, 1), a1(out_row, 2)),
        f.output,
    );
    Ok(Book {
        lab: "conv".into(),
        sheets: vec![b.done()],
    })
}

/// A collab sheet: ratings at H2:V16 (user ids in G, movie ids in row 1), movie
/// factors at H19:V23 (with the movie biases in row 18 when `bias`), user factors at
/// B25:F39 (user biases in A), predictions at H25:V39 and the loss.
fn collab_sheet(v: Version, with_bias: bool) -> Sheet {
    let ct = collab::crosstab(v);
    let n_users = ct.users.len() as u32;
    let mut b = Builder::new(if with_bias { "bias" } else { "dotprod" });
    let (rat_row, rat_col) = (1u32, 7u16);
    b.text(0, 6, "user \\ movie");
    for (j, m) in ct.movies.iter().enumerate() {
        b.num(0, rat_col + j as u16, *m);
    }
    for (i, (u, row)) in ct.users.iter().zip(&ct.ratings).enumerate() {
        let r = rat_row + i as u32;
        b.num(r, 6, *u);
        for (j, x) in row.iter().enumerate() {
            if let Some(x) = x {
                b.num(r, rat_col + j as u16, *x);
            }
        }
    }
    let (ub, uf, mb, mf) = if with_bias {
        collab::bias_params(v)
    } else {
        let (u, m) = collab::dotprod_factors(v);
        (Vec::new(), u, Vec::new(), m)
    };
    let k = mf.len();
    let (mf_row, uf_row) = (18u32, 24u32);
    b.text(mf_row, 6, "movie factors");
    matrix_values(&mut b, mf_row, rat_col, &mf);
    if with_bias {
        b.text(mf_row - 1, 6, "movie bias");
        row_values(&mut b, mf_row - 1, rat_col, &mb);
        b.text(uf_row - 1, 0, "user bias");
        for (i, x) in ub.iter().enumerate() {
            b.num(uf_row + i as u32, 0, *x);
        }
    }
    b.text(uf_row - 1, 1, "user factors");
    matrix_values(&mut b, uf_row, 1, &uf);
    let preds = if with_bias {
        collab::bias_sheet(v)
    } else {
        collab::dotprod_sheet(v)
    };
    // course22's bias sheet leaves blanks at 0 (SINGLE(IF(..))); the older copies add
    // the biases to blank cells too.
    let blank_biases = with_bias && v != Version::Course22;
    for (i, row) in preds.preds.iter().enumerate() {
        let r = uf_row + i as u32;
        for (j, val) in row.iter().enumerate() {
            let c = rat_col + j as u16;
            let col = column_name(c as usize);
            let dot = format!(
                "MMULT($B{0}:{1}{0},{col}${2}:{col}${3})",
                r + 1,
                column_name(k),
                mf_row + 1,
                mf_row + k as u32
            );
            let rating = a1(rat_row + i as u32, c);
            let f = if !with_bias {
                format!("=IF({rating}=\"\",0,{dot})")
            } else if blank_biases {
                format!("=IF({rating}=\"\",0,{dot})+{col}${}+$A{}", mf_row, r + 1)
            } else {
                format!("=IF({rating}=\"\",0,{dot}+{col}${}+$A{})", mf_row, r + 1)
            };
            b.f(r, c, f, *val);
        }
    }
    let ratings = block(rat_row, rat_col, n_users as usize, ct.movies.len());
    let pred_block = block(uf_row, rat_col, n_users as usize, ct.movies.len());
    let loss_row = uf_row + n_users + 1;
    b.text(loss_row, 6, "loss");
    // Excel's SUMXMY2 skips pairs with a blank rating, LibreOffice's counts the blank as
    // 0; where blanks carry a prediction (the biases) the sum is spelled out with an
    // explicit mask so both give the sheet's Excel value.
    let sq = if blank_biases {
        format!("SUMPRODUCT(({ratings}<>\"\")*({ratings}-{pred_block})^2)")
    } else {
        format!("SUMXMY2({ratings},{pred_block})")
    };
    let f = if with_bias && v == Version::Courses {
        format!("=SQRT({sq})")
    } else {
        format!("=SQRT({sq}/COUNT({ratings}))")
    };
    b.f(loss_row, rat_col, f, preds.loss);
    b.done()
}

/// collab_filter.xlsx of a version: the dotprod sheet
/// (`=IF(H2="",0,MMULT($B25:$F25,H$19:H$23))` and
/// `=SQRT(SUMXMY2(ratings,preds)/COUNT(ratings))`) and the bias sheet.
pub fn collab(v: Version) -> Book {
    Book {
        lab: "collab".into(),
        sheets: vec![collab_sheet(v, false), collab_sheet(v, true)],
    }
}

/// titanic.xlsx from the embedded passengers: the kept rows' raw fields (A:H), the ten
/// derived features (I:R, e.g. `=D2/$AB$2`, `=LOG(G2+1)`, `=IF(H2="S",1,0)`), the linear
/// model `=SUMPRODUCT(I2:R2,params)` and the two-ReLU net with its squared errors and
/// mean loss, from the saved Solver parameters.
///
/// # Errors
///
/// A shape error from the lab (the saved parameters have fixed sizes, so none in practice).
pub fn titanic() -> Result<Book, gradsheet_labs::LabError> {
    let tb = titanic::table(&titanic::all_rows());
    let (lin_p, net_p, _) = titanic::saved_params();
    let lin = titanic::linear(&tb, &lin_p)?;
    let net = titanic::nnet(&tb, &net_p)?;
    let mut b = Builder::new("titanic");
    let mut hs = vec![
        "Survived", "Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked",
    ];
    hs.extend(titanic::FEATURES);
    hs.extend([
        "linear",
        "linear err^2",
        "unit 1",
        "unit 2",
        "relu 1",
        "relu 2",
        "nnet",
        "nnet err^2",
    ]);
    b.headers(0, 0, &hs);
    let n = tb.rows.len() as u32;
    let last = n; // 0-based row of the last passenger (row 0 is the header)
                  // Parameters and the maxima, right of the table (column AB on).
    let pc: u16 = 27;
    b.text(0, pc - 1, "max age");
    b.f(0, pc, format!("=MAX(D2:D{})", n + 1), tb.max_age);
    b.text(1, pc - 1, "max fare");
    b.f(1, pc, format!("=MAX(G2:G{})", n + 1), tb.max_fare);
    b.text(3, pc - 1, "linear");
    row_values(&mut b, 3, pc, &lin_p);
    b.text(4, pc - 1, "unit 1");
    row_values(&mut b, 4, pc, &net_p[..10]);
    b.text(5, pc - 1, "unit 2");
    row_values(&mut b, 5, pc, &net_p[10..]);
    let params = |r: u32| abs_block(r, pc, 1, 10);
    for (i, p) in tb.rows.iter().enumerate() {
        let r = 1 + i as u32;
        let c = |col: u16| a1(r, col);
        b.num(r, 0, p.survived);
        b.num(r, 1, p.pclass);
        b.text(r, 2, &p.sex);
        if let Some(a) = p.age {
            b.num(r, 3, a);
        }
        b.num(r, 4, p.sib_sp);
        b.num(r, 5, p.parch);
        b.num(r, 6, p.fare);
        b.text(r, 7, p.embarked.as_deref().unwrap_or(""));
        let x = &tb.x[i];
        let feats = [
            format!("={}", c(4)),
            format!("={}", c(5)),
            format!("={}/{}", c(3), abs(0, pc)),
            format!("=LOG({}+1)", c(6)),
            format!("=IF({}=1,1,0)", c(1)),
            format!("=IF({}=2,1,0)", c(1)),
            format!("=IF({}=\"S\",1,0)", c(7)),
            format!("=IF({}=\"C\",1,0)", c(7)),
            format!("=IF({}=\"male\",1,0)", c(2)),
        ];
        for (k, f) in feats.into_iter().enumerate() {
            b.f(r, 8 + k as u16, f, x[k]);
        }
        b.num(r, 17, x[9]);
        let feat = block(r, 8, 1, 10);
        b.f(
            r,
            18,
            format!("=SUMPRODUCT({feat},{})", params(3)),
            lin.preds[i],
        );
        b.f(r, 19, format!("=({}-{})^2", c(18), c(0)), lin.losses[i]);
        for u in 0..2 {
            b.f(
                r,
                20 + u,
                format!("=SUMPRODUCT({feat},{})", params(4 + u as u32)),
                net.lin[i][u as usize],
            );
            b.f(
                r,
                22 + u,
                format!("=IF({0}<0,0,{0})", c(20 + u)),
                net.relu[i][u as usize],
            );
        }
        b.f(r, 24, format!("={}+{}", c(22), c(23)), net.preds[i]);
        b.f(r, 25, format!("=({}-{})^2", c(0), c(24)), net.losses[i]);
    }
    b.text(7, pc - 1, "linear loss");
    b.f(7, pc, format!("=AVERAGE(T2:T{})", last + 1), lin.loss);
    b.text(8, pc - 1, "nnet loss");
    b.f(8, pc, format!("=AVERAGE(Z2:Z{})", last + 1), net.loss);
    Ok(Book {
        lab: "titanic".into(),
        sheets: vec![b.done()],
    })
}

/// The columns of emb_results' runs: the four settings, ten epoch scores, sd and min.
const EMB_RESULTS_HEADERS: [&str; 16] = [
    "split contins",
    "use dict",
    "init emb",
    "use scaler",
    "s1",
    "s2",
    "s3",
    "s4",
    "s5",
    "s6",
    "s7",
    "s8",
    "s9",
    "s10",
    "sd",
    "min",
];

/// emb_results.xlsx's runs: the four settings, ten scores, `=STDEVP` of the last three
/// and `=MIN` from the second score on.
pub fn emb_results() -> Book {
    let mut b = Builder::new("runs");
    b.headers(0, 0, &EMB_RESULTS_HEADERS);
    for (i, run) in small::emb_results().iter().enumerate() {
        let r = 1 + i as u32;
        for (k, flag) in run.flags.iter().enumerate() {
            b.text(r, k as u16, if *flag { "TRUE" } else { "FALSE" });
        }
        row_values(&mut b, r, 4, &run.scores);
        b.f(r, 14, format!("=STDEVP({})", range(r, 11, r, 13)), run.var);
        b.f(r, 15, format!("=MIN({})", range(r, 5, r, 13)), run.min);
    }
    Book {
        lab: "emb_results".into(),
        sheets: vec![b.done()],
    }
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
            conv(Version::Course22).unwrap(),
            collab(Version::CourseV3),
            collab(Version::Courses),
            collab(Version::Course22),
            titanic().unwrap(),
            emb_results(),
        ];
        for b in &books {
            assert!(b.formulas().count() > 0, "{}", b.lab);
            assert!(b.formulas().all(|f| f.4.is_finite()), "{}", b.lab);
            to_xlsx(b, false).unwrap();
        }
    }
}

/// The workbook labs as notes, tables and pictures: the one implementation behind
/// `gradsheet lab <workbook>` and the web app's labs page.
///
/// ```
/// use gradsheet_report::labs::view::{compute, Options};
/// let s = compute("mom_bias", None, &Options::default(), true).unwrap();
/// assert_eq!(s.tables[0].name, "bias");
/// assert!(s.pictures.iter().any(|(f, _)| f.ends_with(".svg")));
/// ```
pub mod view {
    use super::{self as books, Book};
    use crate::chart::{self, Chart, Format, Series};
    use gradsheet_labs as wb;
    use wb::collab::{self, Version};
    use wb::{conv, entropy, layers, mom_bias, small, titanic, AdamConfig, LbfgsConfig};

    /// Why a workbook lab could not be shown.
    #[derive(Clone, Debug, PartialEq, thiserror::Error)]
    pub enum ViewError {
        /// A bad option: the user can fix it.
        #[error("{0}")]
        Usage(String),
        /// The computation failed.
        #[error("{0}")]
        Failed(String),
    }

    type Result<T> = std::result::Result<T, ViewError>;

    macro_rules! failed {
        ($($t:tt)*) => { ViewError::Failed(format!($($t)*)) };
    }

    /// The options of the workbook labs (the command line's `--version`, `--train`,
    /// `--fit`, `--seed`, `--epochs`), and whether pictures include PNG files.
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct Options {
        /// collab: adam, lbfgs or sgd.
        pub train: Option<String>,
        /// titanic: lbfgs or gd.
        pub fit: Option<String>,
        /// collab, titanic: the seed of the random start.
        pub seed: Option<u64>,
        /// collab, titanic: epochs or the most iterations.
        pub epochs: Option<usize>,
        /// Pictures as PNG too (besides SVG).
        pub png: bool,
    }

    /// Pictures being drawn.
    struct Out {
        files: Vec<(String, Vec<u8>)>,
        png: bool,
    }

    use crate::cell;

    /// The workbook labs and one line about each, in the order they are listed.
    pub fn names() -> &'static [(&'static str, &'static str)] {
        &[
            (
                "entropy",
                "softmax, sigmoid and cross-entropy (entropy_example.xlsx)",
            ),
            (
                "mom_bias",
                "moving averages and Adam's bias correction (mom_bias.xlsx)",
            ),
            (
                "conv",
                "an MNIST digit through two conv layers, max pool and dense (conv-example.xlsx)",
            ),
            (
                "collab",
                "collaborative filtering by matrix factorisation (collab_filter.xlsx)",
            ),
            (
                "titanic",
                "linear and two-ReLU models of Titanic survival (titanic.xlsx)",
            ),
            (
                "layers",
                "a three-layer net: forward pass, gradient and one step (layers_example.xlsx)",
            ),
            (
                "broadcasting",
                "broadcasting a vector over a matrix (broadcasting.xlsx)",
            ),
            (
                "style_loss",
                "conv outputs and their Gram matrix (style_loss.xlsx)",
            ),
            (
                "emb_sizing",
                "the embedding-size rule of thumb (emb_sizing.xlsx)",
            ),
            (
                "emb_results",
                "embedding experiments: runs and pivot (emb_results.xlsx)",
            ),
        ]
    }

    /// A cell of a table: a number or a text.
    #[derive(Clone, Debug)]
    pub enum V {
        /// A number.
        N(f64),
        /// A text.
        T(String),
    }

    fn t(s: impl Into<String>) -> V {
        V::T(s.into())
    }

    /// A table of a lab.
    pub struct Tab {
        /// A short machine name (file names).
        pub name: &'static str,
        /// A human title.
        pub title: String,
        /// Column headers.
        pub headers: Vec<String>,
        /// Rows, each as long as `headers`.
        pub rows: Vec<Vec<V>>,
    }

    impl Tab {
        fn new(name: &'static str, title: impl Into<String>, headers: &[&str]) -> Tab {
            Tab {
                name,
                title: title.into(),
                headers: headers.iter().map(|h| h.to_string()).collect(),
                rows: Vec::new(),
            }
        }

        fn row(&mut self, r: Vec<V>) {
            self.rows.push(r);
        }

        /// A grid as a table: a first column naming the row, then one column per cell.
        fn grid(name: &'static str, title: impl Into<String>, g: &[Vec<f64>]) -> Tab {
            let w = g.iter().map(Vec::len).max().unwrap_or(0);
            let mut headers = vec!["row".to_string()];
            headers.extend((1..=w).map(|j| j.to_string()));
            let rows = g
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let mut out = vec![V::N((i + 1) as f64)];
                    out.extend(r.iter().map(|x| V::N(*x)));
                    out
                })
                .collect();
            Tab {
                name,
                title: title.into(),
                headers,
                rows,
            }
        }
    }

    /// What a lab shows: notes, tables, and pictures (SVG charts and PNG heatmaps).
    #[derive(Default)]
    pub struct Shown {
        /// Sentences about the numbers.
        pub notes: Vec<String>,
        /// The tables; the first is the main one.
        pub tables: Vec<Tab>,
        /// Pictures as (file name, bytes), when asked for.
        pub pictures: Vec<(String, Vec<u8>)>,
        /// The workbook with live formulas.
        pub book: Option<Book>,
    }

    fn nums(xs: &[f64]) -> Vec<V> {
        xs.iter().map(|x| V::N(*x)).collect()
    }

    fn opt(x: Option<f64>) -> V {
        x.map_or(t(""), V::N)
    }

    /// The version a `--version` names, checked against the lab (only entropy, conv and
    /// collab have several).
    pub fn parse_version(name: &str, v: Option<&str>) -> Result<Option<Version>> {
        let has = matches!(name, "entropy" | "conv" | "collab");
        match v {
            None => Ok(None),
            Some(_) if !has => Err(ViewError::Usage(format!(
                "the {name} lab has one version only"
            ))),
            Some("course-v3") => Ok(Some(Version::CourseV3)),
            Some("courses") => Ok(Some(Version::Courses)),
            Some("course22") => Ok(Some(Version::Course22)),
            Some(other) => Err(ViewError::Usage(format!(
                "unknown version '{other}': use course-v3, courses or course22"
            ))),
        }
    }

    /// The lab `name` at version `v` with the options: its tables, notes and (with
    /// `plot`) charts.
    pub fn compute(name: &str, v: Option<Version>, flags: &Options, plot: bool) -> Result<Shown> {
        let only = |what: &str, given: bool| -> Result<()> {
            if given {
                Err(ViewError::Usage(format!(
                    "the {name} lab does not take {what}"
                )))
            } else {
                Ok(())
            }
        };
        if name != "collab" {
            only("--train", flags.train.is_some())?;
        }
        if name != "titanic" {
            only("--fit", flags.fit.is_some())?;
        }
        if name != "collab" && name != "titanic" {
            only("--seed", flags.seed.is_some())?;
            only("--epochs", flags.epochs.is_some())?;
        }
        let mut s = match name {
            "entropy" => entropy_lab(v.unwrap_or(Version::CourseV3)),
            "mom_bias" => mom_bias_lab(),
            "conv" => conv_lab(v.unwrap_or(Version::CourseV3))?,
            "collab" => collab_lab(v.unwrap_or(Version::CourseV3), flags)?,
            "titanic" => titanic_lab(flags)?,
            "layers" => layers_lab(),
            "broadcasting" => broadcasting_lab(),
            "style_loss" => style_lab(),
            "emb_sizing" => emb_sizing_lab(),
            _ => emb_results_lab(),
        };
        if plot {
            s.pictures = pictures(name, v, &s, flags.png)?;
        }
        Ok(s)
    }

    fn version_name(v: Version) -> &'static str {
        match v {
            Version::CourseV3 => "course-v3",
            Version::Courses => "courses",
            Version::Course22 => "course22",
        }
    }

    fn softmax_tab(
        name: &'static str,
        title: &str,
        st: &entropy::SoftmaxTable,
        extra: &[(&str, &[f64])],
    ) -> Tab {
        let mut headers = vec!["class", "logit", "exp", "softmax"];
        headers.extend(extra.iter().map(|(h, _)| *h));
        let mut tab = Tab::new(name, title, &headers);
        for (i, c) in entropy::CLASSES.iter().enumerate() {
            let mut r = vec![
                t(*c),
                V::N(st.logits[i]),
                V::N(st.exps[i]),
                V::N(st.probs[i]),
            ];
            r.extend(extra.iter().map(|(_, xs)| V::N(xs[i])));
            tab.row(r);
        }
        let mut total = vec![t("sum"), t(""), V::N(st.sum_exp), V::N(st.sum_probs)];
        total.extend(extra.iter().map(|_| t("")));
        tab.row(total);
        tab
    }

    fn entropy_lab(v: Version) -> Shown {
        let mut s = Shown {
            notes: vec![format!("version: {}", version_name(v))],
            book: Some(books::entropy(v)),
            ..Shown::default()
        };
        match v {
            Version::CourseV3 => {
                let sm = entropy::course_v3_softmax();
                s.tables.push(softmax_tab(
                    "softmax",
                    "softmax of image 1 (and the sigmoid of each logit)",
                    &sm.image1,
                    &[("sigmoid", &sm.sigmoid1)],
                ));
                s.tables.push(softmax_tab(
                    "softmax2",
                    "softmax of image 2: the same probabilities, different sigmoids",
                    &sm.image2,
                    &[("sigmoid", &sm.sigmoid2)],
                ));
            }
            Version::Courses => {
                let st = entropy::softmax_table(&entropy::COURSES_LOGITS);
                s.tables.push(softmax_tab("softmax", "softmax", &st, &[]));
            }
            Version::Course22 => {
                let c = entropy::course22();
                s.tables.push(softmax_tab(
                    "softmax",
                    "softmax and cross-entropy terms (log10)",
                    &c.softmax,
                    &[("actual", &entropy::C22_ACTUALS), ("y*log(p)", &c.terms)],
                ));
                s.notes.push(format!("cross-entropy: {}", cell(c.xent, 10)));
                let mut b = Tab::new(
                    "bce",
                    "binary cross-entropy (log10)",
                    &["is cat", "pred", "1-pred", "bce", "bce (IF)"],
                );
                for i in 0..entropy::PREDS.len() {
                    b.row(nums(&[
                        entropy::IS_CAT[i],
                        entropy::PREDS[i],
                        c.pred_not_cat[i],
                        c.bce[i],
                        c.bce_if[i],
                    ]));
                }
                s.tables.push(b);
                return s;
            }
        }
        let mut b = Tab::new(
            "bce",
            "binary cross-entropy (log10)",
            &[
                "is cat",
                "is dog",
                "pred",
                "bce",
                "bce (IF)",
                "log cat",
                "log dog",
                "nll",
                "index",
                "log p[index]",
            ],
        );
        for r in entropy::entropy_rows(&entropy::IS_CAT, &entropy::PREDS) {
            b.row(nums(&[
                r.is_cat,
                r.is_dog,
                r.pred,
                r.bce,
                r.bce_if,
                r.log_cat,
                r.log_dog,
                r.nll,
                r.idx as f64,
                r.idx_pred,
            ]));
        }
        s.tables.push(b);
        s
    }

    fn mom_bias_lab() -> Shown {
        let sheet = mom_bias::sheet1();
        let mut a = Tab::new(
            "bias",
            "Sheet1: an EMA from 0 (beta 0.9) and its bias correction",
            &[
                "t",
                "value",
                "ema",
                "1-beta^t",
                "debiased",
                "1-beta^t (recursive)",
                "4-step average",
            ],
        );
        for r in &sheet.rows {
            a.row(vec![
                V::N(r.t as f64),
                V::N(r.value),
                V::N(r.ema),
                V::N(r.correction),
                V::N(r.debiased),
                opt(r.correction_recursive),
                opt(r.moving_avg4),
            ]);
        }
        let mut b = Tab::new(
            "ew_variance",
            "Sheet1 (2): exponentially weighted mean and variance",
            &[
                "x", "ma", "x^2", "ma x^2", "delta", "ma^2", "ew var", "var (10)",
            ],
        );
        for r in mom_bias::sheet1_2() {
            b.row(vec![
                V::N(r.x),
                V::N(r.ma),
                V::N(r.x2),
                V::N(r.ma_x2),
                opt(r.delta),
                opt(r.ma2),
                V::N(r.emv),
                opt(r.var10),
            ]);
        }
        let bn = mom_bias::sheet1_3();
        let mut c = Tab::new(
            "batchnorm",
            "Sheet1 (3): running batch-norm statistics by group",
            &[
                "group", "mean", "var", "mean x^2", "bn mv", "count", "m count", "s", "m s", "ma",
                "ma^2", "ss", "m ss", "mv",
            ],
        );
        for g in &bn.groups {
            c.row(nums(&[
                g.group, g.mean, g.var, g.mean_x2, g.bn_mv, g.count, g.m_count, g.s, g.m_s, g.ma,
                g.ma2, g.ss, g.m_ss, g.mv,
            ]));
        }
        Shown {
            notes: vec![
                format!("0.99^8 = {}", cell(sheet.j2, 10)),
                format!(
                    "grand total: mean {}, var {}, mean x^2 {}",
                    cell(bn.total.0, 8),
                    cell(bn.total.1, 8),
                    cell(bn.total.2, 8)
                ),
            ],
            tables: vec![a, b, c],
            book: Some(books::mom_bias()),
            ..Shown::default()
        }
    }

    fn conv_net(v: Version) -> conv::ConvNet {
        match v {
            Version::Course22 => conv::course22(),
            _ => conv::course_v3(),
        }
    }

    fn conv_lab(v: Version) -> Result<Shown> {
        let net = conv_net(v);
        let f = net.forward().map_err(|e| failed!("{e}"))?;
        let g = net.filter_grads().map_err(|e| failed!("{e}"))?;
        let mut layers = Tab::new(
            "layers",
            "layers (rows×columns, range and sum)",
            &["layer", "rows", "cols", "min", "max", "sum"],
        );
        let mut add = |name: String, grid: &[Vec<f64>]| {
            let flat: Vec<f64> = grid.iter().flatten().copied().collect();
            let (mn, mx) = flat
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                    (a.min(*x), b.max(*x))
                });
            layers.row(vec![
                t(name),
                V::N(grid.len() as f64),
                V::N(grid.first().map_or(0, Vec::len) as f64),
                V::N(mn),
                V::N(mx),
                V::N(wb::excel::sum(flat.iter().copied())),
            ]);
        };
        add("input".into(), &net.input);
        for c in 0..2 {
            add(format!("conv1 channel {}", c + 1), &f.conv1[c]);
        }
        for c in 0..2 {
            add(format!("conv2 channel {}", c + 1), &f.conv2[c]);
        }
        for c in 0..2 {
            add(format!("maxpool channel {}", c + 1), &f.pool[c]);
        }
        let mut filters = Tab::new(
            "filters",
            "filters and d(output)/d(weight)",
            &["filter", "row", "w1", "w2", "w3", "grad1", "grad2", "grad3"],
        );
        let mut put = |name: String, w: &[Vec<f64>], gr: &[Vec<f64>]| {
            for (i, (wr, grr)) in w.iter().zip(gr).enumerate() {
                let mut r = vec![t(name.clone()), V::N((i + 1) as f64)];
                r.extend(wr.iter().map(|x| V::N(*x)));
                r.extend(grr.iter().map(|x| V::N(*x)));
                filters.row(r);
            }
        };
        for c in 0..2 {
            put(
                format!("conv1 filter {}", c + 1),
                &net.filters1[c],
                &g.filters1[c],
            );
        }
        for o in 0..2 {
            for i in 0..2 {
                put(
                    format!("conv2 out {} in {}", o + 1, i + 1),
                    &net.filters2[o][i],
                    &g.filters2[o][i],
                );
            }
        }
        Ok(Shown {
            notes: vec![
                format!("version: {}", version_name(v)),
                format!(
                    "dense: {} + {} = output {}",
                    cell(f.dense_terms[0], 10),
                    cell(f.dense_terms[1], 10),
                    cell(f.output, 12)
                ),
            ],
            tables: vec![layers, filters],
            book: Some(books::conv(v).map_err(|e| failed!("{e}"))?),
            ..Shown::default()
        })
    }

    fn collab_lab(v: Version, flags: &Options) -> Result<Shown> {
        let ct = collab::crosstab(v);
        let dot = collab::dotprod_sheet(v);
        let bias = collab::bias_sheet(v);
        let mut headers = vec!["user".to_string()];
        headers.extend(ct.movies.iter().map(|m| format!("m{m}")));
        let mut preds = Tab {
            name: "dotprod",
            title: "dotprod predictions (0 where the rating is blank)".into(),
            headers,
            rows: Vec::new(),
        };
        for (u, row) in ct.users.iter().zip(&dot.preds) {
            let mut r = vec![V::N(*u)];
            r.extend(row.iter().map(|x| V::N(*x)));
            preds.row(r);
        }
        let method = flags.train.as_deref().unwrap_or("adam");
        let seed = flags.seed.unwrap_or(0);
        let (model, data, _) = collab::sheet_problem(v, false);
        let p0 = model.init(seed, 1.0);
        let err = |e: wb::LabError| failed!("{e}");
        let res = match method {
            "adam" => {
                let cfg = AdamConfig {
                    lr: 0.05,
                    ..AdamConfig::default()
                };
                collab::train_adam(&model, &data, &p0, &cfg, flags.epochs.unwrap_or(200))
                    .map_err(err)?
            }
            "sgd" => collab::train_sgd(&model, &data, &p0, 0.01, 0.9, flags.epochs.unwrap_or(200))
                .map_err(err)?,
            "lbfgs" => {
                let cfg = LbfgsConfig {
                    max_iter: flags.epochs.unwrap_or(200),
                    ..LbfgsConfig::default()
                };
                collab::train_lbfgs(&model, &data, &p0, &cfg).map_err(err)?
            }
            other => {
                return Err(ViewError::Usage(format!(
                    "unknown --train '{other}': use adam, lbfgs or sgd"
                )))
            }
        };
        let mut train = Tab::new(
            "training",
            format!("training the dotprod factors from random start {seed} with {method}"),
            &["iteration", "rmse"],
        );
        for (i, r) in res.rmse.iter().enumerate() {
            train.row(vec![V::N(i as f64), V::N(*r)]);
        }
        Ok(Shown {
            notes: vec![
                format!("version: {}", version_name(v)),
                format!(
                    "{} ratings; saved dotprod RMSE {}, bias-sheet loss {}",
                    data.len(),
                    cell(dot.loss, 10),
                    cell(bias.loss, 10)
                ),
                format!(
                    "{method} from seed {seed}: RMSE {} → {}",
                    cell(res.rmse[0], 8),
                    cell(*res.rmse.last().unwrap_or(&f64::NAN), 8)
                ),
            ],
            tables: vec![preds, train],
            book: Some(books::collab(v)),
            ..Shown::default()
        })
    }

    fn titanic_lab(flags: &Options) -> Result<Shown> {
        let tb = titanic::table(&titanic::all_rows());
        let (lin_p, net_p, _) = titanic::saved_params();
        let err = |e: wb::LabError| failed!("{e}");
        let lin = titanic::linear(&tb, &lin_p).map_err(err)?;
        let net = titanic::nnet(&tb, &net_p).map_err(err)?;
        let mut headers = vec!["survived"];
        headers.extend(titanic::FEATURES);
        headers.extend(["linear", "linear loss", "nnet", "nnet loss"]);
        let mut rows = Tab::new(
            "rows",
            "passengers: features and the saved models' predictions",
            &headers,
        );
        for i in 0..tb.rows.len() {
            let mut r = vec![V::N(tb.y[i])];
            r.extend(tb.x[i].iter().map(|x| V::N(*x)));
            r.extend(nums(&[
                lin.preds[i],
                lin.losses[i],
                net.preds[i],
                net.losses[i],
            ]));
            rows.row(r);
        }
        let method = flags.fit.as_deref().unwrap_or("lbfgs");
        let seed = flags.seed.unwrap_or(0);
        let mut fit = Tab::new(
            "fit",
            format!("fitting from random start {seed} with {method}: loss by iteration"),
            &["iteration", "linear", "nnet"],
        );
        let fit_one = |m: titanic::Model| -> Result<titanic::Fit> {
            let p0 = titanic::random_start(m, seed);
            match method {
                "lbfgs" => {
                    let cfg = LbfgsConfig {
                        max_iter: flags.epochs.unwrap_or(200),
                        ..LbfgsConfig::default()
                    };
                    titanic::fit_lbfgs(&tb, m, &p0, &cfg).map_err(err)
                }
                "gd" => {
                    let cfg = AdamConfig::default();
                    titanic::fit_gd(&tb, m, &p0, &cfg, flags.epochs.unwrap_or(500)).map_err(err)
                }
                other => Err(ViewError::Usage(format!(
                    "unknown --fit '{other}': use lbfgs or gd"
                ))),
            }
        };
        let fl = fit_one(titanic::Model::Linear)?;
        let fnet = fit_one(titanic::Model::Nnet)?;
        for i in 0..fl.losses.len().max(fnet.losses.len()) {
            fit.row(vec![
                V::N(i as f64),
                opt(fl.losses.get(i).copied()),
                opt(fnet.losses.get(i).copied()),
            ]);
        }
        let last = |f: &titanic::Fit| cell(*f.losses.last().unwrap_or(&f64::NAN), 8);
        Ok(Shown {
            notes: vec![
                format!(
                    "{} passengers with age and port (max age {}, max fare {})",
                    tb.rows.len(),
                    cell(tb.max_age, 6),
                    cell(tb.max_fare, 8)
                ),
                format!(
                    "saved Solver parameters: linear loss {}, nnet loss {}",
                    cell(lin.loss, 10),
                    cell(net.loss, 10)
                ),
                format!(
                    "{method} from seed {seed}: linear loss {}, nnet loss {}",
                    last(&fl),
                    last(&fnet)
                ),
            ],
            tables: vec![fit, rows],
            book: Some(books::titanic().map_err(err)?),
            ..Shown::default()
        })
    }

    fn layers_lab() -> Shown {
        let fx = layers::fixed();
        let rnd = layers::random();
        let mut a = Tab::new(
            "forward",
            "forward passes of the fixed and random sheets",
            &["sheet", "quantity", "1", "2", "3", "4", "5", "6"],
        );
        for (sheet, f) in [("fixed", &fx.forward), ("random", &rnd.forward)] {
            for (q, xs) in [
                ("z1", &f.z1),
                ("a1", &f.a1),
                ("z2", &f.z2),
                ("a2", &f.a2),
                ("out", &f.o),
                ("softmax", &f.p),
                ("loss terms", &f.loss_terms),
            ] {
                let mut r = vec![t(sheet), t(q)];
                r.extend(nums(xs));
                r.resize(8, t(""));
                a.row(r);
            }
            a.row({
                let mut r = vec![t(sheet), t("loss"), V::N(f.loss)];
                r.resize(8, t(""));
                r
            });
        }
        let mut g = Tab::new(
            "fixed_step",
            "fixed sheet: dL/dw3, the predicted loss change and one SGD step of w3",
            &["row", "dL/dw3 1", "dL/dw3 2", "new w3 1", "new w3 2"],
        );
        for (i, (d, w)) in fx.dl_dw3.iter().zip(&fx.w3_new).enumerate() {
            let mut r = vec![V::N((i + 1) as f64)];
            r.extend(nums(d));
            r.extend(nums(w));
            g.row(r);
        }
        Shown {
            notes: vec![
                format!(
                    "fixed: loss {} → {} after one step",
                    cell(fx.forward.loss, 10),
                    cell(fx.after.4, 10)
                ),
                format!(
                    "random: rmse {} (sds {} {} {})",
                    cell(rnd.rmse, 10),
                    cell(rnd.sds[0], 6),
                    cell(rnd.sds[1], 6),
                    cell(rnd.sds[2], 6)
                ),
            ],
            tables: vec![a, g],
            book: Some(books::layers()),
            ..Shown::default()
        }
    }

    fn broadcasting_lab() -> Shown {
        let b = small::broadcasting_sheet();
        Shown {
            notes: vec![format!("c = {:?}", b.c)],
            tables: vec![
                Tab::grid("m", "m", &b.m),
                Tab::grid("c_plus_m", "c + m (c broadcast over the rows)", &b.c_plus_m),
                Tab::grid(
                    "ccol_plus_m",
                    "c[:,None] + m (c broadcast over the columns)",
                    &b.ccol_plus_m,
                ),
                Tab::grid("outer", "c[:,None] * c[None] (outer product)", &b.outer),
            ],
            book: Some(books::broadcasting()),
            ..Shown::default()
        }
    }

    fn style_lab() -> Shown {
        let s = small::style_loss();
        let img: Vec<Vec<f64>> = small::STYLE_IMAGE.iter().map(|r| r.to_vec()).collect();
        let gram: Vec<Vec<f64>> = s.gram.iter().map(|r| r.to_vec()).collect();
        Shown {
            notes: Vec::new(),
            tables: vec![
                Tab::grid("gram", "Gram matrix of the two filter outputs", &gram),
                Tab::grid("image", "image", &img),
                Tab::grid("output1", "filter 1 output", &s.outputs[0]),
                Tab::grid("output2", "filter 2 output", &s.outputs[1]),
            ],
            book: Some(books::style_loss()),
            ..Shown::default()
        }
    }

    fn emb_sizing_lab() -> Shown {
        let mut a = Tab::new(
            "sizes",
            "embedding size by cardinality: wanted and min(600, round(1.6·n^0.56))",
            &["cardinality", "wanted", "rule"],
        );
        for (n, want, rule) in small::emb_sizing_sheet() {
            a.row(nums(&[n, want, rule]));
        }
        Shown {
            tables: vec![a],
            book: Some(books::emb_sizing()),
            ..Shown::default()
        }
    }

    fn emb_results_lab() -> Shown {
        let flag = |b: bool| t(if b { "TRUE" } else { "FALSE" });
        let mut a = Tab::new(
            "runs",
            "runs: settings, scores by epoch, sd of the last three and the minimum",
            &super::EMB_RESULTS_HEADERS,
        );
        for r in small::emb_results() {
            let mut row: Vec<V> = r.flags.iter().map(|b| flag(*b)).collect();
            let mut sc = nums(&r.scores);
            sc.resize(10, t(""));
            row.extend(sc);
            row.extend(nums(&[r.var, r.min]));
            a.row(row);
        }
        let pivot = small::emb_pivot(&small::emb_summary());
        let mut p = Tab::new(
            "pivot",
            "pivot: average score by (init emb, split contins) × (use scaler, use dict)",
            &["rows", "F,F", "F,T", "F,all", "T,F", "T,T", "T,all", "all"],
        );
        let labels = ["F", "F,F", "F,T", "T", "T,F", "T,T", "all"];
        for (l, r) in labels.iter().zip(&pivot) {
            let mut row = vec![t(*l)];
            row.extend(nums(r));
            p.row(row);
        }
        Shown {
            tables: vec![a, p],
            book: Some(books::emb_results()),
            ..Shown::default()
        }
    }

    /// A line chart as SVG and PNG files `<lab>-<stem>.svg|png`.
    fn lines(
        out: &mut Out,
        stem: &str,
        title: &str,
        axes: (&str, &str, bool, bool),
        series: Vec<Series>,
    ) -> Result<()> {
        let (x_label, y_label, log_x, log_y) = axes;
        let chart = Chart::Lines {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_x,
            log_y,
            series,
        };
        let formats: &[Format] = if out.png {
            &[Format::Svg, Format::Png]
        } else {
            &[Format::Svg]
        };
        for &f in formats {
            let bytes = chart::render(&chart, f).map_err(|e| failed!("{stem}: {e}"))?;
            out.files.push((format!("{stem}.{}", f.ext()), bytes));
        }
        Ok(())
    }

    /// Layers side by side as a heatmap SVG, and each layer as a PNG.
    fn heatmaps(
        out: &mut Out,
        stem: &str,
        title: &str,
        panels: &[(String, Vec<Vec<f64>>)],
        cell: usize,
    ) -> Result<()> {
        let refs: Vec<chart::Panel<'_>> = panels
            .iter()
            .map(|(n, g)| (n.as_str(), g.as_slice()))
            .collect();
        let svg = chart::heatmap_svg(title, &refs, cell).map_err(|e| failed!("{e}"))?;
        out.files.push((format!("{stem}.svg"), svg.into_bytes()));
        if !out.png {
            return Ok(());
        }
        for (n, g) in panels {
            let png = chart::heatmap_png(g, cell).map_err(|e| failed!("{e}"))?;
            out.files
                .push((format!("{stem}-{}.png", n.replace(' ', "-")), png));
        }
        Ok(())
    }

    fn indexed(xs: &[f64]) -> Vec<(f64, f64)> {
        xs.iter().enumerate().map(|(i, y)| (i as f64, *y)).collect()
    }

    /// The lab's pictures as (file name, bytes); file names start with the lab's name.
    fn pictures(
        name: &str,
        v: Option<Version>,
        s: &Shown,
        png: bool,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        let mut out = Out {
            files: Vec::new(),
            png,
        };
        let o = &mut out;
        let one_based = |xs: &[f64]| -> Vec<(f64, f64)> {
            xs.iter()
                .enumerate()
                .map(|(i, y)| ((i + 1) as f64, *y))
                .collect()
        };
        match name {
            "entropy" => {
                let (probs, sig) = match v.unwrap_or(Version::CourseV3) {
                    Version::CourseV3 => {
                        let sm = entropy::course_v3_softmax();
                        (sm.image1.probs, Some(sm.sigmoid1))
                    }
                    Version::Courses => {
                        (entropy::softmax_table(&entropy::COURSES_LOGITS).probs, None)
                    }
                    Version::Course22 => (entropy::course22().softmax.probs, None),
                };
                let mut series = vec![Series::line("softmax", one_based(&probs))];
                if let Some(sg) = sig {
                    series.push(Series::line("sigmoid", one_based(&sg)));
                }
                lines(
                    o,
                    "entropy-softmax",
                    "softmax (and sigmoid) by class: cat, dog, plane, fish, building",
                    ("class", "probability", false, false),
                    series,
                )?;
                let ps: Vec<f64> = (1..100).map(|i| i as f64 / 100.0).collect();
                let curve = |y: f64| -> Vec<(f64, f64)> {
                    ps.iter()
                        .map(|p| (*p, entropy::binary_ce_log10(y, *p)))
                        .collect()
                };
                let rows = entropy::entropy_rows(&entropy::IS_CAT, &entropy::PREDS);
                lines(
                    o,
                    "entropy-bce",
                    "binary cross-entropy (log10) against the prediction",
                    ("prediction", "loss", false, false),
                    vec![
                        Series::line("is cat", curve(1.0)),
                        Series::line("is not a cat", curve(0.0)),
                        Series::points(
                            "the sheet's rows",
                            rows.iter().map(|r| (r.pred, r.bce)).collect(),
                        ),
                    ],
                )?;
            }
            "mom_bias" => {
                let sh = mom_bias::sheet1();
                let col = |f: fn(&mom_bias::BiasRow) -> f64| -> Vec<(f64, f64)> {
                    sh.rows.iter().map(|r| (r.t as f64, f(r))).collect()
                };
                lines(
                    o,
                    "mom_bias-ema",
                    "an EMA from 0 (beta 0.9): raw and bias-corrected",
                    ("t", "value", false, false),
                    vec![
                        Series::points("value", col(|r| r.value)),
                        Series::line("ema", col(|r| r.ema)),
                        Series::line("bias-corrected", col(|r| r.debiased)),
                    ],
                )?;
            }
            "conv" => {
                let net = conv_net(v.unwrap_or(Version::CourseV3));
                let f = net.forward().map_err(|e| failed!("{e}"))?;
                let mut panels = vec![("input".to_string(), net.input.clone())];
                for (layer, gs) in [
                    ("conv1", &f.conv1),
                    ("conv2", &f.conv2),
                    ("maxpool", &f.pool),
                ] {
                    for (c, g) in gs.iter().enumerate() {
                        panels.push((format!("{layer} {}", c + 1), g.clone()));
                    }
                }
                heatmaps(o, "conv-layers", "the digit through each layer", &panels, 6)?;
            }
            "collab" | "titanic" => {
                let tab = s
                    .tables
                    .iter()
                    .find(|t| t.name == "training" || t.name == "fit")
                    .ok_or_else(|| failed!("no training table"))?;
                let mut series = Vec::new();
                for (k, h) in tab.headers.iter().enumerate().skip(1) {
                    let pts: Vec<(f64, f64)> = tab
                        .rows
                        .iter()
                        .filter_map(|r| match (&r[0], &r[k]) {
                            (V::N(x), V::N(y)) => Some((*x, *y)),
                            _ => None,
                        })
                        .collect();
                    series.push(Series::line(h.clone(), pts));
                }
                let y = if name == "collab" {
                    "RMSE"
                } else {
                    "mean squared error"
                };
                lines(
                    o,
                    &format!("{name}-training"),
                    &tab.title,
                    ("iteration", y, false, true),
                    series,
                )?;
            }
            "layers" => {
                let fx = layers::fixed();
                let panels = vec![
                    ("w1".to_string(), fx.mlp.w1.clone()),
                    ("w2".to_string(), fx.mlp.w2.clone()),
                    ("w3".to_string(), fx.mlp.w3.clone()),
                    ("dL-dw3".to_string(), fx.dl_dw3.clone()),
                ];
                heatmaps(
                    o,
                    "layers-weights",
                    "the fixed sheet's weights and dL/dw3",
                    &panels,
                    24,
                )?;
            }
            "broadcasting" | "style_loss" => {
                let panels: Vec<(String, Vec<Vec<f64>>)> = s
                    .tables
                    .iter()
                    .map(|t| {
                        let g = t
                            .rows
                            .iter()
                            .map(|r| {
                                r.iter()
                                    .skip(1)
                                    .map(|c| match c {
                                        V::N(x) => *x,
                                        V::T(_) => 0.0,
                                    })
                                    .collect()
                            })
                            .collect();
                        (t.name.to_string(), g)
                    })
                    .collect();
                heatmaps(o, &format!("{name}-grids"), name, &panels, 24)?;
            }
            "emb_sizing" => {
                let rows = small::emb_sizing_sheet();
                lines(
                    o,
                    "emb_sizing",
                    "embedding size by cardinality",
                    ("cardinality", "embedding size", true, false),
                    vec![
                        Series::points("wanted", rows.iter().map(|r| (r.0, r.1)).collect()),
                        Series::line(
                            "min(600, round(1.6·n^0.56))",
                            rows.iter().map(|r| (r.0, r.2)).collect(),
                        ),
                    ],
                )?;
            }
            _ => {
                let series = small::emb_results()
                    .iter()
                    .enumerate()
                    .map(|(i, r)| Series::line(format!("run {}", i + 1), indexed(&r.scores)))
                    .collect();
                lines(
                    o,
                    "emb_results",
                    "score by epoch, every run",
                    ("epoch", "score", false, false),
                    series,
                )?;
            }
        }
        Ok(out.files)
    }
}

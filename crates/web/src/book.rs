//! The web view of a learner's own workbook: the endpoints behind the "Your workbook" page,
//! over the same library calls as `gradsheet book` ([`gradsheet_book::Book`]), so the page
//! shows the command line's numbers.
//!
//! | endpoint | does |
//! |---|---|
//! | `POST /api/book?name=FILE` | the workbook's bytes as the body: its sheets as cells (formulas, values, recalculated values, inputs), the recalculation check, the verdicts on its typed derivative columns, and an id for the calls below |
//! | `GET /api/book` | the same for the workbook `gradsheet serve --book FILE` opened, or 404 |
//! | `POST /api/book/{id}/grad` | `{cell}`: its value and exact derivative with respect to every input it depends on |
//! | `POST /api/book/{id}/values` | `{changes: {cell: number}}`: every recalculated cell's value with those inputs changed |
//! | `POST /api/book/{id}/run` | `{sheet, epochs, copies: [{from, to}], watch}`: the sheet's loop, one row per epoch |
//!
//! An uploaded file is hostile until read: it is refused past [`Limits::max_book`] bytes
//! (413), and [`Book::open`] refuses decompression bombs, XML entities and more than
//! [`gradsheet_book::read::MAX_CELLS`] cells before building anything. The opened books
//! stay in a small cache keyed by a hash of their bytes ([`Books`]): at most
//! [`MAX_BOOKS`] books and [`MAX_CACHED_CELLS`] cells, the least recently used leaving
//! first, so that clicking a cell or typing an input compiles nothing again.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use gradsheet_book::live::Live;
use gradsheet_book::{Book, BookError, Key, Value};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use crate::dto::Num;
use crate::routes::Shared;
use crate::work::{answer, parse_json, read_body, Deadline, Lane};
use crate::{ApiError, Limits};

/// The most workbooks kept open.
pub const MAX_BOOKS: usize = 8;
/// The most cells of all the workbooks kept open (one larger workbook is still kept, alone).
pub const MAX_CACHED_CELLS: usize = 2_000_000;
/// The most cells sent for the grid, over all sheets.
pub const MAX_SHOWN_CELLS: usize = 50_000;
/// The most cell evaluations of one run (epochs × recalculated cells): about a second.
pub const MAX_RUN_WORK: usize = 50_000_000;
/// The longest file name kept.
const MAX_NAME: usize = 200;

/// A cell's value as the page shows it: a number, text, a truth value, or nothing.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum CellValue {
    /// A number (`"NaN"`, `"Infinity"` when not finite).
    Num(Num),
    /// Text, or an error value such as `#DIV/0!`.
    Text(String),
    /// TRUE or FALSE.
    Bool(bool),
    /// Nothing.
    Empty(()),
}

impl From<&Value> for CellValue {
    fn from(v: &Value) -> CellValue {
        match v {
            Value::Num(x) => CellValue::Num(Num(*x)),
            Value::Text(s) | Value::Error(s) => CellValue::Text(s.clone()),
            Value::Bool(b) => CellValue::Bool(*b),
            Value::Empty => CellValue::Empty(()),
        }
    }
}

/// One cell of the grid.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CellOut {
    /// `B4`.
    pub cell: String,
    /// Its formula, with its `=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formula: Option<String>,
    /// Its value: recalculated for a formula gradsheet recalculates, else as saved.
    pub value: CellValue,
    /// A formula's value as Excel saved it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached: Option<CellValue>,
    /// A number the recalculation reads (typed in, or a formula cell left out of it).
    pub input: bool,
    /// Whether its recalculated value differs from the saved one.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub differs: bool,
    /// Why a formula is not recalculated (volatile, unsupported, circular).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_recalculated: Option<String>,
}

/// A sheet of the grid.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SheetOut {
    /// Its name.
    pub name: String,
    /// Rows of its used range (from row 1).
    pub rows: u32,
    /// Columns of its used range (from column A).
    pub cols: u32,
    /// Its cells, row by row.
    pub cells: Vec<CellOut>,
    /// Cells in the sheet.
    pub total: usize,
    /// When not every cell is sent: which are, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut: Option<String>,
}

/// A formula cell whose recalculation differs from its saved value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DifferOut {
    /// `'my model'!B4`.
    pub cell: String,
    /// Excel's value.
    pub cached: Num,
    /// gradsheet's.
    pub computed: Num,
}

/// A formula cell not recalculated, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SkippedOut {
    /// `'my model'!A11`.
    pub cell: String,
    /// Why.
    pub reason: String,
}

/// The recalculation check, as `gradsheet book --json` gives it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecalcOut {
    /// Formula cells in the workbook.
    pub formula_cells: usize,
    /// Those equal to Excel's value within a few ulps.
    pub agree: usize,
    /// Those that differ.
    pub differ: Vec<DifferOut>,
    /// Those not recalculated.
    pub not_recalculated: Vec<SkippedOut>,
}

/// A typed derivative column's verdict, as `gradsheet book --json` gives it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ColumnOut {
    /// The sheet.
    pub sheet: String,
    /// `H4:H32`.
    pub range: String,
    /// The header typed above it.
    pub header: String,
    /// The cell of its first row it differentiates.
    pub of: String,
    /// The cell of its first row it differentiates with respect to.
    pub wrt: String,
    /// `exact`, `forward difference`, `backward difference`, `central difference`, `wrong`.
    pub verdict: String,
    /// The step of a difference.
    pub h: Option<Num>,
    /// The largest |typed − exact| over its rows.
    pub max_abs_error: Num,
    /// Where the error is largest, what is wrong.
    pub note: String,
}

/// A sheet's loop, as `gradsheet book --json` gives it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LoopOut {
    /// The sheet.
    pub sheet: String,
    /// `macro` (its Run button) or `solver` (Excel Solver's settings).
    pub source: String,
    /// The macro's module and Sub, or Solver's objective.
    pub what: String,
    /// What it copies back (`lastslope → slope`), or Solver's changing cells.
    pub copies: Vec<String>,
}

/// The answer to an upload.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BookOut {
    /// The id of the later calls.
    pub id: String,
    /// The file's name.
    pub name: String,
    /// Whether it has VBA macros.
    pub macros: bool,
    /// Its sheets.
    pub sheets: Vec<SheetOut>,
    /// Numbers the recalculation reads.
    pub inputs: usize,
    /// The recalculation check.
    pub recalculation: RecalcOut,
    /// The typed derivative columns and their verdicts.
    pub derivative_columns: Vec<ColumnOut>,
    /// Each sheet's loop (its Run macro, or Solver's settings).
    pub loops: Vec<LoopOut>,
    /// The server's time to open and check it, in milliseconds.
    pub ms: f64,
}

/// A list of (name, value) written as a JSON object in its own order.
#[derive(Clone, Debug, PartialEq)]
pub struct Ordered(pub Vec<(String, Num)>);

impl Serialize for Ordered {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// `POST /api/book/{id}/grad`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GradRequest {
    /// `'my model'!B5`, or `B5` on `sheet`.
    pub cell: String,
    /// The sheet of a cell written without one.
    #[serde(default)]
    pub sheet: Option<String>,
}

/// Its answer: as `gradsheet book --grad CELL --json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GradOut {
    /// The cell as Excel writes it.
    pub cell: String,
    /// Its recalculated value.
    pub value: Num,
    /// ∂cell/∂input for every input it depends on, in the workbook's order.
    pub derivatives: Ordered,
    /// The server's time, in milliseconds.
    pub ms: f64,
}

/// `POST /api/book/{id}/values`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ValuesRequest {
    /// Input cell → its new value.
    pub changes: HashMap<String, f64>,
    /// The sheet of cells written without one.
    #[serde(default)]
    pub sheet: Option<String>,
}

/// Its answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ValuesOut {
    /// For each sheet (in the upload's order): each recalculated cell (`B4`) and its value.
    pub sheets: Vec<Ordered>,
    /// The server's time, in milliseconds.
    pub ms: f64,
}

/// A copy of the loop: `from`'s value into `to` each epoch.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Copy {
    /// The cell copied (the last row's parameter, `D32`).
    pub from: String,
    /// The input it is copied into (the parameter at the top, `C2`).
    pub to: String,
}

/// `POST /api/book/{id}/run`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// The sheet of cells written without one.
    #[serde(default)]
    pub sheet: Option<String>,
    /// Epochs.
    pub epochs: usize,
    /// What each epoch copies back.
    #[serde(default)]
    pub copies: Vec<Copy>,
    /// Cells read after each epoch.
    #[serde(default)]
    pub watch: Vec<String>,
    /// Press the sheet's Reset button (its `reset` macro) first (a macro run only).
    #[serde(default)]
    pub reset: bool,
}

/// Its answer: one row per epoch shown.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunOut {
    /// The columns after `epoch`: each copy's target, then each watched cell.
    pub columns: Vec<String>,
    /// `[epoch, value, …]`.
    pub rows: Vec<Vec<Num>>,
    /// Epochs run.
    pub epochs: usize,
    /// Every how many epochs a row is shown (1: all).
    pub every: usize,
    /// What played the loop: `macro basic.somesteps`, or `copies`.
    pub by: String,
    /// The sheet's rows explained at the epoch before the run exploded, or after its last.
    pub explanation: Option<ExplanationOut>,
    /// The server's time, in milliseconds.
    pub ms: f64,
}

/// A sheet's rows explained (`gradsheet book --explain`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExplanationOut {
    /// When: `the run explodes in epoch 6; after epoch 5`.
    pub when: String,
    /// The epoch whose numbers exploded.
    pub exploded_at: Option<usize>,
    /// The findings, plain words first.
    pub findings: Vec<String>,
    /// Whether they found nothing wrong (no row too steep, no collapse, no parameter a
    /// row cannot move).
    pub calm: bool,
}

/// A workbook kept open: the book, its compiled cells, and the answer to its upload.
pub struct Opened {
    /// The book.
    pub book: Book,
    /// Its computed cells, compiled.
    pub live: Live,
    /// What its upload answered.
    pub summary: BookOut,
    /// Its typed derivative columns, judged once when it was opened.
    pub columns: Vec<gradsheet_book::ColumnVerdict>,
    cells: usize,
}

/// The workbooks kept open (see the module's docs).
pub struct Books {
    keys: std::hash::RandomState,
    state: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    /// Most recently used last.
    open: VecDeque<(String, Arc<Opened>)>,
    /// The workbook given on the command line: never evicted.
    preloaded: Option<(String, Arc<Opened>)>,
}

impl Default for Books {
    fn default() -> Self {
        Books::new()
    }
}

impl Books {
    /// An empty cache.
    pub fn new() -> Books {
        Books {
            keys: std::hash::RandomState::new(),
            state: Mutex::new(Cache::default()),
        }
    }

    /// The id of a workbook's bytes: a hash keyed with this process's secret, and their
    /// length, so that an id cannot be forged to reach another workbook.
    fn id(&self, bytes: &[u8]) -> String {
        format!("{:016x}{:x}", self.keys.hash_one(bytes), bytes.len())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        // A panic while holding the lock leaves a cache that is still whole.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The workbook of `id`, now the most recently used.
    pub fn get(&self, id: &str) -> Option<Arc<Opened>> {
        let mut c = self.lock();
        if let Some((pid, o)) = &c.preloaded {
            if pid == id {
                return Some(o.clone());
            }
        }
        let i = c.open.iter().position(|(k, _)| k == id)?;
        let e = c.open.remove(i)?;
        let o = e.1.clone();
        c.open.push_back(e);
        Some(o)
    }

    fn insert(&self, id: String, o: Arc<Opened>) {
        let mut c = self.lock();
        c.open.retain(|(k, _)| *k != id);
        let cells = o.cells;
        c.open.push_back((id, o));
        let mut total: usize = c.open.iter().map(|(_, o)| o.cells).sum();
        while c.open.len() > 1 && (c.open.len() > MAX_BOOKS || total > MAX_CACHED_CELLS.max(cells))
        {
            if let Some((_, gone)) = c.open.pop_front() {
                total -= gone.cells;
            }
        }
    }

    /// Opens a workbook given on the command line; the page opens on it.
    ///
    /// # Errors
    ///
    /// As an upload's: the bytes are not a workbook gradsheet reads, or past a limit.
    pub fn preload(&self, name: &str, bytes: &[u8]) -> Result<String, ApiError> {
        let id = self.id(bytes);
        let o = Arc::new(open(name, bytes, &id)?);
        self.lock().preloaded = Some((id.clone(), o));
        Ok(id)
    }

    fn preloaded(&self) -> Option<Arc<Opened>> {
        self.lock().preloaded.as_ref().map(|(_, o)| o.clone())
    }
}

fn book_error(e: BookError, field: &str) -> ApiError {
    match e {
        BookError::TooLarge(m) => ApiError::status(StatusCode::PAYLOAD_TOO_LARGE, m),
        e => ApiError::bad(e.to_string(), field),
    }
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// Opens and checks a workbook: the answer to its upload.
///
/// # Errors
///
/// 400 for bytes that are not a workbook gradsheet reads; 413 past a limit (cells, a
/// formula's length, a decompression bomb).
pub fn open(name: &str, bytes: &[u8], id: &str) -> Result<Opened, ApiError> {
    let t = Instant::now();
    let book = Book::open(bytes).map_err(|e| book_error(e, "file"))?;
    let live = book.live().map_err(|e| book_error(e, "file"))?;
    let computed: HashMap<Key, f64> = live.values(&[]).unwrap_or_default().into_iter().collect();
    let r = book.recalculate();
    let differs: HashSet<&str> = r.differ.iter().map(|d| d.cell.as_str()).collect();
    let inputs: HashSet<Key> = book.inputs().iter().copied().collect();
    let skipped: HashMap<Key, &str> = book.skipped().collect();
    let wb = book.workbook();
    let mut budget = MAX_SHOWN_CELLS;
    let mut cells = 0;
    let sheets = wb
        .sheets
        .iter()
        .enumerate()
        .map(|(s, sh)| {
            cells += sh.cells.len();
            let rows = sh.cells.iter().map(|c| c.row + 1).max().unwrap_or(0);
            let cols = sh.cells.iter().map(|c| c.col + 1).max().unwrap_or(0);
            let shown = sh.cells.len().min(budget);
            budget -= shown;
            let out: Vec<CellOut> = sh.cells[..shown]
                .iter()
                .map(|c| {
                    let k = (s, c.row, c.col);
                    let value = match computed.get(&k) {
                        Some(v) => CellValue::Num(Num(*v)),
                        None => CellValue::from(&c.value),
                    };
                    let is_formula = c.formula.is_some();
                    CellOut {
                        cell: gradsheet_book::cell_name(c.row, c.col),
                        formula: c.formula.as_ref().map(|f| format!("={f}")),
                        value,
                        cached: is_formula.then(|| CellValue::from(&c.value)),
                        input: inputs.contains(&k),
                        differs: is_formula
                            && !differs.is_empty()
                            && differs.contains(book.address_of(k).as_str()),
                        not_recalculated: skipped.get(&k).map(|r| r.to_string()),
                    }
                })
                .collect();
            let cut = (shown < sh.cells.len()).then(|| {
                let last = out.last().map_or(0, |c| {
                    c.cell
                        .trim_start_matches(|ch: char| ch.is_ascii_alphabetic())
                        .parse::<u32>()
                        .unwrap_or(0)
                });
                format!(
                    "the first {shown} of its {} cells are shown (to row {last}): the page shows at most {MAX_SHOWN_CELLS} cells of a workbook; the command line reads them all",
                    sh.cells.len()
                )
            });
            SheetOut {
                name: sh.name.clone(),
                rows,
                cols,
                total: sh.cells.len(),
                cells: out,
                cut,
            }
        })
        .collect();
    let columns = book.derivative_columns();
    let derivative_columns = columns
        .iter()
        .cloned()
        .map(|c| ColumnOut {
            sheet: c.sheet,
            range: c.range,
            header: c.header,
            of: c.of,
            wrt: c.wrt,
            verdict: c.verdict.to_string(),
            h: c.h.map(Num),
            max_abs_error: Num(c.max_abs_error),
            note: c.note,
        })
        .collect();
    let summary = BookOut {
        id: id.to_string(),
        name: name.chars().take(MAX_NAME).collect(),
        macros: wb.has_macros,
        sheets,
        inputs: inputs.len(),
        recalculation: RecalcOut {
            formula_cells: r.formula_cells,
            agree: r.agree,
            differ: r
                .differ
                .iter()
                .map(|d| DifferOut {
                    cell: d.cell.clone(),
                    cached: Num(d.cached),
                    computed: Num(d.computed),
                })
                .collect(),
            not_recalculated: r
                .skipped
                .iter()
                .map(|s| SkippedOut {
                    cell: s.cell.clone(),
                    reason: s.reason.clone(),
                })
                .collect(),
        },
        derivative_columns,
        loops: book
            .loops()
            .into_iter()
            .map(|l| LoopOut {
                sheet: l.sheet,
                source: l.source.to_string(),
                what: l.what,
                copies: l.copies,
            })
            .collect(),
        ms: 0.0,
    };
    let mut o = Opened {
        book,
        live,
        summary,
        columns,
        cells,
    };
    o.summary.ms = ms(t);
    Ok(o)
}

/// `sheet`'s cell `cell`: `cell` itself when it names its sheet.
fn address(cell: &str, sheet: Option<&str>) -> String {
    match sheet {
        Some(s) if !cell.contains('!') => format!("'{}'!{}", s.replace('\'', "''"), cell.trim()),
        _ => cell.trim().to_string(),
    }
}

/// The value and exact derivatives of a cell.
///
/// # Errors
///
/// 400 naming the cell: an address that cannot be read, a cell that is not recalculated.
pub fn grad(o: &Opened, q: &GradRequest) -> Result<GradOut, ApiError> {
    let t = Instant::now();
    let g = o
        .book
        .gradient(&address(&q.cell, q.sheet.as_deref()))
        .map_err(|e| book_error(e, "cell"))?;
    Ok(GradOut {
        cell: g.cell,
        value: Num(g.value),
        derivatives: Ordered(
            g.derivatives
                .into_iter()
                .map(|(c, v)| (c, Num(v)))
                .collect(),
        ),
        ms: ms(t),
    })
}

/// Every recalculated cell with some inputs changed.
///
/// # Errors
///
/// 400 naming the cell of a change that cannot be read or is not an input.
pub fn values(o: &Opened, q: &ValuesRequest) -> Result<ValuesOut, ApiError> {
    let t = Instant::now();
    let mut changes = Vec::with_capacity(q.changes.len());
    for (cell, v) in &q.changes {
        let k = o
            .book
            .key(&address(cell, q.sheet.as_deref()))
            .map_err(|e| book_error(e, "changes"))?;
        changes.push((k, *v));
    }
    let vals = o.live.values(&changes).map_err(|k| {
        ApiError::bad(
            format!(
                "{}: not an input (a number typed in that a formula reads), so it cannot be changed",
                o.book.address_of(k)
            ),
            "changes",
        )
    })?;
    let mut sheets: Vec<Ordered> = o
        .summary
        .sheets
        .iter()
        .map(|_| Ordered(Vec::new()))
        .collect();
    for ((s, r, c), v) in vals {
        sheets[s].0.push((gradsheet_book::cell_name(r, c), Num(v)));
    }
    Ok(ValuesOut { sheets, ms: ms(t) })
}

/// The sheet's loop.
///
/// # Errors
///
/// 400 naming the field: no copies, too many epochs, a cell that cannot be read.
pub fn run(o: &Opened, q: &RunRequest, lim: &Limits) -> Result<RunOut, ApiError> {
    let t = Instant::now();
    let sheet = q.sheet.as_deref();
    // Without copies, the sheet's own Run macro plays the loop.
    let by_macro = match (q.copies.is_empty(), sheet) {
        (true, Some(s)) => o
            .summary
            .loops
            .iter()
            .find(|l| l.sheet.eq_ignore_ascii_case(s) && l.source == "macro")
            .map(|l| l.what.clone()),
        _ => None,
    };
    // Without copies or a macro, a sheet's Excel Solver problem, solved.
    if let (true, None, Some(s)) = (q.copies.is_empty(), &by_macro, sheet) {
        if let Ok(i) = o.book.sheet_index(s) {
            if o.book.solver(i).is_some() {
                return solve(o, i, q, lim, t);
            }
        }
    }
    if q.copies.is_empty() && by_macro.is_none() {
        return Err(ApiError::bad(
            "this sheet has no Run macro gradsheet can play: say what each epoch copies back, e.g. copies: [{from: \"D32\", to: \"C2\"}] \
             (the last row's parameter into the one at the top), as a Run macro does",
            "copies",
        ));
    }
    if q.reset && by_macro.is_none() {
        return Err(ApiError::bad(
            "reset presses the sheet's Reset macro, and only a run by the sheet's own macro has one (leave copies empty)",
            "reset",
        ));
    }
    let cells = o.summary.recalculation.agree + o.summary.recalculation.differ.len();
    let work = q.epochs.saturating_mul(cells.max(1));
    if q.epochs == 0 || work > MAX_RUN_WORK {
        return Err(ApiError::bad(
            format!(
                "epochs: between 1 and {} for this workbook ({cells} recalculated cells each epoch; the page runs at most {MAX_RUN_WORK} cell evaluations, the command line's --run has no such limit)",
                (MAX_RUN_WORK / cells.max(1)).max(1)
            ),
            "epochs",
        ));
    }
    let copies: Vec<(String, String)> = q
        .copies
        .iter()
        .map(|c| (address(&c.from, sheet), address(&c.to, sheet)))
        .collect();
    let watch: Vec<String> = q.watch.iter().map(|w| address(w, sheet)).collect();
    let every = q.epochs.div_ceil(lim.max_rows_shown.max(1));
    let mut columns = Vec::new();
    let mut rows = Vec::new();
    let mut watched = gradsheet_book::explain::RunWatch::default();
    let visit = |e: &gradsheet_book::Epoch| {
        watched.see(e);
        if columns.is_empty() {
            columns = e
                .copied
                .iter()
                .chain(&e.watched)
                .map(|(c, _)| c.clone())
                .collect();
        }
        if e.epoch.is_multiple_of(every) || e.epoch == q.epochs || e.epoch == 1 {
            let mut row = vec![Num(e.epoch as f64)];
            row.extend(e.copied.iter().chain(&e.watched).map(|(_, v)| Num(*v)));
            rows.push(row);
        }
    };
    match (&by_macro, sheet) {
        (Some(_), Some(s)) => o
            .book
            .run_macro(s, q.epochs, q.reset, &watch, visit)
            .map_err(|e| book_error(e, "sheet"))?,
        _ => o
            .book
            .run(&copies, &watch, q.epochs, visit)
            .map_err(|e| book_error(e, "copies"))?,
    }
    // Explained only where the sheet has typed derivative columns to read its shape from.
    let explanation = sheet
        .filter(|s| {
            o.summary
                .derivative_columns
                .iter()
                .any(|c| c.sheet.eq_ignore_ascii_case(s))
        })
        .and_then(|s| o.book.explain_run_with(s, &watched, &o.columns).ok())
        .map(|x| ExplanationOut {
            when: watched.when(),
            exploded_at: watched.exploded_at(),
            calm: x.steep.is_empty() && x.collapse.is_none() && x.flat.is_empty(),
            findings: x.findings,
        });
    Ok(RunOut {
        columns,
        rows,
        epochs: q.epochs,
        every,
        by: by_macro.map_or_else(|| "copies".to_string(), |m| format!("macro {m}")),
        explanation,
        ms: ms(t),
    })
}

/// The sheet's Solver problem: `q.epochs` L-BFGS iterations, one row each (the objective
/// and the largest |gradient|), then the changing cells as the last row's columns.
fn solve(
    o: &Opened,
    s: usize,
    q: &RunRequest,
    lim: &Limits,
    t: Instant,
) -> Result<RunOut, ApiError> {
    if q.epochs == 0 || q.epochs > MAX_SOLVER_ITERATIONS {
        return Err(ApiError::bad(
            format!(
                "epochs: Solver's iterations, between 1 and {MAX_SOLVER_ITERATIONS} on the page"
            ),
            "epochs",
        ));
    }
    if q.reset {
        return Err(ApiError::bad(
            "reset: a Solver sheet has no Reset macro",
            "reset",
        ));
    }
    let every = q.epochs.div_ceil(lim.max_rows_shown.max(1));
    let mut rows = Vec::new();
    let solved = o
        .book
        .solve(s, q.epochs, gradsheet_book::solver::Method::Lbfgs, |st| {
            if st.iteration.is_multiple_of(every) || st.iteration == q.epochs {
                rows.push(vec![
                    Num(st.iteration as f64),
                    Num(st.objective),
                    Num(st.gradient_max),
                ]);
            }
        })
        .map_err(|e| book_error(e, "sheet"))?;
    let sv = &solved.solver;
    Ok(RunOut {
        columns: vec![sv.objective_text.clone(), "largest |∂/∂changing cell|".into()],
        rows,
        epochs: q.epochs,
        every,
        by: format!(
            "Excel Solver's problem ({} {} by changing {}), solved by L-BFGS on the exact gradient in {} evaluations{}",
            sv.goal.words(),
            sv.objective_text,
            sv.changing_text,
            solved.evaluations,
            sv.saved
                .map(|v| format!("; the workbook saved {}", gradsheet_engine::format_number(v)))
                .unwrap_or_default()
        ),
        explanation: None,
        ms: ms(t),
    })
}

/// The most Solver iterations the page runs.
const MAX_SOLVER_ITERATIONS: usize = 10_000;

/// `GET /api/book/{id}/checked.xlsx`: the workbook written again with the exact
/// derivative beside each typed column, as `gradsheet book --xlsx` writes it.
pub(crate) async fn download(
    State(app): State<Shared>,
    Path((id, what)): Path<(String, String)>,
) -> Response {
    if what != "checked.xlsx" {
        return ApiError::status(
            StatusCode::NOT_FOUND,
            format!("no workbook download named {what} (checked.xlsx)"),
        )
        .into_response();
    }
    let Some(o) = app.books.get(&id) else {
        return no_book(&id).into_response();
    };
    let deadline = Deadline::after(app.limits.budget);
    let bytes = app
        .lanes
        .run(Lane::Heavy, &app.limits, deadline, move |_, _| {
            let cols = o.book.derivative_columns();
            gradsheet_report::book::with_exact_columns(&o.book, &cols)
                .to_xlsx(false)
                .map_err(|e| ApiError::status(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
        })
        .await;
    match bytes {
        Ok(b) => (
            [
                (
                    axum::http::header::CONTENT_TYPE,
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                ),
                (
                    axum::http::header::CONTENT_DISPOSITION,
                    "attachment; filename=\"checked.xlsx\"",
                ),
            ],
            b,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

fn no_book(id: &str) -> ApiError {
    ApiError::status(
        StatusCode::NOT_FOUND,
        format!(
            "no workbook {id} is open on the server (it keeps the last {MAX_BOOKS} opened): upload it again"
        ),
    )
}

/// `POST /api/book?name=FILE`: the upload.
pub(crate) async fn upload(
    State(app): State<Shared>,
    RawQuery(q): RawQuery,
    req: Request<Body>,
) -> Response {
    let deadline = Deadline::after(app.limits.budget);
    let lim = Limits {
        max_body: app.limits.max_book,
        ..app.limits.clone()
    };
    let bytes = match read_body(req.into_body(), &lim).await {
        Ok(b) => b,
        Err(mut e) => {
            if e.status == StatusCode::PAYLOAD_TOO_LARGE {
                e.body.error = format!(
                    "the workbook is larger than {} MB, the most the web app reads (the command line reads larger files)",
                    lim.max_book >> 20
                );
                e.body.field = Some("file".into());
            }
            return e.into_response();
        }
    };
    if bytes.is_empty() {
        return ApiError::bad(
            "send the workbook's bytes (.xlsx, .xlsm or .ods) as the request's body",
            "file",
        )
        .into_response();
    }
    let name = q
        .unwrap_or_default()
        .split('&')
        .find_map(|kv| kv.strip_prefix("name="))
        .map(crate::routes::percent_decode)
        .unwrap_or_else(|| "workbook.xlsx".into());
    let id = app.books.id(&bytes);
    if let Some(o) = app.books.get(&id) {
        let mut s = o.summary.clone();
        s.name = name.chars().take(MAX_NAME).collect();
        return answer(Ok(s));
    }
    let books = app.clone();
    answer(
        app.lanes
            .run(Lane::Heavy, &app.limits, deadline, move |_, _| {
                let o = Arc::new(open(&name, &bytes, &id)?);
                let s = o.summary.clone();
                books.books.insert(id, o);
                Ok(s)
            })
            .await,
    )
}

/// `GET /api/book`: the workbook `gradsheet serve --book` opened.
pub(crate) async fn preloaded(State(app): State<Shared>) -> Response {
    match app.books.preloaded() {
        Some(o) => answer(Ok(o.summary.clone())),
        None => ApiError::status(
            StatusCode::NOT_FOUND,
            "no workbook was given on the command line: choose one",
        )
        .into_response(),
    }
}

/// `POST /api/book/{id}/{grad|values|run}`.
pub(crate) async fn ask(
    State(app): State<Shared>,
    Path((id, what)): Path<(String, String)>,
    req: Request<Body>,
) -> Response {
    let deadline = Deadline::after(app.limits.budget);
    let bytes = match read_body(req.into_body(), &app.limits).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let Some(o) = app.books.get(&id) else {
        return no_book(&id).into_response();
    };
    let lanes = &app.lanes;
    let lim = &app.limits;
    match what.as_str() {
        "grad" => match parse_json::<GradRequest>(&bytes) {
            Ok(q) => answer(
                lanes
                    .run(Lane::Light, lim, deadline, move |_, _| grad(&o, &q))
                    .await,
            ),
            Err(e) => e.into_response(),
        },
        "values" => match parse_json::<ValuesRequest>(&bytes) {
            Ok(q) => answer(
                lanes
                    .run(Lane::Light, lim, deadline, move |_, _| values(&o, &q))
                    .await,
            ),
            Err(e) => e.into_response(),
        },
        "run" => match parse_json::<RunRequest>(&bytes) {
            Ok(q) => answer(
                lanes
                    .run(Lane::Heavy, lim, deadline, move |l, _| run(&o, &q, l))
                    .await,
            ),
            Err(e) => e.into_response(),
        },
        _ => ApiError::status(
            StatusCode::NOT_FOUND,
            format!("no workbook endpoint named {what} (grad, values, run)"),
        )
        .into_response(),
    }
}

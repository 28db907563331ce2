//! A learner's own workbook, opened: every formula cell recalculated from its inputs and
//! compared with the value Excel saved, and any cell differentiated exactly with respect
//! to the numbers it depends on.
//!
//! The workbook becomes a graph of cells ([`gradsheet_engine::graph`]): each formula cell
//! is translated into the engine's language ([`formula`]), each number typed in is an
//! input, and the graph is compiled once to a tape, so ∂(one cell)/∂(every input) is one
//! backward pass — through every row of a sheet's training loop. Pure: the workbook comes
//! in as bytes.
//!
//! # Example
//!
//! ```no_run
//! let bytes = std::fs::read("graddesc.xlsm").unwrap();
//! let book = gradsheet_book::Book::open(&bytes).unwrap();
//! let r = book.recalculate();
//! println!("{} of {} formula cells agree", r.agree, r.formula_cells);
//! let g = book.gradient("basic!F33").unwrap();
//! println!("{} = {}", g.cell, g.value);
//! ```

pub mod exact;
pub mod explain;
pub mod formula;
pub mod judge;
pub mod live;
pub mod ods;
pub mod read;
pub mod solver;
pub mod structure;
pub mod vba;

use std::collections::HashMap;

use gradsheet_engine::graph::{CompiledGraph, Graph, GraphError};

pub use judge::ColumnVerdict;
pub use read::{Cell, Sheet, Value, Workbook};

/// A cell: (sheet index, zero-based row, zero-based column).
pub type Key = (usize, u32, u32);

/// What went wrong opening or asking a workbook.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BookError {
    /// The bytes are not a workbook gradsheet reads.
    #[error("{0}")]
    Read(String),
    /// Past a limit on what gradsheet reads.
    #[error("{0}")]
    TooLarge(String),
    /// A cell address that cannot be read or is not there.
    #[error("{0}")]
    Address(String),
    /// A cell that cannot be differentiated, and why.
    #[error("{0}")]
    Cell(String),
}

/// `A1` for (row 0, column 0).
pub fn cell_name(row: u32, col: u32) -> String {
    let mut n = col + 1;
    let mut s = Vec::new();
    while n > 0 {
        s.push(b'A' + ((n - 1) % 26) as u8);
        n = (n - 1) / 26;
    }
    s.reverse();
    format!("{}{}", String::from_utf8_lossy(&s), row + 1)
}

/// The engine's name of a cell.
pub fn var(k: Key) -> String {
    format!("s{}r{}c{}", k.0, k.1, k.2)
}

/// What the translation asks of the workbook.
pub trait Lookup {
    /// The index of the sheet named `name`.
    fn sheet(&self, name: &str) -> Option<usize>;
    /// Whether the cell holds a number (typed, or a formula's numeric value).
    fn numeric(&self, k: Key) -> bool;
    /// Whether the cell holds text.
    fn is_text(&self, k: Key) -> bool;
    /// A defined name, as read by a formula on `sheet` (whose own name of that spelling
    /// comes first): the cell it refers to, or its constant.
    fn name(&self, n: &str, sheet: usize) -> Option<Result<Key, f64>>;
    /// The cell as Excel writes it.
    fn address(&self, k: Key) -> String;
    /// The number Excel saved in the cell, if any.
    fn cached(&self, _k: Key) -> Option<f64> {
        None
    }
    /// The text the cell holds, if it holds text.
    fn text(&self, _k: Key) -> Option<String> {
        None
    }
    /// The table of this name (case-insensitive, as Excel reads names).
    fn table(&self, _name: &str) -> Option<&structure::Table> {
        None
    }
    /// A defined name that refers to a range of several cells, as read on `sheet`: its
    /// corners.
    fn name_range(&self, _n: &str, _sheet: usize) -> Option<(Key, Key)> {
        None
    }
    /// The table whose data rows hold the cell.
    fn table_at(&self, _k: Key) -> Option<&structure::Table> {
        None
    }
}

/// A formula cell gradsheet did not recompute, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Skipped {
    /// The cell, as Excel writes it.
    pub cell: String,
    /// Why: a volatile function (its saved value is used), or what is not supported.
    pub reason: String,
}

/// A formula cell whose recalculated value differs from the saved one.
#[derive(Clone, Debug, PartialEq)]
pub struct Differ {
    /// The cell, as Excel writes it.
    pub cell: String,
    /// The value Excel saved.
    pub cached: f64,
    /// The value gradsheet computed.
    pub computed: f64,
}

/// The recalculation of every formula cell against the saved values.
#[derive(Clone, Debug, PartialEq)]
pub struct Recalculation {
    /// Formula cells in the workbook.
    pub formula_cells: usize,
    /// Recalculated cells equal to the saved value within a few ulps.
    pub agree: usize,
    /// Recalculated cells that differ.
    pub differ: Vec<Differ>,
    /// Formula cells not recalculated (volatile, unsupported, text results), with why.
    pub skipped: Vec<Skipped>,
}

/// A cell's value and its exact derivatives with respect to the inputs it depends on.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradient {
    /// The cell, as Excel writes it.
    pub cell: String,
    /// Its recalculated value.
    pub value: f64,
    /// (input cell, ∂cell/∂input), in the workbook's order.
    pub derivatives: Vec<(String, f64)>,
}

/// An opened workbook, as a graph of cells.
pub struct Book {
    wb: Workbook,
    /// Each cell's place: (sheet, index in the sheet's cells).
    at: HashMap<Key, usize>,
    sheet_index: HashMap<String, usize>,
    graph: Graph,
    /// Formula cells in the graph, in the workbook's order.
    computed: Vec<Key>,
    skipped: Vec<(Key, String)>,
    /// The inputs (cells the graph reads but does not compute) and their engine names.
    inputs: (Vec<Key>, Vec<String>),
    /// The workbook's tables, for structured references.
    tables: Vec<structure::Table>,
    /// The VBA modules of an .xlsm, read.
    modules: Vec<vba::Module>,
    /// The ranges array formulas fill: (sheet, top-left, bottom-right).
    arrays: Vec<(usize, structure::Pos, structure::Pos)>,
    /// One cell as a function of another, compiled once while columns are judged or a
    /// sheet explained (emptied after each: bounded by one judging's pairs).
    partials: judge::Partials,
    /// The defined names with their scope, as the file holds them (an .xlsx's).
    scoped_names: Vec<(String, Option<usize>, String)>,
}

impl Lookup for Book {
    fn sheet(&self, name: &str) -> Option<usize> {
        self.sheet_index.get(&name.to_lowercase()).copied()
    }
    fn numeric(&self, k: Key) -> bool {
        matches!(
            self.cell(k).map(|c| &c.value),
            Some(Value::Num(_) | Value::Bool(_))
        )
    }
    fn is_text(&self, k: Key) -> bool {
        matches!(self.cell(k).map(|c| &c.value), Some(Value::Text(_)))
    }
    fn cached(&self, k: Key) -> Option<f64> {
        match self.cell(k).map(|c| &c.value) {
            Some(Value::Num(v)) => Some(*v),
            Some(Value::Bool(b)) => Some(f64::from(u8::from(*b))),
            _ => None,
        }
    }
    fn text(&self, k: Key) -> Option<String> {
        match self.cell(k).map(|c| &c.value) {
            Some(Value::Text(t)) => Some(t.clone()),
            _ => None,
        }
    }
    fn table(&self, name: &str) -> Option<&structure::Table> {
        self.tables
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }
    fn name_range(&self, n: &str, on: usize) -> Option<(Key, Key)> {
        let to = self.name_target(n, on)?;
        let (sheet, cells) = to.trim_start_matches('=').rsplit_once('!')?;
        let (a, b) = cells.split_once(':')?;
        let s = self.sheet(&sheet.trim_matches('\'').replace("''", "'"))?;
        let (a, b) = (parse_a1(a)?, parse_a1(b)?);
        Some(((s, a.0, a.1), (s, b.0, b.1)))
    }
    fn table_at(&self, k: Key) -> Option<&structure::Table> {
        self.tables.iter().find(|t| {
            self.sheet(&t.sheet) == Some(k.0)
                && (t.rows.0..=t.rows.1).contains(&k.1)
                && (t.first_col..t.first_col + t.columns.len() as u32).contains(&k.2)
        })
    }
    fn name(&self, n: &str, on: usize) -> Option<Result<Key, f64>> {
        let to = self.name_target(n, on)?;
        let to = to.trim_start_matches('=');
        if let Ok(v) = to.parse::<f64>() {
            return Some(Err(v));
        }
        let (sheet, cell) = to.rsplit_once('!')?;
        let sheet = sheet.trim_matches('\'').replace("''", "'");
        let s = self.sheet(&sheet)?;
        let k = parse_a1(cell)?;
        Some(Ok((s, k.0, k.1)))
    }
    fn address(&self, k: Key) -> String {
        let name = &self.wb.sheets[k.0].name;
        let quoted = if name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            name.clone()
        } else {
            format!("'{}'", name.replace('\'', "''"))
        };
        format!("{quoted}!{}", cell_name(k.1, k.2))
    }
}

/// `$F$1` → (0, 5).
pub(crate) fn parse_a1(s: &str) -> Option<(u32, u32)> {
    let s = s.replace('$', "");
    let split = s.find(|c: char| c.is_ascii_digit())?;
    let (l, d) = s.split_at(split);
    if l.is_empty() || l.len() > 3 || !l.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let col = l
        .bytes()
        .fold(0u32, |n, b| n * 26 + u32::from(b - b'A' + 1))
        - 1;
    let row: u32 = d.parse().ok()?;
    (row >= 1).then(|| (row - 1, col))
}

impl Book {
    /// Opens a workbook from its bytes and translates every formula cell.
    ///
    /// # Errors
    ///
    /// As [`Workbook::from_bytes`].
    pub fn open(bytes: &[u8]) -> Result<Book, BookError> {
        let mut wb = Workbook::from_bytes(bytes)?;
        let scan = structure::scan(bytes);
        for c in scan.corrected {
            let Some(sh) = wb.sheets.iter_mut().find(|s| s.name == c.sheet) else {
                continue;
            };
            if let Some(cell) = sh
                .cells
                .iter_mut()
                .find(|x| (x.row, x.col) == c.cell && x.formula.is_some())
            {
                cell.formula = Some(c.formula);
            }
        }
        let mut book = Book::from_parts(wb, structure::tables(bytes), scan.arrays);
        book.modules = vba::modules(bytes);
        book.scoped_names = structure::scoped_names(bytes);
        Ok(book)
    }

    /// The graph of a workbook already read (without its tables and array ranges, which
    /// only its bytes hold: see [`Book::open`]).
    pub fn from_workbook(wb: Workbook) -> Book {
        Book::from_parts(wb, Vec::new(), Vec::new())
    }

    fn from_parts(
        wb: Workbook,
        tables: Vec<structure::Table>,
        arrays: Vec<structure::ArrayFormula>,
    ) -> Book {
        let mut at = HashMap::new();
        let mut sheet_index = HashMap::new();
        for (s, sh) in wb.sheets.iter().enumerate() {
            sheet_index.insert(sh.name.to_lowercase(), s);
            for (i, c) in sh.cells.iter().enumerate() {
                at.insert((s, c.row, c.col), i);
            }
        }
        let mut book = Book {
            wb,
            at,
            sheet_index,
            graph: Graph::new(),
            computed: Vec::new(),
            skipped: Vec::new(),
            inputs: (Vec::new(), Vec::new()),
            tables,
            modules: Vec::new(),
            arrays: Vec::new(),
            partials: judge::Partials::default(),
            scoped_names: Vec::new(),
        };
        book.arrays = arrays
            .iter()
            .filter_map(|a| Some((book.sheet(&a.sheet)?, a.range.0, a.range.1)))
            .collect();
        book.build();
        book
    }

    /// What the defined name `n` refers to, as read on sheet `on`. calamine lists a
    /// sheet's own names beside the workbook's without their scope; graddesc (2016) has
    /// `histgrad` on several sheets, each its own sheet's cells: a definition pointing
    /// into `on` is taken first.
    fn name_target(&self, n: &str, on: usize) -> Option<&str> {
        if let Some(t) = self.scoped_name(n, Some(on)) {
            return Some(t);
        }
        let all: Vec<&str> = self
            .wb
            .names
            .iter()
            .filter(|(m, _)| m.eq_ignore_ascii_case(n))
            .map(|(_, t)| t.as_str())
            .collect();
        let own = all.iter().copied().find(|t| {
            t.trim_start_matches('=')
                .rsplit_once('!')
                .and_then(|(sh, _)| self.sheet(&sh.trim_matches('\'').replace("''", "'")))
                == Some(on)
        });
        own.or_else(|| all.first().copied())
    }

    /// The name `n` defined for sheet `on` (`None`: for the whole workbook), read with its
    /// scope from the file; `None` where the file says nothing of scopes (an .ods, a
    /// workbook built in memory) or has no such name.
    pub(crate) fn scoped_name(&self, n: &str, on: Option<usize>) -> Option<&str> {
        self.scoped_names
            .iter()
            .find(|(m, s, _)| *s == on && m.eq_ignore_ascii_case(n))
            .map(|(_, _, t)| t.as_str())
    }

    /// The index of the sheet named `name` (any case).
    ///
    /// # Errors
    ///
    /// [`BookError::Address`] naming the sheets there are.
    pub fn sheet_index(&self, name: &str) -> Result<usize, BookError> {
        self.sheet(name).ok_or_else(|| {
            BookError::Address(format!(
                "no sheet named '{name}' (its sheets: {})",
                self.wb
                    .sheets
                    .iter()
                    .map(|s| format!("'{}'", s.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }

    /// Whether the cell is filled by an array formula (`{=MMULT(…)}` over a range).
    pub fn in_array(&self, sheet: usize, row: u32, col: u32) -> bool {
        self.array_of((sheet, row, col)).is_some()
    }

    /// The range an array formula anchored at this cell fills: (top left, bottom right),
    /// as (row, column); `None` for a cell that is not an array formula's first.
    pub fn array_range(
        &self,
        sheet: usize,
        row: u32,
        col: u32,
    ) -> Option<(structure::Pos, structure::Pos)> {
        self.array_of((sheet, row, col))
            .filter(|(_, a, _)| *a == (row, col))
            .map(|(_, a, b)| (a, b))
    }

    /// The array formula range holding `k`, if any.
    fn array_of(&self, k: Key) -> Option<(usize, structure::Pos, structure::Pos)> {
        self.arrays
            .iter()
            .copied()
            .find(|(s, a, b)| *s == k.0 && (a.0..=b.0).contains(&k.1) && (a.1..=b.1).contains(&k.2))
    }

    fn cell(&self, k: Key) -> Option<&Cell> {
        self.at.get(&k).map(|&i| &self.wb.sheets[k.0].cells[i])
    }

    /// The workbook as read.
    pub fn workbook(&self) -> &Workbook {
        &self.wb
    }

    fn build(&mut self) {
        let mut graph = Graph::new();
        let mut computed = Vec::new();
        let mut skipped = Vec::new();
        // Array formulas first: written once at their anchor, they fill every cell of
        // their range (the other cells hold only Excel's values).
        for &(s, a, b) in &self.arrays {
            let anchor = (s, a.0, a.1);
            let Some(f) = self.cell(anchor).and_then(|c| c.formula.clone()) else {
                continue;
            };
            let (rows, cols) = ((b.0 - a.0 + 1) as usize, (b.1 - a.1 + 1) as usize);
            let keys: Vec<Key> = (a.0..=b.0)
                .flat_map(|r| (a.1..=b.1).map(move |c| (s, r, c)))
                .collect();
            match formula::translate_array(&f, anchor, (rows, cols), self) {
                Ok((texts, aux)) => {
                    let mut parts = Vec::with_capacity(aux.len() + texts.len());
                    let mut fault = None;
                    let named = keys.iter().map(|k| var(*k)).zip(texts);
                    for (name, t) in aux.into_iter().chain(named) {
                        match gradsheet_engine::parse(&t) {
                            Ok(e) => parts.push((name, e)),
                            Err(e) => fault = Some(e.kind.to_string()),
                        }
                    }
                    match fault {
                        None => {
                            for (name, e) in parts {
                                graph.cell(&name, e);
                            }
                            computed.extend(keys);
                        }
                        Some(why) => skipped.extend(
                            keys.into_iter()
                                .map(|k| (k, format!("cannot compute it: {why}"))),
                        ),
                    }
                }
                Err(formula::Untranslated::Volatile(f)) => skipped.extend(
                    keys.into_iter()
                        .map(|k| (k, format!("volatile ({f}): its saved value is used"))),
                ),
                Err(formula::Untranslated::Unsupported(w)) => {
                    skipped.extend(keys.into_iter().map(|k| (k, format!("not supported: {w}"))))
                }
            }
        }
        for (s, sh) in self.wb.sheets.iter().enumerate() {
            for c in &sh.cells {
                let k = (s, c.row, c.col);
                if self.array_of(k).is_some() {
                    continue;
                }
                let Some(f) = &c.formula else { continue };
                if !matches!(c.value, Value::Num(_)) {
                    skipped.push((k, "its value is not a number".to_string()));
                    continue;
                }
                match formula::translate(f, k, self) {
                    Ok((text, aux)) => {
                        let mut parts = Vec::with_capacity(aux.len() + 1);
                        let mut fault = None;
                        for (name, t) in aux.iter().chain(std::iter::once(&(var(k), text))) {
                            match gradsheet_engine::parse(t) {
                                Ok(e) => parts.push((name.clone(), e)),
                                Err(e) => fault = Some(e.kind.to_string()),
                            }
                        }
                        match fault {
                            None => {
                                for (name, e) in parts {
                                    graph.cell(&name, e);
                                }
                                computed.push(k);
                            }
                            Some(why) => skipped.push((k, format!("cannot compute it: {why}"))),
                        }
                    }
                    Err(formula::Untranslated::Volatile(f)) => {
                        skipped.push((k, format!("volatile ({f}): its saved value is used")))
                    }
                    Err(formula::Untranslated::Unsupported(w)) => {
                        skipped.push((k, format!("not supported: {w}")))
                    }
                }
            }
        }
        self.graph = graph;
        self.computed = computed;
        self.skipped = skipped;
        self.settle();
    }

    /// Leaves out of the graph the cells of circular references (they keep their saved
    /// values, named), until the rest compiles.
    fn settle(&mut self) {
        for _ in 0..1000 {
            let outputs: Vec<String> = self.computed.iter().map(|k| var(*k)).collect();
            self.inputs = self.find_inputs();
            let inputs = self.input_names();
            match self.graph.order(&inputs, &outputs) {
                Err(GraphError::Cycle(cycle)) => {
                    let keys: Vec<Key> = self
                        .computed
                        .iter()
                        .copied()
                        .filter(|k| cycle.contains(&var(*k)))
                        .collect();
                    let names: Vec<String> = keys.iter().map(|k| self.address(*k)).collect();
                    self.computed.retain(|k| !keys.contains(k));
                    for k in keys {
                        self.skipped
                            .push((k, format!("a circular reference: {}", names.join(" → "))));
                    }
                }
                _ => break,
            }
        }
        self.inputs = self.find_inputs();
    }

    /// Every number a formula reads that the graph does not compute: typed numbers and
    /// formula cells left out (their saved values).
    fn input_keys(&self) -> Vec<Key> {
        self.inputs.0.clone()
    }

    /// [`Book::input_keys`] found again, once the graph is settled.
    fn find_inputs(&self) -> (Vec<Key>, Vec<String>) {
        let computed: std::collections::HashSet<Key> = self.computed.iter().copied().collect();
        let mut out = Vec::new();
        for (s, sh) in self.wb.sheets.iter().enumerate() {
            for c in &sh.cells {
                let k = (s, c.row, c.col);
                if !computed.contains(&k) && matches!(c.value, Value::Num(_) | Value::Bool(_)) {
                    out.push(k);
                }
            }
        }
        let names = out.iter().map(|k| var(*k)).collect();
        (out, names)
    }

    fn input_names(&self) -> Vec<String> {
        self.inputs.1.clone()
    }

    fn input_values(&self, keys: &[Key]) -> Vec<f64> {
        keys.iter()
            .map(|k| match self.cell(*k).map(|c| &c.value) {
                Some(Value::Num(v)) => *v,
                Some(Value::Bool(b)) => f64::from(u8::from(*b)),
                _ => 0.0,
            })
            .collect()
    }

    fn compile(&self, outputs: &[Key]) -> Result<(CompiledGraph, Vec<Key>), GraphError> {
        let keys = self.input_keys();
        let names: Vec<String> = keys.iter().map(|k| var(*k)).collect();
        let outs: Vec<String> = outputs.iter().map(|k| var(*k)).collect();
        Ok((self.graph.compile(&names, &outs)?, keys))
    }

    /// Recalculates every formula cell it computes and compares with the saved values.
    pub fn recalculate(&self) -> Recalculation {
        // Cells with a formula of their own, and the other cells array formulas fill.
        let formula_cells = self
            .wb
            .sheets
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.cells
                    .iter()
                    .filter(|c| c.formula.is_some() || self.array_of((i, c.row, c.col)).is_some())
                    .count()
            })
            .sum();
        let mut skipped: Vec<Skipped> = self
            .skipped
            .iter()
            .map(|(k, r)| Skipped {
                cell: self.address(*k),
                reason: r.clone(),
            })
            .collect();
        let mut agree = 0;
        let mut differ = Vec::new();
        match self.values() {
            Ok(values) => {
                for k in &self.computed {
                    let Some(Value::Num(cached)) = self.cell(*k).map(|c| &c.value) else {
                        continue;
                    };
                    let computed = values.get(k).copied().unwrap_or(f64::NAN);
                    if close(*cached, computed, self.wb.saved_digits) {
                        agree += 1;
                    } else {
                        differ.push(Differ {
                            cell: self.address(*k),
                            cached: *cached,
                            computed,
                        });
                    }
                }
            }
            Err(e) => skipped.push(Skipped {
                cell: "the workbook".into(),
                reason: e.to_string(),
            }),
        }
        Recalculation {
            formula_cells,
            agree,
            differ,
            skipped,
        }
    }

    /// The cell at an address as Excel writes it (`'basic SGD 2 neurons'!H33`, `basic!F33`).
    ///
    /// # Errors
    ///
    /// [`BookError::Address`] naming what cannot be read.
    pub fn key(&self, address: &str) -> Result<Key, BookError> {
        let (sheet, cell) = address.rsplit_once('!').ok_or_else(|| {
            BookError::Address(format!(
                "{address}: write a cell as Sheet!A1 or 'Sheet name'!A1"
            ))
        })?;
        let sheet = sheet.trim_matches('\'').replace("''", "'");
        let s = self.sheet(&sheet).ok_or_else(|| {
            BookError::Address(format!(
                "{address}: no sheet named '{sheet}' (the sheets are {})",
                self.wb
                    .sheets
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        let (r, c) = parse_a1(cell).ok_or_else(|| {
            BookError::Address(format!("{address}: '{cell}' is not a cell like A1"))
        })?;
        Ok((s, r, c))
    }

    /// The value of the cell at `address` and its exact derivative with respect to every
    /// input it depends on (typed numbers, and the saved values of cells not computed).
    ///
    /// # Errors
    ///
    /// [`BookError::Address`] for an address that cannot be read; [`BookError::Cell`] for
    /// a cell that is not a computed formula.
    pub fn gradient(&self, address: &str) -> Result<Gradient, BookError> {
        let k = self.key(address)?;
        if !self.computed.contains(&k) {
            let why = self
                .skipped
                .iter()
                .find(|(s, _)| *s == k)
                .map(|(_, r)| r.clone())
                .unwrap_or_else(|| "it is not a formula cell".into());
            return Err(BookError::Cell(format!("{}: {why}", self.address(k))));
        }
        let (c, keys) = self
            .compile(&[k])
            .map_err(|e| BookError::Cell(e.to_string()))?;
        let (value, grad) = c.value_and_gradient(&self.input_values(&keys), 0);
        // The inputs the cell depends on: the slots its tape (only the cells it needs)
        // reads.
        let used: std::collections::HashSet<u32> = c
            .tape
            .code()
            .iter()
            .flat_map(|i| i.code.operands().iter().map(move |o| i.slot(*o)))
            .chain(c.tape.outputs().iter().copied())
            .collect();
        let derivatives = keys
            .iter()
            .enumerate()
            .filter(|(i, _)| used.contains(&(*i as u32)))
            .map(|(i, key)| (self.address(*key), grad[i]))
            .collect();
        Ok(Gradient {
            cell: self.address(k),
            value,
            derivatives,
        })
    }
}

impl Book {
    /// The value of the cell at `address` recalculated with some inputs changed
    /// (`(input address, value)`): what a learner sees after typing new numbers.
    ///
    /// # Errors
    ///
    /// As [`Book::gradient`], and [`BookError::Address`] for a change that is not an input.
    pub fn value_with(&self, address: &str, changes: &[(&str, f64)]) -> Result<f64, BookError> {
        let k = self.key(address)?;
        if !self.computed.contains(&k) {
            return Err(BookError::Cell(format!(
                "{}: not a computed formula cell",
                self.address(k)
            )));
        }
        let (c, keys) = self
            .compile(&[k])
            .map_err(|e| BookError::Cell(e.to_string()))?;
        let mut vals = self.input_values(&keys);
        for (at, v) in changes {
            let ck = self.key(at)?;
            let i = keys.iter().position(|x| *x == ck).ok_or_else(|| {
                BookError::Address(format!(
                    "{}: not an input (a number typed in)",
                    self.address(ck)
                ))
            })?;
            vals[i] = *v;
        }
        Ok(c.value_and_gradient(&vals, 0).0)
    }
}

/// One epoch of a sheet's loop: the values copied back and the cells watched, after it.
#[derive(Clone, Debug, PartialEq)]
pub struct Epoch {
    /// 1 for the first.
    pub epoch: usize,
    /// Each copy's target cell and the value it received.
    pub copied: Vec<(String, f64)>,
    /// Each watched cell and its value once the sheet is recalculated with them.
    pub watched: Vec<(String, f64)>,
}

impl Book {
    /// The sheet's loop as its Run macro plays it: `epochs` times, copy the values of
    /// each `(from, to)` pair into `to` (a number typed in: the parameters at the top),
    /// recalculate, and read the `watch` cells. The graph is compiled once; each epoch
    /// is one evaluation of the workbook. `visit` sees each epoch as it ends, so a long
    /// run keeps nothing but its last state.
    ///
    /// # Errors
    ///
    /// [`BookError::Address`] for an address that cannot be read or a `to` that is not
    /// a number typed in; [`BookError::Cell`] when a `from` or `watch` cell is not
    /// recalculated or the workbook's graph cannot be compiled.
    pub fn run(
        &self,
        copies: &[(String, String)],
        watch: &[String],
        epochs: usize,
        mut visit: impl FnMut(&Epoch),
    ) -> Result<(), BookError> {
        let (c, keys) = self
            .compile(&self.computed)
            .map_err(|e| BookError::Cell(e.to_string()))?;
        let slot_of: HashMap<&str, usize> = c
            .cells
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.as_str(), i))
            .collect();
        // Where a cell's value is read after an evaluation: a computed cell's slot, or an
        // input's own value.
        let read = |addr: &str| -> Result<(String, Result<usize, usize>), BookError> {
            let k = self.key(addr)?;
            if let Some(i) = slot_of.get(var(k).as_str()) {
                return Ok((self.address(k), Ok(*i)));
            }
            match keys.iter().position(|x| *x == k) {
                Some(i) => Ok((self.address(k), Err(i))),
                None => Err(BookError::Cell(format!(
                    "{}: not a number gradsheet recalculates",
                    self.address(k)
                ))),
            }
        };
        let mut pairs = Vec::with_capacity(copies.len());
        for (from, to) in copies {
            let (_, src) = read(from)?;
            let tk = self.key(to)?;
            let ti = keys.iter().position(|x| *x == tk).ok_or_else(|| {
                BookError::Address(format!(
                    "{}: the value is copied into a number typed in, and this cell is not one",
                    self.address(tk)
                ))
            })?;
            pairs.push((self.address(tk), src, ti));
        }
        let watched: Vec<(String, Result<usize, usize>)> =
            watch.iter().map(|w| read(w)).collect::<Result<_, _>>()?;
        let mut inputs = self.input_values(&keys);
        let mut vals = c.values(&inputs);
        for epoch in 1..=epochs {
            let get = |at: &Result<usize, usize>, vals: &[f64], inputs: &[f64]| match at {
                Ok(i) => vals[*i],
                Err(i) => inputs[*i],
            };
            let new: Vec<f64> = pairs
                .iter()
                .map(|(_, src, _)| get(src, &vals, &inputs))
                .collect();
            for ((_, _, ti), v) in pairs.iter().zip(&new) {
                inputs[*ti] = *v;
            }
            vals = c.values(&inputs);
            visit(&Epoch {
                epoch,
                copied: pairs
                    .iter()
                    .zip(&new)
                    .map(|((n, _, _), v)| (n.clone(), *v))
                    .collect(),
                watched: watched
                    .iter()
                    .map(|(n, at)| (n.clone(), get(at, &vals, &inputs)))
                    .collect(),
            });
        }
        Ok(())
    }
}

/// Equal within a few ulps (Excel's own arithmetic, reordered, stays this close), or,
/// for a value saved in `digits` significant decimal digits, to within its last one.
fn close(a: f64, b: f64, digits: Option<u32>) -> bool {
    let m = a.abs().max(b.abs());
    a == b
        || (a - b).abs() <= 8.0 * f64::EPSILON * m
        || digits.is_some_and(|d| (a - b).abs() <= 10f64.powi(1 - d as i32) * m)
}

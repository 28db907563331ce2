//! The derivative columns a learner typed, judged: found by their header (`de/da`,
//! `est de/db`, `∂e/∂a`), matched by shape to the cell of their row they differentiate and
//! the cell they differentiate with respect to, and given a verdict on every row — exact,
//! a forward, backward or central difference (with its step and its error), or wrong.

use std::collections::HashMap;

use gradsheet_engine::graph::GraphError;

use crate::{cell_name, var, Book, Key, Value};

/// What a typed derivative column turned out to be.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnVerdict {
    /// The sheet.
    pub sheet: String,
    /// Its cells, `H4:H32`.
    pub range: String,
    /// The header typed above it.
    pub header: String,
    /// The cell of the first row it differentiates, `F4`.
    pub of: String,
    /// The cell of the first row it differentiates with respect to, `C4`.
    pub wrt: String,
    /// `exact`, `forward difference`, `backward difference`, `central difference` or
    /// `wrong`.
    pub verdict: &'static str,
    /// The step of a difference.
    pub h: Option<f64>,
    /// The largest |typed − exact| over its rows.
    pub max_abs_error: f64,
    /// What else there is to say: where the error is largest, what is wrong.
    pub note: String,
}

/// Whether a header names a derivative: `de/da`, `est de/db`, `∂e/∂a`, `d err / d w1`.
fn is_derivative_header(h: &str) -> bool {
    let t = h.to_lowercase();
    let Some((top, bottom)) = t.split_once('/') else {
        return false;
    };
    // The last word before the slash (`est de`, `d err`) and what follows it.
    let mut words = top.split_whitespace().rev();
    let last = words.next().unwrap_or("");
    let prev = words.next().unwrap_or("");
    // `de`, `∂e`, or `d err` (the d apart from what it differentiates).
    let top = if (prev == "d" || prev == "∂") && !last.is_empty() {
        format!("d{last}")
    } else {
        last.to_string()
    };
    let bottom: String = bottom.chars().filter(|c| !c.is_whitespace()).collect();
    (top.starts_with('d') || top.starts_with('∂'))
        && top.len() > 1
        && (bottom.starts_with('d') || bottom.starts_with('∂'))
        && bottom.chars().count() > 1
}

/// The name a derivative header differentiates with respect to: `de/db` → `b`,
/// `∂e/∂w1` → `w1`, `d err / d a` → `a`.
fn header_wrt(h: &str) -> Option<String> {
    let (_, bottom) = h.split_once('/')?;
    let b: String = bottom.chars().filter(|c| !c.is_whitespace()).collect();
    let b = b.strip_prefix('d').or_else(|| b.strip_prefix('∂'))?;
    (!b.is_empty()).then(|| b.to_string())
}

/// What a typed column differentiates: a cell of its row, or the squared error of a
/// computed cell against a typed one (columns).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Of {
    Cell(u32),
    Squared(u32, u32),
}

impl Of {
    fn cell(self) -> u32 {
        match self {
            Of::Cell(e) | Of::Squared(e, _) => e,
        }
    }

    /// As the verdict names it on row `r`: `F4`, or `(E4-B4)^2`.
    fn text(self, r: u32) -> String {
        match self {
            Of::Cell(e) => cell_name(r, e),
            Of::Squared(e, y) => format!("({}-{})^2", cell_name(r, e), cell_name(r, y)),
        }
    }
}

/// One cell as a function of another ([`Book::partial`]), compiled.
pub(crate) struct Partial {
    graph: gradsheet_engine::graph::CompiledGraph,
    /// The slot of the cell differentiated by.
    w: usize,
    /// Whether that cell is not an input of the workbook (a computed cell cut out).
    extra: bool,
}

/// [`Partial`]s by (cell, cell differentiated by), compiled once each while columns
/// are judged: a column's verdict evaluates the same pair at many points.
#[derive(Default)]
pub(crate) struct Partials(std::sync::Mutex<PartialMap>);

type PartialMap = HashMap<(Key, Key), Option<std::sync::Arc<Partial>>>;

impl Partials {
    fn get(
        &self,
        of: Key,
        wrt: Key,
        make: impl FnOnce() -> Option<Partial>,
    ) -> Option<std::sync::Arc<Partial>> {
        let mut m = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        m.entry((of, wrt))
            .or_insert_with(|| make().map(std::sync::Arc::new))
            .clone()
    }

    /// Forgets them all (after a judging: they are not kept with the book).
    pub(crate) fn clear(&self) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}

/// A number in ±[1/2, 1] fixed by the cell: how far [`Book::values_moved`] moves it.
/// (SplitMix64's finaliser on the cell's coordinates: a hash, not a draw, so no seed.)
fn nudge((s, r, c): Key) -> f64 {
    let mut z = (s as u64) << 40 ^ u64::from(r) << 16 ^ u64::from(c);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let u = (z >> 11) as f64 / (1u64 << 53) as f64; // in [0, 1)
    if z & 1 == 0 {
        0.5 + u / 2.0
    } else {
        -0.5 - u / 2.0
    }
}

/// How far the inputs move for the second look at a column that agreed at the sheet's
/// own numbers: far enough that a factor left out (c at 1) shows by percents, near
/// enough that a training sheet's rows stay where they were (finite, the same side of
/// a ReLU's kink in most rows).
const MOVE: f64 = 0.05;

/// The fewest rows a column found by its values has.
const SHAPE_MIN_ROWS: usize = 3;

/// The most formula cells of a sheet whose columns are looked at by their values.
const SHAPE_MAX_CELLS: usize = 5_000;

/// The most columns of a sheet looked at by their values.
const SHAPE_MAX_COLUMNS: usize = 24;

/// The leading term of a scheme's error (`h/2·∂²F4/∂C4²`): the first term of the Taylor
/// series the difference drops.
fn leading_term(kind: &str, of: &str, wrt: &str) -> String {
    match kind {
        "forward difference" => format!("h/2·∂²{of}/∂{wrt}²"),
        "backward difference" => format!("−h/2·∂²{of}/∂{wrt}²"),
        _ => format!("h²/6·∂³{of}/∂{wrt}³"),
    }
}

fn rel(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / a.abs().max(b.abs()).max(1e-300)
    }
}

impl Book {
    /// Every formula cell's recalculated value (cells not computed: their saved values).
    ///
    /// # Errors
    ///
    /// The graph's, when it cannot be compiled.
    pub(crate) fn values(&self) -> Result<HashMap<Key, f64>, GraphError> {
        self.values_moved(0.0)
    }

    /// [`Book::values`] with every input number that is not 0 moved by between `by`/2
    /// and `by` of itself, up or down, the same way for the same cell every time. (A 0
    /// is left alone: it is often a structural one, an initial state or a switch.)
    fn values_moved(&self, by: f64) -> Result<HashMap<Key, f64>, GraphError> {
        self.values_with(by, &[])
    }

    /// [`Book::values_moved`] by `by` after the inputs `changes` are set.
    pub(crate) fn values_with(
        &self,
        by: f64,
        changes: &[(Key, f64)],
    ) -> Result<HashMap<Key, f64>, GraphError> {
        let mut out: HashMap<Key, f64> = HashMap::new();
        let (c, keys) = self.compile(&self.computed)?;
        let mut inputs = self.input_values(&keys);
        for (k, v) in keys.iter().zip(&mut inputs) {
            if let Some((_, x)) = changes.iter().find(|(c, _)| c == k) {
                *v = *x;
            }
            *v *= 1.0 + by * nudge(*k);
            out.insert(*k, *v);
        }
        let vals = c.values(&inputs);
        let by_name: HashMap<&str, f64> = c
            .cells
            .iter()
            .zip(&vals)
            .map(|((n, _), v)| (n.as_str(), *v))
            .collect();
        for k in &self.computed {
            if let Some(v) = by_name.get(var(*k).as_str()) {
                out.insert(*k, *v);
            }
        }
        Ok(out)
    }

    /// `of` as a function of `wrt` alone (every other number as it is): its value at
    /// `at` and its exact derivative there. `None` when `of` does not depend on `wrt` or
    /// cannot be computed.
    pub(crate) fn partial(
        &self,
        of: Key,
        wrt: Key,
        at: f64,
        values: &HashMap<Key, f64>,
    ) -> Option<(f64, f64)> {
        if !self.computed.contains(&of) || of == wrt {
            return None;
        }
        let p = self.partials.get(of, wrt, || {
            // Cut the graph at `wrt`: as an input, the cells it is computed from stay out.
            let keys = self.input_keys();
            let mut names = self.input_names();
            let extra = !keys.contains(&wrt);
            if extra {
                names.push(var(wrt));
            }
            let graph = self.graph.compile(&names, &[var(of)]).ok()?;
            let w = if extra {
                keys.len()
            } else {
                keys.iter().position(|k| *k == wrt)?
            };
            let uses = graph
                .tape
                .code()
                .iter()
                .any(|i| i.code.operands().iter().any(|o| i.slot(*o) == w as u32));
            uses.then_some(Partial { graph, w, extra })
        })?;
        let (c, w) = (&p.graph, p.w);
        let mut vals: Vec<f64> = self
            .input_keys()
            .iter()
            .map(|k| values.get(k).copied().unwrap_or(0.0))
            .collect();
        if p.extra {
            vals.push(at);
        }
        vals[w] = at;
        let (v, g) = c.value_and_gradient(&vals, 0);
        Some((v, g[w]))
    }

    /// The typed derivative columns of every sheet, judged.
    pub fn derivative_columns(&self) -> Vec<ColumnVerdict> {
        let Ok(values) = self.values() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut moved: Option<Option<HashMap<Key, f64>>> = None;
        for (s, sh) in self.wb.sheets.iter().enumerate() {
            for head in &sh.cells {
                let Value::Text(h) = &head.value else {
                    continue;
                };
                if head.formula.is_some() || !is_derivative_header(h) {
                    continue;
                }
                // Its rows: the computed formula cells below the header, until a gap.
                let mut rows = Vec::new();
                let mut r = head.row + 1;
                while self.computed.contains(&(s, r, head.col)) && rows.len() < 100_000 {
                    rows.push(r);
                    r += 1;
                }
                if rows.is_empty() {
                    continue;
                }
                let moved = moved.get_or_insert_with(|| self.values_moved(MOVE).ok());
                if let Some(v) = self.judge(s, head.col, h, &rows, &values, moved.as_ref()) {
                    out.push(v);
                }
            }
        }
        self.by_shape(&values, &mut moved, &mut out);
        self.partials.clear();
        out
    }

    /// Columns typed as derivatives under no header that says so, found by their values:
    /// a run of at least [`SHAPE_MIN_ROWS`] formula cells whose first value is within 5%
    /// of the derivative of another cell of its row by a number of that row, then judged
    /// in full (kept unless wrong). Looked for on sheets of learner size (at most
    /// [`SHAPE_MAX_CELLS`] formula cells), in at most [`SHAPE_MAX_COLUMNS`] columns a sheet.
    fn by_shape(
        &self,
        values: &HashMap<Key, f64>,
        moved: &mut Option<Option<HashMap<Key, f64>>>,
        out: &mut Vec<ColumnVerdict>,
    ) {
        let computed: std::collections::HashSet<Key> = self.computed.iter().copied().collect();
        for (s, sh) in self.wb.sheets.iter().enumerate() {
            let mine: Vec<Key> = self.computed.iter().copied().filter(|k| k.0 == s).collect();
            if mine.len() > SHAPE_MAX_CELLS {
                continue;
            }
            let mut cols: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
            for k in &mine {
                cols.entry(k.2).or_default().push(k.1);
            }
            let mut looked = 0;
            for (col, mut rows) in cols {
                rows.sort_unstable();
                // Its runs of consecutive rows.
                let mut runs: Vec<Vec<u32>> = Vec::new();
                for r in rows {
                    match runs.last_mut() {
                        Some(run) if run.last() == Some(&(r - 1)) => run.push(r),
                        _ => runs.push(vec![r]),
                    }
                }
                for run in runs.into_iter().filter(|r| r.len() >= SHAPE_MIN_ROWS) {
                    let r0 = run[0];
                    let head = r0
                        .checked_sub(1)
                        .and_then(|hr| self.cell((s, hr, col)))
                        .map(|c| match &c.value {
                            Value::Text(t) => t.clone(),
                            _ => String::new(),
                        })
                        .unwrap_or_default();
                    let judged = out.iter().any(|v| {
                        v.sheet == sh.name
                            && v.range
                                .split_once(':')
                                .and_then(|(a, _)| crate::parse_a1(a))
                                == Some((r0, col))
                    });
                    if judged || is_derivative_header(&head) || looked >= SHAPE_MAX_COLUMNS {
                        continue;
                    }
                    looked += 1;
                    if !self.looks_like_a_derivative(s, col, r0, values, &computed) {
                        continue;
                    }
                    let m = moved.get_or_insert_with(|| self.values_moved(MOVE).ok());
                    if let Some(mut v) = self.judge(s, col, &head, &run, values, m.as_ref()) {
                        if v.verdict != "wrong" {
                            v.note = format!("found by its values (no header says so): {}", v.note);
                            out.push(v);
                        }
                    }
                }
            }
        }
    }

    /// Whether the first value of column `col` (row `r0`) is within 5% of ∂e/∂w for some
    /// computed cell e and number w of its row (a few of each: a quick look before the
    /// full judging).
    fn looks_like_a_derivative(
        &self,
        s: usize,
        col: u32,
        r0: u32,
        values: &HashMap<Key, f64>,
        computed: &std::collections::HashSet<Key>,
    ) -> bool {
        let typed = values.get(&(s, r0, col)).copied().unwrap_or(f64::NAN);
        if !typed.is_finite() || typed == 0.0 {
            return false;
        }
        // A derivative typed by hand reads a computed cell of its own row (the error, the
        // prediction, a nudged copy): a column that does not is not looked at further.
        let reads_its_row = self.graph.formula(&var((s, r0, col))).is_some_and(|f| {
            f.names_in_order().iter().any(|n| {
                crate::exact::key_of(n)
                    .is_some_and(|k| k.0 == s && k.1 == r0 && computed.contains(&k))
            })
        });
        if !reads_its_row {
            return false;
        }
        let row: Vec<u32> = self.wb.sheets[s]
            .cells
            .iter()
            .filter(|c| c.row == r0 && c.col != col && matches!(c.value, Value::Num(_)))
            .map(|c| c.col)
            .collect();
        let ofs: Vec<u32> = row
            .iter()
            .copied()
            .filter(|e| {
                computed.contains(&(s, r0, *e)) && !self.depends_on((s, r0, *e), (s, r0, col))
            })
            .take(6)
            .collect();
        ofs.iter().any(|&e| {
            row.iter().take(16).any(|&w| {
                w != e
                    && self
                        .partial(
                            (s, r0, e),
                            (s, r0, w),
                            values.get(&(s, r0, w)).copied().unwrap_or(0.0),
                            values,
                        )
                        .is_some_and(|(_, d)| d.is_finite() && rel(typed, d) < 0.05)
            })
        })
    }

    fn judge(
        &self,
        s: usize,
        col: u32,
        header: &str,
        rows: &[u32],
        values: &HashMap<Key, f64>,
        moved: Option<&HashMap<Key, f64>>,
    ) -> Option<ColumnVerdict> {
        let r0 = rows[0];
        let typed: Vec<f64> = rows
            .iter()
            .map(|r| values.get(&(s, *r, col)).copied().unwrap_or(f64::NAN))
            .collect();
        let row_cells: Vec<u32> = self.wb.sheets[s]
            .cells
            .iter()
            .filter(|c| c.row == r0 && c.col != col && matches!(c.value, Value::Num(_)))
            .map(|c| c.col)
            .collect();
        // What it may differentiate: a computed cell of its row, or — where a sheet keeps
        // no error column (rmsprop, adam) — the squared error of a computed cell against
        // a typed one, (pred − y)².
        let mut ofs: Vec<Of> = Vec::new();
        let mut squared: Vec<Of> = Vec::new();
        // Another typed derivative column is not what this one differentiates.
        let is_derivative = |e: u32| {
            r0.checked_sub(1)
                .and_then(|hr| self.cell((s, hr, e)))
                .is_some_and(|c| matches!(&c.value, Value::Text(t) if is_derivative_header(t)))
        };
        for &e in &row_cells {
            if !self.computed.contains(&(s, r0, e))
                || is_derivative(e)
                || self.depends_on((s, r0, e), (s, r0, col))
            {
                continue;
            }
            ofs.push(Of::Cell(e));
            for &y in &row_cells {
                if y != e && !self.computed.contains(&(s, r0, y)) {
                    squared.push(Of::Squared(e, y));
                }
            }
        }
        // A cell the sheet holds is preferred to an error it does not.
        ofs.extend(squared);
        let probe: Vec<usize> = (0..rows.len()).step_by((rows.len() / 4).max(1)).collect();
        // The gap between the typed column and the exact derivative of (of, w) on the
        // rows `at`.
        let gap_on = |of: Of, w: u32, at: &[usize]| -> f64 {
            let mut gap = 0.0f64;
            for &i in at {
                let r = rows[i];
                let x = values.get(&(s, r, w)).copied().unwrap_or(0.0);
                match self.of_at(of, s, r, w, x, values) {
                    Some((_, d)) if d.is_finite() => gap = gap.max(rel(typed[i], d)),
                    _ => return f64::INFINITY,
                }
            }
            gap
        };
        // Every pair on the first row (one evaluation each), then the closest dozen on a
        // few rows spread over the column: one row can agree by accident (c = 1 hides a
        // missing factor c).
        let mut first_row: Vec<(f64, Of, u32)> = Vec::new();
        for of in &ofs {
            for &w in &row_cells {
                if w != of.cell() {
                    let g = gap_on(*of, w, &[0]);
                    if g.is_finite() {
                        first_row.push((g, *of, w));
                    }
                }
            }
        }
        // Equal gaps (every derivative 0 where a ReLU is off, or a = b = 1) are settled
        // by the headers: `de/db` is with respect to the column headed `b`.
        let named = |w: u32| -> bool {
            let (Some(want), Some(Value::Text(h))) = (
                header_wrt(header),
                r0.checked_sub(1)
                    .and_then(|hr| self.cell((s, hr, w)))
                    .map(|c| &c.value),
            ) else {
                return false;
            };
            h.trim().eq_ignore_ascii_case(&want)
        };
        let rank = |c: &(f64, Of, u32)| (c.0, !named(c.2));
        first_row.sort_by(|a, b| {
            rank(a)
                .partial_cmp(&rank(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        // The parameter the header names is always looked at (its wrong formula is told
        // as wrong by that parameter), with the closest cell's error.
        let best_of = first_row.first().map(|c| c.1);
        let chosen: Vec<(f64, Of, u32)> = first_row
            .iter()
            .take(12)
            .chain(
                first_row
                    .iter()
                    .skip(12)
                    .filter(|c| named(c.2) && Some(c.1) == best_of),
            )
            .copied()
            .collect();
        let mut candidates: Vec<(f64, Of, u32)> = chosen
            .into_iter()
            .map(|(_, of, w)| (gap_on(of, w, &probe), of, w))
            .filter(|c| c.0.is_finite())
            .collect();
        // The closest pairs, each judged in full: a finite difference can stray from the
        // exact derivative by several percent (0.01·x² at x = 99), so the closest exact
        // derivative is not always the one it approximates.
        candidates.sort_by(|a, b| {
            rank(a)
                .partial_cmp(&rank(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        // A pair that holds at the sheet's numbers must hold with the inputs moved too:
        // at a = b = c = d = 1, ∂e/∂b and ∂e/∂x are the same numbers.
        let mut first = None;
        let mut hidden = None;
        let mut by_header = None;
        for (i, &(gap, of, w)) in candidates.iter().enumerate() {
            if (i >= 8 || (gap > 0.25 && (first.is_some() || hidden.is_some()))) && !named(w) {
                continue;
            }
            let Some(v) = self.classify(s, col, header, rows, &typed, values, gap, of, w) else {
                continue;
            };
            if v.verdict != "wrong" {
                match moved.and_then(|m| self.fails_moved(&v, (of, w), s, col, rows, m)) {
                    None => return Some(self.wrong_parameter(v, s, r0, w, header)),
                    Some(wrong) => {
                        hidden.get_or_insert((wrong, w));
                        continue;
                    }
                }
            }
            if named(w) && Some(of) == best_of {
                by_header.get_or_insert(v.clone());
            }
            first.get_or_insert(v);
        }
        // Wrong by the parameter its header names, of the closest cell, beats a pair that
        // only agreed where the sheet is (−∂e/∂b is ∂e/∂y at c = 1) and a closer pair.
        by_header.or(hidden.map(|h| h.0)).or(first)
    }

    /// A column that is a derivative, but by another parameter than its header names
    /// (`de/da` that is ∂e/∂b, where a column is headed `a`): wrong, and said so.
    fn wrong_parameter(
        &self,
        v: ColumnVerdict,
        s: usize,
        r0: u32,
        w: u32,
        header: &str,
    ) -> ColumnVerdict {
        let Some(hr) = r0.checked_sub(1) else {
            return v;
        };
        let Some(want) = header_wrt(header) else {
            return v;
        };
        let head = |c: u32| match self.cell((s, hr, c)).map(|c| &c.value) {
            Some(Value::Text(t)) => Some(t.trim().to_string()),
            _ => None,
        };
        if head(w).is_some_and(|h| h.eq_ignore_ascii_case(&want)) {
            return v;
        }
        let Some(named) = self.wb.sheets[s].cells.iter().find(|c| {
            c.row == hr
                && c.col != w
                && matches!(&c.value, Value::Text(t) if t.trim().eq_ignore_ascii_case(&want))
                && matches!(
                    self.cell((s, r0, c.col)).map(|x| &x.value),
                    Some(Value::Num(_))
                )
        }) else {
            return v;
        };
        let got = match head(w) {
            Some(h) => format!("{} (headed {h})", v.wrt),
            None => v.wrt.clone(),
        };
        let note = format!(
            "it is ∂{}/∂{got} ({}), but its header says ∂/∂{want}, and {} is headed {want}: the wrong parameter",
            v.of,
            v.verdict,
            cell_name(r0, named.col)
        );
        ColumnVerdict {
            verdict: "wrong",
            h: None,
            note,
            ..v
        }
    }

    /// A verdict found at the sheet's own numbers, looked at again with every input moved
    /// ([`MOVE`]): a formula that only agrees where the sheet happens to be (a missing
    /// factor c while c is 1, a sign lost where a term is 0) is wrong there. `None` when
    /// it holds (or the moved rows are not finite); the verdict "wrong" when it does not.
    fn fails_moved(
        &self,
        v: &ColumnVerdict,
        (of, w): (Of, u32),
        s: usize,
        col: u32,
        rows: &[u32],
        moved: &HashMap<Key, f64>,
    ) -> Option<ColumnVerdict> {
        let typed: Vec<f64> = rows
            .iter()
            .map(|r| moved.get(&(s, *r, col)).copied().unwrap_or(f64::NAN))
            .collect();
        // Where moving the inputs takes the rows somewhere not finite, there is nothing
        // to compare.
        let finite = rows.iter().all(|r| {
            let x = moved.get(&(s, *r, w)).copied().unwrap_or(0.0);
            self.of_at(of, s, *r, w, x, moved)
                .is_some_and(|(f, d)| f.is_finite() && d.is_finite())
        });
        if !finite || typed.iter().any(|t| !t.is_finite()) {
            return None;
        }
        let again = self.classify(s, col, &v.header, rows, &typed, moved, 0.0, of, w)?;
        if again.verdict != "wrong" {
            return None;
        }
        let note = format!(
            "agrees at the sheet's own numbers (as {}), but not once its inputs move by {}%: there it is {}",
            v.verdict,
            100.0 * MOVE,
            again.note
        );
        Some(ColumnVerdict {
            verdict: "wrong",
            h: None,
            note,
            ..v.clone()
        })
    }

    /// The verdict of a typed column as a derivative of `of` with respect to column `w`.
    #[allow(clippy::too_many_arguments)]
    fn classify(
        &self,
        s: usize,
        col: u32,
        header: &str,
        rows: &[u32],
        typed: &[f64],
        values: &HashMap<Key, f64>,
        gap0: f64,
        of: Of,
        w: u32,
    ) -> Option<ColumnVerdict> {
        let r0 = rows[0];
        let mut exact = Vec::with_capacity(rows.len());
        let mut at = Vec::with_capacity(rows.len());
        // The column's rows end where the pair does (a total row below, `=SQRT(SUMSQ(…))`).
        for &r in rows {
            let wv = values.get(&(s, r, w)).copied().unwrap_or(0.0);
            let Some(p) = self.of_at(of, s, r, w, wv, values) else {
                break;
            };
            exact.push(p);
            at.push(wv);
        }
        if exact.is_empty() {
            return None;
        }
        let rows = &rows[..exact.len()];
        let typed = &typed[..exact.len()];
        let range = format!("{}:{}", cell_name(r0, col), cell_name(*rows.last()?, col));
        let max_abs_error = typed
            .iter()
            .zip(&exact)
            .map(|(t, (_, d))| (t - d).abs())
            .fold(0.0, f64::max);
        let all = |f: &dyn Fn(usize) -> f64| {
            typed
                .iter()
                .enumerate()
                .all(|(i, t)| (t - f(i)).abs() <= 1e-6 * t.abs().max(1e-6))
        };
        let mut verdict = ("wrong", None);
        if typed
            .iter()
            .zip(&exact)
            .all(|(t, (_, d))| (t - d).abs() <= 1e-9 * d.abs().max(1.0))
        {
            verdict = ("exact", None);
        } else {
            'found: for h in [0.01, 0.001, 0.1, 1e-4, 1.0, 1e-5, 1e-6] {
                let f = |i: usize, x: f64| {
                    self.of_at(of, s, rows[i], w, x, values)
                        .map_or(f64::NAN, |p| p.0)
                };
                let fwd = |i: usize| (f(i, at[i] + h) - exact[i].0) / h;
                let bwd = |i: usize| (exact[i].0 - f(i, at[i] - h)) / h;
                let cen = |i: usize| (f(i, at[i] + h) - f(i, at[i] - h)) / (2.0 * h);
                for (name, d) in [
                    ("forward difference", &fwd as &dyn Fn(usize) -> f64),
                    ("backward difference", &bwd),
                    ("central difference", &cen),
                ] {
                    if all(d) {
                        verdict = (name, Some(h));
                        break 'found;
                    }
                }
            }
        }
        let (worst, _) = typed
            .iter()
            .zip(&exact)
            .enumerate()
            .map(|(i, (t, (_, d)))| (i, (t - d).abs()))
            .fold((0, -1.0), |b, x| if x.1 > b.1 { x } else { b });
        let of_text = of.text(r0);
        let wrt = cell_name(r0, w);
        let what = format!("∂{of_text}/∂{wrt}");
        let note = match verdict {
            ("exact", _) => format!("{what} on every row, to rounding"),
            ("wrong", _) => {
                let ratios: Vec<f64> = typed.iter().zip(&exact).map(|(t, (_, d))| t / d).collect();
                let k = ratios[0];
                if k.is_finite() && ratios.iter().all(|x| rel(*x, k) < 1e-9) {
                    // Read as a person would (0.81, not 0.8099999999999028); the
                    // exact ratio is in max_abs_error's company for whoever needs it.
                    if k == -1.0 {
                        format!("−{what} on every row: the sign is wrong")
                    } else {
                        format!(
                            "{} times {what} on every row: a lost or extra factor",
                            gradsheet_engine::format_sig(k, 6)
                        )
                    }
                } else if gap0 > 0.05 {
                    format!(
                        "matches no derivative of a cell of its row; the closest is {what}, off by {:.3}% or more",
                        100.0 * gap0
                    )
                } else {
                    format!(
                        "not {what} nor a difference of it; largest error {} at {}",
                        gradsheet_engine::format_number(max_abs_error),
                        cell_name(rows[worst], col)
                    )
                }
            }
            (kind, Some(h)) => {
                let sig = |v: f64| gradsheet_engine::format_sig(v, 4);
                let term = leading_term(kind, &of_text, &wrt);
                let model = match self.truncation_formula(s, r0, &of_text, (s, r0, w), kind, h) {
                    Some(f) => format!("its error is {term} = {f} (in row {}'s cells)", r0 + 1),
                    None => format!("its error is {term}"),
                };
                let mut note = format!(
                    "a {kind} of {of_text} in {wrt} with h = {}: {model}, largest at {}: {} off the exact {} ({:.2}%)",
                    gradsheet_engine::format_number(h),
                    cell_name(rows[worst], col),
                    sig(typed[worst] - exact[worst].1),
                    sig(exact[worst].1),
                    100.0 * rel(typed[worst], exact[worst].1)
                );
                // Rounding: f(w + h) − f(w) loses the digits that w + h does not keep
                // (about ε·|f|/h); where that is as large as the derivative itself, or
                // w + h is w, the difference says nothing.
                if let Some(i) = (0..exact.len()).find(|&i| {
                    at[i] + h == at[i]
                        || f64::EPSILON * exact[i].0.abs() / h > 0.1 * exact[i].1.abs().max(1e-300)
                }) {
                    let spacing = (at[i].abs() * f64::EPSILON).max(f64::MIN_POSITIVE);
                    note.push_str(&format!(
                        "; from {} rounding swamps it: {} = {} is kept to steps of about {}, so a step of h = {} is lost in it (the difference is {} where the exact derivative is {})",
                        cell_name(rows[i], col),
                        cell_name(rows[i], w),
                        sig(at[i]),
                        sig(spacing),
                        gradsheet_engine::format_number(h),
                        sig(typed[i]),
                        sig(exact[i].1)
                    ));
                }
                note
            }
            (kind, None) => kind.to_string(),
        };
        Some(ColumnVerdict {
            sheet: self.wb.sheets[s].name.clone(),
            range,
            header: header.to_string(),
            of: of_text,
            wrt,
            verdict: verdict.0,
            h: verdict.1,
            max_abs_error,
            note,
        })
    }

    /// `of` on row `r` as a function of the cell of column `w`: its value at `at` and its
    /// exact derivative.
    fn of_at(
        &self,
        of: Of,
        s: usize,
        r: u32,
        w: u32,
        at: f64,
        values: &HashMap<Key, f64>,
    ) -> Option<(f64, f64)> {
        match of {
            Of::Cell(e) => self.partial((s, r, e), (s, r, w), at, values),
            Of::Squared(e, y) => {
                let (v, d) = self.partial((s, r, e), (s, r, w), at, values)?;
                let yv = values.get(&(s, r, y)).copied()?;
                Some(((v - yv).powi(2), 2.0 * (v - yv) * d))
            }
        }
    }

    /// Whether the formula of `cell` reads `other`, directly or through other cells.
    pub(crate) fn depends_on(&self, cell: Key, other: Key) -> bool {
        let names = self
            .input_keys()
            .iter()
            .map(|k| var(*k))
            .collect::<Vec<_>>();
        match self.graph.order(&names, &[var(cell)]) {
            // The order holds the computed cells only: an input is read by one of them.
            Ok(order) => {
                let target = var(other);
                order.iter().any(|i| {
                    let n = self.graph.name(*i);
                    n == target
                        || self
                            .graph
                            .formula(n)
                            .is_some_and(|f| f.names_in_order().contains(&target))
                })
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn headers() {
        for h in ["de/da", "est de/db", "∂e/∂a", "d err / d w1", "de/dc "] {
            assert!(super::is_derivative_header(h), "{h}");
        }
        for h in ["err^2", "new a", "a/b", "y_pred", "d/"] {
            assert!(!super::is_derivative_header(h), "{h}");
        }
    }
}

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
        let mut out: HashMap<Key, f64> = HashMap::new();
        for k in self.input_keys() {
            if let Some(Value::Num(v)) = self.cell(k).map(|c| &c.value) {
                out.insert(k, *v);
            }
        }
        let (c, keys) = self.compile(&self.computed)?;
        let vals = c.values(&self.input_values(&keys));
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
    fn partial(
        &self,
        of: Key,
        wrt: Key,
        at: f64,
        values: &HashMap<Key, f64>,
    ) -> Option<(f64, f64)> {
        if !self.computed.contains(&of) || of == wrt {
            return None;
        }
        // Cut the graph at `wrt`: as an input, the cells it is computed from stay out.
        let mut keys = self.input_keys();
        let mut names = self.input_names();
        if !keys.contains(&wrt) {
            keys.push(wrt);
            names.push(var(wrt));
        }
        let c = self.graph.compile(&names, &[var(of)]).ok()?;
        let w = keys.iter().position(|k| *k == wrt)?;
        let uses = c
            .tape
            .code()
            .iter()
            .any(|i| i.code.operands().iter().any(|o| i.slot(*o) == w as u32));
        if !uses {
            return None;
        }
        let mut vals: Vec<f64> = keys
            .iter()
            .map(|k| values.get(k).copied().unwrap_or(0.0))
            .collect();
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
                if let Some(v) = self.judge(s, head.col, h, &rows, &values) {
                    out.push(v);
                }
            }
        }
        out
    }

    fn judge(
        &self,
        s: usize,
        col: u32,
        header: &str,
        rows: &[u32],
        values: &HashMap<Key, f64>,
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
        for &e in &row_cells {
            if !self.computed.contains(&(s, r0, e)) || self.depends_on((s, r0, e), (s, r0, col)) {
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
        first_row.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut candidates: Vec<(f64, Of, u32)> = first_row
            .into_iter()
            .take(12)
            .map(|(_, of, w)| (gap_on(of, w, &probe), of, w))
            .filter(|c| c.0.is_finite())
            .collect();
        // The closest pairs, each judged in full: a finite difference can stray from the
        // exact derivative by several percent (0.01·x² at x = 99), so the closest exact
        // derivative is not always the one it approximates.
        candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut first = None;
        for &(gap, of, w) in candidates.iter().take(8) {
            if gap > 0.25 && first.is_some() {
                break;
            }
            let Some(v) = self.classify(s, col, header, rows, &typed, values, gap, of, w) else {
                continue;
            };
            if v.verdict != "wrong" {
                return Some(v);
            }
            first.get_or_insert(v);
        }
        first
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
                    format!("{k} times {what} on every row: a lost or extra factor")
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
            (kind, Some(h)) => format!(
                "a {kind} of {of_text} in {wrt} with h = {h}: its error is largest at {} ({} off the exact {}, {:.2}%)",
                cell_name(rows[worst], col),
                gradsheet_engine::format_number(typed[worst] - exact[worst].1),
                gradsheet_engine::format_number(exact[worst].1),
                100.0 * rel(typed[worst], exact[worst].1)
            ),
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
            Ok(order) => {
                let target = var(other);
                order.iter().any(|i| self.graph.name(*i) == target)
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

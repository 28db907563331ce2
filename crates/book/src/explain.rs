//! A sheet's run explained the way `gradsheet explain` explains a formula's: which rows are
//! too steep for the step the sheet takes there, and which parameters a row cannot move.
//!
//! The sheet's shape comes from its typed derivative columns ([`Book::derivative_columns`]):
//! each says which cell of a row is the error (`F4`) and which cells are the parameters
//! (`C4`, `D4`). On every row the error's gradient and Hessian in the row's parameters are
//! exact (the chain rule over the cells, twice), and the learning rate is read from the
//! sheet itself: the next row's parameter as a function of this row's derivative cell,
//! −∂C5/∂H4, so a rate typed in a cell, named, or scaled by RMSProp all count.
//!
//! A step of per-sample gradient descent multiplies the distance to the row's own minimum,
//! along the Hessian's eigenvector of eigenvalue λ, by |1 − lr·λ| (with a rate per
//! parameter, the eigenvalues of D^½·H·D^½, D the rates). Past lr·λ = 2 that factor is
//! above 1: every visit to the row overshoots further, and the run explodes from there.

use crate::{cell_name, exact::key_of, var, Book, BookError, ColumnVerdict, Key, Lookup, Value};

/// A row's typed numbers that are not parameters, by address: `[("A21", 99.0), ("B21", 228.0)]`.
pub type RowData = Vec<(String, f64)>;

/// One row whose step overshoots.
#[derive(Clone, Debug, PartialEq)]
pub struct SteepRow {
    /// The row, as Excel numbers it.
    pub row: u32,
    /// The row's typed numbers that are not parameters (its data: `A28 = 99`).
    pub data: RowData,
    /// The row's error cell (`F28`, or `(E28-B28)^2` where the sheet keeps none).
    pub error: String,
    /// The largest lr·λ on the row: above 2 a step there overshoots.
    pub lr_lambda: f64,
    /// The row's learning rate of each parameter, −∂(next row's parameter)/∂(derivative).
    pub rates: Vec<(String, f64)>,
}

/// What a sheet's rows say about its run.
#[derive(Clone, Debug, PartialEq)]
pub struct SheetExplanation {
    /// The sheet.
    pub sheet: String,
    /// The findings in plain words, the most important first.
    pub findings: Vec<String>,
    /// Rows too steep for their step (lr·λ > 2), steepest first.
    pub steep: Vec<SteepRow>,
    /// The largest lr·λ of any row, its row (Excel's number) and the row's data.
    pub steepest: Option<(u32, f64, RowData)>,
    /// Each parameter column's rows on which the error does not depend on it at all
    /// (`C`, 29): a ReLU that is off, or a branch without it.
    pub flat: Vec<(String, usize)>,
    /// When the parameters collapse: (how many, the parameter columns, how many
    /// independent ways they change the error on these rows). `c·(a·x+b)+d` has four
    /// that act as two numbers, a slope and an intercept.
    pub collapse: Option<(usize, Vec<String>, usize)>,
    /// How many rows were looked at.
    pub rows: usize,
}

/// Where a run's numbers explode, watched epoch by epoch (keeping two epochs' values,
/// however long the run): the first epoch with a value that is not finite or has grown a
/// million-fold since the first epoch, and the values copied back before it — the state
/// [`Book::explain_run`] explains.
#[derive(Clone, Debug, Default)]
pub struct RunWatch {
    first: Vec<f64>,
    before: (usize, Vec<(String, f64)>),
    last: (usize, Vec<(String, f64)>),
    exploded: Option<usize>,
}

impl RunWatch {
    /// Sees one more epoch.
    pub fn see(&mut self, e: &crate::Epoch) {
        if self.exploded.is_some() {
            return;
        }
        let now: Vec<f64> = e.copied.iter().chain(&e.watched).map(|(_, v)| *v).collect();
        if self.first.is_empty() {
            self.first = now.clone();
        }
        let exploded = now
            .iter()
            .zip(&self.first)
            .any(|(v, f)| !v.is_finite() || v.abs() > 1e6 * f.abs().max(1.0));
        if exploded {
            self.exploded = Some(e.epoch);
            self.before = std::mem::take(&mut self.last);
        } else {
            self.last = (e.epoch, e.copied.clone());
        }
    }

    /// The epoch whose numbers exploded, if one did.
    pub fn exploded_at(&self) -> Option<usize> {
        self.exploded
    }

    /// The epoch to explain (the one before the explosion, or the last; 0: none ran
    /// cleanly) and the values copied back by then.
    pub fn state(&self) -> (usize, &[(String, f64)]) {
        let (e, v) = if self.exploded.is_some() {
            &self.before
        } else {
            &self.last
        };
        (*e, v)
    }

    /// When the explanation is set, in words: `the run explodes in epoch 6; after epoch 5`.
    pub fn when(&self) -> String {
        match (self.state().0, self.exploded) {
            (0, Some(_)) => {
                "the run explodes in its first epoch; at the numbers it started from".into()
            }
            (e, Some(b)) => format!("the run explodes in epoch {b}; after epoch {e}"),
            (0, None) => "as the sheet was saved".into(),
            (e, None) => format!("after epoch {e}"),
        }
    }
}

impl Book {
    /// [`Book::explain_sheet`] at the state a watched run reached (see [`RunWatch`]).
    ///
    /// # Errors
    ///
    /// As [`Book::explain_sheet`].
    pub fn explain_run(&self, sheet: &str, run: &RunWatch) -> Result<SheetExplanation, BookError> {
        self.explain_run_with(sheet, run, &self.derivative_columns())
    }

    /// [`Book::explain_run`] with the workbook's columns already judged.
    ///
    /// # Errors
    ///
    /// As [`Book::explain_sheet`].
    pub fn explain_run_with(
        &self,
        sheet: &str,
        run: &RunWatch,
        columns: &[ColumnVerdict],
    ) -> Result<SheetExplanation, BookError> {
        let changes: Vec<(Key, f64)> = run
            .state()
            .1
            .iter()
            .filter_map(|(c, v)| self.key(c).ok().map(|k| (k, *v)))
            .collect();
        self.explain_sheet_with(sheet, &changes, columns)
    }
}

/// The most rows looked at (each costs a few symbolic derivatives).
pub const MAX_ROWS: usize = 2_000;

impl Book {
    /// Explains sheet `sheet`'s rows with the inputs `changes` set (a run's parameters at
    /// the epoch to explain; none: as the sheet was saved).
    ///
    /// # Errors
    ///
    /// [`BookError::Address`] for a sheet that does not exist; [`BookError::Cell`] when
    /// the workbook's graph cannot be compiled.
    pub fn explain_sheet(
        &self,
        sheet: &str,
        changes: &[(Key, f64)],
    ) -> Result<SheetExplanation, BookError> {
        self.explain_sheet_with(sheet, changes, &self.derivative_columns())
    }

    /// [`Book::explain_sheet`] with the workbook's columns already judged (as
    /// [`Book::derivative_columns`] gives them: judging is the larger part of the work).
    ///
    /// # Errors
    ///
    /// As [`Book::explain_sheet`].
    pub fn explain_sheet_with(
        &self,
        sheet: &str,
        changes: &[(Key, f64)],
        columns: &[ColumnVerdict],
    ) -> Result<SheetExplanation, BookError> {
        let s = Lookup::sheet(self, sheet)
            .ok_or_else(|| BookError::Address(format!("no sheet named '{sheet}'")))?;
        let name = self.wb.sheets[s].name.clone();
        let mut out = SheetExplanation {
            sheet: name.clone(),
            findings: Vec::new(),
            steep: Vec::new(),
            steepest: None,
            flat: Vec::new(),
            collapse: None,
            rows: 0,
        };
        let cols: Vec<&ColumnVerdict> = columns.iter().filter(|c| c.sheet == name).collect();
        let Some(first) = cols.first() else {
            out.findings.push(format!(
                "'{name}' has no typed derivative columns (headed de/da, ∂e/∂b…): gradsheet finds a sheet's error and parameters from them"
            ));
            return Ok(out);
        };
        // The error and the parameters: the columns judged as derivatives of the same cell.
        let of = first.of.clone();
        // (parameter column, its derivative columns: typed, exact…; the update reads one)
        let mut params: Vec<(u32, Vec<u32>)> = Vec::new();
        for c in cols.iter().filter(|c| c.of == of) {
            let (Some(w), Some(range)) = (crate::parse_a1(&c.wrt), c.range.split_once(':')) else {
                continue;
            };
            let Some(d) = crate::parse_a1(range.0) else {
                continue;
            };
            match params.iter_mut().find(|p| p.0 == w.1) {
                Some(p) => p.1.push(d.1),
                None => params.push((w.1, vec![d.1])),
            }
        }
        let (Some(r0), Some(r1)) = (
            first
                .range
                .split_once(':')
                .and_then(|(a, _)| crate::parse_a1(a)),
            first
                .range
                .split_once(':')
                .and_then(|(_, b)| crate::parse_a1(b)),
        ) else {
            return Ok(out);
        };
        let values = self
            .values_with(0.0, changes)
            .map_err(|e| BookError::Cell(e.to_string()))?;
        let get = |k: Key| values.get(&k).copied().unwrap_or(0.0);
        let eval = |e: &gradsheet_engine::Expr| e.eval(&|n| key_of(n).map(get)).unwrap_or(f64::NAN);
        let mut flat = vec![0usize; params.len()];
        // Σ over rows of ∂e/∂p ∂e/∂pᵀ: its rank is how many independent ways the
        // parameters change the error (∂e/∂p is 2(pred − y)·∂pred/∂p, a row's own scale
        // times the prediction's direction).
        let mut gram = vec![0.0; params.len() * params.len()];
        let param_cols: Vec<u32> = params.iter().map(|p| p.0).collect();
        let mut rate_cells: Vec<String> = Vec::new();
        let mut last_rates: Option<Vec<f64>> = None;
        let last = r1.0.min(r0.0 + MAX_ROWS as u32 - 1);
        for r in r0.0..=last {
            let Some(of_r) = crate::structure::shift(&of, i64::from(r) - i64::from(r0.0), 0) else {
                continue;
            };
            out.rows += 1;
            let keys: Vec<Key> = params.iter().map(|p| (s, r, p.0)).collect();
            let n = keys.len();
            let grad: Vec<f64> = keys
                .iter()
                .map(|k| {
                    self.derivative_by(s, r, &of_r, &[*k])
                        .map_or(f64::NAN, |d| eval(&d))
                })
                .collect();
            for (i, g) in grad.iter().enumerate() {
                if *g == 0.0 {
                    flat[i] += 1;
                }
            }
            // The row's error as a function of its parameters, at the first row's
            // parameter values: how the model itself, not where a run has taken each
            // row, lets the parameters move the error.
            if let Some(g) = self.gradient_at(s, r, &of_r, &param_cols, r0.0, &get) {
                for i in 0..n {
                    for j in 0..n {
                        gram[i * n + j] += g[i] * g[j];
                    }
                }
            }
            // The learning rates the sheet applies on this row.
            let mut rates = Vec::with_capacity(n);
            for (p, ds) in &params {
                let next = (s, r + 1, *p);
                let rate = ds.iter().find_map(|d| {
                    let cell = (s, r, *d);
                    self.partial(next, cell, get(cell), &values)
                        .map(|(_, slope)| -slope)
                        .filter(|x| x.is_finite() && *x > 0.0)
                });
                let Some(rate) = rate else { break };
                if rate_cells.is_empty() {
                    rate_cells = self.rate_cells(next, r, &param_cols, &get);
                }
                rates.push(rate);
            }
            // The last row's step is taken elsewhere (the macro copies it back to the
            // top): the rate of the row before stands for it.
            if rates.len() != n {
                match last_rates.clone() {
                    Some(r) => rates = r,
                    None => continue,
                }
            }
            last_rates = Some(rates.clone());
            let mut m = vec![0.0; n * n];
            for i in 0..n {
                for j in i..n {
                    let h = self
                        .derivative_by(s, r, &of_r, &[keys[i], keys[j]])
                        .map_or(f64::NAN, |d| eval(&d));
                    let v = rates[i].sqrt() * h * rates[j].sqrt();
                    m[i * n + j] = v;
                    m[j * n + i] = v;
                }
            }
            let lr_lambda = largest_eigenvalue(&m, n);
            if !lr_lambda.is_finite() {
                continue;
            }
            if out.steepest.as_ref().is_none_or(|(_, x, _)| lr_lambda > *x) {
                out.steepest = Some((r + 1, lr_lambda, self.row_data(s, r, &param_cols, &get)));
            }
            if lr_lambda > 2.0 {
                let data = self.row_data(s, r, &param_cols, &get);
                out.steep.push(SteepRow {
                    row: r + 1,
                    data,
                    error: of_r.clone(),
                    lr_lambda,
                    rates: keys
                        .iter()
                        .map(|k| cell_name(k.1, k.2))
                        .zip(rates)
                        .collect(),
                });
            }
        }
        out.steep
            .sort_by(|a, b| b.lr_lambda.total_cmp(&a.lr_lambda));
        let k = params.len();
        if k > 1 && out.rows > k {
            // As correlations, so that no parameter's scale hides another.
            let d: Vec<f64> = (0..k).map(|i| gram[i * k + i].sqrt()).collect();
            if d.iter().all(|x| *x > 0.0 && x.is_finite()) {
                let c: Vec<f64> = (0..k * k)
                    .map(|ij| gram[ij] / (d[ij / k] * d[ij % k]))
                    .collect();
                let ev = eigenvalues(&c, k);
                let top = ev.iter().copied().fold(0.0, f64::max);
                let rank = ev.iter().filter(|v| **v > 1e-9 * top).count();
                if rank < k {
                    out.collapse =
                        Some((k, params.iter().map(|p| col_letters(p.0)).collect(), rank));
                }
            }
        }
        out.flat = params
            .iter()
            .zip(&flat)
            .filter(|(_, k)| **k > 0)
            .map(|((p, _), k)| (col_letters(*p), *k))
            .collect();
        out.findings = self.sentences(&out, &rate_cells);
        self.partials.clear();
        Ok(out)
    }

    /// The inputs a parameter's update reads from outside its own rows (the learning
    /// rate's cell: `lr`, `$F$1`), followed through the cells of rows `r` and `r + 1`
    /// (`C5 =N4`, `N4 =C4-K4*$F$1`).
    fn rate_cells(
        &self,
        next: Key,
        r: u32,
        params: &[u32],
        value: &dyn Fn(Key) -> f64,
    ) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = vec![next];
        let mut todo = vec![next];
        while let Some(k) = todo.pop() {
            let Some(f) = self.graph.formula(&var(k)) else {
                continue;
            };
            for n in f.names_in_order() {
                let Some(c) = key_of(&n) else { continue };
                if seen.contains(&c) || seen.len() > 64 {
                    continue;
                }
                seen.push(c);
                let own_rows = c.0 == next.0 && (c.1 == r || c.1 == r + 1);
                // This row's parameters are where the step starts, not its rate.
                if own_rows && c.1 == r && params.contains(&c.2) {
                    continue;
                }
                if self.computed.contains(&c) {
                    if own_rows {
                        todo.push(c);
                    }
                } else if !own_rows {
                    out.push(format!("{} = {}", self.address(c), sig(value(c))));
                }
            }
        }
        out
    }

    /// ∂(row `r`'s `of`)/∂(its parameter cells), the parameters taken at row `at`'s
    /// values: the row's computed cells between are written out (their formulas, down to
    /// the parameters and the row's data), differentiated symbolically and evaluated
    /// there. `None` when the row reads cells of other rows that are not parameters, or
    /// is too large to write out.
    fn gradient_at(
        &self,
        s: usize,
        r: u32,
        of: &str,
        params: &[u32],
        at: u32,
        value: &dyn Fn(Key) -> f64,
    ) -> Option<Vec<f64>> {
        let (text, aux) = crate::formula::translate(of, (s, r, u32::MAX >> 8), self).ok()?;
        if !aux.is_empty() {
            return None;
        }
        let mut e = gradsheet_engine::parse(&text).ok()?;
        // Write out the row's computed cells that are not parameters.
        for _ in 0..16 {
            let inner: Vec<(String, Key)> = e
                .names()
                .into_iter()
                .filter_map(|n| key_of(&n).map(|k| (n, k)))
                .filter(|(_, k)| {
                    k.0 == s && k.1 == r && !params.contains(&k.2) && self.computed.contains(k)
                })
                .collect();
            if inner.is_empty() {
                break;
            }
            for (n, _) in inner {
                let f = self.graph.formula(&n)?.clone();
                e = e.substitute(&n, &f);
            }
            if e.size() > 20_000 {
                return None;
            }
        }
        let env = |n: &str| {
            key_of(n).map(|k| {
                if k.0 == s && k.1 == r && params.contains(&k.2) {
                    value((s, at, k.2))
                } else {
                    value(k)
                }
            })
        };
        params
            .iter()
            .map(|p| {
                let d = gradsheet_engine::derivative(&e, &var((s, r, *p)));
                d.eval(&env).ok().filter(|v| v.is_finite())
            })
            .collect()
    }

    /// The row's typed numbers that are not parameters: its data (`A21 = 99`).
    fn row_data(&self, s: usize, r: u32, params: &[u32], values: &dyn Fn(Key) -> f64) -> RowData {
        self.wb.sheets[s]
            .cells
            .iter()
            .filter(|c| {
                c.row == r
                    && c.formula.is_none()
                    && matches!(c.value, Value::Num(_))
                    && !params.contains(&c.col)
                    && !self.computed.contains(&(s, r, c.col))
            })
            .map(|c| (cell_name(r, c.col), values((s, r, c.col))))
            .collect()
    }

    fn sentences(&self, x: &SheetExplanation, rate_cells: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        let rate = if rate_cells.is_empty() {
            "the learning rate".to_string()
        } else {
            format!("the learning rate ({})", rate_cells.join(", "))
        };
        let at = |data: &[(String, f64)]| {
            if data.is_empty() {
                String::new()
            } else {
                let d: Vec<String> = data
                    .iter()
                    .map(|(c, v)| format!("{c} = {}", sig(*v)))
                    .collect();
                format!(" ({})", d.join(", "))
            }
        };
        if let Some(w) = x.steep.first() {
            let at = at(&w.data);
            out.push(format!(
                "Row {}{at} is too steep for {rate}: every step there overshoots, so its error grows each time the loop visits it{}.",
                w.row,
                if x.steep.len() > 1 {
                    format!(" ({} of the {} rows are like it)", x.steep.len(), x.rows)
                } else {
                    String::new()
                }
            ));
            out.push(format!(
                "There lr·λ = {} (λ: the curvature of {} along the step, from its exact second derivatives), above 2: a step multiplies the distance to that row's best parameters by |1 − lr·λ| = {}. A learning rate under {} of this one keeps every row under 2.",
                sig(w.lr_lambda),
                w.error,
                sig((1.0 - w.lr_lambda).abs()),
                sig(2.0 / w.lr_lambda)
            ));
        } else if let Some((row, v, data)) = &x.steepest {
            out.push(format!(
                "No row is too steep for {rate}: the steepest, row {row}{}, has lr·λ = {} (a step overshoots only past 2), so a learning rate {} times this one would make it overshoot.",
                at(data),
                sig(*v),
                sig(2.0 / v)
            ));
        }
        if let Some((k, cols, r)) = &x.collapse {
            out.push(format!(
                "The {k} parameters (columns {}) change the error in only {r} independent way{} on these {} rows: together they act as {r} number{}, as c·(a·x+b)+d is only a slope and an intercept. The others add no power to fit, only more ways to overshoot; a nonlinearity between them (a ReLU) is what more neurons need.",
                cols.join(", "),
                if *r == 1 { "" } else { "s" },
                x.rows,
                if *r == 1 { "" } else { "s" },
            ));
        }
        for (p, k) in &x.flat {
            if *k == x.rows {
                out.push(format!(
                    "The error does not depend on column {p} on any of the {k} rows (∂ = 0 exactly): that parameter cannot learn — a ReLU that is off everywhere (MAX(…, 0) = 0), or a branch without it."
                ));
            } else {
                out.push(format!(
                    "On {k} of {} rows ∂/∂{p} is exactly 0: there column {p} learns nothing (a ReLU off, or a branch without it).",
                    x.rows
                ));
            }
        }
        out
    }
}

fn sig(v: f64) -> String {
    gradsheet_engine::format_sig(v, 4)
}

/// `2` → `C`.
fn col_letters(c: u32) -> String {
    let name = cell_name(0, c);
    name.trim_end_matches('1').to_string()
}

/// The largest eigenvalue of the symmetric `n`×`n` matrix `m` (row-major).
fn largest_eigenvalue(m: &[f64], n: usize) -> f64 {
    if n == 0 {
        return f64::NAN;
    }
    gradsheet_engine::linalg::symmetric_eigen(m, n).0[0]
}

/// The eigenvalues of the symmetric `n`×`n` matrix `m` (row-major).
fn eigenvalues(m: &[f64], n: usize) -> Vec<f64> {
    gradsheet_engine::linalg::symmetric_eigen(m, n).0
}

#[cfg(test)]
mod tests {
    use super::largest_eigenvalue;

    #[test]
    fn eigenvalues_of_small_symmetric_matrices() {
        // [[2, 1], [1, 2]] has 3 and 1; a rank-one 2·g·gᵀ has 2·|g|².
        assert!((largest_eigenvalue(&[2.0, 1.0, 1.0, 2.0], 2) - 3.0).abs() < 1e-12);
        let g = [14.0, 1.0, 3.0];
        let m: Vec<f64> = (0..9).map(|k| 2.0 * g[k / 3] * g[k % 3]).collect();
        let want = 2.0 * g.iter().map(|x| x * x).sum::<f64>();
        assert!((largest_eigenvalue(&m, 3) - want).abs() < 1e-9 * want);
        assert_eq!(largest_eigenvalue(&[-4.0], 1), -4.0);
        assert!(largest_eigenvalue(&[f64::NAN], 1).is_nan());
    }
}

//! The exact derivative beside a typed one, as a live formula in the sheet's own cells.
//!
//! For a judged column (say `J4:J32`, a forward difference of `F4` in `D4`), each row's
//! exact derivative is the engine's symbolic derivative of that row's `F` with respect to
//! its `D`: the cells between them (`E`, the prediction) written out, differentiated,
//! simplified, then each written-out cell folded back into its own reference, so the
//! formula reads as a learner would type it: `-2*(B4-E4)*A4`.

use std::collections::HashMap;

use gradsheet_engine::{diff, Expr, Notation};

use crate::{formula, judge::ColumnVerdict, var, Book, Key, Lookup};

/// One row of an exact derivative column.
#[derive(Clone, Debug, PartialEq)]
pub struct ExactCell {
    /// The row (0-based).
    pub row: u32,
    /// The exact derivative's value there.
    pub value: f64,
    /// Its formula (without `=`), in the sheet's references; `None` when the engine
    /// cannot write it within a spreadsheet's limits.
    pub formula: Option<String>,
}

/// `s0r4c2` → its key.
pub(crate) fn key_of(name: &str) -> Option<Key> {
    let rest = name.strip_prefix('s')?;
    let (s, rest) = rest.split_once('r')?;
    let (r, c) = rest.split_once('c')?;
    Some((s.parse().ok()?, r.parse().ok()?, c.parse().ok()?))
}

/// The most cells one row's derivative passes through.
const MAX_INLINED: usize = 64;

impl Book {
    /// ∂e/∂wrt by the chain rule over the cells: each name `e` reads that is `wrt`, or a
    /// computed cell depending on it, contributes ∂e/∂name (in terms of the cells, so
    /// it reads `-2*(B4-E4)`, not the prediction written out again) times the name's own
    /// derivative.
    fn chain(&self, e: &Expr, wrt: Key, budget: &mut usize) -> Option<Expr> {
        let target = var(wrt);
        let mut terms: Vec<Expr> = Vec::new();
        for n in e.names_in_order() {
            let inner = if n == target {
                None
            } else if self.graph.formula(&n).is_some()
                && key_of(&n).is_none_or(|k| self.depends_on(k, wrt))
            {
                if *budget == 0 {
                    return None;
                }
                *budget -= 1;
                let f = self.graph.formula(&n)?.clone();
                Some(self.chain(&f, wrt, budget)?)
            } else {
                continue;
            };
            let outer = diff::derivative_within(e, &n, diff::SHOWN_MAX_NODES)?;
            terms.push(match inner {
                None => outer,
                Some(d) => Expr::bin(gradsheet_engine::Binary::Mul, outer, d),
            });
        }
        Some(
            terms
                .into_iter()
                .reduce(|a, b| Expr::bin(gradsheet_engine::Binary::Add, a, b))
                .unwrap_or(Expr::Num(0.0)),
        )
    }

    /// The exact derivative of each row of a judged column, with its formula.
    pub fn exact_column(&self, v: &ColumnVerdict) -> Vec<ExactCell> {
        let Some(s) = self.sheet(&v.sheet) else {
            return Vec::new();
        };
        let Some((first, last)) = v.range.split_once(':') else {
            return Vec::new();
        };
        let (Some(a), Some(b)) = (crate::parse_a1(first), crate::parse_a1(last)) else {
            return Vec::new();
        };
        let Some(w) = crate::parse_a1(&v.wrt) else {
            return Vec::new();
        };
        let values = self.values().unwrap_or_default();
        (a.0..=b.0)
            .filter_map(|r| {
                let dr = i64::from(r) - i64::from(a.0);
                let of = crate::structure::shift(&v.of, dr, 0)?;
                let wrt = (s, r, w.1);
                self.exact_cell(s, r, &of, wrt, &values)
            })
            .collect()
    }

    fn exact_cell(
        &self,
        s: usize,
        r: u32,
        of: &str,
        wrt: Key,
        values: &HashMap<Key, f64>,
    ) -> Option<ExactCell> {
        let d = self.derivative_expr(s, r, of, wrt, 1)?;
        let value = d
            .eval(&|n| key_of(n).map(|k| values.get(&k).copied().unwrap_or(0.0)))
            .ok()?;
        Some(ExactCell {
            row: r,
            value,
            formula: self.in_sheet(s, &d),
        })
    }

    /// The `order`-th derivative of the formula `of` (as typed on row `r` of sheet `s`)
    /// with respect to `wrt`, by the chain rule over the cells, simplified.
    fn derivative_expr(&self, s: usize, r: u32, of: &str, wrt: Key, order: usize) -> Option<Expr> {
        self.derivative_by(s, r, of, &vec![wrt; order])
    }

    /// The derivative of the formula `of` (as typed on row `r` of sheet `s`) with respect
    /// to each of `wrt` in turn (`[a, b]`: ∂²of/∂a∂b), by the chain rule over the cells,
    /// simplified after each.
    pub(crate) fn derivative_by(&self, s: usize, r: u32, of: &str, wrt: &[Key]) -> Option<Expr> {
        // The differentiated expression over the row's cells.
        let (text, aux) = formula::translate(of, (s, r, u32::MAX >> 8), self).ok()?;
        if !aux.is_empty() {
            return None;
        }
        let mut d = gradsheet_engine::parse(&text).ok()?;
        for w in wrt {
            let mut budget = MAX_INLINED;
            d = gradsheet_engine::simplify(&self.chain(&d, *w, &mut budget)?);
        }
        Some(d)
    }

    /// `e` as formula text in the references of sheet `s`; `None` when a name in it is no
    /// cell (a partial sum's) or the text is past a spreadsheet's limit.
    fn in_sheet(&self, s: usize, e: &Expr) -> Option<String> {
        let unknown = std::cell::Cell::new(false);
        let text = e.render(Notation::Excel, &|n: &str| match key_of(n) {
            Some(k) if k.0 == s => crate::cell_name(k.1, k.2),
            Some(k) => self.address(k),
            None => {
                unknown.set(true);
                n.to_string()
            }
        });
        (!unknown.get() && text.chars().count() < diff::EXCEL_FORMULA_CHARS).then_some(text)
    }

    /// The leading term of a finite difference's error on row `r` (h/2·∂²of/∂wrt² for a
    /// forward difference, −h/2·∂² backward, h²/6·∂³ central), as formula text in the
    /// sheet's references: `0.01*A4^2` for a forward difference of `(C4*A4+D4-B4)^2`.
    pub(crate) fn truncation_formula(
        &self,
        s: usize,
        r: u32,
        of: &str,
        wrt: Key,
        kind: &str,
        h: f64,
    ) -> Option<String> {
        use gradsheet_engine::Binary;
        let (order, factor) = match kind {
            "forward difference" => (2, h / 2.0),
            "backward difference" => (2, -h / 2.0),
            "central difference" => (3, h * h / 6.0),
            _ => return None,
        };
        let d = self.derivative_expr(s, r, of, wrt, order)?;
        let e = gradsheet_engine::simplify(&Expr::bin(Binary::Mul, Expr::Num(factor), d));
        self.in_sheet(s, &e)
    }
}

//! A network as a workbook of live formulas: its weights in named cells, and one row per
//! data row with every neuron's value and every backprop column (the adjoint ∂err/∂cell)
//! as a formula a spreadsheet recalculates to the engine's numbers.
//!
//! The adjoint of a cell is the chain rule written out over the cells that use it:
//! `d_c = Σ_u d_u·∂f_u/∂c`, each ∂f_u/∂c the engine's symbolic derivative with `u`'s own
//! formula replaced by `u` (so tanh's slope reads `1-h2_1^2`, not the sum again).
//!
//! Size: a sheet holds 16,384 columns and a formula 8,192 characters; a network whose
//! cells (twice, values and adjoints) or formulas do not fit is refused, naming which.

use std::collections::HashMap;

use gradsheet_engine::{derivative, Dataset, Expr, Notation};
use gradsheet_net::network::{Network, L1, L2};
use rust_xlsxwriter::utility::column_number_to_name;

use crate::labs::{Book, Builder};

/// The most data rows written (the network sheet's rows).
pub const MAX_ROWS: usize = 100_000;
/// Excel's longest formula.
const MAX_FORMULA: usize = 8_192;
/// Excel's widest sheet.
const MAX_COLUMNS: usize = 16_384;

/// Why a network does not fit a workbook.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum NetBookError {
    /// Too many columns or rows, or a formula too long.
    #[error("{0}")]
    TooLarge(String),
    /// The data lacks a column the network reads.
    #[error("{0}")]
    Data(String),
}

/// Whether Excel takes `name` as a defined name: not a cell reference (`W11`, `R1C1`),
/// not `r` or `c`, letters, digits, `_` and `.` only.
fn excel_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let letters = lower
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .count();
    let rest = &lower[letters..];
    let looks_a1 =
        (1..=3).contains(&letters) && !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit());
    let looks_r1c1 = lower.starts_with('r')
        && lower[1..].split_once('c').is_some_and(|(a, b)| {
            a.chars().all(|c| c.is_ascii_digit()) && b.chars().all(|c| c.is_ascii_digit())
        });
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && !looks_a1
        && !looks_r1c1
        && lower != "r"
        && lower != "c"
}

/// `e` with every occurrence of `whole` replaced by the name `by`.
fn fold_into(e: &Expr, whole: &Expr, by: &str) -> Expr {
    if e == whole {
        return Expr::var(by);
    }
    match e {
        Expr::Apply(op, args) => {
            Expr::Apply(*op, args.iter().map(|a| fold_into(a, whole, by)).collect())
        }
        _ => e.clone(),
    }
}

/// `d` with every cell's own formula inside it replaced by the cell's name (a slope such
/// as tanh's then reads `1-h2_1^2`, not the sum again), the user `own` first.
fn fold_cells(d: &Expr, cells: &[gradsheet_net::cells::Cell], own: Option<usize>) -> Expr {
    let mut d = d.clone();
    if let Some(j) = own {
        d = fold_into(&d, &cells[j].formula, &cells[j].name);
    }
    for c in cells {
        d = fold_into(&d, &c.formula, &c.name);
    }
    d
}

/// The network at `params` over the rows of `data`, as a workbook: sheet `Weights` (each
/// parameter by name, the penalty), sheet `Network` (the data, each cell's value, the
/// loss, each cell's adjoint), with the engine's values cached.
///
/// # Errors
///
/// [`NetBookError::TooLarge`] past the limits above; [`NetBookError::Data`] when `data`
/// lacks a column.
pub fn workbook(net: &Network, params: &[f64], data: &Dataset) -> Result<Book, NetBookError> {
    if data.len() > MAX_ROWS {
        return Err(NetBookError::TooLarge(format!(
            "{} rows: the workbook holds at most {MAX_ROWS}",
            data.len()
        )));
    }
    let cols = net.columns();
    let cells = &net.cells;
    let width = cols.len() + 1 + 2 * cells.len() + 1;
    if width > MAX_COLUMNS {
        return Err(NetBookError::TooLarge(format!(
            "{} cells need {width} columns (values and adjoints); a sheet has {MAX_COLUMNS}",
            cells.len()
        )));
    }
    let rows = data
        .project(cols)
        .map_err(|c| NetBookError::Data(format!("the data has no column {c}")))?;

    // Weights: names in A, values in B, from row 2; the penalty's constants after them.
    let mut w = Builder::new("Weights");
    w.headers(0, 0, &["parameter", "value"]);
    let mut names: Vec<(String, String)> = Vec::new();
    let mut param_ref: HashMap<String, String> = HashMap::new();
    let mut r = 1u32;
    let mut constants: Vec<(String, f64)> = net
        .params()
        .iter()
        .cloned()
        .zip(params.iter().copied())
        .collect();
    constants.extend(
        net.trainer
            .model
            .constants
            .iter()
            .filter(|(n, _)| n == L1 || n == L2)
            .cloned(),
    );
    for (name, v) in &constants {
        w.text(r, 0, name);
        w.num(r, 1, *v);
        let target = format!("Weights!$B${}", r + 1);
        if excel_name(name) {
            names.push((name.clone(), format!("={target}")));
            param_ref.insert(name.clone(), name.clone());
        } else {
            param_ref.insert(name.clone(), target);
        }
        r += 1;
    }
    let value: HashMap<&str, f64> = constants.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let penalty = net.penalty_formula().map(|p| {
        let f = p.render(Notation::Excel, &|n: &str| {
            param_ref.get(n).cloned().unwrap_or_else(|| n.to_string())
        });
        let v = p.eval(&|n: &str| value.get(n).copied()).unwrap_or(f64::NAN);
        (format!("={f}"), v)
    });
    let penalty_ref = penalty.as_ref().map(|(f, v)| {
        w.text(r, 0, "penalty");
        w.f(r, 1, f.clone(), *v);
        format!("Weights!$B${}", r + 1)
    });

    // Network: columns = data, cells, loss, err, then adjoints in the cells' order.
    let mut col_of: HashMap<String, u16> = HashMap::new();
    let mut c = 1u16;
    for name in cols.iter().chain(cells.iter().map(|x| &x.name)) {
        col_of.insert(name.clone(), c);
        c += 1;
    }
    let loss_col = c;
    let err_col = c + 1;
    let adj_col: HashMap<&str, u16> = cells
        .iter()
        .enumerate()
        .map(|(i, x)| (x.name.as_str(), err_col + 1 + i as u16))
        .collect();
    let mut n = Builder::new("Network");
    n.text(0, 0, "row");
    for (name, &col) in &col_of {
        n.text(0, col, name);
    }
    n.text(0, loss_col, "loss");
    n.text(0, err_col, "err");
    for x in cells {
        n.text(0, adj_col[x.name.as_str()], &format!("d_{}", x.name));
    }
    // Each cell's adjoint as an expression over the names of this row: values, adjoints
    // (`d_…`) and weights.
    let loss_f = net.loss_formula();
    // From the last cell back: a cell no path leads from to the loss (pred, under the
    // logistic loss, which reads z) has adjoint 0 and adds no term to the cells it uses.
    let mut adjoint: Vec<Option<Expr>> = vec![None; cells.len()];
    for (i, x) in cells.iter().enumerate().rev() {
        let mut terms: Vec<Expr> = Vec::new();
        for (j, u) in cells.iter().enumerate().skip(i + 1) {
            if adjoint[j].is_none() || !u.formula.mentions(&x.name) {
                continue;
            }
            let d = fold_cells(&derivative(&u.formula, &x.name), cells, Some(j));
            terms.push(Expr::bin(
                gradsheet_engine::Binary::Mul,
                Expr::var(format!("d_{}", u.name)),
                d,
            ));
        }
        if loss_f.mentions(&x.name) {
            terms.push(fold_cells(&derivative(loss_f, &x.name), cells, None));
        }
        adjoint[i] = terms
            .into_iter()
            .reduce(|a, b| Expr::bin(gradsheet_engine::Binary::Add, a, b))
            .map(|sum| gradsheet_engine::simplify(&sum));
    }
    let adjoint: Vec<Expr> = adjoint
        .into_iter()
        .map(|a| a.unwrap_or(Expr::Num(0.0)))
        .collect();
    let w_cols = cols.len();
    let pred_loss = net
        .predictions(params, data)
        .map_err(|e| NetBookError::Data(e.to_string()))?;
    for (i, row) in rows.chunks(w_cols.max(1)).take(data.len()).enumerate() {
        let er = i as u32 + 1;
        let excel_row = er + 1;
        n.num(er, 0, (i + 1) as f64);
        for (k, col) in cols.iter().enumerate() {
            n.num(er, col_of[col], row[k]);
        }
        let refer = |name: &str| -> String {
            if let Some(&cc) = col_of.get(name) {
                format!("{}{excel_row}", column_number_to_name(cc))
            } else if let Some(stripped) = name.strip_prefix("d_") {
                adj_col
                    .get(stripped)
                    .map(|&cc| format!("{}{excel_row}", column_number_to_name(cc)))
                    .unwrap_or_else(|| name.to_string())
            } else {
                param_ref
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| name.to_string())
            }
        };
        let vals = net.neurons(params, row);
        let put =
            |b: &mut Builder, col: u16, e: &Expr, v: f64, what: &str| -> Result<(), NetBookError> {
                let f = format!("={}", e.render(Notation::Excel, &refer));
                if f.len() > MAX_FORMULA {
                    return Err(NetBookError::TooLarge(format!(
                        "the formula of {what} is {} characters; a spreadsheet takes {MAX_FORMULA}",
                        f.len()
                    )));
                }
                b.f(er, col, f, v);
                Ok(())
            };
        for (x, v) in cells.iter().zip(&vals) {
            put(&mut n, col_of[&x.name], &x.formula, v.value, &x.name)?;
        }
        put(&mut n, loss_col, loss_f, pred_loss[i].1, "the loss")?;
        let err_f = match &penalty_ref {
            Some(p) => format!("={}{excel_row}+{p}", column_number_to_name(loss_col)),
            None => format!("={}{excel_row}", column_number_to_name(loss_col)),
        };
        let err_v = pred_loss[i].1 + penalty.as_ref().map_or(0.0, |p| p.1);
        n.f(er, err_col, err_f, err_v);
        for ((x, v), a) in cells.iter().zip(&vals).zip(&adjoint) {
            put(
                &mut n,
                adj_col[x.name.as_str()],
                a,
                v.adjoint,
                &format!("d_{}", x.name),
            )?;
        }
    }
    let mut book = Book::new("net", vec![n.done(), w.done()]);
    book.names = names;
    Ok(book)
}

//! Symbolic differentiation: each operation's own rule ([`crate::op`]) applied to
//! expressions, then [`mod@crate::simplify`].
//!
//! The rules are the ones reverse mode runs (see [`crate::arith`]): the derivative of
//! `op(u, v)` is the sum of the contributions an adjoint makes to `u` and `v`, with the
//! adjoint replaced by `du` and `dv`. A derivative that is structurally zero contributes
//! nothing (the zero-adjoint rule of [`crate::op`]), and the kink rules are spelt out as
//! `IF` formulas, so the printed derivative says exactly what the automatic one
//! computes: `d MAX(u,v) = IF(u>=v, du, dv)`.

use crate::arith::{Slopes, Term};
use crate::expr::Expr;
use crate::op::{Binary, Cmp, Fold, Op, Unary};
use std::cell::Cell;

use crate::simplify::{node, simplify};

/// The derivative of `e` with respect to the name `wrt`, simplified.
///
/// # Examples
///
/// ```
/// use gradsheet_engine::{derivative, parse};
/// let e = parse("(c*(a*x+b)+d-y)^2").unwrap();
/// assert_eq!(derivative(&e, "a").to_string(), "2*(c*(a*x+b)+d-y)*c*x");
/// let relu = parse("c*MAX(a*x+b,0)+d").unwrap();
/// assert_eq!(derivative(&relu, "a").to_string(), "c*IF(a*x+b>=0,x,0)");
/// ```
pub fn derivative(e: &Expr, wrt: &str) -> Expr {
    simplify(&raw_derivative(e, wrt))
}

/// The derivative of `e` with respect to `wrt`, or `None` as soon as it grows past
/// `max_nodes` nodes: the form of [`derivative`] for a derivative that is to be shown.
///
/// A derivative can be far larger than its formula (`a^a^…^a` with n terms has one of
/// about n² nodes), and building it all costs time that grows faster still; past what
/// anyone can read or a spreadsheet cell holds (8,192 characters), it is given up early,
/// in time bounded by the budget.
///
/// # Examples
///
/// ```
/// use gradsheet_engine::diff::derivative_within;
/// use gradsheet_engine::parse;
/// let e = parse("(a*x+b-y)^2").unwrap();
/// assert_eq!(derivative_within(&e, "a", 100).unwrap().to_string(), "2*(a*x+b-y)*x");
/// let tower = parse(&vec!["a"; 200].join("^")).unwrap();
/// assert!(derivative_within(&tower, "a", 8192).is_none());
/// ```
pub fn derivative_within(e: &Expr, wrt: &str, max_nodes: usize) -> Option<Expr> {
    /// Restores the thread's budget however the derivative ends.
    struct Restore(Option<usize>, bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            BUDGET.set(self.0);
            OVER.set(self.1);
        }
    }
    let _restore = Restore(BUDGET.replace(Some(max_nodes)), OVER.replace(false));
    let raw = raw_derivative(e, wrt);
    if OVER.get() {
        return None;
    }
    let d = simplify(&raw);
    (d.size() <= max_nodes).then_some(d)
}

/// Excel's limit on the length of a formula, in characters.
pub const EXCEL_FORMULA_CHARS: usize = 8192;

/// The node budget of a derivative meant to be shown: every node prints as a character
/// at least, and simplification rarely shrinks a derivative by more than a few times, so
/// past this many nodes none fits an Excel formula.
pub const SHOWN_MAX_NODES: usize = 4 * EXCEL_FORMULA_CHARS;

/// A derivative too large to print as a formula.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("too large to print ({what}; a spreadsheet formula holds at most 8,192 characters)")]
pub struct TooLarge {
    /// How large: its nodes or its characters.
    pub what: String,
}

/// The derivative of `e` with respect to `wrt` if its Excel text fits a spreadsheet
/// formula ([`EXCEL_FORMULA_CHARS`]), found in time bounded by [`SHOWN_MAX_NODES`].
///
/// # Errors
///
/// [`TooLarge`], saying how large.
///
/// # Examples
///
/// ```
/// use gradsheet_engine::diff::shown_derivative;
/// use gradsheet_engine::parse;
/// let tower = parse(&vec!["a"; 255].join("^")).unwrap();
/// let e = shown_derivative(&tower, "a").unwrap_err();
/// assert!(e.to_string().starts_with("too large to print"));
/// ```
pub fn shown_derivative(e: &Expr, wrt: &str) -> Result<Expr, TooLarge> {
    let d = derivative_within(e, wrt, SHOWN_MAX_NODES).ok_or_else(|| TooLarge {
        what: format!("more than {SHOWN_MAX_NODES} terms"),
    })?;
    let chars = d.to_excel().chars().count();
    if chars + 1 > EXCEL_FORMULA_CHARS {
        return Err(TooLarge {
            what: format!("{chars} characters"),
        });
    }
    Ok(d)
}

thread_local! {
    /// The node budget of the derivative being built on this thread, if any.
    static BUDGET: Cell<Option<usize>> = const { Cell::new(None) };
    /// Whether it has been exceeded.
    static OVER: Cell<bool> = const { Cell::new(false) };
}

/// One operation of a derivative: [`node`], charged to the budget. Once the budget is
/// spent every operation returns a placeholder at once, so the rest costs nothing.
fn mk(op: Op, args: Vec<Expr>) -> Expr {
    if OVER.get() {
        return Expr::Num(f64::NAN);
    }
    let e = node(op, args);
    if let Some(max) = BUDGET.get() {
        if e.size() > max {
            OVER.set(true);
            return Expr::Num(f64::NAN);
        }
    }
    e
}

/// Expressions as the arithmetic of derivative rules: every operation built through the
/// simplifier, so that zeros and ones never pile up.
pub(crate) struct Sym;

impl Slopes for Sym {
    type V = Expr;
    type B = Expr;
    fn num(&mut self, v: f64) -> Expr {
        Expr::Num(v)
    }
    fn ln10(&mut self) -> Expr {
        Expr::un(Unary::Ln, Expr::Num(10.0))
    }
    fn add(&mut self, x: Expr, y: Expr) -> Expr {
        mk(Op::Binary(Binary::Add), vec![x, y])
    }
    fn sub(&mut self, x: Expr, y: Expr) -> Expr {
        mk(Op::Binary(Binary::Sub), vec![x, y])
    }
    fn mul(&mut self, x: Expr, y: Expr) -> Expr {
        mk(Op::Binary(Binary::Mul), vec![x, y])
    }
    fn div(&mut self, x: Expr, y: Expr) -> Expr {
        mk(Op::Binary(Binary::Div), vec![x, y])
    }
    fn neg(&mut self, x: Expr) -> Expr {
        mk(Op::Unary(Unary::Neg), vec![x])
    }
    fn powi(&mut self, x: Expr, n: i32) -> Expr {
        mk(Op::Binary(Binary::Pow), vec![x, Expr::Num(n as f64)])
    }
    fn cmp(&mut self, c: Cmp, x: Expr, y: Expr) -> Expr {
        mk(Op::Binary(Binary::Cmp(c)), vec![x, y])
    }
    fn select(&mut self, b: Expr, x: Expr, y: Expr) -> Expr {
        mk(Op::If, vec![b, x, y])
    }
    fn unary(&mut self, op: Unary, x: Expr) -> Expr {
        mk(Op::Unary(op), vec![x])
    }
    fn binary(&mut self, op: Binary, x: Expr, y: Expr) -> Expr {
        mk(Op::Binary(op), vec![x, y])
    }
}

fn is_zero(e: &Expr) -> bool {
    matches!(e, Expr::Num(v) if *v == 0.0)
}

/// `Some(d)` unless `d` is structurally zero: what a contribution needs.
fn nonzero(d: Expr) -> Option<Expr> {
    (!is_zero(&d)).then_some(d)
}

/// The sum of the terms, in order.
fn sum(terms: impl IntoIterator<Item = Option<Term<Expr>>>) -> Expr {
    let mut acc: Option<Expr> = None;
    for t in terms.into_iter().flatten() {
        acc = Some(match (acc, t) {
            (None, Term::Plus(x)) => x,
            (None, Term::Minus(x)) => Sym.neg(x),
            (Some(a), Term::Plus(x)) => Sym.add(a, x),
            (Some(a), Term::Minus(x)) => Sym.sub(a, x),
        });
    }
    acc.unwrap_or(Expr::Num(0.0))
}

/// The derivative before the final clean-up (intermediate results are kept small).
pub(crate) fn raw_derivative(e: &Expr, wrt: &str) -> Expr {
    if OVER.get() {
        return Expr::Num(f64::NAN);
    }
    let d = |x: &Expr| raw_derivative(x, wrt);
    match e {
        Expr::Num(_) => Expr::Num(0.0),
        Expr::Var(n) => Expr::Num(if n == wrt { 1.0 } else { 0.0 }),
        Expr::Apply(_, _) if !e.mentions(wrt) => Expr::Num(0.0),
        Expr::Apply(op, args) => match (op, args.as_slice()) {
            (Op::Unary(u), [a]) => match nonzero(d(a)) {
                None => Expr::Num(0.0),
                Some(du) => sum([u.contribution(&mut Sym, du, a.clone(), e.clone())]),
            },
            (Op::Binary(b), [x, y]) => {
                let g = [nonzero(d(x)), nonzero(d(y))];
                let terms = b.contributions(&mut Sym, g, x.clone(), y.clone(), e.clone());
                sum(terms)
            }
            (Op::Fold(f), args) => fold_derivative(*f, args, wrt),
            (Op::If, [c, a, rest @ ..]) => {
                let db = rest.first().map(d).unwrap_or(Expr::Num(0.0));
                mk(Op::If, vec![c.clone(), d(a), db])
            }
            // A tree whose arguments do not fit its operation (built by hand).
            (Op::Unary(_) | Op::Binary(_) | Op::If, _) => Expr::Num(f64::NAN),
        },
    }
}

/// `d MAX(a1, a2, ..., an) = IF(a1 >= MAX(a2..an), d a1, IF(a2 >= MAX(a3..an), ...))`:
/// the fold from the right that the tape computes, each comparison the one it routes
/// the adjoint by ([`Fold::route`]), so that ties go to the first argument and a NaN
/// argument is routed alike. Built from the innermost level out, so that the depth of
/// the recursion does not grow with the number of arguments.
fn fold_derivative(f: Fold, args: &[Expr], wrt: &str) -> Expr {
    let Some((last, init)) = args.split_last() else {
        return Expr::Num(f64::NAN);
    };
    let mut acc = raw_derivative(last, wrt);
    for (k, a) in init.iter().enumerate().rev() {
        let rest = &args[k + 1..];
        if !a.mentions(wrt) && !rest.iter().any(|r| r.mentions(wrt)) {
            continue;
        }
        let rest = match rest {
            [one] => one.clone(),
            many => Expr::fold(f, many.to_vec()),
        };
        let cond = Sym.cmp(f.route(), a.clone(), rest);
        acc = mk(Op::If, vec![cond, raw_derivative(a, wrt), acc]);
    }
    acc
}

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
use std::borrow::Cow;
use std::cell::Cell;
use std::marker::PhantomData;

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
///
/// A value is a part of the formula, borrowed, or a part of the derivative, owned: an
/// operand is copied only when a rule uses it. Most rules use few of the operands they
/// are given (a sum none), and copying every operand on the way down made the cost of a
/// derivative grow as the square of the formula's depth (a sum of n terms is n deep).
pub(crate) struct Sym<'a>(PhantomData<&'a Expr>);

impl Sym<'_> {
    fn new() -> Self {
        Sym(PhantomData)
    }
}

/// `op(args)` as a value of [`Sym`], built by [`mk`].
fn mk_sym<'a, const N: usize>(op: Op, args: [Cow<'a, Expr>; N]) -> Cow<'a, Expr> {
    Cow::Owned(mk(op, args.into_iter().map(Cow::into_owned).collect()))
}

impl<'a> Slopes for Sym<'a> {
    type V = Cow<'a, Expr>;
    type B = Cow<'a, Expr>;
    fn num(&mut self, v: f64) -> Self::V {
        Cow::Owned(Expr::Num(v))
    }
    fn ln10(&mut self) -> Self::V {
        Cow::Owned(Expr::un(Unary::Ln, Expr::Num(10.0)))
    }
    fn add(&mut self, x: Self::V, y: Self::V) -> Self::V {
        mk_sym(Op::Binary(Binary::Add), [x, y])
    }
    fn sub(&mut self, x: Self::V, y: Self::V) -> Self::V {
        mk_sym(Op::Binary(Binary::Sub), [x, y])
    }
    fn mul(&mut self, x: Self::V, y: Self::V) -> Self::V {
        mk_sym(Op::Binary(Binary::Mul), [x, y])
    }
    fn div(&mut self, x: Self::V, y: Self::V) -> Self::V {
        mk_sym(Op::Binary(Binary::Div), [x, y])
    }
    fn neg(&mut self, x: Self::V) -> Self::V {
        mk_sym(Op::Unary(Unary::Neg), [x])
    }
    fn powi(&mut self, x: Self::V, n: i32) -> Self::V {
        mk_sym(
            Op::Binary(Binary::Pow),
            [x, Cow::Owned(Expr::Num(n as f64))],
        )
    }
    fn cmp(&mut self, c: Cmp, x: Self::V, y: Self::V) -> Self::B {
        mk_sym(Op::Binary(Binary::Cmp(c)), [x, y])
    }
    fn select(&mut self, b: Self::B, x: Self::V, y: Self::V) -> Self::V {
        mk_sym(Op::If, [b, x, y])
    }
    fn unary(&mut self, op: Unary, x: Self::V) -> Self::V {
        mk_sym(Op::Unary(op), [x])
    }
    fn binary(&mut self, op: Binary, x: Self::V, y: Self::V) -> Self::V {
        mk_sym(Op::Binary(op), [x, y])
    }
}

fn is_zero(e: &Expr) -> bool {
    matches!(e, Expr::Num(v) if *v == 0.0)
}

/// The sum of the terms, in order.
fn sum<'a>(terms: impl IntoIterator<Item = Option<Term<Cow<'a, Expr>>>>) -> Expr {
    let mut acc: Option<Cow<'a, Expr>> = None;
    let mut sym = Sym::new();
    for t in terms.into_iter().flatten() {
        acc = Some(match (acc, t) {
            (None, Term::Plus(x)) => x,
            (None, Term::Minus(x)) => sym.neg(x),
            (Some(a), Term::Plus(x)) => sym.add(a, x),
            (Some(a), Term::Minus(x)) => sym.sub(a, x),
        });
    }
    acc.map_or(Expr::Num(0.0), Cow::into_owned)
}

/// The derivative before the final clean-up (intermediate results are kept small).
pub(crate) fn raw_derivative(e: &Expr, wrt: &str) -> Expr {
    raw(e, wrt).0
}

/// A derivative that is structurally zero contributes nothing: `None` for it, else the
/// derivative.
fn nonzero<'a>(d: Expr) -> Option<Cow<'a, Expr>> {
    (!is_zero(&d)).then_some(Cow::Owned(d))
}

/// [`raw_derivative`], and whether `e` mentions `wrt`: a part that does not has
/// derivative 0, found without applying any rule to it. Both are found in one walk from
/// the leaves, so that no part is searched for `wrt` once for each of its ancestors.
fn raw(e: &Expr, wrt: &str) -> (Expr, bool) {
    if OVER.get() {
        return (Expr::Num(f64::NAN), true);
    }
    let zero = || (Expr::Num(0.0), false);
    let (op, args) = match e {
        Expr::Num(_) => return zero(),
        Expr::Var(n) if n == wrt => return (Expr::Num(1.0), true),
        Expr::Var(_) => return zero(),
        Expr::Apply(op, args) => (*op, args.as_slice()),
    };
    let fits = match op {
        Op::Unary(_) => args.len() == 1,
        Op::Binary(_) => args.len() == 2,
        Op::If => args.len() >= 2,
        Op::Fold(_) => true,
    };
    if !fits {
        // A tree whose arguments do not fit its operation (built by hand).
        return match e.mentions(wrt) {
            true => (Expr::Num(f64::NAN), true),
            false => zero(),
        };
    }
    if let (Op::If, [c, a, rest @ ..]) = (op, args) {
        // The condition is not differentiated: only whether it mentions `wrt` matters.
        let (da, ma) = raw(a, wrt);
        let (db, mb) = rest.first().map_or_else(zero, |b| raw(b, wrt));
        if !(ma || mb || c.mentions(wrt) || rest.iter().skip(1).any(|r| r.mentions(wrt))) {
            return zero();
        }
        return (mk(Op::If, vec![c.clone(), da, db]), true);
    }
    let ds: Vec<(Expr, bool)> = args.iter().map(|a| raw(a, wrt)).collect();
    if !ds.iter().any(|(_, m)| *m) {
        return zero();
    }
    if let Op::Fold(f) = op {
        return (fold_derivative(f, args, ds), true);
    }
    let mut g = ds.into_iter().map(|(d, _)| nonzero(d));
    let (mut sym, out) = (Sym::new(), Cow::Borrowed(e));
    let d = match (op, args) {
        (Op::Unary(u), [a]) => match g.next().flatten() {
            None => Expr::Num(0.0),
            Some(du) => sum([u.contribution(&mut sym, du, Cow::Borrowed(a), out)]),
        },
        (Op::Binary(b), [x, y]) => {
            let g = [g.next().flatten(), g.next().flatten()];
            let (x, y) = (Cow::Borrowed(x), Cow::Borrowed(y));
            sum(b.contributions(&mut sym, g, x, y, out))
        }
        _ => Expr::Num(f64::NAN),
    };
    (d, true)
}

/// `d MAX(a1, a2, ..., an) = IF(a1 >= MAX(a2..an), d a1, IF(a2 >= MAX(a3..an), ...))`:
/// the fold from the right that the tape computes, each comparison the one it routes
/// the adjoint by ([`Fold::route`]), so that ties go to the first argument and a NaN
/// argument is routed alike. Built from the innermost level out, so that the depth of
/// the recursion does not grow with the number of arguments. `ds` holds each argument's
/// derivative and whether it mentions the name.
fn fold_derivative(f: Fold, args: &[Expr], mut ds: Vec<(Expr, bool)>) -> Expr {
    let Some((mut acc, mut rest_mentions)) = ds.pop() else {
        return Expr::Num(f64::NAN);
    };
    for (k, (da, mentions)) in ds.into_iter().enumerate().rev() {
        if !mentions && !rest_mentions {
            continue;
        }
        rest_mentions |= mentions;
        let rest = match &args[k + 1..] {
            [one] => one.clone(),
            many => Expr::fold(f, many.to_vec()),
        };
        let cond = mk(
            Op::Binary(Binary::Cmp(f.route())),
            vec![args[k].clone(), rest],
        );
        acc = mk(Op::If, vec![cond, da, acc]);
    }
    acc
}

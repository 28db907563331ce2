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

use crate::simplify::{node, simplify_owned, tally};

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
    simplify_owned(raw_derivative(e, wrt))
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
    let d = simplify_owned(raw);
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
    let chars = d.excel_chars();
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
        let size = e.size();
        tally(size);
        if size > max {
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
    if cfg!(test) {
        for a in &args {
            if let Cow::Borrowed(e) = a {
                tally(e.size());
            }
        }
    }
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
    tally(1);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simplify::WORK;
    use crate::{parse, Model, Roles};
    use proptest::prelude::*;

    /// The squared error of `units` ReLU units and an intercept, 3·units + 1 parameters.
    fn relu_error(units: usize) -> Expr {
        let pred: String = (0..units)
            .map(|i| format!("c{i}*MAX(a{i}*x+b{i},0)+"))
            .collect();
        let roles = Roles::with_columns(&["x", "y"]);
        Model::new(&format!("{pred}d"), "squared", &roles)
            .unwrap()
            .error
    }

    /// The work ([`WORK`]) of one printed derivative, and its size.
    fn cost(e: &Expr, wrt: &str) -> (usize, usize) {
        WORK.set(0);
        let d = shown_derivative(e, wrt).unwrap();
        (WORK.get(), d.size())
    }

    /// Each derivative of a model of n units holds the whole prediction: twice the units,
    /// twice the size, and twice the work, not four times (the simplifier read every
    /// sum again at each of its levels, and the derivative searched each part for the
    /// name once for every part above it).
    #[test]
    fn a_derivative_costs_in_proportion_to_its_model() {
        let picks: [fn(usize) -> String; 3] =
            [|_| "c0".into(), |n| format!("a{}", n - 1), |_| "d".into()];
        for pick in picks {
            let costs: Vec<(usize, usize)> = [16, 32, 64]
                .iter()
                .map(|&n| cost(&relu_error(n), &pick(n)))
                .collect();
            for w in costs.windows(2) {
                let (work, size) = (w[1].0 as f64 / w[0].0 as f64, w[1].1 as f64 / w[0].1 as f64);
                assert!((1.8..2.2).contains(&size), "{}: {costs:?}", pick(0));
                assert!(work < 2.3, "{}: work grows {work:.2}× {costs:?}", pick(0));
            }
        }
    }

    fn own(e: &Expr) -> Cow<'_, Expr> {
        Cow::Owned(e.clone())
    }

    /// The derivative as first written: each part searched for the name, every operand
    /// copied, the kinks of a fold from the right.
    fn reference_raw(e: &Expr, wrt: &str) -> Expr {
        let d = |x: &Expr| reference_raw(x, wrt);
        let mut sym = Sym::new();
        match e {
            Expr::Num(_) => Expr::Num(0.0),
            Expr::Var(n) => Expr::Num(if n == wrt { 1.0 } else { 0.0 }),
            Expr::Apply(_, _) if !e.mentions(wrt) => Expr::Num(0.0),
            Expr::Apply(op, args) => match (op, args.as_slice()) {
                (Op::Unary(u), [a]) => match nonzero(d(a)) {
                    None => Expr::Num(0.0),
                    Some(du) => sum([u.contribution(&mut sym, du, own(a), own(e))]),
                },
                (Op::Binary(b), [x, y]) => {
                    let g = [nonzero(d(x)), nonzero(d(y))];
                    sum(b.contributions(&mut sym, g, own(x), own(y), own(e)))
                }
                (Op::Fold(f), args) => {
                    let Some((last, init)) = args.split_last() else {
                        return Expr::Num(f64::NAN);
                    };
                    let mut acc = d(last);
                    for (k, a) in init.iter().enumerate().rev() {
                        let rest = &args[k + 1..];
                        if !a.mentions(wrt) && !rest.iter().any(|r| r.mentions(wrt)) {
                            continue;
                        }
                        let rest = match rest {
                            [one] => one.clone(),
                            many => Expr::fold(*f, many.to_vec()),
                        };
                        let cond = sym.cmp(f.route(), own(a), Cow::Owned(rest));
                        acc = mk(Op::If, vec![cond.into_owned(), d(a), acc]);
                    }
                    acc
                }
                (Op::If, [c, a, rest @ ..]) => {
                    let db = rest.first().map(d).unwrap_or(Expr::Num(0.0));
                    mk(Op::If, vec![c.clone(), d(a), db])
                }
                _ => Expr::Num(f64::NAN),
            },
        }
    }

    /// Random formulas over a, b, c, x: sums of many terms, folds of several arguments,
    /// conditions, kinks, powers and quotients.
    fn formula() -> impl Strategy<Value = String> {
        let leaf = prop::sample::select(vec!["a", "b", "c", "x", "0", "1", "2", "-3", "0.5"])
            .prop_map(String::from);
        leaf.prop_recursive(4, 48, 4, |inner| {
            let v = |n| prop::collection::vec(inner.clone(), n);
            prop_oneof![
                v(2..8).prop_map(|t| t.join("+")),
                v(2..4).prop_map(|t| format!("({})", t.join("-"))),
                v(2..4).prop_map(|t| format!("({})", t.join(")*("))),
                v(2..3).prop_map(|t| format!("({})/({})", t[0], t[1])),
                (
                    inner.clone(),
                    prop::sample::select(vec!["2", "3", "-1", "0.5", "b"])
                )
                    .prop_map(|(l, k)| format!("({l})^{k}")),
                v(1..5).prop_map(|t| format!("MAX({})", t.join(","))),
                v(1..4).prop_map(|t| format!("MIN({})", t.join(","))),
                v(4..5).prop_map(|t| format!("IF({}>{},{},{})", t[0], t[1], t[2], t[3])),
                inner.clone().prop_map(|l| format!("RELU({l})")),
                inner.clone().prop_map(|l| format!("ABS({l})")),
                inner.clone().prop_map(|l| format!("EXP({l})")),
                inner.clone().prop_map(|l| format!("LN({l})")),
                inner.clone().prop_map(|l| format!("SIGMOID({l})")),
                inner.clone().prop_map(|l| format!("-({l})")),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// The derivative prints exactly as the straightforward one does: the same rules
        /// applied the same way, simplified without the simplifier's shortcut for sums.
        #[test]
        fn derivatives_are_the_straightforward_ones(f in formula()) {
            let e = parse(&f).unwrap();
            for name in ["a", "b", "c", "x"] {
                let fast = derivative(&e, name);
                let slow = crate::simplify::tests::reference(&reference_raw(&e, name));
                prop_assert_eq!(fast.to_excel(), slow.to_excel(), "{} by {}", f, name);
                prop_assert_eq!(fast.to_string(), slow.to_string());
            }
        }
    }
}

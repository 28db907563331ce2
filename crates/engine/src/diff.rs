//! Symbolic differentiation: one rule per [`Op`], then [`mod@crate::simplify`].
//!
//! The kink rules (see [`crate::op`]) are spelled out as `IF` formulas, so the printed
//! derivative says exactly what the automatic one computes: `d MAX(u,v) = IF(u>=v, du, dv)`.

use crate::expr::Expr;
use crate::op::Op;
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

/// `a*b`, `a+b`, ... built through the simplifier so that zeros never pile up.
fn mul(a: Expr, b: Expr) -> Expr {
    node(Op::Mul, vec![a, b])
}
fn add(a: Expr, b: Expr) -> Expr {
    node(Op::Add, vec![a, b])
}
fn sub(a: Expr, b: Expr) -> Expr {
    node(Op::Sub, vec![a, b])
}
fn div(a: Expr, b: Expr) -> Expr {
    node(Op::Div, vec![a, b])
}
fn num(v: f64) -> Expr {
    Expr::Num(v)
}
fn call(op: Op, args: Vec<Expr>) -> Expr {
    Expr::Apply(op, args)
}

/// The derivative before the final clean-up (intermediate results are kept small).
pub(crate) fn raw_derivative(e: &Expr, wrt: &str) -> Expr {
    let d = |x: &Expr| raw_derivative(x, wrt);
    match e {
        Expr::Num(_) => num(0.0),
        Expr::Var(n) => num(if n == wrt { 1.0 } else { 0.0 }),
        Expr::Apply(_, _) if !e.mentions(wrt) => num(0.0),
        Expr::Apply(op, args) => {
            let u = &args[0];
            let du = || d(u);
            match op {
                Op::Add => add(du(), d(&args[1])),
                Op::Sub => sub(du(), d(&args[1])),
                Op::Neg => node(Op::Neg, vec![du()]),
                Op::Mul => add(mul(du(), args[1].clone()), mul(u.clone(), d(&args[1]))),
                Op::Div => {
                    let v = &args[1];
                    // Quotient rule, written as du/v - u*dv/v^2 so that a constant
                    // denominator gives the plain du/v.
                    let first = div(du(), v.clone());
                    let dv = d(v);
                    if dv == num(0.0) {
                        first
                    } else {
                        let v2 = node(Op::Pow, vec![v.clone(), num(2.0)]);
                        sub(first, div(mul(u.clone(), dv), v2))
                    }
                }
                Op::Pow => {
                    let v = &args[1];
                    if !v.mentions(wrt) {
                        // d u^v = v*u^(v-1)*du
                        let vm1 = node(Op::Sub, vec![v.clone(), num(1.0)]);
                        mul(mul(v.clone(), node(Op::Pow, vec![u.clone(), vm1])), du())
                    } else {
                        // d u^v = u^v*(dv*LN(u) + v*du/u)
                        let ln_u = call(Op::Ln, vec![u.clone()]);
                        let inner = add(mul(d(v), ln_u), div(mul(v.clone(), du()), u.clone()));
                        mul(e.clone(), inner)
                    }
                }
                Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::Eq | Op::Ne | Op::Sign => num(0.0),
                Op::Max | Op::Min => extreme_derivative(*op, args, wrt),
                Op::Abs => mul(call(Op::Sign, vec![u.clone()]), du()),
                Op::Exp => mul(e.clone(), du()),
                Op::Ln => div(du(), u.clone()),
                Op::Log10 => div(du(), mul(u.clone(), call(Op::Ln, vec![num(10.0)]))),
                Op::Log => {
                    let as_ln = div(
                        call(Op::Ln, vec![u.clone()]),
                        call(Op::Ln, vec![args[1].clone()]),
                    );
                    raw_derivative(&as_ln, wrt)
                }
                Op::Sqrt => div(du(), mul(num(2.0), e.clone())),
                Op::Tanh => {
                    let t2 = node(Op::Pow, vec![e.clone(), num(2.0)]);
                    mul(sub(num(1.0), t2), du())
                }
                Op::Relu => {
                    let cond = call(Op::Ge, vec![u.clone(), num(0.0)]);
                    node(Op::If, vec![cond, du(), num(0.0)])
                }
                Op::Sigmoid => mul(mul(e.clone(), sub(num(1.0), e.clone())), du()),
                Op::If => {
                    let db = args.get(2).map(d).unwrap_or(num(0.0));
                    node(Op::If, vec![u.clone(), d(&args[1]), db])
                }
            }
        }
    }
}

/// `d MAX(a1, rest...) = IF(a1 >= MAX(rest), d a1, d MAX(rest))`: ties go to the first
/// argument, exactly as the left-to-right evaluation picks it (and `<=` for `MIN`).
fn extreme_derivative(op: Op, args: &[Expr], wrt: &str) -> Expr {
    if args.len() == 1 {
        return raw_derivative(&args[0], wrt);
    }
    let rest = if args.len() == 2 {
        args[1].clone()
    } else {
        Expr::Apply(op, args[1..].to_vec())
    };
    let cmp = if op == Op::Max { Op::Ge } else { Op::Le };
    let cond = call(cmp, vec![args[0].clone(), rest.clone()]);
    node(
        Op::If,
        vec![
            cond,
            raw_derivative(&args[0], wrt),
            raw_derivative(&rest, wrt),
        ],
    )
}

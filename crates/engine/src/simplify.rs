//! Algebraic clean-up so that derivatives read like a textbook.
//!
//! The rules are deliberately few: constant folding (when the result is finite), the
//! identities of 0 and 1, merging of numeric coefficients and of like terms and like
//! factors (`c*x*c*x` becomes `c^2*x^2`, `t+t` becomes `2*t`), double negation, and `IF`
//! with a constant or with equal branches. They may change the last bits of a value
//! (operations are reordered), never the value itself; `0*u` is taken to be 0 even where
//! `u` would be infinite, as a textbook does.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use crate::expr::Expr;
use crate::op::{Binary, Fold, Op, Unary};

#[cfg(test)]
thread_local! {
    /// Work done by the derivative and the simplifier, in nodes visited or copied;
    /// counted in tests only, which hold it to grow with the size of a derivative and
    /// not faster.
    pub(crate) static WORK: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts `n` nodes of work (see [`WORK`]); nothing outside tests.
#[inline(always)]
pub(crate) fn tally(n: usize) {
    #[cfg(test)]
    WORK.set(WORK.get() + n);
    #[cfg(not(test))]
    let _ = n;
}

const ADD: Op = Op::Binary(Binary::Add);
const SUB: Op = Op::Binary(Binary::Sub);
const MUL: Op = Op::Binary(Binary::Mul);
const DIV: Op = Op::Binary(Binary::Div);
const POW: Op = Op::Binary(Binary::Pow);
const NEG: Op = Op::Unary(Unary::Neg);

/// Simplifies an expression (see the module docs for the rules).
///
/// # Examples
///
/// ```
/// use gradsheet_engine::{parse, simplify};
/// let e = parse("2*(c*x)*(c*x)+0*y+1*b/1").unwrap();
/// assert_eq!(simplify(&e).to_string(), "2*c^2*x^2+b");
/// ```
pub fn simplify(e: &Expr) -> Expr {
    simplify_sum(e, false).0
}

/// [`simplify`] of an expression no longer needed: its parts are moved into the result
/// rather than copied (a derivative, built only to be simplified).
pub(crate) fn simplify_owned(e: Expr) -> Expr {
    simplify_sum(e, false).0
}

/// [`simplify`], and if `keep` and the result is a sum built by [`sum`], the terms it was
/// built from ([`Terms`]).
fn simplify_sum<P: Part>(e: P, keep: bool) -> (Expr, Option<Terms>) {
    let (op, arity) = match e.expr() {
        Expr::Apply(op, args) => (*op, args.len()),
        _ => return (e.into_expr(), None),
    };
    if !(matches!(op, ADD | SUB) && arity == 2) {
        return node_terms(op, e.map_args(|a| simplify_sum(a, false).0), keep);
    }
    // A sum continues the sum on its left: that one's terms are kept.
    let mut terms = None;
    let args = e.map_args(|a| {
        let (a, t) = simplify_sum(a, terms.is_none());
        if terms.is_none() {
            terms = Some(t);
        }
        a
    });
    match (terms.flatten(), <[Expr; 2]>::try_from(args)) {
        (Some(terms), Ok([a, b])) => terms.append(op, a, b, keep),
        (_, Ok(args)) => node_terms(op, args.into(), keep),
        (_, Err(args)) => node_terms(op, args, keep),
    }
}

/// [`node`], and the terms of the sum it built, if it built one.
fn node_terms(op: Op, args: Vec<Expr>, keep: bool) -> (Expr, Option<Terms>) {
    let all_numbers = args.iter().all(|a| matches!(a, Expr::Num(_)));
    if matches!(op, ADD | SUB | NEG) && !all_numbers {
        return sum_terms(Expr::Apply(op, args), keep);
    }
    (node(op, args), None)
}

/// Simplifies `op(args)` whose arguments are already simple.
pub(crate) fn node(op: Op, args: Vec<Expr>) -> Expr {
    if op != Op::If && args.iter().all(|a| matches!(a, Expr::Num(_))) {
        let folded = Expr::Apply(op, args.clone()).eval(&|_| None);
        // Arithmetic folds always; a function of constants folds only when the result
        // reads as well as the call (`SQRT(4)` → 2, but `LN(10)` stays `LN(10)`).
        let exact_kind = matches!(
            op,
            Op::Binary(Binary::Add | Binary::Sub | Binary::Mul)
                | Op::Unary(Unary::Neg)
                | Op::Fold(Fold::Max | Fold::Min)
        );
        if let Ok(v) = folded {
            if v.is_finite() && (exact_kind || crate::expr::format_number(v).len() <= 8) {
                return Expr::Num(v);
            }
        }
        return Expr::Apply(op, args);
    }
    match op {
        Op::Binary(Binary::Add | Binary::Sub) | Op::Unary(Unary::Neg) => sum(Expr::Apply(op, args)),
        Op::Binary(Binary::Mul | Binary::Div) => product(Expr::Apply(op, args)),
        Op::Binary(Binary::Pow) if is_integer(&args[1]) => product(Expr::Apply(op, args)),
        Op::Binary(Binary::Pow) if matches!(args[1], Expr::Num(v) if v == 1.0) => args[0].clone(),
        Op::If => {
            let cond = args[0].as_num();
            let else_branch = args.get(2).cloned().unwrap_or(Expr::Num(0.0));
            match cond {
                Some(c) if c.is_nan() => Expr::Apply(op, args),
                Some(c) if c != 0.0 => args[1].clone(),
                Some(_) => else_branch,
                None if args[1] == else_branch => else_branch,
                None => Expr::Apply(op, args),
            }
        }
        Op::Unary(_) | Op::Binary(_) | Op::Fold(_) => Expr::Apply(op, args),
    }
}

fn is_integer(e: &Expr) -> bool {
    matches!(e, Expr::Num(v) if v.fract() == 0.0 && v.abs() <= crate::op::POWI_LIMIT)
}

/// A sum as a constant plus terms `coef * rest`, with like terms merged.
fn sum(e: Expr) -> Expr {
    sum_terms(e, false).0
}

/// [`sum`], and if `keep`, the terms it wrote the sum with, when reading the sum again
/// ([`collect_terms`]) finds exactly them ([`Terms`]).
fn sum_terms(e: Expr, keep: bool) -> (Expr, Option<Terms>) {
    let mut terms: Vec<(f64, Expr)> = Vec::new();
    let mut konst = 0.0;
    collect_terms(&e, 1.0, &mut terms, &mut konst);
    terms.retain(|(c, _)| *c != 0.0);
    if terms.iter().any(|(c, _)| !c.is_finite()) || !konst.is_finite() {
        return (e, None);
    }
    // Lead with a positive term where there is one: `y-x` reads better than `-x+y`.
    if let Some(pos) = terms.iter().position(|(c, _)| *c > 0.0) {
        let t = terms.remove(pos);
        terms.insert(0, t);
    }
    let total = konst;
    // With only negative terms, a positive constant leads: `1-s` rather than `-s+1`.
    let mut acc: Option<Expr> = None;
    if konst > 0.0 && terms.first().is_some_and(|(c, _)| *c < 0.0) {
        acc = Some(Expr::Num(konst));
        konst = 0.0;
    }
    let mut exact = keep && !terms.is_empty();
    let kept: Vec<(f64, Expr)> = if keep { terms.clone() } else { Vec::new() };
    for (i, (c, rest)) in terms.into_iter().enumerate() {
        acc = Some(match acc {
            None => {
                let t = scaled(c, rest);
                exact = exact && reads_as(&t, 1.0, (kept[i].0, &kept[i].1));
                t
            }
            Some(a) => {
                let (t, op, sign) = term_of(c, rest);
                exact = exact && reads_as(&t, sign, (kept[i].0, &kept[i].1));
                Expr::Apply(op, vec![a, t])
            }
        });
    }
    let out = match acc {
        None => Expr::Num(konst),
        Some(a) => with_constant(a, konst),
    };
    (out, exact.then(|| Terms::new(kept, total)))
}

/// `rest` scaled by `c` as a later term of a sum: the term, the operation that joins it,
/// and the sign under which [`collect_terms`] reads it.
fn term_of(c: f64, rest: Expr) -> (Expr, Op, f64) {
    if c < 0.0 {
        (scaled(-c, rest), SUB, -1.0)
    } else {
        (scaled(c, rest), ADD, 1.0)
    }
}

/// `a` with the constant `konst` added at the end, as [`sum`] writes it.
fn with_constant(a: Expr, konst: f64) -> Expr {
    if konst > 0.0 {
        Expr::bin(Binary::Add, a, Expr::Num(konst))
    } else if konst < 0.0 {
        Expr::bin(Binary::Sub, a, Expr::Num(-konst))
    } else {
        a
    }
}

/// Whether the term `t` of a sum, read under `sign` ([`collect_terms`]), is exactly the
/// term `(c, rest)` it was written for, and no constant.
fn reads_as(t: &Expr, sign: f64, (c, rest): (f64, &Expr)) -> bool {
    let (mut read, mut konst) = (Vec::new(), 0.0);
    collect_terms(t, sign, &mut read, &mut konst);
    konst == 0.0 && matches!(read.as_slice(), [(rc, r)] if *rc == c && r == rest)
}

/// The terms a sum was written with by [`sum`] (the order, coefficients and constant
/// that [`collect_terms`] finds in it again), indexed by their non-numeric parts.
///
/// A sum of n terms written as `t1+t2+...+tn` is simplified from the inside out, and
/// each level's [`sum`] reads the whole sum below it again: n²/2 terms read, and n²
/// nodes built, for a sum the simplifier leaves as it is. With the terms of the sum
/// below at hand, a level that only appends a new term (the usual case: no like term,
/// no change of the leading term) writes the same sum by reusing the one below.
struct Terms {
    terms: Vec<(f64, Expr)>,
    konst: f64,
    /// The last position in `terms` of each [`structural_hash`] of a non-numeric part.
    last: HashMap<u64, usize, BuildHasherDefault<Mix>>,
    /// For each term, the position of the one before it with the same hash, if any.
    earlier: Vec<Option<usize>>,
}

impl Terms {
    fn new(terms: Vec<(f64, Expr)>, konst: f64) -> Terms {
        let mut t = Terms {
            terms: Vec::with_capacity(terms.len()),
            konst,
            last: HashMap::default(),
            earlier: Vec::with_capacity(terms.len()),
        };
        for (c, rest) in terms {
            t.push(c, rest);
        }
        t
    }

    fn push(&mut self, c: f64, rest: Expr) {
        let h = structural_hash(&rest);
        self.earlier.push(self.last.insert(h, self.terms.len()));
        self.terms.push((c, rest));
    }

    fn contains(&self, rest: &Expr) -> bool {
        let mut at = self.last.get(&structural_hash(rest)).copied();
        while let Some(i) = at {
            if self.terms[i].1 == *rest {
                return true;
            }
            at = self.earlier[i];
        }
        false
    }

    /// `node(op, [a, b])` for `op` `+` or `-`, where `a` is the sum these are the terms
    /// of: the same expression as [`node`] builds, in time that does not grow with `a`
    /// when `b` is a new term that changes neither the leading term nor the constant.
    fn append(mut self, op: Op, a: Expr, b: Expr, keep: bool) -> (Expr, Option<Terms>) {
        let general = |a, b| node_terms(op, vec![a, b], keep);
        if matches!(b, Expr::Num(_) | Expr::Apply(ADD | SUB | NEG, _)) {
            return general(a, b);
        }
        // What `collect_terms` reads from `b`, after the terms of `a`.
        let (given, rest) = split_coefficient(&b);
        let c = if op == SUB { -given } else { given };
        let Some(&(first, _)) = self.terms.first() else {
            return general(a, b);
        };
        // A positive term after only negative ones would lead the sum.
        let leads = c > 0.0 && first < 0.0;
        if c == 0.0 || !c.is_finite() || leads || self.contains(&rest) {
            return general(a, b);
        }
        // The constant is written first when every term is negative, else last, where
        // the new term goes before it.
        let trailing = if self.konst > 0.0 && first < 0.0 {
            0.0
        } else {
            self.konst
        };
        let ends_in_constant = match &a {
            Expr::Apply(ADD | SUB, args) => matches!(args.as_slice(), [_, Expr::Num(_)]),
            _ => false,
        };
        if trailing != 0.0 && !ends_in_constant {
            return general(a, b);
        }
        let sign = c.signum();
        // A term written as it was given reads as it was read: `given` under `sign`.
        // With a coefficient of ±1 it is written as `rest` ([`scaled`]), often `b` itself.
        let as_given = sign * given == c;
        let (t, join) = if as_given && c.abs() == 1.0 && rest == b {
            (b, if c < 0.0 { SUB } else { ADD })
        } else {
            let (t, join, _) = term_of(c, rest.clone());
            let reads = (as_given && t == b) || reads_as(&t, sign, (c, &rest));
            if !reads {
                return general(a, b);
            }
            (t, join)
        };
        let body = match a {
            Expr::Apply(_, mut args) if trailing != 0.0 => args.swap_remove(0),
            a => a,
        };
        let out = with_constant(Expr::Apply(join, vec![body, t]), trailing);
        self.push(c, rest);
        (out, Some(self))
    }
}

/// A hash of `e` that agrees with `==` (`0` and `-0` hash alike).
fn structural_hash(e: &Expr) -> u64 {
    fn feed(e: &Expr, h: &mut Mix) {
        tally(1);
        match e {
            Expr::Num(v) => {
                h.write_u8(0);
                h.write_u64((if *v == 0.0 { 0.0 } else { *v }).to_bits());
            }
            Expr::Var(n) => {
                h.write_u8(1);
                h.write(n.as_bytes());
            }
            Expr::Apply(op, args) => {
                h.write_u8(2);
                op.hash(h);
                h.write_usize(args.len());
                for a in args {
                    feed(a, h);
                }
            }
        }
    }
    let mut h = Mix(0);
    feed(e, &mut h);
    h.finish()
}

/// A small multiplicative hash: the index of a sum's terms is built for every sum the
/// simplifier writes, where SipHash's resistance to chosen keys buys nothing.
#[derive(Default)]
struct Mix(u64);

impl Hasher for Mix {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
        self.write_u64(bytes.len() as u64);
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

fn collect_terms(e: &Expr, sign: f64, terms: &mut Vec<(f64, Expr)>, konst: &mut f64) {
    tally(1);
    match e {
        Expr::Num(v) => *konst += sign * v,
        Expr::Apply(ADD, a) => {
            collect_terms(&a[0], sign, terms, konst);
            collect_terms(&a[1], sign, terms, konst);
        }
        Expr::Apply(SUB, a) => {
            collect_terms(&a[0], sign, terms, konst);
            collect_terms(&a[1], -sign, terms, konst);
        }
        Expr::Apply(NEG, a) => collect_terms(&a[0], -sign, terms, konst),
        other => {
            let (c, rest) = split_coefficient(other);
            match terms.iter_mut().find(|(_, r)| *r == rest) {
                Some(t) => t.0 += sign * c,
                None => terms.push((sign * c, rest)),
            }
        }
    }
}

/// Splits `3*x*y` into `(3, x*y)`; a term without a numeric factor has coefficient 1.
fn split_coefficient(e: &Expr) -> (f64, Expr) {
    if !matches!(e, Expr::Apply(MUL | DIV, _)) {
        return (1.0, e.clone());
    }
    let p = Product::of(e);
    if p.num == 0.0 || !p.finite() {
        return (1.0, e.clone());
    }
    if p.den != 1.0 {
        // A fraction keeps its constants together (`x/3`, not `0.333…*x`), but gives up
        // its sign, so that a sum subtracts it: `a-b^2/3` rather than `a+-(b^2)/3`.
        let negative = (p.num < 0.0) != (p.den < 0.0);
        if !negative {
            return (1.0, e.clone());
        }
        let (num, den) = (p.num.abs(), p.den.abs());
        return (-1.0, Product { num, den, ..p }.build());
    }
    let coef = p.num;
    let rest = Product { num: 1.0, ..p }.build();
    (coef, rest)
}

fn scaled(c: f64, rest: Expr) -> Expr {
    if c == 1.0 {
        rest
    } else {
        product(Expr::bin(Binary::Mul, Expr::Num(c), rest))
    }
}

fn negate(e: Expr) -> Expr {
    match e {
        Expr::Num(v) => Expr::Num(-v),
        Expr::Apply(NEG, mut a) => a.remove(0),
        other => Expr::un(Unary::Neg, other),
    }
}

/// A product `num/den * Π base^power`.
struct Product {
    num: f64,
    den: f64,
    factors: Vec<(Expr, f64)>,
    /// Whether the factors are kept, or only the numbers read.
    keep: bool,
}

/// A part of a product being read: borrowed, its factors copied, or owned, its factors
/// moved (a product built by the simplifier is read once and dropped, and copying a
/// large factor, a whole sum, cost as much as all the rest of a derivative).
trait Part: Sized {
    fn expr(&self) -> &Expr;
    /// The first two arguments.
    fn operands(self) -> [Option<Self>; 2];
    /// `f` of each argument.
    fn map_args(self, f: impl FnMut(Self) -> Expr) -> Vec<Expr>;
    fn into_expr(self) -> Expr;
}

impl Part for &Expr {
    fn expr(&self) -> &Expr {
        self
    }
    fn operands(self) -> [Option<Self>; 2] {
        match self {
            Expr::Apply(_, a) => [a.first(), a.get(1)],
            _ => [None, None],
        }
    }
    fn map_args(self, f: impl FnMut(Self) -> Expr) -> Vec<Expr> {
        match self {
            Expr::Apply(_, a) => a.iter().map(f).collect(),
            _ => Vec::new(),
        }
    }
    fn into_expr(self) -> Expr {
        if cfg!(test) {
            tally(self.size());
        }
        self.clone()
    }
}

impl Part for Expr {
    fn expr(&self) -> &Expr {
        self
    }
    fn operands(self) -> [Option<Self>; 2] {
        match self {
            Expr::Apply(_, a) => {
                let mut a = a.into_iter();
                [a.next(), a.next()]
            }
            _ => [None, None],
        }
    }
    fn map_args(self, f: impl FnMut(Self) -> Expr) -> Vec<Expr> {
        match self {
            Expr::Apply(_, a) => a.into_iter().map(f).collect(),
            _ => Vec::new(),
        }
    }
    fn into_expr(self) -> Expr {
        self
    }
}

impl Product {
    fn new(keep: bool) -> Product {
        Product {
            num: 1.0,
            den: 1.0,
            factors: Vec::new(),
            keep,
        }
    }

    fn of(e: &Expr) -> Product {
        let mut p = Product::new(true);
        p.collect(e, 1.0);
        p
    }

    /// Whether the numbers of the product are finite and it divides by no zero.
    fn finite(&self) -> bool {
        self.num.is_finite() && self.den.is_finite() && self.den != 0.0
    }

    /// Collects `e^k` (with `k` a whole number) into the product.
    fn collect(&mut self, e: impl Part, k: f64) {
        tally(1);
        let power = match e.expr() {
            Expr::Num(v) => {
                let v = crate::op::pow(*v, k.abs());
                if k > 0.0 {
                    self.num *= v;
                } else {
                    self.den *= v;
                }
                return;
            }
            Expr::Apply(MUL, _) => (k, Some(k)),
            Expr::Apply(DIV, _) => (k, Some(-k)),
            Expr::Apply(NEG, _) => {
                if k % 2.0 != 0.0 {
                    self.num = -self.num;
                }
                (k, None)
            }
            Expr::Apply(POW, a)
                if is_integer(&a[1])
                    && (k * a[1].as_num().unwrap_or(1.0)).abs() <= crate::op::POWI_LIMIT =>
            {
                (k * a[1].as_num().unwrap_or(1.0), None)
            }
            other => {
                if self.keep {
                    match self.factors.iter_mut().find(|(b, _)| b == other) {
                        Some(f) => f.1 += k,
                        None => self.factors.push((e.into_expr(), k)),
                    }
                }
                return;
            }
        };
        // The powers of the first operand and, if it is a factor too, of the second.
        let (ka, kb) = power;
        let [a, b] = e.operands();
        if let Some(a) = a {
            self.collect(a, ka);
        }
        if let (Some(b), Some(kb)) = (b, kb) {
            self.collect(b, kb);
        }
    }

    fn build(mut self) -> Expr {
        if self.num == 0.0 {
            return Expr::Num(0.0);
        }
        // A negative divisor (`x/-3`) gives its sign to the numerator, so the rules below
        // that keep only |den| and the sign of `num` keep the value.
        if self.den < 0.0 {
            (self.num, self.den) = (-self.num, -self.den);
        }
        let ratio = self.num / self.den;
        if ratio.fract() == 0.0 && ratio.is_finite() {
            (self.num, self.den) = (ratio, 1.0);
        } else if (self.den / self.num).fract() == 0.0
            && crate::expr::format_number(ratio).len() > 8
        {
            (self.num, self.den) = (self.num.signum(), (self.den / self.num).abs());
        }
        let negative = self.num < 0.0;
        let power = |b: Expr, p: f64| {
            if p == 1.0 {
                b
            } else {
                Expr::bin(Binary::Pow, b, Expr::Num(p))
            }
        };
        let mut top: Vec<Expr> = Vec::new();
        if self.num.abs() != 1.0 {
            top.push(Expr::Num(self.num.abs()));
        }
        let mut bottom: Vec<Expr> = Vec::new();
        if self.den != 1.0 {
            bottom.push(Expr::Num(self.den));
        }
        for (b, p) in self.factors.drain(..) {
            if p > 0.0 {
                top.push(power(b, p));
            } else if p < 0.0 {
                bottom.push(power(b, -p));
            }
        }
        if top.is_empty() {
            top.push(Expr::Num(1.0));
        }
        // The sign goes on the first factor, as a spreadsheet user writes it: `-2*x`, `-x*y`.
        if negative {
            let first = top.remove(0);
            top.insert(0, negate(first));
        }
        let chain = |items: Vec<Expr>| {
            items
                .into_iter()
                .reduce(|a, f| Expr::bin(Binary::Mul, a, f))
        };
        let top = chain(top).unwrap_or(Expr::Num(1.0));
        match chain(bottom) {
            Some(b) => Expr::bin(Binary::Div, top, b),
            None => top,
        }
    }
}

fn product(e: Expr) -> Expr {
    // The numbers first, without the factors: a product that cannot be written with them
    // stays as it is.
    let mut numbers = Product::new(false);
    numbers.collect(&e, 1.0);
    if !numbers.finite() {
        return e;
    }
    let mut p = Product::new(true);
    p.collect(e, 1.0);
    p.build()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::parse;
    use proptest::prelude::*;

    /// The simplifier without its shortcut for sums: every node simplified by [`node`].
    pub(crate) fn reference(e: &Expr) -> Expr {
        match e {
            Expr::Apply(op, args) => node(*op, args.iter().map(reference).collect()),
            _ => e.clone(),
        }
    }

    /// Terms a sum may meet: like terms, coefficients of either sign, constants, zeros,
    /// fractions, sums inside sums, and a coefficient that overflows.
    const TERMS: [&str; 24] = [
        "x",
        "2*x",
        "-x",
        "x*y",
        "y*x",
        "3",
        "-2",
        "0",
        "x/3",
        "-(y)",
        "MAX(x,0)",
        "c*MAX(a*x+b,0)",
        "x^2",
        "-x^2",
        "2*x*y",
        "0*x",
        "(x-x)",
        "(x+y)",
        "-(x-y)",
        "1/x",
        "x/(-3)",
        "1e308*10*x",
        "-3*y/2",
        "(2-y)",
    ];

    /// A sum of terms joined by `+` and `-`, some of it in parentheses.
    fn sum_text() -> impl Strategy<Value = String> {
        let term = prop::sample::select(TERMS.to_vec()).prop_map(String::from);
        let chain = |t: BoxedStrategy<String>| {
            (t.clone(), prop::collection::vec((any::<bool>(), t), 0..24)).prop_map(|(h, rest)| {
                rest.into_iter().fold(h, |acc, (plus, t)| {
                    format!("{acc}{}{t}", if plus { "+" } else { "-" })
                })
            })
        };
        let inner = chain(term.clone().boxed()).prop_map(|s| format!("({s})"));
        chain(prop_oneof![4 => term, 1 => inner].boxed())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// A sum that continues one written before it is written as the simplifier
        /// writes it without the shortcut, to the last node.
        #[test]
        fn sums_are_written_as_without_the_shortcut(s in sum_text()) {
            let e = parse(&s).unwrap();
            let (fast, slow) = (simplify(&e), reference(&e));
            prop_assert_eq!(&fast, &slow, "{}", s);
            prop_assert_eq!(fast.to_string(), slow.to_string());
        }
    }

    #[test]
    fn a_long_sum_is_written_as_it_was_given() {
        let s: String = (0..200).map(|i| format!("+c{i}*x")).collect();
        let e = parse(&s[1..]).unwrap();
        assert_eq!(simplify(&e), e);
        assert_eq!(reference(&e), e);
    }
}

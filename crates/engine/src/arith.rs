//! The arithmetic the operations' rules are written in.
//!
//! Each operation's value and local derivative is written once, in [`crate::op`], as a
//! function generic over these traits, and run on three kinds of numbers:
//!
//! - [`F64`]: plain `f64`, for the interpreter ([`crate::Tape`], [`crate::batch`]) and
//!   the tree evaluator;
//! - Cranelift values, for the native compiler (`gradsheet_jit`), which emits the same
//!   IEEE operations in the same order, and so computes the same bits;
//! - [`crate::Expr`] (derivative rules only), for the symbolic derivative, which is
//!   therefore the very formula reverse mode computes.
//!
//! [`Slopes`] is what a derivative rule may use: arithmetic, ordered comparisons, a
//! choice between two values, and whole operations (`ar.unary(Unary::Ln, x)`, which the
//! symbolic arithmetic writes as `LN(x)` and the others compute). [`Values`] adds what
//! only values need: square roots, the calls to Rust functions ([`Native1`], [`Native2`])
//! and NaN tests, which a formula cannot spell.

use crate::op::{Binary, Cmp, Native1, Native2, Unary};

/// The arithmetic of derivative rules (see the module docs).
pub trait Slopes {
    /// A number.
    type V: Clone;
    /// A condition.
    type B: Clone;
    /// The constant `v`.
    fn num(&mut self, v: f64) -> Self::V;
    /// `ln 10`, spelt `LN(10)` in a formula.
    fn ln10(&mut self) -> Self::V;
    /// `x + y`.
    fn add(&mut self, x: Self::V, y: Self::V) -> Self::V;
    /// `x - y`.
    fn sub(&mut self, x: Self::V, y: Self::V) -> Self::V;
    /// `x * y`.
    fn mul(&mut self, x: Self::V, y: Self::V) -> Self::V;
    /// `x / y`.
    fn div(&mut self, x: Self::V, y: Self::V) -> Self::V;
    /// `-x`.
    fn neg(&mut self, x: Self::V) -> Self::V;
    /// `x ^ n` for a whole `n`, as [`f64::powi`] computes it.
    fn powi(&mut self, x: Self::V, n: i32) -> Self::V;
    /// An ordered comparison (false when either side is NaN), or `Ne` (true then).
    fn cmp(&mut self, c: Cmp, x: Self::V, y: Self::V) -> Self::B;
    /// `x` where `b` holds, else `y`.
    fn select(&mut self, b: Self::B, x: Self::V, y: Self::V) -> Self::V;
    /// A one-argument operation applied to `x`.
    fn unary(&mut self, op: Unary, x: Self::V) -> Self::V;
    /// A two-argument operation applied to `x` and `y`.
    fn binary(&mut self, op: Binary, x: Self::V, y: Self::V) -> Self::V;
}

/// The arithmetic of values (see the module docs).
pub trait Values: Slopes {
    /// `|x|`.
    fn abs(&mut self, x: Self::V) -> Self::V;
    /// `√x`.
    fn sqrt(&mut self, x: Self::V) -> Self::V;
    /// A Rust function of one number (the same function wherever it runs).
    fn call1(&mut self, f: Native1, x: Self::V) -> Self::V;
    /// A Rust function of two numbers.
    fn call2(&mut self, f: Native2, x: Self::V, y: Self::V) -> Self::V;
    /// Whether `x` is NaN.
    fn is_nan(&mut self, x: Self::V) -> Self::B;
    /// `!b`.
    fn not(&mut self, b: Self::B) -> Self::B;
    /// `b && c`.
    fn and(&mut self, b: Self::B, c: Self::B) -> Self::B;
}

/// `x.powi(n)` as compiler-rt's `__powidf2` computes it — what `f64::powi` calls — in
/// any arithmetic: square and multiply from the lowest bit, the running product starting
/// with the first factor (`1 · base` is `base` exactly), and a final reciprocal for a
/// negative `n`. The compilers expand integer powers with it, so that their bits are the
/// interpreter's.
///
/// # Examples
///
/// ```
/// use gradsheet_engine::arith::{powi_by_squaring, F64};
/// for (x, n) in [(1.1f64, 7), (-3.0, 3), (0.9, -5), (2.0, 0)] {
///     assert_eq!(powi_by_squaring(&mut F64, x, n).to_bits(), x.powi(n).to_bits());
/// }
/// ```
pub fn powi_by_squaring<A: Slopes + ?Sized>(ar: &mut A, x: A::V, n: i32) -> A::V {
    let mut pow = n.unsigned_abs();
    let mut acc: Option<A::V> = None;
    let mut base = x;
    loop {
        if pow & 1 != 0 {
            acc = Some(match acc {
                None => base.clone(),
                Some(m) => ar.mul(m, base.clone()),
            });
        }
        pow >>= 1;
        if pow == 0 {
            break;
        }
        base = ar.mul(base.clone(), base);
    }
    let r = match acc {
        Some(r) => r,
        None => ar.num(1.0),
    };
    if n < 0 {
        let one = ar.num(1.0);
        ar.div(one, r)
    } else {
        r
    }
}

/// Plain `f64` arithmetic: the interpreter's.
#[derive(Clone, Copy, Debug, Default)]
pub struct F64;

impl Slopes for F64 {
    type V = f64;
    type B = bool;
    #[inline(always)]
    fn num(&mut self, v: f64) -> f64 {
        v
    }
    #[inline(always)]
    fn ln10(&mut self) -> f64 {
        std::f64::consts::LN_10
    }
    #[inline(always)]
    fn add(&mut self, x: f64, y: f64) -> f64 {
        x + y
    }
    #[inline(always)]
    fn sub(&mut self, x: f64, y: f64) -> f64 {
        x - y
    }
    #[inline(always)]
    fn mul(&mut self, x: f64, y: f64) -> f64 {
        x * y
    }
    #[inline(always)]
    fn div(&mut self, x: f64, y: f64) -> f64 {
        x / y
    }
    #[inline(always)]
    fn neg(&mut self, x: f64) -> f64 {
        -x
    }
    #[inline(always)]
    fn powi(&mut self, x: f64, n: i32) -> f64 {
        x.powi(n)
    }
    #[inline(always)]
    fn cmp(&mut self, c: Cmp, x: f64, y: f64) -> bool {
        c.holds(x, y)
    }
    #[inline(always)]
    fn select(&mut self, b: bool, x: f64, y: f64) -> f64 {
        if b {
            x
        } else {
            y
        }
    }
    #[inline(always)]
    fn unary(&mut self, op: Unary, x: f64) -> f64 {
        op.value(self, x)
    }
    #[inline(always)]
    fn binary(&mut self, op: Binary, x: f64, y: f64) -> f64 {
        op.value(self, x, y)
    }
}

impl Values for F64 {
    #[inline(always)]
    fn abs(&mut self, x: f64) -> f64 {
        x.abs()
    }
    #[inline(always)]
    fn sqrt(&mut self, x: f64) -> f64 {
        x.sqrt()
    }
    #[inline(always)]
    fn call1(&mut self, f: Native1, x: f64) -> f64 {
        f.eval(x)
    }
    #[inline(always)]
    fn call2(&mut self, f: Native2, x: f64, y: f64) -> f64 {
        f.eval(x, y)
    }
    #[inline(always)]
    fn is_nan(&mut self, x: f64) -> bool {
        x.is_nan()
    }
    #[inline(always)]
    fn not(&mut self, b: bool) -> bool {
        !b
    }
    #[inline(always)]
    fn and(&mut self, b: bool, c: bool) -> bool {
        b && c
    }
}

/// The arithmetic of what a result was computed from: each number is a set of inputs
/// (bit `i` for input `i`), every operation the union of its operands' sets, a
/// constant the empty set. Running a rule on it says which of its inputs the rule
/// reads — what a compiler keeps for the reverse pass, for instance, is only what the
/// operations' derivative rules read.
///
/// # Examples
///
/// ```
/// use gradsheet_engine::arith::{Reads, Term};
/// use gradsheet_engine::op::Binary;
/// // `a + b` passes its adjoint on unchanged: neither operand is read.
/// let [ta, tb] = Binary::Add.contributions(&mut Reads, [Some(0), Some(0)], 0b01, 0b10, 0b100);
/// assert_eq!((ta, tb), (Some(Term::Plus(0)), Some(Term::Plus(0))));
/// // `a · b`: each operand's slope is the other one.
/// let [ta, tb] = Binary::Mul.contributions(&mut Reads, [Some(0), Some(0)], 0b01, 0b10, 0b100);
/// assert_eq!((ta, tb), (Some(Term::Plus(0b10)), Some(Term::Plus(0b01))));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Reads;

impl Slopes for Reads {
    type V = u32;
    type B = u32;
    fn num(&mut self, _: f64) -> u32 {
        0
    }
    fn ln10(&mut self) -> u32 {
        0
    }
    fn add(&mut self, x: u32, y: u32) -> u32 {
        x | y
    }
    fn sub(&mut self, x: u32, y: u32) -> u32 {
        x | y
    }
    fn mul(&mut self, x: u32, y: u32) -> u32 {
        x | y
    }
    fn div(&mut self, x: u32, y: u32) -> u32 {
        x | y
    }
    fn neg(&mut self, x: u32) -> u32 {
        x
    }
    fn powi(&mut self, x: u32, _: i32) -> u32 {
        x
    }
    fn cmp(&mut self, _: Cmp, x: u32, y: u32) -> u32 {
        x | y
    }
    fn select(&mut self, b: u32, x: u32, y: u32) -> u32 {
        b | x | y
    }
    fn unary(&mut self, _: Unary, x: u32) -> u32 {
        x
    }
    fn binary(&mut self, _: Binary, x: u32, y: u32) -> u32 {
        x | y
    }
}

impl Values for Reads {
    fn abs(&mut self, x: u32) -> u32 {
        x
    }
    fn sqrt(&mut self, x: u32) -> u32 {
        x
    }
    fn call1(&mut self, _: Native1, x: u32) -> u32 {
        x
    }
    fn call2(&mut self, _: Native2, x: u32, y: u32) -> u32 {
        x | y
    }
    fn is_nan(&mut self, x: u32) -> u32 {
        x
    }
    fn not(&mut self, b: u32) -> u32 {
        b
    }
    fn and(&mut self, b: u32, c: u32) -> u32 {
        b | c
    }
}

/// One contribution of a derivative rule: a term added to an adjoint (or to a
/// derivative), or subtracted from it. `Minus` keeps the interpreter's `adj -= c`, which
/// is `adj + (-c)` bit for bit, but reads as a subtraction in a formula.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Term<V> {
    /// `+ v`.
    Plus(V),
    /// `- v`.
    Minus(V),
}

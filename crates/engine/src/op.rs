//! The closed list of primitives, each defined once.
//!
//! An operation is a variant of [`Unary`], [`Binary`] (whose comparisons are [`Cmp`]),
//! [`Fold`] (`MAX`, `MIN`: any number of arguments, folded two at a time) or [`Op::If`],
//! so its arity is in its type. Everything about it is reachable from that variant, each
//! concern one exhaustive `match` in this file:
//!
//! - its spelling in every notation ([`Unary::spelling`], [`Unary::excel_form`]) and its
//!   precedence;
//! - its value, written once over the arithmetic of [`crate::arith`]
//!   ([`Unary::value`]), which the interpreter runs on `f64` and the native compiler
//!   emits as machine code, calling the same Rust functions ([`Native1`], [`Native2`])
//!   for what it does not inline;
//! - its local derivative as the contribution to an operand's adjoint
//!   ([`Unary::contribution`], [`Binary::contributions`]), which reverse mode runs on
//!   `f64`, the native compiler emits, and the symbolic derivative applies to `Expr`s
//!   (by linearity, the derivative of `op(u)` is the contribution with the adjoint
//!   replaced by `du`).
//!
//! Adding an operation therefore touches this file (and, for a function of its own, the
//! list of [`Native1`]), and fails to compile until every concern handles it.
//!
//! # Kinks
//!
//! Where a function has a switch point, the engine uses one rule everywhere, and the
//! symbolic and automatic derivatives agree on it:
//!
//! *The derivative at a switch point is the derivative of the piece the value is taken
//! from, and ties go to the first argument*, as Excel's left-to-right scan picks it.
//!
//! - `MAX(u, v)` takes its value (and its derivative) from `u` when `u >= v`, else from
//!   `v`; so `MAX(a*x+b, 0)` has slope `x` in `a` at `a*x+b = 0`, and `MAX(0, a*x+b)` has
//!   slope 0 there. `MIN` mirrors it with `u <= v`. `MAX(u, v, w)` is `MAX(u, MAX(v, w))`
//!   (the same value, and the derivative `IF(u>=MAX(v,w), du, IF(v>=w, dv, dw))`).
//! - `RELU(u)` is exactly `MAX(u, 0)` (and is exported to Excel as that), so its slope at
//!   `u = 0` is 1, as in candle. PyTorch uses 0; the difference only shows when a
//!   pre-activation is exactly zero.
//! - `ABS(u)` has slope `SIGN(u)`, which is 0 at `u = 0` (PyTorch's choice too): the
//!   value is taken from both pieces at once, and 0 is the average of their slopes.
//! - `IF(c, a, b)` has the derivative of the branch it takes; the condition is not
//!   differentiated (comparisons are flat almost everywhere).
//!
//! # Zero adjoints
//!
//! *An adjoint that is exactly zero contributes zero to its operands, whatever the local
//! slope* (even an infinite one, or NaN). `c*(SQRT(a-1)>0)+b` at `a = 1`: the comparison
//! passes nothing back, so `SQRT`'s adjoint is 0, and `a`'s derivative is 0, not
//! `0·∞ = NaN`. Reverse mode skips every instruction whose adjoint is zero (the branch an
//! `IF`, `MAX`, `MIN` or `RELU` did not take, a comparison, a factor whose other factor is
//! 0), and the native compiler, which leaves that test out for speed, hands any step whose
//! gradient it finds NaN to the interpreter. The symbolic derivative applies the rule to
//! the zeros it can see in the formula: a derivative that is structurally zero (a
//! comparison, `SIGN`, a name that does not occur) contributes nothing, and a zero branch
//! of an `IF` stays an exact zero when it is multiplied by a factor that may be infinite
//! (`IF(c, du·s, 0)` rather than `IF(c, du, 0)·s`, see [`mod@crate::simplify`]).
//!
//! # NaN
//!
//! A NaN argument makes `MAX` and `MIN` NaN, as Excel's `#NUM!` does (`MIN(LN(-1),1)`);
//! an `IF` whose condition is NaN is NaN, and its derivative is NaN on both branches.
//! Comparisons with NaN are false (`NaN>0` is 0), and `MAX` and `MIN` route their
//! derivative by the comparison the symbolic derivative prints (`u>=v`), so both agree
//! where a value is NaN too.

use std::fmt;

use crate::arith::{Slopes, Term, Values};
use crate::expr::Expr;

/// The most arguments a function takes, as in Excel.
pub const MAX_ARGS: usize = 255;

/// How an operation is written in one notation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// A function call: `NAME(a, b)`.
    Function(&'static str),
    /// A prefix operator: `-a`.
    Prefix(&'static str),
    /// An infix operator with this printed symbol (precedence from [`Binary::infix_prec`]).
    Infix(&'static str),
    /// `a` raised to `b`, with small whole exponents as superscripts (`x²`).
    Power,
    /// `|a|`.
    Bars,
    /// `√a`.
    Radical,
    /// `(a if c else b)`.
    Conditional,
}

/// How an operation is written: in gradsheet's formulas (Excel's syntax), in mathematics,
/// and in the fully parenthesised prefix form of the parser's tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spelling {
    /// In formulas. A function that Excel lacks has an [`Unary::excel_form`] as well.
    pub formula: Form,
    /// In mathematics.
    pub math: Form,
    /// In s-expressions (`(neg x)`, `(LOG10 p)`).
    pub sexpr: &'static str,
}

/// Binding power of a printed operation: higher binds tighter. Excel's order, lowest
/// first: comparisons, `+ -`, `* /`, `^`, unary minus. The parser's binding powers are
/// derived from these (`2·p - 1`).
pub mod prec {
    /// Comparisons.
    pub const CMP: u8 = 1;
    /// `+` and `-`.
    pub const ADD: u8 = 2;
    /// `*` and `/`.
    pub const MUL: u8 = 3;
    /// `^`.
    pub const POW: u8 = 4;
    /// Unary minus.
    pub const NEG: u8 = 5;
    /// Numbers, names, function calls.
    pub const ATOM: u8 = 6;
}

/// A comparison: 1 when it holds, 0 when not (Excel's TRUE and FALSE in arithmetic).
/// Flat: its derivative is 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cmp {
    /// `a < b`.
    Lt,
    /// `a <= b`.
    Le,
    /// `a > b`.
    Gt,
    /// `a >= b`.
    Ge,
    /// `a = b` (exact comparison of doubles).
    Eq,
    /// `a <> b` (true when either side is NaN, as IEEE's `!=`).
    Ne,
}

impl Cmp {
    /// Every comparison.
    pub const ALL: [Cmp; 6] = [Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge, Cmp::Eq, Cmp::Ne];

    /// Whether `x cmp y` holds.
    #[inline(always)]
    pub fn holds(self, x: f64, y: f64) -> bool {
        match self {
            Cmp::Lt => x < y,
            Cmp::Le => x <= y,
            Cmp::Gt => x > y,
            Cmp::Ge => x >= y,
            Cmp::Eq => x == y,
            Cmp::Ne => x != y,
        }
    }

    /// The symbol in formulas and in mathematics.
    fn symbols(self) -> (&'static str, &'static str) {
        match self {
            Cmp::Lt => ("<", " < "),
            Cmp::Le => ("<=", " ≤ "),
            Cmp::Gt => (">", " > "),
            Cmp::Ge => (">=", " ≥ "),
            Cmp::Eq => ("=", " = "),
            Cmp::Ne => ("<>", " ≠ "),
        }
    }
}

/// Work done with an operation's value as a plain `f64` function of its own type, one
/// copy per operation (see [`Unary::with_value_fn`]).
pub trait WithFn1 {
    /// The result.
    type Out;
    /// Does the work with `value`.
    fn call(self, value: impl Fn(f64) -> f64 + Copy) -> Self::Out;
}

/// As [`WithFn1`], for two arguments.
pub trait WithFn2 {
    /// The result.
    type Out;
    /// Does the work with `value`.
    fn call(self, value: impl Fn(f64, f64) -> f64 + Copy) -> Self::Out;
}

/// An operation of one argument.
///
/// # Examples
///
/// ```
/// use gradsheet_engine::arith::F64;
/// use gradsheet_engine::op::Unary;
/// assert_eq!(Unary::Relu.value(&mut F64, -2.0), 0.0);
/// assert!(Unary::Relu.value(&mut F64, f64::NAN).is_nan()); // MAX(NaN, 0) is NaN
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unary {
    /// Unary minus. In Excel it binds tighter than `^`: `-2^2` is 4.
    Neg,
    /// `ABS(a)`; slope `SIGN(a)`, 0 at 0.
    Abs,
    /// `SIGN(a)`: -1, 0 or 1 (NaN stays NaN). Flat.
    Sign,
    /// `EXP(a)`.
    Exp,
    /// `LN(a)`, the natural logarithm.
    Ln,
    /// `LOG(a)` with one argument: base 10, as in Excel (and in fast.ai's cross-entropy sheets).
    Log10,
    /// `SQRT(a)`.
    Sqrt,
    /// `TANH(a)`.
    Tanh,
    /// `RELU(a)`: not an Excel function; exactly `MAX(a, 0)`.
    Relu,
    /// `SIGMOID(a)` = `1/(1+EXP(-a))`: not an Excel function; exported as that formula.
    Sigmoid,
    /// `SOFTPLUS(a)` = `LN(1+EXP(a))`, a smooth ReLU with slope `SIGMOID(a)`: not an
    /// Excel function; exported as that formula.
    Softplus,
    /// `INT(a)`: the largest integer not above `a` (Excel's INT rounds down, so
    /// `INT(-2.5)` is -3). Flat: its slope is 0 wherever it has one.
    Int,
}

impl Unary {
    /// Every one-argument operation.
    pub const ALL: [Unary; 12] = [
        Unary::Neg,
        Unary::Abs,
        Unary::Sign,
        Unary::Exp,
        Unary::Ln,
        Unary::Log10,
        Unary::Sqrt,
        Unary::Tanh,
        Unary::Relu,
        Unary::Sigmoid,
        Unary::Softplus,
        Unary::Int,
    ];

    /// How it is written.
    pub fn spelling(self) -> Spelling {
        let f = |formula: &'static str, math: &'static str| Spelling {
            formula: Form::Function(formula),
            math: Form::Function(math),
            sexpr: formula,
        };
        match self {
            Unary::Neg => Spelling {
                formula: Form::Prefix("-"),
                math: Form::Prefix("−"),
                sexpr: "neg",
            },
            Unary::Abs => Spelling {
                math: Form::Bars,
                ..f("ABS", "abs")
            },
            Unary::Sign => f("SIGN", "sign"),
            Unary::Exp => f("EXP", "exp"),
            Unary::Ln => f("LN", "ln"),
            Unary::Log10 => Spelling {
                sexpr: "LOG10",
                ..f("LOG", "log₁₀")
            },
            Unary::Sqrt => Spelling {
                math: Form::Radical,
                ..f("SQRT", "sqrt")
            },
            Unary::Tanh => f("TANH", "tanh"),
            Unary::Relu => f("RELU", "relu"),
            Unary::Sigmoid => f("SIGMOID", "σ"),
            Unary::Softplus => f("SOFTPLUS", "softplus"),
            Unary::Int => f("INT", "floor"),
        }
    }

    /// For a function Excel does not have, the formula it is exported as, in terms of
    /// [`Unary::ARG`] (printing puts the argument in its place).
    pub fn excel_form(self) -> Option<Expr> {
        let u = || Expr::var(Self::ARG);
        match self {
            Unary::Relu => Some(Expr::fold(Fold::Max, vec![u(), Expr::Num(0.0)])),
            Unary::Sigmoid => Some(Expr::bin(
                Binary::Div,
                Expr::Num(1.0),
                Expr::bin(
                    Binary::Add,
                    Expr::Num(1.0),
                    Expr::un(Unary::Exp, Expr::un(Unary::Neg, u())),
                ),
            )),
            Unary::Softplus => Some(Expr::un(
                Unary::Ln,
                Expr::bin(Binary::Add, Expr::Num(1.0), Expr::un(Unary::Exp, u())),
            )),
            Unary::Neg
            | Unary::Abs
            | Unary::Sign
            | Unary::Exp
            | Unary::Ln
            | Unary::Log10
            | Unary::Sqrt
            | Unary::Tanh
            | Unary::Int => None,
        }
    }

    /// The name standing for the argument in an [`Unary::excel_form`] (no formula can
    /// spell it).
    pub const ARG: &'static str = "#";

    /// Whether the derivative is zero wherever it exists (nothing flows back).
    pub fn is_flat(self) -> bool {
        self.contribution(&mut crate::arith::F64, 1.0, 1.0, 1.0)
            .is_none()
    }

    /// The value at `a`.
    #[inline(always)]
    pub fn value<A: Values>(self, ar: &mut A, a: A::V) -> A::V {
        match self {
            Unary::Neg => ar.neg(a),
            Unary::Abs => ar.abs(a),
            Unary::Sign => {
                // Excel's SIGN: -1, 0 or 1, and `a * 0` (0 or NaN) between.
                let zero = ar.num(0.0);
                let gt = ar.cmp(Cmp::Gt, a.clone(), zero.clone());
                let lt = ar.cmp(Cmp::Lt, a.clone(), zero.clone());
                let (one, minus) = (ar.num(1.0), ar.num(-1.0));
                let az = ar.mul(a, zero);
                let inner = ar.select(lt, minus, az);
                ar.select(gt, one, inner)
            }
            Unary::Exp => ar.call1(Native1::Exp, a),
            Unary::Ln => ar.call1(Native1::Ln, a),
            Unary::Log10 => ar.call1(Native1::Log10, a),
            Unary::Sqrt => ar.sqrt(a),
            Unary::Tanh => ar.call1(Native1::Tanh, a),
            Unary::Relu => {
                let zero = ar.num(0.0);
                Fold::Max.value(ar, a, zero)
            }
            Unary::Sigmoid => ar.call1(Native1::Sigmoid, a),
            Unary::Softplus => ar.call1(Native1::Softplus, a),
            Unary::Int => ar.call1(Native1::Floor, a),
        }
    }

    /// Calls `w` with this operation's value as a function of its own type, so that a
    /// loop over many values compiles (and vectorises) as if written for this one
    /// operation (the interpreter's lanes, [`crate::batch`]).
    #[inline(always)]
    pub fn with_value_fn<W: WithFn1>(self, w: W) -> W::Out {
        macro_rules! each {
            ($($v:ident),*) => {
                match self {
                    $(Unary::$v => w.call(|x| Unary::$v.value(&mut crate::arith::F64, x)),)*
                }
            };
        }
        each!(Neg, Abs, Sign, Exp, Ln, Log10, Sqrt, Tanh, Relu, Sigmoid, Softplus, Int)
    }

    /// What an adjoint `g` contributes to the argument's, where the argument is `a` and
    /// the value `out`; `None` where nothing flows back. With `g` replaced by `du`, the
    /// derivative of `op(u)`.
    #[inline(always)]
    pub fn contribution<A: Slopes>(
        self,
        ar: &mut A,
        g: A::V,
        a: A::V,
        out: A::V,
    ) -> Option<Term<A::V>> {
        let times = |ar: &mut A, slope: A::V| Some(Term::Plus(ar.mul(slope, g.clone())));
        match self {
            Unary::Neg => Some(Term::Minus(g)),
            Unary::Abs => {
                let s = ar.unary(Unary::Sign, a);
                times(ar, s)
            }
            Unary::Sign | Unary::Int => None,
            Unary::Exp => times(ar, out),
            Unary::Ln => {
                let one = ar.num(1.0);
                let s = ar.div(one, a);
                times(ar, s)
            }
            Unary::Log10 => {
                let (one, l) = (ar.num(1.0), ar.ln10());
                let d = ar.mul(a, l);
                let s = ar.div(one, d);
                times(ar, s)
            }
            Unary::Sqrt => {
                let (one, two) = (ar.num(1.0), ar.num(2.0));
                let d = ar.mul(two, out);
                let s = ar.div(one, d);
                times(ar, s)
            }
            Unary::Tanh => {
                let one = ar.num(1.0);
                let oo = ar.mul(out.clone(), out);
                let s = ar.sub(one, oo);
                times(ar, s)
            }
            Unary::Relu => {
                let zero = ar.num(0.0);
                let [to_a, _] = Fold::Max.contributions(ar, [Some(g), None], a, zero);
                to_a
            }
            Unary::Sigmoid => {
                let one = ar.num(1.0);
                let om = ar.sub(one, out.clone());
                let s = ar.mul(out, om);
                times(ar, s)
            }
            Unary::Softplus => {
                let s = ar.unary(Unary::Sigmoid, a);
                times(ar, s)
            }
        }
    }
}

/// An operation of two arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Binary {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b`.
    Div,
    /// `a ^ b` and `POWER(a, b)`. A small integer exponent is evaluated by repeated
    /// multiplication, as Excel does (`1-0.9^4` is `0.3438999999999999`, not `0.3439`).
    Pow,
    /// `LOG(a, base)`.
    Log,
    /// `ROUND(a, digits)`: `a` rounded to `digits` decimal places (to tens, hundreds… when
    /// negative), halves away from zero as Excel does. Flat in both arguments.
    Round,
    /// A comparison.
    Cmp(Cmp),
}

impl Binary {
    /// Every two-argument operation.
    pub const ALL: [Binary; 13] = [
        Binary::Add,
        Binary::Sub,
        Binary::Mul,
        Binary::Div,
        Binary::Pow,
        Binary::Log,
        Binary::Round,
        Binary::Cmp(Cmp::Lt),
        Binary::Cmp(Cmp::Le),
        Binary::Cmp(Cmp::Gt),
        Binary::Cmp(Cmp::Ge),
        Binary::Cmp(Cmp::Eq),
        Binary::Cmp(Cmp::Ne),
    ];

    /// How it is written.
    pub fn spelling(self) -> Spelling {
        let infix = |formula: &'static str, math: &'static str| Spelling {
            formula: Form::Infix(formula),
            math: Form::Infix(math),
            sexpr: formula,
        };
        match self {
            Binary::Add => infix("+", " + "),
            Binary::Sub => infix("-", " − "),
            Binary::Mul => infix("*", "·"),
            Binary::Div => infix("/", "/"),
            Binary::Pow => Spelling {
                math: Form::Power,
                ..infix("^", "^")
            },
            Binary::Log => Spelling {
                formula: Form::Function("LOG"),
                math: Form::Function("log"),
                sexpr: "LOG",
            },
            Binary::Round => Spelling {
                formula: Form::Function("ROUND"),
                math: Form::Function("round"),
                sexpr: "ROUND",
            },
            Binary::Cmp(c) => {
                let (f, m) = c.symbols();
                infix(f, m)
            }
        }
    }

    /// The name under which it is also called as a function (`POWER(a, b)`), if any.
    fn function_alias(self) -> Option<&'static str> {
        match self {
            Binary::Pow => Some("POWER"),
            Binary::Add
            | Binary::Sub
            | Binary::Mul
            | Binary::Div
            | Binary::Log
            | Binary::Round
            | Binary::Cmp(_) => None,
        }
    }

    /// The precedence of an infix operator; `None` for a function.
    pub fn infix_prec(self) -> Option<u8> {
        match self {
            Binary::Add | Binary::Sub => Some(prec::ADD),
            Binary::Mul | Binary::Div => Some(prec::MUL),
            Binary::Pow => Some(prec::POW),
            Binary::Cmp(_) => Some(prec::CMP),
            Binary::Log | Binary::Round => None,
        }
    }

    /// The value at `(a, b)`.
    #[inline(always)]
    pub fn value<A: Values>(self, ar: &mut A, a: A::V, b: A::V) -> A::V {
        match self {
            Binary::Add => ar.add(a, b),
            Binary::Sub => ar.sub(a, b),
            Binary::Mul => ar.mul(a, b),
            Binary::Div => ar.div(a, b),
            Binary::Pow => ar.call2(Native2::Pow, a, b),
            Binary::Log => {
                let la = ar.call1(Native1::Ln, a);
                let lb = ar.call1(Native1::Ln, b);
                ar.div(la, lb)
            }
            Binary::Round => ar.call2(Native2::Round, a, b),
            Binary::Cmp(c) => {
                let t = ar.cmp(c, a, b);
                let (one, zero) = (ar.num(1.0), ar.num(0.0));
                ar.select(t, one, zero)
            }
        }
    }

    /// Calls `w` with this operation's value as a function of its own type (see
    /// [`Unary::with_value_fn`]).
    #[inline(always)]
    pub fn with_value_fn<W: WithFn2>(self, w: W) -> W::Out {
        macro_rules! each {
            ($($v:pat => $op:expr),*) => {
                match self {
                    $($v => w.call(|x, y| $op.value(&mut crate::arith::F64, x, y)),)*
                }
            };
        }
        each!(
            Binary::Add => Binary::Add,
            Binary::Sub => Binary::Sub,
            Binary::Mul => Binary::Mul,
            Binary::Div => Binary::Div,
            Binary::Pow => Binary::Pow,
            Binary::Log => Binary::Log,
            Binary::Round => Binary::Round,
            Binary::Cmp(Cmp::Lt) => Binary::Cmp(Cmp::Lt),
            Binary::Cmp(Cmp::Le) => Binary::Cmp(Cmp::Le),
            Binary::Cmp(Cmp::Gt) => Binary::Cmp(Cmp::Gt),
            Binary::Cmp(Cmp::Ge) => Binary::Cmp(Cmp::Ge),
            Binary::Cmp(Cmp::Eq) => Binary::Cmp(Cmp::Eq),
            Binary::Cmp(Cmp::Ne) => Binary::Cmp(Cmp::Ne)
        )
    }

    /// What the adjoints `g` (one per operand; `None` where the operand's is not
    /// wanted) contribute to the operands', at `(a, b)` with value `out`. With `g`
    /// replaced by `[du, dv]`, the two terms of the derivative of `op(u, v)`.
    #[inline(always)]
    pub fn contributions<A: Slopes>(
        self,
        ar: &mut A,
        g: [Option<A::V>; 2],
        a: A::V,
        b: A::V,
        out: A::V,
    ) -> [Option<Term<A::V>>; 2] {
        let [ga, gb] = g;
        match self {
            Binary::Add => [ga.map(Term::Plus), gb.map(Term::Plus)],
            Binary::Sub => [ga.map(Term::Plus), gb.map(Term::Minus)],
            Binary::Mul => [
                ga.map(|g| Term::Plus(ar.mul(g, b.clone()))),
                gb.map(|g| Term::Plus(ar.mul(a, g))),
            ],
            Binary::Div => [
                ga.map(|g| Term::Plus(ar.div(g, b.clone()))),
                gb.map(|g| {
                    let ag = ar.mul(a, g);
                    let bb = ar.mul(b.clone(), b);
                    Term::Minus(ar.div(ag, bb))
                }),
            ],
            Binary::Pow => [
                ga.map(|g| {
                    let one = ar.num(1.0);
                    let bm1 = ar.sub(b.clone(), one);
                    let p = ar.binary(Binary::Pow, a.clone(), bm1);
                    let slope = ar.mul(b.clone(), p);
                    Term::Plus(ar.mul(slope, g))
                }),
                gb.map(|g| {
                    let la = ar.unary(Unary::Ln, a);
                    let slope = ar.mul(out, la);
                    Term::Plus(ar.mul(slope, g))
                }),
            ],
            Binary::Log => {
                if ga.is_none() && gb.is_none() {
                    return [None, None];
                }
                let lb = ar.unary(Unary::Ln, b.clone());
                [
                    ga.map(|g| {
                        let d = ar.mul(a, lb.clone());
                        Term::Plus(ar.div(g, d))
                    }),
                    gb.map(|g| {
                        let og = ar.mul(out, g);
                        let d = ar.mul(b, lb);
                        Term::Minus(ar.div(og, d))
                    }),
                ]
            }
            Binary::Round | Binary::Cmp(_) => [None, None],
        }
    }
}

/// `MAX` or `MIN`: any number of arguments (up to [`MAX_ARGS`]), folded two at a time
/// from the right (`MAX(u, v, w)` = `MAX(u, MAX(v, w))`: the same value as Excel's scan,
/// and the form the symbolic derivative takes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fold {
    /// `MAX(a, ...)`; ties go to the first argument (see the module docs).
    Max,
    /// `MIN(a, ...)`; ties go to the first argument.
    Min,
}

impl Fold {
    /// Both folds.
    pub const ALL: [Fold; 2] = [Fold::Max, Fold::Min];

    /// How it is written.
    pub fn spelling(self) -> Spelling {
        let (f, m) = match self {
            Fold::Max => ("MAX", "max"),
            Fold::Min => ("MIN", "min"),
        };
        Spelling {
            formula: Form::Function(f),
            math: Form::Function(m),
            sexpr: f,
        }
    }

    /// The comparison under which the first argument is the one taken, value and
    /// derivative (`u >= v` for `MAX`).
    pub fn route(self) -> Cmp {
        match self {
            Fold::Max => Cmp::Ge,
            Fold::Min => Cmp::Le,
        }
    }

    /// The value of two arguments: the one [`Fold::route`] takes, or NaN if either is.
    #[inline(always)]
    pub fn value<A: Values>(self, ar: &mut A, a: A::V, b: A::V) -> A::V {
        // `!(a < b)` is `a >= b` or `a` is NaN; `b` NaN takes `b`. So a NaN argument
        // gives NaN, and ties go to `a`.
        let beaten = match self {
            Fold::Max => Cmp::Lt,
            Fold::Min => Cmp::Gt,
        };
        let lose = ar.cmp(beaten, a.clone(), b.clone());
        let keep = ar.not(lose);
        let nan_b = ar.is_nan(b.clone());
        let b_ok = ar.not(nan_b);
        let first = ar.and(keep, b_ok);
        ar.select(first, a, b)
    }

    /// Calls `w` with this fold's value of two arguments as a function of its own type
    /// (see [`Unary::with_value_fn`]).
    #[inline(always)]
    pub fn with_value_fn<W: WithFn2>(self, w: W) -> W::Out {
        match self {
            Fold::Max => w.call(|x, y| Fold::Max.value(&mut crate::arith::F64, x, y)),
            Fold::Min => w.call(|x, y| Fold::Min.value(&mut crate::arith::F64, x, y)),
        }
    }

    /// What the adjoints `g` contribute: all of it to the argument [`Fold::route`]
    /// takes, nothing to the other.
    #[inline(always)]
    pub fn contributions<A: Slopes>(
        self,
        ar: &mut A,
        g: [Option<A::V>; 2],
        a: A::V,
        b: A::V,
    ) -> [Option<Term<A::V>>; 2] {
        let [ga, gb] = g;
        let first = ar.cmp(self.route(), a, b);
        [
            ga.map(|g| {
                let zero = ar.num(0.0);
                Term::Plus(ar.select(first.clone(), g, zero))
            }),
            gb.map(|g| {
                let zero = ar.num(0.0);
                Term::Plus(ar.select(first, zero, g))
            }),
        ]
    }
}

/// `IF(c, a, b)`: `a` where `c` is non-zero, `b` where it is zero, NaN where it is NaN.
#[inline(always)]
pub fn select_value<A: Values>(ar: &mut A, c: A::V, a: A::V, b: A::V) -> A::V {
    let nan = ar.is_nan(c.clone());
    let zero = ar.num(0.0);
    let taken = ar.cmp(Cmp::Ne, c, zero);
    let pick = ar.select(taken, a, b);
    let n = ar.num(f64::NAN);
    ar.select(nan, n, pick)
}

/// What `IF(c, a, b)`'s adjoint `g` contributes to its branches (`None` where not
/// wanted): `g` to the branch taken, 0 to the other, NaN to both where `c` is NaN.
#[inline(always)]
pub fn select_contributions<A: Values>(
    ar: &mut A,
    g: A::V,
    c: A::V,
    want: [bool; 2],
) -> [Option<A::V>; 2] {
    let nan = ar.is_nan(c.clone());
    let zero = ar.num(0.0);
    let taken = ar.cmp(Cmp::Ne, c, zero.clone());
    let n = ar.num(f64::NAN);
    let mut branch = |first: bool| {
        let (x, y) = if first {
            (g.clone(), zero.clone())
        } else {
            (zero.clone(), g.clone())
        };
        let pick = ar.select(taken.clone(), x, y);
        ar.select(nan.clone(), n.clone(), pick)
    };
    [
        want[0].then(|| branch(true)),
        want[1].then(|| branch(false)),
    ]
}

/// `a ^ n` for a whole constant `n` (the tape's `Powi`): [`f64::powi`], as Excel does.
#[inline(always)]
pub fn powi_value<A: Values>(ar: &mut A, a: A::V, n: i32) -> A::V {
    ar.powi(a, n)
}

/// What `a ^ n`'s adjoint `g` contributes to `a`: `n·a^(n-1)·g`.
#[inline(always)]
pub fn powi_contribution<A: Slopes>(ar: &mut A, g: A::V, a: A::V, n: i32) -> Term<A::V> {
    let nf = ar.num(n as f64);
    let p = ar.powi(a, n - 1);
    let slope = ar.mul(nf, p);
    Term::Plus(ar.mul(slope, g))
}

/// An operation of the formula language: its arity is its kind.
///
/// # Examples
///
/// ```
/// use gradsheet_engine::op::{Fold, Op};
/// assert_eq!(Op::function("max", 3), Ok(Some(Op::Fold(Fold::Max))));
/// assert!(Op::function("max", 300).is_err()); // at most 255 arguments, as in Excel
/// assert_eq!(Op::Fold(Fold::Max).name(), "MAX");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// One argument.
    Unary(Unary),
    /// Two arguments.
    Binary(Binary),
    /// One or more arguments.
    Fold(Fold),
    /// `IF(cond, a, b)`, `b` defaulting to 0.
    If,
}

/// How many arguments an operation takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    /// Exactly this many.
    Exactly(usize),
    /// Between the two bounds, inclusive.
    Range(usize, usize),
}

impl Arity {
    /// Whether `n` arguments are accepted.
    pub fn accepts(self, n: usize) -> bool {
        match self {
            Arity::Exactly(k) => n == k,
            Arity::Range(lo, hi) => (lo..=hi).contains(&n),
        }
    }

    fn bounds(self) -> (usize, usize) {
        match self {
            Arity::Exactly(k) => (k, k),
            Arity::Range(lo, hi) => (lo, hi),
        }
    }
}

impl fmt::Display for Arity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        match *self {
            Arity::Exactly(k) => write!(f, "{k} argument{}", plural(k)),
            Arity::Range(lo, hi) => write!(f, "{lo} to {hi} arguments"),
        }
    }
}

/// A function called with a number of arguments no operation of that name takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrongArgCount {
    /// What the name accepts.
    pub expected: Arity,
}

impl Op {
    /// Every operation.
    pub fn all() -> impl Iterator<Item = Op> {
        let unary = Unary::ALL.into_iter().map(Op::Unary);
        let binary = Binary::ALL.into_iter().map(Op::Binary);
        let fold = Fold::ALL.into_iter().map(Op::Fold);
        unary.chain(binary).chain(fold).chain([Op::If])
    }

    /// How it is written.
    pub fn spelling(self) -> Spelling {
        match self {
            Op::Unary(u) => u.spelling(),
            Op::Binary(b) => b.spelling(),
            Op::Fold(f) => f.spelling(),
            Op::If => Spelling {
                formula: Form::Function("IF"),
                math: Form::Conditional,
                sexpr: "IF",
            },
        }
    }

    /// The spelling in formulas: an infix symbol for operators, an upper-case name for
    /// functions.
    pub fn name(self) -> &'static str {
        match self.spelling().formula {
            Form::Function(s) | Form::Prefix(s) | Form::Infix(s) => s,
            Form::Power => "^",
            Form::Bars | Form::Radical | Form::Conditional => self.spelling().sexpr,
        }
    }

    /// The names under which it is called as a function.
    fn function_names(self) -> impl Iterator<Item = &'static str> {
        let own = match self.spelling().formula {
            Form::Function(s) => Some(s),
            _ => None,
        };
        let alias = match self {
            Op::Binary(b) => b.function_alias(),
            Op::Unary(_) | Op::Fold(_) | Op::If => None,
        };
        own.into_iter().chain(alias)
    }

    /// How many arguments it takes.
    pub fn arity(self) -> Arity {
        match self {
            Op::Unary(_) => Arity::Exactly(1),
            Op::Binary(_) => Arity::Exactly(2),
            Op::Fold(_) => Arity::Range(1, MAX_ARGS),
            Op::If => Arity::Range(2, 3),
        }
    }

    /// The operation a function name (any case) stands for with `n` arguments (`LOG`
    /// with one is [`Unary::Log10`], with two [`Binary::Log`]); `Ok(None)` for a name
    /// that is no function.
    ///
    /// # Errors
    ///
    /// [`WrongArgCount`] when no operation of that name takes `n` arguments.
    pub fn function(name: &str, n: usize) -> Result<Option<Op>, WrongArgCount> {
        let named: Vec<Op> = Op::all()
            .filter(|op| op.function_names().any(|f| f.eq_ignore_ascii_case(name)))
            .collect();
        if named.is_empty() {
            return Ok(None);
        }
        if let Some(op) = named.iter().find(|op| op.arity().accepts(n)) {
            return Ok(Some(*op));
        }
        let (lo, hi) = named
            .iter()
            .map(|op| op.arity().bounds())
            .fold((usize::MAX, 0), |(lo, hi), (l, h)| (lo.min(l), hi.max(h)));
        let expected = if lo == hi {
            Arity::Exactly(lo)
        } else {
            Arity::Range(lo, hi)
        };
        Err(WrongArgCount { expected })
    }

    /// Every function name the parser knows, for "did you mean" suggestions.
    pub fn function_names_all() -> Vec<&'static str> {
        let mut v: Vec<&'static str> = Op::all().flat_map(Op::function_names).collect();
        v.dedup();
        v
    }

    /// The printing precedence of an infix or prefix operator; `None` for functions.
    pub fn infix_prec(self) -> Option<u8> {
        match self {
            Op::Unary(Unary::Neg) => Some(prec::NEG),
            Op::Binary(b) => b.infix_prec(),
            Op::Unary(_) | Op::Fold(_) | Op::If => None,
        }
    }

    /// True for the comparisons, whose value is 0 or 1 and whose derivative is 0.
    pub fn is_comparison(self) -> bool {
        matches!(self, Op::Binary(Binary::Cmp(_)))
    }
}

impl From<Unary> for Op {
    fn from(u: Unary) -> Op {
        Op::Unary(u)
    }
}

impl From<Binary> for Op {
    fn from(b: Binary) -> Op {
        Op::Binary(b)
    }
}

impl From<Fold> for Op {
    fn from(f: Fold) -> Op {
        Op::Fold(f)
    }
}

/// A Rust function of one number that values call: the interpreter calls it directly,
/// and compiled code calls it through [`Native1::c_fn`] under the name
/// [`Native1::symbol`], so both compute the same bits. (No function is re-implemented
/// or approximated in machine code.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Native1 {
    /// `exp`.
    Exp,
    /// `ln`.
    Ln,
    /// `log10`.
    Log10,
    /// `tanh`.
    Tanh,
    /// [`sigmoid`].
    Sigmoid,
    /// [`softplus`].
    Softplus,
    /// `floor`.
    Floor,
}

impl Native1 {
    /// Every one.
    pub const ALL: [Native1; 7] = [
        Native1::Exp,
        Native1::Ln,
        Native1::Log10,
        Native1::Tanh,
        Native1::Sigmoid,
        Native1::Softplus,
        Native1::Floor,
    ];

    /// The function.
    #[inline(always)]
    pub fn eval(self, x: f64) -> f64 {
        match self {
            Native1::Exp => x.exp(),
            Native1::Ln => x.ln(),
            Native1::Log10 => x.log10(),
            Native1::Tanh => x.tanh(),
            Native1::Sigmoid => sigmoid(x),
            Native1::Softplus => softplus(x),
            Native1::Floor => x.floor(),
        }
    }

    /// The name under which compiled code links it.
    pub fn symbol(self) -> &'static str {
        match self {
            Native1::Exp => "gs_exp",
            Native1::Ln => "gs_ln",
            Native1::Log10 => "gs_log10",
            Native1::Tanh => "gs_tanh",
            Native1::Sigmoid => "gs_sigmoid",
            Native1::Softplus => "gs_softplus",
            Native1::Floor => "gs_floor",
        }
    }

    /// [`Native1::eval`] behind the C calling convention, for compiled code.
    pub fn c_fn(self) -> extern "C" fn(f64) -> f64 {
        macro_rules! shim {
            ($v:ident) => {{
                extern "C" fn f(x: f64) -> f64 {
                    Native1::$v.eval(x)
                }
                f
            }};
        }
        match self {
            Native1::Exp => shim!(Exp),
            Native1::Ln => shim!(Ln),
            Native1::Log10 => shim!(Log10),
            Native1::Tanh => shim!(Tanh),
            Native1::Sigmoid => shim!(Sigmoid),
            Native1::Softplus => shim!(Softplus),
            Native1::Floor => shim!(Floor),
        }
    }
}

/// A Rust function of two numbers (see [`Native1`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Native2 {
    /// [`pow`]: `^` with Excel's integer powers.
    Pow,
    /// `powf`, as `torch.optim.Adam`'s bias correction `1 - β^t` computes it (the
    /// compiled optimizers call it).
    Powf,
    /// [`round`]: Excel's `ROUND`.
    Round,
}

impl Native2 {
    /// Every one.
    pub const ALL: [Native2; 3] = [Native2::Pow, Native2::Powf, Native2::Round];

    /// The function.
    #[inline(always)]
    pub fn eval(self, x: f64, y: f64) -> f64 {
        match self {
            Native2::Pow => pow(x, y),
            Native2::Powf => x.powf(y),
            Native2::Round => round(x, y),
        }
    }

    /// The name under which compiled code links it.
    pub fn symbol(self) -> &'static str {
        match self {
            Native2::Pow => "gs_pow",
            Native2::Powf => "gs_powf",
            Native2::Round => "gs_round",
        }
    }

    /// [`Native2::eval`] behind the C calling convention, for compiled code.
    pub fn c_fn(self) -> extern "C" fn(f64, f64) -> f64 {
        macro_rules! shim {
            ($v:ident) => {{
                extern "C" fn f(x: f64, y: f64) -> f64 {
                    Native2::$v.eval(x, y)
                }
                f
            }};
        }
        match self {
            Native2::Pow => shim!(Pow),
            Native2::Powf => shim!(Powf),
            Native2::Round => shim!(Round),
        }
    }
}

/// The logistic function, computed so that it neither overflows nor loses the tails.
#[inline(always)]
pub fn sigmoid(a: f64) -> f64 {
    if a >= 0.0 {
        1.0 / (1.0 + (-a).exp())
    } else {
        let e = a.exp();
        e / (1.0 + e)
    }
}

/// `ln(1 + e^a)` without overflow for a large `a` (where it is `a + ln(1 + e^-a)`) and
/// without losing the small values of a very negative `a` (`ln_1p`).
#[inline(always)]
pub fn softplus(a: f64) -> f64 {
    if a > 0.0 {
        a + (-a).exp().ln_1p()
    } else {
        a.exp().ln_1p()
    }
}

/// The largest exponent evaluated by repeated multiplication rather than `powf`.
///
/// Excel's `x^n` agrees bit for bit with `powi` (binary exponentiation) for the small
/// integer powers in fast.ai's sheets; beyond this bound `powf` is more accurate.
pub const POWI_LIMIT: f64 = 64.0;

/// `a ^ b` with Excel's integer-power behaviour (see [`POWI_LIMIT`]).
#[inline(always)]
pub fn pow(a: f64, b: f64) -> f64 {
    if b.fract() == 0.0 && b.abs() <= POWI_LIMIT {
        a.powi(b as i32)
    } else {
        a.powf(b)
    }
}

/// Excel's `ROUND(x, digits)`: `digits` is truncated to an integer; halves go away from
/// zero (`ROUND(2.5, 0)` is 3, `ROUND(-2.5, 0)` is -3), as `f64::round` does.
///
/// The scaling by a power of ten is the binary one, so a decimal half that is not exactly
/// representable (2.675 is 2.67499999999999982236431605997495353221893310546875) rounds
/// as its binary value says. Where the scaled value is not finite, or already has no
/// fraction (a digit count past f64's precision), `x` comes back unchanged.
///
/// ```
/// use gradsheet_engine::op::round;
/// assert_eq!(round(2.5, 0.0), 3.0);
/// assert_eq!(round(-2.5, 0.0), -3.0);
/// assert_eq!(round(1234.5678, 2.0), 1234.57);
/// assert_eq!(round(1234.5678, -2.0), 1200.0);
/// ```
#[inline(always)]
pub fn round(x: f64, digits: f64) -> f64 {
    if x.is_nan() || digits.is_nan() {
        return f64::NAN;
    }
    let d = digits.trunc();
    if !x.is_finite() || d == f64::INFINITY {
        return x;
    }
    if d == f64::NEG_INFINITY {
        return 0.0 * x;
    }
    if d == 0.0 {
        return x.round();
    }
    // 10^±308 is the last finite power; past it every finite x is already rounded
    // (digits > 0) or rounds to 0 (digits < 0).
    let s = 10f64.powi(d.abs().min(308.0) as i32);
    if d > 0.0 {
        let y = x * s;
        if !y.is_finite() || y.fract() == 0.0 {
            return x;
        }
        y.round() / s
    } else {
        (x / s).round() * s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_hold_every_variant() {
        // A variant missing from `ALL` would escape the parser and the tests: each list
        // must name every variant once (the matches below fail to compile otherwise).
        let index = |u: Unary| match u {
            Unary::Neg => 0,
            Unary::Abs => 1,
            Unary::Sign => 2,
            Unary::Exp => 3,
            Unary::Ln => 4,
            Unary::Log10 => 5,
            Unary::Sqrt => 6,
            Unary::Tanh => 7,
            Unary::Relu => 8,
            Unary::Sigmoid => 9,
            Unary::Softplus => 10,
            Unary::Int => 11,
        };
        for (i, u) in Unary::ALL.iter().enumerate() {
            assert_eq!(index(*u), i);
        }
        let native = |n: Native1| match n {
            Native1::Exp
            | Native1::Ln
            | Native1::Log10
            | Native1::Tanh
            | Native1::Sigmoid
            | Native1::Softplus
            | Native1::Floor => (),
        };
        Native1::ALL.iter().for_each(|n| native(*n));
        assert_eq!(Binary::ALL.len(), 7 + Cmp::ALL.len());
    }

    #[test]
    fn nan_arguments_make_max_and_min_nan() {
        let mut ar = crate::arith::F64;
        for f in Fold::ALL {
            assert!(f.value(&mut ar, f64::NAN, 1.0).is_nan(), "{f:?}");
            assert!(f.value(&mut ar, 1.0, f64::NAN).is_nan(), "{f:?}");
        }
        assert_eq!(
            Fold::Max.value(&mut ar, 0.0, -0.0).to_bits(),
            0f64.to_bits()
        );
        assert_eq!(
            Fold::Max.value(&mut ar, -0.0, 0.0).to_bits(),
            (-0f64).to_bits()
        );
    }
}

//! The closed list of primitives.
//!
//! Every concern of an operation — its spelling, arity, precedence, forward value and
//! local derivative — is one exhaustive `match` on [`Op`] here or in [`crate::diff`], so
//! adding an operation fails to compile until every concern handles it.
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
//!   slope 0 there. `MIN` mirrors it with `u <= v`.
//! - `RELU(u)` is exactly `MAX(u, 0)` (and is exported to Excel as that), so its slope at
//!   `u = 0` is 1, as in candle. PyTorch uses 0; the difference only shows when a
//!   pre-activation is exactly zero.
//! - `ABS(u)` has slope `SIGN(u)`, which is 0 at `u = 0` (PyTorch's choice too): the
//!   value is taken from both pieces at once, and 0 is the average of their slopes.
//! - `IF(c, a, b)` has the derivative of the branch it takes; the condition is not
//!   differentiated (comparisons are flat almost everywhere).

use std::fmt;

/// A primitive operation of the formula language.
///
/// # Examples
///
/// ```
/// use gradsheet_engine::Op;
/// assert_eq!(Op::from_function_name("max"), Some(Op::Max));
/// assert_eq!(Op::Max.name(), "MAX");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
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
    /// Unary minus. In Excel it binds tighter than `^`: `-2^2` is 4.
    Neg,
    /// `a < b`: 1 when true, 0 when false (Excel's TRUE and FALSE in arithmetic).
    Lt,
    /// `a <= b`.
    Le,
    /// `a > b`.
    Gt,
    /// `a >= b`.
    Ge,
    /// `a = b` (exact comparison of doubles).
    Eq,
    /// `a <> b`.
    Ne,
    /// `MAX(a, ...)`, one or more arguments; ties go to the first (see the module docs).
    Max,
    /// `MIN(a, ...)`, one or more arguments; ties go to the first.
    Min,
    /// `ABS(a)`; slope `SIGN(a)`, 0 at 0.
    Abs,
    /// `SIGN(a)`: -1, 0 or 1.
    Sign,
    /// `EXP(a)`.
    Exp,
    /// `LN(a)`, the natural logarithm.
    Ln,
    /// `LOG(a)` with one argument: base 10, as in Excel (and in fast.ai's cross-entropy sheets).
    Log10,
    /// `LOG(a, base)`.
    Log,
    /// `SQRT(a)`.
    Sqrt,
    /// `TANH(a)`.
    Tanh,
    /// `RELU(a)`: not an Excel function; exactly `MAX(a, 0)`.
    Relu,
    /// `SIGMOID(a)` = `1/(1+EXP(-a))`: not an Excel function; exported as that formula.
    Sigmoid,
    /// `IF(cond, a, b)`: `a` where `cond` is non-zero, else `b` (`b` defaults to 0).
    If,
}

/// How many arguments an operation takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    /// Exactly this many.
    Exactly(usize),
    /// Between the two bounds, inclusive.
    Range(usize, usize),
    /// At least this many.
    AtLeast(usize),
}

impl Arity {
    /// Whether `n` arguments are accepted.
    pub fn accepts(self, n: usize) -> bool {
        match self {
            Arity::Exactly(k) => n == k,
            Arity::Range(lo, hi) => (lo..=hi).contains(&n),
            Arity::AtLeast(k) => n >= k,
        }
    }
}

impl fmt::Display for Arity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        match *self {
            Arity::Exactly(k) => write!(f, "{k} argument{}", plural(k)),
            Arity::Range(lo, hi) => write!(f, "{lo} to {hi} arguments"),
            Arity::AtLeast(k) => write!(f, "at least {k} argument{}", plural(k)),
        }
    }
}

/// Binding power of a printed operation: higher binds tighter. Excel's order, lowest
/// first: comparisons, `+ -`, `* /`, `^`, unary minus.
pub(crate) mod prec {
    pub const CMP: u8 = 1;
    pub const ADD: u8 = 2;
    pub const MUL: u8 = 3;
    pub const POW: u8 = 4;
    pub const NEG: u8 = 5;
    pub const ATOM: u8 = 6;
}

/// Every function name the parser knows, for "did you mean" suggestions.
pub const FUNCTION_NAMES: &[&str] = &[
    "MAX", "MIN", "ABS", "SIGN", "EXP", "LN", "LOG", "SQRT", "POWER", "TANH", "IF", "RELU",
    "SIGMOID",
];

impl Op {
    /// The operation a function name (case-insensitive) stands for. `LOG` maps to
    /// [`Op::Log10`]; the parser turns a two-argument `LOG` into [`Op::Log`].
    pub fn from_function_name(name: &str) -> Option<Op> {
        Some(match name.to_ascii_uppercase().as_str() {
            "MAX" => Op::Max,
            "MIN" => Op::Min,
            "ABS" => Op::Abs,
            "SIGN" => Op::Sign,
            "EXP" => Op::Exp,
            "LN" => Op::Ln,
            "LOG" => Op::Log10,
            "SQRT" => Op::Sqrt,
            "POWER" => Op::Pow,
            "TANH" => Op::Tanh,
            "RELU" => Op::Relu,
            "SIGMOID" => Op::Sigmoid,
            "IF" => Op::If,
            _ => return None,
        })
    }

    /// The spelling: an infix symbol for operators, an upper-case name for functions.
    pub fn name(self) -> &'static str {
        match self {
            Op::Add => "+",
            Op::Sub => "-",
            Op::Mul => "*",
            Op::Div => "/",
            Op::Pow => "^",
            Op::Neg => "-",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "=",
            Op::Ne => "<>",
            Op::Max => "MAX",
            Op::Min => "MIN",
            Op::Abs => "ABS",
            Op::Sign => "SIGN",
            Op::Exp => "EXP",
            Op::Ln => "LN",
            Op::Log10 | Op::Log => "LOG",
            Op::Sqrt => "SQRT",
            Op::Tanh => "TANH",
            Op::Relu => "RELU",
            Op::Sigmoid => "SIGMOID",
            Op::If => "IF",
        }
    }

    /// How many arguments the operation takes.
    pub fn arity(self) -> Arity {
        match self {
            Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Div
            | Op::Pow
            | Op::Lt
            | Op::Le
            | Op::Gt
            | Op::Ge
            | Op::Eq
            | Op::Ne
            | Op::Log => Arity::Exactly(2),
            Op::Neg
            | Op::Abs
            | Op::Sign
            | Op::Exp
            | Op::Ln
            | Op::Log10
            | Op::Sqrt
            | Op::Tanh
            | Op::Relu
            | Op::Sigmoid => Arity::Exactly(1),
            Op::Max | Op::Min => Arity::AtLeast(1),
            Op::If => Arity::Range(2, 3),
        }
    }

    /// The printing precedence of an infix or prefix operator; `None` for functions.
    pub(crate) fn infix_prec(self) -> Option<u8> {
        match self {
            Op::Add | Op::Sub => Some(prec::ADD),
            Op::Mul | Op::Div => Some(prec::MUL),
            Op::Pow => Some(prec::POW),
            Op::Neg => Some(prec::NEG),
            Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::Eq | Op::Ne => Some(prec::CMP),
            _ => None,
        }
    }

    /// True for the comparisons, whose value is 0 or 1 and whose derivative is 0.
    pub fn is_comparison(self) -> bool {
        matches!(self, Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::Eq | Op::Ne)
    }

    /// The value of a unary operation.
    #[inline(always)]
    pub(crate) fn eval1(self, a: f64) -> f64 {
        match self {
            Op::Neg => -a,
            Op::Abs => a.abs(),
            Op::Sign => sign(a),
            Op::Exp => a.exp(),
            Op::Ln => a.ln(),
            Op::Log10 => a.log10(),
            Op::Sqrt => a.sqrt(),
            Op::Tanh => a.tanh(),
            Op::Relu => max2(a, 0.0),
            Op::Sigmoid => sigmoid(a),
            _ => f64::NAN,
        }
    }

    /// The value of a binary operation.
    #[inline(always)]
    pub(crate) fn eval2(self, a: f64, b: f64) -> f64 {
        match self {
            Op::Add => a + b,
            Op::Sub => a - b,
            Op::Mul => a * b,
            Op::Div => a / b,
            Op::Pow => pow(a, b),
            Op::Lt => truth(a < b),
            Op::Le => truth(a <= b),
            Op::Gt => truth(a > b),
            Op::Ge => truth(a >= b),
            Op::Eq => truth(a == b),
            Op::Ne => truth(a != b),
            Op::Max => max2(a, b),
            Op::Min => min2(a, b),
            Op::Log => a.ln() / b.ln(),
            _ => f64::NAN,
        }
    }
}

#[inline(always)]
fn truth(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// `MAX` of two values, ties (and a NaN second argument) resolved to the first.
#[inline(always)]
pub fn max2(a: f64, b: f64) -> f64 {
    if a >= b || b.is_nan() {
        a
    } else {
        b
    }
}

/// `MIN` of two values, ties resolved to the first.
#[inline(always)]
pub fn min2(a: f64, b: f64) -> f64 {
    if a <= b || b.is_nan() {
        a
    } else {
        b
    }
}

/// Excel's `SIGN`: -1, 0 or 1 (NaN stays NaN).
#[inline(always)]
pub fn sign(a: f64) -> f64 {
    if a > 0.0 {
        1.0
    } else if a < 0.0 {
        -1.0
    } else {
        a * 0.0
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

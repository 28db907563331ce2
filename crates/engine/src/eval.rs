//! Direct evaluation of a tree: the reference semantics that the compiled [`crate::Tape`]
//! is tested against.

use crate::expr::Expr;
use crate::op::Op;

/// A name without a value, met while evaluating.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown name {0}")]
pub struct UnknownName(pub String);

impl Expr {
    /// Evaluates the formula, looking names up with `env`.
    ///
    /// NaN and infinities are values like any other: `LN(0)` is `-inf`, `SQRT(-1)` is NaN.
    ///
    /// # Errors
    ///
    /// [`UnknownName`] for the first name `env` has no value for.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = gradsheet_engine::parse("c*MAX(a*x+b,0)+d").unwrap();
    /// let env = |n: &str| match n { "a" => Some(1.0), "b" => Some(-3.0), "c" => Some(2.0),
    ///                               "d" => Some(0.5), "x" => Some(5.0), _ => None };
    /// assert_eq!(e.eval(&env), Ok(4.5));
    /// ```
    pub fn eval(&self, env: &dyn Fn(&str) -> Option<f64>) -> Result<f64, UnknownName> {
        Ok(match self {
            Expr::Num(v) => *v,
            Expr::Var(n) => env(n).ok_or_else(|| UnknownName(n.clone()))?,
            Expr::Apply(op, args) => match op {
                Op::Max | Op::Min => {
                    let mut acc = args[0].eval(env)?;
                    for a in &args[1..] {
                        acc = op.eval2(acc, a.eval(env)?);
                    }
                    acc
                }
                Op::If => {
                    let c = args[0].eval(env)?;
                    let taken = if c.is_nan() {
                        return Ok(f64::NAN);
                    } else if c != 0.0 {
                        args.get(1)
                    } else {
                        args.get(2)
                    };
                    match taken {
                        Some(e) => e.eval(env)?,
                        None => 0.0,
                    }
                }
                _ if args.len() == 1 => op.eval1(args[0].eval(env)?),
                _ => op.eval2(args[0].eval(env)?, args[1].eval(env)?),
            },
        })
    }

    /// Evaluates with names bound by a slice of `(name, value)` pairs.
    ///
    /// # Errors
    ///
    /// [`UnknownName`] as for [`Expr::eval`].
    pub fn eval_with(&self, bindings: &[(&str, f64)]) -> Result<f64, UnknownName> {
        self.eval(&|n| bindings.iter().find(|(k, _)| *k == n).map(|(_, v)| *v))
    }
}

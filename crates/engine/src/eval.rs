//! Direct evaluation of a tree: the reference semantics that the compiled [`crate::Tape`]
//! is tested against.

use crate::arith::F64;
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
            Expr::Apply(op, args) => {
                let mut ar = F64;
                match (op, args.as_slice()) {
                    (Op::Unary(u), [a]) => u.value(&mut ar, a.eval(env)?),
                    (Op::Binary(b), [x, y]) => b.value(&mut ar, x.eval(env)?, y.eval(env)?),
                    (Op::Fold(f), [first, rest @ ..]) => {
                        // Every argument is evaluated (left to right, so that the first
                        // unknown name is the one reported), then folded from the right
                        // as the tape folds them.
                        let mut vals = Vec::with_capacity(rest.len());
                        for a in rest {
                            vals.push(a.eval(env)?);
                        }
                        let first = first.eval(env)?;
                        let last = vals.pop();
                        match last {
                            None => first,
                            Some(mut acc) => {
                                for v in vals.into_iter().rev() {
                                    acc = f.value(&mut ar, v, acc);
                                }
                                f.value(&mut ar, first, acc)
                            }
                        }
                    }
                    (Op::If, [c, a, rest @ ..]) => {
                        // Only the branch taken is evaluated, as in a spreadsheet.
                        let c = c.eval(env)?;
                        if c.is_nan() {
                            f64::NAN
                        } else if c != 0.0 {
                            a.eval(env)?
                        } else {
                            match rest.first() {
                                Some(b) => b.eval(env)?,
                                None => 0.0,
                            }
                        }
                    }
                    // A tree whose arguments do not fit its operation (built by hand).
                    (Op::Unary(_) | Op::Binary(_) | Op::Fold(_) | Op::If, _) => f64::NAN,
                }
            }
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

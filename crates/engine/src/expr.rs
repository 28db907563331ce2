//! The expression tree and its three printed forms.

use std::collections::BTreeSet;
use std::fmt;

use crate::op::{prec, Binary, Fold, Form, Op, Unary};

/// A formula as a tree.
///
/// The parser never produces a negative [`Expr::Num`] from a name, but folds a minus sign
/// written directly before a number into it (`-2^2` is `Num(-2) ^ Num(2)` = 4, as in Excel).
///
/// # Examples
///
/// ```
/// use gradsheet_engine::{parse, Binary, Expr, Op};
/// let e = parse("a*x+b").unwrap();
/// assert_eq!(e.to_string(), "a*x+b");
/// assert_eq!(e.sexpr(), "(+ (* a x) b)");
/// assert!(matches!(e, Expr::Apply(Op::Binary(Binary::Add), _)));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A number.
    Num(f64),
    /// A name: a data column, a parameter or a constant.
    Var(String),
    /// An operation applied to its arguments (as many as [`Op::arity`] allows: the parser
    /// and the constructors [`Expr::un`], [`Expr::bin`], [`Expr::fold`] keep to it).
    Apply(Op, Vec<Expr>),
}

/// How to print an expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notation {
    /// gradsheet's own syntax (Excel's, plus `RELU` and `SIGMOID`): parses back to the same tree.
    Formula,
    /// Plain Excel: `RELU(u)` becomes `MAX(u,0)` and `SIGMOID(u)` becomes `1/(1+EXP(-u))`.
    Excel,
    /// Mathematical notation: `·`, `−`, `x²`, `√`, `ln`, `log₁₀`, `|u|`, `σ`.
    Math,
}

impl Expr {
    /// A name.
    pub fn var(name: impl Into<String>) -> Expr {
        Expr::Var(name.into())
    }
    /// `op(args)`.
    pub fn apply(op: Op, args: Vec<Expr>) -> Expr {
        Expr::Apply(op, args)
    }
    /// A binary operation.
    pub fn bin(op: Binary, a: Expr, b: Expr) -> Expr {
        Expr::Apply(Op::Binary(op), vec![a, b])
    }
    /// A unary operation.
    pub fn un(op: Unary, a: Expr) -> Expr {
        Expr::Apply(Op::Unary(op), vec![a])
    }
    /// `MAX` or `MIN` of the arguments.
    pub fn fold(op: Fold, args: Vec<Expr>) -> Expr {
        Expr::Apply(Op::Fold(op), args)
    }

    /// The names the expression uses, sorted and without repeats.
    pub fn names(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        self.visit(&mut |e| {
            if let Expr::Var(n) = e {
                out.insert(n.clone());
            }
        });
        out
    }

    /// The names in order of first appearance, left to right.
    pub fn names_in_order(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        self.visit(&mut |e| {
            if let Expr::Var(n) = e {
                if !out.contains(n) {
                    out.push(n.clone());
                }
            }
        });
        out
    }

    /// Whether the expression mentions `name`.
    pub fn mentions(&self, name: &str) -> bool {
        crate::simplify::tally(1);
        match self {
            Expr::Num(_) => false,
            Expr::Var(n) => n == name,
            Expr::Apply(_, args) => args.iter().any(|a| a.mentions(name)),
        }
    }

    /// Calls `f` on every node, parents before children, arguments left to right.
    pub fn visit(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        if let Expr::Apply(_, args) = self {
            for a in args {
                a.visit(f);
            }
        }
    }

    /// The number of nodes.
    pub fn size(&self) -> usize {
        match self {
            Expr::Apply(_, args) => 1 + args.iter().map(Expr::size).sum::<usize>(),
            _ => 1,
        }
    }

    /// The depth of the tree (a leaf has depth 1).
    pub fn depth(&self) -> usize {
        match self {
            Expr::Apply(_, args) => 1 + args.iter().map(Expr::depth).max().unwrap_or(0),
            _ => 1,
        }
    }

    /// Replaces every use of `name` with `with`.
    pub fn substitute(&self, name: &str, with: &Expr) -> Expr {
        match self {
            Expr::Var(n) if n == name => with.clone(),
            Expr::Apply(op, args) => {
                Expr::Apply(*op, args.iter().map(|a| a.substitute(name, with)).collect())
            }
            _ => self.clone(),
        }
    }

    /// A fully parenthesised prefix rendering, the oracle of parser tests: `(+ (* a x) b)`.
    pub fn sexpr(&self) -> String {
        match self {
            Expr::Num(v) => format_number(*v),
            Expr::Var(n) => n.clone(),
            Expr::Apply(op, args) => {
                let name = op.spelling().sexpr;
                let mut s = format!("({name}");
                for a in args {
                    s.push(' ');
                    s.push_str(&a.sexpr());
                }
                s.push(')');
                s
            }
        }
    }

    /// The formula in the given notation, names printed as they are.
    pub fn to_notation(&self, notation: Notation) -> String {
        self.print(notation, None)
    }

    /// The formula in plain Excel syntax (see [`Notation::Excel`]).
    pub fn to_excel(&self) -> String {
        self.to_notation(Notation::Excel)
    }

    /// The formula in mathematical notation (see [`Notation::Math`]).
    pub fn to_math(&self) -> String {
        self.to_notation(Notation::Math)
    }

    /// The formula in the given notation, each name replaced by `name(n)` (for example a
    /// cell reference when writing a workbook).
    pub fn render(&self, notation: Notation, name: &dyn Fn(&str) -> String) -> String {
        self.print(notation, Some(name))
    }

    fn print(&self, notation: Notation, name: Option<&dyn Fn(&str) -> String>) -> String {
        let mut out = String::new();
        Printer {
            notation,
            name,
            arg: None,
        }
        .write(self, &mut out);
        out
    }

    /// The number of characters of [`Expr::to_excel`], counted without writing it.
    pub(crate) fn excel_chars(&self) -> usize {
        let mut n = Chars(0);
        Printer {
            notation: Notation::Excel,
            name: None,
            arg: None,
        }
        .write(self, &mut n);
        n.0
    }

    /// The operation at the root and its arguments, if any.
    pub fn as_apply(&self) -> Option<(Op, &[Expr])> {
        match self {
            Expr::Apply(op, args) => Some((*op, args)),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_num(&self) -> Option<f64> {
        match self {
            Expr::Num(v) => Some(*v),
            _ => None,
        }
    }
}

impl fmt::Display for Expr {
    /// Prints in [`Notation::Formula`], with the fewest parentheses that parse back to the same tree.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_notation(Notation::Formula))
    }
}

/// Formats a number as the shortest text that reads back to the same double, preferring
/// plain decimals and using an exponent only where it is much shorter.
///
/// # Examples
///
/// ```
/// use gradsheet_engine::format_number;
/// assert_eq!(format_number(0.01), "0.01");
/// assert_eq!(format_number(1e-12), "1e-12");
/// assert_eq!(format_number(2.0), "2");
/// ```
pub fn format_number(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    if v.fract() == 0.0 && v.abs() < 1e11 {
        // A whole number of at most 11 digits prints as its digits, shorter than with an
        // exponent (the usual number of a derivative: `2`, `0`, `1`).
        return if v == 0.0 && v.is_sign_negative() {
            "-0".into()
        } else {
            (v as i64).to_string()
        };
    }
    let plain = format!("{v}");
    let exp = format!("{v:e}");
    if plain.len() > 12 && exp.len() + 2 < plain.len() {
        exp
    } else {
        plain
    }
}

/// `v` to `digits` significant digits, without trailing zeros; an exponent for very
/// large or very small magnitudes (`3.591e16`, `5.05e-5`).
///
/// # Examples
///
/// ```
/// use gradsheet_engine::format_sig as sig;
/// assert_eq!(sig(39615.98, 4), "39616");
/// assert_eq!(sig(3.9616, 3), "3.96");
/// assert_eq!(sig(5.0485e-5, 3), "5.05e-5");
/// assert_eq!(sig(3.59e16, 3), "3.59e16");
/// assert_eq!(sig(f64::NAN, 3), "NaN");
/// ```
pub fn format_sig(v: f64, digits: usize) -> String {
    if !v.is_finite() {
        return format_number(v);
    }
    if v == 0.0 {
        return "0".into();
    }
    let mag = v.abs().log10().floor() as i32;
    if !(-3..7).contains(&mag) {
        let s = format!("{:.*e}", digits.saturating_sub(1), v);
        // Trim zeros of the mantissa: 5.00e-5 → 5e-5.
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = if m.contains('.') {
            m.trim_end_matches('0').trim_end_matches('.')
        } else {
            m
        };
        return format!("{m}e{e}");
    }
    let decimals = (digits as i32 - 1 - mag).max(0) as usize;
    let s = format!("{:.*}", decimals, v);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Where a [`Printer`] writes: a string, or a count of the characters it would hold.
trait Out {
    fn push(&mut self, c: char);
    fn push_str(&mut self, s: &str);
}

impl Out for String {
    fn push(&mut self, c: char) {
        String::push(self, c);
    }
    fn push_str(&mut self, s: &str) {
        String::push_str(self, s);
    }
}

/// A count of characters.
struct Chars(usize);

impl Out for Chars {
    fn push(&mut self, _: char) {
        self.0 += 1;
    }
    fn push_str(&mut self, s: &str) {
        self.0 += s.chars().count();
    }
}

struct Printer<'a> {
    notation: Notation,
    /// How a name is written, if not as it is.
    name: Option<&'a dyn Fn(&str) -> String>,
    /// What [`Unary::ARG`] stands for while an [`Unary::excel_form`] is printed.
    arg: Option<&'a Expr>,
}

impl<'a> Printer<'a> {
    fn math(&self) -> bool {
        self.notation == Notation::Math
    }

    /// How `op` is written in this notation.
    fn form(&self, op: Op) -> Form {
        let s = op.spelling();
        if self.math() {
            s.math
        } else {
            s.formula
        }
    }

    /// The formula an operation Excel lacks is written as, in Excel notation.
    fn excel_form(&self, op: Op) -> Option<Expr> {
        match (self.notation, op) {
            (Notation::Excel, Op::Unary(u)) => u.excel_form(),
            _ => None,
        }
    }

    /// The precedence of `e` when printed as an operand.
    fn prec_of(&self, e: &Expr) -> u8 {
        match e {
            Expr::Num(v) if v.is_sign_negative() => self.neg_prec(),
            Expr::Var(n) if n == Unary::ARG => match self.arg {
                Some(a) => self.with_arg(None).prec_of(a),
                None => prec::ATOM,
            },
            Expr::Num(_) | Expr::Var(_) => prec::ATOM,
            Expr::Apply(op, _) => match self.excel_form(*op) {
                Some(form) => self.prec_of(&form),
                None => match self.form(*op) {
                    Form::Prefix(_) => self.neg_prec(),
                    Form::Infix(_) | Form::Power => op.infix_prec().unwrap_or(prec::ATOM),
                    Form::Function(_) | Form::Bars | Form::Radical | Form::Conditional => {
                        prec::ATOM
                    }
                },
            },
        }
    }

    fn with_arg(&self, arg: Option<&'a Expr>) -> Printer<'a> {
        Printer {
            notation: self.notation,
            name: self.name,
            arg,
        }
    }

    /// Excel's unary minus binds tighter than everything; in mathematics it binds like `+`.
    fn neg_prec(&self) -> u8 {
        if self.math() {
            prec::ADD
        } else {
            prec::NEG
        }
    }

    fn write_operand(&self, e: &Expr, paren: bool, out: &mut impl Out) {
        if paren {
            out.push('(');
            self.write(e, out);
            out.push(')');
        } else {
            self.write(e, out);
        }
    }

    fn write(&self, e: &Expr, out: &mut impl Out) {
        match e {
            Expr::Num(v) => {
                if self.math() && *v < 0.0 {
                    out.push('−');
                    out.push_str(&format_number(-v));
                } else {
                    out.push_str(&format_number(*v));
                }
            }
            Expr::Var(n) if n == Unary::ARG && self.arg.is_some() => {
                if let Some(a) = self.arg {
                    self.with_arg(None).write(a, out);
                }
            }
            Expr::Var(n) => match self.name {
                Some(name) => out.push_str(&name(n)),
                None => out.push_str(n),
            },
            Expr::Apply(op, args) => match self.excel_form(*op) {
                Some(form) => self.with_arg(args.first()).write(&form, out),
                None => self.write_apply(*op, args, out),
            },
        }
    }

    fn write_apply(&self, op: Op, args: &[Expr], out: &mut impl Out) {
        let math = self.math();
        match (self.form(op), args) {
            (Form::Prefix(symbol), [a]) => {
                out.push_str(symbol);
                let inner = self.prec_of(a);
                // In mathematics `−(a·b)` reads as `−a·b`; a sum keeps its parentheses.
                let need = if math {
                    inner < prec::MUL
                } else {
                    inner < prec::NEG
                };
                self.write_operand(a, need, out);
            }
            (Form::Power, [base, exp]) => {
                let base_paren = self.prec_of(base) <= prec::POW;
                self.write_operand(base, base_paren, out);
                match exp.as_num().and_then(superscript) {
                    Some(sup) => out.push_str(sup),
                    None => {
                        out.push('^');
                        let p = self.prec_of(exp);
                        self.write_operand(exp, p <= prec::POW, out);
                    }
                }
            }
            (Form::Infix(symbol), [l, r]) => {
                let p = op.infix_prec().unwrap_or(prec::ATOM);
                let left = self.prec_of(l) < p;
                // All of Excel's binary operators associate to the left, so an operand of
                // equal precedence on the right needs parentheses to keep the tree.
                let right = self.prec_of(r) <= p;
                self.write_operand(l, left, out);
                out.push_str(symbol);
                self.write_operand(r, right, out);
            }
            (Form::Bars, [a]) => {
                out.push('|');
                self.write(a, out);
                out.push('|');
            }
            (Form::Radical, [a]) => {
                out.push('√');
                let p = self.prec_of(a);
                self.write_operand(a, p < prec::ATOM, out);
            }
            (Form::Conditional, [c, a, rest @ ..]) => {
                out.push('(');
                self.write(a, out);
                out.push_str(" if ");
                self.write(c, out);
                out.push_str(" else ");
                match rest.first() {
                    Some(b) => self.write(b, out),
                    None => out.push('0'),
                }
                out.push(')');
            }
            // A function call, and any tree whose arguments do not fit its operation
            // (built by hand): printed as a call, so nothing is lost.
            (form, _) => {
                let name = match form {
                    Form::Function(s) | Form::Prefix(s) | Form::Infix(s) => s,
                    Form::Power | Form::Bars | Form::Radical | Form::Conditional => {
                        op.spelling().sexpr
                    }
                };
                out.push_str(name);
                out.push('(');
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        out.push_str(if math { ", " } else { "," });
                    }
                    self.write(a, out);
                }
                out.push(')');
            }
        }
    }
}

fn superscript(v: f64) -> Option<&'static str> {
    Some(match v as i64 {
        _ if v.fract() != 0.0 => return None,
        2 => "²",
        3 => "³",
        4 => "⁴",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::{format_number, Expr};
    use proptest::prelude::*;

    proptest! {
        /// The shortcut for whole numbers prints what the general rule prints.
        #[test]
        fn whole_numbers_print_as_before(v in -2e11f64..2e11, whole in any::<bool>()) {
            let v = if whole { v.trunc() } else { v };
            let plain = format!("{v}");
            let exp = format!("{v:e}");
            let general = if plain.len() > 12 && exp.len() + 2 < plain.len() { exp } else { plain };
            prop_assert_eq!(format_number(v), general);
        }
    }

    #[test]
    fn the_excel_text_is_counted_as_written() {
        let formulas = [
            "a*x+b",
            "-(2*SIGMOID(a*x)-RELU(b))^2/3+1e-12",
            "IF(a>=0,MAX(a,b,0),-0.5)",
            "SQRT(ABS(x))*LN(10)",
        ];
        for f in formulas {
            let e = crate::parse(f).unwrap();
            assert_eq!(e.excel_chars(), e.to_excel().chars().count(), "{f}");
        }
        let named = Expr::bin(crate::Binary::Mul, Expr::var("pas_à_pas"), Expr::Num(-2.5));
        assert_eq!(named.excel_chars(), named.to_excel().chars().count());
    }

    #[test]
    fn negative_zero_keeps_its_sign() {
        assert_eq!(format_number(-0.0), "-0");
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(99_999_999_999.0), "99999999999");
    }
}

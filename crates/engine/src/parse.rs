//! Text to [`Expr`]: a lexer and a Pratt parser following Excel's precedence.
//!
//! Excel's rules, which the parser follows on purpose:
//! - unary minus binds tighter than `^`, so `-2^2` is 4 and `-x^2` is `(-x)^2`;
//! - `^` associates to the left, so `2^3^2` is 64;
//! - function names are case-insensitive; other names are case-sensitive;
//! - a leading `=` is accepted and ignored.

use crate::error::{ErrorKind, FormulaError, Span};
use crate::expr::Expr;
use crate::op::{prec, Binary, Cmp, Form, Op, Unary};

/// The longest formula accepted, in bytes; beyond it the parser refuses rather than risk
/// deep recursion on hostile input.
pub const MAX_FORMULA_LEN: usize = 20_000;
/// The deepest nesting of parentheses and operators accepted.
pub const MAX_DEPTH: usize = 256;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Name(String),
    Op(char),
    Cmp(Cmp),
    LParen,
    RParen,
    Comma,
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Num(v) => format!("the number {}", crate::expr::format_number(*v)),
            Tok::Name(n) => format!("the name {n}"),
            Tok::Op(c) => format!("'{c}'"),
            Tok::Cmp(c) => format!("'{}'", Op::Binary(Binary::Cmp(*c)).name()),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::Comma => "','".into(),
            Tok::End => "the end of the formula".into(),
        }
    }
}

fn lex(src: &str) -> Result<Vec<(Tok, Span)>, FormulaError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |kind, span| Err(FormulaError::new(kind, span, src));
    while i < src.len() {
        let c = src[i..].chars().next().unwrap_or(' ');
        let start = i;
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            while i < src.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            // An exponent only counts when digits follow it, so that `2e` stays an error
            // pointing at the `e` rather than a silently different number.
            if i < src.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
                let mut j = i + 1;
                if j < src.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
                    j += 1;
                }
                if j < src.len() && bytes[j].is_ascii_digit() {
                    while j < src.len() && bytes[j].is_ascii_digit() {
                        j += 1;
                    }
                    i = j;
                }
            }
            let text = &src[start..i];
            let span = Span::new(start, i);
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => out.push((Tok::Num(v), span)),
                Ok(_) => return err(ErrorKind::NumberOutOfRange(text.to_string()), span),
                Err(_) => {
                    return err(
                        ErrorKind::Unexpected {
                            expected: "a number".into(),
                            found: format!("'{text}'"),
                        },
                        span,
                    )
                }
            }
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            while let Some(ch) = src[i..].chars().next() {
                if ch.is_alphanumeric() || ch == '_' || ch == '.' {
                    i += ch.len_utf8();
                } else {
                    break;
                }
            }
            out.push((Tok::Name(src[start..i].to_string()), Span::new(start, i)));
            continue;
        }
        let two = src.get(i..i + 2);
        let (tok, len) = match (c, two) {
            (_, Some("<=")) => (Tok::Cmp(Cmp::Le), 2),
            (_, Some(">=")) => (Tok::Cmp(Cmp::Ge), 2),
            (_, Some("<>")) => (Tok::Cmp(Cmp::Ne), 2),
            ('<', _) => (Tok::Cmp(Cmp::Lt), 1),
            ('>', _) => (Tok::Cmp(Cmp::Gt), 1),
            ('=', _) => (Tok::Cmp(Cmp::Eq), 1),
            ('+' | '-' | '*' | '/' | '^', _) => (Tok::Op(c), 1),
            ('(', _) => (Tok::LParen, 1),
            (')', _) => (Tok::RParen, 1),
            (',' | ';', _) => (Tok::Comma, 1),
            _ => return err(ErrorKind::StrayChar(c), Span::new(i, i + c.len_utf8())),
        };
        i += len;
        out.push((tok, Span::new(start, i)));
    }
    out.push((Tok::End, Span::new(src.len(), src.len())));
    Ok(out)
}

/// Parses a formula in spreadsheet syntax.
///
/// # Errors
///
/// A [`FormulaError`] with the span of the fault for an empty formula, a stray character,
/// unbalanced parentheses, an unknown function (with the nearest known name), a wrong
/// number of arguments, a number out of range, or a formula longer than
/// [`MAX_FORMULA_LEN`] or nested deeper than [`MAX_DEPTH`].
///
/// # Examples
///
/// ```
/// use gradsheet_engine::parse;
/// assert_eq!(parse("=c*MAX(a*x+b,0)+d").unwrap().sexpr(), "(+ (* c (MAX (+ (* a x) b) 0)) d)");
/// assert_eq!(parse("-2^2").unwrap().sexpr(), "(^ -2 2)");
/// let err = parse("MAXX(a,b)").unwrap_err();
/// assert!(err.render().contains("did you mean MAX?"));
/// ```
pub fn parse(src: &str) -> Result<Expr, FormulaError> {
    if src.len() > MAX_FORMULA_LEN {
        return Err(FormulaError::new(
            ErrorKind::TooLarge(format!(
                "the formula is {} bytes long; the limit is {MAX_FORMULA_LEN}",
                src.len()
            )),
            Span::new(MAX_FORMULA_LEN, src.len()),
            src,
        ));
    }
    let trimmed_start = src.len() - src.trim_start().len();
    let mut toks = lex(src)?;
    // A leading `=` is how a spreadsheet formula starts; it is not a comparison.
    if toks
        .first()
        .is_some_and(|(t, s)| *t == Tok::Cmp(Cmp::Eq) && s.start == trimmed_start)
    {
        toks.remove(0);
    }
    if toks.len() == 1 {
        return Err(FormulaError::new(
            ErrorKind::Empty,
            Span::new(0, src.len()),
            src,
        ));
    }
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        depth: 0,
    };
    let (e, _) = p.expr(0)?;
    match p.peek() {
        Tok::End => Ok(e),
        Tok::RParen => Err(p.error(ErrorKind::UnopenedParen, p.span())),
        other => {
            let found = other.describe();
            Err(p.error(
                ErrorKind::Unexpected {
                    expected: "an operator or the end".into(),
                    found,
                },
                p.span(),
            ))
        }
    }
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<(Tok, Span)>,
    pos: usize,
    depth: usize,
}

/// Binding powers of the infix operators: (left, right), from the printing precedence
/// of [`Binary::infix_prec`]. Every operator associates to the left, as in Excel, so the
/// right power is one more than the left.
fn infix_power(tok: &Tok) -> Option<(Binary, u8, u8)> {
    let op = match tok {
        Tok::Cmp(c) => Binary::Cmp(*c),
        Tok::Op(c) => Binary::ALL
            .into_iter()
            .find(|b| matches!(b.spelling().formula, Form::Infix(s) if s.chars().eq([*c])))?,
        _ => return None,
    };
    let l = 2 * op.infix_prec()? - 1;
    Some((op, l, l + 1))
}

/// Unary minus and plus bind tighter than any infix operator (Excel: `-2^2` = 4).
const PREFIX_POWER: u8 = 2 * prec::NEG - 1;

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }
    fn span(&self) -> Span {
        self.toks[self.pos].1
    }
    fn bump(&mut self) -> (Tok, Span) {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn error(&self, kind: ErrorKind, span: Span) -> FormulaError {
        FormulaError::new(kind, span, self.src)
    }

    /// Parses an expression whose operators bind at least `min_power`, returning it with
    /// the depth of its tree. Both the recursion and the tree depth are bounded, because
    /// every later pass (printing, evaluation, differentiation) recurses over the tree.
    fn expr(&mut self, min_power: u8) -> Result<(Expr, usize), FormulaError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.too_deep());
        }
        let (mut lhs, mut lhs_depth) = self.prefix()?;
        while let Some((op, l, r)) = infix_power(self.peek()) {
            if l < min_power {
                break;
            }
            self.bump();
            let (rhs, rhs_depth) = self.expr(r)?;
            lhs = Expr::bin(op, lhs, rhs);
            lhs_depth = 1 + lhs_depth.max(rhs_depth);
            if lhs_depth > MAX_DEPTH {
                return Err(self.too_deep());
            }
        }
        self.depth -= 1;
        Ok((lhs, lhs_depth))
    }

    fn too_deep(&self) -> FormulaError {
        self.error(
            ErrorKind::TooLarge(format!(
                "the formula is nested deeper than {MAX_DEPTH} levels"
            )),
            self.span(),
        )
    }

    fn prefix(&mut self) -> Result<(Expr, usize), FormulaError> {
        let (tok, span) = self.bump();
        match tok {
            Tok::Num(v) => Ok((Expr::Num(v), 1)),
            Tok::Op('-') => {
                let (inner, d) = self.expr(PREFIX_POWER)?;
                Ok(match inner {
                    Expr::Num(v) => (Expr::Num(-v), d),
                    other => (Expr::un(Unary::Neg, other), d + 1),
                })
            }
            Tok::Op('+') => self.expr(PREFIX_POWER),
            Tok::LParen => {
                let e = self.expr(0)?;
                match self.peek() {
                    Tok::RParen => {
                        self.bump();
                        Ok(e)
                    }
                    Tok::End => Err(self.error(ErrorKind::UnclosedParen, span)),
                    other => {
                        let found = other.describe();
                        Err(self.error(
                            ErrorKind::Unexpected {
                                expected: "')' or an operator".into(),
                                found,
                            },
                            self.span(),
                        ))
                    }
                }
            }
            Tok::Name(name) if *self.peek() == Tok::LParen => self.call(name, span),
            Tok::Name(name) => Ok((Expr::Var(name), 1)),
            Tok::RParen => Err(self.error(ErrorKind::UnopenedParen, span)),
            other => Err(self.error(
                ErrorKind::Unexpected {
                    expected: "an expression".into(),
                    found: other.describe(),
                },
                span,
            )),
        }
    }

    fn call(&mut self, name: String, name_span: Span) -> Result<(Expr, usize), FormulaError> {
        if Op::function(&name, 1) == Ok(None) {
            return Err(self.error(
                ErrorKind::UnknownFunction {
                    suggestion: suggest(&name),
                    name,
                },
                name_span,
            ));
        }
        let (_, open) = self.bump();
        let mut args = Vec::new();
        let mut depth = 1;
        if *self.peek() == Tok::RParen {
            self.bump();
        } else {
            loop {
                let (arg, d) = self.expr(0)?;
                args.push(arg);
                depth = depth.max(d + 1);
                match self.peek() {
                    Tok::Comma => {
                        self.bump();
                    }
                    Tok::RParen => {
                        self.bump();
                        break;
                    }
                    Tok::End => return Err(self.error(ErrorKind::UnclosedParen, open)),
                    other => {
                        let found = other.describe();
                        return Err(self.error(
                            ErrorKind::Unexpected {
                                expected: "',' or ')'".into(),
                                found,
                            },
                            self.span(),
                        ));
                    }
                }
            }
        }
        let close = self.toks[self.pos.saturating_sub(1)].1;
        match Op::function(&name, args.len()) {
            Ok(Some(op)) => Ok((Expr::Apply(op, args), depth)),
            Ok(None) => Err(self.error(
                ErrorKind::UnknownFunction {
                    suggestion: suggest(&name),
                    name,
                },
                name_span,
            )),
            Err(wrong) => Err(self.error(
                ErrorKind::WrongArgCount {
                    function: name.to_ascii_uppercase(),
                    expected: wrong.expected.to_string(),
                    found: args.len(),
                },
                name_span.to(close),
            )),
        }
    }
}

/// The known function closest to `name` by edit distance, if it is close enough to be a typo.
fn suggest(name: &str) -> Option<String> {
    let upper = name.to_ascii_uppercase();
    Op::function_names_all()
        .into_iter()
        .map(|f| (edit_distance(&upper, f), f))
        .filter(|(d, f)| *d <= 2.max(f.len() / 3) && *d < upper.len().max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, f)| f.to_string())
}

/// Levenshtein distance between two strings, by characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

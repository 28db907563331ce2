//! An Excel formula translated into the engine's formula language: cell references become
//! names (one per cell), ranges are spread out by the function that takes them (`SUM`,
//! `SUMPRODUCT`, `AVERAGE`, …, accumulating left to right as Excel does), and what the
//! engine cannot compute is an error naming the function or feature.

use crate::{Key, Lookup};

/// What a formula needs that the translation does not have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Untranslated {
    /// A function recomputed as an input with its saved value (RAND, NOW, …).
    Volatile(String),
    /// A function or feature gradsheet does not compute, with a word on what it is.
    Unsupported(String),
}

/// A parsed Excel formula.
#[derive(Clone, Debug, PartialEq)]
enum Ast {
    Num(f64),
    Text,
    Cell(Key),
    Range(Key, Key),
    Name(String),
    Func(String, Vec<Ast>),
    Bin(&'static str, Box<Ast>, Box<Ast>),
    Neg(Box<Ast>),
    Percent(Box<Ast>),
}

const VOLATILE: &[&str] = &[
    "RAND",
    "RANDBETWEEN",
    "RANDARRAY",
    "NOW",
    "TODAY",
    "NORM.INV",
    "NORMINV",
    "OFFSET",
    "INDIRECT",
];

/// Functions the engine computes with the same name and arguments.
const ENGINE: &[&str] = &[
    "EXP", "LN", "LOG", "LOG10", "SQRT", "ABS", "IF", "SIGN", "TANH",
];

/// Translates `src` (the formula without its `=`) on sheet `sheet` into engine text; the
/// names it uses are [`crate::var`] names of cells. `owner` is the engine name of the cell
/// the formula belongs to; the cells of its partial sums, if it has any, come back beside
/// its text as (name, engine text).
pub fn translate(
    src: &str,
    sheet: usize,
    owner: &str,
    book: &dyn Lookup,
) -> Result<(String, Vec<(String, String)>), Untranslated> {
    let toks = lex(src, sheet, book)?;
    let mut p = Parser { toks, at: 0 };
    let ast = p.expr(0)?;
    if p.at != p.toks.len() {
        return Err(Untranslated::Unsupported(format!(
            "cannot read the formula past {:?}",
            p.toks[p.at]
        )));
    }
    let mut cx = Cx {
        book,
        owner: owner.to_string(),
        aux: Vec::new(),
    };
    let text = emit(&ast, &mut cx)?;
    Ok((text, cx.aux))
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Text,
    Cell(Key),
    Range(Key, Key),
    Name(String),
    Func(String),
    Op(&'static str),
    Open,
    Close,
    Comma,
}

/// `$AB$12` → (row 11, col 27).
fn a1(s: &str) -> Option<(u32, u32)> {
    let s = s.replace('$', "");
    let split = s.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = s.split_at(split);
    if letters.is_empty() || letters.len() > 3 || !letters.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let col = letters
        .bytes()
        .fold(0u32, |n, b| n * 26 + u32::from(b - b'A' + 1))
        - 1;
    let row: u32 = digits.parse().ok()?;
    (row >= 1 && col < 16_384).then_some((row - 1, col))
}

fn lex(src: &str, sheet: usize, book: &dyn Lookup) -> Result<Vec<Tok>, Untranslated> {
    let cs: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let unsupported = |what: String| Err(Untranslated::Unsupported(what));
    while i < cs.len() {
        let c = cs[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '"' {
            i += 1;
            while i < cs.len() && cs[i] != '"' {
                i += 1;
            }
            i += 1;
            out.push(Tok::Text);
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && cs.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            let start = i;
            while i < cs.len() && (cs[i].is_ascii_digit() || cs[i] == '.') {
                i += 1;
            }
            if i < cs.len() && (cs[i] == 'E' || cs[i] == 'e') {
                i += 1;
                if i < cs.len() && (cs[i] == '+' || cs[i] == '-') {
                    i += 1;
                }
                while i < cs.len() && cs[i].is_ascii_digit() {
                    i += 1;
                }
            }
            let t: String = cs[start..i].iter().collect();
            match t.parse::<f64>() {
                Ok(v) => out.push(Tok::Num(v)),
                Err(_) => return unsupported(format!("the number {t}")),
            }
            continue;
        }
        // A sheet prefix: 'quoted name'! or Name!
        let mut on = sheet;
        let mut j = i;
        if c == '\'' {
            let mut k = i + 1;
            let mut name = String::new();
            while k < cs.len() {
                if cs[k] == '\'' {
                    if cs.get(k + 1) == Some(&'\'') {
                        name.push('\'');
                        k += 2;
                        continue;
                    }
                    break;
                }
                name.push(cs[k]);
                k += 1;
            }
            if cs.get(k + 1) != Some(&'!') {
                return unsupported(format!("the quoted name '{name}'"));
            }
            on = book.sheet(&name).ok_or_else(|| {
                Untranslated::Unsupported(format!(
                    "a sheet named '{name}' that is not in the workbook"
                ))
            })?;
            j = k + 2;
        }
        if j < cs.len() && (cs[j].is_alphabetic() || cs[j] == '$' || cs[j] == '_' || cs[j] == '\\')
        {
            let start = j;
            let mut k = j;
            while k < cs.len()
                && (cs[k].is_alphanumeric() || matches!(cs[k], '$' | '_' | '.' | '\\'))
            {
                k += 1;
            }
            let word: String = cs[start..k].iter().collect();
            if cs.get(k) == Some(&'!') && on == sheet && c != '\'' {
                on = book.sheet(&word).ok_or_else(|| {
                    Untranslated::Unsupported(format!(
                        "a sheet named '{word}' that is not in the workbook"
                    ))
                })?;
                i = k + 1;
                // Read the reference after the prefix on the next turn, on that sheet.
                let rest: String = cs[i..].iter().collect();
                let mut inner = lex_ref(&rest, on)?;
                i += inner.1;
                out.append(&mut inner.0);
                continue;
            }
            if let Some(first) = a1(&word) {
                // A range A1:B2?
                if cs.get(k) == Some(&':') {
                    let mut m = k + 1;
                    while m < cs.len() && (cs[m].is_ascii_alphanumeric() || cs[m] == '$') {
                        m += 1;
                    }
                    let second: String = cs[k + 1..m].iter().collect();
                    if let Some(last) = a1(&second) {
                        out.push(Tok::Range((on, first.0, first.1), (on, last.0, last.1)));
                        i = m;
                        continue;
                    }
                    return unsupported(format!(
                        "the range {word}:{second} (whole rows or columns)"
                    ));
                }
                out.push(Tok::Cell((on, first.0, first.1)));
                i = k;
                continue;
            }
            let upper = word.to_ascii_uppercase();
            let upper = upper.strip_prefix("_XLFN.").unwrap_or(&upper).to_string();
            if cs.get(k) == Some(&'(') {
                out.push(Tok::Func(upper));
                out.push(Tok::Open);
                i = k + 1;
                continue;
            }
            match upper.as_str() {
                "TRUE" => out.push(Tok::Num(1.0)),
                "FALSE" => out.push(Tok::Num(0.0)),
                _ => out.push(Tok::Name(word)),
            }
            i = k;
            continue;
        }
        let two: String = cs[i..(i + 2).min(cs.len())].iter().collect();
        let op: Option<(&'static str, usize)> = match two.as_str() {
            "<>" => Some(("<>", 2)),
            "<=" => Some(("<=", 2)),
            ">=" => Some((">=", 2)),
            _ => match c {
                '+' => Some(("+", 1)),
                '-' => Some(("-", 1)),
                '*' => Some(("*", 1)),
                '/' => Some(("/", 1)),
                '^' => Some(("^", 1)),
                '=' => Some(("=", 1)),
                '<' => Some(("<", 1)),
                '>' => Some((">", 1)),
                '&' => Some(("&", 1)),
                '%' => Some(("%", 1)),
                _ => None,
            },
        };
        if let Some((o, n)) = op {
            out.push(Tok::Op(o));
            i += n;
            continue;
        }
        match c {
            '(' => out.push(Tok::Open),
            ')' => out.push(Tok::Close),
            ',' => out.push(Tok::Comma),
            '{' => return unsupported("an array constant {…}".into()),
            '[' => return unsupported("a structured table reference […]".into()),
            '#' => return unsupported("an error value (#REF!, #N/A…)".into()),
            other => return unsupported(format!("the character '{other}'")),
        }
        i += 1;
    }
    Ok(out)
}

/// A reference (cell or range) at the start of `s` on sheet `on`: its token and length.
fn lex_ref(s: &str, on: usize) -> Result<(Vec<Tok>, usize), Untranslated> {
    let cs: Vec<char> = s.chars().collect();
    let mut k = 0;
    while k < cs.len() && (cs[k].is_ascii_alphanumeric() || cs[k] == '$') {
        k += 1;
    }
    let word: String = cs[..k].iter().collect();
    let Some(first) = a1(&word) else {
        return Err(Untranslated::Unsupported(format!("the reference {word}")));
    };
    if cs.get(k) == Some(&':') {
        let mut m = k + 1;
        while m < cs.len() && (cs[m].is_ascii_alphanumeric() || cs[m] == '$') {
            m += 1;
        }
        let second: String = cs[k + 1..m].iter().collect();
        let last = a1(&second)
            .ok_or_else(|| Untranslated::Unsupported(format!("the range {word}:{second}")))?;
        return Ok((
            vec![Tok::Range((on, first.0, first.1), (on, last.0, last.1))],
            m,
        ));
    }
    Ok((vec![Tok::Cell((on, first.0, first.1))], k))
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    /// Excel's precedence, loosest first: comparisons, &, + -, * /, ^.
    fn expr(&mut self, level: u8) -> Result<Ast, Untranslated> {
        const LEVELS: [&[&str]; 5] = [
            &["=", "<>", "<", ">", "<=", ">="],
            &["&"],
            &["+", "-"],
            &["*", "/"],
            &["^"],
        ];
        if level as usize == LEVELS.len() {
            return self.unary();
        }
        let mut lhs = self.expr(level + 1)?;
        while let Some(Tok::Op(o)) = self.peek() {
            let o = *o;
            if !LEVELS[level as usize].contains(&o) {
                break;
            }
            self.at += 1;
            let rhs = self.expr(level + 1)?;
            lhs = Ast::Bin(o, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Ast, Untranslated> {
        match self.peek() {
            Some(Tok::Op("-")) => {
                self.at += 1;
                Ok(Ast::Neg(Box::new(self.unary()?)))
            }
            Some(Tok::Op("+")) => {
                self.at += 1;
                self.unary()
            }
            _ => {
                let mut a = self.atom()?;
                while let Some(Tok::Op("%")) = self.peek() {
                    self.at += 1;
                    a = Ast::Percent(Box::new(a));
                }
                Ok(a)
            }
        }
    }

    fn atom(&mut self) -> Result<Ast, Untranslated> {
        let t = self
            .toks
            .get(self.at)
            .cloned()
            .ok_or_else(|| Untranslated::Unsupported("a formula that ends early".into()))?;
        self.at += 1;
        Ok(match t {
            Tok::Num(v) => Ast::Num(v),
            Tok::Text => Ast::Text,
            Tok::Cell(k) => Ast::Cell(k),
            Tok::Range(a, b) => Ast::Range(a, b),
            Tok::Name(n) => Ast::Name(n),
            Tok::Open => {
                let e = self.expr(0)?;
                self.expect_close()?;
                e
            }
            Tok::Func(f) => {
                self.at += 1; // the `(` the lexer put after the name
                let mut args = Vec::new();
                if self.peek() != Some(&Tok::Close) {
                    loop {
                        args.push(self.expr(0)?);
                        if self.peek() == Some(&Tok::Comma) {
                            self.at += 1;
                            continue;
                        }
                        break;
                    }
                }
                self.expect_close()?;
                Ast::Func(f, args)
            }
            other => {
                return Err(Untranslated::Unsupported(format!(
                    "{other:?} where a value belongs"
                )))
            }
        })
    }

    fn expect_close(&mut self) -> Result<(), Untranslated> {
        if self.peek() == Some(&Tok::Close) {
            self.at += 1;
            Ok(())
        } else {
            Err(Untranslated::Unsupported(
                "an unbalanced parenthesis".into(),
            ))
        }
    }
}

/// The cells of a range, row by row (Excel's order for SUM and friends).
fn cells(a: Key, b: Key) -> Vec<Key> {
    let (r0, r1) = (a.1.min(b.1), a.1.max(b.1));
    let (c0, c1) = (a.2.min(b.2), a.2.max(b.2));
    let mut out = Vec::new();
    for r in r0..=r1 {
        for c in c0..=c1 {
            out.push((a.0, r, c));
        }
    }
    out
}

/// The most cells one range in a formula may spread into.
const MAX_RANGE: usize = 100_000;

/// A function's arguments spread into items: each range's numeric cells (blank and text
/// cells left out, as SUM, AVERAGE, MAX do), each other argument as itself.
fn items(args: &[Ast], cx: &mut Cx<'_>) -> Result<Vec<String>, Untranslated> {
    let mut out = Vec::new();
    for a in args {
        match a {
            Ast::Range(x, y) => {
                let cs = cells(*x, *y);
                if cs.len() > MAX_RANGE {
                    return Err(Untranslated::Unsupported(format!(
                        "a range of {} cells (at most {MAX_RANGE})",
                        cs.len()
                    )));
                }
                out.extend(
                    cs.into_iter()
                        .filter(|k| cx.book.numeric(*k))
                        .map(crate::var),
                );
            }
            other => out.push(emit(other, cx)?),
        }
    }
    Ok(out)
}

/// A range argument as its cells, blanks and text as 0 (SUMPRODUCT's rule).
fn array(a: &Ast, cx: &mut Cx<'_>) -> Result<Vec<String>, Untranslated> {
    match a {
        Ast::Range(x, y) => Ok(cells(*x, *y)
            .into_iter()
            .map(|k| {
                if cx.book.numeric(k) {
                    crate::var(k)
                } else {
                    "0".into()
                }
            })
            .collect()),
        other => Ok(vec![emit(other, cx)?]),
    }
}

/// What a translation builds beside the cell's own formula: partial sums, as cells of
/// their own.
struct Cx<'a> {
    book: &'a dyn Lookup,
    /// The engine name of the cell being translated, which partial sums are named after.
    owner: String,
    aux: Vec<(String, String)>,
}

/// The most terms one sum adds before its partial sum becomes a cell of its own.
const CHUNK: usize = 100;

impl Cx<'_> {
    /// The terms added left to right, as Excel accumulates a range. A long sum is cut into
    /// partial sums held by cells of their own (`…_p1 = t1+…+t100`, `…_p2 = …_p1+t101+…`),
    /// which adds in the same order, so the same bits, while no formula nests deeper than
    /// the engine allows.
    fn sum(&mut self, terms: Vec<String>) -> String {
        if terms.is_empty() {
            return "0".into();
        }
        let mut acc: Option<String> = None;
        let chunks: Vec<&[String]> = terms.chunks(CHUNK).collect();
        let last = chunks.len() - 1;
        for (i, c) in chunks.into_iter().enumerate() {
            let body = match &acc {
                None => c.join("+"),
                Some(a) => format!("{a}+{}", c.join("+")),
            };
            if i == last {
                return format!("({body})");
            }
            let name = format!("{}_p{}", self.owner, self.aux.len() + 1);
            self.aux.push((name.clone(), format!("({body})")));
            acc = Some(name);
        }
        "0".into()
    }
}

/// MAX or MIN of any number of items, in groups of at most 255 (the engine's and Excel's
/// limit per call).
fn fold(f: &str, items: Vec<String>) -> String {
    if items.is_empty() {
        return "0".into();
    }
    let mut items = items;
    while items.len() > 255 {
        items = items
            .chunks(255)
            .map(|c| format!("{f}({})", c.join(",")))
            .collect();
    }
    format!("{f}({})", items.join(","))
}

fn emit(a: &Ast, cx: &mut Cx<'_>) -> Result<String, Untranslated> {
    let unsupported = |w: &str| Err(Untranslated::Unsupported(w.to_string()));
    Ok(match a {
        Ast::Num(v) => {
            if *v < 0.0 {
                format!("({})", gradsheet_engine::format_number(*v))
            } else {
                gradsheet_engine::format_number(*v)
            }
        }
        Ast::Text => return unsupported("text"),
        Ast::Cell(k) => {
            if cx.book.is_text(*k) {
                return unsupported(&format!("the text in {}", cx.book.address(*k)));
            }
            if cx.book.numeric(*k) {
                crate::var(*k)
            } else {
                // A blank cell is 0 in arithmetic.
                "0".into()
            }
        }
        Ast::Range(..) => return unsupported("a range where one value belongs (an array formula)"),
        Ast::Name(n) => match cx.book.name(n) {
            Some(Ok(k)) => emit(&Ast::Cell(k), cx)?,
            Some(Err(v)) => emit(&Ast::Num(v), cx)?,
            None => return unsupported(&format!("the name {n}")),
        },
        Ast::Neg(x) => format!("(-{})", emit(x, cx)?),
        Ast::Percent(x) => format!("({}/100)", emit(x, cx)?),
        Ast::Bin("&", ..) => return unsupported("text joined with &"),
        Ast::Bin(o, x, y) => format!("({}{o}{})", emit(x, cx)?, emit(y, cx)?),
        Ast::Func(f, args) => {
            if VOLATILE.contains(&f.as_str()) {
                return Err(Untranslated::Volatile(f.clone()));
            }
            match f.as_str() {
                "SUM" => {
                    let it = items(args, cx)?;
                    cx.sum(it)
                }
                "AVERAGE" => {
                    let it = items(args, cx)?;
                    if it.is_empty() {
                        return unsupported("AVERAGE of no numbers (#DIV/0!)");
                    }
                    let n = it.len();
                    format!("({}/{n})", cx.sum(it))
                }
                "COUNT" => items(args, cx)?.len().to_string(),
                "SUMSQ" => {
                    let it = items(args, cx)?;
                    cx.sum(it.into_iter().map(|t| format!("{t}^2")).collect())
                }
                "MAX" | "MIN" => fold(f, items(args, cx)?),
                "SUMPRODUCT" => {
                    let arrays: Vec<Vec<String>> = args
                        .iter()
                        .map(|a| array(a, cx))
                        .collect::<Result<_, _>>()?;
                    let n = arrays.first().map_or(0, Vec::len);
                    if arrays.iter().any(|a| a.len() != n) {
                        return unsupported("SUMPRODUCT of ranges of different sizes (#VALUE!)");
                    }
                    cx.sum(
                        (0..n)
                            .map(|i| {
                                let f: Vec<&str> = arrays.iter().map(|a| a[i].as_str()).collect();
                                format!("({})", f.join("*"))
                            })
                            .collect(),
                    )
                }
                "SUMXMY2" => {
                    let [x, y] = args.as_slice() else {
                        return unsupported("SUMXMY2 with other than two ranges");
                    };
                    let (x, y) = (array(x, cx)?, array(y, cx)?);
                    if x.len() != y.len() {
                        return unsupported("SUMXMY2 of ranges of different sizes (#N/A)");
                    }
                    cx.sum(
                        x.iter()
                            .zip(&y)
                            .map(|(a, b)| format!("({a}-{b})^2"))
                            .collect(),
                    )
                }
                "POWER" => {
                    let [x, y] = args.as_slice() else {
                        return unsupported("POWER with other than two arguments");
                    };
                    format!("({}^{})", emit(x, cx)?, emit(y, cx)?)
                }
                name if ENGINE.contains(&name) => {
                    let a: Vec<String> =
                        args.iter().map(|x| emit(x, cx)).collect::<Result<_, _>>()?;
                    format!("{name}({})", a.join(","))
                }
                other => return unsupported(&format!("the function {other}")),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct One;
    impl Lookup for One {
        fn sheet(&self, name: &str) -> Option<usize> {
            match name {
                "Sheet1" => Some(0),
                "basic SGD" => Some(1),
                _ => None,
            }
        }
        fn numeric(&self, k: Key) -> bool {
            k.1 < 10
        }
        fn is_text(&self, k: Key) -> bool {
            k.1 == 50
        }
        fn name(&self, n: &str) -> Option<Result<Key, f64>> {
            (n == "lr").then_some(Ok((0, 0, 5)))
        }
        fn address(&self, k: Key) -> String {
            format!("{k:?}")
        }
    }

    #[test]
    fn references_ranges_and_functions() {
        let t = |s: &str| translate(s, 0, "s0r0c9", &One).map(|(t, _)| t);
        assert_eq!(t("A1+$B$2*2").unwrap(), "(s0r0c0+(s0r1c1*2))");
        assert_eq!(t("'basic SGD'!C3-lr").unwrap(), "(s1r2c2-s0r0c5)");
        assert_eq!(t("SUM(A1:B2)").unwrap(), "(s0r0c0+s0r0c1+s0r1c0+s0r1c1)");
        // Blank cells (rows past 10 here) are left out of SUM and count for AVERAGE not.
        assert_eq!(t("AVERAGE(A9:A12)").unwrap(), "((s0r8c0+s0r9c0)/2)");
        assert_eq!(
            t("SUMPRODUCT(A1:A2,B1:B2)").unwrap(),
            "((s0r0c0*s0r0c1)+(s0r1c0*s0r1c1))"
        );
        assert_eq!(t("-A1^2").unwrap(), "((-s0r0c0)^2)");
        assert_eq!(
            t("SQRT(SUMXMY2(A1:A2,B1:B2)/COUNT(A1:A2))").unwrap(),
            "SQRT((((s0r0c0-s0r0c1)^2+(s0r1c0-s0r1c1)^2)/2))"
        );
        assert_eq!(
            t("RANDBETWEEN(1,100)"),
            Err(Untranslated::Volatile("RANDBETWEEN".into()))
        );
        assert_eq!(
            t("VLOOKUP(A1,B1:C9,2)"),
            Err(Untranslated::Unsupported("the function VLOOKUP".into()))
        );
        assert!(matches!(t("A51+1"), Err(Untranslated::Unsupported(w)) if w.contains("text")));
        assert_eq!(t("10%*A1").unwrap(), "((10/100)*s0r0c0)");
        // A long sum in partial sums of their own, added in the same order.
        let (text, aux) = translate("SUM(A1:Z9)", 0, "s0r0c9", &One).unwrap();
        assert_eq!(aux.len(), 2, "{aux:?}");
        assert_eq!(aux[0].0, "s0r0c9_p1");
        assert!(aux[1].1.starts_with("(s0r0c9_p1+"), "{aux:?}");
        assert!(
            text.starts_with("(s0r0c9_p2+") && text.ends_with("s0r8c25)"),
            "{text}"
        );
    }
}

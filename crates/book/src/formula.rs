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
    Text(String),
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
    "INDIRECT",
];

/// Functions the engine computes with the same name and arguments.
const ENGINE: &[&str] = &[
    "EXP", "LN", "LOG", "LOG10", "SQRT", "ABS", "IF", "SIGN", "TANH", "ROUND", "INT",
];

/// Translates `src` (the formula without its `=`) on sheet `sheet` into engine text; the
/// names it uses are [`crate::var`] names of cells. `owner` is the engine name of the cell
/// the formula belongs to; the cells of its partial sums, if it has any, come back beside
/// its text as (name, engine text).
pub fn translate(
    src: &str,
    owner: Key,
    book: &dyn Lookup,
) -> Result<(String, Vec<(String, String)>), Untranslated> {
    let ast = parse(src, owner, book)?;
    let mut cx = Cx {
        book,
        sheet: owner.0,
        owner_key: owner,
        owner: crate::var(owner),
        aux: Vec::new(),
    };
    let text = emit(&ast, &mut cx)?;
    Ok((text, cx.aux))
}

/// A cell of the engine's graph a translation adds: (name, engine text).
pub type Named = (String, String);

/// An array formula anchored at `owner` filling `rows × cols` cells: the engine text of
/// each cell, row by row, and the partial sums they share. A result smaller than the
/// range fills it as Excel does when it is one value (every cell) and is refused
/// otherwise (#N/A in the cells past it).
pub fn translate_array(
    src: &str,
    owner: Key,
    (rows, cols): (usize, usize),
    book: &dyn Lookup,
) -> Result<(Vec<String>, Vec<Named>), Untranslated> {
    let ast = parse(src, owner, book)?;
    let mut cx = Cx {
        book,
        sheet: owner.0,
        owner_key: owner,
        owner: format!("{}_a", crate::var(owner)),
        aux: Vec::new(),
    };
    let cells = match arr(&ast, &mut cx)? {
        None => vec![emit(&ast, &mut cx)?; rows * cols],
        Some(a) if a.rows == 1 && a.cols == 1 => vec![a.v[0].clone(); rows * cols],
        Some(a) if a.rows >= rows && a.cols >= cols => (0..rows)
            .flat_map(|r| (0..cols).map(move |c| (r, c)))
            .map(|(r, c)| a.v[r * a.cols + c].clone())
            .collect(),
        Some(a) => {
            return Err(Untranslated::Unsupported(format!(
                "an array formula giving {}×{} values for {rows}×{cols} cells (#N/A past them)",
                a.rows, a.cols
            )))
        }
    };
    Ok((cells, cx.aux))
}

fn parse(src: &str, owner: Key, book: &dyn Lookup) -> Result<Ast, Untranslated> {
    let toks = lex(src, owner, book)?;
    let mut p = Parser { toks, at: 0 };
    let ast = p.expr(0)?;
    if p.at != p.toks.len() {
        return Err(Untranslated::Unsupported(format!(
            "cannot read the formula past {:?}",
            p.toks[p.at]
        )));
    }
    Ok(ast)
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Text(String),
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
    (row >= 1 && col < 16_384).then(|| (row - 1, col))
}

fn lex(src: &str, owner: Key, book: &dyn Lookup) -> Result<Vec<Tok>, Untranslated> {
    let sheet = owner.0;
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
            let mut t = String::new();
            while i < cs.len() {
                if cs[i] == '"' {
                    // `""` inside a string is one quote.
                    if cs.get(i + 1) == Some(&'"') {
                        t.push('"');
                        i += 2;
                        continue;
                    }
                    break;
                }
                t.push(cs[i]);
                i += 1;
            }
            i += 1;
            out.push(Tok::Text(t));
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
            if cs.get(k) == Some(&'[') {
                // A structured reference, `Table13[[#This Row],[Age]]`.
                let (tok, end) = structured(&cs, k, Some(&word), owner, book)?;
                out.push(tok);
                i = end;
                continue;
            }
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
            // A word before `(` is a function, even one spelt like a cell (LOG10).
            if let Some(first) = a1(&word).filter(|_| cs.get(k) != Some(&'(')) {
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
                _ => match book.name_range(&word, sheet) {
                    // A name for a range (`histgrad` = F33:G33) is that range.
                    Some((a, b)) => out.push(Tok::Range(a, b)),
                    None => out.push(Tok::Name(word)),
                },
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
            '[' => {
                // A structured reference without its table: the table the cell is in.
                let (tok, end) = structured(&cs, i, None, owner, book)?;
                out.push(tok);
                i = end;
                continue;
            }
            '#' => return unsupported("an error value (#REF!, #N/A…)".into()),
            other => return unsupported(format!("the character '{other}'")),
        }
        i += 1;
    }
    Ok(out)
}

/// The structured reference whose brackets open at `cs[open]`, on table `table` (or the
/// table `owner` is in): the cell or range it names, and where it ends. Handles a column
/// (`T[Age]`), a run of columns (`T[[SibSp]:[Ones]]`), this row of either
/// (`T[[#This Row],[Age]]`, `T[@Age]`), and `#Data`/`#All`/`#Headers`.
fn structured(
    cs: &[char],
    open: usize,
    table: Option<&str>,
    owner: Key,
    book: &dyn Lookup,
) -> Result<(Tok, usize), Untranslated> {
    let unsupported = |w: String| Err(Untranslated::Unsupported(w));
    // The bracketed text, nesting counted, `'` escaping the next character.
    let mut depth = 0;
    let mut k = open;
    let mut inner = String::new();
    while k < cs.len() {
        let ch = cs[k];
        if ch == '\'' {
            if let Some(&n) = cs.get(k + 1) {
                inner.push('\'');
                inner.push(n);
            }
            k += 2;
            continue;
        }
        if ch == '[' {
            depth += 1;
        } else if ch == ']' {
            depth -= 1;
            if depth == 0 {
                break;
            }
        }
        inner.push(ch);
        k += 1;
    }
    if depth != 0 {
        return unsupported("an unclosed structured reference […]".into());
    }
    let end = k + 1;
    // `inner` is the text inside the outer brackets (without them).
    let inner = &inner[1..];
    let t = match table {
        Some(name) => book.table(name),
        None => book.table_at(owner),
    };
    let Some(t) = t else {
        return unsupported(match table {
            Some(n) => format!("the table {n} that is not in the workbook"),
            None => "a structured reference outside a table".into(),
        });
    };
    let unescape = |s: &str| {
        let mut o = String::new();
        let mut it = s.chars();
        while let Some(c) = it.next() {
            if c == '\'' {
                if let Some(n) = it.next() {
                    o.push(n);
                }
            } else {
                o.push(c);
            }
        }
        o
    };
    let column = |name: &str| -> Result<u32, Untranslated> {
        let name = unescape(name.trim());
        t.columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(&name))
            .map(|i| t.first_col + i as u32)
            .ok_or_else(|| {
                Untranslated::Unsupported(format!(
                    "the column [{name}] that table {} does not have",
                    t.name
                ))
            })
    };
    // Items: `[#This Row],[A]:[B]` or a bare column name `Age` or `@Age`.
    let mut this_row = false;
    let mut rows = t.rows;
    let mut cols: Option<(u32, u32)> = None;
    let parts: Vec<String> = if inner.starts_with('[') {
        let mut v = Vec::new();
        let mut cur = String::new();
        let mut d = 0;
        let mut chars = inner.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\'' => {
                    cur.push(c);
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                }
                '[' => {
                    d += 1;
                    cur.push(c);
                }
                ']' => {
                    d -= 1;
                    cur.push(c);
                }
                ',' if d == 0 => v.push(std::mem::take(&mut cur)),
                _ => cur.push(c),
            }
        }
        v.push(cur);
        v
    } else if let Some(rest) = inner.strip_prefix('@') {
        this_row = true;
        vec![format!(
            "[{}]",
            rest.trim_start_matches('[').trim_end_matches(']')
        )]
    } else {
        vec![format!("[{inner}]")]
    };
    for p in parts {
        let p = p.trim();
        let strip = |s: &str| {
            s.trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string()
        };
        let body = strip(p);
        match body.to_ascii_lowercase().as_str() {
            "#this row" => this_row = true,
            "#data" => {}
            "#all" => rows.0 = rows.0.saturating_sub(1),
            "#headers" => rows = (rows.0.saturating_sub(1), rows.0.saturating_sub(1)),
            "#totals" => return unsupported("a table's #Totals row".into()),
            _ => {
                let (a, b) = match p.split_once("]:[") {
                    Some((a, b)) => (column(&strip(a))?, column(&strip(b))?),
                    None => {
                        let c = column(&body)?;
                        (c, c)
                    }
                };
                cols = Some((a, b));
            }
        }
    }
    let s = book
        .sheet(&t.sheet)
        .ok_or_else(|| Untranslated::Unsupported(format!("the sheet of table {}", t.name)))?;
    if this_row {
        // The formula's own row of the table, even from another sheet (Excel intersects
        // by row number: nnet's formulas read the linear sheet's table so).
        if owner.1 < t.rows.0 || owner.1 > t.rows.1 {
            return unsupported(format!(
                "[#This Row] of table {} from a cell outside its rows",
                t.name
            ));
        }
        rows = (owner.1, owner.1);
    }
    let (c0, c1) = cols.unwrap_or((t.first_col, t.first_col + t.columns.len() as u32 - 1));
    let (a, b) = ((s, rows.0, c0), (s, rows.1, c1));
    Ok((
        if a == b {
            Tok::Cell(a)
        } else {
            Tok::Range(a, b)
        },
        end,
    ))
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
            Tok::Text(t) => Ast::Text(t),
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
pub(crate) fn cells(a: Key, b: Key) -> Vec<Key> {
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
            Ast::Func(f, _) if f == "OFFSET" || f == "INDEX" => {
                let sel = select(a, cx)?;
                out.extend(items(std::slice::from_ref(&sel), cx)?);
            }
            other => match arr(other, cx)? {
                // An array expression (`A2:C4*F1:F3`, `EXP(B1:C1)`): every element.
                Some(x) => out.extend(x.v),
                None => out.push(emit(other, cx)?),
            },
        }
    }
    Ok(out)
}

/// A range argument as its cells, blanks and text as 0 (SUMPRODUCT's rule); an array
/// expression as its elements.
fn array(a: &Ast, cx: &mut Cx<'_>) -> Result<Vec<String>, Untranslated> {
    match arr(a, cx)? {
        Some(x) => Ok(x.v),
        None => Ok(vec![emit(a, cx)?]),
    }
}

/// An array: its shape and its elements row by row, as engine text.
#[derive(Clone, Debug, PartialEq)]
struct Arr {
    rows: usize,
    cols: usize,
    v: Vec<String>,
}

/// `a` as an array when it is one (a range, an operation or function of ranges
/// elementwise, MMULT, a selection of several cells), `None` for a single value. Blank
/// and text cells of a range are 0, as in Excel's array arithmetic.
fn arr(a: &Ast, cx: &mut Cx<'_>) -> Result<Option<Arr>, Untranslated> {
    Ok(match a {
        Ast::Range(x, y) => {
            let (rows, cols) = (
                (x.1.abs_diff(y.1) + 1) as usize,
                (x.2.abs_diff(y.2) + 1) as usize,
            );
            if rows * cols > MAX_RANGE {
                return Err(Untranslated::Unsupported(format!(
                    "a range of {} cells (at most {MAX_RANGE})",
                    rows * cols
                )));
            }
            let v = cells(*x, *y)
                .into_iter()
                .map(|k| {
                    if cx.book.numeric(k) {
                        crate::var(k)
                    } else {
                        "0".into()
                    }
                })
                .collect();
            Some(Arr { rows, cols, v })
        }
        Ast::Bin(o, x, y) if !matches!(*o, "&") => {
            let (ax, ay) = (arr(x, cx)?, arr(y, cx)?);
            match (ax, ay) {
                (None, None) => None,
                (Some(p), Some(q)) => {
                    if (p.rows, p.cols) != (q.rows, q.cols) {
                        return Err(Untranslated::Unsupported(format!(
                            "an operation on arrays of different shapes ({}×{} and {}×{})",
                            p.rows, p.cols, q.rows, q.cols
                        )));
                    }
                    let v =
                        p.v.iter()
                            .zip(&q.v)
                            .map(|(a, b)| format!("({a}{o}{b})"))
                            .collect();
                    Some(Arr { v, ..p })
                }
                (Some(p), None) => {
                    let b = emit(y, cx)?;
                    let v = p.v.iter().map(|a| format!("({a}{o}{b})")).collect();
                    Some(Arr { v, ..p })
                }
                (None, Some(q)) => {
                    let a = emit(x, cx)?;
                    let v = q.v.iter().map(|b| format!("({a}{o}{b})")).collect();
                    Some(Arr { v, ..q })
                }
            }
        }
        Ast::Neg(x) => arr(x, cx)?.map(|p| Arr {
            v: p.v.iter().map(|a| format!("(-{a})")).collect(),
            ..p
        }),
        Ast::Func(f, args) if ENGINE.contains(&f.as_str()) && args.len() == 1 => {
            let f = if f == "LOG10" { "LOG" } else { f.as_str() };
            arr(&args[0], cx)?.map(|p| Arr {
                v: p.v.iter().map(|a| format!("{f}({a})")).collect(),
                ..p
            })
        }
        Ast::Func(f, args) if f == "SINGLE" && args.len() == 1 => arr(&args[0], cx)?,
        Ast::Func(f, _) if f == "OFFSET" || f == "INDEX" => {
            let sel = select(a, cx)?;
            arr(&sel, cx)?
        }
        Ast::Func(f, args) if f == "MMULT" => {
            let [x, y] = args.as_slice() else {
                return Err(Untranslated::Unsupported(
                    "MMULT with other than two arrays".into(),
                ));
            };
            let (Some(p), Some(q)) = (arr(x, cx)?, arr(y, cx)?) else {
                return Err(Untranslated::Unsupported("MMULT of a single value".into()));
            };
            if p.cols != q.rows {
                return Err(Untranslated::Unsupported(format!(
                    "MMULT of a {}×{} and a {}×{} array (#VALUE!)",
                    p.rows, p.cols, q.rows, q.cols
                )));
            }
            let mut v = Vec::with_capacity(p.rows * q.cols);
            for r in 0..p.rows {
                for c in 0..q.cols {
                    let terms: Vec<String> = (0..p.cols)
                        .map(|k| format!("({}*{})", p.v[r * p.cols + k], q.v[k * q.cols + c]))
                        .collect();
                    v.push(cx.sum(terms));
                }
            }
            Some(Arr {
                rows: p.rows,
                cols: q.cols,
                v,
            })
        }
        _ => None,
    })
}

/// What `a` is worth without recalculating anything: a number, or a cell's saved value
/// (for the positions OFFSET, INDEX and MATCH select by).
fn saved(a: &Ast, cx: &Cx<'_>) -> Option<f64> {
    match a {
        Ast::Num(v) => Some(*v),
        Ast::Cell(k) => {
            if cx.book.numeric(*k) {
                cx.book.cached(*k)
            } else if cx.book.is_text(*k) {
                None
            } else {
                Some(0.0)
            }
        }
        Ast::Name(n) => match cx.book.name(n, cx.sheet)? {
            Ok(k) => saved(&Ast::Cell(k), cx),
            Err(v) => Some(v),
        },
        Ast::Neg(x) => saved(x, cx).map(|v| -v),
        Ast::Bin(o, x, y) => {
            let (a, b) = (saved(x, cx)?, saved(y, cx)?);
            match *o {
                "+" => Some(a + b),
                "-" => Some(a - b),
                "*" => Some(a * b),
                "/" => Some(a / b),
                _ => None,
            }
        }
        _ => None,
    }
}

/// OFFSET and INDEX resolved to the cell or range they select at the workbook's saved
/// values: the selected cell is then an ordinary reference, and a derivative flows to it
/// (and to it only) as through any reference. A change of input that would move the
/// selection is not followed: the saved positions stay.
fn select(a: &Ast, cx: &Cx<'_>) -> Result<Ast, Untranslated> {
    let unsupported = |w: String| Err(Untranslated::Unsupported(w));
    let Ast::Func(f, args) = a else {
        return Ok(a.clone());
    };
    let corners = |r: &Ast| match r {
        Ast::Cell(k) => Some((*k, *k)),
        Ast::Range(x, y) => Some((
            (x.0, x.1.min(y.1), x.2.min(y.2)),
            (x.0, x.1.max(y.1), x.2.max(y.2)),
        )),
        _ => None,
    };
    let position = |e: &Ast, what: &str| -> Result<i64, Untranslated> {
        match saved(e, cx) {
            Some(v) if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e6 => Ok(v as i64),
            _ => Err(Untranslated::Unsupported(format!(
                "{f}'s {what} that is not a saved whole number"
            ))),
        }
    };
    let at = |k: Key, dr: i64, dc: i64| -> Result<Key, Untranslated> {
        let (r, c) = (i64::from(k.1) + dr, i64::from(k.2) + dc);
        if !(0..1_048_576).contains(&r) || !(0..16_384).contains(&c) {
            return Err(Untranslated::Unsupported(format!(
                "{f} outside the sheet (#REF!)"
            )));
        }
        Ok((k.0, r as u32, c as u32))
    };
    match f.as_str() {
        "OFFSET" => {
            if !(3..=5).contains(&args.len()) {
                return unsupported("OFFSET with other than 3 to 5 arguments".into());
            }
            let base = match &args[0] {
                Ast::Func(..) => select(&args[0], cx)?,
                other => other.clone(),
            };
            let Some((tl, br)) = corners(&base) else {
                return unsupported("OFFSET of something that is not a reference".into());
            };
            let (dr, dc) = (position(&args[1], "rows")?, position(&args[2], "columns")?);
            let h = match args.get(3) {
                Some(e) => position(e, "height")?,
                None => i64::from(br.1 - tl.1) + 1,
            };
            let w = match args.get(4) {
                Some(e) => position(e, "width")?,
                None => i64::from(br.2 - tl.2) + 1,
            };
            if h < 1 || w < 1 {
                return unsupported("OFFSET of no cells (#REF!)".into());
            }
            let first = at(tl, dr, dc)?;
            let last = at(first, h - 1, w - 1)?;
            Ok(if first == last {
                Ast::Cell(first)
            } else {
                Ast::Range(first, last)
            })
        }
        "INDEX" => {
            if !(2..=3).contains(&args.len()) {
                return unsupported("INDEX with other than 2 or 3 arguments".into());
            }
            let Some((tl, br)) = corners(&args[0]) else {
                return unsupported("INDEX of something that is not a range".into());
            };
            let (rows, cols) = (i64::from(br.1 - tl.1) + 1, i64::from(br.2 - tl.2) + 1);
            let (r, c) = match args.get(2) {
                Some(e) => (position(&args[1], "row")?, position(e, "column")?),
                // One index into a row or a column.
                None if rows == 1 => (1, position(&args[1], "position")?),
                None => (position(&args[1], "row")?, 1),
            };
            if r < 1 || c < 1 || r > rows || c > cols {
                return unsupported(format!(
                    "INDEX of row {r}, column {c} in a {rows}×{cols} range (a whole row or column, or #REF!)"
                ));
            }
            Ok(Ast::Cell(at(tl, r - 1, c - 1)?))
        }
        _ => Ok(a.clone()),
    }
}

/// A cell's or literal's content for a comparison with text: its text, `""` for a blank
/// cell, `None` for a number (never equal to a text).
fn text_of(a: &Ast, cx: &Cx<'_>) -> Option<Option<String>> {
    match a {
        Ast::Text(t) => Some(Some(t.clone())),
        Ast::Cell(k) => {
            if cx.book.numeric(*k) {
                Some(None)
            } else if cx.book.is_text(*k) {
                Some(cx.book.text(*k))
            } else {
                Some(Some(String::new()))
            }
        }
        _ => None,
    }
}

/// What a translation builds beside the cell's own formula: partial sums, as cells of
/// their own.
struct Cx<'a> {
    book: &'a dyn Lookup,
    /// The sheet of the cell being translated (whose names come first).
    sheet: usize,
    /// The cell being translated (the top left one of an array formula).
    owner_key: Key,
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
        Ast::Text(_) => return unsupported("text"),
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
        Ast::Range(..) => match arr(a, cx)? {
            Some(x) if x.v.len() == 1 => x.v[0].clone(),
            _ => return unsupported("a range where one value belongs (an array formula)"),
        },
        Ast::Name(n) => match cx.book.name(n, cx.sheet) {
            Some(Ok(k)) => emit(&Ast::Cell(k), cx)?,
            Some(Err(v)) => emit(&Ast::Num(v), cx)?,
            None => return unsupported(&format!("the name {n}")),
        },
        Ast::Neg(x) => format!("(-{})", emit(x, cx)?),
        Ast::Percent(x) => format!("({}/100)", emit(x, cx)?),
        Ast::Bin("&", ..) => return unsupported("text joined with &"),
        // A comparison with text is settled by what the cells hold, which no number of
        // the workbook changes: `IF(H2="",0,…)` tests for a blank.
        Ast::Bin(o @ ("=" | "<>"), x, y)
            if matches!(**x, Ast::Text(_))
                || matches!(**y, Ast::Text(_))
                || matches!(**x, Ast::Cell(k) if cx.book.is_text(k))
                || matches!(**y, Ast::Cell(k) if cx.book.is_text(k)) =>
        {
            let (Some(p), Some(q)) = (text_of(x, cx), text_of(y, cx)) else {
                return unsupported("a comparison of text with a computed value");
            };
            let equal = match (p, q) {
                (Some(p), Some(q)) => p.to_lowercase() == q.to_lowercase(),
                _ => false,
            };
            if equal == (*o == "=") { "1" } else { "0" }.to_string()
        }
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
                    // Pairs with a blank or text cell on either side are skipped, as Excel
                    // does (a blank rating is no error of 0 − prediction).
                    let (x, y) = match (x, y) {
                        (Ast::Range(a, b), Ast::Range(c, d)) => {
                            let (p, q) = (cells(*a, *b), cells(*c, *d));
                            if p.len() != q.len() {
                                return unsupported("SUMXMY2 of ranges of different sizes (#N/A)");
                            }
                            p.into_iter()
                                .zip(q)
                                .filter(|(a, b)| cx.book.numeric(*a) && cx.book.numeric(*b))
                                .map(|(a, b)| (crate::var(a), crate::var(b)))
                                .unzip()
                        }
                        _ => (array(x, cx)?, array(y, cx)?),
                    };
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
                "ROWS" | "COLUMNS" => {
                    let [Ast::Range(x, y)] = args.as_slice() else {
                        return match args.as_slice() {
                            [Ast::Cell(_)] => Ok("1".into()),
                            _ => unsupported(&format!("{f} of something that is not a range")),
                        };
                    };
                    let n = if f == "ROWS" {
                        x.1.abs_diff(y.1)
                    } else {
                        x.2.abs_diff(y.2)
                    } + 1;
                    n.to_string()
                }
                "VAR.P" | "VARP" => {
                    // Excel's one-pass form, (n·Σx² − (Σx)²)/n², which its saved values
                    // match bit for bit (docs/workbooks.md; the two-pass form does not).
                    let it = items(args, cx)?;
                    if it.is_empty() {
                        return unsupported(&format!("{f} of no numbers (#DIV/0!)"));
                    }
                    let n = it.len();
                    let sq = cx.sum(it.iter().map(|t| format!("{t}^2")).collect());
                    let sum = cx.sum(it);
                    format!("((({n}*{sq})-{sum}^2)/{})", n * n)
                }
                "STDEV.P" | "STDEVP" => {
                    // Two passes, √(Σ(x − x̄)²/n), as Excel's saved values have it: the
                    // mean once, as a cell of its own, then the squared deviations from it
                    // added left to right.
                    let it = items(args, cx)?;
                    if it.is_empty() {
                        return unsupported(&format!("{f} of no numbers (#DIV/0!)"));
                    }
                    let n = it.len();
                    let sum = cx.sum(it.clone());
                    let mean = format!("{}_m{}", cx.owner, cx.aux.len() + 1);
                    cx.aux.push((mean.clone(), format!("({sum}/{n})")));
                    let dev = cx.sum(it.iter().map(|t| format!("({t}-{mean})^2")).collect());
                    format!("SQRT({dev}/{n})")
                }
                "MATCH" => match_of(args, cx)?,
                "OFFSET" | "INDEX" => {
                    let sel = select(a, cx)?;
                    emit(&sel, cx)?
                }
                "SINGLE" if args.len() == 1 => emit(&args[0], cx)?,
                "MMULT" => match arr(a, cx)? {
                    Some(x) if x.v.len() == 1 => x.v[0].clone(),
                    _ => return unsupported("MMULT of several cells where one value belongs (a multi-cell array formula)"),
                },
                "CEILING.MATH" | "CEILING" | "FLOOR.MATH" | "FLOOR" => {
                    // With significance 1 (the default of the .MATH forms) these are
                    // -INT(-x) and INT(x); CEILING.MATH's mode only matters for other
                    // significances.
                    let x = match args.as_slice() {
                        [x] if f.ends_with(".MATH") => x,
                        [x, s] | [x, s, _] if saved(s, cx) == Some(1.0) => x,
                        _ => {
                            return unsupported(&format!(
                                "{f} with a significance other than 1"
                            ))
                        }
                    };
                    let x = emit(x, cx)?;
                    if f.starts_with("CEILING") {
                        format!("(-INT(-{x}))")
                    } else {
                        format!("INT({x})")
                    }
                }
                "ROW" | "COLUMN" => match args.as_slice() {
                    // The position of a cell: fixed once the formula is where it is.
                    [Ast::Cell(k)] | [Ast::Range(k, _)] => {
                        (if f == "ROW" { k.1 } else { k.2 } + 1).to_string()
                    }
                    [] => {
                        let k = cx.owner_key;
                        (if f == "ROW" { k.1 } else { k.2 } + 1).to_string()
                    }
                    _ => return unsupported(&format!("{f} of something that is not a reference")),
                },
                "POWER" => {
                    let [x, y] = args.as_slice() else {
                        return unsupported("POWER with other than two arguments");
                    };
                    format!("({}^{})", emit(x, cx)?, emit(y, cx)?)
                }
                name if ENGINE.contains(&name) => {
                    let a: Vec<String> =
                        args.iter().map(|x| emit(x, cx)).collect::<Result<_, _>>()?;
                    // The engine's LOG is base 10, as Excel's one-argument LOG.
                    let name = if name == "LOG10" { "LOG" } else { name };
                    format!("{name}({})", a.join(","))
                }
                other => return unsupported(&format!("the function {other}")),
            }
        }
    })
}

/// MATCH(x, range, [type]): the position as a sum of comparisons, which holds for every
/// x and passes no derivative (a position is flat): type 1 (the default, an ascending
/// range) counts the entries ≤ x; type 0 adds k·(x = entry k). A text `x` is looked up
/// in the range's text now, as nothing numeric can change it.
fn match_of(args: &[Ast], cx: &mut Cx<'_>) -> Result<String, Untranslated> {
    let unsupported = |w: String| Err(Untranslated::Unsupported(w));
    let (x, range) = match args {
        [x, r] | [x, r, _] => (x, r),
        _ => return unsupported("MATCH with other than 2 or 3 arguments".into()),
    };
    let kind = match args.get(2) {
        None => 1.0,
        Some(t) => match saved(t, cx) {
            Some(v) => v,
            None => return unsupported("MATCH with a computed match type".into()),
        },
    };
    let Ast::Range(a, b) = range else {
        return unsupported("MATCH in something that is not a range".into());
    };
    let entries = cells(*a, *b);
    if entries.len() > 1000 {
        return unsupported(format!("MATCH in {} cells (at most 1000)", entries.len()));
    }
    if let Some(Some(t)) =
        text_of(x, cx).filter(|_| !matches!(x, Ast::Cell(k) if cx.book.numeric(*k)))
    {
        let t = t.to_lowercase();
        let texts: Vec<Option<String>> = entries
            .iter()
            .map(|k| cx.book.text(*k).map(|s| s.to_lowercase()))
            .collect();
        let found = if kind == 0.0 {
            texts.iter().position(|e| e.as_deref() == Some(t.as_str()))
        } else if kind == 1.0 {
            texts
                .iter()
                .enumerate()
                .rev()
                .find(|(_, e)| e.as_deref().is_some_and(|e| e <= t.as_str()))
                .map(|(i, _)| i)
        } else {
            return unsupported("MATCH of text in a descending range".into());
        };
        return match found {
            Some(i) => Ok((i + 1).to_string()),
            None => unsupported(format!("MATCH of \"{t}\" finding nothing (#N/A)")),
        };
    }
    if kind == 1.0 {
        // Excel's approximate MATCH is a binary search: on an ascending range it finds
        // the last entry ≤ x (the count below, which follows x wherever it moves); on an
        // unsorted one only the search itself knows, so it is run on the saved values.
        let vals: Vec<f64> = entries
            .iter()
            .map(|k| cx.book.cached(*k).unwrap_or(0.0))
            .collect();
        if vals.windows(2).any(|w| w[1] < w[0]) {
            let Some(xv) = saved(x, cx) else {
                return unsupported("MATCH in an unsorted range of a computed value".into());
            };
            let (mut lo, mut hi) = (0i64, vals.len() as i64 - 1);
            while lo <= hi {
                let mid = (lo + hi) / 2;
                let m = vals[mid as usize];
                if m == xv {
                    return Ok((mid + 1).to_string());
                }
                if m < xv {
                    lo = mid + 1;
                } else {
                    hi = mid - 1;
                }
            }
            return if hi >= 0 {
                Ok((hi + 1).to_string())
            } else {
                unsupported("MATCH finding nothing (#N/A)".into())
            };
        }
    }
    let v = emit(x, cx)?;
    let terms: Vec<String> = entries
        .iter()
        .enumerate()
        .filter(|(_, k)| cx.book.numeric(**k))
        .map(|(i, k)| {
            let e = crate::var(*k);
            if kind == 0.0 {
                format!("{}*({v}={e})", i + 1)
            } else {
                format!("({v}>={e})")
            }
        })
        .collect();
    if kind != 0.0 && kind != 1.0 {
        return unsupported("MATCH in a descending range (match type -1)".into());
    }
    Ok(cx.sum(terms))
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
        fn name(&self, n: &str, _sheet: usize) -> Option<Result<Key, f64>> {
            (n == "lr").then_some(Ok((0, 0, 5)))
        }
        fn address(&self, k: Key) -> String {
            format!("{k:?}")
        }
    }

    #[test]
    fn references_ranges_and_functions() {
        let t = |s: &str| translate(s, (0, 0, 9), &One).map(|(t, _)| t);
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
        // A comparison with text is settled by the cells: A20 is blank, A51 holds text
        // (its content unknown to this lookup, so no match).
        assert_eq!(t("IF(A20=\"\",0,A1)").unwrap(), "IF(1,0,s0r0c0)");
        assert_eq!(t("A1<>\"\"").unwrap(), "1");
        // Arrays elementwise, MMULT of a row by a column, ROWS, MATCH on an ascending range.
        assert_eq!(
            t("SUM(A1:B1*A2:B2)").unwrap(),
            "((s0r0c0*s0r1c0)+(s0r0c1*s0r1c1))"
        );
        assert_eq!(
            t("MMULT(A1:B1,C1:C2)").unwrap(),
            "((s0r0c0*s0r0c2)+(s0r0c1*s0r1c2))"
        );
        assert_eq!(t("ROWS(A1:C7)+COLUMNS(A1:C7)").unwrap(), "(7+3)");
        assert_eq!(
            t("MATCH(A1,B1:B2)").unwrap(),
            "((s0r0c0>=s0r0c1)+(s0r0c0>=s0r1c1))"
        );
        // VAR.P in Excel's one-pass form.
        assert_eq!(
            t("VAR.P(A1:A2)").unwrap(),
            "(((2*(s0r0c0^2+s0r1c0^2))-(s0r0c0+s0r1c0)^2)/4)"
        );
        // A long sum in partial sums of their own, added in the same order.
        let (text, aux) = translate("SUM(A1:Z9)", (0, 0, 9), &One).unwrap();
        assert_eq!(aux.len(), 2, "{aux:?}");
        assert_eq!(aux[0].0, "s0r0c9_p1");
        assert!(aux[1].1.starts_with("(s0r0c9_p1+"), "{aux:?}");
        assert!(
            text.starts_with("(s0r0c9_p2+") && text.ends_with("s0r8c25)"),
            "{text}"
        );
    }
}

//! A sheet's Run button, replayed: the subset of VBA fast.ai's workbooks use, read from the
//! .xlsm's modules and run on the workbook's graph.
//!
//! The statements: `Range("x").Copy` then `Range("y").PasteSpecial Paste:=xlPasteValues`
//! (values copied), `Range("x").End(xlDown).Offset(1, 0).PasteSpecial …` (a value pasted
//! under a column's last one: a history), `Range("x") = expr` / `.Value = expr`,
//! `Application.Calculation = xlCalculationManual|Automatic`, `Calculate`,
//! `For i = 1 To n … Next`, `While cond … Wend`, `If cond Then … [Else …] End If`, a call
//! of another Sub of the module, `Range("x").Clear[Contents]`; expressions of numbers,
//! ranges' values, `+ - * /` and comparisons. Statements may share a line with `:`.
//! Anything else is reported by module and line, never guessed.
//!
//! Calculation follows Excel: in automatic mode every paste or assignment recalculates
//! the workbook; in manual mode only `Calculate` (or switching back to automatic) does,
//! and reads see the values of the last calculation.

use std::collections::HashMap;

use crate::{Book, BookError, Key, Lookup};

/// A value the macro names: the text inside `Range("…")`, a defined name or an address.
type Ref = String;

#[derive(Clone, Debug, PartialEq)]
enum Expr {
    Num(f64),
    Range(Ref),
    Bin(char, Box<Expr>, Box<Expr>),
    Cmp(&'static str, Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
}

#[derive(Clone, Debug, PartialEq)]
enum Stmt {
    Copy(Ref),
    Paste(Ref),
    PasteBelow(Ref),
    Assign(Ref, Expr),
    Clear(Ref),
    Calculate,
    Automatic(bool),
    For(usize, Vec<Stmt>),
    While(Expr, Vec<Stmt>),
    If(Expr, Vec<Stmt>, Vec<Stmt>),
    Call(String),
}

/// A Sub of a module.
#[derive(Clone, Debug, PartialEq)]
pub struct Sub {
    /// Its name.
    pub name: String,
    body: Vec<Stmt>,
}

/// A statement the replay does not know, where it is.
#[derive(Clone, Debug, PartialEq)]
pub struct Unknown {
    /// The module.
    pub module: String,
    /// The line, from 1.
    pub line: usize,
    /// What it says.
    pub text: String,
}

/// A module's Subs, and what in it could not be read.
#[derive(Clone, Debug, PartialEq)]
pub struct Module {
    /// The module's name (a sheet's module is named after its sheet).
    pub name: String,
    /// Its Subs.
    pub subs: Vec<Sub>,
    /// Lines not understood.
    pub unknown: Vec<Unknown>,
}

/// The quoted argument of `Range("…")` at the start of `s`, and the rest after `)`.
fn range_arg(s: &str) -> Option<(String, &str)> {
    let s = s.trim_start();
    let rest = s
        .strip_prefix("Range(\"")
        .or_else(|| s.strip_prefix("range(\""))?;
    let end = rest.find("\")")?;
    Some((rest[..end].to_string(), &rest[end + 2..]))
}

/// Reads one expression.
fn expr(s: &str) -> Option<Expr> {
    let s = s.trim();
    for op in ["<=", ">=", "<>", "<", ">", "="] {
        if let Some(i) = top_level(s, op) {
            let (a, b) = (expr(&s[..i])?, expr(&s[i + op.len()..])?);
            return Some(Expr::Cmp(op, Box::new(a), Box::new(b)));
        }
    }
    for ops in [['+', '-'], ['*', '/']] {
        // The last operator at the top level, so that a − b − c reads (a − b) − c.
        let mut depth = 0i32;
        let mut quoted = false;
        let mut at = None;
        for (i, c) in s.char_indices() {
            match c {
                '"' => quoted = !quoted,
                _ if quoted => {}
                '(' => depth += 1,
                ')' => depth -= 1,
                c if depth == 0 && ops.contains(&c) && i > 0 => {
                    let prev = s[..i].trim_end().chars().last();
                    if !matches!(prev, Some('+' | '-' | '*' | '/' | '(')) {
                        at = Some(i);
                    }
                }
                _ => {}
            }
        }
        if let Some(i) = at {
            let (a, b) = (expr(&s[..i])?, expr(&s[i + 1..])?);
            return Some(Expr::Bin(s[i..].chars().next()?, Box::new(a), Box::new(b)));
        }
    }
    if let Some(r) = s.strip_prefix('-') {
        return Some(Expr::Neg(Box::new(expr(r)?)));
    }
    if let Some(inner) = s.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        return expr(inner);
    }
    if let Ok(v) = s.parse::<f64>() {
        return Some(Expr::Num(v));
    }
    let (name, rest) = range_arg(s)?;
    let rest = rest.trim();
    (rest.is_empty() || rest.eq_ignore_ascii_case(".Value")).then_some(Expr::Range(name))
}

/// Where `op` stands in `s` outside parentheses and quotes.
fn top_level(s: &str, op: &str) -> Option<usize> {
    let mut depth = 0i32;
    let mut quoted = false;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth -= 1,
            _ if !quoted && depth == 0 && s[i..].starts_with(op) => {
                // `<` is not the start of `<=`/`<>` when looking for `<` alone.
                let longer =
                    matches!(op, "<" | ">") && matches!(b.get(i + 1), Some(b'=') | Some(b'>'));
                let part_of = op == "=" && i > 0 && matches!(b[i - 1], b'<' | b'>');
                if !longer && !part_of {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// One simple statement (no block).
fn simple(s: &str) -> Option<Stmt> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    if lower == "calculate" || lower.ends_with(".calculate") {
        return Some(Stmt::Calculate);
    }
    if lower.starts_with("application.calculation") {
        return Some(Stmt::Automatic(lower.contains("automatic")));
    }
    if let Some((name, rest)) = range_arg(t) {
        let r = rest.trim();
        let rl = r.to_ascii_lowercase();
        if rl == ".copy" {
            return Some(Stmt::Copy(name));
        }
        if rl.starts_with(".pastespecial") && rl.contains("xlpastevalues") {
            return Some(Stmt::Paste(name));
        }
        if rl.starts_with(".end(xldown).offset(1, 0).pastespecial")
            || rl.starts_with(".end(xldown).offset(1,0).pastespecial")
        {
            return Some(Stmt::PasteBelow(name));
        }
        if rl == ".clear" || rl == ".clearcontents" {
            return Some(Stmt::Clear(name));
        }
        let value = r
            .strip_prefix(".Value")
            .or_else(|| r.strip_prefix(".value"))
            .unwrap_or(r)
            .trim_start();
        if let Some(v) = value.strip_prefix('=') {
            return Some(Stmt::Assign(name, expr(v)?));
        }
        return None;
    }
    let word = t.split_whitespace().next()?;
    (word.chars().all(|c| c.is_alphanumeric() || c == '_') && !t.contains(' '))
        .then(|| Stmt::Call(t.to_string()))
}

/// The VBA modules of an .xlsm, read (none for an .xlsx or a project calamine cannot
/// read).
pub fn modules(bytes: &[u8]) -> Vec<Module> {
    use calamine::Reader;
    let Ok(mut x) =
        calamine::open_workbook_from_rs::<calamine::Xlsx<_>, _>(std::io::Cursor::new(bytes))
    else {
        return Vec::new();
    };
    let Ok(Some(vba)) = x.vba_project() else {
        return Vec::new();
    };
    vba.get_module_names()
        .into_iter()
        .filter_map(|n| Some(parse_module(n, &vba.get_module(n).ok()?)))
        .filter(|m| !m.subs.is_empty())
        .collect()
}

/// The module of sheet `sheet`: the one named after it, or after its first word
/// (graddesc 2016's sheet "basic SGD" has module "basic").
pub fn module_for<'m>(modules: &'m [Module], sheet: &str) -> Option<&'m Module> {
    let norm = |s: &str| s.to_lowercase().replace(' ', "");
    modules
        .iter()
        .find(|m| norm(&m.name) == norm(sheet))
        .or_else(|| {
            modules.iter().find(|m| {
                sheet
                    .to_lowercase()
                    .starts_with(&format!("{} ", m.name.to_lowercase()))
            })
        })
}

/// The Sub the Run button plays: `somesteps`, or else the first Sub with a `For` loop.
pub fn run_sub(module: &Module) -> Option<&Sub> {
    module
        .subs
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case("somesteps"))
        .or_else(|| {
            module
                .subs
                .iter()
                .find(|s| s.body.iter().any(|x| matches!(x, Stmt::For(..))))
        })
}

/// Reads a module's source.
pub fn parse_module(name: &str, source: &str) -> Module {
    // Lines, with `:`-joined statements split (outside quotes) and comments dropped.
    let mut lines: Vec<(usize, String)> = Vec::new();
    for (i, raw) in source.lines().enumerate() {
        let t = raw.trim();
        if t.is_empty() || t.starts_with('\'') || t.starts_with("Attribute ") {
            continue;
        }
        let mut cur = String::new();
        let mut quoted = false;
        let chars: Vec<char> = t.chars().collect();
        for (j, &c) in chars.iter().enumerate() {
            match c {
                '"' => {
                    quoted = !quoted;
                    cur.push(c);
                }
                '\'' if !quoted => break,
                // `:=` is a named argument, not a separator.
                ':' if !quoted && chars.get(j + 1) != Some(&'=') => {
                    lines.push((i + 1, std::mem::take(&mut cur)));
                }
                _ => cur.push(c),
            }
        }
        lines.push((i + 1, cur));
    }
    let lines: Vec<(usize, String)> = lines
        .into_iter()
        .map(|(n, l)| (n, l.trim().to_string()))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    let mut m = Module {
        name: name.to_string(),
        subs: Vec::new(),
        unknown: Vec::new(),
    };
    let mut at = 0;
    while at < lines.len() {
        let l = &lines[at].1;
        let lower = l.to_ascii_lowercase();
        let header = lower
            .strip_prefix("public ")
            .or_else(|| lower.strip_prefix("private "))
            .unwrap_or(&lower);
        if let Some(rest) = header.strip_prefix("sub ") {
            let sub = rest.split('(').next().unwrap_or("").trim().to_string();
            at += 1;
            let body = block(&lines, &mut at, &mut m, &["end sub"]);
            at += 1;
            m.subs.push(Sub { name: sub, body });
        } else {
            at += 1;
        }
    }
    m
}

/// Statements until a line starting with one of `ends` (left at `at`).
fn block(lines: &[(usize, String)], at: &mut usize, m: &mut Module, ends: &[&str]) -> Vec<Stmt> {
    let mut out = Vec::new();
    while *at < lines.len() {
        let (n, l) = &lines[*at];
        let lower = l.to_ascii_lowercase();
        if ends
            .iter()
            .any(|e| lower == *e || lower.starts_with(&format!("{e} ")))
        {
            return out;
        }
        *at += 1;
        if let Some(rest) = lower.strip_prefix("for ") {
            // For i = 1 To n
            let count = rest
                .split_once('=')
                .and_then(|(_, r)| r.split_once(" to "))
                .and_then(|(a, b)| {
                    Some((a.trim().parse::<i64>().ok()?, b.trim().parse::<i64>().ok()?))
                })
                .map(|(a, b)| (b - a + 1).max(0) as usize);
            let body = block(lines, at, m, &["next"]);
            *at += 1;
            match count {
                Some(c) => out.push(Stmt::For(c, body)),
                None => m.unknown.push(Unknown {
                    module: m.name.clone(),
                    line: *n,
                    text: l.clone(),
                }),
            }
            continue;
        }
        if let Some(rest) = l
            .strip_prefix("While ")
            .or_else(|| l.strip_prefix("while "))
        {
            let body = block(lines, at, m, &["wend"]);
            *at += 1;
            match expr(rest) {
                Some(c) => out.push(Stmt::While(c, body)),
                None => m.unknown.push(Unknown {
                    module: m.name.clone(),
                    line: *n,
                    text: l.clone(),
                }),
            }
            continue;
        }
        if lower.starts_with("if ") && lower.ends_with(" then") {
            let cond = &l[3..l.len() - 5];
            let then = block(lines, at, m, &["else", "end if"]);
            let mut otherwise = Vec::new();
            if lines
                .get(*at)
                .is_some_and(|x| x.1.eq_ignore_ascii_case("else"))
            {
                *at += 1;
                otherwise = block(lines, at, m, &["end if"]);
            }
            *at += 1;
            match expr(cond) {
                Some(c) => out.push(Stmt::If(c, then, otherwise)),
                None => m.unknown.push(Unknown {
                    module: m.name.clone(),
                    line: *n,
                    text: l.clone(),
                }),
            }
            continue;
        }
        match simple(l) {
            Some(s) => out.push(s),
            None => m.unknown.push(Unknown {
                module: m.name.clone(),
                line: *n,
                text: l.clone(),
            }),
        }
    }
    out
}

/// The workbook as the macro sees it: inputs it may overwrite, formula cells as of the
/// last calculation.
pub struct Machine<'b> {
    book: &'b Book,
    sheet: usize,
    graph: gradsheet_engine::graph::CompiledGraph,
    inputs: Vec<f64>,
    vals: Vec<f64>,
    slot: HashMap<Key, usize>,
    input: HashMap<Key, usize>,
    automatic: bool,
    clipboard: Vec<f64>,
    /// Values pasted under a column's last value, by the name pasted under.
    pub history: Vec<(String, f64)>,
    steps: usize,
}

/// The most statements one replay executes (a `While` that never ends stops here).
pub const MAX_STEPS: usize = 50_000_000;

impl<'b> Machine<'b> {
    /// The workbook at its saved inputs, for macros of sheet `sheet`.
    ///
    /// # Errors
    ///
    /// [`BookError::Cell`] when the graph cannot be compiled.
    pub fn new(book: &'b Book, sheet: usize) -> Result<Machine<'b>, BookError> {
        let (graph, keys) = book
            .compile(&book.computed)
            .map_err(|e| BookError::Cell(e.to_string()))?;
        let inputs = book.input_values(&keys);
        let vals = graph.values(&inputs);
        let by_name: HashMap<String, Key> =
            book.computed.iter().map(|k| (crate::var(*k), *k)).collect();
        let slot = graph
            .cells
            .iter()
            .enumerate()
            .filter_map(|(i, (n, _))| by_name.get(n).map(|k| (*k, i)))
            .collect();
        let input = keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
        Ok(Machine {
            book,
            sheet,
            graph,
            inputs,
            vals,
            slot,
            input,
            automatic: true,
            clipboard: Vec::new(),
            history: Vec::new(),
            steps: 0,
        })
    }

    /// The cells `r` names on this machine's sheet: a (sheet-scoped first) defined name,
    /// or an address.
    fn cells(&self, r: &str) -> Result<Vec<Key>, BookError> {
        let b = self.book;
        if let Some((a, z)) = crate::Lookup::name_range(b, r, self.sheet) {
            return Ok(crate::formula::cells(a, z));
        }
        if let Some(Ok(k)) = crate::Lookup::name(b, r, self.sheet) {
            return Ok(vec![k]);
        }
        let s = &b.wb.sheets[self.sheet].name;
        let quoted = format!("'{}'!{}", s.replace('\'', "''"), r.to_ascii_uppercase());
        let parts: Vec<&str> = r.split(':').collect();
        match parts.as_slice() {
            [_] => Ok(vec![b.key(&quoted)?]),
            [x, y] => {
                let q = |c: &str| format!("'{}'!{}", s.replace('\'', "''"), c.to_ascii_uppercase());
                Ok(crate::formula::cells(b.key(&q(x))?, b.key(&q(y))?))
            }
            _ => Err(BookError::Address(format!("Range(\"{r}\") in a macro"))),
        }
    }

    /// The value of a cell now.
    pub fn get(&self, k: Key) -> f64 {
        if let Some(&i) = self.slot.get(&k) {
            return self.vals[i];
        }
        if let Some(&i) = self.input.get(&k) {
            return self.inputs[i];
        }
        crate::Lookup::cached(self.book, k).unwrap_or(0.0)
    }

    fn set(&mut self, k: Key, v: f64) -> Result<(), BookError> {
        match self.input.get(&k) {
            Some(&i) => {
                self.inputs[i] = v;
                Ok(())
            }
            None if self.slot.contains_key(&k) => Err(BookError::Cell(format!(
                "{}: the macro writes a value over a formula cell",
                crate::Lookup::address(self.book, k)
            ))),
            // A cell nothing reads: nothing to change.
            None => Ok(()),
        }
    }

    fn calculate(&mut self) {
        self.vals = self.graph.values(&self.inputs);
    }

    fn eval(&self, e: &Expr) -> Result<f64, BookError> {
        Ok(match e {
            Expr::Num(v) => *v,
            Expr::Range(r) => {
                let cs = self.cells(r)?;
                self.get(cs[0])
            }
            Expr::Neg(x) => -self.eval(x)?,
            Expr::Bin(op, a, b) => {
                let (a, b) = (self.eval(a)?, self.eval(b)?);
                match op {
                    '+' => a + b,
                    '-' => a - b,
                    '*' => a * b,
                    _ => a / b,
                }
            }
            Expr::Cmp(op, a, b) => {
                let (a, b) = (self.eval(a)?, self.eval(b)?);
                let t = match *op {
                    "<" => a < b,
                    ">" => a > b,
                    "<=" => a <= b,
                    ">=" => a >= b,
                    "<>" => a != b,
                    _ => a == b,
                };
                if t {
                    1.0
                } else {
                    0.0
                }
            }
        })
    }

    fn changed(&mut self) {
        if self.automatic {
            self.calculate();
        }
    }

    /// Runs statements of `module`.
    fn exec(&mut self, module: &Module, body: &[Stmt], depth: usize) -> Result<(), BookError> {
        if depth > 64 {
            return Err(BookError::Cell(format!(
                "the macros of {} call each other more than 64 deep",
                module.name
            )));
        }
        for s in body {
            self.steps += 1;
            if self.steps > MAX_STEPS {
                return Err(BookError::Cell(format!(
                    "the macro ran {MAX_STEPS} statements without ending (a While that never ends?)"
                )));
            }
            match s {
                Stmt::Copy(r) => {
                    self.clipboard = self.cells(r)?.iter().map(|k| self.get(*k)).collect();
                }
                Stmt::Paste(r) => {
                    let cs = self.cells(r)?;
                    if cs.len() != self.clipboard.len() {
                        return Err(BookError::Cell(format!(
                            "the macro pastes {} values into Range(\"{r}\") of {} cells",
                            self.clipboard.len(),
                            cs.len()
                        )));
                    }
                    for (k, v) in cs.iter().zip(self.clipboard.clone()) {
                        self.set(*k, v)?;
                    }
                    self.changed();
                }
                Stmt::PasteBelow(r) => {
                    for v in self.clipboard.clone() {
                        self.history.push((r.clone(), v));
                    }
                }
                Stmt::Assign(r, e) => {
                    let v = self.eval(e)?;
                    for k in self.cells(r)? {
                        self.set(k, v)?;
                    }
                    self.changed();
                }
                Stmt::Clear(r) => {
                    self.history.retain(|(n, _)| !n.eq_ignore_ascii_case(r));
                }
                Stmt::Calculate => self.calculate(),
                Stmt::Automatic(on) => {
                    self.automatic = *on;
                    if *on {
                        self.calculate();
                    }
                }
                Stmt::For(n, b) => {
                    for _ in 0..*n {
                        self.exec(module, b, depth)?;
                    }
                }
                Stmt::While(c, b) => {
                    while self.eval(c)? != 0.0 {
                        self.exec(module, b, depth)?;
                    }
                }
                Stmt::If(c, t, o) => {
                    let branch = if self.eval(c)? != 0.0 { t } else { o };
                    self.exec(module, branch, depth)?;
                }
                Stmt::Call(name) => {
                    let sub = module
                        .subs
                        .iter()
                        .find(|s| s.name.eq_ignore_ascii_case(name))
                        .ok_or_else(|| {
                            BookError::Cell(format!("{}: no Sub {name} to call", module.name))
                        })?;
                    let body = sub.body.clone();
                    self.exec(module, &body, depth + 1)?;
                }
            }
        }
        Ok(())
    }

    /// Runs the Sub `name` of `module`.
    ///
    /// # Errors
    ///
    /// [`BookError::Cell`] for a Sub that is not there, a paste of the wrong size, a
    /// value written over a formula, a run that does not end.
    pub fn call(&mut self, module: &Module, name: &str) -> Result<(), BookError> {
        self.exec(module, &[Stmt::Call(name.to_string())], 0)
    }

    /// The Run button's loop: `name`'s statements before its `For`, its body `epochs`
    /// times (`visit` seeing the machine after each), then what follows the loop.
    ///
    /// # Errors
    ///
    /// As [`Machine::call`]; [`BookError::Cell`] when `name` has no `For` loop.
    pub fn run_loop(
        &mut self,
        module: &Module,
        name: &str,
        epochs: usize,
        mut visit: impl FnMut(usize, &Machine<'_>),
    ) -> Result<(), BookError> {
        let sub = module
            .subs
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| BookError::Cell(format!("{}: no Sub {name}", module.name)))?;
        let at = sub
            .body
            .iter()
            .position(|s| matches!(s, Stmt::For(..)))
            .ok_or_else(|| BookError::Cell(format!("{}.{name} has no For loop", module.name)))?;
        let Stmt::For(_, body) = &sub.body[at] else {
            unreachable!("found above")
        };
        let (before, after) = (sub.body[..at].to_vec(), sub.body[at + 1..].to_vec());
        let body = body.clone();
        self.exec(module, &before, 1)?;
        for e in 1..=epochs {
            self.exec(module, &body, 1)?;
            visit(e, self);
        }
        self.exec(module, &after, 1)
    }

    /// The values of the cells `r` names, now.
    ///
    /// # Errors
    ///
    /// [`BookError::Address`] for a name or address that cannot be read.
    pub fn values(&self, r: &str) -> Result<Vec<(String, f64)>, BookError> {
        Ok(self
            .cells(r)?
            .into_iter()
            .map(|k| (crate::Lookup::address(self.book, k), self.get(k)))
            .collect())
    }

    /// The names the module's statements paste into or assign, in order of first use.
    pub fn targets(module: &Module) -> Vec<String> {
        fn walk(b: &[Stmt], out: &mut Vec<String>) {
            for s in b {
                match s {
                    Stmt::Paste(r) | Stmt::Assign(r, _) if !out.contains(r) => out.push(r.clone()),
                    Stmt::For(_, x) | Stmt::While(_, x) => walk(x, out),
                    Stmt::If(_, x, y) => {
                        walk(x, out);
                        walk(y, out);
                    }
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        for s in &module.subs {
            walk(&s.body, &mut out);
        }
        out
    }
}

/// What each Sub of the module copies, in words (`lastslope → slope`), for a summary.
pub fn copies(module: &Module, sub: &str) -> Vec<String> {
    fn walk(
        m: &Module,
        b: &[Stmt],
        out: &mut Vec<String>,
        from: &mut Option<String>,
        depth: usize,
    ) {
        for s in b {
            match s {
                Stmt::Copy(r) => *from = Some(r.clone()),
                Stmt::Paste(r) => {
                    let t = format!("{} → {r}", from.clone().unwrap_or_default());
                    if !out.contains(&t) {
                        out.push(t);
                    }
                }
                Stmt::PasteBelow(r) => {
                    let t = format!("{} → under {r}", from.clone().unwrap_or_default());
                    if !out.contains(&t) {
                        out.push(t);
                    }
                }
                Stmt::For(_, x) | Stmt::While(_, x) => walk(m, x, out, from, depth),
                Stmt::If(_, x, y) => {
                    walk(m, x, out, from, depth);
                    walk(m, y, out, from, depth);
                }
                Stmt::Call(n) if depth < 8 => {
                    if let Some(s) = m.subs.iter().find(|s| s.name.eq_ignore_ascii_case(n)) {
                        walk(m, &s.body, out, from, depth + 1);
                    }
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    if let Some(s) = module
        .subs
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(sub))
    {
        walk(module, &s.body, &mut out, &mut None, 0);
    }
    out
}

/// How a sheet loops: its Run macro or its Solver settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Loop {
    /// The sheet.
    pub sheet: String,
    /// `macro` or `solver`.
    pub source: &'static str,
    /// The macro's module and Sub (`basic.somesteps`), or Solver's objective.
    pub what: String,
    /// What it copies back (`lastslope → slope`), or Solver's changing cells.
    pub copies: Vec<String>,
    /// Statements of the module the replay does not know.
    pub unknown: Vec<Unknown>,
}

impl Book {
    /// Each sheet's loop: the Run macro of its module, or Excel Solver's settings
    /// (`solver_opt`, `solver_adj`, `solver_typ` defined on the sheet).
    pub fn loops(&self) -> Vec<Loop> {
        let mut out = Vec::new();
        for (s, sh) in self.wb.sheets.iter().enumerate() {
            if let Some(m) = module_for(&self.modules, &sh.name) {
                if let Some(sub) = run_sub(m) {
                    out.push(Loop {
                        sheet: sh.name.clone(),
                        source: "macro",
                        what: format!("{}.{}", m.name, sub.name),
                        copies: copies(m, &sub.name),
                        unknown: m.unknown.clone(),
                    });
                    continue;
                }
            }
            match self.solver(s) {
                Some(Ok(sv)) => {
                    let goal = sv.goal.words();
                    out.push(Loop {
                        sheet: sh.name.clone(),
                        source: "solver",
                        what: format!("{goal} {}", sv.objective_text),
                        copies: sv.changing_text.split(',').map(String::from).collect(),
                        unknown: Vec::new(),
                    });
                }
                Some(Err(e)) => out.push(Loop {
                    sheet: sh.name.clone(),
                    source: "solver",
                    what: e,
                    copies: Vec::new(),
                    unknown: Vec::new(),
                }),
                None => {}
            }
        }
        out
    }

    /// Plays sheet `sheet`'s Run macro `epochs` times round its loop (after its `reset`
    /// macro when `reset`), `visit` seeing after each: the values the macros write (the
    /// parameters, the optimizer's state, a learning rate), the `watch` cells, and the
    /// last value pasted into a history (`rmse` under `rmsestart`).
    ///
    /// # Errors
    ///
    /// [`BookError::Cell`] when the sheet has no macro with a loop, or the replay fails
    /// (see [`Machine::call`]); [`BookError::Address`] for a watch cell that cannot be read.
    pub fn run_macro(
        &self,
        sheet: &str,
        epochs: usize,
        reset: bool,
        watch: &[String],
        mut visit: impl FnMut(&crate::Epoch),
    ) -> Result<(), BookError> {
        let s = self
            .sheet(sheet)
            .ok_or_else(|| BookError::Address(format!("no sheet named '{sheet}'")))?;
        let m = module_for(&self.modules, &self.wb.sheets[s].name).ok_or_else(|| {
            BookError::Cell(format!(
                "sheet '{sheet}' has no macro module of its own (modules: {}); say what its loop copies with --copy FROM=TO",
                self.modules.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })?;
        let sub = run_sub(m)
            .ok_or_else(|| {
                BookError::Cell(format!("module {} has no Sub with a For loop", m.name))
            })?
            .name
            .clone();
        let watched: Vec<Key> = watch
            .iter()
            .map(|w| self.key(w))
            .collect::<Result<_, _>>()?;
        let mut machine = Machine::new(self, s)?;
        if reset {
            if m.subs.iter().any(|x| x.name.eq_ignore_ascii_case("reset")) {
                machine.call(m, "reset")?;
            } else {
                return Err(BookError::Cell(format!(
                    "module {} has no Sub reset",
                    m.name
                )));
            }
        }
        let targets = Machine::targets(m);
        let mut fault = None;
        machine.run_loop(m, &sub, epochs, |epoch, mc| {
            let mut copied = Vec::new();
            for t in &targets {
                match mc.values(t) {
                    Ok(v) => copied.extend(v),
                    Err(e) => fault = Some(e),
                }
            }
            let mut watched_now: Vec<(String, f64)> = watched
                .iter()
                .map(|k| (crate::Lookup::address(self, *k), mc.get(*k)))
                .collect();
            if let Some((name, v)) = mc.history.last() {
                watched_now.push((format!("{name} (pasted)"), *v));
            }
            visit(&crate::Epoch {
                epoch,
                copied,
                watched: watched_now,
            });
        })?;
        fault.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_graddesc_macros_read_as_statements() {
        let src = "Attribute VB_Name = \"adam_ann\"\nSub onestep()\n    Range(\"ms_last\").Copy\n    Range(\"gradtarget\").PasteSpecial Paste:=xlPasteValues\n    ActiveSheet.Calculate\nEnd Sub\n\nSub somesteps()\n    Application.Calculation = xlCalculationManual\n    For i = 1 To 5\n        onestep\n        If Range(\"gradrat\") > 2 Then\n            Range(\"lr\").Value = Range(\"lr\").Value / 4\n        End If\n        While Range(\"h33\").Value > Range(\"j1\").Value * 2\n            Range(\"d2\").Value = Range(\"d2\").Value / 2\n        Wend\n    Next i\n    For i = 1 To 3: onestep: Next\n    Range(\"rmse\").Copy\n    Range(\"rmsestart\").End(xlDown).Offset(1, 0).PasteSpecial Paste:=xlPasteValues\n    MsgBox \"done\"\nEnd Sub\n";
        let m = parse_module("adam_ann", src);
        assert_eq!(m.subs.len(), 2);
        assert_eq!(
            m.subs[0].body,
            [
                Stmt::Copy("ms_last".into()),
                Stmt::Paste("gradtarget".into()),
                Stmt::Calculate
            ]
        );
        let s = &m.subs[1].body;
        assert_eq!(s[0], Stmt::Automatic(false));
        let Stmt::For(5, body) = &s[1] else {
            panic!("{s:?}")
        };
        assert_eq!(body[0], Stmt::Call("onestep".into()));
        assert_eq!(
            body[1],
            Stmt::If(
                Expr::Cmp(
                    ">",
                    Box::new(Expr::Range("gradrat".into())),
                    Box::new(Expr::Num(2.0))
                ),
                vec![Stmt::Assign(
                    "lr".into(),
                    Expr::Bin(
                        '/',
                        Box::new(Expr::Range("lr".into())),
                        Box::new(Expr::Num(4.0))
                    )
                )],
                vec![]
            )
        );
        assert!(matches!(&body[2], Stmt::While(Expr::Cmp(">", _, _), b) if b.len() == 1));
        assert_eq!(s[2], Stmt::For(3, vec![Stmt::Call("onestep".into())]));
        assert_eq!(s[4], Stmt::PasteBelow("rmsestart".into()));
        // What the replay does not know is named by module and line, not guessed.
        assert_eq!(
            m.unknown,
            [Unknown {
                module: "adam_ann".into(),
                line: 22,
                text: "MsgBox \"done\"".into()
            }]
        );
        assert_eq!(
            copies(&m, "somesteps"),
            ["ms_last → gradtarget", "rmse → under rmsestart"]
        );
    }
}

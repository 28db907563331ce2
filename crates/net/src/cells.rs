//! A model text of named cells: `h1 = TANH(w11*x1 + w12*x2 + b1); pred = SIGMOID(v1*h1 + c)`,
//! one definition per line or separated by `;`, the prediction `pred` last. Errors point at
//! the definition and the character, in the whole text.

use gradsheet_engine::{parse, ErrorKind, Expr, FormulaError, Span};

/// One definition of a model text.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// The cell's name.
    pub name: String,
    /// Its formula.
    pub formula: Expr,
    /// Where the formula is in the whole text (bytes).
    pub span: Span,
}

/// Whether `s` is a name of gradsheet's formula language.
fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '.')
}

/// An error at `span` of the whole text.
fn at(text: &str, span: Span, msg: String) -> FormulaError {
    FormulaError {
        kind: ErrorKind::Role(msg),
        span,
        source: text.to_string(),
    }
}

/// Reads a model text into its cells, in the order written. `reserved` are names a cell may
/// not take (the data's columns).
///
/// # Errors
///
/// A [`FormulaError`] whose source is the whole text and whose span is the fault's: a
/// definition without `=`, a name that is not one, a name defined twice or reserved, a
/// formula that does not parse, a text without `pred` or with `pred` not last.
///
/// # Examples
///
/// ```
/// let cells = gradsheet_net::cells::parse_cells("h = TANH(a*x+b); pred = c*h+d", &["x", "y"]).unwrap();
/// assert_eq!(cells.len(), 2);
/// assert_eq!(cells[1].formula.to_string(), "c*h+d");
/// let e = gradsheet_net::cells::parse_cells("h = TANH(a*x+); pred = h", &["x"]).unwrap_err();
/// assert_eq!(e.span.start, 13); // the `)` where an operand should be
/// ```
pub fn parse_cells(text: &str, reserved: &[&str]) -> Result<Vec<Cell>, FormulaError> {
    let mut cells: Vec<Cell> = Vec::new();
    let mut start = 0;
    for piece in text.split_inclusive([';', '\n']) {
        let here = start;
        start += piece.len();
        let body = piece.trim_end_matches([';', '\n', '\r']);
        if body.trim().is_empty() {
            continue;
        }
        let Some(eq) = body.find('=') else {
            let lead = body.len() - body.trim_start().len();
            return Err(at(
                text,
                Span::new(here + lead, here + body.trim_end().len()),
                "a definition is `name = formula`; this one has no `=`".into(),
            ));
        };
        let name = body[..eq].trim();
        let name_at = here + body[..eq].find(name).unwrap_or(0);
        let name_span = Span::new(name_at, name_at + name.len().max(1));
        if !is_name(name) {
            return Err(at(
                text,
                name_span,
                format!("{name:?} is not a name (a letter, then letters, digits or _)"),
            ));
        }
        if reserved.contains(&name) {
            return Err(at(
                text,
                name_span,
                format!("{name} is a column of the data; a cell needs a name of its own"),
            ));
        }
        if cells.iter().any(|c| c.name == name) {
            return Err(at(text, name_span, format!("{name} is defined twice")));
        }
        let src = &body[eq + 1..];
        let f_at = here + eq + 1;
        let formula = parse(src).map_err(|e| FormulaError {
            kind: e.kind,
            span: Span::new(e.span.start + f_at, e.span.end + f_at),
            source: text.to_string(),
        })?;
        let lead = src.len() - src.trim_start().len();
        cells.push(Cell {
            name: name.to_string(),
            formula,
            span: Span::new(f_at + lead, f_at + src.trim_end().len()),
        });
    }
    match cells.iter().position(|c| c.name == gradsheet_engine::PRED) {
        Some(i) if i + 1 == cells.len() => Ok(cells),
        Some(i) => Err(at(
            text,
            cells[i].span,
            "pred, the prediction, is the last definition".into(),
        )),
        None => Err(at(
            text,
            Span::new(text.trim_end().len(), text.trim_end().len()),
            "the model text ends with `pred = …`, the prediction".into(),
        )),
    }
}

//! Errors of the formula language, each carrying the span of the text at fault.

use std::fmt;

/// A byte range `start..end` of the formula text.
///
/// # Examples
///
/// ```
/// use gradsheet_engine::Span;
/// let s = Span::new(2, 5);
/// assert_eq!(s.len(), 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// First byte of the fault.
    pub start: usize,
    /// One past its last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end` (bytes).
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
    /// The number of bytes covered.
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }
    /// Whether the span covers nothing (a point, such as the end of the text).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// What went wrong in a formula.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The formula has no content (or only `=`).
    #[error("the formula is empty")]
    Empty,
    /// A character that cannot start any token.
    #[error("unexpected character '{0}'")]
    StrayChar(char),
    /// A token where something else was needed.
    #[error("expected {expected}, found {found}")]
    Unexpected {
        /// What the parser was looking for.
        expected: String,
        /// What it found.
        found: String,
    },
    /// An opening parenthesis that is never closed.
    #[error("this parenthesis is never closed")]
    UnclosedParen,
    /// A closing parenthesis with no opening one.
    #[error("this parenthesis closes nothing")]
    UnopenedParen,
    /// A name followed by `(` that is not a known function.
    #[error("unknown function {name}{}", suggestion.as_ref().map(|s| format!(" (did you mean {s}?)")).unwrap_or_default())]
    UnknownFunction {
        /// The name as written.
        name: String,
        /// The nearest known function name, when one is close.
        suggestion: Option<String>,
    },
    /// A function called with the wrong number of arguments.
    #[error("{function} takes {expected}, but {found} {} given", if *found == 1 { "was" } else { "were" })]
    WrongArgCount {
        /// The function.
        function: String,
        /// What it accepts, in words.
        expected: String,
        /// How many were given.
        found: usize,
    },
    /// A number that does not fit in a double (such as `1e999`).
    #[error("the number {0} is out of range")]
    NumberOutOfRange(String),
    /// A name the formula uses that has no value where it is evaluated.
    #[error("unknown name {0}")]
    UnknownName(String),
    /// A name given a role that conflicts with how it is used.
    #[error("{0}")]
    Role(String),
    /// The formula is longer or deeper than the engine accepts.
    #[error("{0}")]
    TooLarge(String),
}

/// An error in a formula: what went wrong, where, and the formula itself.
///
/// [`FormulaError::render`] prints the formula with a caret under the fault.
///
/// # Examples
///
/// ```
/// let err = gradsheet_engine::parse("a*x+").unwrap_err();
/// assert_eq!(err.span.start, 4);
/// assert_eq!(err.render(), "a*x+\n    ^ expected an expression, found the end of the formula");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct FormulaError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Where, in bytes of [`FormulaError::source`].
    pub span: Span,
    /// The formula text.
    pub source: String,
}

impl FormulaError {
    pub(crate) fn new(kind: ErrorKind, span: Span, source: &str) -> FormulaError {
        FormulaError {
            kind,
            span,
            source: source.to_string(),
        }
    }

    /// The fault as character positions `[start, end)` of the formula's text (the span
    /// counts bytes): where an editor or a page puts its marks.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = gradsheet_engine::parse("é+MAXX(a)").unwrap_err();
    /// assert_eq!(e.char_span(), (2, 6));
    /// ```
    pub fn char_span(&self) -> (usize, usize) {
        let src = &self.source;
        let start = char_floor(src, self.span.start);
        let end = char_floor(src, self.span.end.max(self.span.start));
        let col = src[..start].chars().count();
        (col, col + src[start..end].chars().count())
    }

    /// The formula on one line and, under it, carets marking the fault followed by the
    /// message. A long formula is shown as the stretch around its fault, with `…` for
    /// what is left out, so that the caret stays on the screen.
    pub fn render(&self) -> String {
        let (start, end) = self.char_span();
        // Line breaks and tabs as spaces, so that the caret lines up.
        let line: Vec<char> = self
            .source
            .chars()
            .map(|c| if c.is_whitespace() { ' ' } else { c })
            .collect();
        let from = start.saturating_sub(SHOWN_BEFORE);
        let to = line
            .len()
            .min(end.clamp(start + 1, start + SHOWN_AFTER) + SHOWN_AFTER);
        let mut shown: String = line[from..to].iter().collect();
        let mut col = start - from;
        if from > 0 {
            shown.insert(0, '…');
            col += 1;
        }
        if to < line.len() {
            shown.push('…');
        }
        let width = end.min(to).saturating_sub(start).max(1);
        format!(
            "{shown}\n{}{} {}",
            " ".repeat(col),
            "^".repeat(width),
            self.kind
        )
    }
}

/// How many characters of a long formula [`FormulaError::render`] shows before the fault.
const SHOWN_BEFORE: usize = 40;
/// … and after its start.
const SHOWN_AFTER: usize = 40;

impl fmt::Display for FormulaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let col = self.char_span().0 + 1;
        let n = self.source.chars().count();
        if n <= 2 * SHOWN_BEFORE + SHOWN_AFTER {
            write!(f, "{} (at column {col} of `{}`)", self.kind, self.source)
        } else {
            let head: String = self.source.chars().take(SHOWN_BEFORE).collect();
            write!(
                f,
                "{} (at column {col} of `{head}…`, {n} characters)",
                self.kind
            )
        }
    }
}

impl std::error::Error for FormulaError {}

/// The largest char boundary of `s` at or below byte `i`, so that slicing never panics.
fn char_floor(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

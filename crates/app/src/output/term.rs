//! The terminal's width, and prose and numbers laid out for it: sentences wrapped to the
//! width, long numbers rounded as a person reads them (the exact values are in `--json`
//! and the files), tables narrowed to fit (see [`super::table::fit`]).
//!
//! The width is `COLUMNS` when set, else the terminal's own, else 80 (a pipe, a file, a
//! test). `--wide` lifts it: tables keep every column and every digit, as before.

use std::sync::atomic::{AtomicBool, Ordering};

/// The width used when the output is not a terminal and `COLUMNS` is not set.
pub const DEFAULT_WIDTH: usize = 80;

/// The narrowest width laid out for: below it, text would break inside words.
const MIN_WIDTH: usize = 40;

static WIDE: AtomicBool = AtomicBool::new(false);

/// `--wide`: tables keep every column and digit, however wide.
pub fn set_wide(on: bool) {
    WIDE.store(on, Ordering::Relaxed);
}

/// Whether `--wide` was given.
pub fn wide() -> bool {
    WIDE.load(Ordering::Relaxed)
}

/// The width to lay output out for, in characters.
pub fn width() -> usize {
    let from_env = std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&w| w > 0);
    let w = from_env
        .or_else(|| terminal_size::terminal_size().map(|(w, _)| w.0 as usize))
        .unwrap_or(DEFAULT_WIDTH);
    w.max(MIN_WIDTH)
}

/// The width tables are fitted to: none with `--wide`.
pub fn table_width() -> Option<usize> {
    (!wide()).then(width)
}

/// `text` wrapped to `width` at spaces: the first line after `first`, the others after
/// `rest` (a hanging indent). A word longer than a line stays whole.
pub fn wrap_with(text: &str, width: usize, first: &str, rest: &str) -> String {
    let mut out = String::from(first);
    let mut len = first.chars().count();
    let start = len;
    for w in text.split_whitespace() {
        let n = w.chars().count();
        if len > start && len + 1 + n > width {
            out.push('\n');
            out.push_str(rest);
            len = rest.chars().count();
        } else if len > start {
            out.push(' ');
            len += 1;
        }
        out.push_str(w);
        len += n;
    }
    out
}

/// A sentence as a list item wrapped to the terminal: `  - ` then the text, its other
/// lines indented under the text.
pub fn item(text: &str) -> String {
    wrap_with(&readable(text), width(), "  - ", "    ")
}

/// A paragraph wrapped to the terminal, every line after `indent`.
pub fn para(text: &str, indent: &str) -> String {
    wrap_with(&readable(text), width(), indent, indent)
}

/// A sentence with its long numbers (more than 7 significant digits, such as
/// 0.09999999999999998 or 200.9651846012761) rounded to 7, as a person reads them.
///
/// ```ignore
/// assert_eq!(readable("K1 = 1-β = 0.09999999999999998)"), "K1 = 1-β = 0.1)");
/// ```
pub fn readable(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        // A number: digits, a point, at least 8 more digits, not inside a word.
        let starts = b[i].is_ascii_digit()
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.'));
        if starts {
            let mut j = i;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j < b.len() && b[j] == b'.' {
                let mut k = j + 1;
                while k < b.len() && b[k].is_ascii_digit() {
                    k += 1;
                }
                if k - j > 8 && !(k < b.len() && b[k].is_ascii_alphanumeric()) {
                    if let Ok(v) = text[i..k].parse::<f64>() {
                        out.push_str(&gradsheet_report::cell(v, 7));
                        i = k;
                        continue;
                    }
                }
            }
            out.push_str(&text[i..j]);
            i = j;
            continue;
        }
        let c = text[i..]
            .chars()
            .next()
            .expect("i is at a character boundary");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_numbers_are_rounded_and_short_ones_kept() {
        assert_eq!(
            readable("(K1 = 1-β = 0.09999999999999998), so"),
            "(K1 = 1-β = 0.1), so"
        );
        assert_eq!(readable("L33 = 200.9651846012761 is"), "L33 = 200.9652 is");
        assert_eq!(readable("-18.33392669020789"), "-18.33393");
        assert_eq!(
            readable("lr 0.0001, row 28, x = 99.5, J3:K3"),
            "lr 0.0001, row 28, x = 99.5, J3:K3"
        );
        assert_eq!(readable("v1.2345678901x"), "v1.2345678901x");
    }

    #[test]
    fn prose_wraps_with_a_hanging_indent() {
        let s = wrap_with("one two three four five six", 14, "  - ", "    ");
        assert_eq!(s, "  - one two\n    three four\n    five six");
        for line in s.lines() {
            assert!(line.chars().count() <= 14);
        }
        // A word longer than the line stays whole.
        assert_eq!(wrap_with("abcdefghijklmnop", 8, "", ""), "abcdefghijklmnop");
    }
}

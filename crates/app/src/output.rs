//! Files in and out, and tables for the terminal.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use gradsheet_engine::Dataset;

use crate::cmd::usage;

/// Writes `bytes` to `path` atomically: to a temporary file beside it, then renamed, so
/// that an interrupted run never leaves half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    f.write_all(bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    f.sync_all().ok();
    drop(f);
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Reads a CSV file with a header row of column names and numeric cells.
///
/// A bad cell is reported by row and column, as a spreadsheet user finds it: the row
/// number counts the header as row 1.
pub fn read_csv(path: &Path) -> Result<Dataset> {
    let text = crate::cmd::common::read_to_string(path)?;
    parse_csv(&text).map_err(|e| usage(format!("{}: {e}", path.display())))
}

/// Parses CSV text (see [`read_csv`]).
pub fn parse_csv(text: &str) -> std::result::Result<Dataset, String> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(text.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| format!("cannot read the header row: {e}"))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if headers.is_empty() || headers.iter().all(|h| h.is_empty()) {
        return Err("the file has no header row of column names".into());
    }
    if let Some(i) = headers.iter().position(|h| h.is_empty()) {
        return Err(format!("column {} has an empty name in the header row", col_letter(i)));
    }
    let mut values = Vec::new();
    for (r, rec) in rdr.records().enumerate() {
        let line = r + 2;
        let rec = rec.map_err(|e| format!("row {line}: {e}"))?;
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if rec.len() != headers.len() {
            return Err(format!("row {line} has {} cells but the header has {}", rec.len(), headers.len()));
        }
        for (c, cell) in rec.iter().enumerate() {
            let v: f64 = cell.trim().parse().map_err(|_| {
                format!(
                    "row {line}, column {} ({}): '{}' is not a number",
                    col_letter(c),
                    headers[c],
                    cell.trim()
                )
            })?;
            values.push(v);
        }
    }
    if values.is_empty() {
        return Err("the file has a header but no rows of data".into());
    }
    Ok(Dataset::new(headers, values))
}

/// Excel's column letter for a 0-based index (0 → A, 26 → AA).
pub fn col_letter(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// A number as a table shows it: up to `sig` significant digits, exponent for very large or
/// small values, NaN and infinities spelled out.
pub fn cell(v: f64, sig: usize) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return "0".into();
    }
    let mag = v.abs().log10().floor() as i32;
    if !(-4..=9).contains(&mag) {
        return format!("{:.*e}", sig.saturating_sub(1), v);
    }
    let decimals = (sig as i32 - 1 - mag).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Right-aligned columns with a header row and a rule under it.
pub fn table(headers: &[String], rows: &[Vec<String>]) -> String {
    let n = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(n) {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{:>w$}", c, w = widths[i]))
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = line(headers);
    out.push('\n');
    out.push_str(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  "));
    out.push('\n');
    for r in rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_errors_name_row_and_column() {
        let e = parse_csv("x,y\n1,2\n3,oops\n").unwrap_err();
        assert_eq!(e, "row 3, column B (y): 'oops' is not a number");
        let e = parse_csv("x,y\n1,2,3\n").unwrap_err();
        assert_eq!(e, "row 2 has 3 cells but the header has 2");
        assert_eq!(parse_csv("x,y\n").unwrap_err(), "the file has a header but no rows of data");
        let d = parse_csv("x, y\n1,2\n\n3,4\n").unwrap();
        assert_eq!(d.columns, ["x", "y"]);
        assert_eq!(d.values, [1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn cells_and_letters() {
        assert_eq!(col_letter(0), "A");
        assert_eq!(col_letter(25), "Z");
        assert_eq!(col_letter(26), "AA");
        assert_eq!(cell(103.99322533093216, 6), "103.993");
        assert_eq!(cell(1e-7, 4), "1.000e-7");
        assert_eq!(cell(f64::NAN, 4), "NaN");
        assert_eq!(cell(-18.33392669020789, 5), "-18.334");
    }
}

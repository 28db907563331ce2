//! Importing data from CSV files and workbooks, and the precise errors for broken files
//! (each file is made by the test).

use std::path::{Path, PathBuf};

use rust_xlsxwriter::Workbook;

use crate::common::outcome as gradsheet;

/// Trains one quiet epoch of a*x+b on the data file with extra flags.
fn train_on(path: &Path, extra: &[&str]) -> (i32, String, String) {
    let p = path.to_str().unwrap();
    let mut args = vec!["train", "a*x+b", "--data", p, "--quiet"];
    args.extend_from_slice(extra);
    gradsheet(&args)
}

/// A workbook: sheet name and rows of cells (numbers or text; "" leaves a cell empty).
fn workbook(dir: &Path, name: &str, sheets: &[(&str, Vec<Vec<&str>>)]) -> PathBuf {
    let mut wb = Workbook::new();
    for (sheet, rows) in sheets {
        let ws = wb.add_worksheet().set_name(*sheet).unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                if cell.is_empty() {
                    continue;
                }
                match cell.parse::<f64>() {
                    Ok(v) => ws.write_number(r as u32, c as u16, v).unwrap(),
                    Err(_) => ws.write_string(r as u32, c as u16, *cell).unwrap(),
                };
            }
        }
    }
    let p = dir.join(name);
    wb.save(&p).unwrap();
    p
}

fn graddesc_rows<'a>() -> Vec<Vec<&'a str>> {
    vec![
        vec!["x", "y"],
        vec!["14", "58"],
        vec!["86", "202"],
        vec!["28", "86"],
    ]
}

#[test]
fn xlsx_data_with_sheet_columns_and_skipped_rows() {
    let dir = tempfile::tempdir().unwrap();
    let rows = vec![
        vec!["Measurements of a line"],
        vec![""],
        vec!["Note", "Size", "Price"],
        vec!["first", "14", "58"],
        vec!["second", "86", "202"],
    ];
    let p = workbook(
        dir.path(),
        "m.xlsx",
        &[("intro", vec![vec!["nothing here"]]), ("data", rows)],
    );
    let (code, out, err) = train_on(
        &p,
        &[
            "--sheet",
            "data",
            "--skip-rows",
            "2",
            "--columns",
            "x=Size,y=C",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("steps       2"), "{out}");

    // The same data as CSV, and the first sheet by default.
    let p = workbook(dir.path(), "plain.xlsx", &[("Sheet1", graddesc_rows())]);
    let (code, _, err) = train_on(&p, &[]);
    assert_eq!(code, 0, "{err}");
    let csv = dir.path().join("d.csv");
    std::fs::write(&csv, "Title line\nx,y,comment\n14,58,ok\n86,202,fine\n").unwrap();
    let (code, out, err) = train_on(&csv, &["--skip-rows", "1", "--columns", "x,y"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("steps       2"));
}

#[test]
fn broken_workbooks_name_sheet_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut rows = graddesc_rows();
    rows[2][1] = "lots";
    let p = workbook(d, "text.xlsx", &[("data", rows)]);
    let (code, _, err) = train_on(&p, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("sheet 'data', cell B3 (column y): 'lots' is text, not a number"),
        "{err}"
    );

    let mut rows = graddesc_rows();
    rows[3][0] = "";
    let p = workbook(d, "hole.xlsx", &[("data", rows)]);
    let (_, _, err) = train_on(&p, &[]);
    assert!(
        err.contains("sheet 'data', cell A4 (column x) is empty"),
        "{err}"
    );

    let p = workbook(
        d,
        "empty.xlsx",
        &[("data", graddesc_rows()), ("blank", vec![])],
    );
    let (code, _, err) = train_on(&p, &["--sheet", "blank"]);
    assert_eq!(code, 2);
    assert!(err.contains("sheet 'blank' is empty"), "{err}");

    let (_, _, err) = train_on(&p, &["--sheet", "nope"]);
    assert!(
        err.contains("the workbook has no sheet 'nope' (its sheets are 'data', 'blank')"),
        "{err}"
    );

    let (_, _, err) = train_on(&p, &["--columns", "x,y=price"]);
    assert!(
        err.contains("--columns: sheet 'data' has no column 'price' (its columns are x, y)"),
        "{err}"
    );

    let bad = d.join("bad.xlsx");
    std::fs::write(&bad, b"not a zip file").unwrap();
    let (code, _, err) = train_on(&bad, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read the workbook"), "{err}");
}

#[test]
fn broken_csv_files_name_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ragged = d.join("ragged.csv");
    std::fs::write(&ragged, "x,y\n14,58\n86,202,7\n").unwrap();
    let (code, _, err) = train_on(&ragged, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("ragged.csv: row 3 has 3 cells but the header has 2"),
        "{err}"
    );

    let text = d.join("text.csv");
    std::fs::write(&text, "x,y\n14,58\n86,two hundred\n").unwrap();
    let (_, _, err) = train_on(&text, &[]);
    assert!(
        err.contains("row 3, column B (y): 'two hundred' is not a number"),
        "{err}"
    );

    let empty = d.join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let (code, _, err) = train_on(&empty, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("no header row"), "{err}");

    let (_, _, err) = train_on(&text, &["--columns", "x,z"]);
    assert!(
        err.contains("has no column 'z' (its columns are x, y)"),
        "{err}"
    );

    let (code, _, err) = train_on(&text, &["--sheet", "data"]);
    assert_eq!(code, 2);
    assert!(err.contains("--sheet applies to workbooks"), "{err}");
}

/// A 3 KB workbook whose only cell is at XFD1048576 (Excel's last) made calamine's range
/// allocate the whole grid, 512 GiB, and the process abort. Read cell by cell, it costs
/// one cell: the run is refused for what the sheet holds, under a 1 GiB address-space
/// limit.
#[test]
fn a_cell_at_the_far_corner_costs_one_cell() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("far.xlsx");
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_number(1_048_575, 16_383, 1.0).unwrap();
    wb.save(&p).unwrap();
    assert!(std::fs::metadata(&p).unwrap().len() < 8_000);
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -v 1048576 && exec "$0" train "a*x+b" --data "$1" --quiet"#)
        .arg(env!("CARGO_BIN_EXE_gradsheet"))
        .arg(&p)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("far.xlsx: column A has an empty name in the header row"),
        "{err}"
    );

    // The same far cell beside real data: the data is read, the far row named.
    let p = dir.path().join("data_and_far.xlsx");
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    for (r, row) in graddesc_rows().iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            match v.parse::<f64>() {
                Ok(x) => ws.write_number(r as u32, c as u16, x).unwrap(),
                Err(_) => ws.write_string(r as u32, c as u16, *v).unwrap(),
            };
        }
    }
    ws.write_number(1_048_575, 16_383, 1.0).unwrap();
    wb.save(&p).unwrap();
    let (code, _, err) = train_on(&p, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("sheet 'Sheet1', cell A1048576 (column x) is empty"),
        "{err}"
    );
}

/// A data file that does not end is read up to the documented limit, then refused.
#[test]
fn an_endless_data_file_is_refused_at_the_limit() {
    let (code, _, err) = train_on(Path::new("/dev/zero"), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("/dev/zero is larger than 256 MiB, the most gradsheet reads from a file"),
        "{err}"
    );
}

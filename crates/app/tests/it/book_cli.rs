//! `gradsheet book`: a learner's workbook opened, recalculated and differentiated from
//! the command line.

use crate::common::{gradsheet, ok, path, stderr};
use rust_xlsxwriter::{Formula, Workbook};

/// y = a*x + b on one row, its squared error, and a second error that uses the first.
fn workbook(dir: &std::path::Path) -> String {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet().set_name("basic SGD").unwrap();
    ws.write(0, 0, 2.0).unwrap(); // a
    ws.write(0, 1, 30.0).unwrap(); // b
    ws.write(1, 0, 14.0).unwrap(); // x
    ws.write(1, 1, 58.0).unwrap(); // y
    ws.write(2, 0, Formula::new("=A1*A2+B1").set_result("58"))
        .unwrap();
    ws.write(
        2,
        1,
        Formula::new("=(A3-B2)^2+SUM(A1:B1)*0").set_result("0"),
    )
    .unwrap();
    let p = path(dir, "mine.xlsx");
    wb.save(&p).unwrap();
    p
}

#[test]
fn a_learners_workbook_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = workbook(dir.path());
    let s = ok(&["book", &file]);
    assert!(
        s.contains("sheet \"basic SGD\": 6 cells, 2 formulas"),
        "{s}"
    );
    // Sentences are wrapped to the terminal: read them as one line.
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("2 formula cells; 2 recalculate to the value Excel saved, 0 differ"),
        "{s}"
    );
    let o = gradsheet(&["book", &file, "--grad", "'basic SGD'!A3", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["cell"], "'basic SGD'!A3");
    assert_eq!(v["value"], 58.0);
    assert_eq!(v["derivatives"]["'basic SGD'!A1"], 14.0);
    assert_eq!(v["derivatives"]["'basic SGD'!A2"], 2.0);
    assert_eq!(v["derivatives"]["'basic SGD'!B1"], 1.0);
    let v: serde_json::Value =
        serde_json::from_slice(&gradsheet(&["book", &file, "--json"]).stdout).unwrap();
    assert_eq!(v["sheets"][0], "basic SGD");
    assert_eq!(v["recalculation"]["formula_cells"], 2);
    assert_eq!(v["recalculation"]["agree"], 2);
    // Faults are named, with exit 2.
    let o = gradsheet(&["book", &file, "--grad", "'basic SGD'!A1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("'basic SGD'!A1: it is not a formula cell"),
        "{}",
        stderr(&o)
    );
    let o = gradsheet(&["book", &file, "--grad", "Sheet9!A1"]);
    assert!(
        stderr(&o).contains("no sheet named 'Sheet9' (the sheets are basic SGD)"),
        "{}",
        stderr(&o)
    );
    let junk = path(dir.path(), "junk.xlsx");
    std::fs::write(&junk, b"not a zip").unwrap();
    let o = gradsheet(&["book", &junk]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not an .xlsx, .xlsm or .ods workbook"),
        "{}",
        stderr(&o)
    );
}

/// The Run button of graddesc's basic sheet, played by `book --run` on the workbook
/// itself (its formulas recalculated as a graph), gives `gradsheet graddesc`'s replay
/// (an independent implementation of the sheet) bit for bit, epoch by epoch.
#[test]
fn the_basic_sheets_loop_is_the_graddesc_replay() {
    let Some(file) = gradsheet_testkit::shared("workbooks/graddesc-2018.xlsm") else {
        return;
    };
    let file = file.to_string_lossy().into_owned();
    let o = gradsheet(&[
        "book",
        &file,
        "--run",
        "10",
        "--copy",
        "basic!C32=basic!C1",
        "--copy",
        "basic!D32=basic!C2",
        "--watch",
        "basic!F33",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let epochs: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(epochs.len(), 10);
    // The replay from the sheet's saved parameters.
    let o = gradsheet(&[
        "graddesc",
        "--sheet",
        "basic",
        "--init",
        "a=2.569996469807525,b=1.2754625002528799",
        "--runs",
        "2",
        "--json",
    ]);
    let replay: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let steps = replay["replay"]["epochs"].as_array().unwrap();
    for (mine, theirs) in epochs.iter().zip(&steps[1..]) {
        assert_eq!(
            mine["basic!C1"].as_f64(),
            theirs["b"].as_f64(),
            "{mine} {theirs}"
        );
        assert_eq!(
            mine["basic!C2"].as_f64(),
            theirs["a"].as_f64(),
            "{mine} {theirs}"
        );
        assert_eq!(
            mine["basic!F33"].as_f64(),
            theirs["sheet_rmse"].as_f64(),
            "{mine} {theirs}"
        );
    }
    // A copy into a formula cell is refused, naming it.
    let o = gradsheet(&["book", &file, "--run", "1", "--copy", "basic!C32=basic!F33"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("basic!F33: the value is copied into a number typed in"),
        "{}",
        stderr(&o)
    );
}

/// `--sheet basic --run 10 --reset`: the sheet's own VBA (Reset, then its Run loop) gives
/// the same epochs as `gradsheet graddesc`'s replay from Reset, bit for bit; the summary
/// names each sheet's loop; --run without a sheet or a copy says what it needs.
#[test]
fn the_run_macro_is_replayed_from_the_workbooks_vba() {
    let Some(file) = gradsheet_testkit::shared("workbooks/graddesc-2018.xlsm") else {
        return;
    };
    let file = file.to_string_lossy().into_owned();
    let o = gradsheet(&[
        "book",
        &file,
        "--sheet",
        "basic",
        "--run",
        "10",
        "--reset",
        "--watch",
        "basic!F33",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let epochs: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(epochs.len(), 10);
    let o = gradsheet(&[
        "graddesc",
        "--sheet",
        "basic",
        "--history",
        "--runs",
        "1",
        "--json",
    ]);
    let replay: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let steps = replay["replay"]["epochs"].as_array().unwrap();
    assert_eq!(steps[0]["after"], "Reset");
    for (mine, theirs) in epochs.iter().zip(&steps[1..]) {
        assert_eq!(
            mine["basic!C1"].as_f64(),
            theirs["b"].as_f64(),
            "{mine} {theirs}"
        );
        assert_eq!(
            mine["basic!C2"].as_f64(),
            theirs["a"].as_f64(),
            "{mine} {theirs}"
        );
        assert_eq!(
            mine["basic!F33"].as_f64(),
            theirs["sheet_rmse"].as_f64(),
            "{mine} {theirs}"
        );
    }
    assert_eq!(
        epochs[4]["rmsestart (pasted)"].as_f64(),
        Some(103.99322533093216)
    );
    let o = gradsheet(&["book", &file, "--json"]);
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let adam = summary["loops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["sheet"] == "adam")
        .unwrap()
        .clone();
    assert_eq!(adam["source"], "macro");
    assert_eq!(adam["what"], "adam.somesteps");
    let o = gradsheet(&["book", &file, "--run", "3"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--run needs --sheet NAME"),
        "{}",
        stderr(&o)
    );
}

/// `--xlsx OUT` writes the workbook again, its formulas kept and a sheet of verdicts
/// added; graddesc's 12 typed columns each get an exact column, `-2*(B4-E4)` beside
/// basic's est de/db.
#[test]
fn the_workbook_is_written_back_with_exact_columns() {
    use calamine::{open_workbook, Reader, Xlsx};
    let dir = tempfile::tempdir().unwrap();
    let file = workbook(dir.path());
    let out = path(dir.path(), "out.xlsx");
    ok(&["book", &file, "--xlsx", &out]);
    let mut x: Xlsx<_> = open_workbook(&out).unwrap();
    assert_eq!(x.sheet_names(), ["basic SGD", "gradsheet verdicts"]);
    let f = x.worksheet_formula("basic SGD").unwrap();
    assert_eq!(f.get_value((2, 0)).map(String::as_str), Some("A1*A2+B1"));
    let Some(shared) = gradsheet_testkit::shared("workbooks/graddesc-2018.xlsm") else {
        return;
    };
    let out = path(dir.path(), "graddesc.xlsx");
    let text = ok(&["book", &shared.to_string_lossy(), "--xlsx", &out]);
    assert!(
        text.starts_with(&format!("wrote {out}: 12 exact derivative columns")),
        "{text}"
    );
    let mut x: Xlsx<_> = open_workbook(&out).unwrap();
    let f = x.worksheet_formula("basic").unwrap();
    let row4: Vec<&str> = (0..30)
        .filter_map(|c| f.get_value((3, c)).map(String::as_str))
        .collect();
    assert!(row4.contains(&"-2*(B4-E4)"), "{row4:?}");
}

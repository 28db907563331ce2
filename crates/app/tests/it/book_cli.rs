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
    assert!(
        s.contains("2 formula cells; 2 recalculate to the value Excel saved, 0 differ"),
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
        stderr(&o).contains("not an .xlsx or .xlsm workbook"),
        "{}",
        stderr(&o)
    );
}

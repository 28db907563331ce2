//! `gradsheet book FILE --sheet S --run N` on a sheet whose loop is Excel Solver's.

use crate::common::{ok, path, usage_error};
use rust_xlsxwriter::{Formula, Workbook};

/// Solver minimising (w − 3)² + 1 in B1 by changing A1 (from 0).
fn bowl(dir: &std::path::Path) -> String {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet().set_name("bowl").unwrap();
    ws.write(0, 0, 0.0).unwrap();
    ws.write(0, 1, Formula::new("=(A1-3)^2+1").set_result("10"))
        .unwrap();
    wb.define_name("bowl!solver_opt", "=bowl!$B$1").unwrap();
    wb.define_name("bowl!solver_adj", "=bowl!$A$1").unwrap();
    wb.define_name("bowl!solver_typ", "=2").unwrap();
    let p = path(dir, "bowl.xlsx");
    wb.save(&p).unwrap();
    p
}

#[test]
fn a_solver_sheet_runs_its_problem() {
    let dir = tempfile::tempdir().unwrap();
    let f = bowl(dir.path());
    let summary = ok(&["book", &f]);
    assert!(
        summary.contains("loop of \"bowl\": Excel Solver: minimise bowl!B1, changing A1"),
        "{summary}"
    );
    let out = ok(&["book", &f, "--sheet", "bowl", "--run", "20", "--json"]);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["iteration"], 0);
    assert_eq!(lines[0]["objective"], 10.0);
    let solved = &lines.last().unwrap()["solved"];
    assert_eq!(solved["method"], "lbfgs");
    assert!(
        (solved["changing"]["bowl!A1"].as_f64().unwrap() - 3.0).abs() < 1e-8,
        "{solved}"
    );
    let before_last = &lines[lines.len() - 2];
    assert!(
        (before_last["objective"].as_f64().unwrap() - 1.0).abs() < 1e-12,
        "{out}"
    );
    // Adam, and a rate that is not one.
    let out = ok(&[
        "book", &f, "--sheet", "bowl", "--run", "400", "--adam", "0.1",
    ]);
    assert!(out.contains("1 changing cells (A1)"), "{out}");
    assert!(
        usage_error(&["book", &f, "--sheet", "bowl", "--run", "5", "--adam", "-1"])
            .contains("--adam -1: the learning rate is a positive number")
    );
    assert!(usage_error(&["book", &f, "--sheet", "nope", "--run", "5"])
        .contains("no sheet named 'nope' (its sheets: 'bowl')"));
}

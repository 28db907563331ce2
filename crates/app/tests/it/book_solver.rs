//! `gradsheet book FILE --sheet S --run N` on a sheet whose loop is Excel Solver's: the
//! least-squares line of book's test data (tests/data/README.md there).

use crate::common::{ok, usage_error};

fn fit() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../book/tests/data/solver-fit.xlsx"
    )
    .to_string()
}

#[test]
fn a_solver_sheet_runs_its_problem() {
    let f = fit();
    let summary = ok(&["book", &f]);
    assert!(
        summary.contains("loop of \"fit\": Excel Solver: minimise fit!E3, changing E1:E2"),
        "{summary}"
    );
    let out = ok(&["book", &f, "--sheet", "fit", "--run", "30", "--json"]);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["iteration"], 0);
    assert_eq!(lines[0]["objective"], 487.51);
    let solved = &lines.last().unwrap()["solved"];
    assert_eq!(solved["method"], "lbfgs");
    // The least-squares line: a = 1.99853, b = 1.02353 (normal equations).
    assert!(
        (solved["changing"]["fit!E1"].as_f64().unwrap() - 1.998_529_411_764_7).abs() < 1e-8,
        "{solved}"
    );
    assert!(
        (solved["changing"]["fit!E2"].as_f64().unwrap() - 1.023_529_411_764_7).abs() < 1e-8,
        "{solved}"
    );
    // Adam, and a rate that is not one.
    let out = ok(&[
        "book", &f, "--sheet", "fit", "--run", "400", "--adam", "0.1",
    ]);
    assert!(out.contains("2 changing cells (E1:E2)"), "{out}");
    assert!(
        usage_error(&["book", &f, "--sheet", "fit", "--run", "5", "--adam", "-1"])
            .contains("--adam -1: the learning rate is a positive number")
    );
    assert!(usage_error(&["book", &f, "--sheet", "nope", "--run", "5"])
        .contains("no sheet named 'nope' (its sheets: 'fit')"));
}

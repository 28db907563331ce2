//! `gradsheet book --explain`: why a sheet's loop explodes, from the command line.

use crate::common::{command, ok, path, stdout};
use rust_xlsxwriter::{Formula, Workbook};

/// SGD on b + a·x over three rows (x = 14, 99, 28) with the learning rate in J1; the
/// saved values are left for the engine to compute.
fn sgd(dir: &std::path::Path, lr: f64) -> String {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet().set_name("my sgd").unwrap();
    for (c, h) in ["x", "y", "b", "a", "pred", "err", "de/db", "de/da"]
        .iter()
        .enumerate()
    {
        ws.write(0, c as u16, *h).unwrap();
    }
    ws.write(0, 9, lr).unwrap();
    for (i, x) in [14.0f64, 99.0, 28.0].iter().enumerate() {
        let (r, n) = (i as u32 + 1, i + 2);
        ws.write(r, 0, *x).unwrap();
        ws.write(r, 1, 2.0 * x + 30.0).unwrap();
        if i == 0 {
            ws.write(r, 2, 1.0).unwrap();
            ws.write(r, 3, 1.0).unwrap();
        } else {
            let m = n - 1;
            ws.write(r, 2, Formula::new(format!("=C{m}-G{m}*$J$1")))
                .unwrap();
            ws.write(r, 3, Formula::new(format!("=D{m}-H{m}*$J$1")))
                .unwrap();
        }
        ws.write(r, 4, Formula::new(format!("=C{n}+D{n}*A{n}")))
            .unwrap();
        ws.write(r, 5, Formula::new(format!("=(E{n}-B{n})^2")))
            .unwrap();
        ws.write(r, 6, Formula::new(format!("=2*(E{n}-B{n})")))
            .unwrap();
        ws.write(r, 7, Formula::new(format!("=G{n}*A{n}"))).unwrap();
    }
    let p = path(dir, "sgd.xlsx");
    wb.save(&p).unwrap();
    p
}

/// The stdout of a run that must succeed, laid out for 200 columns (a sentence a line).
fn wide(args: &[&str]) -> String {
    let o = command().args(args).env("COLUMNS", "200").output().unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    stdout(&o)
}

#[test]
fn a_loop_that_explodes_is_explained_at_the_epoch_before() {
    let dir = tempfile::tempdir().unwrap();
    let f = sgd(dir.path(), 3e-4);
    let args = [
        "book",
        &f,
        "--sheet",
        "my sgd",
        "--run",
        "60",
        "--copy",
        "'my sgd'!C4='my sgd'!C2",
        "--copy",
        "'my sgd'!D4='my sgd'!D2",
        "--watch",
        "'my sgd'!F4",
        "--explain",
    ];
    let out = wide(&args);
    let lines: Vec<&str> = out.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("'my sgd', the run explodes in epoch 6; after epoch 5:"))
        .unwrap_or_else(|| panic!("{out}"));
    // 3e-4 · 2 · (1 + 99²) = 5.88: every pass multiplies the distance by about 4.9.
    assert!(
        lines[at + 1].trim_start().starts_with(
            "Row 3 (A3 = 99, B3 = 228) is too steep for the learning rate ('my sgd'!J1 = 3e-4): every step there overshoots"
        ),
        "{out}"
    );
    assert!(
        lines[at + 2].contains("There lr·λ = 5.881 (λ: the curvature of F3 along the step"),
        "{out}"
    );
    // JSON: the epochs as lines, then the explanation.
    let mut json = args.to_vec();
    json.push("--json");
    let out = ok(&json);
    let last: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let x = &last["explanation"];
    let at = x["exploded_at"].as_u64().unwrap();
    assert_eq!(at, 6, "{x}");
    assert_eq!(x["steep_rows"][0]["row"], 3, "{x}");
    let lam = x["steep_rows"][0]["lr_lambda"].as_f64().unwrap();
    assert!((lam - 3e-4 * 2.0 * (1.0 + 99.0 * 99.0)).abs() < 1e-9, "{x}");
    // A calm rate: nothing explodes, and the last epoch is explained.
    let calm = sgd(dir.path(), 1e-5);
    let out = wide(&["book", &calm, "--sheet", "my sgd", "--explain"]);
    assert!(out.contains("'my sgd', as the sheet was saved:"), "{out}");
    assert!(out.contains("No row is too steep for the learning rate ('my sgd'!J1 = 1e-5): the steepest, row 3 (A3 = 99, B3 = 228), has lr·λ = 0.196"), "{out}");
}

/// `book FILE --sheet NAME` alone: that sheet's part of the summary, its inputs counted;
/// an unknown sheet is named with the sheets there are (exit 2).
#[test]
fn one_sheets_summary() {
    let dir = tempfile::tempdir().unwrap();
    let f = sgd(dir.path(), 3e-4);
    let out = ok(&["book", &f, "--sheet", "my sgd", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // Three rows of x, y, and the first row's b and a, and the rate: 9 numbers typed in.
    assert_eq!(v["inputs"], 9, "{v}");
    assert_eq!(v["recalculation"]["formula_cells"], 3 * 4 + 2 * 2);
    let text = ok(&["book", &f, "--sheet", "my sgd"]);
    assert!(
        text.contains("inputs: 9 numbers typed in that the formulas read"),
        "{text}"
    );
    // Every line fits 80 columns (the notes are wrapped).
    assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
    let e = crate::common::usage_error(&["book", &f, "--sheet", "nope"]);
    assert!(
        e.contains("no sheet named 'nope' (its sheets: 'my sgd')"),
        "{e}"
    );
}

//! `gradsheet graddesc` with the cells a learner types: the learning rate, the β's and the
//! initial a and b, each defaulting to the sheet's own.

use serde_json::Value;

use crate::common::{gradsheet, ok, usage_error};

fn json(args: &[&str]) -> Value {
    let mut all = vec!["graddesc", "--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(&all)).unwrap()
}

fn cell(v: &Value, addr: &str) -> Value {
    v["replay"]["view"]["cells"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["addr"] == addr))
        .map(|c| c["value"].clone())
        .unwrap_or(Value::Null)
}

/// The sheet's own values typed explicitly give the saved sheet, cell for cell; another
/// β changes it as the rule says (β = 0: the momentum is each row's gradient).
#[test]
fn typed_cells_replay_the_sheet_with_them() {
    let saved = json(&["--sheet", "momentum"]);
    let typed = json(&[
        "--sheet", "momentum", "--beta1", "0.9", "--lr", "0.0001", "--init", "a=1,b=1",
    ]);
    assert_eq!(typed["replay"]["view"], saved["replay"]["view"]);
    assert_eq!(typed["settings"]["beta1"], 0.9);
    assert!(saved["settings"]["beta1"].is_null());

    let zero = json(&["--sheet", "momentum", "--beta", "0"]);
    assert_eq!(cell(&zero, "J1"), 0.0);
    for row in zero["replay"]["view"]["rows"].as_array().unwrap() {
        assert_eq!(row[9], row[5], "m_b = de/db: {row}");
    }

    // adam with its β2 and a start of its own, two Runs on.
    let v = json(&[
        "--sheet",
        "adam",
        "--beta2",
        "0.99",
        "--lr",
        "0.05",
        "--init",
        "a=-2,b=10",
        "--runs",
        "2",
    ]);
    assert_eq!(cell(&v, "L1"), 0.99);
    assert_eq!(cell(&v, "D2"), 0.05);
    let epochs = v["replay"]["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 11);
    assert_eq!(
        (epochs[0]["a"].clone(), epochs[0]["b"].clone()),
        (Value::from(-2.0), Value::from(10.0))
    );
    assert!(epochs[0]["after"]
        .as_str()
        .unwrap()
        .contains("then lr = 0.05, then b = 10, then a = -2"));

    let text = ok(&["graddesc", "--sheet", "adam", "--lr", "0.05", "--runs", "1"]);
    // Prose wraps to the terminal: compare it with its line breaks as spaces.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("replayed with typed cells: Reset, lr = 0.05 + 1 more Run(s)"),
        "{text}"
    );
}

#[test]
fn settings_that_do_not_apply_are_refused_by_name() {
    let err = usage_error(&["graddesc", "--sheet", "momentum", "--beta2", "0.5"]);
    assert!(
        err.contains(
            "beta2 does not apply to the momentum sheet, which has one β (set it as beta1)"
        ),
        "{err}"
    );
    let err = usage_error(&["graddesc", "--sheet", "basic", "--lr", "-1"]);
    assert!(
        err.contains("lr = -1 must be a finite number >= 0"),
        "{err}"
    );
    let err = usage_error(&["graddesc", "--sheet", "adam", "--beta1", "1.5"]);
    assert!(
        err.contains("beta1 = 1.5 must be a number from 0 to 1"),
        "{err}"
    );
    let err = usage_error(&["graddesc", "--sheet", "adam", "--init", "c=1"]);
    assert!(err.contains("--init sets 'c'"), "{err}");
    let err = usage_error(&["graddesc", "--sheet", "adam", "--runs", "100000"]);
    assert!(err.contains("--runs 100000: at most 10000"), "{err}");
    let o = gradsheet(&["graddesc", "--sheet", "eve", "--lr", "0.5"]);
    assert_eq!(o.status.code(), Some(2));
}

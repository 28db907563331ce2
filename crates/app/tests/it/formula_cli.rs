//! End-to-end tests of the formula commands: eval, diff, check.

use crate::common::{gradsheet, ok, stderr, stdout};

#[test]
fn eval_follows_excel() {
    let o = gradsheet(&["eval", "-2^2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "4");
    let o = gradsheet(&[
        "eval",
        "=c*MAX(a*x+b,0)+d",
        "x=3",
        "a=1",
        "b=-5",
        "c=2",
        "d=0.5",
    ]);
    assert_eq!(stdout(&o).trim(), "0.5");
    let o = gradsheet(&["eval", "LOG(1000)+x", "x=1", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["value"], 4.0);
}

#[test]
fn formula_errors_point_at_the_fault() {
    let o = gradsheet(&["eval", "MAXX(a,1)"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "error: in the formula:\n  MAXX(a,1)\n  ^^^^ unknown function MAXX (did you mean MAX?)\n"
    );
    let o = gradsheet(&["diff", "c*(a*x+b"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("  c*(a*x+b\n    ^ this parenthesis is never closed"),
        "{}",
        stderr(&o)
    );
    let o = gradsheet(&["eval", "a*x", "a=1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("the formula uses x without a value; give it, e.g. x=1"));
    let o = gradsheet(&["train", "a*x+b", "--optimizer", "adma"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("did you mean adam?"), "{}", stderr(&o));
}

#[test]
fn diff_prints_excel_and_mathematics() {
    let o = gradsheet(&["diff", "c*MAX(a*x+b,0)+d", "--wrt", "a,d"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(s.contains("parameters  c, a, b, d"));
    assert!(
        s.contains("  Excel  =2*(c*MAX(a*x+b,0)+d-y)*c*IF(a*x+b>=0,x,0)"),
        "{s}"
    );
    assert!(
        s.contains("  math   2·(c·max(a·x + b, 0) + d − y)·c·(x if a·x + b ≥ 0 else 0)"),
        "{s}"
    );
    assert!(s.contains("  Excel  =2*(c*MAX(a*x+b,0)+d-y)\n"));
    let o = gradsheet(&["diff", "a*x+b", "--loss", "absolute", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["derivatives"][0]["excel"], "=SIGN(a*x+b-y)*x");
    assert_eq!(v["parameters"], serde_json::json!(["a", "b"]));
}

#[test]
fn check_recognises_the_learners_forward_differences() {
    let o = gradsheet(&[
        "check",
        "c*(a*x+b)+d",
        "--derivative",
        "a=((((a+0.01)*x+b)*c+d-y)^2-((a*x+b)*c+d-y)^2)/0.01",
        "--derivative",
        "b=(((a*x+(b+0.01))*c+d-y)^2-((a*x+b)*c+d-y)^2)/0.01",
        "--derivative",
        "c=(((a*x+b)*(c+0.01)+d-y)^2-((a*x+b)*c+d-y)^2)/0.01",
        "--derivative",
        "d=(((a*x+b)*c+(d+0.01)-y)^2-((a*x+b)*c+d-y)^2)/0.01",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(s.contains(
        "the formula for ∂e/∂a is a forward difference of the error with h = 0.01; its error is 0.01·c²·x²"
    ), "{s}");
    assert!(s.contains("its error is 0.01·c²,"), "{s}");
    assert!(s.contains("its error is 0.01·(a·x + b)²"), "{s}");
    assert!(s.contains("its error is 0.01,"), "{s}");
    // The exact derivative is printed beside it, and row 2 (x = 86) is off by 73.96.
    assert!(s.contains("  exact  =2*(c*(a*x+b)+d-y)*c*x"));
    let row2 = s
        .lines()
        .find(|l| l.trim_start().starts_with("2  86  202"))
        .unwrap();
    assert!(row2.contains("73.96"), "{row2}");
    assert!(s.contains("symbolic vs automatic: max relative gap 0"));

    let o = gradsheet(&["check", "a*x+b", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["gradient_check"]["rows"].as_array().unwrap().len(), 29);
    assert!(
        v["gradient_check"]["max_rel_central_vs_auto"]
            .as_f64()
            .unwrap()
            < 1e-8
    );
}

/// A derivative that is not finite on either side is never agreement: `SQRT(c-1)` at
/// c = 1 has an infinite slope, which once printed "max relative gap 0".
#[test]
fn check_never_passes_a_derivative_that_is_not_finite() {
    let s = ok(&["check", "SQRT(c-1)+b", "--init", "c=1,b=1"]);
    assert!(!s.contains("max relative gap 0"), "{s}");
    assert!(
        s.contains("symbolic vs automatic: no agreement: the automatic (reverse-mode) derivative of e with respect to c is -inf on row 1: the slope is infinite"),
        "{s}"
    );
    let o = gradsheet(&["check", "SQRT(c-1)+b", "--init", "c=1,b=1", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let g = &v["gradient_check"];
    assert!(g["max_rel_symbolic_vs_auto"].is_null(), "{g}");
    assert_eq!(g["symbolic_not_finite"]["side"], "automatic");
    assert_eq!(g["symbolic_not_finite"]["row"], 1);
    assert_eq!(g["symbolic_not_finite"]["param"], "c");
    // Just inside the domain the slope is finite, but a central difference steps out.
    let s = ok(&["check", "SQRT(c-1)+b", "--init", "c=1.000001,b=1"]);
    assert!(s.contains("symbolic vs automatic: max relative gap"), "{s}");
    assert!(
        s.contains("no agreement: the central difference of e with respect to c is NaN on row 1"),
        "{s}"
    );
}

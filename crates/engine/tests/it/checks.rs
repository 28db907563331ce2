//! Recognising what a typed derivative is.

use gradsheet_engine::{
    check_derivative, parse, CheckOptions, Dataset, Finding, Model, Roles, Scheme,
};

fn learner() -> Model {
    Model::new("c*(a*x+b)+d", "squared", &Roles::with_columns(&["x", "y"])).unwrap()
}

fn check(param: &str, typed: &str) -> gradsheet_engine::DerivativeCheck {
    let m = learner();
    let typed = parse(typed).unwrap();
    check_derivative(
        &m,
        &Dataset::graddesc(),
        &[1.0; 4],
        param,
        &typed,
        &CheckOptions::default(),
    )
    .unwrap()
}

#[test]
fn the_learners_forward_differences() {
    // The four formulas from the fast.ai forum, h = 0.01.
    let typed = [
        (
            "a",
            "((((a+0.01)*x+b)*c+d-y)^2-((a*x+b)*c+d-y)^2)/0.01",
            "0.01*c^2*x^2",
        ),
        (
            "b",
            "(((a*x+(b+0.01))*c+d-y)^2-((a*x+b)*c+d-y)^2)/0.01",
            "0.01*c^2",
        ),
        (
            "c",
            "(((a*x+b)*(c+0.01)+d-y)^2-((a*x+b)*c+d-y)^2)/0.01",
            "0.01*(a*x+b)^2",
        ),
        (
            "d",
            "(((a*x+b)*c+(d+0.01)-y)^2-((a*x+b)*c+d-y)^2)/0.01",
            "0.01",
        ),
    ];
    for (p, f, err) in typed {
        let r = check(p, f);
        match &r.finding {
            Finding::FiniteDifference { scheme, h, error } => {
                assert_eq!((*scheme, *h), (Scheme::Forward, 0.01), "{p}");
                assert_eq!(error.to_string(), err, "{p}");
            }
            other => panic!("{p}: {other:?}"),
        }
    }
    // On row 2 (x = 86, c = 1) the a-formula is off by 0.01·86² = 73.96, as predicted.
    let r = check("a", typed[0].1);
    assert!((r.rows[1].diff() - 73.96).abs() < 1e-6);
    assert!((r.rows[1].predicted_error.unwrap() - 73.96).abs() < 1e-9);
    assert_eq!(r.exact.to_excel(), "2*(c*(a*x+b)+d-y)*c*x");
    assert!(r
        .summary()
        .contains("forward difference of the error with h = 0.01"));
}

#[test]
fn other_findings() {
    assert_eq!(check("a", "2*(c*(a*x+b)+d-y)*c*x").finding, Finding::Exact);
    assert_eq!(
        check("a", "2*(y-(c*(a*x+b)+d))*c*x").finding,
        Finding::Scaled(-1.0)
    );
    assert_eq!(
        check("a", "(c*(a*x+b)+d-y)*c*x").finding,
        Finding::Scaled(0.5)
    );
    assert_eq!(check("a", "c*x").finding, Finding::PredictionOnly);
    assert_eq!(
        check("b", "2*(c*(a*x+b)+d-y)*c*x").finding,
        Finding::OtherName("a".into())
    );
    let central = "(((a+0.001)*x*c+b*c+d-y)^2-((a-0.001)*x*c+b*c+d-y)^2)/0.002";
    assert!(
        matches!(check("a", central).finding, Finding::FiniteDifference { scheme: Scheme::Central, h, .. } if h == 0.001)
    );
    // Agrees at a = b = c = d = 1 on every row, but not at random points: c is missing.
    let r = check("a", "2*((a*x+b)+d-y)*x");
    assert_eq!(r.finding, Finding::Unknown);
    assert!(r.rows.iter().all(|p| p.diff() == 0.0));
    assert!(r.random.iter().any(|p| p.diff().abs() > 1e-6));
}

#[test]
fn check_errors_are_precise() {
    let m = learner();
    let d = Dataset::graddesc();
    let f = parse("2*z").unwrap();
    let e = check_derivative(&m, &d, &[1.0; 4], "a", &f, &CheckOptions::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the formula for ∂e/∂a uses z, which is not a parameter, column or constant"
    );
    let e = check_derivative(&m, &d, &[1.0; 4], "q", &f, &CheckOptions::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "q is not a parameter of the model (its parameters are c, a, b, d)"
    );
}

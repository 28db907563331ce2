//! Parse trees and printed forms, as snapshots.

use expect_test::{expect, Expect};
use gradsheet_engine::parse;

fn check(src: &str, expect: Expect) {
    let e = parse(src).unwrap();
    let actual = format!("{}\n{}\n{}\n{}", e.sexpr(), e, e.to_excel(), e.to_math());
    expect.assert_eq(&actual);
}

#[test]
fn excel_precedence() {
    // Excel: unary minus binds tighter than ^, so -2^2 = 4.
    check(
        "-2^2",
        expect![[r#"
        (^ -2 2)
        -2^2
        -2^2
        (−2)²"#]],
    );
    check(
        "-x^2",
        expect![[r#"
        (^ (neg x) 2)
        -x^2
        -x^2
        (−x)²"#]],
    );
    // ^ associates to the left: 2^3^2 = 64.
    check(
        "2^3^2",
        expect![[r#"
        (^ (^ 2 3) 2)
        2^3^2
        2^3^2
        (2³)²"#]],
    );
    check(
        "a-b-c",
        expect![[r#"
        (- (- a b) c)
        a-b-c
        a-b-c
        a − b − c"#]],
    );
    check(
        "a-(b-c)",
        expect![[r#"
        (- a (- b c))
        a-(b-c)
        a-(b-c)
        a − (b − c)"#]],
    );
    check(
        "a*x+b>=0",
        expect![[r#"
        (>= (+ (* a x) b) 0)
        a*x+b>=0
        a*x+b>=0
        a·x + b ≥ 0"#]],
    );
}

#[test]
fn functions_and_numbers() {
    check(
        "=c*max(a*x+b,0)+d",
        expect![[r#"
        (+ (* c (MAX (+ (* a x) b) 0)) d)
        c*MAX(a*x+b,0)+d
        c*MAX(a*x+b,0)+d
        c·max(a·x + b, 0) + d"#]],
    );
    check(
        "RELU(u)+SIGMOID(-v)",
        expect![[r#"
        (+ (RELU u) (SIGMOID (neg v)))
        RELU(u)+SIGMOID(-v)
        MAX(u,0)+1/(1+EXP(--v))
        relu(u) + σ(−v)"#]],
    );
    check(
        "SOFTPLUS(-u)*2",
        expect![[r#"
        (* (SOFTPLUS (neg u)) 2)
        SOFTPLUS(-u)*2
        LN(1+EXP(-u))*2
        softplus(−u)·2"#]],
    );
    check(
        "ROUND(x,2)+INT(-x)",
        expect![[r#"
        (+ (ROUND x 2) (INT (neg x)))
        ROUND(x,2)+INT(-x)
        ROUND(x,2)+INT(-x)
        round(x, 2) + floor(−x)"#]],
    );
    check(
        "LOG(p)+LOG(p,2)+LN(p)+POWER(x,3)",
        expect![[r#"
        (+ (+ (+ (LOG10 p) (LOG p 2)) (LN p)) (^ x 3))
        LOG(p)+LOG(p,2)+LN(p)+x^3
        LOG(p)+LOG(p,2)+LN(p)+x^3
        log₁₀(p) + log(p, 2) + ln(p) + x³"#]],
    );
    check(
        "1e-4*.5+IF(x<>0,1,2)",
        expect![[r#"
        (+ (* 0.0001 0.5) (IF (<> x 0) 1 2))
        0.0001*0.5+IF(x<>0,1,2)
        0.0001*0.5+IF(x<>0,1,2)
        0.0001·0.5 + (1 if x ≠ 0 else 2)"#]],
    );
}

#[test]
fn values_follow_excel() {
    let v = |s: &str| parse(s).unwrap().eval(&|_| None).unwrap();
    assert_eq!(v("-2^2"), 4.0);
    assert_eq!(v("2^3^2"), 64.0);
    assert_eq!(v("1-0.9^4"), 0.3438999999999999); // Excel's integer power, as in mom_bias
    assert_eq!(v("LOG(1000)"), 3.0);
    assert_eq!(v("LOG(8,2)"), 3.0);
    assert_eq!(v("MAX(1,5,3)+MIN(4,2,8)"), 7.0);
    assert_eq!(v("(1<2)+(2<=2)+(3>4)+(4>=5)+(5=5)+(5<>5)"), 3.0);
    assert_eq!(v("IF(0,1)"), 0.0);
    assert!(v("SQRT(-1)").is_nan());
    assert_eq!(v("LN(0)"), f64::NEG_INFINITY);
    // SOFTPLUS neither overflows nor loses its small values.
    assert_eq!(v("SOFTPLUS(1000)"), 1000.0);
    assert_eq!(v("SOFTPLUS(-800)"), 0.0);
    assert_eq!(v("SOFTPLUS(-40)"), (-40f64).exp());
    assert!((v("SOFTPLUS(0)") - 2f64.ln()).abs() < 1e-16);
    // INT rounds down, ROUND rounds halves away from zero (emb_sizing's ROUND(…,0),
    // mom_bias's CEILING.MATH as -INT(-x)).
    assert_eq!(v("INT(-2.5)+INT(2.5)"), -1.0);
    assert_eq!(v("ROUND(2.5,0)"), 3.0);
    assert_eq!(v("ROUND(-2.5,0)"), -3.0);
    assert_eq!(v("ROUND(0.125,2)"), 0.13);
    assert_eq!(v("ROUND(1250,-2)"), 1300.0);
    assert_eq!(v("ROUND(1.5,1.9)"), 1.5); // the digit count is truncated
    assert!(v("ROUND(SQRT(-1),0)").is_nan());
}

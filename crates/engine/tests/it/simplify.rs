//! Every simplification keeps the value, and every printed derivative, read back from its
//! Excel text, is the derivative reverse mode computes.
//!
//! The formulas are random text (so that these tests also run against older versions of
//! the engine): negative constants, divisions, powers with whole and fractional
//! exponents, and the functions.

use gradsheet_engine::{derivative, parse, simplify, Expr, Tape};
use proptest::prelude::*;

const NAMES: [&str; 3] = ["a", "b", "x"];

/// Random formula text over a, b, x.
fn formula() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        (0usize..3).prop_map(|i| NAMES[i].to_string()),
        prop::sample::select(vec!["-3", "-0.5", "2", "0.1", "3", "-2", "1", "0"])
            .prop_map(String::from),
    ];
    leaf.prop_recursive(5, 32, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("{l}+{r}")),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("{l}-({r})")),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l})*({r})")),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l})/({r})")),
            (
                inner.clone(),
                prop::sample::select(vec!["-3", "-1", "2", "3", "0.5", "-2"])
            )
                .prop_map(|(l, k)| format!("({l})^{k}")),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l})/{r}")),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("{l}*{r}")),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("-{l}/{r}")),
            inner.clone().prop_map(|l| format!("-({l})")),
            inner.clone().prop_map(|l| format!("EXP(({l})/4)")),
            inner.clone().prop_map(|l| format!("LN(ABS({l})+1)")),
            inner.clone().prop_map(|l| format!("SQRT(({l})^2+1)")),
            inner.clone().prop_map(|l| format!("TANH({l})")),
            inner.clone().prop_map(|l| format!("SIGMOID({l})")),
        ]
    })
}

/// Binds a, b, x to `p`.
fn env(p: [f64; 3]) -> impl Fn(&str) -> Option<f64> {
    move |n: &str| NAMES.iter().position(|m| *m == n).map(|i| p[i])
}

/// The largest magnitude of any subexpression's value: the scale of rounding errors
/// that reordering the operations can make.
fn scale(e: &Expr, env: &dyn Fn(&str) -> Option<f64>) -> f64 {
    let mut m = 1.0f64;
    e.visit(&mut |n| {
        if let Ok(v) = n.eval(env) {
            if v.is_finite() {
                m = m.max(v.abs());
            }
        }
    });
    m
}

/// Whether every subexpression has a finite value (where Excel has one at all).
fn finite_throughout(e: &Expr, env: &dyn Fn(&str) -> Option<f64>) -> bool {
    let mut finite = true;
    e.visit(&mut |n| finite &= n.eval(env).is_ok_and(f64::is_finite));
    finite
}

fn names() -> Vec<String> {
    NAMES.iter().map(|s| s.to_string()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn simplification_keeps_the_value(f in formula(), p in prop::array::uniform3(-3.0f64..3.0)) {
        let e = parse(&f).unwrap();
        let s = simplify(&e);
        let env = env(p);
        let before = e.eval(&env).unwrap();
        let after = s.eval(&env).unwrap();
        // Where the formula has a value, the simplified one has the same, to rounding.
        // (Where it has none, `0*u` = 0 and `u/u` = 1 may give the simplified one a value.)
        // A value is Excel's: a formula with a division by zero anywhere in it has none
        // (#DIV/0!), even where IEEE's infinity goes on to a number — `TANH(a/(-0/a))`
        // is −1 in f64, and `-0/a` is simplified to `0`, whose sign Excel has not.
        prop_assume!(before.is_finite() && finite_throughout(&e, &env));
        let tol = 1e-9 * scale(&e, &env);
        prop_assert!((before - after).abs() <= tol,
            "{} = {} but simplified {} = {} at {:?}", f, before, s, after, p);
    }

    #[test]
    fn printed_derivatives_are_reverse_mode(f in formula(), p in prop::array::uniform3(-3.0f64..3.0)) {
        let e = parse(&f).unwrap();
        let tape = Tape::compile(&e, &names()).unwrap();
        let mut ws = tape.workspace();
        ws.vals[..3].copy_from_slice(&p);
        tape.forward(&mut ws.vals);
        prop_assume!(ws.vals[tape.output(0) as usize].is_finite());
        tape.backward(&mut ws, 0);
        let max_val = ws.vals.iter().filter(|v| v.is_finite()).fold(0.0f64, |m, v| m.max(v.abs()));
        let max_adj = ws.adj.iter().filter(|v| v.is_finite()).fold(0.0f64, |m, v| m.max(v.abs()));
        let tol_scale = 1.0 + max_adj * (1.0 + max_val);
        for (k, w) in NAMES.iter().enumerate() {
            let d = derivative(&e, w);
            let text = d.to_excel();
            let back = parse(&text).unwrap();
            let printed = back.eval(&env(p)).unwrap();
            let auto = ws.adj[k];
            if printed.is_finite() && auto.is_finite() {
                prop_assert!((printed - auto).abs() <= 1e-9 * tol_scale.max(printed.abs()),
                    "d/d{} of {}: printed {} = {} but reverse mode {} at {:?}", w, f, text, printed, auto, p);
            }
        }
    }
}

/// The cases of the report: a division by a negative constant keeps its sign.
#[test]
fn division_by_a_negative_constant_keeps_its_sign() {
    let d = |f: &str, w: &str| derivative(&parse(f).unwrap(), w).to_string();
    let err = "(a*x/-3+b-y)^2";
    let at = |e: &str, vals: &[(&str, f64)]| parse(e).unwrap().eval_with(vals).unwrap();
    let vals = [("a", 1.5), ("b", 2.0), ("x", 3.0), ("y", 0.5)];
    // d/da = 2*(a*x/-3+b-y)*x/-3: at these values 2*(−1.5+2−0.5)*3/−3 = 0, so use another b.
    let vals2 = [("a", 1.5), ("b", 4.0), ("x", 3.0), ("y", 0.5)];
    assert_eq!(
        at(&d(err, "a"), &vals2),
        2.0 * (1.5 * 3.0 / -3.0 + 4.0 - 0.5) * 3.0 / -3.0
    );
    assert_eq!(at(&d(err, "a"), &vals), 0.0);
    let p = "(b+0.1)*(b+0.2)/-3";
    assert_eq!(at(&d(p, "b"), &[("b", 1.0)]), -(2.0 + 0.3) / 3.0);
    let q = "b^2/-3*b";
    let want = 3.0 * 4.0 / -3.0; // d/db of -b³/3 at b = 2
    assert!((at(&d(q, "b"), &[("b", 2.0)]) - want).abs() < 1e-12);
    assert_eq!(
        simplify(&parse("a*x/-3").unwrap())
            .eval_with(&vals)
            .unwrap(),
        -1.5
    );
}

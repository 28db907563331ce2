//! The fuzz target over the whole formula pipeline: text → parse → simplify →
//! differentiate → tape → native code → print → parse again, with the value checks of
//! each step, on random formulas (the grammar of [`crate::formula`]) and on random text
//! (which must give an error or a formula, never a panic).
//!
//! `cargo test` runs 2,000 cases of each; a long run sets the count (docs/formulas.md):
//!
//! ```sh
//! GRADSHEET_FUZZ_CASES=1000000 cargo test --release -p gradsheet-jit --test it fuzz
//! ```

use gradsheet_engine::diff::shown_derivative;
use gradsheet_engine::{parse, simplify, Model, Roles};
use gradsheet_jit::GradKernel;
use proptest::prelude::*;

use crate::key;

/// How many cases each fuzz test runs: `GRADSHEET_FUZZ_CASES`, or 2,000 (under a second).
fn cases() -> u32 {
    std::env::var("GRADSHEET_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000)
}

/// Whether `a` and `b` agree to rounding at the scale `scale`.
fn close(a: f64, b: f64, scale: f64) -> bool {
    a.to_bits() == b.to_bits()
        || (a.is_nan() && b.is_nan())
        || (a - b).abs() <= 1e-9 * scale.max(a.abs()).max(1.0)
}

/// Text near the grammar: tokens of formulas in any order, and any character.
fn text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        prop::sample::select(vec![
            "a", "x", "b1", "(", ")", ",", "+", "-", "*", "/", "^", ">=", "<>", "=", "%", "1e308",
            "0.5", "-3", "MAX(", "MIN(", "IF(", "EXP(", "LN(", "SQRT(", "SUM(", "$A$1", "\"s\"",
            " ", "ϵ", "é", "\u{0}", "TRUE", "1..2", "--", "^-", ".5", "5.",
        ])
        .prop_map(String::from),
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(token, 0..40).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn fuzz_the_formula_pipeline(
        f in crate::formula(),
        vals in prop::collection::vec(-2.0f64..2.0, 5),
    ) {
        let roles = Roles {
            data: vec!["x".into(), "y".into()],
            params: vec!["a".into(), "b".into(), "c".into()],
            ..Roles::default()
        };
        let m = Model::new(&f, "squared", &roles).unwrap();
        let c = m.compile();
        let n = c.tape.n_vars();
        let vars = &vals[..n];
        // The tape's slots: the data columns, then the parameters.
        let slots: Vec<&String> = m.columns.iter().chain(&m.params).collect();
        let env = |name: &str| -> Option<f64> {
            slots.iter().position(|v| *v == name).map(|k| vars[k])
        };
        // The interpreter, the native code: bit for bit.
        let (e, g) = c.tape.eval_grad(vars, 1);
        let k = GradKernel::compile(&c.tape, 1, c.n_cols..c.n_cols + c.n_params).unwrap();
        let mut gk = vec![0.0; c.n_params];
        prop_assert_eq!(key(e), key(k.call(vars, &mut gk)));
        for (i, gi) in gk.iter().enumerate() {
            prop_assert_eq!(key(*gi), key(g[c.n_cols + i]), "{}", f);
        }
        // Simplification keeps the value where there is one and the formula does not pass
        // through an infinity or a NaN on the way: algebra does not keep those (`0*a` is
        // 0, but 0·(−1.3) is −0, a/−0 is −∞ where a/0 is +∞, and 0·NaN is NaN; Excel has
        // no signed zero, says #DIV/0!, and has no NaN but #NUM!, which the printed
        // formula's `SQRT(x)*0` → 0 drops).
        let v = m.error.eval(&env).unwrap();
        let mut through_non_finite = false;
        m.error.visit(&mut |n| {
            through_non_finite |= n.eval(&env).is_ok_and(|x| !x.is_finite());
        });
        prop_assert!(
            !v.is_finite() || through_non_finite || close(v, simplify(&m.error).eval(&env).unwrap(), v.abs()),
            "{}", f
        );
        // The printed formula reads back to itself.
        let back = parse(&m.error.to_excel()).unwrap().eval(&env).unwrap();
        // Excel has no SOFTPLUS: its text is LN(1+EXP(u)), which overflows past u ≈ 709
        // where the engine's own softplus does not (docs/formulas.md says so).
        let softplus_overflow = back == f64::INFINITY && f.contains("SOFTPLUS");
        prop_assert!(close(v, back, v.abs()) || !v.is_finite() || softplus_overflow, "{}", f);
        // Each printed derivative, read back from its Excel text, is reverse mode's where
        // both are finite; a derivative too large to print says so.
        for (i, p) in m.params.iter().enumerate() {
            let auto = g[c.n_cols + i];
            match shown_derivative(&m.error, p) {
                Ok(d) => {
                    let printed = parse(&d.to_excel()).unwrap().eval(&env).unwrap();
                    let scale = g.iter().filter(|x| x.is_finite()).fold(1.0f64, |s, x| s.max(x.abs()));
                    // As for the value above: where the formula passes through an
                    // infinity, algebra's `0/a` = 0 loses the sign that decides it
                    // (`(0/a)^-1` is −∞ for a < 0, and a comparison with it flips); and
                    // through a NaN, `u*0` = 0 drops it (`MIN(LOG(a),0,SQRT(x)*0)` at
                    // x < 0 is NaN, whose adjoint MIN routes to neither side, while the
                    // printed derivative's MIN no longer sees it).
                    prop_assert!(
                        !printed.is_finite() || !auto.is_finite() || through_non_finite || close(printed, auto, scale * 1e3),
                        "d/d{} of {}: printed {} vs reverse mode {}", p, f, printed, auto
                    );
                }
                Err(e) => prop_assert!(e.to_string().starts_with("too large to print")),
            }
        }
    }

    #[test]
    fn fuzz_text_never_panics(t in text()) {
        if let Ok(e) = parse(&t) {
            let names: Vec<String> = {
                let mut v = Vec::new();
                e.visit(&mut |n| if let gradsheet_engine::Expr::Var(s) = n {
                    if !v.contains(s) { v.push(s.clone()); }
                });
                v
            };
            let s = simplify(&e);
            let text = e.to_excel();
            let again = parse(&text).unwrap();
            prop_assert_eq!(again.to_excel(), text);
            for v in &names {
                let _ = shown_derivative(&e, v);
            }
            let _ = s.to_math();
            let _ = gradsheet_engine::Tape::compile(&e, &names);
        }
    }
}

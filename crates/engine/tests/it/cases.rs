//! The shared formula cases (tests/data/cases.toml): the printed symbolic derivative, and
//! the symbolic, automatic and central-difference values at every point.

use gradsheet_engine::{derivative, parse, Tape};

#[derive(serde::Deserialize)]
struct Cases {
    case: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    formula: String,
    wrt: String,
    derivative: String,
    points: Vec<std::collections::BTreeMap<String, f64>>,
}

#[test]
fn cases_agree_three_ways() {
    let cases: Cases = toml::from_str(include_str!("../data/cases.toml")).unwrap();
    assert!(cases.case.len() >= 15);
    for c in &cases.case {
        let e = parse(&c.formula).unwrap();
        let d = derivative(&e, &c.wrt);
        assert_eq!(
            d.to_string(),
            c.derivative,
            "printed derivative of {} in {}",
            c.formula,
            c.wrt
        );
        // The printed form parses back to the same tree.
        assert_eq!(parse(&d.to_string()).unwrap(), d);
        for p in &c.points {
            let names: Vec<String> = p.keys().cloned().collect();
            let vals: Vec<f64> = p.values().copied().collect();
            let tape = Tape::compile(&e, &names).unwrap();
            let (_, grad) = tape.eval_grad(&vals, 0);
            let k = names.iter().position(|n| *n == c.wrt).unwrap();
            let auto = grad[k];
            let sym = d.eval(&|n| p.get(n).copied()).unwrap();
            let rel = |a: f64, b: f64| (a - b).abs() / a.abs().max(b.abs()).max(1.0);
            assert!(
                rel(sym, auto) <= 1e-12,
                "{}: symbolic {sym} vs automatic {auto} at {p:?}",
                c.formula
            );
            let h = 1e-6;
            let mut at = vals.clone();
            at[k] += h;
            let up = tape.eval(&at, 0);
            at[k] = vals[k] - h;
            let down = tape.eval(&at, 0);
            let central = (up - down) / (2.0 * h);
            assert!(
                rel(central, auto) <= 1e-6,
                "{}: central {central} vs automatic {auto} at {p:?}",
                c.formula
            );
        }
    }
}

#[test]
fn shared_subexpressions_share_a_slot() {
    let names = vec!["x".to_string()];
    let tape = Tape::compile(&parse("x*x+x*x").unwrap(), &names).unwrap();
    // x*x once, then the sum: two instructions.
    assert_eq!(tape.code().len(), 2);
    let (v, g) = tape.eval_grad(&[3.0], 0);
    assert_eq!((v, g[0]), (18.0, 12.0));
}

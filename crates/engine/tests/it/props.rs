//! Property tests over random formulas: printing round-trips, the three derivatives agree,
//! and no input — formula text or values — makes anything panic.

use gradsheet_engine::{derivative, parse, Binary, Cmp, Expr, Fold, Op, Tape, Unary};
use proptest::prelude::*;

const NAMES: [&str; 3] = ["a", "b", "x"];

/// Random formulas built so that every value stays finite on [-2, 2]³: denominators and
/// logarithm arguments are kept away from zero (`1+u^2`), exponentials are of bounded
/// arguments.
fn formula() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        (0usize..3).prop_map(|i| Expr::var(NAMES[i])),
        (1u32..40).prop_map(|n| Expr::Num(n as f64 / 8.0)),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        let pos = |u: Expr| {
            Expr::bin(
                Binary::Add,
                Expr::Num(1.0),
                Expr::bin(Binary::Pow, u, Expr::Num(2.0)),
            )
        };
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::bin(Binary::Add, a, b)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::bin(Binary::Sub, a, b)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::bin(Binary::Mul, a, b)),
            (inner.clone(), inner.clone()).prop_map(move |(a, b)| Expr::bin(
                Binary::Div,
                a,
                pos(b)
            )),
            inner
                .clone()
                .prop_map(|a| Expr::bin(Binary::Pow, a, Expr::Num(2.0))),
            inner
                .clone()
                .prop_map(|a| Expr::bin(Binary::Pow, a, Expr::Num(3.0))),
            inner
                .clone()
                .prop_map(|a| Expr::un(Unary::Neg, Expr::un(Unary::Tanh, a))),
            inner
                .clone()
                .prop_map(|a| Expr::un(Unary::Exp, Expr::un(Unary::Tanh, a))),
            inner.clone().prop_map(|a| Expr::un(Unary::Sigmoid, a)),
            inner.clone().prop_map(move |a| Expr::un(Unary::Ln, pos(a))),
            inner
                .clone()
                .prop_map(move |a| Expr::un(Unary::Sqrt, pos(a))),
            inner.clone().prop_map(|a| Expr::un(Unary::Abs, a)),
            inner.clone().prop_map(|a| Expr::un(Unary::Relu, a)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::fold(Fold::Max, vec![a, b])),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| Expr::fold(Fold::Min, vec![a, b, c])),
            (inner.clone(), inner.clone(), inner.clone(), inner.clone()).prop_map(
                |(p, q, a, b)| {
                    Expr::apply(Op::If, vec![Expr::bin(Binary::Cmp(Cmp::Gt), p, q), a, b])
                }
            ),
        ]
    })
}

/// How close the point is to a switch of any MAX, MIN, ABS, RELU or IF in `e`.
fn kink_margin(e: &Expr, env: &dyn Fn(&str) -> Option<f64>) -> f64 {
    let mut m = f64::INFINITY;
    e.visit(&mut |n| {
        if let Expr::Apply(op, args) = n {
            let v = |k: usize| args[k].eval(env).unwrap_or(f64::NAN);
            let d = match op {
                Op::Fold(_) => {
                    let mut best = f64::INFINITY;
                    for i in 0..args.len() {
                        for j in i + 1..args.len() {
                            best = best.min((v(i) - v(j)).abs());
                        }
                    }
                    best
                }
                Op::Unary(Unary::Abs | Unary::Relu) => v(0).abs(),
                Op::If => match &args[0] {
                    Expr::Apply(_, c) if c.len() == 2 => {
                        (c[0].eval(env).unwrap_or(0.0) - c[1].eval(env).unwrap_or(0.0)).abs()
                    }
                    _ => f64::INFINITY,
                },
                Op::Unary(_) | Op::Binary(_) => f64::INFINITY,
            };
            m = m.min(d);
        }
    });
    m
}

fn names() -> Vec<String> {
    NAMES.iter().map(|s| s.to_string()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn printing_round_trips(e in formula()) {
        let text = e.to_string();
        prop_assert_eq!(parse(&text).unwrap(), e.clone(), "{}", text);
        // The symbolic derivative prints and parses back too.
        let d = derivative(&e, "a");
        prop_assert_eq!(parse(&d.to_string()).unwrap(), d);
    }

    #[test]
    fn three_derivatives_agree(e in formula(), p in prop::array::uniform3(-2.0f64..2.0)) {
        let env = |n: &str| NAMES.iter().position(|m| *m == n).map(|i| p[i]);
        prop_assume!(kink_margin(&e, &env) > 1e-3);
        let tape = Tape::compile(&e, &names()).unwrap();
        let mut ws = tape.workspace();
        ws.vals[..3].copy_from_slice(&p);
        tape.forward(&mut ws.vals);
        let f = ws.vals[tape.output(0) as usize];
        prop_assume!(f.is_finite());
        tape.backward(&mut ws, 0);
        // The scale of the terms that make up a derivative: rounding is relative to it,
        // not to the (possibly cancelled) result.
        let max_val = ws.vals.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let max_adj = ws.adj.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let scale = 1.0 + max_adj * (1.0 + max_val);
        for (k, name) in NAMES.iter().enumerate() {
            let auto = ws.adj[k];
            let sym = derivative(&e, name).eval(&env).unwrap();
            prop_assert!((sym - auto).abs() <= 1e-12 * scale.max(sym.abs()),
                "d/d{} of {}: symbolic {} vs automatic {} (scale {})", name, e, sym, auto, scale);
            // Central differences: truncation h²/6·f''' plus rounding ε·|f|/h.
            let h = 1e-5;
            let mut q = p;
            q[k] = p[k] + h;
            let up = tape.eval(&q, 0);
            q[k] = p[k] - h;
            let down = tape.eval(&q, 0);
            let central = (up - down) / (2.0 * h);
            let tol = 1e-6 * scale + 1e-10 * f.abs() / h;
            prop_assert!((central - auto).abs() <= tol,
                "d/d{} of {}: central {} vs automatic {}", name, e, central, auto);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(s in "[-+*/^()=<>,.;0-9a-dxyA-Z eE_#é∑]{0,40}") {
        if let Ok(e) = parse(&s) {
            let v = e.eval(&|_| Some(1.5)).unwrap();
            let names: Vec<String> = e.names().into_iter().collect();
            let tape = Tape::compile(&e, &names).unwrap();
            let vals = vec![1.5; names.len()];
            let (t, _) = tape.eval_grad(&vals, 0);
            prop_assert!(t.to_bits() == v.to_bits() || (t.is_nan() && v.is_nan()), "{}: tape {} vs tree {}", s, t, v);
            for n in &names {
                let _ = derivative(&e, n).eval(&|_| Some(1.5));
            }
            prop_assert_eq!(parse(&e.to_string()).unwrap(), e);
        }
    }

    #[test]
    fn function_soup_never_panics(parts in prop::collection::vec(prop_oneof![
        Just("MAX("), Just("MIN("), Just("IF("), Just("LOG("), Just("EXP("), Just("RELU("),
        Just("x"), Just("a"), Just(","), Just(")"), Just("("), Just("-"), Just("^"), Just("1e308"),
        Just("0"), Just("*"), Just("/"), Just("<>"), Just(">="), Just("SQRT("), Just("LN("),
    ], 0..30)) {
        let s: String = parts.concat();
        if let Ok(e) = parse(&s) {
            let names: Vec<String> = e.names().into_iter().collect();
            let tape = Tape::compile(&e, &names).unwrap();
            let _ = tape.eval_grad(&vec![-0.5; names.len()], 0);
            for n in &names {
                let _ = derivative(&e, n);
            }
        } else {
            let err = parse(&s).unwrap_err();
            prop_assert!(err.span.end <= s.len());
            let _ = err.render();
        }
    }
}

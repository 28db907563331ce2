use gradsheet_engine::{parse, Dataset};
use gradsheet_net::cells::parse_cells;
use gradsheet_net::data::{features, DataSpec, Kind};
use gradsheet_net::init::{initial, Scheme};
use gradsheet_net::network::{Network, Reg};
use gradsheet_net::spec::{Loss, NetSpec};

use crate::cells_of;

fn xy() -> Vec<String> {
    vec!["x1".into(), "x2".into()]
}

#[test]
fn the_shorthand_expands_into_named_cells_that_read_back() {
    let spec = NetSpec::parse("2-3-2-1", "relu,tanh,sigmoid", Loss::Squared, &xy()).unwrap();
    let text = spec.text();
    assert_eq!(
        text.lines().next().unwrap(),
        "h1_1 = RELU(w1_1_1*x1+w1_1_2*x2+b1_1)"
    );
    assert!(
        text.contains("h2_2 = TANH(w2_2_1*h1_1+w2_2_2*h1_2+w2_2_3*h1_3+b2_2)\n"),
        "{text}"
    );
    assert!(
        text.ends_with("z = w3_1_1*h2_1+w3_1_2*h2_2+b3_1\npred = SIGMOID(z)\n"),
        "{text}"
    );
    let cells = parse_cells(&text, &["x1", "x2", "y"]).unwrap();
    assert_eq!(cells.len(), 3 + 2 + 2);
    // Each formula prints back as written.
    for (c, (n, f)) in cells.iter().zip(spec.cells()) {
        assert_eq!(c.name, n);
        assert_eq!(c.formula, parse(&f).unwrap());
    }
    let spec = NetSpec::parse("2-4-1", "leaky_relu", Loss::Squared, &xy()).unwrap();
    assert_eq!(
        spec.cells()[0].1,
        "MAX(w1_1_1*x1+w1_1_2*x2+b1_1,0.01*(w1_1_1*x1+w1_1_2*x2+b1_1))"
    );
    assert_eq!(spec.cells()[5].1, "z");
}

#[test]
fn bad_networks_say_what_is_wrong() {
    let e = |layers: &str, act: &str, loss| {
        NetSpec::parse(layers, act, loss, &xy())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        e("2-0-1", "tanh", Loss::Squared),
        "layer 2 of \"2-0-1\" has 0 neurons"
    );
    assert_eq!(
        e("2-1000000-1", "tanh", Loss::Squared),
        "layer 2 of \"2-1000000-1\" has 1000000 neurons; at most 256 per layer"
    );
    assert_eq!(
        e("2-8-1", "swish", Loss::Squared),
        "unknown activation \"swish\"; the activations are tanh, relu, sigmoid, linear, leaky_relu, softplus"
    );
    assert_eq!(
        e("3-8-1", "tanh", Loss::Squared),
        "\"3-8-1\" starts with 3 inputs, but there are 2 features (x1, x2)"
    );
    assert!(e("2-8-2", "tanh", Loss::Squared).contains("one output"));
    assert!(e("2-8-x-1", "tanh", Loss::Squared).contains("\"x\", not a number"));
    assert!(e("2-8-8-1", "tanh,tanh,tanh,tanh", Loss::Squared)
        .contains("4 activations for 2 hidden layers"));
    assert!(e("2-8-1", "tanh,relu", Loss::Logistic).contains("must be sigmoid, not relu"));
    assert!(e("2-256-256-256-1", "tanh", Loss::Squared).contains("at most 20000"));
}

#[test]
fn errors_in_a_model_text_point_at_the_definition_and_character() {
    let text = "h1 = TANH(a*x1+b)\nh2 = TANH(c*x1 +* d)\npred = h1+h2";
    let e = parse_cells(text, &["x1", "y"]).unwrap_err();
    assert_eq!(&text[e.span.start..e.span.end], "*");
    assert_eq!(e.span.start, text.find("+*").unwrap() + 1);
    assert_eq!(e.source, text);
    let e = parse_cells("h = a*x1; h = 2; pred = h", &["x1"]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "h is defined twice (at column 11 of `h = a*x1; h = 2; pred = h`)"
    );
    let e = parse_cells("x1 = 3; pred = x1", &["x1"]).unwrap_err();
    assert!(
        e.to_string().starts_with("x1 is a column of the data"),
        "{e}"
    );
    let e = parse_cells("pred = h; h = a", &["x1"]).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("pred, the prediction, is the last"),
        "{e}"
    );
    let e = parse_cells("h = a", &["x1"]).unwrap_err();
    assert!(
        e.to_string().starts_with("the model text ends with `pred"),
        "{e}"
    );
    let e = parse_cells("h a*x1; pred = h", &["x1"]).unwrap_err();
    assert_eq!((e.span.start, e.span.end), (0, 6));
    let e = parse_cells("2h = a; pred = 1", &["x1"]).unwrap_err();
    assert!(e.to_string().contains("is not a name"), "{e}");
}

#[test]
fn a_circular_model_text_names_its_cycle() {
    let split = DataSpec::default().draw().unwrap();
    let cells = parse_cells("h1 = a*h2; h2 = b*h1; pred = h1", &["x1", "x2", "y"]).unwrap();
    let e = Network::new(cells, Loss::Squared, Reg::default(), &split.train).unwrap_err();
    assert_eq!(e.to_string(), "a circular reference: h1 → h2 → h1");
}

/// The tape compiled cell by cell, the tape of the network written out as one formula and
/// a central difference agree on the error and on every parameter's derivative.
#[test]
fn cell_by_cell_and_written_out_agree_with_finite_differences() {
    let split = DataSpec {
        kind: Kind::Spiral,
        n: 40,
        features: features("x1,x2,sinx1").unwrap(),
        ..DataSpec::default()
    }
    .draw()
    .unwrap();
    for (loss, act) in [
        (Loss::Logistic, "tanh,relu"),
        (Loss::Squared, "softplus,leaky_relu,tanh"),
    ] {
        let cells = cells_of(&split, "3-4-3-1", act, loss);
        let reg = Reg {
            l1: 0.01,
            l2: 0.003,
        };
        let n = Network::new(cells, loss, reg, &split.train).unwrap();
        let mut p = initial(n.params(), Scheme::Normal(0.7), 3);
        // Biases start at 0, which puts a RELU at its kink on the spiral's point (0, 0),
        // where a central difference averages the two one-sided slopes: move them off it.
        for (k, (name, v)) in n.params().iter().zip(p.iter_mut()).enumerate() {
            if name.starts_with('b') {
                *v = 0.1 * (k % 5) as f64 - 0.23;
            }
        }
        let t = &n.trainer;
        let flat = t.model.compile();
        let mut ws = t.compiled.workspace();
        let mut ws_flat = flat.workspace();
        let np = p.len();
        let mut g = vec![0.0; np];
        let mut g_flat = vec![0.0; np];
        for i in 0..t.n_rows {
            let row = t.row(i);
            let (_, e) = t.compiled.row_grad(&mut ws, row, &p, &mut g);
            // The written-out model's loss is the textbook cross-entropy: equal in value.
            let (_, e_flat) = flat.row_grad(&mut ws_flat, row, &p, &mut g_flat);
            let e_err =
                gradsheet_engine::Tape::compile(&t.model.error, &t.model.var_names()).unwrap();
            let mut vars = row.to_vec();
            vars.extend(&p);
            vars.extend(&t.compiled.constants);
            let (e_direct, g_direct) = e_err.eval_grad(&vars, 0);
            assert!(
                (e - e_direct).abs() <= 1e-12 * e.abs().max(1.0),
                "{e} {e_direct}"
            );
            if loss == Loss::Squared {
                assert!(
                    (e - e_flat).abs() <= 1e-12 * e.abs().max(1.0),
                    "{e} {e_flat}"
                );
            }
            let nc = row.len();
            for k in 0..np {
                assert!((g[k] - g_direct[nc + k]).abs() <= 1e-10 * g[k].abs().max(1.0));
                let h = 1e-6;
                let mut hi = p.clone();
                hi[k] += h;
                let mut lo = p.clone();
                lo[k] -= h;
                let fd = (t.compiled.row(&mut ws, row, &hi).1
                    - t.compiled.row(&mut ws, row, &lo).1)
                    / (2.0 * h);
                // Kinks (RELU, ABS of the L1 penalty) are away from the drawn weights.
                assert!(
                    (g[k] - fd).abs() <= 1e-5 * g[k].abs().max(1.0),
                    "{loss:?} {} {} {fd} row {i}",
                    t.model.params[k],
                    g[k]
                );
            }
        }
    }
}

/// The logistic loss is computed from the logit: a confident wrong answer costs about
/// |z|, never infinity, and its slope is 1.
#[test]
fn the_logistic_loss_stays_finite_however_confident() {
    let data = Dataset::new(vec!["x1".into(), "y".into()], vec![1.0, 0.0]);
    let cells = parse_cells("z = a*x1; pred = SIGMOID(z)", &["x1", "y"]).unwrap();
    let n = Network::new(cells, Loss::Logistic, Reg::default(), &data).unwrap();
    let t = &n.trainer;
    let mut ws = t.compiled.workspace();
    let mut g = [0.0];
    let (pred, e) = t.compiled.row_grad(&mut ws, t.row(0), &[800.0], &mut g);
    assert_eq!(pred, 1.0);
    assert_eq!(e, 800.0);
    assert_eq!(g, [1.0]);
    let (_, e) = t.compiled.row_grad(&mut ws, t.row(0), &[-2.0], &mut g);
    let p1 = 1.0 / (1.0 + 2f64.exp());
    assert!((e + (1.0 - p1).ln()).abs() < 1e-15, "{e}");
    let bad = parse_cells("pred = a*x1", &["x1", "y"]).unwrap();
    let e = Network::new(bad, Loss::Logistic, Reg::default(), &data).unwrap_err();
    assert!(e.to_string().contains("needs pred = SIGMOID(…)"), "{e}");
}

#[test]
fn neurons_show_their_values_and_adjoints() {
    let data = Dataset::new(vec!["x1".into(), "y".into()], vec![2.0, 1.0]);
    let cells = parse_cells("h = TANH(a*x1+b); pred = c*h+d", &["x1", "y"]).unwrap();
    let n = Network::new(cells, Loss::Squared, Reg::default(), &data).unwrap();
    let p = [0.5, 0.25, 2.0, 0.1];
    let vs = n.neurons(&p, n.trainer.row(0));
    let h = (0.5f64 * 2.0 + 0.25).tanh();
    let pred = 2.0 * h + 0.1;
    assert_eq!(vs[0].name, "h");
    assert_eq!(vs[0].value, h);
    assert!((vs[0].adjoint - 2.0 * (pred - 1.0) * 2.0).abs() < 1e-15);
    assert_eq!(vs[1].value, pred);
    assert!((vs[1].adjoint - 2.0 * (pred - 1.0)).abs() < 1e-15);
    let m = n.metrics(&p, &data).unwrap();
    assert_eq!(m.accuracy, Some(1.0));
    assert!((m.loss - (pred - 1.0).powi(2)).abs() < 1e-15);
}

#[test]
fn initialisation_is_seeded_and_scaled_by_fan_in() {
    let spec = NetSpec::parse("2-8-8-1", "tanh", Loss::Logistic, &xy()).unwrap();
    let cells = parse_cells(&spec.text(), &["x1", "x2", "y"]).unwrap();
    let split = DataSpec::default().draw().unwrap();
    let n = Network::new(cells, Loss::Logistic, Reg::default(), &split.train).unwrap();
    let a = initial(n.params(), Scheme::Xavier, 5);
    assert_eq!(a, initial(n.params(), Scheme::Xavier, 5));
    assert_ne!(a, initial(n.params(), Scheme::Xavier, 6));
    for (name, v) in n.params().iter().zip(&a) {
        if name.starts_with('b') {
            assert_eq!(*v, 0.0);
        } else if name.starts_with("w1_") {
            assert!(v.abs() <= (6.0f64 / 10.0).sqrt(), "{name} {v}");
        } else if name.starts_with("w2_") {
            assert!(v.abs() <= (6.0f64 / 16.0).sqrt(), "{name} {v}");
        }
    }
    let u = initial(n.params(), Scheme::Uniform(0.5), 5);
    assert!(u.iter().all(|v| v.abs() <= 0.5));
    assert!(Scheme::parse("he:2").is_err());
    assert_eq!(Scheme::parse("normal").unwrap(), Scheme::Normal(0.1));
}

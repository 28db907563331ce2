//! Several classes: the softmax cross-entropy over one score per class, checked against
//! its textbook form, finite differences and the tape's derivative; `pred` is the class
//! of the largest score; the data draws K arms and K clouds; accuracy on three spiral
//! arms and four Gaussian clouds.

use gradsheet_net::data::{features, DataSpec, Kind};
use gradsheet_net::init::{initial, Scheme};
use gradsheet_net::network::{Network, Reg};
use gradsheet_net::spec::{Loss, NetSpec};
use gradsheet_train::Optimizer;

use crate::cells_of;

fn spiral3(n: usize) -> DataSpec {
    DataSpec {
        kind: Kind::Spiral,
        n,
        classes: 3,
        ..DataSpec::default()
    }
}

#[test]
fn the_data_draws_k_classes_in_equal_shares_and_two_as_before() {
    let s = spiral3(300).draw().unwrap();
    let mut ys = s.train.column("y").unwrap();
    ys.extend(s.test.column("y").unwrap());
    for c in 0..3 {
        assert_eq!(
            ys.iter().filter(|&&y| y == c as f64).count(),
            100,
            "class {c}"
        );
    }
    let g = DataSpec {
        kind: Kind::Gauss,
        classes: 4,
        ..DataSpec::default()
    }
    .draw()
    .unwrap();
    let mut ys = g.train.column("y").unwrap();
    ys.sort_by(f64::total_cmp);
    ys.dedup();
    assert_eq!(ys, [0.0, 1.0, 2.0, 3.0]);
    // Two classes (the field's default) draw the points they drew before it existed:
    // the first spiral point of class 1 is at angle π, radius 0.
    let two = DataSpec {
        kind: Kind::Spiral,
        n: 4,
        test_fraction: 0.0,
        ..DataSpec::default()
    }
    .draw()
    .unwrap();
    assert!(two.train_points.iter().any(|p| p[0].abs() < 1e-12));
    for (kind, classes, field) in [(Kind::Circle, 3, "classes"), (Kind::Spiral, 11, "classes")] {
        let e = DataSpec {
            kind,
            classes,
            ..DataSpec::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.field(), Some(field), "{e}");
    }
}

#[test]
fn the_shorthand_gives_a_score_per_class_and_the_class_of_the_largest() {
    let xy = vec!["x1".to_string(), "x2".to_string()];
    let spec = NetSpec::parse("2-4-3", "tanh", Loss::Softmax, &xy).unwrap();
    let cells = spec.cells();
    let names: Vec<&str> = cells.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(&names[4..], ["z_1", "z_2", "z_3", "pred"]);
    assert_eq!(
        cells[4].1,
        "w2_1_1*h1_1+w2_1_2*h1_2+w2_1_3*h1_3+w2_1_4*h1_4+b2_1"
    );
    for (layers, act, field) in [
        ("2-4-1", "tanh", "net"),
        ("2-4-11", "tanh", "net"),
        ("2-4-3", "tanh,sigmoid", "activation"),
    ] {
        let e = NetSpec::parse(layers, act, Loss::Softmax, &xy).unwrap_err();
        assert_eq!(e.field(), Some(field), "{layers} {act}: {e}");
    }
    let e = NetSpec::parse("2-4-3", "tanh", Loss::Logistic, &xy).unwrap_err();
    assert!(e.to_string().contains("--loss softmax"), "{e}");
}

/// Every row: the loss equals −ln(softmax(z)_y) computed here from the scores the network
/// shows, `pred` is the index of the largest score, and every parameter's derivative
/// (the cell-by-cell tape, the network written out as one formula) equals a central
/// difference.
#[test]
fn the_loss_is_the_textbook_cross_entropy_and_its_derivatives_are_exact() {
    let split = spiral3(30).draw().unwrap();
    let cells = cells_of(&split, "2-4-3", "tanh", Loss::Softmax);
    let reg = Reg { l1: 0.0, l2: 0.01 };
    let n = Network::new(cells, Loss::Softmax, reg, &split.train).unwrap();
    let mut p = initial(n.params(), Scheme::Normal(0.9), 5);
    for (k, (name, v)) in n.params().iter().zip(p.iter_mut()).enumerate() {
        if name.starts_with('b') {
            *v = 0.13 * (k % 4) as f64 - 0.2;
        }
    }
    let t = &n.trainer;
    let written = gradsheet_engine::Tape::compile(&t.model.error, &t.model.var_names()).unwrap();
    let mut ws = t.compiled.workspace();
    let np = p.len();
    let mut g = vec![0.0; np];
    let predictions = n.predictions(&p, &split.train).unwrap();
    for (i, &(class, loss)) in predictions.iter().enumerate() {
        let row = t.row(i);
        let y = row[row.len() - 1];
        let shown = n.neurons(&p, row);
        let z: Vec<f64> = ["z_1", "z_2", "z_3"]
            .iter()
            .map(|c| shown.iter().find(|s| s.name == *c).unwrap().value)
            .collect();
        let total: f64 = z.iter().map(|v| v.exp()).sum();
        let textbook = -(z[y as usize].exp() / total).ln();
        assert!(
            (loss - textbook).abs() <= 1e-12 * textbook.max(1.0),
            "row {i}: {loss} {textbook}"
        );
        let argmax = (0..3).fold(0, |b, k| if z[k] > z[b] { k } else { b });
        assert_eq!(class, argmax as f64, "row {i}: {z:?}");
        // ∂loss/∂z_k = p_k − [k = y], the adjoint the network shows (the penalty does not
        // read the scores).
        for (k, zk) in z.iter().enumerate() {
            let adj = shown
                .iter()
                .find(|s| s.name == format!("z_{}", k + 1))
                .unwrap()
                .adjoint;
            let want = zk.exp() / total - if k == y as usize { 1.0 } else { 0.0 };
            assert!(
                (adj - want).abs() <= 1e-12,
                "row {i} z_{}: {adj} {want}",
                k + 1
            );
        }
        let (_, e) = t.compiled.row_grad(&mut ws, row, &p, &mut g);
        let mut vars = row.to_vec();
        vars.extend(&p);
        vars.extend(&t.compiled.constants);
        let (e_direct, g_direct) = written.eval_grad(&vars, 0);
        assert!(
            (e - e_direct).abs() <= 1e-12 * e.abs().max(1.0),
            "{e} {e_direct}"
        );
        let nc = row.len();
        for k in 0..np {
            assert!((g[k] - g_direct[nc + k]).abs() <= 1e-10 * g[k].abs().max(1.0));
            let h = 1e-6;
            let (mut hi, mut lo) = (p.clone(), p.clone());
            hi[k] += h;
            lo[k] -= h;
            let fd = (t.compiled.row(&mut ws, row, &hi).1 - t.compiled.row(&mut ws, row, &lo).1)
                / (2.0 * h);
            assert!(
                (g[k] - fd).abs() <= 1e-6 * g[k].abs().max(1.0),
                "row {i} {}: {} {fd}",
                t.model.params[k],
                g[k]
            );
        }
    }
}

/// A confident wrong answer costs about the gap between the scores, never infinity.
#[test]
fn the_softmax_loss_stays_finite_however_confident() {
    let split = spiral3(30).draw().unwrap();
    let cells = cells_of(&split, "2-3", "linear", Loss::Softmax);
    let n = Network::new(cells, Loss::Softmax, Reg::default(), &split.train).unwrap();
    // Scores 1000·x1 apart: e^1000 overflows, the shifted form does not.
    let mut p = vec![0.0; n.params().len()];
    p[0] = 1000.0;
    let m = n.metrics(&p, &split.train).unwrap();
    assert!(m.loss.is_finite() && m.loss > 1.0, "{m:?}");
}

fn trained_accuracy(data: DataSpec, layers: &str, opt: Optimizer, epochs: usize) -> f64 {
    crate::trained(&data, layers, Loss::Softmax, opt, epochs)
        .accuracy
        .unwrap()
}

#[test]
fn four_gaussian_clouds_and_three_spiral_arms_are_separated() {
    let clouds = DataSpec {
        kind: Kind::Gauss,
        classes: 4,
        ..DataSpec::default()
    };
    assert!(trained_accuracy(clouds, "2-8-8-4", Optimizer::sgd(0.03), 20) >= 0.95);
    let arms = DataSpec {
        features: features("x1,x2,sinx1,sinx2").unwrap(),
        ..spiral3(1000)
    };
    // `gradsheet net --optimizer adam --lr 0.01`'s rule (β2 = 0.999 by default there).
    let adam = Optimizer::Adam {
        lr: 0.01,
        beta1: 0.9,
        beta2: 0.999,
    };
    // README states this run: test accuracy 0.940.
    assert!(trained_accuracy(arms, "4-8-8-3", adam, 100) >= 0.9);
}

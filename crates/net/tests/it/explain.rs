use gradsheet_net::data::{DataSpec, Kind};
use gradsheet_net::explain::explain;
use gradsheet_net::init::{initial, Scheme};
use gradsheet_net::network::{Network, Reg};
use gradsheet_net::record::{layer_of, layers, EpochMetrics};
use gradsheet_net::spec::Loss;
use gradsheet_train::{Hooks, Optimizer, Record, TrainConfig};

use crate::cells_of;

/// A stack of linear layers is one matrix: the explanation's matrix maps the inputs to
/// z exactly as the network does.
#[test]
fn linear_layers_collapse_into_one_matrix() {
    let split = DataSpec {
        kind: Kind::Plane,
        n: 20,
        ..DataSpec::default()
    }
    .draw()
    .unwrap();
    let cells = cells_of(&split, "2-4-3-1", "linear", Loss::Squared);
    let net = Network::new(cells, Loss::Squared, Reg::default(), &split.train).unwrap();
    let p = initial(net.params(), Scheme::Normal(0.5), 2);
    let ex = explain(&net, &p, &split.train, &[]);
    assert_eq!(ex.collapses.len(), 1);
    let c = &ex.collapses[0];
    assert_eq!(c.layers, (1, 3));
    assert_eq!(c.weights, 2 * 4 + 4 * 3 + 3);
    assert_eq!((c.matrix.len(), c.matrix[0].len()), (1, 2));
    let at = |x1: f64, x2: f64| net.cell_values(&p, &[vec![x1, x2]]).last().unwrap()[0];
    let z0 = at(0.0, 0.0);
    assert!((at(1.0, 0.0) - z0 - c.matrix[0][0]).abs() < 1e-12);
    assert!((at(0.0, 1.0) - z0 - c.matrix[0][1]).abs() < 1e-12);
    assert!(
        ex.findings[0].starts_with(
            "layers 1–3 are linear: their 23 weights act as 2 numbers (one 1×2 matrix): "
        ),
        "{}",
        ex.findings[0]
    );
    // One nonlinear layer in the middle leaves two runs of one layer: no collapse.
    let cells = cells_of(&split, "2-4-3-1", "linear,tanh", Loss::Squared);
    let net = Network::new(cells, Loss::Squared, Reg::default(), &split.train).unwrap();
    let p = initial(net.params(), Scheme::Normal(0.5), 2);
    assert!(explain(&net, &p, &split.train, &[]).collapses.is_empty());
}

#[test]
fn a_relu_unit_off_on_every_row_is_dead() {
    let split = DataSpec::default().draw().unwrap();
    let cells = cells_of(&split, "2-3-1", "relu", Loss::Logistic);
    let net = Network::new(cells, Loss::Logistic, Reg::default(), &split.train).unwrap();
    let mut p = initial(net.params(), Scheme::He, 4);
    let b = net.params().iter().position(|n| n == "b1_2").unwrap();
    p[b] = -100.0;
    let ex = explain(&net, &p, &split.train, &[]);
    assert_eq!(ex.layers[0].dead(), ["h1_2"]);
    assert_eq!(ex.layers[0].activation, "relu");
    assert!(ex.findings[0].starts_with("layer 1: 1 of 3 ReLU units are dead (off on every one of the 250 training rows): h1_2."), "{}", ex.findings[0]);
    // Its weights get no gradient on any row.
    let w = net.params().iter().position(|n| n == "w1_2_1").unwrap();
    let mut ws = net.trainer.compiled.workspace();
    let mut g = vec![0.0; p.len()];
    for i in 0..net.trainer.n_rows {
        net.trainer
            .compiled
            .row_grad(&mut ws, net.trainer.row(i), &p, &mut g);
        assert_eq!(g[w], 0.0);
    }
}

/// Six sigmoid layers: each passes back at most a quarter of the gradient it receives.
#[test]
fn deep_sigmoid_layers_make_the_gradient_vanish() {
    let split = DataSpec::default().draw().unwrap();
    let cells = cells_of(&split, "2-8-8-8-8-8-8-1", "sigmoid", Loss::Logistic);
    let net = Network::new(cells, Loss::Logistic, Reg::default(), &split.train).unwrap();
    let p = initial(net.params(), Scheme::Xavier, 1);
    let cfg = TrainConfig {
        record: Record::Epochs,
        ..TrainConfig::new(Optimizer::sgd(0.03), 1)
    };
    let mut sink = EpochMetrics::new(&net, &split.train, &split.test);
    let end = net
        .trainer
        .run_into(&p, &cfg, &mut Hooks::none(), &mut sink)
        .unwrap();
    let ex = explain(&net, &end.final_params, &split.train, &sink.rows);
    assert_eq!(sink.rows[0].grad_norms.len(), 7);
    assert!(ex.gradient_ratio[0] < 1e-2, "{:?}", ex.gradient_ratio);
    assert!(
        ex.findings
            .iter()
            .any(|f| f.starts_with("vanishing gradients: in epoch 1, layer 1's gradient is 1/")),
        "{:?}",
        ex.findings
    );
    // tanh lets it through.
    let cells = cells_of(&split, "2-8-8-1", "tanh", Loss::Logistic);
    let net = Network::new(cells, Loss::Logistic, Reg::default(), &split.train).unwrap();
    let p = initial(net.params(), Scheme::Xavier, 1);
    let mut sink = EpochMetrics::new(&net, &split.train, &split.test);
    let end = net
        .trainer
        .run_into(&p, &cfg, &mut Hooks::none(), &mut sink)
        .unwrap();
    let ex = explain(&net, &end.final_params, &split.train, &sink.rows);
    assert!(ex.findings.is_empty(), "{:?}", ex.findings);
}

#[test]
fn parameters_belong_to_their_layers() {
    assert_eq!(layer_of("w12_3_4"), Some(12));
    assert_eq!(layer_of("b2_3"), Some(2));
    assert_eq!(layer_of("b2_3_1"), None);
    assert_eq!(layer_of("w2_3"), None);
    assert_eq!(layer_of("weight"), None);
    let ps: Vec<String> = ["w1_1_1", "b1_1", "c", "w2_1_1", "b2_1"]
        .map(String::from)
        .to_vec();
    assert_eq!(layers(&ps), [(1, vec![0, 1]), (2, vec![3, 4])]);
}

/// Past the bound, the model's formulas name the cells, and the network still trains on
/// its tape compiled cell by cell.
#[test]
fn a_deep_network_is_not_written_out_but_trains() {
    let split = DataSpec::default().draw().unwrap();
    let small = Network::new(
        cells_of(&split, "2-8-8-1", "tanh", Loss::Logistic),
        Loss::Logistic,
        Reg::default(),
        &split.train,
    )
    .unwrap();
    assert!(small.written_out());
    assert!(!small.trainer.model.prediction.mentions("h1_1"));
    let deep = Network::new(
        cells_of(&split, "2-8-8-8-8-8-8-1", "tanh", Loss::Logistic),
        Loss::Logistic,
        Reg::default(),
        &split.train,
    )
    .unwrap();
    assert!(!deep.written_out());
    assert_eq!(deep.trainer.model.prediction.to_string(), "SIGMOID(z)");
    assert!(
        deep.trainer.compiled.tape.code().len() < 10_000,
        "{}",
        deep.trainer.compiled.tape.code().len()
    );
}

/// A neuron's gradient size is that of the weights and bias coming into it.
#[test]
fn each_neuron_has_the_gradient_size_of_its_own_parameters() {
    use gradsheet_net::record::cell_grad_norms;
    let split = DataSpec::default().draw().unwrap();
    let net = Network::new(
        cells_of(&split, "2-2-1", "tanh", Loss::Logistic),
        Loss::Logistic,
        Reg::default(),
        &split.train,
    )
    .unwrap();
    // w1_1_1 w1_1_2 b1_1 w1_2_1 w1_2_2 b1_2 w2_1_1 w2_1_2 b2_1
    assert_eq!(net.params()[3], "w1_2_1");
    let g = [1.0, 2.0, 2.0, 0.0, 3.0, 4.0, 1.0, 0.0, 0.0];
    assert_eq!(cell_grad_norms(&net, &g), [3.0, 5.0, 1.0, 0.0]);
}

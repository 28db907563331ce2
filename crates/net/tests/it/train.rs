//! The accuracy a learner of TensorFlow Playground expects, reached with fixed seeds and
//! the documented settings (README's example states the same figures).

use gradsheet_net::data::{features, DataSpec, Kind};
use gradsheet_net::init::{initial, Scheme};
use gradsheet_net::network::{Metrics, Network, Reg};
use gradsheet_net::spec::Loss;
use gradsheet_train::{Hooks, Optimizer, Record, TrainConfig};

use crate::cells_of;

/// Trains `layers` of tanh on `data` with per-sample SGD (shuffled with the seed) and
/// returns the test metrics.
fn train(data: &DataSpec, layers: &str, opt: Optimizer, epochs: usize) -> Metrics {
    let split = data.draw().unwrap();
    let cells = cells_of(&split, layers, "tanh", Loss::Logistic);
    let net = Network::new(cells, Loss::Logistic, Reg::default(), &split.train).unwrap();
    let init = initial(net.params(), Scheme::Xavier, data.seed);
    let cfg = TrainConfig {
        record: Record::Final,
        shuffle: Some(data.seed),
        ..TrainConfig::new(opt, epochs)
    };
    let trace = net.trainer.run(&init, &cfg, &mut Hooks::none()).unwrap();
    let train = net.metrics(&trace.final_params, &split.train).unwrap();
    let test = net.metrics(&trace.final_params, &split.test).unwrap();
    eprintln!("{layers} {:?}: train {train:?} test {test:?}", data.kind);
    test
}

#[test]
fn a_2_8_8_1_tanh_network_separates_the_circle() {
    let m = train(&DataSpec::default(), "2-8-8-1", Optimizer::sgd(0.03), 50);
    assert!(m.accuracy.unwrap() >= 0.95, "{m:?}");
}

#[test]
fn a_2_8_8_1_tanh_network_separates_xor() {
    let data = DataSpec {
        kind: Kind::Xor,
        ..DataSpec::default()
    };
    let m = train(&data, "2-8-8-1", Optimizer::sgd(0.03), 50);
    assert!(m.accuracy.unwrap() >= 0.95, "{m:?}");
}

#[test]
fn a_2_8_8_8_1_network_with_sine_features_separates_the_spiral() {
    let data = DataSpec {
        kind: Kind::Spiral,
        features: features("x1,x2,sinx1,sinx2").unwrap(),
        ..DataSpec::default()
    };
    let m = train(&data, "4-8-8-8-1", Optimizer::sgd(0.03), 200);
    assert!(m.accuracy.unwrap() >= 0.9, "{m:?}");
}

//! The accuracy a learner of TensorFlow Playground expects, reached with fixed seeds and
//! the documented settings (README's example states the same figures).

use gradsheet_net::data::{features, DataSpec, Kind};
use gradsheet_net::network::Metrics;
use gradsheet_net::spec::Loss;
use gradsheet_train::Optimizer;

/// Trains `layers` of tanh with the logistic loss (see [`crate::trained`]).
fn train(data: &DataSpec, layers: &str, opt: Optimizer, epochs: usize) -> Metrics {
    crate::trained(data, layers, Loss::Logistic, opt, epochs)
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

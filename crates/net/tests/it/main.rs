//! gradsheet-net's tests: data, the shorthand, model texts, compiled networks, training.

mod data;
mod dropout;
mod explain;
mod model;
mod softmax;
mod train;

use gradsheet_net::cells::{parse_cells, Cell};
use gradsheet_net::data::Split;
use gradsheet_net::spec::{Loss, NetSpec};

/// The cells of `layers` with `activation` for the split's feature columns.
pub fn cells_of(split: &Split, layers: &str, activation: &str, loss: Loss) -> Vec<Cell> {
    let cols = &split.train.columns;
    let inputs: Vec<String> = cols[..cols.len() - 1].to_vec();
    let spec = NetSpec::parse(layers, activation, loss, &inputs).unwrap();
    let reserved: Vec<&str> = cols.iter().map(String::as_str).collect();
    parse_cells(&spec.text(), &reserved).unwrap()
}

/// Trains `layers` of tanh with `loss` on `data` by per-sample `opt` (rows shuffled with
/// the data's seed, Xavier weights from it) and returns the test metrics.
pub fn trained(
    data: &gradsheet_net::data::DataSpec,
    layers: &str,
    loss: Loss,
    opt: gradsheet_train::Optimizer,
    epochs: usize,
) -> gradsheet_net::network::Metrics {
    use gradsheet_net::init::{initial, Scheme};
    use gradsheet_net::network::{Network, Reg};
    use gradsheet_train::{Hooks, Record, TrainConfig};
    let split = data.draw().unwrap();
    let cells = cells_of(&split, layers, "tanh", loss);
    let net = Network::new(cells, loss, Reg::default(), &split.train).unwrap();
    let init = initial(net.params(), Scheme::Xavier, data.seed);
    let cfg = TrainConfig {
        record: Record::Final,
        shuffle: Some(data.seed),
        ..TrainConfig::new(opt, epochs)
    };
    let trace = net.trainer.run(&init, &cfg, &mut Hooks::none()).unwrap();
    let m = net.metrics(&trace.final_params, &split.test).unwrap();
    eprintln!("{layers} {:?} ×{}: test {m:?}", data.kind, data.classes);
    m
}

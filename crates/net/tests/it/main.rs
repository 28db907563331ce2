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

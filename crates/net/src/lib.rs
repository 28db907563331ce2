//! gradsheet's networks of neurons: the learner's "2 neurons" grown into layers, every
//! neuron a named cell.
//!
//! - [`data`]: built-in 2-D datasets (circle, xor, gauss, spiral, moons, plane, sine),
//!   seeded, with derived feature columns and a train/test split;
//! - [`spec`]: `2-8-8-1` with an activation per layer, expanded into named cells
//!   (`h1_3` = layer 1, neuron 3) printed as a model text;
//! - [`cells`]: a model text of named cells read back, errors pointing at the definition
//!   and the character;
//! - [`dropout`]: dropout as a mask column per hidden unit, drawn afresh each epoch in
//!   training and 1 everywhere else;
//! - [`init`]: seeded initial weights (xavier, he, uniform:A, normal:SD);
//! - [`network`]: the cells compiled cell by cell to one tape (`engine::graph`) with the
//!   loss (squared, or logistic computed stably from the logit) and L1/L2 penalties, as
//!   a training loop's `Trainer`, with accuracy and each neuron's value and adjoint;
//! - [`record`]: train and test metrics per epoch, gradient norms per layer, the step
//!   table with every neuron's value and adjoint;
//! - [`explain`]: what a trained network did, layer by layer;
//! - [`remedy`]: each finding's remedy re-run and judged against the original run.
//!
//! The crate is pure: no files, terminal or clock; a seed gives the same numbers anywhere.
//!
//! # Example
//!
//! ```
//! use gradsheet_net::{cells, data, init, network, spec};
//! let split = data::DataSpec { kind: data::Kind::Xor, n: 200, ..Default::default() }.draw().unwrap();
//! let inputs = vec!["x1".to_string(), "x2".to_string()];
//! let net = spec::NetSpec::parse("2-4-1", "tanh", spec::Loss::Logistic, &inputs).unwrap();
//! let cells = cells::parse_cells(&net.text(), &["x1", "x2", "y"]).unwrap();
//! let n = network::Network::new(cells, spec::Loss::Logistic, Default::default(), &split.train).unwrap();
//! assert_eq!(n.params().len(), 4 * 3 + 5);
//! let p = init::initial(n.params(), init::Scheme::Xavier, 1);
//! let m = n.metrics(&p, &split.test).unwrap();
//! assert!(m.loss > 0.0 && m.accuracy.is_some());
//! ```

pub mod cells;
pub mod data;
pub mod dropout;
pub mod explain;
pub mod init;
pub mod network;
pub mod record;
pub mod remedy;
pub mod spec;

/// An error setting up data or a network.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum NetError {
    /// A setting out of range, named by its field.
    #[error("{message}")]
    Setting {
        /// The setting at fault (`net`, `activation`, `dataset`, `n`, …).
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Data that cannot be trained on.
    #[error("{0}")]
    Data(String),
    /// A model text that cannot be compiled.
    #[error("{0}")]
    Model(String),
}

impl NetError {
    fn setting(field: &'static str, message: impl Into<String>) -> NetError {
        NetError::Setting {
            field,
            message: message.into(),
        }
    }

    /// The setting at fault, if the error is about one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            NetError::Setting { field, .. } => Some(field),
            _ => None,
        }
    }
}

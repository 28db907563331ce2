//! Dropout: masks are 0 or 1/(1 − p) in training, drawn afresh each epoch from the seed,
//! 1 when measuring; a dropped unit passes nothing forward and its weights learn nothing
//! on that step; the same seed gives the same run.

use gradsheet_net::data::DataSpec;
use gradsheet_net::dropout::{unmasked, with_masks, DropoutBackend};
use gradsheet_net::init::{initial, Scheme};
use gradsheet_net::network::{Network, Reg};
use gradsheet_net::spec::Loss;
use gradsheet_train::{Hooks, Optimizer, Record, Sink, StepView, TrainConfig};
use std::ops::ControlFlow;

use crate::cells_of;

/// Every step's mask values and its gradient, kept.
#[derive(Default)]
struct Steps {
    masks: Vec<Vec<f64>>,
    grads: Vec<Vec<f64>>,
    at: Vec<usize>,
}

impl Sink for Steps {
    fn step(&mut self, s: &StepView<'_>) -> ControlFlow<()> {
        self.masks
            .push(self.at.iter().map(|&k| s.inputs[k]).collect());
        self.grads.push(s.grads.to_vec());
        ControlFlow::Continue(())
    }
}

#[test]
fn masks_drop_units_at_the_rate_asked_and_dropped_units_learn_nothing() {
    let split = DataSpec::default().draw().unwrap();
    let cells = cells_of(&split, "2-8-1", "tanh", Loss::Logistic);
    let cols: Vec<&str> = split.train.columns.iter().map(String::as_str).collect();
    let p = 0.25;
    let (masked, masks) = with_masks(&cells, p, &cols).unwrap();
    assert_eq!(masks.len(), 8);
    let train = unmasked(&split.train, &masks);
    let net = Network::new(masked, Loss::Logistic, Reg::default(), &train).unwrap();
    let init = initial(net.params(), Scheme::Xavier, 1);
    let cfg = TrainConfig {
        record: Record::Steps,
        ..TrainConfig::new(Optimizer::sgd(0.03), 4)
    };
    let mut b = DropoutBackend::new(&net.trainer, &cfg, &masks, p, 7).unwrap();
    let cols = &net.trainer.model.columns;
    let mut sink = Steps {
        at: masks
            .iter()
            .map(|m| cols.iter().position(|c| c == m).unwrap())
            .collect(),
        ..Steps::default()
    };
    net.trainer
        .run_on(&mut b, &init, &cfg, &mut Hooks::none(), &mut sink)
        .unwrap();
    assert_eq!(sink.masks.len(), 4 * 250);
    let all: Vec<f64> = sink.masks.iter().flatten().copied().collect();
    assert!(all.iter().all(|&m| m == 0.0 || m == 1.0 / (1.0 - p)));
    let dropped = all.iter().filter(|&&m| m == 0.0).count() as f64 / all.len() as f64;
    assert!((dropped - p).abs() < 0.02, "{dropped}");
    // Epochs differ: the masks of a row are drawn again.
    assert_ne!(sink.masks[..250], sink.masks[250..500]);
    // A unit dropped on a step gets no gradient into its weights or bias on that step.
    for (m, g) in sink.masks.iter().zip(&sink.grads) {
        for (j, &mj) in m.iter().enumerate() {
            for (name, gk) in net.params().iter().zip(g) {
                let own =
                    name.starts_with(&format!("w1_{}_", j + 1)) || *name == format!("b1_{}", j + 1);
                if own && mj == 0.0 {
                    assert_eq!(*gk, 0.0, "{name}");
                }
            }
        }
    }
}

#[test]
fn measured_without_masks_the_network_is_the_one_without_dropout() {
    let split = DataSpec::default().draw().unwrap();
    let cells = cells_of(&split, "2-4-4-1", "relu", Loss::Logistic);
    let cols: Vec<&str> = split.train.columns.iter().map(String::as_str).collect();
    let (masked, masks) = with_masks(&cells, 0.5, &cols).unwrap();
    let plain = Network::new(cells, Loss::Logistic, Reg::default(), &split.train).unwrap();
    let with = Network::new(
        masked,
        Loss::Logistic,
        Reg::default(),
        &unmasked(&split.train, &masks),
    )
    .unwrap();
    assert_eq!(plain.params(), with.params());
    let p = initial(plain.params(), Scheme::He, 3);
    let a = plain.predictions(&p, &split.test).unwrap();
    let b = with
        .predictions(&p, &unmasked(&split.test, &masks))
        .unwrap();
    assert_eq!(a, b);
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let split = DataSpec::default().draw().unwrap();
    let cells = cells_of(&split, "2-6-1", "tanh", Loss::Logistic);
    let cols: Vec<&str> = split.train.columns.iter().map(String::as_str).collect();
    let (masked, masks) = with_masks(&cells, 0.3, &cols).unwrap();
    let net = Network::new(
        masked,
        Loss::Logistic,
        Reg::default(),
        &unmasked(&split.train, &masks),
    )
    .unwrap();
    let init = initial(net.params(), Scheme::Xavier, 1);
    let cfg = TrainConfig {
        record: Record::Final,
        ..TrainConfig::new(Optimizer::sgd(0.03), 5)
    };
    let run = |seed| {
        let mut b = DropoutBackend::new(&net.trainer, &cfg, &masks, 0.3, seed).unwrap();
        let mut t = gradsheet_train::Trace::default();
        net.trainer
            .run_on(&mut b, &init, &cfg, &mut Hooks::none(), &mut t)
            .unwrap();
        t.final_params
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

//! titanic.xlsx: linear and two-ReLU models of survival, with the Solver's parameters,
//! and both fitted again from a random start.

use super::{nums, training_figure, EPOCHS, SEED};
use crate::lab::{Group, Image, Kind, Lab, Output, ParamSpec, Params, Table, Value};
use crate::optim::{AdamConfig, LbfgsConfig};
use crate::titanic::{self, Fit, Model};
use crate::{cell, LabError};

pub(super) const LAB: Lab = Lab {
    name: "titanic",
    group: Group::Workbook,
    about: "linear and two-ReLU models of Titanic survival (titanic.xlsx)",
    params: &[
        ParamSpec::new(
            "fit",
            "lbfgs",
            Kind::Choice(&["lbfgs", "gd"]),
            "how to fit the models",
        ),
        SEED,
        EPOCHS,
    ],
    takes_image: false,
    run,
};

fn run(p: &Params, _: Option<&Image>) -> Result<Output, LabError> {
    let tb = titanic::table(&titanic::all_rows()?);
    let (lin_p, net_p, _) = titanic::saved_params()?;
    let lin = titanic::linear(&tb, &lin_p)?;
    let net = titanic::nnet(&tb, &net_p)?;
    let mut headers = vec!["survived"];
    headers.extend(titanic::FEATURES);
    headers.extend(["linear", "linear loss", "nnet", "nnet loss"]);
    let mut rows = Table::new(
        "rows",
        "passengers: features and the saved models' predictions",
        &headers,
    );
    for i in 0..tb.rows.len() {
        let mut r = vec![Value::Num(tb.y[i])];
        r.extend(tb.x[i].iter().map(|x| Value::Num(*x)));
        r.extend(nums(&[
            lin.preds[i],
            lin.losses[i],
            net.preds[i],
            net.losses[i],
        ]));
        rows.push(r);
    }
    let (method, seed, epochs) = (p.text("fit"), p.u64("seed"), p.int("epochs"));
    let fit_one = |m: Model| -> Result<Fit, LabError> {
        let p0 = titanic::random_start(m, seed);
        if method == "gd" {
            titanic::fit_gd(&tb, m, &p0, &AdamConfig::default(), epochs)
        } else {
            let cfg = LbfgsConfig {
                max_iter: epochs,
                ..LbfgsConfig::default()
            };
            titanic::fit_lbfgs(&tb, m, &p0, &cfg)
        }
    };
    let (fl, fnet) = (fit_one(Model::Linear)?, fit_one(Model::Nnet)?);
    let mut fit = Table::new(
        "fit",
        &format!("fitting from random start {seed} with {method}: loss by iteration"),
        &["iteration", "linear", "nnet"],
    );
    for i in 0..fl.losses.len().max(fnet.losses.len()) {
        fit.push(vec![
            Value::Num(i as f64),
            fl.losses.get(i).copied().into(),
            fnet.losses.get(i).copied().into(),
        ]);
    }
    let last = |f: &Fit| cell(*f.losses.last().unwrap_or(&f64::NAN), 8);
    let figure = training_figure(&fit, "mean squared error");
    Ok(Output {
        lab: "titanic".into(),
        notes: vec![
            format!(
                "{} passengers with age and port (max age {}, max fare {})",
                tb.rows.len(),
                cell(tb.max_age, 6),
                cell(tb.max_fare, 8)
            ),
            format!(
                "saved Solver parameters: linear loss {}, nnet loss {}",
                cell(lin.loss, 10),
                cell(net.loss, 10)
            ),
            format!(
                "accuracy (survived predicted where the model says more than 0.5): linear {}, nnet {}",
                accuracy(&lin.preds, &tb.y),
                accuracy(&net.preds, &tb.y)
            ),
            format!(
                "{method} from seed {seed}: linear loss {}, nnet loss {}",
                last(&fl),
                last(&fnet)
            ),
        ],
        tables: vec![fit, rows],
        figures: vec![figure],
        images: Vec::new(),
    })
}

/// The share of rows where `pred > 0.5` says what `y` says, as a percentage and a count.
fn accuracy(pred: &[f64], y: &[f64]) -> String {
    let right = pred
        .iter()
        .zip(y)
        .filter(|(p, y)| (**p > 0.5) == (**y > 0.5))
        .count();
    format!(
        "{:.1}% ({right} of {})",
        100.0 * right as f64 / y.len().max(1) as f64,
        y.len()
    )
}

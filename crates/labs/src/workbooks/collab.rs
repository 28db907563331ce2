//! collab_filter.xlsx: collaborative filtering by matrix factorisation, and the same
//! factors trained further from a random start.

use super::{training_figure, version, version_name, EPOCHS, SEED, VERSION};
use crate::collab;
use crate::lab::{Group, Image, Kind, Lab, Output, ParamSpec, Params, Table, Value};
use crate::optim::{AdamConfig, LbfgsConfig};
use crate::{cell, LabError};

pub(super) const LAB: Lab = Lab {
    name: "collab",
    group: Group::Workbook,
    about: "collaborative filtering by matrix factorisation (collab_filter.xlsx)",
    params: &[
        VERSION,
        ParamSpec::new(
            "train",
            "adam",
            Kind::Choice(&["adam", "lbfgs", "sgd"]),
            "how to train the factors",
        ),
        SEED,
        EPOCHS,
    ],
    takes_image: false,
    run,
};

fn run(p: &Params, _: Option<&Image>) -> Result<Output, LabError> {
    let v = version(p);
    v.available()?;
    let ct = collab::crosstab(v);
    let dot = collab::dotprod_sheet(v);
    let bias = collab::bias_sheet(v);
    let mut headers = vec!["user".to_string()];
    headers.extend(ct.movies.iter().map(|m| format!("m{m}")));
    let mut preds = Table {
        name: "dotprod".into(),
        title: "dotprod predictions (0 where the rating is blank)".into(),
        headers,
        rows: Vec::new(),
    };
    for (u, row) in ct.users.iter().zip(&dot.preds) {
        let mut r = vec![Value::Num(*u)];
        r.extend(row.iter().map(|x| Value::Num(*x)));
        preds.push(r);
    }
    let (method, seed, epochs) = (p.text("train"), p.u64("seed"), p.int("epochs"));
    let (model, data, _) = collab::sheet_problem(v, false);
    let p0 = model.init(seed, 1.0);
    let res = match method.as_str() {
        "sgd" => collab::train_sgd(&model, &data, &p0, 0.01, 0.9, epochs)?,
        "lbfgs" => {
            let cfg = LbfgsConfig {
                max_iter: epochs,
                ..LbfgsConfig::default()
            };
            collab::train_lbfgs(&model, &data, &p0, &cfg)?
        }
        _ => {
            let cfg = AdamConfig {
                lr: 0.05,
                ..AdamConfig::default()
            };
            collab::train_adam(&model, &data, &p0, &cfg, epochs)?
        }
    };
    let mut train = Table::new(
        "training",
        &format!("training the dotprod factors from random start {seed} with {method}"),
        &["iteration", "rmse"],
    );
    for (i, r) in res.rmse.iter().enumerate() {
        train.push_nums(&[i as f64, *r]);
    }
    let figure = training_figure(&train, "RMSE");
    Ok(Output {
        lab: "collab".into(),
        notes: vec![
            format!("version: {}", version_name(v)),
            format!(
                "{} ratings; saved dotprod RMSE {}, bias-sheet loss {}",
                data.len(),
                cell(dot.loss, 10),
                cell(bias.loss, 10)
            ),
            format!(
                "{method} from seed {seed}: RMSE {} → {}",
                cell(*res.rmse.first().unwrap_or(&f64::NAN), 8),
                cell(*res.rmse.last().unwrap_or(&f64::NAN), 8)
            ),
        ],
        tables: vec![preds, train],
        figures: vec![figure],
        images: Vec::new(),
    })
}

//! layers_example.xlsx: a three-layer net's forward pass, its gradient and one step.

use super::{fixed, nums, t};
use crate::figure::{Figure, Heatmap};
use crate::lab::{Image, Lab, Output, Params, Table, Value};
use crate::layers;
use crate::{cell, LabError};

pub(super) const LAB: Lab = fixed(
    "layers",
    "a three-layer net: forward pass, gradient and one step (layers_example.xlsx)",
    run,
);

fn run(_: &Params, _: Option<&Image>) -> Result<Output, LabError> {
    let fx = layers::fixed();
    let rnd = layers::random();
    let mut a = Table::new(
        "forward",
        "forward passes of the fixed and random sheets",
        &["sheet", "quantity", "1", "2", "3", "4", "5", "6"],
    );
    for (sheet, f) in [("fixed", &fx.forward), ("random", &rnd.forward)] {
        for (q, xs) in [
            ("z1", &f.z1),
            ("a1", &f.a1),
            ("z2", &f.z2),
            ("a2", &f.a2),
            ("out", &f.o),
            ("softmax", &f.p),
            ("loss terms", &f.loss_terms),
        ] {
            let mut r = vec![t(sheet), t(q)];
            r.extend(nums(xs));
            r.resize(8, t(""));
            a.push(r);
        }
        let mut r = vec![t(sheet), t("loss"), Value::Num(f.loss)];
        r.resize(8, t(""));
        a.push(r);
    }
    let mut g = Table::new(
        "fixed_step",
        "fixed sheet: dL/dw3, the predicted loss change and one SGD step of w3",
        &["row", "dL/dw3 1", "dL/dw3 2", "new w3 1", "new w3 2"],
    );
    for (i, (d, w)) in fx.dl_dw3.iter().zip(&fx.w3_new).enumerate() {
        let mut r = vec![Value::Num((i + 1) as f64)];
        r.extend(nums(d));
        r.extend(nums(w));
        g.push(r);
    }
    let panels = vec![
        Heatmap::grid("w1", &fx.mlp.w1),
        Heatmap::grid("w2", &fx.mlp.w2),
        Heatmap::grid("w3", &fx.mlp.w3),
        Heatmap::grid("dL-dw3", &fx.dl_dw3),
    ];
    Ok(Output {
        lab: "layers".into(),
        notes: vec![
            format!(
                "fixed: loss {} → {} after one step",
                cell(fx.forward.loss, 10),
                cell(fx.after.4, 10)
            ),
            format!(
                "random: rmse {} (sds {} {} {})",
                cell(rnd.rmse, 10),
                cell(rnd.sds[0], 6),
                cell(rnd.sds[1], 6),
                cell(rnd.sds[2], 6)
            ),
        ],
        tables: vec![a, g],
        figures: vec![Figure::heatmaps(
            "weights",
            "the fixed sheet's weights and dL/dw3",
            panels,
            4,
        )],
        images: Vec::new(),
    })
}

//! conv-example.xlsx: an MNIST digit through two conv layers, max pool and dense.

use super::{t, version, version_name, VERSION};
use crate::collab::Version;
use crate::conv::{self, ConvNet};
use crate::figure::{Figure, Heatmap};
use crate::lab::{Group, Image, Lab, Output, Params, Table, Value};
use crate::{cell, excel, LabError};

pub(super) const LAB: Lab = Lab {
    name: "conv",
    group: Group::Workbook,
    about: "an MNIST digit through two conv layers, max pool and dense (conv-example.xlsx)",
    params: &[VERSION],
    takes_image: false,
    run,
};

/// The version's network (course-v3 and courses share one).
pub(crate) fn net(v: Version) -> Result<ConvNet, LabError> {
    match v {
        Version::Course22 => conv::course22(),
        _ => Ok(conv::course_v3()),
    }
}

fn run(p: &Params, _: Option<&Image>) -> Result<Output, LabError> {
    let v = version(p);
    let net = net(v)?;
    let f = net.forward()?;
    let g = net.filter_grads()?;
    let mut layers = Table::new(
        "layers",
        "layers (rows×columns, range and sum)",
        &["layer", "rows", "cols", "min", "max", "sum"],
    );
    let mut add = |name: String, grid: &[Vec<f64>]| {
        let flat: Vec<f64> = grid.iter().flatten().copied().collect();
        let (mn, mx) = flat
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(*x), b.max(*x))
            });
        layers.push(vec![
            t(name),
            Value::Num(grid.len() as f64),
            Value::Num(grid.first().map_or(0, Vec::len) as f64),
            Value::Num(mn),
            Value::Num(mx),
            Value::Num(excel::sum(flat.iter().copied())),
        ]);
    };
    add("input".into(), &net.input);
    for (layer, gs) in [
        ("conv1", &f.conv1),
        ("conv2", &f.conv2),
        ("maxpool", &f.pool),
    ] {
        for (c, grid) in gs.iter().enumerate().take(2) {
            add(format!("{layer} channel {}", c + 1), grid);
        }
    }
    let mut filters = Table::new(
        "filters",
        "filters and d(output)/d(weight)",
        &["filter", "row", "w1", "w2", "w3", "grad1", "grad2", "grad3"],
    );
    let mut put = |name: String, w: &[Vec<f64>], gr: &[Vec<f64>]| {
        for (i, (wr, grr)) in w.iter().zip(gr).enumerate() {
            let mut r = vec![t(name.clone()), Value::Num((i + 1) as f64)];
            r.extend(wr.iter().chain(grr).map(|x| Value::Num(*x)));
            filters.push(r);
        }
    };
    for c in 0..2 {
        put(
            format!("conv1 filter {}", c + 1),
            &net.filters1[c],
            &g.filters1[c],
        );
    }
    for o in 0..2 {
        for i in 0..2 {
            put(
                format!("conv2 out {} in {}", o + 1, i + 1),
                &net.filters2[o][i],
                &g.filters2[o][i],
            );
        }
    }
    let mut panels = vec![Heatmap::grid("input", &net.input)];
    for (layer, gs) in [
        ("conv1", &f.conv1),
        ("conv2", &f.conv2),
        ("maxpool", &f.pool),
    ] {
        for (c, grid) in gs.iter().enumerate() {
            panels.push(Heatmap::grid(format!("{layer} {}", c + 1), grid));
        }
    }
    let n = panels.len();
    Ok(Output {
        lab: "conv".into(),
        notes: vec![
            format!("version: {}", version_name(v)),
            format!(
                "dense: {} + {} = output {}",
                cell(f.dense_terms[0], 10),
                cell(f.dense_terms[1], 10),
                cell(f.output, 12)
            ),
        ],
        tables: vec![layers, filters],
        figures: vec![Figure::heatmaps(
            "layers",
            "the digit through each layer",
            panels,
            n,
        )],
        images: Vec::new(),
    })
}

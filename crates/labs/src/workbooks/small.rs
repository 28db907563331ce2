//! The small sheets: broadcasting.xlsx, style_loss.xlsx, emb_sizing.xlsx and
//! emb_results.xlsx.

use super::{fixed, nums, t};
use crate::figure::{Figure, Heatmap, Lines, Series};
use crate::lab::{Image, Lab, Output, Params, Table, Value};
use crate::small;
use crate::LabError;

pub(super) const BROADCASTING: Lab = fixed(
    "broadcasting",
    "broadcasting a vector over a matrix (broadcasting.xlsx)",
    broadcasting,
);
pub(super) const STYLE_LOSS: Lab = fixed(
    "style_loss",
    "conv outputs and their Gram matrix (style_loss.xlsx)",
    style_loss,
);
pub(super) const EMB_SIZING: Lab = fixed(
    "emb_sizing",
    "the embedding-size rule of thumb (emb_sizing.xlsx)",
    emb_sizing,
);
pub(super) const EMB_RESULTS: Lab = fixed(
    "emb_results",
    "embedding experiments: runs and pivot (emb_results.xlsx)",
    emb_results,
);

/// Grids shown as tables, and the same grids as heatmaps side by side.
fn grids(lab: &str, grids: &[(&str, &str, &[Vec<f64>])]) -> (Vec<Table>, Figure) {
    let tables = grids
        .iter()
        .map(|(name, title, g)| Table::grid(name, title, g))
        .collect();
    // Small grids: each cell shows its value, as the sheet does.
    let maps = grids
        .iter()
        .map(|(name, _, g)| Heatmap {
            annotate: true,
            ..Heatmap::grid(*name, g)
        })
        .collect();
    (tables, Figure::heatmaps("grids", lab, maps, grids.len()))
}

fn broadcasting(_: &Params, _: Option<&Image>) -> Result<Output, LabError> {
    let b = small::broadcasting_sheet();
    let (tables, figure) = grids(
        "broadcasting",
        &[
            ("m", "m", &b.m),
            ("c_plus_m", "c + m (c broadcast over the rows)", &b.c_plus_m),
            (
                "ccol_plus_m",
                "c[:,None] + m (c broadcast over the columns)",
                &b.ccol_plus_m,
            ),
            ("outer", "c[:,None] * c[None] (outer product)", &b.outer),
        ],
    );
    Ok(Output {
        lab: "broadcasting".into(),
        notes: vec![format!("c = {:?}", b.c)],
        tables,
        figures: vec![figure],
        images: Vec::new(),
    })
}

fn style_loss(_: &Params, _: Option<&Image>) -> Result<Output, LabError> {
    let s = small::style_loss();
    let img: Vec<Vec<f64>> = small::STYLE_IMAGE.iter().map(|r| r.to_vec()).collect();
    let gram: Vec<Vec<f64>> = s.gram.iter().map(|r| r.to_vec()).collect();
    let (tables, figure) = grids(
        "style_loss",
        &[
            ("gram", "Gram matrix of the two filter outputs", &gram),
            ("image", "image", &img),
            ("output1", "filter 1 output", &s.outputs[0]),
            ("output2", "filter 2 output", &s.outputs[1]),
        ],
    );
    Ok(Output {
        lab: "style_loss".into(),
        tables,
        figures: vec![figure],
        ..Output::default()
    })
}

fn emb_sizing(_: &Params, _: Option<&Image>) -> Result<Output, LabError> {
    let rows = small::emb_sizing_sheet();
    let mut a = Table::new(
        "sizes",
        "embedding size by cardinality: wanted and min(600, round(1.6·n^0.56))",
        &["cardinality", "wanted", "rule"],
    );
    for (n, want, rule) in &rows {
        a.push_nums(&[*n, *want, *rule]);
    }
    let title = "embedding size by cardinality";
    let mut chart = Lines::new(title, "cardinality", "embedding size")
        .with(Series::points(
            "wanted",
            rows.iter().map(|r| (r.0, r.1)).collect(),
        ))
        .with(Series::line(
            "min(600, round(1.6·n^0.56))",
            rows.iter().map(|r| (r.0, r.2)).collect(),
        ));
    chart.log_x = true;
    Ok(Output {
        lab: "emb_sizing".into(),
        tables: vec![a],
        figures: vec![Figure::lines("emb_sizing", title, vec![chart])],
        ..Output::default()
    })
}

fn emb_results(_: &Params, _: Option<&Image>) -> Result<Output, LabError> {
    let flag = |b: bool| t(if b { "TRUE" } else { "FALSE" });
    let mut a = Table::new(
        "runs",
        "runs: settings, scores by epoch, sd of the last three and the minimum",
        &small::RUN_HEADERS,
    );
    let runs = small::emb_results();
    for r in &runs {
        let mut row: Vec<Value> = r.flags.iter().map(|b| flag(*b)).collect();
        let mut sc = nums(&r.scores);
        sc.resize(10, t(""));
        row.extend(sc);
        row.extend(nums(&[r.var, r.min]));
        a.push(row);
    }
    let pivot = small::emb_pivot(&small::emb_summary());
    let mut p = Table::new(
        "pivot",
        "pivot: average score by (init emb, split contins) × (use scaler, use dict)",
        &["rows", "F,F", "F,T", "F,all", "T,F", "T,T", "T,all", "all"],
    );
    let labels = ["F", "F,F", "F,T", "T", "T,F", "T,T", "all"];
    for (l, r) in labels.iter().zip(&pivot) {
        let mut row = vec![t(*l)];
        row.extend(nums(r));
        p.push(row);
    }
    let title = "score by epoch, every run";
    let mut chart = Lines::new(title, "epoch", "score");
    for (i, r) in runs.iter().enumerate() {
        let pts = r.scores.iter().enumerate().map(|(k, y)| (k as f64, *y));
        chart
            .series
            .push(Series::line(format!("run {}", i + 1), pts.collect()));
    }
    Ok(Output {
        lab: "emb_results".into(),
        tables: vec![a, p],
        figures: vec![Figure::lines("emb_results", title, vec![chart])],
        ..Output::default()
    })
}

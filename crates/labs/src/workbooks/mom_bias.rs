//! mom_bias.xlsx: moving averages and Adam's bias correction.

use super::{fixed, nums};
use crate::figure::{Figure, Lines, Series};
use crate::lab::{Image, Lab, Output, Params, Table, Value};
use crate::mom_bias::{self, BiasRow};
use crate::{cell, LabError};

pub(super) const LAB: Lab = fixed(
    "mom_bias",
    "moving averages and Adam's bias correction (mom_bias.xlsx)",
    run,
);

fn run(_: &Params, _: Option<&Image>) -> Result<Output, LabError> {
    let sheet = mom_bias::sheet1();
    let mut a = Table::new(
        "bias",
        "Sheet1: an EMA from 0 (beta 0.9) and its bias correction",
        &mom_bias::BIAS_HEADERS,
    );
    for r in &sheet.rows {
        let mut row = nums(&[r.t as f64, r.value, r.ema, r.correction, r.debiased]);
        row.extend([
            Value::from(r.correction_recursive),
            Value::from(r.moving_avg4),
        ]);
        a.push(row);
    }
    let mut b = Table::new(
        "ew_variance",
        "Sheet1 (2): exponentially weighted mean and variance",
        &mom_bias::EW_HEADERS,
    );
    for r in mom_bias::sheet1_2() {
        b.push(vec![
            r.x.into(),
            r.ma.into(),
            r.x2.into(),
            r.ma_x2.into(),
            r.delta.into(),
            r.ma2.into(),
            r.emv.into(),
            r.var10.into(),
        ]);
    }
    let bn = mom_bias::sheet1_3();
    let mut c = Table::new(
        "batchnorm",
        "Sheet1 (3): running batch-norm statistics by group",
        &[
            "group", "mean", "var", "mean x^2", "bn mv", "count", "m count", "s", "m s", "ma",
            "ma^2", "ss", "m ss", "mv",
        ],
    );
    for g in &bn.groups {
        c.push_nums(&[
            g.group, g.mean, g.var, g.mean_x2, g.bn_mv, g.count, g.m_count, g.s, g.m_s, g.ma,
            g.ma2, g.ss, g.m_ss, g.mv,
        ]);
    }
    let col = |f: fn(&BiasRow) -> f64| -> Vec<(f64, f64)> {
        sheet.rows.iter().map(|r| (r.t as f64, f(r))).collect()
    };
    let title = "an EMA from 0 (beta 0.9): raw and bias-corrected";
    let chart = Lines::new(title, "t", "value")
        .with(Series::points("value", col(|r| r.value)))
        .with(Series::line("ema", col(|r| r.ema)))
        .with(Series::line("bias-corrected", col(|r| r.debiased)));
    Ok(Output {
        lab: "mom_bias".into(),
        notes: vec![
            format!("0.99^8 = {}", cell(sheet.j2, 10)),
            format!(
                "grand total: mean {}, var {}, mean x^2 {}",
                cell(bn.total.0, 8),
                cell(bn.total.1, 8),
                cell(bn.total.2, 8)
            ),
        ],
        tables: vec![a, b, c],
        figures: vec![Figure::lines("ema", title, vec![chart])],
        images: Vec::new(),
    })
}

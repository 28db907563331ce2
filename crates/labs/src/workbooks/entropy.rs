//! entropy_example.xlsx: softmax, sigmoid and cross-entropy.

use super::{nums, one_based, t, version, version_name, VERSION};
use crate::collab::Version;
use crate::entropy::{self, SoftmaxTable};
use crate::figure::{colour, Figure, Lines, Series, Style};
use crate::lab::{Group, Image, Lab, Output, Params, Table, Value};
use crate::{cell, LabError};

pub(super) const LAB: Lab = Lab {
    name: "entropy",
    group: Group::Workbook,
    about: "softmax, sigmoid and cross-entropy (entropy_example.xlsx)",
    params: &[VERSION],
    takes_image: false,
    run,
};

fn run(p: &Params, _: Option<&Image>) -> Result<Output, LabError> {
    let v = version(p);
    let mut out = Output {
        lab: "entropy".into(),
        notes: vec![format!("version: {}", version_name(v))],
        ..Output::default()
    };
    match v {
        Version::CourseV3 => {
            let sm = entropy::course_v3_softmax();
            out.tables.push(softmax_table(
                "softmax",
                "softmax of image 1 (and the sigmoid of each logit)",
                &sm.image1,
                &[("sigmoid", &sm.sigmoid1)],
            ));
            out.tables.push(softmax_table(
                "softmax2",
                "softmax of image 2: the same probabilities, different sigmoids",
                &sm.image2,
                &[("sigmoid", &sm.sigmoid2)],
            ));
            out.tables.push(bce_table());
        }
        Version::Courses => {
            let st = entropy::softmax_table(&entropy::COURSES_LOGITS);
            out.tables
                .push(softmax_table("softmax", "softmax", &st, &[]));
            out.tables.push(bce_table());
        }
        Version::Course22 => {
            let c = entropy::course22();
            out.tables.push(softmax_table(
                "softmax",
                "softmax and cross-entropy terms (log10)",
                &c.softmax,
                &[("actual", &entropy::C22_ACTUALS), ("y*log(p)", &c.terms)],
            ));
            out.notes
                .push(format!("cross-entropy: {}", cell(c.xent, 10)));
            let mut b = Table::new(
                "bce",
                "binary cross-entropy (log10)",
                &["is cat", "pred", "1-pred", "bce", "bce (IF)"],
            );
            for i in 0..entropy::PREDS.len() {
                b.push_nums(&[
                    entropy::IS_CAT[i],
                    entropy::PREDS[i],
                    c.pred_not_cat[i],
                    c.bce[i],
                    c.bce_if[i],
                ]);
            }
            out.tables.push(b);
        }
    }
    out.figures = vec![softmax_figure(v), bce_figure()];
    Ok(out)
}

/// Class, logit, exp and softmax, with extra columns, and a row of sums.
fn softmax_table(name: &str, title: &str, st: &SoftmaxTable, extra: &[(&str, &[f64])]) -> Table {
    let mut headers = vec!["class", "logit", "exp", "softmax"];
    headers.extend(extra.iter().map(|(h, _)| *h));
    let mut tab = Table::new(name, title, &headers);
    for (i, c) in entropy::CLASSES.iter().enumerate() {
        let mut r = vec![t(*c)];
        r.extend(nums(&[st.logits[i], st.exps[i], st.probs[i]]));
        r.extend(extra.iter().map(|(_, xs)| Value::Num(xs[i])));
        tab.push(r);
    }
    let mut total = vec![
        t("sum"),
        t(""),
        Value::Num(st.sum_exp),
        Value::Num(st.sum_probs),
    ];
    total.extend(extra.iter().map(|_| t("")));
    tab.push(total);
    tab
}

/// The binary cross-entropy rows of course-v3 and courses.
fn bce_table() -> Table {
    let mut b = Table::new("bce", "binary cross-entropy (log10)", &entropy::BCE_HEADERS);
    for r in entropy::entropy_rows(&entropy::IS_CAT, &entropy::PREDS) {
        b.push_nums(&[
            r.is_cat,
            r.is_dog,
            r.pred,
            r.bce,
            r.bce_if,
            r.log_cat,
            r.log_dog,
            r.nll,
            r.idx as f64,
            r.idx_pred,
        ]);
    }
    b
}

/// The softmax of the version's logits by class (and course-v3's sigmoids).
fn softmax_figure(v: Version) -> Figure {
    let (probs, sig) = match v {
        Version::CourseV3 => {
            let sm = entropy::course_v3_softmax();
            (sm.image1.probs, Some(sm.sigmoid1))
        }
        Version::Courses => (entropy::softmax_table(&entropy::COURSES_LOGITS).probs, None),
        Version::Course22 => (entropy::course22().softmax.probs, None),
    };
    let title = "softmax (and sigmoid) by class";
    let mut chart = Lines::new(title, "class", "probability").with(Series::new(
        "softmax",
        one_based(&probs),
        Style::Bars,
        colour::BLUE,
    ));
    chart.categories = entropy::CLASSES.iter().map(|c| c.to_string()).collect();
    if let Some(sg) = sig {
        chart.series.push(Series::new(
            "sigmoid",
            one_based(&sg),
            Style::Bars,
            colour::VERMILLION,
        ));
    }
    Figure::lines("softmax", title, vec![chart])
}

/// Binary cross-entropy against the prediction for both labels, with the sheet's rows.
fn bce_figure() -> Figure {
    let ps: Vec<f64> = (1..100).map(|i| i as f64 / 100.0).collect();
    let curve = |y: f64| -> Vec<(f64, f64)> {
        ps.iter()
            .map(|p| (*p, entropy::binary_ce_log10(y, *p)))
            .collect()
    };
    let rows = entropy::entropy_rows(&entropy::IS_CAT, &entropy::PREDS);
    let title = "binary cross-entropy (log10) against the prediction";
    let chart = Lines::new(title, "prediction", "loss")
        .with(Series::line("is cat", curve(1.0)))
        .with(Series::line("is not a cat", curve(0.0)))
        .with(Series::points(
            "the sheet's rows",
            rows.iter().map(|r| (r.pred, r.bce)).collect(),
        ));
    Figure::lines("bce", title, vec![chart])
}

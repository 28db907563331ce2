//! `gradsheet lab <workbook>`: the fast.ai teaching workbooks of `gradsheet-labs`
//! (entropy, mom_bias, conv, collab, titanic, layers and the small sheets), as terminal
//! tables, CSV, xlsx with live formulas, and pictures.
//!
//! `cmd/lab.rs` owns the command; it hands a name it finds here to [`run`]. Every number
//! comes from the pure labs crate; this file only lays the numbers out and writes files.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use gradsheet_report::chart::{self, Chart, Format, Series};
use gradsheet_report::labs::gradsheet_labs as wb;
use gradsheet_report::labs::{self as books, Book};
use wb::collab::{self, Version};
use wb::{conv, entropy, layers, mom_bias, small, titanic, AdamConfig, LbfgsConfig};

use crate::cmd::usage;
use crate::output::{cell, table, write_atomic};

/// The workbook labs and one line about each, in the order they are listed.
pub fn names() -> &'static [(&'static str, &'static str)] {
    &[
        (
            "entropy",
            "softmax, sigmoid and cross-entropy (entropy_example.xlsx)",
        ),
        (
            "mom_bias",
            "moving averages and Adam's bias correction (mom_bias.xlsx)",
        ),
        (
            "conv",
            "an MNIST digit through two conv layers, max pool and dense (conv-example.xlsx)",
        ),
        (
            "collab",
            "collaborative filtering by matrix factorisation (collab_filter.xlsx)",
        ),
        (
            "titanic",
            "linear and two-ReLU models of Titanic survival (titanic.xlsx)",
        ),
        (
            "layers",
            "a three-layer net: forward pass, gradient and one step (layers_example.xlsx)",
        ),
        (
            "broadcasting",
            "broadcasting a vector over a matrix (broadcasting.xlsx)",
        ),
        (
            "style_loss",
            "conv outputs and their Gram matrix (style_loss.xlsx)",
        ),
        (
            "emb_sizing",
            "the embedding-size rule of thumb (emb_sizing.xlsx)",
        ),
        (
            "emb_results",
            "embedding experiments: runs and pivot (emb_results.xlsx)",
        ),
    ]
}

/// The options only the workbook labs take (flattened into `gradsheet lab`'s arguments).
#[derive(clap::Args, Debug, Default, Clone)]
pub struct Flags {
    /// Workbook labs: write the lab as an xlsx workbook with live formulas.
    #[arg(long, value_name = "FILE")]
    pub xlsx: Option<PathBuf>,
    /// Workbook labs: which copy of the workbook (course-v3, courses, course22).
    #[arg(long = "version", value_name = "VERSION")]
    pub sheet_version: Option<String>,
    /// collab: how to train the factors from a random start (adam, lbfgs, sgd).
    #[arg(long, value_name = "METHOD")]
    pub train: Option<String>,
    /// titanic: how to fit the models from a random start (lbfgs, gd).
    #[arg(long, value_name = "METHOD")]
    pub fit: Option<String>,
    /// collab, titanic: the seed of the random start.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// collab, titanic: epochs (Adam, SGD, gd) or the most iterations (L-BFGS).
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,
}

impl Flags {
    /// Whether any workbook-only option was given (the other labs refuse them).
    pub fn any(&self) -> bool {
        self.xlsx.is_some()
            || self.sheet_version.is_some()
            || self.train.is_some()
            || self.fit.is_some()
            || self.seed.is_some()
            || self.epochs.is_some()
    }
}

/// A cell of a table: a number or a text.
#[derive(Clone, Debug)]
enum V {
    N(f64),
    T(String),
}

fn t(s: impl Into<String>) -> V {
    V::T(s.into())
}

/// A table of a lab.
struct Tab {
    name: &'static str,
    title: String,
    headers: Vec<String>,
    rows: Vec<Vec<V>>,
}

impl Tab {
    fn new(name: &'static str, title: impl Into<String>, headers: &[&str]) -> Tab {
        Tab {
            name,
            title: title.into(),
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, r: Vec<V>) {
        self.rows.push(r);
    }

    /// A grid as a table: a first column naming the row, then one column per cell.
    fn grid(name: &'static str, title: impl Into<String>, g: &[Vec<f64>]) -> Tab {
        let w = g.iter().map(Vec::len).max().unwrap_or(0);
        let mut headers = vec!["row".to_string()];
        headers.extend((1..=w).map(|j| j.to_string()));
        let rows = g
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut out = vec![V::N((i + 1) as f64)];
                out.extend(r.iter().map(|x| V::N(*x)));
                out
            })
            .collect();
        Tab {
            name,
            title: title.into(),
            headers,
            rows,
        }
    }
}

/// What a lab shows: notes, tables, and pictures (SVG charts and PNG heatmaps).
#[derive(Default)]
struct Shown {
    notes: Vec<String>,
    tables: Vec<Tab>,
    pictures: Vec<(String, Vec<u8>)>,
    book: Option<Book>,
}

fn nums(xs: &[f64]) -> Vec<V> {
    xs.iter().map(|x| V::N(*x)).collect()
}

fn opt(x: Option<f64>) -> V {
    x.map_or(t(""), V::N)
}

/// Runs the workbook lab `name`; `Ok(false)` when `name` is not one of them.
///
/// # Errors
///
/// A usage error for a bad option; a failure when a file cannot be written.
pub fn run(
    name: &str,
    settings: &[String],
    csv: Option<&Path>,
    plot: Option<&Path>,
    all: bool,
    flags: &Flags,
) -> Result<bool> {
    let Some((_, about)) = names().iter().find(|(n, _)| *n == name) else {
        return Ok(false);
    };
    if let Some(s) = settings.first() {
        return Err(usage(format!(
            "the {name} lab takes options (--version, --train, --fit, --seed, --epochs), not settings like '{s}'"
        )));
    }
    let version = parse_version(name, flags.sheet_version.as_deref())?;
    let shown = compute(name, version, flags, plot.is_some())?;
    if flags.xlsx.is_some() && shown.book.is_none() {
        return Err(usage(format!("the {name} lab has no xlsx export yet")));
    }
    println!("lab {name}: {about}");
    for n in &shown.notes {
        println!("{n}");
    }
    for tab in &shown.tables {
        println!("\n{}:", tab.title);
        print!("{}", render(tab, all));
    }
    if let Some(path) = csv {
        for (i, tab) in shown.tables.iter().enumerate() {
            let p = if i == 0 {
                path.to_path_buf()
            } else {
                let stem = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| name.to_string());
                path.with_file_name(format!("{stem}-{}.csv", tab.name))
            };
            write_atomic(&p, &csv_bytes(tab)?)?;
            println!("wrote {}", p.display());
        }
    }
    if let Some(path) = &flags.xlsx {
        if let Some(book) = &shown.book {
            let bytes = books::to_xlsx(book, false)
                .map_err(|e| anyhow::anyhow!("cannot write the workbook: {e}"))?;
            write_atomic(path, &bytes)?;
            println!("wrote {}", path.display());
        }
    }
    if let Some(dir) = plot {
        if shown.pictures.is_empty() {
            return Err(usage(format!("the {name} lab has no pictures yet")));
        }
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (file, bytes) in &shown.pictures {
            let p = dir.join(file);
            write_atomic(&p, bytes)?;
            println!("wrote {}", p.display());
        }
    }
    Ok(true)
}

fn parse_version(name: &str, v: Option<&str>) -> Result<Option<Version>> {
    let has = matches!(name, "entropy" | "conv" | "collab");
    match v {
        None => Ok(None),
        Some(_) if !has => Err(usage(format!("the {name} lab has one version only"))),
        Some("course-v3") => Ok(Some(Version::CourseV3)),
        Some("courses") => Ok(Some(Version::Courses)),
        Some("course22") => Ok(Some(Version::Course22)),
        Some(other) => Err(usage(format!(
            "unknown version '{other}': use course-v3, courses or course22"
        ))),
    }
}

fn render(tab: &Tab, all: bool) -> String {
    let limit = if all { usize::MAX } else { 20 };
    let rows: Vec<Vec<String>> = tab
        .rows
        .iter()
        .take(limit)
        .map(|r| {
            r.iter()
                .map(|v| match v {
                    V::N(x) => cell(*x, 6),
                    V::T(s) => s.clone(),
                })
                .collect()
        })
        .collect();
    let mut s = table(&tab.headers, &rows);
    if tab.rows.len() > limit {
        s.push_str(&format!(
            "… {} more rows (--all, or --csv for every number)\n",
            tab.rows.len() - limit
        ));
    }
    s
}

fn csv_bytes(tab: &Tab) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&tab.headers)?;
    for r in &tab.rows {
        // Numbers as the shortest text that reads back the same: CSV keeps every digit.
        w.write_record(r.iter().map(|v| match v {
            V::N(x) => gradsheet_engine::format_number(*x),
            V::T(s) => s.clone(),
        }))?;
    }
    w.into_inner()
        .map_err(|e| anyhow::anyhow!("cannot write CSV: {e}"))
}

fn compute(name: &str, v: Option<Version>, flags: &Flags, plot: bool) -> Result<Shown> {
    let only = |what: &str, given: bool| -> Result<()> {
        if given {
            Err(usage(format!("the {name} lab does not take {what}")))
        } else {
            Ok(())
        }
    };
    if name != "collab" {
        only("--train", flags.train.is_some())?;
    }
    if name != "titanic" {
        only("--fit", flags.fit.is_some())?;
    }
    if name != "collab" && name != "titanic" {
        only("--seed", flags.seed.is_some())?;
        only("--epochs", flags.epochs.is_some())?;
    }
    let mut s = match name {
        "entropy" => entropy_lab(v.unwrap_or(Version::CourseV3)),
        "mom_bias" => mom_bias_lab(),
        "conv" => conv_lab(v.unwrap_or(Version::CourseV3))?,
        "collab" => collab_lab(v.unwrap_or(Version::CourseV3), flags)?,
        "titanic" => titanic_lab(flags)?,
        "layers" => layers_lab(),
        "broadcasting" => broadcasting_lab(),
        "style_loss" => style_lab(),
        "emb_sizing" => emb_sizing_lab(),
        _ => emb_results_lab(),
    };
    if plot {
        s.pictures = pictures(name, v, &s)?;
    }
    Ok(s)
}

fn version_name(v: Version) -> &'static str {
    match v {
        Version::CourseV3 => "course-v3",
        Version::Courses => "courses",
        Version::Course22 => "course22",
    }
}

fn softmax_tab(
    name: &'static str,
    title: &str,
    st: &entropy::SoftmaxTable,
    extra: &[(&str, &[f64])],
) -> Tab {
    let mut headers = vec!["class", "logit", "exp", "softmax"];
    headers.extend(extra.iter().map(|(h, _)| *h));
    let mut tab = Tab::new(name, title, &headers);
    for (i, c) in entropy::CLASSES.iter().enumerate() {
        let mut r = vec![
            t(*c),
            V::N(st.logits[i]),
            V::N(st.exps[i]),
            V::N(st.probs[i]),
        ];
        r.extend(extra.iter().map(|(_, xs)| V::N(xs[i])));
        tab.row(r);
    }
    let mut total = vec![t("sum"), t(""), V::N(st.sum_exp), V::N(st.sum_probs)];
    total.extend(extra.iter().map(|_| t("")));
    tab.row(total);
    tab
}

fn entropy_lab(v: Version) -> Shown {
    let mut s = Shown {
        notes: vec![format!("version: {}", version_name(v))],
        book: Some(books::entropy(v)),
        ..Shown::default()
    };
    match v {
        Version::CourseV3 => {
            let sm = entropy::course_v3_softmax();
            s.tables.push(softmax_tab(
                "softmax",
                "softmax of image 1 (and the sigmoid of each logit)",
                &sm.image1,
                &[("sigmoid", &sm.sigmoid1)],
            ));
            s.tables.push(softmax_tab(
                "softmax2",
                "softmax of image 2: the same probabilities, different sigmoids",
                &sm.image2,
                &[("sigmoid", &sm.sigmoid2)],
            ));
        }
        Version::Courses => {
            let st = entropy::softmax_table(&entropy::COURSES_LOGITS);
            s.tables.push(softmax_tab("softmax", "softmax", &st, &[]));
        }
        Version::Course22 => {
            let c = entropy::course22();
            s.tables.push(softmax_tab(
                "softmax",
                "softmax and cross-entropy terms (log10)",
                &c.softmax,
                &[("actual", &entropy::C22_ACTUALS), ("y*log(p)", &c.terms)],
            ));
            s.notes.push(format!("cross-entropy: {}", cell(c.xent, 10)));
            let mut b = Tab::new(
                "bce",
                "binary cross-entropy (log10)",
                &["is cat", "pred", "1-pred", "bce", "bce (IF)"],
            );
            for i in 0..entropy::PREDS.len() {
                b.row(nums(&[
                    entropy::IS_CAT[i],
                    entropy::PREDS[i],
                    c.pred_not_cat[i],
                    c.bce[i],
                    c.bce_if[i],
                ]));
            }
            s.tables.push(b);
            return s;
        }
    }
    let mut b = Tab::new(
        "bce",
        "binary cross-entropy (log10)",
        &[
            "is cat",
            "is dog",
            "pred",
            "bce",
            "bce (IF)",
            "log cat",
            "log dog",
            "nll",
            "index",
            "log p[index]",
        ],
    );
    for r in entropy::entropy_rows(&entropy::IS_CAT, &entropy::PREDS) {
        b.row(nums(&[
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
        ]));
    }
    s.tables.push(b);
    s
}

fn mom_bias_lab() -> Shown {
    let sheet = mom_bias::sheet1();
    let mut a = Tab::new(
        "bias",
        "Sheet1: an EMA from 0 (beta 0.9) and its bias correction",
        &[
            "t",
            "value",
            "ema",
            "1-beta^t",
            "debiased",
            "1-beta^t (recursive)",
            "4-step average",
        ],
    );
    for r in &sheet.rows {
        a.row(vec![
            V::N(r.t as f64),
            V::N(r.value),
            V::N(r.ema),
            V::N(r.correction),
            V::N(r.debiased),
            opt(r.correction_recursive),
            opt(r.moving_avg4),
        ]);
    }
    let mut b = Tab::new(
        "ew_variance",
        "Sheet1 (2): exponentially weighted mean and variance",
        &[
            "x", "ma", "x^2", "ma x^2", "delta", "ma^2", "ew var", "var (10)",
        ],
    );
    for r in mom_bias::sheet1_2() {
        b.row(vec![
            V::N(r.x),
            V::N(r.ma),
            V::N(r.x2),
            V::N(r.ma_x2),
            opt(r.delta),
            opt(r.ma2),
            V::N(r.emv),
            opt(r.var10),
        ]);
    }
    let bn = mom_bias::sheet1_3();
    let mut c = Tab::new(
        "batchnorm",
        "Sheet1 (3): running batch-norm statistics by group",
        &[
            "group", "mean", "var", "mean x^2", "bn mv", "count", "m count", "s", "m s", "ma",
            "ma^2", "ss", "m ss", "mv",
        ],
    );
    for g in &bn.groups {
        c.row(nums(&[
            g.group, g.mean, g.var, g.mean_x2, g.bn_mv, g.count, g.m_count, g.s, g.m_s, g.ma,
            g.ma2, g.ss, g.m_ss, g.mv,
        ]));
    }
    Shown {
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
        book: Some(books::mom_bias()),
        ..Shown::default()
    }
}

fn conv_net(v: Version) -> conv::ConvNet {
    match v {
        Version::Course22 => conv::course22(),
        _ => conv::course_v3(),
    }
}

fn conv_lab(v: Version) -> Result<Shown> {
    let net = conv_net(v);
    let f = net.forward().map_err(|e| anyhow::anyhow!("{e}"))?;
    let g = net.filter_grads().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut layers = Tab::new(
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
        layers.row(vec![
            t(name),
            V::N(grid.len() as f64),
            V::N(grid.first().map_or(0, Vec::len) as f64),
            V::N(mn),
            V::N(mx),
            V::N(wb::excel::sum(flat.iter().copied())),
        ]);
    };
    add("input".into(), &net.input);
    for c in 0..2 {
        add(format!("conv1 channel {}", c + 1), &f.conv1[c]);
    }
    for c in 0..2 {
        add(format!("conv2 channel {}", c + 1), &f.conv2[c]);
    }
    for c in 0..2 {
        add(format!("maxpool channel {}", c + 1), &f.pool[c]);
    }
    let mut filters = Tab::new(
        "filters",
        "filters and d(output)/d(weight)",
        &["filter", "row", "w1", "w2", "w3", "grad1", "grad2", "grad3"],
    );
    let mut put = |name: String, w: &[Vec<f64>], gr: &[Vec<f64>]| {
        for (i, (wr, grr)) in w.iter().zip(gr).enumerate() {
            let mut r = vec![t(name.clone()), V::N((i + 1) as f64)];
            r.extend(wr.iter().map(|x| V::N(*x)));
            r.extend(grr.iter().map(|x| V::N(*x)));
            filters.row(r);
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
    Ok(Shown {
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
        book: Some(books::conv(v).map_err(|e| anyhow::anyhow!("{e}"))?),
        ..Shown::default()
    })
}

fn collab_lab(v: Version, flags: &Flags) -> Result<Shown> {
    let ct = collab::crosstab(v);
    let dot = collab::dotprod_sheet(v);
    let bias = collab::bias_sheet(v);
    let mut headers = vec!["user".to_string()];
    headers.extend(ct.movies.iter().map(|m| format!("m{m}")));
    let mut preds = Tab {
        name: "dotprod",
        title: "dotprod predictions (0 where the rating is blank)".into(),
        headers,
        rows: Vec::new(),
    };
    for (u, row) in ct.users.iter().zip(&dot.preds) {
        let mut r = vec![V::N(*u)];
        r.extend(row.iter().map(|x| V::N(*x)));
        preds.row(r);
    }
    let method = flags.train.as_deref().unwrap_or("adam");
    let seed = flags.seed.unwrap_or(0);
    let (model, data, _) = collab::sheet_problem(v, false);
    let p0 = model.init(seed, 1.0);
    let err = |e: wb::LabError| anyhow::anyhow!("{e}");
    let res = match method {
        "adam" => {
            let cfg = AdamConfig {
                lr: 0.05,
                ..AdamConfig::default()
            };
            collab::train_adam(&model, &data, &p0, &cfg, flags.epochs.unwrap_or(200))
                .map_err(err)?
        }
        "sgd" => collab::train_sgd(&model, &data, &p0, 0.01, 0.9, flags.epochs.unwrap_or(200))
            .map_err(err)?,
        "lbfgs" => {
            let cfg = LbfgsConfig {
                max_iter: flags.epochs.unwrap_or(200),
                ..LbfgsConfig::default()
            };
            collab::train_lbfgs(&model, &data, &p0, &cfg).map_err(err)?
        }
        other => {
            return Err(usage(format!(
                "unknown --train '{other}': use adam, lbfgs or sgd"
            )))
        }
    };
    let mut train = Tab::new(
        "training",
        format!("training the dotprod factors from random start {seed} with {method}"),
        &["iteration", "rmse"],
    );
    for (i, r) in res.rmse.iter().enumerate() {
        train.row(vec![V::N(i as f64), V::N(*r)]);
    }
    Ok(Shown {
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
                cell(res.rmse[0], 8),
                cell(*res.rmse.last().unwrap_or(&f64::NAN), 8)
            ),
        ],
        tables: vec![preds, train],
        book: Some(books::collab(v)),
        ..Shown::default()
    })
}

fn titanic_lab(flags: &Flags) -> Result<Shown> {
    let tb = titanic::table(&titanic::all_rows());
    let (lin_p, net_p, _) = titanic::saved_params();
    let err = |e: wb::LabError| anyhow::anyhow!("{e}");
    let lin = titanic::linear(&tb, &lin_p).map_err(err)?;
    let net = titanic::nnet(&tb, &net_p).map_err(err)?;
    let mut headers = vec!["survived"];
    headers.extend(titanic::FEATURES);
    headers.extend(["linear", "linear loss", "nnet", "nnet loss"]);
    let mut rows = Tab::new(
        "rows",
        "passengers: features and the saved models' predictions",
        &headers,
    );
    for i in 0..tb.rows.len() {
        let mut r = vec![V::N(tb.y[i])];
        r.extend(tb.x[i].iter().map(|x| V::N(*x)));
        r.extend(nums(&[
            lin.preds[i],
            lin.losses[i],
            net.preds[i],
            net.losses[i],
        ]));
        rows.row(r);
    }
    let method = flags.fit.as_deref().unwrap_or("lbfgs");
    let seed = flags.seed.unwrap_or(0);
    let mut fit = Tab::new(
        "fit",
        format!("fitting from random start {seed} with {method}: loss by iteration"),
        &["iteration", "linear", "nnet"],
    );
    let fit_one = |m: titanic::Model| -> Result<titanic::Fit> {
        let p0 = titanic::random_start(m, seed);
        match method {
            "lbfgs" => {
                let cfg = LbfgsConfig {
                    max_iter: flags.epochs.unwrap_or(200),
                    ..LbfgsConfig::default()
                };
                titanic::fit_lbfgs(&tb, m, &p0, &cfg).map_err(err)
            }
            "gd" => {
                let cfg = AdamConfig::default();
                titanic::fit_gd(&tb, m, &p0, &cfg, flags.epochs.unwrap_or(500)).map_err(err)
            }
            other => Err(usage(format!("unknown --fit '{other}': use lbfgs or gd"))),
        }
    };
    let fl = fit_one(titanic::Model::Linear)?;
    let fnet = fit_one(titanic::Model::Nnet)?;
    for i in 0..fl.losses.len().max(fnet.losses.len()) {
        fit.row(vec![
            V::N(i as f64),
            opt(fl.losses.get(i).copied()),
            opt(fnet.losses.get(i).copied()),
        ]);
    }
    let last = |f: &titanic::Fit| cell(*f.losses.last().unwrap_or(&f64::NAN), 8);
    Ok(Shown {
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
                "{method} from seed {seed}: linear loss {}, nnet loss {}",
                last(&fl),
                last(&fnet)
            ),
        ],
        tables: vec![fit, rows],
        book: Some(books::titanic().map_err(err)?),
        ..Shown::default()
    })
}

fn layers_lab() -> Shown {
    let fx = layers::fixed();
    let rnd = layers::random();
    let mut a = Tab::new(
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
            a.row(r);
        }
        a.row({
            let mut r = vec![t(sheet), t("loss"), V::N(f.loss)];
            r.resize(8, t(""));
            r
        });
    }
    let mut g = Tab::new(
        "fixed_step",
        "fixed sheet: dL/dw3, the predicted loss change and one SGD step of w3",
        &["row", "dL/dw3 1", "dL/dw3 2", "new w3 1", "new w3 2"],
    );
    for (i, (d, w)) in fx.dl_dw3.iter().zip(&fx.w3_new).enumerate() {
        let mut r = vec![V::N((i + 1) as f64)];
        r.extend(nums(d));
        r.extend(nums(w));
        g.row(r);
    }
    Shown {
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
        book: Some(books::layers()),
        ..Shown::default()
    }
}

fn broadcasting_lab() -> Shown {
    let b = small::broadcasting_sheet();
    Shown {
        notes: vec![format!("c = {:?}", b.c)],
        tables: vec![
            Tab::grid("m", "m", &b.m),
            Tab::grid("c_plus_m", "c + m (c broadcast over the rows)", &b.c_plus_m),
            Tab::grid(
                "ccol_plus_m",
                "c[:,None] + m (c broadcast over the columns)",
                &b.ccol_plus_m,
            ),
            Tab::grid("outer", "c[:,None] * c[None] (outer product)", &b.outer),
        ],
        book: Some(books::broadcasting()),
        ..Shown::default()
    }
}

fn style_lab() -> Shown {
    let s = small::style_loss();
    let img: Vec<Vec<f64>> = small::STYLE_IMAGE.iter().map(|r| r.to_vec()).collect();
    let gram: Vec<Vec<f64>> = s.gram.iter().map(|r| r.to_vec()).collect();
    Shown {
        notes: Vec::new(),
        tables: vec![
            Tab::grid("gram", "Gram matrix of the two filter outputs", &gram),
            Tab::grid("image", "image", &img),
            Tab::grid("output1", "filter 1 output", &s.outputs[0]),
            Tab::grid("output2", "filter 2 output", &s.outputs[1]),
        ],
        book: Some(books::style_loss()),
        ..Shown::default()
    }
}

fn emb_sizing_lab() -> Shown {
    let mut a = Tab::new(
        "sizes",
        "embedding size by cardinality: wanted and min(600, round(1.6·n^0.56))",
        &["cardinality", "wanted", "rule"],
    );
    for (n, want, rule) in small::emb_sizing_sheet() {
        a.row(nums(&[n, want, rule]));
    }
    Shown {
        tables: vec![a],
        book: Some(books::emb_sizing()),
        ..Shown::default()
    }
}

fn emb_results_lab() -> Shown {
    let flag = |b: bool| t(if b { "TRUE" } else { "FALSE" });
    let mut a = Tab::new(
        "runs",
        "runs: settings, scores by epoch, sd of the last three and the minimum",
        &[
            "split contins",
            "use dict",
            "init emb",
            "use scaler",
            "s1",
            "s2",
            "s3",
            "s4",
            "s5",
            "s6",
            "s7",
            "s8",
            "s9",
            "s10",
            "sd",
            "min",
        ],
    );
    for r in small::emb_results() {
        let mut row: Vec<V> = r.flags.iter().map(|b| flag(*b)).collect();
        let mut sc = nums(&r.scores);
        sc.resize(10, t(""));
        row.extend(sc);
        row.extend(nums(&[r.var, r.min]));
        a.row(row);
    }
    let pivot = small::emb_pivot(&small::emb_summary());
    let mut p = Tab::new(
        "pivot",
        "pivot: average score by (init emb, split contins) × (use scaler, use dict)",
        &["rows", "F,F", "F,T", "F,all", "T,F", "T,T", "T,all", "all"],
    );
    let labels = ["F", "F,F", "F,T", "T", "T,F", "T,T", "all"];
    for (l, r) in labels.iter().zip(&pivot) {
        let mut row = vec![t(*l)];
        row.extend(nums(r));
        p.row(row);
    }
    Shown {
        tables: vec![a, p],
        book: Some(books::emb_results()),
        ..Shown::default()
    }
}

/// A line chart as SVG and PNG files `<lab>-<stem>.svg|png`.
fn lines(
    out: &mut Vec<(String, Vec<u8>)>,
    stem: &str,
    title: &str,
    axes: (&str, &str, bool, bool),
    series: Vec<Series>,
) -> Result<()> {
    let (x_label, y_label, log_x, log_y) = axes;
    let chart = Chart::Lines {
        title: title.into(),
        x_label: x_label.into(),
        y_label: y_label.into(),
        log_x,
        log_y,
        series,
    };
    for f in [Format::Svg, Format::Png] {
        let bytes = chart::render(&chart, f).map_err(|e| anyhow::anyhow!("{stem}: {e}"))?;
        out.push((format!("{stem}.{}", f.ext()), bytes));
    }
    Ok(())
}

/// Layers side by side as a heatmap SVG, and each layer as a PNG.
fn heatmaps(
    out: &mut Vec<(String, Vec<u8>)>,
    stem: &str,
    title: &str,
    panels: &[(String, Vec<Vec<f64>>)],
    cell: usize,
) -> Result<()> {
    let refs: Vec<chart::Panel<'_>> = panels
        .iter()
        .map(|(n, g)| (n.as_str(), g.as_slice()))
        .collect();
    let svg = chart::heatmap_svg(title, &refs, cell).map_err(|e| anyhow::anyhow!("{e}"))?;
    out.push((format!("{stem}.svg"), svg.into_bytes()));
    for (n, g) in panels {
        let png = chart::heatmap_png(g, cell).map_err(|e| anyhow::anyhow!("{e}"))?;
        out.push((format!("{stem}-{}.png", n.replace(' ', "-")), png));
    }
    Ok(())
}

fn indexed(xs: &[f64]) -> Vec<(f64, f64)> {
    xs.iter().enumerate().map(|(i, y)| (i as f64, *y)).collect()
}

/// The lab's pictures as (file name, bytes); file names start with the lab's name.
fn pictures(name: &str, v: Option<Version>, s: &Shown) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let o = &mut out;
    let one_based = |xs: &[f64]| -> Vec<(f64, f64)> {
        xs.iter()
            .enumerate()
            .map(|(i, y)| ((i + 1) as f64, *y))
            .collect()
    };
    match name {
        "entropy" => {
            let (probs, sig) = match v.unwrap_or(Version::CourseV3) {
                Version::CourseV3 => {
                    let sm = entropy::course_v3_softmax();
                    (sm.image1.probs, Some(sm.sigmoid1))
                }
                Version::Courses => (entropy::softmax_table(&entropy::COURSES_LOGITS).probs, None),
                Version::Course22 => (entropy::course22().softmax.probs, None),
            };
            let mut series = vec![Series::line("softmax", one_based(&probs))];
            if let Some(sg) = sig {
                series.push(Series::line("sigmoid", one_based(&sg)));
            }
            lines(
                o,
                "entropy-softmax",
                "softmax (and sigmoid) by class: cat, dog, plane, fish, building",
                ("class", "probability", false, false),
                series,
            )?;
            let ps: Vec<f64> = (1..100).map(|i| i as f64 / 100.0).collect();
            let curve = |y: f64| -> Vec<(f64, f64)> {
                ps.iter()
                    .map(|p| (*p, entropy::binary_ce_log10(y, *p)))
                    .collect()
            };
            let rows = entropy::entropy_rows(&entropy::IS_CAT, &entropy::PREDS);
            lines(
                o,
                "entropy-bce",
                "binary cross-entropy (log10) against the prediction",
                ("prediction", "loss", false, false),
                vec![
                    Series::line("is cat", curve(1.0)),
                    Series::line("is not a cat", curve(0.0)),
                    Series::points(
                        "the sheet's rows",
                        rows.iter().map(|r| (r.pred, r.bce)).collect(),
                    ),
                ],
            )?;
        }
        "mom_bias" => {
            let sh = mom_bias::sheet1();
            let col = |f: fn(&mom_bias::BiasRow) -> f64| -> Vec<(f64, f64)> {
                sh.rows.iter().map(|r| (r.t as f64, f(r))).collect()
            };
            lines(
                o,
                "mom_bias-ema",
                "an EMA from 0 (beta 0.9): raw and bias-corrected",
                ("t", "value", false, false),
                vec![
                    Series::points("value", col(|r| r.value)),
                    Series::line("ema", col(|r| r.ema)),
                    Series::line("bias-corrected", col(|r| r.debiased)),
                ],
            )?;
        }
        "conv" => {
            let net = conv_net(v.unwrap_or(Version::CourseV3));
            let f = net.forward().map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut panels = vec![("input".to_string(), net.input.clone())];
            for (layer, gs) in [
                ("conv1", &f.conv1),
                ("conv2", &f.conv2),
                ("maxpool", &f.pool),
            ] {
                for (c, g) in gs.iter().enumerate() {
                    panels.push((format!("{layer} {}", c + 1), g.clone()));
                }
            }
            heatmaps(o, "conv-layers", "the digit through each layer", &panels, 6)?;
        }
        "collab" | "titanic" => {
            let tab = s
                .tables
                .iter()
                .find(|t| t.name == "training" || t.name == "fit")
                .ok_or_else(|| anyhow::anyhow!("no training table"))?;
            let mut series = Vec::new();
            for (k, h) in tab.headers.iter().enumerate().skip(1) {
                let pts: Vec<(f64, f64)> = tab
                    .rows
                    .iter()
                    .filter_map(|r| match (&r[0], &r[k]) {
                        (V::N(x), V::N(y)) => Some((*x, *y)),
                        _ => None,
                    })
                    .collect();
                series.push(Series::line(h.clone(), pts));
            }
            let y = if name == "collab" {
                "RMSE"
            } else {
                "mean squared error"
            };
            lines(
                o,
                &format!("{name}-training"),
                &tab.title,
                ("iteration", y, false, true),
                series,
            )?;
        }
        "layers" => {
            let fx = layers::fixed();
            let panels = vec![
                ("w1".to_string(), fx.mlp.w1.clone()),
                ("w2".to_string(), fx.mlp.w2.clone()),
                ("w3".to_string(), fx.mlp.w3.clone()),
                ("dL-dw3".to_string(), fx.dl_dw3.clone()),
            ];
            heatmaps(
                o,
                "layers-weights",
                "the fixed sheet's weights and dL/dw3",
                &panels,
                24,
            )?;
        }
        "broadcasting" | "style_loss" => {
            let panels: Vec<(String, Vec<Vec<f64>>)> = s
                .tables
                .iter()
                .map(|t| {
                    let g = t
                        .rows
                        .iter()
                        .map(|r| {
                            r.iter()
                                .skip(1)
                                .map(|c| match c {
                                    V::N(x) => *x,
                                    V::T(_) => 0.0,
                                })
                                .collect()
                        })
                        .collect();
                    (t.name.to_string(), g)
                })
                .collect();
            heatmaps(o, &format!("{name}-grids"), name, &panels, 24)?;
        }
        "emb_sizing" => {
            let rows = small::emb_sizing_sheet();
            lines(
                o,
                "emb_sizing",
                "embedding size by cardinality",
                ("cardinality", "embedding size", true, false),
                vec![
                    Series::points("wanted", rows.iter().map(|r| (r.0, r.1)).collect()),
                    Series::line(
                        "min(600, round(1.6·n^0.56))",
                        rows.iter().map(|r| (r.0, r.2)).collect(),
                    ),
                ],
            )?;
        }
        _ => {
            let series = small::emb_results()
                .iter()
                .enumerate()
                .map(|(i, r)| Series::line(format!("run {}", i + 1), indexed(&r.scores)))
                .collect();
            lines(
                o,
                "emb_results",
                "score by epoch, every run",
                ("epoch", "score", false, false),
                series,
            )?;
        }
    }
    Ok(out)
}

/// The workbook labs as `gradsheet lab` lists them, under the other labs.
pub fn listing() -> String {
    let mut s = String::from(
        "\nworkbook labs (gradsheet lab NAME [--version V] [--xlsx FILE] [--csv FILE] [--plot DIR]):\n",
    );
    for (n, about) in names() {
        s.push_str(&format!("\n  {n:<12} {about}\n"));
    }
    s.push_str("\n  versions (entropy, conv, collab): course-v3 (default), courses, course22\n");
    s.push_str("  collab: --train adam|lbfgs|sgd --seed N --epochs N; titanic: --fit lbfgs|gd --seed N --epochs N\n");
    s
}

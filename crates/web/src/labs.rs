//! The labs page's endpoints: every concept lab (`gradsheet-concepts`) and every
//! workbook lab (`gradsheet_report::labs::view`) by name, with the same computations the
//! command line runs, and parameters bounded for the web.
//!
//! `GET /api/labs` lists the labs and their parameters (defaults, ranges, choices);
//! `POST /api/lab` runs one: `{"name": "focal", "params": {"gamma": 2}}` → notes, tables,
//! SVG figures and grayscale images.

use std::collections::BTreeMap;

use gradsheet_concepts::{Kind, ParamSpec, Params, Value};
use gradsheet_report::labs::view::{self, Options, ViewError, V};
use serde::{Deserialize, Serialize};

use crate::dto::Num;
use crate::{ApiError, Limits};

/// Most rows of one table sent to the page (the rest is counted in `total_rows`).
pub const MAX_ROWS_SENT: usize = 200;

/// A parameter of a lab, as the page builds its control from it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LabParam {
    /// The name (`gamma`).
    pub name: String,
    /// The default, as text.
    pub default: String,
    /// `number`, `integer`, `choice` or `list`.
    pub kind: &'static str,
    /// The smallest value (numbers, integers, list items).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// The largest value on the web (often below the command line's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// The choices of a `choice`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// One line about it.
    pub help: String,
}

/// A lab in the list.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LabEntry {
    /// The name (`focal`, `entropy`).
    pub name: String,
    /// `concept` (gradsheet-concepts) or `workbook` (gradsheet-labs).
    pub group: &'static str,
    /// One line about it.
    pub description: String,
    /// Its parameters.
    pub params: Vec<LabParam>,
}

/// `POST /api/lab`: a lab and its settings (numbers or text; missing ones take defaults).
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct LabSpec {
    /// The lab's name.
    pub name: String,
    /// Its settings by name.
    pub params: BTreeMap<String, serde_json::Value>,
}

/// A table of a lab's answer.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LabTable {
    /// A short machine name.
    pub name: String,
    /// A human title.
    pub title: String,
    /// Column headers.
    pub headers: Vec<String>,
    /// The first rows: numbers (NaN as `"NaN"`), texts.
    pub rows: Vec<Vec<serde_json::Value>>,
    /// How many rows the table has in all.
    pub total_rows: usize,
}

/// A picture of a lab's answer.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LabFigure {
    /// A short machine name.
    pub name: String,
    /// A human title.
    pub title: String,
    /// The SVG document.
    pub svg: String,
}

/// A grayscale image, values in [0, 1] row by row.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LabImage {
    /// Its name (`nearest`, `transposed`).
    pub name: String,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// The pixels, row by row.
    pub pixels: Vec<Num>,
}

/// The answer of `POST /api/lab`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LabResult {
    /// The lab's name.
    pub lab: String,
    /// The settings used, every parameter included.
    pub params: BTreeMap<String, String>,
    /// Sentences about the numbers.
    pub notes: Vec<String>,
    /// The tables; the first is the main one.
    pub tables: Vec<LabTable>,
    /// SVG figures.
    pub figures: Vec<LabFigure>,
    /// Grayscale images.
    pub images: Vec<LabImage>,
    /// Time spent computing, in milliseconds.
    pub compute_ms: f64,
}

/// Web bounds of the concept labs' heavier parameters: (lab, parameter, max, default).
/// The command line allows more; a page must answer in about a second (measured: the
/// slowest combination of these bounds takes about 1 s on one core).
const WEB_BOUNDS: &[(&str, &str, f64, &str)] = &[
    ("dropout", "hidden", 32.0, "32"),
    ("dropout", "train", 48.0, "24"),
    ("dropout", "steps", 500.0, "300"),
    ("dropout", "ensemble", 1000.0, "200"),
    ("focal", "negatives", 5000.0, "2000"),
    ("focal", "positives", 1000.0, "25"),
    ("focal", "epochs", 500.0, "200"),
    ("l1-l2", "samples", 2000.0, "200"),
    ("gradients", "depth", 100.0, "50"),
    ("gradients", "width", 128.0, "128"),
    ("gradients", "batch", 128.0, "64"),
];

/// The largest seed the page offers.
const MAX_SEED: f64 = 1_000_000.0;

fn concept_param(lab: &str, p: &ParamSpec) -> LabParam {
    let bound = WEB_BOUNDS
        .iter()
        .find(|(l, n, _, _)| *l == lab && *n == p.name);
    let mut out = LabParam {
        name: p.name.to_string(),
        default: bound.map_or(p.default, |b| b.3).to_string(),
        kind: "number",
        min: None,
        max: None,
        choices: Vec::new(),
        help: p.help.to_string(),
    };
    match p.kind {
        Kind::Number { min, max } => (out.min, out.max) = (Some(min), Some(max)),
        Kind::Integer { min, max } => {
            out.kind = "integer";
            out.min = Some(min as f64);
            out.max = Some((max as f64).min(if p.name == "seed" { MAX_SEED } else { f64::MAX }));
        }
        Kind::Choice(words) => {
            out.kind = "choice";
            out.choices = words.iter().map(|w| w.to_string()).collect();
        }
        Kind::List { min, max } => {
            out.kind = "list";
            (out.min, out.max) = (Some(min), Some(max));
        }
    }
    if let Some(b) = bound {
        out.max = Some(out.max.map_or(b.2, |m| m.min(b.2)));
    }
    out
}

fn choice(name: &str, default: &str, choices: &[&str], help: &str) -> LabParam {
    LabParam {
        name: name.into(),
        default: default.into(),
        kind: "choice",
        min: None,
        max: None,
        choices: choices.iter().map(|c| c.to_string()).collect(),
        help: help.into(),
    }
}

fn integer(name: &str, default: &str, min: f64, max: f64, help: &str) -> LabParam {
    LabParam {
        name: name.into(),
        default: default.into(),
        kind: "integer",
        min: Some(min),
        max: Some(max),
        choices: Vec::new(),
        help: help.into(),
    }
}

/// The parameters of a workbook lab (the command line's options).
fn workbook_params(name: &str) -> Vec<LabParam> {
    let version = || {
        choice(
            "version",
            "course-v3",
            &["course-v3", "courses", "course22"],
            "which copy of the workbook",
        )
    };
    let seed = || integer("seed", "0", 0.0, 1000.0, "the seed of the random start");
    let epochs = || {
        integer(
            "epochs",
            "200",
            1.0,
            500.0,
            "epochs, or the most iterations",
        )
    };
    match name {
        "entropy" | "conv" => vec![version()],
        "collab" => vec![
            version(),
            choice(
                "train",
                "adam",
                &["adam", "lbfgs", "sgd"],
                "how to train the factors",
            ),
            seed(),
            epochs(),
        ],
        "titanic" => vec![
            choice("fit", "lbfgs", &["lbfgs", "gd"], "how to fit the models"),
            seed(),
            epochs(),
        ],
        _ => Vec::new(),
    }
}

/// Every lab: the concept labs, then the workbook labs.
pub fn list() -> Vec<LabEntry> {
    let mut out: Vec<LabEntry> = gradsheet_concepts::LABS
        .iter()
        .map(|l| LabEntry {
            name: l.name.into(),
            group: "concept",
            description: l.about.into(),
            params: l.params.iter().map(|p| concept_param(l.name, p)).collect(),
        })
        .collect();
    out.extend(view::names().iter().map(|(n, about)| LabEntry {
        name: n.to_string(),
        group: "workbook",
        description: about.to_string(),
        params: workbook_params(n),
    }));
    out
}

/// `GET /api/labs`.
pub fn labs(_: &(), _: &Limits) -> Result<Vec<LabEntry>, ApiError> {
    Ok(list())
}

fn json_num(x: f64) -> serde_json::Value {
    serde_json::to_value(Num(x)).unwrap_or(serde_json::Value::Null)
}

fn table(
    name: &str,
    title: &str,
    headers: &[String],
    rows: Vec<Vec<serde_json::Value>>,
) -> LabTable {
    LabTable {
        name: name.into(),
        title: title.into(),
        headers: headers.to_vec(),
        total_rows: rows.len(),
        rows: rows.into_iter().take(MAX_ROWS_SENT).collect(),
    }
}

/// Checks the settings against the lab's web parameters; text values by name.
fn settings(spec: &LabSpec, params: &[LabParam]) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    for (k, v) in &spec.params {
        let Some(p) = params.iter().find(|p| p.name == *k) else {
            let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
            let list = if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            };
            return Err(ApiError::bad(
                format!(
                    "the {} lab has no parameter '{k}' (its parameters are {list})",
                    spec.name
                ),
                k,
            ));
        };
        let text = match v {
            serde_json::Value::String(s) => s.trim().to_string(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => return Err(ApiError::bad(format!("{k}: give a number or a text"), k)),
        };
        if text.len() > 200 {
            return Err(ApiError::bad(format!("{k}: the value is too long"), k));
        }
        if let (Some(max), "integer" | "number") = (p.max, p.kind) {
            if let Ok(x) = text.parse::<f64>() {
                if x > max {
                    return Err(ApiError::bad(
                        format!("{k}: {text} is above the web page's limit of {max}"),
                        k,
                    ));
                }
            }
        }
        if p.kind == "choice" && !p.choices.contains(&text) {
            return Err(ApiError::bad(
                format!("{k}: '{text}' is not one of {}", p.choices.join(", ")),
                k,
            ));
        }
        out.insert(k.clone(), text);
    }
    for p in params {
        out.entry(p.name.clone())
            .or_insert_with(|| p.default.clone());
    }
    Ok(out)
}

/// `POST /api/lab`.
pub fn lab(spec: &LabSpec, _: &Limits) -> Result<LabResult, ApiError> {
    let t0 = std::time::Instant::now();
    let mut out = run(spec)?;
    out.compute_ms = t0.elapsed().as_secs_f64() * 1e3;
    Ok(out)
}

fn run(spec: &LabSpec) -> Result<LabResult, ApiError> {
    if let Some(info) = gradsheet_concepts::LABS
        .iter()
        .find(|l| l.name == spec.name)
    {
        let web: Vec<LabParam> = info
            .params
            .iter()
            .map(|p| concept_param(info.name, p))
            .collect();
        let values = settings(spec, &web)?;
        let typed: Vec<String> = values.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let params = Params::parse(info.params, &typed).map_err(|e| {
            let field = match &e {
                gradsheet_concepts::LabError::BadValue { name, .. } => name.clone(),
                _ => "params".into(),
            };
            ApiError::bad(format!("{}: {e}", info.name), &field)
        })?;
        let out = (info.run)(&params, None)
            .map_err(|e| ApiError::bad(format!("{}: {e}", info.name), "params"))?;
        let tables = out
            .tables
            .iter()
            .map(|t| {
                let rows = t
                    .rows
                    .iter()
                    .map(|r| {
                        r.iter()
                            .map(|v| match v {
                                Value::Num(x) => json_num(*x),
                                Value::Text(s) => serde_json::Value::String(s.clone()),
                            })
                            .collect()
                    })
                    .collect();
                table(&t.name, &t.title, &t.headers, rows)
            })
            .collect();
        return Ok(LabResult {
            lab: out.lab,
            params: values,
            notes: out.notes,
            tables,
            figures: out
                .figures
                .into_iter()
                .map(|f| LabFigure {
                    name: f.name,
                    title: f.title,
                    svg: f.svg,
                })
                .collect(),
            images: out
                .images
                .into_iter()
                .map(|(name, img)| LabImage {
                    name,
                    width: img.width,
                    height: img.height,
                    pixels: img.pixels.iter().copied().map(Num).collect(),
                })
                .collect(),
            compute_ms: 0.0,
        });
    }
    if !view::names().iter().any(|(n, _)| *n == spec.name) {
        let names: Vec<String> = list().into_iter().map(|l| l.name).collect();
        return Err(ApiError::bad(
            format!(
                "no lab named '{}' (the labs are {})",
                spec.name,
                names.join(", ")
            ),
            "name",
        ));
    }
    let web = workbook_params(&spec.name);
    let values = settings(spec, &web)?;
    let get = |k: &str| values.get(k).cloned();
    let num = |k: &str| -> Result<Option<u64>, ApiError> {
        match get(k) {
            None => Ok(None),
            Some(s) => s
                .parse::<u64>()
                .map(Some)
                .map_err(|_| ApiError::bad(format!("{k}: '{s}' is not a whole number"), k)),
        }
    };
    let epochs = num("epochs")?;
    if epochs == Some(0) {
        return Err(ApiError::bad("epochs: give at least 1", "epochs"));
    }
    let opts = Options {
        train: get("train"),
        fit: get("fit"),
        seed: num("seed")?,
        epochs: epochs.map(|e| e as usize),
        png: false,
    };
    let as_api = |e: ViewError| match e {
        ViewError::Usage(m) => ApiError::bad(m, "params"),
        ViewError::Failed(m) => ApiError::status(axum::http::StatusCode::UNPROCESSABLE_ENTITY, m),
    };
    let version = view::parse_version(&spec.name, get("version").as_deref()).map_err(as_api)?;
    let shown = view::compute(&spec.name, version, &opts, true).map_err(as_api)?;
    let tables = shown
        .tables
        .iter()
        .map(|t| {
            let rows = t
                .rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|v| match v {
                            V::N(x) => json_num(*x),
                            V::T(s) => serde_json::Value::String(s.clone()),
                        })
                        .collect()
                })
                .collect();
            table(t.name, &t.title, &t.headers, rows)
        })
        .collect();
    let figures = shown
        .pictures
        .into_iter()
        .filter_map(|(file, bytes)| {
            let stem = file.strip_suffix(".svg")?.to_string();
            // `titanic-training` → `training`; `emb_sizing` stays itself.
            let short = stem
                .strip_prefix(spec.name.as_str())
                .map(|s| s.trim_start_matches('-'))
                .filter(|s| !s.is_empty())
                .unwrap_or(&stem);
            Some(LabFigure {
                title: short.replace(['-', '_'], " "),
                name: stem,
                svg: String::from_utf8(bytes).ok()?,
            })
        })
        .collect();
    Ok(LabResult {
        lab: spec.name.clone(),
        params: values,
        notes: shown.notes,
        tables,
        figures,
        images: Vec::new(),
        compute_ms: 0.0,
    })
}

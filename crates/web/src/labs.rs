//! The labs page's endpoints: every lab (`gradsheet_report::labs::all`, the concept labs
//! and the workbook labs alike) by name, with the computations and the defaults the
//! command line uses, and heavy parameters bounded for the web.
//!
//! `GET /api/labs` lists the labs and their parameters (defaults, ranges, choices);
//! `POST /api/lab` runs one: `{"name": "focal", "params": {"gamma": 2}}` → notes, tables,
//! figures as data (the page draws them) and grayscale images.

use std::collections::BTreeMap;

use gradsheet_labs::figure::{self, Figure, Heatmap, Lines, Panel};
use gradsheet_labs::{Image, Kind, Lab, LabError, ParamSpec, Params, Table, Value};
use gradsheet_report::labs::{self, gradsheet_labs};
use serde::{Deserialize, Serialize};

use crate::dto::{nums, Num};
use crate::{ApiError, Limits};

/// Most rows of one table sent to the page (the rest is counted in `total_rows`).
pub const MAX_ROWS_SENT: usize = 200;

/// A parameter of a lab, as the page builds its control from it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LabParam {
    /// The name (`gamma`).
    pub name: String,
    /// The default, as text: the command line's too.
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
    /// `concept` or `workbook`.
    pub group: &'static str,
    /// One line about it.
    pub description: String,
    /// Its parameters.
    pub params: Vec<LabParam>,
    /// Whether it takes the learner's own picture (`image` in the request).
    pub takes_image: bool,
}

/// `POST /api/lab`: a lab and its settings (numbers or text; missing ones take defaults).
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct LabSpec {
    /// The lab's name.
    pub name: String,
    /// Its settings by name.
    pub params: BTreeMap<String, serde_json::Value>,
    /// The learner's picture, for a lab that takes one: grey levels in [0, 1], row by
    /// row (the page decodes the file and scales it down to the lab's size first).
    pub image: Option<LabImageSpec>,
}

/// A picture sent with a lab's request.
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct LabImageSpec {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// `height × width` grey levels in [0, 1], row after row.
    pub pixels: Vec<f64>,
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

/// A figure of a lab's answer, as data for the page to draw.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LabFigure {
    /// A short machine name (the command line's file is `<lab>-<name>.svg`).
    pub name: String,
    /// A human title.
    pub title: String,
    /// Panels per row on a wide screen.
    pub columns: usize,
    /// The panels.
    pub panels: Vec<LabPanel>,
}

/// One panel of a [`LabFigure`].
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum LabPanel {
    /// A line chart.
    Lines {
        /// Its title.
        title: String,
        /// The x axis label.
        x_label: String,
        /// The y axis label.
        y_label: String,
        /// A log x axis.
        log_x: bool,
        /// A log y axis.
        log_y: bool,
        /// A fixed x range, `[from, to]`; the data's when absent.
        #[serde(skip_serializing_if = "Option::is_none")]
        x_range: Option<[f64; 2]>,
        /// A fixed y range.
        #[serde(skip_serializing_if = "Option::is_none")]
        y_range: Option<[f64; 2]>,
        /// Names of the x positions 1…n (classes), when the axis has them.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        categories: Vec<String>,
        /// The series.
        series: Vec<LabSeries>,
    },
    /// A heatmap.
    Heatmap {
        /// Its title.
        title: String,
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
        /// `rows × cols` values, row after row.
        values: Vec<Num>,
        /// `gray`, `diverging` or `blues`.
        map: &'static str,
        /// The value range the colours span.
        range: [f64; 2],
        /// Whether each cell shows its value.
        annotate: bool,
        /// The label under the grid.
        x_label: String,
        /// The label beside it.
        y_label: String,
    },
}

/// A series of a line chart.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LabSeries {
    /// The legend's label (empty: no entry).
    pub name: String,
    /// `line`, `dashed`, `faint`, `points`, `rings`, `line-points` or `bars`.
    pub style: &'static str,
    /// Its colour, `#rrggbb`.
    pub color: String,
    /// The x values.
    pub x: Vec<Num>,
    /// The y values (NaN and infinities break a line).
    pub y: Vec<Num>,
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
    /// The figures, as data.
    pub figures: Vec<LabFigure>,
    /// Grayscale images.
    pub images: Vec<LabImage>,
    /// Time spent computing, in milliseconds.
    pub compute_ms: f64,
}

/// A parameter as the page's control shows it: the kind's range, cut to the web's bound.
fn param(p: &ParamSpec) -> LabParam {
    let mut out = LabParam {
        name: p.name.to_string(),
        default: p.default.to_string(),
        kind: p.kind.name(),
        min: None,
        max: None,
        choices: Vec::new(),
        help: p.help.to_string(),
    };
    match p.kind {
        Kind::Number { min, max } | Kind::List { min, max } => {
            (out.min, out.max) = (Some(min), Some(max));
        }
        Kind::Integer { min, max } => (out.min, out.max) = (Some(min as f64), Some(max as f64)),
        Kind::Choice(words) => out.choices = words.iter().map(|w| w.to_string()).collect(),
    }
    if let Some(b) = p.web_max {
        out.max = Some(out.max.map_or(b, |m| m.min(b)));
    }
    out
}

/// Every lab: the concept labs, then the workbook labs.
pub fn list() -> Vec<LabEntry> {
    labs::all()
        .into_iter()
        .map(|l| LabEntry {
            name: l.name.into(),
            group: l.group.name(),
            description: l.about.into(),
            params: l.params.iter().map(param).collect(),
            takes_image: l.takes_image,
        })
        .collect()
}

/// `GET /api/labs`.
pub fn labs(_: &(), _: &Limits) -> Result<Vec<LabEntry>, ApiError> {
    Ok(list())
}

/// `POST /api/lab`.
pub fn lab(spec: &LabSpec, _: &Limits) -> Result<LabResult, ApiError> {
    let t0 = std::time::Instant::now();
    let mut out = run(spec)?;
    out.compute_ms = t0.elapsed().as_secs_f64() * 1e3;
    Ok(out)
}

/// A lab's error as the API answers it: a setting the user can fix is a 400 naming its
/// field; a computation that failed is a 422.
fn api_error(lab: &str, e: &LabError) -> ApiError {
    if e.is_usage() {
        ApiError::bad(format!("{lab}: {e}"), e.field().unwrap_or("params"))
    } else {
        ApiError::status(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            format!("{lab}: {e}"),
        )
    }
}

/// The settings as `name=value` items, each checked against the web's bound first.
fn settings(lab: &Lab, spec: &LabSpec) -> Result<Vec<String>, ApiError> {
    let defaults = Params::defaults(lab.params);
    let mut items = Vec::new();
    for (k, v) in &spec.params {
        let p = defaults.spec(k).map_err(|e| api_error(lab.name, &e))?;
        let text = match v {
            serde_json::Value::String(s) => s.trim().to_string(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => return Err(ApiError::bad(format!("{k}: give a number or a text"), k)),
        };
        if text.len() > 200 {
            return Err(ApiError::bad(format!("{k}: the value is too long"), k));
        }
        let numeric = matches!(p.kind, Kind::Number { .. } | Kind::Integer { .. });
        if let (Some(max), true, Ok(x)) = (p.web_max, numeric, text.parse::<f64>()) {
            if x > max {
                return Err(ApiError::bad(
                    format!("{k}: {text} is above the web page's limit of {max}"),
                    k,
                ));
            }
        }
        items.push(format!("{k}={text}"));
    }
    Ok(items)
}

fn run(spec: &LabSpec) -> Result<LabResult, ApiError> {
    let lab = labs::find(&spec.name).map_err(|e| ApiError::bad(e.to_string(), "name"))?;
    let params =
        Params::parse(lab.params, &settings(lab, spec)?).map_err(|e| api_error(lab.name, &e))?;
    let image = picture(lab, spec.image.as_ref())?;
    let out = (lab.run)(&params, image.as_ref()).map_err(|e| api_error(lab.name, &e))?;
    Ok(LabResult {
        lab: out.lab,
        params: params
            .pairs()
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        notes: out.notes,
        tables: out.tables.iter().map(table).collect(),
        figures: out.figures.iter().map(lab_figure).collect(),
        images: out
            .images
            .into_iter()
            .map(|(name, img)| LabImage {
                name,
                width: img.width,
                height: img.height,
                pixels: nums(&img.pixels),
            })
            .collect(),
        compute_ms: 0.0,
    })
}

/// The request's picture checked: only for a lab that takes one, at most
/// [`gradsheet_concepts::upsampling::MAX_SIDE`] on a side, grey levels in [0, 1].
fn picture(lab: &Lab, image: Option<&LabImageSpec>) -> Result<Option<Image>, ApiError> {
    let Some(im) = image else {
        return Ok(None);
    };
    if !lab.takes_image {
        return Err(ApiError::bad(
            format!("the {} lab does not take a picture", lab.name),
            "image",
        ));
    }
    let max = gradsheet_concepts::upsampling::MAX_SIDE;
    if im.width > max || im.height > max {
        return Err(ApiError::bad(
            format!(
                "a picture of {}×{}: at most {max}×{max} (the page scales yours down to fit)",
                im.width, im.height
            ),
            "image",
        ));
    }
    if let Some(p) = im.pixels.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        return Err(ApiError::bad(
            format!("a grey level of {p}: each is between 0 and 1"),
            "image",
        ));
    }
    Image::new(im.width, im.height, im.pixels.clone())
        .map(Some)
        .map_err(|e| ApiError::bad(e.to_string(), "image"))
}

/// `GET /api/lab/file/{file}`: a lab's download, as the command line writes it —
/// `<lab>.xlsx` (the workbook with live formulas), `<lab>.csv` (its main table, every row),
/// `<lab>-<table>.csv` (another table), `<lab>-<figure>.svg` (a figure). Answers the bytes
/// and their type.
///
/// # Errors
///
/// 404 for a file the lab does not have; the lab's own errors as [`lab`] answers them.
pub fn file(spec: &LabSpec, file: &str) -> Result<(Vec<u8>, &'static str), ApiError> {
    let lab = labs::find(&spec.name).map_err(|e| ApiError::bad(e.to_string(), "name"))?;
    let params =
        Params::parse(lab.params, &settings(lab, spec)?).map_err(|e| api_error(lab.name, &e))?;
    let missing = || {
        ApiError::status(
            axum::http::StatusCode::NOT_FOUND,
            format!("the {} lab has no file {file}", lab.name),
        )
    };
    if file == format!("{}.xlsx", lab.name) {
        let book = labs::workbook(lab, &params, None).map_err(|e| api_error(lab.name, &e))?;
        let bytes = book.to_xlsx(false).map_err(|e| {
            ApiError::status(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot build the {} workbook: {e}", lab.name),
            )
        })?;
        return Ok((
            bytes,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ));
    }
    let out = (lab.run)(&params, None).map_err(|e| api_error(lab.name, &e))?;
    if let Some(stem) = file.strip_suffix(".csv") {
        let table = out.tables.iter().enumerate().find(|(i, t)| {
            (*i == 0 && stem == lab.name) || stem == format!("{}-{}", lab.name, t.name)
        });
        return match table {
            Some((_, t)) => Ok((labs::table_csv(t), "text/csv; charset=utf-8")),
            None => Err(missing()),
        };
    }
    if file.ends_with(".svg") {
        let files = labs::files(&out, false).map_err(|e| {
            ApiError::status(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                format!("{}: {e}", lab.name),
            )
        })?;
        return files
            .into_iter()
            .find(|(n, _)| n == file)
            .map(|(_, b)| (b, "image/svg+xml"))
            .ok_or_else(missing);
    }
    Err(missing())
}

fn json_num(x: f64) -> serde_json::Value {
    serde_json::to_value(Num(x)).unwrap_or(serde_json::Value::Null)
}

/// A table's first rows, numbers as JSON numbers (NaN and infinities as text).
fn table(t: &Table) -> LabTable {
    let rows = t
        .rows
        .iter()
        .take(MAX_ROWS_SENT)
        .map(|r| {
            r.iter()
                .map(|v| match v {
                    Value::Num(x) => json_num(*x),
                    Value::Text(s) => serde_json::Value::String(s.clone()),
                })
                .collect()
        })
        .collect();
    LabTable {
        name: t.name.clone(),
        title: t.title.clone(),
        headers: t.headers.clone(),
        rows,
        total_rows: t.rows.len(),
    }
}

fn lab_figure(f: &Figure) -> LabFigure {
    LabFigure {
        name: f.name.clone(),
        title: f.title.clone(),
        columns: f.columns,
        panels: f
            .panels
            .iter()
            .map(|p| match p {
                Panel::Lines(c) => lines(c),
                Panel::Heatmap(h) => heatmap(h),
            })
            .collect(),
    }
}

fn lines(c: &Lines) -> LabPanel {
    LabPanel::Lines {
        title: c.title.clone(),
        x_label: c.x_label.clone(),
        y_label: c.y_label.clone(),
        log_x: c.log_x,
        log_y: c.log_y,
        x_range: c.x_extent().map(|(a, b)| [a, b]),
        y_range: c.y_extent().map(|(a, b)| [a, b]),
        categories: c.categories.clone(),
        series: c
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| LabSeries {
                name: s.name.clone(),
                style: s.style.name(),
                color: figure::hex(s.color_index(i)),
                x: s.points.iter().map(|p| Num(p.0)).collect(),
                y: s.points.iter().map(|p| Num(p.1)).collect(),
            })
            .collect(),
    }
}

fn heatmap(h: &Heatmap) -> LabPanel {
    let (lo, hi) = h.extent();
    LabPanel::Heatmap {
        title: h.title.clone(),
        rows: h.rows,
        cols: h.cols,
        values: nums(&h.values),
        map: h.map.name(),
        range: [lo, hi],
        annotate: h.annotate,
        x_label: h.labels.0.clone(),
        y_label: h.labels.1.clone(),
    }
}

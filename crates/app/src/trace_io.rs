//! A run's trace as CSV and JSON, in the stable schema of docs/trace-format.md
//! (`gradsheet-trace`, version 1), piece by piece so that a run can be written as it
//! goes (`crate::export`). Change the schema only by adding fields, and bump [`VERSION`]
//! if a field ever changes meaning.

use gradsheet_engine::{format_number, Model};
#[cfg(test)]
use gradsheet_train::Trace;
use gradsheet_train::{Convention, EpochSummary, Layout, Optimizer, StepView, Stop};
use serde_json::{json, Map, Value};

/// The schema version written into every JSON trace.
pub const VERSION: u32 = 1;

/// The leading columns of every CSV step row, before the layout's own columns.
pub const CSV_PREFIX: [&str; 4] = ["step", "epoch", "row", "lr"];

/// What a JSON trace says about the run besides its rows.
#[derive(Clone, Copy, Debug)]
pub struct RunInfo<'a> {
    /// The model.
    pub model: &'a Model,
    /// Rows of data.
    pub data_rows: usize,
    /// The optimizer.
    pub optimizer: &'a Optimizer,
    /// The initial parameters.
    pub init: &'a [f64],
}

/// A number as CSV and JSON strings write it: the shortest text that reads back as the
/// same double; `NaN`, `inf` and `-inf` for the non-finite values.
pub fn number(v: f64) -> String {
    format_number(v)
}

/// A number as a JSON value: a JSON number when finite, else the string `"NaN"`, `"inf"`
/// or `"-inf"` (JSON has no literal for them).
pub fn json_number(v: f64) -> Value {
    serde_json::Number::from_f64(v)
        .map(Value::Number)
        .unwrap_or_else(|| Value::String(number(v)))
}

/// Names → values as a JSON object, in order.
fn named(names: &[String], vs: &[f64]) -> Value {
    let mut m = Map::new();
    for (n, v) in names.iter().zip(vs) {
        m.insert(n.clone(), json_number(*v));
    }
    Value::Object(m)
}

/// Quotes a header that holds a comma or a quote (a column name from a user's CSV).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Every header of a step row: `step,epoch,row,lr`, then [`Layout::headers`].
pub fn headers(layout: &Layout) -> Vec<String> {
    let mut h: Vec<String> = CSV_PREFIX.iter().map(|s| s.to_string()).collect();
    h.extend(layout.headers());
    h
}

/// The CSV header line, with its newline.
pub fn csv_header(layout: &Layout) -> String {
    let fields: Vec<String> = headers(layout).iter().map(|h| csv_field(h)).collect();
    let mut out = fields.join(",");
    out.push('\n');
    out
}

/// A step's values in the order of [`headers`]; `row` is the data row, 1-based (for a
/// mini-batch: its first row).
pub fn step_values<'a>(s: &'a StepView<'_>) -> impl Iterator<Item = f64> + 'a {
    [s.step as f64, s.epoch as f64, s.row as f64 + 1.0, s.lr]
        .into_iter()
        .chain(s.inputs.iter().copied())
        .chain(s.params.iter().copied())
        .chain([s.pred, s.error])
        .chain(s.grads.iter().copied())
        .chain(s.fd.unwrap_or(&[]).iter().copied())
        .chain(s.state.iter().copied())
        .chain(s.new_params.iter().copied())
}

/// Appends a step's CSV line (with its newline) to `out`.
pub fn push_csv_line(out: &mut String, s: &StepView<'_>) {
    for (i, v) in step_values(s).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&number(v));
    }
    out.push('\n');
}

/// A step as a JSON array in the order of [`headers`] (the step, epoch and row as whole
/// numbers).
pub fn step_json(s: &StepView<'_>) -> Value {
    Value::Array(
        step_values(s)
            .enumerate()
            .map(|(i, v)| {
                if i < 3 {
                    json!(v as u64)
                } else {
                    json_number(v)
                }
            })
            .collect(),
    )
}

/// The step rows as CSV: [`csv_header`], then one line per recorded step.
/// (The reference the streamed files are tested against.)
#[cfg(test)]
pub fn csv(trace: &Trace) -> String {
    let mut out = csv_header(&trace.layout);
    for s in trace.steps() {
        push_csv_line(&mut out, &s);
    }
    out
}

/// The per-epoch summaries' CSV header: `epoch,sum_error,mean_error,sheet_rmse,rmse,lr`,
/// then `grad_norm_<p>` and `<p>` (the parameters at the epoch's end) for each parameter.
pub fn epochs_csv_header(params: &[String]) -> String {
    let mut out = String::from("epoch,sum_error,mean_error,sheet_rmse,rmse,lr");
    for p in params {
        out.push_str(&format!(",grad_norm_{}", csv_field(p)));
    }
    for p in params {
        out.push_str(&format!(",{}", csv_field(p)));
    }
    out.push('\n');
    out
}

/// An epoch summary's CSV line, with its newline.
pub fn epoch_csv_line(e: &EpochSummary) -> String {
    let mut out = format!(
        "{},{},{},{},{},{}",
        e.epoch,
        number(e.sum_error),
        number(e.mean_error),
        number(e.sheet_rmse),
        number(e.rmse),
        number(e.lr)
    );
    for v in e.grad_norms.iter().chain(&e.params) {
        out.push(',');
        out.push_str(&number(*v));
    }
    out.push('\n');
    out
}

/// The per-epoch summaries as CSV.
/// (The reference the streamed files are tested against.)
#[cfg(test)]
pub fn epochs_csv(trace: &Trace) -> String {
    let mut out = epochs_csv_header(&trace.layout.params);
    for e in &trace.epochs {
        out.push_str(&epoch_csv_line(e));
    }
    out
}

/// How the run ended, as JSON.
pub fn stop_json(stop: &Stop) -> Value {
    match stop {
        Stop::Completed => json!({ "kind": "completed" }),
        Stop::Diverged { step, row, reason } => {
            json!({ "kind": "diverged", "step": step, "row": row + 1, "reason": reason.to_string() })
        }
        Stop::Interrupted { steps } => json!({ "kind": "interrupted", "steps": steps }),
    }
}

/// An epoch summary as JSON.
pub fn epoch_json(e: &EpochSummary, params: &[String]) -> Value {
    json!({
        "epoch": e.epoch,
        "sum_error": json_number(e.sum_error),
        "mean_error": json_number(e.mean_error),
        "sheet_rmse": json_number(e.sheet_rmse),
        "rmse": json_number(e.rmse),
        "lr": json_number(e.lr),
        "grad_norms": named(params, &e.grad_norms),
        "params": named(params, &e.params),
    })
}

/// The fields before the rows: format, version, model, data_rows, optimizer, init and
/// headers, in that order.
pub fn json_head(info: &RunInfo<'_>, layout: &Layout) -> Vec<(&'static str, Value)> {
    let opt = info.optimizer;
    vec![
        ("format", json!("gradsheet-trace")),
        ("version", json!(VERSION)),
        (
            "model",
            json!({
                "prediction": info.model.prediction_src,
                "loss": info.model.loss_src,
                "columns": layout.columns,
                "params": layout.params,
                "constants": info.model.constants.iter().map(|(k, v)| json!([k, json_number(*v)])).collect::<Vec<_>>(),
            }),
        ),
        ("data_rows", json!(info.data_rows)),
        (
            "optimizer",
            json!({
                "name": opt.name(),
                "convention": match opt.convention() { Convention::Workbook => "workbook", Convention::Torch => "torch" },
                "description": opt.to_string(),
                "state_vars": layout.state_vars,
            }),
        ),
        ("init", named(&layout.params, info.init)),
        ("headers", json!(headers(layout))),
    ]
}

/// The fields after the rows: stop, steps_taken, final_params, final_state and notes.
pub fn json_tail(
    layout: &Layout,
    stop: &Stop,
    steps_taken: usize,
    final_params: &[f64],
    final_state: &[f64],
) -> Vec<(&'static str, Value)> {
    let n = layout.params.len();
    let state: Map<String, Value> = layout
        .state_vars
        .iter()
        .enumerate()
        .filter(|(k, _)| (k + 1) * n <= final_state.len())
        .map(|(k, name)| {
            (
                name.clone(),
                named(&layout.params, &final_state[k * n..(k + 1) * n]),
            )
        })
        .collect();
    vec![
        ("stop", stop_json(stop)),
        ("steps_taken", json!(steps_taken)),
        ("final_params", named(&layout.params, final_params)),
        ("final_state", Value::Object(state)),
        (
            "notes",
            json!({
                "sheet_rmse": "the workbooks' \"rmse\": the square root of the SUM of the epoch's errors, not of their mean",
                "rmse": "the true root mean squared error, sqrt(mean_error)",
            }),
        ),
    ]
}

/// The whole run as a JSON value (see docs/trace-format.md).
/// (The reference the streamed files are tested against.)
#[cfg(test)]
pub fn json(info: &RunInfo<'_>, t: &Trace) -> Value {
    let l = &t.layout;
    let mut m = Map::new();
    for (k, v) in json_head(info, l) {
        m.insert(k.into(), v);
    }
    let steps: Vec<Value> = t.steps().map(|s| step_json(&s)).collect();
    m.insert("steps".into(), Value::Array(steps));
    m.insert(
        "epochs".into(),
        Value::Array(t.epochs.iter().map(|e| epoch_json(e, &l.params)).collect()),
    );
    for (k, v) in json_tail(l, &t.stop, t.steps_taken, &t.final_params, &t.final_state) {
        m.insert(k.into(), v);
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradsheet_engine::{Dataset, Roles};
    use gradsheet_train::{Hooks, TrainConfig, Trainer};

    #[test]
    fn csv_and_json_share_one_schema() {
        let data = Dataset::graddesc();
        let model = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
        let opt = Optimizer::Momentum {
            lr: 1e-4,
            beta: 0.9,
        };
        let trace = Trainer::new(&model, &data)
            .unwrap()
            .run(
                &[1.0, 1.0],
                &TrainConfig::new(opt.clone(), 2),
                &mut Hooks::none(),
            )
            .unwrap();
        let text = csv(&trace);
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "step,epoch,row,lr,x,y,a,b,pred,err,de/da,de/db,m_a,m_b,new a,new b"
        );
        assert_eq!(text.lines().count(), 1 + 58);
        assert!(lines
            .next()
            .unwrap()
            .starts_with("1,1,1,0.0001,14,58,1,1,15,1849,"));
        let info = RunInfo {
            model: &model,
            data_rows: data.len(),
            optimizer: &opt,
            init: &[1.0, 1.0],
        };
        let v = json(&info, &trace);
        assert_eq!(v["format"], "gradsheet-trace");
        assert_eq!(v["steps"].as_array().unwrap().len(), 58);
        assert_eq!(v["steps"][0][0], 1);
        assert_eq!(v["steps"][0][8], 15.0);
        assert_eq!(v["headers"].as_array().unwrap().len(), 16);
        assert_eq!(v["optimizer"]["convention"], "workbook");
        assert_eq!(json_number(f64::NAN), "NaN");
        assert_eq!(epochs_csv(&trace).lines().count(), 3);
    }
}

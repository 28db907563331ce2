//! A run's trace as CSV and JSON, in the stable schema of docs/trace-format.md
//! (`gradsheet-trace`, version 1). Change the schema only by adding fields, and bump
//! [`VERSION`] if a field ever changes meaning.

use gradsheet_engine::format_number;
use gradsheet_train::{Convention, Stop, Trace};
use serde_json::{json, Map, Value};

use crate::export::RunOutputs;

/// The schema version written into every JSON trace.
pub const VERSION: u32 = 1;

/// The leading columns of every CSV step row, before the layout's own columns.
pub const CSV_PREFIX: [&str; 4] = ["step", "epoch", "row", "lr"];

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

/// The step rows as CSV: a header row `step,epoch,row,lr,` followed by
/// [`gradsheet_train::Layout::headers`], then one line per recorded step. `row` is the
/// data row, 1-based (for a mini-batch: its first row).
pub fn csv(trace: &Trace) -> String {
    let mut out = CSV_PREFIX.join(",");
    for h in trace.layout.headers() {
        out.push(',');
        out.push_str(&csv_field(&h));
    }
    out.push('\n');
    let w = trace.layout.width();
    for (i, s) in trace.steps().enumerate() {
        out.push_str(&format!(
            "{},{},{},{}",
            s.step,
            s.epoch,
            s.row + 1,
            number(s.lr)
        ));
        for v in &trace.values[i * w..(i + 1) * w] {
            out.push(',');
            out.push_str(&number(*v));
        }
        out.push('\n');
    }
    out
}

/// Quotes a header that holds a comma or a quote (a column name from a user's CSV).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The per-epoch summaries as CSV: `epoch,sum_error,mean_error,sheet_rmse,rmse,lr`, then
/// `grad_norm_<p>` and `<p>` (the parameters at the epoch's end) for each parameter.
pub fn epochs_csv(trace: &Trace) -> String {
    let ps = &trace.layout.params;
    let mut out = String::from("epoch,sum_error,mean_error,sheet_rmse,rmse,lr");
    for p in ps {
        out.push_str(&format!(",grad_norm_{}", csv_field(p)));
    }
    for p in ps {
        out.push_str(&format!(",{}", csv_field(p)));
    }
    out.push('\n');
    for e in &trace.epochs {
        out.push_str(&format!(
            "{},{},{},{},{},{}",
            e.epoch,
            number(e.sum_error),
            number(e.mean_error),
            number(e.sheet_rmse),
            number(e.rmse),
            number(e.lr)
        ));
        for v in e.grad_norms.iter().chain(&e.params) {
            out.push(',');
            out.push_str(&number(*v));
        }
        out.push('\n');
    }
    out
}

/// How the run ended, as JSON.
pub fn stop_json(stop: &Stop) -> Value {
    match stop {
        Stop::Completed => json!({ "kind": "completed" }),
        Stop::Diverged { step, row, reason } => {
            json!({ "kind": "diverged", "step": step, "row": row + 1, "reason": reason })
        }
        Stop::Interrupted { steps } => json!({ "kind": "interrupted", "steps": steps }),
    }
}

/// The whole run as a JSON value (see docs/trace-format.md).
pub fn json(run: &RunOutputs<'_>) -> Value {
    let t = run.trace;
    let l = &t.layout;
    let w = l.width();
    let steps: Vec<Value> = t
        .steps()
        .enumerate()
        .map(|(i, s)| {
            let mut row = vec![
                json!(s.step),
                json!(s.epoch),
                json!(s.row + 1),
                json_number(s.lr),
            ];
            row.extend(t.values[i * w..(i + 1) * w].iter().map(|v| json_number(*v)));
            Value::Array(row)
        })
        .collect();
    let mut headers: Vec<String> = CSV_PREFIX.iter().map(|s| s.to_string()).collect();
    headers.extend(l.headers());
    let epochs: Vec<Value> = t
        .epochs
        .iter()
        .map(|e| {
            json!({
                "epoch": e.epoch,
                "sum_error": json_number(e.sum_error),
                "mean_error": json_number(e.mean_error),
                "sheet_rmse": json_number(e.sheet_rmse),
                "rmse": json_number(e.rmse),
                "lr": json_number(e.lr),
                "grad_norms": named(&l.params, &e.grad_norms),
                "params": named(&l.params, &e.params),
            })
        })
        .collect();
    let n = l.params.len();
    let state: Map<String, Value> = l
        .state_vars
        .iter()
        .enumerate()
        .filter(|(k, _)| (k + 1) * n <= t.final_state.len())
        .map(|(k, name)| {
            (
                name.clone(),
                named(&l.params, &t.final_state[k * n..(k + 1) * n]),
            )
        })
        .collect();
    json!({
        "format": "gradsheet-trace",
        "version": VERSION,
        "model": {
            "prediction": run.model.prediction_src,
            "loss": run.model.loss_src,
            "columns": l.columns,
            "params": l.params,
            "constants": run.model.constants.iter().map(|(k, v)| json!([k, json_number(*v)])).collect::<Vec<_>>(),
        },
        "data_rows": run.data.len(),
        "optimizer": {
            "name": run.optimizer.name(),
            "convention": match run.optimizer.convention() { Convention::Workbook => "workbook", Convention::Torch => "torch" },
            "description": run.optimizer.to_string(),
            "state_vars": l.state_vars,
        },
        "init": named(&l.params, run.init),
        "headers": headers,
        "steps": steps,
        "epochs": epochs,
        "stop": stop_json(&t.stop),
        "steps_taken": t.steps_taken,
        "final_params": named(&l.params, &t.final_params),
        "final_state": state,
        "notes": {
            "sheet_rmse": "the workbooks' \"rmse\": the square root of the SUM of the epoch's errors, not of their mean",
            "rmse": "the true root mean squared error, sqrt(mean_error)",
        },
    })
}

/// [`json()`] as pretty text with a final newline.
pub fn json_text(run: &RunOutputs<'_>) -> String {
    let mut s = serde_json::to_string_pretty(&json(run)).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradsheet_engine::{Dataset, Model, Roles};
    use gradsheet_train::{Hooks, Optimizer, TrainConfig, Trainer};

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
        let run = RunOutputs {
            model: &model,
            data: &data,
            optimizer: &opt,
            init: &[1.0, 1.0],
            trace: &trace,
            config: None,
        };
        let v = json(&run);
        assert_eq!(v["format"], "gradsheet-trace");
        assert_eq!(v["steps"].as_array().unwrap().len(), 58);
        assert_eq!(v["headers"].as_array().unwrap().len(), 16);
        assert_eq!(v["optimizer"]["convention"], "workbook");
        assert_eq!(json_number(f64::NAN), "NaN");
        assert_eq!(epochs_csv(&trace).lines().count(), 3);
    }
}

//! The downloads of a run: every step as CSV, a workbook of live formulas, the path as SVG.

use gradsheet_train::Trace;

use super::train::{Prepared, RECORD_STEPS_LIMIT};
use super::{group, train_until};
use crate::dto::*;
use crate::work::Deadline;
use crate::{ApiError, Limits};

/// A run recorded step by step, for the downloads.
struct Recorded {
    p: Prepared,
    trace: Trace,
}

/// Runs `spec` recording every step, refusing runs of more than `max` steps (a download
/// of every step of a longer run belongs to the command line).
fn recorded(
    spec: &TrainSpec,
    lim: &Limits,
    dl: &Deadline,
    what: &str,
    max: usize,
) -> Result<Recorded, ApiError> {
    let p = Prepared::new(spec, lim)?;
    if p.total > max {
        return Err(ApiError::bad(
            format!(
                "{what} of {} steps is too large to download here (the limit is {}); use the command line",
                group(p.total),
                group(max)
            ),
            "epochs",
        ));
    }
    let trace = train_until(&p.trainer, &p.init, &p.cfg, dl)?;
    Ok(Recorded { p, trace })
}

/// A run's every step as CSV (the trace's columns, preceded by step, epoch and row).
pub fn csv(spec: &TrainSpec, lim: &Limits, dl: &Deadline) -> Result<String, ApiError> {
    let trace = recorded(spec, lim, dl, "a CSV", RECORD_STEPS_LIMIT)?.trace;
    let mut out = String::from("step,epoch,row,lr");
    for h in trace.layout.headers() {
        out.push(',');
        out.push_str(&csv_field(&h));
    }
    out.push('\n');
    let w = trace.layout.width();
    for s in trace.steps() {
        out.push_str(&format!("{},{},{},{}", s.step, s.epoch, s.row + 1, s.lr));
        let i = s.step - 1;
        for v in &trace.values[i * w..(i + 1) * w] {
            out.push(',');
            out.push_str(&v.to_string());
        }
        out.push('\n');
    }
    Ok(out)
}

/// A run as an xlsx workbook whose every number is a live formula (gradsheet-report).
pub fn xlsx(spec: &TrainSpec, lim: &Limits, dl: &Deadline) -> Result<Vec<u8>, ApiError> {
    let r = recorded(spec, lim, dl, "a workbook", lim.max_xlsx_steps)?;
    let run = gradsheet_report::xlsx::RunSpec {
        model: &r.p.trainer.model,
        data: &r.p.data,
        config: &r.p.cfg,
        init: &r.p.init,
        trace: &r.trace,
    };
    gradsheet_report::xlsx::run_workbook(&run, &gradsheet_report::xlsx::XlsxOptions::default())
        .map_err(|e| ApiError::bad(e.to_string(), "epochs"))
}

/// The path on the error surface (or, for a one-parameter model, the error by epoch) as
/// SVG, drawn by gradsheet-report like the command line's charts.
pub fn svg(spec: &TrainSpec, lim: &Limits, dl: &Deadline) -> Result<Vec<u8>, ApiError> {
    use gradsheet_report::chart;
    let r = recorded(spec, lim, dl, "a chart", RECORD_STEPS_LIMIT)?;
    let runs = [(r.p.cfg.optimizer.name(), &r.trace)];
    let c = chart::contours(&r.p.trainer.model, &r.p.data, &runs, (0, 1))
        .unwrap_or_else(|| chart::error_by_epoch(&runs));
    chart::render(&c, chart::Format::Svg)
        .map_err(|e| ApiError::status(axum::http::StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

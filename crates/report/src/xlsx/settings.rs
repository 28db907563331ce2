//! The Settings sheet: the run's inputs, each a named cell the other sheets' formulas
//! read (`lr`, `beta1`, `init_a`, ...). The optimizer's hyperparameters and their
//! meanings come from the optimizer table ([`gradsheet_train::rules`]).

use std::collections::HashMap;

use gradsheet_train::{Gradient, Stop};
use rust_xlsxwriter::Worksheet;

use super::layout::{abs, defined_name, Formats};
use super::{RunSetup, XlsxError};

/// What the other sheets need from the Settings sheet, and where the two facts known
/// only at the end go.
pub(crate) struct Settings {
    pub ws: Worksheet,
    /// Constant name → its absolute address.
    pub consts: HashMap<String, String>,
    /// Per parameter: the name (or address) of its initial value.
    pub init_refs: Vec<String>,
    /// Defined names and the row of their value (column B).
    pub names: Vec<(String, usize)>,
    steps_row: usize,
    end_row: usize,
}

/// The optimizer's numeric hyperparameters as (defined name, value, meaning), then the
/// numbers the workbook's formulas read besides.
fn named_numbers(run: &RunSetup<'_>) -> Vec<(&'static str, f64, &'static str)> {
    let cfg = run.config;
    let rule = cfg.optimizer.rule();
    let mut out: Vec<(&'static str, f64, &'static str)> = cfg
        .optimizer
        .hyper_values()
        .into_iter()
        .filter_map(|(key, v)| {
            let h = rule.hyper(key)?;
            (!h.switch).then_some((h.key, v, h.meaning))
        })
        .collect();
    out.push((
        "n_rows",
        run.data.len() as f64,
        "rows of data (the workbook adagrad divides by it)",
    ));
    if let Gradient::Fd { h, .. } = cfg.gradient {
        out.push((
            "grad_h",
            h,
            "the finite-difference step of the gradient used for updates",
        ));
    }
    if let Some((_, h)) = cfg.show_fd {
        out.push((
            "fd_h",
            h,
            "the finite-difference step of the estimates shown",
        ));
    }
    out
}

impl Settings {
    /// Writes everything but the number of steps and how the run ended.
    pub fn write(run: &RunSetup<'_>, f: &Formats) -> Result<Settings, XlsxError> {
        let model = run.model;
        let n_data = run.data.len();
        let mut ws = Worksheet::new();
        ws.set_name("Settings")?;
        ws.set_column_width(0, 28)?;
        ws.set_column_width(1, 24)?;
        ws.set_column_width(2, 60)?;
        ws.write_string_with_format(0, 0, "gradsheet run", &f.bold)?;
        let gradient = match run.config.gradient {
            Gradient::Auto => "exact (the symbolic derivative)".to_string(),
            Gradient::Fd { scheme, h } => format!(
                "{scheme:?} finite difference, h = {}",
                gradsheet_engine::format_number(h)
            ),
        };
        let info: Vec<(&str, String)> = vec![
            ("model", model.prediction_src.clone()),
            ("loss", model.loss_src.clone()),
            ("optimizer", run.config.optimizer.to_string()),
            ("epochs", run.config.epochs.to_string()),
            ("batch size", run.config.batch_rows(n_data).to_string()),
            ("gradient", gradient),
            ("steps", String::new()),
            ("how the run ended", String::new()),
        ];
        for (i, (k, v)) in info.iter().enumerate() {
            ws.write_string(2 + i as u32, 0, *k)?;
            ws.write_string(2 + i as u32, 1, v)?;
        }
        let (steps_row, end_row) = (2 + info.len() - 2, 2 + info.len() - 1);
        let mut row = 3 + info.len();
        let mut names: Vec<(String, usize)> = Vec::new();
        ws.write_string_with_format(row as u32, 0, "setting", &f.header)?;
        ws.write_string_with_format(row as u32, 1, "value", &f.header)?;
        ws.write_string_with_format(
            row as u32,
            2,
            "meaning (a named cell: formulas use the name)",
            &f.header,
        )?;
        row += 1;
        for (name, v, what) in named_numbers(run) {
            ws.write_string(row as u32, 0, name)?;
            ws.write_number(row as u32, 1, v)?;
            ws.write_string(row as u32, 2, what)?;
            names.push((name.to_string(), row));
            row += 1;
        }
        row += 1;
        ws.write_string_with_format(row as u32, 0, "initial parameter", &f.header)?;
        ws.write_string_with_format(row as u32, 1, "value", &f.header)?;
        ws.write_string_with_format(row as u32, 2, "", &f.header)?;
        row += 1;
        let mut init_refs = Vec::new();
        for (i, p) in model.params.iter().enumerate() {
            ws.write_string(row as u32, 0, p)?;
            ws.write_number(row as u32, 1, run.init[i])?;
            match defined_name("init", p) {
                Some(n) => {
                    ws.write_string(row as u32, 2, format!("named {n}"))?;
                    init_refs.push(n.clone());
                    names.push((n, row));
                }
                None => init_refs.push(abs("Settings", row, 1)),
            }
            row += 1;
        }
        let mut consts = HashMap::new();
        if !model.constants.is_empty() {
            row += 1;
            ws.write_string_with_format(row as u32, 0, "constant", &f.header)?;
            ws.write_string_with_format(row as u32, 1, "value", &f.header)?;
            ws.write_string_with_format(row as u32, 2, "", &f.header)?;
            row += 1;
            for (c, v) in &model.constants {
                ws.write_string(row as u32, 0, c)?;
                ws.write_number(row as u32, 1, *v)?;
                consts.insert(c.clone(), abs("Settings", row, 1));
                if let Some(n) = defined_name("const", c) {
                    ws.write_string(row as u32, 2, format!("named {n}"))?;
                    names.push((n, row));
                }
                row += 1;
            }
        }
        row += 1;
        let notes = [
            "Every number on the Steps, Epochs and Rows sheets is a live formula: change a setting above and the run recalculates.",
            "Each Steps row uses the parameters and optimizer state of the row above; row 2 (start) holds the initial ones.",
            "The derivative columns are the symbolic derivative of the error, written as an Excel formula.",
        ];
        for n in notes {
            ws.write_string_with_format(row as u32, 0, n, &f.note)?;
            row += 1;
        }
        Ok(Settings {
            ws,
            consts,
            init_refs,
            names,
            steps_row,
            end_row,
        })
    }

    /// The facts known at the end: how many steps, and how the run ended.
    pub fn finish(&mut self, steps: usize, stop: &Stop) -> Result<(), XlsxError> {
        self.ws
            .write_string(self.steps_row as u32, 1, steps.to_string())?;
        self.ws
            .write_string(self.end_row as u32, 1, format!("{stop:?}"))?;
        Ok(())
    }
}

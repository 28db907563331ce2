//! The Data sheet: the data rows, and a column of the prediction at the final
//! parameters (the Steps sheet's last row), with a chart of the fit.

use std::collections::HashMap;

use gradsheet_engine::{Dataset, Model, Notation};
use rust_xlsxwriter::{Chart, ChartType, Worksheet};

use super::layout::{a1, abs, Cells, Formats, StepCols};
use super::{RunSetup, XlsxError};

/// Writes the Data sheet once the last step row (`last_step_row`, whose new parameters
/// are `final_params`) is known.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write(
    run: &RunSetup<'_>,
    consts: &HashMap<String, String>,
    cols: &StepCols,
    last_step_row: usize,
    final_params: &[f64],
    cells: &Cells,
    f: &Formats,
    charts: bool,
) -> Result<Worksheet, XlsxError> {
    let model = run.model;
    let n_data = run.data.len();
    let nc = model.columns.len();
    let data_cols: Vec<usize> = model
        .columns
        .iter()
        .map(|c| run.data.column_index(c).unwrap_or(0))
        .collect();
    let fit_col = run.data.columns.len();
    let mut ws = Worksheet::new();
    ws.set_name("Data")?;
    for (j, c) in run.data.columns.iter().enumerate() {
        ws.write_string_with_format(0, j as u16, c, &f.header)?;
    }
    ws.write_string_with_format(
        0,
        fit_col as u16,
        "prediction at the final parameters",
        &f.header,
    )?;
    ws.set_column_width(fit_col as u16, 32)?;
    ws.set_freeze_panes(1, 0)?;
    let compiled = model.compile();
    let mut wsp = compiled.workspace();
    let proj = run.data.project(&model.columns).unwrap_or_default();
    for i in 0..n_data {
        let r = i + 1;
        for (j, v) in run.data.row(i).iter().enumerate() {
            ws.write_number(r as u32, j as u16, *v)?;
        }
        let name = |n: &str| -> String {
            if let Some(k) = model.columns.iter().position(|c| c == n) {
                a1(r, data_cols[k])
            } else if let Some(k) = model.params.iter().position(|p| p == n) {
                abs("Steps", last_step_row, cols.new + k)
            } else if let Some(c) = consts.get(n) {
                c.clone()
            } else {
                n.to_string()
            }
        };
        let (pred, _) = compiled.row(&mut wsp, &proj[i * nc..(i + 1) * nc], final_params);
        let pf = format!("={}", model.prediction.render(Notation::Excel, &name));
        cells.formula(&mut ws, r, fit_col, &pf, pred, &f.value)?;
    }
    if charts {
        if let Some((xc, yc)) = fit_axes(model, run.data) {
            let mut chart = Chart::new(ChartType::Scatter);
            chart
                .add_series()
                .set_name("data")
                .set_categories(("Data", 1, xc as u16, n_data as u32, xc as u16))
                .set_values(("Data", 1, yc as u16, n_data as u32, yc as u16));
            chart
                .add_series()
                .set_name("prediction at the final parameters")
                .set_categories(("Data", 1, xc as u16, n_data as u32, xc as u16))
                .set_values(("Data", 1, fit_col as u16, n_data as u32, fit_col as u16));
            chart.title().set_name("Fit against data");
            chart.x_axis().set_name(run.data.columns[xc].as_str());
            chart.y_axis().set_name(run.data.columns[yc].as_str());
            ws.insert_chart(1, fit_col as u16 + 2, &chart)?;
        }
    }
    Ok(ws)
}

/// The data column to plot across (the first model input that is not `y`) and the target
/// (`y`), by index into the data's columns.
fn fit_axes(model: &Model, data: &Dataset) -> Option<(usize, usize)> {
    let y = data.column_index("y")?;
    let x = model
        .columns
        .iter()
        .filter(|c| c.as_str() != "y" && model.prediction.mentions(c))
        .find_map(|c| data.column_index(c))?;
    Some((x, y))
}

//! The Epochs sheet: one summary row per epoch (sum and mean of the errors, the sheets'
//! "rmse" = `SQRT(SUM(err))`, the true rmse, gradient norms, parameters), each a formula
//! over its epoch's Steps rows, written as each epoch ends; and a chart of the error.

use gradsheet_train::EpochSummary;
use rust_xlsxwriter::{Chart, ChartType, Workbook, Worksheet};

use super::layout::{a1, header_row, Cells, Formats, StepCols};
use super::XlsxError;

/// Writes the Epochs sheet, one epoch at a time.
pub(crate) struct EpochsWriter {
    pub ws: Worksheet,
    /// Epoch rows written.
    pub written: usize,
    np: usize,
}

impl EpochsWriter {
    /// The sheet with its header.
    pub fn new(
        wb: &mut Workbook,
        params: &[String],
        f: &Formats,
    ) -> Result<EpochsWriter, XlsxError> {
        let np = params.len();
        let mut ws = wb.new_worksheet_with_constant_memory();
        ws.set_name("Epochs")?;
        let mut h: Vec<String> = [
            "epoch",
            "steps",
            "sum err",
            "mean err",
            "sheet rmse",
            "rmse",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        h.extend(params.iter().map(|p| format!("|de/d{p}|")));
        h.extend(params.iter().cloned());
        h.push("lr".into());
        header_row(&mut ws, 0, &h, f)?;
        ws.set_freeze_panes(1, 1)?;
        ws.set_column_range_width(0, (6 + 2 * np) as u16, 12)?;
        Ok(EpochsWriter { ws, written: 0, np })
    }

    /// The row of epoch `e`, whose steps are the Steps rows `first..=last` (sheet rows).
    pub fn epoch(
        &mut self,
        e: &EpochSummary,
        (first, last): (usize, usize),
        cols: &StepCols,
        cells: &Cells,
        f: &Formats,
    ) -> Result<(), XlsxError> {
        let np = self.np;
        let ws = &mut self.ws;
        let r = self.written + 1;
        let count = last + 1 - first;
        ws.write_number_with_format(r as u32, 0, e.epoch as f64, &f.int)?;
        ws.write_number_with_format(r as u32, 1, count as f64, &f.int)?;
        let range = |c: usize| format!("Steps!{}:{}", a1(first, c), a1(last, c));
        cells.formula(
            ws,
            r,
            2,
            &format!("=SUM({})", range(cols.err)),
            e.sum_error,
            &f.value,
        )?;
        cells.formula(
            ws,
            r,
            3,
            &format!("={}/{}", a1(r, 2), a1(r, 1)),
            e.mean_error,
            &f.value,
        )?;
        cells.formula(
            ws,
            r,
            4,
            &format!("=SQRT({})", a1(r, 2)),
            e.sheet_rmse,
            &f.value,
        )?;
        cells.formula(ws, r, 5, &format!("=SQRT({})", a1(r, 3)), e.rmse, &f.value)?;
        for i in 0..np {
            cells.formula(
                ws,
                r,
                6 + i,
                &format!("=SQRT(SUMSQ({}))", range(cols.grads + i)),
                e.grad_norms[i],
                &f.value,
            )?;
            cells.formula(
                ws,
                r,
                6 + np + i,
                &format!("=Steps!{}", a1(last, cols.new + i)),
                e.params[i],
                &f.param,
            )?;
        }
        cells.formula(ws, r, 6 + 2 * np, "=lr", e.lr, &f.small)?;
        self.written += 1;
        Ok(())
    }

    /// The chart of the error by epoch, once every row is written.
    pub fn chart(&mut self) -> Result<(), XlsxError> {
        let ne = self.written;
        if ne == 0 {
            return Ok(());
        }
        let mut chart = Chart::new(ChartType::Line);
        chart
            .add_series()
            .set_name("mean error")
            .set_categories(("Epochs", 1, 0, ne as u32, 0))
            .set_values(("Epochs", 1, 3, ne as u32, 3));
        chart.title().set_name("Error by epoch");
        chart.x_axis().set_name("epoch");
        chart
            .y_axis()
            .set_name("mean error (log scale)")
            .set_log_base(10);
        self.ws.insert_chart(1, (8 + 2 * self.np) as u16, &chart)?;
        Ok(())
    }
}

//! The Steps sheet (one row per step, each reading the row before: the data row, the
//! parameters used, the prediction, the error, the derivatives, the optimizer's state and
//! the updated parameters) and, for mini-batches, the Rows sheet it averages. Both are
//! written row by row as the run goes.

use std::collections::HashMap;

use gradsheet_engine::diff::shown_derivative;
use gradsheet_engine::{Expr, Model, Notation, Scheme, Workspace};
use gradsheet_train::{rng, Gradient, Optimizer, State, StepView, Trainer};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rust_xlsxwriter::utility::row_col_to_cell_absolute;
use rust_xlsxwriter::{Workbook, Worksheet};

use super::layout::{a1, header_row, result_text, Cells, EvalCols, Formats, StepCols};
use super::{RunSetup, XlsxError};

/// The cells one step's update reads and writes, for one parameter.
struct UpdateCells<'a> {
    /// The parameter before the update.
    p: &'a str,
    /// Its gradient.
    g: &'a str,
    /// The step number `t`.
    t: &'a str,
    /// Each state variable of the previous row.
    prev: Vec<String>,
    /// Each state variable of this row.
    cur: Vec<String>,
    /// Whether this step is the first of an epoch after the first (the workbook adagrad's
    /// rates change there).
    new_epoch: bool,
}

/// `lerp(a, b, w)` as ATen computes it, with `w` given as a formula whose value's
/// magnitude decides the branch.
fn lerp_formula(a: &str, b: &str, w: &str, w_value: f64) -> String {
    if w_value.abs() < 0.5 {
        format!("{a}+{w}*({b}-{a})")
    } else {
        format!("{b}-({b}-{a})*(1-{w})")
    }
}

/// The state formulas (storage order) and the new parameter's formula for one parameter,
/// in the same operation order as [`Optimizer::step`].
fn update_formulas(opt: &Optimizer, c: &UpdateCells<'_>) -> (Vec<String>, String) {
    let (p, g, t) = (c.p, c.g, c.t);
    let prev = |k: usize| c.prev[k].as_str();
    let cur = |k: usize| c.cur[k].as_str();
    let l2 = |wd: f64| {
        if wd != 0.0 {
            format!("({g}+weight_decay*{p})")
        } else {
            g.to_string()
        }
    };
    match *opt {
        Optimizer::Sgd { .. } => (vec![], format!("={p}-{g}*lr")),
        Optimizer::Momentum { .. } => (
            vec![format!("={}*beta+(1-beta)*{g}", prev(0))],
            format!("={p}-{}*lr", cur(0)),
        ),
        Optimizer::Rmsprop { .. } => (
            vec![format!("={}*beta+(1-beta)*{g}^2", prev(0))],
            format!("={p}-{g}*lr/SQRT({})", prev(0)),
        ),
        Optimizer::Adam { .. } => (
            vec![
                format!("={}*beta1+(1-beta1)*{g}", prev(0)),
                format!("={}*beta2+(1-beta2)*{g}^2", prev(1)),
            ],
            format!("={p}-{}*lr/SQRT({})", cur(0), cur(1)),
        ),
        Optimizer::Adagrad { .. } => {
            let (r, sq) = if c.new_epoch {
                (format!("=SQRT({})/n_rows", prev(1)), format!("={g}^2"))
            } else {
                (format!("={}", prev(0)), format!("={}+{g}^2", prev(1)))
            };
            (vec![r, sq], format!("={p}-{g}*(lr/{})", cur(0)))
        }
        Optimizer::TorchSgd {
            momentum,
            weight_decay,
            nesterov,
            ..
        } => {
            let d = l2(weight_decay);
            if momentum != 0.0 {
                let buf = format!("=IF({t}=1,{d},{}*momentum+(1-dampening)*{d})", prev(0));
                let step = if nesterov {
                    format!("({d}+momentum*{})", cur(0))
                } else {
                    cur(0).to_string()
                };
                (vec![buf], format!("={p}+-lr*{step}"))
            } else {
                (vec![], format!("={p}+-lr*{d}"))
            }
        }
        Optimizer::TorchAdagrad { weight_decay, .. } => {
            let g2 = l2(weight_decay);
            (
                vec![format!("={}+{g2}*{g2}", prev(0))],
                format!(
                    "={p}+-(lr/(1+({t}-1)*lr_decay))*{g2}/(SQRT({})+eps)",
                    cur(0)
                ),
            )
        }
        Optimizer::TorchRmsprop {
            alpha,
            weight_decay,
            momentum,
            centered,
            ..
        } => {
            let g2 = l2(weight_decay);
            let mut states = vec![format!("={}*alpha+(1-alpha)*{g2}*{g2}", prev(0))];
            let sq = cur(0);
            let has_buf = momentum > 0.0;
            let ga_k = if has_buf { 2 } else { 1 };
            let avg = if centered {
                format!("(SQRT({sq}-{ga}*{ga})+eps)", ga = cur(ga_k))
            } else {
                format!("(SQRT({sq})+eps)")
            };
            let new = if has_buf {
                states.push(format!("={}*momentum+{g2}/{avg}", prev(1)));
                format!("={p}+-lr*{}", cur(1))
            } else {
                format!("={p}+-lr*{g2}/{avg}")
            };
            if centered {
                states.push(format!(
                    "={}",
                    lerp_formula(prev(ga_k), &g2, "(1-alpha)", 1.0 - alpha)
                ));
            }
            (states, new)
        }
        Optimizer::TorchAdam {
            beta1,
            weight_decay,
            amsgrad,
            decoupled,
            ..
        } => {
            let g2 = if decoupled {
                g.to_string()
            } else {
                l2(weight_decay)
            };
            let mut states = vec![
                format!("={}", lerp_formula(prev(0), &g2, "(1-beta1)", 1.0 - beta1)),
                format!("={}*beta2+(1-beta2)*{g2}*{g2}", prev(1)),
            ];
            let v_used = if amsgrad {
                states.push(format!("=MAX({},{})", prev(2), cur(1)));
                cur(2)
            } else {
                cur(1)
            };
            let base = if decoupled {
                format!("{p}*(1-lr*weight_decay)")
            } else {
                p.to_string()
            };
            let new = format!(
                "={base}+-(lr/(1-beta1^{t}))*{}/(SQRT({v_used})/SQRT(1-beta2^{t})+eps)",
                cur(0)
            );
            (states, new)
        }
    }
}

/// The formula of the initial value of state variable `k` (row "start"), and its value.
fn initial_state(opt: &Optimizer, k: usize, value: f64) -> String {
    // Where the state starts at a hyperparameter, refer to its named cell so that the
    // workbook stays live; other state starts at a number (usually 0).
    match *opt {
        Optimizer::Adagrad { r0, .. } if k == 0 && value == r0 => "=r0".into(),
        Optimizer::TorchAdagrad {
            initial_accumulator_value: v0,
            ..
        } if k == 0 && value == v0 => "=initial_accumulator_value".into(),
        _ => format!("={}", result_text(value)),
    }
}

/// A finite difference of the error with respect to `param`, with step named `h`, as an
/// Excel formula in the order [`Trainer::row_fd`] computes it.
fn fd_formula(
    model: &Model,
    param: &str,
    scheme: Scheme,
    h: &str,
    err_cell: &str,
    name: &dyn Fn(&str) -> String,
) -> String {
    let shifted = |sign: char| {
        let p = name(param);
        model.error.render(Notation::Excel, &|n: &str| {
            if n == param {
                format!("({p}{sign}{h})")
            } else {
                name(n)
            }
        })
    };
    match scheme {
        Scheme::Forward => format!("=({}-{err_cell})/{h}", shifted('+')),
        Scheme::Backward => format!("=({err_cell}-{})/{h}", shifted('-')),
        Scheme::Central => format!("=({}-{})/(2*{h})", shifted('+'), shifted('-')),
    }
}

/// The values of one evaluated row.
struct EvalValues<'v> {
    pred: f64,
    err: f64,
    grads: &'v [f64],
    fd: Option<&'v [f64]>,
}

/// Writes the prediction, the error, the gradient and the finite-difference estimates of
/// the row `r`, whose inputs and parameters are already in `cols.inputs..` and `cols.params..`.
#[allow(clippy::too_many_arguments)]
fn write_eval(
    ws: &mut Worksheet,
    cells: &Cells,
    f: &Formats,
    run: &RunSetup<'_>,
    consts: &HashMap<String, String>,
    r: usize,
    cols: EvalCols,
    v: &EvalValues<'_>,
    derivatives: &[Expr],
) -> Result<(), XlsxError> {
    let model = run.model;
    let pred_cell = a1(r, cols.pred);
    let err_cell = a1(r, cols.err);
    let name = |n: &str| -> String {
        if let Some(i) = model.columns.iter().position(|c| c == n) {
            a1(r, cols.inputs + i)
        } else if let Some(i) = model.params.iter().position(|p| p == n) {
            a1(r, cols.params + i)
        } else if let Some(c) = consts.get(n) {
            c.clone()
        } else if n == gradsheet_engine::PRED {
            pred_cell.clone()
        } else {
            n.to_string()
        }
    };
    let pred_f = format!("={}", model.prediction.render(Notation::Excel, &name));
    cells.formula(ws, r, cols.pred, &pred_f, v.pred, &f.value)?;
    let err_f = format!("={}", model.loss.render(Notation::Excel, &name));
    cells.formula(ws, r, cols.err, &err_f, v.err, &f.value)?;
    for (i, p) in model.params.iter().enumerate() {
        let gf = match run.config.gradient {
            Gradient::Auto => match derivatives.get(i) {
                Some(d) => format!("={}", d.render(Notation::Excel, &name)),
                None => format!("={}", model.derivative(p).render(Notation::Excel, &name)),
            },
            Gradient::Fd { scheme, .. } => fd_formula(model, p, scheme, "grad_h", &err_cell, &name),
        };
        cells.formula(ws, r, cols.grads + i, &gf, v.grads[i], &f.value)?;
    }
    if let (Some((scheme, _)), Some(fd)) = (run.config.show_fd, v.fd) {
        for (i, p) in model.params.iter().enumerate() {
            let ff = fd_formula(model, p, scheme, "fd_h", &err_cell, &name);
            cells.formula(ws, r, cols.fd + i, &ff, fd[i], &f.value)?;
        }
    }
    Ok(())
}

/// Writes the Steps (and Rows) sheets, one step at a time.
pub(crate) struct StepsWriter {
    pub steps: Worksheet,
    pub rows: Option<Worksheet>,
    pub cols: StepCols,
    rcols: EvalCols,
    data_cols: Vec<usize>,
    nv: usize,
    batches: Batches,
    /// For mini-batches: the model against the data, to evaluate each row of a batch.
    trainer: Option<(Trainer, Workspace)>,
    g_row: Vec<f64>,
    fd_row: Vec<f64>,
    scratch: Vec<f64>,
    /// The next row of the Rows sheet.
    rows_r: usize,
    /// Step rows written.
    pub written: usize,
    prev_epoch: usize,
    /// The new parameters of the last step written.
    pub last_new_params: Vec<f64>,
    /// ∂e/∂p per parameter, for the gradient columns' formulas (exact gradients only),
    /// derived once rather than on every row.
    derivatives: Vec<Expr>,
}

impl StepsWriter {
    /// The sheets' headers and the start row (the initial parameters and state).
    pub fn new(
        run: &RunSetup<'_>,
        wb: &mut Workbook,
        layout: &gradsheet_train::Layout,
        init_refs: &[String],
        cells: &Cells,
        f: &Formats,
    ) -> Result<StepsWriter, XlsxError> {
        let model = run.model;
        let derivatives = match run.config.gradient {
            Gradient::Auto => model
                .params
                .iter()
                .map(|p| {
                    shown_derivative(&model.error, p).map_err(|reason| {
                        XlsxError::DerivativeTooLarge {
                            param: p.clone(),
                            reason,
                        }
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            Gradient::Fd { .. } => Vec::new(),
        };
        let (np, nc) = (model.params.len(), model.columns.len());
        let nv = layout.state_vars.len();
        let batches = Batches::new(run);
        let mini = batches.batch > 1;
        let cols = StepCols::new(nc, np, nv, layout.has_fd);
        let rcols = EvalCols::rows_sheet(nc, np);
        let rows = if mini {
            let mut ws = wb.new_worksheet_with_constant_memory();
            ws.set_name("Rows")?;
            // A step row's evaluation, without the state and the new parameters.
            let eval = layout.headers();
            let keep = cols.fd - cols.inputs + if layout.has_fd { np } else { 0 };
            let mut h: Vec<String> = vec!["step".into(), "data row".into()];
            h.extend(eval.into_iter().take(keep));
            header_row(&mut ws, 0, &h, f)?;
            ws.set_freeze_panes(1, 2)?;
            Some(ws)
        } else {
            None
        };
        let mut ws = wb.new_worksheet_with_constant_memory();
        ws.set_name("Steps")?;
        let mut h: Vec<String> = vec!["step".into(), "epoch".into(), "data row".into()];
        h.extend(layout.headers());
        header_row(&mut ws, 0, &h, f)?;
        ws.set_freeze_panes(1, 3)?;
        ws.set_column_width(0, 7)?;
        ws.set_column_width(1, 7)?;
        ws.set_column_width(2, 9)?;
        ws.set_column_range_width(3, (cols.new + np) as u16, 12)?;
        // The start row: the initial parameters and optimizer state.
        ws.write_string(1, 0, "start")?;
        let st0 = State::new(&run.config.optimizer, np);
        for (i, (r, v)) in init_refs.iter().zip(run.init).enumerate() {
            cells.formula(&mut ws, 1, cols.new + i, &format!("={r}"), *v, &f.param)?;
        }
        for k in 0..st0.vars.len() {
            for i in 0..np {
                let v = st0.values[k * np + i];
                cells.formula(
                    &mut ws,
                    1,
                    cols.state + k * np + i,
                    &initial_state(&run.config.optimizer, k, v),
                    v,
                    &f.small,
                )?;
            }
        }
        let trainer = if mini {
            let t =
                Trainer::new(model, run.data).map_err(|e| XlsxError::Mismatch(e.to_string()))?;
            let w = t.compiled.workspace();
            Some((t, w))
        } else {
            None
        };
        Ok(StepsWriter {
            steps: ws,
            rows,
            cols,
            rcols,
            data_cols: model
                .columns
                .iter()
                .map(|c| run.data.column_index(c).unwrap_or(0))
                .collect(),
            nv,
            batches,
            trainer,
            g_row: vec![0.0; np],
            fd_row: vec![0.0; np],
            scratch: vec![0.0; np],
            rows_r: 1,
            written: 0,
            prev_epoch: 0,
            last_new_params: run.init.to_vec(),
            derivatives,
        })
    }

    /// Writes one step's row (and its batch's rows).
    pub fn step(
        &mut self,
        run: &RunSetup<'_>,
        consts: &HashMap<String, String>,
        cells: &Cells,
        f: &Formats,
        s: &StepView<'_>,
    ) -> Result<(), XlsxError> {
        let np = run.model.params.len();
        let nc = run.model.columns.len();
        let cols = self.cols;
        let r = self.written + 2;
        let batch = self.batches.next(s)?;
        let ws = &mut self.steps;
        ws.write_number_with_format(r as u32, 0, s.step as f64, &f.int)?;
        ws.write_number_with_format(r as u32, 1, s.epoch as f64, &f.int)?;
        ws.write_number_with_format(r as u32, 2, s.row as f64 + 1.0, &f.int)?;
        for i in 0..np {
            cells.formula(
                ws,
                r,
                cols.params + i,
                &format!("={}", a1(r - 1, cols.new + i)),
                s.params[i],
                &f.param,
            )?;
        }
        match (self.rows.as_mut(), self.trainer.as_mut()) {
            (Some(rows_ws), Some((t, wsp))) => {
                let rcols = self.rcols;
                let first = self.rows_r;
                for &dr in batch {
                    let rr = self.rows_r;
                    rows_ws.write_number_with_format(rr as u32, 0, s.step as f64, &f.int)?;
                    rows_ws.write_number_with_format(rr as u32, 1, dr as f64 + 1.0, &f.int)?;
                    let xrow = t.row(dr as usize);
                    for (k, &dc) in self.data_cols.iter().enumerate() {
                        cells.formula(
                            rows_ws,
                            rr,
                            rcols.inputs + k,
                            &format!("=Data!{}", a1(dr as usize + 1, dc)),
                            xrow[k],
                            &f.value,
                        )?;
                    }
                    for i in 0..np {
                        let pf = format!(
                            "=Steps!{}",
                            row_col_to_cell_absolute(r as u32, (cols.params + i) as u16)
                        );
                        cells.formula(rows_ws, rr, rcols.params + i, &pf, s.params[i], &f.param)?;
                    }
                    let (pred, err) = match run.config.gradient {
                        Gradient::Auto => t.compiled.row_grad(wsp, xrow, s.params, &mut self.g_row),
                        Gradient::Fd { scheme, h } => t.row_fd(
                            wsp,
                            xrow,
                            s.params,
                            scheme,
                            h,
                            &mut self.g_row,
                            &mut self.scratch,
                        ),
                    };
                    let fd = match run.config.show_fd {
                        Some((scheme, h)) => {
                            t.row_fd(
                                wsp,
                                xrow,
                                s.params,
                                scheme,
                                h,
                                &mut self.fd_row,
                                &mut self.scratch,
                            );
                            Some(self.fd_row.as_slice())
                        }
                        None => None,
                    };
                    let v = EvalValues {
                        pred,
                        err,
                        grads: &self.g_row,
                        fd,
                    };
                    write_eval(
                        rows_ws,
                        cells,
                        f,
                        run,
                        consts,
                        rr,
                        rcols,
                        &v,
                        &self.derivatives,
                    )?;
                    self.rows_r += 1;
                }
                let last = self.rows_r - 1;
                let m = batch.len();
                let mean = |c: usize| format!("=SUM(Rows!{}:{})/{m}", a1(first, c), a1(last, c));
                for k in 0..nc {
                    cells.formula(
                        ws,
                        r,
                        cols.inputs + k,
                        &format!("=Rows!{}", a1(first, rcols.inputs + k)),
                        s.inputs[k],
                        &f.value,
                    )?;
                }
                cells.formula(
                    ws,
                    r,
                    cols.pred,
                    &format!("=Rows!{}", a1(first, rcols.pred)),
                    s.pred,
                    &f.value,
                )?;
                cells.formula(ws, r, cols.err, &mean(rcols.err), s.error, &f.value)?;
                for i in 0..np {
                    cells.formula(
                        ws,
                        r,
                        cols.grads + i,
                        &mean(rcols.grads + i),
                        s.grads[i],
                        &f.value,
                    )?;
                }
                if let Some(fd) = s.fd {
                    for (i, v) in fd.iter().enumerate() {
                        cells.formula(ws, r, cols.fd + i, &mean(rcols.fd + i), *v, &f.value)?;
                    }
                }
            }
            _ => {
                for (k, &dc) in self.data_cols.iter().enumerate() {
                    cells.formula(
                        ws,
                        r,
                        cols.inputs + k,
                        &format!("=Data!{}", a1(s.row + 1, dc)),
                        s.inputs[k],
                        &f.value,
                    )?;
                }
                let v = EvalValues {
                    pred: s.pred,
                    err: s.error,
                    grads: s.grads,
                    fd: s.fd,
                };
                write_eval(
                    ws,
                    cells,
                    f,
                    run,
                    consts,
                    r,
                    cols.eval,
                    &v,
                    &self.derivatives,
                )?;
            }
        }
        // The optimizer's update.
        let new_epoch = self.written > 0 && self.prev_epoch != s.epoch;
        let t_cell = a1(r, 0);
        let nv = self.nv;
        for i in 0..np {
            let p = a1(r, cols.params + i);
            let g = a1(r, cols.grads + i);
            let uc = UpdateCells {
                p: &p,
                g: &g,
                t: &t_cell,
                prev: (0..nv)
                    .map(|k| a1(r - 1, cols.state + k * np + i))
                    .collect(),
                cur: (0..nv).map(|k| a1(r, cols.state + k * np + i)).collect(),
                new_epoch,
            };
            let (states, new) = update_formulas(&run.config.optimizer, &uc);
            for (k, sf) in states.iter().enumerate() {
                cells.formula(
                    ws,
                    r,
                    cols.state + k * np + i,
                    sf,
                    s.state[k * np + i],
                    &f.small,
                )?;
            }
            cells.formula(ws, r, cols.new + i, &new, s.new_params[i], &f.param)?;
        }
        self.prev_epoch = s.epoch;
        self.written += 1;
        self.last_new_params.copy_from_slice(s.new_params);
        Ok(())
    }
}

/// The data rows of each step, in order: from the configuration's batch size and
/// shuffle, checked against the step's own first row.
struct Batches {
    batch: usize,
    per_epoch: usize,
    order: Vec<u32>,
    rng: Option<ChaCha8Rng>,
    epoch: usize,
    next: usize,
    one: [u32; 1],
}

impl Batches {
    fn new(run: &RunSetup<'_>) -> Batches {
        let n = run.data.len();
        let batch = run.config.batch_rows(n);
        Batches {
            batch,
            per_epoch: n.div_ceil(batch.max(1)),
            order: (0..n as u32).collect(),
            rng: run.config.shuffle.map(ChaCha8Rng::seed_from_u64),
            epoch: 0,
            next: 0,
            one: [0],
        }
    }

    /// The rows of step `s`.
    fn next(&mut self, s: &StepView<'_>) -> Result<&[u32], XlsxError> {
        if self.batch == 1 {
            // Per-sample steps: the step names its row, shuffled or not.
            self.one = [s.row as u32];
            return Ok(&self.one);
        }
        if self.epoch == 0 || self.next == self.per_epoch {
            self.epoch += 1;
            self.next = 0;
            if let Some(r) = self.rng.as_mut() {
                rng::shuffle(r, &mut self.order);
            }
        }
        let n = self.order.len();
        let b = self.next;
        let rows = &self.order[b * self.batch..((b + 1) * self.batch).min(n)];
        if s.epoch != self.epoch || s.row as u32 != rows[0] {
            return Err(XlsxError::Mismatch(format!(
                "step {} is data row {} of epoch {}, expected row {} of epoch {}",
                s.step,
                s.row + 1,
                s.epoch,
                rows[0] + 1,
                self.epoch
            )));
        }
        self.next += 1;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lerp_branches() {
        assert_eq!(
            lerp_formula("A1", "B1", "(1-beta1)", 0.1),
            "A1+(1-beta1)*(B1-A1)"
        );
        assert_eq!(
            lerp_formula("A1", "B1", "(1-alpha)", 0.7),
            "B1-(B1-A1)*(1-(1-alpha))"
        );
    }
}

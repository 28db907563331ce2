//! `/api/sheet`: a graddesc workbook sheet replayed with its macros (Reset, the typed
//! cells, one `onestep` per epoch), cell for cell as Excel computes it.

use std::time::Instant;

use gradsheet_engine::{Dataset, Model, Roles};
use gradsheet_train::graddesc::{self, Action, Sheet, Workbook};

use super::{contours::contours, group, light_surface, trainer, LIGHT_STEPS};
use crate::dto::*;
use crate::work::{Deadline, Lane, Work};
use crate::{ApiError, Limits};

impl Work for SheetSpec {
    fn lane(&self, _: &Limits) -> Lane {
        let steps = self.onesteps.saturating_mul(graddesc::N_ROWS);
        Lane::light_if(
            steps <= LIGHT_STEPS && light_surface(self.contours.as_ref(), graddesc::N_ROWS),
        )
    }
}

/// The answer of `/api/sheet`: a graddesc sheet replayed with its macros, cell for cell.
pub fn sheet(spec: &SheetSpec, lim: &Limits, dl: &Deadline) -> Result<SheetOut, ApiError> {
    let t0 = Instant::now();
    let (wb, sh) = checked(spec, lim)?;
    let (view, epochs) = replay(wb, sh, spec)?;
    let shown = spec.view.unwrap_or(spec.onesteps).min(spec.onesteps);
    dl.check()?;
    let contours = match &spec.contours {
        Some(c) => {
            let m = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"]))
                .map_err(|e| ApiError::formula("model", &e))?;
            let trainer = trainer(&m, &Dataset::graddesc())?;
            let path: Vec<Vec<f64>> = epochs.iter().map(|e| vec![e.a, e.b]).collect();
            let at = path.last().cloned().unwrap_or_else(|| vec![1.0, 1.0]);
            Some(contours(&trainer, c, &[&path], &at, lim)?)
        }
        None => None,
    };
    Ok(SheetOut {
        contours,
        name: view.name.to_string(),
        columns: view
            .columns
            .iter()
            .map(|c| SheetColumn {
                letter: c.letter.into(),
                header: c.header.into(),
                meaning: c.meaning.into(),
                formula: c.formula.into(),
            })
            .collect(),
        first_row: view.first_row,
        view: shown,
        rows: view.rows.iter().map(|r| nums(r)).collect(),
        cells: view
            .cells
            .iter()
            .map(|c| (c.addr.clone(), c.label.to_string(), Num(c.value)))
            .collect(),
        notes: view.notes.clone(),
        epochs: epochs
            .iter()
            .enumerate()
            .map(|(i, e)| SheetEpoch {
                epoch: i,
                after: e.after.clone(),
                a: Num(e.a),
                b: Num(e.b),
                lr: Num(e.lr),
                sheet_rmse: Num(e.sheet_rmse),
            })
            .collect(),
        compute_ms: t0.elapsed().as_secs_f64() * 1e3,
    })
}

/// The workbook and sheet asked for, once the settings are checked.
fn checked(spec: &SheetSpec, lim: &Limits) -> Result<(Workbook, Sheet), ApiError> {
    let wb: Workbook = spec
        .workbook
        .parse()
        .map_err(|e: String| ApiError::bad(e, "workbook"))?;
    let sh: Sheet = spec
        .sheet
        .parse()
        .map_err(|e: String| ApiError::bad(e, "sheet"))?;
    if spec.onesteps.saturating_mul(graddesc::N_ROWS) > lim.max_steps {
        return Err(ApiError::bad(
            format!(
                "{} onesteps would take more than {} steps",
                spec.onesteps,
                group(lim.max_steps)
            ),
            "epochs",
        ));
    }
    settings(spec)
        .check(sh)
        .map_err(|e| ApiError::bad(e.message, e.field))?;
    Ok((wb, sh))
}

/// The settings a learner typed, in the sheet's terms.
fn settings(spec: &SheetSpec) -> graddesc::Settings {
    graddesc::Settings {
        lr: spec.lr,
        beta1: spec.beta1,
        beta2: spec.beta2,
        a: spec.a,
        b: spec.b,
    }
}

/// Reset, then the cells a learner types, then one onestep per epoch: the sheet after
/// `spec.view` onesteps (default: all of them; 0 is the sheet as Reset and the typed
/// cells leave it), and every pass from that state on, the first being that state.
fn replay(
    wb: Workbook,
    sh: Sheet,
    spec: &SheetSpec,
) -> Result<(graddesc::SheetView, Vec<graddesc::Epoch>), ApiError> {
    let bad_sheet = |e: graddesc::NoSuchSheet| ApiError::bad(e.to_string(), "sheet");
    // The β's typed before Reset (which keeps them), then Reset, then the cells a learner
    // types, then one onestep per epoch.
    let mut start = graddesc::initial(wb, sh);
    settings(spec).before_reset(&mut start);
    let reset = graddesc::replay_actions(wb, sh, start, &[Action::Reset]).map_err(bad_sheet)?;
    let mut st = reset.state.clone();
    let mut typed = Vec::new();
    for (name, given, cell) in [
        ("lr", spec.lr, &mut st.lr),
        ("a", spec.a, &mut st.a),
        ("b", spec.b, &mut st.b),
    ] {
        if let Some(v) = given {
            if *cell != v {
                typed.push(format!("{name} = {}", gradsheet_train::fmt_num(v)));
            }
            *cell = v;
        }
    }
    let all = graddesc::replay_actions(wb, sh, st.clone(), &vec![Action::Onestep; spec.onesteps])
        .map_err(bad_sheet)?;
    let mut epochs = all.epochs;
    // The replay from a typed state records that state as its first pass: the sheet as
    // Reset (and the cells typed after it) leave it.
    if let Some(first) = epochs.first_mut() {
        first.after = if typed.is_empty() {
            "Reset".into()
        } else {
            format!("Reset, then {}", typed.join(", "))
        };
    }
    let view = match spec.view {
        Some(k) if k < spec.onesteps => {
            graddesc::replay_actions(wb, sh, st, &vec![Action::Onestep; k])
                .map_err(bad_sheet)?
                .view
        }
        _ => all.view,
    };
    Ok((view, epochs))
}

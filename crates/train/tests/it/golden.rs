//! Every graddesc sheet of both workbooks against Excel's cached values in
//! `tests/data/golden` (rows, inputs and summary cells), and the macro replays against the
//! saved inputs.

use std::collections::BTreeMap;

use gradsheet_train::graddesc::{self, replay, Sheet, SheetState, SheetView, Workbook};

/// The golden values (provenance in its README.md).
const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden");

/// A sheet's grid: address → cell text.
fn grid(tag: &str, tab: &str) -> BTreeMap<String, String> {
    let path = format!(
        "{GOLDEN}/grid/{tag}__graddesc__{}.csv",
        tab.replace(' ', "_")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut lines = text.lines();
    let letters: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let mut out = BTreeMap::new();
    for line in lines {
        // No cell of these sheets holds a comma (checked by the column count).
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), letters.len(), "{path}: {line}");
        for (l, c) in letters.iter().zip(&cells).skip(1) {
            if !c.is_empty() {
                out.insert(format!("{l}{}", cells[0]), c.to_string());
            }
        }
    }
    out
}

/// A row table: (headers, rows of (excel row, cells)).
fn row_table(tag: &str, tab: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let path = format!("{GOLDEN}/{tag}__graddesc__{}.csv", tab.replace(' ', "_"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut lines = text.lines();
    let headers = lines.next().unwrap().split(',').map(String::from).collect();
    (
        headers,
        lines
            .map(|l| l.split(',').map(String::from).collect())
            .collect(),
    )
}

/// Cells within tolerance but not bit-identical (Excel's last-bit anomalies, docs/workbooks.md §0.3).
static INEXACT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn close(ours: f64, theirs: f64) -> bool {
    if ours != theirs {
        INEXACT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    (ours - theirs).abs() <= 1e-12 * theirs.abs().max(1.0)
}

/// Compares every numeric cell of the grid with the view; returns the count compared.
fn check_grid(wb: Workbook, view: &SheetView, what: &str) -> usize {
    let g = grid(wb.tag(), view.name);
    let mut failures = Vec::new();
    let mut n = 0;
    for (addr, text) in &g {
        // Every numeric cell is compared (text cells are labels); nothing is skipped.
        let Ok(v) = text.parse::<f64>() else { continue };
        n += 1;
        match view.cell(addr) {
            None => failures.push(format!("{addr}: golden {v}, not produced")),
            Some(ours) if !close(ours, v) => {
                failures.push(format!("{addr}: golden {v:?}, ours {ours:?}"))
            }
            _ => {}
        }
    }
    // And nothing we produce lands on a blank or text cell.
    for c in &view.cells {
        if g.get(&c.addr).and_then(|t| t.parse::<f64>().ok()).is_none() {
            failures.push(format!(
                "{}: produced {} but the sheet has no number there",
                c.addr, c.value
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} {} ({what}):\n{}",
        wb.year(),
        view.name,
        failures.join("\n")
    );
    n
}

fn check_row_table(wb: Workbook, view: &SheetView) -> usize {
    let (headers, rows) = row_table(wb.tag(), view.name);
    assert_eq!(rows.len(), 29);
    let mut n = 0;
    for (h_i, h) in headers.iter().enumerate().skip(1) {
        let ci = view.columns.iter().position(|c| c.header == h.as_str());
        let Some(ci) = ci else {
            // 2016 momentum has an empty L column.
            assert!(
                rows.iter().all(|r| r[h_i].is_empty()),
                "{} {}: no column '{h}'",
                wb.year(),
                view.name
            );
            continue;
        };
        for r in &rows {
            let excel_row: usize = r[0].parse().unwrap();
            let v: f64 = r[h_i].parse().unwrap();
            let ours = view.rows[excel_row - 4][ci];
            assert!(
                close(ours, v),
                "{} {} {h} row {excel_row}: golden {v:?}, ours {ours:?}",
                wb.year(),
                view.name
            );
            n += 1;
        }
    }
    n
}

/// The sheet's typed cells as saved, read back from its grid.
fn saved_state(wb: Workbook, sheet: Sheet) -> SheetState {
    let g = grid(wb.tag(), sheet.tab(wb));
    let num = |a: &str| g[a].parse::<f64>().unwrap();
    let lr = num(if sheet == Sheet::Basic { "F1" } else { "D2" });
    let state = match sheet {
        Sheet::Basic => vec![],
        Sheet::Momentum | Sheet::Rmsprop => vec![num("J33"), num("K33")],
        Sheet::Adam | Sheet::AdamAnn => vec![num("J33"), num("K33"), num("L33"), num("M33")],
        Sheet::Eve => vec![num("K33"), num("L33"), num("M33"), num("N33")],
        Sheet::Adagrad | Sheet::AdagradAnn => vec![num("F1"), num("G1")],
    };
    let history = (38..43)
        .filter_map(|r| g.get(&format!("C{r}")).and_then(|t| t.parse().ok()))
        .collect();
    // The β cells as saved (the second is unused where a sheet has one β).
    let betas = match sheet {
        Sheet::Momentum | Sheet::Rmsprop => [num("J1"), f64::NAN],
        Sheet::Adam | Sheet::AdamAnn => [num("J1"), num("L1")],
        Sheet::Eve => [num("K1"), num("M1")],
        Sheet::Basic | Sheet::Adagrad | Sheet::AdagradAnn => [f64::NAN; 2],
    };
    SheetState {
        b: num("C1"),
        a: num("C2"),
        lr,
        betas,
        state,
        prev_grad2: (sheet == Sheet::AdamAnn).then(|| num("N3")),
        prev_step: (sheet == Sheet::AdagradAnn).then(|| num("J1")),
        eve: (sheet == Sheet::Eve).then(|| [num("F34"), num("F35"), num("F37")]),
        history,
    }
}

fn all_sheets() -> Vec<(Workbook, Sheet)> {
    [Workbook::Y2018, Workbook::Y2016]
        .iter()
        .flat_map(|wb| wb.sheets().iter().map(move |s| (*wb, *s)))
        .collect()
}

#[test]
fn every_sheet_from_its_saved_inputs_matches_every_golden_cell() {
    let mut total = 0;
    for (wb, sheet) in all_sheets() {
        let view = graddesc::view(wb, sheet, &saved_state(wb, sheet)).unwrap();
        total += check_grid(wb, &view, "from the saved inputs");
        total += check_row_table(wb, &view);
    }
    eprintln!(
        "golden: {total} cells compared (grids and row tables of 13 sheets), {} not bit-identical",
        INEXACT.load(std::sync::atomic::Ordering::Relaxed)
    );
    assert!(total > 4000, "{total}");
}

#[test]
fn every_sheet_replayed_by_its_macros_matches_every_golden_cell() {
    for (wb, sheet) in all_sheets() {
        let r = replay(wb, sheet).unwrap();
        check_grid(wb, &r.view, "replayed");
        check_row_table(wb, &r.view);
    }
}

/// The replays land on the saved inputs bit for bit (adam_ann with Excel's one-ulp
/// anomaly after the 3rd onestep, which is part of its documented sequence).
#[test]
fn macro_replays_reproduce_the_saved_parameters_and_state() {
    for (wb, sheet) in all_sheets() {
        let saved = saved_state(wb, sheet);
        let r = replay(wb, sheet).unwrap();
        let got = &r.state;
        let mut pairs = vec![
            ("C1", got.b, saved.b),
            ("C2", got.a, saved.a),
            ("lr", got.lr, saved.lr),
        ];
        for k in 0..sheet.betas() {
            pairs.push(("β", got.betas[k], saved.betas[k]));
        }
        for (i, (g, s)) in got.state.iter().zip(&saved.state).enumerate() {
            pairs.push((sheet.state_names()[i], *g, *s));
        }
        if let (Some(g), Some(s)) = (got.prev_grad2, saved.prev_grad2) {
            pairs.push(("N3", g, s));
        }
        if let (Some(g), Some(s)) = (got.prev_step, saved.prev_step) {
            pairs.push(("J1", g, s));
        }
        for (i, (g, s)) in got.history.iter().zip(&saved.history).enumerate() {
            pairs.push((["C38", "C39", "C40", "C41", "C42"][i], *g, *s));
        }
        assert_eq!(
            got.history.len(),
            saved.history.len(),
            "{} {sheet} history",
            wb.year()
        );
        let ulps = 0;
        for (what, g, s) in pairs {
            let d = (g.to_bits() as i64 - s.to_bits() as i64).unsigned_abs();
            assert!(
                d <= ulps,
                "{} {sheet} {what}: replay {g:?}, saved {s:?} ({d} ulps)",
                wb.year()
            );
        }
    }
}

#[test]
fn replay_sequences_are_the_documented_ones() {
    use graddesc::Action::*;
    let r = replay(Workbook::Y2018, Sheet::Adam).unwrap();
    assert_eq!(r.actions, [Reset, Run, Run, Run, SetLr(0.1), Run]);
    assert_eq!(r.epochs.len(), 21); // the Reset pass and 20 onesteps
    let ann = replay(Workbook::Y2016, Sheet::AdagradAnn).unwrap();
    assert_eq!(ann.state.lr, 1.0 / 256.0); // 0.5 halved 7 times
    let ann = replay(Workbook::Y2018, Sheet::AdamAnn).unwrap();
    assert_eq!(ann.state.lr, 1.0 / 256.0); // 1 quartered 4 times
}

#[test]
fn data_sheets_compute_y_from_their_volatile_x() {
    // x is RANDBETWEEN(1,100) (volatile: not compared); y = b + x*a must agree with it.
    for tag in ["course-v3", "courses"] {
        let (_, rows) = row_table(tag, "data");
        assert_eq!(rows.len(), 29);
        for r in rows {
            let (x, y): (f64, f64) = (r[1].parse().unwrap(), r[2].parse().unwrap());
            assert_eq!(y, 30.0 + x * 2.0, "{tag} row {}", r[0]);
        }
    }
}

/// The clean version is ordinary training: every update applied and the state from zero
/// is what `Trainer::run` does, so the two agree epoch by epoch.
#[test]
fn the_clean_version_is_what_the_trainer_computes() {
    use gradsheet_engine::{Dataset, Model, Roles};
    use gradsheet_train::{Hooks, Optimizer, TrainConfig, Trainer};
    let r = graddesc::replay_actions(
        Workbook::Y2018,
        Sheet::Momentum,
        graddesc::initial(Workbook::Y2018, Sheet::Momentum),
        &[graddesc::Action::Reset, graddesc::Action::Run],
    )
    .unwrap();
    let clean = graddesc::clean(&r);
    assert_eq!(clean.epochs.len(), 6);
    let model = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
    let trainer = Trainer::new(&model, &Dataset::graddesc()).unwrap();
    let cfg = TrainConfig::new(
        Optimizer::Momentum {
            lr: 1e-4,
            beta: 0.9,
        },
        5,
    );
    let trace = trainer.run(&[1.0, 1.0], &cfg, &mut Hooks::none()).unwrap();
    for (e, t) in clean.epochs[1..].iter().zip(&trace.epochs) {
        // The trainer's parameters are (a, b), the sheet's (b, a).
        assert!(
            close(e.a, t.params[0]) && close(e.b, t.params[1]),
            "epoch {}: {e:?} vs {:?}",
            e.epoch,
            t.params
        );
    }
    let cmp = graddesc::compare(&r, &clean);
    assert!(
        cmp.max_param_gap > 0.01,
        "the carried momentum and the dropped updates matter"
    );
}

/// With no setting typed, a replay with settings is the saved replay, bit for bit, Runs
/// included.
#[test]
fn replaying_with_the_defaults_is_the_saved_replay() {
    use graddesc::{replay_actions, replay_with, Action, Settings};
    for (wb, sheet) in all_sheets() {
        let saved = replay(wb, sheet).unwrap();
        assert_eq!(
            replay_with(wb, sheet, &Settings::default(), 0).unwrap(),
            saved,
            "{wb:?} {sheet}"
        );
        let more = replay_with(wb, sheet, &Settings::default(), 2).unwrap();
        let (start, mut actions) = match graddesc::saved_sequence(wb, sheet) {
            Some(seq) => (graddesc::initial(wb, sheet), seq),
            None => (saved.state.clone(), vec![]),
        };
        actions.extend([Action::Run; 2]);
        assert_eq!(
            more,
            replay_actions(wb, sheet, start, &actions).unwrap(),
            "{wb:?} {sheet}"
        );
    }
}

/// Typing a sheet's own values (its β's, Reset's lr, a = b = 1) into a sheet saved right
/// after Reset reproduces every golden cell.
#[test]
fn typing_the_sheets_own_values_gives_the_golden_cells() {
    use graddesc::{replay_with, Settings};
    for (wb, sheet) in all_sheets() {
        if graddesc::saved_sequence(wb, sheet) != Some(vec![graddesc::Action::Reset]) {
            continue;
        }
        let saved = saved_state(wb, sheet);
        let betas = |k: usize| (sheet.betas() > k).then(|| saved.betas[k]);
        let s = Settings {
            lr: Some(saved.lr),
            beta1: betas(0),
            beta2: betas(1),
            a: Some(1.0),
            b: Some(1.0),
        };
        let r = replay_with(wb, sheet, &s, 0).unwrap();
        check_grid(wb, &r.view, "typed with the sheet's own values");
        check_row_table(wb, &r.view);
    }
}

/// Another β changes the rows as the rule says: momentum with β = 0 keeps no memory, so
/// its b and a follow plain SGD's (the basic sheet's) bit for bit, and its momentum is
/// each row's gradient.
#[test]
fn momentum_with_beta_zero_is_the_basic_sheet() {
    use graddesc::{replay_with, Settings};
    let s = Settings {
        beta1: Some(0.0),
        ..Settings::default()
    };
    let m = replay_with(Workbook::Y2018, Sheet::Momentum, &s, 0)
        .unwrap()
        .view;
    let b = replay_with(Workbook::Y2018, Sheet::Basic, &Settings::default(), 0).unwrap();
    // The basic sheet as Reset leaves it (a = b = 1, lr = 0.0001), as momentum's Reset does.
    let b = graddesc::view(
        Workbook::Y2018,
        Sheet::Basic,
        &graddesc::SheetState {
            b: 1.0,
            a: 1.0,
            history: vec![],
            ..b.state
        },
    )
    .unwrap();
    for row in 4..=32 {
        assert_eq!(
            m.cell(&format!("C{row}")),
            b.cell(&format!("C{row}")),
            "b, row {row}"
        );
        assert_eq!(
            m.cell(&format!("D{row}")),
            b.cell(&format!("D{row}")),
            "a, row {row}"
        );
        assert_eq!(
            m.cell(&format!("J{row}")),
            m.cell(&format!("F{row}")),
            "m_b, row {row}"
        );
    }
    assert_eq!(m.cell("J1"), Some(0.0));
    assert_eq!(m.cell("K1"), Some(1.0));
}

/// Settings that do not apply, or are out of range, are refused by name.
#[test]
fn settings_are_checked_against_the_sheet() {
    use graddesc::{replay_with, Settings};
    let err = |sheet, s: Settings| {
        let e = replay_with(Workbook::Y2018, sheet, &s, 0).unwrap_err();
        (e.field, e.message)
    };
    let d = Settings::default();
    assert_eq!(
        err(Sheet::Momentum, Settings { beta2: Some(0.9), ..d }),
        ("beta2", "beta2 does not apply to the momentum sheet, which has one β (set it as beta1): β2 is a cell of adam, adam_ann and eve".into())
    );
    assert_eq!(
        err(Sheet::Basic, Settings { beta1: Some(0.9), ..d }),
        ("beta1", "beta1 does not apply to the basic sheet, which has no β: β1 is a cell of momentum, rmsprop, adam, adam_ann and eve".into())
    );
    assert_eq!(
        err(
            Sheet::Adam,
            Settings {
                beta1: Some(1.5),
                ..d
            }
        ),
        ("beta1", "beta1 = 1.5 must be a number from 0 to 1".into())
    );
    assert_eq!(
        err(
            Sheet::Adam,
            Settings {
                lr: Some(-1.0),
                ..d
            }
        ),
        ("lr", "lr = -1 must be a finite number >= 0".into())
    );
    assert_eq!(
        err(
            Sheet::Adam,
            Settings {
                a: Some(f64::INFINITY),
                ..d
            }
        ),
        ("a", "a = inf must be a finite number".into())
    );
    assert_eq!(err(Sheet::Eve, d).0, "sheet");
}

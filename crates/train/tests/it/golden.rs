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
    SheetState {
        b: num("C1"),
        a: num("C2"),
        lr,
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
        graddesc::initial(Sheet::Momentum),
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

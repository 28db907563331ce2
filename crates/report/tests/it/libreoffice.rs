//! Exported workbooks recalculate to the engine's numbers.
//!
//! Each workbook is written twice: once with the engine's values as the formulas' cached
//! results (the reference), and once with 0 cached everywhere. LibreOffice opens the
//! second with a forced full recalculation (a temporary user profile sets
//! `OOXMLRecalcMode` to "always") and saves it; every formula cell it computed must equal
//! the reference within 1e-12·max(1, |v|). Cached zeros cannot hide a wrong formula: a
//! spreadsheet that did not recalculate would show them.
//!
//! All workbooks go through one `soffice` start, which costs seconds. Without `soffice`
//! the test is skipped with a notice, unless the environment variable CI is set.

use std::io::Cursor;
use std::path::Path;
use std::time::Instant;

use calamine::{open_workbook_from_rs, Reader, Xlsx};

use crate::soffice::{number, recalculate, soffice};
use gradsheet_engine::{Dataset, Model, Roles, Scheme};
use gradsheet_report::{run_workbook, RunSpec, XlsxOptions};
use gradsheet_train::{Gradient, Hooks, Hyper, Optimizer, TrainConfig, Trainer};

/// A workbook to check: the reference (engine values cached) and the one LibreOffice
/// recalculates (zeros cached).
struct Case {
    name: String,
    reference: Vec<u8>,
    zeroed: Vec<u8>,
}

fn case(name: &str, model: &str, loss: &str, data: &Dataset, cfg: TrainConfig) -> Case {
    let roles = Roles {
        constants: vec![("delta".into(), 1.0)],
        ..Roles::with_columns(&data.columns)
    };
    let model = Model::new(model, loss, &roles).unwrap();
    let init = vec![1.0; model.params.len()];
    let trace = Trainer::new(&model, data)
        .unwrap()
        .run(&init, &cfg, &mut Hooks::none())
        .unwrap();
    let run = RunSpec {
        model: &model,
        data,
        config: &cfg,
        init: &init,
        trace: &trace,
    };
    let reference = run_workbook(&run, &XlsxOptions::default()).unwrap();
    let zeroed = run_workbook(
        &run,
        &XlsxOptions {
            zero_cached_results: true,
            ..XlsxOptions::default()
        },
    )
    .unwrap();
    Case {
        name: name.to_string(),
        reference,
        zeroed,
    }
}

fn opt(name: &str, h: Hyper) -> Optimizer {
    Optimizer::from_name(name, &h).unwrap()
}

/// Compares every formula cell of `reference` with the same cell of `recalculated`;
/// returns the number of cells compared.
fn compare(name: &str, reference: &[u8], recalculated: &[u8]) -> usize {
    let mut refb: Xlsx<_> = open_workbook_from_rs(Cursor::new(reference)).unwrap();
    let mut recb: Xlsx<_> = open_workbook_from_rs(Cursor::new(recalculated)).unwrap();
    let mut n = 0;
    let mut bad = Vec::new();
    for sheet in refb.sheet_names() {
        let formulas = refb.worksheet_formula(&sheet).unwrap();
        let cached = refb.worksheet_range(&sheet).unwrap();
        let recalc = recb.worksheet_range(&sheet).unwrap();
        let (r0, c0) = formulas.start().unwrap_or((0, 0));
        for (r, c, f) in formulas.used_cells() {
            if f.is_empty() {
                continue;
            }
            let pos = (r0 + r as u32, c0 + c as u32);
            let want = cached.get_value(pos).and_then(number);
            let got = recalc.get_value(pos).and_then(number);
            n += 1;
            let ok = match (want, got) {
                (Some(w), Some(g)) => (w - g).abs() <= 1e-12 * w.abs().max(g.abs()).max(1.0),
                // The engine's NaN or infinity is cached as #NUM!; LibreOffice shows an error too.
                (None, None) => true,
                _ => false,
            };
            if !ok
                && bad
                    .iter()
                    .filter(|b: &&String| b.starts_with(sheet.as_str()))
                    .count()
                    < 4
            {
                bad.push(format!(
                    "{sheet}!R{}C{} ={f}: engine {want:?}, LibreOffice {got:?}",
                    pos.0 + 1,
                    pos.1 + 1
                ));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{name}: formula cells differ from the engine:\n{}",
        bad.join("\n")
    );
    assert!(n > 0, "{name}: no formula cells");
    n
}

fn run_cases(cases: &[Case]) {
    let Some(bin) = soffice() else { return };
    let start = Instant::now();
    let books: Vec<(&str, &[u8])> = cases
        .iter()
        .map(|c| (c.name.as_str(), c.zeroed.as_slice()))
        .collect();
    let recalculated = recalculate(&bin, &books);
    // GRADSHEET_KEEP_RECALC=DIR keeps the recalculated workbooks for a look.
    if let Ok(dir) = std::env::var("GRADSHEET_KEEP_RECALC") {
        for (c, rec) in cases.iter().zip(&recalculated) {
            let _ = std::fs::write(Path::new(&dir).join(format!("{}.xlsx", c.name)), rec);
            let _ = std::fs::write(
                Path::new(&dir).join(format!("{}.reference.xlsx", c.name)),
                &c.reference,
            );
        }
    }
    let lo = start.elapsed();
    for (c, rec) in cases.iter().zip(&recalculated) {
        let n = compare(&c.name, &c.reference, rec);
        eprintln!("{}: {n} formula cells agree with the engine", c.name);
    }
    eprintln!(
        "LibreOffice recalculated {} workbooks in {:.1?}",
        cases.len(),
        lo
    );
}

#[test]
fn workbooks_recalculate_to_the_engines_numbers() {
    let g = Dataset::graddesc();
    let line = "a*x+b";
    let relu = "c*MAX(a*x+b,0)+d";
    let mut cases = Vec::new();

    // The 2-neuron ReLU model with Adam in PyTorch's convention, finite differences shown.
    let mut cfg = TrainConfig::new(Optimizer::torch_adam(0.1), 5);
    cfg.show_fd = Some((Scheme::Forward, 0.01));
    cases.push(case("relu_torch_adam", relu, "squared", &g, cfg));

    // 1,000 epochs of workbook SGD: 29,000 rows, each depending on the one before.
    cases.push(case(
        "line_sgd_1000",
        line,
        "squared",
        &g,
        TrainConfig::new(Optimizer::sgd(1e-4), 1000),
    ));

    // Every other update rule, with their options.
    let h = Hyper::new;
    let each: Vec<(&str, Optimizer)> = vec![
        ("momentum", opt("momentum", h())),
        ("rmsprop", opt("rmsprop", h())),
        ("adam", opt("adam", h())),
        ("adagrad", opt("adagrad", h().with("lr", 0.5))),
        (
            "torch_sgd",
            opt(
                "torch-sgd",
                h().with("lr", 1e-4)
                    .with("momentum", 0.9)
                    .with("weight_decay", 0.01)
                    .with("nesterov", true),
            ),
        ),
        (
            "torch_adagrad",
            opt(
                "torch-adagrad",
                h().with("lr", 0.5)
                    .with("lr_decay", 0.01)
                    .with("weight_decay", 0.001),
            ),
        ),
        (
            "torch_rmsprop",
            opt(
                "torch-rmsprop",
                h().with("momentum", 0.5)
                    .with("centered", true)
                    .with("weight_decay", 0.001),
            ),
        ),
        (
            "torch_adamw",
            opt("torch-adamw", h().with("lr", 0.05).with("amsgrad", true)),
        ),
    ];
    for (name, o) in each {
        cases.push(case(name, relu, "squared", &g, TrainConfig::new(o, 3)));
    }

    // Shuffled mini-batches of 4, trained on central differences, with a Huber loss.
    let mut cfg = TrainConfig::new(
        opt("torch-sgd", h().with("lr", 1e-4).with("momentum", 0.5)),
        3,
    );
    cfg.batch_size = 4;
    cfg.shuffle = Some(7);
    cfg.gradient = Gradient::Fd {
        scheme: Scheme::Central,
        h: 1e-3,
    };
    cfg.show_fd = Some((Scheme::Backward, 0.01));
    cases.push(case("minibatch_huber", line, "huber", &g, cfg));

    // A division by a negative constant: the derivative columns' formulas are the
    // simplifier's text, which once dropped the sign (x/3 for x/-3) and so recalculated
    // to another model's derivative.
    cases.push(case(
        "negative_divisor",
        "a*x/-3+b*(b+0.1)/-3",
        "squared",
        &g,
        TrainConfig::new(Optimizer::sgd(1e-5), 2),
    ));

    run_cases(&cases);
}

#[test]
fn graddesc_replays_recalculate_in_the_sheets_layout() {
    use gradsheet_report::graddesc::graddesc_workbook;
    use gradsheet_train::graddesc::{replay, Workbook};
    let mut cases = Vec::new();
    for wb in [Workbook::Y2018, Workbook::Y2016] {
        let replays: Vec<_> = wb
            .sheets()
            .iter()
            .map(|s| replay(wb, *s).unwrap())
            .collect();
        let views: Vec<_> = replays.iter().map(|r| &r.view).collect();
        cases.push(Case {
            name: format!("graddesc_{}", wb.year()),
            reference: graddesc_workbook(&views, false).unwrap(),
            zeroed: graddesc_workbook(&views, true).unwrap(),
        });
    }
    run_cases(&cases);
}

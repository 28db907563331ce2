//! fast.ai's workbooks, as Excel saved them.

use gradsheet_book::Book;

fn open(name: &str) -> Option<Book> {
    let p = gradsheet_testkit::shared(&format!("workbooks/{name}"))?;
    let bytes = std::fs::read(&p).unwrap();
    Some(Book::open(&bytes).unwrap_or_else(|e| panic!("{name}: {e}")))
}

/// Every workbook opens, and recalculates as recorded here: (formula cells, agreeing,
/// differing). What is not recalculated is volatile (RAND, RANDBETWEEN, NORM.INV: the
/// saved values are used), nothing else (emb_sizing's ROUND and mom_bias's CEILING.MATH and
/// ROW included); titanic's
/// 4 cells differ from Excel's by 3–30 units in the last place of a sum that cancels
/// (|Δ| ≤ 1.2e-16), the rare cells no IEEE order reproduces (docs/workbooks.md).
#[test]
fn every_workbook_opens_and_recalculates() {
    for (name, counts) in [
        ("graddesc-2018.xlsm", (1623, 1594, 0)),
        ("graddesc-2016.xlsm", (2365, 2336, 0)),
        ("entropy_example.xlsx", (75, 75, 0)),
        ("conv-example.xlsx", (4025, 4025, 0)),
        ("collab_filter.xlsx", (12937, 12937, 0)),
        ("mom_bias.xlsx", (598, 548, 0)),
        ("broadcasting.xlsx", (51, 51, 0)),
        ("emb_sizing.xlsx", (34, 34, 0)),
        ("emb_results.xlsx", (32, 32, 0)),
        ("style_loss.xlsx", (22, 22, 0)),
        ("layers_example.xlsx", (138, 108, 0)),
        ("titanic.xlsx", (24935, 24931, 4)),
    ] {
        let Some(b) = open(name) else { return };
        let r = b.recalculate();
        eprintln!(
            "{name}: {} formula cells, {} agree, {} differ, {} not recalculated",
            r.formula_cells,
            r.agree,
            r.differ.len(),
            r.skipped.len()
        );
        for d in r.differ.iter().take(3) {
            eprintln!(
                "  differ {}: saved {} computed {}",
                d.cell, d.cached, d.computed
            );
        }
        let mut reasons: Vec<&str> = r.skipped.iter().map(|s| s.reason.as_str()).collect();
        reasons.sort();
        reasons.dedup();
        for s in reasons.iter().take(6) {
            eprintln!("  skipped: {s}");
        }
        assert_eq!(
            r.agree + r.differ.len() + r.skipped.len(),
            r.formula_cells,
            "{name}"
        );
        assert_eq!((r.formula_cells, r.agree, r.differ.len()), counts, "{name}");
        for d in &r.differ {
            assert!((d.cached - d.computed).abs() <= 1e-15, "{name}: {d:?}");
        }
        for s in &r.skipped {
            assert!(s.reason.starts_with("volatile"), "{name}: {s:?}");
        }
    }
}

/// graddesc.xlsm (2018): every formula cell but the data sheet's RANDBETWEEN recalculates
/// to the value Excel saved, and the basic sheet's error is differentiated through all
/// of its rows.
#[test]
fn graddesc_recalculates_bit_for_bit_and_differentiates() {
    let Some(b) = open("graddesc-2018.xlsm") else {
        return;
    };
    let r = b.recalculate();
    assert_eq!(r.formula_cells, 1623);
    assert!(
        r.differ.is_empty(),
        "{:?}",
        &r.differ[..r.differ.len().min(5)]
    );
    assert_eq!(r.agree, 1594);
    assert!(
        r.skipped.iter().all(|s| s.reason.contains("RANDBETWEEN")),
        "{:?}",
        r.skipped
    );
    // basic!F33 (103.993…, golden README): the sheet's error after its 29 rows.
    let g = b.gradient("basic!F33").unwrap();
    assert_eq!(g.value, 103.99322533093216);
    let d: std::collections::HashMap<&str, f64> = g
        .derivatives
        .iter()
        .map(|(c, v)| (c.as_str(), *v))
        .collect();
    for input in ["basic!C1", "basic!C2"] {
        let exact = d[input];
        // Against a central difference through the whole sheet, recalculated.
        let Some((_, at)) = b
            .workbook()
            .sheets
            .iter()
            .find(|s| s.name == "basic")
            .and_then(|s| {
                s.cells
                    .iter()
                    .find(|c| gradsheet_book::cell_name(c.row, c.col) == input[6..])
                    .map(|c| ((), c.value.clone()))
            })
        else {
            panic!("{input}")
        };
        let gradsheet_book::Value::Num(v) = at else {
            panic!("{input}")
        };
        let h = 1e-6 * v.abs().max(1.0);
        let fd = (b.value_with("basic!F33", &[(input, v + h)]).unwrap()
            - b.value_with("basic!F33", &[(input, v - h)]).unwrap())
            / (2.0 * h);
        assert!(
            (fd - exact).abs() <= 1e-5 * exact.abs().max(1e-3),
            "{input}: exact {exact}, central {fd}"
        );
    }
}

/// The typed derivative columns of graddesc's basic sheet: H and J are forward
/// differences with h = 0.01 (est de/db, est de/da), K and L exact.
#[test]
fn graddesc_typed_derivative_columns_get_their_verdicts() {
    let Some(b) = open("graddesc-2018.xlsm") else {
        return;
    };
    let cols = b.derivative_columns();
    for c in &cols {
        eprintln!(
            "{}!{} {:?}: {} (h {:?}) of {} wrt {}; {}",
            c.sheet, c.range, c.header, c.verdict, c.h, c.of, c.wrt, c.note
        );
    }
    let basic: Vec<_> = cols.iter().filter(|c| c.sheet == "basic").collect();
    let find = |r: &str| {
        basic
            .iter()
            .find(|c| c.range == r)
            .unwrap_or_else(|| panic!("{r}: {basic:?}"))
    };
    let h = find("H4:H32");
    assert_eq!(
        (h.verdict, h.h, h.of.as_str(), h.wrt.as_str()),
        ("forward difference", Some(0.01), "F4", "C4")
    );
    let j = find("J4:J32");
    assert_eq!(
        (j.verdict, j.h, j.of.as_str(), j.wrt.as_str()),
        ("forward difference", Some(0.01), "F4", "D4")
    );
    assert!(j.max_abs_error > 1.0, "{j:?}");
    assert_eq!(find("K4:K32").verdict, "exact");
    assert_eq!(find("L4:L32").verdict, "exact");
}

/// The sheet's Run button replayed from its own VBA: Reset, then the loop of `somesteps`.
fn replay(book: &Book, sheet: &str, epochs: usize) -> Vec<gradsheet_book::Epoch> {
    let mut out = Vec::new();
    book.run_macro(sheet, epochs, true, &[], |e| out.push(e.clone()))
        .unwrap_or_else(|e| panic!("{sheet}: {e}"));
    out
}

fn value(e: &gradsheet_book::Epoch, cell: &str) -> f64 {
    e.copied
        .iter()
        .chain(&e.watched)
        .find(|(c, _)| c == cell)
        .unwrap_or_else(|| panic!("no {cell} in {e:?}"))
        .1
}

/// Reset and one Run (5 loops of `somesteps`) of graddesc's basic and rmsprop sheets land
/// bit for bit on the state Excel saved (docs/workbooks.md: each saved state is Reset +
/// one Run), and basic's pasted error history is the one saved in C38:C42.
#[test]
fn the_run_macro_replays_to_the_saved_state() {
    let Some(b) = open("graddesc-2018.xlsm") else {
        return;
    };
    let loops = b.loops();
    let basic = loops.iter().find(|l| l.sheet == "basic").unwrap();
    assert_eq!(basic.what, "basic.somesteps");
    assert_eq!(
        basic.copies,
        [
            "lastslope → slope",
            "lastconst → const",
            "rmse → under rmsestart"
        ]
    );
    assert!(loops.iter().all(|l| l.unknown.is_empty()), "{loops:?}");
    let run = replay(&b, "basic", 5);
    let saved = |c: &str| b.gradient(c).map(|g| g.value);
    let history: Vec<f64> = run.iter().map(|e| value(e, "rmsestart (pasted)")).collect();
    let cells: Vec<f64> = (38..43)
        .map(|r| {
            let k = b.key(&format!("basic!C{r}")).unwrap();
            b.workbook().sheets[k.0]
                .cells
                .iter()
                .find(|c| (c.row, c.col) == (k.1, k.2))
                .and_then(|c| match c.value {
                    gradsheet_book::Value::Num(v) => Some(v),
                    _ => None,
                })
                .unwrap()
        })
        .collect();
    assert_eq!(history, cells);
    assert_eq!(history[4], 103.99322533093216);
    assert_eq!(value(&run[4], "basic!C2"), saved("basic!D4").unwrap());
    for sheet in ["rmsprop"] {
        let run = replay(&b, sheet, 5);
        let last = &run[4];
        for (param, first_row) in [("C1", "C4"), ("C2", "D4")] {
            // Row 4 reads the parameters at the top: their saved values.
            assert_eq!(
                value(last, &format!("{sheet}!{param}")),
                saved(&format!("{sheet}!{first_row}")).unwrap(),
                "{sheet}!{param}"
            );
        }
    }
    // rmsprop's saved parameters, as docs/workbooks.md records them.
    let last = &replay(&b, "rmsprop", 5)[4];
    assert_eq!(value(last, "rmsprop!C1"), 3.1890676512613103);
    assert_eq!(value(last, "rmsprop!C2"), 2.4036203537069443);
}

/// adam_ann's loop anneals: each time the gradient ratio passes 2 the macro quarters the
/// learning rate (four times in 5 Runs, to 1/256), as `gradsheet graddesc` replays it —
/// equal to the bit through the first two loops (the third is where Excel's own
/// arithmetic is one unit in the last place off, docs/workbooks.md).
#[test]
fn adam_anns_macro_anneals_the_learning_rate() {
    let Some(b) = open("graddesc-2018.xlsm") else {
        return;
    };
    let run = replay(&b, "adam_ann", 25);
    assert_eq!(value(&run[0], "adam_ann!C2"), 2.5016441758878205);
    assert_eq!(value(&run[1], "adam_ann!C1"), 14.95335812878105);
    assert_eq!(value(&run[1], "adam_ann!M33"), 6244692.350717849);
    assert_eq!(value(&run[0], "adam_ann!D2"), 1.0);
    assert_eq!(value(&run[24], "adam_ann!D2"), 1.0 / 256.0);
    assert!((value(&run[24], "adam_ann!C1") - 29.990939773126538).abs() < 1e-10);
}

/// graddesc (2016): sheet "basic SGD" plays module `basic`; adagrad_ann, whose Run button
/// calls the standard module `annealing`, has no module of its own and says so.
#[test]
fn a_sheet_without_its_own_module_names_the_modules_there_are() {
    let Some(b) = open("graddesc-2016.xlsm") else {
        return;
    };
    let run = replay(&b, "basic SGD", 1);
    assert!(value(&run[0], "rmsestart (pasted)").is_finite());
    let e = b
        .run_macro("adagrad_ann", 1, false, &[], |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no macro module of its own") && e.contains("annealing"),
        "{e}"
    );
}

/// graddesc's basic sheet at its learning rate 1e-4: no row overshoots, and the steepest
/// is x = 99 (row 21) with lr·λ = 1e-4 · 2 · (1 + 99²) = 1.9604, just under 2 — why the
/// sheet explodes at twice the rate.
#[test]
fn graddesc_basic_is_explained() {
    let Some(b) = open("graddesc-2018.xlsm") else {
        return;
    };
    let x = b.explain_sheet("basic", &[]).unwrap();
    assert_eq!(x.rows, 29);
    assert!(x.steep.is_empty(), "{x:?}");
    let (row, v, data) = x.steepest.clone().unwrap();
    assert_eq!((row, data[0].1), (21, 99.0));
    assert!((v - 1e-4 * 2.0 * (1.0 + 99.0 * 99.0)).abs() < 1e-12, "{v}");
    assert!(
        x.findings[0].starts_with("No row is too steep for the learning rate (basic!F1 = 1e-4)"),
        "{:?}",
        x.findings
    );
    // At twice the rate (F1 = 2e-4) the rows of x = 99, 99, 86, 84 and 72 overshoot
    // (2e-4 · 2 · (1 + 72²) = 2.074), steepest first.
    let lr = b.key("basic!F1").unwrap();
    let x = b.explain_sheet("basic", &[(lr, 2e-4)]).unwrap();
    let rows: Vec<u32> = x.steep.iter().map(|w| w.row).collect();
    assert_eq!(rows, vec![21, 28, 5, 12, 10], "{x:?}");
    assert!(
        x.findings[0].starts_with(
            "Row 21 (A21 = 99, B21 = 228) is too steep for the learning rate (basic!F1 = 2e-4)"
        ),
        "{:?}",
        x.findings
    );
}

//! A sheet's rows explained: too steep for the learning rate typed on the sheet, or
//! unable to move a parameter (a ReLU that is off).

use gradsheet_book::Book;
use rust_xlsxwriter::{Formula, Workbook};

/// Per-sample SGD on pred = `act(b + a·x)` over graddesc's first rows, the learner's way:
/// rows 2–9 hold x, y, b, a, pred, err, de/db, de/da; each row's b and a are the row
/// above's minus lr (in H1… no: in `$J$1`) times its derivatives. `relu` wraps the
/// prediction in MAX(…, 0). The saved values are computed here as Excel would.
fn sgd_sheet(lr: f64, b0: f64, relu: bool) -> Vec<u8> {
    let xs = [14.0f64, 86.0, 28.0, 51.0, 28.0, 29.0, 72.0, 99.0];
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet().set_name("sgd").unwrap();
    for (c, h) in ["x", "y", "b", "a", "pred", "err", "de/db", "de/da", "lr"]
        .iter()
        .enumerate()
    {
        ws.write(0, c as u16, *h).unwrap();
    }
    ws.write(0, 9, lr).unwrap();
    let (mut b, mut a) = (b0, 1.0f64);
    for (i, x) in xs.iter().enumerate() {
        let (r, n) = (i as u32 + 1, i + 2);
        let y = 2.0 * x + 30.0;
        ws.write(r, 0, *x).unwrap();
        ws.write(r, 1, y).unwrap();
        if i == 0 {
            ws.write(r, 2, b).unwrap();
            ws.write(r, 3, a).unwrap();
        } else {
            let m = n - 1;
            ws.write(
                r,
                2,
                Formula::new(format!("=C{m}-G{m}*$J$1")).set_result(b.to_string()),
            )
            .unwrap();
            ws.write(
                r,
                3,
                Formula::new(format!("=D{m}-H{m}*$J$1")).set_result(a.to_string()),
            )
            .unwrap();
        }
        let lin = b + a * x;
        let pred = if relu { lin.max(0.0) } else { lin };
        let on = if relu && lin <= 0.0 { 0.0 } else { 1.0 };
        let pf = if relu {
            format!("=MAX(C{n}+D{n}*A{n},0)")
        } else {
            format!("=C{n}+D{n}*A{n}")
        };
        let gb = 2.0 * (pred - y) * on;
        let ga = gb * x;
        let cells = [
            (pf, pred),
            (format!("=(E{n}-B{n})^2"), (pred - y).powi(2)),
            (
                if relu {
                    format!("=2*(E{n}-B{n})*(C{n}+D{n}*A{n}>0)")
                } else {
                    format!("=2*(E{n}-B{n})")
                },
                gb,
            ),
            (format!("=G{n}*A{n}"), ga),
        ];
        for (k, (f, v)) in cells.iter().enumerate() {
            ws.write(r, 4 + k as u16, Formula::new(f).set_result(v.to_string()))
                .unwrap();
        }
        b -= gb * lr;
        a -= ga * lr;
    }
    wb.save_to_buffer().unwrap()
}

/// At lr = 3e-4 the row x = 99 has lr·λ = lr·2·(1 + x²) = 5.88: it overshoots, and the
/// explanation names it first, with its data and the cell of the learning rate.
#[test]
fn the_row_too_steep_for_the_learning_rate_is_named() {
    let lr = 3e-4;
    let book = Book::open(&sgd_sheet(lr, 1.0, false)).unwrap();
    let cols = book.derivative_columns();
    assert!(cols.iter().all(|c| c.verdict == "exact"), "{cols:?}");
    let x = book.explain_sheet("sgd", &[]).unwrap();
    assert_eq!(x.rows, 8);
    // The curvature of (b + a·x − y)² in (b, a) is 2·[1, x; x, x²]: λ = 2(1 + x²).
    let lam = |x: f64| lr * 2.0 * (1.0 + x * x);
    let rows: Vec<u32> = x.steep.iter().map(|w| w.row).collect();
    assert_eq!(rows, vec![9, 3, 8], "{x:?}"); // x = 99, 86, 72
    for (w, xv) in x.steep.iter().zip([99.0, 86.0, 72.0]) {
        assert!((w.lr_lambda - lam(xv)).abs() < 1e-9 * lam(xv), "{w:?}");
        assert_eq!(
            w.data,
            vec![
                ("A".to_string() + &w.row.to_string(), xv),
                (format!("B{}", w.row), 2.0 * xv + 30.0)
            ]
        );
        assert!(w.rates.iter().all(|(_, r)| (r - lr).abs() < 1e-18), "{w:?}");
    }
    assert!(
        x.findings[0].starts_with(
            "Row 9 (A9 = 99, B9 = 228) is too steep for the learning rate (sgd!J1 = 3e-4): every step there overshoots"
        ),
        "{:?}",
        x.findings
    );
    assert!(
        x.findings[1].contains("A learning rate under 0.3401 of this one"),
        "{:?}",
        x.findings
    );
    assert!(x.flat.is_empty());
    // At a tenth of it no row overshoots, and the steepest is said.
    let calm = Book::open(&sgd_sheet(lr / 10.0, 1.0, false)).unwrap();
    let x = calm.explain_sheet("sgd", &[]).unwrap();
    assert!(x.steep.is_empty());
    assert_eq!(x.steepest.as_ref().map(|s| s.0), Some(9));
    assert!(
        x.findings[0].starts_with("No row is too steep"),
        "{:?}",
        x.findings
    );
}

/// A ReLU started off (b = −1000): the error depends on neither b nor a on any row.
#[test]
fn a_relu_off_on_every_row_is_found() {
    let book = Book::open(&sgd_sheet(1e-4, -1000.0, true)).unwrap();
    let x = book.explain_sheet("sgd", &[]).unwrap();
    assert_eq!(
        x.flat,
        vec![("C".to_string(), 8), ("D".to_string(), 8)],
        "{x:?}"
    );
    assert!(
        x.findings
            .iter()
            .any(|f| f.starts_with("The error does not depend on column C on any of the 8 rows")),
        "{:?}",
        x.findings
    );
    // The changed inputs are explained, not the saved ones: b moved to 0 turns it on.
    let b = book.key("sgd!C2").unwrap();
    let x = book.explain_sheet("sgd", &[(b, 0.0)]).unwrap();
    assert!(x.flat.is_empty(), "{x:?}");
    assert!(book.explain_sheet("nope", &[]).is_err());
}

/// The forum's y = c·(a·x+b)+d, its four derivatives typed exactly: the four parameters
/// move the error in only two ways (a slope and an intercept), and the explanation says so.
#[test]
fn four_parameters_that_act_as_two_are_found() {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet().set_name("2 neurons").unwrap();
    for (c, h) in [
        "x", "y", "a", "b", "c", "d", "pred", "err", "de/da", "de/db", "de/dc", "de/dd",
    ]
    .iter()
    .enumerate()
    {
        ws.write(0, c as u16, *h).unwrap();
    }
    for (i, x) in [14.0f64, 86.0, 28.0, 51.0, 28.0, 29.0].iter().enumerate() {
        let (r, n) = (i as u32 + 1, i + 2);
        let y = 2.0 * x + 30.0;
        // Each row's parameters a little apart, as a run leaves them.
        let (a, b, c, d) = (1.0 + 0.01 * i as f64, 0.5, 2.0 - 0.02 * i as f64, -1.0);
        for (k, v) in [*x, y, a, b, c, d].iter().enumerate() {
            ws.write(r, k as u16, *v).unwrap();
        }
        let pred = c * (a * x + b) + d;
        let g = 2.0 * (pred - y);
        let cells = [
            (format!("=E{n}*(C{n}*A{n}+D{n})+F{n}"), pred),
            (format!("=(G{n}-B{n})^2"), (pred - y).powi(2)),
            (format!("=2*(G{n}-B{n})*E{n}*A{n}"), g * c * x),
            (format!("=2*(G{n}-B{n})*E{n}"), g * c),
            (format!("=2*(G{n}-B{n})*(C{n}*A{n}+D{n})"), g * (a * x + b)),
            (format!("=2*(G{n}-B{n})"), g),
        ];
        for (k, (f, v)) in cells.iter().enumerate() {
            ws.write(r, 6 + k as u16, Formula::new(f).set_result(v.to_string()))
                .unwrap();
        }
    }
    let book = Book::open(&wb.save_to_buffer().unwrap()).unwrap();
    let cols = book.derivative_columns();
    assert!(cols.iter().all(|c| c.verdict == "exact"), "{cols:?}");
    let x = book.explain_sheet("2 neurons", &[]).unwrap();
    assert_eq!(
        x.collapse,
        Some((
            4,
            vec!["C".to_string(), "D".into(), "E".into(), "F".into()],
            2
        )),
        "{x:?}"
    );
    assert!(
        x.findings.iter().any(|f| f.starts_with(
            "The 4 parameters (columns C, D, E, F) change the error in only 2 independent ways on these 6 rows"
        )),
        "{:?}",
        x.findings
    );
    // a·x + b alone does not collapse (graddesc's two parameters are two numbers).
    let lin = Book::open(&sgd_sheet(1e-4, 1.0, false)).unwrap();
    assert_eq!(lin.explain_sheet("sgd", &[]).unwrap().collapse, None);
}

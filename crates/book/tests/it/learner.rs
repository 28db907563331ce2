//! Workbooks as a learner builds them, written here with live formulas and the values a
//! spreadsheet would have saved.

use gradsheet_book::Book;
use rust_xlsxwriter::{Formula, Workbook};

/// A sheet "model": a in B1, x in B2, y in B3; pred = a*x^2 in B4, the error in B5, and
/// three steps of SGD on a below (rows 7–9, each row's a from the row before).
fn learner_book() -> Vec<u8> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet().set_name("my model").unwrap();
    let (a, x, y, lr) = (2.0f64, 3.0f64, 30.0f64, 0.001f64);
    ws.write(0, 0, "a").unwrap();
    ws.write(0, 1, a).unwrap();
    ws.write(1, 1, x).unwrap();
    ws.write(2, 1, y).unwrap();
    ws.write(
        3,
        1,
        Formula::new("=B1*B2^2").set_result((a * x * x).to_string()),
    )
    .unwrap();
    let e = (a * x * x - y).powi(2);
    ws.write(4, 1, Formula::new("=(B4-$B$3)^2").set_result(e.to_string()))
        .unwrap();
    ws.write(5, 1, lr).unwrap();
    // Row 7: a; the next rows: a − lr·2(a·x²−y)·x².
    ws.write(6, 0, Formula::new("=B1").set_result(a.to_string()))
        .unwrap();
    let mut ak = a;
    for r in 7..10 {
        ak -= lr * 2.0 * (ak * x * x - y) * x * x;
        let f = format!("=A{r}-$B$6*2*(A{r}*$B$2^2-$B$3)*$B$2^2");
        ws.write(r, 0, Formula::new(f).set_result(ak.to_string()))
            .unwrap();
    }
    // A cell the engine does not compute, and one that uses it.
    ws.write(10, 0, Formula::new("=VLOOKUP(1,B1:B3,1)").set_result("2"))
        .unwrap();
    ws.write(11, 0, Formula::new("=A11*2").set_result("4"))
        .unwrap();
    // A circular pair.
    ws.write(12, 0, Formula::new("=A14+1").set_result("0"))
        .unwrap();
    ws.write(13, 0, Formula::new("=A13+1").set_result("0"))
        .unwrap();
    wb.save_to_buffer().unwrap()
}

/// The workbook opened, and its typed columns judged.
fn judged(mut wb: Workbook) -> (Book, Vec<gradsheet_book::ColumnVerdict>) {
    let book = Book::open(&wb.save_to_buffer().unwrap()).unwrap();
    let v = book.derivative_columns();
    (book, v)
}

/// The judged column of range `r`.
fn column<'a>(
    v: &'a [gradsheet_book::ColumnVerdict],
    r: &str,
) -> &'a gradsheet_book::ColumnVerdict {
    v.iter()
        .find(|c| c.range == r)
        .unwrap_or_else(|| panic!("{r}: {v:?}"))
}

#[test]
fn a_learners_sheet_recalculates_and_differentiates() {
    let book = Book::open(&learner_book()).unwrap();
    let r = book.recalculate();
    assert_eq!(r.formula_cells, 10);
    assert_eq!(r.agree, 7, "{r:?}");
    assert!(r.differ.is_empty(), "{r:?}");
    let reasons: Vec<String> = r
        .skipped
        .iter()
        .map(|s| format!("{}: {}", s.cell, s.reason))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|s| s.starts_with("'my model'!A11: not supported: the function VLOOKUP")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|s| s.contains("a circular reference: 'my model'!A13 → 'my model'!A14")),
        "{reasons:?}"
    );
    // A11 is read at its saved value, so A12 (which uses it) is recalculated.
    let g = book.gradient("'my model'!A12").unwrap();
    assert_eq!(g.value, 4.0);
    assert_eq!(g.derivatives, vec![("'my model'!A11".to_string(), 2.0)]);

    // ∂e/∂a and ∂e/∂x of the error cell, exactly: 2(ax²−y)·x² and 2(ax²−y)·2ax.
    let g = book.gradient("'my model'!B5").unwrap();
    assert_eq!(g.value, 144.0);
    let d: std::collections::HashMap<String, f64> = g.derivatives.into_iter().collect();
    assert_eq!(d["'my model'!B1"], 2.0 * (18.0 - 30.0) * 9.0);
    assert_eq!(d["'my model'!B2"], 2.0 * (18.0 - 30.0) * 2.0 * 2.0 * 3.0);
    assert_eq!(d["'my model'!B3"], -2.0 * (18.0 - 30.0));
    assert!(
        !d.contains_key("'my model'!B6"),
        "the error does not use the learning rate"
    );

    // The third update's a with respect to the first a and the learning rate, through
    // every step: each step multiplies ∂a by (1 − 2·lr·x⁴).
    let g = book.gradient("'my model'!A10").unwrap();
    let d: std::collections::HashMap<String, f64> = g.derivatives.into_iter().collect();
    let factor: f64 = 1.0 - 2.0 * 0.001 * 81.0;
    assert!((d["'my model'!B1"] - factor.powi(3)).abs() < 1e-15, "{d:?}");
    assert!(d.contains_key("'my model'!B6"));

    // Addresses are checked.
    assert!(book
        .gradient("nosheet!A1")
        .unwrap_err()
        .to_string()
        .contains("no sheet named 'nosheet'"));
    assert!(book
        .gradient("'my model'!ZZZZ1")
        .unwrap_err()
        .to_string()
        .contains("is not a cell"));
    assert!(book
        .gradient("'my model'!B1")
        .unwrap_err()
        .to_string()
        .contains("not a formula cell"));
}

#[test]
fn bytes_that_are_not_a_workbook_are_refused() {
    let e = Book::open(b"PK\x03\x04 not really")
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("not an .xlsx, .xlsm or .ods workbook"), "{e}");
    assert!(Book::open(b"").is_err());
}

/// A sheet of typed derivatives of e = (a·x − y)²: exact, a forward difference, and one
/// missing its factor 2.
#[test]
fn typed_derivative_columns_get_their_verdicts() {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet().set_name("typed").unwrap();
    for (c, h) in ["x", "y", "a", "e", "de/da", "est de/da", "my de/da"]
        .iter()
        .enumerate()
    {
        ws.write(0, c as u16, *h).unwrap();
    }
    for (i, (x, y, a)) in [(1.0f64, 3.0f64, 2.0f64), (4.0, 7.0, 1.5), (9.0, 2.0, 0.5)]
        .iter()
        .enumerate()
    {
        let r = i as u32 + 1;
        let n = r + 1;
        ws.write(r, 0, *x).unwrap();
        ws.write(r, 1, *y).unwrap();
        ws.write(r, 2, *a).unwrap();
        let e = (a * x - y).powi(2);
        let exact = 2.0 * (a * x - y) * x;
        let fwd = (((a + 0.01) * x - y).powi(2) - e) / 0.01;
        ws.write(
            r,
            3,
            Formula::new(format!("=(C{n}*A{n}-B{n})^2")).set_result(e.to_string()),
        )
        .unwrap();
        ws.write(
            r,
            4,
            Formula::new(format!("=2*(C{n}*A{n}-B{n})*A{n}")).set_result(exact.to_string()),
        )
        .unwrap();
        ws.write(
            r,
            5,
            Formula::new(format!("=(((C{n}+0.01)*A{n}-B{n})^2-D{n})/0.01"))
                .set_result(fwd.to_string()),
        )
        .unwrap();
        ws.write(
            r,
            6,
            Formula::new(format!("=(C{n}*A{n}-B{n})*A{n}")).set_result((exact / 2.0).to_string()),
        )
        .unwrap();
    }
    let (book, v) = judged(wb);
    let by = |r: &str| column(&v, r);
    let e = by("E2:E4");
    assert_eq!(
        (e.verdict, e.of.as_str(), e.wrt.as_str()),
        ("exact", "D2", "C2")
    );
    let f = by("F2:F4");
    assert_eq!((f.verdict, f.h), ("forward difference", Some(0.01)));
    // A forward difference of (ax − y)² errs by h·x² exactly: 0.01·81 at x = 9.
    assert!((f.max_abs_error - 0.81).abs() < 1e-9, "{f:?}");
    // The note names that error in the sheet's cells, and where it is largest.
    assert!(
        f.note.contains(
            "its error is h/2·∂²D2/∂C2² = 0.01*A2^2 (in row 2's cells), largest at F4: 0.81 off"
        ),
        "{f:?}"
    );
    // The exact column beside it, in the sheet's cells, where the parameter is a number
    // typed on each row (an input, not a formula).
    let cells = book.exact_column(f);
    assert_eq!(cells.len(), 3);
    assert_eq!(cells[2].formula.as_deref(), Some("2*(C4*A4-B4)*A4"));
    assert_eq!(cells[2].value, 2.0 * (0.5 * 9.0 - 2.0) * 9.0);
    // A ratio is read as a person reads it.
    assert!(!e.note.contains("0000000"), "{e:?}");
    let g = by("G2:G4");
    assert_eq!(g.verdict, "wrong");
    assert!(g.note.starts_with("0.5 times ∂D2/∂C2"), "{g:?}");
}

/// The compiled workbook gives every computed cell's value with inputs changed: the same
/// numbers as `value_with`, cell by cell, and the saved values with no change.
#[test]
fn live_values_follow_a_changed_input() {
    let book = Book::open(&learner_book()).unwrap();
    let live = book.live().unwrap();
    let a = book.key("'my model'!B1").unwrap();
    assert!(book.is_input(a));
    let base: std::collections::HashMap<_, _> = live.values(&[]).unwrap().into_iter().collect();
    let e = book.key("'my model'!B5").unwrap();
    assert!(book.is_computed(e));
    assert_eq!(base[&e], 144.0);
    let changed = live.values(&[(a, 2.5)]).unwrap();
    assert_eq!(changed.len(), 7, "every computed cell, and only those");
    for (k, v) in &changed {
        let addr = book.address_of(*k);
        let expect = book.value_with(&addr, &[("'my model'!B1", 2.5)]).unwrap();
        assert_eq!(v.to_bits(), expect.to_bits(), "{addr}");
    }
    let cm: std::collections::HashMap<_, _> = changed.into_iter().collect();
    assert_eq!(cm[&e], (2.5 * 9.0 - 30.0f64).powi(2));
    assert_eq!(
        live.values(&[(e, 1.0)]),
        Err(e),
        "a formula is not an input"
    );
    assert!(book
        .skipped_reason(book.key("'my model'!A11").unwrap())
        .unwrap()
        .contains("VLOOKUP"));
}

/// Row 0 does not exist: an address error, not an overflow (the subtraction was
/// evaluated before its guard).
#[test]
fn row_zero_is_an_address_error() {
    let book = Book::open(&learner_book()).unwrap();
    for a in ["'my model'!A0", "'my model'!B00"] {
        let e = book.key(a).unwrap_err().to_string();
        assert!(e.contains("is not a cell like A1"), "{a}: {e}");
    }
    assert_eq!(book.key("'my model'!$B$1").unwrap(), (0, 0, 1));
}

/// The forum's 2-neuron model y = c·(a·x+b)+d on a sheet where c is still 1 on every
/// row: a de/da typed without its factor c equals the exact derivative at every number
/// the sheet holds. Looked at again with the inputs moved, it is found wrong; the right
/// column and the forward difference keep their verdicts.
#[test]
fn a_missing_factor_hidden_by_c_equal_to_1_is_found() {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet().set_name("2 neurons").unwrap();
    for (c, h) in [
        "x",
        "y",
        "a",
        "b",
        "c",
        "d",
        "err",
        "de/da",
        "de/db",
        "est de/dc",
        "de/dd",
        "my de/db",
    ]
    .iter()
    .enumerate()
    {
        ws.write(0, c as u16, *h).unwrap();
    }
    let rows = [
        (14.0f64, 58.0f64),
        (86.0, 202.0),
        (28.0, 86.0),
        (51.0, 133.0),
    ];
    for (i, (x, y)) in rows.iter().enumerate() {
        let r = i as u32 + 1;
        let n = r + 1;
        let (a, b, c, d) = (1.0f64, 1.0f64, 1.0f64, 1.0f64);
        for (k, v) in [x, y, &a, &b, &c, &d].iter().enumerate() {
            ws.write(r, k as u16, **v).unwrap();
        }
        let pred = |a: f64, c: f64| c * (a * x + b) + d;
        let e = (pred(a, c) - y).powi(2);
        let g = format!("(E{n}*(C{n}*A{n}+D{n})+F{n}-B{n})");
        let cells = [
            (format!("={g}^2"), e),
            // The learner's de/da: the chain rule stopped before c.
            (format!("=2*{g}*A{n}"), 2.0 * (pred(a, c) - y) * x),
            (format!("=2*{g}*E{n}"), 2.0 * (pred(a, c) - y) * c),
            (
                format!("=((((E{n}+0.01)*(C{n}*A{n}+D{n})+F{n}-B{n})^2)-G{n})/0.01"),
                ((pred(a, c + 0.01) - y).powi(2) - e) / 0.01,
            ),
            // ∂e/∂c typed under de/dd: the wrong parameter.
            (
                format!("=2*{g}*(C{n}*A{n}+D{n})"),
                2.0 * (pred(a, c) - y) * (a * x + b),
            ),
            // ∂e/∂b with its sign lost.
            (format!("=-2*{g}*E{n}"), -2.0 * (pred(a, c) - y) * c),
        ];
        for (k, (f, v)) in cells.iter().enumerate() {
            ws.write(r, 6 + k as u16, Formula::new(f).set_result(v.to_string()))
                .unwrap();
        }
    }
    let (_, v) = judged(wb);
    let by = |r: &str| column(&v, r);
    let h = by("H2:H5");
    assert_eq!(h.verdict, "wrong", "{h:?}");
    assert!(
        h.note.starts_with(
            "agrees at the sheet's own numbers (as exact), but not once its inputs move by 5%"
        ),
        "{h:?}"
    );
    let i = by("I2:I5");
    assert_eq!(
        (i.verdict, i.of.as_str(), i.wrt.as_str()),
        ("exact", "G2", "D2"),
        "{i:?}"
    );
    let k = by("K2:K5");
    assert_eq!(k.verdict, "wrong", "{k:?}");
    assert_eq!(
        k.note,
        "it is ∂G2/∂E2 (headed c) (exact), but its header says ∂/∂d, and F2 is headed d: the wrong parameter"
    );
    let l = by("L2:L5");
    assert_eq!(
        (l.verdict, l.note.as_str()),
        ("wrong", "−∂G2/∂D2 on every row: the sign is wrong"),
        "{l:?}"
    );
    let j = by("J2:J5");
    assert_eq!(
        (j.verdict, j.h, j.wrt.as_str()),
        ("forward difference", Some(0.01), "E2"),
        "{j:?}"
    );
}

/// h = 0.01 beside a parameter of 10^15: a + h is a, the forward difference is 0, and the
/// verdict says rounding swamps it there rather than only "forward difference".
#[test]
fn rounding_that_swamps_a_difference_is_named() {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet().set_name("big").unwrap();
    for (c, h) in ["x", "y", "a", "e", "est de/da"].iter().enumerate() {
        ws.write(0, c as u16, *h).unwrap();
    }
    for (i, (x, a)) in [(2.0f64, 1.5f64), (3.0, 1e15)].iter().enumerate() {
        let (r, n) = (i as u32 + 1, i + 2);
        let y = 1.0;
        ws.write(r, 0, *x).unwrap();
        ws.write(r, 1, y).unwrap();
        ws.write(r, 2, *a).unwrap();
        let e = (a * x - y).powi(2);
        ws.write(
            r,
            3,
            Formula::new(format!("=(C{n}*A{n}-B{n})^2")).set_result(e.to_string()),
        )
        .unwrap();
        let fwd = (((a + 0.01) * x - y).powi(2) - e) / 0.01;
        ws.write(
            r,
            4,
            Formula::new(format!("=(((C{n}+0.01)*A{n}-B{n})^2-D{n})/0.01"))
                .set_result(fwd.to_string()),
        )
        .unwrap();
    }
    let book = Book::open(&wb.save_to_buffer().unwrap()).unwrap();
    let v = book.derivative_columns();
    let col = v
        .iter()
        .find(|c| c.range == "E2:E3")
        .unwrap_or_else(|| panic!("{v:?}"));
    assert_eq!(
        (col.verdict, col.h),
        ("forward difference", Some(0.01)),
        "{col:?}"
    );
    assert!(
        col.note
            .contains("from E3 rounding swamps it: C3 = 1e15 is kept to steps of about 0.222"),
        "{col:?}"
    );
}

/// Derivative columns under headers that do not say so ("slope", "nudged") are found by
/// their values: the exact one and the forward difference; a column that is no
/// derivative (twice the prediction) is not reported.
#[test]
fn derivative_columns_without_a_header_are_found_by_their_values() {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet().set_name("plain").unwrap();
    for (c, h) in ["x", "y", "a", "pred", "e", "slope", "nudged", "twice"]
        .iter()
        .enumerate()
    {
        ws.write(0, c as u16, *h).unwrap();
    }
    for (i, (x, y, a)) in [
        (1.0f64, 3.0f64, 2.0f64),
        (4.0, 7.0, 1.5),
        (9.0, 2.0, 0.5),
        (3.0, 5.0, 1.0),
    ]
    .iter()
    .enumerate()
    {
        let (r, n) = (i as u32 + 1, i + 2);
        ws.write(r, 0, *x).unwrap();
        ws.write(r, 1, *y).unwrap();
        ws.write(r, 2, *a).unwrap();
        let (p, e) = (a * x, (a * x - y).powi(2));
        let cells = [
            (format!("=C{n}*A{n}"), p),
            (format!("=(D{n}-B{n})^2"), e),
            (format!("=2*(D{n}-B{n})*A{n}"), 2.0 * (p - y) * x),
            (
                format!("=(((C{n}+0.01)*A{n}-B{n})^2-E{n})/0.01"),
                (((a + 0.01) * x - y).powi(2) - e) / 0.01,
            ),
            (format!("=2*D{n}"), 2.0 * p),
        ];
        for (k, (f, v)) in cells.iter().enumerate() {
            ws.write(r, 3 + k as u16, Formula::new(f).set_result(v.to_string()))
                .unwrap();
        }
    }
    let book = Book::open(&wb.save_to_buffer().unwrap()).unwrap();
    let v = book.derivative_columns();
    let found: Vec<(&str, &str, &str, &str)> = v
        .iter()
        .map(|c| (c.range.as_str(), c.verdict, c.of.as_str(), c.wrt.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("F2:F5", "exact", "E2", "C2"),
            ("G2:G5", "forward difference", "E2", "C2")
        ],
        "{v:?}"
    );
    assert!(
        v[0].note
            .starts_with("found by its values (no header says so): ∂E2/∂C2"),
        "{v:?}"
    );
}

//! A learner's workbook written back (`gradsheet book FILE --xlsx OUT`): beside each
//! derivative column he typed, the exact derivative as live formulas in his own cells;
//! LibreOffice, recalculating every formula of the copy, gets the values he saved and the
//! engine's exact derivatives.

use gradsheet_book::Book;
use rust_xlsxwriter::{Formula, Workbook};

use crate::soffice::{check_book, recalculate, soffice};

const XS: [f64; 5] = [14.0, 86.0, 28.0, 51.0, 28.0];
const A: f64 = 2.5;
const B: f64 = 1.25;

/// graddesc's basic sheet in small: b and a on every row, the prediction, the squared
/// error, a forward difference for ∂e/∂b (right, h = 0.01), the exact ∂e/∂b, and ∂e/∂a
/// missing its factor 2 (wrong).
fn learner() -> Vec<u8> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet().set_name("my sgd").unwrap();
    let f = |s: &str, v: f64| Formula::new(s).set_result(format!("{v}"));
    ws.write(0, 10, A).unwrap();
    ws.write(1, 10, B).unwrap();
    for (c, h) in [
        "x",
        "y",
        "b",
        "a",
        "pred",
        "err",
        "errb1",
        "est de/db",
        "de/db",
        "de/da",
    ]
    .iter()
    .enumerate()
    {
        ws.write(0, c as u16, *h).unwrap();
    }
    for (i, x) in XS.iter().enumerate() {
        let (r, n) = (i as u32 + 1, i + 2);
        let y = 2.0 * x + 30.0;
        let pred = B + A * x;
        let err = (y - pred).powi(2);
        let errb1 = (((B + 0.01) + x * A) - y).powi(2);
        ws.write(r, 0, *x).unwrap();
        ws.write(r, 1, y).unwrap();
        ws.write(r, 2, f("=$K$2", B)).unwrap();
        ws.write(r, 3, f("=$K$1", A)).unwrap();
        ws.write(r, 4, f(&format!("=C{n}+D{n}*A{n}"), pred))
            .unwrap();
        ws.write(r, 5, f(&format!("=(B{n}-E{n})^2"), err)).unwrap();
        ws.write(
            r,
            6,
            f(&format!("=(((C{n}+0.01)+A{n}*D{n})-B{n})^2"), errb1),
        )
        .unwrap();
        ws.write(r, 7, f(&format!("=(G{n}-F{n})/0.01"), (errb1 - err) / 0.01))
            .unwrap();
        ws.write(r, 8, f(&format!("=2*(E{n}-B{n})"), 2.0 * (pred - y)))
            .unwrap();
        ws.write(r, 9, f(&format!("=(E{n}-B{n})*A{n}"), (pred - y) * x))
            .unwrap();
    }
    // An array formula over two cells, below the rows: twice the first two x.
    ws.write_array_formula(
        8,
        0,
        9,
        0,
        Formula::new("=A2:A3*2").set_result(format!("{}", 2.0 * XS[0])),
    )
    .unwrap();
    wb.save_to_buffer().unwrap()
}

#[test]
fn exact_columns_recalculate_in_libreoffice_to_the_engines_values() {
    let book = Book::open(&learner()).unwrap();
    let cols = book.derivative_columns();
    let verdict = |range: &str| cols.iter().find(|c| c.range == range).unwrap().verdict;
    assert_eq!(verdict("H2:H6"), "forward difference");
    assert_eq!(verdict("I2:I6"), "exact");
    assert_eq!(verdict("J2:J6"), "wrong");
    let out = gradsheet_report::book::with_exact_columns(&book, &cols);
    // The exact ∂err/∂b reads as the learner would write it, in his own cells.
    let sheet = &out.sheets[0];
    let formula = |r: u32, c: u16| {
        sheet
            .cells
            .iter()
            .find(|x| x.0 == r && x.1 == c)
            .map(|x| x.2.clone())
    };
    assert_eq!(
        formula(1, 12),
        Some(gradsheet_report::labs::Cell::Formula(
            "=-2*(B2-E2)".into(),
            -2.0 * ((2.0 * XS[0] + 30.0) - (B + A * XS[0]))
        ))
    );
    let verdicts = out
        .sheets
        .iter()
        .find(|s| s.name == "gradsheet verdicts")
        .unwrap();
    assert!(verdicts
        .cells
        .iter()
        .any(|c| c.2 == gradsheet_report::labs::Cell::Text("forward difference".into())));
    let recalc_in = vec![("learner".to_string(), out.to_xlsx(true).unwrap())];
    let Some(bin) = soffice() else { return };
    let saved = recalculate(&bin, &recalc_in);
    let mut failures = Vec::new();
    let checked = check_book("learner", &out, &saved[0], &mut failures);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // 5 rows of 8 formulas, 3 exact columns of 5, and the array formula.
    assert_eq!(checked, 5 * 8 + 3 * 5 + 1);
    // The array is written back as one: its second cell, which the copy holds as 0 until
    // recalculated, is twice the second x once LibreOffice has.
    assert!(sheet.cells.iter().any(|c| c.0 == 8
        && c.1 == 0
        && matches!(&c.2, gradsheet_report::labs::Cell::Array(f, 9, 0, _) if f == "=A2:A3*2")));
    let again = Book::open(&saved[0]).unwrap();
    let a10 = again.workbook().sheets[0]
        .cells
        .iter()
        .find(|c| c.row == 9 && c.col == 0)
        .map(|c| c.value.clone());
    assert_eq!(a10, Some(gradsheet_book::Value::Num(2.0 * XS[1])));
}

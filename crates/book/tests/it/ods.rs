//! A workbook in LibreOffice's own format (.ods): read, recalculated, judged and
//! explained as an .xlsx is (tests/data/README.md says how the file was made).

use gradsheet_book::Book;

fn open() -> Book {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/learner-sgd.ods"
    ))
    .unwrap();
    Book::open(&bytes).unwrap()
}

#[test]
fn an_ods_opens_recalculates_and_is_judged() {
    let b = open();
    let wb = b.workbook();
    let names: Vec<&str> = wb.sheets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["sgd", "my summary"]);
    assert_eq!(wb.saved_digits, Some(15));
    // The named range, read from content.xml, as an .xlsx's defined name reads.
    assert!(
        wb.names.iter().any(|(n, t)| n == "lr" && t == "sgd!$J$2"),
        "{:?}",
        wb.names
    );
    // Every formula cell (OpenFormula rewritten as Excel writes it: `[.C2]`, `;`, a
    // quoted sheet) recalculates to LibreOffice's saved value, to its 15 digits.
    let r = b.recalculate();
    assert_eq!(
        (r.formula_cells, r.agree),
        (56, 56),
        "{:?} {:?}",
        r.differ,
        r.skipped
    );
    let f = |sheet: usize, a1: &str| {
        wb.sheets[sheet]
            .cells
            .iter()
            .find(|c| gradsheet_book::cell_name(c.row, c.col) == a1)
            .and_then(|c| c.formula.clone())
    };
    assert_eq!(f(0, "C3").as_deref(), Some("C2-G2*lr"));
    assert_eq!(f(1, "B1").as_deref(), Some("SUM(sgd!F2:F9)"));
    assert_eq!(f(1, "B2").as_deref(), Some("ROUND(B1,-2)"));
    let cols = b.derivative_columns();
    let verdicts: Vec<(&str, &str)> = cols.iter().map(|c| (c.range.as_str(), c.verdict)).collect();
    assert_eq!(
        verdicts,
        [
            ("G2:G9", "exact"),
            ("H2:H9", "exact"),
            ("I2:I9", "forward difference")
        ]
    );
    // The sum of the errors differentiated by the first a, through every row.
    let g = b.gradient("'my summary'!B1").unwrap();
    let d = g.derivatives.iter().find(|(c, _)| c == "sgd!D2").unwrap().1;
    let h = 1e-6;
    let at = |a: f64| b.value_with("'my summary'!B1", &[("sgd!D2", a)]).unwrap();
    let fd = (at(1.0 + h) - at(1.0 - h)) / (2.0 * h);
    assert!((d - fd).abs() < 1e-6 * d.abs(), "{d} {fd}");
    // And explained: x = 99 is too steep for lr = 3e-4, the named cell said.
    let x = b.explain_sheet("sgd", &[]).unwrap();
    assert_eq!(x.steep.first().map(|w| w.row), Some(9), "{x:?}");
    assert!(
        x.findings[0].contains("the learning rate (sgd!J2 = 3e-4)"),
        "{:?}",
        x.findings
    );
}

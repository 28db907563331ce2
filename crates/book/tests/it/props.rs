//! Properties on random input: no formula text, however malformed, panics the translation;
//! OpenFormula references read back as the Excel references they were made from.

use gradsheet_book::read::{Cell, Sheet, Value, Workbook};
use gradsheet_book::{formula, ods, Book};
use proptest::prelude::*;

fn book() -> Book {
    let cells = (0..4)
        .flat_map(|r| (0..4).map(move |c| (r, c)))
        .map(|(row, col)| Cell {
            row,
            col,
            value: Value::Num(f64::from(row * 4 + col)),
            formula: None,
        })
        .collect();
    Book::from_workbook(Workbook {
        sheets: vec![
            Sheet {
                name: "s".into(),
                cells,
            },
            Sheet {
                name: "my sheet".into(),
                cells: Vec::new(),
            },
        ],
        names: vec![("lr".into(), "s!$A$1".into())],
        has_macros: false,
        saved_digits: None,
    })
}

/// A cell as Excel writes it and as OpenFormula does.
fn cell() -> impl Strategy<Value = (String, String)> {
    (0u32..30, 1u32..200, any::<bool>(), any::<bool>()).prop_map(|(c, r, dc, dr)| {
        let col = gradsheet_book::cell_name(0, c)
            .trim_end_matches('1')
            .to_string();
        let a = format!(
            "{}{col}{}{r}",
            if dc { "$" } else { "" },
            if dr { "$" } else { "" }
        );
        (a.clone(), a)
    })
}

/// A reference: one cell or a range, on no sheet, `s`, or `my sheet`.
fn reference() -> impl Strategy<Value = (String, String)> {
    (cell(), proptest::option::of(cell()), 0usize..3).prop_map(|((x1, o1), second, sheet)| {
        let (xs, os) = match sheet {
            0 => (String::new(), ".".to_string()),
            1 => ("s!".to_string(), "$s.".to_string()),
            _ => ("'my sheet'!".to_string(), "$'my sheet'.".to_string()),
        };
        match second {
            None => (format!("{xs}{x1}"), format!("[{os}{o1}]")),
            Some((x2, o2)) => (format!("{xs}{x1}:{x2}"), format!("[{os}{o1}:.{o2}]")),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_formula_text_panics_the_translation(src in "[-+*/^(),:;!$'\"&%<>= A-Za-z0-9.\\[\\]{}#_]{0,60}") {
        let b = book();
        let _ = formula::translate(&src, (0, 0, 9), &b);
        let _ = formula::translate_array(&src, (0, 0, 9), (2, 2), &b);
        let _ = ods::to_excel(&src);
    }

    #[test]
    fn openformula_references_read_back(refs in proptest::collection::vec(reference(), 1..4), op in "[-+*/]") {
        let xl = format!("SUM({})", refs.iter().map(|r| r.0.clone()).collect::<Vec<_>>().join(&op));
        let of = format!("of:=SUM({})", refs.iter().map(|r| r.1.clone()).collect::<Vec<_>>().join(&op));
        prop_assert_eq!(ods::to_excel(&of), xl);
    }
}

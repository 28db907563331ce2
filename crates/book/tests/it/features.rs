//! The spreadsheet features fast.ai's workbooks lean on, in a workbook written here:
//! a table read by structured references, array formulas (a multi-cell MMULT, an array
//! SUM), comparisons with text, MATCH, INDEX and OFFSET as selectors, VAR.P, STDEV.P,
//! ROWS — each recalculated to the values written and differentiated exactly.

use gradsheet_book::Book;
use rust_xlsxwriter::{Formula, Table, TableColumn, Workbook};

const XS: [f64; 5] = [1.0, 2.0, 3.0, 4.0, 5.0];
const YS: [f64; 5] = [2.5, 4.0, 7.5, 8.0, 11.0];
const CLS: [&str; 5] = ["a", "b", "a", "b", "b"];
const W: f64 = 2.0;
const K: [[f64; 2]; 2] = [[1.5, -2.0], [0.5, 3.0]];
const M3: f64 = 0.25;

fn f(formula: &str, v: f64) -> Formula {
    Formula::new(formula).set_result(format!("{v}"))
}

/// Sheet "data": table `Rows` (x, y, cls) in A1:C6; beside each row the prediction
/// `w·x + [cls = "a"]` (E) and its squared error (F); w in H1; summaries in H2:H6; an
/// array MMULT of K (K2:L3) by (w, 0.25) (M2:M3) filling J2:J3; selections in J5:J8.
fn book() -> Vec<u8> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet().set_name("data").unwrap();
    let table = Table::new().set_name("Rows").set_columns(&[
        TableColumn::new().set_header("x"),
        TableColumn::new().set_header("y"),
        TableColumn::new().set_header("cls"),
    ]);
    ws.add_table(0, 0, 5, 2, &table).unwrap();
    let mut errs = Vec::new();
    for i in 0..5 {
        let r = i as u32 + 1;
        ws.write(r, 0, XS[i]).unwrap();
        ws.write(r, 1, YS[i]).unwrap();
        ws.write(r, 2, CLS[i]).unwrap();
        let pred = W * XS[i] + if CLS[i] == "a" { 1.0 } else { 0.0 };
        ws.write(
            r,
            4,
            f(
                "=Rows[[#This Row],[x]]*$H$1+IF(Rows[[#This Row],[cls]]=\"a\",1,0)",
                pred,
            ),
        )
        .unwrap();
        let e = (YS[i] - pred).powi(2);
        errs.push(e);
        ws.write(
            r,
            5,
            f(&format!("=(Rows[[#This Row],[y]]-E{})^2", r + 1), e),
        )
        .unwrap();
    }
    ws.write(0, 7, W).unwrap();
    let mean = errs.iter().sum::<f64>() / 5.0;
    ws.write(1, 7, f("=AVERAGE(F2:F6)", mean)).unwrap();
    ws.write(2, 7, f("=MAX(Rows[x])", 5.0)).unwrap();
    let (s, sq) = (
        YS.iter().sum::<f64>(),
        YS.iter().map(|y| y * y).sum::<f64>(),
    );
    let var = (5.0 * sq - s * s) / 25.0;
    ws.write(3, 7, f("=VAR.P(Rows[y])", var)).unwrap();
    let m = s / 5.0;
    let sd = (YS.iter().map(|y| (y - m).powi(2)).sum::<f64>() / 5.0).sqrt();
    ws.write(4, 7, f("=STDEV.P(Rows[y])", sd)).unwrap();
    ws.write(5, 7, f("=ROWS(Rows[x])", 5.0)).unwrap();
    // K and the vector (w, 0.25); J2:J3 = K·(w, 0.25), written once at J2.
    for (r, row) in K.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write(r as u32 + 1, 10 + c as u16, *v).unwrap();
        }
    }
    ws.write(1, 12, f("=H1", W)).unwrap();
    ws.write(2, 12, M3).unwrap();
    let j = [K[0][0] * W + K[0][1] * M3, K[1][0] * W + K[1][1] * M3];
    ws.write_array_formula(1, 9, 2, 9, f("=MMULT(K2:L3,M2:M3)", j[0]))
        .unwrap();
    // Excel keeps the other cells' values beside the one formula.
    ws.write(2, 9, j[1]).unwrap();
    let sumsq: f64 = K.iter().flatten().map(|v| v * v).sum();
    ws.write_array_formula(4, 9, 4, 9, f("=SUM(K2:L3*K2:L3)", sumsq))
        .unwrap();
    ws.write(5, 9, f("=MATCH(3.5,Rows[x])", 3.0)).unwrap();
    ws.write(6, 9, f("=INDEX(Rows[y],J6)", YS[2])).unwrap();
    ws.write(7, 9, f("=OFFSET($B$1,J6,0)*H1", YS[2] * W))
        .unwrap();
    wb.save_to_buffer().unwrap()
}

#[test]
fn tables_arrays_text_and_selectors_recalculate() {
    let b = Book::open(&book()).unwrap();
    let r = b.recalculate();
    assert!(r.skipped.is_empty(), "{:?}", r.skipped);
    assert!(r.differ.is_empty(), "{:?}", r.differ);
    // 10 cells of rows, 5 summaries, M2, J2:J3 (two cells, one formula), J5:J8.
    assert_eq!((r.formula_cells, r.agree), (22, 22), "{r:?}");
}

#[test]
fn derivatives_follow_structured_references_arrays_and_selections() {
    let b = Book::open(&book()).unwrap();
    let d = |cell: &str, wrt: &str| {
        let g = b.gradient(cell).unwrap();
        g.derivatives
            .iter()
            .find(|(c, _)| c == wrt)
            .map(|x| x.1)
            .unwrap_or_else(|| panic!("∂{cell}/∂{wrt} not in {:?}", g.derivatives))
    };
    // ∂ mean((y − w·x − [a])²)/∂w = mean(−2x(y − pred)).
    let want: f64 = (0..5)
        .map(|i| {
            let pred = W * XS[i] + if CLS[i] == "a" { 1.0 } else { 0.0 };
            -2.0 * XS[i] * (YS[i] - pred)
        })
        .sum::<f64>()
        / 5.0;
    assert!((d("data!H2", "data!H1") - want).abs() < 1e-12);
    // Through the table's y column: ∂H2/∂B3 = −2(y₂ − pred₂)/5.
    let pred2 = W * XS[1];
    assert!((d("data!H2", "data!B3") + 2.0 * (YS[1] - pred2) / 5.0).abs() < 1e-12);
    // The MMULT's second cell: K[1][0]·w + K[1][1]·0.25, so ∂/∂w = K[1][0] = 0.5.
    assert_eq!(d("data!J3", "data!H1"), K[1][0]);
    assert_eq!(d("data!J3", "data!L3"), M3);
    // The selection passes its derivative to the cell selected, y of the third row.
    assert_eq!(d("data!J8", "data!B4"), W);
    assert_eq!(d("data!J8", "data!H1"), YS[2]);
    // STDEV.P: ∂σ/∂y_i = (y_i − ȳ)/(n·σ).
    let m = YS.iter().sum::<f64>() / 5.0;
    let sd = (YS.iter().map(|y| (y - m).powi(2)).sum::<f64>() / 5.0).sqrt();
    assert!((d("data!H5", "data!B2") - (YS[0] - m) / (5.0 * sd)).abs() < 1e-12);
}

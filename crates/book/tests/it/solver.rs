//! Excel Solver's problems, read from a sheet's own names and solved on the exact
//! gradient: a least-squares line whose optimum is known in closed form, a maximum, a
//! value to reach; and fast.ai's Solver sheets from where Excel left them.

use gradsheet_book::solver::{Goal, Method};
use gradsheet_book::Book;
use rust_xlsxwriter::{Formula, Workbook};

const XS: [f64; 6] = [1.0, 2.0, 4.0, 5.0, 7.0, 9.0];
const YS: [f64; 6] = [3.1, 4.9, 9.2, 10.8, 15.1, 19.0];

/// Sheet "fit": x, y in A2:B7, a in E1, b in E2, the squared errors in C2:C7, their sum in
/// E3 — Solver minimising E3 by changing E1:E2 (`typ`, `val`: the goal). A second sheet
/// "other" has settings of its own, that must not be taken for the first's.
fn fit(typ: &str, val: Option<&str>) -> Vec<u8> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet().set_name("fit").unwrap();
    ws.write(0, 3, "a").unwrap();
    ws.write(0, 4, 0.5).unwrap();
    ws.write(1, 3, "b").unwrap();
    ws.write(1, 4, 0.0).unwrap();
    for (i, (x, y)) in XS.iter().zip(YS).enumerate() {
        let (r, n) = (i as u32 + 1, i + 2);
        ws.write(r, 0, *x).unwrap();
        ws.write(r, 1, y).unwrap();
        ws.write(r, 2, Formula::new(format!("=($E$1*A{n}+$E$2-B{n})^2")))
            .unwrap();
    }
    ws.write(2, 4, Formula::new("=SUM(C2:C7)")).unwrap();
    let other = wb.add_worksheet().set_name("other").unwrap();
    other.write(0, 0, 1.0).unwrap();
    other.write(0, 1, Formula::new("=A1^2")).unwrap();
    wb.define_name("fit!solver_opt", "=fit!$E$3").unwrap();
    wb.define_name("fit!solver_adj", "=fit!$E$1:$E$2").unwrap();
    wb.define_name("fit!solver_typ", typ).unwrap();
    if let Some(v) = val {
        wb.define_name("fit!solver_val", v).unwrap();
    }
    wb.define_name("other!solver_opt", "=other!$B$1").unwrap();
    wb.define_name("other!solver_adj", "=other!$A$1").unwrap();
    wb.define_name("other!solver_typ", "=1").unwrap();
    wb.save_to_buffer().unwrap()
}

/// The least-squares line, from the normal equations.
fn least_squares() -> (f64, f64, f64) {
    let n = XS.len() as f64;
    let (sx, sy) = (XS.iter().sum::<f64>(), YS.iter().sum::<f64>());
    let sxx: f64 = XS.iter().map(|x| x * x).sum();
    let sxy: f64 = XS.iter().zip(YS).map(|(x, y)| x * y).sum();
    let a = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    let b = (sy - a * sx) / n;
    let sse = XS
        .iter()
        .zip(YS)
        .map(|(x, y)| (a * x + b - y).powi(2))
        .sum();
    (a, b, sse)
}

#[test]
fn a_least_squares_line_is_solved_to_its_closed_form() {
    let book = Book::open(&fit("=2", None)).unwrap();
    let s = book.sheet_index("fit").unwrap();
    let sv = book.solver(s).unwrap().unwrap();
    assert_eq!(
        (
            sv.goal,
            sv.objective_text.as_str(),
            sv.changing_text.as_str()
        ),
        (Goal::Min, "fit!E3", "E1:E2")
    );
    let mut rows = Vec::new();
    let solved = book
        .solve(s, 100, Method::Lbfgs, |st| rows.push(*st))
        .unwrap();
    let (a, b, sse) = least_squares();
    let got: Vec<f64> = solved.changing.iter().map(|c| c.1).collect();
    assert!(
        (got[0] - a).abs() < 1e-6 && (got[1] - b).abs() < 1e-6,
        "{got:?} vs {a}, {b}"
    );
    assert_eq!(rows[0].iteration, 0);
    // The start: a = 0.5, b = 0.
    let start: f64 = XS.iter().zip(YS).map(|(x, y)| (0.5 * x - y).powi(2)).sum();
    assert_eq!(rows[0].objective, start);
    let last = rows.last().unwrap();
    assert!((last.objective - sse).abs() < 1e-9, "{last:?} vs {sse}");
    // Each row an iteration, the objective never rising.
    assert!(
        rows.windows(2)
            .all(|w| w[1].iteration == w[0].iteration + 1 && w[1].objective <= w[0].objective),
        "{rows:?}"
    );
    // Adam gets there too, more slowly.
    let solved = book.solve(s, 3000, Method::Adam(0.05), |_| {}).unwrap();
    let got: Vec<f64> = solved.changing.iter().map(|c| c.1).collect();
    assert!(
        (got[0] - a).abs() < 1e-3 && (got[1] - b).abs() < 1e-2,
        "{got:?}"
    );
    // The other sheet's settings are its own: maximise B1 by A1.
    let o = book
        .solver(book.sheet_index("other").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!((o.goal, o.objective_text.as_str()), (Goal::Max, "other!B1"));
}

#[test]
fn a_value_to_reach_and_unreadable_settings() {
    // Reach SSE = 50: the objective ends at 50.
    let book = Book::open(&fit("=3", Some("=50"))).unwrap();
    let s = book.sheet_index("fit").unwrap();
    let mut last = None;
    book.solve(s, 200, Method::Lbfgs, |st| last = Some(*st))
        .unwrap();
    let last = last.unwrap();
    assert!((last.objective - 50.0).abs() < 1e-6, "{last:?}");
    // typ 3 without a value, and a typ that is not 1, 2 or 3, are named.
    let book = Book::open(&fit("=3", None)).unwrap();
    let e = book.solver(0).unwrap().unwrap_err();
    assert!(
        e.contains("solver_typ 3 (a value) without a number in solver_val"),
        "{e}"
    );
    let book = Book::open(&fit("=7", None)).unwrap();
    let e = book
        .solve(0, 5, Method::Lbfgs, |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("solver_typ 7 is not 1, 2 or 3"), "{e}");
    // A solving's memory grows with its iterations: their number is bounded.
    let book = Book::open(&fit("=2", None)).unwrap();
    let e = book
        .solve(0, 100_001, Method::Lbfgs, |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("100001 iterations: at most 100000"), "{e}");
}

/// fast.ai's Solver sheets, from where Excel's Solver left them: the objective never
/// ends above Excel's (skipped loudly without the workbooks; their numbers are not in
/// this repository).
#[test]
fn fast_ais_solver_sheets_end_at_or_below_excels() {
    for (name, sheets) in [
        ("collab_filter.xlsx", &["dotprod", "bias"][..]),
        ("titanic.xlsx", &["linear", "nnet", "mmult"][..]),
    ] {
        let Some(p) = gradsheet_testkit::shared(&format!("workbooks/{name}")) else {
            return;
        };
        let book = Book::open(&std::fs::read(p).unwrap()).unwrap();
        for sheet in sheets {
            let s = book.sheet_index(sheet).unwrap();
            let mut rows = Vec::new();
            let solved = book
                .solve(s, 30, Method::Lbfgs, |st| rows.push(*st))
                .unwrap();
            let saved = solved.solver.saved.unwrap();
            // The start is Excel's saved state, recalculated.
            assert!(
                (rows[0].objective - saved).abs() <= 1e-12 * saved.abs(),
                "{name} {sheet}: {rows:?}"
            );
            let end = rows.last().unwrap().objective;
            assert!(end <= saved, "{name} {sheet}: {end} > {saved}");
            eprintln!("{name} {sheet}: Excel's Solver {saved}, gradsheet's L-BFGS {end} in {} evaluations", solved.evaluations);
        }
    }
}

use crate::grid::{table_within_grid, Sheet};
use gradsheet_labs::small::*;

#[test]
fn broadcasting_sheet_cells() {
    let b = broadcasting_sheet();
    let mut g = Sheet::load("course-v3__broadcasting__Sheet1");
    g.input("D2:F2");
    g.input("D7:D9");
    g.input("D12:F14");
    for (k, row) in [(0, 3), (1, 8), (2, 13)] {
        g.check("B", row, b.shapes[k].0 as f64);
        g.check("B", row + 1, b.shapes[k].1 as f64);
    }
    g.check_grid("H", 2, 1, &b.c_rows);
    g.check_grid("L", 2, 1, &b.c_plus_m);
    g.check_grid("H", 7, 1, &b.c_cols);
    g.check_grid("L", 7, 1, &b.ccol_plus_m);
    g.check_grid("P", 2, 1, &b.outer);
    g.finish();
}

#[test]
fn style_loss_gram() {
    let s = style_loss();
    let mut g = Sheet::load("course-v3__style_loss__Sheet1");
    g.input("C2:F5");
    g.input("C8:D9");
    g.input("C12:D13");
    g.check_grid("C", 16, 1, &s.outputs[0]);
    g.check_grid("C", 21, 1, &s.outputs[1]);
    g.check_grid("C", 29, 1, &s.gram.map(|r| r.to_vec()));
    g.finish();
}

#[test]
fn emb_sizing_rule() {
    let mut g = Sheet::load("course-v3__emb_sizing__Sheet1");
    g.input("E1:E2");
    for (i, (n, want, d)) in emb_sizing_sheet().into_iter().enumerate() {
        let row = 3 + i as u32;
        g.check("B", row, n);
        g.check("C", row, want);
        g.check("D", row, d);
    }
    g.finish();
    table_within_grid(
        "course-v3__emb_sizing__Sheet1",
        "course-v3__emb_sizing__Sheet1",
    );
    // Halves round away from zero: n^0.56·1.6 = 2.5 would give 3, not banker's 2.
    assert_eq!(gradsheet_labs::excel::round(2.5, 0), 3.0);
}

#[test]
fn emb_results_var_min_and_pivot() {
    let runs = emb_results();
    let mut g = Sheet::load("course-v3__emb_results__Sheet1");
    g.input("A2:E17"); // flags and the pasted minscore (from another source, docs/workbooks.md §10)
    g.input("A20:N35");
    for (i, r) in runs.iter().enumerate() {
        let row = 20 + i as u32;
        g.check("P", row, r.var);
        g.check("Q", row, r.min);
        // F2:F17 equals P20:P35 exactly.
        g.check("F", 2 + i as u32, r.var);
    }
    g.finish();
    let summary = emb_summary();
    for (s, r) in summary.iter().zip(&runs) {
        assert_eq!(s.0, r.flags);
    }
    let mut g = Sheet::load("course-v3__emb_results__Sheet2");
    g.check_grid("B", 6, 1, &emb_pivot(&summary));
    g.finish();
    table_within_grid(
        "course-v3__emb_results__Sheet1__runs",
        "course-v3__emb_results__Sheet1",
    );
    table_within_grid(
        "course-v3__emb_results__Sheet1__summary",
        "course-v3__emb_results__Sheet1",
    );
}

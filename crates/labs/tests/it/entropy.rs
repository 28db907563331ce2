use crate::grid::{table_within_grid, Sheet};
use gradsheet_labs::entropy::*;

#[test]
fn course_v3_softmax_sheet() {
    let s = course_v3_softmax();
    let mut g = Sheet::load("course-v3__entropy_example__softmax");
    g.input("B3:B7");
    g.input("G3:G7");
    g.check_col("C", 3, &s.image1.exps);
    g.check_col("D", 3, &s.image1.probs);
    g.check("C", 8, s.image1.sum_exp);
    g.check("D", 8, s.image1.sum_probs);
    g.check_col("H", 3, &s.image2.exps);
    g.check_col("I", 3, &s.image2.probs);
    g.check("H", 8, s.image2.sum_exp);
    g.check("I", 8, s.image2.sum_probs);
    g.check_col("K", 3, &s.sigmoid1);
    g.check_col("L", 3, &s.sigmoid2);
    assert_eq!(s.image1.logits, V3_LOGITS_1);
    for (i, v) in V3_LOGITS_2.iter().enumerate() {
        assert_eq!(g.num("G", 3 + i as u32), *v);
        assert_eq!(g.num("B", 3 + i as u32), V3_LOGITS_1[i]);
    }
    g.finish();
}

fn check_entropy(g: &mut Sheet, rows: &[EntropyRow]) {
    for (i, r) in rows.iter().enumerate() {
        let row = 2 + i as u32;
        g.check("B", row, r.is_cat);
        g.check("C", row, r.pred);
        g.check("D", row, r.bce);
        g.check("E", row, r.bce_if);
    }
    g.check("C", 9, stray_c9());
}

#[test]
fn entropy_sheets_v3_and_courses() {
    let rows = entropy_rows(&IS_CAT, &PREDS);
    for name in [
        "course-v3__entropy_example__entropy",
        "courses__entropy_example__entropy",
    ] {
        let mut g = Sheet::load(name);
        check_entropy(&mut g, &rows);
        g.finish();
    }
    let mut g = Sheet::load("course-v3__entropy_example__log_entropy");
    for (i, r) in rows.iter().enumerate() {
        let row = 2 + i as u32;
        g.input(&format!("B{row}"));
        g.input(&format!("D{row}"));
        assert_eq!((g.num("B", row), g.num("D", row)), (r.is_cat, r.pred));
        g.check("C", row, r.is_dog);
        g.check("E", row, r.log_cat);
        g.check("F", row, r.log_dog);
        g.check("G", row, r.nll);
        g.check("H", row, r.idx as f64);
        g.check("I", row, r.idx_pred);
    }
    g.finish();
}

#[test]
fn courses_softmax_from_cached_rand() {
    // B2:B6 are volatile RAND() cells: their cached values are the inputs.
    let t = softmax_table(&COURSES_LOGITS);
    let mut g = Sheet::load("courses__entropy_example__softmax");
    g.input("B2:B6");
    g.check_col("C", 2, &t.exps);
    g.check_col("D", 2, &t.probs);
    g.check("C", 7, t.sum_exp);
    g.check("D", 7, t.sum_probs);
    g.finish();
}

#[test]
fn course22_sheets() {
    let s = course22();
    let Some(mut g) = Sheet::open("course22__entropy_example__softmax") else {
        return;
    };
    g.input("B2:B6");
    g.input("E2:F6"); // actuals and the typed index 0..4
    g.check_col("C", 2, &s.softmax.exps);
    g.check_col("D", 2, &s.softmax.probs);
    g.check("C", 7, s.softmax.sum_exp);
    g.check("D", 7, s.softmax.sum_probs);
    g.finish();

    let Some(mut g) = Sheet::open("course22__entropy_example__entropy") else {
        return;
    };
    // B2:B6 are the softmax values pasted; they equal what we compute.
    g.check_col("B", 2, &s.softmax.probs);
    g.input("C2:C6");
    g.check_col("D", 2, &s.terms);
    g.check("D", 7, s.xent);
    g.check_col("B", 27, &IS_CAT);
    g.check_col("C", 27, &IS_CAT.map(|b| 1.0 - b));
    g.check_col("D", 27, &PREDS);
    g.check_col("E", 27, &s.pred_not_cat);
    g.check_col("F", 27, &s.bce);
    g.check_col("G", 27, &s.bce_if);
    g.check("F", 32, s.f32_total);
    g.finish();
}

#[test]
fn naive_softmax_overflows_and_stable_does_not() {
    let big = [800.0, 799.0, 0.0];
    assert!(softmax_naive(&big).iter().any(|p| p.is_nan()));
    let p = softmax(&big);
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-15);
    // Away from overflow both agree to the last few bits.
    let a = softmax_naive(&V3_LOGITS_1);
    let b = softmax(&V3_LOGITS_1);
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-15);
    }
}

#[test]
fn cross_entropy_log_bases_and_gradients() {
    // log10 and ln losses differ by exactly the factor ln 10.
    for (y, p) in IS_CAT.iter().zip(PREDS) {
        let r = binary_ce_ln(*y, p) / binary_ce_log10(*y, p);
        assert!((r - std::f64::consts::LN_10).abs() < 1e-12);
        // d/dp by central differences.
        let h = 1e-6;
        let fd = (binary_ce_ln(*y, p + h) - binary_ce_ln(*y, p - h)) / (2.0 * h);
        assert!((fd - binary_ce_grad_ln(*y, p)).abs() < 1e-5 * fd.abs().max(1.0));
    }
    // Softmax + CE: d/dlogit = p - y, checked by central differences.
    let y = C22_ACTUALS;
    let loss = |z: &[f64]| categorical_ce_ln(&softmax(z), &y);
    let g = softmax_ce_grad(&softmax(&C22_LOGITS), &y);
    for k in 0..5 {
        let (mut zp, mut zm) = (C22_LOGITS, C22_LOGITS);
        zp[k] += 1e-6;
        zm[k] -= 1e-6;
        let fd = (loss(&zp) - loss(&zm)) / 2e-6;
        assert!((fd - g[k]).abs() < 1e-7, "{k}: {fd} vs {}", g[k]);
    }
    assert!((categorical_ce_log10(&softmax(&C22_LOGITS), &y) - course22().xent).abs() < 1e-15);
}

#[test]
fn row_tables_are_views_of_the_grids() {
    for s in ["softmax", "entropy", "log_entropy"] {
        let name = format!("course-v3__entropy_example__{s}");
        table_within_grid(&name, &name);
    }
}

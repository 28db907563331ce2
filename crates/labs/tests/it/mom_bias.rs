use crate::grid::{table_within_grid, Sheet, GOLDEN};
use gradsheet_labs::mom_bias::*;

#[test]
fn sheet1_bias_correction() {
    let s = sheet1();
    let mut g = Sheet::load("course-v3__mom_bias__Sheet1");
    g.input("E2:F2");
    g.input("I2:J1");
    g.input("D4");
    g.input("C5:C13");
    g.check("J", 2, s.j2);
    for (i, r) in s.rows.iter().enumerate() {
        let row = 5 + i as u32;
        g.check("B", row, r.t as f64);
        g.check("D", row, r.ema);
        g.check("E", row, r.correction);
        g.check("F", row, r.debiased);
        g.check("G", row, r.correction_recursive.unwrap_or(0.0));
        g.check("H", row, r.moving_avg4.unwrap_or(0.0));
    }
    g.finish();
}

#[test]
fn sheet1_2_ew_variance() {
    let rows = sheet1_2();
    assert_eq!(rows.len(), 53);
    let mut g = Sheet::load("course-v3__mom_bias__Sheet1_2");
    g.input("C1");
    g.check("D", 1, 1.0 - 0.1);
    g.input("B4:B56");
    for (i, r) in rows.iter().enumerate() {
        let row = 4 + i as u32;
        assert_eq!(g.num("B", row), r.x);
        g.check("C", row, r.ma);
        g.check("D", row, r.x2);
        g.check("E", row, r.ma_x2);
        g.check("F", row, r.delta.unwrap_or(0.0));
        g.check("G", row, r.ma2.unwrap_or(0.0));
        g.check("H", row, r.emv);
        g.check("I", row, r.var10.unwrap_or(0.0));
    }
    g.finish();
}

#[test]
fn sheet1_3_running_batchnorm_from_pivot_cache() {
    let s = sheet1_3();
    let mut g = Sheet::load("course-v3__mom_bias__Sheet1_3");
    // A4:C53 are RAND() cells (volatile, and not what the stale pivot was built from).
    g.input("A4:C53");
    g.input("O1:P1");
    g.check("Q", 1, 1.0 - 0.2);
    g.input("K4:K8");
    for (i, r) in s.groups.iter().enumerate() {
        let row = 4 + i as u32;
        g.check("E", row, r.group);
        g.check("F", row, r.mean);
        g.check("G", row, r.var);
        g.check("H", row, r.mean_x2);
        g.check("J", row, r.bn_mv);
        g.check("L", row, r.m_count);
        g.check("M", row, r.s);
        g.check("N", row, r.m_s);
        g.check("O", row, r.ma);
        g.check("P", row, r.ma2);
        g.check("Q", row, r.ss);
        g.check("R", row, r.m_ss);
        g.check("S", row, r.mv);
    }
    g.check("F", 9, s.total.0);
    g.check("G", 9, s.total.1);
    g.check("H", 9, s.total.2);
    g.finish();
}

#[test]
fn row_tables_are_views_of_the_grids() {
    for (t, g) in [
        ("course-v3__mom_bias__Sheet1", "course-v3__mom_bias__Sheet1"),
        (
            "course-v3__mom_bias__Sheet1_2",
            "course-v3__mom_bias__Sheet1_2",
        ),
        (
            "course-v3__mom_bias__Sheet1_3__data",
            "course-v3__mom_bias__Sheet1_3",
        ),
        (
            "course-v3__mom_bias__Sheet1_3__groups",
            "course-v3__mom_bias__Sheet1_3",
        ),
    ] {
        table_within_grid(t, g);
    }
    // The pivot-cache records are not on any sheet: they are the embedded inputs.
    let text = std::fs::read_to_string(format!(
        "{GOLDEN}/course-v3__mom_bias__Sheet1_3__pivot_cache_records.csv"
    ))
    .unwrap();
    let recs = pivot_records();
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(lines.len(), recs.len());
    for (l, r) in lines.iter().zip(&recs) {
        let f: Vec<f64> = l.split(',').map(|x| x.parse().unwrap()).collect();
        assert_eq!((f[1], f[2], f[3]), *r);
    }
}

#[test]
fn running_batchnorm_rejects_missing_counts() {
    let recs = [(1.0, 1.0, 1.0), (2.0, 2.0, 4.0)];
    assert!(running_batchnorm(&recs, &[1.0], 0.2).is_err());
}

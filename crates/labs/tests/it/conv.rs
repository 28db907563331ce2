use crate::grid::Sheet;
use gradsheet_labs::conv::*;

fn check_net(
    g: &mut Sheet,
    f: &ConvForward,
    c1: [(&str, u32); 2],
    c2: [(&str, u32); 2],
    pool: [(&str, u32); 2],
) {
    for c in 0..2 {
        g.check_grid(c1[c].0, c1[c].1, 1, &f.conv1[c]);
        g.check_grid(c2[c].0, c2[c].1, 1, &f.conv2[c]);
        g.check_grid(pool[c].0, pool[c].1, 2, &f.pool[c]);
    }
}

fn classic(name: &str, net: &ConvNet) {
    let f = net.forward().unwrap();
    let Some(mut g) = Sheet::open(name) else {
        return;
    };
    g.input("A2:AB29");
    for r in [
        "AD11:AF13",
        "AD38:AF40",
        "BI11:BK13",
        "BI15:BK17",
        "BI38:BK40",
        "BI42:BK44",
    ] {
        g.input(r);
    }
    g.input("DN4:EL26");
    g.input("DN33:EL55");
    check_net(
        &mut g,
        &f,
        [("AH", 3), ("AH", 32)],
        [("BM", 4), ("BM", 33)],
        [("CM", 4), ("CM", 33)],
    );
    g.check("EN", 4, f.output);
    // The partial 25th column of conv2 is really there (CK) and pooled with blank CL.
    assert!(g.raw("CK", 4).is_some() && g.raw("CL", 4).is_none());
    g.finish();
}

#[test]
fn course_v3_and_courses_conv_example() {
    let net = course_v3();
    classic("course-v3__conv-example__conv-example", &net);
    classic("courses__conv-example__conv-example", &net);
}

#[test]
fn course22_conv_example_with_relu() {
    if !crate::grid::course22() {
        return;
    }
    let net = course22().unwrap();
    assert!(net.relu);
    classic("course22__conv-example__conv-example", &net);
    assert!((net.forward().unwrap().output - 258.73762671075724).abs() < 1e-12);
}

#[test]
fn course_v3_conv_example_2() {
    let e = course_v3_example2();
    let mut g = Sheet::load("course-v3__conv-example__conv-example_2");
    g.input("A2:AB29");
    g.input("AD11:AF13");
    g.input("BI11:BK13");
    g.check_grid("AH", 3, 1, &e.conv1);
    g.check_grid("BO", 5, 1, &e.conv2);
    g.finish();
}

#[test]
fn course22_dropout_sheet() {
    if !crate::grid::course22() {
        return;
    }
    let s = course22_dropout().unwrap();
    let f = s.net.forward().unwrap();
    let Some(mut g) = Sheet::open("course22__conv-example__conv-example_dropout") else {
        return;
    };
    g.input("A2:AB29");
    for r in [
        "AD11:AF13",
        "AD42:AF44",
        "BK11:BM13",
        "BK15:BM17",
        "BK42:BM44",
        "BK46:BM48",
    ] {
        g.input(r);
    }
    g.input("HI4:IG26");
    g.input("HI37:IG59");
    g.input("GD1");
    // The RAND() cells are volatile: their cached values are the mask's inputs.
    g.input("CU4:DS27");
    g.input("CU37:DS60");
    check_net(
        &mut g,
        &f,
        [("AI", 3), ("AI", 36)],
        [("BQ", 4), ("BQ", 37)],
        [("GH", 4), ("GH", 37)],
    );
    g.check_grid("DZ", 4, 1, &s.mask[0]);
    g.check_grid("DZ", 37, 1, &s.mask[1]);
    g.check_grid("FE", 4, 1, &f.dropped[0]);
    g.check_grid("FE", 37, 1, &f.dropped[1]);
    g.check("II", 4, f.output);
    for (c, row) in [(0, 30), (1, 63)] {
        g.check("FA", row, s.total_pixels);
        g.check("FA", row + 1, s.zero_counts[c]);
        g.check("FA", row + 2, s.actual_dropout[c]);
    }
    assert_eq!(g.num("GD", 1), s.p);
    g.finish();
}

fn fd_check(net: &ConvNet) {
    let g = net.filter_grads().unwrap();
    let out = |n: &ConvNet| n.forward().unwrap().output;
    let h = 1e-5;
    let mut worst = 0.0f64;
    let mut nonzero = 0;
    for k in 0..6 {
        for u in 0..3 {
            for v in 0..3 {
                let (mut p, mut m) = (net.clone(), net.clone());
                let (gp, gm, an) = if k < 2 {
                    p.filters1[k][u][v] += h;
                    m.filters1[k][u][v] -= h;
                    (out(&p), out(&m), g.filters1[k][u][v])
                } else {
                    let (o, i) = ((k - 2) / 2, (k - 2) % 2);
                    p.filters2[o][i][u][v] += h;
                    m.filters2[o][i][u][v] -= h;
                    (out(&p), out(&m), g.filters2[o][i][u][v])
                };
                let fd = (gp - gm) / (2.0 * h);
                worst = worst.max((fd - an).abs() / an.abs().max(1.0));
                nonzero += usize::from(an != 0.0);
            }
        }
    }
    assert!(worst < 1e-6, "worst relative gradient error {worst}");
    assert!(nonzero > 40, "only {nonzero} non-zero gradients");
}

/// Moves every filter weight a little off its saved value. The course22 left-edge
/// filter [[1,0,-1]]×3 sums to 0, so over the flat (saturated) strokes of the digit
/// conv1 is *exactly* 0: a ReLU kink where a central difference averages the two
/// one-sided slopes while the analytic gradient uses the documented value 0. Away from
/// kinks both must agree.
fn jitter(mut n: ConvNet) -> ConvNet {
    let mut t = 0.0;
    for f in n.filters1.iter_mut().chain(n.filters2.iter_mut().flatten()) {
        for w in f.iter_mut().flatten() {
            t += 1.0;
            *w += 1e-3 * (t * 0.37f64).sin();
        }
    }
    n
}

#[test]
fn filter_gradients_match_finite_differences() {
    fd_check(&course_v3());
    fd_check(&course_v3().clean());
    if !crate::grid::course22() {
        return;
    }
    fd_check(&jitter(course22().unwrap()));
    fd_check(&jitter(course22().unwrap().clean()));
    fd_check(&jitter(course22_dropout().unwrap().net));
}

#[test]
fn relu_kink_gradient_is_zero_by_convention() {
    if !crate::grid::course22() {
        return;
    }
    // At the saved course22 filters many conv1 cells are exactly 0 (a ReLU kink) and,
    // by the documented convention, pass no gradient. That is the left derivative:
    // lowering the weight pushes those cells below 0, where they stay clipped.
    let net = course22().unwrap();
    let g = net.filter_grads().unwrap();
    let out = |n: &ConvNet| n.forward().unwrap().output;
    let h = 1e-6;
    let mut m = net.clone();
    m.filters1[1][0][0] -= h;
    let left = (out(&net) - out(&m)) / h;
    assert!(
        (left - g.filters1[1][0][0]).abs() < 1e-4 * left.abs(),
        "{left} vs {}",
        g.filters1[1][0][0]
    );
}

#[test]
fn clean_net_drops_the_partial_column() {
    let f = course_v3().clean().forward().unwrap();
    assert_eq!((f.conv2[0][0].len(), f.pool[0][0].len()), (24, 12));
    let faithful = course_v3().forward().unwrap();
    // The clean layers are the faithful ones without the last column.
    for c in 0..2 {
        for (a, b) in f.pool[c].iter().zip(&faithful.pool[c]) {
            assert_eq!(a[..], b[..12]);
        }
    }
}

#[test]
fn heatmap_and_shape_errors() {
    let f = course_v3().forward().unwrap();
    let h = heatmap(&f.conv1[0]);
    assert!(h.iter().flatten().all(|x| (0.0..=1.0).contains(x)));
    assert!(h.iter().flatten().any(|x| *x == 1.0));
    let mut bad = course_v3();
    bad.input.pop();
    assert!(bad.forward().is_err());
    assert!(bad.filter_grads().is_err());
}

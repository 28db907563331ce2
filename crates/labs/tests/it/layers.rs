use crate::grid::Sheet;
use gradsheet_labs::layers::*;

fn check_head(
    g: &mut Sheet,
    row_o: u32,
    row_p: u32,
    row_l: u32,
    h: &(Vec<f64>, f64, Vec<f64>, Vec<f64>, f64),
) {
    g.check_row("B", row_o, &h.0);
    g.check("E", row_o, h.1);
    g.check_row("B", row_p, &h.2);
    g.check_row("B", row_l, &h.3);
    g.check("E", row_l, h.4);
}

#[test]
fn fixed_sheet() {
    let s = fixed();
    let f = &s.forward;
    let mut g = Sheet::load("courses__layers_example__fixed");
    g.input("B3:D3");
    g.input("G3:H3");
    g.input("B5:E7");
    g.input("B14:D17");
    g.input("B24:C26");
    g.input("H22");
    g.input("H29"); // "dout" 0.01, a typed constant
    g.check_row("B", 9, &f.z1);
    g.check_row("B", 12, &f.a1);
    g.check_row("B", 19, &f.z2);
    g.check_row("B", 22, &f.a2);
    check_head(
        &mut g,
        28,
        30,
        32,
        &(
            f.o.clone(),
            f.sum_exp,
            f.p.clone(),
            f.loss_terms.clone(),
            f.loss,
        ),
    );
    g.check_row("H", 30, &s.dl_dout);
    g.check_grid("H", 24, 1, &s.dl_dw3);
    g.check_grid("B", 35, 1, &s.w3_probe);
    check_head(&mut g, 39, 40, 41, &s.probe);
    g.check_grid("H", 35, 1, &s.predicted_loss);
    g.check_grid("B", 45, 1, &s.w3_new);
    g.check_grid("G", 45, 1, &s.w3_change);
    check_head(&mut g, 49, 51, 53, &s.after);
    g.check_row("H", 51, &s.p_change);
    g.check_row("H", 53, &s.loss_change);
    g.check_row("H", 55, &s.ratio);
    g.check("I", 10, s.stray_i10);
    g.finish();
    // The quirk: p − y is ln 10 times the gradient of the log10 loss shown.
    let h = 1e-6;
    let mut w = s.mlp.clone();
    w.w3[1][1] += h;
    let fd = (w.forward().loss - f.loss) / h;
    assert!((fd * std::f64::consts::LN_10 - s.dl_dw3[1][1]).abs() < 1e-5);
}

#[test]
fn random_sheet() {
    let s = random();
    let f = &s.forward;
    let mut g = Sheet::load("courses__layers_example__random");
    // x, y and the cached NORM.INV(RAND()) weights are inputs.
    g.input("B2:D2");
    g.input("G2:H2");
    g.input("B5:E7");
    g.input("B14:D17");
    g.input("B24:C26");
    g.check("J", 5, s.sds[0]);
    g.check("J", 14, s.sds[1]);
    g.check("J", 24, s.sds[2]);
    g.check_row("B", 10, &f.z1);
    g.check_row("B", 11, &f.a1);
    g.check_row("B", 20, &f.z2);
    g.check_row("B", 21, &f.a2);
    g.check_row("B", 29, &f.o);
    g.check("D", 30, f.sum_exp);
    g.check_row("B", 31, &f.p);
    g.check("C", 32, s.rmse);
    g.check_row("G", 29, &s.dl_dout);
    g.check_grid("G", 24, 1, &s.dl_dw3_buggy);
    g.finish();
}

use gradsheet_concepts::focal::{self, FocalFormula};
use gradsheet_concepts::{Params, LABS};

use crate::close;

#[test]
fn gamma_zero_alpha_one_is_cross_entropy() {
    let f = FocalFormula::new();
    for p in [0.01, 0.1, 0.25, 0.5, 0.9, 0.999] {
        let (loss, slope) = f.eval(p, 1.0, 0.0);
        close("FL(p; α=1, γ=0) = -ln p", loss, -f64::ln(p), 1e-15);
        close("dFL/dp = -1/p", slope, -1.0 / p, 1e-13);
    }
}

#[test]
fn known_points() {
    let f = FocalFormula::new();
    // FL(0.5) = -0.25·(1-0.5)²·ln 0.5 = 0.25·0.25·ln 2.
    close(
        "FL(0.5; α=0.25, γ=2)",
        f.eval(0.5, 0.25, 2.0).0,
        0.25 * 0.25 * std::f64::consts::LN_2,
        1e-15,
    );
    // FL(0.9; α=1, γ=2) = -(0.1)²·ln 0.9 = 0.01·0.10536…: a hundred times less than CE.
    close(
        "FL(0.9; γ=2)",
        f.eval(0.9, 1.0, 2.0).0,
        -0.01 * f64::ln(0.9),
        1e-14,
    );
    // FL(1) = 0 for every γ.
    for g in [0.0, 0.5, 2.0, 5.0] {
        assert_eq!(f.eval(1.0, 1.0, g).0.abs(), 0.0);
    }
}

#[test]
fn derivative_is_printed_and_agrees_three_ways() {
    let f = FocalFormula::new();
    assert_eq!(
        f.derivative.to_excel(),
        "alpha*gamma*(1-p)^(gamma-1)*LN(p)-alpha*(1-p)^gamma/p"
    );
    for &(alpha, gamma) in &[(1.0, 0.0), (0.25, 2.0), (1.0, 0.5), (0.75, 5.0)] {
        for p in [0.05, 0.3, 0.5, 0.77, 0.95] {
            let (_, symbolic) = f.eval(p, alpha, gamma);
            // By hand: d/dp[-α(1-p)^γ ln p] = α[γ(1-p)^(γ-1) ln p - (1-p)^γ/p].
            let by_hand =
                alpha * (gamma * (1.0 - p).powf(gamma - 1.0) * p.ln() - (1.0 - p).powf(gamma) / p);
            let h = 1e-6;
            let fd = (f.eval(p + h, alpha, gamma).0 - f.eval(p - h, alpha, gamma).0) / (2.0 * h);
            close("symbolic vs by hand", symbolic, by_hand, 1e-12);
            close(
                "symbolic vs reverse mode",
                symbolic,
                f.auto_slope(p, alpha, gamma),
                1e-12,
            );
            close("symbolic vs central difference", symbolic, fd, 1e-7);
        }
    }
}

#[test]
fn curves_table_has_every_gamma() {
    let c = focal::curves(&[0.0, 2.0], 1.0);
    assert_eq!(c.p.len(), 99);
    assert_eq!(c.p[49], 0.5);
    close("CE at 0.5", c.loss[0][49], std::f64::consts::LN_2, 1e-15);
    close(
        "FL γ=2 at 0.5",
        c.loss[1][49],
        0.25 * std::f64::consts::LN_2,
        1e-15,
    );
    // Larger γ: smaller loss everywhere in (0, 1).
    assert!(c.loss[1].iter().zip(&c.loss[0]).all(|(fl, ce)| fl < ce));
}

#[test]
fn focal_training_moves_the_boundary_towards_the_minority() {
    let lab = LABS.iter().find(|l| l.name == "focal").unwrap();
    let p = Params::parse(
        lab.params,
        &["negatives=2000", "positives=10", "epochs=300"],
    )
    .unwrap();
    let r = focal::run(&p).unwrap();
    let (ce, fl) = (&r.fits[0], &r.fits[1]);
    // 2000 negatives around -1, 10 positives around 1.5, 300 epochs: cross-entropy's
    // gradient is spent on making easy negatives surer, and its boundary is still far on
    // the positives' side; focal loss, down-weighting them, has moved it back and finds
    // more positives.
    assert!(
        fl.boundary < ce.boundary - 0.3,
        "boundary {} vs {}",
        fl.boundary,
        ce.boundary
    );
    assert!(
        fl.recall_pos > ce.recall_pos,
        "recall {} vs {}",
        fl.recall_pos,
        ce.recall_pos
    );
    assert!(fl.easy_share < ce.easy_share);
    // The loss curves fall.
    assert!(ce.curve.last().unwrap() < &ce.curve[0]);
    assert!(fl.curve.last().unwrap() < &fl.curve[0]);
}

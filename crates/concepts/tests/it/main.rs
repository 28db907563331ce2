//! The concept labs' tests: each lab's numbers against an independent derivation.

mod dropout;
mod focal;
mod gradients;
mod l1_l2;
mod la;
mod labs;
mod upsampling;

/// `|a - b| <= tol·max(1, |a|, |b|)`, with a message naming what was compared.
#[track_caller]
pub fn close(what: &str, a: f64, b: f64, tol: f64) {
    let scale = a.abs().max(b.abs()).max(1.0);
    assert!(
        (a - b).abs() <= tol * scale,
        "{what}: {a} vs {b} (tolerance {tol})"
    );
}

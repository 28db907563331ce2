//! Numbers in sentences: a few significant digits, as a learner reads them.

pub use gradsheet_engine::format_sig as sig;

/// `v` rounded down (towards zero) to `digits` significant digits.
pub fn floor_sig(v: f64, digits: i32) -> f64 {
    if !v.is_finite() || v == 0.0 {
        return v;
    }
    let scale = 10f64.powi(digits - 1 - v.abs().log10().floor() as i32);
    let r = (v * scale).trunc() / scale;
    // Division may land a hair above v; never propose more than was verified.
    if r.abs() > v.abs() {
        v
    } else {
        r
    }
}

/// `v` rounded up (away from zero) to `digits` significant digits: the shortest number of
/// that many digits at or beyond `v`.
///
/// # Examples
///
/// ```
/// use gradsheet_diagnose::fmt::ceil_sig;
/// assert_eq!(ceil_sig(4.1105e-5, 3), 4.12e-5);
/// assert_eq!(ceil_sig(4.1105e-5, 4), 4.111e-5);
/// assert_eq!(ceil_sig(1234.5, 3), 1240.0);
/// assert_eq!(ceil_sig(-0.25, 1), -0.3);
/// ```
pub fn ceil_sig(v: f64, digits: i32) -> f64 {
    if !v.is_finite() || v == 0.0 {
        return v;
    }
    // Multiply or divide by an exact power of ten (10^k for k ≤ 22 is exact), so that a
    // value with `digits` digits comes out as the double nearest to its decimal.
    let e = digits - 1 - v.abs().log10().floor() as i32;
    let up = |x: f64| {
        if e >= 0 {
            (x * 10f64.powi(e)).ceil() / 10f64.powi(e)
        } else {
            (x / 10f64.powi(-e)).ceil() * 10f64.powi(-e)
        }
    };
    v.signum() * up(v.abs())
}

/// The shortest text that reads back to exactly `v`, in [`sig`]'s style (an exponent for
/// very large or very small magnitudes): for numbers whose every digit matters, such as
/// a learning rate that was re-run.
///
/// # Examples
///
/// ```
/// use gradsheet_diagnose::fmt::exact;
/// assert_eq!(exact(4.1e-5), "4.1e-5");
/// assert_eq!(exact(4.1105493e-5), "4.1105493e-5");
/// assert_eq!(exact(0.25), "0.25");
/// assert_eq!(exact(1e-4), "1e-4");
/// ```
pub fn exact(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return sig(v, 1);
    }
    let mag = v.abs().log10().floor() as i32;
    if (-3..7).contains(&mag) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

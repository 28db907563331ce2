//! Numbers in sentences: a few significant digits, as a learner reads them.

/// `v` to `digits` significant digits, without trailing zeros; an exponent for very
/// large or very small magnitudes (`3.591e16`, `5.05e-5`).
///
/// # Examples
///
/// ```
/// use gradsheet_diagnose::fmt::sig;
/// assert_eq!(sig(39615.98, 4), "39616");
/// assert_eq!(sig(3.9616, 3), "3.96");
/// assert_eq!(sig(5.0485e-5, 3), "5.05e-5");
/// assert_eq!(sig(3.59e16, 3), "3.59e16");
/// assert_eq!(sig(f64::NAN, 3), "NaN");
/// ```
pub fn sig(v: f64, digits: usize) -> String {
    if !v.is_finite() {
        return gradsheet_engine::format_number(v);
    }
    if v == 0.0 {
        return "0".into();
    }
    let mag = v.abs().log10().floor() as i32;
    if !(-3..7).contains(&mag) {
        let s = format!("{:.*e}", digits.saturating_sub(1), v);
        // Trim zeros of the mantissa: 5.00e-5 → 5e-5.
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = if m.contains('.') {
            m.trim_end_matches('0').trim_end_matches('.')
        } else {
            m
        };
        return format!("{m}e{e}");
    }
    let decimals = (digits as i32 - 1 - mag).max(0) as usize;
    let s = format!("{:.*}", decimals, v);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

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

//! Finite differences, and why they are off.

use std::fmt;
use std::str::FromStr;

/// Which finite difference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `(f(p+h) - f(p)) / h`, the spreadsheets' choice (with h = 0.01). Error ≈ h/2·f''.
    Forward,
    /// `(f(p) - f(p-h)) / h`. Error ≈ -h/2·f''.
    Backward,
    /// `(f(p+h) - f(p-h)) / (2h)`. Error ≈ h²/6·f'''.
    Central,
}

impl Scheme {
    /// All three, in a fixed order.
    pub const ALL: [Scheme; 3] = [Scheme::Forward, Scheme::Backward, Scheme::Central];

    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Forward => "forward",
            Scheme::Backward => "backward",
            Scheme::Central => "central",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scheme {
    type Err = String;
    fn from_str(s: &str) -> Result<Scheme, String> {
        match s.to_ascii_lowercase().as_str() {
            "forward" | "fwd" => Ok(Scheme::Forward),
            "backward" | "bwd" => Ok(Scheme::Backward),
            "central" | "centred" | "centered" => Ok(Scheme::Central),
            other => Err(format!(
                "unknown finite-difference scheme '{other}' (forward, backward or central)"
            )),
        }
    }
}

/// The finite-difference estimate of ∂f/∂p_i at `point` with step `h`.
///
/// `scratch` must have the length of `point`; it is overwritten (so that the hot path
/// allocates nothing). The shifted value is computed as `p + h`, as a spreadsheet does.
///
/// # Examples
///
/// ```
/// use gradsheet_engine::fd::{estimate, Scheme};
/// let mut f = |p: &[f64]| p[0] * p[0];
/// let mut scratch = [0.0];
/// let d = estimate(&mut f, &[3.0], 0, 0.01, Scheme::Forward, &mut scratch);
/// assert!((d - 6.01).abs() < 1e-9); // 2p + h
/// ```
pub fn estimate(
    f: &mut dyn FnMut(&[f64]) -> f64,
    point: &[f64],
    i: usize,
    h: f64,
    scheme: Scheme,
    scratch: &mut [f64],
) -> f64 {
    scratch.copy_from_slice(point);
    let mut at = |v: f64, scratch: &mut [f64]| {
        scratch[i] = v;
        f(scratch)
    };
    let p = point[i];
    match scheme {
        Scheme::Forward => {
            let f0 = at(p, scratch);
            (at(p + h, scratch) - f0) / h
        }
        Scheme::Backward => {
            let f0 = at(p, scratch);
            (f0 - at(p - h, scratch)) / h
        }
        Scheme::Central => (at(p + h, scratch) - at(p - h, scratch)) / (2.0 * h),
    }
}

/// The two sources of a finite difference's error.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErrorModel {
    /// The truncation error: the leading term of the Taylor series the scheme drops
    /// (h/2·f'' one-sided, h²/6·f''' central).
    pub truncation: f64,
    /// The rounding error: about ε·|f|/h, from subtracting two nearly equal values.
    pub rounding: f64,
}

/// The expected error of a scheme, given f, f'' and f''' at the point.
///
/// # Examples
///
/// ```
/// use gradsheet_engine::fd::{error_model, Scheme};
/// let m = error_model(Scheme::Forward, 0.01, 1.0, 2.0 * 86.0 * 86.0, 0.0);
/// assert!((m.truncation - 73.96).abs() < 1e-9);
/// ```
pub fn error_model(scheme: Scheme, h: f64, f: f64, f2: f64, f3: f64) -> ErrorModel {
    let truncation = match scheme {
        Scheme::Forward => h / 2.0 * f2,
        Scheme::Backward => -h / 2.0 * f2,
        Scheme::Central => h * h / 6.0 * f3,
    };
    let rounding = f64::EPSILON * f.abs().max(f64::MIN_POSITIVE) / h.abs();
    ErrorModel {
        truncation,
        rounding,
    }
}

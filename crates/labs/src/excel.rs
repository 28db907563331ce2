//! Excel's arithmetic, as observed in the golden workbooks (docs/workbooks.md §0.3).
//!
//! Every function here is the Excel function of the same name restricted to what the
//! workbooks use, evaluated the way Excel does it: plain IEEE doubles, sequential sums.

/// `SUM`: a left-to-right sequential sum in double precision (no pairwise or
/// compensated summation, which would differ from Excel in the last bits).
///
/// # Examples
///
/// ```
/// use gradsheet_labs::excel::sum;
/// assert_eq!(sum([0.1, 0.2, 0.3]), 0.6000000000000001);
/// ```
pub fn sum<I: IntoIterator<Item = f64>>(xs: I) -> f64 {
    xs.into_iter().fold(0.0, |acc, x| acc + x)
}

/// `SUMPRODUCT(a, b)` (and array `SUM(a*b)`): Σ aᵢ·bᵢ accumulated left to right.
/// Extra elements of the longer slice are ignored.
///
/// # Examples
///
/// ```
/// use gradsheet_labs::excel::sumproduct;
/// assert_eq!(sumproduct(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]), 32.0);
/// ```
pub fn sumproduct(a: &[f64], b: &[f64]) -> f64 {
    sum(a.iter().zip(b).map(|(x, y)| x * y))
}

/// `AVERAGE`: the sequential sum divided by the count (`NaN` for an empty list, where
/// Excel shows `#DIV/0!`).
///
/// # Examples
///
/// ```
/// use gradsheet_labs::excel::average;
/// assert_eq!(average(&[5.0, 1.0, 1.0, 1.0]), 2.0);
/// ```
pub fn average(xs: &[f64]) -> f64 {
    sum(xs.iter().copied()) / xs.len() as f64
}

/// `LOG(x)`: base 10. Every cross-entropy in the workbooks uses it, not `LN`.
///
/// # Examples
///
/// ```
/// assert_eq!(gradsheet_labs::excel::log(100.0), 2.0);
/// ```
pub fn log(x: f64) -> f64 {
    x.log10()
}

/// `x^n` for an integer exponent: Excel multiplies (binary exponentiation), like
/// [`f64::powi`], rather than calling a correctly rounded `pow`.
///
/// # Examples
///
/// ```
/// use gradsheet_labs::excel::pow_int;
/// // 1-0.9^4 as the mom_bias sheet shows it; a correctly rounded pow gives 0.3439.
/// assert_eq!(1.0 - pow_int(0.9, 4), 0.3438999999999999);
/// ```
pub fn pow_int(x: f64, n: i32) -> f64 {
    x.powi(n)
}

/// `ROUND(v, digits)` with halves rounded away from zero (not banker's rounding).
///
/// # Examples
///
/// ```
/// use gradsheet_labs::excel::round;
/// assert_eq!(round(2.5, 0), 3.0);
/// assert_eq!(round(-2.5, 0), -3.0);
/// assert_eq!(round(1.25, 1), 1.3);
/// ```
pub fn round(v: f64, digits: i32) -> f64 {
    if digits == 0 {
        v.round()
    } else {
        let s = 10f64.powi(digits);
        (v * s).round() / s
    }
}

/// `VAR.P` as Excel 2019 computes it in mom_bias: (n·Σx² − (Σx)²)/n², a one-pass
/// formula (each of its cells matched this, and not the two-pass formula).
///
/// # Examples
///
/// ```
/// use gradsheet_labs::excel::var_p;
/// assert_eq!(var_p(&[1.0, 3.0]), 1.0);
/// ```
pub fn var_p(xs: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let s = sum(xs.iter().copied());
    let s2 = sum(xs.iter().map(|x| x * x));
    (n * s2 - s * s) / (n * n)
}

/// `STDEV.P` as emb_results computes it: two-pass, sqrt(Σ(x−mean)²/n).
///
/// # Examples
///
/// ```
/// use gradsheet_labs::excel::stdev_p;
/// assert_eq!(stdev_p(&[1.0, 3.0]), 1.0);
/// ```
pub fn stdev_p(xs: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let mean = sum(xs.iter().copied()) / n;
    let ss = sum(xs.iter().map(|x| (x - mean) * (x - mean)));
    (ss / n).sqrt()
}

/// `MAX` over cells where blanks (`None`) are ignored; an all-blank range gives 0,
/// as in Excel.
///
/// # Examples
///
/// ```
/// use gradsheet_labs::excel::max_skip_blank;
/// assert_eq!(max_skip_blank([Some(-1.0), None]), -1.0);
/// assert_eq!(max_skip_blank([None, None]), 0.0);
/// ```
pub fn max_skip_blank<I: IntoIterator<Item = Option<f64>>>(cells: I) -> f64 {
    cells
        .into_iter()
        .flatten()
        .fold(None, |m: Option<f64>, x| {
            Some(m.map_or(x, |m| if x > m { x } else { m }))
        })
        .unwrap_or(0.0)
}

/// `MATCH(key, keys)` with the default match type 1: a binary search in a list assumed
/// ascending, returning the 1-based position of the largest key ≤ `key` (`None` = `#N/A`).
/// Every workbook use looks up a key present exactly once, so this is its position.
///
/// # Examples
///
/// ```
/// use gradsheet_labs::excel::match_sorted;
/// assert_eq!(match_sorted(&[14.0, 29.0, 72.0], 29.0), Some(2));
/// assert_eq!(match_sorted(&[14.0, 29.0, 72.0], 30.0), Some(2));
/// assert_eq!(match_sorted(&[14.0, 29.0, 72.0], 1.0), None);
/// ```
pub fn match_sorted<T: PartialOrd + Copy>(keys: &[T], key: T) -> Option<usize> {
    match_by(keys.len(), |i| {
        keys[i]
            .partial_cmp(&key)
            .unwrap_or(std::cmp::Ordering::Less)
    })
}

/// `MATCH` on text: Excel compares text case-insensitively.
///
/// # Examples
///
/// ```
/// use gradsheet_labs::excel::match_text;
/// assert_eq!(match_text(&["am", "and", "Daniel", "do"], "daniel"), Some(3));
/// ```
pub fn match_text<S: AsRef<str>>(keys: &[S], key: &str) -> Option<usize> {
    let k = key.to_lowercase();
    match_by(keys.len(), |i| keys[i].as_ref().to_lowercase().cmp(&k))
}

/// The binary search both MATCH forms share; it stops at the first exact hit.
fn match_by(n: usize, cmp: impl Fn(usize) -> std::cmp::Ordering) -> Option<usize> {
    use std::cmp::Ordering::*;
    let (mut lo, mut hi) = (0usize, n);
    let mut best = None;
    while lo < hi {
        let mid = (lo + hi) / 2;
        match cmp(mid) {
            Equal => return Some(mid + 1),
            Less => {
                best = Some(mid + 1);
                lo = mid + 1;
            }
            Greater => hi = mid,
        }
    }
    best
}

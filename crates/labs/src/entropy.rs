//! entropy_example.xlsx (docs/workbooks.md §3): softmax, per-class sigmoids, binary and categorical
//! cross-entropy, all three workbook versions, plus the derivatives the sheets imply.
//!
//! The sheets write `LOG`, which in Excel is base 10; the `_log10` functions reproduce
//! them and the `_ln` ones give the natural-log losses that frameworks use (they differ
//! by the factor ln 10).

use crate::excel::{log, sum};

/// One softmax column block of a sheet: logits, `EXP`, their `SUM`, `EXP/SUM` and the
/// sum of the probabilities (which prints 0.9999999999999999 at times).
#[derive(Clone, Debug, PartialEq)]
pub struct SoftmaxTable {
    /// The logits ("output" column).
    pub logits: Vec<f64>,
    /// `EXP(logit)`.
    pub exps: Vec<f64>,
    /// `SUM` of the exps.
    pub sum_exp: f64,
    /// `exp/sum_exp`.
    pub probs: Vec<f64>,
    /// `SUM` of the probabilities.
    pub sum_probs: f64,
}

/// The softmax exactly as the sheets compute it, `EXP(x)/SUM(EXP(x))`, without
/// subtracting the maximum.
///
/// # Examples
///
/// ```
/// let t = gradsheet_labs::entropy::softmax_table(&[0.0, 0.0]);
/// assert_eq!(t.probs, vec![0.5, 0.5]);
/// ```
pub fn softmax_table(logits: &[f64]) -> SoftmaxTable {
    let exps: Vec<f64> = logits.iter().map(|x| x.exp()).collect();
    let sum_exp = sum(exps.iter().copied());
    let probs: Vec<f64> = exps.iter().map(|e| e / sum_exp).collect();
    let sum_probs = sum(probs.iter().copied());
    SoftmaxTable {
        logits: logits.to_vec(),
        exps,
        sum_exp,
        probs,
        sum_probs,
    }
}

/// Softmax without max-subtraction: shows why frameworks subtract the max. For a
/// logit above ~709.78, `exp` overflows to infinity and the result holds `NaN`.
///
/// # Examples
///
/// ```
/// use gradsheet_labs::entropy::{softmax, softmax_naive};
/// assert!(softmax_naive(&[1000.0, 0.0])[0].is_nan());
/// assert_eq!(softmax(&[1000.0, 0.0])[0], 1.0);
/// ```
pub fn softmax_naive(logits: &[f64]) -> Vec<f64> {
    softmax_table(logits).probs
}

/// Numerically stable softmax: `exp(x − max)/Σexp(x − max)`, equal in exact arithmetic
/// because softmax is shift-invariant (the sheet's two images show this).
pub fn softmax(logits: &[f64]) -> Vec<f64> {
    let m = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let shifted: Vec<f64> = logits.iter().map(|x| x - m).collect();
    softmax_table(&shifted).probs
}

/// The logistic sigmoid `1/(1+e^(−x))`: each class scored on its own, so the scores
/// need not sum to 1 (unlike softmax) and are not shift-invariant.
///
/// # Examples
///
/// ```
/// use gradsheet_labs::entropy::{sigmoid, sigmoid_from_exp};
/// assert_eq!(sigmoid(0.0), 0.5);
/// assert!((sigmoid(1.3) - sigmoid_from_exp(1.3f64.exp())).abs() < 1e-16);
/// ```
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The "binary" column: a per-class sigmoid computed from the exp, `e/(1+e)`.
///
/// # Examples
///
/// ```
/// assert_eq!(gradsheet_labs::entropy::sigmoid_from_exp(1.0), 0.5);
/// ```
pub fn sigmoid_from_exp(e: f64) -> f64 {
    e / (1.0 + e)
}

/// Binary cross-entropy as the sheet writes it: `-y*LOG(p)-(1-y)*LOG(1-p)` (log10).
///
/// # Examples
///
/// ```
/// assert_eq!(gradsheet_labs::entropy::binary_ce_log10(0.0, 0.9), 1.0);
/// ```
pub fn binary_ce_log10(y: f64, p: f64) -> f64 {
    -y * log(p) - (1.0 - y) * log(1.0 - p)
}

/// The same loss picked by an `IF`: `-IF(y=1, LOG(p), LOG(1-p))`.
pub fn binary_ce_if_log10(y: f64, p: f64) -> f64 {
    -(if y == 1.0 { log(p) } else { log(1.0 - p) })
}

/// Binary cross-entropy in nats (natural log), the framework convention.
pub fn binary_ce_ln(y: f64, p: f64) -> f64 {
    -y * p.ln() - (1.0 - y) * (1.0 - p).ln()
}

/// d/dp of [`binary_ce_ln`]: `(p − y)/(p(1 − p))`; divide by ln 10 for the log10 loss.
///
/// # Examples
///
/// ```
/// use gradsheet_labs::entropy::binary_ce_grad_ln;
/// assert_eq!(binary_ce_grad_ln(1.0, 0.5), -2.0);
/// ```
pub fn binary_ce_grad_ln(y: f64, p: f64) -> f64 {
    (p - y) / (p * (1.0 - p))
}

/// Categorical cross-entropy in log10, `-SUM(y*LOG(p))` (course22 entropy!D7).
pub fn categorical_ce_log10(probs: &[f64], actual: &[f64]) -> f64 {
    -sum(actual.iter().zip(probs).map(|(y, p)| y * log(*p)))
}

/// Categorical cross-entropy in nats.
pub fn categorical_ce_ln(probs: &[f64], actual: &[f64]) -> f64 {
    -sum(actual.iter().zip(probs).map(|(y, p)| y * p.ln()))
}

/// Gradient of softmax + natural-log cross-entropy with respect to the logits: `p − y`.
/// (For the log10 loss of the sheets it is `(p − y)/ln 10`.)
///
/// # Examples
///
/// ```
/// use gradsheet_labs::entropy::softmax_ce_grad;
/// assert_eq!(softmax_ce_grad(&[0.25, 0.75], &[0.0, 1.0]), vec![0.25, -0.25]);
/// ```
pub fn softmax_ce_grad(probs: &[f64], actual: &[f64]) -> Vec<f64> {
    probs.iter().zip(actual).map(|(p, y)| p - y).collect()
}

/// Class names of every softmax sheet.
pub const CLASSES: [&str; 5] = ["cat", "dog", "plane", "fish", "building"];

/// course-v3 softmax!B3:B7, the logits of image 1.
pub const V3_LOGITS_1: [f64; 5] = [
    0.021789294543326676,
    -2.488055919486013,
    -1.7505557283129267,
    2.070409245987718,
    1.2502573466234175,
];
/// course-v3 softmax!G3:G7, image 2: image 1 shifted so that Σexp is 3.
pub const V3_LOGITS_2: [f64; 5] = [
    -1.4210496434287527,
    -3.9308948574580924,
    -3.1933946662850063,
    0.6275703080156385,
    -0.19258159134866187,
];
/// courses (2016) softmax!B2:B6: cached `RAND()*10-5` values (volatile; inputs here).
pub const COURSES_LOGITS: [f64; 5] = [
    -2.0756151098951037,
    -0.11171473940962784,
    1.269946142602584,
    -0.9518479080168163,
    1.4501606231001265,
];
/// course22 softmax!B2:B6.
pub const C22_LOGITS: [f64; 5] = [
    -4.885224780447092,
    2.5974728206314666,
    0.591664975702642,
    -2.0689445222722602,
    -4.568679173867985,
];
/// course22 softmax!E2:E6, the one-hot actuals (the image is a dog).
pub const C22_ACTUALS: [f64; 5] = [0.0, 1.0, 0.0, 0.0, 0.0];
/// The columns of the binary cross-entropy rows (course-v3 and courses): the label both
/// ways, the prediction, the loss two ways, the logs, `-Σ y·log p` and the indexed form.
pub const BCE_HEADERS: [&str; 10] = [
    "is cat",
    "is dog",
    "pred",
    "bce",
    "bce (IF)",
    "log cat",
    "log dog",
    "nll",
    "index",
    "log p[index]",
];
/// The isCat column of every entropy sheet.
pub const IS_CAT: [f64; 5] = [1.0, 1.0, 0.0, 0.0, 1.0];
/// The predictions column of every entropy sheet.
pub const PREDS: [f64; 5] = [0.5, 0.98, 0.9, 0.5, 0.9];

/// course-v3 softmax sheet: two images and the per-class sigmoids (K, L).
#[derive(Clone, Debug, PartialEq)]
pub struct V3Softmax {
    /// Columns B:D and C8:D8.
    pub image1: SoftmaxTable,
    /// Columns G:I and H8:I8.
    pub image2: SoftmaxTable,
    /// K3:K7 = `C/(1+C)`.
    pub sigmoid1: Vec<f64>,
    /// L3:L7 = `H/(1+H)`.
    pub sigmoid2: Vec<f64>,
}

/// The course-v3 softmax sheet.
pub fn course_v3_softmax() -> V3Softmax {
    let image1 = softmax_table(&V3_LOGITS_1);
    let image2 = softmax_table(&V3_LOGITS_2);
    let sigmoid1 = image1.exps.iter().map(|e| sigmoid_from_exp(*e)).collect();
    let sigmoid2 = image2.exps.iter().map(|e| sigmoid_from_exp(*e)).collect();
    V3Softmax {
        image1,
        image2,
        sigmoid1,
        sigmoid2,
    }
}

/// One row of the entropy sheet (B:E) and of log_entropy (B:I).
#[derive(Clone, Debug, PartialEq)]
pub struct EntropyRow {
    /// isCat (B).
    pub is_cat: f64,
    /// isDog = 1 − isCat (log_entropy C).
    pub is_dog: f64,
    /// The predicted probability of "cat".
    pub pred: f64,
    /// entropy D: `-B*LOG(C)-(1-B)*LOG(1-C)`.
    pub bce: f64,
    /// entropy E: `-IF(B=1,LOG(C),LOG(1-C))`.
    pub bce_if: f64,
    /// log_entropy E: `LOG(pred)`.
    pub log_cat: f64,
    /// log_entropy F: `LOG(1-pred)`.
    pub log_dog: f64,
    /// log_entropy G: `-isCat*logCat - isDog*logDog`.
    pub nll: f64,
    /// log_entropy H: `MATCH(1, B:C)`, the 1-based index of the true class.
    pub idx: usize,
    /// log_entropy I: `OFFSET(D, 0, idx)`, the log-probability of the true class.
    pub idx_pred: f64,
}

/// The entropy and log_entropy rows (course-v3; courses has the same entropy sheet).
pub fn entropy_rows(is_cat: &[f64], preds: &[f64]) -> Vec<EntropyRow> {
    is_cat
        .iter()
        .zip(preds)
        .map(|(&b, &p)| {
            let is_dog = 1.0 - b;
            let log_cat = log(p);
            let log_dog = log(1.0 - p);
            // MATCH(1,{1,0}) = 1 and MATCH(1,{0,1}) = 2: the position of the 1 (docs/workbooks.md §0.3).
            let idx = if b == 1.0 { 1 } else { 2 };
            EntropyRow {
                is_cat: b,
                is_dog,
                pred: p,
                bce: binary_ce_log10(b, p),
                bce_if: binary_ce_if_log10(b, p),
                log_cat,
                log_dog,
                nll: -b * log_cat - is_dog * log_dog,
                idx,
                idx_pred: if idx == 1 { log_cat } else { log_dog },
            }
        })
        .collect()
}

/// entropy!C9: `=25000*128*4/1000`, a stray calculation left on the sheet.
pub fn stray_c9() -> f64 {
    25000.0 * 128.0 * 4.0 / 1000.0
}

/// course22's entropy sheet.
#[derive(Clone, Debug, PartialEq)]
pub struct C22Entropy {
    /// The softmax sheet (C, D, C7, D7).
    pub softmax: SoftmaxTable,
    /// entropy!D2:D6 = `actual*LOG(p)`.
    pub terms: Vec<f64>,
    /// entropy!D7 = `-SUM(D2:D6)` = −log10 p(dog).
    pub xent: f64,
    /// Rows 27–31: E = 1 − pred (PredNotCat).
    pub pred_not_cat: Vec<f64>,
    /// Rows 27–31: F = `-B*LOG(D)-C*LOG(E)`.
    pub bce: Vec<f64>,
    /// Rows 27–31: G = `-IF(B=1,LOG(D),LOG(E))`.
    pub bce_if: Vec<f64>,
    /// F32 = `-SUM(F27:F31)`. **Quirk**: it negates losses that are already positive,
    /// giving −1.6566 (a later commit dropped the minus).
    pub f32_total: f64,
}

/// The course22 softmax and entropy sheets.
///
/// # Examples
///
/// ```
/// let s = gradsheet_labs::entropy::course22();
/// assert!(s.f32_total < 0.0); // the sign quirk
/// ```
pub fn course22() -> C22Entropy {
    let softmax = softmax_table(&C22_LOGITS);
    let terms: Vec<f64> = C22_ACTUALS
        .iter()
        .zip(&softmax.probs)
        .map(|(y, p)| y * log(*p))
        .collect();
    let xent = -sum(terms.iter().copied());
    let pred_not_cat: Vec<f64> = PREDS.iter().map(|p| 1.0 - p).collect();
    let bce: Vec<f64> = IS_CAT
        .iter()
        .zip(PREDS.iter().zip(&pred_not_cat))
        .map(|(b, (d, e))| -b * log(*d) - (1.0 - b) * log(*e))
        .collect();
    let bce_if = IS_CAT
        .iter()
        .zip(PREDS.iter().zip(&pred_not_cat))
        .map(|(b, (d, e))| -(if *b == 1.0 { log(*d) } else { log(*e) }))
        .collect();
    let f32_total = -sum(bce.iter().copied());
    C22Entropy {
        softmax,
        terms,
        xent,
        pred_not_cat,
        bce,
        bce_if,
        f32_total,
    }
}

//! mom_bias.xlsx (docs/workbooks.md §6): exponential moving averages, Adam's bias correction, the
//! exponentially weighted variance and running batch-norm statistics.

use crate::data::{embed, matrix};
use crate::excel::{average, pow_int, var_p};

/// One row of Sheet1 (B:H): the EMA of the values and its bias correction.
#[derive(Clone, Debug, PartialEq)]
pub struct BiasRow {
    /// Batch number t (B).
    pub t: i32,
    /// The value (C).
    pub value: f64,
    /// EMA from 0 (D): `D_{t-1}·β + value·(1−β)`.
    pub ema: f64,
    /// Correction (E): `1 − β^t` with Excel's integer power.
    pub correction: f64,
    /// Debiased EMA (F): `ema/correction`.
    pub debiased: f64,
    /// G (t ≥ 2): `(1−β) + correction_{t−1}·β`, the recursion of the correction.
    pub correction_recursive: Option<f64>,
    /// H (t ≥ 4): `AVERAGE` of the last four values.
    pub moving_avg4: Option<f64>,
}

/// Sheet1: the values 5,1,1,1,1,1,1,5,1 with β = 0.9 (E2) and 1−β typed as 0.1 (F2).
#[derive(Clone, Debug, PartialEq)]
pub struct BiasSheet {
    /// Rows 5–13.
    pub rows: Vec<BiasRow>,
    /// J2 = `I2^J1` = 0.99^8.
    pub j2: f64,
}

/// The columns of Sheet1: t, the value, its EMA from 0, the correction, the debiased
/// EMA, the correction computed recursively, and a 4-step moving average.
pub const BIAS_HEADERS: [&str; 7] = [
    "t",
    "value",
    "ema",
    "1-beta^t",
    "debiased",
    "1-beta^t (recursive)",
    "4-step average",
];

/// The columns of Sheet1 (2): exponentially weighted mean and variance.
pub const EW_HEADERS: [&str; 8] = [
    "x", "ma", "x^2", "ma x^2", "delta", "ma^2", "ew var", "var (10)",
];

/// Sheet1's values (C5:C13).
pub const SHEET1_VALUES: [f64; 9] = [5.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 5.0, 1.0];

/// EMA started from 0 and Adam's bias correction of it.
///
/// `one_minus_beta` is passed separately because the sheet types 0.1 rather than
/// computing `1-0.9` (= 0.09999999999999998).
///
/// # Examples
///
/// ```
/// let s = gradsheet_labs::mom_bias::bias_correction(&[5.0, 1.0], 0.9, 0.1);
/// // The first debiased value is the first value (up to rounding).
/// assert_eq!(s.rows[0].debiased, 5.000000000000001);
/// ```
pub fn bias_correction(values: &[f64], beta: f64, one_minus_beta: f64) -> BiasSheet {
    let mut rows: Vec<BiasRow> = Vec::with_capacity(values.len());
    let mut ema = 0.0;
    for (i, &v) in values.iter().enumerate() {
        let t = i as i32 + 1;
        ema = ema * beta + v * one_minus_beta;
        let correction = 1.0 - pow_int(beta, t);
        let correction_recursive = rows.last().map(|p| one_minus_beta + p.correction * beta);
        let moving_avg4 = (i >= 3).then(|| average(&values[i - 3..=i]));
        rows.push(BiasRow {
            t,
            value: v,
            ema,
            correction,
            debiased: ema / correction,
            correction_recursive,
            moving_avg4,
        });
    }
    BiasSheet {
        rows,
        j2: pow_int(0.99, 8),
    }
}

/// Sheet1 as saved.
pub fn sheet1() -> BiasSheet {
    bias_correction(&SHEET1_VALUES, 0.9, 0.1)
}

/// One row of 'Sheet1 (2)' (B:I).
#[derive(Clone, Debug, PartialEq)]
pub struct EwRow {
    /// x (B).
    pub x: f64,
    /// ma (C): `ma·α_old + x·α_new`.
    pub ma: f64,
    /// x² (D).
    pub x2: f64,
    /// m x² (E), the EMA of x².
    pub ma_x2: f64,
    /// δ = x − previous ma (F), from the second row.
    pub delta: Option<f64>,
    /// ma2 (G) = previous ma + δ·α_new, the same EMA written as μ + α·δ.
    pub ma2: Option<f64>,
    /// emv (H): 0, then `VAR.P` of the first two, then `α_old·(v + δ²·α_new)`.
    pub emv: f64,
    /// var(10) (I): `VAR.P` of the trailing 10 values, from the 10th row.
    pub var10: Option<f64>,
}

/// 'Sheet1 (2)': EMAs of x and x² and the exponentially weighted variance.
///
/// **Quirk**: C1 = 0.1 weights the *previous* value and D1 = `1-C1` = 0.9 the new one,
/// the reverse of the usual β.
///
/// # Examples
///
/// ```
/// let rows = gradsheet_labs::mom_bias::ew_variance(&[1.0, 3.0], 0.1);
/// assert_eq!(rows[1].emv, 1.0); // VAR.P(1, 3)
/// ```
pub fn ew_variance(xs: &[f64], old_weight: f64) -> Vec<EwRow> {
    let new_weight = 1.0 - old_weight;
    let mut rows: Vec<EwRow> = Vec::with_capacity(xs.len());
    for (i, &x) in xs.iter().enumerate() {
        let x2 = x * x;
        let row = match rows.last() {
            None => EwRow {
                x,
                ma: x,
                x2,
                ma_x2: x2,
                delta: None,
                ma2: None,
                emv: 0.0,
                var10: None,
            },
            Some(p) => {
                let delta = x - p.ma;
                let emv = if i == 1 {
                    var_p(&xs[0..2])
                } else {
                    old_weight * (p.emv + delta * delta * new_weight)
                };
                EwRow {
                    x,
                    ma: p.ma * old_weight + x * new_weight,
                    x2,
                    ma_x2: p.ma_x2 * old_weight + x2 * new_weight,
                    delta: Some(delta),
                    ma2: Some(p.ma + delta * new_weight),
                    emv,
                    var10: (i >= 9).then(|| var_p(&xs[i - 9..=i])),
                }
            }
        };
        rows.push(row);
    }
    rows
}

/// 'Sheet1 (2)' as saved (x = the 53 pasted values of B4:B56).
pub fn sheet1_2() -> Vec<EwRow> {
    let xs: Vec<f64> = matrix(embed!("mom_bias_ewvar_x"))
        .into_iter()
        .map(|r| r[0])
        .collect();
    ew_variance(&xs, 0.1)
}

/// One group of the 'Sheet1 (3)' pivot (E:H) and its running statistics (J:S).
#[derive(Clone, Debug, PartialEq)]
pub struct BnRow {
    /// The group label (E).
    pub group: f64,
    /// "avg" (F): the mean of x in the group.
    pub mean: f64,
    /// "Varp of x" (G).
    pub var: f64,
    /// "Average of x2" (H).
    pub mean_x2: f64,
    /// bn mv (J): the EMA of the batch variance, `J·(1−m) + m·G`.
    pub bn_mv: f64,
    /// c (K): the typed counts.
    pub count: f64,
    /// mc (L): EMA of the count, `L + (K − L)·m`.
    pub m_count: f64,
    /// s (M) = count·mean, the batch sum.
    pub s: f64,
    /// ms (N): EMA of the sum.
    pub m_s: f64,
    /// ma (O) = ms/mc, the running mean.
    pub ma: f64,
    /// ma2 (P): the naive EMA of the means.
    pub ma2: f64,
    /// ss (Q) = count·mean_x2, the batch sum of squares.
    pub ss: f64,
    /// mss (R): EMA of the sums of squares.
    pub m_ss: f64,
    /// mv (S) = mss/mc − ma², the running variance.
    pub mv: f64,
}

/// 'Sheet1 (3)': the pivot of the records plus its running batch-norm statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNormSheet {
    /// One row per group (rows 4–8).
    pub groups: Vec<BnRow>,
    /// Grand Total row (F9:H9): mean, VARP and mean of x² over every record.
    pub total: (f64, f64, f64),
}

/// The counts typed in K4:K8 (not the real group size 10).
pub const BN_COUNTS: [f64; 5] = [5.0, 10.0, 15.0, 20.0, 15.0];

/// A pivot-cache record of 'Sheet1 (3)': (group, x, x²).
pub type Record = (f64, f64, f64);

/// Running batch-norm statistics over groups of records, with momentum `mom` (P1) and
/// per-group counts.
///
/// # Errors
///
/// [`crate::LabError::Shape`] when there are fewer counts than groups.
///
/// # Examples
///
/// ```
/// use gradsheet_labs::mom_bias::running_batchnorm;
/// let recs = [(1.0, 1.0, 1.0), (1.0, 3.0, 9.0), (2.0, 2.0, 4.0)];
/// let s = running_batchnorm(&recs, &[2.0, 1.0], 0.2).unwrap();
/// assert_eq!(s.groups[0].mean, 2.0);
/// assert_eq!(s.groups[0].var, 1.0);
/// ```
pub fn running_batchnorm(
    records: &[Record],
    counts: &[f64],
    mom: f64,
) -> Result<BatchNormSheet, crate::LabError> {
    let mut labels: Vec<f64> = records.iter().map(|r| r.0).collect();
    labels.sort_by(f64::total_cmp);
    labels.dedup();
    if counts.len() < labels.len() {
        return Err(crate::LabError::Shape(format!(
            "{} groups but {} counts",
            labels.len(),
            counts.len()
        )));
    }
    let keep = 1.0 - mom;
    let mut groups: Vec<BnRow> = Vec::new();
    for (g, &count) in labels.iter().zip(counts) {
        let xs: Vec<f64> = records.iter().filter(|r| r.0 == *g).map(|r| r.1).collect();
        let x2s: Vec<f64> = records.iter().filter(|r| r.0 == *g).map(|r| r.2).collect();
        let (mean, var, mean_x2) = (average(&xs), var_p(&xs), average(&x2s));
        let s = count * mean;
        let ss = count * mean_x2;
        let row = match groups.last() {
            None => BnRow {
                group: *g,
                mean,
                var,
                mean_x2,
                bn_mv: var,
                count,
                m_count: count,
                s,
                m_s: s,
                ma: s / count,
                ma2: mean,
                ss,
                m_ss: ss,
                mv: ss / count - (s / count) * (s / count),
            },
            Some(p) => {
                let m_count = p.m_count + (count - p.m_count) * mom;
                let m_s = p.m_s + (s - p.m_s) * mom;
                let m_ss = p.m_ss + (ss - p.m_ss) * mom;
                let ma = m_s / m_count;
                BnRow {
                    group: *g,
                    mean,
                    var,
                    mean_x2,
                    bn_mv: p.bn_mv * keep + mom * var,
                    count,
                    m_count,
                    s,
                    m_s,
                    ma,
                    ma2: p.ma2 + (mean - p.ma2) * mom,
                    ss,
                    m_ss,
                    mv: m_ss / m_count - ma * ma,
                }
            }
        };
        groups.push(row);
    }
    let xs: Vec<f64> = records.iter().map(|r| r.1).collect();
    let x2s: Vec<f64> = records.iter().map(|r| r.2).collect();
    Ok(BatchNormSheet {
        groups,
        total: (average(&xs), var_p(&xs), average(&x2s)),
    })
}

/// The 50 pivot-cache records: the *stale* inputs the pivot was last refreshed from
/// (the sheet's current RAND() column differs from them).
pub fn pivot_records() -> Vec<Record> {
    matrix(embed!("mom_bias_pivot_records"))
        .into_iter()
        .map(|r| (r[0], r[1], r[2]))
        .collect()
}

/// 'Sheet1 (3)' as saved: the pivot-cache records, momentum 0.2 and the typed counts.
pub fn sheet1_3() -> BatchNormSheet {
    // The embedded records always have five groups and BN_COUNTS five counts.
    running_batchnorm(&pivot_records(), &BN_COUNTS, 0.2).unwrap_or(BatchNormSheet {
        groups: Vec::new(),
        total: (0.0, 0.0, 0.0),
    })
}

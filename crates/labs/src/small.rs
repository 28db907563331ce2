//! The small workbooks (docs/workbooks.md §7–10): broadcasting, style_loss, emb_sizing
//! and emb_results.

use crate::data::{cells, embed};
use crate::excel::{average, round, stdev_p, sum, sumproduct};

/// broadcasting.xlsx: numpy broadcasting drawn as cells.
#[derive(Clone, Debug, PartialEq)]
pub struct Broadcasting {
    /// c, a row (D2:F2).
    pub c: Vec<f64>,
    /// m, a 3×3 matrix (D12:F14).
    pub m: Vec<Vec<f64>>,
    /// The (rows, cols) shapes of c, `c[:,None]` and m (B3:B4, B8:B9, B13:B14).
    pub shapes: [(usize, usize); 3],
    /// H2:J4: c broadcast down the rows.
    pub c_rows: Vec<Vec<f64>>,
    /// L2:N4: c + m.
    pub c_plus_m: Vec<Vec<f64>>,
    /// H7:J9: `c[:,None]` broadcast along the columns.
    pub c_cols: Vec<Vec<f64>>,
    /// L7:N9: `c[:,None]` + m.
    pub ccol_plus_m: Vec<Vec<f64>>,
    /// P2:R4: the outer product c * `c[:,None]`.
    pub outer: Vec<Vec<f64>>,
}

/// Broadcasts a row vector `c` against a matrix `m` the way numpy does, both ways.
///
/// # Examples
///
/// ```
/// let b = gradsheet_labs::small::broadcasting(&[10.0, 20.0], &[vec![1.0, 2.0], vec![3.0, 4.0]]);
/// assert_eq!(b.c_plus_m, vec![vec![11.0, 22.0], vec![13.0, 24.0]]);
/// assert_eq!(b.ccol_plus_m, vec![vec![11.0, 12.0], vec![23.0, 24.0]]);
/// ```
pub fn broadcasting(c: &[f64], m: &[Vec<f64>]) -> Broadcasting {
    let n = c.len();
    let c_rows: Vec<Vec<f64>> = (0..m.len()).map(|_| c.to_vec()).collect();
    let c_cols: Vec<Vec<f64>> = c.iter().map(|v| vec![*v; n]).collect();
    let add = |a: &Vec<Vec<f64>>| -> Vec<Vec<f64>> {
        a.iter()
            .zip(m)
            .map(|(r, s)| r.iter().zip(s).map(|(x, y)| x + y).collect())
            .collect()
    };
    let outer = c_rows
        .iter()
        .zip(&c_cols)
        .map(|(r, s)| r.iter().zip(s).map(|(x, y)| x * y).collect())
        .collect();
    Broadcasting {
        c: c.to_vec(),
        m: m.to_vec(),
        shapes: [(1, n), (n, 1), (m.len(), m.first().map_or(0, |r| r.len()))],
        c_plus_m: add(&c_rows),
        ccol_plus_m: add(&c_cols),
        c_rows,
        c_cols,
        outer,
    }
}

/// broadcasting.xlsx as saved: c = (10, 20, 30), m = 1…9.
pub fn broadcasting_sheet() -> Broadcasting {
    let m = (0..3)
        .map(|i| (1..=3).map(|j| (3 * i + j) as f64).collect())
        .collect::<Vec<_>>();
    broadcasting(&[10.0, 20.0, 30.0], &m)
}

/// style_loss.xlsx: two 2×2 filters over a 4×4 image and the Gram matrix of the
/// outputs.
#[derive(Clone, Debug, PartialEq)]
pub struct StyleLoss {
    /// The two 3×3 filter outputs (C16:E18, C21:E23).
    pub outputs: [Vec<Vec<f64>>; 2],
    /// C29:D30: ⟨fᵢ, fⱼ⟩, not normalised.
    pub gram: [[f64; 2]; 2],
}

/// The image C2:F5.
pub const STYLE_IMAGE: [[f64; 4]; 4] = [
    [0.0, 0.0, 0.0, 1.0],
    [0.0, 1.0, 0.0, 1.0],
    [-1.0, -1.0, -1.0, -1.0],
    [1.0, 1.0, 1.0, -1.0],
];
/// Filter 1 (vertical edges) and Filter 2 (horizontal edges).
pub const STYLE_FILTERS: [[[f64; 2]; 2]; 2] =
    [[[1.0, -1.0], [1.0, -1.0]], [[1.0, 1.0], [-1.0, -1.0]]];

/// Valid 2×2 correlations of an image and the Gram matrix of the results
/// (`SUMPRODUCT` over each pair, row-major).
///
/// # Examples
///
/// ```
/// let s = gradsheet_labs::small::style_loss();
/// assert_eq!(s.gram, [[13.0, -7.0], [-7.0, 65.0]]);
/// ```
pub fn style_loss() -> StyleLoss {
    let conv = |f: &[[f64; 2]; 2]| -> Vec<Vec<f64>> {
        (0..3)
            .map(|i| {
                (0..3)
                    .map(|j| {
                        sum((0..2)
                            .flat_map(|u| (0..2).map(move |v| (u, v)))
                            .map(|(u, v)| f[u][v] * STYLE_IMAGE[i + u][j + v]))
                    })
                    .collect()
            })
            .collect()
    };
    let outputs = [conv(&STYLE_FILTERS[0]), conv(&STYLE_FILTERS[1])];
    let flat: Vec<Vec<f64>> = outputs.iter().map(|o| o.concat()).collect();
    let mut gram = [[0.0; 2]; 2];
    for (i, row) in gram.iter_mut().enumerate() {
        for (j, g) in row.iter_mut().enumerate() {
            *g = sumproduct(&flat[i], &flat[j]);
        }
    }
    StyleLoss { outputs, gram }
}

/// fastai's `emb_sz_rule` as emb_sizing.xlsx writes it: `MIN(ROUND(n^0.56*1.6,0),600)`,
/// with ROUND rounding halves away from zero.
///
/// # Examples
///
/// ```
/// use gradsheet_labs::small::emb_size;
/// assert_eq!(emb_size(1.0), 2.0);
/// assert_eq!(emb_size(1024.0), 78.0);
/// assert_eq!(emb_size(1e6), 600.0);
/// ```
pub fn emb_size(n: f64) -> f64 {
    round(n.powf(0.56) * 1.6, 0).min(600.0)
}

/// emb_sizing.xlsx: (input size, want, rule) for B3:D21.
pub fn emb_sizing_sheet() -> Vec<(f64, f64, f64)> {
    const WANT: [f64; 19] = [
        1.0, 2.0, 2.0, 4.0, 6.0, 12.0, 20.0, 30.0, 40.0, 50.0, 100.0, 160.0, 220.0, 350.0, 400.0,
        500.0, 600.0, 600.0, 600.0,
    ];
    (0..19)
        .map(|i| {
            let n = 2f64.powi(i);
            // C5 and C6 are `=B/2`; the rest are typed.
            let want = if i == 2 || i == 3 {
                n / 2.0
            } else {
                WANT[i as usize]
            };
            (n, want, emb_size(n))
        })
        .collect()
}

/// One run of emb_results.xlsx Sheet1 (rows 20–35).
#[derive(Clone, Debug, PartialEq)]
pub struct EmbRun {
    /// split_contins, use_dict, init_emb, use_scaler.
    pub flags: [bool; 4],
    /// The 10 epoch validation scores (E:N).
    pub scores: Vec<f64>,
    /// P: `STDEV.P` of the last three epochs (two-pass).
    pub var: f64,
    /// Q: `MIN(F:N)`. **Quirk**: skips the first epoch (E).
    pub min: f64,
}

/// The columns of emb_results' runs: the four settings, ten epoch scores, sd and min.
pub const RUN_HEADERS: [&str; 16] = [
    "split contins",
    "use dict",
    "init emb",
    "use scaler",
    "s1",
    "s2",
    "s3",
    "s4",
    "s5",
    "s6",
    "s7",
    "s8",
    "s9",
    "s10",
    "sd",
    "min",
];

/// The 16 runs of emb_results.xlsx with their var and min columns.
pub fn emb_results() -> Vec<EmbRun> {
    cells(embed!("emb_results_runs"))
        .into_iter()
        .map(|r| {
            let flags = [0, 1, 2, 3].map(|i| r.get(i).is_some_and(|c| *c == "TRUE"));
            let scores: Vec<f64> = r
                .iter()
                .skip(4)
                .take(10)
                .map(|c| c.parse().unwrap_or(0.0))
                .collect();
            let var = stdev_p(scores.get(7..10).unwrap_or(&[]));
            let min = scores.iter().skip(1).copied().fold(f64::INFINITY, f64::min);
            EmbRun {
                flags,
                scores,
                var,
                min,
            }
        })
        .collect()
}

/// Sheet2's pivot "Avg Score": the average of `minscore` by (init_emb, split_contins)
/// rows and (use_scaler, use_dict) columns, with subtotals and grand totals. Returns the
/// 7×7 block B6:H12 in sheet order (No init, Dense, Split, Init, Dense, Split, Grand
/// Total) × (No scale: Eq, Dict, Total; Scaled: Eq, Dict, Total; Grand Total).
///
/// `rows` = (flags as in [`EmbRun::flags`], minscore), in source order: each average
/// sums its values in that order.
pub fn emb_pivot(rows: &[([bool; 4], f64)]) -> Vec<Vec<f64>> {
    // Row keys: (init_emb, split_contins); None = every value.
    let row_keys: [(Option<bool>, Option<bool>); 7] = [
        (Some(false), None),
        (Some(false), Some(false)),
        (Some(false), Some(true)),
        (Some(true), None),
        (Some(true), Some(false)),
        (Some(true), Some(true)),
        (None, None),
    ];
    // Column keys: (use_scaler, use_dict).
    let col_keys: [(Option<bool>, Option<bool>); 7] = [
        (Some(false), Some(false)),
        (Some(false), Some(true)),
        (Some(false), None),
        (Some(true), Some(false)),
        (Some(true), Some(true)),
        (Some(true), None),
        (None, None),
    ];
    let ok = |k: Option<bool>, v: bool| k.unwrap_or(v) == v;
    row_keys
        .iter()
        .map(|(init, split)| {
            col_keys
                .iter()
                .map(|(scaler, dict)| {
                    let vs: Vec<f64> = rows
                        .iter()
                        .filter(|(f, _)| {
                            ok(*split, f[0])
                                && ok(*dict, f[1])
                                && ok(*init, f[2])
                                && ok(*scaler, f[3])
                        })
                        .map(|(_, v)| *v)
                        .collect();
                    average(&vs)
                })
                .collect()
        })
        .collect()
}

/// The 16 (flags, minscore) rows of Sheet1 A2:E17, the pasted summary the pivot reads.
pub fn emb_summary() -> Vec<([bool; 4], f64)> {
    cells(embed!("emb_results_summary"))
        .into_iter()
        .map(|r| {
            let flags = [0, 1, 2, 3].map(|i| r.get(i).is_some_and(|c| *c == "TRUE"));
            (flags, r.get(4).and_then(|c| c.parse().ok()).unwrap_or(0.0))
        })
        .collect()
}

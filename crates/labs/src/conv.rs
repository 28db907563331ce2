//! conv-example.xlsx (docs/workbooks.md §4): an MNIST digit through two 3×3 conv layers, a 2×2 max
//! pool and a dense unit, in every workbook version, faithfully (including the partial
//! windows the sheets' ranges imply) and in a "clean" form, with the gradient of the
//! output with respect to every filter weight.
//!
//! Layers are plain `Vec<Vec<f64>>` grids (rows of cells), so a heatmap, a table or an
//! xlsx export can draw them directly.

use crate::data::{embed, matrix, opt_matrix, rows};
use crate::excel::sum;
use crate::LabError;

/// A 2-D layer: rows of cells.
pub type Grid = Vec<Vec<f64>>;

/// The network of a conv-example sheet.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvNet {
    /// The 28×28 input.
    pub input: Grid,
    /// Conv1 filters, one 3×3 per channel ("filter 1/1", "filter 2/1").
    pub filters1: [Grid; 2],
    /// Conv2 filters `[out][in]`: each output channel sums one 3×3 filter per input
    /// channel ("filter 1/2" is `filters2[0]`, "filter 2/2" is `filters2[1]`).
    pub filters2: [[Grid; 2]; 2],
    /// Dense weights per channel at the pooled positions (12×13; the clean net uses
    /// the first 12 columns).
    pub dense: [Grid; 2],
    /// `MAX(0, …)` around both conv layers (course22) or not (course-v3, courses).
    pub relu: bool,
    /// The faithful 25th conv2 column (a window reaching one column past conv1, read as
    /// blank = 0) and 13th pool column. `false` = the clean valid net (24×24, 12×12).
    pub partial: bool,
    /// Dropout after conv2: `Some(keep)` keeps cell (i, j) of channel c when
    /// `keep[c][i][j]`, **without** rescaling by 1/(1−p) (course22 dropout sheet).
    pub keep: Option<[Vec<Vec<bool>>; 2]>,
}

/// Every layer of a forward pass.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvForward {
    /// Conv1 per channel, 26×26.
    pub conv1: [Grid; 2],
    /// Conv2 per channel, 24×25 (24×24 clean).
    pub conv2: [Grid; 2],
    /// Conv2 after dropout (equal to `conv2` without dropout).
    pub dropped: [Grid; 2],
    /// Max pool per channel, 12×13 (12×12 clean).
    pub pool: [Grid; 2],
    /// The two `SUMPRODUCT`s of the dense cell.
    pub dense_terms: [f64; 2],
    /// The dense activation: their sum.
    pub output: f64,
}

/// Gradients of the dense output with respect to the filters.
#[derive(Clone, Debug, PartialEq)]
pub struct FilterGrads {
    /// d output / d filters1.
    pub filters1: [Grid; 2],
    /// d output / d filters2, `[out][in]`.
    pub filters2: [[Grid; 2]; 2],
}

/// A valid 3×3 (or any k×k) cross-correlation, `out[i][j] = Σ in[i+u][j+v]·f[u][v]`,
/// summed row-major over the window like Excel's `SUM(range*filter)`. Cells outside
/// `input` read as blank = 0, so `out_w` may exceed the valid width (a partial window).
///
/// # Examples
///
/// ```
/// use gradsheet_labs::conv::correlate;
/// let input = vec![vec![1.0, 2.0], vec![3.0, 4.0]];
/// let f = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
/// assert_eq!(correlate(&input, &f, 1, 2), vec![vec![5.0, 2.0]]);
/// ```
pub fn correlate(input: &[Vec<f64>], filter: &[Vec<f64>], out_h: usize, out_w: usize) -> Grid {
    (0..out_h)
        .map(|i| {
            (0..out_w)
                .map(|j| window_sum(input, filter, i, j))
                .collect()
        })
        .collect()
}

fn at(g: &[Vec<f64>], i: usize, j: usize) -> f64 {
    g.get(i).and_then(|r| r.get(j)).copied().unwrap_or(0.0)
}

fn window_sum(input: &[Vec<f64>], filter: &[Vec<f64>], i: usize, j: usize) -> f64 {
    sum(filter.iter().enumerate().flat_map(|(u, fr)| {
        fr.iter()
            .enumerate()
            .map(move |(v, f)| at(input, i + u, j + v) * f)
    }))
}

fn relu_if(on: bool, x: f64) -> f64 {
    if on && x <= 0.0 {
        0.0
    } else {
        x
    }
}

/// 2×2 stride-2 max pool of a grid `w` columns wide with `out_w` pooled columns;
/// cells past the grid are blank and, like Excel's `MAX`, ignored.
///
/// # Examples
///
/// ```
/// use gradsheet_labs::conv::maxpool;
/// let g = vec![vec![1.0, 5.0, 2.0], vec![3.0, 4.0, 7.0]];
/// assert_eq!(maxpool(&g, 2), vec![vec![5.0, 7.0]]);
/// ```
pub fn maxpool(g: &[Vec<f64>], out_w: usize) -> Grid {
    (0..g.len() / 2)
        .map(|i| {
            (0..out_w)
                .map(|j| argmax(g, i, j).map_or(0.0, |(a, b)| g[a][b]))
                .collect()
        })
        .collect()
}

/// The first maximum (row-major) of pool window (i, j), skipping blank cells.
fn argmax(g: &[Vec<f64>], i: usize, j: usize) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    for a in 2 * i..2 * i + 2 {
        for b in 2 * j..2 * j + 2 {
            let Some(x) = g.get(a).and_then(|r| r.get(b)) else {
                continue;
            };
            let better = match best {
                None => true,
                Some((p, q)) => *x > g[p][q],
            };
            if better {
                best = Some((a, b));
            }
        }
    }
    best
}

impl ConvNet {
    fn dims(&self) -> (usize, usize) {
        // (conv2 width, pool width)
        if self.partial {
            (25, 13)
        } else {
            (24, 12)
        }
    }

    /// Checks every shape the forward pass relies on.
    ///
    /// # Errors
    ///
    /// [`LabError::Shape`] naming the first array of the wrong size.
    pub fn validate(&self) -> Result<(), LabError> {
        let (_, pw) = self.dims();
        let check = |name: &str, g: &[Vec<f64>], h: usize, w: usize| {
            if g.len() < h || g.iter().take(h).any(|r| r.len() < w) {
                Err(LabError::Shape(format!("{name} must be at least {h}×{w}")))
            } else {
                Ok(())
            }
        };
        check("input", &self.input, 28, 28)?;
        for f in &self.filters1 {
            check("filters1", f, 3, 3)?;
        }
        for f in self.filters2.iter().flatten() {
            check("filters2", f, 3, 3)?;
        }
        for d in &self.dense {
            check("dense", d, 12, pw)?;
        }
        if let Some(k) = &self.keep {
            for m in k {
                if m.len() < 24 || m.iter().take(24).any(|r| r.len() < 25) {
                    return Err(LabError::Shape("keep mask must be at least 24×25".into()));
                }
            }
        }
        Ok(())
    }

    /// The forward pass, layer by layer.
    ///
    /// # Errors
    ///
    /// [`LabError::Shape`] when an array is too small (see [`ConvNet::validate`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let f = gradsheet_labs::conv::course_v3().forward().unwrap();
    /// assert_eq!((f.conv2[0].len(), f.conv2[0][0].len()), (24, 25));
    /// assert!((f.output - 1814.9177220748).abs() < 1e-9);
    /// ```
    pub fn forward(&self) -> Result<ConvForward, LabError> {
        self.validate()?;
        let (w2, pw) = self.dims();
        let conv1: [Grid; 2] = [0, 1].map(|c| {
            let z = correlate(&self.input, &self.filters1[c], 26, 26);
            z.into_iter()
                .map(|r| r.into_iter().map(|x| relu_if(self.relu, x)).collect())
                .collect()
        });
        let conv2: [Grid; 2] = [0, 1].map(|o| {
            (0..24)
                .map(|i| {
                    (0..w2)
                        .map(|j| {
                            // SUM(window1*f1)+SUM(window2*f2): two sums, then added.
                            let s = window_sum(&conv1[0], &self.filters2[o][0], i, j)
                                + window_sum(&conv1[1], &self.filters2[o][1], i, j);
                            relu_if(self.relu, s)
                        })
                        .collect()
                })
                .collect()
        });
        let dropped: [Grid; 2] = [0, 1].map(|c| match &self.keep {
            None => conv2[c].clone(),
            Some(k) => conv2[c]
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    r.iter()
                        .enumerate()
                        .map(|(j, x)| if k[c][i][j] { *x } else { 0.0 })
                        .collect()
                })
                .collect(),
        });
        let pool = [0, 1].map(|c| maxpool(&dropped[c], pw));
        let dense_terms = [0, 1].map(|c| {
            sum(pool[c]
                .iter()
                .zip(&self.dense[c])
                .flat_map(|(p, w)| p.iter().zip(w).map(|(p, w)| w * p)))
        });
        Ok(ConvForward {
            conv1,
            conv2,
            dropped,
            pool,
            dense_terms,
            output: dense_terms[0] + dense_terms[1],
        })
    }

    /// Backpropagation of the dense output to every filter weight.
    ///
    /// Conventions at the kinks: a ReLU at exactly 0 passes no gradient (micrograd's
    /// choice), and a max-pool window routes its gradient to its first maximum in
    /// row-major order.
    ///
    /// # Errors
    ///
    /// [`LabError::Shape`] as for [`ConvNet::forward`].
    // Index loops read like the formulas (i+u, j+v) here, so clippy's iterator
    // rewrite would obscure them.
    #[allow(clippy::needless_range_loop)]
    pub fn filter_grads(&self) -> Result<FilterGrads, LabError> {
        let f = self.forward()?;
        let (w2, pw) = self.dims();
        let zero = |h: usize, w: usize| vec![vec![0.0; w]; h];
        // d out / d conv2 (after ReLU and dropout): routed through the max pool.
        let mut d2 = [zero(24, w2), zero(24, w2)];
        for c in 0..2 {
            for i in 0..12 {
                for j in 0..pw {
                    if let Some((a, b)) = argmax(&f.dropped[c], i, j) {
                        d2[c][a][b] += self.dense[c][i][j];
                    }
                }
            }
            if let Some(k) = &self.keep {
                for (i, r) in d2[c].iter_mut().enumerate() {
                    for (j, v) in r.iter_mut().enumerate() {
                        if !k[c][i][j] {
                            *v = 0.0;
                        }
                    }
                }
            }
            if self.relu {
                for (i, r) in d2[c].iter_mut().enumerate() {
                    for (j, v) in r.iter_mut().enumerate() {
                        if f.conv2[c][i][j] <= 0.0 {
                            *v = 0.0;
                        }
                    }
                }
            }
        }
        let mut g2 = [[zero(3, 3), zero(3, 3)], [zero(3, 3), zero(3, 3)]];
        let mut d1 = [zero(26, 26), zero(26, 26)];
        for o in 0..2 {
            for ci in 0..2 {
                for i in 0..24 {
                    for j in 0..w2 {
                        let d = d2[o][i][j];
                        if d == 0.0 {
                            continue;
                        }
                        for u in 0..3 {
                            for v in 0..3 {
                                if j + v < 26 {
                                    g2[o][ci][u][v] += d * f.conv1[ci][i + u][j + v];
                                    d1[ci][i + u][j + v] += d * self.filters2[o][ci][u][v];
                                }
                            }
                        }
                    }
                }
            }
        }
        let mut g1 = [zero(3, 3), zero(3, 3)];
        for c in 0..2 {
            for i in 0..26 {
                for j in 0..26 {
                    let d = if self.relu && f.conv1[c][i][j] <= 0.0 {
                        0.0
                    } else {
                        d1[c][i][j]
                    };
                    if d == 0.0 {
                        continue;
                    }
                    for u in 0..3 {
                        for v in 0..3 {
                            g1[c][u][v] += d * self.input[i + u][j + v];
                        }
                    }
                }
            }
        }
        Ok(FilterGrads {
            filters1: g1,
            filters2: g2,
        })
    }

    /// The same network without partial windows: valid convolutions only (conv2
    /// 24×24, pool 12×12, the dense weights of the first 12 columns).
    pub fn clean(&self) -> ConvNet {
        ConvNet {
            partial: false,
            ..self.clone()
        }
    }
}

/// The embedded MNIST digit (A2:AB29, identical in every version).
pub fn digit() -> Grid {
    matrix(embed!("conv_digit"))
}

fn filters(src: &str) -> ([Grid; 2], [[Grid; 2]; 2]) {
    let m = matrix(src);
    let f = |k: usize| rows(&m, 3 * k, 3 * k + 3);
    ([f(0), f(1)], [[f(2), f(3)], [f(4), f(5)]])
}

/// Dense weights sit at every other cell of a 23-row block; keep those positions.
fn dense(src: &str) -> [Grid; 2] {
    let m = matrix(src);
    let pick = |r0: usize| -> Grid {
        (0..12)
            .map(|i| (0..13).map(|j| at(&m, r0 + 2 * i, 2 * j)).collect())
            .collect()
    };
    [pick(0), pick(23)]
}

fn net(f: &str, d: &str, relu: bool) -> ConvNet {
    let (filters1, filters2) = filters(f);
    ConvNet {
        input: digit(),
        filters1,
        filters2,
        dense: dense(d),
        relu,
        partial: true,
        keep: None,
    }
}

/// course-v3 (and courses 2016) "conv-example": no ReLU, filters in [0, 1].
pub fn course_v3() -> ConvNet {
    net(embed!("conv_v3_filters"), embed!("conv_v3_dense"), false)
}

/// course22 "conv-example": ReLU in both conv layers, edge-detector filters; read from
/// the user's copy of course22 ([`crate::material`]).
///
/// # Errors
///
/// [`LabError::Missing`] without it.
pub fn course22() -> Result<ConvNet, LabError> {
    use crate::material::get;
    Ok(net(get("conv_c22_filters")?, get("conv_c22_dense")?, true))
}

/// course22 "conv-example (dropout)": the sheet's layers plus its dropout statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct DropoutSheet {
    /// The network, `keep` derived from the cached random numbers.
    pub net: ConvNet,
    /// The dropout probability p (GD1 = 0.9).
    pub p: f64,
    /// The cached `RAND()` values per channel, 24×25 (inputs; volatile on the sheet).
    pub rand: [Grid; 2],
    /// The mask `IF(rand > p+0.001, rand, 0)` (DZ:EX): the random value itself, or 0.
    pub mask: [Grid; 2],
    /// FA30/FA63: `26*26`. **Quirk**: the mask has 24×25 = 600 cells, not 676.
    pub total_pixels: f64,
    /// FA31/FA64: `COUNTIF(mask, 0)` per channel.
    pub zero_counts: [f64; 2],
    /// FA32/FA65: "Actual dropout" = zero count / 676.
    pub actual_dropout: [f64; 2],
}

/// The course22 dropout sheet, from its cached random values (read from the user's copy
/// of course22, [`crate::material`]).
///
/// # Errors
///
/// [`LabError::Missing`] without it.
///
/// # Examples
///
/// ```
/// // Without the user's copy of course22 installed, the error says where to get it.
/// match gradsheet_labs::conv::course22_dropout() {
///     Ok(s) => assert_eq!(s.zero_counts[0], 540.0),
///     Err(e) => assert!(e.to_string().contains("GRADSHEET_COURSE22")),
/// }
/// ```
pub fn course22_dropout() -> Result<DropoutSheet, LabError> {
    use crate::material::get;
    let p = 0.9;
    let r = opt_matrix(get("conv_drop_rand")?);
    let grid = |r0: usize| -> Grid {
        (0..24)
            .map(|i| {
                (0..25)
                    .map(|j| {
                        r.get(r0 + i)
                            .and_then(|x| x.get(j))
                            .copied()
                            .flatten()
                            .unwrap_or(0.0)
                    })
                    .collect()
            })
            .collect()
    };
    let rand = [grid(0), grid(24)];
    // The threshold is p + 0.001, as typed in the sheet's formula.
    let mask: [Grid; 2] = [0, 1].map(|c| {
        rand[c]
            .iter()
            .map(|row| {
                row.iter()
                    .map(|x| if *x > p + 0.001 { *x } else { 0.0 })
                    .collect()
            })
            .collect()
    });
    let keep = [0, 1].map(|c| {
        mask[c]
            .iter()
            .map(|row| row.iter().map(|x| *x != 0.0).collect())
            .collect()
    });
    let mut net = net(get("conv_drop_filters")?, get("conv_drop_dense")?, true);
    net.keep = Some(keep);
    let total_pixels = 26.0 * 26.0;
    let zero_counts =
        [0, 1].map(|c| mask[c].iter().flatten().filter(|x| **x == 0.0).count() as f64);
    let actual_dropout = zero_counts.map(|z| z / total_pixels);
    Ok(DropoutSheet {
        net,
        p,
        rand,
        mask,
        total_pixels,
        zero_counts,
        actual_dropout,
    })
}

/// course-v3 "conv-example (2)": one channel, and a single 22×22 conv2 whose window
/// starts one row down (`BO5 =SUM(AH4:AJ6*filter)`).
#[derive(Clone, Debug, PartialEq)]
pub struct Example2 {
    /// Conv1 filter (AD11:AF13).
    pub filter1: Grid,
    /// Conv2 filter (BI11:BK13).
    pub filter2: Grid,
    /// Conv1, 26×26.
    pub conv1: Grid,
    /// Conv2, 22×22: `out[i][j] = Σ conv1[i+1+u][j+v]·f[u][v]`.
    pub conv2: Grid,
}

/// The course-v3 "conv-example (2)" sheet.
pub fn course_v3_example2() -> Example2 {
    let m = matrix(embed!("conv_v3_2_filters"));
    let (filter1, filter2) = (rows(&m, 0, 3), rows(&m, 3, 6));
    let conv1 = correlate(&digit(), &filter1, 26, 26);
    let conv2 = correlate(&conv1[1..], &filter2, 22, 22);
    Example2 {
        filter1,
        filter2,
        conv1,
        conv2,
    }
}

/// A layer as a grey-level heatmap: each cell mapped linearly to [0, 1] from the
/// layer's minimum to its maximum (a constant or empty layer maps to 0).
///
/// # Examples
///
/// ```
/// use gradsheet_labs::conv::heatmap;
/// assert_eq!(heatmap(&[vec![1.0, 3.0], vec![2.0, 1.0]]), vec![vec![0.0, 1.0], vec![0.5, 0.0]]);
/// ```
pub fn heatmap(layer: &[Vec<f64>]) -> Grid {
    let finite = layer.iter().flatten().copied().filter(|x| x.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| {
        (l.min(x), h.max(x))
    });
    let span = hi - lo;
    layer
        .iter()
        .map(|r| {
            r.iter()
                .map(|x| {
                    if span > 0.0 && x.is_finite() {
                        (x - lo) / span
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect()
}

/// A diverging RGB rendering for signed layers (filters, gradients): negative cells
/// red, positive blue, 0 white, scaled by the largest magnitude.
///
/// # Examples
///
/// ```
/// use gradsheet_labs::conv::heatmap_rgb;
/// assert_eq!(heatmap_rgb(&[vec![-1.0, 0.0, 1.0]]), vec![vec![[255, 0, 0], [255, 255, 255], [0, 0, 255]]]);
/// ```
pub fn heatmap_rgb(layer: &[Vec<f64>]) -> Vec<Vec<[u8; 3]>> {
    let m = layer
        .iter()
        .flatten()
        .filter(|x| x.is_finite())
        .fold(0.0f64, |m, x| m.max(x.abs()));
    layer
        .iter()
        .map(|r| {
            r.iter()
                .map(|x| {
                    let t = if m > 0.0 && x.is_finite() {
                        (x / m).clamp(-1.0, 1.0)
                    } else {
                        0.0
                    };
                    let fade = (255.0 * (1.0 - t.abs())).round() as u8;
                    if t < 0.0 {
                        [255, fade, fade]
                    } else {
                        [fade, fade, 255]
                    }
                })
                .collect()
        })
        .collect()
}

//! layers_example.xlsx (courses, 2016; docs/workbooks.md §11): a 3-layer MLP (3 → 4 → 3 → 2) with a
//! softmax, a log10 cross-entropy and one hand-made backprop step on the last layer.

use crate::data::{embed, matrix, rows};
use crate::entropy::softmax_table;
use crate::excel::{log, sum};

/// `MMULT` of a row vector by a matrix, each output a sequential sum over k.
///
/// # Examples
///
/// ```
/// use gradsheet_labs::layers::mmult_row;
/// assert_eq!(mmult_row(&[1.0, 2.0], &[vec![1.0, 0.0], vec![3.0, 1.0]]), vec![7.0, 2.0]);
/// ```
pub fn mmult_row(x: &[f64], w: &[Vec<f64>]) -> Vec<f64> {
    let cols = w.first().map_or(0, |r| r.len());
    (0..cols)
        .map(|j| sum(x.iter().zip(w).map(|(xi, wr)| xi * wr[j])))
        .collect()
}

/// `MAX(0, x)` element-wise.
pub fn relu(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| if *x > 0.0 { *x } else { 0.0 }).collect()
}

/// The network's weights and data.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    /// x (1×3).
    pub x: Vec<f64>,
    /// y (1×2), one-hot.
    pub y: Vec<f64>,
    /// weights 1 (3×4).
    pub w1: Vec<Vec<f64>>,
    /// weights 2 (4×3).
    pub w2: Vec<Vec<f64>>,
    /// weights 3 (3×2).
    pub w3: Vec<Vec<f64>>,
}

/// A forward pass, every intermediate kept.
#[derive(Clone, Debug, PartialEq)]
pub struct Forward {
    /// linear 1 = x·W1.
    pub z1: Vec<f64>,
    /// activations 1 = ReLU(z1).
    pub a1: Vec<f64>,
    /// linear 2.
    pub z2: Vec<f64>,
    /// activations 2.
    pub a2: Vec<f64>,
    /// o = a2·W3.
    pub o: Vec<f64>,
    /// `SUM(EXP(o))`.
    pub sum_exp: f64,
    /// softmax.
    pub p: Vec<f64>,
    /// Per-class loss `-LOG(p)*y` (log10).
    pub loss_terms: Vec<f64>,
    /// Their sum.
    pub loss: f64,
}

impl Mlp {
    /// The forward pass of the sheet.
    pub fn forward(&self) -> Forward {
        let z1 = mmult_row(&self.x, &self.w1);
        let a1 = relu(&z1);
        let z2 = mmult_row(&a1, &self.w2);
        let a2 = relu(&z2);
        let (o, sum_exp, p, loss_terms, loss) = head(&a2, &self.w3, &self.y);
        Forward {
            z1,
            a1,
            z2,
            a2,
            o,
            sum_exp,
            p,
            loss_terms,
            loss,
        }
    }
}

/// The last layer, softmax and loss from activations 2.
fn head(a2: &[f64], w3: &[Vec<f64>], y: &[f64]) -> (Vec<f64>, f64, Vec<f64>, Vec<f64>, f64) {
    let o = mmult_row(a2, w3);
    let t = softmax_table(&o);
    let terms: Vec<f64> = t.probs.iter().zip(y).map(|(p, y)| -log(*p) * y).collect();
    let loss = sum(terms.iter().copied());
    (o, t.sum_exp, t.probs, terms, loss)
}

/// The "fixed" sheet: forward pass, gradient of the last layer, a finite-difference
/// probe and one SGD step.
#[derive(Clone, Debug, PartialEq)]
pub struct FixedSheet {
    /// The network.
    pub mlp: Mlp,
    /// Rows 9–32.
    pub forward: Forward,
    /// H30:I30 dl/dout = p − y. **Quirk**: this is the gradient of the *natural-log*
    /// cross-entropy, while the loss on the sheet uses LOG = log10, so it is ln 10 times
    /// the gradient of the loss shown.
    pub dl_dout: Vec<f64>,
    /// H24:I26 dl/dw3 = a2ᵢ·δⱼ.
    pub dl_dw3: Vec<Vec<f64>>,
    /// H22: the finite-difference step, reused as the learning rate.
    pub delta: f64,
    /// Rows 35–37 (B:C): w3 with `w3[1][1]` increased by delta.
    pub w3_probe: Vec<Vec<f64>>,
    /// Rows 39–41: o, p, l with the probed weights.
    pub probe: (Vec<f64>, f64, Vec<f64>, Vec<f64>, f64),
    /// H35:I37 = loss + dl/dw3·delta, the linear prediction of each probed loss.
    pub predicted_loss: Vec<Vec<f64>>,
    /// B45:C47 new w3 = w3 − dl/dw3·delta.
    pub w3_new: Vec<Vec<f64>>,
    /// G45:H47 change in weights = w3 − new w3.
    pub w3_change: Vec<Vec<f64>>,
    /// Rows 49–53: o, p, l after the step.
    pub after: (Vec<f64>, f64, Vec<f64>, Vec<f64>, f64),
    /// H51:I51 change in output (p after − p before).
    pub p_change: Vec<f64>,
    /// H53:I53 change in loss (per class).
    pub loss_change: Vec<f64>,
    /// H55:I55 change in loss / change in output.
    pub ratio: Vec<f64>,
    /// I10: `=0.704*1.98`, a stray.
    pub stray_i10: f64,
}

fn load_mlp(src: &str) -> Mlp {
    let m = matrix(src);
    let first = |i: usize, n: usize| {
        m.get(i)
            .map(|r| r.iter().take(n).copied().collect())
            .unwrap_or_default()
    };
    Mlp {
        x: first(0, 3),
        y: first(1, 2),
        w1: rows(&m, 2, 5),
        w2: rows(&m, 5, 9),
        w3: rows(&m, 9, 12),
    }
}

/// The fixed sheet as saved.
///
/// # Examples
///
/// ```
/// let s = gradsheet_labs::layers::fixed();
/// // One step along -dl/dw3 lowers the loss.
/// assert!(s.after.4 < s.forward.loss);
/// ```
pub fn fixed() -> FixedSheet {
    let mlp = load_mlp(embed!("layers_fixed"));
    let forward = mlp.forward();
    let delta = 0.01;
    let dl_dout: Vec<f64> = forward.p.iter().zip(&mlp.y).map(|(p, y)| p - y).collect();
    let dl_dw3: Vec<Vec<f64>> = forward
        .a2
        .iter()
        .map(|a| dl_dout.iter().map(|d| a * d).collect())
        .collect();
    let mut w3_probe = mlp.w3.clone();
    w3_probe[1][1] += delta;
    let probe = head(&forward.a2, &w3_probe, &mlp.y);
    let predicted_loss = dl_dw3
        .iter()
        .map(|r| r.iter().map(|g| forward.loss + g * delta).collect())
        .collect();
    let w3_new: Vec<Vec<f64>> = mlp
        .w3
        .iter()
        .zip(&dl_dw3)
        .map(|(w, g)| w.iter().zip(g).map(|(w, g)| w - g * delta).collect())
        .collect();
    let w3_change = mlp
        .w3
        .iter()
        .zip(&w3_new)
        .map(|(a, b)| a.iter().zip(b).map(|(a, b)| a - b).collect())
        .collect();
    let after = head(&forward.a2, &w3_new, &mlp.y);
    let p_change: Vec<f64> = after.2.iter().zip(&forward.p).map(|(a, b)| a - b).collect();
    let loss_change: Vec<f64> = after
        .3
        .iter()
        .zip(&forward.loss_terms)
        .map(|(a, b)| a - b)
        .collect();
    let ratio = loss_change
        .iter()
        .zip(&p_change)
        .map(|(l, p)| l / p)
        .collect();
    FixedSheet {
        mlp,
        forward,
        dl_dout,
        dl_dw3,
        delta,
        w3_probe,
        probe,
        predicted_loss,
        w3_new,
        w3_change,
        after,
        p_change,
        loss_change,
        ratio,
        stray_i10: 0.704 * 1.98,
    }
}

/// The "random" sheet, from its cached `NORM.INV(RAND(),0,sd)` weights.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomSheet {
    /// The network (weights = the cached random values).
    pub mlp: Mlp,
    /// The forward pass (rows 10–31).
    pub forward: Forward,
    /// J5, J14, J24: the sd `2/COUNT(inputs)`. **Quirk**: 2/fan_in, not √(2/fan_in).
    pub sds: [f64; 3],
    /// C32 "rmse" = `SQRT(SUMXMY2(p, y))`: the square root of a sum, not of a mean.
    pub rmse: f64,
    /// G29:H29 dl/dout = p − y.
    pub dl_dout: Vec<f64>,
    /// G24:H26 = w3ᵢⱼ·δⱼ. **Quirk (bug)**: multiplies the *weights*, not the
    /// activations, by dl/dout (the fixed sheet does it right).
    pub dl_dw3_buggy: Vec<Vec<f64>>,
}

/// The random sheet as saved.
pub fn random() -> RandomSheet {
    let mlp = load_mlp(embed!("layers_random"));
    let forward = mlp.forward();
    let dl_dout: Vec<f64> = forward.p.iter().zip(&mlp.y).map(|(p, y)| p - y).collect();
    let dl_dw3_buggy = mlp
        .w3
        .iter()
        .map(|r| r.iter().zip(&dl_dout).map(|(w, d)| w * d).collect())
        .collect();
    let rmse = sum(forward.p.iter().zip(&mlp.y).map(|(p, y)| (p - y) * (p - y))).sqrt();
    let sds = [2.0 / 3.0, 2.0 / 4.0, 2.0 / 3.0];
    RandomSheet {
        mlp,
        forward,
        sds,
        rmse,
        dl_dout,
        dl_dw3_buggy,
    }
}

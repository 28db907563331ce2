//! titanic.xlsx (course22, lesson 3; docs/workbooks.md §12): a linear model and a two-ReLU "neural
//! net" (written with SUMPRODUCT and with MMULT) predicting survival, their derived
//! feature columns computed from the raw Kaggle rows, and their fitting by gradient
//! descent and by L-BFGS (the stand-in for Excel Solver).

use crate::data::matrix;
use crate::excel::{average, sumproduct};
use crate::optim::{lbfgs, AdamConfig, AdamState, LbfgsConfig};
use crate::LabError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A raw row of all_rows (A:H).
#[derive(Clone, Debug, PartialEq)]
pub struct Passenger {
    /// Survived (0/1).
    pub survived: f64,
    /// Pclass (1–3).
    pub pclass: f64,
    /// Sex ("male"/"female").
    pub sex: String,
    /// Age, blank 177 times.
    pub age: Option<f64>,
    /// SibSp.
    pub sib_sp: f64,
    /// Parch.
    pub parch: f64,
    /// Fare.
    pub fare: f64,
    /// Embarked ("S", "C", "Q"), blank twice.
    pub embarked: Option<String>,
}

/// Parses all_rows-style CSV lines (Survived, Pclass, Sex, Age, SibSp, Parch, Fare,
/// Embarked; no header). Blank Age/Embarked are `None`; a blank Fare is 0 (blank = 0
/// in Excel arithmetic).
///
/// # Errors
///
/// [`LabError::Parse`] with the line and field of the first malformed value.
///
/// # Examples
///
/// ```
/// let p = gradsheet_labs::titanic::parse_rows("0,3,male,30,1,0,8,S\n1,1,female,,0,0,30,").unwrap();
/// assert_eq!(p[1].age, None);
/// assert_eq!(p[1].embarked, None);
/// ```
pub fn parse_rows(text: &str) -> Result<Vec<Passenger>, LabError> {
    const NAMES: [&str; 8] = [
        "Survived", "Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked",
    ];
    let mut out = Vec::new();
    for (ln, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let err = |i: usize, m: String| LabError::Parse {
            line: ln + 1,
            field: i + 1,
            name: NAMES.get(i).copied().unwrap_or("extra"),
            message: m,
        };
        if f.len() != 8 {
            return Err(err(
                f.len().min(8),
                format!("expected 8 fields, found {}", f.len()),
            ));
        }
        let num = |i: usize| -> Result<Option<f64>, LabError> {
            if f[i].is_empty() {
                return Ok(None);
            }
            f[i].parse::<f64>()
                .map(Some)
                .map_err(|_| err(i, format!("expected a number, found {:?}", f[i])))
        };
        let req = |i: usize| num(i)?.ok_or_else(|| err(i, "missing value".into()));
        out.push(Passenger {
            survived: req(0)?,
            pclass: req(1)?,
            sex: f[2].to_string(),
            age: num(3)?,
            sib_sp: req(4)?,
            parch: req(5)?,
            fare: num(6)?.unwrap_or(0.0),
            embarked: (!f[7].is_empty()).then(|| f[7].to_string()),
        });
    }
    Ok(out)
}

/// The 891 raw rows (all_rows!A2:H892), from the user's copy of course22
/// ([`crate::material`]).
///
/// # Errors
///
/// [`LabError::Missing`] without it; [`LabError::Parse`] for a row that cannot be read.
pub fn all_rows() -> Result<Vec<Passenger>, LabError> {
    parse_rows(crate::material::get("titanic_all_rows")?)
}

/// The names of the ten features (G:P), in parameter order.
pub const FEATURES: [&str; 10] = [
    "SibSp", "Parch", "Age_N", "log_Fare", "Pclass_1", "Pclass_2", "Embark_S", "Embark_C", "Male",
    "Ones",
];

/// The model table shared by the three sheets (A3:P715).
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// The rows with Age and Embarked present, in original order (712).
    pub rows: Vec<Passenger>,
    /// E1 = `MAX([Age])` (80).
    pub max_age: f64,
    /// F1 = `MAX([Fare])` (unused by the model).
    pub max_fare: f64,
    /// G:P per row: SibSp, Parch, `Age/E1`, `LOG10(Fare+1)`, Pclass one-hots (1, 2),
    /// Embarked one-hots (S, C), Male, 1.
    pub x: Vec<[f64; 10]>,
    /// Survived per row.
    pub y: Vec<f64>,
}

/// Builds the table from raw rows: keeps rows with Age and Embarked, derives features.
///
/// # Examples
///
/// ```
/// use gradsheet_labs::titanic::{parse_rows, table};
/// // Survived, Pclass, Sex, Age, SibSp, Parch, Fare, Embarked: the third has no age.
/// let raw = "0,3,male,30,1,0,8,S\n1,1,female,40,1,0,70,C\n1,3,female,,0,0,9,S";
/// let t = table(&parse_rows(raw).unwrap());
/// assert_eq!(t.rows.len(), 2);
/// assert_eq!(t.x[0][2], 30.0 / 40.0);
/// ```
pub fn table(all: &[Passenger]) -> Table {
    let rows: Vec<Passenger> = all
        .iter()
        .filter(|p| p.age.is_some() && p.embarked.is_some())
        .cloned()
        .collect();
    let max_age = rows.iter().filter_map(|p| p.age).fold(0.0, f64::max);
    let max_fare = rows.iter().map(|p| p.fare).fold(0.0, f64::max);
    let ind = |b: bool| if b { 1.0 } else { 0.0 };
    let x = rows
        .iter()
        .map(|p| {
            let emb = p.embarked.as_deref().unwrap_or("");
            [
                p.sib_sp,
                p.parch,
                p.age.unwrap_or(0.0) / max_age,
                (p.fare + 1.0).log10(),
                ind(p.pclass == 1.0),
                ind(p.pclass == 2.0),
                ind(emb == "S"),
                ind(emb == "C"),
                ind(p.sex == "male"),
                1.0,
            ]
        })
        .collect();
    let y = rows.iter().map(|p| p.survived).collect();
    Table {
        rows,
        max_age,
        max_fare,
        x,
        y,
    }
}

/// The saved Solver parameters of the three models: linear, nnet, mmult.
pub type SavedParams = (Vec<f64>, Vec<f64>, Vec<f64>);

/// The saved Solver parameters: linear R4:AA4 (10), nnet R4:AA5 (2×10 → 20, unit 1
/// then unit 2), mmult S4:T13 (10×2, stored here as unit 1 then unit 2), from the
/// user's copy of course22 ([`crate::material`]).
///
/// # Errors
///
/// [`LabError::Missing`] without it.
pub fn saved_params() -> Result<SavedParams, LabError> {
    use crate::material::get;
    let lin = matrix(get("titanic_linear_params")?).concat();
    let nnet = matrix(get("titanic_nnet_params")?).concat();
    let mm = matrix(get("titanic_mmult_params")?);
    let mut mmult: Vec<f64> = mm
        .iter()
        .map(|r| r.first().copied().unwrap_or(0.0))
        .collect();
    mmult.extend(mm.iter().map(|r| r.get(1).copied().unwrap_or(0.0)));
    Ok((lin, nnet, mmult))
}

/// The linear sheet: AC = `SUMPRODUCT(features, params)`, AD = (AC − Survived)²,
/// AA7 = `AVERAGE(AD)`.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearSheet {
    /// AC per row.
    pub preds: Vec<f64>,
    /// AD per row.
    pub losses: Vec<f64>,
    /// AA7.
    pub loss: f64,
}

/// The nnet / mmult sheets: two linear units, their ReLUs, the sum and the loss.
#[derive(Clone, Debug, PartialEq)]
pub struct NetSheet {
    /// Lin1, Lin2 per row (nnet AC:AD, mmult V:W).
    pub lin: Vec<[f64; 2]>,
    /// ReLU1, ReLU2 (`IF(x<0,0,x)`).
    pub relu: Vec<[f64; 2]>,
    /// Preds = ReLU1 + ReLU2.
    pub preds: Vec<f64>,
    /// (Survived − Preds)².
    pub losses: Vec<f64>,
    /// The average loss (nnet AH1, mmult AA1).
    pub loss: f64,
}

fn check_len(p: &[f64], n: usize) -> Result<(), LabError> {
    if p.len() == n {
        Ok(())
    } else {
        Err(LabError::Shape(format!(
            "{} parameters, expected {n}",
            p.len()
        )))
    }
}

/// The linear model over a table.
///
/// # Errors
///
/// [`LabError::Shape`] unless there are 10 parameters.
pub fn linear(t: &Table, p: &[f64]) -> Result<LinearSheet, LabError> {
    check_len(p, 10)?;
    let preds: Vec<f64> = t.x.iter().map(|x| sumproduct(x, p)).collect();
    let losses: Vec<f64> = preds
        .iter()
        .zip(&t.y)
        .map(|(a, y)| (a - y) * (a - y))
        .collect();
    Ok(LinearSheet {
        loss: average(&losses),
        preds,
        losses,
    })
}

fn relu(x: f64) -> f64 {
    if x < 0.0 {
        0.0
    } else {
        x
    }
}

/// The two-ReLU net: `p[0..10]` is unit 1, `p[10..20]` unit 2. (nnet's SUMPRODUCT and
/// mmult's MMULT both accumulate over the ten features in order, so one function
/// serves both sheets.)
///
/// # Errors
///
/// [`LabError::Shape`] unless there are 20 parameters.
pub fn nnet(t: &Table, p: &[f64]) -> Result<NetSheet, LabError> {
    check_len(p, 20)?;
    let lin: Vec<[f64; 2]> =
        t.x.iter()
            .map(|x| [sumproduct(x, &p[..10]), sumproduct(x, &p[10..])])
            .collect();
    let relu: Vec<[f64; 2]> = lin.iter().map(|l| [relu(l[0]), relu(l[1])]).collect();
    let preds: Vec<f64> = relu.iter().map(|r| r[0] + r[1]).collect();
    let losses: Vec<f64> = preds
        .iter()
        .zip(&t.y)
        .map(|(a, y)| (y - a) * (y - a))
        .collect();
    Ok(NetSheet {
        lin,
        relu,
        preds,
        loss: average(&losses),
        losses,
    })
}

/// Which model to fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// 10 parameters.
    Linear,
    /// 20 parameters, two ReLU units.
    Nnet,
}

impl Model {
    /// Number of parameters.
    pub fn n_params(self) -> usize {
        match self {
            Model::Linear => 10,
            Model::Nnet => 20,
        }
    }
}

/// Mean squared error and its hand-derived gradient. Linear: ∂/∂w = (2/n)Σ e·x with
/// e = pred − y. Nnet: the same through each unit whose pre-activation is ≥ 0 (the
/// sheet's `IF(x<0,0,x)` passes x = 0, so its derivative is taken as 1 there).
///
/// # Errors
///
/// [`LabError::Shape`] for a parameter vector of the wrong length.
pub fn loss_grad(t: &Table, m: Model, p: &[f64]) -> Result<(f64, Vec<f64>), LabError> {
    check_len(p, m.n_params())?;
    Ok(loss_grad_unchecked(t, m, p))
}

fn loss_grad_unchecked(t: &Table, m: Model, p: &[f64]) -> (f64, Vec<f64>) {
    let n = t.y.len().max(1) as f64;
    let mut g = vec![0.0; p.len()];
    let mut loss = 0.0;
    for (x, y) in t.x.iter().zip(&t.y) {
        match m {
            Model::Linear => {
                let e = sumproduct(x, p) - y;
                loss += e * e;
                for (gi, xi) in g.iter_mut().zip(x) {
                    *gi += 2.0 * e * xi / n;
                }
            }
            Model::Nnet => {
                let (z1, z2) = (sumproduct(x, &p[..10]), sumproduct(x, &p[10..]));
                let e = relu(z1) + relu(z2) - y;
                loss += e * e;
                for (k, z) in [z1, z2].into_iter().enumerate() {
                    if z >= 0.0 {
                        for (gi, xi) in g[10 * k..10 * k + 10].iter_mut().zip(x) {
                            *gi += 2.0 * e * xi / n;
                        }
                    }
                }
            }
        }
    }
    (loss / n, g)
}

/// A seeded random start: uniform in [−0.5, 0.5) (Excel's `RAND()-0.5`, the lesson's
/// initialisation).
pub fn random_start(m: Model, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..m.n_params()).map(|_| rng.gen::<f64>() - 0.5).collect()
}

/// A fit: final parameters and the loss history.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    /// The parameters found.
    pub params: Vec<f64>,
    /// The loss at the start and after each step/iteration.
    pub losses: Vec<f64>,
}

/// Gradient descent with Adam's per-parameter step sizes (plain SGD on these
/// unscaled features needs a learning rate small enough for SibSp ∈ [0, 5] and is
/// then very slow on the rest).
///
/// # Errors
///
/// [`LabError::Shape`] for a start of the wrong length.
pub fn fit_gd(
    t: &Table,
    m: Model,
    p0: &[f64],
    cfg: &AdamConfig,
    steps: usize,
) -> Result<Fit, LabError> {
    check_len(p0, m.n_params())?;
    let mut p = p0.to_vec();
    let mut st = AdamState::new(p.len());
    let mut losses = Vec::with_capacity(steps + 1);
    for _ in 0..steps {
        let (l, g) = loss_grad_unchecked(t, m, &p);
        losses.push(l);
        st.step(cfg, &mut p, &g);
    }
    losses.push(loss_grad_unchecked(t, m, &p).0);
    Ok(Fit { params: p, losses })
}

/// The Solver stand-in: L-BFGS on the mean squared error.
///
/// # Errors
///
/// [`LabError::Shape`] for a start of the wrong length.
pub fn fit_lbfgs(t: &Table, m: Model, p0: &[f64], cfg: &LbfgsConfig) -> Result<Fit, LabError> {
    check_len(p0, m.n_params())?;
    let r = lbfgs(|p| loss_grad_unchecked(t, m, p), p0, cfg);
    Ok(Fit {
        params: r.x,
        losses: r.history,
    })
}

/// Solver's "Multistart" idea: fit from several seeded random starts (with `fit`,
/// e.g. a closure calling [`fit_lbfgs`] or [`fit_gd`]) and keep the lowest final loss.
/// The nnet loss has many local minima (a dead ReLU unit gives ≈ 0.1439, two give
/// 0.4045, the share of survivors), so a single start is a gamble.
///
/// # Errors
///
/// The first error of `fit`, or [`LabError::Invalid`] for an empty seed list.
///
/// # Examples
///
/// ```
/// use gradsheet_labs::titanic::*;
/// use gradsheet_labs::LbfgsConfig;
/// let raw = "0,3,male,30,1,0,8,S\n1,1,female,40,1,0,70,C\n\
///            1,3,female,20,0,0,9,S\n0,3,male,50,0,0,10,S";
/// let t = table(&parse_rows(raw).unwrap());
/// let cfg = LbfgsConfig { max_iter: 50, ..Default::default() };
/// let (_, fit) = multistart(Model::Linear, 0..2, |p0| fit_lbfgs(&t, Model::Linear, p0, &cfg)).unwrap();
/// assert!(fit.losses.last().unwrap() < &fit.losses[0]);
/// ```
pub fn multistart<I, F>(m: Model, seeds: I, mut fit: F) -> Result<(u64, Fit), LabError>
where
    I: IntoIterator<Item = u64>,
    F: FnMut(&[f64]) -> Result<Fit, LabError>,
{
    let mut best: Option<(u64, Fit)> = None;
    for seed in seeds {
        let f = fit(&random_start(m, seed))?;
        let last = |f: &Fit| f.losses.last().copied().unwrap_or(f64::INFINITY);
        let better = match &best {
            None => true,
            Some((_, b)) => last(&f) < last(b),
        };
        if better {
            best = Some((seed, f));
        }
    }
    best.ok_or_else(|| LabError::Invalid("no seeds".into()))
}

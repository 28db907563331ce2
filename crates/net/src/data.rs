//! Built-in 2-D datasets in the spirit of TensorFlow Playground's, drawn from a seeded
//! ChaCha8 stream with gradsheet's own recipes (`train::rng`), so that a seed gives the
//! same points on every machine and version; derived feature columns; a train/test split.
//!
//! Points lie in the square [−6, 6]² (a radius of 5 plus noise), as the Playground draws
//! them. Classification labels are 0 and 1; the regression sets' targets are real.

use gradsheet_engine::Dataset;
use gradsheet_train::rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::NetError;

/// The largest dataset drawn (points, before the split): memory stays a few megabytes.
pub const MAX_POINTS: usize = 1_000_000;

const RADIUS: f64 = 5.0;

/// A built-in dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A disc of class 1 (radius < 2.5) inside a ring of class 0 (radius 3.5–5).
    Circle,
    /// The four quadrants: class 1 where x1·x2 > 0.
    Xor,
    /// Two Gaussian clouds around (2, 2) (class 1) and (−2, −2) (class 0).
    Gauss,
    /// Two interleaved spiral arms, 1.75 turns each.
    Spiral,
    /// Two interleaved half circles.
    Moons,
    /// Regression: y = (x1 + x2)/10, a plane.
    Plane,
    /// Regression: y = sin(x1)·cos(x2/2), a wave.
    Sine,
}

/// Every dataset with its name and what it is.
pub const KINDS: &[(Kind, &str, &str)] = &[
    (
        Kind::Circle,
        "circle",
        "a disc of class 1 inside a ring of class 0",
    ),
    (Kind::Xor, "xor", "quadrants: class 1 where x1·x2 > 0"),
    (
        Kind::Gauss,
        "gauss",
        "two Gaussian clouds (or more: classes)",
    ),
    (
        Kind::Spiral,
        "spiral",
        "two interleaved spiral arms (or more: classes)",
    ),
    (Kind::Moons, "moons", "two interleaved half circles"),
    (Kind::Plane, "plane", "regression: y = (x1+x2)/10"),
    (Kind::Sine, "sine", "regression: y = sin(x1)·cos(x2/2)"),
];

impl Kind {
    /// The dataset of this name.
    ///
    /// # Errors
    ///
    /// [`NetError::Setting`] listing the names there are.
    pub fn from_name(name: &str) -> Result<Kind, NetError> {
        let key = name.trim().to_ascii_lowercase();
        KINDS
            .iter()
            .find(|(_, n, _)| *n == key)
            .map(|(k, _, _)| *k)
            .ok_or_else(|| {
                NetError::setting(
                    "dataset",
                    format!(
                        "unknown dataset {name:?}; the datasets are {}",
                        KINDS.iter().map(|k| k.1).collect::<Vec<_>>().join(", ")
                    ),
                )
            })
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        KINDS.iter().find(|k| k.0 == self).map_or("?", |k| k.1)
    }

    /// Whether its labels are classes (0 and 1) rather than real numbers.
    pub fn is_classification(self) -> bool {
        !matches!(self, Kind::Plane | Kind::Sine)
    }
}

/// A derived feature: a column computed from the two coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    /// x1 itself.
    X1,
    /// x2 itself.
    X2,
    /// x1².
    X1Sq,
    /// x2².
    X2Sq,
    /// x1·x2.
    X1X2,
    /// sin x1.
    SinX1,
    /// sin x2.
    SinX2,
}

/// Every feature with its column name and its formula.
pub const FEATURES: &[(Feature, &str, &str)] = &[
    (Feature::X1, "x1", "x1"),
    (Feature::X2, "x2", "x2"),
    (Feature::X1Sq, "x1sq", "x1^2"),
    (Feature::X2Sq, "x2sq", "x2^2"),
    (Feature::X1X2, "x1x2", "x1*x2"),
    (Feature::SinX1, "sinx1", "SIN(x1)"),
    (Feature::SinX2, "sinx2", "SIN(x2)"),
];

impl Feature {
    /// The feature whose column is named `name`.
    ///
    /// # Errors
    ///
    /// [`NetError::Setting`] listing the features there are.
    pub fn from_name(name: &str) -> Result<Feature, NetError> {
        let key = name.trim().to_ascii_lowercase();
        FEATURES
            .iter()
            .find(|(_, n, _)| *n == key)
            .map(|(f, _, _)| *f)
            .ok_or_else(|| {
                NetError::setting(
                    "features",
                    format!(
                        "unknown feature {name:?}; the features are {}",
                        FEATURES.iter().map(|k| k.1).collect::<Vec<_>>().join(", ")
                    ),
                )
            })
    }

    /// Its column name.
    pub fn name(self) -> &'static str {
        FEATURES.iter().find(|k| k.0 == self).map_or("?", |k| k.1)
    }

    /// Its value at the point (x1, x2).
    pub fn value(self, x1: f64, x2: f64) -> f64 {
        match self {
            Feature::X1 => x1,
            Feature::X2 => x2,
            Feature::X1Sq => x1 * x1,
            Feature::X2Sq => x2 * x2,
            Feature::X1X2 => x1 * x2,
            Feature::SinX1 => x1.sin(),
            Feature::SinX2 => x2.sin(),
        }
    }
}

/// Parses a comma-separated list of features (`x1,x2,sinx1`), each at most once.
///
/// # Errors
///
/// [`NetError::Setting`] for an unknown, repeated or empty list.
pub fn features(list: &str) -> Result<Vec<Feature>, NetError> {
    let mut out: Vec<Feature> = Vec::new();
    for part in list.split(',') {
        let f = Feature::from_name(part)?;
        if out.contains(&f) {
            return Err(NetError::setting(
                "features",
                format!("the feature {} is listed twice", f.name()),
            ));
        }
        out.push(f);
    }
    Ok(out)
}

/// How to draw a dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct DataSpec {
    /// Which one.
    pub kind: Kind,
    /// How many points in all (train and test).
    pub n: usize,
    /// Noise from 0 (none) to 1 (classes overlap heavily).
    pub noise: f64,
    /// The share of the points kept for testing, in [0, 1).
    pub test_fraction: f64,
    /// Seed of the ChaCha8 stream.
    pub seed: u64,
    /// The feature columns, in order.
    pub features: Vec<Feature>,
    /// How many classes: 2, or up to [`crate::spec::MAX_CLASSES`] for spiral (one arm
    /// each) and gauss (clouds around a circle), labelled 0 … classes−1.
    pub classes: usize,
}

impl Default for DataSpec {
    /// The Playground's start: a circle of 500 points, no noise, half of them for testing.
    fn default() -> Self {
        DataSpec {
            kind: Kind::Circle,
            n: 500,
            noise: 0.0,
            test_fraction: 0.5,
            seed: 1,
            features: vec![Feature::X1, Feature::X2],
            classes: 2,
        }
    }
}

/// Drawn points split into training and test sets.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// The rows trained on: the feature columns, then `y`.
    pub train: Dataset,
    /// The rows held out, with the same columns.
    pub test: Dataset,
    /// Each training row's coordinates (x1, x2), for pictures of the plane.
    pub train_points: Vec<[f64; 2]>,
    /// Each test row's coordinates.
    pub test_points: Vec<[f64; 2]>,
}

impl DataSpec {
    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// [`NetError::Setting`] naming the field: too few or too many points, noise or test
    /// fraction out of range, no features.
    pub fn validate(&self) -> Result<(), NetError> {
        if !(4..=MAX_POINTS).contains(&self.n) {
            return Err(NetError::setting(
                "n",
                format!(
                    "n = {} points: between 4 and {MAX_POINTS} are drawn",
                    self.n
                ),
            ));
        }
        if !(self.noise.is_finite() && (0.0..=1.0).contains(&self.noise)) {
            return Err(NetError::setting(
                "noise",
                format!("noise = {} must be between 0 and 1", self.noise),
            ));
        }
        if !(self.test_fraction.is_finite() && (0.0..0.95).contains(&self.test_fraction)) {
            return Err(NetError::setting(
                "test_fraction",
                format!(
                    "test fraction = {} must be at least 0 and below 0.95",
                    self.test_fraction
                ),
            ));
        }
        if self.features.is_empty() {
            return Err(NetError::setting("features", "no feature columns"));
        }
        if self.classes != 2 {
            if !matches!(self.kind, Kind::Spiral | Kind::Gauss) {
                return Err(NetError::setting(
                    "classes",
                    format!(
                        "{} has two classes; spiral and gauss can have more",
                        self.kind.name()
                    ),
                ));
            }
            if !(2..=crate::spec::MAX_CLASSES).contains(&self.classes) {
                return Err(NetError::setting(
                    "classes",
                    format!(
                        "{} classes: between 2 and {}",
                        self.classes,
                        crate::spec::MAX_CLASSES
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The feature columns' names, then `y`.
    pub fn columns(&self) -> Vec<String> {
        let mut c: Vec<String> = self.features.iter().map(|f| f.name().to_string()).collect();
        c.push("y".into());
        c
    }

    /// Draws the points, labels them and splits them: the same settings give the same
    /// rows, bit for bit, everywhere.
    ///
    /// # Errors
    ///
    /// As [`DataSpec::validate`]; [`NetError::Data`] when the training rows hold one class
    /// only (nothing to separate).
    ///
    /// # Examples
    ///
    /// ```
    /// use gradsheet_net::data::{DataSpec, Kind};
    /// let s = DataSpec { kind: Kind::Xor, n: 100, ..DataSpec::default() }.draw().unwrap();
    /// assert_eq!((s.train.len(), s.test.len()), (50, 50));
    /// assert_eq!(s.train.columns, ["x1", "x2", "y"]);
    /// ```
    pub fn draw(&self) -> Result<Split, NetError> {
        self.validate()?;
        let mut r = ChaCha8Rng::seed_from_u64(self.seed);
        let mut pts: Vec<([f64; 2], f64)> = (0..self.n)
            .map(|i| point(self.kind, i, self.n, self.noise, self.classes, &mut r))
            .collect();
        rng::shuffle(&mut r, &mut pts);
        let n_test = (self.n as f64 * self.test_fraction).round() as usize;
        let n_train = self.n - n_test;
        let columns = self.columns();
        let table = |part: &[([f64; 2], f64)]| {
            let mut v = Vec::with_capacity(part.len() * columns.len());
            for (p, y) in part {
                v.extend(self.features.iter().map(|f| f.value(p[0], p[1])));
                v.push(*y);
            }
            Dataset::new(columns.clone(), v)
        };
        let (train, test) = pts.split_at(n_train);
        if self.kind.is_classification() {
            let ones = train.iter().filter(|(_, y)| *y == train[0].1).count();
            if ones == train.len() {
                return Err(NetError::Data(format!(
                    "every training row ({} of them) is of class {}: there is nothing to separate",
                    train.len(),
                    train[0].1
                )));
            }
        }
        Ok(Split {
            train: table(train),
            test: table(test),
            train_points: train.iter().map(|(p, _)| *p).collect(),
            test_points: test.iter().map(|(p, _)| *p).collect(),
        })
    }
}

/// A uniform draw in [lo, hi).
fn uniform(r: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng::unit(r)
}

/// Point `i` of `n` and its label. Classes take turns with `i`, so each holds an equal
/// share.
fn point(
    kind: Kind,
    i: usize,
    n: usize,
    noise: f64,
    classes: usize,
    r: &mut ChaCha8Rng,
) -> ([f64; 2], f64) {
    let k = classes.max(2);
    let class = (i % k) as f64;
    match kind {
        Kind::Circle => {
            // Class 1 inside radius 2.5, class 0 in the ring 3.5–5: uniform in radius and
            // angle, with the coordinates moved by up to ±5·noise.
            let rad = if class == 1.0 {
                uniform(r, 0.0, RADIUS * 0.5)
            } else {
                uniform(r, RADIUS * 0.7, RADIUS)
            };
            let t = uniform(r, 0.0, std::f64::consts::TAU);
            let nx = uniform(r, -RADIUS, RADIUS) * noise;
            let ny = uniform(r, -RADIUS, RADIUS) * noise;
            ([rad * t.sin() + nx, rad * t.cos() + ny], class)
        }
        Kind::Xor => {
            // Kept 0.3 away from the axes, so that the quadrants are separable without noise.
            let pad = |v: f64| if v > 0.0 { v + 0.3 } else { v - 0.3 };
            let x = pad(uniform(r, -RADIUS, RADIUS));
            let y = pad(uniform(r, -RADIUS, RADIUS));
            let nx = uniform(r, -RADIUS, RADIUS) * noise;
            let ny = uniform(r, -RADIUS, RADIUS) * noise;
            let label = if x * y > 0.0 { 1.0 } else { 0.0 };
            ([x + nx, y + ny], label)
        }
        Kind::Gauss => {
            let sd = 0.5 + 3.5 * noise;
            // Two clouds at (2, 2) and (−2, −2); more, evenly around the circle through them.
            let (cx, cy) = if k == 2 {
                let c = if class == 1.0 { 2.0 } else { -2.0 };
                (c, c)
            } else {
                let a = std::f64::consts::FRAC_PI_4 + class * std::f64::consts::TAU / k as f64;
                let rad = 8f64.sqrt();
                (rad * a.cos(), rad * a.sin())
            };
            let x = cx + sd * rng::normal(r);
            let y = cy + sd * rng::normal(r);
            ([x, y], class)
        }
        Kind::Spiral => {
            let arm = n.div_ceil(k).max(1);
            let along = (i / k) as f64 / arm as f64;
            let rad = along * RADIUS;
            // Arms evenly apart: π for two, as the Playground draws them.
            let t =
                1.75 * along * std::f64::consts::TAU + class * (std::f64::consts::TAU / k as f64);
            let nx = uniform(r, -1.0, 1.0) * noise;
            let ny = uniform(r, -1.0, 1.0) * noise;
            ([rad * t.sin() + nx, rad * t.cos() + ny], class)
        }
        Kind::Moons => {
            // The upper moon (class 1) and the lower one, shifted to interleave.
            let t = uniform(r, 0.0, std::f64::consts::PI);
            let (x, y) = if class == 1.0 {
                (4.0 * t.cos() - 2.0, 4.0 * t.sin() - 1.0)
            } else {
                (2.0 - 4.0 * t.cos(), 1.0 - 4.0 * t.sin())
            };
            let nx = rng::normal(r) * noise * 2.0;
            let ny = rng::normal(r) * noise * 2.0;
            ([x + nx, y + ny], class)
        }
        Kind::Plane => {
            let x = uniform(r, -6.0, 6.0);
            let y = uniform(r, -6.0, 6.0);
            let target = (x + y) / 10.0 + uniform(r, -1.0, 1.0) * noise;
            ([x, y], target)
        }
        Kind::Sine => {
            let x = uniform(r, -6.0, 6.0);
            let y = uniform(r, -6.0, 6.0);
            let target = x.sin() * (y / 2.0).cos() + uniform(r, -1.0, 1.0) * noise;
            ([x, y], target)
        }
    }
}

/// The half-width of the plane pictures cover: [−6, 6]², the Playground's.
pub const PLANE: f64 = 6.0;

/// A `size`×`size` grid over the plane [−6, 6]², row by row from the top (x2 = 6) down,
/// each row from x1 = −6 rightwards, at the centres of its squares: each point's feature
/// values, in the order of `features`.
pub fn grid(features: &[Feature], size: usize) -> Vec<Vec<f64>> {
    let step = 2.0 * PLANE / size.max(1) as f64;
    let mut out = Vec::with_capacity(size * size);
    for i in 0..size {
        let x2 = PLANE - (i as f64 + 0.5) * step;
        for j in 0..size {
            let x1 = -PLANE + (j as f64 + 0.5) * step;
            out.push(features.iter().map(|f| f.value(x1, x2)).collect());
        }
    }
    out
}

/// How many classes the labels `ys` are: k when every label is one of 0, 1, …, k−1 with
/// k ≤ [`crate::spec::MAX_CLASSES`] (2 for 0/1 labels), 0 when they are real targets.
///
/// ```
/// use gradsheet_net::data::class_count;
/// assert_eq!(class_count(&[0.0, 1.0, 1.0]), 2);
/// assert_eq!(class_count(&[0.0, 2.0, 1.0]), 3);
/// assert_eq!(class_count(&[0.0, 0.5]), 0);
/// ```
pub fn class_count(ys: &[f64]) -> usize {
    let classes = crate::spec::MAX_CLASSES as f64;
    if ys.is_empty()
        || !ys
            .iter()
            .all(|&y| y.fract() == 0.0 && (0.0..classes).contains(&y))
    {
        return 0;
    }
    let top = ys.iter().fold(0.0f64, |m, &y| m.max(y)) as usize;
    (top + 1).max(2)
}

/// The learner's own rows split for training and testing: every column but `y` is a
/// feature, the rows are shuffled with the seed's stream and the last `test_fraction` of
/// them held out. Labels that are all 0 or 1 are classes, which must both occur in the
/// training rows.
///
/// # Errors
///
/// [`NetError::Data`] naming the fault: no `y` column, no feature column, a value that is
/// not finite (by row and column, the header being row 1), fewer than 4 rows, one class;
/// [`NetError::Setting`] for a test fraction out of range.
pub fn split(data: &Dataset, test_fraction: f64, seed: u64) -> Result<Split, NetError> {
    let Some(yi) = data.column_index("y") else {
        return Err(NetError::Data(format!(
            "the data has no column y, the target (its columns are {})",
            data.columns.join(", ")
        )));
    };
    if data.columns.len() < 2 {
        return Err(NetError::Data(
            "the data has no feature column besides y".into(),
        ));
    }
    if !(test_fraction.is_finite() && (0.0..0.95).contains(&test_fraction)) {
        return Err(NetError::setting(
            "test_fraction",
            format!("test fraction = {test_fraction} must be at least 0 and below 0.95"),
        ));
    }
    if data.len() < 4 {
        return Err(NetError::Data(format!(
            "{} rows: a network needs at least 4",
            data.len()
        )));
    }
    for i in 0..data.len() {
        for (j, v) in data.row(i).iter().enumerate() {
            if !v.is_finite() {
                return Err(NetError::Data(format!(
                    "row {}, column {}: {v} is not a number a network can read",
                    i + 2,
                    data.columns[j]
                )));
            }
        }
    }
    let mut order: Vec<usize> = (0..data.len()).collect();
    rng::shuffle(&mut ChaCha8Rng::seed_from_u64(seed), &mut order);
    let n_test = (data.len() as f64 * test_fraction).round() as usize;
    let (train_idx, test_idx) = order.split_at(data.len() - n_test);
    let mut columns: Vec<String> = data.columns.iter().filter(|c| *c != "y").cloned().collect();
    columns.push("y".into());
    let pick = |idx: &[usize]| {
        let mut v = Vec::with_capacity(idx.len() * columns.len());
        let mut pts = Vec::with_capacity(idx.len());
        for &i in idx {
            let r = data.row(i);
            let feats: Vec<f64> = r
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != yi)
                .map(|(_, x)| *x)
                .collect();
            pts.push([feats[0], feats.get(1).copied().unwrap_or(0.0)]);
            v.extend(feats);
            v.push(r[yi]);
        }
        (Dataset::new(columns.clone(), v), pts)
    };
    let (train, train_points) = pick(train_idx);
    let (test, test_points) = pick(test_idx);
    let ys = train.column("y").unwrap_or_default();
    if ys.iter().all(|&y| y == 0.0 || y == 1.0) {
        let ones = ys.iter().filter(|&&y| y == 1.0).count();
        if ones == 0 || ones == ys.len() {
            return Err(NetError::Data(format!(
                "every training row ({} of them) is of class {}: there is nothing to separate",
                ys.len(),
                if ones == 0 { 0 } else { 1 }
            )));
        }
    }
    Ok(Split {
        train,
        test,
        train_points,
        test_points,
    })
}

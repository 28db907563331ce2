//! Synthetic data: y = target(x) + noise.

use gradsheet_engine::{parse, Dataset, FormulaError};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::rng;

/// How to generate a dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct Generator {
    /// The true function of `x`, e.g. `2*x+30`.
    pub target: String,
    /// Lowest x.
    pub x_lo: f64,
    /// Highest x.
    pub x_hi: f64,
    /// Whole-number x (like Excel's RANDBETWEEN) rather than real.
    pub integer_x: bool,
    /// How many rows.
    pub n: usize,
    /// Seed of the ChaCha8 stream.
    pub seed: u64,
    /// Standard deviation of Gaussian noise added to y.
    pub noise: f64,
}

impl Default for Generator {
    /// The graddesc recipe: y = 2x + 30, x a whole number in 1..100, 29 rows, no noise.
    fn default() -> Self {
        Generator {
            target: "2*x+30".into(),
            x_lo: 1.0,
            x_hi: 100.0,
            integer_x: true,
            n: 29,
            seed: 7,
            noise: 0.0,
        }
    }
}

/// An error generating data.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum GenError {
    /// The target formula does not parse.
    #[error("the target formula is invalid: {0}")]
    Formula(#[from] FormulaError),
    /// The target uses a name other than x.
    #[error("the target may only use x, but it uses {0}")]
    Name(String),
    /// A bad range or count.
    #[error("{0}")]
    Invalid(String),
}

impl Generator {
    /// Draws the dataset (columns `x`, `y`).
    ///
    /// # Errors
    ///
    /// [`GenError`] for a bad formula, a name other than `x`, an empty range or too many rows.
    ///
    /// # Examples
    ///
    /// ```
    /// use gradsheet_train::Generator;
    /// let d = Generator { n: 5, ..Generator::default() }.generate().unwrap();
    /// assert_eq!(d.len(), 5);
    /// for i in 0..5 {
    ///     let r = d.row(i);
    ///     assert_eq!(r[1], 2.0 * r[0] + 30.0);
    ///     assert!((1.0..=100.0).contains(&r[0]) && r[0].fract() == 0.0);
    /// }
    /// ```
    pub fn generate(&self) -> Result<Dataset, GenError> {
        let f = parse(&self.target)?;
        if let Some(bad) = f.names().into_iter().find(|n| n != "x") {
            return Err(GenError::Name(bad));
        }
        if !(self.x_lo.is_finite() && self.x_hi.is_finite() && self.x_lo <= self.x_hi) {
            return Err(GenError::Invalid(format!(
                "the x range {}..{} is empty",
                self.x_lo, self.x_hi
            )));
        }
        if self.n == 0 || self.n > 10_000_000 {
            return Err(GenError::Invalid(format!(
                "the row count {} must be between 1 and 10000000",
                self.n
            )));
        }
        if !(self.noise.is_finite() && self.noise >= 0.0) {
            return Err(GenError::Invalid(format!(
                "the noise {} must be >= 0",
                self.noise
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut values = Vec::with_capacity(2 * self.n);
        for _ in 0..self.n {
            let x = if self.integer_x {
                let lo = self.x_lo.ceil();
                let span = (self.x_hi.floor() - lo).max(0.0) as u64 + 1;
                lo + rng::below(&mut rng, span) as f64
            } else {
                self.x_lo + (self.x_hi - self.x_lo) * rng::unit(&mut rng)
            };
            let mut y = f.eval(&|_| Some(x)).unwrap_or(f64::NAN);
            if self.noise > 0.0 {
                y += self.noise * rng::normal(&mut rng);
            }
            values.push(x);
            values.push(y);
        }
        Ok(Dataset::new(vec!["x".into(), "y".into()], values))
    }
}

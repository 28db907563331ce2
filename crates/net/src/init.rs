//! Initial weights, named and seeded: the same scheme and seed give the same numbers on
//! every machine and version (ChaCha8 through `train::rng`'s recipes).
//!
//! A weight `w{l}_{j}_{k}` (layer l, neuron j, input k) has fan-in = the inputs of its
//! neuron and fan-out = the neurons of its layer, both read from the names; biases
//! (`b…`) start at 0; any other parameter of a model text is drawn with fan-in and
//! fan-out 1.

use std::collections::{HashMap, HashSet};

use gradsheet_train::rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::NetError;

/// How to draw the initial weights.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scheme {
    /// Glorot's uniform: U(−a, a) with a = √(6/(fan-in + fan-out)).
    Xavier,
    /// He's normal: N(0, 2/fan-in), for ReLU layers.
    He,
    /// U(−a, a).
    Uniform(f64),
    /// N(0, sd²).
    Normal(f64),
}

impl Scheme {
    /// The scheme as [`Scheme::parse`] reads it.
    ///
    /// ```
    /// use gradsheet_net::init::Scheme;
    /// assert_eq!(Scheme::Uniform(0.5).name(), "uniform:0.5");
    /// assert_eq!(Scheme::parse(&Scheme::He.name()).unwrap(), Scheme::He);
    /// ```
    pub fn name(&self) -> String {
        match self {
            Scheme::Xavier => "xavier".into(),
            Scheme::He => "he".into(),
            Scheme::Uniform(a) => format!("uniform:{a}"),
            Scheme::Normal(sd) => format!("normal:{sd}"),
        }
    }

    /// Reads `xavier`, `he`, `uniform:0.5` or `normal:0.1`.
    ///
    /// # Errors
    ///
    /// [`NetError::Setting`] for another name or a scale that is not a positive number.
    ///
    /// # Examples
    ///
    /// ```
    /// use gradsheet_net::init::Scheme;
    /// assert_eq!(Scheme::parse("uniform:0.5").unwrap(), Scheme::Uniform(0.5));
    /// assert!(Scheme::parse("normal:-1").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Scheme, NetError> {
        let t = s.trim().to_ascii_lowercase();
        let (name, arg) = match t.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (t.as_str(), None),
        };
        let scale = |default: f64| -> Result<f64, NetError> {
            let v = match arg {
                None => default,
                Some(a) => a.trim().parse::<f64>().map_err(|_| {
                    NetError::setting("init", format!("{a:?} in {s:?} is not a number"))
                })?,
            };
            if v.is_finite() && v > 0.0 {
                Ok(v)
            } else {
                Err(NetError::setting(
                    "init",
                    format!("the scale of {s:?} must be a positive number"),
                ))
            }
        };
        match name {
            "xavier" | "glorot" if arg.is_none() => Ok(Scheme::Xavier),
            "he" | "kaiming" if arg.is_none() => Ok(Scheme::He),
            "uniform" => Ok(Scheme::Uniform(scale(0.5)?)),
            "normal" => Ok(Scheme::Normal(scale(0.1)?)),
            _ => Err(NetError::setting(
                "init",
                format!("unknown initialisation {s:?}; the schemes are xavier, he, uniform:A, normal:SD"),
            )),
        }
    }

    fn draw(self, r: &mut ChaCha8Rng, fan_in: usize, fan_out: usize) -> f64 {
        let (fi, fo) = (fan_in.max(1) as f64, fan_out.max(1) as f64);
        match self {
            Scheme::Xavier => {
                let a = (6.0 / (fi + fo)).sqrt();
                a * (2.0 * rng::unit(r) - 1.0)
            }
            Scheme::He => (2.0 / fi).sqrt() * rng::normal(r),
            Scheme::Uniform(a) => a * (2.0 * rng::unit(r) - 1.0),
            Scheme::Normal(sd) => sd * rng::normal(r),
        }
    }
}

/// `w{l}_{j}_{k}` as (l, j, k).
pub fn weight_index(name: &str) -> Option<(usize, usize, usize)> {
    let rest = name.strip_prefix('w')?;
    let mut it = rest.split('_').map(|p| p.parse::<usize>().ok());
    let (l, j, k) = (it.next()??, it.next()??, it.next()??);
    it.next().is_none().then_some((l, j, k))
}

/// Whether `name` is a bias `b{l}_{j}`.
pub fn is_bias(name: &str) -> bool {
    name.strip_prefix('b').is_some_and(|rest| {
        let parts: Vec<&str> = rest.split('_').collect();
        parts.len() == 2 && parts.iter().all(|p| p.parse::<usize>().is_ok())
    })
}

/// Initial values for `params`, drawn in their order from the stream of `seed`.
pub fn initial(params: &[String], scheme: Scheme, seed: u64) -> Vec<f64> {
    let idx: Vec<Option<(usize, usize, usize)>> = params.iter().map(|p| weight_index(p)).collect();
    let mut fan_in: HashMap<(usize, usize), usize> = HashMap::new();
    let mut neurons: HashMap<usize, HashSet<usize>> = HashMap::new();
    for &(l, j, _) in idx.iter().flatten() {
        *fan_in.entry((l, j)).or_default() += 1;
        neurons.entry(l).or_default().insert(j);
    }
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    params
        .iter()
        .zip(&idx)
        .map(|(p, w)| match w {
            Some((l, j, _)) => scheme.draw(&mut r, fan_in[&(*l, *j)], neurons[l].len()),
            None if is_bias(p) => 0.0,
            None => scheme.draw(&mut r, 1, 1),
        })
        .collect()
}

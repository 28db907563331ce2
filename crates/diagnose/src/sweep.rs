//! Stability maps: a grid of two settings, one run per cell (in parallel), each run
//! classified.
//!
//! # Classes
//!
//! Every run is judged on the whole data, at its initial and final parameters:
//! `E₀` and `E` are the mean errors over all rows there (not the per-step errors along
//! the way).
//!
//! - **diverged**: the training loop stopped the run (a NaN or infinite value, or an
//!   error past `divergence_factor × best`; see [`gradsheet_train::TrainConfig`]).
//! - **oscillating**: it ran to the end, but its epoch mean error went back up: the last
//!   epoch's is more than [`OSCILLATION_RATIO`] times the best epoch's, or it rose in at
//!   least 3 of the last 10 epochs.
//! - **converged**: otherwise, if `E ≤` [`CONVERGED_RATIO`]` × E₀`: the error fell at least
//!   tenfold.
//! - **slow**: otherwise: stable, but the error did not fall tenfold in the epochs given
//!   (this includes a run stuck at a high error, such as one with a dead ReLU unit).

use gradsheet_jit::{Ahead, EpochKernel, Kernels, SideKernel};
use gradsheet_train::{
    rules, EpochSums, Hooks, Record, Sink, Stop, TrainConfig, TrainError, Trainer,
};
use rayon::prelude::*;

/// A run converged when its final mean error is at most this fraction of its initial one.
pub const CONVERGED_RATIO: f64 = 0.1;
/// A run oscillates when its last epoch's mean error exceeds this multiple of its best.
pub const OSCILLATION_RATIO: f64 = 1.5;

/// How a run ended (see the module docs for the rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// The error fell at least tenfold and stayed down.
    Converged,
    /// Stable, but the error did not fall tenfold.
    Slow,
    /// The epoch error went back up.
    Oscillating,
    /// The run blew up.
    Diverged,
}

impl Class {
    /// The class in one word.
    pub fn name(self) -> &'static str {
        match self {
            Class::Converged => "converged",
            Class::Slow => "slow",
            Class::Oscillating => "oscillating",
            Class::Diverged => "diverged",
        }
    }
    /// One character for a map: `#` converged, `+` slow, `~` oscillating, `x` diverged.
    pub fn symbol(self) -> char {
        match self {
            Class::Converged => '#',
            Class::Slow => '+',
            Class::Oscillating => '~',
            Class::Diverged => 'x',
        }
    }
}

/// The verdict on one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The class.
    pub class: Class,
    /// Mean error over the data at the initial parameters.
    pub initial_error: f64,
    /// Mean error over the data at the final parameters (the last finite ones if the run
    /// diverged).
    pub final_error: f64,
    /// The final parameters.
    pub final_params: Vec<f64>,
    /// The diverging step (1-based), if any.
    pub diverged_at: Option<usize>,
    /// Steps taken.
    pub steps: usize,
}

/// Runs and classifies one configuration (epoch summaries only, nothing per step).
///
/// # Errors
///
/// [`TrainError`] for invalid settings.
pub fn judge(trainer: &Trainer, init: &[f64], cfg: &TrainConfig) -> Result<Verdict, TrainError> {
    judge_with(trainer, init, cfg, None)
}

/// [`judge`], running natively with `kernel` (compiled once for the cells of its kind of
/// rule) where it supports the configuration, and on the interpreter otherwise. Both give
/// the same trace bit for bit, so the verdict does not depend on which ran.
///
/// # Errors
///
/// [`TrainError`] for invalid settings.
pub fn judge_with(
    trainer: &Trainer,
    init: &[f64],
    cfg: &TrainConfig,
    kernel: Option<&EpochKernel>,
) -> Result<Verdict, TrainError> {
    judge_hooked(trainer, init, cfg, kernel, None, &mut Hooks::none())
}

/// [`judge`], with `kernel` and, where the run's first span was trained side by side
/// with others, that span ([`gradsheet_jit::SideKernel::train`]): for a run that the
/// loop would not take whole from it (see [`whole_class`], which judges those without
/// the loop; here one would go through the loop, which takes the whole span).
fn judge_hooked(
    trainer: &Trainer,
    init: &[f64],
    cfg: &TrainConfig,
    kernel: Option<&EpochKernel>,
    ahead: Option<Ahead<'_>>,
    hooks: &mut Hooks<'_>,
) -> Result<Verdict, TrainError> {
    // Only the epochs' mean errors are read: the run keeps nothing else of an epoch, so
    // the native kernel takes many epochs per call.
    let mut cfg = cfg.clone();
    cfg.record = Record::Final;
    let mut means = EpochMeans::default();
    // A run whose first span went side by side goes through the loop on a backend that
    // hands it what it takes of the span (a map judges a whole one before, from its
    // lanes: `whole_class`). The final error is known already where the run ended where
    // its span side by side did.
    let (end, known) = match ahead {
        Some(a) => {
            let end = match kernel {
                Some(k) => k.run_ahead(trainer, init, &cfg, hooks, &mut means, a)?,
                None => gradsheet_jit::train_into(trainer, init, &cfg, hooks, &mut means, kernel)?,
            };
            let known = a.final_error_at(&end.final_params);
            (end, known)
        }
        None => {
            let end = gradsheet_jit::train_into(trainer, init, &cfg, hooks, &mut means, kernel)?;
            (end, None)
        }
    };
    // The initial error as the run's backend computed it; the final one on the
    // kernel's native code where there is one (the same bits: see
    // `EpochKernel::mean_error`).
    let initial_error = end.initial_error;
    let final_error = match (known, kernel) {
        (Some(e), _) => e,
        (None, Some(k)) => k.mean_error(trainer, &end.final_params),
        (None, None) => trainer.mean_error(&mut trainer.compiled.workspace(), &end.final_params),
    };
    let diverged_at = match end.stop {
        Stop::Diverged { step, .. } => Some(step),
        _ => None,
    };
    let class = class_of(&means, initial_error, final_error, diverged_at.is_some());
    Ok(Verdict {
        class,
        initial_error,
        final_error,
        final_params: end.final_params,
        diverged_at,
        steps: end.steps_taken,
    })
}

/// A run's class from what its verdict reads: its epochs' means, its mean errors at its
/// initial and final values, and whether it diverged.
fn class_of(means: &EpochMeans, initial_error: f64, final_error: f64, diverged: bool) -> Class {
    if diverged || !final_error.is_finite() {
        return Class::Diverged;
    }
    // (The tail in order in one array: a map judges ten thousand runs.)
    let mut ring = [0.0; TAIL];
    let mut len = 0;
    for (slot, mean) in ring.iter_mut().zip(means.tail()) {
        *slot = mean;
        len += 1;
    }
    let tail = &ring[..len];
    let last = tail.last().copied().unwrap_or(final_error);
    let rises = tail
        .windows(2)
        .filter(|w| w[1] > w[0] * (1.0 + 1e-9))
        .count();
    if means.count > 1 && (last > OSCILLATION_RATIO * means.best || rises >= 3) {
        Class::Oscillating
    } else if final_error <= CONVERGED_RATIO * initial_error {
        Class::Converged
    } else {
        Class::Slow
    }
}

/// [`judge_hooked`]'s class and final error of a run whose span side by side is the
/// whole run, where the loop would take it as it stands ([`Ahead::whole_sums`]):
/// read off the lanes' records, the run's end not made (its parameters and state not
/// copied out). `None` for any other run. `cfg` is a map cell's, whose settings were
/// checked.
fn whole_class(trainer: &Trainer, cfg: &TrainConfig, ahead: Ahead<'_>) -> Option<(Class, f64)> {
    // (As `judge_hooked` runs it: final summary only.)
    if cfg.record != Record::Final {
        return None;
    }
    let (sums, initial_error, final_error) = ahead.whole_sums(trainer, cfg)?;
    let mut means = EpochMeans::default();
    means.epoch_sums(1, sums);
    Some((
        class_of(&means, initial_error, final_error, false),
        final_error,
    ))
}

/// What a verdict reads of a run's epochs, in constant memory: how many there were, the
/// best mean error, and the last [`TAIL`] means (in a ring: no allocation per run, and
/// little work per epoch, which a map's runs hear a hundred times each).
struct EpochMeans {
    count: usize,
    best: f64,
    /// The last means, the oldest at `next` once the ring is full.
    ring: [f64; TAIL],
    next: usize,
}

/// The epochs whose rises make a run oscillating: the last ten rises.
const TAIL: usize = 11;

impl Default for EpochMeans {
    fn default() -> EpochMeans {
        EpochMeans {
            count: 0,
            best: f64::INFINITY,
            ring: [0.0; TAIL],
            next: 0,
        }
    }
}

impl EpochMeans {
    /// The last (up to [`TAIL`]) epochs' means, oldest first.
    fn tail(&self) -> impl Iterator<Item = f64> + '_ {
        let (old, new) = if self.count < TAIL {
            (&self.ring[..0], &self.ring[..self.count])
        } else {
            (&self.ring[self.next..], &self.ring[..self.next])
        };
        old.iter().chain(new).copied()
    }
}

impl Sink for EpochMeans {
    fn reads_layout(&self) -> bool {
        false
    }

    fn epoch_mean(&mut self, epoch: usize, mean: f64) {
        self.epoch_means(epoch, &[mean]);
    }

    fn epoch_means(&mut self, _first: usize, means: &[f64]) {
        self.count += means.len();
        // (`min` passes over a NaN mean, as the best of a list of means did.) The
        // smallest of a set is the same in any order: eight lanes at a time rather than
        // one chain of `min`s.
        let mut low = [f64::INFINITY; 8];
        for ms in means.chunks(8) {
            for (l, &m) in low.iter_mut().zip(ms) {
                *l = l.min(m);
            }
        }
        self.best = low.iter().fold(self.best, |b, &l| b.min(l));
        self.keep(means[means.len().saturating_sub(TAIL)..].iter().copied());
    }

    fn epoch_sums(&mut self, _first: usize, sums: EpochSums<'_>) {
        // Only the best and the last few means are read: one division for the best (the
        // least sum's mean is the least mean) and one for each mean kept, not one for
        // each epoch.
        self.count += sums.len();
        self.best = self.best.min(sums.least_mean());
        let records = sums.records();
        let tail = records.len().saturating_sub(TAIL)..records.len();
        self.keep(tail.map(|k| sums.mean_of(records.get(k).0)));
    }
}

impl EpochMeans {
    /// Puts `means` (at most [`TAIL`]) into the ring, in order.
    fn keep(&mut self, means: impl Iterator<Item = f64>) {
        for mean in means {
            self.ring[self.next] = mean;
            self.next = if self.next + 1 == TAIL {
                0
            } else {
                self.next + 1
            };
        }
    }
}

/// A setting a map can vary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// The learning rate.
    Lr,
    /// The rule's first β setting (the table's slot 1): β (workbook momentum, RMSProp),
    /// β1 (Adam), or torch's momentum.
    Beta1,
    /// The rule's second β setting (slot 2): β2 (Adam) or torch-rmsprop's α.
    Beta2,
    /// Any other hyperparameter of the optimizer table, by key (`eps`, `weight_decay`).
    Hyper(&'static str),
    /// Every initial parameter value multiplied by this.
    InitScale,
    /// Rows per update.
    Batch,
    /// Passes over the data.
    Epochs,
}

impl Setting {
    /// Parses a setting's name: `lr`, `beta1` (or `beta`, `momentum`), `beta2` (or
    /// `alpha`), any other hyperparameter of the optimizer table (`eps`,
    /// `weight_decay`, ...), `init` (or `init-scale`, `scale`), `batch`, `epochs`.
    ///
    /// # Errors
    ///
    /// A message listing the names.
    pub fn parse(s: &str) -> Result<Setting, String> {
        let key = s.trim().to_ascii_lowercase().replace('_', "-");
        Ok(match key.as_str() {
            "lr" => Setting::Lr,
            "beta1" | "beta" | "momentum" => Setting::Beta1,
            "beta2" | "alpha" => Setting::Beta2,
            "init" | "init-scale" | "scale" => Setting::InitScale,
            "batch" | "batch-size" => Setting::Batch,
            "epochs" => Setting::Epochs,
            other => match rules::hyper_names()
                .into_iter()
                .find(|n| *n == other.replace('-', "_"))
            {
                Some(n) if !rules::is_switch(n) => Setting::Hyper(n),
                _ => {
                    return Err(format!(
                        "unknown setting '{other}' (choose lr, beta1, beta2, init, batch, epochs, or one of the optimizers' numbers: {})",
                        rules::hyper_names()
                            .into_iter()
                            .filter(|n| !rules::is_switch(n))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                }
            },
        })
    }

    /// The setting's name.
    pub fn name(self) -> &'static str {
        match self {
            Setting::Lr => "lr",
            Setting::Beta1 => "beta1",
            Setting::Beta2 => "beta2",
            Setting::Hyper(key) => key,
            Setting::InitScale => "init",
            Setting::Batch => "batch",
            Setting::Epochs => "epochs",
        }
    }

    /// Applies value `v` to a configuration and initial values.
    ///
    /// # Errors
    ///
    /// A message when the optimizer has no such setting or `v` is out of range.
    pub fn apply(self, v: f64, cfg: &mut TrainConfig, init: &mut [f64]) -> Result<(), String> {
        let whole = |v: f64| {
            if v >= 0.0 && v.fract() == 0.0 {
                Ok(v as usize)
            } else {
                Err(format!("{} must be a whole number, not {v}", self.name()))
            }
        };
        let rule = cfg.optimizer.rule();
        let key = match self {
            Setting::Lr => {
                cfg.optimizer.set_lr(v);
                return Ok(());
            }
            Setting::InitScale => {
                init.iter_mut().for_each(|p| *p *= v);
                return Ok(());
            }
            Setting::Batch => {
                cfg.batch_size = whole(v)?;
                return Ok(());
            }
            Setting::Epochs => {
                cfg.epochs = whole(v)?;
                return Ok(());
            }
            Setting::Beta1 | Setting::Beta2 => {
                let slot = if self == Setting::Beta1 { 1 } else { 2 };
                rule.slot(slot)
                    .ok_or_else(|| format!("{} has no {}", rule.name, self.name()))?
                    .key
            }
            Setting::Hyper(key) => key,
        };
        // Ranges are checked when the whole map's settings are (see `sweep`). A number
        // by the table's key is set in place (a map's cells each set one or two): not the
        // optimizer rebuilt from its values by key, which cost a few times more.
        if let Some(at) = cfg.optimizer.hyper_mut(key) {
            *at = v;
            return Ok(());
        }
        let mut values = cfg.optimizer.hyper_values();
        // (The key as the table spells it first: a β slot's, once for each of a map's
        // cells.)
        let at = (values.iter().position(|(k, _)| *k == key))
            .or_else(|| {
                values
                    .iter()
                    .position(|(k, _)| rule.hyper(k).is_some_and(|h| h.answers_to(key)))
            })
            .ok_or_else(|| format!("{} has no {}", rule.name, self.name()))?;
        values[at].1 = v;
        cfg.optimizer = rule.rebuild(&values);
        Ok(())
    }
}

/// The most values an axis may have (the same bound as a surface's axis).
pub const MAX_AXIS_VALUES: usize = 4096;

/// The most cells a map may have, 512 × 512: each cell is a whole training run, and the
/// map keeps every cell's settings and verdict (a few hundred bytes each).
pub const MAX_MAP_CELLS: usize = 512 * 512;

/// One axis of a map: a setting and its values.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// What varies.
    pub setting: Setting,
    /// Its values, in order.
    pub values: Vec<f64>,
}

impl Axis {
    /// Parses `name=lo..hi:n[:log]` (n values from lo to hi, evenly or geometrically
    /// spaced) or `name=v1,v2,...`.
    ///
    /// # Errors
    ///
    /// A message naming the fault.
    ///
    /// # Examples
    ///
    /// ```
    /// use gradsheet_diagnose::sweep::{Axis, Setting};
    /// let a = Axis::parse("lr=1e-6..1e-2:5:log").unwrap();
    /// assert_eq!(a.setting, Setting::Lr);
    /// assert_eq!(a.values.len(), 5);
    /// assert!((a.values[2] - 1e-4).abs() < 1e-18);
    /// assert_eq!(Axis::parse("batch=1,2,4").unwrap().values, [1.0, 2.0, 4.0]);
    /// ```
    pub fn parse(s: &str) -> Result<Axis, String> {
        let (name, spec) = s
            .split_once('=')
            .ok_or_else(|| format!("the axis '{s}' must look like lr=1e-6..1e-2:100:log"))?;
        let setting = Setting::parse(name)?;
        let num = |t: &str| {
            t.trim()
                .parse::<f64>()
                .map_err(|_| format!("in the axis '{s}', '{}' is not a number", t.trim()))
        };
        let values = if let Some((lo, rest)) = spec.split_once("..") {
            let mut parts = rest.split(':');
            let hi = num(parts.next().unwrap_or(""))?;
            let lo = num(lo)?;
            let n: usize = match parts.next() {
                Some(t) => t
                    .trim()
                    .parse()
                    .map_err(|_| format!("in the axis '{s}', '{t}' is not a count"))?,
                None => 10,
            };
            let log = match parts.next().map(|t| t.trim()) {
                None | Some("lin") => false,
                Some("log") => true,
                Some(t) => return Err(format!("in the axis '{s}', '{t}' must be lin or log")),
            };
            if n == 0 {
                return Err(format!("the axis '{s}' needs at least one value"));
            }
            if n > MAX_AXIS_VALUES {
                return Err(format!(
                    "the axis '{s}' has {n} values; an axis has at most {MAX_AXIS_VALUES}"
                ));
            }
            if log && !(lo > 0.0 && hi > 0.0) {
                return Err(format!("the log axis '{s}' needs both ends > 0"));
            }
            (0..n)
                .map(|i| {
                    let t = if n == 1 {
                        0.0
                    } else {
                        i as f64 / (n - 1) as f64
                    };
                    if log {
                        (lo.ln() + t * (hi.ln() - lo.ln())).exp()
                    } else {
                        lo + t * (hi - lo)
                    }
                })
                .collect()
        } else {
            let values = spec.split(',').map(num).collect::<Result<Vec<_>, _>>()?;
            if values.len() > MAX_AXIS_VALUES {
                return Err(format!(
                    "the axis '{name}=...' lists {} values; an axis has at most {MAX_AXIS_VALUES}",
                    values.len()
                ));
            }
            values
        };
        Ok(Axis { setting, values })
    }
}

/// One cell of a map.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// The x-axis value.
    pub x: f64,
    /// The y-axis value.
    pub y: f64,
    /// The verdict.
    pub class: Class,
    /// Mean error over the data at the final parameters.
    pub final_error: f64,
    /// The diverging step, if any.
    pub diverged_at: Option<usize>,
}

/// A stability map: `y.values.len()` rows of `x.values.len()` cells.
#[derive(Clone, Debug, PartialEq)]
pub struct Map {
    /// The horizontal axis.
    pub x: Axis,
    /// The vertical axis.
    pub y: Axis,
    /// Cells, row by row (`cells[j * nx + i]` is x value `i`, y value `j`).
    pub cells: Vec<Cell>,
}

impl Map {
    /// The cell at x index `i`, y index `j`.
    pub fn cell(&self, i: usize, j: usize) -> &Cell {
        &self.cells[j * self.x.values.len() + i]
    }

    /// Each cell's final mean error, `None` where its run diverged: what a drawing of the
    /// map shades (`report::chart::stability_map`), row by row as `cells`.
    pub fn drawn_errors(&self) -> Vec<Option<f64>> {
        self.cells
            .iter()
            .map(|c| (c.class != Class::Diverged).then_some(c.final_error))
            .collect()
    }

    /// How many cells of each class: converged, slow, oscillating, diverged.
    pub fn counts(&self) -> [usize; 4] {
        let mut c = [0; 4];
        for cell in &self.cells {
            c[cell.class as usize] += 1;
        }
        c
    }
}

/// Runs every cell of the grid in parallel (rayon's pool: all cores unless limited).
///
/// # Errors
///
/// A message for a map of more than [`MAX_MAP_CELLS`] cells, a setting the optimizer
/// lacks or a value out of range (checked on the first cell before anything runs), or
/// the first [`TrainError`] of a cell.
pub fn sweep(
    trainer: &Trainer,
    init: &[f64],
    base: &TrainConfig,
    x: &Axis,
    y: &Axis,
) -> Result<Map, String> {
    sweep_until(trainer, init, base, x, y, &|| false)
}

/// The message of a sweep that [`sweep_until`]'s `stop` ended.
pub const STOPPED: &str = "the sweep was stopped before its last cell";

/// [`sweep`], ending early once `stop` returns true: it is polled before each cell and,
/// within a run, as [`Hooks::should_stop`] is (every few thousand steps). A server gives
/// each request a deadline this way; a spawned thread cannot be killed.
///
/// # Errors
///
/// Those of [`sweep`], and [`STOPPED`] when `stop` ended the sweep.
pub fn sweep_until(
    trainer: &Trainer,
    init: &[f64],
    base: &TrainConfig,
    x: &Axis,
    y: &Axis,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<Map, String> {
    let setup = |i: usize, j: usize| cell_config(base, init, (x, i), (y, j));
    // A cell's settings alone: an initial scale scales no values (none are given), and
    // no cell's values are copied to be dropped.
    let settings = |i: usize, j: usize| cell_config(base, &[], (x, i), (y, j)).map(|(cfg, _)| cfg);
    let nx = x.values.len();
    let n = nx.saturating_mul(y.values.len());
    // The same, made in place on a copy of `base`.
    let settle = |k: usize, cfg: &mut TrainConfig| set_cell(cfg, &mut [], (x, k % nx), (y, k / nx));
    if n > MAX_MAP_CELLS {
        return Err(format!(
            "the map would have {} × {} = {n} cells; a map has at most {MAX_MAP_CELLS} (e.g. 512 × 512)",
            nx,
            y.values.len()
        ));
    }
    if n == 0 {
        return Ok(Map {
            x: x.clone(),
            y: y.clone(),
            cells: Vec::new(),
        });
    }
    // Check every cell's settings before running any, so that a bad value is reported
    // as such rather than as a failed run (the first in the cells' order); and compile
    // one native kernel per shape of run the map holds (usually one; two where an axis
    // switches torch's momentum on or reaches a rate of 0): hyperparameters are read at
    // run time. Cells no kernel can run (step rows, an uncompiled rule) fall back to the
    // interpreter. The settings are made once, in parallel, and kept for the runs: made
    // on one thread, then again for each run, they were a few percent of a map.
    // The first cell's kernel compiles (half a millisecond with Cranelift) while the
    // cells' settings are made: on two threads the two take about as long.
    let first = settings(0, 0).ok();
    let (mut kernels, cfgs) = rayon::join(
        || Kernels::for_configs(trainer, first.as_slice()),
        || {
            // (Made in place in one vector of copies of `base`: collected from results,
            // through rayon's lists of pieces, they were a few percent of a map.)
            let mut cfgs = vec![base.clone(); n];
            let made = cfgs
                .par_iter_mut()
                .enumerate()
                .try_for_each(|(k, cfg)| settle(k, cfg));
            made.map(|()| cfgs)
        },
    );
    let cfgs = match cfgs {
        Ok(cfgs) => cfgs,
        // (Any cell's error from the parallel pass; the first in order reported.)
        Err(any) => {
            return Err((0..n)
                .find_map(|k| settings(k % nx, k / nx).err())
                .unwrap_or(any))
        }
    };
    kernels.add_for(trainer, &cfgs);
    // Only an initial scale changes the initial values: otherwise every cell starts
    // from `init` itself.
    let scaled = x.setting == Setting::InitScale || y.setting == Setting::InitScale;
    let inits: Vec<Vec<f64>> = if scaled {
        (0..n)
            .map(|k| setup(k % nx, k / nx).map(|(_, p)| p))
            .collect::<Result<_, String>>()?
    } else {
        Vec::new()
    };
    let init_of = |k: usize| inits.get(k).map_or(init, Vec::as_slice);
    // The cells' runs go side by side in groups where they can (see `gradsheet_jit::side`):
    // consecutive cells on one kernel with one span, as many as it has lanes.
    // Each cell's kernel, the model compared with each kernel's once for all.
    let fitting = kernels.fitting_each(trainer, &cfgs);
    let sides = SideKernels::for_cells(trainer, &fitting, &cfgs);
    let groups = sides.groups(trainer, &cfgs);
    // Each group's cells written in place, in the map's one vector (the groups are the
    // cells in order): not a vector a group, gathered through rayon's lists of pieces
    // and then copied.
    let blank = Cell {
        x: 0.0,
        y: 0.0,
        class: Class::Slow,
        final_error: f64::NAN,
        diverged_at: None,
    };
    let mut cells = vec![blank; n];
    let mut parts = Vec::with_capacity(groups.len());
    let mut rest = &mut cells[..];
    for group in &groups {
        let (part, tail) = rest.split_at_mut(group.1.len());
        parts.push((group, part));
        rest = tail;
    }
    parts
        .into_par_iter()
        .try_for_each(|(&(side, ref ks), part)| {
            if stop() {
                return Err(STOPPED.to_string());
            }
            let group = side.map(|s| {
                let runs: Vec<(&TrainConfig, &[f64])> =
                    ks.clone().map(|k| (&cfgs[k], init_of(k))).collect();
                sides.kernels[s].train(trainer, &runs)
            });
            for (lane, (k, cell)) in ks.clone().zip(part).enumerate() {
                let ahead = group.as_ref().map(|g| g.ahead(lane));
                let (i, j) = (k % nx, k / nx);
                let cfg = &cfgs[k];
                // (A group's runs are its kernel's: no need to look.)
                let kernel = match side {
                    Some(s) => Some(sides.kernels[s].kernel()),
                    None => fitting[k],
                };
                // A whole run the loop would take from its lanes is judged there (most
                // of a map's): the same verdict, without the run's end made.
                let (class, final_error, diverged_at) = match ahead
                    .and_then(|a| whole_class(trainer, cfg, a))
                {
                    Some((class, final_error)) => (class, final_error, None),
                    None => {
                        let mut hooks = Hooks {
                            should_stop: stop,
                            progress: &mut |_, _| {},
                        };
                        let v = judge_hooked(trainer, init_of(k), cfg, kernel, ahead, &mut hooks)
                            .map_err(|e| e.to_string())?;
                        (v.class, v.final_error, v.diverged_at)
                    }
                };
                *cell = Cell {
                    x: x.values[i],
                    y: y.values[j],
                    class,
                    final_error,
                    diverged_at,
                };
            }
            Ok(())
        })?;
    // A cell whose run `stop` interrupted holds a verdict on part of the run.
    if stop() {
        return Err(STOPPED.to_string());
    }
    Ok(Map {
        x: x.clone(),
        y: y.clone(),
        cells,
    })
}

/// The kernels that train a map's runs side by side: one for each of the map's
/// per-run kernels whose runs can go so.
struct SideKernels {
    kernels: Vec<SideKernel>,
}

impl SideKernels {
    /// A kernel side by side for each per-run kernel that the cells `cfgs` use
    /// (`fitting`, each cell's), where one compiles (see [`SideKernel::compile`]).
    fn for_cells(
        trainer: &Trainer,
        fitting: &[Option<&EpochKernel>],
        cfgs: &[TrainConfig],
    ) -> SideKernels {
        let mut tried: Vec<*const EpochKernel> = Vec::new();
        let mut out = Vec::new();
        for (cfg, k) in cfgs.iter().zip(fitting) {
            let Some(k) = *k else {
                continue;
            };
            if tried.contains(&(k as *const EpochKernel)) {
                continue;
            }
            tried.push(k);
            if let Ok(side) = SideKernel::compile(trainer, cfg, k) {
                out.push(side);
            }
        }
        SideKernels { kernels: out }
    }

    /// The cells in groups, in order: runs of consecutive cells that one kernel
    /// side by side trains with one span (at most its width), each with the kernel's
    /// index, and single cells that go alone (`None`).
    fn groups(
        &self,
        trainer: &Trainer,
        cfgs: &[TrainConfig],
    ) -> Vec<(Option<usize>, std::ops::Range<usize>)> {
        let mut groups: Vec<(Option<usize>, std::ops::Range<usize>)> = Vec::new();
        let mut last_span = 0;
        // (The model compared once for all the cells; each cell's kernel and span found
        // in parallel, then the cells grouped in order.)
        let serves: Vec<bool> = self.kernels.iter().map(|s| s.serves(trainer)).collect();
        let sides: Vec<(Option<usize>, usize)> = cfgs
            .par_iter()
            .map(|cfg| {
                let side = (self.kernels.iter().zip(&serves))
                    .position(|(s, &ours)| ours && s.helps_served(trainer, cfg));
                (side, side.map_or(0, |s| self.kernels[s].span(trainer, cfg)))
            })
            .collect();
        for (k, &(side, span)) in sides.iter().enumerate() {
            if let Some((Some(s), r)) = groups.last_mut() {
                if side == Some(*s) && span == last_span && r.len() < self.kernels[*s].width() {
                    r.end = k + 1;
                    continue;
                }
            }
            last_span = span;
            groups.push((side, k..k + 1));
        }
        groups
    }
}

/// The run of the map's cell at `x.values[i]`, `y.values[j]`: its configuration (as the
/// verdict runs it: final summary only) and initial parameters.
fn cell_config(
    base: &TrainConfig,
    init: &[f64],
    (x, i): (&Axis, usize),
    (y, j): (&Axis, usize),
) -> Result<(TrainConfig, Vec<f64>), String> {
    let mut cfg = base.clone();
    let mut p = init.to_vec();
    set_cell(&mut cfg, &mut p, (x, i), (y, j))?;
    Ok((cfg, p))
}

/// [`cell_config`] in place: `cfg` (the map's base configuration) and `p` (its initial
/// parameters) made the run of the cell at `x.values[i]`, `y.values[j]`.
fn set_cell(
    cfg: &mut TrainConfig,
    p: &mut [f64],
    (x, i): (&Axis, usize),
    (y, j): (&Axis, usize),
) -> Result<(), String> {
    y.setting.apply(y.values[j], cfg, p)?;
    x.setting.apply(x.values[i], cfg, p)?;
    cfg.optimizer.validate().map_err(|e| e.to_string())?;
    // What a verdict reads (see `judge`): the kernels are compiled for it.
    cfg.record = Record::Final;
    Ok(())
}

/// [`sweep`] on a pool of `threads` threads (`None`: rayon's default, all cores).
///
/// # Errors
///
/// As [`sweep`], or a message if the pool cannot be built.
pub fn sweep_on(
    threads: Option<usize>,
    trainer: &Trainer,
    init: &[f64],
    base: &TrainConfig,
    x: &Axis,
    y: &Axis,
) -> Result<Map, String> {
    match threads {
        None => sweep(trainer, init, base, x, y),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .map_err(|e| e.to_string())?
            .install(|| sweep(trainer, init, base, x, y)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `a*x+b` with the squared error on the graddesc data.
    fn graddesc_trainer() -> Trainer {
        let roles = gradsheet_engine::Roles::with_columns(&["x", "y"]);
        let model = gradsheet_engine::Model::new("a*x+b", "squared", &roles).unwrap();
        Trainer::new(&model, &gradsheet_engine::Dataset::graddesc()).unwrap()
    }

    /// Every cell of a map runs natively on a kernel compiled once for the map (a map
    /// whose cells' configurations the kernels did not fit compiled one kernel per cell:
    /// 18 times slower).
    #[test]
    fn a_maps_cells_fit_its_kernels() {
        let trainer = graddesc_trainer();
        let base = TrainConfig::new(gradsheet_train::Optimizer::sgd(1e-4), 3);
        let x = Axis::parse("lr=0..1e-4:3").unwrap();
        let y = Axis::parse("batch=1,4").unwrap();
        let cfgs: Vec<TrainConfig> = (0..3)
            .flat_map(|i| (0..2).map(move |j| (i, j)))
            .map(|(i, j)| cell_config(&base, &[1.0, 1.0], (&x, i), (&y, j)).unwrap().0)
            .collect();
        let kernels = Kernels::for_configs(&trainer, &cfgs);
        for cfg in &cfgs {
            assert!(
                kernels.fitting(&trainer, cfg).is_some(),
                "no kernel for {cfg:?}"
            );
        }
    }
    use gradsheet_train::{Hyper, Optimizer};

    /// The verdict's memory of the epochs: their count, the best mean (passing over a
    /// NaN), and the last eleven means oldest first, before and after the ring fills.
    #[test]
    fn epoch_means_keep_the_last_eleven_in_order() {
        let mut m = EpochMeans::default();
        assert_eq!(m.tail().count(), 0);
        for e in 1..=5 {
            m.epoch_mean(e, e as f64);
        }
        assert_eq!(m.tail().collect::<Vec<_>>(), [1.0, 2.0, 3.0, 4.0, 5.0]);
        m.epoch_mean(6, f64::NAN);
        for e in 7..=30 {
            m.epoch_mean(e, 100.0 - e as f64);
        }
        assert_eq!(m.count, 30);
        assert_eq!(m.best, 1.0);
        let tail: Vec<f64> = m.tail().collect();
        assert_eq!(
            tail,
            (20..=30).map(|e| 100.0 - e as f64).collect::<Vec<_>>()
        );
        for e in 31..=33 {
            m.epoch_mean(e, e as f64 * 1e-3);
        }
        let tail: Vec<f64> = m.tail().collect();
        assert_eq!(tail.len(), TAIL);
        assert_eq!(tail[..8], [77.0, 76.0, 75.0, 74.0, 73.0, 72.0, 71.0, 70.0]);
        assert_eq!(tail[8..], [0.031, 0.032, 0.033]);
        assert_eq!(m.best, 0.031);
        // Heard in chunks of any length (as a span of epochs hands them on), the same.
        let means: Vec<f64> = (1..=150)
            .map(|e| {
                if e == 40 {
                    f64::NAN
                } else {
                    (e as f64 * 0.7).sin() + 2.0
                }
            })
            .collect();
        let mut one = EpochMeans::default();
        for (e, &v) in means.iter().enumerate() {
            one.epoch_mean(e + 1, v);
        }
        for chunk in [1, 3, 11, 12, 64, 150] {
            let mut many = EpochMeans::default();
            for (c, part) in means.chunks(chunk).enumerate() {
                many.epoch_means(1 + c * chunk, part);
            }
            assert_eq!((many.count, many.best), (one.count, one.best), "{chunk}");
            assert!(many.tail().eq(one.tail()), "{chunk}");
        }
        // Heard as a span's sums (each mean divided where it is read), the same: the
        // best by one division, the tail's bits.
        let records: Vec<(f64, f64)> = (1..=150)
            .map(|e| match e {
                40 => (f64::NAN, f64::NAN),
                41 => (f64::INFINITY, f64::INFINITY),
                42 => (-0.0, 0.0),
                _ => ((e as f64 * 0.7).sin() * 7.3 + 7.4, 1.0),
            })
            .collect();
        let spe = 30;
        let mut one = EpochMeans::default();
        for (e, &(sum, _)) in records.iter().enumerate() {
            one.epoch_mean(e + 1, sum / spe as f64);
        }
        for chunk in [1, 3, 11, 12, 64, 150] {
            let mut many = EpochMeans::default();
            for (c, part) in records.chunks(chunk).enumerate() {
                many.epoch_sums(1 + c * chunk, EpochSums::new(part, spe));
            }
            assert_eq!((many.count, many.best), (one.count, one.best), "{chunk}");
            let bits = |m: &EpochMeans| m.tail().map(f64::to_bits).collect::<Vec<_>>();
            assert_eq!(bits(&many), bits(&one), "{chunk}");
        }
    }

    /// A map's settings are made in parallel, but a bad value is reported as the first
    /// bad cell's, in the cells' order; and an initial scale on the x axis starts each
    /// run from its own values.
    #[test]
    fn a_maps_settings_are_checked_in_order_and_scale_the_start() {
        let trainer = graddesc_trainer();
        let base = TrainConfig::new(
            Optimizer::Momentum {
                lr: 1e-5,
                beta: 0.5,
            },
            5,
        );
        let x = Axis::parse("beta1=0.5,2,3").unwrap();
        let y = Axis::parse("lr=1e-5,1e-4").unwrap();
        let e = sweep(&trainer, &[1.0, 1.0], &base, &x, &y).unwrap_err();
        assert!(e.contains("= 2 ") && !e.contains("= 3 "), "{e}");
        let x = Axis::parse("init=0,1,30").unwrap();
        let map = sweep(&trainer, &[1.0, 1.0], &base, &x, &y).unwrap();
        for (k, cell) in map.cells.iter().enumerate() {
            let (i, j) = (k % 3, k / 3);
            let (cfg, p) = cell_config(&base, &[1.0, 1.0], (&x, i), (&y, j)).unwrap();
            assert_eq!(p, vec![x.values[i]; 2]);
            let v = judge(&trainer, &p, &cfg).unwrap();
            assert_eq!(cell.final_error.to_bits(), v.final_error.to_bits());
            assert_eq!(cell.class, v.class);
        }
        // From (0, 0) and (1, 1) the error falls; (30, 30) is already near the data.
        assert_ne!(map.cell(0, 0).final_error, map.cell(1, 0).final_error);
    }

    /// Axes come from the optimizer table: its β slots and any of its numbers by name.
    #[test]
    fn axes_name_the_tables_settings() {
        let mut cfg = TrainConfig::new(
            Optimizer::from_name("torch-rmsprop", &Hyper::new()).unwrap(),
            1,
        );
        let mut init = [1.0];
        Setting::parse("beta1")
            .unwrap()
            .apply(0.5, &mut cfg, &mut init)
            .unwrap();
        Setting::parse("beta2")
            .unwrap()
            .apply(0.9, &mut cfg, &mut init)
            .unwrap();
        Setting::parse("eps")
            .unwrap()
            .apply(1e-3, &mut cfg, &mut init)
            .unwrap();
        assert_eq!(
            Setting::parse("weight-decay").unwrap(),
            Setting::Hyper("weight_decay")
        );
        assert_eq!(cfg.optimizer.get("momentum"), Some(0.5));
        assert_eq!(cfg.optimizer.get("alpha"), Some(0.9));
        assert_eq!(cfg.optimizer.get("eps"), Some(1e-3));
        let err = Setting::parse("dampening")
            .unwrap()
            .apply(0.1, &mut cfg, &mut init);
        assert_eq!(err.unwrap_err(), "torch-rmsprop has no dampening");
        assert!(Setting::parse("nesterov").unwrap_err().contains("eps"));
        let mut sgd = TrainConfig::new(Optimizer::sgd(1e-4), 1);
        assert_eq!(
            Setting::Beta1.apply(0.5, &mut sgd, &mut init).unwrap_err(),
            "sgd has no beta1"
        );
    }
}

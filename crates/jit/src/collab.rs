//! Collaborative filtering through the general engine (BENCHMARKS.md's W3): a per-rating
//! formula over parameters gathered from embedding tables, trained with mini-batches and
//! `torch.optim.Adam` over the whole tables — and the same computation hand-written, for
//! the benchmark.
//!
//! The engine's side knows nothing about embeddings: the model is the formula
//! `u0*m0+u1*m1+...+bu+bm` compiled like any other ([`GradKernel`]); each rating's
//! parameters are gathered from the tables by its user and item, and its gradient is
//! scattered back. Only the gathering is specific to tables.

use gradsheet_engine::{Model, Roles};
use gradsheet_train::optim::{prefetch, prefetch_lines, SparseAdam};
use gradsheet_train::{rng, Optimizer, State};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::{CompileError, GradKernel};

/// Ratings shaped like MovieLens-100k: users, items, and `(user, item, rating)` triples.
#[derive(Clone, Debug, PartialEq)]
pub struct Ratings {
    /// The number of users.
    pub n_users: usize,
    /// The number of items.
    pub n_items: usize,
    /// The ratings: user, item, rating in 1..=5.
    pub triples: Vec<(u32, u32, f64)>,
}

impl Ratings {
    /// Room for about `n` ratings, for a reader to fill: on 2 MB pages where the
    /// operating system gives them (a large set's ratings are read in a shuffled order,
    /// and on 4 KB pages each read also missed the processor's page-translation cache).
    /// Pages are taken only as ratings are written: room past them costs no memory.
    /// (Room the system refuses is not made: the ratings then grow as they come.)
    pub fn room(n: usize) -> Vec<(u32, u32, f64)> {
        let mut triples = Vec::new();
        if triples.try_reserve_exact(n).is_ok() {
            crate::pages::prefer_huge(&mut triples);
        }
        triples
    }

    /// MovieLens-100k's shape: 943 users, 1,682 items, 100,000 ratings.
    pub fn movielens_100k_shaped(seed: u64) -> Ratings {
        Ratings::synthetic(943, 1682, 100_000, seed)
    }

    /// Synthetic ratings from hidden tastes: each user and item has 4 latent factors and
    /// a bias (standard normal draws, scaled); popular items are rated more often (the
    /// item index is drawn as `n·u²`), and a rating is the rounded, clamped sum of the
    /// mean 3.5, the biases, the factors' dot product and noise.
    pub fn synthetic(n_users: usize, n_items: usize, n_ratings: usize, seed: u64) -> Ratings {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        const K: usize = 4;
        let mut draw = |n: usize, scale: f64| -> Vec<f64> {
            (0..n).map(|_| rng::normal(&mut r) * scale).collect()
        };
        let uf = draw(n_users * K, 0.5);
        let mf = draw(n_items * K, 0.5);
        let ub = draw(n_users, 0.4);
        let mb = draw(n_items, 0.5);
        let mut triples = Ratings::room(n_ratings);
        for _ in 0..n_ratings {
            let u = rng::below(&mut r, n_users as u64) as usize;
            let v = rng::unit(&mut r);
            let i = ((v * v) * n_items as f64) as usize % n_items;
            let dot: f64 = (0..K).map(|k| uf[u * K + k] * mf[i * K + k]).sum();
            let noise = rng::normal(&mut r) * 0.5;
            let y = (3.5 + ub[u] + mb[i] + dot + noise).round().clamp(1.0, 5.0);
            triples.push((u as u32, i as u32, y));
        }
        Ratings {
            n_users,
            n_items,
            triples,
        }
    }
}

impl Ratings {
    /// Splits off a validation set of `round(fraction × n)` ratings, drawn by a seeded
    /// shuffle (ChaCha8); both sets keep the user and item numbering. Returns
    /// `(training, validation)`, each in the original order.
    pub fn split(&self, fraction: f64, seed: u64) -> (Ratings, Ratings) {
        let n = self.triples.len();
        let n_valid = ((fraction.clamp(0.0, 1.0) * n as f64).round() as usize).min(n);
        let mut r = ChaCha8Rng::seed_from_u64(seed ^ 0x0a11d);
        let mut order: Vec<u32> = (0..n as u32).collect();
        rng::shuffle(&mut r, &mut order);
        let mut valid = vec![false; n];
        for &t in &order[..n_valid] {
            valid[t as usize] = true;
        }
        let pick = |want: bool| Ratings {
            n_users: self.n_users,
            n_items: self.n_items,
            triples: self
                .triples
                .iter()
                .zip(&valid)
                .filter(|(_, &v)| v == want)
                .map(|(t, _)| *t)
                .collect(),
        };
        (pick(false), pick(true))
    }
}

/// The per-rating model `u0*m0+...+u{k-1}*m{k-1}+bu+bm` with `k` factors, as formula text.
pub fn formula(k: usize) -> String {
    let mut f: Vec<String> = (0..k).map(|i| format!("u{i}*m{i}")).collect();
    f.push("bu".into());
    f.push("bm".into());
    f.join("+")
}

/// The parameter tables, flat: user factors, item factors, user biases, item biases.
#[derive(Clone, Debug, PartialEq)]
pub struct Tables {
    /// Factors per user and per item.
    pub k: usize,
    /// All parameters.
    pub params: Vec<f64>,
    n_users: usize,
    n_items: usize,
}

impl Tables {
    /// Factors drawn as `0.1 × normal`, biases 0.
    pub fn init(data: &Ratings, k: usize, seed: u64) -> Tables {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        let nf = (data.n_users + data.n_items) * k;
        let mut params = Vec::with_capacity(nf + data.n_users + data.n_items);
        crate::pages::prefer_huge(&mut params);
        params.extend((0..nf).map(|_| rng::normal(&mut r) * 0.1));
        params.resize(nf + data.n_users + data.n_items, 0.0);
        Tables {
            k,
            params,
            n_users: data.n_users,
            n_items: data.n_items,
        }
    }

    /// The model's rating for user `u` and item `i`: the factors' dot product plus both
    /// biases, summed left to right as the formula [`formula`] is.
    pub fn predict(&self, u: usize, i: usize) -> f64 {
        let p = &self.params;
        let (pu, pi) = (self.user(u), self.item(i));
        let mut pred = p[pu] * p[pi];
        for f in 1..self.k {
            pred += p[pu + f] * p[pi + f];
        }
        pred += p[self.user_bias(u)];
        pred + p[self.item_bias(i)]
    }

    /// The mean squared error of [`Tables::predict`] over `data` (NaN for no ratings).
    pub fn mse(&self, data: &Ratings) -> f64 {
        let sum: f64 = data
            .triples
            .iter()
            .map(|&(u, i, y)| {
                let e = self.predict(u as usize, i as usize) - y;
                e * e
            })
            .sum();
        sum / data.triples.len() as f64
    }

    pub(crate) fn user(&self, u: usize) -> usize {
        u * self.k
    }
    pub(crate) fn item(&self, i: usize) -> usize {
        (self.n_users + i) * self.k
    }
    pub(crate) fn user_bias(&self, u: usize) -> usize {
        (self.n_users + self.n_items) * self.k + u
    }
    pub(crate) fn item_bias(&self, i: usize) -> usize {
        (self.n_users + self.n_items) * self.k + self.n_users + i
    }
}

/// How many ratings ahead the training loop asks for a rating's table rows (and twice
/// as far ahead for the rating itself).
const AHEAD: usize = 4;

/// How to train.
#[derive(Clone, Debug, PartialEq)]
pub struct CollabConfig {
    /// Factors.
    pub k: usize,
    /// Ratings per update.
    pub batch: usize,
    /// Epochs.
    pub epochs: usize,
    /// Adam's learning rate (`torch.optim.Adam` defaults otherwise).
    pub lr: f64,
    /// Adam's `weight_decay` (L2 added to the gradient, as `torch.optim.Adam`).
    pub weight_decay: f64,
    /// The seed of the initial tables and of the shuffles.
    pub seed: u64,
    /// `torch.optim.SparseAdam` instead of Adam: only the table entries a batch touched
    /// move ([`gradsheet_train::optim::SparseAdam`]), so a step costs the batch, not the
    /// tables — for MovieLens-1M and larger. No weight decay.
    pub sparse: bool,
}

impl Default for CollabConfig {
    fn default() -> CollabConfig {
        CollabConfig {
            k: 50,
            batch: 64,
            epochs: 5,
            lr: 1e-2,
            weight_decay: 0.0,
            seed: 42,
            sparse: false,
        }
    }
}

/// The result of a run: the tables and each epoch's mean training error.
#[derive(Clone, Debug, PartialEq)]
pub struct CollabRun {
    /// The trained tables.
    pub tables: Tables,
    /// The mean (over mini-batches) of the batches' mean squared errors, per epoch.
    pub epoch_errors: Vec<f64>,
}

/// The batches of an epoch: the shuffled rating order (ChaCha8, our own Fisher–Yates).
pub(crate) fn epoch_order(n: usize, r: &mut ChaCha8Rng, order: &mut Vec<u32>) {
    order.clear();
    order.extend(0..n as u32);
    rng::shuffle(r, order);
}

/// Where a rating's parameters come from and its gradient goes, as runs: `len`
/// consecutive entries of one of the rating's four rows (0 the user's factors, 1 the
/// item's, 2 the user's bias, 3 the item's), from entry `from`, at every `step`-th
/// variable slot from `slot`. The formula's `u0, m0, u1, m1, ...` make two runs of 2 × k
/// slots, step 2, and two of one: a handful of loops over contiguous rows instead of one
/// indexed load (and a match) per parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Run {
    row: usize,
    from: usize,
    slot: usize,
    step: usize,
    len: usize,
}

/// Runs as they are copied: alone, or two of step 2 whose slots interleave (`u0, m0,
/// u1, m1, ...`), copied together so that the loop is over pairs of slots, which the
/// compiler turns into vector shuffles, rather than over every other slot twice.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Part {
    One(Run),
    Pair(Run, Run),
}

/// The runs of a formula's parameters ([`Run`]).
#[derive(Clone, Debug, PartialEq)]
struct Plan {
    parts: Vec<Part>,
}

impl Plan {
    /// The runs of `slot_of` (slot `j` holds entry `slot_of[j].1` of row `slot_of[j].0`):
    /// a slot extends its row's last run when it is that run's next entry, at the run's
    /// step (a run of one takes the step it finds); then runs of step 2 of different
    /// rows, one's slots right after the other's, become pairs.
    fn new(slot_of: &[(u8, usize)]) -> Plan {
        let mut runs: Vec<Run> = Vec::new();
        let mut last: [Option<usize>; 4] = [None; 4];
        for (j, &(row, from)) in slot_of.iter().enumerate() {
            let row = usize::from(row.min(3));
            if let Some(r) = last[row].map(|n| &mut runs[n]) {
                let extends = from == r.from + r.len
                    && if r.len == 1 {
                        j > r.slot
                    } else {
                        j == r.slot + r.step * r.len
                    };
                if extends {
                    if r.len == 1 {
                        r.step = j - r.slot;
                    }
                    r.len += 1;
                    continue;
                }
            }
            last[row] = Some(runs.len());
            runs.push(Run {
                row,
                from,
                slot: j,
                step: 1,
                len: 1,
            });
        }
        let mut parts = Vec::with_capacity(runs.len());
        let mut paired = vec![false; runs.len()];
        for (n, &a) in runs.iter().enumerate() {
            if paired[n] {
                continue;
            }
            let mate = (a.step == 2).then(|| {
                runs.iter().enumerate().position(|(m, b)| {
                    !paired[m]
                        && b.step == 2
                        && b.len == a.len
                        && b.row != a.row
                        && b.slot == a.slot + 1
                })
            });
            match mate.flatten() {
                Some(m) => {
                    paired[m] = true;
                    parts.push(Part::Pair(a, runs[m]));
                }
                None => parts.push(Part::One(a)),
            }
        }
        Plan { parts }
    }

    /// `vars[slot]` = the entry of `src` each slot names, row `r` starting at `base[r]`.
    #[inline]
    fn gather(&self, src: &[f64], base: [usize; 4], vars: &mut [f64]) {
        for part in &self.parts {
            match *part {
                Part::Pair(a, b) => {
                    let x = &src[base[a.row] + a.from..][..a.len];
                    let y = &src[base[b.row] + b.from..][..b.len];
                    let to = vars[a.slot..][..2 * a.len].chunks_exact_mut(2);
                    for ((v, &x), &y) in to.zip(x).zip(y) {
                        v[0] = x;
                        v[1] = y;
                    }
                }
                Part::One(r) => Self::gather_run(r, src, base, vars),
            }
        }
    }

    #[inline(always)]
    fn gather_run(r: Run, src: &[f64], base: [usize; 4], vars: &mut [f64]) {
        let from = &src[base[r.row] + r.from..][..r.len];
        if r.step == 1 {
            vars[r.slot..][..r.len].copy_from_slice(from);
        } else {
            for (v, &x) in vars[r.slot..].iter_mut().step_by(r.step).zip(from) {
                *v = x;
            }
        }
    }

    /// The entry of `dst` each slot names (row `r` starting at `base[r]`) `+= g[slot]`.
    #[inline]
    fn scatter(&self, g: &[f64], base: [usize; 4], dst: &mut [f64]) {
        for part in &self.parts {
            match *part {
                Part::Pair(a, b) => {
                    let (ia, ib) = (base[a.row] + a.from, base[b.row] + b.from);
                    // Two mutable rows of one buffer: split where they do not overlap
                    // (always, for a rating's user and item), else one at a time.
                    let (x, y) = if ia + a.len <= ib {
                        let (lo, hi) = dst.split_at_mut(ib);
                        (&mut lo[ia..][..a.len], &mut hi[..b.len])
                    } else if ib + b.len <= ia {
                        let (lo, hi) = dst.split_at_mut(ia);
                        (&mut hi[..a.len], &mut lo[ib..][..b.len])
                    } else {
                        Self::scatter_run(a, g, base, dst);
                        Self::scatter_run(b, g, base, dst);
                        continue;
                    };
                    let from = g[a.slot..][..2 * a.len].chunks_exact(2);
                    for ((g, x), y) in from.zip(x.iter_mut()).zip(y.iter_mut()) {
                        *x += g[0];
                        *y += g[1];
                    }
                }
                Part::One(r) => Self::scatter_run(r, g, base, dst),
            }
        }
    }

    #[inline(always)]
    fn scatter_run(r: Run, g: &[f64], base: [usize; 4], dst: &mut [f64]) {
        let to = &mut dst[base[r.row] + r.from..][..r.len];
        for (d, &x) in to.iter_mut().zip(g[r.slot..].iter().step_by(r.step)) {
            *d += x;
        }
    }
}

/// Trains through the general engine: the formula compiled by [`GradKernel`], the
/// update by [`Optimizer::step`] over the flat tables.
///
/// # Errors
///
/// [`CompileError`] if the formula cannot be compiled.
pub fn train_engine(data: &Ratings, cfg: &CollabConfig) -> Result<CollabRun, CompileError> {
    train_engine_with(data, cfg, &mut |_, _, _| true)
}

/// As [`train_engine`], calling `after_epoch(epoch, training error, tables)` after each
/// epoch (1-based): to show progress, measure a validation set, or stop early by
/// returning `false` (the run then holds the epochs done).
///
/// # Errors
///
/// [`CompileError`] if the formula cannot be compiled.
pub fn train_engine_with(
    data: &Ratings,
    cfg: &CollabConfig,
    after_epoch: &mut dyn FnMut(usize, f64, &Tables) -> bool,
) -> Result<CollabRun, CompileError> {
    let k = cfg.k;
    let model = Model::new(&formula(k), "squared", &Roles::with_columns(&["y"]))
        .map_err(|e| CompileError::Unsupported(e.to_string()))?;
    let compiled = model.compile();
    let np = compiled.n_params;
    let kernel = GradKernel::compile(&compiled.tape, 1, 1..1 + np)?;
    // Where each of the formula's parameters lives, as (table offset function, factor):
    // `u{i}` and `m{i}` are factor i of the rating's user and item.
    let mut slot_of = Vec::with_capacity(np);
    for name in &model.params {
        let (kind, idx) = match name.as_str() {
            "bu" => (2u8, 0),
            "bm" => (3, 0),
            n if n.starts_with('u') => (0, n[1..].parse::<usize>().unwrap_or(0)),
            n => (1, n[1..].parse::<usize>().unwrap_or(0)),
        };
        slot_of.push((kind, idx));
    }
    let mut tables = Tables::init(data, k, cfg.seed);
    let opt = match Optimizer::torch_adam(cfg.lr) {
        Optimizer::TorchAdam {
            lr,
            beta1,
            beta2,
            eps,
            amsgrad,
            decoupled,
            ..
        } => Optimizer::TorchAdam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay: cfg.weight_decay,
            amsgrad,
            decoupled,
        },
        other => other,
    };
    // The dense update is most of an epoch (Adam over every entry of the tables after
    // each batch): it is split into one part per thread, each with its own state. Every
    // rule is elementwise, so the parts give the bits of one whole step, for any split.
    let parts = rayon::current_num_threads().max(1);
    let chunk = tables
        .params
        .len()
        .div_ceil(parts)
        .next_multiple_of(8)
        .max(8);
    let mut states: Vec<State> = if cfg.sparse {
        Vec::new()
    } else {
        tables
            .params
            .chunks(chunk)
            .map(|c| State::new(&opt, c.len()))
            .collect()
    };
    let sparse = SparseAdam::torch(cfg.lr);
    let mut sparse_state = sparse.state(if cfg.sparse { tables.params.len() } else { 0 });
    // (Its moments are zeros not yet touched: the advice still counts.)
    crate::pages::prefer_huge(&mut sparse_state.values);
    if cfg.sparse && cfg.weight_decay != 0.0 {
        return Err(CompileError::Invalid(
            "SparseAdam has no weight decay (torch's neither)".into(),
        ));
    }
    const NONE: u32 = u32::MAX;
    // Bad input is refused, not a panic: batches of no ratings, a rating whose user or
    // item is not in the tables, more users and items than the packed gradient counts.
    let (nu, ni) = (data.n_users, data.n_items);
    if cfg.batch == 0 {
        return Err(CompileError::Invalid("batches of 0 ratings".into()));
    }
    if data
        .triples
        .iter()
        .any(|&(u, i, _)| u as usize >= nu || i as usize >= ni)
    {
        return Err(CompileError::Invalid(
            "a rating's user or item is past the tables".into(),
        ));
    }
    if nu.saturating_add(ni) > NONE as usize {
        return Err(CompileError::Invalid(
            "more users and items than 2³²".into(),
        ));
    }
    // The batch's gradient, packed: each user or item the batch touched gets `k + 1`
    // entries of `acc` (its factors, then its bias) in the order first touched, so the
    // gradient lives in a buffer the size of the batch, in the caches, instead of one
    // the size of the tables with a miss per line. `entity[id]` is where user `id` (or
    // item `id − nu`) is in `ids` this batch, `NONE` if untouched. The dense update
    // unpacks it into `grad` (that update costs the tables anyway).
    let mut entity = vec![NONE; nu + ni];
    let mut ids: Vec<usize> = Vec::new();
    let mut acc: Vec<f64> = Vec::new();
    // The rows touched (params' entries, with where their gradient is in `acc`).
    let mut touched: Vec<(std::ops::Range<usize>, usize)> = Vec::new();
    let mut grad = if cfg.sparse {
        Vec::new()
    } else {
        vec![0.0; tables.params.len()]
    };
    let plan = Plan::new(&slot_of);
    let mut vars = vec![0.0; 1 + np];
    let mut g_row = vec![0.0; np];
    let mut r = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5eed);
    let mut order = Vec::new();
    let mut epoch_errors = Vec::with_capacity(cfg.epochs);
    for _ in 0..cfg.epochs {
        epoch_order(data.triples.len(), &mut r, &mut order);
        let mut sum = 0.0;
        let mut steps = 0usize;
        for (b, batch) in order.chunks(cfg.batch).enumerate() {
            let start = b * cfg.batch;
            let mut err_sum = 0.0;
            for (j, &t) in batch.iter().enumerate() {
                // Ratings in a shuffled order over tables larger than the caches: the
                // rating a few ahead is asked for, and every line of the table rows of
                // the one after.
                let at = start + j;
                if let Some(&ahead) = order.get(at + 2 * AHEAD) {
                    prefetch(&data.triples, ahead as usize);
                }
                if let Some(&next) = order.get(at + AHEAD) {
                    let (u, i, _) = data.triples[next as usize];
                    let (u, i) = (u as usize, i as usize);
                    prefetch_lines(&tables.params, tables.user(u)..tables.user(u) + k);
                    prefetch_lines(&tables.params, tables.item(i)..tables.item(i) + k);
                    prefetch(&tables.params, tables.user_bias(u));
                    prefetch(&tables.params, tables.item_bias(i));
                    prefetch(&entity, u);
                    prefetch(&entity, nu + i);
                }
                let (u, i, y) = data.triples[t as usize];
                let (u, i) = (u as usize, i as usize);
                let mut base = [0usize; 2];
                let rows = [
                    (u, tables.user(u), tables.user_bias(u)),
                    (nu + i, tables.item(i), tables.item_bias(i)),
                ];
                for (n, (id, row, bias)) in rows.into_iter().enumerate() {
                    let e = match entity[id] {
                        NONE => {
                            let e = ids.len();
                            // Fewer than `nu + ni ≤ u32::MAX` entities (checked above).
                            entity[id] = e as u32;
                            ids.push(id);
                            let off = e * (k + 1);
                            acc.resize(off + k + 1, 0.0);
                            touched.push((row..row + k, off));
                            touched.push((bias..bias + 1, off + k));
                            e
                        }
                        e => e as usize,
                    };
                    base[n] = e * (k + 1);
                }
                vars[0] = y;
                plan.gather(
                    &tables.params,
                    [
                        tables.user(u),
                        tables.item(i),
                        tables.user_bias(u),
                        tables.item_bias(i),
                    ],
                    &mut vars[1..],
                );
                err_sum += kernel.call(&vars, &mut g_row);
                plan.scatter(
                    &g_row,
                    [base[0], base[1], base[0] + k, base[1] + k],
                    &mut acc,
                );
            }
            let m = batch.len() as f64;
            if batch.len().is_power_of_two() {
                // `g / m` and `g · (1/m)` round the same number when `1/m` is exact (a
                // power of two, as the default batch of 64): the same bits, without a
                // division an entry.
                let inv = 1.0 / m;
                acc.iter_mut().for_each(|g| *g *= inv);
            } else {
                acc.iter_mut().for_each(|g| *g /= m);
            }
            if cfg.sparse {
                sparse.step_packed(&mut tables.params, &acc, &touched, &mut sparse_state);
            } else {
                for (r, at) in &touched {
                    grad[r.clone()].copy_from_slice(&acc[*at..*at + r.len()]);
                }
                if states.len() == 1 {
                    opt.step(&mut tables.params, &grad, &mut states[0]);
                } else {
                    tables
                        .params
                        .par_chunks_mut(chunk)
                        .zip(grad.par_chunks(chunk))
                        .zip(states.par_iter_mut())
                        .for_each(|((p, g), st)| opt.step(p, g, st));
                }
                for (r, _) in &touched {
                    grad[r.clone()].fill(0.0);
                }
            }
            acc.clear();
            touched.clear();
            for id in ids.drain(..) {
                entity[id] = NONE;
            }
            sum += err_sum / m;
            steps += 1;
        }
        epoch_errors.push(sum / steps as f64);
        if !after_epoch(epoch_errors.len(), sum / steps as f64, &tables) {
            break;
        }
    }
    Ok(CollabRun {
        tables,
        epoch_errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Room for ratings is made where the system gives it, and is empty; room it cannot
    /// give (a file that claims more than memory holds) is not made, without a panic.
    #[test]
    fn room_for_ratings_is_made_or_not_without_a_panic() {
        let room = Ratings::room(3_000_000);
        assert!(room.is_empty() && room.capacity() >= 3_000_000);
        let none = Ratings::room(usize::MAX / 8);
        assert!(none.is_empty() && none.capacity() < usize::MAX / 8);
        // Filled as a reader fills it, it holds what was put.
        let mut room = Ratings::room(2);
        room.extend([(0, 1, 5.0), (1, 0, 3.0), (2, 2, 1.0)]);
        assert_eq!(room, [(0, 1, 5.0), (1, 0, 3.0), (2, 2, 1.0)]);
    }

    /// The straightforward gather and scatter the plan replaces: one indexed entry a
    /// slot.
    fn naive(slot_of: &[(u8, usize)], base: [usize; 4]) -> Vec<usize> {
        slot_of
            .iter()
            .map(|&(row, f)| base[usize::from(row.min(3))] + f)
            .collect()
    }

    /// Random shapes: k from 0 to 20 (multiples of 8 and not), some factors left out,
    /// the slots in the formula's order or shuffled, rows apart or overlapping.
    #[test]
    fn the_plan_gathers_and_scatters_as_one_entry_a_slot() {
        let mut r = ChaCha8Rng::seed_from_u64(7);
        for trial in 0..2000 {
            let k = rng::below(&mut r, 21) as usize;
            let mut slot_of: Vec<(u8, usize)> = Vec::new();
            for f in 0..k {
                for row in [0u8, 1] {
                    if trial % 3 != 0 || rng::below(&mut r, 5) != 0 {
                        slot_of.push((row, f));
                    }
                }
            }
            slot_of.push((2, 0));
            slot_of.push((3, 0));
            if trial % 2 == 1 {
                rng::shuffle(&mut r, &mut slot_of);
            }
            let plan = Plan::new(&slot_of);
            // Rows far apart, or (one trial in 4) the user's and item's rows overlapping.
            let span = k + 1;
            let base = if trial % 4 == 3 {
                [3, 3 + rng::below(&mut r, span as u64) as usize, 0, 1]
            } else {
                [2 * span + 5, 7 * span + 9, 0, span + 3]
            };
            let len = 9 * span + 16;
            // Small integers, so that the sums are exact whatever their order.
            let src: Vec<f64> = (0..len).map(|_| rng::below(&mut r, 100) as f64).collect();
            let g: Vec<f64> = (0..slot_of.len())
                .map(|_| rng::below(&mut r, 100) as f64 - 50.0)
                .collect();
            let idx = naive(&slot_of, base);
            let mut vars = vec![f64::NAN; slot_of.len()];
            plan.gather(&src, base, &mut vars);
            let want: Vec<f64> = idx.iter().map(|&i| src[i]).collect();
            assert_eq!(vars, want, "gather, trial {trial}, k {k}, {slot_of:?}");
            let mut dst = src.clone();
            plan.scatter(&g, base, &mut dst);
            let mut want = src.clone();
            for (&i, &g) in idx.iter().zip(&g) {
                want[i] += g;
            }
            assert_eq!(dst, want, "scatter, trial {trial}, k {k}, {slot_of:?}");
        }
    }

    #[test]
    fn the_formulas_slots_make_a_pair_and_two_biases() {
        for k in [1, 7, 8, 50] {
            let model = Model::new(&formula(k), "squared", &Roles::with_columns(&["y"])).unwrap();
            let slot_of: Vec<(u8, usize)> = model
                .params
                .iter()
                .map(|n| match n.as_str() {
                    "bu" => (2, 0),
                    "bm" => (3, 0),
                    n => (u8::from(n.starts_with('m')), n[1..].parse().unwrap()),
                })
                .collect();
            let parts = Plan::new(&slot_of).parts;
            let runs = |row, slot, step, len| Run {
                row,
                from: 0,
                slot,
                step,
                len,
            };
            let want = if k == 1 {
                // One factor each: runs of one, nothing to pair.
                vec![
                    Part::One(runs(0, 0, 1, 1)),
                    Part::One(runs(1, 1, 1, 1)),
                    Part::One(runs(2, 2, 1, 1)),
                    Part::One(runs(3, 3, 1, 1)),
                ]
            } else {
                vec![
                    Part::Pair(runs(0, 0, 2, k), runs(1, 1, 2, k)),
                    Part::One(runs(2, 2 * k, 1, 1)),
                    Part::One(runs(3, 2 * k + 1, 1, 1)),
                ]
            };
            assert_eq!(parts, want, "k {k}");
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let data = Ratings::synthetic(10, 8, 200, 3);
        let cfg = CollabConfig {
            k: 3,
            epochs: 1,
            sparse: true,
            ..CollabConfig::default()
        };
        let zero = CollabConfig {
            batch: 0,
            ..cfg.clone()
        };
        assert!(train_engine(&data, &zero).is_err());
        for bad in [(10, 0), (0, 8), (u32::MAX, u32::MAX)] {
            let mut d = data.clone();
            d.triples[57] = (bad.0, bad.1, 3.0);
            assert!(train_engine(&d, &cfg).is_err(), "{bad:?}");
        }
        let empty = Ratings {
            triples: Vec::new(),
            ..data.clone()
        };
        assert!(train_engine(&empty, &cfg).is_ok());
        assert!(train_engine(&data, &cfg).is_ok());
    }
}

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
use gradsheet_train::optim::{prefetch, SparseAdam};
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
        let mut triples = Vec::with_capacity(n_ratings);
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
        let mut params: Vec<f64> = (0..nf).map(|_| rng::normal(&mut r) * 0.1).collect();
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
    if cfg.sparse && cfg.weight_decay != 0.0 {
        return Err(CompileError::Invalid(
            "SparseAdam has no weight decay (torch's neither)".into(),
        ));
    }
    let mut grad = vec![0.0; tables.params.len()];
    // The table rows a batch touched (a user's or an item's factors, a bias), to divide,
    // update (SparseAdam) and clear only those: a bit per row, since a sum may come back
    // to exactly zero. Rows: users, items, users' biases, items' biases.
    let mut touched: Vec<std::ops::Range<usize>> = Vec::new();
    let mut touched_ids: Vec<usize> = Vec::new();
    let (nu, ni) = (data.n_users, data.n_items);
    let mut mark = vec![false; 2 * (nu + ni)];
    let mut vars = vec![0.0; 1 + np];
    let mut g_row = vec![0.0; np];
    let mut idx = vec![0usize; np];
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
                // rating a few ahead is asked for, and the table rows of the one after.
                let at = start + j;
                if let Some(&ahead) = order.get(at + 2 * AHEAD) {
                    prefetch(&data.triples, ahead as usize);
                }
                if let Some(&next) = order.get(at + AHEAD) {
                    let (u, i, _) = data.triples[next as usize];
                    for row in [tables.user(u as usize), tables.item(i as usize)] {
                        for f in (0..k).step_by(8) {
                            prefetch(&tables.params, row + f);
                            prefetch(&grad, row + f);
                        }
                    }
                }
                let (u, i, y) = data.triples[t as usize];
                let (u, i) = (u as usize, i as usize);
                let rows = [
                    (u, tables.user(u)..tables.user(u) + k),
                    (nu + i, tables.item(i)..tables.item(i) + k),
                    (nu + ni + u, tables.user_bias(u)..tables.user_bias(u) + 1),
                    (
                        2 * nu + ni + i,
                        tables.item_bias(i)..tables.item_bias(i) + 1,
                    ),
                ];
                for (id, range) in rows {
                    if !mark[id] {
                        mark[id] = true;
                        touched.push(range);
                        touched_ids.push(id);
                    }
                }
                vars[0] = y;
                for (j, &(kind, f)) in slot_of.iter().enumerate() {
                    idx[j] = match kind {
                        0 => tables.user(u) + f,
                        1 => tables.item(i) + f,
                        2 => tables.user_bias(u),
                        _ => tables.item_bias(i),
                    };
                    vars[1 + j] = tables.params[idx[j]];
                }
                err_sum += kernel.call(&vars, &mut g_row);
                for (&p, g) in idx.iter().zip(&g_row) {
                    grad[p] += g;
                }
            }
            let m = batch.len() as f64;
            for r in &touched {
                grad[r.clone()].iter_mut().for_each(|g| *g /= m);
            }
            if cfg.sparse {
                sparse.step(&mut tables.params, &grad, &touched, &mut sparse_state);
            } else if states.len() == 1 {
                opt.step(&mut tables.params, &grad, &mut states[0]);
            } else {
                tables
                    .params
                    .par_chunks_mut(chunk)
                    .zip(grad.par_chunks(chunk))
                    .zip(states.par_iter_mut())
                    .for_each(|((p, g), st)| opt.step(p, g, st));
            }
            for r in touched.drain(..) {
                grad[r].fill(0.0);
            }
            for id in touched_ids.drain(..) {
                mark[id] = false;
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

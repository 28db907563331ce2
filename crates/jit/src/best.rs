//! The best hand-written code for this machine: `gradsheet bench`'s yardsticks.
//!
//! Each workload is written as a person tuning it for the host would write it: compiled
//! for the host's full instruction set (AVX-512 where it has it, else AVX2, chosen at run
//! time — see `best_of!`), the work kept in registers, nothing computed that the result
//! does not need, and split across threads where the work splits (rayon, the caller's
//! pool). Each comes in two variants of the same code:
//!
//! - **fused** (`FUSE = true`): multiply-adds fused and constants folded wherever that
//!   shortens the work — the fastest code, whose last bits may differ from the engine's;
//! - **same order** (`FUSE = false`): the engine's (and the interpreter's, and Excel's)
//!   operations in their order, with no fusing, so that its results are the engine's
//!   bit for bit — the ratio that shows what the engine itself costs.
//!
//! Nothing here is used by the product: it is the yardstick.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::collab::{CollabConfig, CollabRun, Ratings, Tables};

/// Defines `fn $name(args) -> ret` that runs `$body(args)` compiled for the host's
/// widest instruction set: AVX-512 with FMA, AVX2 with FMA, or the portable build (the
/// unfused variants never fuse, whatever the instruction set: Rust does not contract).
/// `$body` must be `#[inline(always)]` so that each copy is compiled for its features.
macro_rules! best_of {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),*) -> $ret:ty = $body:path) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
                unsafe fn avx512($($arg: $ty),*) -> $ret {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) -> $ret {
                    $body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the host has every feature `avx512` is compiled for.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the host has every feature `avx2` is compiled for.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

/// The instruction set `best_of!` chooses on this host, in words (for BENCHMARKS.md
/// and `gradsheet bench`'s header).
pub fn host_isa() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx512f") && has!("fma") {
            return "AVX-512 + FMA";
        }
        if has!("avx2") && has!("fma") {
            return "AVX2 + FMA";
        }
    }
    "baseline (no FMA)"
}

/// `x·y + z`, fused (one rounding) when `FUSE`, else as two operations.
#[inline(always)]
fn madd<const FUSE: bool>(x: f64, y: f64, z: f64) -> f64 {
    if FUSE {
        x.mul_add(y, z)
    } else {
        x * y + z
    }
}

best_of! {
    /// W1 as a bare loop, fused: per-sample SGD on `a*x+b` with the squared error,
    /// nothing but the final `(a, b)` kept (no sums, no divergence test), `2·lr` folded.
    pub fn w1(rows: &[f64], init: [f64; 2], lr: f64, epochs: usize) -> [f64; 2] = w1_body::<true>
}

best_of! {
    /// W1 as a bare loop in the engine's order: `e = a*x + b − y`, `∂/∂a = (2e)·x`,
    /// `∂/∂b = 2e`, `p ← p − g·lr` (the engine's bits).
    pub fn w1_same_order(rows: &[f64], init: [f64; 2], lr: f64, epochs: usize) -> [f64; 2] = w1_body::<false>
}

#[inline(always)]
fn w1_body<const FUSE: bool>(rows: &[f64], init: [f64; 2], lr: f64, epochs: usize) -> [f64; 2] {
    let [mut a, mut b] = init;
    let two_lr = 2.0 * lr;
    for _ in 0..epochs {
        for r in rows.chunks_exact(2) {
            let (x, y) = (r[0], r[1]);
            if FUSE {
                let d = two_lr * (a.mul_add(x, b) - y);
                a = (-d).mul_add(x, a);
                b -= d;
            } else {
                let g = 2.0 * (a * x + b - y);
                a -= g * x * lr;
                b -= g * lr;
            }
        }
    }
    [a, b]
}

best_of! {
    /// W2 as a bare loop, fused: per-sample workbook Adam on `c*MAX(a*x+b,0)+d`,
    /// parameters in the order c, a, b, d, the final parameters only.
    pub fn w2(rows: &[f64], init: [f64; 4], hyper: (f64, f64, f64), epochs: usize) -> [f64; 4] = w2_body::<true>
}

best_of! {
    /// W2 as a bare loop in the engine's order (the engine's bits).
    pub fn w2_same_order(rows: &[f64], init: [f64; 4], hyper: (f64, f64, f64), epochs: usize) -> [f64; 4] = w2_body::<false>
}

#[inline(always)]
fn w2_body<const FUSE: bool>(
    rows: &[f64],
    init: [f64; 4],
    (lr, b1, b2): (f64, f64, f64),
    epochs: usize,
) -> [f64; 4] {
    let mut p = init;
    let (mut m, mut s) = ([0.0f64; 4], [0.0f64; 4]);
    let (c1, c2) = (1.0 - b1, 1.0 - b2);
    for _ in 0..epochs {
        for r in rows.chunks_exact(2) {
            let (x, y) = (r[0], r[1]);
            let [c, a, b, d] = p;
            let h = madd::<FUSE>(a, x, b);
            let on = h >= 0.0;
            let relu = if on { h } else { 0.0 };
            let g = if FUSE {
                2.0 * c.mul_add(relu, d - y)
            } else {
                2.0 * (c * relu + d - y)
            };
            let gh = g * c;
            let (ga, gb) = if on { (gh * x, gh) } else { (0.0, 0.0) };
            let grads = [g * relu, ga, gb, g];
            for i in 0..4 {
                let gi = grads[i];
                m[i] = madd::<FUSE>(m[i], b1, c1 * gi);
                s[i] = madd::<FUSE>(s[i], b2, c2 * (gi * gi));
                p[i] -= m[i] * lr / s[i].sqrt();
            }
        }
    }
    p
}

/// W4's lanes per block: eight registers of eight `b`s, enough independent sums to
/// keep both FMA pipes busy, with room for the `b`s themselves.
const W4_BLOCK: usize = 64;

/// W4 for `(a*x+b-y)^2` over `rows` (`x, y` pairs), fused: every grid row on its own
/// rayon task; within it, blocks of 64 `b`s whose sums stay in registers for
/// the whole pass over the data, `a·x − y` once per data row, `e·e + sum` fused.
pub fn w4(rows: &[f64], as_: &[f64], bs: &[f64]) -> Vec<f64> {
    w4_grid(rows, as_, bs, w4_row)
}

/// [`w4`] in the engine's order: `a·x` once per data row, then `(ax + b − y)²` added to
/// each sum, as [`crate::surface::mean_error_grid`] does (the engine's bits).
pub fn w4_same_order(rows: &[f64], as_: &[f64], bs: &[f64]) -> Vec<f64> {
    w4_grid(rows, as_, bs, w4_row_same_order)
}

type W4Row = fn(&[f64], f64, &[f64], &mut [f64], f64, Option<f64>);

fn w4_grid(rows: &[f64], as_: &[f64], bs: &[f64], row: W4Row) -> Vec<f64> {
    let lanes = bs.len();
    let mut out = vec![0.0; as_.len() * lanes];
    let n_rows = (rows.len() / 2) as f64;
    // The same-order sums as `fma(e², 1, sum)` where the host has FMA: the same bits
    // as `sum + e²` (`e²·1` is exact), on the multiply pipes rather than the adders,
    // which the other three operations of a lane keep busy — what the engine's AVX-512
    // kernels do (`crate::wide`). The 1 is hidden from the compiler, which would
    // otherwise turn the multiply-add back into an addition.
    #[cfg(target_arch = "x86_64")]
    let one = std::arch::is_x86_feature_detected!("fma").then(|| std::hint::black_box(1.0));
    #[cfg(not(target_arch = "x86_64"))]
    let one = None;
    out.par_chunks_mut(lanes.max(1))
        .zip(as_.par_iter())
        .for_each(|(acc, &a)| row(rows, a, bs, acc, n_rows, one));
    out
}

best_of! {
    /// One grid row of [`w4`].
    fn w4_row(rows: &[f64], a: f64, bs: &[f64], out: &mut [f64], n_rows: f64, one: Option<f64>) -> () = w4_row_body::<true>
}

best_of! {
    /// One grid row of [`w4_same_order`].
    fn w4_row_same_order(rows: &[f64], a: f64, bs: &[f64], out: &mut [f64], n_rows: f64, one: Option<f64>) -> () = w4_row_body::<false>
}

#[inline(always)]
fn w4_row_body<const FUSE: bool>(
    rows: &[f64],
    a: f64,
    bs: &[f64],
    out: &mut [f64],
    n_rows: f64,
    one: Option<f64>,
) {
    for (bo, o) in bs.chunks(W4_BLOCK).zip(out.chunks_mut(W4_BLOCK)) {
        let mut b = [0.0; W4_BLOCK];
        b[..bo.len()].copy_from_slice(bo);
        let mut acc = [0.0; W4_BLOCK];
        for r in rows.chunks_exact(2) {
            let (x, y) = (r[0], r[1]);
            if FUSE {
                let axy = a.mul_add(x, -y);
                for j in 0..W4_BLOCK {
                    let e = axy + b[j];
                    acc[j] = e.mul_add(e, acc[j]);
                }
            } else if let Some(one) = one {
                let ax = a * x;
                for j in 0..W4_BLOCK {
                    let e = ax + b[j] - y;
                    acc[j] = (e * e).mul_add(one, acc[j]);
                }
            } else {
                let ax = a * x;
                for j in 0..W4_BLOCK {
                    let e = ax + b[j] - y;
                    acc[j] += e * e;
                }
            }
        }
        for (o, s) in o.iter_mut().zip(acc) {
            *o = s / n_rows;
        }
    }
}

/// W5, fused: the stability map `gradsheet sweep` draws for workbook momentum on
/// `a*x+b` over `rows` (the graddesc data), `epochs` epochs from (1, 1), learning rates
/// log-spaced over [1e-6, 1e-3] (the slow axis) against β over [0, 0.99] — each run a
/// bare loop with the divergence test once an epoch (the epoch's largest error against
/// the engine's limit, which gives the verdict of testing every step), the runs split
/// across rayon's threads. Each value is the mean error over the data at the final
/// parameters, NaN if the run diverged.
pub fn w5(rows: &[f64], n: usize, epochs: usize, factor: f64) -> Vec<f64> {
    w5_map(rows, n, epochs, factor, w5_run)
}

/// [`w5`] in the engine's order (the engine's bits).
pub fn w5_same_order(rows: &[f64], n: usize, epochs: usize, factor: f64) -> Vec<f64> {
    w5_map(rows, n, epochs, factor, w5_run_same_order)
}

type W5Run = fn(&[f64], f64, f64, usize, f64) -> f64;

/// The learning rate and β of cell `c` of an `n × n` W5 map (the rate along the slow
/// axis).
fn w5_setting(n: usize, c: usize) -> (f64, f64) {
    let denom = (n.max(2) - 1) as f64;
    let lr = 10f64.powf(-6.0 + 3.0 * (c / n) as f64 / denom);
    (lr, 0.99 * (c % n) as f64 / denom)
}

fn w5_map(rows: &[f64], n: usize, epochs: usize, factor: f64, run: W5Run) -> Vec<f64> {
    (0..n * n)
        .into_par_iter()
        .map(|c| {
            let (lr, beta) = w5_setting(n, c);
            run(rows, lr, beta, epochs, factor)
        })
        .collect()
}

best_of! {
    /// One run of [`w5`].
    fn w5_run(rows: &[f64], lr: f64, beta: f64, epochs: usize, factor: f64) -> f64 = w5_run_body::<true>
}

best_of! {
    /// One run of [`w5_same_order`].
    fn w5_run_same_order(rows: &[f64], lr: f64, beta: f64, epochs: usize, factor: f64) -> f64 = w5_run_body::<false>
}

/// W5 with its runs side by side, fused: the map of [`w5`], each run's arithmetic
/// unchanged, but [`W5_LANES`] runs advanced together row by row — one vector
/// instruction does a step's operation for eight of them (AVX-512), and four vectors'
/// chains hide each other's latency — as a person vectorising a grid of independent
/// runs by hand (or `jax.vmap` over the settings) would write it. A lane whose run
/// diverges keeps computing, unread, until every lane of its group has stopped.
pub fn w5_lanes(rows: &[f64], n: usize, epochs: usize, factor: f64) -> Vec<f64> {
    w5_groups(rows, n, epochs, factor, w5_lanes_fused)
}

/// [`w5_lanes`] in the engine's order (the engine's bits, lane by lane).
pub fn w5_lanes_same_order(rows: &[f64], n: usize, epochs: usize, factor: f64) -> Vec<f64> {
    w5_groups(rows, n, epochs, factor, w5_lanes_same)
}

/// How many of W5's runs [`w5_lanes`] advances together: four AVX-512 vectors.
pub const W5_LANES: usize = 32;

/// A group of W5's runs side by side: its rows, learning rates, βs, epochs and
/// divergence factor, and a result for each run.
type W5Group<T> = fn(&[f64], &[f64; W5_LANES], &[f64; W5_LANES], usize, f64) -> [T; W5_LANES];

/// W5's map of `n × n` runs in groups of [`W5_LANES`], each group by `run` (the groups
/// on rayon's threads): each run's result, in the cells' order.
fn w5_groups<T: Send>(
    rows: &[f64],
    n: usize,
    epochs: usize,
    factor: f64,
    run: W5Group<T>,
) -> Vec<T> {
    let cells = n * n;
    let groups: Vec<[T; W5_LANES]> = (0..cells.div_ceil(W5_LANES))
        .into_par_iter()
        .map(|g| {
            // The last group's spare lanes repeat its last run; their results are dropped.
            let set: [(f64, f64); W5_LANES] =
                std::array::from_fn(|k| w5_setting(n, (g * W5_LANES + k).min(cells - 1)));
            run(rows, &set.map(|s| s.0), &set.map(|s| s.1), epochs, factor)
        })
        .collect();
    groups.into_iter().flatten().take(cells).collect()
}

best_of! {
    /// One group of [`w5_lanes`].
    fn w5_lanes_fused(rows: &[f64], lr: &[f64; W5_LANES], beta: &[f64; W5_LANES], epochs: usize, factor: f64) -> [f64; W5_LANES] = w5_lanes_body::<true, W5_LANES>
}

best_of! {
    /// One group of [`w5_lanes_same_order`].
    fn w5_lanes_same(rows: &[f64], lr: &[f64; W5_LANES], beta: &[f64; W5_LANES], epochs: usize, factor: f64) -> [f64; W5_LANES] = w5_lanes_body::<false, W5_LANES>
}

/// `L` runs of W5 side by side (one, for the runs one at a time): each lane a bare loop
/// with the divergence test once an epoch; the group stops when every run has.
#[inline(always)]
fn w5_lanes_body<const FUSE: bool, const L: usize>(
    rows: &[f64],
    lr: &[f64; L],
    beta: &[f64; L],
    epochs: usize,
    factor: f64,
) -> [f64; L] {
    let n = (rows.len() / 2) as f64;
    let mean = |a: f64, b: f64| w5_mean::<FUSE>(rows, a, b);
    let (mut a, mut b) = ([1.0f64; L], [1.0f64; L]);
    let (mut ma, mut mb) = ([0.0f64; L], [0.0f64; L]);
    let one_minus: [f64; L] = std::array::from_fn(|k| 1.0 - beta[k]);
    // Every run starts from (1, 1): one initial error for all.
    let init = mean(1.0, 1.0);
    let floor = 1e-3 * init;
    let mut best = [init; L];
    let mut live = [true; L];
    for _ in 0..epochs {
        let (sum, max) = w5_epoch::<FUSE, L>(
            rows,
            (lr, beta, &one_minus),
            [&mut a, &mut b, &mut ma, &mut mb],
        );
        // (`max` skips a NaN error, but the sum and the parameters keep it.)
        for k in 0..L {
            let ok = max[k] <= factor * best[k].max(floor)
                && sum[k].is_finite()
                && a[k].is_finite()
                && b[k].is_finite();
            live[k] &= ok;
            best[k] = best[k].min(sum[k] / n);
        }
        if !live.contains(&true) {
            break;
        }
    }
    // The runs' final mean errors side by side too, each lane's sum in its own order.
    let sums = w5_sums::<FUSE, L>(rows, &a, &b);
    std::array::from_fn(|k| if live[k] { sums[k] / n } else { f64::NAN })
}

/// A run's class on W5's map, as the product's map names it (`gradsheet sweep`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum W5Class {
    /// The error fell to a tenth of the initial one or less.
    Converged,
    /// It fell less.
    Slow,
    /// The last epoch's mean is more than 1.5 times the best, or the mean rose in at
    /// least three of the last ten epochs.
    Oscillating,
    /// The run stopped at a step whose error, gradient or parameters were not finite,
    /// or whose error passed the divergence factor times the best epoch mean.
    Diverged,
}

/// One cell of W5's map as the product's map reports it: its class, the mean error at
/// its final parameters (where a run stopped, those after the bad step if they are
/// finite, else those before it), and the step (1-based, counted from the run's start)
/// where it diverged.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct W5Cell {
    /// The run's class.
    pub class: W5Class,
    /// The mean error at the run's final parameters.
    pub final_error: f64,
    /// The diverging step, if the run diverged.
    pub diverged_at: Option<usize>,
}

/// W5 computing what the product's map shows of each run, fused: [`w5_lanes`] keeping
/// in each lane, epoch by epoch, the means a class reads (the least, and the last ten
/// in a ring) and the values at the epoch's start; a run whose epoch went bad has that
/// epoch replayed step by step from them, alone, to its exact diverging step. So its
/// result is the engine's map cell for cell, where [`w5_lanes`] returns final errors
/// only.
pub fn w5_cells(rows: &[f64], n: usize, epochs: usize, factor: f64) -> Vec<W5Cell> {
    w5_groups(rows, n, epochs, factor, w5_cells_fused)
}

/// [`w5_cells`] in the engine's order: the engine's map, bit for bit.
pub fn w5_cells_same_order(rows: &[f64], n: usize, epochs: usize, factor: f64) -> Vec<W5Cell> {
    w5_groups(rows, n, epochs, factor, w5_cells_same)
}

best_of! {
    /// One group of [`w5_cells`].
    fn w5_cells_fused(rows: &[f64], lr: &[f64; W5_LANES], beta: &[f64; W5_LANES], epochs: usize, factor: f64) -> [W5Cell; W5_LANES] = w5_cells_body::<true, W5_LANES>
}

best_of! {
    /// One group of [`w5_cells_same_order`].
    fn w5_cells_same(rows: &[f64], lr: &[f64; W5_LANES], beta: &[f64; W5_LANES], epochs: usize, factor: f64) -> [W5Cell; W5_LANES] = w5_cells_body::<false, W5_LANES>
}

/// The epoch means a class reads at the end of a run: the last ten rises.
const W5_TAIL: usize = 11;

/// `L` runs of [`w5_cells`] side by side. What an epoch keeps beside the steps is
/// kept lane by lane in arrays of lanes, by selects rather than branches, so that it
/// goes in a few vector operations an epoch (kept by branches and per lane, it cost more
/// than a third of the map: an epoch is only 29 rows).
#[inline(always)]
fn w5_cells_body<const FUSE: bool, const L: usize>(
    rows: &[f64],
    lr: &[f64; L],
    beta: &[f64; L],
    epochs: usize,
    factor: f64,
) -> [W5Cell; L] {
    let n = (rows.len() / 2) as f64;
    let (mut a, mut b) = ([1.0f64; L], [1.0f64; L]);
    let (mut ma, mut mb) = ([0.0f64; L], [0.0f64; L]);
    let one_minus: [f64; L] = std::array::from_fn(|k| 1.0 - beta[k]);
    let init = w5_mean::<FUSE>(rows, 1.0, 1.0);
    let floor = 1e-3 * init;
    // The loop's best (from the initial error: the limit's), kept as it was before the
    // bad epoch once a run went bad; the least epoch mean and the last means (the
    // class's).
    let mut best = [init; L];
    let mut least = [f64::INFINITY; L];
    let mut tail = [[0.0f64; L]; W5_TAIL];
    let mut live = [true; L];
    // Each run's values at the start of its latest epoch while it is live — of its bad
    // epoch once it went bad — and that epoch.
    let (mut sa, mut sb, mut sma, mut smb) = (a, b, ma, mb);
    let mut bad_epoch = [0usize; L];
    let mut done = 0;
    for epoch in 0..epochs {
        // (Copies where every run is live, most epochs of most groups; lane by lane
        // otherwise, which the compiler does not vectorise.)
        if !live.contains(&false) {
            (sa, sb, sma, smb) = (a, b, ma, mb);
            bad_epoch = [epoch; L];
        } else {
            for k in (0..L).filter(|&k| live[k]) {
                (sa[k], sb[k], sma[k], smb[k]) = (a[k], b[k], ma[k], mb[k]);
                bad_epoch[k] = epoch;
            }
        }
        let (sum, max) = w5_epoch::<FUSE, L>(
            rows,
            (lr, beta, &one_minus),
            [&mut a, &mut b, &mut ma, &mut mb],
        );
        let slot = &mut tail[epoch % W5_TAIL];
        for k in 0..L {
            let ok = live[k]
                && max[k] <= factor * best[k].max(floor)
                && sum[k].abs() < f64::INFINITY
                && a[k].abs() < f64::INFINITY
                && b[k].abs() < f64::INFINITY;
            let mean = sum[k] / n;
            best[k] = if ok { best[k].min(mean) } else { best[k] };
            least[k] = least[k].min(mean);
            slot[k] = mean;
            live[k] = ok;
        }
        done = epoch + 1;
        if !live.contains(&true) {
            break;
        }
    }
    let sums = w5_sums::<FUSE, L>(rows, &a, &b);
    // The runs that went bad, their bad epochs replayed side by side from their starts.
    // (Loops rather than closures here: a closure is compiled apart from this function's
    // instruction set, and its `mul_add` became a call.)
    let mut limit = [0.0f64; L];
    for k in 0..L {
        limit[k] = factor * best[k].max(floor);
    }
    let replayed = live
        .contains(&false)
        .then(|| w5_replay::<FUSE, L>(rows, (lr, beta, &one_minus), [sa, sb, sma, smb], &limit));
    let mut cells = [W5Cell {
        class: W5Class::Diverged,
        final_error: f64::NAN,
        diverged_at: None,
    }; L];
    for (k, cell) in cells.iter_mut().enumerate() {
        if let (false, Some((steps, finals))) = (live[k], &replayed) {
            // (A step of 0 never: the epoch's test is its steps'.)
            let at = bad_epoch[k] * rows.len() / 2 + steps[k];
            cell.final_error = finals[k];
            cell.diverged_at = (steps[k] > 0).then_some(at);
            continue;
        }
        let final_error = sums[k] / n;
        let len = done.min(W5_TAIL);
        let mut rises = 0;
        for i in 1..len {
            let (was, now) = (
                tail[(done - len + i - 1) % W5_TAIL][k],
                tail[(done - len + i) % W5_TAIL][k],
            );
            rises += usize::from(now > was * (1.0 + 1e-9));
        }
        let last = if len > 0 {
            tail[(done - 1) % W5_TAIL][k]
        } else {
            final_error
        };
        cell.final_error = final_error;
        cell.class = if !final_error.is_finite() {
            W5Class::Diverged
        } else if done > 1 && (last > 1.5 * least[k] || rises >= 3) {
            W5Class::Oscillating
        } else if final_error <= 0.1 * init {
            W5Class::Converged
        } else {
            W5Class::Slow
        };
    }
    cells
}

/// `L` runs' bad epochs replayed side by side from their values at the epoch's start
/// (`a, b, ma, mb`), each step tested as the training loop tests it (its error, its
/// gradient and the parameters after it finite, and the error at most the run's `limit`
/// or not above 0): each run's bad step (1-based within the epoch; 0 if none) and its
/// mean error at its final parameters — those after the bad step where they are finite,
/// else those before it. A run goes on computing after its bad step, unread.
#[inline(always)]
fn w5_replay<const FUSE: bool, const L: usize>(
    rows: &[f64],
    (lr, beta, one_minus): (&[f64; L], &[f64; L], &[f64; L]),
    [mut a, mut b, mut ma, mut mb]: [[f64; L]; 4],
    limit: &[f64; L],
) -> ([usize; L], [f64; L]) {
    let mut step = [0usize; L];
    let (mut fa, mut fb) = (a, b);
    for (i, r) in rows.chunks_exact(2).enumerate() {
        let (x, y) = (r[0], r[1]);
        for k in 0..L {
            let before = (a[k], b[k]);
            let e = madd::<FUSE>(a[k], x, b[k]) - y;
            let err = e * e;
            let g = 2.0 * e;
            let gx = g * x;
            if FUSE {
                ma[k] = ma[k].mul_add(beta[k], one_minus[k] * g * x);
                mb[k] = mb[k].mul_add(beta[k], one_minus[k] * g);
                a[k] = (-ma[k]).mul_add(lr[k], a[k]);
                b[k] = (-mb[k]).mul_add(lr[k], b[k]);
            } else {
                ma[k] = ma[k] * beta[k] + one_minus[k] * gx;
                mb[k] = mb[k] * beta[k] + one_minus[k] * g;
                a[k] -= ma[k] * lr[k];
                b[k] -= mb[k] * lr[k];
            }
            let finite = |v: f64| v.abs() < f64::INFINITY;
            let params = finite(a[k]) && finite(b[k]);
            // (The loop's order: the error, the gradient, the parameters, the limit.)
            let sound = finite(err) && finite(gx) && finite(g) && params;
            let bad = !sound || (err > limit[k] && err > 0.0);
            if bad && step[k] == 0 {
                step[k] = i + 1;
                (fa[k], fb[k]) = if params { (a[k], b[k]) } else { before };
            }
        }
    }
    let n = (rows.len() / 2) as f64;
    (step, w5_sums::<FUSE, L>(rows, &fa, &fb).map(|s| s / n))
}

/// One epoch of `L` W5 runs side by side from `a, b, ma, mb` (moved in place) with
/// their `(lr, β, 1 − β)`: each run's sum of errors and largest error. (Both W5 bodies
/// call it; the yardstick's map took the same time, in one process alternated, as with
/// the loop written out in its body.)
#[inline(always)]
fn w5_epoch<const FUSE: bool, const L: usize>(
    rows: &[f64],
    (lr, beta, one_minus): (&[f64; L], &[f64; L], &[f64; L]),
    [a, b, ma, mb]: [&mut [f64; L]; 4],
) -> ([f64; L], [f64; L]) {
    let (mut sum, mut max) = ([0.0f64; L], [0.0f64; L]);
    for r in rows.chunks_exact(2) {
        let (x, y) = (r[0], r[1]);
        for k in 0..L {
            let e = madd::<FUSE>(a[k], x, b[k]) - y;
            let err = e * e;
            sum[k] += err;
            // The largest error as one `vmaxpd`: a NaN error is passed over, as
            // `f64::max` passes it, but without the NaN test `f64::max` adds for a NaN
            // `max`, which never is one (it starts at 0 and takes only errors above
            // it): three vector operations of the row's 20 were one.
            max[k] = if err > max[k] { err } else { max[k] };
            let g = 2.0 * e;
            if FUSE {
                ma[k] = ma[k].mul_add(beta[k], one_minus[k] * g * x);
                mb[k] = mb[k].mul_add(beta[k], one_minus[k] * g);
                a[k] = (-ma[k]).mul_add(lr[k], a[k]);
                b[k] = (-mb[k]).mul_add(lr[k], b[k]);
            } else {
                ma[k] = ma[k] * beta[k] + one_minus[k] * (g * x);
                mb[k] = mb[k] * beta[k] + one_minus[k] * g;
                a[k] -= ma[k] * lr[k];
                b[k] -= mb[k] * lr[k];
            }
        }
    }
    (sum, max)
}

/// `L` runs' sums of squared errors over `rows` at their parameters `a`, `b`, side by
/// side, each lane's sum in its own order (the engine's, row by row).
#[inline(always)]
fn w5_sums<const FUSE: bool, const L: usize>(rows: &[f64], a: &[f64; L], b: &[f64; L]) -> [f64; L] {
    let mut sums = [0.0f64; L];
    for r in rows.chunks_exact(2) {
        let (x, y) = (r[0], r[1]);
        for k in 0..L {
            let e = madd::<FUSE>(a[k], x, b[k]) - y;
            sums[k] += e * e;
        }
    }
    sums
}

/// W5's mean squared error of `a*x+b` over `rows` (`x, y` pairs), as the engine's
/// verdict sums it.
#[inline(always)]
fn w5_mean<const FUSE: bool>(rows: &[f64], a: f64, b: f64) -> f64 {
    let mut s = 0.0;
    for r in rows.chunks_exact(2) {
        let e = madd::<FUSE>(a, r[0], b) - r[1];
        s += e * e;
    }
    s / (rows.len() / 2) as f64
}

#[inline(always)]
fn w5_run_body<const FUSE: bool>(
    rows: &[f64],
    lr: f64,
    beta: f64,
    epochs: usize,
    factor: f64,
) -> f64 {
    let [m] = w5_lanes_body::<FUSE, 1>(rows, &[lr], &[beta], epochs, factor);
    m
}

/// W3, fused: the collaborative filtering of [`crate::collab::train_engine`] (dot
/// product plus biases, mini-batches in the same shuffled order, `torch.optim.Adam`
/// over the whole tables) with the dot products fused and the dense
/// Adam step — most of an epoch — at the host's width, split across rayon's threads,
/// one contiguous part of the tables each.
pub fn w3(data: &Ratings, cfg: &CollabConfig) -> CollabRun {
    w3_train::<true>(data, cfg)
}

/// [`w3`] in the engine's order: left-to-right sums, `2·(pred − y)` times the other
/// factor, the batch's mean, torch's Adam with `cfg.weight_decay` as L2 (the engine's
/// bits).
pub fn w3_same_order(data: &Ratings, cfg: &CollabConfig) -> CollabRun {
    w3_train::<false>(data, cfg)
}

fn w3_train<const FUSE: bool>(data: &Ratings, cfg: &CollabConfig) -> CollabRun {
    let k = cfg.k;
    let mut tables = Tables::init(data, k, cfg.seed);
    let n = tables.params.len();
    let parts = rayon::current_num_threads().max(1);
    let chunk = n.div_ceil(parts).next_multiple_of(8).max(8);
    let mut grad = vec![0.0; n];
    // The table rows a batch touched (a user's or an item's factors and bias), to
    // divide and clear only those.
    let mut touched = Touched {
        users: Vec::new(),
        items: Vec::new(),
        user_on: vec![false; data.n_users],
        item_on: vec![false; data.n_items],
    };
    let (mut m1, mut m2) = (vec![0.0; n], vec![0.0; n]);
    let (beta1, beta2, eps) = (0.9f64, 0.999f64, 1e-8);
    let mut t = 0u64;
    let mut order = Vec::new();
    let mut r = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5eed);
    let mut epoch_errors = Vec::with_capacity(cfg.epochs);
    let batch_grad = if FUSE {
        w3_batch_grad
    } else {
        w3_batch_grad_same_order
    };
    for _ in 0..cfg.epochs {
        crate::collab::epoch_order(data.triples.len(), &mut r, &mut order);
        let (mut sum, mut steps) = (0.0, 0usize);
        for batch in order.chunks(cfg.batch) {
            let m = batch.len() as f64;
            let err_sum = batch_grad(data, &tables, batch, &mut grad, &mut touched);
            // The batch's mean gradient, on the rows it touched.
            touched.for_each_entry(&tables, |q| grad[q] /= m);
            t += 1;
            // Python's `1 - beta**step`, a correctly rounded pow.
            let bc1 = 1.0 - beta1.powf(t as f64);
            let bc2 = 1.0 - beta2.powf(t as f64);
            let adam = Adam {
                weight_decay: cfg.weight_decay,
                beta1,
                beta2,
                eps,
                step_size: cfg.lr / bc1,
                bc2_sqrt: bc2.sqrt(),
            };
            let part = if FUSE {
                adam_part
            } else {
                adam_part_same_order
            };
            tables
                .params
                .par_chunks_mut(chunk)
                .zip(grad.par_chunks(chunk))
                .zip(m1.par_chunks_mut(chunk).zip(m2.par_chunks_mut(chunk)))
                .for_each(|((p, g), (m, v))| part(&adam, p, g, m, v));
            touched.for_each_entry(&tables, |q| grad[q] = 0.0);
            touched.clear();
            sum += err_sum / m;
            steps += 1;
        }
        epoch_errors.push(sum / steps as f64);
    }
    CollabRun {
        tables,
        epoch_errors,
    }
}

/// The table rows a batch of W3 touched: the users and items, once each.
struct Touched {
    users: Vec<u32>,
    items: Vec<u32>,
    user_on: Vec<bool>,
    item_on: Vec<bool>,
}

impl Touched {
    /// Calls `f` with each entry of the touched rows: factors and bias.
    #[inline(always)]
    fn for_each_entry(&self, tables: &Tables, mut f: impl FnMut(usize)) {
        let k = tables.k;
        for &u in &self.users {
            let (pu, bu) = (tables.user(u as usize), tables.user_bias(u as usize));
            (pu..pu + k).chain([bu]).for_each(&mut f);
        }
        for &i in &self.items {
            let (pi, bi) = (tables.item(i as usize), tables.item_bias(i as usize));
            (pi..pi + k).chain([bi]).for_each(&mut f);
        }
    }

    fn clear(&mut self) {
        for &u in &self.users {
            self.user_on[u as usize] = false;
        }
        for &i in &self.items {
            self.item_on[i as usize] = false;
        }
        self.users.clear();
        self.items.clear();
    }
}

best_of! {
    /// W3's batch: each rating's error, and its gradient summed into `grad` (the rows
    /// it touched marked in `touched`), fused; returns the sum of squared errors.
    fn w3_batch_grad(data: &Ratings, tables: &Tables, batch: &[u32], grad: &mut [f64], touched: &mut Touched) -> f64 = w3_batch_body::<true>
}

best_of! {
    /// [`w3_batch_grad`] in the engine's order: the dot product left to right, each
    /// entry's sum `+= (2e)·other` unfused (the engine's bits).
    fn w3_batch_grad_same_order(data: &Ratings, tables: &Tables, batch: &[u32], grad: &mut [f64], touched: &mut Touched) -> f64 = w3_batch_body::<false>
}

/// A batch's gradient as a person writes it at the host's width: for each rating, the
/// user's row of the gradient gains `2e` times the item's factors and the item's row
/// `2e` times the user's — two contiguous rows, in one pass — and each bias `2e`; the
/// touched rows noted once each. (An entry's sum takes its ratings in the batch's
/// order, as the engine's do: the bits of the engine's sums.)
#[inline(always)]
fn w3_batch_body<const FUSE: bool>(
    data: &Ratings,
    tables: &Tables,
    batch: &[u32],
    grad: &mut [f64],
    touched: &mut Touched,
) -> f64 {
    let k = tables.k;
    let p = &tables.params;
    let mut err_sum = 0.0;
    for &ti in batch {
        let (u, i, y) = data.triples[ti as usize];
        let (pu, pi) = (tables.user(u as usize), tables.item(i as usize));
        let (bu, bi) = (tables.user_bias(u as usize), tables.item_bias(i as usize));
        let (fu, fi) = (&p[pu..pu + k], &p[pi..pi + k]);
        let dot = if FUSE {
            dot_body(fu, fi)
        } else {
            (1..k).fold(fu[0] * fi[0], |s, f| s + fu[f] * fi[f])
        };
        let e = dot + p[bu] + p[bi] - y;
        err_sum += e * e;
        let d = 2.0 * e;
        // (The user's rows and the item's are apart: one table's, then the other's.)
        let (head, tail) = grad.split_at_mut(pi);
        let (gu, gi) = (&mut head[pu..pu + k], &mut tail[..k]);
        for f in 0..k {
            if FUSE {
                gu[f] = d.mul_add(fi[f], gu[f]);
                gi[f] = d.mul_add(fu[f], gi[f]);
            } else {
                gu[f] += d * fi[f];
                gi[f] += d * fu[f];
            }
        }
        // (`d · 1` is `d`.)
        grad[bu] += d;
        grad[bi] += d;
        if !touched.user_on[u as usize] {
            touched.user_on[u as usize] = true;
            touched.users.push(u);
        }
        if !touched.item_on[i as usize] {
            touched.item_on[i as usize] = true;
            touched.items.push(i);
        }
    }
    err_sum
}

/// A dot product at the host's width (eight independent fused sums).
#[inline(always)]
fn dot_body(u: &[f64], v: &[f64]) -> f64 {
    let mut s = [0.0f64; 8];
    let (uc, vc) = (u.chunks_exact(8), v.chunks_exact(8));
    let (ur, vr) = (uc.remainder(), vc.remainder());
    for (a, b) in uc.zip(vc) {
        for j in 0..8 {
            s[j] = a[j].mul_add(b[j], s[j]);
        }
    }
    let mut t = (s[0] + s[4]) + (s[1] + s[5]) + ((s[2] + s[6]) + (s[3] + s[7]));
    for (a, b) in ur.iter().zip(vr) {
        t = a.mul_add(*b, t);
    }
    t
}

/// One dense Adam step's numbers.
struct Adam {
    /// L2 weight decay (added to the gradient, torch's `weight_decay`).
    weight_decay: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    step_size: f64,
    bc2_sqrt: f64,
}

best_of! {
    /// `torch.optim.Adam` (no decay) over one part of the tables, fused.
    fn adam_part(k: &Adam, p: &mut [f64], g: &[f64], m: &mut [f64], v: &mut [f64]) -> () = adam_body::<true>
}

best_of! {
    /// `torch.optim.Adam` (no decay) over one part of the tables in torch's order.
    fn adam_part_same_order(k: &Adam, p: &mut [f64], g: &[f64], m: &mut [f64], v: &mut [f64]) -> () = adam_body::<false>
}

#[inline(always)]
fn adam_body<const FUSE: bool>(k: &Adam, p: &mut [f64], g: &[f64], m: &mut [f64], v: &mut [f64]) {
    let (w1, w2) = (1.0 - k.beta1, 1.0 - k.beta2);
    let inv_bc2_sqrt = 1.0 / k.bc2_sqrt;
    let wd = k.weight_decay;
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        // (A test the compiler takes out of the loop: `wd` does not change in it.)
        let g = if wd != 0.0 {
            madd::<FUSE>(wd, *p, g)
        } else {
            g
        };
        // torch's lerp with a weight below one half: m + w·(g − m).
        let mm = madd::<FUSE>(w1, g - *m, *m);
        *m = mm;
        let vv = madd::<FUSE>(*v, k.beta2, w2 * g * g);
        *v = vv;
        let denom = if FUSE {
            vv.sqrt().mul_add(inv_bc2_sqrt, k.eps)
        } else {
            vv.sqrt() / k.bc2_sqrt + k.eps
        };
        *p += -k.step_size * mm / denom;
    }
}

#[cfg(test)]
mod tests {
    //! The yardsticks must compute what the engine computes: the same-order variants
    //! bit for bit, the fused ones to the last bits that fusing may change.

    use super::*;
    use crate::workloads::{self, PerSample};
    use gradsheet_engine::{Dataset, Model, Roles};
    use gradsheet_train::{Hooks, Optimizer, Record, TrainConfig, Trainer};

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter()
            .map(|x| {
                if x.is_nan() {
                    f64::NAN.to_bits()
                } else {
                    x.to_bits()
                }
            })
            .collect()
    }

    /// Equal to `rel` of their size, or both NaN; a value that is exactly 0 for one
    /// (a perfect fit) may be a rounding's width above it for the other.
    fn close(a: &[f64], b: &[f64], rel: f64) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(a, b)| {
                (a.is_nan() && b.is_nan()) || (a - b).abs() <= rel * a.abs().max(b.abs()) + 1e-20
            })
    }

    #[test]
    fn w1_and_w2_reach_the_engines_parameters() {
        let ps = PerSample::w1(300).unwrap();
        let engine = ps.engine().unwrap().final_params;
        let rows = &ps.trainer.rows;
        assert_eq!(
            bits(&engine),
            bits(&w1_same_order(rows, [1.0, 1.0], 1e-4, 300))
        );
        assert!(close(&engine, &w1(rows, [1.0, 1.0], 1e-4, 300), 1e-12));
        let ps = PerSample::w2(50).unwrap();
        let engine = ps.engine().unwrap().final_params;
        let rows = &ps.trainer.rows;
        let h = (0.01, 0.9, 0.99);
        assert_eq!(bits(&engine), bits(&w2_same_order(rows, [1.0; 4], h, 50)));
        assert!(close(&engine, &w2(rows, [1.0; 4], h, 50), 1e-9));
    }

    #[test]
    fn w4_is_the_engines_surface() {
        let data = workloads::w4_data(100);
        let model = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
        // 70 columns: a block of 64 and a partial one.
        let (as_, bs) = workloads::w4_grid(70);
        let engine = workloads::w4_engine(&model, &data, &as_, &bs).unwrap();
        assert_eq!(bits(&engine), bits(&w4_same_order(&data.values, &as_, &bs)));
        assert!(close(&engine, &w4(&data.values, &as_, &bs), 1e-12));
    }

    #[test]
    fn w5_is_the_interpreters_map() {
        let (n, epochs) = (30, 100);
        let data = Dataset::graddesc();
        let model = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
        let trainer = Trainer::new(&model, &data).unwrap();
        let mut ws = trainer.compiled.workspace();
        let denom = (n - 1) as f64;
        let interpreter: Vec<f64> = (0..n * n)
            .map(|k| {
                let lr = 10f64.powf(-6.0 + 3.0 * (k / n) as f64 / denom);
                let beta = 0.99 * (k % n) as f64 / denom;
                let mut cfg = TrainConfig::new(Optimizer::Momentum { lr, beta }, epochs);
                cfg.record = Record::Final;
                let t = trainer.run(&[1.0, 1.0], &cfg, &mut Hooks::none()).unwrap();
                if t.first_bad_step().is_some() {
                    f64::NAN
                } else {
                    trainer.mean_error(&mut ws, &t.final_params)
                }
            })
            .collect();
        let diverged = interpreter.iter().filter(|v| v.is_nan()).count();
        assert!(diverged > 0 && diverged < n * n, "the map has both kinds");
        let f = gradsheet_train::DIVERGENCE_FACTOR;
        assert_eq!(
            bits(&interpreter),
            bits(&w5_same_order(&data.values, n, epochs, f))
        );
        assert!(close(&interpreter, &w5(&data.values, n, epochs, f), 1e-9));
        // The runs side by side: the same runs, lane by lane (a last group of 4 of 32).
        assert_eq!(
            bits(&interpreter),
            bits(&w5_lanes_same_order(&data.values, n, epochs, f))
        );
        assert_eq!(
            bits(&w5(&data.values, n, epochs, f)),
            bits(&w5_lanes(&data.values, n, epochs, f))
        );
    }

    #[test]
    fn w3_trains_as_the_engine_does() {
        let data = Ratings::synthetic(60, 80, 3000, 3);
        let cfg = CollabConfig {
            epochs: 2,
            k: 10,
            ..CollabConfig::default()
        };
        let engine = crate::collab::train_engine(&data, &cfg).unwrap();
        let same = w3_same_order(&data, &cfg);
        assert_eq!(bits(&engine.tables.params), bits(&same.tables.params));
        assert_eq!(bits(&engine.epoch_errors), bits(&same.epoch_errors));
        let tuned = w3(&data, &cfg);
        assert!(close(&engine.epoch_errors, &tuned.epoch_errors, 1e-9));
        assert!(close(&engine.tables.params, &tuned.tables.params, 1e-9));
    }
}

//! The best hand-written code for this machine, for `gradsheet bench`'s second ratio.
//!
//! [`crate::workloads`] holds references written in the engine's operation order, so
//! that equal results are equal bits; they are compiled for the x86-64 baseline. The
//! references here are what a person tuning each workload for the host would write:
//! compiled for the host's full instruction set (AVX-512 and FMA where it has them,
//! else AVX2 and FMA, chosen at run time — see [`best_of!`]), with fused multiply-adds
//! where they shorten the work (so their last bits may differ from the engine's), the
//! constants folded, and split across threads where the work splits (rayon, the
//! caller's pool). Nothing here is used by the product: it is the yardstick.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::collab::{CollabConfig, CollabRun, Ratings, Tables};

/// Defines `pub fn $name(args) -> ret` that runs `$body(args)` compiled for the host's
/// widest instruction set: AVX-512 with FMA, AVX2 with FMA, or the portable build.
/// `$body` must be `#[inline(always)]` so that each copy is compiled for its features.
macro_rules! best_of {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),*) -> $ret:ty = $body:ident) => {
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

/// The instruction set [`best_of!`] chooses on this host, in words (for BENCHMARKS.md
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

best_of! {
    /// W1 as a bare loop: per-sample SGD on `a*x+b` with the squared error, nothing but
    /// the final `(a, b)` kept (no sums, no divergence test), `2·lr` folded, the
    /// prediction and the updates fused.
    pub fn w1(rows: &[f64], init: [f64; 2], lr: f64, epochs: usize) -> [f64; 2] = w1_body
}

#[inline(always)]
fn w1_body(rows: &[f64], init: [f64; 2], lr: f64, epochs: usize) -> [f64; 2] {
    let [mut a, mut b] = init;
    let two_lr = 2.0 * lr;
    for _ in 0..epochs {
        for r in rows.chunks_exact(2) {
            let (x, y) = (r[0], r[1]);
            let d = two_lr * (a.mul_add(x, b) - y);
            a = (-d).mul_add(x, a);
            b -= d;
        }
    }
    [a, b]
}

best_of! {
    /// W2 as a bare loop: per-sample workbook Adam on `c*MAX(a*x+b,0)+d`, parameters in
    /// the order c, a, b, d, the final parameters only; moments and predictions fused.
    pub fn w2(rows: &[f64], init: [f64; 4], hyper: (f64, f64, f64), epochs: usize) -> [f64; 4] = w2_body
}

#[inline(always)]
fn w2_body(rows: &[f64], init: [f64; 4], (lr, b1, b2): (f64, f64, f64), epochs: usize) -> [f64; 4] {
    let mut p = init;
    let (mut m, mut s) = ([0.0f64; 4], [0.0f64; 4]);
    let (c1, c2) = (1.0 - b1, 1.0 - b2);
    for _ in 0..epochs {
        for r in rows.chunks_exact(2) {
            let (x, y) = (r[0], r[1]);
            let [c, a, b, d] = p;
            let h = a.mul_add(x, b);
            let relu = h.max(0.0);
            let g = 2.0 * c.mul_add(relu, d - y);
            let gh = if h >= 0.0 { g * c } else { 0.0 };
            let grads = [g * relu, gh * x, gh, g];
            for i in 0..4 {
                let gi = grads[i];
                m[i] = m[i].mul_add(b1, c1 * gi);
                s[i] = s[i].mul_add(b2, c2 * gi * gi);
                p[i] -= m[i] * lr / s[i].sqrt();
            }
        }
    }
    p
}

/// W4's lanes per block: eight registers of eight `b`s, enough independent sums to
/// keep both FMA pipes busy, with room for the `b`s themselves.
const W4_BLOCK: usize = 64;

/// W4 for `(a*x+b-y)^2`, tuned: every grid row on its own rayon task; within it, blocks
/// of [`W4_BLOCK`] `b`s whose sums stay in registers for the whole pass over the data,
/// `a·x − y` once per data row (one FMA), `e·e + sum` fused.
pub fn w4(rows: &[f64], as_: &[f64], bs: &[f64]) -> Vec<f64> {
    let lanes = bs.len();
    let mut out = vec![0.0; as_.len() * lanes];
    let n_rows = (rows.len() / 2) as f64;
    out.par_chunks_mut(lanes.max(1))
        .zip(as_.par_iter())
        .for_each(|(acc, &a)| w4_row(rows, a, bs, acc, n_rows));
    out
}

best_of! {
    /// One grid row of [`w4`].
    fn w4_row(rows: &[f64], a: f64, bs: &[f64], out: &mut [f64], n_rows: f64) -> () = w4_row_body
}

#[inline(always)]
fn w4_row_body(rows: &[f64], a: f64, bs: &[f64], out: &mut [f64], n_rows: f64) {
    for (bo, o) in bs.chunks(W4_BLOCK).zip(out.chunks_mut(W4_BLOCK)) {
        let mut b = [0.0; W4_BLOCK];
        b[..bo.len()].copy_from_slice(bo);
        let mut acc = [0.0; W4_BLOCK];
        for r in rows.chunks_exact(2) {
            let axy = a.mul_add(r[0], -r[1]);
            for j in 0..W4_BLOCK {
                let e = axy + b[j];
                acc[j] = e.mul_add(e, acc[j]);
            }
        }
        for (o, s) in o.iter_mut().zip(acc) {
            *o = s / n_rows;
        }
    }
}

/// W5 tuned: the same map as [`crate::workloads::w5_map`] — workbook momentum on
/// `a*x+b` over `rows` (the graddesc data), `epochs` epochs from (1, 1), learning rates
/// log-spaced over [1e-6, 1e-3] against β over [0, 0.99] — each run a bare loop with
/// the divergence test once an epoch (the largest error of the epoch against the
/// engine's limit, which gives the same verdict as testing every step), the runs split
/// across rayon's threads. Each value is the last epoch's mean error, NaN if diverged.
pub fn w5(rows: &[f64], n: usize, epochs: usize, factor: f64) -> Vec<f64> {
    let denom = (n.max(2) - 1) as f64;
    (0..n * n)
        .into_par_iter()
        .map(|c| {
            let (i, j) = (c / n, c % n);
            let lr = 10f64.powf(-6.0 + 3.0 * i as f64 / denom);
            let beta = 0.99 * j as f64 / denom;
            w5_run(rows, lr, beta, epochs, factor)
        })
        .collect()
}

best_of! {
    /// One run of [`w5`].
    fn w5_run(rows: &[f64], lr: f64, beta: f64, epochs: usize, factor: f64) -> f64 = w5_run_body
}

#[inline(always)]
fn w5_run_body(rows: &[f64], lr: f64, beta: f64, epochs: usize, factor: f64) -> f64 {
    let n = (rows.len() / 2) as f64;
    let (mut a, mut b) = (1.0f64, 1.0f64);
    let (mut ma, mut mb) = (0.0f64, 0.0f64);
    let one_minus = 1.0 - beta;
    let mean = |a: f64, b: f64| {
        rows.chunks_exact(2)
            .map(|r| {
                let e = a.mul_add(r[0], b) - r[1];
                e * e
            })
            .sum::<f64>()
            / n
    };
    let init = mean(a, b);
    let floor = init * 1e-3;
    let mut best = init;
    let mut last = f64::NAN;
    for _ in 0..epochs {
        let (mut sum, mut max) = (0.0f64, 0.0f64);
        for r in rows.chunks_exact(2) {
            let (x, y) = (r[0], r[1]);
            let e = a.mul_add(x, b) - y;
            let err = e * e;
            sum += err;
            max = max.max(err);
            let g = 2.0 * e;
            ma = ma.mul_add(beta, one_minus * g * x);
            mb = mb.mul_add(beta, one_minus * g);
            a = (-ma).mul_add(lr, a);
            b = (-mb).mul_add(lr, b);
        }
        // (`max` skips a NaN error, but the sum and the parameters keep it.)
        let ok =
            max <= factor * best.max(floor) && sum.is_finite() && a.is_finite() && b.is_finite();
        if !ok {
            return f64::NAN;
        }
        last = sum / n;
        best = best.min(last);
    }
    last
}

/// W3 tuned: the same training as [`crate::collab::train_reference`] (collaborative
/// filtering, dot product plus biases, mini-batches in the same shuffled order,
/// `torch.optim.Adam` over the whole tables) with the dot products fused and the dense
/// Adam step — most of an epoch — at the host's width and split across rayon's
/// threads, one contiguous part of the tables each.
pub fn w3(data: &Ratings, cfg: &CollabConfig) -> CollabRun {
    let k = cfg.k;
    let mut tables = Tables::init(data, k, cfg.seed);
    let n = tables.params.len();
    let parts = rayon::current_num_threads().max(1);
    let chunk = n.div_ceil(parts).next_multiple_of(8).max(8);
    let mut grad = vec![0.0; n];
    let mut touched: Vec<usize> = Vec::new();
    let mut mark = vec![false; n];
    let (mut m1, mut m2) = (vec![0.0; n], vec![0.0; n]);
    let (beta1, beta2, eps) = (0.9f64, 0.999f64, 1e-8);
    let mut t = 0u64;
    let mut order = Vec::new();
    let mut r = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5eed);
    let mut epoch_errors = Vec::with_capacity(cfg.epochs);
    for _ in 0..cfg.epochs {
        crate::collab::epoch_order(data.triples.len(), &mut r, &mut order);
        let (mut sum, mut steps) = (0.0, 0usize);
        for batch in order.chunks(cfg.batch) {
            let mut err_sum = 0.0;
            for &ti in batch {
                let (u, i, y) = data.triples[ti as usize];
                let (pu, pi) = (tables.user(u as usize), tables.item(i as usize));
                let (bu, bi) = (tables.user_bias(u as usize), tables.item_bias(i as usize));
                let p = &tables.params;
                let e = dot(&p[pu..pu + k], &p[pi..pi + k]) + p[bu] + p[bi] - y;
                err_sum += e * e;
                let d = 2.0 * e;
                for (q, other) in (pu..pu + k)
                    .zip(pi..pi + k)
                    .flat_map(|(qu, qi)| [(qu, p[qi]), (qi, p[qu])])
                    .chain([(bu, 1.0), (bi, 1.0)])
                {
                    if !mark[q] {
                        mark[q] = true;
                        touched.push(q);
                    }
                    grad[q] = d.mul_add(other, grad[q]);
                }
            }
            let inv_m = 1.0 / batch.len() as f64;
            for &q in &touched {
                grad[q] *= inv_m;
            }
            t += 1;
            let bc1 = 1.0 - beta1.powf(t as f64);
            let bc2 = 1.0 - beta2.powf(t as f64);
            let adam = Adam {
                beta1,
                beta2,
                eps,
                step_size: cfg.lr / bc1,
                inv_bc2_sqrt: 1.0 / bc2.sqrt(),
            };
            tables
                .params
                .par_chunks_mut(chunk)
                .zip(grad.par_chunks(chunk))
                .zip(m1.par_chunks_mut(chunk).zip(m2.par_chunks_mut(chunk)))
                .for_each(|((p, g), (m, v))| adam_part(&adam, p, g, m, v));
            for &q in &touched {
                grad[q] = 0.0;
                mark[q] = false;
            }
            touched.clear();
            sum += err_sum * inv_m;
            steps += 1;
        }
        epoch_errors.push(sum / steps as f64);
    }
    CollabRun {
        tables,
        epoch_errors,
    }
}

best_of! {
    /// A dot product at the host's width (four independent fused sums).
    fn dot(u: &[f64], v: &[f64]) -> f64 = dot_body
}

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
    beta1: f64,
    beta2: f64,
    eps: f64,
    step_size: f64,
    inv_bc2_sqrt: f64,
}

best_of! {
    /// `torch.optim.Adam` (no decay) over one part of the tables, fused.
    fn adam_part(k: &Adam, p: &mut [f64], g: &[f64], m: &mut [f64], v: &mut [f64]) -> () = adam_body
}

#[inline(always)]
fn adam_body(k: &Adam, p: &mut [f64], g: &[f64], m: &mut [f64], v: &mut [f64]) {
    let (w1, w2) = (1.0 - k.beta1, 1.0 - k.beta2);
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let mm = w1.mul_add(g - *m, *m);
        *m = mm;
        let vv = v.mul_add(k.beta2, w2 * g * g);
        *v = vv;
        let denom = vv.sqrt().mul_add(k.inv_bc2_sqrt, k.eps);
        *p -= k.step_size * mm / denom;
    }
}

#[cfg(test)]
mod tests {
    //! The yardstick must compute what the engine computes: each tuned reference against
    //! the engine's own result, to the last bits that fused multiply-adds may change.

    use super::*;
    use crate::workloads::{self, PerSample};
    use gradsheet_engine::{Dataset, Model, Roles};

    /// Equal to `rel` of their size, or both NaN; a value that is exactly 0 for one
    /// (a perfect fit) may be a rounding's width above it for the other.
    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a.is_nan() && b.is_nan()) || (a - b).abs() <= rel * a.abs().max(b.abs()) + 1e-20
    }

    #[test]
    fn w1_and_w2_reach_the_engines_parameters() {
        let ps = PerSample::w1(300).unwrap();
        let engine = ps.engine().unwrap().final_params;
        let tuned = w1(&ps.trainer.rows, [1.0, 1.0], 1e-4, 300);
        assert!(engine.iter().zip(tuned).all(|(a, b)| close(*a, b, 1e-12)));
        let ps = PerSample::w2(50).unwrap();
        let engine = ps.engine().unwrap().final_params;
        let tuned = w2(&ps.trainer.rows, [1.0; 4], (0.01, 0.9, 0.99), 50);
        assert!(
            engine.iter().zip(tuned).all(|(a, b)| close(*a, b, 1e-9)),
            "{engine:?} {tuned:?}"
        );
    }

    #[test]
    fn w4_is_the_engines_surface() {
        let data = workloads::w4_data(100);
        let model = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
        let (as_, bs) = workloads::w4_grid(70);
        let engine = workloads::w4_engine(&model, &data, &as_, &bs).unwrap();
        let tuned = w4(&data.values, &as_, &bs);
        assert_eq!(engine.len(), tuned.len());
        assert!(engine.iter().zip(&tuned).all(|(a, b)| close(*a, *b, 1e-12)));
    }

    #[test]
    fn w5_is_the_engines_map() {
        let (n, epochs) = (30, 100);
        let engine = workloads::w5_map(n, epochs).unwrap();
        let tuned = w5(
            &Dataset::graddesc().values,
            n,
            epochs,
            gradsheet_train::DIVERGENCE_FACTOR,
        );
        let diverged = engine.iter().filter(|v| v.is_nan()).count();
        assert!(diverged > 0 && diverged < n * n, "the map has both kinds");
        for (k, (a, b)) in engine.iter().zip(&tuned).enumerate() {
            assert!(close(*a, *b, 1e-9), "cell {k}: engine {a}, tuned {b}");
        }
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
        let tuned = w3(&data, &cfg);
        for (a, b) in engine.epoch_errors.iter().zip(&tuned.epoch_errors) {
            assert!(close(*a, *b, 1e-9), "{a} {b}");
        }
        assert!(engine
            .tables
            .params
            .iter()
            .zip(&tuned.tables.params)
            .all(|(a, b)| close(*a, *b, 1e-9)));
    }
}

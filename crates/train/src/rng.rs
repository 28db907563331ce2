//! Random numbers whose streams never change: ChaCha8 words turned into numbers by our
//! own fixed recipes (never `rand`'s distributions, whose algorithms may change between
//! versions), so that a seed replays the same run anywhere.

use rand::RngCore;

/// A uniform double in [0, 1) from the top 53 bits of one word.
pub fn unit(rng: &mut impl RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform integer in `0..n` (`n > 0`), by rejection so that it is exactly uniform.
pub fn below(rng: &mut impl RngCore, n: u64) -> u64 {
    let zone = u64::MAX - (u64::MAX % n);
    loop {
        let v = rng.next_u64();
        if v < zone {
            return v % n;
        }
    }
}

/// A standard normal draw (Box–Muller, one of the pair).
pub fn normal(rng: &mut impl RngCore) -> f64 {
    let u1 = 1.0 - unit(rng); // in (0, 1], so the log is finite
    let u2 = unit(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Fisher–Yates shuffle.
pub fn shuffle<T>(rng: &mut impl RngCore, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        let j = below(rng, i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

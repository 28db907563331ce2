//! Random numbers whose streams never change: ChaCha8 words turned into numbers by our
//! own fixed recipes (never `rand`'s distributions, whose algorithms may change between
//! versions), so that a seed replays the same run anywhere.

use rand::RngCore;

/// A uniform double in [0, 1) from the top 53 bits of one word.
pub fn unit(rng: &mut impl RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform integer in `0..n` (`n > 0`), by rejection so that it is exactly uniform:
/// a word is kept when it lies below the largest multiple of `n` that fits in 64 bits,
/// `zone = u64::MAX - u64::MAX % n`.
#[inline]
pub fn below(rng: &mut impl RngCore, n: u64) -> u64 {
    loop {
        let v = rng.next_u64();
        let r = v % n;
        // `v < zone` without computing `zone` (a second 64-bit division, which cost a
        // shuffled epoch as much as its steps): `v - r` is a multiple of `n`, and it
        // lies below `zone` exactly when the next multiple, `v - r + n`, still fits.
        if v - r <= u64::MAX - n {
            return r;
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
#[inline]
pub fn shuffle<T>(rng: &mut impl RngCore, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        let j = below(rng, i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// The test without `zone` keeps exactly the words the test with it keeps.
        #[test]
        fn the_rejection_test_is_the_zones(v in any::<u64>(), n in 1u64..u64::MAX, small in 1u64..5000) {
            for n in [n, small, u64::MAX] {
                let zone = u64::MAX - (u64::MAX % n);
                prop_assert_eq!(v < zone, v - v % n <= u64::MAX - n);
            }
        }
    }

    #[test]
    fn the_rejection_test_is_the_zones_at_its_edges() {
        for n in [
            1u64,
            2,
            3,
            7,
            1000,
            1 << 32,
            (1 << 63) + 1,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let zone = u64::MAX - (u64::MAX % n);
            for v in [
                0,
                zone.saturating_sub(1),
                zone,
                zone.saturating_add(1),
                u64::MAX,
            ] {
                assert_eq!(v < zone, v - v % n <= u64::MAX - n, "v {v}, n {n}");
            }
        }
    }
}

//! The matrix products against the straightforward loops they replace, bit for bit: the
//! kernels sum blocks of columns in registers, drop zero terms without a branch and
//! treat one-column products apart, and every one of those paths must add the same
//! terms in the same order (the labs' fingerprints rest on it).

use gradsheet_concepts::la::Mat;

/// A small xorshift stream: the test needs no statistics, only many varied cases.
struct Stream(u64);

impl Stream {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Mostly ordinary values, with many zeros of both signs (a ReLU's and a mask's), and
    /// now and then a NaN or an infinity (0·∞ is a NaN that a skipped term never makes).
    fn entry(&mut self, special: bool) -> f64 {
        match self.below(if special { 20 } else { 10 }) {
            0..=2 => 0.0,
            3 => -0.0,
            10 => f64::NAN,
            11 => f64::INFINITY,
            12 => f64::NEG_INFINITY,
            _ => (self.next() >> 11) as f64 / (1u64 << 53) as f64 * 4.0 - 2.0,
        }
    }

    fn mat(&mut self, rows: usize, cols: usize, special: bool) -> Mat {
        Mat::from_fn(rows, cols, |_, _| self.entry(special))
    }

    /// A size: 0, 1, one about a block of 4 or 32 columns, or any up to 70.
    fn size(&mut self) -> usize {
        const EDGES: [usize; 12] = [0, 1, 2, 3, 4, 5, 7, 31, 32, 33, 36, 65];
        if self.below(2) == 0 {
            EDGES[self.below(EDGES.len())]
        } else {
            1 + self.below(70)
        }
    }
}

/// `a · b` as main computed it: each entry from 0 in `k` order, a zero `a[i][k]`'s term
/// skipped.
fn plain_matmul(a: &Mat, b: &Mat) -> Mat {
    Mat::from_fn(a.rows, b.cols, |i, j| {
        let mut s = 0.0;
        for k in 0..a.cols {
            let x = a.at(i, k);
            if x == 0.0 {
                continue;
            }
            s += x * b.at(k, j);
        }
        s
    })
}

/// `aᵀ · b`: each entry from 0 in row order, a zero `a[r][i]`'s term skipped.
fn plain_t_matmul(a: &Mat, b: &Mat) -> Mat {
    Mat::from_fn(a.cols, b.cols, |i, j| {
        let mut s = 0.0;
        for r in 0..a.rows {
            let x = a.at(r, i);
            if x == 0.0 {
                continue;
            }
            s += x * b.at(r, j);
        }
        s
    })
}

/// `a · bᵀ`: dot products, `Iterator::sum` of every term (from −0, no term skipped).
fn plain_matmul_t(a: &Mat, b: &Mat) -> Mat {
    Mat::from_fn(a.rows, b.rows, |i, j| {
        a.row(i).iter().zip(b.row(j)).map(|(x, y)| x * y).sum()
    })
}

/// The same bits, or both NaN (a NaN's payload is not the products' business).
#[track_caller]
fn same(what: &str, got: &Mat, want: &Mat) {
    assert_eq!(
        (got.rows, got.cols),
        (want.rows, want.cols),
        "{what}: shape"
    );
    for (i, (g, w)) in got.data.iter().zip(&want.data).enumerate() {
        assert!(
            g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
            "{what}: entry {i}: {g:?} vs {w:?}"
        );
    }
}

#[test]
fn products_match_the_plain_loops_bit_for_bit() {
    let mut s = Stream(0x9e37_79b9_7f4a_7c15);
    for case in 0..3000 {
        let (n, k, m) = (s.size(), s.size(), s.size());
        let special = case % 3 == 0;
        let a = s.mat(n, k, special);
        let b = s.mat(k, m, special);
        let what = format!("case {case}: {n}×{k} · {k}×{m}");
        same(
            &format!("matmul {what}"),
            &a.matmul(&b),
            &plain_matmul(&a, &b),
        );
        let c = s.mat(n, m, special);
        same(
            &format!("t_matmul {what}"),
            &a.t_matmul(&c),
            &plain_t_matmul(&a, &c),
        );
        let d = s.mat(m, k, special);
        let want = plain_matmul_t(&a, &d);
        same(&format!("matmul_t {what}"), &a.matmul_t(&d), &want);
        same(
            &format!("matmul_by_t {what}"),
            &a.matmul_by_t(&d.transpose()),
            &want,
        );
    }
}

#[test]
fn zero_terms_keep_the_sign_of_zero_and_skip_zero_times_infinity() {
    // Every term −0 or a zero against an infinity: the skipping products leave +0 (their
    // start) and no NaN; the dot products start from −0 and take every term.
    for cols in [1, 3, 4, 5, 32, 33, 37] {
        let a = Mat::from_fn(5, 3, |r, c| if (r + c) % 2 == 0 { -0.0 } else { 0.0 });
        let b = Mat::from_fn(3, cols, |r, _| if r == 1 { f64::INFINITY } else { 1.0 });
        let p = a.matmul(&b);
        assert!(
            p.data.iter().all(|v| v.to_bits() == 0.0f64.to_bits()),
            "{p:?}"
        );
        let c = Mat::from_fn(5, cols, |_, _| f64::NEG_INFINITY);
        let t = a.t_matmul(&c);
        assert!(
            t.data.iter().all(|v| v.to_bits() == 0.0f64.to_bits()),
            "{t:?}"
        );
        let neg = Mat::from_fn(5, 3, |_, _| -0.0);
        let pos = Mat::from_fn(cols, 3, |_, _| 1.0);
        let d = neg.matmul_t(&pos);
        assert!(
            d.data.iter().all(|v| v.to_bits() == (-0.0f64).to_bits()),
            "{d:?}"
        );
        let nan = neg.matmul_t(&Mat::from_fn(cols, 3, |_, _| f64::INFINITY));
        assert!(nan.data.iter().all(|v| v.is_nan()), "{nan:?}");
    }
}

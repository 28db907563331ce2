//! The few matrix operations the small networks need: row-major `f64` matrices, written
//! out plainly so that each backprop line can be read against its formula. The products
//! run compiled for AVX where the processor has it (`kernel!`), with the same bits.

/// A row-major matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct Mat {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// `rows × cols` values, row after row.
    pub data: Vec<f64>,
}

impl Mat {
    /// A matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Mat {
        Mat {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// A matrix from a function of `(row, column)`.
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> f64) -> Mat {
        let mut data = Vec::with_capacity(rows * cols);
        for r in 0..rows {
            for c in 0..cols {
                data.push(f(r, c));
            }
        }
        Mat { rows, cols, data }
    }

    /// The value at `(r, c)`.
    #[inline]
    pub fn at(&self, r: usize, c: usize) -> f64 {
        self.data[r * self.cols + c]
    }

    /// Row `r`.
    pub fn row(&self, r: usize) -> &[f64] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    /// `self · b`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gradsheet_concepts::la::Mat;
    /// let a = Mat::from_fn(1, 2, |_, c| (c + 1) as f64); // [1 2]
    /// let b = Mat::from_fn(2, 1, |r, _| (r + 3) as f64); // [3 4]ᵀ
    /// assert_eq!(a.matmul(&b).data, [11.0]);
    /// ```
    pub fn matmul(&self, b: &Mat) -> Mat {
        assert_eq!(self.cols, b.rows, "matmul: inner sizes differ");
        let mut out = Mat::zeros(self.rows, b.cols);
        matmul_into(&self.data, &b.data, self.cols, b.cols, &mut out.data);
        out
    }

    /// `selfᵀ · b`.
    pub fn t_matmul(&self, b: &Mat) -> Mat {
        assert_eq!(self.rows, b.rows, "t_matmul: row counts differ");
        let mut out = Mat::zeros(self.cols, b.cols);
        t_matmul_into(&self.data, &b.data, self.cols, b.cols, &mut out.data);
        out
    }

    /// `self · bᵀ`: each entry `Σₖ self[i][k]·b[j][k]` summed in `k` order from −0, as
    /// `Iterator::sum` of the products would. The sums of a row advance together, over
    /// the rows of `bᵀ`, rather than one after the other: the same additions in the same
    /// order, but independent, so that they pipeline and vectorise instead of each waiting
    /// on the last (4× faster on the gradients lab's 128-wide layers).
    ///
    /// # Examples
    ///
    /// ```
    /// use gradsheet_concepts::la::Mat;
    /// let a = Mat::from_fn(1, 2, |_, c| (c + 1) as f64); // [1 2]
    /// let b = Mat::from_fn(2, 2, |r, c| (2 * r + c) as f64); // [0 1; 2 3]
    /// assert_eq!(a.matmul_t(&b).data, [2.0, 8.0]);
    /// ```
    pub fn matmul_t(&self, b: &Mat) -> Mat {
        assert_eq!(self.cols, b.cols, "matmul_t: column counts differ");
        self.matmul_by_t(&b.transpose())
    }

    /// [`Mat::matmul_t`] given `bᵀ` itself (`bt`), for a caller that holds it already: the
    /// same sums in the same order, without transposing `b` again.
    pub fn matmul_by_t(&self, bt: &Mat) -> Mat {
        assert_eq!(self.cols, bt.rows, "matmul_by_t: inner sizes differ");
        let mut out = Mat::zeros(self.rows, bt.cols);
        matmul_t_into(&self.data, &bt.data, self.cols, bt.cols, &mut out.data);
        out
    }

    /// `selfᵀ`.
    pub fn transpose(&self) -> Mat {
        Mat::from_fn(self.cols, self.rows, |r, c| self.at(c, r))
    }

    /// The root mean square of the entries.
    pub fn rms(&self) -> f64 {
        if self.data.is_empty() {
            return 0.0;
        }
        (self.data.iter().map(|v| v * v).sum::<f64>() / self.data.len() as f64).sqrt()
    }

    /// The Frobenius norm.
    pub fn norm(&self) -> f64 {
        self.data.iter().map(|v| v * v).sum::<f64>().sqrt()
    }
}

/// `out = a · b` for row-major `a` (`n × k`) and `b` (`k × m`), `out` holding `n × m`:
/// each entry summed in `k` order starting from `init`; with `SKIP`, the terms of a zero
/// `a[i][k]` are left out (a ReLU's zeros cost nothing).
#[inline(always)]
fn product<const SKIP: bool>(a: &[f64], b: &[f64], k: usize, m: usize, init: f64, out: &mut [f64]) {
    if k == 0 || m == 0 {
        out.fill(init);
        return;
    }
    if m == 1 {
        column::<SKIP>(a, b, k, init, out);
        return;
    }
    let mut kept = Vec::new();
    for (o, arow) in out.chunks_exact_mut(m).zip(a.chunks_exact(k)) {
        let terms = arow.iter().enumerate().map(|(r, &x)| (x, r * m));
        row_sums::<SKIP>(o, init, b, terms, &mut kept);
    }
}

/// `out = aᵀ · b` for row-major `a` (`n × k`) and `b` (`n × m`), `out` holding `k × m`:
/// each entry summed in `n` order from 0, the terms of a zero `a[n][i]` left out.
#[inline(always)]
fn transposed_product(a: &[f64], b: &[f64], k: usize, m: usize, out: &mut [f64]) {
    out.fill(0.0);
    if k == 0 || m == 0 {
        return;
    }
    if m == 1 {
        // Each entry's terms are a column of `a`: the entries advance together down the
        // rows of `a` (independent sums that vectorise), a zero term leaving its sum as
        // it was: a select, not a branch, which the random zeros of a ReLU or a mask
        // would mispredict half the time.
        for (arow, &bt) in a.chunks_exact(k).zip(b) {
            for (o, &x) in out.iter_mut().zip(arow) {
                let t = *o + x * bt;
                *o = if x == 0.0 { *o } else { t };
            }
        }
        return;
    }
    let n = a.len() / k;
    let mut kept = Vec::new();
    for (i, o) in out.chunks_exact_mut(m).enumerate() {
        row_sums::<true>(o, 0.0, b, (0..n).map(|r| (a[r * k + i], r * m)), &mut kept);
    }
}

/// A product with one column (a network's output layer), `out[i] = init + Σₜ a[i][t]·b[t]`:
/// four entries' sums advance together (four independent chains of additions instead
/// of one), each in `t` order; with `SKIP` a zero term leaves its sum as it was (a
/// select, not a mispredicted branch).
#[inline(always)]
fn column<const SKIP: bool>(a: &[f64], b: &[f64], k: usize, init: f64, out: &mut [f64]) {
    let mut rows = a.chunks_exact(4 * k);
    let mut outs = out.chunks_exact_mut(4);
    for (four, o) in (&mut rows).zip(&mut outs) {
        let mut acc = [init; 4];
        for (t, &bt) in b.iter().enumerate() {
            for (r, s) in acc.iter_mut().enumerate() {
                let x = four[r * k + t];
                let sum = *s + x * bt;
                *s = if SKIP && x == 0.0 { *s } else { sum };
            }
        }
        o.copy_from_slice(&acc);
    }
    for (arow, o) in rows.remainder().chunks_exact(k).zip(outs.into_remainder()) {
        let mut s = init;
        for (&x, &bt) in arow.iter().zip(b) {
            let sum = s + x * bt;
            s = if SKIP && x == 0.0 { s } else { sum };
        }
        *o = s;
    }
}

/// One row of a product: `o[j] = init + Σ x·b[at + j]` over the `(x, at)` of `terms`, in
/// their order (with `SKIP`, a zero `x` left out). Each entry's sum is the same additions
/// in the same order as one running over the whole row at every term would make; but
/// the row is summed a block of 32 (then 4, then 1) columns at a time, its sums kept in
/// registers over all the terms instead of read and written back at each: 8 independent
/// chains of 4-wide additions. `kept` is room for the terms.
#[inline(always)]
fn row_sums<const SKIP: bool>(
    o: &mut [f64],
    init: f64,
    b: &[f64],
    terms: impl ExactSizeIterator<Item = (f64, usize)>,
    kept: &mut Vec<(f64, usize)>,
) {
    kept.clear();
    kept.resize(terms.len(), (0.0, 0));
    let mut n = 0;
    for t in terms {
        // Without a branch: every term written, the count moved past the kept ones only
        // (`!= 0.0`, so a ±0 is dropped and a NaN kept, as `x == 0.0` skipped them). A
        // ReLU's and a mask's zeros come at random, and a branch on them was mispredicted
        // about half the time.
        kept[n] = t;
        n += usize::from(!SKIP || t.0 != 0.0);
    }
    let kept = &kept[..n];
    let mut j = 0;
    while j + 32 <= o.len() {
        block::<32>(&mut o[j..j + 32], init, b, j, kept);
        j += 32;
    }
    while j + 4 <= o.len() {
        block::<4>(&mut o[j..j + 4], init, b, j, kept);
        j += 4;
    }
    while j < o.len() {
        block::<1>(&mut o[j..j + 1], init, b, j, kept);
        j += 1;
    }
}

/// `B` columns of [`row_sums`], from column `j` of `b`'s rows.
#[inline(always)]
fn block<const B: usize>(o: &mut [f64], init: f64, b: &[f64], j: usize, terms: &[(f64, usize)]) {
    let mut acc = [init; B];
    for &(x, at) in terms {
        let brow: &[f64; B] = b[at + j..at + j + B].try_into().expect("B columns");
        for (s, bj) in acc.iter_mut().zip(brow) {
            *s += x * bj;
        }
    }
    o.copy_from_slice(&acc);
}

/// A product kernel `$name(a, b, k, m, out)` running `$body` compiled for 256-bit vectors
/// (AVX) when the processor has them. AVX computes each addition and multiplication
/// exactly as SSE2 does (and Rust never fuses a multiply and an add), so the results are
/// the same bits, four to an instruction instead of two.
macro_rules! kernel {
    ($name:ident, $avx:ident, $body:expr) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx")]
        fn $avx(a: &[f64], b: &[f64], k: usize, m: usize, out: &mut [f64]) {
            $body(a, b, k, m, out)
        }

        /// (See [`kernel!`].)
        pub(crate) fn $name(a: &[f64], b: &[f64], k: usize, m: usize, out: &mut [f64]) {
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx") {
                // SAFETY: the processor has AVX, checked just above: the only
                // requirement of calling a function compiled for it.
                return unsafe { $avx(a, b, k, m, out) };
            }
            $body(a, b, k, m, out)
        }
    };
}

kernel!(matmul_into, matmul_avx, |a, b, k, m, out| product::<true>(
    a, b, k, m, 0.0, out
));
// From −0, as `Iterator::sum` of the products starts: the sums of `self · bᵀ` as dot
// products would give them.
kernel!(matmul_t_into, matmul_t_avx, |a, b, k, m, out| product::<
    false,
>(
    a, b, k, m, -0.0, out
));
kernel!(t_matmul_into, t_matmul_avx, transposed_product);

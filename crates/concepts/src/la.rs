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
        matmul(self, b)
    }

    /// `selfᵀ · b`.
    pub fn t_matmul(&self, b: &Mat) -> Mat {
        assert_eq!(self.rows, b.rows, "t_matmul: row counts differ");
        t_matmul(self, b)
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
        matmul_t(self, &b.transpose())
    }

    /// [`Mat::matmul_t`] given `bᵀ` itself (`bt`), for a caller that holds it already: the
    /// same sums in the same order, without transposing `b` again.
    pub fn matmul_by_t(&self, bt: &Mat) -> Mat {
        assert_eq!(self.cols, bt.rows, "matmul_by_t: inner sizes differ");
        matmul_t(self, bt)
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

/// `a · b`, each entry summed in `k` order starting from `init`; with `SKIP`, the terms
/// of a zero `a[i][k]` are left out (a ReLU's zeros cost nothing).
#[inline(always)]
fn product<const SKIP: bool>(a: &Mat, b: &Mat, init: f64) -> Mat {
    let mut out = Mat {
        rows: a.rows,
        cols: b.cols,
        data: vec![init; a.rows * b.cols],
    };
    for i in 0..a.rows {
        let o = &mut out.data[i * b.cols..(i + 1) * b.cols];
        for (k, &x) in a.row(i).iter().enumerate() {
            if SKIP && x == 0.0 {
                continue;
            }
            for (oj, bj) in o.iter_mut().zip(b.row(k)) {
                *oj += x * bj;
            }
        }
    }
    out
}

/// `aᵀ · b`, each entry summed in `k` order from 0, the terms of a zero `a[k][i]` left out.
#[inline(always)]
fn transposed_product(a: &Mat, b: &Mat) -> Mat {
    let mut out = Mat::zeros(a.cols, b.cols);
    for k in 0..a.rows {
        let brow = b.row(k);
        for (i, &x) in a.row(k).iter().enumerate() {
            if x == 0.0 {
                continue;
            }
            let o = &mut out.data[i * b.cols..(i + 1) * b.cols];
            for (oj, bj) in o.iter_mut().zip(brow) {
                *oj += x * bj;
            }
        }
    }
    out
}

/// A product kernel `$name(a, b)` running `$body` compiled for 256-bit vectors (AVX) when
/// the processor has them. AVX computes each addition and multiplication exactly as
/// SSE2 does (and Rust never fuses a multiply and an add), so the results are the same
/// bits, four to an instruction instead of two.
macro_rules! kernel {
    ($name:ident, $avx:ident, $body:expr) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx")]
        fn $avx(a: &Mat, b: &Mat) -> Mat {
            $body(a, b)
        }

        fn $name(a: &Mat, b: &Mat) -> Mat {
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx") {
                // SAFETY: the processor has AVX, checked just above: the only
                // requirement of calling a function compiled for it.
                return unsafe { $avx(a, b) };
            }
            $body(a, b)
        }
    };
}

kernel!(matmul, matmul_avx, |a, b| product::<true>(a, b, 0.0));
// From −0, as `Iterator::sum` of the products starts: the sums of `self · bᵀ` as dot
// products would give them.
kernel!(matmul_t, matmul_t_avx, |a, b| product::<false>(a, b, -0.0));
kernel!(t_matmul, t_matmul_avx, transposed_product);

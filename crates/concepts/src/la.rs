//! The few matrix operations the small networks need: row-major `f64` matrices, written
//! out plainly so that each backprop line can be read against its formula.

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
        for i in 0..self.rows {
            let o = &mut out.data[i * b.cols..(i + 1) * b.cols];
            for k in 0..self.cols {
                let a = self.data[i * self.cols + k];
                if a == 0.0 {
                    continue;
                }
                for (oj, bj) in o.iter_mut().zip(b.row(k)) {
                    *oj += a * bj;
                }
            }
        }
        out
    }

    /// `selfᵀ · b`.
    pub fn t_matmul(&self, b: &Mat) -> Mat {
        assert_eq!(self.rows, b.rows, "t_matmul: row counts differ");
        let mut out = Mat::zeros(self.cols, b.cols);
        for k in 0..self.rows {
            let brow = b.row(k);
            for i in 0..self.cols {
                let a = self.data[k * self.cols + i];
                if a == 0.0 {
                    continue;
                }
                let o = &mut out.data[i * b.cols..(i + 1) * b.cols];
                for (oj, bj) in o.iter_mut().zip(brow) {
                    *oj += a * bj;
                }
            }
        }
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
        let bt = b.transpose();
        let mut out = Mat {
            rows: self.rows,
            cols: b.rows,
            data: vec![-0.0; self.rows * b.rows],
        };
        for i in 0..self.rows {
            let o = &mut out.data[i * b.rows..(i + 1) * b.rows];
            for (k, &a) in self.row(i).iter().enumerate() {
                for (oj, bj) in o.iter_mut().zip(bt.row(k)) {
                    *oj += a * bj;
                }
            }
        }
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

//! Small dense linear algebra the numeric crates share: the eigen-decomposition of a
//! symmetric matrix (a row's Hessian, a Gram matrix of gradients), by Jacobi's method.

/// The eigenvalues and eigenvectors of a symmetric `n × n` matrix, by the cyclic Jacobi
/// method: rotate away the largest off-diagonal entries until the matrix is diagonal.
///
/// Returns eigenvalues in decreasing order and the eigenvectors as rows (`vecs[k*n..]` is
/// the unit vector of eigenvalue `k`). A matrix with a NaN or infinite entry gives NaN
/// eigenvalues.
///
/// # Examples
///
/// ```
/// use gradsheet_engine::linalg::symmetric_eigen;
/// let (vals, vecs) = symmetric_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
/// assert!((vals[0] - 3.0).abs() < 1e-12 && (vals[1] - 1.0).abs() < 1e-12);
/// assert!((vecs[0].abs() - 0.5f64.sqrt()).abs() < 1e-12);
/// ```
pub fn symmetric_eigen(m: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    if m.iter().take(n * n).any(|v| !v.is_finite()) {
        return (vec![f64::NAN; n], vec![f64::NAN; n * n]);
    }
    let mut a = m[..n * n].to_vec();
    // v holds the accumulated rotations; its columns become the eigenvectors.
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum::<f64>()
            .sqrt();
        if off <= 1e-15 * scale || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                // The rotation angle that zeroes a[p][q]: tan(2θ) = 2a_pq / (a_qq − a_pp),
                // with t = tan θ taken as the smaller root for stability.
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[j * n + j].total_cmp(&a[i * n + i]));
    let vals = order.iter().map(|&i| a[i * n + i]).collect();
    let mut vecs = vec![0.0; n * n];
    for (k, &i) in order.iter().enumerate() {
        for r in 0..n {
            vecs[k * n + r] = v[r * n + i];
        }
    }
    (vals, vecs)
}

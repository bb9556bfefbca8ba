//! Distances between encoded tables: the Fréchet distance between fitted Gaussians, exact
//! Wasserstein-1 and -2 between equal-size samples, and nearest-neighbour distances (blocked
//! GEMMs, never a full distance matrix in memory).

use ndarray::{s, Array1, Array2, ArrayView2, Axis};
use ndarray_linalg::{Eigh, UPLO};
use rayon::prelude::*;

use super::assignment::min_cost_assignment;
use crate::error::{Error, Result};

/// Mean and covariance (denominator n − 1, as `numpy.cov`) of the rows.
fn mean_cov(x: ArrayView2<f64>) -> (Array1<f64>, Array2<f64>) {
    let n = x.nrows() as f64;
    let mean = x.mean_axis(Axis(0)).expect("at least one row");
    let c = &x - &mean.view().insert_axis(Axis(0));
    let cov = c.t().dot(&c) / (n - 1.0);
    (mean, cov)
}

/// The symmetric positive semi-definite square root (negative eigenvalues from round-off
/// are taken as 0).
fn psd_sqrt(m: &Array2<f64>) -> Result<Array2<f64>> {
    let (vals, vecs) = m
        .eigh(UPLO::Lower)
        .map_err(|e| Error::numerical(format!("eigendecomposition: {e}")))?;
    let root = vals.mapv(|l| l.max(0.0).sqrt());
    let scaled = &vecs * &root.insert_axis(Axis(0));
    Ok(scaled.dot(&vecs.t()))
}

/// The Fréchet distance between the Gaussians fitted to the rows of `a` and `b`:
/// ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}. The trace term is the sum of
/// the square roots of the eigenvalues of the symmetric matrix Σ₁^{1/2} Σ₂ Σ₁^{1/2}, which are
/// those of Σ₁Σ₂ (what `scipy.linalg.sqrtm(Σ₁ @ Σ₂)` takes the trace of). This is the squared
/// distance, as in FID. Both need two rows or more.
pub fn frechet_distance(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Result<f64> {
    if a.nrows() < 2 || b.nrows() < 2 {
        return Err(Error::data(
            "the Fréchet distance needs at least two rows in each table",
        ));
    }
    let (m1, c1) = mean_cov(a);
    let (m2, c2) = mean_cov(b);
    let s1 = psd_sqrt(&c1)?;
    let mid = s1.dot(&c2).dot(&s1);
    // Symmetric in exact arithmetic; averaging with its transpose removes round-off only.
    let mid = (&mid + &mid.t()) / 2.0;
    let (vals, _) = mid
        .eigh(UPLO::Lower)
        .map_err(|e| Error::numerical(format!("eigendecomposition: {e}")))?;
    let tr_sqrt: f64 = vals.iter().map(|l| l.max(0.0).sqrt()).sum();
    let dm = &m1 - &m2;
    let d = dm.dot(&dm) + c1.diag().sum() + c2.diag().sum() - 2.0 * tr_sqrt;
    Ok(d.max(0.0))
}

/// Squared Euclidean distances between the rows of `q` and `r` (a q × r block).
fn sq_dist_block(
    q: ArrayView2<f64>,
    qn: &[f64],
    r: ArrayView2<f64>,
    rn: &Array1<f64>,
) -> Array2<f64> {
    let mut g = q.dot(&r.t());
    if !g.is_standard_layout() {
        g = g.as_standard_layout().into_owned();
    }
    let w = g.ncols().max(1);
    g.as_slice_mut()
        .expect("standard layout")
        .par_chunks_mut(w)
        .zip(qn.par_iter())
        .for_each(|(row, &a)| {
            for (v, &b) in row.iter_mut().zip(rn.iter()) {
                // ‖x‖² + ‖y‖² − 2x·y loses about ε(‖x‖² + ‖y‖²) to round-off: below that
                // the rows are the same row.
                let d = a + b - 2.0 * *v;
                *v = if d <= 1e-12 * (a + b) { 0.0 } else { d };
            }
        });
    g
}

fn sq_norms(x: ArrayView2<f64>) -> Array1<f64> {
    x.rows().into_iter().map(|r| r.dot(&r)).collect()
}

/// Rows of `q` per block so a block of distances stays near 32 MiB.
fn block_rows(n_ref: usize) -> usize {
    ((1usize << 22) / n_ref.max(1)).clamp(1, 4096)
}

/// For each row of `q`: the Euclidean distances to its nearest and second-nearest rows of
/// `r` (the second is infinite when `r` has one row).
pub fn nearest_two(q: ArrayView2<f64>, r: ArrayView2<f64>) -> Vec<(f64, f64)> {
    nearest_both(q, r).0
}

/// One pass over the distances between the rows of `q` and `r`: for each row of `q` the
/// distances to its nearest and second-nearest rows of `r`, and for each row of `r` the
/// distance to its nearest row of `q`.
pub fn nearest_both(q: ArrayView2<f64>, r: ArrayView2<f64>) -> (Vec<(f64, f64)>, Vec<f64>) {
    let rn = sq_norms(r);
    let qn = sq_norms(q);
    let qn = qn.as_slice().expect("contiguous");
    let mut per_q = Vec::with_capacity(q.nrows());
    let mut per_r = vec![f64::INFINITY; r.nrows()];
    let b = block_rows(r.nrows());
    let w = r.nrows().max(1);
    let mut start = 0;
    while start < q.nrows() {
        let end = (start + b).min(q.nrows());
        let d = sq_dist_block(q.slice(s![start..end, ..]), &qn[start..end], r, &rn);
        let rows = d.as_slice().expect("standard layout");
        let part: Vec<(f64, f64)> = rows
            .par_chunks(w)
            .map(|row| {
                let (mut m1, mut m2) = (f64::INFINITY, f64::INFINITY);
                for &v in row {
                    if v < m1 {
                        m2 = m1;
                        m1 = v;
                    } else if v < m2 {
                        m2 = v;
                    }
                }
                (m1.sqrt(), m2.sqrt())
            })
            .collect();
        per_q.extend(part);
        // Column minima, split by column ranges so each thread owns its slice of per_r.
        let chunk = w.div_ceil(rayon::current_num_threads().max(1)).max(256);
        per_r
            .par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(c, out)| {
                let (lo, len) = (c * chunk, out.len());
                for row in rows.chunks(w) {
                    for (o, &v) in out.iter_mut().zip(&row[lo..lo + len]) {
                        if v < *o {
                            *o = v;
                        }
                    }
                }
            });
        start = end;
    }
    per_r.iter_mut().for_each(|v| *v = v.sqrt());
    (per_q, per_r)
}

/// Exact Wasserstein-1 and -2 distances between two equal-size samples with uniform weights
/// (optimal transport between equal uniform samples is an assignment): W1 is the mean
/// Euclidean distance under the assignment minimising it, W2 the root mean squared distance
/// under the assignment minimising that.
pub fn wasserstein(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Result<(f64, f64)> {
    if a.nrows() != b.nrows() || a.nrows() == 0 {
        return Err(Error::invalid(format!(
            "exact Wasserstein distances need two non-empty samples of the same size (got {} and {} rows)",
            a.nrows(),
            b.nrows()
        )));
    }
    let n = a.nrows();
    let sq = sq_dist_block(
        a,
        sq_norms(a).as_slice().expect("contiguous"),
        b,
        &sq_norms(b),
    );
    let d = sq.mapv(f64::sqrt);
    let (p1, p2) = rayon::join(
        || min_cost_assignment(d.view()),
        || min_cost_assignment(sq.view()),
    );
    let w1 = p1.iter().enumerate().map(|(i, &j)| d[[i, j]]).sum::<f64>() / n as f64;
    let w2 = (p2.iter().enumerate().map(|(i, &j)| sq[[i, j]]).sum::<f64>() / n as f64).sqrt();
    Ok((w1, w2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn frechet_in_one_dimension_is_mean_and_sd_gaps() {
        // 1-D: (μ₁ − μ₂)² + (σ₁ − σ₂)² with sample standard deviations.
        let a = array![[0.0], [2.0]]; // mean 1, var 2
        let b = array![[3.0], [7.0], [5.0]]; // mean 5, var 4
        let want = 16.0 + (2.0f64.sqrt() - 2.0).powi(2);
        assert!((frechet_distance(a.view(), b.view()).unwrap() - want).abs() < 1e-10);
        assert!(frechet_distance(a.view(), a.view()).unwrap() < 1e-12);
    }

    #[test]
    fn wasserstein_in_one_dimension_matches_sorted_pairs() {
        let a = array![[0.0], [1.0], [5.0]];
        let b = array![[4.0], [0.5], [2.0]];
        // Sorted: (0, 0.5), (1, 2), (5, 4): W1 = (0.5 + 1 + 1)/3, W2 = sqrt((0.25 + 1 + 1)/3).
        let (w1, w2) = wasserstein(a.view(), b.view()).unwrap();
        assert!((w1 - 2.5 / 3.0).abs() < 1e-12);
        assert!((w2 - (2.25f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!(wasserstein(a.view(), b.slice(s![..2, ..])).is_err());
    }

    #[test]
    fn nearest_two_finds_the_neighbours() {
        let q = array![[0.0, 0.0], [10.0, 0.0]];
        let r = array![[3.0, 4.0], [1.0, 0.0], [10.0, 2.0]];
        let d = nearest_two(q.view(), r.view());
        assert!((d[0].0 - 1.0).abs() < 1e-12 && (d[0].1 - 5.0).abs() < 1e-12);
        assert!((d[1].0 - 2.0).abs() < 1e-12 && (d[1].1 - 65f64.sqrt()).abs() < 1e-12);
        let (_, per_r) = nearest_both(q.view(), r.view());
        assert_eq!(per_r.len(), 3);
        assert!((per_r[0] - 5.0).abs() < 1e-12);
        assert!((per_r[1] - 1.0).abs() < 1e-12);
        assert!((per_r[2] - 2.0).abs() < 1e-12);
    }
}

//! Built-in least squares: the minimum-norm solution through a thin SVD (LAPACK's
//! divide-and-conquer), with singular values below ε·max(m, n)·σ_max treated as zero, as
//! `numpy.linalg.lstsq` does; so one-hot columns collinear with the intercept do no harm.
//! (LAPACK's own `gelsd` with ε as the cut-off keeps such round-off directions and returns
//! huge, meaningless coefficients.)

use ndarray::{Array1, ArrayView2, Axis};
use ndarray_linalg::{JobSvd, SVDDC};

use crate::error::{Error, Result};

/// A fitted linear model on a design matrix whose first column is the intercept.
#[derive(Debug, Clone)]
pub struct LeastSquares {
    pub coefs: Array1<f64>,
}

impl LeastSquares {
    /// Fits on the rows whose response is present (NaN rows are skipped).
    pub fn fit(x: ArrayView2<f64>, y: &[f64]) -> Result<LeastSquares> {
        let keep: Vec<usize> = (0..y.len()).filter(|&i| !y[i].is_nan()).collect();
        if keep.is_empty() {
            return Err(Error::data(
                "no rows with a target value to train the least-squares model",
            ));
        }
        let x = x.select(Axis(0), &keep);
        let y: Array1<f64> = keep.iter().map(|&i| y[i]).collect();
        let (u, sv, vt) = x
            .svddc(JobSvd::Some)
            .map_err(|e| Error::numerical(format!("least squares: {e}")))?;
        let (Some(u), Some(vt)) = (u, vt) else {
            return Err(Error::numerical(
                "least squares: the SVD returned no vectors",
            ));
        };
        let smax = sv.iter().copied().fold(0.0f64, f64::max);
        let cut = f64::EPSILON * x.nrows().max(x.ncols()) as f64 * smax;
        let uty = u.t().dot(&y);
        let scaled: Array1<f64> = uty
            .iter()
            .zip(sv.iter())
            .map(|(&a, &s)| if s > cut { a / s } else { 0.0 })
            .collect();
        Ok(LeastSquares {
            coefs: vt.t().dot(&scaled),
        })
    }

    /// Predictions for the rows of a design matrix.
    pub fn predict(&self, x: ArrayView2<f64>) -> Array1<f64> {
        x.dot(&self.coefs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn recovers_a_line_and_skips_missing() {
        let x = array![[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0]];
        let m = LeastSquares::fit(x.view(), &[1.0, 3.0, f64::NAN, 7.0]).unwrap();
        assert!((m.coefs[0] - 1.0).abs() < 1e-10 && (m.coefs[1] - 2.0).abs() < 1e-10);
        assert!((m.predict(x.view())[2] - 5.0).abs() < 1e-10);
    }

    #[test]
    fn collinear_columns_are_fine() {
        // Two one-hot columns that sum to the intercept.
        let x = array![[1.0, 1.0, 0.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]];
        let m = LeastSquares::fit(x.view(), &[2.0, 4.0, 2.0]).unwrap();
        let p = m.predict(x.view());
        assert!((p[0] - 2.0).abs() < 1e-10 && (p[1] - 4.0).abs() < 1e-10);
    }
}

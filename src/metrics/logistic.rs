//! Built-in logistic regression (one-vs-rest for more than two classes), fitted by Newton's
//! method with a ridge penalty, in f64 with LAPACK solves.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use ndarray_linalg::Solve;

use crate::error::{Error, Result};
use crate::table::MISSING;

/// A fitted logistic regression on a design matrix whose first column is the intercept:
/// one coefficient vector per class (one for two classes).
#[derive(Debug, Clone)]
pub struct LogisticRegression {
    coefs: Vec<Array1<f64>>,
    n_classes: usize,
}

impl LogisticRegression {
    /// Fits on the rows whose class is present (`MISSING` rows are skipped); `ridge` penalises
    /// every coefficient but the intercept.
    pub fn fit(
        x: ArrayView2<f64>,
        y: &[u32],
        n_classes: usize,
        ridge: f64,
    ) -> Result<LogisticRegression> {
        let keep: Vec<usize> = (0..y.len()).filter(|&i| y[i] != MISSING).collect();
        if keep.is_empty() {
            return Err(Error::data(
                "no rows with a target value to train the logistic regression",
            ));
        }
        let x = x.select(Axis(0), &keep);
        let y: Vec<u32> = keep.iter().map(|&i| y[i]).collect();
        let fits = if n_classes <= 2 {
            vec![1u32]
        } else {
            (0..n_classes as u32).collect()
        };
        let mut coefs = Vec::with_capacity(fits.len());
        for cls in fits {
            let yy: Array1<f64> = y.iter().map(|&c| (c == cls) as u8 as f64).collect();
            coefs.push(fit_binary(x.view(), &yy, ridge)?);
        }
        Ok(LogisticRegression {
            coefs,
            n_classes: n_classes.max(2),
        })
    }

    /// Class probabilities, one row per design row (one-vs-rest scores normalised to sum 1).
    pub fn predict_proba(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let n = x.nrows();
        let mut p = Array2::<f64>::zeros((n, self.n_classes));
        if self.coefs.len() == 1 {
            let s = x.dot(&self.coefs[0]).mapv(sigmoid);
            p.column_mut(1).assign(&s);
            p.column_mut(0).assign(&s.mapv(|v| 1.0 - v));
        } else {
            for (c, b) in self.coefs.iter().enumerate() {
                p.column_mut(c).assign(&x.dot(b).mapv(sigmoid));
            }
            for mut row in p.rows_mut() {
                let s = row.sum();
                if s > 0.0 {
                    row /= s;
                }
            }
        }
        p
    }

    /// The most probable class per row.
    pub fn predict(&self, x: ArrayView2<f64>) -> Vec<u32> {
        self.predict_proba(x)
            .rows()
            .into_iter()
            .map(|r| {
                let mut best = 0;
                for c in 1..r.len() {
                    if r[c] > r[best] {
                        best = c;
                    }
                }
                best as u32
            })
            .collect()
    }
}

/// The logistic function, without overflow.
pub fn sigmoid(e: f64) -> f64 {
    if e >= 0.0 {
        1.0 / (1.0 + (-e).exp())
    } else {
        let z = e.exp();
        z / (1.0 + z)
    }
}

/// Newton's method for a binary logistic regression with a ridge penalty on every coefficient
/// but the first (the intercept).
pub fn fit_binary(x: ArrayView2<f64>, y: &Array1<f64>, ridge: f64) -> Result<Array1<f64>> {
    let p = x.ncols();
    let mut beta = Array1::<f64>::zeros(p);
    let mut pen = Array1::<f64>::from_elem(p, ridge);
    pen[0] = 1e-8;
    for _ in 0..50 {
        let eta = x.dot(&beta);
        let mu = eta.mapv(sigmoid);
        let w = mu.mapv(|m| (m * (1.0 - m)).max(1e-10));
        let grad = x.t().dot(&(&mu - y)) + &pen * &beta;
        let xw = &x * &w.mapv(f64::sqrt).insert_axis(Axis(1));
        let mut h = xw.t().dot(&xw);
        for i in 0..p {
            h[[i, i]] += pen[i];
        }
        let step = h
            .solve_into(grad)
            .map_err(|e| Error::numerical(format!("logistic regression: {e}")))?;
        if !step.iter().all(|v| v.is_finite()) {
            return Err(Error::numerical(
                "logistic regression: the Newton step is not finite",
            ));
        }
        beta -= &step;
        if step.iter().fold(0.0f64, |m, v| m.max(v.abs())) < 1e-8 {
            break;
        }
    }
    Ok(beta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn saturated_binary_model_recovers_group_shares() {
        // One dummy: the fitted probabilities are the group shares 1/4 and 3/4.
        let x = array![
            [1.0, 1.0],
            [1.0, 1.0],
            [1.0, 1.0],
            [1.0, 1.0],
            [1.0, 0.0],
            [1.0, 0.0],
            [1.0, 0.0],
            [1.0, 0.0]
        ];
        let y = [0, 0, 0, 1, 1, 1, 1, 0];
        let m = LogisticRegression::fit(x.view(), &y, 2, 1e-10).unwrap();
        let p = m.predict_proba(x.view());
        assert!((p[[0, 1]] - 0.25).abs() < 1e-6);
        assert!((p[[4, 1]] - 0.75).abs() < 1e-6);
        assert_eq!(m.predict(x.view())[4], 1);
    }

    #[test]
    fn sigmoid_is_stable() {
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert_eq!(sigmoid(1000.0), 1.0);
        assert!((sigmoid(0.0) - 0.5).abs() < 1e-15);
    }
}

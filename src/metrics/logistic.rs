//! Built-in logistic regression (one-vs-rest for more than two classes), fitted by Newton's
//! method with a small ridge penalty, in f64 with LAPACK solves.

use ndarray::{Array1, Array2, Axis};
use ndarray_linalg::Solve;

use super::ClassScores;
use crate::error::{Error, Result};
use crate::table::{ColumnData, ColumnKind, Table, MISSING};

/// Ridge penalty on the coefficients (not the intercept).
const RIDGE: f64 = 1.0;

/// How a table becomes a design matrix: numeric columns standardised (missing → 0 plus an
/// indicator), categorical columns one-hot (missing is a level). Fitted on one table and
/// applied to every table with its schema.
#[derive(Debug, Clone)]
pub struct FeatureMap {
    target: usize,
    n_classes: usize,
    /// (column, mean, sd, has indicator) per numeric feature.
    numeric: Vec<(usize, f64, f64, bool)>,
    /// (column, number of levels) per categorical feature.
    categorical: Vec<(usize, usize)>,
    width: usize,
}

impl FeatureMap {
    pub fn fit(table: &Table, target: usize) -> Result<FeatureMap> {
        let ColumnKind::Categorical { levels } = &table.schema().columns[target].kind else {
            return Err(Error::invalid(
                "logistic regression needs a categorical target",
            ));
        };
        let mut numeric = Vec::new();
        let mut categorical = Vec::new();
        let mut width = 1; // intercept
        for (j, (spec, col)) in table
            .schema()
            .columns
            .iter()
            .zip(table.columns())
            .enumerate()
        {
            if j == target {
                continue;
            }
            match (col, &spec.kind) {
                (ColumnData::Numeric(v), _) => {
                    let obs: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
                    let n = obs.len().max(1) as f64;
                    let mean = obs.iter().sum::<f64>() / n;
                    let sd = (obs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
                    let ind = obs.len() < v.len();
                    numeric.push((j, mean, if sd > 0.0 { sd } else { 1.0 }, ind));
                    width += 1 + ind as usize;
                }
                (ColumnData::Categorical(_), ColumnKind::Categorical { levels }) => {
                    categorical.push((j, levels.len()));
                    width += levels.len() + 1;
                }
                _ => unreachable!("Table::new checks kinds"),
            }
        }
        Ok(FeatureMap {
            target,
            n_classes: levels.len(),
            numeric,
            categorical,
            width,
        })
    }

    /// The design matrix (with an intercept column) and the class of each row.
    pub fn design(&self, table: &Table) -> (Array2<f64>, Vec<u32>) {
        let n = table.n_rows();
        let mut x = Array2::<f64>::zeros((n, self.width));
        x.column_mut(0).fill(1.0);
        let mut c = 1;
        for &(j, mean, sd, ind) in &self.numeric {
            let ColumnData::Numeric(v) = table.column(j) else {
                unreachable!()
            };
            for i in 0..n {
                if v[i].is_nan() {
                    if ind {
                        x[[i, c + 1]] = 1.0;
                    }
                } else {
                    x[[i, c]] = (v[i] - mean) / sd;
                }
            }
            c += 1 + ind as usize;
        }
        for &(j, k) in &self.categorical {
            let ColumnData::Categorical(v) = table.column(j) else {
                unreachable!()
            };
            for i in 0..n {
                let l = if v[i] == MISSING { k } else { v[i] as usize };
                x[[i, c + l]] = 1.0;
            }
            c += k + 1;
        }
        let ColumnData::Categorical(y) = table.column(self.target) else {
            unreachable!()
        };
        (x, y.clone())
    }
}

/// A fitted logistic regression: one coefficient vector per class (one for two classes).
#[derive(Debug, Clone)]
pub struct LogisticRegression {
    coefs: Vec<Array1<f64>>,
    n_classes: usize,
}

impl LogisticRegression {
    /// Fits on the rows of `table` whose target is present.
    pub fn fit(map: &FeatureMap, table: &Table) -> Result<LogisticRegression> {
        let (x, y) = map.design(table);
        let keep: Vec<usize> = (0..y.len()).filter(|&i| y[i] != MISSING).collect();
        let x = x.select(Axis(0), &keep);
        let y: Vec<u32> = keep.iter().map(|&i| y[i]).collect();
        if y.is_empty() {
            return Err(Error::data(
                "no rows with a target value to train the logistic regression",
            ));
        }
        let k = map.n_classes;
        let fits = if k == 2 {
            vec![1u32]
        } else {
            (0..k as u32).collect()
        };
        let mut coefs = Vec::with_capacity(fits.len());
        for cls in fits {
            let yy: Array1<f64> = y.iter().map(|&c| (c == cls) as u8 as f64).collect();
            coefs.push(newton(&x, &yy)?);
        }
        Ok(LogisticRegression {
            coefs,
            n_classes: k,
        })
    }

    /// Predicted class per row.
    pub fn predict(&self, map: &FeatureMap, table: &Table) -> Vec<u32> {
        let (x, _) = map.design(table);
        if self.n_classes == 2 {
            x.dot(&self.coefs[0])
                .iter()
                .map(|&e| (e > 0.0) as u32)
                .collect()
        } else {
            let scores: Vec<Array1<f64>> = self.coefs.iter().map(|b| x.dot(b)).collect();
            (0..x.nrows())
                .map(|i| {
                    let mut best = 0;
                    for c in 1..scores.len() {
                        if scores[c][i] > scores[best][i] {
                            best = c;
                        }
                    }
                    best as u32
                })
                .collect()
        }
    }

    /// Accuracy and macro-F1 on the rows of `table` whose target is present.
    pub fn score(&self, map: &FeatureMap, table: &Table) -> Result<ClassScores> {
        let pred = self.predict(map, table);
        let ColumnData::Categorical(y) = table.column(map.target) else {
            unreachable!()
        };
        let pairs: Vec<(u32, u32)> = y
            .iter()
            .zip(&pred)
            .filter(|(t, _)| **t != MISSING)
            .map(|(&t, &p)| (t, p))
            .collect();
        if pairs.is_empty() {
            return Err(Error::data("the holdout has no rows with a target value"));
        }
        Ok(class_scores(&pairs, map.n_classes))
    }
}

/// Accuracy and macro-F1 (over the classes that occur as truth or prediction, as scikit-learn).
pub fn class_scores(pairs: &[(u32, u32)], n_classes: usize) -> ClassScores {
    let accuracy = pairs.iter().filter(|(t, p)| t == p).count() as f64 / pairs.len() as f64;
    let mut f1s = Vec::new();
    for c in 0..n_classes as u32 {
        let tp = pairs.iter().filter(|&&(t, p)| t == c && p == c).count() as f64;
        let fp = pairs.iter().filter(|&&(t, p)| t != c && p == c).count() as f64;
        let fn_ = pairs.iter().filter(|&&(t, p)| t == c && p != c).count() as f64;
        if tp + fp + fn_ == 0.0 {
            continue;
        }
        f1s.push(2.0 * tp / (2.0 * tp + fp + fn_));
    }
    ClassScores {
        accuracy,
        macro_f1: f1s.iter().sum::<f64>() / f1s.len().max(1) as f64,
    }
}

fn newton(x: &Array2<f64>, y: &Array1<f64>) -> Result<Array1<f64>> {
    let p = x.ncols();
    let mut beta = Array1::<f64>::zeros(p);
    let mut ridge = Array1::<f64>::from_elem(p, RIDGE);
    ridge[0] = 1e-8;
    for _ in 0..50 {
        let eta = x.dot(&beta);
        let mu = eta.mapv(|e| 1.0 / (1.0 + (-e).exp()));
        let w = mu.mapv(|m| (m * (1.0 - m)).max(1e-10));
        let grad = x.t().dot(&(&mu - y)) + &ridge * &beta;
        let xw = x * &w.mapv(f64::sqrt).insert_axis(Axis(1));
        let mut h = xw.t().dot(&xw);
        for i in 0..p {
            h[[i, i]] += ridge[i];
        }
        let step = h
            .solve_into(grad)
            .map_err(|e| Error::numerical(format!("logistic regression: {e}")))?;
        beta -= &step;
        if step.iter().fold(0.0f64, |m, v| m.max(v.abs())) < 1e-8 {
            break;
        }
    }
    Ok(beta)
}

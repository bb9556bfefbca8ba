//! Utility: a model trained on synthetic rows and tested on real holdout rows (TSTR) against
//! the same model trained on the real rows (TRTR). Logistic regression for a categorical target
//! (accuracy, macro-F1, ROC AUC), least squares for a numeric one (RMSE, R²).

use serde::Serialize;

use super::design::{FeatureMap, FeatureOptions};
use super::linear::LeastSquares;
use super::logistic::LogisticRegression;
use super::scores::{accuracy_macro_f1, class_auc, rmse_r2};
use crate::error::{Error, Result};
use crate::table::{ColumnData, ColumnKind, Table, MISSING};

/// Ridge penalty of the utility logistic regression (standardised features).
const RIDGE: f64 = 1.0;

/// Scores of one model on the holdout; the fields of the other task are null.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Scores {
    pub accuracy: Option<f64>,
    pub macro_f1: Option<f64>,
    /// Binary: the positive class's AUC; more classes: macro one-vs-rest.
    pub roc_auc: Option<f64>,
    pub rmse: Option<f64>,
    pub r2: Option<f64>,
}

impl Scores {
    fn ratio(s: &Scores, r: &Scores) -> Scores {
        let div = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b != 0.0 => Some(a / b),
            _ => None,
        };
        Scores {
            accuracy: div(s.accuracy, r.accuracy),
            macro_f1: div(s.macro_f1, r.macro_f1),
            roc_auc: div(s.roc_auc, r.roc_auc),
            rmse: div(s.rmse, r.rmse),
            r2: div(s.r2, r.r2),
        }
    }
}

/// Train-on-synthetic vs train-on-real, both tested on the holdout.
#[derive(Debug, Clone, Serialize)]
pub struct Utility {
    pub target: String,
    /// "classification" or "regression".
    pub task: &'static str,
    /// "logistic_regression" or "least_squares".
    pub model: &'static str,
    /// Holdout rows with a target value (the ones scored).
    pub holdout_rows: usize,
    /// Trained on real rows (TRTR).
    pub real: Scores,
    /// Trained on synthetic rows (TSTR).
    pub synthetic: Scores,
    /// TSTR / TRTR per score (for RMSE above 1 is worse, for the others below 1).
    pub ratio: Scores,
    /// 100 × (real accuracy − synthetic accuracy); null for regression.
    pub accuracy_gap_points: Option<f64>,
}

/// TSTR vs TRTR for `target`; the three tables have one schema.
pub fn utility(real: &Table, syn: &Table, holdout: &Table, target: &str) -> Result<Utility> {
    let t = real.schema().require(target)?;
    let map = FeatureMap::fit(&[real], Some(t), FeatureOptions::default())?;
    let xh = map.design(holdout);
    match (&real.schema().columns[t].kind, holdout.column(t)) {
        (ColumnKind::Categorical { levels }, ColumnData::Categorical(yh)) => {
            let k = levels.len();
            let keep: Vec<usize> = (0..yh.len()).filter(|&i| yh[i] != MISSING).collect();
            if keep.is_empty() {
                return Err(Error::data(format!(
                    "the holdout has no rows with a value of the target '{target}'"
                )));
            }
            let xh = xh.select(ndarray::Axis(0), &keep);
            let truth: Vec<u32> = keep.iter().map(|&i| yh[i]).collect();
            let score = |train: &Table| -> Result<Scores> {
                let ColumnData::Categorical(y) = train.column(t) else {
                    unreachable!("tables share a schema")
                };
                let m = LogisticRegression::fit(map.design(train).view(), y, k, RIDGE)?;
                let proba = m.predict_proba(xh.view());
                let pred = m.predict(xh.view());
                let pairs: Vec<(u32, u32)> = truth.iter().copied().zip(pred).collect();
                let (acc, f1) = accuracy_macro_f1(&pairs, k);
                Ok(Scores {
                    accuracy: Some(acc),
                    macro_f1: Some(f1),
                    roc_auc: class_auc(proba.view(), &truth),
                    ..Scores::default()
                })
            };
            let r = score(real)?;
            let s = score(syn)?;
            Ok(Utility {
                target: target.to_string(),
                task: "classification",
                model: "logistic_regression",
                holdout_rows: keep.len(),
                ratio: Scores::ratio(&s, &r),
                accuracy_gap_points: Some(
                    100.0 * (r.accuracy.unwrap_or(0.0) - s.accuracy.unwrap_or(0.0)),
                ),
                real: r,
                synthetic: s,
            })
        }
        (ColumnKind::Numeric { .. }, ColumnData::Numeric(yh)) => {
            let keep: Vec<usize> = (0..yh.len()).filter(|&i| !yh[i].is_nan()).collect();
            if keep.is_empty() {
                return Err(Error::data(format!(
                    "the holdout has no rows with a value of the target '{target}'"
                )));
            }
            let xh = xh.select(ndarray::Axis(0), &keep);
            let truth: Vec<f64> = keep.iter().map(|&i| yh[i]).collect();
            let score = |train: &Table| -> Result<Scores> {
                let ColumnData::Numeric(y) = train.column(t) else {
                    unreachable!("tables share a schema")
                };
                let m = LeastSquares::fit(map.design(train).view(), y)?;
                let pred = m.predict(xh.view());
                let (rmse, r2) = rmse_r2(pred.as_slice().expect("contiguous"), &truth);
                Ok(Scores {
                    rmse: Some(rmse),
                    r2: r2.is_finite().then_some(r2),
                    ..Scores::default()
                })
            };
            let r = score(real)?;
            let s = score(syn)?;
            Ok(Utility {
                target: target.to_string(),
                task: "regression",
                model: "least_squares",
                holdout_rows: keep.len(),
                ratio: Scores::ratio(&s, &r),
                accuracy_gap_points: None,
                real: r,
                synthetic: s,
            })
        }
        _ => unreachable!("tables share a schema"),
    }
}

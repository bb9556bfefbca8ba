//! Can a model tell real rows from synthetic ones? The propensity mean squared error (pMSE)
//! and its standardised ratio S_pMSE (Snoke, Raab, Nowok, Dibben & Slavković 2018; synthpop's
//! `utility.gen` with method "logit"), and the detection AUC of a cross-validated classifier.
//!
//! Both use a logistic regression on the main effects of every column plus the squares and
//! pairwise products of the numeric columns. synthpop's default also crosses categorical
//! columns; that grows with the product of level counts, so it is left out here.

use ndarray::{concatenate, Array2, Axis};
use rand_xoshiro::rand_core::Rng;
use serde::Serialize;

use super::design::{FeatureMap, FeatureOptions};
use super::logistic::{fit_binary, sigmoid};
use super::scores::roc_auc;
use crate::error::{Error, Result};
use crate::rng::row_rng;
use crate::table::Table;

/// Ridge penalty of the propensity model (features are standardised; this only keeps
/// Newton's method finite when the tables are separable).
const RIDGE: f64 = 1e-4;

/// The description of the propensity model that the report carries.
pub const MODEL: &str = "logistic regression: main effects and second-order numeric terms";

/// pMSE and S_pMSE.
#[derive(Debug, Clone, Serialize)]
pub struct Pmse {
    /// Mean over all rows of (p̂ − c)², c the synthetic share: 0 when the model cannot tell
    /// the tables apart, c(1 − c) (0.25 for equal sizes) when it separates them perfectly.
    pub pmse: f64,
    /// pMSE divided by (k − 1)(1 − c)²c / N for k parameters: synthpop's S_pMSE, the
    /// null expectation published by Snoke et al. Smaller is better; see `s_pmse_reference`
    /// for the value to compare with.
    pub s_pmse: f64,
    /// What S_pMSE averages when both tables come from one distribution: 1 / (1 − c), 2 for
    /// equal sizes. (The logistic model's pMSE has null mean (k − 1)c(1 − c)/N — the
    /// published expectation is smaller by the factor 1 − c; simulation confirms this — so
    /// synthpop's S_pMSE is about 1/(1 − c), not 1, for a perfect generator.)
    pub s_pmse_reference: f64,
    /// k − 1: the propensity model's coefficients besides the intercept.
    pub parameters: usize,
    pub model: &'static str,
    pub real_rows: usize,
    pub synthetic_rows: usize,
}

/// Detection AUC of a logistic real-vs-synthetic classifier, out of fold.
#[derive(Debug, Clone, Serialize)]
pub struct Detection {
    /// ROC AUC of the out-of-fold synthetic propensities: 0.5 is indistinguishable, 1
    /// perfectly separable.
    pub auc: f64,
    /// SDMetrics' detection score 1 − (2·max(AUC, 0.5) − 1): 1 is best.
    pub score: f64,
    pub folds: usize,
    pub model: &'static str,
    pub real_rows: usize,
    pub synthetic_rows: usize,
}

fn stacked(real: &Table, syn: &Table) -> Result<(Array2<f64>, Vec<f64>)> {
    let map = FeatureMap::fit(
        &[real, syn],
        None,
        FeatureOptions {
            drop_reference: true,
            second_order: true,
            ..FeatureOptions::default()
        },
    )?;
    let x = concatenate(Axis(0), &[map.design(real).view(), map.design(syn).view()])
        .expect("same width");
    let mut t = vec![0.0; real.n_rows()];
    t.resize(real.n_rows() + syn.n_rows(), 1.0);
    Ok((x, t))
}

/// pMSE and S_pMSE of `syn` against `real` (same schema, at least one row each).
pub fn pmse(real: &Table, syn: &Table) -> Result<Pmse> {
    let (x, t) = stacked(real, syn)?;
    let y = ndarray::Array1::from(t);
    let beta = fit_binary(x.view(), &y, RIDGE)?;
    let n = x.nrows() as f64;
    let c = syn.n_rows() as f64 / n;
    let p = x.dot(&beta).mapv(sigmoid);
    let pmse = p.iter().map(|v| (v - c).powi(2)).sum::<f64>() / n;
    let km1 = x.ncols() - 1;
    let expected = km1 as f64 * (1.0 - c).powi(2) * c / n;
    Ok(Pmse {
        pmse,
        s_pmse: if expected > 0.0 {
            pmse / expected
        } else {
            f64::NAN
        },
        s_pmse_reference: 1.0 / (1.0 - c),
        parameters: km1,
        model: MODEL,
        real_rows: real.n_rows(),
        synthetic_rows: syn.n_rows(),
    })
}

/// Detection AUC by `folds`-fold cross-validation (rows shuffled with `seed`).
pub fn detection(real: &Table, syn: &Table, folds: usize, seed: u64) -> Result<Detection> {
    let (x, t) = stacked(real, syn)?;
    let n = x.nrows();
    if folds < 2 || folds > n {
        return Err(Error::invalid(format!(
            "detection needs between 2 and {n} folds (got {folds})"
        )));
    }
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = row_rng(seed, 0xDE7E_C710, 0);
    for i in (1..n).rev() {
        order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    let mut fold_of = vec![0usize; n];
    for (pos, &i) in order.iter().enumerate() {
        fold_of[i] = pos % folds;
    }
    let mut scores = vec![0.0; n];
    for f in 0..folds {
        let train: Vec<usize> = (0..n).filter(|&i| fold_of[i] != f).collect();
        let test: Vec<usize> = (0..n).filter(|&i| fold_of[i] == f).collect();
        let y: ndarray::Array1<f64> = train.iter().map(|&i| t[i]).collect();
        let beta = fit_binary(x.select(Axis(0), &train).view(), &y, RIDGE)?;
        let p = x.select(Axis(0), &test).dot(&beta);
        for (k, &i) in test.iter().enumerate() {
            scores[i] = p[k];
        }
    }
    let labels: Vec<bool> = t.iter().map(|&v| v == 1.0).collect();
    let auc = roc_auc(&scores, &labels).unwrap_or(0.5);
    Ok(Detection {
        auc,
        score: 1.0 - (2.0 * auc.max(0.5) - 1.0),
        folds,
        model: MODEL,
        real_rows: real.n_rows(),
        synthetic_rows: syn.n_rows(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{ColumnData, ColumnKind, ColumnSpec, Schema};

    fn cat(codes: Vec<u32>) -> Table {
        Table::new(
            Schema {
                columns: vec![ColumnSpec {
                    name: "g".into(),
                    kind: ColumnKind::Categorical {
                        levels: vec!["a".into(), "b".into()],
                    },
                }],
            },
            vec![ColumnData::Categorical(codes)],
        )
        .unwrap()
    }

    #[test]
    fn pmse_hand_value() {
        // Real a,a,a,b; synthetic a,b,b,b: the saturated model's propensities are 1/4 (level
        // a) and 3/4 (level b), c = 1/2, so pMSE = 1/16; one parameter, N = 8:
        // expected (1)(1/2)²(1/2)/8 = 1/64, S_pMSE = 4.
        let p = pmse(&cat(vec![0, 0, 0, 1]), &cat(vec![0, 1, 1, 1])).unwrap();
        assert_eq!(p.parameters, 1);
        assert!((p.pmse - 0.0625).abs() < 1e-4, "{}", p.pmse);
        assert!((p.s_pmse - 4.0).abs() < 1e-2, "{}", p.s_pmse);
    }

    #[test]
    fn identical_tables_have_zero_pmse() {
        let t = cat(vec![0, 1, 1, 0, 1]);
        let p = pmse(&t, &t).unwrap();
        assert!(p.pmse < 1e-12);
        assert!(detection(&t, &t, 1, 0).is_err());
    }
}

//! Evaluation of synthetic rows against real ones: per-column fidelity (1 − KS statistic for
//! numeric columns, 1 − total-variation distance for categorical ones), correlation
//! similarity, and utility (a model trained on synthetic vs on real rows, tested on a
//! holdout of real rows).

mod logistic;

pub use logistic::{FeatureMap, LogisticRegression};

use serde::Serialize;

use crate::backend::run_parallel;
use crate::error::{Error, Result};
use crate::table::{ColumnData, ColumnKind, Table, MISSING};

/// One column's fidelity score (1 is a perfect match of the marginal distribution).
#[derive(Debug, Clone, Serialize)]
pub struct ColumnScore {
    pub column: String,
    /// "1-KS" (numeric) or "1-TV" (categorical; missing counts as a level).
    pub metric: &'static str,
    pub score: f64,
}

/// Fidelity of the synthetic table.
#[derive(Debug, Clone, Serialize)]
pub struct Fidelity {
    pub columns: Vec<ColumnScore>,
    /// Mean of the column scores.
    pub mean_column_score: f64,
    /// Mean over numeric column pairs of 1 − |ρ_real − ρ_synthetic| / 2 (Pearson); null
    /// with fewer than two numeric columns.
    pub correlation_similarity: Option<f64>,
}

/// Scores of a classifier on the holdout.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ClassScores {
    pub accuracy: f64,
    pub macro_f1: f64,
}

/// Train-on-synthetic vs train-on-real, both tested on the holdout.
#[derive(Debug, Clone, Serialize)]
pub struct Utility {
    pub target: String,
    pub model: &'static str,
    pub holdout_rows: usize,
    /// Trained on real rows, tested on the holdout (TRTR).
    pub real: ClassScores,
    /// Trained on synthetic rows, tested on the holdout (TSTR).
    pub synthetic: ClassScores,
    /// real.accuracy − synthetic.accuracy, in accuracy points (×100).
    pub accuracy_gap_points: f64,
}

/// The evaluation report (its keys are stable; see the README).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub real_rows: usize,
    pub synthetic_rows: usize,
    pub fidelity: Fidelity,
    pub utility: Option<Utility>,
}

/// Evaluates `synthetic` against `real`; with a target and a holdout, also utility.
///
/// Runs on the library's own threads (see [`crate::backend::run_parallel`]).
pub fn evaluate(
    real: &Table,
    synthetic: &Table,
    holdout: Option<&Table>,
    target: Option<&str>,
) -> Result<Report> {
    run_parallel::<(), _>(0, &mut |_| true, |_| {
        evaluate_here(real, synthetic, holdout, target)
    })?
}

fn evaluate_here(
    real: &Table,
    synthetic: &Table,
    holdout: Option<&Table>,
    target: Option<&str>,
) -> Result<Report> {
    if real.n_rows() == 0 || synthetic.n_rows() == 0 {
        return Err(Error::data(
            "both the real and the synthetic table need at least one row",
        ));
    }
    let syn = synthetic
        .conform_to(real.schema())
        .map_err(|e| Error::data(format!("synthetic table: {}", e.message)))?;
    let fidelity = fidelity(real, &syn);
    let utility = match (target, holdout) {
        (Some(t), Some(h)) => {
            let h = h
                .conform_to(real.schema())
                .map_err(|e| Error::data(format!("holdout table: {}", e.message)))?;
            Some(utility(real, &syn, &h, t)?)
        }
        (Some(_), None) => {
            return Err(Error::invalid(
                "utility needs a holdout table of real rows (--holdout) besides the target",
            ))
        }
        (None, Some(_)) => {
            return Err(Error::invalid(
                "utility needs a target column (--target) besides the holdout",
            ))
        }
        (None, None) => None,
    };
    Ok(Report {
        real_rows: real.n_rows(),
        synthetic_rows: syn.n_rows(),
        fidelity,
        utility,
    })
}

/// Per-column and correlation fidelity; `syn` must have `real`'s schema.
pub fn fidelity(real: &Table, syn: &Table) -> Fidelity {
    let mut columns = Vec::new();
    for (j, spec) in real.schema().columns.iter().enumerate() {
        let (metric, score) = match (real.column(j), syn.column(j), &spec.kind) {
            (ColumnData::Numeric(a), ColumnData::Numeric(b), _) => {
                ("1-KS", 1.0 - ks_statistic(a, b))
            }
            (
                ColumnData::Categorical(a),
                ColumnData::Categorical(b),
                ColumnKind::Categorical { levels },
            ) => ("1-TV", 1.0 - tv_distance(a, b, levels.len())),
            _ => unreachable!("tables share a schema"),
        };
        columns.push(ColumnScore {
            column: spec.name.clone(),
            metric,
            score,
        });
    }
    let mean_column_score =
        columns.iter().map(|c| c.score).sum::<f64>() / columns.len().max(1) as f64;
    let num: Vec<usize> = (0..real.n_cols())
        .filter(|&j| matches!(real.column(j), ColumnData::Numeric(_)))
        .collect();
    let mut sims = Vec::new();
    for (a, &i) in num.iter().enumerate() {
        for &j in &num[a + 1..] {
            let (ColumnData::Numeric(ri), ColumnData::Numeric(rj)) =
                (real.column(i), real.column(j))
            else {
                continue;
            };
            let (ColumnData::Numeric(si), ColumnData::Numeric(sj)) = (syn.column(i), syn.column(j))
            else {
                continue;
            };
            let Some(r) = pearson(ri, rj) else { continue };
            // A synthetic column with no spread has no correlation: count it as 0.
            let s = pearson(si, sj).unwrap_or(0.0);
            sims.push(1.0 - (r - s).abs() / 2.0);
        }
    }
    let correlation_similarity =
        (!sims.is_empty()).then(|| sims.iter().sum::<f64>() / sims.len() as f64);
    Fidelity {
        columns,
        mean_column_score,
        correlation_similarity,
    }
}

/// Two-sample Kolmogorov–Smirnov statistic on the non-missing values.
pub fn ks_statistic(a: &[f64], b: &[f64]) -> f64 {
    let mut x: Vec<f64> = a.iter().copied().filter(|v| !v.is_nan()).collect();
    let mut y: Vec<f64> = b.iter().copied().filter(|v| !v.is_nan()).collect();
    match (x.is_empty(), y.is_empty()) {
        (true, true) => return 0.0,
        (true, false) | (false, true) => return 1.0,
        _ => {}
    }
    x.sort_by(f64::total_cmp);
    y.sort_by(f64::total_cmp);
    let (n, m) = (x.len() as f64, y.len() as f64);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    while i < x.len() && j < y.len() {
        let v = x[i].min(y[j]);
        while i < x.len() && x[i] <= v {
            i += 1;
        }
        while j < y.len() && y[j] <= v {
            j += 1;
        }
        d = d.max((i as f64 / n - j as f64 / m).abs());
    }
    d
}

/// Total-variation distance between the level frequencies (missing is a level).
pub fn tv_distance(a: &[u32], b: &[u32], n_levels: usize) -> f64 {
    let freq = |v: &[u32]| {
        let mut f = vec![0.0; n_levels + 1];
        for &c in v {
            f[if c == MISSING { n_levels } else { c as usize }] += 1.0;
        }
        let n = v.len().max(1) as f64;
        f.iter_mut().for_each(|x| *x /= n);
        f
    };
    let (p, q) = (freq(a), freq(b));
    0.5 * p.iter().zip(&q).map(|(x, y)| (x - y).abs()).sum::<f64>()
}

/// Pearson correlation over rows where both are present; None without spread.
pub fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let pairs: Vec<(f64, f64)> = a
        .iter()
        .zip(b)
        .filter(|(x, y)| !x.is_nan() && !y.is_nan())
        .map(|(&x, &y)| (x, y))
        .collect();
    let n = pairs.len() as f64;
    if pairs.len() < 2 {
        return None;
    }
    let (mx, my) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in pairs {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

fn utility(real: &Table, syn: &Table, holdout: &Table, target: &str) -> Result<Utility> {
    let t = real.schema().require(target)?;
    if !matches!(
        real.schema().columns[t].kind,
        ColumnKind::Categorical { .. }
    ) {
        return Err(Error::invalid(format!(
            "target '{target}' is numeric; utility is measured with logistic regression for now, so the target must be categorical (declare it with --categorical {target} if its values are class codes)"
        )));
    }
    let map = FeatureMap::fit(real, t)?;
    let score = |train: &Table| -> Result<ClassScores> {
        let model = LogisticRegression::fit(&map, train)?;
        model.score(&map, holdout)
    };
    let r = score(real)?;
    let s = score(syn)?;
    Ok(Utility {
        target: target.to_string(),
        model: "logistic_regression",
        holdout_rows: holdout.n_rows(),
        real: r,
        synthetic: s,
        accuracy_gap_points: 100.0 * (r.accuracy - s.accuracy),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ks_matches_hand_computation() {
        // F_a jumps at 1, 2, 3 and F_b at 2, 4: the largest gap is at x = 3, 1 − 1/2.
        assert!((ks_statistic(&[1.0, 2.0, 3.0], &[2.0, 4.0]) - 0.5).abs() < 1e-12);
        assert_eq!(ks_statistic(&[1.0, 2.0], &[1.0, 2.0]), 0.0);
        assert_eq!(ks_statistic(&[1.0, 2.0], &[3.0, 4.0]), 1.0);
        assert!((ks_statistic(&[1.0, f64::NAN], &[1.0]) - 0.0).abs() < 1e-12);
    }

    #[test]
    fn tv_counts_missing_as_a_level() {
        assert!((tv_distance(&[0, 1, MISSING, 1], &[0, 0, 1, 1], 2) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn pearson_of_a_line_is_one() {
        assert!(
            (pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.5]).unwrap() - 0.9979487157886733).abs()
                < 1e-12
        );
        assert_eq!(pearson(&[1.0, 1.0], &[2.0, 3.0]), None);
    }
}

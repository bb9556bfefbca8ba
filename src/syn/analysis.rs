//! Downstream analyses that the Syn workflow tunes the synthetic volume for: trained on rows,
//! scored on validation rows, lower is better. The built-in ones are, by [`AnalysisKind`],
//! logistic regression or least squares, and gradient boosting (the paper's SynBoost), scored
//! by the misclassification rate for a categorical target and by RMSE for a numeric one; any
//! other plugs in as a closure (or, through the C ABI, a callback).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::metrics::{
    Boosting, BoostingParams, FeatureMap, FeatureOptions, LeastSquares, LogisticRegression,
};
use crate::table::{ColumnData, ColumnKind, Table, MISSING};

/// Which built-in analysis to run. As JSON and on the command line: "linear" or "boosting".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum AnalysisKind {
    /// Logistic regression (ridge 1 on standardised features) for a categorical target, least
    /// squares for a numeric one.
    #[default]
    Linear,
    /// Gradient-boosted trees ([`BoostingParams::default`]: 300 trees of depth 4).
    Boosting,
}

impl AnalysisKind {
    /// The name used in options, reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            AnalysisKind::Linear => "linear",
            AnalysisKind::Boosting => "boosting",
        }
    }

    /// Parses "linear" or "boosting" (the command line's words).
    pub fn parse(s: &str) -> Result<AnalysisKind> {
        match s {
            "linear" => Ok(AnalysisKind::Linear),
            "boosting" => Ok(AnalysisKind::Boosting),
            _ => Err(Error::invalid(format!(
                "unknown analysis '{s}': use 'linear' (logistic regression or least squares) or 'boosting' (gradient-boosted trees)"
            ))),
        }
    }

    /// What the analysis is, for a target of this kind ("logistic regression", …).
    pub fn describe(self, categorical: bool) -> &'static str {
        match (self, categorical) {
            (AnalysisKind::Linear, true) => "logistic regression",
            (AnalysisKind::Linear, false) => "least squares",
            (AnalysisKind::Boosting, _) => "gradient boosting",
        }
    }
}

impl TryFrom<String> for AnalysisKind {
    type Error = String;
    /// The same words, and the same message for others, as [`AnalysisKind::parse`].
    fn try_from(s: String) -> std::result::Result<Self, String> {
        AnalysisKind::parse(&s).map_err(|e| e.message)
    }
}

/// The misclassification rate of `pred` against the present values of `truth`.
fn misclassification(truth: &[u32], pred: &[u32]) -> Result<f64> {
    let scored: Vec<(u32, u32)> = truth
        .iter()
        .zip(pred)
        .filter(|(t, _)| **t != MISSING)
        .map(|(&t, &p)| (t, p))
        .collect();
    if scored.is_empty() {
        return Err(Error::data("the validation rows have no target values"));
    }
    Ok(scored.iter().filter(|(t, p)| t != p).count() as f64 / scored.len() as f64)
}

/// The RMSE of `pred` against the present values of `truth`.
fn rmse(truth: &[f64], pred: &[f64]) -> Result<f64> {
    let (mut sse, mut n) = (0.0, 0usize);
    for (p, &y) in pred.iter().zip(truth) {
        if !y.is_nan() {
            sse += (p - y).powi(2);
            n += 1;
        }
    }
    if n == 0 {
        return Err(Error::data("the validation rows have no target values"));
    }
    Ok((sse / n as f64).sqrt())
}

/// The built-in analysis of this kind for `target` (by its kind in `schema_of`) and the name
/// of its error.
pub fn builtin_kind(
    schema_of: &Table,
    target: &str,
    kind: AnalysisKind,
) -> Result<(Box<Analysis<'static>>, &'static str)> {
    if kind == AnalysisKind::Linear {
        return builtin(schema_of, target);
    }
    let t = schema_of.schema().require(target)?;
    let params = BoostingParams::default();
    match &schema_of.schema().columns[t].kind {
        ColumnKind::Categorical { levels } => {
            let k = levels.len();
            let f = move |train: &Table, valid: &Table| -> Result<f64> {
                let map = FeatureMap::fit(&[train], Some(t), FeatureOptions::default())?;
                let (ColumnData::Categorical(y), ColumnData::Categorical(truth)) =
                    (train.column(t), valid.column(t))
                else {
                    unreachable!("checked kind")
                };
                let m = Boosting::fit_classes(map.design(train).view(), y, k, &params)?;
                misclassification(truth, &m.predict_classes(map.design(valid).view()))
            };
            Ok((Box::new(f), "misclassification rate"))
        }
        ColumnKind::Numeric { .. } => {
            let f = move |train: &Table, valid: &Table| -> Result<f64> {
                let map = FeatureMap::fit(&[train], Some(t), FeatureOptions::default())?;
                let (ColumnData::Numeric(y), ColumnData::Numeric(truth)) =
                    (train.column(t), valid.column(t))
                else {
                    unreachable!("checked kind")
                };
                let m = Boosting::fit_numeric(map.design(train).view(), y, &params)?;
                rmse(truth, &m.predict_values(map.design(valid).view()))
            };
            Ok((Box::new(f), "RMSE"))
        }
    }
}

/// An analysis: `(train, valid) → error`, lower is better.
pub type Analysis<'a> = dyn FnMut(&Table, &Table) -> Result<f64> + 'a;

/// Ridge penalty of the built-in logistic regression (standardised features), as in the
/// evaluation's utility.
const RIDGE: f64 = 1.0;

/// The built-in analysis for `target` (by its kind in `schema_of`) and the name of its error.
pub fn builtin(schema_of: &Table, target: &str) -> Result<(Box<Analysis<'static>>, &'static str)> {
    let t = schema_of.schema().require(target)?;
    match &schema_of.schema().columns[t].kind {
        ColumnKind::Categorical { levels } => {
            let k = levels.len();
            let f = move |train: &Table, valid: &Table| -> Result<f64> {
                let map = FeatureMap::fit(&[train], Some(t), FeatureOptions::default())?;
                let ColumnData::Categorical(y) = train.column(t) else {
                    unreachable!("checked kind")
                };
                let m = LogisticRegression::fit(map.design(train).view(), y, k, RIDGE)?;
                let ColumnData::Categorical(truth) = valid.column(t) else {
                    unreachable!("same schema")
                };
                misclassification(truth, &m.predict(map.design(valid).view()))
            };
            Ok((Box::new(f), "misclassification rate"))
        }
        ColumnKind::Numeric { .. } => {
            let f = move |train: &Table, valid: &Table| -> Result<f64> {
                let map = FeatureMap::fit(&[train], Some(t), FeatureOptions::default())?;
                let ColumnData::Numeric(y) = train.column(t) else {
                    unreachable!("checked kind")
                };
                let m = LeastSquares::fit(map.design(train).view(), y)?;
                let ColumnData::Numeric(truth) = valid.column(t) else {
                    unreachable!("same schema")
                };
                rmse(truth, &m.predict(map.design(valid).view()).to_vec())
            };
            Ok((Box::new(f), "RMSE"))
        }
    }
}

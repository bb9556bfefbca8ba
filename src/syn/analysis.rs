//! Downstream analyses that the Syn workflow tunes the synthetic volume for: trained on rows,
//! scored on validation rows, lower is better. The built-in ones are logistic regression
//! (misclassification rate) for a categorical target and least squares (RMSE) for a numeric
//! one; any other plugs in as a closure (or, through the C ABI, a callback).

use crate::error::{Error, Result};
use crate::metrics::{FeatureMap, FeatureOptions, LeastSquares, LogisticRegression};
use crate::table::{ColumnData, ColumnKind, Table, MISSING};

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
                let pred = m.predict(map.design(valid).view());
                let scored: Vec<(u32, u32)> = truth
                    .iter()
                    .zip(pred)
                    .filter(|(t, _)| **t != MISSING)
                    .map(|(&t, p)| (t, p))
                    .collect();
                if scored.is_empty() {
                    return Err(Error::data("the validation rows have no target values"));
                }
                Ok(scored.iter().filter(|(t, p)| t != p).count() as f64 / scored.len() as f64)
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
                let pred = m.predict(map.design(valid).view());
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
            };
            Ok((Box::new(f), "RMSE"))
        }
    }
}

//! Honest inference from synthetic rows. Rows generated from n real rows carry no more
//! information than those n rows; standard errors computed as if m synthetic rows were real are
//! about √(m/n) too small. This fits least squares (numeric target) or logistic regression
//! (two-class target) on M syntheses of k rows each and reports, beside the naive standard
//! errors, synthpop's population-inference ones: T = v̄·(k/n + 1/M) (Raab, Nowok & Dibben
//! 2016), v̄ the mean over syntheses of the naive variance.

use ndarray::{Array1, Array2, Axis};
use ndarray_linalg::Inverse;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::metrics::logistic::{fit_binary, sigmoid};
use crate::metrics::{FeatureMap, FeatureOptions, LeastSquares};
use crate::table::{ColumnData, ColumnKind, Table, MISSING};

/// One coefficient with both standard errors.
#[derive(Debug, Clone, Serialize)]
pub struct Coefficient {
    pub term: String,
    /// Mean of the estimates over the syntheses.
    pub estimate: f64,
    /// As if all M·k synthetic rows were real: √(v̄ / M).
    pub se_naive: f64,
    /// Population inference: √(v̄ (k/n + 1/M)).
    pub se_corrected: f64,
}

/// The fit and its two kinds of standard error.
#[derive(Debug, Clone, Serialize)]
pub struct Inference {
    /// "least_squares" or "logistic_regression".
    pub model: &'static str,
    pub target: String,
    /// For a logistic regression, the class whose log-odds are modelled.
    pub positive_class: Option<String>,
    /// Real rows n the generator learned from.
    pub real_rows: usize,
    /// Rows per synthesis k.
    pub rows_per_synthesis: usize,
    /// Syntheses M.
    pub syntheses: usize,
    /// se_corrected / se_naive = √(M·k/n + 1).
    pub inflation: f64,
    pub coefficients: Vec<Coefficient>,
    /// Set when the synthetic rows far outnumber the real ones.
    pub warning: Option<String>,
}

/// Estimates and naive variances of one fit.
fn fit_one(
    table: &Table,
    what: &str,
    map: &FeatureMap,
    t: usize,
) -> Result<(Array1<f64>, Array1<f64>)> {
    let x = map.design(table);
    // A level of the union that this synthesis never drew leaves its coefficient without data.
    if let Some(j) = (1..x.ncols()).find(|&j| x.column(j).iter().all(|&v| v == 0.0)) {
        return Err(Error::data(format!(
            "{what}: term '{}' has no rows, so its coefficient cannot be estimated in this synthesis (the others hold it); draw larger syntheses, or merge the rare level into another",
            map.names()[j]
        )));
    }
    match table.column(t) {
        ColumnData::Numeric(y) => {
            let keep: Vec<usize> = (0..y.len()).filter(|&i| !y[i].is_nan()).collect();
            let x = x.select(Axis(0), &keep);
            let y: Vec<f64> = keep.iter().map(|&i| y[i]).collect();
            let (n, p) = (x.nrows(), x.ncols());
            if n <= p {
                return Err(Error::data(format!(
                    "{n} rows with a target value for {p} coefficients: too few"
                )));
            }
            let fit = LeastSquares::fit(x.view(), &y)?;
            let resid = &fit.predict(x.view()) - &Array1::from(y);
            let s2 = resid.dot(&resid) / (n - p) as f64;
            let cov = invert(&x.t().dot(&x), map)?;
            Ok((fit.coefs, cov.diag().mapv(|v| v * s2)))
        }
        ColumnData::Categorical(y) => {
            let keep: Vec<usize> = (0..y.len()).filter(|&i| y[i] != MISSING).collect();
            let x = x.select(Axis(0), &keep);
            let yy: Array1<f64> = keep.iter().map(|&i| (y[i] == 1) as u8 as f64).collect();
            let beta = fit_binary(x.view(), &yy, 1e-8)?;
            let w = x.dot(&beta).mapv(|e| {
                let m = sigmoid(e);
                (m * (1.0 - m)).max(1e-12)
            });
            let xw = &x * &w.mapv(f64::sqrt).insert_axis(Axis(1));
            let cov = invert(&xw.t().dot(&xw), map)?;
            Ok((beta, cov.diag().to_owned()))
        }
    }
}

fn invert(m: &Array2<f64>, map: &FeatureMap) -> Result<Array2<f64>> {
    let inv = m.inv().map_err(|_| {
        Error::numerical(format!(
            "the design is singular (collinear terms among: {}); drop a column",
            map.names().join(", ")
        ))
    })?;
    if inv.diag().iter().any(|v| !v.is_finite() || *v < 0.0) {
        return Err(Error::numerical(
            "the design is numerically singular (collinear or constant terms)",
        ));
    }
    Ok(inv)
}

/// Fits the analysis on each synthesis and combines them. The syntheses have the same
/// columns; their categorical levels are matched by label over the union of their level sets
/// (two syntheses of one model need not hold the same levels).
pub fn infer(syntheses: &[Table], target: &str, real_rows: usize) -> Result<Inference> {
    let names: Vec<String> = (1..=syntheses.len())
        .map(|i| format!("synthesis {i}"))
        .collect();
    let named: Vec<(&Table, &str)> = syntheses
        .iter()
        .zip(&names)
        .map(|(t, n)| (t, n.as_str()))
        .collect();
    infer_named(&named, target, real_rows)
}

/// [`infer`] with a name per synthesis for messages (the CLI gives the file names).
pub fn infer_named(
    syntheses: &[(&Table, &str)],
    target: &str,
    real_rows: usize,
) -> Result<Inference> {
    let (first, _) = *syntheses
        .first()
        .ok_or_else(|| Error::invalid("at least one synthetic table is needed"))?;
    if real_rows == 0 {
        return Err(Error::invalid(
            "the number of real rows the generator learned from must be at least 1",
        ));
    }
    let (schema, _) = crate::metrics::union_schema(first, &syntheses[1..])?;
    let t = schema.require(target)?;
    let (model, positive) = match &schema.columns[t].kind {
        ColumnKind::Numeric { .. } => ("least_squares", None),
        ColumnKind::Categorical { levels } if levels.len() == 2 => {
            ("logistic_regression", Some(levels[1].clone()))
        }
        ColumnKind::Categorical { levels } => {
            return Err(Error::invalid(format!(
            "target '{target}' has {} levels; inference supports a numeric or a two-class target",
            levels.len()
        )))
        }
    };
    let tables: Vec<Table> = syntheses
        .iter()
        .map(|(s, what)| crate::metrics::conform(s, &schema, what))
        .collect::<Result<_>>()?;
    let k = tables[0].n_rows();
    if tables.iter().any(|s| s.n_rows() != k) {
        return Err(Error::invalid(
            "every synthesis must have the same number of rows k",
        ));
    }
    // One design for all syntheses, in the columns' own units, a reference level left out.
    let refs: Vec<&Table> = tables.iter().collect();
    let map = FeatureMap::fit(
        &refs,
        Some(t),
        FeatureOptions {
            drop_reference: true,
            unscaled: true,
            ..FeatureOptions::default()
        },
    )?;
    let fits: Vec<(Array1<f64>, Array1<f64>)> = tables
        .iter()
        .zip(syntheses)
        .map(|(s, (_, what))| fit_one(s, what, &map, t))
        .collect::<Result<_>>()?;
    let mm = fits.len() as f64;
    let p = map.width();
    let mut coefficients = Vec::with_capacity(p);
    let factor = k as f64 / real_rows as f64 + 1.0 / mm;
    for j in 0..p {
        let est = fits.iter().map(|f| f.0[j]).sum::<f64>() / mm;
        let vbar = fits.iter().map(|f| f.1[j]).sum::<f64>() / mm;
        coefficients.push(Coefficient {
            term: map.names()[j].clone(),
            estimate: est,
            se_naive: (vbar / mm).sqrt(),
            se_corrected: (vbar * factor).sqrt(),
        });
    }
    let total = k * fits.len();
    let warning = (total > 2 * real_rows).then(|| {
        format!(
            "{total} synthetic rows generated from {real_rows} real rows: standard errors computed as if they were real are {:.1}x too small; use se_corrected",
            (factor * mm).sqrt()
        )
    });
    Ok(Inference {
        model,
        target: target.to_string(),
        positive_class: positive,
        real_rows,
        rows_per_synthesis: k,
        syntheses: fits.len(),
        inflation: (factor * mm).sqrt(),
        coefficients,
        warning,
    })
}

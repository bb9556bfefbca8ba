//! The encoding that distance-based metrics (Fréchet, Wasserstein, distances to closest
//! records) work in, fitted on the real table and applied to every table: numeric columns
//! scaled to [0, 1] over the real range, categorical columns one-hot, so that a numeric column
//! spans at most 1 and a categorical mismatch costs √2.

use ndarray::Array2;

use crate::error::Result;
use crate::table::{ColumnData, ColumnKind, Table, MISSING};

/// Fitted on the real table; see the module documentation.
#[derive(Debug, Clone)]
pub struct DistanceEncoder {
    /// (column, min, range, mean of the scaled values, has indicator) per numeric column.
    numeric: Vec<(usize, f64, f64, f64, bool)>,
    /// (column, number of levels, has a missing level) per categorical column.
    categorical: Vec<(usize, usize, bool)>,
    width: usize,
}

impl DistanceEncoder {
    /// Fits on the real table. A missing numeric value becomes the real mean plus a 1 in an
    /// indicator column (when the real column has missing values); a missing level is a level.
    /// A numeric column with values beyond `MAX_MAGNITUDE` (1e150) is an error that
    /// names it.
    pub fn fit(real: &Table) -> Result<DistanceEncoder> {
        let mut numeric = Vec::new();
        let mut categorical = Vec::new();
        let mut width = 0;
        for (j, spec) in real.schema().columns.iter().enumerate() {
            match (real.column(j), &spec.kind) {
                (ColumnData::Numeric(v), _) => {
                    super::design::check_magnitude(&spec.name, v.iter().copied())?;
                    let obs: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
                    let lo = obs.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = obs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let (lo, range) = if lo.is_finite() && hi > lo {
                        (lo, hi - lo)
                    } else if lo.is_finite() {
                        (lo, 1.0)
                    } else {
                        (0.0, 1.0)
                    };
                    let mean =
                        obs.iter().map(|x| (x - lo) / range).sum::<f64>() / obs.len().max(1) as f64;
                    let ind = obs.len() < v.len();
                    numeric.push((j, lo, range, mean, ind));
                    width += 1 + ind as usize;
                }
                (ColumnData::Categorical(v), ColumnKind::Categorical { levels }) => {
                    let miss = v.contains(&MISSING);
                    categorical.push((j, levels.len(), miss));
                    width += levels.len() + miss as usize;
                }
                _ => unreachable!("Table::new checks kinds"),
            }
        }
        Ok(DistanceEncoder {
            numeric,
            categorical,
            width,
        })
    }

    /// Encoded width.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Encodes the given rows (all rows with None) of a table with the fitted schema.
    pub fn encode(&self, table: &Table, rows: Option<&[usize]>) -> Array2<f64> {
        let all: Vec<usize>;
        let rows = match rows {
            Some(r) => r,
            None => {
                all = (0..table.n_rows()).collect();
                &all
            }
        };
        let mut x = Array2::<f64>::zeros((rows.len(), self.width));
        let mut c = 0;
        for &(j, lo, range, mean, ind) in &self.numeric {
            let ColumnData::Numeric(v) = table.column(j) else {
                unreachable!("tables share a schema")
            };
            for (i, &r) in rows.iter().enumerate() {
                if v[r].is_nan() {
                    x[[i, c]] = mean;
                    if ind {
                        x[[i, c + 1]] = 1.0;
                    }
                } else {
                    x[[i, c]] = (v[r] - lo) / range;
                }
            }
            c += 1 + ind as usize;
        }
        for &(j, k, miss) in &self.categorical {
            let ColumnData::Categorical(v) = table.column(j) else {
                unreachable!("tables share a schema")
            };
            for (i, &r) in rows.iter().enumerate() {
                if v[r] == MISSING {
                    // A missing level the real table never had: no column is hot.
                    if miss {
                        x[[i, c + k]] = 1.0;
                    }
                } else {
                    x[[i, c + v[r] as usize]] = 1.0;
                }
            }
            c += k + miss as usize;
        }
        x
    }
}

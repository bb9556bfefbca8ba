//! Design matrices for the built-in models: how a table becomes numbers a regression can use.
//! Fitted on one or more tables (their pooled statistics) and applied to any table with the
//! same schema.

use ndarray::Array2;

use crate::error::{Error, Result};
use crate::table::{ColumnData, ColumnKind, Table, MISSING};

/// The largest magnitude a numeric value may have in a design: squares and sums of squares of
/// standardised or raw values must stay finite in double precision.
pub const MAX_MAGNITUDE: f64 = 1e150;

/// Refuses a numeric column whose values the regressions cannot hold in double precision,
/// naming it (a silent overflow would give zero or NaN estimates).
pub(crate) fn check_magnitude(name: &str, values: impl Iterator<Item = f64>) -> Result<()> {
    let big = values
        .filter(|x| !x.is_nan())
        .fold(0.0f64, |m, x| m.max(x.abs()));
    if big > MAX_MAGNITUDE {
        return Err(Error::data(format!(
            "column '{name}' holds values as large as {big:e} in magnitude, beyond the {MAX_MAGNITUDE:e} that the statistics can square and sum in double precision; rescale the column (for example to thousands or millions of its units)"
        )));
    }
    Ok(())
}

/// Choices that differ between the models that use a [`FeatureMap`].
#[derive(Debug, Clone, Copy, Default)]
pub struct FeatureOptions {
    /// Leave out one level per categorical column (the most frequent), so the columns are
    /// not collinear with the intercept and the parameter count is the model's degrees of
    /// freedom (pMSE's null expectation needs it).
    pub drop_reference: bool,
    /// Add the squares and pairwise products of the standardised numeric columns.
    pub second_order: bool,
    /// Keep numeric columns in their own units (coefficients per unit, as a statistician
    /// reports them) instead of standardising them.
    pub unscaled: bool,
}

/// A table → design matrix map: an intercept, numeric columns standardised (missing → 0 plus
/// an indicator column when the fitted tables have missing values there), categorical columns
/// one-hot (missing is a level), optionally second-order numeric terms.
#[derive(Debug, Clone)]
pub struct FeatureMap {
    /// (column, mean, sd, has indicator) per numeric feature.
    numeric: Vec<(usize, f64, f64, bool)>,
    /// (column, one-hot slot per code (missing last), number of slots) per categorical column.
    categorical: Vec<(usize, Vec<Option<usize>>, usize)>,
    second_order: bool,
    width: usize,
    /// A name per design column.
    names: Vec<String>,
}

impl FeatureMap {
    /// Fits on the pooled rows of `tables` (which share a schema), leaving out `exclude`
    /// (the target of a model).
    /// A numeric column with values beyond `MAX_MAGNITUDE` (1e150) is an error that names it.
    pub fn fit(
        tables: &[&Table],
        exclude: Option<usize>,
        opts: FeatureOptions,
    ) -> Result<FeatureMap> {
        let schema = tables[0].schema();
        let mut numeric = Vec::new();
        let mut categorical = Vec::new();
        let mut width = 1; // intercept
        let mut names = vec!["(intercept)".to_string()];
        for (j, spec) in schema.columns.iter().enumerate() {
            if Some(j) == exclude {
                continue;
            }
            match &spec.kind {
                ColumnKind::Numeric { .. } => {
                    for t in tables {
                        if let ColumnData::Numeric(v) = t.column(j) {
                            check_magnitude(&spec.name, v.iter().copied())?;
                        }
                    }
                    let (mut n, mut sum, mut missing) = (0usize, 0.0, false);
                    for t in tables {
                        let ColumnData::Numeric(v) = t.column(j) else {
                            unreachable!("tables share a schema")
                        };
                        for &x in v {
                            if x.is_nan() {
                                missing = true;
                            } else {
                                n += 1;
                                sum += x;
                            }
                        }
                    }
                    let mean = if n > 0 { sum / n as f64 } else { 0.0 };
                    let mut ss = 0.0;
                    for t in tables {
                        let ColumnData::Numeric(v) = t.column(j) else {
                            unreachable!()
                        };
                        ss += v
                            .iter()
                            .filter(|x| !x.is_nan())
                            .map(|x| (x - mean).powi(2))
                            .sum::<f64>();
                    }
                    let sd = (ss / n.max(1) as f64).sqrt();
                    let (mean, sd) = if opts.unscaled {
                        (0.0, 1.0)
                    } else {
                        (mean, if sd > 0.0 { sd } else { 1.0 })
                    };
                    numeric.push((j, mean, sd, missing));
                    width += 1 + missing as usize;
                    names.push(spec.name.clone());
                    if missing {
                        names.push(format!("{} (missing)", spec.name));
                    }
                }
                ColumnKind::Categorical { levels } => {
                    let k = levels.len();
                    let mut counts = vec![0usize; k + 1];
                    for t in tables {
                        let ColumnData::Categorical(v) = t.column(j) else {
                            unreachable!()
                        };
                        for &c in v {
                            counts[if c == MISSING { k } else { c as usize }] += 1;
                        }
                    }
                    let reference = if opts.drop_reference {
                        (0..=k).max_by_key(|&l| (counts[l], std::cmp::Reverse(l)))
                    } else {
                        None
                    };
                    let mut slots = vec![None; k + 1];
                    let mut used = 0;
                    for l in 0..=k {
                        // Levels nobody has carry no information; with drop_reference they
                        // would also make the design rank-deficient.
                        if Some(l) == reference || (opts.drop_reference && counts[l] == 0) {
                            continue;
                        }
                        if l == k && counts[k] == 0 {
                            continue;
                        }
                        slots[l] = Some(used);
                        used += 1;
                        names.push(if l == k {
                            format!("{}=(missing)", spec.name)
                        } else {
                            format!("{}={}", spec.name, levels[l])
                        });
                    }
                    categorical.push((j, slots, used));
                    width += used;
                }
            }
        }
        if opts.second_order {
            let p = numeric.len();
            width += p * (p + 1) / 2;
            for a in 0..p {
                for b in a..p {
                    let (na, nb) = (
                        &schema.columns[numeric[a].0].name,
                        &schema.columns[numeric[b].0].name,
                    );
                    names.push(if a == b {
                        format!("{na}^2")
                    } else {
                        format!("{na}*{nb}")
                    });
                }
            }
        }
        Ok(FeatureMap {
            numeric,
            categorical,
            second_order: opts.second_order,
            width,
            names,
        })
    }

    /// Columns of the design matrix, the intercept included.
    pub fn width(&self) -> usize {
        self.width
    }

    /// A name per design column: "(intercept)", the column's name (numeric columns are
    /// standardised), "name (missing)", "name=level", "a*b", "a^2".
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Mean and standard deviation used to standardise each numeric column, by name.
    pub fn scaling(&self, schema: &crate::table::Schema) -> Vec<(String, f64, f64)> {
        self.numeric
            .iter()
            .map(|&(j, mean, sd, _)| (schema.columns[j].name.clone(), mean, sd))
            .collect()
    }

    /// The design matrix of `table` (which has the fitted schema).
    pub fn design(&self, table: &Table) -> Array2<f64> {
        let n = table.n_rows();
        let mut x = Array2::<f64>::zeros((n, self.width));
        x.column_mut(0).fill(1.0);
        let mut c = 1;
        let mut z_cols = Vec::with_capacity(self.numeric.len());
        for &(j, mean, sd, ind) in &self.numeric {
            let ColumnData::Numeric(v) = table.column(j) else {
                unreachable!("tables share a schema")
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
            z_cols.push(c);
            c += 1 + ind as usize;
        }
        for (j, slots, used) in &self.categorical {
            let ColumnData::Categorical(v) = table.column(*j) else {
                unreachable!("tables share a schema")
            };
            let k = slots.len() - 1;
            for i in 0..n {
                let l = if v[i] == MISSING { k } else { v[i] as usize };
                if let Some(s) = slots[l] {
                    x[[i, c + s]] = 1.0;
                }
            }
            c += used;
        }
        if self.second_order {
            for a in 0..z_cols.len() {
                for b in a..z_cols.len() {
                    for i in 0..n {
                        x[[i, c]] = x[[i, z_cols[a]]] * x[[i, z_cols[b]]];
                    }
                    c += 1;
                }
            }
        }
        debug_assert_eq!(c, self.width);
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{ColumnSpec, Schema};

    fn table() -> Table {
        let schema = Schema {
            columns: vec![
                ColumnSpec {
                    name: "x".into(),
                    kind: ColumnKind::Numeric { integer: false },
                },
                ColumnSpec {
                    name: "c".into(),
                    kind: ColumnKind::Categorical {
                        levels: vec!["a".into(), "b".into(), "z".into()],
                    },
                },
            ],
        };
        Table::new(
            schema,
            vec![
                ColumnData::Numeric(vec![1.0, 3.0, f64::NAN]),
                ColumnData::Categorical(vec![0, 1, 1]),
            ],
        )
        .unwrap()
    }

    #[test]
    fn one_hot_and_standardised() {
        let t = table();
        let m = FeatureMap::fit(&[&t], None, FeatureOptions::default()).unwrap();
        // intercept, x, x missing, a, b, z (no missing level: none occurs)
        assert_eq!(m.width(), 6);
        assert_eq!(
            m.names(),
            ["(intercept)", "x", "x (missing)", "c=a", "c=b", "c=z"]
        );
        let x = m.design(&t);
        assert_eq!(x.row(0).to_vec(), vec![1.0, -1.0, 0.0, 1.0, 0.0, 0.0]);
        assert_eq!(x.row(2).to_vec(), vec![1.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn reference_level_and_second_order() {
        let t = table();
        let opts = FeatureOptions {
            drop_reference: true,
            second_order: true,
            ..FeatureOptions::default()
        };
        let m = FeatureMap::fit(&[&t], None, opts).unwrap();
        // intercept, x, x missing, a (b is the most frequent), x²
        assert_eq!(m.width(), 5);
        assert_eq!(m.names(), ["(intercept)", "x", "x (missing)", "c=a", "x^2"]);
        let x = m.design(&t);
        assert_eq!(x.row(0).to_vec(), vec![1.0, -1.0, 0.0, 1.0, 1.0]);
        assert_eq!(x.row(1).to_vec(), vec![1.0, 1.0, 0.0, 0.0, 1.0]);
    }
}

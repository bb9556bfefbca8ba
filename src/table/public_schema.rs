//! The public schema: what a differentially private fit may know without looking at the
//! private rows — column kinds, level sets, numeric bounds, and whether a column may be
//! missing. Written by `synthvol schema` from a data file for the user to review and edit.

use serde::{Deserialize, Serialize};

use super::{ColumnData, ColumnKind, ColumnSpec, Schema, Table};
use crate::error::{Error, Result};

/// Version of the schema file format.
pub const SCHEMA_VERSION: u32 = 1;

/// One column of a public schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PublicColumnKind {
    Numeric { integer: bool, min: f64, max: f64 },
    Categorical { levels: Vec<String> },
}

/// A column's name, kind and whether it may be missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicColumn {
    pub name: String,
    #[serde(flatten)]
    pub kind: PublicColumnKind,
    /// Whether values may be missing (a missing value where this is false is an error).
    #[serde(default)]
    pub missing: bool,
}

/// The public schema file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicSchema {
    pub synthvol_schema: u32,
    pub columns: Vec<PublicColumn>,
}

impl PublicSchema {
    /// A schema read off a table: the bounds are the observed range and the levels the
    /// observed ones. Under DP these must be public knowledge: review them before use.
    pub fn from_table(table: &Table) -> PublicSchema {
        let columns = table
            .schema()
            .columns
            .iter()
            .zip(table.columns())
            .map(|(spec, col)| {
                let missing = col.missing_count() > 0;
                let kind = match (&spec.kind, col) {
                    (ColumnKind::Numeric { integer }, ColumnData::Numeric(v)) => {
                        let obs = v.iter().copied().filter(|x| !x.is_nan());
                        let (lo, hi) = obs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                            (a.min(x), b.max(x))
                        });
                        let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
                        PublicColumnKind::Numeric {
                            integer: *integer,
                            min: lo,
                            max: hi,
                        }
                    }
                    (ColumnKind::Categorical { levels }, _) => PublicColumnKind::Categorical {
                        levels: levels.clone(),
                    },
                    _ => unreachable!("Table::new checks kinds"),
                };
                PublicColumn {
                    name: spec.name.clone(),
                    kind,
                    missing,
                }
            })
            .collect();
        PublicSchema {
            synthvol_schema: SCHEMA_VERSION,
            columns,
        }
    }

    /// Parses and checks a schema file's text.
    pub fn from_json(text: &str) -> Result<PublicSchema> {
        let s: PublicSchema = serde_json::from_str(text)
            .map_err(|e| Error::invalid(format!("the schema file is not valid: {e}")))?;
        s.validate()?;
        Ok(s)
    }

    /// Checks everything a fit relies on: the version, names present and unique, level sets
    /// non-empty and without duplicates, numeric bounds finite and ordered with a span the
    /// histogram bins can resolve (bounds near ±1e308 overflow max − min).
    pub fn validate(&self) -> Result<()> {
        if self.synthvol_schema != SCHEMA_VERSION {
            return Err(Error::invalid(format!(
                "the schema file has version {}; this build reads version {SCHEMA_VERSION}",
                self.synthvol_schema
            )));
        }
        if self.columns.is_empty() {
            return Err(Error::invalid("the schema has no columns"));
        }
        let mut seen = std::collections::HashSet::new();
        for (j, c) in self.columns.iter().enumerate() {
            if c.name.is_empty() {
                return Err(Error::invalid(format!(
                    "schema column {} has an empty name",
                    j + 1
                )));
            }
            if !seen.insert(c.name.as_str()) {
                return Err(Error::invalid(format!(
                    "the schema names column '{}' twice",
                    c.name
                )));
            }
            match &c.kind {
                PublicColumnKind::Numeric { min, max, .. } => {
                    let (min, max) = (*min, *max);
                    if !(min.is_finite() && max.is_finite() && min < max) {
                        return Err(Error::invalid(format!(
                            "schema column '{}': the bounds must be finite with min < max, got [{min}, {max}]",
                            c.name
                        )));
                    }
                    let span = max - min;
                    let scale = min.abs().max(max.abs());
                    if !span.is_finite() || span <= scale * 1e-9 {
                        return Err(Error::invalid(format!(
                            "schema column '{}': the bounds [{min:e}, {max:e}] cannot be binned in double precision (their span {span:e} {}); declare the column's actual range (rescale its values if they are that large)",
                            c.name,
                            if span.is_finite() { "is too small for their magnitude" } else { "overflows" }
                        )));
                    }
                }
                PublicColumnKind::Categorical { levels } => {
                    if levels.is_empty() && !c.missing {
                        return Err(Error::invalid(format!(
                            "schema column '{}' declares no levels and no missing values: it could hold nothing",
                            c.name
                        )));
                    }
                    let mut ls = std::collections::HashSet::new();
                    for l in levels {
                        if !ls.insert(l.as_str()) {
                            return Err(Error::invalid(format!(
                                "schema column '{}' lists level '{l}' twice",
                                c.name
                            )));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Pretty JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The table schema this public schema declares.
    pub fn schema(&self) -> Schema {
        Schema {
            columns: self
                .columns
                .iter()
                .map(|c| ColumnSpec {
                    name: c.name.clone(),
                    kind: match &c.kind {
                        PublicColumnKind::Numeric { integer, .. } => {
                            ColumnKind::Numeric { integer: *integer }
                        }
                        PublicColumnKind::Categorical { levels } => ColumnKind::Categorical {
                            levels: levels.clone(),
                        },
                    },
                })
                .collect(),
        }
    }

    /// The table in this schema's terms: columns matched by name, levels by label (an
    /// undeclared level is an error that names it), numeric values clamped to the declared
    /// bounds, and a missing value in a column declared never missing an error.
    pub fn apply(&self, table: &Table) -> Result<Table> {
        let t = table.conform_to(&self.schema())?;
        let mut columns = Vec::with_capacity(t.n_cols());
        for (c, col) in self.columns.iter().zip(t.columns()) {
            if !c.missing && col.missing_count() > 0 {
                return Err(Error::data(format!(
                    "column '{}' has {} missing value(s) but the schema declares it never missing (set \"missing\": true)",
                    c.name,
                    col.missing_count()
                )));
            }
            columns.push(match (&c.kind, col) {
                (PublicColumnKind::Numeric { min, max, .. }, ColumnData::Numeric(v)) => {
                    ColumnData::Numeric(
                        v.iter()
                            .map(|&x| if x.is_nan() { x } else { x.clamp(*min, *max) })
                            .collect(),
                    )
                }
                (_, other) => other.clone(),
            });
        }
        Table::new(t.schema().clone(), columns)
    }
}

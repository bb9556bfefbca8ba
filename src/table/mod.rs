//! Schema and columnar table with missing values, and their CSV form.
//!
//! A table holds one vector per column: numeric columns as `f64` with NaN for missing,
//! categorical columns as level codes into the schema's level labels with [`MISSING`] for
//! missing. Numeric values are always finite; the CSV reader refuses ±inf and NaN literals.

mod csv_io;
mod public_schema;

pub use csv_io::{read_csv, read_csv_bytes, write_csv, write_csv_to, CsvOptions, CsvWriter};
pub use public_schema::{PublicColumn, PublicColumnKind, PublicSchema, SCHEMA_VERSION};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Code of a missing categorical value.
pub const MISSING: u32 = u32::MAX;

/// The kind of a column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ColumnKind {
    /// Real numbers; `integer` when every observed value is a whole number.
    Numeric { integer: bool },
    /// A finite set of labelled levels, in the order the codes refer to them.
    Categorical { levels: Vec<String> },
}

/// A column's name and kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSpec {
    pub name: String,
    #[serde(flatten)]
    pub kind: ColumnKind,
}

/// The columns of a table, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    pub columns: Vec<ColumnSpec>,
}

impl Schema {
    /// Index of the column called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Index of `name`, or an error that lists the columns there are.
    pub fn require(&self, name: &str) -> Result<usize> {
        self.index_of(name).ok_or_else(|| {
            let names: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
            Error::invalid(format!(
                "there is no column '{name}'; the columns are: {}",
                names.join(", ")
            ))
        })
    }
}

/// The values of one column.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    /// Finite values, NaN for missing.
    Numeric(Vec<f64>),
    /// Codes into the schema's levels, [`MISSING`] for missing.
    Categorical(Vec<u32>),
}

impl ColumnData {
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Numeric(v) => v.len(),
            ColumnData::Categorical(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Whether row `i` is missing.
    pub fn is_missing(&self, i: usize) -> bool {
        match self {
            ColumnData::Numeric(v) => v[i].is_nan(),
            ColumnData::Categorical(v) => v[i] == MISSING,
        }
    }
    /// Number of missing values.
    pub fn missing_count(&self) -> usize {
        (0..self.len()).filter(|&i| self.is_missing(i)).count()
    }
}

/// A columnar table whose columns follow a schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    schema: Schema,
    columns: Vec<ColumnData>,
    n_rows: usize,
}

impl Table {
    /// Builds a table, checking that the columns match the schema: same count, same kinds,
    /// equal lengths, codes within their levels, numeric values finite or NaN.
    pub fn new(schema: Schema, columns: Vec<ColumnData>) -> Result<Table> {
        if schema.columns.len() != columns.len() {
            return Err(Error::invalid(format!(
                "the schema has {} columns but {} were given",
                schema.columns.len(),
                columns.len()
            )));
        }
        let n_rows = columns.first().map_or(0, |c| c.len());
        let mut seen = std::collections::HashSet::new();
        for (j, (spec, data)) in schema.columns.iter().zip(&columns).enumerate() {
            if spec.name.is_empty() {
                return Err(Error::invalid(format!(
                    "column {} has an empty name; every column needs a name",
                    j + 1
                )));
            }
            if !seen.insert(spec.name.as_str()) {
                return Err(Error::invalid(format!(
                    "column name '{}' appears twice",
                    spec.name
                )));
            }
            if data.len() != n_rows {
                return Err(Error::invalid(format!(
                    "column '{}' has {} values but the first column has {n_rows}",
                    spec.name,
                    data.len()
                )));
            }
            match (&spec.kind, data) {
                (ColumnKind::Numeric { .. }, ColumnData::Numeric(v)) => {
                    if let Some(i) = v.iter().position(|x| x.is_infinite()) {
                        return Err(Error::data(format!(
                            "column '{}', row {}: value {} is not finite",
                            spec.name,
                            i + 1,
                            v[i]
                        )));
                    }
                }
                (ColumnKind::Categorical { levels }, ColumnData::Categorical(v)) => {
                    let mut labels = std::collections::HashSet::new();
                    for l in levels {
                        if !labels.insert(l.as_str()) {
                            return Err(Error::invalid(format!(
                                "column '{}': level '{l}' appears twice",
                                spec.name
                            )));
                        }
                    }
                    if let Some(i) = v
                        .iter()
                        .position(|&c| c != MISSING && c as usize >= levels.len())
                    {
                        return Err(Error::invalid(format!(
                            "column '{}', row {}: code {} is outside its {} levels",
                            spec.name,
                            i + 1,
                            v[i],
                            levels.len()
                        )));
                    }
                }
                _ => {
                    return Err(Error::invalid(format!(
                        "column '{}': the data do not match the kind the schema gives",
                        spec.name
                    )))
                }
            }
        }
        Ok(Table {
            schema,
            columns,
            n_rows,
        })
    }

    /// Appends a column, checked as [`Table::new`] checks columns (a first column sets the
    /// row count). On error the table is unchanged.
    pub fn push_column(&mut self, spec: ColumnSpec, data: ColumnData) -> Result<()> {
        if self.schema.index_of(&spec.name).is_some() {
            return Err(Error::invalid(format!(
                "column name '{}' appears twice",
                spec.name
            )));
        }
        if !self.columns.is_empty() && data.len() != self.n_rows {
            return Err(Error::invalid(format!(
                "column '{}' has {} values but the table has {} rows",
                spec.name,
                data.len(),
                self.n_rows
            )));
        }
        // The per-column checks of `new`, on this column alone.
        let one = Table::new(
            Schema {
                columns: vec![spec],
            },
            vec![data],
        )?;
        self.n_rows = one.n_rows;
        self.schema.columns.extend(one.schema.columns);
        self.columns.extend(one.columns);
        Ok(())
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }
    pub fn columns(&self) -> &[ColumnData] {
        &self.columns
    }
    pub fn column(&self, i: usize) -> &ColumnData {
        &self.columns[i]
    }
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }
    pub fn n_cols(&self) -> usize {
        self.columns.len()
    }

    /// The levels of column `j` that some row holds and `known` lacks, in this table's level
    /// order (empty for a numeric column).
    pub fn levels_not_in(&self, j: usize, known: &[String]) -> Vec<String> {
        let (ColumnKind::Categorical { levels }, ColumnData::Categorical(codes)) =
            (&self.schema.columns[j].kind, &self.columns[j])
        else {
            return Vec::new();
        };
        let mut used = vec![false; levels.len()];
        for &c in codes {
            if c != MISSING {
                used[c as usize] = true;
            }
        }
        levels
            .iter()
            .zip(&used)
            .filter(|(l, &u)| u && !known.contains(l))
            .map(|(l, _)| l.clone())
            .collect()
    }

    /// The columns at `idx`, in that order.
    pub fn select_columns(&self, idx: &[usize]) -> Table {
        Table {
            schema: Schema {
                columns: idx
                    .iter()
                    .map(|&j| self.schema.columns[j].clone())
                    .collect(),
            },
            columns: idx.iter().map(|&j| self.columns[j].clone()).collect(),
            n_rows: self.n_rows,
        }
    }

    /// This table with column `j`'s values replaced by `data` (same kind and length; codes
    /// within the column's levels).
    pub fn replace_column(&self, j: usize, data: ColumnData) -> Result<Table> {
        let mut columns = self.columns.clone();
        columns[j] = data;
        Table::new(self.schema.clone(), columns)
    }

    /// This table's rows followed by `other`'s (which must have the same schema).
    pub fn concat(&self, other: &Table) -> Result<Table> {
        if self.schema != other.schema {
            return Err(Error::invalid(
                "tables with different schemas cannot be stacked (conform one to the other first)",
            ));
        }
        let columns = self
            .columns
            .iter()
            .zip(&other.columns)
            .map(|(a, b)| match (a, b) {
                (ColumnData::Numeric(x), ColumnData::Numeric(y)) => {
                    ColumnData::Numeric(x.iter().chain(y).copied().collect())
                }
                (ColumnData::Categorical(x), ColumnData::Categorical(y)) => {
                    ColumnData::Categorical(x.iter().chain(y).copied().collect())
                }
                _ => unreachable!("same schema, same kinds"),
            })
            .collect();
        Ok(Table {
            schema: self.schema.clone(),
            columns,
            n_rows: self.n_rows + other.n_rows,
        })
    }

    /// The rows at `idx`, in that order (indices may repeat).
    pub fn select_rows(&self, idx: &[usize]) -> Table {
        let columns = self
            .columns
            .iter()
            .map(|c| match c {
                ColumnData::Numeric(v) => ColumnData::Numeric(idx.iter().map(|&i| v[i]).collect()),
                ColumnData::Categorical(v) => {
                    ColumnData::Categorical(idx.iter().map(|&i| v[i]).collect())
                }
            })
            .collect();
        Table {
            schema: self.schema.clone(),
            columns,
            n_rows: idx.len(),
        }
    }

    /// This table's columns re-expressed in `target`'s schema: columns matched by name and
    /// categorical levels by label. A missing column, a kind that differs or a level the
    /// target does not know is an error that names it.
    pub fn conform_to(&self, target: &Schema) -> Result<Table> {
        let mut columns = Vec::with_capacity(target.columns.len());
        for spec in &target.columns {
            let j = self.schema.index_of(&spec.name).ok_or_else(|| {
                Error::data(format!("column '{}' is missing from the table", spec.name))
            })?;
            let mine = &self.schema.columns[j];
            let data = match (&spec.kind, &mine.kind, &self.columns[j]) {
                (ColumnKind::Numeric { .. }, ColumnKind::Numeric { .. }, d) => d.clone(),
                (
                    ColumnKind::Categorical { levels: theirs },
                    ColumnKind::Categorical { levels: ours },
                    ColumnData::Categorical(codes),
                ) => {
                    let mut map = Vec::with_capacity(ours.len());
                    for l in ours {
                        let k = theirs.iter().position(|t| t == l);
                        map.push(k.map(|k| k as u32));
                    }
                    let mut out = Vec::with_capacity(codes.len());
                    for (i, &c) in codes.iter().enumerate() {
                        if c == MISSING {
                            out.push(MISSING);
                            continue;
                        }
                        match map[c as usize] {
                            Some(k) => out.push(k),
                            None => {
                                return Err(Error::data(format!(
                                    "column '{}', row {}: level '{}' is not one of the known levels ({})",
                                    spec.name,
                                    i + 1,
                                    ours[c as usize],
                                    preview(theirs)
                                )))
                            }
                        }
                    }
                    ColumnData::Categorical(out)
                }
                (
                    ColumnKind::Categorical { levels },
                    ColumnKind::Numeric { .. },
                    ColumnData::Numeric(v),
                ) => {
                    // A categorical column whose labels look like numbers may be read as numeric.
                    let mut out = Vec::with_capacity(v.len());
                    for (i, &x) in v.iter().enumerate() {
                        if x.is_nan() {
                            out.push(MISSING);
                            continue;
                        }
                        let label = format_number(x, true);
                        match levels.iter().position(|l| *l == label || l.parse::<f64>().ok() == Some(x)) {
                            Some(k) => out.push(k as u32),
                            None => {
                                return Err(Error::data(format!(
                                    "column '{}', row {}: level '{label}' is not one of the known levels ({})",
                                    spec.name,
                                    i + 1,
                                    preview(levels)
                                )))
                            }
                        }
                    }
                    ColumnData::Categorical(out)
                }
                _ => {
                    return Err(Error::data(format!(
                        "column '{}' is {} here but {} in the model",
                        spec.name,
                        kind_name(&mine.kind),
                        kind_name(&spec.kind)
                    )))
                }
            };
            columns.push(data);
        }
        Table::new(target.clone(), columns)
    }
}

fn kind_name(k: &ColumnKind) -> &'static str {
    match k {
        ColumnKind::Numeric { .. } => "numeric",
        ColumnKind::Categorical { .. } => "categorical",
    }
}

/// The first few labels, for messages.
pub(crate) fn preview(levels: &[String]) -> String {
    let mut s: Vec<String> = levels.iter().take(8).map(|l| format!("'{l}'")).collect();
    if levels.len() > 8 {
        s.push(format!("… {} in all", levels.len()));
    }
    s.join(", ")
}

/// Formats a number as the CSV writer does: integers without a decimal point.
pub(crate) fn format_number(x: f64, integer: bool) -> String {
    if integer && x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

//! The fitted encoder: a table ↔ the model's row vectors.
//!
//! Row layout: `[numeric part | one-hot blocks]`. Numeric columns go through a quantile
//! transform to a standard normal (as scikit-learn's `QuantileTransformer(output_distribution
//! = "normal")`, which TabDDPM uses); each categorical column is a one-hot block; a missing
//! categorical value is a level of its own at the end of its block; a numeric column with
//! missing values adds a two-level block (present, missing) and its missing values are imputed
//! by a standard-normal draw (so the numeric value says nothing about missingness). Values that
//! carry a share of the rows ("atoms": every value of a column with few distinct values, and
//! any value held by at least 1% of rows, like the zeros of a capital-gain column) are
//! dequantised: encoded at a seeded random position inside their interval of the empirical
//! CDF, and decoded back to exactly that value. Without this, the Gaussian part would have to
//! learn point masses, whose ε-prediction target is a steep sawtooth that swamps the shared
//! network (and skews the categorical columns learned beside it). A categorical target column is not part of the row: it
//! is the label that conditions the denoiser.

mod extend;
mod private;

pub use private::{
    encoder_from_counts, histogram_bins, histogram_count, private_counts, project_counts,
    PreprocessingRecord, CONTINUOUS_BINS,
};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rng::{fill_normal, row_rng, uniform};
use crate::stats::{interp_mid, norm_cdf, norm_ppf, percentile_sorted};
use crate::table::{ColumnData, ColumnKind, Schema, Table, MISSING};

/// Quantile transform bound, as scikit-learn's `BOUNDS_THRESHOLD`.
const BOUNDS: f64 = 1e-7;
/// The largest score a numeric value encodes to: Φ⁻¹(1 − BOUNDS). The sampler clips its
/// prediction of x0 to ±this (a test checks it against `norm_ppf`).
pub const SCORE_LIMIT: f64 = 5.199_337_582_346_428;
/// Numeric columns with at most this many distinct values are snapped to them on output.
pub(crate) const SNAP_MAX_DISTINCT: usize = 32;
/// Categorical columns with more levels than this are refused (identifiers, free text).
const MAX_LEVELS: usize = 1000;
/// A value held by at least this share of the observed rows is an atom.
const ATOM_SHARE: f64 = 0.01;
/// Seed of the encoder's dequantisation and imputation draws (fixed: encoding is reproducible).
const ENCODE_SEED: u64 = 0x0E4C_0DE5;

/// A value with a share of the rows, and its interval [lo, hi] of the empirical CDF.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Atom {
    pub value: f64,
    pub lo: f64,
    pub hi: f64,
}

/// The fitted transform of one numeric column.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NumericEncoder {
    pub column: usize,
    /// Quantiles of the observed values at `references`, non-decreasing.
    pub quantiles: Vec<f64>,
    pub references: Vec<f64>,
    pub integer: bool,
    /// The distinct observed values when there are few of them.
    pub snap: Option<Vec<f64>>,
    /// Values holding a share of the rows, in increasing order.
    pub atoms: Vec<Atom>,
    /// Index of this column's missing-indicator block, when it has missing values.
    pub missing_block: Option<usize>,
    /// Decimals generated values are rounded to (the training values'), or `None` for full
    /// precision (integer and snapped columns are exact anyway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u32>,
    /// The model's own score quantiles at the probabilities [`score_map_level`] gives, when
    /// its output is mapped onto the fitted quantiles ([`crate::Synthesizer::quantile_mapped`]):
    /// a generated score then decodes through its rank among the model's scores rather than
    /// through Φ, so the column's generated marginal is the fitted one whatever the network
    /// learned. Only decoding reads it; encoding (training rows) never does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_map: Option<Vec<f64>>,
}

/// The probability level of entry `k` of a score map of `len` entries: (k + ½) / len.
pub fn score_map_level(k: usize, len: usize) -> f64 {
    (k as f64 + 0.5) / len as f64
}

/// A score's probability under a score map (sorted quantiles at [`score_map_level`]): linear
/// between entries, the middle of a run of equal entries (scores the sampler clipped to the
/// same bound), and linear to 0 and 1 at ∓[`SCORE_LIMIT`] outside.
pub fn score_map_cdf(z: f64, map: &[f64]) -> f64 {
    let n = map.len();
    if n == 0 || z.is_nan() {
        return norm_cdf(z);
    }
    let lo = map.partition_point(|&s| s < z);
    let hi = map.partition_point(|&s| s <= z);
    if hi > lo {
        return (lo + hi) as f64 / 2.0 / n as f64;
    }
    // map[lo - 1] < z < map[lo]
    let (x0, p0) = if lo == 0 {
        (-SCORE_LIMIT, 0.0)
    } else {
        (map[lo - 1], score_map_level(lo - 1, n))
    };
    let (x1, p1) = if lo == n {
        (SCORE_LIMIT, 1.0)
    } else {
        (map[lo], score_map_level(lo, n))
    };
    if x1 <= x0 {
        return p0;
    }
    (p0 + (z - x0) / (x1 - x0) * (p1 - p0)).clamp(0.0, 1.0)
}

/// The most decimals a column's precision is learned up to; a column with more is kept at
/// full precision.
pub const MAX_DECIMALS: u32 = 8;

/// The fewest decimals (up to [`MAX_DECIMALS`]) that write every finite value of `values`
/// exactly, or `None`.
pub fn decimals_of(values: &[f64]) -> Option<u32> {
    (0..=MAX_DECIMALS).find(|&d| {
        let scale = 10f64.powi(d as i32);
        values.iter().filter(|x| x.is_finite()).all(|&x| {
            let s = x * scale;
            // the product of a value written with d decimals is within rounding of a whole number
            (s - s.round()).abs() <= 1e-9 * s.abs()
        })
    })
}

/// `v` rounded to `d` decimals (the nearest double, which prints with at most `d` decimals).
pub fn round_to(v: f64, d: u32) -> f64 {
    let scale = 10f64.powi(d as i32);
    let r = (v * scale).round() / scale;
    if r.is_finite() {
        r
    } else {
        v
    }
}

/// Where a one-hot block comes from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum BlockSource {
    /// A categorical column; the block's last level is "missing" when `has_missing`.
    Column { column: usize, has_missing: bool },
    /// The missing indicator of a numeric column: level 0 present, level 1 missing.
    MissingIndicator { column: usize },
}

/// One one-hot block of the encoded row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatBlock {
    pub source: BlockSource,
    /// Number of levels in the block (K).
    pub size: usize,
}

/// The label that conditions generation (a categorical target column).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabelSpec {
    pub column: usize,
    pub n_classes: usize,
    /// Class counts in the training rows (used to draw labels for sampling).
    pub counts: Vec<f64>,
}

/// The fitted encoder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Encoder {
    pub schema: Schema,
    pub numeric: Vec<NumericEncoder>,
    pub blocks: Vec<CatBlock>,
    pub label: Option<LabelSpec>,
}

/// Encoded rows.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// Row-major `n × width`.
    pub x: Vec<f32>,
    /// Class index per row when the encoder has a label.
    pub labels: Option<Vec<u32>>,
    pub n: usize,
}

/// Checks that a categorical target `t` is not the table's only column: the model would be
/// conditioned on it with nothing to generate (and the network would have no input).
pub fn check_beside_target(table: &Table, t: usize) -> Result<()> {
    let spec = &table.schema().columns[t];
    if table.n_cols() == 1 && matches!(spec.kind, ColumnKind::Categorical { .. }) {
        return Err(Error::data(format!(
            "the data have no column besides the target '{}': a model conditioned on it would have nothing to generate; add columns, or fit without a target",
            spec.name
        )));
    }
    Ok(())
}

/// Checks that a table can be learned, with messages that say what to do.
pub fn check_trainable(table: &Table, target: Option<&str>) -> Result<Option<usize>> {
    if table.n_cols() == 0 {
        return Err(Error::data("the data have no columns"));
    }
    let n = table.n_rows();
    if n < 2 {
        return Err(Error::data(format!(
            "the data have {n} row(s); at least 2 are needed to fit a model"
        )));
    }
    // The target first: its messages are more specific than the per-column ones.
    let target_index = match target {
        None => None,
        Some(target) => {
            let t = table.schema().require(target)?;
            let col = table.column(t);
            if col.missing_count() > 0 {
                return Err(Error::data(format!(
                    "target column '{target}' has {} missing value(s); remove those rows or choose another target",
                    col.missing_count()
                )));
            }
            if let (ColumnKind::Categorical { levels }, ColumnData::Categorical(v)) =
                (&table.schema().columns[t].kind, col)
            {
                let first = v[0];
                if v.iter().all(|&c| c == first) {
                    return Err(Error::data(format!(
                        "target column '{target}' has one class ('{}'): a target needs at least two",
                        levels[first as usize]
                    )));
                }
            }
            check_beside_target(table, t)?;
            Some(t)
        }
    };
    for (spec, col) in table.schema().columns.iter().zip(table.columns()) {
        let name = &spec.name;
        let missing = col.missing_count();
        if missing == n {
            return Err(Error::data(format!(
                "column '{name}' is missing in every row: drop it"
            )));
        }
        match (&spec.kind, col) {
            (ColumnKind::Numeric { .. }, ColumnData::Numeric(v)) => {
                let first = v.iter().copied().find(|x| !x.is_nan()).unwrap_or(0.0);
                if missing == 0 && v.iter().all(|&x| x == first) {
                    return Err(Error::data(format!(
                        "column '{name}' is constant ({first} in every row): it carries no information; drop it and add it back to the synthetic rows if needed"
                    )));
                }
            }
            (ColumnKind::Categorical { levels }, ColumnData::Categorical(v)) => {
                let mut used = vec![false; levels.len()];
                for &c in v {
                    if c != MISSING {
                        used[c as usize] = true;
                    }
                }
                // One level in every row is kept: a pre-training population may lack the
                // levels a fine-tuning adds (men-only data have sex = Male only).
                if levels.len() > MAX_LEVELS || (levels.len() > 50 && levels.len() * 2 > n) {
                    return Err(Error::data(format!(
                        "column '{name}' has {} distinct values in {n} rows: it looks like an identifier or free text, which a generator should not learn; drop it, group rare values into fewer levels, or, if its values are numbers, declare it with --numeric {name}",
                        levels.len()
                    )));
                }
            }
            _ => unreachable!("Table::new checks kinds"),
        }
    }
    Ok(target_index)
}

impl Encoder {
    /// Fits the encoder on a table. `target`, when categorical, becomes the label.
    pub fn fit(table: &Table, target: Option<usize>) -> Result<Encoder> {
        let schema = table.schema().clone();
        let n = table.n_rows();
        let mut numeric = Vec::new();
        let mut blocks = Vec::new();
        let mut label = None;
        let mut indicator_for = Vec::new();
        for (j, (spec, col)) in schema.columns.iter().zip(table.columns()).enumerate() {
            match (&spec.kind, col) {
                (ColumnKind::Categorical { levels }, ColumnData::Categorical(v)) => {
                    if Some(j) == target {
                        let mut counts = vec![0.0; levels.len()];
                        for &c in v {
                            counts[c as usize] += 1.0;
                        }
                        label = Some(LabelSpec {
                            column: j,
                            n_classes: levels.len(),
                            counts,
                        });
                        continue;
                    }
                    let has_missing = v.contains(&MISSING);
                    blocks.push(CatBlock {
                        source: BlockSource::Column {
                            column: j,
                            has_missing,
                        },
                        size: levels.len() + has_missing as usize,
                    });
                }
                (ColumnKind::Numeric { integer }, ColumnData::Numeric(v)) => {
                    let mut obs: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
                    if obs.is_empty() {
                        return Err(Error::data(format!(
                            "column '{}' is missing in every row: drop it",
                            spec.name
                        )));
                    }
                    obs.sort_by(f64::total_cmp);
                    let nq = (obs.len() / 30).clamp(10, 1000);
                    let references: Vec<f64> =
                        (0..nq).map(|i| i as f64 / (nq - 1) as f64).collect();
                    let mut quantiles: Vec<f64> = references
                        .iter()
                        .map(|&r| percentile_sorted(&obs, r))
                        .collect();
                    for i in 1..nq {
                        quantiles[i] = quantiles[i].max(quantiles[i - 1]);
                    }
                    let mut distinct = obs.clone();
                    distinct.dedup();
                    let few = distinct.len() <= SNAP_MAX_DISTINCT;
                    let snap = few.then_some(distinct);
                    let nobs = obs.len() as f64;
                    let mut atoms = Vec::new();
                    let mut start = 0;
                    while start < obs.len() {
                        let end = start + obs[start..].partition_point(|&x| x == obs[start]);
                        let share = (end - start) as f64 / nobs;
                        if few || share >= ATOM_SHARE {
                            atoms.push(Atom {
                                value: obs[start],
                                lo: start as f64 / nobs,
                                hi: end as f64 / nobs,
                            });
                        }
                        start = end;
                    }
                    if obs.len() < n {
                        indicator_for.push(numeric.len());
                    }
                    numeric.push(NumericEncoder {
                        column: j,
                        quantiles,
                        references,
                        integer: *integer,
                        snap,
                        atoms,
                        missing_block: None,
                        decimals: None,
                        score_map: None,
                    });
                }
                _ => unreachable!("Table::new checks kinds"),
            }
        }
        add_missing_indicators(&mut numeric, &mut blocks, &indicator_for);
        Ok(Encoder {
            schema,
            numeric,
            blocks,
            label,
        })
    }

    /// Learns each numeric column's precision from `table` (the rows it was fitted on): the
    /// decimals its values are written with, so generated values come back with as many.
    pub fn learn_precision(&mut self, table: &Table) {
        for ne in &mut self.numeric {
            ne.decimals = None;
            if ne.integer || ne.snap.is_some() {
                continue;
            }
            if let ColumnData::Numeric(v) = &table.columns()[ne.column] {
                ne.decimals = decimals_of(v);
            }
        }
    }

    /// Checks the encoder's internal consistency (a model file's header is data: a valid
    /// checksum does not make its contents sound).
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| {
            Err(Error::format(format!(
                "the model's encoder is inconsistent: {what}"
            )))
        };
        let cols = &self.schema.columns;
        let mut covered = vec![0usize; cols.len()];
        for (k, ne) in self.numeric.iter().enumerate() {
            let Some(spec) = cols.get(ne.column) else {
                return bad(format!(
                    "numeric encoder {k} refers to column {}",
                    ne.column
                ));
            };
            if !matches!(spec.kind, ColumnKind::Numeric { .. }) {
                return bad(format!("column '{}' is not numeric", spec.name));
            }
            covered[ne.column] += 1;
            let (q, r) = (&ne.quantiles, &ne.references);
            if q.len() < 2
                || q.len() != r.len()
                || q.iter().chain(r).any(|v| !v.is_finite())
                || q.windows(2).any(|w| w[1] < w[0])
                || r.windows(2).any(|w| w[1] <= w[0])
                || r[0] != 0.0
                || r[r.len() - 1] != 1.0
            {
                return bad(format!("the quantiles of column '{}'", spec.name));
            }
            if ne.decimals.is_some_and(|d| d > MAX_DECIMALS) {
                return bad(format!("the decimals of column '{}'", spec.name));
            }
            if ne
                .atoms
                .windows(2)
                .any(|w| w[1].value <= w[0].value || w[1].lo < w[0].hi)
                || ne.atoms.iter().any(|a| {
                    !(0.0..=1.0).contains(&a.lo)
                        || !(a.lo..=1.0).contains(&a.hi)
                        || !a.value.is_finite()
                })
            {
                return bad(format!("the atoms of column '{}'", spec.name));
            }
            if ne
                .snap
                .as_ref()
                .is_some_and(|s| s.is_empty() || s.windows(2).any(|w| w[1] <= w[0]))
            {
                return bad(format!("the observed values of column '{}'", spec.name));
            }
            if ne.missing_block.is_some_and(|b| {
                b >= self.blocks.len()
                    || self.blocks[b].source
                        != (BlockSource::MissingIndicator { column: ne.column })
            }) {
                return bad(format!("the missing indicator of column '{}'", spec.name));
            }
        }
        for b in &self.blocks {
            match b.source {
                BlockSource::Column {
                    column,
                    has_missing,
                } => {
                    let Some(ColumnKind::Categorical { levels }) =
                        cols.get(column).map(|c| &c.kind)
                    else {
                        return bad(format!("a block refers to column {column}"));
                    };
                    if b.size != levels.len() + has_missing as usize || b.size == 0 {
                        return bad(format!(
                            "the block of column '{}' has {} levels",
                            cols[column].name, b.size
                        ));
                    }
                    covered[column] += 1;
                }
                BlockSource::MissingIndicator { column } => {
                    if b.size != 2
                        || !self
                            .numeric
                            .iter()
                            .any(|n| n.column == column && n.missing_block.is_some())
                    {
                        return bad(format!("a missing indicator refers to column {column}"));
                    }
                }
            }
        }
        if let Some(l) = &self.label {
            let Some(ColumnKind::Categorical { levels }) = cols.get(l.column).map(|c| &c.kind)
            else {
                return bad("the label column".into());
            };
            if l.n_classes != levels.len()
                || l.counts.len() != l.n_classes
                || l.counts.iter().any(|c| !(c.is_finite() && *c >= 0.0))
                || l.counts.iter().sum::<f64>() <= 0.0
            {
                return bad("the label's classes".into());
            }
            covered[l.column] += 1;
        }
        if let Some(j) = covered.iter().position(|&c| c != 1) {
            return bad(format!(
                "column '{}' is encoded {} times",
                cols[j].name, covered[j]
            ));
        }
        Ok(())
    }

    /// Width of the numeric part.
    pub fn n_numeric(&self) -> usize {
        self.numeric.len()
    }
    /// Sizes of the one-hot blocks.
    pub fn block_sizes(&self) -> Vec<usize> {
        self.blocks.iter().map(|b| b.size).collect()
    }
    /// Width of an encoded row.
    pub fn width(&self) -> usize {
        self.numeric.len() + self.blocks.iter().map(|b| b.size).sum::<usize>()
    }
    /// Number of label classes (0 without a label).
    pub fn n_classes(&self) -> usize {
        self.label.as_ref().map_or(0, |l| l.n_classes)
    }

    /// Encodes a table that has this encoder's schema.
    pub fn encode(&self, table: &Table) -> Result<Encoded> {
        if table.schema() != &self.schema {
            return Err(Error::invalid(
                "the table's schema differs from the encoder's (conform the table first)",
            ));
        }
        let n = table.n_rows();
        let w = self.width();
        let mut x = vec![0.0f32; n * w];
        for (k, ne) in self.numeric.iter().enumerate() {
            let ColumnData::Numeric(v) = table.column(ne.column) else {
                unreachable!()
            };
            for i in 0..n {
                let mut rng = row_rng(ENCODE_SEED, k as u64, i as u64);
                x[i * w + k] = if v[i].is_nan() {
                    let mut z = [0f32; 1];
                    fill_normal(&mut rng, &mut z);
                    z[0]
                } else {
                    ne.forward(v[i], uniform(&mut rng)) as f32
                };
            }
        }
        let mut off = self.numeric.len();
        for b in &self.blocks {
            match b.source {
                BlockSource::Column {
                    column,
                    has_missing,
                } => {
                    let ColumnData::Categorical(v) = table.column(column) else {
                        unreachable!()
                    };
                    for i in 0..n {
                        let c = if v[i] == MISSING {
                            if !has_missing {
                                return Err(Error::data(format!(
                                    "column '{}', row {}: missing, but the model saw no missing values in this column",
                                    self.schema.columns[column].name,
                                    i + 1
                                )));
                            }
                            b.size - 1
                        } else {
                            v[i] as usize
                        };
                        x[i * w + off + c] = 1.0;
                    }
                }
                BlockSource::MissingIndicator { column } => {
                    let ColumnData::Numeric(v) = table.column(column) else {
                        unreachable!()
                    };
                    for i in 0..n {
                        x[i * w + off + v[i].is_nan() as usize] = 1.0;
                    }
                }
            }
            off += b.size;
        }
        for (ne, col) in self.numeric.iter().map(|ne| (ne, ne.column)) {
            if ne.missing_block.is_none() && table.column(col).missing_count() > 0 {
                return Err(Error::data(format!(
                    "column '{}' has missing values, but the model saw none in this column",
                    self.schema.columns[col].name
                )));
            }
        }
        let labels = self.label.as_ref().map(|l| {
            let ColumnData::Categorical(v) = table.column(l.column) else {
                unreachable!()
            };
            v.clone()
        });
        if let Some(ls) = &labels {
            if ls.contains(&MISSING) {
                return Err(Error::data("the target column has missing values"));
            }
        }
        Ok(Encoded { x, labels, n })
    }

    /// Decodes rows: numeric values through the inverse transform, each block by its hot (or
    /// largest) entry, labels by index.
    pub fn decode(&self, x: &[f32], labels: Option<&[u32]>, n: usize) -> Result<Table> {
        self.decode_as(x, labels, n, false)
    }

    /// As [`Encoder::decode`], but each numeric column holds the generated standard-normal
    /// score itself (NaN where the row's value is missing): what a score map is fitted to.
    pub fn decode_scores(&self, x: &[f32], labels: Option<&[u32]>, n: usize) -> Result<Table> {
        self.decode_as(x, labels, n, true)
    }

    fn decode_as(
        &self,
        x: &[f32],
        labels: Option<&[u32]>,
        n: usize,
        scores: bool,
    ) -> Result<Table> {
        let w = self.width();
        if x.len() != n * w {
            return Err(Error::invalid("encoded rows have the wrong size"));
        }
        let mut columns: Vec<Option<ColumnData>> = vec![None; self.schema.columns.len()];
        let mut off = self.numeric.len();
        let mut block_values: Vec<Vec<u32>> = Vec::with_capacity(self.blocks.len());
        for b in &self.blocks {
            let vals = (0..n)
                .map(|i| {
                    let row = &x[i * w + off..i * w + off + b.size];
                    let mut best = 0;
                    for (k, &v) in row.iter().enumerate() {
                        if v > row[best] {
                            best = k;
                        }
                    }
                    best as u32
                })
                .collect();
            block_values.push(vals);
            off += b.size;
        }
        for (b, vals) in self.blocks.iter().zip(&block_values) {
            if let BlockSource::Column {
                column,
                has_missing,
            } = b.source
            {
                let miss = b.size as u32 - 1;
                let codes = vals
                    .iter()
                    .map(|&c| if has_missing && c == miss { MISSING } else { c })
                    .collect();
                columns[column] = Some(ColumnData::Categorical(codes));
            }
        }
        for (k, ne) in self.numeric.iter().enumerate() {
            let vals = (0..n)
                .map(|i| {
                    let missing = ne.missing_block.is_some_and(|b| block_values[b][i] == 1);
                    if missing {
                        f64::NAN
                    } else if scores {
                        x[i * w + k] as f64
                    } else {
                        ne.inverse(x[i * w + k] as f64)
                    }
                })
                .collect();
            columns[ne.column] = Some(ColumnData::Numeric(vals));
        }
        if let Some(l) = &self.label {
            let ls = labels.ok_or_else(|| Error::invalid("labels are required to decode"))?;
            if ls.len() != n || ls.iter().any(|&c| c as usize >= l.n_classes) {
                return Err(Error::invalid(
                    "labels have the wrong size or an unknown class",
                ));
            }
            columns[l.column] = Some(ColumnData::Categorical(ls.to_vec()));
        }
        let columns = columns
            .into_iter()
            .map(|c| c.ok_or_else(|| Error::invalid("encoder does not cover every column")))
            .collect::<Result<Vec<_>>>()?;
        Table::new(self.schema.clone(), columns)
    }
}

/// Appends the two-level missing-indicator block of each numeric column listed (by position
/// in `numeric`), after the categorical columns' blocks.
pub(crate) fn add_missing_indicators(
    numeric: &mut [NumericEncoder],
    blocks: &mut Vec<CatBlock>,
    which: &[usize],
) {
    for &k in which {
        numeric[k].missing_block = Some(blocks.len());
        blocks.push(CatBlock {
            source: BlockSource::MissingIndicator {
                column: numeric[k].column,
            },
            size: 2,
        });
    }
}

impl NumericEncoder {
    /// Value → standard-normal score; `jitter` in (0, 1) places an atom inside its interval.
    pub fn forward(&self, v: f64, jitter: f64) -> f64 {
        let q = &self.quantiles;
        let atom = self
            .atoms
            .binary_search_by(|a| a.value.total_cmp(&v))
            .ok()
            .map(|i| self.atoms[i]);
        let p = if let Some(a) = atom {
            a.lo + jitter * (a.hi - a.lo)
        } else if v - BOUNDS < q[0] {
            0.0
        } else if v + BOUNDS > q[q.len() - 1] {
            1.0
        } else {
            interp_mid(v, q, &self.references)
        };
        norm_ppf(p.clamp(BOUNDS, 1.0 - BOUNDS)).clamp(-SCORE_LIMIT, SCORE_LIMIT)
    }

    /// Standard-normal score → value in the observed range, rounded or snapped as fitted.
    pub fn inverse(&self, z: f64) -> f64 {
        let q = &self.quantiles;
        let p = match &self.score_map {
            Some(m) => score_map_cdf(z, m),
            None => norm_cdf(z),
        };
        let i = self.atoms.partition_point(|a| a.hi < p);
        if let Some(a) = self.atoms.get(i).filter(|a| a.lo <= p) {
            return a.value;
        }
        let mut v = if p - BOUNDS < 0.0 {
            q[0]
        } else if p + BOUNDS > 1.0 {
            q[q.len() - 1]
        } else {
            interp_linear(p, &self.references, q)
        };
        if let Some(s) = &self.snap {
            let i = s.partition_point(|&u| u < v);
            v = if i == 0 {
                s[0]
            } else if i == s.len() || (v - s[i - 1]) <= (s[i] - v) {
                s[i - 1]
            } else {
                s[i]
            };
        } else if self.integer {
            v = v.round();
        } else if let Some(d) = self.decimals {
            v = round_to(v, d);
        }
        v.clamp(q[0], q[q.len() - 1])
    }
}

/// Plain linear interpolation on strictly increasing `xp`.
fn interp_linear(x: f64, xp: &[f64], fp: &[f64]) -> f64 {
    let hi = xp.partition_point(|&v| v < x).clamp(1, xp.len() - 1);
    let (x0, x1) = (xp[hi - 1], xp[hi]);
    fp[hi - 1] + (x - x0) / (x1 - x0) * (fp[hi] - fp[hi - 1])
}

#[cfg(test)]
mod score_map_tests {
    use super::*;

    #[test]
    fn score_map_cdf_is_monotone_with_mid_ranks_for_ties() {
        let map = [-1.0, 0.0, 0.0, 0.0, 2.0];
        assert_eq!(
            score_map_cdf(0.0, &map),
            0.5,
            "a run of ties takes its middle"
        );
        assert_eq!(score_map_cdf(-1.0, &map), 0.1);
        assert!(
            (score_map_cdf(1.0, &map) - 0.8).abs() < 1e-12,
            "linear between 0.7 and 0.9"
        );
        assert_eq!(score_map_cdf(-SCORE_LIMIT, &map), 0.0);
        assert_eq!(score_map_cdf(SCORE_LIMIT, &map), 1.0);
        let mut last = -1.0;
        for i in 0..=1000 {
            let z = -SCORE_LIMIT + 2.0 * SCORE_LIMIT * i as f64 / 1000.0;
            let p = score_map_cdf(z, &map);
            assert!(
                (0.0..=1.0).contains(&p) && p >= last,
                "z {z}: {p} after {last}"
            );
            last = p;
        }
        // A map of standard-normal quantiles is about Φ.
        let n = 256;
        let normal: Vec<f64> = (0..n)
            .map(|k| crate::stats::norm_ppf(score_map_level(k, n)))
            .collect();
        for z in [-2.0, -0.5, 0.0, 0.7, 1.9] {
            assert!(
                (score_map_cdf(z, &normal) - norm_cdf(z)).abs() < 2e-3,
                "z {z}"
            );
        }
    }
}

#[cfg(test)]
mod score_limit_tests {
    use super::*;

    #[test]
    fn score_limit_is_the_quantile_bound() {
        assert_eq!(
            SCORE_LIMIT,
            norm_ppf(1.0 - BOUNDS),
            "{:?}",
            norm_ppf(1.0 - BOUNDS)
        );
    }
}

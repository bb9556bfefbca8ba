//! The encoder fitted under differential privacy: level sets, bounds and missingness from
//! the public schema; numeric quantiles from noisy histograms over the declared bounds; the
//! target's class frequencies from noisy counts. All counts form one vector released by one
//! Gaussian mechanism: each row adds at most 1 to one bin of each of the m histograms, so the
//! vector's L2 sensitivity is √m.
//!
//! A continuous column's histogram has an exact bin for each declared bound (zeros and
//! top-coded values are common point masses) and equal-width bins between them.

use serde::{Deserialize, Serialize};

use super::{Atom, BlockSource, CatBlock, Encoder, LabelSpec, NumericEncoder, SNAP_MAX_DISTINCT};
use crate::error::{Error, Result};
use crate::table::{ColumnData, PublicColumnKind, PublicSchema, Table, MISSING};

/// The most equal-width bins of a numeric column's histogram.
pub const CONTINUOUS_BINS: usize = 100;
/// The fewest equal-width bins, however few rows or loud the noise.
pub const MIN_BINS: usize = 4;
/// A histogram has about n / (this × σ) bins: a bin's expected count is then at least twice
/// the noise's standard deviation σ. Finer bins on few rows release mostly noise (on 372 rows
/// at ε = 1 with 100 bins per column, the column score of the calibrated output was 0.46).
pub const ROWS_PER_BIN_SD: f64 = 2.0;

/// The bins a numeric histogram gets on `n` rows (public) with noise of standard deviation
/// `noise_sd` per count: the equal-width bins of a continuous column, and the most values an
/// integer column may have to get one bin per value.
pub fn histogram_bins(n: usize, noise_sd: f64) -> usize {
    let b = n as f64 / (ROWS_PER_BIN_SD * noise_sd.max(1e-9));
    if b.is_finite() {
        (b as usize).clamp(MIN_BINS, CONTINUOUS_BINS)
    } else {
        CONTINUOUS_BINS
    }
}

/// The Euclidean projection of noisy counts onto the counts with this total (non-negative):
/// each count less a common τ, clamped at 0. Clamping alone lifts every empty bin to its
/// noise's positive part, which on few rows and many bins outweighs the real mass.
pub fn project_counts(noisy: &[f64], total: f64) -> Vec<f64> {
    let total = total.max(0.0);
    let mut sorted: Vec<f64> = noisy.iter().copied().filter(|x| x.is_finite()).collect();
    if sorted.is_empty() || total == 0.0 {
        return vec![0.0; noisy.len()];
    }
    sorted.sort_by(|a, b| b.total_cmp(a));
    // The largest k with sorted[k-1] − τ_k > 0, where τ_k = (Σ_{i<k} sorted[i] − total) / k.
    let (mut sum, mut tau) = (0.0, 0.0);
    for (k, &x) in sorted.iter().enumerate() {
        sum += x;
        let t = (sum - total) / (k + 1) as f64;
        if x - t > 0.0 {
            tau = t;
        } else {
            break;
        }
    }
    noisy
        .iter()
        .map(|&x| {
            if x.is_finite() {
                (x - tau).max(0.0)
            } else {
                0.0
            }
        })
        .collect()
}

/// What the private preprocessing released and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreprocessingRecord {
    /// Noise multiplier z: each count gets N(0, (z·sensitivity)²).
    pub noise_multiplier: f64,
    /// L2 sensitivity of the count vector, √(number of histograms).
    pub sensitivity: f64,
    pub histograms: usize,
    pub counts: usize,
    /// The most bins of a numeric histogram (about n / (2σ), 4 to 100; absent in models from before
    /// it adapted to the rows and the noise, which used 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bins: Option<usize>,
}

/// The bins of one numeric column: one per integer value, or equal-width.
#[derive(Debug, Clone, Copy)]
struct Bins {
    min: f64,
    max: f64,
    n: usize,
    per_integer: bool,
}

impl Bins {
    fn of(kind: &PublicColumnKind, max_bins: usize) -> Option<Bins> {
        let PublicColumnKind::Numeric { integer, min, max } = *kind else {
            return None;
        };
        let (lo, hi) = (min.ceil(), max.floor());
        if integer && hi >= lo && ((hi - lo) as usize) < max_bins {
            Some(Bins {
                min: lo,
                max: hi,
                n: (hi - lo) as usize + 1,
                per_integer: true,
            })
        } else {
            Some(Bins {
                min,
                max,
                n: max_bins,
                per_integer: false,
            })
        }
    }
    /// Bins in all: the per-integer bins, or the equal-width bins and the two bound atoms.
    fn len(&self) -> usize {
        if self.per_integer {
            self.n
        } else {
            self.n + 2
        }
    }
    /// Bin of a value: continuous columns have bin 0 for exactly `min`, 1..=n between, and
    /// n + 1 for exactly `max`.
    fn index(&self, v: f64) -> usize {
        if self.per_integer {
            ((v.round() - self.min).max(0.0) as usize).min(self.n - 1)
        } else if v <= self.min {
            0
        } else if v >= self.max {
            self.n + 1
        } else {
            1 + (((v - self.min) / (self.max - self.min) * self.n as f64) as usize).min(self.n - 1)
        }
    }
}

/// The number of histograms (numeric columns, and the label's class counts).
pub fn histogram_count(public: &PublicSchema, target: Option<usize>) -> usize {
    let numeric = public
        .columns
        .iter()
        .filter(|c| matches!(c.kind, PublicColumnKind::Numeric { .. }))
        .count();
    numeric
        + target
            .filter(|&t| matches!(public.columns[t].kind, PublicColumnKind::Categorical { .. }))
            .map_or(0, |_| 1)
}

/// The exact count vector the mechanism releases (before noise), for a table already in the
/// public schema's terms: each numeric column's histogram (`max_bins` from
/// [`histogram_bins`]), then the target's class counts.
pub fn private_counts(
    table: &Table,
    public: &PublicSchema,
    target: Option<usize>,
    max_bins: usize,
) -> Vec<f64> {
    let mut out = Vec::new();
    for (j, c) in public.columns.iter().enumerate() {
        if let (Some(b), ColumnData::Numeric(v)) = (Bins::of(&c.kind, max_bins), table.column(j)) {
            let start = out.len();
            out.resize(start + b.len(), 0.0);
            for &x in v.iter().filter(|x| !x.is_nan()) {
                out[start + b.index(x)] += 1.0;
            }
        }
    }
    if let Some(t) = target {
        if let (PublicColumnKind::Categorical { levels }, ColumnData::Categorical(v)) =
            (&public.columns[t].kind, table.column(t))
        {
            let start = out.len();
            out.resize(start + levels.len(), 0.0);
            for &c in v.iter().filter(|&&c| c != MISSING) {
                out[start + c as usize] += 1.0;
            }
        }
    }
    out
}

/// Fits the encoder from the public schema and the noisy counts. `noisy` must be
/// [`private_counts`] (with the same `max_bins`) plus the mechanism's noise; `n` is the
/// (public) number of rows. Each histogram is projected onto the counts of its total (`n`
/// for a column that is never missing, else its noisy sum) before its quantiles are read.
pub fn encoder_from_counts(
    public: &PublicSchema,
    target: Option<usize>,
    noisy: &[f64],
    n: usize,
    max_bins: usize,
) -> Result<Encoder> {
    let schema = public.schema();
    let mut numeric = Vec::new();
    let mut blocks = Vec::new();
    let mut label = None;
    let mut indicator_for = Vec::new();
    let mut off = 0;
    let nq = (n / 30).clamp(10, 1000);
    let references: Vec<f64> = (0..nq).map(|i| i as f64 / (nq - 1) as f64).collect();
    for (j, c) in public.columns.iter().enumerate() {
        match &c.kind {
            PublicColumnKind::Numeric { integer, .. } => {
                let b = Bins::of(&c.kind, max_bins).expect("numeric");
                let raw = &noisy[off..off + b.len()];
                let total = if c.missing {
                    raw.iter().sum::<f64>().clamp(0.0, n as f64)
                } else {
                    n as f64
                };
                let counts = project_counts(raw, total);
                off += b.len();
                let total: f64 = counts.iter().sum();
                // Without signal (all noise clamped to 0), fall back to a uniform histogram.
                let probs: Vec<f64> = if total > 0.0 {
                    counts.iter().map(|x| x / total).collect()
                } else {
                    vec![1.0 / b.len() as f64; b.len()]
                };
                let mut cdf = Vec::with_capacity(b.len() + 1);
                cdf.push(0.0);
                for p in &probs {
                    cdf.push((cdf[cdf.len() - 1] + p).min(1.0));
                }
                let (quantiles, atoms, snap) = if b.per_integer {
                    let values: Vec<f64> = (0..b.n).map(|i| b.min + i as f64).collect();
                    let atoms: Vec<Atom> = values
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| Atom {
                            value: v,
                            lo: cdf[i],
                            hi: cdf[i + 1],
                        })
                        .collect();
                    let q = references
                        .iter()
                        .map(|&r| values[cdf[1..].partition_point(|&f| f < r).min(b.n - 1)])
                        .collect();
                    (q, atoms, (b.n <= SNAP_MAX_DISTINCT).then_some(values))
                } else {
                    // Bins: [min] atom, n equal-width bins, [max] atom.
                    let width = (b.max - b.min) / b.n as f64;
                    let atoms = vec![
                        Atom {
                            value: b.min,
                            lo: cdf[0],
                            hi: cdf[1],
                        },
                        Atom {
                            value: b.max,
                            lo: cdf[b.n + 1],
                            hi: cdf[b.n + 2],
                        },
                    ];
                    let q = references
                        .iter()
                        .map(|&r| {
                            let i = cdf[1..].partition_point(|&f| f < r).min(b.len() - 1);
                            if i == 0 {
                                return b.min;
                            }
                            if i == b.n + 1 {
                                return b.max;
                            }
                            let within = if probs[i] > 0.0 {
                                ((r - cdf[i]) / probs[i]).clamp(0.0, 1.0)
                            } else {
                                0.0
                            };
                            b.min + ((i - 1) as f64 + within) * width
                        })
                        .collect();
                    (q, atoms, None)
                };
                let mut quantiles: Vec<f64> = quantiles;
                for i in 1..quantiles.len() {
                    quantiles[i] = quantiles[i].max(quantiles[i - 1]);
                }
                if c.missing {
                    indicator_for.push(numeric.len());
                }
                numeric.push(NumericEncoder {
                    column: j,
                    quantiles,
                    references: references.clone(),
                    integer: *integer,
                    snap,
                    atoms,
                    missing_block: None,
                    decimals: None,
                    score_map: None,
                });
            }
            PublicColumnKind::Categorical { levels } => {
                if Some(j) == target {
                    if c.missing {
                        return Err(Error::invalid(format!("the target column '{}' is declared as possibly missing; a target must always be present", c.name)));
                    }
                    label = Some(j);
                    continue;
                }
                blocks.push(CatBlock {
                    source: BlockSource::Column {
                        column: j,
                        has_missing: c.missing,
                    },
                    size: levels.len() + c.missing as usize,
                });
            }
        }
    }
    super::add_missing_indicators(&mut numeric, &mut blocks, &indicator_for);
    let label = match label {
        None => None,
        Some(t) => {
            let PublicColumnKind::Categorical { levels } = &public.columns[t].kind else {
                unreachable!()
            };
            let counts = project_counts(&noisy[off..off + levels.len()], n as f64);
            let counts = if counts.iter().sum::<f64>() > 0.0 {
                counts
            } else {
                vec![1.0; levels.len()]
            };
            Some(LabelSpec {
                column: t,
                n_classes: levels.len(),
                counts,
            })
        }
    };
    Ok(Encoder {
        schema,
        numeric,
        blocks,
        label,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_keeps_the_total_and_removes_the_noise_floor() {
        let exact = [0.0, 0.0, 50.0, 30.0, 0.0, 20.0, 0.0, 0.0];
        assert_eq!(
            project_counts(&exact, 100.0),
            exact.to_vec(),
            "exact counts stay"
        );
        let noisy = [6.0, -4.0, 57.0, 26.0, 9.0, 15.0, -8.0, 3.0];
        let p = project_counts(&noisy, 100.0);
        assert!((p.iter().sum::<f64>() - 100.0).abs() < 1e-9);
        assert!(p.iter().all(|&x| x >= 0.0));
        // One common shift: every positive count moved by the same τ.
        let shifts: Vec<f64> = noisy
            .iter()
            .zip(&p)
            .filter(|(_, &y)| y > 0.0)
            .map(|(x, y)| x - y)
            .collect();
        assert!(
            shifts.windows(2).all(|w| (w[0] - w[1]).abs() < 1e-9),
            "{shifts:?}"
        );
        assert!(p[1] == 0.0 && p[6] == 0.0);
        // Noise that sums below the total raises every count.
        let low = project_counts(&[10.0, 20.0, 30.0], 90.0);
        assert_eq!(low, vec![20.0, 30.0, 40.0]);
        assert_eq!(project_counts(&[-1.0, -2.0], 0.0), vec![0.0, 0.0]);
    }
}

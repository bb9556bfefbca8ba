//! Target-pair marginals of a private fit, and sampling that honours them.
//!
//! On a small table DP-SGD's noise leaves the network a weak grip on how each column moves
//! with the target, which is what a model trained on the synthetic rows needs most. A private
//! fit on few rows therefore spends a share of ε on one more Gaussian mechanism: the counts of
//! (target class, column cell) for every other column, where a numeric column's cells are
//! equal-frequency bins of the trained model's own output (post-processing of what is already
//! released) and a categorical column's cells are its levels; missing values have a cell of
//! their own. Each row falls into one cell of each of the K tables, so the vector's L2
//! sensitivity is √K; the mechanism is composed with the preprocessing and DP-SGD in the same
//! accountant.
//!
//! Sampling then rakes: each output block of [`super::BLOCK_ROWS`] rows is chosen from a pool
//! of [`PAIR_POOL`] blocks of the model's rows, weighted by iterative proportional fitting so
//! that the pool's (class, cell) frequencies match the released ones, and drawn without
//! replacement by systematic sampling with probabilities proportional to the weights. Raking
//! reads only the model and the released counts: it costs no privacy. A block depends only on
//! its own pool and a draw keyed by (seed, block), so ranges and shards still reproduce one run.

use serde::{Deserialize, Serialize};

use super::{SampleOptions, Synthesizer};
use crate::diffusion::uniform;
use crate::encode::project_counts;
use crate::error::{Error, Result};
use crate::privacy::gaussian_release;
use crate::progress::ProgressFn;
use crate::rng::row_rng;
use crate::table::{ColumnData, ColumnKind, Table, MISSING};

/// Model blocks per output block when sampling raked rows (sampling costs as much more).
pub const PAIR_POOL: usize = 4;
/// The most and fewest bins of a numeric column's cells.
pub const PAIR_MAX_BINS: usize = 16;
pub const PAIR_MIN_BINS: usize = 2;
/// Rows sampled from the trained model to place a numeric column's bin edges.
pub const PAIR_EDGE_ROWS: usize = 8192;
/// Sweeps of iterative proportional fitting over the tables.
pub const RAKE_SWEEPS: usize = 50;
/// The most a weight moves in one adjustment (a cell the pool hardly fills would otherwise
/// hand a few rows all the weight).
const RAKE_STEP_LIMIT: f64 = 20.0;
/// Seed and stream of the per-block selection draws, apart from the labels' and diffusion's.
const RAKE_SEED: u64 = 0x4A4E_0000;
const RAKE_STREAM: u64 = u64::MAX - 2;
/// The release number of the pair counts in the mechanism's keystream (preprocessing is 0).
const PAIR_RELEASE: u32 = 1;

/// One released table: the counts of (target class, cell of `column`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairMarginal {
    /// The column's index in the model's schema.
    pub column: usize,
    /// A numeric column's interior bin edges, increasing (a value v lies in bin
    /// #{edges ≤ v}; the cell after the last bin holds missing values). None for a
    /// categorical column: one cell per level, then missing.
    pub edges: Option<Vec<f64>>,
    /// Cells per class.
    pub cells: usize,
    /// Noisy counts projected onto the non-negative counts of the rows' total, class-major
    /// (class c, cell k at c × cells + k).
    pub counts: Vec<f64>,
}

impl PairMarginal {
    fn cell(&self, data: &ColumnData, i: usize) -> usize {
        match (data, &self.edges) {
            (ColumnData::Numeric(v), Some(edges)) => {
                let x = v[i];
                if x.is_nan() {
                    self.cells - 1
                } else {
                    edges.partition_point(|&e| e <= x)
                }
            }
            (ColumnData::Categorical(c), _) => {
                if c[i] == MISSING {
                    self.cells - 1
                } else {
                    (c[i] as usize).min(self.cells - 2)
                }
            }
            // Checked when the model is read: a numeric column has edges.
            (ColumnData::Numeric(_), None) => self.cells - 1,
        }
    }
}

/// The released target-pair marginals a model samples by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetPairs {
    /// The target's column index in the model's schema.
    pub target: usize,
    pub classes: usize,
    pub pairs: Vec<PairMarginal>,
}

/// What the target-pair release spent and measured, as the model records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetPairsRecord {
    /// The share of ε given to the release (the accountant composes it with the others).
    pub share: f64,
    /// Noise multiplier z of the release (noise standard deviation z × √K per count).
    pub noise_multiplier: f64,
    /// √K for K tables.
    pub sensitivity: f64,
    pub tables: usize,
    /// Bins of a numeric column's cells.
    pub bins: usize,
    /// Counts released.
    pub counts: usize,
    /// Model blocks per output block when sampling.
    pub pool: usize,
}

/// The bins of a numeric column's cells on `n` rows with `classes` classes and noise of
/// standard deviation `noise_sd` per count: a cell's expected count at least twice the noise.
pub fn pair_bins(n: usize, classes: usize, noise_sd: f64) -> usize {
    let b = n as f64 / (2.0 * noise_sd.max(1e-9) * classes.max(1) as f64);
    if b.is_finite() {
        (b as usize).clamp(PAIR_MIN_BINS, PAIR_MAX_BINS)
    } else {
        PAIR_MAX_BINS
    }
}

/// The exact counts of (class, cell) of each table's layout in `table`, concatenated: what the
/// release adds noise to. A row adds 1 to one cell of each table (none if its class is missing),
/// so the vector's L2 sensitivity is √K.
fn pair_counts(pairs: &[PairMarginal], table: &Table, y: &[u32], classes: usize) -> Vec<f64> {
    let mut flat = Vec::new();
    for p in pairs {
        let mut counts = vec![0.0; p.cells * classes];
        let data = table.column(p.column);
        for (i, &c) in y.iter().enumerate() {
            if c != MISSING && (c as usize) < classes {
                counts[c as usize * p.cells + p.cell(data, i)] += 1.0;
            }
        }
        flat.extend(counts);
    }
    flat
}

/// Interior edges of `bins` equal-frequency bins of the finite values of `v`.
fn quantile_edges(v: &[f64], bins: usize) -> Vec<f64> {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return Vec::new();
    }
    s.sort_by(f64::total_cmp);
    // An edge at the minimum would leave the first bin empty: a point mass there (zeros are
    // common) becomes a bin of its own, split from the next larger value.
    let above_min = s.iter().copied().find(|&x| x > s[0]);
    let mut edges: Vec<f64> = (1..bins)
        .filter_map(|k| {
            let e = s[(k * s.len() / bins).min(s.len() - 1)];
            if e > s[0] {
                Some(e)
            } else {
                above_min
            }
        })
        .collect();
    edges.dedup();
    edges
}

impl TargetPairs {
    /// Checks what a model file holds against the model's schema.
    pub(super) fn validate(&self, schema: &crate::table::Schema) -> Result<()> {
        let bad = |what: &str| {
            Err(Error::format(format!(
                "the model's target pairs are invalid: {what}"
            )))
        };
        let Some(t) = schema.columns.get(self.target) else {
            return bad("the target is not a column");
        };
        let ColumnKind::Categorical { levels } = &t.kind else {
            return bad("the target is not categorical");
        };
        if levels.len() != self.classes {
            return bad("the classes do not match the target's levels");
        }
        for p in &self.pairs {
            let Some(c) = schema.columns.get(p.column) else {
                return bad("a column does not exist");
            };
            let cells = match (&c.kind, &p.edges) {
                (ColumnKind::Numeric { .. }, Some(e)) => {
                    if e.windows(2).any(|w| w[0] >= w[1]) || e.iter().any(|x| !x.is_finite()) {
                        return bad("bin edges are not increasing");
                    }
                    e.len() + 2
                }
                (ColumnKind::Categorical { levels }, None) => levels.len() + 1,
                _ => return bad("a table's cells do not match its column's kind"),
            };
            if p.column == self.target {
                return bad("a table pairs the target with itself");
            }
            if p.cells != cells || p.counts.len() != cells * self.classes {
                return bad(&format!(
                    "column {}'s table has {} cells per class and {} counts where its column gives {cells} cells and {} classes",
                    p.column,
                    p.cells,
                    p.counts.len(),
                    self.classes
                ));
            }
            if p.counts.iter().any(|x| !(x.is_finite() && *x >= 0.0)) {
                return bad(&format!(
                    "column {}'s table has a negative or non-finite count",
                    p.column
                ));
            }
        }
        Ok(())
    }

    /// The places (increasing) of `keep` rows of `pool` chosen so that their (class, cell)
    /// frequencies follow the released ones; `u` in [0, 1) positions the systematic draw.
    pub(super) fn select(&self, pool: &Table, keep: usize, u: f64) -> Result<Vec<usize>> {
        let n = pool.n_rows();
        if keep >= n {
            return Ok((0..n).collect());
        }
        let ColumnData::Categorical(y) = pool.column(self.target) else {
            return Err(Error::format("the model's target is not categorical"));
        };
        // Each row's cell in each table.
        let tables: Vec<(Vec<usize>, Vec<f64>)> = self
            .pairs
            .iter()
            .map(|p| {
                let data = pool.column(p.column);
                let cells = (0..n)
                    .map(|i| (y[i] as usize).min(self.classes - 1) * p.cells + p.cell(data, i))
                    .collect();
                let total: f64 = p.counts.iter().sum();
                let share = p.counts.iter().map(|c| c / total.max(1e-300)).collect();
                (cells, share)
            })
            .collect();
        let mut w = vec![1.0f64; n];
        let mut sums = Vec::new();
        for _ in 0..RAKE_SWEEPS {
            for (cells, share) in &tables {
                sums.clear();
                sums.resize(share.len(), 0.0);
                for (i, &c) in cells.iter().enumerate() {
                    sums[c] += w[i];
                }
                let total: f64 = sums.iter().sum();
                for (i, &c) in cells.iter().enumerate() {
                    if sums[c] > 0.0 {
                        let f = share[c] * total / sums[c];
                        w[i] *= f.clamp(1.0 / RAKE_STEP_LIMIT, RAKE_STEP_LIMIT);
                    }
                }
            }
            // Keep the weights' scale near 1 (only ratios matter).
            let mean = w.iter().sum::<f64>() / n as f64;
            if mean > 0.0 && mean.is_finite() {
                w.iter_mut().for_each(|x| *x /= mean);
            }
        }
        Ok(systematic_pps(&w, keep, u))
    }
}

/// `keep` distinct places chosen with probabilities proportional to `w` (capped at 1, the
/// excess spread over the others), by systematic sampling from `u`.
fn systematic_pps(w: &[f64], keep: usize, u: f64) -> Vec<usize> {
    let n = w.len();
    let mut pi: Vec<f64> = w
        .iter()
        .map(|&x| if x.is_finite() { x.max(0.0) } else { 0.0 })
        .collect();
    let mut capped = vec![false; n];
    for _ in 0..n {
        let fixed = capped.iter().filter(|&&c| c).count();
        let free: f64 = pi
            .iter()
            .zip(&capped)
            .filter(|(_, &c)| !c)
            .map(|(p, _)| p)
            .sum();
        if free <= 0.0 {
            break;
        }
        let scale = (keep - fixed) as f64 / free;
        let mut changed = false;
        for i in 0..n {
            if !capped[i] {
                pi[i] *= scale;
                if pi[i] >= 1.0 {
                    pi[i] = 1.0;
                    capped[i] = true;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut picks = Vec::with_capacity(keep);
    let mut cum = 0.0;
    let mut next = u;
    for (i, &p) in pi.iter().enumerate() {
        cum += p;
        if cum > next && picks.len() < keep {
            picks.push(i);
            next += 1.0;
        }
    }
    // Rounding can leave the last draw short: fill from the largest probabilities left.
    if picks.len() < keep {
        let mut rest: Vec<usize> = (0..n).filter(|i| picks.binary_search(i).is_err()).collect();
        rest.sort_by(|&a, &b| pi[b].total_cmp(&pi[a]));
        picks.extend(rest.into_iter().take(keep - picks.len()));
        picks.sort_unstable();
    }
    picks
}

impl Synthesizer {
    /// Releases the target-pair counts of `table` (the rows the model was fitted to, in its
    /// schema) with noise multiplier `z` under the fit's mechanism `key`, the numeric bins
    /// placed by the model's own output; returns the model that samples by them.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn with_target_pairs(
        &self,
        table: &Table,
        z: f64,
        share: f64,
        key: &[u8; 32],
        seed: u64,
        opts: &SampleOptions,
        progress: ProgressFn,
    ) -> Result<(Synthesizer, TargetPairsRecord)> {
        let label = self.encoder.label.as_ref().ok_or_else(|| {
            Error::invalid("target-pair marginals need a model conditioned on a categorical target")
        })?;
        let (target, classes) = (label.column, label.n_classes);
        let n = table.n_rows();
        let schema = &self.encoder.schema;
        let columns: Vec<usize> = (0..schema.columns.len()).filter(|&j| j != target).collect();
        let k = columns.len();
        if k == 0 {
            return Err(Error::invalid(
                "target-pair marginals need a column besides the target",
            ));
        }
        let sd = z * (k as f64).sqrt();
        let bins = pair_bins(n, classes, sd);
        let mut plain = self.clone();
        plain.pairs = None;
        let opts = SampleOptions {
            label: None,
            labels: None,
            ..opts.clone()
        };
        let sample = plain.sample(PAIR_EDGE_ROWS, seed ^ 0x0E_D6E5, &opts, progress)?;
        let ColumnData::Categorical(y) = table.column(target) else {
            return Err(Error::invalid("the target is not categorical"));
        };
        let mut pairs = Vec::with_capacity(k);
        for &j in &columns {
            let (edges, cells) = match (&schema.columns[j].kind, sample.column(j)) {
                (ColumnKind::Numeric { .. }, ColumnData::Numeric(v)) => {
                    let e = quantile_edges(v, bins);
                    let c = e.len() + 2;
                    (Some(e), c)
                }
                (ColumnKind::Categorical { levels }, _) => (None, levels.len() + 1),
                _ => {
                    return Err(Error::invalid(
                        "a sampled column's kind is not its schema's",
                    ))
                }
            };
            pairs.push(PairMarginal {
                column: j,
                edges,
                cells,
                counts: Vec::new(),
            });
        }
        let flat = pair_counts(&pairs, table, y, classes);
        let noisy = gaussian_release(&flat, sd, key, PAIR_RELEASE);
        let mut at = 0;
        for p in &mut pairs {
            let len = p.cells * classes;
            p.counts = project_counts(&noisy[at..at + len], n as f64);
            at += len;
        }
        let mut model = plain;
        model.pairs = Some(TargetPairs {
            target,
            classes,
            pairs,
        });
        Ok((
            model,
            TargetPairsRecord {
                share,
                noise_multiplier: z,
                sensitivity: (k as f64).sqrt(),
                tables: k,
                bins,
                counts: flat.len(),
                pool: PAIR_POOL,
            },
        ))
    }

    /// The uniform that positions output block `block`'s systematic draw.
    pub(super) fn rake_draw(seed: u64, block: u64) -> f64 {
        uniform(&mut row_rng(seed ^ RAKE_SEED, RAKE_STREAM, block))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systematic_draws_are_distinct_and_follow_the_weights() {
        let w: Vec<f64> = (0..400).map(|i| if i < 100 { 3.0 } else { 1.0 }).collect();
        let picks = systematic_pps(&w, 100, 0.37);
        assert_eq!(picks.len(), 100);
        assert!(picks.windows(2).all(|p| p[0] < p[1]));
        // Inclusion ∝ weight: 100 × 3/600 = 0.5 of the heavy rows, 1/6 of the others.
        let heavy = picks.iter().filter(|&&i| i < 100).count();
        assert_eq!(heavy, 50);
        // Capping: one weight beyond its share is taken once, the rest fill the draw.
        let mut w = vec![1.0; 10];
        w[3] = 1e6;
        let p = systematic_pps(&w, 5, 0.9);
        assert_eq!(p.len(), 5);
        assert!(p.contains(&3));
        assert_eq!(systematic_pps(&[0.0; 4], 2, 0.5).len(), 2);
    }

    #[test]
    fn pair_counts_have_sensitivity_sqrt_k() {
        use crate::table::{ColumnSpec, Schema};
        let n = 200;
        let y: Vec<u32> = (0..n).map(|i| (i % 3 == 0) as u32).collect();
        let x: Vec<f64> = (0..n)
            .map(|i| if i % 17 == 0 { f64::NAN } else { i as f64 })
            .collect();
        let z: Vec<u32> = (0..n)
            .map(|i| if i % 11 == 0 { MISSING } else { (i % 4) as u32 })
            .collect();
        let schema = Schema {
            columns: vec![
                ColumnSpec {
                    name: "x".into(),
                    kind: ColumnKind::Numeric { integer: false },
                },
                ColumnSpec {
                    name: "z".into(),
                    kind: ColumnKind::Categorical {
                        levels: (0..4).map(|l| l.to_string()).collect(),
                    },
                },
                ColumnSpec {
                    name: "y".into(),
                    kind: ColumnKind::Categorical {
                        levels: vec!["a".into(), "b".into()],
                    },
                },
            ],
        };
        let table = Table::new(
            schema,
            vec![
                ColumnData::Numeric(x),
                ColumnData::Categorical(z),
                ColumnData::Categorical(y.clone()),
            ],
        )
        .unwrap();
        let pairs = vec![
            PairMarginal {
                column: 0,
                edges: Some(vec![50.0, 120.0]),
                cells: 4,
                counts: Vec::new(),
            },
            PairMarginal {
                column: 1,
                edges: None,
                cells: 5,
                counts: Vec::new(),
            },
        ];
        let full = pair_counts(&pairs, &table, &y, 2);
        assert_eq!(full.len(), 2 * 4 + 2 * 5);
        assert!((full[..8].iter().sum::<f64>() - n as f64).abs() < 1e-12);
        // Missing values have their own cell: 12 rows of x (0, 17, …, 187), 19 of z.
        assert_eq!(full[3] + full[7], 12.0);
        assert_eq!(full[8 + 4] + full[8 + 9], 19.0);
        for r in [0, 11, 17, 100, 199] {
            let keep: Vec<usize> = (0..n).filter(|&i| i != r).collect();
            let t2 = table.select_rows(&keep);
            let y2: Vec<u32> = keep.iter().map(|&i| y[i]).collect();
            let c2 = pair_counts(&pairs, &t2, &y2, 2);
            let d: f64 = full
                .iter()
                .zip(&c2)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!(
                (d - 2f64.sqrt()).abs() < 1e-12,
                "row {r}: the counts move by {d}"
            );
        }
    }

    #[test]
    fn edges_split_the_values_evenly_and_bins_follow_the_noise() {
        let v: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        assert_eq!(quantile_edges(&v, 4), vec![250.0, 500.0, 750.0]);
        // A point mass gives fewer, distinct edges, none at the minimum.
        let mut m = vec![0.0; 900];
        m.extend((0..100).map(|i| i as f64 + 1.0));
        assert_eq!(quantile_edges(&m, 4), vec![1.0]);
        m.extend((0..1000).map(|i| i as f64 + 200.0));
        let e = quantile_edges(&m, 4);
        assert!(
            e.windows(2).all(|w| w[0] < w[1]) && e[0] > 0.0 && e.len() == 3,
            "{e:?}"
        );
        assert!(
            quantile_edges(&[f64::NAN, 3.0, 3.0], 4).is_empty(),
            "one value: one bin"
        );
        assert_eq!(pair_bins(400, 2, 37.0), 2);
        assert_eq!(pair_bins(3500, 2, 40.0), 21.min(PAIR_MAX_BINS));
        assert_eq!(pair_bins(3500, 2, 250.0), 3);
        assert_eq!(pair_bins(100_000, 2, 1.0), PAIR_MAX_BINS);
    }
}

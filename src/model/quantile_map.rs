//! Mapping a model's numeric output onto its fitted quantiles.
//!
//! Each numeric column is encoded as a standard-normal score through its fitted quantiles
//! (under DP, the quantiles of the released noisy histograms), and decoded through Φ and the
//! same quantiles. When the network's scores are not standard normal (DP-SGD's noise, or a
//! table too small to learn well), the decoded marginal is off by as much. The quantile map
//! samples the model once, keeps each numeric column's score quantiles, and from then on
//! decodes a score through its rank among them, so that the generated marginal is the fitted
//! one while the rows keep the model's order within each column (and so its dependence
//! between columns). It reads only the model and its encoder: under DP it is post-processing
//! and costs no privacy.

use serde::{Deserialize, Serialize};

use super::{SampleOptions, Synthesizer};
use crate::encode::{score_map_level, SCORE_LIMIT};
use crate::error::{Error, Result};
use crate::progress::ProgressFn;
use crate::stats::norm_cdf;
use crate::table::ColumnData;

/// Rows sampled to fit the map: each column's quantiles are then known to about ±1 point of
/// probability.
pub const QUANTILE_MAP_ROWS: usize = 8192;

/// Entries per column's map (its score quantiles at (k + ½) / 256).
pub const QUANTILE_MAP_LEVELS: usize = 256;

/// What a quantile map did, as the model records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantileMapRecord {
    /// Rows sampled to fit the map.
    pub rows: usize,
    /// Entries per numeric column.
    pub levels: usize,
    /// The largest Kolmogorov–Smirnov distance between a column's sampled scores and the
    /// standard normal before the map (what the map corrects; after it, about 0 up to
    /// sampling noise).
    pub largest_ks_before: f64,
}

/// The KS distance between sorted finite scores and the standard normal.
fn ks_to_normal(sorted: &[f64]) -> f64 {
    let n = sorted.len() as f64;
    sorted
        .iter()
        .enumerate()
        .map(|(i, &z)| {
            let f = norm_cdf(z);
            (f - i as f64 / n).abs().max((f - (i + 1) as f64 / n).abs())
        })
        .fold(0.0, f64::max)
}

impl Synthesizer {
    /// The model with each numeric column's output mapped onto its fitted quantiles (see the
    /// module's documentation), from [`QUANTILE_MAP_ROWS`] rows sampled with seeds derived
    /// from `seed` and `opts` (threads, device). A column that the sample leaves without a
    /// present value keeps Φ. Fine-tuning drops the map (the network it describes changes).
    pub fn quantile_mapped(
        &self,
        seed: u64,
        opts: &SampleOptions,
        progress: ProgressFn,
    ) -> Result<(Synthesizer, QuantileMapRecord)> {
        let mut model = self.clone();
        for ne in &mut model.encoder.numeric {
            ne.score_map = None;
        }
        let opts = SampleOptions {
            label: None,
            labels: None,
            ..opts.clone()
        };
        let rows = model.sample_scores(QUANTILE_MAP_ROWS, seed ^ 0x0A_4A9, &opts, progress)?;
        let mut largest = 0.0f64;
        for ne in &mut model.encoder.numeric {
            let ColumnData::Numeric(v) = rows.column(ne.column) else {
                return Err(Error::invalid(
                    "a numeric encoder's column is not numeric in the model's schema",
                ));
            };
            let mut s: Vec<f64> = v.iter().copied().filter(|z| z.is_finite()).collect();
            if s.is_empty() {
                continue;
            }
            s.sort_by(f64::total_cmp);
            largest = largest.max(ks_to_normal(&s));
            let n = s.len();
            let map = (0..QUANTILE_MAP_LEVELS)
                .map(|k| {
                    let at = score_map_level(k, QUANTILE_MAP_LEVELS) * n as f64 - 0.5;
                    let i = (at.floor().max(0.0) as usize).min(n - 1);
                    let j = (i + 1).min(n - 1);
                    let w = (at - i as f64).clamp(0.0, 1.0);
                    (s[i] * (1.0 - w) + s[j] * w).clamp(-SCORE_LIMIT, SCORE_LIMIT)
                })
                .collect();
            ne.score_map = Some(map);
        }
        Ok((
            model,
            QuantileMapRecord {
                rows: QUANTILE_MAP_ROWS,
                levels: QUANTILE_MAP_LEVELS,
                largest_ks_before: largest,
            },
        ))
    }
}

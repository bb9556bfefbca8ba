//! Privacy risk measured against real rows the generator never saw (a holdout): distance to
//! closest record (DCR) to the training rows vs to the holdout rows, the nearest-neighbour
//! distance ratio (NNDR), the memorisation share (the relative distance ratio of Yoon et al.
//! 2023), and a distance-based membership-inference attack.
//!
//! Distances are Euclidean in the [`DistanceEncoder`] space. Training and holdout rows are
//! subsampled to the same size, so that a generator that learned the distribution and not the
//! rows leaves synthetic rows closer to the training rows half of the time.

use serde::Serialize;

use super::distance::{nearest_both, nearest_two};
use super::encoding::DistanceEncoder;
use super::scores::roc_auc;
use super::subsample::subsample;
use crate::table::Table;

/// Distances this close count as ties.
const TIE: f64 = 1e-9;

/// A row is memorised when its closest training row is closer than this share of the distance
/// to the second closest.
pub const MEMORISED_RATIO: f64 = 1.0 / 3.0;

/// The share of closer-to-training rows above which the report warns.
pub const CLOSER_SHARE_WARNING: f64 = 0.6;

fn memorised_share(pairs: &[(f64, f64)]) -> f64 {
    if pairs.is_empty() {
        return f64::NAN;
    }
    pairs.iter().filter(|&&p| nndr(p) < MEMORISED_RATIO).count() as f64 / pairs.len() as f64
}

/// The privacy-risk section of the report.
#[derive(Debug, Clone, Serialize)]
pub struct PrivacyRisk {
    /// Share of synthetic rows closer to a training row than to any holdout row (ties count
    /// one half): about 0.5 is ideal, 1 means the synthetic rows copy training rows.
    pub closer_to_training_share: f64,
    /// Median distance from a synthetic row to its closest training row.
    pub median_dcr_training: f64,
    /// Median distance from a synthetic row to its closest holdout row.
    pub median_dcr_holdout: f64,
    /// Median over synthetic rows of (distance to the closest training row) / (to the second
    /// closest): near 0 means synthetic rows sit on individual training rows.
    pub nndr_median: f64,
    /// The same ratio for holdout rows, as a reference for what unseen real rows look like.
    pub nndr_median_holdout: f64,
    /// Memorisation: the share of synthetic rows whose closest training row is closer than a
    /// third of the distance to the second closest (the relative distance ratio, Yoon et al.
    /// 2023). Copies of training rows score 1.
    pub memorised_share: f64,
    /// The same share for holdout rows against the training rows: what unseen real rows give.
    pub memorised_share_holdout: f64,
    /// ROC AUC of the attack that calls a real row a training member when a synthetic row lies
    /// close to it (members: training rows; non-members: holdout rows): 0.5 is ideal, 1 means
    /// membership is plain to see.
    pub membership_auc: f64,
    /// Rows used from each table (subsampled when a table is larger).
    pub training_rows: usize,
    pub holdout_rows: usize,
    pub synthetic_rows: usize,
    pub subsampled: bool,
    pub distance: &'static str,
}

/// Describes the distance for the report.
pub const DISTANCE: &str =
    "Euclidean; numeric columns scaled to [0, 1] over the real range, categorical one-hot";

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn nndr((d1, d2): (f64, f64)) -> f64 {
    if d2 <= TIE {
        1.0
    } else if d2.is_infinite() {
        0.0
    } else {
        d1 / d2
    }
}

/// Privacy risk of `syn` given the generator's training rows `real` and unseen `holdout` rows
/// (all with one schema, at least one row each), using at most `max_rows` rows of each.
pub fn privacy_risk(
    enc: &DistanceEncoder,
    real: &Table,
    syn: &Table,
    holdout: &Table,
    max_rows: usize,
    seed: u64,
) -> PrivacyRisk {
    let h = max_rows.min(real.n_rows()).min(holdout.n_rows()).max(1);
    let s = max_rows.min(syn.n_rows()).max(1);
    let tr_idx = subsample(real.n_rows(), h, seed, 0x7AA1);
    let ho_idx = subsample(holdout.n_rows(), h, seed, 0x7AA2);
    let sy_idx = subsample(syn.n_rows(), s, seed, 0x7AA3);
    let subsampled = h < real.n_rows() || h < holdout.n_rows() || s < syn.n_rows();
    let tr = enc.encode(real, Some(&tr_idx));
    let ho = enc.encode(holdout, Some(&ho_idx));
    let sy = enc.encode(syn, Some(&sy_idx));

    // One pass per reference set gives both directions: synthetic → real for DCR and NNDR,
    // real → synthetic for the membership attack.
    let (to_train, members) = nearest_both(sy.view(), tr.view());
    let (to_holdout, others) = nearest_both(sy.view(), ho.view());
    let closer: f64 = to_train
        .iter()
        .zip(&to_holdout)
        .map(|(t, h)| {
            if (t.0 - h.0).abs() <= TIE {
                0.5
            } else if t.0 < h.0 {
                1.0
            } else {
                0.0
            }
        })
        .sum::<f64>()
        / s as f64;
    let holdout_to_train = nearest_two(ho.view(), tr.view());

    // Membership attack: the closer the nearest synthetic row, the likelier a member.
    let scores: Vec<f64> = members.iter().chain(&others).map(|d| -d).collect();
    let labels: Vec<bool> = (0..members.len() + others.len())
        .map(|i| i < members.len())
        .collect();
    PrivacyRisk {
        closer_to_training_share: closer,
        median_dcr_training: median(to_train.iter().map(|d| d.0).collect()),
        median_dcr_holdout: median(to_holdout.iter().map(|d| d.0).collect()),
        nndr_median: median(to_train.iter().copied().map(nndr).collect()),
        nndr_median_holdout: median(holdout_to_train.iter().copied().map(nndr).collect()),
        memorised_share: memorised_share(&to_train),
        memorised_share_holdout: memorised_share(&holdout_to_train),
        membership_auc: roc_auc(&scores, &labels).unwrap_or(0.5),
        training_rows: h,
        holdout_rows: h,
        synthetic_rows: s,
        subsampled,
        distance: DISTANCE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_ratio() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(nndr((0.0, 0.0)), 1.0);
        assert_eq!(nndr((1.0, 4.0)), 0.25);
        assert_eq!(nndr((1.0, f64::INFINITY)), 0.0);
        // 0.1/1 is memorised, 0.5/1 is not, and neither is a tie of two training rows
        let m = memorised_share(&[(0.1, 1.0), (0.5, 1.0), (0.0, 0.0), (0.2, 0.3)]);
        assert_eq!(m, 0.25);
    }
}

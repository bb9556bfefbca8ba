//! Evaluation of synthetic rows against real ones.
//!
//! - Fidelity: per-column 1 − KS (numeric) and 1 − TV (categorical); Pearson correlation
//!   similarity; contingency similarity (numeric columns binned); pMSE and S_pMSE of a
//!   logistic propensity model; detection AUC by cross-validation; the Fréchet distance
//!   between the Gaussians fitted to the encoded tables; exact Wasserstein-1 and -2 between
//!   equal-size subsamples of the encoded tables.
//! - Utility (with a target and a holdout): train on synthetic, test on real, against train on
//!   real — logistic regression or least squares.
//! - Privacy risk (with a holdout of real rows the generator never saw): distance to closest
//!   record, nearest-neighbour distance ratio, membership-inference AUC.
//!
//! Encoders are fitted on the real table and applied to every table. Metrics that need
//! pairwise distances work on seeded subsamples, and the report says so. The report's keys
//! are stable (see `docs/evaluation.md`).

mod assignment;
mod boosting;
mod design;
mod distance;
mod encoding;
mod levels;
mod linear;
pub mod logistic;
mod marginals;
mod privacy_risk;
mod propensity;
mod report_html;
mod report_text;
mod scores;
mod subsample;
mod utility;

pub use assignment::min_cost_assignment;
pub use boosting::{Boosting, BoostingParams};
pub use design::{FeatureMap, FeatureOptions};
pub use distance::{frechet_distance, nearest_both, nearest_two, wasserstein};
pub use encoding::DistanceEncoder;
pub use levels::MAX_LEVELS;
pub use linear::LeastSquares;
pub use logistic::LogisticRegression;
pub use marginals::{
    column_scores, contingency, correlation_similarity, correlations, distributions, ks_statistic,
    pearson, tv_distance, ColumnScore, Distribution, PairMatrix,
};
pub use privacy_risk::{privacy_risk, PrivacyRisk};
pub use propensity::{detection, pmse, Detection, Pmse};
pub use report_html::to_html;
pub use scores::{accuracy_macro_f1, class_auc, rmse_r2, roc_auc};
pub use subsample::subsample;
pub use utility::{utility, Scores, Utility};

use serde::Serialize;

use crate::backend::run_parallel;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::table::{ColumnKind, Schema, Table};

/// Version of the report's layout; it grows when keys are added and changes meaning never.
pub const REPORT_VERSION: u32 = 1;

/// Settings of an evaluation. The defaults evaluate Adult-sized tables in seconds. As JSON
/// (the C ABI's `options_json`) the keys are the field names, every one optional; an unknown
/// key is an error.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvaluateOptions {
    /// Target column for utility (needs a holdout).
    pub target: Option<String>,
    /// Seed of every subsample and of the detection folds.
    pub seed: u64,
    /// Rows per table for the exact Wasserstein distances (0 leaves them out); the
    /// assignment solver is cubic in this.
    pub wasserstein_rows: usize,
    /// Rows per table for the privacy-risk distances (0 leaves them out). Training and
    /// holdout rows are cut to the same count, at most this; the work grows with its square.
    pub privacy_rows: usize,
    /// Rows per table for pMSE and detection (0 leaves them out).
    pub propensity_rows: usize,
    /// Cross-validation folds of the detection classifier.
    pub detection_folds: usize,
    /// Threads (0: all cores).
    pub threads: usize,
}

impl Default for EvaluateOptions {
    fn default() -> Self {
        EvaluateOptions {
            target: None,
            seed: 0,
            wasserstein_rows: 1000,
            privacy_rows: 20_000,
            propensity_rows: 50_000,
            detection_folds: 5,
            threads: 0,
        }
    }
}

/// Exact Wasserstein distances between equal-size subsamples.
#[derive(Debug, Clone, Serialize)]
pub struct Wasserstein {
    pub w1: f64,
    pub w2: f64,
    /// Rows drawn from each table.
    pub rows: usize,
    pub subsampled: bool,
    pub distance: &'static str,
}

/// Fidelity of the synthetic table.
#[derive(Debug, Clone, Serialize)]
pub struct Fidelity {
    pub columns: Vec<ColumnScore>,
    /// Mean of the column scores.
    pub mean_column_score: f64,
    /// Mean over numeric column pairs of 1 − |ρ_real − ρ_synthetic| / 2 (Pearson); null with
    /// fewer than two numeric columns.
    pub correlation_similarity: Option<f64>,
    /// Mean over all column pairs of 1 − TV distance between the joint distributions
    /// (numeric columns in 10 equal-width bins over the real range); null with one column.
    pub contingency_similarity: Option<f64>,
    pub pmse: Option<Pmse>,
    pub detection: Option<Detection>,
    /// Fréchet distance between Gaussians fitted to the encoded tables (squared units, as FID);
    /// 0 is a perfect match of means and covariances. Null with fewer than two rows.
    pub frechet_distance: Option<f64>,
    pub wasserstein: Option<Wasserstein>,
}

/// What the report's plots are drawn from.
#[derive(Debug, Clone, Serialize)]
pub struct Plots {
    pub distributions: Vec<Distribution>,
    pub correlation_real: PairMatrix,
    pub correlation_synthetic: PairMatrix,
    /// Pairwise contingency similarity (1 − TV of the joint distribution).
    pub contingency: PairMatrix,
}

/// The evaluation report (its keys are stable; see `docs/evaluation.md`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub report_version: u32,
    pub real_rows: usize,
    pub synthetic_rows: usize,
    pub holdout_rows: Option<usize>,
    pub seed: u64,
    pub fidelity: Fidelity,
    pub utility: Option<Utility>,
    pub privacy: Option<PrivacyRisk>,
    /// What was subsampled or left out, in words.
    pub notes: Vec<String>,
    pub plots: Plots,
}

/// Evaluates `synthetic` against `real` (the generator's training rows); with a holdout of
/// real rows the generator never saw, also privacy risk, and with a target, utility.
///
/// Tables are matched to `real` by column name and level label. Runs on the library's own
/// threads; `progress` is called on the calling thread (return `false` to cancel).
pub fn evaluate(
    real: &Table,
    synthetic: &Table,
    holdout: Option<&Table>,
    opts: &EvaluateOptions,
    progress: &mut dyn FnMut(&Progress) -> bool,
) -> Result<Report> {
    run_parallel(opts.threads, progress, |report| {
        evaluate_here(real, synthetic, holdout, opts, report)
    })?
}

/// Checks that `other` has exactly `real`'s columns and returns it conformed to `real`'s
/// schema (levels mapped by label).
/// The real table's schema with each categorical column's levels extended by the levels the
/// `others` have and the real rows lack (appended, so real codes keep their meaning), and a
/// note per column that gained levels. Evaluation compares distributions over the union: a
/// level only the synthetic rows have is a difference to measure, not an error (a private
/// model's public schema may declare levels the real file happens not to contain).
pub(crate) fn union_schema(
    real: &Table,
    others: &[(&Table, &str)],
) -> Result<(Schema, Vec<String>)> {
    let mut schema = real.schema().clone();
    let mut notes = Vec::new();
    for (other, what) in others {
        if other.n_rows() == 0 {
            return Err(Error::data(format!("the {what} table has no rows")));
        }
        for spec in &mut schema.columns {
            let Some(j) = other.schema().index_of(&spec.name) else {
                return Err(Error::data(format!(
                    "{what} table: column '{}' is missing from the table",
                    spec.name
                )));
            };
            if let ColumnKind::Categorical { levels } = &mut spec.kind {
                let new = other.levels_not_in(j, levels);
                if !new.is_empty() {
                    notes.push(format!(
                        "column '{}': level(s) {} occur in the {what} rows but not in the real rows",
                        spec.name,
                        crate::table::preview(&new)
                    ));
                    levels.extend(new);
                }
            }
        }
        for c in &other.schema().columns {
            if real.schema().index_of(&c.name).is_none() {
                return Err(Error::data(format!(
                    "the {what} table has a column '{}' that the real table lacks",
                    c.name
                )));
            }
        }
    }
    Ok((schema, notes))
}

/// `t` in `schema` (levels matched by label), with errors that say which table.
pub(crate) fn conform(t: &Table, schema: &Schema, what: &str) -> Result<Table> {
    t.conform_to(schema)
        .map_err(|e| Error::data(format!("{what} table: {}", e.message)))
}

fn evaluate_here(
    real: &Table,
    synthetic: &Table,
    holdout: Option<&Table>,
    opts: &EvaluateOptions,
    report: &mut dyn FnMut(&Progress) -> bool,
) -> Result<Report> {
    if real.n_rows() == 0 {
        return Err(Error::data("the real table has no rows"));
    }
    if real.n_cols() == 0 {
        return Err(Error::data("the real table has no columns"));
    }
    let mut others = vec![(synthetic, "synthetic")];
    if let Some(h) = holdout {
        others.push((h, "holdout"));
    }
    let (schema, level_notes) = union_schema(real, &others)?;
    let real = &conform(real, &schema, "real")?;
    let syn = conform(synthetic, &schema, "synthetic")?;
    let holdout = holdout
        .map(|h| conform(h, &schema, "holdout"))
        .transpose()?;
    if let Some(t) = &opts.target {
        real.schema()
            .require(t)
            .map_err(|e| Error::data(format!("real table: {}", e.message)))?;
        if holdout.is_none() {
            return Err(Error::invalid(
                "utility needs a holdout table of real rows besides the target",
            ));
        }
    }
    if opts.detection_folds == 1 {
        return Err(Error::invalid(
            "detection needs at least 2 folds (0 leaves it out)",
        ));
    }
    let mut notes = level_notes;
    let total = 6;
    let mut done = 0;
    let mut tick = |done: &mut usize| -> Result<()> {
        *done += 1;
        let go_on = report(&Progress {
            stage: "evaluate",
            done: *done,
            total,
            loss: f64::NAN,
        });
        if go_on {
            Ok(())
        } else {
            Err(Error::cancelled())
        }
    };

    // Marginals and pairs.
    let columns = column_scores(real, &syn);
    let mean_column_score = columns.iter().map(|c| c.score).sum::<f64>() / columns.len() as f64;
    let (corr_r, corr_s) = correlations(real, &syn);
    let correlation_similarity = correlation_similarity(&corr_r, &corr_s);
    let (cont, contingency_similarity) = contingency(real, &syn);
    let plotted = distributions(real, &syn);
    tick(&mut done)?;

    // The encoded-space metrics pool the rare levels of very wide columns.
    let mut all = vec![real, &syn];
    all.extend(holdout.as_ref());
    let (pooled, pool_notes) = levels::pool_rare_levels(&all, MAX_LEVELS)?;
    notes.extend(pool_notes);
    let (real, syn) = (&pooled[0], &pooled[1]);
    let holdout = pooled.get(2);

    // Propensity.
    let (pm, det) = if opts.propensity_rows > 0 {
        let (r, s) = (
            capped(real, opts.propensity_rows, opts.seed, 1),
            capped(syn, opts.propensity_rows, opts.seed, 2),
        );
        if r.n_rows() < real.n_rows() || s.n_rows() < syn.n_rows() {
            notes.push(format!(
                "pMSE and detection used {} real and {} synthetic rows drawn at random (seed {})",
                r.n_rows(),
                s.n_rows(),
                opts.seed
            ));
        }
        let pm = pmse(&r, &s)?;
        tick(&mut done)?;
        let det = if opts.detection_folds >= 2 && r.n_rows() + s.n_rows() >= opts.detection_folds {
            Some(detection(&r, &s, opts.detection_folds, opts.seed)?)
        } else {
            notes.push("detection left out (no folds, or fewer rows than folds)".into());
            None
        };
        tick(&mut done)?;
        (Some(pm), det)
    } else {
        notes.push("pMSE and detection left out (propensity rows 0)".into());
        done += 2;
        (None, None)
    };

    // Distances in the encoded space.
    let enc = DistanceEncoder::fit(real)?;
    // Linear in the rows: no subsample.
    let frechet_distance = if real.n_rows() >= 2 && syn.n_rows() >= 2 {
        Some(frechet_distance(
            enc.encode(real, None).view(),
            enc.encode(syn, None).view(),
        )?)
    } else {
        notes.push("Fréchet distance left out (fewer than two rows)".into());
        None
    };
    tick(&mut done)?;
    let wasserstein = if opts.wasserstein_rows > 0 {
        let n = opts.wasserstein_rows.min(real.n_rows()).min(syn.n_rows());
        let ri = subsample(real.n_rows(), n, opts.seed, 5);
        let si = subsample(syn.n_rows(), n, opts.seed, 6);
        let subsampled = n < real.n_rows() || n < syn.n_rows();
        if subsampled {
            notes.push(format!(
                "Wasserstein distances are exact between {n} real and {n} synthetic rows drawn at random (seed {})",
                opts.seed
            ));
        }
        let (w1, w2) = wasserstein(
            enc.encode(real, Some(&ri)).view(),
            enc.encode(syn, Some(&si)).view(),
        )?;
        Some(Wasserstein {
            w1,
            w2,
            rows: n,
            subsampled,
            distance: privacy_risk::DISTANCE,
        })
    } else {
        notes.push("Wasserstein distances left out (rows 0)".into());
        None
    };
    tick(&mut done)?;

    let utility = match (&opts.target, holdout) {
        (Some(t), Some(h)) => Some(utility(real, syn, h, t)?),
        _ => None,
    };
    let privacy = match holdout {
        Some(h) if opts.privacy_rows > 0 => {
            let p = privacy_risk(&enc, real, syn, h, opts.privacy_rows, opts.seed);
            if p.subsampled {
                notes.push(format!(
                    "privacy risk used {} training, {} holdout and {} synthetic rows drawn at random (seed {})",
                    p.training_rows, p.holdout_rows, p.synthetic_rows, opts.seed
                ));
            }
            if p.closer_to_training_share > privacy_risk::CLOSER_SHARE_WARNING {
                notes.push(format!(
                    "warning: {:.0}% of the synthetic rows are closer to a training row than to any holdout row (above {:.0}%; 50% is what a generator that learned the distribution gives) and {:.1}% sit on a training row ({:.1}% of unseen rows do): the model may be memorising; train fewer steps or use differential privacy",
                    100.0 * p.closer_to_training_share,
                    100.0 * privacy_risk::CLOSER_SHARE_WARNING,
                    100.0 * p.memorised_share,
                    100.0 * p.memorised_share_holdout
                ));
            }
            Some(p)
        }
        Some(_) => {
            notes.push("privacy risk left out (rows 0)".into());
            None
        }
        None => {
            notes.push("privacy risk needs a holdout of real rows the generator never saw".into());
            None
        }
    };
    tick(&mut done)?;

    Ok(Report {
        report_version: REPORT_VERSION,
        real_rows: real.n_rows(),
        synthetic_rows: syn.n_rows(),
        holdout_rows: holdout.as_ref().map(|h| h.n_rows()),
        seed: opts.seed,
        fidelity: Fidelity {
            columns,
            mean_column_score,
            correlation_similarity,
            contingency_similarity,
            pmse: pm,
            detection: det,
            frechet_distance,
            wasserstein,
        },
        utility,
        privacy,
        notes,
        plots: Plots {
            distributions: plotted,
            correlation_real: corr_r,
            correlation_synthetic: corr_s,
            contingency: cont,
        },
    })
}

/// Fréchet, Wasserstein-1 and Wasserstein-2 distances of one table to a reference.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Distances {
    pub frechet: f64,
    pub w1: f64,
    pub w2: f64,
    /// Rows per table in the exact Wasserstein computation.
    pub wasserstein_rows: usize,
}

/// The distances of `other` to `reference` in the distance encoding fitted on `reference`
/// (see [`DistanceEncoder`]): Fréchet on all rows, Wasserstein exactly on `wasserstein_rows`
/// rows drawn from each (all when both are that small). `other` is matched to the reference
/// by column name and level label.
pub fn distances(
    reference: &Table,
    other: &Table,
    wasserstein_rows: usize,
    seed: u64,
) -> Result<Distances> {
    let (schema, _) = union_schema(reference, &[(other, "compared")])?;
    let reference = conform(reference, &schema, "reference")?;
    let other = conform(other, &schema, "compared")?;
    if reference.n_rows() < 2 {
        return Err(Error::data("the reference table needs at least two rows"));
    }
    let (pooled, _) = levels::pool_rare_levels(&[&reference, &other], MAX_LEVELS)?;
    let [reference, other]: [Table; 2] = pooled
        .try_into()
        .map_err(|_| Error::invalid("two tables in, two out"))?;
    let reference = &reference;
    let enc = DistanceEncoder::fit(reference)?;
    let frechet = frechet_distance(
        enc.encode(reference, None).view(),
        enc.encode(&other, None).view(),
    )?;
    let n = wasserstein_rows
        .min(reference.n_rows())
        .min(other.n_rows())
        .max(1);
    let ri = subsample(reference.n_rows(), n, seed, 5);
    let oi = subsample(other.n_rows(), n, seed, 6);
    let (w1, w2) = wasserstein(
        enc.encode(reference, Some(&ri)).view(),
        enc.encode(&other, Some(&oi)).view(),
    )?;
    Ok(Distances {
        frechet,
        w1,
        w2,
        wasserstein_rows: n,
    })
}

/// The table itself, or a seeded subsample of `max_rows` of its rows.
fn capped(t: &Table, max_rows: usize, seed: u64, stream: u64) -> Table {
    if t.n_rows() <= max_rows {
        t.clone()
    } else {
        t.select_rows(&subsample(t.n_rows(), max_rows, seed, stream))
    }
}

impl Report {
    /// A plain-text summary, as `synthvol evaluate` prints it.
    pub fn to_text(&self) -> String {
        report_text::to_text(self)
    }

    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report serialises")
    }
}

//! The demo's recipe on the bundled Adult data: the settings of each stage (the first fit, the
//! private fit, the Syn experiment) and the Syn experiment's splits. `synthvol demo` runs and
//! prints them; the R package's vignette follows the same recipe. Only settings that differ from
//! the engine's defaults are set here.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::metrics::{subsample, EvaluateOptions};
use crate::model::{FitRequest, SampleOptions, Synthesizer};
use crate::progress::ProgressFn;
use crate::rng::permutation;
use crate::syn::{builtin_kind, tune_builtin, AnalysisKind, TuneOptions, TuneResult};
use crate::table::{ColumnData, ColumnKind, Table};

/// What the user asked of the demo.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// Small networks and few steps everywhere: checks that the workflow runs, not what it
    /// achieves (about 15 s).
    pub quick: bool,
    /// Training steps of the first fit (default: the engine's).
    pub steps: Option<usize>,
    /// Synthetic rows of the first two stages (default: as many as the training file has).
    pub rows: Option<usize>,
    pub seed: u64,
    /// Threads (0: all cores).
    pub threads: usize,
}

/// Every stage's settings.
#[derive(Debug, Clone)]
pub struct DemoPlan {
    /// The first fit (conditioned on income).
    pub fit: FitRequest,
    /// Synthetic rows drawn from the first two models (None: as many as the training rows).
    pub rows: Option<usize>,
    pub evaluate: EvaluateOptions,
    /// The private fit at (ε, δ) = (1, 1e-5) with the bundled public schema: a smaller network
    /// and large Poisson batches suit DP-SGD's noise.
    pub private: FitRequest,
    pub syn: SynPlan,
    pub seed: u64,
    pub threads: usize,
}

/// The Syn experiment's settings (Shen, Liu & Shen 2023): pre-train on the men, fine-tune on a
/// sample of the women (also under DP), tune the synthetic volume on other women.
#[derive(Debug, Clone)]
pub struct SynPlan {
    /// Women in each of the fine-tuning, validation and test samples.
    pub sample_rows: usize,
    pub pretrain: FitRequest,
    pub fine_tune: FitRequest,
    pub fine_tune_private: FitRequest,
    /// Tuning for logistic regression on `income`.
    pub tune: TuneOptions,
    /// Tuning for gradient boosting on `income` (the paper's SynBoost; a coarser grid, as each
    /// fit costs more).
    pub tune_boosting: TuneOptions,
}

impl DemoPlan {
    /// The recipe for these options.
    pub fn new(o: &DemoOptions) -> Result<DemoPlan> {
        let schema = crate::datasets::adult_schema()?;
        let common = FitRequest {
            target: Some("income".into()),
            seed: Some(o.seed),
            threads: Some(o.threads),
            ..FitRequest::default()
        };
        let small = |steps: usize| FitRequest {
            layers: Some(vec![64, 64]),
            timesteps: Some(20),
            steps: Some(steps),
            ..common.clone()
        };
        let fit = if o.quick {
            small(100)
        } else {
            FitRequest {
                steps: o.steps,
                ..common.clone()
            }
        };
        let private = FitRequest {
            steps: Some(if o.quick { 20 } else { 600 }),
            batch_size: Some(8192),
            layers: Some(if o.quick {
                vec![64, 64]
            } else {
                vec![256, 256]
            }),
            lr: Some(3e-3),
            epsilon: Some(1.0),
            schema: Some(schema.clone()),
            ..common.clone()
        };
        // Pre-training declares the public schema, so that the level sets the men lack
        // (sex = Female, relationship = Wife) are in the model for the fine-tunings.
        let pretrain = FitRequest {
            schema: Some(schema),
            ..if o.quick { small(100) } else { common.clone() }
        };
        // The full demo fine-tunes by the engine's epoch budget.
        let tune_steps = FitRequest {
            target: None,
            steps: o.quick.then_some(50),
            seed: Some(o.seed),
            threads: Some(o.threads),
            ..FitRequest::default()
        };
        let fine_tune_private = FitRequest {
            steps: Some(if o.quick { 20 } else { 300 }),
            batch_size: Some(512),
            epsilon: Some(1.0),
            ..tune_steps.clone()
        };
        let tune_boosting = TuneOptions {
            ratios: if o.quick {
                vec![1.0, 3.0]
            } else {
                vec![1.0, 2.0, 5.0, 10.0, 20.0, 30.0]
            },
            repeats: 1,
            seed: o.seed,
            threads: o.threads,
            analysis: AnalysisKind::Boosting,
            ..TuneOptions::default()
        };
        let syn = SynPlan {
            sample_rows: if o.quick { 300 } else { 1350 },
            pretrain,
            fine_tune: tune_steps,
            fine_tune_private,
            tune_boosting,
            tune: TuneOptions {
                ratios: if o.quick {
                    vec![1.0, 3.0, 5.0]
                } else {
                    (1..=30).map(f64::from).collect()
                },
                repeats: if o.quick { 1 } else { 2 },
                seed: o.seed,
                threads: o.threads,
                ..TuneOptions::default()
            },
        };
        Ok(DemoPlan {
            fit,
            rows: o.rows.or(o.quick.then_some(2000)),
            evaluate: EvaluateOptions {
                target: Some("income".into()),
                seed: o.seed,
                threads: o.threads,
                ..EvaluateOptions::default()
            },
            private,
            syn,
            seed: o.seed,
            threads: o.threads,
        })
    }
}

/// The Syn experiment's data: the men of the training file (pre-training), disjoint random
/// samples of its women (fine-tuning, validation), and women of the test file (test).
pub struct SynSplits {
    pub men: Table,
    pub fine_tune: Table,
    pub valid: Table,
    pub test: Table,
}

/// The splits for `n` rows each, drawn with `seed`.
pub fn syn_splits(train: &Table, test_file: &Table, n: usize, seed: u64) -> Result<SynSplits> {
    let men = train.select_rows(&rows_with(train, "sex", "Male")?);
    let women = rows_with(train, "sex", "Female")?;
    let shuffled: Vec<usize> = permutation(women.len(), seed, 0x5E1)
        .iter()
        .map(|&i| women[i])
        .collect();
    if shuffled.len() < 2 * n {
        return Err(Error::data(format!(
            "the training file has {} women; the experiment needs {} (fine-tuning and validation)",
            shuffled.len(),
            2 * n
        )));
    }
    let test_women = rows_with(test_file, "sex", "Female")?;
    if test_women.len() < n {
        return Err(Error::data(format!(
            "the test file has {} women; the experiment needs {n}",
            test_women.len()
        )));
    }
    let pick = subsample(test_women.len(), n, seed, 0x5E2);
    Ok(SynSplits {
        men,
        fine_tune: train.select_rows(&shuffled[..n]),
        valid: train.select_rows(&shuffled[n..2 * n]),
        test: test_file.select_rows(&pick.iter().map(|&i| test_women[i]).collect::<Vec<_>>()),
    })
}

/// The Syn transfer comparison (Shen, Liu & Shen 2023, the SynBoost table): one analysis
/// trained on the raw target rows, on the related rows alone, on both pooled, and on the
/// synthetic rows at the volume tuned on the validation rows, each scored on the test rows.
#[derive(Debug, Clone, Serialize)]
pub struct TransferReport {
    /// "linear" or "boosting".
    pub analysis: String,
    pub error_metric: String,
    pub raw: f64,
    pub related: f64,
    pub pooled: f64,
    /// Trained on `tune.chosen_m` synthetic rows.
    pub synthetic: f64,
    /// The generational-effect curve on the validation rows (the test rows play no part).
    pub tune: TuneResult,
}

/// Fine-tunes `pretrained` on the splits' target sample by `request` (early stopping holds
/// out a share of those rows, never validation or test rows), tunes the volume for `target`
/// by `opts` on the validation rows, and scores each training set on the test rows, which
/// are read only by that last scoring. Returns the fine-tuned model and the comparison.
pub fn transfer(
    pretrained: &Synthesizer,
    splits: &SynSplits,
    target: &str,
    request: &FitRequest,
    opts: &TuneOptions,
    progress: ProgressFn,
) -> Result<(Synthesizer, TransferReport)> {
    let (model, _) = pretrained.fine_tune(&splits.fine_tune, request, &mut *progress)?;
    let report = transfer_report(&model, splits, target, opts, progress)?;
    Ok((model, report))
}

/// The comparison for a model already trained ([`transfer`]'s second half; also for a model
/// conditioned on the group column, sampled with `opts.label`).
pub fn transfer_report(
    model: &Synthesizer,
    splits: &SynSplits,
    target: &str,
    opts: &TuneOptions,
    progress: ProgressFn,
) -> Result<TransferReport> {
    let tune = tune_builtin(
        model,
        &splits.fine_tune,
        &splits.valid,
        target,
        opts,
        &mut *progress,
    )?;
    let raw = splits.fine_tune.conform_to(model.schema())?;
    let related = splits.men.conform_to(model.schema())?;
    let test = splits.test.conform_to(model.schema())?;
    let (mut analysis, metric) = builtin_kind(&raw, target, opts.analysis)?;
    let sample_opts = SampleOptions {
        threads: opts.threads,
        device: opts.device,
        label: opts.label.clone(),
        ..SampleOptions::default()
    };
    let chosen = model.sample(tune.chosen_m, opts.seed ^ 0x7E57, &sample_opts, progress)?;
    Ok(TransferReport {
        analysis: opts.analysis.name().to_string(),
        error_metric: metric.to_string(),
        raw: analysis(&raw, &test)?,
        related: analysis(&related, &test)?,
        pooled: analysis(&related.concat(&raw)?, &test)?,
        synthetic: analysis(&chosen, &test)?,
        tune,
    })
}

/// Rows of `t` whose column `col` has level `level`.
pub fn rows_with(t: &Table, col: &str, level: &str) -> Result<Vec<usize>> {
    let j = t.schema().require(col)?;
    let (ColumnKind::Categorical { levels }, ColumnData::Categorical(v)) =
        (&t.schema().columns[j].kind, t.column(j))
    else {
        return Err(Error::data(format!("column '{col}' is not categorical")));
    };
    let k = levels
        .iter()
        .position(|l| l == level)
        .ok_or_else(|| Error::data(format!("column '{col}' has no level '{level}'")))?
        as u32;
    Ok((0..v.len()).filter(|&i| v[i] == k).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_of_the_plan_checks() {
        for quick in [false, true] {
            let p = DemoPlan::new(&DemoOptions {
                quick,
                ..DemoOptions::default()
            })
            .unwrap();
            p.fit.check().unwrap();
            p.private.check().unwrap();
            p.syn.pretrain.check().unwrap();
        }
    }
}

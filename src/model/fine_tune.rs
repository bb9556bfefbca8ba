//! Knowledge transfer: continue training a fitted model on new rows (the Syn workflow's
//! "pre-train on related data, fine-tune on the small sensitive sample").
//!
//! The new rows are matched to the model by column name and level label. The encoder's numeric
//! transforms stay those of pre-training (the network learned in their coordinates); the class
//! frequencies used to draw labels come from the new rows. Without DP a level the model has
//! not seen extends it: its input weights start at zero and its output logit an order of
//! magnitude below the rarest known level of its column. Under DP the level set must be
//! public, so it must have been declared (in the schema file) when the model was pre-trained.

use serde::{Deserialize, Serialize};

use super::private::dp_training;
use super::{validate_options, FineTunePlan, FitRequest, PrivacyRecord, Synthesizer};
use crate::backend::Device;
use crate::csprng::mechanism_key;
use crate::encode::PreprocessingRecord;
use crate::error::{Error, Result};
use crate::nn::Denoiser;
use crate::privacy::accountant::Phase;
use crate::privacy::gaussian_counts;
use crate::progress::ProgressFn;
use crate::table::{ColumnData, ColumnKind, Table, MISSING};
use crate::train::OptimConfig;

/// How to fine-tune. The network's shape and the diffusion steps are the pre-trained model's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FineTuneOptions {
    /// `optim.steps` is the number of steps, or with `epochs` the most.
    pub optim: OptimConfig,
    /// Set the steps from this many passes over the fine-tuning rows (epochs · rows / batch,
    /// at least [`MIN_FINE_TUNE_STEPS`], at most `optim.steps`); the record keeps the steps
    /// run. Absent: exactly `optim.steps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<f64>,
    pub seed: u64,
    /// Threads for the call (0: all cores).
    pub threads: usize,
    /// Where to train (not stored; the record keeps the backend it ran on).
    #[serde(skip)]
    pub device: Device,
    /// After training, move the categorical output biases so that the model's level
    /// frequencies match the fine-tuning rows' counts (under DP, noisy counts released from
    /// the preprocessing share of ε; see [`Synthesizer::calibrated`]).
    #[serde(default)]
    pub calibrate: bool,
}

impl Default for FineTuneOptions {
    fn default() -> Self {
        FineTuneOptions {
            optim: OptimConfig {
                steps: 1000,
                lr: 1e-3,
                ..OptimConfig::default()
            },
            epochs: None,
            seed: 0,
            threads: 0,
            device: Device::Auto,
            calibrate: false,
        }
    }
}

/// The fewest steps an epoch budget gives (a handful of rows would otherwise get none).
pub const MIN_FINE_TUNE_STEPS: usize = 50;

/// The epoch budget of a fine-tuning without DP when the request sets neither steps nor
/// epochs. Chosen on the Syn experiment (Adult, pre-trained on 21,790 men, fine-tuned on 1,350
/// women): 1,000 steps (760 epochs) re-learn the 1,350 rows and boosting on the synthetic rows
/// loses to the raw rows; about 200 epochs keep what pre-training learned (the same order as
/// a default fit's 190 epochs of the men).
pub const FINE_TUNE_EPOCHS: f64 = 200.0;

/// One fine-tuning, as the model records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FineTuneRecord {
    pub n_rows: usize,
    pub options: FineTuneOptions,
    /// (step, mean loss over the window ending there); empty under DP.
    pub loss_history: Vec<(usize, f64)>,
    pub seconds: f64,
    /// Levels the fine-tuning data brought: (column, level).
    pub added_levels: Vec<(String, String)>,
    /// What a private fine-tuning spent of the fine-tuning data's budget (absent when it was
    /// not private).
    pub privacy: Option<PrivacyRecord>,
    pub version: String,
    /// The backend the fine-tuning ran on ("cpu", "cuda:0"; absent in older models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// Early stopping's validation scores and the steps chosen (absent without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<crate::train::ValidationRecord>,
    /// The calibration to the fine-tuning rows' level counts (absent without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<super::CalibrationRecord>,
    /// Parameters the fine-tuning trained, of the network's (absent in older models: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trained_parameters: Option<(usize, usize)>,
}

/// Ratio between a new level's starting probability and the rarest known level's.
const NEW_LEVEL_ODDS: f32 = 0.1;

impl Synthesizer {
    /// Continues training this model on `data` as `request` asks (checked and completed by
    /// [`FitRequest::check_fine_tune`]): under differential privacy when it sets `epsilon` (the
    /// guarantee is then with respect to one row of `data`; the pre-training data are treated
    /// as public). Returns the new, verified model and notices for the user (levels added).
    /// `self` is unchanged.
    pub fn fine_tune(
        &self,
        data: &Table,
        request: &FitRequest,
        progress: ProgressFn,
    ) -> Result<(Synthesizer, Vec<String>)> {
        let plan = request.check_fine_tune(self)?;
        self.fine_tune_plan(data, &plan, progress)
    }

    /// Fine-tunes by a checked plan (see [`Synthesizer::fine_tune`]).
    pub fn fine_tune_plan(
        &self,
        data: &Table,
        plan: &FineTunePlan,
        progress: ProgressFn,
    ) -> Result<(Synthesizer, Vec<String>)> {
        let (opts, dp) = (&plan.options, plan.dp.as_ref());
        let mut opts = opts.clone();
        if let Some(e) = opts.epochs {
            opts.optim.steps = super::epoch_steps(
                e,
                data.n_rows(),
                opts.optim.batch_size,
                MIN_FINE_TUNE_STEPS,
                opts.optim.steps,
            );
        }
        let opts = &opts;
        let mut run = self.record.options.clone();
        // a fine-tuning trains on its rows alone (the pre-training's smoothing is not its own)
        run.smoothing = 0.0;
        run.optim = opts.optim.clone();
        run.seed = opts.seed;
        run.threads = opts.threads;
        run.device = opts.device;
        validate_options(&run)?;
        if let Some(dp) = dp {
            super::request::check_dp(dp)?;
        }
        let start = std::time::Instant::now();
        let schema = self.schema();
        for c in &data.schema().columns {
            if schema.index_of(&c.name).is_none() {
                return Err(Error::data(format!(
                    "column '{}' of the fine-tuning data is not in the pre-trained model (its columns are: {})",
                    c.name,
                    schema.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
                )));
            }
        }
        // Levels the model lacks, by column.
        let mut additions: Vec<(usize, Vec<String>)> = Vec::new();
        for (j, spec) in schema.columns.iter().enumerate() {
            let k = data.schema().index_of(&spec.name).ok_or_else(|| {
                Error::data(format!(
                    "column '{}' of the pre-trained model is missing from the fine-tuning data",
                    spec.name
                ))
            })?;
            if let ColumnKind::Categorical { levels: known } = &spec.kind {
                let new = data.levels_not_in(k, known);
                if !new.is_empty() {
                    additions.push((j, new));
                }
            }
        }
        let mut notices = Vec::new();
        let mut added_levels = Vec::new();
        let (encoder, mut weights) = if additions.is_empty() {
            (self.encoder.clone(), self.weights.clone())
        } else {
            let list: Vec<String> = additions
                .iter()
                .flat_map(|(j, ls)| {
                    ls.iter()
                        .map(move |l| format!("'{}' = '{l}'", schema.columns[*j].name))
                })
                .collect();
            if dp.is_some() {
                return Err(Error::data(format!(
                    "the fine-tuning data have level(s) the pre-trained model does not know: {}. Under differential privacy the level set must be public: declare them in the schema file when pre-training (synthvol fit --schema FILE), or fine-tune without DP",
                    list.join(", ")
                )));
            }
            let ext = self.encoder.with_added_levels(&additions)?;
            let old = Denoiser::new(self.net.clone());
            let grown = Denoiser::new(Self::net_config(&ext.encoder, &run));
            // A new output starts below the rarest known level of its block.
            let new_bias: Vec<(usize, f32)> = ext
                .added
                .iter()
                .map(|(pos, siblings)| {
                    let lowest = siblings
                        .iter()
                        .map(|&s| self.weights[old.head.b + s])
                        .fold(f32::INFINITY, f32::min);
                    let lowest = if lowest.is_finite() { lowest } else { 0.0 };
                    (*pos, lowest + NEW_LEVEL_ODDS.ln())
                })
                .collect();
            let w = old.transfer(&self.weights, &grown, &ext.moved, &new_bias);
            for (j, ls) in &additions {
                for l in ls {
                    added_levels.push((schema.columns[*j].name.clone(), l.clone()));
                }
            }
            notices.push(format!(
                "added level(s) the pre-trained model had not seen: {} (their weights start at zero and are learned from the fine-tuning data)",
                list.join(", ")
            ));
            (ext.encoder, w)
        };
        let table = data.conform_to(&encoder.schema)?;
        let n = table.n_rows();
        if n < 2 {
            return Err(Error::data(format!(
                "the fine-tuning data have {n} row(s); at least 2 are needed"
            )));
        }
        let mut encoder = encoder;
        // A quantile map describes the pre-trained network's output, which training changes.
        for ne in &mut encoder.numeric {
            ne.score_map = None;
        }
        let label_counts = encoder.label.as_ref().map(|l| {
            let ColumnData::Categorical(v) = table.column(l.column) else {
                unreachable!("the label is categorical")
            };
            let mut counts = vec![0.0; l.n_classes];
            let mut missing = 0;
            for &c in v {
                if c == MISSING {
                    missing += 1;
                } else {
                    counts[c as usize] += 1.0;
                }
            }
            (l.column, counts, missing)
        });
        if let Some((col, _, missing)) = &label_counts {
            if *missing > 0 {
                return Err(Error::data(format!(
                    "target column '{}' has {missing} missing value(s) in the fine-tuning data; remove those rows",
                    encoder.schema.columns[*col].name
                )));
            }
        }

        // The level counts that calibration matches: exact without DP, released with noise
        // (with the class counts, in one Gaussian mechanism) under DP.
        let exact_blocks = opts
            .calibrate
            .then(|| super::calibrate::block_counts(&encoder, &table));
        let mut calibration_counts = None;
        let (trained, privacy) = match dp {
            None => {
                if let (Some(l), Some((_, counts, _))) = (&mut encoder.label, label_counts) {
                    l.counts = counts;
                }
                calibration_counts = exact_blocks;
                let t =
                    Self::train_encoded(&encoder, &table, &run, None, Some(&weights), progress)?;
                (t, None)
            }
            Some(dp) => {
                let key = mechanism_key(dp.noise_seed)?;
                // Besides the network, the rows give only counts: the class frequencies and,
                // for calibration, every categorical block's level counts. Each row adds 1 to
                // one count of each, so the vector's L2 sensitivity is √(number of
                // histograms); one Gaussian release from a share of ε.
                let mut before = Vec::new();
                let mut pre_record = PreprocessingRecord {
                    noise_multiplier: 0.0,
                    sensitivity: 0.0,
                    histograms: 0,
                    counts: 0,
                    max_bins: None,
                };
                let classes = label_counts.map(|(_, c, _)| c);
                let blocks = exact_blocks.unwrap_or_default();
                let m = classes.is_some() as usize + blocks.len();
                if m > 0 {
                    let z = super::private::preprocessing_sigma(dp)?;
                    let flat: Vec<f64> = classes
                        .iter()
                        .flatten()
                        .chain(blocks.iter().flatten())
                        .copied()
                        .collect();
                    let sensitivity = (m as f64).sqrt();
                    let noisy = gaussian_counts(&flat, z * sensitivity, &key);
                    let mut rest = &noisy[..];
                    if let (Some(l), Some(c)) = (&mut encoder.label, &classes) {
                        let (mine, tail) = rest.split_at(c.len());
                        rest = tail;
                        // Post-processing: negative counts are zero; all zero is uniform.
                        let mut noisy: Vec<f64> = mine.iter().map(|c| c.max(0.0)).collect();
                        if noisy.iter().sum::<f64>() <= 0.0 {
                            noisy.iter_mut().for_each(|c| *c = 1.0);
                        }
                        l.counts = noisy;
                    }
                    if opts.calibrate {
                        let mut out = Vec::with_capacity(blocks.len());
                        for b in &blocks {
                            let (mine, tail) = rest.split_at(b.len());
                            rest = tail;
                            out.push(mine.to_vec());
                        }
                        calibration_counts = Some(out);
                    }
                    before.push(Phase {
                        q: 1.0,
                        sigma: z,
                        steps: 1,
                    });
                    pre_record = PreprocessingRecord {
                        noise_multiplier: z,
                        sensitivity,
                        histograms: m,
                        counts: flat.len(),
                        max_bins: None,
                    };
                }
                let (cfg, phase, run_dp) = dp_training(n, &run, dp, &before, key)?;
                let t = Self::train_encoded(
                    &encoder,
                    &table,
                    &run_dp,
                    Some(cfg),
                    Some(&weights),
                    progress,
                )?;
                let mut notes = vec![
                    "the pre-training data are treated as public: the guarantee covers the fine-tuning rows",
                    "the encoder's numeric transforms and level sets come from pre-training, not from these rows",
                ];
                if opts.calibrate {
                    notes.push("calibration reads only the model and the released noisy level counts (post-processing)");
                }
                let privacy = PrivacyRecord::new(dp, &before, phase, pre_record, n, &notes);
                (t, Some(privacy))
            }
        };
        let backend = trained.backend;
        let trained = trained.output;
        weights = trained.ema;
        let mut record = self.record.clone();
        record.fine_tuning.push(FineTuneRecord {
            n_rows: n,
            options: opts.clone(),
            loss_history: if privacy.is_some() {
                Vec::new()
            } else {
                trained.loss_history
            },
            seconds: start.elapsed().as_secs_f64(),
            added_levels,
            privacy,
            version: super::version_string(),
            backend: Some(backend),
            validation: trained.validation,
            calibration: None,
            trained_parameters: None,
        });
        let net = Denoiser::new(Self::net_config(&encoder, &run));
        if let Some(r) = record.fine_tuning.last_mut() {
            r.trained_parameters = Some((net.trained_count(run.optim.trainable), net.n_params));
        }
        let mut model = Synthesizer {
            net: net.config,
            encoder,
            timesteps: self.timesteps,
            weights,
            record,
            // The released pairs describe the pre-training rows, not these.
            pairs: None,
        };
        if let Some(counts) = calibration_counts {
            let sample = super::SampleOptions {
                threads: opts.threads,
                device: opts.device,
                ..super::SampleOptions::default()
            };
            let source = if dp.is_some() {
                "the fine-tuning rows' level counts, released with Gaussian noise"
            } else {
                "the fine-tuning rows' level counts"
            };
            let (calibrated, rec) =
                model.calibrated(&counts, source, opts.seed, &sample, progress)?;
            model = calibrated;
            if let Some(r) = model.record.fine_tuning.last_mut() {
                r.calibration = Some(rec);
            }
        }
        Ok((model.verified()?, notices))
    }
}

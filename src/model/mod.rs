//! The synthesizer: schema + encoder + denoiser weights + what was done to make them;
//! fit, sample, and a versioned, checksummed file format.

mod calibrate;
mod fine_tune;
mod format;
mod private;
mod quantile_map;
mod request;
pub(crate) mod sampler;
mod sampling;
mod smoothing;
mod target_pairs;

pub use crate::encode::PreprocessingRecord;
pub use crate::nn::Trainable;
pub use crate::train::OptimConfig;
pub use calibrate::{
    CalibrationRecord, CALIBRATION_ROUNDS, CALIBRATION_ROWS, CALIBRATION_TOLERANCE,
};
pub use fine_tune::{FineTuneOptions, FineTuneRecord, FINE_TUNE_EPOCHS, MIN_FINE_TUNE_STEPS};
pub use format::FORMAT_VERSION;
pub use private::{
    pair_share_for, DpOptions, PrivacyRecord, DP_TIMESTEPS, PAIR_ROWS, PRIVATE_CALIBRATION_SHARE,
    PRIVATE_FIT_CALIBRATE, PRIVATE_FIT_QUANTILE_MAP, PRIVATE_PAIR_SHARE, PRIVATE_TRAINABLE,
    SMALL_TABLE_PREPROCESSING_SHARE,
};
pub use quantile_map::{QuantileMapRecord, QUANTILE_MAP_LEVELS, QUANTILE_MAP_ROWS};
pub use request::{FineTunePlan, FitKind, FitPlan, FitRequest};
pub use sampling::{shard_range, BLOCK_ROWS};
pub use target_pairs::{
    pair_bins, PairMarginal, TargetPairs, TargetPairsRecord, PAIR_MAX_BINS, PAIR_MIN_BINS,
    PAIR_POOL,
};

use serde::{Deserialize, Serialize};

use crate::backend::{run_job, Device, DiffusionOps, Job, Relay};
use crate::diffusion::{Layout, Schedule};
use crate::encode::Encoded;
use crate::encode::{check_trainable, Encoder};
use crate::error::{Error, Result};
use crate::nn::{Denoiser, DenoiserConfig};
use crate::progress::ProgressFn;
use crate::table::Table;
use crate::train::{train, DpConfig, Trained};

/// How to fit a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitOptions {
    /// A target column: when categorical, generation is conditioned on it (and its class
    /// frequencies are kept); when numeric, it is learned like the other columns.
    pub target: Option<String>,
    /// Widths of the denoiser's hidden blocks.
    pub layers: Vec<usize>,
    /// The request left the layers to the engine: a fit without DP on fewer than
    /// [`SMALL_TABLE_ROWS`] rows gets [`SMALL_TABLE_LAYERS`] in place of `layers`, or
    /// [`NARROW_TABLE_LAYERS`] when its rows encode to at most [`NARROW_TABLE_WIDTH`] values
    /// (the record keeps the layers it ran with). Absent: exactly `layers`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub layers_by_rows: bool,
    /// Width of the time embedding.
    pub dim_t: usize,
    /// Number of diffusion steps T.
    pub timesteps: usize,
    /// `optim.steps` is the number of steps, or with `epochs` the most.
    pub optim: OptimConfig,
    /// Set the steps from this many passes over the rows (epochs · rows / batch, at least
    /// [`MIN_FIT_STEPS`], at most `optim.steps`); the record keeps the steps run. Absent:
    /// exactly `optim.steps` (and in models written before the option existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<f64>,
    pub seed: u64,
    /// Threads for the call (0: all cores).
    pub threads: usize,
    /// Where to train (a choice for this run, not a property of the model: not stored; the
    /// training record keeps the backend the fit ran on).
    #[serde(skip)]
    pub device: Device,
    /// The precision of generated numeric values (models written before it existed: full).
    #[serde(default)]
    pub precision: Precision,
    /// Bandwidth h of the smoothed copy of each row that training adds (`smoothing.rs`);
    /// 0: none (and in models written before the option existed).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub smoothing: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// The precision of generated numeric values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Each numeric column at the decimals its training values have (up to
    /// 8): a column recorded to one decimal comes back with
    /// one. The default of a fit without differential privacy.
    Input,
    /// Full double precision. The default of a private fit (learning the decimals from the
    /// private rows would spend privacy) and of models written before the option existed.
    #[default]
    Full,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            target: None,
            layers: vec![512, 512],
            layers_by_rows: false,
            dim_t: 128,
            timesteps: 200,
            optim: OptimConfig::default(),
            epochs: None,
            seed: 0,
            threads: 0,
            device: Device::Auto,
            precision: Precision::Input,
            smoothing: 0.0,
        }
    }
}

/// The epoch budget of a fit without DP when the request sets neither steps nor epochs, at
/// most [`OptimConfig::default`]'s 4,000 steps. Chosen on four small tables (221–500 training
/// rows; README "Small tables", `scripts/small-tables`): 4,000 steps are 4,000 epochs (the batch
/// is capped at the rows) there and the synthetic rows sit closer to the training rows than to a holdout (DCR share
/// 0.72–0.90); at 500 epochs that share is 0.55–0.63 with the column, correlation and utility
/// scores held (250 epochs lowers it by 0.04 but loses the wide table's column score). From
/// 8,192 rows at the default batch of 1,024 the 4,000-step cap comes first (Adult's 32,561
/// rows: 126 epochs).
pub const FIT_EPOCHS: f64 = 500.0;

/// The hidden layers of a new fit without DP on fewer than [`SMALL_TABLE_ROWS`] rows, when the
/// request does not set them. Chosen on five small tables (221–500 training rows; README
/// "Small tables", `scripts/small-tables -- --layers 256,256`): against [512, 512] the synthetic
/// rows sit further from the training rows (DCR share 0.003–0.031 lower on every table) with
/// the column, correlation and utility scores held (the wide table's column score 0.936 ->
/// 0.925, still above the Gaussian copula's 0.921; [128, 128] loses it: 0.886).
pub const SMALL_TABLE_LAYERS: [usize; 2] = [256, 256];

/// Below this many rows a new fit without DP gets [`SMALL_TABLE_LAYERS`]: the rows from which,
/// at the default batch of 1,024, the 4,000-step cap rather than the epoch budget sets the
/// steps. Larger tables keep [`FitOptions::default`]'s [512, 512] (Adult's 32,561 rows, the Syn
/// workflow's 21,790 pre-training rows).
pub const SMALL_TABLE_ROWS: usize = 8192;

/// The most encoded values (numeric columns, one-hot levels) a row of a narrow table has.
pub const NARROW_TABLE_WIDTH: usize = 12;

/// The hidden layers of a new fit without DP on a narrow small table, when the request does
/// not set them. Chosen on seven small tables (README "Small tables", `SEEDS=5
/// scripts/small-tables`): on the four narrow ones (7–10 numeric columns, 221–343 rows)
/// [`SMALL_TABLE_LAYERS`]' 256 units a layer reproduce the rows (DCR share 0.546–0.622),
/// and 64 give 0.514–0.565 with the column, correlation and utility scores held. Boston's 13
/// columns lose linear TSTR at 64 (R² 0.652 -> 0.610) and the wide table its column score,
/// so wider rows keep 256.
pub const NARROW_TABLE_LAYERS: [usize; 2] = [64, 64];

/// The fewest steps an epoch budget gives a new fit.
pub const MIN_FIT_STEPS: usize = 100;

/// Steps for `epochs` passes over `n_rows` rows at `batch` rows a step (the batch capped at
/// the rows), from `min` (or `max` when smaller) to `max`.
pub(crate) fn epoch_steps(
    epochs: f64,
    n_rows: usize,
    batch: usize,
    min: usize,
    max: usize,
) -> usize {
    let batch = batch.min(n_rows).max(1);
    let want = (epochs * n_rows as f64 / batch as f64).round();
    // `as` saturates: a huge product becomes usize::MAX, then the cap.
    (want as usize).clamp(min.min(max), max)
}

impl FitOptions {
    /// These options with the layers for `n_rows` rows of `width` encoded values when the
    /// engine chooses them, and the steps an epoch budget gives on the rows trained on (the
    /// rows and any smoothed copies; unchanged without a budget).
    pub(crate) fn for_rows(&self, n_rows: usize, width: usize) -> FitOptions {
        let mut o = self.clone();
        let small = n_rows < SMALL_TABLE_ROWS;
        let narrow = small && width <= NARROW_TABLE_WIDTH;
        if o.layers_by_rows && small {
            o.layers = if narrow {
                NARROW_TABLE_LAYERS.to_vec()
            } else {
                SMALL_TABLE_LAYERS.to_vec()
            };
        }
        let trained = if o.smoothing > 0.0 {
            2 * n_rows
        } else {
            n_rows
        };
        if let Some(e) = o.epochs {
            o.optim.steps =
                epoch_steps(e, trained, o.optim.batch_size, MIN_FIT_STEPS, o.optim.steps);
        }
        o
    }
}

/// What fitting recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainingRecord {
    pub n_rows: usize,
    pub options: FitOptions,
    /// (step, mean loss over the window ending there).
    pub loss_history: Vec<(usize, f64)>,
    pub seconds: f64,
    pub backend: String,
    /// The synthvol version that fitted the model.
    pub version: String,
    /// What a differentially private fit spent (absent for a non-private fit).
    #[serde(default)]
    pub privacy: Option<PrivacyRecord>,
    /// Fine-tunings since, in order (each with its own data and, if private, its own
    /// guarantee with respect to one row of its data).
    #[serde(default)]
    pub fine_tuning: Vec<FineTuneRecord>,
    /// What the caller asked to keep with the model (a JSON object the engine does not read:
    /// the R and Julia packages keep each column's classes there, to restore them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<serde_json::Value>,
    /// Early stopping's validation scores and the steps chosen (absent without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<crate::train::ValidationRecord>,
    /// A private fit's calibration to its released level counts (absent without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<CalibrationRecord>,
    /// A private fit's map of its numeric output onto the noisy-histogram quantiles (absent
    /// without it, and after a fine-tuning, which drops the map).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantile_map: Option<QuantileMapRecord>,
}

/// The synthvol version and build target, as records carry them.
pub(crate) fn version_string() -> String {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (",
        env!("SYNTHVOL_TARGET"),
        ")"
    )
    .to_string()
}

impl TrainingRecord {
    fn new(
        n_rows: usize,
        options: &FitOptions,
        loss_history: Vec<(usize, f64)>,
        start: std::time::Instant,
        privacy: Option<PrivacyRecord>,
        backend: String,
    ) -> Self {
        TrainingRecord {
            n_rows,
            options: options.clone(),
            loss_history,
            seconds: start.elapsed().as_secs_f64(),
            backend,
            calibration: None,
            quantile_map: None,
            version: version_string(),
            privacy,
            fine_tuning: Vec::new(),
            annotations: None,
            validation: None,
        }
    }
}

/// A fitted synthesizer. Immutable once fitted; sampling takes `&self`.
#[derive(Debug, Clone)]
pub struct Synthesizer {
    encoder: Encoder,
    net: DenoiserConfig,
    timesteps: usize,
    /// EMA weights, used for sampling.
    weights: Vec<f32>,
    record: TrainingRecord,
    /// A private fit's released target-pair marginals, which sampling rakes to.
    pairs: Option<TargetPairs>,
}

impl Synthesizer {
    /// Fits a model to a table as `request` asks: checked and completed with the defaults
    /// ([`FitRequest::check`]), without or with differential privacy. The model is verified
    /// (serialised and read back) before it is returned.
    pub fn fit(table: &Table, request: &FitRequest, progress: ProgressFn) -> Result<Synthesizer> {
        let plan = request.check()?;
        let mut model = Self::fit_plan(table, &plan, progress)?;
        model.record.annotations = request.annotations.clone();
        Ok(model)
    }

    /// Fits a model by a checked plan (see [`Synthesizer::fit`]).
    pub fn fit_plan(table: &Table, plan: &FitPlan, progress: ProgressFn) -> Result<Synthesizer> {
        let model = match &plan.kind {
            FitKind::Plain { schema: None } => Self::fit_plain(table, &plan.options, progress)?,
            FitKind::Plain { schema: Some(s) } => {
                Self::fit_plain(&s.apply(table)?, &plan.options, progress)?
            }
            FitKind::Private { dp, schema } => {
                Self::fit_private(table, schema, &plan.options, dp, progress)?
            }
        };
        model.verified()
    }

    /// The model after a round trip through its file format: a fit whose model cannot be
    /// read back (a value the format cannot hold) is an error here, not a file that fails to
    /// load later, after a privacy budget was spent on it.
    pub(crate) fn verified(self) -> Result<Synthesizer> {
        let bytes = self.to_bytes()?;
        Synthesizer::from_bytes(&bytes).map_err(|e| {
            Error::numerical(format!(
                "the fitted model cannot be stored faithfully ({}); nothing was written",
                e.message
            ))
        })?;
        Ok(self)
    }

    /// What fitting recorded: the options, the loss history, the privacy spend, the
    /// fine-tunings.
    /// A private fit's released target-pair marginals, which sampling rakes to (None for a
    /// model that samples the network's rows as they come).
    pub fn target_pairs(&self) -> Option<&TargetPairs> {
        self.pairs.as_ref()
    }

    /// The model without its target pairs: it samples the network's rows as they come
    /// (for comparison, or for sampling [`PAIR_POOL`] times faster).
    pub fn without_target_pairs(&self) -> Synthesizer {
        Synthesizer {
            pairs: None,
            ..self.clone()
        }
    }

    pub fn record(&self) -> &TrainingRecord {
        &self.record
    }

    /// The denoiser's EMA weights (the ones sampling uses), in the model file's order.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// The fitted encoder (for the project's own tests).
    #[cfg(feature = "internals")]
    #[doc(hidden)]
    pub fn encoder(&self) -> &crate::encode::Encoder {
        &self.encoder
    }

    /// The denoiser's shape (for the project's own tests).
    #[cfg(feature = "internals")]
    #[doc(hidden)]
    pub fn denoiser_config(&self) -> &DenoiserConfig {
        &self.net
    }

    /// Diffusion steps T of the model.
    pub fn timesteps(&self) -> usize {
        self.timesteps
    }

    /// Fits without differential privacy, by options already checked.
    pub(crate) fn fit_plain(
        table: &Table,
        opts: &FitOptions,
        progress: ProgressFn,
    ) -> Result<Synthesizer> {
        let target = check_trainable(table, opts.target.as_deref())?;
        let start = std::time::Instant::now();
        let mut encoder = Encoder::fit(table, target)?;
        let opts = &opts.for_rows(table.n_rows(), encoder.width());
        validate_options(opts)?;
        if opts.smoothing > 0.0
            && encoder.n_numeric() <= usize::from(smoothed_target(&encoder, opts).is_some())
        {
            return Err(Error::invalid(
                "option 'smoothing' moves a row's numeric values, and the data have no numeric column besides the target; leave it out (or 0)",
            ));
        }
        if opts.precision == Precision::Input {
            encoder.learn_precision(table);
        }
        let ran = Self::train_encoded(&encoder, table, opts, None, None, progress)?;
        let Trained {
            ema: weights,
            loss_history,
            validation,
            ..
        } = ran.output;
        let mut record =
            TrainingRecord::new(table.n_rows(), opts, loss_history, start, None, ran.backend);
        record.validation = validation;
        Ok(Synthesizer {
            net: Self::net_config(&encoder, opts),
            encoder,
            timesteps: opts.timesteps,
            weights,
            record,
            pairs: None,
        })
    }

    fn net_config(encoder: &Encoder, opts: &FitOptions) -> DenoiserConfig {
        DenoiserConfig {
            d_in: encoder.width(),
            dim_t: opts.dim_t,
            layers: opts.layers.clone(),
            n_classes: encoder.n_classes(),
        }
    }

    /// Encodes `table` (in the encoder's schema) and trains a denoiser on it, from `init` or
    /// from a seeded initialisation, with DP-SGD when `dp` is given, on the device the options
    /// ask for; returns the EMA weights, the loss history and the backend it ran on.
    fn train_encoded(
        encoder: &Encoder,
        table: &Table,
        opts: &FitOptions,
        dp: Option<DpConfig>,
        init: Option<&[f32]>,
        progress: ProgressFn,
    ) -> Result<crate::backend::Ran<Trained>> {
        let net = Denoiser::new(Self::net_config(encoder, opts));
        // A smoothed copy of each row doubles the rows trained on (never under DP, where a
        // row would count twice).
        let copies = opts.smoothing > 0.0 && dp.is_none();
        let rows = table.n_rows() * if copies { 2 } else { 1 };
        let batch = opts.optim.batch_size.min(rows);
        crate::limits::check_memory(
            &format!(
                "training a network of {} parameters on {rows} rows in batches of {batch}",
                net.n_params,
            ),
            crate::train::memory_estimate(&net, rows, batch, opts.timesteps)
                + if copies {
                    smoothing::working_bytes(
                        table.n_rows(),
                        encoder.width(),
                        encoder.n_numeric(),
                        encoder.n_classes(),
                    )
                } else {
                    0
                },
            "use narrower or fewer layers (option 'layers'), a smaller time embedding ('time_dim'), a smaller batch ('batch_size'), no smoothing ('smoothing' 0) or fewer rows",
        )?;
        let layout = Layout {
            n_num: encoder.n_numeric(),
            blocks: encoder.block_sizes(),
        };
        let init = match init {
            Some(w) => w.to_vec(),
            None => net.init_params(opts.seed),
        };
        let parts = TrainParts {
            net,
            layout,
            sched: Schedule::cosine(opts.timesteps),
            init,
            dp,
        };
        let smooth = |data: Encoded| -> Result<Encoded> {
            if !copies {
                return Ok(data);
            }
            smoothing::with_smoothed_copies(
                &data,
                encoder.n_numeric(),
                encoder.n_classes(),
                smoothed_target(encoder, opts),
                opts.smoothing,
                opts.seed,
            )
        };
        let Some(es) = opts.optim.early_stopping.filter(|_| parts.dp.is_none()) else {
            let data = smooth(encoder.encode(table)?)?;
            return run_job(
                opts.device,
                opts.threads,
                progress,
                parts.job(&data, opts, None),
            );
        };
        // Early stopping: train on all but a seeded share of the rows, scoring the rest, then
        // retrain on every row for the steps chosen (from the same start, on a full
        // learning-rate schedule).
        let n = table.n_rows();
        if n < 2 {
            return Err(Error::data(
                "early stopping (option 'holdout') needs at least 2 rows; set 'holdout' to 0",
            ));
        }
        // The held-out rows are scored in one batch: their share, at most MAX_HELD_OUT_ROWS.
        let held = ((n as f64 * es.holdout).round() as usize)
            .min(crate::train::MAX_HELD_OUT_ROWS)
            .clamp(1, n - 1);
        let order = crate::rng::permutation(n, opts.seed, 0x401D);
        let (v_rows, t_rows) = order.split_at(held);
        let fit_part = smooth(encoder.encode(&table.select_rows(t_rows))?)?;
        let val_part = encoder.encode(&table.select_rows(v_rows))?;
        let first = run_job(
            opts.device,
            opts.threads,
            &mut *progress,
            parts.job(&fit_part, opts, Some(&val_part)),
        )?;
        let record = first.output.validation.clone();
        let chosen = record.as_ref().map_or(opts.optim.steps, |r| r.best_step);
        let data = smooth(encoder.encode(table)?)?;
        let mut ran = if chosen == 0 {
            // No step beat the starting weights: keep them.
            crate::backend::Ran {
                backend: first.backend.clone(),
                output: Trained {
                    params: parts.init.clone(),
                    ema: parts.init.clone(),
                    loss_history: Vec::new(),
                    validation: None,
                },
            }
        } else {
            let mut again = opts.clone();
            again.optim.steps = chosen;
            again.optim.early_stopping = None;
            run_job(
                opts.device,
                opts.threads,
                progress,
                parts.job(&data, &again, None),
            )?
        };
        ran.output.validation = record;
        Ok(ran)
    }

    /// What the model spent under differential privacy, as JSON: the fit's privacy record
    /// (or `"private": false`), its "calibration" (or null) and a "fine_tuning" list (rows,
    /// privacy record or null, added levels, the parameters trained and their number, the
    /// calibration or null), as `synthvol privacy --model --json` prints it.
    pub fn privacy_json(&self) -> serde_json::Value {
        let mut v = match &self.record.privacy {
            Some(p) => serde_json::to_value(p).unwrap_or(serde_json::Value::Null),
            None => serde_json::json!({"private": false}),
        };
        v["calibration"] = serde_json::to_value(&self.record.calibration).unwrap_or_default();
        v["quantile_map"] = serde_json::to_value(&self.record.quantile_map).unwrap_or_default();
        v["fine_tuning"] = self
            .record
            .fine_tuning
            .iter()
            .map(|t| {
                serde_json::json!({
                    "rows": t.n_rows,
                    "privacy": t.privacy,
                    "added_levels": t.added_levels,
                    "trainable": t.options.optim.trainable,
                    "trained_parameters": t.trained_parameters.map(|(k, _)| k),
                    "parameters": t.trained_parameters.map(|(_, n)| n),
                    "calibration": t.calibration,
                })
            })
            .collect();
        v
    }

    /// A description of the model as JSON: "versions" (library, model format), "schema"
    /// (columns with kind, levels, integer flag), "target", "training" (the fit's settings,
    /// loss history, time, backend, privacy and fine-tunings).
    pub fn info_json(&self) -> serde_json::Value {
        use crate::table::ColumnKind;
        let columns: Vec<serde_json::Value> = self
            .schema()
            .columns
            .iter()
            .map(|c| match &c.kind {
                ColumnKind::Numeric { integer } => {
                    serde_json::json!({"name": c.name, "kind": "numeric", "integer": integer})
                }
                ColumnKind::Categorical { levels } => {
                    serde_json::json!({"name": c.name, "kind": "categorical", "levels": levels})
                }
            })
            .collect();
        serde_json::json!({
            "versions": {
                "library": env!("CARGO_PKG_VERSION"),
                "model_format": FORMAT_VERSION,
            },
            "schema": columns,
            "target": self.record.options.target,
            "training": self.record,
        })
    }

    /// The schema of the tables this model generates.
    pub fn schema(&self) -> &crate::table::Schema {
        &self.encoder.schema
    }

    /// Refuses a sampling of `n` rows (in batches of `batch`) that would need more memory than
    /// the machine allows, before any work; `what` and `hint` make the message.
    pub(crate) fn check_sample_memory(
        &self,
        n: usize,
        batch: usize,
        what: &str,
        hint: &str,
    ) -> Result<()> {
        let bytes = sampler::memory_estimate(
            &self.net,
            n,
            batch,
            self.timesteps,
            self.schema().columns.len(),
        );
        crate::limits::check_memory(what, bytes, hint)
    }
}

/// How to sample. As JSON (the C ABI's `options_json`) the keys are the field names, every one
/// optional; an unknown key is an error.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SampleOptions {
    /// Rows denoised together, rounded up to whole blocks of [`BLOCK_ROWS`]: memory and speed,
    /// never the rows themselves.
    pub batch_size: usize,
    /// Threads for the call (0: all cores).
    pub threads: usize,
    /// Where to sample (any device, whichever the model was trained on).
    pub device: Device,
    /// The target's class for each row asked for, by label, instead of draws from the
    /// training class frequencies (a model conditioned on a categorical target only).
    pub labels: Option<Vec<String>>,
    /// The target's class for every row (as `labels`, without a list as long as the sample;
    /// the two exclude each other).
    pub label: Option<String>,
}

impl Default for SampleOptions {
    fn default() -> Self {
        SampleOptions {
            batch_size: 4096,
            threads: 0,
            device: Device::Auto,
            labels: None,
            label: None,
        }
    }
}

impl SampleOptions {
    /// Checks the options (the engine's words name each).
    pub fn check(&self) -> Result<()> {
        use crate::limits::{MAX_SAMPLE_BATCH, MAX_THREADS};
        if self.batch_size == 0 || self.batch_size > MAX_SAMPLE_BATCH {
            return Err(Error::invalid(format!(
                "option 'batch_size' (rows denoised together) must be from 1 to {MAX_SAMPLE_BATCH}, got {}",
                self.batch_size
            )));
        }
        if self.threads > MAX_THREADS {
            return Err(Error::invalid(format!(
                "option 'threads' is {}; at most {MAX_THREADS} are supported (0 uses all cores)",
                self.threads
            )));
        }
        Ok(())
    }
}

/// What every training job of one fit shares.
struct TrainParts {
    net: Denoiser,
    layout: Layout,
    sched: Schedule,
    init: Vec<f32>,
    dp: Option<DpConfig>,
}

impl TrainParts {
    fn job<'a>(
        &'a self,
        data: &'a Encoded,
        opts: &'a FitOptions,
        validation: Option<&'a Encoded>,
    ) -> TrainJob<'a> {
        TrainJob {
            net: &self.net,
            layout: &self.layout,
            sched: &self.sched,
            data,
            opts,
            init: &self.init,
            dp: self.dp.clone(),
            validation,
        }
    }
}

/// Training on a backend: the job [`Synthesizer::train_encoded`] hands to the device.
struct TrainJob<'a> {
    net: &'a Denoiser,
    layout: &'a Layout,
    sched: &'a Schedule,
    data: &'a Encoded,
    opts: &'a FitOptions,
    init: &'a [f32],
    dp: Option<DpConfig>,
    validation: Option<&'a Encoded>,
}

impl Job for TrainJob<'_> {
    type Output = Trained;
    fn run<B: DiffusionOps>(self, be: &B, relay: &mut Relay<'_>) -> Result<Trained> {
        let mut progress = relay.progress_fn();
        train(
            be,
            self.net,
            self.layout,
            self.sched,
            self.data,
            &self.opts.optim,
            self.init,
            self.opts.seed ^ 0x5EED,
            self.dp,
            self.validation,
            &mut progress,
        )
    }
}

/// Checks options built in the engine (a fine-tuning's run): the rules of [`FitRequest`].
/// A numeric target's place among the numeric scores: smoothing conditions on it, not moving it.
fn smoothed_target(encoder: &Encoder, opts: &FitOptions) -> Option<usize> {
    encoder.numeric.iter().position(|e| {
        opts.target.as_deref() == Some(encoder.schema.columns[e.column].name.as_str())
    })
}

fn validate_options(o: &FitOptions) -> Result<()> {
    FitRequest::from_options(o).check().map(|_| ())
}

//! Fitting under differential privacy: private preprocessing and DP-SGD, accounted together.

use serde::{Deserialize, Serialize};

use super::{validate_options, FitOptions, Synthesizer, TrainingRecord};
use crate::csprng::mechanism_key;
use crate::encode::{
    encoder_from_counts, histogram_bins, histogram_count, private_counts, PreprocessingRecord,
    CONTINUOUS_BINS,
};
use crate::error::{Error, Result};
use crate::privacy::accountant::{calibrate_sigma, check_plan, default_orders, epsilon, Phase};
use crate::privacy::gaussian_counts;
use crate::progress::ProgressFn;
use crate::table::{PublicSchema, Table};
use crate::train::DpConfig;

/// What a user asks of a private fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DpOptions {
    /// The privacy budget (ε, δ) for the whole fit, preprocessing included.
    pub epsilon: f64,
    pub delta: f64,
    /// Clipping norm C of each row's gradient.
    pub max_grad_norm: f64,
    /// Poisson sampling rate q (default: batch size / rows).
    pub sample_rate: Option<f64>,
    /// Draws of (t, ε) per row and step (augmentation multiplicity K).
    pub augment: usize,
    /// Share of ε spent on preprocessing (noisy histograms and class counts).
    pub preprocessing_share: f64,
    /// Weight of the categorical (multinomial) part of the loss under DP. Per-row clipping
    /// bounds each row's whole gradient, and without up-weighting the Gaussian part's larger
    /// gradients push the categorical blocks' signal below the noise (on Adult at ε = 1,
    /// weight 1: accuracy gap 8.4 points and mean column score 0.71; weight 20: 4.2 and 0.91).
    #[serde(default = "default_categorical_weight")]
    pub categorical_weight: f64,
    /// Test only: a fixed seed for the mechanism's randomness instead of the OS's. A model
    /// fitted this way records it and gives no privacy against anyone who knows the seed.
    pub noise_seed: Option<u64>,
    /// A new private fit: release every categorical block's level counts with the
    /// preprocessing counts and calibrate the model's level frequencies to them after
    /// training (post-processing; see [`Synthesizer::calibrated`]). A fine-tuning's choice is
    /// [`super::FineTuneOptions::calibrate`].
    #[serde(default)]
    pub calibrate: bool,
    /// A new private fit: after training (and calibration), map each numeric column's
    /// output onto the quantiles of its released noisy histogram (post-processing; see
    /// [`Synthesizer::quantile_mapped`]). A fine-tuning never maps.
    #[serde(default)]
    pub quantile_map: bool,
    /// A new private fit with a categorical target: the share of ε spent on the target-pair
    /// marginals that sampling rakes to (see [`Synthesizer::target_pairs`]); 0 releases none.
    /// None: [`PRIVATE_PAIR_SHARE`] on fewer than [`PAIR_ROWS`] rows, 0 on more.
    #[serde(default)]
    pub pair_share: Option<f64>,
    /// The caller did not choose `preprocessing_share`: a new private fit on fewer than
    /// [`PAIR_ROWS`] rows uses [`SMALL_TABLE_PREPROCESSING_SHARE`] instead.
    #[serde(default)]
    pub preprocessing_share_by_rows: bool,
}

impl DpOptions {
    /// The options a new private fit on `n` rows runs with: the shares the engine chooses by
    /// the rows filled in.
    pub fn for_rows(&self, n: usize) -> DpOptions {
        let mut dp = self.clone();
        if dp.preprocessing_share_by_rows && n < PAIR_ROWS {
            dp.preprocessing_share = SMALL_TABLE_PREPROCESSING_SHARE;
        }
        dp.preprocessing_share_by_rows = false;
        dp
    }
}

/// Diffusion steps T for a private fit when the caller does not choose (the CLI and the C
/// ABI apply it; `FitOptions::timesteps` stays the caller's choice in Rust). Under DP-SGD's
/// noise a short diffusion learns the data better: on Adult at ε = 1 (four fits each,
/// `examples/dp_adult_utility.rs`) the logistic-regression accuracy gap was 4.1-7.2 points
/// (mean 5.2) with T = 200, 2.7-4.1 (mean 3.4) with T = 50, 2.3-2.9 (mean 2.5) with T = 20
/// and 2.1-2.8 (mean 2.5) with T = 10; 20 keeps some resolution for numeric columns.
pub const DP_TIMESTEPS: usize = 20;

/// The parameters a private fine-tuning trains when the caller does not choose (see
/// [`crate::nn::Trainable`]; measured on the demo's Syn experiment, README "Private
/// fine-tuning").
pub const PRIVATE_TRAINABLE: crate::nn::Trainable = crate::nn::Trainable::Biases;

/// The share of ε a private fine-tuning spends on its counts (class and level counts) when it
/// calibrates and the caller does not choose (measured on the demo's Syn experiment, README
/// "Private fine-tuning").
pub const PRIVATE_CALIBRATION_SHARE: f64 = 0.7;

/// Whether a new private fit calibrates its level frequencies when the caller does not choose.
pub const PRIVATE_FIT_CALIBRATE: bool = false;

/// Whether a new private fit maps its numeric output onto the noisy quantiles when the caller
/// does not choose.
pub const PRIVATE_FIT_QUANTILE_MAP: bool = true;

/// The share of ε a private fit with a categorical target spends on its target-pair marginals
/// when the caller does not choose and the table has fewer than [`PAIR_ROWS`] rows (measured
/// with `scripts/private-tables`, README "Private small tables").
pub const PRIVATE_PAIR_SHARE: f64 = 0.4;

/// The share of ε a new private fit on fewer than [`PAIR_ROWS`] rows spends on preprocessing
/// when the caller does not choose: on few rows a histogram's noise, not the network, sets
/// the marginals (measured with `scripts/private-tables`, README "Private small tables").
pub const SMALL_TABLE_PREPROCESSING_SHARE: f64 = 0.3;

/// Below this many rows a private fit with a categorical target releases target-pair
/// marginals by default. DP-SGD alone learns larger tables well (Adult's 32,561 rows at ε = 1:
/// accuracy within 3.2 points of the real data's), and raking makes sampling
/// [`super::PAIR_POOL`] times slower.
pub const PAIR_ROWS: usize = 10_000;

/// The share of ε a private fit on `n` rows spends on target-pair marginals: the one asked
/// for, or the default for its size and target.
pub fn pair_share_for(dp: &DpOptions, n: usize, categorical_target: bool) -> Result<f64> {
    match dp.pair_share {
        Some(s) if s > 0.0 && !categorical_target => Err(Error::invalid(format!(
            "option 'pair_share' ({s}) releases the target's pairs with the other columns; it needs a categorical 'target'"
        ))),
        Some(s) => Ok(s),
        None if categorical_target && n < PAIR_ROWS => Ok(PRIVATE_PAIR_SHARE),
        None => Ok(0.0),
    }
}

fn default_categorical_weight() -> f64 {
    20.0
}

impl Default for DpOptions {
    fn default() -> Self {
        DpOptions {
            epsilon: 1.0,
            delta: crate::privacy::DEFAULT_DELTA,
            max_grad_norm: 1.0,
            sample_rate: None,
            augment: 1,
            preprocessing_share: 0.1,
            categorical_weight: default_categorical_weight(),
            noise_seed: None,
            calibrate: false,
            quantile_map: PRIVATE_FIT_QUANTILE_MAP,
            pair_share: None,
            preprocessing_share_by_rows: false,
        }
    }
}

/// What a private fit spent, as the model records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivacyRecord {
    /// ε spent in total at `delta` (the accountant's figure; never above the budget asked).
    pub epsilon: f64,
    pub delta: f64,
    /// The budget asked for.
    pub epsilon_budget: f64,
    /// The mechanisms composed: the preprocessing release (q = 1, one step) and training.
    pub phases: Vec<Phase>,
    /// Training: noise multiplier σ, sampling rate q, steps, clipping norm C, multiplicity K.
    pub noise_multiplier: f64,
    pub sample_rate: f64,
    pub steps: u64,
    pub max_grad_norm: f64,
    pub augment: usize,
    pub categorical_weight: f64,
    pub preprocessing: PreprocessingRecord,
    /// ε of the preprocessing release alone.
    pub preprocessing_epsilon: f64,
    /// The target-pair release, when the fit made one (its phase follows preprocessing's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_pairs: Option<super::TargetPairsRecord>,
    /// ε of the target-pair release alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_pairs_epsilon: Option<f64>,
    pub accountant: String,
    /// The number of rows, treated as public.
    pub rows: usize,
    pub notes: Vec<String>,
    /// "os" (the AES-256-CTR key drawn from the operating system) or "test seed N" (not private).
    pub noise_source: String,
}

impl PrivacyRecord {
    /// The record of a private fit or fine-tuning: the preprocessing mechanisms `before`, then
    /// DP-SGD `train`, on `rows` rows; `notes` come after the standard ones.
    pub(super) fn new(
        dp: &DpOptions,
        before: &[Phase],
        train: Phase,
        preprocessing: PreprocessingRecord,
        rows: usize,
        notes: &[&str],
    ) -> PrivacyRecord {
        let mut phases = before.to_vec();
        phases.push(train);
        let orders = default_orders();
        let (eps, order) = epsilon(&phases, dp.delta, &orders);
        let mut all_notes = vec![
            "the number of rows is treated as public".to_string(),
            "the loss history is not stored: it is computed from private rows".to_string(),
        ];
        all_notes.extend(notes.iter().map(|s| s.to_string()));
        PrivacyRecord {
            epsilon: eps,
            delta: dp.delta,
            epsilon_budget: dp.epsilon,
            phases,
            noise_multiplier: train.sigma,
            sample_rate: train.q,
            steps: train.steps,
            max_grad_norm: dp.max_grad_norm,
            augment: dp.augment,
            categorical_weight: dp.categorical_weight,
            preprocessing,
            target_pairs: None,
            target_pairs_epsilon: None,
            preprocessing_epsilon: if before.is_empty() {
                0.0
            } else {
                epsilon(before, dp.delta, &orders).0
            },
            accountant: format!("RDP of the Poisson-subsampled Gaussian (orders 1.1-10.9, 12-64 and up to 1024; best order {order}), converted as Balle et al. 2020"),
            rows,
            notes: all_notes,
            noise_source: match dp.noise_seed {
                Some(s) => format!("test seed {s} (not private)"),
                None => "os".into(),
            },
        }
    }
}

/// The noise multiplier of the preprocessing release (one Gaussian mechanism on the counts),
/// spending its share of ε; when that share is too small, the message says it is the
/// preprocessing that failed and what to change.
pub(super) fn preprocessing_sigma(dp: &DpOptions) -> Result<f64> {
    release_sigma(
        dp,
        dp.preprocessing_share,
        "preprocessing (noisy histograms and class counts)",
        "preprocessing_share",
    )
}

/// The noise multiplier of a release that spends `share` of ε alone (`what` and `key` name it
/// in the error).
fn release_sigma(dp: &DpOptions, share_of: f64, what: &str, key: &str) -> Result<f64> {
    let share = dp.epsilon * share_of;
    calibrate_sigma(&[], 1.0, 1, share, dp.delta, &default_orders()).map_err(|_| {
        Error::invalid(format!(
            "the private {what} gets {share_of} × ε = {share:.3e} of the budget at δ = {:e}, too little for any noise level to meet; use a larger 'epsilon' (now {:e}) or a larger '{key}' (now {share_of})",
            dp.delta, dp.epsilon
        ))
    })
}

/// The Poisson sampling rate of a plan: the one asked for, or batch size / rows.
pub(super) fn sample_rate(n: usize, opts: &FitOptions, dp: &DpOptions) -> f64 {
    dp.sample_rate
        .unwrap_or((opts.optim.batch_size as f64 / n as f64).min(1.0))
}

/// DP-SGD for `opts.optim.steps` steps on `n` rows after the mechanisms `before`: σ calibrated
/// so that everything together stays within the budget, and the options to train with (the
/// micro-batch holds a whole Poisson batch but for rare excursions, qN + 4√(qN)).
pub(super) fn dp_training(
    n: usize,
    opts: &FitOptions,
    dp: &DpOptions,
    before: &[Phase],
    key: [u8; 32],
) -> Result<(DpConfig, Phase, FitOptions)> {
    let steps = opts.optim.steps as u64;
    let q = sample_rate(n, opts, dp);
    check_plan(q, steps, dp.delta)?;
    if opts.optim.batch_size < dp.augment {
        return Err(Error::invalid(format!(
            "the batch size ({}) must be at least the augmentation multiplicity ({})",
            opts.optim.batch_size, dp.augment
        )));
    }
    let sigma = calibrate_sigma(before, q, steps, dp.epsilon, dp.delta, &default_orders())
        .map_err(|e| {
            Error::invalid(format!(
                "DP-SGD's part of the budget (ε = {:e} with the preprocessing, δ = {:e}) cannot pay for {steps} training steps at sampling rate {q:.4}: {}. Use a larger 'epsilon', fewer 'steps' or a smaller 'sample_rate' (or 'batch_size')",
                dp.epsilon, dp.delta, e.message
            ))
        })?;
    let cfg = DpConfig {
        q,
        sigma,
        max_grad_norm: dp.max_grad_norm,
        augment: dp.augment,
        key,
        categorical_weight: dp.categorical_weight,
    };
    let expected = q * n as f64;
    let mut run = opts.clone();
    run.optim.batch_size = ((expected + 4.0 * expected.sqrt()).ceil() as usize + 1) * dp.augment;
    Ok((cfg, Phase { q, sigma, steps }, run))
}

impl Synthesizer {
    /// Fits a model under (ε, δ)-differential privacy with respect to one row of `table`.
    /// Everything learned from the rows is noisy and accounted: the encoder comes from the
    /// public schema and noisy histograms and class counts (a share of ε), the network from
    /// DP-SGD with σ calibrated so that the total stays within ε. The number of rows is
    /// treated as public.
    pub(crate) fn fit_private(
        table: &Table,
        public: &PublicSchema,
        opts: &FitOptions,
        dp: &DpOptions,
        progress: ProgressFn,
    ) -> Result<Synthesizer> {
        validate_options(opts)?;
        super::request::check_dp(dp)?;
        let start = std::time::Instant::now();
        let table = public.apply(table)?;
        let n = table.n_rows();
        if n < 2 {
            return Err(Error::data(format!(
                "the data have {n} row(s); at least 2 are needed to fit a model"
            )));
        }
        let dp = &dp.for_rows(n);
        let target = opts
            .target
            .as_deref()
            .map(|t| table.schema().require(t))
            .transpose()?;
        if let Some(t) = target {
            crate::encode::check_beside_target(&table, t)?;
        }
        let steps = opts.optim.steps as u64;
        let q = sample_rate(n, opts, dp);
        check_plan(q, steps, dp.delta)?;
        let categorical_target = target.is_some_and(|t| {
            matches!(
                table.schema().columns[t].kind,
                crate::table::ColumnKind::Categorical { .. }
            )
        });
        let pair_share = pair_share_for(dp, n, categorical_target)?;
        if dp.preprocessing_share + pair_share >= 1.0 {
            return Err(Error::invalid(format!(
                "options 'preprocessing_share' ({}) and 'pair_share' ({pair_share}) leave DP-SGD no budget; together they must be below 1",
                dp.preprocessing_share
            )));
        }
        let key = mechanism_key(dp.noise_seed)?;

        // Preprocessing: one Gaussian mechanism on all counts, spending its share of ε: the
        // numeric histograms and class counts, and for calibration every categorical block's
        // level counts (the blocks come from the public schema alone).
        let histograms = histogram_count(public, target);
        let z_pre = preprocessing_sigma(dp)?;
        let pre = Phase {
            q: 1.0,
            sigma: z_pre,
            steps: 1,
        };
        let pair_phase = if pair_share > 0.0 {
            Some(Phase {
                q: 1.0,
                sigma: release_sigma(dp, pair_share, "target-pair release", "pair_share")?,
                steps: 1,
            })
        } else {
            None
        };
        // The categorical blocks come from the public schema alone (their layout does not
        // depend on the bins), so the number of histograms, and with it the noise per count
        // and the bins, are known before any count is taken.
        let blocks = if dp.calibrate {
            let structure = encoder_from_counts(
                public,
                target,
                &vec![1.0; private_counts(&table, public, target, CONTINUOUS_BINS).len()],
                n,
                CONTINUOUS_BINS,
            )?;
            super::calibrate::block_counts(&structure, &table)
        } else {
            Vec::new()
        };
        let m = histograms + blocks.len();
        let max_bins = histogram_bins(n, z_pre * (m as f64).sqrt());
        let counts = private_counts(&table, public, target, max_bins);
        let flat: Vec<f64> = counts
            .iter()
            .chain(blocks.iter().flatten())
            .copied()
            .collect();
        let noisy = gaussian_counts(&flat, z_pre * (m as f64).sqrt(), &key);
        let encoder = encoder_from_counts(public, target, &noisy[..counts.len()], n, max_bins)?;
        let mut rest = &noisy[counts.len()..];
        let noisy_blocks: Vec<Vec<f64>> = blocks
            .iter()
            .map(|b| {
                let (mine, tail) = rest.split_at(b.len());
                rest = tail;
                mine.to_vec()
            })
            .collect();

        // Training: σ for the rest of the budget.
        let before: Vec<Phase> = std::iter::once(pre).chain(pair_phase).collect();
        let (cfg, train_phase, run) = dp_training(n, opts, dp, &before, key)?;
        let ran = Self::train_encoded(&encoder, &table, &run, Some(cfg), None, &mut *progress)?;

        let mut privacy = PrivacyRecord::new(
            dp,
            &before,
            train_phase,
            PreprocessingRecord {
                noise_multiplier: z_pre,
                sensitivity: (m as f64).sqrt(),
                histograms: m,
                counts: flat.len(),
                max_bins: Some(max_bins),
            },
            n,
            &[
                dp.calibrate.then_some("calibration reads only the model and the released noisy level counts (post-processing)"),
                dp.quantile_map.then_some("the quantile map reads only the model and its quantiles from the released noisy histograms (post-processing)"),
                pair_phase.is_some().then_some("the target-pair cells of numeric columns are bins of the trained model's output (post-processing); sampling rakes to the released counts (post-processing)"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>(),
        );
        if pair_phase.is_some() {
            let orders = default_orders();
            privacy.preprocessing_epsilon = epsilon(&[pre], dp.delta, &orders).0;
            privacy.target_pairs_epsilon = Some(epsilon(&before[1..], dp.delta, &orders).0);
        }
        let model = Synthesizer {
            net: Self::net_config(&encoder, opts),
            encoder,
            timesteps: opts.timesteps,
            weights: ran.output.ema,
            record: TrainingRecord::new(n, opts, Vec::new(), start, Some(privacy), ran.backend),
            pairs: None,
        };
        let sample = super::SampleOptions {
            threads: opts.threads,
            device: opts.device,
            ..super::SampleOptions::default()
        };
        let mut model = model;
        if dp.calibrate {
            let (calibrated, rec) = model.calibrated(
                &noisy_blocks,
                "the rows' level counts, released with Gaussian noise",
                opts.seed,
                &sample,
                &mut *progress,
            )?;
            model = calibrated;
            model.record.calibration = Some(rec);
        }
        if dp.quantile_map {
            let (mapped, rec) = model.quantile_mapped(opts.seed, &sample, &mut *progress)?;
            model = mapped;
            model.record.quantile_map = Some(rec);
        }
        if let Some(phase) = pair_phase {
            let (paired, rec) = model.with_target_pairs(
                &table,
                phase.sigma,
                pair_share,
                &key,
                opts.seed,
                &sample,
                progress,
            )?;
            model = paired;
            if let Some(p) = model.record.privacy.as_mut() {
                p.target_pairs = Some(rec);
            }
        }
        Ok(model)
    }
}

//! One fit request: the fit, DP, schema, device and fine-tuning options as a user states them
//! (every field optional), checked once into a [`FitPlan`] with every default filled, every
//! value validated (errors name the option by its key here, the same through every door: Rust,
//! C ABI JSON, CLI, R, Julia) and the kind of fit chosen. No shell holds a default or a rule.

use serde::{Deserialize, Serialize};

use super::{DpOptions, FineTuneOptions, FitOptions, Precision, Synthesizer, DP_TIMESTEPS};
use crate::backend::Device;
use crate::error::{Error, Result};
use crate::limits::{MAX_AUGMENT, MAX_LAYERS, MAX_STEPS, MAX_THREADS, MAX_TIMESTEPS, MAX_WIDTH};
use crate::nn::Trainable;
use crate::table::PublicSchema;
use crate::train::{EarlyStopping, OptimConfig};

/// Steps between validation scores.
pub const EARLY_STOPPING_EVERY: usize = 25;
/// Validation scores without a new minimum before training stops.
pub const EARLY_STOPPING_PATIENCE: usize = 8;

/// What a user asks of a fit or a fine-tuning. Every field is optional; [`FitRequest::check`]
/// and [`FitRequest::check_fine_tune`] fill the defaults. As JSON, the keys are the field names
/// and an unknown key is an error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FitRequest {
    /// A categorical target conditions generation (labels drawn from its class frequencies);
    /// a numeric one is learned like the other columns. A fine-tuning keeps the model's target.
    pub target: Option<String>,
    /// Training steps, or with `epochs` the most (default: a new fit without DP runs
    /// [`super::FIT_EPOCHS`] epochs, at most 4000 steps; a private fit 4000 steps; a
    /// fine-tuning [`super::FINE_TUNE_EPOCHS`] epochs, at most 1000 steps).
    pub steps: Option<usize>,
    /// Rows per step (default 1024, capped at the number of rows).
    pub batch_size: Option<usize>,
    /// Widths of the denoiser's hidden layers (default [512, 512]; a new fit without DP on
    /// fewer than [`super::SMALL_TABLE_ROWS`] rows, [`super::SMALL_TABLE_LAYERS`], or
    /// [`super::NARROW_TABLE_LAYERS`] when its rows encode to at most
    /// [`super::NARROW_TABLE_WIDTH`] values).
    pub layers: Option<Vec<usize>>,
    /// Diffusion steps T (default 200; private fits 20).
    pub timesteps: Option<usize>,
    /// Width of the time embedding (default 128).
    pub time_dim: Option<usize>,
    /// Initial learning rate, decayed linearly to 0 (default 0.002; fine-tuning 0.001).
    pub lr: Option<f64>,
    /// AdamW weight decay (default 1e-4).
    pub weight_decay: Option<f64>,
    /// EMA rate of the sampling weights (default 0.999).
    pub ema_rate: Option<f64>,
    /// Share of the rows held out (at most 4096 rows) to choose the number of training steps by
    /// their validation loss (early stopping; `steps` is then the most it runs), after which the model retrains
    /// on every row for the steps chosen. Default 0 (off); not for a private fit (the
    /// held-out rows' loss would be released without noise).
    pub holdout: Option<f64>,
    /// The steps from this many passes over the rows (epochs · rows / batch, at most `steps`,
    /// or the most allowed without it). Default without DP and without `steps`:
    /// [`super::FIT_EPOCHS`] for a new fit (at most 4000 steps), [`super::FINE_TUNE_EPOCHS`]
    /// for a fine-tuning (at most 1000 steps); with `steps` alone, exactly those. Not for a
    /// new private fit.
    pub epochs: Option<f64>,
    /// Fine-tuning only: the parameters trained, the others kept as pre-trained: "all",
    /// "head" (the output head, every bias and the label embedding) or "biases". Default
    /// "all" without DP and [`super::PRIVATE_TRAINABLE`] under DP, where DP-SGD's noise on
    /// every weight would swamp the clipped gradients.
    pub trainable: Option<Trainable>,
    /// After training, match the model's categorical level frequencies to the rows' counts:
    /// a fine-tuning's (under DP noisy counts released from the preprocessing share of ε;
    /// calibration itself is post-processing), or a private fit's noisy counts. Default true
    /// for a private fine-tuning, [`super::PRIVATE_FIT_CALIBRATE`] for a private fit, false
    /// without DP; a new fit without DP learns the frequencies from the rows.
    pub calibrate: Option<bool>,
    /// A new private fit only: after training, map each numeric column's output onto the
    /// quantiles of its released noisy histogram, so that its generated marginal is the
    /// released one (post-processing; costs no privacy). Default
    /// [`super::PRIVATE_FIT_QUANTILE_MAP`].
    pub quantile_map: Option<bool>,
    /// A new private fit with a categorical target: the share of ε spent on releasing the
    /// target's pair counts with every other column, which sampling then rakes to (0: none).
    /// Default [`super::PRIVATE_PAIR_SHARE`] on fewer than [`super::PAIR_ROWS`] rows, else 0.
    pub pair_share: Option<f64>,
    /// A new fit without DP: train on the rows and one smoothed copy of each, whose numeric
    /// values move within the spread that the row's label, numeric target and categorical
    /// cells leave, by this bandwidth h (0 to 10; 0: no copies). It keeps the rows'
    /// correlations and lowers the share of generated rows that sit closer to a training row
    /// than to a fresh one.
    /// Default 0. The copies count in the epoch budget. Not for a private fit (a row and its
    /// copy would both count) or a fine-tuning.
    pub smoothing: Option<f64>,
    /// Seed (default 0): the same seed gives the same model (a private fit's noise excepted).
    pub seed: Option<u64>,
    /// Threads (default 0: all cores).
    pub threads: Option<usize>,
    /// Where to train (default auto).
    pub device: Option<Device>,
    /// Generated numeric values at the decimals of the training values ("input", the default
    /// without DP) or at full precision ("full", the only choice of a private fit).
    pub precision: Option<Precision>,
    /// Fit under (ε, δ)-differential privacy with this ε (needs `schema` for a new fit).
    pub epsilon: Option<f64>,
    /// δ of a private fit (default 1e-5).
    pub delta: Option<f64>,
    /// Clipping norm C of each row's gradient (private fits; default 1).
    pub max_grad_norm: Option<f64>,
    /// Poisson sampling rate q (private fits; default batch size / rows).
    pub sample_rate: Option<f64>,
    /// Draws of (t, ε) per row and step (private fits; default 1).
    pub augment: Option<usize>,
    /// Share of ε spent on preprocessing (private fits; default 0.1, and
    /// [`super::SMALL_TABLE_PREPROCESSING_SHARE`] for a new fit on fewer than
    /// [`super::PAIR_ROWS`] rows; a private fine-tuning that calibrates,
    /// [`super::PRIVATE_CALIBRATION_SHARE`]).
    pub preprocessing_share: Option<f64>,
    /// Weight of the categorical part of the loss (private fits; default 20).
    pub categorical_weight: Option<f64>,
    /// TEST ONLY: fixes the mechanism's randomness (the model records it; no privacy against
    /// anyone who knows the seed).
    pub noise_seed: Option<u64>,
    /// The public schema: required for a private fit; without DP it declares the level sets
    /// (levels the data lack are kept, for a later private fine-tuning) and numeric bounds.
    /// Not for a fine-tuning, which keeps the pre-trained model's.
    pub schema: Option<PublicSchema>,
    /// A JSON object kept with the model as it is (the engine does not read it): bindings keep
    /// their column classes there. Not for a fine-tuning, which keeps the model's.
    pub annotations: Option<serde_json::Value>,
}

/// What kind of fit a request chose.
#[derive(Debug, Clone, PartialEq)]
pub enum FitKind {
    /// Without differential privacy; `schema` (when given) declares levels and bounds.
    Plain { schema: Option<PublicSchema> },
    /// Under (ε, δ)-differential privacy with respect to one row, from the public schema.
    Private { dp: DpOptions, schema: PublicSchema },
}

/// A checked fit: the options with every default filled, and the kind of fit.
#[derive(Debug, Clone, PartialEq)]
pub struct FitPlan {
    pub options: FitOptions,
    pub kind: FitKind,
}

/// A checked fine-tuning.
#[derive(Debug, Clone, PartialEq)]
pub struct FineTunePlan {
    pub options: FineTuneOptions,
    pub dp: Option<DpOptions>,
}

impl FitRequest {
    /// Parses a request from JSON (unknown keys refused; errors name the option).
    pub fn from_json(text: &str) -> Result<FitRequest> {
        Self::from_json_as(text, "the fit request")
    }

    /// As [`FitRequest::from_json`], with `what` naming the JSON's origin in messages.
    pub fn from_json_as(text: &str, what: &str) -> Result<FitRequest> {
        crate::options::from_json(text, what)
    }

    /// This request's options together with `other`'s; an option set in both is an error that
    /// names it and the two places (`mine`, `theirs`).
    pub fn merge(&self, other: &FitRequest, mine: &str, theirs: &str) -> Result<FitRequest> {
        let set = |r: &FitRequest| -> serde_json::Map<String, serde_json::Value> {
            match serde_json::to_value(r) {
                Ok(serde_json::Value::Object(mut o)) => {
                    o.retain(|_, v| !v.is_null());
                    o
                }
                _ => serde_json::Map::new(),
            }
        };
        let mut a = set(self);
        for (k, v) in set(other) {
            if a.contains_key(&k) {
                return Err(Error::invalid(format!(
                    "option '{k}' is given twice: in {mine} and in {theirs}"
                )));
            }
            a.insert(k, v);
        }
        serde_json::from_value(serde_json::Value::Object(a))
            .map_err(|e| Error::invalid(format!("merging {mine} and {theirs}: {e}")))
    }

    /// The request as JSON (only the options that are set).
    pub fn to_json(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.retain(|_, x| !x.is_null());
        }
        v.to_string()
    }

    /// The request that asks for exactly these options.
    pub fn from_options(o: &FitOptions) -> FitRequest {
        FitRequest {
            target: o.target.clone(),
            steps: Some(o.optim.steps),
            batch_size: Some(o.optim.batch_size),
            layers: (!o.layers_by_rows).then(|| o.layers.clone()),
            timesteps: Some(o.timesteps),
            time_dim: Some(o.dim_t),
            lr: Some(o.optim.lr),
            weight_decay: Some(o.optim.weight_decay),
            ema_rate: Some(o.optim.ema_rate),
            holdout: o.optim.early_stopping.map(|e| e.holdout),
            epochs: o.epochs,
            seed: Some(o.seed),
            threads: Some(o.threads),
            device: Some(o.device),
            precision: Some(o.precision),
            smoothing: (o.smoothing > 0.0).then_some(o.smoothing),
            ..FitRequest::default()
        }
    }

    /// The request for a private fit with exactly these options.
    pub fn from_private_options(
        o: &FitOptions,
        dp: &DpOptions,
        schema: PublicSchema,
    ) -> FitRequest {
        FitRequest {
            epsilon: Some(dp.epsilon),
            delta: Some(dp.delta),
            max_grad_norm: Some(dp.max_grad_norm),
            sample_rate: dp.sample_rate,
            augment: Some(dp.augment),
            preprocessing_share: (!dp.preprocessing_share_by_rows)
                .then_some(dp.preprocessing_share),
            categorical_weight: Some(dp.categorical_weight),
            noise_seed: dp.noise_seed,
            calibrate: Some(dp.calibrate),
            quantile_map: Some(dp.quantile_map),
            pair_share: dp.pair_share,
            schema: Some(schema),
            // a private fit keeps full precision (FitOptions' default is the plain fit's)
            precision: None,
            smoothing: None,
            ..FitRequest::from_options(o)
        }
    }

    /// Checks a request for a new fit and fills its defaults.
    pub fn check(&self) -> Result<FitPlan> {
        let d = FitOptions::default();
        let private = self.epsilon.is_some();
        if self.epochs.is_some() && private {
            return Err(Error::invalid(
                "option 'epochs' sets a fit's steps from its rows, which a private fit may not count outside its budget; give 'steps'",
            ));
        }
        if self.calibrate == Some(true) && !private {
            return Err(Error::invalid(
                "option 'calibrate' matches a private fit's or a fine-tuning's level frequencies to its rows' counts; a new fit without DP learns them from the rows",
            ));
        }
        if self.quantile_map.is_some() && !private {
            return Err(Error::invalid(
                "option 'quantile_map' maps a private fit's numeric output onto its noisy quantiles; a fit without DP learns its marginals from the rows",
            ));
        }
        if self.trainable.is_some_and(|t| t != Trainable::All) {
            return Err(Error::invalid(
                "option 'trainable' chooses what a fine-tuning trains; a new fit trains every parameter",
            ));
        }
        let smoothing = self.smoothing()?;
        if private && smoothing.is_some_and(|h| h > 0.0) {
            return Err(Error::invalid(
                "option 'smoothing' adds a copy of each row, which a private fit may not: each row would count twice against the budget; leave it out (or 0)",
            ));
        }
        let mut optim = self.optim(&d.optim, 0.0)?;
        let epochs = match (self.epochs, self.steps, private) {
            (Some(e), _, _) => Some(positive_epochs(e)?),
            (None, None, false) => Some(super::FIT_EPOCHS),
            _ => None,
        };
        // Explicit epochs without steps: the epochs decide, up to the most steps allowed.
        let steps = match (self.steps, self.epochs) {
            (Some(s), _) => s,
            (None, Some(_)) => MAX_STEPS,
            (None, None) => d.optim.steps,
        };
        optim.steps = positive("steps", steps, MAX_STEPS)?;
        let layers = match &self.layers {
            None => d.layers.clone(),
            Some(l) => {
                if l.is_empty() || l.len() > MAX_LAYERS {
                    return Err(Error::invalid(format!(
                        "option 'layers' needs from 1 to {MAX_LAYERS} hidden layer widths, got {}",
                        l.len()
                    )));
                }
                for &w in l {
                    positive("layers", w, MAX_WIDTH)?;
                }
                l.clone()
            }
        };
        let dim_t = self.time_dim.unwrap_or(d.dim_t);
        if dim_t < 2 || dim_t % 2 == 1 || dim_t > MAX_WIDTH {
            return Err(Error::invalid(format!(
                "option 'time_dim' must be even, from 2 to {MAX_WIDTH}, got {dim_t}"
            )));
        }
        let default_t = if private { DP_TIMESTEPS } else { d.timesteps };
        let timesteps = self.timesteps.unwrap_or(default_t);
        if !(2..=MAX_TIMESTEPS).contains(&timesteps) {
            return Err(Error::invalid(format!(
                "option 'timesteps' must be from 2 to {MAX_TIMESTEPS}, got {timesteps}"
            )));
        }
        let options = FitOptions {
            target: self.target.clone(),
            layers,
            layers_by_rows: self.layers.is_none() && !private,
            dim_t,
            timesteps,
            optim,
            epochs,
            seed: self.seed.unwrap_or(d.seed),
            threads: self.threads()?,
            device: self.device.unwrap_or_default(),
            precision: match (private, self.precision) {
                (false, p) => p.unwrap_or(Precision::Input),
                (true, None | Some(Precision::Full)) => Precision::Full,
                (true, Some(Precision::Input)) => {
                    return Err(Error::invalid(
                        "option 'precision' \"input\" learns each column's decimals from the rows, which a private fit may not read outside its budget; use \"full\" (the default of a private fit), or round the synthetic rows yourself",
                    ))
                }
            },
            smoothing: smoothing.unwrap_or(0.0),
        };
        if let Some(t) = &self.target {
            if t.is_empty() {
                return Err(Error::invalid("option 'target' is an empty column name"));
            }
        }
        if self.annotations.as_ref().is_some_and(|a| !a.is_object()) {
            return Err(Error::invalid("option 'annotations' must be a JSON object"));
        }
        let schema = match &self.schema {
            Some(s) => {
                s.validate()?;
                Some(s.clone())
            }
            None => None,
        };
        let kind = match (self.dp(&options.optim)?, schema) {
            (Some(dp), Some(schema)) => FitKind::Private {
                dp: DpOptions {
                    calibrate: self.calibrate.unwrap_or(super::PRIVATE_FIT_CALIBRATE),
                    quantile_map: self.quantile_map.unwrap_or(super::PRIVATE_FIT_QUANTILE_MAP),
                    ..dp
                },
                schema,
            },
            (Some(_), None) => {
                return Err(Error::invalid(
                    "a private fit (option 'epsilon') needs a public schema (option 'schema'): write one with `synthvol schema` (or sv_schema in R), replace what it read off the data with public knowledge, and pass it",
                ))
            }
            (None, schema) => FitKind::Plain { schema },
        };
        Ok(FitPlan { options, kind })
    }

    /// Checks a request for fine-tuning `pretrained` and fills its defaults (steps 1000,
    /// learning rate 0.001; the network's shape, diffusion steps and target are the model's).
    pub fn check_fine_tune(&self, pretrained: &Synthesizer) -> Result<FineTunePlan> {
        for (set, key) in [
            (self.layers.is_some(), "layers"),
            (self.timesteps.is_some(), "timesteps"),
            (self.time_dim.is_some(), "time_dim"),
            (self.annotations.is_some(), "annotations"),
            (self.precision.is_some(), "precision"),
        ] {
            if set {
                return Err(Error::invalid(format!(
                    "option '{key}' is the pre-trained model's in a fine-tuning and cannot be changed"
                )));
            }
        }
        if self.pair_share.is_some() {
            return Err(Error::invalid(
                "option 'pair_share' applies to a new private fit; a fine-tuning drops any target pairs (they describe the pre-training rows)",
            ));
        }
        if self.smoothing.is_some() {
            return Err(Error::invalid(
                "option 'smoothing' applies to a new fit without DP; a fine-tuning trains on its rows as they are",
            ));
        }
        if self.quantile_map.is_some() {
            return Err(Error::invalid(
                "option 'quantile_map' applies to a new private fit; a fine-tuning keeps the pre-trained encoder and drops any map (the network it describes changes)",
            ));
        }
        if self.schema.is_some() {
            return Err(Error::invalid(
                "option 'schema' declares the level sets at pre-training; a fine-tuning uses the pre-trained model's (declare levels the pre-training data lack when pre-training)",
            ));
        }
        let model_target = pretrained.record().options.target.as_deref();
        if let Some(t) = &self.target {
            if model_target != Some(t.as_str()) {
                return Err(Error::invalid(format!(
                    "option 'target' ('{t}') differs from the pre-trained model's target ({}); a fine-tuning keeps the model's target",
                    model_target.map_or("none".to_string(), |t| format!("'{t}'"))
                )));
            }
        }
        let d = FineTuneOptions::default();
        let mut optim = self.optim(&d.optim, 0.0)?;
        optim.trainable = self.trainable.unwrap_or(if self.epsilon.is_some() {
            super::PRIVATE_TRAINABLE
        } else {
            Trainable::All
        });
        optim.steps = positive(
            "steps",
            self.steps.unwrap_or(if self.epochs.is_some() {
                MAX_STEPS
            } else {
                d.optim.steps
            }),
            MAX_STEPS,
        )?;
        let epochs = match (self.epochs, self.steps, self.epsilon) {
            (Some(e), _, _) => Some(positive_epochs(e)?),
            (None, None, None) => Some(super::FINE_TUNE_EPOCHS),
            _ => None,
        };
        let options = FineTuneOptions {
            epochs,
            optim,
            seed: self.seed.unwrap_or(d.seed),
            threads: self.threads()?,
            device: self.device.unwrap_or_default(),
            calibrate: self.calibrate.unwrap_or(self.epsilon.is_some()),
        };
        let mut dp = self.dp(&options.optim)?;
        // Calibration's counts come from the preprocessing share: a larger default share.
        if let (Some(d), true, None) = (&mut dp, options.calibrate, self.preprocessing_share) {
            d.preprocessing_share = super::PRIVATE_CALIBRATION_SHARE;
        }
        Ok(FineTunePlan { options, dp })
    }

    /// The optimiser's settings but the steps (whose default depends on the kind of fit), with
    /// `holdout` the default share held out for early stopping.
    fn optim(&self, d: &OptimConfig, holdout: f64) -> Result<OptimConfig> {
        let batch_size = positive(
            "batch_size",
            self.batch_size.unwrap_or(d.batch_size),
            usize::MAX,
        )?;
        let lr = self.lr.unwrap_or(d.lr);
        if !(lr > 0.0 && lr.is_finite()) {
            return Err(Error::invalid(format!(
                "option 'lr' (the learning rate) must be positive and finite, got {lr}"
            )));
        }
        let weight_decay = self.weight_decay.unwrap_or(d.weight_decay);
        if !(weight_decay >= 0.0 && weight_decay.is_finite()) {
            return Err(Error::invalid(format!(
                "option 'weight_decay' must be zero or positive, got {weight_decay}"
            )));
        }
        let ema_rate = self.ema_rate.unwrap_or(d.ema_rate);
        if !(0.0..1.0).contains(&ema_rate) {
            return Err(Error::invalid(format!(
                "option 'ema_rate' must be in [0, 1), got {ema_rate}"
            )));
        }
        let holdout = self.holdout.unwrap_or(holdout);
        if !(0.0..=0.5).contains(&holdout) {
            return Err(Error::invalid(format!(
                "option 'holdout' (the share of rows held out for early stopping) must be from 0 (off) to 0.5, got {holdout}"
            )));
        }
        if holdout > 0.0 && self.epsilon.is_some() {
            return Err(Error::invalid(
                "option 'holdout' is for fits without DP: early stopping reads the held-out rows' loss without noise, which differential privacy does not allow",
            ));
        }
        Ok(OptimConfig {
            steps: d.steps,
            batch_size,
            lr,
            weight_decay,
            ema_rate,
            early_stopping: (holdout > 0.0).then_some(EarlyStopping {
                holdout,
                every: EARLY_STOPPING_EVERY,
                patience: EARLY_STOPPING_PATIENCE,
            }),
            trainable: Trainable::All,
        })
    }

    fn threads(&self) -> Result<usize> {
        let t = self.threads.unwrap_or(0);
        if t > MAX_THREADS {
            return Err(Error::invalid(format!(
                "option 'threads' is {t}; at most {MAX_THREADS} are supported (0 uses all cores)"
            )));
        }
        Ok(t)
    }

    /// The requested smoothing bandwidth, checked.
    fn smoothing(&self) -> Result<Option<f64>> {
        match self.smoothing {
            Some(h) if !(0.0..=super::smoothing::MAX_SMOOTHING).contains(&h) => {
                Err(Error::invalid(format!(
                    "option 'smoothing' (the bandwidth of each row's smoothed copy) must be from 0 (no copies) to {}, got {h}",
                    super::smoothing::MAX_SMOOTHING
                )))
            }
            h => Ok(h),
        }
    }

    /// The DP options when `epsilon` is set; a DP-only option without it is an error.
    fn dp(&self, optim: &OptimConfig) -> Result<Option<DpOptions>> {
        let dp_only = [
            (self.delta.is_some(), "delta"),
            (self.max_grad_norm.is_some(), "max_grad_norm"),
            (self.sample_rate.is_some(), "sample_rate"),
            (self.augment.is_some(), "augment"),
            (self.preprocessing_share.is_some(), "preprocessing_share"),
            (self.categorical_weight.is_some(), "categorical_weight"),
            (self.noise_seed.is_some(), "noise_seed"),
            (self.pair_share.is_some(), "pair_share"),
        ];
        let Some(epsilon) = self.epsilon else {
            if let Some((_, key)) = dp_only.iter().find(|(set, _)| *set) {
                return Err(Error::invalid(format!(
                    "option '{key}' applies to private fits only (set option 'epsilon')"
                )));
            }
            return Ok(None);
        };
        let d = DpOptions::default();
        let dp = DpOptions {
            epsilon,
            delta: self.delta.unwrap_or(d.delta),
            max_grad_norm: self.max_grad_norm.unwrap_or(d.max_grad_norm),
            sample_rate: self.sample_rate,
            augment: self.augment.unwrap_or(d.augment),
            preprocessing_share: self.preprocessing_share.unwrap_or(d.preprocessing_share),
            categorical_weight: self.categorical_weight.unwrap_or(d.categorical_weight),
            noise_seed: self.noise_seed,
            calibrate: false,
            quantile_map: false,
            pair_share: self.pair_share,
            preprocessing_share_by_rows: self.preprocessing_share.is_none(),
        };
        check_dp(&dp)?;
        if optim.batch_size < dp.augment {
            return Err(Error::invalid(format!(
                "option 'batch_size' ({}) must be at least option 'augment' ({})",
                optim.batch_size, dp.augment
            )));
        }
        Ok(Some(dp))
    }
}

/// Checks DP options (also for callers that build [`DpOptions`] themselves).
pub(crate) fn check_dp(dp: &DpOptions) -> Result<()> {
    if !(dp.epsilon > 0.0 && dp.epsilon.is_finite()) {
        return Err(Error::invalid(format!(
            "option 'epsilon' must be positive and finite, got {}",
            dp.epsilon
        )));
    }
    if !(dp.delta > 0.0 && dp.delta < 1.0) {
        return Err(Error::invalid(format!(
            "option 'delta' must be in (0, 1), got {}",
            dp.delta
        )));
    }
    if !(dp.max_grad_norm > 0.0 && dp.max_grad_norm.is_finite()) {
        return Err(Error::invalid(format!(
            "option 'max_grad_norm' (the clipping norm) must be positive and finite, got {}",
            dp.max_grad_norm
        )));
    }
    if let Some(q) = dp.sample_rate {
        if !(q > 0.0 && q <= 1.0) {
            return Err(Error::invalid(format!(
                "option 'sample_rate' must be in (0, 1], got {q}"
            )));
        }
    }
    if !(dp.preprocessing_share > 0.0 && dp.preprocessing_share < 1.0) {
        return Err(Error::invalid(format!(
            "option 'preprocessing_share' (the share of ε spent on preprocessing) must be in (0, 1), got {}",
            dp.preprocessing_share
        )));
    }
    if let Some(s) = dp.pair_share {
        if !(0.0..1.0).contains(&s) {
            return Err(Error::invalid(format!(
                "option 'pair_share' (the share of ε spent on target-pair marginals) must be in [0, 1), got {s}"
            )));
        }
        if dp.preprocessing_share + s >= 1.0 {
            return Err(Error::invalid(format!(
                "options 'preprocessing_share' ({}) and 'pair_share' ({s}) leave DP-SGD no budget; together they must be below 1",
                dp.preprocessing_share
            )));
        }
    }
    if !(dp.categorical_weight > 0.0 && dp.categorical_weight.is_finite()) {
        return Err(Error::invalid(format!(
            "option 'categorical_weight' must be positive and finite, got {}",
            dp.categorical_weight
        )));
    }
    if dp.augment == 0 || dp.augment > MAX_AUGMENT {
        return Err(Error::invalid(format!(
            "option 'augment' (draws per row and step) must be from 1 to {MAX_AUGMENT}, got {}",
            dp.augment
        )));
    }
    Ok(())
}

/// `v` when it is from 1 to `max`, else an error naming `key`.
fn positive(key: &str, v: usize, max: usize) -> Result<usize> {
    if v == 0 {
        return Err(Error::invalid(format!(
            "option '{key}' must be at least 1, got 0"
        )));
    }
    if v > max {
        return Err(Error::invalid(format!(
            "option '{key}' must be at most {max}, got {v}"
        )));
    }
    Ok(v)
}

/// An epoch budget, checked: positive and finite.
fn positive_epochs(e: f64) -> Result<f64> {
    if e > 0.0 && e.is_finite() {
        Ok(e)
    } else {
        Err(Error::invalid(format!(
            "option 'epochs' (passes over the rows) must be positive, got {e}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_and_choose_the_fit() {
        let plan = FitRequest::default().check().unwrap();
        // A new fit without DP runs the epoch budget, capped at the default steps, and leaves
        // the layers to its rows.
        let want = FitOptions {
            epochs: Some(super::super::FIT_EPOCHS),
            layers_by_rows: true,
            ..FitOptions::default()
        };
        assert_eq!(plan.options, want);
        assert_eq!(plan.kind, FitKind::Plain { schema: None });
        // A private request gets the private default of T and needs a schema.
        let req = FitRequest {
            epsilon: Some(1.0),
            ..FitRequest::default()
        };
        let e = req.check().unwrap_err();
        assert!(e.message.contains("option 'schema'"), "{}", e.message);
        let schema = crate::datasets::adult_schema().unwrap();
        let req = FitRequest {
            epsilon: Some(1.0),
            schema: Some(schema.clone()),
            ..FitRequest::default()
        };
        let plan = req.check().unwrap();
        assert_eq!(plan.options.timesteps, DP_TIMESTEPS);
        let FitKind::Private { dp, .. } = plan.kind else {
            panic!("private")
        };
        assert_eq!(dp.delta, 1e-5);
        // An explicit T is kept.
        let req = FitRequest {
            epsilon: Some(1.0),
            timesteps: Some(50),
            schema: Some(schema),
            ..FitRequest::default()
        };
        assert_eq!(req.check().unwrap().options.timesteps, 50);
    }

    #[test]
    fn epochs_set_a_new_fits_steps_unless_steps_or_dp_do() {
        use super::super::{FIT_EPOCHS, MIN_FIT_STEPS};
        let plan = |json: &str| FitRequest::from_json(json).and_then(|r| r.check());
        let d = FitOptions::default().optim.steps;
        // Steps alone: exactly those, no budget.
        let p = plan(r#"{"steps": 300}"#).unwrap();
        assert_eq!((p.options.epochs, p.options.optim.steps), (None, 300));
        // Epochs alone: the budget decides, up to the most steps allowed.
        let p = plan(r#"{"epochs": 20}"#).unwrap();
        assert_eq!(
            (p.options.epochs, p.options.optim.steps),
            (Some(20.0), MAX_STEPS)
        );
        // Both: the steps cap the budget.
        let p = plan(r#"{"epochs": 20, "steps": 900}"#).unwrap();
        assert_eq!((p.options.epochs, p.options.optim.steps), (Some(20.0), 900));
        // The budget on rows: 500 epochs of 221 rows in batches of 221 are 500 steps (and of
        // 221 rows with their 221 smoothed copies in batches of 442); of 32,561 rows in
        // batches of 1024 they reach the cap; a few rows get the floor.
        let o = plan("{}").unwrap().options;
        assert_eq!(o.epochs, Some(FIT_EPOCHS));
        assert_eq!(o.for_rows(221, 100).optim.steps, FIT_EPOCHS as usize);
        let smoothed = plan(r#"{"smoothing": 1}"#).unwrap().options;
        assert_eq!(smoothed.for_rows(221, 8).optim.steps, FIT_EPOCHS as usize);
        // 700 rows and their copies in batches of 1024: 500 · 1400 / 1024 steps (700 rows
        // alone in batches of 700: 500).
        assert_eq!(smoothed.for_rows(700, 8).optim.steps, 684);
        assert_eq!(o.for_rows(700, 8).optim.steps, 500);
        assert_eq!(o.for_rows(32_561, 8).optim.steps, d);
        let few = plan(r#"{"epochs": 1}"#).unwrap().options;
        assert_eq!(few.for_rows(50, 8).optim.steps, MIN_FIT_STEPS);
        // A private fit is never budgeted by its rows.
        let schema = crate::datasets::adult_schema().unwrap();
        let private = FitRequest {
            epsilon: Some(1.0),
            schema: Some(schema.clone()),
            ..FitRequest::default()
        };
        let p = private.check().unwrap();
        assert_eq!((p.options.epochs, p.options.optim.steps), (None, d));
        let e = FitRequest {
            epochs: Some(100.0),
            ..private
        }
        .check()
        .unwrap_err();
        assert!(e.message.contains("option 'epochs'"), "{}", e.message);
        for bad in [0.0, -3.0, f64::NAN, f64::INFINITY] {
            let e = FitRequest {
                epochs: Some(bad),
                ..FitRequest::default()
            }
            .check()
            .unwrap_err();
            assert!(
                e.message.contains("option 'epochs'") && e.message.contains("positive"),
                "{bad}: {}",
                e.message
            );
        }
    }

    #[test]
    fn bad_values_name_their_option() {
        let cases: [(&str, &str); 12] = [
            (r#"{"steps": 0}"#, "option 'steps' must be at least 1"),
            (
                r#"{"batch_size": 0}"#,
                "option 'batch_size' must be at least 1",
            ),
            (r#"{"layers": []}"#, "option 'layers'"),
            (
                r#"{"layers": [70000]}"#,
                "option 'layers' must be at most 65536",
            ),
            (r#"{"time_dim": 7}"#, "option 'time_dim'"),
            (r#"{"timesteps": 1}"#, "option 'timesteps'"),
            (r#"{"lr": -1}"#, "option 'lr'"),
            (
                r#"{"epsilon": -1, "schema": null}"#,
                "option 'epsilon' must be positive",
            ),
            (
                r#"{"delta": 0.1}"#,
                "option 'delta' applies to private fits only",
            ),
            (r#"{"threads": 5000}"#, "option 'threads'"),
            (r#"{"device": "tpu"}"#, "option 'device'"),
            (r#"{"stepz": 3}"#, "unknown field `stepz`"),
        ];
        for (json, want) in cases {
            let e = FitRequest::from_json(json)
                .and_then(|r| {
                    let mut r = r;
                    if r.epsilon.is_some() {
                        r.schema = crate::datasets::adult_schema().ok();
                    }
                    r.check().map(|_| ())
                })
                .unwrap_err();
            assert!(e.message.contains(want), "{json}: {}", e.message);
        }
    }

    #[test]
    fn json_round_trips() {
        let req = FitRequest {
            target: Some("income".into()),
            steps: Some(10),
            layers: Some(vec![8, 8]),
            device: Some(Device::Cpu),
            ..FitRequest::default()
        };
        let back = FitRequest::from_json(&req.to_json()).unwrap();
        assert_eq!(back, req);
    }
}

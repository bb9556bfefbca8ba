//! Generational-effect tuning of the synthetic volume (Shen, Liu & Shen 2023): for ratios ρ in
//! a grid, train the analysis on m = ρ·n synthetic rows (optionally with the n raw rows), score
//! it on validation rows kept apart from training and from any test rows, and choose the m
//! where the error stops falling (the smallest mean error over the grid).
//!
//! Each repetition draws the largest volume once and uses its first m rows for every ratio, so
//! the volumes are nested (as generating more rows from one generator is) and the cost is one
//! sampling of the largest volume per repetition.

use serde::Serialize;

use super::analysis::{Analysis, AnalysisKind};
use crate::backend::Device;
use crate::error::{Error, Result};
use crate::model::{SampleOptions, Synthesizer};
use crate::progress::{Progress, ProgressFn};
use crate::table::Table;

/// Settings of a tuning run. As JSON (the C ABI's `options_json`) the keys are the field
/// names, every one optional; an unknown key is an error.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TuneOptions {
    /// The ratios ρ = m / n to try (default 1, 2, …, 30).
    pub ratios: Vec<f64>,
    /// Independent generations per ratio, for the Monte Carlo spread (default 3).
    pub repeats: usize,
    /// Train on the raw rows together with the synthetic ones.
    pub with_raw: bool,
    pub seed: u64,
    /// Threads for sampling (0: all cores).
    pub threads: usize,
    /// Where to sample.
    pub device: Device,
    /// The built-in analysis [`tune_builtin`] runs ("linear" or "boosting"; a callback or
    /// closure given to [`tune`] replaces it).
    pub analysis: AnalysisKind,
    /// Draw every synthetic row with this level of the model's conditioning column (a model
    /// fitted with a categorical `target`): a model trained on related and target rows
    /// together, conditioned on the group column, makes rows of the target group only.
    pub label: Option<String>,
}

impl Default for TuneOptions {
    fn default() -> Self {
        TuneOptions {
            ratios: (1..=30).map(f64::from).collect(),
            repeats: 3,
            with_raw: false,
            seed: 0,
            threads: 0,
            device: Device::Auto,
            analysis: AnalysisKind::Linear,
            label: None,
        }
    }
}

/// [`tune`] with the built-in analysis of `target` that `opts.analysis` names: logistic
/// regression or gradient boosting scored by the misclassification rate for a categorical
/// target, least squares or gradient boosting scored by RMSE for a numeric one (what
/// `synthvol tune` and `sv_tune` without a callback run).
pub fn tune_builtin(
    model: &Synthesizer,
    raw: &Table,
    valid: &Table,
    target: &str,
    opts: &TuneOptions,
    progress: ProgressFn,
) -> Result<TuneResult> {
    let raw_c = raw
        .conform_to(model.schema())
        .map_err(|e| Error::data(format!("raw rows: {}", e.message)))?;
    let (mut analysis, metric) = super::builtin_kind(&raw_c, target, opts.analysis)?;
    let mut r = tune(model, raw, valid, &mut *analysis, metric, opts, progress)?;
    r.analysis = Some(opts.analysis.name().to_string());
    Ok(r)
}

/// One point of the curve.
#[derive(Debug, Clone, Serialize)]
pub struct TunePoint {
    pub ratio: f64,
    /// Synthetic rows m = round(ρ·n).
    pub m: usize,
    /// Mean validation error over the repetitions.
    pub error: f64,
    /// Standard deviation of the error over the repetitions (0 with one).
    pub error_sd: f64,
    pub errors: Vec<f64>,
}

/// The tuning curve and the chosen volume.
#[derive(Debug, Clone, Serialize)]
pub struct TuneResult {
    /// Raw rows n.
    pub n_raw: usize,
    pub validation_rows: usize,
    pub error_metric: String,
    /// The built-in analysis that ran ("linear" or "boosting"; absent for a caller's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<String>,
    pub with_raw: bool,
    pub repeats: usize,
    /// The analysis trained on the raw rows alone, scored on the validation rows.
    pub raw_only_error: f64,
    pub points: Vec<TunePoint>,
    pub chosen_ratio: f64,
    pub chosen_m: usize,
    pub chosen_error: f64,
    /// The raw rows alone scored strictly better than every synthetic volume: the analysis
    /// gains nothing from these synthetic rows at this size (say so rather than pass off the
    /// chosen volume as an improvement).
    pub raw_only_better: bool,
}

/// Runs the tuning. `raw` and `valid` are matched to the model's schema by column name and
/// level label; `analysis(train, valid)` returns the error to minimise. `progress` sees the
/// sampling ("sample") and the fits ("tune").
pub fn tune(
    model: &Synthesizer,
    raw: &Table,
    valid: &Table,
    analysis: &mut Analysis,
    error_metric: &str,
    opts: &TuneOptions,
    progress: ProgressFn,
) -> Result<TuneResult> {
    if opts.ratios.is_empty() {
        return Err(Error::invalid("the ratio grid is empty"));
    }
    if let Some(r) = opts.ratios.iter().find(|r| !(**r > 0.0 && r.is_finite())) {
        return Err(Error::invalid(format!("ratios must be positive, got {r}")));
    }
    if opts.repeats == 0 {
        return Err(Error::invalid("at least one repetition is needed"));
    }
    let raw = raw
        .conform_to(model.schema())
        .map_err(|e| Error::data(format!("raw rows: {}", e.message)))?;
    let valid = valid
        .conform_to(model.schema())
        .map_err(|e| Error::data(format!("validation rows: {}", e.message)))?;
    let n = raw.n_rows();
    if n == 0 || valid.n_rows() == 0 {
        return Err(Error::data(
            "tuning needs at least one raw row and one validation row",
        ));
    }
    let sizes: Vec<usize> = opts
        .ratios
        .iter()
        .map(|r| ((r * n as f64).round() as usize).max(1))
        .collect();
    let m_max = *sizes.iter().max().expect("non-empty");
    let largest = opts.ratios.iter().copied().fold(0.0, f64::max);
    model.check_sample_memory(
        m_max,
        SampleOptions::default().batch_size,
        &format!(
            "the largest ratio ρ = {largest} (m = ρ·n = {m_max} synthetic rows per generation)"
        ),
        "use smaller ratios",
    )?;
    let raw_only_error = analysis(&raw, &valid)?;
    let total = opts.repeats * sizes.len();
    let mut errors = vec![Vec::with_capacity(opts.repeats); sizes.len()];
    let sample_opts = SampleOptions {
        threads: opts.threads,
        device: opts.device,
        label: opts.label.clone(),
        ..SampleOptions::default()
    };
    for rep in 0..opts.repeats {
        let syn = model.sample(
            m_max,
            opts.seed.wrapping_add(rep as u64),
            &sample_opts,
            &mut *progress,
        )?;
        for (i, &m) in sizes.iter().enumerate() {
            let part = syn.select_rows(&(0..m).collect::<Vec<_>>());
            let train = if opts.with_raw {
                raw.concat(&part)?
            } else {
                part
            };
            let e = analysis(&train, &valid)?;
            if !e.is_finite() {
                return Err(Error::numerical(format!(
                    "the analysis returned a non-finite error ({e}) at ρ = {}",
                    opts.ratios[i]
                )));
            }
            errors[i].push(e);
            let p = Progress {
                stage: "tune",
                done: rep * sizes.len() + i + 1,
                total,
                loss: e,
            };
            if !progress(&p) {
                return Err(Error::cancelled());
            }
        }
    }
    let points: Vec<TunePoint> = opts
        .ratios
        .iter()
        .zip(&sizes)
        .zip(errors)
        .map(|((&ratio, &m), errors)| {
            let k = errors.len() as f64;
            let mean = errors.iter().sum::<f64>() / k;
            let sd = if errors.len() > 1 {
                (errors.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (k - 1.0)).sqrt()
            } else {
                0.0
            };
            TunePoint {
                ratio,
                m,
                error: mean,
                error_sd: sd,
                errors,
            }
        })
        .collect();
    let best = points
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.error.total_cmp(&b.1.error).then(a.0.cmp(&b.0)))
        .map(|(i, _)| i)
        .expect("non-empty");
    Ok(TuneResult {
        n_raw: n,
        validation_rows: valid.n_rows(),
        error_metric: error_metric.to_string(),
        analysis: None,
        with_raw: opts.with_raw,
        repeats: opts.repeats,
        raw_only_error,
        chosen_ratio: points[best].ratio,
        chosen_m: points[best].m,
        chosen_error: points[best].error,
        raw_only_better: raw_only_error < points[best].error,
        points,
    })
}

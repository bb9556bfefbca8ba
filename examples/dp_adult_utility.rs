//! Repeated private fits of the demo's DP configuration on Adult at (ε, δ) = (1, 1e-5): the
//! logistic-regression accuracy gap (trained on real vs on private synthetic rows, scored on
//! the Adult test rows) per fit, and its mean and range. Every fit draws fresh OS noise, so
//! one fit says little; this measures the spread.
//!
//!   cargo run --release --example dp_adult_utility -- [FITS]
//!
//! Environment (defaults: the demo's): DP_STEPS (600), DP_LR (0.003), DP_LAYERS (256,256),
//! DP_TIMESTEPS (the private default, 20), DP_CATEGORICAL_WEIGHT (20), DP_AUGMENT (1), DP_SAMPLE_RATE (automatic),
//! DP_MAX_GRAD_NORM (1), DP_CALIBRATE (false: calibrate the level frequencies to noisy counts),
//! DP_PRE_SHARE (0.1, the preprocessing share of ε), DP_QUANTILE_MAP (true: map the numeric
//! output onto the noisy quantiles).

use std::time::Instant;

use synthvol::datasets;
use synthvol::metrics::{self, EvaluateOptions};
use synthvol::model::{
    DpOptions, FitOptions, FitRequest, SampleOptions, Synthesizer, DP_TIMESTEPS,
    PRIVATE_FIT_QUANTILE_MAP,
};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> synthvol::Result<()> {
    let fits: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let train = datasets::adult_train()?;
    let test = datasets::adult_test()?;
    let public = datasets::adult_schema()?;
    let layers: Vec<usize> = std::env::var("DP_LAYERS")
        .unwrap_or_else(|_| "256,256".into())
        .split(',')
        .filter_map(|x| x.parse().ok())
        .collect();
    let mut opts = FitOptions {
        target: Some("income".into()),
        layers,
        dim_t: 128,
        timesteps: env("DP_TIMESTEPS", DP_TIMESTEPS),
        ..FitOptions::default()
    };
    opts.optim.steps = env("DP_STEPS", 600);
    opts.optim.batch_size = 8192;
    opts.optim.lr = env("DP_LR", 3e-3);
    let dp = DpOptions {
        epsilon: 1.0,
        delta: 1e-5,
        categorical_weight: env(
            "DP_CATEGORICAL_WEIGHT",
            DpOptions::default().categorical_weight,
        ),
        augment: env("DP_AUGMENT", 1),
        sample_rate: std::env::var("DP_SAMPLE_RATE")
            .ok()
            .and_then(|v| v.parse().ok()),
        max_grad_norm: env("DP_MAX_GRAD_NORM", 1.0),
        calibrate: env("DP_CALIBRATE", false),
        quantile_map: env("DP_QUANTILE_MAP", PRIVATE_FIT_QUANTILE_MAP),
        preprocessing_share: env("DP_PRE_SHARE", DpOptions::default().preprocessing_share),
        ..DpOptions::default()
    };
    let eval = EvaluateOptions {
        target: Some("income".into()),
        ..EvaluateOptions::default()
    };
    let mut gaps = Vec::new();
    for i in 0..fits {
        let start = Instant::now();
        opts.seed = i as u64;
        let model = Synthesizer::fit(
            &train,
            &FitRequest::from_private_options(&opts, &dp, public.clone()),
            &mut |_| true,
        )?;
        let syn = model.sample(
            train.n_rows(),
            i as u64,
            &SampleOptions::default(),
            &mut |_| true,
        )?;
        let report = metrics::evaluate(&train, &syn, Some(&test), &eval, &mut |_| true)?;
        let u = report
            .utility
            .as_ref()
            .expect("a target gives a utility report");
        let gap = u.accuracy_gap_points.unwrap_or(f64::NAN);
        println!(
            "fit {}: accuracy real {:.4}, private synthetic {:.4}, gap {gap:.2} points; mean column score {:.3}, correlation similarity {:.3} ({:.0} s)",
            i + 1,
            u.real.accuracy.unwrap_or(f64::NAN),
            u.synthetic.accuracy.unwrap_or(f64::NAN),
            report.fidelity.mean_column_score,
            report.fidelity.correlation_similarity.unwrap_or(f64::NAN),
            start.elapsed().as_secs_f64()
        );
        gaps.push(gap);
    }
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    let (lo, hi) = gaps
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &g| {
            (a.min(g), b.max(g))
        });
    println!(
        "{} fits: gap mean {mean:.2} points, range {lo:.2} to {hi:.2}",
        gaps.len()
    );
    Ok(())
}

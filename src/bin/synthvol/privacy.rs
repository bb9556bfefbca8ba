//! `synthvol privacy` (what a model spent, or ε for a plan) and `synthvol audit`.

use std::path::PathBuf;

use clap::Args;

use synthvol::model::{CalibrationRecord, PrivacyRecord, Synthesizer};
use synthvol::privacy::audit::{audit_dp_sgd, AuditConfig};
use synthvol::privacy::plan_epsilon;
use synthvol::{Error, Result};

#[derive(Args)]
pub struct PrivacyArgs {
    /// A model written by `synthvol fit`.
    #[arg(long, conflicts_with_all = ["sample_rate", "noise_multiplier", "steps"])]
    model: Option<PathBuf>,
    /// Poisson sampling rate q of a plan.
    #[arg(long)]
    sample_rate: Option<f64>,
    /// Noise multiplier σ of a plan.
    #[arg(long)]
    noise_multiplier: Option<f64>,
    /// Steps of a plan.
    #[arg(long)]
    steps: Option<u64>,
    /// δ of a plan [default: 1e-5].
    #[arg(long)]
    delta: Option<f64>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct AuditArgs {
    /// Runs with and without the canary (each) [default: 2000].
    #[arg(long)]
    runs: Option<usize>,
    /// DP-SGD steps per run [default: 10].
    #[arg(long)]
    steps: Option<usize>,
    /// Poisson sampling rate q [default: 0.5].
    #[arg(long)]
    sample_rate: Option<f64>,
    /// Noise multiplier σ [default: 1].
    #[arg(long)]
    noise_multiplier: Option<f64>,
    /// Clipping norm C [default: 1].
    #[arg(long)]
    max_grad_norm: Option<f64>,
    /// δ [default: 1e-5].
    #[arg(long)]
    delta: Option<f64>,
    /// Seed of the audit's runs [default: 0].
    #[arg(long)]
    seed: Option<u64>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn print_privacy(what: &str, p: &PrivacyRecord) {
    println!(
        "{what}: ({:.4}, {:e})-differentially private with respect to one row (budget ε = {})",
        p.epsilon, p.delta, p.epsilon_budget
    );
    println!(
        "  DP-SGD: σ = {:.4}, q = {:.5}, {} steps, C = {}, K = {}, categorical loss weight {}",
        p.noise_multiplier,
        p.sample_rate,
        p.steps,
        p.max_grad_norm,
        p.augment,
        p.categorical_weight
    );
    println!(
        "  preprocessing: {} noisy histograms/counts{}, noise multiplier {:.3}, sensitivity {:.3}, ε alone {:.4}",
        p.preprocessing.histograms,
        p.preprocessing
            .max_bins
            .map_or(String::new(), |b| format!(" (numeric histograms of at most {b} bins)")),
        p.preprocessing.noise_multiplier,
        p.preprocessing.sensitivity,
        p.preprocessing_epsilon
    );
    if let Some(t) = &p.target_pairs {
        println!(
            "  target pairs: {} tables of (class, cell) counts, {} counts (numeric columns in at most {} bins of the model's output), noise multiplier {:.3}, sensitivity {:.3}, ε alone {:.4} ({} of ε); sampling rakes each block from {} blocks of the model's rows (post-processing)",
            t.tables,
            t.counts,
            t.bins,
            t.noise_multiplier,
            t.sensitivity,
            p.target_pairs_epsilon.unwrap_or(f64::NAN),
            t.share,
            t.pool
        );
    }
    println!("  accountant: {}", p.accountant);
    println!(
        "  rows: {} ({}); noise: {}",
        p.rows,
        p.notes.join("; "),
        p.noise_source
    );
}

fn print_calibration(c: &CalibrationRecord) {
    println!(
        "  calibrated to {} (post-processing): largest level-frequency error {:.4} before, {:.4} after {} round(s)",
        c.source, c.max_error_before, c.max_error_after, c.rounds
    );
}

pub fn privacy(a: PrivacyArgs) -> Result<()> {
    if let Some(m) = &a.model {
        if a.delta.is_some() {
            return Err(Error::invalid(
                "--delta belongs to a plan; a model's δ is the one it was fitted with",
            ));
        }
        let model = Synthesizer::load(m)?;
        if a.json {
            print!("{}", super::json(&model.privacy_json())?);
            return Ok(());
        }
        let r = model.record();
        match &r.privacy {
            None => println!(
                "{}: fitted on {} rows without differential privacy (no guarantee for those rows)",
                m.display(),
                r.n_rows
            ),
            Some(p) => print_privacy(&m.display().to_string(), p),
        }
        if let Some(c) = &r.calibration {
            print_calibration(c);
        }
        if let Some(q) = &r.quantile_map {
            println!(
                "  quantile map (post-processing): numeric output mapped onto the noisy quantiles, fitted on {} sampled rows; largest KS distance before {:.4}",
                q.rows, q.largest_ks_before
            );
        }
        for (i, t) in r.fine_tuning.iter().enumerate() {
            let what = format!("fine-tuning {} on {} rows", i + 1, t.n_rows);
            match &t.privacy {
                None => {
                    println!("{what}: without differential privacy (no guarantee for those rows)")
                }
                Some(p) => print_privacy(&what, p),
            }
            let trainable = t.options.optim.trainable;
            match t.trained_parameters {
                Some((k, total)) => println!(
                    "  trained: {} ({k} of {total} parameters; the others kept as pre-trained)",
                    trainable.describe()
                ),
                None => println!("  trained: {}", trainable.describe()),
            }
            if let Some(c) = &t.calibration {
                print_calibration(c);
            }
        }
        return Ok(());
    }
    let (Some(q), Some(sigma), Some(steps)) = (a.sample_rate, a.noise_multiplier, a.steps) else {
        return Err(Error::invalid("give --model MODEL, or a plan: --sample-rate q --noise-multiplier σ --steps T [--delta δ]"));
    };
    let delta = a.delta.unwrap_or(synthvol::privacy::DEFAULT_DELTA);
    let p = plan_epsilon(q, sigma, steps, delta)?;
    if a.json {
        print!("{}", super::json(&p)?);
    } else {
        println!(
            "ε = {:.4} at δ = {} for {steps} steps with q = {q} and σ = {sigma} (RDP, best order {})",
            p.epsilon, p.delta, p.order
        );
    }
    Ok(())
}

pub fn audit(a: AuditArgs) -> Result<()> {
    let d = AuditConfig::default();
    let cfg = AuditConfig {
        runs: a.runs.unwrap_or(d.runs),
        steps: a.steps.unwrap_or(d.steps),
        q: a.sample_rate.unwrap_or(d.q),
        sigma: a.noise_multiplier.unwrap_or(d.sigma),
        max_grad_norm: a.max_grad_norm.unwrap_or(d.max_grad_norm),
        delta: a.delta.unwrap_or(d.delta),
        seed: a.seed.unwrap_or(d.seed),
        ..d
    };
    let r = audit_dp_sgd(&cfg)?;
    if a.json {
        print!("{}", super::json(&r)?);
    } else {
        println!(
            "audit of DP-SGD (q = {}, σ = {}, {} steps, C = {}; {} runs with and without a canary):",
            cfg.q, cfg.sigma, cfg.steps, cfg.max_grad_norm, cfg.runs
        );
        println!(
            "  empirical lower bound on ε ({:.0}%): {:.4}",
            100.0 * cfg.confidence,
            r.epsilon_lower_bound
        );
        println!(
            "  accountant's ε at δ = {:e}:        {:.4}",
            cfg.delta, r.epsilon_accountant
        );
        println!(
            "  test at threshold {:.4}: false positives {:.3}, false negatives {:.3}",
            r.threshold, r.false_positive_rate, r.false_negative_rate
        );
    }
    if r.epsilon_lower_bound > r.epsilon_accountant {
        return Err(Error::numerical("the empirical lower bound exceeds the accountant's ε: the mechanism or the accountant is wrong"));
    }
    Ok(())
}

//! The Syn workflow's commands: `synthvol tune`, `synthvol infer`, `synthvol test`.

use std::path::{Path, PathBuf};

use clap::Args;

use synthvol::model::{FitRequest, Synthesizer};
use synthvol::syn::{self, SynTestRequest, TuneOptions};
use synthvol::{Error, Result};

use super::output::{check_outputs, progress_bar, write_text};
use super::ColumnTypes;

#[derive(Args)]
pub struct TuneArgs {
    /// A model written by `synthvol fit` (typically fine-tuned on --train).
    #[arg(long)]
    model: PathBuf,
    /// The raw rows the model learned from (n = their count).
    #[arg(long)]
    train: PathBuf,
    /// Validation rows, kept apart from the training rows and from any test rows.
    #[arg(long)]
    valid: PathBuf,
    /// The analysis target: categorical → logistic regression (misclassification rate),
    /// numeric → least squares (RMSE); with --analysis boosting, gradient-boosted trees.
    #[arg(long)]
    target: String,
    /// The built-in analysis: linear (logistic regression or least squares) or boosting
    /// (gradient-boosted trees, the paper's SynBoost) [default: linear].
    #[arg(long)]
    analysis: Option<String>,
    /// Draw every synthetic row with this level of the model's conditioning column (a model
    /// fitted with --target GROUP on related and target rows together).
    #[arg(long)]
    label: Option<String>,
    /// Ratios ρ = m / n: "a:b" (a, a+1, …, b), "a:b:step", or a comma-separated list
    /// [default: 1:30].
    #[arg(long)]
    ratios: Option<String>,
    /// Generations per ratio (for the Monte Carlo spread) [default: 3].
    #[arg(long)]
    repeats: Option<usize>,
    /// Train on the raw rows together with the synthetic ones.
    #[arg(long)]
    with_raw: bool,
    /// Seed [default: 0].
    #[arg(long)]
    seed: Option<u64>,
    /// Threads [default: 0, all cores].
    #[arg(long)]
    threads: Option<usize>,
    /// Where to sample: auto, cpu or cuda:N [default: auto].
    #[arg(long)]
    device: Option<String>,
    /// Write the curve as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the plot (SVG) here.
    #[arg(long)]
    svg: Option<PathBuf>,
    #[command(flatten)]
    types: ColumnTypes,
}

#[derive(Args)]
pub struct InferArgs {
    /// A synthetic table (repeat for M syntheses of the same size).
    #[arg(long, required = true)]
    synthetic: Vec<PathBuf>,
    /// The analysis target: numeric → least squares, two-class → logistic regression.
    #[arg(long)]
    target: String,
    /// How many real rows the generator learned from (n).
    #[arg(long)]
    real_rows: usize,
    /// Also write the result as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    #[command(flatten)]
    types: ColumnTypes,
}

#[derive(Args)]
pub struct TestArgs {
    /// A pre-trained model to fine-tune the twin generators from.
    #[arg(long)]
    model: PathBuf,
    /// The inference rows (split into two halves, one per twin).
    #[arg(long)]
    data: PathBuf,
    /// Real rows kept apart from --data, to fit the prediction models with and without the
    /// features (without them the models are fitted on synthetic rows of one twin).
    #[arg(long)]
    train: Option<PathBuf>,
    /// The target column.
    #[arg(long)]
    target: String,
    /// The features whose irrelevance is tested (comma-separated).
    #[arg(long, value_delimiter = ',', required = true)]
    features: Vec<String>,
    /// Ratios ρ = m / n: "a:b", "a:b:step" or a comma-separated list
    /// [default: 0.1,0.25,0.5,1,2,3,5,10].
    #[arg(long)]
    ratios: Option<String>,
    /// Monte Carlo chunks per ratio [default: 100].
    #[arg(long)]
    mc: Option<usize>,
    /// Level of the test (and the Type-I error the volume must keep) [default: 0.05].
    #[arg(long)]
    alpha: Option<f64>,
    /// Fine-tuning steps of each twin [default: 1000].
    #[arg(long)]
    steps: Option<usize>,
    /// Seed [default: 0].
    #[arg(long)]
    seed: Option<u64>,
    /// Threads [default: 0, all cores].
    #[arg(long)]
    threads: Option<usize>,
    /// Where to train and sample: auto, cpu or cuda:N [default: auto].
    #[arg(long)]
    device: Option<String>,
    /// Also write the result as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    #[command(flatten)]
    types: ColumnTypes,
}

/// Parses "a:b", "a:b:step" or "r1,r2,..." into the list of ratios (the engine checks them).
fn parse_ratios(s: &str) -> Result<Vec<f64>> {
    let bad = || {
        Error::invalid(format!(
            "--ratios '{s}' is not a range a:b, a:b:step or a comma-separated list of numbers"
        ))
    };
    let nums = |parts: &[&str]| -> Result<Vec<f64>> {
        parts
            .iter()
            .map(|p| p.trim().parse::<f64>().map_err(|_| bad()))
            .collect()
    };
    if !s.contains(':') {
        return nums(&s.split(',').collect::<Vec<_>>());
    }
    let v = nums(&s.split(':').collect::<Vec<_>>())?;
    let (a, b, step) = match v.as_slice() {
        [a, b] => (*a, *b, 1.0),
        [a, b, st] => (*a, *b, *st),
        _ => return Err(bad()),
    };
    // A range is expanded here, so its length is bounded here.
    if !(a.is_finite() && b >= a && step > 0.0) || (b - a) / step > 10_000.0 {
        return Err(bad());
    }
    let mut r = Vec::new();
    let mut k = 0.0;
    while a + k * step <= b + 1e-9 {
        r.push(a + k * step);
        k += 1.0;
    }
    Ok(r)
}

/// What to tell a user whose raw rows alone beat every synthetic volume.
pub const RAW_ROWS_BETTER: &str = "note: the raw rows alone score better than every synthetic \
    volume tried: this analysis gains nothing from the synthetic rows at this size";

pub fn tune(a: TuneArgs) -> Result<()> {
    let inputs: [(&str, &Path); 3] = [
        ("model", &a.model),
        ("train", &a.train),
        ("valid", &a.valid),
    ];
    check_outputs(&super::paths(&[&a.json, &a.svg]), &inputs)?;
    let d = TuneOptions::default();
    let opts = TuneOptions {
        ratios: a
            .ratios
            .as_deref()
            .map(parse_ratios)
            .transpose()?
            .unwrap_or(d.ratios),
        repeats: a.repeats.unwrap_or(d.repeats),
        with_raw: a.with_raw,
        seed: a.seed.unwrap_or(d.seed),
        threads: a.threads.unwrap_or(d.threads),
        device: super::device(&a.device)?.unwrap_or(d.device),
        analysis: a
            .analysis
            .as_deref()
            .map(syn::AnalysisKind::parse)
            .transpose()?
            .unwrap_or(d.analysis),
        label: a.label.clone(),
    };
    let model = Synthesizer::load(&a.model)?;
    let raw = a.types.read(&a.train)?;
    let valid = a.types.read(&a.valid)?;
    let r = syn::tune_builtin(&model, &raw, &valid, &a.target, &opts, &mut progress_bar())?;
    let categorical = matches!(
        model
            .schema()
            .index_of(&a.target)
            .map(|j| &model.schema().columns[j].kind),
        Some(synthvol::table::ColumnKind::Categorical { .. })
    );
    println!(
        "validation {} of {} on '{}' ({} raw rows, {} validation rows, {} generation(s) per ratio{}):",
        r.error_metric,
        opts.analysis.describe(categorical),
        a.target,
        r.n_raw,
        r.validation_rows,
        r.repeats,
        if r.with_raw { ", trained with the raw rows" } else { "" }
    );
    println!("  raw rows only            {:.4}", r.raw_only_error);
    for p in &r.points {
        println!(
            "  ρ = {:<5} m = {:<8} {:.4} ± {:.4}{}",
            p.ratio,
            p.m,
            p.error,
            p.error_sd,
            if p.ratio == r.chosen_ratio {
                "  <- chosen"
            } else {
                ""
            }
        );
    }
    println!(
        "chosen: ρ = {}, m = {} synthetic rows ({} {:.4} vs {:.4} on the raw rows alone)",
        r.chosen_ratio, r.chosen_m, r.error_metric, r.chosen_error, r.raw_only_error
    );
    if r.raw_only_better {
        let hint = " (--with-raw trains on the raw rows together with the synthetic ones)";
        println!("{RAW_ROWS_BETTER}{}", if r.with_raw { "" } else { hint });
    }
    if let Some(j) = &a.json {
        write_text(&super::json(&r)?, j)?;
    }
    if let Some(p) = &a.svg {
        write_text(&syn::tune_svg(&r), p)?;
    }
    Ok(())
}

pub fn infer(a: InferArgs) -> Result<()> {
    let inputs: Vec<(&str, &Path)> = a
        .synthetic
        .iter()
        .map(|p| ("synthetic", p.as_path()))
        .collect();
    check_outputs(&super::paths(&[&a.json]), &inputs)?;
    let tables = a
        .synthetic
        .iter()
        .map(|p| a.types.read(p))
        .collect::<Result<Vec<_>>>()?;
    let names: Vec<String> = a
        .synthetic
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let named: Vec<(&synthvol::table::Table, &str)> = tables
        .iter()
        .zip(&names)
        .map(|(t, n)| (t, n.as_str()))
        .collect();
    let r = syn::infer_named(&named, &a.target, a.real_rows)?;
    println!(
        "{} of '{}'{} on {} synthesis/syntheses of {} rows from {} real rows:",
        r.model,
        r.target,
        r.positive_class
            .as_ref()
            .map_or(String::new(), |c| format!(" (log-odds of '{c}')")),
        r.syntheses,
        r.rows_per_synthesis,
        r.real_rows
    );
    println!(
        "  {:<28} {:>12} {:>12} {:>14}",
        "term", "estimate", "naive SE", "corrected SE"
    );
    for c in &r.coefficients {
        println!(
            "  {:<28} {:>12.5} {:>12.5} {:>14.5}",
            c.term, c.estimate, c.se_naive, c.se_corrected
        );
    }
    println!(
        "corrected SE = naive SE × {:.2} (synthpop's population inference: T = v̄ (k/n + 1/M))",
        r.inflation
    );
    if let Some(w) = &r.warning {
        eprintln!("warning: {w}");
    }
    if let Some(j) = &a.json {
        write_text(&super::json(&r)?, j)?;
    }
    Ok(())
}

pub fn syn_test(a: TestArgs) -> Result<()> {
    let mut inputs: Vec<(&str, &Path)> = vec![("model", &a.model), ("data", &a.data)];
    if let Some(t) = &a.train {
        inputs.push(("train", t));
    }
    check_outputs(&super::paths(&[&a.json]), &inputs)?;
    let req = SynTestRequest {
        target: a.target.clone(),
        features: a.features.clone(),
        ratios: a.ratios.as_deref().map(parse_ratios).transpose()?,
        mc: a.mc,
        alpha: a.alpha,
        model_rows: None,
        seed: a.seed,
        fine_tune: Some(FitRequest {
            steps: a.steps,
            threads: a.threads,
            device: super::device(&a.device)?,
            ..FitRequest::default()
        }),
    };
    let model = Synthesizer::load(&a.model)?;
    let data = a.types.read(&a.data)?;
    let training = a.train.as_ref().map(|p| a.types.read(p)).transpose()?;
    let r = syn::syn_test_request(&model, &data, training.as_ref(), &req, &mut progress_bar())?;
    println!(
        "Syn-Test of H0: {} irrelevant to '{}' given the other features ({} inference rows, α = {}, {} Monte Carlo chunks per ratio)",
        r.features.join(", "),
        r.target,
        r.n,
        r.alpha,
        r.mc
    );
    println!(
        "  {:>6} {:>8} {:>14} {:>18}",
        "ρ", "m", "est. Type-I", "rejection (twins)"
    );
    for p in &r.points {
        println!(
            "  {:>6} {:>8} {:>14.3} {:>18.3}{}",
            p.ratio,
            p.m,
            p.type_i,
            p.rejection_rate,
            if Some(p.ratio) == r.chosen_ratio {
                "  <- chosen"
            } else {
                ""
            }
        );
    }
    match (r.chosen_m, r.p_value, r.statistics) {
        (Some(m), Some(p), Some(t)) => println!(
            "at m = {m}: T = {:.3} and {:.3} (two directions), combined p-value {p:.4}: {}",
            t[0],
            t[1],
            if r.reject {
                "reject H0"
            } else {
                "do not reject H0"
            }
        ),
        _ => {
            println!("no ratio keeps the estimated Type-I error at most α: the test is not decided")
        }
    }
    for n in &r.notes {
        eprintln!("note: {n}");
    }
    if let Some(j) = &a.json {
        write_text(&super::json(&r)?, j)?;
    }
    Ok(())
}

//! `synthvol evaluate`.

use std::path::{Path, PathBuf};

use clap::Args;

use synthvol::metrics::{self, EvaluateOptions};
use synthvol::Result;

use super::output::{check_outputs, progress_bar, write_text};
use super::ColumnTypes;

#[derive(Args)]
pub struct EvaluateArgs {
    /// The real rows (the model's training data).
    #[arg(long)]
    real: PathBuf,
    /// The synthetic rows.
    #[arg(long)]
    synthetic: PathBuf,
    /// Real rows not used for training, for utility and privacy risk.
    #[arg(long)]
    holdout: Option<PathBuf>,
    /// Target column for utility (categorical: logistic regression; numeric: least squares).
    #[arg(long)]
    target: Option<String>,
    /// Also write the report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also write the report as an HTML page with plots here.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Seed of the subsamples and of the detection folds [default: 0].
    #[arg(long)]
    seed: Option<u64>,
    /// Rows per table for the exact Wasserstein distances (0 leaves them out) [default: 1000].
    #[arg(long)]
    wasserstein_rows: Option<usize>,
    /// Rows per table for the privacy-risk distances (0 leaves them out) [default: 20000].
    #[arg(long)]
    privacy_rows: Option<usize>,
    /// Rows per table for pMSE and detection (0 leaves them out) [default: 50000].
    #[arg(long)]
    propensity_rows: Option<usize>,
    /// Cross-validation folds of the detection classifier (0 leaves it out) [default: 5].
    #[arg(long)]
    folds: Option<usize>,
    /// Threads [default: 0, all cores].
    #[arg(long)]
    threads: Option<usize>,
    #[command(flatten)]
    types: ColumnTypes,
}

pub fn evaluate(a: EvaluateArgs) -> Result<()> {
    let mut inputs: Vec<(&str, &Path)> = vec![("real", &a.real), ("synthetic", &a.synthetic)];
    if let Some(h) = &a.holdout {
        inputs.push(("holdout", h));
    }
    check_outputs(&super::paths(&[&a.json, &a.html]), &inputs)?;
    let real = a.types.read(&a.real)?;
    // The other tables are matched to the real one by column name and level label.
    let syn = a.types.read(&a.synthetic)?;
    let holdout = a.holdout.as_ref().map(|h| a.types.read(h)).transpose()?;
    let d = EvaluateOptions::default();
    let opts = EvaluateOptions {
        target: a.target.clone(),
        seed: a.seed.unwrap_or(d.seed),
        wasserstein_rows: a.wasserstein_rows.unwrap_or(d.wasserstein_rows),
        privacy_rows: a.privacy_rows.unwrap_or(d.privacy_rows),
        propensity_rows: a.propensity_rows.unwrap_or(d.propensity_rows),
        detection_folds: a.folds.unwrap_or(d.detection_folds),
        threads: a.threads.unwrap_or(d.threads),
    };
    let report = metrics::evaluate(&real, &syn, holdout.as_ref(), &opts, &mut progress_bar())?;
    print!("{}", report.to_text());
    if let Some(j) = &a.json {
        write_text(&(report.to_json() + "\n"), j)?;
    }
    if let Some(h) = &a.html {
        write_text(&metrics::to_html(&report), h)?;
    }
    Ok(())
}

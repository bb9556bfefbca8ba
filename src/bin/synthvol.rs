//! The `synthvol` command line: fit, sample, evaluate, demo. It parses, validates, shows
//! progress on stderr and calls the library; the work happens in the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};

#[path = "synthvol/demo_syn.rs"]
mod demo_syn;
use indicatif::{ProgressBar, ProgressStyle};

use synthvol::metrics::{self, EvaluateOptions, Report};
use synthvol::model::{
    DpOptions, FineTuneOptions, FitOptions, SampleOptions, Synthesizer, DP_TIMESTEPS,
};
use synthvol::privacy::accountant;
use synthvol::privacy::audit::{audit_dp_sgd, AuditConfig};
use synthvol::progress::Progress;
use synthvol::table::{read_csv, write_csv, CsvOptions, PublicSchema, Table};
use synthvol::{datasets, syn, Error, Result};

#[derive(Parser)]
#[command(
    name = "synthvol",
    version,
    about = "Learn a table with a diffusion model and generate synthetic rows from it"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fit a model to a CSV file and save it.
    Fit(FitArgs),
    /// Generate synthetic rows from a saved model into a CSV file.
    Sample(SampleArgs),
    /// Compare synthetic rows with real ones (fidelity; utility with --holdout and --target).
    Evaluate(EvaluateArgs),
    /// Fit, sample and evaluate on the bundled Adult data, and print a report.
    Demo(DemoArgs),
    /// Write a public schema (column kinds, levels, bounds) read off a data file, to review
    /// and edit before a private fit.
    Schema(SchemaArgs),
    /// What a private model spent, or ε for a DP-SGD plan.
    Privacy(PrivacyArgs),
    /// Empirical audit of the DP-SGD mechanism: a lower bound on ε from canary runs.
    Audit(AuditArgs),
    /// Tune the synthetic volume: validation error of an analysis against m = ρ·n rows.
    Tune(TuneArgs),
    /// Fit an analysis on synthetic rows with naive and corrected standard errors.
    Infer(InferArgs),
    /// Syn-Test: are features irrelevant to the target given the others? (twin generators,
    /// volume tuned for the Type-I error)
    Test(TestArgs),
}

#[derive(Args)]
struct TestArgs {
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
    /// Ratios ρ = m / n: "a:b", "a:b:step" or a comma-separated list.
    #[arg(long, default_value = "0.1,0.25,0.5,1,2,3,5,10")]
    ratios: String,
    /// Monte Carlo chunks per ratio.
    #[arg(long, default_value_t = 100)]
    mc: usize,
    /// Level of the test (and the Type-I error the volume must keep).
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// Fine-tuning steps of each twin.
    #[arg(long, default_value_t = 1000)]
    steps: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Threads (0: all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Also write the result as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    #[command(flatten)]
    types: ColumnTypes,
}

#[derive(Args)]
struct TuneArgs {
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
    /// numeric → least squares (RMSE).
    #[arg(long)]
    target: String,
    /// Ratios ρ = m / n: "a:b" (a, a+1, …, b), "a:b:step", or a comma-separated list.
    #[arg(long, default_value = "1:30")]
    ratios: String,
    /// Generations per ratio (for the Monte Carlo spread).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Train on the raw rows together with the synthetic ones.
    #[arg(long)]
    with_raw: bool,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Threads (0: all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
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
struct InferArgs {
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
struct AuditArgs {
    /// Runs with and without the canary (each).
    #[arg(long, default_value_t = 2000)]
    runs: usize,
    /// DP-SGD steps per run.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Poisson sampling rate q.
    #[arg(long, default_value_t = 0.5)]
    sample_rate: f64,
    /// Noise multiplier σ.
    #[arg(long, default_value_t = 1.0)]
    noise_multiplier: f64,
    /// Clipping norm C.
    #[arg(long, default_value_t = 1.0)]
    max_grad_norm: f64,
    /// δ.
    #[arg(long, default_value_t = 1e-5)]
    delta: f64,
    /// Seed of the audit's runs.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct SchemaArgs {
    /// The data file.
    #[arg(long)]
    data: PathBuf,
    #[command(flatten)]
    types: ColumnTypes,
    /// Write here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct PrivacyArgs {
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
    /// δ of a plan.
    #[arg(long, default_value_t = 1e-5)]
    delta: f64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct DpArgs {
    /// Fit under (ε, δ)-differential privacy with this ε (needs --schema).
    #[arg(long)]
    epsilon: Option<f64>,
    /// δ of the privacy guarantee.
    #[arg(long, default_value_t = 1e-5, requires = "epsilon")]
    delta: f64,
    /// The public schema (levels, bounds, missingness) of a private fit.
    #[arg(long, requires = "epsilon")]
    schema: Option<PathBuf>,
    /// Clipping norm C of each row's gradient.
    #[arg(long, default_value_t = 1.0, requires = "epsilon")]
    max_grad_norm: f64,
    /// Poisson sampling rate q (default: batch size / rows).
    #[arg(long, requires = "epsilon")]
    sample_rate: Option<f64>,
    /// Draws per row and step (augmentation multiplicity K).
    #[arg(long, default_value_t = 1, requires = "epsilon")]
    augment: usize,
    /// Share of ε spent on the noisy preprocessing statistics.
    #[arg(long, default_value_t = 0.1, requires = "epsilon")]
    preprocessing_share: f64,
    /// Weight of the categorical part of the loss under DP (clipping otherwise lets the
    /// numeric part crowd it out).
    #[arg(long, default_value_t = 20.0, requires = "epsilon")]
    categorical_weight: f64,
    /// TEST ONLY: fix the mechanism's randomness (the model records it; no privacy against
    /// anyone who knows the seed).
    #[arg(long, requires = "epsilon")]
    noise_seed: Option<u64>,
}

impl DpArgs {
    fn options(&self) -> Option<DpOptions> {
        self.epsilon.map(|epsilon| DpOptions {
            epsilon,
            delta: self.delta,
            max_grad_norm: self.max_grad_norm,
            sample_rate: self.sample_rate,
            augment: self.augment,
            preprocessing_share: self.preprocessing_share,
            categorical_weight: self.categorical_weight,
            noise_seed: self.noise_seed,
        })
    }
}

#[derive(Args)]
struct ColumnTypes {
    /// Columns to treat as categorical even if their values are numbers (comma-separated).
    #[arg(long, value_delimiter = ',')]
    categorical: Vec<String>,
    /// Columns that must be numeric (comma-separated).
    #[arg(long, value_delimiter = ',')]
    numeric: Vec<String>,
}

impl ColumnTypes {
    fn csv_options(&self) -> CsvOptions {
        CsvOptions {
            categorical: self.categorical.clone(),
            numeric: self.numeric.clone(),
            ..CsvOptions::default()
        }
    }
}

#[derive(Args)]
struct TrainingArgs {
    /// Training steps [default: 4000; fine-tuning: 1000].
    #[arg(long)]
    steps: Option<usize>,
    /// Rows per training step [default: 1024].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Widths of the denoiser's hidden layers (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "512,512")]
    layers: Vec<usize>,
    /// Number of diffusion steps T [default: 200; private fits: 20, which learns better under
    /// DP-SGD's noise].
    #[arg(long)]
    timesteps: Option<usize>,
    /// Width of the time embedding and of the first hidden layer.
    #[arg(long, default_value_t = 128)]
    time_dim: usize,
    /// Initial learning rate, decayed linearly to 0 [default: 0.002; fine-tuning: 0.001].
    #[arg(long)]
    lr: Option<f64>,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Threads (0: all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

impl TrainingArgs {
    /// The fit's options; `private` picks the private fits' default number of diffusion steps.
    fn fit_options(&self, target: Option<String>, private: bool) -> FitOptions {
        let default_t = if private {
            DP_TIMESTEPS
        } else {
            FitOptions::default().timesteps
        };
        let mut o = FitOptions {
            target,
            layers: self.layers.clone(),
            dim_t: self.time_dim,
            timesteps: self.timesteps.unwrap_or(default_t),
            seed: self.seed,
            threads: self.threads,
            ..FitOptions::default()
        };
        o.optim.steps = self.steps.unwrap_or(o.optim.steps);
        o.optim.batch_size = self.batch_size.unwrap_or(o.optim.batch_size);
        o.optim.lr = self.lr.unwrap_or(o.optim.lr);
        o
    }

    fn fine_tune_options(&self) -> FineTuneOptions {
        let mut o = FineTuneOptions {
            seed: self.seed,
            threads: self.threads,
            ..FineTuneOptions::default()
        };
        o.optim.steps = self.steps.unwrap_or(o.optim.steps);
        o.optim.batch_size = self.batch_size.unwrap_or(o.optim.batch_size);
        o.optim.lr = self.lr.unwrap_or(o.optim.lr);
        o
    }
}

#[derive(Args)]
struct FitArgs {
    /// Training data (CSV with a header; .csv.gz accepted).
    #[arg(long)]
    data: PathBuf,
    /// Column to condition generation on (categorical) or to learn as an outcome.
    #[arg(long)]
    target: Option<String>,
    /// Fine-tune this pre-trained model on --data instead of fitting a new one (columns and
    /// levels matched by name; the model's network shape, diffusion steps and target are kept).
    #[arg(long)]
    init: Option<PathBuf>,
    #[command(flatten)]
    training: TrainingArgs,
    #[command(flatten)]
    types: ColumnTypes,
    #[command(flatten)]
    dp: DpArgs,
    /// Where to write the model.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct SampleArgs {
    /// A model written by `synthvol fit`.
    #[arg(long)]
    model: PathBuf,
    /// Number of rows to generate.
    #[arg(long)]
    rows: usize,
    /// Random seed (the same seed gives the same rows).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Threads (0: all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Rows denoised together.
    #[arg(long, default_value_t = 4096)]
    batch_size: usize,
    /// Where to write the CSV.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct EvaluateArgs {
    /// The real rows (the model's training data).
    #[arg(long)]
    real: PathBuf,
    /// The synthetic rows.
    #[arg(long)]
    synthetic: PathBuf,
    /// Real rows not used for training, for utility.
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
    /// Seed of the subsamples and of the detection folds.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Rows per table for the exact Wasserstein distances (0 leaves them out).
    #[arg(long, default_value_t = 1000)]
    wasserstein_rows: usize,
    /// Rows per table for the privacy-risk distances (0 leaves them out).
    #[arg(long, default_value_t = 20000)]
    privacy_rows: usize,
    /// Rows per table for pMSE and detection (0 leaves them out).
    #[arg(long, default_value_t = 50000)]
    propensity_rows: usize,
    /// Cross-validation folds of the detection classifier (0 leaves it out).
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Threads (0: all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    #[command(flatten)]
    types: ColumnTypes,
}

#[derive(Args)]
struct DemoArgs {
    /// Training steps (fewer is faster and rougher).
    #[arg(long, default_value_t = 4000)]
    steps: usize,
    /// Synthetic rows to generate (default: as many as the training file has).
    #[arg(long)]
    rows: Option<usize>,
    /// Threads (0: all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Also write the model, the synthetic rows and the JSON report into this folder.
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Skip the differentially private run (ε = 1, δ = 1e-5).
    #[arg(long)]
    skip_private: bool,
    /// Skip the Syn experiment (pre-train on men, fine-tune on women, tune the volume).
    #[arg(long)]
    skip_syn: bool,
    /// Small networks and few steps everywhere: checks that the whole workflow runs (CI),
    /// not what it achieves.
    #[arg(long)]
    quick: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Fit(a) => fit(a),
        Command::Sample(a) => sample(a),
        Command::Evaluate(a) => evaluate(a),
        Command::Demo(a) => demo(a),
        Command::Schema(a) => schema(a),
        Command::Privacy(a) => privacy(a),
        Command::Audit(a) => audit(a),
        Command::Tune(a) => tune(a),
        Command::Infer(a) => infer(a),
        Command::Test(a) => syn_test(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A progress bar on stderr driven by the library's progress reports.
fn progress_bar() -> impl FnMut(&Progress) -> bool {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>7} [{bar:30}] {pos}/{len} {msg} ({elapsed}, eta {eta})",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    let mut stage = "";
    move |p: &Progress| {
        if p.stage != stage {
            stage = p.stage;
            bar.reset();
            bar.set_prefix(p.stage);
            bar.set_length(p.total as u64);
        }
        bar.set_position(p.done as u64);
        if p.loss.is_finite() {
            bar.set_message(format!("loss {:.4}", p.loss));
        } else {
            bar.set_message("");
        }
        if p.done == p.total {
            bar.finish_and_clear();
        }
        true
    }
}

fn read_schema(path: &Path) -> Result<PublicSchema> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path.display(), e))?;
    PublicSchema::from_json(&text)
        .map_err(|e| Error::new(e.kind, format!("{}: {}", path.display(), e.message)))
}

fn fit(a: FitArgs) -> Result<()> {
    let table = read_csv(&a.data, &a.types.csv_options())?;
    check_writable(&a.out)?;
    if let Some(init) = &a.init {
        return fine_tune(&a, init, &table);
    }
    let opts = a
        .training
        .fit_options(a.target.clone(), a.dp.options().is_some());
    eprintln!(
        "fitting on {} rows × {} columns from {}",
        table.n_rows(),
        table.n_cols(),
        a.data.display()
    );
    let model = match (a.dp.options(), &a.dp.schema) {
        (Some(dp), Some(path)) => {
            Synthesizer::fit_private(&table, &read_schema(path)?, &opts, &dp, &mut progress_bar())?
        }
        (Some(_), None) => return Err(Error::invalid("a private fit needs a public schema: write one with `synthvol schema --data FILE --out schema.json`, replace what it read off the data with public knowledge, and pass --schema schema.json")),
        // Without DP a schema declares the level sets (levels the data lack included, so that
        // a private fine-tuning can use them) and the numeric bounds.
        (None, Some(path)) => {
            let table = read_schema(path)?.apply(&table)?;
            Synthesizer::fit(&table, &opts, &mut progress_bar())?
        }
        (None, None) => Synthesizer::fit(&table, &opts, &mut progress_bar())?,
    };
    model.save(&a.out)?;
    match &model.record.privacy {
        Some(p) => eprintln!(
            "fitted in {:.1} s under ({:.4}, {:e})-DP (σ = {:.3}, q = {:.4}, {} steps); model written to {}",
            model.record.seconds, p.epsilon, p.delta, p.noise_multiplier, p.sample_rate, p.steps, a.out.display()
        ),
        None => {
            let last = model.record.loss_history.last().map_or(f64::NAN, |l| l.1);
            eprintln!("fitted in {:.1} s (final loss {last:.4}); model written to {}", model.record.seconds, a.out.display());
        }
    }
    Ok(())
}

fn fine_tune(a: &FitArgs, init: &Path, table: &Table) -> Result<()> {
    let pre = Synthesizer::load(init)?;
    if let Some(t) = &a.target {
        if pre.record.options.target.as_deref() != Some(t.as_str()) {
            return Err(Error::invalid(format!(
                "--target '{t}' differs from the pre-trained model's target ({}); a fine-tuning keeps the model's target",
                pre.record.options.target.as_deref().map_or("none".to_string(), |t| format!("'{t}'"))
            )));
        }
    }
    if a.dp.schema.is_some() {
        return Err(Error::invalid(
            "--schema declares the level sets at pre-training; a fine-tuning uses the pre-trained model's (declare levels the pre-training data lack when pre-training)",
        ));
    }
    let opts = a.training.fine_tune_options();
    eprintln!(
        "fine-tuning {} on {} rows × {} columns from {}",
        init.display(),
        table.n_rows(),
        table.n_cols(),
        a.data.display()
    );
    let dp = a.dp.options();
    let (model, notices) = pre.fine_tune(table, &opts, dp.as_ref(), &mut progress_bar())?;
    for n in &notices {
        eprintln!("note: {n}");
    }
    model.save(&a.out)?;
    let rec = model
        .record
        .fine_tuning
        .last()
        .ok_or_else(|| Error::invalid("a fine-tuning without a record"))?;
    match &rec.privacy {
        Some(p) => eprintln!(
            "fine-tuned in {:.1} s under ({:.4}, {:e})-DP with respect to the fine-tuning rows (σ = {:.3}, q = {:.4}, {} steps); model written to {}",
            rec.seconds, p.epsilon, p.delta, p.noise_multiplier, p.sample_rate, p.steps, a.out.display()
        ),
        None => {
            let last = rec.loss_history.last().map_or(f64::NAN, |l| l.1);
            eprintln!("fine-tuned in {:.1} s (final loss {last:.4}); model written to {}", rec.seconds, a.out.display());
        }
    }
    Ok(())
}

fn schema(a: SchemaArgs) -> Result<()> {
    let table = read_csv(&a.data, &a.types.csv_options())?;
    let text = PublicSchema::from_table(&table).to_json() + "\n";
    eprintln!(
        "note: the levels and bounds were read off {}; under differential privacy they must be public knowledge, so review them and replace what is not (for example with documented ranges) before a private fit",
        a.data.display()
    );
    match &a.out {
        Some(p) => std::fs::write(p, text).map_err(|e| Error::io(p.display(), e)),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn print_privacy(what: &str, p: &synthvol::model::PrivacyRecord) {
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
        "  preprocessing: {} noisy histograms/counts, noise multiplier {:.3}, sensitivity {:.3}, ε alone {:.4}",
        p.preprocessing.histograms, p.preprocessing.noise_multiplier, p.preprocessing.sensitivity, p.preprocessing_epsilon
    );
    println!("  accountant: {}", p.accountant);
    println!(
        "  rows: {} ({}); noise: {}",
        p.rows,
        p.notes.join("; "),
        p.noise_source
    );
}

fn privacy(a: PrivacyArgs) -> Result<()> {
    if let Some(m) = &a.model {
        let model = Synthesizer::load(m)?;
        let tunings = &model.record.fine_tuning;
        if a.json {
            let v = model.privacy_json();
            let s = serde_json::to_string_pretty(&v).map_err(|e| Error::invalid(e.to_string()))?;
            println!("{s}");
            return Ok(());
        }
        match &model.record.privacy {
            None => println!(
                "{}: fitted on {} rows without differential privacy (no guarantee for those rows)",
                m.display(),
                model.record.n_rows
            ),
            Some(p) => print_privacy(&m.display().to_string(), p),
        }
        for (i, t) in tunings.iter().enumerate() {
            let what = format!("fine-tuning {} on {} rows", i + 1, t.n_rows);
            match &t.privacy {
                None => {
                    println!("{what}: without differential privacy (no guarantee for those rows)")
                }
                Some(p) => print_privacy(&what, p),
            }
        }
        return Ok(());
    }
    let (Some(q), Some(sigma), Some(steps)) = (a.sample_rate, a.noise_multiplier, a.steps) else {
        return Err(Error::invalid("give --model MODEL, or a plan: --sample-rate q --noise-multiplier σ --steps T [--delta δ]"));
    };
    accountant::check_plan(q, steps, a.delta)?;
    if !(sigma > 0.0 && sigma.is_finite()) {
        return Err(Error::invalid(format!(
            "the noise multiplier must be positive, got {sigma}"
        )));
    }
    let (eps, order) = accountant::epsilon(
        &[accountant::Phase { q, sigma, steps }],
        a.delta,
        &accountant::default_orders(),
    );
    if a.json {
        println!(
            "{}",
            serde_json::json!({"epsilon": eps, "delta": a.delta, "sample_rate": q, "noise_multiplier": sigma, "steps": steps, "order": order, "accountant": "rdp"})
        );
    } else {
        println!("ε = {eps:.4} at δ = {} for {steps} steps with q = {q} and σ = {sigma} (RDP, best order {order})", a.delta);
    }
    Ok(())
}

fn sample(a: SampleArgs) -> Result<()> {
    if a.rows == 0 {
        return Err(Error::invalid("--rows must be at least 1"));
    }
    let model = Synthesizer::load(&a.model)?;
    check_writable(&a.out)?;
    let start = Instant::now();
    let table = model.sample(
        a.rows,
        a.seed,
        &SampleOptions {
            batch_size: a.batch_size,
            threads: a.threads,
            ..SampleOptions::default()
        },
        &mut progress_bar(),
    )?;
    write_csv(&table, &a.out)?;
    eprintln!(
        "{} rows written to {} in {:.1} s",
        table.n_rows(),
        a.out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn evaluate(a: EvaluateArgs) -> Result<()> {
    let real = read_csv(&a.real, &a.types.csv_options())?;
    // The other tables are matched to the real one by column name and level label.
    let syn = read_csv(&a.synthetic, &a.types.csv_options())?;
    let holdout = a
        .holdout
        .as_ref()
        .map(|h| read_csv(h, &a.types.csv_options()))
        .transpose()?;
    for p in a.json.iter().chain(&a.html) {
        check_writable(p)?;
    }
    let opts = EvaluateOptions {
        target: a.target.clone(),
        seed: a.seed,
        wasserstein_rows: a.wasserstein_rows,
        privacy_rows: a.privacy_rows,
        propensity_rows: a.propensity_rows,
        detection_folds: a.folds,
        threads: a.threads,
    };
    let report = metrics::evaluate(&real, &syn, holdout.as_ref(), &opts, &mut progress_bar())?;
    print!("{}", report.to_text());
    if let Some(j) = &a.json {
        write_json(&report, j)?;
    }
    if let Some(h) = &a.html {
        write_text(&metrics::to_html(&report), h)?;
    }
    Ok(())
}

fn demo(a: DemoArgs) -> Result<()> {
    let train = datasets::adult_train()?;
    let test = datasets::adult_test()?;
    println!(
        "synthvol demo: the Adult data ({})",
        datasets::ADULT_CITATION
    );
    println!(
        "  {} training rows, {} test rows, {} columns; target 'income'",
        train.n_rows(),
        test.n_rows(),
        train.n_cols()
    );
    if let Some(d) = &a.out_dir {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d.display(), e))?;
    }
    // --quick: the same workflow with small networks and few steps (it checks that everything
    // runs, not what it achieves).
    let (layers, timesteps) = if a.quick {
        (vec![64, 64], 20)
    } else {
        (vec![512, 512], 200)
    };
    let training = TrainingArgs {
        steps: Some(if a.quick { 100 } else { a.steps }),
        batch_size: Some(1024),
        layers: layers.clone(),
        timesteps: Some(timesteps),
        time_dim: 128,
        lr: Some(2e-3),
        seed: a.seed,
        threads: a.threads,
    };
    let opts = training.fit_options(Some("income".into()), false);
    let model = Synthesizer::fit(&train, &opts, &mut progress_bar())?;
    println!(
        "fit: {} steps, batch {}, layers {:?}, T = {}: {:.1} s (final loss {:.4})",
        opts.optim.steps,
        opts.optim.batch_size,
        opts.layers,
        opts.timesteps,
        model.record.seconds,
        model.record.loss_history.last().map_or(f64::NAN, |l| l.1)
    );
    let rows = a
        .rows
        .unwrap_or(if a.quick { 2000 } else { train.n_rows() });
    let syn = demo_sample(&model, rows, &a)?;
    let start = Instant::now();
    let eval = EvaluateOptions {
        target: Some("income".into()),
        seed: a.seed,
        threads: a.threads,
        ..EvaluateOptions::default()
    };
    let report = metrics::evaluate(&train, &syn, Some(&test), &eval, &mut progress_bar())?;
    println!("evaluate: {:.1} s", start.elapsed().as_secs_f64());
    print!("{}", report.to_text());
    if let Some(d) = &a.out_dir {
        model.save(&d.join("adult.svmodel"))?;
        write_csv(&syn, &d.join("adult_synthetic.csv"))?;
        write_json(&report, &d.join("report.json"))?;
        write_text(&metrics::to_html(&report), &d.join("report.html"))?;
        println!(
            "wrote adult.svmodel, adult_synthetic.csv, report.json and report.html to {}",
            d.display()
        );
    }
    if !a.skip_private {
        demo_private(&a, &train, &test, rows, &eval)?;
    }
    if !a.skip_syn {
        let mut fit = opts.clone();
        fit.optim.steps = if a.quick { 100 } else { 4000 };
        let plan = demo_syn::Plan {
            sample_rows: if a.quick { 300 } else { 1350 },
            fit,
            tune_steps: if a.quick { 50 } else { 1000 },
            dp_steps: if a.quick { 20 } else { 300 },
            ratios: if a.quick {
                vec![1.0, 3.0, 5.0]
            } else {
                (1..=30).map(f64::from).collect()
            },
            repeats: if a.quick { 1 } else { 2 },
            threads: a.threads,
            seed: a.seed,
        };
        demo_syn::run(&plan, a.out_dir.as_deref())?;
    }
    Ok(())
}

/// The demo's private run.
fn demo_private(
    a: &DemoArgs,
    train: &Table,
    test: &Table,
    rows: usize,
    eval: &EvaluateOptions,
) -> Result<()> {
    // The private run: a smaller network and large Poisson batches suit DP-SGD's noise.
    println!();
    println!("private run: (ε, δ) = (1, 1e-5), public schema data/adult/schema.json");
    let public = datasets::adult_schema()?;
    let training = TrainingArgs {
        steps: Some(if a.quick { 20 } else { 600 }),
        batch_size: Some(8192),
        layers: if a.quick {
            vec![64, 64]
        } else {
            vec![256, 256]
        },
        timesteps: None,
        time_dim: 128,
        lr: Some(3e-3),
        seed: a.seed,
        threads: a.threads,
    };
    let opts = training.fit_options(Some("income".into()), true);
    let dp = DpOptions {
        epsilon: 1.0,
        delta: 1e-5,
        ..DpOptions::default()
    };
    let model = Synthesizer::fit_private(train, &public, &opts, &dp, &mut progress_bar())?;
    let p = model
        .record
        .privacy
        .as_ref()
        .ok_or_else(|| Error::invalid("a private fit without a privacy record"))?;
    println!(
        "fit: ε = {:.4} at δ = {:e} (σ = {:.2}, q = {:.4}, {} steps, C = {}; preprocessing ε {:.3}): {:.1} s",
        p.epsilon, p.delta, p.noise_multiplier, p.sample_rate, p.steps, p.max_grad_norm, p.preprocessing_epsilon, model.record.seconds
    );
    let syn = demo_sample(&model, rows, a)?;
    let report = metrics::evaluate(train, &syn, Some(test), eval, &mut progress_bar())?;
    let f = &report.fidelity;
    println!("  mean column score          {:.3}", f.mean_column_score);
    if let Some(c) = f.correlation_similarity {
        println!("  correlation similarity     {c:.3}");
    }
    if let Some(c) = f.contingency_similarity {
        println!("  contingency similarity     {c:.3}");
    }
    if let Some(u) = &report.utility {
        println!(
            "  logistic regression accuracy: trained on real {:.4}, on private synthetic {:.4} (gap {:.2} points)",
            u.real.accuracy.unwrap_or(f64::NAN),
            u.synthetic.accuracy.unwrap_or(f64::NAN),
            u.accuracy_gap_points.unwrap_or(f64::NAN)
        );
    }
    if let Some(p) = &report.privacy {
        println!(
            "  closer to training than to holdout {:.1}%, membership-inference AUC {:.3}",
            100.0 * p.closer_to_training_share,
            p.membership_auc
        );
    }
    if let Some(d) = &a.out_dir {
        model.save(&d.join("adult_private.svmodel"))?;
        write_csv(&syn, &d.join("adult_private_synthetic.csv"))?;
        write_json(&report, &d.join("report_private.json"))?;
        write_text(&metrics::to_html(&report), &d.join("report_private.html"))?;
    }
    Ok(())
}

fn audit(a: AuditArgs) -> Result<()> {
    let cfg = AuditConfig {
        runs: a.runs,
        steps: a.steps,
        q: a.sample_rate,
        sigma: a.noise_multiplier,
        max_grad_norm: a.max_grad_norm,
        delta: a.delta,
        confidence: 0.95,
        seed: a.seed,
        device: Default::default(),
    };
    let r = audit_dp_sgd(&cfg)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&r).map_err(|e| Error::invalid(e.to_string()))?
        );
    } else {
        println!(
            "audit of DP-SGD (q = {}, σ = {}, {} steps, C = {}; {} runs with and without a canary):",
            a.sample_rate, a.noise_multiplier, a.steps, a.max_grad_norm, a.runs
        );
        println!(
            "  empirical lower bound on ε (95%): {:.4}",
            r.epsilon_lower_bound
        );
        println!(
            "  accountant's ε at δ = {:e}:        {:.4}",
            a.delta, r.epsilon_accountant
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

/// Samples the demo's rows and says how long it took.
fn demo_sample(model: &Synthesizer, rows: usize, a: &DemoArgs) -> Result<Table> {
    let start = Instant::now();
    let opts = SampleOptions {
        threads: a.threads,
        ..SampleOptions::default()
    };
    let syn = model.sample(rows, a.seed, &opts, &mut progress_bar())?;
    println!(
        "sample: {rows} rows in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    Ok(syn)
}

fn write_json(report: &Report, path: &Path) -> Result<()> {
    write_text(&(report.to_json() + "\n"), path)
}

/// Writes a whole file or nothing (a partial file is renamed into place when complete).
fn write_text(text: &str, path: &Path) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text).map_err(|e| Error::io(tmp.display(), e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path.display(), e))
}

/// Fails early, before long work, when an output file cannot be created.
fn check_writable(path: &Path) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(Error::invalid(format!(
            "cannot write {}: folder {} does not exist",
            path.display(),
            dir.display()
        )));
    }
    if path.is_dir() {
        return Err(Error::invalid(format!(
            "cannot write {}: it is a folder",
            path.display()
        )));
    }
    Ok(())
}

/// Parses "a:b", "a:b:step" or "r1,r2,...".
fn parse_ratios(s: &str) -> Result<Vec<f64>> {
    let bad = || {
        Error::invalid(format!(
            "--ratios '{s}' is not a range a:b, a:b:step or a comma-separated list of positive numbers"
        ))
    };
    let nums = |parts: &[&str]| -> Result<Vec<f64>> {
        parts
            .iter()
            .map(|p| p.trim().parse::<f64>().map_err(|_| bad()))
            .collect()
    };
    let out = if s.contains(':') {
        let v = nums(&s.split(':').collect::<Vec<_>>())?;
        let (a, b, step) = match v.as_slice() {
            [a, b] => (*a, *b, 1.0),
            [a, b, st] => (*a, *b, *st),
            _ => return Err(bad()),
        };
        if !(a > 0.0 && b >= a && step > 0.0) || (b - a) / step > 10_000.0 {
            return Err(bad());
        }
        let mut r = Vec::new();
        let mut k = 0.0;
        while a + k * step <= b + 1e-9 {
            r.push(a + k * step);
            k += 1.0;
        }
        r
    } else {
        nums(&s.split(',').collect::<Vec<_>>())?
    };
    if out.is_empty() || out.iter().any(|r| !(*r > 0.0 && r.is_finite())) {
        return Err(bad());
    }
    Ok(out)
}

fn tune(a: TuneArgs) -> Result<()> {
    let ratios = parse_ratios(&a.ratios)?;
    let model = Synthesizer::load(&a.model)?;
    let raw = read_csv(&a.train, &a.types.csv_options())?;
    let valid = read_csv(&a.valid, &a.types.csv_options())?;
    for p in a.json.iter().chain(&a.svg) {
        check_writable(p)?;
    }
    let raw_c = raw
        .conform_to(model.schema())
        .map_err(|e| Error::data(format!("{}: {}", a.train.display(), e.message)))?;
    let (mut analysis, metric) = syn::builtin(&raw_c, &a.target)?;
    let opts = syn::TuneOptions {
        ratios,
        repeats: a.repeats,
        with_raw: a.with_raw,
        seed: a.seed,
        threads: a.threads,
    };
    let r = syn::tune(
        &model,
        &raw,
        &valid,
        &mut *analysis,
        metric,
        &opts,
        &mut progress_bar(),
    )?;
    println!(
        "validation {} of the analysis on '{}' ({} raw rows, {} validation rows, {} generation(s) per ratio{}):",
        r.error_metric,
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
        let text = serde_json::to_string_pretty(&r).map_err(|e| Error::invalid(e.to_string()))?;
        write_text(&(text + "\n"), j)?;
    }
    if let Some(p) = &a.svg {
        write_text(&syn::tune_svg(&r), p)?;
    }
    Ok(())
}

/// What to tell a user whose raw rows alone beat every synthetic volume.
const RAW_ROWS_BETTER: &str = "note: the raw rows alone score better than every synthetic \
    volume tried: this analysis gains nothing from the synthetic rows at this size";

fn infer(a: InferArgs) -> Result<()> {
    let tables = a
        .synthetic
        .iter()
        .map(|p| read_csv(p, &a.types.csv_options()))
        .collect::<Result<Vec<_>>>()?;
    if let Some(j) = &a.json {
        check_writable(j)?;
    }
    let r = syn::infer(&tables, &a.target, a.real_rows)?;
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
        let text = serde_json::to_string_pretty(&r).map_err(|e| Error::invalid(e.to_string()))?;
        write_text(&(text + "\n"), j)?;
    }
    Ok(())
}

fn syn_test(a: TestArgs) -> Result<()> {
    let ratios = parse_ratios(&a.ratios)?;
    let model = Synthesizer::load(&a.model)?;
    let data = read_csv(&a.data, &a.types.csv_options())?;
    let training = match &a.train {
        Some(p) => Some(read_csv(p, &a.types.csv_options())?),
        None => None,
    };
    if let Some(j) = &a.json {
        check_writable(j)?;
    }
    let mut ft = FineTuneOptions {
        seed: a.seed,
        threads: a.threads,
        ..FineTuneOptions::default()
    };
    ft.optim.steps = a.steps;
    let mut tw = syn::twins(&model, &data, &ft, a.seed, &mut progress_bar())?;
    let features: Vec<&str> = a.features.iter().map(String::as_str).collect();
    let mut opts = syn::SynTestOptions::new(&a.target, &features);
    opts.ratios = ratios;
    opts.mc = a.mc;
    opts.alpha = a.alpha;
    opts.training = training;
    let r = syn::syn_test(&mut tw, &opts, &mut progress_bar())?;
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
        let text = serde_json::to_string_pretty(&r).map_err(|e| Error::invalid(e.to_string()))?;
        write_text(&(text + "\n"), j)?;
    }
    Ok(())
}

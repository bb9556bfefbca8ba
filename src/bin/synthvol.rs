//! The `synthvol` command line: fit, sample, evaluate, demo. It parses, validates, shows
//! progress on stderr and calls the library; the work happens in the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use synthvol::metrics::{self, Report};
use synthvol::model::{FitOptions, SampleOptions, Synthesizer};
use synthvol::table::{read_csv, write_csv, CsvOptions};
use synthvol::train::Progress;
use synthvol::{datasets, Error, Result};

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
    /// Training steps.
    #[arg(long, default_value_t = 4000)]
    steps: usize,
    /// Rows per training step.
    #[arg(long, default_value_t = 1024)]
    batch_size: usize,
    /// Widths of the denoiser's hidden layers (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "512,512")]
    layers: Vec<usize>,
    /// Number of diffusion steps T.
    #[arg(long, default_value_t = 200)]
    timesteps: usize,
    /// Initial learning rate (decays linearly to 0).
    #[arg(long, default_value_t = 2e-3)]
    lr: f64,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Threads (0: all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

impl TrainingArgs {
    fn fit_options(&self, target: Option<String>) -> FitOptions {
        let mut o = FitOptions {
            target,
            layers: self.layers.clone(),
            timesteps: self.timesteps,
            seed: self.seed,
            threads: self.threads,
            ..FitOptions::default()
        };
        o.optim.steps = self.steps;
        o.optim.batch_size = self.batch_size;
        o.optim.lr = self.lr;
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
    #[command(flatten)]
    training: TrainingArgs,
    #[command(flatten)]
    types: ColumnTypes,
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
    /// Target column for utility (categorical).
    #[arg(long)]
    target: Option<String>,
    /// Also write the report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Fit(a) => fit(a),
        Command::Sample(a) => sample(a),
        Command::Evaluate(a) => evaluate(a),
        Command::Demo(a) => demo(a),
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

fn fit(a: FitArgs) -> Result<()> {
    let table = read_csv(&a.data, &a.types.csv_options())?;
    check_writable(&a.out)?;
    let opts = a.training.fit_options(a.target.clone());
    eprintln!(
        "fitting on {} rows × {} columns from {}",
        table.n_rows(),
        table.n_cols(),
        a.data.display()
    );
    let model = Synthesizer::fit(&table, &opts, &mut progress_bar())?;
    model.save(&a.out)?;
    let last = model.record.loss_history.last().map_or(f64::NAN, |l| l.1);
    eprintln!(
        "fitted in {:.1} s (final loss {last:.4}); model written to {}",
        model.record.seconds,
        a.out.display()
    );
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
    if let Some(j) = &a.json {
        check_writable(j)?;
    }
    let report = metrics::evaluate(&real, &syn, holdout.as_ref(), a.target.as_deref())?;
    print_report(&report);
    if let Some(j) = &a.json {
        write_json(&report, j)?;
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
    let training = TrainingArgs {
        steps: a.steps,
        batch_size: 1024,
        layers: vec![512, 512],
        timesteps: 200,
        lr: 2e-3,
        seed: a.seed,
        threads: a.threads,
    };
    let opts = training.fit_options(Some("income".into()));
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
    let rows = a.rows.unwrap_or(train.n_rows());
    let start = Instant::now();
    let syn = model.sample(
        rows,
        a.seed,
        &SampleOptions {
            threads: a.threads,
            ..SampleOptions::default()
        },
        &mut progress_bar(),
    )?;
    println!(
        "sample: {rows} rows in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let start = Instant::now();
    let report = metrics::evaluate(&train, &syn, Some(&test), Some("income"))?;
    println!("evaluate: {:.1} s", start.elapsed().as_secs_f64());
    print_report(&report);
    if let Some(d) = &a.out_dir {
        model.save(&d.join("adult.svmodel"))?;
        write_csv(&syn, &d.join("adult_synthetic.csv"))?;
        write_json(&report, &d.join("report.json"))?;
        println!(
            "wrote adult.svmodel, adult_synthetic.csv and report.json to {}",
            d.display()
        );
    }
    Ok(())
}

fn print_report(r: &Report) {
    println!(
        "fidelity ({} real rows, {} synthetic rows):",
        r.real_rows, r.synthetic_rows
    );
    for c in &r.fidelity.columns {
        println!("  {:<24} {:<5} {:.3}", c.column, c.metric, c.score);
    }
    println!(
        "  mean column score          {:.3}",
        r.fidelity.mean_column_score
    );
    match r.fidelity.correlation_similarity {
        Some(c) => println!("  correlation similarity     {c:.3}"),
        None => println!("  correlation similarity     n/a (fewer than two numeric columns)"),
    }
    if let Some(u) = &r.utility {
        println!(
            "utility ({} on '{}', tested on {} holdout rows):",
            u.model, u.target, u.holdout_rows
        );
        println!(
            "  trained on real       accuracy {:.4}  macro-F1 {:.4}",
            u.real.accuracy, u.real.macro_f1
        );
        println!(
            "  trained on synthetic  accuracy {:.4}  macro-F1 {:.4}",
            u.synthetic.accuracy, u.synthetic.macro_f1
        );
        println!(
            "  accuracy gap          {:.2} points",
            u.accuracy_gap_points
        );
    }
}

fn write_json(report: &Report, path: &Path) -> Result<()> {
    let s = serde_json::to_string_pretty(report)
        .map_err(|e| Error::invalid(format!("cannot write the report: {e}")))?;
    std::fs::write(path, s + "\n").map_err(|e| Error::io(path.display(), e))
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

//! The `synthvol` command line. It parses arguments into the engine's requests, shows progress
//! on stderr and prints results; every default, rule and computation is the engine's.

mod demo;
mod evaluate;
mod fit;
mod output;
mod privacy;
mod sample;
mod syn;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use synthvol::table::{read_csv, CsvOptions, Table};
use synthvol::Device;
use synthvol::{Error, ErrorKind, Result};

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
    /// Fit a model to a CSV file and save it (or fine-tune one with --init).
    #[command(allow_negative_numbers = true)]
    Fit(Box<fit::FitArgs>),
    /// Generate synthetic rows from a saved model into a CSV file.
    #[command(allow_negative_numbers = true)]
    Sample(sample::SampleArgs),
    /// Compare synthetic rows with real ones (fidelity; utility with --holdout and --target).
    #[command(allow_negative_numbers = true)]
    Evaluate(evaluate::EvaluateArgs),
    /// Fit, sample and evaluate on the bundled Adult data, and print a report.
    #[command(allow_negative_numbers = true)]
    Demo(demo::DemoArgs),
    /// Write a public schema (column kinds, levels, bounds) read off a data file, to review
    /// and edit before a private fit.
    Schema(fit::SchemaArgs),
    /// What a private model spent, or ε for a DP-SGD plan.
    #[command(allow_negative_numbers = true)]
    Privacy(privacy::PrivacyArgs),
    /// Empirical audit of the DP-SGD mechanism: a lower bound on ε from canary runs.
    #[command(allow_negative_numbers = true)]
    Audit(privacy::AuditArgs),
    /// Tune the synthetic volume: validation error of an analysis against m = ρ·n rows.
    #[command(allow_negative_numbers = true)]
    Tune(syn::TuneArgs),
    /// Fit an analysis on synthetic rows with naive and corrected standard errors.
    #[command(allow_negative_numbers = true)]
    Infer(syn::InferArgs),
    /// Syn-Test: are features irrelevant to the target given the others? (twin generators,
    /// volume tuned for the Type-I error)
    #[command(allow_negative_numbers = true)]
    Test(syn::TestArgs),
}

/// Column-type overrides for reading CSV files.
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

    fn read(&self, path: &std::path::Path) -> Result<Table> {
        read_csv(path, &self.csv_options())
    }
}

/// `--device`, parsed by the engine (its message names the option).
fn device(s: &Option<String>) -> Result<Option<Device>> {
    s.as_deref().map(str::parse).transpose()
}

fn main() -> ExitCode {
    output::install_interrupt_handler();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Fit(a) => fit::fit(*a),
        Command::Sample(a) => sample::sample(a),
        Command::Evaluate(a) => evaluate::evaluate(a),
        Command::Demo(a) => demo::demo(a),
        Command::Schema(a) => fit::schema(a),
        Command::Privacy(a) => privacy::privacy(a),
        Command::Audit(a) => privacy::audit(a),
        Command::Tune(a) => syn::tune(a),
        Command::Infer(a) => syn::infer(a),
        Command::Test(a) => syn::syn_test(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind == ErrorKind::Cancelled && output::interrupted() => {
            eprintln!("interrupted: stopped cleanly (no output was written)");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Paths of the optional outputs, for checks.
fn paths(list: &[&Option<PathBuf>]) -> Vec<PathBuf> {
    list.iter().filter_map(|p| (*p).clone()).collect()
}

/// JSON text of a result, with a newline.
fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .map_err(|e| Error::invalid(e.to_string()))
}

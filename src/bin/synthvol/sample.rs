//! `synthvol sample`.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use synthvol::model::{SampleOptions, Synthesizer};
use synthvol::table::write_csv;
use synthvol::Result;

use super::output::{check_outputs, progress_bar};

#[derive(Args)]
pub struct SampleArgs {
    /// A model written by `synthvol fit`.
    #[arg(long)]
    model: PathBuf,
    /// Number of rows to generate.
    #[arg(long)]
    rows: usize,
    /// Random seed (the same seed gives the same rows) [default: 0].
    #[arg(long)]
    seed: Option<u64>,
    /// Threads [default: 0, all cores].
    #[arg(long)]
    threads: Option<usize>,
    /// Rows denoised together [default: 4096].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Where to sample: auto, cpu or cuda:N [default: auto].
    #[arg(long)]
    device: Option<String>,
    /// Where to write the CSV.
    #[arg(long)]
    out: PathBuf,
}

pub fn sample(a: SampleArgs) -> Result<()> {
    check_outputs(std::slice::from_ref(&a.out), &[("model", &a.model)])?;
    let mut opts = SampleOptions::default();
    opts.batch_size = a.batch_size.unwrap_or(opts.batch_size);
    opts.threads = a.threads.unwrap_or(opts.threads);
    opts.device = super::device(&a.device)?.unwrap_or(opts.device);
    opts.check()?;
    let model = Synthesizer::load(&a.model)?;
    let start = Instant::now();
    let table = model.sample(
        a.rows,
        a.seed.unwrap_or_default(),
        &opts,
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

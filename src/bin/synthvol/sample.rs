//! `synthvol sample`: any number of rows, written block by block while they are made (memory
//! stays bounded whatever the count), into a file that is complete or absent; a range or a
//! shard of a sample gives exactly the rows one run over all of it gives.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use synthvol::files::{check_space, AtomicFile};
use synthvol::model::{shard_range, SampleOptions, Synthesizer};
use synthvol::table::CsvWriter;
use synthvol::{Error, Result};

use super::output::{check_outputs, progress_bar};

#[derive(Args)]
pub struct SampleArgs {
    /// A model written by `synthvol fit`.
    #[arg(long)]
    model: PathBuf,
    /// Rows of the whole sample (this process writes all of them, or its --shard of them).
    #[arg(long, conflicts_with_all = ["start", "count"])]
    rows: Option<u64>,
    /// Write only shard I of K of the --rows rows (as I/K, I from 0): the shards of a Slurm
    /// job array or a Spark job, concatenated in order, are the single run's rows.
    #[arg(long, requires = "rows")]
    shard: Option<String>,
    /// First row of an explicit range (with --count).
    #[arg(long, requires = "count")]
    start: Option<u64>,
    /// Rows of an explicit range starting at --start.
    #[arg(long, requires = "start")]
    count: Option<u64>,
    /// Write the header row: auto (when the rows start at row 0, so that shard files
    /// concatenate into one CSV), always or never [default: auto].
    #[arg(long)]
    header: Option<String>,
    /// Random seed (the same seed gives the same rows) [default: 0].
    #[arg(long)]
    seed: Option<u64>,
    /// Threads [default: 0, all cores].
    #[arg(long)]
    threads: Option<usize>,
    /// Rows denoised together (memory and speed, never the rows) [default: 4096].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Where to sample: auto, cpu or cuda:N [default: auto].
    #[arg(long)]
    device: Option<String>,
    /// Draw every row with this class of the model's target (a model conditioned on a
    /// categorical target), instead of draws from the training class frequencies.
    #[arg(long)]
    label: Option<String>,
    /// Where to write the CSV (.csv.gz is compressed).
    #[arg(long)]
    out: PathBuf,
}

impl SampleArgs {
    /// The rows this process writes.
    fn range(&self) -> Result<(u64, u64)> {
        match (self.rows, &self.shard, self.start, self.count) {
            (Some(n), None, _, _) => Ok((0, n)),
            (Some(n), Some(s), _, _) => {
                let bad = || {
                    Error::invalid(format!(
                        "--shard '{s}' is not I/K with whole numbers (I from 0 to K − 1)"
                    ))
                };
                let (i, k) = s.split_once('/').ok_or_else(bad)?;
                let i: u64 = i.trim().parse().map_err(|_| bad())?;
                let k: u64 = k.trim().parse().map_err(|_| bad())?;
                let (lo, hi) = shard_range(n, i, k)?;
                Ok((lo, hi - lo))
            }
            (None, _, Some(start), Some(count)) => Ok((start, count)),
            _ => Err(Error::invalid(
                "give --rows N (with --shard I/K to write one shard), or --start S --count C",
            )),
        }
    }
}

pub fn sample(a: SampleArgs) -> Result<()> {
    check_outputs(std::slice::from_ref(&a.out), &[("model", &a.model)])?;
    let (start, count) = a.range()?;
    let header = match a.header.as_deref().unwrap_or("auto") {
        "auto" => start == 0,
        "always" => true,
        "never" => false,
        other => {
            return Err(Error::invalid(format!(
                "--header '{other}' is not auto, always or never"
            )))
        }
    };
    let mut opts = SampleOptions::default();
    opts.batch_size = a.batch_size.unwrap_or(opts.batch_size);
    opts.threads = a.threads.unwrap_or(opts.threads);
    opts.device = super::device(&a.device)?.unwrap_or(opts.device);
    opts.label = a.label.clone();
    opts.check()?;
    let model = Synthesizer::load(&a.model)?;
    let started = Instant::now();
    let gz = a.out.extension().is_some_and(|e| e == "gz");
    let io = |e: std::io::Error| Error::io(a.out.display(), e);
    let seed = a.seed.unwrap_or_default();
    // Rows go to the file as they are made; it is renamed into place only when complete.
    let stream = |out: &mut dyn Write| -> Result<()> {
        let mut csv = CsvWriter::new(Counting::new(out), model.schema(), header).map_err(io)?;
        let mut done = 0u64;
        let mut checked = false;
        model.sample_stream(start, count, seed, &opts, &mut progress_bar(), &mut |t| {
            csv.write(t).map_err(io)?;
            done += t.n_rows() as u64;
            // After the first block, the rows' size on disk is known: a volume that cannot
            // fit stops here rather than after filling the disk.
            if !checked {
                checked = true;
                let per_row = csv.get_ref().bytes as f64 / done as f64;
                check_space(&a.out, per_row / if gz { 3.0 } else { 1.0 }, count - done)?;
            }
            Ok(())
        })?;
        csv.finish().map_err(io)?.flush().map_err(io)
    };
    let mut file = AtomicFile::create(&a.out)?;
    if gz {
        let mut enc = flate2::write::GzEncoder::new(file.writer(), flate2::Compression::default());
        stream(&mut enc)?;
        enc.finish().map_err(io)?;
    } else {
        stream(file.writer())?;
    }
    file.commit()?;
    eprintln!(
        "{count} rows (rows {start} to {}) written to {} in {:.1} s",
        start + count - 1,
        a.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A writer that counts the bytes that pass through it.
struct Counting<W: Write> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Counting<W> {
    fn new(inner: W) -> Self {
        Counting { inner, bytes: 0 }
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

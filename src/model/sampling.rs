//! Sampling at any volume. Rows are made in fixed blocks of [`BLOCK_ROWS`]: row r lies in
//! block r / BLOCK_ROWS at place r % BLOCK_ROWS, and every random number it draws (its label,
//! its x_T, each step's noise) is keyed by (seed, block, step) and its place. A block is always
//! computed whole, in the same shape, so row r is the same bytes whatever the batch size, the
//! thread count, or the range or shard that asks for it: `sample_range` and shards reproduce
//! one run exactly. Rows stream out block by block to a sink, so memory stays bounded by the
//! blocks in flight whatever the number of rows.

use std::sync::Arc;

use super::sampler::{upload_weights, Sampler, BLOCK_STREAM_STRIDE};
use super::{SampleOptions, Synthesizer, TargetPairs, PAIR_POOL};
use crate::backend::{run_job_with_rows, DiffusionOps, Job, Relay, RowSink};
use crate::diffusion::{uniform, Layout, Schedule};
use crate::error::{Error, Result};
use crate::nn::Denoiser;
use crate::progress::{Progress, ProgressFn};
use crate::rng::row_rng;
use crate::table::Table;

/// Rows per sampling block (fixed: see the module's documentation).
pub const BLOCK_ROWS: usize = 256;

/// The rows of shard `i` of `k` of a sample of `rows` rows: `floor(i·rows/k)` up to
/// `floor((i+1)·rows/k)`, so that shards 0..k−1 cover the rows once, in order.
pub fn shard_range(rows: u64, i: u64, k: u64) -> Result<(u64, u64)> {
    if k == 0 || i >= k {
        return Err(Error::invalid(format!(
            "shard {i} of {k} does not exist: shards are numbered 0 to k − 1 and k is at least 1"
        )));
    }
    if k > rows {
        return Err(Error::invalid(format!(
            "{k} shards of {rows} rows would leave some shards empty; use at most {rows} shards"
        )));
    }
    let at = |j: u64| ((j as u128 * rows as u128) / k as u128) as u64;
    Ok((at(i), at(i + 1)))
}

/// Seed and stream of the label draws, apart from the diffusion's.
const LABEL_SEED: u64 = 0x1ABE_1000;
const LABEL_STREAM: u64 = u64::MAX - 1;

impl Synthesizer {
    /// Draws `n` synthetic rows: rows 0..n of the sample with this seed (see
    /// [`Synthesizer::sample_range`]).
    pub fn sample(
        &self,
        n: usize,
        seed: u64,
        opts: &SampleOptions,
        progress: ProgressFn,
    ) -> Result<Table> {
        self.sample_range(0, n, seed, opts, progress)
    }

    /// Rows `start..start + count` of the sample with this seed, as one table. Row r is the
    /// same whatever the batch size, the thread count or the range: the rows of several
    /// ranges, concatenated, are those of one range over all of them. The whole result is
    /// held in memory; [`Synthesizer::sample_stream`] is for large volumes.
    pub fn sample_range(
        &self,
        start: u64,
        count: usize,
        seed: u64,
        opts: &SampleOptions,
        progress: ProgressFn,
    ) -> Result<Table> {
        if count == 0 {
            return Err(Error::invalid(
                "the number of rows to sample must be at least 1",
            ));
        }
        opts.check()?;
        self.check_sample_memory(
            count,
            opts.batch_size,
            &format!("sampling {count} rows in one call"),
            "ask for fewer rows per call and sample the volume in ranges (sample_range, or `synthvol sample`, which writes any number of rows to a file in blocks)",
        )?;
        self.collect_as(start, count, seed, opts, progress, false)
    }

    /// Rows `start..start + count` as one table, with values or (`scores`) numeric scores.
    fn collect_as(
        &self,
        start: u64,
        count: usize,
        seed: u64,
        opts: &SampleOptions,
        progress: ProgressFn,
        scores: bool,
    ) -> Result<Table> {
        let mut parts: Vec<Table> = Vec::new();
        let mut sink = |t: &Table| {
            parts.push(t.clone());
            Ok(())
        };
        self.stream_as(start, count as u64, seed, opts, progress, &mut sink, scores)?;
        let mut parts = parts.into_iter();
        let first = parts
            .next()
            .ok_or_else(|| Error::invalid("sampling produced no rows"))?;
        parts.try_fold(first, |acc, p| acc.concat(&p))
    }

    /// Rows `start..start + count` of the sample with this seed, handed to `sink` in order,
    /// a few blocks at a time, on the calling thread. Memory stays bounded by the blocks in
    /// flight (`opts.batch_size` rows, rounded up to whole blocks). An error from the sink
    /// stops the sampling and is returned.
    pub fn sample_stream(
        &self,
        start: u64,
        count: u64,
        seed: u64,
        opts: &SampleOptions,
        progress: ProgressFn,
        sink: RowSink<'_>,
    ) -> Result<()> {
        self.stream_as(start, count, seed, opts, progress, sink, false)
    }

    /// Rows `0..n` of the sample with this seed with each numeric column's standard-normal
    /// score instead of its value ([`crate::encode::Encoder::decode_scores`]): what
    /// calibration fits a score map to.
    pub(crate) fn sample_scores(
        &self,
        n: usize,
        seed: u64,
        opts: &SampleOptions,
        progress: ProgressFn,
    ) -> Result<Table> {
        self.collect_as(0, n, seed, opts, progress, true)
    }

    #[allow(clippy::too_many_arguments)]
    fn stream_as(
        &self,
        start: u64,
        count: u64,
        seed: u64,
        opts: &SampleOptions,
        progress: ProgressFn,
        sink: RowSink<'_>,
        scores: bool,
    ) -> Result<()> {
        if count == 0 {
            return Err(Error::invalid(
                "the number of rows to sample must be at least 1",
            ));
        }
        opts.check()?;
        let end = start.checked_add(count).ok_or_else(|| {
            Error::invalid(format!(
                "rows {start} to {start} + {count} run past the last row number (2^64 − 1)"
            ))
        })?;
        let labels = self.given_labels(opts, count)?;
        if let (Some(pairs), false, None) = (&self.pairs, scores, &labels) {
            return self.stream_raked(pairs, start, end, seed, opts, progress, sink);
        }
        let job = StreamJob {
            model: self,
            start,
            end,
            seed,
            blocks_in_flight: opts.batch_size.div_ceil(BLOCK_ROWS).max(1),
            labels,
            scores,
        };
        run_job_with_rows(opts.device, opts.threads, progress, Some(sink), job)?;
        Ok(())
    }

    /// Rows `start..end` of a model with target pairs: output block b is chosen from the
    /// model's rows b × P × BLOCK_ROWS.. (b + 1) × P × BLOCK_ROWS (P = [`PAIR_POOL`]) by
    /// [`TargetPairs::select`] with a draw keyed by (seed, b).
    #[allow(clippy::too_many_arguments)]
    fn stream_raked(
        &self,
        pairs: &TargetPairs,
        start: u64,
        end: u64,
        seed: u64,
        opts: &SampleOptions,
        progress: ProgressFn,
        sink: RowSink<'_>,
    ) -> Result<()> {
        let block = BLOCK_ROWS as u64;
        let pool = (PAIR_POOL * BLOCK_ROWS) as u64;
        let first = start / block;
        let last = (end - 1) / block;
        let too_far = || {
            Error::invalid(format!(
                "rows up to {end} of a model that rakes its rows to target pairs reach past the last row number it can make (2^64 / {PAIR_POOL})"
            ))
        };
        let pool_start = first.checked_mul(pool).ok_or_else(too_far)?;
        let pool_end = (last + 1).checked_mul(pool).ok_or_else(too_far)?;
        let mut buffer: Option<Table> = None;
        let mut b = first;
        let mut inner = |t: &Table| -> Result<()> {
            let mut all = match buffer.take() {
                Some(held) => held.concat(t)?,
                None => t.clone(),
            };
            while all.n_rows() >= pool as usize {
                let rest: Vec<usize> = (pool as usize..all.n_rows()).collect();
                let here = all.select_rows(&(0..pool as usize).collect::<Vec<_>>());
                all = all.select_rows(&rest);
                let picks = pairs.select(&here, BLOCK_ROWS, Self::rake_draw(seed, b))?;
                let b_start = b * block;
                let lo = (start.max(b_start) - b_start) as usize;
                let hi = (end.min(b_start + block) - b_start) as usize;
                sink(&here.select_rows(&picks[lo..hi]))?;
                b += 1;
            }
            buffer = Some(all);
            Ok(())
        };
        let opts = SampleOptions {
            batch_size: opts.batch_size.max(1).saturating_mul(PAIR_POOL),
            ..opts.clone()
        };
        let job = StreamJob {
            model: self,
            start: pool_start,
            end: pool_end,
            seed,
            blocks_in_flight: opts.batch_size.div_ceil(BLOCK_ROWS).max(1),
            labels: None,
            scores: false,
        };
        run_job_with_rows(opts.device, opts.threads, progress, Some(&mut inner), job)?;
        Ok(())
    }

    /// The classes `opts.labels` or `opts.label` give, checked against the model.
    fn given_labels(&self, opts: &SampleOptions, count: u64) -> Result<Option<GivenLabels>> {
        let option = match (&opts.labels, &opts.label) {
            (None, None) => return Ok(None),
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "options 'labels' (one class per row) and 'label' (one class for every row) exclude each other; give one",
                ))
            }
            (Some(_), None) => "labels",
            (None, Some(_)) => "label",
        };
        let Some(l) = &self.encoder.label else {
            return Err(Error::invalid(format!(
                "option '{option}' needs a model conditioned on a categorical target; this one has none"
            )));
        };
        let spec = &self.encoder.schema.columns[l.column];
        let crate::table::ColumnKind::Categorical { levels } = &spec.kind else {
            return Err(Error::format("the model's label is not categorical"));
        };
        let code = |g: &String| {
            levels
                .iter()
                .position(|l| l == g)
                .map(|k| k as u32)
                .ok_or_else(|| {
                    Error::invalid(format!(
                    "option '{option}': '{g}' is not a class of the target '{}' (its classes: {})",
                    spec.name,
                    crate::table::preview(levels)
                ))
                })
        };
        if let Some(one) = &opts.label {
            return Ok(Some(GivenLabels::All(code(one)?)));
        }
        let given = opts.labels.as_ref().expect("matched above");
        if given.len() as u64 != count {
            return Err(Error::invalid(format!(
                "option 'labels' has {} labels for {count} rows; give one per row",
                given.len()
            )));
        }
        given
            .iter()
            .map(code)
            .collect::<Result<Vec<_>>>()
            .map(|v| Some(GivenLabels::PerRow(Arc::new(v))))
    }

    /// The label of row `r` of the sample with this seed, drawn from the training class
    /// frequencies (None without a label).
    fn drawn_label(&self, seed: u64, r: u64) -> Option<u32> {
        let l = self.encoder.label.as_ref()?;
        let total: f64 = l.counts.iter().sum();
        let mut rng = row_rng(seed ^ LABEL_SEED, LABEL_STREAM, r);
        let u = uniform(&mut rng) * total;
        let mut acc = 0.0;
        for (k, &c) in l.counts.iter().enumerate() {
            acc += c;
            if u < acc {
                return Some(k as u32);
            }
        }
        Some((l.counts.len() - 1) as u32)
    }
}

/// Sampling rows `start..end` on a backend, a few whole blocks at a time.
struct StreamJob<'a> {
    model: &'a Synthesizer,
    start: u64,
    end: u64,
    seed: u64,
    blocks_in_flight: usize,
    /// The classes of the rows start..end, when the caller gave them.
    labels: Option<GivenLabels>,
    /// Numeric columns as scores ([`crate::encode::Encoder::decode_scores`]).
    scores: bool,
}

/// Classes the caller chose instead of draws.
enum GivenLabels {
    /// One per row of the range.
    PerRow(Arc<Vec<u32>>),
    /// The same for every row.
    All(u32),
}

impl Job for StreamJob<'_> {
    type Output = ();

    fn run<B: DiffusionOps>(self, be: &B, relay: &mut Relay<'_>) -> Result<()> {
        let m = self.model;
        let net = Denoiser::new(m.net.clone());
        let layout = Layout {
            n_num: m.encoder.n_numeric(),
            blocks: m.encoder.block_sizes(),
        };
        let sched = Schedule::cosine(m.timesteps);
        let params = upload_weights(be, &m.weights)?;
        let w = layout.width();
        let first = self.start / BLOCK_ROWS as u64;
        let last = (self.end - 1) / BLOCK_ROWS as u64;
        let n_blocks = last - first + 1;
        // A worker holds `per` consecutive blocks (one on the CPU, many on a GPU), each on its
        // own streams; the last worker's blocks past the range are computed and dropped, so
        // every launch has the same shape and a row does not depend on the sample's size.
        let per = be.blocks_per_launch().max(1);
        let rows_per = per * BLOCK_ROWS;
        let groups = n_blocks.div_ceil(per as u64);
        let in_flight = if per > 1 {
            1
        } else {
            (self.blocks_in_flight as u64).min(n_blocks) as usize
        };
        let mut workers = (0..in_flight)
            .map(|_| {
                Ok(Worker {
                    sampler: Sampler::new(be, &net, &layout, &sched, &params, rows_per)?
                        .with_blocks(BLOCK_ROWS),
                    block: 0,
                    x: vec![0f32; rows_per * w],
                    labels: vec![0u32; rows_per],
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let rounds = groups.div_ceil(in_flight as u64);
        let total = rounds as usize * m.timesteps;
        let mut done = 0usize;
        let conditional = m.encoder.label.is_some();
        for round in 0..rounds {
            let g0 = round * in_flight as u64;
            let active = (groups - g0).min(in_flight as u64) as usize;
            // Labels of every place of every block (rows outside the range get the drawn
            // label: they are computed and discarded, but draw what they always draw).
            for (i, wk) in workers[..active].iter_mut().enumerate() {
                wk.block = first + (g0 + i as u64) * per as u64;
                if conditional {
                    for (p, l) in wk.labels.iter_mut().enumerate() {
                        let r = wk.block * BLOCK_ROWS as u64 + p as u64;
                        *l = match (&self.labels, r >= self.start && r < self.end) {
                            (Some(GivenLabels::PerRow(given)), true) => {
                                given[(r - self.start) as usize]
                            }
                            (Some(GivenLabels::All(c)), true) => *c,
                            _ => m.drawn_label(self.seed, r).unwrap_or(0),
                        };
                    }
                    let y: Vec<f32> = wk.labels.iter().map(|&c| c as f32).collect();
                    wk.sampler.set_labels(&y)?;
                }
            }
            let seed = self.seed;
            let stream = |block: u64, t: u64| block.wrapping_mul(BLOCK_STREAM_STRIDE) | t;
            be.for_each_shard(&mut workers[..active], &|wk| {
                wk.sampler
                    .prior(rows_per, seed, stream(wk.block, 0xFFFF_FFFF))
            })?;
            for t in (0..m.timesteps).rev() {
                be.for_each_shard(&mut workers[..active], &|wk| {
                    wk.sampler
                        .step(t, rows_per, seed, stream(wk.block, t as u64))
                })?;
                done += 1;
                let p = Progress {
                    stage: "sample",
                    done,
                    total,
                    loss: f64::NAN,
                };
                if !relay.progress(&p) {
                    return Err(Error::cancelled());
                }
            }
            // The rows of the range these blocks hold, decoded, in order.
            let mut x = Vec::with_capacity(active * rows_per * w);
            let mut labels = Vec::with_capacity(active * rows_per);
            for wk in workers[..active].iter_mut() {
                wk.sampler.download(&mut wk.x)?;
                let b_start = wk.block * BLOCK_ROWS as u64;
                let b_end = b_start + rows_per as u64;
                if b_start >= self.end {
                    continue;
                }
                let lo = self.start.max(b_start) - b_start;
                let hi = self.end.min(b_end) - b_start;
                let (lo, hi) = (lo as usize, hi as usize);
                x.extend_from_slice(&wk.x[lo * w..hi * w]);
                labels.extend_from_slice(&wk.labels[lo..hi]);
            }
            let rows = labels.len();
            let given = conditional.then_some(&labels[..]);
            let table = if self.scores {
                m.encoder.decode_scores(&x, given, rows)?
            } else {
                m.encoder.decode(&x, given, rows)?
            };
            if !relay.rows(table) {
                return Err(Error::cancelled());
            }
        }
        Ok(())
    }
}

/// Blocks in flight: their sampler (workspace), the first block it holds, its rows and labels.
struct Worker<'a, B: DiffusionOps> {
    sampler: Sampler<'a, B>,
    block: u64,
    x: Vec<f32>,
    labels: Vec<u32>,
}

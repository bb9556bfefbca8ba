//! Ancestral sampling on a backend: x_T from the prior, then T denoising steps, for the rows of
//! one workspace. The weights live in a buffer that several samplers (one per block of rows)
//! share; [`super::sampling`] runs them over fixed blocks.

use crate::backend::{DiffusionOps, RowStreams};
use crate::diffusion::{Layout, Schedule};
use crate::nn::{Denoiser, DenoiserConfig, Workspace};

/// A workspace for up to `capacity` rows over shared weights on the backend.
pub struct Sampler<'a, B: DiffusionOps> {
    be: &'a B,
    pub net: &'a Denoiser,
    pub layout: &'a Layout,
    pub sched: &'a Schedule,
    params: &'a B::Buf,
    ws: Workspace<B>,
    /// Rows per block of random streams (see [`Sampler::with_blocks`]).
    block_rows: usize,
}

/// How far apart the streams of consecutive sampling blocks are: block b's step t draws from
/// stream `b·BLOCK_STREAM_STRIDE + t` (see `sampling`).
pub const BLOCK_STREAM_STRIDE: u64 = 1 << 32;

/// The weights on the backend.
pub fn upload_weights<B: DiffusionOps>(be: &B, weights: &[f32]) -> crate::error::Result<B::Buf> {
    let mut params = be.alloc(weights.len())?;
    be.upload(&mut params, 0, weights)?;
    Ok(params)
}

/// Bytes sampling `n` rows of `net` into one table, `batch` rows in flight, with a
/// `timesteps`-step diffusion needs, about: the weights, the blocks' workspaces and time
/// tables, and the decoded rows twice (the blocks' tables and their concatenation; `columns`
/// values of 8 bytes per row).
pub fn memory_estimate(
    net: &DenoiserConfig,
    n: usize,
    batch: usize,
    timesteps: usize,
    columns: usize,
) -> u128 {
    let d = Denoiser::new(net.clone());
    let block = super::sampling::BLOCK_ROWS as u128;
    let blocks = (batch.min(n.max(1)) as u128).div_ceil(block);
    let per_row = (6 * net.d_in + 8 * net.dim_t + 2 * net.layers.iter().sum::<usize>() + 9) as u128;
    4 * (d.n_params as u128 + blocks * (block * per_row + (timesteps * net.dim_t) as u128))
        + n as u128 * 16 * columns as u128
}

impl<'a, B: DiffusionOps> Sampler<'a, B> {
    /// A sampler for up to `capacity` rows of `net` (whose weights `params` holds) with the
    /// diffusion `sched`.
    pub fn new(
        be: &'a B,
        net: &'a Denoiser,
        layout: &'a Layout,
        sched: &'a Schedule,
        params: &'a B::Buf,
        capacity: usize,
    ) -> crate::error::Result<Self> {
        let mut ws = net.workspace(be, capacity)?;
        net.set_time_table(be, &mut ws, sched.steps)?;
        Ok(Sampler {
            be,
            net,
            layout,
            sched,
            params,
            ws,
            block_rows: usize::MAX,
        })
    }

    /// Treats the rows as consecutive blocks of `block_rows`, each with its own streams: the
    /// `stream` given to [`Sampler::prior`] and [`Sampler::step`] is the first block's, block j
    /// draws from `stream + j·BLOCK_STREAM_STRIDE`, so one sampler runs what one sampler per
    /// block would.
    pub fn with_blocks(mut self, block_rows: usize) -> Self {
        self.block_rows = block_rows.max(1);
        self
    }

    fn streams(&self, seed: u64, stream: u64) -> RowStreams {
        RowStreams {
            seed,
            stream,
            block_rows: self.block_rows,
            stride: BLOCK_STREAM_STRIDE,
        }
    }

    /// Sets the labels of the first rows.
    pub fn set_labels(&mut self, labels: &[f32]) -> crate::error::Result<()> {
        self.be.upload(&mut self.ws.y, 0, labels)
    }

    /// x_T for the first `rows` rows.
    pub fn prior(&mut self, rows: usize, seed: u64, stream: u64) -> crate::error::Result<()> {
        let streams = self.streams(seed, stream);
        self.be.prior(self.layout, &mut self.ws.x, rows, streams)
    }

    /// One denoising step x_t → x_{t−1} for the first `rows` rows.
    pub fn step(
        &mut self,
        t: usize,
        rows: usize,
        seed: u64,
        stream: u64,
    ) -> crate::error::Result<()> {
        let be = self.be;
        let streams = self.streams(seed, stream);
        be.fill(&mut self.ws.t, 0, rows, t as f64)?;
        self.net
            .forward_shared_t(be, self.params, &mut self.ws, rows)?;
        be.p_sample(
            self.layout,
            self.sched,
            t,
            &self.ws.out,
            &mut self.ws.x,
            rows,
            streams,
        )
    }

    /// Copies the first rows' state to the host.
    pub fn download(&self, out: &mut [f32]) -> crate::error::Result<()> {
        self.be.download(&self.ws.x, 0, out)
    }
}

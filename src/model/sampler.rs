//! Ancestral sampling in batches on a backend: x_T from the prior, then T denoising steps.

use crate::backend::DiffusionOps;
use crate::diffusion::{Layout, Schedule};
use crate::nn::{Denoiser, DenoiserConfig, Workspace};

/// Weights on the backend and a workspace for up to `capacity` rows.
pub struct Sampler<'a, B: DiffusionOps> {
    be: &'a B,
    pub net: Denoiser,
    pub layout: Layout,
    pub sched: Schedule,
    params: B::Buf,
    ws: Workspace<B>,
}

/// Bytes sampling `n` rows of `net` in batches of `batch` with a `timesteps`-step diffusion
/// needs in one call, about: the weights, one batch's workspace and time table, the encoded
/// rows and labels, and the decoded table (`columns` values of 8 bytes per row).
pub fn memory_estimate(
    net: &DenoiserConfig,
    n: usize,
    batch: usize,
    timesteps: usize,
    columns: usize,
) -> u128 {
    let d = Denoiser::new(net.clone());
    let (n, batch) = (n as u128, batch.min(n.max(1)) as u128);
    let per_row = (5 * net.d_in + 8 * net.dim_t + 2 * net.layers.iter().sum::<usize>() + 8) as u128;
    4 * (2 * d.n_params as u128 + batch * per_row + (timesteps * net.dim_t) as u128)
        + n * (4 * net.d_in as u128 + 4 + 8 * columns as u128)
}

impl<'a, B: DiffusionOps> Sampler<'a, B> {
    pub fn new(
        be: &'a B,
        net: &DenoiserConfig,
        layout: Layout,
        timesteps: usize,
        weights: &[f32],
        capacity: usize,
    ) -> crate::error::Result<Self> {
        let net = Denoiser::new(net.clone());
        let mut params = be.alloc(net.n_params)?;
        be.upload(&mut params, 0, weights)?;
        let mut ws = net.workspace(be, capacity)?;
        net.set_time_table(be, &mut ws, timesteps)?;
        Ok(Sampler {
            be,
            net,
            layout,
            sched: Schedule::cosine(timesteps),
            params,
            ws,
        })
    }

    /// Sets the labels of the first rows.
    pub fn set_labels(&mut self, labels: &[f32]) -> crate::error::Result<()> {
        self.be.upload(&mut self.ws.y, 0, labels)
    }

    /// x_T for the first `rows` rows.
    pub fn prior(&mut self, rows: usize, seed: u64, stream: u64) -> crate::error::Result<()> {
        self.be
            .prior(&self.layout, &mut self.ws.x, rows, seed, stream)
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
        be.fill(&mut self.ws.t, 0, rows, t as f64)?;
        self.net
            .forward_shared_t(be, &self.params, &mut self.ws, rows)?;
        be.p_sample(
            &self.layout,
            &self.sched,
            t,
            &self.ws.out,
            &mut self.ws.x,
            rows,
            seed,
            stream,
        )
    }

    /// Copies the first rows' state to the host.
    pub fn download(&self, out: &mut [f32]) -> crate::error::Result<()> {
        self.be.download(&self.ws.x, 0, out)
    }
}

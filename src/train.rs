//! Training: AdamW with linear learning-rate decay to zero and an EMA of the weights (the EMA
//! weights are the ones used for sampling), on minibatches drawn by per-epoch shuffling.
//!
//! Every buffer a step touches is allocated once before the first step.

use rand_xoshiro::rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::backend::{AdamStep, Backend, DiffusionOps, GradNoise};
use crate::diffusion::{Layout, LossWeights, Schedule};
use crate::encode::Encoded;
use crate::error::{Error, Result};
use crate::nn::{Denoiser, Workspace};

/// Optimiser settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimConfig {
    pub steps: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub ema_rate: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            steps: 4000,
            batch_size: 1024,
            lr: 2e-3,
            weight_decay: 1e-4,
            ema_rate: 0.999,
        }
    }
}

/// DP-SGD settings for a training run (σ already calibrated).
#[derive(Debug, Clone)]
pub struct DpConfig {
    /// Poisson sampling rate q: each row joins each step's batch with this probability.
    pub q: f64,
    /// Noise multiplier σ: the noise on the clipped sum has standard deviation σ·C.
    pub sigma: f64,
    /// Clipping norm C of each row's gradient.
    pub max_grad_norm: f64,
    /// Draws of (t, ε) per row and step; the row's gradient is their mean.
    pub augment: usize,
    /// Key of the AES-256-CTR streams for Poisson sampling and noise (from the OS, unless a
    /// test fixes it).
    pub key: [u8; 32],
    /// Multiplies the multinomial (categorical) part of each row's loss. Clipping bounds a
    /// row's whole gradient, and the Gaussian part's larger gradients otherwise crowd the
    /// categorical blocks below the noise.
    pub categorical_weight: f64,
}

/// DP batches (whose size Poisson sampling varies) are padded to a multiple of this many rows
/// with rows whose loss gradient is zero: OpenBLAS's sgemm runs about 8% slower per row on a
/// ragged row count than on a multiple of its 16-row kernel, more than the padding costs.
const ROW_ALIGN: usize = 16;

/// Stream of the Poisson sampling draws, apart from the noise streams (the step number).
const SAMPLING_STREAM: u64 = 1 << 63;

struct DpState<B: Backend> {
    cfg: DpConfig,
    /// Each group's squared gradient norm before clipping (written by the clipping pass).
    sq: B::Buf,
    selected: Vec<u32>,
}

/// What a progress callback sees.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// "train" or "sample".
    pub stage: &'static str,
    pub done: usize,
    pub total: usize,
    /// Mean training loss over the last reporting window (NaN while sampling).
    pub loss: f64,
}

/// A progress callback: return `false` to cancel the call.
pub type ProgressFn<'a> = &'a mut dyn FnMut(&Progress) -> bool;

/// What training produces.
#[derive(Debug, Clone)]
pub struct Trained {
    pub params: Vec<f32>,
    pub ema: Vec<f32>,
    /// (step, mean loss over the window ending at that step).
    pub loss_history: Vec<(usize, f64)>,
}

/// The state of a training run: parameters, optimizer moments, EMA and every buffer a step
/// touches, allocated once.
pub struct Trainer<'a, B: DiffusionOps> {
    be: &'a B,
    net: &'a Denoiser,
    layout: &'a Layout,
    sched: &'a Schedule,
    cfg: OptimConfig,
    n: usize,
    batch: usize,
    all: B::Buf,
    labels_all: B::Buf,
    ws: Workspace<B>,
    x0: B::Buf,
    eps: B::Buf,
    row_loss: B::Buf,
    idx_buf: B::Buf,
    params: B::Buf,
    ema: B::Buf,
    grads: B::Buf,
    m: B::Buf,
    v: B::Buf,
    rng: Xoshiro256PlusPlus,
    perm: Vec<u32>,
    cursor: usize,
    idx_host: Vec<f32>,
    t_host: Vec<f32>,
    loss_host: Vec<f32>,
    weights: LossWeights,
    noise_seed: u64,
    dp: Option<DpState<B>>,
}

impl<'a, B: DiffusionOps> Trainer<'a, B> {
    /// Uploads the rows and the initial parameters and allocates every buffer.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        be: &'a B,
        net: &'a Denoiser,
        layout: &'a Layout,
        sched: &'a Schedule,
        data: &Encoded,
        cfg: &OptimConfig,
        init: &[f32],
        seed: u64,
    ) -> Result<Self> {
        let n = data.n;
        if n == 0 {
            return Err(Error::data("no rows to train on"));
        }
        if cfg.steps == 0 || cfg.batch_size == 0 {
            return Err(Error::invalid("steps and batch size must be at least 1"));
        }
        if !(cfg.lr > 0.0 && cfg.lr.is_finite()) {
            return Err(Error::invalid(format!(
                "learning rate must be positive, got {}",
                cfg.lr
            )));
        }
        if init.len() != net.n_params || data.x.len() != n * layout.width() {
            return Err(Error::invalid(
                "initial parameters or rows do not match the network",
            ));
        }
        let batch = cfg.batch_size.min(n);
        let cap = batch.next_multiple_of(ROW_ALIGN);
        let w = layout.width();
        let labels: Vec<f32> = data
            .labels
            .as_ref()
            .map_or_else(Vec::new, |l| l.iter().map(|&c| c as f32).collect());
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let noise_seed = rng.next_u64();
        let mut ws = net.workspace(be, cap);
        net.set_time_table(be, &mut ws, sched.steps);
        Ok(Trainer {
            be,
            net,
            layout,
            sched,
            cfg: cfg.clone(),
            n,
            batch,
            all: be_upload(be, &data.x),
            labels_all: be_upload(be, &labels),
            ws,
            x0: be.alloc(cap * w),
            eps: be.alloc(cap * layout.n_num.max(1)),
            row_loss: be.alloc(cap),
            idx_buf: be.alloc(cap),
            params: be_upload(be, init),
            ema: be_upload(be, init),
            grads: be.alloc(net.n_params),
            m: be.alloc(net.n_params),
            v: be.alloc(net.n_params),
            rng,
            perm: (0..n as u32).collect(),
            cursor: n, // forces a shuffle before the first batch
            idx_host: vec![0f32; cap],
            t_host: vec![0f32; cap],
            loss_host: vec![0f32; cap],
            weights: LossWeights::new(layout, batch),
            noise_seed,
            dp: None,
        })
    }

    /// Switches the trainer to DP-SGD: Poisson sampling at rate q, `augment` draws per row,
    /// per-row clipping to C, Gaussian noise σ·C on the clipped sum, division by q·N. The
    /// batch size becomes the size of the micro-batches the sampled rows are processed in.
    pub fn enable_dp(&mut self, cfg: DpConfig) -> Result<()> {
        let valid = cfg.q > 0.0
            && cfg.q <= 1.0
            && cfg.sigma >= 0.0
            && cfg.sigma.is_finite()
            && cfg.max_grad_norm > 0.0
            && cfg.max_grad_norm.is_finite();
        if !valid {
            return Err(Error::invalid(format!(
                "DP settings out of range: sampling rate {} (must be in (0, 1]), noise multiplier {} (≥ 0), clipping norm {} (> 0)",
                cfg.q, cfg.sigma, cfg.max_grad_norm
            )));
        }
        if cfg.augment == 0 || cfg.augment > self.batch.max(1) {
            return Err(Error::invalid(format!(
                "augmentation multiplicity must be between 1 and the batch size ({}), got {}",
                self.batch, cfg.augment
            )));
        }
        let groups = self.batch / cfg.augment;
        self.dp = Some(DpState {
            sq: self.be.alloc(groups),
            selected: Vec::with_capacity((cfg.q * self.n as f64 * 1.5) as usize + 16),
            cfg,
        });
        Ok(())
    }

    /// The rows sampled at `step` under DP (Poisson sampling with the mechanism's key).
    pub fn poisson_sample(key: &[u8; 32], q: f64, n: usize, step: usize, out: &mut Vec<u32>) {
        let mut rng =
            crate::privacy::noise::KeyStream::new(key, SAMPLING_STREAM | step as u64, 0, false);
        // Compare 53-bit uniforms with q: inclusion probability q up to 2⁻⁵³.
        let threshold = (q * (1u64 << 53) as f64) as u64;
        out.clear();
        out.extend((0..n as u32).filter(|_| (rng.next_u64() >> 11) < threshold));
    }

    fn step_dp(&mut self, step: usize) -> Result<f64> {
        let (be, net, layout) = (self.be, self.net, self.layout);
        let mut dp = self.dp.take().expect("DP enabled");
        let k = dp.cfg.augment;
        let per_chunk = self.batch / k;
        Self::poisson_sample(&dp.cfg.key, dp.cfg.q, self.n, step, &mut dp.selected);
        let mut weights = LossWeights::new(layout, k);
        weights.multinomial *= dp.cfg.categorical_weight as f32;
        if dp.selected.is_empty() {
            // An empty batch: the released gradient is the noise alone.
            be.fill(&mut self.grads, 0, net.n_params, 0.0);
        }
        let (mut loss_sum, mut draws) = (0.0f64, 0usize);
        for (c, chunk) in dp.selected.chunks(per_chunk.max(1)).enumerate() {
            let rows = chunk.len() * k;
            let padded = rows.next_multiple_of(ROW_ALIGN);
            for (j, &r) in chunk.iter().enumerate() {
                self.idx_host[j * k..(j + 1) * k]
                    .iter_mut()
                    .for_each(|v| *v = r as f32);
            }
            // Padding rows (the chunk's first row's label, at x = 0, t = 0) get a zero loss
            // gradient, so every G row of theirs is zero and adds nothing to a sum or norm.
            let first = self.idx_host[0];
            self.idx_host[rows..padded].fill(first);
            let stream = ((step as u64) << 24) | c as u64;
            self.forward_loss(rows, padded, stream, weights);
            let ws = &mut self.ws;
            net.backward_data(be, &self.params, ws, padded);
            net.clip_output_grads(be, ws, rows, k, dp.cfg.max_grad_norm, &mut dp.sq);
            // The first chunk overwrites the gradient, later ones add to it.
            net.backward_params(be, &mut self.grads, ws, padded, c > 0);
            be.download(&self.row_loss, 0, &mut self.loss_host[..rows]);
            loss_sum += self.loss_host[..rows]
                .iter()
                .map(|&x| x as f64)
                .sum::<f64>();
            draws += rows;
        }
        // Noise N(0, σ²C²) on the clipped sum and division by q·N, in the optimiser's pass.
        let expected = dp.cfg.q * self.n as f64;
        self.adam(
            step,
            Some(GradNoise {
                std: dp.cfg.sigma * dp.cfg.max_grad_norm,
                scale: 1.0 / expected,
                key: dp.cfg.key,
                stream: step as u64,
            }),
        );
        self.dp = Some(dp);
        // An empty batch is a valid step (noise only); its loss is not defined.
        if draws == 0 {
            return Ok(f64::NAN);
        }
        let l = loss_sum / draws as f64;
        if !l.is_finite() {
            return Err(Error::numerical(format!(
                "training diverged at step {} (loss {l}); try a smaller learning rate",
                step + 1
            )));
        }
        Ok(l)
    }

    /// For the first `rows` batch rows (indices already in `idx_host`): draws their timesteps,
    /// gathers the rows and labels, noises them on `stream`, runs the denoiser and writes the
    /// loss gradient into `ws.dout` and the row losses into `row_loss`. Rows `rows..total` are
    /// padding: they go through the network (at x = 0, t = 0, their `idx_host` row's label)
    /// with a zero loss gradient, and draw no random numbers.
    fn forward_loss(&mut self, rows: usize, total: usize, stream: u64, weights: LossWeights) {
        let (be, net, layout, sched) = (self.be, self.net, self.layout, self.sched);
        for tv in self.t_host[..rows].iter_mut() {
            *tv = (self.rng.next_u64() % sched.steps as u64) as f32;
        }
        self.t_host[rows..total].fill(0.0);
        let ws = &mut self.ws;
        let w = layout.width();
        be.upload(&mut self.idx_buf, 0, &self.idx_host[..total]);
        be.upload(&mut ws.t, 0, &self.t_host[..total]);
        be.gather_rows(&self.all, 0, &self.idx_buf, rows, w, &mut self.x0);
        if net.embed.is_some() {
            be.gather_rows(&self.labels_all, 0, &self.idx_buf, total, 1, &mut ws.y);
        }
        be.q_sample(
            layout,
            sched,
            &self.x0,
            &ws.t,
            rows,
            self.noise_seed,
            stream,
            &mut ws.x,
            &mut self.eps,
        );
        be.fill(&mut ws.x, rows * w, (total - rows) * w, 0.0);
        net.forward(be, &self.params, ws, total);
        be.loss_grad(
            layout,
            sched,
            &ws.out,
            &self.x0,
            &ws.x,
            &self.eps,
            &ws.t,
            rows,
            weights,
            &mut ws.dout,
            &mut self.row_loss,
        );
        be.fill(&mut ws.dout, rows * w, (total - rows) * w, 0.0);
    }

    fn adam(&mut self, step: usize, noise: Option<GradNoise>) {
        let lr = self.cfg.lr * (1.0 - step as f64 / self.cfg.steps as f64);
        // EMA warm-up: early on, a fixed rate of 0.999 would leave the sampling weights mostly
        // at their random initial values (0.999^300 ≈ 0.74), a blend that samples badly.
        let ema_rate = self
            .cfg
            .ema_rate
            .min((1.0 + step as f64) / (10.0 + step as f64));
        let s = AdamStep {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: self.cfg.weight_decay,
            t: step as u64 + 1,
            ema_rate,
            noise,
        };
        self.be.adamw(
            &mut self.params,
            &mut self.grads,
            &mut self.m,
            &mut self.v,
            &mut self.ema,
            self.net.n_params,
            s,
        );
    }

    /// One optimisation step (0-based `step` sets the learning rate and the noise stream);
    /// returns the batch's mean loss.
    pub fn step(&mut self, step: usize) -> Result<f64> {
        if self.dp.is_some() {
            return self.step_dp(step);
        }
        let (be, net) = (self.be, self.net);
        let (n, batch) = (self.n, self.batch);
        if self.cursor + batch > n {
            for i in (1..n).rev() {
                let j = (self.rng.next_u64() % (i as u64 + 1)) as usize;
                self.perm.swap(i, j);
            }
            self.cursor = 0;
        }
        for (d, &s) in self
            .idx_host
            .iter_mut()
            .zip(&self.perm[self.cursor..self.cursor + batch])
        {
            *d = s as f32;
        }
        self.cursor += batch;
        let weights = self.weights;
        self.forward_loss(batch, batch, step as u64, weights);
        let ws = &mut self.ws;
        net.backward(be, &self.params, &mut self.grads, ws, batch, false);
        self.adam(step, None);
        be.download(&self.row_loss, 0, &mut self.loss_host);
        let l = self.loss_host.iter().map(|&x| x as f64).sum::<f64>() / batch as f64;
        if !l.is_finite() {
            return Err(Error::numerical(format!(
                "training diverged at step {} (loss {l}); try a smaller learning rate",
                step + 1
            )));
        }
        Ok(l)
    }

    /// The gradient the last step applied (under DP: the noisy, clipped mean — what DP-SGD
    /// releases each step; used by the privacy audit).
    pub fn last_gradient(&self) -> Vec<f32> {
        let mut g = vec![0f32; self.net.n_params];
        self.be.download(&self.grads, 0, &mut g);
        g
    }

    /// The trained parameters and their EMA.
    pub fn finish(self) -> (Vec<f32>, Vec<f32>) {
        let mut p = vec![0f32; self.net.n_params];
        let mut e = vec![0f32; self.net.n_params];
        self.be.download(&self.params, 0, &mut p);
        self.be.download(&self.ema, 0, &mut e);
        (p, e)
    }
}

/// Trains `net` from `init` on encoded rows for `cfg.steps` steps.
#[allow(clippy::too_many_arguments)]
pub fn train<B: DiffusionOps>(
    be: &B,
    net: &Denoiser,
    layout: &Layout,
    sched: &Schedule,
    data: &Encoded,
    cfg: &OptimConfig,
    init: &[f32],
    seed: u64,
    dp: Option<DpConfig>,
    progress: ProgressFn,
) -> Result<Trained> {
    let mut trainer = Trainer::new(be, net, layout, sched, data, cfg, init, seed)?;
    if let Some(dp) = dp {
        trainer.enable_dp(dp)?;
    }
    let window = (cfg.steps / 100).max(1);
    let (mut win_sum, mut win_n) = (0.0f64, 0usize);
    let mut history = Vec::new();
    let mut last_loss = f64::NAN;
    for step in 0..cfg.steps {
        let l = trainer.step(step)?;
        // Under DP an empty batch has no loss.
        if l.is_finite() {
            win_sum += l;
            win_n += 1;
        }
        if win_n == window || (step + 1 == cfg.steps && win_n > 0) {
            last_loss = win_sum / win_n as f64;
            history.push((step + 1, last_loss));
            win_sum = 0.0;
            win_n = 0;
        }
        let p = Progress {
            stage: "train",
            done: step + 1,
            total: cfg.steps,
            loss: last_loss,
        };
        if !progress(&p) {
            return Err(Error::cancelled());
        }
    }
    let (params, ema) = trainer.finish();
    Ok(Trained {
        params,
        ema,
        loss_history: history,
    })
}

fn be_upload<B: Backend<Elem = f32>>(be: &B, host: &[f32]) -> B::Buf {
    let mut b = be.alloc(host.len());
    be.upload(&mut b, 0, host);
    b
}

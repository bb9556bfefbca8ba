//! Training: AdamW with linear learning-rate decay to zero and an EMA of the weights (the EMA
//! weights are the ones used for sampling), on minibatches drawn by per-epoch shuffling.
//!
//! A batch runs in row shards where the backend asks for them ([`Backend::shard_rows`]): each
//! shard's forward pass, loss, backward pass to the layer outputs and (under DP) clipping run
//! on a thread of their own, then every parameter gradient sums the shards in a fixed order,
//! so the result does not depend on the thread count.
//!
//! Every buffer a step touches is allocated once before the first step.

use rand_xoshiro::rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::backend::{AdamStep, Backend, DiffusionOps, GradNoise};
use crate::diffusion::{Layout, LossWeights, Schedule};
use crate::encode::Encoded;
use crate::error::{Error, Result};
use crate::nn::{Denoiser, Trainable, Workspace};
use crate::progress::{Progress, ProgressFn};

/// Optimiser settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimConfig {
    pub steps: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub ema_rate: f64,
    /// Choose the number of steps on held-out rows (absent: train `steps` steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<EarlyStopping>,
    /// The parameters trained; the others keep their starting values (a fine-tuning's
    /// choice; a new fit trains all).
    #[serde(default, skip_serializing_if = "is_all")]
    pub trainable: Trainable,
}

fn is_all(t: &Trainable) -> bool {
    *t == Trainable::All
}

/// Early stopping: the validation loss of the EMA weights on rows held out of training, scored
/// every `every` steps with fixed draws of (t, ε) per row; training stops after `patience`
/// scores without a new minimum, and `steps` is the most it runs. A fit then retrains on every
/// row for the steps chosen (see [`crate::model::Synthesizer::fine_tune`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Share of the rows held out, in (0, 0.5] (at most [`MAX_HELD_OUT_ROWS`] rows).
    pub holdout: f64,
    /// Steps between validation scores.
    pub every: usize,
    /// Scores without a new minimum before training stops.
    pub patience: usize,
}

/// The most rows early stopping holds out (scored in one batch, whose memory grows with it):
/// beyond a few thousand the validation loss is as steady as it gets.
pub const MAX_HELD_OUT_ROWS: usize = 4096;

/// Draws of (t, ε) per held-out row in each validation score: with a few hundred rows, one
/// draw's noise would hide the trend.
pub const VALIDATION_REPEATS: usize = 8;

/// The validation loss at each score and the step with the least.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ValidationRecord {
    pub held_out_rows: usize,
    /// (step, validation loss); step 0 is the starting weights.
    pub history: Vec<(usize, f64)>,
    pub best_step: usize,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            steps: 4000,
            batch_size: 1024,
            lr: 2e-3,
            weight_decay: 1e-4,
            ema_rate: 0.999,
            early_stopping: None,
            trainable: Trainable::All,
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

/// Stream of the Poisson sampling draws, apart from the noise streams (the step number).
const SAMPLING_STREAM: u64 = 1 << 63;

struct DpState {
    cfg: DpConfig,
    selected: Vec<u32>,
}

/// One shard of a batch (see [`Backend::shard_rows`]): its rows' buffers and inputs. Its
/// row-local work runs on one thread; the parameter gradients then sum the shards in order.
struct Shard<B: Backend> {
    ws: Workspace<B>,
    x0: B::Buf,
    eps: B::Buf,
    row_loss: B::Buf,
    idx_buf: B::Buf,
    /// DP: each group's squared gradient norm before clipping (written by the clipping pass).
    sq: B::Buf,
    /// Row indices into the data and timesteps, as values.
    idx_host: Vec<f32>,
    t_host: Vec<f32>,
    /// The shard's rows, and the number of its first row in the random streams.
    rows: usize,
    row0: u64,
}

/// How many shards `groups` groups of `k` rows split into: the nearest whole number to
/// rows / `shard_rows`, at least one (so two threads share 192–319 rows of 128-row shards,
/// where rounding up would leave one thread a third shard of a few rows).
fn shard_count(groups: usize, k: usize, shard_rows: usize) -> usize {
    ((groups * k + shard_rows / 2) / shard_rows.max(1)).clamp(1, groups.max(1))
}

/// Shard `i` of `n`: its groups `g0..g1` of `groups` (sizes differ by at most one).
fn shard_groups(groups: usize, n: usize, i: usize) -> (usize, usize) {
    (groups * i / n, groups * (i + 1) / n)
}

/// The rows each shard needs for any chunk of `min_groups..=max_groups` groups of `k` rows:
/// a shard is as large as the largest share it can get.
fn shard_capacities(
    min_groups: usize,
    max_groups: usize,
    k: usize,
    shard_rows: usize,
) -> Vec<usize> {
    let mut caps = vec![0; shard_count(max_groups, k, shard_rows)];
    for g in min_groups.max(1)..=max_groups {
        let n = shard_count(g, k, shard_rows);
        caps[n - 1] = caps[n - 1].max(g.div_ceil(n) * k);
    }
    // Shard i serves every chunk that has more than i shards.
    for i in (0..caps.len().saturating_sub(1)).rev() {
        caps[i] = caps[i].max(caps[i + 1]);
    }
    caps
}

/// What every shard of a step reads.
struct StepInputs<'c, B: DiffusionOps> {
    be: &'c B,
    net: &'c Denoiser,
    layout: &'c Layout,
    sched: &'c Schedule,
    all: &'c B::Buf,
    labels_all: &'c B::Buf,
    params: &'c B::Buf,
    seed: u64,
    stream: u64,
    weights: LossWeights,
    /// DP: draws per row and the clipping norm.
    clip: Option<(usize, f64)>,
    /// The parameters trained (a clipped norm counts theirs only).
    set: Trainable,
}

impl<B: DiffusionOps> Shard<B> {
    fn new(be: &B, net: &Denoiser, layout: &Layout, sched: &Schedule, cap: usize) -> Result<Self> {
        let mut ws = net.workspace(be, cap)?;
        net.set_time_table(be, &mut ws, sched.steps)?;
        Ok(Shard {
            ws,
            x0: be.alloc(cap * layout.width())?,
            eps: be.alloc(cap * layout.n_num.max(1))?,
            row_loss: be.alloc(cap)?,
            idx_buf: be.alloc(cap)?,
            sq: be.alloc(cap)?,
            idx_host: vec![0f32; cap],
            t_host: vec![0f32; cap],
            rows: 0,
            row0: 0,
        })
    }

    /// The shard's row-local work: gathers its rows and labels, noises them, runs the
    /// denoiser, writes the loss gradient into `ws.dout` and the row losses into `row_loss`,
    /// runs the backward pass down to every layer's G, and under DP clips them.
    fn run(&mut self, cx: &StepInputs<'_, B>) -> Result<()> {
        let (be, net, layout) = (cx.be, cx.net, cx.layout);
        let rows = self.rows;
        let ws = &mut self.ws;
        let w = layout.width();
        be.upload(&mut self.idx_buf, 0, &self.idx_host[..rows])?;
        be.upload(&mut ws.t, 0, &self.t_host[..rows])?;
        be.gather_rows(cx.all, 0, &self.idx_buf, rows, w, &mut self.x0)?;
        if net.embed.is_some() {
            be.gather_rows(cx.labels_all, 0, &self.idx_buf, rows, 1, &mut ws.y)?;
        }
        be.q_sample(
            layout,
            cx.sched,
            &self.x0,
            &ws.t,
            rows,
            cx.seed,
            cx.stream,
            self.row0,
            &mut ws.x,
            &mut self.eps,
        )?;
        net.forward(be, cx.params, ws, rows)?;
        be.loss_grad(
            layout,
            cx.sched,
            &ws.out,
            &self.x0,
            &ws.x,
            &self.eps,
            &ws.t,
            rows,
            cx.weights,
            &mut ws.dout,
            &mut self.row_loss,
        )?;
        net.backward_data(be, cx.params, ws, rows)?;
        if let Some((k, max_norm)) = cx.clip {
            net.clip_output_grads(be, ws, rows, k, max_norm, &mut self.sq, cx.set)?;
        }
        Ok(())
    }
}

/// Bytes a training run of `net` on `rows` encoded rows with `batch`-row steps and a
/// `timesteps`-step diffusion needs, about: the parameters with their gradients, moments, EMA
/// and host copies, the encoded rows, and every shard's workspace (the time table included).
pub fn memory_estimate(net: &Denoiser, rows: usize, batch: usize, timesteps: usize) -> u128 {
    let c = &net.config;
    let (p, rows, batch) = (
        net.n_params as u128,
        rows as u128,
        batch.min(rows.max(1)) as u128,
    );
    let per_row = (5 * c.d_in + 8 * c.dim_t + 2 * c.layers.iter().sum::<usize>() + 8) as u128;
    let shards = batch.div_ceil(128) + 1;
    let floats = 9 * p
        + rows * (c.d_in as u128 + 2)
        + batch * per_row
        + shards * timesteps as u128 * c.dim_t as u128;
    4 * floats
}

/// What training produces.
#[derive(Debug, Clone)]
pub struct Trained {
    /// The last parameters (sampling uses the EMA; tests compare both).
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub params: Vec<f32>,
    pub ema: Vec<f32>,
    /// (step, mean loss over the window ending at that step).
    pub loss_history: Vec<(usize, f64)>,
    /// With early stopping: the validation scores (the EMA returned is the best one's).
    pub validation: Option<ValidationRecord>,
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
    shards: Vec<Shard<B>>,
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
    dp: Option<DpState>,
    /// The ranges of the parameter buffer that train (all of it, or a fine-tuning's set).
    trained: Vec<std::ops::Range<usize>>,
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
        let labels: Vec<f32> = data
            .labels
            .as_ref()
            .map_or_else(Vec::new, |l| l.iter().map(|&c| c as f32).collect());
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let noise_seed = rng.next_u64();
        // Non-private batches always have `batch` rows.
        let shards = shard_capacities(batch, batch, 1, be.shard_rows().unwrap_or(batch))
            .into_iter()
            .map(|cap| Shard::new(be, net, layout, sched, cap))
            .collect::<Result<_>>()?;
        Ok(Trainer {
            be,
            net,
            layout,
            sched,
            cfg: cfg.clone(),
            n,
            batch,
            all: be_upload(be, &data.x)?,
            labels_all: be_upload(be, &labels)?,
            shards,
            params: be_upload(be, init)?,
            ema: be_upload(be, init)?,
            grads: be.alloc(net.n_params)?,
            m: be.alloc(net.n_params)?,
            v: be.alloc(net.n_params)?,
            rng,
            perm: (0..n as u32).collect(),
            cursor: n, // forces a shuffle before the first batch
            idx_host: vec![0f32; batch],
            t_host: vec![0f32; batch],
            loss_host: vec![0f32; batch],
            weights: LossWeights::new(layout, batch),
            noise_seed,
            dp: None,
            trained: net.trained_ranges(cfg.trainable),
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
        // Shards hold whole groups of draws.
        let (be, net, k) = (self.be, self.net, cfg.augment);
        let per = be.shard_rows().unwrap_or(self.batch);
        self.shards = shard_capacities(1, self.batch / k, k, per)
            .into_iter()
            .map(|cap| Shard::new(be, net, self.layout, self.sched, cap))
            .collect::<Result<_>>()?;
        self.dp = Some(DpState {
            selected: Vec::with_capacity((cfg.q * self.n as f64 * 1.5) as usize + 16),
            cfg,
        });
        Ok(())
    }

    /// The rows sampled at `step` under DP (Poisson sampling with the mechanism's key).
    pub fn poisson_sample(key: &[u8; 32], q: f64, n: usize, step: usize, out: &mut Vec<u32>) {
        let mut rng = crate::csprng::KeyStream::new(key, SAMPLING_STREAM | step as u64, 0, false);
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
            be.fill(&mut self.grads, 0, net.n_params, 0.0)?;
        }
        let (mut loss_sum, mut draws) = (0.0f64, 0usize);
        for (c, chunk) in dp.selected.chunks(per_chunk.max(1)).enumerate() {
            let rows = chunk.len() * k;
            for (j, &r) in chunk.iter().enumerate() {
                self.idx_host[j * k..(j + 1) * k]
                    .iter_mut()
                    .for_each(|v| *v = r as f32);
            }
            let stream = ((step as u64) << 24) | c as u64;
            let active = self.run_shards(rows, stream, weights, Some(&dp.cfg))?;
            // The first chunk overwrites the gradient, later ones add to it.
            let (l, n) = self.sum_shards(active, c > 0)?;
            loss_sum += l;
            draws += n;
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
        )?;
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

    /// For the first `rows` batch rows (indices already in `idx_host`; under DP, groups of
    /// `augment` draws): draws their timesteps in row order, deals whole groups out to shards
    /// ([`shard_count`]) and runs every shard's row-local work on `stream` ([`Shard::run`]).
    /// Returns the number of shards used.
    fn run_shards(
        &mut self,
        rows: usize,
        stream: u64,
        weights: LossWeights,
        dp: Option<&DpConfig>,
    ) -> Result<usize> {
        let steps = self.sched.steps as u64;
        for tv in self.t_host[..rows].iter_mut() {
            *tv = (self.rng.next_u64() % steps) as f32;
        }
        let k = dp.map_or(1, |d| d.augment);
        let groups = rows / k;
        let per = self.be.shard_rows().unwrap_or(self.batch);
        let active = shard_count(groups, k, per).min(self.shards.len());
        for (i, sh) in self.shards[..active].iter_mut().enumerate() {
            let (g0, g1) = shard_groups(groups, active, i);
            let (start, end) = (g0 * k, g1 * k);
            sh.idx_host[..end - start].copy_from_slice(&self.idx_host[start..end]);
            sh.t_host[..end - start].copy_from_slice(&self.t_host[start..end]);
            (sh.rows, sh.row0) = (end - start, start as u64);
        }
        let inputs = StepInputs {
            be: self.be,
            net: self.net,
            layout: self.layout,
            sched: self.sched,
            all: &self.all,
            labels_all: &self.labels_all,
            params: &self.params,
            seed: self.noise_seed,
            stream,
            weights,
            clip: dp.map(|d| (d.augment, d.max_grad_norm)),
            set: self.cfg.trainable,
        };
        self.be
            .for_each_shard(&mut self.shards[..active], &|sh| sh.run(&inputs))?;
        Ok(active)
    }

    /// The parameter gradients of the first `active` shards, summed in shard order into
    /// `grads` (overwriting it unless `accumulate`); returns the sum of their row losses and
    /// their number of rows.
    fn sum_shards(&mut self, active: usize, accumulate: bool) -> Result<(f64, usize)> {
        let (be, net) = (self.be, self.net);
        let shards = &self.shards[..active];
        let parts: Vec<_> = shards.iter().map(|sh| (&sh.ws, sh.rows)).collect();
        net.backward_params_of(be, &mut self.grads, &parts, accumulate, self.cfg.trainable)?;
        let (mut loss, mut rows) = (0.0f64, 0usize);
        for sh in shards {
            be.download(&sh.row_loss, 0, &mut self.loss_host[..sh.rows])?;
            loss += self.loss_host[..sh.rows]
                .iter()
                .map(|&x| x as f64)
                .sum::<f64>();
            rows += sh.rows;
        }
        Ok((loss, rows))
    }

    fn adam(&mut self, step: usize, noise: Option<GradNoise>) -> Result<()> {
        let lr = self.cfg.lr * (1.0 - step as f64 / self.cfg.steps as f64);
        // EMA warm-up: early on, a fixed rate of 0.999 would leave the sampling weights mostly
        // at their random initial values (0.999^300 ≈ 0.74), a blend that samples badly.
        let ema_rate = self
            .cfg
            .ema_rate
            .min((1.0 + step as f64) / (10.0 + step as f64));
        // Each trained range draws its noise on a stream of its own (range 0 on the step's,
        // so a full training's noise is the same as before partial sets existed).
        for (r, range) in self.trained.iter().enumerate() {
            let s = AdamStep {
                lr,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: self.cfg.weight_decay,
                t: step as u64 + 1,
                ema_rate,
                noise: noise.map(|n| GradNoise {
                    stream: n.stream | ((r as u64) << 32),
                    ..n
                }),
            };
            self.be.adamw(
                &mut self.params,
                &mut self.grads,
                &mut self.m,
                &mut self.v,
                &mut self.ema,
                range.clone(),
                s,
            )?;
        }
        Ok(())
    }

    /// One optimisation step (0-based `step` sets the learning rate and the noise stream);
    /// returns the batch's mean loss.
    pub fn step(&mut self, step: usize) -> Result<f64> {
        if self.dp.is_some() {
            return self.step_dp(step);
        }

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
        let active = self.run_shards(batch, step as u64, weights, None)?;
        let (loss, _) = self.sum_shards(active, false)?;
        self.adam(step, None)?;
        let l = loss / batch as f64;
        if !l.is_finite() {
            return Err(Error::numerical(format!(
                "training diverged at step {} (loss {l}); try a smaller learning rate",
                step + 1
            )));
        }
        Ok(l)
    }

    /// The mean loss of `params` on every row of this trainer's data, over `repeats` draws of
    /// (t, ε) per row fixed by `seed`: the same seed gives the same draws whatever the
    /// parameters, so losses of different parameters compare pairwise (the validation loss of
    /// early stopping). The trainer's own random streams are left as they were; its batch
    /// must hold every row (`batch_size` ≥ rows).
    pub fn eval_loss(&mut self, params: &[f32], repeats: usize, seed: u64) -> Result<f64> {
        if self.batch != self.n || params.len() != self.net.n_params {
            return Err(Error::invalid(
                "the evaluation's batch must hold all its rows and the parameters must match the network",
            ));
        }
        self.be.upload(&mut self.params, 0, params)?;
        let rng = std::mem::replace(&mut self.rng, Xoshiro256PlusPlus::seed_from_u64(seed));
        let noise_seed = std::mem::replace(&mut self.noise_seed, seed ^ 0xE7A1_0000_0000_0001);
        let total = self.loss_draws(repeats);
        self.rng = rng;
        self.noise_seed = noise_seed;
        Ok(total? / (repeats.max(1) * self.n) as f64)
    }

    /// The summed row losses of `repeats` passes over every row (see [`Trainer::eval_loss`]).
    fn loss_draws(&mut self, repeats: usize) -> Result<f64> {
        let mut total = 0.0f64;
        for rep in 0..repeats {
            for (d, i) in self.idx_host.iter_mut().zip(0u32..) {
                *d = i as f32;
            }
            let weights = self.weights;
            let active = self.run_shards(self.n, rep as u64, weights, None)?;
            for sh in &self.shards[..active] {
                self.be
                    .download(&sh.row_loss, 0, &mut self.loss_host[..sh.rows])?;
                total += self.loss_host[..sh.rows]
                    .iter()
                    .map(|&x| x as f64)
                    .sum::<f64>();
            }
        }
        Ok(total)
    }

    /// The EMA parameters now (the sampling weights).
    pub fn ema_now(&self) -> Result<Vec<f32>> {
        let mut e = vec![0f32; self.net.n_params];
        self.be.download(&self.ema, 0, &mut e)?;
        Ok(e)
    }

    /// The gradient the last step applied (under DP: the noisy, clipped mean — what DP-SGD
    /// releases each step; used by the privacy audit).
    pub fn last_gradient(&self) -> Result<Vec<f32>> {
        let mut g = vec![0f32; self.net.n_params];
        self.be.download(&self.grads, 0, &mut g)?;
        Ok(g)
    }

    /// The trained parameters and their EMA.
    pub fn finish(self) -> Result<(Vec<f32>, Vec<f32>)> {
        let mut p = vec![0f32; self.net.n_params];
        let mut e = vec![0f32; self.net.n_params];
        self.be.download(&self.params, 0, &mut p)?;
        self.be.download(&self.ema, 0, &mut e)?;
        Ok((p, e))
    }
}

/// Early stopping's state: the held-out rows' scorer, the curve and the best weights so far.
struct EarlyStop<'a, B: DiffusionOps> {
    scorer: Trainer<'a, B>,
    cfg: EarlyStopping,
    seed: u64,
    history: Vec<(usize, f64)>,
    best_loss: f64,
    best_step: usize,
    best_ema: Vec<f32>,
    since_best: usize,
}

impl<'a, B: DiffusionOps> EarlyStop<'a, B> {
    /// A scorer of the held-out rows `v` in one batch, and the starting weights' score.
    #[allow(clippy::too_many_arguments)]
    fn new(
        be: &'a B,
        net: &'a Denoiser,
        layout: &'a Layout,
        sched: &'a Schedule,
        v: &Encoded,
        cfg: &OptimConfig,
        es: EarlyStopping,
        init: &[f32],
        seed: u64,
    ) -> Result<Self> {
        let vcfg = OptimConfig {
            batch_size: v.n,
            early_stopping: None,
            ..cfg.clone()
        };
        let mut scorer = Trainer::new(be, net, layout, sched, v, &vcfg, init, seed ^ 0x7A11)?;
        let first = scorer.eval_loss(init, VALIDATION_REPEATS, seed ^ 0x7A12)?;
        Ok(EarlyStop {
            scorer,
            cfg: es,
            seed: seed ^ 0x7A12,
            history: vec![(0, first)],
            best_loss: first,
            best_step: 0,
            best_ema: init.to_vec(),
            since_best: 0,
        })
    }

    /// Scores the trainer's EMA weights after `step` steps; true when training should stop.
    fn stop_after(&mut self, step: usize, trainer: &Trainer<'_, B>) -> Result<bool> {
        let ema = trainer.ema_now()?;
        let l = self.scorer.eval_loss(&ema, VALIDATION_REPEATS, self.seed)?;
        self.history.push((step, l));
        if l < self.best_loss {
            (self.best_loss, self.best_step, self.best_ema) = (l, step, ema);
            self.since_best = 0;
            return Ok(false);
        }
        self.since_best += 1;
        Ok(self.since_best >= self.cfg.patience.max(1))
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
    validation: Option<&Encoded>,
    progress: ProgressFn,
) -> Result<Trained> {
    let mut trainer = Trainer::new(be, net, layout, sched, data, cfg, init, seed)?;
    if let Some(dp) = dp {
        trainer.enable_dp(dp)?;
    }
    // The held-out rows, scored in one batch with fixed draws.
    let mut check = match (validation, &cfg.early_stopping) {
        (Some(v), Some(es)) => Some(EarlyStop::new(
            be, net, layout, sched, v, cfg, *es, init, seed,
        )?),
        (None, None) => None,
        _ => {
            return Err(Error::invalid(
                "early stopping needs held-out rows, and held-out rows need early stopping",
            ))
        }
    };
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
        if let Some(es) = &mut check {
            if (step + 1) % es.cfg.every.max(1) == 0 && es.stop_after(step + 1, &trainer)? {
                break;
            }
        }
    }
    let (params, mut ema) = trainer.finish()?;
    let validation = check.map(|es| {
        ema = es.best_ema;
        ValidationRecord {
            held_out_rows: es.scorer.n,
            history: es.history,
            best_step: es.best_step,
        }
    });
    Ok(Trained {
        params,
        ema,
        loss_history: history,
        validation,
    })
}

fn be_upload<B: Backend<Elem = f32>>(be: &B, host: &[f32]) -> Result<B::Buf> {
    let mut b = be.alloc(host.len())?;
    be.upload(&mut b, 0, host)?;
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every chunk size fits the shards allocated for it, the shards cover its groups exactly
    /// and in order, and their sizes differ by at most one group.
    #[test]
    fn shards_cover_every_chunk_and_fit_their_buffers() {
        for (min, max, k, per) in [
            (1, 320, 1, 128),
            (1, 150, 3, 128),
            (256, 256, 1, 128),
            (1, 40, 2, 7),
        ] {
            let caps = shard_capacities(min, max, k, per);
            for g in min..=max {
                let n = shard_count(g, k, per);
                assert!(
                    n >= 1 && n <= caps.len(),
                    "{g} groups: {n} shards of {}",
                    caps.len()
                );
                let mut next = 0;
                let sizes: Vec<usize> = (0..n)
                    .map(|i| {
                        let (g0, g1) = shard_groups(g, n, i);
                        assert_eq!(g0, next);
                        next = g1;
                        assert!((g1 - g0) * k <= caps[i], "{g} groups: shard {i}");
                        g1 - g0
                    })
                    .collect();
                assert_eq!(next, g);
                let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
                assert!(hi - lo <= 1 && *lo >= 1, "{g} groups: {sizes:?}");
            }
        }
        // A fixed batch needs no more than its even share; 192–319 rows make two shards.
        assert_eq!(shard_capacities(256, 256, 1, 128), [128, 128]);
        assert_eq!(shard_count(191, 1, 128), 1);
        assert_eq!(shard_count(192, 1, 128), 2);
        assert_eq!(shard_count(319, 1, 128), 2);
        assert_eq!(shard_count(320, 1, 128), 3);
    }
}

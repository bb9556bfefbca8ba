//! Training: AdamW with linear learning-rate decay to zero and an EMA of the weights (the EMA
//! weights are the ones used for sampling), on minibatches drawn by per-epoch shuffling.
//!
//! Every buffer a step touches is allocated once before the first step.

use rand_xoshiro::rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::backend::{AdamStep, Backend, DiffusionOps};
use crate::diffusion::{Layout, LossWeights, Schedule};
use crate::encode::Encoded;
use crate::error::{Error, Result};
use crate::nn::Denoiser;

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

/// Trains `net` from `init` on encoded rows.
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
    progress: ProgressFn,
) -> Result<Trained> {
    let n = data.n;
    let w = layout.width();
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
    let batch = cfg.batch_size.min(n);
    let all = be_upload(be, &data.x);
    let labels_all: Vec<f32> = data
        .labels
        .as_ref()
        .map_or_else(Vec::new, |l| l.iter().map(|&c| c as f32).collect());
    let labels_all = be_upload(be, &labels_all);
    let mut ws = net.workspace(be, batch);
    let mut x0 = be.alloc(batch * w);
    let mut eps = be.alloc(batch * layout.n_num.max(1));
    let mut row_loss = be.alloc(batch);
    let mut idx_buf = be.alloc(batch);
    let mut params = be_upload(be, init);
    let mut ema = be_upload(be, init);
    let mut grads = be.alloc(net.n_params);
    let mut m = be.alloc(net.n_params);
    let mut v = be.alloc(net.n_params);

    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut perm: Vec<u32> = (0..n as u32).collect();
    let mut cursor = n; // forces a shuffle before the first batch
    let mut idx_host = vec![0f32; batch];
    let mut t_host = vec![0f32; batch];
    let mut loss_host = vec![0f32; batch];
    let weights = LossWeights::new(layout, batch);
    let window = (cfg.steps / 100).max(1);
    let (mut win_sum, mut win_n) = (0.0f64, 0usize);
    let mut history = Vec::new();
    let mut last_loss = f64::NAN;
    let noise_seed = rng.next_u64();
    for step in 0..cfg.steps {
        if cursor + batch > n {
            for i in (1..n).rev() {
                let j = (rng.next_u64() % (i as u64 + 1)) as usize;
                perm.swap(i, j);
            }
            cursor = 0;
        }
        for (d, &s) in idx_host.iter_mut().zip(&perm[cursor..cursor + batch]) {
            *d = s as f32;
        }
        cursor += batch;
        for tv in t_host.iter_mut() {
            *tv = (rng.next_u64() % sched.steps as u64) as f32;
        }
        be.upload(&mut idx_buf, 0, &idx_host);
        be.upload(&mut ws.t, 0, &t_host);
        be.gather_rows(&all, 0, &idx_buf, batch, w, &mut x0);
        if net.embed.is_some() {
            be.gather_rows(&labels_all, 0, &idx_buf, batch, 1, &mut ws.y);
        }
        be.q_sample(
            layout,
            sched,
            &x0,
            &ws.t,
            batch,
            noise_seed,
            step as u64,
            &mut ws.x,
            &mut eps,
        );
        net.forward(be, &params, &mut ws, batch);
        be.loss_grad(
            layout,
            sched,
            &ws.out,
            &x0,
            &ws.x,
            &eps,
            &ws.t,
            batch,
            weights,
            &mut ws.dout,
            &mut row_loss,
        );
        net.backward(be, &params, &mut grads, &mut ws, batch, false);
        let lr = cfg.lr * (1.0 - step as f64 / cfg.steps as f64);
        // EMA warm-up: early on, a fixed rate of 0.999 would leave the sampling weights mostly
        // at their random initial values (0.999^300 ≈ 0.74), a blend that samples badly.
        let ema_rate = cfg.ema_rate.min((1.0 + step as f64) / (10.0 + step as f64));
        let s = AdamStep {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: cfg.weight_decay,
            t: step as u64 + 1,
            ema_rate,
        };
        be.adamw(
            &mut params,
            &grads,
            &mut m,
            &mut v,
            &mut ema,
            net.n_params,
            s,
        );

        be.download(&row_loss, 0, &mut loss_host);
        let l = loss_host.iter().map(|&x| x as f64).sum::<f64>() / batch as f64;
        if !l.is_finite() {
            return Err(Error::numerical(format!(
                "training diverged at step {} (loss {l}); try a smaller learning rate",
                step + 1
            )));
        }
        win_sum += l;
        win_n += 1;
        if win_n == window || step + 1 == cfg.steps {
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
    let mut out_params = vec![0f32; net.n_params];
    let mut out_ema = vec![0f32; net.n_params];
    be.download(&params, 0, &mut out_params);
    be.download(&ema, 0, &mut out_ema);
    Ok(Trained {
        params: out_params,
        ema: out_ema,
        loss_history: history,
    })
}

fn be_upload<B: Backend<Elem = f32>>(be: &B, host: &[f32]) -> B::Buf {
    let mut b = be.alloc(host.len());
    be.upload(&mut b, 0, host);
    b
}

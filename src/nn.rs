//! The denoiser of TabDDPM (MLPDiffusion): h = Linear(d_in → d_t)(x) + MLP_t(sinusoid(t))
//! [+ SiLU(Embed(y))], then [Linear → ReLU] blocks, then a linear head back to d_in.
//!
//! All parameters live in one flat buffer (weights stored out×in, as PyTorch does), so the
//! optimizer, the EMA and DP noise are single passes. The backward pass keeps, for every linear
//! layer, its input A and output gradient G in the workspace; [`Denoiser::linear_layers`] says
//! where they are, for per-sample gradient norms.

use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::backend::{Act, Backend, Gemm, LinearGrad, NormTerm, Scalar};
use crate::diffusion::{fill_normal, uniform};

/// Shape of a denoiser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DenoiserConfig {
    /// Width of an encoded row (input and output).
    pub d_in: usize,
    /// Width of the time embedding and of the first hidden representation.
    pub dim_t: usize,
    /// Widths of the [Linear → ReLU] blocks.
    pub layers: Vec<usize>,
    /// Number of label classes (0: unconditional).
    pub n_classes: usize,
}

/// A weight matrix and its bias inside the flat parameter buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinearParams {
    pub w: usize,
    pub b: usize,
    pub fan_in: usize,
    pub fan_out: usize,
}

/// Which workspace buffer holds a matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    X,
    Tfe,
    TAct,
    H,
    DH,
    DT,
    Act(usize),
    DAct(usize),
    DOut,
}

/// A linear layer with where its input A and output gradient G are kept after backward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinearLayer {
    pub params: LinearParams,
    pub a: Slot,
    pub g: Slot,
}

/// Which of a denoiser's parameters a training updates; the others stay as they are
/// (bit-identical), receive no gradient and, under DP, no noise. A partial set makes private
/// fine-tuning work: DP-SGD's noise has the same standard deviation on every trained
/// coordinate, so its norm grows with the square root of their number, while the clipped
/// gradient's norm is bounded whatever that number; with a few percent of the parameters,
/// the signal stands far above the noise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String", into = "String")]
pub enum Trainable {
    /// Every parameter.
    #[default]
    All,
    /// The output head (weights and bias), every other layer's bias and the label embedding:
    /// the pre-trained features stay fixed and what maps them to rows is re-learned.
    Head,
    /// Every bias and the label embedding (BitFit): per-layer shifts only.
    Biases,
}

impl Trainable {
    /// Every set, in the order of [`Trainable::name`]'s list in messages.
    pub const ALL: [Trainable; 3] = [Trainable::All, Trainable::Head, Trainable::Biases];

    /// The set's name in requests and records.
    pub fn name(self) -> &'static str {
        match self {
            Trainable::All => "all",
            Trainable::Head => "head",
            Trainable::Biases => "biases",
        }
    }

    /// What the set trains, for people.
    pub fn describe(self) -> &'static str {
        match self {
            Trainable::All => "every parameter",
            Trainable::Head => "the output head, every bias and the label embedding",
            Trainable::Biases => "every bias and the label embedding",
        }
    }

    /// The set named `s`; the error lists the names.
    pub fn parse(s: &str) -> Result<Trainable, String> {
        Trainable::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown set of trainable parameters '{s}' (choose one of: {})",
                    Trainable::ALL.map(Trainable::name).join(", ")
                )
            })
    }
}

impl TryFrom<String> for Trainable {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Trainable::parse(&s)
    }
}

impl From<Trainable> for String {
    fn from(t: Trainable) -> String {
        t.name().to_string()
    }
}

/// What a training updates of one linear layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerTraining {
    pub weight: bool,
    pub bias: bool,
}

/// The denoiser's parameter layout and its passes.
#[derive(Debug, Clone, PartialEq)]
pub struct Denoiser {
    pub config: DenoiserConfig,
    pub proj: LinearParams,
    pub time1: LinearParams,
    pub time2: LinearParams,
    /// Offset of the label embedding table (n_classes × dim_t).
    pub embed: Option<usize>,
    pub blocks: Vec<LinearParams>,
    pub head: LinearParams,
    pub n_params: usize,
}

/// Activations and gradients for up to `capacity` rows, owned by the backend.
pub struct Workspace<B: Backend> {
    pub capacity: usize,
    /// Input rows (capacity × d_in), filled by the caller.
    pub x: B::Buf,
    /// Timestep of each row, as a value.
    pub t: B::Buf,
    /// Label of each row, as a value.
    pub y: B::Buf,
    pub tfe: B::Buf,
    pub t_pre: B::Buf,
    pub t_act: B::Buf,
    pub h: B::Buf,
    pub emb_pre: B::Buf,
    pub acts: Vec<B::Buf>,
    pub out: B::Buf,
    pub dout: B::Buf,
    pub dacts: Vec<B::Buf>,
    pub dh: B::Buf,
    pub dt: B::Buf,
    pub demb: B::Buf,
    pub dx: B::Buf,
    /// Sinusoidal embeddings of timesteps 0..T, when set: the forward pass then gathers rows
    /// instead of computing sines and cosines.
    pub time_table: Option<B::Buf>,
}

impl Denoiser {
    pub fn new(config: DenoiserConfig) -> Denoiser {
        let mut off = 0;
        let mut lin = |fan_in: usize, fan_out: usize| {
            let p = LinearParams {
                w: off,
                b: off + fan_in * fan_out,
                fan_in,
                fan_out,
            };
            off += fan_in * fan_out + fan_out;
            p
        };
        let dt = config.dim_t;
        let proj = lin(config.d_in, dt);
        let time1 = lin(dt, dt);
        let time2 = lin(dt, dt);
        let mut prev = dt;
        let mut blocks = Vec::new();
        for &w in &config.layers {
            blocks.push(lin(prev, w));
            prev = w;
        }
        let head = lin(prev, config.d_in);
        let embed = (config.n_classes > 0).then(|| {
            let e = off;
            off += config.n_classes * dt;
            e
        });
        Denoiser {
            config,
            proj,
            time1,
            time2,
            embed,
            blocks,
            head,
            n_params: off,
        }
    }

    /// Every linear layer, with where its A and G are kept (the embedding is not linear here:
    /// its per-row gradient is a row of the SiLU-scaled dh, kept in `demb`).
    pub fn linear_layers(&self) -> Vec<LinearLayer> {
        let mut v = vec![
            LinearLayer {
                params: self.proj,
                a: Slot::X,
                g: Slot::DH,
            },
            LinearLayer {
                params: self.time1,
                a: Slot::Tfe,
                g: Slot::DT,
            },
            LinearLayer {
                params: self.time2,
                a: Slot::TAct,
                g: Slot::DH,
            },
        ];
        for (i, &p) in self.blocks.iter().enumerate() {
            let a = if i == 0 { Slot::H } else { Slot::Act(i - 1) };
            v.push(LinearLayer {
                params: p,
                a,
                g: Slot::DAct(i),
            });
        }
        let a = if self.blocks.is_empty() {
            Slot::H
        } else {
            Slot::Act(self.blocks.len() - 1)
        };
        v.push(LinearLayer {
            params: self.head,
            a,
            g: Slot::DOut,
        });
        v
    }

    /// What `set` trains of linear layer `i` of [`Denoiser::linear_layers`].
    pub fn layer_training(&self, set: Trainable, i: usize) -> LayerTraining {
        let head = i == self.blocks.len() + 3;
        LayerTraining {
            weight: match set {
                Trainable::All => true,
                Trainable::Head => head,
                Trainable::Biases => false,
            },
            bias: true,
        }
    }

    /// Whether `set` trains the label embedding (every set does; it is small and carries the
    /// class-specific shift).
    pub fn embedding_trained(&self, _set: Trainable) -> bool {
        self.embed.is_some()
    }

    /// The ranges of the flat parameter buffer that `set` trains, in increasing order and
    /// merged where they touch.
    pub fn trained_ranges(&self, set: Trainable) -> Vec<std::ops::Range<usize>> {
        let mut v: Vec<std::ops::Range<usize>> = Vec::new();
        for (i, l) in self.linear_layers().iter().enumerate() {
            let t = self.layer_training(set, i);
            let p = l.params;
            if t.weight {
                v.push(p.w..p.b);
            }
            if t.bias {
                v.push(p.b..p.b + p.fan_out);
            }
        }
        if let (Some(e), true) = (self.embed, self.embedding_trained(set)) {
            v.push(e..e + self.config.n_classes * self.config.dim_t);
        }
        v.sort_by_key(|r| r.start);
        let mut merged: Vec<std::ops::Range<usize>> = Vec::new();
        for r in v {
            match merged.last_mut() {
                Some(last) if last.end == r.start => last.end = r.end,
                _ => merged.push(r),
            }
        }
        merged
    }

    /// How many parameters `set` trains.
    pub fn trained_count(&self, set: Trainable) -> usize {
        self.trained_ranges(set).iter().map(|r| r.len()).sum()
    }

    /// Multiply-adds of one forward pass per row (for GFLOP/s figures: ×2 per forward,
    /// ×6 per training step).
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub fn macs_per_row(&self) -> usize {
        self.linear_layers()
            .iter()
            .map(|l| l.params.fan_in * l.params.fan_out)
            .sum()
    }

    /// PyTorch's default initialisation: U(±1/√fan_in) for linear layers, N(0, 1) for the
    /// embedding.
    pub fn init_params(&self, seed: u64) -> Vec<f32> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut p = vec![0f32; self.n_params];
        let mut layers: Vec<LinearParams> = vec![self.proj, self.time1, self.time2];
        layers.extend(&self.blocks);
        layers.push(self.head);
        for l in layers {
            let bound = 1.0 / (l.fan_in as f64).sqrt();
            for v in &mut p[l.w..l.b + l.fan_out] {
                *v = ((2.0 * uniform(&mut rng) - 1.0) * bound) as f32;
            }
        }
        if let Some(e) = self.embed {
            fill_normal(
                &mut rng,
                &mut p[e..e + self.config.n_classes * self.config.dim_t],
            );
        }
        p
    }

    /// Carries `params` of this denoiser over to `grown`, whose encoded row is wider and whose
    /// label may have more classes (an encoder grown by new levels): input position `i` moves
    /// to `moved[i]`; new inputs get zero weights (they change nothing until trained), new
    /// outputs zero weights and the bias given in `new_bias`; new label classes a zero
    /// embedding. Everything else is copied unchanged.
    pub fn transfer(
        &self,
        params: &[f32],
        grown: &Denoiser,
        moved: &[usize],
        new_bias: &[(usize, f32)],
    ) -> Vec<f32> {
        let (c, g) = (&self.config, &grown.config);
        debug_assert_eq!(params.len(), self.n_params);
        debug_assert_eq!(moved.len(), c.d_in);
        let mut p = vec![0f32; grown.n_params];
        // proj: dim_t × d_in, row-major; columns move.
        for o in 0..c.dim_t {
            for (i, &ni) in moved.iter().enumerate() {
                p[grown.proj.w + o * g.d_in + ni] = params[self.proj.w + o * c.d_in + i];
            }
        }
        p[grown.proj.b..grown.proj.b + c.dim_t]
            .copy_from_slice(&params[self.proj.b..self.proj.b + c.dim_t]);
        // Unchanged layers.
        let mut same = vec![(self.time1, grown.time1), (self.time2, grown.time2)];
        same.extend(
            self.blocks
                .iter()
                .copied()
                .zip(grown.blocks.iter().copied()),
        );
        for (a, b) in same {
            let len = a.fan_in * a.fan_out;
            p[b.w..b.w + len].copy_from_slice(&params[a.w..a.w + len]);
            p[b.b..b.b + a.fan_out].copy_from_slice(&params[a.b..a.b + a.fan_out]);
        }
        // head: d_in × width, row-major; rows move.
        let fan_in = self.head.fan_in;
        for (i, &ni) in moved.iter().enumerate() {
            p[grown.head.w + ni * fan_in..grown.head.w + (ni + 1) * fan_in]
                .copy_from_slice(&params[self.head.w + i * fan_in..self.head.w + (i + 1) * fan_in]);
            p[grown.head.b + ni] = params[self.head.b + i];
        }
        for &(ni, b) in new_bias {
            p[grown.head.b + ni] = b;
        }
        // Label embedding: existing classes keep their rows, new ones start at zero.
        if let (Some(e), Some(ne)) = (self.embed, grown.embed) {
            let len = c.n_classes * c.dim_t;
            p[ne..ne + len].copy_from_slice(&params[e..e + len]);
        }
        p
    }

    /// Buffers for up to `capacity` rows.
    pub fn workspace<B: Backend>(
        &self,
        be: &B,
        capacity: usize,
    ) -> crate::error::Result<Workspace<B>> {
        let c = capacity;
        let (d, dt) = (self.config.d_in, self.config.dim_t);
        Ok(Workspace {
            capacity: c,
            x: be.alloc(c * d)?,
            t: be.alloc(c)?,
            y: be.alloc(c)?,
            tfe: be.alloc(c * dt)?,
            t_pre: be.alloc(c * dt)?,
            t_act: be.alloc(c * dt)?,
            h: be.alloc(c * dt)?,
            emb_pre: be.alloc(if self.embed.is_some() { c * dt } else { 0 })?,
            acts: self
                .config
                .layers
                .iter()
                .map(|&w| be.alloc(c * w))
                .collect::<crate::error::Result<_>>()?,
            out: be.alloc(c * d)?,
            dout: be.alloc(c * d)?,
            dacts: self
                .config
                .layers
                .iter()
                .map(|&w| be.alloc(c * w))
                .collect::<crate::error::Result<_>>()?,
            dh: be.alloc(c * dt)?,
            dt: be.alloc(c * dt)?,
            demb: be.alloc(if self.embed.is_some() { c * dt } else { 0 })?,
            dx: be.alloc(c * d)?,
            time_table: None,
        })
    }

    /// Precomputes the time embeddings of timesteps 0..`steps` into the workspace.
    pub fn set_time_table<B: Backend>(
        &self,
        be: &B,
        ws: &mut Workspace<B>,
        steps: usize,
    ) -> crate::error::Result<()> {
        let dt = self.config.dim_t;
        let mut t = be.alloc(steps)?;
        let host: Vec<B::Elem> = (0..steps).map(|i| B::Elem::from_f64(i as f64)).collect();
        be.upload(&mut t, 0, &host)?;
        let mut table = be.alloc(steps * dt)?;
        be.timestep_embedding(&t, steps, dt, &mut table)?;
        ws.time_table = Some(table);
        Ok(())
    }

    /// `out ← denoiser(x, t, y)` for the first `rows` rows of the workspace.
    pub fn forward<B: Backend>(
        &self,
        be: &B,
        params: &B::Buf,
        ws: &mut Workspace<B>,
        rows: usize,
    ) -> crate::error::Result<()> {
        self.forward_impl(be, params, ws, rows, false)?;
        Ok(())
    }

    /// As [`Denoiser::forward`] when every row has the timestep of row 0 (sampling): the time
    /// MLP runs once and its output is added to every row.
    pub fn forward_shared_t<B: Backend>(
        &self,
        be: &B,
        params: &B::Buf,
        ws: &mut Workspace<B>,
        rows: usize,
    ) -> crate::error::Result<()> {
        self.forward_impl(be, params, ws, rows, true)?;
        Ok(())
    }

    fn forward_impl<B: Backend>(
        &self,
        be: &B,
        params: &B::Buf,
        ws: &mut Workspace<B>,
        rows: usize,
        shared_t: bool,
    ) -> crate::error::Result<()> {
        assert!(rows <= ws.capacity, "batch larger than the workspace");
        let dt = self.config.dim_t;
        let t_rows = if shared_t { rows.min(1) } else { rows };
        linear_fwd(be, self.proj, params, &ws.x, &mut ws.h, rows, 0.0)?;
        be.bias_act(
            &mut ws.h,
            rows,
            dt,
            params,
            self.proj.b,
            Act::Identity,
            None,
        )?;
        match &ws.time_table {
            Some(table) => be.gather_rows(table, 0, &ws.t, t_rows, dt, &mut ws.tfe)?,
            None => be.timestep_embedding(&ws.t, t_rows, dt, &mut ws.tfe)?,
        }
        linear_fwd(be, self.time1, params, &ws.tfe, &mut ws.t_pre, t_rows, 0.0)?;
        be.bias_act(
            &mut ws.t_pre,
            t_rows,
            dt,
            params,
            self.time1.b,
            Act::Silu,
            Some(&mut ws.t_act),
        )?;
        if shared_t {
            // The time embedding of the shared step, in row 0 of dt (unused when sampling).
            linear_fwd(be, self.time2, params, &ws.t_act, &mut ws.dt, t_rows, 0.0)?;
            be.bias_act(
                &mut ws.dt,
                t_rows,
                dt,
                params,
                self.time2.b,
                Act::Identity,
                None,
            )?;
            be.bias_act(&mut ws.h, rows, dt, &ws.dt, 0, Act::Identity, None)?;
        } else {
            linear_fwd(be, self.time2, params, &ws.t_act, &mut ws.h, rows, 1.0)?;
            be.bias_act(
                &mut ws.h,
                rows,
                dt,
                params,
                self.time2.b,
                Act::Identity,
                None,
            )?;
        }
        if let Some(e) = self.embed {
            be.gather_rows(params, e, &ws.y, rows, dt, &mut ws.emb_pre)?;
            be.add_act(&ws.emb_pre, &mut ws.h, rows * dt, Act::Silu)?;
        }
        for (i, &l) in self.blocks.iter().enumerate() {
            let (done, rest) = ws.acts.split_at_mut(i);
            let input = if i == 0 { &ws.h } else { &done[i - 1] };
            linear_fwd(be, l, params, input, &mut rest[0], rows, 0.0)?;
            be.bias_act(&mut rest[0], rows, l.fan_out, params, l.b, Act::Relu, None)?;
        }
        let last = ws.acts.last().unwrap_or(&ws.h);
        linear_fwd(be, self.head, params, last, &mut ws.out, rows, 0.0)?;
        be.bias_act(
            &mut ws.out,
            rows,
            self.config.d_in,
            params,
            self.head.b,
            Act::Identity,
            None,
        )?;
        Ok(())
    }

    /// Gradients of Σ dout ⊙ out with respect to every parameter (into `grads`, overwritten)
    /// and, when `input_grad`, with respect to x (into `ws.dx`). Needs the forward pass first;
    /// leaves every layer's G in the workspace.
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        params: &B::Buf,
        grads: &mut B::Buf,
        ws: &mut Workspace<B>,
        rows: usize,
        input_grad: bool,
    ) -> crate::error::Result<()> {
        self.backward_data(be, params, ws, rows)?;
        if input_grad {
            linear_bwd_input(be, self.proj, params, &ws.dh, &mut ws.dx, rows)?;
        }
        self.backward_params(be, grads, ws, rows, false)?;
        Ok(())
    }

    /// The first half of the backward pass: every layer's output gradient G (from `ws.dout`),
    /// without parameter gradients. DP-SGD computes per-sample norms from these and the kept
    /// inputs A, scales G's rows by the clip factors, then calls [`Denoiser::backward_params`].
    pub fn backward_data<B: Backend>(
        &self,
        be: &B,
        params: &B::Buf,
        ws: &mut Workspace<B>,
        rows: usize,
    ) -> crate::error::Result<()> {
        let dt = self.config.dim_t;
        let nb = self.blocks.len();
        {
            let g_in = if nb > 0 {
                &mut ws.dacts[nb - 1]
            } else {
                &mut ws.dh
            };
            linear_bwd_input(be, self.head, params, &ws.dout, g_in, rows)?;
        }
        for i in (0..nb).rev() {
            let l = self.blocks[i];
            be.act_backward(&mut ws.dacts[i], &ws.acts[i], rows * l.fan_out, Act::Relu)?;
            let (lo, hi) = ws.dacts.split_at_mut(i);
            let g_in = if i == 0 { &mut ws.dh } else { &mut lo[i - 1] };
            linear_bwd_input(be, l, params, &hi[0], g_in, rows)?;
        }
        // h = proj(x) + time2(silu(time1(tfe))) + silu(embed[y]).
        linear_bwd_input(be, self.time2, params, &ws.dh, &mut ws.dt, rows)?;
        be.act_backward(&mut ws.dt, &ws.t_pre, rows * dt, Act::Silu)?;
        if self.embed.is_some() {
            be.fill(&mut ws.demb, 0, rows * dt, 0.0)?;
            be.add_act(&ws.dh, &mut ws.demb, rows * dt, Act::Identity)?;
            be.act_backward(&mut ws.demb, &ws.emb_pre, rows * dt, Act::Silu)?;
        }
        Ok(())
    }

    /// The second half: dW = Gᵀ·A and db = Σ G for every linear layer, and the embedding's
    /// rows, from the G's in the workspace — overwriting `grads`, or adding to it.
    pub fn backward_params<B: Backend>(
        &self,
        be: &B,
        grads: &mut B::Buf,
        ws: &Workspace<B>,
        rows: usize,
        accumulate: bool,
    ) -> crate::error::Result<()> {
        self.backward_params_shards(be, grads, &[(ws, rows)], accumulate)?;
        Ok(())
    }

    /// [`Denoiser::backward_params`] over the shards of one batch (`(workspace, rows)`, in
    /// order): every parameter's gradient is summed over the shards in that order.
    pub fn backward_params_shards<B: Backend>(
        &self,
        be: &B,
        grads: &mut B::Buf,
        shards: &[(&Workspace<B>, usize)],
        accumulate: bool,
    ) -> crate::error::Result<()> {
        self.backward_params_of(be, grads, shards, accumulate, Trainable::All)
    }

    /// [`Denoiser::backward_params_shards`] for the parameters `set` trains only: the others'
    /// gradients are neither computed nor written (a frozen weight costs no GEMM).
    pub fn backward_params_of<B: Backend>(
        &self,
        be: &B,
        grads: &mut B::Buf,
        shards: &[(&Workspace<B>, usize)],
        accumulate: bool,
        set: Trainable,
    ) -> crate::error::Result<()> {
        let mut layers: Vec<LinearGrad<'_, B::Buf>> = Vec::new();
        for (i, l) in self.linear_layers().into_iter().enumerate() {
            let t = self.layer_training(set, i);
            if t.weight {
                layers.push(LinearGrad {
                    w: l.params.w,
                    b: l.params.b,
                    fan_in: l.params.fan_in,
                    fan_out: l.params.fan_out,
                    parts: shards
                        .iter()
                        .map(|&(ws, rows)| (self.slot(ws, l.a), self.slot(ws, l.g), rows))
                        .collect(),
                });
            } else if t.bias {
                // The bias alone: Σ_rows G, summed over the shards in order.
                for (s, &(ws, rows)) in shards.iter().enumerate() {
                    let beta = if accumulate || s > 0 { 1.0 } else { 0.0 };
                    be.col_sum(
                        self.slot(ws, l.g),
                        rows,
                        l.params.fan_out,
                        grads,
                        l.params.b,
                        beta,
                    )?;
                }
            }
        }
        be.linear_grads(&layers, grads, accumulate)?;
        if let (Some(e), true) = (self.embed, self.embedding_trained(set)) {
            let dt = self.config.dim_t;
            if !accumulate {
                be.fill(grads, e, self.config.n_classes * dt, 0.0)?;
            }
            for &(ws, rows) in shards {
                be.scatter_add_rows(&ws.demb, &ws.y, rows, dt, grads, e)?;
            }
        }
        Ok(())
    }

    /// DP-SGD's clipping of the G's in the workspace, for groups of `k` consecutive rows (one
    /// private row and its k draws, whose gradient is the sum over the draws — the loss
    /// weights carry the 1/k): each group's squared gradient norm goes to `sq[group]` (per
    /// linear layer Σ_{k,l} (a_k·a_l)(g_k·g_l) for the weight and Σ_{k,l} g_k·g_l for the
    /// bias, and ‖Σ_k demb_k‖² for the embedding row), then its rows of every G are scaled by
    /// min(1, C / (‖·‖ + 1e-6)), so that [`Denoiser::backward_params`] gives the clipped sum.
    /// Only the parameters `set` trains count (what DP-SGD releases of a partial training):
    /// a frozen weight's term is left out, a layer whose bias alone trains counts
    /// Σ_{k,l} g_k·g_l, a frozen embedding nothing.
    #[allow(clippy::too_many_arguments)]
    pub fn clip_output_grads<B: Backend>(
        &self,
        be: &B,
        ws: &mut Workspace<B>,
        rows: usize,
        k: usize,
        max_norm: f64,
        sq: &mut B::Buf,
        set: Trainable,
    ) -> crate::error::Result<()> {
        let (d, dt) = (self.config.d_in, self.config.dim_t);
        let Workspace {
            x,
            tfe,
            t_act,
            h,
            acts,
            dout,
            dacts,
            dh,
            dt: dtb,
            demb,
            ..
        } = ws;
        let nb = self.blocks.len();
        // G buffers, in this order: dout, dacts[0..nb], dh, dt, demb.
        let mut grads: Vec<(&mut B::Buf, usize)> = vec![(dout, d)];
        for (g, l) in dacts.iter_mut().zip(&self.blocks) {
            grads.push((g, l.fan_out));
        }
        grads.push((dh, dt));
        grads.push((dtb, dt));
        let with_embed = self.embed.is_some();
        if with_embed {
            grads.push((demb, dt));
        }
        let g_index = |s: Slot| match s {
            Slot::DOut => 0,
            Slot::DAct(i) => 1 + i,
            Slot::DH => 1 + nb,
            Slot::DT => 2 + nb,
            other => unreachable!("{other:?} is not an output gradient"),
        };
        let a_buf = |s: Slot| -> &B::Buf {
            match s {
                Slot::X => x,
                Slot::Tfe => tfe,
                Slot::TAct => t_act,
                Slot::H => h,
                Slot::Act(i) => &acts[i],
                other => unreachable!("{other:?} is not a layer input"),
            }
        };
        let mut terms: Vec<NormTerm<'_, B::Buf>> = Vec::new();
        for (i, l) in self.linear_layers().into_iter().enumerate() {
            let t = self.layer_training(set, i);
            match (t.weight, t.bias) {
                (true, bias) => terms.push(NormTerm {
                    a: Some((a_buf(l.a), l.params.fan_in)),
                    g: g_index(l.g),
                    bias,
                }),
                // A bias's per-row gradient is the G row itself.
                (false, true) => terms.push(NormTerm {
                    a: None,
                    g: g_index(l.g),
                    bias: false,
                }),
                (false, false) => {}
            }
        }
        if with_embed && self.embedding_trained(set) {
            terms.push(NormTerm {
                a: None,
                g: 3 + nb,
                bias: false,
            });
        }
        be.clip_row_groups(&mut grads, &terms, rows, k, max_norm, sq)?;
        Ok(())
    }

    /// The workspace buffer behind a slot.
    pub fn slot<'a, B: Backend>(&self, ws: &'a Workspace<B>, s: Slot) -> &'a B::Buf {
        match s {
            Slot::X => &ws.x,
            Slot::Tfe => &ws.tfe,
            Slot::TAct => &ws.t_act,
            Slot::H => &ws.h,
            Slot::DH => &ws.dh,
            Slot::DT => &ws.dt,
            Slot::Act(i) => &ws.acts[i],
            Slot::DAct(i) => &ws.dacts[i],
            Slot::DOut => &ws.dout,
        }
    }
}

/// `y ← x·Wᵀ + beta·y` (bias added separately).
fn linear_fwd<B: Backend>(
    be: &B,
    l: LinearParams,
    params: &B::Buf,
    x: &B::Buf,
    y: &mut B::Buf,
    rows: usize,
    beta: f64,
) -> crate::error::Result<()> {
    let g = Gemm {
        trans_a: false,
        trans_b: true,
        m: rows,
        n: l.fan_out,
        k: l.fan_in,
        alpha: 1.0,
        beta,
    };
    be.gemm(g, x, 0, params, l.w, y, 0)?;
    Ok(())
}

/// `dA ← G·W`.
fn linear_bwd_input<B: Backend>(
    be: &B,
    l: LinearParams,
    params: &B::Buf,
    g: &B::Buf,
    da: &mut B::Buf,
    rows: usize,
) -> crate::error::Result<()> {
    let gm = Gemm {
        trans_a: false,
        trans_b: false,
        m: rows,
        n: l.fan_in,
        k: l.fan_out,
        alpha: 1.0,
        beta: 0.0,
    };
    be.gemm(gm, g, 0, params, l.w, da, 0)?;
    Ok(())
}

/// Converts parameters between element types (f32 weights → f64 for checks).
#[cfg_attr(not(feature = "internals"), allow(dead_code))]
pub fn convert<A: Scalar, C: Scalar>(v: &[A]) -> Vec<C> {
    v.iter().map(|&x| C::from_f64(x.to_f64())).collect()
}

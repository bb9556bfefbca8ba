//! The compute backend: the few primitives that the denoiser, the optimizer and the diffusion
//! need, on buffers that the backend owns (host memory for the CPU backend; device memory for
//! a GPU backend). Layers above hold buffer handles and offsets, never arrays of activations,
//! so a whole training or sampling step can stay on one device.
//!
//! All matrices are dense and row-major; a matrix inside a buffer is addressed by its offset.

mod cpu;
pub mod cuda;
mod device;
mod openblas;

pub use cpu::{run_parallel, CpuBackend};
pub use device::{run_job, run_job_with_rows, Device, Job, Ran, Relay, RowSink};
// For the benchmarks (through the internals).
#[cfg_attr(not(feature = "internals"), allow(unused_imports))]
pub use openblas::{blas_kernels, blas_threads, set_blas_threads};

use crate::diffusion::{Layout, LossWeights, Schedule};

/// Element type of a backend's buffers (f32 for training and sampling; f64 for checks).
pub trait Scalar:
    ndarray::LinalgScalar + PartialOrd + Send + Sync + std::fmt::Debug + 'static
{
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    fn exp(self) -> Self;
    fn sqrt(self) -> Self;
    /// The slice as f32 when the element is f32 (lets hot loops keep f32 arithmetic).
    fn as_f32_mut(x: &mut [Self]) -> Option<&mut [f32]>;
    /// As [`Scalar::as_f32_mut`], shared.
    fn as_f32(x: &[Self]) -> Option<&[f32]>;
}

impl Scalar for f32 {
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn exp(self) -> Self {
        crate::fastmath::exp_f32(self)
    }
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
    fn as_f32_mut(x: &mut [Self]) -> Option<&mut [f32]> {
        Some(x)
    }
    fn as_f32(x: &[Self]) -> Option<&[f32]> {
        Some(x)
    }
}

impl Scalar for f64 {
    fn from_f64(v: f64) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    fn as_f32_mut(_: &mut [Self]) -> Option<&mut [f32]> {
        None
    }
    fn as_f32(_: &[Self]) -> Option<&[f32]> {
        None
    }
}

/// Activation functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Identity,
    Relu,
    Silu,
}

/// Shape of `C = alpha·op(A)·op(B) + beta·C`: op(A) is m×k, op(B) is k×n, all row-major and
/// dense (leading dimensions follow from the shapes).
#[derive(Debug, Clone, Copy)]
pub struct Gemm {
    pub trans_a: bool,
    pub trans_b: bool,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub alpha: f64,
    pub beta: f64,
}

/// AdamW hyper-parameters for one step, with the EMA rate of the sampling weights.
#[derive(Debug, Clone, Copy)]
pub struct AdamStep {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// 1-based step count (for bias correction).
    pub t: u64,
    /// EMA rate: ema ← rate·ema + (1 − rate)·params.
    pub ema_rate: f64,
    /// DP-SGD's noise, added to the gradient in the same pass (and left in it).
    pub noise: Option<GradNoise>,
}

/// The Gaussian noise of a DP-SGD step: `g ← (g + std·z)·scale` with z from
/// [`crate::csprng`] under `key` on `stream` (the same numbers as
/// [`Backend::add_noise_and_scale`] with these arguments).
#[derive(Debug, Clone, Copy)]
pub struct GradNoise {
    pub std: f64,
    pub scale: f64,
    pub key: [u8; 32],
    pub stream: u64,
}

/// One part of a row's squared gradient norm (see [`Backend::clip_row_groups`]): a linear
/// layer's weight, from its input `a` (rows of `a.1` columns) and its output gradient, plus
/// its bias when `bias`; or, without `a`, a block of parameters whose per-row gradient is the
/// G row itself (an embedding row).
pub struct NormTerm<'a, Buf> {
    pub a: Option<(&'a Buf, usize)>,
    /// Index of the term's G in the `grads` of the call.
    pub g: usize,
    pub bias: bool,
}

/// One linear layer's parameter gradients over the shards of a batch (see
/// [`Backend::linear_grads`]).
pub struct LinearGrad<'a, Buf> {
    /// Offsets of W (fan_out × fan_in, row-major) and of the bias in the gradient buffer.
    pub w: usize,
    pub b: usize,
    pub fan_in: usize,
    pub fan_out: usize,
    /// Per shard, in order: the layer's input A (rows × fan_in), its output gradient G
    /// (rows × fan_out) and the shard's row count.
    pub parts: Vec<(&'a Buf, &'a Buf, usize)>,
}

/// The primitives of the denoiser and the optimizer.
pub trait Backend: Send + Sync {
    type Elem: Scalar;
    /// An owned buffer of `Elem`.
    type Buf: Send + Sync;

    /// A human-readable name ("cpu", "cuda:0").
    fn name(&self) -> String;
    /// A zeroed buffer.
    fn alloc(&self, len: usize) -> crate::error::Result<Self::Buf>;
    /// Copies host values into `dst[off..]`.
    fn upload(
        &self,
        dst: &mut Self::Buf,
        off: usize,
        src: &[Self::Elem],
    ) -> crate::error::Result<()>;
    /// Copies `src[off..off + dst.len()]` to the host.
    fn download(
        &self,
        src: &Self::Buf,
        off: usize,
        dst: &mut [Self::Elem],
    ) -> crate::error::Result<()>;
    /// Sets `dst[off..off + len]` to `value`.
    fn fill(
        &self,
        dst: &mut Self::Buf,
        off: usize,
        len: usize,
        value: f64,
    ) -> crate::error::Result<()>;
    /// General matrix multiply on matrices at offsets in three distinct buffers.
    fn gemm(
        &self,
        g: Gemm,
        a: &Self::Buf,
        a_off: usize,
        b: &Self::Buf,
        b_off: usize,
        c: &mut Self::Buf,
        c_off: usize,
    ) -> crate::error::Result<()>;
    /// `x ← x + bias` row-wise on a rows×cols matrix, then the activation, in place or, with
    /// `out`, into `out` (x then keeps the pre-activation).
    fn bias_act(
        &self,
        x: &mut Self::Buf,
        rows: usize,
        cols: usize,
        bias: &Self::Buf,
        bias_off: usize,
        act: Act,
        out: Option<&mut Self::Buf>,
    ) -> crate::error::Result<()>;
    /// `dst ← dst + act(src)` on the first `len` elements.
    fn add_act(
        &self,
        src: &Self::Buf,
        dst: &mut Self::Buf,
        len: usize,
        act: Act,
    ) -> crate::error::Result<()>;
    /// `g ← g ⊙ act'(saved)` on the first `len` elements, where `saved` is the activation's
    /// output for ReLU and its input for SiLU.
    fn act_backward(
        &self,
        g: &mut Self::Buf,
        saved: &Self::Buf,
        len: usize,
        act: Act,
    ) -> crate::error::Result<()>;
    /// `dst[off..off+cols] ← beta·dst + Σ_rows g` (a bias gradient), summed in row order;
    /// beta = 0 overwrites (as BLAS does: NaN left in `dst` does not survive).
    fn col_sum(
        &self,
        g: &Self::Buf,
        rows: usize,
        cols: usize,
        dst: &mut Self::Buf,
        dst_off: usize,
        beta: f64,
    ) -> crate::error::Result<()>;
    /// Sinusoidal embedding of the timesteps held in `t` (one per row): [cos(t·f), sin(t·f)],
    /// f_i = 10000^(−i/(dim/2)).
    fn timestep_embedding(
        &self,
        t: &Self::Buf,
        rows: usize,
        dim: usize,
        out: &mut Self::Buf,
    ) -> crate::error::Result<()>;
    /// `dst[i] ← table[idx[i]]` for rows of width `cols` (`idx` holds row indices as values).
    fn gather_rows(
        &self,
        table: &Self::Buf,
        table_off: usize,
        idx: &Self::Buf,
        rows: usize,
        cols: usize,
        dst: &mut Self::Buf,
    ) -> crate::error::Result<()>;
    /// `dst[idx[i]] += src[i]` for rows of width `cols`, in row order.
    fn scatter_add_rows(
        &self,
        src: &Self::Buf,
        idx: &Self::Buf,
        rows: usize,
        cols: usize,
        dst: &mut Self::Buf,
        dst_off: usize,
    ) -> crate::error::Result<()>;
    /// DP-SGD's per-sample clipping in one pass over groups of `k` consecutive rows (one
    /// private row and its k draws). For each group, its squared gradient norm
    /// `Σ_terms Σ_{k,l} (a_k·a_l)(g_k·g_l) [+ Σ_{k,l} g_k·g_l for a bias or a term without a]`,
    /// summed in the order of `terms` (each term's G is `grads[term.g]`), goes to `sq[group]`;
    /// then the group's rows of every buffer in `grads` (`(buffer, columns)`) are multiplied by
    /// `min(1, max_norm / (‖·‖ + 1e-6))`. A buffer may serve several terms; it is scaled once.
    fn clip_row_groups(
        &self,
        grads: &mut [(&mut Self::Buf, usize)],
        terms: &[NormTerm<'_, Self::Buf>],
        rows: usize,
        k: usize,
        max_norm: f64,
        sq: &mut Self::Buf,
    ) -> crate::error::Result<()>;
    /// `x ← (x + std·z)·scale` on the first `len` elements, z standard normal from
    /// [`crate::csprng`] (ziggurat on AES-256-CTR keyed by `key`, on `stream`; a
    /// cryptographically secure generator; the numbers do not depend on the thread count).
    // Training adds the noise inside `adamw`; this is the same noise on its own, for tests.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    fn add_noise_and_scale(
        &self,
        x: &mut Self::Buf,
        len: usize,
        std: f64,
        scale: f64,
        key: &[u8; 32],
        stream: u64,
    ) -> crate::error::Result<()>;
    /// `dW = Σ_parts Gᵀ·A` and `db = Σ_parts Σ_rows G` for every layer, the parts summed in
    /// order (each part's product added onto the sum of the earlier ones), into `grads`:
    /// overwriting it, or adding to it when `accumulate`. The layers' ranges must not overlap.
    fn linear_grads(
        &self,
        layers: &[LinearGrad<'_, Self::Buf>],
        grads: &mut Self::Buf,
        accumulate: bool,
    ) -> crate::error::Result<()> {
        for l in layers {
            for (i, &(a, g, rows)) in l.parts.iter().enumerate() {
                let beta = if accumulate || i > 0 { 1.0 } else { 0.0 };
                let gm = Gemm {
                    trans_a: true,
                    trans_b: false,
                    m: l.fan_out,
                    n: l.fan_in,
                    k: rows,
                    alpha: 1.0,
                    beta,
                };
                self.gemm(gm, g, 0, a, 0, grads, l.w)?;
                self.col_sum(g, rows, l.fan_out, grads, l.b, beta)?;
            }
        }
        Ok(())
    }
    /// Rows per shard of a training batch, or `None` to run batches whole. The CPU backend
    /// splits a batch into shards of a fixed size (so results do not depend on the thread
    /// count) whose row-local work (forward pass, loss, backward to the layer outputs, clipping)
    /// runs one shard per thread with single-threaded kernels: small GEMMs split across
    /// threads spend much of their time handing work over.
    fn shard_rows(&self) -> Option<usize> {
        None
    }
    /// Runs `f` on every item: concurrently, one item per thread with single-threaded kernels
    /// inside, where the backend shards batches; in order otherwise.
    /// Stops at the first error (the others' results are then discarded).
    fn for_each_shard<T: Send>(
        &self,
        items: &mut [T],
        f: &(dyn Fn(&mut T) -> crate::error::Result<()> + Sync),
    ) -> crate::error::Result<()> {
        items.iter_mut().try_for_each(f)
    }
    /// One fused AdamW step on the parameters in `range`, then their EMA update; under DP the
    /// step's noise is first added to `grads` there (see [`AdamStep::noise`]: position `i` of
    /// the range gets the noise [`Backend::add_noise_and_scale`] adds at position `i` of a
    /// buffer holding the range alone). Elements outside `range` are left as they are (frozen
    /// parameters of a partial fine-tuning stay bit-identical).
    fn adamw(
        &self,
        params: &mut Self::Buf,
        grads: &mut Self::Buf,
        m: &mut Self::Buf,
        v: &mut Self::Buf,
        ema: &mut Self::Buf,
        range: std::ops::Range<usize>,
        step: AdamStep,
    ) -> crate::error::Result<()>;
}

/// The diffusion's per-batch updates (f32): noising, loss and gradient, ancestral steps.
/// Random numbers come from per-row streams keyed by (`seed`, `stream`, row), so results do
/// not depend on how rows are split across threads.
pub trait DiffusionOps: Backend<Elem = f32> {
    /// x_t and the Gaussian noise ε for the first `rows` rows of `x0` at the per-row steps `t`;
    /// the random streams number the rows from `row0` (a shard of a batch draws what the same
    /// rows draw in the whole batch).
    #[allow(clippy::too_many_arguments)]
    fn q_sample(
        &self,
        layout: &Layout,
        sched: &Schedule,
        x0: &Self::Buf,
        t: &Self::Buf,
        rows: usize,
        seed: u64,
        stream: u64,
        row0: u64,
        xt: &mut Self::Buf,
        eps: &mut Self::Buf,
    ) -> crate::error::Result<()>;
    /// The gradient of the weighted loss with respect to the model output, into `dout`;
    /// per-row losses into `row_loss`.
    #[allow(clippy::too_many_arguments)]
    fn loss_grad(
        &self,
        layout: &Layout,
        sched: &Schedule,
        out: &Self::Buf,
        x0: &Self::Buf,
        xt: &Self::Buf,
        eps: &Self::Buf,
        t: &Self::Buf,
        rows: usize,
        w: LossWeights,
        dout: &mut Self::Buf,
        row_loss: &mut Self::Buf,
    ) -> crate::error::Result<()>;
    /// x_T for the first `rows` rows, row i drawing from `streams.of(i)`.
    fn prior(
        &self,
        layout: &Layout,
        x: &mut Self::Buf,
        rows: usize,
        streams: RowStreams,
    ) -> crate::error::Result<()>;
    /// One ancestral step at timestep `t` for the first `rows` rows of `x`, in place, row i
    /// drawing from `streams.of(i)`.
    #[allow(clippy::too_many_arguments)]
    fn p_sample(
        &self,
        layout: &Layout,
        sched: &Schedule,
        t: usize,
        out: &Self::Buf,
        x: &mut Self::Buf,
        rows: usize,
        streams: RowStreams,
    ) -> crate::error::Result<()>;
    /// How many of sampling's fixed blocks of rows one sampler should hold, run through the
    /// network and the diffusion steps together. The CPU backend runs blocks one per thread
    /// (1); a GPU needs many rows per launch to be busy. Each block draws from its own streams
    /// ([`RowStreams`]) and every launch has the same shape, so a row's values do not depend
    /// on how many blocks a sample has.
    fn blocks_per_launch(&self) -> usize {
        1
    }
}

/// Where each row of a sampling call draws its random numbers: row i of the call uses
/// `rng::row_rng(seed, stream + (i / block_rows)·stride, i % block_rows)`, so that one call
/// over several consecutive blocks of `block_rows` rows draws what one call per block, with
/// streams `stride` apart, draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowStreams {
    pub seed: u64,
    pub stream: u64,
    pub block_rows: usize,
    pub stride: u64,
}

impl RowStreams {
    /// One stream for every row of the call.
    pub fn single(seed: u64, stream: u64) -> RowStreams {
        RowStreams {
            seed,
            stream,
            block_rows: usize::MAX,
            stride: 0,
        }
    }

    /// Row i's (seed, stream, row) for `rng::row_rng`.
    pub fn of(&self, i: usize) -> (u64, u64, u64) {
        let b = self.block_rows.max(1);
        (
            self.seed,
            self.stream
                .wrapping_add(((i / b) as u64).wrapping_mul(self.stride)),
            (i % b) as u64,
        )
    }
}

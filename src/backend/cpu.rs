//! The CPU backend: OpenBLAS GEMMs through ndarray, element-wise work with rayon over rows.
//!
//! Every element-wise result depends only on its own inputs and every reduction runs in a fixed
//! order, so results do not depend on the number of rayon threads.

use std::marker::PhantomData;

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

use super::openblas::{blas_threads, set_blas_threads};
use super::{
    Act, AdamStep, Backend, DiffusionOps, Gemm, GradNoise, LinearGrad, NormTerm, RowStreams, Scalar,
};
use crate::csprng::{normals, CHUNK as NOISE_CHUNK};
use crate::diffusion::{self, Layout, LossWeights, Schedule};

/// Elements per rayon task: below this, waking another thread costs more than it saves.
const MIN_ELEMS: usize = 32 * 1024;

/// Rows per shard of a training batch (see [`Backend::shard_rows`]): 128 rows keep OpenBLAS's
/// single-threaded sgemm near its full rate on the small network's layers, and a 256-row
/// batch still gives two threads a shard each.
const SHARD_ROWS: usize = 128;

thread_local! {
    /// Set while this thread runs a shard ([`Backend::for_each_shard`]): the other threads run
    /// shards of their own, so element-wise passes do not split (a split piece stolen by a
    /// busy thread would keep this one waiting).
    static IN_SHARD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Elements per rayon task: [`MIN_ELEMS`], or all of them inside a shard.
#[inline]
fn task_elems() -> usize {
    if IN_SHARD.get() {
        usize::MAX >> 8
    } else {
        MIN_ELEMS
    }
}

/// Rows of dW (output features) per task of [`Backend::linear_grads`]: fixed, so that the
/// tasks, and with them the results, do not depend on the thread count.
const GRAD_PIECE: usize = 128;

/// Runs `f` with OpenBLAS single-threaded and this thread marked as running a shard (its
/// element-wise passes do not split), restoring both after, also when `f` panics.
fn in_shard<T>(f: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            IN_SHARD.set(self.0);
        }
    }
    let _restore = Restore(IN_SHARD.replace(true));
    f()
}

/// Sets OpenBLAS to one thread until dropped (the threads then run one task each).
struct SingleThreadedBlas(usize);

impl SingleThreadedBlas {
    fn new() -> Self {
        let n = blas_threads();
        set_blas_threads(1);
        SingleThreadedBlas(n)
    }
}

impl Drop for SingleThreadedBlas {
    fn drop(&mut self) {
        set_blas_threads(self.0);
    }
}

/// Rows per rayon task for rows of `cols` elements.
#[inline]
fn min_rows(cols: usize) -> usize {
    (task_elems() / cols.max(1)).max(1)
}

/// Stack size of the threads that run BLAS and LAPACK: OpenBLAS keeps large work arrays on
/// the stack (its parallel LU overflows a 2 MiB thread stack), and a library cannot rely on
/// its caller's stack, so all such work runs on threads made here.
const STACK_BYTES: usize = 64 << 20;
/// More threads than this is a mistake, not a machine.
const MAX_THREADS: usize = 1024;

/// Runs `work` on a local pool of `threads` rayon threads (0: all cores) with as many BLAS
/// threads, while the calling thread relays progress reports: the callback runs only on the
/// calling thread, each report waits for its answer, and the work sees a `false` answer at
/// that report (it is expected to stop there).
pub fn run_parallel<P: Send + Clone, T: Send>(
    threads: usize,
    progress: &mut dyn FnMut(&P) -> bool,
    work: impl FnOnce(&mut dyn FnMut(&P) -> bool) -> T + Send,
) -> crate::error::Result<T> {
    if threads > MAX_THREADS {
        return Err(crate::error::Error::invalid(format!(
            "{threads} threads requested; at most {MAX_THREADS} are supported"
        )));
    }
    let n = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    };
    // The pool's threads are spawned here and joined when the call ends: a dropped rayon pool
    // lets its threads exit on their own, and a host that exits right after a call (or
    // valgrind) would still find them running.
    let workers: std::sync::Arc<std::sync::Mutex<Vec<std::thread::JoinHandle<()>>>> =
        Default::default();
    let spawned = workers.clone();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .stack_size(STACK_BYTES)
        .spawn_handler(move |t| {
            let mut b = std::thread::Builder::new();
            if let Some(size) = t.stack_size() {
                b = b.stack_size(size);
            }
            let h = b.spawn(|| t.run())?;
            spawned.lock().unwrap_or_else(|e| e.into_inner()).push(h);
            Ok(())
        })
        .build()
        .map_err(|e| crate::error::Error::invalid(format!("cannot start {n} threads: {e}")))?;
    let (report_tx, report_rx) = std::sync::mpsc::channel::<P>();
    let (answer_tx, answer_rx) = std::sync::mpsc::channel::<bool>();
    let joined = std::thread::scope(|s| {
        let pool = &pool;
        let handle = s.spawn(move || {
            pool.install(move || {
                set_blas_threads(n);
                let mut relay =
                    |p: &P| report_tx.send(p.clone()).is_ok() && answer_rx.recv().unwrap_or(false);
                work(&mut relay)
            })
        });
        let mut go_on = true;
        for p in report_rx {
            go_on = go_on && progress(&p);
            if answer_tx.send(go_on).is_err() {
                break;
            }
        }
        handle.join()
    });
    drop(pool);
    let handles = std::mem::take(&mut *workers.lock().unwrap_or_else(|e| e.into_inner()));
    for h in handles {
        let _ = h.join();
    }
    match joined {
        Ok(v) => Ok(v),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

thread_local! {
    /// Per-thread scratch for the diffusion row functions, reused across calls so that steps
    /// do not allocate.
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Host backend over elements of type `E` (f32 in use, f64 for gradient checks).
#[derive(Debug, Default, Clone, Copy)]
pub struct CpuBackend<E: Scalar = f32> {
    _e: PhantomData<E>,
}

impl<E: Scalar> CpuBackend<E> {
    pub fn new() -> Self {
        CpuBackend { _e: PhantomData }
    }
}

/// Dot product with eight independent partial sums, so that the compiler can vectorise it
/// (a single running sum fixes the order of the additions).
#[inline]
fn dot8<E: Scalar>(x: &[E], y: &[E]) -> E {
    let mut acc = [E::zero(); 8];
    let (xc, yc) = (x.chunks_exact(8), y.chunks_exact(8));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        for i in 0..8 {
            acc[i] = acc[i] + a[i] * b[i];
        }
    }
    let mut s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (&a, &b) in xr.iter().zip(yr) {
        s = s + a * b;
    }
    s
}

#[inline]
fn silu<E: Scalar>(x: E) -> E {
    x / (E::one() + (E::zero() - x).exp())
}

#[inline]
fn silu_grad<E: Scalar>(x: E) -> E {
    let s = E::one() / (E::one() + (E::zero() - x).exp());
    s * (E::one() + x * (E::one() - s))
}

#[inline]
fn relu<E: Scalar>(x: E) -> E {
    if x > E::zero() {
        x
    } else {
        E::zero()
    }
}

/// `d ← d + f(s)`, generic over `f` so that it inlines.
#[inline(always)]
fn add_rows<E: Scalar>(d: &mut [E], s: &[E], f: impl Fn(E) -> E) {
    for (d, &s) in d.iter_mut().zip(s) {
        *d = *d + f(s);
    }
}

/// `x ← x + b` on every row; the activation `f(x)` in place, or into `out` (x keeps the
/// pre-activation). Generic over `f` so that each activation gets its own loop: a match on
/// the activation inside the loop is not always hoisted by the compiler, and costs 5×.
fn bias_rows<E: Scalar>(
    x: &mut [E],
    cols: usize,
    b: &[E],
    out: Option<&mut [E]>,
    f: impl Fn(E) -> E + Sync,
) {
    match out {
        None => x
            .par_chunks_mut(cols)
            .with_min_len(min_rows(cols))
            .for_each(|r| {
                for (v, &bb) in r.iter_mut().zip(b) {
                    *v = f(*v + bb);
                }
            }),
        Some(out) => x
            .par_chunks_mut(cols)
            .zip(out.par_chunks_mut(cols))
            .with_min_len(min_rows(cols))
            .for_each(|(r, o)| {
                for ((v, &bb), o) in r.iter_mut().zip(b).zip(o.iter_mut()) {
                    *v = *v + bb;
                    *o = f(*v);
                }
            }),
    }
}

impl<E: Scalar> Backend for CpuBackend<E> {
    type Elem = E;
    type Buf = Vec<E>;

    fn name(&self) -> String {
        "cpu".into()
    }

    fn alloc(&self, len: usize) -> crate::error::Result<Vec<E>> {
        let mut v = Vec::new();
        v.try_reserve_exact(len).map_err(|_| {
            crate::error::Error::resources(format!(
                "cannot allocate a buffer of {len} values ({} MB) in host memory",
                (len as u128 * std::mem::size_of::<E>() as u128) >> 20
            ))
        })?;
        v.resize(len, E::zero());
        Ok(v)
    }

    fn upload(&self, dst: &mut Vec<E>, off: usize, src: &[E]) -> crate::error::Result<()> {
        dst[off..off + src.len()].copy_from_slice(src);
        Ok(())
    }

    fn download(&self, src: &Vec<E>, off: usize, dst: &mut [E]) -> crate::error::Result<()> {
        dst.copy_from_slice(&src[off..off + dst.len()]);
        Ok(())
    }

    fn fill(
        &self,
        dst: &mut Vec<E>,
        off: usize,
        len: usize,
        value: f64,
    ) -> crate::error::Result<()> {
        dst[off..off + len]
            .iter_mut()
            .for_each(|v| *v = E::from_f64(value));
        Ok(())
    }

    fn gemm(
        &self,
        g: Gemm,
        a: &Vec<E>,
        a_off: usize,
        b: &Vec<E>,
        b_off: usize,
        c: &mut Vec<E>,
        c_off: usize,
    ) -> crate::error::Result<()> {
        let (ar, ac) = if g.trans_a { (g.k, g.m) } else { (g.m, g.k) };
        let (br, bc) = if g.trans_b { (g.n, g.k) } else { (g.k, g.n) };
        let av =
            ArrayView2::from_shape((ar, ac), &a[a_off..a_off + ar * ac]).expect("gemm: A shape");
        let bv =
            ArrayView2::from_shape((br, bc), &b[b_off..b_off + br * bc]).expect("gemm: B shape");
        let mut cv = ArrayViewMut2::from_shape((g.m, g.n), &mut c[c_off..c_off + g.m * g.n])
            .expect("gemm: C shape");
        let av = if g.trans_a { av.reversed_axes() } else { av };
        let bv = if g.trans_b { bv.reversed_axes() } else { bv };
        general_mat_mul(E::from_f64(g.alpha), &av, &bv, E::from_f64(g.beta), &mut cv);
        Ok(())
    }

    fn bias_act(
        &self,
        x: &mut Vec<E>,
        rows: usize,
        cols: usize,
        bias: &Vec<E>,
        bias_off: usize,
        act: Act,
        out: Option<&mut Vec<E>>,
    ) -> crate::error::Result<()> {
        let b = &bias[bias_off..bias_off + cols];
        let x = &mut x[..rows * cols];
        let out = out.map(|o| &mut o[..rows * cols]);
        match act {
            Act::Identity => bias_rows(x, cols, b, out, |v| v),
            Act::Relu => bias_rows(x, cols, b, out, relu),
            Act::Silu => bias_rows(x, cols, b, out, silu),
        }
        Ok(())
    }

    fn add_act(
        &self,
        src: &Vec<E>,
        dst: &mut Vec<E>,
        len: usize,
        act: Act,
    ) -> crate::error::Result<()> {
        let n = task_elems();
        let it = dst[..len].par_chunks_mut(n).zip(src[..len].par_chunks(n));
        match act {
            Act::Identity => it.for_each(|(d, s)| add_rows(d, s, |v| v)),
            Act::Relu => it.for_each(|(d, s)| add_rows(d, s, relu)),
            Act::Silu => it.for_each(|(d, s)| add_rows(d, s, silu)),
        }
        Ok(())
    }

    fn act_backward(
        &self,
        g: &mut Vec<E>,
        saved: &Vec<E>,
        len: usize,
        act: Act,
    ) -> crate::error::Result<()> {
        // Chunks with plain inner loops, and a select rather than a branch for ReLU: half of
        // its inputs are negative at random, and a branch there mispredicts half the time.
        let n = task_elems();
        let it = g[..len].par_chunks_mut(n).zip(saved[..len].par_chunks(n));
        match act {
            Act::Identity => {}
            Act::Relu => it.for_each(|(g, s)| {
                for (g, &s) in g.iter_mut().zip(s) {
                    *g = if s <= E::zero() { E::zero() } else { *g };
                }
            }),
            Act::Silu => it.for_each(|(g, s)| {
                for (g, &s) in g.iter_mut().zip(s) {
                    *g = *g * silu_grad(s);
                }
            }),
        }
        Ok(())
    }

    fn col_sum(
        &self,
        g: &Vec<E>,
        rows: usize,
        cols: usize,
        dst: &mut Vec<E>,
        dst_off: usize,
        beta: f64,
    ) -> crate::error::Result<()> {
        let d = &mut dst[dst_off..dst_off + cols];
        if beta == 0.0 {
            // Overwrite: whatever the buffer held (even NaN) is not scaled into the result.
            d.iter_mut().for_each(|v| *v = E::zero());
        } else {
            let beta = E::from_f64(beta);
            d.iter_mut().for_each(|v| *v = *v * beta);
        }
        for r in g[..rows * cols].chunks_exact(cols) {
            for (v, &x) in d.iter_mut().zip(r) {
                *v = *v + x;
            }
        }
        Ok(())
    }

    fn timestep_embedding(
        &self,
        t: &Vec<E>,
        rows: usize,
        dim: usize,
        out: &mut Vec<E>,
    ) -> crate::error::Result<()> {
        let half = dim / 2;
        out[..rows * dim]
            .par_chunks_mut(dim)
            .zip(&t[..rows])
            .with_min_len(min_rows(dim))
            .for_each(|(o, &tv)| {
                let tv = tv.to_f64();
                for i in 0..half {
                    let f = (-(10000f64.ln()) * i as f64 / half as f64).exp();
                    let (s, c) = (tv * f).sin_cos();
                    o[i] = E::from_f64(c);
                    o[half + i] = E::from_f64(s);
                }
                if dim % 2 == 1 {
                    o[dim - 1] = E::zero();
                }
            });
        Ok(())
    }

    fn gather_rows(
        &self,
        table: &Vec<E>,
        table_off: usize,
        idx: &Vec<E>,
        rows: usize,
        cols: usize,
        dst: &mut Vec<E>,
    ) -> crate::error::Result<()> {
        dst[..rows * cols]
            .par_chunks_mut(cols)
            .zip(&idx[..rows])
            .with_min_len(min_rows(cols))
            .for_each(|(d, &i)| {
                let s = table_off + i.to_f64() as usize * cols;
                d.copy_from_slice(&table[s..s + cols]);
            });
        Ok(())
    }

    fn scatter_add_rows(
        &self,
        src: &Vec<E>,
        idx: &Vec<E>,
        rows: usize,
        cols: usize,
        dst: &mut Vec<E>,
        dst_off: usize,
    ) -> crate::error::Result<()> {
        for (r, &i) in src[..rows * cols].chunks_exact(cols).zip(&idx[..rows]) {
            let s = dst_off + i.to_f64() as usize * cols;
            for (d, &v) in dst[s..s + cols].iter_mut().zip(r) {
                *d = *d + v;
            }
        }
        Ok(())
    }

    fn shard_rows(&self) -> Option<usize> {
        Some(SHARD_ROWS)
    }

    fn for_each_shard<T: Send>(
        &self,
        items: &mut [T],
        f: &(dyn Fn(&mut T) -> crate::error::Result<()> + Sync),
    ) -> crate::error::Result<()> {
        if items.len() <= 1 || rayon::current_num_threads() <= 1 {
            return items.iter_mut().try_for_each(f);
        }
        let _blas = SingleThreadedBlas::new();
        items
            .par_iter_mut()
            .with_max_len(1)
            .try_for_each(|item| in_shard(|| f(item)))
    }

    fn linear_grads(
        &self,
        layers: &[LinearGrad<'_, Vec<E>>],
        grads: &mut Vec<E>,
        accumulate: bool,
    ) -> crate::error::Result<()> {
        // Tasks own disjoint ranges of dW rows (and the same bias entries); each sums its
        // parts in order with single-threaded GEMMs, so the threads need no hand-offs.
        struct Task<'t, E> {
            layer: usize,
            m0: usize,
            dw: &'t mut [E],
            db: &'t mut [E],
        }
        let mut ranges = Vec::new(); // (offset, len, task, is_weight)
        let mut tasks = Vec::new();
        for (li, l) in layers.iter().enumerate() {
            for m0 in (0..l.fan_out).step_by(GRAD_PIECE) {
                let rows = GRAD_PIECE.min(l.fan_out - m0);
                ranges.push((l.w + m0 * l.fan_in, rows * l.fan_in, tasks.len(), true));
                ranges.push((l.b + m0, rows, tasks.len(), false));
                tasks.push(Task {
                    layer: li,
                    m0,
                    dw: &mut [][..],
                    db: &mut [][..],
                });
            }
        }
        ranges.sort_unstable();
        let (mut rest, mut pos) = (&mut grads[..], 0);
        for (off, len, t, is_weight) in ranges {
            assert!(off >= pos, "linear_grads: overlapping gradient ranges");
            let (piece, tail) = std::mem::take(&mut rest)[off - pos..].split_at_mut(len);
            (rest, pos) = (tail, off + len);
            if is_weight {
                tasks[t].dw = piece;
            } else {
                tasks[t].db = piece;
            }
        }
        let _blas = SingleThreadedBlas::new();
        tasks.into_par_iter().for_each(|task| {
            in_shard(|| {
                let l = &layers[task.layer];
                let rows_m = task.db.len();
                let mut dw = ArrayViewMut2::from_shape((rows_m, l.fan_in), task.dw)
                    .expect("linear_grads: dW shape");
                for (i, &(a, g, rows)) in l.parts.iter().enumerate() {
                    let add = accumulate || i > 0;
                    let gv = ArrayView2::from_shape((rows, l.fan_out), &g[..rows * l.fan_out])
                        .expect("linear_grads: G shape");
                    let gv = gv.slice(ndarray::s![.., task.m0..task.m0 + rows_m]);
                    let av = ArrayView2::from_shape((rows, l.fan_in), &a[..rows * l.fan_in])
                        .expect("linear_grads: A shape");
                    let beta = if add { E::one() } else { E::zero() };
                    general_mat_mul(E::one(), &gv.t(), &av, beta, &mut dw);
                    // The bias as col_sum computes it: in row order, overwriting first.
                    if !add {
                        task.db.iter_mut().for_each(|v| *v = E::zero());
                    }
                    for r in g[..rows * l.fan_out].chunks_exact(l.fan_out) {
                        let r = &r[task.m0..task.m0 + rows_m];
                        for (v, &x) in task.db.iter_mut().zip(r) {
                            *v = *v + x;
                        }
                    }
                }
            })
        });
        Ok(())
    }

    fn clip_row_groups(
        &self,
        grads: &mut [(&mut Vec<E>, usize)],
        terms: &[NormTerm<'_, Vec<E>>],
        rows: usize,
        k: usize,
        max_norm: f64,
        sq: &mut Vec<E>,
    ) -> crate::error::Result<()> {
        let groups = rows / k;
        if groups == 0 {
            return Ok(());
        }
        // One task per run of groups, holding its rows of every G: each group's rows are
        // read for the norm and scaled while still in cache, in a single dispatch.
        let row_elems: usize = terms
            .iter()
            .map(|t| t.a.map_or(0, |a| a.1) + grads[t.g].1)
            .sum();
        let per_task = min_rows(k * row_elems.max(1)).min(groups);
        let widths: Vec<usize> = grads.iter().map(|g| g.1).collect();
        let mut splits: Vec<_> = grads
            .iter_mut()
            .map(|(b, w)| b[..rows * *w].chunks_mut(per_task * k * *w))
            .collect();
        let tasks: Vec<Vec<&mut [E]>> = sq[..groups]
            .chunks(per_task)
            .map(|_| splits.iter_mut().filter_map(|c| c.next()).collect())
            .collect();
        tasks
            .into_par_iter()
            .zip(sq[..groups].par_chunks_mut(per_task))
            .enumerate()
            .for_each(|(t, (mut gs, sq))| {
                let task = ClipTask {
                    widths: &widths,
                    terms,
                    first: t * per_task,
                    k,
                    max_norm,
                };
                #[cfg(target_arch = "x86_64")]
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2 (checked just above).
                    return unsafe { task.run_avx2(&mut gs, sq) };
                }
                task.run(&mut gs, sq, false)
            });
        Ok(())
    }

    fn add_noise_and_scale(
        &self,
        x: &mut Vec<E>,
        len: usize,
        std: f64,
        scale: f64,
        key: &[u8; 32],
        stream: u64,
    ) -> crate::error::Result<()> {
        let noise = GradNoise {
            std,
            scale,
            key: *key,
            stream,
        };
        x[..len]
            .par_chunks_mut(NOISE_CHUNK)
            .enumerate()
            .for_each(|(c, chunk)| add_noise_chunk(chunk, c, &noise));
        Ok(())
    }

    fn adamw(
        &self,
        params: &mut Vec<E>,
        grads: &mut Vec<E>,
        m: &mut Vec<E>,
        v: &mut Vec<E>,
        ema: &mut Vec<E>,
        range: std::ops::Range<usize>,
        s: AdamStep,
    ) -> crate::error::Result<()> {
        let bc1 = 1.0 - s.beta1.powi(s.t as i32);
        let bc2 = 1.0 - s.beta2.powi(s.t as i32);
        let (b1, b2) = (E::from_f64(s.beta1), E::from_f64(s.beta2));
        let (ob1, ob2) = (E::from_f64(1.0 - s.beta1), E::from_f64(1.0 - s.beta2));
        let step = E::from_f64(s.lr / bc1);
        let inv_bc2 = E::from_f64(1.0 / bc2);
        let eps = E::from_f64(s.eps);
        let decay = E::from_f64(1.0 - s.lr * s.weight_decay);
        let (er, oer) = (E::from_f64(s.ema_rate), E::from_f64(1.0 - s.ema_rate));
        // Chunks of the noise's size, so that a DP step's noise is drawn in the same pass
        // (the gradient is still in cache) with the numbers of `add_noise_and_scale`.
        let r = range;
        params[r.clone()]
            .par_chunks_mut(NOISE_CHUNK)
            .zip(grads[r.clone()].par_chunks_mut(NOISE_CHUNK))
            .zip(m[r.clone()].par_chunks_mut(NOISE_CHUNK))
            .zip(v[r.clone()].par_chunks_mut(NOISE_CHUNK))
            .zip(ema[r].par_chunks_mut(NOISE_CHUNK))
            .enumerate()
            .for_each(|(c, ((((p, g), m), v), e))| {
                if let Some(noise) = &s.noise {
                    add_noise_chunk(g, c, noise);
                }
                for i in 0..p.len() {
                    m[i] = b1 * m[i] + ob1 * g[i];
                    v[i] = b2 * v[i] + ob2 * g[i] * g[i];
                    let denom = (v[i] * inv_bc2).sqrt() + eps;
                    p[i] = p[i] * decay - step * m[i] / denom;
                    e[i] = er * e[i] + oer * p[i];
                }
            });
        Ok(())
    }
}

/// One task of [`Backend::clip_row_groups`]: groups `first..first + sq.len()`, whose rows of
/// every G are in `gs`.
struct ClipTask<'a, 'b, E: Scalar> {
    widths: &'a [usize],
    terms: &'a [NormTerm<'b, Vec<E>>],
    first: usize,
    k: usize,
    max_norm: f64,
}

impl<E: Scalar> ClipTask<'_, '_, E> {
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn run_avx2(&self, gs: &mut [&mut [E]], sq: &mut [E]) {
        // The same code, with 256-bit vectors for the dot products.
        self.run(gs, sq, true)
    }

    #[inline(always)]
    fn run(&self, gs: &mut [&mut [E]], sq: &mut [E], avx2: bool) {
        let k = self.k;
        let dot = |x: &[E], y: &[E]| -> E {
            #[cfg(target_arch = "x86_64")]
            if let (true, Some(a), Some(b)) = (avx2, E::as_f32(x), E::as_f32(y)) {
                // SAFETY: `avx2` is true only on the AVX2 path (run_avx2).
                return E::from_f64(unsafe { dot_f32_avx2(a, b) } as f64);
            }
            let _ = avx2;
            dot32(x, y)
        };
        for (j, s) in sq.iter_mut().enumerate() {
            let i = self.first + j;
            let mut total = E::zero();
            for term in self.terms {
                let w = self.widths[term.g];
                let g = &gs[term.g];
                let grow = |r: usize| &g[(j * k + r) * w..(j * k + r + 1) * w];
                let mut acc = E::zero();
                for r in 0..k {
                    for c in r..k {
                        let gg = dot(grow(r), grow(c));
                        let mut v = E::zero();
                        if let Some((a, ac)) = term.a {
                            let arow = |q: usize| &a[(i * k + q) * ac..(i * k + q + 1) * ac];
                            v = v + dot(arow(r), arow(c)) * gg;
                        }
                        if term.bias || term.a.is_none() {
                            v = v + gg;
                        }
                        acc = acc + if r == c { v } else { v + v };
                    }
                }
                total = total + acc;
            }
            *s = total;
            let norm = if total > E::zero() {
                total.sqrt()
            } else {
                E::zero()
            };
            let f = E::from_f64((self.max_norm / (norm.to_f64() + 1e-6)).min(1.0));
            for (g, &w) in gs.iter_mut().zip(self.widths) {
                g[j * k * w..(j + 1) * k * w]
                    .iter_mut()
                    .for_each(|v| *v = *v * f);
            }
        }
    }
}

/// Dot product with 32 independent partial sums: four 256-bit accumulators, so that the
/// additions' latency does not bound it (dot8's single chain runs at a quarter of the speed).
#[inline(always)]
fn dot32<E: Scalar>(x: &[E], y: &[E]) -> E {
    let mut acc = [E::zero(); 32];
    let (xc, yc) = (x.chunks_exact(32), y.chunks_exact(32));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        for i in 0..32 {
            acc[i] = acc[i] + a[i] * b[i];
        }
    }
    let mut s = E::zero();
    for q in acc.chunks_exact(8) {
        s = s + (((q[0] + q[1]) + (q[2] + q[3])) + ((q[4] + q[5]) + (q[6] + q[7])));
    }
    s + dot8(xr, yr)
}

/// [`dot32`] for f32 with AVX2: four 8-lane accumulators.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_f32_avx2(x: &[f32], y: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = x.len().min(y.len());
    let (px, py) = (x.as_ptr(), y.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY (all loads): i + 8·(j + 1) <= n elements of both slices.
    while i + 32 <= n {
        for (j, a) in acc.iter_mut().enumerate() {
            let p = _mm256_mul_ps(
                _mm256_loadu_ps(px.add(i + 8 * j)),
                _mm256_loadu_ps(py.add(i + 8 * j)),
            );
            *a = _mm256_add_ps(*a, p);
        }
        i += 32;
    }
    while i + 8 <= n {
        let p = _mm256_mul_ps(_mm256_loadu_ps(px.add(i)), _mm256_loadu_ps(py.add(i)));
        acc[0] = _mm256_add_ps(acc[0], p);
        i += 8;
    }
    let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut l = [0f32; 8];
    _mm256_storeu_ps(l.as_mut_ptr(), s);
    let mut t = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
    for r in i..n {
        t += x[r] * y[r];
    }
    t
}

/// `x ← (x + std·z)·scale` on chunk `c` of a noised vector (z: that chunk's normals).
fn add_noise_chunk<E: Scalar>(x: &mut [E], c: usize, noise: &GradNoise) {
    NOISE_Z.with_borrow_mut(|z| {
        z.resize(NOISE_CHUNK, 0.0);
        add_noise_with(x, c, noise, &mut z[..x.len()]);
    });
}

thread_local! {
    /// Each thread's buffer of normals, reused rather than zeroing a fresh 32 KiB per chunk.
    static NOISE_Z: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn add_noise_with<E: Scalar>(x: &mut [E], c: usize, noise: &GradNoise, z: &mut [f32]) {
    normals(&noise.key, noise.stream, c as u64, z);
    if let Some(x) = E::as_f32_mut(x) {
        // f32 (training): the arithmetic of the gradient itself.
        let (std, scale) = (noise.std as f32, noise.scale as f32);
        for (v, &z) in x.iter_mut().zip(z.iter()) {
            *v = (*v + std * z) * scale;
        }
    } else {
        for (v, &z) in x.iter_mut().zip(z.iter()) {
            *v = E::from_f64((v.to_f64() + noise.std * z as f64) * noise.scale);
        }
    }
}

impl DiffusionOps for CpuBackend<f32> {
    fn q_sample(
        &self,
        layout: &Layout,
        sched: &Schedule,
        x0: &Vec<f32>,
        t: &Vec<f32>,
        rows: usize,
        seed: u64,
        stream: u64,
        row0: u64,
        xt: &mut Vec<f32>,
        eps: &mut Vec<f32>,
    ) -> crate::error::Result<()> {
        let w = layout.width();
        let nn = layout.n_num.max(1);
        xt[..rows * w]
            .par_chunks_mut(w)
            .zip(eps[..rows * nn].par_chunks_mut(nn))
            .enumerate()
            .with_min_len(min_rows(8 * layout.width()))
            .for_each(|(i, (xr, er))| {
                let mut rng = diffusion::row_rng(seed, stream, row0 + i as u64);
                let er = &mut er[..layout.n_num];
                diffusion::q_sample_row(
                    layout,
                    sched,
                    t[i] as usize,
                    &x0[i * w..(i + 1) * w],
                    &mut rng,
                    xr,
                    er,
                );
            });
        Ok(())
    }

    fn loss_grad(
        &self,
        layout: &Layout,
        sched: &Schedule,
        out: &Vec<f32>,
        x0: &Vec<f32>,
        xt: &Vec<f32>,
        eps: &Vec<f32>,
        t: &Vec<f32>,
        rows: usize,
        w: LossWeights,
        dout: &mut Vec<f32>,
        row_loss: &mut Vec<f32>,
    ) -> crate::error::Result<()> {
        let wd = layout.width();
        let nn = layout.n_num.max(1);
        dout[..rows * wd]
            .par_chunks_mut(wd)
            .zip(row_loss[..rows].par_iter_mut())
            .enumerate()
            .with_min_len(min_rows(8 * layout.width()))
            .for_each(|(i, (d, l))| {
                SCRATCH.with_borrow_mut(|scratch| {
                    let r = i * wd..(i + 1) * wd;
                    *l = diffusion::loss_grad_row(
                        layout,
                        sched,
                        t[i] as usize,
                        &out[r.clone()],
                        &x0[r.clone()],
                        &xt[r],
                        &eps[i * nn..i * nn + layout.n_num],
                        w,
                        d,
                        scratch,
                    );
                })
            });
        Ok(())
    }

    fn prior(
        &self,
        layout: &Layout,
        x: &mut Vec<f32>,
        rows: usize,
        streams: RowStreams,
    ) -> crate::error::Result<()> {
        let w = layout.width();
        x[..rows * w]
            .par_chunks_mut(w)
            .enumerate()
            .with_min_len(min_rows(8 * layout.width()))
            .for_each(|(i, xr)| {
                let (seed, stream, row) = streams.of(i);
                let mut rng = diffusion::row_rng(seed, stream, row);
                diffusion::prior_row(layout, xr, &mut rng);
            });
        Ok(())
    }

    fn p_sample(
        &self,
        layout: &Layout,
        sched: &Schedule,
        t: usize,
        out: &Vec<f32>,
        x: &mut Vec<f32>,
        rows: usize,
        streams: RowStreams,
    ) -> crate::error::Result<()> {
        let w = layout.width();
        x[..rows * w]
            .par_chunks_mut(w)
            .zip(out[..rows * w].par_chunks(w))
            .enumerate()
            .with_min_len(min_rows(8 * layout.width()))
            .for_each(|(i, (xr, o))| {
                SCRATCH.with_borrow_mut(|scratch| {
                    let (seed, stream, row) = streams.of(i);
                    let mut rng = diffusion::row_rng(seed, stream, row);
                    diffusion::p_sample_row(layout, sched, t, o, xr, &mut rng, scratch);
                })
            });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One call over consecutive blocks draws what one call per block draws (sampling's GPU
    /// launches rely on it).
    #[test]
    fn blocked_streams_equal_one_call_per_block() {
        let be = CpuBackend::<f32>::new();
        let layout = Layout {
            n_num: 3,
            blocks: vec![4, 2],
        };
        let sched = Schedule::cosine(30);
        let (rows, per, w) = (64, 16, layout.width());
        let out: Vec<f32> = (0..rows * w).map(|i| (i % 13) as f32 * 0.4 - 2.5).collect();
        let blocked = |stream| RowStreams {
            seed: 9,
            stream,
            block_rows: per,
            stride: 1 << 32,
        };
        let mut x = vec![0.0f32; rows * w];
        be.prior(&layout, &mut x, rows, blocked(7)).unwrap();
        be.p_sample(&layout, &sched, 12, &out, &mut x, rows, blocked(12))
            .unwrap();
        for j in 0..rows / per {
            let mut xb = vec![0.0f32; per * w];
            let s = |t: u64| RowStreams::single(9, t + ((j as u64) << 32));
            be.prior(&layout, &mut xb, per, s(7)).unwrap();
            let ob = out[j * per * w..(j + 1) * per * w].to_vec();
            be.p_sample(&layout, &sched, 12, &ob, &mut xb, per, s(12))
                .unwrap();
            assert_eq!(xb, x[j * per * w..(j + 1) * per * w], "block {j}");
        }
        // and the blocks differ from each other
        assert_ne!(x[..per * w], x[per * w..2 * per * w]);
    }

    /// The f32 AVX2 dot product (the clipping pass's, for f32) against f64, for lengths that
    /// end in each of its loops: 32-wide, 8-wide, scalar tail.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_dot_matches_f64() {
        if !std::is_x86_feature_detected!("avx2") {
            return;
        }
        for n in [0usize, 1, 7, 8, 9, 31, 32, 33, 40, 63, 64, 70, 257] {
            let x: Vec<f32> = (0..n)
                .map(|i| ((i * 37 % 23) as f32 / 11.0) - 1.0)
                .collect();
            let y: Vec<f32> = (0..n)
                .map(|i| ((i * 53 % 29) as f32 / 14.0) - 1.0)
                .collect();
            let want: f64 = x.iter().zip(&y).map(|(&a, &b)| a as f64 * b as f64).sum();
            let scale: f64 = x
                .iter()
                .zip(&y)
                .map(|(&a, &b)| (a as f64 * b as f64).abs())
                .sum();
            // SAFETY: AVX2 checked above.
            let got = unsafe { dot_f32_avx2(&x, &y) } as f64;
            assert!(
                (got - want).abs() <= 1e-6 * scale.max(1.0),
                "n = {n}: {got} vs {want}"
            );
        }
    }

    /// beta = 0 overwrites: the DP step's first chunk writes over the last step's gradient.
    #[test]
    fn col_sum_with_beta_zero_ignores_what_was_there() {
        let be = CpuBackend::<f32>::new();
        let g = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut d = vec![f32::NAN; 5];
        be.col_sum(&g, 2, 3, &mut d, 1, 0.0).unwrap();
        assert!(
            d[0].is_nan() && d[4].is_nan(),
            "outside the range untouched"
        );
        assert_eq!(d[1..4], [5.0, 7.0, 9.0]);
        be.col_sum(&g, 2, 3, &mut d, 1, 1.0).unwrap();
        assert_eq!(d[1..4], [10.0, 14.0, 18.0]);
    }

    /// Weight and bias gradients over several parts, with layers wider than one task's rows
    /// of dW, against a direct f64 computation; NaN in the buffer does not survive an
    /// overwriting call, and an accumulating call adds.
    #[test]
    fn linear_grads_sums_parts_in_pieces() {
        let be = CpuBackend::<f32>::new();
        let shapes = [(70usize, 300usize), (50, 129), (9, 5)]; // (fan_in, fan_out)
        let part_rows = [37usize, 128, 5];
        let val = |i: usize, m: usize| ((i * m % 89) as f32 / 44.0) - 1.0;
        let mut off = 0;
        let mut offs = Vec::new();
        for &(fi, fo) in &shapes {
            offs.push((off, off + fi * fo));
            off += fi * fo + fo;
        }
        let data: Vec<Vec<(Vec<f32>, Vec<f32>)>> = shapes
            .iter()
            .enumerate()
            .map(|(li, &(fi, fo))| {
                part_rows
                    .iter()
                    .enumerate()
                    .map(|(p, &r)| {
                        let a = (0..r * fi).map(|i| val(i, 31 + li + p)).collect();
                        let g = (0..r * fo).map(|i| val(i, 17 + 3 * li + p)).collect();
                        (a, g)
                    })
                    .collect()
            })
            .collect();
        let layers: Vec<LinearGrad<'_, Vec<f32>>> = shapes
            .iter()
            .enumerate()
            .map(|(li, &(fi, fo))| LinearGrad {
                w: offs[li].0,
                b: offs[li].1,
                fan_in: fi,
                fan_out: fo,
                parts: data[li]
                    .iter()
                    .zip(part_rows)
                    .map(|((a, g), r)| (a, g, r))
                    .collect(),
            })
            .collect();
        let mut want = vec![0f64; off];
        for (li, &(fi, fo)) in shapes.iter().enumerate() {
            for ((a, g), &r) in data[li].iter().zip(&part_rows) {
                for k in 0..r {
                    for m in 0..fo {
                        let gv = g[k * fo + m] as f64;
                        want[offs[li].1 + m] += gv;
                        for n in 0..fi {
                            want[offs[li].0 + m * fi + n] += gv * a[k * fi + n] as f64;
                        }
                    }
                }
            }
        }
        let mut got = vec![f32::NAN; off];
        be.linear_grads(&layers, &mut got, false).unwrap();
        for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g as f64 - w).abs() <= 1e-4 * (1.0 + w.abs()),
                "{i}: {g} vs {w}"
            );
        }
        be.linear_grads(&layers, &mut got, true).unwrap();
        for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g as f64 - 2.0 * w).abs() <= 2e-4 * (1.0 + w.abs()),
                "{i}: {g} vs 2×{w}"
            );
        }
    }

    /// The fused clipping pass over many tasks' worth of rows against a plain computation.
    #[test]
    fn clip_row_groups_matches_a_direct_computation() {
        let (k, groups, aw, w0, w1) = (2, 3001, 300, 200, 50);
        let rows = k * groups;
        let val =
            |i: usize, m: usize| ((i * m % 97) as f64 / 48.0 - 1.0) * (1.0 + (i / 977) as f64);
        let a: Vec<f64> = (0..rows * aw).map(|i| val(i, 31)).collect();
        let g0: Vec<f64> = (0..rows * w0).map(|i| val(i, 17) * 0.1).collect();
        let g1: Vec<f64> = (0..rows * w1).map(|i| val(i, 7) * 0.2).collect();
        let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>();
        let row = |v: &[f64], w: usize, r: usize| v[r * w..(r + 1) * w].to_vec();
        let mut want = vec![0.0; groups];
        for (i, s) in want.iter_mut().enumerate() {
            for r in 0..k {
                for c in 0..k {
                    let (p, q) = (i * k + r, i * k + c);
                    let gg0 = dot(&row(&g0, w0, p), &row(&g0, w0, q));
                    let gg1 = dot(&row(&g1, w1, p), &row(&g1, w1, q));
                    let aa = dot(&row(&a, aw, p), &row(&a, aw, q));
                    // Term 1: a with g0 and its bias; term 2: g1 alone; term 3: a with g1.
                    *s += aa * gg0 + gg0 + gg1 + aa * gg1;
                }
            }
        }
        let mut sorted: Vec<f64> = want.iter().map(|s| s.sqrt()).collect();
        sorted.sort_by(f64::total_cmp);
        let c = sorted[groups / 2];
        let be = CpuBackend::<f64>::new();
        let (mut b0, mut b1, mut sq) = (g0.clone(), g1.clone(), be.alloc(groups).unwrap());
        let terms = [
            NormTerm {
                a: Some((&a, aw)),
                g: 0,
                bias: true,
            },
            NormTerm {
                a: None,
                g: 1,
                bias: false,
            },
            NormTerm {
                a: Some((&a, aw)),
                g: 1,
                bias: false,
            },
        ];
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .expect("pool");
        pool.install(|| {
            be.clip_row_groups(
                &mut [(&mut b0, w0), (&mut b1, w1)],
                &terms,
                rows,
                k,
                c,
                &mut sq,
            )
            .unwrap()
        });
        let mut clipped = 0;
        for i in 0..groups {
            assert!((sq[i] - want[i]).abs() <= 1e-10 * want[i], "group {i}");
            let f = (c / (want[i].sqrt() + 1e-6)).min(1.0);
            clipped += usize::from(f < 1.0);
            for (b, g, w) in [(&b0, &g0, w0), (&b1, &g1, w1)] {
                for j in i * k * w..(i + 1) * k * w {
                    assert!((b[j] - f * g[j]).abs() <= 1e-12 * g[j].abs(), "group {i}");
                }
            }
        }
        assert!(
            clipped > 100 && clipped < groups - 100,
            "{clipped} of {groups} clipped"
        );
    }
}

//! The CUDA backend: [`Backend`] and [`DiffusionOps`] on device buffers, running the kernels of
//! `kernels/*.cu` (compiled with NVRTC once per architecture and process, loaded into the
//! context through cudarc) and cuBLAS's SGEMM in f32 (TF32 stays off: cuBLAS's default math
//! mode). Every operation is queued on one stream; only `download` waits for it.
//!
//! cudarc loads libcuda and libcublas with dynamic loading and panics where one is missing, so
//! [`CudaBackend::new`] checks for both before cudarc's loaders touch them, and every failure is
//! a [`crate::error::ErrorKind::Device`] error that says what to do.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use cudarc::cublas::sys::cublasOperation_t;
use cudarc::cublas::{CudaBlas, Gemm as _, GemmConfig};
use cudarc::driver::sys::CUresult;
use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, DeviceRepr, DriverError, LaunchConfig,
    PushKernelArg,
};

use super::kernels;
use super::nvrtc::{candidates, Nvrtc};
use super::params::{AdamConsts, StepConsts};
use super::probe::{probe, Probe};
use crate::backend::{
    Act, AdamStep, Backend, CpuBackend, DiffusionOps, Gemm, GradNoise, LossWeights, NormTerm,
    RowStreams,
};
use crate::diffusion::{Layout, Schedule};
use crate::encode::SCORE_LIMIT;
use crate::error::{Error, Result};

// SAFETY: plain `#[repr(C)]` values of f32/f64/i32 fields, the kernels' `sv_adam`/`sv_step`.
unsafe impl DeviceRepr for AdamConsts {}
unsafe impl DeviceRepr for StepConsts {}

/// Threads per block of the grid-stride kernels.
const THREADS: u32 = 256;

/// A driver error as a device error, naming what was being done; running out of device memory
/// and a driver older than the PTX get their own advice.
fn cuda_err(what: &str) -> impl Fn(DriverError) -> Error + '_ {
    move |e| match e.0 {
        CUresult::CUDA_ERROR_OUT_OF_MEMORY => Error::device(format!(
            "the GPU ran out of memory while {what}; use a smaller batch or fewer rows per \
             sampling block, or device \"cpu\""
        )),
        CUresult::CUDA_ERROR_UNSUPPORTED_PTX_VERSION => Error::device(format!(
            "the NVIDIA driver is older than the NVRTC that compiled the kernels ({what}); \
             update the driver, or point SYNTHVOL_NVRTC at an NVRTC no newer than the driver \
             (this machine has {})",
            probe()
        )),
        code => Error::device(format!("CUDA error {code:?} while {what}")),
    }
}

fn blas_err(what: &str) -> impl Fn(cudarc::cublas::result::CublasError) -> Error + '_ {
    move |e| Error::device(format!("cuBLAS error {:?} while {what}", e.0))
}

/// The kernels compiled for one architecture: every family's PTX, and which NVRTC made it.
struct Compiled {
    ptx: Vec<(&'static str, String)>,
    nvrtc: String,
}

/// The PTX of every kernel family for one architecture, compiled once per process.
fn ptx_for(arch: &'static str) -> Result<Arc<Compiled>> {
    static CACHE: OnceLock<Mutex<HashMap<&'static str, Arc<Compiled>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(p) = cache.lock().map_err(|_| poisoned())?.get(arch) {
        return Ok(p.clone());
    }
    let nvrtc = Nvrtc::load(&candidates())?;
    let (major, minor) = nvrtc.version();
    let ptx = Arc::new(Compiled {
        ptx: kernels::compile_all(&nvrtc, arch)?,
        nvrtc: format!("{} of CUDA {major}.{minor}", nvrtc.name()),
    });
    cache
        .lock()
        .map_err(|_| poisoned())?
        .insert(arch, ptx.clone());
    Ok(ptx)
}

fn poisoned() -> Error {
    Error::device("a CUDA backend's lock was poisoned by an earlier panic")
}

/// Device copies of what the diffusion kernels read: a layout's block sizes and a schedule's
/// arrays, kept while the same layout and schedule come back (every step of a run).
#[derive(Default)]
struct Cache {
    blocks: Option<(Vec<usize>, CudaSlice<i32>)>,
    sched: Option<(Vec<f64>, CudaSlice<f64>, CudaSlice<f64>)>,
    /// Scratch: a DP step's normals, and clip factors.
    noise: Option<CudaSlice<f32>>,
    factor: Option<CudaSlice<f32>>,
    key: Option<CudaSlice<u32>>,
}

/// The CUDA backend on one device.
pub struct CudaBackend {
    ordinal: usize,
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    blas: CudaBlas,
    funcs: HashMap<String, CudaFunction>,
    max_blocks: u32,
    cache: Mutex<Cache>,
}

impl CudaBackend {
    /// Opens device `ordinal`: checks the driver, cuBLAS and NVRTC, compiles (or reuses) the
    /// kernels for the device's architecture and loads them. Every failure is a device error.
    pub fn new(ordinal: usize) -> Result<CudaBackend> {
        let asked = format!("device 'cuda:{ordinal}' was asked for");
        match probe() {
            Probe::NoDriver(_) => {
                return Err(Error::device(format!(
                    "{asked}, but this machine has {}; use device \"cpu\" or \"auto\"",
                    probe()
                )))
            }
            Probe::Driver { devices, .. } if ordinal >= devices.max(0) as usize => {
                return Err(Error::device(format!(
                    "{asked}, but this machine has {}; devices are numbered from 0",
                    probe()
                )))
            }
            Probe::Driver { .. } => {}
        }
        // SAFETY: only tries to open the libraries (cudarc's own candidate names).
        let (driver, cublas) = unsafe {
            (
                cudarc::driver::sys::is_culib_present(),
                cudarc::cublas::sys::is_culib_present(),
            )
        };
        if !driver {
            return Err(Error::device(format!(
                "{asked}, but cudarc cannot open the driver library (libcuda.so)"
            )));
        }
        if !cublas {
            return Err(Error::device(format!(
                "{asked}, but cuBLAS (libcublas.so.12) is not on the loader's path; install the \
                 CUDA toolkit's cuBLAS or the nvidia-cublas-cu12 wheel and add its lib directory \
                 to LD_LIBRARY_PATH"
            )));
        }
        let ctx = CudaContext::new(ordinal).map_err(cuda_err("opening the device"))?;
        // One stream: cudarc's per-buffer events would only cost time.
        // SAFETY: no buffer of this context is ever used on another stream.
        unsafe { ctx.disable_event_tracking() };
        let (major, minor) = ctx
            .compute_capability()
            .map_err(cuda_err("asking for the compute capability"))?;
        let arch = match major {
            9.. => kernels::ARCHS[1],
            8 => kernels::ARCHS[0],
            _ => {
                return Err(Error::device(format!(
                    "{asked}, but its compute capability {major}.{minor} is older than 8.0 \
                     (Ampere), the oldest the kernels are built for"
                )))
            }
        };
        let mut funcs = HashMap::new();
        let compiled = ptx_for(arch)?;
        for (file, ptx) in &compiled.ptx {
            let module = ctx
                .load_module(cudarc::nvrtc::Ptx::from_src(ptx.clone()))
                .map_err(cuda_err(&format!(
                    "loading the kernels of {file}, compiled by {}",
                    compiled.nvrtc
                )))?;
            let src = kernels::FAMILIES
                .iter()
                .find(|(f, _)| f == file)
                .map(|(_, s)| *s)
                .unwrap_or_default();
            for name in kernels::entry_points(src) {
                let f = module
                    .load_function(&name)
                    .map_err(cuda_err(&format!("loading kernel {name}")))?;
                funcs.insert(name, f);
            }
        }
        let sms = ctx
            .attribute(
                cudarc::driver::sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
            )
            .map_err(cuda_err("asking for the multiprocessor count"))?;
        let stream = ctx.default_stream();
        let blas = CudaBlas::new(stream.clone()).map_err(blas_err("creating a cuBLAS handle"))?;
        Ok(CudaBackend {
            ordinal,
            ctx,
            stream,
            blas,
            funcs,
            max_blocks: (sms.max(1) as u32) * 32,
            cache: Mutex::new(Cache::default()),
        })
    }

    fn func(&self, name: &str) -> Result<&CudaFunction> {
        self.funcs
            .get(name)
            .ok_or_else(|| Error::device(format!("kernel {name} is missing from the PTX")))
    }

    /// A grid-stride launch over `n` items.
    fn grid(&self, n: usize) -> LaunchConfig {
        let blocks = n
            .div_ceil(THREADS as usize)
            .clamp(1, self.max_blocks as usize) as u32;
        LaunchConfig {
            grid_dim: (blocks, 1, 1),
            block_dim: (THREADS, 1, 1),
            shared_mem_bytes: 0,
        }
    }

    /// Waits for the stream, so that a kernel's error surfaces here.
    pub fn synchronize(&self) -> Result<()> {
        self.stream
            .synchronize()
            .map_err(cuda_err("waiting for the GPU"))
    }

    /// The device's name, as the driver gives it.
    pub fn device_name(&self) -> String {
        self.ctx.name().unwrap_or_else(|_| "an NVIDIA GPU".into())
    }

    /// A scratch buffer of at least `len` elements from `slot`, grown on demand.
    fn scratch<'c, T: DeviceRepr + cudarc::driver::ValidAsZeroBits>(
        &self,
        slot: &'c mut Option<CudaSlice<T>>,
        len: usize,
    ) -> Result<&'c mut CudaSlice<T>> {
        if slot.as_ref().is_none_or(|s| s.len() < len) {
            *slot = Some(
                self.stream
                    .alloc_zeros::<T>(len.max(1))
                    .map_err(cuda_err("allocating scratch memory"))?,
            );
        }
        slot.as_mut().ok_or_else(poisoned)
    }

    /// `z` ← `len` standard normals from ChaCha20 under `key` on `stream` (the DP noise).
    fn normals(
        &self,
        cache: &mut Cache,
        key: &[u8; 32],
        stream: u64,
        len: usize,
    ) -> Result<CudaSlice<f32>> {
        let words: Vec<u32> = key
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let kbuf = self.scratch(&mut cache.key, 8)?;
        self.stream
            .memcpy_htod(&words, kbuf)
            .map_err(cuda_err("copying a noise key"))?;
        let mut z = cache.noise.take().filter(|z| z.len() >= len).map_or_else(
            || {
                self.stream
                    .alloc_zeros::<f32>(len.max(1))
                    .map_err(cuda_err("allocating the DP noise"))
            },
            Ok,
        )?;
        let kbuf = cache.key.as_ref().ok_or_else(poisoned)?;
        let n = len as u64;
        // Eight normals per ChaCha20 block.
        let cfg = self.grid(len.div_ceil(8));
        // SAFETY: the kernel's signature; z holds at least len floats.
        unsafe {
            self.stream
                .launch_builder(self.func("sv_normal_chacha20")?)
                .arg(kbuf)
                .arg(&stream)
                .arg(&mut z)
                .arg(&n)
                .launch(cfg)
        }
        .map_err(cuda_err("drawing the DP noise"))?;
        Ok(z)
    }

    fn blocks_and_schedule(
        &self,
        cache: &mut Cache,
        layout: &Layout,
        sched: Option<&Schedule>,
    ) -> Result<()> {
        if cache
            .blocks
            .as_ref()
            .is_none_or(|(b, _)| *b != layout.blocks)
        {
            let b: Vec<i32> = layout.blocks.iter().map(|&k| k as i32).collect();
            let mut d = self
                .stream
                .alloc_zeros::<i32>(b.len().max(1))
                .map_err(cuda_err("allocating the layout"))?;
            if !b.is_empty() {
                self.stream
                    .memcpy_htod(&b, &mut d)
                    .map_err(cuda_err("copying the layout"))?;
            }
            cache.blocks = Some((layout.blocks.clone(), d));
        }
        if let Some(s) = sched {
            if cache
                .sched
                .as_ref()
                .is_none_or(|(ab, _, _)| *ab != s.alpha_bar)
            {
                let a = self
                    .stream
                    .clone_htod(&s.alpha)
                    .map_err(cuda_err("copying the schedule"))?;
                let ab = self
                    .stream
                    .clone_htod(&s.alpha_bar)
                    .map_err(cuda_err("copying the schedule"))?;
                cache.sched = Some((s.alpha_bar.clone(), a, ab));
            }
        }
        Ok(())
    }

    /// A few operations against the CPU backend on small random inputs: run once when `auto`
    /// picks the GPU, so that a broken driver, library or kernel sends `auto` to the CPU rather
    /// than giving wrong rows. Err says which operation disagreed.
    pub fn self_test(&self) -> Result<()> {
        let cpu = CpuBackend::<f32>::new();
        let (m, n, k) = (37usize, 29usize, 53usize);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7919) % 97) as f32 / 97.0 - 0.5)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 104_729) % 89) as f32 / 89.0 - 0.5)
            .collect();
        let g = Gemm {
            trans_a: false,
            trans_b: true,
            m,
            n,
            k,
            alpha: 1.0,
            beta: 0.0,
        };
        let mut c_cpu = vec![f32::NAN; m * n];
        cpu.gemm(g, &a, 0, &b, 0, &mut c_cpu, 0)?;
        let (da, db) = (self.upload_new(&a)?, self.upload_new(&b)?);
        let mut dc = self.alloc(m * n)?;
        self.gemm(g, &da, 0, &db, 0, &mut dc, 0)?;
        let bias: Vec<f32> = (0..n).map(|i| i as f32 * 0.01 - 0.1).collect();
        cpu.bias_act(&mut c_cpu, m, n, &bias, 0, Act::Silu, None)?;
        self.bias_act(&mut dc, m, n, &self.upload_new(&bias)?, 0, Act::Silu, None)?;
        let mut c_dev = vec![0.0f32; m * n];
        self.download(&dc, 0, &mut c_dev)?;
        if let Some(bad) = disagreement(&c_cpu, &c_dev) {
            return Err(Error::device(format!(
                "{}: the GPU's GEMM and SiLU disagree with the CPU's ({bad})",
                self.device_name()
            )));
        }
        // one ancestral step on a mixed layout: the same streams give the same rows
        let layout = Layout {
            n_num: 3,
            blocks: vec![4, 2],
        };
        let sched = Schedule::cosine(50);
        let rows = 64;
        let w = layout.width();
        let out: Vec<f32> = (0..rows * w)
            .map(|i| ((i * 31) % 17) as f32 * 0.3 - 2.0)
            .collect();
        let mut x_cpu = vec![0.0f32; rows * w];
        cpu.prior(&layout, &mut x_cpu, rows, RowStreams::single(3, 1))?;
        let mut dx = self.alloc(rows * w)?;
        self.prior(&layout, &mut dx, rows, RowStreams::single(3, 1))?;
        let blocked = RowStreams {
            seed: 3,
            stream: 2,
            block_rows: 16,
            stride: 1 << 32,
        };
        cpu.p_sample(&layout, &sched, 20, &out, &mut x_cpu, rows, blocked)?;
        self.p_sample(
            &layout,
            &sched,
            20,
            &self.upload_new(&out)?,
            &mut dx,
            rows,
            blocked,
        )?;
        let mut x_dev = vec![0.0f32; rows * w];
        self.download(&dx, 0, &mut x_dev)?;
        if let Some(bad) = disagreement(&x_cpu, &x_dev) {
            return Err(Error::device(format!(
                "{}: the GPU's diffusion step disagrees with the CPU's ({bad})",
                self.device_name()
            )));
        }
        Ok(())
    }

    fn upload_new(&self, host: &[f32]) -> Result<CudaSlice<f32>> {
        let mut b = self.alloc(host.len())?;
        self.upload(&mut b, 0, host)?;
        Ok(b)
    }
}

/// Where the self-test's GPU values (`gpu`) leave 1e-4 relative agreement with the CPU's, or are
/// not finite: a description; `None` when they agree.
fn disagreement(cpu: &[f32], gpu: &[f32]) -> Option<String> {
    cpu.iter().zip(gpu).enumerate().find_map(|(i, (&c, &g))| {
        let ok = (c - g).abs() / (1.0 + c.abs()) <= 1e-4; // false for NaN
        (!ok).then(|| format!("element {i}: {g} against {c}"))
    })
}

fn act_code(act: Act) -> i32 {
    match act {
        Act::Identity => 0,
        Act::Relu => 1,
        Act::Silu => 2,
    }
}

fn check(what: &str, need: usize, have: usize) -> Result<()> {
    if need > have {
        return Err(Error::invalid(format!(
            "{what} reaches element {need} of a device buffer of {have}"
        )));
    }
    Ok(())
}

impl Backend for CudaBackend {
    type Elem = f32;
    type Buf = CudaSlice<f32>;

    fn name(&self) -> String {
        format!("cuda:{}", self.ordinal)
    }

    fn alloc(&self, len: usize) -> Result<CudaSlice<f32>> {
        self.stream
            .alloc_zeros::<f32>(len.max(1))
            .map_err(cuda_err("allocating device memory"))
    }

    fn upload(&self, dst: &mut CudaSlice<f32>, off: usize, src: &[f32]) -> Result<()> {
        if src.is_empty() {
            return Ok(());
        }
        check("an upload", off + src.len(), dst.len())?;
        self.stream
            .memcpy_htod(src, &mut dst.slice_mut(off..off + src.len()))
            .map_err(cuda_err("copying to the GPU"))
    }

    fn download(&self, src: &CudaSlice<f32>, off: usize, dst: &mut [f32]) -> Result<()> {
        if dst.is_empty() {
            return Ok(());
        }
        check("a download", off + dst.len(), src.len())?;
        self.stream
            .memcpy_dtoh(&src.slice(off..off + dst.len()), dst)
            .map_err(cuda_err("copying from the GPU"))?;
        self.synchronize()
    }

    fn fill(&self, dst: &mut CudaSlice<f32>, off: usize, len: usize, value: f64) -> Result<()> {
        if len == 0 {
            return Ok(());
        }
        check("a fill", off + len, dst.len())?;
        let (n, v) = (len as u64, value as f32);
        let mut d = dst.slice_mut(off..off + len);
        // SAFETY: the kernel's signature; the view holds len floats.
        unsafe {
            self.stream
                .launch_builder(self.func("sv_fill")?)
                .arg(&mut d)
                .arg(&n)
                .arg(&v)
                .launch(self.grid(len))
        }
        .map_err(cuda_err("filling a buffer"))?;
        Ok(())
    }

    fn gemm(
        &self,
        g: Gemm,
        a: &CudaSlice<f32>,
        a_off: usize,
        b: &CudaSlice<f32>,
        b_off: usize,
        c: &mut CudaSlice<f32>,
        c_off: usize,
    ) -> Result<()> {
        if g.m == 0 || g.n == 0 {
            return Ok(());
        }
        check("a GEMM's A", a_off + g.m * g.k, a.len())?;
        check("a GEMM's B", b_off + g.k * g.n, b.len())?;
        check("a GEMM's C", c_off + g.m * g.n, c.len())?;
        // Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: cuBLAS gets B first.
        let op = |t: bool| {
            if t {
                cublasOperation_t::CUBLAS_OP_T
            } else {
                cublasOperation_t::CUBLAS_OP_N
            }
        };
        let cfg = GemmConfig {
            transa: op(g.trans_b),
            transb: op(g.trans_a),
            m: g.n as i32,
            n: g.m as i32,
            k: g.k as i32,
            alpha: g.alpha as f32,
            lda: (if g.trans_b { g.k } else { g.n }) as i32,
            ldb: (if g.trans_a { g.m } else { g.k }) as i32,
            beta: g.beta as f32,
            ldc: g.n as i32,
        };
        let av = a.slice(a_off..);
        let bv = b.slice(b_off..);
        let mut cv = c.slice_mut(c_off..);
        // SAFETY: the shapes and leading dimensions fit the views (checked above).
        unsafe { self.blas.gemm(cfg, &bv, &av, &mut cv) }.map_err(blas_err("running SGEMM"))
    }

    fn bias_act(
        &self,
        x: &mut CudaSlice<f32>,
        rows: usize,
        cols: usize,
        bias: &CudaSlice<f32>,
        bias_off: usize,
        act: Act,
        out: Option<&mut CudaSlice<f32>>,
    ) -> Result<()> {
        let len = rows * cols;
        if len == 0 {
            return Ok(());
        }
        check("bias_act", len, x.len())?;
        check("bias_act's bias", bias_off + cols, bias.len())?;
        let (r, c, a) = (rows as u64, cols as u64, act_code(act));
        let bv = bias.slice(bias_off..);
        let null = 0u64;
        let f = self.func("sv_bias_act")?;
        let mut l = self.stream.launch_builder(f);
        l.arg(x).arg(&r).arg(&c).arg(&bv).arg(&a);
        match out {
            Some(o) => {
                check("bias_act's output", len, o.len())?;
                l.arg(o)
            }
            None => l.arg(&null),
        };
        // SAFETY: the kernel's signature; the buffers hold rows × cols floats.
        unsafe { l.launch(self.grid(len)) }.map_err(cuda_err("adding a bias"))?;
        Ok(())
    }

    fn add_act(
        &self,
        src: &CudaSlice<f32>,
        dst: &mut CudaSlice<f32>,
        len: usize,
        act: Act,
    ) -> Result<()> {
        if len == 0 {
            return Ok(());
        }
        check("add_act", len, src.len().min(dst.len()))?;
        let (n, a) = (len as u64, act_code(act));
        // SAFETY: the kernel's signature; both buffers hold len floats.
        unsafe {
            self.stream
                .launch_builder(self.func("sv_add_act")?)
                .arg(src)
                .arg(dst)
                .arg(&n)
                .arg(&a)
                .launch(self.grid(len))
        }
        .map_err(cuda_err("adding a residual"))?;
        Ok(())
    }

    fn act_backward(
        &self,
        g: &mut CudaSlice<f32>,
        saved: &CudaSlice<f32>,
        len: usize,
        act: Act,
    ) -> Result<()> {
        if len == 0 {
            return Ok(());
        }
        check("act_backward", len, g.len().min(saved.len()))?;
        let (n, a) = (len as u64, act_code(act));
        // SAFETY: the kernel's signature; both buffers hold len floats.
        unsafe {
            self.stream
                .launch_builder(self.func("sv_act_backward")?)
                .arg(g)
                .arg(saved)
                .arg(&n)
                .arg(&a)
                .launch(self.grid(len))
        }
        .map_err(cuda_err("an activation's gradient"))?;
        Ok(())
    }

    fn col_sum(
        &self,
        g: &CudaSlice<f32>,
        rows: usize,
        cols: usize,
        dst: &mut CudaSlice<f32>,
        dst_off: usize,
        beta: f64,
    ) -> Result<()> {
        if cols == 0 {
            return Ok(());
        }
        check("col_sum", rows * cols, g.len())?;
        check("col_sum's output", dst_off + cols, dst.len())?;
        let (r, c, b) = (rows as u64, cols as u64, beta as f32);
        let mut d = dst.slice_mut(dst_off..dst_off + cols);
        // SAFETY: the kernel's signature; g holds rows × cols floats, d cols.
        unsafe {
            self.stream
                .launch_builder(self.func("sv_col_sum")?)
                .arg(g)
                .arg(&r)
                .arg(&c)
                .arg(&mut d)
                .arg(&b)
                .launch(self.grid(cols))
        }
        .map_err(cuda_err("summing a bias gradient"))?;
        Ok(())
    }

    fn timestep_embedding(
        &self,
        t: &CudaSlice<f32>,
        rows: usize,
        dim: usize,
        out: &mut CudaSlice<f32>,
    ) -> Result<()> {
        if rows * dim == 0 {
            return Ok(());
        }
        check("timestep_embedding", rows * dim, out.len())?;
        let (r, d) = (rows as u64, dim as i32);
        // SAFETY: the kernel's signature; t holds rows floats, out rows × dim.
        unsafe {
            self.stream
                .launch_builder(self.func("sv_timestep_embedding")?)
                .arg(t)
                .arg(&r)
                .arg(&d)
                .arg(out)
                .launch(self.grid(rows * dim))
        }
        .map_err(cuda_err("embedding timesteps"))?;
        Ok(())
    }

    fn gather_rows(
        &self,
        table: &CudaSlice<f32>,
        table_off: usize,
        idx: &CudaSlice<f32>,
        rows: usize,
        cols: usize,
        dst: &mut CudaSlice<f32>,
    ) -> Result<()> {
        if rows * cols == 0 {
            return Ok(());
        }
        check("gather_rows", rows * cols, dst.len())?;
        let (r, c) = (rows as u64, cols as u64);
        let tv = table.slice(table_off..);
        // SAFETY: the kernel's signature; the indices address rows of the table (the callers'
        // row numbers, as on the CPU).
        unsafe {
            self.stream
                .launch_builder(self.func("sv_gather_rows")?)
                .arg(&tv)
                .arg(idx)
                .arg(&r)
                .arg(&c)
                .arg(dst)
                .launch(self.grid(rows * cols))
        }
        .map_err(cuda_err("gathering rows"))?;
        Ok(())
    }

    fn scatter_add_rows(
        &self,
        src: &CudaSlice<f32>,
        idx: &CudaSlice<f32>,
        rows: usize,
        cols: usize,
        dst: &mut CudaSlice<f32>,
        dst_off: usize,
    ) -> Result<()> {
        if rows * cols == 0 {
            return Ok(());
        }
        check("scatter_add_rows", rows * cols, src.len())?;
        let (r, c) = (rows as u64, cols as u64);
        let mut d = dst.slice_mut(dst_off..);
        // SAFETY: the kernel's signature; the indices address rows of dst (as on the CPU).
        unsafe {
            self.stream
                .launch_builder(self.func("sv_scatter_add_rows")?)
                .arg(src)
                .arg(idx)
                .arg(&r)
                .arg(&c)
                .arg(&mut d)
                .launch(self.grid(cols))
        }
        .map_err(cuda_err("adding rows"))?;
        Ok(())
    }

    fn clip_row_groups(
        &self,
        grads: &mut [(&mut CudaSlice<f32>, usize)],
        terms: &[NormTerm<'_, CudaSlice<f32>>],
        rows: usize,
        k: usize,
        max_norm: f64,
        sq: &mut CudaSlice<f32>,
    ) -> Result<()> {
        let groups = rows / k.max(1);
        if groups == 0 {
            return Ok(());
        }
        if k * k * 8 > 48 * 1024 {
            return Err(Error::invalid(format!(
                "{k} rows per private row is more than the GPU's clipping kernel takes (77)"
            )));
        }
        check("the clipping's norms", groups, sq.len())?;
        self.fill(sq, 0, groups, 0.0)?;
        let (ng, ki) = (groups as u64, k as i32);
        let null = 0u64;
        for term in terms {
            let (g, wg) = (&*grads[term.g].0, grads[term.g].1 as u64);
            let bias = term.bias as i32;
            let cfg = LaunchConfig {
                grid_dim: (groups as u32, 1, 1),
                block_dim: (((k * k).div_ceil(32) * 32).min(256) as u32, 1, 1),
                shared_mem_bytes: (2 * k * k * 4) as u32,
            };
            let f = self.func("sv_gram_norm")?;
            let mut l = self.stream.launch_builder(f);
            let wa;
            match term.a {
                Some((a, w)) => {
                    wa = w as u64;
                    l.arg(a).arg(&wa)
                }
                None => {
                    wa = 0;
                    l.arg(&null).arg(&wa)
                }
            };
            l.arg(g).arg(&wg).arg(&ng).arg(&ki).arg(&bias).arg(&mut *sq);
            // SAFETY: the kernel's signature; groups × k rows of each buffer.
            unsafe { l.launch(cfg) }.map_err(cuda_err("per-sample gradient norms"))?;
        }
        let mut cache = self.cache.lock().map_err(|_| poisoned())?;
        let factor = self.scratch(&mut cache.factor, groups)?;
        // SAFETY: the kernel's signature; sq and factor hold groups floats.
        unsafe {
            self.stream
                .launch_builder(self.func("sv_clip_factors")?)
                .arg(&*sq)
                .arg(&ng)
                .arg(&max_norm)
                .arg(&mut *factor)
                .launch(self.grid(groups))
        }
        .map_err(cuda_err("clip factors"))?;
        let r = (groups * k) as u64;
        for (g, w) in grads.iter_mut() {
            let wu = *w as u64;
            // SAFETY: the kernel's signature; groups × k rows of width w.
            unsafe {
                self.stream
                    .launch_builder(self.func("sv_scale_row_groups")?)
                    .arg(&mut **g)
                    .arg(&r)
                    .arg(&wu)
                    .arg(&ki)
                    .arg(&*factor)
                    .launch(self.grid(groups * k * *w))
            }
            .map_err(cuda_err("clipping gradients"))?;
        }
        Ok(())
    }

    fn add_noise_and_scale(
        &self,
        x: &mut CudaSlice<f32>,
        len: usize,
        std: f64,
        scale: f64,
        key: &[u8; 32],
        stream: u64,
    ) -> Result<()> {
        if len == 0 {
            return Ok(());
        }
        check("add_noise_and_scale", len, x.len())?;
        let mut cache = self.cache.lock().map_err(|_| poisoned())?;
        let z = self.normals(&mut cache, key, stream, len)?;
        let (n, s, c) = (len as u64, std as f32, scale as f32);
        // SAFETY: the kernel's signature; x and z hold len floats.
        let r = unsafe {
            self.stream
                .launch_builder(self.func("sv_noise_scale")?)
                .arg(&mut *x)
                .arg(&z)
                .arg(&n)
                .arg(&s)
                .arg(&c)
                .launch(self.grid(len))
        };
        cache.noise = Some(z);
        r.map_err(cuda_err("adding the DP noise"))?;
        Ok(())
    }

    fn adamw(
        &self,
        params: &mut CudaSlice<f32>,
        grads: &mut CudaSlice<f32>,
        m: &mut CudaSlice<f32>,
        v: &mut CudaSlice<f32>,
        ema: &mut CudaSlice<f32>,
        range: std::ops::Range<usize>,
        step: AdamStep,
    ) -> Result<()> {
        let len = range.len();
        if len == 0 {
            return Ok(());
        }
        for (what, b) in [
            ("parameters", &*params),
            ("gradients", &*grads),
            ("first moments", &*m),
            ("second moments", &*v),
            ("EMA", &*ema),
        ] {
            check(what, range.end, b.len())?;
        }
        let consts = AdamConsts::new(&step);
        let mut cache = self.cache.lock().map_err(|_| poisoned())?;
        let noise = match &step.noise {
            Some(GradNoise { key, stream, .. }) => {
                Some(self.normals(&mut cache, key, *stream, len)?)
            }
            None => None,
        };
        let (ns, nc) = step
            .noise
            .map_or((0.0f32, 1.0f32), |n| (n.std as f32, n.scale as f32));
        let n = len as u64;
        let null = 0u64;
        let (mut p, mut g) = (
            params.slice_mut(range.clone()),
            grads.slice_mut(range.clone()),
        );
        let (mut mv, mut vv) = (m.slice_mut(range.clone()), v.slice_mut(range.clone()));
        let mut e = ema.slice_mut(range);
        let f = self.func("sv_adamw_ema")?;
        let mut l = self.stream.launch_builder(f);
        l.arg(&mut p)
            .arg(&mut g)
            .arg(&mut mv)
            .arg(&mut vv)
            .arg(&mut e)
            .arg(&n)
            .arg(&consts);
        match &noise {
            Some(z) => l.arg(z),
            None => l.arg(&null),
        };
        l.arg(&ns).arg(&nc);
        // SAFETY: the kernel's signature; every view holds len floats.
        let r = unsafe { l.launch(self.grid(len)) };
        if let Some(z) = noise {
            cache.noise = Some(z);
        }
        r.map_err(cuda_err("the AdamW step"))?;
        Ok(())
    }
}

/// Sampling's blocks of 256 rows per launch on the GPU: 32,768 rows, enough to fill the GPU's
/// multiprocessors with the default network's GEMMs while a block's workspace stays small
/// (about 0.5 GB at [512, 512]).
const GPU_BLOCKS_PER_LAUNCH: usize = 128;

impl DiffusionOps for CudaBackend {
    fn blocks_per_launch(&self) -> usize {
        GPU_BLOCKS_PER_LAUNCH
    }

    fn q_sample(
        &self,
        layout: &Layout,
        sched: &Schedule,
        x0: &CudaSlice<f32>,
        t: &CudaSlice<f32>,
        rows: usize,
        seed: u64,
        stream: u64,
        row0: u64,
        xt: &mut CudaSlice<f32>,
        eps: &mut CudaSlice<f32>,
    ) -> Result<()> {
        if rows == 0 {
            return Ok(());
        }
        let w = layout.width();
        check("q_sample", rows * w, x0.len().min(xt.len()))?;
        check("q_sample's noise", rows * layout.n_num.max(1), eps.len())?;
        let mut cache = self.cache.lock().map_err(|_| poisoned())?;
        self.blocks_and_schedule(&mut cache, layout, Some(sched))?;
        let (Some((_, blocks)), Some((_, _, ab))) = (&cache.blocks, &cache.sched) else {
            return Err(poisoned());
        };
        let (r, nn, nb, wu) = (
            rows as u64,
            layout.n_num as i32,
            layout.blocks.len() as i32,
            w as u64,
        );
        // SAFETY: the kernel's signature; the buffers hold rows rows of the layout.
        unsafe {
            self.stream
                .launch_builder(self.func("sv_q_sample")?)
                .arg(x0)
                .arg(t)
                .arg(&r)
                .arg(&nn)
                .arg(blocks)
                .arg(&nb)
                .arg(&wu)
                .arg(ab)
                .arg(&seed)
                .arg(&stream)
                .arg(&row0)
                .arg(xt)
                .arg(eps)
                .launch(self.grid(rows))
        }
        .map_err(cuda_err("forward noising"))?;
        Ok(())
    }

    fn loss_grad(
        &self,
        layout: &Layout,
        sched: &Schedule,
        out: &CudaSlice<f32>,
        x0: &CudaSlice<f32>,
        xt: &CudaSlice<f32>,
        eps: &CudaSlice<f32>,
        t: &CudaSlice<f32>,
        rows: usize,
        w: LossWeights,
        dout: &mut CudaSlice<f32>,
        row_loss: &mut CudaSlice<f32>,
    ) -> Result<()> {
        if rows == 0 {
            return Ok(());
        }
        let wd = layout.width();
        check("loss_grad", rows * wd, out.len().min(dout.len()))?;
        check("loss_grad's losses", rows, row_loss.len())?;
        let mut cache = self.cache.lock().map_err(|_| poisoned())?;
        self.blocks_and_schedule(&mut cache, layout, Some(sched))?;
        let (Some((_, blocks)), Some((_, alpha, ab))) = (&cache.blocks, &cache.sched) else {
            return Err(poisoned());
        };
        let (r, nn, nb, wu) = (
            rows as u64,
            layout.n_num as i32,
            layout.blocks.len() as i32,
            wd as u64,
        );
        // SAFETY: the kernel's signature; the buffers hold rows rows of the layout.
        unsafe {
            self.stream
                .launch_builder(self.func("sv_loss_grad")?)
                .arg(out)
                .arg(x0)
                .arg(xt)
                .arg(eps)
                .arg(t)
                .arg(&r)
                .arg(&nn)
                .arg(blocks)
                .arg(&nb)
                .arg(&wu)
                .arg(alpha)
                .arg(ab)
                .arg(&w.gaussian)
                .arg(&w.multinomial)
                .arg(dout)
                .arg(row_loss)
                .launch(self.grid(rows))
        }
        .map_err(cuda_err("the loss gradient"))?;
        Ok(())
    }

    fn prior(
        &self,
        layout: &Layout,
        x: &mut CudaSlice<f32>,
        rows: usize,
        streams: RowStreams,
    ) -> Result<()> {
        if rows == 0 {
            return Ok(());
        }
        let w = layout.width();
        check("prior", rows * w, x.len())?;
        let mut cache = self.cache.lock().map_err(|_| poisoned())?;
        self.blocks_and_schedule(&mut cache, layout, None)?;
        let Some((_, blocks)) = &cache.blocks else {
            return Err(poisoned());
        };
        let block_rows = streams.block_rows.max(1) as u64;
        let (r, nn, nb, wu) = (
            rows as u64,
            layout.n_num as i32,
            layout.blocks.len() as i32,
            w as u64,
        );
        // SAFETY: the kernel's signature; x holds rows rows of the layout.
        unsafe {
            self.stream
                .launch_builder(self.func("sv_prior")?)
                .arg(x)
                .arg(&r)
                .arg(&nn)
                .arg(blocks)
                .arg(&nb)
                .arg(&wu)
                .arg(&streams.seed)
                .arg(&streams.stream)
                .arg(&block_rows)
                .arg(&streams.stride)
                .launch(self.grid(rows))
        }
        .map_err(cuda_err("drawing the prior"))?;
        Ok(())
    }

    fn p_sample(
        &self,
        layout: &Layout,
        sched: &Schedule,
        t: usize,
        out: &CudaSlice<f32>,
        x: &mut CudaSlice<f32>,
        rows: usize,
        streams: RowStreams,
    ) -> Result<()> {
        if rows == 0 {
            return Ok(());
        }
        if t >= sched.steps {
            return Err(Error::invalid(format!(
                "step {t} of a {}-step schedule",
                sched.steps
            )));
        }
        let w = layout.width();
        check("p_sample", rows * w, out.len().min(x.len()))?;
        let st = sched.step_consts(t);
        let mut cache = self.cache.lock().map_err(|_| poisoned())?;
        self.blocks_and_schedule(&mut cache, layout, None)?;
        let Some((_, blocks)) = &cache.blocks else {
            return Err(poisoned());
        };
        let block_rows = streams.block_rows.max(1) as u64;
        let (r, nn, nb, wu) = (
            rows as u64,
            layout.n_num as i32,
            layout.blocks.len() as i32,
            w as u64,
        );
        // SAFETY: the kernel's signature; the buffers hold rows rows of the layout.
        unsafe {
            self.stream
                .launch_builder(self.func("sv_p_sample")?)
                .arg(out)
                .arg(x)
                .arg(&r)
                .arg(&nn)
                .arg(blocks)
                .arg(&nb)
                .arg(&wu)
                .arg(&st)
                .arg(&SCORE_LIMIT)
                .arg(&streams.seed)
                .arg(&streams.stream)
                .arg(&block_rows)
                .arg(&streams.stride)
                .launch(self.grid(rows))
        }
        .map_err(cuda_err("a sampling step"))?;
        Ok(())
    }
}

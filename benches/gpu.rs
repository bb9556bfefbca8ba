//! The GPU backend's benchmarks (scripts/gpu-check runs them): cuBLAS's own SGEMM rate on the
//! TabDDPM Adult network's shapes at batch 4096 against our whole training step, the training
//! step of the small network [256, 256] at batch 256, the DP step against the non-private one,
//! and sampling 1,000,000 rows of the default network [512, 512] with T = 200; with PyTorch on
//! the same GPU in the same run where `python3` (or `$SYNTHVOL_TORCH_PYTHON`) has CUDA torch.
//!
//! `cargo bench --bench gpu` (add `-- --quick` for fewer repetitions). Without a GPU it says why
//! and exits.

use std::process::Command;
use std::time::Instant;

mod common;

use common::{data, layout, median};
use synthvol::internals::backend::cuda::CudaBackend;
use synthvol::internals::backend::{Backend, Gemm};
use synthvol::internals::diffusion::Schedule;
use synthvol::internals::nn::{Denoiser, DenoiserConfig};
use synthvol::internals::train::{DpConfig, OptimConfig, Trainer};
use synthvol::internals::{upload_weights, Sampler};
use synthvol::model::BLOCK_ROWS;

/// Median seconds per call of `f` (which waits for the GPU) over `reps` blocks of `per` calls.
fn time_blocks(reps: usize, per: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..per {
                    f();
                }
                t.elapsed().as_secs_f64() / per as f64
            })
            .collect(),
    )
}

fn config(layers: &[usize]) -> DenoiserConfig {
    DenoiserConfig {
        d_in: layout().width(),
        dim_t: 128,
        layers: layers.to_vec(),
        n_classes: 2,
    }
}

/// cuBLAS's rate (GFLOP/s) on the forward GEMMs of `layers` at `batch` rows.
fn cublas_rate(be: &CudaBackend, layers: &[usize], batch: usize) -> f64 {
    let d_in = layout().width();
    let mut dims = vec![d_in, 128];
    dims.extend_from_slice(layers);
    dims.push(d_in);
    let (mut flops, mut secs) = (0.0, 0.0);
    for w in dims.windows(2).skip(1) {
        let (k, n) = (w[0], w[1]);
        let a = be.alloc(batch * k).unwrap();
        let b = be.alloc(n * k).unwrap();
        let mut c = be.alloc(batch * n).unwrap();
        let g = Gemm {
            trans_a: false,
            trans_b: true,
            m: batch,
            n,
            k,
            alpha: 1.0,
            beta: 0.0,
        };
        let s = time_blocks(5, 20, || {
            be.gemm(g, &a, 0, &b, 0, &mut c, 0).unwrap();
            be.synchronize().unwrap();
        });
        flops += 2.0 * (batch * n * k) as f64;
        secs += s;
    }
    flops / secs / 1e9
}

struct Train {
    step_s: f64,
    dp_s: f64,
    gflops: f64,
}

fn train(be: &CudaBackend, layers: &[usize], batch: usize, quick: bool) -> Train {
    let layout = layout();
    let net = Denoiser::new(config(layers));
    let sched = Schedule::cosine(1000);
    let d = data(&layout, batch * 4);
    let init = net.init_params(1);
    let optim = OptimConfig {
        steps: 1_000_000,
        batch_size: batch,
        ..OptimConfig::default()
    };
    let mut plain = Trainer::new(be, &net, &layout, &sched, &d, &optim, &init, 1).unwrap();
    let mut private = Trainer::new(
        be,
        &net,
        &layout,
        &sched,
        &d,
        &OptimConfig {
            batch_size: batch + batch / 4,
            ..optim.clone()
        },
        &init,
        1,
    )
    .unwrap();
    private
        .enable_dp(DpConfig {
            q: 0.25,
            sigma: 1.0,
            max_grad_norm: 1.0,
            augment: 1,
            key: [3; 32],
            categorical_weight: 1.0,
        })
        .unwrap();
    let reps = if quick { 3 } else { 7 };
    let per = if quick { 10 } else { 30 };
    let (mut s, mut p) = (0usize, 0usize);
    let step_s = time_blocks(reps, per, || {
        plain.step(s).unwrap();
        s += 1;
    });
    let dp_s = time_blocks(reps, per, || {
        private.step(p).unwrap();
        p += 1;
    });
    let macs = net.macs_per_row() as f64;
    Train {
        step_s,
        dp_s,
        gflops: 6.0 * macs * batch as f64 / step_s / 1e9,
    }
}

/// Seconds to sample `rows` rows of `layers` with `timesteps` steps, launches of the backend's
/// blocks per launch (the sampler's own shape), the network and both posterior updates.
fn sample(be: &CudaBackend, layers: &[usize], rows: usize, timesteps: usize) -> f64 {
    use synthvol::internals::backend::DiffusionOps;
    let layout = layout();
    let net = Denoiser::new(config(layers));
    let sched = Schedule::cosine(timesteps);
    let params = upload_weights(be, &net.init_params(1)).unwrap();
    let per = be.blocks_per_launch() * BLOCK_ROWS;
    let launches = rows.div_ceil(per);
    let mut s = Sampler::new(be, &net, &layout, &sched, &params, per)
        .unwrap()
        .with_blocks(BLOCK_ROWS);
    s.set_labels(&vec![1.0; per]).unwrap();
    let mut out = vec![0f32; per * layout.width()];
    let t = Instant::now();
    for l in 0..launches {
        s.prior(per, 1, (l as u64) << 32).unwrap();
        for step in (0..timesteps).rev() {
            s.step(step, per, 1, step as u64).unwrap();
        }
        s.download(&mut out).unwrap();
    }
    t.elapsed().as_secs_f64()
}

/// PyTorch on the same GPU (`torch_peer.py --gpu`): JSON with its step times, or None.
fn torch_gpu(quick: bool) -> Option<serde_json::Value> {
    let py = std::env::var("SYNTHVOL_TORCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/torch_peer.py");
    let mut cmd = Command::new(&py);
    cmd.arg(script).arg("--gpu");
    if quick {
        cmd.arg("--quick");
    }
    let out = cmd.output().ok()?;
    if !out.status.success() {
        eprintln!(
            "(PyTorch on the GPU not run: {})",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("no CUDA torch")
        );
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let be = match CudaBackend::new(0) {
        Ok(b) => b,
        Err(e) => {
            println!("GPU benchmarks not run: {}", e.message);
            return;
        }
    };
    println!("device: {}", be.device_name());
    let big = [256, 1024, 1024, 1024, 1024, 256];
    let rate = cublas_rate(&be, &big, 4096);
    let tb = train(&be, &big, 4096, quick);
    let ts = train(&be, &[256, 256], 256, quick);
    let rows = if quick { 200_000 } else { 1_000_000 };
    let sample_s = sample(&be, &[512, 512], rows, 200);
    let peer = torch_gpu(quick);
    let peer_f = |k: &str, f: &str| peer.as_ref().and_then(|p| p[k][f].as_f64());
    let ratio = |theirs: Option<f64>, ours: f64| {
        theirs.map_or("(no CUDA torch)".to_string(), |t| {
            format!("{t:.4} s, ours {:.2}x faster", t / ours)
        })
    };
    println!("{:<58} {:>14}  PyTorch (same GPU)", "benchmark", "synthvol");
    println!(
        "{:<58} {:>11.2} ms  {}",
        "Adult [256,1024x4,256] batch 4096: train step",
        tb.step_s * 1e3,
        ratio(peer_f("big", "train_s"), tb.step_s)
    );
    println!(
        "{:<58} {:>13.0}%  (step {:.0} GFLOP/s, cuBLAS on its shapes {rate:.0} GFLOP/s; goal >= 50%)",
        "  share of cuBLAS's SGEMM rate",
        100.0 * tb.gflops / rate,
        tb.gflops
    );
    println!(
        "{:<58} {:>13.2}x  (goal <= 1.10)",
        "  DP step / non-private step",
        tb.dp_s / tb.step_s
    );
    println!(
        "{:<58} {:>11.3} ms  {}  (goal >= 3x)",
        "small [256,256] batch 256: train step",
        ts.step_s * 1e3,
        ratio(peer_f("small", "train_s"), ts.step_s)
    );
    println!(
        "{:<58} {:>13.2}x",
        "  DP step / non-private step",
        ts.dp_s / ts.step_s
    );
    let per_m = sample_s * 1e6 / rows as f64;
    println!(
        "{:<58} {:>12.2} s  {}  (goal <= 5 s, >= 2x)",
        "sampling 1,000,000 rows, [512,512], T = 200",
        per_m,
        ratio(peer_f("sample", "million_s"), per_m)
    );
}

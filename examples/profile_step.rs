//! Runs many training (or sampling) steps of the small benchmark network, for a profiler.
//! `BLAS=n` and `RAYON=n` override the thread counts:
//! `perf record cargo run --release --example profile_step -- [train|sample]`.

use synthvol::backend::{run_parallel, CpuBackend};
use synthvol::diffusion::{Layout, Schedule};
use synthvol::encode::Encoded;
use synthvol::model::Sampler;
use synthvol::nn::{Denoiser, DenoiserConfig};
use synthvol::train::{OptimConfig, Trainer};

fn main() {
    let what = std::env::args().nth(1).unwrap_or_else(|| "train".into());
    let layout = Layout {
        n_num: 6,
        blocks: vec![9, 16, 7, 15, 6, 5, 2, 41],
    };
    let w = layout.width();
    let batch = 256;
    let n = batch * 4;
    let mut x = vec![0f32; n * w];
    for i in 0..n {
        let mut off = layout.n_num;
        for &k in &layout.blocks {
            x[i * w + off + i % k] = 1.0;
            off += k;
        }
    }
    let data = Encoded {
        x,
        labels: Some((0..n).map(|i| (i % 2) as u32).collect()),
        n,
    };
    let cfg = DenoiserConfig {
        d_in: w,
        dim_t: 128,
        layers: vec![256, 256],
        n_classes: 2,
    };
    let net = Denoiser::new(cfg.clone());
    let sched = Schedule::cosine(1000);
    let init = net.init_params(1);
    run_parallel::<(), _>(
        std::env::var("RAYON")
            .map(|s| s.parse().unwrap())
            .unwrap_or(0),
        &mut |_| true,
        |_| {
            let be = CpuBackend::<f32>::new();
            if let Ok(n) = std::env::var("BLAS") {
                synthvol::backend::set_blas_threads(n.parse().unwrap());
            }
            if what == "gemm" {
                use synthvol::backend::{Backend, Gemm};
                // The GEMMs of one training step of the small network, in order: (m, n, k, ta, tb).
                let shapes = [
                    (256, 128, 107, false, true),
                    (256, 128, 128, false, true),
                    (256, 128, 128, false, true),
                    (256, 256, 128, false, true),
                    (256, 256, 256, false, true),
                    (256, 107, 256, false, true),
                    (107, 256, 256, true, false),
                    (256, 256, 107, false, false),
                    (256, 256, 256, true, false),
                    (256, 256, 256, false, false),
                    (256, 128, 256, true, false),
                    (256, 128, 256, false, false),
                    (128, 107, 256, true, false),
                    (128, 128, 256, true, false),
                    (256, 128, 128, false, false),
                    (128, 128, 256, true, false),
                ];
                let a = vec![0.1f32; 256 * 256];
                let b = vec![0.2f32; 256 * 256];
                let mut c = be.alloc(256 * 256);
                let flops: f64 = shapes
                    .iter()
                    .map(|&(m, n, k, _, _)| 2.0 * (m * n * k) as f64)
                    .sum();
                let t = std::time::Instant::now();
                for _ in 0..3000 {
                    for &(m, n, k, ta, tb) in &shapes {
                        be.gemm(
                            Gemm {
                                trans_a: ta,
                                trans_b: tb,
                                m,
                                n,
                                k,
                                alpha: 1.0,
                                beta: 0.0,
                            },
                            &a,
                            0,
                            &b,
                            0,
                            &mut c,
                            0,
                        );
                    }
                }
                let s = t.elapsed().as_secs_f64() / 3000.0;
                eprintln!(
                    "{:.3} ms per step's GEMMs, {:.1} GFLOP/s ({:.0} MFLOP)",
                    s * 1e3,
                    flops / s / 1e9,
                    flops / 1e6
                );
            } else if what == "dp" {
                let optim = OptimConfig {
                    steps: 100_000,
                    batch_size: batch + batch / 4,
                    ..OptimConfig::default()
                };
                let mut tr = Trainer::new(&be, &net, &layout, &sched, &data, &optim, &init, 1)
                    .expect("trainer");
                tr.enable_dp(synthvol::train::DpConfig {
                    q: 0.25,
                    sigma: 1.0,
                    max_grad_norm: 1.0,
                    augment: 1,
                    key: [3; 32],
                    categorical_weight: 1.0,
                })
                .expect("dp");
                let t = std::time::Instant::now();
                for s in 0..3000 {
                    tr.step(s).expect("step");
                }
                eprintln!("{:.3} ms/step", t.elapsed().as_secs_f64() / 3.0);
            } else if what == "train" {
                let optim = OptimConfig {
                    steps: 100_000,
                    batch_size: batch,
                    ..OptimConfig::default()
                };
                let mut tr = Trainer::new(&be, &net, &layout, &sched, &data, &optim, &init, 1)
                    .expect("trainer");
                let t = std::time::Instant::now();
                for s in 0..3000 {
                    tr.step(s).expect("step");
                }
                eprintln!("{:.3} ms/step", t.elapsed().as_secs_f64() / 3.0);
            } else {
                let rows = 10_000;
                let mut s = Sampler::new(&be, &cfg, layout.clone(), 1000, &init, rows);
                s.prior(rows, 1, 0);
                let t = std::time::Instant::now();
                for step in (900..1000).rev() {
                    s.step(step, rows, 1, step as u64);
                }
                eprintln!("{:.3} ms/step", t.elapsed().as_secs_f64() / 100.0 * 1e3);
            }
        },
    )
    .expect("threads");
}

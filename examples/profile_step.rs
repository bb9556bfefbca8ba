//! Runs many training (or sampling) steps of the small benchmark network, for a profiler.
//! `BLAS=n` and `RAYON=n` override the thread counts:
//! `perf record cargo run --release --example profile_step -- [train|sample]`.

use synthvol::internals::backend::{run_parallel, CpuBackend};
use synthvol::internals::diffusion::{Layout, Schedule};
use synthvol::internals::encode::Encoded;
use synthvol::internals::nn::{Denoiser, DenoiserConfig};
use synthvol::internals::train::{OptimConfig, Trainer};
use synthvol::internals::{upload_weights, Sampler};
use synthvol::model::BLOCK_ROWS;

/// The benchmark's DP setting (benches/engine.rs): q = 0.25 of 4 batches' rows, σ = C = 1.
fn bench_dp() -> synthvol::internals::train::DpConfig {
    synthvol::internals::train::DpConfig {
        q: 0.25,
        sigma: 1.0,
        max_grad_norm: 1.0,
        augment: 1,
        key: [3; 32],
        categorical_weight: 1.0,
    }
}

fn main() {
    let what = std::env::args().nth(1).unwrap_or_else(|| "train".into());
    let steps: usize = std::env::var("STEPS").map_or(3000, |s| s.parse().expect("STEPS"));
    let layout = Layout {
        n_num: 6,
        blocks: vec![9, 16, 7, 15, 6, 5, 2, 41],
    };
    let w = layout.width();
    let big = std::env::var("NET").is_ok_and(|s| s == "big");
    let batch =
        std::env::var("BATCH").map_or(if big { 1024 } else { 256 }, |s| s.parse().expect("BATCH"));
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
        layers: if big {
            vec![256, 1024, 1024, 1024, 1024, 256]
        } else {
            vec![256, 256]
        },
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
                synthvol::internals::backend::set_blas_threads(n.parse().unwrap());
            }
            if what == "gemm" {
                use synthvol::internals::backend::{Backend, Gemm};
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
                let a = vec![0.1f32; 300 * 300];
                let b = vec![0.2f32; 300 * 300];
                let mut c = be.alloc(300 * 300).unwrap();
                let run = |rows: usize, c: &mut Vec<f32>| {
                    let t = std::time::Instant::now();
                    for _ in 0..200 {
                        for &(m, n, k, ta, tb) in &shapes {
                            let (m, n, k) = (
                                if m == 256 { rows } else { m },
                                n,
                                if k == 256 && (ta || !tb) && m != 256 {
                                    rows
                                } else {
                                    k
                                },
                            );
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
                                c,
                                0,
                            )
                            .unwrap();
                        }
                    }
                    t.elapsed().as_secs_f64() / 200.0
                };
                let sizes = [256usize, 253, 250, 240, 248, 264];
                let mut times = vec![Vec::new(); sizes.len()];
                for _ in 0..15 {
                    for (i, &r) in sizes.iter().enumerate() {
                        times[i].push(run(r, &mut c));
                    }
                }
                for (i, &r) in sizes.iter().enumerate() {
                    times[i].sort_by(f64::total_cmp);
                    eprintln!(
                        "rows {r}: {:.3} ms per step's GEMMs (median of 15)",
                        times[i][7] * 1e3
                    );
                }
            } else if what == "dp" {
                let optim = OptimConfig {
                    steps: 100_000,
                    batch_size: batch + batch / 4,
                    ..OptimConfig::default()
                };
                let mut tr = Trainer::new(&be, &net, &layout, &sched, &data, &optim, &init, 1)
                    .expect("trainer");
                tr.enable_dp(bench_dp()).expect("dp");
                let t = std::time::Instant::now();
                for s in 0..steps {
                    tr.step(s).expect("step");
                }
                eprintln!(
                    "{:.3} ms/step",
                    t.elapsed().as_secs_f64() * 1e3 / steps as f64
                );
            } else if what == "ratio" {
                // Both trainers, alternating blocks of 20 steps: the ratio of DP to
                // non-private step time without the machine's drift between runs.
                let mk = |b: usize| {
                    let optim = OptimConfig {
                        steps: 100_000,
                        batch_size: b,
                        ..OptimConfig::default()
                    };
                    Trainer::new(&be, &net, &layout, &sched, &data, &optim, &init, 1)
                        .expect("trainer")
                };
                let mut plain = mk(batch);
                let mut dp = mk(batch + batch / 4);
                dp.enable_dp(bench_dp()).expect("dp");
                let block = 20;
                let (mut tp, mut td, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
                for round in 0..steps / block {
                    let t = std::time::Instant::now();
                    for s in 0..block {
                        plain.step(round * block + s).expect("step");
                    }
                    let a = t.elapsed().as_secs_f64() * 1e3 / block as f64;
                    let t = std::time::Instant::now();
                    for s in 0..block {
                        dp.step(round * block + s).expect("step");
                    }
                    let b = t.elapsed().as_secs_f64() * 1e3 / block as f64;
                    tp.push(a);
                    td.push(b);
                    ratios.push(b / a);
                }
                let med = |v: &mut Vec<f64>| {
                    v.sort_by(f64::total_cmp);
                    v[v.len() / 2]
                };
                eprintln!(
                    "plain {:.3} ms/step, dp {:.3} ms/step, ratio {:.3}",
                    med(&mut tp),
                    med(&mut td),
                    med(&mut ratios)
                );
            } else if what == "train" {
                let optim = OptimConfig {
                    steps: 100_000,
                    batch_size: batch,
                    ..OptimConfig::default()
                };
                let mut tr = Trainer::new(&be, &net, &layout, &sched, &data, &optim, &init, 1)
                    .expect("trainer");
                let t = std::time::Instant::now();
                for s in 0..steps {
                    tr.step(s).expect("step");
                }
                eprintln!(
                    "{:.3} ms/step",
                    t.elapsed().as_secs_f64() * 1e3 / steps as f64
                );
            } else {
                // 10,240 rows in blocks, as the sampler runs them.
                use synthvol::internals::backend::Backend;
                let blocks = 10_000usize.div_ceil(BLOCK_ROWS);
                let net = Denoiser::new(cfg.clone());
                let sched = Schedule::cosine(1000);
                let params = upload_weights(&be, &init).unwrap();
                let mut ws: Vec<_> = (0..blocks)
                    .map(|_| Sampler::new(&be, &net, &layout, &sched, &params, BLOCK_ROWS).unwrap())
                    .collect();
                for w in &mut ws {
                    w.prior(BLOCK_ROWS, 1, 0).unwrap();
                }
                let t = std::time::Instant::now();
                for step in (900..1000).rev() {
                    be.for_each_shard(&mut ws, &|w| w.step(step, BLOCK_ROWS, 1, step as u64))
                        .unwrap();
                }
                eprintln!("{:.3} ms/step", t.elapsed().as_secs_f64() / 100.0 * 1e3);
            }
        },
    )
    .expect("threads");
}

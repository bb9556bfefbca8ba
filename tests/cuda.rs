//! The CUDA backend against the CPU backend, on a GPU: every backend operation (f32, element-wise
//! relative error ≤ 1e-5, GEMMs within the f32 error bound of their size), DP-SGD's per-sample
//! norms, clip factors and clipped rows, the DP noise's standard deviation, tails and
//! reproducibility, the diffusion's four operations row for row (the GPU draws the CPU's random
//! numbers), and a whole fit and its samples, with models moving between the backends.
//!
//! Without a GPU (CI) the same tests check the other side: opening the backend is a device error
//! that says what the machine has, `device = cuda` fails that way through every door, `auto`
//! runs on the CPU. `SYNTHVOL_REQUIRE_GPU=1` (scripts/gpu-check) makes a missing GPU a failure.
#![cfg(feature = "cuda")]

mod common;

use common::*;
use rand_xoshiro::rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use synthvol::internals::backend::cuda::{probe, CudaBackend, Probe};
use synthvol::internals::backend::{
    Act, AdamStep, Backend, CpuBackend, DiffusionOps, Gemm, GradNoise, NormTerm, RowStreams,
};
use synthvol::internals::diffusion::{Layout, LossWeights, Schedule};
use synthvol::model::SampleOptions;
use synthvol::table::ColumnData;
use synthvol::{Device, ErrorKind};

/// The GPU backend where a GPU is, or `None` after checking that its absence is a clear error.
fn gpu() -> Option<CudaBackend> {
    let required = std::env::var("SYNTHVOL_REQUIRE_GPU").is_ok_and(|v| v == "1");
    let p = probe();
    let present = matches!(p, Probe::Driver { devices: 1.., .. });
    match CudaBackend::new(0) {
        Ok(be) => {
            assert!(present, "the backend opened, but the probe says {p}");
            Some(be)
        }
        Err(e) => {
            assert!(
                !required && !present,
                "a GPU is required or present ({p}), but the backend does not open: {}",
                e.message
            );
            assert_eq!(e.kind, ErrorKind::Device, "{}", e.message);
            assert!(
                e.message.contains("device 'cuda:0' was asked for, but")
                    && e.message.contains(&p.to_string()),
                "{}",
                e.message
            );
            None
        }
    }
}

fn up(be: &CudaBackend, x: &[f32]) -> <CudaBackend as Backend>::Buf {
    let mut b = be.alloc(x.len()).unwrap();
    be.upload(&mut b, 0, x).unwrap();
    b
}

fn down(be: &CudaBackend, b: &<CudaBackend as Backend>::Buf, n: usize) -> Vec<f32> {
    let mut v = vec![0.0f32; n];
    be.download(b, 0, &mut v).unwrap();
    v
}

fn random(rng: &mut Xoshiro256PlusPlus, n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|_| ((rng.next_u32() >> 8) as f32 / 8_388_608.0 - 1.0) * scale)
        .collect()
}

/// Element-wise relative agreement with a tiny absolute floor.
fn close(what: &str, gpu: &[f32], cpu: &[f32], rel: f32) {
    assert_eq!(gpu.len(), cpu.len(), "{what}: lengths");
    let mut worst = 0.0f32;
    for (i, (&g, &c)) in gpu.iter().zip(cpu).enumerate() {
        let tol = rel * c.abs().max(g.abs()) + 1e-6;
        assert!(
            (g - c).abs() <= tol,
            "{what}[{i}]: GPU {g} vs CPU {c} (tolerance {tol})"
        );
        worst = worst.max((g - c).abs() / (c.abs() + 1e-6));
    }
    eprintln!("parity {what}: worst relative difference {worst:.2e}");
}

#[test]
fn every_backend_operation_agrees_with_the_cpu_backend() {
    let Some(g) = gpu() else { return };
    let cpu = CpuBackend::<f32>::new();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);

    // GEMM: every transpose, offsets, beta 0 (NaN in C does not survive) and 1; within
    // 2·k·ε·Σ|a||b| of the CPU's, per element.
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let (m, n, k) = (67, 45, 129);
        let (ao, bo, co) = (5, 3, 7);
        let a = random(&mut rng, ao + m * k, 1.0);
        let b = random(&mut rng, bo + k * n, 1.0);
        for beta in [0.0, 1.0] {
            let mut c = random(&mut rng, co + m * n, 1.0);
            if beta == 0.0 {
                c[co] = f32::NAN;
            }
            let gm = Gemm {
                trans_a: ta,
                trans_b: tb,
                m,
                n,
                k,
                alpha: 0.75,
                beta,
            };
            let mut dc = up(&g, &c);
            g.gemm(gm, &up(&g, &a), ao, &up(&g, &b), bo, &mut dc, co)
                .unwrap();
            cpu.gemm(gm, &a, ao, &b, bo, &mut c, co).unwrap();
            let got = down(&g, &dc, co + m * n);
            let at = |i: usize, l: usize| {
                if ta {
                    a[ao + l * m + i]
                } else {
                    a[ao + i * k + l]
                }
            };
            let bt = |l: usize, j: usize| {
                if tb {
                    b[bo + j * k + l]
                } else {
                    b[bo + l * n + j]
                }
            };
            for i in 0..m {
                for j in 0..n {
                    let bound: f32 = (0..k).map(|l| (at(i, l) * bt(l, j)).abs()).sum::<f32>()
                        * 0.75
                        + beta as f32;
                    let (x, y) = (got[co + i * n + j], c[co + i * n + j]);
                    assert!(
                        (x - y).abs() <= 2.0 * k as f32 * f32::EPSILON * bound + 1e-6,
                        "gemm {ta} {tb} beta {beta} [{i},{j}]: {x} vs {y}"
                    );
                }
            }
            assert_eq!(&got[..co], &c[..co], "gemm wrote before its offset");
        }
    }

    // bias + activation (in place and into an output), residual add, activation backward
    let (rows, cols) = (300, 77);
    for act in [Act::Identity, Act::Relu, Act::Silu] {
        let x = random(&mut rng, rows * cols, 6.0);
        let bias = random(&mut rng, 3 + cols, 1.0);
        let (mut cx, mut cout) = (x.clone(), vec![0.0f32; rows * cols]);
        cpu.bias_act(&mut cx, rows, cols, &bias, 3, act, Some(&mut cout))
            .unwrap();
        let (mut gx, mut gout) = (up(&g, &x), g.alloc(rows * cols).unwrap());
        g.bias_act(&mut gx, rows, cols, &up(&g, &bias), 3, act, Some(&mut gout))
            .unwrap();
        close(
            &format!("bias_act {act:?} x"),
            &down(&g, &gx, rows * cols),
            &cx,
            1e-5,
        );
        close(
            &format!("bias_act {act:?} out"),
            &down(&g, &gout, rows * cols),
            &cout,
            1e-5,
        );
        let mut cin = x.clone();
        cpu.bias_act(&mut cin, rows, cols, &bias, 3, act, None)
            .unwrap();
        let mut gin = up(&g, &x);
        g.bias_act(&mut gin, rows, cols, &up(&g, &bias), 3, act, None)
            .unwrap();
        close(
            &format!("bias_act {act:?} in place"),
            &down(&g, &gin, rows * cols),
            &cin,
            1e-5,
        );

        let d = random(&mut rng, rows * cols, 1.0);
        let mut cd = d.clone();
        cpu.add_act(&x, &mut cd, rows * cols, act).unwrap();
        let mut gd = up(&g, &d);
        g.add_act(&up(&g, &x), &mut gd, rows * cols, act).unwrap();
        close(
            &format!("add_act {act:?}"),
            &down(&g, &gd, rows * cols),
            &cd,
            1e-5,
        );

        let mut cg = d.clone();
        cpu.act_backward(&mut cg, &x, rows * cols, act).unwrap();
        let mut gg = up(&g, &d);
        g.act_backward(&mut gg, &up(&g, &x), rows * cols, act)
            .unwrap();
        close(
            &format!("act_backward {act:?}"),
            &down(&g, &gg, rows * cols),
            &cg,
            1e-5,
        );
    }

    // column sums, beta 0 and 1, at an offset
    let gr = random(&mut rng, rows * cols, 1.0);
    for beta in [0.0, 1.0] {
        let mut cd = random(&mut rng, 9 + cols, 1.0);
        cd[9] = f32::NAN * (1.0 - beta as f32); // beta 0 overwrites it
        let mut gd = up(&g, &cd);
        cpu.col_sum(&gr, rows, cols, &mut cd, 9, beta).unwrap();
        g.col_sum(&up(&g, &gr), rows, cols, &mut gd, 9, beta)
            .unwrap();
        let got = down(&g, &gd, 9 + cols);
        close(&format!("col_sum beta {beta}"), &got[9..], &cd[9..], 1e-4);
        assert_eq!(&got[..9], &cd[..9]);
    }

    // timestep embedding, row gather and scatter-add (repeated indices), fill, copies
    let t: Vec<f32> = (0..rows).map(|i| (i * 37 % 1000) as f32).collect();
    let dim = 33;
    let mut ce = vec![0.0f32; rows * dim];
    cpu.timestep_embedding(&t, rows, dim, &mut ce).unwrap();
    let mut ge = g.alloc(rows * dim).unwrap();
    g.timestep_embedding(&up(&g, &t), rows, dim, &mut ge)
        .unwrap();
    close("timestep_embedding", &down(&g, &ge, rows * dim), &ce, 1e-5);

    let table = random(&mut rng, 4 + 10 * cols, 1.0);
    let idx: Vec<f32> = (0..rows).map(|i| ((i * 7) % 10) as f32).collect();
    let mut cg = vec![0.0f32; rows * cols];
    cpu.gather_rows(&table, 4, &idx, rows, cols, &mut cg)
        .unwrap();
    let mut gg = g.alloc(rows * cols).unwrap();
    g.gather_rows(&up(&g, &table), 4, &up(&g, &idx), rows, cols, &mut gg)
        .unwrap();
    assert_eq!(down(&g, &gg, rows * cols), cg, "gather_rows");

    let mut cs = table.clone();
    cpu.scatter_add_rows(&gr, &idx, rows, cols, &mut cs, 4)
        .unwrap();
    let mut gs = up(&g, &table);
    g.scatter_add_rows(&up(&g, &gr), &up(&g, &idx), rows, cols, &mut gs, 4)
        .unwrap();
    // the same additions in the same order: the same bits
    assert_eq!(down(&g, &gs, table.len()), cs, "scatter_add_rows");

    let mut gf = up(&g, &table);
    g.fill(&mut gf, 4, 20, -2.5).unwrap();
    let mut cf = table.clone();
    cpu.fill(&mut cf, 4, 20, -2.5).unwrap();
    assert_eq!(down(&g, &gf, table.len()), cf, "fill");
    let mut part = vec![0.0f32; 13];
    g.download(&gf, 11, &mut part).unwrap();
    assert_eq!(part, cf[11..24], "download at an offset");

    // AdamW with the EMA over three steps, on a range (outside it nothing moves)
    let n = 5000;
    let (mut p, mut m, mut v) = (random(&mut rng, n, 1.0), vec![0.0f32; n], vec![0.0f32; n]);
    let mut e = p.clone();
    let (mut gp, mut gm_, mut gv, mut ge_) = (up(&g, &p), up(&g, &m), up(&g, &v), up(&g, &e));
    for t in 1..=3u64 {
        let grad = random(&mut rng, n, 0.5);
        let step = AdamStep {
            lr: 2e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-4,
            t,
            ema_rate: 0.999,
            noise: None,
        };
        let mut cg = grad.clone();
        cpu.adamw(&mut p, &mut cg, &mut m, &mut v, &mut e, 100..4900, step)
            .unwrap();
        let mut gg = up(&g, &grad);
        g.adamw(
            &mut gp,
            &mut gg,
            &mut gm_,
            &mut gv,
            &mut ge_,
            100..4900,
            step,
        )
        .unwrap();
    }
    close("adamw params", &down(&g, &gp, n), &p, 1e-5);
    close("adamw m", &down(&g, &gm_, n), &m, 1e-5);
    close("adamw v", &down(&g, &gv, n), &v, 1e-5);
    close("adamw ema", &down(&g, &ge_, n), &e, 1e-5);
}

#[test]
fn dp_clipping_and_noise_agree_with_the_cpu_backend() {
    let Some(g) = gpu() else { return };
    let cpu = CpuBackend::<f32>::new();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    for k in [1usize, 3] {
        let (groups, fan_in, fan_out, emb) = (200, 41, 23, 9);
        let rows = groups * k;
        let a = random(&mut rng, rows * fan_in, 1.0);
        // rows of growing size, so that some groups are clipped and some are not
        let scale = |i: usize, w: usize| 0.02 * (1 + i / (w * k)) as f32;
        let g1: Vec<f32> = random(&mut rng, rows * fan_out, 1.0)
            .iter()
            .enumerate()
            .map(|(i, x)| x * scale(i, fan_out))
            .collect();
        let g2: Vec<f32> = random(&mut rng, rows * emb, 1.0)
            .iter()
            .enumerate()
            .map(|(i, x)| x * scale(i, emb))
            .collect();
        let (mut c1, mut c2, mut csq) = (g1.clone(), g2.clone(), vec![0.0f32; groups]);
        {
            let terms = [
                NormTerm {
                    a: Some((&a, fan_in)),
                    g: 0,
                    bias: true,
                },
                NormTerm {
                    a: None,
                    g: 1,
                    bias: false,
                },
            ];
            let mut grads = [(&mut c1, fan_out), (&mut c2, emb)];
            cpu.clip_row_groups(&mut grads, &terms, rows, k, 1.0, &mut csq)
                .unwrap();
        }
        let ga = up(&g, &a);
        let (mut d1, mut d2, mut dsq) = (up(&g, &g1), up(&g, &g2), g.alloc(groups).unwrap());
        {
            let terms = [
                NormTerm {
                    a: Some((&ga, fan_in)),
                    g: 0,
                    bias: true,
                },
                NormTerm {
                    a: None,
                    g: 1,
                    bias: false,
                },
            ];
            let mut grads = [(&mut d1, fan_out), (&mut d2, emb)];
            g.clip_row_groups(&mut grads, &terms, rows, k, 1.0, &mut dsq)
                .unwrap();
        }
        close(
            &format!("per-sample squared norms k {k}"),
            &down(&g, &dsq, groups),
            &csq,
            1e-4,
        );
        close(
            &format!("clipped G k {k}"),
            &down(&g, &d1, rows * fan_out),
            &c1,
            1e-4,
        );
        close(
            &format!("clipped rows k {k}"),
            &down(&g, &d2, rows * emb),
            &c2,
            1e-4,
        );
        assert!(csq.iter().any(|&s| s > 1.0) && csq.iter().any(|&s| s < 1.0));
    }

    // the DP noise: N(0, 1) from ChaCha20, reproducible, other streams other numbers
    let n = 1 << 21;
    let key = [7u8; 32];
    let mut z = g.alloc(n).unwrap();
    g.add_noise_and_scale(&mut z, n, 1.0, 1.0, &key, 4).unwrap();
    let zs = down(&g, &z, n);
    let mean = zs.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
    let var = zs.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n as f64;
    let tail = zs.iter().filter(|x| x.abs() > 3.0).count() as f64 / n as f64;
    let far = zs.iter().filter(|x| x.abs() > 4.5).count();
    eprintln!(
        "DP noise: mean {mean:.2e}, sd {:.5}, P(|z| > 3) {tail:.5}",
        var.sqrt()
    );
    assert!(mean.abs() < 5.0 / (n as f64).sqrt(), "mean {mean}");
    assert!((var.sqrt() - 1.0).abs() < 0.003, "sd {}", var.sqrt());
    assert!((tail - 0.0026998).abs() < 0.0003, "P(|z| > 3) = {tail}");
    assert!(
        far > 0 && far < 30,
        "{far} values beyond 4.5 sd (expected about 14)"
    );
    let mut z2 = g.alloc(n).unwrap();
    g.add_noise_and_scale(&mut z2, n, 1.0, 1.0, &key, 4)
        .unwrap();
    assert_eq!(
        down(&g, &z2, n),
        zs,
        "the same key and stream, other numbers"
    );
    let mut z3 = g.alloc(n).unwrap();
    g.add_noise_and_scale(&mut z3, n, 1.0, 1.0, &key, 5)
        .unwrap();
    let z3 = down(&g, &z3, n);
    assert!(z3.iter().zip(&zs).filter(|(a, b)| a == b).count() < 10);

    // AdamW's noise is add_noise_and_scale's, position by position in the range
    let len = 3000;
    let grad = random(&mut rng, len + 200, 0.3);
    let noise = GradNoise {
        std: 0.7,
        scale: 0.01,
        key,
        stream: 9,
    };
    let step = |noise| AdamStep {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
        t: 1,
        ema_rate: 0.99,
        noise,
    };
    let p0 = random(&mut rng, len + 200, 1.0);
    let run = |with: bool| {
        let (mut p, mut gg) = (up(&g, &p0), up(&g, &grad));
        let (mut m, mut v, mut e) = (
            g.alloc(len + 200).unwrap(),
            g.alloc(len + 200).unwrap(),
            up(&g, &p0),
        );
        if with {
            g.adamw(
                &mut p,
                &mut gg,
                &mut m,
                &mut v,
                &mut e,
                100..100 + len,
                step(Some(noise)),
            )
            .unwrap();
        } else {
            let mut part = up(&g, &grad[100..100 + len]);
            g.add_noise_and_scale(
                &mut part,
                len,
                noise.std,
                noise.scale,
                &noise.key,
                noise.stream,
            )
            .unwrap();
            let mut noised = grad.clone();
            noised[100..100 + len].copy_from_slice(&down(&g, &part, len));
            gg = up(&g, &noised);
            g.adamw(
                &mut p,
                &mut gg,
                &mut m,
                &mut v,
                &mut e,
                100..100 + len,
                step(None),
            )
            .unwrap();
        }
        (down(&g, &p, len + 200), down(&g, &gg, len + 200))
    };
    let (fused, fused_g) = run(true);
    let (apart, apart_g) = run(false);
    assert_eq!(fused_g, apart_g, "the fused step's noised gradient");
    assert_eq!(fused, apart, "the fused step's parameters");
    assert_eq!(
        &fused[..100],
        &p0[..100],
        "a parameter outside the range moved"
    );
}

#[test]
fn the_diffusion_operations_agree_with_the_cpu_backend_row_for_row() {
    let Some(g) = gpu() else { return };
    let cpu = CpuBackend::<f32>::new();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(8);
    let layout = Layout {
        n_num: 6,
        blocks: vec![2, 9, 3, 40],
    };
    let sched = Schedule::cosine(100);
    let (rows, w) = (2000, layout.width());
    let mut x0 = Vec::with_capacity(rows * w);
    for _ in 0..rows {
        x0.extend(random(&mut rng, layout.n_num, 2.0));
        for &k in &layout.blocks {
            let h = rng.next_u32() as usize % k;
            x0.extend((0..k).map(|i| if i == h { 1.0f32 } else { 0.0 }));
        }
    }
    let t: Vec<f32> = (0..rows).map(|i| (i * 13 % 100) as f32).collect();
    let (mut cxt, mut ceps) = (vec![0.0f32; rows * w], vec![0.0f32; rows * layout.n_num]);
    cpu.q_sample(
        &layout, &sched, &x0, &t, rows, 11, 3, 500, &mut cxt, &mut ceps,
    )
    .unwrap();
    let (gx0, gt) = (up(&g, &x0), up(&g, &t));
    let (mut gxt, mut geps) = (
        g.alloc(rows * w).unwrap(),
        g.alloc(rows * layout.n_num).unwrap(),
    );
    g.q_sample(
        &layout, &sched, &gx0, &gt, rows, 11, 3, 500, &mut gxt, &mut geps,
    )
    .unwrap();
    close("q_sample x_t", &down(&g, &gxt, rows * w), &cxt, 1e-5);
    close(
        "q_sample eps",
        &down(&g, &geps, rows * layout.n_num),
        &ceps,
        1e-5,
    );

    let out = random(&mut rng, rows * w, 3.0);
    let lw = LossWeights::new(&layout, rows);
    let (mut cd, mut cl) = (vec![0.0f32; rows * w], vec![0.0f32; rows]);
    cpu.loss_grad(
        &layout, &sched, &out, &x0, &cxt, &ceps, &t, rows, lw, &mut cd, &mut cl,
    )
    .unwrap();
    let gout = up(&g, &out);
    let (mut gd, mut gl) = (g.alloc(rows * w).unwrap(), g.alloc(rows).unwrap());
    g.loss_grad(
        &layout,
        &sched,
        &gout,
        &gx0,
        &up(&g, &cxt),
        &up(&g, &ceps),
        &gt,
        rows,
        lw,
        &mut gd,
        &mut gl,
    )
    .unwrap();
    close("loss_grad dout", &down(&g, &gd, rows * w), &cd, 1e-4);
    close("loss_grad row losses", &down(&g, &gl, rows), &cl, 1e-4);

    let mut cx = vec![0.0f32; rows * w];
    // in blocks of 256 rows on their own streams, as sampling runs them
    let streams = |stream| RowStreams {
        seed: 4,
        stream,
        block_rows: 256,
        stride: 1 << 32,
    };
    cpu.prior(&layout, &mut cx, rows, streams(1)).unwrap();
    let mut gx = g.alloc(rows * w).unwrap();
    g.prior(&layout, &mut gx, rows, streams(1)).unwrap();
    close("prior", &down(&g, &gx, rows * w), &cx, 1e-5);
    // twenty steps down the chain from the same state and model output
    let mut gx = up(&g, &cx);
    for step in (0..20).rev() {
        cpu.p_sample(
            &layout,
            &sched,
            step,
            &out,
            &mut cx,
            rows,
            streams(100 + step as u64),
        )
        .unwrap();
        g.p_sample(
            &layout,
            &sched,
            step,
            &gout,
            &mut gx,
            rows,
            streams(100 + step as u64),
        )
        .unwrap();
    }
    let got = down(&g, &gx, rows * w);
    // the numeric part within f32 rounding carried through the steps; the one-hot blocks the
    // same draws (a draw may flip where a weight sits on a boundary: at most 0.5% of blocks)
    let mut flips = 0;
    for r in 0..rows {
        let (a, b) = (&got[r * w..(r + 1) * w], &cx[r * w..(r + 1) * w]);
        close(
            "p_sample numeric",
            &a[..layout.n_num],
            &b[..layout.n_num],
            1e-4,
        );
        flips += (a[layout.n_num..] != b[layout.n_num..]) as usize;
    }
    assert!(
        flips * 200 <= rows,
        "{flips} of {rows} rows drew other levels"
    );
}

#[test]
fn a_fit_on_the_gpu_samples_on_either_backend() {
    let Some(_) = gpu() else {
        // without a GPU, `cuda` is a device error through the fit and the sampling
        let mut o = quick_options(1);
        o.device = Device::Cuda(0);
        let Err(e) = synthvol::Synthesizer::fit(
            &mixed_table(100, 1),
            &synthvol::FitRequest::from_options(&o),
            &mut no_progress(),
        ) else {
            panic!("a fit on cuda without a GPU");
        };
        assert_eq!(e.kind, ErrorKind::Device);
        let m = fit(&mixed_table(100, 1), &quick_options(1));
        assert_eq!(m.record().backend, "cpu", "auto without a GPU");
        let Err(e) = m.sample(
            10,
            1,
            &SampleOptions {
                device: Device::Cuda(0),
                ..SampleOptions::default()
            },
            &mut no_progress(),
        ) else {
            panic!("sampling on cuda without a GPU");
        };
        assert_eq!(e.kind, ErrorKind::Device);
        return;
    };
    let table = mixed_table(2000, 4);
    let mut o = quick_options(2);
    o.optim.steps = 300;
    let mut on_cpu = o.clone();
    on_cpu.device = Device::Cpu;
    o.device = Device::Cuda(0);
    let mg = fit(&table, &o);
    let mc = fit(&table, &on_cpu);
    assert_eq!(mg.record().backend, "cuda:0");
    assert_eq!(mc.record().backend, "cpu");
    // the same seed: the loss curves agree up to the rounding of other summation orders
    let (lg, lc) = (&mg.record().loss_history, &mc.record().loss_history);
    assert_eq!(lg.len(), lc.len());
    for ((s, a), (_, b)) in lg.iter().zip(lc) {
        assert!(
            (a - b).abs() <= 0.05 * b.abs() + 1e-3,
            "step {s}: GPU loss {a}, CPU {b}"
        );
    }
    // a GPU model's file loads and samples on the CPU, and the rows nearly agree
    let bytes = mg.to_bytes().unwrap();
    let back = synthvol::Synthesizer::from_bytes(&bytes).unwrap();
    let opts = |device| SampleOptions {
        device,
        ..SampleOptions::default()
    };
    let sg = back
        .sample(3000, 5, &opts(Device::Cuda(0)), &mut no_progress())
        .unwrap();
    let sc = back
        .sample(3000, 5, &opts(Device::Cpu), &mut no_progress())
        .unwrap();
    let mut same = 0usize;
    let mut cells = 0usize;
    for (a, b) in sg.columns().iter().zip(sc.columns()) {
        match (a, b) {
            (ColumnData::Categorical(x), ColumnData::Categorical(y)) => {
                cells += x.len();
                same += x.iter().zip(y).filter(|(p, q)| p == q).count();
            }
            (ColumnData::Numeric(x), ColumnData::Numeric(y)) => {
                cells += x.len();
                same += x
                    .iter()
                    .zip(y)
                    .filter(|(p, q)| {
                        (**p - **q).abs() <= 1e-3 * (1.0 + q.abs()) || p.is_nan() && q.is_nan()
                    })
                    .count();
            }
            _ => panic!("column kinds differ"),
        }
    }
    eprintln!("GPU and CPU samples of one model: {same} of {cells} cells agree");
    assert!(
        same as f64 >= 0.97 * cells as f64,
        "{same} of {cells} cells agree"
    );
    // the same seed on the GPU gives the same rows again
    let again = back
        .sample(3000, 5, &opts(Device::Cuda(0)), &mut no_progress())
        .unwrap();
    let csv = |t: &synthvol::table::Table| {
        let mut v = Vec::new();
        synthvol::table::write_csv_to(t, &mut v).unwrap();
        v
    };
    assert_eq!(
        csv(&again),
        csv(&sg),
        "the same seed on the GPU, other rows"
    );
    // and a CPU model samples on the GPU
    let s = mc
        .sample(500, 2, &opts(Device::Cuda(0)), &mut no_progress())
        .unwrap();
    assert_eq!(s.n_rows(), 500);
}

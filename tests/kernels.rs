//! The CUDA kernels without a GPU: every family compiles with NVRTC for sm_80 and sm_90 (the
//! library from the `nvidia-cuda-nvrtc` wheel that scripts/bootstrap installs, or
//! SYNTHVOL_NVRTC), defining every kernel it declares; a compile error carries NVRTC's log; the
//! kernels' arithmetic, compiled as host C++ (tests/kernels/host_parity.cpp), agrees with the CPU
//! backend on random inputs (activations and their gradients, AdamW with the EMA, clip factors,
//! the timestep embedding, the Gaussian forward noising, the multinomial softmax and weights)
//! and ChaCha20 with RFC 8439's test vector; and `device = cuda` is a clear device error here.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use rand_xoshiro::rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use synthvol::internals::backend::cuda::{kernels, nvrtc::Nvrtc, probe, Probe};
use synthvol::internals::backend::{
    run_job, Act, AdamStep, Backend, CpuBackend, DiffusionOps, Job, NormTerm, Relay,
};
use synthvol::internals::diffusion::{Layout, Schedule};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// libnvrtc: SYNTHVOL_NVRTC, else the nvidia-cuda-nvrtc wheel's, found through python3.
fn nvrtc() -> &'static Nvrtc {
    static N: OnceLock<Nvrtc> = OnceLock::new();
    N.get_or_init(|| {
        let path = std::env::var("SYNTHVOL_NVRTC").ok().or_else(|| {
            let out = Command::new("python3")
                .args([
                    "-c",
                    "import nvidia.cuda_nvrtc as m, os; print(os.path.join(list(m.__path__)[0], 'lib', 'libnvrtc.so.12'))",
                ])
                .output()
                .ok()?;
            let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
            (out.status.success() && Path::new(&p).exists()).then_some(p)
        });
        let path = path.expect(
            "NVRTC not found: run ./scripts/bootstrap (it installs the nvidia-cuda-nvrtc wheel) \
             or set SYNTHVOL_NVRTC to libnvrtc.so.12",
        );
        Nvrtc::load(&[path]).unwrap_or_else(|e| panic!("{e}"))
    })
}

#[test]
fn every_kernel_family_compiles_for_sm80_and_sm90() {
    let n = nvrtc();
    let (major, _) = n.version();
    assert!(major >= 12, "NVRTC {:?} is older than CUDA 12", n.version());
    for arch in kernels::ARCHS {
        let ptx = kernels::compile_all(n, arch).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ptx.len(), kernels::FAMILIES.len());
        let sm = arch.replace("compute_", "sm_");
        for ((file, src), (name, ptx)) in kernels::FAMILIES.iter().zip(&ptx) {
            assert_eq!(file, name);
            assert!(
                ptx.contains(&format!(".target {sm}")),
                "{file}: not for {sm}"
            );
            let entries = kernels::entry_points(src);
            assert!(!entries.is_empty(), "{file} declares no kernel");
            for e in entries {
                assert!(
                    ptx.contains(&format!(".entry {e}(")),
                    "{file} for {arch}: no kernel {e} in the PTX"
                );
            }
        }
    }
}

#[test]
fn a_compile_error_carries_nvrtcs_log() {
    let src = "#include \"sv_math.cuh\"\nextern \"C\" __global__ void broken(float *x) { x[0] = not_defined(1.0f); }\n";
    let e = nvrtc()
        .compile("broken.cu", src, &kernels::HEADERS, "compute_80")
        .expect_err("an undefined function must not compile");
    assert!(e.message.contains("not_defined"), "{}", e.message);
    assert!(e.message.contains("broken.cu"), "{}", e.message);
}

/// The host build of the kernels' arithmetic, answering one command per line.
fn host(commands: &[String]) -> Vec<String> {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    let exe = EXE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let exe = dir.join("host_parity");
        let out = Command::new("c++")
            .args(["-std=c++17", "-O1", "-Wall", "-Wextra", "-Werror", "-I"])
            .arg(root().join("kernels/include"))
            .arg(root().join("tests/kernels/host_parity.cpp"))
            .arg("-o")
            .arg(&exe)
            .output()
            .expect("c++ (run ./scripts/bootstrap)");
        assert!(
            out.status.success(),
            "compiling host_parity.cpp:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        exe
    });
    let mut child = Command::new(exe)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all((commands.join("\n") + "\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "host_parity failed");
    let lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), commands.len());
    lines
}

fn nums(line: &str) -> Vec<f32> {
    line.split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect()
}

fn join(v: &[f32]) -> String {
    v.iter()
        .map(|x| format!("{x:e}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Element-wise agreement within `rel` relative error (and a tiny absolute floor).
fn close(what: &str, device: &[f32], cpu: &[f32], rel: f32) {
    assert_eq!(device.len(), cpu.len(), "{what}: lengths");
    for (i, (&d, &c)) in device.iter().zip(cpu).enumerate() {
        let tol = rel * c.abs().max(d.abs()) + 1e-7;
        assert!(
            (d - c).abs() <= tol,
            "{what}[{i}]: kernel {d} vs CPU {c} (tolerance {tol})"
        );
    }
}

/// A uniform in [−1, 1).
fn unit(rng: &mut Xoshiro256PlusPlus) -> f32 {
    (rng.next_u32() >> 8) as f32 / 8_388_608.0 - 1.0
}

fn random(rng: &mut Xoshiro256PlusPlus, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| unit(rng) * scale).collect()
}

#[test]
fn the_kernels_arithmetic_agrees_with_the_cpu_backend() {
    let be = CpuBackend::<f32>::new();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let n = 512;

    // activations and their gradients
    for (act, code) in [(Act::Relu, 1), (Act::Silu, 2), (Act::Identity, 0)] {
        let x = random(&mut rng, n, 8.0);
        let g = random(&mut rng, n, 2.0);
        let mut xb = x.clone();
        let bias = vec![0.0f32; n];
        be.bias_act(&mut xb, 1, n, &bias, 0, act, None).unwrap();
        let mut gb = g.clone();
        be.act_backward(&mut gb, &x, n, act).unwrap();
        let lines = host(&[
            format!("act {code} {n} {}", join(&x)),
            format!("act_grad {code} {n} {} {}", join(&g), join(&x)),
        ]);
        close(&format!("{act:?}"), &nums(&lines[0]), &xb, 1e-5);
        close(&format!("{act:?} backward"), &nums(&lines[1]), &gb, 1e-5);
    }

    // AdamW with the EMA, over a few steps
    let (mut p, mut m, mut v, mut e) = (
        random(&mut rng, n, 1.0),
        vec![0.0f32; n],
        vec![0.0f32; n],
        vec![0.0f32; n],
    );
    e.copy_from_slice(&p);
    for t in 1..=3u64 {
        let g = random(&mut rng, n, 0.5);
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
        let line = host(&[format!(
            "adamw 0.002 0.9 0.999 1e-8 1e-4 {t} 0.999 {n} {} {} {} {} {}",
            join(&p),
            join(&g),
            join(&m),
            join(&v),
            join(&e)
        )])
        .remove(0);
        let mut gb = g.clone();
        be.adamw(&mut p, &mut gb, &mut m, &mut v, &mut e, 0..n, step)
            .unwrap();
        let dev = nums(&line);
        close("adamw params", &dev[..n], &p, 1e-5);
        close("adamw m", &dev[n..2 * n], &m, 1e-5);
        close("adamw v", &dev[2 * n..3 * n], &v, 1e-5);
        close("adamw ema", &dev[3 * n..], &e, 1e-5);
        // carry the CPU's state on, so every step starts from the same values
    }

    // clip factors: the CPU's squared norms in, the factor it applied out
    let (groups, k, cols) = (64, 3, 5);
    let g: Vec<f32> = (0..groups * k * cols)
        .map(|i| unit(&mut rng) * (1 + i / (k * cols)) as f32 * 0.05)
        .collect();
    let mut gb = g.clone();
    let mut sq = vec![0.0f32; groups];
    {
        let mut grads = [(&mut gb, cols)];
        let terms = [NormTerm {
            a: None,
            g: 0,
            bias: false,
        }];
        be.clip_row_groups(&mut grads, &terms, groups * k, k, 1.0, &mut sq)
            .unwrap();
    }
    let applied: Vec<f32> = (0..groups)
        .map(|j| {
            let (i, orig) = (0..k * cols)
                .map(|c| (j * k * cols + c, g[j * k * cols + c]))
                .find(|&(_, o)| o.abs() > 1e-3)
                .unwrap();
            gb[i] / orig
        })
        .collect();
    let line = host(&[format!("clip 1.0 {groups} {}", join(&sq))]).remove(0);
    let dev = nums(&line);
    close("clip factors", &dev, &applied, 1e-5);
    assert!(dev.iter().any(|&f| f < 1.0) && dev.contains(&1.0));

    // the timestep embedding
    let (rows, dim) = (16, 33);
    let t: Vec<f32> = (0..rows).map(|_| (rng.next_u32() % 1000) as f32).collect();
    let mut out = vec![0.0f32; rows * dim];
    be.timestep_embedding(&t, rows, dim, &mut out).unwrap();
    let line = host(&[format!("temb {dim} {rows} {}", join(&t))]).remove(0);
    close("timestep embedding", &nums(&line), &out, 1e-6);

    // the Gaussian forward noising: the CPU's own draw of ε, the kernel's x_t from it
    let sched = Schedule::cosine(200);
    let layout = Layout {
        n_num: 7,
        blocks: vec![],
    };
    for step in [0usize, 50, 199] {
        let x0 = random(&mut rng, 7, 2.0);
        let (mut xt, mut eps) = (vec![0.0f32; 7], vec![0.0f32; 7]);
        be.q_sample(
            &layout,
            &sched,
            &x0,
            &vec![step as f32],
            1,
            11,
            0,
            0,
            &mut xt,
            &mut eps,
        )
        .unwrap();
        let line = host(&[format!(
            "qnum {:e} 7 {} {}",
            sched.alpha_bar[step],
            join(&x0),
            join(&eps)
        )])
        .remove(0);
        close(&format!("q_sample at t = {step}"), &nums(&line), &xt, 1e-6);
    }

    // the multinomial part: the softmax with its floor, and the forward posterior's weights
    for k in [2usize, 5, 40] {
        let z = random(&mut rng, k, 30.0);
        let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let ex: Vec<f64> = z
            .iter()
            .map(|&v| ((v - m).max(-80.0) as f64).exp())
            .collect();
        let s: f64 = ex.iter().sum();
        let want: Vec<f32> = ex.iter().map(|&v| (v / s) as f32).collect();
        let ab = sched.alpha_bar[60];
        let lines = host(&[
            format!("softmax {k} {}", join(&z)),
            format!("mweight {ab:e} {k} 1"),
        ]);
        close("block softmax", &nums(&lines[0]), &want, 1e-5);
        let c = ((1.0 - ab) / k as f64) as f32;
        let w: Vec<f32> = (0..k)
            .map(|i| if i == 1 { ab as f32 + c } else { c })
            .collect();
        close("multinomial weights", &nums(&lines[1]), &w, 0.0);
    }
}

#[test]
fn chacha20_matches_rfc_8439() {
    // RFC 8439 §2.3.2: key 00 01 .. 1f, block counter 1, nonce 00 00 00 09 00 00 00 4a 00 00 00 00.
    let lines = host(&[
        "chacha 03020100 07060504 0b0a0908 0f0e0d0c 13121110 17161514 1b1a1918 1f1e1d1c 1 09000000 4a000000 00000000".into(),
        "normal 80000000 00000000 00000000 00000000".into(),
        "normal 00000000 00000000 00000000 00000000".into(),
    ]);
    assert_eq!(
        lines[0],
        "e4e7f110 15593bd1 1fdd0f50 c47120a3 c7f4d1c7 0368c033 9aaa2204 4e6cd4c3 \
         466482d2 09aa9f07 05d7c214 a2028bd9 d19c12b5 b94e16de e883d0cb 4e3c50a2"
    );
    // u0 = 1/2 and u1 ≈ 0: z0 = √(2 ln 2), z1 ≈ 0
    let z = nums(&lines[1]);
    assert!((z[0] - (2.0f32 * 2f32.ln()).sqrt()).abs() < 1e-5, "{z:?}");
    assert!(z[1].abs() < 1e-6, "{z:?}");
    // the smallest radius uniform, 2^-54: the DP noise's tails reach √(2·54·ln 2) = 8.65 sd
    // (24-bit uniforms would stop them at 5.9 sd, a truncated Gaussian)
    let z = nums(&lines[2]);
    let top = (2.0f64 * 54.0 * 2f64.ln()).sqrt() as f32;
    assert!((z[0] - top).abs() < 1e-4 && z[0] > 8.6, "{z:?}");
}

#[test]
fn device_cuda_is_a_clear_device_error_and_auto_runs_on_the_cpu() {
    struct Nothing;
    impl Job for Nothing {
        type Output = ();
        fn run<B: DiffusionOps>(self, _: &B, _: &mut Relay<'_>) -> synthvol::Result<()> {
            Ok(())
        }
    }
    let p = probe();
    eprintln!("device probe: {p}"); // scripts/gpu-check shows it
    let e = run_job(synthvol::Device::Cuda(0), 1, &mut |_| true, Nothing)
        .err()
        .expect("no CUDA launchers yet");
    assert_eq!(e.kind, synthvol::ErrorKind::Device);
    assert!(e.message.contains(&p.to_string()), "{}", e.message);
    if matches!(p, Probe::NoDriver(_)) {
        assert!(
            e.message.contains("no usable NVIDIA driver"),
            "{}",
            e.message
        );
    }
    let ran = run_job(synthvol::Device::Auto, 1, &mut |_| true, Nothing).unwrap();
    assert_eq!(ran.backend, "cpu");
}

/// A random one-hot layout row: numeric values then one hot level per block.
fn row_of(rng: &mut Xoshiro256PlusPlus, layout: &Layout) -> Vec<f32> {
    let mut x = random(rng, layout.n_num, 2.0);
    for &k in &layout.blocks {
        let h = (rng.next_u32() as usize) % k;
        x.extend((0..k).map(|i| if i == h { 1.0 } else { 0.0 }));
    }
    x
}

fn layout_words(layout: &Layout) -> String {
    let b: Vec<String> = layout.blocks.iter().map(|k| k.to_string()).collect();
    format!("{} {} {}", layout.n_num, layout.blocks.len(), b.join(" "))
}

#[test]
fn the_diffusion_rows_agree_with_the_cpu_backend() {
    use synthvol::internals::diffusion::{
        fill_normal, loss_grad_row, p_sample_row, prior_row, q_sample_row, row_rng, uniform,
        LossWeights,
    };
    use synthvol::internals::encode::SCORE_LIMIT;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(19);

    // the per-row streams: uniforms bit for bit, Box–Muller normals to f32 rounding
    for (seed, stream, row) in [(0u64, 0u64, 0u64), (7, 3, 12345), (u64::MAX, 99, 1 << 40)] {
        let mut r = row_rng(seed, stream, row);
        let want: Vec<f64> = (0..9).map(|_| uniform(&mut r)).collect();
        let mut z = vec![0.0f32; 7];
        fill_normal(&mut row_rng(seed, stream, row), &mut z);
        let lines = host(&[
            format!("uniform {seed} {stream} {row} 9"),
            format!("normals {seed} {stream} {row} 7"),
        ]);
        let got: Vec<f64> = lines[0]
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect();
        assert_eq!(got, want, "uniforms of ({seed}, {stream}, {row})");
        close("normals", &nums(&lines[1]), &z, 1e-6);
    }

    // the softmax's exponential: the CPU's own polynomial, bit for bit
    let xs: Vec<f32> = (0..200)
        .map(|i| -100.0 + i as f32 * 0.95 + unit(&mut rng))
        .collect();
    let want: Vec<f32> = xs
        .iter()
        .map(|&x| synthvol::internals::fastmath::exp_f32(x))
        .collect();
    let got = nums(&host(&[format!("exp {} {}", xs.len(), join(&xs))])[0]);
    assert_eq!(got, want, "sv_exp_f32 against fastmath::exp_f32");

    let sched = Schedule::cosine(200);
    for layout in [
        Layout {
            n_num: 5,
            blocks: vec![2, 5, 40],
        },
        Layout {
            n_num: 0,
            blocks: vec![3],
        },
        Layout {
            n_num: 6,
            blocks: vec![],
        },
    ] {
        let w = layout.width();
        let lw = layout_words(&layout);
        for (i, t) in [0usize, 1, 57, 199].into_iter().enumerate() {
            let (seed, stream, row) = (5u64, 2 + i as u64, 40 + i as u64);
            // forward noising
            let x0 = row_of(&mut rng, &layout);
            let (mut xt, mut eps) = (vec![0.0f32; w], vec![0.0f32; layout.n_num]);
            q_sample_row(
                &layout,
                &sched,
                t,
                &x0,
                &mut row_rng(seed, stream, row),
                &mut xt,
                &mut eps,
            );
            let line = host(&[format!(
                "qrow {lw} {:e} {seed} {stream} {row} {}",
                sched.alpha_bar[t],
                join(&x0)
            )])
            .remove(0);
            let got = nums(&line);
            close(&format!("q_sample {lw} t {t} x_t"), &got[..w], &xt, 1e-6);
            close(&format!("q_sample {lw} t {t} eps"), &got[w..], &eps, 1e-6);

            // the loss and its gradient, at a model output of moderate logits
            let out = random(&mut rng, w, 4.0);
            let e = random(&mut rng, layout.n_num, 1.5);
            let lwts = LossWeights::new(&layout, 64);
            let mut dout = vec![0.0f32; w];
            let loss = loss_grad_row(
                &layout,
                &sched,
                t,
                &out,
                &x0,
                &xt,
                &e,
                lwts,
                &mut dout,
                &mut Vec::new(),
            );
            let wp = sched.alpha_bar_prev(t);
            let line = host(&[format!(
                "loss {lw} {t} {:e} {wp:e} {:e} {:e} {} {} {} {}",
                sched.alpha[t],
                lwts.gaussian,
                lwts.multinomial,
                join(&out),
                join(&x0),
                join(&xt),
                join(&e)
            )])
            .remove(0);
            let got = nums(&line);
            close(&format!("loss {lw} t {t}"), &got[..1], &[loss], 1e-5);
            close(&format!("loss gradient {lw} t {t}"), &got[1..], &dout, 1e-5);

            // one ancestral step, with the constants the launcher passes (Schedule::step_consts)
            let st = sched.step_consts(t);
            let mut x = xt.clone();
            p_sample_row(
                &layout,
                &sched,
                t,
                &out,
                &mut x,
                &mut row_rng(seed, stream, row),
                &mut Vec::new(),
            );
            let line = host(&[format!(
                "psample {lw} {:e} {:e} {:e} {:e} {:e} {:e} {:e} {} {SCORE_LIMIT:e} {seed} {stream} {row} {} {}",
                st.c0, st.c1, st.m1, st.m2, st.abp, st.a, st.sd, st.t,
                join(&out),
                join(&xt)
            )])
            .remove(0);
            close(&format!("p_sample {lw} t {t}"), &nums(&line), &x, 1e-5);

            // the prior
            let mut x = vec![0.0f32; w];
            prior_row(&layout, &mut x, &mut row_rng(seed, stream, row));
            let line = host(&[format!("prior {lw} {seed} {stream} {row}")]).remove(0);
            close(&format!("prior {lw}"), &nums(&line), &x, 1e-6);
        }
    }
}

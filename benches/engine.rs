//! Training-step and sampling-step benchmarks on the TabDDPM Adult network and a small one,
//! with the machine's sgemm ceiling, and PyTorch on the identical networks in the same run
//! when `python3` (or `$SYNTHVOL_TORCH_PYTHON`) can import torch.
//!
//! `cargo bench --bench engine` (add `-- --quick` for fewer repetitions).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{data, layout, median};
use synthvol::internals::backend::{run_parallel, Backend, CpuBackend, Gemm};
use synthvol::internals::diffusion::Schedule;
use synthvol::internals::nn::{Denoiser, DenoiserConfig};
use synthvol::internals::train::{DpConfig, OptimConfig, Trainer};
use synthvol::internals::{upload_weights, Sampler};
use synthvol::model::{BLOCK_ROWS, PRIVATE_TRAINABLE};

fn time_n(reps: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

/// The PyTorch peer (`torch_peer.py --serve`) in its own process, timing blocks of its full
/// TabDDPM steps on request so that they alternate with ours.
struct TorchPeer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl TorchPeer {
    fn python() -> String {
        std::env::var("SYNTHVOL_TORCH_PYTHON").unwrap_or_else(|_| "python3".into())
    }

    /// Starts the peer; `None` (with the reason on stderr) where torch cannot be imported.
    fn start() -> Option<TorchPeer> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/torch_peer.py");
        let mut child = Command::new(Self::python())
            .arg(script)
            .arg("--serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let stdin = child.stdin.take()?;
        let mut stdout = BufReader::new(child.stdout.take()?);
        let mut line = String::new();
        if stdout.read_line(&mut line).is_err() || line.trim() != "ready" {
            eprintln!(
                "(PyTorch peer not run: torch did not start under {})",
                Self::python()
            );
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        Some(TorchPeer {
            child,
            stdin,
            stdout,
        })
    }

    /// Mean seconds per step over `n` steps of `kind` ("train" or "ghost") on `net`.
    fn time(&mut self, net: &str, kind: &str, n: usize) -> Option<f64> {
        writeln!(self.stdin, "{net} {kind} {n}").ok()?;
        self.stdin.flush().ok()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line).ok()?;
        line.trim().parse().ok()
    }
}

impl Drop for TorchPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Medians over the alternating blocks of the peer's full TabDDPM steps and of their ratios
/// to ours.
struct PeerFigures {
    train_s: f64,
    train_ratio: f64,
    /// Opacus ghost clipping (None without Opacus).
    ghost: Option<(f64, f64)>,
    /// TabDDPM's sampling step of 10,000 rows, and its ratio to ours.
    sample: Option<(f64, f64)>,
}

/// Untimed steps after each pause, on both sides of the peer comparison (torch_peer.py has
/// the same figure).
const WARM_UP: Duration = Duration::from_millis(100);

struct Row {
    name: &'static str,
    train_s: f64,
    dp_train_s: f64,
    /// Median over alternating blocks of DP step time / non-private step time.
    dp_ratio: f64,
    /// Median over the same blocks of a private fine-tuning's DP step (the default trained
    /// set) / the full DP step.
    dp_partial_ratio: f64,
    train_gflops: f64,
    sample_s: f64,
    sample_gflops: f64,
    peer: Option<PeerFigures>,
}

fn bench_net(
    name: &'static str,
    key: &str,
    peer: &mut Option<TorchPeer>,
    layers: Vec<usize>,
    batch: usize,
    train_reps: (usize, usize),
    sample_reps: usize,
) -> Row {
    let be = CpuBackend::<f32>::new();
    let layout = layout();
    let cfg = DenoiserConfig {
        d_in: layout.width(),
        dim_t: 128,
        layers,
        n_classes: 2,
    };
    let net = Denoiser::new(cfg.clone());
    let sched = Schedule::cosine(1000);
    let d = data(&layout, batch * 4);
    let init = net.init_params(1);
    let optim = OptimConfig {
        steps: 1_000_000,
        batch_size: batch,
        ..OptimConfig::default()
    };
    let macs = net.macs_per_row() as f64;
    let mut trainer =
        Trainer::new(&be, &net, &layout, &sched, &d, &optim, &init, 2).expect("trainer");
    // DP-SGD on the same network: Poisson batches of the same expected size, K = 1.
    let mut dp_trainer = Trainer::new(
        &be,
        &net,
        &layout,
        &sched,
        &d,
        &OptimConfig {
            batch_size: batch + batch / 4,
            ..optim.clone()
        },
        &init,
        2,
    )
    .expect("trainer");
    let dp_config = DpConfig {
        q: 0.25,
        sigma: 1.0,
        max_grad_norm: 1.0,
        augment: 1,
        key: [3; 32],
        categorical_weight: 1.0,
    };
    dp_trainer.enable_dp(dp_config.clone()).expect("dp");
    // A private fine-tuning's step: the same, training the default set only.
    let partial_optim = OptimConfig {
        batch_size: batch + batch / 4,
        trainable: PRIVATE_TRAINABLE,
        ..optim.clone()
    };
    let mut partial_trainer =
        Trainer::new(&be, &net, &layout, &sched, &d, &partial_optim, &init, 2).expect("trainer");
    partial_trainer.enable_dp(dp_config).expect("dp");
    // The two alternate in blocks, so that the machine's drift (up to 1.5x between runs on a
    // shared VM) cancels in the ratio: the medians over blocks of each time and of the ratio.
    let (block, rounds) = train_reps;
    let (mut plain, mut private, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut partial = Vec::new();
    let mut step = 0;
    trainer.step(step).expect("step"); // warm-up
    dp_trainer.step(step).expect("step");
    partial_trainer.step(step).expect("step");
    let timed = |tr: &mut Trainer<'_, CpuBackend>, step: usize| {
        let t = Instant::now();
        for s in 0..block {
            tr.step(step + s).expect("step");
        }
        t.elapsed().as_secs_f64() / block as f64
    };
    for _ in 0..rounds {
        let a = timed(&mut trainer, step);
        let b = timed(&mut dp_trainer, step);
        let c = timed(&mut partial_trainer, step);
        step += block;
        plain.push(a);
        private.push(b);
        ratios.push(b / a);
        partial.push(c / b);
    }
    // The peer's blocks alternate with ours too, each after a pause (so that the other side's
    // idle threads, which spin a while before they sleep, are asleep) and WARM_UP of untimed
    // steps (steps right after a pause run up to 1.5x slower on this VM, ours more than the
    // peer's): both sides are timed in their steady state. The ratios are per pair of
    // neighbouring blocks.
    let (mut peer_train, mut peer_ghost) = (Vec::new(), Vec::new());
    let settle = || std::thread::sleep(Duration::from_millis(250));
    for _ in 0..rounds {
        let Some(p) = peer.as_mut() else { break };
        let mut ours = |tr: &mut Trainer<'_, CpuBackend>| {
            settle();
            let warm = Instant::now();
            while warm.elapsed() < WARM_UP {
                tr.step(step).expect("step");
                step += 1;
            }
            let t = timed(tr, step);
            step += block;
            t
        };
        let a = ours(&mut trainer);
        settle();
        let pt = p.time(key, "train", block);
        let b = ours(&mut dp_trainer);
        settle();
        let g = p.time(key, "ghost", block);
        let Some(pt) = pt else {
            eprintln!("(PyTorch peer stopped answering)");
            *peer = None;
            break;
        };
        peer_train.push((pt, pt / a));
        if let Some(g) = g {
            peer_ghost.push((g, g / b));
        }
    }
    let medians = |v: &[(f64, f64)]| {
        (!v.is_empty()).then(|| {
            (
                median(v.iter().map(|x| x.0).collect()),
                median(v.iter().map(|x| x.1).collect()),
            )
        })
    };
    let (train_s, dp_train_s, dp_ratio) = (median(plain), median(private), median(ratios));
    // One sampling step of 10,000 rows as the sampler runs it: whole blocks of BLOCK_ROWS,
    // one per thread at a time, over shared weights.
    let rows: usize = 10_000;
    let blocks = rows.div_ceil(BLOCK_ROWS);
    let sampling_net = Denoiser::new(cfg.clone());
    let sched_1000 = Schedule::cosine(1000);
    let params = upload_weights(&be, &init).unwrap();
    let mut workers: Vec<_> = (0..blocks)
        .map(|_| {
            Sampler::new(
                &be,
                &sampling_net,
                &layout,
                &sched_1000,
                &params,
                BLOCK_ROWS,
            )
            .unwrap()
        })
        .collect();
    for w in &mut workers {
        w.set_labels(&[1.0; BLOCK_ROWS]).unwrap();
        w.prior(BLOCK_ROWS, 1, 0).unwrap();
    }
    let mut t = 999;
    let mut sample_step = || {
        let step = t;
        be.for_each_shard(&mut workers, &|w| w.step(step, BLOCK_ROWS, 1, step as u64))
            .unwrap();
        t = if t == 0 { 999 } else { t - 1 };
    };
    let per_row = rows as f64 / (blocks * BLOCK_ROWS) as f64;
    let sample_s = time_n(sample_reps, &mut sample_step) * per_row;
    // TabDDPM's own sampling step in the peer (forward pass and both posterior updates), in
    // blocks alternating with ours as for training.
    let mut peer_sample = Vec::new();
    let sample_block = sample_reps.div_ceil(4).max(2);
    for _ in 0..4 {
        let Some(p) = peer.as_mut() else { break };
        settle();
        let warm = Instant::now();
        while warm.elapsed() < WARM_UP {
            sample_step();
        }
        let start = Instant::now();
        for _ in 0..sample_block {
            sample_step();
        }
        let ours = start.elapsed().as_secs_f64() / sample_block as f64 * per_row;
        settle();
        let Some(theirs) = p.time(key, "sample", sample_block) else {
            eprintln!("(PyTorch peer stopped answering)");
            *peer = None;
            break;
        };
        peer_sample.push((theirs, theirs / ours));
    }
    let peer = medians(&peer_train).map(|(train_s, train_ratio)| PeerFigures {
        train_s,
        train_ratio,
        ghost: medians(&peer_ghost),
        sample: medians(&peer_sample),
    });
    Row {
        name,
        train_s,
        dp_train_s,
        dp_ratio,
        dp_partial_ratio: median(partial),
        train_gflops: 6.0 * macs * batch as f64 / train_s / 1e9,
        sample_s,
        sample_gflops: 2.0 * macs * rows as f64 / sample_s / 1e9,
        peer,
    }
}

fn sgemm_gflops() -> f64 {
    let be = CpuBackend::<f32>::new();
    let n = 2048;
    let a = vec![0.5f32; n * n];
    let b = vec![0.25f32; n * n];
    let mut c = be.alloc(n * n).unwrap();
    let g = Gemm {
        trans_a: false,
        trans_b: false,
        m: n,
        n,
        k: n,
        alpha: 1.0,
        beta: 0.0,
    };
    let s = time_n(5, || be.gemm(g, &a, 0, &b, 0, &mut c, 0).unwrap());
    2.0 * (n as f64).powi(3) / s / 1e9
}

fn torch_figures(quick: bool) -> Option<serde_json::Value> {
    let py = TorchPeer::python();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/torch_peer.py");
    let mut cmd = Command::new(&py);
    cmd.arg(script).arg("--json");
    if quick {
        cmd.arg("--quick");
    }
    let out = cmd.output().ok()?;
    if !out.status.success() {
        eprintln!(
            "(PyTorch peer not run: {})",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("no torch")
        );
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// One thread's cost of a DP step's Gaussian noise, per normal.
fn noise_ns_per_normal() -> f64 {
    use synthvol::internals::csprng::{normals, CHUNK};
    let key = [3u8; 32];
    let mut out = vec![0f32; CHUNK];
    let chunks = 1000;
    let times = (0..7)
        .map(|round| {
            let t = Instant::now();
            for c in 0..chunks {
                normals(&key, round, c, &mut out);
            }
            t.elapsed().as_secs_f64() * 1e9 / (chunks * CHUNK as u64) as f64
        })
        .collect();
    median(times)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let mut peer = TorchPeer::start();
    let (rows, ceiling) = run_parallel::<(), _>(0, &mut |_| true, |_| {
        let ceiling = sgemm_gflops();
        let big = bench_net(
            "TabDDPM Adult [256,1024×4,256] batch 1024",
            "big",
            &mut peer,
            vec![256, 1024, 1024, 1024, 1024, 256],
            1024,
            if quick { (1, 3) } else { (2, 7) },
            if quick { 2 } else { 5 },
        );
        let small = bench_net(
            "small [256,256] batch 256",
            "small",
            &mut peer,
            vec![256, 256],
            256,
            if quick { (10, 5) } else { (20, 25) },
            if quick { 5 } else { 20 },
        );
        (vec![big, small], ceiling)
    })
    .expect("threads");
    drop(peer);
    println!(
        "threads: {}, OpenBLAS {} kernels{}, sgemm 2048³: {ceiling:.1} GFLOP/s",
        synthvol::internals::backend::blas_threads(),
        synthvol::internals::backend::blas_kernels(),
        if std::env::var_os("OPENBLAS_CORETYPE").is_some() {
            " (forced by OPENBLAS_CORETYPE)"
        } else {
            ""
        }
    );
    println!(
        "{:<44} {:>12} {:>9} {:>10} {:>16} {:>9}",
        "network", "train step", "GFLOP/s", "% sgemm", "sampling step*", "GFLOP/s"
    );
    for r in &rows {
        println!(
            "{:<44} {:>9.2} ms {:>9.1} {:>9.0}% {:>13.1} ms {:>9.1}",
            r.name,
            r.train_s * 1e3,
            r.train_gflops,
            100.0 * r.train_gflops / ceiling,
            r.sample_s * 1e3,
            r.sample_gflops
        );
    }
    println!("* one denoising step for 10,000 rows (forward pass + ancestral update)");
    for r in &rows {
        println!(
            "DP-SGD step {:<40} {:>9.2} ms ({:.3}× the non-private step, median of alternating blocks)",
            r.name,
            r.dp_train_s * 1e3,
            r.dp_ratio
        );
        println!(
            "  private fine-tuning's DP step ({}): {:.3}× the full DP step",
            PRIVATE_TRAINABLE.describe(),
            r.dp_partial_ratio
        );
    }
    println!(
        "DP noise: {:.2} ns per normal on one core (ziggurat on AES-256-CTR, median of 7)",
        noise_ns_per_normal()
    );
    // PEERS.md medians (PyTorch 2.15, 2 threads, a machine of this kind), for when torch is absent.
    let peers = [
        (0.19f64, 0.26f64, 0.76f64, 0.90f64),
        (0.0039, 0.0039, 0.049, 0.049),
    ];
    match torch_figures(quick) {
        Some(t) => {
            println!(
                "PyTorch, same run (torch {}):",
                t["version"].as_str().unwrap_or("?")
            );
            for (r, key) in rows.iter().zip(["big", "small"]) {
                let f = |k: &str| t[key][k].as_f64();
                let nan = f64::NAN;
                let ts = f("sample_forward_s").unwrap_or(nan);
                println!("  {}", r.name);
                if let Some(p) = &r.peer {
                    println!(
                        "    full TabDDPM step (batch draw, forward process, mixed loss), blocks alternating with ours: train {:.2} ms ({:.2}× synthvol speed-up)",
                        p.train_s * 1e3,
                        p.train_ratio
                    );
                    if let Some((g, ratio)) = p.ghost {
                        println!(
                            "      Opacus ghost-clipping DP step {:.2} ms ({:.2}× synthvol's DP step speed-up)",
                            g * 1e3,
                            ratio
                        );
                    }
                    if let Some((s, ratio)) = p.sample {
                        println!(
                            "    TabDDPM's sampling step at 10,000 rows (forward pass, Gaussian and multinomial posterior updates), alternating blocks: {:.1} ms ({:.2}× synthvol speed-up)",
                            s * 1e3,
                            ratio
                        );
                    }
                }
                println!(
                    "    the same, timed after ours in one go: train {:.2} ms ({:.2}×){}",
                    f("train_s").unwrap_or(nan) * 1e3,
                    f("train_s").unwrap_or(nan) / r.train_s,
                    f("opacus_ghost_s").map_or(String::new(), |g| format!(
                        ", Opacus ghost-clipping DP step {:.2} ms ({:.2}×)",
                        g * 1e3,
                        g / r.dp_train_s
                    ))
                );
                println!(
                    "    network only (MSE on one fixed batch; less work than synthvol's step): train {:.2} ms ({:.2}×)",
                    f("train_mse_s").unwrap_or(nan) * 1e3,
                    f("train_mse_s").unwrap_or(nan) / r.train_s
                );
                if let Some(g) = f("opacus_ghost_mse_s") {
                    println!(
                        "      Opacus ghost-clipping DP step {:.2} ms ({:.2}×)",
                        g * 1e3,
                        g / r.dp_train_s
                    );
                }
                println!(
                    "    TabDDPM's sampling step at 10,000 rows, timed after ours in one go: {:.1} ms ({:.2}×); its bare forward pass {:.1} ms ({:.2}×)",
                    f("sample_s").unwrap_or(nan) * 1e3,
                    f("sample_s").unwrap_or(nan) / r.sample_s,
                    ts * 1e3,
                    ts / r.sample_s
                );
            }
        }
        None => {
            println!("PyTorch figures from PEERS.md (not measured in this run):");
            for (r, p) in rows.iter().zip(peers) {
                println!(
                    "  {:<42} train {:.1}–{:.1} ms (speed-up {:.2}–{:.2}×), forward@10k {:.0}–{:.0} ms ({:.2}–{:.2}×)",
                    r.name, p.0 * 1e3, p.1 * 1e3, p.0 / r.train_s, p.1 / r.train_s, p.2 * 1e3, p.3 * 1e3, p.2 / r.sample_s, p.3 / r.sample_s
                );
            }
        }
    }
}

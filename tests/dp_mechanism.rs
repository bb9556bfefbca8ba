//! DP-SGD's book-keeping path (per-sample norms from the kept A and G, clip factors, one GEMM
//! per layer with row-scaled G, summed over the shards of a batch) against per-sample
//! gradients computed one private row at a time, in f64.

use synthvol::internals::backend::{Backend, CpuBackend};
use synthvol::internals::nn::{convert, Denoiser, DenoiserConfig, Trainable};

/// The batch's private rows (whole groups of `k` draws) are split into `shards` workspaces, as
/// the trainer splits a batch across threads: per-row norms and clipping run in each shard,
/// and the clipped sum adds the shards up.
fn check(n_classes: usize, k: usize, shards: usize) {
    check_set(n_classes, k, shards, Trainable::All);
}

/// [`check`] for the parameters `set` trains: norms and clipped sums are those of the trained
/// coordinates alone, and the frozen ones' gradient entries are never written.
fn check_set(n_classes: usize, k: usize, shards: usize, set: Trainable) {
    let be = CpuBackend::<f64>::new();
    let cfg = DenoiserConfig {
        d_in: 9,
        dim_t: 8,
        layers: vec![10, 7],
        n_classes,
    };
    let net = Denoiser::new(cfg.clone());
    let params: Vec<f64> = convert(&net.init_params(5));
    let n_priv = 7;
    let rows = n_priv * k;
    let d = cfg.d_in;
    let x: Vec<f64> = (0..rows * d)
        .map(|i| ((i * 37 % 23) as f64 / 11.0) - 1.0)
        .collect();
    let t: Vec<f64> = (0..rows).map(|i| (i * 7 % 40) as f64).collect();
    // The k draws of a private row share its label.
    let y: Vec<f64> = (0..rows)
        .map(|i| ((i / k) % n_classes.max(1)) as f64)
        .collect();
    // Output gradients of very different sizes, so that some rows are clipped and some not.
    let dout: Vec<f64> = (0..rows * d)
        .map(|i| (((i * 53 % 29) as f64 / 14.0) - 1.0) * (1.0 + 3.0 * ((i / d / k) % 3) as f64))
        .collect();

    // Book-keeping path, one workspace per shard of whole groups.
    let bounds: Vec<(usize, usize)> = (0..shards)
        .map(|s| (n_priv * s / shards, n_priv * (s + 1) / shards))
        .collect();
    let mut wss: Vec<_> = bounds
        .iter()
        .map(|&(g0, g1)| {
            let (r0, r1) = (g0 * k, g1 * k);
            let mut ws = net.workspace(&be, r1 - r0).unwrap();
            be.upload(&mut ws.x, 0, &x[r0 * d..r1 * d]).unwrap();
            be.upload(&mut ws.t, 0, &t[r0..r1]).unwrap();
            be.upload(&mut ws.y, 0, &y[r0..r1]).unwrap();
            net.forward(&be, &params, &mut ws, r1 - r0).unwrap();
            be.upload(&mut ws.dout, 0, &dout[r0 * d..r1 * d]).unwrap();
            net.backward_data(&be, &params, &mut ws, r1 - r0).unwrap();
            ws
        })
        .collect();
    // With C = ∞ every factor is 1: the pass reports the norms and leaves G as it is.
    let clip = |wss: &mut Vec<_>, c: f64| -> Vec<f64> {
        let mut sq = Vec::new();
        for (ws, &(g0, g1)) in wss.iter_mut().zip(&bounds) {
            let mut part = be.alloc(g1 - g0).unwrap();
            net.clip_output_grads(&be, ws, (g1 - g0) * k, k, c, &mut part, set)
                .unwrap();
            sq.extend(part);
        }
        sq
    };
    let sq = clip(&mut wss, f64::INFINITY);

    // Brute force: each private row's gradient on its own.
    let mut per_row: Vec<Vec<f64>> = Vec::new();
    for i in 0..n_priv {
        let mut w1 = net.workspace(&be, k).unwrap();
        be.upload(&mut w1.x, 0, &x[i * k * d..(i + 1) * k * d])
            .unwrap();
        be.upload(&mut w1.t, 0, &t[i * k..(i + 1) * k]).unwrap();
        be.upload(&mut w1.y, 0, &y[i * k..(i + 1) * k]).unwrap();
        net.forward(&be, &params, &mut w1, k).unwrap();
        be.upload(&mut w1.dout, 0, &dout[i * k * d..(i + 1) * k * d])
            .unwrap();
        let mut g = be.alloc(net.n_params).unwrap();
        net.backward(&be, &params, &mut g, &mut w1, k, false)
            .unwrap();
        per_row.push(g);
    }
    let ranges = net.trained_ranges(set);
    let trained = |p: usize| ranges.iter().any(|r| r.contains(&p));
    let norms: Vec<f64> = per_row
        .iter()
        .map(|g| {
            (0..g.len())
                .filter(|&p| trained(p))
                .map(|p| g[p] * g[p])
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    for i in 0..n_priv {
        let got = sq[i].sqrt();
        assert!(
            (got - norms[i]).abs() <= 1e-6 * norms[i],
            "row {i}: norm {got} vs brute force {}",
            norms[i]
        );
    }

    // Clip to the median norm: about half the rows are clipped.
    let mut sorted = norms.clone();
    sorted.sort_by(f64::total_cmp);
    let c = sorted[n_priv / 2];
    let factors: Vec<f64> = (0..n_priv)
        .map(|i| (c / (sq[i].sqrt() + 1e-6)).min(1.0))
        .collect();
    assert!(factors.iter().any(|&f| f < 1.0) && factors.contains(&1.0));
    let sq2 = clip(&mut wss, c);
    assert_eq!(sq, sq2, "the norms are those of the unscaled G");
    // NaN in the buffer must not survive an overwriting pass.
    let mut clipped = vec![f64::NAN; net.n_params];
    let parts: Vec<_> = wss
        .iter()
        .zip(&bounds)
        .map(|(ws, &(g0, g1))| (ws, (g1 - g0) * k))
        .collect();
    net.backward_params_of(&be, &mut clipped, &parts, false, set)
        .unwrap();
    let scale = clipped
        .iter()
        .filter(|v| !v.is_nan())
        .map(|v| v.abs())
        .fold(0.0f64, f64::max);
    for p in 0..net.n_params {
        if !trained(p) {
            assert!(clipped[p].is_nan(), "frozen parameter {p} was written");
            continue;
        }
        let want: f64 = (0..n_priv).map(|i| factors[i] * per_row[i][p]).sum();
        assert!(
            (clipped[p] - want).abs() <= 1e-6 * want.abs().max(1e-3 * scale),
            "parameter {p}: {} vs {want}",
            clipped[p]
        );
    }
}

#[test]
fn per_sample_norms_and_clipped_sum_k1_unconditional() {
    check(0, 1, 1);
}

#[test]
fn per_sample_norms_and_clipped_sum_k1_with_label() {
    check(3, 1, 1);
}

#[test]
fn per_sample_norms_and_clipped_sum_k3_unconditional() {
    check(0, 3, 1);
}

#[test]
fn per_sample_norms_and_clipped_sum_k3_with_label() {
    check(2, 3, 1);
}

#[test]
fn sharded_batches_give_the_same_norms_and_clipped_sum_k1() {
    check(3, 1, 3);
}

#[test]
fn sharded_batches_give_the_same_norms_and_clipped_sum_k3() {
    check(2, 3, 2);
}

#[test]
fn head_set_norms_and_clipped_sum_match_brute_force() {
    check_set(3, 1, 1, Trainable::Head);
    check_set(2, 3, 2, Trainable::Head);
}

#[test]
fn bias_set_norms_and_clipped_sum_match_brute_force() {
    check_set(3, 1, 2, Trainable::Biases);
    check_set(0, 3, 1, Trainable::Biases);
}

#[test]
fn trained_ranges_cover_what_each_set_names() {
    let net = Denoiser::new(DenoiserConfig {
        d_in: 9,
        dim_t: 8,
        layers: vec![10, 7],
        n_classes: 3,
    });
    let count = |s| net.trained_count(s);
    assert_eq!(count(Trainable::All), net.n_params);
    let biases = 8 + 8 + 8 + 10 + 7 + 9 + 3 * 8;
    assert_eq!(count(Trainable::Biases), biases);
    assert_eq!(count(Trainable::Head), biases + 7 * 9);
    // Sorted, disjoint, inside the buffer.
    for s in Trainable::ALL {
        let r = net.trained_ranges(s);
        assert!(r.windows(2).all(|w| w[0].end < w[1].start), "{s:?}: {r:?}");
        assert!(r.last().unwrap().end <= net.n_params);
    }
}

mod statistics {
    use synthvol::internals::backend::{run_parallel, Backend, CpuBackend};
    use synthvol::internals::diffusion::{Layout, Schedule};
    use synthvol::internals::encode::Encoded;
    use synthvol::internals::nn::{Denoiser, DenoiserConfig};
    use synthvol::internals::train::{DpConfig, OptimConfig, Trainer};

    const KEY: [u8; 32] = [7; 32];

    fn noise(threads: usize, stream: u64) -> Vec<f32> {
        run_parallel::<(), _>(threads, &mut |_| true, |_| {
            let be = CpuBackend::<f32>::new();
            let mut x = be.alloc(200_001).unwrap();
            be.add_noise_and_scale(&mut x, 200_001, 2.5, 1.0, &KEY, stream)
                .unwrap();
            x
        })
        .expect("threads")
    }

    #[test]
    fn noise_has_standard_deviation_sigma_c_and_is_reproducible() {
        let z = noise(1, 3);
        let n = z.len() as f64;
        let mean = z.iter().map(|&v| v as f64).sum::<f64>() / n;
        let sd = (z.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        // Standard errors: mean 2.5/√n ≈ 0.0056, sd 2.5/√(2n) ≈ 0.004.
        assert!(mean.abs() < 0.02, "mean {mean}");
        assert!((sd - 2.5).abs() < 0.015, "sd {sd}");
        // Normal tails: about 4.55% beyond 2σ.
        let tail = z.iter().filter(|v| v.abs() > 5.0).count() as f64 / n;
        assert!((tail - 0.0455).abs() < 0.003, "tail share {tail}");
        assert_eq!(
            z,
            noise(2, 3),
            "same key and stream, same noise, whatever the threads"
        );
        assert_ne!(z, noise(1, 4), "another stream, other noise");
    }

    /// The trainer draws a step's noise inside the AdamW pass; it must be the very noise that
    /// `add_noise_and_scale` adds (the one the statistical test above checks).
    #[test]
    fn noise_fused_into_the_optimiser_is_the_same_noise() {
        use synthvol::internals::backend::{AdamStep, GradNoise};
        let len = 3 * 8192 + 77;
        run_parallel::<(), _>(2, &mut |_| true, |_| {
            let be = CpuBackend::<f32>::new();
            let start: Vec<f32> = (0..len).map(|i| ((i % 13) as f32 - 6.0) * 0.01).collect();
            let step = |noise| AdamStep {
                lr: 1e-3,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 1e-4,
                t: 3,
                ema_rate: 0.9,
                noise,
            };
            let run = |fused: bool| {
                let (mut p, mut g) = (start.clone(), start.clone());
                let (mut m, mut v, mut e) = (vec![0f32; len], vec![0f32; len], start.clone());
                let noise = GradNoise {
                    std: 1.5,
                    scale: 0.25,
                    key: KEY,
                    stream: 11,
                };
                if fused {
                    be.adamw(
                        &mut p,
                        &mut g,
                        &mut m,
                        &mut v,
                        &mut e,
                        0..len,
                        step(Some(noise)),
                    )
                    .unwrap();
                } else {
                    be.add_noise_and_scale(&mut g, len, 1.5, 0.25, &KEY, 11)
                        .unwrap();
                    be.adamw(&mut p, &mut g, &mut m, &mut v, &mut e, 0..len, step(None))
                        .unwrap();
                }
                (p, g, e)
            };
            let (fused, separate) = (run(true), run(false));
            assert_eq!(fused, separate);
            assert_ne!(fused.1, start, "noise was added");
        })
        .expect("threads");
    }

    /// A partial training updates one range at a time: what is outside stays bit-identical,
    /// and the range gets the noise of a buffer holding the range alone.
    #[test]
    fn the_optimiser_on_a_range_leaves_the_rest_and_draws_the_range_noise() {
        use synthvol::internals::backend::{AdamStep, GradNoise};
        let (len, range) = (20_000usize, 8_193..17_000);
        run_parallel::<(), _>(2, &mut |_| true, |_| {
            let be = CpuBackend::<f32>::new();
            let start: Vec<f32> = (0..len).map(|i| ((i % 11) as f32 - 5.0) * 0.01).collect();
            let step = AdamStep {
                lr: 1e-3,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 1e-4,
                t: 1,
                ema_rate: 0.9,
                noise: Some(GradNoise {
                    std: 1.5,
                    scale: 0.5,
                    key: KEY,
                    stream: 5,
                }),
            };
            let (mut p, mut g) = (start.clone(), start.clone());
            let (mut m, mut v, mut e) = (vec![0f32; len], vec![0f32; len], start.clone());
            be.adamw(&mut p, &mut g, &mut m, &mut v, &mut e, range.clone(), step)
                .unwrap();
            for i in (0..len).filter(|i| !range.contains(i)) {
                assert_eq!(p[i].to_bits(), start[i].to_bits());
                assert_eq!(e[i].to_bits(), start[i].to_bits());
                assert_eq!((g[i].to_bits(), m[i], v[i]), (start[i].to_bits(), 0.0, 0.0));
            }
            let mut alone = start[range.clone()].to_vec();
            be.add_noise_and_scale(&mut alone, range.len(), 1.5, 0.5, &KEY, 5)
                .unwrap();
            assert!(g[range.clone()] == alone[..], "the range's noise");
            assert!(p[range.clone()] != start[range.clone()]);
        })
        .expect("threads");
    }

    #[test]
    fn poisson_inclusion_rate_is_q() {
        let (n, q, steps) = (20_000usize, 0.03, 50);
        let mut counts = vec![0u32; n];
        let mut sizes = Vec::new();
        let mut sel = Vec::new();
        for s in 0..steps {
            Trainer::<CpuBackend<f32>>::poisson_sample(&KEY, q, n, s, &mut sel);
            sizes.push(sel.len());
            for &i in &sel {
                counts[i as usize] += 1;
            }
        }
        let total: usize = sizes.iter().sum();
        let rate = total as f64 / (n * steps) as f64;
        let se = (q * (1.0 - q) / (n * steps) as f64).sqrt();
        assert!((rate - q).abs() < 4.0 * se, "rate {rate}");
        assert!(sizes.iter().any(|&b| b != sizes[0]), "batch sizes vary");
        // Rows are treated alike: first and second halves have the same rate.
        let half: u32 = counts[..n / 2].iter().sum();
        let r1 = half as f64 / (n / 2 * steps) as f64;
        assert!((r1 - q).abs() < 6.0 * se, "first-half rate {r1}");
    }

    #[test]
    fn an_empty_batch_is_a_valid_noise_only_step() {
        let layout = Layout {
            n_num: 2,
            blocks: vec![3],
        };
        let n = 50;
        let mut x = vec![0f32; n * 5];
        for i in 0..n {
            x[i * 5] = i as f32 / 50.0;
            x[i * 5 + 2 + i % 3] = 1.0;
        }
        let data = Encoded { x, labels: None, n };
        let net = Denoiser::new(DenoiserConfig {
            d_in: 5,
            dim_t: 8,
            layers: vec![8],
            n_classes: 0,
        });
        let sched = Schedule::cosine(10);
        let init = net.init_params(1);
        let be = CpuBackend::<f32>::new();
        let optim = OptimConfig {
            steps: 5,
            batch_size: 16,
            ..OptimConfig::default()
        };
        let mut tr =
            Trainer::new(&be, &net, &layout, &sched, &data, &optim, &init, 1).expect("trainer");
        tr.enable_dp(DpConfig {
            q: 1e-12,
            sigma: 1.0,
            max_grad_norm: 1.0,
            augment: 2,
            key: KEY,
            categorical_weight: 1.0,
        })
        .expect("dp");
        for s in 0..5 {
            assert!(
                tr.step(s).expect("step").is_nan(),
                "an empty batch has no loss"
            );
        }
        let (p, _) = tr.finish().unwrap();
        assert_ne!(p, init, "noise still moved the parameters");
        assert!(p.iter().all(|v| v.is_finite()));
    }
}

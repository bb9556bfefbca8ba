//! The denoiser's backward pass against central finite differences, in f64.

use synthvol::internals::backend::{Backend, CpuBackend};
use synthvol::internals::nn::{convert, Denoiser, DenoiserConfig};

fn check(n_classes: usize, layers: Vec<usize>) {
    let be = CpuBackend::<f64>::new();
    let cfg = DenoiserConfig {
        d_in: 7,
        dim_t: 8,
        layers,
        n_classes,
    };
    let net = Denoiser::new(cfg.clone());
    let p32 = net.init_params(11);
    let mut params: Vec<f64> = convert(&p32);
    // Biases start near zero in PyTorch's init; perturb them so every path is exercised.
    for (i, v) in params.iter_mut().enumerate() {
        *v += 0.05 * ((i * 7919 % 101) as f64 / 101.0 - 0.5);
    }
    let rows = 5;
    let mut ws = net.workspace(&be, rows).unwrap();
    let x: Vec<f64> = (0..rows * cfg.d_in)
        .map(|i| ((i * 37 % 19) as f64 / 9.0) - 1.0)
        .collect();
    let t: Vec<f64> = (0..rows).map(|i| (i * 13 % 50) as f64).collect();
    let y: Vec<f64> = (0..rows).map(|i| (i % n_classes.max(1)) as f64).collect();
    let c: Vec<f64> = (0..rows * cfg.d_in)
        .map(|i| ((i * 53 % 23) as f64 / 11.0) - 1.0)
        .collect();
    be.upload(&mut ws.x, 0, &x).unwrap();
    be.upload(&mut ws.t, 0, &t).unwrap();
    be.upload(&mut ws.y, 0, &y).unwrap();
    // Loss L = Σ c ⊙ out, so dL/dout = c.
    let loss =
        |ws: &mut synthvol::internals::nn::Workspace<CpuBackend<f64>>, p: &Vec<f64>| -> f64 {
            net.forward(&be, p, ws, rows).unwrap();
            ws.out[..rows * cfg.d_in]
                .iter()
                .zip(&c)
                .map(|(o, c)| o * c)
                .sum()
        };
    loss(&mut ws, &params);
    be.upload(&mut ws.dout, 0, &c).unwrap();
    let mut grads = be.alloc(net.n_params).unwrap();
    net.backward(&be, &params, &mut grads, &mut ws, rows, true)
        .unwrap();
    let dx = ws.dx[..rows * cfg.d_in].to_vec();

    let h = 1e-6;
    let rel = |a: f64, b: f64| (a - b).abs() / a.abs().max(b.abs()).max(1e-4);
    let mut worst: f64 = 0.0;
    for i in 0..net.n_params {
        let mut p = params.clone();
        p[i] += h;
        let lp = loss(&mut ws, &p);
        p[i] -= 2.0 * h;
        let lm = loss(&mut ws, &p);
        let fd = (lp - lm) / (2.0 * h);
        let e = rel(grads[i], fd);
        worst = worst.max(e);
        assert!(
            e <= 1e-5,
            "parameter {i}: backward {} vs finite difference {fd}",
            grads[i]
        );
    }
    for i in 0..rows * cfg.d_in {
        let mut xi = x.clone();
        xi[i] += h;
        be.upload(&mut ws.x, 0, &xi).unwrap();
        let lp = loss(&mut ws, &params);
        xi[i] -= 2.0 * h;
        be.upload(&mut ws.x, 0, &xi).unwrap();
        let lm = loss(&mut ws, &params);
        let fd = (lp - lm) / (2.0 * h);
        let e = rel(dx[i], fd);
        worst = worst.max(e);
        assert!(
            e <= 1e-5,
            "input {i}: backward {} vs finite difference {fd}",
            dx[i]
        );
    }
    eprintln!(
        "classes {n_classes}: worst relative error {worst:.2e} over {} parameters",
        net.n_params
    );
}

#[test]
fn backward_matches_finite_differences_unconditional() {
    check(0, vec![6, 5]);
}

#[test]
fn backward_matches_finite_differences_with_label() {
    check(3, vec![6, 5]);
}

#[test]
fn backward_matches_finite_differences_without_blocks() {
    check(2, vec![]);
}

#[test]
fn shared_timestep_forward_equals_the_full_forward() {
    let be = CpuBackend::<f64>::new();
    let cfg = DenoiserConfig {
        d_in: 6,
        dim_t: 8,
        layers: vec![5, 4],
        n_classes: 3,
    };
    let net = Denoiser::new(cfg.clone());
    let params: Vec<f64> = convert(&net.init_params(3));
    let rows = 7;
    let mut ws = net.workspace(&be, rows).unwrap();
    net.set_time_table(&be, &mut ws, 50).unwrap();
    let x: Vec<f64> = (0..rows * cfg.d_in)
        .map(|i| ((i * 29 % 17) as f64 / 8.0) - 1.0)
        .collect();
    be.upload(&mut ws.x, 0, &x).unwrap();
    be.upload(&mut ws.t, 0, &vec![17.0; rows]).unwrap();
    be.upload(
        &mut ws.y,
        0,
        &(0..rows).map(|i| (i % 3) as f64).collect::<Vec<_>>(),
    )
    .unwrap();
    net.forward(&be, &params, &mut ws, rows).unwrap();
    let full = ws.out[..rows * cfg.d_in].to_vec();
    net.forward_shared_t(&be, &params, &mut ws, rows).unwrap();
    for (a, b) in full.iter().zip(&ws.out[..rows * cfg.d_in]) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
}

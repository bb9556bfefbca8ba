//! DP-SGD's book-keeping path (per-sample norms from the kept A and G, clip factors, one GEMM
//! per layer with row-scaled G) against per-sample gradients computed one private row at a
//! time, in f64.

use synthvol::backend::{Backend, CpuBackend};
use synthvol::nn::{convert, Denoiser, DenoiserConfig};

fn check(n_classes: usize, k: usize) {
    let be = CpuBackend::<f64>::new();
    let cfg = DenoiserConfig {
        d_in: 9,
        dim_t: 8,
        layers: vec![10, 7],
        n_classes,
    };
    let net = Denoiser::new(cfg.clone());
    let params: Vec<f64> = convert(&net.init_params(5));
    let n_priv = 6;
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

    // Book-keeping path.
    let mut ws = net.workspace(&be, rows);
    be.upload(&mut ws.x, 0, &x);
    be.upload(&mut ws.t, 0, &t);
    be.upload(&mut ws.y, 0, &y);
    net.forward(&be, &params, &mut ws, rows);
    be.upload(&mut ws.dout, 0, &dout);
    net.backward_data(&be, &params, &mut ws, rows);
    let mut sq = be.alloc(n_priv);
    net.per_sample_sq_norms(&be, &ws, rows, k, &mut sq);

    // Brute force: each private row's gradient on its own.
    let mut per_row: Vec<Vec<f64>> = Vec::new();
    for i in 0..n_priv {
        let mut w1 = net.workspace(&be, k);
        be.upload(&mut w1.x, 0, &x[i * k * d..(i + 1) * k * d]);
        be.upload(&mut w1.t, 0, &t[i * k..(i + 1) * k]);
        be.upload(&mut w1.y, 0, &y[i * k..(i + 1) * k]);
        net.forward(&be, &params, &mut w1, k);
        be.upload(&mut w1.dout, 0, &dout[i * k * d..(i + 1) * k * d]);
        let mut g = be.alloc(net.n_params);
        net.backward(&be, &params, &mut g, &mut w1, k, false);
        per_row.push(g);
    }
    let norms: Vec<f64> = per_row
        .iter()
        .map(|g| g.iter().map(|v| v * v).sum::<f64>().sqrt())
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
    assert!(factors.iter().any(|&f| f < 1.0) && factors.iter().any(|&f| f == 1.0));
    let mut fb = be.alloc(n_priv);
    be.upload(&mut fb, 0, &factors);
    net.scale_output_grads(&be, &mut ws, rows, k, &fb);
    let mut clipped = be.alloc(net.n_params);
    net.backward_params(&be, &mut clipped, &ws, rows, false);
    let scale = clipped.iter().map(|v| v.abs()).fold(0.0f64, f64::max);
    for p in 0..net.n_params {
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
    check(0, 1);
}

#[test]
fn per_sample_norms_and_clipped_sum_k1_with_label() {
    check(3, 1);
}

#[test]
fn per_sample_norms_and_clipped_sum_k3_unconditional() {
    check(0, 3);
}

#[test]
fn per_sample_norms_and_clipped_sum_k3_with_label() {
    check(2, 3);
}

//! An empirical privacy audit of DP-SGD (after Nasr et al. 2021/2023): run the mechanism many
//! times on a one-row data set with and without a canary row, sum over the steps the released
//! noisy gradients' projections on the canary's gradient direction (DP-SGD's guarantee covers
//! every step's release), and turn the best threshold test's error rates into a lower bound on
//! ε with Clopper–Pearson intervals. The learning rate is ~0, so every step is taken at the
//! same weights: the worst case the accountant bounds. The threshold is chosen on one half of the runs and the error
//! rates measured on the other, so the bound holds at the stated confidence. A correct
//! mechanism and accountant never give a lower bound above the accountant's ε.

use serde::Serialize;

use crate::backend::{run_job, Device, DiffusionOps, Job, Relay};
use crate::diffusion::{Layout, LossWeights, Schedule};
use crate::encode::Encoded;
use crate::error::{Error, Result};
use crate::nn::{Denoiser, DenoiserConfig};
use crate::privacy::accountant::{default_orders, epsilon, Phase};
use crate::train::{DpConfig, OptimConfig, Trainer};

/// What to audit.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditConfig {
    /// Training runs with and without the canary (each).
    pub runs: usize,
    pub steps: usize,
    pub q: f64,
    pub sigma: f64,
    pub max_grad_norm: f64,
    pub delta: f64,
    /// Confidence of the Clopper–Pearson bounds.
    pub confidence: f64,
    pub seed: u64,
    /// Where the mechanism runs (the audit checks that backend's clipping and noise).
    pub device: Device,
}

impl Default for AuditConfig {
    /// 2000 runs each way of 10 steps at q = 0.5, σ = 1, C = 1, δ = 1e-5, 95% confidence.
    fn default() -> Self {
        AuditConfig {
            runs: 2000,
            steps: 10,
            q: 0.5,
            sigma: 1.0,
            max_grad_norm: 1.0,
            delta: 1e-5,
            confidence: 0.95,
            seed: 0,
            device: Device::Cpu,
        }
    }
}

/// The audit's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    /// The empirical lower bound on ε at `confidence`.
    pub epsilon_lower_bound: f64,
    /// The accountant's ε for the same plan.
    pub epsilon_accountant: f64,
    pub runs: usize,
    pub threshold: f64,
    pub false_positive_rate: f64,
    pub false_negative_rate: f64,
    pub confidence: f64,
}

/// Regularised incomplete beta I_x(a, b) (continued fraction, Numerical Recipes' betacf).
fn inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front =
        libm::lgamma(a + b) - libm::lgamma(a) - libm::lgamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let cf = |a: f64, b: f64, x: f64| {
        let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
        let tiny = 1e-300;
        let (mut c, mut d) = (1.0, 1.0 - qab * x / qap);
        if d.abs() < tiny {
            d = tiny;
        }
        d = 1.0 / d;
        let mut h = d;
        for m in 1..500 {
            let m = m as f64;
            let m2 = 2.0 * m;
            let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
            d = 1.0 + aa * d;
            d = if d.abs() < tiny { tiny } else { d };
            c = 1.0 + aa / c;
            c = if c.abs() < tiny { tiny } else { c };
            d = 1.0 / d;
            h *= d * c;
            let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
            d = 1.0 + aa * d;
            d = if d.abs() < tiny { tiny } else { d };
            c = 1.0 + aa / c;
            c = if c.abs() < tiny { tiny } else { c };
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-15 {
                break;
            }
        }
        h
    };
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * cf(a, b, x) / a
    } else {
        1.0 - ln_front.exp() * cf(b, a, 1.0 - x) / b
    }
}

/// One-sided Clopper–Pearson upper bound on a proportion with `k` successes in `n` trials.
pub fn clopper_pearson_upper(k: usize, n: usize, confidence: f64) -> f64 {
    if k >= n {
        return 1.0;
    }
    let alpha = 1.0 - confidence;
    // The upper bound p solves P(X ≤ k | p) = α, i.e. 1 − I_p(k + 1, n − k) = α.
    let (mut lo, mut hi) = (k as f64 / n as f64, 1.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if 1.0 - inc_beta(k as f64 + 1.0, (n - k) as f64, mid) > alpha {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// ε lower bound from error-rate upper bounds of a test at δ: an (ε, δ)-DP mechanism forces
/// FPR ≥ (1 − δ − FNR)·e^−ε and FNR ≥ (1 − δ − FPR)·e^−ε. No evidence gives 0.
fn eps_from_rates(fpr: f64, fnr: f64, delta: f64) -> f64 {
    let bound = |x: f64, y: f64| {
        let num = 1.0 - delta - x;
        if num <= 0.0 || y <= 0.0 {
            0.0
        } else {
            (num / y).ln()
        }
    };
    bound(fnr, fpr).max(bound(fpr, fnr)).max(0.0)
}

/// Runs the mechanism once; returns Σ_t ⟨released gradient_t, direction⟩.
#[allow(clippy::too_many_arguments)]
fn one_run<B: DiffusionOps>(
    be: &B,
    data: &Encoded,
    layout: &Layout,
    net: &Denoiser,
    init: &[f32],
    direction: &[f32],
    cfg: &AuditConfig,
    run: u64,
) -> Result<f64> {
    let sched = Schedule::cosine(20);
    let optim = OptimConfig {
        steps: cfg.steps,
        batch_size: 8,
        lr: 1e-30,
        weight_decay: 0.0,
        ema_rate: 0.0,
        early_stopping: None,
        trainable: crate::nn::Trainable::All,
    };
    let mut tr = Trainer::new(be, net, layout, &sched, data, &optim, init, cfg.seed ^ run)?;
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&cfg.seed.to_le_bytes());
    key[8..16].copy_from_slice(&run.to_le_bytes());
    tr.enable_dp(DpConfig {
        q: cfg.q,
        sigma: cfg.sigma,
        max_grad_norm: cfg.max_grad_norm,
        augment: 1,
        key,
        categorical_weight: 1.0,
    })?;
    // The released mean is the noisy clipped sum over qN (N is public): compare sums.
    let scale = cfg.q * data.n as f64;
    let mut stat = 0.0;
    for s in 0..cfg.steps {
        tr.step(s)?;
        stat += scale
            * tr.last_gradient()?
                .iter()
                .zip(direction)
                .map(|(g, d)| (g * d) as f64)
                .sum::<f64>();
    }
    Ok(stat)
}

/// Runs the audit on the configured device.
pub fn audit_dp_sgd(cfg: &AuditConfig) -> Result<AuditReport> {
    if cfg.runs < 20 {
        return Err(Error::invalid(
            "the audit needs at least 20 runs on each side",
        ));
    }
    crate::privacy::accountant::check_plan(cfg.q, cfg.steps as u64, cfg.delta)?;
    let sigma_ok = cfg.sigma >= 0.0 && cfg.sigma.is_finite();
    let norm_ok = cfg.max_grad_norm > 0.0 && cfg.max_grad_norm.is_finite();
    if !(sigma_ok && norm_ok) {
        return Err(Error::invalid(format!(
            "the audit needs a finite noise multiplier ≥ 0 and a positive clipping norm, got σ = {} and C = {}",
            cfg.sigma, cfg.max_grad_norm
        )));
    }
    Ok(run_job(cfg.device, 1, &mut |_| true, AuditJob(cfg))?.output)
}

struct AuditJob<'a>(&'a AuditConfig);

impl Job for AuditJob<'_> {
    type Output = AuditReport;
    fn run<B: DiffusionOps>(self, be: &B, _: &mut Relay<'_>) -> Result<AuditReport> {
        audit_on(be, self.0)
    }
}

fn audit_on<B: DiffusionOps>(be: &B, cfg: &AuditConfig) -> Result<AuditReport> {
    // A small dataset near the origin and a canary far from it.
    let layout = Layout {
        n_num: 2,
        blocks: vec![3],
    };
    let w = layout.width();
    let n = 1;
    let mut x = vec![0f32; (n + 1) * w];
    for i in 0..n {
        x[i * w] = 0.1;
        x[i * w + 1] = -0.2;
        x[i * w + 2] = 1.0;
    }
    x[n * w] = 4.0;
    x[n * w + 1] = -4.0;
    x[n * w + 4] = 1.0;
    let without = Encoded {
        x: x[..n * w].to_vec(),
        labels: None,
        n,
    };
    let with = Encoded {
        x: x.clone(),
        labels: None,
        n: n + 1,
    };
    let net = Denoiser::new(DenoiserConfig {
        d_in: w,
        dim_t: 8,
        layers: vec![16],
        n_classes: 0,
    });
    let init = net.init_params(cfg.seed);
    // The canary's gradient direction at the initial weights, averaged over fixed timesteps.
    let direction = canary_direction(be, &net, &layout, &init, &x[n * w..])?;
    let mut s0 = Vec::with_capacity(cfg.runs);
    let mut s1 = Vec::with_capacity(cfg.runs);
    for r in 0..cfg.runs as u64 {
        s0.push(one_run(
            be,
            &without,
            &layout,
            &net,
            &init,
            &direction,
            cfg,
            2 * r,
        )?);
        s1.push(one_run(
            be,
            &with,
            &layout,
            &net,
            &init,
            &direction,
            cfg,
            2 * r + 1,
        )?);
    }
    // Choose the threshold on the first half; measure on the second.
    let h = cfg.runs / 2;
    let mut candidates: Vec<f64> = s0[..h].iter().chain(&s1[..h]).copied().collect();
    candidates.sort_by(f64::total_cmp);
    let rates = |t: f64, a: &[f64], b: &[f64]| {
        let fp = a.iter().filter(|&&v| v > t).count();
        let fneg = b.iter().filter(|&&v| v <= t).count();
        (fp, fneg)
    };
    let score = |t: f64, a: &[f64], b: &[f64]| {
        let (fp, fneg) = rates(t, a, b);
        eps_from_rates(
            clopper_pearson_upper(fp, a.len(), cfg.confidence),
            clopper_pearson_upper(fneg, b.len(), cfg.confidence),
            cfg.delta,
        )
    };
    let mut best = (f64::NEG_INFINITY, 0.0);
    for &t in &candidates {
        let e = score(t, &s0[..h], &s1[..h]);
        if e > best.0 {
            best = (e, t);
        }
    }
    let t = best.1;
    let (fp, fneg) = rates(t, &s0[h..], &s1[h..]);
    let m = cfg.runs - h;
    let (fpr, fnr) = (
        clopper_pearson_upper(fp, m, cfg.confidence),
        clopper_pearson_upper(fneg, m, cfg.confidence),
    );
    let eps_acc = epsilon(
        &[Phase {
            q: cfg.q,
            sigma: cfg.sigma,
            steps: cfg.steps as u64,
        }],
        cfg.delta,
        &default_orders(),
    )
    .0;
    Ok(AuditReport {
        epsilon_lower_bound: eps_from_rates(fpr, fnr, cfg.delta),
        epsilon_accountant: eps_acc,
        runs: cfg.runs,
        threshold: t,
        false_positive_rate: fp as f64 / m as f64,
        false_negative_rate: fneg as f64 / m as f64,
        confidence: cfg.confidence,
    })
}

fn canary_direction<B: DiffusionOps>(
    be: &B,
    net: &Denoiser,
    layout: &Layout,
    init: &[f32],
    canary: &[f32],
) -> Result<Vec<f32>> {
    let sched = Schedule::cosine(20);
    let rows = 20;
    let w = layout.width();
    let mut ws = net.workspace(be, rows)?;
    let mut params = be.alloc(net.n_params)?;
    be.upload(&mut params, 0, init)?;
    let mut x0 = be.alloc(rows * w)?;
    for r in 0..rows {
        be.upload(&mut x0, r * w, canary)?;
    }
    let t: Vec<f32> = (0..rows).map(|i| i as f32).collect();
    be.upload(&mut ws.t, 0, &t)?;
    let mut eps = be.alloc(rows * layout.n_num)?;
    be.q_sample(
        layout, &sched, &x0, &ws.t, rows, 1, 1, 0, &mut ws.x, &mut eps,
    )?;
    net.forward(be, &params, &mut ws, rows)?;
    let mut loss = be.alloc(rows)?;
    be.loss_grad(
        layout,
        &sched,
        &ws.out,
        &x0,
        &ws.x,
        &eps,
        &ws.t,
        rows,
        LossWeights::new(layout, rows),
        &mut ws.dout,
        &mut loss,
    )?;
    let mut g_buf = be.alloc(net.n_params)?;
    net.backward(be, &params, &mut g_buf, &mut ws, rows, false)?;
    let mut g = vec![0f32; net.n_params];
    be.download(&g_buf, 0, &mut g)?;
    // The released gradient contains the canary's (clipped) gradient when it is sampled.
    let norm = g.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
    Ok(g.iter().map(|v| v / norm).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clopper_pearson_matches_reference_values() {
        // scipy.stats.beta.ppf(0.95, k + 1, n − k): k = 0, n = 100 → 0.0295130; k = 5, n = 50 → 0.1988330.
        assert!((clopper_pearson_upper(0, 100, 0.95) - 0.029_513_049_6).abs() < 1e-9);
        assert!(
            (clopper_pearson_upper(5, 50, 0.95) - 0.198_833_002_5).abs() < 1e-9,
            "{}",
            clopper_pearson_upper(5, 50, 0.95)
        );
        assert_eq!(clopper_pearson_upper(10, 10, 0.95), 1.0);
    }

    fn cfg(sigma: f64, steps: usize) -> AuditConfig {
        AuditConfig {
            runs: 1000,
            steps,
            q: 0.5,
            sigma,
            max_grad_norm: 1.0,
            delta: 1e-5,
            confidence: 0.95,
            seed: 3,
            device: Device::Cpu,
        }
    }

    #[test]
    fn the_lower_bound_stays_below_the_accountant() {
        for (sigma, steps) in [(0.8, 10), (1.5, 20)] {
            let r = audit_dp_sgd(&cfg(sigma, steps)).expect("audit");
            assert!(
                r.epsilon_lower_bound >= 0.0 && r.epsilon_lower_bound <= r.epsilon_accountant,
                "{r:?}"
            );
        }
    }

    #[test]
    fn the_audit_detects_a_nearly_noiseless_mechanism() {
        let r = audit_dp_sgd(&cfg(0.02, 10)).expect("audit");
        assert!(r.epsilon_lower_bound > 2.0, "the audit has power: {r:?}");
    }
}

//! Rényi-DP accountant for the Poisson-subsampled Gaussian mechanism (Mironov, Talwar & Zhang
//! 2019), exact for integer and fractional orders in log space, composed over phases with
//! different (q, σ), converted to (ε, δ) with the bound of Balle et al. (2020), and inverted to
//! calibrate σ for a target ε.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One phase of training: `steps` steps with sampling rate `q` and noise multiplier `sigma`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    pub q: f64,
    pub sigma: f64,
    pub steps: u64,
}

/// The orders Opacus uses by default (1.1, 1.2, …, 10.9 and 12, 13, …, 63), extended with
/// 64–1024 so that small budgets (ε ≲ 0.1, such as a preprocessing share) can be reached;
/// the optimum for the usual plans is an interior order, so the extension changes nothing there.
pub fn default_orders() -> Vec<f64> {
    let mut v: Vec<f64> = (11..110).map(|i| i as f64 / 10.0).collect();
    v.extend((12..64).map(|i| i as f64));
    v.extend([
        64.0, 80.0, 96.0, 128.0, 192.0, 256.0, 384.0, 512.0, 768.0, 1024.0,
    ]);
    v
}

fn log_add(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// ln(e^a − e^b) for a ≥ b.
fn log_sub(a: f64, b: f64) -> f64 {
    if b == f64::NEG_INFINITY {
        return a;
    }
    if a <= b {
        return f64::NEG_INFINITY;
    }
    a + (-(b - a).exp()).ln_1p()
}

/// ln erfc(x), accurate far into the tail.
fn log_erfc(x: f64) -> f64 {
    if x < 25.0 {
        libm::erfc(x).ln()
    } else {
        // Asymptotic expansion: erfc(x) ≈ e^{−x²}/(x√π) · (1 − 1/(2x²) + 3/(4x⁴) − 15/(8x⁶)).
        let x2 = x * x;
        -x2 - (x * std::f64::consts::PI.sqrt()).ln()
            + (1.0 - 0.5 / x2 + 0.75 / (x2 * x2) - 1.875 / (x2 * x2 * x2)).ln()
    }
}

/// ln |binom(α, i)| and its sign, for real α ≥ 0 and integer i ≥ 0.
fn log_binom(alpha: f64, i: u64) -> (f64, f64) {
    let i = i as f64;
    let (la, sa) = libm::lgamma_r(alpha + 1.0);
    let (li, si) = libm::lgamma_r(i + 1.0);
    let (lr, sr) = libm::lgamma_r(alpha - i + 1.0);
    (la - li - lr, (sa * si * sr) as f64)
}

/// ln A_α for integer α.
fn log_a_int(q: f64, sigma: f64, alpha: u64) -> f64 {
    let mut acc = f64::NEG_INFINITY;
    for i in 0..=alpha {
        let (lb, _) = log_binom(alpha as f64, i);
        let fi = i as f64;
        let term = lb
            + fi * q.ln()
            + (alpha as f64 - fi) * (1.0 - q).ln()
            + (fi * fi - fi) / (2.0 * sigma * sigma);
        acc = log_add(acc, term);
    }
    acc
}

/// ln A_α for fractional α (the two-sided series of Mironov et al., as in TF Privacy).
fn log_a_frac(q: f64, sigma: f64, alpha: f64) -> f64 {
    let (mut a0, mut a1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let z0 = sigma * sigma * (1.0 / q - 1.0).ln() + 0.5;
    let s2 = 2.0f64.sqrt() * sigma;
    let mut i = 0u64;
    loop {
        let (lc, sign) = log_binom(alpha, i);
        let fi = i as f64;
        let j = alpha - fi;
        let t0 = lc + fi * q.ln() + j * (1.0 - q).ln();
        let t1 = lc + j * q.ln() + fi * (1.0 - q).ln();
        let e0 = 0.5f64.ln() + log_erfc((fi - z0) / s2);
        let e1 = 0.5f64.ln() + log_erfc((z0 - j) / s2);
        let s0 = t0 + (fi * fi - fi) / (2.0 * sigma * sigma) + e0;
        let s1 = t1 + (j * j - j) / (2.0 * sigma * sigma) + e1;
        if sign > 0.0 {
            a0 = log_add(a0, s0);
            a1 = log_add(a1, s1);
        } else {
            a0 = log_sub(a0, s0);
            a1 = log_sub(a1, s1);
        }
        i += 1;
        if s0.max(s1) < -30.0 || i > 100_000 {
            break;
        }
    }
    log_add(a0, a1)
}

/// RDP of one step of the Poisson-subsampled Gaussian at order α.
pub fn rdp_step(q: f64, sigma: f64, alpha: f64) -> f64 {
    if q == 0.0 {
        return 0.0;
    }
    if sigma == 0.0 {
        return f64::INFINITY;
    }
    if q == 1.0 {
        return alpha / (2.0 * sigma * sigma);
    }
    let la = if alpha.fract() == 0.0 {
        log_a_int(q, sigma, alpha as u64)
    } else {
        log_a_frac(q, sigma, alpha)
    };
    la / (alpha - 1.0)
}

/// (ε, the best order) for the composition of `phases` at δ over `orders`.
pub fn epsilon(phases: &[Phase], delta: f64, orders: &[f64]) -> (f64, f64) {
    let mut best = (f64::INFINITY, f64::NAN);
    for &a in orders {
        let rdp: f64 = phases
            .iter()
            .map(|p| p.steps as f64 * rdp_step(p.q, p.sigma, a))
            .sum();
        let eps = rdp + ((a - 1.0) / a).ln() - (delta.ln() + a.ln()) / (a - 1.0);
        if eps.is_finite() && eps < best.0 {
            best = (eps.max(0.0), a);
        }
    }
    best
}

/// Checks the parameters of a plan.
pub fn check_plan(q: f64, steps: u64, delta: f64) -> Result<()> {
    if !(q > 0.0 && q <= 1.0) {
        return Err(Error::invalid(format!(
            "the sampling rate must be in (0, 1], got {q}"
        )));
    }
    if steps == 0 {
        return Err(Error::invalid("the number of steps must be at least 1"));
    }
    if !(delta > 0.0 && delta < 1.0) {
        return Err(Error::invalid(format!("δ must be in (0, 1), got {delta}")));
    }
    Ok(())
}

/// The smallest noise multiplier σ (to 0.1% relative) such that `prior` phases followed by
/// `steps` steps at rate `q` stay within `target_eps` at `delta`; the returned σ never exceeds
/// the budget. An error says why when no σ up to 10⁴ does.
pub fn calibrate_sigma(
    prior: &[Phase],
    q: f64,
    steps: u64,
    target_eps: f64,
    delta: f64,
    orders: &[f64],
) -> Result<f64> {
    check_plan(q, steps, delta)?;
    if !(target_eps > 0.0 && target_eps.is_finite()) {
        return Err(Error::invalid(format!(
            "ε must be positive and finite, got {target_eps}"
        )));
    }
    let eps_at = |sigma: f64| {
        let mut ph = prior.to_vec();
        ph.push(Phase { q, sigma, steps });
        epsilon(&ph, delta, orders).0
    };
    let spent = epsilon(prior, delta, orders).0;
    if !prior.is_empty() && spent >= target_eps {
        return Err(Error::invalid(format!(
            "the budget ε = {target_eps} is already spent (ε = {spent:.4} so far)"
        )));
    }
    let (mut lo, mut hi) = (0.01f64, 1.0f64);
    while eps_at(hi) > target_eps {
        lo = hi;
        hi *= 2.0;
        if hi > 1e4 {
            return Err(Error::invalid(format!(
                "ε = {target_eps} at δ = {delta} cannot be met with {steps} steps at sampling rate {q}, even with σ = 10⁴: use fewer steps, a lower sampling rate, or a larger ε"
            )));
        }
    }
    if eps_at(lo) <= target_eps {
        return Ok(lo);
    }
    while hi / lo > 1.001 {
        let mid = (lo * hi).sqrt();
        if eps_at(mid) <= target_eps {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eps(q: f64, sigma: f64, steps: u64) -> f64 {
        epsilon(&[Phase { q, sigma, steps }], 1e-5, &default_orders()).0
    }

    /// DESIGN.md's check values (Opacus's RDP accountant with its default orders).
    #[test]
    fn published_values() {
        for (q, s, t, want) in [
            (0.04, 1.5, 2250, 7.3291),
            (0.01, 1.0, 1000, 2.1014),
            (0.1, 4.0, 100, 1.0817),
        ] {
            let got = eps(q, s, t);
            assert!(
                (got - want).abs() < 5e-5,
                "q={q} σ={s} T={t}: ε = {got}, expected {want}"
            );
        }
    }

    #[test]
    fn integer_and_fractional_orders_agree_where_they_meet() {
        // The fractional series at α = 3 ± 1e-9 brackets the exact integer value.
        for (q, s) in [(0.01, 1.0), (0.2, 2.0), (0.5, 0.8)] {
            let i = rdp_step(q, s, 3.0);
            let f = rdp_step(q, s, 3.0 + 1e-9);
            assert!(
                (i - f).abs() < 1e-6 * i.abs().max(1e-12),
                "q={q} σ={s}: {i} vs {f}"
            );
        }
    }

    #[test]
    fn epsilon_is_monotone() {
        let base = eps(0.02, 1.2, 500);
        assert!(eps(0.02, 1.2, 1000) > base, "more steps, more ε");
        assert!(eps(0.04, 1.2, 500) > base, "higher q, more ε");
        assert!(eps(0.02, 2.0, 500) < base, "more noise, less ε");
        // Composition of two phases equals one phase of their total when they are alike.
        let two = epsilon(
            &[
                Phase {
                    q: 0.02,
                    sigma: 1.2,
                    steps: 200,
                },
                Phase {
                    q: 0.02,
                    sigma: 1.2,
                    steps: 300,
                },
            ],
            1e-5,
            &default_orders(),
        )
        .0;
        assert!((two - base).abs() < 1e-12);
    }

    #[test]
    fn calibration_stays_within_budget_and_is_tight() {
        let orders = default_orders();
        for (q, steps, target) in [(0.01, 1000, 1.0), (0.05, 3000, 8.0), (0.2, 50, 0.5)] {
            let s = calibrate_sigma(&[], q, steps, target, 1e-5, &orders).expect("calibrate");
            let e = epsilon(&[Phase { q, sigma: s, steps }], 1e-5, &orders).0;
            assert!(e <= target, "ε {e} exceeds the target {target}");
            let e_less = epsilon(
                &[Phase {
                    q,
                    sigma: s / 1.01,
                    steps,
                }],
                1e-5,
                &orders,
            )
            .0;
            assert!(
                e_less > target,
                "σ/1.01 should exceed the budget (σ within 1% of the smallest)"
            );
        }
    }

    #[test]
    fn impossible_budgets_are_clear_errors() {
        let orders = default_orders();
        let e =
            calibrate_sigma(&[], 1.0, 1_000_000_000, 1e-6, 1e-5, &orders).expect_err("impossible");
        assert!(e.message.contains("cannot be met"), "{}", e.message);
        let spent = [Phase {
            q: 0.1,
            sigma: 0.8,
            steps: 1000,
        }];
        let e = calibrate_sigma(&spent, 0.01, 10, 1.0, 1e-5, &orders).expect_err("spent");
        assert!(e.message.contains("already spent"), "{}", e.message);
        assert!(
            check_plan(0.0, 10, 1e-5).is_err()
                && check_plan(0.1, 0, 1e-5).is_err()
                && check_plan(0.1, 10, 1.0).is_err()
        );
    }
}

//! ε for a DP-SGD plan and σ for a target ε: the checks and the answer that the CLI's
//! `privacy` command and the C ABI's `sv_privacy_*` both give.

use serde::Serialize;

use super::accountant::{calibrate_sigma, check_plan, default_orders, epsilon, Phase};
use crate::error::{Error, Result};

/// The accountant's answer for a plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlanEpsilon {
    pub epsilon: f64,
    pub delta: f64,
    pub sample_rate: f64,
    pub noise_multiplier: f64,
    pub steps: u64,
    /// The Rényi order that gave the bound.
    pub order: f64,
    pub accountant: &'static str,
}

/// The δ of a plan when the caller gives none.
pub const DEFAULT_DELTA: f64 = 1e-5;

/// ε at `delta` after `steps` steps of the Poisson-subsampled Gaussian mechanism with rate
/// `q` and noise multiplier `sigma`. A plan whose ε is not finite (σ far too small for any
/// Rényi order to bound it) is an error that says so, never an "ε = null".
pub fn plan_epsilon(q: f64, sigma: f64, steps: u64, delta: f64) -> Result<PlanEpsilon> {
    check_plan(q, steps, delta)?;
    if !(sigma > 0.0 && sigma.is_finite()) {
        return Err(Error::invalid(format!(
            "the noise multiplier must be positive and finite, got {sigma}"
        )));
    }
    let (eps, order) = epsilon(&[Phase { q, sigma, steps }], delta, &default_orders());
    if !eps.is_finite() {
        return Err(Error::invalid(format!(
            "the plan gives no finite ε: with noise multiplier σ = {sigma} the mechanism is essentially noiseless at every Rényi order the accountant uses (ε is infinite); use a larger σ"
        )));
    }
    Ok(PlanEpsilon {
        epsilon: eps,
        delta,
        sample_rate: q,
        noise_multiplier: sigma,
        steps,
        order,
        accountant: "rdp",
    })
}

/// The smallest noise multiplier (to 0.1%) whose ε at `delta` after `steps` steps at rate `q`
/// is at most `epsilon`; an error says why when no σ can meet it.
pub fn plan_sigma(q: f64, steps: u64, epsilon: f64, delta: f64) -> Result<f64> {
    calibrate_sigma(&[], q, steps, epsilon, delta, &default_orders())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_without_noise_is_refused_not_null() {
        let e = plan_epsilon(0.01, 1e-300, 100, 1e-5).unwrap_err();
        assert!(e.message.contains("infinite"), "{}", e.message);
        let p = plan_epsilon(0.01, 1.0, 1000, 1e-5).unwrap();
        assert!((p.epsilon - 2.1014).abs() < 1e-3, "{}", p.epsilon);
        assert!(serde_json::to_string(&p)
            .unwrap()
            .contains("\"epsilon\":2.10"));
        assert!(plan_epsilon(0.0, 1.0, 10, 1e-5).is_err());
        assert!(plan_epsilon(0.1, f64::NAN, 10, 1e-5).is_err());
    }
}

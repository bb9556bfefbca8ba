//! Standalone accounting: ε for a DP-SGD plan, σ for a target ε.

use super::{check_out, guard, sv_status};
use crate::privacy::{plan_epsilon, plan_sigma, DEFAULT_DELTA};

/// ε at `delta` after `steps` steps of the Poisson-subsampled Gaussian mechanism with sampling
/// rate `q` and noise multiplier `sigma` (the RDP accountant of `synthvol privacy`); `delta`
/// 0 is the default, 1e-5. A plan whose ε is infinite is an error.
#[no_mangle]
pub extern "C" fn sv_privacy_epsilon(
    q: f64,
    sigma: f64,
    steps: u64,
    delta: f64,
    epsilon_out: *mut f64,
) -> sv_status {
    guard(|| {
        check_out(epsilon_out, "epsilon_out")?;
        let delta = if delta == 0.0 { DEFAULT_DELTA } else { delta };
        let p = plan_epsilon(q, sigma, steps, delta)?;
        // SAFETY: checked out-pointer.
        unsafe { *epsilon_out = p.epsilon };
        Ok(())
    })
}

/// The smallest noise multiplier (within 1%) whose ε at `delta` after `steps` steps at rate
/// `q` is at most `epsilon`; `SV_E_INVALID_ARGUMENT` with a message when no σ can meet it.
#[no_mangle]
pub extern "C" fn sv_privacy_sigma(
    q: f64,
    steps: u64,
    epsilon: f64,
    delta: f64,
    sigma_out: *mut f64,
) -> sv_status {
    guard(|| {
        check_out(sigma_out, "sigma_out")?;
        let s = plan_sigma(q, steps, epsilon, delta)?;
        // SAFETY: checked out-pointer.
        unsafe { *sigma_out = s };
        Ok(())
    })
}

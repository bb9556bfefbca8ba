//! The kernels' parameter blocks, computed on the host in f64 as the CPU backend computes them
//! and passed by value (`#[repr(C)]` twins of `sv_adam` in sv_math.cuh and `sv_step` in
//! sv_diffusion.cuh, the latter the CPU's own [`StepConsts`]). The host parity test feeds the
//! same values to the headers' host build.

use crate::backend::AdamStep;
/// One ancestral step's constants (`sv_step`), shared with the CPU's `p_sample_row`.
pub use crate::diffusion::StepConsts;

/// One AdamW step's constants (`sv_adam`): see `CpuBackend::adamw`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConsts {
    pub b1: f32,
    pub b2: f32,
    pub ob1: f32,
    pub ob2: f32,
    pub step: f32,
    pub inv_bc2: f32,
    pub eps: f32,
    pub decay: f32,
    pub er: f32,
    pub oer: f32,
}

impl AdamConsts {
    pub fn new(s: &AdamStep) -> AdamConsts {
        let bc1 = 1.0 - s.beta1.powi(s.t as i32);
        let bc2 = 1.0 - s.beta2.powi(s.t as i32);
        AdamConsts {
            b1: s.beta1 as f32,
            b2: s.beta2 as f32,
            ob1: (1.0 - s.beta1) as f32,
            ob2: (1.0 - s.beta2) as f32,
            step: (s.lr / bc1) as f32,
            inv_bc2: (1.0 / bc2) as f32,
            eps: s.eps as f32,
            decay: (1.0 - s.lr * s.weight_decay) as f32,
            er: s.ema_rate as f32,
            oer: (1.0 - s.ema_rate) as f32,
        }
    }
}

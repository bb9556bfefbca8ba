//! The kernels' parameter blocks, computed on the host in f64 as the CPU backend computes them
//! and passed by value (`#[repr(C)]` twins of `sv_adam` in sv_math.cuh and `sv_step` in
//! sv_diffusion.cuh). The host parity test feeds the same values to the headers' host build.

use crate::backend::AdamStep;
use crate::diffusion::Schedule;

/// One ancestral step's constants (`sv_step`): see `diffusion::p_sample_row`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepConsts {
    /// √(1/ᾱ_t) and √(1/ᾱ_t − 1): the predicted x0 from x_t and ε̂.
    pub c0: f64,
    pub c1: f64,
    /// The posterior mean's factors of x0 and x_t.
    pub m1: f64,
    pub m2: f64,
    /// ᾱ_{t−1} and α_t.
    pub abp: f64,
    pub a: f64,
    /// The step's standard deviation (TabDDPM's "fixed large" variance).
    pub sd: f32,
    pub t: i32,
}

impl StepConsts {
    /// The constants at step `t` of `sched` (`t < sched.steps`).
    pub fn at(sched: &Schedule, t: usize) -> StepConsts {
        let ab = sched.alpha_bar[t];
        let abp = sched.alpha_bar_prev(t);
        let beta = sched.beta[t];
        let a = sched.alpha[t];
        let var = if t == 0 {
            if sched.steps > 1 {
                sched.beta[1] * (1.0 - sched.alpha_bar[0]) / (1.0 - sched.alpha_bar[1])
            } else {
                0.0
            }
        } else {
            beta
        };
        StepConsts {
            c0: (1.0 / ab).sqrt(),
            c1: (1.0 / ab - 1.0).sqrt(),
            m1: beta * abp.sqrt() / (1.0 - ab),
            m2: (1.0 - abp) * a.sqrt() / (1.0 - ab),
            abp,
            a,
            sd: var.sqrt() as f32,
            t: t as i32,
        }
    }
}

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

//! The TabDDPM diffusion: cosine schedule, Gaussian part (ε-prediction, MSE) and multinomial
//! part (Hoogeboom et al. 2021, KL to the true posterior), as per-row functions.
//!
//! Backends apply these row functions to whole batches (the CPU backend with rayon over rows);
//! keeping them here keeps one definition of the mathematics. Categorical states are one-hot,
//! so the multinomial posteriors have closed forms in probability space and the only
//! transcendental work per level is the softmax of the model's logits.

use crate::encode::SCORE_LIMIT;
use crate::fastmath::exp_f32;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

pub use crate::rng::{fill_normal, row_rng, uniform};

/// Schedule constants per timestep (f64 at construction, read as f32 in the row functions).
#[derive(Debug, Clone)]
pub struct Schedule {
    pub steps: usize,
    pub alpha: Vec<f64>,
    pub alpha_bar: Vec<f64>,
    pub beta: Vec<f64>,
}

impl Schedule {
    /// The cosine schedule of Nichol & Dhariwal: ᾱ(t) = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s)·π/2),
    /// β_t = min(1 − ᾱ(t+1)/ᾱ(t), 0.999), s = 0.008.
    pub fn cosine(steps: usize) -> Schedule {
        let s = 0.008;
        let f = |t: f64| {
            (((t / steps as f64 + s) / (1.0 + s)) * std::f64::consts::FRAC_PI_2)
                .cos()
                .powi(2)
        };
        let beta: Vec<f64> = (0..steps)
            .map(|i| (1.0 - f(i as f64 + 1.0) / f(i as f64)).min(0.999))
            .collect();
        let alpha: Vec<f64> = beta.iter().map(|b| 1.0 - b).collect();
        let mut alpha_bar = Vec::with_capacity(steps);
        let mut acc = 1.0;
        for a in &alpha {
            acc *= a;
            alpha_bar.push(acc);
        }
        Schedule {
            steps,
            alpha,
            alpha_bar,
            beta,
        }
    }

    /// ᾱ_{t−1}, with ᾱ_{−1} = 1.
    pub fn alpha_bar_prev(&self, t: usize) -> f64 {
        if t == 0 {
            1.0
        } else {
            self.alpha_bar[t - 1]
        }
    }
}

/// One ancestral step's constants at step t, in f64 (see [`p_sample_row`]). `#[repr(C)]`: the
/// GPU kernels take it by value (`sv_step` in kernels/include/sv_diffusion.cuh).
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

impl Schedule {
    /// The constants of the ancestral step at `t` (`t < steps`).
    pub fn step_consts(&self, t: usize) -> StepConsts {
        let ab = self.alpha_bar[t];
        let abp = self.alpha_bar_prev(t);
        let beta = self.beta[t];
        let a = self.alpha[t];
        let var = if t == 0 {
            // "fixed large": the first entry is the posterior variance at t = 1.
            if self.steps > 1 {
                self.beta[1] * (1.0 - self.alpha_bar[0]) / (1.0 - self.alpha_bar[1])
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

/// Where the numeric part and the one-hot blocks lie in a row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    pub n_num: usize,
    /// Size of each one-hot block, in order after the numeric part.
    pub blocks: Vec<usize>,
}

impl Layout {
    pub fn width(&self) -> usize {
        self.n_num + self.blocks.iter().sum::<usize>()
    }
}

/// Index of the hot entry of a one-hot block.
#[inline]
fn hot(block: &[f32]) -> usize {
    block.iter().position(|&v| v > 0.5).unwrap_or(0)
}

/// Draws from unnormalised probabilities with one uniform and writes a one-hot block.
#[inline]
fn draw_one_hot(weights: &[f32], total: f32, u: f64, out: &mut [f32]) {
    let target = u as f32 * total;
    let mut acc = 0.0f32;
    let mut pick = weights.len() - 1;
    for (k, &w) in weights.iter().enumerate() {
        acc += w;
        if target < acc {
            pick = k;
            break;
        }
    }
    out.iter_mut().for_each(|v| *v = 0.0);
    out[pick] = 1.0;
}

/// Forward noising of one row: x_t from x_0 at step `t`; writes the Gaussian noise used.
pub fn q_sample_row(
    layout: &Layout,
    sched: &Schedule,
    t: usize,
    x0: &[f32],
    rng: &mut Xoshiro256PlusPlus,
    xt: &mut [f32],
    eps: &mut [f32],
) {
    let ab = sched.alpha_bar[t];
    let (sa, s1) = (ab.sqrt() as f32, (1.0 - ab).sqrt() as f32);
    fill_normal(rng, eps);
    for j in 0..layout.n_num {
        xt[j] = sa * x0[j] + s1 * eps[j];
    }
    let mut off = layout.n_num;
    let mut w: Vec<f32> = Vec::with_capacity(16);
    for &k in &layout.blocks {
        let c = ((1.0 - ab) / k as f64) as f32;
        let h = hot(&x0[off..off + k]);
        w.clear();
        w.extend((0..k).map(|i| if i == h { ab as f32 + c } else { c }));
        draw_one_hot(&w, 1.0, uniform(rng), &mut xt[off..off + k]);
        off += k;
    }
}

/// Weights of the two loss parts, already divided by the batch size.
#[derive(Debug, Clone, Copy)]
pub struct LossWeights {
    /// Multiplies the mean squared error over numeric columns.
    pub gaussian: f32,
    /// Multiplies the sum of block KLs (1 / number of blocks / batch).
    pub multinomial: f32,
}

impl LossWeights {
    pub fn new(layout: &Layout, batch: usize) -> LossWeights {
        let b = batch.max(1) as f32;
        LossWeights {
            gaussian: if layout.n_num > 0 {
                1.0 / layout.n_num as f32 / b
            } else {
                0.0
            },
            multinomial: if layout.blocks.is_empty() {
                0.0
            } else {
                1.0 / layout.blocks.len() as f32 / b
            },
        }
    }
}

/// The training loss of one row and its gradient with respect to the model output.
///
/// Gaussian part: Σ (ε̂ − ε)² · `w.gaussian`. Multinomial part per block, with p = softmax(z)
/// the predicted x_0, p' = w·p + (1 − w)/K (w = ᾱ_{t−1}, 1 at t = 0), b = α_t x_t + (1 − α_t)/K,
/// and the model posterior π ∝ p' ⊙ b: KL(θ ‖ π) against the true posterior θ for t > 0 and
/// −ln π(x_0) at t = 0. The gradient with respect to z is s − p·Σs, s = w·p ⊙ (π − r)/p'
/// (r = θ, or x_0 at t = 0). Returns the row's unweighted loss (gaussian mean + block mean).
pub fn loss_grad_row(
    layout: &Layout,
    sched: &Schedule,
    t: usize,
    out: &[f32],
    x0: &[f32],
    xt: &[f32],
    eps: &[f32],
    w: LossWeights,
    dout: &mut [f32],
    scratch: &mut Vec<f32>,
) -> f32 {
    let mut lg = 0.0f32;
    for j in 0..layout.n_num {
        let d = out[j] - eps[j];
        lg += d * d;
        dout[j] = 2.0 * d * w.gaussian;
    }
    let mut lm = 0.0f32;
    let a = sched.alpha[t];
    let wp = sched.alpha_bar_prev(t);
    let mut off = layout.n_num;
    for &k in &layout.blocks {
        let kf = k as f64;
        let z = &out[off..off + k];
        let (h0, ht) = (hot(&x0[off..off + k]), hot(&xt[off..off + k]));
        // b_k takes two values; ln b likewise.
        let (b_hot, b_cold) = ((a + (1.0 - a) / kf) as f32, ((1.0 - a) / kf) as f32);
        let c = ((1.0 - wp) / kf) as f32;
        let wpf = wp as f32;
        scratch.clear();
        scratch.resize(3 * k, 0.0);
        let (p, rest) = scratch.split_at_mut(k);
        let (pa, pi) = rest.split_at_mut(k);
        let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        // The exponentials in a loop of their own (it vectorises), then the sum in order.
        for (pi, &zi) in p.iter_mut().zip(z) {
            *pi = exp_f32((zi - m).max(-80.0));
        }
        let sp: f32 = p.iter().sum();
        let mut su = 0.0f32;
        for i in 0..k {
            p[i] /= sp;
            pa[i] = wpf * p[i] + c;
            pi[i] = pa[i] * if i == ht { b_hot } else { b_cold };
            su += pi[i];
        }
        pi.iter_mut().for_each(|v| *v /= su);
        // True posterior θ (t > 0) or x_0 (t = 0): at most four distinct values.
        let (r_of, loss) = if t == 0 {
            let lp = if wp == 1.0 {
                // ln π[x0] = ln p[x0] + ln b[x0] − ln Σ p b, with ln p from the log-softmax.
                (z[h0] - m - sp.ln()) + (if h0 == ht { b_hot } else { b_cold }).ln() - su.ln()
            } else {
                pi[h0].max(f32::MIN_POSITIVE).ln()
            };
            (Theta::OneHot(h0), -lp)
        } else {
            let q_hot = (wp + (1.0 - wp) / kf) as f32;
            let q_cold = c;
            let val = |i: usize| {
                (if i == h0 { q_hot } else { q_cold }) * (if i == ht { b_hot } else { b_cold })
            };
            let norm: f32 = if h0 == ht {
                val(h0) + (k - 1) as f32 * q_cold * b_cold
            } else {
                val(h0) + val(ht) + (k - 2) as f32 * q_cold * b_cold
            };
            // θ takes four values (is i the hot level of x0? of x_t?): their logarithms once.
            let th_of = |a: bool, b: bool| {
                (if a { q_hot } else { q_cold }) * (if b { b_hot } else { b_cold }) / norm
            };
            let th = [
                [th_of(false, false), th_of(false, true)],
                [th_of(true, false), th_of(true, true)],
            ];
            let ln_th = th.map(|r| r.map(|v| if v > 0.0 { v.ln() } else { 0.0 }));
            let mut kl = 0.0f32;
            for (i, &pi_i) in pi.iter().enumerate() {
                let (a, b) = ((i == h0) as usize, (i == ht) as usize);
                if th[a][b] > 0.0 {
                    kl += th[a][b] * (ln_th[a][b] - pi_i.max(f32::MIN_POSITIVE).ln());
                }
            }
            (
                Theta::Posterior {
                    h0,
                    ht,
                    q_hot,
                    q_cold,
                    b_hot,
                    b_cold,
                    norm,
                },
                kl.max(0.0),
            )
        };
        lm += loss;
        let g = &mut dout[off..off + k];
        let mut ssum = 0.0f32;
        for i in 0..k {
            let s = wpf * p[i] * (pi[i] - r_of.at(i)) / pa[i];
            g[i] = s;
            ssum += s;
        }
        for i in 0..k {
            g[i] = (g[i] - p[i] * ssum) * w.multinomial;
        }
        off += k;
    }
    let lg = if layout.n_num > 0 {
        lg / layout.n_num as f32
    } else {
        0.0
    };
    let lm = if layout.blocks.is_empty() {
        0.0
    } else {
        lm / layout.blocks.len() as f32
    };
    lg + lm
}

enum Theta {
    OneHot(usize),
    Posterior {
        h0: usize,
        ht: usize,
        q_hot: f32,
        q_cold: f32,
        b_hot: f32,
        b_cold: f32,
        norm: f32,
    },
}

impl Theta {
    #[inline]
    fn at(&self, i: usize) -> f32 {
        match *self {
            Theta::OneHot(h) => (i == h) as u8 as f32,
            Theta::Posterior {
                h0,
                ht,
                q_hot,
                q_cold,
                b_hot,
                b_cold,
                norm,
            } => {
                (if i == h0 { q_hot } else { q_cold }) * (if i == ht { b_hot } else { b_cold })
                    / norm
            }
        }
    }
}

/// One ancestral step x_t → x_{t−1} for one row, in place. Gaussian part: the posterior mean
/// from the predicted x_0 (from ε̂) with TabDDPM's "fixed large" variance; no noise at t = 0.
/// Multinomial part: a draw from π ∝ (w·softmax(z) + (1 − w)/K) ⊙ (α_t x_t + (1 − α_t)/K).
pub fn p_sample_row(
    layout: &Layout,
    sched: &Schedule,
    t: usize,
    out: &[f32],
    x: &mut [f32],
    rng: &mut Xoshiro256PlusPlus,
    scratch: &mut Vec<f32>,
) {
    let StepConsts {
        c0,
        c1,
        m1,
        m2,
        abp,
        a,
        sd,
        ..
    } = sched.step_consts(t);
    if layout.n_num > 0 {
        scratch.clear();
        scratch.resize(layout.n_num, 0.0);
        if t > 0 {
            fill_normal(rng, scratch);
        }
        for j in 0..layout.n_num {
            let xj = x[j] as f64;
            // The predicted x0 clipped to the encoding's range (DDPM's clip_denoised): at large
            // t, 1/√ᾱ amplifies an inexact noise prediction, and without the clip a wide
            // numeric table's samples diverge to the clamped bounds.
            let x0 = (c0 * xj - c1 * out[j] as f64).clamp(-SCORE_LIMIT, SCORE_LIMIT);
            let mean = m1 * x0 + m2 * xj;
            x[j] = mean as f32 + if t > 0 { sd * scratch[j] } else { 0.0 };
        }
    }
    let mut off = layout.n_num;
    for &k in &layout.blocks {
        let kf = k as f64;
        let z = &out[off..off + k];
        let ht = hot(&x[off..off + k]);
        let (b_hot, b_cold) = ((a + (1.0 - a) / kf) as f32, ((1.0 - a) / kf) as f32);
        let c = ((1.0 - abp) / kf) as f32;
        let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        scratch.clear();
        scratch.extend(z.iter().map(|&zi| exp_f32((zi - m).max(-80.0))));
        let sp: f32 = scratch.iter().sum();
        let mut su = 0.0f32;
        for (i, v) in scratch.iter_mut().enumerate() {
            *v = (abp as f32 * *v / sp + c) * if i == ht { b_hot } else { b_cold };
            su += *v;
        }
        let u = uniform(rng);
        draw_one_hot(scratch, su, u, &mut x[off..off + k]);
        off += k;
    }
}

/// Initial state x_T for one row: Gaussian noise and uniform categories.
pub fn prior_row(layout: &Layout, x: &mut [f32], rng: &mut Xoshiro256PlusPlus) {
    fill_normal(rng, &mut x[..layout.n_num]);
    let mut off = layout.n_num;
    for &k in &layout.blocks {
        let pick = ((uniform(rng) * k as f64) as usize).min(k - 1);
        x[off..off + k].iter_mut().for_each(|v| *v = 0.0);
        x[off + pick] = 1.0;
        off += k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_schedule_matches_reference_values() {
        let s = Schedule::cosine(1000);
        // ᾱ decreases from ≈1 to ≈0, β capped at 0.999.
        assert!(s.alpha_bar[0] > 0.9999 && s.alpha_bar[0] < 1.0);
        assert!(s.alpha_bar[999] < 1e-6);
        assert!(s.beta.iter().all(|&b| b > 0.0 && b <= 0.999));
        assert!(s.alpha_bar.windows(2).all(|w| w[1] < w[0]));
        // f(1)/f(0) for s = 0.008, T = 1000, computed independently.
        let f = |t: f64| {
            (((t / 1000.0 + 0.008) / 1.008) * std::f64::consts::FRAC_PI_2)
                .cos()
                .powi(2)
        };
        assert!((s.alpha_bar[0] - f(1.0) / f(0.0)).abs() < 1e-15);
    }

    #[test]
    fn multinomial_gradient_matches_finite_differences() {
        let layout = Layout {
            n_num: 2,
            blocks: vec![3, 4],
        };
        let sched = Schedule::cosine(50);
        let x0 = [0.3f32, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0];
        let xt = [0.1f32, 0.4, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0];
        let eps = [0.5f32, -0.2];
        let out = [0.2f32, 0.1, 0.7, -0.4, 1.1, 0.3, -0.8, 0.05, 0.6];
        let w = LossWeights::new(&layout, 1);
        let mut scratch = Vec::new();
        for t in [0usize, 1, 7, 30, 49] {
            let mut g = [0f32; 9];
            loss_grad_row(
                &layout,
                &sched,
                t,
                &out,
                &x0,
                &xt,
                &eps,
                w,
                &mut g,
                &mut scratch,
            );
            for i in 0..9 {
                let h = 1e-2f32;
                let mut o = out;
                o[i] += h;
                let mut d = [0f32; 9];
                let lp = loss_grad_row(
                    &layout,
                    &sched,
                    t,
                    &o,
                    &x0,
                    &xt,
                    &eps,
                    w,
                    &mut d,
                    &mut scratch,
                );
                o[i] -= 2.0 * h;
                let lm = loss_grad_row(
                    &layout,
                    &sched,
                    t,
                    &o,
                    &x0,
                    &xt,
                    &eps,
                    w,
                    &mut d,
                    &mut scratch,
                );
                // Weights 1/n_num and 1/n_blocks (batch 1) make the gradient that of the row loss.
                let fd = (lp - lm) / (2.0 * h);
                assert!((fd - g[i]).abs() < 2e-3, "t={t} i={i} fd={fd} g={}", g[i]);
            }
        }
    }

    /// The model parameterises π ∝ (w·p + (1 − w)/K) ⊙ b, and training drives π to the exact
    /// reverse transition Σ_{x0} p(x0 | x_t) q(x_{t−1} | x_t, x0). Feeding the p that yields it
    /// ("the perfect model"), the ancestral chain must reproduce the data's marginal.
    #[test]
    fn predicted_x0_is_clipped_to_the_encoding_range() {
        let layout = Layout {
            n_num: 2,
            blocks: vec![],
        };
        let sched = Schedule::cosine(50);
        let mut scratch = Vec::new();
        // A noise prediction far off at every level: the row ends at the encoding's bound,
        // not at the hundreds an unclipped x0 would give.
        let mut rng = row_rng(3, 0, 0);
        let mut x = vec![0f32; 2];
        prior_row(&layout, &mut x, &mut rng);
        for t in (0..50).rev() {
            p_sample_row(
                &layout,
                &sched,
                t,
                &[-50.0, 50.0],
                &mut x,
                &mut rng,
                &mut scratch,
            );
        }
        let lim = SCORE_LIMIT as f32;
        assert!(
            (x[0] - lim).abs() < 1e-4 && (x[1] + lim).abs() < 1e-4,
            "{x:?}"
        );
        // An exact prediction inside the range is left as it is: at t = 0 the step returns x0.
        let (ab, x0, eps) = (sched.alpha_bar[0], [1.5f64, -0.25], [0.3f64, -1.2]);
        let mut x: Vec<f32> = (0..2)
            .map(|j| (ab.sqrt() * x0[j] + (1.0 - ab).sqrt() * eps[j]) as f32)
            .collect();
        let out: Vec<f32> = eps.iter().map(|&e| e as f32).collect();
        p_sample_row(&layout, &sched, 0, &out, &mut x, &mut rng, &mut scratch);
        for j in 0..2 {
            assert!((x[j] as f64 - x0[j]).abs() < 1e-5, "{x:?}");
        }
    }

    #[test]
    fn multinomial_chain_with_perfect_model_reproduces_the_marginal() {
        let m = [0.51f64, 0.23, 0.215, 0.045];
        let k = m.len();
        let kf = k as f64;
        let layout = Layout {
            n_num: 0,
            blocks: vec![k],
        };
        for steps in [20usize, 100] {
            let sched = Schedule::cosine(steps);
            let n = 20000;
            let mut counts = vec![0usize; k];
            let mut scratch = Vec::new();
            for row in 0..n {
                let mut rng = row_rng(1, 2, row as u64);
                let mut x = vec![0f32; k];
                prior_row(&layout, &mut x, &mut rng);
                for t in (0..steps).rev() {
                    let j = hot(&x);
                    let (ab, abp, a) =
                        (sched.alpha_bar[t], sched.alpha_bar_prev(t), sched.alpha[t]);
                    let qt = |i: usize, ab: f64| ab * (i == j) as u8 as f64 + (1.0 - ab) / kf; // q(x_t = j | x_0 = i)
                    let post: Vec<f64> = (0..k).map(|i| m[i] * qt(i, ab)).collect();
                    let z: f64 = post.iter().sum();
                    let b: Vec<f64> = (0..k)
                        .map(|l| a * (l == j) as u8 as f64 + (1.0 - a) / kf)
                        .collect();
                    // r_l = Σ_i p(x0 = i | x_t) q(x_{t−1} = l | x_t, x0 = i)
                    let mut r = vec![0.0; k];
                    for (i, &post_i) in post.iter().enumerate() {
                        let q: Vec<f64> = (0..k)
                            .map(|l| (abp * (l == i) as u8 as f64 + (1.0 - abp) / kf) * b[l])
                            .collect();
                        let qs: f64 = q.iter().sum();
                        for l in 0..k {
                            r[l] += post_i / z * q[l] / qs;
                        }
                    }
                    let out: Vec<f32> = if t == 0 {
                        (0..k).map(|l| (r[l] / b[l]).ln() as f32).collect()
                    } else {
                        let lam = 1.0 / (0..k).map(|l| r[l] / b[l]).sum::<f64>();
                        (0..k)
                            .map(|l| {
                                ((lam * r[l] / b[l] - (1.0 - abp) / kf) / abp)
                                    .max(1e-30)
                                    .ln() as f32
                            })
                            .collect()
                    };
                    p_sample_row(&layout, &sched, t, &out, &mut x, &mut rng, &mut scratch);
                }
                counts[hot(&x)] += 1;
            }
            for i in 0..k {
                let f = counts[i] as f64 / n as f64;
                assert!(
                    (f - m[i]).abs() < 0.012,
                    "T={steps} level {i}: {f} vs {}",
                    m[i]
                );
            }
        }
    }
}

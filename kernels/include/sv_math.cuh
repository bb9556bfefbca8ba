// The per-element arithmetic of the kernels, shared with the host parity test. Each function
// mirrors a line of src/backend/cpu.rs or src/diffusion.rs (named beside it); f32 throughout.
#ifndef SV_MATH_CUH
#define SV_MATH_CUH
#include "sv_device.cuh"

// Act in src/backend/mod.rs: 0 identity, 1 ReLU, 2 SiLU.
#define SV_ACT_IDENTITY 0
#define SV_ACT_RELU 1
#define SV_ACT_SILU 2

SV_HD float sv_relu(float x) { return x > 0.0f ? x : 0.0f; }

// silu: x / (1 + e^(−x))
SV_HD float sv_silu(float x) { return x / (1.0f + expf(-x)); }

// silu_grad: s·(1 + x·(1 − s)), s = 1 / (1 + e^(−x))
SV_HD float sv_silu_grad(float x) {
    float s = 1.0f / (1.0f + expf(-x));
    return s * (1.0f + x * (1.0f - s));
}

SV_HD float sv_act(int act, float x) {
    return act == SV_ACT_RELU ? sv_relu(x) : act == SV_ACT_SILU ? sv_silu(x) : x;
}

// act_backward: ReLU passes g where its output was positive; SiLU scales g by silu'(input).
SV_HD float sv_act_grad(int act, float g, float saved) {
    if (act == SV_ACT_RELU) return saved <= 0.0f ? 0.0f : g;
    if (act == SV_ACT_SILU) return g * sv_silu_grad(saved);
    return g;
}

// The constants of one AdamW step, computed once on the host in f64 as CpuBackend::adamw does.
typedef struct {
    float b1, b2, ob1, ob2; // β1, β2, 1 − β1, 1 − β2
    float step;             // lr / (1 − β1^t)
    float inv_bc2;          // 1 / (1 − β2^t)
    float eps;
    float decay;            // 1 − lr·weight_decay
    float er, oer;          // EMA rate and 1 − rate
} sv_adam;

// One parameter's AdamW update, then its EMA (CpuBackend::adamw's loop body).
SV_HD void sv_adamw_ema(const sv_adam *s, float g, float *p, float *m, float *v, float *e) {
    *m = s->b1 * *m + s->ob1 * g;
    *v = s->b2 * *v + s->ob2 * g * g;
    float denom = sqrtf(*v * s->inv_bc2) + s->eps;
    *p = *p * s->decay - s->step * *m / denom;
    *e = s->er * *e + s->oer * *p;
}

// DP-SGD's clip factor from a group's squared gradient norm: min(1, C / (‖g‖ + 1e-6)),
// computed in f64 as ClipTask::run does.
SV_HD float sv_clip_factor(float sq, double max_norm) {
    double norm = sq > 0.0f ? (double)sqrtf(sq) : 0.0;
    double f = max_norm / (norm + 1e-6);
    return (float)(f < 1.0 ? f : 1.0);
}

// timestep_embedding: frequency i of `half`, 10000^(−i/half), in f64.
SV_HD double sv_timestep_freq(int i, int half) {
    return exp(-log(10000.0) * (double)i / (double)half);
}

// q_sample_row's numeric part: x_t = √ᾱ·x0 + √(1 − ᾱ)·ε (the square roots taken in f64).
SV_HD float sv_q_sample_num(double alpha_bar, float x0, float eps) {
    float sa = (float)sqrt(alpha_bar), s1 = (float)sqrt(1.0 - alpha_bar);
    return sa * x0 + s1 * eps;
}

// loss_grad_row's softmax numerator: e^(max(z − m, −80)), m the block's maximum.
SV_HD float sv_softmax_term(float z, float m) {
    float d = z - m;
    return expf(d > -80.0f ? d : -80.0f);
}

// The multinomial forward posterior's weights (q_sample_row): ᾱ + (1 − ᾱ)/K on the hot level,
// (1 − ᾱ)/K elsewhere.
SV_HD float sv_multinomial_weight(double alpha_bar, int k, int is_hot) {
    float c = (float)((1.0 - alpha_bar) / (double)k);
    return is_hot ? (float)alpha_bar + c : c;
}

// fastmath::exp_f32: Cody–Waite reduction and Cephes' degree-6 polynomial, 2^n from the
// exponent bits; 0 below −87.3, +∞ above 88.72 (the CPU backend's softmax exponential, so the
// multinomial steps round as the CPU's do).
SV_HD float sv_bits_f32(sv_u32 b) {
#if defined(__CUDACC_RTC__) || defined(__CUDACC__)
    return __uint_as_float(b);
#else
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
#endif
}

SV_HD float sv_exp_f32(float x) {
    float xc = x < -87.4f ? -87.4f : (x > 88.8f ? 88.8f : x);
    float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = (xc - n * (355.0f / 512.0f)) - n * -2.1219444e-4f;
    float p = (((((1.9875692e-4f * r + 1.3981999e-3f) * r + 8.333452e-3f) * r + 4.1665796e-2f) * r +
                1.6666665e-1f) *
                   r +
               0.5f) *
                  (r * r) +
              r + 1.0f;
    int k = n == n ? (int)n : 0;
    int k1 = k >> 1, k2 = k - (k >> 1);
    float y = p * sv_bits_f32((sv_u32)(k1 + 127) << 23) * sv_bits_f32((sv_u32)(k2 + 127) << 23);
    if (x < -87.3f) return 0.0f;
    if (x > 88.72f) return sv_bits_f32(0x7f800000u); // +∞
    return y;
}

#endif

// The diffusion's per-row functions (src/diffusion.rs), for one row at a time: forward noising,
// the loss and its gradient, the ancestral step and the prior. Each mirrors its Rust twin line
// for line, with the same random draws (sv_rng.cuh) and the same exponential (sv_exp_f32), so a
// GPU row equals the CPU's row up to the last bits of the f64 transcendental functions. No
// scratch memory: a block's softmax is recomputed in passes instead (its levels may be many).
#ifndef SV_DIFFUSION_CUH
#define SV_DIFFUSION_CUH
#include "sv_math.cuh"
#include "sv_rng.cuh"

// f32::MIN_POSITIVE
#define SV_F32_MIN_POSITIVE 1.17549435e-38f

// hot(): the index of the block's hot entry (0 when none is set).
SV_HD int sv_hot(const float *b, int k) {
    for (int i = 0; i < k; i++)
        if (b[i] > 0.5f) return i;
    return 0;
}

// draw_one_hot's output: a one-hot block at `pick` (the first level whose running weight
// exceeds u·total, the last otherwise; the callers run that search over their weights).
SV_HD void sv_set_one_hot(float *out, int k, int pick) {
    for (int i = 0; i < k; i++) out[i] = 0.0f;
    out[pick] = 1.0f;
}

// diffusion::q_sample_row. `ab` is ᾱ_t (f64); `eps` receives the row's n_num normals.
SV_HD void sv_q_sample_row(int n_num, const int *blocks, int n_blocks, double ab,
                           const float *x0, sv_rng *rng, float *xt, float *eps) {
    float sa = (float)sqrt(ab), s1 = (float)sqrt(1.0 - ab);
    sv_fill_normal(rng, eps, (sv_u64)n_num);
    for (int j = 0; j < n_num; j++) xt[j] = sa * x0[j] + s1 * eps[j];
    int off = n_num;
    for (int b = 0; b < n_blocks; b++) {
        int k = blocks[b];
        float c = (float)((1.0 - ab) / (double)k);
        int h = sv_hot(x0 + off, k);
        float target = (float)sv_uniform(rng) * 1.0f;
        float acc = 0.0f;
        int pick = k - 1;
        for (int i = 0; i < k; i++) {
            acc += i == h ? (float)ab + c : c;
            if (target < acc) {
                pick = i;
                break;
            }
        }
        sv_set_one_hot(xt + off, k, pick);
        off += k;
    }
}

// diffusion::loss_grad_row: the row's unweighted loss; its gradient with respect to the model
// output into `dout` (which also holds the block's softmax while the block is worked on).
// `a` = α_t, `wp` = ᾱ_{t−1} (1 at t = 0); `wg`, `wm` the loss weights.
SV_HD float sv_loss_grad_row(int n_num, const int *blocks, int n_blocks, int t, double a,
                             double wp, const float *out, const float *x0, const float *xt,
                             const float *eps, float wg, float wm, float *dout) {
    float lg = 0.0f;
    for (int j = 0; j < n_num; j++) {
        float d = out[j] - eps[j];
        lg += d * d;
        dout[j] = 2.0f * d * wg;
    }
    float lm = 0.0f;
    int off = n_num;
    for (int bi = 0; bi < n_blocks; bi++) {
        int k = blocks[bi];
        double kf = (double)k;
        const float *z = out + off;
        float *p = dout + off;
        int h0 = sv_hot(x0 + off, k), ht = sv_hot(xt + off, k);
        float b_hot = (float)(a + (1.0 - a) / kf), b_cold = (float)((1.0 - a) / kf);
        float c = (float)((1.0 - wp) / kf);
        float wpf = (float)wp;
        float m = -sv_bits_f32(0x7f800000u);
        for (int i = 0; i < k; i++) m = z[i] > m ? z[i] : m; // f32::max keeps the non-NaN
        for (int i = 0; i < k; i++) {
            float d = z[i] - m;
            p[i] = sv_exp_f32(d > -80.0f ? d : -80.0f);
        }
        float sp = 0.0f;
        for (int i = 0; i < k; i++) sp += p[i];
        float su = 0.0f;
        for (int i = 0; i < k; i++) {
            p[i] /= sp;
            float pa = wpf * p[i] + c;
            su += pa * (i == ht ? b_hot : b_cold);
        }
#define SV_PI(i) ((wpf * p[i] + c) * ((i) == ht ? b_hot : b_cold) / su)
        float loss;
        float q_hot = 0.0f, q_cold = 0.0f, norm = 1.0f;
        if (t == 0) {
            float lp;
            if (wp == 1.0) {
                lp = (z[h0] - m - logf(sp)) + logf(h0 == ht ? b_hot : b_cold) - logf(su);
            } else {
                float v = SV_PI(h0);
                lp = logf(v > SV_F32_MIN_POSITIVE ? v : SV_F32_MIN_POSITIVE);
            }
            loss = -lp;
        } else {
            q_hot = (float)(wp + (1.0 - wp) / kf);
            q_cold = c;
            float vh0 = (q_hot) * (h0 == ht ? b_hot : b_cold);
            float vht = (ht == h0 ? q_hot : q_cold) * b_hot;
            norm = h0 == ht ? vh0 + (float)(k - 1) * q_cold * b_cold
                            : vh0 + vht + (float)(k - 2) * q_cold * b_cold;
            float th[2][2], ln_th[2][2];
            for (int x = 0; x < 2; x++)
                for (int y = 0; y < 2; y++) {
                    th[x][y] = (x ? q_hot : q_cold) * (y ? b_hot : b_cold) / norm;
                    ln_th[x][y] = th[x][y] > 0.0f ? logf(th[x][y]) : 0.0f;
                }
            float kl = 0.0f;
            for (int i = 0; i < k; i++) {
                int x = i == h0, y = i == ht;
                if (th[x][y] > 0.0f) {
                    float v = SV_PI(i);
                    kl += th[x][y] * (ln_th[x][y] - logf(v > SV_F32_MIN_POSITIVE ? v : SV_F32_MIN_POSITIVE));
                }
            }
            loss = kl > 0.0f ? kl : 0.0f;
        }
        lm += loss;
        // s_i = w·p_i·(π_i − r_i)/p'_i, then g_i = (s_i − p_i·Σs)·w_m; p is overwritten by s
        // only after Σs is known, so p_i is kept by recomputing s from it in the last pass.
        float ssum = 0.0f;
        for (int i = 0; i < k; i++) {
            float r = t == 0 ? (i == h0 ? 1.0f : 0.0f)
                             : (i == h0 ? q_hot : q_cold) * (i == ht ? b_hot : b_cold) / norm;
            float s = wpf * p[i] * (SV_PI(i) - r) / (wpf * p[i] + c);
            ssum += s;
        }
        for (int i = 0; i < k; i++) {
            float r = t == 0 ? (i == h0 ? 1.0f : 0.0f)
                             : (i == h0 ? q_hot : q_cold) * (i == ht ? b_hot : b_cold) / norm;
            float s = wpf * p[i] * (SV_PI(i) - r) / (wpf * p[i] + c);
            p[i] = (s - p[i] * ssum) * wm;
        }
#undef SV_PI
        off += k;
    }
    lg = n_num > 0 ? lg / (float)n_num : 0.0f;
    lm = n_blocks > 0 ? lm / (float)n_blocks : 0.0f;
    return lg + lm;
}

// The constants of one ancestral step at t (computed on the host in f64, as p_sample_row does).
typedef struct {
    double c0, c1, m1, m2; // √(1/ᾱ), √(1/ᾱ − 1), the posterior mean's two factors
    double abp, a;         // ᾱ_{t−1}, α_t
    float sd;              // the step's standard deviation ("fixed large")
    int t;
} sv_step;

// diffusion::p_sample_row, in place on x (the row's `out` is the model output).
SV_HD void sv_p_sample_row(int n_num, const int *blocks, int n_blocks, const sv_step *st,
                           double score_limit, const float *out, float *x, sv_rng *rng) {
    // The numeric noise as fill_normal draws it (Box–Muller pairs, in column order), taken
    // pair by pair rather than into scratch memory.
    float zpair[2] = {0.0f, 0.0f};
    for (int j = 0; j < n_num; j++) {
        if (st->t > 0 && j % 2 == 0) sv_fill_normal(rng, zpair, j + 1 < n_num ? 2 : 1);
        double xj = (double)x[j];
        double x0 = st->c0 * xj - st->c1 * (double)out[j];
        x0 = x0 < -score_limit ? -score_limit : (x0 > score_limit ? score_limit : x0);
        double mean = st->m1 * x0 + st->m2 * xj;
        x[j] = (float)mean + (st->t > 0 ? st->sd * zpair[j % 2] : 0.0f);
    }
    int off = n_num;
    for (int bi = 0; bi < n_blocks; bi++) {
        int k = blocks[bi];
        double kf = (double)k;
        const float *zz = out + off;
        int ht = sv_hot(x + off, k);
        float b_hot = (float)(st->a + (1.0 - st->a) / kf), b_cold = (float)((1.0 - st->a) / kf);
        float c = (float)((1.0 - st->abp) / kf);
        float abpf = (float)st->abp;
        float m = -sv_bits_f32(0x7f800000u);
        for (int i = 0; i < k; i++) m = zz[i] > m ? zz[i] : m;
#define SV_E(i) sv_exp_f32(zz[i] - m > -80.0f ? zz[i] - m : -80.0f)
        float sp = 0.0f;
        for (int i = 0; i < k; i++) sp += SV_E(i);
#define SV_W(i) ((abpf * SV_E(i) / sp + c) * ((i) == ht ? b_hot : b_cold))
        float su = 0.0f;
        for (int i = 0; i < k; i++) su += SV_W(i);
        float target = (float)sv_uniform(rng) * su;
        float acc = 0.0f;
        int pick = k - 1;
        for (int i = 0; i < k; i++) {
            acc += SV_W(i);
            if (target < acc) {
                pick = i;
                break;
            }
        }
#undef SV_W
#undef SV_E
        sv_set_one_hot(x + off, k, pick);
        off += k;
    }
}

// diffusion::prior_row: Gaussian noise and uniform categories.
SV_HD void sv_prior_row(int n_num, const int *blocks, int n_blocks, float *x, sv_rng *rng) {
    sv_fill_normal(rng, x, (sv_u64)n_num);
    int off = n_num;
    for (int bi = 0; bi < n_blocks; bi++) {
        int k = blocks[bi];
        sv_u64 pick = (sv_u64)(sv_uniform(rng) * (double)k);
        sv_set_one_hot(x + off, k, pick < (sv_u64)(k - 1) ? (int)pick : k - 1);
        off += k;
    }
}

#endif

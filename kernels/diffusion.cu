// The diffusion's per-row updates on the device: the Gaussian part of forward noising, and the
// multinomial part's log-space softmax (one thread per row and block of levels).
#include "sv_math.cuh"

// x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε for the n_num numeric columns of each row (row width `width`);
// `alpha_bar` is the schedule (f64), `t` the rows' steps, `eps` the drawn noise.
extern "C" __global__ void sv_q_sample_num(const float *x0, const float *t,
                                           const double *alpha_bar, const float *eps,
                                           sv_u64 rows, sv_u64 width, sv_u64 n_num, float *xt) {
    for (sv_u64 i = blockIdx.x * (sv_u64)blockDim.x + threadIdx.x; i < rows * n_num;
         i += (sv_u64)blockDim.x * gridDim.x) {
        sv_u64 r = i / n_num, j = i % n_num;
        double ab = alpha_bar[(sv_u64)t[r]];
        xt[r * width + j] = sv_q_sample_num(ab, x0[r * width + j], eps[r * width + j]);
    }
}

// p = softmax(z) over one block of k levels at column `off` of each row, into p (same layout).
extern "C" __global__ void sv_block_softmax(const float *z, sv_u64 rows, sv_u64 width,
                                            sv_u64 off, int k, float *p) {
    for (sv_u64 r = blockIdx.x * (sv_u64)blockDim.x + threadIdx.x; r < rows;
         r += (sv_u64)blockDim.x * gridDim.x) {
        const float *zr = z + r * width + off;
        float *pr = p + r * width + off;
        float m = zr[0];
        for (int i = 1; i < k; i++) m = zr[i] > m ? zr[i] : m;
        float s = 0.0f;
        for (int i = 0; i < k; i++) {
            pr[i] = sv_softmax_term(zr[i], m);
            s += pr[i];
        }
        for (int i = 0; i < k; i++) pr[i] /= s;
    }
}

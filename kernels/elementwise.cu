// Element-wise kernels and activations: bias + activation, residual add, activation backward,
// fill, and the sinusoidal timestep embedding. Row-major buffers; one thread per element
// (grid-stride loops, so any launch size covers any length).
#include "sv_math.cuh"

#define SV_GRID_STRIDE(i, n) \
    for (sv_u64 i = blockIdx.x * (sv_u64)blockDim.x + threadIdx.x; i < (n); i += (sv_u64)blockDim.x * gridDim.x)

// x ← x + bias (row-wise); then act into `out` (x keeps the pre-activation) or into x.
extern "C" __global__ void sv_bias_act(float *x, sv_u64 rows, sv_u64 cols, const float *bias,
                                       int act, float *out) {
    SV_GRID_STRIDE(i, rows * cols) {
        float v = x[i] + bias[i % cols];
        if (out) {
            x[i] = v;
            out[i] = sv_act(act, v);
        } else {
            x[i] = sv_act(act, v);
        }
    }
}

// dst ← dst + act(src)
extern "C" __global__ void sv_add_act(const float *src, float *dst, sv_u64 len, int act) {
    SV_GRID_STRIDE(i, len) { dst[i] += sv_act(act, src[i]); }
}

// g ← g ⊙ act'(saved)
extern "C" __global__ void sv_act_backward(float *g, const float *saved, sv_u64 len, int act) {
    SV_GRID_STRIDE(i, len) { g[i] = sv_act_grad(act, g[i], saved[i]); }
}

extern "C" __global__ void sv_fill(float *dst, sv_u64 len, float value) {
    SV_GRID_STRIDE(i, len) { dst[i] = value; }
}

// [cos(t·f_i), sin(t·f_i)] per row, f_i = 10000^(−i/half); a zero last column for odd dims.
extern "C" __global__ void sv_timestep_embedding(const float *t, sv_u64 rows, int dim,
                                                 float *out) {
    int half = dim / 2;
    SV_GRID_STRIDE(i, rows * (sv_u64)dim) {
        sv_u64 r = i / dim;
        int j = (int)(i % dim);
        if (j >= 2 * half) {
            out[i] = 0.0f;
        } else {
            int f = j < half ? j : j - half;
            double a = (double)t[r] * sv_timestep_freq(f, half);
            out[i] = (float)(j < half ? cos(a) : sin(a));
        }
    }
}

// dst[i] ← table[idx[i]] for rows of width cols (idx holds row numbers as floats).
extern "C" __global__ void sv_gather_rows(const float *table, const float *idx, sv_u64 rows,
                                          sv_u64 cols, float *dst) {
    SV_GRID_STRIDE(i, rows * cols) {
        sv_u64 r = i / cols, c = i % cols;
        dst[i] = table[(sv_u64)idx[r] * cols + c];
    }
}

// dst[idx[r]] += src[r] for rows of width cols: one thread per column, rows in order (so
// repeated indices add up in the CPU backend's order, and no two threads touch one element).
extern "C" __global__ void sv_scatter_add_rows(const float *src, const float *idx, sv_u64 rows,
                                               sv_u64 cols, float *dst) {
    SV_GRID_STRIDE(c, cols) {
        for (sv_u64 r = 0; r < rows; r++) dst[(sv_u64)idx[r] * cols + c] += src[r * cols + c];
    }
}

// x ← (x + std·z)·scale: a DP step's noise z (drawn by random.cu) added and the sum scaled.
extern "C" __global__ void sv_noise_scale(float *x, const float *z, sv_u64 len, float std,
                                          float scale) {
    SV_GRID_STRIDE(i, len) { x[i] = (x[i] + std * z[i]) * scale; }
}

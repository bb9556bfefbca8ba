// DP-SGD's per-sample clipping: the squared norm of each group's gradient in the K×K Gram form
// (Σ_{k,l} (a_k·a_l)(g_k·g_l), from the kept layer inputs A and output gradients G), the clip
// factors, and the scaling of each group's rows.
#include "sv_math.cuh"

// sq[group] += Σ_{k,l} (a_k·a_l)(g_k·g_l) [+ Σ_{k,l} g_k·g_l when `bias`] for one layer: one
// block per group, k rows per group, a of width wa (null for a term without input), g of
// width wg. Launch with dynamic shared memory for 2·k·k floats.
extern "C" __global__ void sv_gram_norm(const float *a, sv_u64 wa, const float *g, sv_u64 wg,
                                        sv_u64 groups, int k, int bias, float *sq) {
    extern __shared__ float gram[]; // [k·k] a-products, then [k·k] g-products
    sv_u64 grp = blockIdx.x;
    if (grp >= groups) return;
    for (int p = threadIdx.x; p < k * k; p += blockDim.x) {
        int r = p / k, c = p % k;
        const float *gr = g + (grp * k + r) * wg, *gc = g + (grp * k + c) * wg;
        float dg = 0.0f;
        for (sv_u64 j = 0; j < wg; j++) dg += gr[j] * gc[j];
        float da = 1.0f;
        if (a) {
            const float *ar = a + (grp * k + r) * wa, *ac = a + (grp * k + c) * wa;
            da = 0.0f;
            for (sv_u64 j = 0; j < wa; j++) da += ar[j] * ac[j];
        }
        gram[p] = da;
        gram[k * k + p] = dg;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        float total = 0.0f;
        for (int p = 0; p < k * k; p++) {
            total += (a ? gram[p] : 1.0f) * gram[k * k + p];
            if (bias && a) total += gram[k * k + p];
        }
        sq[grp] += total;
    }
}

// factor[group] = min(1, C / (‖g‖ + 1e-6)) from the squared norms.
extern "C" __global__ void sv_clip_factors(const float *sq, sv_u64 groups, double max_norm,
                                           float *factor) {
    for (sv_u64 i = blockIdx.x * (sv_u64)blockDim.x + threadIdx.x; i < groups;
         i += (sv_u64)blockDim.x * gridDim.x)
        factor[i] = sv_clip_factor(sq[i], max_norm);
}

// Rows of a G (width w) scaled by their group's factor (k rows per group).
extern "C" __global__ void sv_scale_row_groups(float *g, sv_u64 rows, sv_u64 w, int k,
                                               const float *factor) {
    for (sv_u64 i = blockIdx.x * (sv_u64)blockDim.x + threadIdx.x; i < rows * w;
         i += (sv_u64)blockDim.x * gridDim.x)
        g[i] *= factor[(i / w) / k];
}

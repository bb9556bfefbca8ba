// Reductions: the bias gradient (column sums of a rows×cols G, in row order like the CPU
// backend, one thread per column) and row sums of squares.
#include "sv_math.cuh"

// dst[c] ← beta·dst[c] + Σ_rows g[r, c]; beta = 0 overwrites (NaN in dst does not survive).
extern "C" __global__ void sv_col_sum(const float *g, sv_u64 rows, sv_u64 cols, float *dst,
                                      float beta) {
    for (sv_u64 c = blockIdx.x * (sv_u64)blockDim.x + threadIdx.x; c < cols;
         c += (sv_u64)blockDim.x * gridDim.x) {
        float s = 0.0f;
        for (sv_u64 r = 0; r < rows; r++) s += g[r * cols + c];
        dst[c] = beta == 0.0f ? s : beta * dst[c] + s;
    }
}

// out[r] = Σ_c x[r, c]², one warp per row.
extern "C" __global__ void sv_row_sq(const float *x, sv_u64 rows, sv_u64 cols, float *out) {
    sv_u64 r = blockIdx.x * (sv_u64)(blockDim.x / 32) + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (r >= rows) return;
    float s = 0.0f;
    for (sv_u64 c = lane; c < cols; c += 32) s += x[r * cols + c] * x[r * cols + c];
    for (int o = 16; o > 0; o /= 2) s += __shfl_down_sync(0xffffffffu, s, o);
    if (lane == 0) out[r] = s;
}

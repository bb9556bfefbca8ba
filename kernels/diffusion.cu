// The diffusion's per-batch updates on the device, one thread per row (grid-stride): forward
// noising, the loss and its gradient, the prior and the ancestral step. The row functions live
// in sv_diffusion.cuh (tested against src/diffusion.rs on the host); `blocks` holds the one-hot
// block sizes of the layout, the schedule arrays are f64 as on the host.
#include "sv_diffusion.cuh"

#define SV_ROWS(r, n) \
    for (sv_u64 r = blockIdx.x * (sv_u64)blockDim.x + threadIdx.x; r < (n); r += (sv_u64)blockDim.x * gridDim.x)

// x_t and ε for rows of x0 at their steps t; the random streams number rows from row0.
extern "C" __global__ void sv_q_sample(const float *x0, const float *t, sv_u64 rows, int n_num,
                                       const int *blocks, int n_blocks, sv_u64 width,
                                       const double *alpha_bar, sv_u64 seed, sv_u64 stream,
                                       sv_u64 row0, float *xt, float *eps) {
    sv_u64 nn = n_num > 0 ? (sv_u64)n_num : 1;
    SV_ROWS(r, rows) {
        sv_rng rng = sv_row_rng(seed, stream, row0 + r);
        sv_q_sample_row(n_num, blocks, n_blocks, alpha_bar[(sv_u64)t[r]], x0 + r * width, &rng,
                        xt + r * width, eps + r * nn);
    }
}

// The loss's gradient with respect to the model output, and each row's loss.
extern "C" __global__ void sv_loss_grad(const float *out, const float *x0, const float *xt,
                                        const float *eps, const float *t, sv_u64 rows,
                                        int n_num, const int *blocks, int n_blocks,
                                        sv_u64 width, const double *alpha,
                                        const double *alpha_bar, float wg, float wm,
                                        float *dout, float *row_loss) {
    sv_u64 nn = n_num > 0 ? (sv_u64)n_num : 1;
    SV_ROWS(r, rows) {
        int ti = (int)t[r];
        double wp = ti == 0 ? 1.0 : alpha_bar[ti - 1];
        sv_u64 o = r * width;
        row_loss[r] = sv_loss_grad_row(n_num, blocks, n_blocks, ti, alpha[ti], wp, out + o,
                                       x0 + o, xt + o, eps + r * nn, wg, wm, dout + o);
    }
}

// Row r of a sampling launch draws from stream + (r / block_rows)·stride, row r % block_rows
// (backend::RowStreams): several fixed blocks of rows in one launch, each on its own streams.
static __device__ __forceinline__ sv_rng sv_block_rng(sv_u64 seed, sv_u64 stream, sv_u64 block_rows, sv_u64 stride,
                          sv_u64 r) {
    return sv_row_rng(seed, stream + (r / block_rows) * stride, r % block_rows);
}

// x_T: rows of Gaussian noise and uniform categories.
extern "C" __global__ void sv_prior(float *x, sv_u64 rows, int n_num, const int *blocks,
                                    int n_blocks, sv_u64 width, sv_u64 seed, sv_u64 stream,
                                    sv_u64 block_rows, sv_u64 stride) {
    SV_ROWS(r, rows) {
        sv_rng rng = sv_block_rng(seed, stream, block_rows, stride, r);
        sv_prior_row(n_num, blocks, n_blocks, x + r * width, &rng);
    }
}

// One ancestral step x_t → x_{t−1}, in place.
extern "C" __global__ void sv_p_sample(const float *out, float *x, sv_u64 rows, int n_num,
                                       const int *blocks, int n_blocks, sv_u64 width,
                                       sv_step st, double score_limit, sv_u64 seed,
                                       sv_u64 stream, sv_u64 block_rows, sv_u64 stride) {
    SV_ROWS(r, rows) {
        sv_rng rng = sv_block_rng(seed, stream, block_rows, stride, r);
        sv_p_sample_row(n_num, blocks, n_blocks, &st, score_limit, out + r * width,
                        x + r * width, &rng);
    }
}

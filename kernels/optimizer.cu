// The optimiser, fused: AdamW on every parameter and the EMA in one pass; under DP the step's
// noise (drawn by random.cu into `noise`, or null) is added to the gradient first and left in
// it, as CpuBackend::adamw does.
#include "sv_math.cuh"

extern "C" __global__ void sv_adamw_ema(float *params, float *grads, float *m, float *v,
                                        float *ema, sv_u64 len, sv_adam s, const float *noise,
                                        float noise_std, float noise_scale) {
    for (sv_u64 i = blockIdx.x * (sv_u64)blockDim.x + threadIdx.x; i < len;
         i += (sv_u64)blockDim.x * gridDim.x) {
        float g = grads[i];
        if (noise) {
            g = (g + noise_std * noise[i]) * noise_scale;
            grads[i] = g;
        }
        sv_adamw_ema(&s, g, &params[i], &m[i], &v[i], &ema[i]);
    }
}

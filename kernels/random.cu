// Random numbers from ChaCha20 (a cryptographically secure keystream): standard normals for
// the DP noise, uniforms for Poisson sampling. Block b of the keystream has counter b under the
// nonce `stream`, so the numbers do not depend on the launch shape.
#include "sv_chacha20.cuh"

// out[i] = a standard normal for i < len: block b = i / 8 of the keystream gives elements
// 8b..8b+7 (16 words, four words per Box–Muller pair).
extern "C" __global__ void sv_normal_chacha20(const sv_u32 *key, sv_u64 stream, float *out,
                                              sv_u64 len) {
    sv_u32 k[8];
    for (int i = 0; i < 8; i++) k[i] = key[i];
    sv_u32 nonce[3] = {(sv_u32)stream, (sv_u32)(stream >> 32), 0x73766e6fu};
    for (sv_u64 b = blockIdx.x * (sv_u64)blockDim.x + threadIdx.x; b * 8 < len;
         b += (sv_u64)blockDim.x * gridDim.x) {
        sv_u32 w[16];
        sv_chacha20_block(k, (sv_u32)b, nonce, w);
        for (int j = 0; j < 8 && b * 8 + j < len; j += 2) {
            float z0, z1;
            sv_box_muller(w[2 * j], w[2 * j + 1], w[2 * j + 2], w[2 * j + 3], &z0, &z1);
            out[b * 8 + j] = z0;
            if (b * 8 + j + 1 < len) out[b * 8 + j + 1] = z1;
        }
    }
}

// keep[i] = 1 with probability q (Poisson sampling of rows), from the keystream's word i.
extern "C" __global__ void sv_bernoulli_chacha20(const sv_u32 *key, sv_u64 stream, float q,
                                                 float *keep, sv_u64 len) {
    sv_u32 k[8];
    for (int i = 0; i < 8; i++) k[i] = key[i];
    sv_u32 nonce[3] = {(sv_u32)stream, (sv_u32)(stream >> 32), 0x706f6973u};
    for (sv_u64 b = blockIdx.x * (sv_u64)blockDim.x + threadIdx.x; b * 16 < len;
         b += (sv_u64)blockDim.x * gridDim.x) {
        sv_u32 w[16];
        sv_chacha20_block(k, (sv_u32)b, nonce, w);
        for (int j = 0; j < 16 && b * 16 + j < len; j++)
            keep[b * 16 + j] = sv_uniform01(w[j]) < q ? 1.0f : 0.0f;
    }
}

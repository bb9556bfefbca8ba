// ChaCha20 (RFC 8439): the block function, for DP noise and Poisson sampling drawn on the
// device from a cryptographically secure keystream (never cuRAND's or Philox's streams).
#ifndef SV_CHACHA20_CUH
#define SV_CHACHA20_CUH
#include "sv_device.cuh"

SV_HD sv_u32 sv_rotl32(sv_u32 x, int n) { return (x << n) | (x >> (32 - n)); }

#define SV_QR(a, b, c, d)                  \
    a += b; d ^= a; d = sv_rotl32(d, 16);  \
    c += d; b ^= c; b = sv_rotl32(b, 12);  \
    a += b; d ^= a; d = sv_rotl32(d, 8);   \
    c += d; b ^= c; b = sv_rotl32(b, 7);

// The 64-byte block for `key` (8 words), block `counter` and `nonce` (3 words), as 16 words.
SV_HD void sv_chacha20_block(const sv_u32 key[8], sv_u32 counter, const sv_u32 nonce[3],
                             sv_u32 out[16]) {
    sv_u32 s[16] = {0x61707865u, 0x3320646eu, 0x79622d32u, 0x6b206574u,
                    key[0], key[1], key[2], key[3], key[4], key[5], key[6], key[7],
                    counter, nonce[0], nonce[1], nonce[2]};
    sv_u32 x[16];
    for (int i = 0; i < 16; i++) x[i] = s[i];
    for (int r = 0; r < 10; r++) {
        SV_QR(x[0], x[4], x[8], x[12]);
        SV_QR(x[1], x[5], x[9], x[13]);
        SV_QR(x[2], x[6], x[10], x[14]);
        SV_QR(x[3], x[7], x[11], x[15]);
        SV_QR(x[0], x[5], x[10], x[15]);
        SV_QR(x[1], x[6], x[11], x[12]);
        SV_QR(x[2], x[7], x[8], x[13]);
        SV_QR(x[3], x[4], x[9], x[14]);
    }
    for (int i = 0; i < 16; i++) out[i] = x[i] + s[i];
}

// A uniform in (0, 1) from 24 bits of a keystream word (never 0, so its log is finite).
SV_HD float sv_uniform01(sv_u32 w) { return ((float)(w >> 8) + 0.5f) * (1.0f / 16777216.0f); }

// A uniform in (0, 1) from 53 bits of two keystream words (never 0).
SV_HD double sv_uniform53(sv_u32 hi, sv_u32 lo) {
    return ((double)(((sv_u64)hi << 21) | (sv_u64)(lo >> 11)) + 0.5) * (1.0 / 9007199254740992.0);
}

// Two standard normals from four keystream words: Box–Muller in f64 with 53-bit uniforms, so
// the tails reach 8.6 sd (with 24-bit uniforms in f32 they would stop at 5.9 sd, a truncated
// Gaussian that the DP accountant does not describe).
SV_HD void sv_box_muller(sv_u32 w0, sv_u32 w1, sv_u32 w2, sv_u32 w3, float *z0, float *z1) {
    double r = sqrt(-2.0 * log(sv_uniform53(w0, w1)));
    double a = 6.283185307179586 * sv_uniform53(w2, w3);
    *z0 = (float)(r * cos(a));
    *z1 = (float)(r * sin(a));
}

#endif

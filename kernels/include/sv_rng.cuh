// The diffusion's per-row random streams, as src/rng.rs draws them: splitmix64 seeding of a
// xoshiro256++ state from (seed, stream, row), uniforms in (0, 1) from its top 53 bits, and
// standard normals by Box–Muller in f64, two at a time. The same numbers on the GPU as on the
// CPU, so the two backends' forward noising and sampling agree row for row. Not for DP noise:
// that comes from ChaCha20 (sv_chacha20.cuh).
#ifndef SV_RNG_CUH
#define SV_RNG_CUH
#include "sv_device.cuh"

typedef struct {
    sv_u64 s[4];
} sv_rng;

SV_HD sv_u64 sv_splitmix(sv_u64 z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// rng::row_rng: the stream of one row of one stream.
SV_HD sv_rng sv_row_rng(sv_u64 seed, sv_u64 stream, sv_u64 row) {
    sv_u64 z = seed ^ sv_splitmix((stream * 0x9E3779B97F4A7C15ull) ^
                                  sv_splitmix(row + 0xD1B54A32D192ED03ull));
    sv_rng r;
    for (int i = 0; i < 4; i++) {
        z = sv_splitmix(z);
        r.s[i] = z;
    }
    return r;
}

SV_HD sv_u64 sv_rotl(sv_u64 x, int k) { return (x << k) | (x >> (64 - k)); }

// xoshiro256++'s next output.
SV_HD sv_u64 sv_next_u64(sv_rng *r) {
    sv_u64 *s = r->s;
    sv_u64 out = sv_rotl(s[0] + s[3], 23) + s[0];
    sv_u64 t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sv_rotl(s[3], 45);
    return out;
}

// rng::uniform: ((x >> 11) + 0.5) / 2^53, in (0, 1).
SV_HD double sv_uniform(sv_rng *r) {
    return ((double)(sv_next_u64(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

// rng::fill_normal: Box–Muller pairs; an odd length drops the pair's second value.
SV_HD void sv_fill_normal(sv_rng *r, float *out, sv_u64 n) {
    for (sv_u64 i = 0; i < n; i += 2) {
        double u1 = sv_uniform(r), u2 = sv_uniform(r);
        double rad = sqrt(-2.0 * log(u1));
        double a = 6.283185307179586 * u2;
        out[i] = (float)(rad * cos(a));
        if (i + 1 < n) out[i + 1] = (float)(rad * sin(a));
    }
}

#endif

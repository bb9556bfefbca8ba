//! Seeded random streams that do not depend on how work is split across threads.

use rand_xoshiro::rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// A seeded random order of 0..n (Fisher–Yates on the stream `(seed, stream)`).
pub fn permutation(n: usize, seed: u64, stream: u64) -> Vec<usize> {
    use rand_xoshiro::rand_core::Rng;
    let mut rng = row_rng(seed, stream, 0);
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        p.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    p
}

/// A random stream for one row of one stream (a step, a column): the same numbers whatever the thread count.
pub fn row_rng(seed: u64, stream: u64, row: u64) -> Xoshiro256PlusPlus {
    let mut z = seed
        ^ splitmix(
            stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ splitmix(row.wrapping_add(0xD1B5_4A32_D192_ED03)),
        );
    let mut s = [0u8; 32];
    for chunk in s.chunks_mut(8) {
        z = splitmix(z);
        chunk.copy_from_slice(&z.to_le_bytes());
    }
    Xoshiro256PlusPlus::from_seed(s)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Uniform in (0, 1).
pub fn uniform(rng: &mut Xoshiro256PlusPlus) -> f64 {
    ((rng.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
}

/// Standard normals by Box–Muller, two at a time.
pub fn fill_normal(rng: &mut Xoshiro256PlusPlus, out: &mut [f32]) {
    let mut i = 0;
    while i < out.len() {
        let (u1, u2) = (uniform(rng), uniform(rng));
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
        out[i] = (r * c) as f32;
        if i + 1 < out.len() {
            out[i + 1] = (r * s) as f32;
        }
        i += 2;
    }
}

//! Standard normals from the keystream: a 256-layer ziggurat (Marsaglia & Tsang 2000, as laid
//! out by Doornik 2005) fed with 32-bit words: 8 bits pick the layer, 1 bit the sign and 23 bits
//! the position, so index, sign and value never share bits. 98.5% of words are accepted on the
//! fast path; the rest (wedges and the tail beyond r = 3.6542) are resolved from a second
//! keystream of the same chunk, in f64, the wedges mostly by straight-line bounds on the
//! density rather than by `exp`. A normal costs about 0.72 ns on one core with AVX-512 (1.0 ns
//! with AVX2; `cargo bench --bench engine` prints the rate). Every chunk is addressed by
//! (stream, chunk): numbers never depend on how work is split across threads, nor on the
//! CPU's instruction set.

use std::sync::OnceLock;

use super::keystream::KeyStream;

/// Normals (and keystream words) per independently addressed chunk.
pub const CHUNK: usize = 8192;

const LAYERS: usize = 256;
/// The right edge of the base layer and the area of every layer (Marsaglia & Tsang).
const R: f64 = 3.654_152_885_361_009;
const V: f64 = 4.928_673_233_99e-3;
/// Bits of the position within a layer.
const POS_BITS: u32 = 23;

struct Ziggurat {
    /// Layer widths x[0] = V/f(R) > x[1] = R > … > x[256] = 0.
    x: [f64; LAYERS + 1],
    /// f(x[i]) with f(x) = exp(−x²/2).
    f: [f64; LAYERS + 1],
    /// x[i]·2⁻²³ in f32: a 23-bit position times this is the candidate.
    scale: [f32; LAYERS],
    /// Positions below this are inside the next layer's width: accepted at once.
    accept: [u32; LAYERS],
    /// (f[i] − f[i+1]) / (x[i] − x[i+1]): the slope of the density's chord over layer i's wedge.
    chord_slope: [f64; LAYERS],
}

fn ziggurat() -> &'static Ziggurat {
    static Z: OnceLock<Ziggurat> = OnceLock::new();
    Z.get_or_init(|| {
        let f = |x: f64| (-0.5 * x * x).exp();
        let mut x = [0.0; LAYERS + 1];
        x[0] = V / f(R);
        x[1] = R;
        for i in 2..LAYERS {
            x[i] = (-2.0 * (V / x[i - 1] + f(x[i - 1])).ln()).sqrt();
        }
        x[LAYERS] = 0.0;
        let mut z = Ziggurat {
            x,
            f: [0.0; LAYERS + 1],
            scale: [0.0; LAYERS],
            accept: [0; LAYERS],
            chord_slope: [0.0; LAYERS],
        };
        for (fi, &xi) in z.f.iter_mut().zip(x.iter()) {
            *fi = f(xi);
        }
        for i in 0..LAYERS {
            z.scale[i] = (x[i] / (1u64 << POS_BITS) as f64) as f32;
            // Position p is accepted when p·x[i]/2²³ < x[i+1], i.e. p < ⌈2²³·x[i+1]/x[i]⌉.
            z.accept[i] = ((x[i + 1] / x[i]) * (1u64 << POS_BITS) as f64).ceil() as u32;
            z.chord_slope[i] = (z.f[i] - z.f[i + 1]) / (x[i] - x[i + 1]);
        }
        z
    })
}

/// Resolves a word the fast path rejected: the wedge test for its layer, or a tail draw for
/// the base layer; a failed wedge starts over with fresh words from `spare`.
fn slow(z: &Ziggurat, mut u: u32, spare: &mut KeyStream) -> f64 {
    loop {
        let i = (u & 255) as usize;
        let sign = if u & 256 != 0 { -1.0 } else { 1.0 };
        let p = u >> 9;
        let x = p as f64 * z.x[i] / (1u64 << POS_BITS) as f64;
        if p < z.accept[i] {
            return sign * x;
        }
        if i == 0 {
            // Beyond R: Marsaglia's exponential rejection sampler for the normal tail.
            loop {
                let a = -spare.open01().ln() / R;
                let b = -spare.open01().ln();
                if 2.0 * b > a * a {
                    return sign * (R + a);
                }
            }
        }
        let y = z.f[i] + spare.open01() * (z.f[i + 1] - z.f[i]);
        if below_density(z, i, x, y) {
            return sign * x;
        }
        u = spare.next_u32();
    }
}

/// Whether `y < exp(−x²/2)` for `x` in layer `i`'s wedge, `x[i+1] ≤ x ≤ x[i]`. Straight lines
/// bound the density there (on x ≥ 1, where it is convex, the chord from above and the
/// tangents at both ends from below; on x ≤ 1 the reverse) and decide all but a sliver of
/// draws without `exp`. Only a point farther than `MARGIN` from a bound is decided by it,
/// so the answer is the `exp` comparison's (whose rounding is far smaller).
fn below_density(z: &Ziggurat, i: usize, x: f64, y: f64) -> bool {
    const MARGIN: f64 = 1e-12;
    let (a, b, fa, fb) = (z.x[i + 1], z.x[i], z.f[i + 1], z.f[i]);
    let chord = fa + z.chord_slope[i] * (x - a);
    // f'(x) = −x·f(x): the tangents at a and at b, evaluated at x.
    let ta = fa * (1.0 - a * (x - a));
    let tb = fb * (1.0 - b * (x - b));
    let (lower, upper) = if a >= 1.0 {
        (ta.max(tb), chord)
    } else if b <= 1.0 {
        (chord, ta.min(tb))
    } else {
        (f64::NEG_INFINITY, f64::INFINITY)
    };
    if y < lower - MARGIN {
        true
    } else if y > upper + MARGIN {
        false
    } else {
        y < (-0.5 * x * x).exp()
    }
}

/// Words per entry of the portable fast path's rejection masks.
const MASK_WORDS: usize = 32;

/// The fast path for every word: writes the candidate in its layer, with its sign, to `out`
/// and the indices of the words it rejects, in increasing order, to `rejected` (at least
/// `out.len() + 16` long); returns how many it rejected. Every implementation gives the same
/// values.
fn fast_path(z: &Ziggurat, words: &[u32], out: &mut [f32], rejected: &mut [u32]) -> usize {
    assert!(out.len() <= CHUNK && words.len() == out.len() && rejected.len() >= out.len() + 16);
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            return unsafe { fast_path_avx512(z, words, out, rejected) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { fast_path_avx2(z, words, out, rejected) };
        }
    }
    fast_path_portable(z, words, out, rejected)
}

/// The candidate for word `u` (layer from 8 bits, sign from 1, position from 23) and whether
/// the fast path rejects it.
#[inline(always)]
fn candidate(z: &Ziggurat, u: u32) -> (f32, bool) {
    let i = (u & 255) as usize;
    let p = u >> 9;
    let x = p as f32 * z.scale[i];
    (
        f32::from_bits(x.to_bits() ^ ((u & 256) << 23)),
        p >= z.accept[i],
    )
}

/// 16 words at a time, the tables held in registers: a lookup is eight two-table permutes
/// (32 entries each) and a tree of seven blends on the index's top three bits (gathers, and
/// the compiler's own vectorisation, which loads entries one by one, are slower). Rejected
/// indices are compressed into `rejected` without branches.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fast_path_avx512(
    z: &Ziggurat,
    words: &[u32],
    out: &mut [f32],
    rejected: &mut [u32],
) -> usize {
    use std::arch::x86_64::*;

    #[inline(always)]
    unsafe fn lookup(t: &[__m512i; 16], i: __m512i, k: [__mmask16; 3]) -> __m512i {
        // SAFETY (for the caller): AVX-512F is enabled in the calling function.
        unsafe {
            let g: [__m512i; 8] =
                std::array::from_fn(|j| _mm512_permutex2var_epi32(t[2 * j], i, t[2 * j + 1]));
            let h: [__m512i; 4] =
                std::array::from_fn(|j| _mm512_mask_blend_epi32(k[0], g[2 * j], g[2 * j + 1]));
            let q0 = _mm512_mask_blend_epi32(k[1], h[0], h[1]);
            let q1 = _mm512_mask_blend_epi32(k[1], h[2], h[3]);
            _mm512_mask_blend_epi32(k[2], q0, q1)
        }
    }

    let n = out.len();
    // SAFETY: both tables hold 256 four-byte entries: 16 vectors of 16.
    let (scale, accept): ([__m512i; 16], [__m512i; 16]) = unsafe {
        (
            std::array::from_fn(|j| _mm512_loadu_si512(z.scale.as_ptr().add(16 * j).cast())),
            std::array::from_fn(|j| _mm512_loadu_si512(z.accept.as_ptr().add(16 * j).cast())),
        )
    };
    let low8 = _mm512_set1_epi32(255);
    let sign_bit = _mm512_set1_epi32(256);
    let bit = |b: i32| _mm512_set1_epi32(1 << b);
    let (b5, b6, b7) = (bit(5), bit(6), bit(7));
    let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let mut count = 0;
    for j in (0..n / 16).map(|c| 16 * c) {
        // SAFETY: j + 16 <= n, within `words` and `out`; count <= j, so count + 16 is within
        // `rejected` (checked by the caller).
        unsafe {
            let u = _mm512_loadu_si512(words.as_ptr().add(j).cast());
            let i = _mm512_and_si512(u, low8);
            let k = [
                _mm512_test_epi32_mask(i, b5),
                _mm512_test_epi32_mask(i, b6),
                _mm512_test_epi32_mask(i, b7),
            ];
            let p = _mm512_srli_epi32::<9>(u);
            let s = _mm512_castsi512_ps(lookup(&scale, i, k));
            let x = _mm512_mul_ps(_mm512_cvtepi32_ps(p), s);
            let sign = _mm512_slli_epi32::<23>(_mm512_and_si512(u, sign_bit));
            let v = _mm512_xor_si512(_mm512_castps_si512(x), sign);
            _mm512_storeu_si512(out.as_mut_ptr().add(j).cast(), v);
            let r = _mm512_cmpge_epu32_mask(p, lookup(&accept, i, k));
            let idx = _mm512_add_epi32(_mm512_set1_epi32(j as i32), lanes);
            _mm512_storeu_si512(
                rejected.as_mut_ptr().add(count).cast(),
                _mm512_maskz_compress_epi32(r, idx),
            );
            count += r.count_ones() as usize;
        }
    }
    for j in n / 16 * 16..n {
        let (v, r) = candidate(z, words[j]);
        out[j] = v;
        rejected[count] = j as u32;
        count += r as usize;
    }
    count
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fast_path_avx2(
    z: &Ziggurat,
    words: &[u32],
    out: &mut [f32],
    rejected: &mut [u32],
) -> usize {
    // The portable code; compiled for AVX2 it computes eight words at a time (its table
    // entries are loaded one by one: AVX2's gathers are slower).
    fast_path_portable(z, words, out, rejected)
}

#[inline(always)]
fn fast_path_portable(z: &Ziggurat, words: &[u32], out: &mut [f32], rejected: &mut [u32]) -> usize {
    // Masks first, indices after: with the scan inside, the first loop no longer vectorises.
    let mut masks = [0u32; CHUNK.div_ceil(MASK_WORDS)];
    for ((o, w), m) in out
        .chunks_mut(MASK_WORDS)
        .zip(words.chunks(MASK_WORDS))
        .zip(masks.iter_mut())
    {
        let mut bits = 0u32;
        for (k, (v, &u)) in o.iter_mut().zip(w.iter()).enumerate() {
            let (c, r) = candidate(z, u);
            *v = c;
            bits |= (r as u32) << k;
        }
        *m = bits;
    }
    let mut count = 0;
    for (b, &m) in masks.iter().enumerate() {
        let mut bits = m;
        while bits != 0 {
            rejected[count] = (b * MASK_WORDS) as u32 + bits.trailing_zeros();
            count += 1;
            bits &= bits - 1;
        }
    }
    count
}

/// Fills `out` (at most [`CHUNK`] values) with standard normals from chunk `chunk` of
/// `stream` under `key`.
pub fn normals(key: &[u8; 32], stream: u64, chunk: u64, out: &mut [f32]) {
    assert!(out.len() <= CHUNK, "at most CHUNK normals per chunk");
    BUFFERS.with_borrow_mut(|(words, rejected)| {
        words.resize(CHUNK, 0);
        rejected.resize(CHUNK + 16, 0);
        normals_with(key, stream, chunk, out, &mut words[..out.len()], rejected);
    });
}

thread_local! {
    /// Each thread's keystream words and rejected indices, reused: fresh arrays would cost
    /// a 32 KiB memset each per chunk (about 4% of drawing the normals).
    static BUFFERS: std::cell::RefCell<(Vec<u32>, Vec<u32>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

fn normals_with(
    key: &[u8; 32],
    stream: u64,
    chunk: u64,
    out: &mut [f32],
    words: &mut [u32],
    rejected: &mut [u32],
) {
    let z = ziggurat();
    KeyStream::new(key, stream, chunk, false).fill(words);
    // Fast path without data-dependent branches (the sign is a bit flip), then the few
    // rejected words.
    let count = fast_path(z, words, out, rejected);
    if count > 0 {
        let mut spare = KeyStream::new(key, stream, chunk, true);
        for &j in &rejected[..count] {
            out[j as usize] = slow(z, words[j as usize], &mut spare) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_have_equal_area_and_close_at_zero() {
        let z = ziggurat();
        for i in 1..LAYERS - 1 {
            let area = z.x[i] * (z.f[i + 1] - z.f[i]);
            assert!((area - V).abs() < 1e-9 * V, "layer {i}: area {area}");
        }
        // The top layer must end at the mode: its area with x[128] = 0 is V to the table's
        // published precision.
        let top = z.x[LAYERS - 1] * (1.0 - z.f[LAYERS - 1]);
        assert!((top - V).abs() < 1e-6, "top layer area {top}");
    }

    /// The noise of a fixed key is part of a model's record (a fixed noise seed must replay
    /// the same run): the first chunks of one stream, pinned. Fails when any path changes a
    /// value.
    #[test]
    fn pinned_stream_is_unchanged() {
        let key = [5u8; 32];
        let mut out = vec![0f32; CHUNK];
        let mut hash = 0xcbf2_9ce4_8422_2325u64;
        for c in 0..10u64 {
            let len = [CHUNK, CHUNK - 1, 33, 5, 1000][c as usize % 5];
            normals(&key, 11, c, &mut out[..len]);
            if c == 0 {
                assert_eq!(out[..3], [0.111_714_736, 0.267_168_88, -2.167_065_1]);
            }
            for v in &out[..len] {
                hash = (hash ^ v.to_bits() as u64).wrapping_mul(0x100_0000_01b3);
            }
        }
        assert_eq!(hash, 0xe54a_35af_4101_21c9);
    }

    /// Every fast path (AVX-512, AVX2, portable: whichever this CPU has) gives the portable
    /// path's values and rejected indices, on lengths that end inside a vector.
    #[test]
    fn fast_paths_agree() {
        let z = ziggurat();
        let mut ks = KeyStream::new(&[1u8; 32], 0, 0, false);
        let mut words: Vec<u32> = (0..CHUNK).map(|_| ks.next_u32()).collect();
        // Edge words: the extreme positions of some layers, and positions at the acceptance
        // boundary of every layer.
        words[..4].copy_from_slice(&[0, u32::MAX, 255, 256]);
        for i in 0..LAYERS {
            let a = z.accept[i].min((1 << POS_BITS) - 1);
            words[8 + 2 * i] = (a << 9) | i as u32;
            words[9 + 2 * i] = ((a - 1) << 9) | 256 | i as u32;
        }
        for n in [CHUNK, CHUNK - 1, 1000, 33, 17, 5, 0] {
            let w = &words[..n];
            let (mut o1, mut o2) = (vec![0f32; n], vec![0f32; n]);
            let (mut r1, mut r2) = (vec![0u32; n + 16], vec![0u32; n + 16]);
            let c1 = fast_path_portable(z, w, &mut o1, &mut r1);
            let c2 = fast_path(z, w, &mut o2, &mut r2);
            let bits = |o: &[f32]| o.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&o1), bits(&o2), "values, n = {n}");
            assert_eq!(r1[..c1], r2[..c2], "rejected, n = {n}");
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2.
                let c3 = unsafe { fast_path_avx2(z, w, &mut o2, &mut r2) };
                assert_eq!(bits(&o1), bits(&o2), "AVX2 values, n = {n}");
                assert_eq!(r1[..c1], r2[..c3], "AVX2 rejected, n = {n}");
            }
            if n == CHUNK {
                // The 256 words at an acceptance boundary, and about 1.5% of the others.
                assert!((300..500).contains(&c1), "{c1} rejected");
            }
        }
    }

    /// The squeeze decides as the `exp` comparison does, over every wedge: random points, and
    /// points just either side of the curve.
    #[test]
    fn squeeze_agrees_with_exp() {
        let z = ziggurat();
        let mut ks = KeyStream::new(&[2u8; 32], 0, 0, false);
        let f = |x: f64| (-0.5 * x * x).exp();
        for i in 1..LAYERS {
            let (a, b) = (z.x[i + 1], z.x[i]);
            for _ in 0..400 {
                let x = a + ks.open01() * (b - a);
                let y = z.f[i] + ks.open01() * (z.f[i + 1] - z.f[i]);
                assert_eq!(
                    below_density(z, i, x, y),
                    y < f(x),
                    "layer {i}, x {x}, y {y}"
                );
                for d in [-1e-9, -1e-13, 1e-13, 1e-9] {
                    let y = f(x) * (1.0 + d);
                    assert_eq!(below_density(z, i, x, y), d < 0.0, "layer {i}, x {x}, {d}");
                }
            }
        }
    }

    #[test]
    fn keystreams_are_disjoint_and_reproducible() {
        let key = [7u8; 32];
        // More than one read-ahead buffer, and not a multiple of one.
        let mut a = [0u32; 200];
        let mut b = [0u32; 200];
        KeyStream::new(&key, 1, 2, false).fill(&mut a);
        KeyStream::new(&key, 1, 2, false).fill(&mut b);
        assert_eq!(a, b);
        for (s, c, sp) in [(1, 2, true), (1, 3, false), (2, 2, false)] {
            KeyStream::new(&key, s, c, sp).fill(&mut b);
            assert_ne!(a, b, "stream {s} chunk {c} spare {sp}");
        }
        let mut k = KeyStream::new(&key, 1, 2, false);
        let words: Vec<u32> = (0..200).map(|_| k.next_u32()).collect();
        assert_eq!(words, a, "word by word equals bulk");
    }

    /// 2²¹ draws against Φ: the Kolmogorov–Smirnov distance, and the share beyond the base
    /// layer's edge R (only the tail sampler reaches it) and inside the wedges' range.
    #[test]
    fn draws_are_standard_normal() {
        let key = [3u8; 32];
        let n = 256 * CHUNK;
        let mut z = vec![0f32; n];
        for (c, chunk) in z.chunks_mut(CHUNK).enumerate() {
            normals(&key, 9, c as u64, chunk);
        }
        let mut v: Vec<f64> = z.iter().map(|&x| x as f64).collect();
        v.sort_by(f64::total_cmp);
        let phi = |x: f64| 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2);
        let ks = v
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let p = phi(x);
                (p - i as f64 / n as f64)
                    .abs()
                    .max((i + 1) as f64 / n as f64 - p)
            })
            .fold(0.0, f64::max);
        // KS critical value at α = 0.001: 1.95/√n ≈ 0.00135.
        assert!(ks < 1.95 / (n as f64).sqrt(), "KS distance {ks}");
        let share = |pred: &dyn Fn(f64) -> bool, p: f64| {
            let k = v.iter().filter(|&&x| pred(x)).count() as f64;
            let se = (p * (1.0 - p) / n as f64).sqrt();
            ((k / n as f64) - p).abs() / se
        };
        let tail = 2.0 * (1.0 - phi(R));
        assert!(share(&|x| x.abs() > R, tail) < 5.0, "tail share");
        let beyond4 = 2.0 * (1.0 - phi(4.0));
        assert!(share(&|x| x.abs() > 4.0, beyond4) < 5.0, "share beyond 4");
        assert!(
            v[0] < -4.0 && v[n - 1] > 4.0,
            "extreme draws reach the tail"
        );
        let m4 = v.iter().map(|x| x.powi(4)).sum::<f64>() / n as f64;
        assert!((m4 - 3.0).abs() < 0.03, "fourth moment {m4}");
    }
}

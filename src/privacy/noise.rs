//! The randomness of the DP mechanism: a cryptographically secure keystream (AES-256 in
//! counter mode, keyed by the mechanism's 32-byte key) and Gaussian noise drawn from it.
//!
//! AES-256-CTR is the block-cipher DRBG construction of NIST SP 800-90A without its
//! reseeding bookkeeping. With VAES it streams at about 0.13 ns per 32-bit word (0.55 ns with
//! AES-NI alone), so a DP step's noise costs about one nanosecond per parameter. Every stream
//! is addressed by (stream, chunk): numbers never depend on how work is split across threads.
//!
//! Normals come from a 256-layer ziggurat (Marsaglia & Tsang 2000, as laid out by Doornik
//! 2005) fed with 32-bit words: 8 bits pick the layer, 1 bit the sign and 23 bits the
//! position, so index, sign and value never share bits. 98.5% of words are accepted on the
//! fast path; the rest (wedges and the tail beyond r = 3.6542) are resolved from a second
//! keystream of the same chunk, in f64.

use std::sync::OnceLock;

use super::aes_ctr::Aes256Ctr;

/// Words (u32) per independently addressed chunk of noise.
pub const CHUNK: usize = 8192;

/// Words a [`KeyStream`] reads ahead for `next_u32` (16 blocks: one pass of the VAES path).
const BUF_WORDS: usize = 64;

/// A keystream of 32- and 64-bit words: AES-256-CTR under `key`, starting at the counter
/// block that (stream, chunk, spare) address. A chunk holds 2³² blocks (2³⁴ words).
pub struct KeyStream {
    cipher: Aes256Ctr,
    buf: [u32; BUF_WORDS],
    pos: usize,
}

impl KeyStream {
    /// The keystream of `chunk` (< 2³¹) of `stream`; `spare` selects a second, disjoint
    /// keystream of the same chunk.
    pub fn new(key: &[u8; 32], stream: u64, chunk: u64, spare: bool) -> Self {
        debug_assert!(chunk < 1 << 31);
        let iv: u128 = ((stream as u128) << 64) | ((chunk as u128) << 33) | ((spare as u128) << 32);
        KeyStream {
            cipher: Aes256Ctr::new(key, iv),
            buf: [0; BUF_WORDS],
            pos: BUF_WORDS,
        }
    }

    /// Overwrites `out` with the next words of the keystream (words are little-endian; a
    /// partial last block's other words are skipped).
    pub fn fill(&mut self, out: &mut [u32]) {
        // SAFETY: any bit pattern is a valid u32 and u8 has alignment 1; the byte view covers
        // exactly the words of `out`.
        let bytes =
            unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr() as *mut u8, out.len() * 4) };
        self.cipher.fill(bytes);
        if cfg!(target_endian = "big") {
            out.iter_mut().for_each(|w| *w = u32::from_le(*w));
        }
    }

    /// The next 32-bit word.
    pub fn next_u32(&mut self) -> u32 {
        if self.pos == self.buf.len() {
            let mut b = [0u32; BUF_WORDS];
            self.fill(&mut b);
            self.buf = b;
            self.pos = 0;
        }
        self.pos += 1;
        self.buf[self.pos - 1]
    }

    /// The next 64-bit word.
    pub fn next_u64(&mut self) -> u64 {
        (self.next_u32() as u64) | ((self.next_u32() as u64) << 32)
    }

    /// Uniform in (0, 1) with 53 bits.
    fn open01(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }
}

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
        };
        for (fi, &xi) in z.f.iter_mut().zip(x.iter()) {
            *fi = f(xi);
        }
        for i in 0..LAYERS {
            z.scale[i] = (x[i] / (1u64 << POS_BITS) as f64) as f32;
            // Position p is accepted when p·x[i]/2²³ < x[i+1], i.e. p < ⌈2²³·x[i+1]/x[i]⌉.
            z.accept[i] = ((x[i + 1] / x[i]) * (1u64 << POS_BITS) as f64).ceil() as u32;
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
        if y < (-0.5 * x * x).exp() {
            return sign * x;
        }
        u = spare.next_u32();
    }
}

/// Words per bit of the rejection masks' bookkeeping.
const MASK_WORDS: usize = 32;

/// The fast path for every word: the candidate in its layer with its sign, and for each run
/// of 32 words a bit mask of the rejected ones (recomputed by the caller).
fn fast_path(z: &Ziggurat, words: &[u32], out: &mut [f32], masks: &mut [u32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { fast_path_avx2(z, words, out, masks) };
    }
    fast_path_portable(z, words, out, masks)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fast_path_avx2(z: &Ziggurat, words: &[u32], out: &mut [f32], masks: &mut [u32]) {
    // The same code; compiled for AVX2 its table lookups become gathers.
    fast_path_portable(z, words, out, masks)
}

#[inline(always)]
fn fast_path_portable(z: &Ziggurat, words: &[u32], out: &mut [f32], masks: &mut [u32]) {
    for ((o, w), m) in out
        .chunks_mut(MASK_WORDS)
        .zip(words.chunks(MASK_WORDS))
        .zip(masks.iter_mut())
    {
        let mut bits = 0u32;
        for (k, (v, &u)) in o.iter_mut().zip(w.iter()).enumerate() {
            let i = (u & 255) as usize;
            let p = u >> 9;
            let x = p as f32 * z.scale[i];
            *v = f32::from_bits(x.to_bits() ^ ((u & 256) << 23));
            bits |= ((p >= z.accept[i]) as u32) << k;
        }
        *m = bits;
    }
}

/// Fills `out` (at most [`CHUNK`] values) with standard normals from chunk `chunk` of
/// `stream` under `key`.
pub fn normals(key: &[u8; 32], stream: u64, chunk: u64, out: &mut [f32]) {
    assert!(out.len() <= CHUNK, "at most CHUNK normals per chunk");
    WORDS.with_borrow_mut(|words| {
        words.resize(CHUNK, 0);
        normals_with(key, stream, chunk, out, &mut words[..out.len()]);
    });
}

thread_local! {
    /// Each thread's keystream words, reused: a fresh array would cost a 32 KiB memset per
    /// chunk (about 4% of drawing the normals).
    static WORDS: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn normals_with(key: &[u8; 32], stream: u64, chunk: u64, out: &mut [f32], words: &mut [u32]) {
    let z = ziggurat();
    KeyStream::new(key, stream, chunk, false).fill(words);
    // Fast path without data-dependent branches (the sign is a bit flip), then a pass that
    // resolves the few rejected words.
    let mut masks = [0u32; CHUNK / MASK_WORDS];
    fast_path(z, words, out, &mut masks);
    let mut spare = None;
    for (b, &m) in masks.iter().enumerate() {
        let mut m = m;
        while m != 0 {
            let j = b * MASK_WORDS + m.trailing_zeros() as usize;
            m &= m - 1;
            let spare = spare.get_or_insert_with(|| KeyStream::new(key, stream, chunk, true));
            out[j] = slow(z, words[j], spare) as f32;
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

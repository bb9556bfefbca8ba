//! AES-256 in counter mode as a keystream generator: the output is the keystream itself,
//! block i being AES-256_key(counter + i) with the counter a big-endian 128-bit integer
//! (NIST SP 800-38A's standard incrementing function over the whole block, as
//! `ctr::Ctr128BE`).
//!
//! Where the CPU has VAES and AVX-512, each AES round instruction takes four blocks (and four
//! registers of blocks are in flight); elsewhere the `aes` crate does the work (AES-NI when
//! present, its constant-time software implementation otherwise). Both give the same bytes.

use aes::cipher::{BlockEncrypt, KeyInit};

/// Blocks the portable path encrypts per call (the `aes` crate's AES-NI pipeline width).
const PAR: usize = 8;

// The round keys stay inline: a keystream lives for one chunk of noise, on the stack.
#[allow(clippy::large_enum_variant)]
enum Engine {
    #[cfg(target_arch = "x86_64")]
    Vaes(vaes::RoundKeys),
    Portable(Box<aes::Aes256>),
}

/// An AES-256-CTR keystream positioned at a counter block.
pub struct Aes256Ctr {
    engine: Engine,
    counter: u128,
}

impl Aes256Ctr {
    /// The keystream under `key` whose first block is the encryption of `counter`.
    pub fn new(key: &[u8; 32], counter: u128) -> Self {
        #[cfg(target_arch = "x86_64")]
        if vaes::available() {
            // SAFETY: the CPU has the features `expand` is compiled for (checked just above).
            let rk = unsafe { vaes::expand(key) };
            return Aes256Ctr {
                engine: Engine::Vaes(rk),
                counter,
            };
        }
        Self::portable(key, counter)
    }

    /// The same keystream, always from the `aes` crate (for tests of the fast path).
    pub fn portable(key: &[u8; 32], counter: u128) -> Self {
        Aes256Ctr {
            engine: Engine::Portable(Box::new(aes::Aes256::new(key.into()))),
            counter,
        }
    }

    /// Writes the keystream of the next ⌈len/16⌉ blocks over `out`. A partial last block's
    /// remaining bytes are discarded: the next call starts at a fresh block.
    pub fn fill(&mut self, out: &mut [u8]) {
        let blocks = out.len().div_ceil(16);
        let whole = out.len() / 16;
        match &self.engine {
            #[cfg(target_arch = "x86_64")]
            Engine::Vaes(rk) => {
                // The fast path adds to the low 64 bits only; a carry into the high half
                // (never reached by the mechanism's counters) goes the portable way.
                let lo = self.counter as u64;
                if lo.checked_add(blocks as u64).is_some() {
                    // SAFETY: VAES and AVX-512 are present (an Engine::Vaes exists only then).
                    unsafe { vaes::keystream(rk, self.counter, &mut out[..whole * 16]) };
                    if whole < blocks {
                        let mut last = [0u8; 16];
                        // SAFETY: as above.
                        unsafe {
                            vaes::keystream(rk, self.counter.wrapping_add(whole as u128), &mut last)
                        };
                        let rest = out.len() - whole * 16;
                        out[whole * 16..].copy_from_slice(&last[..rest]);
                    }
                } else {
                    portable_fill(&portable_cipher(rk), self.counter, out);
                }
            }
            Engine::Portable(c) => portable_fill(c, self.counter, out),
        }
        self.counter = self.counter.wrapping_add(blocks as u128);
    }
}

#[cfg(target_arch = "x86_64")]
fn portable_cipher(rk: &vaes::RoundKeys) -> aes::Aes256 {
    aes::Aes256::new((&rk.key).into())
}

fn portable_fill(cipher: &aes::Aes256, counter: u128, out: &mut [u8]) {
    let mut ctr = counter;
    let mut blocks = [aes::Block::default(); PAR];
    for run in out.chunks_mut(PAR * 16) {
        let n = run.len().div_ceil(16);
        for b in blocks[..n].iter_mut() {
            b.copy_from_slice(&ctr.to_be_bytes());
            ctr = ctr.wrapping_add(1);
        }
        cipher.encrypt_blocks(&mut blocks[..n]);
        for (dst, b) in run.chunks_mut(16).zip(&blocks) {
            dst.copy_from_slice(&b[..dst.len()]);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vaes {
    use std::arch::x86_64::*;

    /// The 15 round keys of AES-256 (and the key, for the portable fallback).
    pub struct RoundKeys {
        rk: [__m128i; 15],
        pub key: [u8; 32],
    }

    pub fn available() -> bool {
        std::is_x86_feature_detected!("aes")
            && std::is_x86_feature_detected!("vaes")
            && std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
    }

    #[inline(always)]
    fn spread(t: __m128i) -> __m128i {
        // t ^ (t << 32) ^ (t << 64) ^ (t << 96): each word xored with all the words before it.
        // SAFETY: SSE2 is baseline on x86_64.
        unsafe {
            let t = _mm_xor_si128(t, _mm_slli_si128::<4>(t));
            _mm_xor_si128(t, _mm_slli_si128::<8>(t))
        }
    }

    /// AES-256 key expansion with AESKEYGENASSIST (FIPS-197 §5.2, as in Intel's AES-NI
    /// white paper).
    #[target_feature(enable = "aes")]
    pub unsafe fn expand(key: &[u8; 32]) -> RoundKeys {
        let mut rk = [_mm_setzero_si128(); 15];
        let mut t1 = _mm_loadu_si128(key.as_ptr() as *const __m128i);
        let mut t3 = _mm_loadu_si128(key[16..].as_ptr() as *const __m128i);
        rk[0] = t1;
        rk[1] = t3;
        // Each step makes the next even round key from the previous odd one (RotWord,
        // SubWord, rcon) and the next odd key from that even one (SubWord only).
        macro_rules! even {
            ($i:expr, $rcon:expr) => {
                let a = _mm_shuffle_epi32::<0xff>(_mm_aeskeygenassist_si128::<$rcon>(t3));
                t1 = _mm_xor_si128(spread(t1), a);
                rk[$i] = t1;
            };
        }
        macro_rules! odd {
            ($i:expr) => {
                let b = _mm_shuffle_epi32::<0xaa>(_mm_aeskeygenassist_si128::<0>(t1));
                t3 = _mm_xor_si128(spread(t3), b);
                rk[$i] = t3;
            };
        }
        even!(2, 0x01);
        odd!(3);
        even!(4, 0x02);
        odd!(5);
        even!(6, 0x04);
        odd!(7);
        even!(8, 0x08);
        odd!(9);
        even!(10, 0x10);
        odd!(11);
        even!(12, 0x20);
        odd!(13);
        even!(14, 0x40);
        RoundKeys { rk, key: *key }
    }

    /// The keystream of `out.len() / 16` blocks from `counter` (whose low 64 bits must not
    /// wrap within them), four blocks per instruction.
    #[target_feature(enable = "aes,vaes,avx512f,avx512bw")]
    pub unsafe fn keystream(rk: &RoundKeys, counter: u128, out: &mut [u8]) {
        let k: [__m512i; 15] = rk.rk.map(|r| _mm512_broadcast_i32x4(r));
        let (lo, hi) = (counter as u64 as i64, (counter >> 64) as u64 as i64);
        // Lanes hold (low, high) counter halves as little-endian qwords; reversing each
        // lane's 16 bytes gives the big-endian counter block.
        let mut ctr = _mm512_set_epi64(
            hi,
            lo.wrapping_add(3),
            hi,
            lo.wrapping_add(2),
            hi,
            lo.wrapping_add(1),
            hi,
            lo,
        );
        let four = _mm512_set_epi64(0, 4, 0, 4, 0, 4, 0, 4);
        let rev = _mm512_broadcast_i32x4(_mm_set_epi8(
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
        ));
        let mut next = || {
            let b = _mm512_xor_si512(_mm512_shuffle_epi8(ctr, rev), k[0]);
            ctr = _mm512_add_epi64(ctr, four);
            b
        };
        let blocks = out.len() / 16;
        let p = out.as_mut_ptr();
        let mut i = 0;
        while i + 16 <= blocks {
            let mut x = [next(), next(), next(), next()];
            for key in &k[1..14] {
                for v in x.iter_mut() {
                    *v = _mm512_aesenc_epi128(*v, *key);
                }
            }
            for (j, v) in x.iter().enumerate() {
                let c = _mm512_aesenclast_epi128(*v, k[14]);
                // SAFETY: blocks i+4j .. i+4j+4 lie within `out` (i + 16 <= blocks).
                _mm512_storeu_si512(p.add((i + 4 * j) * 16) as *mut __m512i, c);
            }
            i += 16;
        }
        while i < blocks {
            let mut v = next();
            for key in &k[1..14] {
                v = _mm512_aesenc_epi128(v, *key);
            }
            let c = _mm512_aesenclast_epi128(v, k[14]);
            let n = (blocks - i).min(4);
            if n == 4 {
                // SAFETY: blocks i .. i+4 lie within `out`.
                _mm512_storeu_si512(p.add(i * 16) as *mut __m512i, c);
            } else {
                let mut tmp = [0u8; 64];
                _mm512_storeu_si512(tmp.as_mut_ptr() as *mut __m512i, c);
                out[i * 16..(i + n) * 16].copy_from_slice(&tmp[..n * 16]);
            }
            i += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::{KeyIvInit, StreamCipher};

    /// NIST SP 800-38A, F.5.5 (CTR-AES256): the keystream is the ciphertext xor the
    /// plaintext of its four blocks.
    #[test]
    fn matches_the_nist_vector() {
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
                .collect()
        };
        let key: [u8; 32] = hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
            .try_into()
            .expect("32 bytes");
        let ctr = u128::from_be_bytes(
            hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
                .try_into()
                .expect("16 bytes"),
        );
        let plain = hex(concat!(
            "6bc1bee22e409f96e93d7e117393172a",
            "ae2d8a571e03ac9c9eb76fac45af8e51",
            "30c81c46a35ce411e5fbc1191a0a52ef",
            "f69f2445df4f9b17ad2b417be66c3710"
        ));
        let cipher = hex(concat!(
            "601ec313775789a5b7a7f504bbf3d228",
            "f443e3ca4d62b59aca84e990cacaf5c5",
            "2b0930daa23de94ce87017ba2d84988d",
            "dfc9c58db67aada613c2dd08457941a6"
        ));
        let want: Vec<u8> = plain.iter().zip(&cipher).map(|(p, c)| p ^ c).collect();
        for mut ks in [Aes256Ctr::new(&key, ctr), Aes256Ctr::portable(&key, ctr)] {
            let mut got = [0u8; 64];
            ks.fill(&mut got);
            assert_eq!(got.to_vec(), want);
        }
    }

    /// Both paths against the `ctr` crate, for lengths around every boundary of the fast
    /// path, counters near a carry, and calls that continue a stream.
    #[test]
    fn fast_and_portable_paths_equal_the_ctr_crate() {
        let key = [0x5au8; 32];
        let lens: [usize; 16] = [
            0, 1, 15, 16, 17, 48, 63, 64, 65, 200, 255, 256, 257, 1000, 4096, 32768,
        ];
        let counters = [0u128, 7 << 64 | 3, u64::MAX as u128 - 5, u128::MAX - 2];
        for &c in &counters {
            for &len in &lens {
                let mut want = vec![0u8; len.next_multiple_of(16)];
                ctr::Ctr128BE::<aes::Aes256>::new((&key).into(), &c.to_be_bytes().into())
                    .apply_keystream(&mut want);
                for mut ks in [Aes256Ctr::new(&key, c), Aes256Ctr::portable(&key, c)] {
                    let mut got = vec![0u8; len];
                    ks.fill(&mut got);
                    assert_eq!(got, want[..len], "counter {c:#x}, {len} bytes");
                    // A second call starts at the next whole block.
                    let mut more = [0u8; 16];
                    ks.fill(&mut more);
                    let mut w2 = [0u8; 16];
                    let next = c.wrapping_add(len.div_ceil(16) as u128);
                    ctr::Ctr128BE::<aes::Aes256>::new((&key).into(), &next.to_be_bytes().into())
                        .apply_keystream(&mut w2);
                    assert_eq!(more, w2, "counter {c:#x} after {len} bytes");
                }
            }
        }
    }
}

//! The keystream: AES-256 in counter mode under the mechanism's 32-byte key, addressed by
//! (stream, chunk), so that every consumer (Poisson sampling, noise) reads numbers that do not
//! depend on how work is split across threads.

use super::aes_ctr::Aes256Ctr;

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
    pub(crate) fn open01(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }
}

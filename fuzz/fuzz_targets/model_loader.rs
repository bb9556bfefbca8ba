//! The model loader on arbitrary bytes, as they are and with the checksum recomputed over the
//! mutated contents (so that the parser behind the checksum is reached): an error or a model
//! that samples, never a panic, an abort or an unbounded allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synthvol::{SampleOptions, Synthesizer};

fn load_and_use(bytes: &[u8]) {
    if let Ok(m) = Synthesizer::from_bytes(bytes) {
        let opts = SampleOptions {
            threads: 1,
            ..SampleOptions::default()
        };
        let _ = m.sample(3, 1, &opts, &mut |_| true);
        let _ = m.to_bytes();
    }
}

fuzz_target!(|data: &[u8]| {
    load_and_use(data);
    if data.len() > 4 {
        let mut fixed = data.to_vec();
        let n = fixed.len();
        let crc = crc32fast::hash(&fixed[..n - 4]);
        fixed[n - 4..].copy_from_slice(&crc.to_le_bytes());
        load_and_use(&fixed);
    }
});

//! Bounds on what one request may ask, checked before anything is allocated (ground level).
//! A host process (an R session, a hospital system) must never be aborted by an allocation
//! the engine could have refused: sizes that set an allocation are bounded here, and large
//! requests are estimated and refused up front with the limit and a way to stay within it.

use crate::error::{Error, Result};

/// Widest hidden layer or time embedding.
pub const MAX_WIDTH: usize = 65_536;
/// Most hidden layers.
pub const MAX_LAYERS: usize = 1000;
/// Most diffusion steps.
pub const MAX_TIMESTEPS: usize = 100_000;
/// Most training steps in one call.
pub const MAX_STEPS: usize = 100_000_000;
/// Most threads for one call.
pub const MAX_THREADS: usize = 1024;
/// Most draws per row and step under DP (augmentation multiplicity).
pub const MAX_AUGMENT: usize = 64;
/// Most rows denoised together when sampling.
pub const MAX_SAMPLE_BATCH: usize = 1 << 20;

/// Bytes in a GiB, for messages.
const GIB: f64 = (1u64 << 30) as f64;

/// The memory one call may plan to use, in bytes: `SYNTHVOL_MAX_MEMORY_MB` when set (hosts
/// that share a machine cap the engine with it), else 90% of the machine's physical memory
/// (16 GiB where that cannot be read).
pub fn memory_limit() -> u64 {
    if let Some(mb) = std::env::var("SYNTHVOL_MAX_MEMORY_MB")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return mb.saturating_mul(1 << 20);
    }
    physical_memory().map_or(16 << 30, |b| b / 10 * 9)
}

fn physical_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Refuses a request whose estimated memory, `bytes`, exceeds [`memory_limit`]: the message
/// says what needs it (`what`), how much, the limit, and `hint` (how to stay within it).
pub fn check_memory(what: &str, bytes: u128, hint: &str) -> Result<()> {
    let limit = memory_limit();
    if bytes > limit as u128 {
        return Err(Error::resources(format!(
            "{what} needs about {:.1} GiB of memory, more than the {:.1} GiB this machine allows (set SYNTHVOL_MAX_MEMORY_MB to change the limit): {hint}",
            bytes as f64 / GIB,
            limit as f64 / GIB
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_check_names_the_need_and_the_limit() {
        assert!(check_memory("x", 1, "").is_ok());
        let e = check_memory("sampling 10 rows", u128::MAX, "ask for fewer").unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::Resources);
        assert!(
            e.message.starts_with("sampling 10 rows needs about "),
            "{}",
            e.message
        );
        assert!(e.message.ends_with("ask for fewer"), "{}", e.message);
        assert!(memory_limit() > 0);
    }
}

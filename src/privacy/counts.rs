//! The Gaussian mechanism of private preprocessing: a vector of counts (histograms of the
//! numeric columns over their public bounds, the target's class counts) released with
//! N(0, std²) noise on each count, drawn from the CSPRNG under the fit's mechanism key.

use crate::csprng::{normals, CHUNK};

/// The keystream's stream number of preprocessing releases (DP-SGD's noise uses the step
/// numbers and Poisson sampling the top bit, so this one is apart from both).
const COUNTS_STREAM: u64 = u64::MAX;

/// `counts` plus independent N(0, `std`²) noise on each count. `std` is the noise multiplier
/// times the L2 sensitivity of the vector (√m for m histograms a row falls into once each).
/// The caller post-processes (clamps, normalises): that costs no privacy.
pub fn gaussian_counts(counts: &[f64], std: f64, key: &[u8; 32]) -> Vec<f64> {
    gaussian_release(counts, std, key, 0)
}

/// [`gaussian_counts`] for the fit's release number `release` (0: preprocessing), whose noise
/// is independent of every other release's under the same key (its chunks are numbered from
/// `release` × 2³²).
pub fn gaussian_release(counts: &[f64], std: f64, key: &[u8; 32], release: u32) -> Vec<f64> {
    let mut out = counts.to_vec();
    let mut z = vec![0f32; CHUNK];
    for (c, chunk) in out.chunks_mut(CHUNK).enumerate() {
        let z = &mut z[..chunk.len()];
        normals(key, COUNTS_STREAM, ((release as u64) << 32) | c as u64, z);
        for (v, &z) in chunk.iter_mut().zip(z.iter()) {
            *v += std * z as f64;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_reproducible_per_key_and_has_the_asked_spread() {
        let key = crate::csprng::test_key(3);
        let zeros = vec![0.0; 20_000];
        let a = gaussian_counts(&zeros, 2.0, &key);
        assert_eq!(a, gaussian_counts(&zeros, 2.0, &key));
        assert_ne!(a, gaussian_counts(&zeros, 2.0, &crate::csprng::test_key(4)));
        let var = a.iter().map(|x| x * x).sum::<f64>() / a.len() as f64;
        assert!((var.sqrt() - 2.0).abs() < 0.05, "sd {}", var.sqrt());
        let shifted = gaussian_counts(&vec![5.0; 20_000], 2.0, &key);
        assert!(shifted
            .iter()
            .zip(&a)
            .all(|(s, z)| (s - z - 5.0).abs() < 1e-9));
    }
}

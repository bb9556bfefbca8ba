//! Seeded subsamples of rows, so metrics that are quadratic in the rows stay affordable.

use rand_xoshiro::rand_core::Rng;

use crate::rng::row_rng;

/// `k` distinct rows out of `n` (all of them, in order, when k ≥ n), in increasing order;
/// the same (seed, stream) gives the same rows.
pub fn subsample(n: usize, k: usize, seed: u64, stream: u64) -> Vec<usize> {
    if k >= n {
        return (0..n).collect();
    }
    let mut rng = row_rng(seed, stream, 0);
    let mut idx: Vec<usize> = (0..n).collect();
    // Partial Fisher–Yates: the first k places are a uniform sample without replacement.
    for i in 0..k {
        let j = i + (rng.next_u64() % (n - i) as u64) as usize;
        idx.swap(i, j);
    }
    idx.truncate(k);
    idx.sort_unstable();
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_sorted_and_seeded() {
        let a = subsample(1000, 100, 7, 1);
        assert_eq!(a.len(), 100);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(a, subsample(1000, 100, 7, 1));
        assert_ne!(a, subsample(1000, 100, 8, 1));
        assert_eq!(subsample(5, 10, 0, 0), vec![0, 1, 2, 3, 4]);
    }
}

//! Exact minimum-cost assignment (the Hungarian algorithm with potentials, O(n³)), the solver
//! behind the exact Wasserstein distances between equal-size samples.

use ndarray::ArrayView2;

/// The column assigned to each row of a square cost matrix, minimising the total cost.
pub fn min_cost_assignment(cost: ArrayView2<f64>) -> Vec<usize> {
    let n = cost.nrows();
    debug_assert_eq!(n, cost.ncols());
    if n == 0 {
        return Vec::new();
    }
    // 1-based arrays; p[j] is the row matched to column j, row 0 a sentinel.
    let mut u = vec![0.0f64; n + 1];
    let mut v = vec![0.0f64; n + 1];
    let mut p = vec![0usize; n + 1];
    let mut way = vec![0usize; n + 1];
    let mut minv = vec![0.0f64; n + 1];
    let mut used = vec![false; n + 1];
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0usize;
        minv.fill(f64::INFINITY);
        used.fill(false);
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let row = cost.row(i0 - 1);
            let ui0 = u[i0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0usize;
            for j in 1..=n {
                if !used[j] {
                    let cur = row[j - 1] - ui0 - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=n {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut assign = vec![0usize; n];
    for j in 1..=n {
        assign[p[j] - 1] = j - 1;
    }
    assign
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn permutations(n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![vec![]];
        }
        let mut out = Vec::new();
        for p in permutations(n - 1) {
            for k in 0..=p.len() {
                let mut q = p.clone();
                q.insert(k, n - 1);
                out.push(q);
            }
        }
        out
    }

    #[test]
    fn matches_brute_force() {
        let mut state = 12345u64;
        for n in 1..=7 {
            for _ in 0..20 {
                let cost = Array2::from_shape_fn((n, n), |_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((state >> 33) % 1000) as f64 / 10.0
                });
                let a = min_cost_assignment(cost.view());
                let total: f64 = a.iter().enumerate().map(|(i, &j)| cost[[i, j]]).sum();
                let best = permutations(n)
                    .iter()
                    .map(|p| {
                        p.iter()
                            .enumerate()
                            .map(|(i, &j)| cost[[i, j]])
                            .sum::<f64>()
                    })
                    .fold(f64::INFINITY, f64::min);
                assert!((total - best).abs() < 1e-9, "n = {n}: {total} vs {best}");
                let mut seen = a.clone();
                seen.sort_unstable();
                assert_eq!(seen, (0..n).collect::<Vec<_>>());
            }
        }
    }
}

//! Smoothed copies of the training rows: a fit without DP on a small table can train on its
//! rows and one smoothed copy of each, so that the denoiser learns less of where each row lies.
//!
//! A diffusion model trained for many epochs on a few hundred rows reproduces the sample's
//! local density bumps: more of its rows lie closer to a training row than to a fresh row
//! (the DCR share) than a model of the distribution would give. Swapping columns between rows
//! of a class (TabCutMix) lowers that share but weakens the correlations (0.959 against 0.973
//! on diabetes); independent jitter of up to 0.3 sd does not lower it at all. A smoothed
//! bootstrap with the rows' own covariance keeps the correlations: each copy keeps its row's
//! categorical cells, label and numeric target, and moves its other numeric scores (the
//! encoder's standard-normal space) within the spread those leave, as
//!
//! z' = ẑ + (r + h·S_g^{1/2}·ε) / √(1 + h²),
//!
//! where ẑ is the row's score predicted by a ridge regression on its group (the label's class,
//! or a numeric target's quartile, with the target's score) and categorical cells, r = z − ẑ
//! its residual, S_g the residuals' covariance within its group and ε a standard normal. The
//! copies keep the conditional means and the residual covariance (in expectation), so the
//! marginals and correlations are held while no copy sits on a training row. A column that
//! a categorical one determines (Adult's education-num beside education) has no residual
//! spread and is not moved.

use ndarray::{s, Array1, Array2, Axis};

use crate::encode::{Encoded, SCORE_LIMIT};
use crate::error::{Error, Result};
use crate::rng::{fill_normal, row_rng};

/// Random stream of the copies' noise (the fit's seed picks the draws).
const SMOOTH_STREAM: u64 = 0x5300_7407;
/// Ridge of the regression on the label and categorical cells, in rows' worth of weight: it
/// keeps levels seen in a handful of rows from fitting their rows exactly.
const RIDGE: f64 = 1.0;
/// The regression uses the categorical cells while the design has at most this many columns;
/// beyond it (many high-cardinality columns), the label alone.
pub const MAX_DESIGN_COLUMNS: usize = 1024;
/// A numeric target's quartiles in score space (Φ⁻¹ of 1/4, 1/2, 3/4).
const QUARTILES: [f64; 3] = [-0.674_489_750_196_081_7, 0.0, 0.674_489_750_196_081_7];
/// The largest bandwidth a request may ask for.
pub const MAX_SMOOTHING: f64 = 10.0;

/// Bytes the copies of `n` rows of `width` values (`n_num` numeric, `n_classes` labels) need
/// while they are made: the rows in f64, the regression's design, its fit and residuals, and
/// the output (the rows and their copies in f32).
pub fn working_bytes(n: usize, width: usize, n_num: usize, n_classes: usize) -> u128 {
    // intercept, a numeric target, the groups, and the categorical cells unless too many
    let lead = 2 + n_classes.max(QUARTILES.len() + 1);
    let design = if lead + width <= MAX_DESIGN_COLUMNS {
        lead + width
    } else {
        lead
    };
    let per_row = 8 * (width + design + 3 * n_num) + 4 * 2 * width;
    n as u128 * per_row as u128
}

/// `data` followed by one smoothed copy of each row, with bandwidth `h` (> 0), drawn from the
/// fit's `seed`; `n_num` numeric scores lead each row, `n_classes` labels (0 without one).
/// `target`, a numeric target's score, is conditioned on like the label and kept as it is.
/// Unchanged when there is no other numeric column or fewer than two rows.
pub fn with_smoothed_copies(
    data: &Encoded,
    n_num: usize,
    n_classes: usize,
    target: Option<usize>,
    h: f64,
    seed: u64,
) -> Result<Encoded> {
    let n = data.n;
    let moved: Vec<usize> = (0..n_num).filter(|&k| Some(k) != target).collect();
    if moved.is_empty() || n < 2 || h <= 0.0 {
        return Ok(data.clone());
    }
    let width = data.x.len() / n;
    let x = Array2::from_shape_vec((n, width), data.x.iter().map(|&v| v as f64).collect())
        .map_err(|e| Error::numerical(format!("smoothing: {e}")))?;
    let z = x.select(Axis(1), &moved);
    let d = moved.len();

    // Groups: the label's classes, or a numeric target's quartiles (its score is standard
    // normal), or one group. Each group keeps its own residual covariance.
    let groups: Vec<usize> = match (&data.labels, target) {
        (Some(l), _) => l.iter().map(|&c| c as usize).collect(),
        (None, Some(t)) => (0..n)
            .map(|i| {
                let v = x[[i, t]];
                QUARTILES.iter().filter(|&&q| v > q).count()
            })
            .collect(),
        (None, None) => vec![0; n],
    };
    let seen = groups.iter().max().map_or(1, |&g| g + 1);
    let n_groups = if data.labels.is_some() {
        n_classes.max(seen)
    } else {
        seen
    };

    // Design: intercept, a numeric target's score, the groups, the categorical one-hot cells
    // (unless too many).
    let n_target = usize::from(target.is_some());
    let cats = width - n_num;
    let lead = 1 + n_target + n_groups;
    let use_cats = lead + cats <= MAX_DESIGN_COLUMNS;
    let p = lead + if use_cats { cats } else { 0 };
    let mut design = Array2::<f64>::zeros((n, p));
    design.column_mut(0).fill(1.0);
    if let Some(t) = target {
        design.column_mut(1).assign(&x.column(t));
    }
    for (i, &g) in groups.iter().enumerate() {
        design[[i, 1 + n_target + g]] = 1.0;
    }
    if use_cats {
        design
            .slice_mut(s![.., lead..])
            .assign(&x.slice(s![.., n_num..]));
    }
    let mut gram = design.t().dot(&design);
    for j in 1..p {
        gram[[j, j]] += RIDGE;
    }
    // A tiny ridge on the intercept keeps the system regular when every row shares a level.
    gram[[0, 0]] += 1e-9 * n as f64;
    let rhs = design.t().dot(&z);
    let chol = cholesky(&gram);
    let mut coef = Array2::<f64>::zeros((p, d));
    for k in 0..d {
        coef.column_mut(k)
            .assign(&cholesky_solve(&chol, rhs.column(k).to_owned())?);
    }
    let fitted = design.dot(&coef);
    let resid = &z - &fitted;
    let pooled = cholesky(&(resid.t().dot(&resid) / (n - 1) as f64));
    // A group's own covariance where it has rows enough to estimate one, else the pooled.
    let mut roots = Vec::with_capacity(n_groups);
    for g in 0..n_groups {
        let rows: Vec<usize> = (0..n).filter(|&i| groups[i] == g).collect();
        if rows.len() < 2 * d + 2 {
            roots.push(pooled.clone());
            continue;
        }
        let r = resid.select(Axis(0), &rows);
        let c = r.t().dot(&r) / (rows.len() - 1) as f64;
        roots.push(cholesky(&c));
    }

    let shrink = 1.0 / (1.0 + h * h).sqrt();
    let mut out = Vec::with_capacity(2 * data.x.len());
    out.extend_from_slice(&data.x);
    let mut eps = vec![0f32; d];
    for i in 0..n {
        let mut rng = row_rng(seed, SMOOTH_STREAM, i as u64);
        fill_normal(&mut rng, &mut eps);
        let e = Array1::from_iter(eps.iter().map(|&v| v as f64));
        let noise = roots[groups[i]].dot(&e);
        let start = out.len();
        out.extend_from_slice(&data.x[i * width..(i + 1) * width]);
        for (j, &k) in moved.iter().enumerate() {
            let v = fitted[[i, j]] + (resid[[i, j]] + h * noise[j]) * shrink;
            out[start + k] = v.clamp(-SCORE_LIMIT, SCORE_LIMIT) as f32;
        }
    }
    let labels = data
        .labels
        .as_ref()
        .map(|l| l.iter().chain(l.iter()).copied().collect());
    Ok(Encoded {
        x: out,
        labels,
        n: 2 * n,
    })
}

/// The lower Cholesky factor L (L·Lᵀ = `a`) of a positive semi-definite matrix: a pivot at
/// round-off's scale (a column that others determine) gives a zero column, so L·ε still has
/// covariance `a`. Written out rather than LAPACK's: OpenBLAS's threaded factorisations
/// recurse deeply enough to overflow a host thread's small stack (an R or test thread).
fn cholesky(a: &Array2<f64>) -> Array2<f64> {
    let m = a.nrows();
    let scale = (0..m).map(|i| a[[i, i]].abs()).fold(0.0, f64::max);
    let tol = 1e-12 * scale.max(f64::MIN_POSITIVE);
    let mut l = Array2::<f64>::zeros((m, m));
    for j in 0..m {
        let mut pivot = a[[j, j]];
        for k in 0..j {
            pivot -= l[[j, k]] * l[[j, k]];
        }
        if pivot <= tol {
            continue;
        }
        let root = pivot.sqrt();
        l[[j, j]] = root;
        for i in j + 1..m {
            let mut v = a[[i, j]];
            for k in 0..j {
                v -= l[[i, k]] * l[[j, k]];
            }
            l[[i, j]] = v / root;
        }
    }
    l
}

/// Solves L·Lᵀ·x = b for a factor of a positive definite matrix.
fn cholesky_solve(l: &Array2<f64>, mut b: Array1<f64>) -> Result<Array1<f64>> {
    let m = l.nrows();
    for i in 0..m {
        if l[[i, i]] == 0.0 {
            return Err(Error::numerical(
                "smoothing's regression on the label and categorical cells is singular",
            ));
        }
        for k in 0..i {
            b[i] -= l[[i, k]] * b[k];
        }
        b[i] /= l[[i, i]];
    }
    for i in (0..m).rev() {
        for k in i + 1..m {
            b[i] -= l[[k, i]] * b[k];
        }
        b[i] /= l[[i, i]];
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two correlated scores, a score that a two-level categorical column fixes, a label.
    fn table(n: usize) -> Encoded {
        let mut x = Vec::new();
        let mut labels = Vec::new();
        let mut e = vec![0f32; 2];
        for i in 0..n {
            let mut rng = row_rng(1, 2, i as u64);
            fill_normal(&mut rng, &mut e);
            let label = (i % 3) as u32;
            let level = i % 2;
            let a = e[0] + label as f32 * 0.5;
            x.extend_from_slice(&[a, 0.8 * a + 0.6 * e[1], if level == 0 { -1.0 } else { 1.0 }]);
            x.extend_from_slice(if level == 0 { &[1.0, 0.0] } else { &[0.0, 1.0] });
            labels.push(label);
        }
        Encoded {
            x,
            labels: Some(labels),
            n,
        }
    }

    fn column(e: &Encoded, from: usize, to: usize, k: usize) -> Vec<f64> {
        let w = e.x.len() / e.n;
        (from..to).map(|i| e.x[i * w + k] as f64).collect()
    }

    fn mean_sd(v: &[f64]) -> (f64, f64) {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
        (m, var.sqrt())
    }

    fn corr(a: &[f64], b: &[f64]) -> f64 {
        let (ma, sa) = mean_sd(a);
        let (mb, sb) = mean_sd(b);
        let c: f64 = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - ma) * (y - mb))
            .sum::<f64>();
        c / (a.len() - 1) as f64 / (sa * sb)
    }

    #[test]
    fn copies_keep_means_spread_and_correlation_and_leave_the_rows() {
        let n = 6000;
        let data = table(n);
        let out = with_smoothed_copies(&data, 3, 3, None, 1.0, 9).unwrap();
        assert_eq!(out.n, 2 * n);
        assert_eq!(
            &out.x[..data.x.len()],
            &data.x[..],
            "the rows come first, unchanged"
        );
        let labels = out.labels.as_ref().unwrap();
        assert_eq!(
            &labels[n..],
            &labels[..n],
            "each copy keeps its row's label"
        );
        let w = 5;
        for i in 0..n {
            // categorical cells and the column they fix are the row's own
            assert_eq!(
                out.x[(n + i) * w + 3..(n + i) * w + 5],
                data.x[i * w + 3..i * w + 5]
            );
            assert!((out.x[(n + i) * w + 2] - data.x[i * w + 2]).abs() < 1e-2);
        }
        let (a0, a1) = (column(&data, 0, n, 0), column(&out, n, 2 * n, 0));
        let (b0, b1) = (column(&data, 0, n, 1), column(&out, n, 2 * n, 1));
        let (m0, s0) = mean_sd(&a0);
        let (m1, s1) = mean_sd(&a1);
        assert!(
            (m0 - m1).abs() < 0.03 && (s0 - s1).abs() < 0.03,
            "{m0} {s0} / {m1} {s1}"
        );
        let (r0, r1) = (corr(&a0, &b0), corr(&a1, &b1));
        assert!((r0 - r1).abs() < 0.02, "correlation {r0} -> {r1}");
        // within a label the copies keep its mean
        for l in 0..3u32 {
            let pick = |v: &[f64]| -> f64 {
                let s: Vec<f64> = (0..n).filter(|&i| labels[i] == l).map(|i| v[i]).collect();
                mean_sd(&s).0
            };
            assert!((pick(&a0) - pick(&a1)).abs() < 0.05);
        }
        // no copy sits on its row: the moves are of the residual spread's size
        let moved: f64 = (0..n).map(|i| (a1[i] - a0[i]).abs()).sum::<f64>() / n as f64;
        assert!(moved > 0.3, "mean move {moved}");
    }

    #[test]
    fn cholesky_factors_and_solves_semi_definite_matrices() {
        // The third row is half the first (rank 2); then a definite matrix to solve with.
        let a = ndarray::arr2(&[[4.0, 2.0, 2.0], [2.0, 5.0, 1.0], [2.0, 1.0, 1.0]]);
        let l = cholesky(&a);
        let back = l.dot(&l.t());
        for (x, y) in back.iter().zip(a.iter()) {
            assert!((x - y).abs() < 1e-12, "{back:?}");
        }
        assert_eq!(l[[2, 2]], 0.0, "the dependent column has no pivot");
        let b = ndarray::arr2(&[[4.0, 2.0], [2.0, 3.0]]);
        let x = cholesky_solve(&cholesky(&b), ndarray::arr1(&[2.0, 1.0])).unwrap();
        assert!((x[0] - 0.5).abs() < 1e-12 && x[1].abs() < 1e-12, "{x:?}");
        assert!(cholesky_solve(&l, ndarray::arr1(&[1.0, 1.0, 1.0])).is_err());
    }

    #[test]
    fn copies_are_seeded_and_off_without_numeric_columns_or_bandwidth() {
        let data = table(50);
        let a = with_smoothed_copies(&data, 3, 3, None, 1.0, 4).unwrap();
        assert_eq!(
            a.x,
            with_smoothed_copies(&data, 3, 3, None, 1.0, 4).unwrap().x
        );
        assert_ne!(
            a.x,
            with_smoothed_copies(&data, 3, 3, None, 1.0, 5).unwrap().x
        );
        assert_eq!(
            with_smoothed_copies(&data, 0, 3, None, 1.0, 4).unwrap().n,
            50
        );
        assert_eq!(
            with_smoothed_copies(&data, 3, 3, None, 0.0, 4).unwrap().n,
            50
        );
        let one = Encoded {
            x: data.x[..5].to_vec(),
            labels: Some(vec![0]),
            n: 1,
        };
        assert_eq!(with_smoothed_copies(&one, 3, 3, None, 1.0, 4).unwrap().n, 1);
    }
}

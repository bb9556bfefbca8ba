//! Small f64 statistical helpers shared by the encoder and the metrics.

/// Standard normal CDF.
pub fn norm_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// Standard normal quantile (Acklam's approximation refined by one Halley step: ~1e-15).
pub fn norm_ppf(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969683028665376e+01,
        2.209460984245205e+02,
        -2.759285104469687e+02,
        1.383_577_518_672_69e2,
        -3.066479806614716e+01,
        2.506628277459239e+00,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e+01,
        1.615858368580409e+02,
        -1.556989798598866e+02,
        6.680131188771972e+01,
        -1.328068155288572e+01,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e+00,
        -2.549732539343734e+00,
        4.374664141464968e+00,
        2.938163982698783e+00,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-03,
        3.224671290700398e-01,
        2.445134137142996e+00,
        3.754408661907416e+00,
    ];
    let pl = 0.02425;
    let x = if p < pl {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - pl {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    // Halley refinement.
    let e = norm_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// Linear-interpolated percentile of sorted data at fraction `f` in [0, 1] (numpy's default).
pub fn percentile_sorted(sorted: &[f64], f: f64) -> f64 {
    let n = sorted.len();
    if n == 1 {
        return sorted[0];
    }
    let pos = f * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    let w = pos - lo as f64;
    sorted[lo] + w * (sorted[hi] - sorted[lo])
}

/// Piecewise-linear interpolation on increasing `xp` (ties allowed: a value equal to a run of
/// equal knots maps to the middle of their `fp`, as scikit-learn's quantile transform does).
pub fn interp_mid(x: f64, xp: &[f64], fp: &[f64]) -> f64 {
    let n = xp.len();
    if x <= xp[0] && x < xp[n - 1] {
        let hi = xp.partition_point(|&v| v <= x);
        return if hi > 0 {
            0.5 * (fp[0] + fp[hi - 1])
        } else {
            fp[0]
        };
    }
    if x >= xp[n - 1] {
        let lo = xp.partition_point(|&v| v < x);
        return if lo < n {
            0.5 * (fp[lo] + fp[n - 1])
        } else {
            fp[n - 1]
        };
    }
    let lo = xp.partition_point(|&v| v < x);
    let hi = xp.partition_point(|&v| v <= x);
    if lo < hi {
        return 0.5 * (fp[lo] + fp[hi - 1]);
    }
    let (x0, x1, y0, y1) = (xp[lo - 1], xp[lo], fp[lo - 1], fp[lo]);
    y0 + (x - x0) * (y1 - y0) / (x1 - x0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppf_inverts_cdf() {
        for &p in &[
            1e-10,
            1e-7,
            0.01,
            0.0243,
            0.3,
            0.5,
            0.8,
            0.976,
            0.999,
            1.0 - 1e-7,
        ] {
            let x = norm_ppf(p);
            assert!(
                (norm_cdf(x) - p).abs() < 1e-14 * p.max(1e-3) / 1e-3,
                "p={p} x={x}"
            );
        }
        assert!((norm_ppf(0.975) - 1.959963984540054).abs() < 1e-12);
        assert!((norm_cdf(1.0) - 0.8413447460685429).abs() < 1e-15);
    }

    #[test]
    fn interp_handles_ties_and_edges() {
        let xp = [0.0, 1.0, 1.0, 1.0, 3.0];
        let fp = [0.0, 0.25, 0.5, 0.75, 1.0];
        assert_eq!(interp_mid(1.0, &xp, &fp), 0.5);
        assert_eq!(interp_mid(2.0, &xp, &fp), 0.875);
        assert_eq!(interp_mid(0.5, &xp, &fp), 0.125);
        assert_eq!(interp_mid(0.0, &xp, &fp), 0.0);
        assert_eq!(interp_mid(3.0, &xp, &fp), 1.0);
        assert_eq!(percentile_sorted(&[1.0, 2.0, 4.0], 0.75), 3.0);
    }
}

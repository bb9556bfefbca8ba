//! e^x in f32 without a library call, so that loops over it vectorise (the softmax of the
//! multinomial loss and sampling, SiLU): Cody–Waite range reduction x = n·ln 2 + r with
//! |r| ≤ ln 2 / 2 and Cephes' degree-6 polynomial for e^r, then 2^n from the exponent bits.
//! Within 2 ulp of the exact value where the result is a normal float (a test checks
//! against f64).

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split so that n·LN2_HI is exact for the n that occur.
const LN2_HI: f32 = 355.0 / 512.0;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5·2²³: adding and subtracting it rounds to the nearest integer (|x·log2 e| < 2²²).
const ROUND: f32 = 12_582_912.0;

/// e^x: 0 below −87.3 (where e^x leaves the normal range: no subnormal results), +∞ above
/// 88.72, NaN for NaN. Branch-free, so that loops over it vectorise.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    let xc = x.clamp(-87.4, 88.8);
    let n = (xc * LOG2E + ROUND) - ROUND;
    let r = (xc - n * LN2_HI) - n * LN2_LO;
    let p = (((((1.987_569_2e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 1.666_666_5e-1)
        * r
        + 0.5)
        * (r * r)
        + r
        + 1.0;
    // 2^n as two factors, each a normal float for every n in [−127, 129].
    let n = n as i32;
    let (n1, n2) = (n >> 1, n - (n >> 1));
    let pow2 = |k: i32| f32::from_bits(((k + 127) << 23) as u32);
    let y = p * pow2(n1) * pow2(n2);
    if x < -87.3 {
        0.0
    } else if x > 88.72 {
        f32::INFINITY
    } else {
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_two_ulp_everywhere() {
        let mut worst = 0.0f64;
        let mut x = -87.3f32;
        while x < 88.72 {
            let want = (x as f64).exp();
            let got = exp_f32(x) as f64;
            let ulp = (want as f32).abs() * f32::EPSILON;
            worst = worst.max((got - want).abs() / ulp as f64);
            x += 1.3e-4 * (1.0 + x.abs());
        }
        eprintln!("worst error {worst:.2} ulp");
        assert!(worst <= 2.0, "worst error {worst} ulp");
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(-200.0), 0.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(200.0), f32::INFINITY);
        assert!(exp_f32(f32::NAN).is_nan());
    }
}

//! The Mann-Kendall trend test (Mann 1945, Kendall 1975, Gilbert 1987), as
//! pymannkendall's `original_test`: the score `S`, its variance with the
//! correction for ties, the z-score with the continuity correction and the
//! two-sided normal p-value.
//!
//! ```text
//! S = sum_{i<j} sign(x_j - x_i)
//! Var(S) = (n (n-1) (2n+5) - sum_g t_g (t_g-1) (2 t_g+5)) / 18   (t_g: size of tie group g)
//! z = (S - 1) / sqrt(Var S) if S > 0;  0 if S = 0;  (S + 1) / sqrt(Var S) if S < 0
//! p = P(|Z| >= |z|)
//! ```
//!
//! Ties are exact equality of the values (pymannkendall's `np.unique`).
//! The p-value is `erfc(|z| / sqrt 2)`; pymannkendall's `2 (1 - Phi(|z|))`
//! loses its relative precision for small p, so the two agree to 1e-15 in
//! absolute terms.

use crate::analysis::getis_ord::p_two_sided;

/// The Mann-Kendall test of one series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannKendall {
    /// Mann-Kendall score: concordant minus discordant pairs.
    pub s: i64,
    /// Variance of `S` under no trend, corrected for ties.
    pub var_s: f64,
    /// Standardised score with the continuity correction (0 when `S` is 0
    /// or the variance is 0).
    pub z: f64,
    /// Two-sided p-value of `z` (1 when `z` is 0).
    pub p: f64,
}

impl MannKendall {
    /// The direction of a trend significant at `alpha` (two-sided): `1`
    /// increasing, `-1` decreasing, `0` none.
    pub fn direction(&self, alpha: f64) -> i8 {
        if self.p <= alpha && self.z != 0.0 {
            if self.z > 0.0 {
                1
            } else {
                -1
            }
        } else {
            0
        }
    }
}

/// The Mann-Kendall test of `x` in time order. NaN values are not expected
/// (the cube holds none); a NaN compares as neither larger nor smaller.
pub fn mann_kendall(x: &[f64]) -> MannKendall {
    let n = x.len();
    let mut s: i64 = 0;
    for i in 0..n {
        for j in i + 1..n {
            if x[j] > x[i] {
                s += 1;
            } else if x[j] < x[i] {
                s -= 1;
            }
        }
    }
    MannKendall::from_score(s, tie_variance(x, &mut Vec::new()))
}

impl MannKendall {
    /// The test from its score and its variance: z with the continuity
    /// correction, and its two-sided p-value.
    pub fn from_score(s: i64, var_s: f64) -> MannKendall {
        let z = if s == 0 || var_s <= 0.0 {
            0.0
        } else if s > 0 {
            (s - 1) as f64 / var_s.sqrt()
        } else {
            (s + 1) as f64 / var_s.sqrt()
        };
        MannKendall {
            s,
            var_s,
            z,
            p: if z == 0.0 { 1.0 } else { p_two_sided(z) },
        }
    }
}

/// `Var(S)` of `x` with the tie correction, in exact integers until the
/// division; `sorted` is a buffer for a sorted copy of `x`.
pub fn tie_variance(x: &[f64], sorted: &mut Vec<f64>) -> f64 {
    let n = x.len() as i128;
    sorted.clear();
    sorted.extend_from_slice(x);
    sorted.sort_unstable_by(f64::total_cmp);
    let mut ties: i128 = 0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i + 1;
        while j < sorted.len() && sorted[j] == sorted[i] {
            j += 1;
        }
        let t = (j - i) as i128;
        ties += t * (t - 1) * (2 * t + 5);
        i = j;
    }
    (n * (n - 1) * (2 * n + 5) - ties) as f64 / 18.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_ties_matches_the_closed_form() {
        // 1..=10 increasing: S = 45, Var = 10*9*25/18 = 125.
        let x: Vec<f64> = (1..=10).map(f64::from).collect();
        let m = mann_kendall(&x);
        assert_eq!(m.s, 45);
        assert_eq!(m.var_s, 125.0);
        assert_eq!(m.z, 44.0 / 125f64.sqrt());
        assert_eq!(m.direction(0.05), 1);
        let r: Vec<f64> = x.iter().rev().copied().collect();
        let m = mann_kendall(&r);
        assert_eq!((m.s, m.direction(0.05)), (-45, -1));
    }

    #[test]
    fn ties_reduce_the_variance() {
        // [1, 1, 2]: S = 2, ties: one group of 2: (3*2*11 - 2*1*9) / 18 = 48 / 18.
        let m = mann_kendall(&[1.0, 1.0, 2.0]);
        assert_eq!(m.s, 2);
        assert_eq!(m.var_s, 48.0 / 18.0);
    }

    #[test]
    fn constant_short_and_empty_series_have_no_trend() {
        for x in [&[][..], &[3.0][..], &[2.0, 2.0, 2.0, 2.0][..]] {
            let m = mann_kendall(x);
            assert_eq!((m.s, m.z, m.p), (0, 0.0, 1.0), "{x:?}");
            assert_eq!(m.direction(0.05), 0);
        }
    }
}

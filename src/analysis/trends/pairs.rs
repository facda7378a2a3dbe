//! Mann-Kendall and Sen's slope of one series in one pass over its pairs.
//!
//! Both statistics look at every pair `i < j`: Mann-Kendall at the sign of
//! `x_j - x_i`, Sen at `(x_j - x_i) / (j - i)`. A cube of 240k cells x 52
//! steps has 1,326 pairs a series and two series a cell, so the classifier
//! spends most of its time here. The pairs are walked by lag `k = j - i`:
//! for a fixed lag the differences of contiguous slices divided by one
//! constant, which the compiler vectorises; the counts are branch-free. The
//! results are exactly those of [`super::mann_kendall::mann_kendall`] and
//! [`super::sen::sen_slope`] (the same subtractions and divisions; the
//! median does not depend on the order the slopes were made in), tested
//! below on series with ties, NaN-free as the cube is.

use super::mann_kendall::{tie_variance, MannKendall};

/// Buffers reused from one series to the next (one per worker thread).
#[derive(Debug, Default)]
pub struct Scratch {
    /// The slopes as [`key`]s.
    slopes: Vec<i64>,
    sorted: Vec<f64>,
}

/// The Mann-Kendall test and Sen's slope of `x` in time order.
pub fn mk_and_sen(x: &[f64], scratch: &mut Scratch) -> (MannKendall, f64) {
    let n = x.len();
    let d = &mut scratch.slopes;
    d.clear();
    d.resize(n * n.saturating_sub(1) / 2, 0);
    let mut s: i64 = 0;
    let mut at = 0;
    for k in 1..n {
        let (lo, hi) = (&x[..n - k], &x[k..]);
        // Differences of distinct finite values are never 0 (gradual
        // underflow), so their sign is the comparison's; the count is taken
        // before the division, which could underflow a tiny difference.
        let mut acc: i32 = 0;
        for (a, b) in lo.iter().zip(hi) {
            acc += i32::from(b > a) - i32::from(b < a);
        }
        s += i64::from(acc);
        let lag = k as f64;
        // Written in place (not pushed) so that the loop vectorises.
        for (o, (a, b)) in d[at..at + lo.len()].iter_mut().zip(lo.iter().zip(hi)) {
            *o = key((b - a) / lag);
        }
        at += lo.len();
    }
    let var_s = tie_variance(x, &mut scratch.sorted);
    (MannKendall::from_score(s, var_s), median(d))
}

/// `v` as an integer whose order is `f64::total_cmp`'s: selecting among
/// integers is about twice as fast as among floats with a comparator.
fn key(v: f64) -> i64 {
    let b = v.to_bits() as i64;
    b ^ (((b >> 63) as u64) >> 1) as i64
}

/// The inverse of [`key`] (the same flip).
fn unkey(k: i64) -> f64 {
    f64::from_bits((k ^ (((k >> 63) as u64) >> 1) as i64) as u64)
}

/// The median of the slopes keyed in `d` (NaN when empty), as
/// [`super::sen::sen_slope`] takes it: the middle one, or the mean of the
/// two middle ones. (A radix selection over the keys was tried and was
/// slower: slopes' keys cluster by exponent, so each round splits little.)
fn median(d: &mut [i64]) -> f64 {
    let m = d.len();
    if m == 0 {
        return f64::NAN;
    }
    let mid = m / 2;
    // Counts of tied values (zero slopes, key 0) are common: when the
    // middle rank or ranks fall among them, the median is 0 without a
    // selection. One branch-free pass tells.
    let (mut negative, mut zero) = (0usize, 0usize);
    for &k in d.iter() {
        negative += usize::from(k < 0);
        zero += usize::from(k == 0);
    }
    let first = if m % 2 == 1 { mid } else { mid - 1 };
    if negative <= first && mid < negative + zero {
        return 0.0;
    }
    let (below, &mut hi, _) = d.select_nth_unstable(mid);
    if m % 2 == 1 {
        return unkey(hi);
    }
    let lo = below.iter().copied().max().map_or(f64::NEG_INFINITY, unkey);
    (lo + unkey(hi)) / 2.0
}

#[cfg(test)]
mod tests {
    use super::super::mann_kendall::mann_kendall;
    use super::super::sen::sen_slope;
    use super::*;

    #[test]
    fn keys_order_as_total_cmp_and_invert() {
        let v = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -5e-324,
            -0.0,
            0.0,
            5e-324,
            1.0,
            1e300,
            f64::INFINITY,
        ];
        for (i, a) in v.iter().enumerate() {
            assert_eq!(unkey(key(*a)).to_bits(), a.to_bits());
            for b in &v[i + 1..] {
                assert!(key(*a) < key(*b), "{a} {b}");
            }
        }
    }

    /// Zero slopes across the middle give 0 without a selection; next to
    /// it, the selected median, as a sort gives it.
    #[test]
    fn a_middle_of_zero_slopes_is_zero_and_its_edges_are_selected() {
        for m in 1usize..40 {
            for zeros in 0..=m {
                for start in 0..=(m - zeros) {
                    // `start` negative slopes, `zeros` zero ones, the rest positive.
                    let d: Vec<i64> = (0..m)
                        .map(|i| {
                            if i < start {
                                key(-1.0 - i as f64)
                            } else if i < start + zeros {
                                key(0.0)
                            } else {
                                key(2.0 + i as f64)
                            }
                        })
                        .rev()
                        .collect();
                    let mut sorted = d.clone();
                    sorted.sort_unstable();
                    let want = if m % 2 == 1 {
                        unkey(sorted[m / 2])
                    } else {
                        (unkey(sorted[m / 2 - 1]) + unkey(sorted[m / 2])) / 2.0
                    };
                    let got = median(&mut d.clone());
                    assert_eq!(
                        got.to_bits(),
                        want.to_bits(),
                        "m {m} zeros {zeros} start {start}"
                    );
                }
            }
        }
    }

    /// Series of every length 0..60 with many ties (small integers), with
    /// fractions, with huge and tiny values: the one-pass results are
    /// bit-identical to the two separate functions.
    #[test]
    fn one_pass_equals_the_separate_statistics() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        let mut scratch = Scratch::default();
        for n in 0..60 {
            for kind in 0..4 {
                let x: Vec<f64> = (0..n)
                    .map(|_| {
                        let r = next();
                        match kind {
                            0 => (r % 4) as f64,
                            1 => (r >> 11) as f64 / (1u64 << 53) as f64 - 0.5,
                            2 => ((r % 7) as f64 - 3.0) * 1e300,
                            _ => ((r % 5) as f64 - 2.0) * 5e-324,
                        }
                    })
                    .collect();
                let (m, s) = mk_and_sen(&x, &mut scratch);
                let want = mann_kendall(&x);
                assert_eq!(m, want, "n {n} kind {kind}");
                let ws = sen_slope(&x);
                assert!(
                    s.to_bits() == ws.to_bits() || (s.is_nan() && ws.is_nan()),
                    "n {n} kind {kind}: {s} vs {ws}"
                );
            }
        }
    }
}

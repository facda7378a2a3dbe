//! A small deterministic pseudo-random number generator and portable maths,
//! shared by the demo generator and the permutation tests of `analysis/`
//! (a crate-level module, like `cancel.rs`, so neither imports the other).
//!
//! The demo scenario must be byte-identical for a given seed on every platform
//! and with every version of the dependencies, so we neither use the `rand`
//! crate (whose algorithms may change between versions) nor the platform
//! `libm` (`f64::ln`, `f64::sin`, ... may differ in the last bit between
//! glibc, musl, macOS and MSVC). Everything here uses only IEEE-754 basic
//! operations (`+ - * /`, `sqrt`, `floor`, `round`), which are exactly
//! specified and never fused by rustc.
//!
//! * [`SplitMix64`] is used to expand a 64-bit seed into generator state and
//!   as a fast hash ([`mix64`]) to derive independent per-item streams.
//! * [`Rng`] is xoshiro256++ (Blackman & Vigna), small, fast and of high quality.

use std::f64::consts::{FRAC_PI_2, LN_2, PI, SQRT_2};

/// Golden-ratio increment of SplitMix64.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 finaliser: a bijective 64-bit mixing function.
///
/// Used to hash `(seed, stream, index)` into a fresh generator seed so that
/// item `i` of a layer can be generated without generating items `0..i`.
pub fn mix64(x: u64) -> u64 {
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SplitMix64 (Steele, Lea & Flood): a tiny generator used for seeding.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix64(self.state)
    }
}

/// xoshiro256++ with a few distributions on top.
///
/// All methods are deterministic functions of the seed; the sequence of calls
/// (not just their number) defines the output, so generators that must stay
/// stable should only ever be extended at the end.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
    /// Second Box-Muller deviate, kept for the next [`Rng::normal`] call.
    spare: Option<f64>,
}

impl Rng {
    /// A generator whose state is expanded from `seed` with SplitMix64.
    ///
    /// Four consecutive SplitMix64 outputs come from four distinct states and
    /// the output function is a bijection, so at most one of them is zero and
    /// the forbidden all-zero xoshiro state cannot occur.
    pub fn new(seed: u64) -> Self {
        let mut sm = SplitMix64::new(seed);
        let s = [sm.next_u64(), sm.next_u64(), sm.next_u64(), sm.next_u64()];
        Rng { s, spare: None }
    }

    /// An independent generator for item `index` of stream `stream`.
    ///
    /// Counter-based: the generator for item `i` is a pure function of
    /// `(seed, stream, i)`, which keeps layer generation O(1) in memory and
    /// trivially parallelisable.
    pub fn for_item(seed: u64, stream: u64, index: u64) -> Self {
        let key = mix64(seed ^ mix64(stream.wrapping_mul(GOLDEN) ^ 0xD1B5_4A32_D192_ED03))
            ^ mix64(index.wrapping_add(1).wrapping_mul(GOLDEN));
        Rng::new(key)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[0]
            .wrapping_add(self.s[3])
            .rotate_left(23)
            .wrapping_add(self.s[0]);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 bits of precision.
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    /// Uniform integer in `[0, n)`; returns 0 when `n == 0`.
    ///
    /// Lemire's multiply-high without rejection: the bias is below 2^-40 for
    /// the small `n` used here, and skipping rejection keeps the number of
    /// draws per call fixed.
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform integer in `[lo, hi]` (inclusive); `lo` when `hi < lo`.
    pub fn range_i(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Standard normal deviate (Box-Muller, both deviates used).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        // 1 - U is in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - self.f64();
        let u2 = self.f64();
        let r = (-2.0 * ln(u1)).sqrt();
        let (s, c) = sin_cos(2.0 * PI * u2);
        self.spare = Some(r * s);
        r * c
    }

    /// Normal deviate with the given mean and standard deviation.
    pub fn gauss(&mut self, mean: f64, sd: f64) -> f64 {
        mean + sd * self.normal()
    }

    /// Exponential deviate with the given mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * ln(1.0 - self.f64())
    }

    /// Geometric count `k >= 0` with the given mean (number of failures
    /// before the first success with `p = 1 / (1 + mean)`).
    pub fn geometric(&mut self, mean: f64) -> u64 {
        if mean <= 0.0 {
            return 0;
        }
        let q = mean / (1.0 + mean); // failure probability
        let k = (ln(1.0 - self.f64()) / ln(q)).floor();
        // Guard against the astronomically unlikely huge tail.
        if k > 1.0e6 {
            1_000_000
        } else {
            k as u64
        }
    }

    /// Index drawn with probability proportional to `weights`.
    ///
    /// Non-positive weights are never chosen; if all weights are non-positive
    /// (or the slice is empty) index 0 is returned, which callers avoid by
    /// construction.
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().filter(|w| **w > 0.0).sum();
        if total <= 0.0 {
            return 0;
        }
        let mut x = self.f64() * total;
        let mut last = 0;
        for (i, &w) in weights.iter().enumerate() {
            if w > 0.0 {
                if x < w {
                    return i;
                }
                x -= w;
                last = i;
            }
        }
        // Rounding left a sliver: fall back to the last positive weight.
        last
    }

    /// A uniformly chosen element; `None` for an empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.below(items.len() as u64) as usize)
        }
    }
}

/// A precomputed discrete distribution sampled by binary search.
///
/// Used for the per-day activity curves (731 days), where a linear scan per
/// draw would dominate the incident generator.
#[derive(Debug, Clone)]
pub struct Table {
    cum: Vec<f64>,
}

impl Table {
    /// Builds the cumulative table; negative weights count as zero.
    pub fn new(weights: &[f64]) -> Self {
        let mut acc = 0.0;
        let cum = weights
            .iter()
            .map(|w| {
                acc += w.max(0.0);
                acc
            })
            .collect();
        Table { cum }
    }

    /// Number of outcomes.
    pub fn len(&self) -> usize {
        self.cum.len()
    }

    /// Whether the table has no outcomes.
    pub fn is_empty(&self) -> bool {
        self.cum.is_empty()
    }

    /// An index drawn proportionally to its weight (0 for an empty table).
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let total = self.cum.last().copied().unwrap_or(0.0);
        let x = rng.f64() * total;
        let i = self.cum.partition_point(|c| *c <= x);
        i.min(self.cum.len().saturating_sub(1))
    }
}

/// Natural logarithm from basic IEEE operations only (portable, ~1 ulp).
///
/// The argument is split into `m * 2^e` with `m` in `[sqrt(1/2), sqrt(2))`
/// and `ln(m) = 2 atanh((m-1)/(m+1))` is summed as a short odd series.
pub fn ln(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return x;
    }
    let mut bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64;
    let mut bias = 1023;
    if e == 0 {
        // Subnormal: scale by 2^54 (exact) into the normal range.
        bits = (x * 18_014_398_509_481_984.0).to_bits();
        e = ((bits >> 52) & 0x7ff) as i64;
        bias += 54;
    }
    let mut exp = e - bias;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m > SQRT_2 {
        m *= 0.5;
        exp += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    // |s| <= 0.1716, so eleven terms reach below 1e-17 relative.
    let mut p = 0.0;
    for c in ATANH_C.iter().rev() {
        p = p * s2 + c;
    }
    2.0 * s * p + exp as f64 * LN_2
}

/// Sine and cosine from basic IEEE operations only (portable).
///
/// Cody-Waite reduction by pi/2 followed by Taylor series on `[-pi/4, pi/4]`.
/// Accurate to a few ulp for the moderate arguments used here (|x| < 1e6).
pub fn sin_cos(x: f64) -> (f64, f64) {
    if !x.is_finite() {
        return (f64::NAN, f64::NAN);
    }
    // pi/2 split into a head with trailing zero bits and a tail.
    const PIO2_HI: f64 = 1.570_796_326_734_125_6;
    const PIO2_LO: f64 = 6.077_100_506_506_192e-11;
    let k = (x / FRAC_PI_2).round();
    let r = (x - k * PIO2_HI) - k * PIO2_LO;
    let r2 = r * r;
    // Taylor series to r^17 / r^16: error below 1e-19 on |r| <= pi/4.
    let mut s = 0.0;
    let mut c = 0.0;
    for n in (0..9).rev() {
        s = s * r2 + SIN_C[n];
        c = c * r2 + COS_C[n];
    }
    let s = s * r;
    let q = (k as i64).rem_euclid(4);
    match q {
        0 => (s, c),
        1 => (c, -s),
        2 => (-s, -c),
        _ => (-c, s),
    }
}

/// Cosine (see [`sin_cos`]).
pub fn cos(x: f64) -> f64 {
    sin_cos(x).1
}

/// Sine (see [`sin_cos`]).
pub fn sin(x: f64) -> f64 {
    sin_cos(x).0
}

/// Coefficients `1 / (2k + 1)` of the atanh series, k = 0..=10.
const ATANH_C: [f64; 11] = {
    let mut a = [0.0; 11];
    let mut k = 0;
    while k < 11 {
        a[k] = 1.0 / (2 * k + 1) as f64;
        k += 1;
    }
    a
};

/// Taylor coefficients `(-1)^n / (2n+1)!` of sine, n = 0..=8.
const SIN_C: [f64; 9] = taylor(1);

/// Taylor coefficients `(-1)^n / (2n)!` of cosine, n = 0..=8.
const COS_C: [f64; 9] = taylor(0);

/// `(-1)^n / (2n + offset)!` for n = 0..=8, evaluated at compile time.
const fn taylor(offset: u64) -> [f64; 9] {
    let mut a = [0.0; 9];
    let mut n = 0;
    while n < 9 {
        let m = 2 * n as u64 + offset;
        let mut f = 1.0;
        let mut k = 2;
        while k <= m {
            f *= k as f64;
            k += 1;
        }
        a[n] = if n % 2 == 0 { 1.0 / f } else { -1.0 / f };
        n += 1;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoshiro_reference_vector() {
        // Reference: xoshiro256++ with state {1, 2, 3, 4}.
        let mut r = Rng {
            s: [1, 2, 3, 4],
            spare: None,
        };
        let expected = [41943041u64, 58720359, 3588806011781223, 3591011842654386];
        for e in expected {
            assert_eq!(r.next_u64(), e);
        }
    }

    #[test]
    fn splitmix_reference_vector() {
        // Reference outputs of SplitMix64 seeded with 0.
        let mut sm = SplitMix64::new(0);
        assert_eq!(sm.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(sm.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn deterministic_streams() {
        let a: Vec<u64> = (0..5).map(|i| Rng::for_item(7, 3, i).next_u64()).collect();
        let b: Vec<u64> = (0..5).map(|i| Rng::for_item(7, 3, i).next_u64()).collect();
        assert_eq!(a, b);
        assert_ne!(a[0], a[1]);
        assert_ne!(
            Rng::for_item(7, 3, 0).next_u64(),
            Rng::for_item(7, 4, 0).next_u64()
        );
    }

    #[test]
    fn maths_match_libm_closely() {
        for i in 1..2000 {
            let x = i as f64 * 0.0137;
            assert!((ln(x) - x.ln()).abs() < 1e-14, "ln {x}");
            let (s, c) = sin_cos(x);
            assert!((s - x.sin()).abs() < 1e-14, "sin {x}");
            assert!((c - x.cos()).abs() < 1e-14, "cos {x}");
            let (s, c) = sin_cos(-x);
            assert!((s - (-x).sin()).abs() < 1e-14);
            assert!((c - (-x).cos()).abs() < 1e-14);
        }
        assert!((ln(1e-300) - 1e-300f64.ln()).abs() < 1e-12);
        assert!((ln(5e-320) - 5e-320f64.ln()).abs() < 1e-12);
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert!(ln(-1.0).is_nan());
    }

    #[test]
    fn distributions_are_sane() {
        let mut r = Rng::new(42);
        let n = 20_000;
        let mut sum = 0.0;
        let mut sum2 = 0.0;
        let mut exp_sum = 0.0;
        let mut geo_sum = 0u64;
        for _ in 0..n {
            let z = r.normal();
            sum += z;
            sum2 += z * z;
            exp_sum += r.exponential(3.0);
            geo_sum += r.geometric(2.0);
            let u = r.f64();
            assert!((0.0..1.0).contains(&u));
            assert!(r.below(7) < 7);
            let k = r.range_i(-2, 2);
            assert!((-2..=2).contains(&k));
        }
        let mean = sum / n as f64;
        let var = sum2 / n as f64 - mean * mean;
        assert!(mean.abs() < 0.05, "normal mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "normal var {var}");
        assert!((exp_sum / n as f64 - 3.0).abs() < 0.15);
        assert!((geo_sum as f64 / n as f64 - 2.0).abs() < 0.15);

        let mut counts = [0usize; 3];
        for _ in 0..n {
            counts[r.weighted(&[1.0, 0.0, 3.0])] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!((counts[2] as f64 / n as f64 - 0.75).abs() < 0.02);

        let t = Table::new(&[0.0, 2.0, 0.0, 2.0]);
        for _ in 0..1000 {
            let i = t.sample(&mut r);
            assert!(i == 1 || i == 3);
        }
        assert_eq!(r.pick::<u8>(&[]), None);
    }
}

//! Hot and cold spot classes at 99, 95 and 90 % confidence, with or without a
//! false discovery rate (FDR) correction, as ArcGIS's `Gi_Bin` field.
//!
//! A cell is in bin +3 / -3 when it is significant at 99 % confidence, +2 / -2
//! at 95 %, +1 / -1 at 90 %, and 0 otherwise; the sign is the sign of its
//! z-score (positive: hot, clustering of high values; negative: cold).
//!
//! * Without correction, a cell is significant at level `alpha` (0.01, 0.05,
//!   0.10) when its p-value is `p <= alpha`.
//! * With correction (Benjamini & Hochberg 1995, the procedure ArcGIS's Hot
//!   Spot Analysis applies when "Apply False Discovery Rate (FDR) Correction"
//!   is checked): rank the `m` p-values, `p_(1) <= ... <= p_(m)`; for each
//!   level find the largest rank `k` with `p_(k) <= (k / m) * alpha`; the
//!   cells with `p <= p_(k)` are significant at that level (none when no rank
//!   qualifies). This keeps the expected share of false hot spots among
//!   those reported below `alpha`, where testing every cell at `alpha`
//!   would report about `alpha * m` spurious cells on a random map.
//!
//! Cells whose p-value is NaN (not tested) are never significant and are not
//! counted in `m`; a z-score of exactly 0 is never significant.

/// Confidence levels as `(alpha, bin)`, weakest first.
pub const LEVELS: [(f64, i8); 3] = [(0.10, 1), (0.05, 2), (0.01, 3)];

/// The class of a cell on a hot spot map (ArcGIS `Gi_Bin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HotspotClass {
    /// Hot spot, 99 % confidence (bin +3).
    Hot99,
    /// Hot spot, 95 % confidence (bin +2).
    Hot95,
    /// Hot spot, 90 % confidence (bin +1).
    Hot90,
    /// Not significant (bin 0).
    NotSignificant,
    /// Cold spot, 90 % confidence (bin -1).
    Cold90,
    /// Cold spot, 95 % confidence (bin -2).
    Cold95,
    /// Cold spot, 99 % confidence (bin -3).
    Cold99,
}

impl HotspotClass {
    /// All classes, hottest first.
    pub const ALL: [HotspotClass; 7] = [
        HotspotClass::Hot99,
        HotspotClass::Hot95,
        HotspotClass::Hot90,
        HotspotClass::NotSignificant,
        HotspotClass::Cold90,
        HotspotClass::Cold95,
        HotspotClass::Cold99,
    ];

    /// Stable name for files and APIs: `hot-99`, ..., `not-significant`, ..., `cold-99`.
    pub fn as_str(&self) -> &'static str {
        match self {
            HotspotClass::Hot99 => "hot-99",
            HotspotClass::Hot95 => "hot-95",
            HotspotClass::Hot90 => "hot-90",
            HotspotClass::NotSignificant => "not-significant",
            HotspotClass::Cold90 => "cold-90",
            HotspotClass::Cold95 => "cold-95",
            HotspotClass::Cold99 => "cold-99",
        }
    }

    /// ArcGIS `Gi_Bin` value: +3 .. -3.
    pub fn bin(&self) -> i8 {
        match self {
            HotspotClass::Hot99 => 3,
            HotspotClass::Hot95 => 2,
            HotspotClass::Hot90 => 1,
            HotspotClass::NotSignificant => 0,
            HotspotClass::Cold90 => -1,
            HotspotClass::Cold95 => -2,
            HotspotClass::Cold99 => -3,
        }
    }

    /// The class of a `Gi_Bin` value, if it is one of -3..=3.
    pub fn from_bin(bin: i8) -> Option<HotspotClass> {
        HotspotClass::ALL.iter().copied().find(|c| c.bin() == bin)
    }

    /// Whether the cell is a hot or cold spot at 90 % confidence or more.
    pub fn is_significant(&self) -> bool {
        *self != HotspotClass::NotSignificant
    }
}

impl std::fmt::Display for HotspotClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for HotspotClass {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        HotspotClass::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown hot spot class {s:?}"))
    }
}

/// Classes of cells from their z-scores and p-values (e.g. [`super::getis_ord::GiStar`]),
/// with or without the Benjamini-Hochberg correction described in the module docs.
///
/// # Panics
/// When `z` and `p` differ in length (a programming error: they come from the
/// same analysis).
pub fn classify(z: &[f64], p: &[f64], fdr: bool) -> Vec<HotspotClass> {
    assert_eq!(z.len(), p.len(), "classify: one p-value per z-score");
    let critical: Vec<Option<f64>> = if fdr {
        let sorted = sorted_finite(p);
        LEVELS
            .iter()
            .map(|&(alpha, _)| critical_sorted(&sorted, alpha))
            .collect()
    } else {
        LEVELS.iter().map(|&(alpha, _)| Some(alpha)).collect()
    };
    z.iter()
        .zip(p)
        .map(|(&z, &p)| {
            let mut bin = 0i8;
            for (&(_, level), crit) in LEVELS.iter().zip(&critical) {
                if crit.is_some_and(|c| p <= c) && z != 0.0 && !z.is_nan() {
                    bin = if z > 0.0 { level } else { -level };
                }
            }
            HotspotClass::from_bin(bin).unwrap_or(HotspotClass::NotSignificant)
        })
        .collect()
}

/// Benjamini-Hochberg critical p-value at level `alpha`: the largest sorted
/// `p_(k)` with `p_(k) <= (k / m) * alpha`, or `None` when no cell is significant.
/// NaN p-values are ignored (not counted in `m`).
pub fn bh_critical_p(p: &[f64], alpha: f64) -> Option<f64> {
    critical_sorted(&sorted_finite(p), alpha)
}

/// Whether each p-value is significant at false discovery rate `alpha` (Benjamini-Hochberg).
pub fn benjamini_hochberg(p: &[f64], alpha: f64) -> Vec<bool> {
    let crit = bh_critical_p(p, alpha);
    p.iter().map(|&v| crit.is_some_and(|c| v <= c)).collect()
}

fn sorted_finite(p: &[f64]) -> Vec<f64> {
    let mut s: Vec<f64> = p.iter().copied().filter(|v| v.is_finite()).collect();
    s.sort_unstable_by(f64::total_cmp);
    s
}

fn critical_sorted(sorted: &[f64], alpha: f64) -> Option<f64> {
    let m = sorted.len() as f64;
    // (k / m) * alpha, in this order, as the reference script computes it.
    sorted
        .iter()
        .enumerate()
        .rev()
        .find(|&(k, &v)| v <= ((k + 1) as f64 / m) * alpha)
        .map(|(_, &v)| v)
}

#[cfg(test)]
mod tests {
    use super::super::weights::test_support::*;
    use super::*;

    #[test]
    fn matches_the_reference_script() {
        let g = golden("fdr_synthetic.json");
        let z = f64s(&g["z"]);
        let p = f64s(&g["p"]);
        let bins = |c: Vec<HotspotClass>| c.iter().map(|c| c.bin() as i64).collect::<Vec<_>>();
        assert_eq!(bins(classify(&z, &p, false)), i64s(&g["class"]));
        assert_eq!(bins(classify(&z, &p, true)), i64s(&g["class_fdr"]));
        for (alpha, key) in [(0.10, "0.1"), (0.05, "0.05"), (0.01, "0.01")] {
            assert_eq!(
                bh_critical_p(&p, alpha),
                g["critical"][key].as_f64(),
                "alpha {alpha}"
            );
        }
    }

    #[test]
    fn names_and_bins_round_trip() {
        for c in HotspotClass::ALL {
            assert_eq!(c.as_str().parse::<HotspotClass>(), Ok(c));
            assert_eq!(HotspotClass::from_bin(c.bin()), Some(c));
        }
        assert_eq!(HotspotClass::from_bin(4), None);
        assert_eq!(HotspotClass::Cold95.to_string(), "cold-95");
        assert!("hot".parse::<HotspotClass>().is_err());
    }

    #[test]
    fn thresholds_are_inclusive_and_signed() {
        let z = [3.0, -3.0, 2.0, -2.0, 1.7, 1.0, 0.0, f64::NAN];
        let p = [0.01, 0.01, 0.05, 0.05, 0.1, 0.3, 0.0, 0.0];
        let c: Vec<&str> = classify(&z, &p, false).iter().map(|c| c.as_str()).collect();
        assert_eq!(
            c,
            [
                "hot-99",
                "cold-99",
                "hot-95",
                "cold-95",
                "hot-90",
                "not-significant",
                "not-significant",
                "not-significant"
            ]
        );
    }

    #[test]
    fn fdr_is_step_up_and_never_adds_cells() {
        // Ranks 1..4 of 4 at alpha 0.05: lines 0.0125, 0.025, 0.0375, 0.05.
        // p_(3) = 0.03 passes its line although p_(2) = 0.026 does not: step-up
        // keeps both.
        let p = [0.001, 0.026, 0.03, 0.9];
        assert_eq!(benjamini_hochberg(&p, 0.05), [true, true, true, false]);
        assert_eq!(bh_critical_p(&p, 0.05), Some(0.03));
        assert_eq!(bh_critical_p(&[0.5, 0.9], 0.05), None);
        assert_eq!(bh_critical_p(&[], 0.05), None);
        // NaN is not a test: m = 2 here.
        assert_eq!(
            benjamini_hochberg(&[0.02, f64::NAN, 0.04], 0.05),
            [true, false, true]
        );

        let mut rng = crate::rng::Rng::new(11);
        let p: Vec<f64> = (0..5000)
            .map(|i| if i < 300 { rng.f64() * 1e-3 } else { rng.f64() })
            .collect();
        let z: Vec<f64> = (0..5000)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let raw = classify(&z, &p, false);
        let fdr = classify(&z, &p, true);
        for (a, b) in raw.iter().zip(&fdr) {
            assert!(b.bin().abs() <= a.bin().abs());
            assert!(b.bin() == 0 || b.bin().signum() == a.bin().signum());
        }
        assert!(
            fdr.iter().filter(|c| c.is_significant()).count()
                < raw.iter().filter(|c| c.is_significant()).count()
        );
    }
}

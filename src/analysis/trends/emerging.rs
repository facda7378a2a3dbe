//! Emerging hot spot categories, by the definitions ArcGIS Pro publishes in
//! "How Emerging Hot Spot Analysis works" (docs/analysis.md quotes them and
//! says how each is read here).
//!
//! A cell's input is its series of Gi* bins (hot, cold or neither per step,
//! at 90 % confidence or more) and the Mann-Kendall test of its Gi* z-scores.
//! The rules, for hot spots (cold spots mirror them: cold bins, and a
//! decreasing z trend is an intensifying cold spot):
//!
//! 1. the final step is hot:
//!    - no hot step before it: **new**;
//!    - one uninterrupted run of at least two hot steps at the end, no hot
//!      step before the run, under 90 % of the steps hot: **consecutive**;
//!    - at least 90 % of the steps hot: **intensifying** when the z trend is
//!      significantly increasing, **diminishing** when significantly
//!      decreasing, else **persistent**;
//!    - under 90 % hot, with a cold step before: **oscillating**;
//!    - under 90 % hot, no cold step: **sporadic**;
//! 2. the final step is not hot but at least 90 % of the steps are: **historical**;
//! 3. otherwise the cold rules; otherwise **no pattern**.
//!
//! "At least 90 %" is `10 h >= 9 n` in integers (`h` hot steps of `n`), so
//! exactly 90 % counts.

use super::mann_kendall::MannKendall;

/// The emerging hot spot category of a cell (ArcGIS's `PATTERN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pattern {
    /// None of the patterns below.
    NoPattern,
    /// Hot in the final step only.
    NewHot,
    /// One run of hot steps at the end, never hot before it, under 90 %.
    ConsecutiveHot,
    /// Hot in at least 90 % of the steps and the final one, clustering rising.
    IntensifyingHot,
    /// Hot in at least 90 % of the steps and the final one, no trend.
    PersistentHot,
    /// Hot in at least 90 % of the steps and the final one, clustering falling.
    DiminishingHot,
    /// Hot in the final step, on and off before, under 90 %, never cold.
    SporadicHot,
    /// Hot in the final step, cold in an earlier one, under 90 % hot.
    OscillatingHot,
    /// Not hot in the final step, hot in at least 90 % of the steps.
    HistoricalHot,
    /// The cold mirror of [`Pattern::NewHot`].
    NewCold,
    /// The cold mirror of [`Pattern::ConsecutiveHot`].
    ConsecutiveCold,
    /// Cold in at least 90 % of the steps and the final one, getting colder.
    IntensifyingCold,
    /// The cold mirror of [`Pattern::PersistentHot`].
    PersistentCold,
    /// Cold in at least 90 % of the steps and the final one, less cold over time.
    DiminishingCold,
    /// The cold mirror of [`Pattern::SporadicHot`].
    SporadicCold,
    /// Cold in the final step, hot in an earlier one, under 90 % cold.
    OscillatingCold,
    /// The cold mirror of [`Pattern::HistoricalHot`].
    HistoricalCold,
}

impl Pattern {
    /// Every category, hot ones first.
    pub const ALL: [Pattern; 17] = [
        Pattern::NewHot,
        Pattern::ConsecutiveHot,
        Pattern::IntensifyingHot,
        Pattern::PersistentHot,
        Pattern::DiminishingHot,
        Pattern::SporadicHot,
        Pattern::OscillatingHot,
        Pattern::HistoricalHot,
        Pattern::NewCold,
        Pattern::ConsecutiveCold,
        Pattern::IntensifyingCold,
        Pattern::PersistentCold,
        Pattern::DiminishingCold,
        Pattern::SporadicCold,
        Pattern::OscillatingCold,
        Pattern::HistoricalCold,
        Pattern::NoPattern,
    ];

    /// Stable name for files and APIs (`new-hot`, ..., `no-pattern`).
    pub fn as_str(self) -> &'static str {
        match self {
            Pattern::NoPattern => "no-pattern",
            Pattern::NewHot => "new-hot",
            Pattern::ConsecutiveHot => "consecutive-hot",
            Pattern::IntensifyingHot => "intensifying-hot",
            Pattern::PersistentHot => "persistent-hot",
            Pattern::DiminishingHot => "diminishing-hot",
            Pattern::SporadicHot => "sporadic-hot",
            Pattern::OscillatingHot => "oscillating-hot",
            Pattern::HistoricalHot => "historical-hot",
            Pattern::NewCold => "new-cold",
            Pattern::ConsecutiveCold => "consecutive-cold",
            Pattern::IntensifyingCold => "intensifying-cold",
            Pattern::PersistentCold => "persistent-cold",
            Pattern::DiminishingCold => "diminishing-cold",
            Pattern::SporadicCold => "sporadic-cold",
            Pattern::OscillatingCold => "oscillating-cold",
            Pattern::HistoricalCold => "historical-cold",
        }
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Hot or cold: the side a set of rules is applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Hot,
    Cold,
}

impl Side {
    fn sign(self) -> i8 {
        match self {
            Side::Hot => 1,
            Side::Cold => -1,
        }
    }

    /// The category names of this side, in the order new, consecutive,
    /// intensifying, persistent, diminishing, sporadic, oscillating, historical.
    fn names(self) -> [Pattern; 8] {
        match self {
            Side::Hot => [
                Pattern::NewHot,
                Pattern::ConsecutiveHot,
                Pattern::IntensifyingHot,
                Pattern::PersistentHot,
                Pattern::DiminishingHot,
                Pattern::SporadicHot,
                Pattern::OscillatingHot,
                Pattern::HistoricalHot,
            ],
            Side::Cold => [
                Pattern::NewCold,
                Pattern::ConsecutiveCold,
                Pattern::IntensifyingCold,
                Pattern::PersistentCold,
                Pattern::DiminishingCold,
                Pattern::SporadicCold,
                Pattern::OscillatingCold,
                Pattern::HistoricalCold,
            ],
        }
    }
}

/// The category of a cell from the sign of its significant Gi* bins per step
/// (`1` hot, `-1` cold, `0` neither; in step order) and the Mann-Kendall
/// test of its Gi* z-scores, a trend counting when `p <= trend_alpha`.
pub fn classify(bins: &[i8], z_trend: &MannKendall, trend_alpha: f64) -> Pattern {
    for side in [Side::Hot, Side::Cold] {
        if let Some(p) = classify_side(bins, z_trend, trend_alpha, side) {
            return p;
        }
    }
    Pattern::NoPattern
}

fn classify_side(bins: &[i8], z_trend: &MannKendall, alpha: f64, side: Side) -> Option<Pattern> {
    let [new, consecutive, intensifying, persistent, diminishing, sporadic, oscillating, historical] =
        side.names();
    let s = side.sign();
    let n = bins.len();
    let on = bins.iter().filter(|&&b| b == s).count();
    let most = n > 0 && 10 * on >= 9 * n;
    if bins.last() != Some(&s) {
        return most.then_some(historical);
    }
    let run = bins.iter().rev().take_while(|&&b| b == s).count();
    let before = on - run;
    if on == 1 {
        return Some(new);
    }
    if before == 0 && !most {
        return Some(consecutive);
    }
    if most {
        // Intensifying: clustering of high values growing (hot: z rising;
        // cold: z falling, ever more negative).
        return Some(match z_trend.direction(alpha) * s {
            1 => intensifying,
            -1 => diminishing,
            _ => persistent,
        });
    }
    if bins[..n - run].contains(&-s) {
        return Some(oscillating);
    }
    Some(sporadic)
}

#[cfg(test)]
mod tests;

//! One constructed series per category that must land in it, and its edge
//! that must not.

use super::super::mann_kendall::MannKendall;
use super::*;
use Pattern::*;

/// `H` hot, `C` cold, `.` neither, in step order.
fn bins(s: &str) -> Vec<i8> {
    s.chars()
        .map(|c| match c {
            'H' => 1,
            'C' => -1,
            _ => 0,
        })
        .collect()
}

const UP: MannKendall = MannKendall {
    s: 30,
    var_s: 125.0,
    z: 2.6,
    p: 0.009,
};
const DOWN: MannKendall = MannKendall {
    s: -30,
    var_s: 125.0,
    z: -2.6,
    p: 0.009,
};
const FLAT: MannKendall = MannKendall {
    s: 3,
    var_s: 125.0,
    z: 0.18,
    p: 0.86,
};
/// Increasing at exactly the level: counts as a trend (p <= alpha).
const AT_ALPHA: MannKendall = MannKendall {
    s: 20,
    var_s: 125.0,
    z: 1.96,
    p: 0.05,
};
const ALPHA: f64 = 0.05;

fn of(s: &str, t: MannKendall) -> Pattern {
    classify(&bins(s), &t, ALPHA)
}

/// Each hot case and its cold mirror.
fn both(s: &str, t: MannKendall, hot: Pattern, cold: Pattern) {
    assert_eq!(of(s, t), hot, "{s}");
    let mirrored: String = s
        .chars()
        .map(|c| match c {
            'H' => 'C',
            'C' => 'H',
            c => c,
        })
        .collect();
    let flipped = MannKendall {
        s: -t.s,
        z: -t.z,
        ..t
    };
    assert_eq!(of(&mirrored, flipped), cold, "{mirrored}");
}

#[test]
fn new_is_hot_in_the_final_step_only() {
    both(".........H", FLAT, NewHot, NewCold);
    // An earlier cold step does not stop it being new (it was never hot).
    both("..C......H", FLAT, NewHot, NewCold);
    // Must not: hot once before.
    assert_ne!(of("H........H", FLAT), NewHot);
    // Must not: the final step not hot.
    assert_eq!(of("........H.", FLAT), NoPattern);
}

#[test]
fn consecutive_is_one_final_run_never_hot_before() {
    both("........HH", FLAT, ConsecutiveHot, ConsecutiveCold);
    both("..C..HHHHH", UP, ConsecutiveHot, ConsecutiveCold);
    // Edge: a run of 8 of 10 (80 %) is consecutive; of 9 (exactly 90 %) is not.
    assert_eq!(of("..HHHHHHHH", FLAT), ConsecutiveHot);
    assert_eq!(of(".HHHHHHHHH", FLAT), PersistentHot);
    // Must not: a gap in the run.
    assert_eq!(of("......H.HH", FLAT), SporadicHot);
}

#[test]
fn intensifying_persistent_diminishing_need_ninety_percent_and_the_final_step() {
    both("HHHHHHHHHH", UP, IntensifyingHot, IntensifyingCold);
    both("HHHHHHHHHH", FLAT, PersistentHot, PersistentCold);
    both("HHHHHHHHHH", DOWN, DiminishingHot, DiminishingCold);
    // Exactly 90 % (9 of 10) with a gap: still in the group.
    both("HHH.HHHHHH", UP, IntensifyingHot, IntensifyingCold);
    both("HHHH.HHHHH", FLAT, PersistentHot, PersistentCold);
    both("H.HHHHHHHH", DOWN, DiminishingHot, DiminishingCold);
    // A trend at exactly the level counts.
    assert_eq!(of("HHHHHHHHHH", AT_ALPHA), IntensifyingHot);
    // Just under 90 % (17 of 19): not in the group.
    assert_eq!(of("HH.HHHHHHH.HHHHHHHH", UP), SporadicHot);
    // 18 of 20 is exactly 90 %.
    assert_eq!(of("HH.HHHHHHH.HHHHHHHHH", UP), IntensifyingHot);
    // A cold step among them changes nothing at 90 %.
    assert_eq!(of("HHHHCHHHHHHHHHHHHHHHH", FLAT), PersistentHot);
}

#[test]
fn sporadic_is_on_and_off_never_cold() {
    both("H..H...H.H", FLAT, SporadicHot, SporadicCold);
    both("HH.H.HH..H", UP, SporadicHot, SporadicCold);
    // Must not: one cold step makes it oscillating.
    assert_eq!(of("H..H.C.H.H", FLAT), OscillatingHot);
}

#[test]
fn oscillating_is_hot_now_and_cold_before() {
    both("C..H....HH", FLAT, OscillatingHot, OscillatingCold);
    both("HC.......H", DOWN, OscillatingHot, OscillatingCold);
    // Must not: the final step not hot.
    assert_eq!(of("C..H....H.", FLAT), NoPattern);
}

#[test]
fn historical_is_ninety_percent_without_the_final_step() {
    both("HHHHHHHHH.", FLAT, HistoricalHot, HistoricalCold);
    both("HHHHHHHHHC", UP, HistoricalHot, NewHot);
    // Edge: 8 of 10 without the final step is no pattern.
    assert_eq!(of("HHHHHHHH..", FLAT), NoPattern);
    // A gap in the last step of an otherwise hot series of 20: 19 of 20.
    assert_eq!(of("HHHHHHHHHHHHHHHHHHH.", DOWN), HistoricalHot);
}

#[test]
fn no_pattern_without_significance_or_steps() {
    assert_eq!(of("..........", FLAT), NoPattern);
    assert_eq!(of("", FLAT), NoPattern);
    assert_eq!(of("H.H.H.....", UP), NoPattern);
    // A single step hot: new (never hot before).
    assert_eq!(of("H", FLAT), NewHot);
}

#[test]
fn every_category_is_reached_and_names_are_distinct() {
    let cases = [
        ("..........", FLAT),
        (".........H", FLAT),
        ("........HH", FLAT),
        ("HHHHHHHHHH", UP),
        ("HHHHHHHHHH", FLAT),
        ("HHHHHHHHHH", DOWN),
        ("H..H...H.H", FLAT),
        ("C..H....HH", FLAT),
        ("HHHHHHHHH.", FLAT),
        (".........C", FLAT),
        ("........CC", FLAT),
        ("CCCCCCCCCC", DOWN),
        ("CCCCCCCCCC", FLAT),
        ("CCCCCCCCCC", UP),
        ("C..C...C.C", FLAT),
        ("H..C....CC", FLAT),
        ("CCCCCCCCC.", FLAT),
    ];
    let got: std::collections::BTreeSet<Pattern> = cases.iter().map(|(s, t)| of(s, *t)).collect();
    assert_eq!(got.len(), Pattern::ALL.len());
    let names: std::collections::BTreeSet<&str> = Pattern::ALL.iter().map(|p| p.as_str()).collect();
    assert_eq!(names.len(), Pattern::ALL.len());
}

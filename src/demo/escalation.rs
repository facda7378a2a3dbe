//! The seeded escalation: a dry-season campaign by one armed group around one
//! village that saw little violence before, ramping up over the last days of
//! the scenario. It is what an early-warning meeting on the demo should find:
//! a new hot spot where [`ESCALATION`] says, named by the early-warning brief
//! as of the end of the period (`tests/cli_trends_demo.rs` checks both).
//!
//! One incident in [`Escalation::every`] (by index) belongs to the campaign
//! and is drawn from a stream of its own; every other incident is exactly the
//! one the four ordinary processes give, so the rest of the stream does not
//! move. The campaign's share, and so its density, is the same whatever the
//! size of the scenario; its records go through the same attribute code
//! (verification, sources, precision, consent) as every other incident. The
//! village is not a feature of the sites layer (that layer is unchanged).

use super::world::{self, PERIOD_END};
use crate::rng::Rng;

/// Where, when and by whom the demo's escalation happens, and how many of
/// the incidents are its: public so tests locate it from the generator
/// instead of repeating numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Escalation {
    /// The (invented) village the campaign is around.
    pub village: &'static str,
    /// The village's position, `[lon, lat]`.
    pub centre: [f64; 2],
    /// Standard deviation in km of the incidents' true positions around
    /// the village (recorded positions are further off for coarse location
    /// precisions, as for every incident).
    pub spread_km: f64,
    /// The first second of the campaign (Unix seconds).
    pub start: i64,
    /// Its last second (inclusive): the end of the scenario.
    pub end: i64,
    /// The armed group behind it (one of the demo's fictional groups).
    pub group: &'static str,
    /// Incident `i` is the campaign's when `i % every == every - 1`.
    pub every: usize,
}

/// Length of the campaign in days: inside the last fortnightly step of an
/// analysis as of the end of the period, so the previous steps stay quiet.
pub const ESCALATION_DAYS: i64 = 13;

/// The demo's escalation: Coalition Charlie's dry-season push north-west
/// around Zoumbala, between Dekoa and Bambari, in the last 13 days of 2025,
/// its activity rising day by day (linearly).
pub const ESCALATION: Escalation = Escalation {
    village: "Zoumbala",
    centre: [19.62, 6.52],
    spread_km: 2.0,
    start: PERIOD_END + 1 - ESCALATION_DAYS * 86_400,
    end: PERIOD_END,
    group: "Coalition Charlie (fictional)",
    every: 200,
};

impl Escalation {
    /// Whether incident `index` (0-based) is one of the campaign's.
    pub fn includes(&self, index: usize) -> bool {
        self.every > 0 && index % self.every == self.every - 1
    }

    /// How many of the first `incidents` incidents are the campaign's.
    pub fn count(&self, incidents: usize) -> usize {
        incidents.checked_div(self.every).unwrap_or(0)
    }

    /// The true position and time of one campaign incident: around the
    /// village, with a density rising linearly from the start to the end.
    pub(crate) fn draw(&self, rng: &mut Rng) -> ([f64; 2], i64) {
        let pos = world::jitter(rng, self.centre, self.spread_km);
        // Inverse of the CDF x^2 of a linear ramp, at minute precision.
        let minutes = (self.end - self.start + 1) / 60;
        let x = rng.f64().sqrt();
        let t = self.start + ((x * minutes as f64) as i64).min(minutes - 1) * 60;
        (pos, t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::world::{in_aor, PERIOD_START};

    #[test]
    fn inside_the_area_and_the_period() {
        let e = ESCALATION;
        assert!(in_aor(e.centre));
        assert!(e.start > PERIOD_START && e.end == PERIOD_END);
        assert_eq!(world::fmt_time(e.start), "2025-12-19T00:00:00Z");
        let mut rng = Rng::new(3);
        let mut late = 0;
        for _ in 0..2000 {
            let (p, t) = e.draw(&mut rng);
            assert!((e.start..=e.end).contains(&t));
            assert!(world::dist_km(p, e.centre) < 6.0 * e.spread_km);
            late += usize::from(t >= e.start + (e.end - e.start) / 2);
        }
        // A rising ramp: three quarters in the second half.
        assert!((1400..1600).contains(&late), "{late}");
    }

    #[test]
    fn one_in_every() {
        let e = ESCALATION;
        let n = (0..5000).filter(|&i| e.includes(i)).count();
        assert_eq!(n, e.count(5000));
        assert_eq!(n, 25);
        assert!(!e.includes(0));
    }
}

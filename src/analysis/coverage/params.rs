//! The parameters of the presence surface and the recency weight they define.

use crate::analysis::AnalysisError;
use crate::model::schema::MODES;

/// Parameters of the presence surface.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageParams {
    /// Start of the window, Unix seconds UTC.
    pub from: i64,
    /// End of the window and the "as of" time, Unix seconds UTC.
    pub to: i64,
    /// Half-width of the corridor seen either side of a track, metres, per
    /// mode in [`MODES`] order (foot, vehicle, air, boat).
    pub corridor_m: [f64; 4],
    /// Recency half-life, days: something `a` days old weighs `0.5^(a / half_life)`.
    pub half_life_days: f64,
    /// A report informs on the cells within this distance, metres.
    pub info_radius_m: f64,
}

impl Default for CoverageParams {
    /// Foot 2 km, vehicle 5 km, air 10 km, boat (riverine) 3 km; half-life 30
    /// days; reports inform within 5 km. `from` and `to` are 0: set them.
    fn default() -> Self {
        CoverageParams {
            from: 0,
            to: 0,
            corridor_m: [2_000.0, 5_000.0, 10_000.0, 3_000.0],
            half_life_days: 30.0,
            info_radius_m: 5_000.0,
        }
    }
}

impl CoverageParams {
    /// Checks every parameter, naming the first one out of its domain.
    pub fn validate(&self) -> Result<(), AnalysisError> {
        if self.to < self.from {
            return Err(AnalysisError::param(
                "to",
                "the time window ends before it starts",
            ));
        }
        for (m, w) in MODES.iter().zip(self.corridor_m) {
            if !(w.is_finite() && w > 0.0) {
                return Err(AnalysisError::param(
                    "corridor",
                    format!("{m} half-width {w} must be a positive number of metres"),
                ));
            }
        }
        if !(self.half_life_days.is_finite() && self.half_life_days > 0.0) {
            return Err(AnalysisError::param(
                "presence-half-life-days",
                format!("{} must be a positive number of days", self.half_life_days),
            ));
        }
        if !(self.info_radius_m.is_finite() && self.info_radius_m >= 0.0) {
            return Err(AnalysisError::param(
                "info-radius",
                format!("{} must be a number of metres >= 0", self.info_radius_m),
            ));
        }
        Ok(())
    }

    fn half_life_s(&self) -> f64 {
        self.half_life_days * 86_400.0
    }

    /// Recency weight of something `age_s` seconds old.
    pub(super) fn recency(&self, age_s: f64) -> f64 {
        (-age_s.max(0.0) / self.half_life_s()).exp2()
    }
}

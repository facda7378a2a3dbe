//! What the mission brings to the surface: patrol tracks and bases.

/// One patrol track.
#[derive(Debug, Clone, PartialEq)]
pub struct Patrol {
    /// Feature id.
    pub id: String,
    /// Index of the mode in [`MODES`](crate::model::schema::MODES).
    pub mode: usize,
    /// Patrol kind (`routine`, `integrated`, ...).
    pub kind: String,
    /// The lines of the track, lon/lat degrees.
    pub parts: Vec<Vec<[f64; 2]>>,
    /// Unix seconds of each vertex, same shape as `parts`, non-decreasing
    /// along each part.
    pub times: Vec<Vec<i64>>,
}

/// One base.
#[derive(Debug, Clone, PartialEq)]
pub struct Base {
    /// Feature id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Base type (`cob`, `tob`, ...).
    pub base_type: String,
    /// Point or (multi)polygon, lon/lat degrees.
    pub geometry: geo_types::Geometry<f64>,
    /// Reach of its presence, metres.
    pub reach_m: f64,
    /// Opening, Unix seconds.
    pub start: i64,
    /// Closing, Unix seconds; `None` while open.
    pub end: Option<i64>,
}

impl Base {
    /// Whether the base is open at `t` (opening and closing days included).
    pub fn is_active(&self, t: i64) -> bool {
        self.start <= t && self.end.is_none_or(|e| t <= e)
    }
}

/// Patrols and bases, as read by [`load_presence`](super::load_presence).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Presence {
    /// Patrol tracks.
    pub patrols: Vec<Patrol>,
    /// Bases.
    pub bases: Vec<Base>,
}

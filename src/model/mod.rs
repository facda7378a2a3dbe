//! The domain: the four input layers, their schema, and the validation that turns
//! a GeoJSON feature into a normalised [`Feature`].
//!
//! Everything the rest of the crate knows about fields, allowed values and
//! defaults comes from [`schema`], so validation, storage columns and the
//! documentation cannot drift apart.

pub mod classification;
pub mod feature;
pub mod geometry;
pub mod schema;
pub mod time;

pub use classification::{Level, Owner};
pub use feature::{Feature, RawFeature};
pub use geometry::GeomKind;
pub use schema::{FieldKind, FieldSpec};
pub use time::TimeSpan;

use std::fmt;
use std::str::FromStr;

/// Errors of the model module that are not per-feature validation problems.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A layer name that is not one of the four layers.
    #[error("unknown layer {0:?}; expected one of incidents, sightings, patrols, bases")]
    UnknownLayer(String),
}

/// One of the input layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    /// Incidents against civilians (points).
    Incidents,
    /// Armed-group sightings (points).
    Sightings,
    /// Patrol tracks (lines).
    Patrols,
    /// Bases and other fixed presence (points or polygons).
    Bases,
}

impl Layer {
    /// All layers in their canonical order.
    pub const ALL: [Layer; 4] = [
        Layer::Incidents,
        Layer::Sightings,
        Layer::Patrols,
        Layer::Bases,
    ];

    /// The layer's name, also its table name in the store.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Incidents => "incidents",
            Layer::Sightings => "sightings",
            Layer::Patrols => "patrols",
            Layer::Bases => "bases",
        }
    }

    /// Geometry types the layer accepts.
    pub fn geometry_kinds(self) -> &'static [GeomKind] {
        match self {
            Layer::Incidents | Layer::Sightings => &[GeomKind::Point],
            Layer::Patrols => &[GeomKind::LineString, GeomKind::MultiLineString],
            Layer::Bases => &[GeomKind::Point, GeomKind::Polygon, GeomKind::MultiPolygon],
        }
    }

    /// The layer-specific fields (the common ones are in [`schema::COMMON`]).
    pub fn fields(self) -> &'static [FieldSpec] {
        match self {
            Layer::Incidents => schema::INCIDENT,
            Layer::Sightings => schema::SIGHTING,
            Layer::Patrols => schema::PATROL,
            Layer::Bases => schema::BASE,
        }
    }

    /// Whether features of this layer must carry an end time.
    pub fn requires_end(self) -> bool {
        matches!(self, Layer::Patrols)
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Layer {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "incidents" | "incident" => Ok(Layer::Incidents),
            "sightings" | "sighting" => Ok(Layer::Sightings),
            "patrols" | "patrol" => Ok(Layer::Patrols),
            "bases" | "base" => Ok(Layer::Bases),
            other => Err(ModelError::UnknownLayer(other.to_string())),
        }
    }
}

/// One validation problem: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The field (a property name, `id`, `geometry` or `type`).
    pub field: String,
    /// Why the value was refused.
    pub reason: String,
}

impl Problem {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Problem {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field `{}`: {}", self.field, self.reason)
    }
}

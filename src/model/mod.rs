//! The domain: the five input layers, their schema, and the validation that turns
//! a GeoJSON feature into a normalised [`Feature`].
//!
//! Everything the rest of the crate knows about fields, allowed values and
//! defaults comes from [`schema`], so validation, storage columns and the
//! documentation cannot drift apart.

pub mod bounds;
pub mod classification;
pub mod crs;
pub mod feature;
pub mod geometry;
pub mod json;
pub mod parts;
pub mod schema;
pub mod time;

pub use bounds::Bounds;
pub use classification::{Level, Owner};
pub use crs::Crs;
pub use feature::{Feature, RawFeature};
pub use geometry::GeomKind;
pub use parts::Parts;
pub use schema::{FieldKind, FieldSpec};
pub use time::TimeSpan;

use std::fmt;
use std::str::FromStr;

/// Errors of the model module that are not per-feature validation problems.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A layer name that is not one of the five layers.
    #[error("unknown layer {0:?}; expected one of incidents, sightings, patrols, bases, sites")]
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
    /// Civilian sites: IDP sites, villages, towns, markets, schools ... (points
    /// or polygons); the vulnerability layer.
    Sites,
}

impl Layer {
    /// All layers in their canonical order.
    pub const ALL: [Layer; 5] = [
        Layer::Incidents,
        Layer::Sightings,
        Layer::Patrols,
        Layer::Bases,
        Layer::Sites,
    ];

    /// The layer's name, also its table name in the store.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Incidents => "incidents",
            Layer::Sightings => "sightings",
            Layer::Patrols => "patrols",
            Layer::Bases => "bases",
            Layer::Sites => "sites",
        }
    }

    /// Geometry types the layer accepts.
    pub fn geometry_kinds(self) -> &'static [GeomKind] {
        match self {
            Layer::Incidents | Layer::Sightings => &[GeomKind::Point],
            Layer::Patrols => &[GeomKind::LineString, GeomKind::MultiLineString],
            Layer::Bases | Layer::Sites => {
                &[GeomKind::Point, GeomKind::Polygon, GeomKind::MultiPolygon]
            }
        }
    }

    /// The layer-specific fields (the common ones are in [`schema::COMMON`]).
    pub fn fields(self) -> &'static [FieldSpec] {
        match self {
            Layer::Incidents => schema::INCIDENT,
            Layer::Sightings => schema::SIGHTING,
            Layer::Patrols => schema::PATROL,
            Layer::Bases => schema::BASE,
            Layer::Sites => schema::SITE,
        }
    }

    /// Whether features of this layer must carry an end time.
    pub fn requires_end(self) -> bool {
        matches!(self, Layer::Patrols)
    }

    /// Whether a feature without `time_end` lasts indefinitely ("still open",
    /// "still there") rather than being an instant: bases and sites.
    pub fn open_ended(self) -> bool {
        matches!(self, Layer::Bases | Layer::Sites)
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
            "sites" | "site" => Ok(Layer::Sites),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_names_round_trip() {
        for layer in Layer::ALL {
            assert_eq!(layer.name().parse::<Layer>().unwrap(), layer);
            assert_eq!(layer.to_string(), layer.name());
            assert!(!layer.fields().is_empty());
            assert!(!layer.geometry_kinds().is_empty());
        }
        assert_eq!("Site".parse::<Layer>().unwrap(), Layer::Sites);
        let e = "villages".parse::<Layer>().unwrap_err().to_string();
        assert!(e.contains("sites"), "{e}");
        assert!(Layer::Sites.open_ended() && Layer::Bases.open_ended());
        assert!(!Layer::Incidents.open_ended() && !Layer::Patrols.open_ended());
    }
}

//! Map tiles of gated content: Web Mercator XYZ tiles as PNG (256 px and
//! @2x 512 px) and as Mapbox Vector Tiles.
//!
//! They draw what [`crate::access::Gate::tile`] returned for a role and
//! decide nothing about what the role sees.
//!
//! - `mercator.rs`: tile numbers, bounds, the frame lon/lat -> pixels;
//! - `palette.rs`: colour-blind-safe colours (Okabe-Ito, viridis);
//! - `style.rs`: the symbol of each layer's features and classes;
//! - `grade.rs`: an event's source grade as a ring at high zoom, its line
//!   style by band (only from the grade fields the role's view shows);
//! - `raster.rs`: anti-aliased drawing with tiny-skia;
//! - `encode.rs`: PNG encoding (fast deflate, demultiplied in place);
//! - `stamp.rs`: point symbols stamped from sprites drawn once per style;
//! - `heat.rs`: the kernel density surface (`analysis::kde`);
//! - `aggregate.rs`: points counted per screen cell at low zoom and on
//!   crowded tiles;
//! - `stream.rs`: a store layer's content gathered from the gate feature
//!   by feature, kept only as those counts where the tile draws counts;
//! - `mvt.rs`: the vector tile encoder (protobuf written by hand);
//! - `overlay.rs`: the cells of a gated analysis product (as its
//!   `/analysis/*` GeoJSON gave them to the role), `classes.rs` their
//!   classes and colours, `hatch.rs` blind-spot hatching anchored in the
//!   world's pixel grid;
//! - `cut.rs`: an overlay tile cut from its gated product, and the joint
//!   map of the role's parts, for the server and the command line alike;
//! - `mbtiles.rs`: MBTiles 1.3 packages of tiles for offline use.
//!
//! **No seams**: every renderer is given the features of the tile's bounds
//! widened by [`BUFFER_PX`] pixels (and by a base's reach, a protection
//! cell, a kernel's support), draws them all and lets the pixmap clip;
//! aggregates at low zoom use screen cells of the whole world, not of the
//! tile, so neighbouring tiles agree on every count.

mod aggregate;
pub mod classes;
pub mod cut;
mod encode;
pub mod grade;
mod hatch;
mod heat;
pub mod mbtiles;
pub mod mercator;
pub mod mvt;
pub mod overlay;
pub mod palette;
mod raster;
mod stamp;
pub mod stream;
mod style;

pub use heat::{HeatParams, HEAT_BANDWIDTH_M};
pub use mercator::{Frame, TileId, MAX_ZOOM};
pub use overlay::{Overlay, OverlayCell};
pub use raster::{png, png_of, Canvas, Scale};
pub use stream::{Counted, LayerContent};

use crate::model::Layer;
use std::fmt;
use std::str::FromStr;

/// Pixels around a tile whose features are drawn too (the largest symbol
/// reaches this far).
pub const BUFFER_PX: f64 = 32.0;

/// Below this zoom, point features are counted per screen cell instead of
/// drawn one by one.
pub const AGGREGATE_BELOW_ZOOM: u8 = 9;

/// At any zoom, a raster tile with more point features than this on the
/// tile itself is drawn as counts per screen cell, as below
/// [`AGGREGATE_BELOW_ZOOM`]: a 256-px tile shows about 600 symbols side by
/// side, so beyond this many they are a solid pile that hides every class,
/// verification and grade it is meant to show (and costs a blend per
/// symbol). Zooming in shows the symbols; vector tiles and items always
/// carry every feature.
pub const CROWDED_ABOVE: usize = 4096;

/// Errors of the tile renderers.
#[derive(Debug, thiserror::Error)]
pub enum TileError {
    /// Zoom out of range.
    #[error("zoom {0} is out of range 0-18")]
    Zoom(u32),
    /// x or y out of range for the zoom.
    #[error("tile {z}/{x}/{y} does not exist (x and y must be below 2^z)")]
    Outside {
        /// Zoom.
        z: u32,
        /// Column.
        x: u32,
        /// Row.
        y: u32,
    },
    /// The layer is not drawn in this format.
    #[error("layer {layer} is not available as {format}")]
    Unavailable {
        /// The layer.
        layer: TileLayer,
        /// The format.
        format: &'static str,
    },
    /// Encoding failed.
    #[error("tile encoding: {0}")]
    Encode(String),
    /// Writing a tile package failed.
    #[error("tile package: {0}")]
    Package(String),
}

/// The layers tiles are drawn for (`/tiles/{layer}/...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TileLayer {
    /// Incidents: symbol and colour by category.
    Incidents,
    /// Armed-group sightings: symbol and colour by activity.
    Sightings,
    /// Patrol tracks: colour by mode, dashes by kind.
    Patrols,
    /// Bases: square by type, reach ring at high zoom.
    Bases,
    /// Civilian sites: diamond by kind.
    Sites,
    /// Kernel density of incidents.
    Heat,
    /// Getis-Ord Gi* hot spot classes.
    Hotspots,
    /// Local Moran cluster and outlier types.
    Moran,
    /// Presence (coverage).
    Presence,
    /// Threat x vulnerability risk.
    Risk,
    /// Blind spots.
    Blindspots,
    /// The composite joint map.
    Joint,
}

impl TileLayer {
    /// Every layer name of the URL scheme.
    pub const ALL: [TileLayer; 12] = [
        TileLayer::Incidents,
        TileLayer::Sightings,
        TileLayer::Patrols,
        TileLayer::Bases,
        TileLayer::Sites,
        TileLayer::Heat,
        TileLayer::Hotspots,
        TileLayer::Moran,
        TileLayer::Presence,
        TileLayer::Risk,
        TileLayer::Blindspots,
        TileLayer::Joint,
    ];

    /// Its name in URLs.
    pub fn name(self) -> &'static str {
        match self {
            TileLayer::Incidents => "incidents",
            TileLayer::Sightings => "sightings",
            TileLayer::Patrols => "patrols",
            TileLayer::Bases => "bases",
            TileLayer::Sites => "sites",
            TileLayer::Heat => "heat",
            TileLayer::Hotspots => "hotspots",
            TileLayer::Moran => "moran",
            TileLayer::Presence => "presence",
            TileLayer::Risk => "risk",
            TileLayer::Blindspots => "blindspots",
            TileLayer::Joint => "joint",
        }
    }

    /// The store layer it is drawn from: the five store layers, and heat
    /// (from incidents). The overlays ([`TileLayer::is_overlay`]) and the
    /// joint map have none.
    pub fn source(self) -> Option<Layer> {
        match self {
            TileLayer::Incidents | TileLayer::Heat => Some(Layer::Incidents),
            TileLayer::Sightings => Some(Layer::Sightings),
            TileLayer::Patrols => Some(Layer::Patrols),
            TileLayer::Bases => Some(Layer::Bases),
            TileLayer::Sites => Some(Layer::Sites),
            _ => None,
        }
    }

    /// Whether it has vector tiles (heat is a raster surface only).
    pub fn has_vector(self) -> bool {
        self != TileLayer::Heat
    }

    /// Whether it is drawn from an analysis product ([`overlay`]).
    pub fn is_overlay(self) -> bool {
        matches!(
            self,
            TileLayer::Hotspots
                | TileLayer::Moran
                | TileLayer::Presence
                | TileLayer::Risk
                | TileLayer::Blindspots
        )
    }

    /// How far beyond the tile, in metres, a feature of this layer may
    /// still reach into it (besides [`BUFFER_PX`]): a base's reach ring,
    /// the kernel's support.
    pub fn reach_m(self) -> f64 {
        match self {
            TileLayer::Bases => style::MAX_REACH_M,
            TileLayer::Heat => HEAT_BANDWIDTH_M,
            _ => 0.0,
        }
    }
}

impl fmt::Display for TileLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TileLayer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        TileLayer::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = TileLayer::ALL.iter().map(|l| l.name()).collect();
                format!("no tile layer {s:?}; layers: {}", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_names_round_trip() {
        for l in TileLayer::ALL {
            assert_eq!(l.name().parse::<TileLayer>().unwrap(), l);
        }
        assert!("Incidents".parse::<TileLayer>().is_err());
        assert!("".parse::<TileLayer>().is_err());
        assert_eq!(TileLayer::Heat.source(), Some(Layer::Incidents));
        assert!(!TileLayer::Heat.has_vector());
        assert!(TileLayer::Joint.source().is_none());
    }
}

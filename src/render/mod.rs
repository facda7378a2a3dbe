//! Encoders: typed analysis products, once gated, written as GeoJSON, CSV,
//! map tiles and brief documents. They never decide what a role sees: they
//! write what [`crate::access::Gate::disclose`] returned.

pub mod brief;
pub mod csv;
pub mod fgb;
pub mod geojson;
#[cfg(feature = "gdal")]
pub mod ogr;
pub mod table;
pub mod tiles;

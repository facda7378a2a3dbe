//! Analysis requests: the parameters of each analysis product, as one
//! grammar shared by the command line (clap flags) and the HTTP server (query
//! parameters parsed with the same definitions), and how to run each one
//! against a [`Store`](crate::store::Store).
//!
//! Keeping the grammar here means a parameter has one name, one default and
//! one validation everywhere, and neither shell knows the other.

pub mod blindspots;
pub mod brief;
pub mod clusters;
pub mod coverage;
pub mod cql2;
pub mod events;
pub mod hotspots;
pub mod impact;
pub mod record;
pub mod surface;
pub mod trends;

use crate::analysis::AnalysisError;
use crate::grid::Area;
use std::path::Path;

/// The result of a request: a typed product and a one-paragraph summary
/// for people (printed by the CLI, logged by the server).
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The product, with a `jointmap` metadata member recording the method
    /// and parameters; encoded by [`crate::render`] once gated.
    pub product: crate::analysis::product::Product,
    /// Human-readable summary lines.
    pub summary: String,
}

/// Parses the end of a time window: a bare date means the end of that day.
pub fn parse_to_arg(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let t = crate::model::time::parse_time(s)?;
    if crate::model::time::is_date_only(s) {
        return Ok(t + chrono::Duration::days(1) - chrono::Duration::milliseconds(1));
    }
    Ok(t)
}

/// Parses a time argument (RFC 3339 or date).
pub fn parse_time_arg(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    crate::model::time::parse_time(s)
}

/// Parses `min_lon,min_lat,max_lon,max_lat`: finite degrees, longitudes
/// within [-180, 180], latitudes within [-90, 90], `min_lat < max_lat` and
/// distinct longitudes (`min_lon > max_lon` crosses the antimeridian, which
/// analysis grids refuse by name).
pub fn parse_bbox(s: &str) -> Result<[f64; 4], String> {
    let v: Vec<f64> = s
        .split(',')
        .map(|p| {
            p.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| format!("{p:?} is not a finite number"))
        })
        .collect::<Result<_, _>>()?;
    let b = <[f64; 4]>::try_from(v).map_err(|v| {
        format!(
            "expected 4 numbers min_lon,min_lat,max_lon,max_lat, got {}",
            v.len()
        )
    })?;
    if b[0].abs() > 180.0 || b[2].abs() > 180.0 {
        return Err("longitudes must be within [-180, 180]".into());
    }
    if b[1].abs() > 90.0 || b[3].abs() > 90.0 {
        return Err("latitudes must be within [-90, 90]".into());
    }
    if b[1] >= b[3] || b[0] == b[2] {
        return Err("the box is empty (need min_lat < max_lat and min_lon != max_lon)".into());
    }
    Ok(b)
}

/// Reads polygons from a GeoJSON file (FeatureCollection, Feature or geometry).
pub fn read_area(path: &Path) -> crate::Result<Area> {
    let bad =
        |reason: String| AnalysisError::param("area", format!("{}: {reason}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    Ok(area_from_geojson(&v).map_err(bad)?)
}

/// Polygons from a GeoJSON value (FeatureCollection, Feature or geometry).
pub fn area_from_geojson(v: &serde_json::Value) -> Result<Area, String> {
    use crate::model::geometry::{parse_geometry, GeomKind};
    let geoms: Vec<&serde_json::Value> = match v.get("type").and_then(|t| t.as_str()) {
        Some("FeatureCollection") => v["features"]
            .as_array()
            .map(|a| a.iter().map(|f| &f["geometry"]).collect())
            .unwrap_or_default(),
        Some("Feature") => vec![&v["geometry"]],
        _ => vec![v],
    };
    let mut polys = Vec::new();
    for (i, g) in geoms.into_iter().enumerate() {
        match parse_geometry(g, &[GeomKind::Polygon, GeomKind::MultiPolygon])
            .map_err(|e| format!("feature #{i}: {e}"))?
        {
            geo_types::Geometry::Polygon(p) => polys.push(p),
            geo_types::Geometry::MultiPolygon(m) => polys.extend(m.0),
            _ => {}
        }
    }
    if polys.is_empty() {
        return Err("no polygons".into());
    }
    Ok(Area::Polygon(geo_types::MultiPolygon(polys)))
}

/// Checks that an optional number of km is finite and positive.
pub(crate) fn positive_km(name: &'static str, v: Option<f64>) -> Result<(), AnalysisError> {
    match v {
        Some(x) if !(x.is_finite() && x > 0.0) => Err(AnalysisError::param(
            name,
            "must be a positive number of km",
        )),
        _ => Ok(()),
    }
}

/// How a request runs for a role without full view of its events, set by
/// the access gate: square grids on the fixed mission
/// anchor, and events read whole groups at a time and released by the gate
/// before any analysis sees them.
pub struct Protect<'a> {
    /// Anchor (lon, lat) of square grids.
    pub anchor: [f64; 2],
    /// Side of the cells events are released on, metres: released events
    /// sit at cell centres, so no kernel narrower than this is meaningful.
    pub cell_m: f64,
    /// Metres a bbox is widened by when reading, so that every event of a
    /// cell whose centre lies in the bbox is read.
    pub margin_m: f64,
    /// Restricts a window resolved from the defaults (`from`, `to`, Unix
    /// seconds) as the gate restricted the given ones: whole time steps,
    /// the delay cutoff. So the window applied is the one recorded, and
    /// the recorded request re-runs to the same window.
    pub window: &'a (dyn Fn(i64, i64) -> (i64, i64) + Sync),
    /// Releases the events read from a layer: `(layer, events, window, bbox)`
    /// to what the role may have analysed (the gate's release in whole groups).
    #[allow(clippy::type_complexity)]
    pub release: &'a (dyn Fn(
        crate::model::Layer,
        crate::analysis::Events,
        (Option<i64>, Option<i64>),
        Option<[f64; 4]>,
    ) -> crate::analysis::Events
             + Sync),
}

impl std::fmt::Debug for Protect<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Protect")
            .field("anchor", &self.anchor)
            .field("margin_m", &self.margin_m)
            .finish()
    }
}

/// A `[west, south, east, north]` bbox widened by `m` metres on every side
/// (clamped to the globe).
pub fn widen_bbox(bbox: [f64; 4], m: f64) -> [f64; 4] {
    let dlat = m / 111_000.0;
    let lat = bbox[1].abs().max(bbox[3].abs()).min(89.0);
    let dlon = (dlat / lat.to_radians().cos().max(0.02)).min(360.0);
    [
        (bbox[0] - dlon).max(-180.0),
        (bbox[1] - dlat).max(-90.0),
        (bbox[2] + dlon).min(180.0),
        (bbox[3] + dlat).min(90.0),
    ]
}

#[cfg(test)]
mod area_tests;

#[cfg(test)]
mod tests {
    #[test]
    fn bbox_values_are_finite_degrees() {
        assert_eq!(super::parse_bbox("-1,-2,3,4"), Ok([-1.0, -2.0, 3.0, 4.0]));
        assert!(super::parse_bbox("170,-10,-170,10").is_ok());
        for bad in [
            "1e308,0,1,1",
            "0,0,1e308,1",
            "nan,0,1,1",
            "0,0,inf,1",
            "0,-91,1,1",
            "-181,0,1,1",
            "0,1,1,1",
            "0,2,1,1",
            "1,0,1,1",
            "1,2,3",
        ] {
            assert!(super::parse_bbox(bad).is_err(), "{bad}");
        }
    }
}

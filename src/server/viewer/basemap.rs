//! The viewer's country-outline basemap: a configured GeoJSON file of
//! country polygons (Natural Earth's admin 0 countries), read on first use,
//! simplified and served as public data at [`super::BASEMAP_PATH`].

use super::{etag_of, static_response};
use crate::server::problem::ApiError;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use geo::{Coord, LineString, Simplify};
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use tokio::sync::OnceCell;

/// Douglas-Peucker tolerance, degrees (about 2 km at the equator: the
/// outlines are a backdrop, not a boundary of record).
const TOLERANCE_DEG: f64 = 0.02;
/// Decimals kept in coordinates (about 100 m).
const DECIMALS: i32 = 3;
/// Largest file read (Natural Earth's 1:10m countries is about 25 MB).
const MAX_BYTES: u64 = 256 * 1024 * 1024;

/// The outlines, read and simplified once.
pub(super) struct Basemap {
    path: PathBuf,
    cell: OnceCell<Result<(Bytes, String), String>>,
}

impl Basemap {
    pub(super) fn new(path: PathBuf) -> Basemap {
        Basemap {
            path,
            cell: OnceCell::new(),
        }
    }

    /// The simplified outlines, or a 503 naming why they cannot be read
    /// (the reason goes to the log; the client learns only that it is
    /// unavailable, not the server's paths).
    pub(super) async fn respond(&self, headers: &HeaderMap) -> Response {
        let path = self.path.clone();
        let got = self
            .cell
            .get_or_init(|| async move {
                tokio::task::spawn_blocking(move || load(&path))
                    .await
                    .unwrap_or_else(|e| Err(format!("basemap task failed: {e}")))
            })
            .await;
        match got {
            Ok((body, tag)) => {
                static_response(headers, body.clone().into(), "application/geo+json", tag)
            }
            Err(e) => {
                tracing::error!(error = %e, "basemap");
                ApiError::unavailable("the basemap cannot be read").into_response()
            }
        }
    }
}

fn load(path: &std::path::Path) -> Result<(Bytes, String), String> {
    let name = path.display();
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{name}: {e}"))?
        .len();
    if size > MAX_BYTES {
        return Err(format!("{name}: {size} bytes, more than {MAX_BYTES}"));
    }
    let text = std::fs::read(path).map_err(|e| format!("{name}: {e}"))?;
    let doc: Value = serde_json::from_slice(&text).map_err(|e| format!("{name}: {e}"))?;
    let out = simplify_collection(&doc).map_err(|e| format!("{name}: {e}"))?;
    let body = Bytes::from(serde_json::to_vec(&out).map_err(|e| e.to_string())?);
    let tag = etag_of(&body);
    Ok((body, tag))
}

/// A FeatureCollection of (Multi)Polygons, simplified: each ring by
/// Douglas-Peucker, coordinates rounded, rings that collapse dropped, and
/// only a country's name and ISO code kept. Other geometry types are left
/// out.
pub(super) fn simplify_collection(doc: &Value) -> Result<Value, String> {
    let features = doc
        .get("features")
        .and_then(Value::as_array)
        .ok_or("not a GeoJSON FeatureCollection")?;
    let mut out = Vec::new();
    for f in features {
        let Some(g) = f.get("geometry") else { continue };
        let polygons: Vec<&Value> = match g.get("type").and_then(Value::as_str) {
            Some("Polygon") => g.get("coordinates").into_iter().collect(),
            Some("MultiPolygon") => g
                .get("coordinates")
                .and_then(Value::as_array)
                .map(|a| a.iter().collect())
                .unwrap_or_default(),
            _ => continue,
        };
        let kept: Vec<Value> = polygons.into_iter().filter_map(polygon).collect();
        if kept.is_empty() {
            continue;
        }
        let props = f.get("properties");
        let text = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| props.and_then(|p| p.get(*k)).and_then(Value::as_str))
                .map(|s| Value::String(s.to_string()))
                .unwrap_or(Value::Null)
        };
        let mut p = Map::new();
        p.insert("name".into(), text(&["NAME", "ADMIN", "name"]));
        p.insert("iso_a3".into(), text(&["ISO_A3", "ADM0_A3", "iso_a3"]));
        out.push(json!({
            "type": "Feature",
            "properties": p,
            "geometry": {"type": "MultiPolygon", "coordinates": kept},
        }));
    }
    Ok(json!({"type": "FeatureCollection", "features": out}))
}

/// One polygon's rings simplified; `None` when its outer ring collapses.
fn polygon(rings: &Value) -> Option<Value> {
    let rings = rings.as_array()?;
    let mut kept = Vec::new();
    for (i, r) in rings.iter().enumerate() {
        match ring(r) {
            Some(r) => kept.push(r),
            None if i == 0 => return None,
            None => {}
        }
    }
    Some(Value::Array(kept))
}

fn ring(r: &Value) -> Option<Value> {
    let coords: Vec<Coord> = r
        .as_array()?
        .iter()
        .filter_map(|p| {
            let p = p.as_array()?;
            let (x, y) = (p.first()?.as_f64()?, p.get(1)?.as_f64()?);
            (x.is_finite() && y.is_finite()).then_some(Coord { x, y })
        })
        .collect();
    let simple = LineString::new(coords).simplify(TOLERANCE_DEG);
    let scale = 10f64.powi(DECIMALS);
    let round = |v: f64| (v * scale).round() / scale;
    let mut pts: Vec<[f64; 2]> = Vec::with_capacity(simple.0.len());
    for c in simple.0 {
        let p = [round(c.x), round(c.y)];
        if pts.last() != Some(&p) {
            pts.push(p);
        }
    }
    // A ring needs three distinct corners and closes on its first.
    if pts.len() < 4 || pts.first() != pts.last() {
        return None;
    }
    Some(json!(pts))
}

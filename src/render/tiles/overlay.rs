//! Analysis overlays: the cells and areas of a gated analysis product, as
//! its `/analysis/*` endpoint encoded them for the role (GeoJSON), read
//! back for drawing. A tile of an overlay never holds more than that
//! document: what the role may see was decided by the gate when the
//! product was made.
//!
//! Which product each overlay layer reads ([`TileLayer::is_overlay`]):
//! `hotspots` and `moran` the hotspot analysis (Gi* class; Local Moran
//! type), `presence` the coverage analysis, `risk` the blind-spot
//! analysis's cells (`cells=true`), `blindspots` its ranked blind spots.

use super::{TileError, TileLayer};
use geo_types::{LineString, MultiPolygon, Polygon};
use serde_json::{Map, Value};

/// One cell or area of an overlay.
#[derive(Debug, Clone, PartialEq)]
pub struct OverlayCell {
    /// Its id in the product (`null` ids are empty).
    pub id: String,
    /// Its shape, lon/lat.
    pub geometry: MultiPolygon<f64>,
    /// `[min_lon, min_lat, max_lon, max_lat]` of the shape.
    pub bbox: [f64; 4],
    /// Its properties as the product gave them to the role.
    pub properties: Map<String, Value>,
}

/// The cells of one overlay layer, in product order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overlay {
    /// The cells.
    pub cells: Vec<OverlayCell>,
}

/// Attributes a vector tile of each overlay carries (of those the role
/// was given), besides `id`.
pub fn attributes(layer: TileLayer) -> &'static [(&'static str, &'static str)] {
    match layer {
        TileLayer::Hotspots => &[
            ("class", "String"),
            ("gi_z", "Number"),
            ("gi_p", "Number"),
            ("count", "Number"),
            ("value", "Number"),
            ("density_km2", "Number"),
        ],
        TileLayer::Moran => &[
            ("moran_type", "String"),
            ("moran_i", "Number"),
            ("moran_p", "Number"),
            ("count", "Number"),
            ("value", "Number"),
        ],
        TileLayer::Presence => &[
            ("presence", "Number"),
            ("patrol_score", "Number"),
            ("info_score", "Number"),
            ("visits", "Number"),
            ("reports", "Number"),
        ],
        TileLayer::Risk => &[
            ("risk_level", "String"),
            ("risk", "Number"),
            ("likelihood", "Number"),
            ("impact", "Number"),
            ("threat", "Number"),
            ("presence", "Number"),
            ("blind", "Boolean"),
            ("incidents", "Number"),
            ("sightings", "Number"),
        ],
        TileLayer::Blindspots => &[
            ("kind", "String"),
            ("rank", "Number"),
            ("priority", "Number"),
            ("area_km2", "Number"),
            ("risk_level", "String"),
            ("hotspot", "Boolean"),
            ("incidents", "Number"),
            ("sightings", "Number"),
            ("days_since_patrol", "Number"),
            ("days_since_report", "Number"),
        ],
        _ => &[],
    }
}

impl Overlay {
    /// The overlay `layer` of a gated product's GeoJSON: its items with a
    /// polygon geometry that belong to the layer (the blind-spot product
    /// holds both the blind spots and, with `cells`, the risk cells).
    pub fn from_geojson(layer: TileLayer, bytes: &[u8]) -> Result<Overlay, TileError> {
        let bad = |why: &str| TileError::Encode(format!("{layer} overlay: {why}"));
        let doc: Value = serde_json::from_slice(bytes).map_err(|e| bad(&e.to_string()))?;
        let features = doc
            .get("features")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("not a FeatureCollection"))?;
        let mut cells = Vec::new();
        for f in features {
            let properties = match f.get("properties") {
                Some(Value::Object(p)) => p.clone(),
                _ => Map::new(),
            };
            if !belongs(layer, &properties) {
                continue;
            }
            let Some(geometry) = f.get("geometry").and_then(multipolygon) else {
                continue;
            };
            let Some(bbox) = bounds(&geometry) else {
                continue;
            };
            let id = match f.get("id") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            cells.push(OverlayCell {
                id,
                geometry,
                bbox,
                properties,
            });
        }
        Ok(Overlay { cells })
    }

    /// The cells whose bounds meet `bbox`.
    pub fn within(&self, bbox: [f64; 4]) -> impl Iterator<Item = &OverlayCell> {
        self.cells.iter().filter(move |c| {
            c.bbox[0] <= bbox[2]
                && c.bbox[2] >= bbox[0]
                && c.bbox[1] <= bbox[3]
                && c.bbox[3] >= bbox[1]
        })
    }
}

fn belongs(layer: TileLayer, p: &Map<String, Value>) -> bool {
    let kind = p.get("kind").and_then(Value::as_str);
    match layer {
        TileLayer::Risk => kind == Some("cell"),
        TileLayer::Blindspots => matches!(kind, Some("threat" | "information")),
        _ => true,
    }
}

fn ring(v: &Value) -> Option<LineString<f64>> {
    let pts: Option<Vec<(f64, f64)>> = v
        .as_array()?
        .iter()
        .map(|p| {
            let p = p.as_array()?;
            let (x, y) = (p.first()?.as_f64()?, p.get(1)?.as_f64()?);
            (x.is_finite() && y.is_finite()).then_some((x, y))
        })
        .collect();
    let pts = pts?;
    (pts.len() >= 4).then(|| pts.into())
}

fn polygon(v: &Value) -> Option<Polygon<f64>> {
    let mut rings = v.as_array()?.iter().map(ring);
    let exterior = rings.next()??;
    let holes: Option<Vec<LineString<f64>>> = rings.collect();
    Some(Polygon::new(exterior, holes?))
}

fn multipolygon(g: &Value) -> Option<MultiPolygon<f64>> {
    let coords = g.get("coordinates")?;
    match g.get("type")?.as_str()? {
        "Polygon" => Some(MultiPolygon(vec![polygon(coords)?])),
        "MultiPolygon" => {
            let ps: Option<Vec<Polygon<f64>>> = coords.as_array()?.iter().map(polygon).collect();
            Some(MultiPolygon(ps?))
        }
        _ => None,
    }
}

fn bounds(m: &MultiPolygon<f64>) -> Option<[f64; 4]> {
    use geo::BoundingRect;
    let r = m.bounding_rect()?;
    Some([r.min().x, r.min().y, r.max().x, r.max().y])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_items_of_its_layer_only() {
        let sq =
            json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]});
        let doc = json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": "T1", "geometry": {"type": "MultiPolygon", "coordinates": [sq["coordinates"]]},
             "properties": {"kind": "threat", "rank": 1}},
            {"type": "Feature", "id": "c1", "geometry": sq, "properties": {"kind": "cell", "risk_level": "high"}},
            {"type": "Feature", "id": "c2", "geometry": null, "properties": {"kind": "cell"}},
            {"type": "Feature", "id": "c3", "geometry": {"type": "Point", "coordinates": [0, 0]}, "properties": {"kind": "cell"}},
        ]});
        let bytes = serde_json::to_vec(&doc).unwrap();
        let b = Overlay::from_geojson(TileLayer::Blindspots, &bytes).unwrap();
        assert_eq!(b.cells.len(), 1);
        assert_eq!(b.cells[0].id, "T1");
        assert_eq!(b.cells[0].bbox, [0.0, 0.0, 1.0, 1.0]);
        let r = Overlay::from_geojson(TileLayer::Risk, &bytes).unwrap();
        assert_eq!(r.cells.len(), 1);
        assert_eq!(r.cells[0].id, "c1");
        assert_eq!(r.within([2.0, 2.0, 3.0, 3.0]).count(), 0);
        assert_eq!(r.within([0.5, 0.5, 3.0, 3.0]).count(), 1);
        for bad in ["", "{}", "[1]", "{\"features\": 3}"] {
            assert!(
                Overlay::from_geojson(TileLayer::Risk, bad.as_bytes()).is_err(),
                "{bad}"
            );
        }
        // A malformed ring is skipped, not drawn half.
        let odd = json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, "x"], [0, 0], [0, 0]]]}, "properties": {}}]});
        let o =
            Overlay::from_geojson(TileLayer::Hotspots, &serde_json::to_vec(&odd).unwrap()).unwrap();
        assert!(o.cells.is_empty());
    }
}

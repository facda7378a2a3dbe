//! Tiles cut from gated content, the one code the server's tile routes
//! and the command line's packages (`render-tiles`, `export-mbtiles`)
//! share: which analysis each overlay is cut from, the cutting and drawing
//! of an overlay tile from the cells of its gated product, and the joint
//! map composed of the role's own parts.
//!
//! Nothing here decides what a role sees: the products come from
//! `Gate::plan` and `Gate::run` (the server's `Caller::analyse`, or
//! [`OverlayAnalysis::run`]) and the store layers' content from
//! `Gate::tile`. An analysis covers its whole area, so it is run once and
//! every tile of it is cut from the same cells: neighbouring tiles agree.

use super::stream::{self, LayerContent};
use super::{
    mvt, Canvas, HeatParams, Overlay, OverlayCell, Scale, TileError, TileId, TileLayer, BUFFER_PX,
    HEAT_BANDWIDTH_M,
};
use crate::access::{Analysis, Budget, Gate, Principal, TileContent, TileRequest};
use crate::analysis::product::Product;
use crate::model::Layer;
use crate::request::blindspots::BlindspotRequest;
use crate::request::coverage::CoverageRequest;
use crate::request::events::FilterArgs;
use crate::request::hotspots::HotspotRequest;
use crate::store::FeatureSource;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// The format a tile is drawn in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileFormat {
    /// PNG at 256 or 512 px.
    Png(Scale),
    /// A Mapbox Vector Tile.
    Mvt,
}

/// What the joint map draws under the store layers (`surface`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Surface {
    /// Significant Gi* hot and cold spots.
    Hotspots,
    /// The kernel density of incidents.
    Heat,
}

/// The analysis request an overlay layer is cut from.
#[derive(Debug, Clone)]
pub enum OverlayAnalysis {
    /// `hotspots` and `moran`: the hotspot analysis.
    Hotspots(HotspotRequest),
    /// `presence`: the coverage analysis.
    Coverage(CoverageRequest),
    /// `risk` (with `cells`) and `blindspots`: the blind-spot analysis.
    Blindspots(BlindspotRequest),
}

/// Parameters an overlay tile of `layer` does not take besides the
/// analysis's own local-only ones: those the layer sets itself (`cells`:
/// risk draws the cells, blind spots do not) or that would draw cells the
/// overlay has no use for (`all-cells`).
pub fn refused_params(layer: TileLayer) -> &'static [&'static str] {
    match layer {
        TileLayer::Risk | TileLayer::Blindspots => &["cells"],
        TileLayer::Hotspots | TileLayer::Moran | TileLayer::Presence => &["all-cells"],
        _ => &[],
    }
}

/// Whether `layer` is drawn from the blind-spot product with its cells.
pub fn wants_cells(layer: TileLayer) -> bool {
    layer == TileLayer::Risk
}

impl OverlayAnalysis {
    /// Runs the request for `principal` through the gate (plan, then run),
    /// or as the operator (`None`: every record, as `jointmap hotspots`
    /// without `--as-role`), and returns the product.
    pub fn run(
        &self,
        gate: &Gate,
        principal: Option<&Principal>,
        budget: &Budget,
        now: DateTime<Utc>,
        store: &dyn FeatureSource,
    ) -> crate::Result<Product> {
        fn one<A: Analysis + Clone>(
            req: &A,
            gate: &Gate,
            principal: Option<&Principal>,
            budget: &Budget,
            now: DateTime<Utc>,
            store: &dyn FeatureSource,
        ) -> crate::Result<Product> {
            match principal {
                None => Ok(req.run(store, None)?.product),
                Some(p) => {
                    let mut req = req.clone();
                    let plan = gate.plan(p, &mut req, budget, now)?;
                    Ok(gate.run(&plan, &req, store)?.0)
                }
            }
        }
        match self {
            OverlayAnalysis::Hotspots(r) => one(r, gate, principal, budget, now, store),
            OverlayAnalysis::Coverage(r) => one(r, gate, principal, budget, now, store),
            OverlayAnalysis::Blindspots(r) => one(r, gate, principal, budget, now, store),
        }
    }
}

/// The overlay `layer` of a gated product, read from the GeoJSON
/// `/analysis/*` gives the role for it (the very bytes, so a tile holds
/// exactly what the endpoint does, numbers as written there).
pub fn overlay_of(layer: TileLayer, product: &Product) -> Result<Overlay, TileError> {
    Overlay::from_geojson(layer, &crate::render::geojson::to_vec(product))
}

/// The cells of `o` that may reach into `id` (with the symbol buffer).
pub fn cells_for(o: &Overlay, id: TileId) -> impl Iterator<Item = &OverlayCell> {
    o.within(id.buffered(BUFFER_PX, 256.0))
}

/// The tile `id` of overlay `layer` cut from `overlay`, with the number of
/// cells it holds.
pub fn overlay_tile(
    layer: TileLayer,
    overlay: &Overlay,
    id: TileId,
    format: TileFormat,
) -> Result<(Vec<u8>, u64), TileError> {
    let cells: Vec<&OverlayCell> = cells_for(overlay, id).collect();
    let n = cells.len() as u64;
    let bytes = match format {
        TileFormat::Mvt => mvt::tile(&[mvt::overlay_layer(layer, id, cells.into_iter())]),
        TileFormat::Png(scale) => {
            let mut canvas = Canvas::new(id, scale)?;
            canvas.overlay(layer, cells.into_iter());
            canvas.png()?
        }
    };
    Ok((bytes, n))
}

/// The request of the tile `id` of store layer `source` drawn as `layer`:
/// the tile's bounds widened by the largest symbol and by what a feature
/// of the layer reaches (a base's ring, the heat kernel), so that nothing
/// stops at an edge.
pub fn tile_request(
    layer: TileLayer,
    source: Layer,
    id: TileId,
    filter: FilterArgs,
) -> TileRequest {
    TileRequest {
        layer: source,
        filter,
        bbox: crate::request::widen_bbox(id.buffered(BUFFER_PX, 256.0), layer.reach_m()),
    }
}

/// The store layers of the joint map, bottom to top.
pub const JOINT_STORE: [(TileLayer, Layer); 4] = [
    (TileLayer::Patrols, Layer::Patrols),
    (TileLayer::Bases, Layer::Bases),
    (TileLayer::Sites, Layer::Sites),
    (TileLayer::Incidents, Layer::Incidents),
];

/// The store parts of one joint tile: the heat surface (PNG with
/// `surface=heat` only) and each store layer the role has a tile of.
#[derive(Debug, Default)]
pub struct JointParts {
    /// The heat surface's content.
    pub heat: Option<TileContent>,
    /// The store layers' content, bottom to top (counted while streaming
    /// where the layer's tile draws counts).
    pub layers: Vec<(TileLayer, LayerContent)>,
}

/// Gathers the store parts of the joint tile `id` from `source`, the
/// gate's streamed content of a request (`None` when the role gets no tile
/// of it), as [`stream::gather`] does for one layer's tile.
pub fn joint_parts(
    id: TileId,
    surface: Surface,
    format: TileFormat,
    filter: &FilterArgs,
    source: &mut stream::Source<'_>,
) -> crate::Result<JointParts> {
    let mut parts = JointParts::default();
    if surface == Surface::Heat && matches!(format, TileFormat::Png(_)) {
        let req = tile_request(TileLayer::Heat, Layer::Incidents, id, filter.clone());
        parts.heat = stream::collect(&req, source)?;
    }
    for (layer, store_layer) in JOINT_STORE {
        let req = tile_request(layer, store_layer, id, filter.clone());
        if let Some(c) = stream::gather(layer, id, &req, source)? {
            parts.layers.push((layer, c));
        }
    }
    Ok(parts)
}

/// Whether a hot spot cell is drawn on the joint map: significant only.
fn significant(c: &&OverlayCell) -> bool {
    c.properties
        .get("class")
        .and_then(Value::as_str)
        .is_some_and(|s| s.starts_with("hot-") || s.starts_with("cold-"))
}

/// The joint tile `id`: bottom to top the blind spots (hatched), the
/// significant hot and cold spots, the heat surface, then the store
/// layers; with the number of cells and features it holds (heat aside).
pub fn joint_tile(
    id: TileId,
    format: TileFormat,
    blind: Option<&Overlay>,
    hot: Option<&Overlay>,
    parts: &JointParts,
    anchor: [f64; 2],
) -> Result<(Vec<u8>, u64), TileError> {
    let mut n = 0u64;
    let bytes = match format {
        TileFormat::Mvt => {
            let mut layers = Vec::new();
            if let Some(b) = blind {
                let l = mvt::overlay_layer(TileLayer::Blindspots, id, cells_for(b, id));
                n += l.len() as u64;
                layers.push(l);
            }
            if let Some(h) = hot {
                let l = mvt::overlay_layer(
                    TileLayer::Hotspots,
                    id,
                    cells_for(h, id).filter(significant),
                );
                n += l.len() as u64;
                layers.push(l);
            }
            for (layer, c) in &parts.layers {
                let l = mvt::layer_of(*layer, id, c);
                n += l.len() as u64;
                layers.push(l);
            }
            mvt::tile(&layers)
        }
        TileFormat::Png(scale) => {
            let mut canvas = Canvas::new(id, scale)?;
            let heat_params = HeatParams {
                anchor,
                bandwidth_m: HEAT_BANDWIDTH_M,
            };
            if let Some(b) = blind {
                canvas.overlay(TileLayer::Blindspots, cells_for(b, id));
            }
            if let Some(h) = hot {
                canvas.overlay(TileLayer::Hotspots, cells_for(h, id).filter(significant));
            }
            if let Some(c) = &parts.heat {
                canvas.content(TileLayer::Heat, c, &heat_params)?;
            }
            for (layer, c) in &parts.layers {
                canvas.layer(*layer, c, &heat_params)?;
                n += c.len();
            }
            canvas.png()?
        }
    };
    Ok((bytes, n))
}

/// The attributes of an overlay's vector layer (TileJSON, MBTiles `json`):
/// `id` and those the overlay carries.
pub fn overlay_fields(layer: TileLayer) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), "String".into());
    for (name, ty) in super::overlay::attributes(layer) {
        m.insert((*name).into(), (*ty).into());
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn overlay(layer: TileLayer) -> Overlay {
        let sq = |x: f64, class: &str| {
            json!({"type": "Feature", "id": format!("c{x}"),
                "geometry": {"type": "Polygon", "coordinates": [[[x, 5.0], [x + 0.2, 5.0], [x + 0.2, 5.2], [x, 5.2], [x, 5.0]]]},
                "properties": {"class": class, "kind": "threat"}})
        };
        let doc = json!({"type": "FeatureCollection", "features": [
            sq(17.0, "hot-99"), sq(17.4, "not-significant"), sq(40.0, "cold-95")]});
        Overlay::from_geojson(layer, &serde_json::to_vec(&doc).unwrap()).unwrap()
    }

    #[test]
    fn an_overlay_tile_holds_the_cells_reaching_into_it() {
        let o = overlay(TileLayer::Hotspots);
        // z6 tile 35/31 holds 16.875-22.5 E, 0-5.6 N: the two western cells.
        let id = TileId::new(6, 35, 31).unwrap();
        let (mvt_bytes, n) = overlay_tile(TileLayer::Hotspots, &o, id, TileFormat::Mvt).unwrap();
        assert_eq!(n, 2);
        assert!(!mvt_bytes.is_empty());
        let (png, n) =
            overlay_tile(TileLayer::Hotspots, &o, id, TileFormat::Png(Scale::X1)).unwrap();
        assert_eq!(n, 2);
        assert_eq!(&png[1..4], b"PNG");
        let far = TileId::new(6, 0, 0).unwrap();
        assert_eq!(
            overlay_tile(TileLayer::Hotspots, &o, far, TileFormat::Mvt)
                .unwrap()
                .1,
            0
        );
    }

    #[test]
    fn the_joint_map_keeps_significant_hot_spots_only() {
        let o = overlay(TileLayer::Hotspots);
        let id = TileId::new(6, 35, 31).unwrap();
        let parts = JointParts::default();
        let (_, n) = joint_tile(id, TileFormat::Mvt, None, Some(&o), &parts, [0.0; 2]).unwrap();
        assert_eq!(n, 1, "the not-significant cell is left out");
        let b = overlay(TileLayer::Blindspots);
        let (_, n) = joint_tile(id, TileFormat::Mvt, Some(&b), Some(&o), &parts, [0.0; 2]).unwrap();
        assert_eq!(n, 3);
    }

    #[test]
    fn joint_parts_ask_for_heat_only_on_png_heat_maps() {
        let id = TileId::new(9, 280, 246).unwrap();
        let f = FilterArgs {
            from: None,
            to: None,
            bbox: None,
            category: Vec::new(),
            perpetrator: Vec::new(),
            min_verification: None,
            min_precision: None,
            weight: "count".into(),
        };
        for (surface, format, heat) in [
            (Surface::Heat, TileFormat::Png(Scale::X1), true),
            (Surface::Heat, TileFormat::Mvt, false),
            (Surface::Hotspots, TileFormat::Png(Scale::X1), false),
        ] {
            let mut asked = Vec::new();
            let parts = joint_parts(id, surface, format, &f, &mut |req, _| {
                asked.push((req.layer, req.bbox));
                Ok((req.layer != Layer::Patrols).then_some(crate::access::TileStream::Features(0)))
            })
            .unwrap();
            assert_eq!(parts.heat.is_some(), heat);
            assert_eq!(asked.len(), 4 + usize::from(heat));
            // Patrols refused: the other three layers, bottom to top.
            let layers: Vec<TileLayer> = parts.layers.iter().map(|p| p.0).collect();
            assert_eq!(
                layers,
                [TileLayer::Bases, TileLayer::Sites, TileLayer::Incidents]
            );
        }
    }
}

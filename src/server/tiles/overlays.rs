//! Tiles of the analysis overlays (`hotspots`, `moran`, `presence`,
//! `risk`, `blindspots`) and of the composite `joint` map.
//!
//! An overlay tile is cut from the very document `/analysis/{name}` gives
//! the caller for the same parameters: the request is parsed by the
//! analysis's own definitions and run by [`Caller::analyse`] (the gate's
//! plan and run, the analysis cache), and the tile draws the cells of that
//! gated GeoJSON. So a tile never shows more than the endpoint, and every
//! tile of one analysis agrees with its neighbours (the analysis covers
//! its whole area, not the tile).
//!
//! The joint map draws, bottom to top, the blind spots (hatched), the
//! significant hot and cold spots (or the heat surface, `surface=heat`),
//! patrols, bases, sites and incidents, each as the role's own tile of
//! that layer shows it; a part the role may not have (403) or that has
//! nothing to compute on (400, e.g. an empty store) is left out.

use super::{refused, Format};
use crate::access::{TileContent, TileKind, TileRequest};
use crate::model::Layer;
use crate::render::tiles::{
    self, mvt, overlay, Canvas, HeatParams, Overlay, OverlayCell, TileId, TileLayer, BUFFER_PX,
};
use crate::request::blindspots::BlindspotRequest;
use crate::request::coverage::CoverageRequest;
use crate::request::events::FilterArgs;
use crate::request::hotspots::HotspotRequest;
use crate::server::analysis::{parse_args, AnalysisRequest};
use crate::server::auth::Caller;
use crate::server::cache::Encoded;
use crate::server::problem::ApiError;
use bytes::Bytes;
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex};

/// The parameters of the joint map besides `from` and `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Surface {
    /// Significant Gi* hot and cold spots.
    Hotspots,
    /// The kernel density of incidents.
    Heat,
}

/// The parameters a tile of `layer` may not take: the analysis's local
/// ones, and those a layer sets itself.
fn refused_params<A: AnalysisRequest>(layer: TileLayer) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = A::LOCAL_ONLY.to_vec();
    match layer {
        TileLayer::Risk | TileLayer::Blindspots => v.push("cells"),
        TileLayer::Hotspots | TileLayer::Moran | TileLayer::Presence => v.push("all-cells"),
        _ => {}
    }
    v
}

fn parse<A: AnalysisRequest>(layer: TileLayer, pairs: &[(String, String)]) -> Result<A, ApiError> {
    parse_args(
        pairs,
        &format!("/tiles/{layer}"),
        &refused_params::<A>(layer),
    )
}

/// The gated GeoJSON behind overlay `layer` for the caller, as
/// `/analysis/*` gives it (and from the same cache).
async fn product(
    caller: &Caller,
    layer: TileLayer,
    pairs: &[(String, String)],
) -> Result<Encoded, ApiError> {
    match layer {
        TileLayer::Hotspots | TileLayer::Moran => {
            let r: HotspotRequest = parse(layer, pairs)?;
            caller.analyse(r, None).await
        }
        TileLayer::Presence => {
            let r: CoverageRequest = parse(layer, pairs)?;
            caller.analyse(r, None).await
        }
        TileLayer::Risk | TileLayer::Blindspots => {
            let mut r: BlindspotRequest = parse(layer, pairs)?;
            r.cells = layer == TileLayer::Risk;
            caller.analyse(r, None).await
        }
        other => Err(ApiError::not_found(format!("{other} is not an overlay"))),
    }
}

/// An overlay read from a gated document, with the document it was read
/// from (so the allocation, and the identity test below, stay valid) and
/// a digest of it.
struct Parsed {
    layer: TileLayer,
    bytes: Bytes,
    digest: String,
    overlay: Overlay,
}

/// The last documents read: a tile of the same analysis reuses the cells
/// instead of reading the document again. The cache hands out the same
/// allocation for one entry, so identity is pointer and length while the
/// entry here holds the bytes alive.
static PARSED: Mutex<Vec<Arc<Parsed>>> = Mutex::new(Vec::new());
const PARSED_KEPT: usize = 8;

async fn overlay_of(
    caller: &Caller,
    layer: TileLayer,
    pairs: &[(String, String)],
) -> Result<Arc<Parsed>, ApiError> {
    let body = product(caller, layer, pairs).await?;
    let same = |p: &Parsed| {
        p.layer == layer
            && p.bytes.as_ptr() == body.plain.as_ptr()
            && p.bytes.len() == body.plain.len()
    };
    {
        let memo = PARSED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = memo.iter().find(|p| same(p)) {
            return Ok(p.clone());
        }
    }
    let bytes = body.plain.clone();
    let parsed = caller
        .access
        .blocking(move |_| {
            let overlay = Overlay::from_geojson(layer, &bytes).map_err(ApiError::internal)?;
            Ok::<_, ApiError>(Parsed {
                layer,
                digest: super::etag(&bytes),
                bytes,
                overlay,
            })
        })
        .await??;
    let parsed = Arc::new(parsed);
    let mut memo = PARSED.lock().unwrap_or_else(|p| p.into_inner());
    memo.retain(|p| !same(p));
    memo.insert(0, parsed.clone());
    memo.truncate(PARSED_KEPT);
    Ok(parsed)
}

/// The cells of `o` that may reach into `id` (with the symbol buffer).
fn cells_for(o: &Overlay, id: TileId) -> impl Iterator<Item = &OverlayCell> {
    o.within(id.buffered(BUFFER_PX, 256.0))
}

/// A tile of overlay `layer`, cached by the digest of the document it is
/// cut from (the document is the caller's; two roles given the same
/// document get the same tile).
pub(super) async fn overlay_tile(
    caller: &Caller,
    layer: TileLayer,
    id: TileId,
    format: Format,
    pairs: &[(String, String)],
) -> Result<Encoded, ApiError> {
    let parsed = overlay_of(caller, layer, pairs).await?;
    let key = format!(
        "tiles-overlay\n{layer}\n{}/{}/{}\n{format:?}\n{}",
        id.z, id.x, id.y, parsed.digest
    );
    let access = caller.access.clone();
    caller
        .access
        .cache
        .get_or_compute(key, || async move {
            access
                .blocking(move |_| {
                    let cells: Vec<&OverlayCell> = cells_for(&parsed.overlay, id).collect();
                    let n = cells.len() as u64;
                    let bytes = match format {
                        Format::Mvt => {
                            mvt::tile(&[mvt::overlay_layer(layer, id, cells.into_iter())])
                        }
                        Format::Png(scale) => {
                            let mut canvas = Canvas::new(id, scale).map_err(ApiError::internal)?;
                            canvas.overlay(layer, cells.into_iter());
                            canvas.png().map_err(ApiError::internal)?
                        }
                    };
                    Ok(Encoded::new(bytes, n))
                })
                .await?
        })
        .await
}

/// The joint map's parameters: `surface`, and the window passed to every
/// part.
struct Joint {
    surface: Surface,
    window: Vec<(String, String)>,
    filter: FilterArgs,
}

fn joint_params(pairs: &[(String, String)]) -> Result<Joint, ApiError> {
    let mut surface = Surface::Hotspots;
    let mut window = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "surface" => {
                surface = <Surface as clap::ValueEnum>::from_str(v, false)
                    .map_err(|_| ApiError::param(k, format!("{v:?} is not hotspots or heat")))?
            }
            "from" | "to" => window.push((k.clone(), v.clone())),
            _ => {
                return Err(ApiError::param(
                    k,
                    "unknown parameter; /tiles/joint takes from, to, surface",
                ))
            }
        }
    }
    let filter: FilterArgs = parse_args(&window, "/tiles/joint", &[])?;
    Ok(Joint {
        surface,
        window,
        filter,
    })
}

/// One part of the joint map as the caller's own tile content: `None`
/// when the caller gets no tile of it.
async fn part(
    caller: &Caller,
    layer: TileLayer,
    source: Layer,
    id: TileId,
    filter: FilterArgs,
) -> Result<Option<TileContent>, ApiError> {
    let access = caller.access.clone();
    let principal = caller.principal.clone();
    let now = chrono::Utc::now();
    access
        .clone()
        .blocking(move |store| {
            let bbox = crate::request::widen_bbox(id.buffered(BUFFER_PX, 256.0), layer.reach_m());
            let req = TileRequest {
                layer: source,
                filter,
                bbox,
            };
            match access.gate.tile(&principal, &req, now, store) {
                Ok(c) => Ok(Some(c)),
                Err(crate::Error::Access(crate::access::AccessError::Forbidden { .. })) => Ok(None),
                Err(e) => Err(refused(e)),
            }
        })
        .await?
}

/// An overlay part of the joint map: `None` when the caller may not have
/// it or it has nothing to compute on.
async fn overlay_part(
    caller: &Caller,
    layer: TileLayer,
    pairs: &[(String, String)],
) -> Result<Option<Arc<Parsed>>, ApiError> {
    match overlay_of(caller, layer, pairs).await {
        Ok(p) => Ok(Some(p)),
        Err(e) if matches!(e.status.as_u16(), 400 | 403) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether a hot spot cell is drawn on the joint map: significant only.
fn significant(c: &&OverlayCell) -> bool {
    c.properties
        .get("class")
        .and_then(Value::as_str)
        .is_some_and(|s| s.starts_with("hot-") || s.starts_with("cold-"))
}

/// The store layers of the joint map, bottom to top.
const JOINT_STORE: [(TileLayer, Layer); 4] = [
    (TileLayer::Patrols, Layer::Patrols),
    (TileLayer::Bases, Layer::Bases),
    (TileLayer::Sites, Layer::Sites),
    (TileLayer::Incidents, Layer::Incidents),
];

/// A tile of the joint map for the caller, cached like a store layer's
/// (role, rules, hour, data version).
pub(super) async fn joint_tile(
    caller: &Caller,
    id: TileId,
    format: Format,
    pairs: &[(String, String)],
) -> Result<Encoded, ApiError> {
    let joint = joint_params(pairs)?;
    let gate = &caller.access.gate;
    let now = chrono::Utc::now();
    let version = caller.access.version().await?;
    let key = format!(
        "tiles\njoint\n{}/{}/{}\n{format:?}\n{:?}\n{:?}\n{}\n{}\n{}\n{version}",
        id.z,
        id.x,
        id.y,
        joint.surface,
        joint.window,
        caller.principal.role,
        gate.policy_sha256(),
        crate::access::hour(now).timestamp(),
    );
    let caller2 = Caller {
        access: caller.access.clone(),
        principal: caller.principal.clone(),
    };
    caller
        .access
        .cache
        .get_or_compute(key, || async move {
            let caller = caller2;
            let blind = overlay_part(&caller, TileLayer::Blindspots, &joint.window).await?;
            let hot = match joint.surface {
                Surface::Hotspots => {
                    overlay_part(&caller, TileLayer::Hotspots, &joint.window).await?
                }
                Surface::Heat => None,
            };
            let heat = match (joint.surface, format) {
                (Surface::Heat, Format::Png(_)) => {
                    part(
                        &caller,
                        TileLayer::Heat,
                        Layer::Incidents,
                        id,
                        joint.filter.clone(),
                    )
                    .await?
                }
                _ => None,
            };
            let mut parts = Vec::new();
            for (layer, source) in JOINT_STORE {
                if let Some(c) = part(&caller, layer, source, id, joint.filter.clone()).await? {
                    parts.push((layer, c));
                }
            }
            let anchor = caller.access.gate.policy().grid_anchor;
            caller
                .access
                .blocking(move |_| {
                    let mut n = 0u64;
                    let bytes = match format {
                        Format::Mvt => {
                            let mut layers = Vec::new();
                            if let Some(b) = &blind {
                                let l = mvt::overlay_layer(
                                    TileLayer::Blindspots,
                                    id,
                                    cells_for(&b.overlay, id),
                                );
                                n += l.len() as u64;
                                layers.push(l);
                            }
                            if let Some(h) = &hot {
                                let l = mvt::overlay_layer(
                                    TileLayer::Hotspots,
                                    id,
                                    cells_for(&h.overlay, id).filter(significant),
                                );
                                n += l.len() as u64;
                                layers.push(l);
                            }
                            for (layer, c) in &parts {
                                let l = mvt::content_layer(*layer, id, c);
                                n += l.len() as u64;
                                layers.push(l);
                            }
                            mvt::tile(&layers)
                        }
                        Format::Png(scale) => {
                            let mut canvas = Canvas::new(id, scale).map_err(ApiError::internal)?;
                            let heat_params = HeatParams {
                                anchor,
                                bandwidth_m: tiles::HEAT_BANDWIDTH_M,
                            };
                            if let Some(b) = &blind {
                                canvas.overlay(TileLayer::Blindspots, cells_for(&b.overlay, id));
                            }
                            if let Some(h) = &hot {
                                canvas.overlay(
                                    TileLayer::Hotspots,
                                    cells_for(&h.overlay, id).filter(significant),
                                );
                            }
                            if let Some(c) = &heat {
                                canvas
                                    .content(TileLayer::Heat, c, &heat_params)
                                    .map_err(ApiError::internal)?;
                            }
                            for (layer, c) in &parts {
                                canvas
                                    .content(*layer, c, &heat_params)
                                    .map_err(ApiError::internal)?;
                                n += match c {
                                    TileContent::Features(f) => f.len(),
                                    TileContent::Cells { cells, .. } => cells.len(),
                                } as u64;
                            }
                            canvas.png().map_err(ApiError::internal)?
                        }
                    };
                    Ok(Encoded::new(bytes, n))
                })
                .await?
        })
        .await
}

/// The vector layers of an overlay for TileJSON: `id` and its attributes.
pub(super) fn overlay_fields(layer: TileLayer) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), "String".into());
    for (name, ty) in overlay::attributes(layer) {
        m.insert((*name).into(), (*ty).into());
    }
    m
}

/// The vector layers of the joint map the caller gets: the overlays, and
/// each store layer the caller has a tile of, with its fields.
pub(super) fn joint_vector_layers(caller: &Caller) -> Vec<Value> {
    let mut out = Vec::new();
    for layer in [TileLayer::Blindspots, TileLayer::Hotspots] {
        out.push(serde_json::json!({
            "id": layer.name(),
            "description": super::description(layer, true),
            "fields": overlay_fields(layer),
        }));
    }
    for (layer, source) in JOINT_STORE {
        let fields = match caller.access.gate.tile_kind(&caller.principal, source) {
            Ok(TileKind::Features) => super::vector_fields(caller, source),
            Ok(TileKind::Cells) => {
                let mut m = Map::new();
                m.insert("count".into(), "Number".into());
                m
            }
            Err(_) => continue,
        };
        out.push(serde_json::json!({
            "id": layer.name(),
            "description": super::description(layer, true),
            "fields": fields,
        }));
    }
    out
}

/// Checks the parameters of a TileJSON request of overlay or joint
/// `layer` (without `f`) as its tiles will: an error names the parameter.
pub(super) fn check_params(layer: TileLayer, pairs: &[(String, String)]) -> Result<(), ApiError> {
    match layer {
        TileLayer::Hotspots | TileLayer::Moran => parse::<HotspotRequest>(layer, pairs).map(drop),
        TileLayer::Presence => parse::<CoverageRequest>(layer, pairs).map(drop),
        TileLayer::Risk | TileLayer::Blindspots => {
            parse::<BlindspotRequest>(layer, pairs).map(drop)
        }
        TileLayer::Joint => joint_params(pairs).map(drop),
        other => Err(ApiError::not_found(format!("{other} is not an overlay"))),
    }
}

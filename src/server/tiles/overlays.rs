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
use crate::access::TileKind;
use crate::render::tiles::cut::{self, OverlayAnalysis, TileFormat, JOINT_STORE};
pub use crate::render::tiles::cut::{overlay_fields, Surface};
use crate::render::tiles::{Overlay, TileId, TileLayer};
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

/// The parameters a tile of `layer` may not take: the analysis's local
/// ones, and those a layer sets itself.
fn refused_params<A: AnalysisRequest>(layer: TileLayer) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = A::LOCAL_ONLY.to_vec();
    v.extend(cut::refused_params(layer));
    v
}

fn parse<A: AnalysisRequest>(layer: TileLayer, pairs: &[(String, String)]) -> Result<A, ApiError> {
    parse_args(
        pairs,
        &format!("/tiles/{layer}"),
        &refused_params::<A>(layer),
    )
}

/// The analysis request behind overlay `layer` for the tile parameters
/// `pairs`, parsed by the analysis's own definitions as `/tiles/{layer}`
/// takes them (the command line's packages parse theirs here too).
pub fn overlay_request(
    layer: TileLayer,
    pairs: &[(String, String)],
) -> Result<OverlayAnalysis, ApiError> {
    Ok(match layer {
        TileLayer::Hotspots | TileLayer::Moran => {
            OverlayAnalysis::Hotspots(parse::<HotspotRequest>(layer, pairs)?)
        }
        TileLayer::Presence => OverlayAnalysis::Coverage(parse::<CoverageRequest>(layer, pairs)?),
        TileLayer::Risk | TileLayer::Blindspots => {
            let mut r: BlindspotRequest = parse(layer, pairs)?;
            r.cells = cut::wants_cells(layer);
            OverlayAnalysis::Blindspots(r)
        }
        other => return Err(ApiError::not_found(format!("{other} is not an overlay"))),
    })
}

/// The gated GeoJSON behind overlay `layer` for the caller, as
/// `/analysis/*` gives it (and from the same cache).
async fn product(
    caller: &Caller,
    layer: TileLayer,
    pairs: &[(String, String)],
) -> Result<Encoded, ApiError> {
    match overlay_request(layer, pairs)? {
        OverlayAnalysis::Hotspots(r) => caller.analyse(r, None).await,
        OverlayAnalysis::Coverage(r) => caller.analyse(r, None).await,
        OverlayAnalysis::Blindspots(r) => caller.analyse(r, None).await,
    }
}

/// The tile format of the route's.
fn tile_format(format: Format) -> TileFormat {
    match format {
        Format::Png(scale) => TileFormat::Png(scale),
        Format::Mvt => TileFormat::Mvt,
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
                    let (bytes, n) =
                        cut::overlay_tile(layer, &parsed.overlay, id, tile_format(format))
                            .map_err(ApiError::internal)?;
                    Ok(Encoded::new(bytes, n))
                })
                .await?
        })
        .await
}

/// The joint map's parameters: `surface`, and the window passed to every
/// part.
#[derive(Debug, Clone)]
pub struct Joint {
    /// What is drawn under the store layers.
    pub surface: Surface,
    /// `from` and `to` as given: the overlays' parameters.
    pub window: Vec<(String, String)>,
    /// The same window as the store layers' filter.
    pub filter: FilterArgs,
}

/// The joint map's parameters from the tile parameters `pairs`, as
/// `/tiles/joint` takes them (the command line's packages too).
pub fn joint_params(pairs: &[(String, String)]) -> Result<Joint, ApiError> {
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

/// An overlay part of the joint map: `None` when the caller may not have
/// it or it has nothing to compute on.
async fn overlay_part(
    caller: &Caller,
    layer: TileLayer,
    pairs: &[(String, String)],
) -> Result<Option<Arc<Parsed>>, ApiError> {
    match overlay_of(caller, layer, pairs).await {
        Ok(p) => Ok(Some(p)),
        Err(e) if joint_leaves_out(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether the joint map leaves out an overlay part that failed with
/// `e`: the role may not have it (403) or it has nothing to compute on
/// (400, e.g. an empty store).
pub fn joint_leaves_out(e: &ApiError) -> bool {
    matches!(e.status.as_u16(), 400 | 403)
}

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
            let access = caller.access.clone();
            let principal = caller.principal.clone();
            let format = tile_format(format);
            caller
                .access
                .blocking(move |store| {
                    let gate = &access.gate;
                    let now = chrono::Utc::now();
                    let parts = cut::joint_parts(
                        id,
                        joint.surface,
                        format,
                        &joint.filter,
                        &mut |req, each| match gate.tile_each(&principal, req, now, store, each) {
                            Ok(c) => Ok(Some(c)),
                            Err(crate::Error::Access(crate::access::AccessError::Forbidden {
                                ..
                            })) => Ok(None),
                            Err(e) => Err(e),
                        },
                    )
                    .map_err(refused)?;
                    let (bytes, n) = cut::joint_tile(
                        id,
                        format,
                        blind.as_ref().map(|b| &b.overlay),
                        hot.as_ref().map(|h| &h.overlay),
                        &parts,
                        gate.policy().grid_anchor,
                    )
                    .map_err(ApiError::internal)?;
                    Ok(Encoded::new(bytes, n))
                })
                .await?
        })
        .await
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

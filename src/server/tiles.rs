//! Map tiles: `GET /tiles/{layer}/{z}/{x}/{y}.png` (256 px),
//! `.../{y}@2x.png` (512 px), `.../{y}.mvt` (Mapbox Vector Tile) and
//! `GET /tiles/{layer}.json` (TileJSON 3.0.0).
//!
//! Every tile is drawn from what [`crate::access::Gate::tile`] gives the
//! caller's role; this module parses, caches and answers. Query parameters
//! are the analyses' event filter (`from`, `to`, `category`, `perpetrator`,
//! `min-verification`, `min-precision`), parsed by the same definitions
//! ([`crate::request::events::FilterArgs`]); they are part of the cache key
//! and of the TileJSON's URL templates.
//!
//! Caching: one entry per layer, tile, format, parameters, role, policy,
//! hour (delays count in whole hours) and data version, so an ingest makes
//! every entry stale. The ETag is a digest of the bytes sent to the caller,
//! so it changes only when the caller's own tile does: a write the role
//! may not see leaves it unchanged.

use super::analysis::{accepts_gzip, parse_args};
use super::auth::{counted, Caller};
use super::cache::Encoded;
use super::ogc;
use super::params;
use super::problem::{self, ApiError};
use crate::access::{TileKind, TileRequest};
use crate::model::{FieldKind, Layer};
use crate::render::tiles::{self, HeatParams, Scale, TileId, TileLayer, BUFFER_PX, MAX_ZOOM};
use crate::request::events::FilterArgs;
use axum::extract::{Path, RawQuery};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};

pub mod overlays;

/// `Cache-Control` of tiles and TileJSON: private (they depend on the
/// token), fresh for a minute, then revalidated by ETag.
const CACHE_CONTROL: &str = "private, max-age=60";

/// Filter parameters a tile does not take: its bounds are the box, and
/// tiles count events.
pub const NOT_FOR_TILES: &[&str] = &["bbox", "weight"];

/// The tile routes.
pub fn routes<S: Clone + Send + Sync + 'static>(r: Router<S>) -> Router<S> {
    r.route("/tiles/{layer}/{z}/{x}/{y}", get(tile))
        .route("/tiles/{file}", get(tilejson))
}

/// A tile's format, from the last path segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Png(Scale),
    Mvt,
}

impl Format {
    fn media_type(self) -> &'static str {
        match self {
            Format::Png(_) => "image/png",
            Format::Mvt => "application/vnd.mapbox-vector-tile",
        }
    }
}

/// `{y}.png`, `{y}@2x.png` or `{y}.mvt`.
fn split_y(file: &str) -> Result<(u32, Format), ApiError> {
    let (y, format) = if let Some(y) = file.strip_suffix("@2x.png") {
        (y, Format::Png(Scale::X2))
    } else if let Some(y) = file.strip_suffix(".png") {
        (y, Format::Png(Scale::X1))
    } else if let Some(y) = file.strip_suffix(".mvt") {
        (y, Format::Mvt)
    } else {
        return Err(ApiError::not_found(
            "a tile is {y}.png, {y}@2x.png or {y}.mvt",
        ));
    };
    Ok((number("y", y)?, format))
}

fn number(name: &str, v: &str) -> Result<u32, ApiError> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) || v.len() > 9 {
        return Err(ApiError::not_found(format!(
            "tile {name} {v:?} is not a whole number"
        )));
    }
    v.parse()
        .map_err(|_| ApiError::not_found(format!("tile {name} {v:?} is out of range")))
}

fn layer(name: &str) -> Result<(TileLayer, Layer), ApiError> {
    let l: TileLayer = name.parse().map_err(ApiError::not_found)?;
    let source = l
        .source()
        .ok_or_else(|| ApiError::not_found(format!("layer {l} has no tiles on this server yet")))?;
    Ok((l, source))
}

fn filter(
    q: Option<&str>,
    endpoint: &str,
) -> Result<(FilterArgs, Vec<(String, String)>), ApiError> {
    let pairs = params::pairs(q);
    if pairs.is_empty() {
        // No parameter (most tile requests): the defaults, parsed once; building the
        // parser costs more than the rest of a cached tile.
        static NONE: std::sync::OnceLock<FilterArgs> = std::sync::OnceLock::new();
        if let Some(f) = NONE.get() {
            return Ok((f.clone(), pairs));
        }
        let f: FilterArgs = parse_args(&pairs, endpoint, NOT_FOR_TILES)?;
        return Ok((NONE.get_or_init(|| f).clone(), pairs));
    }
    let f: FilterArgs = parse_args(&pairs, endpoint, NOT_FOR_TILES)?;
    Ok((f, pairs))
}

/// A library error as a problem: a refusal by the gate is 403.
fn refused(e: crate::Error) -> ApiError {
    match e {
        crate::Error::Access(crate::access::AccessError::Forbidden { reason }) => {
            ApiError::forbidden(reason)
        }
        other => problem::from_crate(other),
    }
}

/// A hex SHA-256 digest (the first 16 bytes), as a strong ETag.
fn etag(bytes: &[u8]) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(bytes);
    let hex: String = d[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// The response to a conditional or plain request for `body`.
fn cached_response(
    headers: &HeaderMap,
    body: Encoded,
    media_type: &'static str,
    gzip_ok: bool,
) -> Response {
    let tag = body.tag(etag).to_string();
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == tag
        });
    let mut r = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let gzip = body
            .gzip
            .clone()
            .filter(|_| gzip_ok && accepts_gzip(headers));
        let compressed = gzip.is_some();
        let mut r = gzip.unwrap_or(body.plain.clone()).into_response();
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
        if compressed {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        r
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    h.insert(
        header::VARY,
        HeaderValue::from_static("authorization, accept-encoding"),
    );
    counted(r, if matches { 0 } else { body.features })
}

async fn tile(
    caller: Caller,
    headers: HeaderMap,
    Path((layer_name, z, x, file)): Path<(String, String, String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    if let Ok(l) = layer_name.parse::<TileLayer>() {
        if l.source().is_none() {
            return overlay_tile(caller, headers, l, (z, x, file), q).await;
        }
    }
    let (tile_layer, source) = layer(&layer_name)?;
    let (y, format) = split_y(&file)?;
    let id = TileId::new(number("z", &z)?, number("x", &x)?, y)
        .map_err(|e| ApiError::not_found(e.to_string()))?;
    if format == Format::Mvt && !tile_layer.has_vector() {
        return Err(ApiError::not_found(format!(
            "layer {tile_layer} is drawn as PNG only"
        )));
    }
    let (filter, _) = filter(q.as_deref(), "/tiles")?;
    let body = caller.tile(tile_layer, source, id, format, filter).await?;
    Ok(cached_response(
        &headers,
        body,
        format.media_type(),
        format == Format::Mvt,
    ))
}

/// A tile of an analysis overlay or of the joint map.
async fn overlay_tile(
    caller: Caller,
    headers: HeaderMap,
    layer: TileLayer,
    (z, x, file): (String, String, String),
    q: Option<String>,
) -> Result<Response, ApiError> {
    let (y, format) = split_y(&file)?;
    let id = TileId::new(number("z", &z)?, number("x", &x)?, y)
        .map_err(|e| ApiError::not_found(e.to_string()))?;
    let pairs = params::pairs(q.as_deref());
    let body = if layer == TileLayer::Joint {
        overlays::joint_tile(&caller, id, format, &pairs).await?
    } else {
        overlays::overlay_tile(&caller, layer, id, format, &pairs).await?
    };
    Ok(cached_response(
        &headers,
        body,
        format.media_type(),
        format == Format::Mvt,
    ))
}

impl Caller {
    /// The tile `id` of `layer` in `format` for the caller, cached.
    async fn tile(
        &self,
        layer: TileLayer,
        source: Layer,
        id: TileId,
        format: Format,
        filter: FilterArgs,
    ) -> Result<Encoded, ApiError> {
        let gate = &self.access.gate;
        let now = chrono::Utc::now();
        let version = self.access.version().await?;
        let key = format!(
            "tiles\n{layer}\n{}/{}/{}\n{format:?}\n{filter:?}\n{}\n{}\n{}\n{version}",
            id.z,
            id.x,
            id.y,
            self.principal.role,
            gate.policy_sha256(),
            crate::access::hour(now).timestamp(),
        );
        let access = self.access.clone();
        let principal = self.principal.clone();
        self.access
            .cache
            .get_or_compute(key, || async move {
                let a2 = access.clone();
                access
                    .blocking(move |store| {
                        let gate = &a2.gate;
                        // Widened by the largest symbol and by what a
                        // feature of the layer reaches (a base's ring, the
                        // heat kernel), so that nothing stops at an edge.
                        let bbox = crate::request::widen_bbox(
                            id.buffered(BUFFER_PX, 256.0),
                            layer.reach_m(),
                        );
                        let req = TileRequest {
                            layer: source,
                            filter,
                            bbox,
                        };
                        // Streamed: a low-zoom tile keeps only its counts.
                        let content = tiles::stream::gather_one(layer, id, &req, &mut |r, each| {
                            gate.tile_each(&principal, r, now, store, each)
                        })
                        .map_err(refused)?;
                        let n = content.len();
                        let bytes = match format {
                            Format::Mvt => tiles::mvt::encode_of(layer, id, &content),
                            Format::Png(scale) => {
                                let heat = HeatParams {
                                    anchor: gate.policy().grid_anchor,
                                    bandwidth_m: tiles::HEAT_BANDWIDTH_M,
                                };
                                tiles::png_of(layer, id, scale, &content, &heat)
                                    .map_err(ApiError::internal)?
                            }
                        };
                        Ok(Encoded::new(bytes, n))
                    })
                    .await?
            })
            .await
    }
}

/// `GET /tiles/{layer}.json`: TileJSON 3.0.0 for the caller. `f=mvt`
/// names the vector tiles, otherwise the PNG tiles; filter parameters are
/// carried into the URL templates.
async fn tilejson(
    caller: Caller,
    headers: HeaderMap,
    Path(file): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let name = file
        .strip_suffix(".json")
        .ok_or_else(|| ApiError::not_found("no such path; see /api"))?;
    let (tile_layer, pairs, vector) = tilejson_params(name, q.as_deref())?;
    if tile_layer.source().is_none() {
        return overlay_tilejson(caller, headers, tile_layer, pairs, vector);
    }
    let (tile_layer, source) = layer(name)?;
    let mut pairs = params::pairs(q.as_deref());
    let mut vector = false;
    pairs.retain(|(k, v)| {
        if k == "f" {
            vector = v.eq_ignore_ascii_case("mvt");
            return false;
        }
        true
    });
    for (k, v) in params::pairs(q.as_deref()).iter().filter(|(k, _)| k == "f") {
        if !matches!(v.to_ascii_lowercase().as_str(), "mvt" | "png" | "json") {
            return Err(ApiError::param(k, "use png (the default) or mvt"));
        }
    }
    if vector && !tile_layer.has_vector() {
        return Err(ApiError::not_found(format!(
            "layer {tile_layer} is drawn as PNG only"
        )));
    }
    parse_args::<FilterArgs>(&pairs, "/tiles", NOT_FOR_TILES)?;
    let query = query_suffix(&pairs);
    let base = ogc::base(&caller);
    let ext = if vector { "mvt" } else { "png" };
    let individual = caller
        .access
        .gate
        .tile_kind(&caller.principal, source)
        .map_err(|e| refused(e.into()))?
        == TileKind::Features;
    let bounds = if individual {
        caller.extent(source).await?.bbox
    } else {
        None
    };
    let bounds = bounds.unwrap_or([-180.0, -85.051_128_779_806_6, 180.0, 85.051_128_779_806_6]);
    let mut doc = json!({
        "tilejson": "3.0.0",
        "name": format!("jointmap {tile_layer}"),
        "description": description(tile_layer, individual),
        "scheme": "xyz",
        "tiles": [format!("{base}/tiles/{tile_layer}/{{z}}/{{x}}/{{y}}.{ext}{query}")],
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "bounds": bounds,
        "center": [(bounds[0] + bounds[2]) / 2.0, (bounds[1] + bounds[3]) / 2.0, 6],
    });
    if tile_layer.has_vector() {
        let fields = if individual {
            vector_fields(&caller, source)
        } else {
            let mut m = Map::new();
            m.insert("count".into(), "Number".into());
            m
        };
        doc["vector_layers"] = json!([{
            "id": tile_layer.name(),
            "description": description(tile_layer, individual),
            "minzoom": 0,
            "maxzoom": MAX_ZOOM,
            "fields": fields,
        }]);
    }
    let body = serde_json::to_vec(&doc).map_err(ApiError::internal)?;
    Ok(cached_response(
        &headers,
        Encoded::new(body, 0),
        "application/json",
        true,
    ))
}

/// Query pairs.
type Pairs = Vec<(String, String)>;

/// The layer, the parameters without `f`, and whether `f=mvt`.
fn tilejson_params(name: &str, q: Option<&str>) -> Result<(TileLayer, Pairs, bool), ApiError> {
    let l: TileLayer = name.parse().map_err(ApiError::not_found)?;
    let mut pairs = params::pairs(q);
    let mut vector = false;
    for (k, v) in pairs.iter().filter(|(k, _)| k == "f") {
        match v.to_ascii_lowercase().as_str() {
            "mvt" => vector = true,
            "png" | "json" => vector = false,
            _ => return Err(ApiError::param(k, "use png (the default) or mvt")),
        }
    }
    pairs.retain(|(k, _)| k != "f");
    Ok((l, pairs, vector))
}

/// TileJSON of an overlay or of the joint map: world bounds (the
/// analysis area is the data's), the parameters carried into the URL
/// templates, and the vector layers with their fields.
/// The parameters as a query string to append to tile URLs (`?a=b&...`,
/// or nothing).
fn query_suffix(pairs: &[(String, String)]) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter())
        .finish();
    if query.is_empty() {
        query
    } else {
        format!("?{query}")
    }
}

fn overlay_tilejson(
    caller: Caller,
    headers: HeaderMap,
    layer: TileLayer,
    pairs: Vec<(String, String)>,
    vector: bool,
) -> Result<Response, ApiError> {
    overlays::check_params(layer, &pairs)?;
    let query = query_suffix(&pairs);
    let base = ogc::base(&caller);
    let ext = if vector { "mvt" } else { "png" };
    let bounds = [-180.0, -85.051_128_779_806_6, 180.0, 85.051_128_779_806_6];
    let vector_layers = if layer == TileLayer::Joint {
        overlays::joint_vector_layers(&caller)
    } else {
        vec![json!({
            "id": layer.name(),
            "description": description(layer, true),
            "minzoom": 0,
            "maxzoom": MAX_ZOOM,
            "fields": overlays::overlay_fields(layer),
        })]
    };
    let doc = json!({
        "tilejson": "3.0.0",
        "name": format!("jointmap {layer}"),
        "description": description(layer, true),
        "scheme": "xyz",
        "tiles": [format!("{base}/tiles/{layer}/{{z}}/{{x}}/{{y}}.{ext}{query}")],
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "bounds": bounds,
        "center": [0.0, 0.0, 2],
        "vector_layers": vector_layers,
    });
    let body = serde_json::to_vec(&doc).map_err(ApiError::internal)?;
    Ok(cached_response(
        &headers,
        Encoded::new(body, 0),
        "application/json",
        true,
    ))
}

fn description(layer: TileLayer, individual: bool) -> String {
    let overlay = match layer {
        TileLayer::Hotspots => Some("Getis-Ord Gi* class per cell (hot/cold at 99, 95, 90 % confidence, not significant; no class: not tested, too few events nearby), from /analysis/hotspots for this role"),
        TileLayer::Moran => Some("Local Moran type per cell (HH, LL: clusters; HL, LH: outliers; none: not significant), from /analysis/hotspots for this role"),
        TileLayer::Presence => Some("presence per cell (0-1: patrol effort, base reach, information), from /analysis/coverage for this role"),
        TileLayer::Risk => Some("risk level per cell (likelihood x impact: low, medium, high, extreme), from /analysis/blindspots?cells=true for this role"),
        TileLayer::Blindspots => Some("threat blind spots (hatched /) and information blind spots (hatched \\), from /analysis/blindspots for this role"),
        TileLayer::Joint => Some("the joint map: blind spots hatched under significant hot spots (or heat), patrols, bases, sites and incidents, each as this role may see them"),
        _ => None,
    };
    if let Some(how) = overlay {
        return format!("{layer}: {how}");
    }
    let how = if !individual {
        "counts per protection cell of the events released to this role (groups of at least k)"
    } else if layer == TileLayer::Heat {
        "kernel density of incidents (quartic, 10 km), events per km2 on a log viridis ramp"
    } else {
        "features as this role may see them; below zoom 9 (and on a PNG tile with over 4,096 points), point counts per 16-px screen cell"
    };
    format!("{layer}: {how}")
}

/// The attributes an MVT feature of `layer` may carry for the caller:
/// `id`, `count` (low zooms) and the schema fields the role's view shows.
fn vector_fields(caller: &Caller, layer: Layer) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), "String".into());
    m.insert("count".into(), "Number".into());
    for f in layer.fields() {
        if caller.hidden(layer, f.name) {
            continue;
        }
        let ty = match f.kind {
            FieldKind::Count
            | FieldKind::IntRange(..)
            | FieldKind::PositiveReal
            | FieldKind::Fraction => "Number",
            _ => "String",
        };
        m.insert(f.name.into(), ty.into());
    }
    m
}

/// The tile paths of the API document: `filter` are the filter
/// parameters (as the analyses document them), `problems` the problem
/// responses.
pub fn api_paths(filter: Vec<Value>, problems: Value) -> Vec<(String, Value)> {
    let layers: Vec<&str> = TileLayer::ALL.iter().map(|l| l.name()).collect();
    let path_param = |name: &str, schema: Value| json!({"name": name, "in": "path", "required": true, "schema": schema});
    let mut tile_params = vec![
        path_param("layer", json!({"type": "string", "enum": layers})),
        path_param(
            "z",
            json!({"type": "integer", "minimum": 0, "maximum": MAX_ZOOM}),
        ),
        path_param("x", json!({"type": "integer", "minimum": 0})),
        path_param("y", json!({"type": "integer", "minimum": 0})),
    ];
    tile_params.extend(filter.iter().cloned());
    let responses = |media: &str, what: &str| {
        let mut r = problems.clone();
        r["200"] = json!({"description": what, "content": {media: {"schema": {"type": "string", "format": "binary"}}}});
        r["304"] = json!({"description": "Not modified (If-None-Match matched the ETag)"});
        r
    };
    let op = |summary: &str, id: &str, params: &Vec<Value>, r: Value| json!({"get": {"summary": summary, "operationId": id, "parameters": params, "responses": r}});
    let mut json_params = vec![
        path_param("layer", json!({"type": "string", "enum": layers})),
        json!({"name": "f", "in": "query", "required": false,
               "description": "png (the default) or mvt: which tiles the document names.",
               "schema": {"type": "string", "enum": ["png", "mvt"]}}),
    ];
    json_params.extend(filter);
    let mut tilejson = problems.clone();
    tilejson["200"] = json!({"description": "TileJSON 3.0.0", "content": {"application/json": {"schema": {"type": "object"}}}});
    tilejson["304"] = json!({"description": "Not modified"});
    vec![
        (
            "/tiles/{layer}/{z}/{x}/{y}.png".into(),
            op(
                "A 256-px PNG tile of a layer, as your role may see it",
                "getTilePng",
                &tile_params,
                responses("image/png", "The tile"),
            ),
        ),
        (
            "/tiles/{layer}/{z}/{x}/{y}@2x.png".into(),
            op(
                "A 512-px PNG tile (the same map at twice the density)",
                "getTilePng2x",
                &tile_params,
                responses("image/png", "The tile"),
            ),
        ),
        (
            "/tiles/{layer}/{z}/{x}/{y}.mvt".into(),
            op(
                "A Mapbox Vector Tile of a layer (not heat), as your role may see it",
                "getTileMvt",
                &tile_params,
                responses("application/vnd.mapbox-vector-tile", "The tile"),
            ),
        ),
        (
            "/tiles/{layer}.json".into(),
            op(
                "TileJSON 3.0.0 of a layer's tiles for your role",
                "getTileJson",
                &json_params,
                tilejson,
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_names_parse_strictly() {
        assert_eq!(split_y("12.png").unwrap(), (12, Format::Png(Scale::X1)));
        assert_eq!(split_y("0@2x.png").unwrap(), (0, Format::Png(Scale::X2)));
        assert_eq!(split_y("7.mvt").unwrap(), (7, Format::Mvt));
        for bad in [
            "12",
            "12.jpg",
            ".png",
            "-1.png",
            "1e3.png",
            "+1.png",
            "9999999999.png",
            "１.png",
        ] {
            assert_eq!(split_y(bad).unwrap_err().status, 404, "{bad}");
        }
        assert!(layer("joint").is_err());
        assert!(tilejson_params("moran", Some("f=MVT&cell-km=5")).unwrap().2);
        assert!(tilejson_params("moran", Some("f=svg")).is_err());
        assert!(layer("nope").is_err());
        assert_eq!(layer("heat").unwrap().1, Layer::Incidents);
    }

    #[test]
    fn etags_are_digests_of_the_bytes() {
        assert_eq!(etag(b"a"), etag(b"a"));
        assert_ne!(etag(b"a"), etag(b"b"));
        assert_eq!(etag(b"").len(), 34);
    }
}

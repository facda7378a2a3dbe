//! OGC API - Features Part 1 (Core, GeoJSON, OpenAPI 3.0) over the layers
//! the caller may see individually, and ingest by POST.

use super::auth::{counted, Caller};
use super::params::{self, pairs};
use super::problem::ApiError;
use super::schema::{cql_queryables, SCHEMA_JSON};
use crate::model::{Crs, Layer};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// Media types.
pub const JSON: &str = "application/json";
/// GeoJSON.
pub const GEOJSON: &str = "application/geo+json";
/// The OpenAPI document.
pub const OPENAPI: &str = "application/vnd.oai.openapi+json;version=3.0";

/// CRS84, the only CRS served.
pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

/// Conformance classes.
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/schemas",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
];

/// Human titles of the layers.
pub fn title(layer: Layer) -> &'static str {
    match layer {
        Layer::Incidents => "Incidents against civilians",
        Layer::Sightings => "Armed-group sightings",
        Layer::Patrols => "Patrol tracks",
        Layer::Bases => "Bases and fixed presence",
        Layer::Sites => "Civilian sites",
    }
}

/// The collection named `id` (exact layer name), else 404.
pub fn layer(id: &str) -> Result<Layer, ApiError> {
    Layer::ALL
        .into_iter()
        .find(|l| l.name() == id)
        .ok_or_else(|| ApiError::not_found(format!("no collection {id:?}")))
}

/// Base URL of links: the configured public URL, else the address the
/// server listens on (only allowed on loopback). Never the `Host` header: a
/// client (or anything between) could point links at another site.
pub fn base(caller: &Caller) -> String {
    let s = caller.settings();
    match &s.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => format!("http://{}", s.listen),
    }
}

/// Refuses an `Accept` header that excludes JSON (406).
pub fn negotiate(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|a| a.to_str().ok()) else {
        return Ok(());
    };
    let a = accept.to_ascii_lowercase();
    if a.trim().is_empty() || a.contains("json") || a.contains("*/*") || a.contains("application/*")
    {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::NOT_ACCEPTABLE,
        "not-acceptable",
        "Not acceptable",
        format!("Accept {accept:?}: only application/json and application/geo+json are served"),
    ))
}

fn link(href: String, rel: &str, ty: &str, title: &str) -> Value {
    json!({"href": href, "rel": rel, "type": ty, "title": title})
}

/// A JSON response with a content type.
pub fn respond(body: impl Into<Bytes>, content_type: &'static str) -> Response {
    let mut r = body.into().into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// Marks the CRS of a response's coordinates (OGC API - Features Part 2).
fn with_crs(mut r: Response, crs: Crs) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("<{}>", crs.uri())) {
        r.headers_mut().insert("content-crs", v);
    }
    r
}

/// A feature's JSON with its geometry in `crs`.
fn in_crs(feature: &[u8], crs: Crs) -> Result<Vec<u8>, ApiError> {
    let mut v: Value = serde_json::from_slice(feature).map_err(ApiError::internal)?;
    crs.transform_geometry(&mut v["geometry"]);
    serde_json::to_vec(&v).map_err(ApiError::internal)
}

/// The CRSs a collection is served in: CRS84 (its storage CRS), EPSG:4326,
/// Web Mercator, and the UTM zones (at most three) of the extent the
/// caller is shown; any UTM zone on WGS 84 is accepted.
fn served_crs(bbox: Option<[f64; 4]>) -> Vec<String> {
    let mut out = vec![
        CRS84.to_string(),
        Crs::Epsg4326.uri(),
        Crs::WebMercator.uri(),
    ];
    if let Some(b) = bbox {
        out.extend(Crs::utm_zones(b, 3).into_iter().map(Crs::uri));
    }
    out
}

fn json_response(v: &Value, content_type: &'static str) -> Response {
    respond(serde_json::to_vec(v).unwrap_or_default(), content_type)
}

/// `GET /`
pub async fn landing(
    caller: Caller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    params::check_plain(&pairs(q.as_deref()), params::COMMON)?;
    negotiate(&headers)?;
    let b = base(&caller);
    let doc = json!({
        "title": "jointmap",
        "description": "Joint human-rights / military protection map: incidents, sightings, patrols, bases and civilian sites, shown on a need-to-know basis.",
        "links": [
            link(format!("{b}/"), "self", JSON, "This document"),
            link(format!("{b}/api"), "service-desc", OPENAPI, "The API definition (OpenAPI 3.0)"),
            link(format!("{b}/conformance"), "conformance", JSON, "Conformance classes"),
            link(format!("{b}/conformance"), "http://www.opengis.net/def/rel/ogc/1.0/conformance", JSON, "Conformance classes"),
            link(format!("{b}/collections"), "data", JSON, "The collections (layers) you may see"),
            link(format!("{b}/collections"), "http://www.opengis.net/def/rel/ogc/1.0/data", JSON, "The collections (layers) you may see"),
        ]
    });
    Ok(json_response(&doc, JSON))
}

/// `GET /conformance`
pub async fn conformance(
    _caller: Caller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    params::check_plain(&pairs(q.as_deref()), params::COMMON)?;
    negotiate(&headers)?;
    Ok(json_response(&json!({"conformsTo": CONFORMANCE}), JSON))
}

async fn collection_doc(caller: &Caller, b: &str, layer: Layer) -> Result<Value, ApiError> {
    let extent = caller.extent(layer).await?;
    let name = layer.name();
    let mut doc = json!({
        "id": name,
        "title": title(layer),
        "itemType": "feature",
        "crs": served_crs(extent.bbox),
        "storageCrs": CRS84,
        "links": [
            link(format!("{b}/collections/{name}"), "self", JSON, title(layer)),
            link(format!("{b}/collections/{name}/items"), "items", GEOJSON, &format!("{} (GeoJSON)", title(layer))),
            link(format!("{b}/collections/{name}/queryables"), "http://www.opengis.net/def/rel/ogc/1.0/queryables", SCHEMA_JSON, "The properties filters may use"),
            link(format!("{b}/collections/{name}/schema"), "http://www.opengis.net/def/rel/ogc/1.0/schema", SCHEMA_JSON, "The feature schema"),
            // GDAL's OAPIF driver matches this spelling exactly (relation
            // types compare case-insensitively, RFC 8288) and reads the
            // columns from a GeoJSON Feature schema.
            link(format!("{b}/collections/{name}/schema/geojson"), "describedBy", SCHEMA_JSON, "The GeoJSON feature schema"),
        ]
    });
    let mut ext = serde_json::Map::new();
    if let Some(bb) = extent.bbox {
        ext.insert("spatial".into(), json!({"bbox": [bb], "crs": CRS84}));
    }
    if let Some((a, z)) = extent.interval {
        ext.insert(
            "temporal".into(),
            json!({"interval": [[a, z]], "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}),
        );
    }
    if !ext.is_empty() {
        doc["extent"] = Value::Object(ext);
    }
    Ok(doc)
}

/// `GET /collections`
pub async fn collections(
    caller: Caller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    params::check_plain(&pairs(q.as_deref()), params::COMMON)?;
    negotiate(&headers)?;
    let b = base(&caller);
    let mut list = Vec::new();
    for layer in caller.collections() {
        list.push(collection_doc(&caller, &b, layer).await?);
    }
    let doc = json!({
        "links": [link(format!("{b}/collections"), "self", JSON, "The collections")],
        "collections": list,
    });
    Ok(json_response(&doc, JSON))
}

/// `GET /collections/{id}`
pub async fn collection(
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    params::check_plain(&pairs(q.as_deref()), params::COMMON)?;
    negotiate(&headers)?;
    let layer = layer(&id)?;
    caller.may_see(layer)?;
    let b = base(&caller);
    Ok(json_response(
        &collection_doc(&caller, &b, layer).await?,
        JSON,
    ))
}

fn query_with(pairs: &[(String, String)], cursor: Option<(&str, &str)>) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if k != "after" && k != "before" {
            s.append_pair(k, v);
        }
    }
    if let Some((k, v)) = cursor {
        s.append_pair(k, v);
    }
    let q = s.finish();
    if q.is_empty() {
        q
    } else {
        format!("?{q}")
    }
}

/// `GET /collections/{id}/items`
pub async fn items(
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let layer = layer(&id)?;
    caller.may_see(layer)?;
    negotiate(&headers)?;
    let pairs = pairs(q.as_deref());
    let paging = &caller.settings().paging;
    let query = params::items_query(
        layer,
        &pairs,
        paging.default_limit,
        paging.max_limit,
        &|n| caller.hidden(layer, n),
        &cql_queryables(&caller, layer)?,
    )?;
    let crs = query.crs;
    let page = caller.items(layer, query).await?;
    let b = base(&caller);
    let href = format!("{b}/collections/{id}/items");
    // `self` is this request as it came, cursor included.
    let this = match &q {
        Some(q) if !q.is_empty() => format!("{href}?{q}"),
        _ => href.clone(),
    };
    let mut links = vec![
        link(this, "self", GEOJSON, "This page"),
        link(
            format!("{b}/collections/{id}"),
            "collection",
            JSON,
            title(layer),
        ),
    ];
    if page.has_next {
        if let Some(last) = &page.last {
            links.push(link(
                format!("{href}{}", query_with(&pairs, Some(("after", last)))),
                "next",
                GEOJSON,
                "Next page",
            ));
        }
    }
    if page.has_prev {
        if let Some(first) = &page.first {
            links.push(link(
                format!("{href}{}", query_with(&pairs, Some(("before", first)))),
                "prev",
                GEOJSON,
                "Previous page",
            ));
        }
    }
    let n = page.features.len();
    let size: usize = page.features.iter().map(|f| f.len() + 1).sum();
    let mut out = Vec::with_capacity(size + 1024);
    out.extend_from_slice(br#"{"type":"FeatureCollection","features":["#);
    for (i, f) in page.features.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if crs == Crs::Crs84 {
            out.extend_from_slice(f);
        } else {
            out.extend_from_slice(&in_crs(f, crs)?);
        }
    }
    out.extend_from_slice(b"],\"links\":");
    serde_json::to_writer(&mut out, &links).map_err(ApiError::internal)?;
    // `numberMatched` is known for a layer held in memory; a layer paged
    // from the store would have to be read whole to count it (OGC API -
    // Features makes it optional).
    let mut tail = serde_json::Map::new();
    if let Some(m) = page.matched {
        tail.insert("numberMatched".into(), json!(m));
    }
    tail.insert("numberReturned".into(), json!(n));
    tail.insert(
        "timeStamp".into(),
        json!(crate::model::time::format_time(&chrono::Utc::now())),
    );
    out.push(b',');
    let tail = serde_json::to_vec(&tail).map_err(ApiError::internal)?;
    out.extend_from_slice(&tail[1..]);
    Ok(counted(with_crs(respond(out, GEOJSON), crs), n as u64))
}

/// `GET /collections/{id}/items/{featureId}`
pub async fn item(
    caller: Caller,
    Path((id, fid)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = pairs(q.as_deref());
    params::check_plain(&pairs, params::ITEM)?;
    let crs = match pairs.iter().find(|(k, _)| k == "crs") {
        Some((k, v)) => params::crs(k, v)?,
        None => Crs::Crs84,
    };
    let layer = layer(&id)?;
    caller.may_see(layer)?;
    negotiate(&headers)?;
    let bytes = caller.item(layer, &fid).await?;
    let mut v: Value = serde_json::from_slice(&bytes).map_err(ApiError::internal)?;
    crs.transform_geometry(&mut v["geometry"]);
    let b = base(&caller);
    let enc: String = form_urlencoded::byte_serialize(fid.as_bytes()).collect();
    let enc = enc.replace('+', "%20");
    v["links"] = json!([
        link(
            format!("{b}/collections/{id}/items/{enc}"),
            "self",
            GEOJSON,
            "This feature"
        ),
        link(
            format!("{b}/collections/{id}"),
            "collection",
            JSON,
            title(layer)
        ),
    ]);
    Ok(counted(with_crs(json_response(&v, GEOJSON), crs), 1))
}

/// `POST /collections/{id}/items`: a Feature or FeatureCollection, all or
/// nothing. The right to ingest was checked before the body (see
/// [`super::auth::authenticate`]); the body is read here, in one of
/// `ingest_concurrency` slots and within `ingest_body_timeout_s`.
pub async fn ingest(
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    params::check_plain(&pairs(q.as_deref()), params::COMMON)?;
    let layer = layer(&id)?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .unwrap_or("");
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !matches!(media.as_str(), "application/geo+json" | "application/json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            format!("Content-Type {ct:?}: send application/geo+json"),
        ));
    }
    caller.may_ingest(layer)?;
    let body = {
        let _reading = caller.ingest_slot()?;
        let secs = caller.settings().limits.ingest_body_timeout_s;
        let read = <Bytes as axum::extract::FromRequest<()>>::from_request(request, &());
        match tokio::time::timeout(std::time::Duration::from_secs(secs), read).await {
            Ok(Ok(body)) => body,
            // Too large (413) or broken: the extractor's own answer.
            Ok(Err(rejection)) => return Ok(rejection.into_response()),
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request-timeout",
                    "Request timeout",
                    format!("the request body did not arrive within {secs} s"),
                ))
            }
        }
    };
    let report = caller.ingest(layer, body).await?;
    // No created/updated split: it would say whether an id was in use
    // (docs/security.md). The server's log keeps it.
    let doc = json!({
        "layer": layer.name(),
        "read": report.read,
        "accepted": report.stored,
    });
    let mut r = json_response(&doc, JSON);
    *r.status_mut() = StatusCode::CREATED;
    let b = base(&caller);
    if let Ok(v) = HeaderValue::from_str(&format!("{b}/collections/{id}/items")) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(counted(r, report.stored))
}

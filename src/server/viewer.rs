//! The joint map viewer: `/` for browsers, its static assets under
//! `/viewer/`, and the country-outline basemap.
//!
//! `/` is negotiated: a browser (`Accept` ranks `text/html` at least as high
//! as JSON, and no `f` other than `html`) gets the viewer's page; anything
//! else (`?f=json`, `Accept: application/json`, `*/*`, no `Accept`) gets the
//! OGC landing page from [`ogc::landing`], behind the token as before.
//!
//! The assets are compiled into the binary and hold no data: the page signs
//! in with a bearer token it sends on every data request, so the assets (and
//! the public basemap) are served without one. [`is_public`] is the only
//! test [`super::auth::authenticate`] applies, and it admits exactly the
//! asset paths, the basemap path and the negotiated page: nothing a route
//! answers with data.

mod basemap;

use super::auth::{Access, Caller};
use super::ogc;
use axum::extract::{FromRequestParts, RawQuery, Request};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::Digest;
use std::sync::{Arc, LazyLock};

/// One embedded file.
struct Asset {
    /// Where it is served.
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $file:literal, $ty:literal) => {
        Asset {
            path: $path,
            content_type: $ty,
            body: include_bytes!(concat!("viewer/", $file)),
        }
    };
}

/// The page served at `/`.
const INDEX: Asset = asset!("/", "index.html", "text/html; charset=utf-8");

/// Every asset under `/viewer/`.
const ASSETS: [Asset; 7] = [
    asset!(
        "/viewer/viewer.js",
        "viewer.js",
        "text/javascript; charset=utf-8"
    ),
    asset!(
        "/viewer/viewer.css",
        "viewer.css",
        "text/css; charset=utf-8"
    ),
    asset!(
        "/viewer/i18n/en.json",
        "i18n/en.json",
        "application/json; charset=utf-8"
    ),
    asset!(
        "/viewer/i18n/fr.json",
        "i18n/fr.json",
        "application/json; charset=utf-8"
    ),
    asset!(
        "/viewer/leaflet/leaflet.js",
        "vendor/leaflet/leaflet.js",
        "text/javascript; charset=utf-8"
    ),
    asset!(
        "/viewer/leaflet/leaflet.css",
        "vendor/leaflet/leaflet.css",
        "text/css; charset=utf-8"
    ),
    asset!(
        "/viewer/leaflet/LICENSE",
        "vendor/leaflet/LICENSE",
        "text/plain; charset=utf-8"
    ),
];

/// Where the simplified country outlines are served, when configured.
pub const BASEMAP_PATH: &str = "/basemap/countries.geojson";

/// Scripts, styles, fetches and images from jointmap only (tiles are shown
/// from `blob:` URLs made of fetched bytes); no inline script or style, no
/// plugin, no frame, no form posting elsewhere.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' blob: data:; connect-src 'self'; font-src 'self'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Every response is revalidated: an asset changes only with the binary,
/// and a field office keeps it with its ETag.
const CACHE: &str = "no-cache";

/// A strong ETag for a body: its SHA-256, shortened.
pub(super) fn etag_of(body: &[u8]) -> String {
    let d = sha2::Sha256::digest(body);
    let hex: String = d[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

static INDEX_TAG: LazyLock<String> = LazyLock::new(|| etag_of(INDEX.body));
static ASSET_TAGS: LazyLock<Vec<String>> =
    LazyLock::new(|| ASSETS.iter().map(|a| etag_of(a.body)).collect());

/// Whether `If-None-Match` names `tag` (or is `*`); weak tags compare by
/// their opaque part, as RFC 9110 asks for this header.
fn not_modified(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag)
}

/// A static body with its type, ETag, cache and security headers; `304`
/// when the client holds it already.
pub(super) fn static_response(
    headers: &HeaderMap,
    body: axum::body::Body,
    content_type: &'static str,
    tag: &str,
) -> Response {
    let mut r = if not_modified(headers, tag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = body.into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        r
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(tag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

/// The quality a client's `Accept` gives a media type: the most specific
/// range that matches it (`type/sub`, then `type/*`, then `*/*`), 0 when
/// none does.
fn quality(accept: &str, ty: &str) -> f32 {
    let (major, _) = ty.split_once('/').unwrap_or((ty, ""));
    let mut best: Option<(u8, f32)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .filter(|q| q.is_finite())
            .unwrap_or(1.0)
            .clamp(0.0, 1.0);
        let specificity = if media == ty {
            3
        } else if media.strip_suffix("/*") == Some(major) {
            2
        } else if media == "*/*" {
            1
        } else {
            continue;
        };
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, q));
        }
    }
    best.map_or(0.0, |(_, q)| q)
}

/// Whether a request for `/` gets the viewer: `GET`/`HEAD`, `f` absent or
/// `html`, and `Accept` ranking `text/html` above zero and at least as high
/// as JSON. `f=html` alone asks for the page too.
pub fn wants_viewer(method: &Method, query: Option<&str>, headers: &HeaderMap) -> bool {
    if method != Method::GET && method != Method::HEAD {
        return false;
    }
    let f: Vec<String> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "f")
        .map(|(_, v)| v.into_owned())
        .collect();
    match f.as_slice() {
        [] => {}
        [v] if v.eq_ignore_ascii_case("html") => return true,
        _ => return false,
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .unwrap_or("");
    let html = quality(accept, "text/html");
    let json = ["application/json", "application/geo+json"]
        .iter()
        .map(|t| {
            // A bare `*/*` (most HTTP libraries) is not a browser.
            if accept.contains("json") {
                quality(accept, t)
            } else {
                0.0
            }
        })
        .fold(0.0f32, f32::max);
    html > 0.0 && accept.contains("html") && html >= json
}

/// Whether `req` may be answered without a token: a `GET`/`HEAD` of an
/// embedded asset, of the basemap, or of `/` negotiated to the viewer.
/// None of these carries data from the store.
pub fn is_public(req: &Request) -> bool {
    let (method, uri) = (req.method(), req.uri());
    if method != Method::GET && method != Method::HEAD {
        return false;
    }
    match uri.path() {
        "/" => wants_viewer(method, uri.query(), req.headers()),
        BASEMAP_PATH => true,
        p => ASSETS.iter().any(|a| a.path == p),
    }
}

/// `GET /`: the viewer for browsers, the OGC landing page (token required)
/// for everything else.
pub async fn index(req: Request) -> Response {
    let mut r = if wants_viewer(req.method(), req.uri().query(), req.headers()) {
        static_response(
            req.headers(),
            INDEX.body.into(),
            INDEX.content_type,
            &INDEX_TAG,
        )
    } else {
        let (mut parts, _) = req.into_parts();
        match Caller::from_request_parts(&mut parts, &()).await {
            Ok(caller) => {
                let query = RawQuery(parts.uri.query().map(str::to_string));
                ogc::landing(caller, parts.headers, query)
                    .await
                    .into_response()
            }
            Err(e) => e.into_response(),
        }
    };
    r.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    r
}

/// Adds the asset routes (and the basemap's, when `access` names one).
pub fn routes(mut r: Router<Arc<Access>>, access: &Access) -> Router<Arc<Access>> {
    for (i, a) in ASSETS.iter().enumerate() {
        r = r.route(
            a.path,
            get(move |headers: HeaderMap| async move {
                static_response(&headers, a.body.into(), a.content_type, &ASSET_TAGS[i])
            }),
        );
    }
    match &access.settings.basemap {
        Some(path) => {
            let map = Arc::new(basemap::Basemap::new(path.clone()));
            r.route(
                BASEMAP_PATH,
                get(move |headers: HeaderMap| async move { map.respond(&headers).await }),
            )
        }
        None => r,
    }
}

#[cfg(test)]
mod tests;

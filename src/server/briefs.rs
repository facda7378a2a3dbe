//! `GET /products/briefs/{kind}?as-of=...&lang=...`: the mission's briefs
//! for the caller's role. Every part of a brief runs through the access
//! gate for the caller ([`crate::render::brief::through_gate`]), so a
//! brief holds only what the role would receive from the analyses one by
//! one. The query parameters are the command's flags without the dashes
//! (the same clap definitions); `f=html|geojson|json|csv`, else HTML when
//! `Accept` ranks `text/html` at least as high as JSON, else GeoJSON.
//! `/products/{kind}` is the same route under the shorter name.

use super::auth::{counted, Caller};
use super::params;
use super::problem::{self, ApiError};
use crate::access::Budget;
use crate::render::brief::{self, BriefFormat};
use crate::request::brief::{Brief, BriefKind, BriefRequest};
use axum::extract::{Path, RawQuery};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The brief routes: `/products/briefs/{kind}` and its short form
/// `/products/{kind}`.
pub fn routes<S: Clone + Send + Sync + 'static>(r: Router<S>) -> Router<S> {
    r.route("/products/briefs/{kind}", get(handle))
        .route("/products/{kind}", get(handle))
}

/// The format `f` names.
fn format(v: &str) -> Result<BriefFormat, ApiError> {
    match v.to_ascii_lowercase().as_str() {
        "html" => Ok(BriefFormat::Html),
        "geojson" | "json" => Ok(BriefFormat::Geojson),
        "csv" => Ok(BriefFormat::Csv),
        _ => Err(ApiError::param(
            "f",
            format!("{v:?} is not an available format; use html, geojson, json or csv"),
        )),
    }
}

async fn handle(
    caller: Caller,
    Path(kind): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let kind: BriefKind = kind.parse().map_err(ApiError::not_found)?;
    let mut f = None;
    let mut rest = Vec::new();
    for (k, v) in params::pairs(q.as_deref()) {
        if k == "f" {
            f = Some(format(&v)?);
        } else {
            rest.push((k, v));
        }
    }
    let format = f.unwrap_or(
        if super::viewer::wants_viewer(&Method::GET, None, &headers) {
            BriefFormat::Html
        } else {
            BriefFormat::Geojson
        },
    );
    let endpoint = format!("/products/briefs/{}", kind.as_str());
    let mut req: BriefRequest = super::analysis::parse_args(&rest, &endpoint, &[])?;
    let access = caller.access.clone();
    if let (BriefKind::QuarterlyOutlook, Some(p)) = (kind, &access.settings.calendar) {
        // The configured file only; a bad edit since start-up names it.
        let cal = crate::request::brief::outlook::load_calendar(p)
            .map_err(|e| ApiError::internal(format!("[briefs] calendar: {e}")))?;
        req.calendar = Some(cal);
    }
    let limits = &access.settings.limits;
    let budget = Budget {
        min_cell_km: limits.min_cell_km,
        max_h3_resolution: limits.max_h3_resolution,
        max_permutations: limits.max_permutations,
        max_cells: limits.max_cells,
        max_output_cells: limits.max_output_cells,
    };
    let _permit = access
        .analysis_permits
        .acquire()
        .await
        .map_err(|_| ApiError::unavailable("shutting down"))?;
    let principal = caller.principal.clone();
    let a2 = access.clone();
    let (bytes, n) = access
        .blocking(move |store| {
            let now = chrono::Utc::now();
            let role = principal.role.as_str().to_string();
            let b = Brief::assemble(kind, &req, Some(role), &mut |part| {
                brief::through_gate(&a2.gate, &principal, &budget, now, store, part)
            })
            .map_err(problem::from_crate)?;
            brief::encode(&b, format).map_err(ApiError::internal)
        })
        .await??;
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.media_type()),
    );
    h.insert(
        header::VARY,
        HeaderValue::from_static("accept, authorization"),
    );
    // Made for the caller's role: no shared cache may keep it for another.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if format == BriefFormat::Html {
        // The document needs nothing from anywhere: no script, no fetch.
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; img-src data:; style-src 'unsafe-inline'",
            ),
        );
    }
    Ok(counted(r, n))
}

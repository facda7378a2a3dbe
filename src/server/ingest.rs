//! Ingest by `POST /collections/{id}/items`: the body through the CLI's
//! validation, each feature through the gate's ownership rules, one atomic
//! batch.

use super::problem::{self, ApiError};
use crate::ingest::{IngestError, IngestOptions, IngestReport, Input, WriteCheck};
use crate::model::{Layer, RawFeature};
use crate::store::Store;
use axum::http::StatusCode;
use serde_json::Value;

/// Ingests a request body (a Feature or FeatureCollection) into `layer`, all
/// or nothing, every valid feature passing `check`; replaced versions are
/// recorded as `author`'s.
pub(super) fn ingest_body(
    store: &dyn Store,
    layer: Layer,
    body: &[u8],
    check: WriteCheck,
    author: String,
    bounds: crate::model::Bounds,
) -> Result<IngestReport, ApiError> {
    let mut raws: Vec<RawFeature> = Vec::new();
    crate::ingest::geojson::read_features(body, &mut |f| {
        raws.push(f);
        Ok(())
    })
    .map_err(|reason| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-geojson",
            "Invalid GeoJSON",
            format!("request body: {reason}; nothing was stored"),
        )
    })?;
    if raws.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-geojson",
            "Invalid GeoJSON",
            "request body: no feature; nothing was stored",
        ));
    }
    // Rejected features are written verbatim to a rejects file: keep it in a
    // private temporary directory removed right after.
    let dir = tempfile::tempdir().map_err(ApiError::internal)?;
    let mut opts = IngestOptions::new(layer);
    opts.rejects = dir.path().join("rejects.ndjson");
    opts.write_check = Some(check);
    opts.author = author;
    opts.bounds = bounds;
    let input = Input::Features {
        name: "request body".into(),
        features: Box::new(raws.into_iter().map(|r| r.text)),
    };
    match crate::ingest::ingest(store, &opts, vec![input], &|_, _| {}) {
        Ok(mut report) => {
            report.rejects_file = None;
            Ok(report)
        }
        Err(IngestError::Invalid {
            rejections, total, ..
        }) => {
            let mut errors = Vec::new();
            for r in &rejections {
                for p in &r.problems {
                    errors.push(serde_json::json!({
                        "index": r.index, "id": r.id, "field": p.field, "reason": p.reason
                    }));
                }
            }
            let mut e = ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid-features",
                "Invalid features",
                format!(
                    "{} of {total} features rejected; nothing was stored",
                    rejections.len()
                ),
            );
            e.extra
                .insert("rejected".into(), Value::from(rejections.len()));
            e.extra.insert("total".into(), Value::from(total));
            e.extra.insert("errors".into(), Value::Array(errors));
            Err(e)
        }
        // One wording whatever the cause (a hidden stored record reads like
        // an owner the token may not write): see access::Gate::may_write.
        Err(IngestError::Refused {
            index, id, reason, ..
        }) => {
            let mut e = ApiError::forbidden(format!(
                "feature #{index} (id {id:?}): {reason}; nothing was stored"
            ));
            e.extra.insert("index".into(), Value::from(index));
            e.extra.insert("id".into(), Value::String(id));
            Err(e)
        }
        Err(IngestError::Syntax { reason, .. }) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-geojson",
            "Invalid GeoJSON",
            format!("request body: {reason}"),
        )),
        Err(other) => Err(problem::from_crate(other.into())),
    }
}

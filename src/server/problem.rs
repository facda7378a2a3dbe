//! Errors as RFC 9457 problem details (`application/problem+json`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

/// Base of the problem type URIs (documented in docs/api.md).
pub const TYPE_BASE: &str = "https://jointmap.invalid/problems/";

/// An error answered to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Short slug appended to [`TYPE_BASE`].
    pub kind: &'static str,
    /// One line for people.
    pub title: &'static str,
    /// What exactly was wrong.
    pub detail: String,
    /// Extra members (e.g. `parameter`, `errors`).
    pub extra: Box<Map<String, Value>>,
}

impl ApiError {
    /// A problem with no extra members.
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            kind,
            title,
            detail: detail.into(),
            extra: Box::default(),
        }
    }

    /// 400 naming the parameter and the reason.
    pub fn param(name: &str, reason: impl std::fmt::Display) -> Self {
        let mut e = ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            "Invalid parameter",
            format!("parameter `{name}`: {reason}"),
        );
        e.extra
            .insert("parameter".into(), Value::String(name.to_string()));
        e
    }

    /// 401 (missing or unknown token).
    pub fn unauthorized(detail: &str) -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
            detail,
        )
    }

    /// 403.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    /// 500; the detail is logged, the client gets a generic text.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server failed; the error is in its log",
        )
    }

    /// 503 (the store is busy or a computation took too long).
    pub fn unavailable(detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            detail,
        )
    }

    /// The problem document.
    pub fn body(&self) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), json!(format!("{TYPE_BASE}{}", self.kind)));
        m.insert("title".into(), json!(self.title));
        m.insert("status".into(), json!(self.status.as_u16()));
        m.insert("detail".into(), json!(self.detail));
        m.extend((*self.extra).clone());
        Value::Object(m)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.body()).unwrap_or_default();
        let mut r = (self.status, body).into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"jointmap\""),
            );
        }
        r
    }
}

/// 400 for a grid over the server's cell budget, naming the grid parameter
/// and the limit (`max_cells`, also given as `limit` and `max_cells`).
pub fn too_many_cells(kind: crate::grid::GridKind, estimate: f64, max_cells: usize) -> ApiError {
    use crate::grid::GridKind;
    let (name, advice) = match kind {
        GridKind::Square { cell_m } => (
            "cell-km",
            format!(
                "{} km cells would make about {estimate:.0} cells over the analysis area",
                cell_m / 1000.0
            ),
        ),
        GridKind::H3 { resolution } => (
            "h3-resolution",
            format!(
                "H3 resolution {resolution} would make about {estimate:.0} cells over the analysis area"
            ),
        ),
    };
    let mut e = ApiError::param(
        name,
        format!(
            "{advice}, more than this server's limit of {max_cells} cells per request \
             (max_cells; max_output_cells with all-cells=true): use {} or a smaller bbox",
            if name == "cell-km" {
                "larger cells"
            } else {
                "a coarser resolution"
            }
        ),
    );
    e.extra.insert("limit".into(), Value::from("max_cells"));
    e.extra.insert("max_cells".into(), Value::from(max_cells));
    e
}

/// Maps a library error to a problem: the caller's fault is 400 naming the
/// parameter, anything else 500.
pub fn from_crate(e: crate::Error) -> ApiError {
    use crate::analysis::AnalysisError;
    use crate::grid::GridError;
    match e {
        crate::Error::Analysis(AnalysisError::InvalidParameter { name, reason })
        | crate::Error::Analysis(AnalysisError::Grid(GridError::InvalidParameter {
            name,
            reason,
        })) => ApiError::param(name, reason),
        crate::Error::Analysis(AnalysisError::Grid(GridError::TooManyCells {
            kind,
            estimate,
            max_cells,
        })) => too_many_cells(kind, estimate, max_cells),
        crate::Error::Analysis(AnalysisError::Cancelled(_))
        | crate::Error::Analysis(AnalysisError::Grid(GridError::Cancelled(_))) => {
            ApiError::unavailable("the analysis was cancelled: it took too long")
        }
        crate::Error::Model(m) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            "Invalid parameter",
            m.to_string(),
        ),
        crate::Error::Store(s) if s.is_bad_input() => match s {
            crate::store::StoreError::BadQuery(reason) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid-parameter",
                "Invalid parameter",
                reason,
            ),
            other => ApiError::internal(other),
        },
        crate::Error::Access(crate::access::AccessError::Forbidden { reason }) => {
            ApiError::forbidden(reason)
        }
        other => ApiError::internal(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_of_the_gate_is_a_403_naming_only_its_reason() {
        let e = from_crate(crate::Error::Access(
            crate::access::AccessError::Forbidden {
                reason: "role partner may not read layer patrols".into(),
            },
        ));
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        assert_eq!(e.detail, "role partner may not read layer patrols");
    }

    #[test]
    fn a_broken_audit_log_stays_a_500_with_a_generic_text() {
        let e = from_crate(crate::Error::Access(crate::access::AccessError::Audit(
            "/var/log/jointmap/audit.jsonl: disk full".into(),
        )));
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.detail.contains("disk full"));
    }
}

//! The HTTP server (`jointmap serve`): OGC API - Features over the store's
//! layers, analysis layers, and ingest, all behind the need-to-know gate.
//!
//! - [`config`]: TOML file + environment overrides;
//! - [`auth`]: bearer tokens, the gate and the audit log, in one place every
//!   route goes through (handlers reach data only through [`auth::Caller`]);
//! - `ingest.rs`: `POST .../items` through validation and the ownership rules;
//! - [`ogc`] and [`openapi`]: OGC API - Features Part 1 (core, GeoJSON, OAS 3.0);
//! - [`analysis`]: `/analysis/*`, parameters parsed by the CLI's own grammar;
//! - [`viewer`]: the joint map viewer at `/` for browsers (negotiated with
//!   the OGC landing page) and its embedded assets;
//! - `watch.rs`: follows the store's data version (commits by other servers
//!   and processes) and drops what was cached before it moved;
//! - [`view`], [`params`], [`cache`], [`problem`], [`redact`]: the pieces
//!   under them.
//!
//! The server uses the store only through the [`Store`] trait; blocking store
//! work runs on tokio's blocking pool.

pub mod analysis;
pub mod audit_db;
pub mod auth;
pub mod briefs;
pub mod cache;
pub mod config;
mod ingest;
pub mod ogc;
pub mod openapi;
pub mod params;
pub mod problem;
pub mod redact;
pub mod schema;
pub mod tiles;
pub mod view;
pub mod viewer;
mod watch;

pub use config::Config;

use crate::store::Store;
use auth::Access;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use problem::ApiError;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Errors of the server module (start-up; requests answer problems).
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is invalid.
    #[error("server configuration: {0}")]
    Config(String),
    /// Listening or serving failed.
    #[error("server: {0}")]
    Io(String),
    /// The store fails `jointmap check` (see [`ALLOW_INVALID_STORE`]).
    #[error("{0}")]
    InvalidStore(String),
}

/// Set to `1`, the server starts on a store with features that fail
/// validation (analyses then count them); otherwise it refuses to.
pub const ALLOW_INVALID_STORE: &str = "JOINTMAP_ALLOW_INVALID_STORE";

/// How often a running server checkpoints the store's write-ahead log.
const MAINTAIN_EVERY: Duration = Duration::from_secs(30);

/// Validates every stored feature as `jointmap check` does, before serving
/// any: an edit made outside jointmap (QGIS, SQL) that ingest would have
/// refused must not reach an analysis unnoticed.
fn check_store(store: &dyn Store, limits: &config::Limits) -> Result<(), ServerError> {
    use crate::store::check::{check, Fix};
    let report = check(
        store,
        &crate::model::Layer::ALL,
        Fix::Report,
        &store_bounds(limits),
    )
    .map_err(|e| ServerError::InvalidStore(e.to_string()))?;
    if report.findings.is_empty() {
        return Ok(());
    }
    const SHOWN: usize = 20;
    for f in report.findings.iter().take(SHOWN) {
        eprintln!("{f}");
    }
    if std::env::var(ALLOW_INVALID_STORE).is_ok_and(|v| v == "1") {
        eprintln!(
            "jointmap: warning: {} stored features fail validation; serving anyway ({ALLOW_INVALID_STORE}=1)",
            report.findings.len()
        );
        return Ok(());
    }
    Err(ServerError::InvalidStore(format!(
        "the store has {} features that fail validation ({} listed above); see `jointmap check`, \
         move them aside with `jointmap check --fix-mode quarantine`, or start anyway with \
         {ALLOW_INVALID_STORE}=1",
        report.findings.len(),
        report.findings.len().min(SHOWN)
    )))
}

/// The plausibility bounds of what the server stores and serves: the
/// defaults, with the latest time `limits.future_days` after now.
fn store_bounds(limits: &config::Limits) -> crate::model::Bounds {
    crate::model::Bounds::future_days(limits.future_days)
}

impl From<config::ConfigError> for ServerError {
    fn from(e: config::ConfigError) -> Self {
        ServerError::Config(e.0)
    }
}

/// The application: every route, with authentication, audit, limits and
/// error shaping.
pub fn router(access: Arc<Access>) -> Router {
    let limits = access.settings.limits.clone();
    let body_max = limits.body_bytes;
    let ingest_max = limits.ingest_body_bytes;
    let routes = Router::new()
        .route("/", get(viewer::index))
        .route("/health", get(health))
        .route("/conformance", get(ogc::conformance))
        .route("/api", get(openapi::api))
        .route("/collections", get(ogc::collections))
        .route("/collections/{id}", get(ogc::collection))
        .route(
            "/collections/{id}/items",
            get(ogc::items)
                .post(ogc::ingest)
                .layer(DefaultBodyLimit::max(ingest_max)),
        )
        .route("/collections/{id}/items/{fid}", get(ogc::item))
        .route("/collections/{id}/queryables", get(schema::queryables))
        .route("/collections/{id}/schema", get(schema::schema))
        .route(
            "/collections/{id}/schema/geojson",
            get(schema::geojson_schema),
        );
    // Outermost last. Authentication wraps the timeout and the body limit
    // so that their 503 and 413 answers are audited like any other; it
    // refuses (401, or 403 for an ingest without the right) before any
    // body is read, so a refused request holds a slot only for that long.
    let routes = viewer::routes(routes, &access);
    briefs::routes(tiles::routes(analysis::routes(routes)))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(body_max))
        .layer(middleware::from_fn_with_state(limits.clone(), timeout))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            ingest_max.max(body_max),
        ))
        .layer(middleware::from_fn_with_state(
            access.clone(),
            auth::authenticate,
        ))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            limits.concurrency,
        ))
        .layer(middleware::from_fn(problemize))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .with_state(access)
}

async fn health(State(access): State<Arc<Access>>) -> Response {
    match access.healthy().await {
        Ok(_) => ogc::respond(&br#"{"status":"ok"}"#[..], ogc::JSON),
        Err(_) => ApiError::unavailable("the store does not answer").into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such path; see /api")
}

/// Per-request time limit: analyses and ingest get the longer one.
async fn timeout(State(limits): State<config::Limits>, req: Request, next: Next) -> Response {
    let long = req.uri().path().starts_with("/analysis/") || req.method() == Method::POST;
    let secs = if long {
        limits.analysis_timeout_s
    } else {
        limits.request_timeout_s
    };
    match tokio::time::timeout(Duration::from_secs(secs), next.run(req)).await {
        Ok(r) => r,
        Err(_) => {
            ApiError::unavailable(format!("the request took longer than {secs} s")).into_response()
        }
    }
}

/// Turns any error response that is not yet a problem document (body limit,
/// unknown method, bad path encoding ...) into one.
async fn problemize(req: Request, next: Next) -> Response {
    let r = next.run(req).await;
    let status = r.status();
    if status.as_u16() < 400 {
        return r;
    }
    let is_problem = r
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|c| c.as_bytes().starts_with(b"application/problem+json"));
    if is_problem {
        return r;
    }
    let (parts, body) = r.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let detail = String::from_utf8_lossy(&text).trim().to_string();
    let (kind, title) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ("too-large", "Request body too large"),
        StatusCode::METHOD_NOT_ALLOWED => ("method-not-allowed", "Method not allowed"),
        StatusCode::NOT_FOUND => ("not-found", "Not found"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported-media-type", "Unsupported media type"),
        StatusCode::REQUEST_TIMEOUT => ("request-timeout", "Request timeout"),
        s if s.is_server_error() => ("internal", "Internal error"),
        _ => ("bad-request", "Bad request"),
    };
    let detail = if detail.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        detail
    };
    let mut out = ApiError::new(status, kind, title, detail).into_response();
    for (k, v) in parts.headers.iter() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("a handler panicked").into_response()
}

/// Adds headers every response carries: `no-store` unless the handler
/// chose a cache policy (the viewer's static assets; tiles: private,
/// revalidated by ETag).
fn secure_headers(r: &mut Response) {
    let h = r.headers_mut();
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets requests
/// in flight finish (at most 30 s).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: &config::Limits,
    shutdown: impl Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    let app = app.layer(axum::middleware::map_response(
        |mut r: Response| async move {
            secure_headers(&mut r);
            r
        },
    ));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .max_buf_size(limits.header_bytes.max(8192))
        .max_headers(limits.max_headers.max(8));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            conn = listener.accept() => {
                let (stream, peer) = match conn {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let svc = TowerToHyperService::new(app.clone());
                let conn = builder.serve_connection(TokioIo::new(stream), svc);
                let fut = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = fut.await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: finishing requests in flight");
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(30)) => {
            tracing::warn!("requests still running after 30 s; stopping anyway");
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Runs the server with `cfg` over `store` until SIGINT or SIGTERM
/// (builds its own multi-threaded runtime).
pub fn run(cfg: &Config, store: Arc<dyn Store>) -> Result<(), ServerError> {
    let addr = cfg.validate()?;
    check_store(&*store, &cfg.limits)?;
    let limits = cfg.limits.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("jointmap-http")
        .build()
        .map_err(|e| ServerError::Io(e.to_string()))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| ServerError::Io(format!("cannot listen on {addr}: {e}")))?;
        let local = listener
            .local_addr()
            .map_err(|e| ServerError::Io(e.to_string()))?;
        // Links without a public_url name the address actually bound (port 0
        // picks one).
        let mut cfg = cfg.clone();
        cfg.listen = local.to_string();
        // The log folded into the file regularly: a copy of the file alone
        // is then (close to) the whole store; `jointmap backup` is exact.
        let kept = store.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(MAINTAIN_EVERY);
            every.tick().await;
            loop {
                every.tick().await;
                let s = kept.clone();
                match tokio::task::spawn_blocking(move || s.maintain()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "store checkpoint failed"),
                    Err(e) => tracing::warn!(error = %e, "store checkpoint task failed"),
                }
            }
        });
        let access = Arc::new(Access::new(&cfg, store)?);
        watch::spawn(access.clone());
        tracing::info!(%local, "listening");
        eprintln!("jointmap: listening on http://{local}");
        serve(listener, router(access), &limits, shutdown_signal()).await;
        eprintln!("jointmap: stopped");
        Ok(())
    })
}

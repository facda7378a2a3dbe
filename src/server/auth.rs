//! Authentication, authorisation and audit: the one place every request goes
//! through.
//!
//! [`authenticate`] (a middleware on the whole router) turns the bearer token
//! into a [`Principal`], answers 401 without one (everything but `/health`),
//! and writes one audit record per request after the handler ran. Handlers
//! get a [`Caller`]: the only way to data. It holds the store privately and
//! hands out features, aggregates and ingest strictly through the access
//! [`Gate`]; no handler can reach the store itself.

use super::cache::ResponseCache;
use super::config::{Config, Limits, Paging};
use super::params::ItemsQuery;
use super::problem::{self, ApiError};
use super::view::{Cursor, Entry, Page, View};
use crate::access::{AccessError, AuditRecord, FeatureView, Gate, Principal, Role};
use crate::ingest::{IngestReport, WriteCheck};
use crate::model::{Feature, Layer};
use crate::store::{Direction, FeatureSource, LayerSummary, Query, Store, StoreError};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{OnceCell, Semaphore};

/// Number of features a response carried, for the audit log (set by handlers
/// as a response extension).
#[derive(Debug, Clone, Copy)]
pub struct Returned(pub u64);

/// Settings handlers need.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Paging.
    pub paging: Paging,
    /// Limits.
    pub limits: Limits,
    /// Base URL of links, when configured.
    pub public_url: Option<String>,
    /// The listen address (fallback base of links).
    pub listen: String,
    /// Country outlines for the viewer's basemap, when configured.
    pub basemap: Option<std::path::PathBuf>,
    /// The quarterly outlook's trigger calendar (`[briefs] calendar`).
    pub calendar: Option<std::path::PathBuf>,
}

enum ViewState {
    Ready(Arc<View>),
    /// The layer is larger than `view_max_features`: each page is read from
    /// the store by keyset ([`keyset_page`]).
    TooBig,
}

struct ViewSlot {
    version: u64,
    cell: OnceCell<ViewState>,
}

/// Shared server state: the gate, the store and the caches.
pub struct Access {
    pub(super) gate: Gate,
    store: Arc<dyn Store>,
    tokens: HashMap<[u8; 32], Arc<Principal>>,
    views: Mutex<HashMap<(Role, Layer), Arc<ViewSlot>>>,
    view_max: u64,
    pub(super) cache: ResponseCache,
    /// The data version as the change feed sees it (`watch.rs`).
    pub(super) feed: super::watch::Feed,
    pub(super) analysis_permits: Semaphore,
    ingest_lock: tokio::sync::Mutex<()>,
    /// Ingest bodies being read (separate from the request slots, so that
    /// slow uploads cannot hold them all).
    ingest_reads: Semaphore,
    /// Settings for handlers.
    pub settings: Settings,
}

impl Access {
    /// Builds the state from a validated configuration and an open store.
    pub fn new(cfg: &Config, store: Arc<dyn Store>) -> Result<Access, super::ServerError> {
        let policy = cfg.access.clone().unwrap_or_default();
        let gate = match &cfg.audit_database {
            Some(db) => super::audit_db::gate(policy, db, cfg)?,
            None => Gate::new(policy, cfg.audit_log.as_deref())
                .map_err(|e| super::ServerError::Config(e.to_string()))?,
        };
        let mut tokens = HashMap::new();
        for t in &cfg.tokens {
            let role: Role = t.role.parse().map_err(|e: AccessError| {
                super::ServerError::Config(format!("tokens: {:?}: {e}", t.name))
            })?;
            let ingest = t
                .ingest
                .iter()
                .map(|l| l.parse::<Layer>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| super::ServerError::Config(format!("tokens: {:?}: {e}", t.name)))?;
            if role == Role::Partner && !ingest.is_empty() {
                tracing::warn!(token = %t.name,
                    "partners own no records: this token's ingest list lets it write nothing");
            }
            let hash = super::config::parse_sha256(&t.sha256).ok_or_else(|| {
                super::ServerError::Config(format!("tokens: {:?}: bad sha256", t.name))
            })?;
            tokens.insert(
                hash,
                Arc::new(Principal {
                    name: t.name.clone(),
                    role,
                    ingest,
                }),
            );
        }
        Ok(Access {
            gate,
            store,
            tokens,
            views: Mutex::new(HashMap::new()),
            view_max: cfg.cache.view_max_features,
            cache: ResponseCache::new(cfg.cache.entries, cfg.cache.bytes),
            feed: super::watch::Feed::default(),
            analysis_permits: Semaphore::new(cfg.limits.analysis_concurrency),
            ingest_lock: tokio::sync::Mutex::new(()),
            ingest_reads: Semaphore::new(cfg.limits.ingest_concurrency),
            settings: Settings {
                paging: cfg.paging.clone(),
                limits: cfg.limits.clone(),
                public_url: cfg.public_url.clone(),
                listen: cfg.listen.clone(),
                basemap: cfg.basemap.clone(),
                calendar: cfg.briefs.calendar.clone(),
            },
        })
    }

    /// Runs blocking store work on the blocking pool. The work runs under a
    /// [`crate::cancel`] token cancelled when this future is dropped (the
    /// request timed out or its connection closed), so analyses stop
    /// instead of computing for nobody.
    pub(super) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = self.store.clone();
        let token = crate::cancel::Token::new();
        let guard = token.cancel_on_drop();
        let r = tokio::task::spawn_blocking(move || crate::cancel::scope(token, || f(&*store)))
            .await
            .map_err(|e| ApiError::internal(format!("store task failed: {e}")));
        guard.disarm();
        r
    }

    /// The store's data version: the change feed's while the store pushes
    /// commits, read from the store otherwise.
    pub(super) async fn version(&self) -> Result<u64, ApiError> {
        if let Some(v) = self.feed.current() {
            return Ok(v);
        }
        // A GeoPackage answers from shared memory while nothing was committed: no
        // hand-off to a blocking thread on every request.
        match self.store.data_version_now() {
            Some(v) => v.map_err(|e| problem::from_crate(e.into())),
            None => self.stored_version().await,
        }
    }

    /// The data version, read from the store.
    async fn stored_version(&self) -> Result<u64, ApiError> {
        self.blocking(|s| s.data_version())
            .await?
            .map_err(|e| problem::from_crate(e.into()))
    }

    /// Whether the store answers (for `/health`): always asks it.
    pub async fn healthy(&self) -> Result<u64, ApiError> {
        self.stored_version().await
    }

    /// Drops the cached answers and the views made before `version`.
    pub(super) fn forget_before(&self, version: u64) {
        self.cache.clear();
        self.views
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, slot| slot.version >= version);
    }

    fn principal(&self, secret: &[u8]) -> Option<Arc<Principal>> {
        self.tokens.get(&super::config::sha256(secret)).cloned()
    }

    /// Writes the record before the answer leaves, as a file's is; an audit
    /// table's on its writer thread, awaited here without holding a worker.
    async fn audit(&self, rec: &AuditRecord<'_>) {
        if let Some(r) = self.gate.audit_now(rec) {
            if let Err(e) = r {
                tracing::error!(error = %e, "audit log write failed");
            }
            return;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.gate.audit_then(
            rec,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        let r = rx
            .await
            .unwrap_or_else(|_| Err(AccessError::Audit("the audit writer stopped".into())));
        if let Err(e) = r {
            tracing::error!(error = %e, "audit log write failed");
        }
    }
}

fn forbidden(e: AccessError) -> ApiError {
    match e {
        AccessError::Forbidden { reason } => ApiError::forbidden(reason),
        other => ApiError::internal(other),
    }
}

/// The authenticated caller: what handlers use to reach data.
#[derive(Clone)]
pub struct Caller {
    pub(super) access: Arc<Access>,
    /// Who is asking.
    pub principal: Arc<Principal>,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("a bearer token is required"))
    }
}

/// A page of items, serialised features in id order.
pub struct ItemsPage {
    /// Features matching the query (all pages), when known without reading
    /// the layer: for a layer held in memory, not for one paged from the
    /// store.
    pub matched: Option<u64>,
    /// The page's features, serialised.
    pub features: Vec<Bytes>,
    /// First and last id of the page.
    pub first: Option<String>,
    /// See `first`.
    pub last: Option<String>,
    /// A previous page exists.
    pub has_prev: bool,
    /// A next page exists.
    pub has_next: bool,
}

impl ItemsPage {
    fn from_page<E: std::borrow::Borrow<Entry>>(p: Page<E>) -> Self {
        ItemsPage {
            matched: Some(p.matched),
            first: p.items.first().map(|e| e.borrow().id.clone()),
            last: p.items.last().map(|e| e.borrow().id.clone()),
            features: p.items.iter().map(|e| e.borrow().json.clone()).collect(),
            has_prev: p.has_prev,
            has_next: p.has_next,
        }
    }
}

/// Extent of what a caller sees of a layer.
pub struct Extent {
    /// `[min_lon, min_lat, max_lon, max_lat]`.
    pub bbox: Option<[f64; 4]>,
    /// First and last time, RFC 3339.
    pub interval: Option<(String, String)>,
}

impl Caller {
    /// Settings.
    pub fn settings(&self) -> &Settings {
        &self.access.settings
    }

    /// Layers whose individual features the caller may see (the collections).
    pub fn collections(&self) -> Vec<Layer> {
        Layer::ALL
            .into_iter()
            .filter(|l| self.access.gate.features(&self.principal, *l).is_ok())
            .collect()
    }

    /// Checks the caller may see individual features of `layer` (403 otherwise).
    pub fn may_see(&self, layer: Layer) -> Result<(), ApiError> {
        self.access
            .gate
            .features(&self.principal, layer)
            .map(|_| ())
            .map_err(forbidden)
    }

    /// Whether a property of `layer` is never shown to the caller.
    pub fn hidden(&self, layer: Layer, name: &str) -> bool {
        match self.access.gate.features(&self.principal, layer) {
            Ok(v) => v.hidden(name),
            Err(_) => true,
        }
    }

    /// The caller's view of `layer` at the current data version, built on
    /// first use (one build however many requests wait for it).
    async fn view(&self, layer: Layer) -> Result<Arc<ViewSlot>, ApiError> {
        self.may_see(layer)?;
        let version = self.access.version().await?;
        let key = (self.principal.role, layer);
        let slot = {
            let mut views = self.access.views.lock().unwrap_or_else(|p| p.into_inner());
            let slot = views.entry(key).or_insert_with(|| {
                Arc::new(ViewSlot {
                    version,
                    cell: OnceCell::new(),
                })
            });
            if slot.version != version {
                *slot = Arc::new(ViewSlot {
                    version,
                    cell: OnceCell::new(),
                });
            }
            slot.clone()
        };
        let access = self.access.clone();
        let principal = self.principal.clone();
        slot.cell
            .get_or_try_init(|| async move {
                let max = access.view_max;
                let a2 = access.clone();
                access
                    .blocking(move |store| {
                        build_view(&a2.gate, store, &principal, layer, version, max)
                    })
                    .await?
            })
            .await?;
        Ok(slot)
    }

    /// A page of items.
    pub async fn items(&self, layer: Layer, q: ItemsQuery) -> Result<ItemsPage, ApiError> {
        let slot = self.view(layer).await?;
        match slot.cell.get() {
            Some(ViewState::Ready(view)) => Ok(ItemsPage::from_page(
                view.page(&q.filter, &q.cursor, q.limit),
            )),
            _ => {
                // Too large to hold: read the page from the store by keyset.
                let access = self.access.clone();
                let principal = self.principal.clone();
                self.access
                    .blocking(move |store| {
                        let fv = access.gate.features(&principal, layer).map_err(forbidden)?;
                        keyset_page(store, &fv, layer, &q)
                            .map_err(|e| problem::from_crate(e.into()))
                    })
                    .await?
            }
        }
    }

    /// One feature, serialised; 404 when it does not exist or the caller may
    /// not see it (the two are indistinguishable). A key lookup in the
    /// store, whatever the layer's size.
    pub async fn item(&self, layer: Layer, id: &str) -> Result<Bytes, ApiError> {
        self.may_see(layer)?;
        let missing = || ApiError::not_found(format!("no feature {id:?} in {layer}"));
        let access = self.access.clone();
        let principal = self.principal.clone();
        let want = id.to_string();
        let found = self
            .access
            .blocking(move |store| -> Result<Option<Bytes>, ApiError> {
                let fv = access.gate.features(&principal, layer).map_err(forbidden)?;
                let f = store
                    .get(layer, &want)
                    .map_err(|e| problem::from_crate(e.into()))?;
                Ok(f.and_then(|f| fv.show(&f))
                    .and_then(|v| Entry::from_shown(layer, v))
                    .filter(|e| e.id == want)
                    .map(|e| e.json))
            })
            .await??;
        found.ok_or_else(missing)
    }

    /// Extent and time span of what the caller sees of `layer`.
    pub async fn extent(&self, layer: Layer) -> Result<Extent, ApiError> {
        let slot = self.view(layer).await?;
        if let Some(ViewState::Ready(view)) = slot.cell.get() {
            let (bbox, span) = view.extent();
            let fmt = |ms: i64| {
                chrono::DateTime::from_timestamp_millis(ms)
                    .map(|t| crate::model::time::format_time(&t))
                    .unwrap_or_default()
            };
            return Ok(Extent {
                bbox,
                interval: span.map(|(a, b)| (fmt(a), fmt(b))),
            });
        }
        // Too many features to hold a view: the extent of what the caller
        // may see, read through the gate (never the store's own summary,
        // which would show the extremes of hidden records).
        let (access, principal) = (self.access.clone(), self.principal.clone());
        let s: LayerSummary = self
            .access
            .blocking(move |store| {
                crate::access::visible_extent(&access.gate, &principal, layer, store)
            })
            .await?
            .map_err(problem::from_crate)?;
        Ok(Extent {
            bbox: s.bbox,
            interval: s.first.zip(s.last),
        })
    }

    /// Checks the caller may ingest into `layer` (403 otherwise).
    pub fn may_ingest(&self, layer: Layer) -> Result<(), ApiError> {
        self.access
            .gate
            .may_ingest(&self.principal, layer)
            .map_err(forbidden)
    }

    /// A slot for reading an ingest body: 503 at once when
    /// `ingest_concurrency` bodies are already being read.
    pub fn ingest_slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
        self.access.ingest_reads.try_acquire().map_err(|_| {
            ApiError::unavailable(format!(
                "{} ingest bodies are being received; try again shortly",
                self.access.settings.limits.ingest_concurrency
            ))
        })
    }

    /// Ingests a GeoJSON Feature or FeatureCollection into `layer`, all or
    /// nothing, with the CLI's validation.
    pub async fn ingest(&self, layer: Layer, body: Bytes) -> Result<IngestReport, ApiError> {
        self.access
            .gate
            .may_ingest(&self.principal, layer)
            .map_err(forbidden)?;
        let access = self.access.clone();
        let p = self.principal.clone();
        let check = WriteCheck::new(move |new, existing| {
            access
                .gate
                .may_write(&p, layer, new, existing)
                .map_err(|e| match e {
                    AccessError::WriteRefused { reason, cause } => {
                        // The caller's wording hides the cause; the log has it,
                        // so that owners can spot a token probing for ids.
                        tracing::warn!(token = %p.name, role = %p.role, %layer, id = %new.id,
                            %cause, "ingest refused");
                        reason
                    }
                    AccessError::Forbidden { reason } => reason,
                    other => other.to_string(),
                })
        });
        let author = self.principal.name.clone();
        let bounds = super::store_bounds(&self.access.settings.limits);
        let _one_at_a_time = self.access.ingest_lock.lock().await;
        let report = self
            .access
            .blocking(move |store| {
                super::ingest::ingest_body(store, layer, &body, check, author, bounds)
            })
            .await??;
        // This server's next request sees its own write, whenever the
        // change feed hears of it.
        if let Ok(v) = self.access.stored_version().await {
            self.access.feed.advance(v);
        }
        // Created and updated stay in the operator's log; the caller's reply
        // has the total only (docs/security.md).
        tracing::info!(token = %self.principal.name, %layer, inserted = report.inserted,
            updated = report.updated, "ingest");
        Ok(report)
    }
}

/// A page of a layer too large to hold, read from the store by keyset on
/// the id: the features after (or before) the cursor, shown to the caller
/// and filtered exactly as a held view filters them, until the page is full,
/// and one match beyond it on either side for the `next` and `prev` links.
/// The store's bbox and time filters keep a superset of what the shown
/// features pass, so they only narrow what is read. The cost is the rows
/// read up to the page's last match (a page of everything costs the page,
/// however deep; a filter few features pass costs more); `numberMatched`
/// would cost the whole layer, so it is not given.
fn keyset_page(
    store: &dyn FeatureSource,
    fv: &FeatureView<'_>,
    layer: Layer,
    q: &ItemsQuery,
) -> crate::store::Result<ItemsPage> {
    use std::ops::{Bound, ControlFlow};
    let limit = q.limit.max(1);
    let at = |t: Option<i64>| t.and_then(chrono::DateTime::from_timestamp_millis);
    let (from, to) = q.filter.time.map_or((None, None), |(a, b)| (at(a), at(b)));
    let mut page = ItemsPage {
        matched: None,
        features: Vec::new(),
        first: None,
        last: None,
        has_prev: false,
        has_next: false,
    };
    if from.zip(to).is_some_and(|(a, b)| a > b) {
        return Ok(page);
    }
    // A box the CQL2 filter requires narrows the read too.
    let query = Query {
        bbox: q
            .filter
            .bbox
            .or_else(|| q.filter.cql.as_ref().and_then(|c| c.bbox())),
        from,
        to,
    };
    // Up to `want` matches from `start` on, going `direction`.
    let take = |start: Bound<&str>, direction: Direction, want: usize| {
        let mut out: Vec<Entry> = Vec::new();
        store.walk(layer, &query, start, direction, &mut |f| {
            let shown = fv
                .show(&f)
                .and_then(|v| Entry::from_shown(layer, v))
                .filter(|e| q.filter.matches(e));
            out.extend(shown);
            Ok(if out.len() >= want {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        })?;
        Ok::<_, StoreError>(out)
    };
    let (asc, desc) = (Direction::Ascending, Direction::Descending);
    let items = match &q.cursor {
        Cursor::Before(b) => {
            let mut items = take(Bound::Excluded(b), desc, limit + 1)?;
            page.has_prev = items.len() > limit;
            items.truncate(limit);
            items.reverse();
            page.has_next = !take(Bound::Included(b), asc, 1)?.is_empty();
            items
        }
        Cursor::After(a) => {
            let mut items = take(Bound::Excluded(a), asc, limit + 1)?;
            page.has_next = items.len() > limit;
            items.truncate(limit);
            page.has_prev = !take(Bound::Included(a), desc, 1)?.is_empty();
            items
        }
        Cursor::Start => {
            let mut items = take(Bound::Unbounded, asc, limit + 1)?;
            page.has_next = items.len() > limit;
            items.truncate(limit);
            items
        }
    };
    page.first = items.first().map(|e| e.id.clone());
    page.last = items.last().map(|e| e.id.clone());
    page.features = items.into_iter().map(|e| e.json).collect();
    Ok(page)
}

fn build_view(
    gate: &Gate,
    store: &dyn FeatureSource,
    principal: &Principal,
    layer: Layer,
    version: u64,
    max: u64,
) -> Result<ViewState, ApiError> {
    let fv = gate.features(principal, layer).map_err(forbidden)?;
    // Counted first: a layer too large to hold is not read at all.
    let count = store
        .summary(layer)
        .map_err(|e| problem::from_crate(e.into()))?
        .count;
    if count > max {
        return Ok(ViewState::TooBig);
    }
    let mut entries = Vec::new();
    let mut seen = 0u64;
    let r = store.query(layer, &Query::default(), &mut |f: Feature| {
        seen += 1;
        if seen > max {
            return Err(StoreError::Aborted("view too large".into()));
        }
        if let Some(e) = fv.show(&f).and_then(|v| Entry::from_shown(layer, v)) {
            entries.push(e);
        }
        Ok(())
    });
    match r {
        Ok(_) => Ok(ViewState::Ready(Arc::new(View::new(
            layer, version, entries,
        )))),
        Err(StoreError::Aborted(_)) if seen > max => Ok(ViewState::TooBig),
        Err(e) => Err(problem::from_crate(e.into())),
    }
}

/// Marks a response with the number of features it carries (for the audit).
pub fn counted(mut r: Response, n: u64) -> Response {
    r.extensions_mut().insert(Returned(n));
    r
}

/// The middleware: bearer token -> principal, 401 without one (but for
/// `/health` and the viewer's static files, [`super::viewer::is_public`]), the ingest right before any body is read, then one audit
/// record per request, refusals included (401 with a null token and a
/// reason; 403, 413 and 503 with the token's name).
pub async fn authenticate(
    State(access): State<Arc<Access>>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    // The viewer's page and assets hold no data (`viewer::is_public` admits
    // those exact paths only); the page then sends the token itself.
    if path == "/health" || super::viewer::is_public(&req) {
        return next.run(req).await;
    }
    let is_secret = |v: &str| access.principal(v.as_bytes()).is_some();
    let params = super::redact::query(req.uri().query().unwrap_or(""), &is_secret);
    let endpoint = format!(
        "{} {}",
        req.method(),
        super::redact::path(&path, &is_secret)
    );
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_string())
        });
    let principal = bearer
        .as_deref()
        .and_then(|s| access.principal(s.as_bytes()));
    let Some(principal) = principal else {
        let (detail, reason) = if bearer.is_some() {
            ("the bearer token is not valid", "unknown token")
        } else {
            (
                "a bearer token is required (Authorization: Bearer <token>)",
                "missing token",
            )
        };
        access
            .audit(&AuditRecord {
                time: chrono::Utc::now(),
                token: None,
                role: None,
                reason: Some(reason),
                endpoint: &endpoint,
                params: &params,
                status: 401,
                returned: 0,
            })
            .await;
        tracing::info!(%endpoint, "401: {detail}");
        return ApiError::unauthorized(detail).into_response();
    };
    // Ingest rights are checked here, before the handler reads (or waits
    // for) a byte of the body: a token without them must not hold a
    // request slot with a slow upload.
    let refused = ingest_layer(req.method(), &path).and_then(|layer| {
        access
            .gate
            .may_ingest(&principal, layer)
            .err()
            .map(forbidden)
    });
    let response = match refused {
        Some(e) => e.into_response(),
        None => {
            req.extensions_mut().insert(Caller {
                access: access.clone(),
                principal: principal.clone(),
            });
            next.run(req).await
        }
    };
    let returned = response.extensions().get::<Returned>().map_or(0, |r| r.0);
    let status = response.status().as_u16();
    access
        .audit(&AuditRecord {
            time: chrono::Utc::now(),
            token: Some(&principal.name),
            role: Some(principal.role),
            reason: None,
            endpoint: &endpoint,
            params: &params,
            status,
            returned: returned as usize,
        })
        .await;
    tracing::info!(token = %principal.name, role = %principal.role, endpoint = %endpoint, status, returned, "request");
    response
}

/// The layer a request ingests into (`POST /collections/{id}/items` with a
/// known layer), if it is an ingest.
fn ingest_layer(method: &axum::http::Method, path: &str) -> Option<Layer> {
    if method != axum::http::Method::POST {
        return None;
    }
    let id = path
        .strip_prefix("/collections/")?
        .strip_suffix("/items")?
        .trim_end_matches('/');
    Layer::ALL.into_iter().find(|l| l.name() == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingests_are_recognised_from_method_and_path() {
        use axum::http::Method;
        assert_eq!(
            ingest_layer(&Method::POST, "/collections/incidents/items"),
            Some(Layer::Incidents)
        );
        assert_eq!(
            ingest_layer(&Method::GET, "/collections/incidents/items"),
            None
        );
        assert_eq!(ingest_layer(&Method::POST, "/collections/nope/items"), None);
        assert_eq!(
            ingest_layer(&Method::POST, "/collections/incidents/items/x"),
            None
        );
    }
}

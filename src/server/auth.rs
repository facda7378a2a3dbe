//! Authentication, authorisation and audit: the one place every request goes
//! through.
//!
//! [`authenticate`] (a middleware on the whole router) turns the bearer token
//! into a [`Principal`], answers 401 without one (everything but `/health`),
//! and writes one audit record per request after the handler ran. Handlers
//! get a [`Caller`]: the only way to data. It holds the store privately and
//! hands out features, aggregates and ingest strictly through the access
//! [`Gate`]; no handler can reach the store itself.

use super::cache::{Encoded, ResponseCache};
use super::config::{Config, Limits, Paging};
use super::params::ItemsQuery;
use super::problem::{self, ApiError};
use super::view::{Entry, Page, Pager, View};
use crate::access::{AccessError, AggregateRules, AuditRecord, Gate, Principal, Role};
use crate::ingest::{IngestError, IngestOptions, IngestReport, Input};
use crate::model::{Feature, Layer, RawFeature};
use crate::store::{Batch, LayerSummary, Query, Store, StoreError};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
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
}

enum ViewState {
    Ready(Arc<View>),
    /// The layer is larger than `view_max_features`: scanned per request.
    TooBig,
}

struct ViewSlot {
    version: u64,
    cell: OnceCell<ViewState>,
}

/// Shared server state: the gate, the store and the caches.
pub struct Access {
    gate: Gate,
    store: Arc<dyn Store>,
    tokens: HashMap<[u8; 32], Arc<Principal>>,
    views: Mutex<HashMap<(Role, Layer), Arc<ViewSlot>>>,
    view_max: u64,
    cache: ResponseCache,
    analysis_permits: Semaphore,
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
        let gate = Gate::new(policy, cfg.audit_log.as_deref())
            .map_err(|e| super::ServerError::Config(e.to_string()))?;
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
            analysis_permits: Semaphore::new(cfg.limits.analysis_concurrency),
            ingest_lock: tokio::sync::Mutex::new(()),
            ingest_reads: Semaphore::new(cfg.limits.ingest_concurrency),
            settings: Settings {
                paging: cfg.paging.clone(),
                limits: cfg.limits.clone(),
                public_url: cfg.public_url.clone(),
                listen: cfg.listen.clone(),
            },
        })
    }

    /// Runs blocking store work on the blocking pool. The work runs under a
    /// [`crate::cancel`] token cancelled when this future is dropped (the
    /// request timed out or its connection closed), so analyses stop
    /// instead of computing for nobody.
    async fn blocking<T: Send + 'static>(
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

    /// The store's data version.
    async fn version(&self) -> Result<u64, ApiError> {
        self.blocking(|s| s.data_version())
            .await?
            .map_err(|e| problem::from_crate(e.into()))
    }

    /// Whether the store answers (for `/health`).
    pub async fn healthy(&self) -> Result<u64, ApiError> {
        self.version().await
    }

    fn principal(&self, secret: &[u8]) -> Option<Arc<Principal>> {
        self.tokens.get(&super::config::sha256(secret)).cloned()
    }

    fn audit(&self, rec: &AuditRecord) {
        if let Err(e) = self.gate.audit(rec) {
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
    access: Arc<Access>,
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
    /// Features matching the query (all pages).
    pub matched: u64,
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
            matched: p.matched,
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
                // Too large to hold: scan the store, showing each feature.
                let access = self.access.clone();
                let principal = self.principal.clone();
                self.access
                    .blocking(move |store| {
                        let fv = access.gate.features(&principal, layer).map_err(forbidden)?;
                        let query = Query {
                            bbox: q.filter.bbox,
                            ..Query::default()
                        };
                        let mut pager: Pager<'_, Entry> = Pager::new(&q.filter, &q.cursor, q.limit);
                        store
                            .query(layer, &query, &mut |f: Feature| {
                                if let Some(e) =
                                    fv.show(&f).and_then(|v| Entry::from_shown(layer, v))
                                {
                                    pager.push(e);
                                }
                                Ok(())
                            })
                            .map_err(|e| problem::from_crate(e.into()))?;
                        Ok(ItemsPage::from_page(pager.finish()))
                    })
                    .await?
            }
        }
    }

    /// One feature, serialised; 404 when it does not exist or the caller may
    /// not see it (the two are indistinguishable).
    pub async fn item(&self, layer: Layer, id: &str) -> Result<Bytes, ApiError> {
        let missing = || ApiError::not_found(format!("no feature {id:?} in {layer}"));
        let slot = self.view(layer).await?;
        if let Some(ViewState::Ready(view)) = slot.cell.get() {
            return view.get(id).map(|e| e.json.clone()).ok_or_else(missing);
        }
        let access = self.access.clone();
        let principal = self.principal.clone();
        let want = id.to_string();
        let found = self
            .access
            .blocking(move |store| -> Result<Option<Bytes>, ApiError> {
                let fv = access.gate.features(&principal, layer).map_err(forbidden)?;
                let mut found = None;
                store
                    .query(layer, &Query::default(), &mut |f: Feature| {
                        if f.id == want {
                            found = fv
                                .show(&f)
                                .and_then(|v| Entry::from_shown(layer, v))
                                .map(|e| e.json);
                        }
                        Ok(())
                    })
                    .map_err(|e| problem::from_crate(e.into()))?;
                Ok(found)
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
        let s: LayerSummary = self
            .access
            .blocking(move |store| store.summary(layer))
            .await?
            .map_err(|e| problem::from_crate(e.into()))?;
        Ok(Extent {
            bbox: s.bbox,
            interval: s.first.zip(s.last),
        })
    }

    /// Runs an analysis under the caller's aggregate rules and returns the
    /// gated result, serialised (cached by endpoint, parameters, rules,
    /// delay cutoff and data version).
    ///
    /// `layer` is the analysis's main layer and `reads` every layer it reads
    /// (see [`analysis_rules`]): each layer read is admitted under its own
    /// rules, and the output is gated under the main layer's rules made as
    /// strict as the strictest layer read. `prepare` receives those rules
    /// and the time the delay counts from, adapts the request to them
    /// (coarsening, delay) and returns the [`Job`].
    pub async fn aggregate<F>(
        &self,
        endpoint: &str,
        layer: Layer,
        reads: &[Layer],
        prepare: F,
    ) -> Result<Encoded, ApiError>
    where
        F: FnOnce(&AggregateRules, chrono::DateTime<chrono::Utc>) -> Result<Job, ApiError>,
    {
        let (rules, layers) =
            analysis_rules(&self.access.gate, &self.principal, layer, reads).map_err(forbidden)?;
        let now = hour(chrono::Utc::now());
        let job = prepare(&rules, now)?;
        let version = self.access.version().await?;
        let cutoff = rules.cutoff(now);
        let key = format!(
            "{endpoint}\n{}\n{rules:?}\n{layers:?}\n{cutoff:?}\n{version}",
            job.key
        );
        let access = self.access.clone();
        let principal = self.principal.clone();
        self.access
            .cache
            .get_or_compute(key, || async move {
                let _permit = access
                    .analysis_permits
                    .acquire()
                    .await
                    .map_err(|_| ApiError::unavailable("shutting down"))?;
                let a2 = access.clone();
                access
                    .blocking(move |store| {
                        let admitted = Admitted::new(store, &layers, cutoff, now);
                        let shown = Shown::new(&a2.gate, &principal, store);
                        let value =
                            (job.compute)(&admitted, &|l: Layer, id: &str| shown.has(l, id))
                                .map_err(problem::from_crate)?;
                        let mut gated = a2.gate.aggregate(&rules, value);
                        for name in job.tables {
                            gate_table(&a2.gate, &rules, &mut gated, name);
                        }
                        match job.render {
                            Some(render) => {
                                let (bytes, n) = render(&gated);
                                Ok(Encoded::new(bytes, n))
                            }
                            None => {
                                let n = gated["features"].as_array().map_or(0, |f| f.len() as u64);
                                serde_json::to_vec(&gated)
                                    .map(|b| Encoded::new(b, n))
                                    .map_err(ApiError::internal)
                            }
                        }
                    })
                    .await?
            })
            .await
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
        let _one_at_a_time = self.access.ingest_lock.lock().await;
        self.access
            .blocking(move |store| ingest_body(store, layer, &body))
            .await?
    }
}

/// An analysis run against the (admitted part of the) store. The second
/// argument says whether the caller may see a feature (layer, id)
/// individually, for results that name individual features.
pub type Computation =
    Box<dyn FnOnce(&dyn Store, &dyn Fn(Layer, &str) -> bool) -> crate::Result<Value> + Send>;

/// Writes a gated result as a body other than JSON, with the number of
/// records it holds (for the audit log).
pub type Render = fn(&Value) -> (Vec<u8>, u64);

/// An analysis ready to run: what [`Caller::aggregate`]'s `prepare` returns.
pub struct Job {
    /// The request's normalised form (after defaults and restrictions): the
    /// cache key.
    pub key: String,
    /// The computation.
    pub compute: Computation,
    /// Members of the result's `jointmap` object that hold aggregate rows
    /// (objects with `count` and `count_sensitive`), gated like features.
    pub tables: &'static [&'static str],
    /// How the gated result is written; JSON when `None`.
    pub render: Option<Render>,
}

/// The rules an analysis for `p` runs under, with `main` its main layer and
/// `reads` every layer it reads.
///
/// Returns the output rules and the admission rules per layer:
/// - each layer read is admitted under the rules the gate gives for that
///   layer (consent, classification when full, the patrol delay); a layer
///   the role may not see even as aggregates is left out of the map, and an
///   analysis gets nothing from it; layers not in `reads` likewise;
/// - the output rules are the main layer's (`Err(Forbidden)` when the role
///   may not see it even aggregated), made as strict as every other layer
///   read that contributes: the largest `min_cell_m`, `delay_hours`, `k`
///   and `k_sensitive`, and `full` and `list_members` only when every such
///   layer has them. So no layer's rule is weakened by the product it feeds.
pub fn analysis_rules(
    gate: &Gate,
    p: &Principal,
    main: Layer,
    reads: &[Layer],
) -> Result<(AggregateRules, BTreeMap<Layer, AggregateRules>), AccessError> {
    let mut rules = gate.aggregate_rules(p, main)?;
    let mut layers = BTreeMap::new();
    layers.insert(main, rules.clone());
    for &layer in reads {
        if layers.contains_key(&layer) {
            continue;
        }
        let r = match gate.aggregate_rules(p, layer) {
            Ok(r) => r,
            Err(AccessError::Forbidden { .. }) => continue,
            Err(e) => return Err(e),
        };
        rules.min_cell_m = rules.min_cell_m.max(r.min_cell_m);
        rules.delay_hours = rules.delay_hours.max(r.delay_hours);
        rules.k = rules.k.max(r.k);
        rules.k_sensitive = rules.k_sensitive.max(r.k_sensitive);
        rules.full &= r.full;
        rules.list_members &= r.list_members;
        layers.insert(layer, r);
    }
    Ok((rules, layers))
}

/// Gates the rows of `gated["jointmap"][name]` (an array of objects) like
/// aggregate features: rows under k are removed (their number goes to
/// `jointmap.<name>_suppressed`), references to individual features
/// stripped. Not an array: removed unless the rules are full.
fn gate_table(gate: &Gate, rules: &AggregateRules, gated: &mut Value, name: &str) {
    let Some(meta) = gated.get_mut("jointmap").and_then(Value::as_object_mut) else {
        return;
    };
    let Some(rows) = meta.shift_remove(name) else {
        return;
    };
    let Value::Array(rows) = rows else {
        if rules.full {
            meta.insert(name.into(), rows);
        }
        return;
    };
    let features: Vec<Value> = rows
        .into_iter()
        .map(|r| serde_json::json!({"type": "Feature", "geometry": null, "properties": r}))
        .collect();
    let out = gate.aggregate(
        rules,
        serde_json::json!({"type": "FeatureCollection", "features": features}),
    );
    let kept: Vec<Value> = out["features"]
        .as_array()
        .map(|a| a.iter().map(|f| f["properties"].clone()).collect())
        .unwrap_or_default();
    meta.insert(
        format!("{name}_suppressed"),
        out["jointmap"]["suppressed"].clone(),
    );
    meta.insert(name.into(), Value::Array(kept));
}

/// Which features the caller may see individually, looked up per layer on
/// first use (through the gate's feature view of the raw store).
struct Shown<'a> {
    gate: &'a Gate,
    principal: &'a Principal,
    store: &'a dyn Store,
    seen: Mutex<BTreeMap<Layer, HashSet<String>>>,
}

impl<'a> Shown<'a> {
    fn new(gate: &'a Gate, principal: &'a Principal, store: &'a dyn Store) -> Self {
        Shown {
            gate,
            principal,
            store,
            seen: Mutex::new(BTreeMap::new()),
        }
    }

    /// Whether the caller may see feature `id` of `layer` (false when it does
    /// not exist, or on any error).
    fn has(&self, layer: Layer, id: &str) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let ids = seen.entry(layer).or_insert_with(|| {
            let mut ids = HashSet::new();
            if let Ok(fv) = self.gate.features(self.principal, layer) {
                let r = self
                    .store
                    .query(layer, &Query::default(), &mut |f: Feature| {
                        if fv.show(&f).is_some() {
                            ids.insert(f.id);
                        }
                        Ok(())
                    });
                if r.is_err() {
                    ids.clear();
                }
            }
            ids
        });
        ids.contains(id)
    }
}

fn build_view(
    gate: &Gate,
    store: &dyn Store,
    principal: &Principal,
    layer: Layer,
    version: u64,
    max: u64,
) -> Result<ViewState, ApiError> {
    let fv = gate.features(principal, layer).map_err(forbidden)?;
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

/// The store as an analysis run for a caller sees it: of each layer, only
/// the features that layer's aggregate rules admit (consent, patrol delay);
/// nothing of a layer without rules. Read-only.
///
/// Summaries (used for default windows and extents) are made from the
/// admitted features only, and their times never reach beyond the
/// strictest delay cutoff of the analysis: neither the extent nor the
/// latest time of a feature the analysis may not use shows through.
struct Admitted<'a> {
    inner: &'a dyn Store,
    layers: &'a BTreeMap<Layer, AggregateRules>,
    cutoff: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
    summaries: Mutex<BTreeMap<Layer, LayerSummary>>,
}

impl<'a> Admitted<'a> {
    fn new(
        inner: &'a dyn Store,
        layers: &'a BTreeMap<Layer, AggregateRules>,
        cutoff: Option<chrono::DateTime<chrono::Utc>>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        Admitted {
            inner,
            layers,
            cutoff,
            now,
            summaries: Mutex::new(BTreeMap::new()),
        }
    }

    fn summarise(&self, layer: Layer) -> crate::store::Result<LayerSummary> {
        use geo::BoundingRect;
        let mut count = 0u64;
        let mut b = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        let (mut first, mut last) = (None, None);
        self.query(layer, &Query::default(), &mut |f: Feature| {
            count += 1;
            if let Some(r) = f.geometry.bounding_rect() {
                b = [
                    b[0].min(r.min().x),
                    b[1].min(r.min().y),
                    b[2].max(r.max().x),
                    b[3].max(r.max().y),
                ];
            }
            let (start, end) = (f.time.start, f.time.last());
            first = Some(first.map_or(start, |t: chrono::DateTime<chrono::Utc>| t.min(start)));
            last = Some(last.map_or(end, |t: chrono::DateTime<chrono::Utc>| t.max(end)));
            Ok(())
        })?;
        if let Some(c) = self.cutoff {
            first = first.map(|t| t.min(c));
            last = last.map(|t| t.min(c));
        }
        let fmt = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map(|t| crate::model::time::format_time(&t))
        };
        Ok(LayerSummary {
            layer: layer.name().to_string(),
            count,
            bbox: b[0].is_finite().then_some(b),
            first: fmt(first),
            last: fmt(last),
        })
    }
}

/// `t` rounded down to the hour: delays cut at whole hours, so that results
/// stay cacheable (an earlier cutoff only leaves out more).
pub fn hour(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    use chrono::DurationRound;
    t.duration_trunc(chrono::TimeDelta::hours(1)).unwrap_or(t)
}

impl Store for Admitted<'_> {
    fn begin(&self) -> crate::store::Result<Box<dyn Batch + '_>> {
        Err(StoreError::Aborted("analysis is read-only".into()))
    }
    fn summary(&self, layer: Layer) -> crate::store::Result<LayerSummary> {
        if let Some(s) = self
            .summaries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&layer)
        {
            return Ok(s.clone());
        }
        let s = self.summarise(layer)?;
        self.summaries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(layer, s.clone());
        Ok(s)
    }
    fn query(
        &self,
        layer: Layer,
        query: &Query,
        visit: &mut dyn FnMut(Feature) -> crate::store::Result<()>,
    ) -> crate::store::Result<u64> {
        let Some(rules) = self.layers.get(&layer) else {
            return Ok(0);
        };
        let mut n = 0;
        self.inner.query(layer, query, &mut |f| {
            if rules.admits(&f, self.now) {
                n += 1;
                visit(f)
            } else {
                Ok(())
            }
        })?;
        Ok(n)
    }
    fn data_version(&self) -> crate::store::Result<u64> {
        self.inner.data_version()
    }
}

fn ingest_body(store: &dyn Store, layer: Layer, body: &[u8]) -> Result<IngestReport, ApiError> {
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
        Err(IngestError::Syntax { reason, .. }) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-geojson",
            "Invalid GeoJSON",
            format!("request body: {reason}"),
        )),
        Err(other) => Err(problem::from_crate(other.into())),
    }
}

/// Marks a response with the number of features it carries (for the audit).
pub fn counted(mut r: Response, n: u64) -> Response {
    r.extensions_mut().insert(Returned(n));
    r
}

/// The middleware: bearer token -> principal, 401 without one (but for
/// `/health`), the ingest right before any body is read, then one audit
/// record per request, refusals included (401 with a null token and a
/// reason; 403, 413 and 503 with the token's name).
pub async fn authenticate(
    State(access): State<Arc<Access>>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    if path == "/health" {
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
        access.audit(&AuditRecord {
            time: chrono::Utc::now(),
            token: None,
            role: None,
            reason: Some(reason),
            endpoint: &endpoint,
            params: &params,
            status: 401,
            returned: 0,
        });
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
    access.audit(&AuditRecord {
        time: chrono::Utc::now(),
        token: Some(&principal.name),
        role: Some(principal.role),
        reason: None,
        endpoint: &endpoint,
        params: &params,
        status,
        returned: returned as usize,
    });
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
    use crate::access::Policy;
    use crate::store::GpkgStore;
    use serde_json::json;

    fn principal(role: Role) -> Principal {
        Principal {
            name: format!("{role}"),
            role,
            ingest: vec![],
        }
    }

    fn feature(layer: Layer, id: &str, lon: f64, props: Value) -> Value {
        let geometry = if layer == Layer::Patrols {
            json!({"type": "LineString", "coordinates": [[lon, 4.0], [lon + 0.1, 4.1]]})
        } else {
            json!({"type": "Point", "coordinates": [lon, 4.0]})
        };
        json!({"type": "Feature", "id": id, "geometry": geometry, "properties": props})
    }

    fn ingest(store: &dyn Store, layer: Layer, features: Vec<Value>) {
        let input = Input::Features {
            name: "test".into(),
            features: Box::new(features.into_iter().map(|f| f.to_string())),
        };
        let dir = tempfile::tempdir().unwrap();
        let mut opts = IngestOptions::new(layer);
        opts.rejects = dir.path().join("rejects.ndjson");
        crate::ingest::ingest(store, &opts, vec![input], &|_, _| {}).unwrap();
    }

    /// Each layer is admitted under its own rules; a layer without rules
    /// gives nothing; summaries show only admitted features and never reach
    /// beyond the cutoff.
    #[test]
    fn admitted_store_per_layer_with_honest_summaries() {
        let dir = tempfile::tempdir().unwrap();
        let store = GpkgStore::open(dir.path().join("s.gpkg")).unwrap();
        let now = hour(chrono::Utc::now());
        let t = |hours_ago: i64| {
            crate::model::time::format_time(&(now - chrono::Duration::hours(hours_ago)))
        };
        let incident = |id: &str, lon: f64, consent: &str, time: String| {
            feature(
                Layer::Incidents,
                id,
                lon,
                json!({"time_start": time, "owner": "hr", "classification": "restricted",
                    "category": "killing", "consent": consent}),
            )
        };
        ingest(
            &store,
            Layer::Incidents,
            vec![
                incident("kept", 18.0, "hr-only", t(500)),
                incident("recent", 18.2, "mission", t(2)),
                // Consent none: never in a military aggregate, nor its extent.
                incident("far-none", 25.0, "none", t(1)),
            ],
        );
        let patrol = |id: &str, lon: f64, ended: i64| {
            feature(
                Layer::Patrols,
                id,
                lon,
                json!({"time_start": t(ended + 3), "time_end": t(ended), "owner": "military",
                    "classification": "restricted", "unit": "Coy A", "mode": "foot"}),
            )
        };
        ingest(
            &store,
            Layer::Patrols,
            vec![patrol("old", 18.0, 100), patrol("new", 30.0, 5)],
        );
        let gate = Gate::new(Policy::default(), None).unwrap();
        let collect = |s: &dyn Store, layer: Layer| {
            let mut ids = Vec::new();
            s.query(layer, &Query::default(), &mut |f| {
                ids.push(f.id);
                Ok(())
            })
            .unwrap();
            ids.sort();
            ids
        };
        // Military: every patrol; incidents but the one without consent.
        let (rules, layers) = analysis_rules(
            &gate,
            &principal(Role::Military),
            Layer::Patrols,
            &[Layer::Patrols, Layer::Incidents],
        )
        .unwrap();
        assert!(!rules.full && rules.delay_hours == 0.0);
        let a = Admitted::new(&store, &layers, rules.cutoff(now), now);
        assert_eq!(collect(&a, Layer::Patrols), ["new", "old"]);
        assert_eq!(collect(&a, Layer::Incidents), ["kept", "recent"]);
        assert!(collect(&a, Layer::Bases).is_empty());
        let s = a.summary(Layer::Incidents).unwrap();
        assert_eq!(s.count, 2);
        assert!(s.bbox.unwrap()[2] < 20.0, "{s:?}");
        assert_eq!(s.last, Some(t(2)));
        // Jmac: patrols delayed; the summaries of every layer stop at the cutoff.
        let (rules, layers) = analysis_rules(
            &gate,
            &principal(Role::Jmac),
            Layer::Patrols,
            &[Layer::Patrols, Layer::Incidents],
        )
        .unwrap();
        let cutoff = rules.cutoff(now).unwrap();
        assert_eq!(cutoff, now - chrono::Duration::hours(72));
        let a = Admitted::new(&store, &layers, Some(cutoff), now);
        assert_eq!(collect(&a, Layer::Patrols), ["old"]);
        let s = a.summary(Layer::Patrols).unwrap();
        assert_eq!((s.count, s.last.clone()), (1, Some(t(100))));
        assert!(s.bbox.unwrap()[2] < 20.0, "{s:?}");
        let s = a.summary(Layer::Incidents).unwrap();
        assert_eq!(s.last, Some(t(72)));
        assert_eq!(s.first, Some(t(500)));
        // A layer not read: an empty summary.
        let s = a.summary(Layer::Sightings).unwrap();
        assert_eq!((s.count, s.bbox, s.last), (0, None, None));
        // Hr: its own incidents in full (consent none too), patrols delayed.
        let (_, layers) = analysis_rules(
            &gate,
            &principal(Role::Hr),
            Layer::Incidents,
            &[Layer::Incidents, Layer::Patrols],
        )
        .unwrap();
        let a = Admitted::new(&store, &layers, Some(cutoff), now);
        assert_eq!(
            collect(&a, Layer::Incidents),
            ["far-none", "kept", "recent"]
        );
        assert_eq!(collect(&a, Layer::Patrols), ["old"]);
        assert!(a.begin().is_err());
    }

    /// A layer the role may not see even aggregated contributes nothing; the
    /// main layer then refuses.
    #[test]
    fn layers_a_role_may_not_see_contribute_nothing() {
        let mut policy = Policy::default();
        policy.views.partner.sightings = crate::access::LayerView::None;
        let gate = Gate::new(policy, None).unwrap();
        let p = principal(Role::Partner);
        let (rules, layers) = analysis_rules(&gate, &p, Layer::Incidents, &Layer::ALL).unwrap();
        assert!(!layers.contains_key(&Layer::Sightings));
        assert_eq!(layers.len(), 4);
        assert_eq!(rules.layer, Layer::Incidents);
        assert!(matches!(
            analysis_rules(&gate, &p, Layer::Sightings, &[Layer::Sightings]),
            Err(AccessError::Forbidden { .. })
        ));
    }

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

    #[test]
    fn tables_are_gated_like_features() {
        let gate = Gate::new(Policy::default(), None).unwrap();
        let rules = gate
            .aggregate_rules(&principal(Role::Partner), Layer::Incidents)
            .unwrap();
        let mut v = json!({"type": "FeatureCollection", "features": [], "jointmap": {"table": [
            {"group": "patrol:foot", "count": 3, "count_sensitive": 0},
            {"group": "patrol:air", "count": 12, "count_sensitive": 0, "base_id": "b-1"},
            {"group": "patrol:boat", "count": 9, "count_sensitive": 2},
            {"group": "base:b-2"}]}});
        gate_table(&gate, &rules, &mut v, "table");
        assert_eq!(
            v["jointmap"]["table"],
            json!([{"group": "patrol:air", "count": 12, "count_sensitive": 0}])
        );
        assert_eq!(v["jointmap"]["table_suppressed"], 3);
        let mut v = json!({"jointmap": {"table": "not rows"}});
        gate_table(&gate, &rules, &mut v, "table");
        assert!(v["jointmap"].get("table").is_none());
    }
}

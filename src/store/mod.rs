//! Durable storage behind two small traits: [`FeatureSource`] (the read
//! side) and [`FeatureSink`] (atomic write batches); [`Store`] is both.
//!
//! Analyses, the access gate and the server's read paths see only
//! `FeatureSource`; ingest and maintenance commands the whole `Store`. The
//! embedded default is [`GpkgStore`], an OGC GeoPackage on SQLite; the shared
//! one, for several stateless servers, [`PgStore`] on PostgreSQL with PostGIS. [`open`] opens a store from a location
//! string, so no command or configuration names a backend type.

mod audit;
pub mod check;
pub mod columns;
#[cfg(test)]
mod contract_tests;
mod copy;
mod gpkg;
mod index;
mod location;
mod memory;
mod postgis;
pub mod wkb;

pub use audit::{open_audit, AuditRow, AuditTable};
pub use columns::{Consent, EventColumns};
pub use copy::{copy, CopyMode};
pub use gpkg::{Change, GpkgStore, HistoryEntry, PlainGpkg, PlainSchema, PlainType};
pub use index::LayerIndex;
pub use location::{
    migrate, open, open_geopackage, open_with, schema_status, IfMissing, Indexes, Location,
    OpenOptions,
};
pub use memory::MemoryStore;
pub use postgis::{PgAudit, PgStore};

use crate::model::{Feature, Layer};
use chrono::{DateTime, Utc};
use std::ops::{Bound, ControlFlow};

/// What kind of failure a backend reported, whatever the backend: callers
/// decide on this (retry, refuse the input, report damage), never on the
/// backend's own error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The backend refused what it was given (a value it cannot hold).
    BadInput,
    /// Another writer or reader holds what was needed: retrying may work.
    Busy,
    /// The stored data or the file is damaged.
    Corrupt,
    /// The store (file, database) could not be found or opened.
    NotFound,
    /// Anything else (I/O, out of memory, an engine failure).
    Other,
}

/// Errors of the store. No variant names a backend's types: a backend wraps
/// its errors as [`StoreError::Backend`] with their [`ErrorKind`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend (SQLite, PostgreSQL) failed.
    #[error("store {location}: {message}")]
    Backend {
        /// The store, as [`Location`] shows it.
        location: String,
        /// What kind of failure.
        kind: ErrorKind,
        /// The backend's message.
        message: String,
    },
    /// The location exists but is not a jointmap store (or is damaged), or
    /// names no store.
    #[error("store {location}: {reason}")]
    Invalid {
        /// The store, as [`Location`] shows it.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// A stored row could not be read back.
    #[error("store {location}: layer {layer}, feature {id}: {reason}")]
    Corrupt {
        /// The store, as [`Location`] shows it.
        location: String,
        /// Layer.
        layer: Layer,
        /// Feature id.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// The location names a backend this build does not have.
    #[error("store {location}: {reason}")]
    Unsupported {
        /// The store, as [`Location`] shows it.
        location: String,
        /// Which backend, and what to use instead.
        reason: String,
    },
    /// The query itself is invalid (bad bbox, ...).
    #[error("invalid query: {0}")]
    BadQuery(String),
    /// A query visitor asked to stop with an error (e.g. broken output pipe).
    #[error("{0}")]
    Aborted(String),
}

impl StoreError {
    /// Whether the caller, not the store, is at fault.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            StoreError::BadQuery(_)
                | StoreError::Invalid { .. }
                | StoreError::Unsupported { .. }
                | StoreError::Backend {
                    kind: ErrorKind::BadInput,
                    ..
                }
        )
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::Backend { kind, .. } => *kind,
            StoreError::Invalid { .. } | StoreError::Corrupt { .. } => ErrorKind::Corrupt,
            StoreError::Unsupported { .. } | StoreError::BadQuery(_) => ErrorKind::BadInput,
            StoreError::Aborted(_) => ErrorKind::Other,
        }
    }
}

/// Store result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A spatial and temporal filter. Empty means everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    /// `[min_lon, min_lat, max_lon, max_lat]`; `min_lon > max_lon` crosses the antimeridian.
    pub bbox: Option<[f64; 4]>,
    /// Features whose time span overlaps `[from, to]` (either end open).
    pub from: Option<DateTime<Utc>>,
    /// See `from`.
    pub to: Option<DateTime<Utc>>,
}

impl Query {
    /// Checks the bbox is a real one.
    pub fn validate(&self) -> Result<()> {
        if let Some(b) = self.bbox {
            if b.iter().any(|v| !v.is_finite()) {
                return Err(StoreError::BadQuery(
                    "bbox values must be finite numbers".into(),
                ));
            }
            if !(-180.0..=180.0).contains(&b[0]) || !(-180.0..=180.0).contains(&b[2]) {
                return Err(StoreError::BadQuery(
                    "bbox longitudes must be within [-180, 180]".into(),
                ));
            }
            if !(-90.0..=90.0).contains(&b[1]) || !(-90.0..=90.0).contains(&b[3]) || b[1] > b[3] {
                return Err(StoreError::BadQuery(
                    "bbox latitudes must be within [-90, 90] with min_lat <= max_lat".into(),
                ));
            }
        }
        if let (Some(a), Some(b)) = (self.from, self.to) {
            if b < a {
                return Err(StoreError::BadQuery(
                    "time filter ends before it starts".into(),
                ));
            }
        }
        Ok(())
    }
}

/// A store's schema against this build's, as `jointmap migrate` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SchemaStatus {
    /// The stored schema version; `None` when the location holds no store yet.
    pub found: Option<i64>,
    /// The version this build writes.
    pub supported: i64,
    /// Whether opening the store would change its schema (create or migrate it).
    pub pending: bool,
}

impl SchemaStatus {
    /// Whether a newer jointmap wrote the schema: this build refuses it.
    pub fn is_newer(&self) -> bool {
        self.found.is_some_and(|v| v > self.supported)
    }
}

/// Why a store written by a newer jointmap is refused, naming both versions
/// (the same words on every backend).
pub(crate) fn newer_schema(found: i64, supported: i64) -> String {
    format!(
        "the store's schema is version {found}, newer than this jointmap's {supported}; \
         upgrade jointmap"
    )
}

/// Counts, extent and time span of one layer.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LayerSummary {
    /// The layer.
    pub layer: String,
    /// Number of features.
    pub count: u64,
    /// `[min_lon, min_lat, max_lon, max_lat]`, when the layer is not empty.
    pub bbox: Option<[f64; 4]>,
    /// Earliest start, when the layer is not empty.
    pub first: Option<String>,
    /// Latest start or end, when the layer is not empty.
    pub last: Option<String>,
}

/// What one committed batch changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct BatchStats {
    /// Features new to the store.
    pub inserted: u64,
    /// Features whose id existed and were replaced.
    pub updated: u64,
}

/// Who a batch's replacements are recorded as, unless
/// [`Batch::set_author`] says otherwise: a local operator.
pub const LOCAL_AUTHOR: &str = "cli";

/// Which features of a layer [`Batch::delete`] removes.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// These ids; every one must be stored, or nothing is deleted.
    Ids(Vec<String>),
    /// Everything written for this source (`jointmap ingest --source`).
    Source(String),
    /// Everything that ended (or, without an end, started) before this time.
    Before(DateTime<Utc>),
}

/// One stored row as [`Batch::inspect`] reads it: a row that cannot be read
/// as a feature is still visited, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRow {
    /// The backend's key of the row (the GeoPackage `fid`), for
    /// [`Batch::quarantine`] in the same batch.
    pub key: i64,
    /// The stored id, as text.
    pub id: String,
    /// The source the row was written for, when recorded.
    pub source: Option<String>,
    /// The feature, or why the row cannot be read as one.
    pub feature: std::result::Result<Feature, String>,
}

/// A feature moved aside by [`Batch::quarantine`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Quarantined {
    /// The layer it was taken from.
    pub layer: String,
    /// Its id.
    pub id: String,
    /// Why, as `jointmap check` reported it.
    pub reasons: String,
    /// When (UTC, `YYYY-MM-DDTHH:MM:SS.sssZ`).
    pub at: String,
    /// Who: a token's name, or `cli`.
    pub by: String,
}

/// A valid feature made ready for a batch by [`FeatureSink::prepare`]: as
/// it is, or already encoded as the store that prepared it writes it.
#[derive(Debug, Clone)]
pub struct Prepared(Ready);

#[derive(Debug, Clone)]
enum Ready {
    Feature(Feature),
    Row(gpkg::Row),
    Pg(postgis::PgRow),
}

impl Prepared {
    /// The feature's id.
    pub fn id(&self) -> &str {
        match &self.0 {
            Ready::Feature(f) => &f.id,
            Ready::Row(r) => &r.id,
            Ready::Pg(r) => r.id(),
        }
    }
}

impl From<Feature> for Prepared {
    fn from(f: Feature) -> Self {
        Prepared(Ready::Feature(f))
    }
}

/// An atomic write: nothing is visible until [`Batch::commit`]; dropping the
/// batch without committing discards it.
pub trait Batch {
    /// The feature stored under `id` in `layer`, as this batch sees it: read
    /// inside the batch's write transaction, so no other writer can change it
    /// before the batch commits.
    fn get(&mut self, layer: Layer, id: &str) -> Result<Option<Feature>>;
    /// Names who the batch writes for (a token's name, or [`LOCAL_AUTHOR`]),
    /// recorded with every version it replaces.
    fn set_author(&mut self, author: &str);
    /// Names the source the batch writes for (an input file's name, `demo`),
    /// recorded with every row it writes; the author when not set.
    fn set_source(&mut self, source: &str);
    /// Deletes the selected features of `layer`, keeping each in the history
    /// as a deleted version (restorable by re-ingesting it), and returns
    /// their ids. Ids that are not stored are an error
    /// ([`StoreError::BadQuery`]) that deletes nothing.
    fn delete(&mut self, layer: Layer, selection: &Selection) -> Result<Vec<String>>;
    /// Visits every stored row of `layer`, in storage order, inside the
    /// batch's transaction; a row that cannot be read as a feature is visited
    /// too, with the reason, instead of stopping the read.
    fn inspect(
        &mut self,
        layer: Layer,
        visit: &mut dyn FnMut(StoredRow) -> Result<()>,
    ) -> Result<u64>;
    /// Moves the row `key` of `layer` (from [`Batch::inspect`]) out of the
    /// layer into the quarantine, unchanged, with `reasons`: analyses and
    /// readers no longer see it, and [`Batch::restore`] puts it back.
    fn quarantine(&mut self, layer: Layer, key: i64, reasons: &str) -> Result<()>;
    /// Puts the quarantined rows with this id back into `layer`, as they
    /// were; returns how many. A row whose id is stored again meanwhile is an
    /// error that restores nothing.
    fn restore(&mut self, layer: Layer, id: &str) -> Result<u64>;
    /// How many features of `layer` each source wrote (`None`: written
    /// before sources were recorded), by source.
    fn sources(&mut self, layer: Layer) -> Result<Vec<(Option<String>, u64)>>;
    /// Inserts the feature, or replaces the one with the same id (upsert).
    /// A replaced version is kept in the store's history, with the time and
    /// the batch's author, unless the new version is stored identically.
    fn upsert(&mut self, layer: Layer, feature: &Feature) -> Result<()>;
    /// Upserts features made ready by [`FeatureSink::prepare`] of the same
    /// store, in order, each as [`Batch::upsert`] would.
    fn upsert_prepared(&mut self, layer: Layer, items: &[Prepared]) -> Result<()> {
        for item in items {
            match &item.0 {
                Ready::Feature(f) => self.upsert(layer, f)?,
                Ready::Row(_) | Ready::Pg(_) => {
                    return Err(StoreError::Aborted(
                        "a feature prepared by another kind of store".into(),
                    ))
                }
            }
        }
        Ok(())
    }
    /// Makes the whole batch durable at once.
    fn commit(self: Box<Self>) -> Result<BatchStats>;
}

/// Which way [`FeatureSource::walk`] goes through the ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Smallest id first.
    #[default]
    Ascending,
    /// Largest id first.
    Descending,
}

/// The read side of a store: everything analyses, the access gate and the
/// server's read paths need.
///
/// What every implementation guarantees:
/// - **Snapshot.** Each call sees the committed data of one moment: a batch
///   committed while a call runs is seen by none or all of it, never half.
///   Uncommitted batches are never seen.
/// - **Order.** `query` visits in *storage order*: the order in which ids
///   were first stored (a replaced feature keeps its place, a deleted and
///   re-stored one moves to the end); the same between calls while no batch
///   commits. `walk` visits in id order (byte order of the UTF-8 id).
/// - **Filters** ([`Query`]): a bbox keeps the features whose geometry touches
///   it (exactly for points; a line or polygon whose envelope touches it); a
///   time filter keeps the features whose time span `[start, end]` overlaps
///   `[from, to]`, where a missing end is the start, except for open-ended
///   layers ([`Layer::open_ended`]: bases, sites), where it is "still open".
///   Bounds are inclusive. An invalid query is [`StoreError::BadQuery`].
/// - **Visitors** are called on the calling thread, one feature at a time, and
///   must not call the store back (a backend may hold a lock meanwhile). An
///   error from a visitor stops the call and is returned as it is, after
///   every feature before it was visited.
/// - Stored times have millisecond precision (what a GeoPackage stores);
///   properties read back as their schema kind stores them.
pub trait FeatureSource: Send + Sync {
    /// Counts, extent (union of the geometries' envelopes) and time span
    /// (earliest start, latest end or start; RFC 3339, milliseconds) of a
    /// layer.
    fn summary(&self, layer: Layer) -> Result<LayerSummary>;
    /// Calls `visit` on every feature matching `query`, in storage order, and
    /// returns how many were visited.
    fn query(
        &self,
        layer: Layer,
        query: &Query,
        visit: &mut dyn FnMut(Feature) -> Result<()>,
    ) -> Result<u64>;
    /// The point events of `layer` matching `query`, as the columns analyses
    /// and the access gate read ([`EventColumns`]), in `query`'s order. The
    /// default builds them from `query`; a backend may answer from a compact
    /// form, with exactly the same rows and values.
    fn columns(&self, layer: Layer, query: &Query) -> Result<std::sync::Arc<EventColumns>> {
        columns::columns_by_query(self, layer, query)
    }
    /// The feature stored under `id`, if any: a key lookup, whatever the
    /// layer's size. The default reads the layer through `query`; a backend
    /// overrides it.
    fn get(&self, layer: Layer, id: &str) -> Result<Option<Feature>> {
        let mut found = None;
        self.query(layer, &Query::default(), &mut |f| {
            if f.id == id {
                found = Some(f);
            }
            Ok(())
        })?;
        Ok(found)
    }
    /// Keyset paging: calls `visit` on the features matching `query` in id
    /// order (`direction`), starting at `from` (`Included(id)`: that id and
    /// beyond, `Excluded(id)`: strictly beyond, `Unbounded`: the first id),
    /// until `visit` breaks or none are left; returns how many were visited.
    /// A backend reads only what it visits (plus a bounded read-ahead), so
    /// a page deep in a large layer costs what the first one does. The
    /// default sorts everything `query` gives; a backend overrides it.
    fn walk(
        &self,
        layer: Layer,
        query: &Query,
        from: Bound<&str>,
        direction: Direction,
        visit: &mut dyn FnMut(Feature) -> Result<ControlFlow<()>>,
    ) -> Result<u64> {
        let mut all = Vec::new();
        self.query(layer, query, &mut |f| {
            all.push(f);
            Ok(())
        })?;
        all.sort_by(|a, b| a.id.cmp(&b.id));
        if direction == Direction::Descending {
            all.reverse();
        }
        let mut n = 0;
        for f in all {
            if !in_range(&f.id, from, direction) {
                continue;
            }
            n += 1;
            if visit(f)?.is_break() {
                break;
            }
        }
        Ok(n)
    }
    /// A number that changes with every commit (of this process or another
    /// one sharing the store) and at no other time: a cache made at one
    /// version holds while the version is the same.
    fn data_version(&self) -> Result<u64>;
    /// [`FeatureSource::data_version`] when the backend can give it at once, without
    /// I/O or waiting for a lock (so that an async caller may ask on its own thread);
    /// `None` when it must be asked for with [`FeatureSource::data_version`] on a
    /// thread that may block. The default: `None`.
    fn data_version_now(&self) -> Option<Result<u64>> {
        None
    }
    /// The data version as it may be written into what is made from this
    /// source: the store's own by default; `None` from a view that hides
    /// rows (a role's admitted store, see `access`), where the store's
    /// counter would tell the receiver when records it may not see were
    /// written.
    fn disclosed_version(&self) -> Result<Option<u64>> {
        self.data_version().map(Some)
    }
    /// Blocks until the data version differs from `seen` (a commit by this
    /// process or any other sharing the store) or `timeout` passed, and
    /// returns the version then. A backend that can be told of commits
    /// (PostgreSQL's LISTEN) waits for that; the default polls
    /// [`FeatureSource::data_version`] every [`POLL_EVERY`]. Long-running
    /// readers (the server) call it in a loop to drop what they cached.
    fn wait_for_change(&self, seen: u64, timeout: std::time::Duration) -> Result<Watched> {
        poll_for_change(self, seen, timeout)
    }
}

/// How often [`FeatureSource::wait_for_change`] reads the data version when
/// the backend cannot tell of commits.
pub const POLL_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// What [`FeatureSource::wait_for_change`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watched {
    /// The data version when the wait ended.
    pub version: u64,
    /// Whether the backend was listening for commits during the whole wait,
    /// so that one made anywhere reaches the caller within milliseconds:
    /// the caller may then trust `version` instead of reading it on every
    /// request. `false` when the version was polled.
    pub pushed: bool,
}

/// [`FeatureSource::wait_for_change`] by reading the data version every
/// [`POLL_EVERY`].
pub(crate) fn poll_for_change<S: FeatureSource + ?Sized>(
    source: &S,
    seen: u64,
    timeout: std::time::Duration,
) -> Result<Watched> {
    let end = std::time::Instant::now() + timeout;
    loop {
        let version = source.data_version()?;
        let now = std::time::Instant::now();
        if version != seen || now >= end {
            return Ok(Watched {
                version,
                pushed: false,
            });
        }
        std::thread::sleep(POLL_EVERY.min(end - now));
    }
}

/// Whether `id` lies at or beyond `from` in `direction` (see
/// [`FeatureSource::walk`]).
pub fn in_range(id: &str, from: Bound<&str>, direction: Direction) -> bool {
    use std::cmp::Ordering::*;
    let Some((key, inclusive)) = (match from {
        Bound::Included(k) => Some((k, true)),
        Bound::Excluded(k) => Some((k, false)),
        Bound::Unbounded => None,
    }) else {
        return true;
    };
    match (id.cmp(key), direction) {
        (Equal, _) => inclusive,
        (Greater, Direction::Ascending) | (Less, Direction::Descending) => true,
        _ => false,
    }
}

/// The write side of a store.
pub trait FeatureSink: Send + Sync {
    /// Starts an atomic write batch: nothing it writes is seen by any reader
    /// until [`Batch::commit`]; dropping it uncommitted discards all of it.
    /// One batch at a time per store: a second `begin` (in this process or
    /// another) waits for the first to end, or fails as busy.
    fn begin(&self) -> Result<Box<dyn Batch + '_>>;
    /// Makes a valid feature ready for [`Batch::upsert_prepared`] on any
    /// thread, so that the work of encoding it is not the single writer's
    /// (ingest prepares on its validation workers). By default the feature
    /// as it is.
    fn prepare(&self, _layer: Layer, feature: Feature) -> Prepared {
        Prepared(Ready::Feature(feature))
    }
    /// As [`FeatureSink::prepare`], from a feature validated into its parts
    /// (ingest's way: no map of its properties built). By default the
    /// feature made from them, prepared.
    fn prepare_parts(&self, parts: crate::model::Parts) -> Prepared {
        self.prepare(parts.layer, Feature::from(parts))
    }
    /// Housekeeping between writes, called regularly by a long-running
    /// server: the GeoPackage moves its write-ahead log into the file, so a
    /// plain copy of the file is a whole store. Nothing to do by default.
    fn maintain(&self) -> Result<()> {
        Ok(())
    }
}

/// A whole store: read and write side. Implemented by every type that has
/// both; code that only reads takes a [`FeatureSource`].
pub trait Store: FeatureSource + FeatureSink {}

impl<T: FeatureSource + FeatureSink + ?Sized> Store for T {}

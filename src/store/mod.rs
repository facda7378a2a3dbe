//! Durable storage behind one small trait, [`Store`].
//!
//! Analysis and server code see only the trait. The embedded default is
//! [`GpkgStore`], an OGC GeoPackage on SQLite; a PostGIS backend for several
//! stateless servers can implement the same trait later.

pub mod check;
pub mod columns;
mod gpkg;
mod index;
pub mod wkb;

pub use columns::{Consent, EventColumns};
pub use gpkg::{Change, GpkgStore, HistoryEntry};
pub use index::LayerIndex;

use crate::model::{Feature, Layer};
use chrono::{DateTime, Utc};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("store {path}: {source}")]
    Sqlite {
        /// Store file.
        path: String,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file exists but is not a jointmap GeoPackage (or is damaged).
    #[error("store {path}: {reason}")]
    Invalid {
        /// Store file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A stored row could not be read back.
    #[error("store {path}: layer {layer}, feature {id}: {reason}")]
    Corrupt {
        /// Store file.
        path: String,
        /// Layer.
        layer: Layer,
        /// Feature id.
        id: String,
        /// What is wrong.
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
        matches!(self, StoreError::BadQuery(_) | StoreError::Invalid { .. })
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
    /// Makes the whole batch durable at once.
    fn commit(self: Box<Self>) -> Result<BatchStats>;
}

/// The storage interface analysis and server code use.
pub trait Store: Send + Sync {
    /// Starts an atomic write batch. One batch at a time per store.
    fn begin(&self) -> Result<Box<dyn Batch + '_>>;
    /// Counts, extent and time span of a layer.
    fn summary(&self, layer: Layer) -> Result<LayerSummary>;
    /// Calls `visit` on every feature matching `query`, in id order of storage
    /// (stable between calls), and returns how many were visited.
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
    /// A number that changes whenever committed data changes (for caches).
    fn data_version(&self) -> Result<u64>;
    /// Housekeeping between writes, called regularly by a long-running
    /// server: the GeoPackage moves its write-ahead log into the file, so a
    /// plain copy of the file is a whole store. Nothing to do by default.
    fn maintain(&self) -> Result<()> {
        Ok(())
    }
}

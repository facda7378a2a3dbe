//! Durable storage behind one small trait, [`Store`].
//!
//! Analysis and server code see only the trait. The embedded default is
//! [`GpkgStore`], an OGC GeoPackage on SQLite; a PostGIS backend for several
//! stateless servers can implement the same trait later.

mod gpkg;
mod index;
pub mod wkb;

pub use gpkg::{GpkgStore, HistoryEntry};
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
    /// A number that changes whenever committed data changes (for caches).
    fn data_version(&self) -> Result<u64>;
}

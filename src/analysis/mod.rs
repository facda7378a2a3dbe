//! Analysis: hotspots (kernel density, Getis-Ord Gi*, Local Moran's I) and
//! point clustering (DBSCAN, ST-DBSCAN) over events read from the store.
//!
//! Every method is data-parallel (rayon) and gives identical results whatever
//! the thread count. Analysis knows nothing of HTTP or pixels.

pub mod blindspots;
pub mod cluster_layer;
pub mod clusters;
pub mod coverage;
pub mod dbscan;
pub mod events;
pub mod fdr;
pub mod getis_ord;
pub mod hdbscan;
pub mod hotspots;
pub mod impact;
pub mod kde;
pub(crate) mod kdtree;
pub mod knee;
pub mod local_moran;
pub mod memo;
pub mod product;
pub mod projected;
pub(crate) mod spatial_hash;
pub mod st_dbscan;
pub mod threat;
pub mod trends;
pub mod visits;
pub mod weights;

/// Errors of the analysis module.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// A parameter is out of its domain; names the parameter and why.
    #[error("parameter `{name}`: {reason}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// The grid could not be built (bad cell size, area or resolution).
    #[error(transparent)]
    Grid(#[from] crate::grid::GridError),
    /// Reading the input from the store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The analysis was cancelled (see [`crate::cancel`]).
    #[error(transparent)]
    Cancelled(#[from] crate::cancel::Cancelled),
}

impl AnalysisError {
    /// Shorthand for [`AnalysisError::InvalidParameter`].
    pub fn param(name: &'static str, reason: impl Into<String>) -> Self {
        AnalysisError::InvalidParameter {
            name,
            reason: reason.into(),
        }
    }
}

/// Point events prepared for analysis, as a struct of arrays in a stable order
/// (the store's order), so that results never depend on thread scheduling.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Events {
    /// Feature ids.
    pub id: Vec<String>,
    /// Longitudes (WGS 84 degrees).
    pub lon: Vec<f64>,
    /// Latitudes (WGS 84 degrees).
    pub lat: Vec<f64>,
    /// Start times, Unix seconds UTC.
    pub time: Vec<i64>,
    /// End times, Unix seconds UTC (the start for an instant): UCDP events
    /// span days. Read through [`Events::end`], which falls back to the start.
    pub time_end: Vec<i64>,
    /// Weight per event (1 when counting).
    pub weight: Vec<f64>,
    /// Incident category (sightings: activity), for summaries.
    pub category: Vec<String>,
    /// Alleged perpetrator (sightings: actor); empty when unknown.
    pub actor: Vec<String>,
    /// Sexual-violence or child case (see [`crate::model::classification::is_sensitive`]): aggregates
    /// that include one need a larger minimum count before they are shown to
    /// roles without access to the underlying records.
    pub sensitive: Vec<bool>,
}

impl Events {
    /// Number of events.
    pub fn len(&self) -> usize {
        self.lon.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.lon.is_empty()
    }

    /// Appends one event.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        id: String,
        lon: f64,
        lat: f64,
        time: i64,
        weight: f64,
        category: String,
        actor: String,
    ) {
        self.id.push(id);
        self.lon.push(lon);
        self.lat.push(lat);
        self.time.push(time);
        self.time_end.push(time);
        self.weight.push(weight);
        self.category.push(category);
        self.actor.push(actor);
        self.sensitive.push(false);
    }

    /// Appends all of `other`'s events.
    pub fn extend_from(&mut self, other: &Events) {
        self.id.extend_from_slice(&other.id);
        self.lon.extend_from_slice(&other.lon);
        self.lat.extend_from_slice(&other.lat);
        self.time.extend_from_slice(&other.time);
        self.time_end.extend_from_slice(&other.time_end);
        self.weight.extend_from_slice(&other.weight);
        self.category.extend_from_slice(&other.category);
        self.actor.extend_from_slice(&other.actor);
        self.sensitive.extend_from_slice(&other.sensitive);
    }

    /// Sets the end of the last event pushed (its start when not set; an
    /// end before the start is taken as the start).
    pub fn set_last_end(&mut self, end: i64) {
        if let (Some(e), Some(s)) = (self.time_end.last_mut(), self.time.last()) {
            *e = end.max(*s);
        }
    }

    /// End times of every event (the start where none is recorded).
    pub fn ends(&self) -> Vec<i64> {
        (0..self.time.len())
            .map(|i| self.time_end.get(i).copied().unwrap_or(self.time[i]))
            .collect()
    }

    /// Marks the last event pushed as sensitive (or not).
    pub fn set_last_sensitive(&mut self, sensitive: bool) {
        if let Some(s) = self.sensitive.last_mut() {
            *s = sensitive;
        }
    }

    /// Number of sensitive events among `indices`.
    pub fn count_sensitive(&self, indices: impl IntoIterator<Item = usize>) -> usize {
        indices
            .into_iter()
            .filter(|&i| self.sensitive.get(i).copied().unwrap_or(false))
            .count()
    }
}

//! jointmap: joint human-rights / military protection mapping for UN peace operations.
//!
//! Data flows one way through the modules, mirrored by the folders:
//! [`model`] (the domain and its validation) <- [`ingest`] (GeoJSON and foreign
//! schemas) -> [`store`] (GeoPackage behind the [`store::Store`] trait) -> analysis,
//! render and server (later issues). [`demo`] generates a synthetic mission and
//! [`cli`] is a thin shell over all of it.

pub mod access;
pub mod analysis;
pub mod cancel;
pub mod cli;
pub mod demo;
pub mod grid;
pub mod ingest;
pub mod model;
pub mod render;
pub mod request;
pub mod rng;
pub mod server;
pub mod store;

/// The crate-wide error: one variant per module error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Access denied, or an invalid access configuration or audit log.
    #[error(transparent)]
    Access(#[from] access::AccessError),
    /// Bad input data (validation failures, unreadable files).
    #[error(transparent)]
    Ingest(#[from] ingest::IngestError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// Analysis failed (bad parameters, store errors).
    #[error(transparent)]
    Analysis(#[from] analysis::AnalysisError),
    /// A model-level problem outside ingest (e.g. an unknown layer name).
    #[error(transparent)]
    Model(#[from] model::ModelError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

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
    /// The server could not start (configuration, address).
    #[error(transparent)]
    Server(#[from] server::ServerError),
    /// A model-level problem outside ingest (e.g. an unknown layer name).
    #[error(transparent)]
    Model(#[from] model::ModelError),
}

impl Error {
    /// Process exit code for this error: 2 for bad input, 1 for internal failures.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Ingest(e) if e.is_bad_input() => 2,
            Error::Model(_) => 2,
            Error::Server(server::ServerError::Config(_)) => 2,
            Error::Store(e) if e.is_bad_input() => 2,
            Error::Analysis(analysis::AnalysisError::InvalidParameter { .. }) => 2,
            Error::Analysis(analysis::AnalysisError::Grid(_)) => 2,
            _ => 1,
        }
    }
}

/// Crate result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

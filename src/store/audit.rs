//! The audit log in the store's database: an append-only table that several
//! servers on one PostGIS store write their records to (instead of a file each).
//!
//! The table (`jointmap_audit`) is created by the store's migrations, which
//! revoke UPDATE, DELETE and TRUNCATE from PUBLIC and refuse them by trigger for
//! every role; a server may write through a role of its own that may only
//! INSERT (docs/deploy.md). The records are plain values here, so the store
//! knows nothing of the access module's types.

use super::{Location, Result, StoreError};
use chrono::{DateTime, Utc};

/// One audit record as the table holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    /// When the request was answered.
    pub time: DateTime<Utc>,
    /// The token's name (never its secret); `None` without a valid token.
    pub token: Option<String>,
    /// The token's role, when known.
    pub role: Option<String>,
    /// Why a request without a valid token was refused.
    pub reason: Option<String>,
    /// Method and path.
    pub endpoint: String,
    /// The request's parameters.
    pub params: String,
    /// HTTP status of the answer.
    pub status: u16,
    /// Features returned.
    pub returned: u64,
}

/// An append-only table of one server's audit records. Rows carry the
/// server's name, its start time and a sequence number counted from 0 at its
/// start, so each server's records read back in the order it wrote them.
pub trait AuditTable: Send + Sync {
    /// Appends `rows`, numbered from `first_seq` on, in one statement: all of
    /// them or none (then an error).
    fn append(&self, rows: &[AuditRow], first_seq: i64) -> Result<()>;
}

/// The audit table of the store at `store`, written as `server`, through
/// `url` when given (a role that may only insert, on the same database and
/// `?schema=`), else through the store's own URL. Only a PostGIS store has
/// one. Connects, and checks that the table is there, before returning.
pub fn open_audit(
    store: &Location,
    url: Option<&str>,
    server: &str,
) -> Result<Box<dyn AuditTable>> {
    let Location::PostGis(store_url) = store else {
        return Err(StoreError::Unsupported {
            location: store.to_string(),
            reason: "an audit table needs a PostgreSQL store; use audit_log (a file) instead"
                .into(),
        });
    };
    let url = url.unwrap_or(store_url);
    let location: Location = url.parse()?;
    if !matches!(location, Location::PostGis(_)) {
        return Err(StoreError::Invalid {
            location: location.to_string(),
            reason: "the audit database must be a postgresql:// URL".into(),
        });
    }
    Ok(Box::new(super::postgis::PgAudit::open(
        url,
        &location.to_string(),
        server,
    )?))
}

//! `[audit_database]`: the server's audit records in the store's database (an
//! append-only table shared by every server on a PostGIS store) instead of a
//! file of its own. The store opens the table ([`crate::store::open_audit`]);
//! the gate writes to it ([`crate::access::Gate::with_audit_table`]).

use serde::Deserialize;

/// The `[audit_database]` section; present, it replaces `audit_log`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditDatabase {
    /// The URL the records are written through: a role that may only insert
    /// into the audit table (docs/deploy.md), on the store's database and
    /// `?schema=`. Absent: the store's own URL.
    pub url: Option<String>,
    /// This server's name in the records. Absent: its listen address and
    /// process id.
    pub server: Option<String>,
}

impl AuditDatabase {
    /// The name written with each record.
    pub fn server_name(&self, listen: &str) -> String {
        self.server
            .clone()
            .unwrap_or_else(|| format!("{listen} pid {}", std::process::id()))
    }

    /// Where the records go, for the start-up message (no password).
    pub fn describe(&self, store: &crate::store::Location) -> String {
        let through = match self
            .url
            .as_deref()
            .map(str::parse::<crate::store::Location>)
        {
            Some(Ok(l)) => l.to_string(),
            Some(Err(_)) => "an invalid URL".into(),
            None => store.to_string(),
        };
        format!("table jointmap_audit, through {through}")
    }
}

/// The gate of a server with `[audit_database]`.
pub(super) fn gate(
    policy: crate::access::Policy,
    db: &AuditDatabase,
    cfg: &super::Config,
) -> Result<crate::access::Gate, super::ServerError> {
    // On a thread of its own: the database driver blocks, and this may run
    // inside the server's runtime. The table then lives on the gate's writer
    // thread, never on the runtime's.
    let server = db.server_name(&cfg.listen);
    let table = std::thread::scope(|s| {
        s.spawn(|| crate::store::open_audit(&cfg.store, db.url.as_deref(), &server))
            .join()
    })
    .map_err(|_| super::ServerError::Config("audit_database: opening it failed".into()))?
    .map_err(|e| super::ServerError::Config(format!("audit_database: {e}")))?;
    crate::access::Gate::with_audit_table(policy, table)
        .map_err(|e| super::ServerError::Config(e.to_string()))
}

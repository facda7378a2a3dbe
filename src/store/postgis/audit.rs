//! The audit table's writer: one multi-row INSERT per call, on a connection of
//! its own (reconnecting once when the database closed it).

use super::super::{AuditRow, AuditTable, Result};
use super::{pool, PgError};
use chrono::{DateTime, Utc};

/// The insert: the rows as arrays, unnested in order, so one round trip
/// appends them all and `id` follows their order.
const INSERT: &str = "INSERT INTO jointmap_audit \
    (server, started, seq, time, token, role, reason, endpoint, params, status, returned) \
    SELECT $1, $2, $3 + r.n - 1, r.time, r.token, r.role, r.reason, r.endpoint, r.params, \
           r.status, r.returned \
    FROM unnest($4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], \
                $10::int[], $11::bigint[]) \
         WITH ORDINALITY AS r(time, token, role, reason, endpoint, params, status, returned, n) \
    ORDER BY r.n";

/// A server's audit records into `jointmap_audit`.
pub struct PgAudit {
    location: String,
    pool: pool::Pool,
    server: String,
    started: DateTime<Utc>,
}

impl PgAudit {
    /// Connects to `url` and checks that the table is there and the insert
    /// is valid (without writing).
    pub fn open(url: &str, location: &str, server: &str) -> Result<Self> {
        let err = |e: PgError| e.into_store(location);
        let audit = PgAudit {
            location: location.to_string(),
            pool: pool::Pool::new(pool::settings(url).map_err(err)?),
            server: server.to_string(),
            started: Utc::now(),
        };
        let mut conn = audit.pool.get().map_err(err)?;
        conn.prepare(INSERT).map_err(|e| err(e.into()))?;
        drop(conn);
        Ok(audit)
    }

    fn insert(&self, rows: &[AuditRow], first_seq: i64) -> std::result::Result<(), PgError> {
        let mut conn = self.pool.get()?;
        let col = |f: fn(&AuditRow) -> Option<&str>| rows.iter().map(f).collect::<Vec<_>>();
        let times: Vec<DateTime<Utc>> = rows.iter().map(|r| r.time).collect();
        let statuses: Vec<i32> = rows.iter().map(|r| i32::from(r.status)).collect();
        let returned = rows
            .iter()
            .map(|r| i64::try_from(r.returned))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| PgError::Value("a count of features beyond 2^63".into()))?;
        let r = conn.execute(
            INSERT,
            &[
                &self.server,
                &self.started,
                &first_seq,
                &times,
                &col(|r| r.token.as_deref()),
                &col(|r| r.role.as_deref()),
                &col(|r| r.reason.as_deref()),
                &col(|r| Some(r.endpoint.as_str())),
                &col(|r| Some(r.params.as_str())),
                &statuses,
                &returned,
            ],
        );
        match r {
            Ok(n) if n == rows.len() as u64 => Ok(()),
            Ok(n) => Err(PgError::Value(format!(
                "{n} audit rows written of {}",
                rows.len()
            ))),
            Err(e) => {
                if e.is_closed() {
                    conn.discard();
                }
                Err(e.into())
            }
        }
    }
}

impl AuditTable for PgAudit {
    fn append(&self, rows: &[AuditRow], first_seq: i64) -> Result<()> {
        match self.insert(rows, first_seq) {
            // The database closed the connection (restarted, idle timeout):
            // once more on a new one. The statement is all or nothing, so no
            // row is written twice.
            Err(PgError::Sql(e)) if e.is_closed() => self.insert(rows, first_seq),
            other => other,
        }
        .map_err(|e| e.into_store(&self.location))
    }
}

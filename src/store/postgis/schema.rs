//! The store's schema, created and migrated by versioned migrations.
//!
//! `jointmap_meta` holds `schema_version` (the number of migrations applied) and
//! `data_version`. Opening takes a database-wide advisory lock (so two servers starting
//! together do not migrate twice), applies the migrations the store lacks in one
//! transaction, and refuses a store whose version is newer than this build's.

use super::{column_type, pool::Conn, IfMissing, PgError};
use crate::model::Layer;
use postgres::GenericClient;

/// Serialises schema changes across every process on the database.
const MIGRATION_LOCK: i64 = 0x6a6f_696e_746d_6170; // "jointmap"

/// The migrations, in order: the store is at version N when the first N were applied.
fn migrations() -> Vec<String> {
    vec![initial(), audit().to_string()]
}

/// The version this build writes.
pub(super) fn latest() -> i64 {
    migrations().len() as i64
}

/// Version 1: meta, and per layer its table, history and quarantine.
fn initial() -> String {
    let mut sql = String::from(
        "CREATE TABLE jointmap_meta (key text PRIMARY KEY, value bigint NOT NULL);
         INSERT INTO jointmap_meta VALUES ('schema_version', 0), ('data_version', 0);",
    );
    for layer in Layer::ALL {
        let name = layer.name();
        let fields: String = layer
            .fields()
            .iter()
            .map(|f| format!("\"{}\" {}, ", f.name, column_type(f)))
            .collect();
        sql.push_str(&format!(
            "CREATE TABLE {name} (
               fid bigserial PRIMARY KEY,
               id text COLLATE \"C\" NOT NULL UNIQUE,
               geom geometry(Geometry, 4326) NOT NULL,
               time_start timestamptz NOT NULL,
               time_end timestamptz,
               owner text NOT NULL,
               classification text NOT NULL,
               {fields}
               extra json,
               jointmap_source text COLLATE \"C\");
             CREATE INDEX {name}_geom ON {name} USING gist (geom);
             CREATE INDEX {name}_time ON {name} (time_start);
             CREATE INDEX {name}_source ON {name} (jointmap_source);
             CREATE TABLE jointmap_history_{name} (LIKE {name});
             ALTER TABLE jointmap_history_{name}
               ADD COLUMN change text NOT NULL, ADD COLUMN changed_at timestamptz NOT NULL,
               ADD COLUMN changed_by text NOT NULL, ADD COLUMN seq bigserial PRIMARY KEY;
             CREATE INDEX jointmap_history_{name}_id ON jointmap_history_{name} (id);
             CREATE TABLE jointmap_quarantine_{name} (LIKE {name});
             ALTER TABLE jointmap_quarantine_{name}
               ADD COLUMN reasons text NOT NULL, ADD COLUMN quarantined_at timestamptz NOT NULL,
               ADD COLUMN quarantined_by text NOT NULL, ADD COLUMN seq bigserial PRIMARY KEY;
             CREATE INDEX jointmap_quarantine_{name}_id ON jointmap_quarantine_{name} (id);"
        ));
    }
    sql
}

/// Version 2: the audit table (`audit.rs`), append-only: no role but its
/// owner is granted anything on it by default, UPDATE, DELETE and TRUNCATE
/// are revoked from PUBLIC, and a trigger refuses them for every role (the
/// owner included, unless it drops the trigger). A server's insert-only role
/// needs USAGE on the schema and the id sequence and INSERT on the table
/// (docs/deploy.md).
fn audit() -> &'static str {
    "CREATE TABLE jointmap_audit (
       id bigserial PRIMARY KEY,
       server text NOT NULL,
       started timestamptz NOT NULL,
       seq bigint NOT NULL,
       time timestamptz NOT NULL,
       token text,
       role text,
       reason text,
       endpoint text NOT NULL,
       params text NOT NULL,
       status integer NOT NULL,
       returned bigint NOT NULL,
       written_at timestamptz NOT NULL DEFAULT now());
     CREATE INDEX jointmap_audit_time ON jointmap_audit (time);
     REVOKE UPDATE, DELETE, TRUNCATE ON jointmap_audit FROM PUBLIC;
     CREATE FUNCTION jointmap_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION 'jointmap_audit is append-only: % refused', TG_OP
           USING ERRCODE = 'insufficient_privilege';
       END $$;
     CREATE TRIGGER jointmap_audit_no_change BEFORE UPDATE OR DELETE ON jointmap_audit
       FOR EACH STATEMENT EXECUTE FUNCTION jointmap_audit_append_only();
     CREATE TRIGGER jointmap_audit_no_truncate BEFORE TRUNCATE ON jointmap_audit
       FOR EACH STATEMENT EXECUTE FUNCTION jointmap_audit_append_only();"
}

/// The applied version in `schema`, or `None` when it holds no store.
pub(super) fn version(
    client: &mut impl GenericClient,
    schema: &str,
) -> Result<Option<i64>, PgError> {
    let exists: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = $1 \
             AND tablename = 'jointmap_meta')",
            &[&schema],
        )?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let row = client.query_opt(
        "SELECT value FROM jointmap_meta WHERE key = 'schema_version'",
        &[],
    )?;
    Ok(Some(row.map_or(0, |r| r.get(0))))
}

/// Brings the store in `schema` to the latest version (creating it unless `if_missing`
/// refuses), in one transaction.
pub(super) fn prepare(
    conn: &mut Conn<'_>,
    schema: &str,
    if_missing: IfMissing,
) -> Result<(), PgError> {
    // Nothing to write on a store that is up to date: no lock, no transaction.
    match version(&mut **conn, schema)? {
        Some(v) if v == latest() => return Ok(()),
        Some(v) if v > latest() => {
            return Err(PgError::Newer {
                found: v,
                supported: latest(),
            })
        }
        None if if_missing == IfMissing::Refuse => return Err(PgError::Missing(schema.into())),
        _ => {}
    }
    let mut tx = conn.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    let has_postgis: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgis')",
            &[],
        )?
        .get(0);
    if !has_postgis {
        tx.batch_execute("CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public")
            .map_err(|e| {
                PgError::NoPostgis(format!(
                    "{} (install postgresql-15-postgis-3, and run CREATE EXTENSION postgis as a \
                     superuser)",
                    super::sql_message(&e)
                ))
            })?;
    }
    tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))?;
    // Again under the lock: another process may have migrated meanwhile.
    let tx_version = version(&mut tx, schema)?;
    let from = tx_version.unwrap_or(0);
    if from > latest() {
        return Err(PgError::Newer {
            found: from,
            supported: latest(),
        });
    }
    for sql in migrations().iter().skip(from as usize) {
        tx.batch_execute(sql)?;
    }
    tx.execute(
        "UPDATE jointmap_meta SET value = $1 WHERE key = 'schema_version'",
        &[&latest()],
    )?;
    tx.commit()?;
    Ok(())
}

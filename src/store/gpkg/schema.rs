//! Creating a store, and bringing an older one (or one GDAL or QGIS
//! changed) up to date on open.
//!
//! Opening checks what a complete store has: the GeoPackage core tables,
//! jointmap's own (meta, history, quarantine), one feature table per layer
//! with its provenance column (`jointmap_source`), the R-tree index of each
//! layer (`rtree.rs`) and the JSON column declarations (`data_columns.rs`).
//! When all is there nothing is written, so opening never modifies a
//! complete store; otherwise what is missing is added in one transaction.

use super::{
    backend_error, column_type, data_columns, geometry_type_name, history, quarantine, rtree,
    GpkgStore, Result, StoreError, GPKG_APPLICATION_ID, GPKG_USER_VERSION, SOURCE_COLUMN,
    WGS84_WKT,
};
use crate::model::Layer;
use crate::store::{newer_schema, SchemaStatus};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::Path;

/// The version of jointmap's own schema this build writes (`schema_version` in
/// `jointmap_meta`); a store with a larger one is refused.
const SCHEMA_VERSION: i64 = 1;

/// What an existing file lacks.
#[derive(Debug, Default, PartialEq)]
struct Missing {
    /// Some table of the core, of jointmap's, or of a layer.
    tables: bool,
    /// Layers without the provenance column.
    source: Vec<Layer>,
    /// Layers without an R-tree virtual table (it is created and filled).
    rtree_table: Vec<Layer>,
    /// Layers whose index lacks a trigger or its extension row.
    rtree_parts: Vec<Layer>,
    /// The history's `change` column.
    history_change: bool,
    /// JSON column declarations.
    data_columns: bool,
}

impl Missing {
    fn nothing(&self) -> bool {
        *self == Missing::default()
    }
}

fn count(conn: &Connection, sql: &str, p: &[&dyn rusqlite::ToSql]) -> rusqlite::Result<i64> {
    conn.query_row(sql, p, |r| r.get(0))
}

fn has_column(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    Ok(count(
        conn,
        "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2",
        &[&table, &column],
    )? > 0)
}

fn has(conn: &Connection, kind: &str, name: &str) -> rusqlite::Result<bool> {
    Ok(count(
        conn,
        "SELECT count(*) FROM sqlite_master WHERE type = ?1 AND name = ?2",
        &[&kind, &name],
    )? > 0)
}

/// The names of every table a complete store has (but the R-tree's).
fn table_names() -> Vec<String> {
    let mut names: Vec<String> = [
        "gpkg_spatial_ref_sys",
        "gpkg_contents",
        "gpkg_geometry_columns",
        "gpkg_extensions",
        "jointmap_meta",
        "jointmap_history",
    ]
    .map(String::from)
    .into();
    for layer in Layer::ALL {
        names.push(layer.name().to_string());
        names.push(quarantine::table(layer));
    }
    names
}

fn missing(conn: &Connection) -> rusqlite::Result<Missing> {
    let mut m = Missing::default();
    for t in table_names() {
        if !has(conn, "table", &t)? {
            m.tables = true;
        }
    }
    for layer in Layer::ALL {
        let name = layer.name();
        if has(conn, "table", name)? && !has_column(conn, name, SOURCE_COLUMN)? {
            m.source.push(layer);
        }
        if !has(conn, "table", &rtree::table(layer))? {
            m.rtree_table.push(layer);
            continue;
        }
        let mut parts = has(conn, "table", "gpkg_extensions")?
            && count(
                conn,
                "SELECT count(*) FROM gpkg_extensions WHERE table_name = ?1
                 AND column_name = 'geom' AND extension_name = 'gpkg_rtree_index'",
                &[&name],
            )? == 1;
        // The triggers of GeoPackage 1.3 (jointmap's, GDAL's), or those of
        // 1.4 (update6 and update7 instead of update1 to update4): another
        // tool's complete set is kept as it is, never doubled.
        let r = rtree::table(layer);
        for t in ["insert", "delete"] {
            parts &= has(conn, "trigger", &format!("{r}_{t}"))?;
        }
        parts &= has(conn, "trigger", &format!("{r}_update6"))?
            || rtree::trigger_names(layer)
                .iter()
                .map(|t| has(conn, "trigger", t))
                .collect::<rusqlite::Result<Vec<bool>>>()?
                .into_iter()
                .all(|b| b);
        if !parts {
            m.rtree_parts.push(layer);
        }
    }
    m.history_change =
        has(conn, "table", "jointmap_history")? && !has_column(conn, "jointmap_history", "change")?;
    m.data_columns = !has(conn, "table", "gpkg_data_columns")?
        || !has(conn, "table", "gpkg_extensions")?
        || count(
            conn,
            "SELECT count(*) FROM gpkg_data_columns WHERE mime_type = 'application/json'",
            &[],
        )? < data_columns::declared() as i64
        || count(
            conn,
            "SELECT count(*) FROM gpkg_extensions WHERE extension_name = 'gpkg_schema'",
            &[],
        )? < 2;
    Ok(m)
}

/// The `schema_version` in `jointmap_meta`; `None` without that table.
fn stored_version(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    if !has(conn, "table", "jointmap_meta")? {
        return Ok(None);
    }
    let v: Option<i64> = conn
        .query_row(
            "SELECT CAST(value AS INTEGER) FROM jointmap_meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(Some(v.unwrap_or(0)))
}

/// The page size of a GeoPackage file jointmap creates.
pub(super) const NEW_PAGE_SIZE: i64 = 16384;

/// The SQL that adds what `m` names, without the surrounding transaction.
fn migration_sql(m: &Missing) -> String {
    let mut sql = format!(
        "PRAGMA application_id = {GPKG_APPLICATION_ID};
        PRAGMA user_version = {GPKG_USER_VERSION};
        CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
          srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
          organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
        INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES
          ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
          ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system'),
          ('WGS 84 geodetic', 4326, 'EPSG', 4326, '{WGS84_WKT}', 'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid');
        CREATE TABLE IF NOT EXISTS gpkg_contents (
          table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
          description TEXT DEFAULT '',
          last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
          min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
          CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
        CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
          table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
          srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
          CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
          CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
          CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
        CREATE TABLE IF NOT EXISTS jointmap_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT OR IGNORE INTO jointmap_meta VALUES ('schema_version', '{SCHEMA_VERSION}'), ('data_version', '0');
        "
    );
    for layer in &m.source {
        sql.push_str(&format!(
            "ALTER TABLE {layer} ADD COLUMN {SOURCE_COLUMN} TEXT;"
        ));
    }
    for layer in Layer::ALL {
        let name = layer.name();
        // The geometry column's declared type is its geometry type name, as the spec asks.
        let mut cols = format!(
            "fid INTEGER PRIMARY KEY AUTOINCREMENT, geom {} NOT NULL, id TEXT NOT NULL UNIQUE,
             time_start DATETIME NOT NULL, time_end DATETIME, owner TEXT NOT NULL, classification TEXT NOT NULL",
            geometry_type_name(layer)
        );
        for f in layer.fields() {
            cols.push_str(&format!(", \"{}\" {}", f.name, column_type(f)));
        }
        cols.push_str(&format!(", extra TEXT, {SOURCE_COLUMN} TEXT"));
        sql.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {name} ({cols});
             CREATE INDEX IF NOT EXISTS {name}_time ON {name}(time_start);
             INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
               VALUES ('{name}', 'features', '{name}', 'jointmap {name}', 4326);
             INSERT OR IGNORE INTO gpkg_geometry_columns VALUES ('{name}', 'geom', '{}', 4326, 0, 0);",
            geometry_type_name(layer)
        ));
    }
    sql.push_str(&history::tables_sql(m.history_change));
    sql.push_str(&quarantine::tables_sql());
    for layer in Layer::ALL {
        let fill = m.rtree_table.contains(&layer);
        if fill || m.rtree_parts.contains(&layer) {
            sql.push_str(&rtree::create_sql(layer, fill));
        }
    }
    sql.push_str(&data_columns::create_sql());
    sql
}

impl GpkgStore {
    /// Creates the GeoPackage tables that are missing; writes nothing when the
    /// file is already complete, so opening never modifies a store.
    pub(super) fn init(&self) -> Result<()> {
        let conn = self.conn();
        let app_id: i32 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if tables > 0 && app_id != GPKG_APPLICATION_ID {
            return Err(StoreError::Invalid {
                location: self.path.display().to_string(),
                reason: "not a GeoPackage (application_id is not GPKG)".into(),
            });
        }
        if let Some(found) = stored_version(&conn).map_err(|e| self.err(e))? {
            if found > SCHEMA_VERSION {
                return Err(StoreError::Invalid {
                    location: self.path.display().to_string(),
                    reason: newer_schema(found, SCHEMA_VERSION),
                });
            }
        }
        // A new file gets 16 KiB pages (SQLite's default is 4 KiB): a bulk
        // ingest then writes a quarter of the pages, log frames and system
        // calls for the same rows. Only before the first page is written;
        // an existing file keeps its page size.
        let pages: i64 = conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if pages == 0 {
            conn.execute_batch(&format!("PRAGMA page_size = {NEW_PAGE_SIZE}"))
                .map_err(|e| self.err(e))?;
            self.new_file
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let wal: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if wal != "wal" {
            conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
                .map_err(|e| self.err(e))?;
        }
        // NORMAL is durable against a killed process in WAL mode: a commit is
        // either whole in the WAL or absent.
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;",
        )
        .map_err(|e| self.err(e))?;
        if missing(&conn).map_err(|e| self.err(e))?.nothing() {
            return Ok(());
        }
        // Decided again under the write lock: another process may have
        // migrated the file meanwhile.
        let run = || -> rusqlite::Result<()> {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let m = missing(&conn)?;
            if !m.nothing() {
                conn.execute_batch(&migration_sql(&m))?;
            }
            conn.execute_batch("COMMIT")
        };
        run().map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            self.err(e)
        })
    }
}

impl GpkgStore {
    /// The schema of the GeoPackage at `path` against this build's, read
    /// without changing the file (or creating it when it is absent).
    pub fn schema_status(path: &Path) -> Result<SchemaStatus> {
        let location = path.display().to_string();
        let fresh = SchemaStatus {
            found: None,
            supported: SCHEMA_VERSION,
            pending: true,
        };
        if !path.exists() {
            return Ok(fresh);
        }
        let err = |e| backend_error(&location, e);
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        let tables: i64 = count(&conn, "SELECT count(*) FROM sqlite_master", &[]).map_err(err)?;
        if tables == 0 {
            return Ok(fresh);
        }
        let app_id: i32 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(err)?;
        if app_id != GPKG_APPLICATION_ID {
            return Err(StoreError::Invalid {
                location,
                reason: "not a GeoPackage (application_id is not GPKG)".into(),
            });
        }
        let found = stored_version(&conn).map_err(err)?;
        let pending = match found {
            Some(v) if v > SCHEMA_VERSION => false,
            _ => !missing(&conn).map_err(err)?.nothing(),
        };
        Ok(SchemaStatus {
            found,
            supported: SCHEMA_VERSION,
            pending,
        })
    }
}

//! The embedded store: an OGC GeoPackage 1.3 file on SQLite (WAL mode).
//!
//! One feature table per layer (`incidents`, `sightings`, `patrols`, `bases`,
//! `sites`)
//! with a GeoPackage geometry column `geom` in EPSG:4326, one column per schema
//! field, and an `extra` JSON column holding properties outside the schema, so
//! QGIS and `ogrinfo` open the file as it is and nothing is lost.

use super::index::LayerIndex;
use super::{wkb, Batch, BatchStats, LayerSummary, Query, Result, Store, StoreError};
use crate::model::schema::{FieldKind, FieldSpec};
use crate::model::time::parse_time;
use crate::model::{Feature, Layer, Level, Owner, TimeSpan};
use chrono::{DateTime, Utc};
use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection, OpenFlags, OptionalExtension};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// `application_id` of a GeoPackage ("GPKG").
const GPKG_APPLICATION_ID: i32 = 0x4750_4B47;
/// `user_version` of GeoPackage 1.3.0.
const GPKG_USER_VERSION: i32 = 10300;
/// Stored times: fixed width so that text order is time order.
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";
/// Stands for "still open" when comparing the validity of open-ended layers
/// (bases, sites).
const FAR_FUTURE: &str = "9999-12-31T23:59:59.999Z";

const WGS84_WKT: &str = r#"GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]"#;

/// A GeoPackage-backed [`Store`].
pub struct GpkgStore {
    path: PathBuf,
    conn: Mutex<Connection>,
    indexes: RwLock<HashMap<Layer, Arc<LayerIndex>>>,
}

/// Formats a stored time (`YYYY-MM-DDTHH:MM:SS.sssZ`) without the format
/// machinery: this runs once or twice per stored feature.
fn fmt_time(t: &DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let mut b = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (0..width).rev() {
            b[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return t.format(TIME_FORMAT).to_string();
    }
    put(0, 4, year as u32);
    put(5, 2, t.month());
    put(8, 2, t.day());
    put(11, 2, t.hour());
    put(14, 2, t.minute());
    put(17, 2, t.second());
    put(20, 3, (t.nanosecond() / 1_000_000).min(999));
    String::from_utf8_lossy(&b).into_owned()
}

/// Number of layers (one table, one batch slot each).
const N_LAYERS: usize = Layer::ALL.len();

fn geometry_type_name(layer: Layer) -> &'static str {
    match layer {
        Layer::Incidents | Layer::Sightings => "POINT",
        Layer::Patrols | Layer::Bases | Layer::Sites => "GEOMETRY",
    }
}

fn column_type(spec: &FieldSpec) -> &'static str {
    spec.kind.sql_type()
}

/// Column names after `fid, geom`, in bind order.
fn columns(layer: Layer) -> Vec<&'static str> {
    let mut c = vec!["id", "time_start", "time_end", "owner", "classification"];
    c.extend(layer.fields().iter().map(|f| f.name));
    c.push("extra");
    c
}

impl GpkgStore {
    /// Opens (creating if needed) the store at `path` and builds every layer's
    /// spatial index.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let store = Self::open_unindexed(path)?;
        for layer in Layer::ALL {
            store.index(layer)?;
        }
        Ok(store)
    }

    /// Opens (creating if needed) without building indexes; they are built on
    /// first use. For write-mostly work such as ingest.
    pub fn open_unindexed(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let err = |source| StoreError::Sqlite {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        let store = GpkgStore {
            path,
            conn: Mutex::new(conn),
            indexes: RwLock::new(HashMap::new()),
        };
        store.init()?;
        Ok(store)
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        if source.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) {
            return StoreError::Invalid {
                path: self.path.display().to_string(),
                reason: "not a GeoPackage (not an SQLite database)".into(),
            };
        }
        StoreError::Sqlite {
            path: self.path.display().to_string(),
            source,
        }
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent
        // (transactions roll back), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates the GeoPackage tables that are missing; writes nothing when the
    /// file is already complete, so opening never modifies a store.
    fn init(&self) -> Result<()> {
        let conn = self.conn();
        let app_id: i32 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if tables > 0 && app_id != GPKG_APPLICATION_ID {
            return Err(StoreError::Invalid {
                path: self.path.display().to_string(),
                reason: "not a GeoPackage (application_id is not GPKG)".into(),
            });
        }
        let complete: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN
                 ('gpkg_spatial_ref_sys','gpkg_contents','gpkg_geometry_columns','jointmap_meta',
                  'incidents','sightings','patrols','bases','sites')",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
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
        // A store written before a layer existed gets its table added here.
        if complete == 4 + Layer::ALL.len() as i64 {
            return Ok(());
        }
        let mut sql = format!(
            "BEGIN IMMEDIATE;
            PRAGMA application_id = {GPKG_APPLICATION_ID};
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
            INSERT OR IGNORE INTO jointmap_meta VALUES ('schema_version', '1'), ('data_version', '0');
            "
        );
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
            cols.push_str(", extra TEXT");
            sql.push_str(&format!(
                "CREATE TABLE IF NOT EXISTS {name} ({cols});
                 CREATE INDEX IF NOT EXISTS {name}_time ON {name}(time_start);
                 INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
                   VALUES ('{name}', 'features', '{name}', 'jointmap {name}', 4326);
                 INSERT OR IGNORE INTO gpkg_geometry_columns VALUES ('{name}', 'geom', '{}', 4326, 0, 0);",
                geometry_type_name(layer)
            ));
        }
        sql.push_str("COMMIT;");
        conn.execute_batch(&sql).map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            self.err(e)
        })
    }

    /// The layer's spatial index, built from the stored envelopes on first use
    /// and after every commit.
    pub fn index(&self, layer: Layer) -> Result<Arc<LayerIndex>> {
        if let Some(idx) = self
            .indexes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&layer)
        {
            return Ok(idx.clone());
        }
        let blobs: Vec<(i64, Vec<u8>)> = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare(&format!("SELECT fid, geom FROM {}", layer.name()))
                .map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(|e| self.err(e))?;
            rows.collect::<std::result::Result<_, _>>()
                .map_err(|e| self.err(e))?
        };
        use rayon::prelude::*;
        let items = blobs
            .into_par_iter()
            .map(|(fid, b)| {
                wkb::envelope(&b)
                    .map(|e| (fid, e))
                    .map_err(|reason| StoreError::Corrupt {
                        path: self.path.display().to_string(),
                        layer,
                        id: format!("fid {fid}"),
                        reason,
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let idx = Arc::new(LayerIndex::build(items));
        self.indexes
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(layer, idx.clone());
        Ok(idx)
    }

    fn select_sql(layer: Layer) -> String {
        let cols: Vec<String> = columns(layer).iter().map(|c| format!("\"{c}\"")).collect();
        format!(
            "SELECT fid, geom, {} FROM {}",
            cols.join(", "),
            layer.name()
        )
    }

    fn row_to_feature(&self, layer: Layer, row: &rusqlite::Row<'_>) -> Result<Feature> {
        let sql = |e| self.err(e);
        let id: String = row.get(2).map_err(sql)?;
        let corrupt = |reason: String| StoreError::Corrupt {
            path: self.path.display().to_string(),
            layer,
            id: id.clone(),
            reason,
        };
        let blob: Vec<u8> = row.get(1).map_err(sql)?;
        let geometry = wkb::decode(&blob).map_err(corrupt)?;
        let start: String = row.get(3).map_err(sql)?;
        let end: Option<String> = row.get(4).map_err(sql)?;
        let time = TimeSpan {
            start: parse_time(&start).map_err(corrupt)?,
            end: end.map(|e| parse_time(&e)).transpose().map_err(corrupt)?,
        };
        let owner: String = row.get(5).map_err(sql)?;
        let level: String = row.get(6).map_err(sql)?;
        let owner = owner
            .parse::<Owner>()
            .map_err(|_| corrupt(format!("bad owner {owner:?}")))?;
        let level = level
            .parse::<Level>()
            .map_err(|_| corrupt(format!("bad classification {level:?}")))?;
        let mut properties = Map::new();
        let fields = layer.fields();
        for (i, f) in fields.iter().enumerate() {
            let v: Sql = row.get(7 + i).map_err(sql)?;
            let json = match (v, f.kind) {
                (Sql::Null, _) => continue,
                (Sql::Text(s), FieldKind::TimeList) => {
                    serde_json::from_str(&s).map_err(|e| corrupt(format!("{}: {e}", f.name)))?
                }
                (Sql::Text(s), _) => Value::String(s),
                (Sql::Integer(n), _) => Value::from(n),
                (Sql::Real(x), _) => Value::from(x),
                (Sql::Blob(_), _) => return Err(corrupt(format!("{}: unexpected blob", f.name))),
            };
            properties.insert(f.name.to_string(), json);
        }
        let extra: Option<String> = row.get(7 + fields.len()).map_err(sql)?;
        if let Some(extra) = extra {
            match serde_json::from_str::<Value>(&extra) {
                Ok(Value::Object(m)) => properties.extend(m),
                _ => return Err(corrupt("extra is not a JSON object".into())),
            }
        }
        Ok(Feature {
            id,
            geometry,
            time,
            owner,
            level,
            properties,
        })
    }

    fn time_clause(layer: Layer, q: &Query, params: &mut Vec<Sql>) -> String {
        let mut clause = String::new();
        if let Some(from) = q.from {
            let end = if layer.open_ended() {
                format!("COALESCE(time_end, '{FAR_FUTURE}')")
            } else {
                "COALESCE(time_end, time_start)".to_string()
            };
            clause.push_str(&format!(" AND {end} >= ?"));
            params.push(Sql::Text(fmt_time(&from)));
        }
        if let Some(to) = q.to {
            clause.push_str(" AND time_start <= ?");
            params.push(Sql::Text(fmt_time(&to)));
        }
        clause
    }
}

impl Store for GpkgStore {
    fn begin(&self) -> Result<Box<dyn Batch + '_>> {
        let conn = self.conn();
        conn.execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.err(e))?;
        let mut counts = [0u64; N_LAYERS];
        for (i, layer) in Layer::ALL.iter().enumerate() {
            counts[i] = conn
                .query_row(&format!("SELECT count(*) FROM {}", layer.name()), [], |r| {
                    r.get::<_, i64>(0)
                })
                .map_err(|e| self.err(e))? as u64;
        }
        Ok(Box::new(GpkgBatch {
            store: self,
            conn: Some(conn),
            before: counts,
            upserts: 0,
            bbox: [None; N_LAYERS],
            blob: Vec::with_capacity(256),
            sql: Layer::ALL.map(upsert_sql),
        }))
    }

    fn summary(&self, layer: Layer) -> Result<LayerSummary> {
        let idx = self.index(layer)?;
        let conn = self.conn();
        let (count, first, last): (i64, Option<String>, Option<String>) = conn
            .query_row(
                &format!(
                    "SELECT count(*), min(time_start), max(COALESCE(time_end, time_start)) FROM {}",
                    layer.name()
                ),
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(|e| self.err(e))?;
        let norm = |t: Option<String>| {
            t.and_then(|t| parse_time(&t).ok())
                .map(|t| crate::model::time::format_time(&t))
        };
        Ok(LayerSummary {
            layer: layer.name().to_string(),
            count: count as u64,
            bbox: idx.bbox(),
            first: norm(first),
            last: norm(last),
        })
    }

    fn query(
        &self,
        layer: Layer,
        q: &Query,
        visit: &mut dyn FnMut(Feature) -> Result<()>,
    ) -> Result<u64> {
        q.validate()?;
        let mut params = Vec::new();
        let time = Self::time_clause(layer, q, &mut params);
        let mut n = 0u64;
        if let Some(b) = q.bbox {
            let fids = self.index(layer)?.intersecting(b);
            let conn = self.conn();
            let mut stmt = conn
                .prepare(&format!("{} WHERE fid = ?{time}", Self::select_sql(layer)))
                .map_err(|e| self.err(e))?;
            for fid in fids {
                let mut p = vec![Sql::Integer(fid)];
                p.extend(params.iter().cloned());
                let mut rows = stmt.query(params_from_iter(p)).map_err(|e| self.err(e))?;
                if let Some(row) = rows.next().map_err(|e| self.err(e))? {
                    let f = self.row_to_feature(layer, row)?;
                    // Envelopes overlap; keep only features that really touch the bbox.
                    if intersects(&f.geometry, b) {
                        visit(f)?;
                        n += 1;
                    }
                }
            }
        } else {
            let conn = self.conn();
            let mut stmt = conn
                .prepare(&format!(
                    "{} WHERE 1{time} ORDER BY fid",
                    Self::select_sql(layer)
                ))
                .map_err(|e| self.err(e))?;
            let mut rows = stmt
                .query(params_from_iter(params))
                .map_err(|e| self.err(e))?;
            while let Some(row) = rows.next().map_err(|e| self.err(e))? {
                visit(self.row_to_feature(layer, row)?)?;
                n += 1;
            }
        }
        Ok(n)
    }

    fn data_version(&self) -> Result<u64> {
        let conn = self.conn();
        let v: Option<String> = conn
            .query_row(
                "SELECT value FROM jointmap_meta WHERE key = 'data_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
    }
}

/// Whether a geometry touches a bbox (exact for points and vertices; segments
/// crossing the box without a vertex inside count when their envelope does).
fn intersects(g: &geo_types::Geometry<f64>, b: [f64; 4]) -> bool {
    let inside_x = |x: f64| {
        if b[0] <= b[2] {
            x >= b[0] && x <= b[2]
        } else {
            x >= b[0] || x <= b[2]
        }
    };
    match g {
        geo_types::Geometry::Point(p) => inside_x(p.x()) && p.y() >= b[1] && p.y() <= b[3],
        _ => true,
    }
}

struct GpkgBatch<'a> {
    store: &'a GpkgStore,
    conn: Option<MutexGuard<'a, Connection>>,
    before: [u64; N_LAYERS],
    upserts: u64,
    bbox: [Option<[f64; 4]>; N_LAYERS],
    blob: Vec<u8>,
    /// Upsert statement per layer, built once per batch.
    sql: [String; N_LAYERS],
}

fn layer_slot(layer: Layer) -> usize {
    Layer::ALL.iter().position(|l| *l == layer).unwrap_or(0)
}

fn upsert_sql(layer: Layer) -> String {
    let cols = columns(layer);
    let quoted: Vec<String> = cols.iter().map(|c| format!("\"{c}\"")).collect();
    let placeholders: Vec<String> = (1..=cols.len() + 1).map(|i| format!("?{i}")).collect();
    let updates: Vec<String> = std::iter::once("geom = excluded.geom".to_string())
        .chain(
            cols.iter()
                .filter(|c| **c != "id")
                .map(|c| format!("\"{c}\" = excluded.\"{c}\"")),
        )
        .collect();
    format!(
        "INSERT INTO {} (geom, {}) VALUES ({}) ON CONFLICT(id) DO UPDATE SET {}",
        layer.name(),
        quoted.join(", "),
        placeholders.join(", "),
        updates.join(", ")
    )
}

impl Batch for GpkgBatch<'_> {
    fn upsert(&mut self, layer: Layer, f: &Feature) -> Result<()> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        wkb::encode(&f.geometry, &mut self.blob);
        let start = fmt_time(&f.time.start);
        let end = f.time.end.as_ref().map(fmt_time);
        fn text(s: &str) -> ToSqlOutput<'_> {
            ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()))
        }
        let fields = layer.fields();
        // Bind by reference: no copies of the feature's strings on this hot path.
        let mut values: Vec<ToSqlOutput<'_>> = Vec::with_capacity(fields.len() + 7);
        values.push(ToSqlOutput::Borrowed(ValueRef::Blob(&self.blob)));
        values.push(text(&f.id));
        values.push(text(start.as_str()));
        values.push(
            end.as_ref()
                .map_or(ToSqlOutput::Borrowed(ValueRef::Null), |e| text(e.as_str())),
        );
        values.push(text(f.owner.as_str()));
        values.push(text(f.level.as_str()));
        let mut present = 0;
        for spec in fields {
            let v = f.properties.get(spec.name);
            present += usize::from(v.is_some());
            values.push(match (v, spec.kind) {
                (None | Some(Value::Null), _) => ToSqlOutput::Borrowed(ValueRef::Null),
                (Some(Value::String(s)), _) => text(s),
                (Some(Value::Number(n)), FieldKind::PositiveReal | FieldKind::Fraction) => {
                    ToSqlOutput::Owned(Sql::Real(n.as_f64().unwrap_or(f64::NAN)))
                }
                (Some(Value::Number(n)), _) => ToSqlOutput::Owned(
                    n.as_i64()
                        .map_or_else(|| Sql::Real(n.as_f64().unwrap_or(0.0)), Sql::Integer),
                ),
                (Some(other), _) => ToSqlOutput::Owned(Sql::Text(other.to_string())),
            });
        }
        // Properties beyond the schema fields are extras, kept as JSON.
        values.push(if f.properties.len() > present {
            let extra: Map<String, Value> = f
                .properties
                .iter()
                .filter(|(k, _)| !fields.iter().any(|s| s.name == k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            ToSqlOutput::Owned(Sql::Text(Value::Object(extra).to_string()))
        } else {
            ToSqlOutput::Borrowed(ValueRef::Null)
        });
        let store = self.store;
        let conn = self
            .conn
            .as_ref()
            .ok_or_else(|| StoreError::Aborted("batch already finished".into()))?;
        let mut stmt = conn
            .prepare_cached(&self.sql[layer_slot(layer)])
            .map_err(|e| store.err(e))?;
        stmt.execute(params_from_iter(values.iter()))
            .map_err(|e| store.err(e))?;
        let b = crate::model::geometry::bbox(&f.geometry);
        let slot = &mut self.bbox[layer_slot(layer)];
        *slot = Some(match slot {
            None => b,
            Some(a) => [
                a[0].min(b[0]),
                a[1].min(b[1]),
                a[2].max(b[2]),
                a[3].max(b[3]),
            ],
        });
        self.upserts += 1;
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<BatchStats> {
        let store = self.store;
        let conn = self
            .conn
            .take()
            .ok_or_else(|| StoreError::Aborted("batch already finished".into()))?;
        let run = |conn: &Connection| -> rusqlite::Result<u64> {
            let mut ins = 0;
            for (i, layer) in Layer::ALL.iter().enumerate() {
                let Some(b) = self.bbox[i] else { continue };
                let now: u64 =
                    conn.query_row(&format!("SELECT count(*) FROM {}", layer.name()), [], |r| {
                        r.get::<_, i64>(0)
                    })? as u64;
                ins += now.saturating_sub(self.before[i]);
                // The extent only grows on upsert: GeoPackage readers treat it as informative.
                conn.execute(
                    "UPDATE gpkg_contents SET
                       min_x = min(COALESCE(min_x, ?1), ?1), min_y = min(COALESCE(min_y, ?2), ?2),
                       max_x = max(COALESCE(max_x, ?3), ?3), max_y = max(COALESCE(max_y, ?4), ?4),
                       last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now')
                     WHERE table_name = ?5",
                    rusqlite::params![b[0], b[1], b[2], b[3], layer.name()],
                )?;
            }
            conn.execute(
                "UPDATE jointmap_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'data_version'",
                [],
            )?;
            conn.execute_batch("COMMIT")?;
            Ok(ins)
        };
        let inserted = match run(&conn) {
            Ok(ins) => ins,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(store.err(e));
            }
        };
        drop(conn);
        store
            .indexes
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        Ok(BatchStats {
            inserted,
            updated: self.upserts - inserted,
        })
    }
}

impl Drop for GpkgBatch<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Not committed: discard everything this batch wrote.
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn site(id: &str, props: Value) -> Feature {
        let v = json!({"type": "Feature", "id": id,
            "geometry": {"type": "Point", "coordinates": [18.5, 4.4]}, "properties": props});
        Feature::from_geojson_str(Layer::Sites, &v.to_string()).expect("valid site")
    }

    fn all(store: &GpkgStore, layer: Layer, q: &Query) -> Vec<Feature> {
        let mut out = Vec::new();
        store
            .query(layer, q, &mut |f| {
                out.push(f);
                Ok(())
            })
            .expect("query");
        out
    }

    #[test]
    fn sites_round_trip_with_derived_defaults_and_open_end() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let store = GpkgStore::open(dir.path().join("s.gpkg")).expect("open");
        let camp = site(
            "site-1",
            json!({"time_start": "2024-02-01", "name": "Camp A", "site_type": "idp-site",
                   "population": 4200, "camp_code": "A1"}),
        );
        let market = site(
            "site-2",
            json!({"time_start": "2024-01-01", "time_end": "2024-03-01", "name": "Market B",
                   "site_type": "market", "exposure": 1, "vulnerability": 4,
                   "classification": "public"}),
        );
        let polygon = Feature::from_geojson_str(
            Layer::Sites,
            r#"{"type":"Feature","id":"site-3","geometry":{"type":"Polygon","coordinates":[[[18.0,4.0],[18.01,4.0],[18.01,4.01],[18.0,4.0]]]},
                "properties":{"time_start":"2024-01-01","name":"Town C","site_type":"town"}}"#,
        )
        .expect("valid polygon site");
        let mut batch = store.begin().expect("begin");
        for f in [&camp, &market, &polygon] {
            batch.upsert(Layer::Sites, f).expect("upsert");
        }
        let stats = batch.commit().expect("commit");
        assert_eq!(stats.inserted, 3);

        let got = all(&store, Layer::Sites, &Query::default());
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], camp);
        assert_eq!(got[0].int("vulnerability"), Some(5));
        assert_eq!(got[0].properties.get("exposure"), Some(&json!(1.0)));
        assert_eq!(got[0].str("camp_code"), Some("A1"));
        assert_eq!(
            (got[0].owner, got[0].level),
            (Owner::Mission, Level::Mission)
        );
        // An exposure given as an integer is stored as a real.
        assert_eq!(got[1].properties.get("exposure"), Some(&json!(1.0)));
        assert_eq!(got[1].int("vulnerability"), Some(4));
        assert_eq!(got[1].level, Level::Public);
        assert_eq!(got[2].geometry, polygon.geometry);
        assert_eq!(got[2].int("vulnerability"), Some(2));
        assert!(got[2].properties.get("population").is_none());

        // Without time_end a site is still there: a window long after its
        // start still finds it, while the closed market drops out.
        let late = Query {
            from: Some(parse_time("2025-06-01").expect("time")),
            to: Some(parse_time("2025-06-30").expect("time")),
            ..Query::default()
        };
        let ids: Vec<String> = all(&store, Layer::Sites, &late)
            .into_iter()
            .map(|f| f.id)
            .collect();
        assert_eq!(ids, ["site-1", "site-3"]);
        let bbox = Query {
            bbox: Some([18.4, 4.3, 18.6, 4.5]),
            ..Query::default()
        };
        assert_eq!(all(&store, Layer::Sites, &bbox).len(), 2);
        assert_eq!(store.summary(Layer::Sites).expect("summary").count, 3);
    }

    #[test]
    fn a_store_without_the_sites_table_gets_it_on_open() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let path = dir.path().join("old.gpkg");
        drop(GpkgStore::open(&path).expect("open"));
        {
            // What a store written before the sites layer looks like.
            let conn = Connection::open(&path).expect("sqlite");
            conn.execute_batch(
                "DROP TABLE sites;
                 DELETE FROM gpkg_geometry_columns WHERE table_name = 'sites';
                 DELETE FROM gpkg_contents WHERE table_name = 'sites';",
            )
            .expect("drop");
        }
        let store = GpkgStore::open(&path).expect("reopen");
        assert_eq!(store.summary(Layer::Sites).expect("summary").count, 0);
        let mut batch = store.begin().expect("begin");
        batch
            .upsert(
                Layer::Sites,
                &site(
                    "s",
                    json!({"time": "2024-01-01", "name": "V", "site_type": "village"}),
                ),
            )
            .expect("upsert");
        batch.commit().expect("commit");
        assert_eq!(store.summary(Layer::Sites).expect("summary").count, 1);
    }

    #[test]
    fn stored_time_format() {
        for s in [
            "2024-03-05T14:30:00Z",
            "1991-08-08T00:00:00.250Z",
            "2025-12-31T23:59:59.999Z",
        ] {
            let t = parse_time(s).unwrap();
            assert_eq!(fmt_time(&t), t.format(TIME_FORMAT).to_string());
        }
    }
}

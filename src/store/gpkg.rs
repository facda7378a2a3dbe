//! The embedded store: an OGC GeoPackage 1.3 file on SQLite (WAL mode).
//!
//! One feature table per layer (`incidents`, `sightings`, `patrols`, `bases`,
//! `sites`)
//! with a GeoPackage geometry column `geom` in EPSG:4326, one column per schema
//! field, and an `extra` JSON column holding properties outside the schema, so
//! QGIS and `ogrinfo` open the file as it is and nothing is lost. Replaced
//! versions are kept in a history table (`history.rs`).

mod backup;
mod data_columns;
mod functions;
mod history;
mod inspect;
mod quarantine;
mod read;
mod remove;
mod rtree;
mod schema;

pub use history::{Change, HistoryEntry};

use super::index::LayerIndex;
use super::{
    wkb, Batch, BatchStats, LayerSummary, Query, Result, Selection, Store, StoreError, StoredRow,
    LOCAL_AUTHOR,
};
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
/// Each layer table's provenance column: the source a batch was written for
/// (`jointmap ingest --source`, the input file's name by default; `demo`).
/// Not a schema field: features never carry it, so validation cannot confuse
/// it with `source_type` or `source_name`.
const SOURCE_COLUMN: &str = "jointmap_source";

const WGS84_WKT: &str = r#"GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]"#;

/// A GeoPackage-backed [`Store`].
pub struct GpkgStore {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// Per layer: the index and the data version it was built at. Another
    /// process (a CLI ingest while the server runs) bumps the version, so a
    /// stale index is rebuilt on its next use.
    indexes: RwLock<HashMap<Layer, (u64, Arc<LayerIndex>)>>,
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

/// Result column names of `select_sql`, as SQLite names them.
fn select_names(layer: Layer) -> Vec<&'static str> {
    let mut names = vec!["fid", "geom"];
    names.extend(columns(layer));
    names
}

/// Number of layers (one table, one batch slot each).
const N_LAYERS: usize = Layer::ALL.len();

/// The declared geometry type of a layer's `geom`: the narrowest GeoPackage
/// type that every geometry kind the layer accepts is assignable to (a layer
/// mixing lines and multi-lines has no narrower one than `GEOMETRY`).
fn geometry_type_name(layer: Layer) -> &'static str {
    const WIDER: [&str; 6] = [
        "CURVE",
        "SURFACE",
        "MULTICURVE",
        "MULTISURFACE",
        "GEOMETRYCOLLECTION",
        "GEOMETRY",
    ];
    let kinds = layer.geometry_kinds();
    let upper = |k: &crate::model::geometry::GeomKind| match k.name() {
        "Point" => "POINT",
        "LineString" => "LINESTRING",
        "MultiLineString" => "MULTILINESTRING",
        "Polygon" => "POLYGON",
        _ => "MULTIPOLYGON",
    };
    kinds
        .iter()
        .map(upper)
        .chain(WIDER)
        .find(|t| kinds.iter().all(|k| wkb::is_assignable(t, upper(k))))
        .unwrap_or("GEOMETRY")
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
        functions::register(&conn).map_err(err)?;
        // Queries keep their statements: one per layer and time filter, plus writes.
        conn.set_prepared_statement_cache_capacity(64);
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

    /// The layer's spatial index, built from the stored envelopes on first use
    /// and after every commit.
    pub fn index(&self, layer: Layer) -> Result<Arc<LayerIndex>> {
        // Read before building: data committed meanwhile gives a newer
        // version on the next call, which rebuilds.
        let version = self.data_version()?;
        if let Some((v, idx)) = self
            .indexes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&layer)
        {
            if *v == version {
                return Ok(idx.clone());
            }
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
            .insert(layer, (version, idx.clone()));
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

    /// Reads one row column by column: what `query` did before it read in
    /// chunks. Kept for single rows (a batch's `get`, the history) and as the
    /// reference the chunked reads are checked against.
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
            sql: Layer::ALL.map(update_sql),
            insert: Layer::ALL.map(insert_sql),
            author: LOCAL_AUTHOR.to_string(),
            source: None,
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
        let names = select_names(layer);
        if let Some(b) = q.bbox {
            let fids = self.index(layer)?.intersecting(b);
            let mut conn = self.conn();
            let threaded = fids.len() > read::THREADED_ROWS;
            // Row ids in groups, each group padded with its last id so that
            // one statement serves all; `fid IN` yields each row once, in fid
            // order, which is the order of `fids`.
            let sql = format!(
                "{} WHERE fid IN ({}){time} ORDER BY fid",
                Self::select_sql(layer),
                vec!["?"; read::FID_GROUP].join(", ")
            );
            let rows =
                move |conn: &Connection, sink: &mut dyn FnMut(&rusqlite::Row<'_>) -> bool| {
                    let mut stmt = conn.prepare_cached(&sql)?;
                    let mut values: Vec<Sql> = Vec::with_capacity(read::FID_GROUP + params.len());
                    for group in fids.chunks(read::FID_GROUP) {
                        values.clear();
                        values.extend(group.iter().map(|f| Sql::Integer(*f)));
                        values.resize(read::FID_GROUP, Sql::Integer(group[group.len() - 1]));
                        values.extend(params.iter().cloned());
                        let mut found = stmt.query(params_from_iter(values.iter()))?;
                        while let Some(row) = found.next()? {
                            if !sink(row) {
                                return Ok(());
                            }
                        }
                    }
                    Ok(())
                };
            self.scan(
                layer,
                &names,
                Some(b),
                &mut conn,
                threaded,
                Box::new(rows),
                visit,
            )
        } else {
            let mut conn = self.conn();
            // The largest row id bounds the number of rows (a rowid lookup).
            let last: Option<i64> = conn
                .prepare_cached(&format!("SELECT max(fid) FROM {}", layer.name()))
                .and_then(|mut s| s.query_row([], |r| r.get(0)))
                .map_err(|e| self.err(e))?;
            let threaded = last.unwrap_or(0) > read::THREADED_ROWS as i64;
            let sql = format!("{} WHERE 1{time} ORDER BY fid", Self::select_sql(layer));
            let rows =
                move |conn: &Connection, sink: &mut dyn FnMut(&rusqlite::Row<'_>) -> bool| {
                    let mut stmt = conn.prepare_cached(&sql)?;
                    let mut found = stmt.query(params_from_iter(params))?;
                    while let Some(row) = found.next()? {
                        if !sink(row) {
                            break;
                        }
                    }
                    Ok(())
                };
            self.scan(
                layer,
                &names,
                None,
                &mut conn,
                threaded,
                Box::new(rows),
                visit,
            )
        }
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

    fn maintain(&self) -> Result<()> {
        self.checkpoint(true)
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
    /// Update statement per layer, built once per batch.
    sql: [String; N_LAYERS],
    /// Insert-if-new statement per layer: a new id costs one statement, and
    /// only a replacement reads the stored version for the history.
    insert: [String; N_LAYERS],
    /// Who replacements are recorded as.
    author: String,
    /// The provenance of the rows written; the author when not set.
    source: Option<String>,
}

fn layer_slot(layer: Layer) -> usize {
    Layer::ALL.iter().position(|l| *l == layer).unwrap_or(0)
}

/// Replaces the feature with the bound id: binds `geom`, then
/// `columns(layer)`, then the provenance column, as `insert_sql` does. A
/// plain UPDATE, not an upsert: an upsert's conflict clause would override
/// the `INSERT OR REPLACE` of the R-tree triggers GDAL and GeoPackage 1.3
/// write, and fail on the index.
fn update_sql(layer: Layer) -> String {
    let mut cols = columns(layer);
    cols.push(SOURCE_COLUMN);
    let sets: Vec<String> = std::iter::once("geom = ?1".to_string())
        .chain(
            cols.iter()
                .enumerate()
                .filter(|(_, c)| **c != "id")
                .map(|(i, c)| format!("\"{c}\" = ?{}", i + 2)),
        )
        .collect();
    format!(
        "UPDATE {} SET {} WHERE id = ?2",
        layer.name(),
        sets.join(", ")
    )
}

/// Inserts a feature, doing nothing when the id exists: a new id costs one
/// statement.
fn insert_sql(layer: Layer) -> String {
    let mut cols = columns(layer);
    cols.push(SOURCE_COLUMN);
    let quoted: Vec<String> = cols.iter().map(|c| format!("\"{c}\"")).collect();
    let placeholders: Vec<String> = (1..=cols.len() + 1).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO {} (geom, {}) VALUES ({}) ON CONFLICT(id) DO NOTHING",
        layer.name(),
        quoted.join(", "),
        placeholders.join(", ")
    )
}

impl GpkgBatch<'_> {
    /// The batch's connection, inside its transaction.
    fn live(&self) -> Result<&Connection> {
        self.conn
            .as_deref()
            .ok_or_else(|| StoreError::Aborted("batch already finished".into()))
    }
}

impl Batch for GpkgBatch<'_> {
    fn get(&mut self, layer: Layer, id: &str) -> Result<Option<Feature>> {
        let conn = self.live()?;
        self.store.get_on(conn, layer, id)
    }

    fn set_author(&mut self, author: &str) {
        self.author = author.to_string();
    }

    fn set_source(&mut self, source: &str) {
        self.source = Some(source.to_string());
    }

    fn delete(&mut self, layer: Layer, selection: &Selection) -> Result<Vec<String>> {
        let conn = self.live()?;
        self.store.delete_on(conn, layer, selection, &self.author)
    }

    fn inspect(
        &mut self,
        layer: Layer,
        visit: &mut dyn FnMut(StoredRow) -> Result<()>,
    ) -> Result<u64> {
        let conn = self.live()?;
        self.store.inspect_on(conn, layer, visit)
    }

    fn quarantine(&mut self, layer: Layer, key: i64, reasons: &str) -> Result<()> {
        let conn = self.live()?;
        self.store
            .quarantine_on(conn, layer, key, reasons, &self.author)
    }

    fn sources(&mut self, layer: Layer) -> Result<Vec<(Option<String>, u64)>> {
        let conn = self.live()?;
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {SOURCE_COLUMN}, count(*) FROM {} GROUP BY 1 ORDER BY 1",
                layer.name()
            ))
            .map_err(|e| self.store.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
            .map_err(|e| self.store.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.store.err(e))
    }

    fn restore(&mut self, layer: Layer, id: &str) -> Result<u64> {
        let conn = self.live()?;
        self.store.restore_on(conn, layer, id)
    }

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
        values.push(text(self.source.as_deref().unwrap_or(&self.author)));
        let store = self.store;
        let conn = self
            .conn
            .as_ref()
            .ok_or_else(|| StoreError::Aborted("batch already finished".into()))?;
        let slot = layer_slot(layer);
        let added = conn
            .prepare_cached(&self.insert[slot])
            .and_then(|mut s| s.execute(params_from_iter(values.iter())))
            .map_err(|e| store.err(e))?;
        if added == 0 {
            store.replace_on(conn, layer, &f.id, &values, &self.sql[slot], &self.author)?;
        }
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
        // Fold what this batch logged into the file where no reader needs
        // the log (never waits): the file stays close to a whole copy.
        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
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
    use geo::CoordsIter;
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

    /// A server's store handle sees, in bbox queries, what another handle
    /// (a CLI ingest in another process) committed after its index was built.
    #[test]
    fn an_index_is_rebuilt_after_another_handle_commits() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let path = dir.path().join("s.gpkg");
        let server = GpkgStore::open(&path).expect("open");
        let cli = GpkgStore::open(&path).expect("open again");
        let bbox = Query {
            bbox: Some([18.0, 4.0, 19.0, 5.0]),
            ..Default::default()
        };
        let mut b = cli.begin().expect("begin");
        b.upsert(
            Layer::Sites,
            &site(
                "a",
                json!({"name": "A", "site_type": "village", "time_start": "2024-01-01"}),
            ),
        )
        .expect("upsert");
        b.commit().expect("commit");
        assert_eq!(all(&server, Layer::Sites, &bbox).len(), 1);
        let mut b = cli.begin().expect("begin");
        b.upsert(
            Layer::Sites,
            &site(
                "b",
                json!({"name": "B", "site_type": "market", "time_start": "2024-01-01"}),
            ),
        )
        .expect("upsert");
        b.commit().expect("commit");
        let ids: Vec<String> = all(&server, Layer::Sites, &bbox)
            .into_iter()
            .map(|f| f.id)
            .collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(server.summary(Layer::Sites).expect("summary").count, 2);
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

    /// `query` as it was before chunked reading: one statement per row id for
    /// a bbox, one row at a time otherwise.
    fn reference_query(
        store: &GpkgStore,
        layer: Layer,
        q: &Query,
        visit: &mut dyn FnMut(Feature) -> Result<()>,
    ) -> Result<u64> {
        q.validate()?;
        let mut params = Vec::new();
        let time = GpkgStore::time_clause(layer, q, &mut params);
        let mut n = 0u64;
        let conn = store.conn();
        if let Some(b) = q.bbox {
            drop(conn);
            let fids = store.index(layer)?.intersecting(b);
            let conn = store.conn();
            let mut stmt = conn
                .prepare(&format!(
                    "{} WHERE fid = ?{time}",
                    GpkgStore::select_sql(layer)
                ))
                .map_err(|e| store.err(e))?;
            for fid in fids {
                let mut p = vec![Sql::Integer(fid)];
                p.extend(params.iter().cloned());
                let mut rows = stmt.query(params_from_iter(p)).map_err(|e| store.err(e))?;
                if let Some(row) = rows.next().map_err(|e| store.err(e))? {
                    let f = store.row_to_feature(layer, row)?;
                    if intersects(&f.geometry, b) {
                        visit(f)?;
                        n += 1;
                    }
                }
            }
        } else {
            let mut stmt = conn
                .prepare(&format!(
                    "{} WHERE 1{time} ORDER BY fid",
                    GpkgStore::select_sql(layer)
                ))
                .map_err(|e| store.err(e))?;
            let mut rows = stmt
                .query(params_from_iter(params))
                .map_err(|e| store.err(e))?;
            while let Some(row) = rows.next().map_err(|e| store.err(e))? {
                visit(store.row_to_feature(layer, row)?)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Everything `query` and the reference give: features, then the error.
    fn both(store: &GpkgStore, layer: Layer, q: &Query) -> [(Vec<Feature>, String); 2] {
        type Visit<'a> = dyn FnMut(Feature) -> Result<()> + 'a;
        let run = |f: &dyn Fn(&mut Visit<'_>) -> Result<u64>| {
            let mut out = Vec::new();
            let r = f(&mut |x| {
                out.push(x);
                Ok(())
            });
            let end = match r {
                Ok(n) => {
                    assert_eq!(n as usize, out.len());
                    "ok".to_string()
                }
                Err(e) => format!("{e:?}"),
            };
            (out, end)
        };
        [
            run(&|v| store.query(layer, q, v)),
            run(&|v| reference_query(store, layer, q, v)),
        ]
    }

    /// A store with `n` demo incidents, some with extra properties, and the
    /// first 300 demo patrols (line strings); returns the features as ingested.
    fn demo_store(dir: &std::path::Path, n: usize) -> (GpkgStore, Vec<Feature>, Vec<Feature>) {
        let scenario = crate::demo::Scenario::new(&crate::demo::DemoConfig {
            incidents: n,
            ..Default::default()
        });
        let incidents: Vec<Feature> = scenario
            .incidents()
            .enumerate()
            .map(|(i, mut v)| {
                if i % 7 == 3 {
                    v["properties"]["local_ref"] = json!(format!("ref-{i}"));
                    v["properties"]["tags"] = json!({"n": i, "odd": i % 2 == 1});
                }
                Feature::from_geojson_str(Layer::Incidents, &v.to_string()).expect("demo incident")
            })
            .collect();
        let patrols: Vec<Feature> = scenario
            .patrols()
            .into_iter()
            .take(300)
            .map(|v| {
                Feature::from_geojson_str(Layer::Patrols, &v.to_string()).expect("demo patrol")
            })
            .collect();
        let store = GpkgStore::open(dir.join("demo.gpkg")).expect("open");
        let mut batch = store.begin().expect("begin");
        for f in &incidents {
            batch.upsert(Layer::Incidents, f).expect("upsert");
        }
        for f in &patrols {
            batch.upsert(Layer::Patrols, f).expect("upsert");
        }
        batch.commit().expect("commit");
        (store, incidents, patrols)
    }

    #[test]
    fn chunked_query_gives_the_features_of_a_row_by_row_read() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        // More rows than the growing chunks before the largest, and then some.
        let (store, incidents, patrols) = demo_store(dir.path(), 12_345);
        let [got, want] = both(&store, Layer::Incidents, &Query::default());
        assert_eq!(got.1, "ok");
        assert!(
            got.0 == incidents,
            "full scan differs from the features ingested"
        );
        assert!(got == want);
        let [got, want] = both(&store, Layer::Patrols, &Query::default());
        assert!(got.0 == patrols && got == want);

        let b = store
            .index(Layer::Incidents)
            .expect("index")
            .bbox()
            .expect("extent");
        let (mx, my) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
        let t = |s| Some(parse_time(s).expect("time"));
        let queries = [
            // Most of the layer, a corner of it, nothing, with and without time.
            Query {
                bbox: Some([b[0], b[1], b[2] - 0.01, b[3]]),
                ..Query::default()
            },
            Query {
                bbox: Some([b[0], b[1], mx, my]),
                ..Query::default()
            },
            Query {
                bbox: Some([mx, my, b[2], b[3]]),
                from: t("2024-06-01"),
                to: t("2025-03-01"),
            },
            Query {
                bbox: Some([mx, my, mx + 1e-9, my + 1e-9]),
                ..Query::default()
            },
            Query {
                from: t("2024-06-01"),
                ..Query::default()
            },
            Query {
                to: t("2024-09-15T12:00:00Z"),
                ..Query::default()
            },
        ];
        for q in &queries {
            for layer in [Layer::Incidents, Layer::Patrols] {
                let [got, want] = both(&store, layer, q);
                assert_eq!(got.1, "ok");
                assert_eq!(got.0.len(), want.0.len(), "{layer} {q:?}");
                assert!(got == want, "{layer} {q:?}");
            }
        }
        // The bbox path really reads more than one chunk.
        let [got, _] = both(&store, Layer::Incidents, &queries[0]);
        assert!(got.0.len() > 9000, "{}", got.0.len());
        let in_box: Vec<&Feature> = incidents
            .iter()
            .filter(|f| intersects(&f.geometry, queries[1].bbox.expect("bbox")))
            .collect();
        let [got, _] = both(&store, Layer::Incidents, &queries[1]);
        assert!(got.0.iter().eq(in_box.iter().copied()));
    }

    #[test]
    fn an_error_from_visit_mid_chunk_stops_the_query() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let (store, incidents, _) = demo_store(dir.path(), 9_000);
        let b = store
            .index(Layer::Incidents)
            .expect("index")
            .bbox()
            .expect("extent");
        let bbox = Query {
            bbox: Some(b),
            ..Query::default()
        };
        // 5000 falls inside the fourth chunk (256 + 512 + 1024 + 2048 rows before it).
        for stop in [0, 1, 300, 5000] {
            for q in [&Query::default(), &bbox] {
                let mut seen = Vec::new();
                let r = store.query(Layer::Incidents, q, &mut |f| {
                    if seen.len() == stop {
                        return Err(StoreError::Aborted(format!("stop at {}", f.id)));
                    }
                    seen.push(f.id);
                    Ok(())
                });
                match r {
                    Err(StoreError::Aborted(m)) => {
                        assert_eq!(m, format!("stop at {}", incidents[stop].id))
                    }
                    other => panic!("{other:?}"),
                }
                assert_eq!(seen.len(), stop);
                assert!(seen.iter().eq(incidents[..stop].iter().map(|f| &f.id)));
            }
        }
    }

    #[test]
    fn a_bad_row_mid_chunk_gives_the_same_error_after_the_rows_before_it() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let (store, incidents, patrols) = demo_store(dir.path(), 6_000);
        // What to write into one row, and what the query then says ("": no
        // error, the row reads back as the reference reads it).
        let damage = [
            (Layer::Incidents, "owner = 'nobody'", "bad owner"),
            (
                Layer::Incidents,
                "classification = 'x'",
                "bad classification",
            ),
            (
                Layer::Incidents,
                "time_start = 'yesterday'",
                "cannot parse time",
            ),
            (
                Layer::Incidents,
                "time_end = '2024-02-30T00:00:00.000Z'",
                "cannot parse time",
            ),
            (
                Layer::Incidents,
                "time_start = 'x', time_end = 7",
                "(4, \"time_end\", Integer)",
            ),
            (
                Layer::Incidents,
                "geom = x'0102'",
                "not a GeoPackage geometry blob",
            ),
            (
                Layer::Incidents,
                "extra = '[1]'",
                "extra is not a JSON object",
            ),
            (
                Layer::Incidents,
                "extra = '{'",
                "extra is not a JSON object",
            ),
            (Layer::Incidents, "extra = x'7b7d'", "(33, \"extra\", Blob)"),
            (
                Layer::Incidents,
                "injured_men = x'00'",
                "injured_men: unexpected blob",
            ),
            (
                Layer::Incidents,
                "category = x'00', owner = 'x'",
                "bad owner",
            ),
            (
                Layer::Incidents,
                "time_start = 20240101",
                "(3, \"time_start\", Integer)",
            ),
            (Layer::Incidents, "geom = 'text'", "(1, \"geom\", Text)"),
            (
                Layer::Incidents,
                "id = x'01', geom = 'text'",
                "(2, \"id\", Blob)",
            ),
            (
                Layer::Incidents,
                "time_end = 1.5",
                "(4, \"time_end\", Real)",
            ),
            (
                Layer::Incidents,
                "owner = CAST(x'ff00' AS TEXT)",
                "Utf8Error(5",
            ),
            (
                Layer::Incidents,
                "time_start = CAST(x'ff00' AS TEXT)",
                "Utf8Error(3",
            ),
            (
                Layer::Incidents,
                "narrative = CAST(x'ff00' AS TEXT)",
                "Utf8Error(32",
            ),
            (Layer::Patrols, "vertex_times = '[x'", "vertex_times: "),
            // Readable after all, through the slow paths.
            (
                Layer::Incidents,
                "time_start = '2024-03-05T14:30:00+01:00'",
                "",
            ),
            (
                Layer::Incidents,
                "time_end = '2025-12-31T23:59:60.500Z'",
                "",
            ),
            (
                Layer::Incidents,
                "geom = (SELECT geom FROM patrols WHERE fid = 7)",
                "",
            ),
            (Layer::Incidents, "killed_men = 1.5, narrative = 3", ""),
            (
                Layer::Incidents,
                "extra = '{\"killed_men\": \"x\", \"a\": 1}'",
                "",
            ),
        ];
        let mut removed = [0usize; 2];
        for (i, (layer, set, says)) in damage.iter().enumerate() {
            let (slot, features) = match layer {
                Layer::Incidents => (0, &incidents),
                _ => (1, &patrols),
            };
            // Mid-way through a chunk of incidents (past the threshold for a
            // helper thread); a patrol among the first rows.
            let bad = if slot == 0 { 4321 + i } else { 150 };
            let p = features[bad - 1]
                .geometry
                .coords_iter()
                .next()
                .expect("a vertex");
            store
                .conn()
                .execute(
                    &format!("UPDATE {layer} SET {set} WHERE fid = ?1"),
                    [bad as i64],
                )
                .expect("damage");
            let b = store.index(*layer).expect("index").bbox().expect("extent");
            let queries = [
                Query::default(),
                Query {
                    bbox: Some(b),
                    ..Query::default()
                },
                // Few rows, read without a helper thread.
                Query {
                    bbox: Some([p.x - 0.01, p.y - 0.01, p.x + 0.01, p.y + 0.01]),
                    ..Query::default()
                },
            ];
            for q in &queries {
                let [got, want] = both(&store, *layer, q);
                assert!(got == want, "{set}: {} / {}", got.1, want.1);
                if says.is_empty() {
                    assert_eq!(got.1, "ok", "{set}");
                    continue;
                }
                assert!(got.1.contains(says), "{set}: {}", got.1);
                if got.1.starts_with("Corrupt") {
                    let named = format!("layer: {layer:?}, id: {:?}", features[bad - 1].id);
                    assert!(got.1.contains(&named), "{}", got.1);
                }
                if q.bbox.is_none() {
                    // Every row before the bad one (but those removed), nothing after.
                    assert_eq!(got.0.len(), bad - 1 - removed[slot], "{set}");
                }
            }
            store
                .conn()
                .execute(&format!("DELETE FROM {layer} WHERE fid = ?1"), [bad as i64])
                .expect("remove the bad row");
            removed[slot] += 1;
        }
        // With the bad rows gone the layers read to the end again.
        for (layer, n) in [
            (Layer::Incidents, incidents.len() - removed[0]),
            (Layer::Patrols, 299),
        ] {
            let [got, want] = both(&store, layer, &Query::default());
            assert_eq!(got.1, "ok");
            assert_eq!(got.0.len(), n);
            assert!(got == want);
        }
    }

    #[test]
    fn stored_times_parse_as_parse_time_does() {
        let mut cases: Vec<String> = [
            "2024-02-30T00:00:00.000Z",
            "2024-12-31T23:59:60.500Z",
            "2023-02-29T12:00:00.000Z",
            "2024-02-29T12:00:00.000Z",
            "2024-01-01T24:00:00.000Z",
            "2024-01-01T23:60:00.000Z",
            "0000-01-01T00:00:00.000Z",
            "9999-12-31T23:59:59.999Z",
            "2024-01-01T00:00:00.000+",
            "2024-0a-01T00:00:00.000Z",
            "+024-01-01T00:00:00.000Z",
            "2024-01-01 00:00:00.000Z",
            "2024-01-01T00:00:00,000Z",
            "2024-01-01T00:00:00.000z",
            "2024-01-01T00:00:00Z",
            "2024-01-01",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut t = parse_time("1970-01-01T00:00:00Z").expect("time");
        for i in 0..20_000i64 {
            cases.push(fmt_time(&t));
            t += chrono::Duration::milliseconds(i * 7_919_773 + 13);
        }
        for s in &cases {
            assert_eq!(read::stored_time(s), parse_time(s), "{s:?}");
        }
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

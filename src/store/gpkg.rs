//! The embedded store: an OGC GeoPackage 1.3 file on SQLite (WAL mode).
//!
//! One feature table per layer (`incidents`, `sightings`, `patrols`, `bases`,
//! `sites`)
//! with a GeoPackage geometry column `geom` in EPSG:4326, one column per schema
//! field, and an `extra` JSON column holding properties outside the schema, so
//! QGIS and `ogrinfo` open the file as it is and nothing is lost. Replaced
//! versions are kept in a history table (`history.rs`).

mod backup;
mod bind;
mod bulk;
mod columns;
mod data_columns;
mod functions;
mod history;
mod inspect;
mod journal;
mod keyset;
mod plain;
mod quarantine;
mod read;
mod readers;
mod remove;
mod row;
mod rtree;
mod schema;
mod version;
mod write;

pub use history::{Change, HistoryEntry};
pub use plain::{PlainGpkg, PlainSchema, PlainType};
pub(crate) use row::Row;

use super::index::LayerIndex;
use super::{
    wkb, Batch, BatchStats, Direction, ErrorKind, FeatureSink, FeatureSource, LayerSummary, Query,
    Result, Selection, StoreError, StoredRow, LOCAL_AUTHOR,
};
use crate::model::schema::{FieldKind, FieldSpec};
use crate::model::time::parse_time;
use crate::model::{Feature, Layer, Level, Owner, TimeSpan};
use chrono::{DateTime, Utc};
use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection, OpenFlags};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::ops::{Bound, ControlFlow};
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

/// A GeoPackage-backed [`super::Store`].
pub struct GpkgStore {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// Per layer: the index and the data version it was built at. Another
    /// process (a CLI ingest while the server runs) bumps the version, so a
    /// stale index is rebuilt on its next use.
    indexes: RwLock<HashMap<Layer, (u64, Arc<LayerIndex>)>>,
    /// Per point layer: its columns for analysis, kept warm (`columns.rs`).
    held: Mutex<HashMap<Layer, columns::Held>>,
    /// Connections for reads, so that none waits for a batch (`readers.rs`).
    readers: readers::Readers,
    /// The data version's own connection (`version.rs`).
    version: version::VersionReader,
    /// This open created the file and no batch has begun since: the first
    /// batch may write with a rollback journal (`journal.rs`).
    new_file: std::sync::atomic::AtomicBool,
}

/// Wraps an SQLite error as a backend-neutral one, with its kind. Nothing
/// SQLite reports is the caller's fault here: the store validates its input
/// before SQLite sees it.
fn backend_error(location: &str, e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode as C;
    let kind = match e.sqlite_error_code() {
        Some(C::DatabaseBusy | C::DatabaseLocked) => ErrorKind::Busy,
        Some(C::DatabaseCorrupt | C::NotADatabase) => ErrorKind::Corrupt,
        Some(C::CannotOpen) => ErrorKind::NotFound,
        _ => match e {
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::Utf8Error(..) => ErrorKind::Corrupt,
            _ => ErrorKind::Other,
        },
    };
    StoreError::Backend {
        location: location.to_string(),
        kind,
        message: e.to_string(),
    }
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
        let err = |source| backend_error(&path.display().to_string(), source);
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        conn.busy_timeout(readers::BUSY_WAIT).map_err(err)?;
        functions::register(&conn).map_err(err)?;
        // Queries keep their statements: one per layer and time filter, plus writes.
        conn.set_prepared_statement_cache_capacity(64);
        let store = GpkgStore {
            path,
            conn: Mutex::new(conn),
            indexes: RwLock::new(HashMap::new()),
            held: Mutex::new(HashMap::new()),
            readers: readers::Readers::default(),
            version: version::VersionReader::default(),
            new_file: std::sync::atomic::AtomicBool::new(false),
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
                location: self.path.display().to_string(),
                reason: "not a GeoPackage (not an SQLite database)".into(),
            };
        }
        backend_error(&self.path.display().to_string(), source)
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
            let conn = self.reader()?;
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
                        location: self.path.display().to_string(),
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
            location: self.path.display().to_string(),
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

impl FeatureSink for GpkgStore {
    fn begin(&self) -> Result<Box<dyn Batch + '_>> {
        Ok(Box::new(write::GpkgBatch::begin(self)?))
    }

    fn prepare(&self, layer: Layer, feature: Feature) -> super::Prepared {
        super::Prepared(super::Ready::Row(Row::encode(layer, &feature)))
    }

    fn prepare_parts(&self, parts: crate::model::Parts) -> super::Prepared {
        super::Prepared(super::Ready::Row(Row::from_parts(&parts)))
    }

    fn maintain(&self) -> Result<()> {
        self.checkpoint(true)
    }
}

impl FeatureSource for GpkgStore {
    fn summary(&self, layer: Layer) -> Result<LayerSummary> {
        // A point layer's summary from its columns (no index, no scan).
        if let Some(s) = self.columns_summary(layer)? {
            return Ok(s);
        }
        let idx = self.index(layer)?;
        let conn = self.reader()?;
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
            let mut conn = self.reader()?;
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
            // Several statements: one read transaction keeps them on one snapshot.
            self.snapshot(&mut conn, |conn| {
                self.scan(
                    layer,
                    &names,
                    Some(b),
                    conn,
                    threaded,
                    Box::new(rows),
                    visit,
                )
            })
        } else {
            let mut conn = self.reader()?;
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

    fn columns(&self, layer: Layer, q: &Query) -> Result<Arc<super::EventColumns>> {
        self.event_columns(layer, q)
    }

    fn data_version(&self) -> Result<u64> {
        self.stamped_version()
    }

    fn data_version_now(&self) -> Option<Result<u64>> {
        self.version_at_once()
    }

    fn get(&self, layer: Layer, id: &str) -> Result<Option<Feature>> {
        let conn = self.reader()?;
        self.get_on(&conn, layer, id)
    }

    fn walk(
        &self,
        layer: Layer,
        query: &Query,
        from: Bound<&str>,
        direction: Direction,
        visit: &mut dyn FnMut(Feature) -> Result<ControlFlow<()>>,
    ) -> Result<u64> {
        self.walk_ids(layer, query, from, direction, visit)
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

/// `b`, split at the antimeridian when it crosses it (`min_lon > max_lon`).
fn boxes(b: [f64; 4]) -> Vec<[f64; 4]> {
    if b[0] > b[2] {
        vec![[b[0], b[1], 180.0, b[3]], [-180.0, b[1], b[2], b[3]]]
    } else {
        vec![b]
    }
}

/// Whether a geometry is kept by a bbox exactly as `query` keeps it: its
/// envelope touches the box (as the in-memory index finds it), and a point
/// lies within it.
pub(super) fn touches(g: &geo_types::Geometry<f64>, b: [f64; 4]) -> bool {
    let e = crate::model::geometry::bbox(g);
    let overlap = boxes(b)
        .iter()
        .any(|r| e[0] <= r[2] && e[2] >= r[0] && e[1] <= r[3] && e[3] >= r[1]);
    overlap && intersects(g, b)
}

#[cfg(test)]
mod tests;

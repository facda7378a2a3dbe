//! The shared store: PostgreSQL with PostGIS, for several stateless servers on one database.
//!
//! The same semantics as the GeoPackage (see [`super::FeatureSource`]), in one schema
//! (`jointmap` unless the URL says `?schema=`): one table per layer (`fid` in storage order,
//! `id` unique in byte order, `geom geometry(Geometry,4326)` with a GiST index, times as
//! `timestamptz` cut to milliseconds with an index on `time_start`, one typed column per schema
//! field, `extra` as `json`, `jointmap_source`), `jointmap_history_<layer>` (replaced and
//! deleted versions), `jointmap_quarantine_<layer>`, and `jointmap_meta` (schema version, data
//! version). Files: `pool.rs` (URL and connections), `schema.rs` (versioned migrations),
//! `write.rs` (the batch: one transaction, binary COPY into a staging table, then
//! `INSERT ... ON CONFLICT`; into an empty layer, COPY straight in or into a fresh table,
//! `fresh.rs`), `read.rs` (summary, query, get, walk, pushed down to SQL).
//!
//! No PostgreSQL type leaves this module: errors become [`StoreError::Backend`] with the URL
//! shown without its password.

mod audit;
mod copy;
mod fresh;
mod listen;
mod pool;
mod read;
mod schema;
mod write;

pub use audit::PgAudit;
pub(crate) use copy::PgRow;

use super::{ErrorKind, IfMissing, Result, StoreError};
use crate::model::schema::{FieldKind, FieldSpec};
use crate::model::Layer;
use bytes::BytesMut;
use chrono::{DateTime, Utc};
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};

/// Failures of the PostGIS backend, before they become a [`StoreError`].
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The connection URL is not one (the message never quotes it).
    #[error("invalid connection URL: {0}")]
    Url(String),
    /// The database could not be reached (the message names the cause: refused, timed
    /// out, authentication, no such database).
    #[error("cannot connect: {}", with_causes(.0))]
    Connect(#[source] postgres::Error),
    /// A statement failed.
    #[error("{}", sql_message(.0))]
    Sql(#[from] postgres::Error),
    /// Every connection of the pool stayed busy.
    #[error("no free connection within {0:?} (raise ?pool= or ?pool_timeout=)")]
    PoolTimeout(std::time::Duration),
    /// The schema was written by a newer jointmap.
    #[error(
        "the store's schema is version {found}, newer than this jointmap's {supported}; \
         upgrade jointmap"
    )]
    Newer {
        /// The stored version.
        found: i64,
        /// What this build knows.
        supported: i64,
    },
    /// The database holds no store and the caller did not want one created.
    #[error(
        "no jointmap store in schema {0}; create one with `jointmap migrate`, `ingest` or `demo`"
    )]
    Missing(String),
    /// PostGIS is not installed and could not be.
    #[error("PostGIS is not available in this database: {0}")]
    NoPostgis(String),
    /// A value the schema cannot hold.
    #[error("{0}")]
    Value(String),
}

/// An error with the causes under it (the driver's connect errors say only "error
/// connecting to server" at the top), or the server's own message.
fn with_causes(e: &postgres::Error) -> String {
    if e.as_db_error().is_some() {
        return sql_message(e);
    }
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// A server error with its detail, without the driver's generic prefix.
fn sql_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(d) => format!("{}: {} ({d})", db.severity(), db.message()),
            None => format!("{}: {}", db.severity(), db.message()),
        },
        None => e.to_string(),
    }
}

impl PgError {
    fn kind(&self) -> ErrorKind {
        match self {
            PgError::Url(_) | PgError::Value(_) => ErrorKind::BadInput,
            PgError::Connect(_) | PgError::Missing(_) => ErrorKind::NotFound,
            PgError::PoolTimeout(_) => ErrorKind::Busy,
            PgError::Newer { .. } | PgError::NoPostgis(_) => ErrorKind::Other,
            PgError::Sql(e) => match e.code().map(|c| c.code()) {
                // Serialization failure, deadlock, lock not available, too many connections,
                // cancelled by `statement_timeout`.
                Some("40001" | "40P01" | "55P03" | "53300" | "57014") => ErrorKind::Busy,
                Some(c) if c.starts_with("22") || c.starts_with("23") => ErrorKind::BadInput,
                Some("XX001" | "XX002") => ErrorKind::Corrupt,
                Some("3D000" | "3F000" | "28000" | "28P01") => ErrorKind::NotFound,
                None if e.is_closed() => ErrorKind::NotFound,
                _ => ErrorKind::Other,
            },
        }
    }

    /// As the store reports it, at `location` (already without a password).
    fn into_store(self, location: &str) -> StoreError {
        match self {
            PgError::Url(reason) => StoreError::Invalid {
                location: location.to_string(),
                reason: format!("invalid connection URL: {reason}"),
            },
            // As a missing GeoPackage file is: the caller named no store.
            missing @ PgError::Missing(_) => StoreError::Invalid {
                location: location.to_string(),
                reason: missing.to_string(),
            },
            other => StoreError::Backend {
                location: location.to_string(),
                kind: other.kind(),
                message: other.to_string(),
            },
        }
    }
}

/// A PostGIS-backed [`super::Store`].
pub struct PgStore {
    /// The URL without its password, for errors.
    location: String,
    pool: pool::Pool,
    /// The connection listening for commits (`listen.rs`).
    listener: listen::Listener,
}

impl PgStore {
    /// Connects to the database at `url`, creating or migrating the store's schema (or
    /// refusing when there is none and `if_missing` says so). `location` is how errors name it.
    pub fn open(url: &str, location: &str, if_missing: IfMissing) -> Result<Self> {
        let err = |e: PgError| e.into_store(location);
        let settings = pool::settings(url).map_err(err)?;
        let store = PgStore {
            location: location.to_string(),
            pool: pool::Pool::new(settings),
            listener: listen::Listener::default(),
        };
        {
            let mut conn = store.pool.get().map_err(err)?;
            schema::prepare(&mut conn, store.pool.schema(), if_missing).map_err(err)?;
            // Best effort: what it leaves, the next load into the layer drops.
            let _ = fresh::sweep(&mut conn, store.pool.schema());
        }
        Ok(store)
    }

    fn err(&self, e: impl Into<PgError>) -> StoreError {
        e.into().into_store(&self.location)
    }

    /// The schema of the store at `url` against this build's, read without
    /// changing the database (or creating anything).
    pub fn schema_status(url: &str, location: &str) -> Result<super::SchemaStatus> {
        let err = |e: PgError| e.into_store(location);
        let pool = pool::Pool::new(pool::settings(url).map_err(err)?);
        let mut conn = pool.get().map_err(err)?;
        let found = schema::version(&mut *conn, pool.schema()).map_err(err)?;
        Ok(super::SchemaStatus {
            found,
            supported: schema::latest(),
            pending: found.is_none_or(|v| v < schema::latest()),
        })
    }

    /// The schema version the store is at (the latest this build knows, once opened).
    pub fn schema_version(&self) -> Result<i64> {
        let mut conn = self.pool.get().map_err(|e| self.err(e))?;
        schema::version(&mut *conn, self.pool.schema())
            .map(|v| v.unwrap_or(0))
            .map_err(|e| self.err(e))
    }
}

/// The columns of a layer's table after `fid`, in the order reads and writes list them.
fn columns(layer: Layer) -> Vec<&'static str> {
    let mut c = vec![
        "id",
        "geom",
        "time_start",
        "time_end",
        "owner",
        "classification",
    ];
    c.extend(layer.fields().iter().map(|f| f.name));
    c.extend(["extra", "jointmap_source"]);
    c
}

/// `columns(layer)` quoted and joined, each prefixed by `alias.` when given.
fn column_list(layer: Layer, alias: Option<&str>) -> String {
    columns(layer)
        .iter()
        .map(|c| match alias {
            Some(a) => format!("{a}.\"{c}\""),
            None => format!("\"{c}\""),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The SQL type of a schema field's column.
fn column_type(spec: &FieldSpec) -> &'static str {
    match spec.kind {
        FieldKind::Text | FieldKind::Enum(_) | FieldKind::TimeList => "text",
        FieldKind::Count | FieldKind::IntRange(..) => "bigint",
        FieldKind::PositiveReal | FieldKind::Fraction => "double precision",
    }
}

/// `t` cut to whole milliseconds, as every backend stores times.
fn millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// A geometry as PostGIS receives it in binary COPY: EWKB with SRID 4326, made from the
/// WKB inside the GeoPackage blob the model's encoder writes (so both stores hold the same
/// WKB).
#[derive(Debug)]
struct Ewkb(Vec<u8>);

impl Ewkb {
    fn new(g: &geo_types::Geometry<f64>, blob: &mut Vec<u8>) -> Result<Self, PgError> {
        super::wkb::encode(g, blob);
        let wkb = blob
            .get(gpkg_header_len(blob)..)
            .filter(|w| w.len() >= 5)
            .ok_or_else(|| PgError::Value("geometry could not be encoded".into()))?;
        let le = wkb[0] == 1;
        let ty = [wkb[1], wkb[2], wkb[3], wkb[4]];
        let ty = if le {
            u32::from_le_bytes(ty)
        } else {
            u32::from_be_bytes(ty)
        } | 0x2000_0000;
        let srid = super::wkb::SRS_WGS84 as u32;
        let mut out = Vec::with_capacity(wkb.len() + 4);
        out.push(wkb[0]);
        if le {
            out.extend_from_slice(&ty.to_le_bytes());
            out.extend_from_slice(&srid.to_le_bytes());
        } else {
            out.extend_from_slice(&ty.to_be_bytes());
            out.extend_from_slice(&srid.to_be_bytes());
        }
        out.extend_from_slice(&wkb[5..]);
        Ok(Ewkb(out))
    }
}

/// The length of a GeoPackage blob's header (8 bytes and the envelope its flags announce).
fn gpkg_header_len(b: &[u8]) -> usize {
    let env = match b.get(3).map(|f| (f >> 1) & 0b111) {
        Some(1) => 32,
        Some(2 | 3) => 48,
        Some(4) => 64,
        _ => 0,
    };
    8 + env
}

/// Decodes WKB as PostGIS gives it (`ST_AsBinary(geom, 'NDR')`) with the model's decoder.
fn decode_wkb(wkb: &[u8]) -> Result<geo_types::Geometry<f64>, String> {
    let mut blob = Vec::with_capacity(wkb.len() + 8);
    blob.extend_from_slice(b"GP\0\x01");
    blob.extend_from_slice(&super::wkb::SRS_WGS84.to_le_bytes());
    blob.extend_from_slice(wkb);
    super::wkb::decode(&blob)
}

impl ToSql for Ewkb {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        // PostGIS's binary input of `geometry` is EWKB.
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        ty.name() == "geometry"
    }

    to_sql_checked!();
}

/// One schema field's value as its typed column holds it.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Text(String),
    Int(i64),
    Real(f64),
}

impl ToSql for Cell {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        // Each value only into its own column type: binary COPY would take the bytes of
        // another one silently.
        match self {
            Cell::Null => Ok(IsNull::Yes),
            Cell::Text(s) if *ty == Type::TEXT => s.to_sql(ty, out),
            Cell::Int(n) if *ty == Type::INT8 => n.to_sql(ty, out),
            Cell::Real(x) if *ty == Type::FLOAT8 => x.to_sql(ty, out),
            other => Err(format!("{other:?} does not fit a column of type {ty}").into()),
        }
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TEXT || *ty == Type::INT8 || *ty == Type::FLOAT8
    }

    to_sql_checked!();
}

#[cfg(test)]
pub(super) mod tests;

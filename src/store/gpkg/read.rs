//! The read path of [`GpkgStore`]'s `query`.
//!
//! A large query reads SQLite on a helper thread: it runs the statement on
//! the store's connection (borrowed exclusively for the query, so the query
//! still sees one snapshot and holds the store's lock), copies rows into
//! chunks, and does there the work that allocates nothing: it checks text is
//! UTF-8, parses stored times and decodes point geometries. The calling
//! thread builds each [`Feature`] and hands it to the visitor right away, in
//! storage order, so every feature is allocated and freed on the same thread
//! and allocators stay on their fast paths (building features on several
//! threads and freeing them on the visitor's was slower than one thread with
//! glibc's malloc). A small query does all of it on the calling thread.
//!
//! Building a feature is cheaper than reading column by column with
//! `Row::get` was: property maps are cloned from a template per set of
//! present fields instead of hashing every field name, stored times go
//! through a fixed-format fast path, and strings are copied once, into the
//! feature.
//!
//! The results are exactly those of decoding row by row: the same features in
//! the same order, and a row that cannot be read stops the query with the same
//! error, after every row before it was visited.

use super::{intersects, wkb, GpkgStore};
use crate::model::schema::{FieldKind, FieldSpec};
use crate::model::time::parse_time;
use crate::model::{Feature, Layer, Level, Owner, TimeSpan};
use crate::store::{Result, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use geo_types::{Coord, Geometry, Point};
use rusqlite::types::{Type, ValueRef};
use rusqlite::{Connection, Row};
use serde_json::{Map, Value};
use std::sync::mpsc;

/// Queries expected to give more rows than this read on a helper thread.
pub(super) const THREADED_ROWS: usize = 2048;
/// Rows per chunk sent from the helper thread.
const CHUNK_ROWS: usize = 512;
/// A chunk also ends once its rows hold this many bytes (long tracks).
const CHUNK_BYTES: usize = 4 << 20;
/// Chunks read ahead of the one being decoded.
const CHUNKS_AHEAD: usize = 2;
/// Row ids per `fid IN (...)` statement of a bbox query.
pub(super) const FID_GROUP: usize = 512;
/// Distinct sets of present fields whose property map is kept as a template.
const MAX_TEMPLATES: usize = 16;

/// Result columns of `select_sql` that are read specially.
const GEOM: usize = 1;
const ID: usize = 2;
const START: usize = 3;
const END: usize = 4;
const OWNER: usize = 5;
const LEVEL: usize = 6;
/// The first schema field; the fields are followed by `extra`.
const FIELDS: usize = 7;

/// One column value of a copied row. Text and blobs live in the chunk.
#[derive(Debug, Clone, Copy)]
enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    /// UTF-8 text, in `Chunk::text`.
    Text(usize, usize),
    /// Text that is not UTF-8, in `Chunk::bytes`.
    BadText(usize, usize),
    /// In `Chunk::bytes`.
    Blob(usize, usize),
    /// A stored time already parsed (text in SQLite).
    Time(DateTime<Utc>),
    /// A point geometry already decoded (a blob in SQLite).
    Point(Coord<f64>),
}

impl Cell {
    /// The SQLite type the value had.
    fn data_type(self) -> Type {
        match self {
            Cell::Null => Type::Null,
            Cell::Integer(_) => Type::Integer,
            Cell::Real(_) => Type::Real,
            Cell::Text(..) | Cell::BadText(..) | Cell::Time(_) => Type::Text,
            Cell::Blob(..) | Cell::Point(_) => Type::Blob,
        }
    }
}

/// Rows copied out of SQLite, not yet decoded.
#[derive(Debug, Default)]
struct Chunk {
    text: String,
    bytes: Vec<u8>,
    cells: Vec<Cell>,
    rows: usize,
    /// Why reading stopped after these rows, if it failed.
    err: Option<StoreError>,
}

impl Chunk {
    fn clear(&mut self) {
        self.text.clear();
        self.bytes.clear();
        self.cells.clear();
        self.rows = 0;
        self.err = None;
    }

    /// Whether the chunk is full.
    fn full(&self) -> bool {
        self.rows >= CHUNK_ROWS || self.text.len() + self.bytes.len() >= CHUNK_BYTES
    }

    /// Copies the first `ncols` columns of `row`; with `points`, a geometry
    /// that is a point is decoded already.
    fn push(&mut self, row: &Row<'_>, ncols: usize, points: bool) -> rusqlite::Result<()> {
        let start = self.cells.len();
        for i in 0..ncols {
            let cell = match row.get_ref(i) {
                Ok(ValueRef::Null) => Cell::Null,
                Ok(ValueRef::Integer(n)) => Cell::Integer(n),
                Ok(ValueRef::Real(x)) => Cell::Real(x),
                Ok(ValueRef::Text(t)) => match std::str::from_utf8(t) {
                    Ok(s) => match (i == START || i == END).then(|| fast_time(s)) {
                        Some(Some(t)) => Cell::Time(t),
                        _ => {
                            let at = self.text.len();
                            self.text.push_str(s);
                            Cell::Text(at, self.text.len())
                        }
                    },
                    Err(_) => {
                        let at = self.bytes.len();
                        self.bytes.extend_from_slice(t);
                        Cell::BadText(at, self.bytes.len())
                    }
                },
                Ok(ValueRef::Blob(b)) => match (points && i == GEOM).then(|| wkb::decode(b)) {
                    Some(Ok(Geometry::Point(p))) => Cell::Point(p.0),
                    _ => {
                        let at = self.bytes.len();
                        self.bytes.extend_from_slice(b);
                        Cell::Blob(at, self.bytes.len())
                    }
                },
                Err(e) => {
                    self.cells.truncate(start);
                    return Err(e);
                }
            };
            self.cells.push(cell);
        }
        self.rows += 1;
        Ok(())
    }
}

/// A time column as read: parsed already, or text still to parse.
enum TimeCell<'a> {
    Parsed(DateTime<Utc>),
    Text(&'a str),
}

impl TimeCell<'_> {
    fn parse(self) -> Result<DateTime<Utc>, String> {
        match self {
            TimeCell::Parsed(t) => Ok(t),
            TimeCell::Text(s) => stored_time(s),
        }
    }
}

/// One copied row, answering what `rusqlite::Row::get` answered.
struct RowView<'a> {
    cells: &'a [Cell],
    chunk: &'a Chunk,
    names: &'a [&'static str],
}

impl<'a> RowView<'a> {
    fn type_error(&self, i: usize) -> rusqlite::Error {
        rusqlite::Error::InvalidColumnType(i, self.names[i].to_string(), self.cells[i].data_type())
    }

    /// The error reading text that is not UTF-8 gives.
    fn utf8_error(&self, i: usize, a: usize, b: usize) -> rusqlite::Error {
        match std::str::from_utf8(&self.chunk.bytes[a..b]) {
            Err(e) => rusqlite::Error::Utf8Error(i, e),
            Ok(_) => self.type_error(i),
        }
    }

    /// As `row.get::<_, Option<String>>(i)`, borrowed.
    fn opt_text(&self, i: usize) -> rusqlite::Result<Option<&'a str>> {
        match self.cells[i] {
            Cell::Null => Ok(None),
            Cell::Text(a, b) => Ok(Some(&self.chunk.text[a..b])),
            Cell::BadText(a, b) => Err(self.utf8_error(i, a, b)),
            _ => Err(self.type_error(i)),
        }
    }

    /// As `row.get::<_, String>(i)`, borrowed.
    fn text(&self, i: usize) -> rusqlite::Result<&'a str> {
        match self.cells[i] {
            Cell::Null => Err(self.type_error(i)),
            _ => self.opt_text(i).map(|t| t.unwrap_or_default()),
        }
    }

    /// As `row.get::<_, Option<String>>(i)` of a time column.
    fn opt_time(&self, i: usize) -> rusqlite::Result<Option<TimeCell<'a>>> {
        match self.cells[i] {
            Cell::Time(t) => Ok(Some(TimeCell::Parsed(t))),
            _ => Ok(self.opt_text(i)?.map(TimeCell::Text)),
        }
    }

    /// As `row.get::<_, String>(i)` of a time column.
    fn time(&self, i: usize) -> rusqlite::Result<TimeCell<'a>> {
        match self.cells[i] {
            Cell::Null => Err(self.type_error(i)),
            _ => self.opt_time(i).map(|t| t.unwrap_or(TimeCell::Text(""))),
        }
    }

    /// As `row.get::<_, Vec<u8>>(i)` of the geometry, then decoding it.
    fn geometry(&self, i: usize) -> rusqlite::Result<Result<Geometry<f64>, String>> {
        match self.cells[i] {
            Cell::Point(c) => Ok(Ok(Geometry::Point(Point(c)))),
            Cell::Blob(a, b) => Ok(wkb::decode(&self.chunk.bytes[a..b])),
            _ => Err(self.type_error(i)),
        }
    }
}

/// The fixed format the store writes times in (`YYYY-MM-DDTHH:MM:SS.sssZ`),
/// or `None`.
fn fast_time(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() != 24
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[23] != b'Z'
    {
        return None;
    }
    let num = |from: usize, to: usize| {
        b[from..to].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let sec = num(17, 19)?;
    // Leap seconds take the general path.
    if sec > 59 {
        return None;
    }
    let t = NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 7)?, num(8, 10)?)?
        .and_hms_milli_opt(num(11, 13)?, num(14, 16)?, sec, num(20, 23)?)?;
    Some(t.and_utc())
}

/// A stored time: the fixed format the store writes directly, anything else
/// through [`parse_time`]. Both give the same instant for the fixed format.
pub(super) fn stored_time(s: &str) -> Result<DateTime<Utc>, String> {
    fast_time(s).map_or_else(|| parse_time(s), Ok)
}

/// Property maps to clone, keyed by which schema fields a row has: cloning a
/// map copies its hash table instead of hashing every field name again.
#[derive(Default)]
struct Templates {
    maps: Vec<(u128, Map<String, Value>)>,
}

impl Templates {
    /// A map of the fields in `mask`, in schema order, holding nulls; `None`
    /// when too many different sets of fields came up.
    fn get(&mut self, fields: &[FieldSpec], mask: u128) -> Option<Map<String, Value>> {
        if let Some((_, m)) = self.maps.iter().find(|(m, _)| *m == mask) {
            return Some(m.clone());
        }
        if self.maps.len() >= MAX_TEMPLATES {
            return None;
        }
        let m: Map<String, Value> = fields
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, f)| (f.name.to_string(), Value::Null))
            .collect();
        self.maps.push((mask, m.clone()));
        Some(m)
    }
}

/// Goes through the rows of a query in order, handing each to the sink until
/// it answers `false`.
pub(super) type Rows<'f> =
    dyn FnOnce(&Connection, &mut dyn FnMut(&Row<'_>) -> bool) -> rusqlite::Result<()> + Send + 'f;

impl GpkgStore {
    /// Decodes one row of `select_sql` (fid, geom, id, times, owner,
    /// classification, schema fields, extra), checking in the same order as
    /// reading it column by column with `rusqlite::Row::get` did. `None`: the
    /// feature lies outside `bbox`.
    fn decode_row(
        &self,
        layer: Layer,
        r: &RowView<'_>,
        bbox: Option<[f64; 4]>,
        t: &mut Templates,
    ) -> Result<Option<Feature>> {
        let sql = |e| self.err(e);
        let id = r.text(ID).map_err(sql)?.to_string();
        let corrupt = |reason: String| StoreError::Corrupt {
            location: self.path.display().to_string(),
            layer,
            id: id.clone(),
            reason,
        };
        let geometry = r.geometry(GEOM).map_err(sql)?.map_err(corrupt)?;
        let start = r.time(START).map_err(sql)?;
        let end = r.opt_time(END).map_err(sql)?;
        let time = TimeSpan {
            start: start.parse().map_err(corrupt)?,
            end: end.map(TimeCell::parse).transpose().map_err(corrupt)?,
        };
        let owner = r.text(OWNER).map_err(sql)?;
        let level = r.text(LEVEL).map_err(sql)?;
        let owner = owner
            .parse::<Owner>()
            .map_err(|_| corrupt(format!("bad owner {owner:?}")))?;
        let level = level
            .parse::<Level>()
            .map_err(|_| corrupt(format!("bad classification {level:?}")))?;
        let fields = layer.fields();
        let cells = &r.cells[FIELDS..FIELDS + fields.len()];
        let json = |i: usize, f: &FieldSpec| -> Result<Value> {
            Ok(match (cells[i], f.kind) {
                (Cell::Integer(n), _) => Value::from(n),
                (Cell::Real(x), _) => Value::from(x),
                (Cell::Text(a, b), FieldKind::TimeList) => {
                    serde_json::from_str(&r.chunk.text[a..b])
                        .map_err(|e| corrupt(format!("{}: {e}", f.name)))?
                }
                (Cell::Text(a, b), _) => Value::String(r.chunk.text[a..b].to_string()),
                (Cell::BadText(a, b), _) => return Err(sql(r.utf8_error(FIELDS + i, a, b))),
                (Cell::Blob(..) | Cell::Point(_), _) => {
                    return Err(corrupt(format!("{}: unexpected blob", f.name)))
                }
                (Cell::Null | Cell::Time(_), _) => Value::Null,
            })
        };
        let present = |i: &usize| !matches!(cells[*i], Cell::Null);
        let template = if fields.len() <= 128 {
            let mask = (0..fields.len())
                .filter(present)
                .fold(0u128, |m, i| m | 1 << i);
            t.get(fields, mask)
        } else {
            None
        };
        let mut properties = match template {
            Some(mut m) => {
                // The template's entries are the present fields, in order.
                for (slot, i) in m.values_mut().zip((0..fields.len()).filter(present)) {
                    *slot = json(i, &fields[i])?;
                }
                m
            }
            None => {
                let mut m = Map::new();
                for i in (0..fields.len()).filter(present) {
                    m.insert(fields[i].name.to_string(), json(i, &fields[i])?);
                }
                m
            }
        };
        if let Some(extra) = r.opt_text(FIELDS + fields.len()).map_err(sql)? {
            match serde_json::from_str::<Value>(extra) {
                Ok(Value::Object(m)) => properties.extend(m),
                _ => return Err(corrupt("extra is not a JSON object".into())),
            }
        }
        // Envelopes overlap; keep only features that really touch the bbox.
        if bbox.is_some_and(|b| !intersects(&geometry, b)) {
            return Ok(None);
        }
        Ok(Some(Feature {
            id,
            geometry,
            time,
            owner,
            level,
            properties,
        }))
    }

    /// Runs a query: `rows` goes through the rows of the `names` columns in
    /// order; each is decoded and, unless outside `bbox`, visited. With
    /// `threaded`, `rows` runs on a helper thread that has the connection to
    /// itself until the query ends.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn scan(
        &self,
        layer: Layer,
        names: &[&'static str],
        bbox: Option<[f64; 4]>,
        conn: &mut Connection,
        threaded: bool,
        rows: Box<Rows<'_>>,
        visit: &mut dyn FnMut(Feature) -> Result<()>,
    ) -> Result<u64> {
        let ncols = names.len();
        let points = matches!(layer, Layer::Incidents | Layer::Sightings);
        let mut templates = Templates::default();
        // Decodes and visits the rows of a chunk; an error ends the query.
        let mut drain = |chunk: &Chunk, n: &mut u64| -> Result<()> {
            for i in 0..chunk.rows {
                let r = RowView {
                    cells: &chunk.cells[i * ncols..(i + 1) * ncols],
                    chunk,
                    names,
                };
                if let Some(f) = self.decode_row(layer, &r, bbox, &mut templates)? {
                    visit(f)?;
                    *n += 1;
                }
            }
            Ok(())
        };
        // Calling thread only: one row at a time.
        type Drain<'d> = dyn FnMut(&Chunk, &mut u64) -> Result<()> + 'd;
        let inline = |rows: Box<Rows<'_>>, conn: &mut Connection, drain: &mut Drain<'_>| {
            let mut n = 0u64;
            let mut chunk = Chunk::default();
            let mut stop = None;
            let read = rows(conn, &mut |row| {
                chunk.clear();
                let res = chunk
                    .push(row, ncols, points)
                    .map_err(|e| self.err(e))
                    .and_then(|()| drain(&chunk, &mut n));
                res.map_err(|e| stop = Some(e)).is_ok()
            });
            if let Some(e) = stop {
                return Err(e);
            }
            read.map_err(|e| self.err(e))?;
            Ok(n)
        };
        if !threaded {
            return inline(rows, conn, &mut drain);
        }
        // The helper takes the statement and the connection from here; if it
        // cannot be started they stay for the calling thread.
        let job = std::sync::Mutex::new(Some((rows, conn)));
        let take = || job.lock().unwrap_or_else(|p| p.into_inner()).take();
        let (full_tx, full_rx) = mpsc::sync_channel::<Chunk>(CHUNKS_AHEAD);
        let (empty_tx, empty_rx) = mpsc::channel::<Chunk>();
        std::thread::scope(|s| {
            let helper = move || {
                let Some((rows, conn)) = take() else { return };
                let mut chunk = Chunk::default();
                let mut failed = None;
                let mut closed = false;
                let read = rows(conn, &mut |row| {
                    if let Err(e) = chunk.push(row, ncols, points) {
                        failed = Some(e);
                        return false;
                    }
                    if chunk.full() {
                        let next = empty_rx.try_recv().unwrap_or_default();
                        if full_tx.send(std::mem::replace(&mut chunk, next)).is_err() {
                            // The query ended early.
                            closed = true;
                            return false;
                        }
                    }
                    true
                });
                if !closed {
                    chunk.err = failed.or(read.err()).map(|e| self.err(e));
                    let _ = full_tx.send(chunk);
                }
            };
            let started = std::thread::Builder::new()
                .name("jointmap-query".into())
                .spawn_scoped(s, helper);
            if started.is_err() {
                return match take() {
                    Some((rows, conn)) => inline(rows, conn, &mut drain),
                    None => Err(StoreError::Aborted("query thread lost".into())),
                };
            }
            let mut n = 0u64;
            // Returning early drops `full_rx`, which stops the helper.
            for mut chunk in full_rx {
                drain(&chunk, &mut n)?;
                if let Some(e) = chunk.err.take() {
                    return Err(e);
                }
                chunk.clear();
                let _ = empty_tx.send(chunk);
            }
            Ok(n)
        })
    }
}

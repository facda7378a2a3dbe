//! [`EventColumns`] of the GeoPackage: kept in a side table, checked against
//! the layer on every read, and held in memory by a long-lived store.
//!
//! The columns of a point layer are stored in `jointmap_columns` as chunks of
//! up to [`CHUNK_ROWS`] rows, each one BLOB (fixed-width values, integers
//! narrowed to the bytes their range needs), decoded in parallel. The side
//! tables are registered as jointmap's own, as the history is
//! (`gpkg_contents` data type `jointmap`), so GDAL and QGIS list no layer
//! for them.
//!
//! **Never stale.** `jointmap_columns_state` records the layer's state the
//! columns were made from: its row count, largest `fid`, and an edit counter
//! that two triggers on the layer table (`AFTER UPDATE`, `AFTER DELETE`)
//! bump on every change of a row, whoever makes it (jointmap, another
//! process, GDAL, QGIS, the `sqlite3` shell). Inserts leave the counter
//! alone, so ingest pays nothing; they change the count. Every read (but
//! one that finds nothing committed since the last, see [`Stamp`])
//! compares the layer's state with the columns' inside one read transaction
//! (one snapshot), and:
//! - the same state: the columns are current (from memory, else the table);
//! - the same edit counter, rows only added above the largest `fid` (their
//!   count accounts for the whole change): the new rows are read and
//!   appended (an ingest of new incidents costs a read of those rows only);
//! - anything else (an edit, a delete, an insert below the largest `fid`,
//!   missing triggers, a damaged chunk): the layer is read again in full.
//!
//! The triggers are installed, in a write transaction of their own, before
//! the first columns of a layer are made; a table dropped and created again
//! (e.g. `ogr2ogr -overwrite`) loses them, which forces a full read. Writing
//! the columns back is best effort: it needs the write lock (given up at
//! once while a batch holds it: reads run on a connection of their own,
//! `readers.rs`, and never wait for a writer), checks again that the layer has not changed since the
//! snapshot, and when it cannot write (read-only file, busy) the columns are
//! still answered, just not kept for the next process.
//!
//! Queries filter the columns as the GeoPackage query does: bbox inclusive on
//! every side, split at the antimeridian; times compared at the stored
//! precision (milliseconds), which equals the store's text comparison for
//! every time jointmap writes. A layer with a row that is not a point (only
//! possible through another tool) is read through `query` instead.

use super::{columns as layer_columns, read::THREADED_ROWS, select_names, GpkgStore};
use crate::model::{Layer, Level, Owner};
use crate::store::columns::{columns_by_query, Consent, EventColumns};
use crate::store::{LayerSummary, Query, Result};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension};
use std::sync::Arc;

/// Rows per stored chunk.
const CHUNK_ROWS: usize = if cfg!(test) { 1000 } else { 65_536 };
/// Version of the chunk encoding; other versions are rebuilt.
const FORMAT: i64 = 1;

/// The state of a layer the columns are checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LayerState {
    edits: i64,
    count: i64,
    max_fid: i64,
}

/// A layer's columns held in memory, with the state they were made from and
/// whether the side table holds the same (`chunks` stored).
#[derive(Debug, Clone)]
pub(super) struct Held {
    state: LayerState,
    columns: Arc<EventColumns>,
    stored_chunks: Option<i64>,
    /// The [`Stamp`] read before the state was: while it holds, nothing
    /// was committed since and the columns are current without a look at
    /// the layer.
    stamp: Option<Stamp>,
}

/// What tells in constant time that nothing was committed to the file
/// since: SQLite's `PRAGMA data_version` on this connection (changed by a
/// commit of any other connection: another process, GDAL, QGIS) and the
/// store's data version (advanced by every batch jointmap commits, on this
/// connection too). A layer's state costs a `count(*)` over the layer: on a
/// million rows that, not the columns, was most of a warm read.
type Stamp = (i64, Option<String>);

/// The connection's [`Stamp`]; read before the read transaction it vouches
/// for begins, so a commit in between can only make it older than the
/// snapshot (a needless check next time), never newer.
fn stamp(conn: &Connection) -> rusqlite::Result<Stamp> {
    let pragma = conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
    let version = conn
        .query_row(
            "SELECT value FROM jointmap_meta WHERE key = 'data_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok((pragma, version))
}

fn edit_triggers(layer: Layer) -> [String; 2] {
    let t = layer.name();
    [
        format!("jointmap_{t}_edit_update"),
        format!("jointmap_{t}_edit_delete"),
    ]
}

/// The side tables and a layer's triggers, created if missing. The tables
/// are registered as jointmap's own (not features: GDAL lists no layer for
/// them).
fn install_sql(layer: Layer) -> String {
    let t = layer.name();
    let [up, del] = edit_triggers(layer);
    let register: String = [
        "jointmap_layer_edits",
        "jointmap_columns",
        "jointmap_columns_state",
    ]
    .iter()
    .map(|t| super::history::internal_table_sql(t))
    .collect();
    format!(
        r#"CREATE TABLE IF NOT EXISTS jointmap_layer_edits (layer TEXT PRIMARY KEY, edits INTEGER NOT NULL);
        INSERT OR IGNORE INTO jointmap_layer_edits VALUES ('{t}', 0);
        CREATE TABLE IF NOT EXISTS jointmap_columns (layer TEXT NOT NULL, seq INTEGER NOT NULL,
            data BLOB NOT NULL, PRIMARY KEY (layer, seq));
        CREATE TABLE IF NOT EXISTS jointmap_columns_state (layer TEXT PRIMARY KEY,
            format INTEGER NOT NULL, edits INTEGER NOT NULL, count INTEGER NOT NULL,
            max_fid INTEGER NOT NULL, chunks INTEGER NOT NULL);
        DELETE FROM jointmap_columns_state WHERE layer = '{t}';
        CREATE TRIGGER IF NOT EXISTS "{up}" AFTER UPDATE ON "{t}" BEGIN
            UPDATE jointmap_layer_edits SET edits = edits + 1 WHERE layer = '{t}'; END;
        CREATE TRIGGER IF NOT EXISTS "{del}" AFTER DELETE ON "{t}" BEGIN
            UPDATE jointmap_layer_edits SET edits = edits + 1 WHERE layer = '{t}'; END;
        {register}"#
    )
}

/// The layer's state, `None` when its triggers are not (all) installed.
fn layer_state(conn: &Connection, layer: Layer) -> rusqlite::Result<Option<LayerState>> {
    let [up, del] = edit_triggers(layer);
    let triggers: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?1
         AND name IN (?2, ?3)",
        rusqlite::params![layer.name(), up, del],
        |r| r.get(0),
    )?;
    let has_table: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'jointmap_layer_edits'",
        [],
        |r| r.get(0),
    )?;
    if triggers != 2 || has_table != 1 {
        return Ok(None);
    }
    let Some(edits) = conn
        .query_row(
            "SELECT edits FROM jointmap_layer_edits WHERE layer = ?1",
            [layer.name()],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
    else {
        return Ok(None);
    };
    let (count, max_fid) = conn.query_row(
        &format!(
            "SELECT count(*), COALESCE(max(fid), 0) FROM \"{}\"",
            layer.name()
        ),
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(Some(LayerState {
        edits,
        count,
        max_fid,
    }))
}

/// The stored columns' state and number of chunks, when in the current format.
fn stored_state(conn: &Connection, layer: Layer) -> rusqlite::Result<Option<(LayerState, i64)>> {
    conn.query_row(
        "SELECT edits, count, max_fid, chunks FROM jointmap_columns_state
         WHERE layer = ?1 AND format = ?2",
        rusqlite::params![layer.name(), FORMAT],
        |r| {
            Ok((
                LayerState {
                    edits: r.get(0)?,
                    count: r.get(1)?,
                    max_fid: r.get(2)?,
                },
                r.get(3)?,
            ))
        },
    )
    .optional()
}

/// The stored chunks, decoded in parallel; `None` when one is missing or
/// damaged.
fn load_chunks(
    conn: &Connection,
    layer: Layer,
    chunks: i64,
) -> rusqlite::Result<Option<EventColumns>> {
    use rayon::prelude::*;
    let mut stmt = conn.prepare_cached(
        "SELECT data FROM jointmap_columns WHERE layer = ?1 AND seq < ?2 ORDER BY seq",
    )?;
    let blobs = stmt
        .query_map(rusqlite::params![layer.name(), chunks], |r| {
            r.get::<_, Vec<u8>>(0)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if blobs.len() as i64 != chunks {
        return Ok(None);
    }
    let parts: Option<Vec<EventColumns>> = blobs.par_iter().map(|b| decode(layer, b)).collect();
    Ok(parts.map(|parts| {
        let mut all = EventColumns::new(layer);
        all.reserve(
            parts.iter().map(EventColumns::len).sum(),
            parts.iter().map(|p| p.raw_ids().0.len()).sum(),
        );
        for p in parts {
            all.append(p);
        }
        all
    }))
}

impl GpkgStore {
    /// The point events of `layer` matching `q`, as columns (see the module
    /// documentation).
    pub(super) fn event_columns(&self, layer: Layer, q: &Query) -> Result<Arc<EventColumns>> {
        q.validate()?;
        if !matches!(layer, Layer::Incidents | Layer::Sightings) {
            return columns_by_query(self, layer, q);
        }
        let Some(all) = self.layer_columns(layer)? else {
            return columns_by_query(self, layer, q);
        };
        if !all.all_points() {
            return columns_by_query(self, layer, q);
        }
        if *q == Query::default() {
            return Ok(all);
        }
        let rows = select(&all, q);
        Ok(Arc::new(all.take(&rows)))
    }

    /// The summary of a point layer made from its columns; `None` for other
    /// layers, a layer with a row that is not a point, or without columns.
    /// The same as the summary by SQL and the spatial index for every time
    /// jointmap writes.
    pub(super) fn columns_summary(&self, layer: Layer) -> Result<Option<LayerSummary>> {
        if !matches!(layer, Layer::Incidents | Layer::Sightings) {
            return Ok(None);
        }
        let Some(c) = self.layer_columns(layer)? else {
            return Ok(None);
        };
        if !c.all_points() {
            return Ok(None);
        }
        let fold = |v: &[f64], f: fn(f64, f64) -> f64| v.iter().copied().reduce(f);
        let bbox = match (
            fold(&c.lon, f64::min),
            fold(&c.lat, f64::min),
            fold(&c.lon, f64::max),
            fold(&c.lat, f64::max),
        ) {
            (Some(a), Some(b), Some(x), Some(y)) => Some([a, b, x, y]),
            _ => None,
        };
        let fmt = |t: Option<&DateTime<Utc>>| t.map(crate::model::time::format_time);
        Ok(Some(LayerSummary {
            layer: layer.name().to_string(),
            count: c.len() as u64,
            bbox,
            first: fmt(c.start.iter().min()),
            last: fmt(c.last.iter().max()),
        }))
    }

    /// Every row of `layer` as columns, current; `None` when the triggers
    /// that keep them honest cannot be installed (read through `query`).
    fn layer_columns(&self, layer: Layer) -> Result<Option<Arc<EventColumns>>> {
        let mut conn = self.columns_reader()?;
        let sql = |e| self.err(e);
        let stamp = stamp(&conn).map_err(sql)?;
        if let Some(h) = self
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&layer)
            .filter(|h| h.stamp.as_ref() == Some(&stamp))
        {
            return Ok(Some(h.columns.clone()));
        }
        let read = |conn: &Connection| -> rusqlite::Result<Option<LayerState>> {
            conn.execute_batch("BEGIN")?;
            let s = layer_state(conn, layer);
            if !matches!(s, Ok(Some(_))) {
                let _ = conn.execute_batch("ROLLBACK");
            }
            s
        };
        let state = match read(&conn).map_err(sql)? {
            Some(s) => s,
            None => {
                // Columns made before the triggers were (re)installed prove nothing.
                self.held
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&layer);
                // On a read connection: while a batch writes, read through
                // `query` this time rather than wait for it.
                let installed = super::readers::without_waiting(&conn, || {
                    conn.execute_batch(&format!("BEGIN IMMEDIATE; {} COMMIT;", install_sql(layer)))
                });
                if installed.is_err() {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Ok(None);
                }
                match read(&conn).map_err(sql)? {
                    Some(s) => s,
                    None => return Ok(None),
                }
            }
        };
        // Inside the read transaction from here: one snapshot.
        let made = self.current_columns(&mut conn, layer, state);
        let _ = conn.execute_batch("COMMIT");
        let mut held = made?;
        held.stamp = Some(stamp);
        let columns = held.columns.clone();
        let held = self.store_columns(&conn, layer, held);
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(layer, held);
        Ok(Some(columns))
    }

    /// The columns at `state`, from memory, the side table, an append of the
    /// new rows, or a full read, in that order of preference.
    fn current_columns(
        &self,
        conn: &mut Connection,
        layer: Layer,
        state: LayerState,
    ) -> Result<Held> {
        let sql = |e| self.err(e);
        let mem = self
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&layer)
            .cloned();
        if let Some(h) = mem.as_ref().filter(|h| h.state == state) {
            return Ok(h.clone());
        }
        let stored = stored_state(conn, layer).map_err(sql)?;
        // A base to extend: what memory holds, else the side table's.
        let mut base = mem.filter(|h| h.state.edits == state.edits);
        if let Some((s, chunks)) = stored {
            let wanted = s == state
                || (base.is_none() && s.edits == state.edits && s.max_fid <= state.max_fid);
            if wanted {
                if let Some(c) = load_chunks(conn, layer, chunks).map_err(sql)? {
                    if c.len() as i64 == s.count {
                        base = Some(Held {
                            state: s,
                            columns: Arc::new(c),
                            stored_chunks: Some(chunks),
                            stamp: None,
                        });
                    }
                }
            }
        }
        if let Some(b) = base.filter(|b| b.state.max_fid <= state.max_fid) {
            if b.state == state {
                return Ok(b);
            }
            let added: i64 = conn
                .query_row(
                    &format!("SELECT count(*) FROM \"{}\" WHERE fid > ?1", layer.name()),
                    [b.state.max_fid],
                    |r| r.get(0),
                )
                .map_err(sql)?;
            if b.state.count + added == state.count {
                let new = self.read_rows(conn, layer, b.state.max_fid, added as usize)?;
                let mut all = EventColumns::new(layer);
                all.reserve(
                    b.columns.len() + new.len(),
                    b.columns.raw_ids().0.len() + new.raw_ids().0.len(),
                );
                all.append_from(&b.columns);
                all.append(new);
                return Ok(Held {
                    state,
                    columns: Arc::new(all),
                    stored_chunks: b.stored_chunks,
                    stamp: None,
                });
            }
        }
        let all = self.read_rows(conn, layer, i64::MIN, state.count.max(0) as usize)?;
        Ok(Held {
            state,
            columns: Arc::new(all),
            stored_chunks: None,
            stamp: None,
        })
    }

    /// Reads the rows with `fid > after` as columns, decoding them as
    /// `query` does.
    fn read_rows(
        &self,
        conn: &mut Connection,
        layer: Layer,
        after: i64,
        expected: usize,
    ) -> Result<EventColumns> {
        let cols: Vec<String> = layer_columns(layer)
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect();
        let sql = format!(
            "SELECT fid, geom, {} FROM \"{}\" WHERE fid > ?1 ORDER BY fid",
            cols.join(", "),
            layer.name()
        );
        let names = select_names(layer);
        let rows = move |conn: &Connection,
                         sink: &mut dyn FnMut(&rusqlite::Row<'_>) -> bool|
              -> rusqlite::Result<()> {
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut found = stmt.query([after])?;
            while let Some(row) = found.next()? {
                if !sink(row) {
                    break;
                }
            }
            Ok(())
        };
        let mut out = EventColumns::new(layer);
        self.scan(
            layer,
            &names,
            None,
            conn,
            expected > THREADED_ROWS,
            Box::new(rows),
            &mut |f| {
                out.push(layer, &f);
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// Writes `held` to the side table when it is not there yet (best
    /// effort, see the module documentation); returns it as now stored.
    fn store_columns(&self, conn: &Connection, layer: Layer, mut held: Held) -> Held {
        let c = &held.columns;
        let chunks = c.len().div_ceil(CHUNK_ROWS) as i64;
        if held.stored_chunks == Some(chunks)
            && stored_state(conn, layer).ok().flatten() == Some((held.state, chunks))
        {
            return held;
        }
        // Chunks already stored stay; the last one may have grown.
        let keep = held.stored_chunks.map_or(0, |k| (k - 1).max(0)).min(chunks);
        let write = || -> rusqlite::Result<bool> {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            // Nothing committed since the stamp read before the snapshot:
            // the layer is as the snapshot saw it, without a second
            // `count(*)` over it; else its state is compared.
            let unchanged = held.stamp.is_some() && held.stamp == Some(stamp(conn)?);
            if !unchanged && layer_state(conn, layer)? != Some(held.state) {
                return Ok(false);
            }
            conn.execute(
                "DELETE FROM jointmap_columns WHERE layer = ?1 AND seq >= ?2",
                rusqlite::params![layer.name(), keep],
            )?;
            let mut ins = conn.prepare_cached(
                "INSERT INTO jointmap_columns (layer, seq, data) VALUES (?1, ?2, ?3)",
            )?;
            for seq in keep..chunks {
                let a = seq as usize * CHUNK_ROWS;
                let b = (a + CHUNK_ROWS).min(c.len());
                ins.execute(rusqlite::params![layer.name(), seq, encode(c, a, b)])?;
            }
            conn.execute(
                "INSERT OR REPLACE INTO jointmap_columns_state
                 (layer, format, edits, count, max_fid, chunks) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                rusqlite::params![
                    layer.name(),
                    FORMAT,
                    held.state.edits,
                    held.state.count,
                    held.state.max_fid,
                    chunks
                ],
            )?;
            Ok(true)
        };
        // Never waits for a batch holding the write lock: kept next time.
        let committed = super::readers::without_waiting(conn, || {
            matches!(write(), Ok(true)) && conn.execute_batch("COMMIT").is_ok()
        });
        if committed {
            held.stored_chunks = Some(chunks);
        } else {
            let _ = conn.execute_batch("ROLLBACK");
            held.stored_chunks = None;
        }
        held
    }
}

/// The rows of `c` (all points) a GeoPackage query `q` visits.
fn select(c: &EventColumns, q: &Query) -> Vec<usize> {
    // Stored times have millisecond precision, and the query compares with
    // its bounds written at that precision.
    let ms = |t: DateTime<Utc>| DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t);
    let (from, to) = (q.from.map(ms), q.to.map(ms));
    let inside_x = |x: f64, b: [f64; 4]| {
        if b[0] > b[2] {
            (x >= b[0] && x <= 180.0) || (x >= -180.0 && x <= b[2])
        } else {
            x >= b[0] && x <= b[2]
        }
    };
    (0..c.len())
        .filter(|&i| {
            from.is_none_or(|f| c.last[i] >= f)
                && to.is_none_or(|t| c.start[i] <= t)
                && q.bbox
                    .is_none_or(|b| inside_x(c.lon[i], b) && c.lat[i] >= b[1] && c.lat[i] <= b[3])
        })
        .collect()
}

// The chunk encoding: little-endian; integer columns as their minimum and
// the narrowest width (0, 1, 2, 4 or 8 bytes) holding every value's offset
// from it.

fn put_ints(out: &mut Vec<u8>, values: impl Iterator<Item = i64> + Clone) {
    let min = values.clone().min().unwrap_or(0);
    let span = values
        .clone()
        .map(|v| v.wrapping_sub(min) as u64)
        .max()
        .unwrap_or(0);
    let width: u8 = match span {
        0 => 0,
        1..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xffff_ffff => 4,
        _ => 8,
    };
    out.extend_from_slice(&min.to_le_bytes());
    out.push(width);
    for v in values {
        let d = v.wrapping_sub(min) as u64;
        out.extend_from_slice(&d.to_le_bytes()[..width as usize]);
    }
}

/// Floats: as integers when every value is one (counts), else raw bits.
fn put_floats(out: &mut Vec<u8>, values: &[f64]) {
    let integral = values
        .iter()
        .all(|x| x.fract() == 0.0 && x.abs() < 9e15 && !(*x == 0.0 && x.is_sign_negative()));
    if integral {
        out.push(0);
        put_ints(out, values.iter().map(|x| *x as i64));
    } else {
        out.push(1);
        for x in values {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u64).to_le_bytes());
    out.extend_from_slice(b);
}

const OWNERS: [Owner; 3] = [Owner::Hr, Owner::Military, Owner::Mission];
const LEVELS: [Level; 4] = [
    Level::Public,
    Level::Mission,
    Level::Restricted,
    Level::StrictlyConfidential,
];

fn position<T: PartialEq>(all: &[T], v: &T) -> i64 {
    all.iter().position(|x| x == v).unwrap_or(0) as i64
}

/// Rows `a..b` of `c` as one chunk.
fn encode(c: &EventColumns, a: usize, b: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity((b - a) * 48 + 1024);
    out.extend_from_slice(&((b - a) as u64).to_le_bytes());
    let names = c.names();
    out.extend_from_slice(&(names.len() as u64).to_le_bytes());
    for n in names {
        put_bytes(&mut out, n.as_bytes());
    }
    let (text, ends) = c.raw_ids();
    let t0 = if a == 0 { 0 } else { ends[a - 1] };
    let t1 = if b == 0 { 0 } else { ends[b - 1] };
    put_bytes(&mut out, &text.as_bytes()[t0..t1.max(t0)]);
    put_ints(&mut out, (a..b).map(|i| (ends[i] - t0) as i64));
    for v in [&c.lon, &c.lat] {
        for x in &v[a..b] {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    put_ints(&mut out, c.point[a..b].iter().map(|p| i64::from(*p)));
    for v in [&c.start, &c.last] {
        put_ints(&mut out, v[a..b].iter().map(|t| t.timestamp()));
        put_ints(
            &mut out,
            v[a..b]
                .iter()
                .map(|t| i64::from(t.timestamp_subsec_nanos())),
        );
    }
    for v in [&c.category, &c.actor, &c.actor_category] {
        put_ints(&mut out, v[a..b].iter().map(|x| i64::from(*x)));
    }
    for v in [&c.verification, &c.precision] {
        put_ints(&mut out, v[a..b].iter().map(|x| i64::from(*x)));
    }
    for v in [&c.fatalities, &c.casualties, &c.people_affected] {
        put_floats(&mut out, &v[a..b]);
    }
    put_ints(&mut out, c.sensitive[a..b].iter().map(|p| i64::from(*p)));
    put_ints(&mut out, c.owner[a..b].iter().map(|o| position(&OWNERS, o)));
    put_ints(&mut out, c.level[a..b].iter().map(|l| position(&LEVELS, l)));
    put_ints(
        &mut out,
        c.consent[a..b].iter().map(|x| position(&Consent::ALL, x)),
    );
    out
}

/// Reads a chunk back, bounds-checked.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.b.get(self.at..end)?;
        self.at = end;
        Some(s)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn len(&mut self) -> Option<usize> {
        usize::try_from(self.u64()?).ok()
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.len()?;
        self.take(n)
    }

    fn ints(&mut self, n: usize) -> Option<Vec<i64>> {
        let min = self.u64()? as i64;
        let width = *self.take(1)?.first()? as usize;
        if ![0, 1, 2, 4, 8].contains(&width) {
            return None;
        }
        let raw = self.take(n.checked_mul(width)?)?;
        if width == 0 {
            return Some(vec![min; n]);
        }
        Some(
            raw.chunks_exact(width)
                .map(|c| {
                    let mut d = [0u8; 8];
                    d[..width].copy_from_slice(c);
                    min.wrapping_add(u64::from_le_bytes(d) as i64)
                })
                .collect(),
        )
    }

    fn floats(&mut self, n: usize) -> Option<Vec<f64>> {
        match *self.take(1)?.first()? {
            0 => Some(self.ints(n)?.into_iter().map(|v| v as f64).collect()),
            1 => self.raw_floats(n),
            _ => None,
        }
    }

    fn raw_floats(&mut self, n: usize) -> Option<Vec<f64>> {
        let raw = self.take(n.checked_mul(8)?)?;
        Some(
            raw.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
        )
    }

    fn coded<T: Copy>(&mut self, n: usize, all: &[T]) -> Option<Vec<T>> {
        self.ints(n)?
            .into_iter()
            .map(|v| all.get(usize::try_from(v).ok()?).copied())
            .collect()
    }

    fn times(&mut self, n: usize) -> Option<Vec<DateTime<Utc>>> {
        let secs = self.ints(n)?;
        let nanos = self.ints(n)?;
        secs.into_iter()
            .zip(nanos)
            .map(|(s, ns)| DateTime::from_timestamp(s, u32::try_from(ns).ok()?))
            .collect()
    }
}

/// A chunk's columns; `None` when it is damaged.
fn decode(layer: Layer, b: &[u8]) -> Option<EventColumns> {
    let mut r = Reader { b, at: 0 };
    let n = r.len()?;
    let k = r.len()?;
    let mut names = Vec::with_capacity(k.min(b.len()));
    for _ in 0..k {
        names.push(String::from_utf8(r.bytes()?.to_vec()).ok()?);
    }
    let text = String::from_utf8(r.bytes()?.to_vec()).ok()?;
    let ends = r
        .ints(n)?
        .into_iter()
        .map(usize::try_from)
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    let mut failed = false;
    let mut fill = |c: &mut EventColumns| -> Option<()> {
        c.lon = r.raw_floats(n)?;
        c.lat = r.raw_floats(n)?;
        c.point = r.coded(n, &[false, true])?;
        c.start = r.times(n)?;
        c.last = r.times(n)?;
        let codes = |r: &mut Reader<'_>| -> Option<Vec<u32>> {
            r.ints(n)?
                .into_iter()
                .map(|v| u32::try_from(v).ok())
                .collect()
        };
        c.category = codes(&mut r)?;
        c.actor = codes(&mut r)?;
        c.actor_category = codes(&mut r)?;
        let ranks = |r: &mut Reader<'_>| -> Option<Vec<u8>> {
            r.ints(n)?
                .into_iter()
                .map(|v| u8::try_from(v).ok())
                .collect()
        };
        c.verification = ranks(&mut r)?;
        c.precision = ranks(&mut r)?;
        c.fatalities = r.floats(n)?;
        c.casualties = r.floats(n)?;
        c.people_affected = r.floats(n)?;
        c.sensitive = r.coded(n, &[false, true])?;
        c.owner = r.coded(n, &OWNERS)?;
        c.level = r.coded(n, &LEVELS)?;
        c.consent = r.coded(n, &Consent::ALL)?;
        (r.at == b.len()).then_some(())
    };
    let c = EventColumns::from_parts(layer, text, ends, names, |c| {
        failed = fill(c).is_none();
    })?;
    (!failed).then_some(c)
}

#[cfg(test)]
mod tests;

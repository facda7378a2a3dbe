//! Rows as binary COPY sends them, encoded on any thread (ingest encodes on its validation
//! workers), so the batch's single writer only streams bytes.
//!
//! A row's bytes are the binary COPY fields from `id` to `extra` (each an `int32` length and
//! the value, `-1` for NULL); the batch adds the tuple's field count, the source and, for the
//! staging table, the row's sequence number.

use super::{millis, pool::Conn, Cell, Ewkb, PgError};
use crate::model::parts::View;
use crate::model::schema::{FieldKind, FieldSpec};
use crate::model::{Feature, Layer, Parts};
use bytes::{BufMut, BytesMut};
use postgres::types::{IsNull, ToSql, Type};
use postgres::Client;
use serde_json::Value;
use std::hash::BuildHasher;
use std::io::Write;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// The binary COPY header: signature, flags, no extension.
pub(super) const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// The binary COPY trailer: a field count of -1.
pub(super) const TRAILER: &[u8] = &[0xff, 0xff];

/// A feature's row, encoded for binary COPY into its layer (or the staging table).
#[derive(Debug, Clone)]
pub(crate) struct PgRow {
    /// [`id_hash`] of the feature's id, taken on the encoding thread: all the batch needs
    /// of the id (which is the first field of `bytes`).
    pub(super) id_hash: u64,
    /// The fields `id` to `extra`, as binary COPY sends them.
    bytes: BytesMut,
}

/// A fixed hash of an id: a batch keeps ids as these, not as strings. Two ids with the same
/// hash only cost time: the second is taken for a repeat and written after the first.
pub(super) fn id_hash(id: &str) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(id)
}

/// A schema field's value as its typed column holds it.
fn cell(f: &View<'_>, spec: &FieldSpec, v: Option<&Value>) -> Result<Cell, PgError> {
    let bad = |what: &str| {
        PgError::Value(format!(
            "{}, feature {:?}: field `{}`: {what}",
            f.layer, f.id, spec.name
        ))
    };
    Ok(match (v, spec.kind) {
        (None | Some(Value::Null), _) => Cell::Null,
        (Some(v), FieldKind::Count | FieldKind::IntRange(..)) => {
            Cell::Int(v.as_i64().ok_or_else(|| bad("not an integer"))?)
        }
        (Some(v), FieldKind::PositiveReal | FieldKind::Fraction) => {
            Cell::Real(v.as_f64().ok_or_else(|| bad("not a number"))?)
        }
        (Some(Value::String(s)), _) => Cell::Text(s.clone()),
        (Some(other), _) => Cell::Text(other.to_string()),
    })
}

/// A feature's properties that are no schema field, serialized as a JSON object.
struct Extras<'a, 'f>(&'a View<'f>);

impl serde::Serialize for Extras<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.extras())
    }
}

/// The type a schema field's column has (as `column_type` names it in the schema).
fn sql_type(spec: &FieldSpec) -> Type {
    match spec.kind {
        FieldKind::Count | FieldKind::IntRange(..) => Type::INT8,
        FieldKind::PositiveReal | FieldKind::Fraction => Type::FLOAT8,
        FieldKind::Text | FieldKind::Enum(_) | FieldKind::TimeList => Type::TEXT,
    }
}

/// Appends one binary COPY field: its length, then `v` as a column of type `ty` holds it.
fn field<T: ToSql>(out: &mut BytesMut, v: &T, ty: &Type) -> Result<(), PgError> {
    let at = out.len();
    out.put_i32(0);
    let null = v
        .to_sql(ty, out)
        .map_err(|e| PgError::Value(e.to_string()))?;
    match null {
        IsNull::Yes => {
            out.truncate(at);
            out.put_i32(-1);
        }
        IsNull::No => {
            let n = i32::try_from(out.len() - at - 4)
                .map_err(|_| PgError::Value("a value too large for a column".into()))?;
            out[at..at + 4].copy_from_slice(&n.to_be_bytes());
        }
    }
    Ok(())
}

impl PgRow {
    /// Encodes `f` as a row of `layer`: the schema fields straight from the properties (no
    /// copy of their texts), checked in order before the geometry.
    pub(crate) fn encode(layer: Layer, f: &Feature) -> Result<PgRow, PgError> {
        PgRow::from_view(&f.view(layer))
    }

    /// Encodes validated parts as a row of their layer: no map is built.
    pub(crate) fn from_parts(p: &Parts) -> Result<PgRow, PgError> {
        PgRow::from_view(&p.view())
    }

    fn from_view(f: &View<'_>) -> Result<PgRow, PgError> {
        // One buffer, in column order; the schema fields are checked before the geometry,
        // whose error (if any) is returned after theirs.
        let mut blob = Vec::with_capacity(64);
        let geom = Ewkb::new(f.geometry, &mut blob);
        let geom_len = geom.as_ref().map_or(0, |g| g.0.len());
        let mut out = BytesMut::with_capacity(320 + f.id.len() + geom_len);
        field(&mut out, &f.id, &Type::TEXT)?;
        if let Ok(g) = &geom {
            field(&mut out, g, &Type::BYTEA)?;
        }
        field(&mut out, &millis(f.time.start), &Type::TIMESTAMPTZ)?;
        field(&mut out, &f.time.end.map(millis), &Type::TIMESTAMPTZ)?;
        field(&mut out, &f.owner.as_str(), &Type::TEXT)?;
        field(&mut out, &f.level.as_str(), &Type::TEXT)?;
        for (spec, v) in f.fields() {
            let ty = sql_type(spec);
            match v {
                // Most values, written as `field` would without a copy: text into a text
                // column, an integer into a bigint one, and nulls.
                Some(Value::String(s)) if ty == Type::TEXT => field(&mut out, &s.as_str(), &ty)?,
                Some(Value::Number(n)) if ty == Type::INT8 && n.is_i64() => {
                    out.put_i32(8);
                    out.put_i64(n.as_i64().unwrap_or_default());
                }
                None | Some(Value::Null) => out.put_i32(-1),
                _ => field(&mut out, &cell(f, spec, v)?, &ty)?,
            }
        }
        // The other properties as a JSON object in their order, as a `json` column holds it.
        let extra = Extras(f);
        if f.has_extras() {
            let at = out.len();
            out.put_i32(0);
            serde_json::to_writer((&mut out).writer(), &extra)
                .map_err(|e| PgError::Value(e.to_string()))?;
            let n = i32::try_from(out.len() - at - 4)
                .map_err(|_| PgError::Value("a value too large for a column".into()))?;
            out[at..at + 4].copy_from_slice(&n.to_be_bytes());
        } else {
            out.put_i32(-1);
        }
        geom?;
        Ok(PgRow {
            id_hash: id_hash(f.id),
            bytes: out,
        })
    }

    /// The feature's id: the row's first field.
    pub(crate) fn id(&self) -> &str {
        self.bytes
            .get(..4)
            .and_then(|n| usize::try_from(i32::from_be_bytes([n[0], n[1], n[2], n[3]])).ok())
            .and_then(|n| self.bytes.get(4..4 + n))
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    /// Appends the whole tuple to `out`: the field count, the row, the source and, when
    /// given, the sequence number (the staging table's last column).
    pub(super) fn tuple(
        &self,
        layer: Layer,
        source: &str,
        seq: Option<i64>,
        out: &mut Vec<u8>,
    ) -> Result<(), PgError> {
        // The columns: `id` to `classification`, the fields, `extra`, `jointmap_source`
        // (as `columns`), then the sequence number if any.
        let n = 8 + layer.fields().len() + usize::from(seq.is_some());
        let n = i16::try_from(n).map_err(|_| PgError::Value("too many columns".into()))?;
        out.extend_from_slice(&n.to_be_bytes());
        out.extend_from_slice(&self.bytes);
        let len = i32::try_from(source.len())
            .map_err(|_| PgError::Value("a source name too long".into()))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(source.as_bytes());
        if let Some(seq) = seq {
            out.extend_from_slice(&8i32.to_be_bytes());
            out.extend_from_slice(&seq.to_be_bytes());
        }
        Ok(())
    }
}

/// The size of the pieces a COPY's data is handed to the connection in.
const PIECE: usize = 64 * 1024;

/// Streams `tuples` (whole tuples, see [`PgRow::tuple`]) into `table` with binary COPY.
pub(super) fn copy(
    conn: &mut Conn<'_>,
    table: &str,
    cols: &str,
    tuples: &[u8],
) -> Result<(), PgError> {
    let mut sink = conn.copy_in(&format!("COPY {table} ({cols}) FROM STDIN (FORMAT binary)"))?;
    // In pieces of `PIECE` bytes: the writer copies what it is given into a buffer it hands
    // over whole, so a piece the size of the batch would be a new allocation of megabytes (page
    // faults) for every COPY; pieces this size are recycled and stay in the cache.
    let mut io = || -> std::io::Result<()> {
        sink.write_all(HEADER)?;
        for piece in tuples.chunks(PIECE) {
            sink.write_all(piece)?;
        }
        sink.write_all(TRAILER)
    };
    io().map_err(|e| PgError::Value(format!("COPY: {e}")))?;
    sink.finish()?;
    Ok(())
}

/// A COPY error as the statement's: the server's own error when the writer carries one.
fn copy_error(e: std::io::Error) -> PgError {
    match e
        .into_inner()
        .map(|inner| inner.downcast::<postgres::Error>())
    {
        Some(Ok(pg)) => PgError::Sql(*pg),
        Some(Err(other)) => PgError::Value(format!("COPY: {other}")),
        None => PgError::Value("COPY: the connection failed".into()),
    }
}

/// What the batch hands a [`Stream`].
enum Piece {
    /// Whole tuples.
    Rows(Vec<u8>),
    /// No more rows: the COPY is completed.
    End,
}

/// The tuples a [`Stream`] copies before it completes its COPY and starts the next (about
/// 64 MB, a second or so): one statement never lasts the whole load, so the store's
/// `statement_timeout` bounds a COPY as it bounds the batch's other statements. (The unit
/// tests' loads are small: they rotate at every buffer.)
const ROTATE: usize = if cfg!(test) { 64 << 10 } else { 64 << 20 };

/// Buffers of tuples on their way to a [`Stream`]'s thread: the batch fills the next while
/// the thread sends one and the database inserts the one before.
const IN_FLIGHT: usize = 2;

/// A binary COPY into one table, streamed on a thread of its own that owns the connection
/// (lent by the batch until [`Stream::finish`] gives it back). The batch hands over buffers
/// of whole tuples and goes on encoding the next while the database inserts: a COPY per
/// buffer, each waited for, left both sides idle in turn. Dropped without `finish`, the
/// COPY is aborted and the connection closed (its transaction rolled back with it).
pub(super) struct Stream {
    tx: Option<SyncSender<Piece>>,
    /// Emptied buffers coming back, to be filled again (a new one costs page faults).
    spare: Receiver<Vec<u8>>,
    thread: Option<JoinHandle<(Client, Result<(), PgError>)>>,
}

impl Stream {
    /// Starts streaming into `table` (`cols`: its column list as the tuples hold them) on
    /// `client`, in whatever transaction it has open.
    pub(super) fn start(mut client: Client, table: &str, cols: &str) -> Result<Stream, PgError> {
        let sql = format!("COPY {table} ({cols}) FROM STDIN (FORMAT binary)");
        let (tx, rx) = sync_channel::<Piece>(IN_FLIGHT);
        let (spare_tx, spare) = sync_channel::<Vec<u8>>(IN_FLIGHT + 1);
        let thread = std::thread::Builder::new()
            .name("jointmap-copy".into())
            .spawn(move || {
                let result = stream(&mut client, &sql, &rx, &spare_tx);
                (client, result)
            })
            .map_err(|e| PgError::Value(format!("cannot start the COPY's thread: {e}")))?;
        Ok(Stream {
            tx: Some(tx),
            spare,
            thread: Some(thread),
        })
    }

    /// Hands `tuples` over and returns an empty buffer for the next ones; `Err` when the
    /// COPY has failed (`finish` says why).
    pub(super) fn send(&mut self, tuples: Vec<u8>) -> Result<Vec<u8>, ()> {
        let tx = self.tx.as_ref().ok_or(())?;
        tx.send(Piece::Rows(tuples)).map_err(|_| ())?;
        Ok(self.spare.try_recv().unwrap_or_default())
    }

    /// Completes the COPY: the connection back, and how the COPY went.
    pub(super) fn finish(mut self) -> (Option<Client>, Result<(), PgError>) {
        if let Some(tx) = self.tx.take() {
            // A thread that stopped on an error has hung up: `join` gives its error.
            let _ = tx.send(Piece::End);
        }
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok((client, result))) => (Some(client), result),
            _ => (
                None,
                Err(PgError::Value("the COPY's thread panicked".into())),
            ),
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // Hung up without `End`: the thread aborts the COPY; its connection is closed.
        self.tx.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The thread of a [`Stream`]: a COPY per [`ROTATE`] bytes, completed at `End`, aborted when
/// the batch hangs up.
fn stream(
    client: &mut Client,
    sql: &str,
    rx: &Receiver<Piece>,
    spare: &SyncSender<Vec<u8>>,
) -> Result<(), PgError> {
    let aborted = || PgError::Value("the batch stopped its COPY".into());
    let mut next = rx.recv();
    loop {
        let mut rows = match next {
            Ok(Piece::Rows(rows)) => rows,
            Ok(Piece::End) => return Ok(()),
            Err(_) => return Err(aborted()),
        };
        let mut sink = client.copy_in(sql)?;
        sink.write_all(HEADER).map_err(copy_error)?;
        let mut sent = 0;
        loop {
            for piece in rows.chunks(PIECE) {
                sink.write_all(piece).map_err(copy_error)?;
            }
            sent += rows.len();
            rows.clear();
            let _ = spare.try_send(rows);
            if sent >= ROTATE {
                break;
            }
            rows = match rx.recv() {
                Ok(Piece::Rows(rows)) => rows,
                Ok(Piece::End) => {
                    sink.write_all(TRAILER).map_err(copy_error)?;
                    sink.finish()?;
                    return Ok(());
                }
                // Dropping the writer unfinished aborts the COPY.
                Err(_) => return Err(aborted()),
            };
        }
        sink.write_all(TRAILER).map_err(copy_error)?;
        sink.finish()?;
        next = rx.recv();
    }
}

/// Whether `layer` holds no row (as the batch sees it).
pub(super) fn is_empty(conn: &mut Conn<'_>, layer: Layer) -> Result<bool, PgError> {
    Ok(conn
        .query_one(
            &format!("SELECT NOT EXISTS (SELECT 1 FROM {})", layer.name()),
            &[],
        )?
        .get(0))
}

#[cfg(test)]
mod tests {
    use super::super::columns;
    use super::*;
    use serde_json::json;

    /// The encoded row is what `BinaryCopyInWriter` would send for the same values.
    #[test]
    fn a_row_is_encoded_field_by_field_as_binary_copy_sends_it() {
        let v = json!({"type": "Feature", "id": "a1",
            "geometry": {"type": "Point", "coordinates": [18.5, 4.4]},
            "properties": {"time_start": "2025-02-14T03:00:00Z", "category": "killing",
                "killed_men": 2, "z_note": {"nested": [1]}}});
        let f = Feature::from_geojson(Layer::Incidents, v, "").expect("valid incident");
        let row = PgRow::encode(Layer::Incidents, &f).expect("encode");
        assert_eq!(row.id(), "a1");
        assert_eq!(row.id_hash, id_hash("a1"));
        let mut t = Vec::new();
        row.tuple(Layer::Incidents, "src", Some(7), &mut t)
            .expect("tuple");
        let n = columns(Layer::Incidents).len() + 1;
        assert_eq!(&t[..2], &(n as i16).to_be_bytes());
        // id first: length 2, "a1".
        assert_eq!(&t[2..8], &[0, 0, 0, 2, b'a', b'1']);
        // Then the source and the sequence number last.
        let tail = &t[t.len() - 19..];
        assert_eq!(&tail[..7], &[0, 0, 0, 3, b's', b'r', b'c']);
        assert_eq!(&tail[7..11], &[0, 0, 0, 8]);
        assert_eq!(&tail[11..], &7i64.to_be_bytes());
        // The extras as JSON, as the feature's properties order them.
        let text = String::from_utf8_lossy(&t);
        assert!(text.contains(r#"{"z_note":{"nested":[1]}}"#), "{text}");
    }

    /// Every field's column type as the schema declares it.
    #[test]
    fn each_field_is_encoded_as_its_column_is_declared() {
        for layer in Layer::ALL {
            for spec in layer.fields() {
                let want = match super::super::column_type(spec) {
                    "bigint" => Type::INT8,
                    "double precision" => Type::FLOAT8,
                    _ => Type::TEXT,
                };
                assert_eq!(sql_type(spec), want, "{layer} {}", spec.name);
            }
        }
    }

    /// The row as every field through `cell` and `field`, the general path.
    fn row_the_long_way(f: &View<'_>) -> Vec<u8> {
        let mut out = BytesMut::new();
        for (spec, v) in f.fields() {
            field(&mut out, &cell(f, spec, v).expect("cell"), &sql_type(spec)).expect("field");
        }
        out.to_vec()
    }

    /// The fields as `from_view` writes them: after the id, geometry, times, owner and level;
    /// before the extras.
    fn fields_of(row: &PgRow, f: &View<'_>) -> Vec<u8> {
        let mut head = BytesMut::new();
        field(&mut head, &f.id, &Type::TEXT).expect("id");
        let mut blob = Vec::new();
        let g = Ewkb::new(f.geometry, &mut blob).expect("geometry");
        field(&mut head, &g, &Type::BYTEA).expect("geometry");
        field(&mut head, &millis(f.time.start), &Type::TIMESTAMPTZ).expect("start");
        field(&mut head, &f.time.end.map(millis), &Type::TIMESTAMPTZ).expect("end");
        field(&mut head, &f.owner.as_str(), &Type::TEXT).expect("owner");
        field(&mut head, &f.level.as_str(), &Type::TEXT).expect("level");
        let bytes = &row.bytes[..];
        assert_eq!(&bytes[..head.len()], &head[..]);
        // The extras last: their length, then their JSON (none: a length of -1).
        let tail = 4 + if f.has_extras() {
            serde_json::to_vec(&Extras(f)).expect("extras").len()
        } else {
            0
        };
        bytes[head.len()..bytes.len() - tail].to_vec()
    }

    /// The short ways `from_view` takes (text, integers, nulls) write what the general path
    /// writes, for every kind of field: counts given, left out (their defaults) and large,
    /// reals, ranges, enums, texts and time lists.
    #[test]
    fn the_short_ways_write_what_the_general_path_writes() {
        let features = [
            (
                Layer::Incidents,
                json!({"type": "Feature", "id": "i1",
                    "geometry": {"type": "Point", "coordinates": [18.5, 4.4]},
                    "properties": {"time_start": "2025-02-14T03:00:00Z", "category": "killing",
                        "killed_men": 99999, "perpetrator": "Ünïcode \"quoted\"", "note": 1}}),
            ),
            (
                Layer::Sightings,
                json!({"type": "Feature", "id": "s1",
                    "geometry": {"type": "Point", "coordinates": [18.5, 4.4]},
                    "properties": {"time_start": "2025-02-14T03:00:00Z", "actor": "X",
                        "strength": 40}}),
            ),
            (
                Layer::Sites,
                json!({"type": "Feature", "id": "c1",
                    "geometry": {"type": "Point", "coordinates": [18.5, 4.4]},
                    "properties": {"time_start": "2025-02-14T03:00:00Z", "name": "Camp",
                        "site_type": "idp-site", "population": 12000}}),
            ),
            (
                Layer::Bases,
                json!({"type": "Feature", "id": "b1",
                    "geometry": {"type": "Point", "coordinates": [18.5, 4.4]},
                    "properties": {"time_start": "2025-02-14T03:00:00Z", "name": "TOB",
                        "base_type": "tob"}}),
            ),
        ];
        for (layer, v) in features {
            let f = Feature::from_geojson(layer, v, "").expect("valid");
            let view = f.view(layer);
            let row = PgRow::encode(layer, &f).expect("encode");
            assert_eq!(fields_of(&row, &view), row_the_long_way(&view), "{layer}");
        }
    }

    /// `tuple` counts the columns without building their list.
    #[test]
    fn the_field_count_is_every_column_of_the_layer() {
        for layer in Layer::ALL {
            assert_eq!(8 + layer.fields().len(), columns(layer).len(), "{layer}");
        }
    }
}

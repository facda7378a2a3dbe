//! Streaming GeoJSON reader: a FeatureCollection, a single Feature, or
//! newline-delimited features (one per line), without ever holding the whole
//! document in memory. Each feature is handed on as its verbatim text.

use crate::model::json::TextPos;
use crate::model::RawFeature;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::cell::Cell;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::rc::Rc;

/// CRS names that mean WGS 84 longitude/latitude.
const WGS84_NAMES: &[&str] = &[
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "urn:ogc:def:crs:OGC::CRS84",
    "CRS84",
    "OGC:CRS84",
    "EPSG:4326",
    "urn:ogc:def:crs:EPSG::4326",
];

/// Reads every feature of a GeoJSON document from `reader` and calls `sink` on
/// each, in order, within the default maximum feature size. Returns the
/// number of features, or a message naming the position of the first
/// structural problem.
pub fn read_features<R: BufRead>(
    reader: R,
    sink: &mut dyn FnMut(RawFeature) -> Result<(), String>,
) -> Result<usize, String> {
    read_features_limited(reader, crate::model::bounds::MAX_FEATURE_BYTES, sink)
}

/// As [`read_features`], refusing (while streaming, so memory stays bounded)
/// a feature or top-level member of more than `max_feature_bytes` bytes.
pub fn read_features_limited<R: BufRead>(
    reader: R,
    max_feature_bytes: usize,
    sink: &mut dyn FnMut(RawFeature) -> Result<(), String>,
) -> Result<usize, String> {
    read_checked(reader, max_feature_bytes, true, sink)
}

/// As [`read_features_limited`], except that the syntax of an object element
/// of a FeatureCollection's `features` array is not checked here: every
/// feature whose `start` is known must go through
/// [`super::split::check_syntax`] (which the strict parse of a valid feature
/// implies), the first failure in input order being the input's error.
/// The ingest's workers do so, so its reader thread does not parse each
/// feature twice.
pub(super) fn read_features_deferred<R: BufRead>(
    reader: R,
    max_feature_bytes: usize,
    sink: &mut dyn FnMut(RawFeature) -> Result<(), String>,
) -> Result<usize, String> {
    read_checked(reader, max_feature_bytes, false, sink)
}

/// Reads as [`read_features_limited`]; `syntax`: check object elements'
/// syntax here (see [`read_features_deferred`]).
fn read_checked<R: BufRead>(
    mut reader: R,
    max_feature_bytes: usize,
    syntax: bool,
    sink: &mut dyn FnMut(RawFeature) -> Result<(), String>,
) -> Result<usize, String> {
    // Skip a UTF-8 byte-order mark, which some Windows tools write.
    let head = reader.fill_buf().map_err(|e| e.to_string())?;
    if head.starts_with(b"\xEF\xBB\xBF") {
        reader.consume(3);
    }
    if let Some(other) = sniff(reader.fill_buf().map_err(|e| e.to_string())?) {
        return Err(other);
    }
    let head = reader.fill_buf().map_err(|e| e.to_string())?;
    if let Some((key_at, after)) = super::split::find_features(head) {
        let prefix = head[..key_at].to_vec();
        if plain_collection(&prefix) {
            return read_fast(reader, prefix, after, max_feature_bytes, syntax, sink);
        }
    }
    stream(reader, max_feature_bytes, None, 0, sink)
}

/// The synthetic document of a FeatureCollection whose `features` array
/// (read apart) is replaced by an empty one: `prefix` is the input up to the
/// array's key, `suffix` the input after its `]`.
fn with_empty_features(prefix: &[u8], suffix: &[u8]) -> Vec<u8> {
    let mut doc = Vec::with_capacity(prefix.len() + suffix.len() + 16);
    doc.extend_from_slice(prefix);
    doc.extend_from_slice(b"\"features\":[]");
    doc.extend_from_slice(suffix);
    doc
}

/// Whether the members before the `features` array make a FeatureCollection
/// that the checks of the streaming path accept (type, crs, no duplicates).
fn plain_collection(prefix: &[u8]) -> bool {
    let doc = with_empty_features(prefix, b"}");
    let mut emitted = false;
    let mut sink = |_: RawFeature| -> Result<(), String> {
        emitted = true;
        Ok(())
    };
    let mut index = 0;
    let place = Place::default();
    let mut de = serde_json::Deserializer::from_slice(&doc);
    let top = TopLevel {
        sink: &mut sink,
        index: &mut index,
        place: &place,
    };
    // Accepted without a lone Feature coming out: the type before
    // `features` is FeatureCollection.
    top.deserialize(&mut de).is_ok() && !emitted
}

/// Reads a FeatureCollection whose `features` array begins at `after` in the
/// buffered input, splitting the array by scanning bytes (see
/// [`super::split`]); the members around it get the streaming path's checks.
fn read_fast<R: BufRead>(
    reader: R,
    prefix: Vec<u8>,
    after: usize,
    max_feature_bytes: usize,
    syntax: bool,
    sink: &mut dyn FnMut(RawFeature) -> Result<(), String>,
) -> Result<usize, String> {
    let mut s = super::split::Scan::new(reader);
    s.consume(after)?;
    let limit = max_feature_bytes.saturating_add(LIMIT_BUFFER);
    let mut index = 0usize;
    let mut size_hint = 256;
    loop {
        let eof = |s: &super::split::Scan<R>| s.error("EOF while parsing a list");
        let mut b = s.skip_ws()?.ok_or_else(|| eof(&s))?;
        if index > 0 {
            if b == b']' {
                s.consume(1)?;
                break;
            }
            if b != b',' {
                return Err(s.error("expected `,` or `]`"));
            }
            s.consume(1)?;
            b = s.skip_ws()?.ok_or_else(|| eof(&s))?;
            if b == b']' {
                return Err(s.error("trailing comma"));
            }
        } else if b == b']' {
            s.consume(1)?;
            break;
        }
        let at = s.pos();
        let mut bytes = Vec::with_capacity(size_hint);
        s.value(&mut bytes, 0, limit)?;
        size_hint = bytes.len() + 64;
        let text = super::split::utf8(bytes, at)?;
        // Only an object has a place to count from, as in the streaming path
        // (and so only an object's check can be left to the caller).
        let object = text.starts_with('{');
        if syntax || !object {
            super::split::check_syntax(&text, at)?;
        }
        let start = object.then_some(at);
        sink(RawFeature {
            index,
            text,
            start,
            origin: None,
        })?;
        index += 1;
    }
    // The members after the array, through the object's closing brace, get
    // the same checks as the streaming path, positioned in the input.
    let suffix_at = s.pos();
    let mut suffix = Vec::new();
    s.value(&mut suffix, 1, limit)?;
    let doc = with_empty_features(&prefix, &suffix);
    let split_at = prefix.len() + b"\"features\":[]".len();
    let before = &doc[..split_at];
    let (line_s, col_s) = (
        before.iter().filter(|&&b| b == b'\n').count() + 1,
        split_at
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
            + 1,
    );
    let place = Place::default();
    let mut de = serde_json::Deserializer::from_slice(&doc);
    let top = TopLevel {
        sink: &mut *sink,
        index: &mut index,
        place: &place,
    };
    if let Err(e) = top.deserialize(&mut de) {
        let (line, column) = (e.line(), e.column());
        if line > line_s || (line == line_s && column >= col_s) {
            let rel = if line == line_s {
                (1, column - col_s + 1)
            } else {
                (line - line_s + 1, column)
            };
            let at = suffix_at.locate(rel.0, rel.1);
            return Err(super::split::positioned(&e, at));
        }
        // In the members before the array: the same place in the input.
        return Err(e.to_string());
    }
    if s.skip_ws()?.is_none() {
        return Ok(index);
    }
    // Newline-delimited features after the collection: the streaming path.
    let at = s.pos();
    let offset = s.offset;
    stream(s.r, max_feature_bytes, Some((offset, at)), index, sink)
}

/// The streaming path: serde_json reads the document through a reader that
/// tracks positions and the size bound. `resume` continues after a
/// FeatureCollection read by [`read_fast`] (at that offset and position,
/// with `index` features read), expecting only newline-delimited features.
fn stream<R: BufRead>(
    reader: R,
    max_feature_bytes: usize,
    resume: Option<(u64, TextPos)>,
    mut index: usize,
    sink: &mut dyn FnMut(RawFeature) -> Result<(), String>,
) -> Result<usize, String> {
    let read = Rc::new(Cell::new(0u64));
    let mark = Rc::new(Cell::new(0u64));
    let limited = BufReader::with_capacity(
        LIMIT_BUFFER,
        Limited {
            inner: reader,
            read: read.clone(),
            mark: mark.clone(),
            limit: max_feature_bytes as u64 + LIMIT_BUFFER as u64,
            max_feature_bytes,
        },
    );
    let mut sink = |f: RawFeature| {
        mark.set(read.get());
        sink(f)
    };
    let sink: &mut dyn FnMut(RawFeature) -> Result<(), String> = &mut sink;
    let place = Rc::new(Place::default());
    if let Some((offset, at)) = resume {
        place.offset.set(offset);
        place.line.set(at.line);
        place.column.set(at.column - 1);
    }
    let mut de = serde_json::Deserializer::from_reader(Positioned {
        inner: limited,
        place: place.clone(),
    });
    if resume.is_none() {
        let first = TopLevel {
            sink: &mut *sink,
            index: &mut index,
            place: &place,
        };
        match first.deserialize(&mut de) {
            Ok(()) => {}
            Err(e) if e.is_eof() && index == 0 => {
                return Err("empty input: no GeoJSON object found".into())
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    // Newline-delimited GeoJSON: more Features follow the first.
    let mut values = de.into_iter::<Box<RawValue>>();
    loop {
        place.arm();
        let Some(value) = values.next() else { break };
        let raw = value.map_err(|e| e.to_string())?;
        let text = raw.get();
        if !text.trim_start().starts_with('{') {
            return Err(format!(
                "feature #{index}: expected a GeoJSON Feature object after the first object"
            ));
        }
        sink(RawFeature {
            index,
            text: text.to_owned(),
            start: place.start_of(text),
            origin: None,
        })?;
        index += 1;
    }
    Ok(index)
}

/// Where the reader is in the input, as serde_json consumes it byte by byte:
/// line and column (bytes, as serde_json counts them) and the position of the
/// first `{` read since [`Place::arm`], which is where the next feature
/// begins (only whitespace and `,` may come before it).
#[derive(Default)]
struct Place {
    offset: Cell<u64>,
    line: Cell<usize>,
    /// Bytes on the current line so far.
    column: Cell<usize>,
    /// The last byte read, and where it was.
    last: Cell<Option<(u8, u64, TextPos)>>,
    armed: Cell<bool>,
    start: Cell<Option<(u64, TextPos)>>,
}

impl Place {
    /// Watch for the next feature's opening brace. serde_json may already
    /// have read it (a one-byte peek after the previous value).
    fn arm(&self) {
        self.start.set(None);
        match self.last.get() {
            Some((b'{', offset, at)) => {
                self.start.set(Some((offset, at)));
                self.armed.set(false);
            }
            _ => self.armed.set(true),
        }
    }

    /// Where `text`, just read, began: checked against the bytes read since,
    /// so a position that does not fit is dropped, never wrong.
    fn start_of(&self, text: &str) -> Option<TextPos> {
        let (offset, at) = self.start.take()?;
        self.armed.set(false);
        let end = offset + text.len() as u64;
        // The text ends at the last byte read, or one before it (a peek).
        (end == self.offset.get() || end + 1 == self.offset.get()).then_some(at)
    }

    fn saw(&self, bytes: &[u8]) {
        let (mut line, mut column, mut offset) =
            (self.line.get().max(1), self.column.get(), self.offset.get());
        let mut last = self.last.get();
        for &b in bytes {
            let at = TextPos {
                line,
                column: column + 1,
            };
            if b == b'{' && self.armed.get() {
                self.start.set(Some((offset, at)));
                self.armed.set(false);
            }
            if b == b'\n' {
                line += 1;
                column = 0;
            } else {
                column += 1;
            }
            last = Some((b, offset, at));
            offset += 1;
        }
        self.line.set(line);
        self.column.set(column);
        self.offset.set(offset);
        self.last.set(last);
    }
}

/// Counts what serde_json reads (one byte at a time, through its own peek)
/// into a [`Place`].
struct Positioned<R> {
    inner: R,
    place: Rc<Place>,
}

impl<R: Read> Read for Positioned<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.place.saw(&buf[..n]);
        Ok(n)
    }
}

/// Read-ahead of the size limit: a feature is refused once more than its
/// limit plus this many bytes were read since the previous one ended.
pub(super) const LIMIT_BUFFER: usize = 64 * 1024;

/// Counts the bytes read since the last feature ended (`mark`) and fails the
/// read once they exceed the limit, so a huge feature is never buffered whole.
struct Limited<R> {
    inner: R,
    read: Rc<Cell<u64>>,
    mark: Rc<Cell<u64>>,
    limit: u64,
    max_feature_bytes: usize,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.read.get() - self.mark.get() > self.limit {
            return Err(std::io::Error::other(format!(
                "a feature (or member) of more than {} bytes, the maximum (see --max-feature-bytes)",
                self.max_feature_bytes
            )));
        }
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// What a document that is not JSON looks like, from its first bytes: so
/// that a CSV, GPX, KML, Shapefile, GeoPackage or zip file is named as such.
fn sniff(head: &[u8]) -> Option<String> {
    let convert = "convert it to GeoJSON first, e.g. `ogr2ogr -f GeoJSON out.geojson IN`";
    let binary = |what: &str| Some(format!("looks like {what}, not GeoJSON; {convert}"));
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return binary("a zip archive (zipped Shapefile, KMZ or spreadsheet)");
    }
    if head.starts_with(b"SQLite format 3\0") {
        return binary("a SQLite database (a GeoPackage?)");
    }
    if head.starts_with(&[0x00, 0x00, 0x27, 0x0a]) {
        return binary("an ESRI Shapefile (.shp)");
    }
    let text = String::from_utf8_lossy(&head[..head.len().min(4096)]);
    let start = text.trim_start();
    match start.chars().next() {
        None | Some('{') | Some('[') => None,
        Some('<') => {
            let lower = start.to_ascii_lowercase();
            let what = if lower.contains("<gpx") {
                "GPX"
            } else if lower.contains("<kml") {
                "KML"
            } else {
                "XML"
            };
            binary(what)
        }
        Some(_) => {
            let first = start.lines().next().unwrap_or_default();
            if first.contains([',', ';', '\t']) {
                Some(format!(
                    "looks like CSV, not GeoJSON; {convert} (with -oo X_POSSIBLE_NAMES=lon* -oo Y_POSSIBLE_NAMES=lat*)"
                ))
            } else {
                Some("is not JSON (GeoJSON starts with `{`)".to_string())
            }
        }
    }
}

struct TopLevel<'a> {
    sink: &'a mut dyn FnMut(RawFeature) -> Result<(), String>,
    index: &'a mut usize,
    place: &'a Place,
}

impl<'de> DeserializeSeed<'de> for TopLevel<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a GeoJSON FeatureCollection or Feature object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut ty: Option<String> = None;
        let mut members: Vec<(String, Box<RawValue>)> = Vec::new();
        let mut saw_features = false;
        let mut seen: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            // A repeated member (two `features`, two `type`s) is ambiguous.
            if seen.contains(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate key {key:?} in the top-level object"
                )));
            }
            seen.push(key.clone());
            match key.as_str() {
                // A `features` member of a single Feature is a foreign member, not a list to read.
                "features" if ty.as_deref() == Some("Feature") => {
                    members.push((key, map.next_value::<Box<RawValue>>()?));
                }
                "features" => {
                    map.next_value_seed(Features {
                        sink: &mut *self.sink,
                        index: &mut *self.index,
                        place: self.place,
                    })?;
                    saw_features = true;
                }
                "type" => ty = Some(map.next_value::<String>()?),
                "crs" => {
                    let crs: serde_json::Value = map.next_value()?;
                    check_crs(&crs).map_err(de::Error::custom)?;
                }
                _ => members.push((key, map.next_value::<Box<RawValue>>()?)),
            }
        }
        match ty.as_deref() {
            Some("FeatureCollection") if saw_features => Ok(()),
            Some("FeatureCollection") => Err(de::Error::custom(
                "FeatureCollection has no \"features\" array",
            )),
            Some("Feature") => {
                // A single Feature: put it back together from its members.
                let mut text = String::from("{\"type\":\"Feature\"");
                for (k, v) in &members {
                    text.push(',');
                    text.push_str(&serde_json::Value::String(k.clone()).to_string());
                    text.push(':');
                    text.push_str(v.get());
                }
                text.push('}');
                // Reassembled, not verbatim: positions count in this text.
                (self.sink)(RawFeature {
                    index: *self.index,
                    text,
                    start: None,
                    origin: None,
                })
                .map_err(de::Error::custom)?;
                *self.index += 1;
                Ok(())
            }
            Some(other) => Err(de::Error::custom(format!(
                "expected a FeatureCollection or a Feature, found a {other:?} object"
            ))),
            None => Err(de::Error::custom("top-level object has no \"type\"")),
        }
    }
}

struct Features<'a> {
    sink: &'a mut dyn FnMut(RawFeature) -> Result<(), String>,
    index: &'a mut usize,
    place: &'a Place,
}

impl<'de> DeserializeSeed<'de> for Features<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Features<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of GeoJSON Features")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            self.place.arm();
            let Some(raw) = seq.next_element::<Box<RawValue>>()? else {
                break;
            };
            let text = raw.get();
            (self.sink)(RawFeature {
                index: *self.index,
                text: text.to_owned(),
                start: self.place.start_of(text),
                origin: None,
            })
            .map_err(de::Error::custom)?;
            *self.index += 1;
        }
        Ok(())
    }
}

fn check_crs(crs: &serde_json::Value) -> Result<(), String> {
    let name = crs
        .get("properties")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str());
    match name {
        None => Ok(()),
        Some(n) if WGS84_NAMES.iter().any(|w| w.eq_ignore_ascii_case(n)) => Ok(()),
        Some(n) => Err(format!(
            "unsupported CRS {n:?}: jointmap reads WGS 84 longitude/latitude (RFC 7946) and does not guess; {}",
            if cfg!(feature = "gdal") {
                "read it with --format gdal, which reprojects through GDAL"
            } else {
                super::formats::NO_GDAL
            }
        )),
    }
}

/// Wraps a reader and counts the bytes read through it.
pub struct CountingReader<R> {
    inner: R,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R> CountingReader<R> {
    /// Counts into `count`.
    pub fn new(inner: R, count: std::sync::Arc<std::sync::atomic::AtomicU64>) -> Self {
        CountingReader { inner, count }
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> Result<Vec<RawFeature>, String> {
        let mut out = Vec::new();
        read_features(s.as_bytes(), &mut |f| {
            out.push(f);
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn three_forms() {
        let fc = r#"{"features":[{"type":"Feature","id":1},{"type":"Feature","id":2}],"type":"FeatureCollection","name":"x"}"#;
        let v = read(fc).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].text, r#"{"type":"Feature","id":2}"#);
        assert_eq!(v[1].index, 1);
        let one = read(r#"{"type":"Feature","id":"a","properties":{"x":1}}"#).unwrap();
        assert_eq!(one.len(), 1);
        let parsed: serde_json::Value = serde_json::from_str(&one[0].text).unwrap();
        assert_eq!(parsed["properties"]["x"], 1);
        let nd = "{\"type\":\"Feature\",\"id\":1}\n{\"type\":\"Feature\",\"id\":2}\n\n{\"type\":\"Feature\",\"id\":3}\n";
        assert_eq!(read(nd).unwrap().len(), 3);
        assert_eq!(
            read("\u{feff}{\"type\":\"Feature\",\"id\":1}")
                .unwrap()
                .len(),
            1
        );
    }

    /// Each verbatim feature carries where it began in the input, found
    /// independently here by searching the text; a reassembled single
    /// Feature (or NDJSON's first line) carries none.
    #[test]
    fn features_know_where_they_begin() {
        let at = |doc: &str, offset: usize| {
            let before = &doc[..offset];
            let line = before.matches('\n').count() + 1;
            let column = offset - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            Some(TextPos { line, column })
        };
        let docs = [
            "{\"type\":\"FeatureCollection\",\"crs\":{\"type\":\"name\"},\"features\":[{\"id\":1},  {\"id\":2,\"p\":{\"a\":[{}]}},{\"id\":3}]}",
            "{\"type\": \"FeatureCollection\",\r\n \"features\": [\r\n  {\"id\": 1},\r\n\r\n  {\"id\":\r\n 2} ,\n\t{\"id\": 3}\n]}",
            "{\"type\":\"Feature\",\"id\":0}\n{\"id\":1}\n\n   {\"id\":2,\"g\":{}}{\"id\":3}{\"id\":4} \r\n{\"id\":5}",
        ];
        for doc in docs {
            let v = read(doc).unwrap();
            for f in &v {
                let id = serde_json::from_str::<serde_json::Value>(&f.text).unwrap()["id"].clone();
                if doc.starts_with("{\"type\":\"Feature\"") && id == 0 {
                    assert_eq!(f.start, None);
                    continue;
                }
                let needle = format!("{{\"id\":{}", id).replace(':', "");
                // Find the feature's own text: its `{"id":` then the id.
                let offset = doc.match_indices("{\"id\":").map(|(i, _)| i).find(|&i| {
                    doc[i..]
                        .replace([' ', '\r', '\n'], "")
                        .replace(':', "")
                        .starts_with(&needle)
                });
                assert_eq!(f.start, at(doc, offset.unwrap()), "{doc}: {}", f.text);
            }
        }
    }

    #[test]
    fn structural_errors() {
        assert!(read("").unwrap_err().contains("empty input"));
        assert!(read(r#"{"type":"FeatureCollection","features":[{"type":"Feature"},"#).is_err());
        assert!(read(r#"{"type":"Topology"}"#)
            .unwrap_err()
            .contains("Topology"));
        let crs = r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:32633"}},"features":[]}"#;
        let e = read(crs).unwrap_err();
        assert!(e.contains("unsupported CRS \"EPSG:32633\""), "{e}");
        let how = if cfg!(feature = "gdal") {
            "--format gdal"
        } else {
            "lacks GDAL support"
        };
        assert!(e.contains(how), "{e}");
        let ok = r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:OGC:1.3:CRS84"}},"features":[]}"#;
        assert_eq!(read(ok).unwrap().len(), 0);
    }

    /// `doc` with `edits` random byte replacements, removals or truncations.
    fn corrupt(doc: &[u8], edits: u64, next: &mut dyn FnMut() -> u64) -> Vec<u8> {
        let alphabet = b"{}[],:\"0123456789.-eE tfnulNaINFabc\\\n";
        let mut b = doc.to_vec();
        for _ in 0..edits {
            if b.is_empty() {
                break;
            }
            let at = (next() % b.len() as u64) as usize;
            match next() % 3 {
                0 => b[at] = alphabet[(next() % alphabet.len() as u64) as usize],
                1 => {
                    b.remove(at);
                }
                _ => b.truncate(at),
            }
        }
        b
    }

    /// The byte-scanning path for FeatureCollections and the streaming path
    /// agree on random corruptions of collections (pretty, minified, with
    /// members after the array and features after the collection): the
    /// same features with the same positions before the same verdict.
    #[test]
    fn fast_path_agrees_with_the_streaming_path() {
        type Out = (Vec<(usize, String, Option<TextPos>)>, bool);
        type Sink<'a> = &'a mut dyn FnMut(RawFeature) -> Result<(), String>;
        fn collect(run: &mut dyn FnMut(Sink<'_>) -> Result<usize, String>) -> Out {
            let mut v = Vec::new();
            let ok = run(&mut |f| {
                v.push((f.index, f.text, f.start));
                Ok(())
            })
            .is_ok();
            (v, ok)
        }
        let docs = [
            "{\"type\": \"FeatureCollection\", \"name\": \"x\",\r\n \"crs\": {\"type\": \"name\", \"properties\": {\"name\": \"EPSG:4326\"}},\n \"features\": [\n  {\"type\": \"Feature\", \"id\": \"a\\\"]}\", \"properties\": {\"n\": [1, 2.5e3, {\"k\": null}]}},\n  {\"type\": \"Feature\", \"id\": 2, \"geometry\": null}\n ],\n \"bbox\": [0, 1]\n}\n{\"type\": \"Feature\", \"id\": 3}\n",
            "{\"type\":\"FeatureCollection\",\"features\":[{\"id\":1},{\"id\":\"\\u00e9{[\"},{\"id\":3,\"p\":{\"a\":[{}]}}],\"type2\":true}",
        ];
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut fast_taken = 0;
        for doc in docs {
            for round in 0..3000 {
                let b = corrupt(doc.as_bytes(), round % 4, &mut next);
                let fast = collect(&mut |sink| read_features(&b[..], sink));
                let slow = collect(&mut |sink| match sniff(&b) {
                    Some(e) => Err(e),
                    None => stream(
                        &b[..],
                        crate::model::bounds::MAX_FEATURE_BYTES,
                        None,
                        0,
                        sink,
                    ),
                });
                // Before a syntax error (which stores nothing), the two may
                // cut a malformed non-object element differently: the
                // objects must agree.
                let objects = |o: &Out| -> Out {
                    let keep = |f: &&(usize, String, Option<TextPos>)| o.1 || f.1.starts_with('{');
                    (o.0.iter().filter(keep).cloned().collect(), o.1)
                };
                assert_eq!(
                    objects(&fast),
                    objects(&slow),
                    "{}",
                    String::from_utf8_lossy(&b)
                );
                fast_taken += usize::from(super::super::split::find_features(&b).is_some());
            }
        }
        assert!(fast_taken > 1000, "{fast_taken}");
    }

    /// Reading with the syntax check left to the caller, then checking each
    /// feature whose start is known in order (as the ingest's workers do),
    /// gives the same features before the same error, message included.
    #[test]
    fn deferred_syntax_checks_agree() {
        type Out = (Vec<(usize, String, Option<TextPos>)>, Result<usize, String>);
        let docs = [
            "{\"type\": \"FeatureCollection\",\r\n \"features\": [\n  {\"type\": \"Feature\", \"id\": \"a\\\"]}\", \"p\": {\"n\": [1, 2.5e3, {\"k\": null}]}},\n  [1, {\"x\": 2}], \"s\", 3,\n  {\"type\": \"Feature\", \"id\": 2, \"geometry\": null}\n ],\n \"bbox\": [0, 1]\n}\n{\"type\": \"Feature\", \"id\": 3}\n",
            "{\"type\":\"FeatureCollection\",\"features\":[{\"id\":1},{\"id\":\"\\u00e9{[\"},{\"id\":3,\"p\":{\"a\":[{}]}}]}",
        ];
        let mut state = 0x5DEE_CE66_D1CE_4E5Bu64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for doc in docs {
            for round in 0..3000 {
                let b = corrupt(doc.as_bytes(), round % 4, &mut next);
                let mut v = Vec::new();
                let r = read_features(&b[..], &mut |f| {
                    v.push((f.index, f.text, f.start));
                    Ok(())
                });
                let checked: Out = (v, r);
                let mut v = Vec::new();
                let mut first = None;
                let r = read_features_deferred(&b[..], MAX, &mut |f| {
                    if first.is_none() {
                        if let Some(at) = f.start {
                            first = super::super::split::check_syntax(&f.text, at).err();
                        }
                        if first.is_none() {
                            v.push((f.index, f.text, f.start));
                        }
                    }
                    Ok(())
                });
                let deferred: Out = (v, first.map_or(r, Err));
                assert_eq!(checked, deferred, "{}", String::from_utf8_lossy(&b));
            }
        }
    }

    const MAX: usize = crate::model::bounds::MAX_FEATURE_BYTES;

    /// Random corruptions of a valid document never panic: they are read, or
    /// refused with a message, and so is every feature text that comes out.
    #[test]
    fn corrupted_input_never_panics() {
        use crate::model::{Feature, Layer};
        let doc = r#"{"type":"FeatureCollection","features":[
{"type":"Feature","id":"a","geometry":{"type":"Point","coordinates":[18.5,4.4]},"properties":{"time":"2024-01-01","category":"killing","killed_men":2}},
{"type":"Feature","id":7,"geometry":{"type":"LineString","coordinates":[[1.0,2.0],[3.0,4.0]]},"properties":{"time_start":"2024-01-01T10:00:00Z","time_end":"2024-01-01T12:00:00Z","unit":"u","mode":"foot","vertex_times":["2024-01-01T10:00:00Z","2024-01-01T12:00:00Z"]}},
{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]},"properties":{"time":"2024-01-01","name":"b","base_type":"tob"}}]}"#;
        let bytes = doc.as_bytes();
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..3000 {
            let edits = next() % 4 + 1;
            let b = corrupt(bytes, edits, &mut next);
            let mut texts = Vec::new();
            let _ = read_features(&b[..], &mut |f| {
                texts.push(f.text);
                Ok(())
            });
            for t in texts {
                for layer in Layer::ALL {
                    let _ = Feature::from_geojson_str(layer, &t);
                }
            }
        }
    }
}

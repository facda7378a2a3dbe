//! Streaming GeoJSON reader: a FeatureCollection, a single Feature, or
//! newline-delimited features (one per line), without ever holding the whole
//! document in memory. Each feature is handed on as its verbatim text.

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
    mut reader: R,
    max_feature_bytes: usize,
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
    let mut de = serde_json::Deserializer::from_reader(limited);
    let mut index = 0usize;
    let first = TopLevel {
        sink: &mut *sink,
        index: &mut index,
    };
    match first.deserialize(&mut de) {
        Ok(()) => {}
        Err(e) if e.is_eof() && index == 0 => {
            return Err("empty input: no GeoJSON object found".into())
        }
        Err(e) => return Err(e.to_string()),
    }
    // Newline-delimited GeoJSON: more Features follow the first.
    for value in de.into_iter::<Box<RawValue>>() {
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
        })?;
        index += 1;
    }
    Ok(index)
}

/// Read-ahead of the size limit: a feature is refused once more than its
/// limit plus this many bytes were read since the previous one ended.
const LIMIT_BUFFER: usize = 64 * 1024;

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
                (self.sink)(RawFeature {
                    index: *self.index,
                    text,
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
        while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
            (self.sink)(RawFeature {
                index: *self.index,
                text: raw.get().to_owned(),
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
            "unsupported CRS {n:?}: jointmap reads WGS 84 longitude/latitude (RFC 7946); reproject first, e.g. ogr2ogr -t_srs EPSG:4326"
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

    #[test]
    fn structural_errors() {
        assert!(read("").unwrap_err().contains("empty input"));
        assert!(read(r#"{"type":"FeatureCollection","features":[{"type":"Feature"},"#).is_err());
        assert!(read(r#"{"type":"Topology"}"#)
            .unwrap_err()
            .contains("Topology"));
        let crs = r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:32633"}},"features":[]}"#;
        assert!(read(crs).unwrap_err().contains("unsupported CRS"));
        let ok = r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:OGC:1.3:CRS84"}},"features":[]}"#;
        assert_eq!(read(ok).unwrap().len(), 0);
    }

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
        let alphabet = b"{}[],:\"0123456789.-eE tfnulNaINFabc\\\n";
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..3000 {
            let mut b = bytes.to_vec();
            for _ in 0..(next() % 4 + 1) {
                let at = (next() % b.len() as u64) as usize;
                match next() % 3 {
                    0 => b[at] = alphabet[(next() % alphabet.len() as u64) as usize],
                    1 => {
                        b.remove(at);
                    }
                    _ => b.truncate(at),
                }
                if b.is_empty() {
                    break;
                }
            }
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

//! GPX input (GPX 1.0 and 1.1, as GPS units and phone apps write it), read as
//! a stream of XML events.
//!
//! Into `patrols`, every track (`<trk>`) is one patrol: its segments
//! (`<trkseg>`) are the lines of its geometry (a LineString, or a
//! MultiLineString for several), each point's `<ele>` its altitude, and the
//! points' `<time>`s its `vertex_times`, with `time_start` and `time_end`
//! the first and last of them; so the times a GPS unit recorded drive
//! coverage recency. The track's `<name>`, `<desc>`, `<cmt>`, `<src>`,
//! `<number>` and `<type>` become properties of those names, for a mapping
//! (`--mapping`) to rename: a patrol's `unit` and `mode` are not in GPX.
//! Waypoints and routes are not patrols and are not read into `patrols`.
//!
//! Into `sightings` or `sites`, every waypoint (`<wpt>`) is one point
//! feature (`<time>` as `time_start`, the same text elements as
//! properties), but only through a mapping or preset: what a waypoint means
//! is the user's to say.
//!
//! A fault of the file (XML syntax, a point without a numeric `lat`/`lon`,
//! a `<time>` that is no time) refuses the file, naming the element and its
//! line; what is wrong with a whole track (too few points, times out of
//! order) is refused by validation like any feature's.

use super::IngestOptions;
use crate::model::{Layer, RawFeature};
use quick_xml::events::{BytesStart, Event};
use serde_json::{json, Map, Value};
use std::io::BufRead;

/// Text elements of a track or waypoint kept as properties of these names.
const TEXT_ELEMENTS: &[&str] = &["name", "desc", "cmt", "src", "number", "type", "sym"];

/// What the GPX file gives to a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Records {
    Tracks,
    Waypoints,
}

/// A point of a track or a waypoint.
struct Point {
    /// Longitude, latitude, altitude.
    position: Vec<f64>,
    time: Option<String>,
}

/// Counts the lines of what the XML reader has consumed, for messages.
struct Lines<R> {
    inner: R,
    line: usize,
}

/// An XML reader over `reader` that counts lines, trimming text.
fn xml_reader<R: BufRead>(reader: R) -> quick_xml::Reader<Lines<R>> {
    let mut xml = quick_xml::Reader::from_reader(Lines {
        inner: reader,
        line: 0,
    });
    xml.config_mut().trim_text(true);
    xml
}

impl<R: BufRead> std::io::Read for Lines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.line += buf[..n].iter().filter(|b| **b == b'\n').count();
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Lines<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        if let Ok(buf) = self.inner.fill_buf() {
            let n = amt.min(buf.len());
            self.line += buf[..n].iter().filter(|b| **b == b'\n').count();
        }
        self.inner.consume(amt);
    }
}

/// Reads the tracks (into `patrols`) or waypoints (into `sightings` or
/// `sites`, with a mapping) of a GPX file and hands each to `sink` as a
/// GeoJSON Feature text.
pub fn read_features<R: BufRead>(
    reader: R,
    opts: &IngestOptions,
    max_feature_bytes: usize,
    sink: &mut dyn FnMut(RawFeature) -> Result<(), String>,
) -> Result<usize, String> {
    let records = match opts.layer {
        Layer::Patrols => Records::Tracks,
        Layer::Sightings | Layer::Sites if opts.preset.is_some() => Records::Waypoints,
        Layer::Sightings | Layer::Sites => {
            return Err(format!(
                "GPX waypoints become {} only through a mapping (--mapping) that says what they are (e.g. [set] site_type, [rename] name)",
                opts.layer
            ))
        }
        other => {
            return Err(format!(
                "GPX holds tracks (ingest them into patrols) and waypoints (into sightings or sites, with --mapping); not {other}"
            ))
        }
    };
    let mut xml = xml_reader(reader);
    let mut buf = Vec::new();
    // Element names from the root down (local names, without prefixes).
    let mut path: Vec<String> = Vec::new();
    let mut record: Option<Record> = None;
    let mut index = 0usize;
    let mut saw_gpx = false;
    loop {
        let line = xml.get_ref().line + 1;
        let event = xml
            .read_event_into(&mut buf)
            .map_err(|e| format!("line {line}: not well-formed XML: {e}"))?;
        let line = xml.get_ref().line + 1;
        match event {
            Event::Start(e) if path.is_empty() => {
                root(&e, line)?;
                saw_gpx = true;
                path.push("gpx".into());
            }
            Event::Empty(e) if path.is_empty() => {
                root(&e, line)?;
                saw_gpx = true;
            }
            Event::Start(e) => {
                let name = local(&e);
                start(&name, &e, &path, records, &mut record, line)?;
                bounded(&record, max_feature_bytes, line)?;
                path.push(name);
            }
            Event::Empty(e) => {
                let name = local(&e);
                start(&name, &e, &path, records, &mut record, line)?;
                bounded(&record, max_feature_bytes, line)?;
                path.push(name);
                end(&path, &mut record, line, &mut |r: Record| {
                    emit(r, &mut index, max_feature_bytes, sink)
                })?;
                path.pop();
            }
            Event::Text(t) => {
                let text = t
                    .unescape()
                    .map_err(|e| format!("line {line}: {e}"))?
                    .into_owned();
                text_in(&path, &text, &mut record, line)?;
            }
            Event::CData(t) => {
                let text = String::from_utf8_lossy(&t.into_inner()).into_owned();
                text_in(&path, &text, &mut record, line)?;
            }
            Event::End(_) => {
                end(&path, &mut record, line, &mut |r: Record| {
                    emit(r, &mut index, max_feature_bytes, sink)
                })?;
                path.pop();
            }
            Event::Eof => {
                if let Some(open) = path.last() {
                    return Err(format!(
                        "line {line}: the file ends inside <{open}> (truncated?)"
                    ));
                }
                break;
            }
            _ => {}
        }
        buf.clear();
    }
    if !saw_gpx {
        return Err("no <gpx> element: not a GPX file".into());
    }
    Ok(index)
}

/// Checks every `<time>` of a GPX file (any element's), naming the first
/// that is no time by line and parent element. For GDAL's GPX reader, which
/// reads such a time as midnight of its date without a word.
pub fn check_times<R: BufRead>(reader: R) -> Result<(), String> {
    let mut xml = xml_reader(reader);
    let mut buf = Vec::new();
    let mut path: Vec<String> = Vec::new();
    loop {
        let line = xml.get_ref().line + 1;
        let event = xml
            .read_event_into(&mut buf)
            .map_err(|e| format!("line {line}: not well-formed XML: {e}"))?;
        let line = xml.get_ref().line + 1;
        match event {
            Event::Start(e) => path.push(local(&e)),
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) if path.last().is_some_and(|e| e == "time") => {
                let text = t.unescape().map_err(|e| format!("line {line}: {e}"))?;
                let parent = path
                    .len()
                    .checked_sub(2)
                    .and_then(|i| path.get(i))
                    .map_or("gpx", String::as_str);
                crate::model::time::parse_time(&text)
                    .map_err(|e| format!("line {line}: <time> of <{parent}>: {e}"))?;
            }
            Event::Eof => return Ok(()),
            _ => {}
        }
        buf.clear();
    }
}

/// Refuses a track whose points could not fit in a feature of
/// `max_feature_bytes` (each takes at least `[x,y],`, six bytes), while it
/// is read: memory stays bounded whatever the file holds.
fn bounded(record: &Option<Record>, max_feature_bytes: usize, line: usize) -> Result<(), String> {
    let points: usize = record
        .as_ref()
        .map_or(0, |r| r.segments.iter().map(Vec::len).sum());
    if points.saturating_mul(6) > max_feature_bytes {
        let began = record.as_ref().map_or(line, |r| r.line);
        return Err(format!(
            "line {line}: the track that begins on line {began} has more points than a feature of at most {max_feature_bytes} bytes holds (see --max-feature-bytes)"
        ));
    }
    Ok(())
}

fn root(e: &BytesStart<'_>, line: usize) -> Result<(), String> {
    match local(e).as_str() {
        "gpx" => Ok(()),
        other => Err(format!(
            "line {line}: the root element is <{other}>, not <gpx>"
        )),
    }
}

fn local(e: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(e.local_name().as_ref()).into_owned()
}

/// A track or waypoint being read.
struct Record {
    /// Where it began, for messages and the feature's start.
    line: usize,
    /// The segments of a track; one segment of one point for a waypoint.
    segments: Vec<Vec<Point>>,
    properties: Map<String, Value>,
    waypoint: bool,
}

fn start(
    name: &str,
    e: &BytesStart<'_>,
    path: &[String],
    records: Records,
    record: &mut Option<Record>,
    line: usize,
) -> Result<(), String> {
    let parent = path.last().map(String::as_str);
    match (parent, name) {
        (Some("gpx"), "trk") if records == Records::Tracks => {
            *record = Some(Record {
                line,
                segments: Vec::new(),
                properties: Map::new(),
                waypoint: false,
            });
        }
        (Some("gpx"), "wpt") if records == Records::Waypoints => {
            *record = Some(Record {
                line,
                segments: vec![vec![point(e, name, line)?]],
                properties: Map::new(),
                waypoint: true,
            });
        }
        (Some("trk"), "trkseg") => {
            if let Some(r) = record.as_mut() {
                r.segments.push(Vec::new());
            }
        }
        (Some("trkseg"), "trkpt") => {
            if let Some(seg) = record.as_mut().and_then(|r| r.segments.last_mut()) {
                seg.push(point(e, name, line)?);
            }
        }
        _ => {}
    }
    Ok(())
}

/// A point from its `lat` and `lon` attributes.
fn point(e: &BytesStart<'_>, name: &str, line: usize) -> Result<Point, String> {
    let mut lat = None;
    let mut lon = None;
    for a in e.attributes() {
        let a = a.map_err(|err| format!("line {line}: <{name}>: {err}"))?;
        let value = a
            .unescape_value()
            .map_err(|err| format!("line {line}: <{name}>: {err}"))?;
        match a.key.local_name().as_ref() {
            b"lat" => lat = Some(value.into_owned()),
            b"lon" => lon = Some(value.into_owned()),
            _ => {}
        }
    }
    let coordinate = |v: Option<String>, attr: &str| -> Result<f64, String> {
        let v = v.ok_or_else(|| format!("line {line}: <{name}> has no {attr} attribute"))?;
        v.trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("line {line}: <{name} {attr}={v:?}>: not a number"))
    };
    Ok(Point {
        position: vec![coordinate(lon, "lon")?, coordinate(lat, "lat")?],
        time: None,
    })
}

fn text_in(
    path: &[String],
    text: &str,
    record: &mut Option<Record>,
    line: usize,
) -> Result<(), String> {
    let Some(r) = record.as_mut() else {
        return Ok(());
    };
    let n = path.len();
    let (Some(element), Some(parent)) = (path.last(), n.checked_sub(2).and_then(|i| path.get(i)))
    else {
        return Ok(());
    };
    let owner_is_point = matches!(parent.as_str(), "trkpt") || (r.waypoint && parent == "wpt");
    if owner_is_point {
        let Some(p) = r.segments.last_mut().and_then(|s| s.last_mut()) else {
            return Ok(());
        };
        match element.as_str() {
            "ele" => {
                let z = text
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|z| z.is_finite())
                    .ok_or_else(|| format!("line {line}: <ele>{text}</ele>: not a number"))?;
                p.position.truncate(2);
                p.position.push(z);
            }
            "time" => {
                crate::model::time::parse_time(text)
                    .map_err(|e| format!("line {line}: <time> of <{parent}>: {e}"))?;
                p.time = Some(text.trim().to_string());
            }
            _ => {}
        }
    }
    let owner_is_record = matches!(parent.as_str(), "trk") || (r.waypoint && parent == "wpt");
    if owner_is_record && TEXT_ELEMENTS.contains(&element.as_str()) {
        r.properties
            .insert(element.clone(), Value::String(text.to_string()));
    }
    Ok(())
}

fn end(
    path: &[String],
    record: &mut Option<Record>,
    _line: usize,
    emit: &mut dyn FnMut(Record) -> Result<(), String>,
) -> Result<(), String> {
    let closing = path.last().map(String::as_str);
    let parent = path.len().checked_sub(2).and_then(|i| path.get(i));
    let done = match (parent.map(String::as_str), closing) {
        (Some("gpx"), Some("trk")) => record.as_ref().is_some_and(|r| !r.waypoint),
        (Some("gpx"), Some("wpt")) => record.as_ref().is_some_and(|r| r.waypoint),
        _ => false,
    };
    if done {
        if let Some(r) = record.take() {
            emit(r)?;
        }
    }
    Ok(())
}

/// The feature of a finished track or waypoint.
fn emit(
    r: Record,
    index: &mut usize,
    max_feature_bytes: usize,
    sink: &mut dyn FnMut(RawFeature) -> Result<(), String>,
) -> Result<(), String> {
    let mut properties = r.properties;
    let segments: Vec<Vec<Point>> = r.segments.into_iter().filter(|s| !s.is_empty()).collect();
    let times: Vec<Option<&String>> = segments.iter().flatten().map(|p| p.time.as_ref()).collect();
    let line_of = |s: &Vec<Point>| s.iter().map(|p| json!(p.position)).collect::<Vec<_>>();
    let geometry = if r.waypoint {
        segments.first().and_then(|s| s.first()).map_or(
            Value::Null,
            |p| json!({"type": "Point", "coordinates": p.position}),
        )
    } else {
        match segments.as_slice() {
            [] => Value::Null,
            [one] => json!({"type": "LineString", "coordinates": line_of(one)}),
            many => json!({"type": "MultiLineString",
                "coordinates": many.iter().map(line_of).collect::<Vec<_>>()}),
        }
    };
    let known: Vec<&String> = times.iter().flatten().copied().collect();
    if let (Some(first), Some(last)) = (known.first(), known.last()) {
        properties.insert("time_start".into(), Value::String((*first).clone()));
        if !r.waypoint {
            properties.insert("time_end".into(), Value::String((*last).clone()));
            // A point without a time is a null here, which validation refuses
            // naming the item: one time per vertex or none.
            properties.insert(
                "vertex_times".into(),
                Value::Array(
                    times
                        .iter()
                        .map(|t| t.map_or(Value::Null, |t| Value::String(t.clone())))
                        .collect(),
                ),
            );
        }
    }
    let text =
        json!({"type": "Feature", "geometry": geometry, "properties": properties}).to_string();
    if text.len() > max_feature_bytes {
        return Err(format!(
            "line {}: the {} is {} bytes as a feature, more than the maximum {max_feature_bytes} (see --max-feature-bytes)",
            r.line,
            if r.waypoint { "waypoint" } else { "track" },
            text.len()
        ));
    }
    let start = Some(crate::model::json::TextPos {
        line: r.line,
        column: 1,
    });
    sink(RawFeature {
        index: *index,
        text,
        start,
        origin: None,
    })?;
    *index += 1;
    Ok(())
}

#[cfg(test)]
mod tests;

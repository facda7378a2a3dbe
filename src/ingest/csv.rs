//! CSV input: one feature per row of a file with a header row.
//!
//! The geometry is a point from a longitude and a latitude column (named
//! `longitude`/`latitude`, `lon`/`lat`, `lng`/`lat`, `long`/`lat` or `x`/`y`,
//! any case) or, when there are none, any geometry from a WKT column (`wkt`,
//! `geom_wkt`, `wkt_geom`, `the_geom` or `geometry`). The coordinates are WGS
//! 84 longitude and latitude (a CSV names no CRS). Every other column becomes
//! a property; an empty cell is absent (the field's default applies).
//!
//! A cell's JSON type is decided by the column, never guessed from the cell:
//! a column that is (or a mapping renames to) an integer or number field of
//! the layer, or an integer column of a preset's layout, holds numbers; a
//! `vertex_times` column a JSON list (as `jointmap export --format csv`
//! writes it); any other column text. A cell that does not parse in its column's type is
//! kept as the text it was, so validation refuses it naming the field and the
//! value (`latitude "NA" is not a finite number`, `expected an integer, found
//! "3 killed"`); a decimal comma is such a value. Nothing is dropped quietly.
//!
//! Structural faults refuse the file, naming the row and line: a row with
//! more or fewer cells than the header, invalid UTF-8, a header with a
//! repeated or empty name. A byte-order mark, CRLF line ends and quoted
//! cells over several lines are read as they are meant.

use super::{IngestOptions, Preset};
use crate::model::json::TextPos;
use crate::model::schema::{self, FieldKind};
use crate::model::RawFeature;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::BufRead;
use std::rc::Rc;

/// Header names of a longitude column (lower case), with their latitude.
const LON_LAT: &[(&str, &str)] = &[
    ("longitude", "latitude"),
    ("lon", "lat"),
    ("lng", "lat"),
    ("long", "lat"),
    ("x", "y"),
];

/// Header names of a WKT geometry column (lower case).
const WKT: &[&str] = &["wkt", "geom_wkt", "wkt_geom", "the_geom", "geometry"];

/// How a column's cells become JSON values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Integers (a cell that is no integer is kept as text for validation).
    Int,
    /// Finite numbers.
    Real,
    /// Text.
    Text,
    /// A JSON list (a patrol's `vertex_times`, as export writes it).
    Json,
}

/// What the reader needs to know of the target: the type of a column by its
/// header name, and whether empty cells are kept as empty strings.
pub struct Columns {
    kind: Box<dyn Fn(&str) -> Kind + Send + Sync>,
    keep_empty: bool,
    /// Geometry columns taken as they are by a preset even when both a
    /// point and a WKT column exist (GED repeats its point as WKT).
    drop_columns: &'static [&'static str],
}

impl Columns {
    /// The column types of ingest with `opts` (its layer and preset).
    pub fn plan(opts: &IngestOptions) -> Columns {
        let layer = opts.layer;
        let field_kind = move |target: &str| {
            let spec = schema::COMMON
                .iter()
                .chain(layer.fields())
                .find(|s| s.name == target);
            match spec.map(|s| s.kind) {
                Some(FieldKind::Count | FieldKind::IntRange(..)) => Kind::Int,
                Some(FieldKind::PositiveReal | FieldKind::Fraction) => Kind::Real,
                Some(FieldKind::TimeList) => Kind::Json,
                _ => Kind::Text,
            }
        };
        let listed = |ints: &'static [&'static str]| {
            Box::new(move |c: &str| {
                if ints.contains(&c) {
                    Kind::Int
                } else {
                    Kind::Text
                }
            }) as Box<dyn Fn(&str) -> Kind + Send + Sync>
        };
        match &opts.preset {
            // GED's GeoJSON form keeps its empty text cells as "".
            Some(Preset::UcdpGed) => Columns {
                kind: listed(super::presets::ucdp_ged::CSV_INTEGERS),
                keep_empty: true,
                drop_columns: &["geom_wkt"],
            },
            Some(Preset::Acled) => Columns {
                kind: listed(super::presets::acled::CSV_INTEGERS),
                keep_empty: false,
                drop_columns: &[],
            },
            Some(Preset::File(m)) => {
                let m = m.clone();
                Columns {
                    kind: Box::new(move |c: &str| {
                        let target = m
                            .rename
                            .iter()
                            .find(|(_, source)| *source == c)
                            .map_or(c, |(t, _)| t.as_str());
                        field_kind(target)
                    }),
                    keep_empty: false,
                    drop_columns: &[],
                }
            }
            None => Columns {
                kind: Box::new(field_kind),
                keep_empty: false,
                drop_columns: &[],
            },
        }
    }
}

impl Columns {
    /// A text cell of the column `name` as the JSON value its column's type
    /// makes of it (a cell that does not parse kept as text), or `None` for
    /// an empty cell that is absent. For other readers whose fields arrive
    /// as text (GDAL's CSV and KML).
    pub fn typed(&self, name: &str, cell: &str) -> Option<Value> {
        if cell.is_empty() && !self.keep_empty {
            return None;
        }
        Some(match (self.kind)(name) {
            Kind::Int => int_cell(cell),
            Kind::Real => real_cell(cell),
            Kind::Text => Value::String(cell.to_string()),
            Kind::Json => serde_json::from_str::<Vec<Value>>(cell)
                .map_or_else(|_| Value::from(cell), Value::Array),
        })
    }
}

/// Where a row's geometry comes from.
enum Geometry {
    Point { lon: usize, lat: usize },
    Wkt(usize),
}

/// Reads every row of a CSV file and hands each to `sink` as a GeoJSON
/// Feature text; returns the number of rows, or a message naming the row and
/// line of the first structural fault.
pub fn read_features<R: BufRead>(
    mut reader: R,
    columns: &Columns,
    max_feature_bytes: usize,
    sink: &mut dyn FnMut(RawFeature) -> Result<(), String>,
) -> Result<usize, String> {
    let head = reader.fill_buf().map_err(|e| e.to_string())?;
    if head.starts_with(b"\xEF\xBB\xBF") {
        reader.consume(3);
    }
    let lines = Lines::default();
    let mut csv = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(lines.reader(reader));
    let header = csv.headers().map_err(|e| fault(&e, &lines))?.clone();
    let names: Vec<String> = header.iter().map(|h| h.trim().to_string()).collect();
    if names.iter().all(String::is_empty) {
        return Err("line 1: no header row (an empty file?)".into());
    }
    for (i, n) in names.iter().enumerate() {
        if n.is_empty() {
            return Err(format!(
                "line 1: column {} has no name in the header",
                i + 1
            ));
        }
        if let Some(j) = names[..i].iter().position(|m| m == n) {
            return Err(format!(
                "line 1: columns {} and {} are both named {n:?}",
                j + 1,
                i + 1
            ));
        }
    }
    let find = |want: &str| names.iter().position(|n| n.eq_ignore_ascii_case(want));
    let point = LON_LAT
        .iter()
        .find_map(|(lon, lat)| Some((find(lon)?, find(lat)?)));
    let geometry = match point {
        Some((lon, lat)) => Geometry::Point { lon, lat },
        None => match WKT.iter().find_map(|w| find(w)) {
            Some(w) => Geometry::Wkt(w),
            None => {
                return Err(format!(
                    "line 1: no geometry columns: expected a longitude and a latitude column ({}) or a WKT column ({}); found {}",
                    LON_LAT.iter().map(|(a, b)| format!("{a}/{b}")).collect::<Vec<_>>().join(", "),
                    WKT.join(", "),
                    names.join(", ")
                ))
            }
        },
    };
    let geometry_columns: Vec<usize> = match geometry {
        Geometry::Point { lon, lat } => vec![lon, lat],
        Geometry::Wkt(w) => vec![w],
    };
    let skip: Vec<bool> = names
        .iter()
        .enumerate()
        .map(|(i, n)| geometry_columns.contains(&i) || columns.drop_columns.contains(&n.as_str()))
        .collect();
    let kinds: Vec<Kind> = names.iter().map(|n| (columns.kind)(n)).collect();
    let mut record = ::csv::StringRecord::new();
    let mut index = 0usize;
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(fault(&e, &lines)),
        }
        let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
        if record.as_slice().len() > max_feature_bytes {
            return Err(format!(
                "row {} (line {line}): {} bytes, more than the maximum feature size {max_feature_bytes} (see --max-feature-bytes)",
                index + 1,
                record.as_slice().len()
            ));
        }
        let mut props = Map::with_capacity(names.len());
        for (i, cell) in record.iter().enumerate() {
            if skip.get(i).copied().unwrap_or(true) {
                continue;
            }
            if cell.is_empty() && !columns.keep_empty {
                continue;
            }
            let value = match kinds.get(i).copied().unwrap_or(Kind::Text) {
                Kind::Int => int_cell(cell),
                Kind::Real => real_cell(cell),
                Kind::Text => Value::String(cell.to_string()),
                Kind::Json => serde_json::from_str::<Vec<Value>>(cell)
                    .map_or_else(|_| Value::from(cell), Value::Array),
            };
            props.insert(names[i].clone(), value);
        }
        let geometry = match geometry {
            Geometry::Point { lon, lat } => {
                let coordinate = |i: usize| real_cell(record.get(i).unwrap_or(""));
                serde_json::json!({"type": "Point", "coordinates": [coordinate(lon), coordinate(lat)]})
            }
            Geometry::Wkt(w) => super::wkt::to_geojson(record.get(w).unwrap_or("")),
        };
        let feature = serde_json::json!({
            "type": "Feature",
            "geometry": geometry,
            "properties": props,
        });
        let start = Some(TextPos { line, column: 1 });
        sink(RawFeature {
            index,
            text: feature.to_string(),
            start,
            origin: None,
        })?;
        index += 1;
    }
    Ok(index)
}

/// A cell of an integer column: the integer, else the number (validation
/// takes `3.0`), else the text for validation to refuse.
fn int_cell(cell: &str) -> Value {
    let t = cell.trim();
    match t.parse::<i64>() {
        Ok(n) => Value::from(n),
        Err(_) => real_cell(cell),
    }
}

/// A cell of a number column: a finite number, else the text as it was.
fn real_cell(cell: &str) -> Value {
    let t = cell.trim();
    // Rust also parses `inf`, `NaN` and `infinity`: never numbers here.
    let plain = !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    match t.parse::<f64>().ok().filter(|_| plain) {
        Some(x) => serde_json::Number::from_f64(x).map_or_else(|| Value::from(cell), Value::Number),
        None => Value::from(cell),
    }
}

/// The line numbers of positions in the input. The csv crate's own count is
/// one short after CRLF line ends (a record's position is before the `\n`),
/// so the line is counted here from the newlines the reader passed: only
/// those after the last position asked for are held.
#[derive(Default, Clone)]
struct Lines(Rc<RefCell<LineState>>);

#[derive(Default)]
struct LineState {
    /// Bytes read so far.
    read: u64,
    /// Offsets of the newlines read but not yet passed by a position.
    ahead: VecDeque<u64>,
    /// Newlines passed.
    passed: usize,
}

struct LineCounting<R> {
    inner: R,
    lines: Lines,
}

impl<R: std::io::Read> std::io::Read for LineCounting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut s = self.lines.0.borrow_mut();
        let base = s.read;
        for (i, _) in buf[..n].iter().enumerate().filter(|(_, b)| **b == b'\n') {
            s.ahead.push_back(base + i as u64);
        }
        s.read += n as u64;
        Ok(n)
    }
}

impl Lines {
    fn reader<R: std::io::Read>(&self, inner: R) -> LineCounting<R> {
        LineCounting {
            inner,
            lines: self.clone(),
        }
    }

    /// The 1-based line of a record starting at `byte` (positions are asked
    /// for in increasing order): one more than the newlines at or before it.
    fn line_at(&self, byte: u64) -> usize {
        let mut s = self.0.borrow_mut();
        while s.ahead.front().is_some_and(|&o| o <= byte) {
            s.ahead.pop_front();
            s.passed += 1;
        }
        s.passed + 1
    }
}

/// A structural fault, with its row and line.
fn fault(e: &::csv::Error, lines: &Lines) -> String {
    let at = |p: &::csv::Position| format!("row {} (line {})", p.record(), lines.line_at(p.byte()));
    match e.kind() {
        ::csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => format!(
            "{}: {len} cells, but the header has {expected_len} (a comma in an unquoted cell?)",
            pos.as_ref().map_or_else(|| "a row".to_string(), at)
        ),
        ::csv::ErrorKind::Utf8 { pos, err } => format!(
            "{}: not UTF-8 (cell {}); save the file as UTF-8",
            pos.as_ref().map_or_else(|| "a row".to_string(), at),
            err.field() + 1
        ),
        ::csv::ErrorKind::Io(e) => e.to_string(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests;

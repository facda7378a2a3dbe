//! Features (GeoJSON objects, as a role's view showed them) as CSV rows
//! (RFC 4180, CRLF): `id`, the geometry as WKT in a `wkt` column, then one
//! column per property. What `jointmap ingest` reads back as it was written
//! (docs/formats.md): WKT for any geometry, numbers as JSON writes them,
//! lists and objects (`vertex_times`, nested extras) as JSON text.

use crate::model::{schema, Layer};
use serde_json::{Map, Value};
use std::io::Write;

/// The columns of a CSV of `layer`: `id`, `wkt`, the schema's fields in
/// their order, then `extra` (property names outside the schema, in the
/// order they were first seen).
pub fn columns(layer: Layer, extra: &[String]) -> Vec<String> {
    let mut out = vec!["id".to_string(), "wkt".to_string()];
    out.extend(
        schema::COMMON
            .iter()
            .chain(layer.fields())
            .map(|f| f.name.to_string()),
    );
    out.extend(
        extra
            .iter()
            .filter(|e| !out.contains(e))
            .cloned()
            .collect::<Vec<_>>(),
    );
    out
}

/// Adds the property names of `feature` outside the schema of `layer` (and
/// not yet in `seen`) to `seen`.
pub fn note_extras(layer: Layer, feature: &Value, seen: &mut Vec<String>) {
    let Some(props) = feature.get("properties").and_then(Value::as_object) else {
        return;
    };
    for k in props.keys() {
        let known = k == "id"
            || k == "wkt"
            || schema::COMMON
                .iter()
                .chain(layer.fields())
                .any(|f| f.name == k);
        if !known && !seen.contains(k) {
            seen.push(k.clone());
        }
    }
}

/// A FeatureCollection (an analysis product as GeoJSON) as CSV: the
/// geometry as WKT in `wkt`, then one column per property name some feature
/// has, in the order first seen; lists and objects as JSON text. The
/// product's `jointmap` member (its parameters) has no place in a table:
/// the GeoJSON form keeps it.
pub fn collection(out: &mut dyn Write, fc: &Value) -> std::io::Result<()> {
    let empty = Vec::new();
    let features = fc
        .get("features")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let mut columns = vec!["wkt".to_string()];
    for f in features {
        if let Some(props) = f.get("properties").and_then(Value::as_object) {
            for k in props.keys() {
                if !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
        }
    }
    header(out, &columns)?;
    for f in features {
        row(out, &columns, f)?;
    }
    Ok(())
}

/// Writes the header row.
pub fn header(out: &mut dyn Write, columns: &[String]) -> std::io::Result<()> {
    let cells: Vec<String> = columns.iter().map(|c| quote(c)).collect();
    write!(out, "{}\r\n", cells.join(","))
}

/// Writes one feature as a row of `columns`; a property outside them is an
/// error (the caller saw every feature's names first), never dropped.
pub fn row(out: &mut dyn Write, columns: &[String], feature: &Value) -> std::io::Result<()> {
    let empty = Map::new();
    let props = feature
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if let Some(k) = props.keys().find(|k| !columns.contains(k)) {
        return Err(std::io::Error::other(format!(
            "property {k:?} appeared while exporting (the store changed?): export again"
        )));
    }
    let cells: Vec<String> = columns
        .iter()
        .map(|c| match c.as_str() {
            "id" => feature.get("id").map_or(String::new(), text),
            "wkt" => feature.get("geometry").map_or(String::new(), wkt),
            _ => props.get(c).map_or(String::new(), text),
        })
        .map(|s| quote(&s))
        .collect();
    write!(out, "{}\r\n", cells.join(","))
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A GeoJSON geometry as WKT (empty for none).
pub fn wkt(g: &Value) -> String {
    let ty = g.get("type").and_then(Value::as_str).unwrap_or("");
    let c = g.get("coordinates").unwrap_or(&Value::Null);
    let pos = |p: &Value| -> String {
        p.as_array()
            .map(|a| {
                a.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    };
    let list = |v: &Value, f: &dyn Fn(&Value) -> String| -> String {
        let items: Vec<String> = v
            .as_array()
            .map_or(Vec::new(), |a| a.iter().map(f).collect());
        format!("({})", items.join(", "))
    };
    let line = |v: &Value| list(v, &pos);
    let polygon = |v: &Value| list(v, &line);
    match ty {
        "Point" => format!("POINT ({})", pos(c)),
        "LineString" => format!("LINESTRING {}", line(c)),
        "Polygon" => format!("POLYGON {}", polygon(c)),
        "MultiPoint" => format!("MULTIPOINT {}", line(c)),
        "MultiLineString" => format!("MULTILINESTRING {}", list(c, &line)),
        "MultiPolygon" => format!("MULTIPOLYGON {}", list(c, &polygon)),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_quote_and_write_wkt() {
        let f = json!({"type":"Feature","id":"p-1",
            "geometry":{"type":"LineString","coordinates":[[18.5,4.4],[18.6,4.5]]},
            "properties":{"time_start":"2024-01-01T00:00:00Z","unit":"A, \"B\"","vertex_times":["a","b"],"note":null}});
        let mut seen = Vec::new();
        note_extras(Layer::Patrols, &f, &mut seen);
        assert_eq!(seen, ["note"]);
        let cols = columns(Layer::Patrols, &seen);
        let mut out = Vec::new();
        header(&mut out, &cols).unwrap();
        row(&mut out, &cols, &f).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("id,wkt,time_start,time_end,owner,classification,unit,"),
            "{text}"
        );
        assert!(
            text.contains("p-1,\"LINESTRING (18.5 4.4, 18.6 4.5)\""),
            "{text}"
        );
        assert!(text.contains("\"A, \"\"B\"\"\""), "{text}");
        assert!(text.contains("\"[\"\"a\"\",\"\"b\"\"]\""), "{text}");
        // A property outside the columns is an error, never dropped.
        let e = row(&mut Vec::new(), &columns(Layer::Patrols, &[]), &f).unwrap_err();
        assert!(e.to_string().contains("\"note\""), "{e}");
    }

    #[test]
    fn a_collection_has_a_column_per_property() {
        let fc = json!({"type":"FeatureCollection","jointmap":{"analysis":"x"},"features":[
            {"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"cell":"a","count":3}},
            {"type":"Feature","geometry":null,"properties":{"cell":"b","z":-1.5}}]});
        let mut out = Vec::new();
        collection(&mut out, &fc).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "wkt,cell,count,z\r\nPOINT (1 2),a,3,\r\n,b,,-1.5\r\n"
        );
    }

    #[test]
    fn wkt_of_every_type() {
        for (g, want) in [
            (
                json!({"type":"Point","coordinates":[1.5,2.0]}),
                "POINT (1.5 2.0)",
            ),
            (
                json!({"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}),
                "POLYGON ((0 0, 1 0, 1 1, 0 0))",
            ),
            (
                json!({"type":"MultiLineString","coordinates":[[[0,0],[1,1]],[[2,2],[3,3]]]}),
                "MULTILINESTRING ((0 0, 1 1), (2 2, 3 3))",
            ),
            (
                json!({"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]]]}),
                "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)))",
            ),
        ] {
            assert_eq!(wkt(&g), want);
        }
    }
}

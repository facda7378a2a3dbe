//! A product as a GeoJSON FeatureCollection with a `jointmap` member.

use crate::analysis::product::{Field, Fields, Item, Param, Product, Shape};
use serde_json::{json, Map, Value};

/// A JSON number, or null for NaN and infinities (which JSON cannot hold).
fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

fn param(p: &Param) -> Value {
    match p {
        Param::Null => Value::Null,
        Param::Text(s) => Value::String(s.clone()),
        Param::Num(x) => num(*x),
        Param::Int(n) => Value::from(*n),
        Param::Bool(b) => Value::Bool(*b),
        Param::List(l) => Value::Array(l.iter().map(param).collect()),
        Param::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.to_string(), param(v))).collect())
        }
        Param::Record(m) => Value::Object(m.clone()),
    }
}

/// One typed value as JSON.
pub fn field(f: &Field) -> Value {
    match f {
        Field::Null => Value::Null,
        Field::Count { n, .. } | Field::Sensitive(n) | Field::Tally(n) => Value::from(*n),
        Field::Value(x) | Field::Fixed(x) | Field::Attribute { value: x, .. } => num(*x),
        Field::Sum { value, .. } => num(*value),
        Field::Relation { value, .. } => field(value),
        Field::Subject { id, .. } => Value::String(id.clone()),
        Field::Flag(b) => Value::Bool(*b),
        Field::Class(s) | Field::Key(s) | Field::Day(s) => Value::String(s.clone()),
        Field::FieldValue { value, .. } => Value::String(value.clone()),
        Field::Members { ids, .. } => {
            Value::Array(ids.iter().map(|i| Value::from(i.as_str())).collect())
        }
        Field::Reference { prefix, id, .. } => Value::String(format!("{prefix}{id}")),
        Field::Name { name, .. } => Value::String(name.clone()),
        Field::Position([x, y]) => json!([num(*x), num(*y)]),
        Field::EventTime(t) => chrono::DateTime::from_timestamp(*t, 0).map_or(Value::Null, |d| {
            Value::String(crate::model::time::format_time(&d))
        }),
        Field::Param(p) => param(p),
    }
}

/// Named values as a JSON object.
pub fn fields(fs: &Fields) -> Map<String, Value> {
    fs.iter()
        .filter(|(_, v)| !matches!(v, Field::Subject { .. }))
        .map(|(k, v)| (k.to_string(), field(v)))
        .collect()
}

fn ring(r: &[[f64; 2]]) -> Value {
    Value::Array(r.iter().map(|q| json!([q[0], q[1]])).collect())
}

fn geometry(s: &Shape) -> Value {
    match s {
        Shape::None => Value::Null,
        Shape::Cell(r) | Shape::Hull(r) => json!({"type": "Polygon", "coordinates": [ring(r)]}),
        Shape::Point([x, y]) | Shape::Centroid([x, y]) => {
            json!({"type": "Point", "coordinates": [x, y]})
        }
        Shape::Cells(mp) => {
            let polys: Vec<Value> =
                mp.0.iter()
                    .map(|p| {
                        let mut rings = vec![line(p.exterior())];
                        rings.extend(p.interiors().iter().map(line));
                        Value::Array(rings)
                    })
                    .collect();
            json!({"type": "MultiPolygon", "coordinates": polys})
        }
    }
}

fn line(l: &geo_types::LineString<f64>) -> Value {
    Value::Array(l.0.iter().map(|c| json!([c.x, c.y])).collect())
}

fn feature(item: &Item) -> Value {
    let mut f = Map::new();
    f.insert("type".into(), "Feature".into());
    if item.id != Field::Null {
        f.insert("id".into(), field(&item.id));
    }
    f.insert("geometry".into(), geometry(&item.geometry));
    f.insert("properties".into(), Value::Object(fields(&item.properties)));
    Value::Object(f)
}

/// The product as a FeatureCollection: `jointmap` holds the metadata and
/// each table (an array of row objects) under its name.
pub fn to_value(p: &Product) -> Value {
    collection(p, p.items.iter().map(feature).collect())
}

/// The FeatureCollection of `p` with these features.
fn collection(p: &Product, features: Vec<Value>) -> Value {
    let mut meta = fields(&p.meta);
    for (name, rows) in &p.tables {
        let rows: Vec<Value> = rows.iter().map(|r| Value::Object(fields(r))).collect();
        meta.insert(name.to_string(), Value::Array(rows));
    }
    json!({
        "type": "FeatureCollection",
        "jointmap": meta,
        "features": features,
    })
}

/// [`to_value`] serialised: the same bytes, with the features (most of a
/// large layer) built and written in parallel, then put in the place of
/// the empty `features` array of the rest.
pub fn to_vec(p: &Product) -> Vec<u8> {
    use rayon::prelude::*;
    // Serialising a Value of strings and finite numbers cannot fail.
    let envelope = serde_json::to_vec(&collection(p, Vec::new())).unwrap_or_default();
    // `features` is the last member (insertion order, `preserve_order`).
    const TAIL: &[u8] = b",\"features\":[]}";
    let Some(head) = envelope.strip_suffix(TAIL) else {
        return serde_json::to_vec(&to_value(p)).unwrap_or_default();
    };
    let parts: Vec<Vec<u8>> = p
        .items
        .par_chunks(256)
        .map(|items| {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                // As above: cannot fail.
                let _ = serde_json::to_writer(&mut out, &feature(item));
            }
            out
        })
        .collect();
    let mut out = Vec::with_capacity(
        envelope.len() + parts.iter().map(Vec::len).sum::<usize>() + parts.len(),
    );
    out.extend_from_slice(head);
    out.extend_from_slice(b",\"features\":[");
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(part);
    }
    out.extend_from_slice(b"]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::product::Item;

    /// The parallel writer gives the bytes of the whole value serialised,
    /// with no, a few and many features (several chunks), NaN included.
    #[test]
    fn parallel_bytes_equal_the_value_serialised() {
        for n in [0usize, 1, 255, 256, 257, 1_000] {
            let mut p = Product::new("hotspots");
            p.meta.push(("bandwidth_m", Field::Value(1234.5)));
            p.tables
                .push(("features", vec![vec![("features", Field::Tally(3))]]));
            p.items = (0..n)
                .map(|i| Item {
                    id: Field::Key(format!("r{i}c\"1\"")),
                    geometry: Shape::Cell(vec![[i as f64 * 0.1, -1.5], [2.0, 3.0 / 7.0]]),
                    properties: vec![
                        ("value", Field::Value(i as f64 / 3.0)),
                        ("gi_p", Field::Value(f64::NAN)),
                        ("class", Field::class(Some("hot 99"))),
                    ],
                })
                .collect();
            let want = serde_json::to_vec(&to_value(&p)).unwrap();
            assert_eq!(
                String::from_utf8(to_vec(&p)).unwrap(),
                String::from_utf8(want).unwrap(),
                "{n}"
            );
        }
    }
}

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
    let mut meta = fields(&p.meta);
    for (name, rows) in &p.tables {
        let rows: Vec<Value> = rows.iter().map(|r| Value::Object(fields(r))).collect();
        meta.insert(name.to_string(), Value::Array(rows));
    }
    json!({
        "type": "FeatureCollection",
        "jointmap": meta,
        "features": p.items.iter().map(feature).collect::<Vec<_>>(),
    })
}

/// [`to_value`] serialised.
pub fn to_vec(p: &Product) -> Vec<u8> {
    // Serialising a Value of strings and finite numbers cannot fail.
    serde_json::to_vec(&to_value(p)).unwrap_or_default()
}

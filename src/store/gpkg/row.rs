//! A feature's row, encoded for the GeoPackage: the geometry blob and every
//! column value, made on any thread (ingest encodes on its validation
//! workers), so the batch's single writer only binds it.

use super::*;
use crate::model::parts::View;
use crate::model::Parts;
use rusqlite::types::{ToSqlOutput, ValueRef};

/// One column value; text and blobs are ranges of the row's byte buffer, so a
/// row is two allocations whatever its number of columns.
#[derive(Debug, Clone, Copy)]
enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(u32, u32),
}

/// The values `insert_sql` and `update_sql` bind, in their order: the
/// geometry blob, then `columns(layer)`; the provenance (the batch's) is
/// bound by the batch.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// The feature's id (also the first text of `cells`).
    pub(crate) id: String,
    /// The geometry blob (`bytes[..blob]`), then the texts.
    bytes: Vec<u8>,
    blob: usize,
    cells: Vec<Cell>,
    /// The geometry's envelope: min x, min y, max x, max y.
    pub(super) bbox: [f64; 4],
    /// The geometry's entry in the layer's R-tree, made with the row so the
    /// writer need not read it back to pack the index.
    pub(super) rtree: rtree::Entry,
}

impl Row {
    /// Encodes `f` as a row of `layer`.
    pub(crate) fn encode(layer: Layer, f: &Feature) -> Row {
        Row::from_view(&f.view(layer))
    }

    /// Encodes validated parts as a row of their layer: no map is built.
    pub(crate) fn from_parts(p: &Parts) -> Row {
        Row::from_view(&p.view())
    }

    fn from_view(f: &View<'_>) -> Row {
        let fields = f.layer.fields();
        let mut bytes = Vec::with_capacity(256 + f.id.len());
        wkb::encode(f.geometry, &mut bytes);
        let blob = bytes.len();
        let mut cells = Vec::with_capacity(fields.len() + 6);
        let text = |bytes: &mut Vec<u8>, s: &str| {
            let at = bytes.len() as u32;
            bytes.extend_from_slice(s.as_bytes());
            Cell::Text(at, bytes.len() as u32)
        };
        cells.push(text(&mut bytes, f.id));
        cells.push(text(&mut bytes, &fmt_time(&f.time.start)));
        cells.push(match &f.time.end {
            Some(end) => text(&mut bytes, &fmt_time(end)),
            None => Cell::Null,
        });
        cells.push(text(&mut bytes, f.owner.as_str()));
        cells.push(text(&mut bytes, f.level.as_str()));
        for (spec, v) in f.fields() {
            cells.push(match (v, spec.kind) {
                (None | Some(Value::Null), _) => Cell::Null,
                (Some(Value::String(s)), _) => text(&mut bytes, s),
                (Some(Value::Number(n)), FieldKind::PositiveReal | FieldKind::Fraction) => {
                    Cell::Real(n.as_f64().unwrap_or(f64::NAN))
                }
                (Some(Value::Number(n)), _) => n
                    .as_i64()
                    .map_or_else(|| Cell::Real(n.as_f64().unwrap_or(0.0)), Cell::Int),
                (Some(other), _) => text(&mut bytes, &other.to_string()),
            });
        }
        // Properties beyond the schema fields are extras, kept as a JSON
        // object in their order (as `Value::Object(..).to_string()` writes it).
        cells.push(if f.has_extras() {
            let at = bytes.len() as u32;
            bytes.push(b'{');
            let mut first = true;
            for (k, v) in f.extras() {
                if !first {
                    bytes.push(b',');
                }
                first = false;
                // Writing JSON into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut bytes, k);
                bytes.push(b':');
                let _ = serde_json::to_writer(&mut bytes, v);
            }
            bytes.push(b'}');
            Cell::Text(at, bytes.len() as u32)
        } else {
            Cell::Null
        });
        Row {
            id: f.id.to_string(),
            rtree: rtree::entry(&bytes[..blob]),
            bytes,
            blob,
            cells,
            bbox: crate::model::geometry::bbox(f.geometry),
        }
    }

    /// The values to bind, in order (without the provenance).
    pub(super) fn values(&self) -> impl Iterator<Item = ToSqlOutput<'_>> + '_ {
        let blob = ToSqlOutput::Borrowed(ValueRef::Blob(&self.bytes[..self.blob]));
        std::iter::once(blob).chain(self.cells.iter().map(|c| {
            ToSqlOutput::Borrowed(match *c {
                Cell::Null => ValueRef::Null,
                Cell::Int(i) => ValueRef::Integer(i),
                Cell::Real(r) => ValueRef::Real(r),
                Cell::Text(a, b) => ValueRef::Text(&self.bytes[a as usize..b as usize]),
            })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(r: &Row) -> Vec<Sql> {
        r.values()
            .map(|v| match v {
                ToSqlOutput::Borrowed(ValueRef::Null) => Sql::Null,
                ToSqlOutput::Borrowed(ValueRef::Integer(i)) => Sql::Integer(i),
                ToSqlOutput::Borrowed(ValueRef::Real(r)) => Sql::Real(r),
                ToSqlOutput::Borrowed(ValueRef::Text(t)) => {
                    Sql::Text(String::from_utf8(t.to_vec()).expect("utf-8"))
                }
                ToSqlOutput::Borrowed(ValueRef::Blob(b)) => Sql::Blob(b.to_vec()),
                _ => unreachable!("rows are bound by reference"),
            })
            .collect()
    }

    fn incident() -> Feature {
        let v = json!({"type": "Feature", "id": "a\"1",
            "geometry": {"type": "Point", "coordinates": [18.5, 4.4]},
            "properties": {"time_start": "2025-02-14T03:00:00Z", "category": "killing",
                "consent": "hr-only", "killed_men": 2, "narrative": "n\u{e9}\n\"q\"",
                "z_note": {"nested": [1, 2.5, "\u{1}"]}, "a_code": "V-17", "flag": true}});
        Feature::from_geojson(Layer::Incidents, v, "").expect("valid incident")
    }

    /// The cursor over schema-ordered properties and the lookup a feature
    /// built in another order needs give the same row; extras are the JSON
    /// object `serde_json` writes, in their order.
    #[test]
    fn a_row_does_not_depend_on_the_order_of_its_properties() {
        let f = incident();
        let row = Row::encode(Layer::Incidents, &f);
        let mut shuffled = f.clone();
        let mut props: Vec<(String, Value)> = f.properties.clone().into_iter().collect();
        props.reverse();
        shuffled.properties = props.into_iter().collect();
        let extras_reversed = Row::encode(Layer::Incidents, &shuffled);
        let (a, b) = (values(&row), values(&extras_reversed));
        let n = a.len();
        assert_eq!(a[..n - 1], b[..n - 1]);
        let extra: Map<String, Value> = f
            .properties
            .iter()
            .filter(|(k, _)| !Layer::Incidents.fields().iter().any(|s| s.name == *k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(extra.len(), 3);
        assert_eq!(a[n - 1], Sql::Text(Value::Object(extra).to_string()));
        let reversed: Map<String, Value> = shuffled
            .properties
            .iter()
            .filter(|(k, _)| !Layer::Incidents.fields().iter().any(|s| s.name == *k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(b[n - 1], Sql::Text(Value::Object(reversed).to_string()));
        // The columns in bind order: geometry, id, times, owner, level, fields, extra.
        assert_eq!(n, columns(Layer::Incidents).len() + 1);
        assert_eq!(a[1], Sql::Text("a\"1".into()));
        assert_eq!(a[2], Sql::Text("2025-02-14T03:00:00.000Z".into()));
        assert_eq!(a[3], Sql::Null);
        let mut blob = Vec::new();
        wkb::encode(&f.geometry, &mut blob);
        assert_eq!(a[0], Sql::Blob(blob));
        assert_eq!(row.id, "a\"1");
    }
}

//! A validated feature as its parts: the layer's fields by schema position and
//! the extras in their input order. Validation makes these; a store encodes
//! its row straight from them, and a [`Feature`] (with its map of properties)
//! is made from them only where one is needed.

use super::feature::Feature;
use super::schema::FieldSpec;
use super::{Layer, Level, Owner, TimeSpan};
use geo_types::Geometry;
use serde_json::{Map, Value};

/// A validated, normalised feature of one layer, as the parts a store writes.
#[derive(Debug, Clone, PartialEq)]
pub struct Parts {
    /// The layer the parts were validated for: `fields` follows its schema.
    pub layer: Layer,
    /// Unique id within its layer.
    pub id: String,
    /// WGS 84 longitude/latitude geometry.
    pub geometry: Geometry<f64>,
    /// When.
    pub time: TimeSpan,
    /// Owning component.
    pub owner: Owner,
    /// Classification level.
    pub level: Level,
    /// One value per field of `layer.fields()`, in that order; `None` when
    /// the feature has none (defaults applied).
    pub fields: Vec<Option<Value>>,
    /// The properties that are no field of the layer, in their input order.
    pub extras: Vec<(String, Value)>,
}

impl Parts {
    /// The parts of `f`, a feature of `layer`: its properties named by a
    /// field go to that field's position, the others are extras in order.
    pub fn from_feature(layer: Layer, f: Feature) -> Parts {
        let specs = layer.fields();
        let mut fields = vec![None; specs.len()];
        let mut extras = Vec::new();
        for (k, v) in f.properties {
            match specs.iter().position(|s| s.name == k) {
                Some(i) => fields[i] = Some(v),
                None => extras.push((k, v)),
            }
        }
        Parts {
            layer,
            id: f.id,
            geometry: f.geometry,
            time: f.time,
            owner: f.owner,
            level: f.level,
            fields,
            extras,
        }
    }

    /// The layer's fields with their values (`None`: absent), in schema order.
    pub fn fields(&self) -> impl Iterator<Item = (&'static FieldSpec, Option<&Value>)> + '_ {
        self.layer
            .fields()
            .iter()
            .zip(&self.fields)
            .map(|(s, v)| (s, v.as_ref()))
    }
}

impl From<Parts> for Feature {
    /// The feature's properties: its fields in schema order, then the extras.
    fn from(p: Parts) -> Feature {
        let specs = p.layer.fields();
        let mut properties = Map::with_capacity(specs.len() + p.extras.len());
        for (spec, v) in specs.iter().zip(p.fields) {
            if let Some(v) = v {
                properties.insert(spec.name.to_string(), v);
            }
        }
        properties.extend(p.extras);
        Feature {
            id: p.id,
            geometry: p.geometry,
            time: p.time,
            owner: p.owner,
            level: p.level,
            properties,
        }
    }
}

/// A feature's parts, borrowed from [`Parts`] or from a [`Feature`]: what a
/// store encodes its row from, the same whichever it came from.
#[derive(Debug)]
pub struct View<'a> {
    /// The layer: the fields are its fields.
    pub layer: Layer,
    /// Unique id within its layer.
    pub id: &'a str,
    /// WGS 84 longitude/latitude geometry.
    pub geometry: &'a Geometry<f64>,
    /// When.
    pub time: &'a TimeSpan,
    /// Owning component.
    pub owner: Owner,
    /// Classification level.
    pub level: Level,
    fields: Fields<'a>,
    extras: Extras<'a>,
}

#[derive(Debug)]
enum Fields<'a> {
    Slots(&'a [Option<Value>]),
    Found(Vec<Option<&'a Value>>),
}

#[derive(Debug)]
enum Extras<'a> {
    Owned(&'a [(String, Value)]),
    Found(Vec<(&'a str, &'a Value)>),
}

impl<'a> View<'a> {
    /// The value of the layer's `i`-th field, if it has one.
    pub fn field(&self, i: usize) -> Option<&'a Value> {
        match &self.fields {
            Fields::Slots(s) => s.get(i)?.as_ref(),
            Fields::Found(f) => f.get(i).copied().flatten(),
        }
    }

    /// The layer's fields with their values (`None`: absent), in schema order.
    pub fn fields(&self) -> impl Iterator<Item = (&'static FieldSpec, Option<&'a Value>)> + '_ {
        self.layer
            .fields()
            .iter()
            .enumerate()
            .map(|(i, s)| (s, self.field(i)))
    }

    /// The properties that are no field of the layer, in their order.
    pub fn extras(&self) -> impl Iterator<Item = (&'a str, &'a Value)> + '_ {
        let (owned, found) = match &self.extras {
            Extras::Owned(o) => (*o, &[][..]),
            Extras::Found(f) => (&[][..], f.as_slice()),
        };
        owned
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .chain(found.iter().copied())
    }

    /// Whether there are any extras.
    pub fn has_extras(&self) -> bool {
        match &self.extras {
            Extras::Owned(o) => !o.is_empty(),
            Extras::Found(f) => !f.is_empty(),
        }
    }
}

impl Parts {
    /// The parts, borrowed.
    pub fn view(&self) -> View<'_> {
        View {
            layer: self.layer,
            id: &self.id,
            geometry: &self.geometry,
            time: &self.time,
            owner: self.owner,
            level: self.level,
            fields: Fields::Slots(&self.fields),
            extras: Extras::Owned(&self.extras),
        }
    }
}

impl Feature {
    /// The feature's parts as a feature of `layer`, borrowed: a property
    /// named by a field is that field, the others are extras in order.
    pub fn view(&self, layer: Layer) -> View<'_> {
        let specs = layer.fields();
        // Validation keeps the fields first, in schema order: a cursor finds
        // them without hashing; a feature built otherwise falls back to
        // looking each one up.
        let mut cursor = self.properties.iter().peekable();
        let fields: Vec<Option<&Value>> = specs
            .iter()
            .map(
                |spec| match cursor.next_if(|(k, _)| k.as_str() == spec.name) {
                    Some((_, v)) => Some(v),
                    None => self.properties.get(spec.name),
                },
            )
            .collect();
        let present = fields.iter().filter(|v| v.is_some()).count();
        let extras = if self.properties.len() > present {
            self.properties
                .iter()
                .filter(|(k, _)| !specs.iter().any(|s| s.name == k.as_str()))
                .map(|(k, v)| (k.as_str(), v))
                .collect()
        } else {
            Vec::new()
        };
        View {
            layer,
            id: &self.id,
            geometry: &self.geometry,
            time: &self.time,
            owner: self.owner,
            level: self.level,
            fields: Fields::Found(fields),
            extras: Extras::Found(extras),
        }
    }
}

/// The values of a layer's fields by name, during validation.
pub(super) struct Slots<'a> {
    pub(super) specs: &'static [FieldSpec],
    pub(super) values: &'a mut [Option<Value>],
}

impl Slots<'_> {
    fn at(&self, name: &str) -> Option<usize> {
        self.specs.iter().position(|s| s.name == name)
    }

    /// The value of field `name`, if it has one.
    pub(super) fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(self.at(name)?)?.as_ref()
    }

    /// Whether field `name` has a value.
    pub(super) fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Gives field `name` the value `v` (a name that is no field: nothing).
    pub(super) fn set(&mut self, name: &str, v: Value) {
        if let Some(slot) = self.at(name).and_then(|i| self.values.get_mut(i)) {
            *slot = Some(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A feature and its parts go both ways unchanged, whatever the order of
    /// the feature's fields.
    #[test]
    fn parts_and_feature_round_trip() {
        let v = json!({"type": "Feature", "id": "s1",
            "geometry": {"type": "Point", "coordinates": [18.0, 4.0]},
            "properties": {"zz": 1, "exposure": 0.5, "name": "A", "site_type": "market",
                "time_start": "2024-01-01", "aa": [2]}});
        let f = Feature::from_geojson(Layer::Sites, v, "").expect("valid");
        let p = Parts::from_feature(Layer::Sites, f.clone());
        assert_eq!(
            p.extras,
            [("zz".to_string(), json!(1)), ("aa".into(), json!([2]))]
        );
        let names: Vec<&str> = p
            .fields()
            .filter(|(_, v)| v.is_some())
            .map(|(s, _)| s.name)
            .collect();
        assert_eq!(names, ["name", "site_type", "vulnerability", "exposure"]);
        let back = Feature::from(p.clone());
        let keys = |f: &Feature| f.properties.keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&back), keys(&f));
        assert_eq!(back, f);
        let mut shuffled = f.clone();
        shuffled.properties = f.properties.clone().into_iter().rev().collect();
        let q = Parts::from_feature(Layer::Sites, shuffled);
        assert_eq!(q.fields, p.fields);
        assert_eq!(q.extras.len(), 2);
    }
}

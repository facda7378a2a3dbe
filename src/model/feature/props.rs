//! A feature's input properties, taken one at a time as validation reads
//! them; what is left are its extras, in their order.

use crate::model::json;
use crate::model::Layer;
use rustc_hash::FxHashMap;
use serde_json::Value;
use std::borrow::Cow;
use std::sync::OnceLock;

/// Fields of a layer's schema found by position; a layer with more fields
/// finds the rest by name.
const BY_POSITION: usize = 32;
/// Not in the input.
const ABSENT: u32 = u32::MAX;

/// A feature's properties. Each of the layer's schema fields is looked up
/// once, when the properties are read: most inputs give a handful of the
/// schema's thirty fields, and searching the given keys for every field the
/// input left out cost more than the rest of the validation of a field.
pub(super) struct Props<'a> {
    items: Vec<(Cow<'a, str>, Option<Value>)>,
    /// Where the search by name starts: inputs usually give the common
    /// properties in the order they are taken.
    next: usize,
    /// Per field of the layer's schema (in schema order): its item, or
    /// [`ABSENT`].
    fields: [u32; BY_POSITION],
}

/// Per layer, the position of each schema field in the layer's field list.
fn positions(layer: Layer) -> &'static FxHashMap<&'static str, usize> {
    static ALL: OnceLock<Vec<FxHashMap<&'static str, usize>>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        Layer::ALL
            .iter()
            .map(|l| {
                l.fields()
                    .iter()
                    .take(BY_POSITION)
                    .enumerate()
                    .map(|(i, spec)| (spec.name, i))
                    .collect()
            })
            .collect()
    });
    let at = Layer::ALL.iter().position(|l| *l == layer).unwrap_or(0);
    &all[at]
}

impl<'a> Props<'a> {
    /// The properties `m` of a feature of `layer` (keys are unique: the
    /// strict parse refuses repeated ones, and a map has none).
    pub(super) fn new(m: json::Members<'a>, layer: Layer) -> Self {
        let index = positions(layer);
        let mut fields = [ABSENT; BY_POSITION];
        let items: Vec<_> = m.into_iter().map(|(k, v)| (k, Some(v))).collect();
        for (at, (k, _)) in items.iter().enumerate() {
            if let Some(&field) = index.get(k.as_ref()) {
                fields[field] = u32::try_from(at).unwrap_or(ABSENT);
            }
        }
        Props {
            items,
            next: 0,
            fields,
        }
    }

    /// Removes and returns the value of the layer's schema field number
    /// `field`, named `name`.
    pub(super) fn take_field(&mut self, field: usize, name: &str) -> Option<Value> {
        match self.fields.get(field) {
            Some(&ABSENT) => None,
            Some(&at) => self.items.get_mut(at as usize)?.1.take(),
            None => self.take(name),
        }
    }

    /// Removes and returns the value of `name`.
    pub(super) fn take(&mut self, name: &str) -> Option<Value> {
        let at = self.find(name)?;
        let v = self.items.get_mut(at)?.1.take()?;
        self.next = at + 1;
        Some(v)
    }

    fn find(&self, name: &str) -> Option<usize> {
        let n = self.items.len();
        (self.next..n)
            .chain(0..self.next.min(n))
            .find(|&i| self.items.get(i).is_some_and(|(k, _)| k == name))
    }

    /// The properties not taken, in their order.
    pub(super) fn rest(self) -> impl Iterator<Item = (String, Value)> + 'a {
        self.items
            .into_iter()
            .filter_map(|(k, v)| Some((k.into_owned(), v?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(layer: Layer, keys: &[&'static str]) -> Props<'static> {
        let m = keys
            .iter()
            .map(|k| (Cow::Borrowed(*k), Value::from(*k)))
            .collect();
        Props::new(m, layer)
    }

    #[test]
    fn fields_by_position_common_ones_by_name_and_the_rest_in_order() {
        let fields = Layer::Incidents.fields();
        let (a, b) = (fields[0].name, fields[fields.len() - 1].name);
        let mut p = props(Layer::Incidents, &["x", b, "time_start", a, "y"]);
        assert_eq!(p.take_field(0, a), Some(Value::from(a)));
        assert_eq!(p.take_field(0, a), None, "taken once");
        assert_eq!(p.take_field(1, fields[1].name), None, "not given");
        assert_eq!(p.take_field(fields.len() - 1, b), Some(Value::from(b)));
        assert_eq!(p.take("time_start"), Some(Value::from("time_start")));
        assert_eq!(p.take("owner"), None);
        let rest: Vec<_> = p.rest().map(|(k, _)| k).collect();
        assert_eq!(rest, ["x", "y"]);
    }

    #[test]
    fn a_field_of_another_layer_is_an_extra() {
        let patrol = Layer::Patrols.fields()[0].name;
        assert!(Layer::Incidents.fields().iter().all(|f| f.name != patrol));
        let p = props(Layer::Incidents, &[patrol]);
        assert_eq!(p.rest().count(), 1);
    }

    #[test]
    fn every_layer_finds_its_fields_by_position() {
        for layer in Layer::ALL {
            assert!(layer.fields().len() <= BY_POSITION, "{layer:?}");
            for (i, spec) in layer.fields().iter().enumerate() {
                assert_eq!(positions(layer).get(spec.name), Some(&i));
            }
        }
    }
}

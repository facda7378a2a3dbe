//! Foreign schemas: a small mapping file renames properties, translates values
//! and sets constants before validation, so data from other systems ingests
//! without a conversion script. Properties the mapping does not name are kept
//! as extras.
//!
//! ```toml
//! # Which property holds the id (default: the Feature's id, then `id`).
//! id = "event_id"
//! # Prefix added to ids, to keep sources apart in one layer.
//! id_prefix = "acled-"
//! [rename]            # jointmap field = foreign property
//! time_start = "event_date"
//! perpetrator = "actor1"
//! [values.category]   # foreign value (as text) -> jointmap value
//! "Violence against civilians" = "killing"
//! [set]               # constants for fields the source lacks
//! owner = "mission"
//! classification = "public"
//! ```

use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A property mapping from a foreign schema to a jointmap layer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Property holding the id.
    #[serde(default)]
    pub id: Option<String>,
    /// Prefix added to every id.
    #[serde(default)]
    pub id_prefix: Option<String>,
    /// jointmap field -> foreign property.
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
    /// jointmap field -> (foreign value as text -> jointmap value).
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// jointmap field -> constant (applied when the field is absent).
    #[serde(default)]
    pub set: BTreeMap<String, toml::Value>,
}

impl Mapping {
    /// Parses a mapping file's text.
    pub fn from_toml(text: &str) -> Result<Mapping, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Rewrites a feature's id and properties in place.
    pub fn apply(&self, feature: &mut Value) {
        let Some(obj) = feature.as_object_mut() else {
            return;
        };
        let mut props = match obj.shift_remove("properties") {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        if let Some(key) = &self.id {
            if let Some(v) = props.get(key).cloned() {
                obj.insert("id".into(), v);
            }
        }
        if let Some(prefix) = &self.id_prefix {
            let id = obj.get("id").or_else(|| props.get("id")).cloned();
            let text = match id {
                Some(Value::String(s)) => Some(s),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            if let Some(t) = text {
                obj.insert("id".into(), Value::String(format!("{prefix}{t}")));
            }
        }
        let mut out = Map::with_capacity(props.len() + self.set.len());
        for (target, source) in &self.rename {
            if let Some(v) = props.shift_remove(source) {
                out.insert(target.clone(), v);
            }
        }
        for (k, v) in props {
            out.entry(k).or_insert(v);
        }
        for (field, table) in &self.values {
            if let Some(v) = out.get_mut(field) {
                let key = match &*v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                if let Some(mapped) = table.get(&key) {
                    *v = Value::String(mapped.clone());
                }
            }
        }
        for (field, value) in &self.set {
            if !out.contains_key(field) {
                out.insert(field.clone(), toml_to_json(value));
            }
        }
        obj.insert("properties".into(), Value::Object(out));
    }
}

fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Value::from(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renames_translates_and_keeps_the_rest() {
        let m = Mapping::from_toml(
            r#"
            id = "event_id"
            id_prefix = "x-"
            [rename]
            time_start = "event_date"
            category = "kind"
            [values.category]
            "VAC" = "killing"
            [set]
            owner = "mission"
            "#,
        )
        .unwrap();
        let mut f = json!({"type":"Feature","properties":{"event_id":7,"event_date":"2024-01-01","kind":"VAC","note":"kept"}});
        m.apply(&mut f);
        assert_eq!(f["id"], "x-7");
        assert_eq!(f["properties"]["category"], "killing");
        assert_eq!(f["properties"]["time_start"], "2024-01-01");
        assert_eq!(f["properties"]["note"], "kept");
        assert_eq!(f["properties"]["owner"], "mission");
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(Mapping::from_toml("renam = {}").is_err());
    }
}

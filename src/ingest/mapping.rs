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

use crate::model::{schema, Layer};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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
    /// The file's name, for messages.
    #[serde(skip)]
    pub name: String,
    /// Line of each entry in the file: (section, key) -> 1-based line.
    #[serde(skip)]
    lines: BTreeMap<(String, String), usize>,
    /// Whether each `rename` source (in order), then the `id` property, was
    /// found in some feature: shared by the threads that apply the mapping.
    #[serde(skip)]
    seen: Arc<Vec<AtomicBool>>,
}

impl Mapping {
    /// Parses a mapping file's text.
    pub fn from_toml(text: &str) -> Result<Mapping, String> {
        let mut m: Mapping = toml::from_str(text).map_err(|e| e.to_string())?;
        m.lines = entry_lines(text);
        m.seen = Arc::new(
            (0..=m.rename.len())
                .map(|_| AtomicBool::new(false))
                .collect(),
        );
        Ok(m)
    }

    /// The same mapping, named (its file) in messages.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    fn at(&self, section: &str, key: &str) -> String {
        match self.lines.get(&(section.to_string(), key.to_string())) {
            Some(n) => format!("line {n}"),
            None => format!("[{section}] {key}"),
        }
    }

    /// Every target must be a field of `layer` (or `time`, `id`): a typo
    /// would otherwise turn into an extra property and the field stay empty.
    pub fn check_targets(&self, layer: Layer) -> Result<(), String> {
        let known = |f: &str| {
            f == "time"
                || f == "id"
                || schema::COMMON.iter().any(|s| s.name == f)
                || layer.fields().iter().any(|s| s.name == f)
        };
        let targets = (self.rename.keys().map(|k| ("rename", k.clone())))
            .chain(self.set.keys().map(|k| ("set", k.clone())))
            .chain(self.values.keys().map(|k| ("values", k.clone())));
        for (section, target) in targets {
            if !known(&target) {
                let line = match section {
                    "values" => self.at(&format!("values.{target}"), ""),
                    _ => self.at(section, &target),
                };
                return Err(format!(
                    "{line}: [{section}] target `{target}` is not a field of {layer} (its fields: {})",
                    layer.fields().iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
                ));
            }
        }
        Ok(())
    }

    /// The `rename` sources (and the `id` property) that no feature applied
    /// so far had: each a message naming its line.
    pub fn unused_sources(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, (target, source)) in self.rename.iter().enumerate() {
            if !self.seen.get(i).is_some_and(|s| s.load(Ordering::Relaxed)) {
                out.push(format!(
                    "{}: [rename] {target} = {source:?}: no feature has a property {source:?}",
                    self.at("rename", target)
                ));
            }
        }
        if let Some(id) = &self.id {
            if !self
                .seen
                .get(self.rename.len())
                .is_some_and(|s| s.load(Ordering::Relaxed))
            {
                out.push(format!(
                    "{}: id = {id:?}: no feature has a property {id:?}",
                    self.at("", "id")
                ));
            }
        }
        out
    }

    fn mark(&self, i: usize) {
        if let Some(s) = self.seen.get(i) {
            // Read first: the flag's cache line is then shared, not bounced.
            if !s.load(Ordering::Relaxed) {
                s.store(true, Ordering::Relaxed);
            }
        }
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
                self.mark(self.rename.len());
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
        for (i, (target, source)) in self.rename.iter().enumerate() {
            if let Some(v) = props.shift_remove(source) {
                self.mark(i);
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

/// The line of each `key = value` entry, under its `[section]` ("" at the
/// top; a section header itself is recorded under the key "").
fn entry_lines(text: &str) -> BTreeMap<(String, String), usize> {
    let unquote = |s: &str| s.trim().trim_matches('"').trim_matches('\'').to_string();
    let mut out = BTreeMap::new();
    let mut section = String::new();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(h) = t.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            section = h.split('.').map(unquote).collect::<Vec<_>>().join(".");
            out.entry((section.clone(), String::new())).or_insert(n + 1);
        } else if let Some((k, _)) = t.split_once('=') {
            if !t.starts_with('#') {
                out.entry((section.clone(), unquote(k))).or_insert(n + 1);
            }
        }
    }
    out
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

    /// A target that is no field of the layer, and a source no feature has,
    /// are named with their line.
    #[test]
    fn targets_and_unused_sources_name_their_line() {
        let m = Mapping::from_toml(
            "id = \"event_id\"\n[rename]\ntime_start = \"event_date\"\nperpetrato = \"actor1\"\n",
        )
        .unwrap();
        let e = m.check_targets(Layer::Incidents).unwrap_err();
        assert!(
            e.starts_with("line 4: [rename] target `perpetrato` is not a field of incidents"),
            "{e}"
        );
        let m = Mapping::from_toml(
            "id = \"event_id\"\n[rename]\ntime_start = \"event_date\"\ncategory = \"kind\"\n[values.categry]\n\"VAC\" = \"killing\"\n",
        )
        .unwrap();
        let e = m.check_targets(Layer::Incidents).unwrap_err();
        assert!(e.starts_with("line 5: [values] target `categry`"), "{e}");
        let m = Mapping::from_toml(
            "id = \"event_id\"\n[rename]\ntime_start = \"event_date\"\ncategory = \"kind\"\n",
        )
        .unwrap();
        m.check_targets(Layer::Incidents).unwrap();
        let mut f = json!({"type":"Feature","properties":{"event_date":"2024-01-01","kind":"VAC"}});
        m.apply(&mut f);
        assert_eq!(
            m.unused_sources(),
            ["line 1: id = \"event_id\": no feature has a property \"event_id\""]
        );
        let mut f = json!({"type":"Feature","properties":{"event_id":1,"event_date":"2024-01-01"}});
        m.apply(&mut f);
        assert!(m.unused_sources().is_empty());
    }
}

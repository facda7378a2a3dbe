//! Built-in mappings for well-known foreign datasets.

pub mod acled;
pub mod ucdp_ged;

use super::mapping::Mapping;
use serde_json::{Map, Value};

/// A foreign schema jointmap knows how to read.
#[derive(Debug, Clone)]
pub enum Preset {
    /// UCDP Georeferenced Event Dataset (GED) events, into the incidents layer.
    UcdpGed,
    /// ACLED events (its export layout), into the incidents layer.
    Acled,
    /// A user's mapping file.
    File(Mapping),
}

impl Preset {
    /// Looks up a built-in preset by name.
    pub fn builtin(name: &str) -> Option<Preset> {
        match name {
            "ucdp-ged" | "ucdp" => Some(Preset::UcdpGed),
            "acled" => Some(Preset::Acled),
            _ => None,
        }
    }

    /// Names of the built-in presets.
    pub const NAMES: &'static [&'static str] = &["ucdp-ged", "acled"];

    /// Rewrites one feature into jointmap's schema.
    pub fn apply(&self, feature: &mut Value) {
        match self {
            Preset::UcdpGed => ucdp_ged::apply(feature),
            Preset::Acled => acled::apply(feature),
            Preset::File(m) => m.apply(feature),
        }
    }
}

/// A JSON object's members.
type Members = Map<String, Value>;

/// A feature's object and its properties taken out of it, the feature's id
/// set to `prefix-<property id_key>` when it has that property: where every
/// preset starts. `None` for a feature that is not an object.
fn take_properties<'a>(
    feature: &'a mut Value,
    id_key: &str,
    prefix: &str,
) -> Option<(&'a mut Members, Members)> {
    let obj = feature.as_object_mut()?;
    let mut p = match obj.shift_remove("properties") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    if let Some(id) = p.shift_remove(id_key) {
        let id = match id {
            Value::String(s) => s,
            other => other.to_string(),
        };
        obj.insert("id".into(), Value::String(format!("{prefix}-{id}")));
    }
    Some((obj, p))
}

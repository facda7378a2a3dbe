//! Built-in mappings for well-known foreign datasets.

pub mod acled;
pub mod ucdp_ged;

use super::mapping::Mapping;
use serde_json::Value;

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

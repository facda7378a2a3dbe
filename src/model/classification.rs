//! Classification carried by every feature: owning component and level.
//!
//! The access layer (server issue) enforces it; here it is modelled and defaulted.
//! Defaults err on the side of protection: sexual-violence and child cases and
//! anything naming a source default to the highest level.

use std::fmt;
use std::str::FromStr;

/// The component that owns a feature and decides who else sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    /// Human rights component.
    Hr,
    /// Military component (force HQ, sectors, JOC).
    Military,
    /// The mission as a whole (JMAC, civil affairs, ...).
    Mission,
}

/// Classification level, from least to most protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// May be shared with anyone.
    Public,
    /// Mission staff only.
    Mission,
    /// The owning component only, unless shared.
    Restricted,
    /// Named individuals in the owning component.
    StrictlyConfidential,
}

impl Owner {
    /// Allowed values, as written in GeoJSON.
    pub const VALUES: &'static [&'static str] = &["hr", "military", "mission"];
    /// The value as written in GeoJSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::Hr => "hr",
            Owner::Military => "military",
            Owner::Mission => "mission",
        }
    }
}

impl Level {
    /// Allowed values, as written in GeoJSON.
    pub const VALUES: &'static [&'static str] =
        &["public", "mission", "restricted", "strictly-confidential"];
    /// The value as written in GeoJSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Public => "public",
            Level::Mission => "mission",
            Level::Restricted => "restricted",
            Level::StrictlyConfidential => "strictly-confidential",
        }
    }
}

impl FromStr for Owner {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "hr" => Ok(Owner::Hr),
            "military" => Ok(Owner::Military),
            "mission" => Ok(Owner::Mission),
            _ => Err(()),
        }
    }
}

impl FromStr for Level {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "public" => Ok(Level::Public),
            "mission" => Ok(Level::Mission),
            "restricted" => Ok(Level::Restricted),
            "strictly-confidential" => Ok(Level::StrictlyConfidential),
            _ => Err(()),
        }
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the feature is a sexual-violence or child case: category
/// `sexual-violence` or `child-recruitment`, or any `*_girls` / `*_boys` count
/// above zero. Such cases need `k_sensitive` features in an aggregate.
pub fn is_sensitive(f: &super::Feature) -> bool {
    matches!(
        f.str("category"),
        Some("sexual-violence") | Some("child-recruitment")
    ) || f.properties.iter().any(|(k, v)| {
        (k.ends_with("_girls") || k.ends_with("_boys"))
            && v.as_f64().is_some_and(|n| n > 0.0 || n.is_nan())
    })
}

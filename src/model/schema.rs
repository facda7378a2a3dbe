//! The schema of every layer: field names, types, allowed values and defaults.
//!
//! One table per layer drives validation ([`super::feature`]), the store's
//! columns and `docs/data-model.md`. Property names are flat so that GIS tools
//! show each field as a column.

/// The type of a field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text.
    Text,
    /// One of a fixed list of strings.
    Enum(&'static [&'static str]),
    /// A non-negative integer (people, strength).
    Count,
    /// An integer within an inclusive range.
    IntRange(i64, i64),
    /// A finite number greater than zero.
    PositiveReal,
    /// A finite number in (0, 1]: a share or probability.
    Fraction,
    /// A list of RFC 3339 times, one per geometry vertex.
    TimeList,
}

impl FieldKind {
    /// SQLite column type used by the store.
    pub fn sql_type(self) -> &'static str {
        match self {
            FieldKind::Text | FieldKind::Enum(_) | FieldKind::TimeList => "TEXT",
            FieldKind::Count | FieldKind::IntRange(..) => "INTEGER",
            FieldKind::PositiveReal | FieldKind::Fraction => "REAL",
        }
    }
}

/// One field of a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// Property name in GeoJSON and column name in the store.
    pub name: &'static str,
    /// Value type.
    pub kind: FieldKind,
    /// Whether a feature without it is refused.
    pub required: bool,
    /// Default written when the field is absent (`None`: stays absent, unless
    /// `derived` says how it is computed).
    pub default: Option<&'static str>,
    /// How an absent value is derived from other fields, when it is.
    pub derived: Option<&'static str>,
    /// One line for the documentation.
    pub doc: &'static str,
}

const fn f(name: &'static str, kind: FieldKind, doc: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        kind,
        required: false,
        default: None,
        derived: None,
        doc,
    }
}

const fn req(name: &'static str, kind: FieldKind, doc: &'static str) -> FieldSpec {
    FieldSpec {
        required: true,
        ..f(name, kind, doc)
    }
}

const fn def(
    name: &'static str,
    kind: FieldKind,
    default: &'static str,
    doc: &'static str,
) -> FieldSpec {
    FieldSpec {
        default: Some(default),
        ..f(name, kind, doc)
    }
}

const fn derived(
    name: &'static str,
    kind: FieldKind,
    how: &'static str,
    doc: &'static str,
) -> FieldSpec {
    FieldSpec {
        derived: Some(how),
        ..f(name, kind, doc)
    }
}

const fn count(name: &'static str, doc: &'static str) -> FieldSpec {
    def(name, FieldKind::Count, "0", doc)
}

/// Incident categories.
pub const CATEGORIES: &[&str] = &[
    "killing",
    "injury",
    "abduction",
    "sexual-violence",
    "attack-on-civilian-site",
    "looting-burning",
    "forced-displacement",
    "child-recruitment",
    "arbitrary-detention",
    "threat-intimidation",
    "explosive-ordnance",
    "other",
];
/// Kinds of civilian site for `attack-on-civilian-site`.
pub const SITE_TYPES: &[&str] = &[
    "school",
    "health-post",
    "idp-site",
    "place-of-worship",
    "market",
    "other",
];
/// Perpetrator categories.
pub const PERPETRATOR_CATEGORIES: &[&str] = &[
    "non-state-armed-group",
    "state-forces",
    "foreign-forces",
    "community-based",
    "criminal",
    "mission",
    "unknown",
];
/// Verification status, from least to most established.
pub const VERIFICATION: &[&str] = &["alert", "reported", "corroborated", "verified"];
/// Where the information came from.
pub const SOURCE_TYPES: &[&str] = &[
    "victim",
    "witness",
    "community-alert-network",
    "civil-society",
    "open-source",
    "media",
    "authorities",
    "un-agency",
    "mission",
    "other",
    "unknown",
];
/// Source reliability grades (A totally reliable .. F cannot be judged).
pub const RELIABILITY: &[&str] = &["A", "B", "C", "D", "E", "F"];
/// Location precision, from finest to coarsest.
pub const PRECISION: &[&str] = &["exact", "settlement", "district", "province"];
/// Consent scope given by the victim or witness: who may see the record at all.
pub const CONSENT: &[&str] = &["none", "hr-only", "mission", "partners"];
/// What an armed group was seen doing.
pub const ACTIVITIES: &[&str] = &[
    "movement",
    "encampment",
    "checkpoint",
    "attack",
    "looting",
    "recruitment",
    "taxation",
    "other",
];
/// How a patrol travelled.
pub const MODES: &[&str] = &["foot", "vehicle", "air", "boat"];
/// Kinds of patrol.
pub const PATROL_KINDS: &[&str] = &[
    "routine",
    "integrated",
    "joint-police",
    "robust",
    "escort",
    "market",
    "firewood",
    "water-route",
];
/// Day or night patrol.
pub const PERIODS: &[&str] = &["day", "night"];
/// Kinds of base.
pub const BASE_TYPES: &[&str] = &[
    "mission-hq",
    "pob",
    "cob",
    "tob",
    "scd",
    "team-site",
    "field-office",
    "police-post",
    "poc-site",
];

/// Default reach in km of each base type (same order as [`BASE_TYPES`]): how
/// far a base's presence is felt when the feature gives no `reach_km`.
pub const BASE_REACH_KM: &[f64] = &[30.0, 40.0, 25.0, 15.0, 15.0, 20.0, 15.0, 10.0, 5.0];

/// Default reach of a base type, in km.
pub fn default_reach_km(base_type: &str) -> Option<f64> {
    BASE_TYPES
        .iter()
        .position(|t| *t == base_type)
        .map(|i| BASE_REACH_KM[i])
}

/// Kinds of civilian site in the `sites` layer (the vulnerability layer).
pub const SITE_KINDS: &[&str] = &[
    "idp-site",
    "village",
    "town",
    "market",
    "school",
    "health-post",
    "water-point",
    "place-of-worship",
    "other",
];

/// Default vulnerability (1 low .. 5 very high) of each site kind (same order
/// as [`SITE_KINDS`]), when the feature gives no `vulnerability`.
pub const SITE_VULNERABILITY: &[i64] = &[5, 3, 2, 3, 4, 4, 3, 3, 2];

/// Default time exposure of each site kind (same order as [`SITE_KINDS`]):
/// the share of the time, in (0, 1], that civilians are there, when the
/// feature gives no `exposure`.
pub const SITE_EXPOSURE: &[f64] = &[1.0, 1.0, 1.0, 0.3, 0.4, 0.5, 0.3, 0.2, 1.0];

/// Default vulnerability of a site kind (1..5).
pub fn default_vulnerability(site_type: &str) -> Option<i64> {
    SITE_KINDS
        .iter()
        .position(|t| *t == site_type)
        .map(|i| SITE_VULNERABILITY[i])
}

/// Default time exposure of a site kind, in (0, 1].
pub fn default_exposure(site_type: &str) -> Option<f64> {
    SITE_KINDS
        .iter()
        .position(|t| *t == site_type)
        .map(|i| SITE_EXPOSURE[i])
}

/// Fields every layer has (handled by common code, listed here for the
/// documentation and the store).
pub const COMMON: &[FieldSpec] = &[
    req("time_start", FieldKind::Text, "start of the interval, or the instant (RFC 3339 or date; `time` is accepted for an instant)"),
    f("time_end", FieldKind::Text, "end of the interval; never before `time_start`"),
    derived("owner", FieldKind::Enum(super::Owner::VALUES), "incidents: hr; sightings, patrols, bases: military; sites: mission", "owning component"),
    derived("classification", FieldKind::Enum(super::Level::VALUES), "see the per-layer rules in docs/data-model.md", "classification level"),
];

/// Incident fields.
pub const INCIDENT: &[FieldSpec] = &[
    req("category", FieldKind::Enum(CATEGORIES), "what happened"),
    f(
        "site_type",
        FieldKind::Enum(SITE_TYPES),
        "kind of civilian site attacked",
    ),
    f(
        "perpetrator",
        FieldKind::Text,
        "alleged perpetrator (actor name)",
    ),
    def(
        "perpetrator_category",
        FieldKind::Enum(PERPETRATOR_CATEGORIES),
        "unknown",
        "category of the alleged perpetrator",
    ),
    count("killed_women", "women killed"),
    count("killed_men", "men killed"),
    count("killed_girls", "girls killed"),
    count("killed_boys", "boys killed"),
    count("killed_unknown", "people killed, sex or age unknown"),
    count("injured_women", "women injured"),
    count("injured_men", "men injured"),
    count("injured_girls", "girls injured"),
    count("injured_boys", "boys injured"),
    count("injured_unknown", "people injured, sex or age unknown"),
    count(
        "affected_women",
        "other women affected (abducted, displaced, detained ...)",
    ),
    count("affected_men", "other men affected"),
    count("affected_girls", "other girls affected"),
    count("affected_boys", "other boys affected"),
    count(
        "affected_unknown",
        "other people affected, sex or age unknown",
    ),
    def(
        "verification",
        FieldKind::Enum(VERIFICATION),
        "reported",
        "verification status",
    ),
    def(
        "source_type",
        FieldKind::Enum(SOURCE_TYPES),
        "unknown",
        "kind of source",
    ),
    def(
        "source_reliability",
        FieldKind::Enum(RELIABILITY),
        "F",
        "source reliability grade A-F",
    ),
    f(
        "source_name",
        FieldKind::Text,
        "who reported it (identifies a source: forces the highest level)",
    ),
    def(
        "location_precision",
        FieldKind::Enum(PRECISION),
        "settlement",
        "how precise the point is",
    ),
    def(
        "consent",
        FieldKind::Enum(CONSENT),
        "hr-only",
        "who the victim or witness consented to share with",
    ),
    f(
        "narrative",
        FieldKind::Text,
        "free-text narrative (never leaves the hr role)",
    ),
];

/// Armed-group sighting fields.
pub const SIGHTING: &[FieldSpec] = &[
    req("actor", FieldKind::Text, "armed group or actor seen"),
    f("strength", FieldKind::Count, "estimated number of fighters"),
    def(
        "activity",
        FieldKind::Enum(ACTIVITIES),
        "other",
        "what they were doing",
    ),
    def(
        "source_reliability",
        FieldKind::Enum(RELIABILITY),
        "F",
        "source reliability grade A-F",
    ),
    def(
        "info_credibility",
        FieldKind::IntRange(1, 6),
        "6",
        "information credibility 1 (confirmed) .. 6 (cannot be judged)",
    ),
];

/// Patrol track fields.
pub const PATROL: &[FieldSpec] = &[
    req("unit", FieldKind::Text, "unit that patrolled"),
    req("mode", FieldKind::Enum(MODES), "how it travelled"),
    def(
        "kind",
        FieldKind::Enum(PATROL_KINDS),
        "routine",
        "kind of patrol",
    ),
    derived(
        "period",
        FieldKind::Enum(PERIODS),
        "night when time_start is 18:00-05:59 UTC, else day",
        "day or night",
    ),
    f(
        "vertex_times",
        FieldKind::TimeList,
        "one time per vertex, non-decreasing, within [time_start, time_end]",
    ),
];

/// Base fields.
pub const BASE: &[FieldSpec] = &[
    req("name", FieldKind::Text, "base name"),
    req("base_type", FieldKind::Enum(BASE_TYPES), "kind of base"),
    derived(
        "reach_km",
        FieldKind::PositiveReal,
        "per base type (docs/data-model.md)",
        "radius of presence in km",
    ),
];

/// Civilian site fields (the vulnerability layer).
pub const SITE: &[FieldSpec] = &[
    req("name", FieldKind::Text, "site name"),
    req(
        "site_type",
        FieldKind::Enum(SITE_KINDS),
        "kind of civilian site",
    ),
    f(
        "population",
        FieldKind::Count,
        "people living at or using the site",
    ),
    derived(
        "vulnerability",
        FieldKind::IntRange(1, 5),
        "per site type (docs/data-model.md)",
        "vulnerability of the civilians there, 1 (low) .. 5 (very high)",
    ),
    derived(
        "exposure",
        FieldKind::Fraction,
        "per site type (docs/data-model.md)",
        "share of the time civilians are exposed there, in (0, 1]",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/data-model.md must name every field and every allowed value.
    #[test]
    fn documentation_names_every_field_and_value() {
        let doc = include_str!("../../docs/data-model.md");
        for spec in COMMON
            .iter()
            .chain(INCIDENT)
            .chain(SIGHTING)
            .chain(PATROL)
            .chain(BASE)
            .chain(SITE)
        {
            assert!(
                doc.contains(&format!("`{}`", spec.name)),
                "field {} undocumented",
                spec.name
            );
            if let FieldKind::Enum(values) = spec.kind {
                for v in values {
                    assert!(
                        doc.contains(&format!("`{v}`"))
                            || (spec.name.ends_with("reliability") && doc.contains("`A` ..")),
                        "value {v} of {} undocumented",
                        spec.name
                    );
                }
            }
            if let Some(d) = spec.default {
                assert!(doc.contains(d), "default {d} of {} undocumented", spec.name);
            }
        }
        assert_eq!(BASE_TYPES.len(), BASE_REACH_KM.len());
        assert_eq!(SITE_KINDS.len(), SITE_VULNERABILITY.len());
        assert_eq!(SITE_KINDS.len(), SITE_EXPOSURE.len());
    }

    /// The per-kind site defaults are valid values of their fields, and
    /// documented with the kind they belong to.
    #[test]
    fn site_defaults_are_in_range_and_documented() {
        let doc = include_str!("../../docs/data-model.md");
        for kind in SITE_KINDS {
            let v = default_vulnerability(kind).expect("every kind has a vulnerability");
            let e = default_exposure(kind).expect("every kind has an exposure");
            assert!((1..=5).contains(&v), "{kind}: vulnerability {v}");
            assert!(e > 0.0 && e <= 1.0, "{kind}: exposure {e}");
            assert!(
                doc.contains(&format!("{kind} {v}")),
                "default vulnerability of {kind} undocumented"
            );
            assert!(
                doc.contains(&format!("{kind} {e:?}")),
                "default exposure of {kind} undocumented"
            );
        }
        assert_eq!(default_vulnerability("idp-site"), Some(5));
        assert_eq!(default_exposure("market"), Some(0.3));
        assert_eq!(default_vulnerability("camp"), None);
        assert_eq!(default_exposure("camp"), None);
    }
}

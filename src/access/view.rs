//! Individual features: who may see a feature at all (classification,
//! consent) and which of its properties (hard rules, extras, the role's
//! redacted view).

use super::{LayerView, Policy, Role};
use crate::model::schema::COMMON;
use crate::model::{Feature, Layer, Level, Owner};
use crate::store::Consent;
use serde_json::Value;

/// Incident properties that never leave the hr role, whatever the
/// configuration says. Every extra (non-schema) property of an incident is
/// treated the same way: names and exact ages would live there.
pub const HR_ONLY_FIELDS: &[&str] = &["narrative", "source_name"];

/// Prefixes of the per-sex and age victim counts (`killed_women` ...).
pub(super) const COUNT_GROUPS: [&str; 3] = ["killed", "injured", "affected"];
const COUNT_WHO: [&str; 5] = ["women", "men", "girls", "boys", "unknown"];

/// Whether `name` is a field of `layer`'s schema (common or layer-specific).
pub(super) fn is_schema_field(layer: Layer, name: &str) -> bool {
    COMMON.iter().any(|f| f.name == name) || layer.fields().iter().any(|f| f.name == name)
}

/// Roles of the component that owns a feature.
pub(super) fn owner_roles(owner: Owner) -> &'static [Role] {
    match owner {
        Owner::Hr => &[Role::Hr],
        Owner::Military => &[Role::Military],
        Owner::Mission => &[Role::Hr, Role::Military, Role::Jmac],
    }
}

/// Whether the layer's records carry a consent scope.
fn has_consent(layer: Layer) -> bool {
    layer.fields().iter().any(|f| f.name == "consent")
}

/// What the gate's rules read of a record to decide whether a role may see
/// it or count it: classification, owner and consent scope. Both the
/// feature path ([`Marking::of`]) and the column path
/// ([`crate::store::EventColumns`]) build it, so one rule serves both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marking {
    /// Classification.
    pub level: Level,
    /// Owning component.
    pub owner: Owner,
    /// Consent scope.
    pub consent: Consent,
}

impl Marking {
    /// The marking of a feature.
    pub fn of(f: &Feature) -> Marking {
        Marking {
            level: f.level,
            owner: f.owner,
            consent: Consent::of(f.str("consent")),
        }
    }
}

/// Whether the classification lets `role` see the record.
fn level_allows(role: Role, m: &Marking) -> bool {
    match m.level {
        Level::Public => true,
        Level::Mission => role != Role::Partner,
        Level::Restricted | Level::StrictlyConfidential => owner_roles(m.owner).contains(&role),
    }
}

/// Whether the consent scope lets `role` see the record individually. A
/// missing or unknown scope lets only hr see it (fail closed).
fn consent_allows(role: Role, layer: Layer, m: &Marking) -> bool {
    if !has_consent(layer) || role == Role::Hr {
        return true;
    }
    match m.consent {
        Consent::Partners => true,
        Consent::Mission => role != Role::Partner,
        Consent::HrOnly | Consent::Unknown => false,
    }
}

/// Whether the record may count in an aggregate computed for `role`: every
/// consent scope but `none` (and a missing or unknown one) lets it count,
/// anonymously, in aggregates that suppress small counts.
pub(super) fn consent_allows_aggregate(role: Role, layer: Layer, m: &Marking) -> bool {
    if !has_consent(layer) || role == Role::Hr {
        return true;
    }
    m.consent != Consent::Unknown
}

/// Whether `role` may see the feature individually at all (classification and
/// consent; the layer view is checked separately).
pub(super) fn may_see(role: Role, layer: Layer, f: &Feature) -> bool {
    may_see_marked(role, layer, &Marking::of(f))
}

/// [`may_see`] of a record's marking.
pub(super) fn may_see_marked(role: Role, layer: Layer, m: &Marking) -> bool {
    level_allows(role, m) && consent_allows(role, layer, m)
}

pub use crate::model::classification::is_sensitive;

/// Individual features of one layer as one role may see them; from
/// [`Gate::features`](super::Gate::features).
#[derive(Debug, Clone)]
pub struct FeatureView<'a> {
    role: Role,
    layer: Layer,
    view: LayerView,
    /// The role's hidden list for the layer, when the view is redacted.
    hidden: &'a [String],
    /// Count groups whose five fields are all hidden: shown as a total.
    totals: Vec<&'static str>,
}

impl<'a> FeatureView<'a> {
    pub(super) fn new(policy: &'a Policy, role: Role, layer: Layer, view: LayerView) -> Self {
        let hidden: &[String] = if view == LayerView::Redacted {
            policy.hidden.get(role).get(layer)
        } else {
            &[]
        };
        let totals = if layer == Layer::Incidents {
            COUNT_GROUPS
                .into_iter()
                .filter(|g| {
                    COUNT_WHO
                        .iter()
                        .all(|w| hidden.iter().any(|h| *h == format!("{g}_{w}")))
                })
                .collect()
        } else {
            Vec::new()
        };
        FeatureView {
            role,
            layer,
            view,
            hidden,
            totals,
        }
    }

    /// The role this view is for.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The layer this view is of.
    pub fn layer(&self) -> Layer {
        self.layer
    }

    /// `Full` or `Redacted`.
    pub fn view(&self) -> LayerView {
        self.view
    }

    /// Whether the feature may be shown at all (classification and consent).
    pub fn visible(&self, f: &Feature) -> bool {
        may_see(self.role, self.layer, f)
    }

    /// The feature as GeoJSON ([`Feature::to_geojson`]) with the properties
    /// the role may not see removed; `None` when the feature may not be shown
    /// at all. In a redacted incident view whose hidden list covers all five
    /// per-sex and age counts of a group, the group is shown as its total
    /// (`killed_total`, `injured_total`, `affected_total`).
    pub fn show(&self, f: &Feature) -> Option<Value> {
        if !self.visible(f) {
            return None;
        }
        let owner = owner_roles(f.owner).contains(&self.role);
        let mut out = f.to_geojson();
        let props = out.get_mut("properties")?.as_object_mut()?;
        props.retain(|name, _| self.shows(name, owner));
        for g in &self.totals {
            let total: i64 = COUNT_WHO
                .iter()
                .map(|w| f.int(&format!("{g}_{w}")).unwrap_or(0).max(0))
                .fold(0i64, i64::saturating_add);
            props.insert(format!("{g}_total"), Value::from(total));
        }
        Some(out)
    }

    /// Whether a property `name` of a feature whose owner is (`owner`) or is
    /// not the role's component is shown.
    fn shows(&self, name: &str, owner: bool) -> bool {
        if self.role != Role::Hr && self.layer == Layer::Incidents {
            if HR_ONLY_FIELDS.contains(&name) {
                return false;
            }
            if !is_schema_field(self.layer, name) {
                return false;
            }
        }
        if !is_schema_field(self.layer, name) && !owner {
            return false;
        }
        !self.hidden.iter().any(|h| h == name)
    }

    /// The schema fields (common and layer-specific, in schema order) this
    /// view shows: what a collection's schema and queryables list for the
    /// role. A field absent from a feature is simply not there.
    pub fn schema_fields(&self) -> impl Iterator<Item = &'static crate::model::FieldSpec> + '_ {
        COMMON
            .iter()
            .chain(self.layer.fields())
            .filter(move |f| !self.hidden(f.name))
    }

    /// The totals (`killed_total` ...) this view shows in place of count
    /// groups it hides, each a non-negative integer.
    pub fn totals(&self) -> impl Iterator<Item = String> + '_ {
        self.totals.iter().map(|g| format!("{g}_total"))
    }

    /// Property names this view never shows (the server refuses filters on
    /// them, so a filter cannot be used as an oracle). Extras that some
    /// features show and others hide are not listed: apply filters to what
    /// [`FeatureView::show`] returns.
    pub fn hidden(&self, name: &str) -> bool {
        if self.totals.iter().any(|g| name == format!("{g}_total")) {
            return false;
        }
        if is_schema_field(self.layer, name) {
            return !self.shows(name, true);
        }
        // An extra: shown, if ever, only to roles of the owning component.
        let may_own = [Owner::Hr, Owner::Military, Owner::Mission]
            .into_iter()
            .any(|o| owner_roles(o).contains(&self.role));
        !may_own || !self.shows(name, true)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::{Gate, Principal};
    use super::*;
    use crate::model::TimeSpan;
    use chrono::TimeZone;
    use serde_json::{json, Map};

    pub(crate) fn principal(role: Role) -> Principal {
        Principal {
            name: format!("{role}-token"),
            role,
            ingest: vec![],
        }
    }

    /// A validated incident with every identifying field filled.
    pub(crate) fn incident(level: &str, consent: &str, owner: &str) -> Feature {
        let v = json!({"type": "Feature", "id": "inc-1",
            "geometry": {"type": "Point", "coordinates": [18.5, 4.4]},
            "properties": {"time_start": "2025-02-14T03:00:00Z", "category": "killing",
                "perpetrator": "Front Alpha", "perpetrator_category": "non-state-armed-group",
                "killed_women": 1, "killed_men": 2, "injured_girls": 1, "affected_unknown": 35,
                "verification": "verified", "source_type": "witness", "source_reliability": "B",
                "source_name": "Witness W", "location_precision": "exact", "consent": consent,
                "narrative": "Told by a witness", "owner": owner, "classification": level,
                "victim_age": 34, "village_code": "V-17"}});
        Feature::from_geojson(Layer::Incidents, v, "").unwrap()
    }

    fn base(level: &str) -> Feature {
        let v = json!({"type": "Feature", "id": "b-1",
            "geometry": {"type": "Point", "coordinates": [19.18, 6.99]},
            "properties": {"time_start": "2024-01-01", "name": "Kaga-Bandoro COB",
                "base_type": "cob", "classification": level, "garrison": 140}});
        Feature::from_geojson(Layer::Bases, v, "").unwrap()
    }

    fn props(v: &Value) -> &Map<String, Value> {
        v["properties"].as_object().unwrap()
    }

    fn gate() -> Gate {
        Gate::new(Policy::default(), None).unwrap()
    }

    #[test]
    fn hr_sees_its_incidents_in_full() {
        let g = gate();
        let view = g.features(&principal(Role::Hr), Layer::Incidents).unwrap();
        for level in Level::VALUES {
            for consent in crate::model::schema::CONSENT {
                let f = incident(level, consent, "hr");
                let shown = view.show(&f).expect("hr sees hr incidents");
                assert_eq!(props(&shown), props(&f.to_geojson()), "{level} {consent}");
            }
        }
        for name in ["narrative", "source_name", "victim_age", "killed_girls"] {
            assert!(!view.hidden(name), "{name}");
        }
    }

    #[test]
    fn military_sees_mission_incidents_redacted() {
        let g = gate();
        let view = g
            .features(&principal(Role::Military), Layer::Incidents)
            .unwrap();
        assert!(view
            .show(&incident("restricted", "mission", "hr"))
            .is_none());
        assert!(view
            .show(&incident("strictly-confidential", "partners", "hr"))
            .is_none());
        for level in ["mission", "public"] {
            let shown = view.show(&incident(level, "mission", "hr")).unwrap();
            let p = props(&shown);
            for gone in [
                "narrative",
                "source_name",
                "source_type",
                "perpetrator",
                "killed_women",
                "injured_girls",
                "victim_age",
                "village_code",
            ] {
                assert!(!p.contains_key(gone), "{gone} shown to military");
                assert!(view.hidden(gone), "{gone} not hidden");
            }
            for kept in [
                "category",
                "perpetrator_category",
                "verification",
                "source_reliability",
                "location_precision",
                "consent",
                "classification",
                "time_start",
            ] {
                assert!(p.contains_key(kept), "{kept} missing");
                assert!(!view.hidden(kept));
            }
            assert_eq!(p["killed_total"], 3);
            assert_eq!(p["injured_total"], 1);
            assert_eq!(p["affected_total"], 35);
            assert!(!view.hidden("killed_total"));
            assert_eq!(shown["geometry"]["coordinates"], json!([18.5, 4.4]));
        }
    }

    #[test]
    fn jmac_sees_incidents_without_identifying_fields() {
        let g = gate();
        let view = g
            .features(&principal(Role::Jmac), Layer::Incidents)
            .unwrap();
        let shown = view.show(&incident("mission", "mission", "hr")).unwrap();
        let p = props(&shown);
        for gone in [
            "narrative",
            "source_name",
            "source_type",
            "killed_men",
            "victim_age",
            "village_code",
        ] {
            assert!(!p.contains_key(gone), "{gone}");
        }
        assert_eq!(p["perpetrator"], "Front Alpha");
        assert_eq!(p["killed_total"], 3);
        // Mission-owned restricted incidents reach jmac; hr-owned ones do not.
        assert!(view
            .show(&incident("restricted", "mission", "hr"))
            .is_none());
        let mission_owned = view
            .show(&incident("restricted", "mission", "mission"))
            .unwrap();
        // Even the owner may not see an incident's extras unless it is hr.
        assert!(!props(&mission_owned).contains_key("village_code"));
    }

    /// The fields a view lists are exactly the properties it shows of a
    /// feature that has every field (schemas and filters rely on it).
    #[test]
    fn listed_fields_are_the_shown_ones() {
        let g = gate();
        for role in Role::ALL {
            let Ok(view) = g.features(&principal(role), Layer::Incidents) else {
                continue;
            };
            let f = incident("public", "partners", "mission");
            let shown = view.show(&f).unwrap();
            let mut listed: Vec<String> = view
                .schema_fields()
                .map(|s| s.name.to_string())
                .chain(view.totals())
                .filter(|n| n != "time_end" && n != "site_type")
                .collect();
            // The fixture's extras (shown to hr only) are no schema field.
            let mut got: Vec<String> = props(&shown)
                .keys()
                .filter(|k| !matches!(k.as_str(), "victim_age" | "village_code"))
                .cloned()
                .collect();
            listed.sort();
            got.sort();
            assert_eq!(listed, got, "{role}");
            assert_eq!(listed.contains(&"narrative".to_string()), role == Role::Hr);
        }
    }

    #[test]
    fn partner_sees_public_incidents_with_partner_consent_only() {
        let g = gate();
        let view = g
            .features(&principal(Role::Partner), Layer::Incidents)
            .unwrap();
        assert!(view.show(&incident("mission", "partners", "hr")).is_none());
        assert!(view.show(&incident("public", "mission", "hr")).is_none());
        let shown = view
            .show(&incident("public", "partners", "mission"))
            .unwrap();
        let p = props(&shown);
        for gone in [
            "narrative",
            "source_name",
            "source_type",
            "perpetrator",
            "killed_women",
            "village_code",
        ] {
            assert!(!p.contains_key(gone), "{gone}");
        }
        assert!(view.hidden("village_code") && view.hidden("narrative"));
    }

    /// `consent` caps who sees a record, whatever its classification.
    #[test]
    fn consent_caps_visibility() {
        let g = gate();
        let expect = |consent: &str, role: Role| match consent {
            "partners" => true,
            "mission" => role != Role::Partner,
            _ => role == Role::Hr,
        };
        for consent in ["none", "hr-only", "mission", "partners", "bogus"] {
            for role in Role::ALL {
                let view = g.features(&principal(role), Layer::Incidents).unwrap();
                // Public and mission-owned: only consent stands in the way.
                let mut f = incident("public", "partners", "mission");
                f.properties["consent"] = json!(consent);
                assert_eq!(
                    view.show(&f).is_some(),
                    expect(consent, role),
                    "{consent} {role}"
                );
            }
        }
        // A record without a consent scope: hr only.
        let mut f = incident("public", "partners", "mission");
        f.properties.shift_remove("consent");
        for role in Role::ALL {
            let view = g.features(&principal(role), Layer::Incidents).unwrap();
            assert_eq!(view.show(&f).is_some(), role == Role::Hr, "{role}");
        }
        // In aggregates: everything but `none` (and unknown) may count.
        for (consent, counts) in [
            ("none", false),
            ("hr-only", true),
            ("mission", true),
            ("partners", true),
            ("bogus", false),
        ] {
            let mut f = incident("restricted", "partners", "hr");
            f.properties["consent"] = json!(consent);
            for role in [Role::Military, Role::Jmac, Role::Partner] {
                assert_eq!(
                    consent_allows_aggregate(role, Layer::Incidents, &Marking::of(&f)),
                    counts,
                    "{consent} {role}"
                );
            }
            assert!(consent_allows_aggregate(
                Role::Hr,
                Layer::Incidents,
                &Marking::of(&f)
            ));
        }
    }

    /// `restricted` and `strictly-confidential` reach only the owning component.
    #[test]
    fn restricted_only_to_owner() {
        let mut policy = Policy::default();
        // Open every layer as far as the hard rules allow, so only the
        // classification rule can hide a feature.
        for role in Role::ALL {
            for layer in Layer::ALL {
                *policy.views.get_mut(role).get_mut(layer) =
                    super::super::policy::ceiling(role, layer);
            }
        }
        let g = Gate::new(policy, None).unwrap();
        for level in ["restricted", "strictly-confidential"] {
            for (owner, roles) in [
                ("hr", vec![Role::Hr]),
                ("military", vec![Role::Military]),
                ("mission", vec![Role::Hr, Role::Military, Role::Jmac]),
            ] {
                for role in Role::ALL {
                    let view = g.features(&principal(role), Layer::Bases).unwrap();
                    let mut f = base(level);
                    f.owner = owner.parse().unwrap();
                    assert_eq!(
                        view.show(&f).is_some(),
                        roles.contains(&role),
                        "{level} {owner} base to {role}"
                    );
                    let view = g.features(&principal(role), Layer::Incidents).unwrap();
                    let f = incident(level, "partners", owner);
                    assert_eq!(
                        view.show(&f).is_some(),
                        roles.contains(&role),
                        "{level} {owner} incident to {role}"
                    );
                }
            }
        }
        // Mission level: everyone but partners; public: everyone.
        for role in Role::ALL {
            let view = g.features(&principal(role), Layer::Bases).unwrap();
            assert_eq!(view.show(&base("mission")).is_some(), role != Role::Partner);
            assert!(view.show(&base("public")).is_some());
        }
    }

    #[test]
    fn extras_only_to_the_owner() {
        let g = gate();
        let f = base("mission"); // owner military by default
        for role in [Role::Hr, Role::Military, Role::Jmac] {
            let view = g.features(&principal(role), Layer::Bases).unwrap();
            let shown = view.show(&f).unwrap();
            assert_eq!(
                props(&shown).contains_key("garrison"),
                role == Role::Military,
                "{role}"
            );
            assert_eq!(props(&shown)["name"], "Kaga-Bandoro COB");
            assert!(!view.hidden("garrison"), "sometimes shown to {role}");
        }
        let view = g.features(&principal(Role::Partner), Layer::Bases).unwrap();
        assert!(view.hidden("garrison"));
        let shown = view.show(&base("public")).unwrap();
        assert!(!props(&shown).contains_key("garrison"));
        assert_eq!(shown["geometry"]["coordinates"], json!([19.18, 6.99]));
        // Partners never see a base's exact position unless it is public.
        assert!(view.show(&base("mission")).is_none());
    }

    #[test]
    fn partner_sightings_hide_intelligence_grades() {
        let g = gate();
        let view = g
            .features(&principal(Role::Partner), Layer::Sightings)
            .unwrap();
        let v = json!({"type": "Feature", "id": "s-1",
            "geometry": {"type": "Point", "coordinates": [19.21, 7.02]},
            "properties": {"time_start": "2025-03-01T17:45:00Z", "actor": "Mouvement Bravo",
                "strength": 60, "source_reliability": "C", "info_credibility": 3,
                "classification": "public"}});
        let f = Feature::from_geojson(Layer::Sightings, v, "").unwrap();
        let shown = view.show(&f).unwrap();
        let p = props(&shown);
        assert!(!p.contains_key("source_reliability") && !p.contains_key("info_credibility"));
        assert_eq!(p["actor"], "Mouvement Bravo");
        let mil = g
            .features(&principal(Role::Military), Layer::Sightings)
            .unwrap();
        assert_eq!(props(&mil.show(&f).unwrap())["info_credibility"], 3);
    }

    #[test]
    fn is_sensitive_cases() {
        let mk = |props: Value| Feature {
            id: "x".into(),
            geometry: geo_types::Geometry::Point(geo_types::Point::new(0.0, 0.0)),
            time: TimeSpan {
                start: chrono::Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
                end: None,
            },
            owner: Owner::Hr,
            level: Level::Restricted,
            properties: props.as_object().unwrap().clone(),
        };
        assert!(is_sensitive(&mk(json!({"category": "sexual-violence"}))));
        assert!(is_sensitive(&mk(json!({"category": "child-recruitment"}))));
        for k in [
            "killed_girls",
            "killed_boys",
            "injured_girls",
            "injured_boys",
            "affected_girls",
            "affected_boys",
        ] {
            assert!(
                is_sensitive(&mk(json!({"category": "killing", k: 1}))),
                "{k}"
            );
            assert!(
                !is_sensitive(&mk(json!({"category": "killing", k: 0}))),
                "{k}"
            );
        }
        assert!(!is_sensitive(&mk(
            json!({"category": "killing", "killed_women": 4,
            "affected_unknown": 30})
        )));
        assert!(!is_sensitive(&mk(json!({"category": "abduction"}))));
        // As validated from GeoJSON: the fixture has injured_girls = 1.
        assert!(is_sensitive(&incident("mission", "mission", "hr")));
    }
}

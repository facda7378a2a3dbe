//! The access policy: the role x layer matrix, the properties each role's
//! redacted view hides, and the aggregate thresholds; its defaults, its TOML
//! form (an `[access]` table where every key is optional and overrides the
//! default) and its validation against the hard rules.

use super::view::{is_schema_field, COUNT_GROUPS, HR_ONLY_FIELDS};
use super::{AccessError, LayerView, Role};
use crate::model::Layer;
use serde::Deserialize;

/// One value per role.
#[derive(Debug, Clone, PartialEq)]
pub struct PerRole<T> {
    /// The hr role.
    pub hr: T,
    /// The military role.
    pub military: T,
    /// The jmac role.
    pub jmac: T,
    /// The partner role.
    pub partner: T,
}

impl<T> PerRole<T> {
    /// The value for `role`.
    pub fn get(&self, role: Role) -> &T {
        match role {
            Role::Hr => &self.hr,
            Role::Military => &self.military,
            Role::Jmac => &self.jmac,
            Role::Partner => &self.partner,
        }
    }

    /// The value for `role`, mutably.
    pub fn get_mut(&mut self, role: Role) -> &mut T {
        match role {
            Role::Hr => &mut self.hr,
            Role::Military => &mut self.military,
            Role::Jmac => &mut self.jmac,
            Role::Partner => &mut self.partner,
        }
    }
}

/// One value per layer.
#[derive(Debug, Clone, PartialEq)]
pub struct PerLayer<T> {
    /// Incidents.
    pub incidents: T,
    /// Sightings.
    pub sightings: T,
    /// Patrols.
    pub patrols: T,
    /// Bases.
    pub bases: T,
    /// Civilian sites.
    pub sites: T,
}

impl<T> PerLayer<T> {
    /// The value for `layer`.
    pub fn get(&self, layer: Layer) -> &T {
        match layer {
            Layer::Incidents => &self.incidents,
            Layer::Sightings => &self.sightings,
            Layer::Patrols => &self.patrols,
            Layer::Bases => &self.bases,
            Layer::Sites => &self.sites,
        }
    }

    /// The value for `layer`, mutably.
    pub fn get_mut(&mut self, layer: Layer) -> &mut T {
        match layer {
            Layer::Incidents => &mut self.incidents,
            Layer::Sightings => &mut self.sightings,
            Layer::Patrols => &mut self.patrols,
            Layer::Bases => &mut self.bases,
            Layer::Sites => &mut self.sites,
        }
    }
}

/// The access policy. `Policy::default()` is the default matrix of
/// `docs/security.md`; deserialised from an `[access]` table, every key is
/// optional and overrides the default, and unknown keys are refused:
///
/// ```toml
/// [access]
/// k = 5                    # smallest count an aggregate may show
/// k_sensitive = 10         # ... when it holds sexual-violence or child cases
/// min_cell_km = 10         # smallest aggregate cell for roles without full view
/// patrol_delay_hours = 72  # patrol data newer than this reaches non-military roles not at all
/// grid_anchor = [20.0, 6.0]  # mission origin: aggregate cells on whole multiples of min_cell_km from it
/// time_step_days = 91      # aggregates for roles without full view count whole 13-week steps (from Monday)
/// [access.views.hr]        # full | redacted | aggregates-only | none, per layer
/// sightings = "redacted"
/// [access.hidden.partner]  # properties a redacted view hides (replaces the default list)
/// sightings = ["source_reliability", "info_credibility", "strength"]
/// ```
///
/// [`Gate::new`](super::Gate::new) validates it ([`Policy::validate`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "PolicyFile")]
pub struct Policy {
    /// Aggregates built from fewer features are suppressed (default 5).
    pub k: usize,
    /// ... and from fewer than this when they contain any sexual-violence or
    /// child case (default 10).
    pub k_sensitive: usize,
    /// Smallest aggregate cell, in km, for roles that may not see the
    /// underlying features in full (default 10).
    pub min_cell_km: f64,
    /// Patrol data newer than now minus this many hours is left out of
    /// aggregates for roles other than military (default 72).
    pub patrol_delay_hours: f64,
    /// The mission origin (lon, lat): square aggregate cells for roles
    /// without full view lie on whole multiples of the cell size from it,
    /// never anchored at a request's bbox or at the data (default 0, 0; set
    /// it to the middle of the mission area to keep cells square there).
    pub grid_anchor: [f64; 2],
    /// Length of the time steps (whole days, from Monday 1970-01-05) that
    /// windows are snapped to and events grouped by for roles without full
    /// view (default 91: thirteen weeks, a quarter).
    pub time_step_days: u32,
    /// How each role sees each layer.
    pub views: PerRole<PerLayer<LayerView>>,
    /// Properties each role's `redacted` view of each layer hides. The hard
    /// rules apply on top whatever the lists say.
    pub hidden: PerRole<PerLayer<Vec<String>>>,
}

/// Per-sex and age counts of victims.
fn victim_counts() -> impl Iterator<Item = String> {
    const WHO: [&str; 5] = ["women", "men", "girls", "boys", "unknown"];
    COUNT_GROUPS
        .iter()
        .flat_map(|g| WHO.iter().map(move |w| format!("{g}_{w}")))
}

fn list(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn layers<T: Clone>(all: T) -> PerLayer<T> {
    PerLayer {
        incidents: all.clone(),
        sightings: all.clone(),
        patrols: all.clone(),
        bases: all.clone(),
        sites: all,
    }
}

impl Default for Policy {
    fn default() -> Self {
        use LayerView::*;
        let incidents_hidden = |extra: &[&str]| -> Vec<String> {
            let mut v = list(HR_ONLY_FIELDS);
            v.extend(list(extra));
            v.extend(victim_counts());
            v
        };
        Policy {
            k: 5,
            k_sensitive: 10,
            min_cell_km: 10.0,
            patrol_delay_hours: 72.0,
            grid_anchor: [0.0, 0.0],
            time_step_days: 91,
            views: PerRole {
                hr: PerLayer {
                    incidents: Full,
                    sightings: AggregatesOnly,
                    patrols: AggregatesOnly,
                    bases: Full,
                    sites: Full,
                },
                military: PerLayer {
                    incidents: Redacted,
                    sightings: Full,
                    patrols: Full,
                    bases: Full,
                    sites: Full,
                },
                jmac: PerLayer {
                    incidents: Redacted,
                    sightings: Full,
                    patrols: AggregatesOnly,
                    bases: Full,
                    sites: Full,
                },
                partner: PerLayer {
                    incidents: Redacted,
                    sightings: Redacted,
                    patrols: AggregatesOnly,
                    bases: Redacted,
                    sites: Redacted,
                },
            },
            hidden: PerRole {
                hr: layers(Vec::new()),
                military: PerLayer {
                    incidents: incidents_hidden(&["source_type", "perpetrator"]),
                    ..layers(Vec::new())
                },
                jmac: PerLayer {
                    incidents: incidents_hidden(&["source_type"]),
                    ..layers(Vec::new())
                },
                partner: PerLayer {
                    incidents: incidents_hidden(&["source_type", "perpetrator"]),
                    sightings: list(&["source_reliability", "info_credibility"]),
                    ..layers(Vec::new())
                },
            },
        }
    }
}

/// The most open view the hard rules allow `role` on `layer`, whatever the
/// configuration says.
pub(super) fn ceiling(role: Role, layer: Layer) -> LayerView {
    match (role, layer) {
        // Narrative, names, sources and exact ages never leave hr.
        (r, Layer::Incidents) if r != Role::Hr => LayerView::Redacted,
        // Patrol tracks and plans stay with the military.
        (r, Layer::Patrols) if r != Role::Military => LayerView::AggregatesOnly,
        _ => LayerView::Full,
    }
}

impl Policy {
    /// Reads the `[access]` table of a TOML configuration file (other tables
    /// and keys of the file are left to their owners); a missing table gives
    /// the default policy. The result is validated.
    pub fn from_toml(text: &str) -> Result<Policy, AccessError> {
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            access: Option<Policy>,
        }
        let file: File = toml::from_str(text).map_err(|e| AccessError::Config(e.to_string()))?;
        let policy = file.access.unwrap_or_default();
        policy.validate()?;
        Ok(policy)
    }

    /// Checks the policy against the hard rules: numbers in range; no role
    /// but hr with a `full` view of incidents, and every other role's hidden
    /// list for incidents naming [`HR_ONLY_FIELDS`]; no role but military with
    /// individual patrols; every hidden property a field of its layer.
    pub fn validate(&self) -> Result<(), AccessError> {
        let bad = |m: String| Err(AccessError::Config(m));
        if self.k < 2 {
            return bad(format!("k = {} must be at least 2", self.k));
        }
        if self.k_sensitive < self.k {
            return bad(format!(
                "k_sensitive = {} must be at least k = {}",
                self.k_sensitive, self.k
            ));
        }
        if !(self.min_cell_km.is_finite() && self.min_cell_km > 0.0) {
            return bad(format!(
                "min_cell_km = {} must be a number greater than 0",
                self.min_cell_km
            ));
        }
        if !(self.patrol_delay_hours.is_finite() && self.patrol_delay_hours >= 0.0) {
            return bad(format!(
                "patrol_delay_hours = {} must be a number at least 0",
                self.patrol_delay_hours
            ));
        }
        let [lon, lat] = self.grid_anchor;
        if !(lon.is_finite() && lat.is_finite() && lon.abs() <= 180.0 && lat.abs() <= 85.0) {
            return bad(format!(
                "grid_anchor = [{lon}, {lat}] must be a longitude (-180..180) and a latitude (-85..85)"
            ));
        }
        if !(1..=366).contains(&self.time_step_days) {
            return bad(format!(
                "time_step_days = {} must be a whole number of days from 1 to 366",
                self.time_step_days
            ));
        }
        for role in Role::ALL {
            for layer in Layer::ALL {
                let view = *self.views.get(role).get(layer);
                let ceiling = ceiling(role, layer);
                if view.rank() > ceiling.rank() {
                    let why = if layer == Layer::Incidents {
                        "narrative, names, sources and exact ages never leave the hr role"
                    } else {
                        "patrol tracks and plans reach roles other than military only as aggregates"
                    };
                    return bad(format!(
                        "views.{role}.{layer} = \"{view}\" is not allowed (at most \"{ceiling}\"): {why}"
                    ));
                }
                let hidden = self.hidden.get(role).get(layer);
                for name in hidden {
                    if !is_schema_field(layer, name) {
                        return bad(format!(
                            "hidden.{role}.{layer}: {name:?} is not a field of {layer}"
                        ));
                    }
                }
                if layer == Layer::Incidents && role != Role::Hr {
                    for must in HR_ONLY_FIELDS {
                        if !hidden.iter().any(|h| h == must) {
                            return bad(format!(
                                "hidden.{role}.incidents must list {must:?}: narrative, names, \
                                 sources and exact ages never leave the hr role"
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// The TOML form: every key optional.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct PolicyFile {
    k: Option<usize>,
    k_sensitive: Option<usize>,
    min_cell_km: Option<f64>,
    patrol_delay_hours: Option<f64>,
    grid_anchor: Option<[f64; 2]>,
    time_step_days: Option<u32>,
    views: RolesFile<LayerView>,
    hidden: RolesFile<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RolesFile<T> {
    hr: LayersFile<T>,
    military: LayersFile<T>,
    jmac: LayersFile<T>,
    partner: LayersFile<T>,
}

impl<T> Default for RolesFile<T> {
    fn default() -> Self {
        RolesFile {
            hr: LayersFile::default(),
            military: LayersFile::default(),
            jmac: LayersFile::default(),
            partner: LayersFile::default(),
        }
    }
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct LayersFile<T> {
    incidents: Option<T>,
    sightings: Option<T>,
    patrols: Option<T>,
    bases: Option<T>,
    sites: Option<T>,
}

impl<T> Default for LayersFile<T> {
    fn default() -> Self {
        LayersFile {
            incidents: None,
            sightings: None,
            patrols: None,
            bases: None,
            sites: None,
        }
    }
}

impl<T> RolesFile<T> {
    fn apply(self, to: &mut PerRole<PerLayer<T>>) {
        self.hr.apply(&mut to.hr);
        self.military.apply(&mut to.military);
        self.jmac.apply(&mut to.jmac);
        self.partner.apply(&mut to.partner);
    }
}

impl<T> LayersFile<T> {
    fn apply(self, to: &mut PerLayer<T>) {
        let set = |slot: &mut T, v: Option<T>| {
            if let Some(v) = v {
                *slot = v;
            }
        };
        set(&mut to.incidents, self.incidents);
        set(&mut to.sightings, self.sightings);
        set(&mut to.patrols, self.patrols);
        set(&mut to.bases, self.bases);
        set(&mut to.sites, self.sites);
    }
}

impl From<PolicyFile> for Policy {
    fn from(f: PolicyFile) -> Policy {
        let mut p = Policy::default();
        if let Some(k) = f.k {
            p.k = k;
        }
        if let Some(k) = f.k_sensitive {
            p.k_sensitive = k;
        }
        if let Some(m) = f.min_cell_km {
            p.min_cell_km = m;
        }
        if let Some(h) = f.patrol_delay_hours {
            p.patrol_delay_hours = h;
        }
        if let Some(a) = f.grid_anchor {
            p.grid_anchor = a;
        }
        if let Some(d) = f.time_step_days {
            p.time_step_days = d;
        }
        f.views.apply(&mut p.views);
        f.hidden.apply(&mut p.hidden);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_error(p: Policy) -> String {
        match p.validate() {
            Err(AccessError::Config(m)) => m,
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[test]
    fn default_policy_is_valid_and_hides_identifying_fields() {
        let p = Policy::default();
        p.validate().unwrap();
        for role in [Role::Military, Role::Jmac, Role::Partner] {
            let h = &p.hidden.get(role).incidents;
            for name in [
                "narrative",
                "source_name",
                "source_type",
                "killed_girls",
                "affected_unknown",
            ] {
                assert!(h.iter().any(|x| x == name), "{role} shows {name}");
            }
            assert_eq!(
                h.iter().any(|x| x == "perpetrator"),
                role != Role::Jmac,
                "{role}: perpetrator"
            );
        }
        assert!(p.hidden.hr.incidents.is_empty());
    }

    /// Hard rule: whatever a configuration says, narrative (and the other
    /// identifying fields) never reach a role other than hr.
    #[test]
    fn config_giving_narrative_to_jmac_is_refused() {
        let mut p = Policy::default();
        p.hidden.jmac.incidents.retain(|h| h != "narrative");
        let m = config_error(p);
        assert!(m.contains("jmac") && m.contains("narrative"), "{m}");

        let mut p = Policy::default();
        p.views.jmac.incidents = LayerView::Full;
        let m = config_error(p);
        assert!(m.contains("views.jmac.incidents"), "{m}");

        let mut p = Policy::default();
        p.hidden.military.incidents.clear();
        assert!(config_error(p).contains("military"));

        let mut p = Policy::default();
        p.hidden.partner.incidents.retain(|h| h != "source_name");
        assert!(config_error(p).contains("source_name"));

        // And through TOML, by the same validation.
        let e =
            Policy::from_toml("[access.hidden.jmac]\nincidents = [\"source_name\"]\n").unwrap_err();
        assert!(
            matches!(&e, AccessError::Config(m) if m.contains("narrative")),
            "{e}"
        );
        let e = Policy::from_toml("[access.views.partner]\nincidents = \"full\"\n").unwrap_err();
        assert!(matches!(e, AccessError::Config(_)));
        // The gate refuses it too.
        let mut p = Policy::default();
        p.views.military.incidents = LayerView::Full;
        assert!(matches!(
            super::super::Gate::new(p, None),
            Err(AccessError::Config(_))
        ));
    }

    #[test]
    fn patrols_stay_aggregated_for_non_military() {
        for role in [Role::Hr, Role::Jmac, Role::Partner] {
            for v in [LayerView::Full, LayerView::Redacted] {
                let mut p = Policy::default();
                *p.views.get_mut(role).get_mut(Layer::Patrols) = v;
                let m = config_error(p);
                assert!(m.contains(&format!("views.{role}.patrols")), "{m}");
            }
        }
        let mut p = Policy::default();
        p.views.partner.patrols = LayerView::None;
        p.validate().unwrap();
    }

    #[test]
    fn numbers_are_checked() {
        let p = Policy {
            k: 1,
            ..Policy::default()
        };
        assert!(config_error(p).contains("k = 1"));
        let p = Policy {
            k_sensitive: 4,
            ..Policy::default()
        };
        assert!(config_error(p).contains("k_sensitive"));
        let p = Policy {
            min_cell_km: 0.0,
            ..Policy::default()
        };
        assert!(config_error(p).contains("min_cell_km"));
        let p = Policy {
            min_cell_km: f64::NAN,
            ..Policy::default()
        };
        assert!(config_error(p).contains("min_cell_km"));
        let p = Policy {
            patrol_delay_hours: -1.0,
            ..Policy::default()
        };
        assert!(config_error(p).contains("patrol_delay_hours"));
    }

    #[test]
    fn hidden_names_must_be_fields_of_their_layer() {
        let mut p = Policy::default();
        p.hidden.partner.bases.push("nmae".into());
        let m = config_error(p);
        assert!(m.contains("nmae") && m.contains("bases"), "{m}");
        let mut p = Policy::default();
        p.hidden.partner.bases.push("time_start".into());
        p.hidden.partner.sites.push("population".into());
        p.validate().unwrap();
    }

    #[test]
    fn toml_partial_overrides_keep_the_rest_default() {
        let text = r#"
            [server]
            listen = "127.0.0.1:8080"   # other tables belong to others
            [access]
            k = 7
            patrol_delay_hours = 24.5
            [access.views.hr]
            sightings = "redacted"
            [access.views.partner]
            sites = "aggregates-only"
            [access.hidden.partner]
            sightings = ["strength"]
        "#;
        let p = Policy::from_toml(text).unwrap();
        let mut want = Policy {
            k: 7,
            patrol_delay_hours: 24.5,
            ..Policy::default()
        };
        want.views.hr.sightings = LayerView::Redacted;
        want.views.partner.sites = LayerView::AggregatesOnly;
        want.hidden.partner.sightings = vec!["strength".into()];
        assert_eq!(p, want);
        // No table, or an empty one: the default.
        assert_eq!(Policy::from_toml("").unwrap(), Policy::default());
        assert_eq!(Policy::from_toml("[access]").unwrap(), Policy::default());
        // Deserialisable on its own, as part of someone else's config struct.
        let p: Policy = toml::from_str("k_sensitive = 12\n[views.jmac]\nbases = \"none\"").unwrap();
        assert_eq!(p.k_sensitive, 12);
        assert_eq!(p.views.jmac.bases, LayerView::None);
        assert_eq!(p.k, 5);
    }

    #[test]
    fn toml_unknown_keys_are_refused() {
        for text in [
            "[access]\nkk = 5",
            "[access.views.admin]\nincidents = \"full\"",
            "[access.views.hr]\nvillages = \"full\"",
            "[access.hidden.jmac]\nincidents_extra = []",
            "[access.views.hr]\nincidents = \"everything\"",
            "[access]\nk = -3",
        ] {
            let e = Policy::from_toml(text).unwrap_err();
            assert!(matches!(e, AccessError::Config(_)), "{text}: {e}");
        }
        let e = Policy::from_toml("[access]\nkk = 5")
            .unwrap_err()
            .to_string();
        assert!(e.contains("kk"), "{e}");
    }
}

//! Aggregates: the rules an analysis run for a role must respect (minimum
//! counts, minimum cell, patrol delay, what may count), and the snapping
//! of individual geometry to the minimum cell used by [`super::disclose`].

use super::view::{consent_allows_aggregate, may_see_marked, owner_roles, Marking};
use super::{LayerView, Policy, Role};
use crate::model::{Feature, Layer, Owner};
use chrono::{DateTime, Utc};

/// Constraints an analysis over one layer, run for one role, must respect;
/// from [`Gate::aggregate_rules`](super::Gate::aggregate_rules).
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateRules {
    /// The role may see the underlying features in full: no suppression
    /// applies (and [`AggregateRules::admits`] lets in only the features the
    /// role may see individually).
    pub full: bool,
    /// Aggregates built from fewer features are suppressed (default 5).
    pub k: usize,
    /// ... and from fewer than this when they contain any sexual-violence or
    /// child case (default 10).
    pub k_sensitive: usize,
    /// The server coarsens requested cells to at least this (10 km by default
    /// for roles without full view; 0 when full).
    pub min_cell_m: f64,
    /// Patrol data newer than now minus this is left out (72 h for roles
    /// other than military on patrols; 0 otherwise).
    pub delay_hours: f64,
    /// Whether member ids may be listed: false unless full.
    pub list_members: bool,
    /// The role the analysis runs for.
    pub role: Role,
    /// The layer it runs over.
    pub layer: Layer,
}

/// The component owning a layer's features by default.
fn default_owner(layer: Layer) -> Owner {
    match layer {
        Layer::Incidents => Owner::Hr,
        Layer::Sightings | Layer::Patrols | Layer::Bases => Owner::Military,
        Layer::Sites => Owner::Mission,
    }
}

impl AggregateRules {
    pub(super) fn new(policy: &Policy, role: Role, layer: Layer, view: LayerView) -> Self {
        let full = view == LayerView::Full && owner_roles(default_owner(layer)).contains(&role);
        AggregateRules {
            full,
            k: policy.k,
            k_sensitive: policy.k_sensitive,
            min_cell_m: if full {
                0.0
            } else {
                policy.min_cell_km * 1000.0
            },
            delay_hours: if layer == Layer::Patrols && role != Role::Military {
                policy.patrol_delay_hours
            } else {
                0.0
            },
            list_members: full,
            role,
            layer,
        }
    }

    /// The latest time input data may reach, when recent data is delayed:
    /// features whose time (end, else start) is after it are left out.
    pub fn cutoff(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.delay_hours > 0.0 {
            let ms = (self.delay_hours * 3_600_000.0).min(1e15) as i64;
            Some(now - chrono::Duration::milliseconds(ms))
        } else {
            None
        }
    }

    /// Whether feature `f` may count in the analysis: not newer than the
    /// cutoff; when `full`, only features the role may see individually
    /// (classification and consent); otherwise any feature whose consent
    /// scope allows anonymous use (every scope but `none`).
    pub fn admits(&self, f: &Feature, now: DateTime<Utc>) -> bool {
        self.admits_marked(&Marking::of(f), f.time.last(), now)
    }

    /// [`AggregateRules::admits`] of a record's marking and last moment (its
    /// end, else its start): the one rule both the feature and the column
    /// paths apply.
    pub fn admits_marked(&self, m: &Marking, last: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        if let Some(cutoff) = self.cutoff(now) {
            if last > cutoff {
                return false;
            }
        }
        if self.full {
            may_see_marked(self.role, self.layer, m)
        } else {
            consent_allows_aggregate(self.role, self.layer, m)
        }
    }

    /// Whether an aggregate of `count` features, `count_sensitive` of them
    /// sensitive, may be shown.
    pub fn keeps(&self, count: u64, count_sensitive: u64) -> bool {
        if self.full {
            return true;
        }
        if count_sensitive > count {
            return false;
        }
        if count == 0 {
            return true;
        }
        let k = if count_sensitive > 0 {
            self.k_sensitive.max(self.k)
        } else {
            self.k
        };
        count >= k as u64
    }
}

/// Grid steps in degrees (longitude, latitude) for cells of `m` metres at
/// latitude `lat`.
fn steps(m: f64, lat: f64) -> (f64, f64) {
    let dlat = m / 111_320.0;
    let c = lat.abs().min(89.0).to_radians().cos();
    (dlat / c, dlat)
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// The envelope of `ring`, snapped outward to a grid of `m` metres (whole
/// cells, at least one), as a closed counter-clockwise ring; `None` without
/// a finite position.
pub(super) fn snapped_envelope_ring(ring: &[[f64; 2]], m: f64) -> Option<Vec<[f64; 2]>> {
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for &[x, y] in ring.iter().filter(|p| p[0].is_finite() && p[1].is_finite()) {
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return None;
    }
    let (_, dlat) = steps(m, 0.0);
    let sy0 = (y0 / dlat).floor() * dlat;
    let mut sy1 = (y1 / dlat).ceil() * dlat;
    if sy1 <= sy0 {
        sy1 = sy0 + dlat;
    }
    let (sy0, sy1) = (sy0.max(-90.0), sy1.min(90.0));
    let (dlon, _) = steps(m, sy0.abs().max(sy1.abs()));
    let sx0 = (x0 / dlon).floor() * dlon;
    let mut sx1 = (x1 / dlon).ceil() * dlon;
    if sx1 <= sx0 {
        sx1 = sx0 + dlon;
    }
    let (sx0, sx1) = (round6(sx0.max(-180.0)), round6(sx1.min(180.0)));
    let (sy0, sy1) = (round6(sy0), round6(sy1));
    Some(vec![
        [sx0, sy0],
        [sx1, sy0],
        [sx1, sy1],
        [sx0, sy1],
        [sx0, sy0],
    ])
}

/// A position moved to the centre of its grid cell of `m` metres.
pub(super) fn snapped_position(p: [f64; 2], m: f64) -> Option<[f64; 2]> {
    let [x, y] = p;
    if !(x.is_finite() && y.is_finite()) {
        return None;
    }
    let (_, dlat) = steps(m, 0.0);
    let cy = ((y / dlat).floor() + 0.5) * dlat;
    let (dlon, _) = steps(m, cy);
    let cx = ((x / dlon).floor() + 0.5) * dlon;
    Some([round6(cx), round6(cy)])
}

#[cfg(test)]
mod tests {
    use super::super::view::tests::{incident, principal};
    use super::super::Gate;
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn gate() -> Gate {
        Gate::new(Policy::default(), None).unwrap()
    }

    fn rules(role: Role, layer: Layer) -> AggregateRules {
        gate().aggregate_rules(&principal(role), layer).unwrap()
    }

    #[test]
    fn admits_consent_and_patrol_delay() {
        let now = Utc.with_ymd_and_hms(2025, 3, 10, 12, 0, 0).unwrap();
        // Consent: `none` counts only for hr.
        let mut f = incident("restricted", "none", "hr");
        assert!(!rules(Role::Military, Layer::Incidents).admits(&f, now));
        assert!(!rules(Role::Jmac, Layer::Incidents).admits(&f, now));
        assert!(rules(Role::Hr, Layer::Incidents).admits(&f, now));
        f.properties["consent"] = json!("hr-only");
        assert!(rules(Role::Military, Layer::Incidents).admits(&f, now));
        assert!(rules(Role::Partner, Layer::Incidents).admits(&f, now));
        // Full rules admit only what the role may see individually.
        let hr = rules(Role::Hr, Layer::Incidents);
        assert!(hr.admits(&incident("strictly-confidential", "none", "hr"), now));
        assert!(!hr.admits(&incident("restricted", "mission", "military"), now));

        let patrol = |hours_ago: i64| {
            let end = now - chrono::Duration::hours(hours_ago);
            let start = end - chrono::Duration::hours(2);
            let v = json!({"type": "Feature", "id": "p",
                "geometry": {"type": "LineString", "coordinates": [[18.5, 4.3], [18.6, 4.6]]},
                "properties": {"time_start": crate::model::time::format_time(&start),
                    "time_end": crate::model::time::format_time(&end), "unit": "Coy B", "mode": "foot"}});
            Feature::from_geojson(Layer::Patrols, v, "").unwrap()
        };
        for role in [Role::Hr, Role::Jmac, Role::Partner] {
            let r = rules(role, Layer::Patrols);
            assert_eq!(r.delay_hours, 72.0);
            assert_eq!(r.cutoff(now), Some(now - chrono::Duration::hours(72)));
            assert!(!r.admits(&patrol(10), now), "{role}");
            assert!(!r.admits(&patrol(71), now), "{role}");
            assert!(r.admits(&patrol(72), now), "{role}");
            assert!(r.admits(&patrol(100), now), "{role}");
        }
        let mil = rules(Role::Military, Layer::Patrols);
        assert!(mil.full && mil.cutoff(now).is_none());
        assert!(mil.admits(&patrol(1), now));
    }

    #[test]
    fn keeps_matches_the_thresholds() {
        let r = rules(Role::Partner, Layer::Incidents);
        assert!(r.keeps(0, 0));
        assert!(!r.keeps(4, 0));
        assert!(r.keeps(5, 0));
        assert!(!r.keeps(9, 9));
        assert!(r.keeps(10, 1));
        assert!(!r.keeps(10, 11));
        assert!(rules(Role::Hr, Layer::Incidents).keeps(1, 1));
    }
}

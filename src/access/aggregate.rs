//! Aggregates: the rules an analysis run for a role must respect, and the
//! post-filter that suppresses small counts, strips member ids and coarsens
//! what is not a grid cell. The conventions it relies on are in the module
//! documentation of [`crate::access`].

use super::view::{consent_allows_aggregate, may_see, owner_roles};
use super::{LayerView, Policy, Role};
use crate::model::{Feature, Layer, Owner};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

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
        if let Some(cutoff) = self.cutoff(now) {
            if f.time.last() > cutoff {
                return false;
            }
        }
        if self.full {
            may_see(self.role, self.layer, f)
        } else {
            consent_allows_aggregate(self.role, self.layer, f)
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

/// A non-negative integer count (`5` or `5.0`); `None` for anything else.
fn count_of(v: &Value) -> Option<u64> {
    if let Some(n) = v.as_u64() {
        return Some(n);
    }
    match v.as_f64() {
        Some(x) if x >= 0.0 && x.fract() == 0.0 && x < 9.0e15 => Some(x as u64),
        _ => None,
    }
}

/// The side in metres of a square with the mean area of an H3 cell.
fn h3_side_m(resolution: u64) -> Option<f64> {
    let r = u8::try_from(resolution).ok()?;
    h3o::Resolution::try_from(r)
        .ok()
        .map(|r| r.area_m2().sqrt())
}

/// The side in metres of a square as large as one cell of the collection's
/// grid (`jointmap.grid`, with `type` or `kind` `square` and `cell_m` or
/// `cell_km`, or `h3` and `resolution`); `Some(0)` when the grid is described
/// but unreadable (fail closed), `None` when the collection names no grid.
fn grid_side_m(root: &Map<String, Value>) -> Option<f64> {
    let grid = root.get("jointmap")?.get("grid")?;
    let kind = grid
        .get("type")
        .or_else(|| grid.get("kind"))
        .and_then(Value::as_str);
    let side = match kind {
        Some("square") => grid.get("cell_m").and_then(Value::as_f64).or_else(|| {
            grid.get("cell_km")
                .and_then(Value::as_f64)
                .map(|km| km * 1000.0)
        }),
        Some("h3") => grid
            .get("resolution")
            .and_then(Value::as_u64)
            .and_then(h3_side_m),
        _ => None,
    };
    Some(side.filter(|s| s.is_finite()).unwrap_or(0.0))
}

/// Whether a property holds member ids.
fn is_member_list(name: &str, v: &Value) -> bool {
    name == "members" || name == "ids" || name.ends_with("_ids") || (name == "id" && v.is_array())
}

/// Whether a property refers to one individual feature (of any layer): its
/// id or name, or a relation to it such as the distance to the nearest base,
/// from which its position could be worked out across cells.
fn is_feature_reference(name: &str) -> bool {
    name.ends_with("_id")
        || name.ends_with("_name")
        || name.starts_with("base_")
        || name.starts_with("nearest_")
}

/// Whether a property holds a time of individual events.
fn is_event_time(name: &str) -> bool {
    matches!(name, "first" | "last" | "time_start" | "time_end")
        || name.starts_with("first_")
        || name.starts_with("last_")
}

/// Whether a feature's geometry is made of grid cells (one cell, marked by
/// `cell` or `kind: "cell"`, or a union of cells, marked by `cells`), and so
/// is as coarse as the grid.
fn is_made_of_cells(props: &Map<String, Value>) -> bool {
    props.contains_key("cell")
        || props.contains_key("cells")
        || props.get("kind").and_then(Value::as_str) == Some("cell")
}

fn positions(v: &Value, out: &mut Vec<[f64; 2]>) {
    match v {
        Value::Object(o) => {
            if let Some(c) = o.get("coordinates") {
                positions(c, out);
            }
            if let Some(g) = o.get("geometries") {
                positions(g, out);
            }
        }
        Value::Array(a) => match (
            a.first().and_then(Value::as_f64),
            a.get(1).and_then(Value::as_f64),
        ) {
            (Some(x), Some(y)) => out.push([x, y]),
            _ => a.iter().for_each(|x| positions(x, out)),
        },
        _ => {}
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

/// The geometry's envelope, snapped outward to a grid of `m` metres, as a
/// polygon; null when it has no position.
fn snapped_envelope(geom: &Value, m: f64) -> Value {
    let mut pts = Vec::new();
    positions(geom, &mut pts);
    if pts.is_empty() {
        return Value::Null;
    }
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for [x, y] in pts {
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
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
    json!({"type": "Polygon", "coordinates": [[[sx0, sy0], [sx1, sy0], [sx1, sy1], [sx0, sy1], [sx0, sy0]]]})
}

/// A `[lon, lat]` pair moved to the centre of its grid cell of `m` metres.
fn snapped_point(v: &Value, m: f64) -> Value {
    let (Some(x), Some(y)) = (
        v.get(0).and_then(Value::as_f64),
        v.get(1).and_then(Value::as_f64),
    ) else {
        return Value::Null;
    };
    let (_, dlat) = steps(m, 0.0);
    let cy = ((y / dlat).floor() + 0.5) * dlat;
    let (dlon, _) = steps(m, cy);
    let cx = ((x / dlon).floor() + 0.5) * dlon;
    json!([round6(cx), round6(cy)])
}

/// Times cut to the day (`2025-02-14T03:00:00Z` -> `2025-02-14`).
fn day_of(v: &Value) -> Value {
    match v.as_str() {
        Some(s)
            if s.len() >= 10
                && s.is_char_boundary(10)
                && crate::model::time::is_date_only(&s[..10]) =>
        {
            Value::String(s[..10].to_string())
        }
        Some(_) => Value::Null,
        None => v.clone(),
    }
}

/// What the gate does with one aggregate feature.
fn filter_feature(rules: &AggregateRules, mut feature: Value) -> Option<Value> {
    if !rules.full {
        let props = feature.get("properties").and_then(Value::as_object)?;
        let count = count_of(props.get("count")?)?;
        let sensitive = match props.get("count_sensitive") {
            Some(v) => count_of(v)?,
            None if rules.layer == Layer::Incidents => count,
            None => 0,
        };
        if !rules.keeps(count, sensitive) {
            return None;
        }
    }
    let obj = feature.as_object_mut()?;
    if !rules.list_members && obj.get("id").is_some_and(Value::is_array) {
        obj.shift_remove("id");
    }
    if rules.full {
        if !rules.list_members {
            if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
                props.retain(|k, v| !is_member_list(k, v));
            }
        }
        return Some(feature);
    }
    let cells = obj
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(is_made_of_cells);
    let coarsen = rules.min_cell_m > 0.0 && !cells;
    if coarsen {
        if let Some(g) = obj.get_mut("geometry") {
            *g = snapped_envelope(g, rules.min_cell_m);
        }
    }
    if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
        props.retain(|k, v| {
            (rules.list_members || !is_member_list(k, v)) && !is_feature_reference(k)
        });
        for (name, v) in props.iter_mut() {
            if is_event_time(name) {
                *v = day_of(v);
            } else if coarsen && name == "centroid" {
                *v = snapped_point(v, rules.min_cell_m);
            }
        }
    }
    Some(feature)
}

/// [`Gate::aggregate`](super::Gate::aggregate).
pub(super) fn filter(rules: &AggregateRules, fc: Value) -> Value {
    let is_fc = fc.get("type").and_then(Value::as_str) == Some("FeatureCollection")
        && fc.get("features").is_some_and(Value::is_array);
    if !is_fc {
        if rules.full {
            return fc;
        }
        // Not a collection the gate can read: withhold it whole.
        return json!({"type": "FeatureCollection", "features": [],
            "jointmap": {"suppressed": 1}});
    }
    let Value::Object(mut root) = fc else {
        unreachable!("checked above")
    };
    let features = match root.shift_remove("features") {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    };
    let too_fine =
        !rules.full && grid_side_m(&root).is_some_and(|side| side + 1e-6 < rules.min_cell_m);
    let total = features.len();
    let kept: Vec<Value> = if too_fine {
        Vec::new()
    } else {
        features
            .into_iter()
            .filter_map(|f| filter_feature(rules, f))
            .collect()
    };
    let suppressed = total - kept.len();
    let meta = root
        .entry("jointmap")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    let meta = meta.as_object_mut().expect("made an object above");
    if !rules.list_members {
        meta.retain(|k, v| !is_member_list(k, v));
    }
    meta.insert("suppressed".into(), Value::from(suppressed));
    if too_fine {
        meta.insert(
            "withheld".into(),
            Value::String(format!(
                "grid cells smaller than the minimum of {} m for this role",
                rules.min_cell_m
            )),
        );
    }
    root.insert("features".into(), Value::Array(kept));
    Value::Object(root)
}

#[cfg(test)]
mod tests {
    use super::super::view::tests::{incident, principal};
    use super::super::Gate;
    use super::*;
    use chrono::TimeZone;

    fn gate() -> Gate {
        Gate::new(Policy::default(), None).unwrap()
    }

    fn rules(role: Role, layer: Layer) -> AggregateRules {
        gate().aggregate_rules(&principal(role), layer).unwrap()
    }

    fn cell(key: &str, props: Value) -> Value {
        let mut p = props.as_object().unwrap().clone();
        p.insert("cell".into(), key.into());
        json!({"type": "Feature", "id": key,
            "geometry": {"type": "Polygon", "coordinates": [[[18.0, 4.0], [18.1, 4.0], [18.1, 4.1], [18.0, 4.1], [18.0, 4.0]]]},
            "properties": p})
    }

    fn fc(features: Vec<Value>) -> Value {
        json!({"type": "FeatureCollection",
            "jointmap": {"analysis": "hotspots", "grid": {"type": "square", "cell_m": 10000.0}},
            "features": features})
    }

    fn ids(v: &Value) -> Vec<String> {
        v["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn suppression_at_k_and_k_sensitive() {
        let g = gate();
        let r = rules(Role::Military, Layer::Incidents);
        assert!(!r.full);
        let input = fc(vec![
            cell("zero", json!({"count": 0, "count_sensitive": 0})),
            cell("k-1", json!({"count": 4, "count_sensitive": 0})),
            cell("k", json!({"count": 5, "count_sensitive": 0})),
            cell("k-float", json!({"count": 5.0, "count_sensitive": 0})),
            cell("ks-1", json!({"count": 9, "count_sensitive": 1})),
            cell("ks", json!({"count": 10, "count_sensitive": 3})),
            cell("no-count", json!({"value": 12.0})),
            cell("bad-count", json!({"count": "many", "count_sensitive": 0})),
            cell("frac-count", json!({"count": 6.5, "count_sensitive": 0})),
            cell("neg-count", json!({"count": -6, "count_sensitive": 0})),
            cell("no-sensitive", json!({"count": 7})),
            cell("no-sensitive-10", json!({"count": 10})),
            cell("inconsistent", json!({"count": 0, "count_sensitive": 2})),
            json!({"type": "Feature", "id": "no-props", "geometry": null}),
        ]);
        let out = g.aggregate(&r, input);
        assert_eq!(ids(&out), ["zero", "k", "k-float", "ks", "no-sensitive-10"]);
        assert_eq!(out["jointmap"]["suppressed"], 9);
        assert_eq!(out["jointmap"]["analysis"], "hotspots");
        assert_eq!(out["type"], "FeatureCollection");
        // Grid cells keep their own geometry.
        assert_eq!(
            out["features"][1]["geometry"]["coordinates"][0][1],
            json!([18.1, 4.0])
        );

        // Off-by-one on k itself, with a configured k.
        let policy = Policy {
            k: 3,
            k_sensitive: 4,
            ..Policy::default()
        };
        let g = Gate::new(policy, None).unwrap();
        let r = g
            .aggregate_rules(&principal(Role::Partner), Layer::Incidents)
            .unwrap();
        let out = g.aggregate(
            &r,
            fc(vec![
                cell("2", json!({"count": 2, "count_sensitive": 0})),
                cell("3", json!({"count": 3, "count_sensitive": 0})),
                cell("3s", json!({"count": 3, "count_sensitive": 1})),
                cell("4s", json!({"count": 4, "count_sensitive": 4})),
            ]),
        );
        assert_eq!(ids(&out), ["3", "4s"]);
        assert_eq!(out["jointmap"]["suppressed"], 2);
    }

    #[test]
    fn missing_count_sensitive_is_only_presumed_for_incidents() {
        let g = gate();
        let r = rules(Role::Hr, Layer::Sightings);
        let out = g.aggregate(&r, fc(vec![cell("a", json!({"count": 5}))]));
        assert_eq!(ids(&out), ["a"]);
        let r = rules(Role::Hr, Layer::Patrols);
        let out = g.aggregate(&r, fc(vec![cell("a", json!({"count": 4}))]));
        assert!(ids(&out).is_empty());
    }

    #[test]
    fn members_are_stripped_unless_full() {
        let g = gate();
        let cluster = || {
            json!({"type": "Feature", "id": "cluster-1",
                "geometry": {"type": "Polygon", "coordinates": [[[18.0123, 4.0345], [18.2456, 4.0345], [18.2456, 4.3789], [18.0123, 4.0345]]]},
                "properties": {"kind": "cluster", "count": 12, "count_sensitive": 0,
                    "members": ["inc-1", "inc-2"], "event_ids": ["inc-1"], "ids": [1, 2],
                    "id": ["inc-3"], "centroid": [18.1234, 4.1234],
                    "first": "2025-02-14T03:00:00Z", "last": "2025-03-01T17:45:00.000Z",
                    "last_patrol": "2025-03-01T06:10:00Z", "nearest_base_name": "TOB Alpha",
                    "nearest_base_km": 12.3, "base_id": "b-7", "source_name": "W",
                    "leading_category": "killing"}})
        };
        let out = g.aggregate(
            &rules(Role::Jmac, Layer::Incidents),
            json!({"type": "FeatureCollection", "jointmap": {"analysis": "clusters", "members": ["x"]},
                "features": [cluster()]}),
        );
        let f = &out["features"][0];
        let p = f["properties"].as_object().unwrap();
        for gone in [
            "members",
            "event_ids",
            "ids",
            "id",
            "nearest_base_name",
            "nearest_base_km",
            "base_id",
            "source_name",
        ] {
            assert!(!p.contains_key(gone), "{gone}");
        }
        assert!(out["jointmap"].get("members").is_none());
        assert_eq!(f["id"], "cluster-1");
        assert_eq!(p["leading_category"], "killing");
        assert_eq!(p["first"], "2025-02-14");
        assert_eq!(p["last"], "2025-03-01");
        assert_eq!(p["last_patrol"], "2025-03-01");
        assert_eq!(out["jointmap"]["suppressed"], 0);

        let full = rules(Role::Hr, Layer::Incidents);
        assert!(full.full && full.list_members);
        let out = g.aggregate(&full, fc(vec![cluster()]));
        assert_eq!(out["features"][0], cluster());
        assert_eq!(out["jointmap"]["suppressed"], 0);
    }

    #[test]
    fn cluster_hulls_are_coarsened_to_the_minimum_cell() {
        let g = gate();
        let r = rules(Role::Military, Layer::Incidents);
        let hull = json!([[
            [18.0123, 4.0345],
            [18.2456, 4.0345],
            [18.2456, 4.3789],
            [18.0123, 4.0345]
        ]]);
        let out = g.aggregate(
            &r,
            json!({"type": "FeatureCollection", "features": [
                {"type": "Feature", "id": "cluster-1", "geometry": {"type": "Polygon", "coordinates": hull},
                 "properties": {"count": 12, "count_sensitive": 0, "centroid": [18.1234, 4.1234]}}]}),
        );
        let f = &out["features"][0];
        assert_eq!(f["geometry"]["type"], "Polygon");
        let ring = f["geometry"]["coordinates"][0].as_array().unwrap();
        assert_eq!(ring.len(), 5);
        let xs: Vec<f64> = ring.iter().map(|p| p[0].as_f64().unwrap()).collect();
        let ys: Vec<f64> = ring.iter().map(|p| p[1].as_f64().unwrap()).collect();
        let (x0, x1) = (xs[0], xs[1]);
        let (y0, y1) = (ys[0], ys[2]);
        // Contains the hull and is made of whole cells of at least 10 km.
        assert!(x0 <= 18.0123 && x1 >= 18.2456 && y0 <= 4.0345 && y1 >= 4.3789);
        let dlat = 10_000.0 / 111_320.0;
        for y in [y0, y1] {
            let cells = y / dlat;
            assert!((cells - cells.round()).abs() < 1e-4, "{y}");
        }
        assert!(y1 - y0 >= dlat - 1e-6 && x1 - x0 >= dlat - 1e-6);
        // None of the hull's exact vertices survives.
        for v in hull[0].as_array().unwrap() {
            assert!(!ring.contains(v), "{v}");
        }
        let c = &f["properties"]["centroid"];
        assert_ne!(c, &json!([18.1234, 4.1234]));
        assert!((c[1].as_f64().unwrap() - 4.1234).abs() <= dlat / 2.0 + 1e-6);
        // A point becomes one whole cell.
        let out = g.aggregate(
            &r,
            json!({"type": "FeatureCollection", "features": [
                {"type": "Feature", "geometry": {"type": "Point", "coordinates": [18.5, 4.4]},
                 "properties": {"count": 5, "count_sensitive": 0}}]}),
        );
        assert_eq!(out["features"][0]["geometry"]["type"], "Polygon");
    }

    /// Blind-spot zones (unions of cells) and cells marked by `kind` keep
    /// their geometry; the blind-spot grid description is understood.
    #[test]
    fn features_made_of_cells_keep_their_geometry() {
        let g = gate();
        let r = rules(Role::Partner, Layer::Incidents);
        let zone = json!({"type": "Feature", "id": "T1",
            "geometry": {"type": "MultiPolygon", "coordinates": [[[[18.0, 4.0], [18.3, 4.0], [18.3, 4.2], [18.0, 4.0]]]]},
            "properties": {"kind": "threat", "cells": 3, "count": 12, "count_sensitive": 0,
                "nearest_base_id": "b-1", "nearest_base_km": 31.5, "days_since_patrol": 9}});
        let cell = json!({"type": "Feature", "id": "sq-1",
            "geometry": {"type": "Polygon", "coordinates": [[[18.0, 4.0], [18.1, 4.0], [18.1, 4.1], [18.0, 4.0]]]},
            "properties": {"kind": "cell", "count": 6, "count_sensitive": 0, "last_report": null}});
        let out = g.aggregate(
            &r,
            json!({"type": "FeatureCollection", "jointmap": {"grid": {"kind": "square", "cell_km": 10.0, "cells": 40}},
                "features": [zone.clone(), cell.clone()]}),
        );
        assert_eq!(out["jointmap"]["suppressed"], 0, "{out}");
        assert_eq!(out["features"][0]["geometry"], zone["geometry"]);
        assert_eq!(out["features"][1]["geometry"], cell["geometry"]);
        let p = out["features"][0]["properties"].as_object().unwrap();
        assert!(!p.contains_key("nearest_base_id") && !p.contains_key("nearest_base_km"));
        assert_eq!(p["days_since_patrol"], 9);
        assert_eq!(out["features"][1]["properties"]["last_report"], Value::Null);
        let out = g.aggregate(
            &r,
            json!({"type": "FeatureCollection", "jointmap": {"grid": {"kind": "square", "cell_km": 2.0}},
                "features": [zone, cell]}),
        );
        assert_eq!(out["jointmap"]["suppressed"], 2);
    }

    #[test]
    fn grids_finer_than_the_minimum_are_withheld() {
        let g = gate();
        let r = rules(Role::Partner, Layer::Incidents);
        let with_grid = |grid: Value| {
            json!({"type": "FeatureCollection", "jointmap": {"grid": grid},
                "features": [cell("a", json!({"count": 50, "count_sensitive": 0}))]})
        };
        for (grid, kept) in [
            (json!({"type": "square", "cell_m": 5000.0}), false),
            (json!({"type": "square", "cell_m": 10000.0}), true),
            (json!({"type": "square"}), false),
            (json!({"type": "h3", "resolution": 6}), false),
            (json!({"type": "h3", "resolution": 5}), true),
            (json!({"type": "h3", "resolution": 99}), false),
            (json!({"type": "hexagons"}), false),
        ] {
            let out = g.aggregate(&r, with_grid(grid.clone()));
            assert_eq!(ids(&out).len(), usize::from(kept), "{grid}");
            assert_eq!(out["jointmap"]["suppressed"], usize::from(!kept), "{grid}");
            assert_eq!(out["jointmap"].get("withheld").is_some(), !kept, "{grid}");
        }
        // Full rules are not held to a minimum.
        let full = rules(Role::Hr, Layer::Incidents);
        let out = g.aggregate(&full, with_grid(json!({"type": "square", "cell_m": 500.0})));
        assert_eq!(ids(&out), ["a"]);
    }

    #[test]
    fn unreadable_results_are_withheld_unless_full() {
        let g = gate();
        let r = rules(Role::Military, Layer::Incidents);
        for v in [
            json!({"type": "Feature", "properties": {"count": 50}}),
            json!([1, 2]),
            json!({"type": "FeatureCollection", "features": {}}),
        ] {
            let out = g.aggregate(&r, v);
            assert_eq!(out["features"], json!([]));
            assert_eq!(out["jointmap"]["suppressed"], 1);
        }
        let full = rules(Role::Hr, Layer::Incidents);
        assert_eq!(g.aggregate(&full, json!([1, 2])), json!([1, 2]));
        let out = g.aggregate(
            &r,
            json!({"type": "FeatureCollection", "jointmap": 3, "features": []}),
        );
        assert_eq!(out["jointmap"], json!({"suppressed": 0}));
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

//! UCDP GED events as incidents.
//!
//! Mapping (see docs/data-model.md): id `ged-<id>`; `date_start`/`date_end` as
//! the time span; `type_of_violence` 3 (one-sided violence against civilians) as
//! `killing`, 1 and 2 (state-based and non-state fighting) as `other`; `side_a`
//! as the perpetrator (`side_b` kept); the perpetrator category from `side_a`
//! ("Government of <the event's country>" is state forces, of another country
//! foreign forces, anything else a non-state armed group); `best` fatalities as
//! `killed_unknown` (`low`/`high` kept); `where_prec` 1 exact, 2 settlement,
//! 3 district, 4-7 province. Published open-source data: owner `mission`,
//! classification `public`, consent `partners`, verification `reported`,
//! source type `open-source`, reliability `B`. Every other property is kept.

use serde_json::{Map, Value};

/// Rewrites one GED feature in place.
pub fn apply(feature: &mut Value) {
    let Some(obj) = feature.as_object_mut() else {
        return;
    };
    let mut p = match obj.shift_remove("properties") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    if let Some(id) = p.shift_remove("id") {
        let id = match id {
            Value::String(s) => s,
            other => other.to_string(),
        };
        obj.insert("id".into(), Value::String(format!("ged-{id}")));
    }
    let mut out = Map::with_capacity(p.len() + 12);
    if let Some(v) = p.shift_remove("date_start") {
        out.insert("time_start".into(), v);
    }
    if let Some(v) = p.shift_remove("date_end") {
        out.insert("time_end".into(), v);
    }
    let violence = p.get("type_of_violence").and_then(Value::as_i64);
    out.insert(
        "category".into(),
        Value::from(if violence == Some(3) {
            "killing"
        } else {
            "other"
        }),
    );
    let country = p
        .get("country")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if let Some(Value::String(side_a)) = p.shift_remove("side_a") {
        let category = match side_a.strip_prefix("Government of ") {
            Some(c) if c == country => "state-forces",
            Some(_) => "foreign-forces",
            None => "non-state-armed-group",
        };
        out.insert("perpetrator".into(), Value::String(side_a));
        out.insert("perpetrator_category".into(), Value::from(category));
    }
    if let Some(best) = p.shift_remove("best") {
        out.insert("killed_unknown".into(), best);
    }
    let precision = match p.get("where_prec").and_then(Value::as_i64) {
        Some(1) => Some("exact"),
        Some(2) => Some("settlement"),
        Some(3) => Some("district"),
        Some(4..=7) => Some("province"),
        _ => None,
    };
    if let Some(pr) = precision {
        out.insert("location_precision".into(), Value::from(pr));
    }
    for (k, v) in [
        ("verification", "reported"),
        ("source_type", "open-source"),
        ("source_reliability", "B"),
        ("consent", "partners"),
        ("owner", "mission"),
        ("classification", "public"),
    ] {
        out.insert(k.into(), Value::from(v));
    }
    out.extend(p);
    obj.insert("properties".into(), Value::Object(out));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Feature, Layer};
    use serde_json::json;

    #[test]
    fn one_sided_event() {
        let mut f = json!({"type":"Feature","geometry":{"type":"Point","coordinates":[18.5,4.4]},
            "properties":{"id":1,"type_of_violence":3,"side_a":"UPC","side_b":"Civilians","country":"Central African Republic",
            "best":4,"low":3,"high":6,"where_prec":2,"date_start":"2014-01-02T00:00:00","date_end":"2014-01-03T00:00:00"}});
        apply(&mut f);
        let text = f.to_string();
        let feat = Feature::from_geojson(Layer::Incidents, f, &text).unwrap();
        assert_eq!(feat.id, "ged-1");
        assert_eq!(feat.str("category"), Some("killing"));
        assert_eq!(
            feat.str("perpetrator_category"),
            Some("non-state-armed-group")
        );
        assert_eq!(feat.int("killed_unknown"), Some(4));
        assert_eq!(feat.str("location_precision"), Some("settlement"));
        assert_eq!(feat.int("high"), Some(6));
        assert_eq!(feat.str("side_b"), Some("Civilians"));
    }

    #[test]
    fn governments() {
        for (side, want) in [
            ("Government of Central African Republic", "state-forces"),
            ("Government of Uganda", "foreign-forces"),
        ] {
            let mut f = json!({"properties":{"side_a":side,"country":"Central African Republic","type_of_violence":1}});
            apply(&mut f);
            assert_eq!(f["properties"]["perpetrator_category"], want);
            assert_eq!(f["properties"]["category"], "other");
        }
    }
}

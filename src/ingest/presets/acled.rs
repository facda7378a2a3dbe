//! ACLED events (the Armed Conflict Location & Event Data export layout) as
//! incidents.
//!
//! Mapping (see docs/data-model.md): id `acled-<event_id_cnty>`; `event_date`
//! (ISO `2024-01-15`, or the export tool's `15 January 2024`) as the time
//! span of that whole day; the category from `event_type` and
//! `sub_event_type` ([`category`]); `actor1` as the perpetrator and its
//! category from `inter1` (the numeric code or, in exports since 2024, its
//! name); `fatalities` as `killed_unknown`; `geo_precision` 1 settlement, 2
//! district, 3 province; `notes` as the narrative (so it stays with the hr
//! role, as every narrative does). Published open-source data: owner
//! `mission`, classification `public`, consent `partners`, verification
//! `reported`, source type `open-source`, reliability `B`. Every other column
//! (`actor2`, `source`, `admin1`, ...) is kept.

use super::ucdp_ged::end_of_day;
use serde_json::{Map, Value};

/// The integer columns of ACLED's CSV export (every other column is text;
/// `latitude` and `longitude` are the geometry).
pub const CSV_INTEGERS: &[&str] = &[
    "year",
    "time_precision",
    "inter1",
    "inter2",
    "interaction",
    "iso",
    "geo_precision",
    "fatalities",
    "timestamp",
];

/// Rewrites one ACLED feature in place.
pub fn apply(feature: &mut Value) {
    let Some((obj, mut p)) = super::take_properties(feature, "event_id_cnty", "acled") else {
        return;
    };
    let mut out = Map::with_capacity(p.len() + 12);
    if let Some(v) = p.shift_remove("event_date") {
        let day = iso_day(v);
        out.insert("time_start".into(), day.clone());
        out.insert("time_end".into(), end_of_day(day));
    }
    let fatalities = p.get("fatalities").and_then(Value::as_i64);
    let text = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("");
    out.insert(
        "category".into(),
        Value::from(category(
            text("event_type"),
            text("sub_event_type"),
            fatalities,
        )),
    );
    let inter1 = p.get("inter1").cloned();
    if let Some(Value::String(actor)) = p.shift_remove("actor1") {
        if !actor.is_empty() {
            out.insert("perpetrator".into(), Value::String(actor));
            if let Some(c) = inter1.as_ref().and_then(perpetrator_category) {
                out.insert("perpetrator_category".into(), Value::from(c));
            }
        }
    }
    if let Some(f) = p.shift_remove("fatalities") {
        out.insert("killed_unknown".into(), f);
    }
    let precision = match p.get("geo_precision").and_then(Value::as_i64) {
        Some(1) => Some("settlement"),
        Some(2) => Some("district"),
        Some(3) => Some("province"),
        _ => None,
    };
    if let Some(pr) = precision {
        out.insert("location_precision".into(), Value::from(pr));
    }
    if let Some(notes) = p.shift_remove("notes") {
        out.insert("narrative".into(), notes);
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

/// jointmap's incident category of an ACLED event type and sub-event type:
/// the violations the sub-event names, a deadly attack on civilians as a
/// killing, and anything else (battles, protests, strikes) as `other`.
pub fn category(event_type: &str, sub_event_type: &str, fatalities: Option<i64>) -> &'static str {
    match (event_type, sub_event_type) {
        ("Violence against civilians", "Sexual violence") => "sexual-violence",
        ("Violence against civilians", "Abduction/forced disappearance") => "abduction",
        ("Violence against civilians", _) if fatalities.is_some_and(|f| f > 0) => "killing",
        (_, "Remote explosive/landmine/IED") => "explosive-ordnance",
        (_, "Looting/property destruction") => "looting-burning",
        (_, "Arrests") => "arbitrary-detention",
        _ => "other",
    }
}

/// The perpetrator category of an ACLED actor type (`inter1`), as its code
/// (1-8) or its name; `None` (left to the default, `unknown`) for rioters,
/// protesters, civilians and anything unknown.
fn perpetrator_category(inter: &Value) -> Option<&'static str> {
    let code = match inter {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "state forces" => 1,
            "rebel group" | "rebel groups" => 2,
            "political militia" | "political militias" => 3,
            "identity militia" | "identity militias" => 4,
            "external/other forces" | "external/other force" => 8,
            _ => return None,
        },
        _ => return None,
    };
    match code {
        1 => Some("state-forces"),
        2 | 3 => Some("non-state-armed-group"),
        4 => Some("community-based"),
        8 => Some("foreign-forces"),
        _ => None,
    }
}

/// An ACLED date as ISO `YYYY-MM-DD`: the export tool writes `15 January
/// 2024` (or `15-January-2024`); anything else is left for validation.
fn iso_day(v: Value) -> Value {
    let Value::String(s) = &v else {
        return v;
    };
    let t = s.trim();
    for fmt in ["%d %B %Y", "%d-%B-%Y", "%d %b %Y", "%d-%b-%Y"] {
        if let Ok(d) = chrono::NaiveDate::parse_from_str(t, fmt) {
            return Value::String(d.format("%Y-%m-%d").to_string());
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Feature, Layer};
    use serde_json::json;

    fn event(props: Value) -> Result<Feature, crate::model::feature::Invalid> {
        let mut f = json!({"type":"Feature","geometry":{"type":"Point","coordinates":[18.5,4.4]},
            "properties": props});
        apply(&mut f);
        let text = f.to_string();
        Feature::from_geojson(Layer::Incidents, f, &text)
    }

    #[test]
    fn violence_against_civilians() {
        let f = event(json!({"event_id_cnty":"CAF1234","event_date":"15 January 2024",
            "event_type":"Violence against civilians","sub_event_type":"Attack",
            "actor1":"UPC: Union for Peace in the Central African Republic","inter1":2,
            "actor2":"Civilians (Central African Republic)","fatalities":3,"geo_precision":2,
            "notes":"On 15 January 2024, UPC fighters killed 3 civilians.","source":"Corbeau News"}))
        .unwrap();
        assert_eq!(f.id, "acled-CAF1234");
        assert_eq!(f.str("category"), Some("killing"));
        assert_eq!(f.str("perpetrator_category"), Some("non-state-armed-group"));
        assert_eq!(f.int("killed_unknown"), Some(3));
        assert_eq!(f.str("location_precision"), Some("district"));
        assert_eq!(
            f.str("actor2"),
            Some("Civilians (Central African Republic)")
        );
        assert_eq!(f.str("source"), Some("Corbeau News"));
        assert!(f.str("narrative").is_some_and(|n| n.contains("UPC")));
        assert_eq!(
            crate::model::time::format_time(&f.time.start),
            "2024-01-15T00:00:00Z"
        );
        assert_eq!(
            crate::model::time::format_time(&f.time.last()),
            "2024-01-15T23:59:59.999Z"
        );
    }

    #[test]
    fn categories_and_actor_types() {
        for (et, sub, fat, want) in [
            (
                "Violence against civilians",
                "Sexual violence",
                0,
                "sexual-violence",
            ),
            (
                "Violence against civilians",
                "Abduction/forced disappearance",
                0,
                "abduction",
            ),
            ("Violence against civilians", "Attack", 0, "other"),
            (
                "Explosions/Remote violence",
                "Remote explosive/landmine/IED",
                2,
                "explosive-ordnance",
            ),
            (
                "Strategic developments",
                "Looting/property destruction",
                0,
                "looting-burning",
            ),
            (
                "Strategic developments",
                "Arrests",
                0,
                "arbitrary-detention",
            ),
            ("Battles", "Armed clash", 12, "other"),
        ] {
            assert_eq!(category(et, sub, Some(fat)), want, "{sub}");
        }
        for (inter, want) in [
            (json!(1), Some("state-forces")),
            (json!("State forces"), Some("state-forces")),
            (json!(3), Some("non-state-armed-group")),
            (json!("Identity militia"), Some("community-based")),
            (json!(8), Some("foreign-forces")),
            (json!(6), None),
            (json!("Protesters"), None),
            (json!(null), None),
        ] {
            assert_eq!(perpetrator_category(&inter), want, "{inter}");
        }
    }

    /// A date neither ISO nor the export tool's form is refused by
    /// validation, naming it.
    #[test]
    fn a_bad_date_is_refused() {
        let e = event(json!({"event_id_cnty":"X1","event_date":"2024/01/15",
            "event_type":"Battles","sub_event_type":"Armed clash"}))
        .unwrap_err();
        assert!(
            e.problems
                .iter()
                .any(|p| p.to_string().contains("2024/01/15")),
            "{e:?}"
        );
        assert_eq!(iso_day(json!("15-January-2024")), json!("2024-01-15"));
        assert_eq!(iso_day(json!("2024-01-15")), json!("2024-01-15"));
    }
}

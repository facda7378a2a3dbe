//! UCDP GED events as incidents.
//!
//! Mapping (see docs/data-model.md): id `ged-<id>`; `date_start`/`date_end` as
//! the time span, `date_end` through the end of its day (UCDP dates are days,
//! exported as midnight: `2014-01-03T00:00:00` becomes
//! `2014-01-03T23:59:59.999Z`, the last millisecond the store holds, so an
//! event of one day overlaps every window that touches that day); `type_of_violence` 3 (one-sided violence against civilians) as
//! `killing`, 1 and 2 (state-based and non-state fighting) as `other`; `side_a`
//! as the perpetrator (`side_b` kept); the perpetrator category from `side_a`
//! ("Government of <the event's country>" is state forces, of another country
//! foreign forces, anything else a non-state armed group); `best` fatalities as
//! `killed_unknown` (`low`/`high` kept); `where_prec` 1 exact, 2 settlement,
//! 3 district, 4-7 province. Published open-source data: owner `mission`,
//! classification `public`, consent `partners`, verification `reported`,
//! source type `open-source`, reliability `B`. Every other property is kept.

use serde_json::{Map, Value};

/// The integer columns of GED's CSV download (every other column is text,
/// as in its GeoJSON form; `latitude`, `longitude` and `geom_wkt` are the
/// geometry, which the GeoJSON form holds as its geometry alone).
pub const CSV_INTEGERS: &[&str] = &[
    "id",
    "relid",
    "year",
    "active_year",
    "type_of_violence",
    "conflict_new_id",
    "dyad_new_id",
    "side_a_new_id",
    "side_b_new_id",
    "number_of_sources",
    "where_prec",
    "priogrid_gid",
    "country_id",
    "event_clarity",
    "date_prec",
    "deaths_a",
    "deaths_b",
    "deaths_civilians",
    "deaths_unknown",
    "best",
    "high",
    "low",
];

/// Rewrites one GED feature in place.
pub fn apply(feature: &mut Value) {
    let Some((obj, mut p)) = super::take_properties(feature, "id", "ged") else {
        return;
    };
    let mut out = Map::with_capacity(p.len() + 12);
    if let Some(v) = p.shift_remove("date_start") {
        out.insert("time_start".into(), v);
    }
    if let Some(v) = p.shift_remove("date_end") {
        out.insert("time_end".into(), end_of_day(v));
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

/// A UCDP end date (a day: `YYYY-MM-DD`, or that day at midnight without or
/// with a UTC offset of zero) as the last millisecond of that day; any other
/// value is left for validation to judge.
pub(super) fn end_of_day(v: Value) -> Value {
    let Value::String(s) = &v else {
        return v;
    };
    let s = s.trim();
    let cut = s.len().min(10);
    let (Some(day), Some(rest)) = (s.get(..cut), s.get(cut..)) else {
        return v;
    };
    let midnight = matches!(
        rest,
        "" | "T00:00:00"
            | "T00:00:00Z"
            | "T00:00:00.000"
            | "T00:00:00.000Z"
            | " 00:00:00"
            | " 00:00:00.000"
    );
    match chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d") {
        Ok(d) if midnight => Value::String(format!("{}T23:59:59.999Z", d.format("%Y-%m-%d"))),
        _ => v,
    }
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
        // The end date is the whole day: the event lasts two days.
        assert_eq!(
            crate::model::time::format_time(&feat.time.last()),
            "2014-01-03T23:59:59.999Z"
        );
        assert_eq!(
            crate::model::time::format_time(&feat.time.start),
            "2014-01-02T00:00:00Z"
        );
    }

    #[test]
    fn end_dates_are_ends_of_days() {
        for (given, want) in [
            ("2014-01-03", "2014-01-03T23:59:59.999Z"),
            ("2014-01-03T00:00:00", "2014-01-03T23:59:59.999Z"),
            ("2014-01-03T00:00:00Z", "2014-01-03T23:59:59.999Z"),
            ("2014-01-03T00:00:00.000Z", "2014-01-03T23:59:59.999Z"),
            // The CSV download's form.
            ("2014-01-03 00:00:00.000", "2014-01-03T23:59:59.999Z"),
            // A time of day is kept: it is not a UCDP day.
            ("2014-01-03T12:00:00Z", "2014-01-03T12:00:00Z"),
            ("2014-01-03T00:00:00+02:00", "2014-01-03T00:00:00+02:00"),
            // Not a date: left for validation to refuse.
            ("2014-02-30", "2014-02-30"),
            ("soon", "soon"),
            ("2014-01-0\u{e9}T00:00:00", "2014-01-0\u{e9}T00:00:00"),
            ("", ""),
        ] {
            assert_eq!(end_of_day(Value::from(given)), Value::from(want), "{given}");
        }
        assert_eq!(end_of_day(Value::from(7)), Value::from(7));
        assert_eq!(end_of_day(Value::Null), Value::Null);
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

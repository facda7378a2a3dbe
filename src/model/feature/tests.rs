use super::*;
use serde_json::json;

fn incident(props: Value) -> Value {
    json!({"type":"Feature","id":"i1","geometry":{"type":"Point","coordinates":[18.5,4.4]},"properties":props})
}

fn check(layer: Layer, v: Value) -> Result<Feature, Invalid> {
    let text = v.to_string();
    Feature::from_geojson(layer, v, &text)
}

/// Whatever order the input gives its properties in, the feature is the
/// same: schema fields in schema order, then the extras in the input's
/// order; taken names (times, owner, a property `id`) are not extras.
#[test]
fn property_order_does_not_matter_but_extras_keep_theirs() {
    let props = [
        ("zeta", json!(1)),
        ("narrative", json!("n")),
        ("id", json!("p-1")),
        ("killed_men", json!(2)),
        ("alpha", json!({"b": [1]})),
        ("category", json!("killing")),
        ("owner", json!("hr")),
        ("time_start", json!("2024-01-02")),
        ("consent", json!("hr-only")),
        ("mid", json!(null)),
    ];
    let features: Vec<Feature> = [false, true]
        .iter()
        .map(|&reverse| {
            let mut p = props.to_vec();
            if reverse {
                p.reverse();
            }
            let m: Map<String, Value> = p.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            let mut v = incident(Value::Object(m));
            v.as_object_mut().unwrap().shift_remove("id");
            check(Layer::Incidents, v).unwrap()
        })
        .collect();
    let keys = |f: &Feature| -> Vec<String> { f.properties.keys().cloned().collect() };
    let fields: Vec<&str> = Layer::Incidents.fields().iter().map(|s| s.name).collect();
    let extras = |f: &Feature| -> Vec<String> {
        keys(f)
            .into_iter()
            .filter(|k| !fields.contains(&k.as_str()))
            .collect()
    };
    assert_eq!(extras(&features[0]), ["zeta", "alpha", "mid"]);
    assert_eq!(extras(&features[1]), ["mid", "alpha", "zeta"]);
    for f in &features {
        assert_eq!(f.id, "p-1");
        assert_eq!(f.owner, Owner::Hr);
        assert_eq!(f.int("killed_men"), Some(2));
        let schema: Vec<String> = keys(f)
            .into_iter()
            .filter(|k| fields.contains(&k.as_str()))
            .collect();
        let mut sorted = schema.clone();
        sorted.sort_by_key(|k| fields.iter().position(|n| n == k));
        assert_eq!(schema, sorted);
    }
    let schema_part = |f: &Feature| -> Vec<(String, Value)> {
        f.properties
            .iter()
            .filter(|(k, _)| fields.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    assert_eq!(schema_part(&features[0]), schema_part(&features[1]));
}

#[test]
fn defaults_and_extras() {
    let f = check(
        Layer::Incidents,
        incident(json!({"time":"2024-01-02","category":"Killing","killed_men":2,"village":"X"})),
    )
    .unwrap();
    assert_eq!(f.str("category"), Some("killing"));
    assert_eq!(f.str("verification"), Some("reported"));
    assert_eq!(f.int("killed_women"), Some(0));
    assert_eq!(f.str("village"), Some("X"));
    assert_eq!(f.level, Level::Restricted);
    assert_eq!(f.owner, Owner::Hr);
    // Normalised output validates to the same feature.
    let again = check(Layer::Incidents, f.to_geojson()).unwrap();
    assert_eq!(again, f);
}

#[test]
fn sensitive_cases_default_to_highest_level() {
    for props in [
        json!({"time":"2024-01-02","category":"sexual-violence"}),
        json!({"time":"2024-01-02","category":"killing","killed_girls":1}),
        json!({"time":"2024-01-02","category":"killing","source_name":"someone"}),
    ] {
        let f = check(Layer::Incidents, incident(props)).unwrap();
        assert_eq!(f.level, Level::StrictlyConfidential);
    }
}

#[test]
fn every_problem_is_reported() {
    let e = check(
        Layer::Incidents,
        incident(json!({"time_start":"2024-01-05","time_end":"2024-01-01","category":"kiling","killed_men":-1})),
    )
    .unwrap_err();
    let fields: Vec<_> = e.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["time_end", "category", "killed_men"], "{e:?}");
    assert_eq!(e.id.as_deref(), Some("i1"));
}

#[test]
fn patrol_rules() {
    let base = |props: Value| json!({"type":"Feature","id":"p1","geometry":{"type":"LineString","coordinates":[[18.0,4.0],[18.1,4.0],[18.2,4.1]]},"properties":props});
    let ok = check(Layer::Patrols, base(json!({"unit":"A","mode":"foot","time_start":"2024-01-01T20:00:00Z","time_end":"2024-01-01T22:00:00Z"}))).unwrap();
    assert_eq!(ok.str("period"), Some("night"));
    let e = check(
        Layer::Patrols,
        base(json!({"unit":"A","mode":"foot","time_start":"2024-01-01T08:00:00Z"})),
    )
    .unwrap_err();
    assert_eq!(e.problems[0].field, "time_end");
    let e = check(Layer::Patrols, base(json!({"unit":"A","mode":"foot","time_start":"2024-01-01T08:00:00Z","time_end":"2024-01-01T09:00:00Z","vertex_times":["2024-01-01T08:00:00Z"]}))).unwrap_err();
    assert!(
        e.problems[0].reason.contains("1 times for 3 vertices"),
        "{e:?}"
    );
}

#[test]
fn base_reach_defaults_per_type() {
    let f = check(Layer::Bases, json!({"type":"Feature","id":"b","geometry":{"type":"Point","coordinates":[18.0,4.0]},"properties":{"name":"B","base_type":"tob","time_start":"2024-01-01"}})).unwrap();
    assert_eq!(f.properties.get("reach_km"), Some(&json!(15.0)));
    assert_eq!(f.level, Level::Restricted);
}

fn site(props: Value) -> Value {
    json!({"type":"Feature","id":"s1","geometry":{"type":"Point","coordinates":[18.0,4.0]},"properties":props})
}

#[test]
fn site_defaults_per_type() {
    let f = check(
        Layer::Sites,
        site(json!({"name":"Camp A","site_type":"IDP_site","time_start":"2024-01-01","population":1200,"camp_code":"A1"})),
    )
    .unwrap();
    assert_eq!(f.str("site_type"), Some("idp-site"));
    assert_eq!(f.int("vulnerability"), Some(5));
    assert_eq!(f.properties.get("exposure"), Some(&json!(1.0)));
    assert_eq!(f.int("population"), Some(1200));
    assert_eq!(f.owner, Owner::Mission);
    assert_eq!(f.level, Level::Mission);
    assert!(f.time.end.is_none());
    // Schema fields in schema order, then extras.
    let keys: Vec<&str> = f.properties.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "name",
            "site_type",
            "population",
            "vulnerability",
            "exposure",
            "camp_code"
        ]
    );
    assert_eq!(check(Layer::Sites, f.to_geojson()).unwrap(), f);

    let m = check(
        Layer::Sites,
        site(json!({"name":"Market","site_type":"market","time_start":"2024-01-01"})),
    )
    .unwrap();
    assert_eq!(m.int("vulnerability"), Some(3));
    assert_eq!(m.properties.get("exposure"), Some(&json!(0.3)));
    assert!(m.properties.get("population").is_none());
}

#[test]
fn site_own_values_and_classification_are_kept() {
    let f = check(
        Layer::Sites,
        json!({"type":"Feature","id":"s2","geometry":{"type":"Polygon","coordinates":[[[18.0,4.0],[18.01,4.0],[18.01,4.01],[18.0,4.0]]]},
               "properties":{"name":"School B","site_type":"school","time_start":"2024-01-01","exposure":1,"vulnerability":5.0,
                             "owner":"hr","classification":"restricted"}}),
    )
    .unwrap();
    assert_eq!(f.int("vulnerability"), Some(5));
    assert_eq!(f.properties.get("exposure"), Some(&json!(1)));
    assert_eq!(f.owner, Owner::Hr);
    assert_eq!(f.level, Level::Restricted);
    let keys: Vec<&str> = f.properties.keys().map(String::as_str).collect();
    assert_eq!(keys, ["name", "site_type", "vulnerability", "exposure"]);
    // A MultiPolygon is a site geometry too.
    check(
        Layer::Sites,
        json!({"type":"Feature","id":"s3","geometry":{"type":"MultiPolygon","coordinates":[[[[18.0,4.0],[18.01,4.0],[18.01,4.01],[18.0,4.0]]]]},
               "properties":{"name":"Town C","site_type":"town","time_start":"2024-01-01"}}),
    )
    .unwrap();
}

#[test]
fn site_problems_are_named() {
    let problem = |props: Value| {
        let e = check(Layer::Sites, site(props)).unwrap_err();
        assert_eq!(e.id.as_deref(), Some("s1"));
        assert_eq!(e.problems.len(), 1, "{e:?}");
        e.problems[0].clone()
    };
    let p = problem(json!({"name":"X","time_start":"2024-01-01"}));
    assert_eq!(
        (p.field.as_str(), p.reason.as_str()),
        ("site_type", "missing required field")
    );
    let p = problem(json!({"name":"X","site_type":"camp","time_start":"2024-01-01"}));
    assert_eq!(p.field, "site_type");
    assert!(
        p.reason.contains("unknown value \"camp\"") && p.reason.contains("idp-site"),
        "{p:?}"
    );
    let p = problem(json!({"site_type":"village","time_start":"2024-01-01"}));
    assert_eq!(
        (p.field.as_str(), p.reason.as_str()),
        ("name", "missing required field")
    );
    for bad in [json!(0), json!(6), json!(2.5), json!("high")] {
        let p = problem(
            json!({"name":"X","site_type":"village","time_start":"2024-01-01","vulnerability":bad}),
        );
        assert_eq!(p.field, "vulnerability", "{bad}");
    }
    let p = problem(
        json!({"name":"X","site_type":"village","time_start":"2024-01-01","vulnerability":6}),
    );
    assert_eq!(p.reason, "6 out of range 1..5");
    for bad in [
        json!(0),
        json!(0.0),
        json!(1.5),
        json!(-0.2),
        json!("all day"),
    ] {
        let p = problem(
            json!({"name":"X","site_type":"village","time_start":"2024-01-01","exposure":bad}),
        );
        assert_eq!(p.field, "exposure", "{bad}");
        assert!(p.reason.contains("at most 1"), "{p:?}");
    }
    let p = problem(
        json!({"name":"X","site_type":"village","time_start":"2024-01-01","population":-3}),
    );
    assert_eq!(
        (p.field.as_str(), p.reason.as_str()),
        ("population", "negative count -3")
    );
    let p = problem(
        json!({"name":"X","site_type":"village","time_start":"2024-01-01","classification":"secret"}),
    );
    assert_eq!(p.field, "classification");
    let e = check(
        Layer::Sites,
        json!({"type":"Feature","id":"s1","geometry":{"type":"LineString","coordinates":[[18.0,4.0],[18.1,4.0]]},
               "properties":{"name":"X","site_type":"village","time_start":"2024-01-01"}}),
    )
    .unwrap_err();
    assert_eq!(e.problems.len(), 1, "{e:?}");
    assert_eq!(e.problems[0].field, "geometry");
    assert!(e.problems[0].reason.contains("LineString"), "{e:?}");
}

#[test]
fn missing_id_is_derived_stably() {
    let v = json!({"type":"Feature","geometry":{"type":"Point","coordinates":[18.0,4.0]},"properties":{"time":"2024-01-01","category":"other"}});
    let a = check(Layer::Incidents, v.clone()).unwrap();
    let b = check(Layer::Incidents, v).unwrap();
    assert_eq!(a.id, b.id);
    assert!(a.id.starts_with('h'));
}

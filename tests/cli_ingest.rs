//! Whole-flow tests of `jointmap ingest`, `export` and `layers` through the binary.

mod common;

use common::*;
use serde_json::{json, Value};
use tempfile::TempDir;

fn store_in(dir: &TempDir) -> std::path::PathBuf {
    dir.path().join("store.gpkg")
}

#[test]
fn ingest_then_export_round_trips_every_layer() {
    let dir = TempDir::new().unwrap();
    let store = store_in(&dir);
    let incidents: Vec<Value> = (0..300).map(incident).collect();
    let (s, p, b) = others();
    for (layer, feats) in [
        ("incidents", incidents.clone()),
        ("sightings", vec![s]),
        ("patrols", vec![p]),
        ("bases", vec![b]),
    ] {
        let file = write_fc(dir.path(), &format!("{layer}.geojson"), &feats);
        let o = run(&store, &["ingest", layer, file.to_str().unwrap()]);
        assert!(o.status.success(), "{layer}: {}", stderr(&o));
        let out = run(&store, &["export", layer]);
        assert!(out.status.success(), "{}", stderr(&out));
        let got = features_of(&out.stdout);
        assert_eq!(got.len(), feats.len(), "{layer} count");
        for (g, w) in got.iter().zip(&feats) {
            assert_eq!(g["id"], w["id"]);
            assert_eq!(g["geometry"], w["geometry"], "{layer} {} geometry", w["id"]);
            for (k, v) in w["properties"].as_object().unwrap() {
                assert_eq!(&g["properties"][k], v, "{layer} {} property {k}", w["id"]);
            }
            assert_eq!(g, w, "{layer} {} (extra properties)", w["id"]);
        }
    }
    assert_eq!(count(&store, "incidents"), 300);
    // NDJSON export and re-ingest of the export give the same again.
    let nd = run(&store, &["export", "incidents", "--ndjson"]);
    let lines: Vec<Value> = String::from_utf8(nd.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, incidents);
}

#[test]
fn export_filters_by_bbox_and_time() {
    let dir = TempDir::new().unwrap();
    let store = store_in(&dir);
    let feats: Vec<Value> = (0..1000).map(incident).collect();
    let file = write_fc(dir.path(), "i.geojson", &feats);
    assert!(
        run(&store, &["ingest", "incidents", file.to_str().unwrap()])
            .status
            .success()
    );
    let o = run(
        &store,
        &[
            "export",
            "incidents",
            "--bbox",
            "16.0,4.5,16.995,4.505",
            "--from",
            "2024-03-01",
            "--to",
            // A bare date ends the window at the end of that day.
            "2024-03-27",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let got = features_of(&o.stdout);
    let want: Vec<&Value> = feats
        .iter()
        .filter(|f| {
            let c = &f["geometry"]["coordinates"];
            let (x, y) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
            let t = f["properties"]["time_start"].as_str().unwrap();
            (16.0..=16.995).contains(&x)
                && (4.5..=4.505).contains(&y)
                && t.starts_with("2024-03")
                && &t[8..10] <= "27"
        })
        .collect();
    assert!(want.iter().any(|f| f["properties"]["time_start"]
        .as_str()
        .unwrap()
        .starts_with("2024-03-27")));
    assert_eq!(got.iter().collect::<Vec<_>>(), want);
    let bad = run(&store, &["export", "incidents", "--bbox", "1,2,3"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("expected 4 numbers"),
        "{}",
        stderr(&bad)
    );
}

/// Each class of bad input gets its own message, exit code 2, and leaves the
/// store byte-for-byte as it was.
#[test]
fn bad_input_is_refused_whole_and_named() {
    let dir = TempDir::new().unwrap();
    let store = store_in(&dir);
    let good: Vec<Value> = (0..5).map(incident).collect();
    let file = write_fc(dir.path(), "good.geojson", &good);
    assert!(
        run(&store, &["ingest", "incidents", file.to_str().unwrap()])
            .status
            .success()
    );
    let before = std::fs::read(&store).unwrap();

    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = incident(100);
        f(&mut v);
        v
    };
    let cases: Vec<(&str, &str, Vec<Value>, &str)> = vec![
        ("lon out of range", "incidents", vec![with(&|v| v["geometry"]["coordinates"][0] = json!(181.5))], "field `geometry`: longitude 181.5 out of range [-180, 180]"),
        ("lat out of range", "incidents", vec![with(&|v| v["geometry"]["coordinates"][1] = json!(-95))], "latitude -95 out of range [-90, 90]"),
        ("not finite", "incidents", vec![with(&|v| v["geometry"]["coordinates"][0] = json!("NaN"))], "longitude \"NaN\" is not a finite number"),
        ("wrong type", "incidents", vec![with(&|v| v["geometry"] = json!({"type":"LineString","coordinates":[[1,1],[2,2]]}))], "wrong geometry type LineString; this layer takes Point"),
        ("empty", "incidents", vec![with(&|v| v["geometry"]["coordinates"] = json!([]))], "empty geometry"),
        ("degenerate", "patrols", vec![{ let mut p = others().1; p["geometry"]["coordinates"] = json!([[18.5,4.4],[18.5,4.4]]); p["properties"].as_object_mut().unwrap().remove("vertex_times"); p }], "degenerate LineString: needs at least two distinct positions"),
        ("missing time", "incidents", vec![with(&|v| { v["properties"].as_object_mut().unwrap().remove("time_start"); })], "field `time_start`: missing time"),
        ("unparsable time", "incidents", vec![with(&|v| v["properties"]["time_start"] = json!("last tuesday"))], "field `time_start`: cannot parse time \"last tuesday\""),
        ("end before start", "incidents", vec![with(&|v| { v["properties"]["time_start"] = json!("2024-05-02"); v["properties"]["time_end"] = json!("2024-05-01"); })], "field `time_end`: end 2024-05-01T00:00:00Z is before start 2024-05-02T00:00:00Z"),
        ("unknown enum", "incidents", vec![with(&|v| v["properties"]["category"] = json!("kidnaping"))], "field `category`: unknown value \"kidnaping\"; expected one of killing"),
        ("duplicate id", "incidents", vec![incident(100), incident(100)], "feature #2 (id \"inc-100\"): field `id`: duplicate id \"inc-100\": also feature #1 of this file"),
        ("negative count", "incidents", vec![with(&|v| v["properties"]["killed_men"] = json!(-2))], "field `killed_men`: negative count -2"),
        ("missing required", "incidents", vec![with(&|v| { v["properties"].as_object_mut().unwrap().remove("category"); })], "field `category`: missing required field"),
    ];
    for (name, layer, mut feats, want) in cases {
        // One valid feature in front: all-or-nothing must refuse it too.
        feats.insert(0, incident_for(layer));
        let path = write_fc(dir.path(), "bad.geojson", &feats);
        let o = run(&store, &["ingest", layer, path.to_str().unwrap()]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(want), "{name}: expected {want:?} in:\n{err}");
        assert!(
            err.contains("bad.geojson: feature #"),
            "{name}: names file and index: {err}"
        );
        assert!(err.contains("nothing was stored"), "{name}: {err}");
        assert_eq!(
            std::fs::read(&store).unwrap(),
            before,
            "{name}: store changed"
        );
    }
    // A broken file: the JSON error names the position.
    let path = dir.path().join("broken.geojson");
    std::fs::write(
        &path,
        "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\"},\n  ]",
    )
    .unwrap();
    let o = run(&store, &["ingest", "incidents", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("line 2 column"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&store).unwrap(), before);
    assert_eq!(count(&store, "incidents"), 5);
}

fn incident_for(layer: &str) -> Value {
    match layer {
        "patrols" => {
            let mut p = others().1;
            p["id"] = json!("pat-ok");
            p
        }
        _ => incident(7),
    }
}

#[test]
fn skip_invalid_stores_the_rest_and_keeps_rejects_verbatim() {
    let dir = TempDir::new().unwrap();
    let store = store_in(&dir);
    let bad1 = r#"{"type":"Feature","id":"x1","geometry":{"type":"Point","coordinates":[500,1]},"properties":{"time":"2024-01-01","category":"killing"}}"#;
    let bad2 = r#"{"type":"Feature",  "geometry":null,"properties":{"time":"2024-01-01","category":"nope", "note":"é"}}"#;
    let good: Vec<String> = (0..10).map(|i| incident(i).to_string()).collect();
    let mut lines = good.clone();
    lines.insert(3, bad1.to_string());
    lines.insert(8, bad2.to_string());
    let path = dir.path().join("mixed.ndjson");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let rejects = dir.path().join("rejects.ndjson");
    let o = run(
        &store,
        &[
            "ingest",
            "incidents",
            path.to_str().unwrap(),
            "--skip-invalid",
            "--rejects",
            rejects.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(count(&store, "incidents"), 10);
    let text = std::fs::read_to_string(&rejects).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 2);
    // The feature is embedded byte for byte as it was in the input.
    assert!(rows[0].contains(bad1), "{}", rows[0]);
    assert!(rows[1].contains(bad2), "{}", rows[1]);
    let r0: Value = serde_json::from_str(rows[0]).unwrap();
    assert_eq!(r0["index"], 3);
    assert_eq!(r0["id"], "x1");
    assert_eq!(r0["problems"][0]["field"], "geometry");
    let r1: Value = serde_json::from_str(rows[1]).unwrap();
    assert_eq!(r1["index"], 8);
    let fields: Vec<&str> = r1["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["geometry", "category"]);
}

/// A pretty-printed FeatureCollection's rejected features still take one line
/// each in the rejects file (their line breaks become spaces).
#[test]
fn rejects_of_pretty_printed_input_are_one_line_each() {
    let dir = TempDir::new().unwrap();
    let store = store_in(&dir);
    let mut bad = incident(1);
    bad["properties"]["category"] = "nope".into();
    bad["properties"]["note"] = "two\nlines".into();
    let fc = serde_json::json!({"type": "FeatureCollection", "features": [incident(0), bad.clone(), incident(2)]});
    let path = dir.path().join("pretty.geojson");
    std::fs::write(&path, serde_json::to_string_pretty(&fc).unwrap()).unwrap();
    let rejects = dir.path().join("rejects.ndjson");
    let o = run(
        &store,
        &[
            "ingest",
            "incidents",
            path.to_str().unwrap(),
            "--skip-invalid",
            "--rejects",
            rejects.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&rejects).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 1, "{text}");
    let row: Value = serde_json::from_str(rows[0]).unwrap();
    assert_eq!(
        row["feature"], bad,
        "the feature is kept, only its layout changed"
    );
}

#[test]
fn reingest_is_an_idempotent_upsert() {
    let dir = TempDir::new().unwrap();
    let store = store_in(&dir);
    let feats: Vec<Value> = (0..50).map(incident).collect();
    let file = write_fc(dir.path(), "a.geojson", &feats);
    for _ in 0..3 {
        let o = run(&store, &["ingest", "incidents", file.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert_eq!(count(&store, "incidents"), 50);
    let first = run(&store, &["export", "incidents"]).stdout;
    assert_eq!(features_of(&first), feats);
    // A changed feature replaces the old one in place.
    let mut changed = incident(7);
    changed["properties"]["verification"] = json!("verified");
    let file = write_fc(dir.path(), "b.geojson", &[changed.clone()]);
    let o = bin()
        .arg("--store")
        .arg(&store)
        .args(["ingest", "incidents", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        stderr(&o).contains("stored 1 (0 new, 1 updated)"),
        "{}",
        stderr(&o)
    );
    let after = features_of(&run(&store, &["export", "incidents"]).stdout);
    assert_eq!(after.len(), 50);
    assert_eq!(after[7], changed);
}

#[test]
fn a_missing_store_is_not_left_behind_by_a_failed_ingest() {
    let dir = TempDir::new().unwrap();
    let store = store_in(&dir);
    let mut bad = incident(1);
    bad["properties"]["category"] = json!("?");
    let file = write_fc(dir.path(), "bad.geojson", &[bad]);
    let o = run(&store, &["ingest", "incidents", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!store.exists());
}

#[test]
#[cfg_attr(
    not(jointmap_shared_data),
    ignore = "../shared/data/ucdp-ged-23.1-car.geojson is absent"
)]
fn ucdp_ged_preset_ingests_all_events() {
    let ged =
        shared_data("ucdp-ged-23.1-car.geojson").expect("../shared/data/ucdp-ged-23.1-car.geojson");
    let dir = TempDir::new().unwrap();
    let store = store_in(&dir);
    let o = run(
        &store,
        &[
            "ingest",
            "incidents",
            ged.to_str().unwrap(),
            "--preset",
            "ucdp-ged",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(count(&store, "incidents"), 1848);
    let all = features_of(&run(&store, &["export", "incidents"]).stdout);
    let one_sided = all
        .iter()
        .filter(|f| f["properties"]["category"] == "killing")
        .count();
    assert_eq!(one_sided, 1076, "type_of_violence 3 events");
    // Without the preset the foreign schema is refused, naming the missing fields.
    let o = run(&store, &["ingest", "incidents", ged.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("field `category`: missing required field"));
}

#[test]
#[cfg_attr(
    not(jointmap_ogrinfo),
    ignore = "ogrinfo is not installed (apt-get install gdal-bin)"
)]
fn ogrinfo_reads_the_store_as_a_geopackage() {
    let dir = TempDir::new().unwrap();
    let store = store_in(&dir);
    let feats: Vec<Value> = (0..120).map(incident).collect();
    let file = write_fc(dir.path(), "i.geojson", &feats);
    assert!(
        run(&store, &["ingest", "incidents", file.to_str().unwrap()])
            .status
            .success()
    );
    let (s, p, b) = others();
    for (layer, f) in [("sightings", s), ("patrols", p), ("bases", b)] {
        let file = write_fc(dir.path(), "x.geojson", &[f]);
        assert!(run(&store, &["ingest", layer, file.to_str().unwrap()])
            .status
            .success());
    }
    let o = std::process::Command::new("ogrinfo")
        .arg("-ro")
        .arg(&store)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for l in ["incidents (Point)", "sightings (Point)", "patrols", "bases"] {
        assert!(out.contains(l), "ogrinfo lists {l}:\n{out}");
    }
    // Exactly the five layers: jointmap's own tables (meta, history of
    // replaced versions) are no layers.
    let layers = |out: &str| {
        out.lines()
            .filter(|l| {
                l.split_once(": ")
                    .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
            })
            .count()
    };
    assert_eq!(layers(&out), 5, "{out}");
    let mut changed = incident(5);
    changed["properties"]["category"] = json!("killing");
    let file = write_fc(dir.path(), "changed.geojson", &[changed]);
    assert!(
        run(&store, &["ingest", "incidents", file.to_str().unwrap()])
            .status
            .success()
    );
    let o = std::process::Command::new("ogrinfo")
        .arg("-ro")
        .arg(&store)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(layers(&out), 5, "with a history row:\n{out}");
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("Warning"),
        "{o:?}"
    );
    for (layer, n) in [
        ("incidents", 120),
        ("sightings", 1),
        ("patrols", 1),
        ("bases", 1),
    ] {
        let o = std::process::Command::new("ogrinfo")
            .args(["-ro", "-so"])
            .arg(&store)
            .arg(layer)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            out.contains(&format!("Feature Count: {n}")),
            "{layer}:\n{out}"
        );
        assert!(out.contains("WGS 84"), "{layer} CRS:\n{out}");
    }
    // GDAL reads the geometry and fields we wrote.
    let o = std::process::Command::new("ogrinfo")
        .args(["-ro", "-q", "-where", "id = 'inc-3'"])
        .arg(&store)
        .arg("incidents")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("POINT (16.03 4.5)"), "{out}");
    assert!(out.contains("category (String) = looting-burning"), "{out}");
}

#[test]
fn mapping_file_reads_a_foreign_schema() {
    let dir = TempDir::new().unwrap();
    let store = store_in(&dir);
    let mapping = dir.path().join("acled.toml");
    std::fs::write(
        &mapping,
        r#"
id = "event_id_cnty"
id_prefix = "acled-"
[rename]
time_start = "event_date"
category = "sub_event_type"
perpetrator = "actor1"
killed_unknown = "fatalities"
[values.category]
"Attack" = "killing"
"Abduction/forced disappearance" = "abduction"
[set]
owner = "mission"
classification = "public"
"#,
    )
    .unwrap();
    let feats = vec![
        json!({"type":"Feature","geometry":{"type":"Point","coordinates":[18.5,4.4]},
               "properties":{"event_id_cnty":"CAR123","event_date":"2024-02-03","sub_event_type":"Attack","actor1":"X","fatalities":2,"notes":"kept"}}),
        json!({"type":"Feature","geometry":{"type":"Point","coordinates":[18.6,4.5]},
               "properties":{"event_id_cnty":"CAR124","event_date":"2024-02-04","sub_event_type":"Abduction/forced disappearance","actor1":"Y","fatalities":0}}),
    ];
    let file = write_fc(dir.path(), "acled.geojson", &feats);
    let o = run(
        &store,
        &[
            "ingest",
            "incidents",
            file.to_str().unwrap(),
            "--mapping",
            mapping.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = features_of(&run(&store, &["export", "incidents"]).stdout);
    assert_eq!(out[0]["id"], "acled-CAR123");
    assert_eq!(out[0]["properties"]["category"], "killing");
    assert_eq!(out[0]["properties"]["killed_unknown"], 2);
    assert_eq!(out[0]["properties"]["classification"], "public");
    assert_eq!(out[0]["properties"]["notes"], "kept");
    assert_eq!(out[1]["properties"]["category"], "abduction");
    // A broken mapping file is bad input, named.
    std::fs::write(&mapping, "renamed = 3").unwrap();
    let o = run(
        &store,
        &[
            "ingest",
            "incidents",
            file.to_str().unwrap(),
            "--mapping",
            mapping.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("acled.toml"), "{}", stderr(&o));
}

#[test]
fn a_file_that_is_not_a_store_is_refused() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("notes.gpkg");
    std::fs::write(&store, "plain text, not a database").unwrap();
    let o = run(&store, &["layers"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a GeoPackage"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&store).unwrap(),
        b"plain text, not a database"
    );
}

#[test]
fn rejects_file_may_not_be_an_input() {
    let dir = TempDir::new().unwrap();
    let store = store_in(&dir);
    let file = write_fc(dir.path(), "in.geojson", &[incident(1)]);
    let o = run(
        &store,
        &[
            "ingest",
            "incidents",
            file.to_str().unwrap(),
            "--skip-invalid",
            "--rejects",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("would overwrite input"),
        "{}",
        stderr(&o)
    );
    assert!(std::fs::read_to_string(&file).unwrap().contains("inc-1"));
}

#[test]
fn read_commands_need_an_existing_store() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("typo.gpkg");
    for args in [
        vec!["layers"],
        vec!["export", "incidents"],
        vec!["hotspots"],
        vec!["clusters"],
    ] {
        let o = run(&store, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains("no such store"), "{}", stderr(&o));
        assert!(!store.exists());
    }
}

//! `jointmap brief threat-matrix`: a constructed store whose threats, their
//! likelihood, impact, type, actors, civilians and nearest base the test
//! knows; the CSV read back as a spreadsheet would; a partner's draft
//! without any canary record in its GeoJSON, HTML and CSV; the demo in
//! English and French; bad parameters refused by name.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::Path;
use tempfile::TempDir;

const AS_OF: &str = "2025-03-30";
/// Ten killings: likelihood 5 (threat about 9.4 per 100 km2), impact 5.
const A: [f64; 2] = [17.00, 6.00];
/// Five abductions: likelihood 4 (about 4.7), impact 4: risk 16, high.
const C: [f64; 2] = [18.50, 6.00];
/// Three threats and intimidation: likelihood 3, impact 2: risk 6, medium.
const B: [f64; 2] = [17.75, 6.60];

fn tm(store: &Path, extra: &[&str]) -> std::process::Output {
    tm_at(store, AS_OF, extra)
}

fn tm_at(store: &Path, as_of: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["brief", "threat-matrix", "--as-of", as_of];
    args.extend_from_slice(extra);
    run(store, &args)
}

fn geojson(store: &Path, extra: &[&str]) -> Value {
    geojson_at(store, AS_OF, extra)
}

fn geojson_at(store: &Path, as_of: &str, extra: &[&str]) -> Value {
    let o = tm_at(store, as_of, &[&["--format", "geojson"], extra].concat());
    assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("GeoJSON")
}

fn inc(id: String, pos: [f64; 2], cat: &str, perp: &str, consent: &str) -> Value {
    json!({"type": "Feature", "id": id,
      "geometry": {"type": "Point", "coordinates": pos},
      "properties": {"time_start": "2025-03-29T10:00:00Z", "category": cat, "owner": "hr",
        "classification": "mission", "consent": consent, "verification": "corroborated",
        "location_precision": "exact", "perpetrator_category": perp}})
}

fn jitter(i: usize) -> f64 {
    (i as f64 - 5.0) * 2e-6
}

fn ingest(dir: &Path, store: &Path, layer: &str, features: &[Value]) {
    let fc = write_fc(dir, &format!("{layer}.geojson"), features);
    let o = run(store, &["ingest", layer, fc.to_str().unwrap()]);
    assert!(o.status.success(), "{layer}: {}", stderr(&o));
}

/// The constructed mission: three places of harm, bases (one closed
/// before the as-of date, nearer A than any open one), a village by A, an
/// armed group seen at A, a patrol through A in the last week.
fn constructed(dir: &Path) -> std::path::PathBuf {
    let store = dir.join("s.gpkg");
    let mut incidents = Vec::new();
    for i in 0..10 {
        let p = [A[0] + jitter(i), A[1] - jitter(i)];
        incidents.push(inc(
            format!("a{i}"),
            p,
            "killing",
            "non-state-armed-group",
            "partners",
        ));
    }
    for i in 0..5 {
        let p = [C[0] + jitter(i), C[1]];
        incidents.push(inc(format!("c{i}"), p, "abduction", "criminal", "partners"));
    }
    for i in 0..3 {
        let p = [B[0], B[1] + jitter(i)];
        incidents.push(inc(
            format!("b{i}"),
            p,
            "threat-intimidation",
            "unknown",
            "partners",
        ));
    }
    ingest(dir, &store, "incidents", &incidents);
    let base = |id: &str, name: &str, pos: [f64; 2], end: Option<&str>| {
        let mut f = json!({"type": "Feature", "id": id,
          "geometry": {"type": "Point", "coordinates": pos},
          "properties": {"time_start": "2024-01-01", "owner": "military",
            "classification": "mission", "name": name, "base_type": "cob"}});
        if let Some(e) = end {
            f["properties"]["time_end"] = json!(e);
        }
        f
    };
    ingest(
        dir,
        &store,
        "bases",
        &[
            base("base-n", "Base Nord", [17.00, 6.30], None),
            base("base-e", "Base Est", [18.40, 6.00], None),
            base("base-x", "Base Fermée", [17.02, 6.02], Some("2025-01-01")),
        ],
    );
    ingest(
        dir,
        &store,
        "sites",
        &[json!({"type": "Feature", "id": "site-a",
          "geometry": {"type": "Point", "coordinates": [17.03, 6.01]},
          "properties": {"time_start": "2020-01-01", "owner": "hr", "classification": "mission",
            "name": "Village Alpha", "site_type": "village", "population": 1200}})],
    );
    let sighting = |id: &str, dy: f64| {
        json!({"type": "Feature", "id": id,
          "geometry": {"type": "Point", "coordinates": [A[0] + 1e-5, A[1] + dy]},
          "properties": {"time_start": "2025-03-28T06:00:00Z", "owner": "military",
            "classification": "mission", "actor": "Groupe Alpha", "activity": "attack"}})
    };
    ingest(
        dir,
        &store,
        "sightings",
        &[sighting("s1", 0.0), sighting("s2", 1e-5)],
    );
    let patrol = json!({"type": "Feature", "id": "pat-a",
      "geometry": {"type": "LineString", "coordinates": [[A[0] - 0.05, A[1] - 0.05], [A[0] + 0.05, A[1] + 0.05]]},
      "properties": {"time_start": "2025-03-27T06:00:00Z", "time_end": "2025-03-27T10:00:00Z",
        "owner": "military", "classification": "restricted", "unit": "Coy A", "mode": "foot",
        "kind": "routine", "period": "day"}});
    ingest(dir, &store, "patrols", &[patrol]);
    store
}

fn km(a: [f64; 2], b: [f64; 2]) -> f64 {
    let r = 6_371_008.8;
    let (la1, la2) = (a[1].to_radians(), b[1].to_radians());
    let dla = la2 - la1;
    let dlo = (b[0] - a[0]).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * r * h.sqrt().asin() / 1000.0
}

fn props(v: &Value) -> Vec<&Value> {
    v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["properties"])
        .collect()
}

#[test]
fn the_constructed_threats_with_their_grid_place_actors_civilians_and_base() {
    let dir = TempDir::new().unwrap();
    let store = constructed(dir.path());
    let v = geojson(&store, &[]);
    assert_eq!(v["jointmap"]["kind"], "threat-matrix");
    let p = props(&v);
    assert_eq!(
        p.len(),
        2,
        "A and C are high or extreme, B is medium: {v:#}"
    );
    let (a, c) = (p[0], p[1]);
    for (t, n, l, i, level) in [(a, 1, 5, 5, "extreme"), (c, 2, 4, 4, "high")] {
        assert_eq!(t["number"], n);
        assert_eq!(t["likelihood"], l, "{t}");
        assert_eq!(t["impact"], i, "{t}");
        assert_eq!(t["risk"], l * i, "{t}");
        assert_eq!(t["risk_level"], level, "{t}");
        assert_eq!(
            t["cells"], 1,
            "10 km cells: the kernel ends at the next centre"
        );
        assert!(t["threat_id"].as_str().unwrap().starts_with("T-"));
        for col in ["mitigation", "owner", "notes"] {
            assert_eq!(t[col], "", "{col} is left to the analysts");
        }
    }
    let at = |t: &Value| [t["lon"].as_f64().unwrap(), t["lat"].as_f64().unwrap()];
    assert!(km(at(a), A) < 8.0 && km(at(c), C) < 8.0, "{a} {c}");
    // Type and actors: the dominant categories with their counts.
    assert_eq!(a["type"], "killing (10)");
    assert_eq!(a["actors"], "non-state-armed-group (10)");
    assert_eq!(c["type"], "abduction (5)");
    assert_eq!(c["actors"], "criminal (5)");
    assert_eq!(a["incidents"], 10);
    assert_eq!(c["incidents"], 5);
    assert_eq!(a["sightings"], 2);
    assert_eq!(a["armed_groups"], "Groupe Alpha (2)");
    assert_eq!(c["armed_groups"], "");
    // Civilians: the village by A; none within 15 km of C.
    assert_eq!(a["civilian_sites"], "Village Alpha (1200)");
    assert_eq!(a["population"], 1200);
    assert_eq!(a["place"], "Village Alpha");
    assert_eq!(c["civilian_sites"], "");
    assert_eq!(c["population"], 0);
    // The nearest open base (the closed one, nearer A, is not), its
    // distance from the threat's centre.
    assert_eq!(a["nearest_base"], "Base Nord");
    assert_eq!(c["nearest_base"], "Base Est");
    for (t, b) in [(a, [17.00, 6.30]), (c, [18.40, 6.00])] {
        let d = t["nearest_base_km"].as_f64().unwrap();
        assert!((d - km(at(t), b)).abs() < 0.06, "{t}");
    }
    // The patrol through A in the last week: presence and a visit there.
    assert!(a["presence_7d"].as_f64().unwrap() > 0.0, "{a}");
    assert!(a["presence_30d"].as_f64().unwrap() >= a["presence_7d"].as_f64().unwrap() - 1e-9);
    assert!(a["patrol_visits"].as_u64().unwrap() >= 1, "{a}");
    // C lies within Base Est's reach: presence 1, with no patrol.
    assert_eq!(c["presence_7d"], 1.0);
    assert_eq!(c["patrol_visits"], 0);

    // Medium and above: B joins, third, at likelihood 3 and impact 2.
    let v = geojson(&store, &["--min-risk", "medium"]);
    let p = props(&v);
    assert_eq!(p.len(), 3);
    assert_eq!(
        (&p[2]["likelihood"], &p[2]["impact"]),
        (&json!(3), &json!(2))
    );
    assert_eq!(p[2]["risk_level"], "medium");
    assert_eq!(p[2]["type"], "threat-intimidation (3)");

    // 5 km cells: the kernel reaches the neighbours. A: its cell (25),
    // four edge neighbours (likelihood 4, impact 5: 20) and four diagonal
    // ones (3 x 5 = 15), one threat of 9 cells; C: its cell (16) and four
    // edge neighbours (3 x 4 = 12), the diagonal ones (2 x 4 = 8) left out.
    let v = geojson(&store, &["--cell-km", "5"]);
    let p = props(&v);
    assert_eq!(p.len(), 2, "{v:#}");
    assert_eq!((&p[0]["cells"], &p[0]["risk"]), (&json!(9), &json!(25)));
    assert_eq!((&p[1]["cells"], &p[1]["risk"]), (&json!(5), &json!(16)));
    assert!(km(at(p[0]), A) < 4.0, "the centre of a symmetric block");
}

#[test]
fn the_csv_reads_back_as_a_spreadsheet_would_and_ids_are_stable() {
    let dir = TempDir::new().unwrap();
    let store = constructed(dir.path());
    let v = geojson(&store, &["--min-risk", "medium"]);
    let o = tm(&store, &["--min-risk", "medium", "--format", "csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout.clone()).expect("UTF-8");
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    for col in [
        "threat_id",
        "lon",
        "lat",
        "type",
        "actors",
        "civilian_sites",
        "population",
        "nearest_base",
        "nearest_base_km",
        "presence_7d",
        "presence_30d",
        "patrol_visits",
        "likelihood",
        "impact",
        "risk_level",
        "mitigation",
        "owner",
        "notes",
    ] {
        assert!(header.contains(&col.to_string()), "{col} in {header:?}");
    }
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let features = v["features"].as_array().unwrap();
    assert_eq!(rows.len(), features.len());
    for (row, f) in rows.iter().zip(features) {
        assert_eq!(row.len(), header.len());
        assert_eq!(&row[col("threat_id")], f["properties"]["threat_id"]);
        assert_eq!(
            &row[col("likelihood")],
            f["properties"]["likelihood"].to_string()
        );
        assert_eq!(&row[col("mitigation")], "");
    }
    // Same data, same draft: the ids do not move.
    let again = geojson(&store, &["--min-risk", "medium"]);
    assert_eq!(again["features"], v["features"]);
}

/// A self-contained document: no script, no external reference.
fn assert_self_contained(doc: &str) {
    assert!(doc.starts_with("<!DOCTYPE html>"));
    for bad in ["http://", "https://", "<script", "<link", "url(", "@import"] {
        assert!(!doc.contains(bad), "the document holds {bad:?}");
    }
    for (i, _) in doc.match_indices("src=\"") {
        assert!(doc[i + 5..].starts_with("data:image/png;base64,"));
    }
    assert!(doc.contains("@page") && doc.contains("size: A4"));
}

#[test]
fn the_document_places_each_threat_on_the_5x5_grid_in_english_and_french() {
    let dir = TempDir::new().unwrap();
    let store = constructed(dir.path());
    for (lang, title, how) in [
        ("en", "Threat matrix", "How this was computed"),
        ("fr", "Matrice des menaces", "Méthode de calcul"),
    ] {
        let o = tm(&store, &["--lang", lang, "--format", "html"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let doc = String::from_utf8(o.stdout).unwrap();
        assert_self_contained(&doc);
        assert!(doc.contains(title) && doc.contains(how), "{lang}");
        assert!(doc.contains(&format!("lang=\"{lang}\"")));
        // A at likelihood 5 x impact 5, C at 4 x 4.
        assert!(doc.contains("data-l=\"5\" data-i=\"5\" style=\"background:#b2182b\">1</td>"));
        assert!(doc.contains("data-l=\"4\" data-i=\"4\" style=\"background:#ef8a62\">2</td>"));
        assert!(doc.contains("Base Nord") && doc.contains("Village Alpha"));
    }
}

#[test]
fn bad_parameters_are_refused_by_name() {
    let dir = TempDir::new().unwrap();
    let store = constructed(dir.path());
    for (args, needle) in [
        (vec!["--window-days", "0"], "window-days"),
        (vec!["--window-days", "many"], "window-days"),
        (vec!["--min-risk", "severe"], "min-risk"),
        (vec!["--cell-km", "0"], "cell-km"),
        (vec!["--near-km=-3"], "near-km"),
        (vec!["--format", "pdf"], "format"),
        (vec!["--as-role", "visitor"], "as-role"),
    ] {
        let o = tm(&store, &args);
        assert!(!o.status.success(), "{args:?} was accepted");
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn a_partners_threat_matrix_holds_no_canary() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("demo.gpkg");
    let o = run(&store, &["demo", "--incidents", "3000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Consent-none and hr-only incidents with narratives, in a busy place
    // and alone; a strictly confidential sighting, site and base.
    let mut canaries = Vec::new();
    for i in 0..8 {
        for (tag, pos, consent) in [
            ("NONE", [16.55, 6.05], "none"),
            ("HRONLY", [19.9876, 7.1234], "hr-only"),
        ] {
            let mut f = inc(
                format!("CANARY-{tag}-{i}"),
                pos,
                "killing",
                "non-state-armed-group",
                consent,
            );
            f["properties"]["time_start"] = json!(format!("2025-12-{:02}T10:00:00Z", 10 + i));
            f["properties"]["narrative"] = json!(format!("CANARY narrative {tag} {i}"));
            f["properties"]["perpetrator"] = json!("CANARY-PERPETRATOR");
            canaries.push(f);
        }
    }
    ingest(dir.path(), &store, "incidents", &canaries);
    let secret = |layer: &str| -> Value {
        let mut p = json!({"time_start": "2024-01-01T00:00:00Z", "owner": "military",
            "classification": "strictly-confidential"});
        let extra = match layer {
            "sightings" => json!({"actor": "CANARY-ACTOR", "activity": "attack", "strength": 40,
                "time_start": "2025-12-20T06:00:00Z"}),
            "sites" => json!({"name": "CANARY-SITE", "site_type": "idp-site", "population": 4321}),
            _ => json!({"name": "CANARY-BASE", "base_type": "pob"}),
        };
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        json!({"type": "Feature", "id": format!("CANARY-{layer}"),
          "geometry": {"type": "Point", "coordinates": [16.56, 6.06]}, "properties": p})
    };
    for layer in ["sightings", "sites", "bases"] {
        ingest(dir.path(), &store, layer, &[secret(layer)]);
    }
    for lang in ["en", "fr"] {
        let mut outputs = Vec::new();
        for format in ["geojson", "html", "csv"] {
            let args = [
                "--as-of",
                "2025-12-31",
                "--as-role",
                "partner",
                "--lang",
                lang,
                "--format",
                format,
            ];
            let o = run(&store, &[&["brief", "threat-matrix"], &args[..]].concat());
            assert!(o.status.success(), "{format}: {}", stderr(&o));
            outputs.push((format, o.stdout));
        }
        for (format, bytes) in &outputs {
            let text = String::from_utf8_lossy(bytes);
            for needle in ["CANARY", "narrative ", "4321"] {
                assert!(
                    !text.contains(needle),
                    "{format} {lang}: {needle} reached the partner"
                );
            }
        }
        let g: Value = serde_json::from_slice(&outputs[0].1).unwrap();
        assert_eq!(g["jointmap"]["role"], "partner");
        assert!(
            !g["features"].as_array().unwrap().is_empty(),
            "the partner's draft has no threat on the demo"
        );
        for f in g["features"].as_array().unwrap() {
            let p = &f["properties"];
            // Breakdowns by category and individual sightings are not the
            // partner's; counts are at least k or suppressed.
            assert!(p["type"].is_null() && p["actors"].is_null() && p["armed_groups"].is_null());
            for k in ["incidents", "sightings", "patrol_visits"] {
                if let Some(n) = p[k].as_u64() {
                    assert!(n == 0 || n >= 5, "{k} under k: {p}");
                }
            }
        }
        let doc = String::from_utf8_lossy(&outputs[1].1);
        assert_self_contained(&doc);
    }
}

#[test]
fn the_demo_draft_in_english_and_french() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("demo.gpkg");
    let o = run(&store, &["demo", "--incidents", "3000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let en = geojson_at(&store, "2025-12-31", &[]);
    let fr = geojson_at(&store, "2025-12-31", &["--lang", "fr"]);
    assert!(!en["features"].as_array().unwrap().is_empty());
    assert_eq!(en["features"], fr["features"], "numbers differ by language");
    assert!(en["jointmap"]["parts"]["risk_surface"]["request"].is_object());
    // The order rule on every pair.
    let p = props(&en);
    for w in p.windows(2) {
        let key = |t: &Value| {
            (
                t["risk"].as_u64().unwrap(),
                t["likelihood"].as_u64().unwrap(),
                t["impact"].as_u64().unwrap(),
                t["cells"].as_u64().unwrap(),
            )
        };
        assert!(key(w[0]) >= key(w[1]), "{} before {}", w[0], w[1]);
    }
}

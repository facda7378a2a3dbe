//! Shared helpers for the whole-flow tests: run the binary, make inputs.
#![allow(dead_code)]

pub mod mvt;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_jointmap"));
    c.env_remove("JOINTMAP_STORE");
    c
}

/// Runs `jointmap --store <store> <args>` and returns its output.
pub fn run(store: &Path, args: &[&str]) -> Output {
    bin()
        .arg("--store")
        .arg(store)
        .arg("--quiet")
        .args(args)
        .output()
        .expect("run jointmap")
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes `features` as a FeatureCollection into `dir/name`.
pub fn write_fc(dir: &Path, name: &str, features: &[Value]) -> PathBuf {
    let path = dir.join(name);
    let fc = json!({"type": "FeatureCollection", "features": features});
    std::fs::write(&path, serde_json::to_string_pretty(&fc).unwrap()).unwrap();
    path
}

/// A fully specified incident (every schema field explicit, plus extras), in
/// the normalised form export writes.
pub fn incident(i: usize) -> Value {
    let lon = 16.0 + (i % 500) as f64 * 0.01;
    let lat = 4.5 + (i / 500 % 300) as f64 * 0.01;
    json!({"type": "Feature", "id": format!("inc-{i}"),
    "geometry": {"type": "Point", "coordinates": [lon, lat]},
    "properties": {
      "time_start": format!("2024-{:02}-{:02}T{:02}:30:00Z", i % 12 + 1, i % 28 + 1, i % 24),
      "owner": "hr", "classification": "restricted",
      "category": "looting-burning", "perpetrator": "Group A", "perpetrator_category": "non-state-armed-group",
      "killed_women": 0, "killed_men": (i % 3) as i64, "killed_girls": 0, "killed_boys": 0, "killed_unknown": 0,
      "injured_women": 1, "injured_men": 0, "injured_girls": 0, "injured_boys": 0, "injured_unknown": 0,
      "affected_women": 0, "affected_men": 0, "affected_girls": 0, "affected_boys": 0, "affected_unknown": 4,
      "verification": "corroborated", "source_type": "witness", "source_reliability": "B",
      "location_precision": "exact", "consent": "mission", "narrative": "Synthetic test record.",
      "village_code": format!("V{i}"), "nested": {"kept": [1, 2, 3]}
    }})
}

/// A sighting, patrol and base in normalised form.
pub fn others() -> (Value, Value, Value) {
    let sighting = json!({"type": "Feature", "id": "sig-1",
      "geometry": {"type": "Point", "coordinates": [17.5, 6.25]},
      "properties": {"time_start": "2025-02-01T06:00:00Z", "owner": "military", "classification": "restricted",
        "actor": "Front Alpha (fictional)", "strength": 40, "activity": "checkpoint",
        "source_reliability": "C", "info_credibility": 3, "reporter_unit": "Coy B"}});
    let patrol = json!({"type": "Feature", "id": "pat-1",
      "geometry": {"type": "LineString", "coordinates": [[18.5, 4.4], [18.6, 4.5], [18.7, 4.55]]},
      "properties": {"time_start": "2025-02-01T06:00:00Z", "time_end": "2025-02-01T09:00:00Z",
        "owner": "military", "classification": "restricted", "unit": "BANBAT-1 Coy A", "mode": "vehicle",
        "kind": "escort", "period": "day",
        "vertex_times": ["2025-02-01T06:00:00Z", "2025-02-01T07:30:00Z", "2025-02-01T09:00:00Z"]}});
    let base = json!({"type": "Feature", "id": "base-1",
      "geometry": {"type": "Polygon", "coordinates": [[[18.55, 4.36], [18.56, 4.36], [18.56, 4.37], [18.55, 4.36]]]},
      "properties": {"time_start": "2024-01-01T00:00:00Z", "time_end": "2025-06-30T00:00:00Z",
        "owner": "military", "classification": "mission", "name": "Bangui HQ", "base_type": "mission-hq", "reach_km": 30.0}});
    (sighting, patrol, base)
}

/// Parses an exported FeatureCollection into its features.
pub fn features_of(text: &[u8]) -> Vec<Value> {
    let v: Value = serde_json::from_slice(text).expect("export is JSON");
    v["features"].as_array().expect("features array").clone()
}

/// Count of a layer, read through `layers --json`.
pub fn count(store: &Path, layer: &str) -> u64 {
    let o = run(store, &["layers", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .find(|l| l["layer"] == layer)
        .and_then(|l| l["count"].as_u64())
        .unwrap()
}

/// `../shared/data/<name>` when present.
pub fn shared_data(name: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(name);
    p.exists().then_some(p)
}

/// A store location on the test server (`JOINTMAP_TEST_PG`) in a schema of
/// its own (`tag`, the process and the clock make it fresh).
pub fn postgis_store(tag: &str) -> String {
    let url = std::env::var("JOINTMAP_TEST_PG")
        .expect("JOINTMAP_TEST_PG: a PostgreSQL URL (tools/pg-test-cluster.sh start)");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}schema=jm_{tag}_{}_{nanos}", std::process::id())
}

/// The first place where two JSON values differ, as a JSON pointer with both
/// sides, so an equality failure names the field rather than dumping bodies.
pub fn first_difference(a: &Value, b: &Value) -> Option<String> {
    fn walk(a: &Value, b: &Value, at: &str) -> Option<String> {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                for k in x.keys().chain(y.keys()) {
                    let here = format!("{at}/{k}");
                    match (x.get(k), y.get(k)) {
                        (Some(p), Some(q)) => {
                            if let Some(d) = walk(p, q, &here) {
                                return Some(d);
                            }
                        }
                        (p, q) => return Some(format!("{here}: {p:?} vs {q:?}")),
                    }
                }
                None
            }
            (Value::Array(x), Value::Array(y)) => {
                for (i, (p, q)) in x.iter().zip(y).enumerate() {
                    if let Some(d) = walk(p, q, &format!("{at}/{i}")) {
                        return Some(d);
                    }
                }
                (x.len() != y.len()).then(|| format!("{at}: {} items vs {}", x.len(), y.len()))
            }
            _ => (a != b).then(|| format!("{at}: {a} vs {b}")),
        }
    }
    walk(a, b, "")
}

/// Incidents a partner may see (published data), each carrying values only
/// hr may see, and incidents it may not see at all.
pub fn canary_incidents() -> Vec<Value> {
    let mut out = Vec::new();
    for i in 0..40 {
        let mut f = incident(i);
        if i % 4 == 0 {
            f["id"] = json!(format!("CANARY-HIDDEN-{i}"));
        }
        let p = f["properties"].as_object_mut().unwrap();
        if i % 4 == 0 {
            // Not for partners at all.
            p.insert("consent".into(), json!("hr-only"));
        } else {
            p.insert("owner".into(), json!("mission"));
            p.insert("classification".into(), json!("public"));
            p.insert("consent".into(), json!("partners"));
        }
        p.insert("narrative".into(), json!(format!("CANARY-NARRATIVE-{i}")));
        p.insert("source_name".into(), json!(format!("CANARY-SOURCE-{i}")));
        p.insert("perpetrator".into(), json!("CANARY-PERPETRATOR"));
        p.insert("village_code".into(), json!(format!("CANARY-EXTRA-{i}")));
        p.shift_remove("nested");
        out.push(f);
    }
    out
}

//! `jointmap brief handover`: on a constructed store the test knows which
//! area emerged, which persisted, which faded, which blind spots closed and
//! opened, where armed-group sightings appeared, and the incident counts
//! per month; a partner's pack holds no canary record in any output byte;
//! bad parameters are refused by name.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::Path;
use tempfile::TempDir;

/// Persisted hot spot, patrolled in the last month.
const X: [f64; 2] = [17.05, 6.00];
/// Emerged in the last 12 weeks, never patrolled.
const Y: [f64; 2] = [17.60, 6.00];
/// Hot until the period's start (30 December 2024), then nothing.
const Z: [f64; 2] = [18.20, 6.00];
const AS_OF: &str = "2025-06-30";

fn date(s: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn inc(id: String, pos: [f64; 2], day: chrono::NaiveDate, category: &str) -> Value {
    json!({"type": "Feature", "id": id,
      "geometry": {"type": "Point", "coordinates": pos},
      "properties": {"time_start": format!("{day}T10:00:00Z"), "category": category,
        "owner": "hr", "classification": "mission", "consent": "partners",
        "verification": "corroborated", "location_precision": "exact"}})
}

/// Four incidents a week at `pos` and at 0.09 degree (a cell) east, west,
/// north and south of it, from `from` to `to` (inclusive), a little apart:
/// a block of hot cells.
fn burst(out: &mut Vec<Value>, tag: &str, pos: [f64; 2], from: &str, to: &str, cat: &str) {
    let (mut d, end) = (date(from), date(to));
    let mut n = 0;
    while d <= end {
        for (o, off) in [
            [0.0, 0.0],
            [0.09, 0.0],
            [-0.09, 0.0],
            [0.0, 0.09],
            [0.0, -0.09],
        ]
        .iter()
        .enumerate()
        {
            for k in 0..4 {
                let j = ((n * 7919 + k * 104_729) % 300) as f64 * 1e-5;
                let p = [pos[0] + off[0] + j, pos[1] + off[1] - j];
                out.push(inc(format!("{tag}{n:04}-{o}-{k}"), p, d, cat));
            }
        }
        d += chrono::Duration::days(7);
        n += 1;
    }
}

/// Eight incidents a week at X (all year), Y (the last 12 weeks) and Z
/// (until the start); background: villages every 0.15 degree, away from
/// them, with one incident every four weeks each.
fn store(dir: &Path) -> (std::path::PathBuf, Vec<Value>) {
    let mut all = Vec::new();
    burst(&mut all, "X", X, "2024-06-03", "2025-06-30", "killing");
    burst(&mut all, "Y", Y, "2025-04-07", "2025-06-30", "killing");
    burst(&mut all, "Z", Z, "2024-06-03", "2024-12-30", "killing");
    let villages = (0..15)
        .flat_map(|i| (0..7).map(move |j| [16.55 + 0.15 * i as f64, 5.55 + 0.15 * j as f64]))
        .filter(|p| {
            [X, Y, Z]
                .iter()
                .all(|q| (p[0] - q[0]).abs().max((p[1] - q[1]).abs()) > 0.16)
        });
    for (v, pos) in villages.enumerate() {
        let mut d = date("2024-06-05") + chrono::Duration::days(v as i64 % 28);
        let mut n = 0;
        while d <= date("2025-06-29") {
            all.push(inc(format!("V{n:04}-{v}"), pos, d, "looting-burning"));
            d += chrono::Duration::days(28);
            n += 1;
        }
    }
    let store = dir.join("s.gpkg");
    let fc = write_fc(dir, "inc.geojson", &all);
    let o = run(&store, &["ingest", "incidents", fc.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Daily foot patrols criss-crossing the block around X in June 2025.
    let patrols: Vec<Value> = (1..=29)
        .flat_map(|day| [-0.12, -0.06, 0.0, 0.06, 0.12].map(|dy| (day, dy)))
        .map(|(day, dy)| {
            json!({"type": "Feature", "id": format!("pat-{day}-{dy}"),
          "geometry": {"type": "LineString",
            "coordinates": [[X[0] - 0.15, X[1] + dy], [X[0] + 0.15, X[1] + dy]]},
          "properties": {"time_start": format!("2025-06-{day:02}T06:00:00Z"),
            "time_end": format!("2025-06-{day:02}T10:00:00Z"),
            "owner": "military", "classification": "restricted", "unit": "Coy A",
            "mode": "foot", "kind": "routine", "period": "day"}})
        })
        .collect();
    let fc = write_fc(dir, "pat.geojson", &patrols);
    let o = run(&store, &["ingest", "patrols", fc.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Armed-group sightings near Z in the first half, near Y in the second.
    let sighting = |id: String, pos: [f64; 2], day: &str| {
        json!({"type": "Feature", "id": id,
          "geometry": {"type": "Point", "coordinates": pos},
          "properties": {"time_start": format!("{day}T06:00:00Z"), "owner": "military",
            "classification": "restricted", "actor": "group A", "strength": 20,
            "activity": "movement", "source_reliability": "B", "info_credibility": 2,
            "reporter_unit": "Coy A"}})
    };
    let mut s = Vec::new();
    for i in 0..6 {
        s.push(sighting(
            format!("sz{i}"),
            Z,
            &format!("2025-02-{:02}", 3 + i),
        ));
        s.push(sighting(
            format!("sy{i}"),
            Y,
            &format!("2025-05-{:02}", 3 + i),
        ));
    }
    let fc = write_fc(dir, "s.geojson", &s);
    let o = run(&store, &["ingest", "sightings", fc.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    (store, all)
}

fn pack(store: &Path, extra: &[&str]) -> Vec<u8> {
    let mut args = vec!["brief", "handover", "--as-of", AS_OF];
    args.extend_from_slice(extra);
    let o = run(store, &args);
    assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
    o.stdout
}

fn geojson(store: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["--format", "geojson"];
    args.extend_from_slice(extra);
    serde_json::from_slice(&pack(store, &args)).expect("GeoJSON")
}

fn contains(f: &Value, p: [f64; 2]) -> bool {
    let rings: Vec<&Value> = match f["geometry"]["type"].as_str() {
        Some("Polygon") => vec![&f["geometry"]["coordinates"][0]],
        Some("MultiPolygon") => f["geometry"]["coordinates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|poly| &poly[0])
            .collect(),
        _ => return false,
    };
    rings.iter().any(|r| {
        let xs: Vec<[f64; 2]> = r
            .as_array()
            .unwrap()
            .iter()
            .map(|c| [c[0].as_f64().unwrap(), c[1].as_f64().unwrap()])
            .collect();
        // Even-odd ray casting.
        let mut inside = false;
        for w in xs.windows(2) {
            let (a, b) = (w[0], w[1]);
            if (a[1] > p[1]) != (b[1] > p[1])
                && p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]) + a[0]
            {
                inside = !inside;
            }
        }
        inside
    })
}

fn section<'a>(v: &'a Value, name: &str) -> Vec<&'a Value> {
    v["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["properties"]["section"] == name)
        .collect()
}

/// The changes of the features of `name` holding the incidents at `p`
/// (their centre: `burst` spreads them up to 0.003 degree east and south).
fn change_at(v: &Value, name: &str, p: [f64; 2]) -> Vec<String> {
    let p = [p[0] + 0.0015, p[1] - 0.0015];
    section(v, name)
        .into_iter()
        .filter(|f| contains(f, p))
        .map(|f| f["properties"]["change"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn what_emerged_persisted_faded_and_which_blind_spot_closed() {
    let dir = TempDir::new().unwrap();
    let (store, all) = store(dir.path());
    let v = geojson(&store, &[]);
    assert_eq!(v["jointmap"]["kind"], "handover");
    assert_eq!(v["jointmap"]["months"], 6);
    assert_eq!(change_at(&v, "hotspot", Y), ["emerged"], "{v}");
    assert_eq!(change_at(&v, "hotspot", X), ["persisted"], "{v}");
    assert_eq!(change_at(&v, "hotspot", Z), ["faded"], "{v}");
    // X was a blind spot at the start and is patrolled now: closed; so is
    // Z (no incident in the last 90 days); Y is a new one.
    assert_eq!(change_at(&v, "blind_spot", X), ["closed"], "{v}");
    assert_eq!(change_at(&v, "blind_spot", Z), ["closed"], "{v}");
    assert_eq!(change_at(&v, "blind_spot", Y), ["new"], "{v}");
    // Coverage gained where X was patrolled.
    assert!(
        change_at(&v, "coverage", X).contains(&"gained".to_string()),
        "{v}"
    );
    assert_eq!(change_at(&v, "sightings", Y), ["appeared"], "{v}");
    assert_eq!(change_at(&v, "sightings", Z), ["gone"], "{v}");
    // What to know: X is covered now (not named as uncovered); Y emerged in
    // a blind spot; sightings rose at Y.
    let know = v["jointmap"]["what_to_know"].as_array().unwrap();
    let rules: Vec<&str> = know.iter().map(|k| k["rule"].as_str().unwrap()).collect();
    assert!(!rules.contains(&"persistent-uncovered"), "{know:?}");
    let y_cell = section(&v, "hotspot")
        .into_iter()
        .find(|f| contains(f, [Y[0] + 0.0015, Y[1] - 0.0015]))
        .map(|f| f["properties"]["cell"].clone())
        .unwrap();
    assert!(
        know.iter()
            .any(|k| k["rule"] == "emerged-blind" && k["subject"] == y_cell),
        "{know:?}"
    );
    assert!(know
        .iter()
        .any(|k| k["rule"] == "sightings-rising" && k["value"] == 6));
    // Incidents per month: six 30-day steps ending at the as-of date; the
    // total is every incident in them, and the categories add up.
    let m = &v["jointmap"]["monthly"];
    assert_eq!(m["steps"].as_array().unwrap().len(), 6, "{m}");
    let start = date("2025-01-01");
    let expected = all
        .iter()
        .filter(|f| {
            let d = date(&f["properties"]["time_start"].as_str().unwrap()[..10]);
            d > start && d <= date(AS_OF)
        })
        .count() as u64;
    let rows = m["rows"].as_array().unwrap();
    let sum = |r: &Value| -> Vec<u64> {
        r["counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect()
    };
    assert_eq!(rows[0]["category"], "all");
    assert_eq!(sum(&rows[0]).iter().sum::<u64>(), expected, "{m}");
    let cats: Vec<&str> = rows[1..]
        .iter()
        .map(|r| r["category"].as_str().unwrap())
        .collect();
    assert_eq!(cats, ["killing", "looting-burning"]);
    for k in 0..6 {
        let by: u64 = rows[1..].iter().map(|r| sum(r)[k]).sum();
        assert_eq!(by, sum(&rows[0])[k], "step {k}");
    }
    // The document, in both languages, names the same cells.
    let en = String::from_utf8(pack(&store, &[])).unwrap();
    let fr = String::from_utf8(pack(&store, &["--lang", "fr"])).unwrap();
    assert!(en.starts_with("<!DOCTYPE html>") && en.contains("size: A4"));
    assert_eq!(
        en.matches("data:image/png;base64,").count(),
        2,
        "then and now"
    );
    assert!(en.contains("How this was computed") && fr.contains("Méthode de calcul"));
    assert!(en.contains("What to know") && fr.contains("À retenir"));
    assert!(fr.contains("30 juin 2025") && en.contains("30 June 2025"));
    assert!(en.contains(y_cell.as_str().unwrap()) && fr.contains(y_cell.as_str().unwrap()));
    for bad in ["http://", "https://", "<script", "<link", "url("] {
        assert!(!en.contains(bad), "{bad}");
    }
    let csv = String::from_utf8(pack(&store, &["--format", "csv"])).unwrap();
    assert_eq!(
        csv.lines().count(),
        v["features"].as_array().unwrap().len() + 1
    );
    // Twelve months: twelve steps.
    let v12 = geojson(&store, &["--months", "12"]);
    assert_eq!(
        v12["jointmap"]["monthly"]["steps"]
            .as_array()
            .unwrap()
            .len(),
        12
    );
}

#[test]
fn a_partners_pack_holds_no_canary() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("demo.gpkg");
    let o = run(&store, &["demo", "--incidents", "3000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut canaries = Vec::new();
    for i in 0..8 {
        for (tag, pos, consent, owner) in [
            ("NONE", [16.55, 6.05], "none", "hr"),
            ("HRONLY", [19.9876, 7.1234], "hr-only", "hr"),
        ] {
            let mut f = inc(
                format!("CANARY-{tag}-{i}"),
                pos,
                date(&format!("2025-{:02}-{:02}", 7 + i % 5, 10 + i)),
                "killing",
            );
            f["properties"]["consent"] = json!(consent);
            f["properties"]["owner"] = json!(owner);
            f["properties"]["narrative"] = json!(format!("CANARY narrative {tag} {i}"));
            f["properties"]["perpetrator"] = json!("CANARY-PERPETRATOR");
            canaries.push(f);
        }
    }
    let fc = write_fc(dir.path(), "canaries.geojson", &canaries);
    let o = run(&store, &["ingest", "incidents", fc.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let sighting = json!({"type": "Feature", "id": "CANARY-SIGHTING",
      "geometry": {"type": "Point", "coordinates": [16.56, 6.06]},
      "properties": {"time_start": "2025-10-20T06:00:00Z", "owner": "military",
        "classification": "strictly-confidential", "actor": "CANARY-ACTOR", "strength": 40,
        "activity": "attack", "source_reliability": "C", "info_credibility": 3,
        "reporter_unit": "CANARY-UNIT"}});
    let fc = write_fc(dir.path(), "sighting.geojson", &[sighting]);
    let o = run(&store, &["ingest", "sightings", fc.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    for lang in ["en", "fr"] {
        let args = [
            "--as-of",
            "2025-12-31",
            "--as-role",
            "partner",
            "--lang",
            lang,
        ];
        let run_fmt = |fmt: &str| {
            let mut a = vec!["brief", "handover", "--format", fmt];
            a.extend_from_slice(&args);
            let o = run(&store, &a);
            assert!(o.status.success(), "{fmt}: {}", stderr(&o));
            o.stdout
        };
        let (g, doc, csv) = (run_fmt("geojson"), run_fmt("html"), run_fmt("csv"));
        let v: Value = serde_json::from_slice(&g).unwrap();
        assert_eq!(v["jointmap"]["role"], "partner");
        // The partner may not split incidents by category.
        assert!(
            v["jointmap"]["unavailable"]
                .as_array()
                .unwrap()
                .iter()
                .any(|u| u["part"] == "monthly_by_category"),
            "{}",
            v["jointmap"]
        );
        for out in [&g, &doc, &csv] {
            let text = String::from_utf8_lossy(out);
            for needle in ["CANARY", "narrative "] {
                assert!(
                    !text.contains(needle),
                    "{lang}: {needle} reached the partner"
                );
            }
        }
        // Every incident count a partner receives is at least k.
        for f in v["features"].as_array().unwrap() {
            if let Some(n) = f["properties"]["count"].as_u64() {
                assert!(n >= 5, "a count under k: {f}");
            }
        }
        let doc = String::from_utf8(doc).unwrap();
        assert!(doc.contains("partner") && doc.starts_with("<!DOCTYPE html>"));
    }
}

#[test]
fn bad_parameters_are_refused_by_name() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("s.gpkg");
    let fc = write_fc(
        dir.path(),
        "inc.geojson",
        &[inc("a".into(), X, date("2025-06-01"), "killing")],
    );
    let o = run(&store, &["ingest", "incidents", fc.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    for (extra, needle) in [
        (vec!["--months", "7"], "--months"),
        (vec!["--months", "0"], "--months"),
        (vec!["--bbox", "18,7,17,6"], "--bbox"),
        (vec!["--bbox=18,6,17,7"], "bbox"),
        (vec!["--cell-km", "0"], "cell-km"),
    ] {
        let mut args = vec!["brief", "handover", "--as-of", AS_OF];
        args.extend_from_slice(&extra);
        let o = run(&store, &args);
        assert!(!o.status.success(), "{extra:?} was accepted");
        assert!(stderr(&o).contains(needle), "{extra:?}: {}", stderr(&o));
    }
}

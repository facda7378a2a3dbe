//! `jointmap brief`: the weekly hotspot and early-warning briefs on the demo
//! mission in English and French (labels differ, numbers do not), a
//! self-contained document, a partner's brief without any canary record,
//! the ranking rules on a constructed store, and data after the as-of date
//! ignored.

mod common;

use common::*;
use jointmap::render::brief::html::MAX_ROWS;
use serde_json::{json, Value};
use std::path::Path;
use tempfile::TempDir;

const KINDS: [&str; 2] = ["weekly-hotspot", "early-warning"];

fn brief(store: &Path, kind: &str, extra: &[&str]) -> Vec<u8> {
    let mut args = vec!["brief", kind];
    args.extend_from_slice(extra);
    let o = run(store, &args);
    assert!(o.status.success(), "{kind} {extra:?}: {}", stderr(&o));
    o.stdout
}

fn geojson(store: &Path, kind: &str, extra: &[&str]) -> Value {
    let mut args = vec!["--format", "geojson"];
    args.extend_from_slice(extra);
    serde_json::from_slice(&brief(store, kind, &args)).expect("GeoJSON")
}

fn html(store: &Path, kind: &str, extra: &[&str]) -> String {
    let mut args = vec!["--format", "html"];
    args.extend_from_slice(extra);
    String::from_utf8(brief(store, kind, &args)).expect("UTF-8")
}

/// A self-contained document: no script, no external reference of any
/// kind, the map inline.
fn assert_self_contained(doc: &str) {
    assert!(doc.starts_with("<!DOCTYPE html>"));
    for bad in [
        "http://", "https://", "<script", "<link", "url(", "@import", "src=\"//",
    ] {
        assert!(!doc.contains(bad), "the document holds {bad:?}");
    }
    // Every src is a data: URI.
    for (i, _) in doc.match_indices("src=\"") {
        assert!(
            doc[i + 5..].starts_with("data:image/png;base64,"),
            "{}",
            &doc[i..i + 40]
        );
    }
    assert!(doc.contains("@page") && doc.contains("size: A4"));
}

/// The EWRR 3x3 grid as docs/briefs.md states it.
fn grid(l: u64, i: u64) -> &'static str {
    match l * i {
        9 => "top",
        6 => "high",
        3 | 4 => "medium",
        _ => "low",
    }
}

fn priority_order(p: &str) -> u8 {
    ["low", "medium", "high", "top"]
        .iter()
        .position(|x| *x == p)
        .unwrap() as u8
}

/// The ranking rule of each brief holds on every feature, in rank order.
fn assert_ranked(kind: &str, v: &Value) {
    let features = v["features"].as_array().unwrap();
    let mut last: Option<(f64, u64)> = None;
    for (i, f) in features.iter().enumerate() {
        let p = &f["properties"];
        assert_eq!(p["rank"].as_u64(), Some(i as u64 + 1), "{p}");
        let count = p["count"].as_u64().unwrap_or(0);
        let key = if kind == "weekly-hotspot" {
            let tier = match p["pattern"].as_str().unwrap() {
                "intensifying-hot" => 3.0,
                "new-hot" => 2.0,
                "persistent-hot" => 1.0,
                other => panic!("pattern {other} is not listed by the weekly brief"),
            };
            let presence = p["presence_last_week"].as_f64().unwrap();
            let score = p["score"].as_f64().unwrap();
            assert!(
                (score - tier * (1.0 - presence.clamp(0.0, 1.0))).abs() < 1e-12,
                "{p}"
            );
            score
        } else {
            assert!(
                ["new-hot", "consecutive-hot", "intensifying-hot"]
                    .contains(&p["pattern"].as_str().unwrap()),
                "{p}"
            );
            assert_ne!(p["pattern"], p["previous_pattern"], "{p}");
            let (l, im) = (
                p["likelihood"].as_u64().unwrap(),
                p["impact"].as_u64().unwrap(),
            );
            assert!((1..=3).contains(&l) && (1..=3).contains(&im), "{p}");
            assert_eq!(p["priority"], grid(l, im), "{p}");
            f64::from(priority_order(p["priority"].as_str().unwrap())) * 10.0 + (l * im) as f64
        };
        if let Some((k, c)) = last {
            assert!(
                key < k || key == k && count <= c,
                "rank {} breaks the rule",
                i + 1
            );
        }
        last = Some((key, count));
    }
}

#[test]
fn briefs_on_the_demo_in_english_and_french() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("demo.gpkg");
    let o = run(&store, &["demo", "--incidents", "3000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for kind in KINDS {
        let base = ["--as-of", "2025-12-31"];
        let en = geojson(&store, kind, &base);
        let fr = geojson(&store, kind, &[&base[..], &["--lang", "fr"]].concat());
        assert_eq!(en["jointmap"]["kind"], kind);
        assert_eq!(fr["jointmap"]["lang"], "fr");
        assert!(
            !en["features"].as_array().unwrap().is_empty(),
            "{kind}: no area on the demo"
        );
        assert_eq!(en["features"], fr["features"], "{kind}: numbers differ");
        assert_ranked(kind, &en);
        assert!(en["jointmap"]["parts"]["trends"]["request"].is_object());
        let doc_en = html(&store, kind, &base);
        let doc_fr = html(&store, kind, &[&base[..], &["--lang", "fr"]].concat());
        assert_self_contained(&doc_en);
        assert_self_contained(&doc_fr);
        assert!(doc_en.contains("lang=\"en\"") && doc_fr.contains("lang=\"fr\""));
        assert!(
            doc_en.contains("How this was computed") && !doc_fr.contains("How this was computed")
        );
        assert!(doc_fr.contains("Méthode de calcul"));
        assert!(doc_en.contains("31 December 2025") && doc_fr.contains("31 décembre 2025"));
        // Every area the documents list (the first MAX_ROWS by rank) is in
        // both documents' tables; the others are counted in a line.
        for f in en["features"].as_array().unwrap() {
            if f["properties"]["rank"].as_u64().unwrap() as usize > MAX_ROWS {
                continue;
            }
            let cell = f["properties"]["cell"].as_str().unwrap();
            assert!(doc_en.contains(cell) && doc_fr.contains(cell), "{cell}");
        }
        let areas = en["features"].as_array().unwrap().len();
        if areas > MAX_ROWS {
            let more = format!("{} more areas", areas - MAX_ROWS);
            assert!(doc_en.contains(&more), "{kind}: no \"{more}\"");
        }
        let csv = String::from_utf8(brief(
            &store,
            kind,
            &["--as-of", "2025-12-31", "--format", "csv"],
        ))
        .unwrap();
        assert_eq!(
            csv.lines().count(),
            en["features"].as_array().unwrap().len() + 1
        );
        assert!(csv.starts_with("wkt,"), "{}", &csv[..40.min(csv.len())]);
        looks_printed(dir.path(), kind, &doc_en);
    }
}

/// The document as a person sees it: printed by Debian's chromium
/// (headless) to a screenshot that is not blank. Skipped with a note where
/// chromium is not installed.
fn looks_printed(dir: &Path, kind: &str, doc: &str) {
    let chromium = Path::new("/usr/bin/chromium");
    if !chromium.exists() {
        eprintln!("note: /usr/bin/chromium absent: {kind} not checked as printed");
        return;
    }
    let page = dir.join(format!("{kind}.html"));
    let shot = dir.join(format!("{kind}.png"));
    std::fs::write(&page, doc).unwrap();
    let o = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=794,1123")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(shot.exists(), "no screenshot: {}", stderr(&o));
    let img = tiny_skia::Pixmap::load_png(&shot).unwrap();
    let ink = img
        .pixels()
        .iter()
        .filter(|p| p.red() < 200 || p.green() < 200 || p.blue() < 200)
        .count();
    // Text, tables and the map: well over 1 % of the page is not white.
    assert!(
        ink * 100 > img.pixels().len(),
        "{kind}: a blank page ({ink} dark pixels)"
    );
}

fn inc(id: &str, pos: [f64; 2], time: &str, consent: &str) -> Value {
    json!({"type": "Feature", "id": id,
      "geometry": {"type": "Point", "coordinates": pos},
      "properties": {"time_start": time, "category": "killing", "owner": "hr",
        "classification": "mission", "consent": consent, "verification": "corroborated",
        "location_precision": "exact"}})
}

#[test]
fn a_partners_brief_holds_no_canary() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("demo.gpkg");
    let o = run(&store, &["demo", "--incidents", "3000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Consent none and hr-only incidents, with narratives, in a busy place
    // and alone; a military-only sighting.
    let mut canaries = Vec::new();
    for i in 0..8 {
        for (tag, pos, consent) in [
            ("NONE", [16.55, 6.05], "none"),
            ("HRONLY", [19.9876, 7.1234], "hr-only"),
        ] {
            let mut f = inc(
                &format!("CANARY-{tag}-{i}"),
                pos,
                &format!("2025-12-{:02}T10:00:00Z", 10 + i),
                consent,
            );
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
      "properties": {"time_start": "2025-12-20T06:00:00Z", "owner": "military",
        "classification": "strictly-confidential", "actor": "CANARY-ACTOR", "strength": 40,
        "activity": "attack", "source_reliability": "C", "info_credibility": 3,
        "reporter_unit": "CANARY-UNIT"}});
    let fc = write_fc(dir.path(), "sighting.geojson", &[sighting]);
    let o = run(&store, &["ingest", "sightings", fc.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    for kind in KINDS {
        for lang in ["en", "fr"] {
            let args = [
                "--as-of",
                "2025-12-31",
                "--as-role",
                "partner",
                "--lang",
                lang,
            ];
            let g = geojson(&store, kind, &args);
            assert_eq!(g["jointmap"]["role"], "partner");
            let text = g.to_string();
            let doc = html(&store, kind, &args);
            assert_self_contained(&doc);
            assert!(doc.contains("partner"));
            for out in [&text, &doc] {
                assert!(
                    !out.contains("CANARY"),
                    "{kind} {lang}: a canary reached the partner"
                );
                assert!(!out.contains("narrative "), "{kind} {lang}");
            }
            // Every count a partner receives is at least k or suppressed.
            for f in g["features"].as_array().unwrap() {
                if let Some(n) = f["properties"]["count"].as_u64() {
                    assert!(n >= 5, "{kind}: a count under k: {f}");
                }
            }
        }
    }
}

/// Three towns with 6 killings a week for 12 weeks, and in the last week a
/// burst at B (100 incidents) and at A (30).
fn constructed() -> Vec<Value> {
    let towns = [[17.30, 5.30], [18.10, 5.70], [17.70, 6.20]];
    let first = chrono::NaiveDate::from_ymd_opt(2025, 1, 6).unwrap();
    let day = |off: i64, h: u64| format!("{}T{h:02}:15:00Z", first + chrono::Duration::days(off));
    let mut out = Vec::new();
    let mut n = 0u64;
    let jitter = |n: u64, k: u64| ((n * 7919 + k * 104_729) % 400) as f64 * 1e-5 - 0.002;
    for w in 0..12i64 {
        for town in towns {
            for i in 0..6u64 {
                let pos = [town[0] + jitter(n, 1), town[1] + jitter(n, 2)];
                out.push(inc(
                    &format!("b{n:05}"),
                    pos,
                    &day(w * 7 + (i % 7) as i64, i % 24),
                    "partners",
                ));
                n += 1;
            }
        }
    }
    for (town, count) in [([18.60, 5.10], 30), (B, 100)] {
        for i in 0..count {
            let pos = [town[0] + jitter(n, 1), town[1] + jitter(n, 2)];
            out.push(inc(
                &format!("x{n:05}"),
                pos,
                &day(77 + (i % 7) as i64, i % 24),
                "partners",
            ));
            n += 1;
        }
    }
    out
}

const B: [f64; 2] = [17.00, 6.60];
const AS_OF: &str = "2025-03-30";

fn cell_of(v: &Value, rank: usize) -> (String, f64) {
    let p = &v["features"][rank]["properties"];
    (
        p["cell"].as_str().unwrap().to_string(),
        p["presence_last_week"].as_f64().unwrap(),
    )
}

#[test]
fn a_patrol_moves_a_hot_spot_down_the_weekly_priorities_and_later_data_is_ignored() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("s.gpkg");
    let fc = write_fc(dir.path(), "inc.geojson", &constructed());
    let o = run(&store, &["ingest", "incidents", fc.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = geojson(&store, "weekly-hotspot", &["--as-of", AS_OF]);
    assert_ranked("weekly-hotspot", &before);
    assert_eq!(before["features"].as_array().unwrap().len(), 2, "{before}");
    // B has more incidents: with no presence anywhere, it comes first.
    let (b_cell, presence) = cell_of(&before, 0);
    assert_eq!(presence, 0.0);
    assert_eq!(before["features"][0]["properties"]["count"], 100);
    // A foot patrol through B in the last week.
    let patrol = json!({"type": "Feature", "id": "pat-b",
      "geometry": {"type": "LineString", "coordinates": [[B[0] - 0.05, B[1]], [B[0] + 0.05, B[1]]]},
      "properties": {"time_start": "2025-03-26T06:00:00Z", "time_end": "2025-03-26T10:00:00Z",
        "owner": "military", "classification": "restricted", "unit": "Coy A", "mode": "foot",
        "kind": "routine", "period": "day"}});
    let fc = write_fc(dir.path(), "pat.geojson", &[patrol]);
    let o = run(&store, &["ingest", "patrols", fc.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = geojson(&store, "weekly-hotspot", &["--as-of", AS_OF]);
    assert_ranked("weekly-hotspot", &after);
    let (second, presence) = cell_of(&after, 1);
    assert_eq!(
        second, b_cell,
        "the patrolled hot spot is not second: {after}"
    );
    assert!(presence > 0.0, "{after}");
    let warning = geojson(&store, "early-warning", &["--as-of", AS_OF]);
    assert_ranked("early-warning", &warning);
    // Incidents after the as-of date, where the burst was: nothing changes.
    let late: Vec<Value> = (0..40)
        .map(|i| {
            let mut f = inc(
                &format!("CANARY-LATE-{i}"),
                B,
                &format!("2025-04-{:02}T08:00:00Z", 1 + i % 20),
                "partners",
            );
            f["properties"]["narrative"] = json!("CANARY late narrative");
            f
        })
        .collect();
    let fc = write_fc(dir.path(), "late.geojson", &late);
    let o = run(&store, &["ingest", "incidents", fc.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    for kind in KINDS {
        let without = if kind == "weekly-hotspot" {
            &after
        } else {
            &warning
        };
        let with = geojson(&store, kind, &["--as-of", AS_OF]);
        assert_eq!(with["features"], without["features"], "{kind}");
        assert!(!with.to_string().contains("CANARY"));
        assert!(!html(&store, kind, &["--as-of", AS_OF]).contains("CANARY"));
    }
    let later = geojson(&store, "weekly-hotspot", &["--as-of", "2025-04-20"]);
    assert_ne!(
        later["features"], after["features"],
        "later data does count after its date"
    );
}

#[test]
fn bad_requests_are_refused_by_name() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("s.gpkg");
    let fc = write_fc(dir.path(), "inc.geojson", &constructed());
    let o = run(&store, &["ingest", "incidents", fc.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    for (args, needle) in [
        (vec!["brief", "weekly"], "weekly"),
        (vec!["brief", "weekly-hotspot"], "--as-of"),
        (
            vec!["brief", "early-warning", "--as-of", "yesterday"],
            "as-of",
        ),
        (
            vec!["brief", "early-warning", "--as-of", AS_OF, "--cell-km=-1"],
            "cell-km",
        ),
        (
            vec![
                "brief",
                "early-warning",
                "--as-of",
                AS_OF,
                "--cell-km",
                "NaN",
            ],
            "cell-km",
        ),
        (
            vec!["brief", "early-warning", "--as-of", AS_OF, "--steps", "1"],
            "steps",
        ),
        (
            vec!["brief", "early-warning", "--as-of", AS_OF, "--lang", "de"],
            "lang",
        ),
        (
            vec!["brief", "early-warning", "--as-of", AS_OF, "--near-km", "0"],
            "near-km",
        ),
    ] {
        let o = run(&store, &args);
        assert!(!o.status.success(), "{args:?} was accepted");
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
}

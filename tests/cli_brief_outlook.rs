//! `jointmap brief quarterly-outlook`: casualties by sex and age of two
//! quarters and the emerging hot spots on a constructed store whose
//! answers the test knows; the trigger calendar with the hot spots near
//! each trigger; a partner's outlook without any canary record (GeoJSON,
//! HTML and CSV) and with totals only; the server's outlook for a role
//! equal to the command's; a bad calendar named.

mod common;
mod server_common;

use common::{run, stderr, write_fc};
use serde_json::{json, Value};
use std::path::Path;
use tempfile::TempDir;

const KIND: &str = "quarterly-outlook";

fn outlook(store: &Path, extra: &[&str]) -> Vec<u8> {
    let mut args = vec!["brief", KIND];
    args.extend_from_slice(extra);
    let o = run(store, &args);
    assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
    o.stdout
}

fn geojson(store: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["--format", "geojson"];
    args.extend_from_slice(extra);
    serde_json::from_slice(&outlook(store, &args)).expect("GeoJSON")
}

fn inc(id: &str, pos: [f64; 2], time: &str, consent: &str) -> Value {
    json!({"type": "Feature", "id": id,
      "geometry": {"type": "Point", "coordinates": pos},
      "properties": {"time_start": time, "category": "killing", "owner": "hr",
        "classification": "mission", "consent": consent, "verification": "corroborated",
        "location_precision": "exact"}})
}

const TOWNS: [[f64; 2]; 3] = [[17.30, 5.30], [18.10, 5.70], [17.70, 6.20]];
const A: [f64; 2] = [18.60, 5.10];
const B: [f64; 2] = [17.00, 6.60];
const AS_OF: &str = "2025-03-30";

/// Three towns with 6 killings a week for 12 weekly steps, and in the last
/// week a burst at B (100) and at A (30): the weekly hotspot test's store.
/// Plus casualties the test counts: 10 incidents in the last quarter
/// before the cube (each 1 woman and 2 girls killed, 3 men and 1 person
/// of unknown sex or age injured) and 6 in the quarter before it (each 2
/// men killed, 1 boy injured), away from the towns.
fn constructed() -> Vec<Value> {
    let first = chrono::NaiveDate::from_ymd_opt(2025, 1, 6).unwrap();
    let day = |off: i64, h: u64| format!("{}T{h:02}:15:00Z", first + chrono::Duration::days(off));
    let jitter = |n: u64, k: u64| ((n * 7919 + k * 104_729) % 400) as f64 * 1e-5 - 0.002;
    let mut out = Vec::new();
    let mut n = 0u64;
    for w in 0..12i64 {
        for town in TOWNS {
            for i in 0..6u64 {
                let pos = [town[0] + jitter(n, 1), town[1] + jitter(n, 2)];
                let t = day(w * 7 + (i % 7) as i64, i % 24);
                out.push(inc(&format!("b{n:05}"), pos, &t, "partners"));
                n += 1;
            }
        }
    }
    for (town, count) in [(A, 30), (B, 100)] {
        for i in 0..count {
            let pos = [town[0] + jitter(n, 1), town[1] + jitter(n, 2)];
            let t = day(77 + (i % 7) as i64, i % 24);
            out.push(inc(&format!("x{n:05}"), pos, &t, "partners"));
            n += 1;
        }
    }
    for i in 0..10 {
        let mut f = inc(
            &format!("q{i:02}"),
            [16.50 + 0.001 * i as f64, 5.00],
            &format!("2025-01-0{}T08:00:00Z", 1 + i % 4),
            "partners",
        );
        let p = &mut f["properties"];
        p["killed_women"] = json!(1);
        p["killed_girls"] = json!(2);
        p["injured_men"] = json!(3);
        p["injured_unknown"] = json!(1);
        out.push(f);
    }
    for i in 0..6 {
        let mut f = inc(
            &format!("p{i:02}"),
            [16.50 + 0.001 * i as f64, 5.00],
            &format!("2024-11-{:02}T08:00:00Z", 10 + i),
            "partners",
        );
        f["properties"]["killed_men"] = json!(2);
        f["properties"]["injured_boys"] = json!(1);
        out.push(f);
    }
    out
}

fn constructed_store(dir: &Path) -> std::path::PathBuf {
    let store = dir.join("s.gpkg");
    let fc = write_fc(dir, "inc.geojson", &constructed());
    let o = run(&store, &["ingest", "incidents", fc.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    store
}

/// The casualty figures of quarter `q` (0 previous, 1 last).
fn quarter(v: &Value, q: usize) -> &Value {
    &v["jointmap"]["casualties"][q]
}

#[test]
fn the_quarters_casualties_by_sex_and_age_and_the_patterns_are_known() {
    let dir = TempDir::new().unwrap();
    let store = constructed_store(dir.path());
    let v = geojson(&store, &["--as-of", AS_OF, "--step-days", "7"]);
    let m = &v["jointmap"];
    assert_eq!(m["kind"], KIND);
    let (prev, last) = (quarter(&v, 0), quarter(&v, 1));
    assert_eq!(prev["quarter"], "previous");
    // Last quarter: 10 incidents with casualties, 216 in the towns, 130 in
    // the bursts; previous: the 6.
    assert_eq!(last["incidents"], 10 + 216 + 130, "{m}");
    assert_eq!(prev["incidents"], 6);
    for (field, want_last, want_prev) in [
        ("killed_women", 10.0, 0.0),
        ("killed_men", 0.0, 12.0),
        ("killed_girls", 20.0, 0.0),
        ("killed_boys", 0.0, 0.0),
        ("killed_unknown", 0.0, 0.0),
        ("injured_women", 0.0, 0.0),
        ("injured_men", 30.0, 0.0),
        ("injured_girls", 0.0, 0.0),
        ("injured_boys", 0.0, 6.0),
        ("injured_unknown", 10.0, 0.0),
        ("killed", 30.0, 12.0),
        ("injured", 40.0, 6.0),
    ] {
        assert_eq!(
            last[field].as_f64(),
            Some(want_last),
            "last {field}: {last}"
        );
        assert_eq!(
            prev[field].as_f64(),
            Some(want_prev),
            "previous {field}: {prev}"
        );
    }
    // The quarters are 91 days each and end at the as-of time.
    assert!(
        last["to"].as_str().unwrap().starts_with("2025-03-31"),
        "{last}"
    );
    assert!(
        last["from"].as_str().unwrap().starts_with("2024-12-30"),
        "{last}"
    );
    assert_eq!(prev["to"], last["from"]);
    // The burst at B, one hot step (the last) after a quiet series, is a
    // new hot spot, first (more incidents than any other new one).
    let f = v["features"].as_array().unwrap();
    let b = &f[0]["properties"];
    assert_eq!(b["count"], 100, "{v}");
    assert_eq!(b["pattern"], "new-hot");
    assert_eq!(b["hot_steps"], 1);
    assert!((b["persistence"].as_f64().unwrap() - 1.0 / 12.0).abs() < 1e-12);
    // Every listed area by the rule: tier, then incidents.
    let tier = |p: &Value| match p["pattern"].as_str().unwrap() {
        "intensifying-hot" => 3,
        "new-hot" => 2,
        "persistent-hot" => 1,
        other => panic!("{other} is not listed"),
    };
    let steps = m["parts"]["trends"]["steps"].as_f64().unwrap();
    let mut per_pattern = std::collections::BTreeMap::new();
    for (i, a) in f.iter().enumerate() {
        let p = &a["properties"];
        assert_eq!(p["rank"], i + 1);
        *per_pattern
            .entry(p["pattern"].as_str().unwrap())
            .or_insert(0u64) += 1;
        let want = p["hot_steps"].as_f64().unwrap() / steps;
        assert!((p["persistence"].as_f64().unwrap() - want).abs() < 1e-12);
        if i > 0 {
            let q = &f[i - 1]["properties"];
            assert!(
                (tier(q), q["count"].as_u64()) >= (tier(p), p["count"].as_u64()),
                "rank {}",
                i + 1
            );
        }
    }
    // Cells per pattern: the listed patterns count the listed areas; the
    // steady towns never had a hot step, so nothing is persistent.
    let patterns = m["patterns"].as_object().unwrap();
    for (p, n) in &per_pattern {
        assert_eq!(patterns[*p], *n, "{patterns:?}");
    }
    assert!(!patterns.contains_key("intensifying-hot"));
    assert!(!patterns.contains_key("persistent-hot"));
    // The HTML holds the figures in both languages.
    for lang in ["en", "fr"] {
        let doc = String::from_utf8(outlook(
            &store,
            &["--as-of", AS_OF, "--step-days", "7", "--lang", lang],
        ))
        .unwrap();
        assert!(doc.starts_with("<!DOCTYPE html>") && doc.contains("@page"));
        let (title, girls, none) = if lang == "en" {
            (
                "Quarterly outlook",
                "Girls",
                "No trigger calendar was given.",
            )
        } else {
            ("Perspectives trimestrielles", "Filles", "Aucun calendrier")
        };
        assert!(
            doc.contains(title) && doc.contains(girls) && doc.contains(none),
            "{lang}"
        );
        assert!(
            doc.contains("<td class=\"n\">20</td>"),
            "{lang}: girls killed"
        );
    }
}

const CALENDAR: &str = r#"
[places]
Town-C = [17.70, 6.20]

[[trigger]]
name = "Market at C"
kind = "market"
weekly = "wednesday"
place = "Town-C"

[[trigger]]
name = "Corridor by B"
kind = "transhumance"
yearly = { from = "12-01", to = "04-15" }
bbox = [16.90, 6.50, 17.10, 6.70]

[[trigger]]
name = "Rains"
kind = "season"
yearly = { from = "05-01", to = "10-31" }

[[trigger]]
name = "Vote"
kind = "election"
date = "2025-06-29"
"#;

#[test]
fn triggers_of_the_next_three_months_with_the_hot_spots_near_them() {
    let dir = TempDir::new().unwrap();
    let store = constructed_store(dir.path());
    let cal = dir.path().join("triggers.toml");
    std::fs::write(&cal, CALENDAR).unwrap();
    let v = geojson(
        &store,
        &[
            "--as-of",
            AS_OF,
            "--step-days",
            "7",
            "--calendar",
            cal.to_str().unwrap(),
        ],
    );
    let m = &v["jointmap"];
    assert_eq!(m["trigger_window"], "2025-03-31 to 2025-06-30");
    let t = m["triggers"].as_array().unwrap();
    let names: Vec<&str> = t.iter().map(|t| t["name"].as_str().unwrap()).collect();
    // In the window by first day: the corridor (running since December),
    // Wednesdays from 2 April, the rains from 1 May, the vote on 29 June.
    assert_eq!(
        names,
        ["Corridor by B", "Market at C", "Rains", "Vote"],
        "{t:?}"
    );
    // B (rank 1) lies in the corridor's box; the other hot spot listed is
    // the town C's cell (more than 30 km from B), near the market.
    let f = v["features"].as_array().unwrap();
    assert_eq!(f[0]["properties"]["count"], 100);
    assert_eq!(t[0]["areas_near"], json!([1]));
    assert_eq!(t[0]["days_in_window"], 16);
    let at_c: Vec<u64> = f
        .iter()
        .filter(|a| {
            let r = a["geometry"]["coordinates"][0].as_array().unwrap();
            let (lon, lat) = (r[0][0].as_f64().unwrap(), r[0][1].as_f64().unwrap());
            (lon - 17.70).abs() < 0.1 && (lat - 6.20).abs() < 0.1
        })
        .map(|a| a["properties"]["rank"].as_u64().unwrap())
        .collect();
    assert!(!at_c.is_empty(), "{v}");
    assert_eq!(t[1]["areas_near"], json!(at_c));
    assert_eq!(t[1]["days_in_window"], 13);
    assert_eq!(t[2]["areas_near"], Value::Null);
    assert_eq!(t[3]["first_day"], "2025-06-29");
    let doc = String::from_utf8(outlook(
        &store,
        &[
            "--as-of",
            AS_OF,
            "--calendar",
            cal.to_str().unwrap(),
            "--lang",
            "fr",
        ],
    ))
    .unwrap();
    assert!(doc.contains("Market at C") && doc.contains("jour de marché"));
    // A malformed calendar is refused, naming the entry and the field.
    std::fs::write(&cal, CALENDAR.replace("\"12-01\"", "\"12-32\"")).unwrap();
    let o = run(
        &store,
        &[
            "brief",
            KIND,
            "--as-of",
            AS_OF,
            "--calendar",
            cal.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("calendar")
            && e.contains("entry 2 (\"Corridor by B\")")
            && e.contains("yearly.from"),
        "{e}"
    );
}

#[test]
fn a_partners_outlook_holds_no_canary() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("demo.gpkg");
    let o = run(&store, &["demo", "--incidents", "3000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Consent none (with very large casualty figures) and hr-only
    // incidents with narratives, in a busy place and alone. The access
    // policy lets an hr-only record count anonymously in k-protected
    // aggregates, a consent-none record never (src/access/mod.rs).
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
            let p = &mut f["properties"];
            p["narrative"] = json!(format!("CANARY narrative {tag} {i}"));
            p["perpetrator"] = json!("CANARY-PERPETRATOR");
            if consent == "none" {
                p["killed_women"] = json!(7777);
            }
            canaries.push(f);
        }
    }
    let fc = write_fc(dir.path(), "canaries.geojson", &canaries);
    let o = run(&store, &["ingest", "incidents", fc.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cal = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/triggers-demo.toml");
    let cal = cal.to_str().unwrap();
    let planted = 8.0 * 7777.0;
    // The operator's outlook has them: the canaries would show.
    let op = geojson(&store, &["--as-of", "2025-12-31", "--calendar", cal]);
    assert!(quarter(&op, 1)["killed_women"].as_f64().unwrap() >= planted);
    for lang in ["en", "fr"] {
        let args = [
            "--as-of",
            "2025-12-31",
            "--as-role",
            "partner",
            "--lang",
            lang,
            "--calendar",
            cal,
        ];
        let g = geojson(&store, &args);
        assert_eq!(g["jointmap"]["role"], "partner");
        let doc = String::from_utf8(outlook(&store, &args)).unwrap();
        let csv = String::from_utf8(outlook(&store, &[&args[..], &["--format", "csv"]].concat()))
            .unwrap();
        assert!(doc.contains("partner"));
        for out in [&g.to_string(), &doc, &csv] {
            assert!(
                !out.contains("CANARY"),
                "{lang}: a canary reached the partner"
            );
            assert!(!out.contains("narrative "), "{lang}");
            assert!(!out.contains("7777"), "{lang}: a canary's casualties");
        }
        for q in 0..2 {
            let c = quarter(&g, q);
            // The sex and age fields are hidden from partners: totals only.
            assert_eq!(c["killed_women"], Value::Null, "{c}");
            assert!(
                c["killed"].as_f64().unwrap() < 7777.0,
                "consent none counted: {c}"
            );
        }
        assert!(g["jointmap"]["unavailable"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["part"] == "casualties_killed_women"));
        for f in g["features"].as_array().unwrap() {
            if let Some(n) = f["properties"]["count"].as_u64() {
                assert!(n >= 5, "a count under k: {f}");
            }
        }
        // The demo calendar's triggers of January to March 2026.
        assert!(!g["jointmap"]["triggers"].as_array().unwrap().is_empty());
    }
}

#[test]
fn the_server_makes_the_outlook_the_command_makes_for_a_role() {
    use server_common::*;
    let dir = TempDir::new().unwrap();
    let store = constructed_store(dir.path());
    let cal = dir.path().join("triggers.toml");
    std::fs::write(&cal, CALENDAR).unwrap();
    let cfg = config(
        dir.path(),
        &store,
        &format!("[briefs]\ncalendar = {:?}\n", cal.display().to_string()),
    );
    let server = Server::start(&cfg);
    for (role, token) in [("jmac", JMAC), ("hr", HR)] {
        let path = format!("/products/briefs/{KIND}?as-of={AS_OF}&step-days=7&f=geojson");
        let r = request(&server.addr, "GET", &path, Some(token), &[], None);
        assert_eq!(r.status, 200, "{}", r.text());
        let remote = r.json();
        let local = geojson(
            &store,
            &[
                "--as-of",
                AS_OF,
                "--step-days",
                "7",
                "--as-role",
                role,
                "--calendar",
                cal.to_str().unwrap(),
            ],
        );
        assert_eq!(remote["features"], local["features"], "{role}");
        for k in ["casualties", "patterns", "triggers", "unavailable"] {
            assert_eq!(remote["jointmap"][k], local["jointmap"][k], "{role} {k}");
        }
        assert!(!remote["jointmap"]["triggers"]
            .as_array()
            .unwrap()
            .is_empty());
    }
    // No path from the request: `calendar` is no query parameter.
    let path = format!("/products/briefs/{KIND}?as-of={AS_OF}&calendar=/etc/passwd");
    let r = request(&server.addr, "GET", &path, Some(HR), &[], None);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("calendar"));
}

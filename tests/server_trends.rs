//! Red-team tests of `/analysis/trends` for roles without a full view of
//! incidents, through the HTTP API against the real binary (as
//! `server_disclosure.rs` does for the other analyses): a canary group under
//! k in an otherwise empty region changes no byte a partner receives, and
//! differencing two as-of times (or a sub-step as-of) isolates no event.
//!
//! Policy: `[access] grid_anchor = [17.25, 5.25]`, `time_step_days = 7`
//! (weeks from Monday 1970-01-05), k = 5, min_cell_km = 10.

mod common;
mod server_common;

use serde_json::{json, Value};
use server_common::*;
use tempfile::TempDir;

const K: u64 = 5;
const ACCESS: &str = "[access]\ngrid_anchor = [17.25, 5.25]\ntime_step_days = 7\n";
/// Towns; base events fall within ~200 m of each centre.
const TOWNS: [[f64; 2]; 3] = [[17.30, 5.30], [18.10, 5.70], [17.70, 6.20]];
/// Monday of the first of 12 base weeks.
const FIRST_MONDAY: &str = "2025-01-06";
const WEEKS: i64 = 12;
/// An empty part of the map.
const FAR: [f64; 2] = [19.123456, 6.654321];

fn day(offset_days: i64, hour: u64) -> String {
    let d = chrono::NaiveDate::parse_from_str(FIRST_MONDAY, "%Y-%m-%d").unwrap()
        + chrono::Duration::days(offset_days);
    format!("{d}T{hour:02}:15:00Z")
}

fn inc(id: &str, pos: [f64; 2], time: &str) -> Value {
    let mut f = common::incident(0);
    f["id"] = json!(id);
    f["geometry"]["coordinates"] = json!(pos);
    let p = &mut f["properties"];
    p["time_start"] = json!(time);
    p["category"] = json!("killing");
    p["owner"] = json!("hr");
    p["classification"] = json!("mission");
    p["consent"] = json!("hr-only");
    p.as_object_mut().unwrap().remove("village_code");
    p.as_object_mut().unwrap().remove("nested");
    f
}

/// Towns 0 and 1: 20 events every week; town 2: 20 a week from week 8 on
/// (an escalation), 40 in the last week.
fn base() -> Vec<Value> {
    let mut out = Vec::new();
    let mut n = 0u64;
    for week in 0..WEEKS {
        for (t, town) in TOWNS.iter().enumerate() {
            let count = match t {
                2 if week < 8 => 0,
                2 if week == WEEKS - 1 => 40,
                _ => 20,
            };
            for i in 0..count {
                let jitter = |k: u64| ((n * 7919 + k * 104_729) % 400) as f64 * 1e-5 - 0.002;
                let pos = [town[0] + jitter(1), town[1] + jitter(2)];
                out.push(inc(
                    &format!("base-{n:05}"),
                    pos,
                    &day(week * 7 + (i % 7) as i64, i % 24),
                ));
                n += 1;
            }
        }
    }
    out
}

/// Four canaries alone at FAR in week 5, and one in the last week.
fn canaries() -> Vec<Value> {
    let mut v: Vec<Value> = (0..4)
        .map(|i| inc(&format!("CANARY-FAR-{i}"), FAR, &day(5 * 7 + i, 10)))
        .collect();
    v.push(inc("CANARY-LAST", FAR, &day((WEEKS - 1) * 7 + 2, 4)));
    v
}

struct Env {
    _dir: TempDir,
    server: Server,
}

fn env(incidents: &[Value]) -> Env {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("s.gpkg");
    let fc = common::write_fc(dir.path(), "incidents.geojson", incidents);
    cli(&store, &["ingest", "incidents", fc.to_str().unwrap()]);
    let cfg = config(dir.path(), &store, ACCESS);
    let server = Server::start(&cfg);
    Env { _dir: dir, server }
}

const NON_FULL: [(&str, &str); 3] = [("military", MIL), ("jmac", JMAC), ("partner", PARTNER)];

fn paths() -> Vec<String> {
    [
        "",
        "?step-days=7&band-km=30",
        "?step-days=7&band-km=30&all-cells=true&as-of=2025-03-30",
        "?step-days=14&window-steps=2&all-cells=true&cell-km=20&band-km=40",
        "?step-days=3&band-km=25&from=2025-01-06&weight=fatalities",
        "?grid=h3&h3-resolution=5&step-days=7&all-cells=true",
        "?as-of=2025-02-19&step-days=7&band-km=30&all-cells=true",
    ]
    .iter()
    .map(|q| format!("/analysis/trends{q}"))
    .collect()
}

#[test]
fn canaries_under_k_in_an_empty_region_change_no_byte_for_non_full_roles() {
    let plain = env(&base());
    let mut with = base();
    with.extend(canaries());
    let with = env(&with);
    let mut hr_differs = 0;
    for path in paths() {
        for (role, token) in NON_FULL {
            let a = plain.server.get(&path, Some(token));
            let b = with.server.get(&path, Some(token));
            assert_eq!(a.status, 200, "{role} {path}: {}", a.text());
            assert_eq!(
                a.text(),
                b.text(),
                "{role} {path}: the answer changed with canaries under k"
            );
            for needle in ["CANARY", "19.123456", "6.654321"] {
                assert!(!b.text().contains(needle), "{role} {path}: {needle}");
            }
        }
        let a = plain.server.get(&path, Some(HR));
        let b = with.server.get(&path, Some(HR));
        assert_eq!(b.status, 200, "hr {path}: {}", b.text());
        hr_differs += usize::from(a.text() != b.text());
    }
    assert!(hr_differs > 0, "sanity: hr must see the canaries");
}

/// The partner's series rows: (cell, step) -> count.
fn series(body: &Value) -> Vec<(String, String, Option<u64>)> {
    body["jointmap"]["series"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    (
                        r["cell"].as_str().unwrap_or("").to_string(),
                        r["step"].as_str().unwrap_or("").to_string(),
                        r["count"].as_u64(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn differencing_as_of_times_isolates_no_event_for_a_partner() {
    let mut data = base();
    data.extend(canaries());
    let e = env(&data);
    let q = "/analysis/trends?step-days=7&band-km=30&all-cells=true";
    // A sub-step as-of gives the partner the whole step's answer.
    let mid = e
        .server
        .get(&format!("{q}&as-of=2025-03-26T12:00:00Z"), Some(PARTNER));
    let end = e
        .server
        .get(&format!("{q}&as-of=2025-03-30"), Some(PARTNER));
    assert_eq!(mid.status, 200, "{}", mid.text());
    assert_eq!(
        mid.text(),
        end.text(),
        "a sub-step as-of must snap to the step"
    );
    // Two consecutive as-of times: every count each answer holds, and their
    // difference, is 0 or at least k; no bin or total tells one event.
    let before = e
        .server
        .get(&format!("{q}&as-of=2025-03-23"), Some(PARTNER))
        .json();
    let after = end.json();
    let total = |b: &Value| b["jointmap"]["events"].as_u64().unwrap_or(0);
    let d = total(&after).abs_diff(total(&before));
    assert!(d == 0 || d >= K, "events differ by {d}");
    for b in [&before, &after] {
        let rows = series(b);
        assert!(!rows.is_empty());
        for (cell, step, n) in rows {
            let n = n.unwrap_or(0);
            assert!(n == 0 || n >= K, "bin {cell} {step}: {n} events");
        }
        for f in b["features"].as_array().unwrap() {
            let n = f["properties"]["count"].as_u64().unwrap_or(0);
            assert!(n >= K, "cell with {n} events");
        }
    }
    // The lone last-week canary is in no answer: the partner's as-of answer
    // equals that of the store without any canary.
    let plain = env(&base());
    let p = plain
        .server
        .get(&format!("{q}&as-of=2025-03-30"), Some(PARTNER));
    assert_eq!(p.text(), end.text());
    // hr sees the lone canary's step.
    let hr = e
        .server
        .get(&format!("{q}&as-of=2025-03-30"), Some(HR))
        .json();
    let hr_plain = plain
        .server
        .get(&format!("{q}&as-of=2025-03-30"), Some(HR))
        .json();
    assert_eq!(total(&hr), total(&hr_plain) + 1 + 4);
}

#[test]
fn the_escalation_trends_upward_and_bad_parameters_are_named() {
    let e = env(&base());
    let body = e
        .server
        .get(
            "/analysis/trends?step-days=7&band-km=15&cell-km=10&as-of=2025-03-30&all-cells=true",
            Some(HR),
        )
        .json();
    let at = |town: [f64; 2]| {
        body["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| {
                let ring = f["geometry"]["coordinates"][0].as_array().unwrap();
                let (xs, ys): (Vec<f64>, Vec<f64>) = ring
                    .iter()
                    .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
                    .unzip();
                let within = |v: &[f64], x: f64| {
                    v.iter().cloned().fold(f64::MAX, f64::min) <= x
                        && x <= v.iter().cloned().fold(f64::MIN, f64::max)
                };
                within(&xs, town[0]) && within(&ys, town[1])
            })
            .map(|f| f["properties"].clone())
            .unwrap_or_else(|| panic!("no cell at {town:?}: {}", body["jointmap"]))
    };
    let esc = at(TOWNS[2]);
    assert_eq!(esc["count"], 100, "{esc}");
    assert!(esc["value_mk_s"].as_f64().unwrap() > 0.0, "{esc}");
    assert!(esc["value_mk_p"].as_f64().unwrap() < 0.01, "{esc}");
    // A steady town: its 20 events a week split between two cells within
    // the band, so each neighbourhood sums to 20 every week: z constant,
    // no z trend, and no significant trend in the cell's own counts.
    let steady = at(TOWNS[0]);
    assert_eq!(steady["z_mk_s"], 0.0, "{steady}");
    assert!(steady["value_mk_p"].as_f64().unwrap() > 0.05, "{steady}");
    let series = body["jointmap"]["series"].as_array().unwrap();
    assert_eq!(
        series.len(),
        body["features"].as_array().unwrap().len() * 12
    );
    for (q, param) in [
        ("step-days=0", "step-days"),
        ("window-steps=0", "window-steps"),
        ("band-km=-3", "band-km"),
        ("steps=5000", "steps"),
        ("trend-alpha=2", "trend-alpha"),
    ] {
        let r = e.server.get(&format!("/analysis/trends?{q}"), Some(HR));
        r.problem(400, Some(param));
    }
}

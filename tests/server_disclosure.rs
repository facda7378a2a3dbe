//! Red-team tests of the disclosure guarantees of derived analysis products
//! (`/analysis/*`) for roles without a full view of incidents (military,
//! jmac, partner). Each test models one attack by a determined client,
//! through the HTTP API only, against the real binary.
//!
//! These tests never ask the library's gate what a role may see: they plant
//! canary records (ids, names and values `CANARY-...`, positions such as
//! lon 19.123456 lat 6.654321) in one store and not in another, and compare
//! what a client receives. A canary set is always smaller than k (or
//! k_sensitive) and forms a group of its own (cell of a 10 km grid x week,
//! all categories together), so whatever a non-full role receives must not
//! depend on it. Category filters, which would split a group, are refused
//! for these roles (a 400 whatever the category, so no oracle either).
//!
//! Spec (names fixed by the lead): `[access] grid_anchor = [lon, lat]`,
//! `time_step_days = 7` (weeks from Monday 1970-01-05), k = 5,
//! k_sensitive = 10, min_cell_km = 10. Every test writes the two new keys
//! into the server's config; `JOINTMAP_DISCLOSURE_LEGACY_CONFIG=1` leaves
//! them out, to see what a build that refuses them actually leaks. The
//! failures a run reports list every violation found (up to 25 shown).

mod common;
mod server_common;

use serde_json::{json, Value};
use server_common::*;
use std::collections::BTreeMap;
use tempfile::TempDir;

const K: u64 = 5;
/// The mission origin: 5.5 km south-west of town 0, so the cell holding
/// town 0 has the anchor as its south-west corner.
const ANCHOR: [f64; 2] = [17.25, 5.25];
/// The new `[access]` keys. `JOINTMAP_DISCLOSURE_LEGACY_CONFIG=1` leaves them
/// out, only to see which guarantee code that refuses them breaks.
fn access_toml() -> String {
    if std::env::var("JOINTMAP_DISCLOSURE_LEGACY_CONFIG").is_ok_and(|v| v == "1") {
        return String::new();
    }
    format!(
        "[access]\ngrid_anchor = [{:?}, {:?}]\ntime_step_days = 7\n",
        ANCHOR[0], ANCHOR[1]
    )
}

const NON_FULL: [(&str, &str); 3] = [("military", MIL), ("jmac", JMAC), ("partner", PARTNER)];

/// Four towns; base events fall within ~200 m of each centre.
const TOWNS: [[f64; 2]; 4] = [[17.30, 5.30], [18.10, 5.70], [17.70, 6.20], [18.60, 5.10]];
/// Mondays of the base weeks (whole time steps).
const WEEKS: [&str; 3] = ["2025-03-03", "2025-03-10", "2025-03-17"];
/// Bbox and window covering all base data and the in-area canaries.
const AREA: &str = "bbox=16.8,4.8,19.6,7.0&from=2025-03-03&to=2025-03-30";
/// The far canary's distinctive position.
const FAR: [f64; 2] = [19.123456, 6.654321];
/// A lone canary (a single sexual-violence case).
const LONE: [f64; 2] = [19.432198, 7.345678];

/// xorshift64*: a tiny seeded generator (same data everywhere, no clock).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn day(monday: &str, offset_days: u64, hour: u64) -> String {
    let d = chrono::NaiveDate::parse_from_str(monday, "%Y-%m-%d").unwrap()
        + chrono::Duration::days(offset_days as i64);
    format!("{d}T{hour:02}:15:00Z")
}

/// An incident (from the common builder) at `pos`, `time`, `category`.
fn inc(id: &str, pos: [f64; 2], time: &str, category: &str) -> Value {
    let mut f = common::incident(0);
    f["id"] = json!(id);
    f["geometry"]["coordinates"] = json!(pos);
    let p = &mut f["properties"];
    p["time_start"] = json!(time);
    p["category"] = json!(category);
    p["owner"] = json!("hr");
    p["classification"] = json!("mission");
    p["consent"] = json!("hr-only");
    p.as_object_mut().unwrap().remove("village_code");
    p.as_object_mut().unwrap().remove("nested");
    f
}

/// Base data: every town x week x {killing, looting-burning} holds 20 events
/// (released groups), except town 3 in week 2 (left empty for the
/// differencing attack); plus 12 sexual-violence cases in town 2, week 1.
fn base_incidents(seed: u64) -> Vec<Value> {
    let mut r = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut out = Vec::new();
    let mut n = 0;
    let mut add = |r: &mut Rng, town: usize, week: usize, cat: &str, out: &mut Vec<Value>| {
        let t = TOWNS[town];
        let pos = [
            t[0] + (r.unit() - 0.5) * 0.004,
            t[1] + (r.unit() - 0.5) * 0.004,
        ];
        let mut f = inc(
            &format!("base-{n:05}"),
            pos,
            &day(WEEKS[week], r.next() % 7, r.next() % 24),
            cat,
        );
        f["properties"]["perpetrator"] = json!(["Group A", "Group B"][(r.next() % 2) as usize]);
        f["properties"]["killed_men"] = json!((r.next() % 3) as i64);
        out.push(f);
        n += 1;
    };
    for town in 0..4 {
        for week in 0..3 {
            if town == 3 && week == 1 {
                continue;
            }
            for cat in ["killing", "looting-burning"] {
                for _ in 0..20 {
                    add(&mut r, town, week, cat, &mut out);
                }
            }
        }
    }
    for _ in 0..12 {
        add(&mut r, 2, 0, "sexual-violence", &mut out);
    }
    out
}

/// Marks an incident as a canary: hidden values that must never surface.
fn canary(mut f: Value, tag: &str) -> Value {
    let p = &mut f["properties"];
    p["perpetrator"] = json!("CANARY-PERP-ALPHA");
    p["narrative"] = json!(format!("CANARY-NARRATIVE-{tag}"));
    p["source_name"] = json!(format!("CANARY-SOURCE-{tag}"));
    p["victim_age"] = json!(13);
    p["killed_girls"] = json!(1);
    p["classification"] = json!("restricted");
    f
}

/// Canary sets, each its own group (below k, or below k_sensitive):
/// - 4 killings alone at FAR in week 2 (otherwise empty part of the map);
/// - 9 sexual-violence cases at town 3's exact centre in week 2 (a cell
///   busy in the other weeks, empty in that one);
/// - 4 lootings at town 1's exact centre in the week of 2025-03-24 (busy
///   cell, other weeks only);
/// - 1 sexual-violence case alone at LONE.
fn canaries() -> Vec<Value> {
    let mut v = Vec::new();
    for i in 0..4 {
        v.push(canary(
            inc(
                &format!("CANARY-FAR-{i}"),
                FAR,
                &day(WEEKS[1], i, 10),
                "killing",
            ),
            "far",
        ));
    }
    for i in 0..9 {
        v.push(canary(
            inc(
                &format!("CANARY-SV-{i}"),
                TOWNS[3],
                &day(WEEKS[1], i % 7, 3),
                "sexual-violence",
            ),
            "sv",
        ));
    }
    for i in 0..4 {
        v.push(canary(
            inc(
                &format!("CANARY-WEEK-{i}"),
                TOWNS[1],
                &day("2025-03-24", i, 9),
                "looting-burning",
            ),
            "week",
        ));
    }
    v.push(canary(
        inc(
            "CANARY-LONE-0",
            LONE,
            &day(WEEKS[1], 2, 2),
            "sexual-violence",
        ),
        "lone",
    ));
    v
}

/// Patrols, a base and sites (military / mission), so that coverage and
/// blind spots have something to work on; plus two restricted sites with a
/// distinctive population: hr-owned (987654) and military-owned (876543).
fn presence() -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    let mut patrols = Vec::new();
    for (i, w) in WEEKS.iter().enumerate() {
        let (a, b) = (day(w, 1, 6), day(w, 1, 10));
        patrols.push(json!({"type": "Feature", "id": format!("pat-{i}"),
            "geometry": {"type": "LineString", "coordinates": [[17.0, 5.25], [17.3, 5.3], [17.6, 5.35]]},
            "properties": {"time_start": a, "time_end": b, "owner": "military", "classification": "mission",
                "unit": "Coy A", "mode": "vehicle", "kind": "routine"}}));
    }
    let bases = vec![json!({"type": "Feature", "id": "base-1",
        "geometry": {"type": "Point", "coordinates": [17.25, 5.25]},
        "properties": {"time_start": "2024-01-01T00:00:00Z", "owner": "military", "classification": "mission",
            "name": "Camp Test", "base_type": "cob", "reach_km": 15.0}})];
    let site = |id: &str, pos: [f64; 2], owner: &str, level: &str, pop: u64| {
        json!({"type": "Feature", "id": id, "geometry": {"type": "Point", "coordinates": pos},
            "properties": {"time_start": "2020-01-01T00:00:00Z", "owner": owner, "classification": level,
                "name": format!("site {id}"), "site_type": "idp-site", "population": pop}})
    };
    let sites = vec![
        site("site-open", [18.62, 5.12], "mission", "mission", 4321),
        site("CANARY-SITE-HR", [17.71, 6.21], "hr", "restricted", 987_654),
        site(
            "CANARY-SITE-MIL",
            [18.11, 5.71],
            "military",
            "restricted",
            876_543,
        ),
    ];
    (patrols, bases, sites)
}

/// A store from layers, and a server on it with `extra` config.
struct Env {
    _dir: TempDir,
    server: Server,
}

fn env(incidents: &[Value], with_presence: bool, extra: &str) -> Env {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("s.gpkg");
    let mut layers = vec![("incidents", incidents.to_vec())];
    if with_presence {
        let (p, b, s) = presence();
        layers.extend([("patrols", p), ("bases", b), ("sites", s)]);
    }
    for (layer, feats) in layers {
        let fc = common::write_fc(dir.path(), &format!("{layer}.geojson"), &feats);
        cli(&store, &["ingest", layer, fc.to_str().unwrap()]);
    }
    let cfg = config(dir.path(), &store, &format!("{}{extra}", access_toml()));
    let server = Server::start(&cfg);
    Env { _dir: dir, server }
}

/// Base store and base + canaries store, both with presence layers.
fn pair(seed: u64) -> (Env, Env) {
    let base = base_incidents(seed);
    let mut with = base.clone();
    with.extend(canaries());
    (env(&base, true, ""), env(&with, true, ""))
}

/// Where two texts first differ, with context.
fn first_diff(a: &str, b: &str) -> String {
    let i = a
        .bytes()
        .zip(b.bytes())
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let s = i.saturating_sub(120);
    let cut = |t: &str| t.get(s..(i + 120).min(t.len())).unwrap_or("").to_string();
    format!(
        "at byte {i} (lengths {} / {}):\n  base:   ...{}\n  canary: ...{}",
        a.len(),
        b.len(),
        cut(a),
        cut(b)
    )
}

/// Violations collected over a whole attack, reported together so that one
/// failing run lists every leak, not only the first.
#[derive(Default)]
struct Findings(Vec<String>);
impl Findings {
    fn check(&mut self, ok: bool, msg: impl FnOnce() -> String) {
        if !ok {
            self.0.push(msg());
        }
    }
    fn finish(self, attack: &str) {
        let n = self.0.len();
        let shown: Vec<String> = self
            .0
            .into_iter()
            .take(25)
            .map(|m| m.chars().take(900).collect())
            .collect();
        assert!(
            n == 0,
            "{attack}: {n} violation(s), the first {}:\n- {}",
            shown.len(),
            shown.join("\n- ")
        );
    }
}

/// Strings that betray a canary, whatever the endpoint.
const CANARY_NEEDLES: [&str; 7] = [
    "CANARY",
    "19.123456",
    "6.654321",
    "19.432198",
    "7.345678",
    "2019-07-13",
    "24.987654",
];

/// Where `needle` occurs in `body` as a whole token: not preceded by a digit
/// or a dot, and (for integers) not followed by one, so that a long float
/// (a grid vertex) that merely contains the digits is no false alarm.
fn find_token(body: &str, needle: &str) -> Option<usize> {
    let b = body.as_bytes();
    let num = |c: u8| c.is_ascii_digit() || c == b'.';
    body.match_indices(needle).map(|(i, _)| i).find(|&i| {
        let before = i > 0 && num(b[i - 1]);
        let after = !needle.contains('.') && b.get(i + needle.len()).is_some_and(|&c| num(c));
        !before && !after
    })
}

fn no_canary(f: &mut Findings, who: &str, path: &str, body: &str) {
    for n in CANARY_NEEDLES {
        if let Some(i) = find_token(body, n) {
            let ctx: String = body[i.saturating_sub(150)..].chars().take(300).collect();
            f.check(false, || {
                format!("{who} {path}: canary `{n}` in the body: ...{ctx}")
            });
        }
    }
}

/// Every analysis request of the canary-invariance attack.
fn analysis_paths() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        "&weight=fatalities",
        "&bandwidth-km=15",
        "&bandwidth-km=40&cell-km=20",
        "&grid=h3&h3-resolution=5",
        "&all-cells=true&weight=casualties",
        "&band-km=30&permutations=0",
    ]
    .iter()
    .map(|q| format!("/analysis/hotspots?{AREA}{q}"))
    .collect();
    v.extend([
        "/analysis/hotspots".to_string(),
        "/analysis/hotspots?weight=fatalities&cell-km=10".into(),
        format!("/analysis/clusters?{AREA}"),
        format!("/analysis/clusters?{AREA}&eps-km=25&min-points=3"),
        format!("/analysis/clusters?{AREA}&method=st-dbscan&eps-km=15&eps-days=10"),
        format!("/analysis/clusters?{AREA}&eps-km=25&min-points=3&centroids=true"),
        format!("/analysis/clusters?{AREA}&eps-km=25&min-points=3&points=true"),
        format!("/analysis/clusters?{AREA}&method=hdbscan&min-cluster-size=5&centroids=true"),
        "/analysis/clusters".into(),
        format!("/analysis/blindspots?{AREA}&cells=true&min-risk=low"),
        "/analysis/blindspots?min-risk=low".into(),
        format!("/analysis/coverage?{AREA}"),
        format!("/analysis/coverage?{AREA}&grid=h3&h3-resolution=5&all-cells=true"),
        "/analysis/coverage".into(),
        format!("/analysis/impact?{AREA}"),
        format!("/analysis/impact?{AREA}&f=csv"),
    ]);
    v
}

/// ATTACK: "canary differencing". The client compares every analysis it can
/// ask for against a store that lacks a few hidden records. Guarantee 3:
/// groups under k (k_sensitive) change nothing at all, not one byte, for a
/// non-full role, including metadata counts, densities, z-scores,
/// bandwidths chosen from the data, centroids and hulls. For hr they do.
#[test]
fn canary_groups_under_k_change_no_byte_of_any_analysis() {
    let (base, with) = pair(1);
    let mut hr_differs = 0;
    let mut f = Findings::default();
    for path in analysis_paths() {
        for (role, token) in NON_FULL {
            let a = base.server.get(&path, Some(token));
            let b = with.server.get(&path, Some(token));
            assert!(b.status < 500, "{role} {path}: {}", b.text());
            no_canary(&mut f, role, &path, &b.text());
            f.check(a.status == b.status && a.text() == b.text(), || {
                format!("{role} {path}: response changed when canaries under k were added ({} -> {}), {}",
                    a.status, b.status, first_diff(&a.text(), &b.text()))
            });
        }
        let a = base.server.get(&path, Some(HR));
        let b = with.server.get(&path, Some(HR));
        hr_differs += usize::from(a.text() != b.text());
    }
    assert!(
        hr_differs > 0,
        "sanity: hr (full view) must see the canaries in some analysis"
    );
    f.finish("canary invariance");
}

/// Cell key -> (count, geometry) of a hotspot response.
fn cells(body: &Value) -> BTreeMap<String, (u64, Value)> {
    body["features"]
        .as_array()
        .unwrap_or(&vec![])
        .iter()
        .map(|f| {
            let key = f["properties"]["cell"]
                .as_str()
                .or(f["id"].as_str())
                .unwrap_or("?")
                .to_string();
            (
                key,
                (
                    f["properties"]["count"].as_u64().unwrap_or(0),
                    f["geometry"].clone(),
                ),
            )
        })
        .collect()
}

/// ATTACK: "window and bbox differencing". The client asks W1 and W1+W2
/// (and B1 inside B2) and subtracts cell counts to isolate a small case
/// (2 sexual-violence cases in W2 in a town with no other W2 events; 3
/// abductions just east of B1's edge, in the cell east of town 0's, empty
/// that week). Guarantee 4: every per-cell difference is 0 or >= k, and the
/// case cannot be recovered.
#[test]
fn differencing_windows_or_bboxes_never_isolates_a_small_group() {
    let mut data = base_incidents(2);
    let base = env(&data, false, "");
    for i in 0..2 {
        data.push(canary(
            inc(
                &format!("CANARY-DIFF-{i}"),
                TOWNS[3],
                &day(WEEKS[1], 3 + i, 20),
                "sexual-violence",
            ),
            "diff",
        ));
    }
    for i in 0..3 {
        data.push(canary(
            inc(
                &format!("CANARY-EDGE-{i}"),
                [17.345, 5.30],
                &day(WEEKS[0], i, 5),
                "abduction",
            ),
            "edge",
        ));
    }
    let with = env(&data, false, "");
    let q = "/analysis/hotspots?cell-km=10&all-cells=true&permutations=0";
    let pairs = [
        (
            format!("{q}&bbox=16.8,4.8,19.6,7.0&from=2025-03-03&to=2025-03-09"),
            format!("{q}&bbox=16.8,4.8,19.6,7.0&from=2025-03-03&to=2025-03-16"),
            "W1 vs W1+W2",
        ),
        (
            format!("{q}&bbox=16.8,4.8,17.32,5.6&from=2025-03-03&to=2025-03-23"),
            format!("{q}&bbox=16.8,4.8,19.6,7.0&from=2025-03-03&to=2025-03-23"),
            "B1 vs B2",
        ),
    ];
    let mut fd = Findings::default();
    for (role, token) in NON_FULL {
        for (small, large, what) in &pairs {
            let (s, l) = (
                with.server.json(small, token),
                with.server.json(large, token),
            );
            let (cs, cl) = (cells(&s), cells(&l));
            for (key, (n_small, _)) in &cs {
                if let Some((n_large, _)) = cl.get(key) {
                    let d = n_large.abs_diff(*n_small);
                    fd.check(d == 0 || d >= K, || format!("{role} {what}: cell {key} differs by {d} ({n_small} -> {n_large}): a group under k isolated"));
                }
            }
            no_canary(&mut fd, role, large, &l.to_string());
            // The larger request must not depend on the small case at all.
            let b = base.server.get(large, Some(token)).text();
            let w = with.server.get(large, Some(token)).text();
            fd.check(b == w, || {
                format!(
                    "{role} {what}: {large} reveals the planted case, {}",
                    first_diff(&b, &w)
                )
            });
        }
    }
    fd.finish("differencing");
}

/// Every value under `jointmap` named `name`, at any depth.
fn meta_counts(v: &Value, out: &mut Vec<(String, Value)>) {
    const NAMES: [&str; 6] = [
        "events",
        "noise",
        "events_outside_area",
        "patrols_used",
        "bases_active",
        "reports_used",
    ];
    if let Value::Object(o) = v {
        for (k, x) in o {
            if NAMES.contains(&k.as_str()) && !x.is_object() && !x.is_array() {
                out.push((k.clone(), x.clone()));
            }
            meta_counts(x, out);
        }
    }
}

/// ATTACK: "narrow the window until one case is left". The client asks
/// for a bbox and week around a single hidden case and reads the
/// metadata. Guarantee 5: metadata counts are 0, >= k, or null/absent.
#[test]
fn metadata_counts_are_zero_or_at_least_k_around_a_hidden_case() {
    let (_base, with) = pair(3);
    let narrow = |c: [f64; 2]| {
        format!(
            "bbox={},{},{},{}&from=2025-03-10&to=2025-03-16",
            c[0] - 0.02,
            c[1] - 0.02,
            c[0] + 0.02,
            c[1] + 0.02
        )
    };
    let mut paths = Vec::new();
    for c in [FAR, LONE, TOWNS[0]] {
        let w = narrow(c);
        paths.extend([
            format!("/analysis/hotspots?{w}"),
            format!("/analysis/hotspots?{w}&category=sexual-violence"),
            format!("/analysis/clusters?{w}&min-points=1&eps-km=1"),
            format!("/analysis/clusters?{w}&category=sexual-violence"),
            format!("/analysis/clusters?{w}&min-points=1&eps-km=1&centroids=true"),
            format!("/analysis/clusters?{w}&method=hdbscan&min-cluster-size=2&points=true"),
            format!("/analysis/blindspots?{w}&cells=true&min-risk=low"),
            format!("/analysis/coverage?{w}"),
            format!("/analysis/impact?{w}"),
        ]);
    }
    let mut f = Findings::default();
    for (role, token) in NON_FULL {
        for path in &paths {
            let r = with.server.get(path, Some(token));
            assert!(r.status < 500, "{role} {path}: {}", r.text());
            no_canary(&mut f, role, path, &r.text());
            if r.status != 200 || path.contains("f=csv") {
                continue;
            }
            let mut found = Vec::new();
            meta_counts(&r.json()["jointmap"], &mut found);
            for (name, v) in found {
                let ok = v.is_null() || v.as_u64().is_some_and(|n| n == 0 || n >= K);
                f.check(ok, || {
                    format!("{role} {path}: jointmap.{name} = {v} (must be 0, >= {K} or null)")
                });
            }
        }
    }
    f.finish("metadata counts");
}

/// ATTACK: "error oracle". A 400 'no events match' for a filter, present
/// or absent depending on hidden records, answers yes/no questions about
/// them. Guarantee 6: empty results are 200 with `features: []`, and every
/// answer (error or not) is the same whether a hidden canary exists.
#[test]
fn no_error_oracle_for_empty_or_hidden_only_selections() {
    let (base, with) = pair(4);
    let probes: Vec<String> = [
        "/analysis/hotspots?bbox=10.0,10.0,10.5,10.5",
        "/analysis/clusters?bbox=10.0,10.0,10.5,10.5&from=2025-03-10&to=2025-03-16",
        "/analysis/hotspots?bbox=20.5,7.5,21.0,8.0",
        "/analysis/clusters?bbox=20.5,7.5,21.0,8.0&from=2025-03-10&to=2025-03-16",
        "/analysis/hotspots?from=2031-01-01&to=2031-02-01",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut f = Findings::default();
    for (role, token) in NON_FULL {
        for p in &probes {
            for e in [&base, &with] {
                let r = e.server.get(p, Some(token));
                let empty = r.status == 200 && r.json()["features"] == json!([]);
                f.check(empty, || {
                    format!(
                        "{role} {p}: an empty selection must be 200 with features [], got {} {}",
                        r.status,
                        r.text()
                    )
                });
            }
        }
        // Selections where only canaries could match: same answer either way.
        let mut hidden_only = Vec::new();
        for c in [FAR, LONE] {
            let bb = format!(
                "bbox={},{},{},{}",
                c[0] - 0.01,
                c[1] - 0.01,
                c[0] + 0.01,
                c[1] + 0.01
            );
            for ep in ["hotspots", "clusters", "blindspots", "coverage", "impact"] {
                hidden_only.push(format!("/analysis/{ep}?{bb}"));
                hidden_only.push(format!("/analysis/{ep}?{bb}&from=2025-03-10&to=2025-03-16"));
            }
        }
        hidden_only.push(
            "/analysis/hotspots?category=sexual-violence&from=2025-03-10&to=2025-03-16".into(),
        );
        // A category filter is refused whatever the category: an existing
        // one (with canaries) and one no record has answer alike.
        for cat in ["sexual-violence", "explosive-ordnance"] {
            let p = format!("/analysis/hotspots?category={cat}");
            let r = with.server.get(&p, Some(token));
            f.check(
                r.status == 400 && r.json()["parameter"] == "category",
                || {
                    format!(
                        "{role} {p}: must be a 400 naming `category`, got {} {}",
                        r.status,
                        r.text()
                    )
                },
            );
        }
        hidden_only.push("/analysis/hotspots?from=2025-03-24&to=2025-03-30".into());
        for p in &hidden_only {
            let (a, b) = (
                base.server.get(p, Some(token)),
                with.server.get(p, Some(token)),
            );
            no_canary(&mut f, role, p, &b.text());
            f.check(a.status == b.status && a.text() == b.text(), || {
                format!(
                    "{role} {p}: answer depends on a hidden canary (base {} vs canary {}), {}",
                    a.status,
                    b.status,
                    first_diff(&a.text(), &b.text())
                )
            });
        }
    }
    f.finish("error oracle");
}

/// ATTACK: "filter and weight on hidden fields". Filtering by a
/// perpetrator name, a verification or precision level, or weighting by a
/// hidden or extra field turns the analysis into a query on values the role
/// may not see. Guarantee 7: 400 naming the parameter, and no difference
/// between an existing and a non-existing perpetrator name.
#[test]
fn filters_and_weights_on_fields_the_role_may_not_see_are_refused() {
    let (_base, with) = pair(5);
    let s = &with.server;
    let eps = ["hotspots", "clusters", "blindspots"];
    let mut f = Findings::default();
    for (role, token) in NON_FULL {
        for ep in eps {
            let mut refused: Vec<(String, &str)> = vec![
                (
                    format!("/analysis/{ep}?min-verification=reported"),
                    "min-verification",
                ),
                (
                    format!("/analysis/{ep}?min-precision=exact"),
                    "min-precision",
                ),
            ];
            if role != "jmac" {
                refused.push((
                    format!("/analysis/{ep}?perpetrator=Group%20A"),
                    "perpetrator",
                ));
                refused.push((
                    format!("/analysis/{ep}?perpetrator=CANARY-PERP-ALPHA"),
                    "perpetrator",
                ));
            }
            refused.push((format!("/analysis/{ep}?weight=field:victim_age"), "weight"));
            refused.push((
                format!("/analysis/{ep}?weight=field:killed_girls"),
                "weight",
            ));
            for (p, param) in &refused {
                let r = s.get(p, Some(token));
                let named = r.status == 400 && r.json()["parameter"] == *param;
                f.check(named, || {
                    format!(
                        "{role} {p}: must be a 400 naming `{param}`, got {} {}",
                        r.status,
                        r.text().chars().take(300).collect::<String>()
                    )
                });
            }
            // Existing (canary-only) vs non-existing perpetrator name: same answer.
            let q = |name: &str| format!("/analysis/{ep}?perpetrator={name}&{AREA}");
            let a = s.get(&q("CANARY-PERP-ALPHA"), Some(token));
            let b = s.get(&q("NOSUCH-PERP-ZULU"), Some(token));
            let (ta, tb) = (
                a.text().replace("CANARY-PERP-ALPHA", "X"),
                b.text().replace("NOSUCH-PERP-ZULU", "X"),
            );
            f.check(a.status == b.status && ta == tb, || {
                format!("{role} {ep}: perpetrator filter answers differ for a non-existing and an existing (hidden) name ({} vs {}), {}",
                    b.status, a.status, first_diff(&tb, &ta))
            });
        }
    }
    f.finish("filters and weights on hidden fields");
}

/// Sites whose population a role may not see (restricted, not its own).
fn unseen_populations(role: &str) -> Vec<&'static str> {
    match role {
        "hr" => vec!["876543"],
        "military" => vec!["987654"],
        _ => vec!["987654", "876543"],
    }
}

/// ATTACK: "read hidden values through derived fields". Guarantee 8:
/// clusters shown to military/partner carry no `leading_actor` (absent or
/// null); blind spots never carry the population of a site the role may
/// not see individually.
#[test]
fn derived_values_do_not_carry_hidden_actors_or_site_populations() {
    let (_base, with) = pair(6);
    let s = &with.server;
    let mut fd = Findings::default();
    for (role, token) in [("military", MIL), ("partner", PARTNER)] {
        let mut clusters = 0;
        for p in [
            format!("/analysis/clusters?{AREA}"),
            format!("/analysis/clusters?{AREA}&method=st-dbscan&eps-km=15&eps-days=10"),
        ] {
            let body = s.json(&p, token);
            for f in body["features"].as_array().unwrap() {
                clusters += 1;
                let la = &f["properties"]["leading_actor"];
                fd.check(la.is_null(), || {
                    format!("{role} {p}: leading_actor {la} derived from incidents")
                });
            }
        }
        assert!(clusters > 0, "{role}: sanity, the base towns form clusters");
    }
    let mut paths = Vec::new();
    for q in [
        "",
        "&cells=true",
        "&min-risk=low",
        "&min-risk=low&cells=true",
        "&min-risk=low&grid=h3&h3-resolution=5",
    ] {
        paths.push(format!("/analysis/blindspots?{AREA}{q}"));
        paths.push(format!(
            "/analysis/blindspots?{}",
            q.trim_start_matches('&')
        ));
    }
    paths.extend([
        format!("/analysis/coverage?{AREA}"),
        format!("/analysis/impact?{AREA}"),
        format!("/analysis/impact?{AREA}&f=csv"),
        "/collections/sites/items?limit=1000".into(),
        "/collections/sites".into(),
    ]);
    for (role, token) in ROLES {
        for p in &paths {
            let body = s.get(p, Some(token)).text();
            for pop in unseen_populations(role) {
                fd.check(find_token(&body, pop).is_none(), || {
                    format!("{role} {p}: population {pop} of a site it may not see")
                });
            }
            if (role == "jmac" || role == "partner") && p.starts_with("/analysis/") {
                no_canary(&mut fd, role, p, &body);
            }
        }
    }
    fd.finish("derived values");
}

/// ATTACK: "extent over the in-memory view limit". With a layer larger than
/// `[cache] view_max_features`, the collection's extent must still come
/// from what the role may see. Guarantee 9: a hidden canary far outside
/// everything never becomes a corner (or a date) of the extent.
#[test]
fn collection_extent_never_shows_hidden_extremes_beyond_view_limit() {
    let mut data = base_incidents(7);
    for i in 0..6 {
        let mut f = inc(
            &format!("open-{i}"),
            [17.5 + i as f64 * 0.1, 5.5 + i as f64 * 0.05],
            &day(WEEKS[0], i, 12),
            "killing",
        );
        f["properties"]["classification"] = json!("public");
        f["properties"]["consent"] = json!("partners");
        data.push(f);
    }
    data.push(canary(
        inc(
            "CANARY-EXTENT-0",
            [24.987654, 9.876543],
            "2019-07-13T13:13:13Z",
            "killing",
        ),
        "extent",
    ));
    let e = env(&data, false, "[cache]\nview_max_features = 50\n");
    // Coordinates of records no non-hr role may see individually (hr-only consent).
    let hidden: Vec<f64> = data
        .iter()
        .filter(|f| f["properties"]["consent"] == "hr-only")
        .flat_map(|f| {
            f["geometry"]["coordinates"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_f64)
                .collect::<Vec<_>>()
        })
        .collect();
    let mut f = Findings::default();
    for (role, token) in NON_FULL {
        for p in [
            "/collections/incidents",
            "/collections",
            "/collections/incidents/items?limit=1000",
            "/api",
        ] {
            let r = e.server.get(p, Some(token));
            let text = r.text();
            no_canary(&mut f, role, p, &text);
            if r.status != 200 {
                continue;
            }
            let body = r.json();
            let colls = body["collections"]
                .as_array()
                .cloned()
                .unwrap_or_else(|| vec![body.clone()]);
            for c in colls.iter().filter(|c| c["id"] == "incidents") {
                for bb in c["extent"]["spatial"]["bbox"].as_array().unwrap_or(&vec![]) {
                    let v: Vec<f64> = bb
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter_map(Value::as_f64)
                        .collect();
                    f.check(!v.iter().any(|x| hidden.iter().any(|h| (x - h).abs() < 1e-9)), || {
                        format!("{role} {p}: extent {bb} has a hidden record's coordinate as a corner")
                    });
                }
            }
        }
    }
    f.finish("extent over the view limit");
}

/// Geometries (as JSON text) by cell key, for the features of a response.
fn geometry_by_key(body: &Value) -> BTreeMap<String, String> {
    cells(body)
        .into_iter()
        .map(|(k, (_, g))| (k, g.to_string()))
        .collect()
}

/// Every [lon, lat] vertex of a response's polygons.
fn vertices(body: &Value) -> Vec<[f64; 2]> {
    let mut out = Vec::new();
    for f in body["features"].as_array().unwrap_or(&vec![]) {
        for ring in f["geometry"]["coordinates"].as_array().unwrap_or(&vec![]) {
            for p in ring.as_array().unwrap_or(&vec![]) {
                if let (Some(x), Some(y)) = (p[0].as_f64(), p[1].as_f64()) {
                    out.push([x, y]);
                }
            }
        }
    }
    out
}

/// ATTACK: "shift the grid". A grid anchored at the bbox or at the data
/// lets a client slide cells over a hidden case and read where it is.
/// Guarantee 1: cells are anchored at `grid_anchor`: two bboxes give the
/// same key and the same geometry for the same cell, the anchor is a cell
/// corner, and a hidden record far away changes no key or geometry.
#[test]
fn grid_is_anchored_at_the_mission_origin_not_at_bbox_or_data() {
    let base = base_incidents(8);
    let b = env(&base, false, "");
    let mut more = base.clone();
    more.push(canary(
        inc("CANARY-FAR-GRID", FAR, &day(WEEKS[1], 1, 1), "killing"),
        "grid",
    ));
    let w = env(&more, false, "");
    let q =
        "/analysis/hotspots?cell-km=10&all-cells=true&permutations=0&from=2025-03-03&to=2025-03-23";
    let (pa, pb) = (
        format!("{q}&bbox=16.8,4.8,18.4,6.0"),
        format!("{q}&bbox=17.5,5.2,19.0,6.6"),
    );
    for (role, token) in NON_FULL {
        let (ga, gb) = (
            geometry_by_key(&b.server.json(&pa, token)),
            geometry_by_key(&b.server.json(&pb, token)),
        );
        let common: Vec<&String> = ga.keys().filter(|k| gb.contains_key(*k)).collect();
        assert!(
            !common.is_empty(),
            "{role}: overlapping bboxes share no cell key"
        );
        for k in &common {
            assert_eq!(
                ga[*k], gb[*k],
                "{role}: cell {k} has different geometry in two overlapping bboxes"
            );
        }
        // Every cell of A lying well inside B's bbox is also a cell of B, same key.
        let by_geom: BTreeMap<&String, &String> = gb.iter().map(|(k, g)| (g, k)).collect();
        let body_a = b.server.json(&pa, token);
        for f in body_a["features"].as_array().unwrap() {
            let vs = vertices(&json!({"features": [f]}));
            let inside = vs
                .iter()
                .all(|v| v[0] > 17.55 && v[0] < 18.35 && v[1] > 5.25 && v[1] < 5.95);
            if inside {
                let g = f["geometry"].to_string();
                assert!(
                    by_geom.contains_key(&g),
                    "{role}: cell {} of bbox A is not a cell of bbox B (grid moves with the bbox)",
                    f["properties"]["cell"]
                );
            }
        }
        // The anchor is a cell corner (of the cell holding town 0).
        let around = b.server.json(&format!("{q}&bbox=17.1,5.1,17.5,5.5"), token);
        let hit = vertices(&around)
            .iter()
            .any(|v| (v[0] - ANCHOR[0]).abs() < 1e-7 && (v[1] - ANCHOR[1]).abs() < 1e-7);
        assert!(
            hit,
            "{role}: no cell has a corner at grid_anchor {ANCHOR:?}"
        );
        // A hidden record far outside both bboxes moves nothing.
        for p in [&pa, &pb] {
            assert_eq!(
                geometry_by_key(&b.server.json(p, token)),
                geometry_by_key(&w.server.json(p, token)),
                "{role} {p}: a far hidden record changed cell keys or geometry"
            );
        }
    }
}

/// ATTACK: "slide the bbox or window by less than a step". Tiny shifts of a
/// bbox or window move events in or out one at a time. Guarantee 2: bboxes
/// snap outward to whole cells and windows to whole weeks, so such shifts
/// give byte-identical `features`.
#[test]
fn bbox_and_window_snap_to_whole_cells_and_weeks() {
    let e = env(&base_incidents(9), false, "");
    let q = "/analysis/hotspots?cell-km=10&all-cells=true&permutations=0";
    // Bbox edges on (approximate) cell-centre lines of the anchored 10 km
    // grid: x = -45 km and +115 km, y = -45 km and +85 km from the anchor.
    // Moving every edge by ~500 m (a twentieth of a cell) crosses no cell
    // boundary, whatever the exact projection.
    let (kx, ky) = (111.32 * ANCHOR[1].to_radians().cos(), 110.6);
    let edges = [
        ANCHOR[0] - 45.0 / kx,
        ANCHOR[1] - 45.0 / ky,
        ANCHOR[0] + 115.0 / kx,
        ANCHOR[1] + 85.0 / ky,
    ];
    let bbox = |d: [f64; 4]| {
        format!(
            "bbox={},{},{},{}",
            edges[0] + d[0],
            edges[1] + d[1],
            edges[2] + d[2],
            edges[3] + d[3]
        )
    };
    for (role, token) in NON_FULL {
        let pa = format!("{q}&{}&from=2025-03-03&to=2025-03-23", bbox([0.0; 4]));
        let a = e.server.json(&pa, token);
        let pb = format!(
            "{q}&{}&from=2025-03-03&to=2025-03-23",
            bbox([0.004, -0.005, -0.005, 0.004])
        );
        let b = e.server.json(&pb, token);
        assert!(
            a["features"] == b["features"],
            "{role}: bbox {pa} and {pb} (inside the same cells) differ, {}",
            first_diff(&a["features"].to_string(), &b["features"].to_string())
        );
        // Windows that differ only inside the same weeks.
        let bb = "bbox=16.8,4.8,19.6,7.0";
        let (wa, wb) = (
            format!("{q}&{bb}&from=2025-03-04&to=2025-03-20"),
            format!("{q}&{bb}&from=2025-03-05T12:00:00Z&to=2025-03-21"),
        );
        let (fa, fb) = (
            e.server.json(&wa, token)["features"].to_string(),
            e.server.json(&wb, token)["features"].to_string(),
        );
        assert!(
            fa == fb,
            "{role}: windows {wa} and {wb} (same weeks) differ, {}",
            first_diff(&fa, &fb)
        );
    }
}

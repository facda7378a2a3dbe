//! `/products/briefs/{kind}` through the HTTP API against the real binary:
//! every role's brief in HTML (by `Accept` or `f=html`) and GeoJSON, in
//! English and French; a partner's brief holds no canary record and is
//! the brief `jointmap brief --as-role partner` makes; bad requests are
//! problems naming the parameter.

mod common;
mod server_common;

use serde_json::{json, Value};
use server_common::*;
use tempfile::TempDir;

const KINDS: [&str; 2] = ["weekly-hotspot", "early-warning"];
const AS_OF: &str = "2025-12-31";

fn canaries() -> (Vec<Value>, Value) {
    let mut incidents = Vec::new();
    for i in 0..8 {
        for (tag, pos, consent) in [
            ("NONE", [16.55, 6.05], "none"),
            ("HRONLY", [19.9876, 7.1234], "hr-only"),
        ] {
            incidents.push(json!({"type": "Feature", "id": format!("CANARY-{tag}-{i}"),
              "geometry": {"type": "Point", "coordinates": pos},
              "properties": {"time_start": format!("2025-12-{:02}T10:00:00Z", 10 + i),
                "category": "sexual-violence", "owner": "hr", "classification": "restricted",
                "consent": consent, "verification": "verified", "location_precision": "exact",
                "narrative": format!("CANARY narrative {tag} {i}"),
                "perpetrator": "CANARY-PERPETRATOR"}}));
        }
    }
    let sighting = json!({"type": "Feature", "id": "CANARY-SIGHTING",
      "geometry": {"type": "Point", "coordinates": [16.56, 6.06]},
      "properties": {"time_start": "2025-12-20T06:00:00Z", "owner": "military",
        "classification": "strictly-confidential", "actor": "CANARY-ACTOR", "strength": 40,
        "activity": "attack", "source_reliability": "C", "info_credibility": 3,
        "reporter_unit": "CANARY-UNIT"}});
    (incidents, sighting)
}

fn get(server: &Server, path: &str, token: &str, accept: &str) -> Resp {
    request(
        &server.addr,
        "GET",
        path,
        Some(token),
        &[("Accept", accept)],
        None,
    )
}

#[test]
fn briefs_for_every_role_and_none_leaks_a_canary_to_the_partner() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("demo.gpkg");
    cli(&store, &["demo", "--incidents", "3000"]);
    let (incidents, sighting) = canaries();
    let fc = common::write_fc(dir.path(), "canaries.geojson", &incidents);
    cli(&store, &["ingest", "incidents", fc.to_str().unwrap()]);
    let fc = common::write_fc(dir.path(), "sighting.geojson", &[sighting]);
    cli(&store, &["ingest", "sightings", fc.to_str().unwrap()]);
    let cfg = config(dir.path(), &store, "");
    let server = Server::start(&cfg);
    for kind in KINDS {
        for (role, token) in ROLES {
            let path = format!("/products/briefs/{kind}?as-of={AS_OF}");
            let doc = get(
                &server,
                &path,
                token,
                "text/html,application/xhtml+xml;q=0.9",
            );
            assert_eq!(doc.status, 200, "{kind} {role}: {}", doc.text());
            assert_eq!(doc.header("content-type"), Some("text/html; charset=utf-8"));
            assert!(doc
                .header("content-security-policy")
                .is_some_and(|c| c.contains("default-src 'none'")));
            assert_eq!(doc.header("cache-control"), Some("private, no-store"));
            let html = doc.text();
            assert!(html.starts_with("<!DOCTYPE html>"));
            for bad in ["http://", "https://", "<script", "<link", "url("] {
                assert!(!html.contains(bad), "{kind} {role}: {bad}");
            }
            assert!(html.contains("data:image/png;base64,") || html.contains("Nothing to draw"));
            assert!(html.contains(role), "{kind}: the role is not named");
            let en = get(&server, &format!("{path}&f=geojson"), token, "*/*");
            assert_eq!(en.status, 200, "{kind} {role}: {}", en.text());
            assert_eq!(en.header("content-type"), Some("application/geo+json"));
            let fr = get(&server, &format!("{path}&lang=fr&f=json"), token, "*/*");
            let (en, fr) = (en.json(), fr.json());
            assert_eq!(en["features"], fr["features"], "{kind} {role}");
            assert_eq!(en["jointmap"]["role"], role);
            let fr_doc = get(&server, &format!("{path}&lang=fr&f=html"), token, "*/*").text();
            assert!(fr_doc.contains("lang=\"fr\"") && fr_doc.contains("Méthode de calcul"));
            if role == "partner" {
                for out in [html.as_str(), &en.to_string(), &fr_doc] {
                    assert!(
                        !out.contains("CANARY"),
                        "{kind}: a canary reached the partner"
                    );
                }
                // The command line makes the same brief for the role.
                let o = cli(
                    &store,
                    &[
                        "brief",
                        kind,
                        "--as-of",
                        AS_OF,
                        "--as-role",
                        "partner",
                        "--format",
                        "geojson",
                    ],
                );
                let local: Value = serde_json::from_slice(&o.stdout).unwrap();
                assert_eq!(local["features"], en["features"], "{kind}");
                // The short route is the same product.
                let short = get(
                    &server,
                    &format!("/products/{kind}?as-of={AS_OF}&f=geojson"),
                    token,
                    "*/*",
                );
                assert_eq!(short.status, 200, "{kind}: {}", short.text());
                assert_eq!(short.json()["features"], en["features"], "{kind}");
            }
        }
    }
    // No token, no brief.
    let r = request(
        &server.addr,
        "GET",
        &format!("/products/briefs/early-warning?as-of={AS_OF}"),
        None,
        &[],
        None,
    );
    assert_eq!(r.status, 401);
}

#[test]
fn bad_brief_requests_are_problems_naming_the_parameter() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("demo.gpkg");
    cli(&store, &["demo", "--incidents", "500"]);
    let cfg = config(dir.path(), &store, "");
    let server = Server::start(&cfg);
    let r = get(
        &server,
        "/products/briefs/monthly?as-of=2025-12-31",
        HR,
        "*/*",
    );
    assert_eq!(r.status, 404, "{}", r.text());
    let r = get(&server, "/products/monthly?as-of=2025-12-31", HR, "*/*");
    assert_eq!(r.status, 404, "{}", r.text());
    for (query, param) in [
        ("", "as-of"),
        ("?as-of=tomorrow", "as-of"),
        ("?as-of=2025-12-31&f=pdf", "f"),
        ("?as-of=2025-12-31&lang=de", "lang"),
        ("?as-of=2025-12-31&cell-km=0", "cell-km"),
        ("?as-of=2025-12-31&steps=1", "steps"),
        ("?as-of=2025-12-31&store=/etc/passwd", "store"),
    ] {
        let r = get(
            &server,
            &format!("/products/briefs/weekly-hotspot{query}"),
            PARTNER,
            "*/*",
        );
        r.problem(400, Some(param));
    }
}

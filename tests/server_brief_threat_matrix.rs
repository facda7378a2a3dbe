//! `/products/briefs/threat-matrix` through the HTTP API against the real
//! binary: every role's draft as CSV, GeoJSON and HTML; a partner's holds
//! no canary record and is the draft `jointmap brief threat-matrix
//! --as-role partner` makes; bad parameters are problems naming them.

mod common;
mod server_common;

use serde_json::{json, Value};
use server_common::*;
use tempfile::TempDir;

const AS_OF: &str = "2025-12-31";

fn canaries() -> Vec<(&'static str, Vec<Value>)> {
    let mut incidents = Vec::new();
    for i in 0..8 {
        for (tag, pos, consent) in [
            ("NONE", [16.55, 6.05], "none"),
            ("HRONLY", [19.9876, 7.1234], "hr-only"),
        ] {
            incidents.push(json!({"type": "Feature", "id": format!("CANARY-{tag}-{i}"),
              "geometry": {"type": "Point", "coordinates": pos},
              "properties": {"time_start": format!("2025-12-{:02}T10:00:00Z", 10 + i),
                "category": "killing", "owner": "hr", "classification": "restricted",
                "consent": consent, "verification": "verified", "location_precision": "exact",
                "narrative": format!("CANARY narrative {tag} {i}"),
                "perpetrator": "CANARY-PERPETRATOR"}}));
        }
    }
    let secret = |props: Value| {
        let mut p = props;
        p["owner"] = json!("military");
        p["classification"] = json!("strictly-confidential");
        json!({"type": "Feature", "id": format!("CANARY-{}", p["name"].as_str().unwrap_or("S")),
          "geometry": {"type": "Point", "coordinates": [16.56, 6.06]}, "properties": p})
    };
    vec![
        ("incidents", incidents),
        (
            "sightings",
            vec![secret(json!({"time_start": "2025-12-20T06:00:00Z",
            "actor": "CANARY-ACTOR", "activity": "attack", "strength": 40}))],
        ),
        (
            "sites",
            vec![secret(
                json!({"time_start": "2024-01-01", "name": "CANARY-SITE",
            "site_type": "idp-site", "population": 4321}),
            )],
        ),
        (
            "bases",
            vec![secret(
                json!({"time_start": "2024-01-01", "name": "CANARY-BASE",
            "base_type": "pob"}),
            )],
        ),
    ]
}

fn get(server: &Server, path: &str, token: &str) -> Resp {
    request(
        &server.addr,
        "GET",
        path,
        Some(token),
        &[("Accept", "*/*")],
        None,
    )
}

#[test]
fn every_roles_draft_and_none_leaks_a_canary_to_the_partner() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("demo.gpkg");
    cli(&store, &["demo", "--incidents", "3000"]);
    for (layer, features) in canaries() {
        let fc = common::write_fc(dir.path(), &format!("{layer}.geojson"), &features);
        cli(&store, &["ingest", layer, fc.to_str().unwrap()]);
    }
    let cfg = config(dir.path(), &store, "");
    let server = Server::start(&cfg);
    let path = format!("/products/briefs/threat-matrix?as-of={AS_OF}");
    for (role, token) in ROLES {
        let g = get(&server, &format!("{path}&f=geojson"), token);
        assert_eq!(g.status, 200, "{role}: {}", g.text());
        let csv = get(&server, &format!("{path}&f=csv"), token);
        assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
        let doc = get(&server, &format!("{path}&f=html&lang=fr"), token);
        assert!(doc.text().contains("Matrice des menaces"), "{role}");
        let g = g.json();
        assert_eq!(g["jointmap"]["role"], role);
        let n = g["features"].as_array().unwrap().len();
        assert_eq!(
            csv.text().lines().count(),
            n + 1,
            "{role}: one row a threat"
        );
        if role == "partner" {
            for out in [g.to_string(), csv.text(), doc.text()] {
                for needle in ["CANARY", "narrative ", "4321"] {
                    assert!(!out.contains(needle), "{needle} reached the partner");
                }
            }
            let o = cli(
                &store,
                &[
                    "brief",
                    "threat-matrix",
                    "--as-of",
                    AS_OF,
                    "--as-role",
                    "partner",
                    "--format",
                    "geojson",
                ],
            );
            let local: Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(local["features"], g["features"]);
        }
    }
    for (query, param) in [
        ("&window-days=0", "window-days"),
        ("&min-risk=severe", "min-risk"),
        ("&near-km=0", "near-km"),
    ] {
        get(&server, &format!("{path}{query}"), PARTNER).problem(400, Some(param));
    }
}

//! `/products/briefs/handover` through the HTTP API against the real
//! binary: the partner's pack is the one `jointmap brief handover
//! --as-role partner` makes, in HTML and GeoJSON; bad parameters are
//! problems naming the parameter.

mod common;
mod server_common;

use serde_json::Value;
use server_common::*;
use tempfile::TempDir;

#[test]
fn the_partners_pack_over_http_and_bad_parameters_named() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("demo.gpkg");
    cli(&store, &["demo", "--incidents", "1000"]);
    let cfg = config(dir.path(), &store, "");
    let server = Server::start(&cfg);
    let path = "/products/briefs/handover?as-of=2025-12-31&months=6";
    let get = |path: &str, token: &str, accept: &str| {
        request(
            &server.addr,
            "GET",
            path,
            Some(token),
            &[("Accept", accept)],
            None,
        )
    };
    let doc = get(path, PARTNER, "text/html");
    assert_eq!(doc.status, 200, "{}", doc.text());
    assert_eq!(doc.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(doc.text().contains("partner"));
    let g = get(&format!("{path}&f=geojson"), PARTNER, "*/*");
    assert_eq!(g.status, 200, "{}", g.text());
    let g = g.json();
    assert_eq!(g["jointmap"]["kind"], "handover");
    assert_eq!(g["jointmap"]["role"], "partner");
    let o = cli(
        &store,
        &[
            "brief",
            "handover",
            "--as-of",
            "2025-12-31",
            "--as-role",
            "partner",
            "--format",
            "geojson",
        ],
    );
    let local: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(local["features"], g["features"]);
    assert_eq!(local["jointmap"]["monthly"], g["jointmap"]["monthly"]);
    for (query, param) in [
        ("?as-of=2025-12-31&months=7", "months"),
        ("?as-of=2025-12-31&bbox=18,7,17,6", "bbox"),
        ("?as-of=2025-12-31&bbox=18,6,17,7", "bbox"),
    ] {
        let r = get(&format!("/products/briefs/handover{query}"), HR, "*/*");
        r.problem(400, Some(param));
    }
}

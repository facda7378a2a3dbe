//! Real clients against `jointmap serve`: GDAL's OAPIF driver (`ogrinfo`),
//! OWSLib's `Features` and schemathesis fuzzing from `/api`. build.rs detects
//! each tool: without it the test is reported as ignored, with the reason
//! (under JOINTMAP_REQUIRE_TOOLS=1 a missing tool fails the build).

mod common;
mod server_common;

use serde_json::Value;
use server_common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

fn setup() -> (TempDir, Server) {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("demo.gpkg");
    cli(&store, &["demo", "--incidents", "500"]);
    let cfg = config(dir.path(), &store, "");
    let s = Server::start(&cfg);
    (dir, s)
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

#[test]
#[cfg_attr(
    not(jointmap_ogrinfo),
    ignore = "ogrinfo is not installed (apt-get install gdal-bin)"
)]
fn ogrinfo_lists_the_collections_with_their_feature_counts() {
    let (_dir, s) = setup();
    for (role, token) in [("hr", HR), ("military", MIL), ("partner", PARTNER)] {
        let o = Command::new("ogrinfo")
            .args(["-ro", "-so", "-al", &format!("OAPIF:{}", s.base)])
            .env(
                "GDAL_HTTP_HEADERS",
                format!("Authorization: Bearer {token}"),
            )
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        let out = &out[out.len().saturating_sub(6000)..];
        assert!(
            o.status.success(),
            "{role}: {}{}",
            out,
            String::from_utf8_lossy(&o.stderr)
        );
        let collections = s.json("/collections", token);
        let mut names = Vec::new();
        for c in collections["collections"].as_array().unwrap() {
            let id = c["id"].as_str().unwrap();
            names.push(id.to_string());
            let count = s.json(&format!("/collections/{id}/items?limit=1"), token)["numberMatched"]
                .as_u64()
                .unwrap();
            let block = out
                .split("Layer name: ")
                .find(|b| b.starts_with(&format!("{id}\n")))
                .unwrap_or_else(|| panic!("{role}: ogrinfo does not list {id}:\n{out}"));
            assert!(
                block.contains(&format!("Feature Count: {count}\n")),
                "{role} {id}: expected {count} features:\n{block}"
            );
        }
        let listed = out.matches("Layer name: ").count();
        assert_eq!(listed, names.len(), "{role}: {out}");
    }
    // GDAL walks the pages through `next` links: the feature count it reads
    // matches the server's numberMatched.
    let o = Command::new("ogrinfo")
        .args([
            "-ro",
            "-al",
            "-q",
            &format!("OAPIF:{}", s.base),
            "incidents",
        ])
        .env("GDAL_HTTP_HEADERS", format!("Authorization: Bearer {MIL}"))
        .output()
        .unwrap();
    assert!(o.status.success());
    let read = String::from_utf8_lossy(&o.stdout)
        .matches("OGRFeature(incidents)")
        .count() as u64;
    let want = s.json("/collections/incidents/items?limit=1", MIL)["numberMatched"]
        .as_u64()
        .unwrap();
    assert_eq!(read, want);
    // Without a token GDAL gets a 401 and says so.
    let o = Command::new("ogrinfo")
        .args(["-ro", "-so", &format!("OAPIF:{}", s.base)])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("401"));
}

#[test]
#[cfg_attr(
    not(jointmap_owslib),
    ignore = "OWSLib is not installed (pip install OWSLib)"
)]
fn owslib_reads_items_with_a_bbox() {
    let (_dir, s) = setup();
    let bbox = "16.5,4.5,18.5,6.5";
    let o = Command::new("python3")
        .arg(repo("tools/owslib_read.py"))
        .args([&s.base, HR, "incidents", bbox])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["collections"],
        serde_json::json!(["incidents", "bases", "sites"])
    );
    let got: Vec<&str> = v["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap())
        .collect();
    let want_doc = s.json(
        &format!("/collections/incidents/items?limit=10000&bbox={bbox}"),
        HR,
    );
    let want: Vec<&str> = want_doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(!want.is_empty() && want.len() > 50, "{}", want.len());
    assert_eq!(got, want);
    assert_eq!(v["numberMatched"].as_u64().unwrap(), want.len() as u64);
}

#[test]
#[cfg_attr(
    not(jointmap_schemathesis),
    ignore = "schemathesis is not installed (pip install schemathesis)"
)]
fn schemathesis_finds_no_server_error() {
    let (_dir, s) = setup();
    for token in [HR, PARTNER] {
        let o = Command::new("bash")
            .arg(repo("tools/schemathesis.sh"))
            .args([&s.base, token, "15"])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        let out = &out[out.len().saturating_sub(6000)..];
        assert!(
            o.status.success(),
            "schemathesis found failures:\n{out}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert_eq!(s.get("/health", None).status, 200);
}

//! The demo scenario: deterministic, committed sample up to date, loads through ingest.

mod common;

use common::*;
use std::path::Path;
use tempfile::TempDir;

const LAYERS: [&str; 4] = ["incidents", "sightings", "patrols", "bases"];

#[test]
fn committed_sample_matches_the_generator() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("demo");
    let o = bin()
        .args([
            "--quiet",
            "demo",
            "--incidents",
            "1000",
            "--no-store",
            "--write-geojson",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo");
    let mut total = 0;
    for layer in LAYERS {
        let fresh = std::fs::read(out.join(format!("{layer}.geojson"))).unwrap();
        let kept = std::fs::read(committed.join(format!("{layer}.geojson"))).unwrap();
        total += kept.len();
        assert!(
            fresh == kept,
            "data/demo/{layer}.geojson is stale: regenerate it (see data/README.md)"
        );
    }
    assert!(
        total < 2 * 1024 * 1024,
        "sample must stay under 2 MB, is {total} bytes"
    );
}

#[test]
fn demo_loads_every_layer_and_is_deterministic() {
    let dir = TempDir::new().unwrap();
    let a = dir.path().join("a.gpkg");
    let b = dir.path().join("b.gpkg");
    for store in [&a, &b] {
        let o = bin()
            .arg("--store")
            .arg(store)
            .args(["demo", "--incidents", "3000"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains("Demo mission loaded"));
    }
    assert_eq!(count(&a, "incidents"), 3000);
    assert_eq!(count(&a, "sightings"), 300);
    assert_eq!(count(&a, "patrols"), 600);
    assert!(count(&a, "bases") >= 30);
    for layer in LAYERS {
        let ea = run(&a, &["export", layer]).stdout;
        let eb = run(&b, &["export", layer]).stdout;
        assert!(!features_of(&ea).is_empty());
        assert!(ea == eb, "{layer}: same seed, same data");
    }
    // Running the demo again updates in place.
    let o = bin()
        .arg("--store")
        .arg(&a)
        .args(["demo", "--incidents", "3000"])
        .output()
        .unwrap();
    assert!(
        stderr(&o).contains("stored 3000 (0 new, 3000 updated)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn sample_files_ingest_from_stdin_and_files() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("s.gpkg");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo");
    for layer in LAYERS {
        let file = data.join(format!("{layer}.geojson"));
        let o = run(&store, &["ingest", layer, file.to_str().unwrap()]);
        assert!(o.status.success(), "{layer}: {}", stderr(&o));
    }
    assert_eq!(count(&store, "incidents"), 1000);
    // The same through standard input, as NDJSON from export.
    let nd = run(&store, &["export", "sightings", "--ndjson"]).stdout;
    let other = dir.path().join("t.gpkg");
    let mut child = bin()
        .arg("--store")
        .arg(&other)
        .args(["--quiet", "ingest", "sightings", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &nd).unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    assert_eq!(count(&other, "sightings"), 300);
}

/// `demo --serve` loads the demo, prints a token per role and serves it.
#[test]
fn demo_serve_starts_the_server_with_a_token_per_role() {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = tempfile::TempDir::new().unwrap();
    let store = dir.path().join("demo.gpkg");
    let mut child = common::bin()
        .arg("--store")
        .arg(&store)
        .args(["demo", "--incidents", "300", "--serve", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut addr = None;
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        if let Some(a) = line.strip_prefix("jointmap: listening on http://") {
            addr = Some(a.to_string());
            break;
        }
    }
    let addr = addr.expect("the server announces its address");
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    child.kill().unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let _ = child.wait();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    for role in ["hr", "military", "jmac", "partner"] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(role)
                && l.split_whitespace().nth(1).is_some_and(|t| t.len() >= 32)),
            "{out}"
        );
    }
}

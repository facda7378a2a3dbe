//! Input safety: outputs never overwrite the store or an input, duplicate
//! keys, plausibility bounds, polygon validity, the rejects file's lifecycle
//! and the error messages of inputs that are not what they claim.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::Path;
use tempfile::TempDir;

fn ingest(store: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["ingest"];
    all.extend_from_slice(args);
    run(store, &all)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `--rejects` or `-o` naming the store, its WAL, an input or the mapping
/// file is refused before anything is written: the store stays byte for byte.
#[test]
fn outputs_never_overwrite_the_store_or_an_input() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("store.gpkg");
    let file = write_fc(dir.path(), "in.geojson", &[incident(1)]);
    assert!(ingest(&store, &["incidents", s(&file)]).status.success());
    let before = std::fs::read(&store).unwrap();
    let input_before = std::fs::read(&file).unwrap();
    let mapping = dir.path().join("m.toml");
    std::fs::write(&mapping, "[set]\nowner = \"hr\"\n").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&store, dir.path().join("link.gpkg")).unwrap();
    let wal = format!("{}-wal", s(&store));
    let cases: Vec<Vec<&str>> = vec![
        vec![
            "ingest",
            "incidents",
            s(&file),
            "--skip-invalid",
            "--rejects",
            s(&store),
        ],
        vec!["ingest", "incidents", s(&file), "--rejects", &wal],
        vec![
            "ingest",
            "incidents",
            s(&file),
            "--mapping",
            s(&mapping),
            "--rejects",
            s(&mapping),
        ],
        #[cfg(unix)]
        vec!["ingest", "incidents", s(&file), "--rejects", "link.gpkg"],
        vec!["export", "incidents", "-o", s(&store)],
        vec!["hotspots", "-o", s(&store)],
        vec!["impact", "--csv", s(&store)],
    ];
    for args in cases {
        let o = bin()
            .current_dir(dir.path())
            .arg("--store")
            .arg(&store)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("would overwrite"),
            "{args:?}: {}",
            stderr(&o)
        );
        assert_eq!(std::fs::read(&store).unwrap(), before, "{args:?}");
        assert_eq!(std::fs::read(&file).unwrap(), input_before, "{args:?}");
        assert!(std::fs::read_to_string(&mapping).unwrap().contains("owner"));
    }
}

/// The rejects file holds this run's rejects or does not exist: a run without
/// rejects removes an earlier run's file; no temporary file is left behind.
#[test]
fn rejects_file_belongs_to_the_last_run() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("store.gpkg");
    let rejects = dir.path().join("rejects.ndjson");
    let mut bad = incident(2);
    bad["properties"]["category"] = json!("nope");
    let mixed = write_fc(dir.path(), "mixed.geojson", &[incident(1), bad]);
    let good = write_fc(dir.path(), "good.geojson", &[incident(3)]);
    let o = ingest(
        &store,
        &[
            "incidents",
            s(&mixed),
            "--skip-invalid",
            "--rejects",
            s(&rejects),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&rejects).unwrap().lines().count(),
        1
    );
    // All-or-nothing refusal: the rejects are there, with the reasons.
    let o = ingest(&store, &["incidents", s(&mixed), "--rejects", s(&rejects)]);
    assert_eq!(o.status.code(), Some(2));
    let line: Value =
        serde_json::from_str(std::fs::read_to_string(&rejects).unwrap().trim()).unwrap();
    assert_eq!(line["problems"][0]["field"], "category");
    // A clean run: the earlier file is gone.
    let o = ingest(&store, &["incidents", s(&good), "--rejects", s(&rejects)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!rejects.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

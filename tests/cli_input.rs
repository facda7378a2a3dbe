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

/// Files that are not GeoJSON are named by what they look like; a missing
/// file's message is said once.
#[test]
fn inputs_that_are_not_geojson_say_what_they_are() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("store.gpkg");
    let cases: [(&str, &[u8], &str); 7] = [
        // Named .csv or .gpx, they are read as CSV or GPX (tests/cli_formats.rs);
        // named .kml, .gpkg or .shp, through GDAL (tests/cli_gdal.rs), or refused
        // by a build without it (tests/cli_no_gdal.rs).
        (
            "events.txt",
            b"event_id,latitude,longitude\n1,4.3,18.5\n",
            "looks like CSV",
        ),
        (
            "track.xml",
            b"<?xml version=\"1.0\"?>\n<gpx version=\"1.1\">",
            "looks like GPX",
        ),
        (
            "places.xml",
            b"<?xml version=\"1.0\"?><kml xmlns=\"x\">",
            "looks like KML",
        ),
        (
            "data.zip",
            b"PK\x03\x04\x14\x00\x00\x00",
            "looks like a zip archive",
        ),
        (
            "other.db",
            b"SQLite format 3\0\x10\x00",
            "looks like a SQLite database",
        ),
        (
            "roads.dat",
            &[0x00, 0x00, 0x27, 0x0a, 0, 0, 0, 0],
            "looks like an ESRI Shapefile",
        ),
        ("notes.txt", b"hello", "is not JSON"),
    ];
    for (name, bytes, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let o = ingest(&store, &["incidents", s(&path)]);
        assert_eq!(o.status.code(), Some(2), "{name}");
        let e = stderr(&o);
        assert!(e.contains(&format!("{name}: {want}")), "{name}: {e}");
        assert!(!store.exists(), "{name}");
    }
    let o = ingest(
        &store,
        &["incidents", s(&dir.path().join("missing.geojson"))],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert_eq!(e.matches("No such file or directory").count(), 1, "{e}");
}

/// Bounds, duplicate keys and polygon validity reach the command line: each
/// refusal names the feature and field; the bounds can be changed by flag;
/// `incident` is accepted as an alias of `incidents`.
#[test]
fn bounds_and_duplicates_are_refused_by_ingest() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("store.gpkg");
    let mut future = incident(1);
    future["properties"]["time_start"] = json!("9999-01-01T00:00:00Z");
    let mut huge = incident(2);
    huge["properties"]["killed_men"] = json!(1e15);
    let mut four = incident(3);
    four["geometry"]["coordinates"] = json!([18.5, 4.4, 0.0, 1.0]);
    let dup = incident(4).to_string().replace(
        "\"classification\":\"restricted\"",
        "\"classification\":\"restricted\",\"classification\":\"public\"",
    );
    assert!(dup.contains("\"public\""));
    let path = dir.path().join("bad.ndjson");
    std::fs::write(
        &path,
        [future.to_string(), huge.to_string(), four.to_string(), dup].join("\n"),
    )
    .unwrap();
    let o = ingest(&store, &["incident", s(&path)]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    for want in [
        "feature #0 (id \"inc-1\"): field `time_start`: time 9999-01-01T00:00:00Z is in the future",
        "feature #1 (id \"inc-2\"): field `killed_men`: count 1000000000000000 is above 100000",
        "feature #2 (id \"inc-3\"): field `geometry`: a position has 4 elements",
        "feature #3: field `properties.classification`: duplicate key \"classification\"",
    ] {
        assert!(e.contains(want), "{want}\n{e}");
    }
    // Changed bounds: the count is fine with a larger --max-count, and a
    // small --max-count refuses an ordinary one.
    let ok = write_fc(dir.path(), "ok.geojson", &[incident(5)]);
    let o = ingest(&store, &["incidents", s(&ok), "--max-count", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("count 4 is above 0"), "{}", stderr(&o));
    let o = ingest(&store, &["incidents", s(&ok), "--earliest", "2030-01-01"]);
    assert!(
        stderr(&o).contains("is before 2030-01-01"),
        "{}",
        stderr(&o)
    );
    assert!(ingest(&store, &["incident", s(&ok)]).status.success());
    assert_eq!(count(&store, "incidents"), 1);
}

/// A feature over --max-feature-bytes is refused while it is read (the
/// reader never buffers it whole), naming the limit.
#[test]
fn oversized_features_are_refused_while_streaming() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("store.gpkg");
    let mut big = incident(1);
    big["properties"]["narrative"] = json!("x".repeat(3 << 20));
    let path = write_fc(dir.path(), "big.geojson", &[incident(0), big]);
    let o = ingest(
        &store,
        &["incidents", s(&path), "--max-feature-bytes", "1048576"],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("more than 1048576 bytes"), "{e}");
    // And a long string within a small feature bound is named by its field.
    let mut long = incident(2);
    long["properties"]["narrative"] = json!("y".repeat(2000));
    let path = write_fc(dir.path(), "long.geojson", &[long]);
    let o = ingest(
        &store,
        &["incidents", s(&path), "--max-string-bytes", "1000"],
    );
    assert!(
        stderr(&o).contains("field `properties.narrative`: a string of 2000 bytes"),
        "{}",
        stderr(&o)
    );
}

/// A reader that closes the pipe early ends the command quietly with 0.
#[cfg(unix)]
#[test]
fn a_closed_pipe_on_stdout_ends_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("store.gpkg");
    let feats: Vec<Value> = (0..3000).map(incident).collect();
    let file = write_fc(dir.path(), "in.geojson", &feats);
    assert!(ingest(&store, &["incidents", s(&file)]).status.success());
    let mut child = bin()
        .arg("--store")
        .arg(&store)
        .args(["export", "incidents"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line, then close our end (as `head -1` does).
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    out.read_exact(&mut first).unwrap();
    drop(out);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
}

/// A mapping whose target is no field of the layer, or whose source no
/// feature has, is refused naming the mapping's line; nothing is stored.
#[test]
fn mapping_mistakes_name_their_line() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("store.gpkg");
    let foreign = json!({"type": "Feature", "id": "f1",
        "geometry": {"type": "Point", "coordinates": [18.5, 4.4]},
        "properties": {"date": "2024-01-01", "kind": "killing"}});
    let file = write_fc(dir.path(), "foreign.geojson", &[foreign]);
    let mapping = dir.path().join("m.toml");
    for (text, want) in [
        (
            "[rename]\ntime_start = \"date\"\ncategroy = \"kind\"\n",
            "line 3: [rename] target `categroy` is not a field of incidents",
        ),
        (
            "[rename]\ntime_start = \"event_date\"\ncategory = \"kind\"\n",
            "line 2: [rename] time_start = \"event_date\": no feature has a property \"event_date\"",
        ),
    ] {
        std::fs::write(&mapping, text).unwrap();
        let o = ingest(&store, &["incidents", s(&file), "--mapping", s(&mapping)]);
        assert_eq!(o.status.code(), Some(2), "{text}");
        assert!(stderr(&o).contains(want), "{want}\n{}", stderr(&o));
        assert!(!store.exists());
    }
    std::fs::write(
        &mapping,
        "[rename]\ntime_start = \"date\"\ncategory = \"kind\"\n",
    )
    .unwrap();
    let o = ingest(&store, &["incidents", s(&file), "--mapping", s(&mapping)]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// 1-based line and byte column of byte `offset` in `text`, counted
/// independently of the reader (CR is a column like any other byte).
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (line, offset - line_start + 1)
}

/// JSON errors inside a feature name the line and column in the file, not
/// within the feature: in the 3rd feature of a pretty FeatureCollection, in
/// NDJSON, on the first line of a feature that starts mid-line (minified),
/// with CRLF line ends; for a number out of range (reported at its last
/// byte) and a duplicate key (reported at the repeated key's closing quote,
/// where serde_json stands when the key is refused).
#[test]
fn json_errors_are_positioned_in_the_file() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("store.gpkg");
    // Marked faults in feature #2: `BAD` is replaced after serialising.
    let mut third = incident(3);
    third["properties"]["note"] = json!("BAD");
    let features = [incident(1), incident(2), third];
    let fc = json!({"type": "FeatureCollection", "features": features});
    let pretty = serde_json::to_string_pretty(&fc).unwrap();
    let minified = fc.to_string();
    let ndjson = features
        .iter()
        .map(|f| f.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let crlf = pretty.replace('\n', "\r\n");
    // (fault text, the fault's reported byte within it)
    let number = ("1e999", 4usize);
    let dup_value = r#""x", "note": 5"#;
    let dup = (dup_value, dup_value.rfind('"').unwrap());
    let mut cases = 0;
    for (name, doc) in [
        ("pretty.geojson", &pretty),
        ("minified.geojson", &minified),
        ("lines.ndjson", &ndjson),
        ("crlf.geojson", &crlf),
    ] {
        for (fault, at) in [number, dup] {
            let text = doc.replace("\"BAD\"", fault);
            let offset = text.find(fault).unwrap() + at;
            let (line, column) = line_column(&text, offset);
            if name == "minified.geojson" {
                assert_eq!(line, 1);
                assert!(column > 200, "the fault is far along the one line");
            }
            let path = dir.path().join(name);
            std::fs::write(&path, &text).unwrap();
            let o = ingest(&store, &["incidents", s(&path)]);
            assert_eq!(o.status.code(), Some(2), "{name}");
            let e = stderr(&o);
            let want = format!("line {line} column {column} of the input");
            assert!(e.contains("feature #2"), "{name} {fault}\n{e}");
            assert!(e.contains(&want), "{name} {fault}: want {want}\n{e}");
            assert!(!e.contains("of the feature"), "{e}");
            cases += 1;
        }
    }
    assert_eq!(cases, 8);
}

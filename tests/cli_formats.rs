//! Whole-flow tests of `jointmap ingest` from CSV and GPX: presets, the
//! rejects of bad rows, atomicity, and GPX times driving coverage recency.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// ACLED's export header, in its published column order.
const ACLED_HEADER: &str = "event_id_cnty,event_date,year,time_precision,disorder_type,event_type,sub_event_type,actor1,assoc_actor_1,inter1,actor2,assoc_actor_2,inter2,interaction,civilian_targeting,iso,region,country,admin1,admin2,admin3,location,latitude,longitude,geo_precision,source,source_scale,notes,fatalities,tags,timestamp";

fn acled_row(id: &str, date: &str, lat: &str, lon: &str, notes: &str) -> String {
    format!(
        "{id},{date},2024,1,Political violence,Violence against civilians,Attack,\
         3R: Return Reclamation and Rehabilitation,,2,Civilians (Central African Republic),,7,27,\
         Civilian targeting,140,Middle Africa,Central African Republic,Ouham-Pende,Bocaranga,,Koui,\
         {lat},{lon},1,Corbeau News,National,\"{notes}\",2,,1706000000"
    )
}

fn refs(a: &[String]) -> Vec<&str> {
    a.iter().map(String::as_str).collect()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A file in ACLED's published layout (CRLF, a note over two lines with
/// commas and quotes) ingests through the preset.
#[test]
fn acled_export_ingests_through_the_preset() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("s.gpkg");
    let text = [
        ACLED_HEADER.to_string(),
        acled_row("CAF9001", "15 January 2024", "6.9284", "16.0361", "On 15 January 2024, 3R fighters\r\nkilled two civilians in Koui, \"\"near\"\" the market."),
        acled_row("CAF9002", "2024-01-16", "6.93", "16.04", "Second."),
    ]
    .join("\r\n");
    let file = write(dir.path(), "acled.csv", &text);
    let o = run(
        &store,
        &[
            "ingest",
            "incidents",
            file.to_str().unwrap(),
            "--preset",
            "acled",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let got = features_of(&run(&store, &["export", "incidents"]).stdout);
    assert_eq!(got.len(), 2);
    let a = &got[0];
    assert_eq!(a["id"], "acled-CAF9001");
    assert_eq!(
        a["geometry"],
        json!({"type": "Point", "coordinates": [16.0361, 6.9284]})
    );
    let p = &a["properties"];
    assert_eq!(p["time_start"], "2024-01-15T00:00:00Z");
    assert_eq!(p["category"], "killing");
    assert_eq!(
        p["perpetrator"],
        "3R: Return Reclamation and Rehabilitation"
    );
    assert_eq!(p["perpetrator_category"], "non-state-armed-group");
    assert_eq!(p["killed_unknown"], 2);
    assert_eq!(p["location_precision"], "settlement");
    assert_eq!(p["admin2"], "Bocaranga");
    assert_eq!(p["timestamp"], 1_706_000_000);
    assert_eq!(
        p["narrative"],
        "On 15 January 2024, 3R fighters\r\nkilled two civilians in Koui, \"near\" the market."
    );
}

/// Every bad row is refused naming its row and reason, in the rejects file
/// verbatim; all-or-nothing stores nothing; --skip-invalid stores the rest.
#[test]
fn bad_csv_rows_are_rejected_never_dropped() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("s.gpkg");
    let rows = [
        acled_row("OK1", "2024-01-15", "6.9", "16.0", "fine"),
        acled_row("NA1", "2024-01-15", "NA", "16.0", "no latitude"),
        acled_row("EMPTY", "2024-01-15", "6.9", "", "no longitude"),
        acled_row("COMMA", "2024-01-15", "\"6,9\"", "16.0", "decimal comma"),
        acled_row("RANGE", "2024-01-15", "96.0", "16.0", "out of range"),
        acled_row("OK2", "2024-01-16", "6.9", "16.1", "fine"),
    ];
    let text = format!("{ACLED_HEADER}\n{}\n", rows.join("\n"));
    let file = write(dir.path(), "acled.csv", &text);
    let rejects = dir.path().join("rejects.ndjson");
    let args = |skip: bool| {
        let mut a = vec![
            "ingest".to_string(),
            "incidents".into(),
            file.display().to_string(),
            "--preset".into(),
            "acled".into(),
            "--rejects".into(),
            rejects.display().to_string(),
        ];
        if skip {
            a.push("--skip-invalid".into());
        }
        a
    };
    let all = args(false);
    let o = run(&store, &refs(&all));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    for want in [
        "feature #1 (id \"acled-NA1\"): field `geometry`: latitude \"NA\" is not a finite number",
        "feature #2 (id \"acled-EMPTY\"): field `geometry`: longitude \"\" is not a finite number",
        "feature #3 (id \"acled-COMMA\"): field `geometry`: latitude \"6,9\" is not a finite number",
        "feature #4 (id \"acled-RANGE\"): field `geometry`: latitude 96 out of range [-90, 90]",
        "4 of 6 features rejected; nothing was stored",
    ] {
        assert!(err.contains(want), "{want}\n{err}");
    }
    assert!(!store.exists());
    let lines: Vec<Value> = std::fs::read_to_string(&rejects)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines
            .iter()
            .map(|l| l["index"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(
        lines[0]["feature"]["geometry"]["coordinates"],
        json!([16.0, "NA"])
    );
    let skip = args(true);
    let o = run(&store, &refs(&skip));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(count(&store, "incidents"), 2);
    // A ragged row refuses the file, naming its row and line; nothing changes.
    let ragged = format!("{ACLED_HEADER}\n{}\n{},extra\n", rows[0], rows[5]);
    let bad = write(dir.path(), "ragged.csv", &ragged);
    let before = std::fs::read(&store).unwrap();
    let o = run(
        &store,
        &[
            "ingest",
            "incidents",
            bad.to_str().unwrap(),
            "--preset",
            "acled",
            "--skip-invalid",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("row 2 (line 3): 32 cells, but the header has 31"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&store).unwrap(), before);
}

/// GED's CSV download gives the same store as its GeoJSON form: the CSV is
/// written here from the real GeoJSON in GED's CSV layout (its columns, its
/// `latitude`/`longitude`/`geom_wkt`, its `2014-01-03 00:00:00.000` dates).
#[test]
#[cfg_attr(
    not(jointmap_shared_data),
    ignore = "../shared/data/ucdp-ged-23.1-car.geojson is absent"
)]
fn ucdp_ged_csv_gives_the_same_store_as_its_geojson() {
    let ged =
        shared_data("ucdp-ged-23.1-car.geojson").expect("../shared/data/ucdp-ged-23.1-car.geojson");
    let dir = TempDir::new().unwrap();
    let v: Value = serde_json::from_slice(&std::fs::read(&ged).unwrap()).unwrap();
    let feats = v["features"].as_array().unwrap();
    let keys: Vec<String> = feats[0]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let csv_path = dir.path().join("GEDEvent_v23_1.csv");
    let mut w = csv::Writer::from_path(&csv_path).unwrap();
    let mut header = keys.clone();
    header.extend(["latitude".into(), "longitude".into(), "geom_wkt".into()]);
    w.write_record(&header).unwrap();
    for f in feats {
        let p = &f["properties"];
        let mut row: Vec<String> = keys
            .iter()
            .map(|k| match &p[k] {
                Value::String(s) if k.starts_with("date_") => {
                    format!("{} 00:00:00.000", &s[..10])
                }
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        let c = &f["geometry"]["coordinates"];
        row.push(c[1].to_string());
        row.push(c[0].to_string());
        row.push(format!("POINT ({} {})", c[0], c[1]));
        w.write_record(&row).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let export = |input: &Path, name: &str| {
        let store = dir.path().join(name);
        let o = run(
            &store,
            &[
                "ingest",
                "incidents",
                input.to_str().unwrap(),
                "--preset",
                "ucdp-ged",
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        features_of(&run(&store, &["export", "incidents"]).stdout)
    };
    let from_geojson = export(&ged, "geojson.gpkg");
    let from_csv = export(&csv_path, "csv.gpkg");
    assert_eq!(from_geojson.len(), 1848);
    assert_eq!(from_csv.len(), from_geojson.len());
    for (c, g) in from_csv.iter().zip(&from_geojson) {
        assert_eq!(c, g);
    }
}

const GPX: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="eTrex 32x" xmlns="http://www.topografix.com/GPX/1/1">
  <trk><name>BANBAT-1 Coy A</name><trkseg>
    <trkpt lat="4.40" lon="18.50"><ele>400</ele><time>2024-03-01T06:00:00Z</time></trkpt>
    <trkpt lat="4.40" lon="18.60"><ele>410</ele><time>2024-03-01T07:00:00Z</time></trkpt>
    <trkpt lat="4.40" lon="18.70"><ele>405</ele><time>2024-03-09T07:00:00Z</time></trkpt>
  </trkseg></trk>
</gpx>
"#;

const PATROL_MAPPING: &str = "[rename]\nunit = \"name\"\n[set]\nmode = \"vehicle\"\n";

/// The last patrol time of the coverage cell holding `lon`.
fn last_patrol_at(cells: &[Value], lon: f64) -> String {
    let inside = |f: &&Value| {
        let ring = &f["geometry"]["coordinates"][0];
        let xs: Vec<f64> = ring
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[0].as_f64().unwrap())
            .collect();
        let ys: Vec<f64> = ring
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[1].as_f64().unwrap())
            .collect();
        let (x0, x1) = (
            xs.iter().cloned().fold(f64::MAX, f64::min),
            xs.iter().cloned().fold(f64::MIN, f64::max),
        );
        let (y0, y1) = (
            ys.iter().cloned().fold(f64::MAX, f64::min),
            ys.iter().cloned().fold(f64::MIN, f64::max),
        );
        (x0..x1).contains(&lon) && (y0..y1).contains(&4.40)
    };
    let cell = cells.iter().find(inside).expect("a cell on the track");
    cell["properties"]["last_patrol"]
        .as_str()
        .expect("last_patrol")
        .to_string()
}

/// A GPS unit's track times drive coverage recency: the cells the patrol
/// crossed in its first hour were last patrolled then, not at a time spread
/// evenly over the track's eight days.
#[test]
fn gpx_track_times_drive_coverage_recency() {
    let dir = TempDir::new().unwrap();
    let mapping = write(dir.path(), "patrol.toml", PATROL_MAPPING);
    let gpx = write(dir.path(), "track.gpx", GPX);
    let coverage = |store: &Path| {
        let o = run(
            store,
            &[
                "coverage",
                "--cell-km",
                "4",
                "--from",
                "2024-02-01",
                "--to",
                "2024-03-10",
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        features_of(&o.stdout)
    };
    let store = dir.path().join("gpx.gpkg");
    let o = run(
        &store,
        &[
            "ingest",
            "patrols",
            gpx.to_str().unwrap(),
            "--mapping",
            mapping.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let stored = features_of(&run(&store, &["export", "patrols"]).stdout);
    assert_eq!(
        stored[0]["properties"]["vertex_times"],
        json!([
            "2024-03-01T06:00:00Z",
            "2024-03-01T07:00:00Z",
            "2024-03-09T07:00:00Z"
        ])
    );
    // The store keeps positions in two dimensions: <ele> is not kept.
    assert_eq!(stored[0]["geometry"]["coordinates"][0], json!([18.5, 4.4]));
    let cells = coverage(&store);
    // Halfway along the first leg (an hour from 06:00), and near the end of
    // the second (eight days).
    let early = last_patrol_at(&cells, 18.55);
    assert!(early.starts_with("2024-03-01T06:"), "{early}");
    let late = last_patrol_at(&cells, 18.69);
    assert!(late.starts_with("2024-03-0"), "{late}");
    assert!(late.as_str() > "2024-03-08", "{late}");
    // The same track without its times: spread over its span by length, so
    // the early cell reads days later. The times made the difference.
    let mut plain = stored[0].clone();
    plain["properties"]
        .as_object_mut()
        .unwrap()
        .shift_remove("vertex_times");
    let file = write_fc(dir.path(), "plain.geojson", &[plain]);
    let store2 = dir.path().join("plain.gpkg");
    let o = run(&store2, &["ingest", "patrols", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let spread = last_patrol_at(&coverage(&store2), 18.55);
    assert!(spread.as_str() > "2024-03-02", "{spread}");
}

/// A GPX point with a broken time refuses the file, naming the element and
/// line; nothing is stored.
#[test]
fn a_broken_gpx_time_names_its_line() {
    let dir = TempDir::new().unwrap();
    let mapping = write(dir.path(), "patrol.toml", PATROL_MAPPING);
    let gpx = write(
        dir.path(),
        "track.gpx",
        &GPX.replace("2024-03-01T07:00:00Z", "2024-03-01 7h"),
    );
    let store = dir.path().join("s.gpkg");
    let o = run(
        &store,
        &[
            "ingest",
            "patrols",
            gpx.to_str().unwrap(),
            "--mapping",
            mapping.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("line 5: <time> of <trkpt>: cannot parse time \"2024-03-01 7h\""),
        "{}",
        stderr(&o)
    );
    assert!(!store.exists());
}

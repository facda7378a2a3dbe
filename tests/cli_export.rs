//! Whole-flow tests of `jointmap export --format csv` (read back by ingest)
//! and `jointmap export --as-role` (a role's share, as the server serves it).

mod common;
mod server_common;

use common::{canary_incidents, features_of, incident, others, run, stderr, write_fc};
use serde_json::{json, Value};
use server_common::{config, Server, PARTNER};
use tempfile::TempDir;

/// Every layer exported as CSV (WKT geometry, typed columns, vertex times
/// as JSON) ingests back into the same features.
#[test]
fn csv_export_round_trips_every_layer() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("a.gpkg");
    let incidents: Vec<Value> = (0..50)
        .map(|i| {
            let mut f = incident(i);
            // A nested extra comes back as its JSON text: not in this test.
            f["properties"]
                .as_object_mut()
                .unwrap()
                .shift_remove("nested");
            f["properties"]["note"] = json!(format!("line one, \"two\"\r\nline {i}"));
            f
        })
        .collect();
    let (s, p, b) = others();
    let again = dir.path().join("b.gpkg");
    for (layer, feats) in [
        ("incidents", incidents),
        ("sightings", vec![s]),
        ("patrols", vec![p]),
        ("bases", vec![b]),
    ] {
        let file = write_fc(dir.path(), &format!("{layer}.geojson"), &feats);
        let o = run(&store, &["ingest", layer, file.to_str().unwrap()]);
        assert!(o.status.success(), "{layer}: {}", stderr(&o));
        let csv = dir.path().join(format!("{layer}.csv"));
        let o = run(
            &store,
            &[
                "export",
                layer,
                "--format",
                "csv",
                "-o",
                csv.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{layer}: {}", stderr(&o));
        let o = run(&again, &["ingest", layer, csv.to_str().unwrap()]);
        assert!(o.status.success(), "{layer}: {}", stderr(&o));
        let want = features_of(&run(&store, &["export", layer]).stdout);
        let got = features_of(&run(&again, &["export", layer]).stdout);
        assert_eq!(got.len(), feats.len(), "{layer}");
        assert_eq!(got, want, "{layer}");
    }
}

/// A partner's export holds none of what a partner may not see, in any
/// format, and is exactly what the server returns to a partner's token.
#[test]
fn a_partner_export_is_the_partners_share() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("s.gpkg");
    let file = write_fc(dir.path(), "i.geojson", &canary_incidents());
    let o = run(&store, &["ingest", "incidents", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut exported = Vec::new();
    for format in ["geojson", "ndjson", "csv"] {
        let o = run(
            &store,
            &[
                "export",
                "incidents",
                "--as-role",
                "partner",
                "--format",
                format,
            ],
        );
        assert!(o.status.success(), "{format}: {}", stderr(&o));
        assert!(
            !o.stdout.windows(6).any(|w| w == b"CANARY"),
            "{format}: a canary in the partner's export:\n{}",
            String::from_utf8_lossy(&o.stdout)
        );
        if format == "geojson" {
            exported = features_of(&o.stdout);
        }
    }
    assert_eq!(exported.len(), 30, "the partner sees the published records");
    // The operator's export holds them all (the canaries are really there).
    let all = run(&store, &["export", "incidents", "--format", "csv"]);
    assert!(all.stdout.windows(14).any(|w| w == b"CANARY-HIDDEN-"));
    assert!(all.stdout.windows(17).any(|w| w == b"CANARY-NARRATIVE-"));
    // The same as the server returns to a partner.
    let server = Server::start(&config(dir.path(), &store, ""));
    let doc = server.json("/collections/incidents/items?limit=1000", PARTNER);
    let mut served: Vec<Value> = doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| json!({"type": "Feature", "id": f["id"], "geometry": f["geometry"], "properties": f["properties"]}))
        .collect();
    let mut mine: Vec<Value> = exported
        .iter()
        .map(|f| json!({"type": "Feature", "id": f["id"], "geometry": f["geometry"], "properties": f["properties"]}))
        .collect();
    // The server pages in id order, export writes in storage order.
    let by_id = |a: &Value, b: &Value| a["id"].as_str().cmp(&b["id"].as_str());
    served.sort_by(by_id);
    mine.sort_by(by_id);
    assert_eq!(mine, served);
}

/// A product as CSV holds the features of its GeoJSON form, one row each,
/// and goes through the gate with --as-role like the GeoJSON form.
#[test]
fn a_product_as_csv_is_its_features() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("s.gpkg");
    let file = write_fc(dir.path(), "i.geojson", &canary_incidents());
    assert!(
        run(&store, &["ingest", "incidents", file.to_str().unwrap()])
            .status
            .success()
    );
    let partner = [
        "hotspots",
        "--cell-km",
        "10",
        "--as-role",
        "partner",
        "--format",
        "csv",
    ];
    let o = run(&store, &partner);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!o.stdout.windows(6).any(|w| w == b"CANARY"));
    let args = ["hotspots", "--cell-km", "10"];
    let o = run(&store, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let features = features_of(&o.stdout);
    let o = run(&store, &[&args[..], &["--format", "csv"]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let mut r = csv::Reader::from_reader(&o.stdout[..]);
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header[0], "wkt");
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert!(!features.is_empty());
    assert_eq!(rows.len(), features.len());
    for (row, f) in rows.iter().zip(&features) {
        for (k, v) in f["properties"].as_object().unwrap() {
            let i = header.iter().position(|h| h == k).unwrap();
            let want = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            assert_eq!(&row[i], want, "{k}");
        }
    }
}

/// A role that may see a layer only as aggregates (patrol tracks, for all
/// but the military) gets an error naming why, and no file.
#[test]
fn a_layer_the_role_may_not_see_is_refused() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("s.gpkg");
    let (_, p, _) = others();
    let file = write_fc(dir.path(), "p.geojson", &[p]);
    assert!(run(&store, &["ingest", "patrols", file.to_str().unwrap()])
        .status
        .success());
    let out = dir.path().join("patrols.csv");
    for role in ["partner", "jmac", "hr"] {
        let o = run(
            &store,
            &[
                "export",
                "patrols",
                "--as-role",
                role,
                "-o",
                out.to_str().unwrap(),
            ],
        );
        assert!(!o.status.success(), "{role}");
        assert!(stderr(&o).contains("only as aggregates"), "{}", stderr(&o));
        assert!(!out.exists());
        assert!(!dir.path().join("patrols.csv.partial").exists());
    }
    let o = run(
        &store,
        &[
            "export",
            "patrols",
            "--as-role",
            "military",
            "--format",
            "csv",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 2);
}

/// A partner's GeoPackage export: GDAL reads it as one layer of the
/// partner's features, with typed columns, the same ids and values as the
/// partner's GeoJSON export; no byte of the file holds a canary.
#[test]
#[cfg_attr(
    not(jointmap_ogrinfo),
    ignore = "ogrinfo is not installed (apt-get install gdal-bin)"
)]
fn a_partner_geopackage_export_is_the_partners_share_for_gdal() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("s.gpkg");
    let file = write_fc(dir.path(), "i.geojson", &canary_incidents());
    let o = run(&store, &["ingest", "incidents", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let gpkg = dir.path().join("partner.gpkg");
    let args = ["export", "incidents", "--as-role", "partner"];
    let o = run(
        &store,
        &[
            &args[..],
            &["--format", "gpkg", "-o", gpkg.to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&gpkg).unwrap();
    assert!(
        !bytes.windows(6).any(|w| w == b"CANARY"),
        "a canary in the partner's GeoPackage"
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with("partner.gpkg.")),
        "{names:?}"
    );
    let o = std::process::Command::new("ogrinfo")
        .args(["-ro", "-so", "-al"])
        .arg(&gpkg)
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{info}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(info.contains("Layer name: incidents"), "{info}");
    assert!(info.contains("Feature Count: 30"), "{info}");
    assert!(info.contains("Geometry: Point"), "{info}");
    assert!(info.contains("time_start: DateTime"), "{info}");
    // Back through GDAL into GeoJSON: the partner's GeoJSON export.
    let back = dir.path().join("back.geojson");
    let o = std::process::Command::new("ogr2ogr")
        .args(["-f", "GeoJSON"])
        .arg(&back)
        .arg(&gpkg)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = features_of(&std::fs::read(&back).unwrap());
    let want = features_of(&run(&store, &args).stdout);
    assert_eq!(got.len(), want.len());
    let by_id = |fs: &[Value]| {
        let mut m = std::collections::BTreeMap::new();
        for f in fs {
            let id = f["properties"]["id"]
                .as_str()
                .or(f["id"].as_str())
                .unwrap()
                .to_string();
            m.insert(id, f.clone());
        }
        m
    };
    let (got, want) = (by_id(&got), by_id(&want));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (id, w) in &want {
        let g = &got[id];
        assert_eq!(g["geometry"], w["geometry"], "{id}");
        for (k, v) in w["properties"].as_object().unwrap() {
            let gv = &g["properties"][k];
            match v {
                // GDAL writes DateTime in its own form: same instant.
                Value::String(s) if s.ends_with('Z') && s.len() >= 20 => {
                    let a = chrono::DateTime::parse_from_rfc3339(s).unwrap();
                    let b = chrono::DateTime::parse_from_rfc3339(gv.as_str().unwrap()).unwrap();
                    assert_eq!(a, b, "{id}.{k}");
                }
                Value::Object(_) | Value::Array(_) => {
                    assert_eq!(
                        gv.as_str()
                            .map(|t| serde_json::from_str::<Value>(t).unwrap())
                            .as_ref(),
                        Some(v),
                        "{id}.{k}"
                    )
                }
                _ => assert_eq!(gv, v, "{id}.{k}"),
            }
        }
    }
    // Without --output: a clear error, no file.
    let o = run(&store, &["export", "incidents", "--format", "gpkg"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--output"), "{}", stderr(&o));
}

/// Every product as a GeoPackage: GDAL reads one table named after the
/// analysis, with the GeoJSON product's features and its parameters as the
/// description; a partner's holds no canary byte.
#[test]
#[cfg_attr(
    not(jointmap_ogrinfo),
    ignore = "ogrinfo is not installed (apt-get install gdal-bin)"
)]
fn products_as_geopackages_are_their_features_for_gdal() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("s.gpkg");
    let o = run(&store, &["demo", "--incidents", "2000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let file = write_fc(dir.path(), "i.geojson", &canary_incidents());
    let o = run(&store, &["ingest", "incidents", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    for (name, args) in [
        ("hotspots", vec!["hotspots", "--cell-km", "10"]),
        ("clusters", vec!["clusters"]),
        ("coverage", vec!["coverage"]),
        ("blindspots", vec!["blindspots"]),
        (
            "hotspots",
            vec!["hotspots", "--cell-km", "10", "--as-role", "partner"],
        ),
    ] {
        let gpkg = dir.path().join(format!("{name}.gpkg"));
        let _ = std::fs::remove_file(&gpkg);
        let o = run(
            &store,
            &[
                &args[..],
                &["--format", "gpkg", "-o", gpkg.to_str().unwrap()],
            ]
            .concat(),
        );
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let want = features_of(&run(&store, &args).stdout).len();
        let o = std::process::Command::new("ogrinfo")
            .args(["-ro", "-so", "-al"])
            .arg(&gpkg)
            .output()
            .unwrap();
        let info = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{info}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(info.contains(&format!("Layer name: {name}")), "{info}");
        assert!(
            info.contains(&format!("Feature Count: {want}")),
            "{args:?}: {info}"
        );
        let bytes = std::fs::read(&gpkg).unwrap();
        let description = b"\"analysis\":\"";
        assert!(bytes.windows(description.len()).any(|w| w == description));
        if args.contains(&"partner") {
            assert!(!bytes.windows(6).any(|w| w == b"CANARY"), "{args:?}");
        }
    }
}

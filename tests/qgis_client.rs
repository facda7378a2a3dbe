//! QGIS as a real client, driven headless through its Python API
//! (`tools/qgis_read.py`, Debian's QGIS 3.22 for /usr/bin/python3): it opens
//! the store file with its OGR provider, an OGC API - Features collection
//! with a bearer token with its OAPIF provider, and the XYZ raster tiles
//! with its wms provider, and what it reads is compared with what the
//! server gives each role. build.rs detects QGIS (cfg `jointmap_qgis`);
//! without it the tests are ignored with the reason.

mod common;
mod server_common;

use serde_json::Value;
use server_common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

fn setup() -> (TempDir, PathBuf, Server) {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("demo.gpkg");
    cli(&store, &["demo", "--incidents", "300"]);
    let cfg = config(dir.path(), &store, "");
    let s = Server::start(&cfg);
    (dir, store, s)
}

/// Runs tools/qgis_read.py with `args`; its JSON answer.
fn qgis(args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/qgis_read.py");
    let o = Command::new("/usr/bin/python3")
        .arg(script)
        .args(args)
        .env("QT_QPA_PLATFORM", "offscreen")
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "qgis_read.py {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// Every feature of `collection` the role is given, walked page by page:
/// the ids (sorted) and the properties any of them carries, and those of
/// the first page of 10.
fn served(
    s: &Server,
    token: &str,
    collection: &str,
) -> (Vec<String>, BTreeSet<String>, BTreeSet<String>) {
    let doc = s.json(
        &format!("/collections/{collection}/items?limit=10000"),
        token,
    );
    let features = doc["features"].as_array().unwrap();
    let mut ids: Vec<String> = features
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    let keys = |fs: &[Value]| -> BTreeSet<String> {
        fs.iter()
            .flat_map(|f| f["properties"].as_object().unwrap().keys().cloned())
            .chain(std::iter::once("id".to_string()))
            .collect()
    };
    let first = keys(&features[..features.len().min(10)]);
    (ids, keys(features), first)
}

#[test]
#[cfg_attr(
    not(jointmap_qgis),
    ignore = "QGIS is not installed (apt-get install --no-install-recommends python3-qgis qgis-providers)"
)]
fn qgis_opens_the_store_file() {
    let (_dir, store, s) = setup();
    let layers = ["incidents", "sightings", "patrols", "bases", "sites"];
    let mut args = vec!["gpkg", store.to_str().unwrap()];
    args.extend(layers);
    let v = qgis(&args);
    // The store's own count of each layer.
    let listed = String::from_utf8_lossy(&cli(&store, &["layers"]).stdout).into_owned();
    for layer in layers {
        let got = &v["layers"][layer];
        assert_eq!(got["valid"], true, "{layer}: {got}");
        let count = listed
            .lines()
            .find_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some(layer)).then(|| w.next().unwrap().parse::<u64>().unwrap())
            })
            .unwrap();
        assert!(count > 0, "{layer}");
        assert_eq!(got["count"], count, "{layer}");
        assert_eq!(got["feature_count"], count, "{layer}");
        let fields: BTreeSet<String> = strings(&got["fields"]).into_iter().collect();
        // Every column hr is served is a column QGIS reads from the file.
        if let Ok(schema) =
            std::panic::catch_unwind(|| s.json(&format!("/collections/{layer}/schema"), HR))
        {
            for k in schema["properties"].as_object().unwrap().keys() {
                if k != "geometry" {
                    assert!(fields.contains(k), "{layer}: {k} not in {fields:?}");
                }
            }
        }
    }
    // hr sees every incident and site: the same ids as QGIS reads.
    for layer in ["incidents", "sites"] {
        let (ids, _, _) = served(&s, HR, layer);
        assert_eq!(strings(&v["layers"][layer]["ids"]), ids, "{layer}");
    }
}

#[test]
#[cfg_attr(
    not(jointmap_qgis),
    ignore = "QGIS is not installed (apt-get install --no-install-recommends python3-qgis qgis-providers)"
)]
fn qgis_reads_oapif_collections_as_the_role_sees_them() {
    let (_dir, _store, s) = setup();
    for (role, token, collection) in [
        ("hr", HR, "incidents"),
        ("hr", HR, "sites"),
        ("partner", PARTNER, "sites"),
        ("partner", PARTNER, "bases"),
        ("military", MIL, "incidents"),
        ("military", MIL, "sightings"),
    ] {
        let v = qgis(&["oapif", &s.base, token, collection]);
        assert_eq!(v["valid"], true, "{role} {collection}: {v}");
        let (ids, all, first) = served(&s, token, collection);
        assert!(!ids.is_empty(), "{role} {collection}");
        // Every feature, paging through `next` links.
        assert_eq!(strings(&v["ids"]), ids, "{role} {collection}");
        assert_eq!(v["count"], ids.len(), "{role} {collection}");
        // QGIS 3.22 takes the columns from the first page (it reads neither
        // /queryables nor /schema): at least those, and never one the role
        // is not served.
        let fields: BTreeSet<String> = strings(&v["fields"]).into_iter().collect();
        assert!(
            fields.is_subset(&all),
            "{role} {collection}: {fields:?} vs {all:?}"
        );
        assert!(
            first.is_subset(&fields),
            "{role} {collection}: {first:?} vs {fields:?}"
        );
        if role != "hr" {
            for hidden in ["narrative", "source_name", "killed_men"] {
                assert!(!fields.contains(hidden), "{role} {collection}: {hidden}");
            }
        }
    }
    // Without a token the server answers 401 and QGIS has no layer.
    let v = qgis(&["oapif", &s.base, "-", "sites"]);
    assert_eq!(v["valid"], false, "{v}");
    // A partner has no individual incidents to read.
    let v = qgis(&["oapif", &s.base, PARTNER, "incidents"]);
    let (ids, _, _) = served(&s, PARTNER, "incidents");
    assert_eq!(v["count"].as_u64().unwrap_or(0), ids.len() as u64, "{v}");
}

#[test]
#[cfg_attr(
    not(jointmap_qgis),
    ignore = "QGIS is not installed (apt-get install --no-install-recommends python3-qgis qgis-providers)"
)]
fn qgis_draws_the_xyz_tiles_the_server_draws() {
    let (_dir, _store, s) = setup();
    // Tiles over the demo mission (western CAR) at three zooms; the
    // partner's incident tile shows what a partner is given of 300 demo
    // incidents, and is drawn for it after hr's (no cached tile shared).
    for (role, token, layer, z, x, y, blank) in [
        ("hr", HR, "incidents", "7", "70", "61", false),
        ("hr", HR, "incidents", "5", "17", "15", false),
        ("partner", PARTNER, "incidents", "7", "70", "61", true),
        ("partner", PARTNER, "sites", "8", "140", "123", false),
    ] {
        let v = qgis(&["xyz", &s.base, token, layer, z, x, y]);
        assert_eq!(v["valid"], true, "{role} {layer}: {v}");
        assert_eq!((&v["width"], &v["height"]), (&256.into(), &256.into()));
        // QGIS's rendering of the tile's extent is the server's tile, pixel
        // for pixel.
        assert_eq!(v["differ"], 0, "{role} {layer} {z}/{x}/{y}: {v}");
        assert_eq!(v["opaque"] == 0, blank, "{role} {layer}: {v}");
        assert_eq!(v["opaque"], v["direct_opaque"], "{role} {layer}: {v}");
    }
}

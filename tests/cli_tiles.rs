//! Offline packages: `jointmap render-tiles` (a tile tree on disk) and
//! `jointmap export-mbtiles` (MBTiles 1.3), on a small seeded demo store.
//!
//! A partner's package is attacked with a canary incident (unique id,
//! narrative and village code): no byte of the package or of any tile may
//! carry it, and every tile must equal the tile the server gives a partner
//! token. hr, who sees the canary, is the positive control.
//!
//! The analysis overlays and the joint map: each package is the server's
//! tiles for the same role and recorded parameters, and hr-only canaries
//! (consent `none`) change nothing in a partner's package.

mod common;
mod server_common;

use common::{run, stderr};
use serde_json::json;
use server_common::{config, Server, HR, PARTNER};
use std::io::Read;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

const BBOX: &str = "15,4,19,7";
const BOX: [f64; 4] = [15.0, 4.0, 19.0, 7.0];
const CANARY: &str = "CANARY-7f3a9c";

/// The tiles touching `BOX` at zoom z, counted from the tile bounds (not
/// from the command's own arithmetic).
fn expected_tiles(z: u32) -> usize {
    let n = 1u32 << z;
    let lon = |x: u32| f64::from(x) / f64::from(n) * 360.0 - 180.0;
    let lat = |y: u32| {
        let t = std::f64::consts::PI * (1.0 - 2.0 * f64::from(y) / f64::from(n));
        t.sinh().atan().to_degrees()
    };
    let mut c = 0;
    for x in 0..n {
        for y in 0..n {
            let (w, e, north, s) = (lon(x), lon(x + 1), lat(y), lat(y + 1));
            if w < BOX[2] && e > BOX[0] && s < BOX[3] && north > BOX[1] {
                c += 1;
            }
        }
    }
    c
}

/// A demo store of 400 incidents with one canary incident inside the box.
fn store(dir: &Path) -> PathBuf {
    store_of(dir, 400)
}

/// The demo mission with `incidents` incidents, and the canary.
fn store_of(dir: &Path, incidents: u32) -> PathBuf {
    let store = dir.join("demo.gpkg");
    let n = incidents.to_string();
    let o = run(&store, &["demo", "--incidents", &n]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut f = common::incident(0);
    f["id"] = json!(format!("{CANARY}-id"));
    f["geometry"]["coordinates"] = json!([17.123_457, 5.654_321]);
    let p = &mut f["properties"];
    p["time_start"] = json!("2025-03-10T08:00:00Z");
    p["narrative"] = json!(format!("{CANARY}-narrative"));
    p["village_code"] = json!(format!("{CANARY}-village"));
    p.as_object_mut().unwrap().remove("nested");
    let file = common::write_fc(dir, "canary.geojson", &[f]);
    let o = run(&store, &["ingest", "incidents", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    store
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The PNG's width and height, after checking its signature and IHDR.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 33, "too short for a PNG");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// (z, x, y as XYZ, data) of every tile of a package.
fn package_tiles(path: &Path) -> Vec<(u32, u32, u32, Vec<u8>)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut s = conn
        .prepare("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles")
        .unwrap();
    let rows = s
        .query_map([], |r| {
            let z: u32 = r.get(0)?;
            let row: u32 = r.get(2)?;
            Ok((z, r.get(1)?, (1 << z) - 1 - row, r.get(3)?))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn render_tiles_writes_every_tile_of_the_box_and_refuses_absurd_requests() {
    let dir = TempDir::new().unwrap();
    let store = store(dir.path());
    let out = dir.path().join("tiles");
    let o = run(
        &store,
        &[
            "render-tiles",
            "--layer",
            "incidents",
            "--bbox",
            BBOX,
            "--zoom",
            "5-8",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let all = files(&out.join("incidents"));
    let want: usize = (5..=8).map(expected_tiles).sum();
    assert_eq!(all.len(), want);
    for z in 5..=8u32 {
        let n = files(&out.join("incidents").join(z.to_string())).len();
        assert_eq!(n, expected_tiles(z), "zoom {z}");
    }
    for f in &all {
        assert_eq!(f.extension().unwrap(), "png", "{}", f.display());
        assert_eq!(
            png_size(&std::fs::read(f).unwrap()),
            (256, 256),
            "{}",
            f.display()
        );
    }
    // @2x tiles, as the server names them.
    let o = run(
        &store,
        &[
            "render-tiles",
            "--layer",
            "heat",
            "--bbox",
            BBOX,
            "--zoom",
            "6",
            "--format",
            "png2x",
            "--as-role",
            "partner",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let heat = files(&out.join("heat"));
    assert_eq!(heat.len(), expected_tiles(6));
    for f in &heat {
        assert!(f.to_str().unwrap().ends_with("@2x.png"));
        assert_eq!(png_size(&std::fs::read(f).unwrap()), (512, 512));
    }

    // Refused before anything is drawn, as bad input (exit code 2).
    let bad = dir.path().join("bad");
    for (what, args) in [
        ("zoom above 18", vec!["--bbox", BBOX, "--zoom", "5-19"]),
        ("empty zoom range", vec!["--bbox", BBOX, "--zoom", "9-5"]),
        ("negative zoom", vec!["--bbox", BBOX, "--zoom", "-1"]),
        ("too many tiles", vec!["--bbox", BBOX, "--zoom", "0-18"]),
        (
            "whole world at z12",
            vec!["--bbox", "-180,-85,180,85", "--zoom", "12"],
        ),
        ("reversed box", vec!["--bbox", "19,4,15,7", "--zoom", "5"]),
        ("empty box", vec!["--bbox", "15,7,19,4", "--zoom", "5"]),
        (
            "latitude out of range",
            vec!["--bbox", "15,4,19,95", "--zoom", "5"],
        ),
        ("not a number", vec!["--bbox", "15,4,19,NaN", "--zoom", "5"]),
    ] {
        let mut a = vec![
            "render-tiles",
            "--layer",
            "incidents",
            "--out",
            bad.to_str().unwrap(),
        ];
        a.extend(args);
        let o = run(&store, &a);
        assert_eq!(o.status.code(), Some(2), "{what}: {}", stderr(&o));
        assert!(!bad.exists(), "{what}: wrote tiles");
    }
    for (what, args) in [
        (
            "heat has no vector tiles",
            vec!["--layer", "heat", "--format", "mvt"],
        ),
        ("an unknown layer", vec!["--layer", "danger"]),
        (
            "a role without patrols",
            vec!["--layer", "patrols", "--as-role", "partner"],
        ),
    ] {
        let mut a = vec![
            "render-tiles",
            "--bbox",
            BBOX,
            "--zoom",
            "5",
            "--out",
            bad.to_str().unwrap(),
        ];
        a.extend(args);
        let o = run(&store, &a);
        assert!(!o.status.success(), "{what}");
        assert!(!bad.exists(), "{what}: wrote tiles");
    }
}

#[test]
fn a_partner_package_has_no_canary_and_equals_the_servers_tiles() {
    let dir = TempDir::new().unwrap();
    // Enough incidents for whole released groups of k: a partner's tiles
    // must show cells, not only be free of the canary.
    let store = store_of(dir.path(), 3000);
    let export = |role: &str, format: &str, name: &str| {
        let path = dir.path().join(name);
        let o = run(
            &store,
            &[
                "export-mbtiles",
                "--layer",
                "incidents",
                "--bbox",
                BBOX,
                "--zoom",
                "5-9",
                "--as-role",
                role,
                "--format",
                format,
                "-o",
                path.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        path
    };
    let want: usize = (5..=9).map(expected_tiles).sum();
    // Positive control: hr sees the canary's id and narrative in a tile.
    let hr = export("hr", "mvt", "hr.mbtiles");
    let hr_tiles = package_tiles(&hr);
    assert_eq!(hr_tiles.len(), want);
    assert!(hr_tiles.iter().any(|t| contains(&gunzip(&t.3), CANARY)));

    let partner = export("partner", "mvt", "partner.mbtiles");
    assert!(!contains(&std::fs::read(&partner).unwrap(), CANARY));
    let tiles = package_tiles(&partner);
    assert_eq!(tiles.len(), want);
    let mut drawn = 0;
    for (_, _, _, data) in &tiles {
        let mvt = gunzip(data);
        assert!(!contains(&mvt, CANARY));
        drawn += common::mvt::decode(&mvt)
            .values()
            .map(Vec::len)
            .sum::<usize>();
    }
    assert!(drawn > 0, "the partner's package shows released cells");

    // Every tile is the one the server gives a partner token.
    let cfg = config(dir.path(), &store, "");
    let server = Server::start(&cfg);
    for (z, x, y, data) in &tiles {
        let r = server.get(&format!("/tiles/incidents/{z}/{x}/{y}.mvt"), Some(PARTNER));
        assert_eq!(r.status, 200, "{z}/{x}/{y}");
        assert_eq!(r.body, gunzip(data), "{z}/{x}/{y}");
    }
    let png = export("partner", "png", "partner-png.mbtiles");
    for (z, x, y, data) in package_tiles(&png) {
        let r = server.get(&format!("/tiles/incidents/{z}/{x}/{y}.png"), Some(PARTNER));
        assert_eq!(r.status, 200, "{z}/{x}/{y}");
        assert_eq!(r.body, data, "{z}/{x}/{y}.png");
        assert!(!contains(&data, CANARY));
    }
}

/// The TMS row flip: each package tile, read by SQL, is the disk tile of
/// the same z/x/y; and the package's metadata.
#[test]
fn package_rows_are_flipped_to_tms() {
    let dir = TempDir::new().unwrap();
    let store = store(dir.path());
    let pkg = dir.path().join("p.mbtiles");
    let out = dir.path().join("tiles");
    for cmd in ["export-mbtiles", "render-tiles"] {
        let target = if cmd == "render-tiles" { &out } else { &pkg };
        let flag = if cmd == "render-tiles" { "--out" } else { "-o" };
        let o = run(
            &store,
            &[
                cmd,
                "--layer",
                "incidents",
                "--bbox",
                BBOX,
                "--zoom",
                "6-7",
                "--as-role",
                "jmac",
                flag,
                target.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let tiles = package_tiles(&pkg);
    assert_eq!(tiles.len(), expected_tiles(6) + expected_tiles(7));
    let mut asymmetric = 0;
    for (z, x, y, data) in &tiles {
        let disk = std::fs::read(out.join(format!("incidents/{z}/{x}/{y}.png"))).unwrap();
        assert_eq!(&disk, data, "{z}/{x}/{y}");
        asymmetric += usize::from(y * 2 + 1 != 1 << z);
    }
    assert!(asymmetric > 0);
    let conn = rusqlite::Connection::open(&pkg).unwrap();
    let meta = |k: &str| -> String {
        conn.query_row("SELECT value FROM metadata WHERE name = ?1", [k], |r| {
            r.get(0)
        })
        .unwrap()
    };
    assert_eq!(meta("format"), "png");
    assert_eq!(meta("bounds"), "15,4,19,7");
    assert_eq!(meta("minzoom"), "6");
    assert_eq!(meta("maxzoom"), "7");
    assert_eq!(meta("version"), "1.3");
    assert_eq!(meta("center"), "17,5.5,6");
    // No temporary file is left beside the package.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains("partial")), "{names:?}");
}

/// A failed export leaves the previous package as it was.
#[test]
fn a_refused_export_keeps_the_previous_package() {
    let dir = TempDir::new().unwrap();
    let store = store(dir.path());
    let pkg = dir.path().join("p.mbtiles");
    std::fs::write(&pkg, b"previous").unwrap();
    let o = run(
        &store,
        &[
            "export-mbtiles",
            "--layer",
            "patrols",
            "--bbox",
            BBOX,
            "--zoom",
            "5",
            "--as-role",
            "partner",
            "-o",
            pkg.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    assert_eq!(std::fs::read(&pkg).unwrap(), b"previous");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        3,
        "store, canary, package"
    );
}

#[test]
#[cfg_attr(
    not(jointmap_ogrinfo),
    ignore = "gdalinfo/ogrinfo are missing (apt-get install gdal-bin)"
)]
fn gdal_opens_the_packages() {
    let dir = TempDir::new().unwrap();
    let store = store(dir.path());
    for format in ["png", "mvt"] {
        let pkg = dir.path().join(format!("{format}.mbtiles"));
        let o = run(
            &store,
            &[
                "export-mbtiles",
                "--layer",
                "incidents",
                "--bbox",
                BBOX,
                "--zoom",
                "5-8",
                "--format",
                format,
                "--from",
                "2024-06-01",
                "--to",
                "2025-06-30",
                "-o",
                pkg.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let tool = if format == "png" {
            "gdalinfo"
        } else {
            "ogrinfo"
        };
        let mut cmd = std::process::Command::new(tool);
        if format == "mvt" {
            cmd.args(["-ro", "-so", "-al"]);
        }
        let o = cmd.arg(&pkg).output().unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{tool}: {}", stderr(&o));
        assert!(text.contains("MBTiles") || format == "mvt", "{text}");
        assert!(text.contains("minzoom=5"), "{text}");
        assert!(text.contains("maxzoom=8"), "{text}");
        assert!(text.contains("bounds=15,4,19,7"), "{text}");
        // The time window, as the tile endpoints' query, among the metadata.
        assert!(
            text.contains("filter=from=2024-06-01T00%3A00%3A00Z&to=2025-06-30T23%3A59%3A59.999Z"),
            "{text}"
        );
        if format == "png" {
            assert!(text.contains("Driver: MBTiles/MBTiles"), "{text}");
            assert!(text.contains("ZOOM_LEVEL=8"), "{text}");
        } else {
            assert!(text.contains("Layer name: incidents"), "{text}");
        }
    }
}

/// The value of a package's metadata row, if it has one.
fn meta_row(pkg: &Path, name: &str) -> Option<String> {
    let conn = rusqlite::Connection::open(pkg).unwrap();
    conn.query_row("SELECT value FROM metadata WHERE name = ?1", [name], |r| {
        r.get(0)
    })
    .ok()
}

/// The time window and filters of the tile endpoints: a package drawn with
/// a window that leaves the canary out has no byte of it (as hr and as the
/// operator, who would see it otherwise), one whose window holds it does;
/// the window is recorded in the metadata, and a partner's filtered tiles
/// are the server's for the same query.
#[test]
fn a_time_window_leaves_out_what_is_outside_it_and_is_recorded() {
    let dir = TempDir::new().unwrap();
    let store = store(dir.path());
    // A partner sees released cells only where k events share a cell and a
    // quarter: a larger demo store of its own, without the canary.
    let busy = dir.path().join("busy.gpkg");
    let o = run(&busy, &["demo", "--incidents", "3000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let export_from =
        |store: &Path, name: &str, extra: &[&str]| -> (std::process::Output, PathBuf) {
            let path = dir.path().join(name);
            let mut args = vec![
                "export-mbtiles",
                "--layer",
                "incidents",
                "--bbox",
                BBOX,
                "--zoom",
                "6-9",
                "--format",
                "mvt",
                "-o",
                path.to_str().unwrap(),
            ];
            args.extend(extra);
            (run(store, &args), path)
        };
    let export = |name: &str, extra: &[&str]| export_from(&store, name, extra);
    let has_canary = |pkg: &Path| {
        package_tiles(pkg)
            .iter()
            .any(|t| contains(&gunzip(&t.3), CANARY))
    };
    // The canary is dated 2025-03-10T08:00Z.
    let after = ["--from", "2025-03-11"];
    let before = ["--to", "2025-03-09"];
    let around = ["--from", "2025-03-10", "--to", "2025-03-10"];
    for role in [None, Some("hr")] {
        let with_role = |w: &[&'static str]| -> Vec<&'static str> {
            let mut v = w.to_vec();
            if let Some(r) = role {
                v.extend(["--as-role", r]);
            }
            v
        };
        for (window, kept) in [
            (&after[..], false),
            (&before[..], false),
            (&around[..], true),
        ] {
            let name = format!("{}-{}.mbtiles", role.unwrap_or("op"), window.join("_"));
            let (o, pkg) = export(&name, &with_role(window));
            assert!(o.status.success(), "{}", stderr(&o));
            assert_eq!(has_canary(&pkg), kept, "{role:?} {window:?}");
        }
        // Without a window: the canary is there, and no filter row.
        let (o, pkg) = export(
            &format!("{}-all.mbtiles", role.unwrap_or("op")),
            &with_role(&[]),
        );
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(has_canary(&pkg), "{role:?}");
        assert_eq!(meta_row(&pkg, "filter"), None);
    }
    // Recorded as the tile endpoints' query string, and in the description;
    // each role's filtered tiles are the server's for the same query, and
    // differ from its unfiltered ones (the filter reached the gate).
    // The demo spans 2024 and 2025: a partner's window leaves out 2025
    // (released groups are whole quarters), hr's its last months.
    for (role, token, store, args, query) in [
        (
            "partner",
            PARTNER,
            busy.as_path(),
            vec!["--to", "2024-12-31"],
            "to=2024-12-31T23%3A59%3A59.999Z",
        ),
        (
            "hr",
            HR,
            store.as_path(),
            vec!["--to", "2025-03-09", "--category", "killing,abduction"],
            "to=2025-03-09T23%3A59%3A59.999Z&category=killing%2Cabduction",
        ),
    ] {
        let mut args = args;
        args.extend(["--as-role", role]);
        let (o, pkg) = export_from(store, &format!("recorded-{role}.mbtiles"), &args);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(meta_row(&pkg, "filter").as_deref(), Some(query));
        let description = meta_row(&pkg, "description").unwrap();
        assert!(
            description.contains(&format!("filtered by {query}")),
            "{description}"
        );
        let tiles = package_tiles(&pkg);
        let cfg = config(dir.path(), store, "");
        let server = Server::start(&cfg);
        let mut drawn = 0;
        for (z, x, y, data) in &tiles {
            let r = server.get(
                &format!("/tiles/incidents/{z}/{x}/{y}.mvt?{query}"),
                Some(token),
            );
            assert_eq!(r.status, 200, "{role} {z}/{x}/{y}");
            assert_eq!(r.body, gunzip(data), "{role} {z}/{x}/{y}");
            drawn += usize::from(!r.body.is_empty());
        }
        assert!(drawn > 0, "{role}: the filtered package shows something");
        let (o, all) = export_from(store, &format!("all-{role}.mbtiles"), &["--as-role", role]);
        assert!(o.status.success(), "{}", stderr(&o));
        let differ = package_tiles(&all)
            .iter()
            .zip(&tiles)
            .filter(|(a, b)| a != b)
            .count();
        assert!(differ > 0, "{role}: the filter changed no tile");
    }

    // Bad filters are refused before anything is written, as bad input.
    for (what, args) in [
        (
            "window ends before it starts",
            vec!["--from", "2025-03-10", "--to", "2025-03-01"],
        ),
        ("unknown verification", vec!["--min-verification", "rumour"]),
        ("unknown category", vec!["--category", "not-a-category"]),
        ("not a time", vec!["--from", "yesterday"]),
        (
            "a filter the gate refuses a partner",
            vec!["--category", "killing", "--as-role", "partner"],
        ),
        (
            "a category filter on bases",
            vec!["--layer", "bases", "--category", "killing"],
        ),
    ] {
        let pkg = dir.path().join("refused.mbtiles");
        let mut a = vec![
            "export-mbtiles",
            "--bbox",
            BBOX,
            "--zoom",
            "8",
            "-o",
            pkg.to_str().unwrap(),
        ];
        if !args.contains(&"--layer") {
            a.extend(["--layer", "incidents"]);
        }
        a.extend(args);
        let o = run(&store, &a);
        assert_eq!(o.status.code(), Some(2), "{what}: {}", stderr(&o));
        assert!(!pkg.exists(), "{what}: wrote a package");
    }
}

/// `n` incidents with consent `none` (counted for hr only, in no other
/// role's aggregate) clustered at one village in the demo's time span:
/// they would raise a hot spot and a released group if they leaked.
fn hr_only_canaries(n: usize) -> Vec<serde_json::Value> {
    (0..n)
        .map(|i| {
            let mut f = common::incident(i);
            f["id"] = json!(format!("{CANARY}-hr-{i}"));
            let d = i as f64 * 1e-3;
            f["geometry"]["coordinates"] = json!([16.31 + d, 6.42 - d]);
            let p = &mut f["properties"];
            p["time_start"] = json!(format!("2025-02-{:02}T08:00:00Z", 3 + i % 20));
            p["category"] = json!("killing");
            p["consent"] = json!("none");
            p["classification"] = json!("strictly-confidential");
            p["perpetrator"] = json!(format!("{CANARY}-perp"));
            p["narrative"] = json!(format!("{CANARY}-narrative"));
            p["village_code"] = json!(format!("{CANARY}-village"));
            p.as_object_mut().unwrap().remove("nested");
            f
        })
        .collect()
}

/// Overlay and joint packages: every tile is the server's tile for the
/// same role and the parameters the package records (in its `filter`
/// row); hr's joint package shows the planted hr-only canaries (positive
/// control) and hr's hot spots move with them; a partner's packages hold
/// no byte of them and equal, tile for tile, those of the same store
/// without them.
#[test]
fn overlay_and_joint_packages_are_the_servers_tiles_without_canaries() {
    let dir = TempDir::new().unwrap();
    let clean = dir.path().join("clean.gpkg");
    let o = run(&clean, &["demo", "--incidents", "3000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let store = dir.path().join("store.gpkg");
    let o = run(&store, &["demo", "--incidents", "3000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let file = common::write_fc(dir.path(), "hr-only.geojson", &hr_only_canaries(30));
    let o = run(&store, &["ingest", "incidents", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cfg = config(dir.path(), &store, "");
    let server = Server::start(&cfg);
    // z9 draws hr's incidents one by one (below it, counts per screen cell).
    let zooms = "5-9";
    let want: usize = (5..=9).map(expected_tiles).sum();

    let export =
        |store: &Path, name: &str, layer: &str, role: &str, format: &str, extra: &[&str]| {
            let path = dir.path().join(name);
            let mut args = vec![
                "export-mbtiles",
                "--layer",
                layer,
                "--bbox",
                BBOX,
                "--zoom",
                zooms,
                "--as-role",
                role,
                "--config",
                cfg.to_str().unwrap(),
                "--format",
                format,
                "-o",
                path.to_str().unwrap(),
            ];
            args.extend(extra);
            let o = run(store, &args);
            assert!(o.status.success(), "{name}: {}", stderr(&o));
            path
        };
    let hot = ["--cell-km", "10", "--permutations", "0"];
    let cases: [(&str, &str, &[&str], &str); 5] = [
        ("hotspots", "mvt", &hot, "cell-km=10&permutations=0"),
        ("hotspots", "png", &hot, "cell-km=10&permutations=0"),
        (
            "blindspots",
            "mvt",
            &[
                "--cell-km",
                "10",
                "--min-risk",
                "low",
                "--max-presence",
                "0.9",
            ],
            "cell-km=10&min-risk=low&max-presence=0.9",
        ),
        (
            "joint",
            "mvt",
            &["--from", "2024-01-01"],
            "from=2024-01-01T00%3A00%3A00Z",
        ),
        ("joint", "png", &["--surface", "heat"], "surface=heat"),
    ];
    let mut hr_canary = false;
    let mut hr_moved = false;
    for (role, token) in [("hr", HR), ("partner", PARTNER)] {
        for (layer, format, extra, query) in cases {
            let name = format!("{role}-{layer}-{format}-{}.mbtiles", extra.len());
            let pkg = export(&store, &name, layer, role, format, extra);
            assert_eq!(meta_row(&pkg, "filter").as_deref(), Some(query), "{name}");
            let stored = if format == "mvt" { "pbf" } else { "png" };
            assert_eq!(meta_row(&pkg, "format").as_deref(), Some(stored), "{name}");
            let tiles = package_tiles(&pkg);
            assert_eq!(tiles.len(), want, "{name}");
            let mut drawn = 0;
            for (z, x, y, data) in &tiles {
                let data = if format == "mvt" {
                    gunzip(data)
                } else {
                    data.clone()
                };
                let r = server.get(
                    &format!("/tiles/{layer}/{z}/{x}/{y}.{format}?{query}"),
                    Some(token),
                );
                assert_eq!(r.status, 200, "{name} {z}/{x}/{y}: {}", r.text());
                assert_eq!(r.body, data, "{name} {z}/{x}/{y}");
                drawn += if format == "mvt" {
                    common::mvt::decode(&data)
                        .values()
                        .map(Vec::len)
                        .sum::<usize>()
                } else {
                    usize::from(data.len() > 1000)
                };
                if role == "hr" && contains(&data, CANARY) {
                    hr_canary = true;
                }
            }
            assert!(drawn > 0, "{name}: the package shows nothing");
            if role == "hr" && layer != "hotspots" {
                continue;
            }
            let without = export(&clean, &format!("clean-{name}"), layer, role, format, extra);
            let same = package_tiles(&without) == tiles;
            if role == "partner" {
                let bytes = std::fs::read(&pkg).unwrap();
                assert!(!contains(&bytes, CANARY), "{name}");
                for (_, _, _, data) in &tiles {
                    let data = if format == "mvt" {
                        gunzip(data)
                    } else {
                        data.clone()
                    };
                    assert!(!contains(&data, CANARY), "{name}");
                }
                assert!(same, "{name}: the hr-only records changed a partner's tile");
            } else if layer == "hotspots" && !same {
                hr_moved = true;
            }
        }
    }
    assert!(hr_canary, "hr's joint tiles show the hr-only incidents");
    assert!(hr_moved, "hr's hot spots count the hr-only incidents");
}

/// An overlay's parameters are the server's: one a layer does not take,
/// a value out of its domain, a store layer given analysis parameters,
/// a joint map given a filter it does not take: each refused before
/// anything is written, as bad input, naming the parameter.
#[test]
fn bad_layer_and_parameter_combinations_are_named() {
    let dir = TempDir::new().unwrap();
    let store = store(dir.path());
    let pkg = dir.path().join("refused.mbtiles");
    for (layer, args, named) in [
        ("incidents", vec!["--cell-km", "10"], "--cell-km"),
        ("heat", vec!["--surface", "heat"], "--surface"),
        ("hotspots", vec!["--min-risk", "high"], "--min-risk"),
        ("hotspots", vec!["--cell-km", "abc"], "cell-km"),
        ("hotspots", vec!["--cell-km", "1e9"], "cell-km"),
        (
            "presence",
            vec!["--event-layer", "sightings"],
            "--event-layer",
        ),
        ("blindspots", vec!["--surface", "heat"], "--surface"),
        ("joint", vec!["--surface", "lava"], "--surface"),
        ("joint", vec!["--category", "killing"], "--category"),
        ("joint", vec!["--cell-km", "10"], "--cell-km"),
        ("risk", vec!["--max-presence", "nope"], "max-presence"),
    ] {
        let mut a = vec![
            "export-mbtiles",
            "--layer",
            layer,
            "--bbox",
            BBOX,
            "--zoom",
            "6",
            "-o",
            pkg.to_str().unwrap(),
        ];
        a.extend(&args);
        let o = run(&store, &a);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{layer} {args:?}: {err}");
        assert!(err.contains(named), "{layer} {args:?}: {err}");
        assert!(!pkg.exists(), "{layer} {args:?}: wrote a package");
    }
}

//! OGC API - Features Part 2 (CRS by reference): items and single features
//! in EPSG:4326, Web Mercator and UTM, checked against PROJ through GDAL's
//! `gdaltransform`; `bbox-crs` selects what the same box in CRS84 selects;
//! a CRS not served is a 400 naming it.

mod server_common;

use serde_json::Value;
use server_common::{cli, config, enc, walk, Server, HR};
use tempfile::TempDir;

const EPSG: &str = "http://www.opengis.net/def/crs/EPSG/0/";

fn demo(dir: &std::path::Path) -> std::path::PathBuf {
    let store = dir.join("s.gpkg");
    let o = cli(&store, &["demo", "--incidents", "400"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    store
}

fn points(doc: &Value) -> Vec<(String, [f64; 2])> {
    doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let c = &f["geometry"]["coordinates"];
            (
                f["id"].as_str().unwrap().to_string(),
                [c[0].as_f64().unwrap(), c[1].as_f64().unwrap()],
            )
        })
        .collect()
}

/// PROJ's answer for CRS84 positions (`gdaltransform` reads and writes
/// longitude first for EPSG:4326 by default, and easting first for UTM).
fn proj(to: &str, pts: &[[f64; 2]]) -> Vec<[f64; 2]> {
    use std::io::Write;
    let mut child = std::process::Command::new("gdaltransform")
        .args(["-s_srs", "EPSG:4326", "-t_srs", to])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gdaltransform");
    {
        let mut input = child.stdin.take().unwrap();
        for p in pts {
            writeln!(input, "{:.10} {:.10}", p[0], p[1]).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let n: Vec<f64> = l.split_whitespace().map(|x| x.parse().unwrap()).collect();
            [n[0], n[1]]
        })
        .collect()
}

#[test]
#[cfg_attr(
    not(jointmap_ogrinfo),
    ignore = "gdaltransform is not installed (apt-get install gdal-bin)"
)]
fn items_in_another_crs_are_where_proj_puts_them() {
    let dir = TempDir::new().unwrap();
    let store = demo(dir.path());
    let server = Server::start(&config(dir.path(), &store, ""));
    let base = "/collections/incidents/items?limit=200";
    let plain = points(&server.json(base, HR));
    assert!(plain.len() >= 100);
    let lonlat: Vec<[f64; 2]> = plain.iter().map(|(_, p)| *p).collect();
    let coll = server.json("/collections/incidents", HR);
    let listed: Vec<&str> = coll["crs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(listed[0], "http://www.opengis.net/def/crs/OGC/1.3/CRS84");
    assert_eq!(coll["storageCrs"], listed[0]);
    // The demo mission lies in western and central CAR: UTM zones 33 and 34 north.
    for zone in ["32633", "32634"] {
        assert!(
            listed.contains(&format!("{EPSG}{zone}").as_str()),
            "{listed:?}"
        );
    }
    let conf = server.json("/conformance", HR);
    assert!(conf["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs"));
    for (code, tol) in [("3857", 2e-3), ("32634", 2e-3), ("32633", 2e-3)] {
        let uri = format!("{EPSG}{code}");
        let r = server.get(&format!("{base}&crs={}", enc(&uri)), Some(HR));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("content-crs"), Some(format!("<{uri}>").as_str()));
        let got = points(&r.json());
        let want = proj(&format!("EPSG:{code}"), &lonlat);
        assert_eq!(got.len(), want.len());
        for ((id, g), ((pid, _), w)) in got.iter().zip(plain.iter().zip(&want)) {
            assert_eq!(id, pid);
            assert!(
                (g[0] - w[0]).abs() < tol && (g[1] - w[1]).abs() < tol,
                "{code} {id}: {g:?} vs PROJ {w:?}"
            );
        }
    }
    // EPSG:4326: the same numbers, latitude first.
    let r = server.get(
        &format!("{base}&crs={}", enc(&format!("{EPSG}4326"))),
        Some(HR),
    );
    for ((_, g), (_, p)) in points(&r.json()).iter().zip(&plain) {
        assert!((g[0] - p[1]).abs() < 1e-7 && (g[1] - p[0]).abs() < 1e-7);
    }
    // One feature, in UTM.
    let (id, p) = &plain[0];
    let uri = format!("{EPSG}32634");
    let r = server.get(
        &format!("/collections/incidents/items/{}?crs={}", enc(id), enc(&uri)),
        Some(HR),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-crs"), Some(format!("<{uri}>").as_str()));
    let c = &r.json()["geometry"]["coordinates"];
    let w = proj("EPSG:32634", &[*p])[0];
    assert!((c[0].as_f64().unwrap() - w[0]).abs() < 2e-3);
    // Items in CRS84 say so too.
    let r = server.get(base, Some(HR));
    assert_eq!(
        r.header("content-crs"),
        Some("<http://www.opengis.net/def/crs/OGC/1.3/CRS84>")
    );
}

#[test]
fn a_box_in_another_crs_selects_what_its_crs84_cover_selects() {
    let dir = TempDir::new().unwrap();
    let store = demo(dir.path());
    let server = Server::start(&config(dir.path(), &store, ""));
    // A box around Bangui in UTM 34N, and the same box given in EPSG:4326.
    let utm = format!("{EPSG}32634");
    let in_utm = walk(
        &server,
        &format!(
            "/collections/incidents/items?limit=100&bbox=200000,450000,260000,520000&bbox-crs={}",
            enc(&utm)
        ),
        HR,
    );
    let everything = walk(&server, "/collections/incidents/items?limit=100", HR);
    assert!(!in_utm.is_empty() && in_utm.len() < everything.len());
    // Every feature selected lies in the box's CRS84 cover, and every
    // feature inside the UTM box itself is selected.
    let all = server.json("/collections/incidents/items?limit=1000", HR);
    let r = server.json(
        &format!("/collections/incidents/items?limit=1000&crs={}", enc(&utm)),
        HR,
    );
    let projected = points(&r);
    let inside: Vec<&String> = projected
        .iter()
        .filter(|(_, p)| {
            (200000.0..=260000.0).contains(&p[0]) && (450000.0..=520000.0).contains(&p[1])
        })
        .map(|(id, _)| id)
        .collect();
    assert!(!inside.is_empty());
    for id in inside {
        assert!(
            in_utm.contains(id),
            "{id} is inside the UTM box but not selected"
        );
    }
    assert_eq!(points(&all).len(), projected.len());
    let lat_first = walk(
        &server,
        &format!(
            "/collections/incidents/items?limit=100&bbox=4,18,5,19&bbox-crs={}",
            enc(&format!("{EPSG}4326"))
        ),
        HR,
    );
    let lon_first = walk(
        &server,
        "/collections/incidents/items?limit=100&bbox=18,4,19,5",
        HR,
    );
    assert_eq!(lat_first, lon_first);
}

#[test]
fn a_crs_not_served_is_a_400_naming_the_parameter() {
    let dir = TempDir::new().unwrap();
    let store = demo(dir.path());
    let server = Server::start(&config(dir.path(), &store, ""));
    for (q, param) in [
        ("crs=EPSG:2154", "crs"),
        (
            &format!("crs={}", enc(&format!("{EPSG}32661"))) as &str,
            "crs",
        ),
        ("crs=", "crs"),
        ("bbox-crs=http://example.org/x&bbox=1,2,3,4", "bbox-crs"),
        (
            &format!("bbox=1,2,0,3&bbox-crs={}", enc(&format!("{EPSG}3857"))),
            "bbox",
        ),
        (
            &format!("bbox=0,0,1e300,1&bbox-crs={}", enc(&format!("{EPSG}3857"))),
            "bbox",
        ),
        (
            &format!("bbox=0,0,nan,1&bbox-crs={}", enc(&format!("{EPSG}32634"))),
            "bbox",
        ),
        (
            &format!(
                "bbox=3e7,0,3.5e7,1e6&bbox-crs={}",
                enc(&format!("{EPSG}3857"))
            ),
            "bbox",
        ),
        ("crs=CRS84&crs=CRS84", "crs"),
    ] {
        let r = server.get(&format!("/collections/incidents/items?{q}"), Some(HR));
        r.problem(400, Some(param));
    }
    let r = server.get("/collections/incidents/items/x?crs=EPSG:9999", Some(HR));
    r.problem(400, Some("crs"));
}

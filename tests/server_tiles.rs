//! Map tiles through HTTP against the real binary: the need-to-know
//! guarantees attacked with canaries, the tile scheme, TileJSON, caching
//! headers, and GDAL reading a vector tile.
//!
//! Canaries are incidents with unique positions, ids and strings, in
//! groups smaller than k (5): for a role without full view of incidents
//! (military, jmac, partner) every tile around them must be byte-identical
//! to the same tile of a store without them, at every zoom, in every
//! format, with any time window; hr, who sees them, is the positive
//! control that shows the test can fail.

mod common;
mod server_common;

use serde_json::{json, Value};
use server_common::*;
use tempfile::TempDir;

const ANCHOR: [f64; 2] = [17.25, 5.25];
/// A town with 20 incidents in one week: a group released to every role.
const TOWN: [f64; 2] = [17.30, 5.30];
/// Four canaries, one group below k.
const FAR: [f64; 2] = [19.123_456, 6.654_321];
/// One lone canary.
const LONE: [f64; 2] = [18.432_198, 4.345_678];

const NON_FULL: [(&str, &str); 3] = [("military", MIL), ("jmac", JMAC), ("partner", PARTNER)];

fn inc(id: &str, pos: [f64; 2], time: &str) -> Value {
    let mut f = common::incident(0);
    f["id"] = json!(id);
    f["geometry"]["coordinates"] = json!(pos);
    let p = &mut f["properties"];
    p["time_start"] = json!(time);
    p["category"] = json!("killing");
    p["classification"] = json!("mission");
    p["consent"] = json!("mission");
    p.as_object_mut().unwrap().remove("village_code");
    p.as_object_mut().unwrap().remove("nested");
    f
}

fn base() -> Vec<Value> {
    (0..20)
        .map(|i| {
            let pos = [TOWN[0] + f64::from(i) * 1e-4, TOWN[1] - f64::from(i) * 1e-4];
            inc(
                &format!("town-{i:02}"),
                pos,
                &format!("2025-03-0{}T10:00:00Z", 3 + i % 7),
            )
        })
        .collect()
}

fn canaries() -> Vec<Value> {
    let mut v: Vec<Value> = (0..4)
        .map(|i| {
            let mut f = inc(
                &format!("CANARY-FAR-{i}"),
                FAR,
                &format!("2025-03-1{i}T08:00:00Z"),
            );
            f["properties"]["perpetrator"] = json!("CANARY-PERP-ALPHA");
            f["properties"]["category"] = json!("abduction");
            f
        })
        .collect();
    let mut lone = inc("CANARY-LONE", LONE, "2025-03-20T08:00:00Z");
    lone["properties"]["perpetrator"] = json!("CANARY-PERP-LONE");
    v.push(lone);
    v
}

fn presence() -> (Vec<Value>, Vec<Value>) {
    let (_, patrol, base) = common::others();
    (vec![patrol], vec![base])
}

struct Env {
    _dir: TempDir,
    server: Server,
    store: std::path::PathBuf,
}

fn env(incidents: &[Value]) -> Env {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("s.gpkg");
    let (patrols, bases) = presence();
    for (layer, feats) in [
        ("incidents", incidents.to_vec()),
        ("patrols", patrols),
        ("bases", bases),
    ] {
        let fc = common::write_fc(dir.path(), &format!("{layer}.geojson"), &feats);
        cli(&store, &["ingest", layer, fc.to_str().unwrap()]);
    }
    let access = format!(
        "[access]\ngrid_anchor = [{:?}, {:?}]\ntime_step_days = 7\n",
        ANCHOR[0], ANCHOR[1]
    );
    let cfg = config(dir.path(), &store, &access);
    let server = Server::start(&cfg);
    Env {
        _dir: dir,
        server,
        store,
    }
}

/// The XYZ tile holding lon/lat at zoom z (the OSM wiki formula).
fn tile_of(lon: f64, lat: f64, z: u32) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
    let r = lat.to_radians();
    let y =
        ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor() as u32;
    (x, y)
}

/// Tiles around a position: the one holding it at several zooms, and its
/// eight neighbours at z10 and z13 (zooming in on it, as an attacker would).
fn around(pos: [f64; 2]) -> Vec<(u32, u32, u32)> {
    let mut out = Vec::new();
    for z in [3, 6, 8, 9, 11, 14, 16] {
        let (x, y) = tile_of(pos[0], pos[1], z);
        out.push((z, x, y));
    }
    for z in [10, 13] {
        let (x, y) = tile_of(pos[0], pos[1], z);
        for dx in [-1i64, 0, 1] {
            for dy in [-1i64, 0, 1] {
                out.push((z, (i64::from(x) + dx) as u32, (i64::from(y) + dy) as u32));
            }
        }
    }
    out
}

fn get_ok(s: &Server, path: &str, token: &str) -> Resp {
    let r = s.get(path, Some(token));
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn opaque_pixels(png: &[u8]) -> usize {
    let p = tiny_skia::Pixmap::decode_png(png).expect("a PNG");
    p.pixels().iter().filter(|c| c.alpha() > 0).count()
}

const SUFFIXES: [(&str, &str); 4] = [
    ("incidents", ".png"),
    ("incidents", "@2x.png"),
    ("incidents", ".mvt"),
    ("heat", ".png"),
];

/// The whole class of tile requests around the canaries, for every role
/// without full view: identical bytes with and without them; hr's differ.
#[test]
fn tiles_around_groups_under_k_equal_those_of_a_store_without_them() {
    let without = env(&base());
    let mut all = base();
    all.extend(canaries());
    let with = env(&all);
    let windows = [
        "",
        // Isolates the lone canary's day, then the far group's week.
        "?from=2025-03-20&to=2025-03-20",
        "?from=2025-03-10T00:00:00Z&to=2025-03-16T23:59:59Z",
    ];
    let mut compared = 0;
    let mut hr_differs = 0;
    for pos in [FAR, LONE] {
        for (z, x, y) in around(pos) {
            for (layer, suffix) in SUFFIXES {
                for window in windows {
                    let path = format!("/tiles/{layer}/{z}/{x}/{y}{suffix}{window}");
                    for (role, token) in NON_FULL {
                        let a = get_ok(&without.server, &path, token);
                        let b = get_ok(&with.server, &path, token);
                        assert!(
                            a.body == b.body,
                            "{role} {path}: the canaries changed the tile"
                        );
                        assert_eq!(a.header("etag"), b.header("etag"), "{role} {path}");
                        assert!(!contains(&b.body, "CANARY"), "{role} {path}");
                        // Beyond z9 the town's released cell is out of the tile.
                        if suffix.ends_with("png") && z >= 10 {
                            assert_eq!(opaque_pixels(&b.body), 0, "{role} {path}: drawn");
                        }
                        compared += 1;
                    }
                    if window.is_empty() {
                        let a = get_ok(&without.server, &path, HR);
                        let b = get_ok(&with.server, &path, HR);
                        hr_differs += usize::from(a.body != b.body);
                    }
                }
            }
        }
    }
    assert!(compared > 500, "{compared}");
    // The control: hr sees the canaries in the tiles that hold them.
    assert!(
        hr_differs >= 20,
        "hr saw the canaries in only {hr_differs} tiles"
    );
    let (x, y) = tile_of(FAR[0], FAR[1], 14);
    let mvt = get_ok(
        &with.server,
        &format!("/tiles/incidents/14/{x}/{y}.mvt"),
        HR,
    );
    assert!(contains(&mvt.body, "CANARY-FAR-0") && contains(&mvt.body, "CANARY-PERP-ALPHA"));
    let png = get_ok(
        &with.server,
        &format!("/tiles/incidents/14/{x}/{y}.png"),
        HR,
    );
    assert!(opaque_pixels(&png.body) > 20);

    // A released group is drawn for every role (the comparison above is
    // not vacuous): the town's cell, with a count and nothing else.
    for (role, token) in NON_FULL {
        let (x, y) = tile_of(TOWN[0], TOWN[1], 10);
        let png = get_ok(
            &with.server,
            &format!("/tiles/incidents/10/{x}/{y}.png"),
            token,
        );
        assert!(
            opaque_pixels(&png.body) > 100,
            "{role}: the town is not drawn"
        );
        let heat = get_ok(&with.server, &format!("/tiles/heat/10/{x}/{y}.png"), token);
        assert!(
            opaque_pixels(&heat.body) > 100,
            "{role}: no heat at the town"
        );
        let mvt = get_ok(
            &with.server,
            &format!("/tiles/incidents/10/{x}/{y}.mvt"),
            token,
        );
        assert!(contains(&mvt.body, "count"), "{role}");
        for hidden in ["town-0", "perpetrator", "Group A", "killing", "narrative"] {
            assert!(!contains(&mvt.body, hidden), "{role}: {hidden} in the MVT");
        }
    }
}

/// An ingest the role may not see leaves its tiles and their ETags as they
/// were (the ETag is no data version); one it sees changes them; a
/// conditional request gets 304.
#[test]
fn etags_follow_the_callers_bytes_and_caching_headers_are_set() {
    let e = env(&base());
    let (x, y) = tile_of(FAR[0], FAR[1], 12);
    let path = format!("/tiles/incidents/12/{x}/{y}.png");
    let before: Vec<Resp> = [PARTNER, HR]
        .iter()
        .map(|t| get_ok(&e.server, &path, t))
        .collect();
    let tag = before[0].header("etag").unwrap().to_string();
    assert!(tag.starts_with('"') && tag.len() > 10, "{tag}");
    assert_eq!(
        before[0].header("cache-control"),
        Some("private, max-age=60")
    );
    assert!(before[0].header("vary").unwrap().contains("authorization"));
    assert_eq!(before[0].header("content-type"), Some("image/png"));
    let r = request(
        &e.server.addr,
        "GET",
        &path,
        Some(PARTNER),
        &[("If-None-Match", &tag)],
        None,
    );
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    // hr ingests one incident at FAR over HTTP (hidden from the others: a group of one).
    let body = json!({"type": "FeatureCollection", "features": [inc("CANARY-NEW", FAR, "2025-03-12T08:00:00Z")]});
    let r = e.server.post(
        "/collections/incidents/items",
        Some(HR),
        "application/geo+json",
        body.to_string().as_bytes(),
    );
    assert!(r.status < 300, "{}", r.text());
    let after: Vec<Resp> = [PARTNER, HR]
        .iter()
        .map(|t| get_ok(&e.server, &path, t))
        .collect();
    assert_eq!(
        after[0].header("etag"),
        Some(tag.as_str()),
        "partner's ETag moved"
    );
    assert_eq!(after[0].body, before[0].body);
    assert_ne!(
        after[1].header("etag"),
        before[1].header("etag"),
        "hr's tile is stale"
    );
    assert!(opaque_pixels(&after[1].body) > opaque_pixels(&before[1].body));
    drop(e.store);
}

#[test]
fn tile_scheme_errors_and_roles() {
    let e = env(&base());
    let s = &e.server;
    let (x, y) = tile_of(TOWN[0], TOWN[1], 12);
    for (path, status) in [
        ("/tiles/incidents/19/0/0.png".to_string(), 404),
        ("/tiles/incidents/2/4/0.png".to_string(), 404),
        ("/tiles/incidents/2/0/4.mvt".to_string(), 404),
        ("/tiles/incidents/2/0/0.jpg".to_string(), 404),
        ("/tiles/incidents/-1/0/0.png".to_string(), 404),
        ("/tiles/incidents/99999999999/0/0.png".to_string(), 404),
        ("/tiles/nope/2/0/0.png".to_string(), 404),
        ("/tiles/joint/2/0/0.jpg".to_string(), 404),
        ("/tiles/hotspots/19/0/0.mvt".to_string(), 404),
        ("/tiles/heat/2/0/0.mvt".to_string(), 404),
        (format!("/tiles/incidents/12/{x}/{y}.png?bbox=1,2,3,4"), 400),
        (
            format!("/tiles/incidents/12/{x}/{y}.png?weight=fatalities"),
            400,
        ),
        (
            format!("/tiles/incidents/12/{x}/{y}.png?from=yesterday"),
            400,
        ),
        (format!("/tiles/incidents/12/{x}/{y}.png?colour=red"), 400),
    ] {
        s.get(&path, Some(HR)).problem(status, None);
    }
    // Without a token: 401, like every route.
    s.get(&format!("/tiles/incidents/12/{x}/{y}.png"), None)
        .problem(401, None);
    // A filter that would split the partner's groups is refused, whatever
    // its value (no oracle); hr may filter.
    for cat in ["killing", "abduction"] {
        let p = format!("/tiles/incidents/12/{x}/{y}.mvt?category={cat}");
        s.get(&p, Some(PARTNER)).problem(400, Some("category"));
        get_ok(s, &p, HR);
    }
    // Patrols: the military sees the track; others get no patrol tile.
    let (px, py) = tile_of(18.6, 4.5, 11);
    let p = format!("/tiles/patrols/11/{px}/{py}.mvt");
    let mvt = get_ok(s, &p, MIL);
    assert!(contains(&mvt.body, "pat-1") && contains(&mvt.body, "escort"));
    for t in [HR, JMAC, PARTNER] {
        s.get(&p, Some(t)).problem(403, None);
        s.get(&format!("/tiles/patrols/11/{px}/{py}.png"), Some(t))
            .problem(403, None);
    }
    // Bases at z12: the mission-classified base with its reach ring for
    // jmac; nothing for the partner, whose view leaves it out.
    let (bx, by) = tile_of(18.555, 4.365, 12);
    let path = format!("/tiles/bases/12/{bx}/{by}.png");
    assert!(opaque_pixels(&get_ok(s, &path, JMAC).body) > 50);
    assert_eq!(opaque_pixels(&get_ok(s, &path, PARTNER).body), 0);
    // @2x is the same map at twice the density.
    let (x, y) = tile_of(TOWN[0], TOWN[1], 14);
    let one = get_ok(s, &format!("/tiles/incidents/14/{x}/{y}.png"), HR);
    let two = get_ok(s, &format!("/tiles/incidents/14/{x}/{y}@2x.png"), HR);
    let (a, b) = (opaque_pixels(&one.body), opaque_pixels(&two.body));
    assert!(a > 0 && b > 3 * a && b < 5 * a, "{a} {b}");
}

/// Each TileJSON is complete and its tiles answer, for every role.
#[test]
fn tilejson_names_tiles_that_answer() {
    let e = env(&base());
    let s = &e.server;
    for (role, token) in ROLES {
        for layer in ["incidents", "sightings", "bases", "sites", "heat"] {
            for f in ["", "?f=mvt"] {
                if layer == "heat" && !f.is_empty() {
                    s.get("/tiles/heat.json?f=mvt", Some(token))
                        .problem(404, None);
                    continue;
                }
                let doc = s.json(&format!("/tiles/{layer}.json{f}"), token);
                assert_eq!(doc["tilejson"], "3.0.0");
                assert_eq!(doc["minzoom"], 0);
                assert_eq!(doc["maxzoom"], 18);
                assert_eq!(doc["bounds"].as_array().unwrap().len(), 4);
                let template = doc["tiles"][0].as_str().unwrap();
                let ext = if f.is_empty() { ".png" } else { ".mvt" };
                assert!(template.ends_with(&format!("{{y}}{ext}")), "{template}");
                if layer != "heat" {
                    let fields = &doc["vector_layers"][0]["fields"];
                    assert_eq!(doc["vector_layers"][0]["id"], layer);
                    if role != "hr" || layer != "incidents" {
                        assert!(fields.get("narrative").is_none(), "{role} {layer}");
                    }
                    if role == "partner" && layer == "incidents" {
                        assert_eq!(fields, &json!({"count": "Number"}));
                    }
                }
                let (x, y) = tile_of(TOWN[0], TOWN[1], 9);
                let url = template
                    .replace("{z}", "9")
                    .replace("{x}", &x.to_string())
                    .replace("{y}", &y.to_string());
                let r = get_ok(s, &path_of(&url), token);
                assert_eq!(
                    r.header("content-type"),
                    Some(if ext == ".png" {
                        "image/png"
                    } else {
                        "application/vnd.mapbox-vector-tile"
                    })
                );
            }
        }
        if role == "military" {
            s.json("/tiles/patrols.json", token);
        } else {
            s.get("/tiles/patrols.json", Some(token)).problem(403, None);
        }
    }
    // Filters pass into the templates.
    let doc = s.json("/tiles/incidents.json?from=2025-03-01&to=2025-03-31", HR);
    assert!(doc["tiles"][0]
        .as_str()
        .unwrap()
        .ends_with(".png?from=2025-03-01&to=2025-03-31"));
}

/// GDAL's MVT driver reads a tile: the features and fields the items
/// endpoint gives hr.
#[test]
#[cfg_attr(
    not(jointmap_ogrinfo),
    ignore = "ogrinfo is missing (apt-get install gdal-bin)"
)]
fn ogrinfo_reads_a_vector_tile() {
    let e = env(&base());
    let (x, y) = tile_of(TOWN[0], TOWN[1], 14);
    let mvt = get_ok(&e.server, &format!("/tiles/incidents/14/{x}/{y}.mvt"), HR);
    let dir = TempDir::new().unwrap();
    let d = dir.path().join("14").join(x.to_string());
    std::fs::create_dir_all(&d).unwrap();
    let file = d.join(format!("{y}.mvt"));
    std::fs::write(&file, &mvt.body).unwrap();
    let o = std::process::Command::new("ogrinfo")
        .args(["-ro", "-al", "-so"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("Layer name: incidents"), "{text}");
    assert!(text.contains("Feature Count: 20"), "{text}");
    for field in ["id: String", "category: String", "verification: String"] {
        assert!(text.contains(field), "{field}: {text}");
    }
    // The full listing holds the ids the items endpoint gives.
    let o = std::process::Command::new("ogrinfo")
        .args(["-ro", "-al"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    for i in 0..20 {
        assert!(text.contains(&format!("town-{i:02}")), "town-{i:02}");
    }
    let items = e.server.json("/collections/incidents/items?limit=100", HR);
    assert_eq!(items["features"].as_array().unwrap().len(), 20);
}

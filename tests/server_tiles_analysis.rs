//! Tiles of the analysis overlays (hotspots, moran, presence, risk,
//! blindspots) and of the joint map, through HTTP against the real binary:
//! each vector tile decodes to the cells `/analysis/*` gives the same
//! role, a role without full view gets from a store holding fewer than k
//! events exactly the tiles of a store without them, canaries never reach
//! a tile or a TileJSON, every TileJSON names tiles that answer, and a
//! few tiles per layer match golden images.
//!
//! Goldens: `tests/golden/tiles/*.png`, written by this test itself when
//! `JOINTMAP_REGENERATE_GOLDENS=1` is set (then it fails, so that a
//! regeneration is never mistaken for a pass):
//! `JOINTMAP_REGENERATE_GOLDENS=1 cargo test --test server_tiles_analysis golden`.

mod common;
mod server_common;

use serde_json::{json, Map, Value};
use server_common::*;
use std::collections::{BTreeMap, BTreeSet};
use tempfile::TempDir;

const ANCHOR: [f64; 2] = [17.25, 5.25];
/// A town with 20 incidents in one week: a group released to every role.
const TOWN: [f64; 2] = [17.30, 5.30];
/// A second released group, so that hot spot statistics have a contrast.
/// Beyond the base's reach: a threat blind spot.
const VILLAGE: [f64; 2] = [17.75, 5.00];
/// Four canaries, one group below k.
const FAR: [f64; 2] = [17.723_456, 5.654_321];
/// One lone canary.
const LONE: [f64; 2] = [17.432_198, 5.045_678];

const OVERLAYS: [&str; 5] = ["hotspots", "moran", "presence", "risk", "blindspots"];

/// The window of every request (the data's own default would end at
/// the latest time in the store).
const Q: &str = "from=2025-01-01&to=2025-03-31";

/// The analysis endpoint and parameters behind each overlay.
fn endpoint(layer: &str) -> String {
    match layer {
        "hotspots" | "moran" => format!("/analysis/hotspots?{Q}"),
        "presence" => format!("/analysis/coverage?{Q}"),
        "risk" => format!("/analysis/blindspots?cells=true&{Q}"),
        _ => format!("/analysis/blindspots?{Q}"),
    }
}

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

fn group(prefix: &str, at: [f64; 2], n: u32) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let pos = [at[0] + f64::from(i) * 1e-4, at[1] - f64::from(i) * 1e-4];
            inc(
                &format!("{prefix}-{i:02}"),
                pos,
                &format!("2025-03-0{}T10:00:00Z", 3 + i % 7),
            )
        })
        .collect()
}

fn base() -> Vec<Value> {
    let mut v = group("town", TOWN, 20);
    v.extend(group("village", VILLAGE, 10));
    v
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
    let mut lone = inc("CANARY-LONE", LONE, "2025-03-05T08:00:00Z");
    lone["properties"]["perpetrator"] = json!("CANARY-PERP-LONE");
    v.push(lone);
    v
}

struct Env {
    _dir: TempDir,
    server: Server,
}

fn env(incidents: &[Value]) -> Env {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("s.gpkg");
    let (_, mut patrol, mut base) = common::others();
    // Near the town, in the window, so presence and blind spots have both.
    patrol["geometry"]["coordinates"] = json!([[17.28, 5.28], [17.35, 5.33], [17.45, 5.30]]);
    patrol["properties"]["time_start"] = json!("2025-03-04T06:00:00Z");
    patrol["properties"]["time_end"] = json!("2025-03-04T12:00:00Z");
    patrol["properties"]["vertex_times"] = json!([
        "2025-03-04T06:00:00Z",
        "2025-03-04T09:00:00Z",
        "2025-03-04T12:00:00Z"
    ]);
    base["geometry"]["coordinates"] =
        json!([[[17.36, 5.27], [17.37, 5.27], [17.37, 5.28], [17.36, 5.27]]]);
    for (layer, feats) in [
        ("incidents", incidents.to_vec()),
        ("patrols", vec![patrol]),
        ("bases", vec![base]),
    ] {
        if feats.is_empty() {
            continue;
        }
        let fc = common::write_fc(dir.path(), &format!("{layer}.geojson"), &feats);
        cli(&store, &["ingest", layer, fc.to_str().unwrap()]);
    }
    let access = format!(
        "[access]\ngrid_anchor = [{:?}, {:?}]\ntime_step_days = 7\n",
        ANCHOR[0], ANCHOR[1]
    );
    let cfg = config(dir.path(), &store, &access);
    let server = Server::start(&cfg);
    Env { _dir: dir, server }
}

/// The XYZ tile holding lon/lat at zoom z.
fn tile_of(lon: f64, lat: f64, z: u32) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
    let r = lat.to_radians();
    let y =
        ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor() as u32;
    (x, y)
}

/// `[west, south, east, north]` of a tile.
fn bounds(z: u32, x: u32, y: u32) -> [f64; 4] {
    let n = f64::from(1u32 << z);
    let lon = |x: f64| x / n * 360.0 - 180.0;
    let lat = |y: f64| {
        (std::f64::consts::PI * (1.0 - 2.0 * y / n))
            .sinh()
            .atan()
            .to_degrees()
    };
    [
        lon(f64::from(x)),
        lat(f64::from(y + 1)),
        lon(f64::from(x + 1)),
        lat(f64::from(y)),
    ]
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn opaque_pixels(png: &[u8]) -> usize {
    let p = tiny_skia::Pixmap::decode_png(png).expect("a PNG");
    p.pixels().iter().filter(|c| c.alpha() > 0).count()
}

use common::mvt::decode;

// --- The tests ----------------------------------------------------------

/// Items of an analysis document that belong to overlay `layer`, by id.
fn items(layer: &str, doc: &Value) -> BTreeMap<String, Value> {
    doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            let kind = f["properties"]["kind"].as_str();
            match layer {
                "risk" => kind == Some("cell"),
                "blindspots" => matches!(kind, Some("threat" | "information")),
                _ => true,
            }
        })
        .filter(|f| f["geometry"].is_object())
        .map(|f| (f["id"].as_str().unwrap().to_string(), f.clone()))
        .collect()
}

fn item_bbox(f: &Value) -> [f64; 4] {
    let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    fn walk(v: &Value, b: &mut [f64; 4]) {
        match v.as_array() {
            Some(a) if a.len() == 2 && a[0].is_number() => {
                let (x, y) = (a[0].as_f64().unwrap(), a[1].as_f64().unwrap());
                *b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
            }
            Some(a) => a.iter().for_each(|c| walk(c, b)),
            None => {}
        }
    }
    walk(&f["geometry"]["coordinates"], &mut b);
    b
}

/// Each overlay's vector tiles decode, for every role, to the cells the
/// analysis endpoint gives that role: the same ids and the same values of
/// every attribute carried, and nothing else; where the endpoint refuses
/// the role, so do the tiles.
#[test]
fn vector_tiles_hold_the_cells_the_analysis_endpoint_gives_the_role() {
    let mut all = base();
    all.extend(canaries());
    let e = env(&all);
    let s = &e.server;
    let mut compared = 0;
    for layer in OVERLAYS {
        for (role, token) in ROLES {
            let a = s.get(&endpoint(layer), Some(token));
            let (tx, ty) = tile_of(TOWN[0], TOWN[1], 9);
            let first = s.get(&format!("/tiles/{layer}/9/{tx}/{ty}.mvt?{Q}"), Some(token));
            assert_eq!(first.status, a.status, "{role} {layer}: {}", first.text());
            if a.status != 200 {
                continue;
            }
            let doc = a.json();
            let cells = items(layer, &doc);
            assert!(
                !cells.is_empty() || layer == "blindspots",
                "{role} {layer}: no cells: {}",
                &a.text()[..a.text().len().min(1500)]
            );
            for z in [7u32, 9, 11] {
                let (cx, cy) = tile_of(TOWN[0], TOWN[1], z);
                for (x, y) in [(cx, cy), (cx + 1, cy), (cx, cy + 1)] {
                    let r = s.get(&format!("/tiles/{layer}/{z}/{x}/{y}.mvt?{Q}"), Some(token));
                    assert_eq!(r.status, 200, "{role} {layer} {z}/{x}/{y}: {}", r.text());
                    assert_eq!(
                        r.header("content-type"),
                        Some("application/vnd.mapbox-vector-tile")
                    );
                    let layers = decode(&r.body);
                    assert_eq!(layers.keys().collect::<Vec<_>>(), vec![layer]);
                    let feats = &layers[layer];
                    let b = bounds(z, x, y);
                    let mut seen = BTreeSet::new();
                    for f in feats {
                        let id = f["id"].as_str().expect("an id").to_string();
                        let item = cells
                            .get(&id)
                            .unwrap_or_else(|| panic!("{role} {layer}: {id} not in the analysis"));
                        for (k, v) in f {
                            if k == "id" {
                                continue;
                            }
                            let want = &item["properties"][k];
                            let same = match (v.as_f64(), want.as_f64()) {
                                (Some(a), Some(b)) => a == b,
                                _ => v == want,
                            };
                            assert!(same, "{role} {layer} {id}.{k}: {v} vs {want}");
                        }
                        // Every non-null value of a carried attribute is there.
                        let carried = attributes(layer);
                        for k in carried {
                            let want = &item["properties"][k];
                            assert_eq!(
                                f.get(*k).is_some(),
                                !want.is_null(),
                                "{role} {layer} {id}.{k}"
                            );
                        }
                        for k in f.keys() {
                            assert!(k == "id" || carried.contains(&k.as_str()), "{layer}: {k}");
                        }
                        seen.insert(id);
                    }
                    // Cells well inside the tile are all there.
                    let (dx, dy) = ((b[2] - b[0]) * 0.1, (b[3] - b[1]) * 0.1);
                    for (id, item) in &cells {
                        let c = item_bbox(item);
                        let inside = c[0] > b[0] + dx
                            && c[2] < b[2] - dx
                            && c[1] > b[1] + dy
                            && c[3] < b[3] - dy;
                        let drawn = layer != "presence"
                            || item["properties"]["presence"].as_f64().is_some();
                        if inside && drawn {
                            assert!(
                                seen.contains(id),
                                "{role} {layer} {z}/{x}/{y}: {id} missing"
                            );
                        }
                    }
                    compared += feats.len();
                }
            }
        }
    }
    assert!(compared > 50, "{compared}");
}

/// The attributes each overlay's vector tiles carry (the server's list).
fn attributes(layer: &str) -> &'static [&'static str] {
    match layer {
        "hotspots" => &["class", "gi_z", "gi_p", "count", "value", "density_km2"],
        "moran" => &["moran_type", "moran_i", "moran_p", "count", "value"],
        "presence" => &[
            "presence",
            "patrol_score",
            "info_score",
            "visits",
            "reports",
        ],
        "risk" => &[
            "risk_level",
            "risk",
            "likelihood",
            "impact",
            "threat",
            "presence",
            "blind",
            "incidents",
            "sightings",
        ],
        _ => &[
            "kind",
            "rank",
            "priority",
            "area_km2",
            "risk_level",
            "hotspot",
            "incidents",
            "sightings",
            "days_since_patrol",
            "days_since_report",
        ],
    }
}

const NON_FULL: [(&str, &str); 3] = [("military", MIL), ("jmac", JMAC), ("partner", PARTNER)];

/// For every role without full view of incidents, every overlay and joint
/// tile around groups under k, in every format, is byte-identical to the
/// one of a store without them (or refused alike); nothing of the
/// canaries reaches a tile or a TileJSON. hr, who sees them, is the
/// control: some of its tiles differ.
#[test]
fn overlay_tiles_around_groups_under_k_equal_those_of_a_store_without_them() {
    let without = env(&base());
    let mut all = base();
    all.extend(canaries());
    let with = env(&all);
    let empty = env(&[]);
    let only = env(&canaries());
    let mut compared = 0;
    let mut hr_differs = 0;
    let layers: Vec<&str> = OVERLAYS.iter().copied().chain(["joint"]).collect();
    for layer in &layers {
        for pos in [FAR, LONE] {
            for z in [6u32, 9, 12] {
                let (x, y) = tile_of(pos[0], pos[1], z);
                for suffix in [".png", "@2x.png", ".mvt"] {
                    let path = format!("/tiles/{layer}/{z}/{x}/{y}{suffix}?{Q}");
                    for (role, token) in NON_FULL {
                        let a = without.server.get(&path, Some(token));
                        let b = with.server.get(&path, Some(token));
                        assert_eq!(a.status, b.status, "{role} {path}: {}", b.text());
                        assert!(
                            a.body == b.body,
                            "{role} {path}: the canaries changed the tile"
                        );
                        assert!(!contains(&b.body, "CANARY"), "{role} {path}");
                        compared += 1;
                    }
                    let a = without.server.get(&path, Some(HR));
                    let b = with.server.get(&path, Some(HR));
                    hr_differs += usize::from(a.body != b.body);
                }
            }
        }
        // A role without full view, where only canaries are (no released
        // group near them at z12): the tile of an empty store.
        for pos in [FAR, LONE] {
            let (x, y) = tile_of(pos[0], pos[1], 12);
            for suffix in [".png", ".mvt"] {
                let path = format!("/tiles/{layer}/12/{x}/{y}{suffix}?{Q}");
                for (role, token) in NON_FULL {
                    let a = empty.server.get(&path, Some(token));
                    let b = only.server.get(&path, Some(token));
                    assert_eq!(a.status, b.status, "{role} {path}: {}", b.text());
                    assert!(
                        a.body == b.body,
                        "{role} {path}: differs from an empty store"
                    );
                }
            }
        }
        for (role, token) in ROLES {
            for f in ["", "?f=mvt"] {
                let r = with
                    .server
                    .get(&format!("/tiles/{layer}.json{f}"), Some(token));
                assert!(!contains(&r.body, "CANARY"), "{role} {layer}.json{f}");
            }
        }
    }
    assert!(compared > 200, "{compared}");
    assert!(
        hr_differs >= 5,
        "hr saw the canaries in only {hr_differs} tiles"
    );
}

/// Each overlay's TileJSON (PNG and MVT) is complete and names tiles
/// that answer, for every role the analysis answers; parameters pass into
/// the templates and are checked as the tiles check them.
#[test]
fn tilejson_of_each_overlay_names_tiles_that_answer() {
    let e = env(&base());
    let s = &e.server;
    let (x, y) = tile_of(TOWN[0], TOWN[1], 9);
    for layer in OVERLAYS.iter().chain(&["joint"]) {
        for (role, token) in ROLES {
            for f in ["", "&f=mvt"] {
                let doc = s.json(&format!("/tiles/{layer}.json?{Q}{f}"), token);
                assert_eq!(doc["tilejson"], "3.0.0");
                assert_eq!(doc["maxzoom"], 18);
                let template = doc["tiles"][0].as_str().unwrap();
                let ext = if f.is_empty() { ".png" } else { ".mvt" };
                assert!(template.ends_with(&format!("{{y}}{ext}?{Q}")), "{template}");
                let vl = doc["vector_layers"].as_array().unwrap();
                if *layer != "joint" {
                    assert_eq!(vl.len(), 1);
                    assert_eq!(vl[0]["id"], *layer);
                    let fields = vl[0]["fields"].as_object().unwrap();
                    let mut want: Vec<&str> = attributes(layer).to_vec();
                    want.push("id");
                    want.sort();
                    let mut got: Vec<&str> = fields.keys().map(String::as_str).collect();
                    got.sort();
                    assert_eq!(got, want, "{layer}");
                } else {
                    let ids: Vec<&str> = vl.iter().map(|l| l["id"].as_str().unwrap()).collect();
                    assert!(
                        ids.contains(&"blindspots") && ids.contains(&"incidents"),
                        "{ids:?}"
                    );
                    assert_eq!(ids.contains(&"patrols"), role == "military", "{role}");
                }
                let url = template
                    .replace("{z}", "9")
                    .replace("{x}", &x.to_string())
                    .replace("{y}", &y.to_string());
                let r = s.get(&path_of(&url), Some(token));
                let a = s.get(&endpoint(layer), Some(token)).status;
                let want = if *layer == "joint" { 200 } else { a };
                assert_eq!(r.status, want, "{role} {url}: {}", r.text());
            }
        }
    }
    let doc = s.json("/tiles/hotspots.json?cell-km=10&from=2025-03-01", HR);
    assert!(doc["tiles"][0]
        .as_str()
        .unwrap()
        .ends_with(".png?cell-km=10&from=2025-03-01"));
    for (path, param) in [
        ("/tiles/hotspots.json?cell-km=-1", None),
        ("/tiles/hotspots.json?area=/etc/passwd", Some("area")),
        ("/tiles/risk.json?cells=false", Some("cells")),
        ("/tiles/blindspots.json?cells=true", Some("cells")),
        ("/tiles/presence.json?all-cells=true", Some("all-cells")),
        ("/tiles/joint.json?surface=moon", Some("surface")),
        ("/tiles/joint.json?category=killing", Some("category")),
        ("/tiles/moran/9/0/0.png?f=json", Some("f")),
    ] {
        let r = s.get(path, Some(HR));
        if let Some(p) = param {
            r.problem(400, Some(p));
        } else {
            assert!(r.status == 400 || r.status == 200, "{path}");
        }
    }
    s.get(&format!("/tiles/hotspots/9/{x}/{y}.png"), None)
        .problem(401, None);
}

fn pixmap(png: &[u8]) -> tiny_skia::Pixmap {
    tiny_skia::Pixmap::decode_png(png).expect("a PNG")
}

/// A few tiles per overlay and of the joint map for hr and the partner
/// match golden images within a small tolerance (anti-aliasing may move
/// by a step between builds): at most 0.5 % of pixels off by more than 8
/// in a channel.
#[test]
fn overlay_tiles_match_golden_images() {
    let e = env(&base());
    let s = &e.server;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/tiles");
    let regenerate = std::env::var_os("JOINTMAP_REGENERATE_GOLDENS").is_some();
    let mut written = 0;
    for layer in OVERLAYS.iter().chain(&["joint"]) {
        for (role, token) in [("hr", HR), ("partner", PARTNER)] {
            for (z, at) in [(9u32, TOWN), (11, TOWN), (9, VILLAGE)] {
                let (x, y) = tile_of(at[0], at[1], z);
                let r = s.get(&format!("/tiles/{layer}/{z}/{x}/{y}.png?{Q}"), Some(token));
                if r.status != 200 {
                    // The role may not have this analysis: no golden.
                    assert_eq!(r.status, 403, "{role} {layer}: {}", r.text());
                    continue;
                }
                let file = dir.join(format!("{layer}-{role}-{z}-{x}-{y}.png"));
                if regenerate {
                    std::fs::create_dir_all(&dir).unwrap();
                    std::fs::write(&file, &r.body).unwrap();
                    written += 1;
                    continue;
                }
                let want = std::fs::read(&file).unwrap_or_else(|_| {
                    panic!("{} is missing; see this file's docs", file.display())
                });
                let (a, b) = (pixmap(&r.body), pixmap(&want));
                assert_eq!((a.width(), a.height()), (b.width(), b.height()));
                let off = a
                    .pixels()
                    .iter()
                    .zip(b.pixels())
                    .filter(|(p, q)| {
                        p.red().abs_diff(q.red()) > 8
                            || p.green().abs_diff(q.green()) > 8
                            || p.blue().abs_diff(q.blue()) > 8
                            || p.alpha().abs_diff(q.alpha()) > 8
                    })
                    .count();
                assert!(
                    off * 200 <= a.pixels().len(),
                    "{}: {off} pixels differ",
                    file.display()
                );
                if z == 9 && (*layer != "blindspots" || at == VILLAGE) {
                    assert!(opaque_pixels(&r.body) > 100, "{role} {layer}: blank");
                }
            }
        }
    }
    assert!(
        !regenerate,
        "{written} goldens written; run again without JOINTMAP_REGENERATE_GOLDENS"
    );
}

/// The joint map's vector tiles hold one layer per part the role may
/// have: patrols for the military only, incidents as released cells for
/// roles without full view, hot spots only where significant and exactly
/// as the hotspots overlay gives them; `surface=heat` draws the heat
/// surface instead of the hot spots.
#[test]
fn the_joint_map_is_composed_of_the_roles_own_parts() {
    let e = env(&base());
    let s = &e.server;
    let (x, y) = tile_of(TOWN[0], TOWN[1], 9);
    for (role, token) in ROLES {
        let joint = s.get(&format!("/tiles/joint/9/{x}/{y}.mvt?{Q}"), Some(token));
        assert_eq!(joint.status, 200, "{role}: {}", joint.text());
        let layers = decode(&joint.body);
        let names: Vec<&str> = layers.keys().map(String::as_str).collect();
        for n in &names {
            assert!(
                [
                    "blindspots",
                    "hotspots",
                    "patrols",
                    "bases",
                    "sites",
                    "incidents"
                ]
                .contains(n),
                "{role}: {n}"
            );
        }
        assert_eq!(
            names.contains(&"patrols"),
            role == "military",
            "{role}: {names:?}"
        );
        let hot = decode(
            &s.get(&format!("/tiles/hotspots/9/{x}/{y}.mvt?{Q}"), Some(token))
                .body,
        );
        let significant: Vec<&Map<String, Value>> = hot["hotspots"]
            .iter()
            .filter(|f| {
                f.get("class")
                    .and_then(Value::as_str)
                    .is_some_and(|c| c.starts_with("hot-") || c.starts_with("cold-"))
            })
            .collect();
        assert!(!significant.is_empty(), "{role}: no hot spot at the town");
        let got: Vec<&Map<String, Value>> = layers["hotspots"].iter().collect();
        assert_eq!(got, significant, "{role}");
        if role != "hr" {
            for f in &layers["incidents"] {
                let keys: Vec<&str> = f.keys().map(String::as_str).collect();
                assert_eq!(keys, ["count"], "{role}");
            }
        }
        let a = s.get(&format!("/tiles/joint/9/{x}/{y}.png?{Q}"), Some(token));
        let b = s.get(
            &format!("/tiles/joint/9/{x}/{y}.png?{Q}&surface=heat"),
            Some(token),
        );
        assert_eq!((a.status, b.status), (200, 200), "{role}");
        assert_ne!(a.body, b.body, "{role}: heat and hot spots drew alike");
        assert!(opaque_pixels(&b.body) > 100, "{role}");
    }
}

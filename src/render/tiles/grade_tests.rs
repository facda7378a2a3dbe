//! The grade ring as drawn through the gate: a golden z14 tile of every
//! band, and canaries a role without the grade fields cannot detect.
//!
//! Golden: `tests/golden/tiles/grade-incidents-14.png` and
//! `grade-sightings-14.png`, written by the test itself when
//! `JOINTMAP_REGENERATE_GOLDENS=1` is set (then it fails, so that a
//! regeneration is never mistaken for a pass).

use super::*;
use crate::access::{Gate, Policy, Principal, Role, TileContent, TileFeature};
use crate::ingest::{IngestOptions, Input};
use crate::model::{Feature, Layer};
use crate::render::tiles::cut::tile_request;
use crate::render::tiles::{mvt, png, HeatParams, Scale, TileId};
use crate::request::events::FilterArgs;
use crate::store::{MemoryStore, Store};
use serde_json::json;
use tiny_skia::Pixmap;

/// The z14 tile every feature of these tests is in.
const TILE: (u32, u32, u32) = (14, 9020, 7959);

fn tile() -> TileId {
    TileId::new(TILE.0, TILE.1, TILE.2).unwrap()
}

/// A point of the tile, `fx` and `fy` its fractions from the north-west.
fn at(fx: f64, fy: f64) -> [f64; 2] {
    let b = tile().bounds();
    [b[0] + (b[2] - b[0]) * fx, b[3] - (b[3] - b[1]) * fy]
}

fn principal(role: Role) -> Principal {
    Principal {
        name: format!("{role}"),
        role,
        ingest: vec![],
    }
}

fn ingest(store: &dyn Store, layer: Layer, features: Vec<Value>) {
    let input = Input::Features {
        name: "test".into(),
        features: Box::new(features.into_iter().map(|f| f.to_string())),
    };
    let dir = tempfile::tempdir().unwrap();
    let mut opts = IngestOptions::new(layer);
    opts.rejects = dir.path().join("rejects.ndjson");
    crate::ingest::ingest(store, &opts, vec![input], &|_, _| {}).unwrap();
}

fn incident(id: &str, pos: [f64; 2], grade: &str, verification: &str) -> Value {
    json!({"type": "Feature", "id": id,
        "geometry": {"type": "Point", "coordinates": pos},
        "properties": {"time_start": "2025-02-10T10:00:00Z", "category": "killing",
            "verification": verification, "source_reliability": grade,
            "classification": "mission", "consent": "partners"}})
}

fn sighting(id: &str, pos: [f64; 2], grade: &str, credibility: i64) -> Value {
    json!({"type": "Feature", "id": id,
        "geometry": {"type": "Point", "coordinates": pos},
        "properties": {"time_start": "2025-02-10T10:00:00Z", "actor": "Group A",
            "activity": "movement", "source_reliability": grade,
            "info_credibility": credibility, "classification": "mission"}})
}

fn filter() -> FilterArgs {
    FilterArgs {
        from: None,
        to: None,
        bbox: None,
        category: Vec::new(),
        perpetrator: Vec::new(),
        min_verification: None,
        min_precision: None,
        weight: "count".into(),
    }
}

fn heat() -> HeatParams {
    HeatParams {
        anchor: [18.0, 5.0],
        bandwidth_m: crate::render::tiles::HEAT_BANDWIDTH_M,
    }
}

/// `p`'s PNG and vector tile `id` of `layer` from `store`.
fn tiles_of(
    gate: &Gate,
    p: &Principal,
    store: &dyn Store,
    layer: TileLayer,
    source: Layer,
    id: TileId,
) -> (Vec<u8>, Vec<u8>) {
    let req = tile_request(layer, source, id, filter());
    let c = gate.tile(p, &req, chrono::Utc::now(), store).unwrap();
    (
        png(layer, id, Scale::X1, &c, &heat()).unwrap(),
        mvt::encode(layer, id, &c),
    )
}

fn compare_golden(name: &str, png: &[u8]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/tiles");
    let file = dir.join(name);
    if std::env::var_os("JOINTMAP_REGENERATE_GOLDENS").is_some() {
        std::fs::write(&file, png).unwrap();
        return;
    }
    let want = std::fs::read(&file)
        .unwrap_or_else(|_| panic!("{} is missing; see this file's docs", file.display()));
    let (a, b) = (
        Pixmap::decode_png(png).unwrap(),
        Pixmap::decode_png(&want).unwrap(),
    );
    assert_eq!((a.width(), a.height()), (b.width(), b.height()));
    // Anti-aliasing may move by a step between builds: at most 0.5 % of
    // pixels off by more than 8 in a channel, as the overlay goldens.
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
    assert!(off * 200 <= a.pixels().len(), "{name}: {off} pixels differ");
}

/// A z14 incident tile with every band (verified and hollow), and a
/// sightings tile with reliability and credibility combined, match their
/// goldens; each band draws differently, and below zoom 14 no ring is
/// drawn at all.
#[test]
fn grade_rings_match_golden_images() {
    let store = MemoryStore::new();
    let mut inc = Vec::new();
    for (row, verification) in [(0.3, "verified"), (0.7, "reported")].into_iter() {
        for (col, grade) in [(0.2, "A"), (0.4, "B"), (0.6, "D"), (0.8, "F")] {
            inc.push(incident(
                &format!("{grade}-{verification}"),
                at(col, row),
                grade,
                verification,
            ));
        }
    }
    ingest(&store, Layer::Incidents, inc);
    ingest(
        &store,
        Layer::Sightings,
        vec![
            sighting("s-a1", at(0.25, 0.5), "A", 1),
            sighting("s-a5", at(0.5, 0.5), "A", 5),
            sighting("s-c2", at(0.75, 0.5), "C", 2),
        ],
    );
    let gate = Gate::new(Policy::default(), None).unwrap();
    let hr = principal(Role::Hr);
    let (inc_png, inc_mvt) = tiles_of(
        &gate,
        &hr,
        &store,
        TileLayer::Incidents,
        Layer::Incidents,
        tile(),
    );
    compare_golden("grade-incidents-14.png", &inc_png);
    assert!(mvt_has(&inc_mvt, "source_reliability"));
    let mil = principal(Role::Military);
    let (s_png, _) = tiles_of(
        &gate,
        &mil,
        &store,
        TileLayer::Sightings,
        Layer::Sightings,
        tile(),
    );
    compare_golden("grade-sightings-14.png", &s_png);

    // Each band alone draws its own ring; at zoom 13 there is none.
    let one = |grade: &str, z: u32| {
        let f = Feature::from_geojson(
            Layer::Incidents,
            incident("x", at(0.5, 0.5), grade, "verified"),
            "",
        )
        .unwrap();
        let tf = shown(&f, None);
        let id = if z == 14 {
            tile()
        } else {
            TileId::new(13, TILE.1 / 2, TILE.2 / 2).unwrap()
        };
        png(
            TileLayer::Incidents,
            id,
            Scale::X1,
            &TileContent::Features(vec![tf]),
            &heat(),
        )
        .unwrap()
    };
    let (a, b, c, d) = (one("A", 14), one("C", 14), one("E", 14), one("B", 14));
    assert_ne!(a, b);
    assert_ne!(b, c);
    assert_ne!(a, c);
    assert_eq!(a, d, "A and B are one band");
    assert_eq!(one("A", 13), one("F", 13), "no ring below zoom 14");
    assert!(
        std::env::var_os("JOINTMAP_REGENERATE_GOLDENS").is_none(),
        "goldens written; run again without JOINTMAP_REGENERATE_GOLDENS"
    );
}

/// Whether a vector tile holds `key` anywhere (keys are plain strings).
fn mvt_has(tile: &[u8], key: &str) -> bool {
    tile.windows(key.len()).any(|w| w == key.as_bytes())
}

/// `f` as `view` shows it (all of it with `None`), as a tile feature.
fn shown(f: &Feature, view: Option<&crate::access::FeatureView<'_>>) -> TileFeature {
    let v = match view {
        Some(v) => v.show(f).expect("shown"),
        None => f.to_geojson(),
    };
    TileFeature {
        id: f.id.clone(),
        geometry: f.geometry.clone(),
        properties: v["properties"].as_object().unwrap().clone(),
    }
}

/// Canary grades: a canary incident and a canary sighting graded `A`
/// (reliable, credibility 1) against the same records graded `F` and 6.
/// Every role whose tiles do not show the grade (the incidents' cells of
/// military, jmac and partner; the partner's sightings) gets byte-identical
/// PNG and vector tiles from both stores at every zoom from 5 to 16, so it
/// cannot tell the grade; hr (incidents) and military (sightings), who see
/// it, get different z14 tiles, so the comparison can fail.
#[test]
fn a_canary_grade_is_invisible_to_roles_without_the_field() {
    let make = |grade: &str, credibility: i64| {
        let store = MemoryStore::new();
        // A group of 12, released to every role as a cell; the canary in it.
        let mut inc: Vec<Value> = (0..12)
            .map(|i| {
                incident(
                    &format!("g{i}"),
                    at(0.3 + 0.02 * f64::from(i), 0.4),
                    "C",
                    "verified",
                )
            })
            .collect();
        inc.push(incident("CANARY", at(0.5, 0.6), grade, "verified"));
        ingest(&store, Layer::Incidents, inc);
        let mut s: Vec<Value> = (0..12)
            .map(|i| sighting(&format!("s{i}"), at(0.3 + 0.02 * f64::from(i), 0.3), "C", 3))
            .collect();
        s.push(sighting("CANARY-S", at(0.5, 0.7), grade, credibility));
        ingest(&store, Layer::Sightings, s);
        store
    };
    let (graded, ungraded) = (make("A", 1), make("F", 6));
    let gate = Gate::new(Policy::default(), None).unwrap();
    let ids: Vec<TileId> = (5..=16u32)
        .map(|z| {
            let shift = 14i32 - z as i32;
            let (x, y) = if shift >= 0 {
                (TILE.1 >> shift, TILE.2 >> shift)
            } else {
                (
                    (TILE.1 << -shift) + (1 << -shift) / 2,
                    (TILE.2 << -shift) + (1 << -shift) / 2,
                )
            };
            TileId::new(z, x, y).unwrap()
        })
        .collect();
    let cases = [
        (TileLayer::Incidents, Layer::Incidents, Role::Military),
        (TileLayer::Incidents, Layer::Incidents, Role::Jmac),
        (TileLayer::Incidents, Layer::Incidents, Role::Partner),
        (TileLayer::Sightings, Layer::Sightings, Role::Partner),
    ];
    for (layer, source, role) in cases {
        let p = principal(role);
        for &id in &ids {
            let a = tiles_of(&gate, &p, &graded, layer, source, id);
            let b = tiles_of(&gate, &p, &ungraded, layer, source, id);
            assert_eq!(a, b, "{role} {layer} z{}", id.z);
            assert!(!mvt_has(&a.1, "source_reliability"), "{role} {layer}");
            assert!(!mvt_has(&a.1, "info_credibility"), "{role} {layer}");
        }
    }
    // The control: roles that see the grade tell the stores apart at z14.
    for (layer, source, role) in [
        (TileLayer::Incidents, Layer::Incidents, Role::Hr),
        (TileLayer::Sightings, Layer::Sightings, Role::Military),
    ] {
        let p = principal(role);
        let a = tiles_of(&gate, &p, &graded, layer, source, tile());
        let b = tiles_of(&gate, &p, &ungraded, layer, source, tile());
        assert_ne!(a.0, b.0, "{role} {layer}: the ring did not change");
        assert!(mvt_has(&a.1, "source_reliability"), "{role} {layer}");
    }
}

/// Through a view that hides the grade fields (the partner's default
/// redacted sightings; a policy hiding the incidents' reliability from
/// military), a feature draws the very tile of the same feature without
/// the fields, and its vector tile carries neither: the renderer encodes
/// only what the view shows.
#[test]
fn a_hidden_grade_draws_as_an_absent_one() {
    let mut policy = Policy::default();
    policy
        .hidden
        .military
        .incidents
        .push("source_reliability".into());
    let gate = Gate::new(policy, None).unwrap();
    let id = tile();
    for (layer, source, role, v) in [
        (TileLayer::Sightings, Layer::Sightings, Role::Partner, {
            let mut s = sighting("CANARY-S", at(0.5, 0.5), "A", 1);
            s["properties"]["classification"] = json!("public");
            s
        }),
        (
            TileLayer::Incidents,
            Layer::Incidents,
            Role::Military,
            incident("CANARY", at(0.5, 0.5), "A", "verified"),
        ),
    ] {
        let f = Feature::from_geojson(source, v.clone(), "").unwrap();
        let view = gate.features(&principal(role), source).unwrap();
        let hidden = shown(&f, Some(&view));
        assert!(!hidden.properties.contains_key("source_reliability"));
        let full = shown(&f, None);
        let mut bare = full.clone();
        bare.properties.remove("source_reliability");
        bare.properties.remove("info_credibility");
        let draw = |t: &TileFeature| {
            let c = TileContent::Features(vec![t.clone()]);
            (
                png(layer, id, Scale::X1, &c, &heat()).unwrap(),
                mvt::encode(layer, id, &c),
            )
        };
        let (h, b, w) = (draw(&hidden), draw(&bare), draw(&full));
        assert_eq!(h.0, b.0, "{role} {layer}: a hidden grade is drawn");
        assert!(!mvt_has(&h.1, "source_reliability") && !mvt_has(&h.1, "info_credibility"));
        assert_ne!(h.0, w.0, "{role} {layer}: the grade draws nothing");
        assert!(mvt_has(&w.1, "source_reliability"));
    }
}

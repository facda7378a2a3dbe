//! The streamed path gives the very tiles of the collected one.

use super::*;
use crate::access::{Gate, Policy, Principal, Role};
use crate::ingest::{IngestOptions, Input};
use crate::model::Layer;
use crate::render::tiles::cut::tile_request;
use crate::render::tiles::{mvt, png, png_of, HeatParams, Scale};
use crate::request::events::FilterArgs;
use crate::rng::Rng;
use crate::store::{MemoryStore, Store};
use serde_json::{json, Value};

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

/// Seeded incidents: dense clusters and a scatter, every grade, mission
/// classification and partner consent (so that cells reach the partner).
fn incidents(n: usize) -> Vec<Value> {
    let mut rng = Rng::new(17);
    (0..n)
        .map(|i| {
            let (lon, lat) = if i % 3 == 0 {
                (rng.range(17.0, 20.0), rng.range(4.5, 7.5))
            } else {
                (rng.range(18.2, 18.25), rng.range(5.1, 5.15))
            };
            let category = ["killing", "abduction", "looting-burning"][i % 3];
            let grade = ["A", "C", "F"][i % 3];
            json!({"type": "Feature", "id": format!("i{i}"),
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {"time_start": format!("2025-02-{:02}T10:00:00Z", 1 + i % 27),
                    "category": category,
                    "source_reliability": grade,
                    "classification": "mission", "consent": "partners"}})
        })
        .collect()
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

/// Every tile of the area at `z`.
fn tiles_at(z: u8) -> Vec<TileId> {
    let n = 1u32 << z;
    let x = |lon: f64| ((lon + 180.0) / 360.0 * f64::from(n)) as u32;
    let y = |lat: f64| {
        let r = lat.to_radians();
        ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * f64::from(n)) as u32
    };
    let mut out = Vec::new();
    for tx in x(16.5)..=x(20.5) {
        for ty in y(8.0)..=y(4.0) {
            out.push(TileId::new(u32::from(z), tx, ty).unwrap());
        }
    }
    out
}

/// For hr (features) and the partner (released cells), at every zoom from
/// 4 to 10, the streamed content draws byte-identical PNG (both
/// densities) and vector tiles to the collected content, and counts as
/// many features; below zoom 9 hr's tiles were counted, not collected.
#[test]
fn streamed_tiles_equal_collected_ones() {
    let store = MemoryStore::new();
    ingest(&store, Layer::Incidents, incidents(3000));
    let gate = Gate::new(Policy::default(), None).unwrap();
    let now = chrono::Utc::now();
    let (mut counted, mut drawn) = (0, 0);
    for role in [Role::Hr, Role::Partner] {
        let p = principal(role);
        for z in 4..=10u8 {
            for id in tiles_at(z) {
                let layer = TileLayer::Incidents;
                let req = tile_request(layer, Layer::Incidents, id, filter());
                let collected = gate.tile(&p, &req, now, &store).unwrap();
                let streamed = gather_one(layer, id, &req, &mut |r, each| {
                    gate.tile_each(&p, r, now, &store, each)
                })
                .unwrap();
                if matches!(streamed, LayerContent::Counted(_)) {
                    assert!(role == Role::Hr && z < AGGREGATE_BELOW_ZOOM);
                    counted += 1;
                }
                assert_eq!(streamed.len(), LayerContent::Gated(collected.clone()).len());
                drawn += usize::from(!streamed.is_empty());
                for scale in [Scale::X1, Scale::X2] {
                    assert_eq!(
                        png(layer, id, scale, &collected, &heat()).unwrap(),
                        png_of(layer, id, scale, &streamed, &heat()).unwrap(),
                        "{role} {id:?} {scale:?}"
                    );
                }
                assert_eq!(
                    mvt::encode(layer, id, &collected),
                    mvt::encode_of(layer, id, &streamed),
                    "{role} {id:?}"
                );
            }
        }
    }
    assert!(counted > 10, "{counted} tiles counted");
    assert!(drawn > 40, "{drawn} tiles with something on them");
}

/// A low-zoom tile keeps its screen cells only: thousands of incidents in
/// one place are one cell, however many there are.
#[test]
fn a_low_zoom_tile_keeps_counts_not_features() {
    let store = MemoryStore::new();
    let at = |i: usize| {
        json!({"type": "Feature", "id": format!("d{i}"),
            "geometry": {"type": "Point", "coordinates": [18.2 + (i % 50) as f64 * 1e-5, 5.1]},
            "properties": {"time_start": "2025-02-01", "category": "killing",
                "classification": "mission", "consent": "partners"}})
    };
    ingest(&store, Layer::Incidents, (0..5000).map(at).collect());
    let gate = Gate::new(Policy::default(), None).unwrap();
    let p = principal(Role::Hr);
    let id = tiles_at(6)
        .into_iter()
        .find(|t| {
            let b = t.bounds();
            (b[0]..b[2]).contains(&18.2) && (b[1]..b[3]).contains(&5.1)
        })
        .unwrap();
    let req = tile_request(TileLayer::Incidents, Layer::Incidents, id, filter());
    let got = gather_one(TileLayer::Incidents, id, &req, &mut |r, each| {
        gate.tile_each(&p, r, chrono::Utc::now(), &store, each)
    })
    .unwrap();
    match got {
        LayerContent::Counted(c) => {
            assert_eq!(c.features(), 5000);
            assert_eq!(c.bins().len(), 1);
            assert_eq!(c.bins()[0].count, 5000);
        }
        other => panic!("collected: {other:?}"),
    }
}

/// A tile that holds a polygon besides points is drawn one by one, as
/// collected: the streamed path reads it again and draws the same bytes.
#[test]
fn a_tile_with_polygons_is_collected_as_before() {
    let store = MemoryStore::new();
    let base = |id: &str, g: Value| {
        json!({"type": "Feature", "id": id, "geometry": g,
            "properties": {"time_start": "2024-01-01", "name": id, "base_type": "cob",
                "classification": "mission"}})
    };
    ingest(
        &store,
        Layer::Bases,
        vec![
            base("b1", json!({"type": "Point", "coordinates": [18.2, 5.1]})),
            base(
                "b2",
                json!({"type": "Polygon", "coordinates": [[[18.3, 5.0], [18.4, 5.0], [18.4, 5.1], [18.3, 5.0]]]}),
            ),
            base("b3", json!({"type": "Point", "coordinates": [18.25, 5.15]})),
        ],
    );
    let gate = Gate::new(Policy::default(), None).unwrap();
    let p = principal(Role::Military);
    let now = chrono::Utc::now();
    let mut seen = 0;
    for id in tiles_at(6) {
        let req = tile_request(TileLayer::Bases, Layer::Bases, id, filter());
        let collected = gate.tile(&p, &req, now, &store).unwrap();
        let streamed = gather_one(TileLayer::Bases, id, &req, &mut |r, each| {
            gate.tile_each(&p, r, now, &store, each)
        })
        .unwrap();
        if let TileContent::Features(f) = &collected {
            if f.len() == 3 {
                seen += 1;
                assert_eq!(streamed, LayerContent::Gated(collected.clone()));
            }
        }
        assert_eq!(
            png(TileLayer::Bases, id, Scale::X1, &collected, &heat()).unwrap(),
            png_of(TileLayer::Bases, id, Scale::X1, &streamed, &heat()).unwrap()
        );
    }
    // The tile holding them, and a neighbour reaching them with its buffer.
    assert!(seen >= 1, "{seen}");
}

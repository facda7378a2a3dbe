//! Criterion benchmark: drawing one raster tile over the densest area of the
//! 1M-incident demo (issue 17's targets: a z10 heat tile under 10 ms, a z12
//! incidents tile under 5 ms).
//!
//! Inputs, made once outside the timed loop:
//! 1. the seeded demo scenario (`DemoConfig` default seed, 1,000,000
//!    incidents; `JOINTMAP_BENCH_INCIDENTS` overrides) is generated and every
//!    incident counted per z10 and z12 tile; the tile with most incidents at
//!    each zoom is the benchmark's tile;
//! 2. the incidents within 60 km of those two tiles (everything a tile's
//!    widened bounds, a kernel or a protection cell can reach) are ingested
//!    into a `MemoryStore`;
//! 3. `Gate::tile` (default policy) gives the tile's content for the role,
//!    exactly as the server asks for it (bounds widened by the largest
//!    symbol and by the layer's reach): for `hr` the features its view
//!    shows, for `partner` the released counts per protection cell.
//!
//! Timed: `render::tiles::png(layer, tile, Scale::X1, content, heat)`, i.e.
//! from the role's gated content to the PNG bytes the server caches and
//! sends: projecting, the kernel density or the symbols, colouring, and the
//! PNG encoding. Not timed: reading the store and the gate (cached by the
//! server per role, parameters and data version, and measured by the
//! side-by-side script `benches/compare/tiles.sh` under load).

use criterion::{criterion_group, criterion_main, Criterion};
use jointmap::access::{Gate, Policy, Principal, Role, TileContent, TileRequest};
use jointmap::demo::{DemoConfig, Scenario};
use jointmap::ingest::{ingest, IngestOptions, Input};
use jointmap::model::Layer;
use jointmap::render::tiles::{self, HeatParams, Scale, TileId, TileLayer, BUFFER_PX};
use jointmap::request::events::FilterArgs;
use jointmap::store::MemoryStore;
use std::collections::HashMap;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The tile of lon/lat at zoom `z`.
fn tile_of(lon: f64, lat: f64, z: u8) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n).floor();
    let y = ((1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n).floor();
    (x as u32, y as u32)
}

fn position(v: &serde_json::Value) -> [f64; 2] {
    let c = &v["geometry"]["coordinates"];
    [c[0].as_f64().unwrap_or(0.0), c[1].as_f64().unwrap_or(0.0)]
}

/// The tile with most incidents at each of `zooms`, and each incident's position.
fn densest(scenario: &Scenario, zooms: &[u8]) -> (Vec<TileId>, Vec<[f64; 2]>) {
    let positions: Vec<[f64; 2]> = scenario.incidents().map(|v| position(&v)).collect();
    let tiles = zooms
        .iter()
        .map(|&z| {
            let mut counts: HashMap<(u32, u32), u64> = HashMap::new();
            for p in &positions {
                *counts.entry(tile_of(p[0], p[1], z)).or_default() += 1;
            }
            let ((x, y), n) = counts
                .into_iter()
                .max_by_key(|&((x, y), n)| (n, std::cmp::Reverse((x, y))))
                .expect("incidents");
            eprintln!("densest z{z} tile: {z}/{x}/{y}, {n} incidents in it");
            TileId::new(u32::from(z), x, y).expect("tile")
        })
        .collect();
    (tiles, positions)
}

fn plain_filter() -> FilterArgs {
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

fn bench_tiles(c: &mut Criterion) {
    let n: usize = std::env::var("JOINTMAP_BENCH_INCIDENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let scenario = Scenario::new(&DemoConfig {
        incidents: n,
        ..DemoConfig::default()
    });
    let (tiles, positions) = densest(&scenario, &[10, 12]);
    let near: Vec<[f64; 4]> = tiles
        .iter()
        .map(|t| jointmap::request::widen_bbox(t.bounds(), 60_000.0))
        .collect();
    let inside =
        |p: &[f64; 2], b: &[f64; 4]| p[0] >= b[0] && p[0] <= b[2] && p[1] >= b[1] && p[1] <= b[3];
    let texts: Vec<String> = positions
        .iter()
        .enumerate()
        .filter(|(_, p)| near.iter().any(|b| inside(p, b)))
        .map(|(i, _)| scenario.incident(i).to_string())
        .collect();
    eprintln!("{} incidents within 60 km of the two tiles", texts.len());
    let store = MemoryStore::new();
    let dir = tempfile::TempDir::new().expect("temp dir");
    let mut opts = IngestOptions::new(Layer::Incidents);
    opts.rejects = dir.path().join("rejects.ndjson");
    let input = Input::Features {
        name: "demo".into(),
        features: Box::new(texts.into_iter()),
    };
    ingest(&store, &opts, vec![input], &|_, _| {}).expect("ingest");

    let gate = Gate::new(Policy::default(), None).expect("gate");
    let heat = HeatParams {
        anchor: gate.policy().grid_anchor,
        bandwidth_m: tiles::HEAT_BANDWIDTH_M,
    };
    let now = chrono::Utc::now();
    let content = |layer: TileLayer, tile: TileId, role: Role| -> TileContent {
        let p = Principal {
            name: format!("bench {role}"),
            role,
            ingest: Vec::new(),
        };
        let req = TileRequest {
            layer: Layer::Incidents,
            filter: plain_filter(),
            bbox: jointmap::request::widen_bbox(tile.buffered(BUFFER_PX, 256.0), layer.reach_m()),
        };
        gate.tile(&p, &req, now, &store).expect("gate")
    };
    let mut group = c.benchmark_group("tile_png");
    group.sample_size(20);
    for (layer, tile) in [
        (TileLayer::Heat, tiles[0]),
        (TileLayer::Incidents, tiles[1]),
    ] {
        for role in [Role::Hr, Role::Partner] {
            let content = content(layer, tile, role);
            let what = match &content {
                TileContent::Features(f) => format!("{} features", f.len()),
                TileContent::Cells { cells, .. } => format!("{} cells", cells.len()),
            };
            let bytes = tiles::png(layer, tile, Scale::X1, &content, &heat).expect("png");
            eprintln!(
                "{layer} z{} as {role}: {what}, PNG of {} bytes",
                tile.z,
                bytes.len()
            );
            group.bench_function(format!("{layer}_z{}_{role}", tile.z), |b| {
                b.iter(|| {
                    tiles::png(layer, tile, Scale::X1, &content, &heat)
                        .expect("png")
                        .len()
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_tiles);
criterion_main!(benches);

//! Criterion benchmark: reading point events for an analysis from a
//! GeoPackage layer of 200,000 seeded incidents (`JOINTMAP_BENCH_ROWS`
//! overrides), four ways:
//! - `features`: every row decoded as a whole feature (`Store::query`), the
//!   read analyses made before columns;
//! - `columns_cold`: a new store handle each time (as a fresh CLI process):
//!   the layer's state checked, the side table's chunks read and decoded;
//! - `columns_warm`: the same handle again (as the server between requests);
//! - `events_warm`: `load_events` from warm columns (the filter applied and
//!   the analysis' struct of arrays built).

use criterion::{criterion_group, criterion_main, Criterion};
use jointmap::analysis::events::{load_events, EventFilter, Weight};
use jointmap::ingest::{ingest, IngestOptions, Input};
use jointmap::model::Layer;
use jointmap::rng::Rng;
use jointmap::store::{columns::columns_by_query, FeatureSource, GpkgStore, Query};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `n` seeded incidents in western CAR over five years.
fn incidents(n: usize) -> Vec<String> {
    const CATEGORIES: [&str; 4] = ["killing", "abduction", "looting-burning", "sexual-violence"];
    const ACTORS: [&str; 3] = ["Group A", "Group B", "FACA"];
    let mut r = Rng::new(16);
    (0..n)
        .map(|i| {
            let t = chrono::DateTime::from_timestamp(1_577_836_800 + r.range_i(0, 157_000_000), 0)
                .unwrap_or_default();
            serde_json::json!({"type": "Feature", "id": format!("inc-{i}"),
                "geometry": {"type": "Point", "coordinates": [r.range(14.5, 19.0), r.range(3.5, 7.5)]},
                "properties": {"time_start": jointmap::model::time::format_time(&t),
                    "category": CATEGORIES[r.below(4) as usize],
                    "perpetrator": ACTORS[r.below(3) as usize],
                    "killed_men": r.range_i(0, 5), "consent": "mission"}})
            .to_string()
        })
        .collect()
}

fn bench_columns(c: &mut Criterion) {
    let rows: usize = std::env::var("JOINTMAP_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let dir = tempfile::TempDir::new().expect("temp dir");
    let path = dir.path().join("bench.gpkg");
    let store = GpkgStore::open_unindexed(&path).expect("store");
    let input = Input::Features {
        name: "bench".into(),
        features: Box::new(incidents(rows).into_iter()),
    };
    let mut opts = IngestOptions::new(Layer::Incidents);
    opts.rejects = dir.path().join("rejects.ndjson");
    ingest(&store, &opts, vec![input], &|_, _| {}).expect("ingest");
    let all = Query::default();
    // The first read writes the side table.
    assert_eq!(
        store
            .columns(Layer::Incidents, &all)
            .expect("columns")
            .len(),
        rows
    );

    let mut group = c.benchmark_group("columns");
    group.sample_size(10);
    group.bench_function("features", |b| {
        b.iter(|| {
            columns_by_query(&store, Layer::Incidents, &all)
                .expect("query")
                .len()
        })
    });
    group.bench_function("columns_cold", |b| {
        b.iter(|| {
            let cold = GpkgStore::open_unindexed(&path).expect("open");
            cold.columns(Layer::Incidents, &all).expect("columns").len()
        })
    });
    group.bench_function("columns_warm", |b| {
        b.iter(|| {
            store
                .columns(Layer::Incidents, &all)
                .expect("columns")
                .len()
        })
    });
    group.bench_function("events_warm", |b| {
        b.iter(|| {
            load_events(
                &store,
                Layer::Incidents,
                &EventFilter::default(),
                &Weight::Fatalities,
            )
            .expect("events")
            .len()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_columns);
criterion_main!(benches);

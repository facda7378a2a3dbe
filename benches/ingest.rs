//! Criterion benchmark: ingest of demo incidents (GeoJSON file -> GeoPackage store).
//!
//! The 1M-feature figure and the side-by-side against ogr2ogr and pyogrio come
//! from `benches/compare/ingest.sh`, which runs them in the same session.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use jointmap::demo::{write_feature_collection, DemoConfig, Scenario};
use jointmap::ingest::{ingest, IngestOptions, Input};
use jointmap::model::Layer;
use jointmap::store::GpkgStore;
use std::path::PathBuf;

fn demo_file(dir: &std::path::Path, n: usize) -> PathBuf {
    let path = dir.join(format!("incidents-{n}.geojson"));
    let scenario = Scenario::new(&DemoConfig {
        incidents: n,
        ..DemoConfig::default()
    });
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path).expect("create input"));
    write_feature_collection(scenario.incidents(), &mut w).expect("write input");
    path
}

fn bench_ingest(c: &mut Criterion) {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let mut group = c.benchmark_group("ingest");
    group.sample_size(10);
    // JOINTMAP_BENCH_SIZES=1000000 for the 1M case (about 15 s an iteration).
    let sizes: Vec<usize> = std::env::var("JOINTMAP_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000]);
    for n in sizes {
        let file = demo_file(dir.path(), n);
        group.throughput(Throughput::Elements(n as u64));
        let mut round = 0u32;
        group.bench_function(format!("incidents_{n}"), |b| {
            b.iter_batched(
                || {
                    round += 1;
                    dir.path().join(format!("store-{n}-{round}.gpkg"))
                },
                |store_path| {
                    let store = GpkgStore::open_unindexed(&store_path).expect("store");
                    let report = ingest(
                        &store,
                        &IngestOptions::new(Layer::Incidents),
                        vec![Input::Path(file.clone())],
                        &|_, _| {},
                    )
                    .expect("ingest");
                    assert_eq!(report.stored, n as u64);
                    drop(store);
                    let _ = std::fs::remove_file(&store_path);
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench_ingest);
criterion_main!(benches);

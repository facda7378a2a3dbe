//! Criterion benchmark: ingest of demo incidents (GeoJSON file -> GeoPackage store).
//!
//! The 1M-feature figure and the side-by-side against ogr2ogr and pyogrio come
//! from `benches/compare/ingest.sh`, which runs them in the same session.

//!
//! `query_*` reads the ingested layer back through `Store::query` (whole layer
//! and a bbox covering about a quarter of it). `JOINTMAP_BENCH_QUERY_STORE=FILE`
//! skips criterion: it reads every incident of an existing store (e.g.
//! `target/bench-stores/demo-1000000.gpkg`) `JOINTMAP_BENCH_RUNS` times
//! (default 3) and prints each time and the median.

use criterion::{BatchSize, Criterion, Throughput};
use jointmap::demo::{write_feature_collection, DemoConfig, Scenario};
use jointmap::ingest::{ingest, IngestOptions, Input};
use jointmap::model::Layer;
use jointmap::store::{FeatureSource, GpkgStore, Query};
use std::path::PathBuf;
use std::time::Instant;

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
        bench_query(
            &mut group,
            &dir.path().join(format!("query-{n}.gpkg")),
            &file,
            n,
        );
    }
    group.finish();
}

/// Reads `layer` through `Store::query`, returning how many features came back.
fn count(store: &GpkgStore, layer: Layer, q: &Query) -> u64 {
    let mut seen = 0u64;
    let n = store
        .query(layer, q, &mut |f| {
            seen += f.properties.len() as u64 / 1024; // touch the feature
            Ok(())
        })
        .expect("query");
    std::hint::black_box(seen);
    n
}

fn bench_query(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    store_path: &std::path::Path,
    file: &std::path::Path,
    n: usize,
) {
    let store = GpkgStore::open_unindexed(store_path).expect("store");
    ingest(
        &store,
        &IngestOptions::new(Layer::Incidents),
        vec![Input::Path(file.to_path_buf())],
        &|_, _| {},
    )
    .expect("ingest");
    let all = Query::default();
    let b = store
        .index(Layer::Incidents)
        .expect("index")
        .bbox()
        .expect("not empty");
    let quarter = Query {
        bbox: Some([b[0], b[1], (b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0]),
        ..Query::default()
    };
    group.bench_function(format!("query_all_{n}"), |bench| {
        bench.iter(|| assert_eq!(count(&store, Layer::Incidents, &all), n as u64))
    });
    group.bench_function(format!("query_bbox_{n}"), |bench| {
        bench.iter(|| count(&store, Layer::Incidents, &quarter))
    });
}

/// `JOINTMAP_BENCH_QUERY_STORE`: times reads of an existing store's incidents,
/// all of them, and those in the south-west quarter of their extent
/// (`JOINTMAP_BENCH_QUERY=all` or `bbox` for one of the two).
fn query_once(path: &std::path::Path) {
    // jointmap always runs other threads (rayon's pool, the server's
    // runtime); some allocators take slower paths once a process has any.
    std::thread::spawn(|| {}).join().expect("thread");
    let store = GpkgStore::open_unindexed(path).expect("store");
    let runs: usize = std::env::var("JOINTMAP_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let which = std::env::var("JOINTMAP_BENCH_QUERY").unwrap_or_default();
    let mut cases = Vec::new();
    if which != "bbox" {
        cases.push(("all incidents", Query::default()));
    }
    if which != "all" {
        let b = store
            .index(Layer::Incidents)
            .expect("index")
            .bbox()
            .expect("not empty");
        let quarter = Query {
            bbox: Some([b[0], b[1], (b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0]),
            ..Query::default()
        };
        cases.push(("incidents in a quarter", quarter));
    }
    for (what, q) in cases {
        let mut times = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let n = count(&store, Layer::Incidents, &q);
            let s = t.elapsed().as_secs_f64();
            println!("query {what}: {n} in {s:.3}s");
            times.push(s);
        }
        times.sort_by(f64::total_cmp);
        println!("{what}: median {:.3}s over {runs} runs", times[runs / 2]);
    }
}

fn main() {
    if let Some(path) = std::env::var_os("JOINTMAP_BENCH_QUERY_STORE") {
        query_once(std::path::Path::new(&path));
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    bench_ingest(&mut c);
    c.final_summary();
}

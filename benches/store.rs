//! Reads pushed down to the store: one feature by id (`get`) and a page of
//! 100 deep in a layer (`walk` from the id at 90 % of the id order), on
//! synthetic incident layers of 10,000 and 1,000,000 features. Neither may
//! read the layer: both should take the same time at both sizes.
//!
//! ```sh
//! cargo bench --bench store -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Medians on the 2-core development machine (2026-12-02, under load from
//! other builds): get by id 11.2 µs (10k) and 24.8 µs (1M); a page of 100
//! at 90 % 0.69 ms (10k) and 0.99 ms (1M). Reading the whole 1M layer, what
//! a deep page or an item cost before, takes seconds. The remaining growth
//! is the B-tree's depth and the page cache (the 1M file is 330 MB), not
//! the layer's size.
//!
//! The layers are generated once (seeded; ids in an order unrelated to the
//! storage order) into `target/bench-stores/` (or `JOINTMAP_BENCH_STORE_DIR`)
//! by writing features directly through one batch.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use jointmap::model::{Feature, Layer};
use jointmap::rng::{mix64, Rng};
use jointmap::store::{Direction, FeatureSink, FeatureSource, GpkgStore, Query};
use std::hint::black_box;
use std::ops::{Bound, ControlFlow};
use std::path::PathBuf;
use std::time::Instant;

const SIZES: [usize; 2] = [10_000, 1_000_000];

/// The id of the `i`-th feature written: hashed, so id order and storage
/// order are unrelated.
fn id(i: usize) -> String {
    format!("inc-{:016x}", mix64(i as u64))
}

/// A layer of `n` incidents, generated once.
fn store(n: usize) -> GpkgStore {
    let dir = std::env::var_os("JOINTMAP_BENCH_STORE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-stores"));
    std::fs::create_dir_all(&dir).expect("bench store directory");
    let path = dir.join(format!("keyed-{n}.gpkg"));
    let done = dir.join(format!("keyed-{n}.done"));
    if !done.exists() {
        let _ = std::fs::remove_file(&path);
        let t = Instant::now();
        let store = GpkgStore::open_unindexed(&path).expect("open store");
        let template = Feature::from_geojson_str(
            Layer::Incidents,
            r#"{"type":"Feature","id":"x","geometry":{"type":"Point","coordinates":[18,5]},
               "properties":{"time":"2024-01-01","category":"killing","killed_men":1,
               "perpetrator":"Group A","perpetrator_category":"non-state-armed-group"}}"#,
        )
        .expect("valid template");
        let mut rng = Rng::new(16);
        let mut batch = store.begin().expect("begin");
        for i in 0..n {
            let mut f = template.clone();
            f.id = id(i);
            f.geometry = geo_types::Point::new(rng.range(15.0, 23.0), rng.range(3.0, 8.0)).into();
            f.time.start += chrono::TimeDelta::minutes(rng.below(2 * 365 * 24 * 60) as i64);
            batch.upsert(Layer::Incidents, &f).expect("upsert");
        }
        batch.commit().expect("commit");
        std::fs::write(&done, b"").expect("marker");
        eprintln!(
            "generated {} in {:.1} s",
            path.display(),
            t.elapsed().as_secs_f64()
        );
    }
    GpkgStore::open_unindexed(&path).expect("open store")
}

fn pushdown(c: &mut Criterion) {
    let mut group = c.benchmark_group("store");
    for n in SIZES {
        let store = store(n);
        let source: &dyn FeatureSource = &store;
        // Stored ids to look up, spread over the whole layer.
        let mut rng = Rng::new(7);
        let probes: Vec<String> = (0..1000)
            .map(|_| id(rng.below(n as u64) as usize))
            .collect();
        let mut sorted: Vec<String> = (0..n).map(id).collect();
        sorted.sort_unstable();
        let deep = sorted[n * 9 / 10].clone();
        drop(sorted);
        let mut next = 0;
        group.bench_function(BenchmarkId::new("get_by_id", n), |b| {
            b.iter(|| {
                next = (next + 1) % probes.len();
                let f = source
                    .get(Layer::Incidents, &probes[next])
                    .expect("get")
                    .expect("stored");
                black_box(f)
            })
        });
        group.bench_function(BenchmarkId::new("page_100_at_90pct", n), |b| {
            b.iter(|| {
                let mut page = Vec::with_capacity(100);
                source
                    .walk(
                        Layer::Incidents,
                        &Query::default(),
                        Bound::Excluded(&deep),
                        Direction::Ascending,
                        &mut |f| {
                            page.push(f);
                            Ok(if page.len() == 100 {
                                ControlFlow::Break(())
                            } else {
                                ControlFlow::Continue(())
                            })
                        },
                    )
                    .expect("walk");
                assert_eq!(page.len(), 100);
                black_box(page)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, pushdown);
criterion_main!(benches);

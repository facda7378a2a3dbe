//! Criterion benchmarks: DBSCAN and ST-DBSCAN on the peers' synthetic layout
//! (60 Gaussian clusters, sigma 0.08 degrees, plus 20 % uniform noise, in
//! 27.3-32.7 E, 5.2-8.8 N; eps 2 km, min 20, as in the peers' scikit-learn
//! figure).
//!
//! ```text
//! cargo bench --bench clusters                      # DBSCAN 100k (1 and 2 threads), ST-DBSCAN 100k
//! JOINTMAP_BENCH_1M=1 cargo bench --bench clusters  # adds DBSCAN 1M (1 and 2 threads)
//! JOINTMAP_BENCH_DEMO=1000000 cargo bench --bench clusters -- demo  # the demo's incidents
//! ```
//!
//! `JOINTMAP_BENCH_DEMO=N` adds `dbscan_demo/N/tT`: DBSCAN (eps 2 km, min 20) on
//! the positions of the incidents of `jointmap demo --incidents N` (default
//! seed), the layout of the issue's end-to-end `clusters` figure: towns,
//! roads and flare-ups, far denser than the peers' layout.
//!
//! HDBSCAN (min cluster size 20, planar metres) runs on 100k points of the same
//! layout, projected as the peers' script projects them (`hdbscan/100000/tT`).
//!
//! Environment, used by `benches/compare/dbscan.sh` and
//! `benches/compare/hdbscan.sh` to run the very points they give the peers:
//! - `JOINTMAP_BENCH_HDBSCAN_POINTS=FILE`: benchmark HDBSCAN on FILE
//!   (little-endian f64 x, y pairs in metres, from `benches/compare/hdbscan_peers.py`)
//!   as `hdbscan_file/N/tT`; with `JOINTMAP_BENCH_ONCE=1`, cluster it once,
//!   print the time and write the labels to `JOINTMAP_BENCH_LABELS_OUT` (i32);
//! - `JOINTMAP_BENCH_POINTS=FILE`: benchmark DBSCAN on FILE (little-endian f64
//!   lon, lat pairs, from `benches/compare/dbscan.py`) instead of the built-in
//!   generator, as `dbscan_file/N/tT` for T in 1 and 2 threads;
//! - `JOINTMAP_BENCH_ONCE=1`: no criterion: cluster the points once (FILE, the
//!   demo's incidents with `JOINTMAP_BENCH_DEMO=N`, or `JOINTMAP_BENCH_N`
//!   generated points, default 1M) and print the time, for
//!   peak-memory measurements; with `JOINTMAP_BENCH_LABELS=FILE` (i32 labels)
//!   also check the labels against scikit-learn's.

use criterion::{BenchmarkId, Criterion, Throughput};
use jointmap::analysis::dbscan::{dbscan, Clustering};
use jointmap::analysis::hdbscan::{hdbscan_planar, HdbscanParams};
use jointmap::analysis::st_dbscan::st_dbscan;
use jointmap::demo::{DemoConfig, Scenario};
use rayon::prelude::*;
use std::time::Instant;

const EPS_M: f64 = 2000.0;
const MIN_POINTS: usize = 20;

/// splitmix64: a small seeded generator, so the layout is the same everywhere.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
    }
    fn normal(&mut self) -> f64 {
        let u = self.uniform(f64::MIN_POSITIVE, 1.0);
        let v = self.uniform(0.0, std::f64::consts::TAU);
        (-2.0 * u.ln()).sqrt() * v.cos()
    }
}

/// The peers' layout (`ref_bench.py points()`), from this crate's generator.
fn peer_layout(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut r = Rng(seed);
    let centres: Vec<(f64, f64)> = (0..60)
        .map(|_| (r.uniform(27.3, 32.7), r.uniform(5.2, 8.8)))
        .collect();
    let (mut lon, mut lat) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let (x, y) = if r.uniform(0.0, 1.0) < 0.2 {
            (r.uniform(27.3, 32.7), r.uniform(5.2, 8.8))
        } else {
            let c = centres[(r.next_u64() % 60) as usize];
            (c.0 + 0.08 * r.normal(), c.1 + 0.08 * r.normal())
        };
        lon.push(x);
        lat.push(y);
    }
    (lon, lat)
}

/// Event times spread uniformly over 2023, Unix seconds.
fn times(n: usize, seed: u64) -> Vec<i64> {
    let mut r = Rng(seed);
    (0..n)
        .map(|_| 1_672_531_200 + r.uniform(0.0, 365.0 * 86_400.0) as i64)
        .collect()
}

/// The positions of the demo's first `n` incidents (default seed).
fn demo_layout(n: usize) -> (Vec<f64>, Vec<f64>) {
    let s = Scenario::new(&DemoConfig {
        incidents: n,
        ..DemoConfig::default()
    });
    (0..n)
        .into_par_iter()
        .map(|i| {
            let f = s.incident(i);
            let c = &f["geometry"]["coordinates"];
            let get = |k: usize| c[k].as_f64().expect("a point incident");
            (get(0), get(1))
        })
        .unzip()
}

fn read_points(path: &str) -> (Vec<f64>, Vec<f64>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(bytes.len() % 16 == 0, "{path}: not lon, lat f64 pairs");
    let f = |b: &[u8]| f64::from_le_bytes(b.try_into().expect("8 bytes"));
    bytes
        .chunks_exact(16)
        .map(|c| (f(&c[..8]), f(&c[8..])))
        .unzip()
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
}

fn bench_dbscan(c: &mut Criterion, group: &str, lon: &[f64], lat: &[f64]) {
    let n = lon.len();
    let mut g = c.benchmark_group(group);
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    for threads in [1, 2] {
        let pool = pool(threads);
        g.bench_with_input(
            BenchmarkId::new(format!("{n}"), format!("t{threads}")),
            &(),
            |b, _| b.iter(|| pool.install(|| dbscan(lon, lat, EPS_M, MIN_POINTS).expect("dbscan"))),
        );
    }
    g.finish();
}

const HDBSCAN: HdbscanParams = HdbscanParams {
    min_cluster_size: 20,
    min_samples: None,
};

/// Degrees to metres as the peers' `proj_m` does (equirectangular about 7 N).
fn proj_m(lon: &[f64], lat: &[f64]) -> Vec<[f64; 2]> {
    const R: f64 = 6_371_008.8;
    let k = 7.0f64.to_radians().cos();
    lon.iter()
        .zip(lat)
        .map(|(x, y)| [x.to_radians() * R * k, y.to_radians() * R])
        .collect()
}

fn bench_hdbscan(c: &mut Criterion, group: &str, xy: &[[f64; 2]]) {
    let n = xy.len();
    let mut g = c.benchmark_group(group);
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    for threads in [1, 2] {
        let pool = pool(threads);
        g.bench_with_input(
            BenchmarkId::new(format!("{n}"), format!("t{threads}")),
            &(),
            |b, _| b.iter(|| pool.install(|| hdbscan_planar(xy, &HDBSCAN).expect("hdbscan"))),
        );
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    if let Ok(path) = std::env::var("JOINTMAP_BENCH_HDBSCAN_POINTS") {
        let (x, y) = read_points(&path);
        let xy: Vec<[f64; 2]> = x.into_iter().zip(y).map(|(a, b)| [a, b]).collect();
        bench_hdbscan(c, "hdbscan_file", &xy);
        return;
    }
    if let Ok(path) = std::env::var("JOINTMAP_BENCH_POINTS") {
        let (lon, lat) = read_points(&path);
        bench_dbscan(c, "dbscan_file", &lon, &lat);
        return;
    }
    if let Some(n) = std::env::var("JOINTMAP_BENCH_DEMO")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        let (lon, lat) = demo_layout(n);
        bench_dbscan(c, "dbscan_demo", &lon, &lat);
    }
    let (lon, lat) = peer_layout(100_000, 42);
    bench_dbscan(c, "dbscan", &lon, &lat);
    bench_hdbscan(c, "hdbscan", &proj_m(&lon, &lat));

    // ST-DBSCAN: 5 km and 30 days, min 10, events spread over one year (with
    // eps 2 km / min 20 nearly every event would be noise once time splits them).
    let time = times(lon.len(), 43);
    let mut g = c.benchmark_group("st_dbscan");
    g.sample_size(10);
    g.throughput(Throughput::Elements(lon.len() as u64));
    g.bench_function("100000", |b| {
        b.iter(|| st_dbscan(&lon, &lat, &time, 5000.0, 30 * 86_400, 10).expect("st_dbscan"))
    });
    g.finish();

    if std::env::var("JOINTMAP_BENCH_1M").is_ok_and(|v| v == "1") {
        let (lon, lat) = peer_layout(1_000_000, 42);
        bench_dbscan(c, "dbscan", &lon, &lat);
    }
}

/// One HDBSCAN, timed, its labels written for the comparison script.
fn once_hdbscan(path: &str) {
    let (x, y) = read_points(path);
    let xy: Vec<[f64; 2]> = x.into_iter().zip(y).map(|(a, b)| [a, b]).collect();
    let t = Instant::now();
    let h = hdbscan_planar(&xy, &HDBSCAN).expect("hdbscan");
    let dt = t.elapsed().as_secs_f64();
    let clusters = h.labels.iter().max().map_or(0, |&m| m + 1);
    let noise = h.labels.iter().filter(|&&l| l < 0).count();
    println!(
        "jointmap HDBSCAN n={}: {dt:.3} s, clusters={clusters}, noise={noise}, threads={}",
        xy.len(),
        rayon::current_num_threads()
    );
    if let Ok(out) = std::env::var("JOINTMAP_BENCH_LABELS_OUT") {
        let bytes: Vec<u8> = h.labels.iter().flat_map(|l| l.to_le_bytes()).collect();
        std::fs::write(&out, bytes).unwrap_or_else(|e| panic!("{out}: {e}"));
    }
}

/// One clustering, timed, for `/usr/bin/time` (peak memory) and a check of the
/// labels against scikit-learn's.
fn once() {
    if let Ok(path) = std::env::var("JOINTMAP_BENCH_HDBSCAN_POINTS") {
        once_hdbscan(&path);
        return;
    }
    let demo = std::env::var("JOINTMAP_BENCH_DEMO")
        .ok()
        .and_then(|s| s.parse().ok());
    let (lon, lat) = match (std::env::var("JOINTMAP_BENCH_POINTS"), demo) {
        (Ok(path), _) => read_points(&path),
        (Err(_), Some(n)) => demo_layout(n),
        (Err(_), None) => {
            let n = std::env::var("JOINTMAP_BENCH_N")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(1_000_000);
            peer_layout(n, 42)
        }
    };
    let t = Instant::now();
    let c: Clustering = dbscan(&lon, &lat, EPS_M, MIN_POINTS).expect("dbscan");
    let dt = t.elapsed().as_secs_f64();
    println!(
        "jointmap DBSCAN n={}: {dt:.2} s, clusters={}, noise={}, threads={}",
        lon.len(),
        c.cluster_count(),
        c.noise_count(),
        rayon::current_num_threads()
    );
    if let Ok(path) = std::env::var("JOINTMAP_BENCH_LABELS") {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let want: Vec<i32> = bytes
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect();
        let differ = want.iter().zip(&c.labels).filter(|(a, b)| a != b).count();
        println!(
            "labels vs scikit-learn: {} of {} differ{}",
            differ,
            want.len(),
            if differ == 0 && want.len() == c.labels.len() {
                " (identical)"
            } else {
                ""
            }
        );
    }
}

fn main() {
    if std::env::var("JOINTMAP_BENCH_ONCE").is_ok_and(|v| v == "1") {
        once();
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
}

//! Criterion benchmark: spatial weights, Getis-Ord Gi* and Local Moran's I on
//! a 447 x 447 lattice (199,809 cells, unit spacing), distance band 3 (28
//! neighbours for an inner cell), binary weights: the peers' input shape
//! (see /work/shared/peers/README.md).
//!
//! Values are small integer counts from a hash of the cell index plus planted
//! 40 x 40 hot blocks; `benches/compare/gistar.py` builds the identical input
//! for esda and pygeoda, and `benches/compare/gistar.sh` runs both side by side.
//!
//! Threads: rayon's global pool, so `RAYON_NUM_THREADS=1 cargo bench --bench
//! hotspots` gives the single-thread figures. `JOINTMAP_BENCH_CELLS` overrides
//! the lattice size (a square of that many cells, rounded down).

use criterion::{criterion_group, criterion_main, Criterion};
use jointmap::analysis::getis_ord::{gi_star, Transform};
use jointmap::analysis::local_moran::local_moran;
use jointmap::analysis::weights::Weights;
use jointmap::rng::mix64;

// The jointmap binary runs on mimalloc (src/main.rs); measure with the same allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Seed of the value hash; the Python side uses the same constant.
const SEED: u64 = 20261123;
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The benchmark lattice: coordinates and values, identical to gistar.py's.
fn lattice(cells: usize) -> (Vec<[f64; 2]>, Vec<f64>) {
    let side = (cells as f64).sqrt() as usize;
    let mut xy = Vec::with_capacity(side * side);
    let mut y = Vec::with_capacity(side * side);
    for r in 0..side {
        for c in 0..side {
            let i = (r * side + c) as u64;
            xy.push([c as f64, r as f64]);
            let noise = mix64(i.wrapping_mul(GOLDEN) ^ SEED) >> 62; // 0..=3
            let hot = ((c / 40) * 7 + (r / 40) * 3) % 11 == 0;
            y.push((noise + if hot { 4 } else { 0 }) as f64);
        }
    }
    (xy, y)
}

fn bench_hotspots(c: &mut Criterion) {
    let cells: usize = std::env::var("JOINTMAP_BENCH_CELLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let (xy, y) = lattice(cells);
    let n = xy.len();
    let w = Weights::distance_band(&xy, 3.0).expect("weights");
    eprintln!(
        "lattice: {n} cells, {} links, rayon threads: {}",
        w.n_links(),
        rayon::current_num_threads()
    );

    let mut group = c.benchmark_group("hotspots");
    group.sample_size(10);
    group.bench_function(format!("weights_band3_{n}"), |b| {
        b.iter(|| Weights::distance_band(&xy, 3.0).expect("weights"))
    });
    group.bench_function(format!("gistar_stat_{n}"), |b| {
        b.iter(|| gi_star(&y, &w, Transform::Binary).expect("gi*"))
    });
    // The figure compared with the peers: weights and statistic.
    group.bench_function(format!("gistar_total_{n}"), |b| {
        b.iter(|| {
            let w = Weights::distance_band(&xy, 3.0).expect("weights");
            gi_star(&y, &w, Transform::Binary).expect("gi*")
        })
    });
    group.bench_function(format!("local_moran_99_total_{n}"), |b| {
        b.iter(|| {
            let w = Weights::distance_band(&xy, 3.0).expect("weights");
            local_moran(&y, &w, 99, 12345).expect("local moran")
        })
    });
    group.finish();
}

criterion_group!(benches, bench_hotspots);
criterion_main!(benches);

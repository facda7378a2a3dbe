//! Criterion benchmark: aggregation grids and kernel density.
//!
//! - building a square grid of 1 km cells over a 600 x 400 km box (~240k cells);
//! - aggregating 1M points onto it;
//! - quartic kernel density of 100k events at its 240k cell centres, 5 km bandwidth.
//!
//! Run with `cargo bench --bench grid`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use jointmap::analysis::kde::{kde, Kernel};
use jointmap::grid::{Area, Grid};

/// About 600 km east-west by 400 km north-south in western CAR.
const AREA: [f64; 4] = [15.5, 4.0, 20.92, 7.62];

/// Seeded clustered points over (and slightly beyond) the area: half around
/// a few towns, half uniform.
fn points(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut s: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let towns = [
        (18.55, 4.36),
        (16.4, 5.2),
        (19.1, 6.6),
        (17.3, 7.1),
        (20.4, 5.0),
    ];
    let [w, s0, e, n0] = AREA;
    let (mut lon, mut lat) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        if i % 2 == 0 {
            let (tx, ty) = towns[i / 2 % towns.len()];
            // Sum of uniforms: a cheap bell of ~0.3 degrees.
            lon.push(tx + (next() + next() + next() - 1.5) * 0.4);
            lat.push(ty + (next() + next() + next() - 1.5) * 0.4);
        } else {
            lon.push(w - 0.1 + (e - w + 0.2) * next());
            lat.push(s0 - 0.1 + (n0 - s0 + 0.2) * next());
        }
    }
    (lon, lat)
}

fn bench_grid(c: &mut Criterion) {
    let area = Area::BBox(AREA);
    let mut group = c.benchmark_group("grid");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));

    group.bench_function("square_600x400km_1km", |b| {
        b.iter(|| Grid::square(&area, 1000.0).expect("grid"))
    });

    let grid = Grid::square(&area, 1000.0).expect("grid");
    let (lon, lat) = points(1_000_000);
    group.throughput(Throughput::Elements(lon.len() as u64));
    group.bench_function("aggregate_1M_points", |b| {
        b.iter(|| grid.aggregate(&lon, &lat, &[]).expect("aggregate"))
    });

    let (lon, lat) = points(100_000);
    let xy: Vec<[f64; 2]> = lon
        .iter()
        .zip(&lat)
        .map(|(&x, &y)| grid.project(x, y))
        .collect();
    let at = grid.centres_xy();
    group.throughput(Throughput::Elements(at.len() as u64));
    group.bench_function("kde_quartic_100k_events_240k_cells_5km", |b| {
        b.iter(|| kde(&xy, &[], &at, Kernel::Quartic, 5_000.0).expect("kde"))
    });
    group.finish();
}

/// Dissolve of about 50k selected cells (blobs around random centres) on the
/// 1 km square grid and on H3 resolution 7, connected components, and
/// cells-within-a-distance queries (were timing-only ignored tests).
fn bench_topology(c: &mut Criterion) {
    use jointmap::grid::components::components;
    use jointmap::grid::dissolve::dissolve;
    use jointmap::rng::Rng;
    let area = Area::BBox(AREA);
    let mut group = c.benchmark_group("grid_topology");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let g = Grid::square(&area, 1000.0).expect("grid");
    let mut rng = Rng::new(3);
    let centres: Vec<[f64; 2]> = (0..40)
        .map(|_| {
            [
                -250_000.0 + 500_000.0 * rng.f64(),
                -150_000.0 + 300_000.0 * rng.f64(),
            ]
        })
        .collect();
    let cells: Vec<usize> = (0..g.len())
        .filter(|&i| {
            let c = g.cells[i].xy;
            centres
                .iter()
                .any(|p| (c[0] - p[0]).hypot(c[1] - p[1]) < 20_000.0)
                && rng.f64() < 0.97
        })
        .collect();
    group.throughput(Throughput::Elements(cells.len() as u64));
    group.bench_function("dissolve_square_1km_blobs", |b| {
        b.iter(|| dissolve(&g, &cells))
    });
    let h = Grid::h3(&area, 7).expect("h3 grid");
    let cells: Vec<usize> = (0..h.len())
        .filter(|_| rng.f64() < 0.9)
        .take(50_000)
        .collect();
    group.throughput(Throughput::Elements(cells.len() as u64));
    group.bench_function("dissolve_h3_r7_50k", |b| b.iter(|| dissolve(&h, &cells)));
    let mut sel = vec![false; h.len()];
    cells.iter().for_each(|&i| sel[i] = true);
    group.bench_function("components_h3_r7_50k", |b| b.iter(|| components(&h, &sel)));
    let pts: Vec<[f64; 2]> = (0..100_000)
        .map(|_| {
            [
                -300_000.0 + 600_000.0 * rng.f64(),
                -200_000.0 + 400_000.0 * rng.f64(),
            ]
        })
        .collect();
    group.throughput(Throughput::Elements(pts.len() as u64));
    for (name, grid) in [("square_1km", &g), ("h3_r7", &h)] {
        group.bench_function(format!("cells_within_5km_100k_queries_{name}"), |b| {
            b.iter(|| {
                let mut hits = 0u64;
                for &xy in &pts {
                    grid.for_each_cell_within(xy, 5_000.0, |_| hits += 1);
                }
                hits
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_grid, bench_topology);
criterion_main!(benches);

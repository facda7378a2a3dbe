//! Criterion benchmark of the trends analysis.
//!
//! - `trends/1M events`: the whole analysis (cube, space-time Gi*, FDR,
//!   Mann-Kendall, Sen's slope, categories) on 1,000,000 synthetic events over
//!   about 3 x 3 degrees of western CAR for one year: 5 km cells, weekly
//!   steps (52), band 7.5 km, window 2; events from a hash of their index
//!   (uniform background, a few lasting and a few escalating hot areas).
//! - `trends/classify 240k x 52`: the statistics alone on a cube of 240,000
//!   cells (a 490 x 490 lattice, unit spacing, band 1.5: the eight queen
//!   neighbours) x 52 steps of small integer counts (the acceptance size of
//!   issue 18).
//!
//! `RAYON_NUM_THREADS=1 cargo bench --bench trends` for single-thread figures.

use criterion::{criterion_group, criterion_main, Criterion};
use jointmap::analysis::hotspots::GridSpec;
use jointmap::analysis::trends::{classify_bins, trends, TrendParams};
use jointmap::analysis::weights::Weights;
use jointmap::analysis::Events;
use jointmap::rng::mix64;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SEED: u64 = 20261202;
const DAY: i64 = 86_400;
/// Monday 2025-01-06.
const T0: i64 = 1_736_121_600;

fn unit(i: u64, k: u64) -> f64 {
    (mix64(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ SEED ^ k.wrapping_mul(0xD1B5_4A32_D192_ED03))
        >> 11) as f64
        / (1u64 << 53) as f64
}

fn events(n: usize) -> Events {
    let mut e = Events::default();
    for i in 0..n as u64 {
        let (x, y, t) = (unit(i, 1), unit(i, 2), unit(i, 3));
        let kind = i % 10;
        let (lon, lat, t) = match kind {
            // Lasting hot areas, all year.
            0 | 1 => (
                16.5 + 0.5 * (i % 5) as f64 + 0.05 * x,
                5.0 + 0.4 * (i % 3) as f64 + 0.05 * y,
                t,
            ),
            // Escalations in the last quarter.
            2 => (
                19.0 + 0.3 * (i % 4) as f64 + 0.04 * x,
                7.0 + 0.04 * y,
                0.75 + 0.25 * t,
            ),
            _ => (16.0 + 3.0 * x, 4.5 + 3.0 * y, t),
        };
        e.push(
            String::new(),
            lon,
            lat,
            T0 + (t * 364.0 * DAY as f64) as i64,
            1.0,
            "killing".into(),
            String::new(),
        );
    }
    e
}

fn bench_trends(c: &mut Criterion) {
    let n: usize = std::env::var("JOINTMAP_BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let e = events(n);
    let params = TrendParams {
        grid: GridSpec::Square { cell_m: 5_000.0 },
        anchor: Some([16.0, 4.5]),
        band_m: Some(7_500.0),
        step_s: 7 * DAY,
        reference: Some(T0),
        as_of: Some(T0 + 364 * DAY - 1),
        window: 2,
        ..TrendParams::default()
    };
    let t = trends(&e, &params).expect("trends");
    eprintln!(
        "{} events, {} cells with events x {} steps, rayon threads: {}; patterns: {} cells",
        t.cube.events,
        t.cube.len(),
        t.cube.steps(),
        rayon::current_num_threads(),
        t.cells
            .iter()
            .filter(|c| c.pattern != jointmap::analysis::trends::emerging::Pattern::NoPattern)
            .count()
    );
    let mut group = c.benchmark_group("trends");
    group.sample_size(10);
    group.bench_function(format!("{}k events", n / 1000), |b| {
        b.iter(|| trends(&e, &params).expect("trends"))
    });

    let side = 490usize;
    let steps = 52usize;
    let xy: Vec<[f64; 2]> = (0..side * side)
        .map(|i| [(i % side) as f64, (i / side) as f64])
        .collect();
    let values: Vec<f64> = (0..side * side * steps)
        .map(|k| {
            let (cell, step) = (k / steps, k % steps);
            let (c, r) = (cell % side, cell / side);
            let hot = ((c / 40) * 7 + (r / 40) * 3) % 11 == 0 && step > 30;
            ((mix64(k as u64 ^ SEED) >> 62) + if hot { 3 } else { 0 }) as f64
        })
        .collect();
    let w = Weights::distance_band(&xy, 1.5).expect("weights");
    group.bench_function("classify 240k x 52", |b| {
        b.iter(|| classify_bins(&values, steps, &w, 1, true, 0.05).expect("classify"))
    });
    group.finish();
}

criterion_group!(benches, bench_trends);
criterion_main!(benches);

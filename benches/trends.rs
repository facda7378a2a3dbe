//! Criterion benchmark of the trends analysis.
//!
//! - `trends/1M events`: the whole analysis (cube, space-time Gi*, FDR,
//!   Mann-Kendall, Sen's slope, categories) on 1,000,000 synthetic events over
//!   about 3 x 3 degrees of western CAR for one year: 5 km cells, weekly
//!   steps (52), band 7.5 km, window 2; events from a hash of their index
//!   (uniform background, a few lasting and a few escalating hot areas).
//! - `trends/classify 240k x 52`: the acceptance benchmark of issue 18: a
//!   cube of 240,100 cells (a 490 x 490 lattice, unit spacing, band 1.5: the
//!   eight queen neighbours) x 52 steps classified, from the values and cell
//!   centres to each cell's category: weights, Gi* per bin (window 1), FDR
//!   classes, Mann-Kendall and Sen's slope per cell on the values and on the
//!   z series, the emerging hot spot category. With `JOINTMAP_TRENDS_CUBE`
//!   the cube is read from that file (benches/compare/trends.sh writes it,
//!   and its Python reference classifies the same file) and the categories
//!   are written beside it (`.patterns`) for the reference to compare.
//!
//! `RAYON_NUM_THREADS=1 cargo bench --bench trends` for single-thread figures;
//! `cargo bench --bench trends -- classify` for the acceptance figure alone.

use criterion::{criterion_group, criterion_main, Criterion};
use jointmap::analysis::hotspots::GridSpec;
use jointmap::analysis::trends::emerging::Pattern;
use jointmap::analysis::trends::{classify_bins, trends, TrendParams};
use jointmap::analysis::weights::Weights;
use jointmap::analysis::Events;
use jointmap::rng::mix64;
use std::cell::OnceCell;
use std::path::{Path, PathBuf};

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
    let mut group = c.benchmark_group("trends");
    group.sample_size(10);
    // Each benchmark's data is made the first time its closure runs, so a
    // filter (`-- classify`) skips the other's setup.
    let n: usize = std::env::var("JOINTMAP_BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
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
    let events_once = OnceCell::new();
    group.bench_function(format!("{}k events", n / 1000), |b| {
        let e =
            events_once.get_or_init(|| {
                let e = events(n);
                let t = trends(&e, &params).expect("trends");
                eprintln!(
                "{} events, {} cells with events x {} steps, rayon threads: {}; patterns: {} cells",
                t.cube.events,
                t.cube.len(),
                t.cube.steps(),
                rayon::current_num_threads(),
                t.cells.iter().filter(|c| c.pattern != Pattern::NoPattern).count()
            );
                e
            });
        b.iter(|| trends(e, &params).expect("trends"))
    });

    let cube_once = OnceCell::new();
    group.bench_function("classify 240k x 52", |b| {
        let (xy, values, steps) = cube_once.get_or_init(classify_setup);
        b.iter(|| classify(xy, values, *steps))
    });
    group.finish();
}

/// Timed: everything from the cube's values and cell centres to each cell's
/// category: the distance-band weights, Gi* per bin, the bins' classes with
/// FDR, Mann-Kendall and Sen's slope per cell (on the values and on the z
/// series) and the emerging hot spot category.
fn classify(xy: &[[f64; 2]], values: &[f64], steps: usize) -> Vec<Pattern> {
    let w = Weights::distance_band(xy, 1.5).expect("weights");
    let (_, _, cells) = classify_bins(values, steps, &w, 1, true, 0.05).expect("classify");
    cells.iter().map(|c| c.pattern).collect()
}

/// The acceptance cube of issue 18, 240k cells x 52 steps: read from the
/// file benches/compare/trends.sh writes (its Python reference reads the
/// same file), and then the categories written beside it (`.patterns`, one
/// per line in cell order) for the reference to compare; else made here.
fn classify_setup() -> (Vec<[f64; 2]>, Vec<f64>, usize) {
    let Some(path) = std::env::var_os("JOINTMAP_TRENDS_CUBE") else {
        return lattice_cube(490, 52);
    };
    let (xy, values, steps) = read_cube(Path::new(&path));
    let mut out = String::with_capacity(xy.len() * 16);
    let patterns = classify(&xy, &values, steps);
    for p in &patterns {
        out.push_str(p.as_str());
        out.push('\n');
    }
    let mut file = PathBuf::from(path);
    file.set_extension("patterns");
    std::fs::write(&file, out).expect("write the categories");
    eprintln!(
        "classify: {} cells x {steps} steps (window 1, FDR, trend alpha 0.05, band 1.5); \
         {} cells with a pattern; categories written to {}",
        xy.len(),
        patterns
            .iter()
            .filter(|&&p| p != Pattern::NoPattern)
            .count(),
        file.display()
    );
    (xy, values, steps)
}

/// A cube file of benches/compare/trends.py: `JMCUBE1\0`, u32 columns,
/// rows, steps and 0, then the f64 values (little-endian), cell-major; the
/// cells a unit lattice, cell = row * columns + column.
fn read_cube(path: &Path) -> (Vec<[f64; 2]>, Vec<f64>, usize) {
    let bytes = std::fs::read(path).expect("read the cube file");
    assert!(
        bytes.len() >= 24 && &bytes[..8] == b"JMCUBE1\0",
        "not a cube file"
    );
    let u = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes")) as usize;
    let (cols, rows, steps) = (u(8), u(12), u(16));
    let values: Vec<f64> = bytes[24..]
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
        .collect();
    assert_eq!(values.len(), cols * rows * steps, "cube size");
    let xy = (0..cols * rows)
        .map(|i| [(i % cols) as f64, (i / cols) as f64])
        .collect();
    (xy, values, steps)
}

/// A `side` x `side` unit lattice x `steps` of small integer counts, with
/// escalating blocks late in the series.
fn lattice_cube(side: usize, steps: usize) -> (Vec<[f64; 2]>, Vec<f64>, usize) {
    let xy = (0..side * side)
        .map(|i| [(i % side) as f64, (i / side) as f64])
        .collect();
    let values = (0..side * side * steps)
        .map(|k| {
            let (cell, step) = (k / steps, k % steps);
            let (c, r) = (cell % side, cell / side);
            let hot = ((c / 40) * 7 + (r / 40) * 3) % 11 == 0 && step > 30;
            ((mix64(k as u64 ^ SEED) >> 62) + if hot { 3 } else { 0 }) as f64
        })
        .collect();
    (xy, values, steps)
}

criterion_group!(benches, bench_trends);
criterion_main!(benches);

//! Shared by the tests of the hotspot files: golden files, the UCDP grid, a
//! seeded generator and tolerant comparisons.

use super::Weights;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A golden file from `tests/golden` (written by tools/reference/gistar_moran.py).
pub fn golden(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run tools/reference/gistar_moran.py",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A JSON array of numbers (null = NaN).
pub fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

/// `[[x, y], ...]` as coordinate pairs.
pub fn xy_pairs(v: &Value) -> Vec<[f64; 2]> {
    v.as_array()
        .expect("array of pairs")
        .iter()
        .map(|p| [p[0].as_f64().expect("x"), p[1].as_f64().expect("y")])
        .collect()
}

/// A JSON array of integers.
pub fn i64s(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_i64().expect("integer"))
        .collect()
}

/// Points from parallel `x` and `y` arrays.
pub fn points(x: &Value, y: &Value) -> Vec<[f64; 2]> {
    f64s(x)
        .into_iter()
        .zip(f64s(y))
        .map(|(a, b)| [a, b])
        .collect()
}

/// Largest relative error `|a - b| / max(|b|, floor)`; panics above `tol`.
///
/// The floor keeps values that are zero up to rounding (a z-score whose
/// numerator cancels exactly) from dominating a relative measure.
pub fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64, floor: f64) -> f64 {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let mut worst = 0.0f64;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        if w.is_nan() {
            assert!(g.is_nan(), "{what}[{i}]: got {g}, want NaN");
            continue;
        }
        let err = (g - w).abs() / w.abs().max(floor);
        assert!(
            err <= tol,
            "{what}[{i}]: got {g}, want {w} (relative error {err:e})"
        );
        worst = worst.max(err);
    }
    eprintln!(
        "{what}: max relative error {worst:.2e} over {} values",
        got.len()
    );
    worst
}

/// UCDP GED 23.1 CAR, if present next to the repository.
pub fn ucdp_path() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/ucdp-ged-23.1-car.geojson");
    p.exists().then_some(p)
}

/// The UCDP events counted on the 25 km grid of gistar_moran.py (rule in
/// its docstring): cell centres in metres from the grid origin, counts,
/// and (nx, ny). Computed here from the raw file, never stored.
pub fn ucdp_grid(path: &Path) -> (Vec<[f64; 2]>, Vec<f64>, usize, usize) {
    const R: f64 = 6371008.8;
    const CELL: f64 = 25000.0;
    let text = std::fs::read_to_string(path).expect("read UCDP");
    let fc: Value = serde_json::from_str(&text).expect("parse UCDP");
    let feats = fc["features"].as_array().expect("features");
    let lonlat: Vec<[f64; 2]> = feats
        .iter()
        .map(|f| {
            let c = &f["geometry"]["coordinates"];
            [c[0].as_f64().expect("lon"), c[1].as_f64().expect("lat")]
        })
        .collect();
    let mut s = 0.0;
    for p in &lonlat {
        s += p[1];
    }
    let lat0 = s / lonlat.len() as f64;
    let c = lat0.to_radians().cos();
    let x: Vec<f64> = lonlat.iter().map(|p| R * p[0].to_radians() * c).collect();
    let y: Vec<f64> = lonlat.iter().map(|p| R * p[1].to_radians()).collect();
    let x0 = x.iter().copied().fold(f64::INFINITY, f64::min);
    let y0 = y.iter().copied().fold(f64::INFINITY, f64::min);
    let ix: Vec<usize> = x
        .iter()
        .map(|v| ((v - x0) / CELL).floor() as usize)
        .collect();
    let iy: Vec<usize> = y
        .iter()
        .map(|v| ((v - y0) / CELL).floor() as usize)
        .collect();
    let nx = ix.iter().max().expect("events") + 1;
    let ny = iy.iter().max().expect("events") + 1;
    let mut counts = vec![0.0; nx * ny];
    for (a, b) in ix.iter().zip(&iy) {
        counts[b * nx + a] += 1.0;
    }
    let xy = (0..nx * ny)
        .map(|c| {
            [
                ((c % nx) as f64 + 0.5) * CELL,
                ((c / nx) as f64 + 0.5) * CELL,
            ]
        })
        .collect();
    (xy, counts, nx, ny)
}

/// Seeded random points in a `side` x `side` square; a share `dup` of them
/// repeat an earlier point exactly.
pub fn random_points(seed: u64, n: usize, side: f64, dup: f64) -> Vec<[f64; 2]> {
    let mut rng = crate::rng::Rng::new(seed);
    let mut pts: Vec<[f64; 2]> = Vec::with_capacity(n);
    for i in 0..n {
        if i > 0 && rng.chance(dup) {
            let j = rng.below(i as u64) as usize;
            pts.push(pts[j]);
        } else {
            pts.push([rng.range(0.0, side), rng.range(0.0, side)]);
        }
    }
    pts
}

/// A seeded permutation of `0..n`.
pub fn permutation(seed: u64, n: usize) -> Vec<usize> {
    let mut rng = crate::rng::Rng::new(seed);
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        p.swap(i, rng.below(i as u64 + 1) as usize);
    }
    p
}

/// The lattice of benches/hotspots.rs and benches/compare/gistar.py (keep
/// the three in step): `floor(sqrt(cells))^2` unit cells, hashed counts
/// plus planted 40 x 40 hot blocks.
pub fn bench_lattice(cells: usize) -> (Vec<[f64; 2]>, Vec<f64>) {
    const SEED: u64 = 20261123;
    const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
    let side = (cells as f64).sqrt() as usize;
    let mut xy = Vec::with_capacity(side * side);
    let mut y = Vec::with_capacity(side * side);
    for r in 0..side {
        for c in 0..side {
            let i = (r * side + c) as u64;
            xy.push([c as f64, r as f64]);
            let noise = crate::rng::mix64(i.wrapping_mul(GOLDEN) ^ SEED) >> 62;
            let hot = ((c / 40) * 7 + (r / 40) * 3) % 11 == 0;
            y.push((noise + if hot { 4 } else { 0 }) as f64);
        }
    }
    (xy, y)
}

/// A peer's result written by `benches/compare/gistar.py` into
/// `$JOINTMAP_PEER_DIR` (raw little-endian f64), with the lattice size.
pub fn peer_result(name: &str) -> Option<(usize, Vec<f64>)> {
    let dir = std::env::var("JOINTMAP_PEER_DIR").ok()?;
    let cells: usize = std::env::var("JOINTMAP_PEER_CELLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let bytes = std::fs::read(Path::new(&dir).join(name)).ok()?;
    let v = bytes
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
        .collect();
    Some((cells, v))
}

/// Runs `f` in a rayon pool of `threads` threads.
pub fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
        .install(f)
}

/// Neighbour lists of every row.
pub fn rows(w: &Weights) -> Vec<Vec<u32>> {
    (0..w.len()).map(|i| w.neighbors(i).0.to_vec()).collect()
}

//! Tests of the presence surface, by subject; the helpers shared by them.

use super::*;
use crate::grid::Area;
use serde_json::json;

/// 2025-01-01T00:00:00Z.
const T0: i64 = 1_735_689_600;
const H: i64 = 3600;
const DAY: i64 = 86_400;

/// A seeded xorshift generator.
struct Rng(u64);
impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.uniform()
    }
}

fn square_grid() -> Grid {
    Grid::square(&Area::BBox([18.0, 4.0, 18.6, 4.5]), 1000.0).unwrap()
}

fn lonlat(g: &Grid, xy: [f64; 2]) -> [f64; 2] {
    g.projection().inverse(xy[0], xy[1])
}

fn cell_at(g: &Grid, xy: [f64; 2]) -> usize {
    let [lon, lat] = lonlat(g, xy);
    g.locate(lon, lat).unwrap()
}

/// Centre of the cell at the middle of the grid.
fn middle(g: &Grid) -> [f64; 2] {
    g.cells[g.locate(18.3, 4.25).unwrap()].xy
}

fn off(p: [f64; 2], dx: f64, dy: f64) -> [f64; 2] {
    [p[0] + dx, p[1] + dy]
}

fn patrol(g: &Grid, id: &str, mode: usize, xy: &[[f64; 2]], times: &[i64]) -> Patrol {
    Patrol {
        id: id.into(),
        mode,
        kind: "routine".into(),
        parts: vec![xy.iter().map(|p| lonlat(g, *p)).collect()],
        times: vec![times.to_vec()],
    }
}

fn params(from: i64, to: i64) -> CoverageParams {
    CoverageParams {
        from,
        to,
        ..Default::default()
    }
}

fn patrols_only(patrols: Vec<Patrol>) -> Presence {
    Presence {
        patrols,
        bases: vec![],
    }
}

/// Distance from `p` to the segment `a`-`b`, by projection onto it.
fn seg_dist(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let d = [b[0] - a[0], b[1] - a[1]];
    let l2 = d[0] * d[0] + d[1] * d[1];
    let t = if l2 == 0.0 {
        0.0
    } else {
        (((p[0] - a[0]) * d[0] + (p[1] - a[1]) * d[1]) / l2).clamp(0.0, 1.0)
    };
    dist(p, [a[0] + t * d[0], a[1] + t * d[1]])
}

/// The track as the coverage sees it: lon/lat projected again.
fn projected(g: &Grid, p: &Patrol) -> Vec<Vec<[f64; 2]>> {
    p.parts
        .iter()
        .map(|l| l.iter().map(|v| g.project(v[0], v[1])).collect())
        .collect()
}

fn track_dist(g: &Grid, p: &Patrol, xy: [f64; 2]) -> f64 {
    projected(g, p)
        .iter()
        .flat_map(|l| {
            if l.len() == 1 {
                vec![dist(xy, l[0])]
            } else {
                l.windows(2).map(|w| seg_dist(xy, w[0], w[1])).collect()
            }
        })
        .fold(f64::INFINITY, f64::min)
}

mod bases;
mod load;
mod patrols;
mod reports;
mod surface;

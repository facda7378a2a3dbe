//! Patrol visits per cell: when each patrol was within its corridor of each
//! cell centre, for analyses that need the timing of presence (impact) rather
//! than its sums ([`super::coverage`]).
//!
//! The corridor rule is the presence surface's: a cell is visited while the
//! distance from its centre to the track, in the grid's equal-area metres, is
//! at most the half-width of the patrol's mode. For each straight segment the
//! part within the half-width of a centre is the interval of the segment's
//! parameter where `|p0 + s (p1 - p0) - c| <= r`, found exactly from the
//! quadratic; the vertex times are interpolated along it and clipped to the
//! window.

use super::coverage::{CoverageParams, Patrol, Presence};
use super::AnalysisError;
use crate::grid::Grid;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// One visit: the cell, and the first and last moments (Unix seconds) the
/// patrol was within its corridor of the cell centre.
pub type Visit = (usize, i64, i64);

/// For each patrol of `presence` (in order), the cells it visited within
/// `[params.from, params.to]`, ascending by cell.
pub fn patrol_visits(
    grid: &Grid,
    presence: &Presence,
    params: &CoverageParams,
) -> Result<Vec<Vec<Visit>>, AnalysisError> {
    params.validate()?;
    let stop = crate::cancel::current();
    let visits = presence
        .patrols
        .par_iter()
        .map(|p| {
            if stop.stopped() {
                Vec::new()
            } else {
                one(grid, p, params)
            }
        })
        .collect();
    crate::cancel::check()?;
    Ok(visits)
}

fn one(grid: &Grid, p: &Patrol, params: &CoverageParams) -> Vec<Visit> {
    let r = params.corridor_m.get(p.mode).copied().unwrap_or(0.0);
    let r2 = r * r;
    let mut seen: FxHashMap<usize, (i64, i64)> = FxHashMap::default();
    let mut note = |c: usize, ta: f64, tb: f64| {
        let (a, b) = (ta.max(params.from as f64), tb.min(params.to as f64));
        if a > b {
            return;
        }
        let (a, b) = (a.round() as i64, b.round() as i64);
        let e = seen.entry(c).or_insert((a, b));
        e.0 = e.0.min(a);
        e.1 = e.1.max(b);
    };
    for (part, times) in p.parts.iter().zip(&p.times) {
        let xy: Vec<[f64; 2]> = part.iter().map(|q| grid.project(q[0], q[1])).collect();
        let t: Vec<f64> = times.iter().map(|&x| x as f64).collect();
        if xy.len() == 1 || (xy.len() > 1 && xy.windows(2).all(|w| w[0] == w[1])) {
            let (t0, t1) = (t[0], *t.last().unwrap_or(&t[0]));
            grid.for_each_cell_within(xy[0], r, |c| note(c, t0, t1));
            continue;
        }
        for k in 1..xy.len().min(t.len()) {
            let (p0, p1) = (xy[k - 1], xy[k]);
            let (t0, t1) = (t[k - 1], t[k]);
            let d = [p1[0] - p0[0], p1[1] - p0[1]];
            let len2 = d[0] * d[0] + d[1] * d[1];
            let mid = [(p0[0] + p1[0]) / 2.0, (p0[1] + p1[1]) / 2.0];
            let reach = len2.sqrt() / 2.0 + r;
            grid.for_each_cell_within(mid, reach * (1.0 + 1e-9) + 1e-6, |c| {
                let cxy = grid.cells[c].xy;
                let f = [p0[0] - cxy[0], p0[1] - cxy[1]];
                // |f + s d|^2 <= r^2  <=>  len2 s^2 + 2 (f.d) s + |f|^2 - r^2 <= 0
                let (a, b, cc) = (
                    len2,
                    2.0 * (f[0] * d[0] + f[1] * d[1]),
                    f[0] * f[0] + f[1] * f[1] - r2,
                );
                let (s0, s1) = if a == 0.0 {
                    if cc <= 0.0 {
                        (0.0, 1.0)
                    } else {
                        return;
                    }
                } else {
                    let disc = b * b - 4.0 * a * cc;
                    if disc < 0.0 {
                        return;
                    }
                    let q = disc.sqrt();
                    (
                        ((-b - q) / (2.0 * a)).max(0.0),
                        ((-b + q) / (2.0 * a)).min(1.0),
                    )
                };
                if s0 <= s1 {
                    note(c, t0 + s0 * (t1 - t0), t0 + s1 * (t1 - t0));
                }
            });
        }
    }
    let mut v: Vec<Visit> = seen.into_iter().map(|(c, (a, b))| (c, a, b)).collect();
    v.sort_unstable();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::Area;

    #[test]
    fn a_straight_patrol_visits_exactly_the_cells_within_its_corridor_at_the_right_times() {
        let g = Grid::square(&Area::BBox([18.0, 5.0, 18.4, 5.3]), 1_000.0).unwrap();
        let lat = 5.15;
        let p = Patrol {
            id: "p".into(),
            mode: 0,
            kind: "routine".into(),
            parts: vec![vec![[17.9, lat], [18.5, lat]]],
            times: vec![vec![0, 36_000]],
        };
        let params = CoverageParams {
            from: 0,
            to: 100_000,
            ..CoverageParams::default()
        };
        let presence = Presence {
            patrols: vec![p],
            bases: vec![],
        };
        let v = patrol_visits(&g, &presence, &params).unwrap();
        let a = g.project(17.9, lat);
        let b = g.project(18.5, lat);
        let r = params.corridor_m[0];
        let mut want = Vec::new();
        for (i, c) in g.cells.iter().enumerate() {
            // Distance from the centre to the segment, brute force.
            let d = [b[0] - a[0], b[1] - a[1]];
            let s = (((c.xy[0] - a[0]) * d[0] + (c.xy[1] - a[1]) * d[1])
                / (d[0] * d[0] + d[1] * d[1]))
                .clamp(0.0, 1.0);
            let q = [a[0] + s * d[0] - c.xy[0], a[1] + s * d[1] - c.xy[1]];
            if (q[0] * q[0] + q[1] * q[1]).sqrt() <= r {
                want.push(i);
            }
        }
        let got: Vec<usize> = v[0].iter().map(|x| x.0).collect();
        assert_eq!(got, want);
        // At constant speed, the first and last moments bracket the closest approach.
        for &(c, first, last) in &v[0] {
            let x = g.cells[c].xy[0];
            let t_mid = (x - a[0]) / (b[0] - a[0]) * 36_000.0;
            assert!(
                (first as f64) <= t_mid + 1.0 && t_mid - 1.0 <= last as f64,
                "cell {c}"
            );
        }
        // Clipped to the window.
        let params = CoverageParams {
            from: 40_000,
            to: 100_000,
            ..CoverageParams::default()
        };
        assert!(patrol_visits(&g, &presence, &params).unwrap()[0].is_empty());
    }
}

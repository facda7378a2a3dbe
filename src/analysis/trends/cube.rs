//! The space-time cube: grid cells x time steps, the count and the summed
//! weight of the events in each bin (ArcGIS's Create Space Time Cube by
//! aggregating points).
//!
//! Steps are `step_s` seconds long and end at `end` (exclusive): step `k`
//! covers `[end - (count - k) step_s, end - (count - k - 1) step_s)`. An
//! event belongs to the step holding its start time. Only cells holding at
//! least one event in some step are in the cube (ArcGIS leaves out
//! locations with no point in any step), in grid order.
//!
//! Built in parallel (projection, cell lookup and the sort of the events by
//! bin); each bin sums its events in input order, so the cube is the same
//! whatever the thread count.

use crate::analysis::{AnalysisError, Events};
use crate::grid::Grid;
use rayon::prelude::*;

/// The time steps of a cube.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steps {
    /// End of the last step, Unix seconds (exclusive).
    pub end: i64,
    /// Length of a step, seconds (positive).
    pub step_s: i64,
    /// Number of steps (positive).
    pub count: usize,
}

impl Steps {
    /// Start of the first step.
    pub fn start(&self) -> i64 {
        self.end - self.count as i64 * self.step_s
    }

    /// Start of step `k`.
    pub fn step_start(&self, k: usize) -> i64 {
        self.start() + k as i64 * self.step_s
    }

    /// The step holding Unix time `t`, if any.
    pub fn step_of(&self, t: i64) -> Option<usize> {
        if t < self.start() || t >= self.end {
            return None;
        }
        usize::try_from((t - self.start()) / self.step_s).ok()
    }
}

/// Events aggregated on cells x steps.
#[derive(Debug, Clone)]
pub struct Cube {
    /// The grid the cells belong to.
    pub grid: Grid,
    /// The grid index of each cube cell, ascending.
    pub cells: Vec<u32>,
    /// The steps.
    pub steps: Steps,
    /// Summed weight per bin, cell-major (`cell * steps + step`).
    pub values: Vec<f64>,
    /// Events per bin, cell-major.
    pub counts: Vec<u32>,
    /// Sexual-violence or child cases per bin, cell-major.
    pub sensitive: Vec<u32>,
    /// Events in the cube.
    pub events: usize,
    /// Events outside the grid or the steps.
    pub outside: usize,
}

impl Cube {
    /// Number of steps.
    pub fn steps(&self) -> usize {
        self.steps.count
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether no cell holds an event.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The bins of cube cell `c`, in step order.
    pub fn row<T>(&self, data: &[T], c: usize) -> std::ops::Range<usize> {
        debug_assert_eq!(data.len(), self.cells.len() * self.steps.count);
        c * self.steps.count..(c + 1) * self.steps.count
    }
}

/// Aggregates `events` on `grid` x `steps`.
pub fn build_cube(events: &Events, grid: Grid, steps: Steps) -> Result<Cube, AnalysisError> {
    if steps.step_s <= 0 || steps.count == 0 || steps.count > u32::MAX as usize {
        return Err(AnalysisError::param(
            "step-days",
            "needs a positive step length and at least one step",
        ));
    }
    if let Some(i) = events.weight.iter().position(|w| !w.is_finite()) {
        return Err(AnalysisError::param(
            "weight",
            format!("weight of event {i} is not a finite number"),
        ));
    }
    let points: Vec<[f64; 2]> = events
        .lon
        .par_iter()
        .zip(events.lat.par_iter())
        .map(|(x, y)| grid.project(*x, *y))
        .collect();
    let located = grid.locate_all(&events.lon, &events.lat, &points)?;
    crate::cancel::check()?;
    // (bin key, event) for every event in the cube; sorted, so each bin's
    // events are consecutive and in input order.
    let mut keyed: Vec<(u64, u32)> = located
        .par_iter()
        .zip(events.time.par_iter())
        .enumerate()
        .filter_map(|(i, (&c, &t))| {
            let k = steps.step_of(t)?;
            (c != u32::MAX).then(|| ((u64::from(c) << 32) | k as u64, i as u32))
        })
        .collect();
    keyed.par_sort_unstable();
    let n = steps.count;
    let mut cells: Vec<u32> = Vec::new();
    let mut values: Vec<f64> = Vec::new();
    let mut counts: Vec<u32> = Vec::new();
    let mut sensitive: Vec<u32> = Vec::new();
    for &(key, i) in &keyed {
        let cell = (key >> 32) as u32;
        if cells.last() != Some(&cell) {
            cells.push(cell);
            values.resize(values.len() + n, 0.0);
            counts.resize(counts.len() + n, 0);
            sensitive.resize(sensitive.len() + n, 0);
        }
        let bin = (cells.len() - 1) * n + (key & 0xffff_ffff) as usize;
        values[bin] += events.weight[i as usize];
        counts[bin] += 1;
        sensitive[bin] += u32::from(events.sensitive.get(i as usize).copied().unwrap_or(false));
    }
    crate::cancel::check()?;
    Ok(Cube {
        grid,
        cells,
        steps,
        events: keyed.len(),
        outside: events.len() - keyed.len(),
        values,
        counts,
        sensitive,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::{Area, Grid};

    fn events(pts: &[(f64, f64, i64, f64)]) -> Events {
        let mut e = Events::default();
        for (i, &(x, y, t, w)) in pts.iter().enumerate() {
            e.push(format!("e{i}"), x, y, t, w, "killing".into(), String::new());
        }
        e
    }

    #[test]
    fn bins_by_cell_and_step_and_leaves_out_empty_cells_and_outside_events() {
        let grid =
            Grid::square_anchored(&Area::BBox([20.0, 6.0, 20.3, 6.3]), 10_000.0, [20.0, 6.0])
                .unwrap();
        let day = 86_400;
        let steps = Steps {
            end: 30 * day,
            step_s: 10 * day,
            count: 3,
        };
        assert_eq!(steps.step_of(0), Some(0));
        assert_eq!(steps.step_of(10 * day - 1), Some(0));
        assert_eq!(steps.step_of(10 * day), Some(1));
        assert_eq!(steps.step_of(30 * day), None);
        assert_eq!(steps.step_of(-1), None);
        let e = events(&[
            (20.01, 6.01, 5 * day, 2.0),
            (20.02, 6.02, 25 * day, 1.5),
            (20.01, 6.02, 6 * day, 1.0),
            (20.25, 6.25, 15 * day, 1.0),
            (20.25, 6.25, 31 * day, 1.0), // after the end
            (25.0, 6.25, 15 * day, 1.0),  // off the grid
        ]);
        let a = grid.locate(20.01, 6.01).unwrap() as u32;
        let b = grid.locate(20.25, 6.25).unwrap() as u32;
        let cube = build_cube(&e, grid, steps).unwrap();
        assert_eq!(cube.cells, {
            let mut v = vec![a, b];
            v.sort();
            v
        });
        assert_eq!((cube.events, cube.outside), (4, 2));
        let ia = cube.cells.iter().position(|&c| c == a).unwrap();
        let ib = 1 - ia;
        assert_eq!(&cube.values[ia * 3..ia * 3 + 3], &[3.0, 0.0, 1.5]);
        assert_eq!(&cube.counts[ia * 3..ia * 3 + 3], &[2, 0, 1]);
        assert_eq!(&cube.counts[ib * 3..ib * 3 + 3], &[0, 1, 0]);
    }

    #[test]
    fn the_same_cube_whatever_the_thread_count_and_order() {
        let grid = Grid::square_anchored(&Area::BBox([20.0, 6.0, 21.0, 7.0]), 5_000.0, [20.0, 6.0])
            .unwrap();
        let mut r = crate::rng::Rng::new(7);
        let pts: Vec<(f64, f64, i64, f64)> = (0..20_000)
            .map(|_| {
                (
                    20.0 + r.f64(),
                    6.0 + r.f64(),
                    (r.f64() * 100.0 * 86_400.0) as i64,
                    (r.f64() * 10.0).floor(),
                )
            })
            .collect();
        let steps = Steps {
            end: 100 * 86_400,
            step_s: 14 * 86_400,
            count: 7,
        };
        let e = events(&pts);
        let one = crate::analysis::weights::test_support::with_threads(1, || {
            build_cube(&e, grid.clone(), steps).unwrap()
        });
        let four = crate::analysis::weights::test_support::with_threads(4, || {
            build_cube(&e, grid.clone(), steps).unwrap()
        });
        assert_eq!(one.values, four.values);
        assert_eq!(one.counts, four.counts);
        assert_eq!(one.cells, four.cells);
        assert_eq!(
            one.counts.iter().map(|&c| c as usize).sum::<usize>(),
            one.events
        );
    }
}

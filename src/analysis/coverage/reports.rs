//! Reports (incidents and sightings) binned to cells, then spread to the
//! cells within the information radius.

use super::sums::PER_WEIGHT;
use super::CoverageParams;
use crate::analysis::Events;
use crate::grid::Grid;
use rayon::prelude::*;

pub(super) struct ReportSums {
    /// Per cell: reports informing on it, fixed-point weight, latest time.
    pub(super) cells: Vec<(u32, u64, Option<i64>)>,
    pub(super) used: usize,
    pub(super) outside: usize,
}

pub(super) fn report_sums(grid: &Grid, reports: &Events, params: &CoverageParams) -> ReportSums {
    let n = grid.len();
    let (from, to) = (params.from, params.to);
    // A report informs on its place while its event lasts: it counts when
    // its interval overlaps the window, as recent as its last moment within.
    let ends = reports.ends();
    let last = |i: usize| ends[i].min(to);
    let located: Vec<Option<u32>> = (0..reports.len())
        .into_par_iter()
        .with_min_len(4096)
        .map(|i| {
            if ends[i] < from || reports.time[i] > to {
                return None;
            }
            Some(
                grid.locate(reports.lon[i], reports.lat[i])
                    .map_or(u32::MAX, |c| c as u32),
            )
        })
        .collect();
    // Binning: integer sums and maxima, so the order of reports is immaterial.
    let mut count = vec![0u32; n];
    let mut weight = vec![0u64; n];
    let mut latest = vec![i64::MIN; n];
    let (mut used, mut outside) = (0, 0);
    for (i, c) in located.iter().enumerate() {
        match *c {
            None => {}
            Some(u32::MAX) => outside += 1,
            Some(c) => {
                let c = c as usize;
                used += 1;
                count[c] += 1;
                let t = last(i);
                weight[c] += (params.recency((to - t) as f64) * PER_WEIGHT).round() as u64;
                latest[c] = latest[c].max(t);
            }
        }
    }
    let r = params.info_radius_m;
    let cells = (0..n)
        .into_par_iter()
        .with_min_len(256)
        .map(|i| {
            let xy = grid.cells[i].xy;
            let (mut k, mut w, mut t) = (0u32, 0u64, i64::MIN);
            // The grid's test is exactly the closed disk of radius r.
            grid.for_each_cell_within(xy, r, |j| {
                if count[j] > 0 {
                    k += count[j];
                    w += weight[j];
                    t = t.max(latest[j]);
                }
            });
            (k, w, (t != i64::MIN).then_some(t))
        })
        .collect();
    ReportSums {
        cells,
        used,
        outside,
    }
}

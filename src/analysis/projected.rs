//! Events projected into a grid's metres, kept between analyses: a server
//! recomputing the hotspot layer after an ingest projects only the new
//! events.
//!
//! A projected position is a function of the event's coordinates and the
//! projection alone, so an entry is reused only for exactly those inputs:
//! the same projection (compared by every parameter, bit for bit) and
//! coordinates whose first rows equal, bit for bit, those the entry was
//! made from (a layer only added to). Nothing else (role, filter, data
//! version) can change a projected position; whatever the events, the
//! result is the one projecting them all gives.

use crate::grid::Grid;
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

/// Positions kept: a few grids or event sets at once.
const KEPT: usize = 2;

/// One set of projected positions with what it was made from.
struct Entry {
    /// The projection's parameters, bit for bit (`Debug` writes every
    /// float's shortest round-trip form, the sign of zero included).
    projection: String,
    lon: Vec<f64>,
    lat: Vec<f64>,
    /// Shared with the analysis that asked: no copy of a million positions
    /// per request (unshared again by the time the next one extends it).
    xy: Arc<Vec<[f64; 2]>>,
}

/// The most recently used first.
static KEPT_POSITIONS: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// Whether `a` and `b` hold the same floats bit for bit.
fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.par_chunks(1 << 16)
            .zip(b.par_chunks(1 << 16))
            .all(|(x, y)| x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits()))
}

/// `(lon[i], lat[i])` projected by [`Grid::project`], in parallel; from a
/// kept entry when one was made by the same projection from the first rows
/// of these coordinates (then only the rows after them are projected).
pub fn project_all(grid: &Grid, lon: &[f64], lat: &[f64]) -> Arc<Vec<[f64; 2]>> {
    let projection = format!("{:?}", grid.projection());
    let project = |from: usize| -> Vec<[f64; 2]> {
        lon[from..]
            .par_iter()
            .zip(lat[from..].par_iter())
            .map(|(x, y)| grid.project(*x, *y))
            .collect()
    };
    let taken = {
        let mut kept = KEPT_POSITIONS.lock().unwrap_or_else(|p| p.into_inner());
        let found = kept.iter().position(|e| {
            e.projection == projection
                && e.lon.len() <= lon.len()
                && lat.len() == lon.len()
                && same_bits(&e.lon, &lon[..e.lon.len()])
                && same_bits(&e.lat, &lat[..e.lat.len()])
        });
        found.map(|i| kept.remove(i))
    };
    let entry = match taken {
        Some(mut e) => {
            let n = e.lon.len();
            if n < lon.len() {
                Arc::make_mut(&mut e.xy).extend(project(n));
                e.lon.extend_from_slice(&lon[n..]);
                e.lat.extend_from_slice(&lat[n..]);
            }
            e
        }
        None => Entry {
            projection,
            lon: lon.to_vec(),
            lat: lat.to_vec(),
            xy: Arc::new(project(0)),
        },
    };
    let xy = Arc::clone(&entry.xy);
    let mut kept = KEPT_POSITIONS.lock().unwrap_or_else(|p| p.into_inner());
    kept.insert(0, entry);
    kept.truncate(KEPT);
    xy
}

/// Forgets every kept entry (tests: the next projection starts afresh).
#[cfg(test)]
pub(crate) fn forget() {
    KEPT_POSITIONS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::{Area, GridKind};

    fn grid(bbox: [f64; 4]) -> Grid {
        Grid::build(
            &Area::BBox(bbox),
            GridKind::Square { cell_m: 5_000.0 },
            1_000_000,
        )
        .unwrap()
    }

    fn fresh(g: &Grid, lon: &[f64], lat: &[f64]) -> Vec<[f64; 2]> {
        lon.iter()
            .zip(lat)
            .map(|(x, y)| g.project(*x, *y))
            .collect()
    }

    fn bits(v: &[[f64; 2]]) -> Vec<[u64; 2]> {
        v.iter().map(|p| [p[0].to_bits(), p[1].to_bits()]).collect()
    }

    /// Kept, extended, refused on other rows or another projection: always
    /// the positions projecting every event gives, bit for bit.
    #[test]
    fn equal_to_projecting_every_event() {
        let mut r = 11u64;
        let mut next = |span: f64| {
            r = crate::rng::mix64(r);
            (r % 1_000_000) as f64 / 1_000_000.0 * span
        };
        let mut lon: Vec<f64> = (0..5_000).map(|_| 10.0 + next(5.0)).collect();
        let mut lat: Vec<f64> = (0..5_000).map(|_| -2.0 + next(4.0)).collect();
        let a = grid([10.0, -2.0, 15.0, 2.0]);
        let b = grid([9.0, -3.0, 15.0, 2.0]);
        let check = |g: &Grid, lon: &[f64], lat: &[f64]| {
            assert_eq!(bits(&project_all(g, lon, lat)), bits(&fresh(g, lon, lat)));
        };
        check(&a, &lon, &lat);
        check(&a, &lon, &lat);
        // Rows added (an ingest): extended.
        lon.extend((0..700).map(|_| 10.0 + next(5.0)));
        lat.extend((0..700).map(|_| -2.0 + next(4.0)));
        check(&a, &lon, &lat);
        // Another projection (the extent moved), then both kept.
        check(&b, &lon, &lat);
        check(&a, &lon, &lat);
        // An earlier row changed (not an extension), fewer rows, -0.0.
        lon[3] += 1e-9;
        check(&a, &lon, &lat);
        check(&a, &lon[..100], &lat[..100]);
        lon[0] = 0.0;
        check(&a, &lon, &lat);
        lon[0] = -0.0;
        check(&a, &lon, &lat);
    }
}

//! Cells within a distance: every cell whose centre lies in a closed disk of
//! the grid's projected plane.
//!
//! A cell `j` is within `radius_m` of `xy` when, with its centre
//! `[cx, cy] = grid.cells[j].xy`,
//!
//! ```text
//! (cx - xy[0]) * (cx - xy[0]) + (cy - xy[1]) * (cy - xy[1]) <= radius_m * radius_m
//! ```
//!
//! evaluated exactly so in `f64` ([`in_disk`]); the result is thus
//! bit-for-bit the one of a scan over all cells, only faster:
//!
//! - square grids use the lattice: the rows within the radius, and in each
//!   row the columns within the disk's chord (both a little widened, so
//!   that rounding can never lose a cell), then the exact test;
//! - H3 grids use a `CentreIndex`, a bucket grid over the projected
//!   centres built on first use (buckets about one cell wide), scanned over
//!   the disk's bounding rows and chords in the same way. The hits are sorted
//!   so that they come out in ascending index order.

use super::square::Lattice;
use super::{Grid, Lookup};

impl Grid {
    /// Calls `f(j)` for every cell whose centre (projected `xy`) lies within `radius_m` of `xy`
    /// (closed disk), in ascending index order. Must be fast: it is called millions of times
    /// (e.g. 20k patrol tracks x 30 segments on a 240k-cell grid); for square grids use the lattice
    /// arithmetic (row/col range), for H3 an index built once (e.g. rstar 0.12 over the centres,
    /// built lazily with std::sync::OnceLock or eagerly in the constructor).
    ///
    /// The test is [`in_disk`], exactly. A negative or NaN radius, or a
    /// non-finite `xy`, matches no cell; an infinite radius matches all.
    /// For H3 grids the first call builds the centre index (linear time).
    pub fn for_each_cell_within(&self, xy: [f64; 2], radius_m: f64, f: impl FnMut(usize)) {
        if !(radius_m >= 0.0 && xy[0].is_finite() && xy[1].is_finite()) {
            return;
        }
        match &self.lookup {
            Lookup::Square(l) => square_within(l, xy, radius_m, f),
            Lookup::H3(l) => l.centres(&self.cells).for_each_within(xy, radius_m, f),
        }
    }
}

/// Whether `centre` lies in the closed disk of squared radius `r2` around
/// `xy`: the one test behind [`Grid::for_each_cell_within`].
#[inline]
pub fn in_disk(centre: [f64; 2], xy: [f64; 2], r2: f64) -> bool {
    let (dx, dy) = (centre[0] - xy[0], centre[1] - xy[1]);
    dx * dx + dy * dy <= r2
}

/// Half-width of the chord at distance `dy` from the centre of a disk of
/// radius `r`, generously widened (by about a thousandth of `r` and of
/// `unit`, the lattice or bucket step) so that rounding in the caller's
/// `dy` can never shrink it below the true chord.
#[inline]
fn chord(r: f64, dy: f64, unit: f64) -> f64 {
    ((r * r - dy * dy).max(0.0) + 1e-6 * (r * r + unit * unit)).sqrt()
}

/// Relative slack, in lattice or bucket units, for rounding in the ranges.
const PAD: f64 = 1e-6;

/// The buckets `floor(lo)..=floor(hi)` (widened by [`PAD`]) clipped to
/// `0..n`; `None` when empty (or NaN).
#[inline]
fn bucket_span(lo: f64, hi: f64, n: usize) -> Option<(usize, usize)> {
    let a = (lo - PAD).floor().max(0.0);
    let b = (hi + PAD).floor().min(n as f64 - 1.0);
    (a <= b).then_some((a as usize, b as usize))
}

/// The integers `ceil(lo)..=floor(hi)` (widened by [`PAD`]) clipped to
/// `0..n`; `None` when empty (or NaN).
#[inline]
fn integer_span(lo: f64, hi: f64, n: usize) -> Option<(usize, usize)> {
    let a = (lo - PAD).ceil().max(0.0);
    let b = (hi + PAD).floor().min(n as f64 - 1.0);
    (a <= b).then_some((a as usize, b as usize))
}

/// Square grids: the centre of (row, col) is at `origin + (col + 0.5, row +
/// 0.5) * cell_m` ([`Lattice::centre_xy`], the formula the cells' `xy`
/// come from), so the candidates are the rows whose centre line is within
/// `r`, and in each the columns within the disk's chord on that line; each
/// candidate then gets the exact test, reading only the lattice's index.
fn square_within(l: &Lattice, xy: [f64; 2], r: f64, mut f: impl FnMut(usize)) {
    let (nrows, ncols) = l.shape();
    let [x0, y0] = l.origin();
    let c = l.cell_m;
    let r2 = r * r;
    // Row and column coordinates in which centres are integers.
    let fx = (xy[0] - x0) / c - 0.5;
    let fy = (xy[1] - y0) / c - 0.5;
    let Some((r0, r1)) = integer_span(fy - r / c, fy + r / c, nrows) else {
        return;
    };
    for row in r0..=r1 {
        let cy = l.centre_xy(row, 0)[1];
        let dy = cy - xy[1];
        if dy * dy > r2 {
            // No centre of this row passes the exact test.
            continue;
        }
        let w = chord(r, dy, c) / c;
        let Some((c0, c1)) = integer_span(fx - w, fx + w, ncols) else {
            continue;
        };
        for (&j, col) in l.row_cells(row)[c0..=c1].iter().zip(c0..) {
            if j != u32::MAX && in_disk([l.centre_xy(row, col)[0], cy], xy, r2) {
                f(j as usize);
            }
        }
    }
}

/// A bucket grid over points of the projected plane (H3 cell centres): the
/// points of each square bucket stored together, in ascending index order,
/// buckets row-major from the south-west.
#[derive(Debug, Clone)]
pub(super) struct CentreIndex {
    x0: f64,
    y0: f64,
    side: f64,
    nx: usize,
    ny: usize,
    /// Bucket `b` holds `points[start[b]..start[b + 1]]`.
    start: Vec<u32>,
    /// Centre and cell index.
    points: Vec<([f64; 2], u32)>,
}

thread_local! {
    /// Reused hit buffer of [`CentreIndex::for_each_within`] (taken while in
    /// use, so a nested call from the callback just gets a fresh one).
    static HITS: std::cell::Cell<Vec<u32>> = const { std::cell::Cell::new(Vec::new()) };
}

impl CentreIndex {
    /// Indexes `centres` (point `i` is cell `i`); `cell_area` is the typical
    /// area per point, m2, which sets the bucket side (one point per bucket
    /// on average), widened if the points' bounding box would need more than
    /// four buckets per point. Non-finite points are left out (they are
    /// within no distance of anything).
    pub(super) fn new(centres: &[[f64; 2]], cell_area: f64) -> CentreIndex {
        let mut ext = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        let finite = |p: &[f64; 2]| p[0].is_finite() && p[1].is_finite();
        for p in centres.iter().filter(|p| finite(p)) {
            ext = [
                ext[0].min(p[0]),
                ext[1].min(p[1]),
                ext[2].max(p[0]),
                ext[3].max(p[1]),
            ];
        }
        let n = centres.iter().filter(|p| finite(p)).count();
        if n == 0 {
            return CentreIndex {
                x0: 0.0,
                y0: 0.0,
                side: 1.0,
                nx: 1,
                ny: 1,
                start: vec![0, 0],
                points: Vec::new(),
            };
        }
        let (w, h) = (ext[2] - ext[0], ext[3] - ext[1]);
        let mut side = cell_area.sqrt();
        if !(side > 0.0 && side.is_finite()) {
            side = ((w * h) / n as f64).sqrt();
        }
        // At most 4 buckets per point (and at least a metre: grids never
        // have centres closer than that).
        side = side.max(((w * h) / (4.0 * n as f64)).sqrt()).max(1.0);
        let nx = (w / side).floor() as usize + 1;
        let ny = (h / side).floor() as usize + 1;
        let mut index = CentreIndex {
            x0: ext[0],
            y0: ext[1],
            side,
            nx,
            ny,
            start: vec![0; nx * ny + 1],
            points: Vec::new(),
        };
        // Counting sort by bucket; within a bucket, ascending index.
        let bucket: Vec<u32> = centres
            .iter()
            .map(|p| {
                if finite(p) {
                    index.bucket(*p) as u32
                } else {
                    u32::MAX
                }
            })
            .collect();
        for &b in bucket.iter().filter(|&&b| b != u32::MAX) {
            index.start[b as usize + 1] += 1;
        }
        for b in 0..nx * ny {
            index.start[b + 1] += index.start[b];
        }
        let mut next = index.start.clone();
        index.points = vec![([0.0, 0.0], 0); n];
        for (i, &b) in bucket.iter().enumerate() {
            if b != u32::MAX {
                let slot = &mut next[b as usize];
                index.points[*slot as usize] = (centres[i], i as u32);
                *slot += 1;
            }
        }
        index
    }

    /// The bucket of a finite point of the indexed extent.
    fn bucket(&self, p: [f64; 2]) -> usize {
        let bx = (((p[0] - self.x0) / self.side) as usize).min(self.nx - 1);
        let by = (((p[1] - self.y0) / self.side) as usize).min(self.ny - 1);
        by * self.nx + bx
    }

    /// Calls `f(i)` for every indexed point within `r` of `xy` ([`in_disk`]),
    /// in ascending order of `i`. `r` must be non-negative and `xy` finite.
    pub(super) fn for_each_within(&self, xy: [f64; 2], r: f64, mut f: impl FnMut(usize)) {
        let s = self.side;
        let r2 = r * r;
        let fx = (xy[0] - self.x0) / s;
        let fy = (xy[1] - self.y0) / s;
        // Bucket coordinates are floors of these, up to rounding (points
        // exactly on a bucket line may sit on either side).
        let Some((b0, b1)) = bucket_span(fy - r / s, fy + r / s, self.ny) else {
            return;
        };
        let mut hits = HITS.take();
        hits.clear();
        for by in b0..=b1 {
            // Distance from xy to the nearest point of the bucket row.
            let (lo, hi) = (self.y0 + by as f64 * s, self.y0 + (by + 1) as f64 * s);
            let dy = xy[1].clamp(lo, hi) - xy[1];
            let w = chord(r, dy, s) / s;
            let Some((a0, a1)) = bucket_span(fx - w, fx + w, self.nx) else {
                continue;
            };
            let row = by * self.nx;
            let points =
                &self.points[self.start[row + a0] as usize..self.start[row + a1 + 1] as usize];
            hits.extend(
                points
                    .iter()
                    .filter(|(p, _)| in_disk(*p, xy, r2))
                    .map(|&(_, i)| i),
            );
        }
        hits.sort_unstable();
        for &i in &hits {
            f(i as usize);
        }
        HITS.set(hits);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::Rng;
    use super::super::Area;
    use super::*;

    fn brute(g: &Grid, xy: [f64; 2], r: f64) -> Vec<usize> {
        if r.is_nan() || r < 0.0 {
            return Vec::new();
        }
        (0..g.len())
            .filter(|&j| in_disk(g.cells[j].xy, xy, r * r))
            .collect()
    }

    fn fast(g: &Grid, xy: [f64; 2], r: f64) -> Vec<usize> {
        let mut out = Vec::new();
        g.for_each_cell_within(xy, r, |j| out.push(j));
        out
    }

    /// Random points over and well beyond the grid, radii from 0 to a few
    /// cells (and some far larger), checked against a scan of all cells.
    fn agrees_with_brute_force(g: &Grid, cell: f64, seed: u64) {
        let xs: Vec<[f64; 2]> = g.centres_xy();
        let ext = xs
            .iter()
            .fold([f64::MAX, f64::MAX, f64::MIN, f64::MIN], |e, p| {
                [
                    e[0].min(p[0]),
                    e[1].min(p[1]),
                    e[2].max(p[0]),
                    e[3].max(p[1]),
                ]
            });
        let (w, h) = (ext[2] - ext[0], ext[3] - ext[1]);
        let mut rng = Rng::new(seed);
        let mut total = 0;
        for k in 0..2_000 {
            let xy = [
                ext[0] - 0.3 * w + 1.6 * w * rng.uniform(),
                ext[1] - 0.3 * h + 1.6 * h * rng.uniform(),
            ];
            let r = match k % 10 {
                0 => 0.0,
                1 => 20.0 * cell * rng.uniform(),
                2 => w * rng.uniform(),
                _ => 4.0 * cell * rng.uniform(),
            };
            let want = brute(g, xy, r);
            total += want.len();
            assert_eq!(fast(g, xy, r), want, "{xy:?} {r}");
        }
        assert!(total > 10_000, "{total}");
        // At every centre: radius 0 gives that cell; the exact distance to
        // a neighbour's centre (rounded up until the test passes) includes it.
        for _ in 0..500 {
            let i = (rng.uniform() * g.len() as f64) as usize;
            let xy = g.cells[i].xy;
            assert_eq!(fast(g, xy, 0.0), vec![i]);
            for j in g.edge_neighbours(i) {
                let c = g.cells[j].xy;
                let mut r = (c[0] - xy[0]).hypot(c[1] - xy[1]);
                while !in_disk(c, xy, r * r) {
                    r = r.next_up();
                }
                let got = fast(g, xy, r);
                assert!(got.contains(&j) && got.contains(&i));
                assert_eq!(got, brute(g, xy, r));
                // Just below that distance, still as brute force says.
                let r = r.next_down();
                assert_eq!(fast(g, xy, r), brute(g, xy, r));
            }
        }
        // Degenerate arguments.
        let mid = [(ext[0] + ext[2]) / 2.0, (ext[1] + ext[3]) / 2.0];
        assert!(fast(g, mid, -1.0).is_empty());
        assert!(fast(g, mid, f64::NAN).is_empty());
        assert!(fast(g, [f64::NAN, mid[1]], 1e9).is_empty());
        assert!(fast(g, [f64::INFINITY, mid[1]], 1e9).is_empty());
        assert_eq!(
            fast(g, mid, f64::INFINITY),
            (0..g.len()).collect::<Vec<_>>()
        );
        assert!(fast(g, [ext[2] + 10.0 * cell, mid[1]], 5.0 * cell).is_empty());
    }

    #[test]
    fn square_agrees_with_brute_force() {
        let g = Grid::square(&Area::BBox([18.0, 4.0, 18.6, 4.5]), 1000.0).unwrap();
        agrees_with_brute_force(&g, 1000.0, 5);
    }

    #[test]
    fn square_on_a_polygon_agrees_with_brute_force() {
        // Missing lattice positions (outside the triangle) are skipped.
        use geo_types::{MultiPolygon, Polygon};
        let tri = super::super::tests::ring(&[(18.0, 4.0), (18.6, 4.0), (18.0, 4.5), (18.0, 4.0)]);
        let area = Area::Polygon(MultiPolygon(vec![Polygon::new(tri, vec![])]));
        let g = Grid::square(&area, 700.0).unwrap();
        agrees_with_brute_force(&g, 700.0, 6);
    }

    #[test]
    fn h3_agrees_with_brute_force() {
        let g = Grid::h3(&Area::BBox([18.0, 4.0, 18.6, 4.5]), 7).unwrap();
        let cell = Grid::cell_area_m2(&g, 0).sqrt();
        agrees_with_brute_force(&g, cell, 7);
    }

    #[test]
    fn nested_calls_and_clones() {
        let g = Grid::h3(&Area::BBox([18.0, 4.0, 18.3, 4.3]), 7).unwrap();
        let xy = g.cells[10].xy;
        let mut pairs = 0;
        g.for_each_cell_within(xy, 3_000.0, |j| {
            g.for_each_cell_within(g.cells[j].xy, 3_000.0, |_| pairs += 1);
        });
        let want: usize = brute(&g, xy, 3_000.0)
            .into_iter()
            .map(|j| brute(&g, g.cells[j].xy, 3_000.0).len())
            .sum();
        assert_eq!(pairs, want);
        let h = g.clone();
        assert_eq!(fast(&h, xy, 5_000.0), brute(&g, xy, 5_000.0));
    }

    #[test]
    fn centre_index_edge_cases() {
        let empty = CentreIndex::new(&[], 1.0);
        let mut n = 0;
        empty.for_each_within([0.0, 0.0], 1e9, |_| n += 1);
        assert_eq!(n, 0);
        // One point, a non-finite one, and a duplicate.
        let pts = [[5.0, 5.0], [f64::NAN, 0.0], [5.0, 5.0]];
        let idx = CentreIndex::new(&pts, 100.0);
        let mut got = Vec::new();
        idx.for_each_within([5.0, 5.0], 0.0, |i| got.push(i));
        assert_eq!(got, [0, 2]);
        // Far-apart clusters: bucket count stays bounded.
        let mut pts: Vec<[f64; 2]> = (0..100).map(|i| [f64::from(i), 0.0]).collect();
        pts.extend((0..100).map(|i| [1e7 + f64::from(i), 1e7]));
        let idx = CentreIndex::new(&pts, 1.0);
        assert!(idx.nx * idx.ny <= 4 * pts.len() + 2 * (idx.nx + idx.ny));
        let mut got = Vec::new();
        idx.for_each_within([1e7 + 50.0, 1e7], 2.0, |i| got.push(i));
        assert_eq!(got, [148, 149, 150, 151, 152]);
    }
}

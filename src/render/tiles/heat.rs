//! The heat layer: the kernel density of the events a tile's content holds
//! ([`crate::analysis::kde`], quartic kernel), evaluated at every pixel
//! centre, coloured on a logarithmic viridis ramp.
//!
//! Distances are measured in one Lambert azimuthal equal-area projection
//! for every tile (centred on the mission's grid anchor), so a pixel's
//! density does not depend on the tile it is drawn in: no seams.
//! Individual events weigh 1; a protection cell released to a role
//! without full view weighs its count, at the cell's centre.

use super::mercator::{Frame, TileId};
use super::palette::viridis;
use super::TileError;
use crate::access::TileContent;
use crate::analysis::kde::{kde, Kernel};
use crate::grid::Laea;
use geo_types::Geometry;
use tiny_skia::{Pixmap, PremultipliedColorU8};

/// The kernel's bandwidth (its support radius), metres.
pub const HEAT_BANDWIDTH_M: f64 = 10_000.0;

/// Densities (events per km2) at and below this are transparent; the ramp
/// spans four decades above it.
const FLOOR_PER_KM2: f64 = 1e-3;

/// Above this many events, events are summed on a world grid in degrees,
/// cells at most an eighth of the bandwidth on a side, before they are
/// projected and the kernel runs (an event moves by at most a cell's
/// diagonal; a dense tile projects a few thousand cells, not a hundred
/// thousand events).
const BIN_ABOVE: usize = 4096;

/// What the surface is computed with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeatParams {
    /// Centre of the projection distances are measured in (lon, lat).
    pub anchor: [f64; 2],
    /// Bandwidth, metres.
    pub bandwidth_m: f64,
}

/// Draws the surface of `content` on `pixmap` (one density per pixel).
pub fn draw(
    pixmap: &mut Pixmap,
    tile: TileId,
    content: &TileContent,
    params: &HeatParams,
) -> Result<(), TileError> {
    // Events as (lon, lat) and weight; projected one by one, or per bin
    // when there are many (a projection costs a logarithm and two sines).
    let mut ll: Vec<[f64; 2]> = Vec::new();
    let mut w: Vec<f64> = Vec::new();
    match content {
        TileContent::Features(fs) => {
            ll.reserve(fs.len());
            for f in fs {
                if let Geometry::Point(p) = f.geometry {
                    ll.push([p.x(), p.y()]);
                }
            }
            w.resize(ll.len(), 1.0);
        }
        TileContent::Cells { cells, .. } => {
            for c in cells {
                let n = c.ring.len().saturating_sub(1).max(1) as f64;
                let (lon, lat) = c
                    .ring
                    .iter()
                    .take(n as usize)
                    .fold((0.0, 0.0), |a, p| (a.0 + p[0] / n, a.1 + p[1] / n));
                ll.push([lon, lat]);
                w.push(c.count as f64);
            }
        }
    }
    if ll.len() > BIN_ABOVE {
        (ll, w) = binned(&ll, &w, params.bandwidth_m / 8.0);
    }
    let laea = Laea::wgs84(params.anchor[0], params.anchor[1]);
    let (xy, w): (Vec<[f64; 2]>, Vec<f64>) = ll
        .iter()
        .map(|p| laea.forward(p[0], p[1]))
        .zip(w)
        .filter(|(p, _)| p[0].is_finite() && p[1].is_finite())
        .unzip();
    if xy.is_empty() {
        return Ok(());
    }
    let side = pixmap.width();
    let density = surface(tile, side, &xy, &w, params)?;
    let pixels = pixmap.pixels_mut();
    for (i, d) in density.into_iter().enumerate() {
        if d.is_nan() || d <= FLOOR_PER_KM2 {
            continue;
        }
        let c = viridis((d / FLOOR_PER_KM2).log10() / 4.0);
        let a = 190u16;
        let pm = |v: u8| ((u16::from(v) * a + 127) / 255) as u8;
        if let Some(p) = PremultipliedColorU8::from_rgba(pm(c.0), pm(c.1), pm(c.2), a as u8) {
            pixels[i] = p;
        }
    }
    Ok(())
}

/// The density at every pixel centre of a `side`-pixel tile, row by row:
/// evaluated exactly ([`kde`]) at nodes every [`node_step`] pixels of the
/// world's pixel grid and interpolated bilinearly between them. The kernel
/// spans at least 8 steps, so the interpolation moves the surface by well
/// under 1 % of its peak (see the tests); the nodes are the world's, so
/// neighbouring tiles evaluate the same nodes along their shared edge.
fn surface(
    tile: TileId,
    side: u32,
    xy: &[[f64; 2]],
    w: &[f64],
    params: &HeatParams,
) -> Result<Vec<f64>, TileError> {
    let step = node_step(tile, side, params);
    let frame = Frame::new(tile, f64::from(side));
    let laea = Laea::wgs84(params.anchor[0], params.anchor[1]);
    // Nodes at pixel centres 0, step, ..., side (the last one is the next
    // tile's first pixel): every pixel lies between two nodes per axis. At
    // step 1 the nodes are the pixels.
    let n = if step == 1 { side } else { side / step + 1 } as usize;
    let at: Vec<[f64; 2]> = (0..n * n)
        .map(|i| {
            let (px, py) = ((i % n) as f64, (i / n) as f64);
            let s = f64::from(step);
            let [lon, lat] = frame.unproject(px * s + 0.5, py * s + 0.5);
            let p = laea.forward(lon, lat);
            if p[0].is_finite() && p[1].is_finite() {
                p
            } else {
                [f64::MAX / 4.0, f64::MAX / 4.0]
            }
        })
        .collect();
    let nodes = kde(xy, w, &at, Kernel::Quartic, params.bandwidth_m)
        .map_err(|e| TileError::Encode(e.to_string()))?;
    if step == 1 {
        return Ok(nodes);
    }
    let side = side as usize;
    let step = step as usize;
    let inv = 1.0 / step as f64;
    let mut out = vec![0.0; side * side];
    for (y, row) in out.chunks_exact_mut(side).enumerate() {
        let (j, fy) = (y / step, (y % step) as f64 * inv);
        let (top, bottom) = (&nodes[j * n..(j + 1) * n], &nodes[(j + 1) * n..(j + 2) * n]);
        for (i, cell) in row.chunks_exact_mut(step).enumerate() {
            let (a, b, c, d) = (top[i], top[i + 1], bottom[i], bottom[i + 1]);
            if a.max(b).max(c).max(d) <= 0.0 {
                continue;
            }
            // Down the column at this row, then across.
            let (l, r) = (a + (c - a) * fy, b + (d - b) * fy);
            for (k, v) in cell.iter_mut().enumerate() {
                *v = l + (r - l) * (k as f64 * inv);
            }
        }
    }
    Ok(out)
}

/// Pixels between interpolation nodes: the largest power of two (at most
/// 16) within an eighth of the bandwidth in pixels, 1 (every pixel exact)
/// when the kernel is narrower. Taken at the mission's anchor latitude, so
/// every tile of a zoom uses the same nodes.
fn node_step(tile: TileId, side: u32, params: &HeatParams) -> u32 {
    let h_px = params.bandwidth_m / tile.metres_per_pixel(params.anchor[1], f64::from(side));
    let mut step = 1;
    while step < 16 && f64::from(step * 2) <= h_px / 8.0 && side % (step * 2) == 0 {
        step *= 2;
    }
    step
}

/// Events (lon, lat) summed per cell of a world grid of `cell_m` metres of
/// latitude (a fixed grid, so every tile sums alike; a cell is at most
/// `cell_m` wide and high anywhere), at each cell's weighted mean position,
/// in row-major order of the cells. A dense array over the events' extent
/// when it is small (a tile at z9 and above), a hash map otherwise; the
/// result is the same.
fn binned(ll: &[[f64; 2]], w: &[f64], cell_m: f64) -> (Vec<[f64; 2]>, Vec<f64>) {
    // Metres per degree of latitude are at least 110,574 (the equator).
    let deg = cell_m / 110_574.0;
    let key = |p: &[f64; 2]| ((p[0] / deg).floor(), (p[1] / deg).floor());
    let finite = |p: &[f64; 2]| p[0].is_finite() && p[1].is_finite();
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for p in ll.iter().filter(|p| finite(p)) {
        let (kx, ky) = key(p);
        (x0, y0, x1, y1) = (x0.min(kx), y0.min(ky), x1.max(kx), y1.max(ky));
    }
    if x0 > x1 {
        return (Vec::new(), Vec::new());
    }
    let (nx, ny) = (x1 - x0 + 1.0, y1 - y0 + 1.0);
    let sums: Vec<(u64, [f64; 3])> = if nx * ny <= (ll.len() * 4).max(1 << 16) as f64 {
        let nx = nx as usize;
        let mut grid = vec![[0.0f64; 3]; nx * ny as usize];
        for (p, &wi) in ll.iter().zip(w).filter(|(p, _)| finite(p)) {
            let (kx, ky) = key(p);
            let s = &mut grid[(ky - y0) as usize * nx + (kx - x0) as usize];
            s[0] += p[0] * wi;
            s[1] += p[1] * wi;
            s[2] += wi;
        }
        grid.into_iter()
            .enumerate()
            .filter(|(_, s)| s[2] > 0.0)
            .map(|(i, s)| (i as u64, s))
            .collect()
    } else {
        let mut map: rustc_hash::FxHashMap<u64, [f64; 3]> = Default::default();
        for (p, &wi) in ll.iter().zip(w).filter(|(p, _)| finite(p)) {
            let (kx, ky) = key(p);
            // Row-major index in the extent, as the dense array's.
            let i = ((ky - y0) * nx + (kx - x0)) as u64;
            let s = map.entry(i).or_default();
            s[0] += p[0] * wi;
            s[1] += p[1] * wi;
            s[2] += wi;
        }
        let mut v: Vec<(u64, [f64; 3])> = map.into_iter().filter(|(_, s)| s[2] > 0.0).collect();
        v.sort_unstable_by_key(|e| e.0);
        v
    };
    sums.into_iter()
        .map(|(_, s)| ([s[0] / s[2], s[1] / s[2]], s[2]))
        .unzip()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::TileFeature;

    fn point(lon: f64, lat: f64) -> TileFeature {
        TileFeature {
            id: "p".into(),
            geometry: Geometry::Point(geo_types::Point::new(lon, lat)),
            properties: Default::default(),
        }
    }

    fn alpha_at(pixmap: &Pixmap, x: u32, y: u32) -> u8 {
        pixmap.pixel(x, y).unwrap().alpha()
    }

    #[test]
    fn density_peaks_at_the_event_and_vanishes_beyond_the_support() {
        let params = HeatParams {
            anchor: [18.0, 4.0],
            bandwidth_m: 10_000.0,
        };
        let tile = TileId::new(9, 281, 250).unwrap();
        let b = tile.bounds();
        let (lon, lat) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
        let mut px = Pixmap::new(256, 256).unwrap();
        draw(
            &mut px,
            tile,
            &TileContent::Features(vec![point(lon, lat)]),
            &params,
        )
        .unwrap();
        assert!(alpha_at(&px, 128, 128) > 0);
        // The tile is about 78 km wide at z9: its corners are beyond 10 km.
        assert_eq!(alpha_at(&px, 0, 0), 0);
        let empty = {
            let mut e = Pixmap::new(256, 256).unwrap();
            draw(&mut e, tile, &TileContent::Features(vec![]), &params).unwrap();
            e
        };
        assert!(empty.pixels().iter().all(|p| p.alpha() == 0));
    }

    #[test]
    fn an_event_across_the_edge_colours_both_tiles_alike() {
        let params = HeatParams {
            anchor: [18.0, 4.0],
            bandwidth_m: 10_000.0,
        };
        let a = TileId::new(10, 562, 500).unwrap();
        let b = TileId::new(10, 563, 500).unwrap();
        let edge = a.bounds()[2];
        let lat = (a.bounds()[1] + a.bounds()[3]) / 2.0;
        let content = TileContent::Features(vec![point(edge + 0.01, lat)]);
        let (mut pa, mut pb) = (
            Pixmap::new(256, 256).unwrap(),
            Pixmap::new(256, 256).unwrap(),
        );
        draw(&mut pa, a, &content, &params).unwrap();
        draw(&mut pb, b, &content, &params).unwrap();
        for y in 0..256 {
            let (l, r) = (pa.pixel(255, y).unwrap(), pb.pixel(0, y).unwrap());
            assert!(
                (i16::from(l.alpha()) - i16::from(r.alpha())).abs() <= 0,
                "row {y}"
            );
            assert!(
                (i16::from(l.green()) - i16::from(r.green())).abs() <= 3,
                "row {y}"
            );
        }
        assert!(pa.pixel(255, 128).unwrap().alpha() > 0);
    }

    /// The density at every pixel centre, evaluated exactly.
    fn exact(tile: TileId, side: u32, xy: &[[f64; 2]], params: &HeatParams) -> Vec<f64> {
        let frame = Frame::new(tile, f64::from(side));
        let laea = Laea::wgs84(params.anchor[0], params.anchor[1]);
        let at: Vec<[f64; 2]> = (0..side * side)
            .map(|i| {
                let (px, py) = (f64::from(i % side) + 0.5, f64::from(i / side) + 0.5);
                let [lon, lat] = frame.unproject(px, py);
                laea.forward(lon, lat)
            })
            .collect();
        kde(xy, &[], &at, Kernel::Quartic, params.bandwidth_m).unwrap()
    }

    /// Seeded clusters of events in and around a tile, projected.
    fn events(tile: TileId, n: usize, seed: u64, params: &HeatParams) -> Vec<[f64; 2]> {
        let mut rng = crate::rng::Rng::new(seed);
        let b = tile.buffered(64.0, 256.0);
        let laea = Laea::wgs84(params.anchor[0], params.anchor[1]);
        let centres: Vec<[f64; 2]> = (0..6)
            .map(|_| [rng.range(b[0], b[2]), rng.range(b[1], b[3])])
            .collect();
        (0..n)
            .map(|i| {
                let c = centres[i % centres.len()];
                let spread = (b[2] - b[0]) / 12.0;
                laea.forward(c[0] + rng.normal() * spread, c[1] + rng.normal() * spread)
            })
            .collect()
    }

    /// The interpolated surface equals the exact one at every pixel within
    /// 1 % of the tile's peak density, at the zooms where it
    /// interpolates (z9: step 4 px, z10: 8, z12: 16) and both densities;
    /// where it does not (z6) it is the exact surface itself.
    #[test]
    fn the_interpolated_surface_equals_the_exact_one() {
        let params = HeatParams {
            anchor: [18.0, 4.0],
            bandwidth_m: HEAT_BANDWIDTH_M,
        };
        let cases = [
            (TileId::new(6, 35, 31).unwrap(), 256, 1),
            (TileId::new(9, 281, 250).unwrap(), 256, 4),
            (TileId::new(10, 562, 500).unwrap(), 256, 8),
            (TileId::new(10, 562, 500).unwrap(), 512, 16),
            (TileId::new(12, 2250, 2001).unwrap(), 256, 16),
        ];
        for (seed, (tile, side, step)) in cases.into_iter().enumerate() {
            assert_eq!(node_step(tile, side, &params), step, "{tile:?}");
            let xy = events(tile, 3000, seed as u64 + 7, &params);
            let w = vec![1.0; xy.len()];
            let fast = surface(tile, side, &xy, &w, &params).unwrap();
            let want = exact(tile, side, &xy, &params);
            let peak = want.iter().copied().fold(0.0, f64::max);
            assert!(peak > 0.0, "{tile:?}: no density");
            let worst = fast
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            eprintln!(
                "{tile:?} {side} px, step {step}: worst {:.5} of the peak",
                worst / peak
            );
            if step == 1 {
                assert!(fast == want, "{tile:?}: not the exact surface");
            }
            assert!(worst <= 0.01 * peak, "{tile:?}: {worst} of {peak}");
        }
    }

    #[test]
    fn binning_keeps_the_total_weight() {
        let ll: Vec<[f64; 2]> = (0..10_000)
            .map(|i| [18.0 + f64::from(i) * 7e-5, 4.0 + f64::from(i % 13) * 3e-3])
            .collect();
        let w = vec![1.0; ll.len()];
        let (bll, bw) = binned(&ll, &w, 1250.0);
        assert!(bll.len() < ll.len());
        assert_eq!(bw.iter().sum::<f64>(), 10_000.0);
        // Spread over a continent, the map path gives what the array gives.
        let mut far = ll.clone();
        far.push([-70.0, -50.0]);
        let wf = vec![1.0; far.len()];
        let (fll, fw) = binned(&far, &wf, 1250.0);
        assert_eq!(fw.iter().sum::<f64>(), 10_001.0);
        assert_eq!(&fll[1..], &bll[..]);
        assert_eq!(fll[0], [-70.0, -50.0]);
    }
}

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

/// Above this many events, events are summed on a grid of an eighth of the
/// bandwidth before the kernel runs (the surface moves by at most a
/// sixteenth of the bandwidth; a low-zoom tile of a million events stays fast).
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
    let laea = Laea::wgs84(params.anchor[0], params.anchor[1]);
    let mut xy: Vec<[f64; 2]> = Vec::new();
    let mut w: Vec<f64> = Vec::new();
    match content {
        TileContent::Features(fs) => {
            for f in fs {
                if let Geometry::Point(p) = f.geometry {
                    xy.push(laea.forward(p.x(), p.y()));
                    w.push(1.0);
                }
            }
        }
        TileContent::Cells { cells, .. } => {
            for c in cells {
                let n = c.ring.len().saturating_sub(1).max(1) as f64;
                let (lon, lat) = c
                    .ring
                    .iter()
                    .take(n as usize)
                    .fold((0.0, 0.0), |a, p| (a.0 + p[0] / n, a.1 + p[1] / n));
                xy.push(laea.forward(lon, lat));
                w.push(c.count as f64);
            }
        }
    }
    let keep = |p: &[f64; 2]| p[0].is_finite() && p[1].is_finite();
    let (mut xy, mut w): (Vec<[f64; 2]>, Vec<f64>) =
        xy.into_iter().zip(w).filter(|(p, _)| keep(p)).unzip();
    if xy.is_empty() {
        return Ok(());
    }
    if xy.len() > BIN_ABOVE {
        (xy, w) = binned(&xy, &w, params.bandwidth_m / 8.0);
    }
    let side = pixmap.width();
    let frame = Frame::new(tile, f64::from(side));
    let at: Vec<[f64; 2]> = (0..side * side)
        .map(|i| {
            let (px, py) = (f64::from(i % side) + 0.5, f64::from(i / side) + 0.5);
            let [lon, lat] = frame.unproject(px, py);
            laea.forward(lon, lat)
        })
        .collect();
    let at_ok: Vec<[f64; 2]> = at
        .iter()
        .map(|p| {
            if keep(p) {
                *p
            } else {
                [f64::MAX / 4.0, f64::MAX / 4.0]
            }
        })
        .collect();
    let density = kde(&xy, &w, &at_ok, Kernel::Quartic, params.bandwidth_m)
        .map_err(|e| TileError::Encode(e.to_string()))?;
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

/// Events summed per square of side `cell` (a grid fixed in the
/// projection, so every tile sums alike), at each square's weighted mean.
fn binned(xy: &[[f64; 2]], w: &[f64], cell: f64) -> (Vec<[f64; 2]>, Vec<f64>) {
    let mut sums: std::collections::BTreeMap<(i64, i64), (f64, f64, f64)> = Default::default();
    for (p, &wi) in xy.iter().zip(w) {
        let key = ((p[0] / cell).floor() as i64, (p[1] / cell).floor() as i64);
        let s = sums.entry(key).or_default();
        s.0 += p[0] * wi;
        s.1 += p[1] * wi;
        s.2 += wi;
    }
    sums.into_values()
        .filter(|s| s.2 > 0.0)
        .map(|(x, y, n)| ([x / n, y / n], n))
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

    #[test]
    fn binning_keeps_the_total_weight() {
        let xy: Vec<[f64; 2]> = (0..10_000)
            .map(|i| [f64::from(i) * 7.0, f64::from(i % 13) * 300.0])
            .collect();
        let w = vec![1.0; xy.len()];
        let (bxy, bw) = binned(&xy, &w, 1250.0);
        assert!(bxy.len() < xy.len());
        assert_eq!(bw.iter().sum::<f64>(), 10_000.0);
    }
}

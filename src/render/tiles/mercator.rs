//! Web Mercator (EPSG:3857) XYZ tile maths: which part of the world a tile
//! `z/x/y` covers, and where a lon/lat falls in it, in pixels.
//!
//! Tiles follow the XYZ (Google / OSM) scheme: `x` from the antimeridian
//! eastwards, `y` from the north edge (85.0511 degrees) southwards, `2^z`
//! tiles per side.

use super::TileError;
use std::f64::consts::PI;

/// Deepest zoom served.
pub const MAX_ZOOM: u8 = 18;

/// Web Mercator's latitude limit, degrees.
pub const MAX_LAT: f64 = 85.051_128_779_806_6;

/// One tile of the XYZ pyramid, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileId {
    /// Zoom, 0 to [`MAX_ZOOM`].
    pub z: u8,
    /// Column, from the west.
    pub x: u32,
    /// Row, from the north.
    pub y: u32,
}

impl TileId {
    /// The tile `z/x/y`, if it exists.
    pub fn new(z: u32, x: u32, y: u32) -> Result<TileId, TileError> {
        if z > u32::from(MAX_ZOOM) {
            return Err(TileError::Zoom(z));
        }
        let n = 1u32 << z;
        if x >= n || y >= n {
            return Err(TileError::Outside { z, x, y });
        }
        Ok(TileId { z: z as u8, x, y })
    }

    /// Tiles per side at this zoom.
    pub fn side(self) -> f64 {
        f64::from(1u32 << self.z)
    }

    /// `[min_lon, min_lat, max_lon, max_lat]` the tile covers.
    pub fn bounds(self) -> [f64; 4] {
        let n = self.side();
        let lon = |x: f64| x / n * 360.0 - 180.0;
        let lat = |y: f64| (PI * (1.0 - 2.0 * y / n)).sinh().atan().to_degrees();
        [
            lon(f64::from(self.x)),
            lat(f64::from(self.y + 1)),
            lon(f64::from(self.x + 1)),
            lat(f64::from(self.y)),
        ]
    }

    /// The bounds widened by `px` pixels of a `size`-pixel tile on every
    /// side (clamped to the world), for symbols that reach in from outside.
    pub fn buffered(self, px: f64, size: f64) -> [f64; 4] {
        let n = self.side();
        let (x0, y0) = (f64::from(self.x) - px / size, f64::from(self.y) - px / size);
        let (x1, y1) = (
            f64::from(self.x + 1) + px / size,
            f64::from(self.y + 1) + px / size,
        );
        let lon = |x: f64| (x / n * 360.0 - 180.0).clamp(-180.0, 180.0);
        let lat = |y: f64| {
            (PI * (1.0 - 2.0 * y.clamp(0.0, n) / n))
                .sinh()
                .atan()
                .to_degrees()
        };
        [lon(x0), lat(y1), lon(x1), lat(y0)]
    }

    /// Ground metres per pixel at latitude `lat` on a `size`-pixel tile.
    pub fn metres_per_pixel(self, lat: f64, size: f64) -> f64 {
        2.0 * PI * 6_378_137.0 * lat.to_radians().cos() / (self.side() * size)
    }
}

/// Position of a lon/lat in the tile, in units of `size` per tile side
/// (pixels for a `size`-pixel tile, MVT units for `size` = extent); points
/// outside the tile fall outside `[0, size]`.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    n: f64,
    x0: f64,
    y0: f64,
    size: f64,
}

impl Frame {
    /// The frame of `tile` at `size` units per side.
    pub fn new(tile: TileId, size: f64) -> Frame {
        Frame {
            n: tile.side(),
            x0: f64::from(tile.x),
            y0: f64::from(tile.y),
            size,
        }
    }

    /// Units per side.
    pub fn size(&self) -> f64 {
        self.size
    }

    /// Where `lon`, `lat` falls.
    pub fn project(&self, lon: f64, lat: f64) -> [f64; 2] {
        let lat = lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
        let wx = (lon + 180.0) / 360.0;
        let wy = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / PI) / 2.0;
        [
            (wx * self.n - self.x0) * self.size,
            (wy * self.n - self.y0) * self.size,
        ]
    }

    /// The lon/lat at a position (inverse of [`Frame::project`]).
    pub fn unproject(&self, px: f64, py: f64) -> [f64; 2] {
        let wx = (px / self.size + self.x0) / self.n;
        let wy = (py / self.size + self.y0) / self.n;
        [
            wx * 360.0 - 180.0,
            (PI * (1.0 - 2.0 * wy)).sinh().atan().to_degrees(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoom_and_range_are_checked() {
        assert!(TileId::new(0, 0, 0).is_ok());
        assert!(TileId::new(18, (1 << 18) - 1, (1 << 18) - 1).is_ok());
        assert!(matches!(TileId::new(19, 0, 0), Err(TileError::Zoom(19))));
        assert!(matches!(
            TileId::new(u32::MAX, 0, 0),
            Err(TileError::Zoom(_))
        ));
        assert!(TileId::new(3, 8, 0).is_err());
        assert!(TileId::new(3, 0, 8).is_err());
        assert!(TileId::new(0, 1, 0).is_err());
    }

    #[test]
    fn bounds_match_the_known_tiles() {
        let b = TileId::new(0, 0, 0).unwrap().bounds();
        assert_eq!(b[0], -180.0);
        assert_eq!(b[2], 180.0);
        assert!((b[3] - MAX_LAT).abs() < 1e-9 && (b[1] + MAX_LAT).abs() < 1e-9);
        // z1: x=1 y=0 is the north-east quarter.
        let b = TileId::new(1, 1, 0).unwrap().bounds();
        assert_eq!([b[0], b[2]], [0.0, 180.0]);
        assert!(b[1].abs() < 1e-12);
        // Bangui (18.56 E, 4.36 N) at z10 is tile 564/499 (the OSM wiki formula).
        let t = TileId::new(10, 564, 499).unwrap();
        let [w, s, e, n] = t.bounds();
        assert!(w <= 18.56 && 18.56 < e, "{w} {e}");
        assert!(s <= 4.36 && 4.36 < n, "{s} {n}");
    }

    #[test]
    fn project_and_unproject_agree_with_bounds() {
        let t = TileId::new(12, 2258, 1998).unwrap();
        let f = Frame::new(t, 256.0);
        let b = t.bounds();
        let nw = f.project(b[0], b[3]);
        let se = f.project(b[2], b[1]);
        assert!(nw[0].abs() < 1e-6 && nw[1].abs() < 1e-6, "{nw:?}");
        assert!((se[0] - 256.0).abs() < 1e-6 && (se[1] - 256.0).abs() < 1e-6);
        let [lon, lat] = f.unproject(100.0, 37.5);
        let p = f.project(lon, lat);
        assert!((p[0] - 100.0).abs() < 1e-6 && (p[1] - 37.5).abs() < 1e-6);
        let wide = t.buffered(16.0, 256.0);
        assert!(wide[0] < b[0] && wide[1] < b[1] && wide[2] > b[2] && wide[3] > b[3]);
        let p = f.project(wide[0], wide[3]);
        assert!((p[0] + 16.0).abs() < 1e-6 && (p[1] + 16.0).abs() < 1e-6);
    }
}

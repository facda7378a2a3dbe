//! Lambert azimuthal equal-area projection on the ellipsoid (EPSG method 9820).
//!
//! Formulas from IOGP Guidance Note 7-2, section 3.3.2.2 (oblique aspect),
//! which follows Snyder, *Map Projections: A Working Manual* (1987), p. 187.
//! Areas are preserved exactly on the ellipsoid, so a square of `c` metres in
//! projected coordinates covers `c^2` square metres of the Earth's surface,
//! wherever it lies. Shapes and distances are distorted away from the centre
//! (about 0.1 % in scale at 500 km), which is why grids centre the projection
//! on their area.
//!
//! The inverse solves the authalic-latitude equation with the usual series
//! and then one Newton step, so it round-trips to well below a micrometre.

use std::f64::consts::FRAC_PI_2;

/// WGS 84 semi-major axis, metres.
pub const WGS84_A: f64 = 6_378_137.0;
/// WGS 84 inverse flattening.
pub const WGS84_INV_F: f64 = 298.257_223_563;

/// The nearest a projection centre may be to a pole, in degrees of latitude:
/// the oblique formulas divide by the cosine of the centre's authalic
/// latitude, so a centre closer to a pole is moved to this latitude (the
/// projection stays equal-area; only the point of least distortion moves).
const MAX_CENTRE_LAT: f64 = 89.9;

/// A Lambert azimuthal equal-area projection centred on (`lon0`, `lat0`),
/// without false easting or northing: the centre projects to (0, 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Laea {
    lon0: f64,
    lat0: f64,
    a: f64,
    e: f64,
    e2: f64,
    qp: f64,
    rq: f64,
    d: f64,
    sin_b0: f64,
    cos_b0: f64,
    // Series coefficients from authalic to geodetic latitude.
    s2: f64,
    s4: f64,
    s6: f64,
}

impl Laea {
    /// The projection on the WGS 84 ellipsoid centred on `lon0`, `lat0`
    /// (degrees).
    pub fn wgs84(lon0: f64, lat0: f64) -> Laea {
        Laea::new(WGS84_A, WGS84_INV_F, lon0, lat0)
    }

    /// The projection on an ellipsoid of semi-major axis `a` (metres) and
    /// inverse flattening `inv_f` (`f64::INFINITY` for a sphere of radius
    /// `a`), centred on `lon0`, `lat0` (degrees).
    pub fn new(a: f64, inv_f: f64, lon0: f64, lat0: f64) -> Laea {
        let f = if inv_f.is_infinite() {
            0.0
        } else {
            1.0 / inv_f
        };
        let e2 = f * (2.0 - f);
        let e = e2.sqrt();
        let lat0 = lat0.clamp(-MAX_CENTRE_LAT, MAX_CENTRE_LAT).to_radians();
        let qp = q(FRAC_PI_2, e, e2);
        let rq = a * (qp / 2.0).sqrt();
        let b0 = (q(lat0, e, e2) / qp).clamp(-1.0, 1.0).asin();
        let (sin_b0, cos_b0) = b0.sin_cos();
        let d = a * lat0.cos() / (1.0 - e2 * lat0.sin().powi(2)).sqrt() / (rq * cos_b0);
        let (e4, e6) = (e2 * e2, e2 * e2 * e2);
        Laea {
            lon0: lon0.to_radians(),
            lat0,
            a,
            e,
            e2,
            qp,
            rq,
            d,
            sin_b0,
            cos_b0,
            s2: e2 / 3.0 + 31.0 * e4 / 180.0 + 517.0 * e6 / 5040.0,
            s4: 23.0 * e4 / 360.0 + 251.0 * e6 / 3780.0,
            s6: 761.0 * e6 / 45360.0,
        }
    }

    /// The centre (lon, lat), degrees.
    pub fn centre(&self) -> [f64; 2] {
        [self.lon0.to_degrees(), self.lat0.to_degrees()]
    }

    /// The authalic radius: the radius of the sphere with the ellipsoid's
    /// area (6 371 007.18 m for WGS 84).
    pub fn authalic_radius(&self) -> f64 {
        self.rq
    }

    /// Projects (`lon`, `lat`) in degrees to (x, y) metres. The antipode of
    /// the centre, and non-finite input, give non-finite output.
    pub fn forward(&self, lon: f64, lat: f64) -> [f64; 2] {
        let phi = lat.to_radians();
        let dlam = wrap_pi(lon.to_radians() - self.lon0);
        // sin and cos of the authalic latitude, without the angle itself.
        let sin_b = (q(phi, self.e, self.e2) / self.qp).clamp(-1.0, 1.0);
        let cos_b = ((1.0 - sin_b) * (1.0 + sin_b)).sqrt();
        let (sin_l, cos_l) = dlam.sin_cos();
        let denom = 1.0 + self.sin_b0 * sin_b + self.cos_b0 * cos_b * cos_l;
        let b = self.rq * (2.0 / denom).sqrt();
        [
            b * self.d * cos_b * sin_l,
            (b / self.d) * (self.cos_b0 * sin_b - self.sin_b0 * cos_b * cos_l),
        ]
    }

    /// Unprojects (`x`, `y`) metres to (lon, lat) degrees, longitude in
    /// [-180, 180]. Points beyond the projection's disk (radius 2 Rq) give
    /// NaN.
    pub fn inverse(&self, x: f64, y: f64) -> [f64; 2] {
        let rho = ((x / self.d).powi(2) + (self.d * y).powi(2)).sqrt();
        if rho < 1e-9 {
            return self.centre();
        }
        let s = rho / (2.0 * self.rq);
        if s.is_nan() || s > 1.0 {
            return [f64::NAN, f64::NAN];
        }
        let c = 2.0 * s.asin();
        let (sin_c, cos_c) = c.sin_cos();
        let beta = (cos_c * self.sin_b0 + self.d * y * sin_c * self.cos_b0 / rho)
            .clamp(-1.0, 1.0)
            .asin();
        let lam = self.lon0
            + (x * sin_c).atan2(
                self.d * rho * self.cos_b0 * cos_c - self.d * self.d * y * self.sin_b0 * sin_c,
            );
        [wrap_pi(lam).to_degrees(), self.latitude(beta).to_degrees()]
    }

    /// Geodetic latitude from authalic latitude `beta` (radians).
    fn latitude(&self, beta: f64) -> f64 {
        // sin 2b, sin 4b, sin 6b from one sin_cos (multiple-angle formulas).
        let (sb, cb) = beta.sin_cos();
        let (s2, c2) = (2.0 * sb * cb, 1.0 - 2.0 * sb * sb);
        let (s4, c4) = (2.0 * s2 * c2, 1.0 - 2.0 * s2 * s2);
        let s6 = s4 * c2 + c4 * s2;
        let mut phi = beta + self.s2 * s2 + self.s4 * s4 + self.s6 * s6;
        // The series is good to ~1e-10 rad (O(e^8)); one Newton step on
        // q(phi) = qp sin(beta) squares that error away. At the poles the
        // derivative vanishes but the series is already exact there.
        let (sin_p, cos_p) = phi.sin_cos();
        let w = 1.0 - self.e2 * sin_p * sin_p;
        let dq = 2.0 * (1.0 - self.e2) * cos_p / (w * w);
        if dq > 1e-12 {
            phi += (self.qp * sb - q(phi, self.e, self.e2)) / dq;
        }
        phi.clamp(-FRAC_PI_2, FRAC_PI_2)
    }

    /// Semi-major axis, metres.
    pub fn semi_major_axis(&self) -> f64 {
        self.a
    }
}

/// Snyder's q (eq. 3-12): twice the ellipsoid's area between the equator and
/// latitude `phi`, per radian of longitude, divided by a^2.
fn q(phi: f64, e: f64, e2: f64) -> f64 {
    let s = phi.sin();
    if e == 0.0 {
        return 2.0 * s;
    }
    (1.0 - e2) * (s / (1.0 - e2 * s * s) + (e * s).atanh() / e)
}

/// Wraps an angle in radians to [-pi, pi].
fn wrap_pi(a: f64) -> f64 {
    if (-std::f64::consts::PI..=std::f64::consts::PI).contains(&a) {
        a
    } else {
        (a + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::GeodesicArea;

    #[test]
    fn epsg_guidance_note_example() {
        // IOGP GN 7-2, LAEA example: ETRS89 / LAEA Europe (GRS 1980, centre
        // 52N 10E, FE 4 321 000, FN 3 210 000): 50N 5E -> 3 962 799.45 E,
        // 2 999 718.85 N.
        let p = Laea::new(6_378_137.0, 298.257_222_101, 10.0, 52.0);
        let [x, y] = p.forward(5.0, 50.0);
        assert!((x + 4_321_000.0 - 3_962_799.45).abs() < 0.006, "{x}");
        assert!((y + 3_210_000.0 - 2_999_718.85).abs() < 0.006, "{y}");
        let [lon, lat] = p.inverse(3_962_799.45 - 4_321_000.0, 2_999_718.85 - 3_210_000.0);
        assert!((lon - 5.0).abs() < 1e-7 && (lat - 50.0).abs() < 1e-7);
    }

    #[test]
    fn sphere_points_by_hand() {
        // On a sphere of radius R centred on (0, 0): a point a quarter turn
        // away lies at chord distance R * sqrt(2), and the centre at 0.
        let r = 6_371_000.0;
        let p = Laea::new(r, f64::INFINITY, 0.0, 0.0);
        let s2 = r * 2f64.sqrt();
        let [x, y] = p.forward(90.0, 0.0);
        assert!((x - s2).abs() < 1e-6 && y.abs() < 1e-6);
        let [x, y] = p.forward(0.0, 90.0);
        assert!(x.abs() < 1e-6 && (y - s2).abs() < 1e-6);
        // 60 degrees away along the equator: 2 R sin(30 deg) = R.
        let [x, _] = p.forward(60.0, 0.0);
        assert!((x - r).abs() < 1e-6);
        assert_eq!(p.forward(0.0, 0.0), [0.0, 0.0]);
    }

    #[test]
    fn central_meridian_and_centre() {
        let p = Laea::wgs84(20.0, 6.0);
        assert_eq!(p.forward(20.0, 6.0), [0.0, 0.0]);
        let [x, y] = p.forward(20.0, 7.0);
        assert!(x.abs() < 1e-9);
        // One degree of latitude at 6.5N is about 110.6 km.
        assert!((y - 110_600.0).abs() < 100.0, "{y}");
    }

    #[test]
    fn authalic_radius_of_wgs84() {
        let rq = Laea::wgs84(0.0, 0.0).authalic_radius();
        assert!((rq - 6_371_007.180_9).abs() < 1e-3, "{rq}");
    }

    #[test]
    fn round_trips_within_a_micrometre() {
        for &(lon0, lat0) in &[(20.0, 6.0), (-70.0, -33.0), (100.0, 60.0), (0.0, 80.0)] {
            let p = Laea::wgs84(lon0, lat0);
            for i in -20..=20 {
                for j in -20..=20 {
                    let lon = lon0 + f64::from(i) * 0.9;
                    // The authalic latitude is ill-conditioned at the poles
                    // (a few micrometres at 89.95 degrees): stop at 89.
                    let lat = (lat0 + f64::from(j) * 0.45).clamp(-89.0, 89.0);
                    let [x, y] = p.forward(lon, lat);
                    let [lon2, lat2] = p.inverse(x, y);
                    let [x2, y2] = p.forward(lon2, lat2);
                    assert!(
                        (x - x2).abs() < 1e-6 && (y - y2).abs() < 1e-6,
                        "{lon} {lat}"
                    );
                    let dx = (lon2 - wrap_deg(lon)) * lat.to_radians().cos() * 111_320.0;
                    let dy = (lat2 - lat) * 111_700.0;
                    assert!(
                        dx.hypot(dy) < 1e-6,
                        "{lon0} {lat0}: {lon} {lat} -> {lon2} {lat2}"
                    );
                }
            }
        }
    }

    fn wrap_deg(l: f64) -> f64 {
        wrap_pi(l.to_radians()).to_degrees()
    }

    #[test]
    fn preserves_area_against_geodesic_area() {
        // A 20 km projected square 300 km from the centre, inverse-projected
        // and densified, has a geodesic area of 400 km2.
        let p = Laea::wgs84(20.0, 6.0);
        let (x0, y0, c) = (250_000.0, -170_000.0, 20_000.0);
        let mut ring = Vec::new();
        let corners = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)];
        for w in corners.windows(2) {
            for k in 0..50 {
                let t = f64::from(k) / 50.0;
                let x = x0 + c * (w[0].0 + t * (w[1].0 - w[0].0));
                let y = y0 + c * (w[0].1 + t * (w[1].1 - w[0].1));
                let [lon, lat] = p.inverse(x, y);
                ring.push(geo_types::coord! { x: lon, y: lat });
            }
        }
        ring.push(ring[0]);
        let poly = geo_types::Polygon::new(geo_types::LineString(ring), vec![]);
        let area = poly.geodesic_area_unsigned();
        assert!((area / (c * c) - 1.0).abs() < 1e-7, "{area}");
    }

    #[test]
    fn beyond_the_disk_is_nan() {
        let p = Laea::wgs84(0.0, 0.0);
        assert!(p.inverse(2.0e7, 0.0)[0].is_nan());
        let [x, y] = p.forward(180.0, 0.0);
        assert!(!(x.is_finite() && y.is_finite()));
    }
}

//! Coordinate reference systems jointmap answers in besides its storage CRS
//! (CRS84, WGS 84 longitude/latitude): EPSG:4326 (the same datum, latitude
//! first), Web Mercator (EPSG:3857) and the UTM zones on WGS 84 (EPSG:326zz
//! north, 327zz south), as OGC API - Features Part 2 names them by URI.
//!
//! The transverse Mercator maths is Krüger's series to the sixth order in
//! the third flattening (Karney, "Transverse Mercator with an accuracy of a
//! few nanometres", J. Geodesy 85, 2011): well under a millimetre within a
//! zone and its neighbours, which is what GDAL/PROJ's `utm` gives.

use serde_json::Value;
use std::f64::consts::PI;
use std::fmt;

/// The URI prefix of EPSG codes in OGC APIs.
const EPSG: &str = "http://www.opengis.net/def/crs/EPSG/0/";
/// CRS84's URI.
pub const CRS84_URI: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

/// WGS 84 semi-major axis, metres.
const A: f64 = 6_378_137.0;
/// WGS 84 flattening.
const F: f64 = 1.0 / 298.257_223_563;
/// UTM scale on the central meridian.
const K0: f64 = 0.9996;

/// A coordinate reference system served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crs {
    /// WGS 84 longitude, latitude (degrees): the storage CRS.
    Crs84,
    /// WGS 84 latitude, longitude (degrees): EPSG's axis order.
    Epsg4326,
    /// Web Mercator (metres), as tiles use.
    WebMercator,
    /// A UTM zone on WGS 84 (metres, easting then northing).
    Utm {
        /// 1 to 60.
        zone: u8,
        /// Northern hemisphere (false northing 0) or southern (10,000 km).
        north: bool,
    },
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri())
    }
}

impl Crs {
    /// Its URI (`http://www.opengis.net/def/crs/...`).
    pub fn uri(self) -> String {
        match self {
            Crs::Crs84 => CRS84_URI.to_string(),
            Crs::Epsg4326 => format!("{EPSG}4326"),
            Crs::WebMercator => format!("{EPSG}3857"),
            Crs::Utm { zone, north } => {
                format!(
                    "{EPSG}{}",
                    if north { 32600 } else { 32700 } + u32::from(zone)
                )
            }
        }
    }

    /// Reads a URI (or a `EPSG:nnnn` / `CRS84` short form); `None` for a CRS
    /// not served.
    pub fn from_uri(s: &str) -> Option<Crs> {
        let s = s.trim();
        let s = s
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(s);
        if s == CRS84_URI || s.eq_ignore_ascii_case("CRS84") || s == "OGC:CRS84" {
            return Some(Crs::Crs84);
        }
        let code = s
            .strip_prefix(EPSG)
            .or_else(|| s.strip_prefix("EPSG:"))
            .or_else(|| s.strip_prefix("epsg:"))?;
        if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) || code.len() > 5 {
            return None;
        }
        let n: u32 = code.parse().ok()?;
        match n {
            4326 => Some(Crs::Epsg4326),
            3857 => Some(Crs::WebMercator),
            32601..=32660 => Some(Crs::Utm {
                zone: (n - 32600) as u8,
                north: true,
            }),
            32701..=32760 => Some(Crs::Utm {
                zone: (n - 32700) as u8,
                north: false,
            }),
            _ => None,
        }
    }

    /// The UTM zone whose central meridian is nearest `lon`, on `lat`'s
    /// hemisphere (the regular zones, without Norway's and Svalbard's).
    pub fn utm_for(lon: f64, lat: f64) -> Crs {
        let zone = (((lon + 180.0) / 6.0).floor() as i64).clamp(0, 59) as u8 + 1;
        Crs::Utm {
            zone,
            north: lat >= 0.0,
        }
    }

    /// The UTM zones (on the hemisphere of the box's centre) a CRS84 box
    /// touches, west to east; at most `max` of them, else the zone of its
    /// centre only.
    pub fn utm_zones(b: [f64; 4], max: usize) -> Vec<Crs> {
        let north = (b[1] + b[3]) / 2.0 >= 0.0;
        let zone = |lon: f64| (((lon + 180.0) / 6.0).floor() as i64).clamp(0, 59) as u8 + 1;
        let (w, e) = (zone(b[0]), zone(b[2]));
        if b[0] > b[2] || usize::from(e - w) >= max {
            return vec![Crs::utm_for((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0)];
        }
        (w..=e).map(|zone| Crs::Utm { zone, north }).collect()
    }

    /// CRS84 `(lon, lat)` to this CRS's `(x, y)` in its axis order.
    pub fn forward(self, lon: f64, lat: f64) -> [f64; 2] {
        match self {
            Crs::Crs84 => [lon, lat],
            Crs::Epsg4326 => [lat, lon],
            Crs::WebMercator => {
                // Clamped as EPSG:3857 is defined only within ±85.05°.
                let lat = lat.clamp(-85.051_128_779_806_6, 85.051_128_779_806_6);
                [
                    A * lon.to_radians(),
                    A * (PI / 4.0 + lat.to_radians() / 2.0).tan().ln(),
                ]
            }
            Crs::Utm { zone, north } => {
                let lon0 = f64::from(zone) * 6.0 - 183.0;
                let (x, y) = tm_forward(lon - lon0, lat);
                [500_000.0 + x, if north { y } else { y + 10_000_000.0 }]
            }
        }
    }

    /// This CRS's `(x, y)` to CRS84 `(lon, lat)`.
    pub fn inverse(self, x: f64, y: f64) -> [f64; 2] {
        match self {
            Crs::Crs84 => [x, y],
            Crs::Epsg4326 => [y, x],
            Crs::WebMercator => [
                (x / A).to_degrees(),
                (2.0 * (y / A).exp().atan() - PI / 2.0).to_degrees(),
            ],
            Crs::Utm { zone, north } => {
                let lon0 = f64::from(zone) * 6.0 - 183.0;
                let y = if north { y } else { y - 10_000_000.0 };
                let (dlon, lat) = tm_inverse(x - 500_000.0, y);
                let mut lon = lon0 + dlon;
                if lon > 180.0 {
                    lon -= 360.0;
                } else if lon < -180.0 {
                    lon += 360.0;
                }
                [lon, lat]
            }
        }
    }

    /// The CRS84 box `[min_lon, min_lat, max_lon, max_lat]` covering a box
    /// given in this CRS (`[min_x, min_y, max_x, max_y]` in its axis order):
    /// its edges sampled, as a projected box's edges curve in longitude and
    /// latitude.
    pub fn bbox_to_crs84(self, b: [f64; 4]) -> [f64; 4] {
        match self {
            Crs::Crs84 => b,
            Crs::Epsg4326 => [b[1], b[0], b[3], b[2]],
            _ => {
                let mut out = [
                    f64::INFINITY,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::NEG_INFINITY,
                ];
                const STEPS: usize = 32;
                // On a UTM box's top and bottom edges latitude peaks at the
                // central meridian: sample it too.
                let meridian =
                    matches!(self, Crs::Utm { .. }) && b[0] < 500_000.0 && 500_000.0 < b[2];
                let extra = meridian.then_some([(500_000.0, b[1]), (500_000.0, b[3])]);
                for i in 0..=STEPS {
                    let t = i as f64 / STEPS as f64;
                    let x = b[0] + (b[2] - b[0]) * t;
                    let y = b[1] + (b[3] - b[1]) * t;
                    let edge = [(x, b[1]), (x, b[3]), (b[0], y), (b[2], y)];
                    for (px, py) in edge.into_iter().chain(extra.into_iter().flatten()) {
                        let [lon, lat] = self.inverse(px, py);
                        out = [
                            out[0].min(lon),
                            out[1].min(lat),
                            out[2].max(lon),
                            out[3].max(lat),
                        ];
                    }
                }
                [
                    out[0].max(-180.0),
                    out[1].max(-90.0),
                    out[2].min(180.0),
                    out[3].min(90.0),
                ]
            }
        }
    }

    /// Rewrites the coordinates of a GeoJSON geometry (CRS84) into this CRS,
    /// in place; positions keep any height they carry.
    pub fn transform_geometry(self, g: &mut Value) {
        if self == Crs::Crs84 {
            return;
        }
        match g.get_mut("coordinates") {
            Some(c) => self.transform_positions(c),
            None => {
                if let Some(Value::Array(gs)) = g.get_mut("geometries") {
                    for g in gs {
                        self.transform_geometry(g);
                    }
                }
            }
        }
    }

    fn transform_positions(self, c: &mut Value) {
        let Value::Array(items) = c else { return };
        let is_position = items.first().is_some_and(Value::is_number);
        if !is_position {
            for item in items {
                self.transform_positions(item);
            }
            return;
        }
        if let (Some(lon), Some(lat)) = (
            items.first().and_then(Value::as_f64),
            items.get(1).and_then(Value::as_f64),
        ) {
            let [x, y] = self.forward(lon, lat);
            // Millimetres in metric CRSs, about 1 cm in degrees: no false precision.
            let round = |v: f64, scale: f64| (v * scale).round() / scale;
            let scale = match self {
                Crs::Crs84 | Crs::Epsg4326 => 1e7,
                _ => 1e3,
            };
            items[0] = Value::from(round(x, scale));
            items[1] = Value::from(round(y, scale));
        }
    }
}

/// The third flattening.
fn third_flattening() -> f64 {
    F / (2.0 - F)
}

/// The rectifying radius times the scale: metres per radian of the
/// conformal sphere's meridian.
fn rectifying_radius(n: f64) -> f64 {
    let n2 = n * n;
    A / (1.0 + n) * (1.0 + n2 / 4.0 + n2 * n2 / 64.0 + n2 * n2 * n2 / 256.0)
}

fn alpha(n: f64) -> [f64; 6] {
    let (n2, n3, n4, n5, n6) = (n * n, n.powi(3), n.powi(4), n.powi(5), n.powi(6));
    [
        n / 2.0 - 2.0 * n2 / 3.0 + 5.0 * n3 / 16.0 + 41.0 * n4 / 180.0 - 127.0 * n5 / 288.0
            + 7891.0 * n6 / 37800.0,
        13.0 * n2 / 48.0 - 3.0 * n3 / 5.0 + 557.0 * n4 / 1440.0 + 281.0 * n5 / 630.0
            - 1_983_433.0 * n6 / 1_935_360.0,
        61.0 * n3 / 240.0 - 103.0 * n4 / 140.0
            + 15061.0 * n5 / 26880.0
            + 167_603.0 * n6 / 181_440.0,
        49561.0 * n4 / 161_280.0 - 179.0 * n5 / 168.0 + 6_601_661.0 * n6 / 7_257_600.0,
        34729.0 * n5 / 80640.0 - 3_418_889.0 * n6 / 1_995_840.0,
        212_378_941.0 * n6 / 319_334_400.0,
    ]
}

fn beta(n: f64) -> [f64; 6] {
    let (n2, n3, n4, n5, n6) = (n * n, n.powi(3), n.powi(4), n.powi(5), n.powi(6));
    [
        n / 2.0 - 2.0 * n2 / 3.0 + 37.0 * n3 / 96.0 - n4 / 360.0 - 81.0 * n5 / 512.0
            + 96199.0 * n6 / 604_800.0,
        n2 / 48.0 + n3 / 15.0 - 437.0 * n4 / 1440.0 + 46.0 * n5 / 105.0
            - 1_118_711.0 * n6 / 3_870_720.0,
        17.0 * n3 / 480.0 - 37.0 * n4 / 840.0 - 209.0 * n5 / 4480.0 + 5569.0 * n6 / 90720.0,
        4397.0 * n4 / 161_280.0 - 11.0 * n5 / 504.0 - 830_251.0 * n6 / 7_257_600.0,
        4583.0 * n5 / 161_280.0 - 108_847.0 * n6 / 3_991_680.0,
        20_648_693.0 * n6 / 638_668_800.0,
    ]
}

/// Transverse Mercator on WGS 84 with scale [`K0`]: `(dlon, lat)` degrees
/// from the central meridian to `(x, y)` metres (no false origin).
fn tm_forward(dlon: f64, lat: f64) -> (f64, f64) {
    let n = third_flattening();
    let e = (F * (2.0 - F)).sqrt();
    let (phi, lam) = (lat.to_radians(), dlon.to_radians());
    let s = phi.sin();
    // Tangent of the conformal latitude.
    let t = (s.atanh() - e * (e * s).atanh()).sinh();
    let xi1 = t.atan2(lam.cos());
    let eta1 = (lam.sin() / (1.0 + t * t).sqrt()).atanh();
    let (mut xi, mut eta) = (xi1, eta1);
    for (j, a) in alpha(n).iter().enumerate() {
        let k = 2.0 * (j as f64 + 1.0);
        xi += a * (k * xi1).sin() * (k * eta1).cosh();
        eta += a * (k * xi1).cos() * (k * eta1).sinh();
    }
    let ka = K0 * rectifying_radius(n);
    (ka * eta, ka * xi)
}

/// The inverse of [`tm_forward`]: `(x, y)` metres to `(dlon, lat)` degrees.
fn tm_inverse(x: f64, y: f64) -> (f64, f64) {
    let n = third_flattening();
    let e2 = F * (2.0 - F);
    let e = e2.sqrt();
    let ka = K0 * rectifying_radius(n);
    let (xi, eta) = (y / ka, x / ka);
    let (mut xi1, mut eta1) = (xi, eta);
    for (j, b) in beta(n).iter().enumerate() {
        let k = 2.0 * (j as f64 + 1.0);
        xi1 -= b * (k * xi).sin() * (k * eta).cosh();
        eta1 -= b * (k * xi).cos() * (k * eta).sinh();
    }
    let tau1 = xi1.sin() / (eta1.sinh().powi(2) + xi1.cos().powi(2)).sqrt();
    let lam = eta1.sinh().atan2(xi1.cos());
    // The latitude's tangent from the conformal one, by Newton's method.
    let mut tau = tau1;
    for _ in 0..8 {
        let sigma = (e * (e * tau / (1.0 + tau * tau).sqrt()).atanh()).sinh();
        let taui = tau * (1.0 + sigma * sigma).sqrt() - sigma * (1.0 + tau * tau).sqrt();
        let d = (tau1 - taui) / (1.0 + taui * taui).sqrt() * (1.0 + (1.0 - e2) * tau * tau)
            / ((1.0 - e2) * (1.0 + tau * tau).sqrt());
        tau += d;
        if d.abs() < 1e-14 {
            break;
        }
    }
    (lam.to_degrees(), tau.atan().to_degrees())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn uris_round_trip_and_others_are_refused() {
        for c in [
            Crs::Crs84,
            Crs::Epsg4326,
            Crs::WebMercator,
            Crs::Utm {
                zone: 34,
                north: true,
            },
            Crs::Utm {
                zone: 1,
                north: false,
            },
            Crs::Utm {
                zone: 60,
                north: true,
            },
        ] {
            assert_eq!(Crs::from_uri(&c.uri()), Some(c));
        }
        assert_eq!(Crs::from_uri("EPSG:32634"), Crs::from_uri("[EPSG:32634]"));
        for bad in [
            "EPSG:32600",
            "EPSG:32661",
            "EPSG:2154",
            "EPSG:",
            "EPSG:+4326",
            "EPSG:004326x",
            "http://www.opengis.net/def/crs/EPSG/0/999999999999",
            "",
        ] {
            assert_eq!(Crs::from_uri(bad), None, "{bad}");
        }
    }

    /// Known values of the definition; the comparison with PROJ over the
    /// mission area is in tests/server_crs.rs (through `gdaltransform`).
    #[test]
    fn utm_matches_proj_to_the_millimetre() {
        let c = Crs::Utm {
            zone: 34,
            north: true,
        };
        let [x, y] = c.forward(21.0, 0.0);
        assert!((x - 500_000.0).abs() < 1e-6 && y.abs() < 1e-6);
        // On the central meridian the northing is K0 times the meridian
        // arc: 1 degree of latitude from the equator is 110,574.389 m on WGS 84.
        let [_, y] = c.forward(21.0, 1.0);
        assert!((y - 0.9996 * 110_574.388_6).abs() < 1e-3, "{y}");
        // Round trips within a zone and well beyond its edges.
        for &(lon, lat) in &[
            (18.55, 4.36),
            (14.42, 2.22),
            (27.46, 11.0),
            (15.0, -4.3),
            (24.0, 60.0),
        ] {
            for c in [
                Crs::utm_for(lon, lat),
                Crs::Utm {
                    zone: 34,
                    north: lat >= 0.0,
                },
            ] {
                let [x, y] = c.forward(lon, lat);
                let [lo, la] = c.inverse(x, y);
                assert!(
                    (lo - lon).abs() < 1e-9 && (la - lat).abs() < 1e-9,
                    "{c} {lon} {lat}: {lo} {la}"
                );
            }
        }
    }

    #[test]
    fn web_mercator_round_trips_and_clamps() {
        let c = Crs::WebMercator;
        let [x, y] = c.forward(180.0, 0.0);
        assert!((x - 20_037_508.342_789_244).abs() < 1e-6 && y.abs() < 1e-9);
        let [lon, lat] = c.inverse(c.forward(18.55, 4.36)[0], c.forward(18.55, 4.36)[1]);
        assert!((lon - 18.55).abs() < 1e-12 && (lat - 4.36).abs() < 1e-12);
        assert!(c.forward(0.0, 90.0)[1].is_finite());
    }

    #[test]
    fn geometries_are_rewritten_in_place_keeping_heights() {
        let mut g = json!({"type": "LineString", "coordinates": [[18.5, 4.4, 350.0], [18.6, 4.5]]});
        Crs::Epsg4326.transform_geometry(&mut g);
        assert_eq!(g["coordinates"], json!([[4.4, 18.5, 350.0], [4.5, 18.6]]));
        let mut g = json!({"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [0.0, 0.0]}]});
        Crs::WebMercator.transform_geometry(&mut g);
        assert_eq!(g["geometries"][0]["coordinates"], json!([0.0, 0.0]));
    }

    #[test]
    fn a_projected_box_is_covered_by_its_crs84_box() {
        let c = Crs::Utm {
            zone: 34,
            north: true,
        };
        let b = [300_000.0, 400_000.0, 700_000.0, 800_000.0];
        let g = c.bbox_to_crs84(b);
        for (x, y) in [
            (b[0], b[1]),
            (b[2], b[3]),
            (b[0], b[3]),
            (500_000.0, 400_000.0),
        ] {
            let [lon, lat] = c.inverse(x, y);
            assert!(lon >= g[0] && lon <= g[2] && lat >= g[1] && lat <= g[3]);
        }
        let n = |zone| Crs::Utm { zone, north: true };
        assert_eq!(
            Crs::utm_zones([14.4, 2.2, 27.5, 11.0], 3),
            vec![n(33), n(34), n(35)]
        );
        assert_eq!(Crs::utm_zones([14.4, 2.2, 27.5, 11.0], 2), vec![n(34)]);
        assert_eq!(
            Crs::utm_zones([16.0, 2.2, 20.0, 11.0], 3),
            vec![
                Crs::Utm {
                    zone: 33,
                    north: true
                },
                Crs::Utm {
                    zone: 34,
                    north: true
                }
            ]
        );
    }
}

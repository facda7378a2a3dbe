//! The classes of the analysis overlays and their colours.
//!
//! - Hot spots and Local Moran types: a diverging red-blue scheme
//!   (ColorBrewer RdBu, which stays distinct for the common forms of
//!   colour-vision deficiency), darker for more confidence; not
//!   significant in light grey; a cell not tested (no event in its
//!   neighbourhood, too few events to say anything) only outlined, never
//!   filled like a result.
//! - Risk levels: a sequential yellow-to-brown scheme (ColorBrewer YlOrBr),
//!   ordered by lightness.
//! - Presence: four classes of a sequential green scheme (ColorBrewer
//!   Greens), as the viewer's legend names them.
//! - Blind spots: hatched ([`super::hatch`]): threat blind spots in
//!   vermillion on one diagonal, information blind spots in purple on the
//!   other, so that they differ without colour.

use super::palette::Rgba;
use super::TileLayer;
use serde_json::{Map, Value};

/// How one cell of an overlay is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellStyle {
    /// Filled with a colour (and a thin outline of it).
    Fill(Rgba),
    /// Only outlined (a cell without a result).
    Outline(Rgba),
    /// Hatched along a diagonal, outlined.
    Hatch {
        /// Line and outline colour.
        colour: Rgba,
        /// Rising (`/`) or falling (`\`) lines.
        rising: bool,
    },
}

// The viewer's legend (src/server/viewer/viewer.js) names these same
// colours: change both together.

/// Hot spot classes, hottest first: name, colour (RdBu, 7 classes).
pub const HOTSPOT: [(&str, Rgba); 7] = [
    ("hot-99", Rgba(178, 24, 43, 255)),
    ("hot-95", Rgba(239, 138, 98, 255)),
    ("hot-90", Rgba(253, 219, 199, 255)),
    ("not-significant", Rgba(247, 247, 247, 255)),
    ("cold-90", Rgba(209, 229, 240, 255)),
    ("cold-95", Rgba(103, 169, 207, 255)),
    ("cold-99", Rgba(33, 102, 172, 255)),
];

/// Local Moran cluster and outlier types: name, colour.
pub const MORAN: [(&str, Rgba); 4] = [
    ("HH", Rgba(178, 24, 43, 255)),
    ("HL", Rgba(239, 138, 98, 255)),
    ("LH", Rgba(103, 169, 207, 255)),
    ("LL", Rgba(33, 102, 172, 255)),
];

/// Risk levels, lowest first: name, colour (YlOrBr).
pub const RISK: [(&str, Rgba); 4] = [
    ("low", Rgba(254, 227, 145, 255)),
    ("medium", Rgba(254, 153, 41, 255)),
    ("high", Rgba(204, 76, 2, 255)),
    ("extreme", Rgba(102, 37, 6, 255)),
];

/// Presence classes, from 0.75 down: lower bound, colour (Greens).
pub const PRESENCE: [(f64, Rgba); 4] = [
    (0.75, Rgba(35, 139, 69, 255)),
    (0.5, Rgba(116, 196, 118, 255)),
    (0.25, Rgba(199, 233, 192, 255)),
    (0.0, Rgba(255, 255, 255, 255)),
];

/// Outlines of cells without a result.
pub const NOT_SIGNIFICANT: Rgba = Rgba(150, 150, 150, 255);

/// Threat blind spots (Okabe-Ito vermillion).
pub const THREAT: Rgba = Rgba(213, 94, 0, 255);

/// Information blind spots (Okabe-Ito reddish purple).
pub const INFORMATION: Rgba = Rgba(204, 121, 167, 255);

fn named(table: &[(&str, Rgba)], v: Option<&str>) -> Option<Rgba> {
    let v = v?;
    table.iter().find(|(n, _)| *n == v).map(|(_, c)| *c)
}

/// The style of a cell of overlay `layer` with properties `p`; `None`
/// when the cell is not drawn (a property the role was not given, a
/// value outside the layer's classes).
pub fn style(layer: TileLayer, p: &Map<String, Value>) -> Option<CellStyle> {
    let s = |k: &str| p.get(k).and_then(Value::as_str);
    match layer {
        TileLayer::Hotspots => match p.get("class") {
            // No class: the cell was not tested (no event nearby).
            Some(Value::Null) | None => Some(CellStyle::Outline(NOT_SIGNIFICANT)),
            _ => named(&HOTSPOT, s("class")).map(CellStyle::Fill),
        },
        TileLayer::Moran => match p.get("moran_type") {
            Some(Value::Null) | None => Some(CellStyle::Outline(NOT_SIGNIFICANT)),
            _ => named(&MORAN, s("moran_type")).map(CellStyle::Fill),
        },
        TileLayer::Risk => named(&RISK, s("risk_level")).map(CellStyle::Fill),
        TileLayer::Presence => {
            let v = p.get("presence").and_then(Value::as_f64)?;
            if !(v.is_finite() && v > 0.0) {
                return None;
            }
            PRESENCE
                .iter()
                .find(|(lo, _)| v >= *lo)
                .map(|(_, c)| CellStyle::Fill(*c))
        }
        TileLayer::Blindspots => match s("kind")? {
            "threat" => Some(CellStyle::Hatch {
                colour: THREAT,
                rising: true,
            }),
            "information" => Some(CellStyle::Hatch {
                colour: INFORMATION,
                rising: false,
            }),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn untested_cells_are_never_drawn_as_results() {
        let untested = style(TileLayer::Hotspots, &p(json!({"class": null, "count": 1})));
        assert_eq!(untested, Some(CellStyle::Outline(NOT_SIGNIFICANT)));
        let ns = style(TileLayer::Hotspots, &p(json!({"class": "not-significant"})));
        assert_eq!(ns, Some(CellStyle::Fill(HOTSPOT[3].1)));
        let hot = style(TileLayer::Hotspots, &p(json!({"class": "hot-99"})));
        assert_eq!(hot, Some(CellStyle::Fill(HOTSPOT[0].1)));
        assert_eq!(
            style(TileLayer::Hotspots, &p(json!({"class": "warm"}))),
            None
        );
        assert_eq!(
            style(TileLayer::Moran, &p(json!({"moran_type": null}))),
            Some(CellStyle::Outline(NOT_SIGNIFICANT))
        );
        assert_eq!(
            style(TileLayer::Presence, &p(json!({"presence": 0.0}))),
            None
        );
        assert_eq!(style(TileLayer::Risk, &p(json!({}))), None);
    }

    #[test]
    fn classes_are_distinct_and_ordered_by_lightness() {
        let luma =
            |c: Rgba| 0.2126 * f64::from(c.0) + 0.7152 * f64::from(c.1) + 0.0722 * f64::from(c.2);
        // Hot and cold each darken with confidence, both sides of grey.
        assert!(luma(HOTSPOT[0].1) < luma(HOTSPOT[1].1) && luma(HOTSPOT[1].1) < luma(HOTSPOT[2].1));
        assert!(luma(HOTSPOT[6].1) < luma(HOTSPOT[5].1) && luma(HOTSPOT[5].1) < luma(HOTSPOT[4].1));
        for w in RISK.windows(2) {
            assert!(luma(w[0].1) > luma(w[1].1), "{} {}", w[0].0, w[1].0);
        }
        let mut seen = std::collections::HashSet::new();
        for (_, c) in HOTSPOT {
            assert!(seen.insert(c));
        }
    }
}

//! The source grade of an event drawn at high zoom: a ring around the
//! symbol whose line style, not its colour, tells the band, so it reads in
//! grey scale and with any colour-vision deficiency:
//!
//! - solid: reliable (source reliability A-B, information credibility 1-2);
//! - dashed: C-D (credibility 3-4);
//! - dotted: E-F, or cannot be judged (credibility 5-6).
//!
//! Incidents carry `source_reliability` only; sightings also carry
//! `info_credibility`, and their ring shows the weaker of the two. The
//! grade is read from the properties the role's view shows and from
//! nothing else: a role that may not see either field gets no ring, the
//! very pixels of a feature without the fields.

use super::palette::Rgba;
use super::TileLayer;
use serde_json::{Map, Value};

/// Zoom from which the grade is drawn.
pub const GRADE_FROM_ZOOM: u8 = 14;

/// The band of a source grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Band {
    /// Reliability A-B (credibility 1-2): a solid ring.
    Reliable,
    /// Reliability C-D (credibility 3-4): a dashed ring.
    Doubtful,
    /// Reliability E-F, cannot be judged (credibility 5-6): a dotted ring.
    Weak,
}

impl Band {
    /// The band of a reliability grade `A`-`F`; `None` for anything else.
    pub fn of_reliability(grade: &str) -> Option<Band> {
        Some(match grade {
            "A" | "B" => Band::Reliable,
            "C" | "D" => Band::Doubtful,
            "E" | "F" => Band::Weak,
            _ => return None,
        })
    }

    /// The band of an information credibility 1-6; `None` out of range.
    pub fn of_credibility(c: i64) -> Option<Band> {
        Some(match c {
            1 | 2 => Band::Reliable,
            3 | 4 => Band::Doubtful,
            5 | 6 => Band::Weak,
            _ => return None,
        })
    }

    /// The ring's dash pattern, pixels of a 256-px tile (empty: solid).
    pub fn dash(self) -> &'static [f32] {
        match self {
            Band::Reliable => &[],
            Band::Doubtful => &[4.0, 2.5],
            Band::Weak => &[1.2, 2.4],
        }
    }
}

/// The band of the grade `props` show for a feature of `layer`: the weaker
/// of the grade fields shown, `None` when none is (hidden, absent, or not
/// an event layer).
pub fn band(layer: TileLayer, props: &Map<String, Value>) -> Option<Band> {
    if !matches!(layer, TileLayer::Incidents | TileLayer::Sightings) {
        return None;
    }
    let reliability = props
        .get("source_reliability")
        .and_then(Value::as_str)
        .and_then(Band::of_reliability);
    let credibility = match layer {
        TileLayer::Sightings => props
            .get("info_credibility")
            .and_then(Value::as_i64)
            .and_then(Band::of_credibility),
        _ => None,
    };
    reliability.into_iter().chain(credibility).max()
}

/// The ring's colour: near black, over the symbols' white halo.
pub const RING: Rgba = Rgba(25, 25, 25, 255);

/// Width of the ring's line, pixels of a 256-px tile.
pub const RING_WIDTH: f32 = 1.5;
/// Width of the white halo under the ring (whole, so that the dashes'
/// gaps read on any background).
pub const HALO_WIDTH: f32 = 3.5;

/// The ring's radius around a symbol of radius `r`: clear of every shape's
/// corners (a square's reach 1.2 r).
pub fn ring_radius(r: f64) -> f64 {
    r * 1.25 + 2.5
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn bands_follow_the_grades() {
        for (g, b) in [
            ("A", Band::Reliable),
            ("B", Band::Reliable),
            ("C", Band::Doubtful),
            ("D", Band::Doubtful),
            ("E", Band::Weak),
            ("F", Band::Weak),
        ] {
            assert_eq!(Band::of_reliability(g), Some(b), "{g}");
        }
        assert_eq!(Band::of_reliability("a"), None);
        assert_eq!(Band::of_reliability("G"), None);
        assert_eq!(Band::of_credibility(0), None);
        assert_eq!(Band::of_credibility(7), None);
        assert_eq!(Band::of_credibility(3), Some(Band::Doubtful));
        let (a, b, c) = (
            Band::Reliable.dash(),
            Band::Doubtful.dash(),
            Band::Weak.dash(),
        );
        assert!(a.is_empty() && b.len() == 2 && c.len() == 2 && b != c);
    }

    #[test]
    fn only_shown_fields_make_a_band() {
        let inc = TileLayer::Incidents;
        assert_eq!(band(inc, &props(json!({}))), None);
        assert_eq!(
            band(inc, &props(json!({"source_reliability": "B"}))),
            Some(Band::Reliable)
        );
        // Incidents have no credibility field: an extra of that name is no grade.
        assert_eq!(band(inc, &props(json!({"info_credibility": 6}))), None);
        let s = TileLayer::Sightings;
        assert_eq!(
            band(
                s,
                &props(json!({"source_reliability": "A", "info_credibility": 5}))
            ),
            Some(Band::Weak),
            "the weaker of the two"
        );
        assert_eq!(
            band(s, &props(json!({"info_credibility": 4}))),
            Some(Band::Doubtful)
        );
        assert_eq!(
            band(TileLayer::Bases, &props(json!({"source_reliability": "A"}))),
            None
        );
    }
}

#[cfg(test)]
#[path = "grade_tests.rs"]
mod drawn;

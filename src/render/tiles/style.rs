//! The symbol of each layer's features: colour and shape by class, line
//! dashes, sizes. Classes are read from the properties the role's view
//! shows; a feature whose class property is hidden gets the neutral class.

use super::grade::Band;
use super::palette::{class_colour, Rgba};
use crate::model::schema::{
    ACTIVITIES, BASE_REACH_KM, BASE_TYPES, CATEGORIES, MODES, PATROL_KINDS, SITE_KINDS,
};
use serde_json::{Map, Value};

/// The largest base reach drawn, metres.
pub const MAX_REACH_M: f64 = 40_000.0;

/// A point symbol's outline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// Circle.
    Circle,
    /// Square.
    Square,
    /// Triangle, point up.
    Triangle,
    /// Diamond.
    Diamond,
}

impl Shape {
    fn nth(i: usize) -> Shape {
        [
            Shape::Circle,
            Shape::Square,
            Shape::Triangle,
            Shape::Diamond,
        ][i % 4]
    }
}

/// How one point feature is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointStyle {
    /// Fill colour.
    pub colour: Rgba,
    /// Outline shape.
    pub shape: Shape,
    /// Radius, pixels of a 256-px tile.
    pub radius: f64,
    /// Drawn hollow (an unconfirmed incident, at high zoom).
    pub hollow: bool,
    /// The source grade's ring (an event at high zoom, when the role sees
    /// its grade: [`super::grade`]).
    pub grade: Option<Band>,
}

/// The neutral colour of a feature without a known class.
pub const NEUTRAL: Rgba = Rgba(110, 110, 110, 255);

fn class_of(props: &Map<String, Value>, field: &str, classes: &[&str]) -> Option<usize> {
    let v = props.get(field)?.as_str()?;
    classes.iter().position(|c| *c == v)
}

fn point(class: Option<usize>, shape_offset: usize, radius: f64) -> PointStyle {
    match class {
        Some(i) => {
            let (colour, shape) = class_colour(i);
            PointStyle {
                colour,
                shape: Shape::nth(shape + shape_offset),
                radius,
                hollow: false,
                grade: None,
            }
        }
        None => PointStyle {
            colour: NEUTRAL,
            shape: Shape::nth(shape_offset),
            radius,
            hollow: false,
            grade: None,
        },
    }
}

/// An incident: colour and shape by category; at zoom 12 and deeper, hollow
/// unless corroborated or verified (when the role sees `verification`).
pub fn incident(props: &Map<String, Value>, z: u8) -> PointStyle {
    let mut s = point(class_of(props, "category", CATEGORIES), 0, 4.5);
    if z >= 12 {
        let v = props.get("verification").and_then(Value::as_str);
        s.hollow = matches!(v, Some("alert" | "reported"));
        s.radius = 6.0;
    }
    s
}

/// A sighting: triangles, colour by activity.
pub fn sighting(props: &Map<String, Value>) -> PointStyle {
    point(class_of(props, "activity", ACTIVITIES), 2, 5.0)
}

/// A base: squares, colour by type.
pub fn base(props: &Map<String, Value>) -> PointStyle {
    point(class_of(props, "base_type", BASE_TYPES), 1, 6.0)
}

/// A base's reach, metres: its `reach_km` when shown, else its type's
/// default; at most [`MAX_REACH_M`].
pub fn base_reach_m(props: &Map<String, Value>) -> Option<f64> {
    let km = props
        .get("reach_km")
        .and_then(Value::as_f64)
        .or_else(|| class_of(props, "base_type", BASE_TYPES).map(|i| BASE_REACH_KM[i]))?;
    (km.is_finite() && km > 0.0).then(|| (km * 1000.0).min(MAX_REACH_M))
}

/// A civilian site: diamonds, colour by kind.
pub fn site(props: &Map<String, Value>) -> PointStyle {
    point(class_of(props, "site_type", SITE_KINDS), 3, 5.0)
}

/// How a patrol track is drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct LineStyle {
    /// Colour (by mode).
    pub colour: Rgba,
    /// Width, pixels of a 256-px tile.
    pub width: f64,
    /// Dash pattern (by kind); empty for a solid line.
    pub dash: Vec<f32>,
}

/// A patrol: colour by mode, dashes by kind (routine solid).
pub fn patrol(props: &Map<String, Value>) -> LineStyle {
    let colour = class_of(props, "mode", MODES).map_or(NEUTRAL, |i| class_colour(i).0);
    let dash = match class_of(props, "kind", PATROL_KINDS) {
        None | Some(0) => Vec::new(),
        Some(k) => {
            // One more short dash per kind: told apart without colour.
            let mut d = vec![6.0, 3.0];
            for _ in 1..k {
                d.extend([1.5, 3.0]);
            }
            d
        }
    };
    LineStyle {
        colour,
        width: 2.0,
        dash,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn classes_come_from_shown_properties_only() {
        let a = incident(&props(json!({"category": "killing"})), 8);
        let b = incident(&props(json!({"category": "abduction"})), 8);
        assert_ne!(a.colour, b.colour);
        // Hidden category: neutral, not a guess.
        assert_eq!(incident(&props(json!({})), 8).colour, NEUTRAL);
        let hi = incident(
            &props(json!({"category": "killing", "verification": "alert"})),
            14,
        );
        assert!(hi.hollow);
        let lo = incident(
            &props(json!({"category": "killing", "verification": "alert"})),
            10,
        );
        assert!(!lo.hollow);
    }

    #[test]
    fn patrol_kinds_differ_by_dashes() {
        let kinds: Vec<Vec<f32>> = PATROL_KINDS
            .iter()
            .map(|k| patrol(&props(json!({"mode": "foot", "kind": k}))).dash)
            .collect();
        for i in 0..kinds.len() {
            for j in i + 1..kinds.len() {
                assert_ne!(kinds[i], kinds[j]);
            }
        }
        assert!(kinds[0].is_empty());
    }

    #[test]
    fn reach_defaults_by_type_and_is_capped() {
        assert_eq!(
            base_reach_m(&props(json!({"base_type": "tob"}))),
            Some(15_000.0)
        );
        assert_eq!(
            base_reach_m(&props(json!({"reach_km": 900.0}))),
            Some(MAX_REACH_M)
        );
        assert_eq!(base_reach_m(&props(json!({}))), None);
    }
}

//! Colour-blind-safe colours.
//!
//! - Categories use the Okabe-Ito palette (Okabe and Ito 2008, "Color
//!   Universal Design"): eight colours told apart with every common form of
//!   colour-vision deficiency. A layer with more classes than that reuses
//!   colours with a different symbol shape (see `symbols.rs`).
//! - Continuous values (density, counts) use viridis (van der Walt and
//!   Smith, matplotlib 2015): perceptually uniform, monotone in lightness,
//!   readable in grey scale and by colour-blind readers; sampled at nine
//!   stops and interpolated linearly in sRGB.

/// An sRGB colour with alpha.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rgba(pub u8, pub u8, pub u8, pub u8);

impl Rgba {
    /// The same colour with alpha `a`.
    pub fn alpha(self, a: u8) -> Rgba {
        Rgba(self.0, self.1, self.2, a)
    }

    /// As tiny-skia's colour.
    pub fn skia(self) -> tiny_skia::Color {
        tiny_skia::Color::from_rgba8(self.0, self.1, self.2, self.3)
    }
}

/// The Okabe-Ito palette, black last.
pub const OKABE_ITO: [Rgba; 8] = [
    Rgba(230, 159, 0, 255),   // orange
    Rgba(86, 180, 233, 255),  // sky blue
    Rgba(0, 158, 115, 255),   // bluish green
    Rgba(240, 228, 66, 255),  // yellow
    Rgba(0, 114, 178, 255),   // blue
    Rgba(213, 94, 0, 255),    // vermillion
    Rgba(204, 121, 167, 255), // reddish purple
    Rgba(0, 0, 0, 255),       // black
];

/// Outline drawn around symbols so that they read on any background.
pub const HALO: Rgba = Rgba(255, 255, 255, 230);

/// Viridis at 0, 1/8, ..., 1.
const VIRIDIS: [[u8; 3]; 9] = [
    [68, 1, 84],
    [71, 44, 122],
    [59, 81, 139],
    [44, 113, 142],
    [33, 144, 141],
    [39, 173, 129],
    [92, 200, 99],
    [170, 220, 50],
    [253, 231, 37],
];

/// Viridis at `t` in [0, 1] (clamped; NaN is 0).
pub fn viridis(t: f64) -> Rgba {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let pos = t * 8.0;
    let i = (pos.floor() as usize).min(7);
    let f = pos - i as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f).round() as u8;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    Rgba(mix(a[0], b[0]), mix(a[1], b[1]), mix(a[2], b[2]), 255)
}

/// The colour and symbol of class `i` of a layer: Okabe-Ito colour `i mod
/// 8` (black skipped for fills, it hides the halo) and a shape that
/// changes every seven classes.
pub fn class_colour(i: usize) -> (Rgba, usize) {
    (OKABE_ITO[i % 7], i / 7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_ends_and_is_monotone_in_lightness() {
        assert_eq!(viridis(0.0), Rgba(68, 1, 84, 255));
        assert_eq!(viridis(1.0), Rgba(253, 231, 37, 255));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
        assert_eq!(viridis(7.0), viridis(1.0));
        let luma =
            |c: Rgba| 0.2126 * f64::from(c.0) + 0.7152 * f64::from(c.1) + 0.0722 * f64::from(c.2);
        let mut last = -1.0;
        for k in 0..=100 {
            let l = luma(viridis(f64::from(k) / 100.0));
            assert!(l > last, "lightness falls at {k}");
            last = l;
        }
    }

    #[test]
    fn classes_differ_in_colour_or_shape() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..14 {
            assert!(seen.insert(class_colour(i)), "class {i} repeats");
        }
    }
}

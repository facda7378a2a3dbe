//! A brief's map image: the gated cells of its parts drawn with tiny-skia
//! in Web Mercator ([`crate::render::tiles::mercator`], the tiles' frame)
//! at the largest zoom that fits the page, encoded as PNG. No base map (a
//! brief is self-contained and made without network); the ranks are
//! written by the document over the image, at the positions returned.

use crate::render::tiles::mercator::{Frame, TileId};
use crate::render::tiles::palette::Rgba;
use crate::render::tiles::TileError;
use crate::request::brief::{Brief, BriefKind, Priority};
use tiny_skia::{FillRule, Paint, Path, PathBuilder, Pixmap, Stroke, StrokeDash, Transform};

/// Largest drawing, pixels (about the width of an A4 page's text at 96 dpi).
const MAX_W: f64 = 680.0;
const MAX_H: f64 = 460.0;
/// Margin around the drawing, pixels.
const PAD: f64 = 24.0;

/// The image and where each area's rank goes on it.
#[derive(Debug, Clone)]
pub struct MapImage {
    /// The PNG.
    pub png: Vec<u8>,
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// Each area's rank at its centre, as fractions of width and height.
    pub labels: Vec<(f64, f64, usize)>,
}

/// The colour of an area: by pattern (weekly) or priority (early warning).
pub fn area_colour(kind: BriefKind, pattern: &str, priority: Option<Priority>) -> Rgba {
    match kind {
        BriefKind::WeeklyHotspot | BriefKind::QuarterlyOutlook => match pattern {
            "intensifying-hot" => Rgba(200, 30, 30, 255),
            "new-hot" => Rgba(230, 159, 0, 255),
            _ => Rgba(150, 80, 160, 255),
        },
        BriefKind::ThreatMatrix => match pattern {
            "extreme" => Rgba(120, 0, 0, 255),
            "high" => Rgba(213, 40, 20, 255),
            "medium" => Rgba(230, 159, 0, 255),
            _ => Rgba(240, 228, 66, 255),
        },
        BriefKind::EarlyWarning => match priority {
            Some(Priority::Top) => Rgba(120, 0, 0, 255),
            Some(Priority::High) => Rgba(213, 40, 20, 255),
            Some(Priority::Medium) => Rgba(230, 159, 0, 255),
            _ => Rgba(240, 228, 66, 255),
        },
        // The handover pack's hot spots, by what became of them.
        BriefKind::Handover => match pattern {
            "emerged" => Rgba(230, 159, 0, 255),
            "persisted" => Rgba(200, 30, 30, 255),
            _ => Rgba(86, 180, 233, 255),
        },
    }
}

/// The map of `brief`, or `None` when it has nothing to draw.
pub fn draw(brief: &Brief) -> Result<Option<MapImage>, TileError> {
    draw_within(brief, None)
}

/// The map of `brief` over `extent` (`[w, s, e, n]`; `None`: its own), so
/// that maps drawn side by side share one frame.
pub fn draw_within(brief: &Brief, extent: Option<[f64; 4]>) -> Result<Option<MapImage>, TileError> {
    // The listed areas with a margin of a quarter of their extent (at
    // least 0.1 degree), else everything drawn: context outside is clipped.
    let mut all: Vec<[f64; 2]> = brief.areas.iter().flat_map(|a| a.ring.clone()).collect();
    if let Some(e) = extent {
        all = vec![[e[0], e[1]], [e[2], e[3]]];
    } else if let Some(b) = bounds(&all) {
        let m = ((b[2] - b[0]).max(b[3] - b[1]) / 4.0).max(0.1);
        all = vec![[b[0] - m, b[1] - m], [b[2] + m, b[3] + m]];
    } else {
        for c in brief.presence.iter().chain(&brief.sightings) {
            all.extend(&c.ring);
        }
        for b in &brief.blind_spots {
            all.extend(b.rings.iter().flatten());
        }
    }
    if all.is_empty() {
        return Ok(None);
    }
    // The largest zoom at which everything fits.
    let mut chosen = None;
    for z in (0..=16).rev() {
        let frame = Frame::new(TileId::new(z, 0, 0)?, 256.0);
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for p in &all {
            let [x, y] = frame.project(p[0], p[1]);
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
        if x1 - x0 <= MAX_W && y1 - y0 <= MAX_H || z == 0 {
            chosen = Some((frame, x0, y0, x1, y1));
            break;
        }
    }
    let Some((frame, x0, y0, x1, y1)) = chosen else {
        return Ok(None);
    };
    let width = ((x1 - x0) + 2.0 * PAD).clamp(240.0, MAX_W + 2.0 * PAD) as u32;
    let height = ((y1 - y0) + 2.0 * PAD).clamp(160.0, MAX_H + 2.0 * PAD) as u32;
    // Centre the drawing in the image.
    let ox = (f64::from(width) - (x1 - x0)) / 2.0 - x0;
    let oy = (f64::from(height) - (y1 - y0)) / 2.0 - y0;
    let px = |p: [f64; 2]| {
        let [x, y] = frame.project(p[0], p[1]);
        [x + ox, y + oy]
    };
    let mut pixmap =
        Pixmap::new(width, height).ok_or_else(|| TileError::Encode("no pixmap".into()))?;
    pixmap.fill(Rgba(248, 248, 244, 255).skia());
    let t = Transform::identity();
    for c in &brief.presence {
        if let Some(path) = ring_path(c.ring.iter().map(|&p| px(p))) {
            let a = (40.0 + 150.0 * c.value.clamp(0.0, 1.0)) as u8;
            fill(&mut pixmap, &path, Rgba(0, 114, 178, a), t);
        }
    }
    for a in &brief.areas {
        if let Some(path) = ring_path(a.ring.iter().map(|&p| px(p))) {
            let colour = area_colour(brief.kind, &a.pattern, a.priority);
            fill(&mut pixmap, &path, colour.alpha(190), t);
            stroke(&mut pixmap, &path, Rgba(40, 40, 40, 255), 1.0, None, t);
        }
    }
    for b in &brief.blind_spots {
        for r in &b.rings {
            if let Some(path) = ring_path(r.iter().map(|&p| px(p))) {
                stroke(
                    &mut pixmap,
                    &path,
                    Rgba(200, 0, 0, 255),
                    1.5,
                    Some(&[5.0, 3.0]),
                    t,
                );
            }
        }
    }
    for c in &brief.sightings {
        let [x, y] = px(c.centre);
        let tri = [
            [x, y - 5.0],
            [x + 4.5, y + 3.5],
            [x - 4.5, y + 3.5],
            [x, y - 5.0],
        ];
        if let Some(path) = ring_path(tri.into_iter()) {
            fill(&mut pixmap, &path, Rgba(0, 0, 0, 230), t);
            stroke(&mut pixmap, &path, Rgba(255, 255, 255, 230), 0.8, None, t);
        }
    }
    let labels = brief
        .areas
        .iter()
        .map(|a| {
            let [x, y] = px(a.centre);
            (x / f64::from(width), y / f64::from(height), a.rank)
        })
        .collect();
    let png = pixmap
        .encode_png()
        .map_err(|e| TileError::Encode(e.to_string()))?;
    Ok(Some(MapImage {
        png,
        width,
        height,
        labels,
    }))
}

pub(super) fn bounds(points: &[[f64; 2]]) -> Option<[f64; 4]> {
    points.first()?;
    Some(
        points
            .iter()
            .fold([f64::MAX, f64::MAX, f64::MIN, f64::MIN], |b, p| {
                [
                    b[0].min(p[0]),
                    b[1].min(p[1]),
                    b[2].max(p[0]),
                    b[3].max(p[1]),
                ]
            }),
    )
}

fn ring_path(points: impl Iterator<Item = [f64; 2]>) -> Option<Path> {
    let mut pb = PathBuilder::new();
    for (i, [x, y]) in points.enumerate() {
        if i == 0 {
            pb.move_to(x as f32, y as f32);
        } else {
            pb.line_to(x as f32, y as f32);
        }
    }
    pb.close();
    pb.finish()
}

fn paint(colour: Rgba) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color(colour.skia());
    p.anti_alias = true;
    p
}

fn fill(pixmap: &mut Pixmap, path: &Path, colour: Rgba, t: Transform) {
    pixmap.fill_path(path, &paint(colour), FillRule::EvenOdd, t, None);
}

fn stroke(
    pixmap: &mut Pixmap,
    path: &Path,
    colour: Rgba,
    width: f32,
    dash: Option<&[f32]>,
    t: Transform,
) {
    let s = Stroke {
        width,
        dash: dash.and_then(|d| StrokeDash::new(d.to_vec(), 0.0)),
        ..Stroke::default()
    };
    pixmap.stroke_path(path, &paint(colour), &s, t, None);
}

/// Standard base64 (RFC 4648, with padding), for the `data:` URI.
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(A[(n >> shift & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_of_the_rfc_4648_vectors() {
        for (input, expect) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expect, "{input}");
        }
    }
}

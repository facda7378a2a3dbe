//! Point symbols stamped from sprites: each symbol style is drawn once
//! with tiny-skia (anti-aliased, exactly as [`super::raster`] draws it as a
//! path) into a small premultiplied image per sub-pixel offset, and every
//! feature of that style is a blend of that image at its pixel. A dense
//! tile of tens of thousands of incidents costs a blend per symbol instead
//! of a path fill and stroke.
//!
//! Where symbols of one style fall on the same pixel, only the topmost (the
//! last in draw order) is drawn: the ones below it are hidden by it but for
//! their anti-aliased rim. Drawing order across styles is kept.

use super::grade::Band;
use super::style::{PointStyle, Shape};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use tiny_skia::{Pixmap, Transform};

/// Sub-pixel offsets per pixel and axis a sprite is drawn at: a symbol is
/// at most 1/16 pixel from where the path would put it.
pub const SUBPIXEL: i32 = 8;

/// Sprites kept for the whole process at most (a style is a colour,
/// shape, size and fill; a few dozen occur): beyond it the cache starts
/// again.
const MAX_CACHED: usize = 8192;

/// What a sprite is drawn for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    colour: (u8, u8, u8, u8),
    shape: Shape,
    radius: u64,
    hollow: bool,
    grade: Option<Band>,
    factor: u32,
    qx: u8,
    qy: u8,
}

/// One symbol drawn at one sub-pixel offset, cropped to its pixels.
#[derive(Debug)]
struct Sprite {
    /// Offset of the first column and row from the symbol's pixel.
    ox: i32,
    oy: i32,
    width: usize,
    /// Premultiplied RGBA, row by row.
    rgba: Vec<[u8; 4]>,
    /// Per row, the columns `[start, end)` that are not transparent.
    spans: Vec<(u16, u16)>,
}

fn cache() -> &'static Mutex<HashMap<Key, Arc<Sprite>>> {
    static CACHE: OnceLock<Mutex<HashMap<Key, Arc<Sprite>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

impl Sprite {
    /// `style` drawn as [`super::raster`] draws it, its centre `q /
    /// SUBPIXEL` pixels right of and below a pixel's corner.
    fn draw(style: &PointStyle, factor: f32, qx: u8, qy: u8) -> Sprite {
        // The largest reach of a symbol: a square's corner (1.2 r), a
        // grade ring with its halo (1.25 r + 4.25), and a
        // hollow triangle's mitred stroke (at most 4 half-widths).
        let reach = (style.radius as f32 * 1.25 + 8.0) * factor;
        let half = reach.ceil() as i32 + 1;
        let side = (2 * half + 2) as u32;
        let Some(mut pixmap) = Pixmap::new(side, side) else {
            return Sprite::empty();
        };
        let cx = half as f32 + f32::from(qx) / SUBPIXEL as f32;
        let cy = half as f32 + f32::from(qy) / SUBPIXEL as f32;
        super::raster::symbol(
            &mut pixmap,
            [f64::from(cx / factor), f64::from(cy / factor)],
            style,
            Transform::from_scale(factor, factor),
        );
        let side = side as usize;
        let px = pixmap.pixels();
        let opaque = |x: usize, y: usize| px[y * side + x].alpha() > 0;
        let rows: Vec<usize> = (0..side)
            .filter(|&y| (0..side).any(|x| opaque(x, y)))
            .collect();
        let cols: Vec<usize> = (0..side)
            .filter(|&x| (0..side).any(|y| opaque(x, y)))
            .collect();
        let (Some(&y0), Some(&y1), Some(&x0), Some(&x1)) =
            (rows.first(), rows.last(), cols.first(), cols.last())
        else {
            return Sprite::empty();
        };
        let width = x1 - x0 + 1;
        let mut rgba = Vec::with_capacity(width * (y1 - y0 + 1));
        let mut spans = Vec::with_capacity(y1 - y0 + 1);
        for y in y0..=y1 {
            let row = &px[y * side + x0..y * side + x1 + 1];
            rgba.extend(
                row.iter()
                    .map(|c| [c.red(), c.green(), c.blue(), c.alpha()]),
            );
            let start = row.iter().position(|c| c.alpha() > 0).unwrap_or(width);
            let end = row
                .iter()
                .rposition(|c| c.alpha() > 0)
                .map_or(start, |e| e + 1);
            spans.push((start as u16, end as u16));
        }
        Sprite {
            ox: x0 as i32 - half,
            oy: y0 as i32 - half,
            width,
            rgba,
            spans,
        }
    }

    fn empty() -> Sprite {
        Sprite {
            ox: 0,
            oy: 0,
            width: 0,
            rgba: Vec::new(),
            spans: Vec::new(),
        }
    }

    /// Blends the sprite *under* what `data` (premultiplied RGBA of a `w` x
    /// `h` image) already holds, with the symbol's pixel at `x`, `y`:
    /// `d + s (255 - da) / 255`, skipping pixels already opaque. Drawing
    /// the symbols front to back this way gives the picture drawing them
    /// back to front source-over gives (the operator is associative), but
    /// for rounding, and a dense tile's buried symbols cost a compare per
    /// pixel instead of a blend.
    fn blend_under(&self, data: &mut [u8], w: i32, h: i32, x: i32, y: i32) {
        for (r, &(start, end)) in self.spans.iter().enumerate() {
            let dy = y + self.oy + r as i32;
            if dy < 0 || dy >= h || start >= end {
                continue;
            }
            let lo = (x + self.ox + i32::from(start)).max(0);
            let hi = (x + self.ox + i32::from(end)).min(w);
            if lo >= hi {
                continue;
            }
            let src0 = r * self.width + (lo - x - self.ox) as usize;
            let src = &self.rgba[src0..src0 + (hi - lo) as usize];
            let at = ((dy * w + lo) * 4) as usize;
            let dst = &mut data[at..at + (hi - lo) as usize * 4];
            for (s, d) in src.iter().zip(dst.chunks_exact_mut(4)) {
                if d[3] == 255 || s[3] == 0 {
                    continue;
                }
                let inv = 255 - u32::from(d[3]);
                for k in 0..4 {
                    d[k] += ((u32::from(s[k]) * inv + 127) / 255) as u8;
                }
            }
        }
    }
}

/// Draws point symbols in order (later ones on top): `symbols` are their
/// centres in the tile's 256-unit frame and their styles; the pixmap is
/// `factor` times 256 pixels wide. Symbols of one style whose centres
/// fall in the same pixel are drawn once, at the topmost one's place.
pub fn draw(pixmap: &mut Pixmap, factor: f32, symbols: &[([f64; 2], PointStyle)]) {
    // Symbols are blended front to back, under what is drawn: over an
    // earlier layer (the joint map), on their own image laid over it.
    if pixmap.pixels().iter().any(|p| p.alpha() > 0) {
        let Some(mut own) = Pixmap::new(pixmap.width(), pixmap.height()) else {
            return;
        };
        draw_front_to_back(&mut own, factor, symbols);
        pixmap.draw_pixmap(
            0,
            0,
            own.as_ref(),
            &tiny_skia::PixmapPaint::default(),
            Transform::identity(),
            None,
        );
    } else {
        draw_front_to_back(pixmap, factor, symbols);
    }
}

/// [`draw`] on a transparent `pixmap`.
fn draw_front_to_back(pixmap: &mut Pixmap, factor: f32, symbols: &[([f64; 2], PointStyle)]) {
    let (w, h) = (pixmap.width() as i32, pixmap.height() as i32);
    let f = f64::from(factor);
    let sub = f64::from(SUBPIXEL);
    // Styles by number, in order of appearance (a tile has a few).
    let mut styles: Vec<PointStyle> = Vec::new();
    // (style, pixel) packed, the symbol's index, its position in 1/SUBPIXEL px.
    let mut keyed: Vec<(u64, u32, [i32; 2])> = Vec::with_capacity(symbols.len());
    let margin = 128;
    for (i, (c, style)) in symbols.iter().enumerate() {
        let (qx, qy) = ((c[0] * f * sub).round(), (c[1] * f * sub).round());
        if !(qx.is_finite() && qy.is_finite()) {
            continue;
        }
        let (qx, qy) = (qx as i64, qy as i64);
        let (px, py) = (
            qx.div_euclid(i64::from(SUBPIXEL)),
            qy.div_euclid(i64::from(SUBPIXEL)),
        );
        if px < -i64::from(margin)
            || py < -i64::from(margin)
            || px >= i64::from(w + margin)
            || py >= i64::from(h + margin)
        {
            continue;
        }
        let sid = match styles.iter().position(|s| s == style) {
            Some(s) => s,
            None => {
                styles.push(*style);
                styles.len() - 1
            }
        };
        let key = ((sid as u64) << 32)
            | (((py + i64::from(margin)) as u64) << 16)
            | (px + i64::from(margin)) as u64;
        keyed.push((key, i as u32, [qx as i32, qy as i32]));
    }
    // The topmost symbol of each style and pixel, then back in draw order.
    keyed.sort_unstable_by_key(|k| (k.0, k.1));
    let mut kept: Vec<(u32, u64, [i32; 2])> = Vec::with_capacity(keyed.len());
    for (n, k) in keyed.iter().enumerate() {
        if keyed.get(n + 1).is_none_or(|next| next.0 != k.0) {
            kept.push((k.1, k.0 >> 32, k.2));
        }
    }
    // Front to back: the topmost first, each blended under what is drawn.
    kept.sort_unstable_by_key(|k| std::cmp::Reverse(k.0));
    let mut local: HashMap<Key, Arc<Sprite>> = HashMap::new();
    let data = pixmap.data_mut();
    for (_, sid, [qx, qy]) in kept {
        let style = &styles[sid as usize];
        let (sx, sy) = (qx.rem_euclid(SUBPIXEL) as u8, qy.rem_euclid(SUBPIXEL) as u8);
        let key = Key {
            colour: (
                style.colour.0,
                style.colour.1,
                style.colour.2,
                style.colour.3,
            ),
            shape: style.shape,
            radius: style.radius.to_bits(),
            hollow: style.hollow,
            grade: style.grade,
            factor: factor.to_bits(),
            qx: sx,
            qy: sy,
        };
        let sprite = local
            .entry(key)
            .or_insert_with(|| sprite(key, style, factor))
            .clone();
        sprite.blend_under(data, w, h, qx.div_euclid(SUBPIXEL), qy.div_euclid(SUBPIXEL));
    }
}

/// The sprite of `key`, from the process's cache or drawn.
fn sprite(key: Key, style: &PointStyle, factor: f32) -> Arc<Sprite> {
    if let Some(s) = cache().lock().ok().and_then(|c| c.get(&key).cloned()) {
        return s;
    }
    let s = Arc::new(Sprite::draw(style, factor, key.qx, key.qy));
    if let Ok(mut c) = cache().lock() {
        if c.len() >= MAX_CACHED {
            c.clear();
        }
        c.insert(key, s.clone());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tiles::palette::OKABE_ITO;
    use crate::rng::Rng;

    /// Seeded symbols of every shape, fill and a few colours.
    fn style(rng: &mut Rng) -> PointStyle {
        let shapes = [
            Shape::Circle,
            Shape::Square,
            Shape::Triangle,
            Shape::Diamond,
        ];
        PointStyle {
            colour: OKABE_ITO[rng.below(8) as usize],
            shape: shapes[rng.below(4) as usize],
            radius: [4.5, 5.0, 6.0][rng.below(3) as usize],
            hollow: rng.chance(0.4),
            // Grade rings are stamped too, within 14 levels of the path
            // on a few pixels: more than these tests' tolerance; the
            // rings are checked against golden images (grade_tests.rs).
            grade: None,
        }
    }

    fn by_path(factor: f32, symbols: &[([f64; 2], PointStyle)]) -> Pixmap {
        let side = (256.0 * factor) as u32;
        let mut p = Pixmap::new(side, side).unwrap();
        for (c, s) in symbols {
            super::super::raster::symbol(&mut p, *c, s, Transform::from_scale(factor, factor));
        }
        p
    }

    fn stamped(factor: f32, symbols: &[([f64; 2], PointStyle)]) -> Pixmap {
        let side = (256.0 * factor) as u32;
        let mut p = Pixmap::new(side, side).unwrap();
        draw(&mut p, factor, symbols);
        p
    }

    /// Largest and mean difference of any channel, over all pixels.
    fn diff(a: &Pixmap, b: &Pixmap) -> (u8, f64) {
        let (mut worst, mut sum) = (0u8, 0u64);
        for (p, q) in a.data().iter().zip(b.data()) {
            let d = p.abs_diff(*q);
            worst = worst.max(d);
            sum += u64::from(d);
        }
        (worst, sum as f64 / a.data().len() as f64)
    }

    /// Symbols that do not overlap, at random sub-pixel positions (some
    /// across the tile's edges): stamped, they equal the paths but for the
    /// 1/16 pixel a stamp may move: a mean channel difference under 0.4
    /// levels, and no channel off by more than 128 (tiny-skia covers edges in
    /// quarter-pixel rows, so the slightest move may change an edge pixel's
    /// coverage by a quarter, 64 levels, in the fill and again in the halo).
    #[test]
    fn stamps_equal_paths_where_symbols_do_not_overlap() {
        for (seed, factor) in [(1u64, 1.0f32), (2, 2.0), (3, 1.0)] {
            let mut rng = Rng::new(seed);
            let mut symbols = Vec::new();
            // A 40-unit lattice, one symbol per cell, jittered: never closer
            // than two reaches.
            for j in 0..8 {
                for i in 0..8 {
                    let c = [
                        f64::from(i) * 40.0 - 12.0 + rng.range(0.0, 4.0),
                        f64::from(j) * 40.0 - 12.0 + rng.range(0.0, 4.0),
                    ];
                    symbols.push((c, style(&mut rng)));
                }
            }
            let (a, b) = (by_path(factor, &symbols), stamped(factor, &symbols));
            let drawn = a.pixels().iter().filter(|p| p.alpha() > 0).count();
            assert!(drawn > 3000, "{drawn} pixels drawn");
            let (worst, mean) = diff(&a, &b);
            eprintln!("factor {factor}: worst {worst}, mean {mean:.4}");
            assert!(worst <= 128, "factor {factor}: a channel off by {worst}");
            assert!(mean < 0.4, "factor {factor}: mean difference {mean}");
        }
    }

    /// A symbol at a whole-pixel or quarter-pixel position is the path's
    /// drawing but for blending rounding.
    #[test]
    fn a_stamp_on_the_sub_pixel_grid_is_the_path() {
        let mut rng = Rng::new(9);
        for _ in 0..20 {
            let c = [
                f64::from(rng.range_i(20, 230) as i32) + 0.25 * rng.below(4) as f64,
                f64::from(rng.range_i(20, 230) as i32) + 0.25 * rng.below(4) as f64,
            ];
            let symbols = vec![(c, style(&mut rng))];
            let (worst, _) = diff(&by_path(1.0, &symbols), &stamped(1.0, &symbols));
            assert!(worst <= 2, "{c:?}: off by {worst}");
        }
    }

    /// A crowd of 3,000 symbols of four styles piled on a few hundred
    /// pixels: the topmost of each style and pixel is drawn, and the picture
    /// stays the paths' within a mean channel difference of 2 levels (the
    /// hidden symbols' rims, measured 1.6); the last symbol is on top.
    #[test]
    fn piled_symbols_keep_the_topmost_and_the_picture() {
        let mut rng = Rng::new(5);
        let styles: Vec<PointStyle> = (0..4).map(|_| style(&mut rng)).collect();
        let symbols: Vec<([f64; 2], PointStyle)> = (0..3000)
            .map(|_| {
                let c = [64.0 + rng.normal() * 30.0, 128.0 + rng.normal() * 30.0];
                (c, styles[rng.below(4) as usize])
            })
            .collect();
        let (a, b) = (by_path(1.0, &symbols), stamped(1.0, &symbols));
        let (worst, mean) = diff(&a, &b);
        eprintln!("piled: worst {worst}, mean {mean:.4}");
        assert!(mean < 2.0, "mean difference {mean}");
        // The last symbol is on top: its centre pixel is its colour.
        let (c, s) = symbols[symbols.len() - 1];
        let p = b.pixel(c[0] as u32, c[1] as u32).unwrap().demultiply();
        if !s.hollow {
            assert!(p.red().abs_diff(s.colour.0) <= 24, "{p:?} {s:?}");
        }
    }
}

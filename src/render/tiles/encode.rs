//! PNG encoding of a finished tile.
//!
//! tiny-skia's own `encode_png` copies the pixmap to demultiply it and
//! deflates at zlib's default level 6, which was a third of a dense tile's
//! drawing time. A tile is drawn once and then cached, so its pixels are
//! demultiplied in place and deflated with `fdeflate` (the `png` crate's
//! `Compression::Fast`, tuned for PNG rows: several times faster than level
//! 6 for a few per cent more bytes on these images; see benches/README.md).

use super::TileError;
use std::sync::OnceLock;
use tiny_skia::Pixmap;

/// The RGBA PNG of `pixmap` (premultiplied, as tiny-skia keeps it),
/// consuming it.
pub fn png(pixmap: Pixmap) -> Result<Vec<u8>, TileError> {
    let (width, height) = (pixmap.width(), pixmap.height());
    let mut data = pixmap.take();
    demultiply(&mut data);
    let mut out = Vec::with_capacity(data.len() / 4);
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder
            .write_header()
            .map_err(|e| TileError::Encode(e.to_string()))?;
        writer
            .write_image_data(&data)
            .map_err(|e| TileError::Encode(e.to_string()))?;
    }
    Ok(out)
}

/// Premultiplied RGBA to straight RGBA, exactly as tiny-skia's
/// `PremultipliedColorU8::demultiply` rounds (so the decoded pixels equal
/// those of its own encoder), through a table of every (alpha, value).
fn demultiply(data: &mut [u8]) {
    static TABLE: OnceLock<Vec<u8>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = vec![0u8; 256 * 256];
        for a in 1..255usize {
            let af = a as f64 / 255.0;
            for v in 0..256usize {
                t[a * 256 + v] = (v as f64 / af + 0.5) as u8;
            }
        }
        t
    });
    for px in data.chunks_exact_mut(4) {
        let a = usize::from(px[3]);
        if a == 0 || a == 255 {
            continue;
        }
        let row = &table[a * 256..a * 256 + 256];
        for c in &mut px[..3] {
            *c = row[usize::from(*c)];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiny_skia::{FillRule, Paint, PathBuilder, Transform};

    /// The decoded pixels equal those tiny-skia's own encoder gives, for
    /// every alpha (anti-aliased edges, translucent fills).
    #[test]
    fn decodes_to_the_pixels_of_tiny_skias_encoder() {
        let mut p = Pixmap::new(256, 256).unwrap();
        for (i, a) in [255u8, 190, 90, 17, 3].into_iter().enumerate() {
            let mut paint = Paint::default();
            paint.set_color_rgba8(200, 30 + 40 * i as u8, 90, a);
            paint.anti_alias = true;
            let c = 40.0 + 40.0 * i as f32;
            let path = PathBuilder::from_circle(c, c, 37.3).unwrap();
            p.fill_path(
                &path,
                &paint,
                FillRule::Winding,
                Transform::identity(),
                None,
            );
        }
        let theirs = Pixmap::decode_png(&p.encode_png().unwrap()).unwrap();
        let ours = Pixmap::decode_png(&png(p.clone()).unwrap()).unwrap();
        assert_eq!(theirs.data(), ours.data());
        let empty = Pixmap::new(256, 256).unwrap();
        let decoded = Pixmap::decode_png(&png(empty.clone()).unwrap()).unwrap();
        assert_eq!(decoded.data(), empty.data());
    }
}

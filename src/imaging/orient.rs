//! EXIF orientation 1-8 applied to a raster (rotations and mirrors), so outputs are upright
//! and need no orientation tag. Runs on the small outputs, not the full decode.

use super::pixels::Raster;

/// Whether orientation `o` swaps width and height (5-8 are transposed).
pub(crate) fn transposes(orientation: u8) -> bool {
    orientation >= 5
}

/// Returns the raster as it is meant to be displayed.
///
/// For display pixel (x, y) the stored pixel is, per EXIF:
/// 1 (x, y) · 2 mirror (w-1-x, y) · 3 rotate 180 (w-1-x, h-1-y) · 4 flip (x, h-1-y) ·
/// 5 transpose (y, x) · 6 rotate 90 CW (y, h-1-x) · 7 transverse (w-1-y, h-1-x) ·
/// 8 rotate 270 CW (w-1-y, x), with w, h the stored size.
pub(crate) fn apply(src: Raster, orientation: u8) -> Raster {
    if !(2..=8).contains(&orientation) {
        return src;
    }
    let (sw, sh) = (src.width as usize, src.height as usize);
    let (dw, dh) = if transposes(orientation) {
        (sh, sw)
    } else {
        (sw, sh)
    };
    let ch = usize::from(src.channels);
    let mut data = vec![0u8; src.data.len()];
    for y in 0..dh {
        for x in 0..dw {
            let (sx, sy) = match orientation {
                2 => (sw - 1 - x, y),
                3 => (sw - 1 - x, sh - 1 - y),
                4 => (x, sh - 1 - y),
                5 => (y, x),
                6 => (y, sh - 1 - x),
                7 => (sw - 1 - y, sh - 1 - x),
                _ => (sw - 1 - y, x),
            };
            let s = (sy * sw + sx) * ch;
            let d = (y * dw + x) * ch;
            data[d..d + ch].copy_from_slice(&src.data[s..s + ch]);
        }
    }
    Raster {
        width: dw as u32,
        height: dh as u32,
        channels: src.channels,
        data,
    }
}

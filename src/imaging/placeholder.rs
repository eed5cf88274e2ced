//! What a frontend shows before an image loads, and how it recognises the image again: a
//! ThumbHash (keeps alpha), a BlurHash and the average colour (both on the image composited
//! onto the background), and a 64-bit perceptual hash (see [`dhash`]). All of them come from
//! one small rendering ([`SUMMARY_MAX_SIDE`] px) made from a raster the job already has:
//! never a second decode. Must not encode outputs or know where the values go.

use base64::Engine;

use super::orient;
use super::pixels::Raster;
use super::resize::{Resampler, unpremultiplied};
use super::{ImagingError, ResizeFilter};

/// The small rendering's longest side. ThumbHash takes at most 100x100 pixels, but its
/// highest frequency is 7 cycles across the image and BlurHash's 9, so 32 samples still
/// resolve both; their encoders cost a cosine product per pixel and coefficient, and at
/// 100 px they were 5 % of a 2 MP event's CPU.
pub(crate) const SUMMARY_MAX_SIDE: u32 = 32;

/// The placeholders of one image, ready for a record or an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    /// Standard base64 of the ThumbHash bytes.
    pub thumbhash: String,
    /// The BlurHash string ([`blurhash_components`] per axis).
    pub blurhash: String,
    /// The average colour on the background, `#rrggbb`.
    pub color: String,
}

/// Placeholders and perceptual hash of one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub placeholder: Placeholder,
    /// 64-bit difference hash (dHash) of the composited image, see [`dhash`].
    pub phash: u64,
}

impl Summary {
    /// The perceptual hash as 16 lower-case hex digits.
    pub fn phash_hex(&self) -> String {
        format!("{:016x}", self.phash)
    }
}

/// Summarises `raster` (in stored orientation, premultiplied when `premultiplied`): resized
/// to fit [`SUMMARY_MAX_SIDE`], then turned upright by EXIF `orientation`.
pub(crate) fn summarise(
    raster: &Raster,
    premultiplied: bool,
    orientation: u8,
    background: [u8; 3],
) -> Result<Summary, ImagingError> {
    let (w, h) = fit_inside(raster.width, raster.height, SUMMARY_MAX_SIDE);
    let mut resampler = match premultiplied && raster.has_alpha() {
        true => Resampler::premultiplied(),
        false => Resampler::default(),
    };
    let small = resampler.resize(raster, None, w, h, ResizeFilter::CatmullRom)?;
    let small = match premultiplied && small.has_alpha() {
        true => unpremultiplied(&small)?,
        false => small,
    };
    Ok(summarise_small(
        &orient::apply(small, orientation),
        background,
    ))
}

/// [`summarise`] for a raster that already fits (straight alpha).
pub(crate) fn summarise_small(small: &Raster, background: [u8; 3]) -> Summary {
    let rgba = to_rgba(small);
    let (w, h) = (small.width as usize, small.height as usize);
    let thumbhash = thumbhash::rgba_to_thumb_hash(w, h, &rgba);
    let flat = small.clone().flatten(background);
    let flat_rgba = to_rgba(&flat);
    let (cx, cy) = blurhash_components(small.width, small.height);
    // The crate refuses only components outside 1..=9 and a wrong buffer length: neither
    // can happen here, so an empty string would mean a bug, never bad input.
    let blurhash =
        blurhash::encode(cx, cy, small.width, small.height, &flat_rgba).unwrap_or_default();
    Summary {
        placeholder: Placeholder {
            thumbhash: base64::engine::general_purpose::STANDARD.encode(thumbhash),
            blurhash,
            color: hex_colour(average_rgb(&flat)),
        },
        phash: dhash(&flat),
    }
}

/// BlurHash components per axis: 4x3 for a 4:3 landscape, scaled with the aspect ratio
/// (3x4 portrait, 4x4 square, 5x2 for 2:1), each within BlurHash's 1..=9.
pub fn blurhash_components(width: u32, height: u32) -> (u32, u32) {
    let aspect = f64::from(width.max(1)) / f64::from(height.max(1));
    let per_axis = |a: f64| (3.5 * a.sqrt()).round().clamp(1.0, 9.0) as u32;
    (per_axis(aspect), per_axis(1.0 / aspect))
}

/// A 64-bit difference hash (dHash): the image in grey is shrunk to 9x8 (area average) and
/// each bit says whether a pixel is brighter than its right neighbour, row by row, most
/// significant bit first. Gradients survive re-encoding and rescaling, so copies land a few
/// bits apart while different photos differ in about half of them.
pub(crate) fn dhash(rgb: &Raster) -> u64 {
    let grey = grey_grid(rgb, 9, 8);
    let mut hash = 0u64;
    for row in 0..8 {
        for col in 0..8 {
            let brighter = grey[row * 9 + col] > grey[row * 9 + col + 1];
            hash = (hash << 1) | u64::from(brighter);
        }
    }
    hash
}

/// The number of bits in which two perceptual hashes differ.
pub fn phash_distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// Luma (BT.601) averaged over `cols`x`rows` cells (area average; a cell of an image
/// smaller than the grid takes the nearest pixels).
fn grey_grid(rgb: &Raster, cols: usize, rows: usize) -> Vec<f64> {
    let (w, h) = (rgb.width.max(1) as usize, rgb.height.max(1) as usize);
    let channels = usize::from(rgb.channels);
    let luma = |x: usize, y: usize| {
        let px = &rgb.data[(y * w + x) * channels..];
        0.299 * f64::from(px[0]) + 0.587 * f64::from(px[1]) + 0.114 * f64::from(px[2])
    };
    let span = |i: usize, n: usize, len: usize| {
        let start = (i * len / n).min(len - 1);
        start..((i + 1) * len).div_ceil(n).clamp(start + 1, len)
    };
    let mut grid = Vec::with_capacity(cols * rows);
    for row in 0..rows {
        for col in 0..cols {
            let (xs, ys) = (span(col, cols, w), span(row, rows, h));
            let n = (xs.len() * ys.len()) as f64;
            let sum: f64 = ys
                .flat_map(|y| xs.clone().map(move |x| (x, y)))
                .map(|(x, y)| luma(x, y))
                .sum();
            grid.push(sum / n);
        }
    }
    grid
}

fn average_rgb(rgb: &Raster) -> [u8; 3] {
    let channels = usize::from(rgb.channels);
    let mut sums = [0u64; 3];
    let mut n = 0u64;
    for px in rgb.data.chunks_exact(channels) {
        for c in 0..3 {
            sums[c] += u64::from(px[c]);
        }
        n += 1;
    }
    let n = n.max(1);
    sums.map(|s| ((s + n / 2) / n) as u8)
}

fn hex_colour([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn to_rgba(raster: &Raster) -> Vec<u8> {
    match raster.channels {
        4 => raster.data.clone(),
        _ => raster
            .data
            .chunks_exact(3)
            .flat_map(|px| [px[0], px[1], px[2], 255])
            .collect(),
    }
}

/// `width`x`height` scaled down (never up) to fit a `side`x`side` box, aspect kept.
/// The size a `width`×`height` image is shrunk to before it is summarised.
pub(crate) fn summary_size(width: u32, height: u32) -> (u32, u32) {
    fit_inside(width, height, SUMMARY_MAX_SIDE)
}

fn fit_inside(width: u32, height: u32, side: u32) -> (u32, u32) {
    let longest = width.max(height).max(1);
    if longest <= side {
        return (width.max(1), height.max(1));
    }
    let scale = |v: u32| {
        ((u64::from(v) * u64::from(side) + u64::from(longest) / 2) / u64::from(longest)).max(1)
            as u32
    };
    (scale(width), scale(height))
}

#[cfg(test)]
#[path = "placeholder_tests.rs"]
mod tests;

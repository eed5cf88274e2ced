//! A one-channel plane (luma, Cb or Cr of `planes::Planes`) resized in two passes, as
//! fast_image_resize does it for 8-bit images (vertical first), but with the horizontal
//! pass run on four rows at a time packed as the channels of one four-channel image. The
//! library's one-channel horizontal pass adds fewer than eight taps per output pixel in
//! scalar code, so a photo shrunk by less than ~2.6x cost twice the CPU per sample of its
//! RGB pass (33 % of the casio job's CPU on planes, against 21 % for RGB); packed, the
//! same weights run through its four-channel SIMD pass. Every row is convolved with the
//! same weights as before: the results are the library's own, per row. Must not know about
//! chroma geometry (`planes` owns it).

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use super::pixels::Raster;
use super::resize::Window;

/// Rows per packed pixel: the four channels of a `U8x4` image.
const PACKED_ROWS: usize = 4;

/// Resizes `window` (in `src` pixels) of the one-channel `src` to `width`×`height`.
pub(crate) fn resize_plane(
    resizer: &mut Resizer,
    src: &Raster,
    window: Window,
    (width, height): (u32, u32),
    filter: FilterType,
    support: f64,
) -> Result<Raster, String> {
    let (left, top, ww, wh) = window;
    let needs_horizontal = f64::from(width) != ww || left.fract() != 0.0;
    let needs_vertical = f64::from(height) != wh || top.fract() != 0.0;
    // The columns the horizontal pass will read: the window and the filter's reach.
    let reach = support * (ww / f64::from(width.max(1))).max(1.0);
    let (first_col, end_col) = match needs_horizontal {
        true => (
            ((left - reach).floor().max(0.0)) as u32,
            ((left + ww + reach).ceil().min(f64::from(src.width))) as u32,
        ),
        false => (left as u32, left as u32 + width),
    };
    let columns = end_col.saturating_sub(first_col).max(1);
    let options = |crop: Window| {
        ResizeOptions::new()
            .resize_alg(ResizeAlg::Convolution(filter))
            .use_alpha(false)
            .crop(crop.0, crop.1, crop.2, crop.3)
    };
    let source = ImageRef::new(src.width, src.height, &src.data, PixelType::U8)
        .map_err(|e| e.to_string())?;
    let tall = match needs_vertical {
        true => {
            let mut out = Image::new(columns, height.max(1), PixelType::U8);
            let crop = (f64::from(first_col), top, f64::from(columns), wh);
            resizer
                .resize(&source, &mut out, &options(crop))
                .map_err(|e| e.to_string())?;
            out.into_vec()
        }
        false => rows_of(src, first_col, columns, top as u32, height),
    };
    if !needs_horizontal {
        return Ok(plane(width, height, tall));
    }
    let packed_height = (height as usize).div_ceil(PACKED_ROWS).max(1) as u32;
    let packed = pack_rows(&tall, columns as usize, height as usize);
    drop(tall); // the peak is two of the three intermediates, as `estimate` counts
    let packed = ImageRef::new(columns, packed_height, &packed, PixelType::U8x4)
        .map_err(|e| e.to_string())?;
    let mut out = Image::new(width.max(1), packed_height, PixelType::U8x4);
    let crop = (
        left - f64::from(first_col),
        0.0,
        ww,
        f64::from(packed_height),
    );
    resizer
        .resize(&packed, &mut out, &options(crop))
        .map_err(|e| e.to_string())?;
    let data = unpack_rows(out.buffer(), width.max(1) as usize, height as usize);
    Ok(plane(width, height, data))
}

fn plane(width: u32, height: u32, data: Vec<u8>) -> Raster {
    Raster {
        width: width.max(1),
        height: height.max(1),
        channels: 1,
        data,
    }
}

/// `rows` rows of `src` from row `top`, columns `first..first + columns`.
fn rows_of(src: &Raster, first: u32, columns: u32, top: u32, rows: u32) -> Vec<u8> {
    let (stride, first, columns) = (src.width as usize, first as usize, columns as usize);
    let mut out = Vec::with_capacity(columns * rows as usize);
    for row in src
        .data
        .chunks_exact(stride)
        .skip(top as usize)
        .take(rows as usize)
    {
        out.extend_from_slice(&row[first..first + columns]);
    }
    out
}

/// Rows `4r..4r + 4` of a `width`-wide plane as row `r` of a four-channel image (channel
/// `i` is row `4r + i`); rows past the end repeat the last row. One 32-bit word per pixel
/// from four row slices, a shape the compiler turns into vector shuffles (a byte at a time
/// cost as much as the convolution it feeds).
fn pack_rows(plane: &[u8], width: usize, height: usize) -> Vec<u8> {
    let groups = height.div_ceil(PACKED_ROWS).max(1);
    let mut out = vec![0u8; groups * width * PACKED_ROWS];
    let last = height.saturating_sub(1);
    let row = |i: usize| &plane[i.min(last) * width..][..width];
    for (group, packed) in out.chunks_exact_mut(width * PACKED_ROWS).enumerate() {
        let first = group * PACKED_ROWS;
        let rows = row(first)
            .iter()
            .zip(row(first + 1))
            .zip(row(first + 2))
            .zip(row(first + 3));
        for (pixel, (((&a, &b), &c), &d)) in packed.chunks_exact_mut(PACKED_ROWS).zip(rows) {
            let word = u32::from_le_bytes([a, b, c, d]);
            pixel.copy_from_slice(&word.to_le_bytes());
        }
    }
    out
}

/// [`pack_rows`] undone: the first `height` rows of a `width`-wide plane.
fn unpack_rows(packed: &[u8], width: usize, height: usize) -> Vec<u8> {
    let mut out = vec![0u8; width * height];
    let group_len = width * PACKED_ROWS;
    let groups = out
        .chunks_exact_mut(group_len)
        .zip(packed.chunks_exact(group_len));
    for (rows, pixels) in groups {
        let (r0, rest) = rows.split_at_mut(width);
        let (r1, rest) = rest.split_at_mut(width);
        let (r2, r3) = rest.split_at_mut(width);
        for (lane, row) in [r0, r1, r2, r3].into_iter().enumerate() {
            unpack_lane(pixels, lane, row);
        }
    }
    // The rows of a last, partial group.
    let full_rows = height - height % PACKED_ROWS;
    let tail = &packed[full_rows * width..];
    for row in full_rows..height {
        unpack_lane(
            tail,
            row % PACKED_ROWS,
            &mut out[row * width..(row + 1) * width],
        );
    }
    out
}

/// Pixels the lane extraction takes at a time: whole 32-bit words, shifted and truncated,
/// which the compiler vectorises (byte-by-byte copies it did not, at 1.6 ms a 2 MP job).
const WORDS_PER_STEP: usize = 16;

/// Byte `lane` of every four-byte pixel of `pixels`, into `row`.
fn unpack_lane(pixels: &[u8], lane: usize, row: &mut [u8]) {
    let shift = 8 * lane as u32;
    let step_bytes = WORDS_PER_STEP * PACKED_ROWS;
    let done = row.len() - row.len() % WORDS_PER_STEP;
    let mut outs = row.chunks_exact_mut(WORDS_PER_STEP);
    let mut ins = pixels.chunks_exact(step_bytes);
    for (out, chunk) in outs.by_ref().zip(ins.by_ref()) {
        let mut words = [0u32; WORDS_PER_STEP];
        for (word, bytes) in words.iter_mut().zip(chunk.chunks_exact(PACKED_ROWS)) {
            *word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        for (value, word) in out.iter_mut().zip(words) {
            *value = (word >> shift) as u8;
        }
    }
    let rest = outs.into_remainder();
    let rest_pixels = &pixels[done * PACKED_ROWS..];
    for (value, pixel) in rest.iter_mut().zip(rest_pixels.chunks_exact(PACKED_ROWS)) {
        *value = pixel[lane];
    }
}

#[cfg(test)]
mod tests {
    use fast_image_resize::images::{Image, ImageRef};
    use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

    use super::{pack_rows, resize_plane, unpack_rows};
    use crate::imaging::pixels::Raster;
    use crate::imaging::resize::Window;

    /// A plane with detail at every scale: gradients, a checkerboard and noise.
    fn busy_plane(width: u32, height: u32) -> Raster {
        let mut seed = 0x2545_f491_u32;
        let data = (0..width * height)
            .map(|i| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let (x, y) = (i % width, i / width);
                let checker = if (x / 3 + y / 5) % 2 == 0 { 60 } else { 0 };
                ((x * 255 / width + y * 90 / height + checker + seed % 40) % 256) as u8
            })
            .collect();
        Raster {
            width,
            height,
            channels: 1,
            data,
        }
    }

    /// The library's own one-channel resize, as the planes were resized before.
    fn library_resize(src: &Raster, window: Window, width: u32, height: u32) -> Vec<u8> {
        let source = ImageRef::new(src.width, src.height, &src.data, PixelType::U8).unwrap();
        let mut out = Image::new(width, height, PixelType::U8);
        let options = ResizeOptions::new()
            .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
            .crop(window.0, window.1, window.2, window.3);
        Resizer::new().resize(&source, &mut out, &options).unwrap();
        out.into_vec()
    }

    #[test]
    fn packed_rows_give_the_library_s_one_channel_result_for_every_window_and_size() {
        let src = busy_plane(203, 151);
        let cases: [(Window, (u32, u32)); 7] = [
            ((0.0, 0.0, 203.0, 151.0), (180, 134)),
            ((0.0, 0.0, 203.0, 151.0), (61, 45)),
            ((0.0, 0.0, 203.0, 151.0), (203, 97)),
            ((0.0, 0.0, 203.0, 151.0), (99, 151)),
            ((17.25, 9.5, 120.5, 120.5), (50, 50)),
            ((30.0, 4.0, 100.0, 77.0), (100, 77)),
            ((0.0, 0.0, 202.6, 150.3), (7, 5)),
        ];
        for (window, (width, height)) in cases {
            let mut resizer = Resizer::new();
            let got = resize_plane(
                &mut resizer,
                &src,
                window,
                (width, height),
                FilterType::Lanczos3,
                3.0,
            )
            .unwrap();
            let want = library_resize(&src, window, width, height);
            assert_eq!((got.width, got.height), (width, height), "{window:?}");
            let worst = got
                .data
                .iter()
                .zip(&want)
                .map(|(a, b)| a.abs_diff(*b))
                .max()
                .unwrap();
            assert_eq!(worst, 0, "{window:?} -> {width}x{height}");
        }
    }

    #[test]
    fn packing_four_rows_and_unpacking_them_is_lossless_for_any_height() {
        for height in [1, 3, 4, 5, 9] {
            let plane = busy_plane(7, height);
            let packed = pack_rows(&plane.data, 7, height as usize);
            assert_eq!(packed.len(), 7 * 4 * (height as usize).div_ceil(4));
            assert_eq!(unpack_rows(&packed, 7, height as usize), plane.data);
        }
    }
}

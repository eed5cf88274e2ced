//! `blur`: the moderation "blur" policy's output, a strongly blurred copy at the source's
//! size in the source's format. The blur runs on a reduced copy (a Gaussian of sigma σ is
//! smooth at 1/σ of the resolution anyway), so it costs about as much as one thumbnail.

use super::decode::{DecodeScale, decode};
use super::encode::{Carry, Encoding, encode};
use super::header;
use super::orient;
use super::pixels::Raster;
use super::resize::Resampler;
use super::{EncodeOptions, ImagingError, Limits, Output, OutputFormat, ResizeFilter};

/// Sigma, in pixels of the reduced copy, that the box-blur passes produce.
const WORK_SIGMA_PX: f64 = 3.0;

/// Re-encodes `input` strongly blurred (Gaussian-like, `sigma` in source pixels) at its
/// displayed size and in its own format (GIF, BMP and TIFF become PNG). Default limits apply.
pub fn blur(input: &[u8], sigma: f32, plan_encode: &EncodeOptions) -> Result<Output, ImagingError> {
    let limits = Limits::default();
    let header = header::read(input, &limits)?;
    let (sw, sh) = (header.stored_width, header.stored_height);
    let sigma = f64::from(sigma).max(0.5);
    let k = (WORK_SIGMA_PX / sigma).min(1.0);
    let scale = DecodeScale {
        eighths: super::geometry::jpeg_eighths(k, 1.0),
        // The blur hides any chroma detail.
        fast_chroma: true,
    };
    let decoded = decode(input, &header, &limits, scale)?;
    let encoding = Encoding::resolve(OutputFormat::Original, header.info.format);
    let mut raster = decoded.raster;
    if raster.has_alpha() && !encoding.keeps_alpha() {
        raster = raster.flatten(plan_encode.background_rgb);
    }
    let (ww, wh) = (
        ((f64::from(sw) * k).round() as u32).max(1),
        ((f64::from(sh) * k).round() as u32).max(1),
    );
    let mut resampler = Resampler::default();
    let small = resampler.resize(&raster, None, ww, wh, ResizeFilter::Box)?;
    drop(raster);
    let blurred = box_blur3(small, sigma * k);
    let full = resampler.resize(&blurred, None, sw, sh, ResizeFilter::Bilinear)?;
    let upright = orient::apply(full, header.info.orientation);
    let bytes = encode(&upright, encoding, plan_encode, Carry::default())?;
    Ok(Output {
        label: "blurred".to_owned(),
        bytes,
        width: upright.width,
        height: upright.height,
        format: encoding.format(),
        reused_original: false,
        frames: 1,
    })
}

/// Three separable box blurs, which approximate a Gaussian of `sigma` within a few percent.
fn box_blur3(mut img: Raster, sigma: f64) -> Raster {
    // Box width for three passes: w = sqrt(12σ²/3 + 1).
    let width = (4.0 * sigma * sigma + 1.0).sqrt();
    let radius = ((width - 1.0) / 2.0).round().max(1.0) as usize;
    for _ in 0..3 {
        img = blur_axis(&img, radius, true);
        img = blur_axis(&img, radius, false);
    }
    img
}

fn blur_axis(img: &Raster, radius: usize, horizontal: bool) -> Raster {
    let (w, h, ch) = (
        img.width as usize,
        img.height as usize,
        usize::from(img.channels),
    );
    let (len, lines) = if horizontal { (w, h) } else { (h, w) };
    let index = |line: usize, i: usize| {
        if horizontal {
            (line * w + i) * ch
        } else {
            (i * w + line) * ch
        }
    };
    let mut out = vec![0u8; img.data.len()];
    let span = (2 * radius + 1) as u32;
    for line in 0..lines {
        for c in 0..ch {
            // Edges are clamped (the border pixel repeats), so the sum always has `span` terms.
            let at = |i: isize| {
                let i = i.clamp(0, len as isize - 1) as usize;
                u32::from(img.data[index(line, i) + c])
            };
            let mut sum: u32 = (-(radius as isize)..=radius as isize).map(at).sum();
            for i in 0..len {
                out[index(line, i) + c] = ((sum + span / 2) / span) as u8;
                sum += at(i as isize + radius as isize + 1);
                sum -= at(i as isize - radius as isize);
            }
        }
    }
    Raster {
        width: img.width,
        height: img.height,
        channels: img.channels,
        data: out,
    }
}

//! Resampling through fast_image_resize (SIMD picked at run time). RGBA is resized
//! premultiplied, so transparent pixels never bleed their colour into opaque ones.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use super::pixels::Raster;
use super::{ImagingError, ResizeFilter};

/// A source window in source pixels: (left, top, width, height).
pub(crate) type Window = (f64, f64, f64, f64);

/// Resizes `src` (or the `window` of it) to exactly `width`×`height`.
pub(crate) fn resize(
    src: &Raster,
    window: Option<Window>,
    width: u32,
    height: u32,
    filter: ResizeFilter,
) -> Result<Raster, ImagingError> {
    let failed = |e: &dyn std::fmt::Display| ImagingError::Encode {
        format: "resized",
        reason: e.to_string(),
    };
    let pixel_type = if src.has_alpha() {
        PixelType::U8x4
    } else {
        PixelType::U8x3
    };
    let src_image =
        ImageRef::new(src.width, src.height, &src.data, pixel_type).map_err(|e| failed(&e))?;
    let mut dst = Image::new(width.max(1), height.max(1), pixel_type);
    let filter = match filter {
        ResizeFilter::Lanczos3 => FilterType::Lanczos3,
        ResizeFilter::CatmullRom => FilterType::CatmullRom,
        ResizeFilter::Mitchell => FilterType::Mitchell,
        ResizeFilter::Bilinear => FilterType::Bilinear,
        ResizeFilter::Box => FilterType::Box,
    };
    let mut options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(filter))
        .use_alpha(true);
    if let Some((left, top, w, h)) = window {
        options = options.crop(left, top, w, h);
    }
    Resizer::new()
        .resize(&src_image, &mut dst, &options)
        .map_err(|e| failed(&e))?;
    Ok(Raster {
        width: dst.width(),
        height: dst.height(),
        channels: src.channels,
        data: dst.into_vec(),
    })
}

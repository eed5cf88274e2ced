//! Encoders: JPEG through libjpeg (mozjpeg's build, at libjpeg-turbo's settings, 4:2:0), PNG
//! through `image`, WebP lossy and lossless through libwebp, AVIF through ravif (`avif.rs`). Also decides which output format a target resolves to and
//! writes the metadata outputs may carry (a non-sRGB ICC profile, artist/copyright).

use image::ImageEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};

use super::avif::{DEFAULT_AVIF_SPEED, encode_avif};
use super::libjpeg;
use super::metadata::{self, Exif};
use super::pixels::Raster;
use super::{EncodeOptions, ImageFormat, ImagingError, OutputFormat};

/// A concrete encoding, after `Original` was resolved against the source format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Jpeg,
    Png,
    WebP { lossless: bool },
    Avif,
}

impl Encoding {
    pub fn resolve(requested: OutputFormat, source: ImageFormat) -> Self {
        match requested {
            OutputFormat::Jpeg => Self::Jpeg,
            OutputFormat::Png => Self::Png,
            OutputFormat::WebP => Self::WebP { lossless: false },
            OutputFormat::WebPLossless => Self::WebP { lossless: true },
            OutputFormat::Avif => Self::Avif,
            OutputFormat::Original => match source {
                ImageFormat::Jpeg => Self::Jpeg,
                ImageFormat::WebP => Self::WebP { lossless: false },
                ImageFormat::Avif => Self::Avif,
                ImageFormat::Png | ImageFormat::Gif | ImageFormat::Bmp | ImageFormat::Tiff => {
                    Self::Png
                }
            },
        }
    }

    pub fn format(self) -> ImageFormat {
        match self {
            Self::Jpeg => ImageFormat::Jpeg,
            Self::Png => ImageFormat::Png,
            Self::WebP { .. } => ImageFormat::WebP,
            Self::Avif => ImageFormat::Avif,
        }
    }

    pub fn keeps_alpha(self) -> bool {
        !matches!(self, Self::Jpeg)
    }
}

/// Metadata an output carries; everything else is stripped.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Carry<'a> {
    /// A non-sRGB ICC profile (sRGB ones are not passed in).
    pub icc: Option<&'a [u8]>,
    /// Artist and copyright, when the plan keeps them.
    pub copyright: Option<&'a Exif>,
}

/// Encodes `raster` (upright, final size). Alpha is flattened here only when the encoding
/// has none.
pub(crate) fn encode(
    raster: &Raster,
    encoding: Encoding,
    options: &EncodeOptions,
    carry: Carry<'_>,
) -> Result<Vec<u8>, ImagingError> {
    let fail = |e: &dyn std::fmt::Display| ImagingError::encode(encoding.format(), e);
    match encoding {
        Encoding::Jpeg => encode_jpeg(raster, options, carry).map_err(|e| fail(&e)),
        Encoding::Png => encode_png(raster, carry).map_err(|e| fail(&e)),
        Encoding::WebP { lossless } => {
            encode_webp(raster, lossless, options.webp_quality).map_err(|e| fail(&e))
        }
        Encoding::Avif => {
            encode_avif(raster, options.avif_quality, DEFAULT_AVIF_SPEED).map_err(|e| fail(&e))
        }
    }
}

/// JPEG at 4:2:0 through libjpeg, then the carried APP1/APP2 segments after SOI.
fn encode_jpeg(
    raster: &Raster,
    options: &EncodeOptions,
    carry: Carry<'_>,
) -> Result<Vec<u8>, String> {
    let flat;
    let raster = if raster.has_alpha() {
        flat = raster.clone().flatten(options.background_rgb);
        &flat
    } else {
        raster
    };
    let (jpeg, _warnings) = libjpeg::guarded(|errors| {
        let mut jpeg = jpeg_compressor(errors, mozjpeg::ColorSpace::JCS_RGB, raster, options);
        jpeg.set_chroma_sampling_pixel_sizes((2, 2), (2, 2));
        let capacity = raster.data.len() / 8;
        let mut started = jpeg.start_compress(Vec::with_capacity(capacity))?;
        started.write_scanlines(&raster.data)?;
        started.finish()
    })?;
    Ok(with_carried(jpeg.map_err(|e| e.to_string())?, carry))
}

/// A libjpeg compressor for `input` pixels of `size`'s dimensions, at libjpeg-turbo's
/// settings (what the service encoded with before, and ~4x faster than mozjpeg's default
/// trellis quantisation: standard tables, no trellis), the plan's quality and progression.
pub(crate) fn jpeg_compressor(
    errors: mozjpeg_sys::jpeg_error_mgr,
    input: mozjpeg::ColorSpace,
    size: &Raster,
    options: &EncodeOptions,
) -> mozjpeg::Compress {
    let mut jpeg = mozjpeg::Compress::new_err(Box::new(errors), input);
    jpeg.set_fastest_defaults();
    jpeg.set_size(size.width as usize, size.height as usize);
    jpeg.set_quality(f32::from(options.jpeg_quality.clamp(1, 100)));
    if options.jpeg_progressive {
        jpeg.set_progressive_mode();
    }
    jpeg
}

/// `jpeg` with the carried APP1 (artist, copyright) and APP2 (ICC) segments after SOI.
pub(crate) fn with_carried(jpeg: Vec<u8>, carry: Carry<'_>) -> Vec<u8> {
    let mut segments = Vec::new();
    if let Some(app1) = carry.copyright.and_then(metadata::copyright_app1) {
        segments.extend_from_slice(&app1);
    }
    if let Some(icc) = carry.icc {
        segments.extend_from_slice(&metadata::icc_app2(icc));
    }
    metadata::insert_after_soi(jpeg, &segments)
}

/// PNG (fast deflate, adaptive filters) with the carried iCCP and eXIf chunks.
fn encode_png(raster: &Raster, carry: Carry<'_>) -> Result<Vec<u8>, image::ImageError> {
    let mut out = Vec::new();
    let mut encoder =
        PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive);
    if let Some(icc) = carry.icc {
        encoder
            .set_icc_profile(icc.to_vec())
            .map_err(image::ImageError::Unsupported)?;
    }
    if let Some(app1) = carry.copyright.and_then(metadata::copyright_app1) {
        // eXIf holds the TIFF structure without the APP1 header and "Exif\0\0".
        encoder
            .set_exif_metadata(app1[10..].to_vec())
            .map_err(image::ImageError::Unsupported)?;
    }
    let color = if raster.has_alpha() {
        image::ExtendedColorType::Rgba8
    } else {
        image::ExtendedColorType::Rgb8
    };
    encoder.write_image(&raster.data, raster.width, raster.height, color)?;
    Ok(out)
}

/// WebP through libwebp, lossy at `quality` or lossless.
fn encode_webp(raster: &Raster, lossless: bool, quality: f32) -> Result<Vec<u8>, String> {
    let encoder = if raster.has_alpha() {
        webp::Encoder::from_rgba(&raster.data, raster.width, raster.height)
    } else {
        webp::Encoder::from_rgb(&raster.data, raster.width, raster.height)
    };
    let memory = encoder
        .encode_simple(lossless, quality.clamp(0.0, 100.0))
        .map_err(|e| format!("{e:?}"))?;
    Ok(memory.to_vec())
}

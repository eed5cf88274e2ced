//! Decoding to an 8-bit [`Raster`]: JPEG through libjpeg (mozjpeg's fork of libjpeg-turbo,
//! with DCT scaling), PNG through `decode_png` (straight to 8 bits), every other format (and
//! CMYK JPEG) through the `image` crate's pure-Rust decoders. Called only after the header passed the limits,
//! and every decoder is held to what the header declared: libjpeg's own header must agree
//! with ours before the raster is allocated, and `image` gets allocation limits sized for
//! exactly this image. Must not resize or encode.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader};

use super::decode_png::decode_png;
use super::header::Header;
use super::libjpeg;
use super::pixels::Raster;
use super::{ImageFormat, ImagingError, Limits};

/// A decoded source and what was learnt while decoding it.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// Pixels in the stored orientation.
    pub raster: Raster,
    /// The embedded ICC profile, if any (before deciding whether to carry it).
    pub icc: Option<Vec<u8>>,
    pub warnings: Vec<String>,
    /// Raster pixels per source pixel (the DCT scale, or 1). The raster's size is the
    /// source's times this, rounded up: its last row and column cover less than a pixel.
    pub scale: f64,
}

/// libjpeg warnings that mean damage: the decoder finished and filled what it could not read
/// with grey. Other warnings are passed on as they are; errors are fatal.
const JPEG_WARNINGS: &[&str] = &[
    "Premature end of JPEG file",
    "Corrupt JPEG data",
    "Invalid SOS parameters",
    "Inconsistent progression sequence",
    "Application transferred too few scanlines",
];

/// How a JPEG is decoded (other formats always decode whole).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DecodeScale {
    /// The DCT scale numerator, 1-8 (eighths of the stored size).
    pub eighths: u8,
    /// Replicate subsampled chroma instead of interpolating it (libjpeg-turbo's merged
    /// upsampling: 2-5% of a job less). Only when every output is shrunk well below the
    /// decode, which hides the difference: measured 0.00-0.06 dB better on the bench photos.
    pub fast_chroma: bool,
}

/// Decodes the source at `scale` (JPEG) or whole (everything else).
pub(crate) fn decode(
    input: &[u8],
    header: &Header,
    limits: &Limits,
    scale: DecodeScale,
) -> Result<Decoded, ImagingError> {
    match header.info.format {
        ImageFormat::Jpeg if !header.jpeg_cmyk => decode_jpeg(input, header, scale),
        ImageFormat::Png => decode_png(input, header),
        format => decode_with_image(input, format, header, limits),
    }
}

fn decode_jpeg(input: &[u8], header: &Header, scale: DecodeScale) -> Result<Decoded, ImagingError> {
    let corrupt = |reason: String| ImagingError::corrupt(ImageFormat::Jpeg, reason);
    let eighths = scale.eighths.clamp(1, 8);
    let (raster, report) = libjpeg::guarded(|errors| -> Result<Raster, ImagingError> {
        let io = |e: std::io::Error| ImagingError::corrupt(ImageFormat::Jpeg, e);
        let mut jpeg = mozjpeg::Decompress::with_err(errors)
            .from_mem(input)
            .map_err(io)?;
        check_declared_size(jpeg.size(), header)?;
        jpeg.scale(eighths);
        jpeg.do_fancy_upsampling(!scale.fast_chroma);
        let mut started = jpeg.rgb().map_err(io)?;
        let (width, height) = (started.width(), started.height());
        let mut data = vec![0u8; 3 * width * height];
        started.read_scanlines_into(&mut data).map_err(io)?;
        started.finish().map_err(io)?;
        Ok(Raster {
            width: width as u32,
            height: height as u32,
            channels: 3,
            data,
        })
    })
    .map_err(corrupt)?;
    Ok(Decoded {
        raster: raster?,
        icc: header.jpeg_icc.clone(),
        warnings: damage_warning(&report).into_iter().collect(),
        scale: f64::from(eighths) / 8.0,
    })
}

/// libjpeg's memory limit is not reachable through the safe crate; what it allocates
/// follows from the frame header, so that header must be the one the limits checked.
pub(crate) fn check_declared_size(
    (width, height): (usize, usize),
    header: &Header,
) -> Result<(), ImagingError> {
    if (width, height) == (header.stored_width as usize, header.stored_height as usize) {
        return Ok(());
    }
    Err(ImagingError::corrupt(
        ImageFormat::Jpeg,
        format!("the pixel data exceeds what the header declared (libjpeg reads {width}x{height})"),
    ))
}

/// One warning for everything libjpeg warned about while decoding.
pub(crate) fn damage_warning(report: &libjpeg::Report) -> Option<String> {
    let first = report.warnings.first()?;
    let more = match report.warning_count - 1 {
        0 => String::new(),
        n => format!("; {n} more warnings"),
    };
    Some(if JPEG_WARNINGS.iter().any(|w| first.starts_with(w)) {
        format!("JPEG decoded with damage ({first}{more}); the unreadable part is grey")
    } else {
        format!("the JPEG decoder warned: {first}{more}")
    })
}

fn decode_with_image(
    input: &[u8],
    format: ImageFormat,
    header: &Header,
    limits: &Limits,
) -> Result<Decoded, ImagingError> {
    let corrupt = |e: image::ImageError| match e {
        image::ImageError::Unsupported(u) => ImagingError::Unsupported {
            reason: format!("{format}: {u}"),
        },
        // The header passed the limits, so pixels beyond them contradict it.
        image::ImageError::Limits(l) => ImagingError::corrupt(
            format,
            format!("the pixel data exceeds what the header declared ({l})"),
        ),
        other => ImagingError::corrupt(format, other),
    };
    let mut reader = ImageReader::with_format(Cursor::new(input), image_format(format));
    // A second guard inside the decoder: frames of a GIF or strips of a TIFF may declare
    // more than the container header did.
    reader.limits(decoder_limits(header, limits));
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let mut warnings = Vec::new();
    let mut icc = decoder.icc_profile().ok().flatten();
    if header.jpeg_cmyk && icc.take().is_some() {
        warnings.push(
            "the CMYK ICC profile was not applied: colours are converted with the plain \
             CMYK formula and may shift"
                .to_owned(),
        );
    }
    let raster = to_raster(DynamicImage::from_decoder(decoder).map_err(corrupt)?);
    if (raster.width, raster.height) != (header.stored_width, header.stored_height) {
        return Err(ImagingError::corrupt(
            format,
            format!(
                "the header says {}x{} but the pixels are {}x{}",
                header.stored_width, header.stored_height, raster.width, raster.height
            ),
        ));
    }
    Ok(Decoded {
        raster,
        icc,
        warnings,
        scale: 1.0,
    })
}

fn image_format(format: ImageFormat) -> image::ImageFormat {
    match format {
        ImageFormat::Jpeg => image::ImageFormat::Jpeg,
        ImageFormat::Png => image::ImageFormat::Png,
        ImageFormat::WebP => image::ImageFormat::WebP,
        ImageFormat::Gif => image::ImageFormat::Gif,
        ImageFormat::Bmp => image::ImageFormat::Bmp,
        ImageFormat::Tiff => image::ImageFormat::Tiff,
        ImageFormat::Avif => image::ImageFormat::Avif,
    }
}

/// 8-bit RGBA when the image has alpha, else 8-bit RGB (free when it already is).
fn to_raster(image: DynamicImage) -> Raster {
    if image.color().has_alpha() {
        let rgba = image.into_rgba8();
        Raster {
            width: rgba.width(),
            height: rgba.height(),
            channels: 4,
            data: rgba.into_raw(),
        }
    } else {
        let rgb = image.into_rgb8();
        Raster {
            width: rgb.width(),
            height: rgb.height(),
            channels: 3,
            data: rgb.into_raw(),
        }
    }
}

/// Allocation limits for `image`'s decoders: the declared size exactly, and room for the
/// declared raster at its stored depth plus one frame buffer (a GIF frame that is not the
/// screen's size is decoded into its own buffer), never more than the limits allow.
fn decoder_limits(header: &Header, limits: &Limits) -> image::Limits {
    let facts = header.pixels;
    let pixels = u64::from(header.stored_width) * u64::from(header.stored_height);
    let sample_bytes = u64::from(facts.bits_per_sample.max(8) / 8);
    let raster = pixels * u64::from(facts.channels.max(4)) * sample_bytes;
    let frame = facts
        .first_frame
        .map_or(0, |(w, h)| u64::from(w) * u64::from(h) * 4);
    let ceiling = limits.max_pixels.saturating_mul(16);
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(header.stored_width.min(limits.max_width));
    image_limits.max_image_height = Some(header.stored_height.min(limits.max_height));
    image_limits.max_alloc = Some((raster + frame + (1 << 20)).min(ceiling));
    image_limits
}

//! Header probing and limit checks: dimensions, orientation, frames, bit depth and channels
//! read from the container before any pixel is decoded, so a decompression bomb costs
//! microseconds. Every GIF frame descriptor is checked, not only the logical screen. Works
//! on a whole file or on its first bytes (a ranged read, for the memory estimate); a prefix
//! that ends before the fields we need says so. Must not decode pixels.

use std::io::Cursor;

use image::ImageDecoder;

use super::container::{self, GifScan};
use super::metadata::{self, Exif};
use super::sniff::{describe_unknown, sniff};
use super::{ImageFormat, ImagingError, Limits, SourceInfo};

/// Everything the pipeline learns from the header.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub info: SourceInfo,
    /// Dimensions as stored (before orientation).
    pub stored_width: u32,
    pub stored_height: u32,
    /// EXIF fields of a JPEG (other formats: orientation only, through `info`).
    pub exif: Option<Exif>,
    /// ICC profile of a JPEG (other formats report theirs while decoding).
    pub jpeg_icc: Option<Vec<u8>>,
    /// The JPEG has four components (CMYK or YCCK).
    pub jpeg_cmyk: bool,
    /// A YCbCr or grey JPEG's sampling factors, when the planar path can take it.
    pub jpeg_sampling: Option<Vec<(u32, u32)>>,
    /// What the decoder will hold, for the memory estimate.
    pub pixels: PixelFacts,
}

/// The parts of a header that decide how much memory decoding takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct PixelFacts {
    /// Bits per sample as stored (8 for most; 16 for deep PNG and TIFF; 32 for float TIFF).
    pub bits_per_sample: u8,
    /// Samples per pixel as stored (1 grey or palette, 2 grey+alpha, 3, 4).
    pub channels: u8,
    /// The format may hold alpha (decoded as RGBA; for PNG also grey or RGB with tRNS).
    pub alpha: bool,
    /// The decoder's output is grey and is widened to RGB(A) in a second raster.
    pub grey: bool,
    /// GIF: the first frame, decoded into its own buffer when it is not the screen's size.
    pub first_frame: Option<(u32, u32)>,
    /// JPEG: bytes of libjpeg's whole-image coefficient buffer, when it keeps one.
    pub jpeg_coefficient_bytes: u64,
    /// GIF and WebP: the frames the container holds (0 where not counted: a still).
    pub frames: u64,
}

/// What a prefix of a file told us.
#[derive(Debug)]
pub(crate) enum Probe {
    Known(Header),
    /// The fields we need lie past the prefix (a JPEG's frame header after large APPn
    /// segments, a GIF's frames, a TIFF's IFD).
    NeedMore,
}

/// Reads the header of `input`, checks it against `limits` and reports the source as it
/// will be displayed (width and height after EXIF orientation). No full decode.
pub fn probe(input: &[u8], limits: &Limits) -> Result<SourceInfo, ImagingError> {
    read(input, limits).map(|h| h.info)
}

/// The header of a whole file, limits checked.
pub(crate) fn read(input: &[u8], limits: &Limits) -> Result<Header, ImagingError> {
    match inspect(input, input.len() as u64, limits)? {
        Probe::Known(header) => Ok(header),
        Probe::NeedMore => Err(ImagingError::corrupt(
            sniff(input).unwrap_or(ImageFormat::Jpeg),
            "the header is truncated or malformed",
        )),
    }
}

/// The header from the first bytes of an object of `object_bytes`, limits checked as far as
/// the prefix allows. `prefix` may be the whole object.
pub(crate) fn read_prefix(
    prefix: &[u8],
    object_bytes: u64,
    limits: &Limits,
) -> Result<Probe, ImagingError> {
    inspect(prefix, object_bytes, limits)
}

fn inspect(bytes: &[u8], object_bytes: u64, limits: &Limits) -> Result<Probe, ImagingError> {
    check(
        "the input size in bytes",
        object_bytes,
        limits.max_input_bytes,
    )?;
    let whole = bytes.len() as u64 >= object_bytes;
    let format = format_of(bytes)?;
    let Some(mut header) = dimensions(bytes, format, whole, limits)? else {
        return Ok(Probe::NeedMore);
    };
    check_size(header.stored_width, header.stored_height, format, limits)?;
    let orientation = match format {
        ImageFormat::Jpeg => header.exif.as_ref().map_or(1, |e| e.orientation),
        ImageFormat::Png | ImageFormat::WebP | ImageFormat::Tiff => {
            other_orientation(bytes, format)
        }
        ImageFormat::Gif | ImageFormat::Bmp | ImageFormat::Avif => 1,
    };
    header.info.orientation = orientation;
    if orientation >= 5 {
        header.info.width = header.stored_height;
        header.info.height = header.stored_width;
    }
    Ok(Probe::Known(header))
}

fn format_of(bytes: &[u8]) -> Result<ImageFormat, ImagingError> {
    sniff(bytes).ok_or_else(|| {
        let reason = describe_unknown(bytes);
        if reason.starts_with("an ISO media") {
            ImagingError::Unsupported { reason }
        } else {
            ImagingError::NotAnImage { reason }
        }
    })
}

/// The format-specific part: stored size and pixel facts, frame limits checked. `Ok(None)`
/// when a prefix ends before the fields we need.
fn dimensions(
    b: &[u8],
    format: ImageFormat,
    whole: bool,
    limits: &Limits,
) -> Result<Option<Header>, ImagingError> {
    let truncated = || ImagingError::corrupt(format, "the header is truncated or malformed");
    let more_or = |e: ImagingError| if whole { Err(e) } else { Ok(None) };
    let facts = |bits, channels, alpha| PixelFacts {
        bits_per_sample: bits,
        channels,
        alpha,
        ..PixelFacts::default()
    };
    let (w, h, pixels) = match format {
        ImageFormat::Jpeg => return jpeg(b, whole),
        ImageFormat::Png => match container::png_ihdr(b) {
            Some(i) => {
                // tRNS turns grey into grey+alpha and RGB into RGBA when decoded.
                let alpha = matches!(i.color_type, 3 | 4 | 6) || png_may_have_trns(b);
                let mut pixels = facts(i.bit_depth, i.channels(), alpha);
                pixels.grey = matches!(i.color_type, 0 | 4);
                (i.width, i.height, pixels)
            }
            None => return more_or(truncated()),
        },
        ImageFormat::Gif => match container::gif_scan(b, limits.max_frames) {
            Some(scan) if whole || !scan.ran_out => gif(&scan, limits)?,
            Some(_) => return Ok(None),
            None => return more_or(truncated()),
        },
        ImageFormat::WebP => match container::webp_size(b) {
            Some((w, h, frames, alpha)) => {
                check("the frame count", frames, u64::from(limits.max_frames))?;
                (
                    w,
                    h,
                    PixelFacts {
                        frames,
                        ..facts(8, 3 + u8::from(alpha), alpha)
                    },
                )
            }
            None => return more_or(truncated()),
        },
        ImageFormat::Bmp => match container::bmp_size(b) {
            Some((w, h, bits)) => (w, h, facts(8, if bits == 32 { 4 } else { 3 }, bits == 32)),
            None => return more_or(truncated()),
        },
        ImageFormat::Tiff => match tiff(b) {
            Ok(found) => found,
            Err(e) => return more_or(e),
        },
        ImageFormat::Avif => {
            return Err(ImagingError::Unsupported {
                reason: "AVIF input has no decoder in this build".to_owned(),
            });
        }
    };
    Ok(Some(plain(format, w, h, pixels)))
}

/// Whether a PNG has a tRNS chunk, from its chunks before the first IDAT (where tRNS must
/// be); when the bytes end before IDAT, it may, and the estimate assumes the worst.
fn png_may_have_trns(b: &[u8]) -> bool {
    let mut at = 8usize;
    loop {
        let (Some(length), Some(kind)) = (b.get(at..at + 4), b.get(at + 4..at + 8)) else {
            return true;
        };
        match kind {
            b"tRNS" => return true,
            b"IDAT" | b"IEND" => return false,
            _ => {}
        }
        let length = u32::from_be_bytes([length[0], length[1], length[2], length[3]]);
        at = at.saturating_add(12).saturating_add(length as usize);
    }
}

fn plain(format: ImageFormat, w: u32, h: u32, pixels: PixelFacts) -> Header {
    Header {
        info: SourceInfo {
            format,
            width: w,
            height: h,
            orientation: 1,
        },
        stored_width: w,
        stored_height: h,
        exif: None,
        jpeg_icc: None,
        jpeg_cmyk: false,
        jpeg_sampling: None,
        pixels,
    }
}

fn jpeg(b: &[u8], whole: bool) -> Result<Option<Header>, ImagingError> {
    let format = ImageFormat::Jpeg;
    let h = metadata::jpeg_header(b);
    if !h.has_frame {
        return if whole {
            Err(ImagingError::corrupt(
                format,
                "no frame header (SOF) was found",
            ))
        } else {
            Ok(None)
        };
    }
    if !h.has_scan && whole {
        return Err(ImagingError::corrupt(
            format,
            "the data ends before the first scan: no pixels to decode",
        ));
    }
    if h.precision != 8 {
        // libjpeg-turbo decodes these only through separate 12/16-bit entry points.
        return Err(ImagingError::Unsupported {
            reason: format!(
                "JPEG with {}-bit samples (only 8-bit JPEG is decoded)",
                h.precision
            ),
        });
    }
    let pixels = PixelFacts {
        bits_per_sample: 8,
        channels: h.components,
        alpha: false,
        grey: false,
        first_frame: None,
        // Without the first SOS a sequential file may still be multi-scan: assume it is.
        jpeg_coefficient_bytes: if h.buffers_coefficients || !h.has_scan {
            h.coefficient_bytes
        } else {
            0
        },
        frames: 1,
    };
    let mut header = plain(format, h.width, h.height, pixels);
    header.exif = h.exif;
    header.jpeg_icc = h.icc;
    header.jpeg_cmyk = h.components == 4;
    header.jpeg_sampling = super::ycbcr::planar_sampling(b);
    Ok(Some(header))
}

/// Every frame descriptor against the limits, then the screen (the output raster).
fn gif(scan: &GifScan, limits: &Limits) -> Result<(u32, u32, PixelFacts), ImagingError> {
    check("the frame count", scan.frames, u64::from(limits.max_frames))?;
    if let Some((fw, fh)) = scan.largest_frame {
        check_dims(fw, fh, limits)?;
    }
    let pixels = PixelFacts {
        bits_per_sample: 8,
        channels: 4,
        alpha: true,
        grey: false,
        first_frame: scan.first_frame,
        jpeg_coefficient_bytes: 0,
        frames: scan.frames,
    };
    Ok((scan.screen.0, scan.screen.1, pixels))
}

fn tiff(b: &[u8]) -> Result<(u32, u32, PixelFacts), ImagingError> {
    let decoder = image::codecs::tiff::TiffDecoder::new(Cursor::new(b))
        .map_err(|e| ImagingError::corrupt(ImageFormat::Tiff, e))?;
    let (w, h) = decoder.dimensions();
    let color = decoder.color_type();
    let channels = color.channel_count();
    let pixels = PixelFacts {
        bits_per_sample: (color.bytes_per_pixel() / channels.max(1)) * 8,
        channels,
        alpha: color.has_alpha(),
        ..PixelFacts::default()
    };
    Ok((w, h, pixels))
}

fn check_size(w: u32, h: u32, format: ImageFormat, limits: &Limits) -> Result<(), ImagingError> {
    if w == 0 || h == 0 {
        return Err(ImagingError::corrupt(
            format,
            format!("the header declares an empty image ({w}x{h})"),
        ));
    }
    check_dims(w, h, limits)
}

fn check_dims(w: u32, h: u32, limits: &Limits) -> Result<(), ImagingError> {
    check(
        "the width in pixels",
        u64::from(w),
        u64::from(limits.max_width),
    )?;
    check(
        "the height in pixels",
        u64::from(h),
        u64::from(limits.max_height),
    )?;
    check(
        "the pixel count",
        u64::from(w) * u64::from(h),
        limits.max_pixels,
    )
}

fn check(what: &'static str, actual: u64, limit: u64) -> Result<(), ImagingError> {
    if actual > limit {
        Err(ImagingError::TooLarge {
            what,
            actual,
            limit,
        })
    } else {
        Ok(())
    }
}

/// EXIF orientation of PNG (eXIf), WebP (EXIF chunk) and TIFF through `image`'s decoders,
/// which read metadata without decoding pixels. Unreadable metadata means "upright". The
/// PNG reader inflates compressed chunks (iCCP) on the way, so its allocations are bounded.
fn other_orientation(input: &[u8], format: ImageFormat) -> u8 {
    let mut png_limits = image::Limits::default();
    png_limits.max_alloc = Some(super::decode_png::AUXILIARY_BYTES as u64);
    let orientation = match format {
        ImageFormat::Png => {
            image::codecs::png::PngDecoder::with_limits(Cursor::new(input), png_limits)
                .and_then(|mut d| d.orientation())
        }
        ImageFormat::WebP => image::codecs::webp::WebPDecoder::new(Cursor::new(input))
            .and_then(|mut d| d.orientation()),
        _ => image::codecs::tiff::TiffDecoder::new(Cursor::new(input))
            .and_then(|mut d| d.orientation()),
    };
    orientation.map_or(1, |o| o.to_exif())
}

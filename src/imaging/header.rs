//! Header probing and limit checks: dimensions, orientation and frame count read from the
//! container before any pixel is decoded, so a decompression bomb costs microseconds.
//! Must not decode pixels.

use std::io::Cursor;

use image::ImageDecoder;

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
}

/// Reads the header of `input`, checks it against `limits` and reports the source as it
/// will be displayed (width and height after EXIF orientation). No full decode.
pub fn probe(input: &[u8], limits: &Limits) -> Result<SourceInfo, ImagingError> {
    read(input, limits).map(|h| h.info)
}

pub(crate) fn read(input: &[u8], limits: &Limits) -> Result<Header, ImagingError> {
    check(
        "the input size in bytes",
        input.len() as u64,
        limits.max_input_bytes,
    )?;
    let Some(format) = sniff(input) else {
        let reason = describe_unknown(input);
        return Err(if reason.starts_with("an ISO media") {
            ImagingError::Unsupported { reason }
        } else {
            ImagingError::NotAnImage { reason }
        });
    };
    let mut exif = None;
    let mut jpeg_icc = None;
    let mut jpeg_cmyk = false;
    let (width, height) = match format {
        ImageFormat::Jpeg => {
            let h = metadata::jpeg_header(input);
            if !h.has_frame {
                return Err(ImagingError::corrupt(
                    format,
                    "no frame header (SOF) was found",
                ));
            }
            if !h.has_scan {
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
            exif = h.exif;
            jpeg_icc = h.icc;
            jpeg_cmyk = h.components == 4;
            (h.width, h.height)
        }
        ImageFormat::Png => png_size(input).ok_or_else(|| truncated_header(format))?,
        ImageFormat::Gif => {
            let size = gif_size(input).ok_or_else(|| truncated_header(format))?;
            check(
                "the frame count",
                gif_frames(input, limits.max_frames),
                u64::from(limits.max_frames),
            )?;
            size
        }
        ImageFormat::WebP => {
            let (w, h, frames) = webp_size(input).ok_or_else(|| truncated_header(format))?;
            check("the frame count", frames, u64::from(limits.max_frames))?;
            (w, h)
        }
        ImageFormat::Bmp => bmp_size(input).ok_or_else(|| truncated_header(format))?,
        ImageFormat::Tiff => {
            let decoder = image::codecs::tiff::TiffDecoder::new(Cursor::new(input))
                .map_err(|e| ImagingError::corrupt(format, e))?;
            decoder.dimensions()
        }
    };
    if width == 0 || height == 0 {
        return Err(ImagingError::corrupt(
            format,
            format!("the header declares an empty image ({width}x{height})"),
        ));
    }
    check(
        "the width in pixels",
        u64::from(width),
        u64::from(limits.max_width),
    )?;
    check(
        "the height in pixels",
        u64::from(height),
        u64::from(limits.max_height),
    )?;
    check(
        "the pixel count",
        u64::from(width) * u64::from(height),
        limits.max_pixels,
    )?;
    let orientation = match format {
        ImageFormat::Jpeg => exif.as_ref().map_or(1, |e| e.orientation),
        ImageFormat::Png | ImageFormat::WebP | ImageFormat::Tiff => {
            other_orientation(input, format)
        }
        ImageFormat::Gif | ImageFormat::Bmp => 1,
    };
    let (dw, dh) = if orientation >= 5 {
        (height, width)
    } else {
        (width, height)
    };
    Ok(Header {
        info: SourceInfo {
            format,
            width: dw,
            height: dh,
            orientation,
        },
        stored_width: width,
        stored_height: height,
        exif,
        jpeg_icc,
        jpeg_cmyk,
    })
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

fn truncated_header(format: ImageFormat) -> ImagingError {
    ImagingError::corrupt(format, "the header is truncated or malformed")
}

/// EXIF orientation of PNG (eXIf), WebP (EXIF chunk) and TIFF through `image`'s decoders,
/// which read metadata without decoding pixels. Unreadable metadata means "upright".
fn other_orientation(input: &[u8], format: ImageFormat) -> u8 {
    let orientation = match format {
        ImageFormat::Png => image::codecs::png::PngDecoder::new(Cursor::new(input))
            .and_then(|mut d| d.orientation()),
        ImageFormat::WebP => image::codecs::webp::WebPDecoder::new(Cursor::new(input))
            .and_then(|mut d| d.orientation()),
        _ => image::codecs::tiff::TiffDecoder::new(Cursor::new(input))
            .and_then(|mut d| d.orientation()),
    };
    orientation.map_or(1, |o| o.to_exif())
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_le_bytes(
        b.get(at..at + 2)?.try_into().ok()?,
    )))
}

fn le24(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 3)?;
    Some(u32::from(s[0]) | u32::from(s[1]) << 8 | u32::from(s[2]) << 16)
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// IHDR is always the first chunk: width and height at bytes 16 and 20.
fn png_size(b: &[u8]) -> Option<(u32, u32)> {
    (b.get(12..16)? == b"IHDR").then_some(())?;
    Some((be32(b, 16)?, be32(b, 20)?))
}

fn gif_size(b: &[u8]) -> Option<(u32, u32)> {
    Some((le16(b, 6)?, le16(b, 8)?))
}

/// Counts image descriptors by skipping blocks (no LZW decoding); stops counting once past
/// `max_frames`, so a GIF of a million frames costs no more than one of `max_frames`.
fn gif_frames(b: &[u8], max_frames: u32) -> u64 {
    let Some(&flags) = b.get(10) else { return 0 };
    let mut pos = 13;
    if flags & 0x80 != 0 {
        pos += 3 << ((flags & 7) + 1);
    }
    let skip_sub_blocks = |mut pos: usize| -> Option<usize> {
        loop {
            let len = usize::from(*b.get(pos)?);
            pos += 1 + len;
            if len == 0 {
                return Some(pos);
            }
        }
    };
    let mut frames = 0u64;
    while frames <= u64::from(max_frames) {
        match b.get(pos) {
            Some(0x2C) => {
                frames += 1;
                let Some(&local) = b.get(pos + 9) else { break };
                pos += 10;
                if local & 0x80 != 0 {
                    pos += 3 << ((local & 7) + 1);
                }
                match skip_sub_blocks(pos + 1) {
                    Some(p) => pos = p,
                    None => break,
                }
            }
            Some(0x21) => match skip_sub_blocks(pos + 2) {
                Some(p) => pos = p,
                None => break,
            },
            _ => break,
        }
    }
    frames
}

/// Canvas size and frame count of a WebP from its chunks (VP8X, VP8, VP8L, ANMF).
fn webp_size(b: &[u8]) -> Option<(u32, u32, u64)> {
    let first = b.get(12..16)?;
    let body = 20;
    match first {
        b"VP8X" => {
            let w = le24(b, body + 4)? + 1;
            let h = le24(b, body + 7)? + 1;
            let mut frames = 0u64;
            let mut pos = 12;
            while pos + 8 <= b.len() {
                let kind = &b[pos..pos + 4];
                let len = usize::try_from(le32(b, pos + 4)?).ok()?;
                if kind == b"ANMF" {
                    frames += 1;
                }
                pos = pos.checked_add(8 + len + (len & 1))?;
            }
            Some((w, h, frames.max(1)))
        }
        b"VP8 " => {
            // Key frame start code 9d 01 2a, then 14-bit width and height.
            (b.get(body + 3..body + 6)? == [0x9d, 0x01, 0x2a]).then_some(())?;
            Some((le16(b, body + 6)? & 0x3FFF, le16(b, body + 8)? & 0x3FFF, 1))
        }
        b"VP8L" => {
            (*b.get(body)? == 0x2F).then_some(())?;
            let bits = le32(b, body + 1)?;
            Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, 1))
        }
        _ => None,
    }
}

fn bmp_size(b: &[u8]) -> Option<(u32, u32)> {
    if le32(b, 14)? == 12 {
        return Some((le16(b, 18)?, le16(b, 20)?));
    }
    let w = i32::from_le_bytes(b.get(18..22)?.try_into().ok()?);
    // A negative height means rows are stored top-down.
    let h = i32::from_le_bytes(b.get(22..26)?.try_into().ok()?);
    Some((w.unsigned_abs(), h.unsigned_abs()))
}

//! PNG decoding straight to 8 bits through the `png` crate. 16-bit samples are stripped to
//! 8 bits row by row while decoding, so a 16-bit PNG costs what an 8-bit one does (through
//! `image`'s decoder it cost a 16-bit raster plus an 8-bit copy: 12 bytes per RGBA pixel
//! instead of 4). The decoder's own allocations (text, ICC, chunk buffers) are bounded by
//! [`AUXILIARY_BYTES`]. Must not resize or encode.

use std::io::Cursor;

use png::{ColorType, Decoder, DecodingError, Transformations};

use super::decode::Decoded;
use super::header::Header;
use super::pixels::Raster;
use super::{ImageFormat, ImagingError};

/// What the `png` crate may allocate besides the raster we hand it (decompressed iCCP and
/// text chunks, the row buffers). Its default is 64 MiB; a PNG needs far less.
pub(crate) const AUXILIARY_BYTES: usize = 8 << 20;

/// Decodes a PNG whose header passed the limits into an 8-bit RGB or RGBA raster.
pub(crate) fn decode_png(input: &[u8], header: &Header) -> Result<Decoded, ImagingError> {
    let mut decoder = Decoder::new_with_limits(
        Cursor::new(input),
        png::Limits {
            bytes: AUXILIARY_BYTES,
        },
    );
    decoder.set_transformations(Transformations::normalize_to_color8());
    decoder.set_ignore_text_chunk(true);
    let mut reader = decoder.read_info().map_err(failed)?;
    let info = reader.info();
    if (info.width, info.height) != (header.stored_width, header.stored_height) {
        return Err(ImagingError::corrupt(
            ImageFormat::Png,
            format!(
                "the pixel data exceeds what the header declared ({}x{})",
                info.width, info.height
            ),
        ));
    }
    let icc = info.icc_profile.as_ref().map(|p| p.to_vec());
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| ImagingError::corrupt(ImageFormat::Png, "the frame size overflows"))?;
    let mut data = vec![0u8; size];
    let frame = reader.next_frame(&mut data).map_err(failed)?;
    data.truncate(frame.buffer_size());
    let (width, height) = (frame.width, frame.height);
    let raster = match frame.color_type {
        ColorType::Grayscale => grey_to_rgb(&data, 1),
        ColorType::GrayscaleAlpha => grey_to_rgb(&data, 2),
        ColorType::Rgb | ColorType::Indexed => data,
        ColorType::Rgba => data,
    };
    let channels = if matches!(
        frame.color_type,
        ColorType::Rgba | ColorType::GrayscaleAlpha
    ) {
        4
    } else {
        3
    };
    Ok(Decoded {
        raster: Raster {
            width,
            height,
            channels,
            data: raster,
        },
        icc,
        warnings: Vec::new(),
        scale: 1.0,
    })
}

/// Grey (1 sample) or grey+alpha (2 samples) to RGB or RGBA.
fn grey_to_rgb(data: &[u8], samples: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / samples * (samples + 2));
    for px in data.chunks_exact(samples) {
        out.extend_from_slice(&[px[0], px[0], px[0]]);
        if samples == 2 {
            out.push(px[1]);
        }
    }
    out
}

fn failed(e: DecodingError) -> ImagingError {
    match e {
        DecodingError::LimitsExceeded => ImagingError::corrupt(
            ImageFormat::Png,
            format!("the decoder needed more than {AUXILIARY_BYTES} bytes besides the pixels"),
        ),
        other => ImagingError::corrupt(ImageFormat::Png, other),
    }
}

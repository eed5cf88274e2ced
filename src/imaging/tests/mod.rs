//! Tests of the imaging engine, with every test image generated in code, and the helpers
//! that generate them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod animation;
mod avif;
mod bad_input;
mod bench_protocol;
mod cascade;
mod formats;
mod hostile;
mod libjpeg_errors;
mod limits;
mod metadata_out;
mod orientation;
mod peak_memory;
mod reference_decoders;
mod stop;
mod summary;
mod ycbcr;

use std::io::Cursor;

use image::{ImageEncoder, RgbImage, RgbaImage};
use mozjpeg::ColorSpace::{JCS_CMYK, JCS_RGB};

use super::{EncodeOptions, Fit, Limits, OutputFormat, Plan, Target};

/// A smooth gradient with some texture, `w`×`h`.
pub(super) fn gradient(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x * 255 / w.max(1)) as u8,
            (y * 255 / h.max(1)) as u8,
            (((x / 4 + y / 4) % 2) * 60 + 90) as u8,
        ])
    })
}

pub(super) fn jpeg(img: &RgbImage, quality: i32) -> Vec<u8> {
    let dims = (img.width() as usize, img.height() as usize);
    let quality = quality.clamp(1, 100) as u8;
    compressed_jpeg(img.as_raw(), dims, JCS_RGB, (2, 2), false, quality)
}

/// A JPEG of `pixels` (`input` layout) at libjpeg-turbo's settings, like cameras write them:
/// `chroma` is the size of a chroma sample in pixels ((2, 2) is 4:2:0; only for YCbCr), and
/// CMYK is stored as YCCK without subsampling.
pub(super) fn compressed_jpeg(
    pixels: &[u8],
    (w, h): (usize, usize),
    input: mozjpeg::ColorSpace,
    chroma: (u8, u8),
    progressive: bool,
    quality: u8,
) -> Vec<u8> {
    let mut c = mozjpeg::Compress::new(input);
    c.set_fastest_defaults();
    if matches!(input, JCS_CMYK) {
        c.set_color_space(mozjpeg::ColorSpace::JCS_YCCK);
    }
    c.set_size(w, h);
    c.set_quality(f32::from(quality));
    for component in c.components_mut() {
        (component.h_samp_factor, component.v_samp_factor) = (1, 1);
    }
    if c.components().len() == 3 {
        c.set_chroma_sampling_pixel_sizes(chroma, chroma);
    }
    if progressive {
        c.set_progressive_mode();
    }
    let mut started = c.start_compress(Vec::new()).unwrap();
    started.write_scanlines(pixels).unwrap();
    started.finish().unwrap()
}

pub(super) fn png_rgb(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    out
}

pub(super) fn png_rgba(img: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgba8,
        )
        .unwrap();
    out
}

/// Any format the `image` crate writes.
pub(super) fn encoded(img: &image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// An EXIF APP1 segment with an orientation tag (and optional artist/copyright/GPS marker).
pub(super) fn exif_app1(orientation: u16, copyright: Option<&str>) -> Vec<u8> {
    let mut entries: Vec<(u16, u16, u32, Vec<u8>)> =
        vec![(0x0112, 3, 1, orientation.to_be_bytes().to_vec())];
    if let Some(c) = copyright {
        entries.push((
            0x8298,
            2,
            c.len() as u32 + 1,
            [c.as_bytes(), b"\0"].concat(),
        ));
    }
    // A GPS IFD pointer whose value is irrelevant: its presence is what must not leak.
    entries.push((0x8825, 4, 1, vec![0, 0, 0, 0]));
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    let mut data_at = 8 + 2 + entries.len() * 12 + 4;
    let mut data = Vec::new();
    tiff.extend_from_slice(&(entries.len() as u16).to_be_bytes());
    for (tag, kind, count, value) in &entries {
        tiff.extend_from_slice(&tag.to_be_bytes());
        tiff.extend_from_slice(&kind.to_be_bytes());
        tiff.extend_from_slice(&count.to_be_bytes());
        if value.len() <= 4 {
            let mut v = value.clone();
            v.resize(4, 0);
            tiff.extend_from_slice(&v);
        } else {
            tiff.extend_from_slice(&(data_at as u32).to_be_bytes());
            data.extend_from_slice(value);
            data_at += value.len();
        }
    }
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    tiff.extend_from_slice(&data);
    tiff.extend_from_slice(b"GPSMARKER");
    let body = [b"Exif\0\0".as_slice(), &tiff].concat();
    let mut seg = vec![0xFF, 0xE1];
    seg.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    seg.extend_from_slice(&body);
    seg
}

/// Inserts a segment right after SOI.
pub(super) fn with_segment(jpeg: &[u8], segment: &[u8]) -> Vec<u8> {
    [&jpeg[..2], segment, &jpeg[2..]].concat()
}

pub(super) fn target(label: &str, w: u32, h: u32, fit: Fit, format: OutputFormat) -> Target {
    Target {
        label: label.to_owned(),
        width: w,
        height: h,
        fit,
        format,
    }
}

pub(super) fn plan(targets: Vec<Target>) -> Plan {
    Plan {
        limits: Limits::default(),
        encode: EncodeOptions::default(),
        targets,
    }
}

/// Decodes any output back to RGBA for pixel checks.
pub(super) fn decode_rgba(bytes: &[u8]) -> RgbaImage {
    image::load_from_memory(bytes).unwrap().to_rgba8()
}

/// PSNR in dB between two same-size RGB(A) images, over RGB only.
pub(super) fn psnr(a: &RgbaImage, b: &RgbaImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let mut se = 0f64;
    for (p, q) in a.pixels().zip(b.pixels()) {
        for c in 0..3 {
            let d = f64::from(p[c]) - f64::from(q[c]);
            se += d * d;
        }
    }
    let mse = se / (f64::from(a.width() * a.height()) * 3.0);
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    }
}

/// CRC-32 (IEEE), as PNG chunks need it.
pub(super) fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

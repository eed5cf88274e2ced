//! Limits checked from the header: bytes, width, height, pixels, frames.

use std::time::{Duration, Instant};

use super::*;
use crate::imaging::{ImagingError, probe, process};

/// A PNG whose IHDR declares `w`×`h` and whose pixel data is a few bytes of nothing.
fn png_declaring(w: u32, h: u32) -> Vec<u8> {
    let mut real = png_rgb(&gradient(4, 4));
    real[16..20].copy_from_slice(&w.to_be_bytes());
    real[20..24].copy_from_slice(&h.to_be_bytes());
    real
}

/// A JPEG whose SOF declares `w`×`h` (the scan is the original tiny one).
fn jpeg_declaring(w: u16, h: u16) -> Vec<u8> {
    let mut bytes = jpeg(&gradient(16, 16), 80);
    let sof = bytes.windows(2).position(|m| m == [0xFF, 0xC0]).unwrap();
    bytes[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    bytes
}

/// A GIF of `frames` tiny frames, built by repeating one encoded frame block.
pub(super) fn gif_with_frames(frames: usize) -> Vec<u8> {
    let img = image::DynamicImage::ImageRgb8(gradient(16, 16));
    let one = encoded(&img, image::ImageFormat::Gif);
    let flags = one[10];
    let header_len = 13
        + if flags & 0x80 != 0 {
            3 << ((flags & 7) + 1)
        } else {
            0
        };
    let body = &one[header_len..one.len() - 1]; // without the trailer
    let mut out = one[..header_len].to_vec();
    for _ in 0..frames {
        out.extend_from_slice(body);
    }
    out.push(0x3B);
    out
}

fn too_large(e: ImagingError) -> String {
    assert!(
        matches!(e, ImagingError::TooLarge { .. }),
        "expected TooLarge, got {e:?}"
    );
    e.to_string()
}

#[test]
fn png_declaring_100000_square_is_refused_quickly_with_the_numbers() {
    // Arrange
    let input = png_declaring(100_000, 100_000);
    let started = Instant::now();

    // Act
    let err = process(
        &input,
        &plan(vec![target("t", 10, 10, Fit::Inside, OutputFormat::Png)]),
    )
    .unwrap_err();

    // Assert
    let message = too_large(err);
    assert!(
        message.contains("100000") && message.contains("30000"),
        "{message}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn jpeg_declaring_65000_square_is_refused_from_the_header() {
    // Arrange
    let input = jpeg_declaring(65_000, 65_000);

    // Act
    let err = probe(&input, &Limits::default()).unwrap_err();

    // Assert
    let message = too_large(err);
    assert!(message.contains("65000"), "{message}");
}

#[test]
fn pixel_count_and_input_size_limits_are_enforced() {
    // Arrange
    let input = png_rgb(&gradient(200, 100));
    let pixels = Limits {
        max_pixels: 10_000,
        ..Limits::default()
    };
    let bytes = Limits {
        max_input_bytes: 100,
        ..Limits::default()
    };

    // Act
    let by_pixels = too_large(probe(&input, &pixels).unwrap_err());
    let by_bytes = too_large(probe(&input, &bytes).unwrap_err());

    // Assert
    assert!(
        by_pixels.contains("20000") && by_pixels.contains("10000"),
        "{by_pixels}"
    );
    assert!(by_bytes.contains("100"), "{by_bytes}");
}

#[test]
fn an_image_at_the_limits_is_accepted() {
    // Arrange
    let input = png_rgb(&gradient(200, 100));
    let limits = Limits {
        max_width: 200,
        max_height: 100,
        max_pixels: 20_000,
        ..Limits::default()
    };

    // Act
    let info = probe(&input, &limits).unwrap();

    // Assert
    assert_eq!((info.width, info.height), (200, 100));
}

#[test]
fn gif_with_thousands_of_frames_is_processed_from_its_first_frame() {
    // Arrange
    let input = gif_with_frames(3000);
    let started = Instant::now();

    // Act
    let out = process(
        &input,
        &plan(vec![target("t", 8, 8, Fit::Inside, OutputFormat::Png)]),
    )
    .unwrap();

    // Assert
    assert_eq!((out.outputs[0].width, out.outputs[0].height), (8, 8));
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn gif_over_the_frame_limit_is_refused() {
    // Arrange
    let input = gif_with_frames(150);
    let limits = Limits {
        max_frames: 100,
        ..Limits::default()
    };

    // Act
    let message = too_large(probe(&input, &limits).unwrap_err());

    // Assert
    assert!(
        message.contains("frame count is 101") && message.contains("limit is 100"),
        "{message}"
    );
}

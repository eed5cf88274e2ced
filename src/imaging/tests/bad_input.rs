//! Hostile and broken inputs: each gets a typed error (or a documented warning), never a panic.

use super::*;
use crate::imaging::{ImagingError, process};

fn any_plan() -> Plan {
    plan(vec![target(
        "t",
        32,
        32,
        Fit::Inside,
        OutputFormat::Original,
    )])
}

#[test]
fn empty_random_html_and_svg_inputs_are_not_images() {
    // Arrange
    let mut random = vec![0u8; 4096];
    let mut state = 0x2545_f491_u32;
    for b in &mut random {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        *b = state as u8;
    }
    let cases: [(&str, Vec<u8>); 4] = [
        ("empty", Vec::new()),
        ("random", random),
        (
            "html",
            b"<!DOCTYPE html><html><body>not a photo</body></html>".to_vec(),
        ),
        (
            "svg",
            b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec(),
        ),
    ];

    for (name, input) in cases {
        // Act
        let err = process(&input, &any_plan()).unwrap_err();

        // Assert
        assert!(err.is_not_an_image(), "{name}: {err:?}");
    }
}

#[test]
fn the_not_an_image_message_says_what_the_bytes_were() {
    // Arrange
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>";

    // Act
    let message = process(svg, &any_plan()).unwrap_err().to_string();

    // Assert
    assert!(message.contains("SVG"), "{message}");
}

#[test]
fn truncated_jpeg_is_processed_with_a_warning() {
    // Arrange: keep the headers and the first third of the scan.
    let full = jpeg(&gradient(256, 192), 90);
    let sos = full.windows(2).position(|m| m == [0xFF, 0xDA]).unwrap();
    let cut = sos + (full.len() - sos) / 3;
    let input = &full[..cut];

    // Act
    let out = process(input, &any_plan()).unwrap();

    // Assert
    assert_eq!((out.outputs[0].width, out.outputs[0].height), (32, 24));
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    assert!(
        out.warnings[0].contains("Premature end"),
        "{:?}",
        out.warnings
    );
    assert!(!out.outputs[0].reused_original);
}

#[test]
fn jpeg_cut_before_its_first_scan_is_corrupt() {
    // Arrange
    let full = jpeg(&gradient(64, 64), 90);
    let sos = full.windows(2).position(|m| m == [0xFF, 0xDA]).unwrap();

    // Act
    let err = process(&full[..sos], &any_plan()).unwrap_err();

    // Assert
    assert!(matches!(err, ImagingError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("before the first scan"), "{err}");
}

#[test]
fn truncated_png_is_corrupt() {
    // Arrange
    let full = png_rgb(&gradient(128, 128));
    let input = &full[..full.len() / 2];

    // Act
    let err = process(input, &any_plan()).unwrap_err();

    // Assert
    assert!(matches!(err, ImagingError::Corrupt { .. }), "{err:?}");
}

#[test]
fn garbage_after_a_valid_signature_is_a_typed_error_for_every_format() {
    // Arrange
    let heads: [&[u8]; 6] = [
        b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR",
        b"GIF89a\x10\x00",
        b"RIFF\x10\x00\x00\x00WEBPVP8 ",
        b"BM\x00\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00",
        b"II*\x00\x08\x00\x00\x00",
    ];

    for head in heads {
        let mut input = head.to_vec();
        input.extend(std::iter::repeat_n(0xA5u8, 64));

        // Act
        let result = process(&input, &any_plan());

        // Assert: an error that is not a panic, and not "not an image" (the signature matched).
        let err = result.unwrap_err();
        assert!(!err.is_not_an_image(), "{head:?}: {err:?}");
    }
}

#[test]
fn an_avif_file_is_unsupported_rather_than_not_an_image() {
    // Arrange
    let input = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf";

    // Act
    let err = process(input, &any_plan()).unwrap_err();

    // Assert
    assert!(matches!(err, ImagingError::Unsupported { .. }), "{err:?}");
}

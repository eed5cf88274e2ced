//! Metadata in outputs: EXIF/GPS stripped, copyright kept on request, ICC carried, and
//! unchanged originals passed through without generation loss.

use super::*;
use crate::imaging::process;

/// A fake Display-P3-like profile: only its description matters to the engine.
fn fake_icc(description: &str) -> Vec<u8> {
    let mut icc = vec![0u8; 128];
    icc.extend_from_slice(b"desc");
    icc.extend_from_slice(description.as_bytes());
    icc
}

fn icc_segment(icc: &[u8]) -> Vec<u8> {
    let body = [b"ICC_PROFILE\0".as_slice(), &[1, 1], icc].concat();
    let mut seg = vec![0xFF, 0xE2];
    seg.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    seg.extend_from_slice(&body);
    seg
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn gps_and_exif_are_stripped_from_resized_and_reused_outputs() {
    // Arrange
    let input = with_segment(
        &jpeg(&gradient(300, 200), 85),
        &exif_app1(1, Some("Jane Doe")),
    );
    let p = plan(vec![
        target("same", 400, 400, Fit::Inside, OutputFormat::Original),
        target("small", 100, 100, Fit::Inside, OutputFormat::Original),
    ]);

    // Act
    let out = process(&input, &p).unwrap();

    // Assert
    for o in &out.outputs {
        assert!(!contains(&o.bytes, b"GPSMARKER"), "{}: GPS leaked", o.label);
        assert!(!contains(&o.bytes, b"Exif\0\0"), "{}: EXIF leaked", o.label);
    }
    assert!(out.outputs[0].reused_original);
    assert!(out.outputs[0].bytes.len() < input.len());
}

#[test]
fn a_reused_original_has_the_source_pixels_exactly() {
    // Arrange
    let input = jpeg(&gradient(300, 200), 85);
    let p = plan(vec![target(
        "same",
        300,
        200,
        Fit::Inside,
        OutputFormat::Original,
    )]);

    // Act
    let out = process(&input, &p).unwrap();

    // Assert
    assert!(out.outputs[0].reused_original);
    assert_eq!(out.outputs[0].bytes, input);
}

#[test]
fn copyright_and_artist_are_kept_on_request_without_gps() {
    // Arrange
    let input = with_segment(
        &jpeg(&gradient(300, 200), 85),
        &exif_app1(1, Some("(c) Jane Doe")),
    );
    let mut p = plan(vec![
        target("small", 100, 100, Fit::Inside, OutputFormat::Jpeg),
        target("png", 100, 100, Fit::Inside, OutputFormat::Png),
        target("same", 300, 200, Fit::Inside, OutputFormat::Jpeg),
    ]);
    p.encode.keep_copyright = true;

    // Act
    let out = process(&input, &p).unwrap();

    // Assert
    for o in &out.outputs {
        assert!(
            contains(&o.bytes, b"(c) Jane Doe"),
            "{}: copyright lost",
            o.label
        );
        assert!(!contains(&o.bytes, b"GPSMARKER"), "{}: GPS leaked", o.label);
    }
    let exif = crate::imaging::metadata::jpeg_header(&out.outputs[0].bytes)
        .exif
        .unwrap();
    assert_eq!(exif.copyright.as_deref(), Some("(c) Jane Doe"));
    assert_eq!(exif.orientation, 1);
}

#[test]
fn a_non_srgb_profile_is_carried_and_an_srgb_one_dropped() {
    // Arrange
    let p3 = with_segment(
        &jpeg(&gradient(300, 200), 85),
        &icc_segment(&fake_icc("Display P3")),
    );
    let srgb = with_segment(
        &jpeg(&gradient(300, 200), 85),
        &icc_segment(&fake_icc("sRGB IEC61966-2.1")),
    );
    let p = plan(vec![
        target("jpeg", 100, 100, Fit::Inside, OutputFormat::Jpeg),
        target("png", 100, 100, Fit::Inside, OutputFormat::Png),
    ]);

    // Act
    let carried = process(&p3, &p).unwrap();
    let dropped = process(&srgb, &p).unwrap();

    // Assert
    let jpeg_icc = crate::imaging::metadata::jpeg_header(&carried.outputs[0].bytes)
        .icc
        .unwrap();
    assert_eq!(jpeg_icc, fake_icc("Display P3"));
    assert!(
        contains(&carried.outputs[1].bytes, b"iCCP"),
        "PNG lost the profile"
    );
    assert!(
        dropped
            .outputs
            .iter()
            .all(|o| !contains(&o.bytes, b"ICC_PROFILE") && !contains(&o.bytes, b"iCCP"))
    );
    assert!(carried.warnings.is_empty() && dropped.warnings.is_empty());
}

#[test]
fn a_profile_that_webp_cannot_carry_is_reported() {
    // Arrange
    let p3 = with_segment(
        &jpeg(&gradient(300, 200), 85),
        &icc_segment(&fake_icc("Display P3")),
    );
    let p = plan(vec![target(
        "webp",
        100,
        100,
        Fit::Inside,
        OutputFormat::WebP,
    )]);

    // Act
    let out = process(&p3, &p).unwrap();

    // Assert
    assert_eq!(out.warnings.len(), 1);
    assert!(out.warnings[0].contains("ICC"), "{:?}", out.warnings);
}

#[test]
fn png_text_chunks_are_stripped_from_a_reused_png() {
    // Arrange: insert a tEXt chunk after IHDR.
    let png = png_rgb(&gradient(50, 40));
    let text = b"Comment\0GPSMARKER";
    let mut chunk = (text.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(b"tEXt");
    chunk.extend_from_slice(text);
    chunk.extend_from_slice(&crc32(&chunk[4..]).to_be_bytes());
    let input = [&png[..33], &chunk, &png[33..]].concat();
    let p = plan(vec![target(
        "same",
        100,
        100,
        Fit::Inside,
        OutputFormat::Original,
    )]);

    // Act
    let out = process(&input, &p);

    // Assert
    let out = out.unwrap();
    assert!(out.outputs[0].reused_original);
    assert_eq!(out.outputs[0].bytes, png);
}

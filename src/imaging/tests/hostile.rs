//! Hostile input (issue 14): limits that frames cannot escape, and outputs that carry only
//! what we choose (no trailers, no secondary images, no unbounded ICC, no private segments).

use std::time::{Duration, Instant};

use super::*;
use crate::imaging::{Anchor, ImagingError, probe, process};

/// A GIF whose logical screen is `screen`×`screen` and whose one frame is `frame_w`×`frame_h`
/// (LZW data: a clear code and the end code, so the pixels are "missing", as in a bomb).
pub(crate) fn gif_with_frame(screen: u16, frame_w: u16, frame_h: u16) -> Vec<u8> {
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&screen.to_le_bytes());
    gif.extend_from_slice(&screen.to_le_bytes());
    gif.extend_from_slice(&[0x80, 0, 0]); // a 2-entry global colour table
    gif.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
    gif.push(0x2C);
    gif.extend_from_slice(&[0, 0, 0, 0]);
    gif.extend_from_slice(&frame_w.to_le_bytes());
    gif.extend_from_slice(&frame_h.to_le_bytes());
    gif.push(0);
    gif.extend_from_slice(&[2, 2, 0x44, 0x01, 0]); // min code size 2, clear + end, terminator
    gif.push(0x3B);
    gif
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
    let mut seg = vec![0xFF, marker];
    seg.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    seg.extend_from_slice(body);
    seg
}

/// A non-sRGB ICC profile of `len` bytes, split into APP2 chunks as the ICC spec says.
pub(crate) fn icc_segments(len: usize) -> (Vec<u8>, Vec<u8>) {
    let mut icc = b"desc Display P3 ".to_vec();
    icc.resize(len, 0x5A);
    let chunks: Vec<&[u8]> = icc.chunks(65_000).collect();
    let mut segs = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        let body = [
            b"ICC_PROFILE\0".as_slice(),
            &[i as u8 + 1, chunks.len() as u8],
            c,
        ]
        .concat();
        segs.extend_from_slice(&segment(0xE2, &body));
    }
    (icc, segs)
}

#[test]
fn a_gif_with_a_1x1_screen_and_a_144_megapixel_frame_is_refused_from_the_header() {
    // Arrange
    let input = gif_with_frame(1, 12_000, 12_000);
    let started = Instant::now();

    // Act
    let probed = probe(&input, &Limits::default());
    let processed = process(
        &input,
        &plan(vec![target("t", 10, 10, Fit::Inside, OutputFormat::Png)]),
    );

    // Assert
    for result in [probed.map(|_| ()), processed.map(|_| ())] {
        let err = result.unwrap_err();
        assert!(matches!(err, ImagingError::TooLarge { .. }), "{err:?}");
        assert!(err.to_string().contains("144000000"), "{err}");
    }
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn a_gif_frame_wider_than_the_width_limit_is_refused_even_when_the_screen_is_small() {
    // Arrange
    let input = gif_with_frame(16, 2_000, 10);
    let limits = Limits {
        max_width: 1_000,
        ..Limits::default()
    };

    // Act
    let err = probe(&input, &limits).unwrap_err();

    // Assert
    assert!(err.to_string().contains("2000"), "{err}");
}

#[test]
fn no_output_contains_mpf_data_or_anything_appended_after_the_image_end() {
    // Arrange: a JPEG that already fits the box (so its bytes are reused), with an MPF APP2
    // segment, then a secondary JPEG holding GPS, a Motion Photo video and an 8 MiB payload
    // appended after EOI; a PNG and a WebP with the same trailer.
    let secondary = with_segment(&jpeg(&gradient(64, 48), 80), &exif_app1(1, None));
    let mut trailer = secondary;
    trailer.extend_from_slice(b"\0\0\0\x18ftypmp42MOTIONPHOTO");
    let mut payload = vec![0x42; 8 << 20];
    payload.extend_from_slice(b"TRAILERPROBE");
    trailer.extend_from_slice(&payload);
    let mpf = segment(0xE2, b"MPF\0MM\0\x2a\0\0\0\x08MPFPROBE");
    let jpeg_in = [
        with_segment(&jpeg(&gradient(300, 200), 85), &mpf),
        trailer.clone(),
    ]
    .concat();
    let png_in = [png_rgb(&gradient(300, 200)), trailer.clone()].concat();
    let webp = encoded(
        &image::DynamicImage::ImageRgb8(gradient(300, 200)),
        image::ImageFormat::WebP,
    );
    let webp_in = [webp, trailer].concat();
    let p = plan(vec![
        target("same", 400, 400, Fit::Inside, OutputFormat::Original),
        target("small", 100, 100, Fit::Inside, OutputFormat::Original),
        target(
            "thumb",
            50,
            50,
            Fit::Cover {
                anchor: Anchor::Centre,
            },
            OutputFormat::Original,
        ),
    ]);

    for (name, input) in [("jpeg", jpeg_in), ("png", png_in), ("webp", webp_in)] {
        // Act
        let out = process(&input, &p).unwrap();

        // Assert
        for o in &out.outputs {
            for probe in [
                &b"TRAILERPROBE"[..],
                b"MOTIONPHOTO",
                b"GPSMARKER",
                b"MPFPROBE",
            ] {
                assert!(
                    !contains(&o.bytes, probe),
                    "{name} {}: {} reached the output",
                    o.label,
                    String::from_utf8_lossy(probe)
                );
            }
            assert!(
                o.bytes.len() < 1 << 20,
                "{name} {}: {} bytes",
                o.label,
                o.bytes.len()
            );
            decode_rgba(&o.bytes);
        }
    }
}

#[test]
fn an_icc_profile_over_the_carried_bound_is_dropped_with_a_warning() {
    // Arrange: a 1 MB non-sRGB profile (16 APP2 chunks); one output reuses the original.
    let (icc, segments) = icc_segments(1_000_000);
    let input = with_segment(&jpeg(&gradient(300, 200), 85), &segments);
    let p = plan(vec![
        target("same", 400, 400, Fit::Inside, OutputFormat::Original),
        target("jpeg", 100, 100, Fit::Inside, OutputFormat::Jpeg),
        target("png", 100, 100, Fit::Inside, OutputFormat::Png),
    ]);

    // Act
    let out = process(&input, &p).unwrap();

    // Assert
    for o in &out.outputs {
        assert!(
            !contains(&o.bytes, &icc[..64]) && !contains(&o.bytes, b"ICC_PROFILE"),
            "{}: the oversized profile was carried",
            o.label
        );
        assert!(
            o.bytes.len() < 100_000,
            "{}: {} bytes",
            o.label,
            o.bytes.len()
        );
    }
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("ICC") && w.contains("1000000")),
        "{:?}",
        out.warnings
    );
}

#[test]
fn a_reused_jpeg_keeps_only_the_segments_we_choose() {
    // Arrange: every kind of segment an uploader can add before the frame.
    let base = jpeg(&gradient(300, 200), 85);
    let mut jfif_thumb = b"JFIF\0\x01\x02\0\0\x01\0\x01\x02\x02".to_vec();
    jfif_thumb.extend_from_slice(&[0x77; 12]); // a 2x2 RGB thumbnail
    let extra = [
        segment(0xE0, &jfif_thumb),
        segment(
            0xE1,
            b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>XMPPROBE</x:xmpmeta>",
        ),
        segment(0xE3, b"META\0PRIVPROBE"),
        segment(0xEC, b"Ducky\0PRIVPROBE"),
        segment(0xED, b"Photoshop 3.0\0IPTCPROBE"),
        segment(0xFE, b"COMPROBE"),
        segment(0xEE, b"Adobe\0\x64\0\0\0\0\x01"),
    ]
    .concat();
    let input = [&base[..2], &extra, &base[2..]].concat();
    let p = plan(vec![target(
        "same",
        400,
        400,
        Fit::Inside,
        OutputFormat::Original,
    )]);

    // Act
    let out = process(&input, &p).unwrap();

    // Assert
    let bytes = &out.outputs[0].bytes;
    assert!(out.outputs[0].reused_original);
    for probe in [
        &b"XMPPROBE"[..],
        b"PRIVPROBE",
        b"IPTCPROBE",
        b"COMPROBE",
        &[0x77; 12],
    ] {
        assert!(
            !contains(bytes, probe),
            "{} leaked",
            String::from_utf8_lossy(probe)
        );
    }
    assert!(
        contains(bytes, b"Adobe\0"),
        "APP14 (colour transform) must stay"
    );
    assert_eq!(decode_rgba(bytes), decode_rgba(&base));
}

#[test]
fn a_reused_png_keeps_only_the_chunks_we_choose() {
    // Arrange: a private chunk, a C2PA-like chunk and an APNG control chunk after IHDR.
    let png = png_rgb(&gradient(50, 40));
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        let crc = crc32(&c[4..]);
        c.extend_from_slice(&crc.to_be_bytes());
        c
    };
    let extra = [
        chunk(b"prVt", b"PRIVPROBE"),
        chunk(b"caBX", b"C2PAPROBE"),
        chunk(b"gAMA", &45_455u32.to_be_bytes()),
    ]
    .concat();
    let input = [&png[..33], &extra, &png[33..]].concat();
    let p = plan(vec![target(
        "same",
        100,
        100,
        Fit::Inside,
        OutputFormat::Original,
    )]);

    // Act
    let out = process(&input, &p).unwrap();

    // Assert
    let bytes = &out.outputs[0].bytes;
    assert!(out.outputs[0].reused_original);
    assert!(!contains(bytes, b"PRIVPROBE") && !contains(bytes, b"C2PAPROBE"));
    assert!(contains(bytes, b"gAMA"), "rendering chunks stay");
}

//! Input format coverage, output encodings and alpha handling.

use image::DynamicImage;

use super::*;
use crate::imaging::{ImageFormat, process, sniff};

fn one_box(format: OutputFormat) -> Plan {
    plan(vec![target("t", 40, 40, Fit::Inside, format)])
}

#[test]
fn sniff_recognises_each_supported_signature_and_nothing_else() {
    // Arrange
    let img = DynamicImage::ImageRgb8(gradient(8, 8));
    let cases = [
        (jpeg(&gradient(8, 8), 80), Some(ImageFormat::Jpeg)),
        (png_rgb(&gradient(8, 8)), Some(ImageFormat::Png)),
        (
            encoded(&img, image::ImageFormat::Gif),
            Some(ImageFormat::Gif),
        ),
        (
            encoded(&img, image::ImageFormat::WebP),
            Some(ImageFormat::WebP),
        ),
        (
            encoded(&img, image::ImageFormat::Bmp),
            Some(ImageFormat::Bmp),
        ),
        (
            encoded(&img, image::ImageFormat::Tiff),
            Some(ImageFormat::Tiff),
        ),
        (b"BMhello, this is text".to_vec(), None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(), None),
        (Vec::new(), None),
    ];

    for (bytes, want) in cases {
        // Act / Assert
        assert_eq!(sniff(&bytes), want);
    }
}

#[test]
fn every_jpeg_variant_decodes_and_resizes() {
    // Arrange
    let (w, h) = (120usize, 90usize);
    let rgb = gradient(w as u32, h as u32).into_raw();
    let gray: Vec<u8> = rgb.chunks(3).map(|p| p[0]).collect();
    let cmyk: Vec<u8> = rgb
        .chunks(3)
        .flat_map(|p| [255 - p[0], 255 - p[1], 255 - p[2], 0])
        .collect();
    use mozjpeg::ColorSpace::{JCS_CMYK, JCS_GRAYSCALE, JCS_RGB};
    let dims = (w, h);
    let variants = [
        (
            "baseline 4:2:0",
            compressed_jpeg(&rgb, dims, JCS_RGB, (2, 2), false, 90),
        ),
        (
            "baseline 4:2:2",
            compressed_jpeg(&rgb, dims, JCS_RGB, (2, 1), false, 90),
        ),
        (
            "baseline 4:4:4",
            compressed_jpeg(&rgb, dims, JCS_RGB, (1, 1), false, 90),
        ),
        (
            "progressive",
            compressed_jpeg(&rgb, dims, JCS_RGB, (2, 2), true, 90),
        ),
        (
            "grayscale",
            compressed_jpeg(&gray, dims, JCS_GRAYSCALE, (1, 1), false, 90),
        ),
        (
            "cmyk",
            compressed_jpeg(&cmyk, dims, JCS_CMYK, (1, 1), false, 90),
        ),
    ];

    for (name, input) in variants {
        // Act
        let out = process(&input, &one_box(OutputFormat::Original))
            .unwrap_or_else(|e| panic!("{name}: {e}"));

        // Assert
        let o = &out.outputs[0];
        assert_eq!(
            (o.width, o.height, o.format),
            (40, 30, ImageFormat::Jpeg),
            "{name}"
        );
        assert_eq!(decode_rgba(&o.bytes).dimensions(), (40, 30), "{name}");
    }
}

#[test]
fn png_variants_decode_and_keep_their_format() {
    // Arrange
    let rgb = DynamicImage::ImageRgb8(gradient(100, 60));
    let variants = [
        ("rgb8", rgb.clone()),
        ("rgb16", DynamicImage::ImageRgb16(rgb.to_rgb16())),
        ("gray8", DynamicImage::ImageLuma8(rgb.to_luma8())),
        (
            "gray-alpha",
            DynamicImage::ImageLumaA8(rgb.to_luma_alpha8()),
        ),
        ("rgba16", DynamicImage::ImageRgba16(rgb.to_rgba16())),
    ];

    for (name, img) in variants {
        let input = encoded(&img, image::ImageFormat::Png);

        // Act
        let out = process(&input, &one_box(OutputFormat::Original)).unwrap();

        // Assert
        let o = &out.outputs[0];
        assert_eq!(
            (o.width, o.height, o.format),
            (40, 24, ImageFormat::Png),
            "{name}"
        );
    }
}

#[test]
fn gif_bmp_and_tiff_become_png_and_webp_stays_webp() {
    // Arrange
    let img = DynamicImage::ImageRgb8(gradient(100, 60));
    let cases = [
        (image::ImageFormat::Gif, ImageFormat::Png),
        (image::ImageFormat::Bmp, ImageFormat::Png),
        (image::ImageFormat::Tiff, ImageFormat::Png),
        (image::ImageFormat::WebP, ImageFormat::WebP),
    ];

    for (input_format, want) in cases {
        let input = encoded(&img, input_format);

        // Act
        let out = process(&input, &one_box(OutputFormat::Original)).unwrap();

        // Assert
        let o = &out.outputs[0];
        assert_eq!(
            (o.width, o.height, o.format),
            (40, 24, want),
            "{input_format:?}"
        );
        assert_eq!(decode_rgba(&o.bytes).dimensions(), (40, 24));
    }
}

#[test]
fn lossy_and_lossless_webp_with_alpha_decode() {
    // Arrange
    let rgba = RgbaImage::from_fn(64, 64, |x, y| {
        image::Rgba([x as u8 * 4, y as u8 * 4, 90, if x < 32 { 255 } else { 0 }])
    });
    let lossy = webp::Encoder::from_rgba(rgba.as_raw(), 64, 64)
        .encode(90.0)
        .to_vec();
    let lossless = webp::Encoder::from_rgba(rgba.as_raw(), 64, 64)
        .encode_lossless()
        .to_vec();

    for input in [lossy, lossless] {
        // Act
        let out = process(&input, &one_box(OutputFormat::WebPLossless)).unwrap();

        // Assert
        let img = decode_rgba(&out.outputs[0].bytes);
        assert_eq!(img.dimensions(), (40, 40));
        assert!(img.get_pixel(5, 20)[3] > 250, "left half stays opaque");
        assert!(img.get_pixel(35, 20)[3] < 5, "right half stays transparent");
    }
}

#[test]
fn alpha_is_flattened_onto_the_background_for_jpeg() {
    // Arrange: fully transparent left half.
    let rgba = RgbaImage::from_fn(80, 80, |x, _| {
        if x < 40 {
            image::Rgba([0, 255, 0, 0])
        } else {
            image::Rgba([200, 0, 0, 255])
        }
    });
    let mut plan = one_box(OutputFormat::Jpeg);
    plan.encode.background_rgb = [0, 0, 255];

    // Act
    let out = process(&png_rgba(&rgba), &plan).unwrap();

    // Assert
    let img = decode_rgba(&out.outputs[0].bytes);
    let left = img.get_pixel(5, 20);
    assert!(
        left[2] > 230 && left[1] < 30,
        "transparent area shows the background: {left:?}"
    );
    let right = img.get_pixel(35, 20);
    assert!(
        right[0] > 170 && right[2] < 40,
        "opaque area keeps its colour: {right:?}"
    );
}

#[test]
fn premultiplied_resize_keeps_hidden_colours_of_transparent_pixels_out() {
    // Arrange: transparent pixels hold pure green; opaque ones are red, in a fine checker.
    let rgba = RgbaImage::from_fn(90, 90, |x, y| {
        if (x / 3 + y / 3) % 2 == 0 {
            image::Rgba([0, 255, 0, 0])
        } else {
            image::Rgba([255, 0, 0, 255])
        }
    });

    // Act
    let out = process(&png_rgba(&rgba), &one_box(OutputFormat::Png)).unwrap();

    // Assert
    let img = decode_rgba(&out.outputs[0].bytes);
    for px in img.pixels().filter(|p| p[3] > 16) {
        assert!(px[1] < 20, "green leaked into a visible pixel: {px:?}");
    }
}

#[test]
fn webp_lossy_and_jpeg_outputs_respect_quality() {
    // Arrange
    let input = png_rgb(&gradient(300, 200));
    let mut low = plan(vec![target("t", 300, 200, Fit::Inside, OutputFormat::WebP)]);
    low.encode.webp_quality = 10.0;
    let mut high = low.clone();
    high.encode.webp_quality = 95.0;

    // Act
    let small = process(&input, &low).unwrap().outputs[0].bytes.len();
    let big = process(&input, &high).unwrap().outputs[0].bytes.len();

    // Assert
    assert!(
        small < big,
        "quality 10 ({small} B) should be smaller than 95 ({big} B)"
    );
}

#[test]
fn an_interlaced_png_decodes_like_the_same_png_without_interlace() {
    // Arrange
    let img = gradient(100, 60);
    let plain = png_rgb(&img);
    let interlaced = adam7_png(&img);

    // Act
    let from_plain = process(&plain, &one_box(OutputFormat::Original)).unwrap();
    let from_interlaced = process(&interlaced, &one_box(OutputFormat::Original)).unwrap();

    // Assert
    let (a, b) = (&from_plain.outputs[0], &from_interlaced.outputs[0]);
    assert_eq!((b.width, b.height, b.format), (40, 24, ImageFormat::Png));
    assert_eq!(decode_rgba(&a.bytes), decode_rgba(&b.bytes));
}

#[test]
fn a_12_bit_jpeg_is_unsupported_and_says_so() {
    // Arrange: a valid JPEG whose frame header declares 12-bit samples.
    let mut input = jpeg(&gradient(64, 48), 90);
    let sof = input
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a baseline frame header");
    input[sof + 4] = 12;

    // Act
    let result = process(&input, &one_box(OutputFormat::Original));

    // Assert
    match result {
        Err(crate::imaging::ImagingError::Unsupported { reason }) => {
            assert!(reason.contains("12-bit"), "{reason}")
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

/// An RGB8 PNG with Adam7 interlacing, written by hand (the `png` crate cannot write one):
/// each pass's rows with filter 0, in one stored (uncompressed) zlib stream.
fn adam7_png(img: &RgbImage) -> Vec<u8> {
    const PASSES: [(u32, u32, u32, u32); 7] = [
        (0, 0, 8, 8),
        (4, 0, 8, 8),
        (0, 4, 4, 8),
        (2, 0, 4, 4),
        (0, 2, 2, 4),
        (1, 0, 2, 2),
        (0, 1, 1, 2),
    ];
    let (w, h) = img.dimensions();
    let mut raw = Vec::new();
    for (x0, y0, dx, dy) in PASSES {
        if x0 >= w || y0 >= h {
            continue;
        }
        for y in (y0..h).step_by(dy as usize) {
            raw.push(0);
            for x in (x0..w).step_by(dx as usize) {
                raw.extend_from_slice(&img.get_pixel(x, y).0);
            }
        }
    }
    assert!(raw.len() < 65536, "one stored deflate block");
    let mut zlib = vec![0x78, 0x01, 0x01];
    let len = raw.len() as u16;
    zlib.extend_from_slice(&len.to_le_bytes());
    zlib.extend_from_slice(&(!len).to_le_bytes());
    zlib.extend_from_slice(&raw);
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());

    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 1]); // 8-bit RGB, deflate, filter 0, Adam7
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, body) in [(b"IHDR", ihdr), (b"IDAT", zlib), (b"IEND", Vec::new())] {
        png.extend_from_slice(&(body.len() as u32).to_be_bytes());
        let start = png.len();
        png.extend_from_slice(kind);
        png.extend_from_slice(&body);
        let crc = crc32(&png[start..]);
        png.extend_from_slice(&crc.to_be_bytes());
    }
    png
}

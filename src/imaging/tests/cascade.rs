//! The star cascade against direct resizes, cover crops (centre and smart), output sizes,
//! the DCT decode scale, and blur.

use super::*;
use crate::imaging::geometry::{fit_inside, jpeg_eighths};
use crate::imaging::plan::DECODE_HEADROOM;
use crate::imaging::{Anchor, blur, process};

/// Text-like detail: thin dark strokes on white, the case where cascades lose most.
fn text_like(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let stroke = (x % 13 < 2 && (y / 17) % 3 != 0) || (y % 11 == 0 && (x / 23) % 2 == 0);
        if stroke {
            image::Rgb([20, 20, 30])
        } else {
            image::Rgb([250, 250, 245])
        }
    })
}

#[test]
fn cascaded_outputs_match_direct_resizes() {
    // Arrange
    let input = png_rgb(&text_like(1600, 1200));
    let boxes = [
        ("large", 960, 720),
        ("medium", 400, 300),
        ("small", 200, 150),
        ("thumb", 100, 100),
    ];
    let all = plan(
        boxes
            .iter()
            .map(|&(l, w, h)| target(l, w, h, Fit::Inside, OutputFormat::Png))
            .collect(),
    );

    // Act
    let cascaded = process(&input, &all).unwrap();

    // Assert
    for (i, &(l, w, h)) in boxes.iter().enumerate().skip(1) {
        let direct = process(
            &input,
            &plan(vec![target(l, w, h, Fit::Inside, OutputFormat::Png)]),
        )
        .unwrap();
        let db = psnr(
            &decode_rgba(&cascaded.outputs[i].bytes),
            &decode_rgba(&direct.outputs[0].bytes),
        );
        assert!(db > 30.0, "{l}: cascade vs direct only {db:.1} dB");
    }
}

#[test]
fn outputs_come_back_in_plan_order_with_pillow_sizes() {
    // Arrange
    let input = jpeg(&gradient(1000, 667), 85);
    let p = plan(vec![
        target("small", 400, 300, Fit::Inside, OutputFormat::Jpeg),
        target("large", 1920, 1080, Fit::Inside, OutputFormat::Jpeg),
        target(
            "thumb",
            200,
            200,
            Fit::Cover {
                anchor: Anchor::Centre,
            },
            OutputFormat::Jpeg,
        ),
    ]);

    // Act
    let out = process(&input, &p).unwrap();

    // Assert
    let got: Vec<_> = out
        .outputs
        .iter()
        .map(|o| (o.label.as_str(), o.width, o.height))
        .collect();
    assert_eq!(
        got,
        [
            ("small", 400, 267),
            ("large", 1000, 667),
            ("thumb", 200, 200)
        ]
    );
    assert!(
        out.outputs[1].reused_original,
        "a fitting JPEG is passed through"
    );
}

#[test]
fn fit_inside_rounds_like_pillow_and_never_enlarges() {
    assert_eq!(fit_inside(4032, 3024, 1920, 1080), (1440, 1080));
    assert_eq!(fit_inside(5141, 3434, 1920, 1080), (1617, 1080));
    assert_eq!(fit_inside(3264, 1836, 200, 200), (200, 113));
    assert_eq!(fit_inside(300, 200, 1920, 1080), (300, 200));
    assert_eq!(fit_inside(5000, 10, 100, 100), (100, 1));
}

#[test]
fn the_decode_scale_keeps_the_headroom_over_the_largest_output() {
    assert_eq!(jpeg_eighths(1440.0 / 4032.0, 2.0), 8);
    assert_eq!(jpeg_eighths(800.0 / 4032.0, 2.0), 4);
    assert_eq!(jpeg_eighths(200.0 / 4032.0, 2.0), 1);
    assert_eq!(jpeg_eighths(1.0, 2.0), 8);
    // The bench photos: 12 MP to 1440x1080 decodes at 1/2, 8 MP at full size.
    assert_eq!(jpeg_eighths(1440.0 / 4032.0, DECODE_HEADROOM), 4);
    assert_eq!(jpeg_eighths(1440.0 / 3264.0, DECODE_HEADROOM), 8);
}

#[test]
fn a_dct_scaled_decode_keeps_detail_where_a_full_decode_puts_it() {
    // Arrange: an odd width, so the 1/2-scale raster's last column covers half a pixel, and
    // a 3 px dark line near the right edge, where a misplaced raster shifts it most.
    let (w, h, line_x) = (2601u32, 1801u32, 2500u32);
    let img = RgbImage::from_fn(w, h, |x, _| {
        if (line_x..line_x + 3).contains(&x) {
            image::Rgb([0, 0, 0])
        } else {
            image::Rgb([255, 255, 255])
        }
    });
    let input = jpeg(&img, 95);
    assert_eq!(
        jpeg_eighths(1000.0 / f64::from(w), DECODE_HEADROOM),
        4,
        "premise: decoded at 1/2"
    );
    let p = plan(vec![target(
        "large",
        1000,
        700,
        Fit::Inside,
        OutputFormat::Png,
    )]);

    // Act
    let out = process(&input, &p).unwrap();

    // Assert: the line's centre (darkness-weighted) lands where the source geometry puts it.
    let large = decode_rgba(&out.outputs[0].bytes);
    let scale = f64::from(large.width()) / f64::from(w);
    let expected = (f64::from(line_x) + 1.5) * scale - 0.5;
    let y = large.height() / 2;
    let (mut weight, mut moment) = (0.0, 0.0);
    for x in (expected as u32 - 8)..=(expected as u32 + 8) {
        let dark = 255.0 - f64::from(large.get_pixel(x, y)[1]);
        weight += dark;
        moment += dark * f64::from(x);
    }
    let centre = moment / weight;
    assert!(
        (centre - expected).abs() < 0.15,
        "line at {centre:.2}, expected {expected:.2}"
    );
}

#[test]
fn cover_fills_the_box_exactly_and_centre_crops() {
    // Arrange: left third red, middle green, right third blue.
    let img = RgbImage::from_fn(300, 100, |x, _| {
        image::Rgb(match x / 100 {
            0 => [255, 0, 0],
            1 => [0, 255, 0],
            _ => [0, 0, 255],
        })
    });
    let p = plan(vec![target(
        "thumb",
        50,
        50,
        Fit::Cover {
            anchor: Anchor::Centre,
        },
        OutputFormat::Png,
    )]);

    // Act
    let out = process(&png_rgb(&img), &p).unwrap();

    // Assert
    let thumb = decode_rgba(&out.outputs[0].bytes);
    assert_eq!(thumb.dimensions(), (50, 50));
    assert!(
        thumb.pixels().all(|p| p[1] > 200 && p[0] < 40 && p[2] < 40),
        "only the green middle is kept"
    );
}

#[test]
fn smart_anchor_keeps_the_detailed_region() {
    // Arrange: flat grey except a busy patch near the right edge.
    let img = RgbImage::from_fn(400, 100, |x, y| {
        if x >= 300 && ((x / 3 + y / 3) % 2 == 0) {
            image::Rgb([250, 30, 30])
        } else {
            image::Rgb([120, 120, 120])
        }
    });
    let smart = plan(vec![target(
        "t",
        50,
        50,
        Fit::Cover {
            anchor: Anchor::Smart,
        },
        OutputFormat::Png,
    )]);
    let centre = plan(vec![target(
        "t",
        50,
        50,
        Fit::Cover {
            anchor: Anchor::Centre,
        },
        OutputFormat::Png,
    )]);
    let busy = |bytes: &[u8]| decode_rgba(bytes).pixels().filter(|p| p[0] > 160).count();

    // Act
    let smart_out = process(&png_rgb(&img), &smart).unwrap();
    let centre_out = process(&png_rgb(&img), &centre).unwrap();

    // Assert
    assert_eq!(busy(&centre_out.outputs[0].bytes), 0);
    assert!(
        busy(&smart_out.outputs[0].bytes) > 500,
        "smart crop missed the detail"
    );
}

#[test]
fn a_small_image_is_never_enlarged_by_cover() {
    // Arrange
    let input = png_rgb(&gradient(120, 80));
    let p = plan(vec![target(
        "t",
        200,
        200,
        Fit::Cover {
            anchor: Anchor::Centre,
        },
        OutputFormat::Png,
    )]);

    // Act
    let out = process(&input, &p).unwrap();

    // Assert
    assert_eq!((out.outputs[0].width, out.outputs[0].height), (120, 80));
}

#[test]
fn blur_keeps_size_and_format_and_removes_detail() {
    // Arrange
    let img = text_like(320, 240);
    let input = jpeg(&img, 90);

    // Act
    let out = blur(&input, 20.0, &EncodeOptions::default()).unwrap();

    // Assert
    assert_eq!(
        (out.width, out.height, out.format),
        (320, 240, crate::imaging::ImageFormat::Jpeg)
    );
    let blurred = decode_rgba(&out.bytes);
    let spread = |p: &image::Rgba<u8>| p[0];
    let (lo, hi) = blurred
        .pixels()
        .map(spread)
        .fold((255, 0), |(lo, hi), v| (lo.min(v), hi.max(v)));
    assert!(hi - lo < 60, "strokes survived the blur: range {lo}..{hi}");
}

#[test]
fn chroma_is_replicated_only_when_every_output_shrinks_the_decode() {
    use crate::imaging::geometry::chroma_replication_is_invisible as invisible;
    assert!(
        invisible(1440.0 / 4032.0, 4),
        "12 MP to 1440x1080 from a 1/2 decode"
    );
    assert!(invisible(1440.0 / 3264.0, 8));
    assert!(
        !invisible(1440.0 / 1600.0, 8),
        "1.1x: replication would show"
    );
    assert!(!invisible(0.3, 2), "a 1/4 decode kept little headroom");
}

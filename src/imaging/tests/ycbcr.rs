//! The YCbCr path against the RGB path: the same outputs within JPEG's own noise for every
//! sampling, decode scale, orientation and odd size, and the plan's choice of path.

use mozjpeg::ColorSpace::{JCS_CMYK, JCS_GRAYSCALE, JCS_RGB};

use super::*;
use crate::imaging::header;
use crate::imaging::plan::prepare;
use crate::imaging::ycbcr::RGB_ONLY;
use crate::imaging::{Anchor, Processed, process, process_summarised};

/// The outputs of both paths agree this closely (JPEG q95 of nearly equal resizes).
const MIN_AGREEMENT_DB: f64 = 40.0;

fn both_paths(input: &[u8], plan: &Plan) -> (Processed, Processed) {
    assert!(
        takes_planar_path(input, plan),
        "the plan must choose the YCbCr path"
    );
    let planar = process(input, plan).unwrap();
    RGB_ONLY.set(true);
    let rgb = process(input, plan);
    RGB_ONLY.set(false);
    (planar, rgb.unwrap())
}

fn takes_planar_path(input: &[u8], plan: &Plan) -> bool {
    prepare(header::read(input, &plan.limits).unwrap(), plan).planar
}

fn assert_agree(input: &[u8], plan: &Plan, case: &str) {
    let (planar, rgb) = both_paths(input, plan);
    for (p, r) in planar.outputs.iter().zip(&rgb.outputs) {
        assert_eq!((p.width, p.height), (r.width, r.height), "{case}");
        let db = psnr(&decode_rgba(&p.bytes), &decode_rgba(&r.bytes));
        assert!(db > MIN_AGREEMENT_DB, "{case} {}: {db:.1} dB", p.label);
        // Never further from a Lanczos resize of the decoded source than the RGB path.
        if plan.targets.iter().all(|t| t.fit == Fit::Inside) && !case.contains("orient") {
            let reference = image::load_from_memory(input)
                .unwrap()
                .resize_exact(p.width, p.height, image::imageops::FilterType::Lanczos3)
                .to_rgba8();
            let planar_db = psnr(&decode_rgba(&p.bytes), &reference);
            let rgb_db = psnr(&decode_rgba(&r.bytes), &reference);
            // 0.2 dB: at a 1/8 decode of 4:4:0 this synthetic texture measured -0.14 dB.
            assert!(
                planar_db > rgb_db - 0.2,
                "{case}: {planar_db:.2} vs {rgb_db:.2} dB"
            );
        }
    }
}

fn jpeg_plan(targets: Vec<Target>) -> Plan {
    Plan {
        encode: EncodeOptions {
            jpeg_quality: 95,
            ..EncodeOptions::default()
        },
        ..plan(targets)
    }
}

/// A 1001x667 photo-like source (odd both ways) with `chroma` samples of that many pixels:
/// colour gradients under a fine luma texture. (`gradient`'s texture is in blue alone, a
/// chroma pattern at the chroma grid's Nyquist rate, which the two paths blur differently:
/// 34 dB apart at a 0.9x shrink, the YCbCr path 5 dB nearer a Lanczos reference.)
fn source(input: mozjpeg::ColorSpace, chroma: (u8, u8)) -> Vec<u8> {
    let (w, h) = (1001, 667);
    let img = RgbImage::from_fn(w, h, |x, y| {
        let texture = ((x / 3 + y / 3) % 2) * 40;
        image::Rgb([
            (x * 200 / w + texture) as u8,
            (y * 200 / h + texture) as u8,
            (120 + texture) as u8,
        ])
    });
    let pixels = match input {
        JCS_GRAYSCALE => image::DynamicImage::ImageRgb8(img.clone())
            .to_luma8()
            .into_raw(),
        _ => img.into_raw(),
    };
    compressed_jpeg(&pixels, (1001, 667), input, chroma, false, 92)
}

#[test]
fn both_paths_agree_for_every_sampling_and_decode_scale() {
    let samplings = [
        ("4:2:0", JCS_RGB, (2, 2)),
        ("4:2:2", JCS_RGB, (2, 1)),
        ("4:4:0", JCS_RGB, (1, 2)),
        ("4:4:4", JCS_RGB, (1, 1)),
        ("grey", JCS_GRAYSCALE, (1, 1)),
    ];
    for (name, colour, chroma) in samplings {
        let input = source(colour, chroma);
        // One target per plan, so each decodes at its own DCT scale: 8/8, 4/8, 2/8, 1/8.
        for side in [901, 401, 151, 99] {
            let plan = jpeg_plan(vec![target(
                "t",
                side,
                side,
                Fit::Inside,
                OutputFormat::Jpeg,
            )]);
            assert_agree(&input, &plan, &format!("{name} at {side}"));
        }
    }
}

/// Three fit-inside sizes (odd ones among them) and a centred cover crop, in `format`.
fn sizes_and_a_cover(format: OutputFormat) -> Vec<Target> {
    let centre = Fit::Cover {
        anchor: Anchor::Centre,
    };
    vec![
        target("large", 777, 555, Fit::Inside, format),
        target("medium", 301, 201, Fit::Inside, format),
        target("small", 99, 75, Fit::Inside, format),
        target("cover", 101, 61, centre, format),
    ]
}

#[test]
fn both_paths_agree_for_every_orientation_and_cover_crop() {
    for orientation in 1..=8u16 {
        let input = with_segment(&source(JCS_RGB, (2, 2)), &exif_app1(orientation, None));
        let plan = jpeg_plan(sizes_and_a_cover(OutputFormat::Jpeg));
        assert_agree(&input, &plan, &format!("orientation {orientation}"));
    }
}

#[test]
fn lossy_webp_from_planes_agrees_with_the_rgb_path_in_every_orientation_and_in_grey() {
    let colour = (1..=8u16).map(|o| (format!("orientation {o}"), JCS_RGB, o));
    let grey = std::iter::once(("grey".to_owned(), JCS_GRAYSCALE, 1));
    for (name, colour_space, orientation) in colour.chain(grey) {
        let input = with_segment(&source(colour_space, (2, 2)), &exif_app1(orientation, None));
        let plan = jpeg_plan(sizes_and_a_cover(OutputFormat::WebP));

        let (planar, rgb) = both_paths(&input, &plan);

        for (p, r) in planar.outputs.iter().zip(&rgb.outputs) {
            let case = format!("{name} {}", p.label);
            assert_eq!(&p.bytes[8..12], b"WEBP", "{case}");
            assert_eq!((p.width, p.height), (r.width, r.height), "{case}");
            let (p_pixels, r_pixels) = (decode_rgba(&p.bytes), decode_rgba(&r.bytes));
            // Two lossy encodes of nearly equal pictures (libwebp's own chroma averaging on
            // the RGB path, the resized chroma planes here).
            let db = psnr(&p_pixels, &r_pixels);
            assert!(db > 34.0, "{case}: {db:.1} dB");
            // VP8 codes limited-range YUV: full-range planes passed as they are would
            // stretch every colour away from the middle, a shift of several levels.
            for channel in 0..3 {
                let mean = |pixels: &image::RgbaImage| {
                    let sum: u64 = pixels.pixels().map(|px| u64::from(px[channel])).sum();
                    sum as f64 / (pixels.width() * pixels.height()) as f64
                };
                let shift = (mean(&p_pixels) - mean(&r_pixels)).abs();
                assert!(
                    shift < 1.0,
                    "{case} channel {channel}: mean moved {shift:.2}"
                );
            }
        }
    }
}

#[test]
fn a_smart_cover_crop_and_the_summary_work_from_planes() {
    let input = source(JCS_RGB, (2, 2));
    let smart = Fit::Cover {
        anchor: Anchor::Smart,
    };
    let plan = jpeg_plan(vec![
        target("medium", 400, 400, Fit::Inside, OutputFormat::Jpeg),
        target("square", 120, 120, smart, OutputFormat::Jpeg),
    ]);
    assert!(takes_planar_path(&input, &plan));

    let out = process_summarised(&input, &plan, &Default::default()).unwrap();
    RGB_ONLY.set(true);
    let rgb = process_summarised(&input, &plan, &Default::default());
    RGB_ONLY.set(false);

    assert_eq!((out.outputs[1].width, out.outputs[1].height), (120, 120));
    let (summary, rgb_summary) = (out.summary.unwrap(), rgb.unwrap().summary.unwrap());
    assert!(
        crate::imaging::phash_distance(summary.phash, rgb_summary.phash) <= 4,
        "{summary:?} vs {rgb_summary:?}"
    );
}

#[test]
fn a_truncated_jpeg_on_the_ycbcr_path_is_processed_with_the_warning() {
    let full = source(JCS_RGB, (2, 2));
    let truncated = &full[..full.len() * 2 / 3];
    let plan = jpeg_plan(vec![target("t", 300, 300, Fit::Inside, OutputFormat::Jpeg)]);
    assert!(takes_planar_path(truncated, &plan));

    let out = process(truncated, &plan).unwrap();

    assert_eq!(out.outputs.len(), 1);
    assert!(
        out.warnings.iter().any(|w| w.contains("Premature end")),
        "{:?}",
        out.warnings
    );
}

#[test]
fn the_plan_keeps_the_rgb_path_for_cmyk_png_rgb_jpeg_and_png_or_lossless_outputs() {
    let jpeg_out = jpeg_plan(vec![target("t", 100, 100, Fit::Inside, OutputFormat::Jpeg)]);
    let png_out = jpeg_plan(vec![
        target("t", 100, 100, Fit::Inside, OutputFormat::Jpeg),
        target("p", 50, 50, Fit::Inside, OutputFormat::Png),
    ]);
    let cmyk_pixels = vec![40u8; 64 * 48 * 4];
    let cmyk = compressed_jpeg(&cmyk_pixels, (64, 48), JCS_CMYK, (1, 1), false, 90);
    let png = png_rgba(&image::RgbaImage::new(64, 48));
    // Stored as R, G and B (libjpeg writes an Adobe marker with transform 0).
    let mut c = mozjpeg::Compress::new(JCS_RGB);
    c.set_color_space(JCS_RGB);
    c.set_size(64, 48);
    let mut started = c.start_compress(Vec::new()).unwrap();
    started.write_scanlines(gradient(64, 48).as_raw()).unwrap();
    let adobe_rgb = started.finish().unwrap();

    assert!(takes_planar_path(&source(JCS_RGB, (2, 2)), &jpeg_out));
    assert!(!takes_planar_path(&cmyk, &jpeg_out));
    assert!(!takes_planar_path(&png, &jpeg_out));
    assert!(!takes_planar_path(&source(JCS_RGB, (2, 2)), &png_out));
    let webp = |format| jpeg_plan(vec![target("w", 50, 50, Fit::Inside, format)]);
    assert!(takes_planar_path(
        &source(JCS_RGB, (2, 2)),
        &webp(OutputFormat::WebP)
    ));
    assert!(!takes_planar_path(
        &source(JCS_RGB, (2, 2)),
        &webp(OutputFormat::WebPLossless)
    ));
    assert!(!takes_planar_path(&adobe_rgb, &jpeg_out));
}

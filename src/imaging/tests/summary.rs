//! Placeholders and the perceptual hash as `process_summarised` makes them: from the job's
//! own rasters, in display orientation, alpha kept for the ThumbHash only; the hash survives
//! re-encoding and rescaling but tells different images apart.

use std::sync::atomic::AtomicBool;

use image::{DynamicImage, RgbImage, RgbaImage};

use super::*;
use crate::imaging::{Fit, OutputFormat, Processed, Summary, phash_distance, process_summarised};

/// A photo-like scene: smooth light, a few shapes with edges, mild texture.
fn scene(w: u32, h: u32, seed: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let s = seed as f32;
        let wave = ((fx * (3.0 + s) + fy * (2.0 + 0.5 * s)) * std::f32::consts::PI).sin();
        let disc = ((fx - 0.3 - 0.1 * s).powi(2) + (fy - 0.6).powi(2)) < 0.04;
        let noise = ((x * 7919 + y * 104_729 + seed * 13) % 23) as f32;
        let base = 110.0 + 70.0 * wave + noise;
        let (r, g, b) = match disc {
            true => (230.0, 200.0 - 20.0 * s, 40.0),
            false => (base, 0.8 * base + 20.0 * fy, 255.0 - base),
        };
        image::Rgb([r as u8, g as u8, b as u8])
    })
}

fn summarised(input: &[u8]) -> (Processed, Summary) {
    let plan = plan(vec![
        target("large", 1440, 1080, Fit::Inside, OutputFormat::Original),
        target("small", 400, 300, Fit::Inside, OutputFormat::Original),
    ]);
    let processed = process_summarised(input, &plan, &AtomicBool::new(false)).unwrap();
    let summary = processed.summary.clone().unwrap();
    (processed, summary)
}

fn phash_of(input: &[u8]) -> u64 {
    summarised(input).1.phash
}

#[test]
fn a_re_encoded_half_size_copy_has_a_perceptual_hash_within_8_bits() {
    let photo = scene(2000, 1500, 1);
    let copy = image::imageops::resize(&photo, 1000, 750, image::imageops::FilterType::Triangle);

    let original = phash_of(&jpeg(&photo, 90));
    let reencoded = phash_of(&jpeg(&copy, 60));

    let distance = phash_distance(original, reencoded);
    assert!(
        distance <= 8,
        "{original:016x} vs {reencoded:016x}: {distance} bits"
    );
}

#[test]
fn different_photos_have_perceptual_hashes_at_least_16_bits_apart() {
    let hashes: Vec<u64> = (0..4)
        .map(|seed| phash_of(&jpeg(&scene(1200, 900, seed), 85)))
        .collect();

    for (i, a) in hashes.iter().enumerate() {
        for b in &hashes[i + 1..] {
            let distance = phash_distance(*a, *b);
            assert!(distance >= 16, "{a:016x} vs {b:016x}: only {distance} bits");
        }
    }
}

#[test]
fn the_summary_is_asked_for_and_plain_process_leaves_it_out() {
    let input = jpeg(&scene(640, 480, 2), 85);
    let plan = plan(vec![target(
        "s",
        200,
        200,
        Fit::Inside,
        OutputFormat::Original,
    )]);

    let plain = crate::imaging::process(&input, &plan).unwrap();
    let (_, summary) = summarised(&input);

    assert_eq!(plain.summary, None);
    assert_eq!(summary.phash_hex().len(), 16);
    assert!(summary.placeholder.color.starts_with('#') && summary.placeholder.color.len() == 7);
}

#[test]
fn thumbhash_keeps_alpha_while_the_colour_is_composited_on_the_background() {
    // Opaque red on the left half, fully transparent on the right; outputs are JPEG only,
    // which must not cost the ThumbHash its alpha.
    let img = RgbaImage::from_fn(400, 300, |x, _| match x < 200 {
        true => image::Rgba([220, 20, 20, 255]),
        false => image::Rgba([0, 0, 0, 0]),
    });
    let plan = plan(vec![target("s", 200, 200, Fit::Inside, OutputFormat::Jpeg)]);

    let processed = process_summarised(&png_rgba(&img), &plan, &AtomicBool::new(false)).unwrap();
    let summary = processed.summary.unwrap();

    let hash = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        &summary.placeholder.thumbhash,
    )
    .unwrap();
    let (_, _, _, alpha) = thumbhash::thumb_hash_to_average_rgba(&hash).unwrap();
    assert!((0.35..0.65).contains(&alpha), "average alpha {alpha}");
    // Half red (220, 20, 20), half white background.
    assert_eq!(summary.placeholder.color, "#ee8a8a");
}

#[test]
fn the_summary_is_upright_for_a_rotated_photo() {
    // Stored 300x200 with orientation 6 (displayed 200x300): left stored half dark.
    let stored = RgbImage::from_fn(300, 200, |x, _| match x < 150 {
        true => image::Rgb([10, 10, 10]),
        false => image::Rgb([240, 240, 240]),
    });
    let rotated = with_segment(&jpeg(&stored, 90), &exif_app1(6, None));
    let upright = DynamicImage::ImageRgb8(stored).rotate90().to_rgb8();

    let from_tag = phash_of(&rotated);
    let from_pixels = phash_of(&jpeg(&upright, 90));

    assert!(phash_distance(from_tag, from_pixels) <= 4);
}

#[test]
fn a_thumbnail_job_summarises_its_square_crop_not_the_whole_image() {
    let photo = jpeg(&scene(1600, 1200, 1), 90);
    let thumbnail = plan(vec![square_thumbnail()]);

    let processed = process_summarised(&photo, &thumbnail, &AtomicBool::new(false)).unwrap();
    let whole = summarised(&photo).1;

    // BlurHash's first character is (x components - 1) + 9 * (y components - 1) in base 83:
    // `U` is 4x4 (a square), `L` 4x3 (the 4:3 photo).
    let blurhash = processed.summary.unwrap().placeholder.blurhash;
    assert!(blurhash.starts_with('U'), "{blurhash}");
    assert!(whole.placeholder.blurhash.starts_with('L'));
}

#[test]
fn a_thumbnail_cut_in_the_same_job_as_the_sizes_gets_its_own_squares_summary() {
    let photo = jpeg(&scene(1600, 1200, 1), 90);
    let both = plan(vec![
        target("medium", 800, 600, Fit::Inside, OutputFormat::Original),
        square_thumbnail(),
    ]);

    let processed = process_summarised(&photo, &both, &AtomicBool::new(false)).unwrap();

    // `L`: 4x3 components (the 4:3 photo); `U`: 4x4 (the square).
    let whole = processed.summary.unwrap().placeholder.blurhash;
    let cover = processed.cover_summary.unwrap().placeholder.blurhash;
    assert!(whole.starts_with('L'), "{whole}");
    assert!(cover.starts_with('U'), "{cover}");
}

/// The thumbnail route's target: a 200x200 centre crop in the source's format.
fn square_thumbnail() -> Target {
    target(
        "thumbnail",
        200,
        200,
        Fit::Cover {
            anchor: crate::imaging::Anchor::Centre,
        },
        OutputFormat::Original,
    )
}

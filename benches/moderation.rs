//! The built-in moderator's costs: loading the model (once per process) and judging one image
//! (decode of an 800x533 JPEG like the `medium` variant, 224x224 resize, inference), plus
//! the inference alone. `nice cargo bench --bench moderation`; needs `image-pipeline models
//! fetch` (the cache root from `MODERATION_MODEL_CACHE`, else the default cache).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use image_pipeline::moderation_model::{Classifier, default_cache_root, model_dir};
use std::path::PathBuf;

fn main() {
    divan::main();
}

/// The model folder, or `None` when told to skip (`SKIP_MODERATION_MODEL_TESTS=1`).
fn model() -> Option<PathBuf> {
    let root = std::env::var_os("MODERATION_MODEL_CACHE")
        .filter(|v| !v.is_empty())
        .map_or_else(default_cache_root, PathBuf::from);
    let dir = model_dir(&root);
    match Classifier::load(&dir) {
        Ok(_) => Some(dir),
        Err(_) if std::env::var("SKIP_MODERATION_MODEL_TESTS").as_deref() == Ok("1") => {
            eprintln!("SKIPPED on purpose (SKIP_MODERATION_MODEL_TESTS=1): no model");
            None
        }
        Err(e) => panic!("{e} (or set SKIP_MODERATION_MODEL_TESTS=1)"),
    }
}

/// An 800x533 JPEG with photo-like gradients (the size of a `medium` variant).
fn medium_jpeg() -> Vec<u8> {
    let img = image::RgbImage::from_fn(800, 533, |x, y| {
        image::Rgb([(x / 4) as u8, (y / 3) as u8, ((x ^ y) % 200) as u8 + 30])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .unwrap();
    out.into_inner()
}

#[divan::bench(sample_count = 10)]
fn load_model(bencher: divan::Bencher) {
    let Some(dir) = model() else { return };
    bencher.bench(|| Classifier::load(divan::black_box(&dir)).unwrap());
}

#[divan::bench(sample_count = 30)]
fn judge_medium_variant_jpeg(bencher: divan::Bencher) {
    let Some(dir) = model() else { return };
    let classifier = Classifier::load(&dir).unwrap();
    let jpeg = medium_jpeg();
    bencher.bench(|| {
        classifier
            .classify_encoded(divan::black_box(&jpeg))
            .unwrap()
    });
}

#[divan::bench(sample_count = 30)]
fn inference_224(bencher: divan::Bencher) {
    let Some(dir) = model() else { return };
    let classifier = Classifier::load(&dir).unwrap();
    let img = image::RgbImage::from_fn(224, 224, |x, y| image::Rgb([x as u8, y as u8, 128]));
    bencher.bench(|| classifier.classify_rgb(divan::black_box(&img)));
}

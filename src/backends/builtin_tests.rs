//! The builtin moderator: the SafeSearch mapping, its failure paths, and the real model judging
//! a synthetic image (where CI fetched it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::backends::{ModerationImage, Moderator};
use crate::config::Settings;
use crate::domain::moderation::likelihood_of;
use crate::domain::{Likelihood, SafeSearchCategory, Verdict};
use crate::moderation_model::test_support::{pooled_dense_model, real_classifier};
use crate::moderation_model::{Classifier, Probabilities, WEIGHTS_FILE};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::Arc;

fn probabilities(drawing: f32, hentai: f32, neutral: f32, porn: f32, sexy: f32) -> Probabilities {
    Probabilities([drawing, hentai, neutral, porn, sexy])
}

fn jpeg(width: u32, height: u32) -> Bytes {
    let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .unwrap();
    Bytes::from(out.into_inner())
}

#[test]
fn likelihood_cut_offs_are_inclusive_lower_bounds() {
    let cases = [
        (0.0, Likelihood::VeryUnlikely),
        (0.049, Likelihood::VeryUnlikely),
        (0.05, Likelihood::Unlikely),
        (0.2, Likelihood::Possible),
        (0.499, Likelihood::Possible),
        (0.5, Likelihood::Likely),
        (0.8, Likelihood::VeryLikely),
        (1.0, Likelihood::VeryLikely),
    ];
    for (p, want) in cases {
        assert_eq!(likelihood_of(p), want, "p = {p}");
    }
}

#[test]
fn adult_is_the_larger_of_porn_and_hentai_and_racy_is_sexy() {
    let hentai = probabilities(0.0, 0.6, 0.3, 0.1, 0.0).safe_search();
    let porn = probabilities(0.0, 0.0, 0.05, 0.9, 0.05).safe_search();
    let sexy = probabilities(0.0, 0.0, 0.3, 0.1, 0.6).safe_search();

    assert_eq!(
        (hentai.adult, hentai.racy),
        (Likelihood::Likely, Likelihood::VeryUnlikely)
    );
    assert_eq!(
        (porn.adult, porn.racy),
        (Likelihood::VeryLikely, Likelihood::Unlikely)
    );
    assert_eq!(
        (sexy.adult, sexy.racy),
        (Likelihood::Unlikely, Likelihood::Likely)
    );
}

#[test]
fn what_the_model_cannot_see_is_unknown_and_never_flags() {
    let answer = probabilities(0.0, 0.0, 1.0, 0.0, 0.0).safe_search();
    // The strictest thresholds configuration accepts on the unseen categories.
    let thresholds: BTreeMap<_, _> = [
        SafeSearchCategory::Violence,
        SafeSearchCategory::Medical,
        SafeSearchCategory::Spoof,
    ]
    .into_iter()
    .map(|c| (c, Likelihood::VeryUnlikely))
    .collect();

    assert_eq!(
        (answer.violence, answer.medical, answer.spoof),
        (
            Likelihood::Unknown,
            Likelihood::Unknown,
            Likelihood::Unknown
        )
    );
    assert_eq!(answer.verdict(&thresholds), Verdict::Safe);
}

#[test]
fn the_model_folder_follows_the_setting_else_the_default_cache() {
    let mut settings = Settings::load_from(&Default::default()).unwrap().moderation;
    settings.model_dir = Some("/srv/models".into());
    assert_eq!(
        model_dir_for(&settings),
        std::path::Path::new("/srv/models/nsfwjs-4.4.0-mobilenet_v2")
    );
    settings.model_dir = None;
    assert!(model_dir_for(&settings).ends_with("image-pipeline/models/nsfwjs-4.4.0-mobilenet_v2"));
}

#[test]
fn a_missing_model_gives_no_moderator_instead_of_failing_start_up() {
    let dir = tempfile::tempdir().unwrap();

    assert!(BuiltinModerator::load_or_explain(&dir.path().join("absent")).is_none());
}

#[test]
fn a_corrupt_model_gives_no_moderator_instead_of_failing_start_up() {
    let dir = tempfile::tempdir().unwrap();
    pooled_dense_model(&[0.0; 15], &[0.0; 5]).write(dir.path(), "out");
    std::fs::write(dir.path().join(WEIGHTS_FILE), b"short").unwrap();

    assert!(BuiltinModerator::load_or_explain(dir.path()).is_none());
}

fn tiny_moderator() -> BuiltinModerator {
    let dir = tempfile::tempdir().unwrap();
    // Pooled RGB -> logits: Porn grows with red, so a red image scores Porn high.
    let mut kernel = [0.0f32; 15];
    kernel[3] = 12.0;
    pooled_dense_model(&kernel, &[0.0, 0.0, 2.0, 0.0, 0.0]).write(dir.path(), "out");
    BuiltinModerator::new(Arc::new(Classifier::load(dir.path()).unwrap()))
}

#[actix_web::test]
async fn an_image_is_judged_in_process_and_named_with_the_model_version() {
    let moderator = tiny_moderator();
    let red = {
        let mut out = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            64,
            48,
            image::Rgb([255, 0, 0]),
        ))
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
        Bytes::from(out.into_inner())
    };

    let answer = moderator
        .assess(&ModerationImage::Bytes(red))
        .await
        .unwrap();

    assert_eq!(answer.adult, Likelihood::VeryLikely);
    assert_eq!(moderator.name(), "builtin:nsfwjs-4.4.0/mobilenet_v2");
}

#[actix_web::test]
async fn undecodable_bytes_are_a_permanent_error() {
    let err = tiny_moderator()
        .assess(&ModerationImage::Bytes(Bytes::from_static(
            b"GIF89a broken",
        )))
        .await
        .unwrap_err();

    assert!(!err.is_transient(), "{err}");
    assert!(err.to_string().contains("decode"), "{err}");
}

#[actix_web::test]
async fn a_storage_uri_is_refused_with_the_reason() {
    let err = tiny_moderator()
        .assess(&ModerationImage::StorageUri {
            bucket: "b".into(),
            name: "big.jpg".into(),
        })
        .await
        .unwrap_err();

    assert!(!err.is_transient());
    assert!(err.to_string().contains("needs the image's bytes"), "{err}");
}

#[actix_web::test]
async fn the_real_model_judges_a_synthetic_photo_safe_with_the_default_thresholds() {
    let Some(classifier) = real_classifier() else {
        return;
    };
    let moderator = BuiltinModerator::new(Arc::new(classifier));
    let thresholds = BTreeMap::from([
        (SafeSearchCategory::Adult, Likelihood::Likely),
        (SafeSearchCategory::Racy, Likelihood::Likely),
    ]);

    let answer = moderator
        .assess(&ModerationImage::Bytes(jpeg(800, 533)))
        .await
        .unwrap();

    assert_eq!(answer.verdict(&thresholds), Verdict::Safe, "{answer:?}");
    assert_ne!(answer.adult, Likelihood::Unknown);
    assert_eq!(answer.violence, Likelihood::Unknown);
}

//! The engine against hand computations on small synthetic models, the load errors, and the
//! real model on the bench photos (where CI fetched it; see `test_support`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::test_support::{TinyModel, pooled_dense_model, real_classifier};
use super::{Classifier, MODEL_JSON, ModelError, WEIGHTS_FILE};
use crate::domain::{Likelihood, SafeSearchCategory, Verdict};
use serde_json::json;
use std::collections::BTreeMap;

fn softmax(logits: &[f64]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f64::MIN, f64::max);
    let exp: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.iter().map(|e| e / sum).collect()
}

const KERNEL: [f32; 15] = [
    0.5, -1.0, 2.0, 0.0, 1.5, //
    -0.5, 1.0, 0.25, 3.0, -2.0, //
    1.0, 0.0, -1.5, 0.5, 0.75,
];
const BIAS: [f32; 5] = [0.1, -0.2, 0.3, 0.0, -0.1];

fn expected_for_grey(value: u8) -> Vec<f64> {
    let x = f64::from(value) / 255.0;
    let logits: Vec<f64> = (0..5)
        .map(|j| {
            f64::from(BIAS[j])
                + (0..3)
                    .map(|i| x * f64::from(KERNEL[i * 5 + j]))
                    .sum::<f64>()
        })
        .collect();
    softmax(&logits)
}

fn assert_close(got: &[f32], want: &[f64], tolerance: f64) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!(
            (f64::from(*g) - w).abs() <= tolerance,
            "got {got:?}, want {want:?}"
        );
    }
}

#[test]
fn a_pooled_dense_model_gives_the_hand_computed_softmax_for_a_grey_image() {
    let dir = tempfile::tempdir().unwrap();
    pooled_dense_model(&KERNEL, &BIAS).write(dir.path(), "out");
    let classifier = Classifier::load(dir.path()).unwrap();

    let at_input_size =
        classifier.classify_rgb(&image::RgbImage::from_pixel(224, 224, image::Rgb([51; 3])));
    let resized =
        classifier.classify_rgb(&image::RgbImage::from_pixel(300, 200, image::Rgb([51; 3])));

    assert_close(&at_input_size.0, &expected_for_grey(51), 1e-6);
    assert_close(&resized.0, &expected_for_grey(51), 1e-6);
}

#[test]
fn quantised_weights_are_dequantised_as_q_times_scale_plus_min() {
    let dir = tempfile::tempdir().unwrap();
    let q: Vec<u8> = (0..15).map(|i| i * 10).collect();
    let (min, scale) = (-1.0, 0.02);
    let mut model = TinyModel::new();
    model
        .pool_input()
        .layer("flat", "Flatten", json!({}), &["pool"])
        .layer("out", "Dense", json!({"activation": "softmax"}), &["flat"])
        .quantised("out/kernel", &[3, 5], &q, min, scale)
        .weight("out/bias", &[5], &[0.0; 5]);
    model.write(dir.path(), "out");

    let p = Classifier::load(dir.path())
        .unwrap()
        .classify_rgb(&image::RgbImage::from_pixel(224, 224, image::Rgb([255; 3])));

    let logits: Vec<f64> = (0..5)
        .map(|j| {
            (0..3)
                .map(|i| (f64::from(q[i * 5 + j]) * scale + min) as f32 as f64)
                .sum()
        })
        .collect();
    assert_close(&p.0, &softmax(&logits), 1e-6);
}

#[test]
fn a_missing_model_folder_names_the_command_that_fetches_it() {
    let dir = tempfile::tempdir().unwrap();

    let err = Classifier::load(&dir.path().join("nothing-here")).unwrap_err();

    assert!(matches!(err, ModelError::Missing { .. }), "{err:?}");
    assert!(
        err.to_string().contains("image-pipeline models fetch"),
        "{err}"
    );
}

#[test]
fn a_truncated_weights_file_is_reported_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    pooled_dense_model(&KERNEL, &BIAS).write(dir.path(), "out");
    let weights = std::fs::read(dir.path().join(WEIGHTS_FILE)).unwrap();
    std::fs::write(dir.path().join(WEIGHTS_FILE), &weights[..weights.len() - 7]).unwrap();

    let err = Classifier::load(dir.path()).unwrap_err();

    assert!(matches!(err, ModelError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn extra_bytes_after_the_weights_are_reported_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    pooled_dense_model(&KERNEL, &BIAS).write(dir.path(), "out");
    let mut weights = std::fs::read(dir.path().join(WEIGHTS_FILE)).unwrap();
    weights.extend_from_slice(&[0; 4]);
    std::fs::write(dir.path().join(WEIGHTS_FILE), weights).unwrap();

    let err = Classifier::load(dir.path()).unwrap_err();

    assert!(err.to_string().contains("the manifest describes"), "{err}");
}

#[test]
fn a_model_json_that_is_not_json_is_reported_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    pooled_dense_model(&KERNEL, &BIAS).write(dir.path(), "out");
    std::fs::write(dir.path().join(MODEL_JSON), b"{\"modelTopology\": [").unwrap();

    let err = Classifier::load(dir.path()).unwrap_err();

    assert!(matches!(err, ModelError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("models fetch"), "{err}");
}

#[test]
fn a_layer_the_engine_does_not_know_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = pooled_dense_model(&KERNEL, &BIAS);
    model.layer("lstm", "LSTM", json!({}), &["out"]);
    model.write(dir.path(), "lstm");

    let err = Classifier::load(dir.path()).unwrap_err();

    assert!(err.to_string().contains("LSTM is not supported"), "{err}");
}

#[test]
fn a_model_whose_output_is_not_five_classes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = TinyModel::new();
    model
        .pool_input()
        .layer("out", "Dense", json!({"activation": "softmax"}), &["pool"])
        .weight("out/kernel", &[3, 2], &[0.0; 6])
        .weight("out/bias", &[2], &[0.0; 2]);
    model.write(dir.path(), "out");

    let err = Classifier::load(dir.path()).unwrap_err();

    assert!(err.to_string().contains("5-class"), "{err}");
}

#[test]
fn an_undecodable_image_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    pooled_dense_model(&KERNEL, &BIAS).write(dir.path(), "out");
    let classifier = Classifier::load(dir.path()).unwrap();

    let err = classifier
        .classify_encoded(b"\xFF\xD8\xFF\xE0 not really a jpeg")
        .unwrap_err();

    assert!(matches!(err, ModelError::Decode(_)), "{err:?}");
}

#[test]
fn the_bench_photos_are_all_safe_with_the_default_thresholds() {
    let Some(classifier) = real_classifier() else {
        return;
    };
    let thresholds = BTreeMap::from([
        (SafeSearchCategory::Adult, Likelihood::Likely),
        (SafeSearchCategory::Racy, Likelihood::Likely),
        (SafeSearchCategory::Violence, Likelihood::Likely),
    ]);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench-images");
    let mut photos: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jpg" || x == "png"))
        .collect();
    photos.sort();
    assert!(
        photos.len() >= 6,
        "bench photos missing in {}",
        dir.display()
    );

    for photo in photos {
        let p = classifier
            .classify_encoded(&std::fs::read(&photo).unwrap())
            .unwrap();

        assert!((p.0.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{p:?}");
        let likelihoods = p.safe_search();
        assert_eq!(
            likelihoods.verdict(&thresholds),
            Verdict::Safe,
            "{}: {p:?}",
            photo.display()
        );
    }
}

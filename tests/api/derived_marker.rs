//! Outputs that share the upload bucket are told apart from uploads by their signature
//! only: an uploader can pick any name and set any metadata, but cannot sign.

use crate::helpers::*;
use image_pipeline::domain::derived::SIGNATURE_KEY;
use image_pipeline::domain::object::{DERIVED_MARKER_KEY, SOURCE_GENERATION_KEY};
use image_pipeline::domain::{ObjectInfo, ObjectMeta, SigningKey};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

/// The key the services under test sign with (outputs in the upload bucket).
pub const TEST_SIGNING_KEY: &str = "test-signing-key-of-at-least-32-bytes";

const SIGNED: [(&str, &str); 1] = [("PIPELINE_DERIVED__SIGNING_KEY", TEST_SIGNING_KEY)];

/// Metadata an uploader can set: the derived marker and a source generation.
fn forged_meta(source_generation: i64) -> ObjectMeta {
    ObjectMeta {
        content_type: "image/jpeg".into(),
        cache_control: None,
        metadata: BTreeMap::from([
            (DERIVED_MARKER_KEY.to_owned(), "true".to_owned()),
            (
                SOURCE_GENERATION_KEY.to_owned(),
                source_generation.to_string(),
            ),
        ]),
    }
}

/// `forged_meta` with the signature the services would write for `name` in the upload bucket.
pub fn signed_meta(name: &str, source_generation: i64) -> ObjectMeta {
    let mut meta = forged_meta(source_generation);
    let key = SigningKey::new(TEST_SIGNING_KEY.as_bytes()).unwrap();
    let signature = key.sign(BUCKET, name, &source_generation.to_string());
    meta.metadata.insert(SIGNATURE_KEY.to_owned(), signature);
    meta
}

async fn outcomes(app: &TestApp, info: &ObjectInfo) -> Vec<(String, String)> {
    let mut all = Vec::new();
    for path in ["/resize", "/thumbnail", "/record", "/moderate"] {
        let (status, body) = app
            .storage_event(path, FINALIZED, info, &next_event_id())
            .await;
        assert_eq!(status, 200, "{path}: {body}");
        all.push((
            path.to_owned(),
            body["outcome"].as_str().unwrap().to_owned(),
        ));
    }
    all
}

#[actix_web::test]
async fn an_uploaders_forged_derived_marker_is_not_skipped_in_the_upload_bucket() {
    let env = [SIGNED[0], ("PIPELINE_MODERATION__TRIGGER", "original")];
    let app = spawn_app(&env).await;
    let marked = app
        .store
        .insert(BUCKET, "elsewhere/x.jpg", &jpeg(300, 200), &forged_meta(1));
    let named = app.store.insert(
        BUCKET,
        "quarantine/y.jpg",
        &jpeg(300, 200),
        &ObjectMeta::default(),
    );

    for upload in [&marked, &named] {
        let outcomes = outcomes(&app, upload).await;

        for (path, outcome) in outcomes {
            assert_eq!(outcome, "processed", "{path} on {}", upload.name);
        }
    }
}

#[actix_web::test]
async fn a_planted_thumbnail_with_a_forged_source_generation_is_replaced_by_the_real_one() {
    let app = spawn_app(&SIGNED).await;
    let planted_bytes = jpeg(64, 64);
    app.store.insert(
        BUCKET,
        "thumbnails/x.jpg",
        &planted_bytes,
        &forged_meta(i64::MAX),
    );

    let (real, status, body) = app
        .upload_and_notify("/thumbnail", "x.jpg", &jpeg(640, 480), "image/jpeg")
        .await;

    assert_eq!((status, body["outcome"].as_str()), (200, Some("processed")));
    let (meta, bytes) = app.store.get(BUCKET, "thumbnails/x.jpg").unwrap();
    assert_ne!(
        bytes.as_ref(),
        planted_bytes.as_slice(),
        "the plant was kept"
    );
    assert_eq!(dimensions(&bytes), (200, 200));
    assert_eq!(
        meta.metadata[SOURCE_GENERATION_KEY],
        real.generation.to_string()
    );
    assert_eq!(
        meta.metadata.get(SIGNATURE_KEY),
        signed_meta("thumbnails/x.jpg", real.generation)
            .metadata
            .get(SIGNATURE_KEY)
    );
}

#[actix_web::test]
async fn an_output_with_a_valid_signature_is_skipped_by_every_route() {
    let env = [SIGNED[0], ("PIPELINE_MODERATION__TRIGGER", "original")];
    let app = spawn_app(&env).await;
    let name = "thumbnails/z.jpg";
    let output = app
        .store
        .insert(BUCKET, name, &jpeg(200, 200), &signed_meta(name, 5));

    let outcomes = outcomes(&app, &output).await;

    for (path, outcome) in outcomes {
        assert_eq!(outcome, "skipped", "{path}");
    }
    assert_eq!(app.store.reads.load(Ordering::SeqCst), 0);
}

#[actix_web::test]
async fn a_signature_made_with_another_key_is_not_trusted() {
    let app = spawn_app(&[(
        "PIPELINE_DERIVED__SIGNING_KEY",
        "another-key-that-is-at-least-32-bytes-long",
    )])
    .await;
    let name = "thumbnails/z.jpg";
    let output = app
        .store
        .insert(BUCKET, name, &jpeg(200, 200), &signed_meta(name, 5));

    let (_, body) = app
        .storage_event("/record", FINALIZED, &output, &next_event_id())
        .await;

    assert_eq!(body["outcome"], "processed", "{body}");
}

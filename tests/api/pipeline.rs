//! The pipeline end to end over HTTP with fake seams: outputs, events, records, idempotency.

use crate::derived_marker::{TEST_SIGNING_KEY, signed_meta};
use crate::helpers::*;
use image_pipeline::domain::object::{DERIVED_MARKER_KEY, SOURCE_GENERATION_KEY};
use image_pipeline::domain::{ObjectMeta, PipelineEvent, RecordStatus, StageUpdate};
use std::sync::atomic::Ordering;

/// Delivers `finalized` to resize, thumbnail and record, then every published event to
/// moderate and record, as Eventarc's triggers would. Returns the published events.
async fn run_pipeline(app: &TestApp, name: &str, body: &[u8]) -> Vec<PipelineEvent> {
    let (info, _, _) = app
        .upload_and_notify("/record", name, body, "image/jpeg")
        .await;
    for path in ["/resize", "/thumbnail"] {
        app.storage_event(path, FINALIZED, &info, &next_event_id())
            .await;
    }
    let mut all = Vec::new();
    let mut pending = app.publisher.take();
    while !pending.is_empty() {
        for event in &pending {
            for path in ["/moderate", "/record"] {
                let (status, _) = app.deliver(path, event, &next_event_id()).await;
                assert_eq!(status, 200);
            }
        }
        all.append(&mut pending);
        pending = app.publisher.take();
    }
    all
}

#[actix_web::test]
async fn resize_writes_every_size_with_the_derived_marker_and_publishes_image_resized() {
    let app = spawn_app(&[]).await;

    let (info, status, body) = app
        .upload_and_notify("/resize", "cats/tom.jpg", &jpeg(2400, 1600), "image/jpeg")
        .await;

    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("processed")),
        "{body}"
    );
    for (size, expected) in [
        ("large", (1620, 1080)),
        ("medium", (800, 533)),
        ("small", (400, 267)),
    ] {
        let (meta, bytes) = app
            .store
            .get(BUCKET, &format!("resized/{size}/cats/tom.jpg"))
            .unwrap();
        assert_eq!(dimensions(&bytes), expected, "{size}");
        assert_eq!(meta.content_type.as_deref(), Some("image/jpeg"));
        assert_eq!(meta.metadata[DERIVED_MARKER_KEY], "true");
        assert_eq!(
            meta.metadata[SOURCE_GENERATION_KEY],
            info.generation.to_string()
        );
    }
    let published = app.publisher.take();
    assert_eq!(published.len(), 1);
    let StageUpdate::Resized {
        variants, width, ..
    } = &published[0].data.update
    else {
        panic!("expected image.resized, got {published:?}");
    };
    assert_eq!(published[0].event_type.as_str(), "image.resized");
    assert_eq!(*width, 2400);
    assert_eq!(variants.len(), 3);
}

#[actix_web::test]
async fn small_image_is_never_enlarged() {
    let app = spawn_app(&[]).await;

    app.upload_and_notify("/resize", "tiny.jpg", &jpeg(300, 200), "image/jpeg")
        .await;

    let (_, large) = app.store.get(BUCKET, "resized/large/tiny.jpg").unwrap();
    assert_eq!(dimensions(&large), (300, 200));
}

#[actix_web::test]
async fn thumbnail_is_cover_cropped_to_the_exact_box() {
    let app = spawn_app(&[]).await;

    let (_, status, _) = app
        .upload_and_notify(
            "/thumbnail",
            "wide.png",
            &png_with_alpha(640, 240),
            "image/png",
        )
        .await;

    assert_eq!(status, 200);
    let (meta, bytes) = app.store.get(BUCKET, "thumbnails/wide.png").unwrap();
    assert_eq!(dimensions(&bytes), (200, 200));
    assert_eq!(meta.content_type.as_deref(), Some("image/png"));
    assert_eq!(app.publisher.types(), ["image.thumbnailed"]);
}

#[actix_web::test]
async fn a_full_run_leaves_a_processed_record_with_variants_thumbnail_and_verdict() {
    let app = spawn_app(&[]).await;

    let published = run_pipeline(&app, "full.jpg", &jpeg(1000, 800)).await;

    let types: Vec<&str> = published.iter().map(|e| e.event_type.as_str()).collect();
    assert!(
        types.contains(&"image.resized") && types.contains(&"image.thumbnailed"),
        "{types:?}"
    );
    assert!(types.contains(&"image.moderated"), "{types:?}");
    let record = app.records.record(BUCKET, "full.jpg").unwrap();
    assert_eq!(record.status, RecordStatus::Processed, "{record:?}");
    assert_eq!(record.variants.len(), 3);
    assert_eq!(record.thumbnail.unwrap().width, 200);
    assert_eq!(record.moderation.unwrap().verdict.as_str(), "unmoderated");
    assert_eq!((record.width, record.height), (Some(1000), Some(800)));
}

#[actix_web::test]
async fn stage_events_in_reverse_order_reach_the_same_record() {
    let app = spawn_app(&[]).await;
    let (info, _, _) = app
        .upload_and_notify("/resize", "rev.jpg", &jpeg(500, 400), "image/jpeg")
        .await;
    app.storage_event("/thumbnail", FINALIZED, &info, &next_event_id())
        .await;
    let mut events = app.publisher.take();
    app.deliver("/moderate", &events[0], &next_event_id()).await;
    events.extend(app.publisher.take());

    for event in events.iter().rev() {
        app.deliver("/record", event, &next_event_id()).await;
    }
    app.storage_event("/record", FINALIZED, &info, &next_event_id())
        .await;

    let record = app.records.record(BUCKET, "rev.jpg").unwrap();
    assert_eq!(record.status, RecordStatus::Processed, "{record:?}");
    assert_eq!(record.size_bytes, Some(info.size_bytes));
}

#[actix_web::test]
async fn duplicate_delivery_answers_duplicate_and_writes_nothing_again() {
    let app = spawn_app(&[]).await;
    let (info, _, _) = app
        .upload_and_notify("/resize", "dup.jpg", &jpeg(900, 600), "image/jpeg")
        .await;
    let puts = app.store.puts.load(Ordering::SeqCst);

    let (status, same_id) = app
        .storage_event("/resize", FINALIZED, &info, "replayed-id")
        .await;
    let (_, again) = app
        .storage_event("/resize", FINALIZED, &info, "replayed-id")
        .await;
    let (_, new_id) = app
        .storage_event("/resize", FINALIZED, &info, &next_event_id())
        .await;

    assert_eq!(status, 200);
    assert_eq!(same_id["outcome"], "duplicate", "{same_id}");
    assert_eq!(again["outcome"], "duplicate");
    assert_eq!(
        new_id["outcome"], "duplicate",
        "a replay of a processed generation"
    );
    assert_eq!(app.store.puts.load(Ordering::SeqCst), puts);
    assert_eq!(app.publisher.take().len(), 1);
}

#[actix_web::test]
async fn derived_object_events_are_skipped_before_anything_is_downloaded() {
    // Outputs in the upload bucket are recognised by their signature (derived_marker.rs).
    let app = spawn_app(&[("PIPELINE_DERIVED__SIGNING_KEY", TEST_SIGNING_KEY)]).await;
    let under_prefix = app.store.insert(
        BUCKET,
        "resized/large/x.jpg",
        &jpeg(10, 10),
        &signed_meta("resized/large/x.jpg", 1),
    );
    let marked = app.store.insert(
        BUCKET,
        "elsewhere/x.jpg",
        &jpeg(10, 10),
        &signed_meta("elsewhere/x.jpg", 1),
    );

    for info in [&under_prefix, &marked] {
        for path in ["/resize", "/thumbnail", "/record"] {
            let (status, body) = app
                .storage_event(path, FINALIZED, info, &next_event_id())
                .await;
            assert_eq!(status, 200);
            assert_eq!(body["outcome"], "skipped", "{path}: {body}");
            assert!(
                body["detail"].as_str().unwrap().contains("derived"),
                "{body}"
            );
        }
    }
    assert_eq!(app.store.reads.load(Ordering::SeqCst), 0);
}

#[actix_web::test]
async fn the_derived_marker_and_prefixes_are_not_trusted_in_an_upload_only_bucket() {
    let outputs_elsewhere = [
        ("PIPELINE_RESIZE__BUCKET", "outputs"),
        ("PIPELINE_THUMBNAIL__BUCKET", "outputs"),
        ("PIPELINE_MODERATION__QUARANTINE_BUCKET", "outputs"),
    ];
    let app = spawn_app(&outputs_elsewhere).await;
    let mut marked_meta = ObjectMeta {
        content_type: "image/jpeg".into(),
        ..Default::default()
    };
    marked_meta
        .metadata
        .insert(DERIVED_MARKER_KEY.into(), "true".into());
    let marked = app
        .store
        .insert(BUCKET, "thumbnails/evil.jpg", &jpeg(300, 200), &marked_meta);

    for path in ["/resize", "/thumbnail", "/record"] {
        let (status, body) = app
            .storage_event(path, FINALIZED, &marked, &next_event_id())
            .await;

        assert_eq!(
            (status, body["outcome"].as_str()),
            (200, Some("processed")),
            "{path}: {body}"
        );
    }
    assert!(
        app.store
            .get("outputs", "thumbnails/thumbnails/evil.jpg")
            .is_some()
    );
}

#[actix_web::test]
async fn non_image_is_skipped_after_sniffing_even_with_an_image_content_type() {
    let app = spawn_app(&[]).await;

    let (_, status, body) = app
        .upload_and_notify("/resize", "notes.jpg", b"<html>hello</html>", "image/jpeg")
        .await;
    let (_, _, record) = app
        .upload_and_notify("/record", "notes2.jpg", b"plain text", "image/jpeg")
        .await;

    assert_eq!(status, 200);
    assert_eq!(body["outcome"], "skipped", "{body}");
    assert_eq!(record["outcome"], "skipped", "{record}");
    assert!(app.records.record(BUCKET, "notes2.jpg").is_none());
    assert!(app.publisher.take().is_empty());
}

#[actix_web::test]
async fn image_with_a_wrong_content_type_is_still_processed() {
    let app = spawn_app(&[]).await;

    let (_, _, body) = app
        .upload_and_notify(
            "/resize",
            "upload.bin",
            &jpeg(64, 64),
            "application/octet-stream",
        )
        .await;

    assert_eq!(body["outcome"], "processed", "{body}");
}

#[actix_web::test]
async fn corrupt_image_is_acked_as_rejected_and_the_record_shows_failed() {
    let app = spawn_app(&[]).await;
    let mut corrupt = jpeg(400, 300);
    corrupt.truncate(120);

    let (info, status, body) = app
        .upload_and_notify("/resize", "broken.jpg", &corrupt, "image/jpeg")
        .await;
    let published = app.publisher.take();
    for event in &published {
        app.deliver("/record", event, &next_event_id()).await;
    }
    app.storage_event("/record", FINALIZED, &info, &next_event_id())
        .await;

    assert_eq!(status, 200);
    assert_eq!(body["outcome"], "rejected", "{body}");
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].event_type.as_str(), "image.failed");
    let record = app.records.record(BUCKET, "broken.jpg").unwrap();
    assert_eq!(record.status, RecordStatus::Failed);
    assert!(record.error.unwrap().starts_with("resize:"));
}

#[actix_web::test]
async fn transient_failure_is_retried_by_redelivery_without_duplicate_outputs() {
    let app = spawn_app(&[]).await;
    *app.store.fail_once_for.lock().unwrap() = Some("resized/medium/retry.jpg".into());

    let (info, first, _) = app
        .upload_and_notify("/resize", "retry.jpg", &jpeg(2000, 1000), "image/jpeg")
        .await;
    let written_before_the_fault = app.store.get(BUCKET, "resized/large/retry.jpg");
    let (second, body) = app
        .storage_event("/resize", FINALIZED, &info, "redelivered")
        .await;

    assert_eq!(first, 503);
    assert!(
        written_before_the_fault.is_some(),
        "the first attempt wrote a variant"
    );
    assert_eq!(
        (second, body["outcome"].as_str()),
        (200, Some("processed")),
        "{body}"
    );
    assert_eq!(
        app.store.puts.load(Ordering::SeqCst),
        3,
        "each size written once"
    );
    assert_eq!(app.publisher.types(), ["image.resized"]);
}

#[actix_web::test]
async fn deleting_the_source_removes_its_outputs_and_marks_the_record_deleted() {
    let app = spawn_app(&[]).await;
    run_pipeline(&app, "gone.jpg", &jpeg(800, 600)).await;
    let (source, _) = app.store.get(BUCKET, "gone.jpg").unwrap();

    for path in ["/resize", "/thumbnail", "/record"] {
        let (status, body) = app
            .storage_event(path, DELETED, &source, &next_event_id())
            .await;
        assert_eq!(
            (status, body["outcome"].as_str()),
            (200, Some("processed")),
            "{path}: {body}"
        );
    }

    assert_eq!(
        app.store.names(),
        ["gone.jpg"],
        "only the source is left (the fake keeps it)"
    );
    assert_eq!(
        app.records.record(BUCKET, "gone.jpg").unwrap().status,
        RecordStatus::Deleted
    );
}

#[actix_web::test]
async fn delete_of_an_old_generation_keeps_outputs_of_the_new_upload() {
    let app = spawn_app(&[]).await;
    let (old, _, _) = app
        .upload_and_notify("/thumbnail", "same.jpg", &jpeg(300, 300), "image/jpeg")
        .await;
    let (_, _, body) = app
        .upload_and_notify("/thumbnail", "same.jpg", &jpeg(320, 300), "image/jpeg")
        .await;
    assert_eq!(body["outcome"], "processed", "{body}");

    app.storage_event("/thumbnail", DELETED, &old, &next_event_id())
        .await;

    assert!(app.store.get(BUCKET, "thumbnails/same.jpg").is_some());
}

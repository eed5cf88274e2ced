//! Issue 13's handler findings: a verdict survives a failed publish, late outputs follow the
//! verdict, and every permanent failure ends on the record (issue 14: a moderator's too).

use crate::helpers::*;
use crate::policies::{racy, record_all};
use image_pipeline::domain::{PipelineEvent, RecordStatus, StageUpdate, Verdict};
use std::sync::atomic::Ordering;

const BLURRED_MARKER_KEY: &str = "image-pipeline-blurred";

/// Uploads `name`, resizes and thumbnails it; the published image.resized and all events.
async fn derive_all(app: &TestApp, name: &str) -> (PipelineEvent, Vec<PipelineEvent>) {
    let (info, _, _) = app
        .upload_and_notify("/resize", name, &jpeg(1200, 900), "image/jpeg")
        .await;
    app.storage_event("/thumbnail", FINALIZED, &info, &next_event_id())
        .await;
    app.storage_event("/record", FINALIZED, &info, &next_event_id())
        .await;
    let events = app.publisher.take();
    let resized = events
        .iter()
        .find(|e| e.event_type.as_str() == "image.resized")
        .unwrap()
        .clone();
    (resized, events)
}

fn moderation_of(events: &[PipelineEvent]) -> Option<image_pipeline::domain::Moderation> {
    events.iter().find_map(|e| match &e.data.update {
        StageUpdate::Moderated { moderation } => Some(moderation.clone()),
        _ => None,
    })
}

#[actix_web::test]
async fn a_failed_publish_after_quarantine_is_retried_to_a_flagged_record() {
    let app = spawn_app_with_moderator(
        &[("PIPELINE_MODERATION__POLICY", "quarantine")],
        Some(racy()),
    )
    .await;
    let (resized, events) = derive_all(&app, "q.jpg").await;
    let (source_info, _) = app.store.get(BUCKET, "q.jpg").unwrap();
    record_all(&app, &events).await;
    app.publisher.fail_next.store(1, Ordering::SeqCst);

    let id = next_event_id();
    let (first, _) = app.deliver("/moderate", &resized, &id).await;
    let (second, body) = app.deliver("/moderate", &resized, &id).await;
    let published = app.publisher.take();
    record_all(&app, &published).await;
    // the quarantine move deletes the original: Cloud Storage announces it
    app.storage_event("/record", DELETED, &source_info, &next_event_id())
        .await;

    assert_eq!(first, 503, "the failed publish is retried");
    assert_eq!(
        (second, body["outcome"].as_str()),
        (200, Some("processed")),
        "{body}"
    );
    let moderation = moderation_of(&published).expect("image.moderated published on retry");
    assert_eq!(moderation.verdict, Verdict::Flagged);
    let record = app.records.record(BUCKET, "q.jpg").unwrap();
    assert_eq!(record.status, RecordStatus::Flagged, "{record:?}");
    assert!(app.store.get(BUCKET, "quarantine/q.jpg").is_some());
}

#[actix_web::test]
async fn with_blur_a_retry_does_not_moderate_the_blurred_copy() {
    let app =
        spawn_app_with_moderator(&[("PIPELINE_MODERATION__POLICY", "blur")], Some(racy())).await;
    let (resized, _) = derive_all(&app, "b.jpg").await;
    app.publisher.fail_next.store(1, Ordering::SeqCst);

    let id = next_event_id();
    let (first, _) = app.deliver("/moderate", &resized, &id).await;
    let (second, _) = app.deliver("/moderate", &resized, &id).await;

    assert_eq!((first, second), (503, 200));
    let moderator = app.moderator.as_ref().unwrap();
    assert_eq!(moderator.calls.load(Ordering::SeqCst), 1, "verdict reused");
    let moderation = moderation_of(&app.publisher.take()).unwrap();
    assert_eq!(moderation.verdict, Verdict::Flagged);
}

#[actix_web::test]
async fn a_thumbnail_written_after_the_image_was_flagged_ends_blurred() {
    let app =
        spawn_app_with_moderator(&[("PIPELINE_MODERATION__POLICY", "blur")], Some(racy())).await;
    let (info, _, _) = app
        .upload_and_notify("/resize", "late.jpg", &jpeg(1200, 900), "image/jpeg")
        .await;
    let resized = app.publisher.take().remove(0);
    app.deliver("/moderate", &resized, &next_event_id()).await;
    let sharp_app = spawn_app(&[]).await;
    sharp_app
        .upload_and_notify("/thumbnail", "late.jpg", &jpeg(1200, 900), "image/jpeg")
        .await;
    let (_, sharp) = sharp_app.store.get(BUCKET, "thumbnails/late.jpg").unwrap();

    let (status, body) = app
        .storage_event("/thumbnail", FINALIZED, &info, &next_event_id())
        .await;

    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("processed")),
        "{body}"
    );
    let (thumb, bytes) = app.store.get(BUCKET, "thumbnails/late.jpg").unwrap();
    assert_eq!(
        thumb.metadata.get(BLURRED_MARKER_KEY).map(String::as_str),
        Some("true")
    );
    assert_ne!(bytes, sharp, "the late thumbnail was blurred");
    assert_eq!(dimensions(&bytes), dimensions(&sharp));
}

#[actix_web::test]
async fn a_publish_refused_for_good_after_outputs_were_written_ends_failed_on_the_record() {
    let app = spawn_app(&[]).await;
    app.publisher.refuse_all.store(true, Ordering::SeqCst);

    let (_, status, body) = app
        .upload_and_notify("/resize", "p.jpg", &jpeg(600, 400), "image/jpeg")
        .await;

    assert_rejected_and_recorded_failed(&app, "p.jpg", (status, body), "403");
}

#[actix_web::test]
async fn a_derived_name_over_1024_bytes_ends_failed_on_the_record() {
    let app = spawn_app(&[]).await;
    let name = format!("{}.jpg", "n".repeat(1010));

    let (_, status, body) = app
        .upload_and_notify("/resize", &name, &jpeg(600, 400), "image/jpeg")
        .await;
    record_all(&app, &app.publisher.take()).await;

    assert_rejected_and_recorded_failed(&app, &name, (status, body), "1024");
    assert!(app.store.names().iter().all(|n| n.len() <= 1024));
}

fn assert_rejected_and_recorded_failed(
    app: &TestApp,
    name: &str,
    (status, body): (u16, serde_json::Value),
    reason: &str,
) {
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("rejected")),
        "{body}"
    );
    let record = app.records.record(BUCKET, name).expect("failure recorded");
    assert_eq!(record.status, RecordStatus::Failed);
    assert!(record.error.unwrap().contains(reason));
}

async fn moderate_with_a_refusing_moderator(env: &[(&str, &str)]) -> (TestApp, u16) {
    let app = spawn_app_with_moderator(env, Some(racy())).await;
    let (resized, events) = derive_all(&app, "m.jpg").await;
    record_all(&app, &events).await;
    let moderator = app.moderator.as_ref().unwrap();
    moderator.refuse_all.store(true, Ordering::SeqCst);
    let (status, _) = app.deliver("/moderate", &resized, &next_event_id()).await;
    record_all(&app, &app.publisher.take()).await;
    (app, status)
}

#[actix_web::test]
async fn a_moderator_refusing_the_image_fails_closed_by_default_with_the_error_recorded() {
    let (app, status) = moderate_with_a_refusing_moderator(&[]).await;

    assert_eq!(status, 200);
    let record = app.records.record(BUCKET, "m.jpg").unwrap();
    let moderation = record.moderation.unwrap();
    assert_eq!(moderation.verdict, Verdict::Flagged);
    assert!(moderation.error.unwrap().contains("400"));
    assert_eq!(record.status, RecordStatus::Flagged);
}

#[actix_web::test]
async fn fail_open_records_the_moderator_error_with_the_verdict_unmoderated() {
    let env = [("PIPELINE_MODERATION__ON_ERROR", "fail_open")];
    let (app, status) = moderate_with_a_refusing_moderator(&env).await;

    assert_eq!(status, 200);
    let moderation = app
        .records
        .record(BUCKET, "m.jpg")
        .unwrap()
        .moderation
        .unwrap();
    assert_eq!(moderation.verdict, Verdict::Unmoderated);
    assert!(moderation.error.unwrap().contains("400"));
}

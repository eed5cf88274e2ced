//! Moderation: verdicts from thresholds and the policies for flagged images.

use crate::helpers::*;
use image_pipeline::domain::{Likelihood, PipelineEvent, RecordStatus, SafeSearch, StageUpdate};
use std::sync::atomic::Ordering;

pub(crate) fn racy() -> SafeSearch {
    SafeSearch {
        racy: Likelihood::VeryLikely,
        ..SafeSearch::default()
    }
}

/// Resizes and thumbnails an upload, then delivers image.resized to /moderate.
async fn moderate(app: &TestApp, name: &str) -> (u16, serde_json::Value, Vec<PipelineEvent>) {
    let (info, _, _) = app
        .upload_and_notify("/resize", name, &jpeg(1200, 900), "image/jpeg")
        .await;
    app.storage_event("/thumbnail", FINALIZED, &info, &next_event_id())
        .await;
    let events = app.publisher.take();
    let resized = events
        .iter()
        .find(|e| e.event_type.as_str() == "image.resized")
        .unwrap();
    let (status, body) = app.deliver("/moderate", resized, &next_event_id()).await;
    let mut all = events.clone();
    all.extend(app.publisher.take());
    (status, body, all)
}

pub(crate) async fn record_all(app: &TestApp, events: &[PipelineEvent]) {
    for event in events {
        app.deliver("/record", event, &next_event_id()).await;
    }
}

fn moderation_of(events: &[PipelineEvent]) -> image_pipeline::domain::Moderation {
    events
        .iter()
        .find_map(|e| match &e.data.update {
            StageUpdate::Moderated { moderation } => Some(moderation.clone()),
            _ => None,
        })
        .expect("image.moderated was published")
}

#[actix_web::test]
async fn below_every_threshold_is_safe() {
    let answer = SafeSearch {
        racy: Likelihood::Possible,
        spoof: Likelihood::VeryLikely,
        ..SafeSearch::default()
    };
    let app = spawn_app_with_moderator(&[], Some(answer)).await;

    let (status, body, events) = moderate(&app, "ok.jpg").await;

    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("processed")),
        "{body}"
    );
    let moderation = moderation_of(&events);
    assert_eq!(moderation.verdict.as_str(), "safe");
    assert_eq!(moderation.backend, "fake");
    assert_eq!(
        app.moderator.as_ref().unwrap().calls.load(Ordering::SeqCst),
        1
    );
}

#[actix_web::test]
async fn record_policy_flags_and_keeps_every_output() {
    let app = spawn_app_with_moderator(&[], Some(racy())).await;

    let (_, _, events) = moderate(&app, "flag.jpg").await;
    record_all(&app, &events).await;

    assert_eq!(moderation_of(&events).verdict.as_str(), "flagged");
    assert!(app.store.get(BUCKET, "resized/medium/flag.jpg").is_some());
    assert_eq!(
        app.records.record(BUCKET, "flag.jpg").unwrap().status,
        RecordStatus::Flagged
    );
}

#[actix_web::test]
async fn quarantine_policy_moves_the_original_and_its_outputs() {
    let app = spawn_app_with_moderator(
        &[("PIPELINE_MODERATION__POLICY", "quarantine")],
        Some(racy()),
    )
    .await;

    let (_, _, events) = moderate(&app, "q.jpg").await;
    let source_after = app.store.get(BUCKET, "q.jpg");

    assert!(source_after.is_none(), "original moved away");
    assert!(app.store.get(BUCKET, "quarantine/q.jpg").is_some());
    assert!(
        app.store
            .get(BUCKET, "quarantine/resized/large/q.jpg")
            .is_some()
    );
    assert!(
        app.store
            .get(BUCKET, "quarantine/thumbnails/q.jpg")
            .is_some()
    );
    assert!(app.store.get(BUCKET, "resized/large/q.jpg").is_none());
    assert_eq!(
        moderation_of(&events).action.as_deref(),
        Some("quarantined")
    );
}

#[actix_web::test]
async fn blur_policy_replaces_outputs_with_blurred_ones_of_the_same_size() {
    let app =
        spawn_app_with_moderator(&[("PIPELINE_MODERATION__POLICY", "blur")], Some(racy())).await;
    let (info, _, _) = app
        .upload_and_notify("/resize", "b.jpg", &jpeg(1200, 900), "image/jpeg")
        .await;
    let (_, before) = app.store.get(BUCKET, "resized/medium/b.jpg").unwrap();
    let resized = app.publisher.take().remove(0);
    let _ = info;

    let (status, body) = app.deliver("/moderate", &resized, &next_event_id()).await;

    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("processed")),
        "{body}"
    );
    let (_, after) = app.store.get(BUCKET, "resized/medium/b.jpg").unwrap();
    assert_ne!(before, after);
    assert_eq!(dimensions(&after), dimensions(&before));
    assert!(
        app.store.get(BUCKET, "b.jpg").is_some(),
        "the original is left alone"
    );
    assert_eq!(
        moderation_of(&app.publisher.take()).action.as_deref(),
        Some("blurred")
    );
}

#[actix_web::test]
async fn moderating_the_original_on_finalized_when_configured() {
    let app = spawn_app_with_moderator(
        &[("PIPELINE_MODERATION__TRIGGER", "original")],
        Some(racy()),
    )
    .await;

    let (_, status, body) = app
        .upload_and_notify("/moderate", "orig.jpg", &jpeg(300, 200), "image/jpeg")
        .await;

    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("processed")),
        "{body}"
    );
    assert_eq!(
        app.moderator.as_ref().unwrap().calls.load(Ordering::SeqCst),
        1
    );
    assert_eq!(
        moderation_of(&app.publisher.take()).verdict.as_str(),
        "flagged"
    );
}

#[actix_web::test]
async fn no_moderator_gives_unmoderated_never_safe() {
    let app = spawn_app(&[]).await;

    let (_, body, events) = moderate(&app, "u.jpg").await;

    assert_eq!(body["outcome"], "processed");
    let moderation = moderation_of(&events);
    assert_eq!(moderation.verdict.as_str(), "unmoderated");
    assert!(moderation.likelihoods.is_none());
}

#[actix_web::test]
async fn quarantine_never_deletes_the_original_when_a_decoy_holds_the_quarantine_name() {
    let app = spawn_app_with_moderator(
        &[("PIPELINE_MODERATION__POLICY", "quarantine")],
        Some(racy()),
    )
    .await;
    let decoy = b"not the flagged image".to_vec();
    let meta = image_pipeline::domain::ObjectMeta::default();
    app.store.insert(BUCKET, "quarantine/d.jpg", &decoy, &meta);
    let original = jpeg(1200, 900);
    let (info, _, _) = app
        .upload_and_notify("/resize", "d.jpg", &original, "image/jpeg")
        .await;
    let resized = app.publisher.take().remove(0);

    let (status, body) = app.deliver("/moderate", &resized, &next_event_id()).await;

    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("processed")),
        "{body}"
    );
    let (_, decoy_after) = app.store.get(BUCKET, "quarantine/d.jpg").unwrap();
    assert_eq!(decoy_after, decoy, "the decoy is left alone");
    let kept = format!("quarantine/generation-{}/d.jpg", info.generation);
    let (_, copy) = app
        .store
        .get(BUCKET, &kept)
        .expect("the original's bytes are kept");
    assert_eq!(copy, original);
    assert!(
        app.store.get(BUCKET, "d.jpg").is_none(),
        "moved out of public view"
    );
}

#[actix_web::test]
async fn a_variant_too_big_to_send_inline_is_given_to_the_moderator_by_its_gs_uri() {
    // Arrange: an image.resized whose variants claim 5 MiB each (a very large size setting).
    let app = spawn_app_with_moderator(&[], Some(SafeSearch::default())).await;
    app.upload_and_notify("/resize", "big.jpg", &jpeg(1200, 900), "image/jpeg")
        .await;
    let mut resized = app.publisher.take().remove(0);
    let StageUpdate::Resized { variants, .. } = &mut resized.data.update else {
        panic!("not image.resized: {resized:?}");
    };
    variants.iter_mut().for_each(|v| v.bytes = 5 << 20);
    let reads_before = app.store.reads.load(Ordering::SeqCst);

    // Act
    let (status, body) = app.deliver("/moderate", &resized, &next_event_id()).await;

    // Assert
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("processed")),
        "{body}"
    );
    let moderator = app.moderator.as_ref().unwrap();
    let uris = moderator.uris.lock().unwrap().clone();
    assert_eq!(uris.len(), 1, "{uris:?}");
    assert!(
        uris[0].starts_with("gs://uploads/") && uris[0].contains("big"),
        "{uris:?}"
    );
    assert_eq!(
        app.store.reads.load(Ordering::SeqCst),
        reads_before,
        "not downloaded"
    );
}

//! Verdict reuse (`moderation.reuse_verdict_for_same_content`, issue 23): a re-upload of
//! identical bytes costs no second moderator call, on both record backends: SQLite (the
//! local profile's, with a counting fake moderator) and Firestore (the harness's Firestore
//! and Vision fakes behind a counting proxy). The verdict index is the one
//! `Backends::from_settings` picks; only the store and publisher are the in-memory fakes,
//! so the test can upload and deliver events the way Eventarc would.

mod harness;

use crate::builtin_moderation::{model_root, run_process};
use crate::helpers::jpeg;
use harness::{Harness, red_photo};

async fn identical_bytes_under_another_name_are_judged_once(harness: Harness) {
    let app = harness.spawn(&[]).await;
    let photo = red_photo(0);

    let first = app.moderate_resized("first.jpg", &photo).await;
    let second = app.moderate_resized("copy of first.jpg", &photo).await;

    assert_eq!(harness.moderator_calls(), 1);
    assert_eq!(first.reused_from, None);
    assert_eq!(second.reused_from.as_deref(), Some("uploads%2Ffirst.jpg"));
    assert_eq!(second.verdict.as_str(), "flagged");
    assert_eq!(
        (second.verdict, &second.likelihoods),
        (first.verdict, &first.likelihoods)
    );
    let record = app.record("copy of first.jpg").await;
    let recorded = record.moderation.expect("a verdict on the record");
    assert_eq!(recorded.reused_from.as_deref(), Some("uploads%2Ffirst.jpg"));
    assert_eq!(record.status.as_str(), "flagged");
}

async fn different_bytes_are_each_judged(harness: Harness) {
    let app = harness.spawn(&[]).await;

    app.moderate_resized("one.jpg", &red_photo(0)).await;
    let other = app.moderate_resized("two.jpg", &red_photo(1)).await;
    let again = app.moderate_resized("three.jpg", &red_photo(1)).await;

    assert_eq!(
        harness.moderator_calls(),
        2,
        "the third repeats the second's bytes"
    );
    assert_eq!(other.reused_from, None);
    assert_eq!(again.reused_from.as_deref(), Some("uploads%2Ftwo.jpg"));
}

async fn changed_thresholds_judge_the_same_bytes_again(harness: Harness) {
    let photo = red_photo(0);
    let before = harness.spawn(&[]).await;
    before.moderate_resized("first.jpg", &photo).await;

    let after = harness
        .spawn(&[("PIPELINE_MODERATION__THRESHOLDS__RACY", "VERY_LIKELY")])
        .await;
    let again = after.moderate_resized("copy.jpg", &photo).await;
    let third = after.moderate_resized("third.jpg", &photo).await;

    assert_eq!(
        harness.moderator_calls(),
        2,
        "the third is judged as the second was"
    );
    assert_eq!(again.reused_from, None);
    assert_eq!(third.reused_from.as_deref(), Some("uploads%2Fcopy.jpg"));
}

async fn with_reuse_off_every_upload_is_judged(harness: Harness) {
    let off = [(
        "PIPELINE_MODERATION__REUSE_VERDICT_FOR_SAME_CONTENT",
        "false",
    )];
    let app = harness.spawn(&off).await;
    let photo = red_photo(0);

    app.moderate_resized("first.jpg", &photo).await;
    let second = app.moderate_resized("copy.jpg", &photo).await;
    let on = harness.spawn(&[]).await;
    let after = on.moderate_resized("after.jpg", &photo).await;

    assert_eq!(
        harness.moderator_calls(),
        3,
        "nothing was indexed while reuse was off"
    );
    assert_eq!((second.reused_from, after.reused_from), (None, None));
}

async fn an_unwritable_index_keeps_the_verdict(harness: Harness) {
    let app = harness.spawn(&[]).await;
    let photo = red_photo(0);
    harness.break_index(false);

    let first = app.moderate_resized("first.jpg", &photo).await;
    let second = app.moderate_resized("copy.jpg", &photo).await;

    assert_eq!(harness.moderator_calls(), 2, "nothing could be indexed");
    assert_eq!(
        (first.verdict.as_str(), second.reused_from),
        ("flagged", None)
    );
    let recorded = app.record("first.jpg").await.moderation;
    assert_eq!(recorded.map(|m| m.verdict), Some(first.verdict));
}

async fn an_unreadable_index_costs_a_call_not_the_verdict(harness: Harness) {
    let app = harness.spawn(&[]).await;
    let photo = red_photo(0);
    app.moderate_resized("first.jpg", &photo).await;

    harness.break_index(true);
    let second = app.moderate_resized("copy.jpg", &photo).await;

    assert_eq!(harness.moderator_calls(), 2);
    assert_eq!(second.reused_from, None);
    assert_eq!(second.verdict.as_str(), "flagged");
}

#[actix_web::test]
async fn sqlite_identical_bytes_under_another_name_are_judged_once() {
    identical_bytes_under_another_name_are_judged_once(Harness::sqlite()).await;
}

#[actix_web::test]
async fn sqlite_different_bytes_are_each_judged() {
    different_bytes_are_each_judged(Harness::sqlite()).await;
}

#[actix_web::test]
async fn sqlite_changed_thresholds_judge_the_same_bytes_again() {
    changed_thresholds_judge_the_same_bytes_again(Harness::sqlite()).await;
}

#[actix_web::test]
async fn sqlite_with_reuse_off_every_upload_is_judged() {
    with_reuse_off_every_upload_is_judged(Harness::sqlite()).await;
}

#[actix_web::test]
async fn sqlite_an_unreadable_index_costs_a_call_not_the_verdict() {
    an_unreadable_index_costs_a_call_not_the_verdict(Harness::sqlite()).await;
}

#[actix_web::test]
async fn firestore_identical_bytes_under_another_name_are_judged_once() {
    identical_bytes_under_another_name_are_judged_once(Harness::firestore().await).await;
}

#[actix_web::test]
async fn firestore_different_bytes_are_each_judged() {
    different_bytes_are_each_judged(Harness::firestore().await).await;
}

#[actix_web::test]
async fn firestore_changed_thresholds_judge_the_same_bytes_again() {
    changed_thresholds_judge_the_same_bytes_again(Harness::firestore().await).await;
}

#[actix_web::test]
async fn firestore_with_reuse_off_every_upload_is_judged() {
    with_reuse_off_every_upload_is_judged(Harness::firestore().await).await;
}

#[actix_web::test]
async fn firestore_an_index_answering_503_costs_a_call_not_the_verdict() {
    an_unreadable_index_costs_a_call_not_the_verdict(Harness::firestore().await).await;
}

#[actix_web::test]
async fn sqlite_an_unwritable_index_keeps_the_verdict() {
    an_unwritable_index_keeps_the_verdict(Harness::sqlite()).await;
}

#[actix_web::test]
async fn firestore_an_index_refusing_writes_keeps_the_verdict() {
    an_unwritable_index_keeps_the_verdict(Harness::firestore().await).await;
}

#[actix_web::test]
async fn a_local_moderator_runs_once_for_identical_bytes() {
    identical_bytes_under_another_name_are_judged_once(Harness::sqlite_local()).await;
}

#[actix_web::test]
async fn a_local_moderator_runs_again_for_changed_thresholds() {
    changed_thresholds_judge_the_same_bytes_again(Harness::sqlite_local()).await;
}

async fn with_trigger_original_the_upload_bytes_find_the_earlier_verdict(harness: Harness) {
    let app = harness
        .spawn(&[("PIPELINE_MODERATION__TRIGGER", "original")])
        .await;
    let photo = jpeg(1200, 900);

    app.moderate_original("first.jpg", &photo).await;
    let second = app.moderate_original("copy.jpg", &photo).await;
    let other = app.moderate_original("other.jpg", &jpeg(1000, 900)).await;

    assert_eq!(harness.moderator_calls(), 2, "the copy is not judged");
    assert_eq!(second.reused_from.as_deref(), Some("uploads%2Ffirst.jpg"));
    assert_eq!(other.reused_from, None);
}

#[actix_web::test]
async fn with_trigger_original_a_remote_moderator_is_asked_once_for_identical_bytes() {
    with_trigger_original_the_upload_bytes_find_the_earlier_verdict(Harness::sqlite()).await;
}

#[actix_web::test]
async fn with_trigger_original_a_local_moderator_runs_once_for_identical_bytes() {
    with_trigger_original_the_upload_bytes_find_the_earlier_verdict(Harness::sqlite_local()).await;
}

/// The embedded default as a user runs it: `process` twice on one data dir with the
/// built-in model; the second run's photo repeats the first's bytes under another name.
#[test]
fn process_with_the_builtin_model_reuses_the_verdict_of_identical_bytes() {
    let Some(root) = model_root() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (first, copy) = (dir.path().join("first.jpg"), dir.path().join("copy.jpg"));
    std::fs::write(&first, jpeg(1200, 900)).unwrap();
    std::fs::copy(&first, &copy).unwrap();

    let (before, _) = run_process(dir.path(), &root, &[], &[first]);
    let (after, stderr) = run_process(dir.path(), &root, &[], &[copy]);

    let (judged, reused) = (&before[0]["moderation"], &after[0]["moderation"]);
    assert!(judged["reusedFrom"].is_null(), "{judged}");
    assert_eq!(
        reused["reusedFrom"], "uploads%2Ffirst.jpg",
        "{reused} {stderr}"
    );
    assert_eq!(reused["likelihoods"], judged["likelihoods"]);
    assert_eq!(reused["backend"], "builtin:nsfwjs-4.4.0/mobilenet_v2");
    assert!(stderr.contains("moderator not asked"), "{stderr}");
}

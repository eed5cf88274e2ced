//! One event, three ways in: over HTTP (`POST /`), through `backfill`, and as a dead letter
//! through `dead-letters replay`. They share one dispatcher, so given the same state they
//! give one answer (the in-process paths used to answer an unknown type differently and
//! skip the metrics).

use crate::helpers::{jpeg, local_env};
use image_pipeline::backends::DeadLetter;
use image_pipeline::backfill::{self, Handled, Options, Summary, Work};
use image_pipeline::cloudevent::CloudEvent;
use image_pipeline::config::Settings;
use image_pipeline::dead_letters;
use image_pipeline::domain::{ObjectInfo, ObjectMeta, ObjectRef, WriteCondition};
use image_pipeline::startup::{InProcess, Interrupt};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

fn local_settings(dir: &Path) -> Settings {
    Settings::in_process(&local_env(dir)).unwrap()
}

/// Uploads a photo and lets the local pipeline finish with it.
async fn photo_through_the_pipeline(running: &InProcess) -> ObjectInfo {
    let state = &running.state;
    let meta = ObjectMeta {
        content_type: "image/jpeg".into(),
        ..ObjectMeta::default()
    };
    let body = bytes::Bytes::from(jpeg(320, 240));
    state
        .backends
        .store
        .put("uploads", "one.jpg", body, &meta, WriteCondition::Overwrite)
        .await
        .unwrap();
    let local = state.local.clone().unwrap();
    assert!(local.wait_idle(Duration::from_secs(60)).await.unwrap());
    state
        .backends
        .store
        .stat(&ObjectRef::new("uploads", "one.jpg"))
        .await
        .unwrap()
}

async fn over_http(running: &InProcess, event: &CloudEvent) -> (String, String) {
    let mut request = reqwest::Client::new().post(format!("{}/", running.url));
    for (name, value) in event.binary_headers() {
        request = request.header(name, value);
    }
    let response = request.body(event.data.clone()).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    let text = |key: &str| body[key].as_str().unwrap().to_owned();
    (text("outcome"), text("detail"))
}

async fn through_backfill(running: &InProcess, object: ObjectInfo, dir: &Path) -> Handled {
    let options = Options {
        bucket: "uploads".into(),
        prefix: String::new(),
        dry_run: false,
        rate_per_sec: 0.0,
        concurrency: 1,
        limit: None,
    };
    let work = Work {
        objects: vec![object],
        cursor_file: &dir.join("cursor"),
        interrupt: &Interrupt::never(),
    };
    let mut handled = Vec::new();
    let mut summary = Summary::default();
    backfill::run_work(&running.state, &options, work, &mut summary, |h| {
        handled.push(h.clone())
    })
    .await
    .unwrap();
    handled.remove(0)
}

/// Writes `event` as the local router's dead letter of a delivery to `POST /`.
fn dead_letter_of(event: &CloudEvent, settings: &Settings) -> String {
    let letter = DeadLetter {
        delivery_id: "0e0e0e0e".into(),
        event_id: event.id.clone(),
        event_type: event.ty.clone(),
        path: "/".into(),
        attempts: 5,
        last_error: "connection refused".into(),
        dead_at: "2026-12-07T10:00:00Z".into(),
        headers: event.binary_headers(),
        body: serde_json::from_slice(&event.data).unwrap(),
    };
    let dir = settings.local.data_dir.join("dead-letter");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("0e0e0e0e.json");
    std::fs::write(file, serde_json::to_vec(&letter).unwrap()).unwrap();
    letter.delivery_id
}

/// The routes a combined detail names (`resize: ..; record: ..` → `resize,record`).
fn routes_in(detail: &str) -> String {
    let names: Vec<&str> = detail
        .split("; ")
        .map(|part| part.split(':').next().unwrap_or_default())
        .collect();
    names.join(",")
}

#[test]
fn one_event_gets_the_same_outcome_over_http_from_backfill_and_from_a_dead_letter_replay() {
    // Arrange: a photo the pipeline already handled, and its `finalized` event.
    let dir = tempfile::tempdir().unwrap();
    let settings = local_settings(dir.path());
    actix_web::rt::System::new().block_on(async {
        let running = InProcess::start(settings.clone()).await.unwrap();
        let object = photo_through_the_pipeline(&running).await;
        let event = backfill::finalized_event(&object);

        // The event handled once, so each way in meets the same state (the ledger has it).
        let (first, _) = over_http(&running, &event).await;
        assert_eq!(first, "processed");

        // Act: the same event three ways.
        let (http_outcome, http_detail) = over_http(&running, &event).await;
        let backfilled = through_backfill(&running, object, dir.path()).await;
        let metrics = running.state.metrics.render(&None).await;
        running.state.local.clone().unwrap().stop();
        running.stop().await;
        let id = dead_letter_of(&event, &settings);
        let replayed = dead_letters::replay_local(settings.clone(), Some(&id))
            .await
            .unwrap();

        // Assert: one outcome, from the same routes.
        assert_eq!(http_outcome, "duplicate", "{http_detail}");
        assert_eq!(replayed.len(), 1);
        let replayed = &replayed[0];
        assert_eq!(backfilled.outcome.as_str(), http_outcome, "{backfilled:?}");
        assert_eq!(replayed.outcome.as_str(), http_outcome, "{replayed:?}");
        assert_eq!(routes_in(&http_detail), "resize,thumbnail,record");
        assert_eq!(routes_in(&backfilled.detail), routes_in(&http_detail));
        assert_eq!(routes_in(&replayed.detail), routes_in(&http_detail));
        assert!(replayed.removed, "{replayed:?}");
        // The backfilled event is counted like the HTTP ones (the record route: processed
        // once, then duplicate over HTTP and from backfill).
        let duplicates = r#"image_pipeline_events_total{route="record",outcome="duplicate"} 2"#;
        assert!(metrics.contains(duplicates), "{metrics}");
    });
}

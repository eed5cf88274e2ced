//! Plain Pub/Sub push without Eventarc (issue 17): Cloud Storage notifications and pipeline
//! messages, wrapped and unwrapped, through to outputs and records, with the in-memory
//! seams, the local profile's folder store and SQLite, and the Cloud Storage client against
//! fake-gcs-server; plus Pub/Sub's ack rule for every outcome.

use crate::fakes::{MemoryPublisher, MemoryRecords};
use crate::helpers::*;
use base64::Engine;
use bytes::Bytes;
use image_pipeline::backends::{Backends, ObjectStore, Records};
use image_pipeline::domain::{
    ObjectInfo, ObjectMeta, ObjectRef, PipelineEvent, PutOutcome, RecordKey, RecordStatus,
    WriteCondition,
};
use image_pipeline::router::push::{
    MESSAGE_ID_HEADER, PUBLISH_TIME_HEADER, SUBSCRIPTION_HEADER, acknowledges,
};
use image_pipeline::startup::Application;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

const SUBSCRIPTION: &str = "projects/test/subscriptions/image-pipeline-resize-uploads";

#[derive(Clone, Copy, Debug)]
enum Mode {
    /// `{"message": {...}, "subscription": "..."}`, the default push format.
    Wrapped,
    /// `--push-no-wrapper --push-no-wrapper-write-metadata`: data as body, the rest headers.
    Unwrapped,
}

struct Message {
    data: Vec<u8>,
    attributes: BTreeMap<String, String>,
    id: String,
}

/// The notification Cloud Storage publishes for `info` (`OBJECT_FINALIZE`/`OBJECT_DELETE`).
fn notification(info: &ObjectInfo, event_type: &str) -> Message {
    let attributes = [
        (
            "notificationConfig",
            "projects/_/buckets/uploads/notificationConfigs/1",
        ),
        ("eventType", event_type),
        ("payloadFormat", "JSON_API_V1"),
        ("bucketId", &info.bucket),
        ("objectId", &info.name),
        ("objectGeneration", &info.generation.to_string()),
        ("eventTime", "2026-11-25T10:00:00.000000Z"),
    ];
    Message {
        data: storage_data(info).to_string().into_bytes(),
        attributes: attributes
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        id: next_event_id(),
    }
}

fn pipeline_message(event: &PipelineEvent) -> Message {
    Message {
        data: event.data_json(),
        attributes: event.attributes(),
        id: next_event_id(),
    }
}

fn jpeg_meta() -> ObjectMeta {
    ObjectMeta {
        content_type: "image/jpeg".into(),
        ..Default::default()
    }
}

/// Puts a JPEG into the in-memory bucket; returns what Cloud Storage would report.
fn upload(app: &TestApp, name: &str, width: u32, height: u32) -> ObjectInfo {
    app.store
        .insert(BUCKET, name, &jpeg(width, height), &jpeg_meta())
}

/// POSTs one push delivery as Pub/Sub does; returns (status, JSON body).
async fn push(address: &str, path: &str, mode: Mode, message: &Message) -> (u16, Value) {
    let client = reqwest::Client::new();
    let request = client.post(format!("{address}{path}")).header(
        "user-agent",
        "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)",
    );
    let request = match mode {
        Mode::Wrapped => {
            let body = json!({
                "message": {
                    "data": base64::engine::general_purpose::STANDARD.encode(&message.data),
                    "attributes": message.attributes,
                    "messageId": message.id,
                    "message_id": message.id,
                    "publishTime": "2026-11-25T10:00:01.000Z",
                },
                "subscription": SUBSCRIPTION,
            });
            request
                .header("content-type", "application/json")
                .body(body.to_string())
        }
        Mode::Unwrapped => {
            let mut request = request
                .header(MESSAGE_ID_HEADER, &message.id)
                .header(SUBSCRIPTION_HEADER, SUBSCRIPTION)
                .header(PUBLISH_TIME_HEADER, "2026-11-25T10:00:01.000Z");
            for (name, value) in &message.attributes {
                request = request.header(name.as_str(), value.as_str());
            }
            request.body(message.data.clone())
        }
    };
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The whole pipeline by push: the notification to resize, thumbnail and record, then every
/// published pipeline event to moderate and record, as the push subscriptions of
/// `deploy.sh --transport notifications` deliver them. Every answer must be an ack.
async fn run_by_push(address: &str, publisher: &MemoryPublisher, mode: Mode, info: &ObjectInfo) {
    for path in ["/resize", "/thumbnail", "/record"] {
        let (status, body) =
            push(address, path, mode, &notification(info, "OBJECT_FINALIZE")).await;
        assert_eq!(
            (status, body["outcome"].as_str()),
            (200, Some("processed")),
            "{path}: {body}"
        );
    }
    let mut pending = publisher.take();
    assert!(
        !pending.is_empty(),
        "the routes published no pipeline event"
    );
    while !pending.is_empty() {
        for event in &pending {
            for path in ["/moderate", "/record"] {
                let (status, body) = push(address, path, mode, &pipeline_message(event)).await;
                assert!(acknowledges(status), "{path}: {status} {body}");
            }
        }
        pending = publisher.take();
    }
}

async fn spawn_with(
    env: &[(&str, &str)],
    store: Arc<dyn ObjectStore>,
    records: Arc<dyn Records>,
) -> (String, Arc<MemoryPublisher>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let publisher = Arc::new(MemoryPublisher::default());
    let backends = Backends {
        store,
        records,
        publisher: publisher.clone(),
        moderator: None,
        verdicts: None,
    };
    let app = Application::build_with(Arc::new(test_settings(env)), backends).expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    (address, publisher)
}

async fn put(store: &dyn ObjectStore, name: &str, body: Vec<u8>) -> ObjectInfo {
    let meta = jpeg_meta();
    match store
        .put(
            BUCKET,
            name,
            Bytes::from(body),
            &meta,
            WriteCondition::Overwrite,
        )
        .await
        .unwrap()
    {
        PutOutcome::Written(info) => info,
        other => panic!("upload not written: {other:?}"),
    }
}

async fn assert_outputs_and_record(store: &dyn ObjectStore, records: &dyn Records, name: &str) {
    for output in [
        format!("resized/medium/{name}"),
        format!("thumbnails/{name}"),
    ] {
        let stat = store.stat(&ObjectRef::new(BUCKET, &output)).await;
        assert!(stat.is_ok(), "{output}: {stat:?}");
    }
    let record = records
        .get(&RecordKey::new(BUCKET, name))
        .await
        .unwrap()
        .expect("a record");
    assert_eq!(record.status, RecordStatus::Processed, "{record:?}");
    assert_eq!(record.variants.len(), 3);
    assert!(
        record.thumbnail.is_some() && record.moderation.is_some(),
        "{record:?}"
    );
}

#[actix_web::test]
async fn wrapped_and_unwrapped_pushes_run_the_pipeline_to_outputs_and_a_record() {
    for mode in [Mode::Wrapped, Mode::Unwrapped] {
        // Arrange
        let app = spawn_app(&[]).await;
        let info = upload(&app, "incoming/cat.jpg", 900, 600);

        // Act
        run_by_push(&app.address, &app.publisher, mode, &info).await;

        // Assert
        assert_outputs_and_record(app.store.as_ref(), app.records.as_ref(), "incoming/cat.jpg")
            .await;
    }
}

#[actix_web::test]
async fn pushes_reach_the_local_profiles_folder_store_and_sqlite_records() {
    // Arrange: the local profile's own store and records (its router is not started).
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let settings = test_settings(&[
        ("PIPELINE_PROFILE", "local"),
        ("PIPELINE_LOCAL__DATA_DIR", data_dir),
    ]);
    let (backends, _local) = Backends::from_settings(&settings).await.unwrap();
    let (store, records) = (backends.store, backends.records);
    let env = [
        ("PIPELINE_PROFILE", "local"),
        ("PIPELINE_LOCAL__DATA_DIR", data_dir),
    ];
    let (address, publisher) = spawn_with(&env, store.clone(), records.clone()).await;
    let wrapped = put(store.as_ref(), "incoming/local-wrapped.jpg", jpeg(700, 500)).await;
    let unwrapped = put(
        store.as_ref(),
        "incoming/local-unwrapped.jpg",
        jpeg(640, 480),
    )
    .await;

    // Act
    run_by_push(&address, &publisher, Mode::Wrapped, &wrapped).await;
    run_by_push(&address, &publisher, Mode::Unwrapped, &unwrapped).await;

    // Assert
    assert_outputs_and_record(
        store.as_ref(),
        records.as_ref(),
        "incoming/local-wrapped.jpg",
    )
    .await;
    assert_outputs_and_record(
        store.as_ref(),
        records.as_ref(),
        "incoming/local-unwrapped.jpg",
    )
    .await;
}

#[actix_web::test]
async fn a_redelivered_notification_answers_duplicate_and_writes_nothing_again() {
    let app = spawn_app(&[]).await;
    let info = upload(&app, "incoming/dup.jpg", 600, 400);
    let message = notification(&info, "OBJECT_FINALIZE");
    let (_, first) = push(&app.address, "/resize", Mode::Wrapped, &message).await;
    let puts = app.store.puts.load(Ordering::SeqCst);

    let (status, again) = push(&app.address, "/resize", Mode::Unwrapped, &message).await;
    let (_, new_id) = push(
        &app.address,
        "/resize",
        Mode::Wrapped,
        &notification(&info, "OBJECT_FINALIZE"),
    )
    .await;

    assert_eq!(first["outcome"], "processed", "{first}");
    assert_eq!(
        (status, again["outcome"].as_str()),
        (200, Some("duplicate")),
        "{again}"
    );
    assert_eq!(
        new_id["outcome"], "duplicate",
        "the same generation under a new message id: {new_id}"
    );
    assert_eq!(app.store.puts.load(Ordering::SeqCst), puts);
}

#[actix_web::test]
async fn a_delete_notification_removes_the_outputs_and_marks_the_record_deleted() {
    let app = spawn_app(&[]).await;
    let info = upload(&app, "incoming/gone.jpg", 800, 600);
    run_by_push(&app.address, &app.publisher, Mode::Wrapped, &info).await;

    for path in ["/resize", "/thumbnail", "/record"] {
        let (status, body) = push(
            &app.address,
            path,
            Mode::Unwrapped,
            &notification(&info, "OBJECT_DELETE"),
        )
        .await;
        assert_eq!(
            (status, body["outcome"].as_str()),
            (200, Some("processed")),
            "{path}: {body}"
        );
    }

    assert_eq!(
        app.store.names(),
        ["incoming/gone.jpg"],
        "only the source is left (the fake keeps it)"
    );
    let record = app.records.record(BUCKET, "incoming/gone.jpg").unwrap();
    assert_eq!(record.status, RecordStatus::Deleted);
}

mod acks;
mod gcs;

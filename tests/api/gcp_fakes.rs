//! The gcp profile against local fakes, for tests outside the fault harness: fake-gcs-server
//! and the harness's Firestore/Pub/Sub/Vision fakes (`faults::google`) behind its proxy with
//! no faults planned, and settings that point the service's Google backends there.

use crate::faults::fake_gcs::FakeGcs;
use crate::faults::google::{EventSink, Google};
use crate::faults::plan::Plan;
use crate::faults::proxy;
use crate::helpers::test_settings;
use image_pipeline::config::Settings;
use serde_json::Value;
use std::sync::{Arc, Mutex};

pub const PROJECT: &str = "fakes-project";
pub const UPLOADS: &str = "uploads";
pub const DERIVED: &str = "derived";

/// What the fakes saw: storage events in the upload bucket, and published messages.
#[derive(Default)]
pub struct Sink {
    pub storage: Mutex<Vec<(String, Value)>>,
    /// (topic, data in base64, attributes)
    pub published: Mutex<Vec<(String, String, Value)>>,
}

impl EventSink for Sink {
    fn storage(&self, ce_type: &str, object: Value) {
        self.storage
            .lock()
            .unwrap()
            .push((ce_type.to_owned(), object));
    }

    fn published(&self, topic: &str, _message_id: &str, data_base64: &str, attributes: &Value) {
        self.published.lock().unwrap().push((
            topic.to_owned(),
            data_base64.to_owned(),
            attributes.clone(),
        ));
    }
}

pub struct GcpFakes {
    /// Kept alive: the fake-gcs-server process ends when this drops.
    pub gcs: FakeGcs,
    pub google: Arc<Google>,
    pub sink: Arc<Sink>,
    /// Where the service's Google endpoints point (the proxy, no faults).
    pub url: String,
}

/// fake-gcs-server with the upload and derived buckets, and the fakes behind the proxy.
pub async fn start() -> GcpFakes {
    let gcs = FakeGcs::start(&[UPLOADS, DERIVED]).await;
    let (listener, url) = proxy::bind().await;
    let sink = Arc::new(Sink::default());
    let google = Arc::new(Google::new(&gcs.url, UPLOADS, sink.clone()));
    proxy::serve(listener, google.clone(), Arc::new(Plan::new(1, 0.0)), 0);
    GcpFakes {
        gcs,
        google,
        sink,
        url,
    }
}

impl GcpFakes {
    /// Settings of the gcp profile, auth off, every Google endpoint at the fakes except
    /// Pub/Sub at `pubsub_url`; outputs go to the derived bucket.
    pub fn settings(&self, pubsub_url: &str, extra: &[(&str, &str)]) -> Settings {
        let mut env = vec![
            ("PIPELINE_PROFILE", "gcp"),
            ("PIPELINE_GCP__AUTH", "none"),
            ("PIPELINE_GCP__PROJECT_ID", PROJECT),
            ("PIPELINE_GCP__STORAGE_ENDPOINT", self.url.as_str()),
            ("PIPELINE_GCP__FIRESTORE_ENDPOINT", self.url.as_str()),
            ("PIPELINE_GCP__PUBSUB_ENDPOINT", pubsub_url),
            ("PIPELINE_GCP__VISION_ENDPOINT", self.url.as_str()),
            ("PIPELINE_GCP__REQUEST_TIMEOUT_SECS", "5"),
            ("PIPELINE_GCP__RETRY_INITIAL_BACKOFF_MS", "20"),
            ("PIPELINE_GCP__RETRY_BUDGET_SECS", "2"),
            ("PIPELINE_RESIZE__BUCKET", DERIVED),
            ("PIPELINE_THUMBNAIL__BUCKET", DERIVED),
            // Quarantine stays in the upload bucket: its copies are signed.
            (
                "PIPELINE_DERIVED__SIGNING_KEY",
                crate::derived_marker::TEST_SIGNING_KEY,
            ),
        ];
        env.extend_from_slice(extra);
        test_settings(&env)
    }

    /// Writes `name` into `bucket` of fake-gcs-server directly; its object resource.
    pub async fn upload(&self, bucket: &str, name: &str, body: Vec<u8>) -> Value {
        crate::faults::upload(&self.gcs.url, bucket, name, body).await
    }

    /// Whether `bucket/name` exists in fake-gcs-server.
    pub async fn exists(&self, bucket: &str, name: &str) -> bool {
        crate::faults::google::read_object(&self.gcs.url, bucket, name)
            .await
            .is_some()
    }

    /// The image record's `status` field, if the record exists.
    pub fn record_status(&self, bucket: &str, name: &str) -> Option<String> {
        let key = format!("images/{bucket}%2F{name}");
        let documents = self.google.documents.lock().unwrap();
        let record = documents.get(&key)?;
        Some(
            record.fields["status"]["stringValue"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    }
}

impl GcpFakes {
    /// The generation of `bucket/name` in fake-gcs-server (a rewrite changes it).
    pub async fn generation(&self, bucket: &str, name: &str) -> Option<String> {
        let encoded =
            percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
        let url = format!("{}/storage/v1/b/{bucket}/o/{encoded}", self.gcs.url);
        let response = reqwest::get(url).await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let object: Value = response.json().await.ok()?;
        object["generation"].as_str().map(str::to_owned)
    }
}

//! The Eventarc stand-in: storage and Pub/Sub triggers wired as `deploy/config.sh` wires them
//! (finalized/deleted on the upload bucket -> /resize, /thumbnail, /record; messagePublished
//! on the pipeline topic -> /moderate, /record), binary-mode CloudEvents, at-least-once:
//! any non-2xx answer or transport error is redelivered with exponential backoff up to
//! `max_attempts` (deploy's MAX_DELIVERY_ATTEMPTS), then dead-lettered; a seeded share of
//! deliveries is sent twice.

use super::google::{DELETED, EventSink, FINALIZED};
use super::plan::unit_numbers;
use bytes::Bytes;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

pub const PUBLISHED: &str = "google.cloud.pubsub.topic.v1.messagePublished";
/// (event type, destination path), as deploy/config.sh's TRIGGERS.
const STORAGE_TRIGGERS: [(&str, &str); 6] = [
    (FINALIZED, "/resize"),
    (DELETED, "/resize"),
    (FINALIZED, "/thumbnail"),
    (DELETED, "/thumbnail"),
    (FINALIZED, "/record"),
    (DELETED, "/record"),
];
const TOPIC_TRIGGERS: [&str; 2] = ["/moderate", "/record"];
/// Requests in flight at once (Cloud Run's concurrency, scaled down).
const MAX_IN_FLIGHT: usize = 8;

#[derive(Debug, Default)]
pub struct Stats {
    /// Distinct deliveries (one event to one trigger).
    pub deliveries: AtomicU64,
    /// POSTs, first attempts, redeliveries and duplicates included.
    pub attempts: AtomicU64,
    pub redeliveries: AtomicU64,
    pub duplicates: AtomicU64,
    /// Answers by (path, status or outcome).
    pub answers: Mutex<BTreeMap<String, u64>>,
    /// "path ce-id: detail" of every delivery acked `rejected`.
    pub rejected: Mutex<Vec<String>>,
    /// "path ce-id: last error" of every delivery that ran out of attempts.
    pub dead_letters: Mutex<Vec<String>>,
}

#[derive(Clone)]
struct Delivery {
    path: &'static str,
    headers: Vec<(String, String)>,
    body: Bytes,
    id: String,
}

pub struct Inner {
    app_url: String,
    project: String,
    upload_bucket: String,
    seed: u64,
    duplicate_share: f64,
    max_attempts: u32,
    client: reqwest::Client,
    permits: Semaphore,
    outstanding: AtomicU64,
    pub stats: Stats,
}

#[derive(Clone)]
pub struct Eventarc(pub Arc<Inner>);

impl Eventarc {
    pub fn new(
        app_url: &str,
        project: &str,
        upload_bucket: &str,
        seed: u64,
        duplicate_share: f64,
        max_attempts: u32,
    ) -> Self {
        Self(Arc::new(Inner {
            app_url: app_url.to_owned(),
            project: project.to_owned(),
            upload_bucket: upload_bucket.to_owned(),
            seed,
            duplicate_share,
            max_attempts,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap(),
            permits: Semaphore::new(MAX_IN_FLIGHT),
            outstanding: AtomicU64::new(0),
            stats: Stats::default(),
        }))
    }

    pub fn stats(&self) -> &Stats {
        &self.0.stats
    }

    /// Waits until no delivery is queued, in flight or waiting to be retried.
    pub async fn wait_quiet(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.0.outstanding.load(Ordering::SeqCst) == 0 {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn dispatch(&self, delivery: Delivery) {
        let inner = &self.0;
        inner.stats.deliveries.fetch_add(1, Ordering::SeqCst);
        let [dup, delay, _] = unit_numbers(
            inner.seed,
            &format!("dup {} {}", delivery.id, delivery.path),
            0,
        );
        let copies = if dup < inner.duplicate_share { 2 } else { 1 };
        for copy in 0..copies {
            if copy == 1 {
                inner.stats.duplicates.fetch_add(1, Ordering::SeqCst);
            }
            inner.outstanding.fetch_add(1, Ordering::SeqCst);
            let (inner, delivery) = (inner.clone(), delivery.clone());
            let wait = Duration::from_millis(if copy == 1 { (delay * 500.0) as u64 } else { 0 });
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                inner.deliver(delivery).await;
                inner.outstanding.fetch_sub(1, Ordering::SeqCst);
            });
        }
    }
}

impl Inner {
    /// Sends until a 2xx answer or `max_attempts`.
    async fn deliver(&self, d: Delivery) {
        let mut attempt = 1u32;
        loop {
            let error = match self.send(&d).await {
                Ok(()) => return,
                Err(error) => error,
            };
            if attempt >= self.max_attempts {
                let letter = format!("{} {}: {error}", d.path, d.id);
                self.stats.dead_letters.lock().unwrap().push(letter);
                return;
            }
            let [jitter, _, _] = unit_numbers(
                self.seed,
                &format!("backoff {} {}", d.id, d.path),
                u64::from(attempt),
            );
            let backoff_ms = (100u64 << (attempt - 1).min(5)).min(2_000);
            tokio::time::sleep(Duration::from_millis(
                backoff_ms / 2 + (jitter * backoff_ms as f64 / 2.0) as u64,
            ))
            .await;
            attempt += 1;
            self.stats.redeliveries.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// One POST; `Err` with the reason when it must be redelivered.
    async fn send(&self, d: &Delivery) -> Result<(), String> {
        let _permit = self.permits.acquire().await.unwrap();
        self.stats.attempts.fetch_add(1, Ordering::SeqCst);
        let mut request = self
            .client
            .post(format!("{}{}", self.app_url, d.path))
            .body(d.body.clone());
        for (name, value) in &d.headers {
            request = request.header(name, value);
        }
        let (status, body) = match request.send().await {
            Ok(response) => (
                response.status().as_u16(),
                response.bytes().await.unwrap_or_default(),
            ),
            Err(e) => {
                self.count(d.path, "transport error");
                return Err(format!("transport: {e}"));
            }
        };
        let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let outcome = answer["outcome"].as_str().unwrap_or("?").to_owned();
        self.count(d.path, &format!("{status} {outcome}"));
        if !(200..300).contains(&status) {
            return Err(format!("HTTP {status}: {answer}"));
        }
        if outcome == "rejected" {
            let detail = format!("{} {}: {}", d.path, d.id, answer["detail"]);
            self.stats.rejected.lock().unwrap().push(detail);
        }
        Ok(())
    }

    fn count(&self, path: &str, what: &str) {
        *self
            .stats
            .answers
            .lock()
            .unwrap()
            .entry(format!("{path} {what}"))
            .or_insert(0) += 1;
    }
}

fn headers(
    id: &str,
    ce_type: &str,
    source: &str,
    subject: Option<String>,
) -> Vec<(String, String)> {
    let mut headers = vec![
        ("ce-id".to_owned(), id.to_owned()),
        ("ce-source".to_owned(), source.to_owned()),
        ("ce-specversion".to_owned(), "1.0".to_owned()),
        ("ce-type".to_owned(), ce_type.to_owned()),
        ("ce-time".to_owned(), "2026-11-26T10:00:00.000Z".to_owned()),
        ("content-type".to_owned(), "application/json".to_owned()),
    ];
    if let Some(subject) = subject {
        headers.push(("ce-subject".to_owned(), subject));
    }
    headers
}

impl EventSink for Eventarc {
    fn storage(&self, ce_type: &str, object: Value) {
        let inner = &self.0;
        let bucket = object["bucket"].as_str().unwrap_or("").to_owned();
        if bucket != inner.upload_bucket {
            return;
        }
        let name = object["name"].as_str().unwrap_or("");
        let generation = object["generation"].as_str().unwrap_or("0");
        let kind = if ce_type == FINALIZED {
            "finalized"
        } else {
            "deleted"
        };
        let id = format!("{kind}-{bucket}-{name}-{generation}");
        let source = format!("//storage.googleapis.com/projects/_/buckets/{bucket}");
        let body = Bytes::from(object.to_string());
        for (ty, path) in STORAGE_TRIGGERS.iter().filter(|(ty, _)| *ty == ce_type) {
            self.dispatch(Delivery {
                path,
                headers: headers(&id, ty, &source, Some(format!("objects/{name}"))),
                body: body.clone(),
                id: id.clone(),
            });
        }
    }

    fn published(&self, topic: &str, message_id: &str, data_base64: &str, attributes: &Value) {
        let project = &self.0.project;
        let source = format!("//pubsub.googleapis.com/projects/{project}/topics/{topic}");
        for path in TOPIC_TRIGGERS {
            let body = json!({
                "subscription": format!("projects/{project}/subscriptions/eventarc-{}", path.trim_start_matches('/')),
                "message": {
                    "data": data_base64,
                    "attributes": attributes,
                    "messageId": message_id,
                    "message_id": message_id,
                    "publishTime": "2026-11-26T10:00:01.000Z",
                },
            });
            self.dispatch(Delivery {
                path,
                headers: headers(message_id, PUBLISHED, &source, None),
                body: Bytes::from(body.to_string()),
                id: message_id.to_owned(),
            });
        }
    }
}

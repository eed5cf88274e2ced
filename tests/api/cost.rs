//! The operations one upload costs, counted on the real service with counting seams, for
//! the four-service and the combined topology (docs/cost.md takes its table from here):
//!
//!     cargo test --test api cost::operations_per_upload -- --nocapture
//!
//! The test plays Eventarc: the upload's `finalized` goes to each storage trigger's path,
//! every published message to both Pub/Sub triggers (`/moderate`, `/record`: Eventarc
//! cannot filter messages by attribute), until no message is left.

use crate::fakes::{FakeModerator, MemoryPublisher, MemoryRecords, MemoryStore};
use crate::helpers::*;
use async_trait::async_trait;
use bytes::Bytes;
use image_pipeline::backends::{
    BackendResult, Backends, ObjectPage, ObjectStore, Publisher, Records,
};
use image_pipeline::domain::record::{ApplyResult, StageEvent};
use image_pipeline::domain::{
    ImageRecord, ObjectInfo, ObjectMeta, ObjectRef, PipelineEvent, PutOutcome, RecordKey,
    SafeSearch, WriteCondition,
};
use image_pipeline::startup::Application;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Calls by operation name (`gcs.put`, `firestore.is_done`, `pubsub.bytes`, ...).
#[derive(Default)]
struct Tally(Mutex<BTreeMap<&'static str, usize>>);

impl Tally {
    fn add(&self, what: &'static str, n: usize) {
        *self.0.lock().unwrap().entry(what).or_default() += n;
    }
    fn get(&self, what: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .get(what)
            .copied()
            .unwrap_or_default()
    }
}

struct Counted<T> {
    inner: Arc<T>,
    tally: Arc<Tally>,
}

#[async_trait]
impl ObjectStore for Counted<MemoryStore> {
    async fn stat(&self, obj: &ObjectRef) -> BackendResult<ObjectInfo> {
        self.tally.add("gcs.stat (B)", 1);
        self.inner.stat(obj).await
    }
    async fn read(&self, obj: &ObjectRef) -> BackendResult<Bytes> {
        self.tally.add("gcs.read (B)", 1);
        self.inner.read(obj).await
    }
    async fn read_prefix(&self, obj: &ObjectRef, max_bytes: u64) -> BackendResult<Bytes> {
        self.tally.add("gcs.read_prefix (B)", 1);
        self.inner.read_prefix(obj, max_bytes).await
    }
    async fn read_within(&self, obj: &ObjectRef, max_bytes: u64) -> BackendResult<Bytes> {
        self.tally.add("gcs.read (B)", 1);
        self.inner.read_within(obj, max_bytes).await
    }
    async fn put(
        &self,
        bucket: &str,
        name: &str,
        body: Bytes,
        meta: &ObjectMeta,
        condition: WriteCondition,
    ) -> BackendResult<PutOutcome> {
        self.tally.add("gcs.put (A)", 1);
        self.inner.put(bucket, name, body, meta, condition).await
    }
    async fn delete(&self, obj: &ObjectRef) -> BackendResult<bool> {
        self.tally.add("gcs.delete (free)", 1);
        self.inner.delete(obj).await
    }
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        page_token: Option<&str>,
    ) -> BackendResult<ObjectPage> {
        self.tally.add("gcs.list (A)", 1);
        self.inner.list(bucket, prefix, page_token).await
    }
}

#[async_trait]
impl Records for Counted<MemoryRecords> {
    /// Firestore: a read of the record and a commit (`FirestoreRecords::apply`).
    async fn apply(&self, event: &StageEvent) -> BackendResult<ApplyResult> {
        self.tally.add("firestore.read", 1);
        self.tally.add("firestore.write", 1);
        self.inner.apply(event).await
    }
    async fn get(&self, key: &RecordKey) -> BackendResult<Option<ImageRecord>> {
        self.tally.add("firestore.read", 1);
        self.inner.get(key).await
    }
    /// A lookup of the ledger entry (billed as a read whether or not it exists).
    async fn is_done(&self, done_key: &str) -> BackendResult<bool> {
        self.tally.add("firestore.read", 1);
        self.inner.is_done(done_key).await
    }
    /// A commit of the ledger entry; its TTL deletes it 7 days later (one delete each).
    async fn mark_done(&self, done_key: &str) -> BackendResult<()> {
        self.tally.add("firestore.write", 1);
        self.tally.add("firestore.ttl_delete", 1);
        self.inner.mark_done(done_key).await
    }
}

#[async_trait]
impl Publisher for Counted<MemoryPublisher> {
    async fn publish(&self, events: &[PipelineEvent]) -> BackendResult<()> {
        self.tally.add("pubsub.publish_requests", 1);
        self.tally.add("pubsub.messages", events.len());
        let bytes = |e: &PipelineEvent| {
            let attributes: usize = e.attributes().iter().map(|(k, v)| k.len() + v.len()).sum();
            e.data_json().len() + attributes
        };
        self.tally
            .add("pubsub.message_bytes", events.iter().map(bytes).sum());
        self.inner.publish(events).await
    }
}

struct Counting {
    /// Every route enabled (the moderator and the recorder, and the four-service routes).
    app: TestApp,
    /// The combined topology's `image-processor`: resize and thumbnail, the same seams.
    processor: String,
    tally: Arc<Tally>,
}

/// A server with `routes` on `backends`; its address. Every server signs its outputs with
/// the same key, as the deployed services share one secret.
fn serve(routes: &str, backends: Backends) -> String {
    let settings = Arc::new(test_settings(&[
        ("PIPELINE_ROUTES", routes),
        (
            "PIPELINE_DERIVED__SIGNING_KEY",
            "the-cost-test-signing-key-shared-by-every-server",
        ),
    ]));
    let app = Application::build_with(settings, backends).expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    address
}

async fn spawn_counting() -> Counting {
    image_pipeline::backends::install_tls_provider();
    let tally = Arc::new(Tally::default());
    let (store, records) = (
        Arc::new(MemoryStore::default()),
        Arc::new(MemoryRecords::default()),
    );
    let publisher = Arc::new(MemoryPublisher::default());
    let moderator = Arc::new(FakeModerator {
        answer: SafeSearch::default(),
        ..FakeModerator::default()
    });
    let backends = Backends {
        store: Arc::new(Counted {
            inner: store.clone(),
            tally: tally.clone(),
        }),
        records: Arc::new(Counted {
            inner: records.clone(),
            tally: tally.clone(),
        }),
        publisher: Arc::new(Counted {
            inner: publisher.clone(),
            tally: tally.clone(),
        }),
        moderator: Some(moderator.clone()),
        // The verdict index (one read, and one write when judged) is added in docs/cost.md.
        verdicts: None,
    };
    let processor = serve("resize,thumbnail", backends.clone());
    let app = TestApp {
        address: serve("resize,thumbnail,moderate,record", backends),
        client: reqwest::Client::new(),
        store,
        records,
        publisher,
        moderator: Some(moderator),
    };
    Counting {
        app,
        processor,
        tally,
    }
}

/// One upload of `photo` through the pipeline, the storage event sent to each storage
/// trigger's path (`/` on the processor); the tally, with the requests Eventarc made and
/// the Vision calls.
async fn one_upload(storage_paths: &[&str], photo: &[u8]) -> Counting {
    let counting = spawn_counting().await;
    let app = &counting.app;
    let meta = ObjectMeta {
        content_type: "image/jpeg".into(),
        ..Default::default()
    };
    let info = app.store.insert(BUCKET, "photo.jpg", photo, &meta);
    let id = next_event_id();
    for path in storage_paths {
        let server = match *path {
            "/" => TestApp {
                address: counting.processor.clone(),
                ..app.clone()
            },
            _ => app.clone(),
        };
        let (status, body) = server.storage_event(path, FINALIZED, &info, &id).await;
        assert_eq!(status, 200, "{path}: {body}");
        counting.tally.add("requests", 1);
    }
    for _ in 0..10 {
        let messages = app.publisher.take();
        if messages.is_empty() {
            break;
        }
        for message in &messages {
            let id = next_event_id();
            for path in ["/moderate", "/record"] {
                let (status, body) = app.deliver(path, message, &id).await;
                assert_eq!(status, 200, "{path}: {body}");
                counting.tally.add("requests", 1);
            }
        }
    }
    let vision = app
        .moderator
        .as_ref()
        .unwrap()
        .calls
        .load(std::sync::atomic::Ordering::SeqCst);
    counting.tally.add("vision.calls", vision);
    let record = app.records.record(BUCKET, "photo.jpg").unwrap();
    assert!(
        record.thumbnail.is_some() && record.moderation.is_some(),
        "{record:?}"
    );
    counting
}

#[actix_web::test]
async fn operations_per_upload() {
    let photo = jpeg(4032, 3024);

    let four = one_upload(&["/resize", "/thumbnail", "/record"], &photo).await;
    let combined = one_upload(&["/", "/record"], &photo).await;

    let names: std::collections::BTreeSet<&str> = [&four, &combined]
        .iter()
        .flat_map(|c| {
            c.tally
                .0
                .lock()
                .unwrap()
                .keys()
                .copied()
                .collect::<Vec<_>>()
        })
        .collect();
    println!("\noperations per upload      four-service  combined");
    for name in names {
        println!(
            "{name:26} {:>12}  {:>8}",
            four.tally.get(name),
            combined.tally.get(name)
        );
    }
    let (f, c) = (&four.tally, &combined.tally);
    assert_eq!(
        c.get("requests") + 1,
        f.get("requests"),
        "one request fewer"
    );
    assert_eq!(
        c.get("gcs.read (B)") + 1,
        f.get("gcs.read (B)"),
        "one download fewer"
    );
    assert_eq!(
        c.get("gcs.read_prefix (B)") + 1,
        f.get("gcs.read_prefix (B)"),
        "one sniff fewer"
    );
    for same in [
        "gcs.put (A)",
        "pubsub.messages",
        "vision.calls",
        "firestore.write",
    ] {
        assert_eq!(c.get(same), f.get(same), "{same}");
    }
}

//! The verdict-reuse tests' backings: SQLite with a counting remote or local fake
//! moderator, or Firestore and Vision fakes behind a proxy that counts Vision calls and can
//! refuse the index's reads or writes; a server on one of them, and its helpers.

use crate::derived_marker::TEST_SIGNING_KEY;
use crate::fakes::{FakeModerator, MemoryPublisher, MemoryRecords, MemoryStore};
use crate::faults::google::Google;
use crate::faults::plan::Plan;
use crate::faults::proxy::{self, HttpAnswer, HttpRequest, Upstream};
use crate::gcp_fakes::Sink;
use crate::helpers::{FINALIZED, TestApp, next_event_id, test_settings};
use crate::policies::racy;
use async_trait::async_trait;
use image_pipeline::backends::{BackendResult, Backends, LocalModerator, ModerationImage};
use image_pipeline::backends::{Moderator, Records};
use image_pipeline::domain::{ImageRecord, Moderation, RecordKey, SafeSearch, StageUpdate};
use image_pipeline::startup::Application;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The Firestore collection the index uses by default (config/default.toml).
const VERDICTS: &str = "image-pipeline-verdicts";

/// The Firestore and Vision fakes, counting Vision calls; index reads can be made to fail.
struct CountingGoogle {
    google: Google,
    vision_calls: AtomicUsize,
    fail_index_reads: AtomicBool,
    fail_index_writes: AtomicBool,
}

#[async_trait]
impl Upstream for CountingGoogle {
    async fn call(&self, request: HttpRequest) -> HttpAnswer {
        if request.path().ends_with("images:annotate") {
            self.vision_calls.fetch_add(1, Ordering::SeqCst);
        }
        let index_read = request.method == "GET" && request.path().contains(VERDICTS);
        let index_write = request.path().ends_with(":commit")
            && String::from_utf8_lossy(&request.body).contains(VERDICTS);
        if (index_read && self.fail_index_reads.load(Ordering::SeqCst))
            || (index_write && self.fail_index_writes.load(Ordering::SeqCst))
        {
            return HttpAnswer::error(503, "UNAVAILABLE", "injected: Firestore is unavailable");
        }
        self.google.call(request).await
    }
}

/// A moderator that computes on this instance (as the built-in model does), counting runs.
#[derive(Default)]
struct LocalFake {
    runs: AtomicUsize,
}

impl LocalModerator for LocalFake {
    fn working_bytes(&self) -> u64 {
        1 << 20
    }
    fn assess_now(&self, _image: &[u8]) -> BackendResult<SafeSearch> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        Ok(racy())
    }
}

/// The [`LocalFake`] behind the `Moderator` seam.
struct LocalFakeModerator(Arc<LocalFake>);

#[async_trait]
impl Moderator for LocalFakeModerator {
    async fn assess(&self, _image: &ModerationImage) -> BackendResult<SafeSearch> {
        panic!("the route runs a local moderator itself, never through `assess`")
    }
    fn name(&self) -> &'static str {
        "local-fake"
    }
    fn local(&self) -> Option<Arc<dyn LocalModerator>> {
        Some(self.0.clone())
    }
}

/// Where records and the verdict index live, shared by every app a test starts.
enum Backing {
    Sqlite {
        moderator: Arc<FakeModerator>,
    },
    SqliteLocal {
        moderator: Arc<LocalFake>,
    },
    Firestore {
        google: Arc<CountingGoogle>,
        url: String,
    },
}

pub struct Harness {
    dir: tempfile::TempDir,
    backing: Backing,
}

/// One running server on the harness's backing.
pub struct Running {
    app: TestApp,
    records: Arc<dyn Records>,
}

impl Harness {
    pub fn sqlite() -> Self {
        let moderator = Arc::new(FakeModerator {
            answer: racy(),
            ..FakeModerator::default()
        });
        Self {
            dir: tempfile::tempdir().unwrap(),
            backing: Backing::Sqlite { moderator },
        }
    }

    /// SQLite with a moderator that runs on this instance (the built-in model's path).
    pub fn sqlite_local() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            backing: Backing::SqliteLocal {
                moderator: Arc::default(),
            },
        }
    }

    pub async fn firestore() -> Self {
        image_pipeline::backends::install_tls_provider();
        let (listener, url) = proxy::bind().await;
        let sink = Arc::new(Sink::default());
        let google = Arc::new(CountingGoogle {
            // Storage is the in-memory store here: the fakes never forward to Cloud Storage.
            google: Google::new("http://127.0.0.1:9", "uploads", sink),
            vision_calls: AtomicUsize::new(0),
            fail_index_reads: AtomicBool::new(false),
            fail_index_writes: AtomicBool::new(false),
        });
        proxy::serve(listener, google.clone(), Arc::new(Plan::new(1, 0.0)), 0);
        Self {
            dir: tempfile::tempdir().unwrap(),
            backing: Backing::Firestore { google, url },
        }
    }

    /// Moderator calls so far (the fake's, or Vision requests the proxy saw).
    pub fn moderator_calls(&self) -> usize {
        match &self.backing {
            Backing::Sqlite { moderator } => moderator.calls.load(Ordering::SeqCst),
            Backing::SqliteLocal { moderator } => moderator.runs.load(Ordering::SeqCst),
            Backing::Firestore { google, .. } => google.vision_calls.load(Ordering::SeqCst),
        }
    }

    /// From now on every read (`reads`) or write of the verdict index fails (SQLite: its
    /// table is gone, for both; Firestore: 503 on every attempt).
    pub fn break_index(&self, reads: bool) {
        match &self.backing {
            Backing::Sqlite { .. } | Backing::SqliteLocal { .. } => {
                let db = self.dir.path().join("data/pipeline.sqlite");
                let conn = rusqlite::Connection::open(db).unwrap();
                conn.execute_batch("DROP TABLE verdicts").unwrap();
            }
            Backing::Firestore { google, .. } if reads => {
                google.fail_index_reads.store(true, Ordering::SeqCst);
            }
            Backing::Firestore { google, .. } => {
                google.fail_index_writes.store(true, Ordering::SeqCst);
            }
        }
    }

    /// A server with `env` on this backing.
    pub async fn spawn(&self, env: &[(&str, &str)]) -> Running {
        image_pipeline::backends::install_tls_provider();
        let data_dir = self.dir.path().join("data").display().to_string();
        let mut all = vec![
            ("PIPELINE_LOCAL__DATA_DIR", data_dir.as_str()),
            ("PIPELINE_DERIVED__SIGNING_KEY", TEST_SIGNING_KEY),
        ];
        if let Backing::Firestore { url, .. } = &self.backing {
            all.extend([
                ("PIPELINE_RECORDS__BACKEND", "firestore"),
                ("PIPELINE_MODERATION__BACKEND", "vision"),
                ("PIPELINE_GCP__AUTH", "none"),
                ("PIPELINE_GCP__PROJECT_ID", "fakes-project"),
                ("PIPELINE_GCP__FIRESTORE_ENDPOINT", url.as_str()),
                ("PIPELINE_GCP__VISION_ENDPOINT", url.as_str()),
                ("PIPELINE_GCP__RETRY_INITIAL_BACKOFF_MS", "20"),
                ("PIPELINE_GCP__RETRY_BUDGET_SECS", "2"),
            ]);
        }
        all.extend_from_slice(env);
        let settings = Arc::new(test_settings(&all));
        let (mut backends, _local) = Backends::from_settings(&settings).await.unwrap();
        let store = Arc::new(MemoryStore::default());
        let publisher = Arc::new(MemoryPublisher::default());
        backends.store = store.clone();
        backends.publisher = publisher.clone();
        match &self.backing {
            Backing::Sqlite { moderator } => backends.moderator = Some(moderator.clone()),
            Backing::SqliteLocal { moderator } => {
                backends.moderator = Some(Arc::new(LocalFakeModerator(moderator.clone())));
            }
            Backing::Firestore { .. } => {}
        }
        let records = backends.records.clone();
        let app = Application::build_with(settings, backends).unwrap();
        let address = format!("http://127.0.0.1:{}", app.port());
        actix_web::rt::spawn(app.run_until_stopped());
        let app = TestApp {
            address,
            client: reqwest::Client::new(),
            store,
            // Unused: this server's records are the configured backend's (`records`).
            records: Arc::new(MemoryRecords::default()),
            publisher,
            moderator: None,
        };
        Running { app, records }
    }
}

impl Running {
    /// Uploads `bytes` as `name`, resizes it, and moderates the `image.resized` event (the
    /// default trigger); the verdict published in `image.moderated`.
    pub async fn moderate_resized(&self, name: &str, bytes: &[u8]) -> Moderation {
        let app = &self.app;
        let (_, status, body) = app
            .upload_and_notify("/resize", name, bytes, "image/jpeg")
            .await;
        assert_eq!(status, 200, "{body}");
        let resized = app
            .publisher
            .take()
            .into_iter()
            .find(|e| e.event_type.as_str() == "image.resized")
            .expect("image.resized was published");
        let (status, body) = app.deliver("/moderate", &resized, &next_event_id()).await;
        assert_eq!(
            (status, &body["outcome"]),
            (200, &"processed".into()),
            "{body}"
        );
        self.published_verdict()
    }

    /// Moderates the upload itself (`moderation.trigger = original`).
    pub async fn moderate_original(&self, name: &str, bytes: &[u8]) -> Moderation {
        let (info, _, _) = self
            .app
            .upload_and_notify("/resize", name, bytes, "image/jpeg")
            .await;
        let (status, body) = self
            .app
            .storage_event("/moderate", FINALIZED, &info, &next_event_id())
            .await;
        assert_eq!(
            (status, &body["outcome"]),
            (200, &"processed".into()),
            "{body}"
        );
        self.published_verdict()
    }

    fn published_verdict(&self) -> Moderation {
        self.app
            .publisher
            .take()
            .into_iter()
            .find_map(|e| match e.data.update {
                StageUpdate::Moderated { moderation } => Some(moderation),
                _ => None,
            })
            .expect("image.moderated was published")
    }

    pub async fn record(&self, name: &str) -> ImageRecord {
        let key = RecordKey::new("uploads", name);
        self.records.get(&key).await.unwrap().expect("a record")
    }
}

/// A red photo (the fake Vision calls red racy), different for each `seed`.
pub fn red_photo(seed: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(1200, 900, |x, y| {
        image::Rgb([220, ((x + y + seed) % 40) as u8, 20])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .unwrap();
    out
}

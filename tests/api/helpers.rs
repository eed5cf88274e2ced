//! `spawn_app()`: the real server on a random loopback port with in-memory seams, plus helpers
//! that send events the way Eventarc does (binary content mode) and make test images.

use crate::fakes::{FakeModerator, MemoryPublisher, MemoryRecords, MemoryStore};
use base64::Engine;
use image_pipeline::backends::{Backends, Moderator, ObjectStore};
use image_pipeline::config::{EnvMap, Settings};
use image_pipeline::domain::{ObjectInfo, ObjectMeta, PipelineEvent, SafeSearch};
use image_pipeline::startup::Application;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub const BUCKET: &str = "uploads";
pub const FINALIZED: &str = "google.cloud.storage.object.v1.finalized";
pub const DELETED: &str = "google.cloud.storage.object.v1.deleted";
pub const PUBLISHED: &str = "google.cloud.pubsub.topic.v1.messagePublished";

static EVENT_IDS: AtomicU64 = AtomicU64::new(1);

#[derive(Clone)]
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub store: Arc<MemoryStore>,
    pub records: Arc<MemoryRecords>,
    pub publisher: Arc<MemoryPublisher>,
    pub moderator: Option<Arc<FakeModerator>>,
}

/// Settings as the binary would load them from `env`, on a random loopback port.
pub fn test_settings(env: &[(&str, &str)]) -> Settings {
    let mut map: EnvMap = env
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    map.insert("PIPELINE_CONFIG_DIR".into(), "/nonexistent".into());
    map.insert("PIPELINE_SERVER__HOST".into(), "127.0.0.1".into());
    map.insert("PORT".into(), "0".into());
    let settings = Settings::load_from(&map).expect("test settings load");
    settings.validate().expect("test settings are valid");
    settings
}

/// The environment of a command run on `dir` in the local profile: no config folder, the
/// data dir inside `dir`, and no built-in model (verdicts stay `unmoderated`).
pub fn local_env(dir: &std::path::Path) -> EnvMap {
    let inside = |name: &str| dir.join(name).display().to_string();
    EnvMap::from([
        ("PIPELINE_CONFIG_DIR".to_owned(), inside("none")),
        ("PIPELINE_LOCAL__DATA_DIR".to_owned(), inside("data")),
        (
            "PIPELINE_MODERATION__MODEL_DIR".to_owned(),
            inside("no-model"),
        ),
    ])
}

pub async fn spawn_app(env: &[(&str, &str)]) -> TestApp {
    spawn_app_with_moderator(env, None).await
}

pub async fn spawn_app_with_moderator(env: &[(&str, &str)], answer: Option<SafeSearch>) -> TestApp {
    spawn_app_with_store(env, answer, |store| store as Arc<dyn ObjectStore>).await
}

/// Like [`spawn_app_with_moderator`], the server seeing the memory store through `wrap`
/// (a store that injects faults or races); the test still reads the memory store itself.
pub async fn spawn_app_with_store(
    env: &[(&str, &str)],
    answer: Option<SafeSearch>,
    wrap: impl FnOnce(Arc<MemoryStore>) -> Arc<dyn ObjectStore>,
) -> TestApp {
    image_pipeline::backends::install_tls_provider();
    let settings = Arc::new(test_settings(env));
    let store = Arc::new(MemoryStore::default());
    let records = Arc::new(MemoryRecords::default());
    let publisher = Arc::new(MemoryPublisher::default());
    let moderator = answer.map(|answer| {
        Arc::new(FakeModerator {
            answer,
            ..FakeModerator::default()
        })
    });
    let backends = Backends {
        store: wrap(store.clone()),
        records: records.clone(),
        publisher: publisher.clone(),
        moderator: moderator.clone().map(|m| m as Arc<dyn Moderator>),
        verdicts: None,
    };
    let app = Application::build_with(settings.clone(), backends).expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        store,
        records,
        publisher,
        moderator,
    }
}

pub fn next_event_id() -> String {
    format!("evt-{}", EVENT_IDS.fetch_add(1, Ordering::SeqCst))
}

/// The StorageObjectData body Cloud Storage sends, int64s as strings.
pub fn storage_data(info: &ObjectInfo) -> Value {
    json!({
        "kind": "storage#object",
        "bucket": info.bucket,
        "name": info.name,
        "generation": info.generation.to_string(),
        "metageneration": "1",
        "size": info.size_bytes.to_string(),
        "contentType": info.content_type,
        "metadata": info.metadata,
        "timeCreated": "2026-11-25T10:00:00.000Z",
    })
}

impl TestApp {
    /// POSTs a binary-mode CloudEvent; returns (status, JSON body).
    pub async fn post_event(
        &self,
        path: &str,
        ce_type: &str,
        source: &str,
        id: &str,
        data: &Value,
    ) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.address))
            .header("ce-id", id)
            .header("ce-source", source)
            .header("ce-specversion", "1.0")
            .header("ce-type", ce_type)
            .header("content-type", "application/json")
            .body(data.to_string())
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Uploads an object into the fake bucket and delivers its `finalized` event to `path`.
    pub async fn upload_and_notify(
        &self,
        path: &str,
        name: &str,
        body: &[u8],
        content_type: &str,
    ) -> (ObjectInfo, u16, Value) {
        let meta = ObjectMeta {
            content_type: content_type.into(),
            ..Default::default()
        };
        let info = self.store.insert(BUCKET, name, body, &meta);
        let (status, json) = self
            .storage_event(path, FINALIZED, &info, &next_event_id())
            .await;
        (info, status, json)
    }

    pub async fn storage_event(
        &self,
        path: &str,
        ce_type: &str,
        info: &ObjectInfo,
        id: &str,
    ) -> (u16, Value) {
        let source = format!(
            "//storage.googleapis.com/projects/_/buckets/{}",
            info.bucket
        );
        self.post_event(path, ce_type, &source, id, &storage_data(info))
            .await
    }

    /// Delivers one pipeline event to `path` as Eventarc's Pub/Sub trigger would.
    pub async fn deliver(&self, path: &str, event: &PipelineEvent, id: &str) -> (u16, Value) {
        let data = base64::engine::general_purpose::STANDARD.encode(event.data_json());
        let body = json!({
            "subscription": "projects/test/subscriptions/eventarc-sub",
            "message": {
                "data": data,
                "attributes": event.attributes(),
                "messageId": id,
                "message_id": id,
                "publishTime": "2026-11-25T10:00:01.000Z",
            }
        });
        let source = "//pubsub.googleapis.com/projects/test/topics/image-pipeline-events";
        self.post_event(path, PUBLISHED, source, id, &body).await
    }
}

/// A JPEG with a gradient, so resizes have real content.
pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([
            (x * 255 / width.max(1)) as u8,
            (y * 255 / height.max(1)) as u8,
            128,
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .expect("encode test jpeg");
    out
}

/// A PNG with an alpha gradient.
pub fn png_with_alpha(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([
            200,
            (y * 255 / height.max(1)) as u8,
            40,
            (x * 255 / width.max(1)) as u8,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode test png");
    out.into_inner()
}

/// Decoded dimensions of an encoded image.
pub fn dimensions(bytes: &[u8]) -> (u32, u32) {
    let img = image::load_from_memory(bytes).expect("output decodes");
    (img.width(), img.height())
}

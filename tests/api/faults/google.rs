//! What stands behind the proxy: Cloud Storage is a real emulator (fake-gcs-server, requests
//! forwarded as they are); Firestore, Pub/Sub and Vision are in-process fakes, stateful
//! enough for the service: Firestore get and commit with `exists`/`updateTime`
//! preconditions, update masks and REQUEST_TIME transforms; Pub/Sub publish; Vision
//! SafeSearch. Storage writes and deletes in the upload bucket, and every publish, are
//! reported to the [`EventSink`] (the Eventarc driver), as Google's services would.

use super::proxy::{HttpAnswer, HttpRequest, Upstream};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;

pub const FINALIZED: &str = "google.cloud.storage.object.v1.finalized";
pub const DELETED: &str = "google.cloud.storage.object.v1.deleted";

/// Where the fakes report what Eventarc would route.
pub trait EventSink: Send + Sync {
    /// An object in a watched bucket was written (`FINALIZED`) or deleted (`DELETED`).
    fn storage(&self, ce_type: &str, object: Value);
    /// A message was published to `topic`.
    fn published(&self, topic: &str, message_id: &str, data_base64: &str, attributes: &Value);
}

pub struct Document {
    pub fields: Map<String, Value>,
    create_time: String,
    update_time: String,
}

pub struct Google {
    pub gcs_url: String,
    upload_bucket: String,
    client: reqwest::Client,
    sink: std::sync::Arc<dyn EventSink>,
    /// Firestore documents by `collection/id`.
    pub documents: Mutex<BTreeMap<String, Document>>,
    clock: Mutex<(i64, u64)>,
}

impl Google {
    pub fn new(gcs_url: &str, upload_bucket: &str, sink: std::sync::Arc<dyn EventSink>) -> Self {
        Self {
            gcs_url: gcs_url.to_owned(),
            upload_bucket: upload_bucket.to_owned(),
            client: reqwest::Client::new(),
            sink,
            documents: Mutex::new(BTreeMap::new()),
            clock: Mutex::new((0, 0)),
        }
    }

    /// A strictly increasing RFC 3339 timestamp with microseconds (Firestore's updateTime),
    /// and a message id.
    fn tick(&self) -> (String, u64) {
        let mut clock = self.clock.lock().unwrap();
        let now = time::OffsetDateTime::now_utc();
        let micros = (now.unix_timestamp_nanos() / 1_000) as i64;
        clock.0 = micros.max(clock.0 + 1);
        clock.1 += 1;
        let at =
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(clock.0) * 1_000).unwrap();
        let text = format!(
            "{}.{:06}Z",
            at.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]"
            ))
            .unwrap(),
            at.microsecond()
        );
        (text, clock.1)
    }

    async fn storage(&self, request: HttpRequest) -> HttpAnswer {
        let deleting = (request.method == "DELETE").then(|| request.path().to_owned());
        let before = match &deleting {
            Some(path) => self
                .client
                .get(format!("{}{path}", self.gcs_url))
                .send()
                .await
                .ok(),
            None => None,
        };
        let before: Option<Value> = match before {
            Some(r) if r.status().is_success() => r.json().await.ok(),
            _ => None,
        };
        let mut forward = self.client.request(
            request.method.parse().unwrap(),
            format!("{}{}", self.gcs_url, request.target),
        );
        for (name, value) in &request.headers {
            let lower = name.to_ascii_lowercase();
            if !["host", "content-length", "connection"].contains(&lower.as_str()) {
                forward = forward.header(name, value);
            }
        }
        let response = match forward.body(request.body.clone()).send().await {
            Ok(response) => response,
            Err(e) => return HttpAnswer::error(502, "UNAVAILABLE", &format!("fake-gcs: {e}")),
        };
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter(|(k, _)| *k == "content-type" || *k == "location")
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let body = response.bytes().await.unwrap_or_default();
        let answer = HttpAnswer {
            status,
            headers,
            body,
        };
        if (200..300).contains(&status) {
            self.report_storage(&request, &answer, before);
        }
        answer
    }

    /// Cloud Storage fires its events once the write or delete happened, whether or not
    /// the caller hears the answer.
    fn report_storage(&self, request: &HttpRequest, answer: &HttpAnswer, before: Option<Value>) {
        let watched = |object: &Value| object["bucket"] == self.upload_bucket.as_str();
        if request.method == "POST" && request.path().starts_with("/upload/") {
            if let Ok(object) = serde_json::from_slice::<Value>(&answer.body)
                && watched(&object)
            {
                self.sink.storage(FINALIZED, object);
            }
        } else if let Some(object) = before.filter(|o| request.method == "DELETE" && watched(o)) {
            self.sink.storage(DELETED, object);
        }
    }

    fn firestore_get(&self, request: &HttpRequest) -> HttpAnswer {
        let key = document_key(request.path());
        let key = percent_encoding::percent_decode_str(&key)
            .decode_utf8_lossy()
            .into_owned();
        let documents = self.documents.lock().unwrap();
        match documents.get(&key) {
            Some(doc) => HttpAnswer::json(
                200,
                &json!({"name": key, "fields": doc.fields, "createTime": doc.create_time,
                        "updateTime": doc.update_time}),
            ),
            None => HttpAnswer::error(404, "NOT_FOUND", &format!("no document {key}")),
        }
    }

    fn firestore_commit(&self, request: &HttpRequest) -> HttpAnswer {
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return HttpAnswer::error(400, "INVALID_ARGUMENT", "commit body is not JSON");
        };
        let writes = body["writes"].as_array().cloned().unwrap_or_default();
        let (now, _) = self.tick();
        let mut documents = self.documents.lock().unwrap();
        for write in &writes {
            let key = document_key(write["update"]["name"].as_str().unwrap_or(""));
            let existing = documents.get(&key);
            let precondition = &write["currentDocument"];
            if precondition["exists"] == false && existing.is_some() {
                return HttpAnswer::error(409, "ALREADY_EXISTS", &format!("{key} exists"));
            }
            if let Some(want) = precondition["updateTime"].as_str() {
                match existing {
                    None => return HttpAnswer::error(404, "NOT_FOUND", &key),
                    Some(doc) if doc.update_time != want => {
                        return HttpAnswer::error(400, "FAILED_PRECONDITION", "stale updateTime");
                    }
                    Some(_) => {}
                }
            }
        }
        let results: Vec<Value> = writes
            .iter()
            .map(|write| {
                apply_write(&mut documents, write, &now);
                json!({"updateTime": now})
            })
            .collect();
        HttpAnswer::json(200, &json!({"writeResults": results, "commitTime": now}))
    }

    fn publish(&self, request: &HttpRequest) -> HttpAnswer {
        let topic = request
            .path()
            .rsplit('/')
            .next()
            .unwrap_or("")
            .trim_end_matches(":publish")
            .to_owned();
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return HttpAnswer::error(400, "INVALID_ARGUMENT", "publish body is not JSON");
        };
        let mut ids = Vec::new();
        for message in body["messages"].as_array().cloned().unwrap_or_default() {
            let id = self.tick().1.to_string();
            let data = message["data"].as_str().unwrap_or("");
            self.sink
                .published(&topic, &id, data, &message["attributes"]);
            ids.push(id);
        }
        HttpAnswer::json(200, &json!({ "messageIds": ids }))
    }
}

/// `collection/id` from a document name or a document URL path.
fn document_key(name: &str) -> String {
    name.split_once("/documents/")
        .map(|(_, rest)| rest.to_owned())
        .unwrap_or_default()
}

fn apply_write(documents: &mut BTreeMap<String, Document>, write: &Value, now: &str) {
    let key = document_key(write["update"]["name"].as_str().unwrap_or(""));
    let fields = write["update"]["fields"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let doc = documents.entry(key).or_insert_with(|| Document {
        fields: Map::new(),
        create_time: now.to_owned(),
        update_time: now.to_owned(),
    });
    match write["updateMask"]["fieldPaths"].as_array() {
        Some(mask) => {
            for path in mask.iter().filter_map(Value::as_str) {
                match fields.get(path) {
                    Some(value) => doc.fields.insert(path.to_owned(), value.clone()),
                    None => doc.fields.remove(path),
                };
            }
        }
        None => doc.fields = fields,
    }
    for transform in write["updateTransforms"].as_array().into_iter().flatten() {
        if transform["setToServerValue"] == "REQUEST_TIME" {
            let path = transform["fieldPath"].as_str().unwrap_or("").to_owned();
            doc.fields.insert(path, json!({ "timestampValue": now }));
        }
    }
    doc.update_time = now.to_owned();
}

/// SafeSearch from the pixels: a mostly red image is "racy" (the harness's flagged
/// uploads are red), anything else is safe.
fn vision(request: &HttpRequest) -> HttpAnswer {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let content = body["requests"][0]["image"]["content"]
        .as_str()
        .unwrap_or("");
    let Some(pixels) = STANDARD
        .decode(content)
        .ok()
        .and_then(|bytes| image::load_from_memory(&bytes).ok())
    else {
        let error = json!({"code": 3, "message": "Bad image data."});
        return HttpAnswer::json(200, &json!({"responses": [{"error": error}]}));
    };
    let rgb = pixels.to_rgb8();
    let n = u64::from(rgb.width()) * u64::from(rgb.height());
    let (red, green) = rgb.pixels().fold((0u64, 0u64), |(r, g), p| {
        (r + u64::from(p[0]), g + u64::from(p[1]))
    });
    let racy = if red / n.max(1) > 180 && green / n.max(1) < 80 {
        "VERY_LIKELY"
    } else {
        "VERY_UNLIKELY"
    };
    let annotation = json!({"adult": "VERY_UNLIKELY", "violence": "VERY_UNLIKELY",
                            "racy": racy, "spoof": "UNLIKELY", "medical": "UNLIKELY"});
    HttpAnswer::json(
        200,
        &json!({"responses": [{"safeSearchAnnotation": annotation}]}),
    )
}

#[async_trait]
impl Upstream for Google {
    async fn call(&self, request: HttpRequest) -> HttpAnswer {
        let path = request.path().to_owned();
        if path.starts_with("/storage/") || path.starts_with("/upload/") {
            self.storage(request).await
        } else if path.ends_with(":commit") {
            self.firestore_commit(&request)
        } else if path.contains("/documents/") && request.method == "GET" {
            self.firestore_get(&request)
        } else if path.ends_with(":publish") {
            self.publish(&request)
        } else if path.ends_with("images:annotate") {
            vision(&request)
        } else {
            HttpAnswer::error(404, "NOT_FOUND", &format!("the fakes do not serve {path}"))
        }
    }
}

/// Reads an object straight from fake-gcs-server (not through the proxy).
pub async fn read_object(gcs_url: &str, bucket: &str, name: &str) -> Option<Bytes> {
    let encode = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let url = format!(
        "{gcs_url}/storage/v1/b/{}/o/{}?alt=media",
        encode(bucket),
        encode(name)
    );
    let response = reqwest::get(url).await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.bytes().await.ok()
}

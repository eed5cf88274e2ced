//! Uploads to Cloud Storage (gcp-contracts.md §7.2): multipart (metadata and bytes in one
//! request) up to 8 MiB, resumable above, both carrying the write precondition as
//! `ifGenerationMatch` so a repeated event never overwrites. A 412 is returned as the
//! `Http` error; `GcsStore::put` turns it into `PutOutcome::ConditionNotMet`.

use super::http::with_query;
use super::retry::Idempotency;
use super::storage::{GcsStore, ObjectResource, PATH_SEGMENT};
use super::{Service, base_url};
use crate::backends::{BackendError, BackendResult};
use crate::domain::{ObjectMeta, WriteCondition};
use bytes::{BufMut, Bytes, BytesMut};
use percent_encoding::utf8_percent_encode;
use reqwest::header::{CONTENT_RANGE, CONTENT_TYPE, LOCATION};
use serde_json::json;

/// Above this, uploads are resumable (the Python client's `_MAX_MULTIPART_SIZE`).
pub(crate) const MAX_MULTIPART_BYTES: usize = 8 * 1024 * 1024;

impl GcsStore {
    pub(crate) async fn upload(
        &self,
        bucket: &str,
        name: &str,
        body: Bytes,
        meta: &ObjectMeta,
        condition: WriteCondition,
    ) -> BackendResult<ObjectResource> {
        // An empty content type would make an invalid multipart header; GCS's own default.
        let content_type = if meta.content_type.is_empty() {
            "application/octet-stream"
        } else {
            meta.content_type.as_str()
        };
        let mut metadata = json!({
            "name": name,
            "contentType": content_type,
            "metadata": meta.metadata,
        });
        if let Some(cache_control) = &meta.cache_control {
            metadata["cacheControl"] = json!(cache_control);
        }
        let mut query = vec![(
            "uploadType",
            if body.len() <= MAX_MULTIPART_BYTES {
                "multipart"
            } else {
                "resumable"
            }
            .to_owned(),
        )];
        match condition {
            WriteCondition::CreateOnly => query.push(("ifGenerationMatch", "0".to_owned())),
            WriteCondition::IfGenerationMatch(g) => {
                query.push(("ifGenerationMatch", g.to_string()));
            }
            // Rewriting the same derived bytes is harmless, so retries stay on.
            WriteCondition::Overwrite => {}
        }
        let url = format!(
            "{}/upload/storage/v1/b/{}/o",
            base_url(&self.ctx.settings.storage_endpoint),
            utf8_percent_encode(bucket, PATH_SEGMENT)
        );
        if body.len() <= MAX_MULTIPART_BYTES {
            self.multipart(&url, &query, &metadata, body, content_type)
                .await
        } else {
            self.resumable(&url, &query, &metadata, body, content_type)
                .await
        }
    }

    async fn multipart(
        &self,
        url: &str,
        query: &[(&str, String)],
        metadata: &serde_json::Value,
        body: Bytes,
        content_type: &str,
    ) -> BackendResult<ObjectResource> {
        let boundary = format!("image-pipeline-{:032x}", rand::random::<u128>());
        let payload = multipart_body(&boundary, metadata, &body, content_type);
        let answer = self
            .ctx
            .send(Service::Storage, Idempotency::Idempotent, || {
                self.ctx
                    .client
                    .post(with_query(url, query))
                    .header(
                        CONTENT_TYPE,
                        format!("multipart/related; boundary={boundary}"),
                    )
                    .body(payload.clone())
            })
            .await?;
        answer.json(Service::Storage)
    }

    /// Starts a session, then sends all bytes in one PUT (a single final chunk needs no
    /// 256 KiB alignment). A retried PUT resends from byte 0, which the session accepts.
    async fn resumable(
        &self,
        url: &str,
        query: &[(&str, String)],
        metadata: &serde_json::Value,
        body: Bytes,
        content_type: &str,
    ) -> BackendResult<ObjectResource> {
        let started = self
            .ctx
            .send(Service::Storage, Idempotency::Idempotent, || {
                self.ctx
                    .client
                    .post(with_query(url, query))
                    .header("X-Upload-Content-Type", content_type)
                    .header("X-Upload-Content-Length", body.len())
                    .json(metadata)
            })
            .await?;
        let session = started
            .headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| BackendError::Malformed {
                service: Service::Storage.display_name(),
                message: "resumable upload started without a Location header".to_owned(),
            })?;
        let total = body.len();
        let answer = self
            .ctx
            .send(Service::Storage, Idempotency::Idempotent, || {
                self.ctx
                    .client
                    .put(&session)
                    .header(CONTENT_TYPE, content_type)
                    .header(CONTENT_RANGE, format!("bytes 0-{}/{total}", total - 1))
                    .body(body.clone())
            })
            .await?;
        if answer.status.as_u16() == 308 {
            return Err(BackendError::Malformed {
                service: Service::Storage.display_name(),
                message: "resumable upload stayed incomplete after all bytes were sent".to_owned(),
            });
        }
        answer.json(Service::Storage)
    }
}

/// `multipart/related` with the JSON metadata part, then the media part (CRLF line ends).
pub(crate) fn multipart_body(
    boundary: &str,
    metadata: &serde_json::Value,
    body: &[u8],
    content_type: &str,
) -> Bytes {
    let mut out = BytesMut::with_capacity(body.len() + 512);
    out.put_slice(
        format!("--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n").as_bytes(),
    );
    out.put_slice(metadata.to_string().as_bytes());
    out.put_slice(format!("\r\n--{boundary}\r\nContent-Type: {content_type}\r\n\r\n").as_bytes());
    out.put_slice(body);
    out.put_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out.freeze()
}

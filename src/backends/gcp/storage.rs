//! Cloud Storage over the JSON API (gcp-contracts.md §7): metadata, downloads of a given
//! generation, ranged reads, conditional uploads (in `storage_upload.rs`) and deletes.
//! Object names travel percent-encoded as ONE path segment (`/` becomes `%2F`).
//! Every download is bounded: it asks for the stored bytes (`Accept-Encoding: gzip`, so a
//! gzip-encoded object is not transcoded and `Range` holds) and reads no more than it asked
//! for, inflating a gzip body under the same bound (`storage_download.rs`).

use super::http::{BodyLimit, with_query};
use super::retry::Idempotency;
use super::{GcpContext, Service, base_url};
use crate::backends::{BackendError, BackendResult, ObjectPage, ObjectStore};
use crate::domain::{ObjectInfo, ObjectMeta, ObjectRef, PutOutcome, WriteCondition};
use async_trait::async_trait;
use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{ACCEPT_ENCODING, RANGE};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Everything but RFC 3986 unreserved characters is encoded, `/` included.
pub(crate) const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Cloud Storage through its JSON API.
pub struct GcsStore {
    pub(crate) ctx: Arc<GcpContext>,
}

impl GcsStore {
    pub fn new(ctx: Arc<GcpContext>) -> Self {
        Self { ctx }
    }

    fn object_url(&self, bucket: &str, name: &str) -> String {
        format!(
            "{}/storage/v1/b/{}/o/{}",
            base_url(&self.ctx.settings.storage_endpoint),
            utf8_percent_encode(bucket, PATH_SEGMENT),
            utf8_percent_encode(name, PATH_SEGMENT)
        )
    }

    fn get_object(&self, obj: &ObjectRef, media: bool) -> reqwest::RequestBuilder {
        let mut query: Vec<(&str, String)> = Vec::new();
        if media {
            query.push(("alt", "media".to_owned()));
        }
        if let Some(generation) = obj.generation {
            query.push(("generation", generation.to_string()));
        }
        let request = self
            .ctx
            .client
            .get(with_query(&self.object_url(&obj.bucket, &obj.name), &query));
        match media {
            // The stored bytes: no decompressive transcoding (which would ignore Range).
            true => request.header(ACCEPT_ENCODING, "gzip"),
            false => request,
        }
    }

    /// At most `max_bytes` of the object's content (inflated), from byte 0; `range` asks
    /// an honest server to send no more than that.
    async fn download(
        &self,
        obj: &ObjectRef,
        range: Option<String>,
        max_bytes: u64,
    ) -> BackendResult<Bytes> {
        let build = || {
            let request = self.get_object(obj, true);
            match &range {
                Some(range) => request.header(RANGE, range),
                None => request,
            }
        };
        let limit = BodyLimit::AtMost(max_bytes);
        let answer = self
            .ctx
            .send_limited(Service::Storage, Idempotency::Idempotent, build, limit)
            .await
            .map_err(|e| not_found_as(e, obj))?;
        Ok(answer.body)
    }
}

#[async_trait]
impl ObjectStore for GcsStore {
    async fn stat(&self, obj: &ObjectRef) -> BackendResult<ObjectInfo> {
        let answer = self
            .ctx
            .send(Service::Storage, Idempotency::Idempotent, || {
                self.get_object(obj, false)
            })
            .await
            .map_err(|e| not_found_as(e, obj))?;
        let object: ObjectResource = answer.json(Service::Storage)?;
        object.into_info()
    }

    async fn read(&self, obj: &ObjectRef) -> BackendResult<Bytes> {
        self.download(obj, None, u64::MAX).await
    }

    /// Without `Range`: on a gzip-encoded object a range counts stored bytes, and a whole
    /// read must not be cut short silently. The bound stops it instead.
    async fn read_within(&self, obj: &ObjectRef, max_bytes: u64) -> BackendResult<Bytes> {
        let body = self
            .download(obj, None, max_bytes.saturating_add(1))
            .await?;
        crate::backends::whole_within(obj, body, max_bytes)
    }

    async fn read_prefix(&self, obj: &ObjectRef, max_bytes: u64) -> BackendResult<Bytes> {
        if max_bytes == 0 {
            return Ok(Bytes::new());
        }
        let range = format!("bytes=0-{}", max_bytes - 1);
        // A server may ignore Range and send it all: the bound stops the read, not the slice.
        match self.download(obj, Some(range), max_bytes).await {
            Ok(body) => Ok(body),
            // 416: the object is empty, so there is no byte 0 to start from.
            Err(BackendError::Http { status: 416, .. }) => Ok(Bytes::new()),
            Err(e) => Err(e),
        }
    }

    async fn put(
        &self,
        bucket: &str,
        name: &str,
        body: Bytes,
        meta: &ObjectMeta,
        condition: WriteCondition,
    ) -> BackendResult<PutOutcome> {
        let result = self.upload(bucket, name, body, meta, condition).await;
        match result {
            Ok(object) => Ok(PutOutcome::Written(object.into_info()?)),
            // 412: for CreateOnly the object already exists, i.e. an earlier delivery wrote it.
            Err(BackendError::Http { status: 412, .. }) => Ok(PutOutcome::ConditionNotMet),
            Err(e) => Err(e),
        }
    }

    async fn delete(&self, obj: &ObjectRef) -> BackendResult<bool> {
        let result = self
            .ctx
            .send(Service::Storage, Idempotency::Idempotent, || {
                let query: Vec<(&str, String)> = obj
                    .generation
                    .map(|g| ("generation", g.to_string()))
                    .into_iter()
                    .collect();
                self.ctx
                    .client
                    .delete(with_query(&self.object_url(&obj.bucket, &obj.name), &query))
            })
            .await;
        match result {
            Ok(_) => Ok(true),
            // Also what a retry sees when the first attempt deleted it but its answer was lost.
            Err(BackendError::Http { status: 404, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `objects.list` (`GET /storage/v1/b/BUCKET/o?prefix=&pageToken=`): live generations
    /// only (no `versions=true`), in name order.
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        page_token: Option<&str>,
    ) -> BackendResult<ObjectPage> {
        let url = format!(
            "{}/storage/v1/b/{}/o",
            base_url(&self.ctx.settings.storage_endpoint),
            utf8_percent_encode(bucket, PATH_SEGMENT)
        );
        let mut query: Vec<(&str, String)> = vec![("prefix", prefix.to_owned())];
        query.extend(page_token.map(|t| ("pageToken", t.to_owned())));
        let response = self
            .ctx
            .send(Service::Storage, Idempotency::Idempotent, || {
                self.ctx.client.get(with_query(&url, &query))
            })
            .await?;
        let page: ObjectList = response.json(Service::Storage)?;
        Ok(ObjectPage {
            objects: page
                .items
                .into_iter()
                .map(ObjectResource::into_info)
                .collect::<BackendResult<_>>()?,
            next_page_token: page.next_page_token.filter(|t| !t.is_empty()),
        })
    }
}

/// `objects.list`'s answer (an empty bucket has no `items` at all).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ObjectList {
    #[serde(default)]
    items: Vec<ObjectResource>,
    #[serde(default)]
    next_page_token: Option<String>,
}

/// 404 of an object means it is gone (deleted, or that generation was overwritten).
fn not_found_as(error: BackendError, obj: &ObjectRef) -> BackendError {
    match error {
        BackendError::Http { status: 404, .. } => BackendError::NotFound {
            what: obj.to_string(),
        },
        other => other,
    }
}

/// The fields of Cloud Storage's Object resource this service uses (int64 as strings).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ObjectResource {
    bucket: String,
    name: String,
    generation: String,
    #[serde(default)]
    size: Option<String>,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    md5_hash: Option<String>,
    #[serde(default)]
    metadata: Option<BTreeMap<String, String>>,
}

impl ObjectResource {
    pub(crate) fn into_info(self) -> BackendResult<ObjectInfo> {
        let malformed = |field: &str, value: &str| BackendError::Malformed {
            service: Service::Storage.display_name(),
            message: format!("object {field} {value:?} is not an integer"),
        };
        let generation = self
            .generation
            .parse()
            .map_err(|_| malformed("generation", &self.generation))?;
        let size_bytes = match &self.size {
            Some(size) => size.parse().map_err(|_| malformed("size", size))?,
            None => 0,
        };
        Ok(ObjectInfo {
            bucket: self.bucket,
            name: self.name,
            generation,
            size_bytes,
            content_type: self.content_type,
            md5_base64: self.md5_hash,
            metadata: self.metadata.unwrap_or_default(),
        })
    }
}

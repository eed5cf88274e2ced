//! Image records and the idempotency ledger in Firestore over REST v1 (gcp-contracts.md §5).
//! `apply` reads the document, merges with `ImageRecord::apply` (the domain owns the merge
//! rules) and commits ONE update write whose mask holds only the stage's fields, guarded by
//! the read's `updateTime` (or `exists=false`), re-reading on conflict.

use super::firestore_value::{RECORD_FIELDS, record_fields, record_from_fields};
use super::retry::Idempotency;
use super::storage::PATH_SEGMENT;
use super::{GcpContext, Service, base_url};
use crate::backends::{BackendError, BackendResult, Records};
use crate::domain::{ApplyResult, ImageRecord, RecordKey, StageEvent};
use async_trait::async_trait;
use percent_encoding::utf8_percent_encode;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;

/// The ledger collection when none is given (config `records.ledger_collection`).
pub const DEFAULT_LEDGER_COLLECTION: &str = "image-pipeline-ledger";
/// Read-merge-commit rounds before giving up under contention (answered as `retry`).
const MAX_CONFLICT_ROUNDS: u32 = 5;
/// How long a ledger entry is kept; a Firestore TTL policy on `expireAt` removes it.
const LEDGER_TTL: time::Duration = time::Duration::days(7);
/// gRPC ABORTED, reported when contention outlasts `MAX_CONFLICT_ROUNDS`.
const ABORTED_CODE: i32 = 10;

/// Records in Firestore: one document per source image plus a ledger of handled events.
pub struct FirestoreRecords {
    ctx: Arc<GcpContext>,
    collection: String,
    ledger_collection: String,
}

/// A document as read: its fields and the `updateTime` the precondition needs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Document {
    #[serde(default)]
    pub(super) fields: Map<String, Value>,
    update_time: String,
}

impl FirestoreRecords {
    /// Records in `collection`; the ledger goes to [`DEFAULT_LEDGER_COLLECTION`] unless
    /// [`Self::with_ledger_collection`] names another.
    pub fn new(ctx: Arc<GcpContext>, collection: &str) -> Self {
        Self {
            ctx,
            collection: collection.to_owned(),
            ledger_collection: DEFAULT_LEDGER_COLLECTION.to_owned(),
        }
    }

    /// The ledger collection (config `records.ledger_collection`).
    pub fn with_ledger_collection(mut self, ledger_collection: &str) -> Self {
        self.ledger_collection = ledger_collection.to_owned();
        self
    }

    /// `projects/P/databases/D/documents`, as resource names spell it.
    fn documents_root(&self) -> BackendResult<String> {
        Ok(format!(
            "projects/{}/databases/{}/documents",
            self.ctx.require_project()?,
            self.ctx.settings.firestore_database
        ))
    }

    pub(super) fn document_name(&self, collection: &str, id: &str) -> BackendResult<String> {
        Ok(format!("{}/{collection}/{id}", self.documents_root()?))
    }

    /// The REST URL of a document; the id is escaped as one path segment (`%` included).
    fn document_url(&self, collection: &str, id: &str) -> BackendResult<String> {
        Ok(format!(
            "{}/v1/{}/{}/{}",
            base_url(&self.ctx.settings.firestore_endpoint),
            self.documents_root()?,
            utf8_percent_encode(collection, PATH_SEGMENT),
            utf8_percent_encode(id, PATH_SEGMENT)
        ))
    }

    pub(super) async fn read(&self, collection: &str, id: &str) -> BackendResult<Option<Document>> {
        let url = self.document_url(collection, id)?;
        let result = self
            .ctx
            .send(Service::Firestore, Idempotency::Idempotent, || {
                self.ctx.client.get(&url)
            })
            .await;
        match result {
            Ok(answer) => Ok(Some(answer.json(Service::Firestore)?)),
            Err(BackendError::Http { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `documents:commit` with the given writes. Idempotent here: every write either has a
    /// precondition (a replay fails it and re-reads) or is a plain upsert of the same values.
    pub(super) async fn commit(&self, writes: Vec<Value>) -> BackendResult<()> {
        let url = format!(
            "{}/v1/{}:commit",
            base_url(&self.ctx.settings.firestore_endpoint),
            self.documents_root()?
        );
        let body = json!({ "writes": writes });
        self.ctx
            .send(Service::Firestore, Idempotency::Idempotent, || {
                self.ctx.client.post(&url).json(&body)
            })
            .await?;
        Ok(())
    }

    /// The one update write for a merged record (see the module header).
    fn record_write(
        &self,
        id: &str,
        record: &ImageRecord,
        event: &StageEvent,
        existing: Option<&Document>,
        write_all: bool,
    ) -> BackendResult<Value> {
        let all = record_fields(record);
        let mask: Vec<&str> = if write_all {
            RECORD_FIELDS.to_vec()
        } else {
            let mut mask = event.update.field_names().to_vec();
            mask.extend(["status", "lastEventId"]);
            mask
        };
        let fields: Map<String, Value> = all
            .into_iter()
            .filter(|(k, _)| mask.contains(&k.as_str()))
            .collect();
        let mut transforms =
            vec![json!({"fieldPath": "updatedAt", "setToServerValue": "REQUEST_TIME"})];
        let precondition = match existing {
            Some(doc) => json!({ "updateTime": doc.update_time }),
            None => {
                transforms
                    .push(json!({"fieldPath": "createdAt", "setToServerValue": "REQUEST_TIME"}));
                json!({ "exists": false })
            }
        };
        Ok(json!({
            "update": {
                "name": self.document_name(&self.collection, id)?,
                "fields": fields,
            },
            "updateMask": { "fieldPaths": mask },
            "updateTransforms": transforms,
            "currentDocument": precondition,
        }))
    }
}

/// A precondition that no longer holds: someone wrote in between (409 ABORTED), created the
/// document first (409 ALREADY_EXISTS), or deleted the one we read (404; without a read
/// document a 404 means a wrong project or database, which no re-read fixes).
fn is_conflict(error: &BackendError, had_document: bool) -> bool {
    match error {
        BackendError::Http { status: 409, .. } => true,
        BackendError::Http { status: 404, .. } => had_document,
        BackendError::Http {
            status: 400,
            message,
            ..
        } => message.starts_with("FAILED_PRECONDITION"),
        _ => false,
    }
}

/// The ledger document id: a digest, so any key is a valid id of fixed length.
pub(crate) fn ledger_id(done_key: &str) -> String {
    Sha256::digest(done_key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[async_trait]
impl Records for FirestoreRecords {
    async fn apply(&self, event: &StageEvent) -> BackendResult<ApplyResult> {
        let id = event.key.document_id();
        for round in 1..=MAX_CONFLICT_ROUNDS {
            let existing = self.read(&self.collection, &id).await?;
            let mut record = match &existing {
                Some(doc) => record_from_fields(&doc.fields),
                None => ImageRecord::new(&event.key, event.generation),
            };
            let generation_before = record.generation;
            if record.apply(event) == ApplyResult::Stale {
                return Ok(ApplyResult::Stale);
            }
            let write_all = existing.is_none() || event.generation != generation_before;
            let write = self.record_write(&id, &record, event, existing.as_ref(), write_all)?;
            match self.commit(vec![write]).await {
                Ok(()) => return Ok(ApplyResult::Applied),
                Err(e) if is_conflict(&e, existing.is_some()) => {
                    tracing::debug!(round, document = %id, "record changed under us, re-reading");
                }
                Err(e) => return Err(e),
            }
        }
        Err(BackendError::ItemError {
            service: Service::Firestore.display_name(),
            code: ABORTED_CODE,
            message: format!(
                "record {id} kept changing under concurrent writes ({MAX_CONFLICT_ROUNDS} rounds)"
            ),
            transient: true,
        })
    }

    async fn get(&self, key: &RecordKey) -> BackendResult<Option<ImageRecord>> {
        let doc = self.read(&self.collection, &key.document_id()).await?;
        Ok(doc.map(|d| record_from_fields(&d.fields)))
    }

    async fn is_done(&self, done_key: &str) -> BackendResult<bool> {
        let doc = self
            .read(&self.ledger_collection, &ledger_id(done_key))
            .await?;
        Ok(doc.is_some())
    }

    async fn mark_done(&self, done_key: &str) -> BackendResult<()> {
        let expire_at = (time::OffsetDateTime::now_utc() + LEDGER_TTL)
            .format(&Rfc3339)
            .map_err(|e| BackendError::Invalid(format!("could not format expireAt: {e}")))?;
        let write = json!({
            "update": {
                "name": self.document_name(&self.ledger_collection, &ledger_id(done_key))?,
                "fields": {
                    "key": { "stringValue": done_key },
                    "expireAt": { "timestampValue": expire_at },
                },
            },
            "updateTransforms": [
                { "fieldPath": "doneAt", "setToServerValue": "REQUEST_TIME" }
            ],
        });
        self.commit(vec![write]).await
    }
}

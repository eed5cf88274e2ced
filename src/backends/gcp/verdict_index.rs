//! The verdict index in Firestore (`records.verdict_collection`): one small document per
//! judgement, id [`VerdictKey::document_id`], written by a plain upsert (an equal key means
//! the same bytes judged on the same basis, so the last writer loses nothing) with
//! `judgedAt` as a server timestamp. Reads go through the records client's get, so they
//! share its retries and error classes (gcp-contracts.md §5.5).

use super::GcpContext;
use super::firestore::FirestoreRecords;
use super::firestore_value::{Fields, get_i64, get_str, integer, likelihoods, string};
use super::firestore_value::{read_likelihoods, read_verdict};
use crate::backends::{BackendResult, VerdictIndex};
use crate::domain::{IndexedVerdict, VerdictKey};
use async_trait::async_trait;
use serde_json::json;
use std::sync::Arc;

/// The verdict index in one Firestore collection.
pub struct FirestoreVerdicts {
    documents: FirestoreRecords,
    collection: String,
}

impl FirestoreVerdicts {
    pub fn new(ctx: Arc<GcpContext>, collection: &str) -> Self {
        Self {
            documents: FirestoreRecords::new(ctx, collection),
            collection: collection.to_owned(),
        }
    }
}

fn entry_fields(verdict: &IndexedVerdict) -> Fields {
    let mut f = Fields::new();
    f.insert("contentHash".into(), string(&verdict.content_hash));
    f.insert("basis".into(), string(&verdict.basis));
    f.insert("likelihoods".into(), likelihoods(&verdict.likelihoods));
    f.insert("verdict".into(), string(verdict.verdict.as_str()));
    f.insert("backend".into(), string(&verdict.backend));
    f.insert("fromRecord".into(), string(&verdict.from_record));
    f.insert("fromGeneration".into(), integer(verdict.from_generation));
    f
}

/// The entry a document holds; `None` when it lacks the likelihoods (not one of ours).
fn entry_from_fields(f: &Fields) -> Option<IndexedVerdict> {
    Some(IndexedVerdict {
        content_hash: get_str(f, "contentHash")?,
        basis: get_str(f, "basis")?,
        likelihoods: read_likelihoods(f, "likelihoods")?,
        verdict: read_verdict(f),
        backend: get_str(f, "backend").unwrap_or_default(),
        from_record: get_str(f, "fromRecord").unwrap_or_default(),
        from_generation: get_i64(f, "fromGeneration").unwrap_or_default(),
        judged_at: get_str(f, "judgedAt"),
    })
}

#[async_trait]
impl VerdictIndex for FirestoreVerdicts {
    async fn find(&self, key: &VerdictKey) -> BackendResult<Option<IndexedVerdict>> {
        let document = self
            .documents
            .read(&self.collection, &key.document_id())
            .await?;
        Ok(document
            .and_then(|d| entry_from_fields(&d.fields))
            .filter(|entry| entry.matches(key)))
    }

    async fn remember(&self, key: &VerdictKey, verdict: &IndexedVerdict) -> BackendResult<()> {
        let name = self
            .documents
            .document_name(&self.collection, &key.document_id())?;
        let write = json!({
            "update": { "name": name, "fields": entry_fields(verdict) },
            "updateTransforms": [
                { "fieldPath": "judgedAt", "setToServerValue": "REQUEST_TIME" }
            ],
        });
        self.documents.commit(vec![write]).await
    }
}

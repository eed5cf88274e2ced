//! The verdict index in SQLite (table `verdicts`, schema version 4): one row per
//! [`VerdictKey::document_id`] holding the entry as JSON, replaced on each write (an equal
//! key means the same bytes judged on the same basis). The local twin of the Firestore
//! collection `records.verdict_collection`.

use super::Shared;
use super::db::{self, sql_error};
use crate::backends::{BackendError, BackendResult, VerdictIndex};
use crate::domain::{IndexedVerdict, VerdictKey};
use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use std::sync::Arc;

pub(crate) struct SqliteVerdicts {
    shared: Arc<Shared>,
}

impl SqliteVerdicts {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

fn unreadable(context: &str, e: serde_json::Error) -> BackendError {
    BackendError::Malformed {
        service: "local verdict index",
        message: format!("{context}: {e}"),
    }
}

#[async_trait]
impl VerdictIndex for SqliteVerdicts {
    async fn find(&self, key: &VerdictKey) -> BackendResult<Option<IndexedVerdict>> {
        let key = key.clone();
        let context = "could not read the verdict index".to_owned();
        self.shared
            .db
            .call(context.clone(), move |conn| {
                let json: Option<String> = conn
                    .query_row(
                        "SELECT entry_json FROM verdicts WHERE doc_id = ?1",
                        params![key.document_id()],
                        |row| row.get(0),
                    )
                    .optional()
                    .map_err(sql_error(&context))?;
                let Some(json) = json else { return Ok(None) };
                let entry: IndexedVerdict =
                    serde_json::from_str(&json).map_err(|e| unreadable(&context, e))?;
                Ok(Some(entry).filter(|entry| entry.matches(&key)))
            })
            .await
    }

    async fn remember(&self, key: &VerdictKey, verdict: &IndexedVerdict) -> BackendResult<()> {
        let id = key.document_id();
        let context = "could not write the verdict index".to_owned();
        let now = db::now_rfc3339();
        let mut entry = verdict.clone();
        entry.judged_at = Some(now.clone());
        let json = serde_json::to_string(&entry).map_err(|e| unreadable(&context, e))?;
        self.shared
            .db
            .call(context.clone(), move |conn| {
                conn.execute(
                    "INSERT INTO verdicts (doc_id, entry_json, judged_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (doc_id) DO UPDATE SET
                        entry_json = excluded.entry_json, judged_at = excluded.judged_at",
                    params![id, json, now],
                )
                .map(|_| ())
                .map_err(sql_error(context))
            })
            .await
    }
}

//! Records and the idempotency ledger in SQLite. `apply` reads the record's JSON, merges with
//! [`ImageRecord::apply`] (the one place the merge rules live) and writes it back, all in one
//! `BEGIN IMMEDIATE` transaction, so concurrent stages (and processes) never lose an update.
//! Ledger entries older than [`LEDGER_TTL`] are deleted by [`prune_ledger`] (on open and
//! periodically by the delivery loop), as Firestore's TTL policy does on Google Cloud.

use super::Shared;
use super::db::{self, sql_error};
use crate::backends::{BackendError, BackendResult, Records};
use crate::domain::record::{ApplyResult, StageEvent};
use crate::domain::{ImageRecord, RecordKey};
use async_trait::async_trait;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use std::sync::Arc;

/// How long a ledger entry is kept: the Firestore ledger's `expireAt` (7 days), far past
/// Eventarc's 24 hours of redeliveries.
pub(crate) const LEDGER_TTL: time::Duration = time::Duration::days(7);

/// Deletes ledger entries (of every collection) written more than [`LEDGER_TTL`] before
/// `now`; the number deleted.
pub(crate) fn prune_ledger(
    conn: &rusqlite::Connection,
    now: time::OffsetDateTime,
) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM ledger WHERE done_at < ?1",
        params![db::rfc3339(now - LEDGER_TTL)],
    )
}

pub(crate) struct SqliteRecords {
    shared: Arc<Shared>,
}

impl SqliteRecords {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

fn read_record(
    conn: &rusqlite::Connection,
    collection: &str,
    key: &RecordKey,
) -> BackendResult<Option<ImageRecord>> {
    let context = format!(
        "could not read the record of gs://{}/{}",
        key.bucket, key.name
    );
    let json: Option<String> = conn
        .query_row(
            "SELECT record_json FROM records WHERE collection = ?1 AND doc_id = ?2",
            params![collection, key.document_id()],
            |row| row.get(0),
        )
        .optional()
        .map_err(sql_error(&context))?;
    json.map(|j| {
        serde_json::from_str(&j).map_err(|e| BackendError::Malformed {
            service: "local records",
            message: format!("{context}: stored JSON is unreadable: {e}"),
        })
    })
    .transpose()
}

#[async_trait]
impl Records for SqliteRecords {
    async fn apply(&self, event: &StageEvent) -> BackendResult<ApplyResult> {
        let collection = self.shared.records_collection.clone();
        let event = event.clone();
        let context = format!(
            "could not update the record of gs://{}/{}",
            event.key.bucket, event.key.name
        );
        self.shared
            .db
            .call(context.clone(), move |conn| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(sql_error(&context))?;
                let mut record = read_record(&tx, &collection, &event.key)?
                    .unwrap_or_else(|| ImageRecord::new(&event.key, event.generation));
                if record.apply(&event) == ApplyResult::Stale {
                    return Ok(ApplyResult::Stale);
                }
                let now = db::now_rfc3339();
                if record.created_at.is_none() {
                    record.created_at = Some(now.clone());
                }
                record.updated_at = Some(now.clone());
                let json = serde_json::to_string(&record).map_err(|e| BackendError::Malformed {
                    service: "local records",
                    message: format!("{context}: {e}"),
                })?;
                tx.execute(
                    "INSERT INTO records (collection, doc_id, bucket, name, record_json, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (collection, doc_id) DO UPDATE SET
                        record_json = excluded.record_json, updated_at = excluded.updated_at",
                    params![
                        collection,
                        event.key.document_id(),
                        event.key.bucket,
                        event.key.name,
                        json,
                        now
                    ],
                )
                .map_err(sql_error(&context))?;
                tx.commit().map_err(sql_error(&context))?;
                Ok(ApplyResult::Applied)
            })
            .await
    }

    async fn get(&self, key: &RecordKey) -> BackendResult<Option<ImageRecord>> {
        let collection = self.shared.records_collection.clone();
        let key = key.clone();
        self.shared
            .db
            .call("could not read a record".to_owned(), move |conn| {
                read_record(conn, &collection, &key)
            })
            .await
    }

    async fn is_done(&self, done_key: &str) -> BackendResult<bool> {
        let collection = self.shared.ledger_collection.clone();
        let done_key = done_key.to_owned();
        let context = "could not read the idempotency ledger".to_owned();
        self.shared
            .db
            .call(context.clone(), move |conn| {
                conn.query_row(
                    "SELECT 1 FROM ledger WHERE collection = ?1 AND done_key = ?2",
                    params![collection, done_key],
                    |_| Ok(()),
                )
                .optional()
                .map(|found| found.is_some())
                .map_err(sql_error(context))
            })
            .await
    }

    async fn mark_done(&self, done_key: &str) -> BackendResult<()> {
        let collection = self.shared.ledger_collection.clone();
        let done_key = done_key.to_owned();
        let context = "could not write the idempotency ledger".to_owned();
        self.shared
            .db
            .call(context.clone(), move |conn| {
                conn.execute(
                    "INSERT OR IGNORE INTO ledger (collection, done_key, done_at) VALUES (?1, ?2, ?3)",
                    params![collection, done_key, db::now_rfc3339()],
                )
                .map(|_| ())
                .map_err(sql_error(context))
            })
            .await
    }
}

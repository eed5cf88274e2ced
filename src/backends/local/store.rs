//! The folder store: objects are files under `buckets/<bucket>/`, their metadata rows live in
//! SQLite. A write goes to a temp file beside the target (fsynced), then, inside one
//! `BEGIN IMMEDIATE` transaction, the precondition is checked, the file renamed into place,
//! the metadata and the `finalized` deliveries written. So `CreateOnly` is a real check across
//! processes and a crash leaves either the old object or the new one, never half of one.
//!
//! File-system failures are classified by [`classify_io`]: a name the disk cannot hold (an
//! object where a folder of the name is needed, a name too long) is `Invalid`, permanent for
//! that name only; anything else, a full disk included, is `LocalUnavailable` (transient):
//! once the operator frees space the redelivered event succeeds, where a permanent answer
//! would have recorded a good image as failed for the machine's trouble.

use super::Shared;
use super::db::{self, sql_error};
use super::names::{self, TEMP_PREFIX};
use super::objects::{self, ObjectRow};
use crate::backends::{BackendError, BackendResult, ObjectPage, ObjectStore};
use crate::domain::{ObjectInfo, ObjectMeta, ObjectRef, PutOutcome, WriteCondition};
use crate::events::types::{STORAGE_DELETED, STORAGE_FINALIZED};
use async_trait::async_trait;
use base64::Engine;
use bytes::Bytes;
use md5::{Digest, Md5};
use rusqlite::TransactionBehavior;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Objects per page of `list` (Cloud Storage's default).
pub(crate) const LIST_PAGE_SIZE: usize = 1000;

pub(crate) struct LocalStore {
    shared: Arc<Shared>,
}

impl LocalStore {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// The live row of `obj`, `NotFound` if absent or another generation was asked for.
    async fn live_row(&self, obj: &ObjectRef) -> BackendResult<ObjectRow> {
        names::check_bucket(&obj.bucket)?;
        names::check_object_name(&obj.name)?;
        let (bucket, name) = (obj.bucket.clone(), obj.name.clone());
        let context = format!("could not read the metadata of {obj}");
        let row = self
            .shared
            .db
            .call(context.clone(), move |conn| {
                objects::get(conn, &bucket, &name).map_err(sql_error(context))
            })
            .await?;
        match row {
            Some(row) if obj.generation.is_none_or(|g| g == row.generation) => Ok(row),
            _ => Err(not_found(obj)),
        }
    }

    fn path_of(&self, bucket: &str, name: &str) -> PathBuf {
        names::object_path(&self.shared.data_dir, bucket, name)
    }
}

fn not_found(obj: &ObjectRef) -> BackendError {
    BackendError::NotFound {
        what: obj.to_string(),
    }
}

/// An I/O error as a backend error (see the module header for the classes).
pub(crate) fn classify_io(context: String) -> impl FnOnce(std::io::Error) -> BackendError {
    use std::io::ErrorKind;
    move |e| {
        let why = match e.kind() {
            // Creating the object's folders met a file: an object named like one of them.
            ErrorKind::AlreadyExists | ErrorKind::NotADirectory => {
                "an object is named like one of the folders this name needs"
            }
            ErrorKind::InvalidFilename => "the file system cannot hold a name this long",
            _ => {
                return BackendError::LocalUnavailable {
                    context,
                    message: e.to_string(),
                };
            }
        };
        BackendError::Invalid(format!("{context}: {why} ({e})"))
    }
}

#[async_trait]
impl ObjectStore for LocalStore {
    async fn stat(&self, obj: &ObjectRef) -> BackendResult<ObjectInfo> {
        Ok(self.live_row(obj).await?.info())
    }

    async fn read(&self, obj: &ObjectRef) -> BackendResult<Bytes> {
        let row = self.live_row(obj).await?;
        let path = self.path_of(&row.bucket, &row.name);
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Bytes::from(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(not_found(obj)),
            Err(e) => Err(classify_io(format!("could not read {}", path.display()))(e)),
        }
    }

    async fn read_prefix(&self, obj: &ObjectRef, max_bytes: u64) -> BackendResult<Bytes> {
        let row = self.live_row(obj).await?;
        let path = self.path_of(&row.bucket, &row.name);
        let context = format!("could not read {}", path.display());
        let read = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&path)?;
            let mut head = Vec::new();
            file.take(max_bytes).read_to_end(&mut head)?;
            Ok::<_, std::io::Error>(head)
        })
        .await
        .map_err(|e| BackendError::LocalUnavailable {
            context: context.clone(),
            message: e.to_string(),
        })?;
        match read {
            Ok(head) => Ok(Bytes::from(head)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(not_found(obj)),
            Err(e) => Err(classify_io(context)(e)),
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
        names::check_bucket(bucket)?;
        names::check_object_name(name)?;
        let shared = self.shared.clone();
        let target = self.path_of(bucket, name);
        let now = db::now_rfc3339();
        let mut row = ObjectRow {
            bucket: bucket.to_owned(),
            name: name.to_owned(),
            generation: 0,
            metageneration: 1,
            size_bytes: body.len() as u64,
            content_type: Some(meta.content_type.clone()).filter(|c| !c.is_empty()),
            md5_base64: Some(base64::engine::general_purpose::STANDARD.encode(Md5::digest(&body))),
            cache_control: meta.cache_control.clone(),
            metadata: meta.metadata.clone(),
            time_created: now.clone(),
            updated: now,
        };
        let context = format!("could not write gs://{bucket}/{name}");
        let outcome = tokio::task::spawn_blocking(move || {
            let temp = write_temp(&target, &body).map_err(classify_io(context.clone()))?;
            let result = commit_put(&shared, &mut row, &temp, &target, condition, &context);
            if !matches!(result, Ok(PutOutcome::Written(_))) {
                // The temp file is ours alone; nothing else ever sees it.
                let _ = std::fs::remove_file(&temp);
            }
            result
        })
        .await
        .map_err(|e| BackendError::LocalUnavailable {
            context: "local store write task".to_owned(),
            message: e.to_string(),
        })??;
        self.shared.wake.notify_one();
        Ok(outcome)
    }

    async fn delete(&self, obj: &ObjectRef) -> BackendResult<bool> {
        names::check_bucket(&obj.bucket)?;
        names::check_object_name(&obj.name)?;
        let shared = self.shared.clone();
        let target = self.path_of(&obj.bucket, &obj.name);
        let obj = obj.clone();
        let context = format!("could not delete {obj}");
        let deleted = self
            .shared
            .db
            .call(context.clone(), move |conn| {
                let sql = sql_error(context.clone());
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(sql_error(context.clone()))?;
                let row = objects::get(&tx, &obj.bucket, &obj.name).map_err(sql_error(&context))?;
                let Some(row) = row.filter(|r| obj.generation.is_none_or(|g| g == r.generation))
                else {
                    return Ok(false);
                };
                match std::fs::remove_file(&target) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(classify_io(context.clone())(e)),
                }
                objects::remove(&tx, &obj.bucket, &obj.name).map_err(sql_error(&context))?;
                let deleted_at = db::now_rfc3339();
                shared
                    .enqueue_storage(&tx, STORAGE_DELETED, &row, Some(&deleted_at))
                    .map_err(sql_error(&context))?;
                tx.commit().map_err(sql)?;
                Ok(true)
            })
            .await?;
        self.shared.wake.notify_one();
        Ok(deleted)
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        page_token: Option<&str>,
    ) -> BackendResult<ObjectPage> {
        names::check_bucket(bucket)?;
        let (bucket, prefix) = (bucket.to_owned(), prefix.to_owned());
        // The token is the last name of the previous page: names are unique and ordered.
        let after = page_token.unwrap_or_default().to_owned();
        let context = format!("could not list gs://{bucket}/{prefix}");
        let mut rows = self
            .shared
            .db
            .call(context.clone(), move |conn| {
                objects::list(conn, &bucket, &prefix, &after, LIST_PAGE_SIZE + 1)
                    .map_err(sql_error(context))
            })
            .await?;
        let more = rows.len() > LIST_PAGE_SIZE;
        rows.truncate(LIST_PAGE_SIZE);
        let next_page_token = more.then(|| rows.last().map(|r| r.name.clone())).flatten();
        let objects = rows.iter().map(ObjectRow::info).collect();
        Ok(ObjectPage {
            objects,
            next_page_token,
        })
    }
}

/// Writes `body` to a fresh temp file in the target's folder and fsyncs it.
fn write_temp(target: &Path, body: &[u8]) -> std::io::Result<PathBuf> {
    let dir = target
        .parent()
        .ok_or_else(|| std::io::Error::other("the object path has no folder"))?;
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!("{TEMP_PREFIX}{}", db::random_hex_id()));
    let mut file = std::fs::File::create_new(&temp)?;
    file.write_all(body)?;
    file.sync_all()?;
    Ok(temp)
}

/// The transaction of a write: precondition, generation, rename, metadata, deliveries.
fn commit_put(
    shared: &Shared,
    row: &mut ObjectRow,
    temp: &Path,
    target: &Path,
    condition: WriteCondition,
    context: &str,
) -> BackendResult<PutOutcome> {
    shared.db.call_blocking(|conn| {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_error(context))?;
        let live = objects::get(&tx, &row.bucket, &row.name).map_err(sql_error(context))?;
        let allowed = match condition {
            WriteCondition::CreateOnly => live.is_none(),
            WriteCondition::IfGenerationMatch(g) => {
                live.as_ref().is_some_and(|r| r.generation == g)
            }
            WriteCondition::Overwrite => true,
        };
        if !allowed {
            return Ok(PutOutcome::ConditionNotMet);
        }
        row.generation = objects::next_generation(&tx, db::now_us()).map_err(sql_error(context))?;
        std::fs::rename(temp, target).map_err(|e| {
            if target.is_dir() {
                BackendError::Invalid(format!(
                    "{context}: a folder of that name holds other objects ({e})"
                ))
            } else {
                classify_io(context.to_owned())(e)
            }
        })?;
        if let Some(dir) = target.parent() {
            // Makes the rename itself durable; best effort (not every platform allows it).
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        objects::upsert(&tx, row).map_err(sql_error(context))?;
        shared
            .enqueue_storage(&tx, STORAGE_FINALIZED, row, None)
            .map_err(sql_error(context))?;
        tx.commit().map_err(sql_error(context))?;
        Ok(PutOutcome::Written(row.info()))
    })
}

/// Moves every object's file from where data dirs before schema version 3 kept it (its raw
/// name) to its encoded place (`names::disk_segment`). Idempotent: a file already moved,
/// or not there, is left as it is. Folders emptied by a move stay (harmless).
pub(crate) fn move_to_disk_names(
    conn: &rusqlite::Connection,
    data_dir: &Path,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let mut select = conn.prepare("SELECT bucket, name FROM objects")?;
    let rows = select.query_map([], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })?;
    for row in rows {
        let (bucket, name) = row?;
        let (old, new) = (
            names::raw_object_path(data_dir, &bucket, &name),
            names::object_path(data_dir, &bucket, &name),
        );
        if old == new || new.exists() || !old.is_file() {
            continue;
        }
        let moved = new
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::rename(&old, &new));
        moved.with_context(|| {
            format!(
                "could not move {} to {} (its place on disk since schema version 3)",
                old.display(),
                new.display()
            )
        })?;
    }
    Ok(())
}

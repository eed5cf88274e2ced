//! The `objects` table: metadata of the live generation of each object, and the generation
//! counter. Only SQL on one open connection or transaction; files are `store`'s business.

use crate::domain::ObjectInfo;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeMap;

/// One object's metadata as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectRow {
    pub(crate) bucket: String,
    pub(crate) name: String,
    pub(crate) generation: i64,
    pub(crate) metageneration: i64,
    pub(crate) size_bytes: u64,
    pub(crate) content_type: Option<String>,
    pub(crate) md5_base64: Option<String>,
    pub(crate) cache_control: Option<String>,
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) time_created: String,
    pub(crate) updated: String,
}

impl ObjectRow {
    pub(crate) fn info(&self) -> ObjectInfo {
        ObjectInfo {
            bucket: self.bucket.clone(),
            name: self.name.clone(),
            generation: self.generation,
            size_bytes: self.size_bytes,
            content_type: self.content_type.clone(),
            md5_base64: self.md5_base64.clone(),
            metadata: self.metadata.clone(),
        }
    }
}

pub(crate) fn get(
    conn: &Connection,
    bucket: &str,
    name: &str,
) -> rusqlite::Result<Option<ObjectRow>> {
    conn.query_row(
        "SELECT generation, metageneration, size_bytes, content_type, md5_base64, cache_control,
                metadata_json, time_created, updated
         FROM objects WHERE bucket = ?1 AND name = ?2",
        params![bucket, name],
        |row| {
            let metadata_json: String = row.get(6)?;
            let size: i64 = row.get(2)?;
            Ok(ObjectRow {
                bucket: bucket.to_owned(),
                name: name.to_owned(),
                generation: row.get(0)?,
                metageneration: row.get(1)?,
                size_bytes: u64::try_from(size).unwrap_or_default(),
                content_type: row.get(3)?,
                md5_base64: row.get(4)?,
                cache_control: row.get(5)?,
                metadata: serde_json::from_str(&metadata_json).unwrap_or_default(),
                time_created: row.get(7)?,
                updated: row.get(8)?,
            })
        },
    )
    .optional()
}

pub(crate) fn upsert(conn: &Connection, row: &ObjectRow) -> rusqlite::Result<()> {
    let metadata_json = serde_json::to_string(&row.metadata).unwrap_or_else(|_| "{}".to_owned());
    conn.execute(
        "INSERT INTO objects (bucket, name, generation, metageneration, size_bytes, content_type,
                              md5_base64, cache_control, metadata_json, time_created, updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (bucket, name) DO UPDATE SET
            generation = excluded.generation, metageneration = excluded.metageneration,
            size_bytes = excluded.size_bytes, content_type = excluded.content_type,
            md5_base64 = excluded.md5_base64, cache_control = excluded.cache_control,
            metadata_json = excluded.metadata_json, time_created = excluded.time_created,
            updated = excluded.updated",
        params![
            row.bucket,
            row.name,
            row.generation,
            row.metageneration,
            i64::try_from(row.size_bytes).unwrap_or(i64::MAX),
            row.content_type,
            row.md5_base64,
            row.cache_control,
            metadata_json,
            row.time_created,
            row.updated,
        ],
    )?;
    Ok(())
}

pub(crate) fn remove(conn: &Connection, bucket: &str, name: &str) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM objects WHERE bucket = ?1 AND name = ?2",
        params![bucket, name],
    )?;
    Ok(())
}

/// The next generation: microseconds now, or one more than the last one handed out (in any
/// process) when the clock has not moved on, so generations always increase, as on GCS.
pub(crate) fn next_generation(conn: &Connection, now_us: i64) -> rusqlite::Result<i64> {
    let last: Option<i64> = conn
        .query_row(
            "SELECT value FROM counters WHERE name = 'generation'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    let next = last.map_or(now_us, |last| now_us.max(last + 1));
    conn.execute(
        "INSERT INTO counters (name, value) VALUES ('generation', ?1)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        params![next],
    )?;
    Ok(next)
}

/// Up to `limit` live objects of `bucket` whose names start with `prefix` and sort after
/// `after` (the listing's page token), in name order.
pub(crate) fn list(
    conn: &Connection,
    bucket: &str,
    prefix: &str,
    after: &str,
    limit: usize,
) -> rusqlite::Result<Vec<ObjectRow>> {
    let mut statement = conn.prepare(
        "SELECT name FROM objects
         WHERE bucket = ?1 AND substr(name, 1, length(?2)) = ?2 AND name > ?3
         ORDER BY name LIMIT ?4",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let names = statement
        .query_map(params![bucket, prefix, after, limit], |row| {
            row.get::<_, String>(0)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut rows = Vec::with_capacity(names.len());
    for name in names {
        rows.extend(get(conn, bucket, &name)?);
    }
    Ok(rows)
}

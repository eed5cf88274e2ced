//! The console's list of uploads: every source object in the upload bucket (the pipeline's
//! own outputs left out), newest first, with its record; through the seams only. An object
//! without a record is `pending` while it may still get one, and `skipped` when its bytes
//! are not an image (the record route keeps no record of those).

use crate::backends::BackendResult;
use crate::domain::naming::derived_prefix_of;
use crate::domain::{ImageRecord, ObjectInfo, ObjectRef, RecordKey};
use crate::handlers::guard::SNIFF_BYTES;
use crate::state::AppState;

/// Objects looked at per list, at most (a local console, not a bucket browser).
const MAX_LISTED: usize = 5_000;

/// The statuses the filter offers. A deleted upload is not listed (its object is gone), so
/// `deleted` is not among them.
pub(crate) const STATUSES: [&str; 5] = ["pending", "processed", "flagged", "failed", "skipped"];

/// One upload as the list shows it.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    pub(crate) info: ObjectInfo,
    pub(crate) record: Option<ImageRecord>,
    /// One of [`STATUSES`].
    pub(crate) status: &'static str,
}

/// Every upload (or those with `status`), newest first.
pub(crate) async fn uploads(state: &AppState, status: Option<&str>) -> BackendResult<Vec<Upload>> {
    let mut sources = source_objects(state).await?;
    sources.sort_by(|a, b| b.generation.cmp(&a.generation).then(a.name.cmp(&b.name)));
    let mut uploads = Vec::with_capacity(sources.len());
    for info in sources {
        let upload = upload_of(state, info).await?;
        if status.is_none_or(|s| s == upload.status) {
            uploads.push(upload);
        }
    }
    Ok(uploads)
}

/// One upload by name, if its object exists or a record of it does.
pub(crate) async fn upload(state: &AppState, name: &str) -> BackendResult<Option<Upload>> {
    let bucket = &state.settings.local.upload_bucket;
    match state
        .backends
        .store
        .stat(&ObjectRef::new(bucket, name))
        .await
    {
        Ok(info) => upload_of(state, info).await.map(Some),
        Err(e) if e.is_not_found() => {
            let record = state
                .backends
                .records
                .get(&RecordKey::new(bucket, name))
                .await?;
            Ok(record.map(|record| Upload {
                info: ObjectInfo {
                    bucket: record.bucket.clone(),
                    name: record.name.clone(),
                    generation: record.generation,
                    ..ObjectInfo::default()
                },
                status: record.status.as_str(),
                record: Some(record),
            }))
        }
        Err(e) => Err(e),
    }
}

async fn upload_of(state: &AppState, info: ObjectInfo) -> BackendResult<Upload> {
    let key = RecordKey::new(&info.bucket, &info.name);
    let record = state
        .backends
        .records
        .get(&key)
        .await?
        .filter(|r| r.generation >= info.generation);
    let status = match &record {
        Some(record) => record.status.as_str(),
        None if is_image(state, &info).await? => "pending",
        None => "skipped",
    };
    Ok(Upload {
        info,
        record,
        status,
    })
}

/// True when the object's first bytes are an image format the pipeline reads.
async fn is_image(state: &AppState, info: &ObjectInfo) -> BackendResult<bool> {
    let obj = ObjectRef::new(&info.bucket, &info.name).at_generation(info.generation);
    match state.backends.store.read_prefix(&obj, SNIFF_BYTES).await {
        Ok(head) => Ok(crate::imaging::sniff(&head).is_some()),
        // Overwritten or deleted since the listing: the next poll shows the new state.
        Err(e) if e.is_not_found() => Ok(true),
        Err(e) => Err(e),
    }
}

/// The upload bucket's objects that are not the pipeline's own outputs.
async fn source_objects(state: &AppState) -> BackendResult<Vec<ObjectInfo>> {
    let settings = &state.settings;
    let bucket = settings.local.upload_bucket.as_str();
    let prefixes = [
        settings.resize.prefix.as_str(),
        settings.thumbnail.prefix.as_str(),
        settings.moderation.quarantine_prefix.as_str(),
    ];
    let mut sources = Vec::new();
    let mut seen = 0;
    let mut page_token: Option<String> = None;
    loop {
        let page = state
            .backends
            .store
            .list(bucket, "", page_token.as_deref())
            .await?;
        seen += page.objects.len();
        sources.extend(
            page.objects
                .into_iter()
                .filter(|o| !o.is_derived() && derived_prefix_of(&prefixes, &o.name).is_none()),
        );
        page_token = page.next_page_token;
        if page_token.is_none() || seen >= MAX_LISTED {
            return Ok(sources);
        }
    }
}

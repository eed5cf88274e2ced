//! THE storage CloudEvent, as Eventarc delivers it for a Cloud Storage change
//! (gcp-contracts.md §1.1, §2.1): `source` names the bucket, `subject` is `objects/<name>`,
//! the `bucket` extension, and a `StorageObjectData` body. Built here only: the local event
//! router, `backfill` and Cloud Storage notifications all call [`storage_event`].
//! Owns the envelope's shape; must not know routes or HTTP.

use super::storage::StorageObjectData;
use crate::cloudevent::CloudEvent;
use bytes::Bytes;

const JSON: &str = "application/json";

/// The event of type `ty` (finalized, deleted, ...) about `object`, whose JSON is `data`
/// (a notification passes the object resource on as Google sent it).
pub fn storage_event_with_data(
    ty: &str,
    event_id: impl Into<String>,
    object: &StorageObjectData,
    data: Bytes,
    time: Option<String>,
) -> CloudEvent {
    let bucket = &object.bucket;
    let mut event = CloudEvent::new(
        event_id,
        format!("//storage.googleapis.com/projects/_/buckets/{bucket}"),
        ty,
        data,
        Some(JSON.to_owned()),
    )
    .with_subject(format!("objects/{}", object.name))
    .with_extension("bucket", bucket);
    event.time = time;
    event
}

/// The event of type `ty` about `object`, its body serialised from `object`.
pub fn storage_event(
    ty: &str,
    event_id: impl Into<String>,
    object: &StorageObjectData,
    time: Option<String>,
) -> CloudEvent {
    // Serialising a plain struct with string keys cannot fail.
    let data = Bytes::from(serde_json::to_vec(object).unwrap_or_default());
    storage_event_with_data(ty, event_id, object, data, time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::types::STORAGE_FINALIZED;

    #[test]
    fn a_storage_event_names_the_bucket_and_object_as_eventarc_does() {
        let mut object = StorageObjectData::new("uploads", "a b/c.jpg");
        object.generation = Some(7);

        let event = storage_event(STORAGE_FINALIZED, "e-1", &object, None);

        assert_eq!(
            event.source,
            "//storage.googleapis.com/projects/_/buckets/uploads"
        );
        assert_eq!(event.subject.as_deref(), Some("objects/a b/c.jpg"));
        assert_eq!(event.extensions["bucket"], "uploads");
        assert_eq!(event.media_type(), Some("application/json"));
        event.check().unwrap_or_else(|e| panic!("{e}"));
        let back: StorageObjectData = serde_json::from_slice(&event.data).unwrap_or_default();
        assert_eq!(back, object);
    }
}

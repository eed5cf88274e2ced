//! The events the local router emits, shaped as Eventarc sends them (gcp-contracts.md §1.1,
//! §2.1, §2.2): storage `finalized`/`deleted` with `ce-source`, `ce-subject`, `ce-bucket` and a
//! StorageObjectData body, and Pub/Sub `messagePublished` with a MessagePublishedData body.
//! Also which triggers match an event. It queues nothing itself; see `queue`.

use super::objects::ObjectRow;
use crate::cloudevent::CloudEvent;
use crate::config::LocalTrigger;
use crate::domain::PipelineEvent;
use crate::events::pubsub;
use crate::events::storage::StorageObjectData;
use crate::events::storage_event;
use crate::events::types::PUBSUB_PUBLISHED;
use bytes::Bytes;

const JSON: &str = "application/json";

/// The storage event (`ty` = finalized or deleted) for one object version.
pub(crate) fn storage_event(
    ty: &str,
    row: &ObjectRow,
    event_id: &str,
    time: &str,
    time_deleted: Option<&str>,
) -> CloudEvent {
    let mut data = StorageObjectData::new(&row.bucket, &row.name);
    data.generation = Some(row.generation);
    data.metageneration = Some(row.metageneration);
    data.size = Some(row.size_bytes);
    data.content_type.clone_from(&row.content_type);
    data.md5_hash.clone_from(&row.md5_base64);
    data.cache_control.clone_from(&row.cache_control);
    data.metadata.clone_from(&row.metadata);
    data.time_created = Some(row.time_created.clone());
    data.updated = Some(row.updated.clone());
    data.time_deleted = time_deleted.map(str::to_owned);
    data.storage_class = Some("STANDARD".to_owned());
    data.id = Some(format!("{}/{}/{}", row.bucket, row.name, row.generation));
    storage_event::storage_event(ty, event_id, &data, Some(time.to_owned()))
}

/// The `messagePublished` event one trigger (subscription) receives for a pipeline event.
/// As on Eventarc, the event id is the message id.
pub(crate) fn pubsub_event(
    event: &PipelineEvent,
    project_id: &str,
    topic: &str,
    trigger_path: &str,
    message_id: &str,
    publish_time: &str,
) -> CloudEvent {
    let subscription = format!(
        "projects/{project_id}/subscriptions/local-{}",
        trigger_path.trim_matches('/').replace('/', "-")
    );
    let body = pubsub::encode(
        &event.data_json(),
        &event.attributes(),
        message_id,
        publish_time,
        &subscription,
    );
    CloudEvent::new(
        message_id,
        format!("//pubsub.googleapis.com/projects/{project_id}/topics/{topic}"),
        PUBSUB_PUBLISHED,
        Bytes::from(body.to_string()),
        Some(JSON.to_owned()),
    )
    .with_time(publish_time)
}

/// Triggers for a storage event type on a bucket.
pub(crate) fn storage_triggers<'a>(
    triggers: &'a [LocalTrigger],
    ty: &'a str,
    bucket: &'a str,
) -> impl Iterator<Item = &'a LocalTrigger> + 'a {
    triggers
        .iter()
        .filter(move |t| t.event_type == ty && t.bucket.as_deref() == Some(bucket))
}

/// Triggers for messages published to a topic.
pub(crate) fn topic_triggers<'a>(
    triggers: &'a [LocalTrigger],
    topic: &'a str,
) -> impl Iterator<Item = &'a LocalTrigger> + 'a {
    triggers
        .iter()
        .filter(move |t| t.event_type == PUBSUB_PUBLISHED && t.topic.as_deref() == Some(topic))
}

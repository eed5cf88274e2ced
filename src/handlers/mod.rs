//! The four routes' domain logic (resize, thumbnail, moderate, record). Each route module
//! exposes a [`Route`]: its entry in the registry (`crate::routes`), which events it accepts
//! and how it handles one. Handlers speak only to the seams in `AppState::backends`; they
//! never see HTTP and never pick a status code. Route modules do not import each other: what
//! two of them share lives here, by concern: `ledger` (duplicates), `guard` (derived objects,
//! gone objects, non-images), `cpu` (CPU work and its options), `failure` (recording a
//! permanent failure), `derive` (resize and thumbnail); shared vocabulary lives in
//! `crate::domain`.

pub mod admit;
pub mod cpu;
pub mod derive;
pub mod failure;
pub mod guard;
pub mod ledger;
pub mod moderate;
pub mod moderation_policy;
mod moderation_subject;
mod outputs;
pub mod record;
pub mod resize;
pub mod shared_job;
mod step;
mod summary;
pub mod thumbnail;
pub mod verdict;
mod verdict_reuse;

pub use step::{Halt, Step, finish, halt};

use crate::cloudevent::CloudEvent;
use crate::config::Settings;
use crate::domain::{ObjectRef, PipelineEventData, PipelineEventType};
use crate::error::{Classify, HandlerError};
use crate::events::EventData;
use crate::events::storage::StorageObjectData;
use crate::routes::{RouteName, RouteSpec};
use crate::state::AppState;
use futures_util::future::BoxFuture;

/// A CloudEvent with its parsed Google payload.
#[derive(Debug, Clone)]
pub struct IncomingEvent {
    pub ce: CloudEvent,
    pub data: EventData,
    /// The imaging job the derive routes of this dispatch share (one download, one decode),
    /// when more than one of them runs for it (`shared_job`); `None` otherwise.
    pub shared: Option<std::sync::Arc<shared_job::SharedDerive>>,
}

impl IncomingEvent {
    /// The storage object a storage event names, pinned to the event's generation.
    pub fn storage_object(&self) -> Option<(&StorageObjectData, ObjectRef)> {
        match &self.data {
            EventData::Storage(data) => {
                let mut obj = ObjectRef::new(&data.bucket, &data.name);
                obj.generation = data.generation;
                Some((data, obj))
            }
            _ => None,
        }
    }

    /// The type of the pipeline event a Pub/Sub event carries, if it is one of ours.
    pub fn pipeline_event_type(&self) -> Option<PipelineEventType> {
        match &self.data {
            EventData::PubSub(data) => PipelineEventType::from_attributes(&data.message.attributes),
            _ => None,
        }
    }

    /// The pipeline event data a Pub/Sub event carries (permanent error if unreadable).
    pub fn pipeline_event_data(&self) -> Result<PipelineEventData, HandlerError> {
        let EventData::PubSub(data) = &self.data else {
            return Err(HandlerError::Permanent(anyhow::anyhow!(
                "not a Pub/Sub event"
            )));
        };
        let bytes = data
            .decoded_data()
            .permanent("the Pub/Sub message data is not valid base64")?;
        PipelineEventData::from_json(&bytes)
            .permanent("the pipeline event data is not the expected JSON")
    }
}

pub use crate::domain::outcome::Outcome;

pub type HandlerResult = Result<Outcome, HandlerError>;

/// One route of the registry, with its code.
pub struct Route {
    /// Name, path, accepted types and emitted events (`crate::routes`).
    pub spec: RouteSpec,
    /// Whether this route wants the event (used by `POST /` dispatch and to skip early).
    pub accepts: fn(&IncomingEvent, &Settings) -> bool,
    /// Handles one accepted event.
    pub handle: for<'a> fn(&'a IncomingEvent, &'a AppState) -> BoxFuture<'a, HandlerResult>,
    /// What a derive route makes (resize, thumbnail), so one dispatch can share their job.
    pub derive: Option<derive::SpecFn>,
}

impl Route {
    pub fn name(&self) -> &'static str {
        self.spec.name
    }
}

/// The code of the route `name` (its declaration is `name.spec()`).
pub fn route(name: RouteName) -> &'static Route {
    match name {
        RouteName::Resize => &resize::ROUTE,
        RouteName::Thumbnail => &thumbnail::ROUTE,
        RouteName::Moderate => &moderate::ROUTE,
        RouteName::Record => &record::ROUTE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_name_has_the_code_declared_for_it() {
        for name in RouteName::ALL {
            assert_eq!(route(name).spec, *name.spec());
        }
    }
}

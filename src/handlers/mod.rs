//! The four routes' domain logic (resize, thumbnail, moderate, record). Each route module
//! exposes a [`Route`]: its entry in the registry (`crate::routes`), which events it accepts
//! and how it handles one. Handlers speak only to the seams in `AppState::backends`; they
//! never see HTTP and never pick a status code. Route modules do not import each other: what
//! two of them share lives here, in `common` (ledger, sniffing, CPU work) or `derive`
//! (resize and thumbnail), and shared vocabulary lives in `crate::domain`.

pub mod admit;
pub mod common;
pub mod derive;
pub mod moderate;
pub mod moderation_policy;
mod moderation_subject;
pub mod record;
pub mod resize;
mod step;
pub mod thumbnail;
pub mod verdict;

pub use step::{Halt, Step, finish, halt};

use crate::cloudevent::CloudEvent;
use crate::config::Settings;
use crate::domain::{ObjectRef, PipelineEventData, PipelineEventType};
use crate::error::{Classify, HandlerError};
use crate::events::EventData;
use crate::events::storage::StorageObjectData;
use crate::routes::RouteSpec;
use crate::state::AppState;
use futures_util::future::BoxFuture;

/// A CloudEvent with its parsed Google payload.
#[derive(Debug, Clone)]
pub struct IncomingEvent {
    pub ce: CloudEvent,
    pub data: EventData,
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

/// What a handler did with an event (errors are [`HandlerError`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Work done.
    Processed(String),
    /// This event, or this object generation, was handled before; nothing done again.
    Duplicate(String),
    /// Not for this route (another event type, a derived object, not an image).
    Skipped { reason: String, warn: bool },
}

impl Outcome {
    pub fn processed(detail: impl Into<String>) -> Self {
        Self::Processed(detail.into())
    }

    pub fn duplicate(detail: impl Into<String>) -> Self {
        Self::Duplicate(detail.into())
    }

    /// Skipped as a matter of course (a derived object, another stage's event): logged at INFO.
    pub fn skipped(reason: impl Into<String>) -> Self {
        Self::Skipped {
            reason: reason.into(),
            warn: false,
        }
    }

    /// Skipped for a reason an operator may want to see (not an image): logged at WARN.
    pub fn skipped_warn(reason: impl Into<String>) -> Self {
        Self::Skipped {
            reason: reason.into(),
            warn: true,
        }
    }
}

pub type HandlerResult = Result<Outcome, HandlerError>;

/// One route of the registry, with its code.
pub struct Route {
    /// Name, path, accepted types and emitted events (`crate::routes`).
    pub spec: RouteSpec,
    /// Whether this route wants the event (used by `POST /` dispatch and to skip early).
    pub accepts: fn(&IncomingEvent, &Settings) -> bool,
    /// Handles one accepted event.
    pub handle: for<'a> fn(&'a IncomingEvent, &'a AppState) -> BoxFuture<'a, HandlerResult>,
}

impl Route {
    pub fn name(&self) -> &'static str {
        self.spec.name
    }
}

/// Every route the binary has, in registry order.
pub const ROUTES: [Route; 4] = [
    resize::ROUTE,
    thumbnail::ROUTE,
    moderate::ROUTE,
    record::ROUTE,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_in_the_registry_has_code_in_registry_order() {
        let specs: Vec<RouteSpec> = ROUTES.iter().map(|r| r.spec).collect();

        assert_eq!(specs, crate::routes::ALL);
    }
}

//! The four routes' domain logic (resize, thumbnail, moderate, record). Each handler module
//! exposes a [`Route`]: which events it accepts and how it handles one. Handlers speak only to
//! the seams in `AppState::backends`; they never see HTTP and never pick a status code.

pub mod common;
pub mod derive;
pub mod moderate;
pub mod moderation_policy;
pub mod record;
pub mod resize;
pub mod thumbnail;

use crate::cloudevent::CloudEvent;
use crate::config::Settings;
use crate::error::HandlerError;
use crate::events::EventData;
use crate::state::AppState;
use futures_util::future::BoxFuture;

/// A CloudEvent with its parsed Google payload.
#[derive(Debug, Clone)]
pub struct IncomingEvent {
    pub ce: CloudEvent,
    pub data: EventData,
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

/// One route of the registry.
pub struct Route {
    /// The route's name in `PIPELINE_ROUTES`, and its path (`/<name>`).
    pub name: &'static str,
    /// Whether this route wants the event (used by `POST /` dispatch and to skip early).
    pub accepts: fn(&IncomingEvent, &Settings) -> bool,
    /// Handles one accepted event.
    pub handle: for<'a> fn(&'a IncomingEvent, &'a AppState) -> BoxFuture<'a, HandlerResult>,
}

/// Every route the binary has, in registry order.
pub const ROUTES: [Route; 4] = [
    resize::ROUTE,
    thumbnail::ROUTE,
    moderate::ROUTE,
    record::ROUTE,
];

//! THE dispatcher: one CloudEvent and a [`Target`] in, one [`EventResponse`] out. Every way
//! an event arrives ends here: the HTTP routes and `POST /` (`router`), the push and
//! notification transports (turned into a CloudEvent by `router::ingress`), `backfill` and
//! `dead-letters replay` (which build the CloudEvent value themselves). So parsing the
//! payload, choosing routes, the handler deadline, combining results, the event span, the
//! log line and the metrics are the same for all of them. Routes of one `Target::All`
//! dispatch run one after the other and share one imaging job (`handlers::shared_job`).
//!
//! Owns: route selection and the answers given when no route runs. Must not see HTTP or
//! pick a status (that is `router::respond`), nor hold per-route logic (that is `handlers`).

use crate::cloudevent::CloudEvent;
use crate::domain::{Outcome, WireOutcome};
use crate::error::HandlerError;
use crate::events::{self, EventData, EventDataError};
use crate::handlers::shared_job::SharedDerive;
use crate::handlers::{self, HandlerResult, IncomingEvent, Route};
use crate::metrics::{self, journal::RunStart};
use crate::routes::RouteName;
use crate::state::AppState;
use crate::telemetry::TraceContext;
use serde::Serialize;
use std::time::{Duration, Instant};
use tracing::{Instrument, Span};

/// Which routes an event is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// One named route (`POST /resize`, a dead letter of the resize subscription).
    Route(RouteName),
    /// Every enabled route that accepts the event (`POST /`).
    All,
}

impl Target {
    /// `/resize` → that route, `/` (or nothing) → all; `None` for a path no route has.
    pub fn from_path(path: &str) -> Option<Self> {
        match path.trim_start_matches('/') {
            "" => Some(Self::All),
            name => RouteName::parse(name).map(Self::Route),
        }
    }

    /// The route label of the span and the metrics: the route's name, or `dispatch`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Route(name) => name.as_str(),
            Self::All => "dispatch",
        }
    }
}

/// Why no route ran for an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRun {
    /// Not a CloudEvent, or its data unreadable: `rejected`, and 400 if so configured.
    Malformed,
    /// A `ce-type` no route of this binary understands: `skipped` (with a warning) wherever
    /// it arrives. It can never be handled, so a dead letter of it is dropped on replay.
    UnknownType,
    /// The target route is not enabled or does not take this event: `skipped`.
    NoRoute,
}

/// What happened to one event, ready to be answered.
#[derive(Debug, Clone, Serialize)]
pub struct EventResponse {
    pub outcome: WireOutcome,
    pub route: String,
    pub detail: String,
    /// Set when no route ran, and why.
    #[serde(skip)]
    pub not_run: Option<NotRun>,
    /// A skip an operator should see (logged at WARN rather than INFO).
    #[serde(skip)]
    pub warn: bool,
    /// Per-route results of `POST /` dispatch.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<EventResponse>,
}

impl EventResponse {
    pub(crate) fn from_result(route: &str, result: HandlerResult) -> Self {
        let (outcome, detail, warn) = match result {
            Ok(Outcome::Processed(d)) => (WireOutcome::Processed, d, false),
            Ok(Outcome::Duplicate(d)) => (WireOutcome::Duplicate, d, false),
            Ok(Outcome::Skipped { reason, warn }) => (WireOutcome::Skipped, reason, warn),
            Err(e) if e.is_transient() => (WireOutcome::Retry, e.to_string(), false),
            Err(e) => (WireOutcome::Rejected, e.to_string(), false),
        };
        Self {
            outcome,
            route: route.to_owned(),
            detail,
            not_run: None,
            warn,
            results: Vec::new(),
        }
    }

    pub(crate) fn malformed(route: &str, detail: String) -> Self {
        Self {
            outcome: WireOutcome::Rejected,
            route: route.to_owned(),
            detail,
            not_run: Some(NotRun::Malformed),
            warn: false,
            results: Vec::new(),
        }
    }

    pub(crate) fn not_run(route: &str, why: NotRun, detail: String, warn: bool) -> Self {
        let outcome = if warn {
            Outcome::skipped_warn(detail)
        } else {
            Outcome::skipped(detail)
        };
        Self {
            not_run: Some(why),
            ..Self::from_result(route, Ok(outcome))
        }
    }

    /// A malformed event (which may be answered 400 instead of 200).
    pub fn is_malformed(&self) -> bool {
        self.not_run == Some(NotRun::Malformed)
    }

    /// A route ran and the event needs nothing more: the only answer on which a replay
    /// may remove (or acknowledge) a dead letter.
    pub fn route_succeeded(&self) -> bool {
        self.not_run.is_none() && self.outcome.is_settled()
    }
}

/// Handles an event built in this process (backfill, dead-letter replay): the same span,
/// log line and metrics as one that came over HTTP.
pub async fn handle(state: &AppState, event: CloudEvent, target: Target) -> EventResponse {
    handle_received(state, Ok(event), target, None).await
}

/// Handles what a transport received: the event, or why it carries none (`Err`, answered
/// as malformed), with the caller's trace context for the span.
pub async fn handle_received(
    state: &AppState,
    received: Result<CloudEvent, String>,
    target: Target,
    trace: Option<&TraceContext>,
) -> EventResponse {
    let _in_flight = state.metrics.in_flight();
    let span = event_span(target.label(), trace);
    let response = route_event(state, received, target)
        .instrument(span.clone())
        .await;
    span.in_scope(|| log_response(&response));
    response
}

async fn route_event(
    state: &AppState,
    received: Result<CloudEvent, String>,
    target: Target,
) -> EventResponse {
    let label = target.label();
    let incoming = match received.map_err(|e| EventResponse::malformed(label, e)) {
        Ok(ce) => parse_data(ce, label),
        Err(response) => Err(response),
    };
    let incoming = match incoming {
        Ok(incoming) => incoming,
        Err(response) => return counted(state, label, response),
    };
    match target {
        Target::Route(name) => match taken_by(state, name, &incoming) {
            Ok(route) => run_route(route, &incoming, state).await,
            Err(response) => counted(state, label, response),
        },
        Target::All => {
            let routes: Vec<&'static Route> = enabled_routes(state)
                .filter(|r| (r.accepts)(&incoming, &state.settings))
                .collect();
            // One download and one decode for resize and thumbnail together.
            let incoming = IncomingEvent {
                shared: SharedDerive::for_routes(&routes),
                ..incoming
            };
            let mut results = Vec::new();
            for route in routes {
                results.push(run_route(route, &incoming, state).await);
            }
            match results.is_empty() {
                true => counted(state, label, combine(&incoming.ce.ty, results)),
                false => combine(&incoming.ce.ty, results),
            }
        }
    }
}

/// The enabled routes, in registry order.
pub fn enabled_routes(state: &AppState) -> impl Iterator<Item = &'static Route> + '_ {
    RouteName::ALL
        .into_iter()
        .filter(|name| state.settings.route_enabled(name.as_str()))
        .map(handlers::route)
}

/// The route `name` if it is enabled and takes the event; else the answer instead.
fn taken_by(
    state: &AppState,
    name: RouteName,
    incoming: &IncomingEvent,
) -> Result<&'static Route, EventResponse> {
    let route = handlers::route(name);
    if !state.settings.route_enabled(name.as_str()) {
        let detail = format!("the {name} route is not enabled (routes)");
        return Err(EventResponse::not_run(
            name.as_str(),
            NotRun::NoRoute,
            detail,
            true,
        ));
    }
    if !(route.accepts)(incoming, &state.settings) {
        let detail = format!("the {name} route does not handle {} events", incoming.ce.ty);
        return Err(EventResponse::not_run(
            name.as_str(),
            NotRun::NoRoute,
            detail,
            false,
        ));
    }
    Ok(route)
}

/// `POST /` answers with the most serious of its routes' outcomes (retry > rejected > ...).
pub(crate) fn combine(ce_type: &str, results: Vec<EventResponse>) -> EventResponse {
    let Some(worst) = results.iter().map(|r| r.outcome).max() else {
        let detail = format!("no enabled route handles {ce_type} events");
        return EventResponse::not_run("dispatch", NotRun::NoRoute, detail, true);
    };
    let routes: Vec<&str> = results.iter().map(|r| r.route.as_str()).collect();
    let details: Vec<String> = results
        .iter()
        .map(|r| format!("{}: {}", r.route, r.detail))
        .collect();
    EventResponse {
        outcome: worst,
        route: routes.join(","),
        detail: details.join("; "),
        not_run: None,
        warn: false,
        results,
    }
}

/// Counts an event answered without running a route (malformed, not accepted).
fn counted(state: &AppState, label: &'static str, response: EventResponse) -> EventResponse {
    state.metrics.event(label, response.outcome, Duration::ZERO);
    response
}

/// Runs one route's handler under the deadline, timed and counted by route and outcome.
async fn run_route(route: &Route, incoming: &IncomingEvent, state: &AppState) -> EventResponse {
    let started = Instant::now();
    let deadline = Duration::from_secs(state.settings.server.handler_deadline_secs);
    let flight = state.journal.begin(run_start(route.name(), incoming));
    let handler = metrics::ROUTE.scope(route.name(), (route.handle)(incoming, state));
    let result = match tokio::time::timeout(deadline, handler).await {
        Ok(result) => result,
        Err(_) => Err(HandlerError::Transient(anyhow::anyhow!(
            "the {} route did not finish within server.handler_deadline_secs = {}",
            route.name(),
            deadline.as_secs()
        ))),
    };
    let response = EventResponse::from_result(route.name(), result);
    state
        .metrics
        .event(route.name(), response.outcome, started.elapsed());
    state
        .journal
        .finish(flight, response.outcome, &response.detail);
    response
}

/// What the journal notes of a run: the event, and the source image it is about (a storage
/// event's object, or the source a derived object's metadata names; a pipeline event's image).
fn run_start(route: &str, incoming: &IncomingEvent) -> RunStart {
    let (bucket, name) = match &incoming.data {
        EventData::Storage(data) => {
            let source = data.metadata.get(crate::domain::object::SOURCE_NAME_KEY);
            (data.bucket.clone(), source.unwrap_or(&data.name).clone())
        }
        EventData::PubSub(_) => incoming
            .pipeline_event_data()
            .map(|d| (d.bucket, d.name))
            .unwrap_or_default(),
        _ => Default::default(),
    };
    let event_type = match incoming.pipeline_event_type() {
        Some(ty) => format!("{} (Pub/Sub)", ty.as_str()),
        None => incoming.ce.ty.clone(),
    };
    RunStart {
        event_id: incoming.ce.id.clone(),
        event_type,
        route: route.to_owned(),
        bucket,
        name,
    }
}

/// Reads the event's payload; `Err` is the answer to give instead.
fn parse_data(ce: CloudEvent, label: &str) -> Result<IncomingEvent, EventResponse> {
    let span = Span::current();
    span.record("ce.id", ce.id.as_str());
    span.record("ce.type", ce.ty.as_str());
    span.record("ce.source", ce.source.as_str());
    match events::parse(&ce) {
        Ok(data) => Ok(IncomingEvent {
            ce,
            data,
            shared: None,
        }),
        Err(EventDataError::UnknownType { ty }) => Err(EventResponse::not_run(
            label,
            NotRun::UnknownType,
            format!("no route of this service handles events of type {ty:?}"),
            true,
        )),
        Err(e) => Err(EventResponse::malformed(
            label,
            format!("event data could not be read: {e}"),
        )),
    }
}

fn event_span(label: &str, trace: Option<&TraceContext>) -> Span {
    // At ERROR level so a quiet filter (`warn`, as `process` uses) still keeps the span and
    // with it `ce.id`, `ce.type` and the trace on the lines it does print.
    tracing::error_span!(
        "event",
        route = label,
        "ce.id" = tracing::field::Empty,
        "ce.type" = tracing::field::Empty,
        "ce.source" = tracing::field::Empty,
        trace_id = trace.map(|t| t.trace_id.as_str()),
        span_id = trace.and_then(|t| t.span_id.as_deref()),
        trace_sampled = trace.map(|t| t.sampled),
    )
}

fn log_response(response: &EventResponse) {
    let EventResponse {
        outcome, detail, ..
    } = response;
    match outcome {
        WireOutcome::Processed | WireOutcome::Duplicate => {
            tracing::info!(outcome = ?outcome, "Event {outcome:?}: {detail}")
        }
        WireOutcome::Skipped if response.warn => {
            tracing::warn!(outcome = "skipped", "Event skipped: {detail}")
        }
        WireOutcome::Skipped => tracing::info!(outcome = "skipped", "Event skipped: {detail}"),
        WireOutcome::Rejected => {
            tracing::error!(outcome = "rejected", "Event rejected: {detail}")
        }
        WireOutcome::Retry => tracing::warn!(outcome = "retry", "Event will be retried: {detail}"),
    }
}

pub mod replay;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

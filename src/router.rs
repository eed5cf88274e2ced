//! The route table and its HTTP face: mounts the enabled routes (a route not in
//! `PIPELINE_ROUTES` is not mounted, so it answers 404), dispatches `POST /` by `ce-type`, and
//! holds [`respond`], the ONE function that turns an outcome into an HTTP status and body.
//! It contains no per-route logic. `upload` is the local profile's upload endpoint.

pub(crate) mod body_deadline;
pub(crate) mod status;
pub(crate) mod upload;

use crate::cloudevent::CloudEvent;
use crate::config::{MalformedStatus, Profile};
use crate::events::{self, EventDataError};
use crate::handlers::{HandlerResult, IncomingEvent, Outcome, ROUTES, Route};
use crate::metrics;
use crate::state::AppState;
use crate::telemetry::TraceContext;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use std::time::Duration;
use tracing::{Instrument, Span};

/// The outcome names on the wire (design.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WireOutcome {
    Skipped,
    Duplicate,
    Processed,
    Rejected,
    Retry,
}

impl WireOutcome {
    /// The name on the wire (`processed`, `retry`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Skipped => "skipped",
            Self::Duplicate => "duplicate",
            Self::Processed => "processed",
            Self::Rejected => "rejected",
            Self::Retry => "retry",
        }
    }
}

/// What happened to one event, ready to be answered.
#[derive(Debug, Clone, Serialize)]
pub struct EventResponse {
    pub outcome: WireOutcome,
    pub route: String,
    pub detail: String,
    /// Set for a malformed event (which may be answered 400 instead of 200).
    #[serde(skip)]
    pub malformed: bool,
    /// A skip an operator should see (logged at WARN rather than INFO).
    #[serde(skip)]
    pub warn: bool,
    /// Per-route results of `POST /` dispatch.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<EventResponse>,
}

impl EventResponse {
    fn from_result(route: &str, result: HandlerResult) -> Self {
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
            malformed: false,
            warn,
            results: Vec::new(),
        }
    }

    fn malformed(route: &str, detail: String) -> Self {
        Self {
            outcome: WireOutcome::Rejected,
            route: route.to_owned(),
            detail,
            malformed: true,
            warn: false,
            results: Vec::new(),
        }
    }

    fn skipped(route: &str, detail: String, warn: bool) -> Self {
        let outcome = if warn {
            Outcome::skipped_warn(detail)
        } else {
            Outcome::skipped(detail)
        };
        Self::from_result(route, Ok(outcome))
    }
}

/// THE outcome → HTTP mapping: `retry` is 503 (Eventarc redelivers); everything else is 200
/// (acked), except a malformed event when `server.malformed_status = 400`
/// (gcp-contracts.md §0.1-2, §3.3).
pub fn respond(response: &EventResponse, malformed_status: MalformedStatus) -> HttpResponse {
    let status = match response.outcome {
        WireOutcome::Retry => StatusCode::SERVICE_UNAVAILABLE,
        WireOutcome::Rejected
            if response.malformed && malformed_status == MalformedStatus::BadRequest =>
        {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::OK,
    };
    HttpResponse::build(status).json(response)
}

/// Mounts `/healthz`, every enabled route and `POST /`.
pub fn configure(cfg: &mut web::ServiceConfig, state: &AppState) {
    let limit = state.settings.server.body_limit_bytes;
    cfg.app_data(web::Data::new(state.clone()))
        .app_data(web::PayloadConfig::new(limit))
        .route("/healthz", web::get().to(healthz))
        .route("/metrics", web::get().to(metrics_text))
        .route("/", web::post().to(dispatch));
    // Uploads over HTTP start the local pipeline (`curl -T`); never mounted under `gcp`.
    if state.settings.profile == Profile::Local && state.local.is_some() {
        cfg.configure(upload::configure_upload_route)
            .configure(crate::console::configure);
    }
    if state.settings.profile == Profile::Local || state.settings.server.status_api {
        cfg.configure(status::configure_status_route);
    }
    for route in enabled_routes(state) {
        let path = route.spec.path();
        cfg.route(
            &path,
            web::post().to(
                move |req: HttpRequest, body: web::Bytes, state: web::Data<AppState>| {
                    handle_one(req, body, state, route)
                },
            ),
        );
    }
}

fn enabled_routes(state: &AppState) -> impl Iterator<Item = &'static Route> + '_ {
    ROUTES
        .iter()
        .filter(|r| state.settings.route_enabled(r.name()))
}

async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let routes: Vec<&str> = enabled_routes(&state).map(Route::name).collect();
    HttpResponse::Ok().json(serde_json::json!({
        "status": "ok",
        "routes": routes,
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// Prometheus text exposition (see `metrics.rs`; scraping on Cloud Run: README).
async fn metrics_text(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(&state.local).await)
}

async fn handle_one(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    route: &'static Route,
) -> HttpResponse {
    let _in_flight = state.metrics.in_flight();
    let span = event_span(&req, route.name());
    let response = async {
        let incoming = match parse_event(&req, body, route.name()) {
            Ok(incoming) => incoming,
            Err(response) => return counted(&state, route.name(), response),
        };
        if !(route.accepts)(&incoming, &state.settings) {
            let detail = format!(
                "the {} route does not handle {} events",
                route.name(),
                incoming.ce.ty
            );
            let response = EventResponse::skipped(route.name(), detail, false);
            return counted(&state, route.name(), response);
        }
        run_route(route, &incoming, &state).await
    }
    .instrument(span.clone())
    .await;
    span.in_scope(|| log_response(&response));
    respond(&response, state.settings.server.malformed_status)
}

async fn dispatch(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let _in_flight = state.metrics.in_flight();
    let span = event_span(&req, "dispatch");
    let response = async {
        let incoming = match parse_event(&req, body, "dispatch") {
            Ok(incoming) => incoming,
            Err(response) => return counted(&state, "dispatch", response),
        };
        let mut results = Vec::new();
        for route in enabled_routes(&state).filter(|r| (r.accepts)(&incoming, &state.settings)) {
            results.push(run_route(route, &incoming, &state).await);
        }
        if results.is_empty() {
            return counted(&state, "dispatch", combine(&incoming.ce.ty, results));
        }
        combine(&incoming.ce.ty, results)
    }
    .instrument(span.clone())
    .await;
    span.in_scope(|| log_response(&response));
    respond(&response, state.settings.server.malformed_status)
}

/// Handles one event as a POST to `path` would, without HTTP: for the CLI's replays and
/// backfill (same parsing, route choice, deadline and metrics as the server).
pub async fn handle_in_process(
    state: &AppState,
    path: &str,
    headers: &actix_web::http::header::HeaderMap,
    body: web::Bytes,
) -> EventResponse {
    let name = path.trim_start_matches('/');
    let ce = match events::push::from_http(headers, body) {
        Ok(ce) => ce,
        Err(e) => return EventResponse::malformed(name, format!("malformed CloudEvent: {e}")),
    };
    let incoming = match events::parse(&ce) {
        Ok(data) => IncomingEvent { ce, data },
        Err(e) => return EventResponse::malformed(name, format!("event data: {e}")),
    };
    let mut results = Vec::new();
    for route in enabled_routes(state).filter(|r| name.is_empty() || r.name() == name) {
        if (route.accepts)(&incoming, &state.settings) {
            results.push(run_route(route, &incoming, state).await);
        }
    }
    match (name, results.len()) {
        ("", _) | (_, 1) => combine(&incoming.ce.ty, results),
        _ => EventResponse::skipped(
            name,
            format!("no enabled route {path} handles {} events", incoming.ce.ty),
            true,
        ),
    }
}

/// `POST /` answers with the most serious of its routes' outcomes (retry > rejected > ...).
fn combine(ce_type: &str, results: Vec<EventResponse>) -> EventResponse {
    let Some(worst) = results.iter().map(|r| r.outcome).max() else {
        let detail = format!("no enabled route handles {ce_type} events");
        return EventResponse::skipped("dispatch", detail, true);
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
        malformed: false,
        warn: false,
        results,
    }
}

/// Counts an event answered without running a route (malformed, not accepted).
fn counted(state: &AppState, route: &'static str, response: EventResponse) -> EventResponse {
    state.metrics.event(route, response.outcome, Duration::ZERO);
    response
}

/// Runs one route's handler under the deadline, timed and counted by route and outcome.
async fn run_route(route: &Route, incoming: &IncomingEvent, state: &AppState) -> EventResponse {
    let started = std::time::Instant::now();
    let deadline = Duration::from_secs(state.settings.server.handler_deadline_secs);
    let flight = state.console.journal.begin(route.name(), incoming);
    let handler = metrics::ROUTE.scope(route.name(), (route.handle)(incoming, state));
    let result = match tokio::time::timeout(deadline, handler).await {
        Ok(result) => result,
        Err(_) => Err(crate::error::HandlerError::Transient(anyhow::anyhow!(
            "the {} route did not finish within server.handler_deadline_secs = {}",
            route.name(),
            deadline.as_secs()
        ))),
    };
    let response = EventResponse::from_result(route.name(), result);
    let elapsed = started.elapsed();
    state.metrics.event(route.name(), response.outcome, elapsed);
    state.console.journal.finish(flight, &response);
    response
}

/// Parses the CloudEvent and its payload; `Err` is the response to give instead.
fn parse_event(
    req: &HttpRequest,
    body: web::Bytes,
    route: &str,
) -> Result<IncomingEvent, EventResponse> {
    let ce: CloudEvent = events::push::from_http(req.headers(), body)
        .map_err(|e| EventResponse::malformed(route, format!("malformed CloudEvent: {e}")))?;
    let span = Span::current();
    span.record("ce.id", ce.id.as_str());
    span.record("ce.type", ce.ty.as_str());
    span.record("ce.source", ce.source.as_str());
    match events::parse(&ce) {
        Ok(data) => Ok(IncomingEvent { ce, data }),
        Err(EventDataError::UnknownType { ty }) => Err(EventResponse::skipped(
            route,
            format!("no route of this service handles events of type {ty:?}"),
            true,
        )),
        Err(e) => Err(EventResponse::malformed(
            route,
            format!("event data could not be read: {e}"),
        )),
    }
}

fn event_span(req: &HttpRequest, route: &str) -> Span {
    let trace = TraceContext::from_headers(req.headers());
    // At ERROR level so a quiet filter (`warn`, as `process` uses) still keeps the span and
    // with it `ce.id`, `ce.type` and the trace on the lines it does print.
    tracing::error_span!(
        "event",
        route,
        "ce.id" = tracing::field::Empty,
        "ce.type" = tracing::field::Empty,
        "ce.source" = tracing::field::Empty,
        trace_id = trace.as_ref().map(|t| t.trace_id.as_str()),
        span_id = trace.as_ref().and_then(|t| t.span_id.as_deref()),
        trace_sampled = trace.as_ref().map(|t| t.sampled),
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

#[cfg(test)]
mod tests;

//! The HTTP face: mounts the enabled routes (a route not in `PIPELINE_ROUTES` is not
//! mounted, so it answers 404) and `POST /`, turns each request into a CloudEvent
//! (`ingress`, `push`), hands it to THE dispatcher (`crate::dispatch`) with the request's
//! trace, and holds [`respond`], the ONE function that turns an outcome into an HTTP status
//! and body. It contains no per-route logic and chooses no routes. `upload` is the local
//! profile's upload endpoint.

pub(crate) mod body_deadline;
pub mod ingress;
pub mod push;
pub(crate) mod status;
pub(crate) mod upload;

use crate::config::{MalformedStatus, Profile};
use crate::dispatch::{self, EventResponse, Target, enabled_routes};
use crate::domain::WireOutcome;
use crate::handlers::Route;
use crate::routes::RouteName;
use crate::state::AppState;
use crate::telemetry::TraceContext;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

/// THE outcome → HTTP mapping: `retry` is 503 (Eventarc redelivers); everything else is 200
/// (acked), except a malformed event when `server.malformed_status = 400`
/// (gcp-contracts.md §0.1-2, §3.3).
pub fn respond(response: &EventResponse, malformed_status: MalformedStatus) -> HttpResponse {
    let status = match response.outcome {
        WireOutcome::Retry => StatusCode::SERVICE_UNAVAILABLE,
        WireOutcome::Rejected
            if response.is_malformed() && malformed_status == MalformedStatus::BadRequest =>
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
        .route(
            "/",
            web::post().to(|req, body, state| receive(req, body, state, Target::All)),
        );
    // Uploads over HTTP start the local pipeline (`curl -T`); never mounted under `gcp`.
    if state.settings.profile == Profile::Local && state.local.is_some() {
        cfg.configure(upload::configure_upload_route)
            .configure(crate::console::configure);
    }
    // The record as JSON: always locally; on Google Cloud only when asked for (behind IAM).
    if state.settings.profile == Profile::Local || state.settings.server.status_api {
        cfg.configure(status::configure_status_route);
    }
    for name in RouteName::ALL {
        if !state.settings.route_enabled(name.as_str()) {
            continue;
        }
        let target = Target::Route(name);
        cfg.route(
            &name.spec().path(),
            web::post().to(
                move |req: HttpRequest, body: web::Bytes, state: web::Data<AppState>| {
                    receive(req, body, state, target)
                },
            ),
        );
    }
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

/// An event POST: the transport turns the request into a CloudEvent (or says why it is
/// none), the dispatcher handles it, and [`respond`] gives the status.
async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    target: Target,
) -> HttpResponse {
    let received = ingress::event_of(&req, body, &state.settings);
    let trace = TraceContext::from_headers(req.headers());
    let response = dispatch::handle_received(&state, received, target, trace.as_ref()).await;
    respond(&response, state.settings.server.malformed_status)
}

#[cfg(test)]
mod tests;

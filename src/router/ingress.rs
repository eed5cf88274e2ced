//! HTTP ingress: the one place a request becomes a CloudEvent. Eventarc's binary and
//! structured modes and a plain Pub/Sub push (with a Cloud Storage notification in it) are
//! read by `router::push`; this adds the local profile's rule.
//!
//! Owns: the request → event step and the local profile's refusal of requests any web page
//! could send. Must not handle the event (that is `dispatch`) or pick a status (`respond`).

use super::push::{self, MESSAGE_ID_HEADER};
use crate::cloudevent::CloudEvent;
use crate::config::{Profile, Settings};
use actix_web::HttpRequest;
use actix_web::http::header::{CONTENT_TYPE, HeaderMap};
use bytes::Bytes;

/// The request's CloudEvent, or the reason it carries none (a `malformed` answer).
pub(crate) fn event_of(
    req: &HttpRequest,
    body: Bytes,
    settings: &Settings,
) -> Result<CloudEvent, String> {
    let headers = req.headers();
    if settings.profile == Profile::Local && could_come_from_any_page(headers) {
        return Err(format!(
            "the local profile takes an event without ce-* headers only with Content-Type \
             application/json or {}: without it, any web page could send it",
            crate::cloudevent::STRUCTURED_JSON
        ));
    }
    push::from_http(headers, body).map_err(|e| format!("malformed CloudEvent: {e}"))
}

/// A POST a browser sends cross-origin without a CORS preflight: no custom header (no
/// `ce-*`, no Pub/Sub push header) and no JSON or CloudEvents content type. The local
/// profile has no authentication, so such a request must not become an event.
fn could_come_from_any_page(headers: &HeaderMap) -> bool {
    let declared = headers.get(CONTENT_TYPE).is_some_and(|ct| {
        let ct = String::from_utf8_lossy(ct.as_bytes()).to_ascii_lowercase();
        let media = ct.split(';').next().unwrap_or_default().trim().to_owned();
        media == "application/json" || media.starts_with("application/cloudevents")
    });
    !declared
        && !CloudEvent::has_binary_headers(headers)
        && !headers.contains_key(MESSAGE_ID_HEADER)
}

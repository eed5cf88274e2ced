//! Sending one Google API request: the `Authorization` header, the retry loop, and the
//! mapping of transport failures and error statuses to `BackendError` (gcp-contracts.md
//! Appendix A, §7.3). What a status *means* for an operation (404 = deleted, 412 = already
//! written) is the caller's decision; this module only classifies.
//!
//! The answer body is read inside the retry loop: a connection reset or a body shorter
//! than its `Content-Length` is a transport failure (transient, retried), and only a
//! complete body that does not parse is `Malformed` (permanent). API answers are read
//! whole; object downloads only up to the bytes asked for ([`BodyLimit::AtMost`], read in
//! `storage_download.rs`), whatever the server sends.

use super::retry::Idempotency;
use super::storage_download::{BodyError, read_at_most};
use super::{GcpContext, Service};
use crate::backends::{BackendError, BackendResult};
use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::Deserialize;
use std::time::{Duration, Instant};

/// The largest API answer read (Firestore documents are at most 1 MiB, list pages far
/// less): a server sending more is not one of Google's, and is not buffered further.
pub(crate) const MAX_API_ANSWER_BYTES: u64 = 32 << 20;

/// Error bodies are read up to this many bytes.
const MAX_ERROR_BODY_BYTES: u64 = 64 << 10;
/// Error bodies are quoted in messages up to this many characters.
const MAX_ERROR_TEXT_CHARS: usize = 300;

/// A successful answer, read to its end.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Answer {
    /// The body as JSON; a complete body that does not parse is `Malformed` (permanent).
    pub(crate) fn json<T: serde::de::DeserializeOwned>(
        &self,
        service: Service,
    ) -> BackendResult<T> {
        serde_json::from_slice(&self.body).map_err(|e| BackendError::Malformed {
            service: service.display_name(),
            message: e.to_string(),
        })
    }
}

/// How much of a successful answer's body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyLimit {
    /// An API's JSON answer: all of it, up to [`MAX_API_ANSWER_BYTES`] (more is `Malformed`).
    Whole,
    /// At most this many bytes (after inflating a `Content-Encoding: gzip` body); the rest
    /// is never read, so a server that ignores `Range` or transcodes cannot make us hold
    /// more than asked (object downloads, gcp-contracts.md §7.1).
    AtMost(u64),
}

impl GcpContext {
    /// Sends the request `build` makes and reads the answer to its end, retrying per the
    /// policy. Success statuses (and 308, the resumable-upload "incomplete") come back as the
    /// [`Answer`]; any other status is `BackendError::Http` with the service's message and
    /// `Retry-After`.
    pub(crate) async fn send(
        &self,
        service: Service,
        idempotency: Idempotency,
        build: impl Fn() -> RequestBuilder,
    ) -> BackendResult<Answer> {
        self.send_limited(service, idempotency, build, BodyLimit::Whole)
            .await
    }

    /// [`Self::send`], reading at most `limit` of a successful answer's body.
    pub(crate) async fn send_limited(
        &self,
        service: Service,
        idempotency: Idempotency,
        build: impl Fn() -> RequestBuilder,
        limit: BodyLimit,
    ) -> BackendResult<Answer> {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let error = match self.send_once(service, &build, limit).await {
                Ok(response) => return Ok(response),
                Err(error) => error,
            };
            let elapsed = started.elapsed();
            let Some(delay) = self.retry.next_delay(idempotency, &error, attempt, elapsed) else {
                return Err(error);
            };
            tracing::warn!(
                service = service.display_name(),
                attempt,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                error = %error,
                "Google API call failed, retrying"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn send_once(
        &self,
        service: Service,
        build: &impl Fn() -> RequestBuilder,
        limit: BodyLimit,
    ) -> BackendResult<Answer> {
        let mut request = build();
        if let Some(authorization) = self.authorization(service).await? {
            request = request.header(AUTHORIZATION, authorization);
        }
        let response = request
            .send()
            .await
            .map_err(|e| self.transport_error(service, &e))?;
        let status = response.status();
        if !(status.is_success() || status == StatusCode::PERMANENT_REDIRECT) {
            return Err(self.http_error(service, response).await);
        }
        let headers = response.headers().clone();
        // reqwest calls a body cut short (reset, EOF before Content-Length) a "decode" error;
        // here it is a transport failure like any other, so it is retried.
        let body = match limit {
            BodyLimit::Whole => read_at_most(response, MAX_API_ANSWER_BYTES + 1)
                .await
                .and_then(|body| match body.len() as u64 > MAX_API_ANSWER_BYTES {
                    true => Err(BodyError::Unreadable(format!(
                        "the answer is over {MAX_API_ANSWER_BYTES} bytes"
                    ))),
                    false => Ok(body),
                }),
            BodyLimit::AtMost(max_bytes) => read_at_most(response, max_bytes).await,
        };
        let body = body.map_err(|e| match e {
            BodyError::Transport(e) => self.transport_error(service, &e),
            BodyError::Unreadable(message) => BackendError::Malformed {
                service: service.display_name(),
                message,
            },
        })?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// An error status as `Http`, with the service's message. An error body cut off is a
    /// transport failure instead: its status alone cannot tell a conflict (400
    /// FAILED_PRECONDITION, re-read and retry) from a bad request.
    async fn http_error(&self, service: Service, response: Response) -> BackendError {
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        // Google's error envelopes are small; a longer body is quoted from its start.
        let body = match read_at_most(response, MAX_ERROR_BODY_BYTES).await {
            Ok(body) => body,
            Err(BodyError::Transport(e)) => return self.transport_error(service, &e),
            Err(BodyError::Unreadable(_)) => Bytes::new(),
        };
        BackendError::Http {
            service: service.display_name(),
            status: status.as_u16(),
            message: error_message(status, &String::from_utf8_lossy(&body)),
            retry_after,
        }
    }

    /// Maps a reqwest failure (sending, or reading a body) to the transient classes. No
    /// reqwest error is `Malformed`: this module parses bodies itself, after reading them.
    fn transport_error(&self, service: Service, error: &reqwest::Error) -> BackendError {
        let name = service.display_name();
        if error.is_timeout() {
            BackendError::Timeout {
                service: name,
                timeout_secs: self.settings.request_timeout_secs,
            }
        } else {
            BackendError::Connection {
                service: name,
                message: error_chain(error),
            }
        }
    }
}

/// Google's error envelope: `{"error": {"code", "message", "status"}}` (Storage adds `errors`).
#[derive(Deserialize)]
struct Envelope {
    error: EnvelopeError,
}

#[derive(Deserialize)]
struct EnvelopeError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: String,
}

/// `STATUS: message` from the envelope (so callers can tell FAILED_PRECONDITION from
/// INVALID_ARGUMENT), else the start of the body, else the status's reason.
pub(crate) fn error_message(status: StatusCode, body: &str) -> String {
    if let Ok(envelope) = serde_json::from_str::<Envelope>(body) {
        let EnvelopeError { message, status } = envelope.error;
        return match (status.is_empty(), message.is_empty()) {
            (false, false) => format!("{status}: {message}"),
            (false, true) => status,
            _ => message,
        };
    }
    let text: String = body.trim().chars().take(MAX_ERROR_TEXT_CHARS).collect();
    if text.is_empty() {
        status.canonical_reason().unwrap_or("no message").to_owned()
    } else {
        text
    }
}

/// `Retry-After` as delay-seconds (what Google's services send) or an HTTP date; a date in
/// the past means "now".
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let wait = at - time::OffsetDateTime::now_utc();
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// The error with its sources, so "request failed" says why.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `url?k=v&...` with values percent-encoded (reqwest's `query` needs a feature we skip).
pub(crate) fn with_query(url: &str, query: &[(&str, String)]) -> String {
    let mut out = url.to_owned();
    for (i, (key, value)) in query.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(key);
        out.push('=');
        out.extend(percent_encoding::utf8_percent_encode(
            value,
            super::storage::PATH_SEGMENT,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let in_a_minute = time::OffsetDateTime::now_utc() + time::Duration::seconds(61);
        let date = in_a_minute
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap()
            .replace("+0000", "GMT");

        let from_date = parse_retry_after(&date).unwrap();

        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert!(
            (55..=61).contains(&from_date.as_secs()),
            "{date} -> {from_date:?}"
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn error_messages_put_the_rpc_status_first() {
        let body = r#"{"error":{"code":409,"message":"too much contention","status":"ABORTED"}}"#;

        assert_eq!(
            error_message(StatusCode::CONFLICT, body),
            "ABORTED: too much contention"
        );
        assert_eq!(
            error_message(StatusCode::NOT_FOUND, "Not Found\n"),
            "Not Found"
        );
        assert_eq!(error_message(StatusCode::BAD_GATEWAY, ""), "Bad Gateway");
    }
}

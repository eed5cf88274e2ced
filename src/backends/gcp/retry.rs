//! The one retry policy for Google calls: exponential backoff with jitter, bounded attempts
//! and a total budget per call, honouring `Retry-After` within that budget. Longer outages
//! are Eventarc's to retry (the handler answers 503 quickly instead of holding the request).
//! Pure arithmetic; the loop that sleeps is in `http.rs`.

use crate::backends::BackendError;
use crate::config::GcpSettings;
use rand::Rng as _;
use std::time::Duration;

/// Whether a call may be repeated without changing the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// Reads, conditional writes, deletes of a generation, commits with a precondition:
    /// every transient error is retried.
    Idempotent,
    /// Pub/Sub publish: a retry may duplicate messages, so only answers that say the
    /// request was not served (429, 503, 504) and token failures (nothing sent) are retried.
    NotIdempotent,
}

#[derive(Debug, Clone)]
pub(crate) struct RetryPolicy {
    /// Attempts per call, the first included.
    pub(crate) max_attempts: u32,
    pub(crate) initial_backoff: Duration,
    /// Time after the first attempt's start past which no new attempt begins.
    pub(crate) budget: Duration,
}

impl RetryPolicy {
    pub(crate) fn from_settings(settings: &GcpSettings) -> Self {
        Self {
            max_attempts: settings.retry_max_attempts.max(1),
            initial_backoff: Duration::from_millis(settings.retry_initial_backoff_ms),
            budget: Duration::from_secs(settings.retry_budget_secs),
        }
    }

    /// How long to wait before attempt `attempt + 1`, or `None` to give up with `error`.
    /// `elapsed` is the time since the call's first attempt started.
    pub(crate) fn next_delay(
        &self,
        idempotency: Idempotency,
        error: &BackendError,
        attempt: u32,
        elapsed: Duration,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts || !should_retry(idempotency, error) {
            return None;
        }
        let exponent = attempt.saturating_sub(1).min(16);
        let backoff = self.initial_backoff.saturating_mul(1 << exponent);
        // Jitter in [50%, 100%] spreads retries of many instances hitting the same outage.
        let jittered = backoff.mul_f64(rand::rng().random_range(0.5..=1.0));
        let delay = match retry_after(error) {
            Some(asked) => asked.max(jittered),
            None => jittered,
        };
        (elapsed.saturating_add(delay) < self.budget).then_some(delay)
    }
}

fn should_retry(idempotency: Idempotency, error: &BackendError) -> bool {
    match idempotency {
        Idempotency::Idempotent => error.is_transient(),
        Idempotency::NotIdempotent => match error {
            BackendError::Http { status, .. } => matches!(status, 429 | 503 | 504),
            BackendError::Auth(_) => true,
            _ => false,
        },
    }
}

fn retry_after(error: &BackendError) -> Option<Duration> {
    match error {
        BackendError::Http { retry_after, .. } => *retry_after,
        _ => None,
    }
}

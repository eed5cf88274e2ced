//! The retry policy's arithmetic: bounded attempts, the total budget, `Retry-After`, and
//! what a non-idempotent call may retry.

use super::retry::{Idempotency, RetryPolicy};
use crate::backends::BackendError;
use std::time::Duration;

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(200),
        budget: Duration::from_secs(10),
    }
}

fn http(status: u16, retry_after: Option<Duration>) -> BackendError {
    BackendError::Http {
        service: "Pub/Sub",
        status,
        message: String::new(),
        retry_after,
    }
}

const NOW: Duration = Duration::ZERO;

#[test]
fn backoff_doubles_with_jitter_and_stops_after_the_last_attempt() {
    let p = policy();
    let e = http(503, None);

    let first = p.next_delay(Idempotency::Idempotent, &e, 1, NOW).unwrap();
    let second = p.next_delay(Idempotency::Idempotent, &e, 2, NOW).unwrap();
    let third = p.next_delay(Idempotency::Idempotent, &e, 3, NOW);

    assert!((100..=200).contains(&first.as_millis()), "{first:?}");
    assert!((200..=400).contains(&second.as_millis()), "{second:?}");
    assert_eq!(third, None);
}

#[test]
fn permanent_errors_are_never_retried() {
    let p = policy();

    for error in [http(400, None), http(403, None), http(404, None)] {
        assert_eq!(
            p.next_delay(Idempotency::Idempotent, &error, 1, NOW),
            None,
            "{error}"
        );
    }
}

#[test]
fn retry_after_is_honoured_only_within_the_budget() {
    let p = policy();

    let within = p.next_delay(
        Idempotency::Idempotent,
        &http(429, Some(Duration::from_secs(3))),
        1,
        NOW,
    );
    let beyond = p.next_delay(
        Idempotency::Idempotent,
        &http(429, Some(Duration::from_secs(11))),
        1,
        NOW,
    );
    let late = p.next_delay(
        Idempotency::Idempotent,
        &http(503, None),
        1,
        Duration::from_secs(10),
    );

    assert_eq!(within, Some(Duration::from_secs(3)));
    assert_eq!(beyond, None);
    assert_eq!(late, None);
}

#[test]
fn a_non_idempotent_call_retries_only_429_503_504_and_token_failures() {
    let p = policy();
    let retried = |e: &BackendError| {
        p.next_delay(Idempotency::NotIdempotent, e, 1, NOW)
            .is_some()
    };
    let timeout = BackendError::Timeout {
        service: "Pub/Sub",
        timeout_secs: 30,
    };

    assert!(retried(&http(429, None)));
    assert!(retried(&http(503, None)));
    assert!(retried(&http(504, None)));
    assert!(retried(&BackendError::Auth(
        "token endpoint down".to_owned()
    )));
    assert!(!retried(&http(500, None)));
    assert!(!retried(&timeout), "the message may have been published");
}

//! A deadline on reading each request body (`server.body_read_timeout_secs`). actix bounds
//! how long the headers may take, but not the body: a client that sends its headers and then
//! trickles (or never sends) the body would hold a connection and its buffer forever. Owns
//! only the payload wrapper; it must not look at what the body says.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::dev::{Payload, ServiceRequest};
use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use futures_util::Stream;
use tokio::time::Sleep;

/// The same request, its body now failing with a timeout once `timeout` has passed.
pub(crate) fn with_body_deadline(req: ServiceRequest, timeout: Duration) -> ServiceRequest {
    let (http, payload) = req.into_parts();
    let timed = DeadlinePayload {
        inner: payload,
        deadline: Box::pin(tokio::time::sleep(timeout)),
        timeout,
    };
    ServiceRequest::from_parts(http, Payload::from(Box::pin(timed) as Pin<Box<_>>))
}

struct DeadlinePayload {
    inner: Payload,
    deadline: Pin<Box<Sleep>>,
    timeout: Duration,
}

impl Stream for DeadlinePayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                let message = format!(
                    "the request body was not received within {} s (server.body_read_timeout_secs)",
                    self.timeout.as_secs()
                );
                let timed_out = io::Error::new(io::ErrorKind::TimedOut, message);
                Poll::Ready(Some(Err(PayloadError::Io(timed_out))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

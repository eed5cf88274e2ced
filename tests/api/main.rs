//! The one integration-test binary: the service over HTTP with in-memory fakes of the seams.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod admission;
mod builtin_moderation;
mod fakes;
mod faults;
mod helpers;
mod lifecycle;
mod metrics;
mod pipeline;
mod policies;
mod push;
mod recovery;
mod routing;
mod sigterm_load;
mod slow_body;

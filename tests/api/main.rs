//! The one integration-test binary: the service over HTTP with in-memory fakes of the seams.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod admission;
mod backfill_gcp;
mod builtin_moderation;
mod dead_letters_gcp;
mod fakes;
mod faults;
mod gcp_fakes;
mod helpers;
mod hostile_storage;
mod lifecycle;
mod metrics;
mod moderation_trigger;
mod pipeline;
mod policies;
mod process_log;
mod push;
mod recovery;
mod routing;
mod sigterm_load;
mod slow_body;

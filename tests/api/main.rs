//! The one integration-test binary: the service over HTTP with in-memory fakes of the seams.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod admission;
mod architecture;
mod backfill_gcp;
mod builtin_moderation;
mod console_browser;
mod console_open;
mod console_status;
mod console_webdriver;
mod container_image;
mod cost;
mod dead_letters_gcp;
mod derived_marker;
mod fakes;
mod faults;
mod formats;
mod gcp_fakes;
mod generations;
mod helpers;
mod hostile_storage;
mod interrupt;
mod lifecycle;
mod metrics;
mod moderation_trigger;
mod one_decode;
mod one_event;
mod pipeline;
mod placeholders;
mod policies;
mod process_log;
mod push;
mod recovery;
mod routing;
mod sigterm_load;
mod slow_body;

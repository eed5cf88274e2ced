//! The one integration-test binary: the service over HTTP with in-memory fakes of the seams.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

// faults/mod.rs compiles src/backends/gcp/fake_gcs.rs into this crate too, where it names
// `crate::cache_dir`.
use image_pipeline::cache_dir;

mod admission;
mod animation;
mod architecture;
mod avif_quality;
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
mod verdict_reuse;

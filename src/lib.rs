//! image-pipeline: an event-driven image pipeline for Cloud Run (see README.md).
//! This file only declares modules; `main.rs` calls [`cli::run`].

pub mod admission;
pub mod backends;
pub mod backfill;
pub mod cache_dir;
pub mod cli;
pub mod cloudevent;
pub mod commands;
pub mod config;
pub mod console;
pub mod dead_letters;
pub mod dispatch;
pub mod domain;
pub mod error;
pub mod events;
#[cfg(test)]
mod fuzz_properties;
pub mod handlers;
pub mod imaging;
pub mod memory;
pub mod metrics;
pub mod moderation_model;
pub mod process;
pub mod router;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;

//! Logs as data: one JSON object per line on stdout in Cloud Logging's shape
//! (gcp-contracts.md §10), or human-readable output on a terminal. Trace correlation comes
//! from `traceparent` / `X-Cloud-Trace-Context` ([`trace::TraceContext`]). This module
//! formats and installs; it decides no outcome and writes nowhere but the given writer.

mod format;
pub mod trace;

pub use format::CloudLoggingFormat;
pub use trace::TraceContext;

use crate::config::LogFormat;
use std::io::IsTerminal;
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Registry};

/// Builds the subscriber; tests pass their own writer and install it with `set_default`.
pub fn subscriber<W>(
    format: LogFormat,
    filter: &str,
    project_id: &str,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stdout().is_terminal(),
    };
    let registry = Registry::default().with(filter);
    if json {
        let layer = tracing_subscriber::fmt::layer()
            .event_format(CloudLoggingFormat::new(project_id))
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .with_writer(writer);
        Box::new(registry.with(layer))
    } else {
        let layer = tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_writer(writer);
        Box::new(registry.with(layer))
    }
}

/// Installs the process-wide subscriber on stdout. Safe to call once; later calls are no-ops.
pub fn init(format: LogFormat, filter: &str, project_id: &str) {
    let _ = tracing::subscriber::set_global_default(subscriber(
        format,
        filter,
        project_id,
        std::io::stdout,
    ));
}

/// Runs CPU-heavy work on the blocking pool, keeping the current span (so logs from the work
/// still carry `ce.id`, `ce.type` and the trace).
pub async fn spawn_blocking_with_span<F, R>(f: F) -> Result<R, tokio::task::JoinError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f)).await
}

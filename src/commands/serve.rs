//! `image-pipeline serve` (the default): logging, the exposure warning, then the server
//! until SIGTERM/SIGINT (`startup::Application`).

use super::{CommandResult, Ending};
use crate::config::Settings;
use crate::startup::Application;

/// Serves until stopped; `buffers_kept` is what `memory::keep_freed_image_buffers` said.
pub async fn run(settings: Settings, buffers_kept: bool) -> CommandResult {
    crate::telemetry::init(
        settings.log_format,
        &settings.log_level,
        &settings.gcp.project_id,
    );
    if !buffers_kept {
        tracing::info!("the C library refused the allocator policy; image buffers are not reused");
    }
    if let Some(warning) = crate::startup::exposure_warning(&settings) {
        tracing::warn!("{warning}");
    }
    let served = async {
        Application::build(settings)
            .await?
            .run_until_stopped()
            .await?;
        anyhow::Ok(())
    };
    if let Err(e) = served.await {
        tracing::error!(error = format!("{e:#}"), "Server stopped: {e:#}");
        return Err(e.into());
    }
    Ok(Ending::Success)
}

//! The `resize` route: on `finalized` makes every configured size of a source image under
//! `<prefix>/<size>/<name>` and publishes `image.resized`; on `deleted` removes them.

use super::common::{box_size, output_format};
use super::derive::{self, DeriveSpec};
use super::{HandlerResult, IncomingEvent, Route};
use crate::config::Settings;
use crate::domain::{PipelineEventType, StageUpdate, VariantInfo};
use crate::imaging::{Fit, SourceInfo, Target};
use crate::state::AppState;
use futures_util::future::BoxFuture;

pub const NAME: &str = "resize";

pub const ROUTE: Route = Route {
    name: NAME,
    accepts: derive::accepts,
    handle,
};

fn handle<'a>(event: &'a IncomingEvent, state: &'a AppState) -> BoxFuture<'a, HandlerResult> {
    Box::pin(derive::handle(event, state, spec(&state.settings)))
}

/// The output name of one size: `<prefix>/<size>/<source name>`.
pub fn variant_name(settings: &Settings, size: &str, source_name: &str) -> String {
    format!(
        "{}/{size}/{source_name}",
        settings.resize.prefix.trim_matches('/')
    )
}

fn spec(settings: &Settings) -> DeriveSpec {
    let format = output_format(&settings.resize.format);
    let targets = settings
        .resize
        .sizes
        .iter()
        .map(|(label, size)| {
            let (width, height) = box_size(size);
            Target {
                label: label.clone(),
                width,
                height,
                fit: Fit::Inside,
                format,
            }
        })
        .collect();
    DeriveSpec {
        route: NAME,
        event_type: PipelineEventType::Resized,
        bucket: settings.resize.bucket.clone(),
        targets,
        name_for: variant_name,
        update: resized_update,
    }
}

fn resized_update(
    source: &SourceInfo,
    variants: Vec<VariantInfo>,
    warnings: Vec<String>,
) -> StageUpdate {
    StageUpdate::Resized {
        width: source.width,
        height: source.height,
        format: source.format.as_str().to_owned(),
        variants,
        warnings,
    }
}

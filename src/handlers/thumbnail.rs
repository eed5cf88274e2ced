//! The `thumbnail` route: on `finalized` makes `<prefix>/<name>`, cover-cropped to an exact box
//! (centre or smart anchor), and publishes `image.thumbnailed`; on `deleted` removes it.

use super::common::{box_size, output_format};
use super::derive::{self, DeriveSpec};
use super::{HandlerResult, IncomingEvent, Route};
use crate::config::Settings;
use crate::domain::{PipelineEventType, StageUpdate, VariantInfo};
use crate::imaging::{Anchor, Fit, SourceInfo, Target};
use crate::state::AppState;
use futures_util::future::BoxFuture;

pub const NAME: &str = "thumbnail";
/// The size label of the thumbnail in records and events.
pub const LABEL: &str = "thumbnail";

pub const ROUTE: Route = Route {
    name: NAME,
    accepts: derive::accepts,
    handle,
};

fn handle<'a>(event: &'a IncomingEvent, state: &'a AppState) -> BoxFuture<'a, HandlerResult> {
    Box::pin(derive::handle(event, state, spec(&state.settings)))
}

/// The thumbnail's name: `<prefix>/<source name>`.
pub fn thumbnail_name(settings: &Settings, _label: &str, source_name: &str) -> String {
    format!(
        "{}/{source_name}",
        settings.thumbnail.prefix.trim_matches('/')
    )
}

fn spec(settings: &Settings) -> DeriveSpec {
    let (width, height) = box_size(&settings.thumbnail.size);
    let anchor = if settings.thumbnail.anchor == "smart" {
        Anchor::Smart
    } else {
        Anchor::Centre
    };
    DeriveSpec {
        route: NAME,
        event_type: PipelineEventType::Thumbnailed,
        bucket: settings.thumbnail.bucket.clone(),
        targets: vec![Target {
            label: LABEL.to_owned(),
            width,
            height,
            fit: Fit::Cover { anchor },
            format: output_format(&settings.thumbnail.format),
        }],
        name_for: thumbnail_name,
        update: thumbnailed_update,
    }
}

fn thumbnailed_update(
    _source: &SourceInfo,
    mut variants: Vec<VariantInfo>,
    _: Vec<String>,
) -> StageUpdate {
    match variants.pop() {
        Some(thumbnail) => StageUpdate::Thumbnailed { thumbnail },
        None => StageUpdate::Failed {
            failed_stage: NAME.to_owned(),
            reason: "the imaging engine returned no thumbnail".to_owned(),
        },
    }
}

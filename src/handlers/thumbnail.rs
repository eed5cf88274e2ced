//! The `thumbnail` route: on `finalized` makes `<prefix>/<name>`, cover-cropped to an exact box
//! (centre or smart anchor), and publishes `image.thumbnailed`; on `deleted` removes it.

use super::Route;
use super::derive::{self, DeriveRoute, DeriveSpec};
use crate::config::Settings;
use crate::domain::naming::thumbnail_name;
use crate::domain::record::THUMBNAIL_LABEL;
use crate::domain::{PipelineEventType, StageUpdate, VariantInfo};
use crate::imaging::{Fit, SourceInfo, Target};
use crate::routes::{self, RouteSpec};

pub const NAME: &str = routes::THUMBNAIL.name;

pub const ROUTE: Route = derive::route::<Thumbnail>();

struct Thumbnail;

impl DeriveRoute for Thumbnail {
    const SPEC: RouteSpec = routes::THUMBNAIL;

    fn spec(settings: &Settings) -> DeriveSpec {
        let t = &settings.thumbnail;
        DeriveSpec {
            route: NAME,
            event_type: PipelineEventType::Thumbnailed,
            bucket: t.bucket.clone(),
            targets: vec![Target {
                label: THUMBNAIL_LABEL.to_owned(),
                width: t.size.width,
                height: t.size.height,
                fit: Fit::Cover {
                    anchor: t.anchor.anchor(),
                },
                format: t.format.output_format(),
            }],
            name_for: |settings, _label, source| thumbnail_name(&settings.thumbnail.prefix, source),
            update: thumbnailed_update,
            summarise: false,
        }
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

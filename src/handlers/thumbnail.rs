//! The `thumbnail` route: on `finalized` makes `<prefix>/<name>`, cover-cropped to an exact box
//! (centre or smart anchor), in every format of `thumbnail.formats` (further ones under
//! `<prefix>@<format>/<name>.<ext>`, `domain::naming`), with the thumbnail's placeholder,
//! and publishes `image.thumbnailed`; on `deleted` removes them all.

use super::Route;
use super::derive::{self, DeriveRoute, DeriveSpec};
use super::summary::Summarise;
use crate::config::Settings;
use crate::domain::naming::{format_label, thumbnail_variant_name};
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
        let targets = t
            .output_formats()
            .iter()
            .enumerate()
            .map(|(i, format)| Target {
                label: match i {
                    0 => THUMBNAIL_LABEL.to_owned(),
                    _ => format_label(THUMBNAIL_LABEL, format.as_str()),
                },
                width: t.size.width,
                height: t.size.height,
                fit: Fit::Cover {
                    anchor: t.anchor.anchor(),
                },
                format: format.output_format(),
            })
            .collect();
        DeriveSpec {
            route: NAME,
            event_type: PipelineEventType::Thumbnailed,
            bucket: t.bucket.clone(),
            targets,
            name_for: |settings, label, source| {
                thumbnail_variant_name(&settings.thumbnail.prefix, label, source)
            },
            update: thumbnailed_update,
            summarise: Summarise::Placeholders,
        }
    }
}

/// The first format written is the record's `thumbnail`, the others its `thumbnailFormats`.
fn thumbnailed_update(
    _settings: &Settings,
    _source: &SourceInfo,
    variants: Vec<VariantInfo>,
    warnings: Vec<String>,
) -> StageUpdate {
    let mut variants = variants.into_iter();
    match variants.next() {
        Some(thumbnail) => StageUpdate::Thumbnailed {
            thumbnail,
            formats: variants.collect(),
            placeholder: None,
            warnings,
        },
        None => StageUpdate::Failed {
            failed_stage: NAME.to_owned(),
            reason: match warnings.is_empty() {
                true => "the imaging engine returned no thumbnail".to_owned(),
                false => warnings.join("; "),
            },
        },
    }
}

//! The `resize` route: on `finalized` makes every configured size of a source image under
//! `<prefix>/<size>/<name>` (further formats under `<prefix>/<size>@<format>/<name>.<ext>`,
//! `domain::naming`) and publishes `image.resized` with the `srcset` of what it wrote; on
//! `deleted` removes them.

use super::Route;
use super::derive::{self, DeriveRoute, DeriveSpec};
use super::summary::Summarise;
use crate::config::Settings;
use crate::domain::naming::{format_label, variant_name};
use crate::domain::srcset::srcsets;
use crate::domain::{PipelineEventType, StageUpdate, VariantInfo};
use crate::imaging::{Fit, SourceInfo, Target};
use crate::routes::{self, RouteSpec};

pub const NAME: &str = routes::RESIZE.name;

pub const ROUTE: Route = derive::route::<Resize>();

struct Resize;

impl DeriveRoute for Resize {
    const SPEC: RouteSpec = routes::RESIZE;

    fn spec(settings: &Settings) -> DeriveSpec {
        let formats = settings.resize.output_formats();
        let targets = formats
            .iter()
            .enumerate()
            .flat_map(|(i, format)| {
                settings
                    .resize
                    .sizes
                    .iter()
                    .map(move |(size_label, size)| Target {
                        label: match i {
                            0 => size_label.clone(),
                            _ => format_label(size_label, format.as_str()),
                        },
                        width: size.width,
                        height: size.height,
                        fit: Fit::Inside,
                        format: format.output_format(),
                    })
            })
            .collect();
        DeriveSpec {
            route: NAME,
            event_type: PipelineEventType::Resized,
            bucket: settings.resize.bucket.clone(),
            targets,
            name_for: |settings, size, source| variant_name(&settings.resize.prefix, size, source),
            update: resized_update,
            summarise: Summarise::WithContentHash,
        }
    }
}

fn resized_update(
    settings: &Settings,
    source: &SourceInfo,
    variants: Vec<VariantInfo>,
    warnings: Vec<String>,
) -> StageUpdate {
    StageUpdate::Resized {
        width: source.width,
        height: source.height,
        format: source.format.as_str().to_owned(),
        srcset: srcsets(&variants, &settings.resize.public_base_url),
        variants,
        warnings,
        summary: None,
    }
}

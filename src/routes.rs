//! The route registry: every route's name (in `PIPELINE_ROUTES` and as its path `/<name>`),
//! the CloudEvent types it can accept and the pipeline events it emits, declared once
//! (design.md §2 "Routes"). Config validation, the router, `/healthz` and the handlers all
//! read it from here. Pure data: no handler code, no settings.

use crate::domain::PipelineEventType;
use crate::events::types::{PUBSUB_PUBLISHED, STORAGE_DELETED, STORAGE_FINALIZED};

/// One route, as declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    /// The route's name in `PIPELINE_ROUTES`, and its path (`/<name>`).
    pub name: &'static str,
    /// Every `ce-type` the route may handle (some only under a setting, e.g. `moderate`
    /// takes storage `finalized` only with `moderation.trigger = "original"`).
    pub accepts: &'static [&'static str],
    /// Pipeline events the route publishes.
    pub emits: &'static [PipelineEventType],
}

impl RouteSpec {
    /// The route's path on the server.
    pub fn path(&self) -> String {
        format!("/{}", self.name)
    }

    pub fn accepts_type(&self, ce_type: &str) -> bool {
        self.accepts.contains(&ce_type)
    }
}

pub const RESIZE: RouteSpec = RouteSpec {
    name: "resize",
    accepts: &[STORAGE_FINALIZED, STORAGE_DELETED],
    emits: &[PipelineEventType::Resized, PipelineEventType::Failed],
};

pub const THUMBNAIL: RouteSpec = RouteSpec {
    name: "thumbnail",
    accepts: &[STORAGE_FINALIZED, STORAGE_DELETED],
    emits: &[PipelineEventType::Thumbnailed, PipelineEventType::Failed],
};

pub const MODERATE: RouteSpec = RouteSpec {
    name: "moderate",
    accepts: &[PUBSUB_PUBLISHED, STORAGE_FINALIZED],
    emits: &[PipelineEventType::Moderated],
};

pub const RECORD: RouteSpec = RouteSpec {
    name: "record",
    accepts: &[STORAGE_FINALIZED, STORAGE_DELETED, PUBSUB_PUBLISHED],
    emits: &[],
};

/// Every route the binary has, in the order they are listed.
pub const ALL: [RouteSpec; 4] = [RESIZE, THUMBNAIL, MODERATE, RECORD];

/// The route named `name`, if the binary has one.
pub fn by_name(name: &str) -> Option<&'static RouteSpec> {
    ALL.iter().find(|r| r.name == name)
}

/// The route names, comma-separated (for messages).
pub fn names() -> String {
    ALL.map(|r| r.name).join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_found_by_its_name_and_paths_are_slash_name() {
        for route in ALL {
            assert_eq!(by_name(route.name), Some(&route));
            assert_eq!(route.path(), format!("/{}", route.name));
        }
        assert_eq!(by_name("nope"), None);
        assert_eq!(names(), "resize, thumbnail, moderate, record");
    }
}

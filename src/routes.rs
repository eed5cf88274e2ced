//! The route registry: every route's name (in `PIPELINE_ROUTES` and as its path `/<name>`),
//! the CloudEvent types it can accept and the pipeline events it emits, declared once
//! (design.md §2 "Routes"). Config validation, the router, `/healthz` and the handlers all
//! read it from here. Pure data: no handler code, no settings.

use crate::domain::PipelineEventType;
use crate::events::types::{PUBSUB_PUBLISHED, STORAGE_DELETED, STORAGE_FINALIZED};
use serde::{Deserialize, Serialize};

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

/// A route's name: THE list of routes the binary has (`RouteName::ALL`). Its spec
/// ([`RouteName::spec`]) and its code (`handlers::route`) are exhaustive matches on it, so
/// a new route cannot be half-declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteName {
    Resize,
    Thumbnail,
    Moderate,
    Record,
}

impl RouteName {
    /// Every route, in the order they are listed (`/healthz`, `POST /` dispatch).
    pub const ALL: [RouteName; 4] = [Self::Resize, Self::Thumbnail, Self::Moderate, Self::Record];

    /// Its declaration.
    pub fn spec(self) -> &'static RouteSpec {
        match self {
            Self::Resize => &RESIZE,
            Self::Thumbnail => &THUMBNAIL,
            Self::Moderate => &MODERATE,
            Self::Record => &RECORD,
        }
    }

    /// The name in `PIPELINE_ROUTES` and the path without its `/`.
    pub fn as_str(self) -> &'static str {
        self.spec().name
    }

    /// The route called `name` (exact, lower-case), if the binary has one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl std::fmt::Display for RouteName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The route named `name`, if the binary has one.
pub fn by_name(name: &str) -> Option<&'static RouteSpec> {
    RouteName::parse(name).map(RouteName::spec)
}

/// The route names, comma-separated (for messages).
pub fn names() -> String {
    RouteName::ALL.map(RouteName::as_str).join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_found_by_its_name_and_paths_are_slash_name() {
        for name in RouteName::ALL {
            let route = name.spec();
            assert_eq!(by_name(route.name), Some(route));
            assert_eq!(RouteName::parse(name.as_str()), Some(name));
            assert_eq!(route.path(), format!("/{}", route.name));
        }
        assert_eq!(by_name("nope"), None);
        assert_eq!(names(), "resize, thumbnail, moderate, record");
    }
}

//! Objects in a bucket, as the `ObjectStore` seam speaks of them (Cloud Storage's model:
//! bucket, name, generation, custom metadata), plus the metadata a derived object carries.
//! Whether that metadata is trusted is `derived::DerivedOutputs`' decision, not this file's.

use std::collections::BTreeMap;

/// Custom-metadata key set on every object the pipeline writes (value `"true"`). A claim
/// anyone can make: trusted only in a bucket of outputs (`DerivedOutputs`).
pub const DERIVED_MARKER_KEY: &str = "image-pipeline-derived";
/// Custom-metadata key naming the source object a derived object was made from.
pub const SOURCE_NAME_KEY: &str = "image-pipeline-source";
/// Custom-metadata key naming the source generation a derived object was made from.
pub const SOURCE_GENERATION_KEY: &str = "image-pipeline-source-generation";

/// One object, optionally pinned to a generation (`None` = the live one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    pub bucket: String,
    pub name: String,
    pub generation: Option<i64>,
}

impl ObjectRef {
    pub fn new(bucket: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            name: name.into(),
            generation: None,
        }
    }

    pub fn at_generation(mut self, generation: i64) -> Self {
        self.generation = Some(generation);
        self
    }
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.generation {
            Some(g) => write!(f, "gs://{}/{}#{}", self.bucket, self.name, g),
            None => write!(f, "gs://{}/{}", self.bucket, self.name),
        }
    }
}

/// What a store knows about a stored object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectInfo {
    pub bucket: String,
    pub name: String,
    pub generation: i64,
    pub size_bytes: u64,
    pub content_type: Option<String>,
    /// Base64 MD5 of the content, as Cloud Storage reports it.
    pub md5_base64: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

impl ObjectInfo {
    /// Carries the derived marker. Unverified: any uploader can set it, so only
    /// `DerivedOutputs::is_derived_object` decides whether the object is really ours.
    pub fn is_derived(&self) -> bool {
        self.metadata
            .get(DERIVED_MARKER_KEY)
            .is_some_and(|v| v == "true")
    }

    /// For a derived object: the generation of the source it was made from, if recorded.
    /// Unverified, like the marker (`DerivedOutputs::source_generation_of` checks it).
    pub fn source_generation(&self) -> Option<i64> {
        self.metadata
            .get(SOURCE_GENERATION_KEY)
            .and_then(|g| g.parse().ok())
    }
}

/// Metadata written with a new object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectMeta {
    pub content_type: String,
    pub cache_control: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

impl ObjectMeta {
    /// Metadata for an object derived from `source`: the marker and the source, unsigned
    /// (`DerivedOutputs::output_meta` adds the signature).
    pub fn derived_from(source: &ObjectRef, content_type: impl Into<String>) -> Self {
        let mut metadata = BTreeMap::new();
        metadata.insert(DERIVED_MARKER_KEY.to_owned(), "true".to_owned());
        metadata.insert(SOURCE_NAME_KEY.to_owned(), source.name.clone());
        if let Some(g) = source.generation {
            metadata.insert(SOURCE_GENERATION_KEY.to_owned(), g.to_string());
        }
        Self {
            content_type: content_type.into(),
            cache_control: Some("public, max-age=3600".to_owned()),
            metadata,
        }
    }
}

/// Precondition for a write (Cloud Storage's `ifGenerationMatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteCondition {
    /// Write only if no live object exists (`ifGenerationMatch=0`): makes retries safe.
    CreateOnly,
    /// Replace only this live generation.
    IfGenerationMatch(i64),
    /// Write unconditionally.
    Overwrite,
}

/// Result of a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    Written(ObjectInfo),
    /// The precondition did not hold (for `CreateOnly`: the object already exists).
    ConditionNotMet,
}

//! The CloudEvents 1.0 envelope and its HTTP binding (binary and structured content
//! modes, gcp-contracts.md §1.3). Parsed by hand, see dependencies.md §1.
//!
//! Owns: attributes, extensions and the raw data bytes, turning an HTTP request into them
//! and back, and CloudEvents 1.0.2's attribute rules (`validate`), applied the same way in
//! both modes. Must not know any Google payload: that is `crate::events` (which also turns
//! a plain Pub/Sub push into a CloudEvent, `router::push` and `events::push`).

mod binary;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod conformance_tests;
mod encoding;
pub mod pubsub_binding;
mod structured;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests;
mod validate;

use std::collections::BTreeMap;

pub(crate) use validate::is_rfc3339;

use actix_web::http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use bytes::Bytes;

/// The only CloudEvents specification version this service accepts and emits.
pub const SPEC_VERSION: &str = "1.0";
/// Media type of a structured-mode event in the JSON format.
pub const STRUCTURED_JSON: &str = "application/cloudevents+json";

/// One CloudEvent as received or about to be sent.
///
/// `datacontenttype` keeps the whole `Content-Type` value (parameters included) with the
/// media type itself lower-cased by [`CloudEvent::from_http`] and [`CloudEvent::new`];
/// use [`CloudEvent::media_type`] to branch on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudEvent {
    /// Unique per `source`; the same `source` + `id` means the same event redelivered.
    pub id: String,
    /// URI-reference of the producer, e.g. `//storage.googleapis.com/projects/_/buckets/B`.
    pub source: String,
    /// Always `1.0` once parsed.
    pub specversion: String,
    /// The `type` attribute (`ce-type`), e.g. `google.cloud.storage.object.v1.finalized`.
    pub ty: String,
    pub subject: Option<String>,
    /// RFC 3339 timestamp as sent (checked against the RFC 3339 grammar, kept as text).
    pub time: Option<String>,
    pub datacontenttype: Option<String>,
    pub dataschema: Option<String>,
    /// Extension attributes by lower-case name, in their canonical string form.
    pub extensions: BTreeMap<String, String>,
    /// The event data exactly as it travels in binary mode (decoded from `data_base64`,
    /// or re-serialised JSON, in structured mode).
    pub data: Bytes,
}

/// Why a request does not carry a usable CloudEvent. Each message is a sentence for the
/// operator; it becomes the `detail` of a `rejected` response.
#[derive(Debug, thiserror::Error)]
pub enum CloudEventError {
    #[error(
        "the request carries no CloudEvent: it has no ce-* headers (binary mode) and its \
         Content-Type is not {STRUCTURED_JSON} (structured mode)"
    )]
    NotACloudEvent,
    #[error(
        "the CloudEvent has no `{name}` attribute (header ce-{name} in binary mode), and every event needs id, source, specversion and type"
    )]
    MissingAttribute { name: &'static str },
    #[error("the CloudEvent attribute `{name}` is empty, and it must be a non-empty string")]
    EmptyAttribute { name: &'static str },
    #[error("the CloudEvent attribute `{name}` is `{value}`, which is not {expected}")]
    InvalidAttribute {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error(
        "the CloudEvent extension attribute name `{name}` is not allowed: names are lower-case letters a-z and digits only"
    )]
    InvalidExtensionName { name: String },
    #[error(
        "the CloudEvent extension attribute `{name}` is {found}, but an extension value must be a string, a 32-bit integer or a boolean"
    )]
    InvalidExtensionValue { name: String, found: String },
    #[error(
        "the CloudEvent has specversion `{found}`, and this service only understands {SPEC_VERSION}"
    )]
    UnsupportedSpecVersion { found: String },
    #[error(
        "a binary-mode CloudEvent must not carry a ce-datacontenttype header; the Content-Type header carries the data content type"
    )]
    DataContentTypeHeader,
    #[error("the header {header} is not a valid HTTP header name and value")]
    InvalidHeader { header: String },
    #[error("the header {header} appears more than once, so its attribute is ambiguous")]
    DuplicateHeader { header: String },
    #[error(
        "the header {header} has a malformed percent-escape at byte {offset}: `%` must be followed by two hex digits"
    )]
    BadPercentEscape { header: String, offset: usize },
    #[error("the header {header} does not decode to valid UTF-8 text after percent-decoding")]
    InvalidUtf8 { header: String },
    #[error(
        "batch mode is not supported: send one CloudEvent per request, in binary or structured mode"
    )]
    BatchMode,
    #[error("structured mode `{media_type}` is not supported; only {STRUCTURED_JSON} is")]
    UnsupportedFormat { media_type: String },
    #[error("the structured-mode body is not valid JSON: {source}")]
    InvalidJson { source: serde_json::Error },
    #[error(
        "the structured-mode body must be one JSON object holding the event's attributes, but it is {found}"
    )]
    NotAnObject { found: &'static str },
    #[error("the CloudEvent attribute `{name}` must be a JSON string, but it is {found}")]
    AttributeNotString { name: String, found: &'static str },
    #[error("the CloudEvent has both `data` and `data_base64`; send exactly one of them")]
    DataAndDataBase64,
    #[error("the CloudEvent's `data_base64` is not valid base64: {source}")]
    InvalidDataBase64 { source: base64::DecodeError },
    #[error(
        "the CloudEvent's `data` must be a JSON string when its datacontenttype is `{media_type}` (binary data goes in `data_base64`)"
    )]
    DataNotString { media_type: String },
}

impl CloudEvent {
    /// Parses a CloudEvent from request headers and body, in binary or structured mode,
    /// chosen by `Content-Type` as the HTTP binding prescribes.
    pub fn from_http(headers: &HeaderMap, body: Bytes) -> Result<CloudEvent, CloudEventError> {
        let content_type = headers.get(CONTENT_TYPE).map(|v| v.as_bytes());
        let media = content_type.map(|ct| media_type_of(&String::from_utf8_lossy(ct)));
        match media.as_deref() {
            Some(m) if m.starts_with("application/cloudevents-batch") => {
                Err(CloudEventError::BatchMode)
            }
            Some(m) if m == STRUCTURED_JSON => structured::parse(&body),
            Some(m) if m.starts_with("application/cloudevents") => {
                Err(CloudEventError::UnsupportedFormat {
                    media_type: m.to_owned(),
                })
            }
            _ => binary::parse(headers, body),
        }
    }

    /// Parses an event from `(name, value)` header pairs, as [`CloudEvent::binary_headers`]
    /// makes them and a dead letter keeps them, in binary or structured mode.
    pub fn from_header_pairs(
        pairs: &[(String, String)],
        body: Bytes,
    ) -> Result<CloudEvent, CloudEventError> {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            let invalid = || CloudEventError::InvalidHeader {
                header: name.clone(),
            };
            let name = HeaderName::try_from(name.as_str()).map_err(|_| invalid())?;
            let value = HeaderValue::try_from(value.as_str()).map_err(|_| invalid())?;
            headers.append(name, value);
        }
        Self::from_http(&headers, body)
    }

    /// Whether the headers carry binary-mode attributes (`ce-*`), which a web page cannot
    /// send cross-origin without a CORS preflight.
    pub fn has_binary_headers(headers: &HeaderMap) -> bool {
        binary::has_attribute_headers(headers)
    }

    /// A new event with specversion 1.0, for tests and the local event router.
    pub fn new(
        id: impl Into<String>,
        source: impl Into<String>,
        ty: impl Into<String>,
        data: Bytes,
        datacontenttype: Option<String>,
    ) -> Self {
        CloudEvent {
            id: id.into(),
            source: source.into(),
            specversion: SPEC_VERSION.to_owned(),
            ty: ty.into(),
            subject: None,
            time: None,
            datacontenttype: datacontenttype.map(|ct| normalise_content_type(&ct)),
            dataschema: None,
            extensions: BTreeMap::new(),
            data,
        }
    }

    /// Sets the `subject` attribute (for storage events: `objects/<name>`).
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Sets the `time` attribute (RFC 3339).
    pub fn with_time(mut self, time: impl Into<String>) -> Self {
        self.time = Some(time.into());
        self
    }

    /// Adds an extension attribute; the name is lower-cased as the spec requires. Use
    /// lower-case letters and digits only (CloudEvents 1.0): other names cannot travel
    /// as a `ce-*` header.
    pub fn with_extension(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extensions
            .insert(name.into().to_ascii_lowercase(), value.into());
        self
    }

    /// The `ce-*` headers (percent-encoded) and `content-type` that send this event in
    /// binary mode; [`CloudEvent::from_http`] turns them and `data` back into `self`.
    pub fn binary_headers(&self) -> Vec<(String, String)> {
        binary::headers(self)
    }

    /// Applies CloudEvents 1.0.2's attribute rules, as parsing does, to an event built in
    /// code (for example from a Pub/Sub push); the error names the attribute.
    pub fn check(&self) -> Result<(), CloudEventError> {
        validate::check(self)
    }

    /// The data's media type without parameters, lower-case (`application/json`).
    pub fn media_type(&self) -> Option<&str> {
        let ct = self.datacontenttype.as_deref()?;
        let media = ct.split(';').next().unwrap_or_default().trim();
        (!media.is_empty()).then_some(media)
    }
}

/// `Type/Sub; param=X` → `type/sub` (for comparisons).
fn media_type_of(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Lower-cases the media type and keeps its parameters as sent (a charset value may
/// matter to someone; the media type is case-insensitive by RFC 9110).
fn normalise_content_type(content_type: &str) -> String {
    match content_type.split_once(';') {
        Some((media, params)) => format!("{};{params}", media.trim().to_ascii_lowercase()),
        None => content_type.trim().to_ascii_lowercase(),
    }
}

//! Binary content mode: attributes in `ce-*` headers, data as the raw body, and
//! `Content-Type` as `datacontenttype` (gcp-contracts.md §1.3). This is what Eventarc sends.

use std::collections::BTreeMap;

use actix_web::http::header::{CONTENT_TYPE, HeaderMap};
use bytes::Bytes;

use super::encoding::{DecodeFailure, decode_header_value, encode_header_value};
use super::{CloudEvent, CloudEventError, normalise_content_type, validate};

const PREFIX: &str = "ce-";

/// Whether any header is a `ce-*` attribute header.
pub(super) fn has_attribute_headers(headers: &HeaderMap) -> bool {
    headers.keys().any(|name| name.as_str().starts_with(PREFIX))
}

pub(super) fn parse(headers: &HeaderMap, body: Bytes) -> Result<CloudEvent, CloudEventError> {
    let mut attributes = ce_attributes(headers)?;
    if attributes.is_empty() {
        return Err(CloudEventError::NotACloudEvent);
    }

    let mut take_required = |name: &'static str| {
        attributes
            .remove(name)
            .ok_or(CloudEventError::MissingAttribute { name })
    };
    let id = take_required("id")?;
    let source = take_required("source")?;
    let specversion = take_required("specversion")?;
    let ty = take_required("type")?;
    // Present but empty is kept as `Some("")` so validation refuses it (CE-SPEC v1.0.2:
    // an optional attribute, when present, must be non-empty).
    let subject = attributes.remove("subject");
    let time = attributes.remove("time");
    let dataschema = attributes.remove("dataschema");

    let datacontenttype = headers
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .map(|ct| normalise_content_type(&ct));

    let event = CloudEvent {
        id,
        source,
        specversion,
        ty,
        subject,
        time,
        datacontenttype,
        dataschema,
        extensions: attributes,
        data: body,
    };
    validate::check(&event)?;
    Ok(event)
}

/// Every `ce-*` header, decoded, by attribute name; refuses duplicates, bad escapes and a
/// `ce-datacontenttype` (binary mode carries it as `Content-Type`).
fn ce_attributes(headers: &HeaderMap) -> Result<BTreeMap<String, String>, CloudEventError> {
    let mut attributes = BTreeMap::new();
    for (name, value) in headers.iter() {
        // `HeaderName` is always lower-case, so attribute names come out lower-case.
        let Some(attribute) = name.as_str().strip_prefix(PREFIX) else {
            continue;
        };
        if attribute.is_empty() {
            continue;
        }
        if attribute == "datacontenttype" {
            return Err(CloudEventError::DataContentTypeHeader);
        }
        let decoded = match decode_header_value(value.as_bytes()) {
            Ok(decoded) => decoded,
            Err(failure) => raw_fallback(attribute, value.as_bytes())
                .ok_or_else(|| decode_error(name.as_str(), failure))?,
        };
        if attributes.insert(attribute.to_owned(), decoded).is_some() {
            return Err(CloudEventError::DuplicateHeader {
                header: name.to_string(),
            });
        }
    }
    Ok(attributes)
}

/// Attributes whose value must decode: they identify the event or are checked for form.
const STRICT: [&str; 6] = ["id", "source", "specversion", "type", "time", "dataschema"];

/// The raw header value of `subject` or an extension whose percent-escapes do not decode
/// (a sender that did not encode, e.g. an object named `50%off.jpg`): losing the whole event
/// over its description would be worse than keeping the text as sent. `None` for the
/// attributes in [`STRICT`] and for raw bytes that are not UTF-8.
fn raw_fallback(attribute: &str, raw: &[u8]) -> Option<String> {
    if STRICT.contains(&attribute) {
        return None;
    }
    std::str::from_utf8(raw).ok().map(str::to_owned)
}

fn decode_error(header: &str, failure: DecodeFailure) -> CloudEventError {
    match failure {
        DecodeFailure::BadEscape { offset } => CloudEventError::BadPercentEscape {
            header: header.to_owned(),
            offset,
        },
        DecodeFailure::NotUtf8 => CloudEventError::InvalidUtf8 {
            header: header.to_owned(),
        },
    }
}

pub(super) fn headers(event: &CloudEvent) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(8 + event.extensions.len());
    let mut push = |name: &str, value: &str| {
        out.push((format!("{PREFIX}{name}"), encode_header_value(value)));
    };
    push("specversion", &event.specversion);
    push("id", &event.id);
    push("source", &event.source);
    push("type", &event.ty);
    let optional = [
        ("subject", &event.subject),
        ("time", &event.time),
        ("dataschema", &event.dataschema),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            push(name, value);
        }
    }
    for (name, value) in &event.extensions {
        push(name, value);
    }
    if let Some(ct) = &event.datacontenttype {
        // Content-Type is a plain HTTP header, not a ce-* attribute: no percent-encoding.
        out.push((CONTENT_TYPE.as_str().to_owned(), ct.clone()));
    }
    out
}

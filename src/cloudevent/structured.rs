//! Structured content mode in the JSON format (`application/cloudevents+json`): one JSON
//! object with every attribute plus `data` or `data_base64` (gcp-contracts.md §1.3).
//! Handy for curl and for Workflows; Eventarc itself sends binary mode.

use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Map, Value};

use super::{CloudEvent, CloudEventError, normalise_content_type, validate};

/// Absent `datacontenttype` means JSON in this format (JSON format spec §3.1).
const DEFAULT_JSON: &str = "application/json";

/// Decision: these upper-case extension names are accepted, lower-cased, and every other
/// one is refused (the CNCF case `invalidCapitalizedExtension`). Google's own structured
/// audit-log event spells them this way (CE-GOOGLE `examples/structured/audit/
/// LogEntryData-bigqueryjobcompleted.json`), while Eventarc sends the same attributes as
/// lower-case `ce-*` headers (gcp-contracts.md §1.1); refusing Google's example would
/// refuse what Workflows-style senders copy from it.
const CAMEL_CASE_EXTENSIONS: [&str; 4] =
    ["methodName", "recordedTime", "resourceName", "serviceName"];

pub(super) fn parse(body: &[u8]) -> Result<CloudEvent, CloudEventError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|source| CloudEventError::InvalidJson { source })?;
    let mut object = match value {
        Value::Object(object) => object,
        other => {
            return Err(CloudEventError::NotAnObject {
                found: kind_of(&other),
            });
        }
    };

    let id = required(&mut object, "id")?;
    let source = required(&mut object, "source")?;
    let specversion = required(&mut object, "specversion")?;
    let ty = required(&mut object, "type")?;
    let subject = optional(&mut object, "subject")?;
    let time = optional(&mut object, "time")?;
    let dataschema = optional(&mut object, "dataschema")?;
    let mut datacontenttype =
        optional(&mut object, "datacontenttype")?.map(|ct| normalise_content_type(&ct));

    let data = take_data(&mut object, &mut datacontenttype)?;
    let extensions = extensions_of(object)?;

    let event = CloudEvent {
        id,
        source,
        specversion,
        ty,
        subject,
        time,
        datacontenttype,
        dataschema,
        extensions,
        data,
    };
    validate::check(&event)?;
    Ok(event)
}

/// `data` or `data_base64` (never both) as bytes; JSON `data` without a content type makes
/// the implied `application/json` explicit, so consumers can branch on `media_type()`.
fn take_data(
    object: &mut Map<String, Value>,
    datacontenttype: &mut Option<String>,
) -> Result<Bytes, CloudEventError> {
    let data = object.remove("data");
    let data_base64 = object.remove("data_base64");
    Ok(match (data, data_base64) {
        (Some(_), Some(_)) => return Err(CloudEventError::DataAndDataBase64),
        (None, Some(encoded)) => decode_base64(encoded)?,
        (Some(value), None) => {
            if datacontenttype.is_none() && !value.is_null() {
                *datacontenttype = Some(DEFAULT_JSON.to_owned());
            }
            data_bytes(value, datacontenttype.as_deref())?
        }
        (None, None) => Bytes::new(),
    })
}

/// The attributes left after the context attributes and data: extensions, as strings.
fn extensions_of(object: Map<String, Value>) -> Result<BTreeMap<String, String>, CloudEventError> {
    let mut extensions = BTreeMap::new();
    for (name, value) in object {
        // The name is checked before the value so the error names the worse problem.
        let name = match CAMEL_CASE_EXTENSIONS.contains(&name.as_str()) {
            true => name.to_ascii_lowercase(),
            false if validate::is_extension_name(&name) => name,
            false => return Err(CloudEventError::InvalidExtensionName { name }),
        };
        if let Some(text) = canonical_string(&name, value)? {
            extensions.insert(name, text);
        }
    }
    Ok(extensions)
}

fn required(
    object: &mut Map<String, Value>,
    name: &'static str,
) -> Result<String, CloudEventError> {
    optional(object, name)?.ok_or(CloudEventError::MissingAttribute { name })
}

/// An optional attribute: `null` counts as absent (the CNCF conformance case
/// `validMinimalWithNullForOptional` expects it), an empty string is kept so validation
/// refuses it.
fn optional(
    object: &mut Map<String, Value>,
    name: &str,
) -> Result<Option<String>, CloudEventError> {
    match object.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(CloudEventError::AttributeNotString {
            name: name.to_owned(),
            found: kind_of(&other),
        }),
    }
}

/// Extensions may be JSON strings, 32-bit integers or booleans (CE-SPEC v1.0.2 "Type
/// System"; every other type travels as a string); they are kept in the canonical
/// string form binary mode would carry. `null` means absent.
fn canonical_string(name: &str, value: Value) -> Result<Option<String>, CloudEventError> {
    let refuse = |found: String| CloudEventError::InvalidExtensionValue {
        name: name.to_owned(),
        found,
    };
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Number(n) => match n.as_i64().map(i32::try_from) {
            Some(Ok(integer)) => Ok(Some(integer.to_string())),
            _ => Err(refuse(format!("the number {n}"))),
        },
        other => Err(refuse(kind_of(&other).to_owned())),
    }
}

fn decode_base64(encoded: Value) -> Result<Bytes, CloudEventError> {
    let text = match encoded {
        Value::Null => return Ok(Bytes::new()),
        Value::String(s) => s,
        other => {
            return Err(CloudEventError::AttributeNotString {
                name: "data_base64".to_owned(),
                found: kind_of(&other),
            });
        }
    };
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map(Bytes::from)
        .map_err(|source| CloudEventError::InvalidDataBase64 { source })
}

/// `data` is a JSON value for JSON media types and a string for everything else.
fn data_bytes(value: Value, datacontenttype: Option<&str>) -> Result<Bytes, CloudEventError> {
    if value.is_null() {
        return Ok(Bytes::new());
    }
    let media = datacontenttype
        .and_then(|ct| ct.split(';').next())
        .map(str::trim)
        .unwrap_or(DEFAULT_JSON);
    if is_json(media) {
        // Serialising a serde_json::Value cannot fail (all keys are strings).
        return Ok(Bytes::from(serde_json::to_vec(&value).unwrap_or_default()));
    }
    match value {
        Value::String(s) => Ok(Bytes::from(s)),
        _ => Err(CloudEventError::DataNotString {
            media_type: media.to_owned(),
        }),
    }
}

/// `*/json` and `*/*+json`, as the JSON format spec defines "JSON media type".
fn is_json(media: &str) -> bool {
    media
        .split_once('/')
        .is_some_and(|(_, sub)| sub == "json" || sub.ends_with("+json"))
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

//! The proto3 JSON form of `DocumentEventData` (e.g. `{"integerValue": "4"}`), converted
//! by hand into the prost structs so handlers see one type whatever the encoding.
//! Unknown keys are ignored, like every other payload here.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value as Json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{
    ArrayValue, Document, DocumentEventData, DocumentMask, LatLng, MapValue, Timestamp, Value,
    value::Kind,
};
use crate::events::EventDataError;

/// Decodes the `application/json` form.
pub fn from_json(bytes: &[u8]) -> Result<DocumentEventData, EventDataError> {
    let json: Json =
        serde_json::from_slice(bytes).map_err(|source| EventDataError::InvalidJson {
            payload: "Firestore DocumentEventData",
            source,
        })?;
    let root = object(&json, "")?;
    Ok(DocumentEventData {
        value: optional_document(root, "value")?,
        old_value: optional_document(root, "oldValue")?,
        update_mask: match present(root, "updateMask") {
            Some(mask) => Some(document_mask(mask, "updateMask")?),
            None => None,
        },
    })
}

/// Where in the document a problem is, for the operator (`value.fields.count`).
fn bad(path: &str, reason: impl Into<String>) -> EventDataError {
    EventDataError::InvalidFirestoreJson {
        path: if path.is_empty() {
            "(top level)".to_owned()
        } else {
            path.to_owned()
        },
        reason: reason.into(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// A key that is present and not `null` (proto3 JSON treats `null` as absent).
fn present<'a>(object: &'a Map<String, Json>, key: &str) -> Option<&'a Json> {
    object.get(key).filter(|v| !v.is_null())
}

fn object<'a>(json: &'a Json, path: &str) -> Result<&'a Map<String, Json>, EventDataError> {
    json.as_object()
        .ok_or_else(|| bad(path, "expected a JSON object"))
}

fn string<'a>(json: &'a Json, path: &str) -> Result<&'a str, EventDataError> {
    json.as_str()
        .ok_or_else(|| bad(path, "expected a JSON string"))
}

fn optional_document(
    root: &Map<String, Json>,
    key: &str,
) -> Result<Option<Document>, EventDataError> {
    present(root, key).map(|doc| document(doc, key)).transpose()
}

fn document(json: &Json, path: &str) -> Result<Document, EventDataError> {
    let doc = object(json, path)?;
    let name = match present(doc, "name") {
        Some(name) => string(name, &join(path, "name"))?.to_owned(),
        None => String::new(),
    };
    let fields = match present(doc, "fields") {
        Some(fields) => value_map(fields, &join(path, "fields"))?,
        None => BTreeMap::new(),
    };
    let timestamp_at = |key: &str| {
        present(doc, key)
            .map(|t| timestamp(t, &join(path, key)))
            .transpose()
    };
    Ok(Document {
        name,
        fields,
        create_time: timestamp_at("createTime")?,
        update_time: timestamp_at("updateTime")?,
    })
}

fn document_mask(json: &Json, path: &str) -> Result<DocumentMask, EventDataError> {
    let mask = object(json, path)?;
    let mut field_paths = Vec::new();
    if let Some(paths) = present(mask, "fieldPaths") {
        let path = join(path, "fieldPaths");
        let items = paths
            .as_array()
            .ok_or_else(|| bad(&path, "expected a JSON array"))?;
        for item in items {
            field_paths.push(string(item, &path)?.to_owned());
        }
    }
    Ok(DocumentMask { field_paths })
}

fn value_map(json: &Json, path: &str) -> Result<BTreeMap<String, Value>, EventDataError> {
    object(json, path)?
        .iter()
        .map(|(key, v)| Ok((key.clone(), value(v, &join(path, key))?)))
        .collect()
}

/// The JSON keys of the `Value` oneof.
const KINDS: [&str; 11] = [
    "nullValue",
    "booleanValue",
    "integerValue",
    "doubleValue",
    "timestampValue",
    "stringValue",
    "bytesValue",
    "referenceValue",
    "geoPointValue",
    "arrayValue",
    "mapValue",
];

fn value(json: &Json, path: &str) -> Result<Value, EventDataError> {
    let obj = object(json, path)?;
    let mut kinds = KINDS.iter().filter(|k| obj.contains_key(**k));
    let Some(&key) = kinds.next() else {
        return Ok(Value { kind: None });
    };
    if let Some(other) = kinds.next() {
        return Err(bad(
            path,
            format!("a value sets both `{key}` and `{other}`"),
        ));
    }
    let inner = &obj[key];
    let here = join(path, key);
    let kind = match key {
        // `null` or the enum name/number: all mean NULL_VALUE (0).
        "nullValue" => Kind::NullValue(0),
        "booleanValue" => Kind::BooleanValue(
            inner
                .as_bool()
                .ok_or_else(|| bad(&here, "expected true or false"))?,
        ),
        "integerValue" => Kind::IntegerValue(integer(inner, &here)?),
        "doubleValue" => Kind::DoubleValue(double(inner, &here)?),
        "timestampValue" => Kind::TimestampValue(timestamp(inner, &here)?),
        "stringValue" => Kind::StringValue(string(inner, &here)?.to_owned()),
        "bytesValue" => Kind::BytesValue(
            base64::engine::general_purpose::STANDARD
                .decode(string(inner, &here)?)
                .map_err(|e| bad(&here, format!("not base64: {e}")))?,
        ),
        "referenceValue" => Kind::ReferenceValue(string(inner, &here)?.to_owned()),
        "geoPointValue" => geo_point(inner, &here)?,
        "arrayValue" => array_value(inner, &here)?,
        _ => map_value(inner, &here)?,
    };
    Ok(Value { kind: Some(kind) })
}

fn geo_point(json: &Json, path: &str) -> Result<Kind, EventDataError> {
    let point = object(json, path)?;
    let coordinate = |k: &str| present(point, k).map_or(Ok(0.0), |v| double(v, &join(path, k)));
    Ok(Kind::GeoPointValue(LatLng {
        latitude: coordinate("latitude")?,
        longitude: coordinate("longitude")?,
    }))
}

fn array_value(json: &Json, path: &str) -> Result<Kind, EventDataError> {
    let array = object(json, path)?;
    let mut values = Vec::new();
    if let Some(items) = present(array, "values") {
        let at = join(path, "values");
        let items = items
            .as_array()
            .ok_or_else(|| bad(&at, "expected a JSON array"))?;
        for (i, item) in items.iter().enumerate() {
            values.push(value(item, &format!("{at}[{i}]"))?);
        }
    }
    Ok(Kind::ArrayValue(ArrayValue { values }))
}

fn map_value(json: &Json, path: &str) -> Result<Kind, EventDataError> {
    let map = object(json, path)?;
    let fields = match present(map, "fields") {
        Some(fields) => value_map(fields, &join(path, "fields"))?,
        None => BTreeMap::new(),
    };
    Ok(Kind::MapValue(MapValue { fields }))
}

/// int64 arrives as a string (`"4"`), but a number is accepted too.
fn integer(json: &Json, path: &str) -> Result<i64, EventDataError> {
    match json {
        Json::String(s) => s
            .parse()
            .map_err(|_| bad(path, format!("`{s}` is not an integer"))),
        Json::Number(n) => n
            .as_i64()
            .ok_or_else(|| bad(path, format!("{n} is not an int64"))),
        _ => Err(bad(path, "expected an integer")),
    }
}

/// A JSON number, or the strings proto3 JSON uses for non-finite doubles.
fn double(json: &Json, path: &str) -> Result<f64, EventDataError> {
    match json {
        Json::Number(n) => n.as_f64().ok_or_else(|| bad(path, "expected a number")),
        Json::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            other => other
                .parse()
                .map_err(|_| bad(path, format!("`{s}` is not a number"))),
        },
        _ => Err(bad(path, "expected a number")),
    }
}

fn timestamp(json: &Json, path: &str) -> Result<Timestamp, EventDataError> {
    let text = string(json, path)?;
    let parsed = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| bad(path, format!("`{text}` is not an RFC 3339 timestamp: {e}")))?;
    let nanos = parsed.unix_timestamp_nanos();
    let seconds = i64::try_from(nanos.div_euclid(1_000_000_000))
        .map_err(|_| bad(path, "timestamp out of range"))?;
    // rem_euclid keeps nanos in 0..1e9 even before 1970, as Timestamp requires.
    let nanos = i32::try_from(nanos.rem_euclid(1_000_000_000))
        .map_err(|_| bad(path, "timestamp out of range"))?;
    Ok(Timestamp { seconds, nanos })
}

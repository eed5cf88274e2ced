//! The CloudEvents Pub/Sub protocol binding (googleapis/google-cloudevents
//! docs/spec/pubsub.md §3), as a dead-lettered message carries it: binary mode puts every
//! attribute in a `ce-<name>` Pub/Sub attribute and the data's media type in
//! `content-type` (or `ce-datacontenttype`). Owns reading those attribute names; turning
//! them into an event is [`super::CloudEvent::from_header_pairs`], as for HTTP.

use std::collections::BTreeMap;

const PREFIX: &str = "ce-";
const CONTENT_TYPE: &str = "content-type";

/// Whether the attributes carry a binary-mode event (at least `ce-id` and `ce-type`).
pub fn is_binary(attributes: &BTreeMap<String, String>) -> bool {
    attribute(attributes, "id").is_some() && attribute(attributes, "type").is_some()
}

/// The CloudEvent attribute `name` (`id`, `type`, ...) as the binding carries it.
pub fn attribute<'a>(attributes: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    attributes
        .get(&format!("{PREFIX}{name}"))
        .map(String::as_str)
}

/// The HTTP binary-mode headers of the same event: every `ce-*` attribute (lower-cased)
/// and `content-type` (from `content-type`, else `ce-datacontenttype`, else JSON).
pub fn http_headers(attributes: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    let mut content_type = attributes.get(CONTENT_TYPE).cloned();
    for (name, value) in attributes {
        let lower = name.to_ascii_lowercase();
        if lower == "ce-datacontenttype" {
            // HTTP's binary mode carries datacontenttype as Content-Type.
            content_type.get_or_insert_with(|| value.clone());
        } else if lower.starts_with(PREFIX) {
            headers.push((lower, value.clone()));
        }
    }
    headers.push((
        CONTENT_TYPE.to_owned(),
        content_type.unwrap_or_else(|| "application/json".to_owned()),
    ));
    headers
}

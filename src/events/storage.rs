//! Cloud Storage object event data, `google.events.cloud.storage.v1.StorageObjectData`
//! (gcp-contracts.md §2.1), for `google.cloud.storage.object.v1.*` events. Also what the
//! local event router emits, so it serialises the way Google does (camelCase, int64 as
//! strings). Unknown fields are ignored, never refused: Google adds fields over time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::int64;

/// The object an event is about. `bucket` and `name` are always sent by Google; every
/// other field may be absent (composite objects have no `md5Hash`, deletes add
/// `timeDeleted`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageObjectData {
    pub bucket: String,
    /// Full object name; may contain `/`, spaces and non-ASCII.
    pub name: String,
    #[serde(default, with = "int64", skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    #[serde(default, with = "int64", skip_serializing_if = "Option::is_none")]
    pub metageneration: Option<i64>,
    /// Object size in bytes (`"0"` for empty objects).
    #[serde(default, with = "int64", skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    /// Base64 of the 16-byte MD5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5_hash: Option<String>,
    /// Base64 of the big-endian CRC32C.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32c: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// `bucket/name/generation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_link: Option<String>,
    /// User (custom) metadata.
    #[serde(
        default,
        deserialize_with = "int64::null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_deleted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_storage_class_updated: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_expiration_time: Option<String>,
    /// A JSON number on the wire (int32), but read leniently like the int64 fields.
    #[serde(default, with = "int64", skip_serializing_if = "Option::is_none")]
    pub component_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporary_hold: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_based_hold: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_encryption: Option<CustomerEncryption>,
}

/// Customer-supplied encryption key details of the object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerEncryption {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_algorithm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_sha256: Option<String>,
}

impl StorageObjectData {
    /// A minimal object description, as the local event router emits it.
    pub fn new(bucket: impl Into<String>, name: impl Into<String>) -> Self {
        StorageObjectData {
            bucket: bucket.into(),
            name: name.into(),
            kind: Some("storage#object".to_owned()),
            ..Default::default()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn int64_fields_accept_strings_and_numbers() {
        // Arrange
        let as_strings = r#"{"bucket":"b","name":"n","generation":"1587627537231057","metageneration":"1","size":"352"}"#;
        let as_numbers = r#"{"bucket":"b","name":"n","generation":1587627537231057,"metageneration":1,"size":352}"#;

        // Act
        let a: StorageObjectData = serde_json::from_str(as_strings).unwrap();
        let b: StorageObjectData = serde_json::from_str(as_numbers).unwrap();

        // Assert
        assert_eq!(a, b);
        assert_eq!(a.generation, Some(1_587_627_537_231_057));
        assert_eq!(a.size, Some(352));
    }

    #[test]
    fn serialising_writes_camel_case_and_int64_as_strings() {
        let mut data = StorageObjectData::new("uploads", "incoming/a.png");
        data.generation = Some(1_746_544_455_917_163);
        data.size = Some(48_213);
        data.content_type = Some("image/png".to_owned());
        data.metadata
            .insert("uploader".to_owned(), "u-42".to_owned());

        let json = serde_json::to_value(&data).unwrap();

        assert_eq!(json["generation"], "1746544455917163");
        assert_eq!(json["size"], "48213");
        assert_eq!(json["contentType"], "image/png");
        assert_eq!(json["metadata"]["uploader"], "u-42");
        assert!(json.get("md5Hash").is_none(), "absent fields are left out");
        let back: StorageObjectData = serde_json::from_value(json).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn unknown_fields_and_null_metadata_are_tolerated() {
        let json = r#"{"bucket":"b","name":"n","futureField":{"x":1},"metadata":null}"#;

        let data: StorageObjectData = serde_json::from_str(json).unwrap();

        assert!(data.metadata.is_empty());
    }

    #[test]
    fn a_negative_size_or_a_non_integer_generation_is_refused() {
        let negative = r#"{"bucket":"b","name":"n","size":-1}"#;
        let fractional = r#"{"bucket":"b","name":"n","generation":"1.5"}"#;

        assert!(serde_json::from_str::<StorageObjectData>(negative).is_err());
        let error = serde_json::from_str::<StorageObjectData>(fractional).unwrap_err();
        assert!(
            error.to_string().contains("`1.5` is not an integer"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_name_is_refused() {
        let error = serde_json::from_str::<StorageObjectData>(r#"{"bucket":"b"}"#).unwrap_err();

        assert!(
            error.to_string().contains("missing field `name`"),
            "{error}"
        );
    }
}

//! Cloud Audit Log event data, `google.events.cloud.audit.v1.LogEntryData`
//! (gcp-contracts.md §2.4), for `google.cloud.audit.log.v1.written`. Only the fields a
//! handler could act on are typed; free-form parts stay `serde_json::Value`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::int64;

/// One audit log entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntryData {
    /// e.g. `projects/p/logs/cloudaudit.googleapis.com%2Factivity`.
    #[serde(default)]
    pub log_name: Option<String>,
    #[serde(default)]
    pub resource: Option<MonitoredResource>,
    #[serde(default)]
    pub proto_payload: Option<AuditLog>,
    #[serde(default)]
    pub insert_id: Option<String>,
    #[serde(default, deserialize_with = "int64::null_as_default")]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub operation: Option<LogEntryOperation>,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub receive_timestamp: Option<String>,
    /// The enum name (`NOTICE`); a number is kept as its decimal text.
    #[serde(default, deserialize_with = "name_or_number")]
    pub severity: Option<String>,
    #[serde(default)]
    pub trace: Option<String>,
    #[serde(default)]
    pub span_id: Option<String>,
}

/// The `resource` the entry is about (`type` plus labels such as `bucket_name`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct MonitoredResource {
    #[serde(default, rename = "type")]
    pub ty: Option<String>,
    #[serde(default, deserialize_with = "int64::null_as_default")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct LogEntryOperation {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub producer: Option<String>,
    #[serde(default)]
    pub first: Option<bool>,
    #[serde(default)]
    pub last: Option<bool>,
}

/// `google.cloud.audit.AuditLog`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditLog {
    #[serde(default, rename = "@type")]
    pub type_url: Option<String>,
    /// e.g. `storage.googleapis.com`.
    #[serde(default)]
    pub service_name: Option<String>,
    /// e.g. `storage.objects.create`.
    #[serde(default)]
    pub method_name: Option<String>,
    /// e.g. `projects/_/buckets/B/objects/O`.
    #[serde(default)]
    pub resource_name: Option<String>,
    #[serde(default)]
    pub authentication_info: Option<AuthenticationInfo>,
    #[serde(default)]
    pub authorization_info: Vec<serde_json::Value>,
    #[serde(default)]
    pub request_metadata: Option<serde_json::Value>,
    #[serde(default)]
    pub resource_location: Option<serde_json::Value>,
    /// `google.rpc.Status`; `{}` means OK.
    #[serde(default)]
    pub status: Option<serde_json::Value>,
    #[serde(default)]
    pub request: Option<serde_json::Value>,
    #[serde(default)]
    pub response: Option<serde_json::Value>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    #[serde(default)]
    pub service_data: Option<serde_json::Value>,
    #[serde(default, with = "int64")]
    pub num_response_items: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationInfo {
    #[serde(default)]
    pub principal_email: Option<String>,
    #[serde(default)]
    pub principal_subject: Option<String>,
}

const BUCKETS_PREFIX: &str = "projects/_/buckets/";
const OBJECTS_INFIX: &str = "/objects/";

impl LogEntryData {
    /// The Cloud Storage object this entry is about, as `(bucket, object)`, when
    /// `protoPayload.resourceName` has the form `projects/_/buckets/B/objects/O`.
    pub fn storage_object(&self) -> Option<(String, String)> {
        let resource = self.proto_payload.as_ref()?.resource_name.as_deref()?;
        let rest = resource.strip_prefix(BUCKETS_PREFIX)?;
        // Bucket names cannot contain `/`, so the first `/objects/` ends the bucket;
        // object names may contain `/objects/` themselves.
        let (bucket, object) = rest.split_once(OBJECTS_INFIX)?;
        if bucket.is_empty() || bucket.contains('/') || object.is_empty() {
            return None;
        }
        Some((bucket.to_owned(), object.to_owned()))
    }
}

fn name_or_number<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(
        match Option::<serde_json::Value>::deserialize(deserializer)? {
            Some(serde_json::Value::String(s)) => Some(s),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        },
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn entry(resource_name: &str) -> LogEntryData {
        let json = serde_json::json!({
            "protoPayload": {"serviceName": "storage.googleapis.com",
                             "methodName": "storage.objects.create",
                             "resourceName": resource_name},
            "severity": 300
        });
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn storage_object_splits_bucket_and_object_from_the_resource_name() {
        let data = entry("projects/_/buckets/uploads/objects/incoming/objects/a b.png");

        assert_eq!(
            data.storage_object(),
            Some(("uploads".to_owned(), "incoming/objects/a b.png".to_owned()))
        );
        assert_eq!(data.severity.as_deref(), Some("300"));
    }

    #[test]
    fn storage_object_is_none_for_other_resources() {
        for name in [
            "projects/test-project/topics/t",
            "projects/_/buckets/uploads",
            "projects/_/buckets/uploads/objects/",
            "projects/_/buckets//objects/a",
        ] {
            assert_eq!(entry(name).storage_object(), None, "{name}");
        }
    }
}

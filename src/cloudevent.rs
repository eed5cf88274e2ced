//! PLACEHOLDER: replaced by the events branch (CloudEvents HTTP binding).

use actix_web::http::header::HeaderMap;
use bytes::Bytes;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct CloudEvent {
    pub id: String,
    pub source: String,
    pub specversion: String,
    pub ty: String,
    pub subject: Option<String>,
    pub time: Option<String>,
    pub datacontenttype: Option<String>,
    pub dataschema: Option<String>,
    pub extensions: BTreeMap<String, String>,
    pub data: Bytes,
}

#[derive(Debug, thiserror::Error)]
pub enum CloudEventError {
    #[error("missing required attribute {0}")]
    Missing(&'static str),
}

impl CloudEvent {
    pub fn from_http(headers: &HeaderMap, body: Bytes) -> Result<Self, CloudEventError> {
        let get = |name: &'static str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or(CloudEventError::Missing(name))
        };
        Ok(Self {
            id: get("ce-id")?,
            source: get("ce-source")?,
            specversion: get("ce-specversion")?,
            ty: get("ce-type")?,
            subject: get("ce-subject").ok(),
            time: None,
            datacontenttype: get("content-type").ok(),
            dataschema: None,
            extensions: BTreeMap::new(),
            data: body,
        })
    }

    pub fn new(
        id: impl Into<String>,
        source: impl Into<String>,
        ty: impl Into<String>,
        data: Bytes,
        datacontenttype: Option<String>,
    ) -> Self {
        Self {
            id: id.into(),
            source: source.into(),
            specversion: "1.0".into(),
            ty: ty.into(),
            subject: None,
            time: None,
            datacontenttype,
            dataschema: None,
            extensions: BTreeMap::new(),
            data,
        }
    }
}

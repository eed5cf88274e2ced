//! Firestore document event data, `google.events.cloud.firestore.v1.DocumentEventData`
//! (gcp-contracts.md §2.3), for `google.cloud.firestore.document.v1.*` events. Eventarc
//! sends it as `application/protobuf` or as proto3 JSON, so both decode into the same
//! hand-written prost structs (no protoc; field numbers from CE-GOOGLE `data.proto`).

mod json;

use std::collections::BTreeMap;

use prost::Message as _;

use super::EventDataError;

pub use json::from_json;

/// The document before and after a write.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DocumentEventData {
    /// The document after the write; absent on delete.
    #[prost(message, optional, tag = "1")]
    pub value: Option<Document>,
    /// The document before the write; only on update and delete.
    #[prost(message, optional, tag = "2")]
    pub old_value: Option<Document>,
    /// The fields the update changed; only on update.
    #[prost(message, optional, tag = "3")]
    pub update_mask: Option<DocumentMask>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct DocumentMask {
    #[prost(string, repeated, tag = "1")]
    pub field_paths: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Document {
    /// `projects/P/databases/D/documents/PATH`.
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(btree_map = "string, message", tag = "2")]
    pub fields: BTreeMap<String, Value>,
    #[prost(message, optional, tag = "3")]
    pub create_time: Option<Timestamp>,
    #[prost(message, optional, tag = "4")]
    pub update_time: Option<Timestamp>,
}

/// One Firestore value; `kind` is `None` only for a value that set no field at all.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Value {
    #[prost(oneof = "value::Kind", tags = "11, 1, 2, 3, 10, 17, 18, 5, 8, 9, 6")]
    pub kind: Option<value::Kind>,
}

pub mod value {
    //! The `Value.value_type` oneof.

    /// Which kind of value a [`super::Value`] holds.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        /// `google.protobuf.NullValue`; always 0 (an enum on the wire, a varint).
        #[prost(int32, tag = "11")]
        NullValue(i32),
        #[prost(bool, tag = "1")]
        BooleanValue(bool),
        #[prost(int64, tag = "2")]
        IntegerValue(i64),
        #[prost(double, tag = "3")]
        DoubleValue(f64),
        #[prost(message, tag = "10")]
        TimestampValue(super::Timestamp),
        #[prost(string, tag = "17")]
        StringValue(String),
        #[prost(bytes = "vec", tag = "18")]
        BytesValue(Vec<u8>),
        /// `projects/P/databases/D/documents/PATH` of another document.
        #[prost(string, tag = "5")]
        ReferenceValue(String),
        #[prost(message, tag = "8")]
        GeoPointValue(super::LatLng),
        #[prost(message, tag = "9")]
        ArrayValue(super::ArrayValue),
        #[prost(message, tag = "6")]
        MapValue(super::MapValue),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ArrayValue {
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<Value>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MapValue {
    #[prost(btree_map = "string, message", tag = "1")]
    pub fields: BTreeMap<String, Value>,
}

/// `google.type.LatLng`, in degrees.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LatLng {
    #[prost(double, tag = "1")]
    pub latitude: f64,
    #[prost(double, tag = "2")]
    pub longitude: f64,
}

/// `google.protobuf.Timestamp`: seconds since the Unix epoch plus nanoseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// Decodes the `application/protobuf` form.
pub fn from_protobuf(bytes: &[u8]) -> Result<DocumentEventData, EventDataError> {
    DocumentEventData::decode(bytes).map_err(|source| EventDataError::InvalidProtobuf { source })
}

impl DocumentEventData {
    /// The written document's path below `documents/` (from `value`, else `old_value`),
    /// e.g. `images/abc`.
    pub fn document_path(&self) -> Option<&str> {
        let doc = self.value.as_ref().or(self.old_value.as_ref())?;
        doc.name.split_once("/documents/").map(|(_, path)| path)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests;

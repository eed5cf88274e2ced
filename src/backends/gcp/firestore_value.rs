//! `ImageRecord` to Firestore's typed JSON values and back (gcp-contracts.md §5.2): variants,
//! thumbnail and moderation as mapValue/arrayValue so they read well in the console; int64 as
//! strings; `None` as an absent field. Pure conversion; no I/O, no merge rules.

use crate::domain::{
    ImageRecord, Likelihood, Moderation, Placeholder, RecordStatus, SafeSearch, SafeSearchCategory,
    VariantInfo, Verdict,
};
use serde_json::{Map, Value, json};

pub(crate) type Fields = Map<String, Value>;

/// Fields written from the record (never `createdAt`/`updatedAt`: those are server transforms).
pub(crate) const RECORD_FIELDS: [&str; 19] = [
    "bucket",
    "name",
    "generation",
    "contentType",
    "sizeBytes",
    "width",
    "height",
    "format",
    "status",
    "variants",
    "thumbnail",
    "moderation",
    "error",
    "warnings",
    "contentHash",
    "phash",
    "placeholder",
    "deleted",
    "lastEventId",
];

fn string(s: &str) -> Value {
    json!({ "stringValue": s })
}

fn integer(n: impl ToString) -> Value {
    json!({ "integerValue": n.to_string() })
}

fn map(fields: Fields) -> Value {
    json!({ "mapValue": { "fields": fields } })
}

fn array(values: Vec<Value>) -> Value {
    if values.is_empty() {
        json!({ "arrayValue": {} })
    } else {
        json!({ "arrayValue": { "values": values } })
    }
}

fn variant(v: &VariantInfo) -> Value {
    let mut f = Fields::new();
    f.insert("size".into(), string(&v.size));
    f.insert("bucket".into(), string(&v.bucket));
    f.insert("name".into(), string(&v.name));
    f.insert("width".into(), integer(v.width));
    f.insert("height".into(), integer(v.height));
    f.insert("bytes".into(), integer(v.bytes));
    f.insert("format".into(), string(&v.format));
    if let Some(frames) = v.frames {
        f.insert("frames".into(), integer(frames));
    }
    map(f)
}

fn moderation(m: &Moderation) -> Value {
    let mut f = Fields::new();
    f.insert("verdict".into(), string(m.verdict.as_str()));
    f.insert("backend".into(), string(&m.backend));
    if let Some(l) = &m.likelihoods {
        let categories = SafeSearchCategory::ALL
            .iter()
            .map(|c| (c.as_str().to_owned(), string(l.get(*c).as_api_name())))
            .collect();
        f.insert("likelihoods".into(), map(categories));
    }
    if let Some(action) = &m.action {
        f.insert("action".into(), string(action));
    }
    if let Some(error) = &m.error {
        f.insert("error".into(), string(error));
    }
    map(f)
}

/// The record as Firestore fields; `None` values are left out (a masked, absent field is
/// deleted by the write, which is what resetting a record for a new generation needs).
pub(crate) fn record_fields(r: &ImageRecord) -> Fields {
    let mut f = Fields::new();
    f.insert("bucket".into(), string(&r.bucket));
    f.insert("name".into(), string(&r.name));
    f.insert("generation".into(), integer(r.generation));
    if let Some(v) = &r.content_type {
        f.insert("contentType".into(), string(v));
    }
    if let Some(v) = r.size_bytes {
        f.insert("sizeBytes".into(), integer(v));
    }
    if let Some(v) = r.width {
        f.insert("width".into(), integer(v));
    }
    if let Some(v) = r.height {
        f.insert("height".into(), integer(v));
    }
    if let Some(v) = &r.format {
        f.insert("format".into(), string(v));
    }
    f.insert("status".into(), string(r.status.as_str()));
    f.insert(
        "variants".into(),
        array(r.variants.iter().map(variant).collect()),
    );
    if let Some(v) = &r.thumbnail {
        f.insert("thumbnail".into(), variant(v));
    }
    if let Some(v) = &r.moderation {
        f.insert("moderation".into(), moderation(v));
    }
    if let Some(v) = &r.error {
        f.insert("error".into(), string(v));
    }
    f.insert(
        "warnings".into(),
        array(r.warnings.iter().map(|w| string(w)).collect()),
    );
    for (key, value) in [("contentHash", &r.content_hash), ("phash", &r.phash)] {
        if let Some(v) = value {
            f.insert(key.into(), string(v));
        }
    }
    if let Some(p) = &r.placeholder {
        let fields = [
            ("thumbhash", &p.thumbhash),
            ("blurhash", &p.blurhash),
            ("color", &p.color),
        ];
        let fields = fields
            .into_iter()
            .map(|(k, v)| (k.to_owned(), string(v)))
            .collect();
        f.insert("placeholder".into(), map(fields));
    }
    f.insert("deleted".into(), json!({ "booleanValue": r.deleted }));
    if let Some(v) = &r.last_event_id {
        f.insert("lastEventId".into(), string(v));
    }
    f
}

// ---- reading back ----

fn get_str(f: &Fields, key: &str) -> Option<String> {
    let v = f.get(key)?;
    v.get("stringValue")
        .or_else(|| v.get("timestampValue"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn get_i64(f: &Fields, key: &str) -> Option<i64> {
    match f.get(key)?.get("integerValue")? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

fn get_u64(f: &Fields, key: &str) -> Option<u64> {
    get_i64(f, key).and_then(|n| u64::try_from(n).ok())
}

fn get_u32(f: &Fields, key: &str) -> Option<u32> {
    get_i64(f, key).and_then(|n| u32::try_from(n).ok())
}

fn get_map<'a>(f: &'a Fields, key: &str) -> Option<&'a Fields> {
    f.get(key)?.get("mapValue")?.get("fields")?.as_object()
}

fn get_array<'a>(f: &'a Fields, key: &str) -> impl Iterator<Item = &'a Value> {
    f.get(key)
        .and_then(|v| v.get("arrayValue")?.get("values")?.as_array())
        .into_iter()
        .flatten()
}

fn read_variant(f: &Fields) -> VariantInfo {
    VariantInfo {
        size: get_str(f, "size").unwrap_or_default(),
        bucket: get_str(f, "bucket").unwrap_or_default(),
        name: get_str(f, "name").unwrap_or_default(),
        width: get_u32(f, "width").unwrap_or_default(),
        height: get_u32(f, "height").unwrap_or_default(),
        bytes: get_u64(f, "bytes").unwrap_or_default(),
        format: get_str(f, "format").unwrap_or_default(),
        frames: get_u32(f, "frames"),
    }
}

fn value_map(v: &Value) -> Option<&Fields> {
    v.get("mapValue")?.get("fields")?.as_object()
}

fn read_moderation(f: &Fields) -> Moderation {
    let verdict = match get_str(f, "verdict").as_deref() {
        Some("flagged") => Verdict::Flagged,
        Some("safe") => Verdict::Safe,
        _ => Verdict::Unmoderated,
    };
    let likelihoods = get_map(f, "likelihoods").map(|l| {
        let read = |c: SafeSearchCategory| {
            Likelihood::from_api_name(&get_str(l, c.as_str()).unwrap_or_default())
        };
        SafeSearch {
            adult: read(SafeSearchCategory::Adult),
            spoof: read(SafeSearchCategory::Spoof),
            medical: read(SafeSearchCategory::Medical),
            violence: read(SafeSearchCategory::Violence),
            racy: read(SafeSearchCategory::Racy),
        }
    });
    Moderation {
        verdict,
        likelihoods,
        backend: get_str(f, "backend").unwrap_or_default(),
        action: get_str(f, "action"),
        error: get_str(f, "error"),
    }
}

fn read_status(s: Option<String>) -> RecordStatus {
    match s.as_deref() {
        Some("processed") => RecordStatus::Processed,
        Some("flagged") => RecordStatus::Flagged,
        Some("failed") => RecordStatus::Failed,
        Some("deleted") => RecordStatus::Deleted,
        _ => RecordStatus::Pending,
    }
}

/// The record a document holds; unknown or missing fields read as their defaults.
pub(crate) fn record_from_fields(f: &Fields) -> ImageRecord {
    ImageRecord {
        bucket: get_str(f, "bucket").unwrap_or_default(),
        name: get_str(f, "name").unwrap_or_default(),
        generation: get_i64(f, "generation").unwrap_or_default(),
        content_type: get_str(f, "contentType"),
        size_bytes: get_u64(f, "sizeBytes"),
        width: get_u32(f, "width"),
        height: get_u32(f, "height"),
        format: get_str(f, "format"),
        status: read_status(get_str(f, "status")),
        variants: get_array(f, "variants")
            .filter_map(value_map)
            .map(read_variant)
            .collect(),
        thumbnail: get_map(f, "thumbnail").map(read_variant),
        moderation: get_map(f, "moderation").map(read_moderation),
        error: get_str(f, "error"),
        warnings: get_array(f, "warnings")
            .filter_map(|v| v.get("stringValue")?.as_str().map(str::to_owned))
            .collect(),
        content_hash: get_str(f, "contentHash"),
        phash: get_str(f, "phash"),
        placeholder: get_map(f, "placeholder").map(|p| Placeholder {
            thumbhash: get_str(p, "thumbhash").unwrap_or_default(),
            blurhash: get_str(p, "blurhash").unwrap_or_default(),
            color: get_str(p, "color").unwrap_or_default(),
        }),
        deleted: f
            .get("deleted")
            .and_then(|v| v.get("booleanValue")?.as_bool())
            .unwrap_or(false),
        created_at: get_str(f, "createdAt"),
        updated_at: get_str(f, "updatedAt"),
        last_event_id: get_str(f, "lastEventId"),
    }
}

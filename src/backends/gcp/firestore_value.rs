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
pub(crate) const RECORD_FIELDS: [&str; 23] = [
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
    "srcset",
    "thumbnailFormats",
    "thumbnailPlaceholder",
    "thumbnailWarnings",
    "deleted",
    "lastEventId",
];

pub(crate) fn string(s: &str) -> Value {
    json!({ "stringValue": s })
}

pub(crate) fn integer(n: impl ToString) -> Value {
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

fn placeholder(p: &Placeholder) -> Value {
    let fields = [
        ("thumbhash", &p.thumbhash),
        ("blurhash", &p.blurhash),
        ("color", &p.color),
    ];
    map(fields
        .into_iter()
        .map(|(k, v)| (k.to_owned(), string(v)))
        .collect())
}

fn strings(values: &[String]) -> Value {
    array(values.iter().map(|w| string(w)).collect())
}

fn moderation(m: &Moderation) -> Value {
    let mut f = Fields::new();
    f.insert("verdict".into(), string(m.verdict.as_str()));
    f.insert("backend".into(), string(&m.backend));
    if let Some(l) = &m.likelihoods {
        f.insert("likelihoods".into(), likelihoods(l));
    }
    if let Some(action) = &m.action {
        f.insert("action".into(), string(action));
    }
    if let Some(error) = &m.error {
        f.insert("error".into(), string(error));
    }
    if let Some(from) = &m.reused_from {
        f.insert("reusedFrom".into(), string(from));
    }
    map(f)
}

/// SafeSearch likelihoods as a map of Vision's enum names (records and the verdict index).
pub(crate) fn likelihoods(l: &SafeSearch) -> Value {
    let categories = SafeSearchCategory::ALL
        .iter()
        .map(|c| (c.as_str().to_owned(), string(l.get(*c).as_api_name())))
        .collect();
    map(categories)
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
    f.insert("warnings".into(), strings(&r.warnings));
    for (key, value) in [("contentHash", &r.content_hash), ("phash", &r.phash)] {
        if let Some(v) = value {
            f.insert(key.into(), string(v));
        }
    }
    for (key, value) in [
        ("placeholder", &r.placeholder),
        ("thumbnailPlaceholder", &r.thumbnail_placeholder),
    ] {
        if let Some(p) = value {
            f.insert(key.into(), placeholder(p));
        }
    }
    // Left out when empty, as `None` is: the mask then clears them.
    if !r.srcset.is_empty() {
        let srcset = r.srcset.iter().map(|(k, v)| (k.clone(), string(v)));
        f.insert("srcset".into(), map(srcset.collect()));
    }
    if !r.thumbnail_formats.is_empty() {
        let thumbnails = r.thumbnail_formats.iter().map(variant).collect();
        f.insert("thumbnailFormats".into(), array(thumbnails));
    }
    if !r.thumbnail_warnings.is_empty() {
        f.insert("thumbnailWarnings".into(), strings(&r.thumbnail_warnings));
    }
    f.insert("deleted".into(), json!({ "booleanValue": r.deleted }));
    if let Some(v) = &r.last_event_id {
        f.insert("lastEventId".into(), string(v));
    }
    f
}

// ---- reading back ----

pub(crate) fn get_str(f: &Fields, key: &str) -> Option<String> {
    let v = f.get(key)?;
    v.get("stringValue")
        .or_else(|| v.get("timestampValue"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

pub(crate) fn get_i64(f: &Fields, key: &str) -> Option<i64> {
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

fn read_placeholder(p: &Fields) -> Placeholder {
    Placeholder {
        thumbhash: get_str(p, "thumbhash").unwrap_or_default(),
        blurhash: get_str(p, "blurhash").unwrap_or_default(),
        color: get_str(p, "color").unwrap_or_default(),
    }
}

fn read_strings(f: &Fields, key: &str) -> Vec<String> {
    get_array(f, key)
        .filter_map(|v| v.get("stringValue")?.as_str().map(str::to_owned))
        .collect()
}

fn value_map(v: &Value) -> Option<&Fields> {
    v.get("mapValue")?.get("fields")?.as_object()
}

/// The verdict of a `verdict` field; anything else reads as `unmoderated`.
pub(crate) fn read_verdict(f: &Fields) -> Verdict {
    match get_str(f, "verdict").as_deref() {
        Some("flagged") => Verdict::Flagged,
        Some("safe") => Verdict::Safe,
        _ => Verdict::Unmoderated,
    }
}

/// The likelihoods map under `key`, if there is one.
pub(crate) fn read_likelihoods(f: &Fields, key: &str) -> Option<SafeSearch> {
    get_map(f, key).map(|l| {
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
    })
}

fn read_moderation(f: &Fields) -> Moderation {
    Moderation {
        verdict: read_verdict(f),
        likelihoods: read_likelihoods(f, "likelihoods"),
        backend: get_str(f, "backend").unwrap_or_default(),
        action: get_str(f, "action"),
        error: get_str(f, "error"),
        reused_from: get_str(f, "reusedFrom"),
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
        warnings: read_strings(f, "warnings"),
        content_hash: get_str(f, "contentHash"),
        phash: get_str(f, "phash"),
        placeholder: get_map(f, "placeholder").map(read_placeholder),
        srcset: get_map(f, "srcset")
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.get("stringValue")?.as_str()?.to_owned())))
            .collect(),
        thumbnail_formats: get_array(f, "thumbnailFormats")
            .filter_map(value_map)
            .map(read_variant)
            .collect(),
        thumbnail_placeholder: get_map(f, "thumbnailPlaceholder").map(read_placeholder),
        thumbnail_warnings: read_strings(f, "thumbnailWarnings"),
        deleted: f
            .get("deleted")
            .and_then(|v| v.get("booleanValue")?.as_bool())
            .unwrap_or(false),
        created_at: get_str(f, "createdAt"),
        updated_at: get_str(f, "updatedAt"),
        last_event_id: get_str(f, "lastEventId"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srcset_and_the_thumbnail_formats_survive_a_round_trip_through_firestore_fields() {
        let thumbnail = VariantInfo {
            size: "thumbnail".to_owned(),
            bucket: "b".to_owned(),
            name: "thumbnails@webp/a.jpg.webp".to_owned(),
            width: 200,
            height: 200,
            bytes: 9,
            format: "webp".to_owned(),
            frames: None,
        };
        let placeholder = Placeholder {
            thumbhash: "3OcRJYB4d3h/iIeHeEh3eIhw+j2w".to_owned(),
            blurhash: "LEHV6nWB2yk8pyo0adR*.7kCMdnj".to_owned(),
            color: "#808080".to_owned(),
        };
        let record = ImageRecord {
            srcset: [("webp".to_owned(), "https://x/a.webp 400w".to_owned())].into(),
            thumbnail_formats: vec![thumbnail],
            thumbnail_placeholder: Some(placeholder),
            thumbnail_warnings: vec!["thumbnail@avif: not written".to_owned()],
            ..ImageRecord::default()
        };

        let fields = record_fields(&record);

        assert_eq!(
            fields["srcset"]["mapValue"]["fields"]["webp"]["stringValue"],
            "https://x/a.webp 400w"
        );
        assert_eq!(record_from_fields(&fields), record);
    }

    #[test]
    fn empty_srcset_and_thumbnail_formats_are_left_out_so_the_mask_clears_them() {
        let fields = record_fields(&ImageRecord::default());

        for key in ["srcset", "thumbnailFormats", "thumbnailWarnings"] {
            assert!(!fields.contains_key(key), "{key}");
            assert!(RECORD_FIELDS.contains(&key), "{key} is in the mask");
        }
    }
}

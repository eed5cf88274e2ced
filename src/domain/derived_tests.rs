use super::*;

const UPLOADS: &str = "uploads";
const OUTPUTS: &str = "outputs";

fn key() -> SigningKey {
    SigningKey::new(b"0123456789abcdef0123456789abcdef").unwrap()
}

fn places(bucket: Option<&str>) -> Vec<OutputPlace> {
    ["resized", "thumbnails", "quarantine"]
        .into_iter()
        .map(|prefix| OutputPlace::new(prefix, bucket.map(str::to_owned)))
        .collect()
}

/// Metadata as an uploader could set it: the marker and a source generation, no signature.
fn forged(generation: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (DERIVED_MARKER_KEY.to_owned(), "true".to_owned()),
        (SOURCE_GENERATION_KEY.to_owned(), generation.to_owned()),
    ])
}

fn output_of(rule: &DerivedOutputs, bucket: &str, name: &str) -> BTreeMap<String, String> {
    let source = ObjectRef::new(UPLOADS, "x.jpg").at_generation(7);
    rule.output_meta(&source, bucket, name, "image/jpeg")
        .metadata
}

#[test]
fn in_a_shared_bucket_a_forged_marker_or_an_output_name_is_not_derived() {
    let rule = DerivedOutputs::new(places(None), Some(key()));

    assert!(!rule.is_derived(UPLOADS, "elsewhere/x.jpg", &forged("7")));
    assert!(!rule.is_derived(UPLOADS, "quarantine/x.jpg", &BTreeMap::new()));
}

#[test]
fn in_a_shared_bucket_an_output_signed_with_the_key_is_derived() {
    let rule = DerivedOutputs::new(places(None), Some(key()));
    let metadata = output_of(&rule, UPLOADS, "thumbnails/x.jpg");

    let reason = rule.reason(UPLOADS, "thumbnails/x.jpg", &metadata);

    assert!(reason.is_some_and(|r| r.contains("derived")));
}

#[test]
fn a_signature_does_not_carry_over_to_another_name_bucket_generation_or_key() {
    let rule = DerivedOutputs::new(places(None), Some(key()));
    let metadata = output_of(&rule, UPLOADS, "thumbnails/x.jpg");
    let mut regenerated = metadata.clone();
    regenerated.insert(SOURCE_GENERATION_KEY.to_owned(), "99".to_owned());
    let other_key = SigningKey::new(&[7u8; 32]).unwrap();
    let other_rule = DerivedOutputs::new(places(None), Some(other_key));

    assert!(!rule.is_derived(UPLOADS, "thumbnails/y.jpg", &metadata));
    assert!(!rule.is_derived("other", "thumbnails/x.jpg", &metadata));
    assert!(!rule.is_derived(UPLOADS, "thumbnails/x.jpg", &regenerated));
    assert!(!other_rule.is_derived(UPLOADS, "thumbnails/x.jpg", &metadata));
}

#[test]
fn a_planted_output_claims_no_source_generation_and_a_real_one_does() {
    let rule = DerivedOutputs::new(places(None), Some(key()));
    let info = |metadata| ObjectInfo {
        bucket: UPLOADS.to_owned(),
        name: "thumbnails/x.jpg".to_owned(),
        metadata,
        ..ObjectInfo::default()
    };

    let planted = info(forged("999999"));
    let real = info(output_of(&rule, UPLOADS, "thumbnails/x.jpg"));

    assert_eq!(rule.source_generation_of(&planted), None);
    assert_eq!(rule.source_generation_of(&real), Some(7));
}

#[test]
fn in_a_dedicated_output_bucket_names_and_markers_are_trusted_and_nowhere_else() {
    let rule = DerivedOutputs::new(places(Some(OUTPUTS)), None);

    assert!(rule.is_derived(OUTPUTS, "resized/large/x.jpg", &BTreeMap::new()));
    assert!(rule.is_derived(OUTPUTS, "elsewhere/x.jpg", &forged("1")));
    assert!(!rule.is_derived(UPLOADS, "resized/large/x.jpg", &forged("1")));
    assert!(!rule.is_derived(OUTPUTS, "resizedcat.jpg", &BTreeMap::new()));
}

#[test]
fn a_named_output_bucket_that_uploads_also_reach_trusts_only_signatures() {
    let rule =
        DerivedOutputs::new(places(Some(UPLOADS)), None).with_upload_buckets([UPLOADS.to_owned()]);

    assert!(!rule.is_derived(UPLOADS, "resized/large/x.jpg", &forged("1")));
    assert!(rule.needs_signing_key());
}

#[test]
fn a_signing_key_is_needed_exactly_when_some_output_shares_a_bucket_with_uploads() {
    let mut mixed = places(Some(OUTPUTS));
    mixed[2].bucket = None;

    assert!(!DerivedOutputs::new(places(Some(OUTPUTS)), None).needs_signing_key());
    assert!(DerivedOutputs::new(mixed.clone(), None).needs_signing_key());
    assert!(!DerivedOutputs::new(mixed, Some(key())).needs_signing_key());
}

#[test]
fn a_short_key_is_refused_and_a_key_never_prints() {
    assert!(SigningKey::new(b"short").is_err());

    assert_eq!(format!("{:?}", key()), "SigningKey(REDACTED)");
}

//! Where outputs go and the signing key: the rule from the settings, the gcp profile's
//! refusal without a key, the local profile's key file, and that the key never prints.

use super::*;
use crate::config::tests::{KEY, load, load_error};
use crate::domain::ObjectRef;

fn gcp(pairs: &[(&str, &str)]) -> Settings {
    let mut all = vec![("PIPELINE_PROFILE", "gcp"), ("GOOGLE_CLOUD_PROJECT", "p-1")];
    all.extend_from_slice(pairs);
    load(&all)
}

#[test]
fn the_gcp_profile_refuses_outputs_in_the_upload_bucket_without_a_signing_key() {
    let only_quarantine_shared = [
        ("PIPELINE_RESIZE__BUCKET", "outputs"),
        ("PIPELINE_THUMBNAIL__BUCKET", "outputs"),
    ];

    for settings in [gcp(&[]), gcp(&only_quarantine_shared)] {
        let error = settings.validate().unwrap_err().to_string();

        assert!(error.contains("derived.signing_key"), "{error}");
    }
}

#[test]
fn the_gcp_profile_takes_outputs_in_their_own_bucket_or_signed_in_the_upload_bucket() {
    let own_bucket = gcp(&[
        ("PIPELINE_RESIZE__BUCKET", "outputs"),
        ("PIPELINE_THUMBNAIL__BUCKET", "outputs"),
        ("PIPELINE_MODERATION__QUARANTINE_BUCKET", "outputs"),
    ]);
    let signed = gcp(&[("PIPELINE_DERIVED__SIGNING_KEY", KEY)]);

    own_bucket.validate().unwrap();
    signed.validate().unwrap();
}

#[test]
fn an_empty_output_bucket_setting_is_unset() {
    let settings = load(&[
        ("PIPELINE_RESIZE__BUCKET", " "),
        ("PIPELINE_THUMBNAIL__BUCKET", "t"),
    ]);

    assert_eq!(settings.resize.bucket, None);
    assert_eq!(settings.thumbnail.bucket.as_deref(), Some("t"));
    assert_eq!(settings.moderation.quarantine_bucket, None);
}

#[test]
fn a_short_signing_key_fails_at_load_naming_its_key() {
    let error = load_error(&[("PIPELINE_DERIVED__SIGNING_KEY", "too-short")]);

    assert!(error.contains("derived.signing_key"), "{error}");
    assert!(error.contains("at least 32 bytes"), "{error}");
}

#[test]
fn check_config_never_prints_the_signing_key() {
    let settings = load(&[("PIPELINE_DERIVED__SIGNING_KEY", KEY)]);

    let printed = settings.to_pretty_toml().unwrap();

    assert!(!printed.contains(KEY), "{printed}");
    assert!(printed.contains("signing_key = \"REDACTED\""), "{printed}");
    assert!(!format!("{settings:?}").contains(KEY));
}

#[test]
fn the_local_profile_makes_one_signing_key_per_data_folder_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let local = || load(&[("PIPELINE_LOCAL__DATA_DIR", data_dir.to_str().unwrap())]);
    let other = tempfile::tempdir().unwrap();

    let first = local().with_local_signing_key().unwrap();
    let again = local().with_local_signing_key().unwrap();
    let elsewhere = load(&[("PIPELINE_LOCAL__DATA_DIR", other.path().to_str().unwrap())])
        .with_local_signing_key()
        .unwrap();

    let key = first.derived.signing_key.clone().unwrap();
    assert_eq!(again.derived.signing_key, Some(key.clone()));
    assert_ne!(elsewhere.derived.signing_key, Some(key));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let file = data_dir.join(LOCAL_SIGNING_KEY_FILE);
        let mode = std::fs::metadata(file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is the owner's alone");
    }
}

#[test]
fn a_configured_key_or_the_gcp_profile_never_touch_the_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let configured = [
        ("PIPELINE_LOCAL__DATA_DIR", data_dir),
        ("PIPELINE_DERIVED__SIGNING_KEY", KEY),
    ];

    let keyed = load(&configured).with_local_signing_key().unwrap();
    let on_gcp = gcp(&[("PIPELINE_LOCAL__DATA_DIR", data_dir)])
        .with_local_signing_key()
        .unwrap();

    assert_eq!(
        keyed.derived.signing_key,
        SigningKey::new(KEY.as_bytes()).ok()
    );
    assert_eq!(on_gcp.derived.signing_key, None);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn in_the_local_profile_a_watched_bucket_named_as_an_output_bucket_still_holds_uploads() {
    let settings = load(&[
        ("PIPELINE_RESIZE__BUCKET", "uploads"),
        ("PIPELINE_THUMBNAIL__BUCKET", "outputs"),
        ("PIPELINE_MODERATION__QUARANTINE_BUCKET", "outputs"),
    ]);
    let marker = std::collections::BTreeMap::from([(
        crate::domain::object::DERIVED_MARKER_KEY.to_owned(),
        "true".to_owned(),
    )]);

    let derived = DerivedOutputs::from_settings(&settings);

    assert!(!derived.is_derived("uploads", "resized/large/x.jpg", &marker));
    assert!(derived.is_derived("outputs", "thumbnails/x.jpg", &marker));
    assert!(derived.needs_signing_key());
}

#[test]
fn a_service_built_without_start_up_still_signs_and_knows_its_outputs_in_a_shared_bucket() {
    let settings = load(&[]);
    let source = ObjectRef::new("uploads", "x.jpg").at_generation(3);

    let unkeyed = DerivedOutputs::from_settings(&settings);
    let service = DerivedOutputs::for_service(&settings);
    let meta = service.output_meta(&source, "uploads", "thumbnails/x.jpg", "image/jpeg");

    assert!(unkeyed.needs_signing_key());
    assert!(service.is_derived("uploads", "thumbnails/x.jpg", &meta.metadata));
}

#[test]
fn the_public_base_url_defaults_to_cloud_storage_on_gcp_and_the_console_locally() {
    let on_gcp = gcp(&[]);
    let local = load(&[("PIPELINE_SERVER__PORT", "9001")]);
    let chosen = load(&[("PIPELINE_RESIZE__PUBLIC_BASE_URL", "https://cdn.example/")]);
    let in_process = Settings::in_process(&crate::config::tests::env(&[])).unwrap();

    assert_eq!(
        on_gcp.resize.public_base_url,
        "https://storage.googleapis.com/{bucket}/"
    );
    assert_eq!(
        local.resize.public_base_url,
        "http://127.0.0.1:9001/console/files/{bucket}/"
    );
    assert_eq!(chosen.resize.public_base_url, "https://cdn.example/");
    // Commands run the server on a random port; their URLs name the one `serve` uses.
    assert_eq!(
        in_process.resize.public_base_url,
        "http://127.0.0.1:8080/console/files/{bucket}/"
    );
}

#[test]
fn thumbnail_formats_take_a_comma_list_and_their_folders_are_known_outputs() {
    use crate::config::values::FormatSetting;
    let settings = gcp(&[
        ("PIPELINE_THUMBNAIL__FORMATS", "jpeg,webp,avif"),
        ("PIPELINE_THUMBNAIL__BUCKET", "thumbs"),
    ]);
    let rule = DerivedOutputs::from_settings(&settings);
    let none = std::collections::BTreeMap::new();

    assert_eq!(
        settings.thumbnail.output_formats(),
        [
            FormatSetting::Jpeg,
            FormatSetting::Webp,
            FormatSetting::Avif
        ]
    );
    assert_eq!(
        load(&[]).thumbnail.output_formats(),
        [FormatSetting::Original]
    );
    for name in [
        "thumbnails/a.jpg",
        "thumbnails@webp/a.jpg.webp",
        "thumbnails@avif/a.jpg.avif",
    ] {
        assert!(rule.is_derived("thumbs", name, &none), "{name}");
    }
}

#[test]
fn a_repeated_thumbnail_format_or_a_prefix_in_the_thumbnails_further_folders_fails_validation() {
    let repeated = load(&[("PIPELINE_THUMBNAIL__FORMATS", "webp,webp")]).validate();
    let inside = load(&[
        ("PIPELINE_THUMBNAIL__FORMATS", "jpeg,webp"),
        ("PIPELINE_RESIZE__PREFIX", "thumbnails@webp"),
    ])
    .validate();

    let repeated = repeated.unwrap_err().to_string();
    assert!(
        repeated.contains("thumbnail.formats lists a format twice"),
        "{repeated}"
    );
    let inside = inside.unwrap_err().to_string();
    assert!(inside.contains("thumbnails@<format>/"), "{inside}");
}

use super::*;

pub(super) fn env(pairs: &[(&str, &str)]) -> EnvMap {
    let mut map: EnvMap = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    // Never read a developer's ./config: tests see only the compiled-in defaults.
    map.entry("PIPELINE_CONFIG_DIR".to_owned())
        .or_insert_with(|| "/nonexistent/config".to_owned());
    map
}

/// A signing key long enough to be accepted.
pub(super) const KEY: &str = "a-signing-key-of-at-least-thirty-two-bytes";

pub(super) fn load(pairs: &[(&str, &str)]) -> Settings {
    Settings::load_from(&env(pairs)).unwrap()
}

#[test]
fn defaults_load_without_a_config_folder_and_validate() {
    let settings = load(&[]);

    assert_eq!(settings.profile, Profile::Local);
    assert_eq!(settings.routes, crate::routes::RouteName::ALL);
    assert_eq!(settings.server.port, 8080);
    assert_eq!(settings.imaging.max_pixels, 100_000_000);
    assert_eq!(settings.resize.sizes["large"], BoxSize::new(1920, 1080));
    assert_eq!(settings.local.triggers.len(), 8);
    settings.validate().unwrap();
}

#[test]
fn the_moderate_route_is_triggered_by_the_event_its_setting_names_and_not_the_other() {
    let moderate_events = |settings: &Settings| -> Vec<TriggerEventType> {
        let triggers = settings.local.triggers.iter();
        triggers
            .filter(|t| t.path == "/moderate")
            .map(|t| t.event_type)
            .collect()
    };

    let resized = load(&[]);
    let original = load(&[("PIPELINE_MODERATION__TRIGGER", "original")]);

    assert_eq!(
        moderate_events(&resized),
        [TriggerEventType::PubsubPublished]
    );
    assert_eq!(
        moderate_events(&original),
        [TriggerEventType::StorageFinalized]
    );
}

#[test]
fn k_service_selects_the_gcp_profile_and_cloud_run_port() {
    let settings = load(&[("K_SERVICE", "image-resizer"), ("PORT", "9090")]);

    assert_eq!(settings.profile, Profile::Gcp);
    assert_eq!(settings.storage.backend, StorageBackend::Gcs);
    assert_eq!(settings.server.port, 9090);
    assert_eq!(settings.server.host, "0.0.0.0");
    assert!(settings.on_cloud_run);
}

#[test]
fn pipeline_env_overrides_nested_keys_and_routes_take_a_comma_list() {
    let settings = load(&[
        ("PIPELINE_ROUTES", "resize, Thumbnail"),
        ("PIPELINE_IMAGING__MAX_PIXELS", "50000000"),
        ("PIPELINE_RESIZE__SIZES__LARGE", "2048x2048"),
        ("PIPELINE_SERVER__MALFORMED_STATUS", "400"),
    ]);

    assert_eq!(
        settings.routes,
        [
            crate::routes::RouteName::Resize,
            crate::routes::RouteName::Thumbnail
        ]
    );
    assert_eq!(settings.imaging.max_pixels, 50_000_000);
    assert_eq!(settings.resize.sizes["large"], BoxSize::new(2048, 2048));
    assert_eq!(settings.resize.sizes["small"], BoxSize::new(400, 300));
    assert_eq!(
        settings.server.malformed_status,
        MalformedStatus::BadRequest
    );
}

#[test]
fn unknown_route_name_fails_validation() {
    let error = Settings::load_from(&env(&[("PIPELINE_ROUTES", "nope")])).unwrap_err();

    assert!(
        error.to_string().contains("unknown route \"nope\""),
        "{error}"
    );
}

#[test]
fn empty_route_list_fails_validation() {
    let error = load(&[("PIPELINE_ROUTES", " , ")]).validate().unwrap_err();

    assert!(
        error.to_string().contains("PIPELINE_ROUTES is empty"),
        "{error}"
    );
}

#[test]
fn zero_and_absurd_limits_fail_validation() {
    let error = load(&[
        ("PIPELINE_IMAGING__MAX_PIXELS", "0"),
        ("PIPELINE_SERVER__SHUTDOWN_TIMEOUT_SECS", "30"),
    ])
    .validate()
    .unwrap_err()
    .to_string();

    assert!(error.contains("imaging.max_pixels = 0"), "{error}");
    assert!(error.contains("shutdown_timeout_secs = 30"), "{error}");
}

#[test]
fn a_zero_box_side_fails_at_load_naming_the_size() {
    let error = load_error(&[("PIPELINE_RESIZE__SIZES__LARGE", "0x10")]);

    assert!(error.contains("resize.sizes.large"), "{error}");
    assert!(error.contains("PIPELINE_RESIZE__SIZES__LARGE"), "{error}");
}

#[test]
fn gcp_profile_without_a_project_id_fails_validation_off_cloud_run() {
    let error = load(&[("PIPELINE_PROFILE", "gcp")]).validate().unwrap_err();

    assert!(
        error.to_string().contains("GOOGLE_CLOUD_PROJECT"),
        "{error}"
    );
}

#[test]
fn google_cloud_project_fills_the_project_id() {
    let settings = load(&[
        ("PIPELINE_PROFILE", "gcp"),
        ("GOOGLE_CLOUD_PROJECT", "p-1"),
        ("PIPELINE_DERIVED__SIGNING_KEY", KEY),
    ]);

    assert_eq!(settings.gcp.project_id, "p-1");
    settings.validate().unwrap();
}

#[test]
fn emulator_hosts_point_endpoints_at_the_emulator_with_or_without_scheme() {
    let settings = load(&[
        ("STORAGE_EMULATOR_HOST", "127.0.0.1:4443"),
        ("FIRESTORE_EMULATOR_HOST", "localhost:8080"),
        ("PUBSUB_EMULATOR_HOST", "https://127.0.0.1:8085/"),
    ]);

    assert_eq!(
        settings.gcp.storage_endpoint.as_str(),
        "http://127.0.0.1:4443"
    );
    assert_eq!(
        settings.gcp.firestore_endpoint.as_str(),
        "http://localhost:8080"
    );
    assert_eq!(
        settings.gcp.pubsub_endpoint.as_str(),
        "https://127.0.0.1:8085"
    );
    assert_eq!(settings.gcp.emulated, ["storage", "firestore", "pubsub"]);
}

#[test]
fn misspelt_setting_is_an_error_naming_the_key() {
    let error = Settings::load_from(&env(&[("PIPELINE_IMAGING__MAX_PIXLES", "5")]))
        .unwrap_err()
        .to_string();

    assert!(error.contains("max_pixles"), "{error}");
}

#[test]
fn unknown_profile_is_refused() {
    let error = Settings::load_from(&env(&[("PIPELINE_PROFILE", "prod")]))
        .unwrap_err()
        .to_string();

    assert!(error.contains("PIPELINE_PROFILE"), "{error}");
}

#[test]
fn config_folder_files_override_compiled_defaults() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("local.toml"),
        "[imaging]\njpeg_quality = 70\n",
    )
    .unwrap();

    let settings = Settings::load_from(&env(&[(
        "PIPELINE_CONFIG_DIR",
        dir.path().to_str().unwrap(),
    )]))
    .unwrap();

    assert_eq!(settings.imaging.jpeg_quality, 70);
}

#[test]
fn box_colour_and_threshold_parsers_accept_the_documented_forms() {
    assert_eq!("1920x1080".parse(), Ok(BoxSize::new(1920, 1080)));
    assert!("0x5".parse::<BoxSize>().is_err());
    assert_eq!("#ff8000".parse(), Ok(Colour([255, 128, 0])));
    assert!("red".parse::<Colour>().is_err());
    assert_eq!(
        "LIKELY".parse(),
        Ok(Threshold(crate::domain::Likelihood::Likely))
    );
    assert!("UNKNOWN".parse::<Threshold>().is_err());
    assert!("ftp://example.com".parse::<Endpoint>().is_err());
}

pub(super) fn load_error(pairs: &[(&str, &str)]) -> String {
    Settings::load_from(&env(pairs)).unwrap_err().to_string()
}

#[test]
fn a_misspelt_value_of_every_closed_set_fails_at_load_naming_its_key() {
    let cases = [
        ("PIPELINE_IMAGING__FILTER", "lanczos", "imaging.filter"),
        (
            "PIPELINE_IMAGING__BACKGROUND",
            "white",
            "imaging.background",
        ),
        ("PIPELINE_RESIZE__FORMAT", "jpg", "resize.format"),
        ("PIPELINE_THUMBNAIL__FORMAT", "gif", "thumbnail.format"),
        ("PIPELINE_THUMBNAIL__ANCHOR", "smrt", "thumbnail.anchor"),
        ("PIPELINE_THUMBNAIL__SIZE", "200", "thumbnail.size"),
        (
            "PIPELINE_MODERATION__BACKEND",
            "visoin",
            "moderation.backend",
        ),
        ("PIPELINE_MODERATION__POLICY", "delete", "moderation.policy"),
        (
            "PIPELINE_MODERATION__TRIGGER",
            "thumbnail",
            "moderation.trigger",
        ),
        (
            "PIPELINE_MODERATION__THRESHOLDS__ADULT",
            "LIKELEY",
            "moderation.thresholds",
        ),
        (
            "PIPELINE_MODERATION__THRESHOLDS__GORE",
            "LIKELY",
            "moderation.thresholds.gore",
        ),
        ("PIPELINE_STORAGE__BACKEND", "s3", "storage.backend"),
        ("PIPELINE_RECORDS__BACKEND", "postgres", "records.backend"),
        ("PIPELINE_PUBLISHER__BACKEND", "kafka", "publisher.backend"),
        ("PIPELINE_LOG_FORMAT", "xml", "log_format"),
        (
            "PIPELINE_SERVER__MALFORMED_STATUS",
            "404",
            "server.malformed_status",
        ),
        ("PIPELINE_GCP__AUTH", "yes", "gcp.auth"),
        (
            "PIPELINE_GCP__VISION_ENDPOINT",
            "vision.googleapis.com",
            "gcp.vision_endpoint",
        ),
    ];
    for (variable, value, key) in cases {
        let error = load_error(&[(variable, value)]);

        assert!(
            error.contains(&format!("`{key}")),
            "{variable}={value}: {error}"
        );
        assert!(error.contains(variable), "{variable}={value}: {error}");
    }
}

#[test]
fn a_bad_emulator_host_fails_at_load_naming_the_variable() {
    let error = load_error(&[("STORAGE_EMULATOR_HOST", "not a host:4443")]);

    assert!(error.contains("STORAGE_EMULATOR_HOST"), "{error}");
}

#[test]
fn builtin_is_a_moderation_backend_value() {
    let settings = load(&[("PIPELINE_MODERATION__BACKEND", "builtin")]);

    assert_eq!(settings.moderation.backend, ModerationBackend::Builtin);
}

#[test]
fn a_local_trigger_aimed_at_a_route_that_cannot_take_its_event_type_fails_validation() {
    let mut settings = load(&[]);
    settings.local.triggers[0].path = "/nope".to_owned();
    settings.local.triggers[3].path = "/moderate".to_owned(); // a `deleted` trigger

    let error = settings.validate().unwrap_err().to_string();

    assert!(
        error.contains("the moderate route does not accept"),
        "{error}"
    );
    assert!(error.contains("\"/nope\" is not a route"), "{error}");
}

#[test]
fn check_config_prints_toml_that_loads_back_to_the_same_settings() {
    let settings = load(&[("PIPELINE_RESIZE__SIZES__HUGE", "4000x3000")]);
    let printed = settings.to_pretty_toml().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("local.toml"), &printed).unwrap();

    let table: toml::Table = printed.parse().unwrap();
    let reloaded = Settings::load_from(&env(&[(
        "PIPELINE_CONFIG_DIR",
        dir.path().to_str().unwrap(),
    )]))
    .unwrap();

    assert_eq!(table["resize"]["sizes"]["huge"].as_str(), Some("4000x3000"));
    assert_eq!(table["server"]["malformed_status"].as_integer(), Some(200));
    assert!(table["local"]["triggers"].is_array(), "{printed}");
    assert_eq!(reloaded.to_pretty_toml().unwrap(), printed);
}

#[test]
fn check_config_redacts_a_password_in_an_endpoint() {
    let settings = load(&[(
        "PIPELINE_GCP__VISION_ENDPOINT",
        "https://robot:hunter2@vision.example.com",
    )]);

    let printed = settings.to_pretty_toml().unwrap();

    assert!(!printed.contains("hunter2"), "{printed}");
    assert!(
        printed.contains("robot:REDACTED@vision.example.com"),
        "{printed}"
    );
}

#[test]
fn the_local_profile_listens_on_loopback_unless_told_otherwise() {
    let local = load(&[]);
    let exposed = load(&[("PIPELINE_SERVER__HOST", "0.0.0.0")]);
    let cloud_run = load(&[("K_SERVICE", "image-resizer")]);

    assert_eq!(local.server.host, "127.0.0.1");
    assert_eq!(crate::startup::exposure_warning(&local), None);
    let warning = crate::startup::exposure_warning(&exposed).unwrap();
    assert!(
        warning.contains("0.0.0.0") && warning.contains("-p 127.0.0.1:"),
        "{warning}"
    );
    assert_eq!(cloud_run.server.host, "0.0.0.0");
    assert_eq!(crate::startup::exposure_warning(&cloud_run), None);
}
#[test]
fn a_local_trigger_with_an_event_type_no_route_takes_fails_at_load_naming_the_triggers() {
    let dir = tempfile::tempdir().unwrap();
    let trigger = "[[local.triggers]]\nevent_type = \"google.cloud.storage.object.v1.finalised\"\n\
                   bucket = \"uploads\"\npath = \"/resize\"\n";
    std::fs::write(dir.path().join("local.toml"), trigger).unwrap();

    let error = load_error(&[("PIPELINE_CONFIG_DIR", dir.path().to_str().unwrap())]);

    assert!(error.contains("local.triggers"), "{error}");
    assert!(error.contains("finalised"), "{error}");
}

#[test]
fn local_trigger_event_types_and_emulated_services_load_typed() {
    let settings = load(&[("STORAGE_EMULATOR_HOST", "127.0.0.1:4443")]);

    assert_eq!(
        settings.local.triggers[0].event_type,
        TriggerEventType::StorageFinalized
    );
    assert_eq!(settings.gcp.emulated, [EmulatedService::Storage]);
}

#[test]
fn an_empty_model_dir_is_unset_and_a_set_one_is_a_path() {
    let unset = load(&[("PIPELINE_MODERATION__MODEL_DIR", "")]);
    let set = load(&[("PIPELINE_MODERATION__MODEL_DIR", "/srv/models")]);

    assert_eq!(unset.moderation.model_dir, None);
    assert_eq!(
        set.moderation.model_dir.as_deref(),
        Some(std::path::Path::new("/srv/models"))
    );
}

#[test]
fn resize_formats_take_a_comma_list_and_default_to_the_single_format() {
    use super::values::FormatSetting;
    let listed = load(&[("PIPELINE_RESIZE__FORMATS", "original, WebP,avif")]);
    let default = load(&[]);

    assert_eq!(
        listed.resize.output_formats(),
        [
            FormatSetting::Original,
            FormatSetting::Webp,
            FormatSetting::Avif
        ]
    );
    assert_eq!(default.resize.output_formats(), [FormatSetting::Original]);
}

#[test]
fn a_repeated_format_or_a_size_label_with_an_at_sign_fails_validation() {
    let repeated = load(&[("PIPELINE_RESIZE__FORMATS", "webp,webp")]).validate();
    let at_sign = load(&[("PIPELINE_RESIZE__SIZES__BIG@2X", "100x100")]).validate();

    assert!(repeated.unwrap_err().to_string().contains("a format twice"));
    assert!(
        at_sign
            .unwrap_err()
            .to_string()
            .contains("must not contain '@'")
    );
}

#[test]
fn an_unknown_resize_format_is_refused_at_load() {
    let error =
        Settings::load_from(&env(&[("PIPELINE_RESIZE__FORMATS", "webp,heic")])).unwrap_err();

    assert!(error.to_string().contains("heic"), "{error}");
}

#[test]
fn max_animation_pixels_defaults_to_the_engines_default_and_is_set_by_its_env() {
    let default = load(&[]);
    let set = load(&[("PIPELINE_IMAGING__MAX_ANIMATION_PIXELS", "1000000")]);
    let zero = load(&[("PIPELINE_IMAGING__MAX_ANIMATION_PIXELS", "0")]).validate();

    assert_eq!(
        default.imaging.max_animation_pixels,
        crate::imaging::DEFAULT_MAX_ANIMATION_PIXELS
    );
    assert_eq!(set.imaging.max_animation_pixels, 1_000_000);
    let error = zero.unwrap_err().to_string();
    assert!(
        error.contains("imaging.max_animation_pixels = 0"),
        "{error}"
    );
}

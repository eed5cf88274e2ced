use super::*;

fn env(pairs: &[(&str, &str)]) -> EnvMap {
    let mut map: EnvMap = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    // Never read a developer's ./config: tests see only the compiled-in defaults.
    map.entry("PIPELINE_CONFIG_DIR".to_owned())
        .or_insert_with(|| "/nonexistent/config".to_owned());
    map
}

fn load(pairs: &[(&str, &str)]) -> Settings {
    Settings::load_from(&env(pairs)).unwrap()
}

#[test]
fn defaults_load_without_a_config_folder_and_validate() {
    let settings = load(&[]);

    assert_eq!(settings.profile, Profile::Local);
    assert_eq!(settings.routes, ROUTE_NAMES);
    assert_eq!(settings.server.port, 8080);
    assert_eq!(settings.imaging.max_pixels, 100_000_000);
    assert_eq!(settings.resize.sizes["large"], "1920x1080");
    assert_eq!(settings.local.triggers.len(), 8);
    settings.validate().unwrap();
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

    assert_eq!(settings.routes, ["resize", "thumbnail"]);
    assert_eq!(settings.imaging.max_pixels, 50_000_000);
    assert_eq!(settings.resize.sizes["large"], "2048x2048");
    assert_eq!(settings.resize.sizes["small"], "400x300");
    assert_eq!(settings.server.malformed_status, 400);
}

#[test]
fn unknown_route_name_fails_validation() {
    let error = load(&[("PIPELINE_ROUTES", "nope")]).validate().unwrap_err();

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
        ("PIPELINE_RESIZE__SIZES__LARGE", "0x10"),
    ])
    .validate()
    .unwrap_err()
    .to_string();

    assert!(error.contains("imaging.max_pixels = 0"), "{error}");
    assert!(error.contains("shutdown_timeout_secs = 30"), "{error}");
    assert!(error.contains("resize.sizes.large"), "{error}");
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
    let settings = load(&[("PIPELINE_PROFILE", "gcp"), ("GOOGLE_CLOUD_PROJECT", "p-1")]);

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

    assert_eq!(settings.gcp.storage_endpoint, "http://127.0.0.1:4443");
    assert_eq!(settings.gcp.firestore_endpoint, "http://localhost:8080");
    assert_eq!(settings.gcp.pubsub_endpoint, "https://127.0.0.1:8085");
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
fn box_and_colour_parsers_accept_the_documented_forms() {
    assert_eq!(validate::parse_box("1920x1080"), Some((1920, 1080)));
    assert_eq!(validate::parse_box("0x5"), None);
    assert_eq!(validate::parse_rgb("#ff8000"), Some([255, 128, 0]));
    assert_eq!(validate::parse_rgb("red"), None);
}
